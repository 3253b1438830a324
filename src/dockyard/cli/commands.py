"""Every command of the CLI in one table, so that main imports only the module of the
command being run, and help and completion list commands without importing any.

A row is (names, "module:function", summary). The first name is the canonical path
("container ls"), the others are aliases ("ps"); in a group's listing a command shows
under its first name in that group. The function is a flags.Command in dockyard.cli.<module>.
Adding a subcommand is one row here plus its @command function, e.g.
    (("network connect",), "networks:connect", "Connect a container to a network"),
    (("network create",), "networks:create", "Create a network"),
    (("network disconnect",), "networks:disconnect", "Disconnect a container from a network"),
    (("network inspect",), "networks:inspect",
     "Display detailed information on one or more networks"),
    (("network ls", "network list"), "networks:ls", "List networks"),
    (("network prune",), "networks:prune", "Remove all unused networks"),
    (("network rm", "network remove"), "networks:rm", "Remove one or more networks"),
    (("system check",), "system:check", "Check that the store is consistent (dockyard's own)"),
"""
from __future__ import annotations

GROUPS = {
    "builder": "Manage builds",
    "container": "Manage containers",
    "image": "Manage images",
    "manifest": "Manage Docker image manifests and manifest lists",
    "network": "Manage networks",
    "system": "Manage dockyard",
    "volume": "Manage volumes",
    "completion": "Generate the autocompletion script for the specified shell",
}

COMMON = ("run", "exec", "ps", "build", "pull", "push", "images", "login", "logout",
          "version", "info")

COMMANDS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("image build", "build", "builder build"), "build:build",
     "Build an image from a Dockerfile"),
    (("builder prune",), "build:prune", "Remove build cache"),
    (("container attach", "attach"), "attach:attach",
     "Attach local standard input, output, and error streams to a running container"),
    (("container commit", "commit"), "commit:commit",
     "Create a new image from a container's changes"),
    (("container cp", "cp"), "cp:cp",
     "Copy files/folders between a container and the local filesystem"),
    (("container create", "create"), "run:create", "Create a new container"),
    (("container diff", "diff"), "inspection:diff",
     "Inspect changes to files or directories on a container's filesystem"),
    (("container exec", "exec"), "exec:exec_", "Execute a command in a running container"),
    (("container export", "export"), "inspection:export",
     "Export a container's filesystem as a tar archive"),
    (("container inspect",), "system:inspect_containers",
     "Display detailed information on one or more containers"),
    (("container kill", "kill"), "lifecycle:kill", "Kill one or more running containers"),
    (("container logs", "logs"), "attach:logs", "Fetch the logs of a container"),
    (("container ls", "container list", "container ps", "ps"), "ps:ps", "List containers"),
    (("container pause", "pause"), "inspection:pause",
     "Pause all processes within one or more containers"),
    (("container port", "port"), "inspection:port",
     "List port mappings or a specific mapping for the container"),
    (("container prune",), "lifecycle:prune", "Remove all stopped containers"),
    (("container rename", "rename"), "lifecycle:rename", "Rename a container"),
    (("container restart", "restart"), "lifecycle:restart", "Restart one or more containers"),
    (("container rm", "container remove", "rm"), "lifecycle:rm",
     "Remove one or more containers"),
    (("container run", "run"), "run:run", "Create and run a new container from an image"),
    (("container start", "start"), "lifecycle:start", "Start one or more stopped containers"),
    (("container stats", "stats"), "stats:stats",
     "Display a live stream of container(s) resource usage statistics"),
    (("container stop", "stop"), "lifecycle:stop", "Stop one or more running containers"),
    (("container top", "top"), "inspection:top",
     "Display the running processes of a container"),
    (("container unpause", "unpause"), "inspection:unpause",
     "Unpause all processes within one or more containers"),
    (("container update", "update"), "inspection:update",
     "Update configuration of one or more containers"),
    (("container wait", "wait"), "lifecycle:wait",
     "Block until one or more containers stop, then print their exit codes"),
    (("image bootstrap",), "bootstrap:bootstrap",
     "Make a base image from the host's distribution packages"),
    (("image history", "history"), "history:history", "Show the history of an image"),
    (("image import", "import"), "imagearchive:import_",
     "Import the contents from a tarball to create a filesystem image"),
    (("image inspect",), "images:inspect_images",
     "Display detailed information on one or more images"),
    (("image load", "load"), "imagearchive:load", "Load an image from a tar archive or STDIN"),
    (("image ls", "image list", "images"), "images:images", "List images"),
    (("image prune",), "images:prune", "Remove unused images"),
    (("image pull", "pull"), "distribution:pull", "Download an image from a registry"),
    (("image push", "push"), "distribution:push", "Upload an image to a registry"),
    (("image rm", "image remove", "rmi"), "images:rmi", "Remove one or more images"),
    (("image save", "save"), "imagearchive:save",
     "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    (("image tag", "tag"), "images:tag",
     "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    (("manifest inspect",), "manifest:inspect", "Display an image manifest, or manifest list"),
    (("network connect",), "networks:connect", "Connect a container to a network"),
    (("network create",), "networks:create", "Create a network"),
    (("network disconnect",), "networks:disconnect", "Disconnect a container from a network"),
    (("network inspect",), "networks:inspect",
     "Display detailed information on one or more networks"),
    (("network ls", "network list"), "networks:ls", "List networks"),
    (("network prune",), "networks:prune", "Remove all unused networks"),
    (("network rm", "network remove"), "networks:rm", "Remove one or more networks"),
    (("system check",), "system:check",
     "Check that the store is consistent (dockyard's own)"),
    (("system df",), "diskusage:df", "Show docker disk usage"),
    (("system events", "events"), "system:events", "Get real time events from the server"),
    (("system info", "info"), "system:info", "Display system-wide information"),
    (("system prune",), "system:prune", "Remove unused data"),
    (("volume create",), "volumes:create", "Create a volume"),
    (("volume inspect",), "volumes:inspect",
     "Display detailed information on one or more volumes"),
    (("volume ls", "volume list"), "volumes:ls", "List volumes"),
    (("volume prune",), "volumes:prune", "Remove unused local volumes"),
    (("volume rm", "volume remove"), "volumes:rm", "Remove one or more volumes"),
    (("inspect",), "system:inspect", "Return low-level information on Docker objects"),
    (("version",), "system:version", "Show the dockyard version information"),
    (("login",), "login:login", "Authenticate to a registry"),
    (("logout",), "login:logout", "Log out from a registry"),
    (("completion bash",), "completion:bash", "Generate the autocompletion script for bash"),
    (("completion zsh",), "completion:zsh", "Generate the autocompletion script for zsh"),
    (("__complete",), "completion:complete", ""),     # hidden: what the scripts call
)

Row = tuple[tuple[str, ...], str, str]
_BY_PATH: dict[str, Row] = {}


def lookup(path: str) -> Row | None:
    """The row of a command path ("container ls", "ps"), or None."""
    if not _BY_PATH:
        _BY_PATH.update((name, row) for row in COMMANDS for name in row[0])
    return _BY_PATH.get(path)


def listing(group: str) -> list[tuple[str, str]]:
    """(name, summary) of the commands directly under `group` ("" for the top level),
    sorted, each under its first name there; hidden rows (no summary) left out."""
    prefix = f"{group} " if group else ""
    found: dict[str, str] = {}
    for names, _, summary in COMMANDS:
        if not summary:
            continue
        for name in names:
            rest = name[len(prefix):] if name.startswith(prefix) else None
            if rest and " " not in rest:
                found.setdefault(rest, summary)
                break
    return sorted(found.items())
