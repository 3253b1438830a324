"""cp / archive: the docker CLI, our CLI and docker-py both ways; Docker's path rules and
errors; hostile archives never write outside the container's root."""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import tarfile
import uuid
from typing import Any

import pytest

from conftest import Daemon


def _api(daemon: Daemon, method: str, path: str, body: bytes | None = None
         ) -> tuple[int, dict[str, str], bytes]:
    """A raw request over the daemon's socket (curl keeps the test free of client logic)."""
    args = ["curl", "-s", "-i", "--unix-socket", daemon.sock, "-X", method,
            f"http://d{path}"]
    if method == "HEAD":
        args[args.index("-X"):args.index("-X") + 2] = ["-I"]
    if body is not None:
        args += ["-H", "Content-Type: application/x-tar", "--data-binary", "@-"]
    out = subprocess.run(args, input=body, capture_output=True, check=True).stdout
    head, _, payload = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, payload


def _tar(*entries: tarfile.TarInfo, data: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info in entries:
            content = (data or {}).get(info.name)
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buf.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


@pytest.fixture
def box(daemon: Daemon) -> Any:
    name = f"cp-{uuid.uuid4().hex[:8]}"
    daemon.ok("run", "-d", "--name", name, "busybox", "sh", "-c",
              "mkdir -p /d/sub && echo hi > /d/a && echo x > /d/sub/b && "
              "ln -s /etc /d/etclink && ln -s a /d/alink && exec sleep 1000")
    for _ in range(100):
        if daemon.cli("exec", name, "test", "-L", "/d/alink").returncode == 0:
            break
    yield name
    daemon.cli("rm", "-f", name)


def _tree(path: str) -> list[str]:
    out = []
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            out.append(os.path.relpath(os.path.join(root, name), path))
    return sorted(out)


def test_stat_header_and_archive_names(daemon: Daemon, box: str) -> None:
    status, headers, _ = _api(daemon, "HEAD", f"/containers/{box}/archive?path=/d")
    assert status == 200
    stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert stat["name"] == "d" and stat["mode"] == (1 << 31) | 0o755 and stat["linkTarget"] == ""
    assert stat["mtime"].endswith("Z")
    _, headers, _ = _api(daemon, "HEAD", f"/containers/{box}/archive?path=/d/etclink")
    stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert stat["mode"] & (1 << 27) and stat["linkTarget"] == "/etc"
    status, _, body = _api(daemon, "GET", f"/containers/{box}/archive?path=/d")
    assert status == 200
    names = tarfile.open(fileobj=io.BytesIO(body)).getnames()
    assert names == ["d", "d/a", "d/alink", "d/etclink", "d/sub", "d/sub/b"]
    _, _, body = _api(daemon, "GET", f"/containers/{box}/archive?path=/d/.")
    assert tarfile.open(fileobj=io.BytesIO(body)).getnames()[:2] == [".", "./a"]
    _, _, body = _api(daemon, "GET", f"/containers/{box}/archive?path=/d/sub/b")
    assert tarfile.open(fileobj=io.BytesIO(body)).getnames() == ["b"]
    # the symlink's target is the container's /etc, not the host's
    _, _, body = _api(daemon, "GET", f"/containers/{box}/archive?path=/d/etclink/")
    names = tarfile.open(fileobj=io.BytesIO(body)).getnames()
    assert "etclink/hostname" in names and "etclink/passwd" in names
    assert not any(n.endswith("os-release") or n.endswith("debian_version") for n in names)


def test_errors(daemon: Daemon, box: str) -> None:
    status, _, body = _api(daemon, "GET", f"/containers/{box}/archive?path=/nope")
    assert status == 404
    assert json.loads(body)["message"] == f"Could not find the file /nope in container {box}"
    assert _api(daemon, "HEAD", f"/containers/{box}/archive?path=/nope")[0] == 404
    status, _, body = _api(daemon, "PUT", f"/containers/{box}/archive?path=/d/a",
                           _tar(_entry("x")))
    assert status == 400 and b"extraction point is not a directory" in body
    status, _, body = _api(daemon, "PUT", f"/containers/{box}/archive?path=/missing",
                           _tar(_entry("x")))
    assert status == 404 and b"Could not find the file /missing" in body
    assert _api(daemon, "GET", "/containers/nosuch/archive?path=/")[0] == 404
    assert _api(daemon, "GET", f"/containers/{box}/archive")[0] == 400
    result = daemon.cli("cp", f"{box}:/nope", "/tmp/x")
    assert result.returncode == 1
    assert "Error response from daemon: Could not find the file /nope" in result.stderr
    assert "copying between containers" in daemon.cli("cp", f"{box}:/a", f"{box}:/b").stderr
    assert "must specify at least one container" in daemon.cli("cp", "/a", "/b").stderr


def test_docker_cli_both_ways(daemon: Daemon, box: str, tmp_path: Any) -> None:
    out = tmp_path / "out"
    assert daemon.docker("cp", f"{box}:/d", str(out)).returncode == 0
    assert _tree(str(out)) == ["a", "alink", "etclink", "sub", "sub/b"]
    assert os.readlink(out / "etclink") == "/etc" and (out / "a").read_text() == "hi\n"
    into = tmp_path / "into"
    into.mkdir()
    assert daemon.docker("cp", f"{box}:/d/.", str(into)).returncode == 0
    assert _tree(str(into)) == _tree(str(out))
    assert daemon.docker("cp", "-L", f"{box}:/d/alink", str(tmp_path / "f")).returncode == 0
    assert (tmp_path / "f").read_text() == "hi\n"
    local = tmp_path / "local"
    (local / "s").mkdir(parents=True)
    (local / "f").write_text("L\n")
    (local / "s" / "g").write_text("S\n")
    assert daemon.docker("cp", str(local), f"{box}:/new").returncode == 0
    assert daemon.ok("exec", box, "find", "/new").split() == ["/new", "/new/f", "/new/s",
                                                              "/new/s/g"]
    assert daemon.docker("cp", str(local / "f"), f"{box}:/d/").returncode == 0
    assert daemon.ok("exec", box, "cat", "/d/f") == "L\n"
    bad = daemon.docker("cp", str(local), f"{box}:/d/a")
    assert bad.returncode == 1 and "cannot copy directory" in bad.stderr


def test_our_cli_both_ways_and_stopped(daemon: Daemon, box: str, tmp_path: Any) -> None:
    os.chdir(tmp_path)
    daemon.ok("cp", f"{box}:/d", "out")
    assert _tree("out") == ["a", "alink", "etclink", "sub", "sub/b"]
    daemon.ok("container", "cp", f"{box}:/d/a", "copy.txt")
    assert open("copy.txt").read() == "hi\n"
    result = daemon.cli("cp", f"{box}:/d/a", "nodir/")
    assert result.returncode == 1 and "no such directory" in result.stderr
    raw = subprocess.run([os.sys.executable, "-m", "dockyard.cli", "cp", f"{box}:/d/sub", "-"],
                         env=daemon.env(), capture_output=True, check=True).stdout
    assert tarfile.open(fileobj=io.BytesIO(raw)).getnames() == ["sub", "sub/b"]
    os.makedirs("loc/s")
    open("loc/f", "w").write("L\n")
    open("loc/s/g", "w").write("S\n")
    daemon.ok("cp", "loc/.", f"{box}:/d/sub")
    assert daemon.ok("exec", box, "cat", "/d/sub/f", "/d/sub/s/g") == "L\nS\n"
    daemon.ok("cp", "loc/f", f"{box}:/d/renamed")
    assert daemon.ok("exec", box, "cat", "/d/renamed") == "L\n"
    daemon.ok("stop", "-t", "0", box)
    daemon.ok("cp", "loc/f", f"{box}:/d/while-stopped")
    daemon.ok("cp", f"{box}:/d/while-stopped", "back")
    assert open("back").read() == "L\n"
    rootfs = os.path.join(daemon.root, "containers",
                          daemon.ok("inspect", "-f", "{{.Id}}", box).strip(), "bundle",
                          "rootfs")
    assert not os.path.ismount(rootfs)      # the copy's mount is gone again
    created = daemon.ok("create", "busybox", "true").strip()
    try:
        daemon.ok("cp", "loc/f", f"{created}:/tmp/")
        daemon.ok("start", "-a", created)
        daemon.ok("cp", f"{created}:/tmp/f", "fromcreated")
        assert open("fromcreated").read() == "L\n"
    finally:
        daemon.cli("rm", "-f", created)


def test_docker_py_get_and_put_archive(daemon: Daemon, box: str, docker_client: Any) -> None:
    container = docker_client.containers.get(box)
    stream, stat = container.get_archive("/d/a")
    assert stat["name"] == "a" and stat["size"] == 3
    member = tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
    assert member.extractfile("a").read() == b"hi\n"
    assert container.put_archive("/tmp", _tar(_entry("put.txt"), data={"put.txt": b"P"}))
    assert daemon.ok("exec", box, "cat", "/tmp/put.txt") == "P"
    import gzip
    assert container.put_archive("/tmp", gzip.compress(_tar(_entry("gz.txt"),
                                                            data={"gz.txt": b"G"})))
    assert daemon.ok("exec", box, "cat", "/tmp/gz.txt") == "G"     # compressed, as Docker
    import docker
    with pytest.raises(docker.errors.NotFound):
        container.get_archive("/nope")


def test_hostile_archives_stay_inside(daemon: Daemon, box: str) -> None:
    marker = f"dockyard-escape-{uuid.uuid4().hex}"
    shadow = os.stat("/etc/shadow")
    cases = [
        _tar(_entry(f"../../../../../../tmp/{marker}-dotdot"), data={}),
        _tar(_entry(f"/tmp/{marker}-abs")),
        _tar(_entry("up", tarfile.SYMTYPE, "/"), _entry(f"up/tmp/{marker}-through")),
        _tar(_entry("rel", tarfile.SYMTYPE, "../../../../../../../etc"),
             _entry(f"rel/{marker}-rel")),
        _tar(_entry("sh", tarfile.LNKTYPE, "../../../../../../etc/shadow")),
        _tar(_entry("sh2", tarfile.LNKTYPE, "/etc/shadow")),
    ]
    statuses = []
    for body in cases:
        statuses.append(_api(daemon, "PUT", f"/containers/{box}/archive?path=/tmp", body)[0])
    assert statuses[0] == 400 and statuses[3] == 400 and statuses[4] == 400
    for suffix in ("dotdot", "abs", "through", "rel"):
        assert not os.path.exists(f"/tmp/{marker}-{suffix}")
    assert os.stat("/etc/shadow").st_nlink == shadow.st_nlink
    # an absolute name lands below the destination; a symlink to / is the container's /
    assert f"{marker}-abs" in daemon.ok("exec", box, "ls", "/tmp/tmp").split()
    assert f"{marker}-through" in daemon.ok("exec", box, "ls", "/tmp").split()
    # a destination that is a symlink to /etc is the container's /etc
    status, _, _ = _api(daemon, "PUT", f"/containers/{box}/archive?path=/d/etclink",
                        _tar(_entry(f"{marker}-etc"), data={f"{marker}-etc": b"E"}))
    assert status == 200 and not os.path.exists(f"/etc/{marker}-etc")
    assert daemon.ok("exec", box, "cat", f"/etc/{marker}-etc") == "E"
    # nothing landed anywhere else on the host either
    found = subprocess.run(["find", "/tmp", "/etc", "/root", "-maxdepth", "2", "-name",
                            f"{marker}*"], capture_output=True, text=True).stdout
    data_root = daemon.root
    assert all(line.startswith(data_root) for line in found.split())


def test_read_only_rootfs_refuses_put(daemon: Daemon) -> None:
    name = f"ro-{uuid.uuid4().hex[:8]}"
    daemon.ok("run", "-d", "--read-only", "--name", name, "busybox", "sleep", "1000")
    try:
        status, _, body = _api(daemon, "PUT", f"/containers/{name}/archive?path=/tmp",
                               _tar(_entry("x")))
        assert status == 400
        assert json.loads(body)["message"] == "container rootfs is marked read-only"
        result = daemon.docker("cp", "/etc/hostname", f"{name}:/tmp/")
        assert result.returncode == 1 and "container rootfs is marked read-only" in \
            result.stderr
    finally:
        daemon.cli("rm", "-f", name)


def test_archive_mode_owner_and_preserved_ids(daemon: Daemon, tmp_path: Any) -> None:
    name = f"cpa-{uuid.uuid4().hex[:8]}"
    daemon.ok("run", "-d", "--user", "app:users", "--name", name, "busybox", "sleep", "1000")
    try:
        src = tmp_path / "owned"
        src.write_text("o\n")
        os.chown(src, 4321, 4322)
        assert daemon.docker("cp", "-a", str(src), f"{name}:/tmp/a").returncode == 0
        assert daemon.docker("cp", str(src), f"{name}:/tmp/plain").returncode == 0
        daemon.ok("cp", "-a", str(src), f"{name}:/tmp/ours")
        owners = daemon.ok("exec", name, "stat", "-c", "%u:%g", "/tmp/a", "/tmp/plain",
                           "/tmp/ours").split()
        # -a: the container's user and group; without: the ids the archive carries
        assert owners == ["1000:100", "4321:4322", "1000:100"]
    finally:
        daemon.cli("rm", "-f", name)


def test_root_and_dockers_view_of_mounts(daemon: Daemon, box: str, tmp_path: Any) -> None:
    """The archive of "/" is Docker's view: overlay plus the network files, none of the
    runtime's /proc or /sys."""
    out = tmp_path / "root"
    result = daemon.docker("cp", f"{box}:/", str(out))
    assert result.returncode == 0, result.stderr
    hostname = daemon.ok("inspect", "-f", "{{.Config.Hostname}}", box).strip()
    assert (out / "etc" / "hostname").read_text().strip() == hostname
    assert (out / "d" / "a").read_text() == "hi\n"
    for pseudo in ("proc", "sys"):
        assert not (out / pseudo).exists() or os.listdir(out / pseudo) == []
    ours = tmp_path / "ours"
    daemon.ok("cp", f"{box}:/", str(ours))
    assert sorted(os.listdir(ours)) == sorted(os.listdir(out))
