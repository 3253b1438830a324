"""commit: our CLI, the docker CLI and docker-py; whiteouts, -c changes, history, pause."""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

from conftest import Daemon, inspect


def _name() -> str:
    return f"cm-{uuid.uuid4().hex[:8]}"


def test_commit_cli_changes_whiteouts_history(daemon: Daemon) -> None:
    name, repo = _name(), f"snap-{uuid.uuid4().hex[:6]}"
    daemon.ok("run", "--name", name, "busybox", "sh", "-c",
              "echo data > /x && rm /etc/passwd && mkdir -p /opq && touch /opq/f")
    try:
        out = daemon.ok("commit", "-m", "my message", "-a", "Ann <a@b>", "-c",
                        'CMD ["cat","/x"]', "-c", "ENV FOO=bar", name, f"{repo}:v1").strip()
        assert out.startswith("sha256:") and len(out) == 71
        assert daemon.ok("run", "--rm", f"{repo}:v1") == "data\n"
        assert daemon.ok("run", "--rm", f"{repo}:v1", "sh", "-c",
                         "test -e /etc/passwd || echo gone; echo $FOO") == "gone\nbar\n"
        image = json.loads(daemon.ok("image", "inspect", f"{repo}:v1"))[0]
        assert image["Id"] == out and image["Author"] == "Ann <a@b>"
        assert image["Config"]["Cmd"] == ["cat", "/x"]
        assert image["Parent"] == inspect(daemon, name)["Image"]
        assert len(image["RootFS"]["Layers"]) == 2
        again = daemon.ok("container", "commit", name, f"{repo}:alias").strip()
        assert again.startswith("sha256:")          # `container commit` is the same command
        history = daemon.ok("history", "--no-trunc", f"{repo}:v1").splitlines()
        assert "my message" in history[1] and "echo data > /x" in history[1]
        # a commit of the committed image's container keeps the deletion
        second = _name()
        daemon.ok("run", "--name", second, f"{repo}:v1", "true")
        daemon.ok("commit", second, f"{repo}:v2")
        assert daemon.ok("run", "--rm", f"{repo}:v2", "ls", "/etc").split().count("passwd") == 0
        daemon.cli("rm", "-f", second)
    finally:
        daemon.cli("rm", "-f", name)
        daemon.cli("rmi", "-f", f"{repo}:v1", f"{repo}:v2", f"{repo}:alias")


def test_commit_docker_cli_and_running_container(daemon: Daemon) -> None:
    name, repo = _name(), f"dk-{uuid.uuid4().hex[:6]}"
    daemon.ok("run", "-d", "--name", name, "busybox", "sh", "-c",
              "echo live > /y && exec sleep 1000")
    try:
        for _ in range(100):
            if daemon.cli("exec", name, "test", "-e", "/y").returncode == 0:
                break
        since = str(int(time.time()) - 1)
        result = daemon.docker("commit", "-m", "from docker", "-c", "WORKDIR /srv", name, repo)
        assert result.returncode == 0, result.stderr
        events = daemon.docker("events", "--since", since, "--until", str(int(time.time()) + 1),
                               "--filter", f"container={name}", "--format",
                               "{{.Action}}").stdout.split()
        wanted = [e for e in events if e in ("pause", "unpause", "commit")]
        assert wanted == ["pause", "unpause", "commit"]     # frozen while its layer is read
        assert result.stdout.strip().startswith("sha256:")
        state = inspect(daemon, name)["State"]
        assert state["Running"] and not state["Paused"]      # committing doesn't stop it
        assert daemon.docker("run", "--rm", repo, "cat", "/y").stdout == "live\n"
        assert daemon.docker("run", "--rm", repo, "pwd").stdout == "/srv\n"
        history = daemon.docker("history", "--format", "{{.Comment}}", repo).stdout
        assert history.splitlines()[0] == "from docker"
        assert daemon.docker("commit", "--pause=false", name, f"{repo}:nopause").returncode == 0
        missing = daemon.docker("commit", "no-such-container")
        assert missing.returncode == 1 and "No such container: no-such-container" in \
            missing.stderr
    finally:
        daemon.cli("rm", "-f", name)
        daemon.cli("rmi", "-f", repo, f"{repo}:nopause")


def test_commit_docker_py_and_empty_diff(daemon: Daemon, docker_client: Any) -> None:
    name, repo = _name(), f"py-{uuid.uuid4().hex[:6]}"
    container = docker_client.containers.run("busybox", ["sh", "-c", "echo py > /z"],
                                             name=name, detach=True)
    try:
        container.wait()
        image = container.commit(repository=repo, tag="t", message="py commit",
                                 changes=['LABEL origin=py'])
        assert image.labels["origin"] == "py"
        assert docker_client.containers.run(f"{repo}:t", ["cat", "/z"], remove=True) == b"py\n"
        # a Config in the body replaces the container's; what it leaves empty is merged in
        conf = container.commit(repository=repo, tag="conf",
                                conf={"Cmd": ["cat", "/z"], "Env": ["A=1"]})
        assert conf.attrs["Config"]["Cmd"] == ["cat", "/z"] and "A=1" in conf.attrs["Config"]["Env"]
        assert docker_client.containers.run(f"{repo}:conf", remove=True) == b"py\n"
        empty = docker_client.containers.run("busybox", ["true"], detach=True)
        empty.wait()        # ran: its mount points exist, yet nothing changed
        try:
            committed = empty.commit()
            parent = docker_client.images.get("busybox")
            assert committed.attrs["RootFS"]["Layers"] == parent.attrs["RootFS"]["Layers"]
            assert committed.history()[0]["Size"] == 0
        finally:
            empty.remove(force=True)
            docker_client.images.remove(committed.id, force=True)
    finally:
        container.remove(force=True)
        daemon.cli("rmi", "-f", f"{repo}:t", f"{repo}:conf")
