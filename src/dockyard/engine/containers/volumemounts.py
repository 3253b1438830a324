"""The container side of volumes: at create the volumes a container names are claimed
(named ones from -v/--mount, those of --volumes-from, anonymous ones for the image's VOLUME
and `-v /path`) and listed in its record's `Mounts`, which stays the list of what it
mounts; at start they are mounted (driver-mounted ones counted) and filled from the image
(copy-up); when it stops the counts go down; when it is removed its references go."""
from __future__ import annotations

import os
import posixpath
from typing import Any

from ...errors import InvalidParameter, NotFound
from ...linux.securejoin import secure_join
from ..volumes import anonymous, copyup
from .context import Service
from .model import Container
from .mounts import MountSpec


def claim(service: Service, cid: str, host_config: dict[str, Any], config: dict[str, Any],
          specs: list[MountSpec]) -> list[dict[str, Any]]:
    """Mount points of the container's volumes and of the binds it takes over from
    --volumes-from, in Docker's order of precedence: its own mounts, then --volumes-from,
    then anonymous volumes. Blocks (database writes); undone by `service.volumes.release`."""
    volumes = service.volumes
    default_driver = str(host_config.get("VolumeDriver") or "")
    points: list[dict[str, Any]] = []
    covered = {s.destination for s in specs}
    for spec in specs:
        if spec.kind != "volume":
            continue
        volume = volumes.claim(spec.name, cid, spec.driver or default_driver,
                               spec.driver_options, spec.labels)
        spec.name, spec.source, spec.driver = volume["Name"], volume["Mountpoint"], \
            volume["Driver"]
        if spec.driver == "local" and not spec.mode:
            spec.mode = "z"         # moby gives a named local volume's empty mode "z"
        points.append(spec.mount_point())
    for ref in host_config.get("VolumesFrom") or []:
        name, _, mode = str(ref).partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidParameter(f"invalid mode: {mode}")
        try:
            other = service.get(name)
        except NotFound:
            raise NotFound(f"No such container: {name}") from None
        for point in other.record.get("Mounts") or []:
            if point["Destination"] in covered:
                continue
            # as moby: read-only if either side says so; the mode text is not taken over
            entry = dict(point, Mode="", RW=bool(point.get("RW", True)) and mode != "ro")
            if entry["Type"] == "volume":
                volumes.claim(entry["Name"], cid, entry.get("Driver") or "")
            covered.add(entry["Destination"])
            points.append(entry)
    for path in anonymous.paths(host_config, config, covered):
        volume = volumes.claim("", cid, default_driver)
        points.append(MountSpec("volume", path, volume["Mountpoint"], name=volume["Name"],
                                driver=volume["Driver"]).mount_point())
    return points


def start_mounts(service: Service, container: Container, specs: list[MountSpec]
                 ) -> list[MountSpec]:
    """What start mounts: the binds and tmpfs of `specs`, and every volume (and
    --volumes-from bind) of the record's `Mounts`, each volume mounted by its driver and
    an empty new one filled from the image. Runs in a thread after the rootfs is
    mounted; on failure the caller undoes it with `stop_mounts`."""
    by_destination = {s.destination: s for s in specs}
    result = [s for s in specs if s.kind != "volume"]
    for point in container.record.get("Mounts") or []:
        destination = point["Destination"]
        given = by_destination.get(destination)
        if point["Type"] == "bind" and given is None:
            result.append(MountSpec("bind", destination, point["Source"],
                                    readonly=not point.get("RW", True),
                                    propagation=point.get("Propagation") or ""))
            continue
        if point["Type"] != "volume":
            continue
        path = service.volumes.mount(point["Name"], container.id)
        nocopy = bool(given and given.nocopy)
        subpath = given.subpath if given else ""
        if subpath:
            path = _subpath(path, subpath)
        elif not nocopy and copyup.is_empty(path):
            copyup.copy_up(secure_join(container.rootfs, destination), path)
        result.append(MountSpec("volume", destination, path, readonly=not point.get("RW", True),
                                name=point["Name"]))
        service.events.emit("volume", "mount", point["Name"], {
            "container": container.id, "destination": destination,
            "driver": point.get("Driver") or "local", "propagation": "",
            "read/write": "true" if point.get("RW", True) else "false"})
    return result


def _subpath(root: str, subpath: str) -> str:
    path = secure_join(root, subpath)
    if not os.path.exists(path):
        raise InvalidParameter(f"cannot access path {posixpath.join(root, subpath)}: "
                               "no such file or directory")
    return path


def stop_mounts(service: Service, container: Container) -> None:
    """The container's process is gone: its volumes lose a user (unmount events)."""
    service.volumes.unmount(container.id)
    for point in container.record.get("Mounts") or []:
        if point["Type"] == "volume":
            service.events.emit("volume", "unmount", point["Name"], {
                "container": container.id, "driver": point.get("Driver") or "local"})
