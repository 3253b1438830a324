"""POST /build and /build/prune over an APIClient, and the context tar the CLI sends:
the directory walked with .dockerignore's rules (the Dockerfile and .dockerignore always
kept, as the docker CLI does, so the daemon can read them), written into a pipe by a
thread while the request reads the other end: never whole in memory."""
from __future__ import annotations

import io
import os
import tarfile
import threading
from typing import Any, BinaryIO, Iterator

from .. import dockerignore
from .transport import APIClient


def build(api: APIClient, context: BinaryIO | None, params: dict[str, Any]
          ) -> Iterator[dict[str, Any]]:
    """The build's JSON messages as they come."""
    return api.stream_json("POST", "/build", params, data=context,
                           headers={"Content-Type": "application/x-tar"})


def prune(api: APIClient, all_: bool = False) -> dict[str, Any]:
    return api.post("/build/prune", {"all": all_ or None})


def context_tar(directory: str, extra: dict[str, bytes] | None = None,
                keep: tuple[str, ...] = ()) -> CountingReader:
    """A readable stream of the context's tar; `extra` adds files (e.g. a Dockerfile from
    outside the context) at the top; `keep` are paths sent even if ignored."""
    patterns: list[str] = []
    ignore_file = os.path.join(directory, ".dockerignore")
    if os.path.isfile(ignore_file):
        with open(ignore_file, encoding="utf-8", errors="replace") as f:
            patterns = dockerignore.read(f.read())
    matcher = dockerignore.Matcher(patterns)
    names = matcher.walk(directory)
    for name in (".dockerignore", *keep):
        if name not in names and os.path.lexists(os.path.join(directory, name)):
            names.append(name)
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        with os.fdopen(write_fd, "wb") as out:
            try:
                with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    for name in names:
                        info = tar.gettarinfo(os.path.join(directory, name), arcname=name)
                        info.uid = info.gid = 0
                        info.uname = info.gname = ""
                        if info.isreg():
                            with open(os.path.join(directory, name), "rb") as f:
                                tar.addfile(info, f)
                        else:
                            tar.addfile(info)
                    for name, data in (extra or {}).items():
                        info = tarfile.TarInfo(name)
                        info.size, info.mode = len(data), 0o600
                        tar.addfile(info, io.BytesIO(data))
            except BrokenPipeError:
                pass        # the request ended early (the daemon answered an error)

    threading.Thread(target=writer, daemon=True).start()
    return CountingReader(os.fdopen(read_fd, "rb"))


class CountingReader:
    """A stream that counts what was read of it (the CLI's "Sending build context")."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.count = stream, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data

    def close(self) -> None:
        self.stream.close()


def single_file_tar(name: str, data: bytes) -> CountingReader:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o600
        tar.addfile(info, io.BytesIO(data))
    out.seek(0)
    return CountingReader(out)
