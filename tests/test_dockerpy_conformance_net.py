"""docker-py's network, volume and build calls against our daemon, one test per conformance
gap found by running docker-py's own integration suite (the fixes' regression tests)."""
from __future__ import annotations

import pytest


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
