"""Log drivers: json-file, local and none, with Docker's options, defaults and errors.

Both file drivers are written by the container monitor in the json-file line format (the
`local` driver's on-disk format is private to Docker; ours stays readable by `logs`), with
rotation by size and count. json-file rotates only when max-size is set; local defaults to
Docker's 20 MB x 5 files, gzip-compressed once rotated (NAME.1.gz ..., as Docker names
them; json-file compresses with compress=true).
"""
from __future__ import annotations

import os
from typing import Any

from ...errors import InvalidParameter
from ...shim import launcher
from ...units import parse_human_size

DRIVERS = ("json-file", "local", "none")
_JSON_FILE_OPTS = {"max-file", "max-size", "compress", "labels", "labels-regex", "env",
                   "env-regex", "tag"}
_LOCAL_OPTS = {"max-file", "max-size", "compress", "labels", "labels-regex", "env",
               "env-regex", "tag"}
LOCAL_MAX_SIZE = 20 * 1024 * 1024
LOCAL_MAX_FILE = 5


def _parse_bool(text: str, what: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise InvalidParameter(f'{what}strconv.ParseBool: parsing "{text}": invalid syntax')


def _size(text: str, prefix: str = "") -> int:
    try:
        return parse_human_size(text)
    except ValueError as exc:
        raise InvalidParameter(f"{prefix}{exc}") from None


def _count(text: str, prefix: str = "") -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidParameter(f'{prefix}strconv.Atoi: parsing "{text}": invalid syntax') \
            from None


def rotation(driver: str, opts: dict[str, str]) -> tuple[int, int, bool]:
    """(max size in bytes, 0 = unlimited; max files; gzip rotated files) after Docker's
    validation."""
    if driver == "json-file":
        for key in opts:
            if key not in _JSON_FILE_OPTS:
                raise InvalidParameter(f"unknown log opt '{key}' for json-file log driver")
        max_size = _size(opts["max-size"]) if "max-size" in opts else 0
        if "max-size" in opts and max_size <= 0:
            raise InvalidParameter("max-size must be a positive number")
        max_file = _count(opts["max-file"]) if "max-file" in opts else 1
        if max_file < 1:
            raise InvalidParameter("max-file cannot be less than 1")
        compress = "compress" in opts and _parse_bool(opts["compress"], "")
        if compress and (max_file == 1 or not max_size):
            raise InvalidParameter("compress cannot be true when max-file is less than 2 or "
                                   "max-size is not set")
        return max_size, max_file, compress
    for key in opts:
        if key not in _LOCAL_OPTS:
            raise InvalidParameter(f"unknown log opt '{key}' for log driver local")
    max_size = _size(opts["max-size"], f"invalid value for max-size: {opts.get('max-size')}: ") \
        if "max-size" in opts else LOCAL_MAX_SIZE
    max_file = _count(opts["max-file"], f"invalid value for max-file: {opts.get('max-file')}: ") \
        if "max-file" in opts else LOCAL_MAX_FILE
    compress = _parse_bool(opts["compress"], "invalid boolean value for compress: ") \
        if "compress" in opts else True
    if max_size < 0:
        raise InvalidParameter("max-size must not be negative")
    if max_file < 0:
        raise InvalidParameter("max-file must not be negative")
    if compress and max_file <= 1:
        raise InvalidParameter("compression cannot be enabled when max file count is 1")
    return max_size, max_file, compress


def validate(log_config: dict[str, Any] | None,
             default: dict[str, Any] | None = None) -> dict[str, Any]:
    """HostConfig.LogConfig as stored: an empty Type takes the daemon's default driver, and
    a container of the default driver takes the default's options it does not set
    (moby's mergeAndVerifyLogConfig)."""
    log_config = log_config or {}
    default = default or {"Type": "json-file", "Config": {}}
    driver = log_config.get("Type") or default["Type"]
    if driver not in DRIVERS:
        raise InvalidParameter(f"logger: no log driver named '{driver}' is registered")
    opts = {str(k): str(v) for k, v in (log_config.get("Config") or {}).items()}
    if driver == default["Type"]:
        for key, value in (default.get("Config") or {}).items():
            opts.setdefault(key, str(value))
    if driver != "none":         # moby validates no options for "none"
        rotation(driver, opts)
    return {"Type": driver, "Config": opts}


def log_file(record: dict[str, Any], directory: str) -> str | None:
    """Where the monitor writes the container's log (None: driver none)."""
    driver = record["HostConfig"]["LogConfig"]["Type"]
    if driver == "json-file":
        return record.get("LogPath") or os.path.join(directory, f"{record['Id']}-json.log")
    if driver == "local":
        return os.path.join(directory, "local-logs", "container.log")
    return None


def settings(record: dict[str, Any], directory: str) -> launcher.LogSettings:
    cfg = record["HostConfig"]["LogConfig"]
    path = log_file(record, directory)
    if path is None:
        return launcher.LogSettings(path=None)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    max_size, max_file, compress = rotation(cfg["Type"], cfg.get("Config") or {})
    return launcher.LogSettings(path=path, max_size=max_size, max_file=max_file,
                                compress=compress)
