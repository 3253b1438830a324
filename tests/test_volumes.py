"""Volumes: the books' scenarios (data survives the container and a daemon restart, in-use
refusal, data at the Mountpoint, read-only mounts), the /volumes API through our CLI, the
docker CLI and docker-py, copy-up, anonymous volumes (rm -v, --rm, out of commit/diff),
--volumes-from, local driver options mounted on first use and counted across kill -9."""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from conftest import Daemon, inspect, wait_for


def _name(prefix: str = "vol") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _volume(daemon: Daemon, name: str) -> dict:
    return json.loads(daemon.ok("volume", "inspect", name))[0]


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _events(daemon: Daemon, since: str, *filters: str) -> list[dict]:
    out = daemon.ok("events", "--since", since, "--until", "0s", "--format", "{{json .}}",
                    *[a for f in filters for a in ("--filter", f)])
    return [json.loads(line) for line in out.splitlines()]


def test_create_ls_inspect_rm(daemon: Daemon) -> None:
    name = _name()
    assert daemon.ok("volume", "create", "--label", "tier=db", name).strip() == name
    volume = _volume(daemon, name)
    assert volume["Driver"] == "local" and volume["Scope"] == "local"
    assert volume["Labels"] == {"tier": "db"} and volume["Options"] is None
    assert volume["Mountpoint"] == os.path.join(daemon.root, "volumes", name, "_data")
    assert os.path.isdir(volume["Mountpoint"])
    assert volume["CreatedAt"][:2] == "20"
    # idempotent create
    assert daemon.ok("volume", "create", name).strip() == name
    listing = daemon.ok("volume", "ls")
    assert listing.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert f"local     {name}" in listing
    assert daemon.ok("volume", "ls", "-q", "--filter", f"name={name}").split() == [name]
    assert daemon.ok("volume", "ls", "-q", "--filter", "label=tier=db",
                     "--filter", f"name={name}").split() == [name]
    assert daemon.ok("volume", "ls", "-q", "--filter", "label=tier=web",
                     "--filter", f"name={name}").split() == []
    assert daemon.ok("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}}",
                     "--filter", f"name={name}").strip() == f"{name} local tier=db"
    assert daemon.ok("volume", "inspect", "--format", "{{.Name}}", name).strip() == name
    assert daemon.ok("volume", "rm", name).strip() == name
    assert not os.path.exists(os.path.dirname(volume["Mountpoint"]))
    missing = daemon.cli("volume", "inspect", name)
    assert missing.returncode == 1
    assert f"get {name}: no such volume" in missing.stderr
    gone = daemon.cli("volume", "rm", name)
    assert gone.returncode == 1 and f"get {name}: no such volume" in gone.stderr
    assert daemon.cli("volume", "rm", "-f", name).returncode == 0


def test_bad_names_and_options(daemon: Daemon) -> None:
    short = daemon.cli("volume", "create", "a")
    assert short.returncode == 1
    assert "create a: volume name is too short, names should be at least two alphanumeric " \
        "characters" in short.stderr
    bad = daemon.cli("volume", "create", "bad@name")
    assert 'includes invalid characters for a local volume name' in bad.stderr
    opt = daemon.cli("volume", "create", "-o", "colour=blue", _name())
    assert 'invalid option key: "colour"' in opt.stderr
    driver = daemon.cli("volume", "create", "-d", "no-such-plugin", _name())
    assert driver.returncode == 1 and 'plugin "no-such-plugin" not found' in driver.stderr
    run = daemon.cli("run", "--rm", "-v", "x@y:/data", "busybox", "true")
    assert run.returncode == 125 and "includes invalid characters" in run.stderr
    assert "x@y" not in daemon.ok("volume", "ls", "-q")


