"""TLS to a daemon on TCP, with the docker CLI's rules: `--tlsverify` (or DOCKER_TLS_VERIFY)
checks the daemon's certificate against the CA and presents ours; `--tls` alone encrypts
without checking the daemon. Certificates default to ca.pem, cert.pem and key.pem in
DOCKER_CERT_PATH (else the client config dir, ~/.docker); a default file that does not
exist is simply not used, a file named by a flag must exist. The ssl module is imported
only when TLS is in use (it costs a short command's start-up)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    import ssl

DEFAULT_TLS_PORT = 2376
DEFAULT_PLAIN_PORT = 2375


class ClientTLS:
    """What a connection needs: whether to verify the daemon, and the files to use. (A
    plain class: every command imports this module, and dataclasses costs ~5 ms.)"""
    __slots__ = ("verify", "ca", "cert", "key")

    def __init__(self, verify: bool, ca: str | None = None, cert: str | None = None,
                 key: str | None = None) -> None:
        self.verify, self.ca, self.cert, self.key = verify, ca, cert, key

    def __repr__(self) -> str:
        return f"ClientTLS(verify={self.verify}, ca={self.ca!r}, cert={self.cert!r}, " \
            f"key={self.key!r})"

    def context(self) -> ssl.SSLContext:
        """Raises ValueError with the docker CLI's words when a file cannot be used."""
        import ssl

        for path in (self.ca if self.verify else None, self.cert, self.key):
            if path and not os.path.exists(path):
                raise ValueError("Failed to initialize: unable to resolve docker endpoint: "
                                 f"open {path}: no such file or directory")

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.verify:
            if self.ca:
                try:
                    ctx.load_verify_locations(self.ca)
                except (OSError, ssl.SSLError) as exc:
                    raise ValueError(f'could not read CA certificate "{self.ca}": '
                                     f"{exc}") from None
            else:
                ctx.load_default_certs()
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert or self.key:
            try:
                ctx.load_cert_chain(self.cert or "", self.key or "")
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"Could not load X509 key pair: {exc}") from None
        return ctx


def resolve(tls: bool = False, verify: bool | None = None, ca: str | None = None,
            cert: str | None = None, key: str | None = None,
            env: Mapping[str, str] = os.environ) -> ClientTLS | None:
    """The TLS settings a command line and the environment ask for; None: plain TCP."""
    if verify is None:
        verify = bool(env.get("DOCKER_TLS_VERIFY"))
    if not (tls or verify or env.get("DOCKER_TLS")):
        return None
    cert_dir = env.get("DOCKER_CERT_PATH") or env.get("DOCKER_CONFIG") or \
        os.path.join(os.path.expanduser("~"), ".docker")

    def pick(given: str | None, default: str) -> str | None:
        if given:
            return given
        path = os.path.join(cert_dir, default)
        return path if os.path.exists(path) else None

    return ClientTLS(verify, pick(ca, "ca.pem"), pick(cert, "cert.pem"), pick(key, "key.pem"))


def connect_error(exc: BaseException, url: str) -> str:
    """The docker CLI's words for a TLS failure on `url` ("error during connect: ...")."""
    import ssl

    reason = str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        message = exc.verify_message or ""
        if "hostname" in message or "IP address mismatch" in message:
            reason = f"x509: certificate is not valid for this host ({message})"
        elif "expired" in message:
            reason = "x509: certificate has expired or is not yet valid"
        else:
            reason = "x509: certificate signed by unknown authority"
    elif isinstance(exc, ssl.SSLError) and "WRONG_VERSION_NUMBER" in reason:
        reason = "http: server gave HTTP response to HTTPS client"
    elif isinstance(exc, ssl.SSLError):
        reason = f"remote error: tls: {exc.reason or reason}".lower().replace("_", " ")
    elif isinstance(exc, EOFError):
        reason = "EOF"
    return f"error during connect: {url}: {reason}"

