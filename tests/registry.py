"""A real registry for the tests: Debian's `docker-registry` (the CNCF distribution registry)
listening on 127.0.0.1 with its own storage, optionally behind htpasswd basic auth or extra
`auth:` configuration (e.g. a token server)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_registry() -> None:
    if not os.path.exists(REGISTRY_BIN):
        pytest.skip("SKIPPED LOUDLY: docker-registry missing: apt-get install docker-registry")


class Registry:
    """One registry process. `users` turns on htpasswd basic auth; `auth` replaces the whole
    `auth:` section (a dict in the registry's config schema, written as JSON, which YAML reads)."""

    def __init__(self, users: dict[str, str] | None = None,
                 auth: dict[str, Any] | None = None) -> None:
        require_registry()
        self.base = tempfile.mkdtemp(prefix="dy-reg-", dir="/tmp")
        self._use_port(free_port())
        self.log_file = os.path.join(self.base, "registry.log")
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": os.path.join(self.base, "data")},
                        "delete": {"enabled": True}},
            "http": {"secret": "dockyard-tests"},
        }
        if users:
            config["auth"] = {"htpasswd": {"realm": "basic-realm",
                                           "path": self._htpasswd(users)}}
        if auth:
            config["auth"] = auth
        self.config = config
        self.config_file = os.path.join(self.base, "config.yml")
        self.proc: subprocess.Popen[bytes] | None = None

    def _use_port(self, port: int) -> None:
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.url = f"http://{self.host}"

    def _htpasswd(self, users: dict[str, str]) -> str:
        path = os.path.join(self.base, "htpasswd")
        lines = []
        for user, password in users.items():
            out = subprocess.run(["htpasswd", "-Bbn", user, password], check=True,
                                 capture_output=True, text=True).stdout
            lines.append(out.strip())
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self) -> "Registry":
        """Start it; if another process took the chosen port meanwhile, take another one
        (the probe below must never be answered by somebody else's server)."""
        for _ in range(5):
            if self._start_once():
                return self
            self._use_port(free_port())
        raise RuntimeError(f"registry found no free port:\n{self.logs()}")

    def _start_once(self) -> bool:
        self.config["http"]["addr"] = self.host
        with open(self.config_file, "w") as f:
            json.dump(self.config, f)
        log = open(self.log_file, "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config_file], stdout=log,
                                     stderr=log, start_new_session=True)
        log.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if "address already in use" in self.logs():
                    return False
                raise RuntimeError(f"registry exited:\n{self.logs()}")
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=1)
            except urllib.error.HTTPError:
                pass                 # 401: up, and asking for credentials
            except OSError:
                time.sleep(0.05)
                continue
            time.sleep(0.1)          # a failed bind ends the process at once
            if self.proc.poll() is None:
                return True
        raise RuntimeError(f"registry did not come up:\n{self.logs()}")

    def logs(self) -> str:
        try:
            with open(self.log_file) as f:
                return f.read()[-5000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.base, ignore_errors=True)