def test_books_scenario_data_survives_and_in_use(daemon: Daemon) -> None:
    """voltainer writes into bizvol (made on first use); rm of the volume is refused while
    the container exists; the data is on the host and a new container reads it."""
    vol, first = _name("bizvol"), _name("voltainer")
    daemon.ok("run", "-d", "--name", first, "--mount", f"source={vol},target=/vol",
              "busybox", "sh", "-c", "echo I promise > /vol/file1; sleep 600")
    wait_for(lambda: daemon.cli("exec", first, "test", "-s", "/vol/file1").returncode == 0)
    cid = inspect(daemon, first)["Id"]
    refused = daemon.cli("volume", "rm", vol)
    assert refused.returncode == 1
    assert refused.stderr.strip() == \
        f"Error response from daemon: remove {vol}: volume is in use - [{cid}]"
    assert daemon.cli("volume", "rm", "-f", vol).returncode == 1     # force does not help
    mount = [m for m in inspect(daemon, first)["Mounts"] if m["Type"] == "volume"][0]
    assert mount == {"Type": "volume", "Name": vol, "Source": _volume(daemon, vol)[
        "Mountpoint"], "Destination": "/vol", "Driver": "local", "Mode": "z", "RW": True,
        "Propagation": ""}
    daemon.ok("rm", "-f", first)
    host = _volume(daemon, vol)["Mountpoint"]
    with open(os.path.join(host, "file1")) as f:
        assert f.read() == "I promise\n"
    assert daemon.ok("run", "--rm", "-v", f"{vol}:/data:ro", "busybox",
                     "cat", "/data/file1") == "I promise\n"
    ro = daemon.cli("run", "--rm", "-v", f"{vol}:/data:ro", "busybox", "touch", "/data/x")
    assert ro.returncode == 1 and "Read-only file system" in ro.stderr
    ro = daemon.cli("run", "--rm", "--mount", f"src={vol},dst=/data,readonly", "busybox",
                    "touch", "/data/x")
    assert ro.returncode == 1 and "Read-only file system" in ro.stderr
    daemon.ok("volume", "rm", vol)


def test_copy_up_and_nocopy(daemon: Daemon) -> None:
    """A new empty volume over /etc gets the image's files with their modes and owners;
    nocopy and a volume with content get nothing; a bind hides the image's files."""
    vol, empty, other = _name(), _name(), _name()
    out = daemon.ok("run", "--rm", "-v", f"{vol}:/etc", "busybox", "sh", "-c",
                    "ls /etc/passwd && stat -c '%a %u' /etc/passwd")
    assert out.split()[0] == "/etc/passwd"
    host = _volume(daemon, vol)["Mountpoint"]
    st = os.stat(os.path.join(host, "passwd"))
    assert oct(st.st_mode & 0o777)[2:] == out.split()[1] and str(st.st_uid) == out.split()[2]
    out = daemon.ok("run", "--rm", "-v", f"{empty}:/etc:nocopy", "busybox", "ls", "/etc")
    assert out == ""
    out = daemon.ok("run", "--rm", "--mount", f"type=volume,src={other},dst=/etc,"
                    "volume-nocopy", "busybox", "ls", "/etc")
    assert out == ""
    # a volume that already has content is not filled again
    daemon.ok("run", "--rm", "-v", f"{empty}:/data", "busybox", "touch", "/data/mine")
    assert daemon.ok("run", "--rm", "-v", f"{empty}:/etc", "busybox", "ls", "/etc") == "mine\n"
    for name in (vol, empty, other):
        daemon.ok("volume", "rm", name)


def test_subpath(daemon: Daemon) -> None:
    vol = _name()
    daemon.ok("run", "--rm", "-v", f"{vol}:/v", "busybox", "sh", "-c",
              "mkdir -p /v/sub && echo deep > /v/sub/f")
    out = daemon.ok("run", "--rm", "--mount", f"type=volume,src={vol},dst=/d,"
                    "volume-subpath=sub", "busybox", "cat", "/d/f")
    assert out == "deep\n"
    missing = daemon.cli("run", "--rm", "--mount", f"type=volume,src={vol},dst=/d,"
                         "volume-subpath=nope", "busybox", "true")
    assert missing.returncode != 0 and "no such file or directory" in missing.stderr
    escape = daemon.cli("run", "--rm", "--mount", f"type=volume,src={vol},dst=/d,"
                        "volume-subpath=../x", "busybox", "true")
    assert escape.returncode == 125
    daemon.ok("volume", "rm", vol)


def test_anonymous_volumes(daemon: Daemon, tmp_path) -> None:
    """`-v /path` and an image's VOLUME are 64-hex volumes, out of diff and commit;
    rm -v and --rm remove them, plain rm keeps them; prune removes anonymous ones only."""
    name, image = _name("anon"), f"withvol-{uuid.uuid4().hex[:6]}"
    daemon.ok("run", "--name", name, "-v", "/scratch", "busybox", "sh", "-c",
              "echo data > /scratch/f")
    points = inspect(daemon, name)["Mounts"]
    assert len(points) == 1 and points[0]["Destination"] == "/scratch"
    anon = points[0]["Name"]
    assert len(anon) == 64 and all(c in "0123456789abcdef" for c in anon)
    assert points[0]["Mode"] == "" and points[0]["RW"] is True
    assert _volume(daemon, anon)["Labels"] == {"com.docker.volume.anonymous": ""}
    assert "/scratch/f" not in daemon.ok("diff", name)
    daemon.ok("commit", name, image)
    assert daemon.ok("run", "--rm", image, "ls", "/scratch") == ""
    daemon.ok("rm", "-v", name)
    assert anon not in daemon.ok("volume", "ls", "-q")
    # --rm removes the anonymous volume; plain rm keeps it
    daemon.ok("run", "--rm", "-v", "/scratch", "busybox", "true")
    before = set(daemon.ok("volume", "ls", "-q").split())
    daemon.ok("run", "--name", name, "-v", "/scratch", "busybox", "true")
    anon = inspect(daemon, name)["Mounts"][0]["Name"]
    daemon.ok("rm", name)
    assert anon in daemon.ok("volume", "ls", "-q")
    named = _name()
    daemon.ok("volume", "create", named)
    pruned = daemon.ok("volume", "prune", "-f")
    assert anon in pruned and named not in pruned
    assert named in daemon.ok("volume", "ls", "-q")
    assert set(daemon.ok("volume", "ls", "-q").split()) <= before | {named}
    daemon.ok("volume", "rm", named)
    daemon.ok("rmi", image)


