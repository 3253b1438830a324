"""Our nftables tables, written through libnftables' JSON API (ctypes on libnftables.so.1).

Why the whole table in one transaction: the rules follow from the records (networks and
published ports), so every change writes the table anew — add, delete, add and fill it in
one atomic batch. A crash leaves either the old table or the new, and the reconcile at start
removes whatever a crashed daemon left. Each daemon owns its table (`nftables-table`), so
concurrent daemons never touch each other's rules; nothing else on the host is touched.

Tables: `ip <name>` with NAT (published ports as DNAT, masquerade out of non-internal
networks) and the forward filter (isolation between networks, internal networks);
`ip6 <name>` the same filter and DNAT for ports published to IPv6 host addresses;
`bridge <name>` drops IP between the bridge ports of a network with ICC off (matched by
port: this kernel's nftables may lack the bridge-name match)."""
from __future__ import annotations

import ctypes
import ipaddress
import json
import threading
from dataclasses import dataclass
from typing import Any

from ...errors import DockyardError

_OUTPUT_JSON = 1 << 4   # NFT_CTX_OUTPUT_JSON


@dataclass
class BridgeNet:
    bridge: str
    subnet: str
    internal: bool
    icc: bool
    ports: list[str]             # host ends of its endpoints' veths (bridge ports)
    masquerade: bool = True
    subnet6: str = ""


@dataclass
class Forward:
    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int
    bridge: str


class Nft:
    """A libnftables context; commands in, JSON out, errors raised with nft's text."""

    def __init__(self) -> None:
        try:
            lib = ctypes.CDLL("libnftables.so.1")
        except OSError as exc:
            raise DockyardError(f"nftables unavailable (apt-get install nftables): {exc}") \
                from None
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
            getattr(lib, name).restype = ctypes.c_char_p
        self._lib = lib
        self._ctx = lib.nft_ctx_new(0)
        lib.nft_ctx_output_set_flags(self._ctx, _OUTPUT_JSON)
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)
        self._lock = threading.Lock()

    def run(self, commands: list[dict[str, Any]] | str) -> Any:
        text = commands if isinstance(commands, str) else json.dumps({"nftables": commands})
        with self._lock:
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
            out = self._lib.nft_ctx_get_output_buffer(self._ctx) or b""
            err = self._lib.nft_ctx_get_error_buffer(self._ctx) or b""
        if rc != 0:
            raise DockyardError(f"nftables: {err.decode(errors='replace').strip()}")
        return json.loads(out) if out.strip() else None


