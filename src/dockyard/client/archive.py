"""/containers/{id}/archive over an APIClient: stat (HEAD), get (GET), put (PUT)."""
from __future__ import annotations

import base64
import json
from typing import Any, BinaryIO

from .transport import APIClient, Response

_STAT_HEADER = "X-Docker-Container-Path-Stat"


def _decode_stat(response: Response) -> dict[str, Any]:
    raw = response.getheader(_STAT_HEADER) or ""
    return json.loads(base64.b64decode(raw)) if raw else {}


def stat_path(api: APIClient, cid: str, path: str) -> dict[str, Any]:
    response = api.request("HEAD", f"/containers/{cid}/archive", {"path": path})
    response.read()
    return _decode_stat(response)


def get_archive(api: APIClient, cid: str, path: str
                ) -> tuple[Response, dict[str, Any]]:
    """The open response (a tar stream) and the path's stat."""
    response = api.request("GET", f"/containers/{cid}/archive", {"path": path})
    return response, _decode_stat(response)


def put_archive(api: APIClient, cid: str, path: str, data: BinaryIO, length: int | None,
                copy_uid_gid: bool = False) -> None:
    headers = {"Content-Type": "application/x-tar"}
    if length is not None:
        headers["Content-Length"] = str(length)
    body: Any = data if length is not None else iter(lambda: data.read(1 << 20), b"")
    response = api.request("PUT", f"/containers/{cid}/archive",
                           {"path": path, "copyUIDGID": copy_uid_gid or None}, data=body,
                           headers=headers)
    response.read()
