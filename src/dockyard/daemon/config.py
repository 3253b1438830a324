"""Daemon settings: dockerd's flag names and daemon.json keys (flags win over the file)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SOCKET = "unix:///run/dockyard/dockyard.sock"
DEFAULT_DATA_ROOT = "/var/lib/dockyard"
DEFAULT_CONFIG_FILE = "/etc/dockyard/daemon.json"
DEFAULT_PIDFILE = "/run/dockyard/dockyardd.pid"


@dataclass(frozen=True)
class TLSSettings:
    verify: bool                  # require and verify client certificates (mutual TLS)
    ca: str | None
    cert: str | None
    key: str | None


@dataclass
class DaemonConfig:
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_SOCKET])
    data_root: str = DEFAULT_DATA_ROOT
    pidfile: str = DEFAULT_PIDFILE
    debug: bool = False
    log_level: str = "info"
    default_runtime: str = "dockyard"
    runtimes: dict[str, Any] = field(default_factory=dict)
    shutdown_timeout: float = 15.0
    # container DNS (daemon.json dns, dns-search, dns-opts, host-gateway-ip)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_opts: list[str] = field(default_factory=list)
    host_gateway_ips: list[str] = field(default_factory=list)
    tls: TLSSettings | None = None      # None: TCP hosts are served in the clear
    raw: dict[str, Any] = field(default_factory=dict)


_KNOWN_KEYS = {"hosts", "data-root", "pidfile", "debug", "log-level", "default-runtime",
               "runtimes", "registry-mirrors", "insecure-registries", "log-driver", "log-opts",
               "max-concurrent-downloads", "max-concurrent-uploads", "live-restore",
               "storage-driver", "exec-root", "experimental", "features", "group",
               "shutdown-timeout", "dns", "dns-search", "dns-opts", "host-gateway-ip",
               "host-gateway-ips", "plugin-dirs", "bridge", "bip", "default-address-pools",
               "iptables", "nftables-table", "userland-proxy", "mtu", "ip-forward", "icc",
               "ip-masq", "tls", "tlsverify", "tlscacert", "tlscert", "tlskey"}


def load(path: str | None, explicit: bool, flags: dict[str, Any]) -> DaemonConfig:
    """Merge the config file with flags. A missing default file is fine; a missing explicit
    one, unknown keys or a key given both ways are errors, as in dockerd."""
    data: dict[str, Any] = {}
    if path and (explicit or os.path.exists(path)):
        try:
            with open(path, "rb") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise SystemExit(f"unable to configure the Docker daemon with file {path}: "
                             "open failed: no such file or directory") from None
        except ValueError as exc:
            raise SystemExit(f"unable to configure the Docker daemon with file {path}: "
                             f"{exc}") from None
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise SystemExit(f"the following directives don't match any configuration option: "
                         f"{', '.join(unknown)}")
    clash = [k for k, v in flags.items() if v not in (None, (), []) and k in data]
    if clash:
        raise SystemExit("the following directives are specified both as a flag and in the "
                         f"configuration file: {', '.join(clash)}")
    cfg = DaemonConfig(raw=data)
    hosts = list(flags.get("hosts") or data.get("hosts") or [DEFAULT_SOCKET])
    cfg.hosts = hosts
    cfg.data_root = flags.get("data-root") or data.get("data-root") or DEFAULT_DATA_ROOT
    cfg.pidfile = flags.get("pidfile") or data.get("pidfile") or DEFAULT_PIDFILE
    cfg.debug = bool(flags.get("debug") or data.get("debug"))
    cfg.log_level = flags.get("log-level") or data.get("log-level") or \
        ("debug" if cfg.debug else "info")
    cfg.default_runtime = data.get("default-runtime", "dockyard")
    cfg.runtimes = dict(data.get("runtimes") or {})
    timeout = flags.get("shutdown-timeout")
    if timeout is None:
        timeout = data.get("shutdown-timeout", 15)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise SystemExit(f"invalid shutdown-timeout {timeout!r}: want seconds >= 0")
    cfg.shutdown_timeout = float(timeout)
    _load_dns(cfg, data)
    cfg.tls = _load_tls(flags, data)
    for key in ("registry-mirrors", "insecure-registries", "max-concurrent-downloads",
                "max-concurrent-uploads"):
        if flags.get(key) is not None:       # the registry service reads them from raw
            cfg.raw[key] = flags[key]
    return cfg


def _load_tls(flags: dict[str, Any], data: dict[str, Any]) -> TLSSettings | None:
    """dockerd's rules: --tlsverify (or DOCKER_TLS_VERIFY) turns TLS on; certificates
    default to ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH (else ~/.docker), a default
    file that does not exist being left out."""
    def setting(key: str) -> Any:
        return flags.get(key) if flags.get(key) is not None else data.get(key)

    verify = setting("tlsverify")
    if verify is None:
        verify = bool(os.environ.get("DOCKER_TLS_VERIFY"))
    if not (setting("tls") or verify):
        return None
    cert_dir = os.environ.get("DOCKER_CERT_PATH") or \
        os.path.join(os.path.expanduser("~"), ".docker")

    def path(key: str, default: str) -> str | None:
        given = setting(key)
        if given:
            return str(given)
        candidate = os.path.join(cert_dir, default)
        return candidate if os.path.exists(candidate) else None

    return TLSSettings(bool(verify), path("tlscacert", "ca.pem"), path("tlscert", "cert.pem"),
                       path("tlskey", "key.pem"))


def _load_dns(cfg: DaemonConfig, data: dict[str, Any]) -> None:
    """Container DNS defaults; dockerd's texts for bad values."""
    import ipaddress

    from .. import dnsopts

    def strings(key: str) -> list[str]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SystemExit(f"invalid {key}: want a list of strings")
        return list(value)

    def ip(value: str, what: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise SystemExit(f"{what}: IP address is not correctly formatted: "
                             f"{value}") from None

    cfg.dns = [ip(v, "invalid dns") for v in strings("dns")]
    cfg.dns_search = strings("dns-search")
    for domain in cfg.dns_search:
        try:
            dnsopts.dns_search_flag(domain)
        except ValueError as exc:
            raise SystemExit(f"invalid dns-search: {exc}") from None
    cfg.dns_opts = strings("dns-opts")
    gateways = strings("host-gateway-ips")
    single = data.get("host-gateway-ip")
    if single is not None:
        if not isinstance(single, str):
            raise SystemExit("invalid host-gateway-ip: want a string")
        gateways.insert(0, single)
    cfg.host_gateway_ips = [ip(v, "invalid host-gateway-ip") for v in gateways]
