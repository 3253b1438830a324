"""build: real builds on the local busybox image through our CLI, the stock docker CLI
(classic builder) and docker-py: instructions, the CMD/ENTRYPOINT table, COPY/ADD rules,
.dockerignore, the cache (hits counted in the transcript), heredocs, RUN --mount,
multi-stage, failing and cancelled builds, reproducible builds, builder prune."""
from __future__ import annotations

import hashlib
import http.server
import io
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import uuid
from typing import Any, Iterator

import pytest

from conftest import Daemon, inspect, remove_new_images, wait_for


def _write(directory: Any, files: dict[str, str | bytes]) -> str:
    for name, data in files.items():
        path = os.path.join(str(directory), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    return str(directory)


def _tag() -> str:
    return f"bt-{uuid.uuid4().hex[:8]}"


def _build(daemon: Daemon, context: str, *flags: str) -> tuple[str, str]:
    """A successful `dockyard build`; returns (transcript, image ID)."""
    fd, iid = tempfile.mkstemp(prefix="iid-")
    os.close(fd)
    result = daemon.cli("build", "--iidfile", iid, *flags, context, timeout=120)
    assert result.returncode == 0, (result.stdout, result.stderr)
    with open(iid) as f:
        image_id = f.read()
    os.unlink(iid)
    return result.stdout, image_id


def _run(daemon: Daemon, image: str, *args: str) -> str:
    return daemon.ok("run", "--rm", image, *args)


def _config(daemon: Daemon, image: str) -> dict[str, Any]:
    return inspect(daemon, image)["Config"]


@pytest.fixture(scope="module", autouse=True)
def _builds_leave_no_images(daemon: Daemon) -> Iterator[None]:
    yield from remove_new_images(daemon)


@pytest.fixture
def ctx(tmp_path: Any) -> str:
    directory = tmp_path / "ctx"
    directory.mkdir()
    return str(directory)


def test_metadata_instructions_transcript_and_history(daemon: Daemon, ctx: str) -> None:
    tag = _tag()
    _write(ctx, {"Dockerfile": """# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE}
ARG VERSION=1.0
ENV APP=/srv/app \\
    MODE="two words"
LABEL org.version=$VERSION "with space"=yes
EXPOSE 80 53/udp
VOLUME ["/data"]
WORKDIR /srv
WORKDIR app
USER 1000:1000
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD test -e /srv
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered
CMD echo $APP
"""})
    out, image_id = _build(daemon, ctx, "-t", tag, "--label", "extra=1")
    lines = out.splitlines()
    assert re.fullmatch(r"Sending build context to Docker daemon  \d+(\.\d+)?kB", lines[0])
    assert lines[1] == ""                   # as the docker CLI writes it
    lines = lines[2:]
    assert lines[0] == "Step 1/16 : ARG BASE=busybox"
    assert lines[1] == "Step 2/16 : FROM ${BASE}"
    assert re.fullmatch(r" ---> [0-9a-f]{12}", lines[2])
    assert "Step 4/16 : ENV APP=/srv/app     MODE=\"two words\"" in lines
    # a metadata step gets the classic builder's intermediate container, then its image
    cmd_at = lines.index("Step 15/16 : CMD echo $APP")
    assert re.fullmatch(r" ---> [0-9a-f]{12}", lines[cmd_at + 3])
    # --label: one LABEL step per label at the end, as Docker's classic builder adds them
    label_at = lines.index("Step 16/16 : LABEL extra=1")
    running, removing, final = lines[label_at + 1:label_at + 4]
    cid = running.removeprefix(" ---> Running in ")
    assert re.fullmatch(r"[0-9a-f]{12}", cid) and removing == \
        f"Removing intermediate container {cid}"
    assert final == f" ---> {image_id.split(':')[1][:12]}"
    assert lines[-2] == f"Successfully built {image_id.split(':')[1][:12]}"
    assert lines[-1] == f"Successfully tagged {tag}:latest"
    config = _config(daemon, tag)
    assert "APP=/srv/app" in config["Env"] and "MODE=two words" in config["Env"]
    assert config["Labels"] == {"org.version": "1.0", "with space": "yes", "extra": "1"}
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert config["Volumes"] == {"/data": {}} and config["WorkingDir"] == "/srv/app"
    assert config["User"] == "1000:1000" and config["StopSignal"] == "SIGQUIT"
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "test -e /srv"],
                                     "Interval": 5_000_000_000, "Timeout": 2_000_000_000,
                                     "Retries": 4}
    assert config["Shell"] == ["/bin/sh", "-ec"] and config["OnBuild"] == ["RUN echo triggered"]
    assert config["Cmd"] == ["/bin/sh", "-ec", "echo $APP"]
    assert _run(daemon, tag) == "/srv/app\n"
    history = daemon.ok("history", "--no-trunc", tag).splitlines()
    nops = [h for h in history if "#(nop)" in h]
    assert len(nops) == 14 and all(re.search(r"\s0B\s", h) for h in nops)
    assert any('#(nop)  CMD ["/bin/sh" "-ec" "echo $APP"]' in h for h in history)
    # a child image runs the ONBUILD trigger
    child = _tag()
    _write(ctx, {"Dockerfile": f"FROM {tag}\nUSER 0\nRUN test -d /srv/app\n"})
    out, _ = _build(daemon, ctx, "-t", child)
    assert f"Step 1/3 : FROM {tag}\n# Executing 1 build trigger\n ---> Running in " in out
    assert "triggered\n" in out
    assert _config(daemon, child)["OnBuild"] is None
    daemon.ok("rmi", child, tag)


