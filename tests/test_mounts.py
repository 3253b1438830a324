"""Bind and tmpfs mounts (-v, --mount, --tmpfs): our CLI, the docker CLI and docker-py, on
both runtimes; Docker's errors; symlinked targets stay in the container; inspect/ps; cp
through binds; commit/diff/export leave bind content out; nothing stays mounted."""
from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import uuid

import pytest

from conftest import Daemon, inspect

RUNTIMES = ["dockyard", "runc"]


def _name() -> str:
    return f"mnt-{uuid.uuid4().hex[:8]}"


def _host_mounts(marker: str) -> list[str]:
    """Host mount table lines that name `marker` (a test's own path or container ID)."""
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if marker in line]


def _proc_mounts(daemon: Daemon, runtime: str, args: list[str], paths: list[str]) -> dict:
    """Run a container with `args` and return its /proc/mounts entries for `paths`."""
    out = daemon.ok("run", "--rm", "--runtime", runtime, *args, "busybox", "cat",
                    "/proc/mounts")
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if fields[1] in paths:
            found[fields[1]] = fields
    return found


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rw_and_ro_binds(daemon: Daemon, runtime: str, tmp_path) -> None:
    host = tmp_path / "data"
    host.mkdir()
    (host / "in").write_text("from host\n")
    missing = tmp_path / "made" / "by" / "docker"
    result = daemon.cli("run", "--rm", "--runtime", runtime, "-v", f"{host}:/rw",
                        "-v", f"{host}:/ro:ro,Z", "-v", f"{missing}:/new",
                        "--mount", f"type=bind,source={host},target=/mro,readonly",
                        "busybox", "sh", "-c",
                        "cat /ro/in; echo written > /rw/out; touch /new/x; "
                        "echo no > /ro/bad; echo no > /mro/bad; grep -E ' /(ro|mro|rw) ' "
                        "/proc/mounts")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("from host\n")
    assert (host / "out").read_text() == "written\n"         # rw bind writes through
    assert (missing / "x").exists()                          # -v made the missing source
    assert not (host / "bad").exists()
    assert result.stderr.count("Read-only file system") == 2   # EROFS in both ro binds
    options = {line.split()[1]: line.split()[3].split(",") for line in
               result.stdout.splitlines()[1:]}
    assert "ro" in options["/ro"] and "ro" in options["/mro"] and "rw" in options["/rw"]
    assert _host_mounts(str(host)) == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tmpfs_mounts(daemon: Daemon, runtime: str) -> None:
    found = _proc_mounts(daemon, runtime, [
        "--tmpfs", "/t1", "--tmpfs", "/t2:size=1m,mode=1770,exec",
        "--mount", "type=tmpfs,target=/t3,tmpfs-size=2m,tmpfs-mode=750"],
        ["/t1", "/t2", "/t3"])
    assert set(found) == {"/t1", "/t2", "/t3"}
    for fields in found.values():
        assert fields[2] == "tmpfs"
    t1, t2, t3 = (set(found[p][3].split(",")) for p in ("/t1", "/t2", "/t3"))
    assert {"nosuid", "nodev", "noexec"} <= t1
    assert {"nosuid", "nodev", "size=1024k", "mode=1770"} <= t2 and "noexec" not in t2
    assert {"nosuid", "nodev", "noexec", "size=2048k", "mode=750"} <= t3
    # written data lives in the tmpfs, not in the container's layer
    name = _name()
    daemon.ok("run", "--name", name, "--runtime", runtime, "--tmpfs", "/t", "busybox",
              "sh", "-c", "echo gone > /t/f")
    try:
        assert not any("/t/f" in line for line in daemon.ok("diff", name).splitlines())
    finally:
        daemon.ok("rm", name)


