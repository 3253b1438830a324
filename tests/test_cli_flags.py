"""The CLI's command line: pflag's parsing rules, Docker's error texts and exit codes, help,
lazy imports, completion (pure Python, no daemon), then a few real runs against a daemon and
side by side with the stock docker CLI."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import Daemon
from dockyard.cli import commands
from dockyard.cli.flags import (Bool, HelpRequested, Int, List, Str, UsageError, check_args,
                                parse, parse_int)
from dockyard.cli.main import run

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
FLAGS = (Bool("-i, --interactive"), Bool("-t, --tty"), Bool("--rm"), Str("--name"),
         List("-p, --publish"), Int("-n, --last", default=-1), Str("-h, --hostname"),
         Bool("--sig-proxy", default=True))


def test_short_clusters_long_values_and_lists() -> None:
    o, args = parse(FLAGS, ["-it", "-p8080:80", "-p", "9:9", "-p=1:1", "--name=x", "--name",
                            "y", "-n3", "img", "cmd"])
    assert (o.interactive, o.tty, o.rm) == (True, True, False)
    assert o.publish == ["8080:80", "9:9", "1:1"] and o.name == "y" and o.last == 3
    assert args == ["img", "cmd"] and o.sig_proxy is True
    o, _ = parse(FLAGS, ["-ti=false", "--hostname", "-x"])   # a value may start with '-'
    assert (o.tty, o.interactive, o.hostname) == (True, False, "-x")


def test_bool_values() -> None:
    o, args = parse(FLAGS, ["--rm=false", "-t=0", "--sig-proxy=False", "-i=T"])
    assert (o.rm, o.tty, o.sig_proxy, o.interactive) == (False, False, False, True)
    o, args = parse(FLAGS, ["--rm", "false"])       # a bool takes a value only with '='
    assert o.rm is True and args == ["false"]
    with pytest.raises(UsageError) as err:
        parse(FLAGS, ["--rm=maybe"])
    assert err.value.message == ('invalid argument "maybe" for "--rm" flag: '
                                 'strconv.ParseBool: parsing "maybe": invalid syntax')
    assert err.value.code == 125


def test_double_dash_dash_and_interspersed() -> None:
    o, args = parse(FLAGS, ["--rm", "--", "-t", "x"])
    assert o.rm and not o.tty and args == ["-t", "x"]
    assert parse(FLAGS, ["-", "--rm"])[1] == ["-"]
    o, args = parse(FLAGS, ["a", "--rm", "b", "-t"])
    assert o.rm and o.tty and args == ["a", "b"]
    o, args = parse(FLAGS, ["--name", "n", "img", "--rm", "-t", "--", "x"], interspersed=False)
    assert o.name == "n" and not o.rm and args == ["img", "--rm", "-t", "--", "x"]


@pytest.mark.parametrize("argv, message", [
    (["--foo"], "unknown flag: --foo"),
    (["-x"], "unknown shorthand flag: 'x' in -x"),
    (["-itz"], "unknown shorthand flag: 'z' in -z"),
    (["--name"], "flag needs an argument: --name"),
    (["-p"], "flag needs an argument: 'p' in -p"),
    (["-ip"], "flag needs an argument: 'p' in -p"),
    (["-n", "abc"], 'invalid argument "abc" for "-n, --last" flag: strconv.ParseInt: '
                    'parsing "abc": invalid syntax'),
    (["--last=99999999999999999999"], 'invalid argument "99999999999999999999" for '
     '"-n, --last" flag: strconv.ParseInt: parsing "99999999999999999999": value out of range'),
    (["---x"], "bad flag syntax: ---x"),
])
def test_flag_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse(FLAGS, argv)
    assert err.value.message == message and err.value.code == 125


def test_go_integers() -> None:
    assert [parse_int(t) for t in ("10", "-3", "0x1f", "010", "0b11", "0o17", "+4")] == \
        [10, -3, 31, 8, 3, 15, 4]
    for bad in ("", "1_0", "1.5", "0x", "ten"):
        with pytest.raises(ValueError):
            parse_int(bad)


def test_help_flag() -> None:
    with pytest.raises(HelpRequested) as err:
        parse((Bool("-a, --all"),), ["x", "--help", "-a"])
    assert not err.value.deprecated_h
    with pytest.raises(HelpRequested) as err:
        parse((Bool("-a, --all"),), ["-ah"])
    assert err.value.deprecated_h
    assert parse(FLAGS, ["-h", "box"])[0].hostname == "box"   # run's -h is the hostname
    with pytest.raises(UsageError):           # a flag error wins over --help, as in cobra
        parse(FLAGS, ["--help", "--nope"])


def test_argument_counts() -> None:
    cases = [((0, 0), ["a"], "'dockyard ps' accepts no arguments", "Run"),
             ((1, None), [], "'dockyard ps' requires at least 1 argument", "See"),
             ((2, None), ["a"], "'dockyard ps' requires at least 2 arguments", "See"),
             ((2, 2), ["a"], "'dockyard ps' requires 2 arguments", "Run"),
             ((0, 1), ["a", "b"], "'dockyard ps' requires at most 1 argument", "Run"),
             ((1, 2), [], "'dockyard ps' requires at least 1 and at most 2 arguments", "Run")]
    for (low, high), args, message, hint in cases:
        with pytest.raises(UsageError) as err:
            check_args("dockyard ps", args, low, high)
        assert (err.value.message, err.value.hint, err.value.code) == (message, hint, 1)
    check_args("dockyard ps", ["a"], 1, None)


def test_run_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ps", "--foo"]) == 125
    assert capsys.readouterr().err == ("unknown flag: --foo\n\nUsage:  dockyard ps [OPTIONS]\n\n"
                                       "Run 'dockyard ps --help' for more information\n")
    assert run(["container", "rm"]) == 1
    assert capsys.readouterr().err == (
        "dockyard: 'dockyard container rm' requires at least 1 argument\n\n"
        "Usage:  dockyard container rm [OPTIONS] CONTAINER [CONTAINER...]\n\n"
        "See 'dockyard container rm --help' for more information\n")
    assert run(["nosuch"]) == 1
    assert capsys.readouterr().err == ("dockyard: unknown command: dockyard nosuch\n\n"
                                       "Run 'dockyard --help' for more information\n")
    assert run(["image", "nosuch"]) == 1
    assert "Usage:  dockyard image\n" in capsys.readouterr().err
    assert run(["--version", "ignored"]) == 0
    assert capsys.readouterr().out.startswith("dockyard version ")
    assert run(["container", "ls", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage:  dockyard container ls [OPTIONS]\n\nList containers\n")
    assert "Aliases:\n  dockyard container ls, dockyard container list, dockyard container " \
           "ps, dockyard ps\n" in out
    assert "\n  -a, --all             Show all containers" in out
    assert "  -n, --last int        " in out and "(default -1)" in out
    assert run(["help", "rm"]) == 0 and "Usage:  dockyard rm [OPTIONS]" in capsys.readouterr().out
    assert run(["image"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage:  dockyard image COMMAND\n\nManage images\n\nCommands:\n")
    assert "\n  ls          List images\n" in out and "  list " not in out
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Management Commands:\n  builder     Manage builds\n  completion" in out
    assert "  -H, --host list" in out
    assert "\n  ps          List containers\n  build       Build an image from a Dockerfile\n" \
        in out
    assert run(["builder"]) == 0
    out = capsys.readouterr().out
    assert "\n  build       Build an image from a Dockerfile\n  prune       Remove build " \
           "cache\n" in out


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for names, _, summary in commands.COMMANDS:
        if not summary:
            continue
        for name in names:
            assert run([*name.split(), "--help"]) == 0, name
            out = capsys.readouterr().out
            assert out.startswith(f"Usage:  dockyard {name}") and summary in out, name


def _modules_after(*argv: str) -> set[str]:
    code = ("import sys\nfrom dockyard.cli.main import run\ntry:\n    run(sys.argv[1:])\n"
            "except Exception:\n    pass\nprint('\\n'.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC}, check=True).stdout
    return set(out.split())


def test_commands_import_only_what_they_need() -> None:
    heavy = {"click", "http.client", "email.parser", "dockyard.cli.format.template",
             "dockyard.cli.run", "dockyard.cli.images", "tarfile"}
    version = _modules_after("--version")
    assert not version & (heavy | {"json", "dockyard.client.transport", "dockyard.cli.ps"})
    ps = _modules_after("-H", "unix:///nonexistent.sock", "ps")
    assert "dockyard.cli.ps" in ps and "dockyard.client.transport" in ps
    assert not ps & (heavy - {"dockyard.cli.ps"})


# The daemon's side: the CLI talks to it only through client/ and shared pure helpers.
DAEMON_SIDE = ("dockyard.engine", "dockyard.daemon", "dockyard.api", "dockyard.store",
               "dockyard.runtime", "aiohttp")
# `manifest inspect` talks to the registry itself, as the docker CLI does, so it imports the
# registry client (distribution/, on aiohttp); no other command does.
REGISTRY_CLIENT = "manifest.py"


def _cli_imports() -> set[str]:
    """Every module that cli/ and client/ import, at the top or inside a function."""
    import ast

    found: set[str] = set()
    for layer in ("cli", "client"):
        top = os.path.join(SRC, "dockyard", layer)
        for folder, _, files in os.walk(top):
            package = "dockyard." + os.path.relpath(folder, os.path.join(SRC, "dockyard")
                                                    ).replace(os.sep, ".")
            for name in files:
                if not name.endswith(".py") or name == REGISTRY_CLIENT and layer == "cli":
                    continue
                tree = ast.parse(open(os.path.join(folder, name)).read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        found.update(alias.name for alias in node.names)
                    elif isinstance(node, ast.ImportFrom):
                        base = package.rsplit(".", node.level - 1)[0] if node.level else ""
                        module = ".".join(p for p in (base, node.module or "") if p)
                        found.add(module)
                        found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_cli_imports_nothing_of_the_daemon() -> None:
    table = {f"dockyard.cli.{target.partition(':')[0]}" for _, target, _ in commands.COMMANDS}
    wanted = sorted(_cli_imports() | table - {"dockyard.cli." + REGISTRY_CLIENT[:-3]})
    assert "dockyard.client.transport" in wanted and "dockyard.reference" in wanted
    code = ("import importlib, sys\nfor name in sys.argv[1:]:\n    try:\n"
            "        importlib.import_module(name)\n    except ImportError:\n"
            "        pass\nprint('\\n'.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, *wanted], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": SRC}, check=True).stdout
    loaded = set(out.split())
    assert "dockyard.cli.ps" in loaded
    daemon_side = sorted(m for m in loaded if m.startswith(DAEMON_SIDE))
    assert not daemon_side


def test_completion_candidates() -> None:
    from dockyard.cli.common import Context
    from dockyard.cli.completion import candidates

    ctx = Context("dockyard __complete", "unix:///nonexistent.sock")
    assert candidates(ctx, ["con"]) == ["container"]
    assert candidates(ctx, ["container", "l"]) == ["logs", "ls"]
    assert candidates(ctx, ["ps", "--no"]) == ["--no-trunc"]
    assert "-a" in candidates(ctx, ["-H", "x", "ps", "-"])
    assert candidates(ctx, ["rm", ""]) == []          # no daemon: no names, files instead
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("SKIPPED LOUDLY: bash is not installed")
    script = (f"dockyard() {{ {sys.executable} -m dockyard.cli \"$@\"; }}\n"
              "source <(dockyard completion bash)\n"
              "COMP_WORDS=(dockyard image p); COMP_CWORD=2; _dockyard\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    out = subprocess.run([bash, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC}, check=True).stdout
    assert out.split() == ["prune", "pull", "push"]


# --- real runs --------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["ps", "--foo"], ["ps", "-x"], ["ps", "-aqz"], ["ps", "-n", "abc"], ["ps", "--all=maybe"],
    ["ps", "extra"], ["run", "--name"], ["run"], ["run", "--memory=abc", "busybox"],
    ["rm"], ["rename", "a"], ["logs"], ["commit"], ["port", "a", "b", "c"], ["exec", "c"],
    ["kill", "-s"], ["stop", "--time=x", "a"], ["foo"], ["container", "foo"],
    ["image", "--foo"], ["-H"],
])
def test_usage_errors_match_docker_cli(argv: list[str], tmp_path: str) -> None:
    """Our CLI and the stock one refuse the same command lines with the same text and code
    (docker's name replaced by ours)."""
    if not shutil.which("docker"):
        pytest.skip("SKIPPED LOUDLY: the docker CLI is not installed")
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock",
           "DOCKYARD_HOST": "unix:///nonexistent.sock", "DOCKER_CONFIG": str(tmp_path),
           "PYTHONPATH": SRC}
    theirs = subprocess.run(["docker", *argv], capture_output=True, text=True, env=env)
    ours = subprocess.run([sys.executable, "-m", "dockyard.cli", *argv], capture_output=True,
                          text=True, env=env)
    assert ours.returncode == theirs.returncode, (ours.stderr, theirs.stderr)
    assert ours.stderr == theirs.stderr.replace("docker", "dockyard")