def test_run_environment_user_workdir_args(daemon: Daemon, ctx: str) -> None:
    tag = _tag()
    _write(ctx, {"Dockerfile": """FROM busybox
ARG WHO
ARG UNUSED_DEFAULT=d
ENV FROM_ENV=e
WORKDIR /work
RUN echo "$WHO $FROM_ENV $(pwd) $(id -u)" > /out
USER app
RUN id -u > /tmp/uid && echo http=$http_proxy
"""})
    out, _ = _build(daemon, ctx, "-t", tag, "--build-arg", "WHO=arg", "--build-arg",
                    "http_proxy=px", "--build-arg", "NOT_DECLARED=1")
    assert "http=px\n" in out
    assert "[Warning] One or more build-args [NOT_DECLARED] were not consumed" in out
    assert _run(daemon, tag, "cat", "/out", "/tmp/uid") == "arg e /work 0\n1000\n"
    # build args do not persist in the image, but history records them
    assert not [e for e in _config(daemon, tag)["Env"] if e.startswith("WHO=")]
    history = daemon.ok("history", "--no-trunc", tag)
    assert "|2 UNUSED_DEFAULT=d WHO=arg /bin/sh -c id -u" in history
    daemon.ok("rmi", tag)


@pytest.mark.parametrize("entrypoint, cmd, expected", [
    (None, '["echo", "c"]', "c"),
    (None, "echo c $HOME", "c /root"),
    ('["echo", "e"]', None, "e"),
    ('["echo", "e"]', '["c"]', "e c"),
    ('["echo", "e"]', "c", "e /bin/sh -c c"),
    ("echo e", '["c"]', "e"),
    ("echo e", "c", "e"),
])
def test_cmd_entrypoint_table(daemon: Daemon, ctx: str, entrypoint: str | None,
                              cmd: str | None, expected: str) -> None:
    tag = _tag()
    lines = ["FROM busybox"]
    if entrypoint is not None:
        lines.append(f"ENTRYPOINT {entrypoint}")
    if cmd is not None:
        lines.append(f"CMD {cmd}")
    _write(ctx, {"Dockerfile": "\n".join(lines) + "\n"})
    _build(daemon, ctx, "-t", tag)
    assert _run(daemon, tag) == expected + "\n"
    if entrypoint is not None and cmd is None:
        assert _config(daemon, tag)["Cmd"] is None   # ENTRYPOINT drops the base's CMD
    daemon.ok("rmi", tag)