def test_docker_cli_errors_leave_nothing(daemon: Daemon, tmp_path) -> None:
    before = daemon.container_ids()
    cases = [
        (["--mount", "type=bind,source=/no/such/dir,target=/x"],
         'invalid mount config for type "bind": bind source path does not exist: '
         "/no/such/dir"),
        (["-v", "my@vol:/data"], '"my@vol" includes invalid characters for a local volume '
         "name"),
        (["--mount", "type=volume,source=my@vol,target=/data"],
         '"my@vol" includes invalid characters for a local volume name'),
        (["-v", f"{tmp_path}:relative"],
         f"invalid volume specification: '{tmp_path}:relative'"),
        (["--mount", f"type=bind,source={tmp_path},target=relative"],
         "invalid mount path: 'relative' mount path must be absolute"),
        (["-v", f"{tmp_path}:/x", "--mount", f"type=bind,source={tmp_path},target=/x"],
         "Duplicate mount point: /x"),
        (["-v", f"{tmp_path}:/x", "--tmpfs", "/x"], "Duplicate mount point: /x"),
        (["-v", f"{tmp_path}:/x:bogus"], "invalid mode: bogus"),
        (["--tmpfs", "/x:bogus"], 'invalid tmpfs option ["bogus"]'),
    ]
    for args, text in cases:
        for run in (daemon.docker, daemon.cli):
            result = run("run", "--rm", *args, "busybox", "true")
            assert result.returncode == 125, (args, result.stderr)
            assert text in result.stderr, (args, result.stderr)
            assert "Error response from daemon" in result.stderr
    assert daemon.container_ids() == before
    # our CLI checks --mount's syntax itself, as the docker CLI does
    result = daemon.cli("run", "--rm", "--mount", "type=bind,source=/x", "busybox", "true")
    assert result.returncode == 125
    assert 'invalid argument "type=bind,source=/x" for "--mount" flag: target is required' \
        in result.stderr


def test_bad_volume_name_refused_via_api(daemon: Daemon, docker_client) -> None:
    import docker
    with pytest.raises(docker.errors.APIError) as info:
        docker_client.containers.create("busybox", "true", volumes={"a": {"bind": "/d"}})
    assert info.value.status_code == 400
    assert "create a: volume name is too short" in str(info.value)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_symlink_target_stays_inside(daemon: Daemon, runtime: str, tmp_path) -> None:
    """An image whose /data is a symlink to /etc: the bind lands on the container's /etc,
    never on the host's."""
    builder, image = _name(), f"mnt-link-{uuid.uuid4().hex[:6]}"
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    (tmp_path / marker).write_text("bound\n")
    daemon.ok("run", "--name", builder, "busybox", "ln", "-s", "/etc", "/data")
    try:
        daemon.ok("commit", builder, image)
        out = daemon.ok("run", "--rm", "--runtime", runtime, "-v", f"{tmp_path}:/data",
                        image, "sh", "-c", f"cat /etc/{marker}; touch /data/new-{marker}")
        assert out == "bound\n"
        assert (tmp_path / f"new-{marker}").exists()
        assert not os.path.exists(f"/etc/{marker}") and \
            not os.path.exists(f"/etc/new-{marker}")
        assert not [line for line in _host_mounts(" /etc ") if line.split()[4] == "/etc"]
    finally:
        daemon.cli("rm", "-f", builder)
        daemon.cli("rmi", "-f", image)


