"""Turning a create request into a container record: merging with the image, validating."""
from __future__ import annotations

import os
import signal
from typing import Any

from ...errors import InvalidParameter
from ..networks import modes as networks
from .model import DEFAULT_HOST_CONFIG

def merge_config(config: dict[str, Any], image_config: dict[str, Any]) -> dict[str, Any]:
    """Docker's create-time merge of the image's config into the container's."""
    img = image_config.get("config") or {}
    merged = dict(config)
    image_env = list(img.get("Env") or [])
    keys = {e.split("=", 1)[0] for e in config.get("Env") or []}
    merged["Env"] = [e for e in image_env if e.split("=", 1)[0] not in keys] + \
        list(config.get("Env") or [])
    if not config.get("Entrypoint") and config.get("Entrypoint") != [""]:
        merged["Entrypoint"] = img.get("Entrypoint")
        if not config.get("Cmd"):
            merged["Cmd"] = img.get("Cmd")
    elif config.get("Entrypoint") == [""]:
        merged["Entrypoint"] = None
    for key in ("WorkingDir", "User", "StopSignal"):
        if not config.get(key) and img.get(key):
            merged[key] = img[key]
    labels = dict(img.get("Labels") or {})
    labels.update(config.get("Labels") or {})
    merged["Labels"] = labels
    if img.get("ExposedPorts") or config.get("ExposedPorts"):
        merged["ExposedPorts"] = {**(img.get("ExposedPorts") or {}),
                                  **(config.get("ExposedPorts") or {})}
    if img.get("Volumes") or config.get("Volumes"):
        merged["Volumes"] = {**(img.get("Volumes") or {}), **(config.get("Volumes") or {})}
    if img.get("Healthcheck") or config.get("Healthcheck"):
        own = {k: v for k, v in (config.get("Healthcheck") or {}).items() if v}
        merged["Healthcheck"] = {**(img.get("Healthcheck") or {}), **own}
    for key, default in (("Hostname", ""), ("Domainname", ""), ("User", ""),
                         ("AttachStdin", False), ("AttachStdout", False),
                         ("AttachStderr", False), ("Tty", False), ("OpenStdin", False),
                         ("StdinOnce", False), ("WorkingDir", ""), ("OnBuild", None)):
        merged.setdefault(key, default)
    return merged


def command_of(config: dict[str, Any]) -> tuple[str, list[str]]:
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not argv:
        raise InvalidParameter("no command specified")
    return argv[0], argv[1:]


def normalise_host_config(host_config: dict[str, Any] | None, runtimes: set[str],
                          default_log_config: dict[str, Any] | None = None) -> dict[str, Any]:
    merged = dict(DEFAULT_HOST_CONFIG)
    for key, value in (host_config or {}).items():
        if value is not None or key not in merged:
            merged[key] = value
    merged["NetworkMode"] = networks.validate_mode(merged.get("NetworkMode"))
    merged["PidMode"] = _pid_mode(merged.get("PidMode"))
    from .logconfig import validate as validate_log_config
    merged["LogConfig"] = validate_log_config((host_config or {}).get("LogConfig"),
                                              default_log_config)
    runtime = merged.get("Runtime") or "dockyard"
    if runtime not in runtimes:
        raise InvalidParameter(f"unknown or invalid runtime name: {runtime}")
    merged["Runtime"] = runtime
    policy = merged.get("RestartPolicy") or {}
    if merged.get("AutoRemove") and policy.get("Name") not in (None, "", "no"):
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    for key in ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares",
                "CpuQuota", "CpuPeriod"):
        value = merged.get(key) or 0
        if not isinstance(value, int):
            raise InvalidParameter(f"invalid value for {key}: {value!r}")
    if merged.get("NanoCpus") and (merged.get("CpuQuota") or merged.get("CpuPeriod")):
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be "
                               "set")
    if merged.get("Memory") and merged["Memory"] < 6 * 1024 * 1024:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if merged.get("NanoCpus"):
        ncpu = os.cpu_count() or 1
        if merged["NanoCpus"] < 10_000_000 or merged["NanoCpus"] > ncpu * 1_000_000_000:
            raise InvalidParameter(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are "
                                   f"only {ncpu} CPUs available")
    _check_cpuset(merged.get("CpusetCpus"), "cpus", "CPUs")
    _check_cpuset(merged.get("CpusetMems"), "mems", "Memory nodes")
    return merged


def _check_cpuset(text: str | None, what: str, label: str) -> None:
    """Docker's cpuset list check ("0-2,4", every index available): the kernel rejects others
    with errors that would otherwise surface as a 500."""
    if not text:
        return
    highest = -1
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()) or int(high or low) < int(low):
            raise InvalidParameter(f"Invalid value {text} for cpuset {what}")
        highest = max(highest, int(high or low))
    available = f"0-{(os.cpu_count() or 1) - 1}"
    if what == "mems":
        try:
            with open("/sys/devices/system/node/online") as f:
                available = f.read().strip()
        except OSError:
            available = "0"
    if highest > int(available.replace(",", "-").split("-")[-1]):
        raise InvalidParameter(f"Requested {label} are not available - requested {text}, "
                               f"available: {available}")


def parse_signal(value: str | int | None, default: int = signal.SIGKILL) -> int:
    """"SIGTERM", "TERM", "15" → 15; Docker's error text for anything else."""
    if value in (None, ""):
        return default
    text = str(value).strip().upper()
    if text.isdigit():
        number = int(text)
        if 0 < number < 65:
            return number
    else:
        name = text if text.startswith("SIG") else "SIG" + text
        sig = getattr(signal.Signals, name, None) if name in signal.Signals.__members__ \
            else None
        if sig is not None:
            return int(sig)
    raise InvalidParameter(f"Invalid signal: {value}")


def _pid_mode(mode: str | None) -> str:
    """"" (a new PID namespace) or "host"; sharing another container's is not built yet."""
    mode = mode or ""
    if mode.startswith("container:"):
        raise InvalidParameter("container PID mode is not supported yet")
    if mode not in ("", "host"):
        raise InvalidParameter(f"invalid PID mode: {mode}")
    return mode
