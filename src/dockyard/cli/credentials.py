"""The client's registry credentials, kept where and how the docker CLI keeps them:
`$DOCKER_CONFIG/config.json` (default ~/.docker/config.json) `auths`, or a credential helper
named by `credsStore` / `credHelpers` (`docker-credential-<name>` speaking the store/get/erase
protocol over stdin/stdout). The daemon never reads this file: credentials travel with each
request (X-Registry-Auth, POST /auth)."""
from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from ..distribution.registry_host import HUB_SERVER, is_hub, registry_hostname
from .common import CommandError

_TOKEN_USER = "<token>"     # helpers keep identity tokens under this user name
_NOT_FOUND = "credentials not found in native keychain"


class CredentialsError(CommandError):
    """A helper failed or the file could not be written (docker's texts)."""


@dataclass(frozen=True)
class Credentials:
    serveraddress: str
    username: str = ""
    password: str = ""
    identitytoken: str = ""


def config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def config_path() -> str:
    return os.path.join(config_dir(), "config.json")


def load_config() -> dict[str, Any]:
    """The config file's content; {} when missing. A broken file is warned about and
    treated as empty, as the docker CLI does."""
    path = config_path()
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(raw) if raw.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        print(f"WARNING: Error parsing config file ({path}): {exc}", file=sys.stderr)
        return {}
    return data


def save_config(data: dict[str, Any]) -> None:
    """Rewrite the file atomically with mode 0600, keeping whatever keys it had."""
    from ..linux.atomic import write_bytes

    os.makedirs(config_dir(), mode=0o700, exist_ok=True)
    write_bytes(config_path(), json.dumps(data, indent="\t").encode(), mode=0o600)


def server_key(address: str) -> str:
    """The key the docker CLI files a registry under: Docker Hub's index URL, else the bare
    host[:port]."""
    return HUB_SERVER if is_hub(address) else registry_hostname(address)


def _helper_for(data: dict[str, Any], key: str) -> str:
    helpers = data.get("credHelpers") or {}
    return str(helpers.get(key) or data.get("credsStore") or "")


def _run_helper(helper: str, action: str, stdin: str) -> str:
    """Run `docker-credential-<helper> <action>`; its stdout ("" when a get finds
    nothing). Failures raise with the docker CLI's text."""
    program = f"docker-credential-{helper}"
    path = shutil.which(program)
    verb = {"get": "getting", "store": "storing", "erase": "erasing"}[action]
    if path is None:
        raise CredentialsError(f"error {verb} credentials - err: exec: \"{program}\": "
                               "executable file not found in $PATH, out: ``")
    result = subprocess.run([path, action], input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        out = (result.stdout + result.stderr).strip()
        if action == "get" and _NOT_FOUND in out:
            return ""
        raise CredentialsError(f"error {verb} credentials - err: exit status "
                               f"{result.returncode}, out: `{out}`")
    return result.stdout


def _from_file(data: dict[str, Any], key: str) -> Credentials | None:
    auths = data.get("auths") or {}
    entry = auths.get(key)
    if entry is None:       # older CLIs filed some registries under http(s)://host keys
        entry = next((v for k, v in auths.items() if registry_hostname(k) == key), None)
    if not isinstance(entry, dict):
        return None
    username, password = "", ""
    if entry.get("auth"):
        try:
            pair = base64.b64decode(entry["auth"]).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError(f"invalid auth configuration file {config_path()}") from None
        username, _, password = pair.partition(":")
    return Credentials(key, username, password, str(entry.get("identitytoken") or ""))


def get_credentials(address: str) -> Credentials | None:
    """Stored credentials for a registry (None when there are none)."""
    key = server_key(address)
    data = load_config()
    helper = _helper_for(data, key)
    if not helper:
        return _from_file(data, key)
    out = _run_helper(helper, "get", key)
    if not out.strip():
        return None
    try:
        answer = json.loads(out)
    except ValueError:
        raise CredentialsError(f"error getting credentials - err: invalid helper answer, "
                               f"out: `{out.strip()}`") from None
    user, secret = str(answer.get("Username") or ""), str(answer.get("Secret") or "")
    if user == _TOKEN_USER:
        return Credentials(key, identitytoken=secret)
    return Credentials(key, user, secret)


def store_credentials(creds: Credentials) -> bool:
    """Keep credentials (the identity token instead of the password when there is one).
    True when they went into the file in plain text."""
    data = load_config()
    key = creds.serveraddress
    helper = _helper_for(data, key)
    auths = data.setdefault("auths", {})
    if helper:
        user, secret = (_TOKEN_USER, creds.identitytoken) if creds.identitytoken else \
            (creds.username, creds.password)
        _run_helper(helper, "store", json.dumps({"ServerURL": key, "Username": user,
                                                 "Secret": secret}))
        auths[key] = {}          # the CLI's record that a helper holds this login
    else:
        password = "" if creds.identitytoken else creds.password
        entry = {"auth": base64.b64encode(f"{creds.username}:{password}".encode()).decode()}
        if creds.identitytoken:
            entry["identitytoken"] = creds.identitytoken
        auths[key] = entry
    _save(data)
    return not helper and not creds.identitytoken


def erase_credentials(address: str) -> None:
    """Forget a registry's login under each key older CLIs may have used for it."""
    data = load_config()
    key = server_key(address)
    keys = [key] if key == HUB_SERVER else [key, f"http://{key}", f"https://{key}"]
    auths = data.get("auths") or {}
    for k in keys:
        helper = _helper_for(data, k)
        if helper and k in auths:
            _run_helper(helper, "erase", k)
        auths.pop(k, None)
    if "auths" in data:
        _save(data)


def _save(data: dict[str, Any]) -> None:
    try:
        save_config(data)
    except OSError as exc:
        raise CredentialsError(f"error saving credentials: {exc}") from None


def encode_auth(creds: Credentials) -> str:
    """X-Registry-Auth: base64url JSON of the AuthConfig, as the docker CLI encodes it."""
    body = {"username": creds.username, "password": creds.password,
            "serveraddress": creds.serveraddress, "identitytoken": creds.identitytoken}
    raw = json.dumps({k: v for k, v in body.items() if v}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def registry_auth_header(registry: str) -> str | None:
    """The X-Registry-Auth value for a registry hostname ("docker.io" for Docker Hub),
    from `auths`, `credsStore` or `credHelpers`; None without stored credentials."""
    creds = get_credentials(registry)
    if creds is None or not (creds.username or creds.password or creds.identitytoken):
        return None
    return encode_auth(creds)
