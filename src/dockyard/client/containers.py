"""/containers endpoints, as functions over an APIClient."""
from __future__ import annotations

import json
import socket
from typing import Any, BinaryIO, Iterator

from .transport import APIClient, HijackedStream, Response, demux_frames


def create(api: APIClient, body: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return api.post("/containers/create", {"name": name}, json=body)


def start(api: APIClient, cid: str) -> None:
    api.post(f"/containers/{cid}/start")


def stop(api: APIClient, cid: str, timeout: int | None = None,
         signal: str | None = None) -> None:
    api.post(f"/containers/{cid}/stop", {"t": timeout, "signal": signal})


def restart(api: APIClient, cid: str, timeout: int | None = None) -> None:
    api.post(f"/containers/{cid}/restart", {"t": timeout})


def kill(api: APIClient, cid: str, signal: str | None = None) -> None:
    api.post(f"/containers/{cid}/kill", {"signal": signal})


def remove(api: APIClient, cid: str, force: bool = False, volumes: bool = False) -> None:
    api.delete(f"/containers/{cid}", {"force": force, "v": volumes})


def rename(api: APIClient, cid: str, name: str) -> None:
    api.post(f"/containers/{cid}/rename", {"name": name})


def inspect(api: APIClient, cid: str) -> dict[str, Any]:
    return api.get(f"/containers/{cid}/json")


def list_(api: APIClient, all_: bool = False, limit: int | None = None,
          filters: dict[str, list[str]] | None = None, size: bool = False) -> list[dict]:
    return api.get("/containers/json", {"all": all_, "limit": limit, "size": size,
                                        "filters": json.dumps(filters) if filters else None})


def prune(api: APIClient, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return api.post("/containers/prune",
                    {"filters": json.dumps(filters) if filters else None})


def wait(api: APIClient, cid: str, condition: str | None = None) -> dict[str, Any]:
    return api.post(f"/containers/{cid}/wait", {"condition": condition})


def wait_begin(api: APIClient, cid: str, condition: str) -> Response:
    """Register a waiter and return once the daemon acknowledged it (headers received);
    read the result later with wait_result(). Lets `run` wait for an exit that may happen
    right after start."""
    return api.request("POST", f"/containers/{cid}/wait", {"condition": condition})


def wait_result(response: Response) -> dict[str, Any]:
    return json.loads(response.read())


def attach(api: APIClient, cid: str, stdout: bool = True, stderr: bool = True,
           logs: bool = False, stream: bool = True) -> BinaryIO:
    _sock, reader = api.hijack(f"/containers/{cid}/attach",
                               {"stream": stream, "stdout": stdout, "stderr": stderr,
                                "logs": logs})
    return reader  # type: ignore[return-value]


def attach_socket(api: APIClient, cid: str, stdin: bool, detach_keys: str | None = None,
                  logs: bool = False) -> tuple[socket.socket, HijackedStream]:
    """An attach whose socket also carries the client's input (when `stdin`)."""
    return api.hijack(f"/containers/{cid}/attach",
                      {"stream": True, "stdin": stdin, "stdout": True, "stderr": True,
                       "logs": logs, "detachKeys": detach_keys})


def resize(api: APIClient, cid: str, rows: int, cols: int) -> None:
    api.post(f"/containers/{cid}/resize", {"h": rows, "w": cols})


def logs(api: APIClient, cid: str, *, follow: bool = False, timestamps: bool = False,
         tail: str = "all", since: str | None = None, until: str | None = None,
         tty: bool = False) -> Iterator[tuple[int, bytes]]:
    response = api.stream_raw("GET", f"/containers/{cid}/logs",
                              {"stdout": True, "stderr": True, "follow": follow,
                               "timestamps": timestamps, "tail": tail, "since": since,
                               "until": until})
    if tty:
        while chunk := response.read1(65536):
            yield 1, chunk
    else:
        yield from demux_frames(response)  # type: ignore[arg-type]


def exec_create(api: APIClient, cid: str, body: dict[str, Any]) -> str:
    return api.post(f"/containers/{cid}/exec", json=body)["Id"]


def exec_start(api: APIClient, exec_id: str, detach: bool = False, tty: bool = False,
               console_size: tuple[int, int] | None = None
               ) -> tuple[socket.socket, HijackedStream] | None:
    body: dict[str, Any] = {"Detach": detach, "Tty": tty}
    if console_size:
        body["ConsoleSize"] = list(console_size)
    if detach:
        api.post(f"/exec/{exec_id}/start", json=body)
        return None
    return api.hijack(f"/exec/{exec_id}/start", json_body=body)


def exec_resize(api: APIClient, exec_id: str, rows: int, cols: int) -> None:
    api.post(f"/exec/{exec_id}/resize", {"h": rows, "w": cols})


def exec_inspect(api: APIClient, exec_id: str) -> dict[str, Any]:
    return api.get(f"/exec/{exec_id}/json")


def pause(api: APIClient, cid: str) -> None:
    api.post(f"/containers/{cid}/pause")


def unpause(api: APIClient, cid: str) -> None:
    api.post(f"/containers/{cid}/unpause")


def top(api: APIClient, cid: str, ps_args: str | None = None) -> dict[str, Any]:
    return api.get(f"/containers/{cid}/top", {"ps_args": ps_args})


def changes(api: APIClient, cid: str) -> list[dict[str, Any]] | None:
    return api.get(f"/containers/{cid}/changes")


def export(api: APIClient, cid: str) -> Response:
    return api.stream_raw("GET", f"/containers/{cid}/export")


def update(api: APIClient, cid: str, body: dict[str, Any]) -> dict[str, Any]:
    return api.post(f"/containers/{cid}/update", json=body)
