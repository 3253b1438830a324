"""`dockyardd`: serve the Docker Engine API on unix sockets (and TCP) for one data root."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from . import config as daemon_config
from . import lifecycle

log = logging.getLogger("dockyardd")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dockyardd",
                                     description="A self-sufficient runtime for containers.")
    add = parser.add_argument
    add("-H", "--host", dest="hosts", action="append", default=[],
        help="Daemon socket(s) to listen on")
    add("--data-root", help="Root of persistent state")
    add("--config-file", help="Daemon configuration file")
    add("-D", "--debug", action="store_true", default=None, help="Enable debug mode")
    add("-l", "--log-level", choices=["debug", "info", "warn", "error", "fatal"],
        help="Set the logging level")
    add("-p", "--pidfile", help="Path to use for daemon PID file")
    add("--registry-mirror", dest="mirrors", action="append", default=[],
        help="Preferred registry mirror")
    add("--insecure-registry", dest="insecure", action="append", default=[],
        help="Enable insecure registry communication")
    add("--max-concurrent-downloads", type=int, help="Set the max concurrent downloads")
    add("--max-concurrent-uploads", type=int, help="Set the max concurrent uploads")
    add("--shutdown-timeout", type=_seconds,
        help="Default shutdown timeout in seconds (default 15)")
    add("--tls", action="store_true", default=None, help="Use TLS; implied by --tlsverify")
    add("--tlsverify", action="store_true", default=None,
        help="Use TLS and verify the remote")
    add("--tlscacert", help="Trust certs signed only by this CA")
    add("--tlscert", help="Path to TLS certificate file")
    add("--tlskey", help="Path to TLS key file")
    return parser


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid shutdown-timeout {text}: want seconds >= 0")
    return value


def main(argv: list[str] | None = None) -> None:
    """dockyardd [flags]: flags as dockerd's; daemon.json for the rest."""
    args = _parser().parse_args(argv)
    config_file = args.config_file
    flags = {"hosts": args.hosts or None, "data-root": args.data_root,
             "debug": args.debug or None, "log-level": args.log_level, "pidfile": args.pidfile,
             "registry-mirrors": args.mirrors or None,
             "insecure-registries": args.insecure or None,
             "max-concurrent-downloads": args.max_concurrent_downloads,
             "max-concurrent-uploads": args.max_concurrent_uploads,
             "shutdown-timeout": args.shutdown_timeout, "tls": args.tls,
             "tlsverify": args.tlsverify, "tlscacert": args.tlscacert,
             "tlscert": args.tlscert, "tlskey": args.tlskey}
    cfg = daemon_config.load(config_file or daemon_config.DEFAULT_CONFIG_FILE,
                             config_file is not None, flags)
    logging.basicConfig(level=getattr(logging, cfg.log_level.upper().replace("WARN", "WARNING")
                                      .replace("FATAL", "CRITICAL")),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.geteuid() != 0:
        raise SystemExit("dockyardd needs to be started with root privileges")
    asyncio.run(_serve(cfg))


async def _serve(cfg: daemon_config.DaemonConfig) -> None:
    from aiohttp import web

    from ..api.server import make_app
    from . import listeners
    from .engine import Engine

    context = listeners.server_context(cfg.tls) if cfg.tls is not None else None
    lifecycle.lock_data_root(cfg.data_root)
    lifecycle.write_pidfile(cfg.pidfile)
    engine = Engine(cfg)
    await engine.start()
    app = make_app(engine)
    # At shutdown aiohttp waits this long for requests in flight (streams: events, logs -f,
    # attach, a stop waiting for its container) before it cancels them; its default of 60 s
    # would outlast shutdown-timeout.
    runner = web.AppRunner(app, handle_signals=False, access_log=None,
                           shutdown_timeout=min(1.0, cfg.shutdown_timeout / 2))
    await runner.setup()
    unix_sockets: list[tuple[str, tuple[int, int]]] = []
    for host in cfg.hosts:
        if host.startswith("unix://"):
            path = host[len("unix://"):]
            site: web.BaseSite = web.SockSite(runner, listeners.unix_listener(path))
            unix_sockets.append((path, lifecycle.socket_identity(path)))
        elif host.startswith("tcp://"):
            address = listeners.tcp_address(host, context is not None)
            listeners.warn_if_exposed(host, address[0], cfg.tls)
            site = listeners.TLSSite(runner, address, context) if context is not None \
                else web.TCPSite(runner, *address)
        else:
            raise SystemExit(f"invalid daemon host: {host}")
        await site.start()
        log.info("API listening on %s", host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("dockyardd started (data root %s)", cfg.data_root)
    await stop.wait()
    log.info("shutting down; containers keep running (live restore)")
    lifecycle.start_shutdown_watchdog(cfg.shutdown_timeout)
    await engine.stop()
    await runner.cleanup()
    for path, identity in unix_sockets:
        lifecycle.remove_own_socket(path, identity)
    lifecycle.remove_own_pidfile(cfg.pidfile)
    # Everything is on disk; don't let a worker thread stuck in a kernel call (a process in
    # a frozen cgroup, say) keep the daemon from exiting.
    logging.shutdown()
    os._exit(0)