def _tar_bytes(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture
def web_root(tmp_path: Any) -> Iterator[tuple[str, str]]:
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield str(root), f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_copy_and_add(daemon: Daemon, ctx: str, web_root: tuple[str, str]) -> None:
    root, url = web_root
    _write(root, {"remote.txt": "from the web\n"})
    tag = _tag()
    _write(ctx, {"a.txt": "A\n", "b.txt": "B\n", "c.md": "C\n", "dir/x": "X\n",
                 "dir/sub/y": "Y\n", "bundle.tar.gz": _tar_bytes({"in/t1": b"T1\n"}),
                 "Dockerfile": f"""FROM busybox
COPY a.txt /one/
COPY a.txt /renamed.txt
COPY *.txt /many/
COPY dir /tree
COPY dir/ /tree2/
COPY --chown=1000:50 --chmod=640 b.txt /owned/
COPY --chown=nobody c.md /byname
ADD bundle.tar.gz /unpacked/
ADD {url}/remote.txt /web/
ENV W=world
COPY <<EOF /here.txt
heredoc $W
EOF
COPY <<"EOF" /quoted.txt
kept $W
EOF
RUN <<EOT
set -e
echo one > /heredoc-run
echo two >> /heredoc-run
EOT
"""})
    _build(daemon, ctx, "-t", tag)
    script = ("cat /one/a.txt /renamed.txt /many/a.txt /many/b.txt /tree/x /tree/sub/y "
              "/tree2/x /unpacked/in/t1 /web/remote.txt /here.txt /quoted.txt /heredoc-run; "
              "stat -c '%u:%g %a' /owned/b.txt /byname /web/remote.txt; "
              "test ! -e /many/c.md && test ! -e /tree/dir && echo ok")
    output = _run(daemon, tag, "sh", "-c", script)
    assert output == (
        "A\nA\nA\nB\nX\nY\nX\nT1\nfrom the web\nheredoc world\nkept $W\none\ntwo\n"
        "1000:50 640\n65534:65534 644\n0:0 600\nok\n"), output
    daemon.ok("rmi", tag)


def test_copy_errors(daemon: Daemon, ctx: str) -> None:
    for dockerfile, message in (
            ("COPY missing.txt /x\n", "COPY failed: file not found in build context or "
                                      "excluded by .dockerignore: stat missing.txt: file "
                                      "does not exist"),
            ("COPY a b /dest\n", "When using COPY with more than one source file, the "
                                 "destination must be a directory and end with a /"),
            ("COPY nothing* /d/\n", "COPY failed: no source files were specified"),
            ("FOO bar\n", "dockerfile parse error on line 2: unknown instruction: FOO")):
        _write(ctx, {"a": "1", "b": "2", "Dockerfile": "FROM busybox\n" + dockerfile})
        result = daemon.cli("build", ctx)
        assert result.returncode == 1 and message in result.stderr, (dockerfile,
                                                                     result.stderr)


def test_dockerignore(daemon: Daemon, ctx: str) -> None:
    tag = _tag()
    _write(ctx, {"keep.txt": "k", "secret.key": "s", "logs/a.log": "l", "logs/keep.log": "kl",
                 "deep/x/y/z.tmp": "t", "deep/x/y/ok": "o",
                 ".dockerignore": "# comment\n*.key\nlogs/*\n!logs/keep.log\n**/*.tmp\n"
                                  "Dockerfile\n.dockerignore\n",
                 "Dockerfile": "FROM busybox\nCOPY . /ctx/\n"})
    _build(daemon, ctx, "-t", tag)
    listing = _run(daemon, tag, "find", "/ctx", "-type", "f").split()
    assert sorted(listing) == ["/ctx/deep/x/y/ok", "/ctx/keep.txt", "/ctx/logs/keep.log"]
    daemon.ok("rmi", tag)


def test_cache_hits_and_misses(daemon: Daemon, ctx: str) -> None:
    tag = _tag()
    files = {"f.txt": "v1\n", "Dockerfile": "FROM busybox\nENV A=1\nCOPY f.txt /\n"
                                            "RUN cat /f.txt > /g\nCMD [\"cat\", \"/g\"]\n"}
    _write(ctx, files)
    _, first_id = _build(daemon, ctx, "-t", tag)
    again, again_id = _build(daemon, ctx, "-t", tag)
    assert again.count(" ---> Using cache") == 4 and again_id == first_id
    assert "Running in" not in again
    # a new mtime with the same content still hits: the checksum is of the content
    os.utime(os.path.join(ctx, "f.txt"), (1, 1))
    touched, touched_id = _build(daemon, ctx, "-t", tag)
    assert touched.count("Using cache") == 4 and touched_id == first_id
    # a content change misses at COPY and everything after it
    _write(ctx, {"f.txt": "v2\n"})
    changed, changed_id = _build(daemon, ctx, "-t", tag)
    assert changed.count("Using cache") == 1 and changed_id != first_id
    assert _run(daemon, tag) == "v2\n"
    nocache, _ = _build(daemon, ctx, "--no-cache", "-t", tag)
    assert nocache.count("Using cache") == 0
    # --cache-from: only that image's ancestry is a cache source
    only, _ = _build(daemon, ctx, "--cache-from", tag)
    assert only.count("Using cache") == 4
    none, _ = _build(daemon, ctx, "--cache-from", "nosuchimage")
    assert none.count("Using cache") == 0
    daemon.ok("rmi", tag)


def test_failing_step_leaves_nothing(daemon: Daemon, ctx: str) -> None:
    before = set(daemon.container_ids())
    _write(ctx, {"Dockerfile": "FROM busybox\nRUN echo partial > /p\nRUN echo bad; exit 1\n"})
    result = daemon.cli("build", ctx)
    assert result.returncode == 1
    assert "The command '/bin/sh -c echo bad; exit 1' returned a non-zero code: 1" in \
        result.stderr
    assert "bad\n" in result.stdout
    assert set(daemon.container_ids()) == before
    _write(ctx, {"Dockerfile": "FROM busybox\nRUN exit 7\n"})
    assert daemon.cli("build", ctx).returncode == 7


def _raw_build(daemon: Daemon, context: bytes, query: str = "") -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(daemon.sock)
    sock.sendall(f"POST /build?{query} HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar"
                 f"\r\nContent-Length: {len(context)}\r\n\r\n".encode() + context)
    return sock


def _context_tar(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data.encode())
            tar.addfile(info, io.BytesIO(data.encode()))
    return out.getvalue()


def test_cancelled_build_removes_its_container(daemon: Daemon) -> None:
    before = set(daemon.container_ids())
    sock = _raw_build(daemon, _context_tar({"Dockerfile": "FROM busybox\nRUN sleep 300\n"}))
    received = b""
    while b"Running in" not in received:
        received += sock.recv(65536)
    assert len(set(daemon.container_ids()) - before) == 1
    sock.close()
    wait_for(lambda: set(daemon.container_ids()) == before, what="build container removed")
    work = os.path.join(daemon.root, "build", "work")
    wait_for(lambda: not os.listdir(work), what="the build's work directory removed")


def test_multistage_scratch_target_and_parallel(daemon: Daemon, ctx: str) -> None:
    tag = _tag()
    _write(ctx, {"Dockerfile": """FROM busybox AS build
RUN mkdir /out && cp /bin/busybox /out/ && echo static binary > /out/msg

FROM busybox AS unused
RUN exit 1

FROM scratch
COPY --from=build /out/ /
CMD ["/busybox", "cat", "/msg"]
"""})
    out, _ = _build(daemon, ctx, "-t", tag)
    assert "exit 1" not in out        # a stage the target does not need is not built
    assert _run(daemon, tag) == "static binary\n"
    info = inspect(daemon, tag)
    assert len(info["RootFS"]["Layers"]) == 1
    target = _tag()
    out, _ = _build(daemon, ctx, "--target", "build", "-t", target)
    assert _run(daemon, target, "cat", "/out/msg") == "static binary\n"
    result = daemon.cli("build", "--target", "nosuch", ctx)
    assert result.returncode == 1 and "failed to reach build target nosuch" in result.stderr
    # scratch with metadata only: an image without layers
    _write(ctx, {"Dockerfile": 'FROM scratch\nLABEL empty=yes\nCMD ["none"]\n'})
    out, empty = _build(daemon, ctx)
    assert "Step 1/3 : FROM scratch\n ---> \n" in out
    assert inspect(daemon, empty)["RootFS"].get("Layers") in (None, [])
    assert _config(daemon, empty)["Labels"] == {"empty": "yes"}
    _write(ctx, {"Dockerfile": "ARG P=linux/arm/v7\nFROM --platform=$P scratch\n"
                               "LABEL x=1\n"})
    _, arm = _build(daemon, ctx)
    info = inspect(daemon, arm)
    assert (info["Os"], info["Architecture"], info.get("Variant")) == ("linux", "arm", "v7")
    # FROM an earlier stage by name, COPY --from by index
    _write(ctx, {"Dockerfile": "FROM busybox AS Base\nRUN echo b > /b\nFROM base\n"
                               "COPY --from=0 /b /c\nRUN cat /b /c\n"})
    out, _ = _build(daemon, ctx)
    assert "b\nb\n" in out
    # independent stages run at the same time: each waits for the other's marker in a
    # cache mount they share; built one after the other, the first would give up
    wait = ("for i in $(seq 300); do test -e /rv/{other} && exit 0; sleep 0.1; done; exit 1")
    marker = uuid.uuid4().hex
    _write(ctx, {"Dockerfile": f"""FROM busybox AS a
RUN --mount=type=cache,id={marker},target=/rv touch /rv/a; {wait.format(other="b")}
FROM busybox AS b
RUN --mount=type=cache,id={marker},target=/rv touch /rv/b; {wait.format(other="a")}
FROM busybox
COPY --from=a /etc/hostname /a
COPY --from=1 /etc/hostname /b
"""})
    out, _ = _build(daemon, ctx, "--no-cache")
    steps = [line for line in out.splitlines() if line.startswith("Step ")]
    assert [s.split(" :")[0] for s in steps] == [f"Step {n}/7" for n in range(1, 8)]
    daemon.ok("rmi", tag, target)


def test_run_mounts(daemon: Daemon, ctx: str) -> None:
    marker = uuid.uuid4().hex
    _write(ctx, {"src/data": "bound\n", "Dockerfile": f"""FROM busybox
RUN --mount=type=cache,id={marker},target=/cache echo x >> /cache/log && wc -l < /cache/log
RUN --mount=type=bind,source=src,target=/mnt cat /mnt/data && ! touch /mnt/new
RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/f && grep -q tmpfs /proc/mounts
"""})
    first, image = _build(daemon, ctx, "--no-cache")
    second, _ = _build(daemon, ctx, "--no-cache")
    assert "1\n" in first and "2\n" in second and "bound\n" in first
    # nothing mounted reaches the image (at most the empty mount points)
    assert _run(daemon, image, "sh", "-c", "find /cache /mnt /scratch -type f 2>/dev/null "
                                           "| wc -l") == "0\n"
    # a bind mount's content is in the cache key; a rw bind is a copy; from= a stage
    _write(ctx, {"Dockerfile": """FROM busybox AS tools
RUN mkdir /tools && echo tool > /tools/t
FROM busybox
RUN --mount=type=bind,source=src,target=/mnt cat /mnt/data
RUN --mount=type=bind,source=src,target=/w,rw echo changed > /w/data && cat /w/data
RUN --mount=type=bind,from=tools,source=/tools,target=/t cat /t/t
"""})
    out, _ = _build(daemon, ctx)
    assert "bound\n" in out and "changed\n" in out and "tool\n" in out
    with open(os.path.join(ctx, "src", "data")) as f:
        assert f.read() == "bound\n"        # the build's rw bind changed a copy only
    cached, _ = _build(daemon, ctx)
    assert cached.count("Using cache") == 4
    _write(ctx, {"src/data": "rebound\n"})
    changed, _ = _build(daemon, ctx)
    assert "rebound\n" in changed and changed.count("Using cache") == 1


def test_reproducible_with_source_date_epoch(daemon: Daemon, ctx: str) -> None:
    _write(ctx, {"f": "same\n", "Dockerfile": "FROM busybox\nCOPY f /f\n"
                                              "RUN echo built > /b && touch /c\nENV X=1\n"})
    _, first = _build(daemon, ctx, "--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000")
    os.utime(os.path.join(ctx, "f"), None)
    _, second = _build(daemon, ctx, "--no-cache", "--build-arg",
                       "SOURCE_DATE_EPOCH=1700000000")
    assert first == second
    assert inspect(daemon, first)["Created"].startswith("2023-11-14T22:13:20")
    _, plain = _build(daemon, ctx, "--no-cache")
    assert plain != first
    _, zero = _build(daemon, ctx, "--no-cache", "--reproducible")
    _, zero_again = _build(daemon, ctx, "--no-cache", "--reproducible")
    assert zero == zero_again and inspect(daemon, zero)["Created"].startswith("1970-01-01")


def _docker(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    """The stock docker CLI with its classic builder (no buildx here)."""
    env = {**daemon.env(), "DOCKER_BUILDKIT": "0",
           "DOCKER_CONFIG": os.path.join(daemon.base, "dockercfg")}
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_docker_cli_builds(daemon: Daemon, ctx: str, tmp_path: Any) -> None:
    tag = _tag()
    _write(ctx, {"f": "docker\n", "Dockerfile": "FROM busybox\nCOPY f /f\nRUN cat /f\n"})
    outside = _write(tmp_path / "elsewhere", {"Other.dockerfile": "FROM busybox\nCOPY f /g\n"
                                                                  'CMD ["cat", "/g"]\n'})
    if shutil.which("docker") is None:
        pytest.skip("SKIPPED LOUDLY: no docker CLI installed")
    result = _docker(daemon, "build", "-t", tag, ctx)
    assert result.returncode == 0, result.stderr
    assert "Successfully tagged" in result.stdout and "docker\n" in result.stdout
    result = _docker(daemon, "build", "-t", tag + "-f", "-f",
                           os.path.join(outside, "Other.dockerfile"), ctx)
    assert result.returncode == 0, result.stderr
    assert _run(daemon, tag + "-f") == "docker\n"
    # the books' multi-stage build, ending in scratch with a static binary
    _write(ctx, {"Dockerfile": "FROM busybox AS build\nRUN mkdir /out && cp /bin/busybox "
                               "/out/\nFROM scratch\nCOPY --from=build /out/busybox /bin/sh\n"
                               'ENTRYPOINT ["/bin/sh", "-c"]\nCMD ["echo static"]\n'})
    result = _docker(daemon, "build", "-t", tag + "-ms", ctx)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Sending build context to Docker daemon  ")
    assert "kB\n\nStep 1/6 : FROM busybox AS build\n" in result.stdout
    assert _run(daemon, tag + "-ms") == "static\n"
    _write(ctx, {"Dockerfile": "FROM busybox\nRUN exit 5\n"})
    result = _docker(daemon, "build", ctx)
    assert result.returncode == 5
    assert "The command '/bin/sh -c exit 5' returned a non-zero code: 5" in result.stderr
    daemon.ok("rmi", tag, tag + "-f", tag + "-ms")


def test_dockerpy_builds(daemon: Daemon, docker_client: Any, ctx: str) -> None:
    import docker

    tag = _tag()
    _write(ctx, {"Dockerfile": "FROM busybox\nENV FOO=bar\nRUN touch baz\nRUN touch bax\n"})
    image, logs = docker_client.images.build(path=ctx, tag=tag)
    assert image.id.startswith("sha256:") and tag + ":latest" in image.tags
    assert any("Successfully built" in chunk.get("stream", "") for chunk in logs)
    stream = list(docker_client.api.build(path=ctx, cache_from=[tag], decode=True))
    assert sum("Using cache" in c.get("stream", "") for c in stream) == 3
    stream = list(docker_client.api.build(path=ctx, cache_from=["nosuchtag"], decode=True))
    assert sum("Using cache" in c.get("stream", "") for c in stream) == 0
    # the parameters docker-py sends: buildargs, labels, target, extra_hosts, limits
    _write(ctx, {"Dockerfile": "FROM busybox AS first\nARG A\nRUN echo a=$A && "
                               "grep -q 'py-host' /etc/hosts\nFROM first\nRUN exit 1\n"})
    image, logs = docker_client.images.build(
        path=ctx, buildargs={"A": "1"}, labels={"via": "docker-py"}, target="first",
        extra_hosts={"py-host": "10.1.2.3"}, container_limits={"memory": 64 << 20},
        nocache=True, rm=True)
    assert any(chunk.get("stream") == "a=1\n" for chunk in logs)
    assert image.labels["via"] == "docker-py"
    fileobj = io.BytesIO(b"FROM busybox\nRUN exit 1\n")
    with pytest.raises(docker.errors.BuildError) as info:
        docker_client.images.build(fileobj=fileobj)
    assert "The command '/bin/sh -c exit 1' returned a non-zero code: 1" in str(info.value)
    docker_client.images.remove(tag)


def test_builder_prune(daemon: Daemon, ctx: str) -> None:
    marker = uuid.uuid4().hex
    _write(ctx, {"Dockerfile": f"FROM busybox\nRUN --mount=type=cache,id={marker},"
                               "target=/c head -c 4096 /dev/zero > /c/blob\n"})
    _build(daemon, ctx)
    out = daemon.ok("builder", "prune", "-f")
    assert out.startswith("Deleted build cache objects:\n")
    assert re.search(r"\n\nTotal reclaimed space: \d+(\.\d+)?[kMG]?B\n$", out)
    assert float(re.findall(r"space: ([\d.]+)kB", out)[0]) >= 4.096
    result = _docker(daemon, "builder", "prune", "-f")
    assert result.returncode == 0 and "Total reclaimed space: 0B" in result.stdout, \
        result.stderr
    again, _ = _build(daemon, ctx)
    assert "Using cache" not in again


def test_book_web_app_with_healthcheck(daemon: Daemon, ctx: str) -> None:
    """The books' web-app image, on busybox's httpd: the healthcheck the Dockerfile sets
    turns the container healthy."""
    tag = _tag()
    _write(ctx, {"www/index.html": "<h1>hello from the book</h1>\n", "Dockerfile": """FROM busybox
LABEL maintainer="dev@example.com"
WORKDIR /www
COPY www/ .
EXPOSE 8080
HEALTHCHECK --interval=1s --timeout=3s --retries=3 \\
  CMD wget -q -O- http://127.0.0.1:8080/ || exit 1
ENTRYPOINT ["httpd", "-f", "-p", "8080"]
CMD ["-h", "/www"]
"""})
    _build(daemon, ctx, "-t", tag)
    name = f"web-{uuid.uuid4().hex[:6]}"
    daemon.ok("run", "-d", "--name", name, tag)
    try:
        wait_for(lambda: (inspect(daemon, name)["State"].get("Health") or {}).get("Status")
                 == "healthy", timeout=30, what="healthy web app")
        assert daemon.ok("exec", name, "wget", "-q", "-O-", "http://127.0.0.1:8080/") == \
            "<h1>hello from the book</h1>\n"
    finally:
        daemon.cli("rm", "-f", name)
        daemon.cli("rmi", tag)


def test_cli_stdin_quiet_and_dockerfile_paths(daemon: Daemon, ctx: str, tmp_path: Any) -> None:
    _write(ctx, {"f": "ctx\n", "sub/Dockerfile.alt": "FROM busybox\nCOPY f /alt\n"})
    # -f - : the Dockerfile on stdin, the context a directory
    result = daemon.cli("build", "-q", "-f", "-", ctx,
                        input=b"FROM busybox\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n")
    assert result.returncode == 0, result.stderr
    image_id = result.stdout.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image_id)     # -q: the ID alone
    assert _run(daemon, image_id) == "ctx\n"
    # - : a Dockerfile alone on stdin (no context)
    result = daemon.cli("build", "-q", "-", input=b"FROM busybox\nRUN echo s > /s\n")
    assert result.returncode == 0, result.stderr
    assert _run(daemon, result.stdout.strip(), "cat", "/s") == "s\n"
    # -f inside the context, in a subdirectory
    _, alt = _build(daemon, ctx, "-f", os.path.join(ctx, "sub", "Dockerfile.alt"))
    assert _run(daemon, alt, "cat", "/alt") == "ctx\n"
    # a tar context on stdin
    tar = _context_tar({"Dockerfile": "FROM busybox\nCOPY x /x\n", "x": "tarred\n"})
    result = daemon.cli("build", "-q", "-", input=tar)
    assert result.returncode == 0, result.stderr
    assert _run(daemon, result.stdout.strip(), "cat", "/x") == "tarred\n"
    result = daemon.cli("build", "-f", "nosuch", ctx)
    assert result.returncode == 1
    assert "unable to prepare context: unable to evaluate symlinks in Dockerfile path: " \
           "lstat " in result.stderr
    # a context whose Dockerfile has another name: the daemon's error, as dockerd's
    sock = _raw_build(daemon, _context_tar({"x": "1"}), "dockerfile=Missing")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        answer += sock.recv(65536)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 400") and b"Cannot locate specified Dockerfile: " \
        b"Missing" in answer


def test_remote_contexts(daemon: Daemon, tmp_path: Any, web_root: tuple[str, str]) -> None:
    """A git repository and a tar, both served from loopback (git's dumb HTTP)."""
    root, url = web_root
    work = _write(tmp_path / "work", {"README": "top\n", "app/Dockerfile":
                                      "FROM busybox\nCOPY msg /msg\nCMD [\"cat\", \"/msg\"]\n",
                                      "app/msg": "from git\n"})
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q", "-b", "main", work], ["-C", work, "add", "."],
                    ["-C", work, "commit", "-q", "-m", "init"],
                    ["clone", "-q", "--bare", work, os.path.join(root, "repo.git")],
                    ["-C", os.path.join(root, "repo.git"), "update-server-info"]):
        subprocess.run([*git, *command], check=True, capture_output=True)
    _, image = _build(daemon, f"{url}/repo.git#main:app")
    assert _run(daemon, image) == "from git\n"
    with open(os.path.join(root, "ctx.tar"), "wb") as f:
        f.write(_context_tar({"Dockerfile": "FROM busybox\nCOPY t /t\n", "t": "from tar\n"}))
    _, image = _build(daemon, f"{url}/ctx.tar")
    assert _run(daemon, image, "cat", "/t") == "from tar\n"
    result = daemon.cli("build", f"{url}/nosuch.git")
    assert result.returncode == 1 and "unable to 'git clone'" in result.stderr