def test_image_volume_copy_up(daemon: Daemon) -> None:
    """An image's VOLUME becomes an anonymous volume filled with the image's content."""
    base, image = _name("base"), f"imgvol-{uuid.uuid4().hex[:6]}"
    daemon.ok("run", "--name", base, "busybox", "sh", "-c",
              "mkdir /seed && echo seeded > /seed/f && chown 12:34 /seed/f")
    daemon.ok("commit", "-c", "VOLUME /seed", base, image)
    name = _name("user")
    out = daemon.ok("run", "--name", name, image, "sh", "-c", "cat /seed/f; stat -c '%u:%g' "
                    "/seed/f; echo more > /seed/g")
    assert out == "seeded\n12:34\n"
    point = inspect(daemon, name)["Mounts"][0]
    assert point["Type"] == "volume" and point["Destination"] == "/seed"
    assert os.path.exists(os.path.join(point["Source"], "g"))
    assert "/seed/g" not in daemon.ok("diff", name)
    daemon.ok("rm", "-v", name, base)
    daemon.ok("rmi", image)


def test_volumes_from(daemon: Daemon, tmp_path) -> None:
    source, vol = _name("src"), _name()
    (tmp_path / "b").mkdir()
    daemon.ok("create", "--name", source, "-v", f"{vol}:/shared", "-v", "/anon",
              "-v", f"{tmp_path / 'b'}:/bind", "busybox", "true")
    out = daemon.ok("run", "--rm", "--volumes-from", source, "busybox", "sh", "-c",
                    "echo v > /shared/x && echo a > /anon/y && echo b > /bind/z && echo ok")
    assert out == "ok\n"
    assert (tmp_path / "b" / "z").read_text() == "b\n"
    ro = daemon.cli("run", "--rm", "--volumes-from", f"{source}:ro", "busybox", "sh", "-c",
                    "cat /shared/x /anon/y; touch /shared/no")
    assert ro.stdout == "v\na\n" and "Read-only file system" in ro.stderr
    ro_source = _name("ros")
    daemon.ok("create", "--name", ro_source, "-v", f"{vol}:/shared:ro", "busybox", "true")
    reader = _name("reader")
    daemon.ok("create", "--name", reader, "--volumes-from", f"{ro_source}:rw", "busybox")
    point = inspect(daemon, reader)["Mounts"][0]
    assert point["RW"] is False and point["Mode"] == ""         # rw cannot widen ro
    assert inspect(daemon, ro_source)["Mounts"][0]["Mode"] == "ro"
    daemon.ok("rm", reader, ro_source)
    bad = daemon.cli("run", "--rm", "--volumes-from", "no-such-container", "busybox", "true")
    assert bad.returncode == 125 and "No such container: no-such-container" in bad.stderr
    daemon.ok("rm", "-v", source)
    daemon.ok("volume", "rm", vol)


def test_events(daemon: Daemon) -> None:
    since = daemon.ok("version", "--format", "{{.Server.Version}}") and str(
        int(__import__("time").time()) - 1)
    vol = _name()
    daemon.ok("run", "--rm", "-v", f"{vol}:/d", "busybox", "true")
    daemon.ok("volume", "rm", vol)
    events = _events(daemon, since, "type=volume", f"volume={vol}")
    assert [e["Action"] for e in events] == ["create", "mount", "unmount", "destroy"]
    mount = events[1]["Actor"]["Attributes"]
    assert mount["destination"] == "/d" and mount["driver"] == "local"
    assert mount["read/write"] == "true"