class Firewall:
    def __init__(self, table: str, userland_proxy: bool) -> None:
        self.table = table
        self.userland_proxy = userland_proxy
        self.nft = Nft()

    def apply(self, nets: list[BridgeNet], forwards: list[Forward]) -> None:
        """Replace both tables with the rules these networks and forwards need."""
        self.nft.run(self._reset() + self._ip_table(nets, forwards) +
                     self._ip6_table(nets, forwards) + self._bridge_table(nets))

    def remove(self) -> None:
        self.nft.run(self._reset())

    def tables(self) -> list[str]:
        listed = self.nft.run("list tables") or {}
        return [f"{i['table']['family']} {i['table']['name']}"
                for i in listed.get("nftables", []) if "table" in i]

    def _reset(self) -> list[dict[str, Any]]:
        out = []
        for family in ("ip", "ip6", "bridge"):
            table = {"family": family, "name": self.table}
            out += [{"add": {"table": table}}, {"delete": {"table": table}}]
        return out

    def _chain(self, family: str, name: str, **hook: Any) -> dict[str, Any]:
        chain = {"family": family, "table": self.table, "name": name}
        if hook:
            chain.update(hook, policy="accept")
        return {"add": {"chain": chain}}

    def _rule(self, family: str, chain: str, *expr: dict[str, Any]) -> dict[str, Any]:
        return {"add": {"rule": {"family": family, "table": self.table, "chain": chain,
                                 "expr": list(expr)}}}

    def _ip_table(self, nets: list[BridgeNet], forwards: list[Forward]) -> list[dict[str, Any]]:
        rule = lambda chain, *e: self._rule("ip", chain, *e)  # noqa: E731
        out: list[dict[str, Any]] = [
            {"add": {"table": {"family": "ip", "name": self.table}}},
            self._chain("ip", "ports"),
            self._chain("ip", "prerouting", type="nat", hook="prerouting", prio=-100),
            self._chain("ip", "output", type="nat", hook="output", prio=-100),
            self._chain("ip", "postrouting", type="nat", hook="postrouting", prio=100),
            self._chain("ip", "forward", type="filter", hook="forward", prio=0),
            rule("prerouting", _eq({"fib": {"result": "type", "flags": ["daddr"]}}, "local"),
                 {"jump": {"target": "ports"}}),
        ]
        local = [_eq({"fib": {"result": "type", "flags": ["daddr"]}}, "local")]
        if self.userland_proxy:  # loopback is the proxy's: NAT can't answer it
            local.append(_ne(_field("ip", "daddr"), _prefix("127.0.0.0/8")))
        out.append(rule("output", *local, {"jump": {"target": "ports"}}))
        # a published port is reachable from anywhere, other networks included: what DNAT
        # let in passes the isolation below
        out.append(rule("forward", {"match": {"op": "in", "left": {"ct": {"key": "status"}},
                                              "right": "dnat"}}, {"accept": None}))
        bridges = [n.bridge for n in nets]
        for net in nets:
            others = [b for b in bridges if b != net.bridge]
            if net.internal:
                out.append(rule("forward", _eq(_meta("iifname"), net.bridge),
                                _ne(_meta("oifname"), net.bridge), {"drop": None}))
                out.append(rule("forward", _eq(_meta("oifname"), net.bridge),
                                _ne(_meta("iifname"), net.bridge), {"drop": None}))
                continue
            if others:
                out.append(rule("forward", _eq(_meta("iifname"), net.bridge),
                                _eq(_meta("oifname"), {"set": others}), {"drop": None}))
            if net.masquerade:
                out.append(rule("postrouting", _eq(_field("ip", "saddr"),
                                                   _prefix(net.subnet)),
                                _ne(_meta("oifname"), net.bridge), {"masquerade": None}))
            if not self.userland_proxy:  # DNAT'ed loopback: the container can't answer 127/8
                out.append(rule("postrouting", _eq(_field("ip", "saddr"),
                                                   _prefix("127.0.0.0/8")),
                                _eq(_meta("oifname"), net.bridge), {"masquerade": None}))
        for fwd in forwards:
            if ":" in fwd.container_ip or ":" in fwd.host_ip:
                continue          # the ip6 table's, or (IPv6 host, IPv4 container) the proxy's
            out.append(rule("ports", *self._dnat("ip", "0.0.0.0", fwd)))
            if not self.userland_proxy:   # hairpin: a container reaching its own mapping
                out.append(rule("postrouting", _eq(_field("ip", "saddr"), fwd.container_ip),
                                _eq(_field("ip", "daddr"), fwd.container_ip),
                                _eq(_field(fwd.proto, "dport"), fwd.container_port),
                                {"masquerade": None}))
        return out

    def _ip6_table(self, nets: list[BridgeNet], forwards: list[Forward]
                   ) -> list[dict[str, Any]]:
        """IPv6 is routed, not masqueraded (dockerd's default before ip6tables NAT): the
        isolation between networks and of internal ones, as for IPv4, and DNAT for ports
        published on IPv6 host addresses."""
        if not any(n.subnet6 for n in nets):
            return []
        rule = lambda *e: self._rule("ip6", "forward", *e)  # noqa: E731
        out = [{"add": {"table": {"family": "ip6", "name": self.table}}},
               self._chain("ip6", "forward", type="filter", hook="forward", prio=0)]
        out += self._ip6_ports([f for f in forwards if ":" in f.container_ip])
        bridges = [n.bridge for n in nets]
        for net in nets:
            others = [b for b in bridges if b != net.bridge]
            if net.internal:
                out.append(rule(_eq(_meta("iifname"), net.bridge),
                                _ne(_meta("oifname"), net.bridge), {"drop": None}))
                out.append(rule(_eq(_meta("oifname"), net.bridge),
                                _ne(_meta("iifname"), net.bridge), {"drop": None}))
            elif others:
                out.append(rule(_eq(_meta("iifname"), net.bridge),
                                _eq(_meta("oifname"), {"set": others}), {"drop": None}))
        return out

    def _ip6_ports(self, forwards: list[Forward]) -> list[dict[str, Any]]:
        if not forwards:
            return []
        rule = lambda chain, *e: self._rule("ip6", chain, *e)  # noqa: E731
        local = _eq({"fib": {"result": "type", "flags": ["daddr"]}}, "local")
        out = [self._chain("ip6", "ports"),
               self._chain("ip6", "prerouting", type="nat", hook="prerouting", prio=-100),
               self._chain("ip6", "output", type="nat", hook="output", prio=-100),
               rule("prerouting", local, {"jump": {"target": "ports"}}),
               rule("output", local, _ne(_field("ip6", "daddr"), "::1"),
                    {"jump": {"target": "ports"}}),
               rule("forward", {"match": {"op": "in", "left": {"ct": {"key": "status"}},
                                          "right": "dnat"}}, {"accept": None})]
        for fwd in forwards:
            out.append(rule("ports", *self._dnat("ip6", "::", fwd)))
        return out

    def _dnat(self, family: str, any_ip: str, fwd: Forward) -> list[dict[str, Any]]:
        """A published port's DNAT expression (its host address unless the wildcard; with
        the proxy on, not from the container's own bridge, which the proxy serves)."""
        expr = []
        if fwd.host_ip not in ("", any_ip):
            expr.append(_eq(_field(family, "daddr"), fwd.host_ip))
        if self.userland_proxy:
            expr.append(_ne(_meta("iifname"), fwd.bridge))
        expr.append(_eq(_field(fwd.proto, "dport"), fwd.host_port))
        expr.append({"dnat": {"addr": fwd.container_ip, "port": fwd.container_port}})
        return expr

    def _bridge_table(self, nets: list[BridgeNet]) -> list[dict[str, Any]]:
        closed = [n for n in nets if not n.icc and n.ports]
        if not closed:
            return []
        out = [{"add": {"table": {"family": "bridge", "name": self.table}}},
               self._chain("bridge", "forward", type="filter", hook="forward", prio=0)]
        for net in closed:
            ports = {"set": net.ports}
            out.append(self._rule("bridge", "forward", _eq(_meta("iifname"), ports),
                                  _eq(_meta("oifname"), ports),
                                  _eq(_field("ether", "type"), "ip"), {"drop": None}))
        return out


def _meta(key: str) -> dict[str, Any]:
    return {"meta": {"key": key}}


def _field(protocol: str, name: str) -> dict[str, Any]:
    return {"payload": {"protocol": protocol, "field": name}}


def _prefix(cidr: str) -> dict[str, Any]:
    net = ipaddress.IPv4Network(cidr, strict=False)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def _eq(left: Any, right: Any) -> dict[str, Any]:
    return {"match": {"op": "==", "left": left, "right": right}}


def _ne(left: Any, right: Any) -> dict[str, Any]:
    return {"match": {"op": "!=", "left": left, "right": right}}