def test_copy_follows_the_images_symlinks(daemon: Daemon, ctx: str) -> None:
    tag = _tag()
    _write(ctx, {"f": "through\n", "Dockerfile": """FROM busybox
RUN mkdir -p /real/dir && ln -s /real /link && ln -s dir /real/rel
COPY f /link/rel/
COPY f /link/named
WORKDIR /link/wd
"""})
    _build(daemon, ctx, "-t", tag)
    assert _run(daemon, tag, "sh", "-c", "cat /real/dir/f /real/named; test -L /link && "
                "test -L /real/rel && test -d /real/wd && pwd") == "through\nthrough\n" \
        "/real/wd\n"
    assert _config(daemon, tag)["WorkingDir"] == "/link/wd"
    # a source that is a symlink is copied as its target; one leaving the context is refused
    os.symlink("f", os.path.join(ctx, "f-link"))
    os.symlink("/etc/passwd", os.path.join(ctx, "outside"))
    _write(ctx, {"Dockerfile": "FROM busybox\nCOPY f-link /copied\n"})
    _, image = _build(daemon, ctx)
    assert _run(daemon, image, "sh", "-c", "test ! -L /copied && cat /copied") == "through\n"
    _write(ctx, {"Dockerfile": "FROM busybox\nCOPY outside /x\n"})
    result = daemon.cli("build", ctx)
    assert result.returncode == 1 and "forbidden path outside the build context" in \
        result.stderr
    daemon.ok("rmi", tag)


