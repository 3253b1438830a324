"""Images: import, list, tag, inspect, history, rmi rules, save/load, hostile archives."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest

from conftest import Daemon, inspect


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644
           ) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


def _import(daemon: Daemon, data: bytes, ref: str, *changes: str) -> str:
    args = []
    for change in changes:
        args += ["-c", change]
    result = subprocess.run([sys.executable, "-m", "dockyard.cli", "import", *args, "-", ref],
                            input=data, env=daemon.env(), capture_output=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.decode().strip()


def test_images_table_and_quiet(daemon: Daemon) -> None:
    out = daemon.ok("images")
    header, *rows = out.splitlines()
    assert re.match(r"REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$", header)
    row = next(r for r in rows if r.startswith("busybox "))
    assert re.match(r"busybox\s+latest\s+[0-9a-f]{12}\s+.+ago\s+[\d.]+MB$", row)
    image_id = inspect(daemon, "busybox")["Id"]
    assert image_id[7:19] in daemon.ok("images", "-q").split()
    assert daemon.ok("images", "--format", "{{.Repository}}:{{.Tag}}").count("busybox:latest")


def test_reference_forms_resolve(daemon: Daemon) -> None:
    image_id = inspect(daemon, "busybox")["Id"]
    for ref in ("busybox", "busybox:latest", "docker.io/library/busybox",
                "docker.io/library/busybox:latest", image_id, image_id[7:], image_id[7:15]):
        assert json.loads(daemon.ok("image", "inspect", ref))[0]["Id"] == image_id
    result = daemon.cli("image", "inspect", "Busybox")
    assert result.returncode == 1


def test_tag_and_rmi_rules(daemon: Daemon) -> None:
    image_id = inspect(daemon, "busybox")["Id"]
    daemon.ok("tag", "busybox", "example.com/team/box:v1")
    daemon.ok("tag", "busybox", "mybox")
    tags = inspect(daemon, "busybox")["RepoTags"]
    assert {"busybox:latest", "example.com/team/box:v1", "mybox:latest"} <= set(tags)
    # removing by ID is refused while several names point at it
    result = daemon.cli("rmi", image_id[7:19])
    assert result.returncode == 1
    assert "image is referenced in multiple repositories" in result.stderr
    assert daemon.ok("rmi", "mybox") == "Untagged: mybox:latest\n"
    assert daemon.ok("rmi", "example.com/team/box:v1") == "Untagged: example.com/team/box:v1\n"
    # an image used by a container cannot lose its last name without force
    daemon.ok("tag", "busybox", "usedbox")
    cid = daemon.ok("create", "usedbox", "true").strip()
    try:
        daemon.ok("tag", "busybox", "onlyname")
        daemon.ok("rmi", "usedbox")   # other names remain: just untagged
        result = daemon.cli("rmi", image_id)
        assert result.returncode == 1
        assert "image is referenced in multiple repositories" in result.stderr or \
            "being used by stopped container" in result.stderr
    finally:
        daemon.ok("rm", cid)
        daemon.cli("rmi", "onlyname")
    assert inspect(daemon, "busybox")["Id"] == image_id


def test_rmi_deletes_and_conflicts(daemon: Daemon, busybox_tar: str) -> None:
    with open(busybox_tar, "rb") as f:
        image_id = _import(daemon, f.read(), "victim:1")
    cid = daemon.ok("run", "-d", "victim:1", "sleep", "100").strip()
    try:
        result = daemon.cli("rmi", "victim:1")
        assert result.returncode == 1
        assert "(must force) - container" in result.stderr
        result = daemon.cli("rmi", "-f", image_id)
        assert "image is being used by running container" in result.stderr
    finally:
        daemon.ok("rm", "-f", cid)
    out = daemon.ok("rmi", "victim:1")
    assert out == f"Untagged: victim:1\nDeleted: {image_id}\n"
    assert daemon.cli("image", "inspect", image_id).returncode == 1


def test_import_changes_and_history(daemon: Daemon) -> None:
    data = _tar([(_entry("bin", tarfile.DIRTYPE, mode=0o755), None),
                 (_entry("hello.txt"), b"hi\n")])
    image_id = _import(daemon, data, "changed:v2", "ENV A=1", "WORKDIR /srv",
                       'ENTRYPOINT ["/bin/app"]', "LABEL team=core", "EXPOSE 8080",
                       "USER 1000")
    try:
        info = inspect(daemon, "changed:v2")
        assert info["Id"] == image_id
        config = info["Config"]
        assert config["Env"] == ["A=1"] and config["WorkingDir"] == "/srv"
        assert config["Entrypoint"] == ["/bin/app"] and config["User"] == "1000"
        assert config["Labels"] == {"team": "core"}
        assert config["ExposedPorts"] == {"8080/tcp": {}}
        assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 1
        history = daemon.ok("history", "changed:v2").splitlines()
        assert re.match(r"IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT", history[0])
        assert "Imported from -" in history[1]
    finally:
        daemon.ok("rmi", "changed:v2")


def test_hostile_layers_stay_inside(daemon: Daemon, tmp_path) -> None:
    marker = tmp_path / "escape"
    entries = [
        (_entry(f"../../../../../../{marker}"), b"dotdot"),
        (_entry("link", tarfile.SYMTYPE, link=str(tmp_path)), None),
        (_entry("link/escape"), b"through symlink"),
        (_entry("etc", tarfile.DIRTYPE, mode=0o755), None),
        (_entry("etc/hard", tarfile.LNKTYPE, link="/etc/passwd"), None),
    ]
    result = subprocess.run([sys.executable, "-m", "dockyard.cli", "import", "-", "evil:1"],
                            input=_tar(entries), env=daemon.env(), capture_output=True)
    assert not marker.exists(), "a layer wrote outside its directory"
    with open("/etc/passwd", "rb") as f:
        assert b"through symlink" not in f.read()
    if result.returncode == 0:
        daemon.ok("rmi", "evil:1")
    else:
        assert b"invalid" in result.stderr.lower()


def test_whiteouts_hide_lower_files(own_daemon: Daemon, busybox_tar: str, tmp_path) -> None:
    # save busybox, append a layer that deletes /etc/passwd, load it, and look inside
    d = own_daemon
    archive = tmp_path / "bb.tar"
    d.ok("save", "-o", str(archive), "busybox")
    layer = _tar([(_entry("etc", tarfile.DIRTYPE, mode=0o755), None),
                  (_entry("etc/.wh.passwd"), b""),
                  (_entry("home", tarfile.DIRTYPE, mode=0o755), None),
                  (_entry("home/.wh..wh..opq"), b""),
                  (_entry("home/new"), b"x")])
    import hashlib
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    work = tmp_path / "x"
    work.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(work)
    manifest = json.loads((work / "manifest.json").read_text())
    config_path = work / manifest[0]["Config"]
    config = json.loads(config_path.read_text())
    config["rootfs"]["diff_ids"].append(diff_id)
    config["history"].append({"created": config["created"], "created_by": "rm passwd"})
    raw = json.dumps(config).encode()
    config_name = f"blobs/sha256/{hashlib.sha256(raw).hexdigest()}"
    (work / config_name).write_bytes(raw)
    (work / f"blobs/sha256/{diff_id[7:]}").write_bytes(layer)
    manifest[0].update(Config=config_name, RepoTags=["layered:1"],
                       Layers=manifest[0]["Layers"] + [f"blobs/sha256/{diff_id[7:]}"])
    (work / "manifest.json").write_text(json.dumps(manifest))
    (work / "index.json").unlink()
    repacked = tmp_path / "layered.tar"
    with tarfile.open(repacked, "w") as tar:
        for name in os.listdir(work):
            tar.add(work / name, arcname=name)
    assert d.ok("load", "-i", str(repacked)) == "Loaded image: layered:1\n"
    out = d.ok("run", "--rm", "layered:1", "sh", "-c",
               "ls /etc; ls -A /home; test -e /etc/passwd && echo present || echo gone")
    assert out.split()[-1] == "gone"
    assert "new" in out.split() and "app" not in out.split()


def test_save_load_round_trip(own_daemon: Daemon, tmp_path) -> None:
    d = own_daemon
    archive = tmp_path / "out.tar"
    image_id = inspect(d, "busybox")["Id"]
    d.ok("tag", "busybox", "second:tag")
    d.ok("save", "-o", str(archive), "busybox", "second:tag")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "index.json", "oci-layout"} <= names
    d.ok("rmi", "busybox", "second:tag")
    assert d.cli("image", "inspect", image_id).returncode == 1
    out = d.ok("load", "-i", str(archive))
    assert out == "Loaded image: busybox:latest\nLoaded image: second:tag\n"
    assert inspect(d, "busybox")["Id"] == image_id
    assert d.ok("run", "--rm", "second:tag", "echo", "loaded") == "loaded\n"
    # loading the same archive again is harmless
    assert d.ok("load", "-i", str(archive)).count("Loaded image") == 2
    # an OCI image layout (no manifest.json) loads too
    oci = tmp_path / "oci"
    oci.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(oci)
    (oci / "manifest.json").unlink()
    oci_tar = tmp_path / "oci.tar"
    with tarfile.open(oci_tar, "w") as tar:
        for name in os.listdir(oci):
            tar.add(oci / name, arcname=name)
    d.ok("rmi", "second:tag")
    assert "Loaded image: second:tag" in d.ok("load", "-i", str(oci_tar))
    # a corrupted layer is refused and leaves no image behind
    bad = tmp_path / "bad.tar"
    with tarfile.open(archive) as src, tarfile.open(bad, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if data and member.name.startswith("blobs/") and member.size > 100000:
                middle = len(data) // 2   # inside the busybox binary
                flipped = bytes(b ^ 0xFF for b in data[middle:middle + 64])
                data = data[:middle] + flipped + data[middle + 64:]
            if member.name == "manifest.json":
                data = data.replace(b"busybox:latest", b"corrupt:1")
            if data is not None:
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    assert d.cli("load", "-i", str(bad)).returncode != 0
    assert d.cli("image", "inspect", "corrupt:1").returncode == 1


def test_docker_py_images(docker_client) -> None:
    image = docker_client.images.get("busybox")
    assert "busybox:latest" in image.tags
    image.tag("pyimage", "v1")
    assert docker_client.images.get("pyimage:v1").id == image.id
    docker_client.images.remove("pyimage:v1")
    with pytest.raises(Exception):
        docker_client.images.get("pyimage:v1")
    assert any("busybox:latest" in i.tags for i in docker_client.images.list())
    history = image.history()
    assert history[0]["Id"] == image.id


def test_import_from_url(daemon: Daemon, busybox_tar: str) -> None:
    import http.server
    import threading

    directory = os.path.dirname(busybox_tar)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{os.path.basename(busybox_tar)}"
        image_id = daemon.ok("import", url, "fromurl:1").strip()
        assert image_id.startswith("sha256:")
        history = json.loads(daemon.ok("image", "inspect", "fromurl:1"))[0]
        assert history["Comment"] == f"Imported from {url}"
        assert daemon.ok("run", "--rm", "fromurl:1", "echo", "ok") == "ok\n"
    finally:
        server.shutdown()
        daemon.cli("rmi", "fromurl:1")
