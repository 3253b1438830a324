"""The volume service: Docker's volume objects (create, inspect, list, remove, prune), which
container uses which volume (refused removal while any does) and, for volumes the driver
mounts, how many running containers have them mounted.

Records live in the metadata database (component "volumes"): `volumes` one row a volume,
`volume_refs` (volume, container) for every container whose record names the volume,
`volume_mounts` (volume, container) for every running container that has a driver-mounted
volume (tmpfs, bind, block device, plugin) mounted: the count of its rows is the mount's
reference count, so it survives a restart and a kill -9 and `reconcile` squares it with
the containers found running at start. Plain local volumes need no row to be used, so a
start with them writes nothing."""
from __future__ import annotations

import datetime
import json
import logging
import os
import re
import secrets
import threading
from typing import Any

from ...errors import Conflict, DockyardError, InvalidParameter, NotFound
from ...filters import check_keys, match_kv
from . import local
from .recovery import Recovery

log = logging.getLogger(__name__)

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
LIST_FILTERS = {"dangling", "driver", "label", "name"}
PRUNE_FILTERS = {"label", "label!", "all"}
MIGRATIONS = [
    """
    CREATE TABLE volumes (name TEXT PRIMARY KEY, driver TEXT NOT NULL,
        created_at TEXT NOT NULL, labels TEXT NOT NULL, options TEXT NOT NULL,
        anonymous INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE volume_refs (volume TEXT NOT NULL REFERENCES volumes(name),
        container TEXT NOT NULL, PRIMARY KEY (volume, container));
    CREATE TABLE volume_mounts (volume TEXT NOT NULL REFERENCES volumes(name),
        container TEXT NOT NULL, PRIMARY KEY (volume, container));
    """,
]


def _now() -> str:
    moment = datetime.datetime.now().astimezone().replace(microsecond=0)
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _bool_filter(key: str, values: list[str]) -> bool:
    value = values[-1].lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidParameter(f"invalid filter '{key}={values[-1]}'")


def _name_matches(patterns: list[str], name: str) -> bool:
    for pattern in patterns:
        try:
            if re.search(pattern, name):
                return True
        except re.error:
            if pattern in name:
                return True
    return False


