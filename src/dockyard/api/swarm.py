"""The swarm family (/swarm, /nodes, /services, /tasks, /secrets, /configs). dockyard is a
single-host engine that never joins a swarm, so these answer as Docker does on a node outside
one: 503 with Docker's texts (docker-py's `leave_swarm(force=True)` counts that as success),
and joining or creating a swarm is refused the same way."""
from __future__ import annotations

from aiohttp import web

from ..errors import Unavailable

routes = web.RouteTableDef()

NO_SWARM = "This node is not part of a swarm"
NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm '
               'join" to connect this node to swarm and try again.')
UNSUPPORTED = "dockyard does not support swarm mode"


@routes.post("/swarm/leave")
@routes.post("/swarm/unlock")
async def not_in_swarm(request: web.Request) -> web.Response:
    raise Unavailable(NO_SWARM)


@routes.post("/swarm/init")
@routes.post("/swarm/join")
async def unsupported(request: web.Request) -> web.Response:
    raise Unavailable(UNSUPPORTED)


@routes.route("*", "/swarm")
@routes.route("*", "/swarm/{tail:.*}")
@routes.route("*", "/{kind:nodes|services|tasks|secrets|configs}")
@routes.route("*", "/{kind:nodes|services|tasks|secrets|configs}/{tail:.*}")
async def not_manager(request: web.Request) -> web.Response:
    raise Unavailable(NOT_MANAGER)
