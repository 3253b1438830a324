"""Volume plugins: the client side of Docker's plugin protocol (v1, JSON over HTTP POST).

A driver name other than `local` is a plugin found as `<dir>/<name>.sock` (a unix socket)
or `<dir>/<name>.spec` (a `unix://` address) in the plugin directories (Docker's
/run/docker/plugins, /etc/docker/plugins, /usr/lib/docker/plugins; daemon.json
`plugin-dirs`, dockyard's own key, replaces them, so tests never touch the real ones). It is
activated once (`Plugin.Activate` must list `VolumeDriver`), then each volume operation is a
`VolumeDriver.*` call whose answer's `Err` becomes the error."""
from __future__ import annotations

import http.client
import json
import os
import socket
import threading
from typing import Any

from ...errors import DockyardError, NotFound

DEFAULT_DIRS = ("/run/docker/plugins", "/etc/docker/plugins", "/usr/lib/docker/plugins")
MIME = "application/vnd.docker.plugins.v1.2+json"
TIMEOUT = 30.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("plugin", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class VolumePlugin:
    """One activated volume driver plugin."""

    def __init__(self, name: str, address: str) -> None:
        self.name = name
        self.address = address
        self._scope: str | None = None

    def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        conn = _UnixConnection(self.address, TIMEOUT)
        try:
            conn.request("POST", f"/{method}", json.dumps(body).encode(),
                         {"Accept": MIME, "Content-Type": MIME})
            response = conn.getresponse()
            raw = response.read()
        except OSError as exc:
            raise DockyardError(f"{method}: plugin {self.name}: {exc}") from None
        finally:
            conn.close()
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = {"Err": raw.decode(errors="replace").strip()}
        if not isinstance(answer, dict):
            answer = {}
        if answer.get("Err") or response.status >= 400:
            raise DockyardError(f"{method}: {answer.get('Err') or response.reason}")
        return answer

    def activate(self) -> list[str]:
        return list(self.call("Plugin.Activate", {}).get("Implements") or [])

    def create(self, name: str, options: dict[str, str]) -> None:
        self.call("VolumeDriver.Create", {"Name": name, "Opts": options})

    def remove(self, name: str) -> None:
        self.call("VolumeDriver.Remove", {"Name": name})

    def mount(self, name: str, container: str) -> str:
        return str(self.call("VolumeDriver.Mount", {"Name": name, "ID": container})
                   .get("Mountpoint") or "")

    def unmount(self, name: str, container: str) -> None:
        self.call("VolumeDriver.Unmount", {"Name": name, "ID": container})

    def path(self, name: str) -> str:
        return str(self.call("VolumeDriver.Path", {"Name": name}).get("Mountpoint") or "")

    def get(self, name: str) -> dict[str, Any]:
        return dict(self.call("VolumeDriver.Get", {"Name": name}).get("Volume") or {})

    def list(self) -> list[dict[str, Any]]:
        return list(self.call("VolumeDriver.List", {}).get("Volumes") or [])

    def scope(self) -> str:
        """`local` or `global`, from VolumeDriver.Capabilities (asked once)."""
        if self._scope is None:
            try:
                caps = self.call("VolumeDriver.Capabilities", {}).get("Capabilities") or {}
            except DockyardError:       # old plugins lack the call: local, as Docker
                caps = {}
            self._scope = "global" if caps.get("Scope") == "global" else "local"
        return self._scope


class Registry:
    """The plugins by name, activated on first use."""

    def __init__(self, dirs: list[str] | tuple[str, ...] = DEFAULT_DIRS) -> None:
        self.dirs = list(dirs)
        self._plugins: dict[str, VolumePlugin] = {}
        self._lock = threading.Lock()

    def _address(self, name: str) -> str | None:
        for directory in self.dirs:
            sock = os.path.join(directory, f"{name}.sock")
            if os.path.exists(sock):
                return sock
            for ext in ("spec", "json"):
                spec = os.path.join(directory, f"{name}.{ext}")
                if os.path.exists(spec):
                    return _spec_address(spec)
        return None

    def get(self, name: str) -> VolumePlugin:
        with self._lock:
            plugin = self._plugins.get(name)
            if plugin is not None and os.path.exists(plugin.address):
                return plugin
            address = self._address(name) if "/" not in name and name else None
            if address is None:
                raise NotFound(f'error looking up volume plugin {name}: plugin "{name}" not '
                               "found")
            plugin = VolumePlugin(name, address)
            if "VolumeDriver" not in plugin.activate():
                raise NotFound(f'error looking up volume plugin {name}: plugin "{name}" '
                               "does not implement VolumeDriver")
            self._plugins[name] = plugin
            return plugin

    def active(self) -> list[str]:
        return sorted(self._plugins)


def _spec_address(path: str) -> str | None:
    """A .spec file holds a URL; a .json file {"Addr": URL}. Only unix:// is served."""
    try:
        with open(path) as f:
            text = f.read().strip()
        if path.endswith(".json"):
            text = str(json.loads(text).get("Addr") or "")
    except (OSError, ValueError, AttributeError):
        return None
    return text[len("unix://"):] if text.startswith("unix://") else None