def test_context_symlinks_never_reach_host_files(daemon: Daemon, ctx: str) -> None:
    os.symlink("/", os.path.join(ctx, "hostroot"))
    os.symlink("/etc/passwd", os.path.join(ctx, "Dockerfile.host"))
    result = daemon.cli("build", "-f", os.path.join(ctx, "Dockerfile.host"), ctx)
    assert result.returncode == 1 and "root:" not in result.stderr, result.stderr
    for dockerfile in ("COPY hostroot/etc/hostname /x\n", "COPY hostroot/etc/host* /x/\n",
                       "RUN --mount=type=bind,source=hostroot/etc,target=/m cat /m/hostname\n"):
        _write(ctx, {"Dockerfile": "FROM busybox\n" + dockerfile})
        result = daemon.cli("build", ctx)
        assert result.returncode == 1, (dockerfile, result.stdout)
        assert "outside the build context" in result.stderr or \
            "no source files were specified" in result.stderr, result.stderr


def _answer(sock: socket.socket) -> bytes:
    answer = b""
    while not answer.rstrip().endswith(b"}") or b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    sock.close()
    return answer


def test_bad_build_requests(daemon: Daemon) -> None:
    tar = _context_tar({"Dockerfile": "FROM busybox\n"})
    for query, status, text in (
            ("buildargs=%7Bx", 400, b"error reading build args: invalid character 'x' looking "
                                   b"for beginning of object key string"),
            ("labels=%5B%5D", 400, b"error reading labels: json: cannot unmarshal array "
                                   b"into Go value of type map[string]string"),
            ("t=UPPER", 400, b"invalid reference format"),
            ("target=nosuch", 400, b"failed to reach build target nosuch in Dockerfile"),
            ("version=2", 400, b"BuildKit"),
            ("remote=ftp%3A%2F%2Fx", 400, b"unsupported remote context")):
        answer = _answer(_raw_build(daemon, tar, query))
        assert answer.startswith(f"HTTP/1.1 {status}".encode()) and text in answer, \
            (query, answer)
    garbage = _answer(_raw_build(daemon, b"not a tar at all" * 100))
    assert garbage.startswith(b"HTTP/1.1 400") and b"failed to read the build context" in \
        garbage
    assert daemon.cli("version").returncode == 0


