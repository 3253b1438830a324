"""Entry point. Command modules are imported only when their command runs (start-up time)."""
from __future__ import annotations

import sys
from importlib import import_module

import click

# command name -> module under dockyard.cli that registers it
_COMMANDS = {
    "run": "containers", "create": "containers", "start": "containers", "stop": "containers",
    "restart": "containers", "kill": "containers", "rm": "containers", "ps": "containers",
    "logs": "containers", "wait": "containers", "rename": "containers", "exec": "containers",
    "container": "containers", "inspect": "system", "attach": "containers",
    "pause": "inspection", "unpause": "inspection", "top": "inspection", "diff": "inspection",
    "export": "inspection", "port": "inspection", "stats": "stats",
    "update": "inspection",
    "images": "images", "image": "images", "rmi": "images", "tag": "images",
    "history": "images", "import": "images", "save": "images", "load": "images", 
    "login": "login", "logout": "login",
    "pull": "distribution", "push": "distribution", "manifest": "manifest",
    "version": "system", "info": "system", "system": "system", "events": "system",
    "cp": "cp", "commit": "commit",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module_name = _COMMANDS.get(name)
        if module_name is None:
            return None
        module = import_module(f"dockyard.cli.{module_name}")
        scratch = click.Group()
        module.register(scratch)
        return scratch.commands.get(name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["--help"]})
@click.option("-H", "--host", envvar="DOCKYARD_HOST", default=None,
              help="Daemon socket to connect to")
@click.pass_context
def cli(ctx: click.Context, host: str | None) -> None:
    """A self-sufficient runtime for containers (dockyard)."""
    from ..client.transport import APIClient

    ctx.obj = APIClient(host)


def main() -> None:
    from ..client.transport import APIError

    try:
        cli.main(prog_name="dockyard", standalone_mode=False)
    except APIError as exc:
        prefix = "" if exc.status == 0 else "Error response from daemon: "
        print(f"{prefix}{exc.message}", file=sys.stderr)
        sys.exit(1)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(125 if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(1)
