"""docker-py's network, volume and build calls against our daemon, one test per conformance
gap found by running docker-py's own integration suite (the fixes' regression tests)."""
from __future__ import annotations

from typing import Iterator

import pytest

from conftest import Daemon, remove_new_images


@pytest.fixture(scope="module", autouse=True)
def _builds_leave_no_images(daemon: Daemon) -> Iterator[None]:
    yield from remove_new_images(daemon)


def test_swarm_family_answers_as_a_node_outside_a_swarm(docker_client) -> None:
    import docker

    api = docker_client.api
    assert api.leave_swarm(force=True) is True       # docker-py's teardown: 503 counts as left
    with pytest.raises(docker.errors.APIError) as err:
        api.leave_swarm()
    assert err.value.status_code == 503
    assert err.value.explanation == "This node is not part of a swarm"
    for call in (api.inspect_swarm, api.nodes, api.services, api.tasks, api.secrets,
                 api.configs):
        with pytest.raises(docker.errors.APIError) as err:
            call()
        assert err.value.status_code == 503
        assert "This node is not a swarm manager." in err.value.explanation
    with pytest.raises(docker.errors.APIError) as err:
        api.init_swarm("127.0.0.1")
    assert err.value.status_code == 503


def test_endpoint_link_alias_resolves_a_target_that_joins_later(docker_client) -> None:
    import docker

    api = docker_client.api
    net = docker_client.networks.create("dy-conf-links")
    ids: list[str] = []
    try:
        def start(name: str | None, links: list | None = None) -> str:
            endpoint = api.create_endpoint_config(links=links) if links else None
            container = api.create_container(
                "busybox", ["sleep", "300"], name=name,
                host_config=api.create_host_config(network_mode=net.name),
                networking_config=api.create_networking_config(
                    {net.name: endpoint} if endpoint else None))
            ids.append(container["Id"])
            api.start(container)
            return container["Id"]

        client = start(None, [("dy-conf-upstream", "bar")])
        settings = api.inspect_container(client)["NetworkSettings"]["Networks"][net.name]
        assert settings["Links"] == ["dy-conf-upstream:bar"]
        upstream = start("dy-conf-upstream")
        address = api.inspect_container(upstream)["NetworkSettings"]["Networks"][
            net.name]["IPAddress"]
        exec_id = api.exec_create(client, ["nslookup", "bar"])
        output = api.exec_start(exec_id).decode()
        assert api.exec_inspect(exec_id)["ExitCode"] == 0, output
        assert address in output
        # the alias is the linking endpoint's alone: the target does not see it
        exec_id = api.exec_create(upstream, ["nslookup", "bar"])
        api.exec_start(exec_id)
        assert api.exec_inspect(exec_id)["ExitCode"] != 0
        with pytest.raises(docker.errors.APIError) as err:
            start(None, [":x"])
        assert err.value.status_code == 400 and "Invalid link format" in err.value.explanation
    finally:
        for cid in ids:
            api.remove_container(cid, force=True)
        net.remove()


def _build(api, dockerfile: str, **kwargs) -> list[dict]:
    import io

    return list(api.build(fileobj=io.BytesIO(dockerfile.encode()), decode=True, **kwargs))


def test_build_labels_are_a_last_step_even_on_scratch(docker_client) -> None:
    api = docker_client.api
    labels = {"test": "OK", "quote's": "it's $HOME"}
    lines = _build(api, "FROM scratch", tag="dy-conf-labels", labels=labels)
    try:
        streams = [line.get("stream", "") for line in lines]
        assert not [line for line in lines if "error" in line], lines
        # one step per label, sorted, shown unquoted and never expanded
        assert "Step 2/3 : LABEL quote's=it's $HOME\n" in streams, streams
        assert "Step 3/3 : LABEL test=OK\n" in streams, streams
        assert api.inspect_image("dy-conf-labels")["Config"]["Labels"] == labels
    finally:
        api.remove_image("dy-conf-labels")
    lines = _build(api, "FROM scratch")
    assert lines[-1]["error"] == "No image was generated. Is your Dockerfile empty?"


def test_build_stderr_is_painted_red(docker_client) -> None:
    lines = _build(docker_client.api, 'FROM busybox\nRUN sh -c ">&2 echo to-stderr; echo out"',
                   nocache=True, rm=True)
    streams = [line.get("stream") for line in lines]
    assert "\x1b[91mto-stderr\n\x1b[0m" in streams, streams
    assert "out\n" in streams


def test_network_mode_by_id_for_run_and_build(docker_client) -> None:
    api = docker_client.api
    net = docker_client.networks.create("dy-conf-byid")
    ids: list[str] = []
    try:
        target = api.create_container("busybox", ["sleep", "300"])
        ids.append(target["Id"])
        api.start(target)
        api.connect_container_to_network(target, net.id, aliases=["pingtarget.dy"])
        by_id = api.create_container("busybox", ["true"],
                                     host_config=api.create_host_config(network_mode=net.id))
        ids.append(by_id["Id"])
        info = api.inspect_container(by_id)
        assert list(info["NetworkSettings"]["Networks"]) == ["dy-conf-byid"]
        lines = _build(api, "FROM busybox\nRUN ping -c1 -W2 pingtarget.dy",
                       network_mode=net.id, nocache=True, rm=True)
        assert not [line for line in lines if "error" in line], lines
    finally:
        for cid in ids:
            api.remove_container(cid, force=True)
        net.remove()


def test_remove_link_drops_the_parents_link_only(docker_client) -> None:
    import docker

    api = docker_client.api
    target = api.create_container("busybox", ["sleep", "300"], name="dy-conf-lk-target")
    parent = api.create_container(
        "busybox", ["sleep", "300"], name="dy-conf-lk-parent",
        host_config=api.create_host_config(links={"dy-conf-lk-target": "mylink"}))
    try:
        api.start(target)
        api.start(parent)
        api.remove_container("dy-conf-lk-parent/mylink", link=True)
        assert not api.inspect_container(parent)["HostConfig"]["Links"]
        assert {c["Id"] for c in api.containers()} >= {target["Id"], parent["Id"]}
        for name, status in (("dy-conf-lk-parent/mylink", 404), ("dy-conf-lk-target", 409)):
            with pytest.raises(docker.errors.APIError) as err:
                api.remove_container(name, link=True)
            assert err.value.status_code == status
    finally:
        api.remove_container(parent, force=True)
        api.remove_container(target, force=True)
