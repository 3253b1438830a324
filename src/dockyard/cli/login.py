"""login and logout, as the docker CLI does them: the daemon checks the credentials against
the registry (POST /auth); the CLI keeps them (cli/credentials.py)."""
from __future__ import annotations

import sys
from typing import NoReturn

from .common import Context
from .flags import Bool, Opts, Str, command

_EXISTING = ("Authenticating with existing credentials... [Username: {user}]\n\n"
             " Info -> To login with a different account, run 'docker logout' followed by "
             "'docker login'\n\n")
_PLAINTEXT = ("\nWARNING! Your credentials are stored unencrypted in '{path}'.\n"
              "Configure a credential helper to remove this warning. See\n"
              "https://docs.docker.com/go/credential-store/\n")


def _fail(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(1)


def _prompt(default_user: str) -> tuple[str, str]:
    """Ask for username and password on the terminal, as `docker login` does."""
    import getpass

    if not sys.stdin.isatty():
        _fail("Error: Cannot perform an interactive login from a non TTY device")
    label = f"Username ({default_user}): " if default_user else "Username: "
    try:
        username = input(label).strip() or default_user
        if not username:
            _fail("Error: Non-null Username Required")
        password = getpass.getpass("Password: ")
    except EOFError:
        _fail("Error: Cannot perform an interactive login from a non TTY device")
    if not password:
        _fail("Error: Password Required")
    return username, password


@command("[OPTIONS] [SERVER]",
         Str("-p, --password", "Password or Personal Access Token"),
         Bool("--password-stdin", "Take the Password from stdin"),
         Str("-u, --username", "Username"),
         args=(0, 1))
def login(ctx: Context, o: Opts, args: list[str]) -> None:
    """Authenticate to a registry (Docker Hub when no server is given)."""
    from ..client.transport import APIError
    from .credentials import (Credentials, CredentialsError, config_path, get_credentials,
                              server_key, store_credentials)

    username, password, password_stdin = o.username, o.password, o.password_stdin
    server = args[0] if args else None
    if password and password_stdin:
        _fail("conflicting options: cannot specify both --password and --password-stdin")
    if password_stdin:
        if not username:
            _fail("the --password-stdin option requires --username to be set")
        password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    elif password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.",
              file=sys.stderr)
    key = server_key(server or "")
    api = ctx.api
    stored = None
    if not username and not password:     # only then does docker look at stored ones
        try:
            stored = get_credentials(key)
        except CredentialsError as exc:
            _fail(exc.message)
    answer, reused = None, False
    if stored and stored.username and stored.password:
        print(_EXISTING.format(user=stored.username), file=sys.stderr)
        try:
            answer = api.post("/auth", json={"username": stored.username,
                                             "password": stored.password,
                                             "serveraddress": key})
            username, password, reused = stored.username, stored.password, True
        except APIError as exc:
            print(f"Login did not succeed, error: {exc.message}", file=sys.stderr)
    if answer is None:
        if not username or not password:
            username, password = _prompt(username or (stored.username if stored else ""))
        answer = api.post("/auth", json={"username": username, "password": password,
                                         "serveraddress": key})
    token = (answer or {}).get("IdentityToken") or ""
    if reused and not token:
        print("Login Succeeded")
        return
    try:
        plaintext = store_credentials(Credentials(key, username or "", password or "", token))
    except CredentialsError as exc:
        _fail(f"Error saving credentials: {exc.message}")
    if plaintext:
        print(_PLAINTEXT.format(path=config_path()), file=sys.stderr)
    print("Login Succeeded")


@command("[SERVER]", args=(0, 1))
def logout(ctx: Context, o: Opts, args: list[str]) -> None:
    """Log out from a registry (Docker Hub when no server is given)."""
    from .credentials import CredentialsError, erase_credentials, server_key

    key = server_key(args[0] if args else "")
    print(f"Removing login credentials for {key}")
    try:
        erase_credentials(key)
    except CredentialsError as exc:
        print(f"WARNING: could not erase credentials: {exc.message}", file=sys.stderr)

