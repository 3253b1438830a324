"""A tiny volume plugin for the tests: Docker's plugin protocol on a unix socket.

    python3 volumeplugin.py SOCKET DATA_DIR LOG

Each volume is a directory DATA_DIR/<name>; Mount answers it as the Mountpoint and counts
the container IDs using it; every call is appended to LOG as one JSON line
{"method": ..., "body": ...}, so a test can check what the daemon asked and in what order.
A volume created with the option fail=mount refuses to mount (an Err the daemon must pass
on)."""
from __future__ import annotations

import http.server
import json
import os
import shutil
import socketserver
import sys

SOCKET, DATA, LOG = sys.argv[1:4]
volumes: dict[str, dict] = {}       # name -> {"opts": {...}, "users": set()}


def _answer(method: str, body: dict) -> dict:
    name = body.get("Name", "")
    if method == "Plugin.Activate":
        return {"Implements": ["VolumeDriver"]}
    if method == "VolumeDriver.Capabilities":
        return {"Capabilities": {"Scope": "global"}}
    if method == "VolumeDriver.List":
        return {"Volumes": [{"Name": n, "Mountpoint": os.path.join(DATA, n)} for n in volumes]}
    if method == "VolumeDriver.Create":
        os.makedirs(os.path.join(DATA, name), exist_ok=True)
        volumes[name] = {"opts": body.get("Opts") or {}, "users": set()}
        return {"Err": ""}
    if name not in volumes:
        return {"Err": f"no such volume {name}"}
    volume = volumes[name]
    path = os.path.join(DATA, name)
    if method == "VolumeDriver.Remove":
        if volume["users"]:
            return {"Err": f"{name} is mounted"}
        shutil.rmtree(path, ignore_errors=True)
        del volumes[name]
        return {"Err": ""}
    if method == "VolumeDriver.Mount":
        if volume["opts"].get("fail") == "mount":
            return {"Err": "refusing to mount"}
        volume["users"].add(body.get("ID"))
        return {"Mountpoint": path, "Err": ""}
    if method == "VolumeDriver.Unmount":
        volume["users"].discard(body.get("ID"))
        return {"Err": ""}
    if method == "VolumeDriver.Path":
        return {"Mountpoint": path, "Err": ""}
    if method == "VolumeDriver.Get":
        return {"Volume": {"Name": name, "Mountpoint": path,
                           "Status": {"users": len(volume["users"])}}, "Err": ""}
    return {"Err": f"unknown method {method}"}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        method = self.path.lstrip("/")
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": method, "body": body}) + "\n")
        data = json.dumps(_answer(method, body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.docker.plugins.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        return "plugin-client"

    def log_message(self, *args: object) -> None:
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if __name__ == "__main__":
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    with Server(SOCKET, Handler) as server:
        server.serve_forever()
