"""/images endpoints, as functions over an APIClient."""
from __future__ import annotations

import json
from typing import Any, BinaryIO

from .transport import APIClient


def list_images(api: APIClient, all_: bool = False, filters: dict | None = None,
                digests: bool = False) -> list[dict[str, Any]]:
    return api.get("/images/json", {"all": all_, "digests": digests,
                                    "filters": json.dumps(filters) if filters else None})


def inspect(api: APIClient, name: str) -> dict[str, Any]:
    return api.get(f"/images/{name}/json")


def history(api: APIClient, name: str) -> list[dict[str, Any]]:
    return api.get(f"/images/{name}/history")


def tag(api: APIClient, source: str, repo: str, tag_: str | None) -> None:
    api.post(f"/images/{source}/tag", {"repo": repo, "tag": tag_})


def remove(api: APIClient, name: str, force: bool = False, noprune: bool = False
           ) -> list[dict[str, str]]:
    return api.delete(f"/images/{name}", {"force": force, "noprune": noprune})


def prune(api: APIClient, filters: dict | None = None) -> dict[str, Any]:
    return api.post("/images/prune", {"filters": json.dumps(filters) if filters else None})


def import_image(api: APIClient, source: str | BinaryIO, repo: str | None, tag_: str | None,
                 message: str | None, changes: list[str]) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"repo": repo, "tag": tag_, "message": message,
                              "changes": changes or None}
    if isinstance(source, str):
        params["fromSrc"] = source
        return list(api.stream_json("POST", "/images/create", params))
    params["fromSrc"] = "-"
    return list(api.stream_json("POST", "/images/create", params, data=source,
                                headers={"Content-Type": "application/x-tar"}))


def pull(api: APIClient, name: str) -> list[dict[str, Any]]:
    image, _, tag_ = name.partition("@")[0].rpartition(":") if ":" in \
        name.rsplit("/", 1)[-1] else (name, "", "latest")
    return list(api.stream_json("POST", "/images/create", {"fromImage": image or name,
                                                           "tag": tag_ or "latest"}))


def save(api: APIClient, names: list[str]) -> Any:
    return api.stream_raw("GET", "/images/get", {"names": names})


def load(api: APIClient, source: BinaryIO, quiet: bool = False) -> list[dict[str, Any]]:
    return list(api.stream_json("POST", "/images/load", {"quiet": quiet}, data=source,
                                headers={"Content-Type": "application/x-tar"}))