def test_docker_cli(daemon: Daemon) -> None:
    vol = _name()
    made = daemon.docker("volume", "create", "--label", "a=b", vol)
    assert made.returncode == 0 and made.stdout.strip() == vol, made.stderr
    listing = daemon.docker("volume", "ls", "--filter", f"name={vol}")
    assert listing.stdout.split() == ["DRIVER", "VOLUME", "NAME", "local", vol]
    info = json.loads(daemon.docker("volume", "inspect", vol).stdout)[0]
    assert info["Name"] == vol and info["Labels"] == {"a": "b"}
    run = daemon.docker("run", "--rm", "-v", f"{vol}:/v", "busybox", "sh", "-c",
                        "echo hi > /v/f")
    assert run.returncode == 0, run.stderr
    name = _name("c")
    daemon.docker("create", "--name", name, "--mount", f"source={vol},target=/v", "busybox")
    refused = daemon.docker("volume", "rm", vol)
    assert refused.returncode == 1 and "volume is in use" in refused.stderr
    assert daemon.docker("run", "--rm", "--volumes-from", name, "busybox", "cat",
                         "/v/f").stdout == "hi\n"
    daemon.docker("rm", name)
    df = daemon.docker("system", "df", "-v")
    assert df.returncode == 0 and vol in df.stdout, df.stderr
    assert daemon.docker("volume", "rm", vol).stdout.strip() == vol
    missing = daemon.docker("volume", "inspect", vol)
    assert missing.returncode == 1 and "no such volume" in missing.stderr.lower()
    pruned = daemon.docker("volume", "prune", "-f")
    assert pruned.returncode == 0 and "Total reclaimed space" in pruned.stdout


def test_docker_py(docker_client, daemon: Daemon) -> None:
    """docker-py's volume tests, and containers with named volumes, Binds and
    volumes_from."""
    docker = pytest.importorskip("docker")
    api = docker_client.api
    name = _name("py")
    result = api.create_volume(name, labels={"x": "y"})
    assert result["Name"] == name and result["Driver"] == "local"
    assert result["Labels"] == {"x": "y"}
    assert any(v["Name"] == name for v in api.volumes()["Volumes"])
    assert api.volumes(filters={"name": name})["Volumes"][0]["Name"] == name
    assert api.inspect_volume(name)["Mountpoint"].endswith(f"/{name}/_data")
    with pytest.raises(docker.errors.NotFound):
        api.inspect_volume("does-not-exist-" + name)
    with pytest.raises(docker.errors.APIError) as failed:
        api.create_volume("perfectcherryblossom", "this-plugin-does-not-exist")
    assert failed.value.response.status_code in (400, 404)
    container = api.create_container("busybox", "sh -c 'echo py > /mnt/f'",
                                     volumes=["/mnt"], host_config=api.create_host_config(
                                         binds={name: {"bind": "/mnt", "mode": "rw"}}))
    api.start(container)
    api.wait(container)
    reader = api.create_container("busybox", "cat /mnt/f", host_config=api.create_host_config(
        volumes_from=[container["Id"]]))
    api.start(reader)
    api.wait(reader)
    assert api.logs(reader) == b"py\n"
    with pytest.raises(docker.errors.APIError) as in_use:
        api.remove_volume(name)
    assert in_use.value.response.status_code == 409
    api.remove_container(reader)
    api.remove_container(container, v=True)
    mounted = docker_client.containers.run(
        "busybox", "cat /m/f", remove=True,
        mounts=[docker.types.Mount("/m", name, type="volume", read_only=True)])
    assert mounted == b"py\n"
    api.remove_volume(name, force=True)
    anon = api.create_volume()
    assert len(anon["Name"]) == 64
    assert anon["Name"] in api.prune_volumes()["VolumesDeleted"]
    model = docker_client.volumes.create(_name("model"))
    assert docker_client.volumes.get(model.name).name == model.name
    model.remove()