def test_build_container_limits_and_rm(daemon: Daemon, ctx: str,
                                       web_root: tuple[str, str]) -> None:
    # --rm=false keeps the build container: it carries the limits the build asked for
    before = set(daemon.container_ids())
    _write(ctx, {"Dockerfile": "FROM busybox\nRUN echo limited\n"})
    _build(daemon, ctx, "--no-cache", "--rm=false", "-m", "64m", "--cpu-quota", "50000",
           "--cpu-period", "100000", "--cpu-shares", "512", "--shm-size", "8m")
    kept = set(daemon.container_ids()) - before
    assert len(kept) == 1
    host = inspect(daemon, kept.pop())["HostConfig"]
    assert (host["Memory"], host["CpuQuota"], host["CpuPeriod"], host["CpuShares"],
            host["ShmSize"]) == (64 << 20, 50000, 100000, 512, 8 << 20)
    daemon.ok("rm", *(set(daemon.container_ids()) - before))
    # --force-rm removes even a failed step's container
    _write(ctx, {"Dockerfile": "FROM busybox\nRUN exit 2\n"})
    assert daemon.cli("build", "--rm=false", "--force-rm", ctx).returncode == 2
    assert set(daemon.container_ids()) == before
    # ADD --checksum verifies what it downloads
    root, url = web_root
    _write(root, {"f": "payload\n"})
    good = "sha256:" + hashlib.sha256(b"payload\n").hexdigest()
    for checksum, code in ((good, 0), ("sha256:" + "0" * 64, 1)):
        _write(ctx, {"Dockerfile": f"FROM busybox\nADD --checksum={checksum} {url}/f /f\n"})
        result = daemon.cli("build", ctx)
        assert result.returncode == code, result.stderr
    assert "digest mismatch" in result.stderr