def test_inspect_and_ps_mounts(daemon: Daemon, tmp_path) -> None:
    name = _name()
    binds = [f"{tmp_path}:/a:ro", f"{tmp_path}:/b"]
    result = daemon.docker("create", "--name", name, "-v", binds[0], "-v", binds[1],
                           "--mount", f"type=bind,src={tmp_path},dst=/c,bind-propagation=rslave",
                           "--mount", "type=tmpfs,dst=/d,tmpfs-size=1m", "--tmpfs", "/e:size=2m",
                           "busybox", "true")
    assert result.returncode == 0, result.stderr
    try:
        data = json.loads(daemon.docker("inspect", name).stdout)[0]
        mounts = {m["Destination"]: m for m in data["Mounts"]}
        assert set(mounts) == {"/a", "/b", "/c", "/d"}            # --tmpfs is not listed
        assert mounts["/a"] == {"Type": "bind", "Source": str(tmp_path), "Destination": "/a",
                                "Mode": "ro", "RW": False, "Propagation": "rprivate"}
        assert mounts["/b"]["RW"] is True and mounts["/b"]["Mode"] == ""
        assert mounts["/c"]["Propagation"] == "rslave"
        assert mounts["/d"]["Type"] == "tmpfs" and mounts["/d"]["Source"] == ""
        hc = data["HostConfig"]
        # the docker CLI sends -v binds from a Go map: in no particular order
        assert sorted(hc["Binds"]) == sorted(binds) and hc["Tmpfs"] == {"/e": "size=2m"}
        assert [m["Target"] for m in hc["Mounts"]] == ["/c", "/d"]
        assert hc["Mounts"][1]["TmpfsOptions"]["SizeBytes"] == 1024 * 1024
        assert inspect(daemon, name)["Mounts"] == data["Mounts"]
        shown = daemon.docker("ps", "-a", "--no-trunc", "--filter", f"name={name}",
                              "--format", "{{.Mounts}}").stdout.strip()
        ours = daemon.ok("ps", "-a", "--no-trunc", "--filter", f"name={name}",
                         "--format", "{{.Mounts}}").strip()
        assert shown == ours == ",".join([str(tmp_path)] * 3 + [""])
        for value in (str(tmp_path), "/c"):
            listed = daemon.docker("ps", "-aq", "--no-trunc", "--filter", f"volume={value}")
            assert data["Id"] in listed.stdout.split(), listed.stderr
        assert data["Id"] not in daemon.docker("ps", "-aq", "--no-trunc", "--filter",
                                               "volume=/elsewhere").stdout
    finally:
        daemon.cli("rm", "-f", name)


def test_dockerpy_binds_mounts_tmpfs(daemon: Daemon, docker_client, tmp_path) -> None:
    import docker
    (tmp_path / "f").write_text("py\n")
    out = docker_client.containers.run(
        "busybox", ["sh", "-c", "cat /ro/f; echo x > /ro/f || echo refused; echo w > /m/g; "
                    "grep ' /tt ' /proc/mounts"],
        volumes={str(tmp_path): {"bind": "/ro", "mode": "ro"}},
        mounts=[docker.types.Mount("/m", str(tmp_path), type="bind")],
        tmpfs={"/tt": "size=3m"}, remove=True, stderr=True).decode()
    lines = out.splitlines()
    assert lines[0] == "py" and "refused" in lines
    assert (tmp_path / "g").read_text() == "w\n"
    assert "size=3072k" in out and "noexec" in out