def test_restart_keeps_data_and_tmpfs_volume_counts(own_daemon: Daemon) -> None:
    """A tmpfs volume is mounted when its first user starts and stays mounted across a
    kill -9 of the daemon while a container uses it; after restart the count is right:
    the last user's stop unmounts it. Plain volumes keep their data."""
    d = own_daemon
    data, tmp = _name(), _name("tmp")
    d.ok("run", "--rm", "-v", f"{data}:/d", "busybox", "sh", "-c", "echo kept > /d/f")
    d.ok("volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt",
         "device=tmpfs", "--opt", "o=size=1m,mode=0700", tmp)
    assert _volume(d, tmp)["Options"] == {"type": "tmpfs", "device": "tmpfs",
                                          "o": "size=1m,mode=0700"}
    path = _volume(d, tmp)["Mountpoint"]
    assert not _mounted(path)
    d.ok("run", "-d", "--name", "va", "-v", f"{tmp}:/t", "busybox", "sleep", "600")
    d.ok("run", "-d", "--name", "vb", "-v", f"{tmp}:/t", "busybox", "sleep", "600")
    assert _mounted(path)
    d.ok("exec", "va", "sh", "-c", "echo shared > /t/x")
    assert d.ok("exec", "vb", "cat", "/t/x") == "shared\n"
    assert oct(os.stat(path).st_mode & 0o777) == "0o700"
    d.kill9()
    d.start()
    assert _mounted(path)
    d.ok("stop", "-t", "0", "va")
    assert _mounted(path)                  # b still uses it
    d.ok("stop", "-t", "0", "vb")
    assert not _mounted(path)
    assert d.ok("system", "check").strip() == "store is consistent"
    d.stop()
    stray = os.path.join(d.root, "volumes", "stray", "_data")     # a crash inside create
    os.makedirs(stray)
    d.start()
    assert not os.path.exists(os.path.dirname(stray))
    assert "stray" not in d.ok("volume", "ls", "-q")
    os.makedirs(stray)                                           # seen by the check
    found = d.cli("system", "check")
    assert found.returncode == 1
    assert found.stdout.strip() == "orphan: volume directory stray has no record"
    os.rmdir(stray)
    os.rmdir(os.path.dirname(stray))
    assert d.ok("run", "--rm", "-v", f"{data}:/d", "busybox", "cat", "/d/f") == "kept\n"
    d.ok("start", "va")
    assert _mounted(path)
    assert d.ok("exec", "va", "ls", "/t") == ""       # a fresh tmpfs
    d.kill9()
    d.start()                               # a still runs: its mount stays
    assert _mounted(path)
    assert inspect(d, "va")["State"]["Running"]
    d.ok("rm", "-f", "va", "vb")
    assert not _mounted(path)
    d.ok("volume", "rm", tmp)


def test_killed_container_while_daemon_down(own_daemon: Daemon) -> None:
    """A container that ends while the daemon is down: at restart its tmpfs volume's
    count drops and the mount goes."""
    d = own_daemon
    tmp = _name("tmp")
    d.ok("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", tmp)
    path = _volume(d, tmp)["Mountpoint"]
    d.ok("run", "-d", "--name", "vc", "-v", f"{tmp}:/t", "busybox", "sleep", "600")
    pid = inspect(d, "vc")["State"]["Pid"]
    d.kill9()
    os.kill(pid, 9)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"))
    assert _mounted(path)
    d.start()
    wait_for(lambda: not _mounted(path), what="unmount at reconcile")
    d.ok("rm", "vc")
    d.ok("volume", "rm", tmp)


def test_bind_and_block_device_options(daemon: Daemon, tmp_path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "f").write_text("bound\n")
    vol = _name("bind")
    daemon.ok("volume", "create", "-o", "type=none", "-o", "o=bind", "-o",
              f"device={host}", vol)
    assert daemon.ok("run", "--rm", "-v", f"{vol}:/b", "busybox", "cat", "/b/f") == "bound\n"
    assert not _mounted(_volume(daemon, vol)["Mountpoint"])
    missing = daemon.cli("volume", "create", "-o", "type=none", "-o", "o=bind", "-o",
                         f"device={tmp_path / 'nope'}", _name())
    assert missing.returncode == 1 and "no such file" in missing.stderr.lower() or \
        "does not exist" in missing.stderr
    daemon.ok("volume", "rm", vol)
    if subprocess.run(["which", "mkfs.ext4"], capture_output=True).returncode:
        pytest.skip("SKIPPED LOUDLY: mkfs.ext4 missing (e2fsprogs) for the block device test")
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    loop = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True,
                          text=True)
    if loop.returncode:
        pytest.skip(f"SKIPPED LOUDLY: no loop device: {loop.stderr.strip()}")
    device = loop.stdout.strip()
    try:
        block = _name("blk")
        daemon.ok("volume", "create", "-o", "type=ext4", "-o", f"device={device}", block)
        daemon.ok("run", "--rm", "-v", f"{block}:/x", "busybox", "sh", "-c",
                  "echo on-disk > /x/f")
        assert not _mounted(_volume(daemon, block)["Mountpoint"])
        assert daemon.ok("run", "--rm", "-v", f"{block}:/x", "busybox", "cat",
                         "/x/f") == "on-disk\n"
        daemon.ok("volume", "rm", block)
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True)