@pytest.fixture
def own_registry() -> Iterator[Any]:
    """A registry of this test's own: pushing busybox's layer to the shared one would make
    other modules' pushes of it "Mounted from" instead of "Pushed"."""
    from registry import Registry
    reg = Registry().start()
    try:
        yield reg
    finally:
        reg.stop()


def test_from_pulls_missing_and_pull_flag(daemon: Daemon, own_daemon: Daemon,
                                          own_registry: Any, tmp_path: Any) -> None:
    """FROM an image that is not local pulls it (from a loopback registry), with the pull's
    progress in the transcript; --pull pulls even when it is local."""
    registry = own_registry
    base = f"{registry.host}/bt/base:{uuid.uuid4().hex[:6]}"
    daemon.ok("tag", "busybox", base)
    daemon.ok("push", base)
    daemon.ok("rmi", base)
    ctx = _write(tmp_path / "pullctx", {"Dockerfile": f"FROM {base}\nRUN echo pulled\n"})
    out, _ = _build(own_daemon, ctx)
    assert f"Step 1/2 : FROM {base}\n" in out and "Pulling from bt/base" in out
    assert "pulled\n" in out and own_daemon.cli("image", "inspect", base).returncode == 0
    again, _ = _build(own_daemon, ctx, "--pull")
    assert "Image is up to date" in again and "Using cache" in again
    missing = _write(tmp_path / "missing", {"Dockerfile": f"FROM {registry.host}/bt/none:1\n"})
    result = own_daemon.cli("build", missing)
    assert result.returncode == 1 and "not found" in result.stderr, result.stderr


