"""Remote build contexts (POST /build?remote=...): a git repository (Docker's rules for
what a git URL is: git://, git@, github.com/..., or a URL ending in .git, with an optional
#ref:subdir) cloned shallowly with the git client, or an http(s) URL that is a tar (any
compression) or a plain Dockerfile."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import BinaryIO

from ...errors import InvalidParameter
from ...store import archive
from . import context

_GIT_TIMEOUT = 300


def is_git(url: str) -> bool:
    base = url.split("#", 1)[0]
    return url.startswith(("git://", "git@", "github.com/")) or base.endswith(".git") \
        and base.startswith(("http://", "https://"))


def fetch(url: str, context_dir: str) -> None:
    """Fill `context_dir` from the remote."""
    if is_git(url):
        _clone(url, context_dir)
    elif url.startswith(("http://", "https://")):
        _download(url, context_dir)
    else:
        raise InvalidParameter(f"unable to prepare context: unsupported remote context: {url}")


def _clone(url: str, context_dir: str) -> None:
    repo, _, fragment = url.partition("#")
    ref, _, subdir = fragment.partition(":")
    if repo.startswith("github.com/"):
        repo = "https://" + repo
    if shutil.which("git") is None:
        raise InvalidParameter("unable to prepare context: git is not installed on the "
                               "daemon's host")
    with tempfile.TemporaryDirectory(dir=os.path.dirname(context_dir)) as tmp:
        checkout = os.path.join(tmp, "repo")
        command = ["git", "-c", "protocol.ext.allow=never", "clone", "--quiet", "--depth",
                   "1", "--recurse-submodules"]
        if ref:
            command += ["--branch", ref]
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        result = subprocess.run([*command, "--", repo, checkout], capture_output=True,
                                text=True, timeout=_GIT_TIMEOUT, env=env)
        if result.returncode != 0 and "shallow" in result.stderr:   # dumb HTTP servers
            shutil.rmtree(checkout, ignore_errors=True)
            full = [c for c in command if c not in ("--depth", "1")]
            result = subprocess.run([*full, "--", repo, checkout], capture_output=True,
                                    text=True, timeout=_GIT_TIMEOUT, env=env)
        if result.returncode != 0:
            raise InvalidParameter(f"unable to prepare context: unable to 'git clone' to "
                                   f"temporary context directory: error fetching: "
                                   f"{result.stderr.strip()}: exit status "
                                   f"{result.returncode}")
        shutil.rmtree(os.path.join(checkout, ".git"), ignore_errors=True)
        source = os.path.normpath(os.path.join(checkout, subdir.strip("/"))) if subdir \
            else checkout
        if not (source == checkout or source.startswith(checkout + os.sep)) or \
                not os.path.isdir(source):
            raise InvalidParameter(f"unable to prepare context: subdirectory {subdir} not "
                                   "found in the repository")
        os.rmdir(context_dir)
        shutil.move(source, context_dir)


def _looks_like_tar(head: bytes) -> bool:
    return head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" \
        or head[257:262] == b"ustar"


class _Prefixed:
    """A stream with its first bytes already read."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data = self.head if size < 0 else self.head[:size]
            self.head = self.head[len(data):]
            return data
        return self.rest.read(size)


def _download(url: str, context_dir: str) -> None:
    with archive.open_url(url) as stream:
        head = stream.read(512)
        if _looks_like_tar(head):
            context.receive(_Prefixed(head, stream), context_dir)  # type: ignore[arg-type]
            return
        with open(os.path.join(context_dir, "Dockerfile"), "wb") as f:
            f.write(head)
            shutil.copyfileobj(stream, f)