def test_system_df_and_prune(own_daemon: Daemon) -> None:
    d = own_daemon
    used, unused = _name("used"), _name("unused")
    d.ok("run", "--name", "user", "-v", f"{used}:/u", "-v", "/anon", "busybox", "sh", "-c",
         "head -c 3000 /dev/zero > /u/f")
    d.ok("volume", "create", unused)
    data = json.loads(d.ok("system", "df", "--format", "{{json .}}").splitlines()[2])
    assert data["Type"] == "Local Volumes" and data["TotalCount"] == "3"
    assert data["Active"] == "2" and data["Size"] == "3kB"
    verbose = d.ok("system", "df", "-v")
    assert "Local Volumes space usage:" in verbose
    row = [line.split() for line in verbose.splitlines() if line.startswith(used)][0]
    assert row == [used, "1", "3kB"]
    assert [line.split() for line in verbose.splitlines()
            if line.startswith(unused)][0] == [unused, "0", "0B"]
    docker = d.docker("system", "df", "-v")
    assert docker.returncode == 0 and f"{used}" in docker.stdout, docker.stderr
    d.ok("rm", "user")
    out = d.ok("system", "prune", "-f", "--volumes")
    assert "Deleted Volumes:" in out and used not in out and unused not in out
    assert set(d.ok("volume", "ls", "-q").split()) == {used, unused}
    out = d.ok("volume", "prune", "-f", "-a", "--filter", f"label!=keep")
    assert used in out and unused in out and "Total reclaimed space: 3kB" in out
    assert d.ok("volume", "ls", "-q") == ""


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.mark.parametrize("runtime", ["dockyard", "runc"])
def test_shared_and_slave_propagation(daemon: Daemon, runtime: str, tmp_path) -> None:
    """rshared: a host mount under the source appears in the container and one the
    container (with CAP_SYS_ADMIN) makes appears on the host; rslave: host to container only;
    a private source is refused for shared, as moby refuses it."""
    if runtime == "runc" and subprocess.run(["which", "runc"], capture_output=True).returncode:
        pytest.skip("SKIPPED LOUDLY: runc not installed")
    src = tmp_path / "src"
    src.mkdir()
    private = tmp_path / "private"
    private.mkdir()
    _sh("mount", "--bind", str(src), str(src))
    _sh("mount", "--make-private", str(src))
    _sh("mount", "--make-shared", str(src))
    _sh("mount", "--bind", str(private), str(private))
    _sh("mount", "--make-private", str(private))
    names = []
    try:
        refused = daemon.cli("run", "--rm", "--runtime", runtime, "-v",
                             f"{private}:/p:rshared", "busybox", "true")
        assert refused.returncode != 0
        assert f"path {private} is mounted on {private} but it is not a shared mount" in \
            refused.stderr
        for mode in ("rshared", "rslave"):
            name = _name(mode)
            names.append(name)
            daemon.ok("run", "-d", "--cap-add", "SYS_ADMIN", "--runtime", runtime, "--name", name,
                      "-v", f"{src}:/m:{mode}", "busybox", "sleep", "600")
            host_sub = src / f"in-{mode}"
            host_sub.mkdir()
            _sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(host_sub))
            (host_sub / "f").write_text("from host\n")
            assert daemon.ok("exec", name, "cat", f"/m/in-{mode}/f") == "from host\n"
            daemon.ok("exec", name, "sh", "-c", f"mkdir -p /m/out-{mode} && mount -t tmpfs "
                      f"tmpfs /m/out-{mode} && echo from c > /m/out-{mode}/g")
            seen = (src / f"out-{mode}" / "g").exists()
            assert seen == (mode == "rshared")
            daemon.ok("rm", "-f", name)
    finally:
        for name in names:
            daemon.cli("rm", "-f", name)
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if str(tmp_path) in line.split()[4]]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)


@pytest.mark.parametrize("runtime", ["dockyard", "runc"])
def test_mounts_inside_proc_refused(daemon: Daemon, runtime: str, tmp_path) -> None:
    if runtime == "runc" and subprocess.run(["which", "runc"], capture_output=True).returncode:
        pytest.skip("SKIPPED LOUDLY: runc not installed")
    result = daemon.cli("run", "--rm", "--runtime", runtime, "-v", f"{tmp_path}:/proc/foo",
                        "busybox", "true")
    assert result.returncode != 0
    assert '"/proc/foo" cannot be mounted because it is inside /proc' in result.stderr or \
        "cannot be mounted because it is inside /proc" in result.stderr, result.stderr
    (tmp_path / "up").write_text("1 1\n")
    ok = daemon.cli("run", "--rm", "--runtime", runtime, "-v", f"{tmp_path / 'up'}:"
                    "/proc/uptime", "busybox", "cat", "/proc/uptime")
    assert ok.returncode == 0 and ok.stdout == "1 1\n", ok.stderr


@pytest.fixture
def plugin_daemon(busybox_tar: str, tmp_path):
    """A daemon whose plugin directory (daemon.json plugin-dirs) holds the test's plugin
    socket `testvol.sock`, served by tests/volumeplugin.py."""
    import sys
    import tempfile
    base = tempfile.mkdtemp(prefix="dy-", dir="/tmp")
    plugins = os.path.join(base, "plugins")
    os.makedirs(plugins)
    Daemon(base).write_config({"plugin-dirs": [plugins]})   # with its own bridge and table
    data, log = tmp_path / "plugin-data", tmp_path / "plugin.log"
    data.mkdir()
    server = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__),
                                                            "volumeplugin.py"),
                               os.path.join(plugins, "testvol.sock"), str(data), str(log)])
    wait_for(lambda: os.path.exists(os.path.join(plugins, "testvol.sock")))
    d = Daemon(base)
    try:
        d.start()
        d.ok("import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest")
        yield d, data, log
    finally:
        d.cleanup()
        server.kill()
        server.wait()