def test_arg_scopes(daemon: Daemon, ctx: str) -> None:
    """ARG before FROM is for FROM lines only until a stage declares it again; a stage's
    ARG is not seen by the next stage; --build-arg overrides defaults."""
    _write(ctx, {"Dockerfile": """ARG BASE=busybox
ARG GLOBAL=g
FROM ${BASE} AS one
ARG LOCAL=l
RUN echo "one:[$BASE][$GLOBAL][$LOCAL]"
ARG GLOBAL
RUN echo "one:[$GLOBAL]"
FROM one
RUN echo "two:[$LOCAL]"
"""})
    out, _ = _build(daemon, ctx, "--build-arg", "LOCAL=override")
    assert "one:[][][override]\n" in out and "one:[g]\n" in out and "two:[]\n" in out


def _peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))


def test_large_context_is_streamed_not_held(own_daemon: Daemon, tmp_path: Any) -> None:
    """A 96 MB context: the daemon's peak memory grows by far less than the context."""
    ctx = _write(tmp_path / "big", {"Dockerfile": "FROM busybox\nCOPY blob /blob\n"
                                                  "RUN test $(wc -c < /blob) = 100663296\n"})
    with open(os.path.join(ctx, "blob"), "wb") as f:
        for _ in range(96):
            f.write(os.urandom(1 << 20))
    assert own_daemon.proc is not None
    small = _write(tmp_path / "small", {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN true\n",
                                        "f": "x"})
    _build(own_daemon, small)        # warm: what any first build imports and caches
    before = _peak_rss_kb(own_daemon.proc.pid)
    _build(own_daemon, ctx)
    assert _peak_rss_kb(own_daemon.proc.pid) - before < 32 * 1024


def test_volume_contents_written_by_later_steps_are_discarded(daemon: Daemon, ctx: str
                                                             ) -> None:
    """As Docker's: after VOLUME, what RUN writes below it does not reach the image, and
    the build leaves no anonymous volume behind."""
    volumes_before = daemon.ok("volume", "ls", "-q").split()
    _write(ctx, {"Dockerfile": "FROM busybox\nRUN mkdir /data && echo before > /data/b\n"
                               "VOLUME /data\nRUN echo after > /data/a\n"})
    _, image = _build(daemon, ctx)
    assert _run(daemon, image, "ls", "/data") == "b\n"
    assert daemon.ok("volume", "ls", "-q").split() == volumes_before
