"""POST /commit over an APIClient."""
from __future__ import annotations

from typing import Any

from .transport import APIClient


def commit(api: APIClient, container: str, repo: str | None = None, tag: str | None = None,
           author: str | None = None, comment: str | None = None,
           changes: list[str] | None = None, pause: bool = True,
           config: dict[str, Any] | None = None) -> str:
    result = api.post("/commit", {"container": container, "repo": repo, "tag": tag,
                                  "author": author, "comment": comment,
                                  "changes": changes or None, "pause": pause}, json=config)
    return result["Id"]
