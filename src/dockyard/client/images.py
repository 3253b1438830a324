"""/images endpoints, as functions over an APIClient (client/transport.py)."""
from __future__ import annotations

import json
from typing import Any, BinaryIO, Iterator

from .transport import APIClient


def _filters(filters: dict[str, list[str]] | None) -> str | None:
    return json.dumps(filters) if filters else None


def list_images(api: APIClient, all: bool = False, filters: dict[str, list[str]] | None = None,
                digests: bool = False, **legacy: Any) -> list[dict[str, Any]]:
    if "all_" in legacy:
        all = legacy.pop("all_")
    params: dict[str, Any] = {"filters": _filters(filters)}
    if all:
        params["all"] = True
    if digests:
        params["digests"] = True
    return api.get("/images/json", params) or []


def inspect(api: APIClient, name: str) -> dict[str, Any]:
    return api.get(f"/images/{name}/json")


def history(api: APIClient, name: str) -> list[dict[str, Any]]:
    return api.get(f"/images/{name}/history") or []


def tag(api: APIClient, source: str, repo: str, tag_: str | None = None) -> None:
    api.post(f"/images/{source}/tag", {"repo": repo, "tag": tag_})


def remove(api: APIClient, name: str, force: bool = False, noprune: bool = False
           ) -> list[dict[str, str]]:
    params: dict[str, Any] = {}
    if force:
        params["force"] = True
    if noprune:
        params["noprune"] = True
    return api.delete(f"/images/{name}", params) or []


def prune(api: APIClient, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return api.post("/images/prune", {"filters": _filters(filters)}) or {}


def import_image(api: APIClient, source: str | BinaryIO, repo: str | None = None,
                 tag_: str | None = None, message: str | None = None,
                 changes: list[str] | None = None, platform: str | None = None
                 ) -> list[dict[str, Any]]:
    """POST /images/create?fromSrc=...: `source` is a URL (fetched by the daemon) or a
    readable stream sent as the request body. `repo` may carry its tag ("name:tag")."""
    params: dict[str, Any] = {"repo": repo or None, "tag": tag_ or None,
                              "message": message or None, "changes": list(changes or []) or None,
                              "platform": platform or None}
    if isinstance(source, str):
        params["fromSrc"] = source
        return list(api.stream_json("POST", "/images/create", params))
    params["fromSrc"] = "-"
    return list(api.stream_json("POST", "/images/create", params, data=source,
                                headers={"Content-Type": "application/x-tar"}))


def pull_stream(api: APIClient, name: str, platform: str | None = None,
                all_tags: bool = False, auth: str | None = None) -> Iterator[dict[str, Any]]:
    """POST /images/create?fromImage=...: the progress stream. A name without tag pulls
    :latest (every tag with all_tags); "name@digest" pulls that digest."""
    image, tag_ = name, None
    if "@" in name:
        image, tag_ = name.split("@", 1)
    else:
        slash, colon = name.rfind("/"), name.rfind(":")
        if colon > slash:
            image, tag_ = name[:colon], name[colon + 1:]
        elif not all_tags:
            tag_ = "latest"
    headers = {"X-Registry-Auth": auth} if auth else None
    return api.stream_json("POST", "/images/create",
                           {"fromImage": image, "tag": tag_, "platform": platform},
                           headers=headers)


def push_stream(api: APIClient, name: str, tag_: str | None = None,
                auth: str | None = None) -> Iterator[dict[str, Any]]:
    """POST /images/{name}/push?tag=...: the progress stream (no tag: every tag)."""
    headers = {"X-Registry-Auth": auth or "e30="}
    return api.stream_json("POST", f"/images/{name}/push", {"tag": tag_}, headers=headers)


def save(api: APIClient, names: list[str]) -> Any:
    """GET /images/get: the open response (read1/read the tar from it)."""
    return api.stream_raw("GET", "/images/get", {"names": list(names)})


def load(api: APIClient, source: BinaryIO, quiet: bool = False) -> list[dict[str, Any]]:
    return list(load_stream(api, source, quiet))


def load_stream(api: APIClient, source: BinaryIO, quiet: bool = False
                ) -> Iterator[dict[str, Any]]:
    return api.stream_json("POST", "/images/load", {"quiet": quiet}, data=source,
                           headers={"Content-Type": "application/x-tar"})
