"""The API on TCP with TLS: mutual TLS (--tlsverify) through the docker CLI, our CLI and
docker-py, refused clients (no certificate, another CA's certificate, plain HTTP), the
daemon's certificate checked by the client, TLS without client verification, and the
daemon's refusal of unusable certificate files. Certificates come from a CA the tests make
with openssl; all traffic is on 127.0.0.1."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from typing import Iterator

import pytest

from conftest import Daemon

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="SKIPPED LOUDLY: openssl missing (apt-get install openssl)")


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(directory: str, name: str) -> None:
    os.makedirs(directory, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out",
             "ca.pem", "-days", "2", "-subj", f"/CN={name}", cwd=directory)


def _signed(ca_dir: str, prefix: str, subject: str, extensions: str) -> None:
    """<prefix>cert.pem and <prefix>key.pem in ca_dir, signed by the CA there."""
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{prefix}key.pem", "-out",
             f"{prefix}req.csr", "-subj", f"/CN={subject}", cwd=ca_dir)
    with open(os.path.join(ca_dir, f"{prefix}ext.cnf"), "w") as f:
        f.write(extensions)
    _openssl("x509", "-req", "-in", f"{prefix}req.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
             "-CAcreateserial", "-out", f"{prefix}cert.pem", "-days", "2", "-extfile",
             f"{prefix}ext.cnf", cwd=ca_dir)


class Certs:
    """server/{ca,cert,key}.pem for the daemon, client/ and rogue/ for clients: rogue's
    certificate and CA come from another CA."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.server, self.client, self.rogue = (os.path.join(base, n)
                                                for n in ("server", "client", "rogue"))
        _ca(os.path.join(base, "ca"), "dockyard test CA")
        _signed(os.path.join(base, "ca"), "server-", "localhost",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        _signed(os.path.join(base, "ca"), "client-", "client", "extendedKeyUsage=clientAuth\n")
        _ca(os.path.join(base, "other"), "another CA")
        _signed(os.path.join(base, "other"), "client-", "rogue", "extendedKeyUsage=clientAuth\n")
        for target, source, prefix in ((self.server, "ca", "server-"),
                                       (self.client, "ca", "client-"),
                                       (self.rogue, "other", "client-")):
            os.makedirs(target)
            shutil.copy(os.path.join(base, source, "ca.pem"), os.path.join(target, "ca.pem"))
            for name in ("cert.pem", "key.pem"):
                shutil.copy(os.path.join(base, source, prefix + name), os.path.join(target, name))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certs() -> Iterator[Certs]:
    base = tempfile.mkdtemp(prefix="dy-tls-")
    try:
        yield Certs(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


class TLSDaemon:
    def __init__(self, daemon: Daemon, port: int, certs: Certs) -> None:
        self.daemon, self.port, self.certs = daemon, port, certs
        self.host = f"tcp://127.0.0.1:{port}"

    def env(self, cert_dir: str | None = None, verify: bool = True) -> dict[str, str]:
        """A client environment for this daemon's TCP port: with `cert_dir`, the docker
        CLI's DOCKER_CERT_PATH (and DOCKER_TLS_VERIFY when `verify`)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKYARD_HOST")}
        env.update({"DOCKER_HOST": self.host,
                    "DOCKER_CONFIG": os.path.join(self.daemon.base, "dockercfg")})
        if cert_dir:
            env["DOCKER_CERT_PATH"] = cert_dir
            if verify:
                env["DOCKER_TLS_VERIFY"] = "1"
        return env

    def docker(self, *args: str, env: dict[str, str], input: str | None = None
               ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                              input=input, timeout=60)

    def ours(self, *args: str, env: dict[str, str], input: str | None = None
             ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dockyard.cli", *args], env=env,
                              capture_output=True, text=True, input=input, timeout=60)


def _tls_daemon(busybox_tar: str, certs: Certs, verify: bool) -> Iterator[TLSDaemon]:
    """A daemon on its unix socket and on a TLS port; the TLS settings come from daemon.json
    with --tlsverify, from flags without it (both ways are dockerd's)."""
    port = _free_port()
    program = [sys.executable, "-m", "dockyard.daemon", "-H", f"tcp://127.0.0.1:{port}"]
    config: dict[str, object] = {}
    if verify:
        config = {"tlsverify": True, "tlscacert": os.path.join(certs.server, "ca.pem"),
                  "tlscert": os.path.join(certs.server, "cert.pem"),
                  "tlskey": os.path.join(certs.server, "key.pem")}
    else:
        program += ["--tls", "--tlscert", os.path.join(certs.server, "cert.pem"),
                    "--tlskey", os.path.join(certs.server, "key.pem")]
    base = tempfile.mkdtemp(prefix="dy-", dir="/tmp")
    daemon = Daemon(base)
    daemon.program = program
    daemon.write_config(config)
    try:
        daemon.start()
        daemon.ok("import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest")
        yield TLSDaemon(daemon, port, certs)
    finally:
        daemon.cleanup()


@pytest.fixture(scope="module")
def mtls(busybox_tar: str, certs: Certs) -> Iterator[TLSDaemon]:
    yield from _tls_daemon(busybox_tar, certs, verify=True)


def test_docker_cli_over_mutual_tls(mtls: TLSDaemon) -> None:
    env = mtls.env(mtls.certs.client)
    version = mtls.docker("version", "--format", "{{.Server.Version}}", env=env)
    assert version.returncode == 0 and version.stdout.strip(), version.stderr
    run = mtls.docker("run", "--rm", "busybox", "echo", "over tls", env=env)
    assert (run.returncode, run.stdout) == (0, "over tls\n"), run.stderr
    # stdin ends with a close_notify (the CLI's CloseWrite); the output must still arrive
    piped = mtls.docker("run", "-i", "--rm", "busybox", "cat", env=env, input="piped in\n")
    assert (piped.returncode, piped.stdout) == (0, "piped in\n"), piped.stderr
    failed = mtls.docker("run", "--rm", "busybox", "sh", "-c", "echo err >&2; exit 3", env=env)
    assert (failed.returncode, failed.stderr) == (3, "err\n")


def test_our_cli_over_mutual_tls(mtls: TLSDaemon) -> None:
    client = mtls.certs.client
    flags = ["-H", mtls.host, "--tlsverify", "--tlscacert", f"{client}/ca.pem",
             "--tlscert", f"{client}/cert.pem", "--tlskey", f"{client}/key.pem"]
    plain_env = mtls.env()
    run = mtls.ours(*flags, "run", "--rm", "busybox", "echo", "ours", env=plain_env)
    assert (run.returncode, run.stdout) == (0, "ours\n"), run.stderr
    env = mtls.env(client)           # DOCKER_TLS_VERIFY and DOCKER_CERT_PATH instead
    piped = mtls.ours("run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done",
                      env=env, input="line one\nline two\n")
    assert (piped.returncode, piped.stdout) == (0, "line one\nline two\ndone\n"), piped.stderr
    listed = mtls.ours("images", "--format", "{{.Repository}}", env=env)
    assert listed.returncode == 0 and "busybox" in listed.stdout.split()


def test_dockerpy_over_mutual_tls(mtls: TLSDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    import docker

    # requests prefers a CA bundle named in the environment over the client's own CA
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    client_dir = mtls.certs.client
    tls = docker.tls.TLSConfig(client_cert=(f"{client_dir}/cert.pem", f"{client_dir}/key.pem"),
                               ca_cert=f"{client_dir}/ca.pem", verify=True)
    client = docker.DockerClient(base_url=f"https://127.0.0.1:{mtls.port}", tls=tls)
    try:
        assert client.containers.run("busybox", ["echo", "py"], remove=True) == b"py\n"
        # the environment docker-py's CI uses for its TLS variant
        from_env = docker.from_env(environment=mtls.env(client_dir))
        assert from_env.version()["ApiVersion"] == client.version()["ApiVersion"]
        from_env.close()
        box = client.containers.run("busybox", ["sh", "-c", "echo a; sleep 0.2; echo b"],
                                    detach=True)
        try:
            assert b"".join(box.logs(stream=True, follow=True)) == b"a\nb\n"
        finally:
            box.remove(force=True)
    finally:
        client.close()


def test_client_without_a_valid_certificate_is_refused(mtls: TLSDaemon) -> None:
    certs = mtls.certs
    only_ca = tempfile.mkdtemp(prefix="dy-tls-ca-")
    try:
        shutil.copy(os.path.join(certs.client, "ca.pem"), only_ca)
        for cert_dir in (only_ca, certs.rogue):
            docker_cli = mtls.docker("version", env=mtls.env(cert_dir))
            assert docker_cli.returncode != 0
            assert "tls" in docker_cli.stderr and "error during connect" in docker_cli.stderr
            ours = mtls.ours("version", env=mtls.env(cert_dir))
            assert ours.returncode != 0 and "error during connect" in ours.stderr, ours.stderr
    finally:
        shutil.rmtree(only_ca, ignore_errors=True)
    assert mtls.daemon.cli("version").returncode == 0       # refusals cost the daemon nothing


def test_daemon_certificate_is_checked_by_clients(mtls: TLSDaemon) -> None:
    rogue = mtls.certs.rogue
    flags = ["--tlsverify", "--tlscacert", f"{rogue}/ca.pem", "--tlscert",
             f"{mtls.certs.client}/cert.pem", "--tlskey", f"{mtls.certs.client}/key.pem"]
    ours = mtls.ours(*flags, "version", env=mtls.env())
    assert ours.returncode != 0
    assert "x509: certificate signed by unknown authority" in ours.stderr, ours.stderr
    theirs = mtls.docker(*flags, "version", env=mtls.env())
    assert theirs.returncode != 0 and "x509" in theirs.stderr


def test_plain_http_on_the_tls_port_is_told_so(mtls: TLSDaemon) -> None:
    message = "Client sent an HTTP request to an HTTPS server."
    for result in (mtls.docker("version", env=mtls.env()), mtls.ours("version", env=mtls.env())):
        assert result.returncode != 0 and message in result.stderr, result.stderr
    with socket.create_connection(("127.0.0.1", mtls.port), timeout=10) as sock:
        sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 400 Bad Request") and message.encode() in answer
    # a client that starts a handshake and sends garbage is dropped; the daemon stays up
    with socket.create_connection(("127.0.0.1", mtls.port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05garbage")
        assert sock.recv(4096) is not None
    assert mtls.daemon.cli("version").returncode == 0


@pytest.fixture(scope="module")
def tls_only(busybox_tar: str, certs: Certs) -> Iterator[TLSDaemon]:
    yield from _tls_daemon(busybox_tar, certs, verify=False)


def test_tls_without_client_verification(tls_only: TLSDaemon) -> None:
    """--tls alone: the traffic is encrypted, no client certificate is asked for, and the
    client does not check the daemon's (the docker CLI wants a ca.pem to exist even so:
    another CA's is given; ours needs none)."""
    env = tls_only.env()
    only_ca = tempfile.mkdtemp(prefix="dy-tls-ca-")
    try:
        shutil.copy(os.path.join(tls_only.certs.rogue, "ca.pem"), only_ca)
        docker_cli = tls_only.docker("--tls", "run", "--rm", "busybox", "echo", "enc",
                                     env=tls_only.env(only_ca, verify=False))
    finally:
        shutil.rmtree(only_ca, ignore_errors=True)
    ours = tls_only.ours("--tls", "run", "--rm", "busybox", "echo", "enc", env=env)
    for result in (docker_cli, ours):
        assert (result.returncode, result.stdout) == (0, "enc\n"), result.stderr
    plain = tls_only.docker("version", env=env)
    assert plain.returncode != 0 and "HTTPS server" in plain.stderr


def test_daemon_refuses_unusable_certificates(tmp_path: os.PathLike[str]) -> None:
    base = str(tmp_path)
    common = [sys.executable, "-m", "dockyard.daemon", "-H", f"unix://{base}/d.sock",
              "-H", f"tcp://127.0.0.1:{_free_port()}", "--data-root", f"{base}/root",
              "--pidfile", f"{base}/pid"]
    missing = subprocess.run(common + ["--tlsverify", "--tlscert", f"{base}/nope.pem",
                                       "--tlskey", f"{base}/nope-key.pem"],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0
    assert (f'Could not load X509 key pair (cert: "{base}/nope.pem", key: '
            f'"{base}/nope-key.pem"): open {base}/nope.pem: no such file or directory'
            ) in missing.stderr
    config = os.path.join(base, "daemon.json")
    with open(config, "w") as f:
        f.write('{"tlsverify": true}')
    clash = subprocess.run(common + ["--config-file", config, "--tlsverify"],
                           capture_output=True, text=True, timeout=30)
    assert clash.returncode != 0
    assert "specified both as a flag and in the configuration file: tlsverify" in clash.stderr
    assert not os.path.exists(f"{base}/d.sock")