def test_cp_through_binds(daemon: Daemon, tmp_path) -> None:
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "keep").write_text("kept\n")
    src = tmp_path / "up.txt"
    src.write_text("uploaded\n")
    name = _name()
    daemon.ok("create", "--name", name, "--read-only", "-v", f"{rw}:/rw",
              "-v", f"{ro}:/ro:ro", "busybox", "sleep", "1000")
    try:
        for state in ("created", "running"):
            if state == "running":
                daemon.ok("start", name)
            result = daemon.docker("cp", str(src), f"{name}:/rw/")
            assert result.returncode == 0, result.stderr      # a rw bind despite --read-only
            assert (rw / "up.txt").read_text() == "uploaded\n"
            (rw / "up.txt").unlink()
            result = daemon.docker("cp", str(src), f"{name}:/ro/")
            assert result.returncode != 0
            assert "mounted volume is marked read-only" in result.stderr
            assert not (ro / "up.txt").exists()
            result = daemon.docker("cp", str(src), f"{name}:/")
            assert "container rootfs is marked read-only" in result.stderr
            result = subprocess.run(["docker", "-H", daemon.host, "cp", f"{name}:/ro/keep",
                                     "-"], capture_output=True)
            assert result.returncode == 0, result.stderr
            member = tarfile.open(fileobj=io.BytesIO(result.stdout)).extractfile("keep")
            assert member is not None and member.read() == b"kept\n"
        assert _host_mounts(str(tmp_path)) == []       # the cp views left nothing behind
    finally:
        daemon.cli("rm", "-f", name)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_commit_diff_export_leave_binds_out(daemon: Daemon, runtime: str, tmp_path) -> None:
    (tmp_path / "secret").write_text("host only\n")
    name, image = _name(), f"mnt-commit-{uuid.uuid4().hex[:6]}"
    daemon.ok("run", "-d", "--name", name, "--runtime", runtime, "-v", f"{tmp_path}:/data",
              "--tmpfs", "/scratch", "busybox", "sh", "-c",
              "echo more > /data/written; echo t > /scratch/t; echo layer > /own; "
              "exec sleep 1000")
    cid = inspect(daemon, name)["Id"]
    try:
        for _ in range(100):
            if (tmp_path / "written").exists():
                break
            subprocess.run(["sleep", "0.05"])
        changes = daemon.ok("diff", name).split()
        assert "/own" in changes
        assert not [c for c in changes if "secret" in c or "written" in c or "/scratch/" in c]
        export = subprocess.run([*_cli(daemon), "export", name], capture_output=True,
                                env=daemon.env(), check=True).stdout
        names = tarfile.open(fileobj=io.BytesIO(export)).getnames()
        assert "own" in names and not [n for n in names if "secret" in n or "written" in n]
        daemon.ok("commit", name, image)
        assert daemon.ok("run", "--rm", image, "ls", "-a", "/data", "/scratch").split() == \
            ["/data:", ".", "..", "/scratch:", ".", ".."]
    finally:
        daemon.cli("rm", "-f", name)
        daemon.cli("rmi", "-f", image)
    assert _host_mounts(str(tmp_path)) == [] and _host_mounts(cid) == []


def _cli(daemon: Daemon) -> list[str]:
    import sys
    return [sys.executable, "-m", "dockyard.cli"]


def test_anonymous_volume_is_a_mount(daemon: Daemon) -> None:
    """`-v /path` is an anonymous volume mounted there, listed in inspect's Mounts
    (more in test_volumes.py)."""
    for run in (daemon.docker, daemon.cli):
        name = _name()
        result = run("run", "--name", name, "-v", "/anon/dir", "busybox", "sh", "-c",
                     "test -d /anon/dir && grep -c ' /anon/dir ' /proc/mounts")
        try:
            assert result.stdout.strip() == "1", result.stderr
            data = inspect(daemon, name)
            assert [m["Destination"] for m in data["Mounts"]] == ["/anon/dir"]
            assert data["Mounts"][0]["Type"] == "volume"
            assert "/anon/dir" in data["Config"]["Volumes"]
        finally:
            daemon.cli("rm", "-f", "-v", name)


def test_mount_create_mountpoint_option(daemon: Daemon, docker_client, tmp_path) -> None:
    """API 1.42's BindOptions.CreateMountpoint makes a missing --mount source."""
    missing = tmp_path / "made"
    api = docker_client.api
    config = api.create_host_config(mounts=[
        {"Type": "bind", "Source": str(missing), "Target": "/cm",
         "BindOptions": {"CreateMountpoint": True}}])
    cid = api.create_container("busybox", ["touch", "/cm/x"], host_config=config)["Id"]
    try:
        api.start(cid)
        assert api.wait(cid)["StatusCode"] == 0
        assert (missing / "x").exists()
    finally:
        api.remove_container(cid, force=True)


def test_relative_host_path_is_made_absolute(daemon: Daemon, tmp_path) -> None:
    """As the docker CLI: `-v ./dir:/x` binds dir of the working directory."""
    import sys
    (tmp_path / "rel").mkdir()
    for argv, name in ((["docker"], "by-docker"), ([sys.executable, "-m", "dockyard.cli"],
                                                   "by-ours")):
        result = subprocess.run([*argv, "run", "--rm", "-v", "./rel:/r", "busybox", "touch",
                                 f"/r/{name}"], cwd=tmp_path, env=daemon.env(),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "rel" / name).exists()