def _calls(log) -> list[tuple[str, dict]]:
    with open(log) as f:
        return [(c["method"], c["body"]) for c in map(json.loads, f)]


def test_volume_plugin(plugin_daemon) -> None:
    d, data, log = plugin_daemon
    made = d.ok("volume", "create", "-d", "testvol", "-o", "size=1g", "pv").strip()
    assert made == "pv" and (data / "pv").is_dir()
    volume = _volume(d, "pv")
    assert volume["Driver"] == "testvol" and volume["Mountpoint"] == str(data / "pv")
    assert volume["Scope"] == "global" and volume["Status"] == {"users": 0}
    out = d.ok("run", "--name", "pc", "-v", "pv:/p", "busybox", "sh", "-c",
               "echo plugged > /p/f; cat /p/f")
    assert out == "plugged\n" and (data / "pv" / "f").read_text() == "plugged\n"
    cid = inspect(d, "pc")["Id"]
    point = inspect(d, "pc")["Mounts"][0]
    assert point["Driver"] == "testvol" and point["Name"] == "pv"
    calls = _calls(log)
    assert calls[0][0] == "Plugin.Activate"
    assert ("VolumeDriver.Create", {"Name": "pv", "Opts": {"size": "1g"}}) in calls
    mounts = [c for c in calls if c[0] in ("VolumeDriver.Mount", "VolumeDriver.Unmount")]
    assert mounts == [("VolumeDriver.Mount", {"Name": "pv", "ID": cid}),
                      ("VolumeDriver.Unmount", {"Name": "pv", "ID": cid})]
    refused = d.cli("volume", "rm", "pv")
    assert refused.returncode == 1 and "volume is in use" in refused.stderr
    d.ok("rm", "pc")
    # --mount with volume-driver makes one on first use; its Err reaches the client
    out = d.ok("run", "--rm", "--mount", "type=volume,src=pw,dst=/w,volume-driver=testvol",
               "busybox", "sh", "-c", "ls /w; echo ok")
    assert out == "ok\n" and _volume(d, "pw")["Driver"] == "testvol"
    d.ok("volume", "create", "-d", "testvol", "-o", "fail=mount", "bad")
    failed = d.cli("run", "--rm", "-v", "bad:/b", "busybox", "true")
    assert failed.returncode != 0 and "refusing to mount" in failed.stderr
    assert d.ok("volume", "ls", "-q", "--filter", "driver=testvol").split() == \
        ["bad", "pv", "pw"]
    info = json.loads(d.ok("info", "--format", "{{json .Plugins.Volume}}"))
    assert info == ["local", "testvol"]
    for name in ("pv", "pw", "bad"):
        d.ok("volume", "rm", name)
    assert not (data / "pv").exists()
    assert ("VolumeDriver.Remove", {"Name": "pv"}) in _calls(log)
    docker = d.docker("volume", "create", "-d", "testvol", "viadocker")
    assert docker.returncode == 0, docker.stderr
    assert d.docker("run", "--rm", "-v", "viadocker:/v", "busybox", "touch",
                    "/v/x").returncode == 0
    assert (data / "viadocker" / "x").exists()
    d.ok("volume", "rm", "viadocker")


