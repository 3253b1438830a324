"""Pull and push against a real local registry (Debian's docker-registry on 127.0.0.1),
with our CLI, the stock docker CLI and docker-py; formats, verification and crash safety."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
import urllib.request
from typing import Any, Iterator

import pytest

from conftest import Daemon, inspect, new_daemon
from registry import Registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


@pytest.fixture
def fresh(busybox_tar: str) -> Iterator[Daemon]:
    """An empty daemon to pull into."""
    d = new_daemon(None)
    try:
        yield d
    finally:
        d.cleanup()


# --- helpers: talk to the registry directly ------------------------------------------------

def put_blob(reg: Registry, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    req = urllib.request.Request(f"{reg.url}/v2/{repo}/blobs/uploads/", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        location = urllib.parse.urljoin(reg.url, resp.headers["Location"])
    sep = "&" if "?" in location else "?"
    req = urllib.request.Request(f"{location}{sep}digest={digest}", data=data, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req, timeout=30).close()
    return digest


def put_manifest(reg: Registry, repo: str, ref: str, doc: dict[str, Any]) -> tuple[str, int]:
    raw = json.dumps(doc).encode()
    req = urllib.request.Request(f"{reg.url}/v2/{repo}/manifests/{ref}", data=raw,
                                 method="PUT", headers={"Content-Type": doc["mediaType"]})
    urllib.request.urlopen(req, timeout=30).close()
    return "sha256:" + hashlib.sha256(raw).hexdigest(), len(raw)


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def push_image(reg: Registry, repo: str, tag: str, layers: list[tuple[bytes, bytes, str]],
               arch: str = HOST_ARCH, cmd: list[str] | None = None) -> tuple[str, int]:
    """layers: (uncompressed tar, blob as stored, media type). Returns the manifest's
    (digest, size)."""
    config = {"architecture": arch, "os": "linux",
              "config": {"Cmd": cmd or ["sh"], "Env": ["PATH=/bin"]},
              "rootfs": {"type": "layers", "diff_ids": [
                  "sha256:" + hashlib.sha256(t).hexdigest() for t, _, _ in layers]}}
    config_raw = json.dumps(config).encode()
    config_digest = put_blob(reg, repo, config_raw)
    descriptors = [{"mediaType": media, "size": len(blob), "digest": put_blob(reg, repo, blob)}
                   for _, blob, media in layers]
    return put_manifest(reg, repo, tag, {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "size": len(config_raw), "digest": config_digest},
        "layers": descriptors})


def busybox_layer(busybox_tar: str) -> tuple[bytes, bytes, str]:
    with open(busybox_tar, "rb") as f:
        data = f.read()
    return data, gzip.compress(data, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"


def blob_file(reg: Registry, digest: str) -> str:
    hexpart = digest.split(":", 1)[1]
    return os.path.join(reg.base, "data", "docker", "registry", "v2", "blobs", "sha256",
                        hexpart[:2], hexpart, "data")


def store_is_clean(d: Daemon) -> None:
    """No half-unpacked layers and no ingest leftovers."""
    overlay = os.path.join(d.root, "overlay")
    assert not [n for n in os.listdir(overlay) if n.startswith(".tmp-")]
    assert os.listdir(os.path.join(d.root, "content", "ingest")) == []


# --- push and pull round trips --------------------------------------------------------------

def test_push_then_pull_by_tag_and_digest_with_our_cli(daemon: Daemon, registry: Registry,
                                                       fresh: Daemon) -> None:
    name = f"{registry.host}/rt/busybox:1"
    daemon.ok("tag", "busybox", name)
    out = daemon.ok("push", name)
    assert f"The push refers to repository [{registry.host}/rt/busybox]" in out
    assert ": Pushed" in out
    digest = out.strip().splitlines()[-1].split("digest: ")[1].split()[0]
    assert out.strip().splitlines()[-1].startswith("1: digest: sha256:")
    again = daemon.ok("push", name)
    assert ": Layer already exists" in again and ": Pushed" not in again
    other = f"{registry.host}/rt/other:1"
    daemon.ok("tag", "busybox", other)
    mounted = daemon.ok("push", other)
    assert ": Mounted from rt/busybox" in mounted
    pulled = fresh.ok("pull", name)
    lines = pulled.splitlines()
    assert lines[0] == "1: Pulling from rt/busybox"
    assert any(line.endswith(": Pull complete") for line in lines)
    assert f"Digest: {digest}" in lines
    assert f"Status: Downloaded newer image for {name}" in lines
    assert lines[-1] == name
    image = inspect(fresh, name)
    assert image["Id"] == inspect(daemon, "busybox")["Id"]
    assert image["RepoDigests"] == [f"{registry.host}/rt/busybox@{digest}"]
    assert f"Status: Image is up to date for {name}" in fresh.ok("pull", name)
    assert digest in fresh.ok("images", "--digests")
    fresh.ok("rmi", name)       # untags the repo digest too, as Docker does
    by_digest = fresh.ok("pull", f"{registry.host}/rt/busybox@{digest}")
    assert f"Status: Downloaded newer image for {registry.host}/rt/busybox@{digest}" in by_digest
    assert fresh.ok("run", "--rm", f"{registry.host}/rt/busybox@{digest}", "echo", "hi") == "hi\n"
    store_is_clean(fresh)


def test_docker_cli_pull_and_push(daemon: Daemon, registry: Registry, fresh: Daemon) -> None:
    name = f"{registry.host}/dockercli/busybox:latest"
    daemon.ok("tag", "busybox", name)
    pushed = daemon.docker("push", name)
    assert pushed.returncode == 0, pushed.stderr
    assert "latest: digest: sha256:" in pushed.stdout
    result = fresh.docker("pull", name)
    assert result.returncode == 0, result.stderr
    assert "latest: Pulling from dockercli/busybox" in result.stdout
    assert "Pull complete" in result.stdout
    assert "Digest: sha256:" in result.stdout
    assert f"Status: Downloaded newer image for {name}" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == name
    ran = fresh.docker("run", "--rm", name, "echo", "ok")
    assert ran.stdout == "ok\n", ran.stderr


def test_docker_py_pull_and_push(daemon: Daemon, registry: Registry, fresh: Daemon) -> None:
    docker = pytest.importorskip("docker")
    repo = f"{registry.host}/dockerpy/busybox"
    pusher = docker.DockerClient(base_url=daemon.host, version="1.45", timeout=60)
    puller = docker.DockerClient(base_url=fresh.host, version="1.45", timeout=60)
    try:
        pusher.images.get("busybox").tag(repo, "v1")
        lines = list(pusher.images.push(repo, "v1", stream=True, decode=True))
        aux = [line["aux"] for line in lines if "aux" in line]
        assert aux and aux[0]["Tag"] == "v1" and aux[0]["Digest"].startswith("sha256:")
        image = puller.images.pull(repo, tag="v1")
        assert f"{repo}:v1" in image.tags
        assert image.attrs["RepoDigests"] == [f"{repo}@{aux[0]['Digest']}"]
    finally:
        pusher.close()
        puller.close()


def test_pull_all_tags(daemon: Daemon, registry: Registry, fresh: Daemon) -> None:
    for tag in ("a", "b"):
        daemon.ok("tag", "busybox", f"{registry.host}/alltags:{tag}")
    daemon.ok("push", "-a", f"{registry.host}/alltags")
    out = fresh.ok("pull", "-a", f"{registry.host}/alltags")
    assert "a: Pulling from alltags" in out and "b: Pulling from alltags" in out
    tags = fresh.ok("images", "--format", "{{.Tag}}", f"{registry.host}/alltags").split()
    assert sorted(tags) == ["a", "b"]


def test_run_pulls_a_missing_image(daemon: Daemon, registry: Registry, fresh: Daemon) -> None:
    name = f"{registry.host}/runpull/busybox"
    daemon.ok("tag", "busybox", name)
    daemon.ok("push", name)
    result = fresh.cli("run", "--rm", name, "echo", "pulled")
    assert result.returncode == 0, result.stderr
    assert f"Unable to find image '{name}:latest' locally" in result.stderr
    assert "Pull complete" in result.stderr
    assert result.stdout == "pulled\n"


# --- errors ---------------------------------------------------------------------------------

def test_missing_tag_and_repository_are_404_with_dockers_text(registry: Registry,
                                                              fresh: Daemon) -> None:
    result = fresh.cli("pull", f"{registry.host}/nope")
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Error response from daemon: manifest for "
                                     f"{registry.host}/nope:latest not found: manifest "
                                     "unknown: manifest unknown")
    docker = fresh.docker("pull", f"{registry.host}/nope:v9")
    assert f"manifest for {registry.host}/nope:v9 not found" in docker.stderr
    req = urllib.request.Request(
        "http://localhost/v1.45/images/create?fromImage=" + f"{registry.host}/nope&tag=x",
        method="POST")
    status = _unix_status(fresh.sock, req)
    assert status == 404


def _unix_status(sock_path: str, req: urllib.request.Request) -> int:
    import http.client

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(sock_path)

    conn = Conn("localhost")
    conn.request(req.get_method(), req.selector)
    status = conn.getresponse().status
    conn.close()
    return status


def test_push_of_a_missing_image(daemon: Daemon, registry: Registry) -> None:
    result = daemon.cli("push", f"{registry.host}/absent/thing:1")
    assert result.returncode == 1
    assert result.stderr.strip() == ("Error response from daemon: An image does not exist "
                                     f"locally with the tag: {registry.host}/absent/thing")


def test_unreachable_registry(fresh: Daemon) -> None:
    from registry import free_port
    result = fresh.cli("pull", f"127.0.0.1:{free_port()}/x")
    assert result.returncode == 1
    assert "connection refused" in result.stderr.lower()


def test_corrupted_blob_is_refused(busybox_tar: str, registry: Registry, fresh: Daemon) -> None:
    payload = os.urandom(256 * 1024)
    layer = tar_of({"payload.bin": payload})
    push_image(registry, "corrupt", "v1", [busybox_layer(busybox_tar),
                                           (layer, gzip.compress(layer, mtime=0),
                                            "application/vnd.oci.image.layer.v1.tar+gzip")])
    digest = "sha256:" + hashlib.sha256(gzip.compress(layer, mtime=0)).hexdigest()
    path = blob_file(registry, digest)
    with open(path, "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 64)
    result = fresh.cli("pull", f"{registry.host}/corrupt:v1")
    assert result.returncode == 1
    assert f"filesystem layer verification failed for digest {digest}" in result.stderr
    assert fresh.ok("images", "-q") == ""
    store_is_clean(fresh)
    # nothing of the bad layer was kept
    layer_dirs = [n for n in os.listdir(os.path.join(fresh.root, "overlay"))
                  if len(n) == 64]
    assert len(layer_dirs) <= 1       # at most busybox's, complete


# --- formats --------------------------------------------------------------------------------

def test_zstd_and_uncompressed_layers(busybox_tar: str, registry: Registry,
                                      fresh: Daemon) -> None:
    import zstandard

    extra = tar_of({"zstd.txt": b"from a zstd layer\n"})
    with open(busybox_tar, "rb") as f:
        base = f.read()
    push_image(registry, "formats", "v1", [
        (base, base, "application/vnd.oci.image.layer.v1.tar"),
        (extra, zstandard.ZstdCompressor().compress(extra),
         "application/vnd.oci.image.layer.v1.tar+zstd")])
    fresh.ok("pull", f"{registry.host}/formats:v1")
    out = fresh.ok("run", "--rm", f"{registry.host}/formats:v1", "cat", "/zstd.txt")
    assert out == "from a zstd layer\n"


def test_multi_arch_index_selects_the_platform(busybox_tar: str, registry: Registry,
                                               fresh: Daemon) -> None:
    entries = []
    for arch, variant in ((HOST_ARCH, None), ("arm64" if HOST_ARCH != "arm64" else "amd64",
                                              None), ("arm", "v7")):
        marker = tar_of({"arch.txt": f"{arch}{variant or ''}\n".encode()})
        digest, size = push_image(registry, "multi", f"only-{arch}{variant or ''}", [
            busybox_layer(busybox_tar),
            (marker, gzip.compress(marker, mtime=0),
             "application/vnd.oci.image.layer.v1.tar+gzip")], arch=arch)
        platform = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
                        "platform": platform})
    index_digest, _ = put_manifest(registry, "multi", "latest", {
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    name = f"{registry.host}/multi:latest"
    out = fresh.ok("pull", name)
    assert f"Digest: {index_digest}" in out
    assert fresh.ok("run", "--rm", name, "cat", "/arch.txt") == f"{HOST_ARCH}\n"
    other = entries[1]["platform"]["architecture"]
    fresh.ok("pull", "--platform", f"linux/{other}", name)
    assert inspect(fresh, name)["Architecture"] == other
    fresh.ok("pull", "--platform", "linux/arm/v7", name)
    assert inspect(fresh, name)["Architecture"] == "arm"
    result = fresh.cli("pull", "--platform", "linux/s390x", name)
    assert result.returncode == 1
    assert "no matching manifest for linux/s390x in the manifest list entries" in result.stderr
    lone = f"{registry.host}/multi:only-{HOST_ARCH}"
    result = fresh.cli("pull", "--platform", "linux/s390x", lone)
    assert result.returncode == 1
    assert (f"image with reference {lone} was found but does not match the specified "
            f"platform: wanted linux/s390x, actual: linux/{HOST_ARCH}") in result.stderr
    dist = json.loads(_unix_get(fresh.sock, f"/v1.45/distribution/{name}/json"))
    assert dist["Descriptor"]["digest"] == index_digest
    assert dist["Descriptor"]["mediaType"] == OCI_INDEX
    assert {p["architecture"] for p in dist["Platforms"]} == {HOST_ARCH, other, "arm"}
    listed = json.loads(fresh.ok("manifest", "inspect", name))
    assert listed["mediaType"] == OCI_INDEX and len(listed["manifests"]) == 3
    verbose = json.loads(fresh.ok("manifest", "inspect", "-v", name))
    assert [v["Descriptor"]["platform"]["architecture"] for v in verbose] == \
        [HOST_ARCH, other, "arm"]


def _unix_get(sock_path: str, path: str) -> bytes:
    import http.client

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(sock_path)

    conn = Conn("localhost")
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status == 200, body
    return body


# --- interoperability with skopeo -----------------------------------------------------------

def test_skopeo_reads_what_we_push_and_we_pull_what_it_pushes(
        daemon: Daemon, registry: Registry, fresh: Daemon, tmp_path: Any) -> None:
    name = f"{registry.host}/interop/busybox:latest"
    daemon.ok("tag", "busybox", name)
    digest = daemon.ok("push", name).strip().splitlines()[-1].split("digest: ")[1].split()[0]
    info = json.loads(subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{name}"], check=True,
        capture_output=True, text=True).stdout)
    assert info["Digest"] == digest
    layout = tmp_path / "oci"
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{name}",
                    f"oci:{layout}:latest"], check=True, capture_output=True)
    assert (layout / "index.json").exists()
    # and back: an OCI layout made from `dockyard save` output, copied in by skopeo
    archive = tmp_path / "saved.tar"
    with open(archive, "wb") as f:
        subprocess.run([*_cli(daemon), "save", "busybox"], stdout=f, check=True,
                       env=daemon.env())
    subprocess.run(["skopeo", "copy", f"docker-archive:{archive}", f"oci:{tmp_path}/o2:x"],
                   check=True, capture_output=True)
    target = f"{registry.host}/fromskopeo:x"
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{tmp_path}/o2:x",
                    f"docker://{target}"], check=True, capture_output=True)
    fresh.ok("pull", target)
    assert fresh.ok("run", "--rm", target, "echo", "skopeo") == "skopeo\n"


def _cli(d: Daemon) -> list[str]:
    import sys
    return [sys.executable, "-m", "dockyard.cli"]


# --- mirrors and registry settings ----------------------------------------------------------

def test_registry_mirror_serves_docker_hub_names(daemon: Daemon, busybox_tar: str) -> None:
    mirror = Registry().start()
    d = Daemon(__import__("tempfile").mkdtemp(prefix="dy-", dir="/tmp"))
    try:
        daemon.ok("tag", "busybox", f"{mirror.host}/library/mirrored:latest")
        daemon.ok("push", f"{mirror.host}/library/mirrored:latest")
        d.write_config({"registry-mirrors": [mirror.url],
                        "insecure-registries": ["10.9.0.0/16", "myregistry:5000"]})
        d.start()
        info = json.loads(d.ok("info", "--format", "{{json .RegistryConfig}}"))
        assert info["Mirrors"] == [mirror.url]
        assert "127.0.0.0/8" in info["InsecureRegistryCIDRs"]
        assert "10.9.0.0/16" in info["InsecureRegistryCIDRs"]
        assert info["IndexConfigs"]["myregistry:5000"]["Secure"] is False
        out = d.ok("pull", "mirrored")
        assert "latest: Pulling from library/mirrored" in out
        assert "Status: Downloaded newer image for mirrored:latest" in out
        assert out.strip().splitlines()[-1] == "docker.io/library/mirrored:latest"
        assert d.ok("run", "--rm", "mirrored", "echo", "mirror") == "mirror\n"
        # the tag list of `pull -a` and /distribution/{name}/json ask the mirror too
        assert "Status: Image is up to date for mirrored" in d.ok("pull", "-a", "mirrored")
        import docker
        client = docker.APIClient(base_url=d.host, version="1.45")
        try:
            found = client.inspect_distribution("mirrored")
        finally:
            client.close()
        assert found["Descriptor"]["digest"].startswith("sha256:")
        assert found["Platforms"][0]["os"] == "linux"
        assert "Status: Image is up to date for mirrored" in d.ok("pull", "-a", "mirrored")
    finally:
        d.cleanup()
        mirror.stop()


# --- crash safety ---------------------------------------------------------------------------

class SlowProxy:
    """A TCP proxy on 127.0.0.1 that passes the upstream's answers at a limited rate."""

    def __init__(self, upstream_port: int, rate: int) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, self.rate),
                             daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, rate: int) -> None:
        try:
            while True:
                data = src.recv(16384)
                if not data:
                    break
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        self.server.close()


