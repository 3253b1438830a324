"""Platforms (os/architecture/variant) as containerd names them: one parser and one
normalisation for pull's `--platform`, import's `--platform`, and the platform matching of
manifest lists and archive indexes."""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import InvalidParameter

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386",
                 "i686": "386", "armhf": "arm", "armel": "arm"}
_KNOWN_OS = {"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js",
             "linux", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows"}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


def normalise(os_name: str, arch: str, variant: str = "") -> Platform:
    """containerd's Normalize: arch aliases; arm64's variant v8 is implied."""
    arch = _ARCH_ALIASES.get(arch.lower(), arch.lower())
    variant = variant.lower()
    if arch == "arm64" and variant in ("8", "v8"):
        variant = ""
    elif arch == "arm":
        variant = "v" + variant if variant.isdigit() else (variant or "v7")
    elif arch == "amd64" and variant == "v1":
        variant = ""
    return Platform(os_name.lower(), arch, variant)


def host() -> Platform:
    machine = os.uname().machine
    if machine.startswith("armv"):
        return normalise("linux", "arm", machine[3:4])
    return normalise("linux", machine)


def parse(text: str | None) -> Platform:
    """"linux/arm64/v8", "linux/amd64", "arm64" (a lone architecture means linux), "linux"
    (the host's architecture); empty means the host."""
    if not text:
        return host()
    parts = text.split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidParameter(f'"{text}": unknown operating system or architecture: '
                               "invalid argument")
    if len(parts) == 1:
        if parts[0].lower() in _KNOWN_OS:
            here = host()
            return normalise(parts[0], here.architecture, here.variant)
        return normalise("linux", parts[0])
    return normalise(parts[0], parts[1], parts[2] if len(parts) == 3 else "")
