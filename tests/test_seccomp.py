"""seccomp: the built-in profile (Docker's semantics), custom profiles, unconfined and
privileged, exec processes, our runtime and runc, our CLI, the docker CLI and docker-py.

`sccall` (tests/data/sccall.c, compiled static here) makes one raw system call and prints
its errno, so the tests see exactly what the filter answered."""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from typing import Any, Iterator

import pytest

from conftest import Daemon, inspect

HERE = os.path.dirname(os.path.abspath(__file__))
EPERM, EACCES, ENOSPC, ENOSYS = 1, 13, 28, 38
# syscall numbers of the host (the image's sccall is built for it)
NR = {"x86_64": {"clone": 56, "clone3": 435, "personality": 135, "kcmp": 312, "newer": 1000},
      "aarch64": {"clone": 220, "clone3": 435, "personality": 92, "kcmp": 272,
                  "newer": 1000}}.get(platform.machine(), {})
CLONE_NEWNS, SIGCHLD = 0x20000, 17


@pytest.fixture(scope="module")
def image(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """busybox plus /sccall, made with create + cp + commit."""
    if not NR:
        pytest.skip(f"SKIPPED LOUDLY: no syscall table for {platform.machine()} in this test")
    if shutil.which("gcc") is None:
        pytest.skip("SKIPPED LOUDLY: gcc missing (apt-get install gcc)")
    binary = str(tmp_path_factory.mktemp("sccall") / "sccall")
    subprocess.run(["gcc", "-static", "-O2", "-o", binary, os.path.join(HERE, "data",
                                                                        "sccall.c")],
                   check=True)
    daemon.ok("create", "--name", "sccall-base", "busybox", "true")
    try:
        daemon.ok("cp", binary, "sccall-base:/sccall")
        daemon.ok("commit", "sccall-base", "sccall:test")
    finally:
        daemon.cli("rm", "-f", "sccall-base")
    yield "sccall:test"
    daemon.cli("rmi", "-f", "sccall:test")


def run(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    return daemon.cli("run", "--rm", *args)


def sccall(daemon: Daemon, image: str, *args: str, opts: tuple[str, ...] = ()) -> int:
    """errno of one system call in a new container ("NAME ARG..." with NR's names)."""
    out = daemon.ok("run", "--rm", *opts, image, "/sccall", str(NR[args[0]]), *args[1:])
    return int(out.strip())


def seccomp_status(daemon: Daemon, *opts: str) -> str:
    out = daemon.ok("run", "--rm", *opts, "busybox", "grep", "^Seccomp:", "/proc/self/status")
    return out.split()[1]


def write_profile(tmp_path: Any, profile: dict[str, Any]) -> str:
    path = str(tmp_path / "profile.json")
    with open(path, "w") as f:
        json.dump(profile, f, indent=2)
    return path


def allow_all_but(rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules, **extra}


# --- the built-in profile -------------------------------------------------------------------

def test_default_profile_filters_and_caps_unlock(daemon: Daemon, image: str) -> None:
    assert seccomp_status(daemon) == "2"
    result = run(daemon, "busybox", "unshare", "-m", "true")
    assert result.returncode == 1 and "Operation not permitted" in result.stderr
    assert run(daemon, "--cap-add", "SYS_ADMIN", "busybox", "unshare", "-m",
               "true").returncode == 0
    # clone: namespace flags need CAP_SYS_ADMIN, plain fork-like clone is fine
    assert sccall(daemon, image, "clone", hex(CLONE_NEWNS | SIGCHLD)) == EPERM
    assert sccall(daemon, image, "clone", hex(SIGCHLD)) == 0
    assert sccall(daemon, image, "clone", hex(CLONE_NEWNS | SIGCHLD),
                  opts=("--cap-add", "SYS_ADMIN")) == 0
    # clone3 answers ENOSYS (glibc falls back to clone); with CAP_SYS_ADMIN the kernel sees it
    assert sccall(daemon, image, "clone3", "0", "0") == ENOSYS
    assert sccall(daemon, image, "clone3", "0", "0", opts=("--cap-add", "SYS_ADMIN")) != ENOSYS
    # personality: the usual values only (0x40000 = ADDR_NO_RANDOMIZE is refused)
    assert sccall(daemon, image, "personality", "0xffffffff") == 0
    assert sccall(daemon, image, "personality", "0x8") == 0
    assert sccall(daemon, image, "personality", "0x40000") == EPERM
    assert sccall(daemon, image, "personality", "0x40000",
                  opts=("--security-opt", "seccomp=unconfined")) == 0
    # a syscall newer than every one the profile knows: ENOSYS, so libc can fall back
    assert sccall(daemon, image, "newer") == ENOSYS
    assert sccall(daemon, image, "kcmp", "1", "1", "0") == EPERM


def test_default_profile_in_the_spec(daemon: Daemon) -> None:
    """config.json carries linux.seccomp for the host's architectures and capabilities."""
    def section(*opts: str) -> dict[str, Any]:
        cid = daemon.ok("create", *opts, "busybox", "true").strip()
        try:
            daemon.ok("start", "-a", cid)
            path = os.path.join(daemon.root, "containers", cid, "bundle", "config.json")
            with open(path) as f:
                return json.load(f)["linux"].get("seccomp")
        finally:
            daemon.cli("rm", "-f", cid)

    plain = section()
    assert plain["defaultAction"] == "SCMP_ACT_ERRNO" and plain["defaultErrnoRet"] == EPERM
    expected = {"x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]}.get(platform.machine())
    if expected:
        assert plain["architectures"] == expected
    names = {n for rule in plain["syscalls"] for n in rule["names"]}
    assert {"read", "write", "execve"} <= names and not {"mount", "kcmp", "reboot"} & names
    assert "ptrace" in names  # since kernel 4.8 ptrace cannot bypass seccomp
    admin = section("--cap-add", "SYS_ADMIN", "--cap-add", "SYS_PTRACE")
    unconditional = {n for rule in admin["syscalls"] if not rule.get("args")
                     for n in rule["names"] if rule["action"] == "SCMP_ACT_ALLOW"}
    assert {"mount", "umount2", "unshare", "setns", "clone", "ptrace",
            "process_vm_readv"} <= unconditional
    assert section("--privileged") is None
    assert section("--security-opt", "seccomp=unconfined") is None


def test_info_lists_the_builtin_profile(daemon: Daemon) -> None:
    options = json.loads(daemon.ok("info", "--format", "{{json .SecurityOptions}}"))
    assert options[0] == "name=seccomp,profile=builtin"
    assert " Security Options:\n  seccomp\n   Profile: builtin\n" in daemon.ok("info")


def test_privileged_and_unconfined_disable_seccomp(daemon: Daemon) -> None:
    assert seccomp_status(daemon, "--privileged") == "0"
    assert seccomp_status(daemon, "--security-opt", "seccomp=unconfined") == "0"
    assert seccomp_status(daemon, "--security-opt", "seccomp:unconfined") == "0"
    assert seccomp_status(daemon, "--security-opt", "seccomp=builtin") == "2"


def test_non_root_user_and_no_new_privileges(daemon: Daemon) -> None:
    """Without no_new_privs the filter is loaded while CAP_SYS_ADMIN is still held; the
    process then runs without it."""
    out = daemon.ok("run", "--rm", "-u", "1000", "busybox", "sh", "-c",
                    "grep -E '^(Seccomp|CapEff|NoNewPrivs):' /proc/self/status")
    assert out.split() == ["CapEff:", "0000000000000000", "NoNewPrivs:", "0", "Seccomp:", "2"]
    out = daemon.ok("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep",
                    "-E", "^(Seccomp|NoNewPrivs|CapEff):", "/proc/self/status")
    assert out.split() == ["CapEff:", "00000000a80425fb", "NoNewPrivs:", "1", "Seccomp:", "2"]


# --- custom profiles ------------------------------------------------------------------------

MKDIR_DENIED = allow_all_but([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])


def test_custom_profile_denies_mkdir(daemon: Daemon, tmp_path: Any) -> None:
    path = write_profile(tmp_path, MKDIR_DENIED)
    result = run(daemon, "--security-opt", f"seccomp={path}", "busybox", "mkdir", "/x")
    assert result.returncode == 1
    assert "can't create directory '/x': Operation not permitted" in result.stderr
    assert run(daemon, "--security-opt", f"seccomp={path}", "busybox", "touch",
               "/y").returncode == 0
    cid = daemon.ok("create", "--security-opt", f"seccomp={path}", "busybox", "true").strip()
    try:  # the CLI sent the file's compact JSON, as the docker CLI does
        opts = inspect(daemon, cid)["HostConfig"]["SecurityOpt"]
        assert opts == ["seccomp=" + json.dumps(MKDIR_DENIED, separators=(",", ":"))]
    finally:
        daemon.cli("rm", "-f", cid)


def test_errno_ret_and_default_errno_ret(daemon: Daemon, tmp_path: Any) -> None:
    path = write_profile(tmp_path, allow_all_but([{"names": ["mkdir", "mkdirat"],
                                                   "action": "SCMP_ACT_ERRNO",
                                                   "errnoRet": ENOSPC}]))
    result = run(daemon, "--security-opt", f"seccomp={path}", "busybox", "mkdir", "/x")
    assert result.returncode == 1 and "No space left on device" in result.stderr
    # the built-in allow-list without mkdir, and a default errno of EACCES
    from dockyard.oci.seccomp_default import profile
    builtin = profile()
    builtin["defaultErrnoRet"] = EACCES
    for rule in builtin["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in ("mkdir", "mkdirat")]
    path = write_profile(tmp_path, builtin)
    result = run(daemon, "--security-opt", f"seccomp={path}", "busybox", "sh", "-c",
                 "echo hi > /f && cat /f && mkdir /x")
    assert result.returncode == 1 and result.stdout == "hi\n"
    assert "can't create directory '/x': Permission denied" in result.stderr


def test_argument_condition(daemon: Daemon, tmp_path: Any) -> None:
    """chmod to 0700 is refused, other modes are not (busybox calls chmod(path, mode))."""
    rules = [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
              "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]},
             {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
              "args": [{"index": 2, "value": 0o700, "op": "SCMP_CMP_EQ"}]}]
    path = write_profile(tmp_path, allow_all_but(rules))
    result = run(daemon, "--security-opt", f"seccomp={path}", "busybox", "sh", "-c",
                 "touch /f; chmod 755 /f && stat -c %a /f; chmod 700 /f")
    assert result.stdout == "755\n"
    assert result.returncode == 1 and "Operation not permitted" in result.stderr


def test_caps_conditions_in_custom_profiles(daemon: Daemon, tmp_path: Any) -> None:
    """includes/excludes by capability are resolved against the container's caps."""
    rules = [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
              "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]
    path = write_profile(tmp_path, allow_all_but(rules))
    assert run(daemon, "--security-opt", f"seccomp={path}", "busybox", "mkdir",
               "/x").returncode == 1
    assert run(daemon, "--security-opt", f"seccomp={path}", "--cap-add", "SYS_ADMIN",
               "busybox", "mkdir", "/x").returncode == 0


INVALID = [
    ({"defaultAction": "SCMP_ACT_BOGUS"},
     "string SCMP_ACT_BOGUS is not a valid action for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
      "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]},
     "'architectures' and 'archMap' were specified in the seccomp profile, use either "
     "'architectures' or 'archMap'"),
    (allow_all_but([{"name": "mkdir", "names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}]),
     "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"),
    (allow_all_but([{"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
                     "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]),
     "string SCMP_CMP_ALMOST is not a valid operator for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]},
     "string SCMP_ARCH_Z80 is not a valid arch for seccomp"),
    ({"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]},
     "string  is not a valid action for seccomp"),  # no defaultAction (dockerd passes "")
    ({"defaultAction": 7}, "Decoding seccomp profile failed: json: cannot unmarshal number "
                           "into Go struct field Seccomp.defaultAction of type string"),
]


@pytest.mark.parametrize("profile,message", INVALID)
def test_invalid_profiles_refused_at_create(daemon: Daemon, tmp_path: Any,
                                            profile: dict[str, Any], message: str) -> None:
    before = daemon.container_ids()
    path = write_profile(tmp_path, profile)
    result = daemon.cli("create", "--security-opt", f"seccomp={path}", "busybox", "true")
    assert result.returncode == 125
    assert f"Error response from daemon: {message}" in result.stderr
    assert daemon.container_ids() == before


def test_cli_profile_file_errors(daemon: Daemon, tmp_path: Any) -> None:
    result = daemon.cli("run", "--rm", "--security-opt", "seccomp=/no/such.json", "busybox",
                        "true")
    assert result.returncode == 125
    assert ("opening seccomp profile (/no/such.json) failed: open /no/such.json: "
            "no such file or directory") in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = daemon.cli("run", "--rm", "--security-opt", f"seccomp={bad}", "busybox", "true")
    assert result.returncode == 125
    # the docker CLI's own text (Go's decoder), checked against it
    assert (f"compacting json for seccomp profile ({bad}) failed: invalid character 'n' "
            "looking for beginning of object key string") in result.stderr


# --- exec, runc, other clients --------------------------------------------------------------

@pytest.mark.parametrize("runtime", ["dockyard", "runc"])
def test_exec_processes_get_the_filter(daemon: Daemon, tmp_path: Any, runtime: str) -> None:
    path = write_profile(tmp_path, MKDIR_DENIED)
    name = f"sc-exec-{runtime}"
    daemon.ok("run", "-d", "--name", name, "--runtime", runtime, "--security-opt",
              f"seccomp={path}", "busybox", "sleep", "1000")
    try:
        out = daemon.ok("exec", name, "grep", "^Seccomp:", "/proc/self/status")
        assert out.split()[1] == "2"
        result = daemon.cli("exec", name, "mkdir", "/x")
        assert result.returncode == 1 and "Operation not permitted" in result.stderr
        result = daemon.cli("exec", "-u", "1000", name, "mkdir", "/tmp/x")
        assert result.returncode == 1 and "Operation not permitted" in result.stderr
    finally:
        daemon.cli("rm", "-f", name)
    name = f"sc-exec-default-{runtime}"
    daemon.ok("run", "-d", "--name", name, "--runtime", runtime, "busybox", "sleep", "1000")
    try:
        result = daemon.cli("exec", name, "unshare", "-m", "true")
        assert result.returncode == 1 and "Operation not permitted" in result.stderr
        out = daemon.ok("exec", "-u", "1000", name, "grep", "-E", "^(Seccomp|CapEff):",
                        "/proc/self/status")
        assert out.split() == ["CapEff:", "0000000000000000", "Seccomp:", "2"]
    finally:
        daemon.cli("rm", "-f", name)


def test_exec_after_daemon_restart(own_daemon: Daemon, tmp_path: Any) -> None:
    """A restarted daemon has no compiled filter cached: the launcher compiles it."""
    d = own_daemon
    path = write_profile(tmp_path, MKDIR_DENIED)
    d.ok("run", "-d", "--name", "kept", "--security-opt", f"seccomp={path}", "busybox",
         "sleep", "1000")
    d.kill9()
    d.start()
    result = d.cli("exec", "kept", "mkdir", "/x")
    assert result.returncode == 1 and "Operation not permitted" in result.stderr
    assert d.ok("exec", "kept", "touch", "/y") == ""


def test_runc_applies_the_same_spec(daemon: Daemon, image: str, tmp_path: Any) -> None:
    runc = ("--runtime", "runc")
    assert seccomp_status(daemon, *runc) == "2"
    assert seccomp_status(daemon, *runc, "--security-opt", "seccomp=unconfined") == "0"
    assert sccall(daemon, image, "clone", hex(CLONE_NEWNS | SIGCHLD), opts=runc) == EPERM
    assert sccall(daemon, image, "clone3", "0", "0", opts=runc) == ENOSYS
    assert run(daemon, *runc, "--cap-add", "SYS_ADMIN", "busybox", "unshare", "-m",
               "true").returncode == 0
    path = write_profile(tmp_path, MKDIR_DENIED)
    result = run(daemon, *runc, "--security-opt", f"seccomp={path}", "busybox", "mkdir", "/x")
    assert result.returncode == 1 and "Operation not permitted" in result.stderr


def test_docker_cli(daemon: Daemon, tmp_path: Any) -> None:
    if shutil.which("docker") is None:
        pytest.skip("SKIPPED LOUDLY: docker CLI not installed")
    info = daemon.docker("info", "--format", "{{json .SecurityOptions}}")
    assert "name=seccomp,profile=builtin" in json.loads(info.stdout)
    path = write_profile(tmp_path, MKDIR_DENIED)
    result = daemon.docker("run", "--rm", "--security-opt", f"seccomp={path}", "busybox",
                           "mkdir", "/x")
    assert result.returncode == 1 and "Operation not permitted" in result.stderr
    result = daemon.docker("run", "--rm", "busybox", "grep", "^Seccomp:", "/proc/self/status")
    assert result.stdout.split() == ["Seccomp:", "2"], result.stderr
    result = daemon.docker("run", "--rm", "--privileged", "busybox", "grep", "^Seccomp:",
                           "/proc/self/status")
    assert result.stdout.split() == ["Seccomp:", "0"], result.stderr
    result = daemon.docker("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox",
                           "unshare", "-m", "true")
    assert result.returncode == 1  # no filter, but no CAP_SYS_ADMIN either
    path = write_profile(tmp_path, {"defaultAction": "SCMP_ACT_NOPE"})
    result = daemon.docker("create", "--security-opt", f"seccomp={path}", "busybox", "true")
    assert result.returncode != 0
    assert "string SCMP_ACT_NOPE is not a valid action for seccomp" in result.stderr


def test_docker_py(docker_client: Any) -> None:
    import docker
    assert "name=seccomp,profile=builtin" in docker_client.info()["SecurityOptions"]
    profile = json.dumps(MKDIR_DENIED)
    container = docker_client.containers.run("busybox", ["sh", "-c", "mkdir /x; echo $?"],
                                             security_opt=[f"seccomp={profile}"], detach=True)
    try:
        container.wait(timeout=30)
        # stdout and stderr are separate pipes: their order in the log is not defined
        assert container.logs(stdout=False) == b"mkdir: can't create directory '/x': " \
                                               b"Operation not permitted\n"
        assert container.logs(stderr=False) == b"1\n"
    finally:
        container.remove(force=True)
    with pytest.raises(docker.errors.APIError) as err:
        docker_client.containers.create("busybox", "true", security_opt=[
            'seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],'
            '"action":"SCMP_ACT_WHAT"}]}'])
    assert err.value.status_code == 400
    assert "string SCMP_ACT_WHAT is not a valid action for seccomp" in str(err.value)
    with pytest.raises(docker.errors.APIError) as err:  # docker-py sends the value as given
        docker_client.containers.create("busybox", "true", security_opt=["seccomp={not json"])
    assert err.value.status_code == 400
    assert "Decoding seccomp profile failed: invalid character 'n' looking for beginning of " \
        "object key string" in str(err.value)


# --- cost -----------------------------------------------------------------------------------

def test_start_latency_with_and_without_seccomp(daemon: Daemon) -> None:
    """The filter is compiled once per profile in the daemon: starts stay as fast. Runs
    alternate, so load on the machine hits both alike."""
    modes = {"default": (), "unconfined": ("--security-opt", "seccomp=unconfined")}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    daemon.ok("run", "--rm", "busybox", "true")  # warm the cache and the page cache
    for _ in range(9):
        for mode, opts in modes.items():
            start = time.perf_counter()
            daemon.ok("run", "--rm", *opts, "busybox", "true")
            times[mode].append(time.perf_counter() - start)
    default, unconfined = (statistics.median(times[m]) for m in modes)
    print(f"run --rm busybox true: default profile {default * 1000:.0f} ms, "
          f"unconfined {unconfined * 1000:.0f} ms (medians of 9)")
    assert default < unconfined * 1.25 + 0.05