def test_pull_killed_halfway_leaves_a_consistent_store(busybox_tar: str, registry: Registry,
                                                       fresh: Daemon) -> None:
    big = tar_of({"big.bin": os.urandom(12 << 20)})
    push_image(registry, "bigpull", "v1", [busybox_layer(busybox_tar),
                                           (big, big, "application/vnd.oci.image.layer.v1.tar")])
    proxy = SlowProxy(registry.port, 3 << 20)
    name = f"127.0.0.1:{proxy.port}/bigpull:v1"
    try:
        import sys
        proc = subprocess.Popen([sys.executable, "-m", "dockyard.cli", "pull", name],
                                env=fresh.env(), stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Downloading" in line or "Download complete" in line:
                break
        time.sleep(1)
        fresh.kill9()
        proc.wait(30)
        fresh.start()
        assert fresh.ok("images", "-q") == ""
        store_is_clean(fresh)
        out = fresh.ok("pull", name, timeout=120)
        assert f"Status: Downloaded newer image for {name}" in out
        assert fresh.ok("run", "--rm", name, "ls", "-l", "/big.bin").split()[4] == str(12 << 20)
    finally:
        proxy.close()


# --- with registry authentication (distribution/auth.py) ------------------------------------

def test_push_and_pull_through_a_token_registry(daemon: Daemon, fresh: Daemon,
                                                tmp_path: Any) -> None:
    from tokenserver import TokenServer

    os.makedirs(tmp_path / "tokens")
    server = TokenServer(str(tmp_path / "tokens")).start()
    reg = Registry(auth=server.registry_auth())
    try:
        reg.start()
        config = str(tmp_path / "dockercfg")
        env = {**daemon.env(), "DOCKER_CONFIG": config}
        login = subprocess.run([*_cli(daemon), "login", "-u", "alice", "--password-stdin",
                                reg.host], input="s3cret", capture_output=True, text=True,
                               env=env, timeout=60)
        assert login.returncode == 0, login.stderr
        private = f"{reg.host}/alice/box:1"
        public = f"{reg.host}/public/box:1"
        for name in (private, public):
            daemon.ok("tag", "busybox", name)
            pushed = subprocess.run([*_cli(daemon), "push", name], capture_output=True,
                                    text=True, env=env, timeout=60)
            assert pushed.returncode == 0, pushed.stderr
        assert "Mounted from alice/box" in pushed.stdout
        anonymous = fresh.cli("pull", private)      # fresh has no credentials
        assert anonymous.returncode == 1
        assert anonymous.stderr.strip() == (
            f"Error response from daemon: pull access denied for {reg.host}/alice/box, "
            "repository does not exist or may require 'docker login': denied: requested "
            "access to the resource is denied")
        out = fresh.ok("pull", public)
        assert f"Status: Downloaded newer image for {public}" in out
    finally:
        reg.stop()
        server.stop()


def test_manifest_inspect_and_bootstrap(daemon: Daemon, registry: Registry) -> None:
    daemon.ok("image", "bootstrap", "--distro", "busybox", "boot/busybox:1")
    assert daemon.ok("run", "--rm", "boot/busybox:1", "echo", "booted") == "booted\n"
    name = f"{registry.host}/manifest/busybox:1"
    daemon.ok("tag", "boot/busybox:1", name)
    digest = daemon.ok("push", name).strip().splitlines()[-1].split("digest: ")[1].split()[0]
    doc = json.loads(daemon.ok("manifest", "inspect", name))
    assert doc["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert doc["config"]["digest"] == inspect(daemon, name)["Id"]
    verbose = json.loads(daemon.ok("manifest", "inspect", "-v", name))
    assert verbose["Descriptor"]["digest"] == digest
    assert verbose["Descriptor"]["platform"]["os"] == "linux"
    assert verbose["SchemaV2Manifest"] == doc
    missing = daemon.cli("manifest", "inspect", f"{registry.host}/manifest/none:1")
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"no such manifest: {registry.host}/manifest/none:1"