def test_flags_after_the_image_belong_to_the_command(daemon: Daemon) -> None:
    d = daemon
    out = d.ok("run", "--rm", "busybox", "echo", "-n", "--rm", "-t")
    assert out == "--rm -t"
    name = "flagsbox"
    d.ok("run", "-d", "--name=" + name, "-e", "A=1", "-eB=2", "--label", "x=y", "busybox",
         "sleep", "600")
    try:
        assert d.ok("exec", name, "sh", "-c", "echo $A$B", "--help").strip() == "12"
        assert d.ok("ps", "-q", "--filter", f"name={name}", "--no-trunc").strip() and \
            d.ok("ps", "--filter=label=x=y", "-aq").split() == \
            [d.ok("inspect", "-f", "{{.Id}}", name).strip()[:12]]
        result = d.cli("ps", "--filter", "nonsense")
        assert result.returncode == 125
        assert result.stderr.startswith('invalid argument "nonsense" for "-f, --filter" flag: '
                                        "bad format of filter (expected name=value)\n")
    finally:
        assert d.cli("rm", "-fv", name).returncode == 0


def test_installed_launcher_starts_without_site_packages(daemon: Daemon,
                                                         tmp_path: pathlib.Path) -> None:
    """scripts/cli-launcher.py's launcher (what setup.sh installs) runs commands with -S,
    and `manifest inspect`, the one command needing aiohttp, loads site-packages itself."""
    launcher = str(tmp_path / "dockyard")
    subprocess.run([sys.executable, os.path.join(SRC, "..", "scripts", "cli-launcher.py"),
                    launcher], check=True, capture_output=True, env={**os.environ,
                                                                     "PYTHONPATH": SRC})
    with open(launcher) as f:
        assert f.readline().rstrip().endswith(" -S")
    env = {**daemon.env(), "PYTHONPATH": SRC}
    ps = subprocess.run([launcher, "ps", "-a", "--format", "{{.ID}}"], capture_output=True,
                        text=True, env=env)
    assert ps.returncode == 0, ps.stderr
    manifest = subprocess.run([launcher, "manifest", "inspect", "127.0.0.1:1/none:1"],
                              capture_output=True, text=True, env=env)
    assert "ModuleNotFoundError" not in manifest.stderr and manifest.returncode == 1, \
        manifest.stderr
