"""`dockyardd`: serve the Docker Engine API on unix sockets (and TCP) for one data root."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import stat

import click

from . import config as daemon_config
from . import lifecycle

log = logging.getLogger("dockyardd")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-H", "--host", "hosts", multiple=True, help="Daemon socket(s) to listen on")
@click.option("--data-root", default=None, help="Root of persistent state")
@click.option("--config-file", default=None, help="Daemon configuration file")
@click.option("-D", "--debug", is_flag=True, default=None, help="Enable debug mode")
@click.option("-l", "--log-level", default=None,
              type=click.Choice(["debug", "info", "warn", "error", "fatal"]))
@click.option("-p", "--pidfile", default=None, help="Path to use for daemon PID file")
@click.option("--registry-mirror", "mirrors", multiple=True,
              help="Preferred registry mirror")
@click.option("--insecure-registry", "insecure", multiple=True,
              help="Enable insecure registry communication")
@click.option("--max-concurrent-downloads", type=int, default=None,
              help="Set the max concurrent downloads")
@click.option("--max-concurrent-uploads", type=int, default=None,
              help="Set the max concurrent uploads")
def main(hosts: tuple[str, ...], data_root: str | None, config_file: str | None,
         debug: bool | None, log_level: str | None, pidfile: str | None,
         mirrors: tuple[str, ...], insecure: tuple[str, ...],
         max_concurrent_downloads: int | None, max_concurrent_uploads: int | None) -> None:
    """A self-sufficient runtime for containers."""
    flags = {"hosts": list(hosts) or None, "data-root": data_root, "debug": debug or None,
             "log-level": log_level, "pidfile": pidfile,
             "registry-mirrors": list(mirrors) or None,
             "insecure-registries": list(insecure) or None,
             "max-concurrent-downloads": max_concurrent_downloads,
             "max-concurrent-uploads": max_concurrent_uploads}
    cfg = daemon_config.load(config_file or daemon_config.DEFAULT_CONFIG_FILE,
                             config_file is not None, flags)
    logging.basicConfig(level=getattr(logging, cfg.log_level.upper().replace("WARN", "WARNING")
                                      .replace("FATAL", "CRITICAL")),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.geteuid() != 0:
        raise SystemExit("dockyardd needs to be started with root privileges")
    asyncio.run(_serve(cfg))


def _unix_listener(path: str) -> socket.socket:
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o660)  # root and (later) the docker group only
    sock.listen(128)
    return sock


async def _serve(cfg: daemon_config.DaemonConfig) -> None:
    from aiohttp import web

    from ..api.server import make_app
    from .engine import Engine

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
            site: web.BaseSite = web.SockSite(runner, _unix_listener(path))
            unix_sockets.append((path, lifecycle.socket_identity(path)))
        elif host.startswith("tcp://"):
            address = host[len("tcp://"):]
            hostname, _, port = address.rpartition(":")
            site = web.TCPSite(runner, hostname or "127.0.0.1", int(port or 2375))
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
