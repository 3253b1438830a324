"""What every command module shares: the context a command runs in, the docker CLI's way of
acting on several references, failing, confirming and reading --filter."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, NoReturn

if TYPE_CHECKING:
    from ..client.tls import ClientTLS
    from ..client.transport import APIClient


class Context:
    """The invoked command path ("dockyard container ls") and the daemon to talk to. The API
    client (and its imports) exists only once a command asks for it."""

    def __init__(self, path: str, host: str | None = None,
                 tls: ClientTLS | None = None) -> None:
        self.path = path
        self.host = host
        self.tls = tls
        self._api: APIClient | None = None

    @property
    def api(self) -> APIClient:
        if self._api is None:
            from ..client.transport import APIClient
            self._api = APIClient(self.host, self.tls)
        return self._api


class CommandError(Exception):
    """A command's refusal in the docker CLI's words: main prints the message, exits 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def host_port(ip: str, port: object) -> str:
    """ "0.0.0.0:8080", "[::]:8080": the docker CLI brackets an IPv6 host (net.JoinHostPort)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def fail(message: str, code: int = 1) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(code)


def daemon_error(exc: Any, code: int, prefix: str = "dockyard: ") -> NoReturn:
    """Print a daemon error as the docker CLI does and exit with `code`."""
    if exc.status == 0:  # could not reach the daemon at all
        fail(exc.message, code)
    fail(f"{prefix}Error response from daemon: {exc.message}", code)


def for_each(refs: Iterable[str], action: Callable[[str], Iterable[str] | None]) -> None:
    """Run `action` on every reference as the docker CLI does: print its lines (or the
    reference itself), report each daemon error, and exit 1 if any failed."""
    from ..client.transport import APIError

    failed = False
    for ref in refs:
        try:
            lines = action(ref)
            for line in ([ref] if lines is None else lines):
                print(line, flush=True)
        except APIError as exc:
            print(f"Error response from daemon: {exc.message}", file=sys.stderr)
            failed = True
    if failed:
        sys.exit(1)


def confirm(message: str) -> bool:
    """The docker CLI's prompt: "<message> [y/N] ", yes only for y/Y."""
    sys.stdout.write(f"{message} [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() == "y"


def check_filter(value: str) -> str:
    """A --filter value as the docker CLI's FilterOpt accepts it (name=value)."""
    if value and "=" not in value:
        raise ValueError("bad format of filter (expected name=value)")
    return value


def filters(values: Iterable[str]) -> dict[str, list[str]]:
    """--filter values by name: names lower-cased, both sides trimmed, as FilterOpt does."""
    found: dict[str, list[str]] = {}
    for item in values:
        if not item:
            continue
        key, _, value = item.partition("=")
        found.setdefault(key.strip().lower(), []).append(value.strip())
    return found


def copy_stream_out(response: Any, output: str | None) -> None:
    """Write a streamed archive to `output` (atomically) or to stdout."""
    import os

    target = open(output + ".tmp", "wb") if output else sys.stdout.buffer
    try:
        while chunk := response.read1(1 << 20):
            target.write(chunk)
    finally:
        if output:
            target.close()
    if output:
        os.replace(output + ".tmp", output)