def test_api_bad_input_leaves_nothing(daemon: Daemon) -> None:
    """Wrong types, bad names, bad filters: Docker's 4xx and texts; no volume, no directory
    left; the daemon answers on."""
    from dockyard.client.transport import APIClient, APIError

    api = APIClient(daemon.host)
    before = set(os.listdir(os.path.join(daemon.root, "volumes")))
    cases = [
        ("POST", "/volumes/create", {"Name": 5}, 400,
         "json: cannot unmarshal number into Go struct field CreateOptions.Name of type "
         "string"),
        ("POST", "/volumes/create", {"Name": "ok-name", "DriverOpts": ["x"]}, 400,
         "cannot unmarshal array"),
        ("POST", "/volumes/create", {"Name": "ok-name", "Labels": {"a": 1}}, 400,
         "cannot unmarshal number"),
        ("POST", "/volumes/create", {"Name": "../escape"}, 400, "includes invalid characters"),
        ("POST", "/volumes/create", {"Name": "ok-name", "DriverOpts": {"type": "tmpfs"}},
         400, 'missing required option: "device"'),
        ("GET", "/volumes?filters=%7B%22colour%22%3A%5B%22x%22%5D%7D", None, 400,
         "invalid filter 'colour'"),
        ("GET", "/volumes?filters=%7B%22dangling%22%3A%5B%22maybe%22%5D%7D", None, 400,
         "invalid filter 'dangling=maybe'"),
        ("POST", "/volumes/prune?filters=%7B%22until%22%3A%5B%221h%22%5D%7D", None, 400,
         "invalid filter 'until'"),
        ("GET", "/volumes/no-such-volume", None, 404, "get no-such-volume: no such volume"),
        ("DELETE", "/volumes/no-such-volume", None, 404, "no such volume"),
    ]
    for method, path, body, status, text in cases:
        with pytest.raises(APIError) as failed:
            api.call(method, path, None, body)
        assert failed.value.status == status, (path, body, failed.value.message)
        assert text in failed.value.message, (path, body, failed.value.message)
    assert set(os.listdir(os.path.join(daemon.root, "volumes"))) == before
    assert "ok-name" not in daemon.ok("volume", "ls", "-q")
    api.call("DELETE", "/volumes/no-such-volume", {"force": True})      # forced: 204
    assert daemon.ok("version")


def test_cp_through_volume_and_docker_cli_volume_opts(daemon: Daemon, tmp_path) -> None:
    """cp writes into a container's named volume (seen at its Mountpoint) and reads from
    it; the docker CLI's --mount volume-opt makes a tmpfs volume on first use."""
    vol, name = _name(), _name("cp")
    daemon.ok("create", "--name", name, "-v", f"{vol}:/data", "busybox", "true")
    (tmp_path / "in.txt").write_text("copied\n")
    daemon.ok("cp", str(tmp_path / "in.txt"), f"{name}:/data/")
    with open(os.path.join(_volume(daemon, vol)["Mountpoint"], "in.txt")) as f:
        assert f.read() == "copied\n"
    daemon.ok("cp", f"{name}:/data/in.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "copied\n"
    daemon.ok("rm", name)
    daemon.ok("volume", "rm", vol)
    tmp = _name("dtmp")
    run = daemon.docker("run", "--rm", "--mount", f"type=volume,src={tmp},dst=/t,"
                        "volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m",
                        "busybox", "sh", "-c", "grep ' /t ' /proc/mounts")
    assert run.returncode == 0 and "tmpfs" in run.stdout, run.stderr
    assert _volume(daemon, tmp)["Options"] == {"type": "tmpfs", "device": "tmpfs",
                                               "o": "size=2m"}
    assert not _mounted(_volume(daemon, tmp)["Mountpoint"])
    daemon.ok("volume", "rm", tmp)


def test_cli_output_matches_docker_cli(own_daemon: Daemon) -> None:
    """Our CLI prints what the docker CLI prints for the same daemon answers."""
    d = own_daemon
    # one label: the docker CLI prints {{.Labels}} in Go's random map order
    d.ok("volume", "create", "--label", "a=1", "same")
    d.ok("create", "--name", "holder", "-v", "same:/x", "-v", "/anon", "busybox")
    commands = [
        ["volume", "ls"], ["volume", "ls", "--format", "json"], ["volume", "ls", "-q"],
        ["volume", "ls", "--format", "table {{.Name}}\t{{.Labels}}\t{{.Links}}\t{{.Scope}}"],
        ["volume", "ls", "-f", "dangling=true"], ["volume", "ls", "-f", "label=a=1"],
        ["volume", "inspect", "same"], ["volume", "inspect", "--format", "{{json .}}", "same"],
        ["volume", "inspect", "same", "nope"], ["volume", "rm", "nope", "same"],
        ["ps", "-a", "--format", "{{.Mounts}}"], ["system", "df"],
        ["system", "df", "--format", "{{json .}}"],
    ]
    for args in commands:
        ours, theirs = d.cli(*args), d.docker(*args)
        assert (ours.returncode, ours.stdout, ours.stderr) == \
            (theirs.returncode, theirs.stdout, theirs.stderr), args


def test_failed_driver_mount_is_reported_and_counts_nothing(daemon: Daemon) -> None:
    """A volume whose filesystem cannot be mounted: start fails with moby's text and the
    volume has no user left counted (the next start tries again)."""
    vol = _name("badmnt")
    daemon.ok("volume", "create", "-o", "type=ext4", "-o", "device=/dev/no-such-disk", vol)
    failed = daemon.cli("run", "--rm", "-v", f"{vol}:/x", "busybox", "true")
    assert failed.returncode != 0
    assert "failed to mount local volume: mount /dev/no-such-disk:" in failed.stderr
    assert not _mounted(_volume(daemon, vol)["Mountpoint"])
    daemon.ok("volume", "rm", vol)           # no container holds it
