"""What the container service's job modules (creating, starting, exits, listing, restore)
use of the service, as a Protocol: they are handed the service and never import it, so the
service can import them."""
from __future__ import annotations

from typing import Any, Protocol

from ...store.container_records import ContainerRecords
from ..images.layers import WritableLayers
from ..networks.etc_files import DnsSettings
from .inflight import InFlight
from .model import Container
from .table import ContainerTable


class Service(Protocol):
    root: str
    images: Any
    layers: WritableLayers
    runtimes: dict[str, Any]
    containers: ContainerTable
    records: ContainerRecords
    name_index: dict[str, str]
    in_flight: InFlight
    default_log_config: dict[str, Any]
    networks: Any
    volumes: Any                # engine/volumes/service.VolumeService
    events: Any
    dns_settings: DnsSettings

    def get(self, ref: str) -> Container: ...

    def emit(self, container: Container, action: str, **extra: str) -> None: ...

    async def send_signal(self, container: Container, number: int) -> bool: ...

    async def on_exit(self, container: Container, code: int,
                      finished_ns: int | None) -> None: ...

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None: ...

    async def remove_locked(self, container: Container, force: bool,
                            volumes: bool = False) -> None: ...

    async def destroy(self, container: Container, volumes: bool = False) -> None: ...
