"""build (the classic builder's client, as `docker build` with DOCKER_BUILDKIT=0) and
builder prune."""
from __future__ import annotations

import os
import secrets
import sys
from typing import Any

from .common import Context, fail
from .flags import Bool, Int, List, Opts, Str, command


def _key_values(items: list[str], from_env: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items:
        key, eq, value = item.partition("=")
        out[key] = value if eq else (os.environ.get(key) if from_env else "")
    return out


def _looks_like_tar(head: bytes) -> bool:
    return head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" \
        or head[257:262] == b"ustar"


def _context(path: str, dockerfile: str | None) -> tuple[Any, str | None, str | None]:
    """(body, dockerfile parameter, remote parameter) for PATH | URL | -."""
    from ..client import build as api_build

    if path.startswith(("http://", "https://")) or path.startswith("git@"):
        return None, dockerfile, path
    stdin_dockerfile = dockerfile == "-"
    if path == "-":
        if stdin_dockerfile:
            fail("invalid argument: can't use stdin for both build context and dockerfile")
        data = sys.stdin.buffer.read()
        if _looks_like_tar(data[:512]):
            import io
            return api_build.CountingReader(io.BytesIO(data)), dockerfile, None
        return api_build.single_file_tar("Dockerfile", data), None, None
    if not os.path.isdir(path):
        fail(f'unable to prepare context: path "{path}" not found')
    extra: dict[str, bytes] = {}
    name = dockerfile
    if stdin_dockerfile or (dockerfile and not _inside(path, dockerfile)):
        if stdin_dockerfile:
            data = sys.stdin.buffer.read()
        else:
            try:
                with open(dockerfile, "rb") as f:     # type: ignore[arg-type]
                    data = f.read()
            except OSError:
                fail(f"unable to prepare context: unable to evaluate symlinks in Dockerfile "
                     f"path: lstat {os.path.abspath(dockerfile or '')}: no such file or "
                     "directory")
        name = f".dockerfile.{secrets.token_hex(10)}"
        extra[name] = data
    elif dockerfile:
        name = os.path.relpath(os.path.abspath(dockerfile), os.path.abspath(path))
    keep = tuple(n for n in (name or "Dockerfile",) if n)
    return api_build.context_tar(path, extra, keep), name, None


def _inside(context: str, dockerfile: str) -> bool:
    full = os.path.abspath(dockerfile)
    root = os.path.abspath(context)
    return full.startswith(root + os.sep) and os.path.exists(full)


@command("[OPTIONS] PATH | URL | -",
         List("--add-host", "Add a custom host-to-IP mapping (host:ip)"),
         List("--build-arg", "Set build-time variables"),
         List("--cache-from", "Images to consider as cache sources", meta="strings"),
         Int("--cpu-period", "Limit the CPU CFS (Completely Fair Scheduler) period"),
         Int("--cpu-quota", "Limit the CPU CFS (Completely Fair Scheduler) quota"),
         Int("-c, --cpu-shares", "CPU shares (relative weight)"),
         Str("--cpuset-cpus", "CPUs in which to allow execution (0-3, 0,1)"),
         Str("-f, --file", "Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
         Bool("--force-rm", "Always remove intermediate containers"),
         Str("--iidfile", "Write the image ID to the file"),
         List("--label", "Set metadata for an image"),
         Str("-m, --memory", "Memory limit", meta="bytes"),
         Str("--memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited "
             "swap", meta="bytes"),
         Str("--network", "Set the networking mode for the RUN instructions during build",
             default="default"),
         Bool("--no-cache", "Do not use cache when building the image"),
         Str("--platform", "Set platform if server is multi-platform capable"),
         Bool("--pull", "Always attempt to pull a newer version of the image"),
         Bool("-q, --quiet", "Suppress the build output and print image ID on success"),
         Bool("--reproducible", "Clamp timestamps for identical images across builds "
              "(SOURCE_DATE_EPOCH from the environment, else 0)"),
         Bool("--rm", "Remove intermediate containers after a successful build",
              default=True),
         Str("--shm-size", "Size of /dev/shm", meta="bytes"),
         List("-t, --tag", "Name and optionally a tag in the 'name:tag' format"),
         Str("--target", "Set the target build stage to build."),
         List("--ulimit", "Ulimit options", meta="ulimit"),
         args=(1, 1))
def build(ctx: Context, o: Opts, args: list[str]) -> None:
    import json

    from .. import reference
    from ..client import build as api_build
    from ..errors import InvalidParameter
    from ..units import parse_bytes
    from .jsonstream import StreamError, display

    for tag in o.tag:
        try:
            reference.parse(tag)
        except InvalidParameter:
            fail(f'invalid argument "{tag}" for "-t, --tag" flag: invalid reference format')
    build_args = _key_values(o.build_arg, True)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")     # as buildx reads it
    if "SOURCE_DATE_EPOCH" not in build_args and (epoch or o.reproducible):
        build_args["SOURCE_DATE_EPOCH"] = epoch or "0"
    body, dockerfile, remote = _context(args[0], o.file)
    ulimits = []
    for item in o.ulimit:
        name, _, values = item.partition("=")
        soft, _, hard = values.partition(":")
        ulimits.append({"Name": name, "Soft": int(soft), "Hard": int(hard or soft)})
    params: dict[str, Any] = {
        "t": list(o.tag) or None, "dockerfile": dockerfile, "remote": remote,
        "buildargs": json.dumps(build_args) if build_args else None,
        "labels": json.dumps(_key_values(o.label, False)) if o.label else None,
        "cachefrom": json.dumps(list(o.cache_from)) if o.cache_from else None,
        "nocache": o.no_cache or None, "pull": o.pull or None, "rm": o.rm,
        "forcerm": o.force_rm or None, "q": o.quiet or None, "target": o.target or None,
        "networkmode": o.network, "platform": o.platform or None,
        "extrahosts": ",".join(o.add_host) or None,
        "memory": parse_bytes(o.memory) if o.memory else None,
        "memswap": parse_bytes(o.memory_swap) if o.memory_swap else None,
        "shmsize": parse_bytes(o.shm_size) if o.shm_size else None,
        "cpushares": o.cpu_shares or None, "cpusetcpus": o.cpuset_cpus or None,
        "cpuperiod": o.cpu_period or None, "cpuquota": o.cpu_quota or None,
        "ulimits": json.dumps(ulimits) if ulimits else None, "version": "1"}
    messages = api_build.build(ctx.api, body, params)
    if body is not None and not o.quiet:
        messages = _announce_context(messages, body)
    try:
        aux = display(messages, out=sys.stdout, tty=False)
    except StreamError as exc:
        fail(str(exc), exc.code)
    image_id = next((a["ID"] for a in aux if isinstance(a, dict) and a.get("ID")), "")
    if o.iidfile and image_id:
        with open(o.iidfile, "w") as f:
            f.write(image_id)


def _announce_context(messages: Any, body: Any) -> Any:
    """The docker CLI's first line, once the daemon has the whole context."""
    from ..units import human_size

    announced = False
    for message in messages:
        if not announced:
            announced = True
            print(f"Sending build context to Docker daemon  {human_size(body.count, 4)}\n")
        yield message


@command("[OPTIONS]",
         Bool("-a, --all", "Remove all unused build cache, not just dangling ones"),
         Bool("-f, --force", "Do not prompt for confirmation"),
         args=(0, 0))
def prune(ctx: Context, o: Opts, args: list[str]) -> None:
    from ..client import build as api_build
    from ..units import human_size

    if not o.force:
        sys.stdout.write("WARNING! This will remove all dangling build cache. Are you sure "
                         "you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return
    result = api_build.prune(ctx.api, o.all)
    if result.get("CachesDeleted"):
        print("Deleted build cache objects:")
        for key in result["CachesDeleted"]:
            print(key)
        print()
    print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed') or 0, 4)}")