class VolumeService(Recovery):
    def __init__(self, db: Any, data_root: str, events: Any, plugins: Any = None) -> None:
        self.db = db
        self.root = os.path.join(data_root, "volumes")
        os.makedirs(self.root, mode=0o701, exist_ok=True)
        self.events = events
        self.plugins = plugins      # plugins.Registry: drivers other than local
        self._lock = threading.RLock()    # create-if-missing and remove-if-unused are atomic
        db.migrate("volumes", MIGRATIONS)

    # --- records ------------------------------------------------------------------------------
    def _row(self, name: str) -> Any:
        return self.db.query_one("SELECT * FROM volumes WHERE name = ?", (name,))

    def _get(self, name: str) -> Any:
        row = self._row(name) if name else None
        if row is None:
            raise NotFound(f"get {name}: no such volume")
        return row

    def _users(self, name: str) -> list[str]:
        return [r["container"] for r in self.db.query(
            "SELECT container FROM volume_refs WHERE volume = ? ORDER BY container", (name,))]

    def _json(self, row: Any) -> dict[str, Any]:
        labels = dict(sorted(json.loads(row["labels"]).items()))     # Go marshals maps sorted
        options = dict(sorted(json.loads(row["options"]).items()))
        result = {"CreatedAt": row["created_at"], "Driver": row["driver"],
                  "Labels": labels or None,
                  "Mountpoint": local.data_path(self.root, row["name"]),
                  "Name": row["name"], "Options": options or None, "Scope": "local"}
        if row["driver"] != "local":
            result.update(self._plugin_view(row))
        return result

    def _plugin_view(self, row: Any) -> dict[str, Any]:
        """What a plugin says of its volume (VolumeDriver.Get): Mountpoint, Status."""
        try:
            plugin = self._plugin(row["driver"])
            volume = plugin.get(row["name"])
            view: dict[str, Any] = {"Mountpoint": str(volume.get("Mountpoint") or ""),
                                    "Scope": plugin.scope()}
            if volume.get("Status"):
                view["Status"] = volume["Status"]
            return view
        except DockyardError:
            return {"Mountpoint": ""}

    def _plugin(self, driver: str) -> Any:
        if self.plugins is None:
            raise NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not '
                           "found")
        return self.plugins.get(driver)

    # --- the /volumes API ---------------------------------------------------------------------
    def create(self, name: str = "", driver: str = "", options: dict[str, str] | None = None,
               labels: dict[str, str] | None = None) -> dict[str, Any]:
        """POST /volumes/create; an existing volume is returned as it is unless another
        driver is asked for (Docker's idempotent create). Without a name it is
        anonymous."""
        return self._json(self._ensure(name, driver, options, labels))

    def _ensure(self, name: str, driver: str, options: dict[str, str] | None,
                labels: dict[str, str] | None) -> Any:
        asked, driver = driver, driver or "local"
        options = {str(k): str(v) for k, v in (options or {}).items()}
        labels = {str(k): str(v) for k, v in (labels or {}).items()}
        anonymous = not name
        if anonymous:
            name = secrets.token_hex(32)
            labels.setdefault(ANONYMOUS_LABEL, "")
        with self._lock:
            row = self._row(name)
            if row is not None:
                if asked and asked != row["driver"]:
                    raise Conflict(f"create {name}: volume name must be unique")
                return row
            try:
                if driver == "local":
                    local.validate_name(name)
                    local.validate_options(options)
                    local.make(self.root, name)
                else:
                    self._plugin(driver).create(name, options)
            except DockyardError as exc:
                raise type(exc)(f"create {name}: {exc.message}") from None
            with self.db.transaction() as conn:
                conn.execute("INSERT INTO volumes (name, driver, created_at, labels, options, "
                             "anonymous) VALUES (?, ?, ?, ?, ?, ?)",
                             (name, driver, _now(), json.dumps(labels), json.dumps(options),
                              int(anonymous)))
            self.events.emit("volume", "create", name, {"driver": driver})
            return self._row(name)

    def inspect(self, name: str) -> dict[str, Any]:
        return self._json(self._get(name))

    def list(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        filters = check_keys(filters, LIST_FILTERS)
        used = {r["volume"] for r in self.db.query("SELECT DISTINCT volume FROM volume_refs")}
        dangling = _bool_filter("dangling", filters["dangling"]) \
            if filters.get("dangling") else None
        result = []
        for row in self.db.query("SELECT * FROM volumes ORDER BY name"):
            labels = json.loads(row["labels"])
            if dangling is not None and (row["name"] not in used) != dangling:
                continue
            if filters.get("driver") and row["driver"] not in filters["driver"]:
                continue
            if filters.get("name") and not _name_matches(filters["name"], row["name"]):
                continue
            if not match_kv(filters.get("label", []), labels):
                continue
            result.append(self._json(row))
        return {"Volumes": result, "Warnings": []}

    def remove(self, name: str, force: bool = False) -> None:
        """DELETE /volumes/{name}: refused while a container uses it, force or not; `force`
        only makes a missing volume no error."""
        with self._lock:
            row = self._row(name)
            if row is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self._users(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            self._destroy(row)

    def _destroy(self, row: Any) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM volume_mounts WHERE volume = ?", (row["name"],))
            conn.execute("DELETE FROM volumes WHERE name = ?", (row["name"],))
        if row["driver"] == "local":
            local.destroy(self.root, row["name"])
        else:
            try:
                self._plugin(row["driver"]).remove(row["name"])
            except DockyardError as exc:
                log.warning("plugin could not remove volume %s: %s", row["name"], exc.message)
        self.events.emit("volume", "destroy", row["name"], {"driver": row["driver"]})

    def prune(self, filters: dict[str, list[str]] | None = None,
              all_: bool = False) -> dict[str, Any]:
        """Unused local volumes (anonymous ones only, unless `all` or an old API asks for
        all)."""
        filters = check_keys(filters, PRUNE_FILTERS)
        if filters.get("all"):
            all_ = _bool_filter("all", filters["all"])
        deleted, reclaimed = [], 0
        with self._lock:
            used = {r["volume"] for r in self.db.query("SELECT DISTINCT volume FROM volume_refs")}
            for row in self.db.query("SELECT * FROM volumes WHERE driver = 'local' "
                                     "ORDER BY name"):
                labels = json.loads(row["labels"])
                if row["name"] in used or (not all_ and not row["anonymous"]):
                    continue
                if not match_kv(filters.get("label", []), labels):
                    continue
                if filters.get("label!") and match_kv(filters["label!"], labels):
                    continue
                if row["driver"] == "local":
                    reclaimed += local.size(local.data_path(self.root, row["name"]))
                self._destroy(row)
                deleted.append(row["name"])
        self.events.emit("volume", "prune", "", {"reclaimed": str(reclaimed)})
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    def usage(self) -> list[dict[str, Any]]:
        """system df's Volumes: each with UsageData {Size, RefCount}."""
        counts = {r["volume"]: r["n"] for r in self.db.query(
            "SELECT volume, COUNT(*) AS n FROM volume_refs GROUP BY volume")}
        result = []
        for row in self.db.query("SELECT * FROM volumes ORDER BY name"):
            size = local.size(local.data_path(self.root, row["name"])) \
                if row["driver"] == "local" else -1
            result.append({**self._json(row), "UsageData": {
                "Size": size, "RefCount": counts.get(row["name"], 0)}})
        return result

    # --- what containers use ------------------------------------------------------------------
    def claim(self, name: str, container: str, driver: str = "",
              options: dict[str, str] | None = None,
              labels: dict[str, str] | None = None) -> dict[str, Any]:
        """The volume a container being created names (made if missing, an anonymous one if
        `name` is empty), recorded as used by it."""
        with self._lock:
            row = self._ensure(name, driver, options, labels)
            with self.db.transaction() as conn:
                conn.execute("INSERT OR IGNORE INTO volume_refs (volume, container) "
                             "VALUES (?, ?)", (row["name"], container))
        return self._json(row)

    def release(self, container: str, remove_anonymous: bool = False) -> None:
        """The container is gone: its references go; with `rm -v`/`--rm` its anonymous
        volumes that no other container uses go too."""
        with self._lock:
            names = [r["volume"] for r in self.db.query(
                "SELECT volume FROM volume_refs WHERE container = ?", (container,))]
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM volume_refs WHERE container = ?", (container,))
                conn.execute("DELETE FROM volume_mounts WHERE container = ?", (container,))
            if not remove_anonymous:
                return
            for name in names:
                row = self._row(name)
                if row is not None and row["anonymous"] and not self._users(name):
                    self._destroy(row)

    def mount(self, name: str, container: str) -> str:
        """The host path to bind for the container's start; a driver-mounted volume is
        mounted by its first user (counted in volume_mounts)."""
        row = self._get(name)
        options = json.loads(row["options"])
        if row["driver"] == "local" and not local.needs_mount(options):
            path = local.data_path(self.root, name)
            if not os.path.isdir(path):
                local.make(self.root, name)
            return path
        with self._lock:
            if row["driver"] != "local":        # the plugin counts its own users
                path = self._plugin(row["driver"]).mount(name, container)
            else:
                path = local.data_path(self.root, name)
                if not local.is_mounted(path):
                    local.mount(path, options)
            with self.db.transaction() as conn:
                conn.execute("INSERT OR IGNORE INTO volume_mounts (volume, container) "
                             "VALUES (?, ?)", (name, container))
            return path

    def unmount(self, container: str) -> None:
        """The container stopped: its driver-mounted volumes lose a user, and the last user
        unmounts them."""
        with self._lock:
            names = [r["volume"] for r in self.db.query(
                "SELECT volume FROM volume_mounts WHERE container = ?", (container,))]
            if not names:
                return
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM volume_mounts WHERE container = ?", (container,))
            for name in names:
                self._unmount_if_unused(name, container)

    def _unmount_if_unused(self, name: str, container: str) -> None:
        """A plugin hears of every user's unmount (VolumeDriver.Unmount with its ID); a
        local mount goes with its last user."""
        row = self._row(name)
        if row is None:
            return
        if row["driver"] != "local":
            try:
                self._plugin(row["driver"]).unmount(name, container)
            except DockyardError as exc:
                log.warning("plugin could not unmount %s: %s", name, exc.message)
            return
        if self.db.query_one("SELECT 1 FROM volume_mounts WHERE volume = ?",
                             (name,)) is not None:
            return
        path = local.data_path(self.root, name)
        if local.is_mounted(path):
            local.unmount(path)

