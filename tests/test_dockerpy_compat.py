"""Behaviours docker-py (and its own integration suite) relies on, checked with docker-py."""
from __future__ import annotations

import json
import time

import pytest

from conftest import Daemon


def test_sigkill_waits_for_the_exit(docker_client) -> None:
    for sig in (None, "KILL"):  # the default signal and an explicit SIGKILL alike
        container = docker_client.containers.run("busybox", ["sleep", "300"], detach=True)
        try:
            container.kill(sig)
            container.reload()  # no polling: kill returned once the container had stopped
            assert container.status == "exited"
            assert container.attrs["State"]["ExitCode"] == 137
            container.remove()  # not running any more, so no force needed
        except BaseException:
            container.remove(force=True)
            raise


def test_kill_with_signal_does_not_wait(docker_client) -> None:
    container = docker_client.containers.run(
        "busybox", ["sh", "-c", "trap 'sleep 1; exit 3' TERM; while :; do sleep 1; done"],
        detach=True)
    try:
        time.sleep(0.3)  # let the shell install its trap
        container.kill("SIGTERM")
        container.reload()
        assert container.status == "running"
        assert container.wait(timeout=10)["StatusCode"] == 3
    finally:
        container.remove(force=True)


def test_exec_of_missing_command_is_126(docker_client) -> None:
    container = docker_client.containers.run("busybox", ["sleep", "300"], detach=True)
    try:
        code, output = container.exec_run("no-such-command")
        assert code == 126
        assert b'exec: "no-such-command": executable file not found in $PATH' in output
        assert container.exec_run("true").exit_code == 0
    finally:
        container.remove(force=True)


def test_load_error_is_in_the_stream(daemon: Daemon, docker_client) -> None:
    import docker

    before = sorted(i.id for i in docker_client.images.list(all=True))
    with pytest.raises(docker.errors.ImageLoadError):
        docker_client.images.load(b"abc")
    response = docker_client.api._post(docker_client.api._url("/images/load"), data=b"abc")
    assert response.status_code == 200  # as dockerd: the error is a line of the JSON stream
    line = json.loads(response.text.splitlines()[0])
    assert line["error"] and line["errorDetail"]["message"] == line["error"]
    assert sorted(i.id for i in docker_client.images.list(all=True)) == before
    result = daemon.cli("load", "-i", "/dev/null")
    assert result.returncode == 1 and result.stderr.strip()


def test_diff_shows_only_the_containers_own_changes(daemon: Daemon, docker_client) -> None:
    container = docker_client.containers.run(
        "busybox", ["sh", "-c", "cat /etc/hostname /etc/hosts /etc/resolv.conf >/dev/null "
                    "&& touch /test"], detach=True)
    try:
        assert container.wait(timeout=30)["StatusCode"] == 0
        # the network files' mount points live in the init layer, not the writable one
        assert container.diff() == [{"Path": "/test", "Kind": 1}]
        assert daemon.ok("diff", container.id) == "A /test\n"
        # restarting mounts the same layers again
        container.start()
        assert container.wait(timeout=30)["StatusCode"] == 0
        assert container.diff() == [{"Path": "/test", "Kind": 1}]
        image = container.commit("initlayer", "probe")
        try:
            layer = docker_client.images.get("initlayer:probe").history()[0]
            assert layer["Size"] == 0  # only the empty /test: no mount points
            run = docker_client.containers.run("initlayer:probe", ["ls", "-a", "/"],
                                               remove=True).decode().split()
            assert "test" in run and ".dockerenv" in run
        finally:
            docker_client.images.remove(image.id, force=True)
    finally:
        container.remove(force=True)


def test_init_layer_keeps_the_images_directories(docker_client) -> None:
    """The init layer's /etc has the image's mode and owner, so the merged view is the
    image's own: an /etc that is 0750 www-data in the image stays so in its containers."""
    base = docker_client.containers.run("busybox", ["sh", "-c", "chmod 750 /etc && "
                                                    "chown 33:33 /etc"], detach=True)
    try:
        assert base.wait(timeout=30)["StatusCode"] == 0
        image = base.commit("initlayer", "mode")
    finally:
        base.remove(force=True)
    try:
        out = docker_client.containers.run(
            "initlayer:mode", ["sh", "-c", "stat -c '%a %U' /etc; ls -l /etc/mtab; "
                               "cat /etc/hostname"], hostname="probe",
            remove=True).decode().splitlines()
        assert out[0] == "750 www-data"
        assert out[1].endswith("/etc/mtab -> /proc/mounts")
        assert out[2] == "probe"
    finally:
        docker_client.images.remove(image.id, force=True)


def test_commit_while_the_container_exits(docker_client) -> None:
    """docker-py's commit test: start a short command and commit at once (pause=True); the
    container exiting mid-commit must not turn into a 500 from the vanished freezer cgroup."""
    api = docker_client.api
    for _ in range(10):
        container = api.create_container("busybox", ["touch", "/test"])
        try:
            api.start(container)
            image = api.commit(container["Id"])["Id"]
            assert {"Deleted": image} in api.remove_image(image, force=True)
        finally:
            api.remove_container(container, force=True)
