"""Create: the container's record assembled from the request, the image and Docker's
defaults; written last, so a crash before it leaves nothing a record names."""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
from typing import Any

from ...errors import Conflict, InvalidParameter
from ...timeutil import rfc3339nano
from ..networks import etc_files
from . import mounts, names, options, restart, volumemounts
from .context import Service
from .model import Container, fresh_state


async def create(service: Service, body: dict[str, Any], name: str | None
                 ) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidParameter("config cannot be empty in order to create a container")
    image_ref = body.get("Image") or ""
    if not image_ref:
        raise InvalidParameter("config cannot be empty in order to create a container")
    if name:
        name = names.validate(name)
        if name in service.name_index:
            raise Conflict(f'Conflict. The container name "/{name}" is already in use by '
                           f'container "{service.name_index[name]}". You have to remove (or '
                           "rename) that container to be able to reuse that name.")
    image = service.images.resolve(image_ref)
    host_config = options.normalise_host_config(body.get("HostConfig"),
                                                set(service.runtimes),
                                                service.default_log_config)
    from ...oci.spec import validate
    validate(host_config)
    etc_files.validate(host_config)
    specs = mounts.parse_all(host_config)
    mount_points = mounts.mount_points(specs)
    host_config["RestartPolicy"] = restart.validate(host_config.get("RestartPolicy"))
    config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
    config = options.merge_config(config, image.config)
    options.parse_signal(config.get("StopSignal"), signal.SIGTERM)   # Docker's check
    path, args = options.command_of(config)
    cid = secrets.token_hex(32)
    while cid in service.containers or cid[:12].isdigit():
        cid = secrets.token_hex(32)
    name = name or names.generate(set(service.name_index))
    networks_of_new = service.networks.networks_for_create(
        host_config["NetworkMode"], body.get("NetworkingConfig"), host_config, config, name)
    if not config.get("Hostname"):
        config["Hostname"] = cid[:12] if host_config["NetworkMode"] != "host" \
            else os.uname().nodename
    directory = os.path.join(service.root, cid)
    record: dict[str, Any] = {
        "Id": cid, "Created": rfc3339nano(), "Path": path, "Args": args,
        "State": fresh_state(), "Image": image.id,
        "ResolvConfPath": os.path.join(directory, "resolv.conf"),
        "HostnamePath": os.path.join(directory, "hostname"),
        "HostsPath": os.path.join(directory, "hosts"),
        "LogPath": os.path.join(directory, f"{cid}-json.log")
        if host_config["LogConfig"]["Type"] == "json-file" else "",
        "Name": "/" + name, "RestartCount": 0, "Driver": "overlay2", "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None,
        "HostConfig": host_config, "GraphDriver": {"Name": "overlay2", "Data": {}},
        "Mounts": mount_points, "Config": config,
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {},
            "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Networks": networks_of_new,
        },
    }
    # The record is written last: a crash before it leaves a directory and a writable
    # layer no record names, which restore() removes.
    service.in_flight.add(cid)
    try:
        record["Mounts"] = mount_points + await asyncio.to_thread(
            volumemounts.claim, service, cid, host_config, config, specs)
        os.makedirs(os.path.join(directory, "bundle", "rootfs"), mode=0o710)
        container = Container(record, directory, service.records)
        overlay = service.layers.prepare(cid, image.id)
        record["GraphDriver"]["Data"] = {
            "LowerDir": ":".join(overlay.lowerdirs), "UpperDir": overlay.upperdir,
            "WorkDir": overlay.workdir, "MergedDir": container.rootfs}
        await asyncio.wrap_future(container.save())     # durable before the answer
    except BaseException:
        await asyncio.to_thread(service.volumes.release, cid, True)
        service.layers.remove(cid)
        shutil.rmtree(directory, ignore_errors=True)
        raise
    finally:
        service.in_flight.discard(cid)
    service.containers[cid] = container
    service.name_index[name] = cid
    service.emit(container, "create")
    return {"Id": cid, "Warnings": []}
