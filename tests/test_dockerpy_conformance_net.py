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
