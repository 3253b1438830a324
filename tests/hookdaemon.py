"""dockyardd with a recording endpoint hook, as the embedded DNS plugs in: what it is told
(and what it can look up) is written as JSON lines to $DY_HOOK_LOG."""
from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from dockyard.engine.networks import plumbing, service


class Recorder:
    def __init__(self, networks: Any) -> None:
        self.networks = networks

    def write(self, entry: dict[str, Any]) -> None:
        with open(os.environ["DY_HOOK_LOG"], "a") as f:
            f.write(json.dumps(entry) + "\n")

    async def joined(self, container: Any, network: Any, netns_path: str) -> None:
        def addresses_in_netns() -> list[str]:
            with plumbing.netns_route(netns_path) as nsr:
                return sorted(a.get("IFA_ADDRESS") for a in nsr.get_addr(family=2))
        addresses = await asyncio.to_thread(addresses_in_netns)
        self.write({"event": "joined", "container": container.name, "network": network.name,
                    "addresses": addresses,
                    "lookup": self.networks.lookup([network.id], container.name)})

    async def left(self, container: Any, network: Any) -> None:
        self.write({"event": "left", "container": container.name, "network": network.name})


_init = service.NetworkService.__init__


def _with_recorder(self: Any, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **kwargs)
    self.endpoint_hooks.append(Recorder(self))


service.NetworkService.__init__ = _with_recorder  # type: ignore[method-assign]

from dockyard.daemon.main import main  # noqa: E402

main()
