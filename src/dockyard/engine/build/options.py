"""What a build is asked to do: POST /build's query parameters under Python names."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BuildOptions:
    """POST /build's query, as Docker names it."""
    tags: list[str] = field(default_factory=list)
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str | None] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    remove: bool = True
    force_remove: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    target: str = ""
    cache_from: list[str] | None = None
    network_mode: str = ""
    extra_hosts: list[str] = field(default_factory=list)
    shm_size: int = 0
    platform: str = ""
    quiet: bool = False
    memory: int = 0
    memory_swap: int = 0
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    cpu_period: int = 0
    cpu_quota: int = 0
    ulimits: list[dict[str, Any]] = field(default_factory=list)
    remote: str = ""
    source_date_epoch: int | None = None
