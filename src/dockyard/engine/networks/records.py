"""The network service's tables in the metadata database (component "networks") and the
record types read from them. Why tables, not files: connecting a container is a network's
endpoint, an address allocation and port bindings at once; one transaction keeps them whole."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from ...store.db import Database

COMPONENT = "networks"

MIGRATIONS = ["""
CREATE TABLE networks (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, driver TEXT NOT NULL,
    created TEXT NOT NULL, internal INTEGER NOT NULL, attachable INTEGER NOT NULL,
    ipv6 INTEGER NOT NULL, bridge TEXT NOT NULL, subnet TEXT NOT NULL, gateway TEXT NOT NULL,
    ip_range TEXT NOT NULL, options TEXT NOT NULL, labels TEXT NOT NULL,
    ipam_options TEXT NOT NULL, ipam_config TEXT NOT NULL
);
CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    container_id TEXT NOT NULL, container_name TEXT NOT NULL, hostname TEXT NOT NULL,
    ifname TEXT NOT NULL, host_ifname TEXT NOT NULL, mac TEXT NOT NULL, ipv4 TEXT NOT NULL,
    aliases TEXT NOT NULL,
    UNIQUE (network_id, container_id)
);
CREATE TABLE allocations (
    network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    address TEXT NOT NULL, purpose TEXT NOT NULL, endpoint_id TEXT,
    PRIMARY KEY (network_id, address)
);
CREATE TABLE port_bindings (
    container_id TEXT NOT NULL, proto TEXT NOT NULL, container_port INTEGER NOT NULL,
    host_ip TEXT NOT NULL, host_port INTEGER NOT NULL, container_ip TEXT NOT NULL,
    PRIMARY KEY (container_id, proto, container_port, host_ip, host_port)
);
""", """
ALTER TABLE networks ADD COLUMN subnet6 TEXT NOT NULL DEFAULT '';
ALTER TABLE networks ADD COLUMN gateway6 TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN ipv6 TEXT NOT NULL DEFAULT '';
"""]


@dataclass
class Network:
    id: str
    name: str
    driver: str
    created: str
    internal: bool = False
    attachable: bool = False
    ipv6: bool = False
    bridge: str = ""             # the Linux bridge of a bridge network
    subnet: str = ""             # "" for host and null
    gateway: str = ""
    ip_range: str = ""
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ipam_options: dict[str, str] = field(default_factory=dict)
    ipam_config: list[dict[str, Any]] = field(default_factory=list)  # as the user asked
    subnet6: str = ""            # with --ipv6
    gateway6: str = ""

    @property
    def icc(self) -> bool:
        return self.options.get("com.docker.network.bridge.enable_icc", "true") != "false"

    @property
    def masquerade(self) -> bool:
        return self.options.get("com.docker.network.bridge.enable_ip_masquerade",
                                "true") != "false"

    @property
    def predefined(self) -> bool:
        return self.name in ("bridge", "host", "none")


@dataclass
class Endpoint:
    id: str
    network_id: str
    container_id: str
    container_name: str
    hostname: str
    ifname: str
    host_ifname: str
    mac: str
    ipv4: str                    # the address without its prefix length
    aliases: list[str]
    ipv6: str = ""


@dataclass
class PortBinding:
    container_id: str
    proto: str
    container_port: int
    host_ip: str
    host_port: int
    container_ip: str


_JSON_FIELDS = ("options", "labels", "ipam_options", "ipam_config")


class Records:
    """Reads and writes of the four tables; callers group writes in db.transaction()."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(COMPONENT, MIGRATIONS)

    # --- networks ------------------------------------------------------------------------
    def networks(self) -> list[Network]:
        return [_network(row) for row in self.db.query("SELECT * FROM networks ORDER BY created")]

    def network(self, network_id: str) -> Network | None:
        row = self.db.query_one("SELECT * FROM networks WHERE id = ?", (network_id,))
        return _network(row) if row else None

    def add_network(self, conn: sqlite3.Connection, net: Network) -> None:
        values = {k: (json.dumps(v) if k in _JSON_FIELDS else v) for k, v in vars(net).items()}
        conn.execute(f"INSERT INTO networks ({', '.join(values)}) VALUES "
                     f"({', '.join('?' * len(values))})", list(values.values()))

    def set_options(self, conn: sqlite3.Connection, network_id: str,
                    options: dict[str, str]) -> None:
        conn.execute("UPDATE networks SET options = ? WHERE id = ?",
                     (json.dumps(options), network_id))

    def remove_network(self, conn: sqlite3.Connection, network_id: str) -> None:
        conn.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    # --- endpoints -----------------------------------------------------------------------
    def endpoints(self, network_id: str | None = None,
                  container_id: str | None = None) -> list[Endpoint]:
        sql, params = "SELECT * FROM endpoints WHERE 1", []
        if network_id is not None:
            sql, params = sql + " AND network_id = ?", params + [network_id]
        if container_id is not None:
            sql, params = sql + " AND container_id = ?", params + [container_id]
        return [_endpoint(row) for row in self.db.query(sql + " ORDER BY rowid", params)]

    def add_endpoint(self, conn: sqlite3.Connection, ep: Endpoint) -> None:
        values = {k: (json.dumps(v) if k == "aliases" else v) for k, v in vars(ep).items()}
        conn.execute(f"INSERT INTO endpoints ({', '.join(values)}) VALUES "
                     f"({', '.join('?' * len(values))})", list(values.values()))

    def rename_endpoints(self, conn: sqlite3.Connection, container_id: str,
                         name: str) -> None:
        conn.execute("UPDATE endpoints SET container_name = ? WHERE container_id = ?",
                     (name, container_id))

    def remove_endpoint(self, conn: sqlite3.Connection, endpoint_id: str) -> None:
        conn.execute("DELETE FROM allocations WHERE endpoint_id = ?", (endpoint_id,))
        conn.execute("DELETE FROM endpoints WHERE id = ?", (endpoint_id,))

    # --- allocations ---------------------------------------------------------------------
    def allocated(self, network_id: str) -> set[str]:
        return {row["address"] for row in self.db.query(
            "SELECT address FROM allocations WHERE network_id = ?", (network_id,))}

    def allocate(self, conn: sqlite3.Connection, network_id: str, address: str, purpose: str,
                 endpoint_id: str | None = None) -> None:
        conn.execute("INSERT INTO allocations (network_id, address, purpose, endpoint_id) "
                     "VALUES (?, ?, ?, ?)", (network_id, address, purpose, endpoint_id))

    # --- port bindings -------------------------------------------------------------------
    def port_bindings(self, container_id: str | None = None) -> list[PortBinding]:
        sql, params = "SELECT * FROM port_bindings", ()
        if container_id is not None:
            sql, params = sql + " WHERE container_id = ?", (container_id,)
        return [PortBinding(**dict(row)) for row in self.db.query(sql + " ORDER BY rowid",
                                                                 params)]

    def add_port_binding(self, conn: sqlite3.Connection, pb: PortBinding) -> None:
        conn.execute("INSERT INTO port_bindings VALUES (?, ?, ?, ?, ?, ?)",
                     (pb.container_id, pb.proto, pb.container_port, pb.host_ip, pb.host_port,
                      pb.container_ip))

    def remove_port_bindings(self, conn: sqlite3.Connection, container_id: str) -> None:
        conn.execute("DELETE FROM port_bindings WHERE container_id = ?", (container_id,))


def _network(row: sqlite3.Row) -> Network:
    data = dict(row)
    for key in _JSON_FIELDS:
        data[key] = json.loads(data[key])
    for key in ("internal", "attachable", "ipv6"):
        data[key] = bool(data[key])
    return Network(**data)


def _endpoint(row: sqlite3.Row) -> Endpoint:
    data = dict(row)
    data["aliases"] = json.loads(data["aliases"])
    return Endpoint(**data)
