"""The built-in seccomp profile: Docker's default semantics, kept as data in our own shape.

Everything not listed fails with EPERM. Ordinary syscalls are always allowed; the ones a
capability guards are allowed only when the container's bounding set holds it, so `--cap-add`
unlocks them as in Docker. `clone` with namespace flags and `clone3` (whose flags seccomp
cannot inspect: ENOSYS makes glibc fall back to clone) need CAP_SYS_ADMIN. `profile()`
renders the rules in Docker's profile JSON format, so built-in and user profiles take the
same path (oci/seccomp.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENOSYS = 38
EPERM = 1
AF_VSOCK = 40
# CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP
CLONE_NAMESPACE_FLAGS = 0x7E020000


@dataclass(frozen=True)
class Rule:
    """One group of syscalls with an action, optional argument tests and conditions."""
    names: str                          # whitespace separated
    action: str = "SCMP_ACT_ALLOW"
    errno: int | None = None
    args: tuple[tuple[int, int, int, str], ...] = ()   # (index, value, valueTwo, op)
    with_caps: tuple[str, ...] = ()     # all of these must be in the bounding set
    without_caps: tuple[str, ...] = ()  # none of these may be in the bounding set
    arches: tuple[str, ...] = ()        # only on these host architectures (Go names)
    not_arches: tuple[str, ...] = ()
    min_kernel: str = ""


# The host architecture (Docker's Go name) → the seccomp architectures a filter covers.
ARCHES: dict[str, tuple[str, ...]] = {
    "SCMP_ARCH_X86_64": ("SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "SCMP_ARCH_AARCH64": ("SCMP_ARCH_ARM",),
    "SCMP_ARCH_S390X": ("SCMP_ARCH_S390",),
    "SCMP_ARCH_RISCV64": (),
}

_ORDINARY = """
    accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
    clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
    clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
    copy_file_range creat dup dup2 dup3
    epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
    epoll_wait_old eventfd eventfd2 execve execveat exit exit_group
    faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod
    fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr
    flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
    ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake
    futimesat
    getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32
    getgroups getgroups32 getitimer get_mempolicy getpeername getpgid getpgrp getpid getppid
    getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit
    get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
    gettimeofday getuid getuid32 getxattr
    inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy
    io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
    ipc kill
    landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
    lgetxattr link linkat listen listmount listxattr llistxattr _llseek lremovexattr lseek
    lsetxattr lstat lstat64
    madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod
    mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
    mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap
    mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
    name_to_handle_at nanosleep newfstatat _newselect open openat openat2
    pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll
    ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
    pselect6_time64 pwrite64 pwritev pwritev2
    read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
    remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq
    rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
    rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
    sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
    sched_get_priority_min sched_getscheduler sched_rr_get_interval
    sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
    sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
    semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
    setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
    setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
    setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
    setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4
    sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount
    statx symlink symlinkat sync sync_file_range syncfs sysinfo
    tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
    timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
    timerfd_settime timerfd_settime64 times tkill truncate truncate64
    ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes
    vfork vmsplice wait4 waitid waitpid write writev
"""

# personality(2) values ordinary programs use: Linux, 32-bit, uname26, both, and the query.
_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

RULES: tuple[Rule, ...] = (
    Rule(_ORDINARY),
    # Since 4.8 seccomp cannot be bypassed with ptrace, so a container may trace its own.
    Rule("process_vm_readv process_vm_writev ptrace", min_kernel="4.8"),
    Rule("socket", args=((0, AF_VSOCK, 0, "SCMP_CMP_NE"),)),
    *(Rule("personality", args=((0, value, 0, "SCMP_CMP_EQ"),)) for value in _PERSONALITIES),
    Rule("sync_file_range2 swapcontext", arches=("ppc64le",)),
    Rule("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
         arches=("arm", "arm64")),
    Rule("arch_prctl", arches=("amd64", "x32")),
    Rule("modify_ldt", arches=("amd64", "x32", "x86")),
    Rule("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
         arches=("s390", "s390x")),
    Rule("riscv_flush_icache", arches=("riscv64",)),
    Rule("open_by_handle_at", with_caps=("CAP_DAC_READ_SEARCH",)),
    Rule("bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount "
         "mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd "
         "setdomainname sethostname setns syslog umount umount2 unshare",
         with_caps=("CAP_SYS_ADMIN",)),
    # Without CAP_SYS_ADMIN: clone only without namespace flags (s390 swaps the arguments).
    Rule("clone", args=((0, CLONE_NAMESPACE_FLAGS, 0, "SCMP_CMP_MASKED_EQ"),),
         without_caps=("CAP_SYS_ADMIN",), not_arches=("s390", "s390x")),
    Rule("clone", args=((1, CLONE_NAMESPACE_FLAGS, 0, "SCMP_CMP_MASKED_EQ"),),
         without_caps=("CAP_SYS_ADMIN",), arches=("s390", "s390x")),
    Rule("clone3", action="SCMP_ACT_ERRNO", errno=ENOSYS, without_caps=("CAP_SYS_ADMIN",)),
    Rule("reboot", with_caps=("CAP_SYS_BOOT",)),
    Rule("chroot", with_caps=("CAP_SYS_CHROOT",)),
    Rule("delete_module init_module finit_module", with_caps=("CAP_SYS_MODULE",)),
    Rule("acct", with_caps=("CAP_SYS_PACCT",)),
    Rule("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
         with_caps=("CAP_SYS_PTRACE",)),
    Rule("iopl ioperm", with_caps=("CAP_SYS_RAWIO",)),
    Rule("settimeofday stime clock_settime clock_settime64", with_caps=("CAP_SYS_TIME",)),
    Rule("vhangup", with_caps=("CAP_SYS_TTY_CONFIG",)),
    Rule("mbind set_mempolicy set_mempolicy_home_node", with_caps=("CAP_SYS_NICE",)),
    Rule("syslog", with_caps=("CAP_SYSLOG",)),
    Rule("bpf", with_caps=("CAP_BPF",)),
    Rule("perf_event_open", with_caps=("CAP_PERFMON",)),
)


def _render(rule: Rule) -> dict[str, Any]:
    entry: dict[str, Any] = {"names": rule.names.split(), "action": rule.action}
    if rule.errno is not None:
        entry["errnoRet"] = rule.errno
    if rule.args:
        entry["args"] = [{"index": i, "value": v, "valueTwo": v2, "op": op}
                         for i, v, v2, op in rule.args]
    includes: dict[str, Any] = {}
    excludes: dict[str, Any] = {}
    if rule.with_caps:
        includes["caps"] = list(rule.with_caps)
    if rule.arches:
        includes["arches"] = list(rule.arches)
    if rule.min_kernel:
        includes["minKernel"] = rule.min_kernel
    if rule.without_caps:
        excludes["caps"] = list(rule.without_caps)
    if rule.not_arches:
        excludes["arches"] = list(rule.not_arches)
    if includes:
        entry["includes"] = includes
    if excludes:
        entry["excludes"] = excludes
    return entry


def profile() -> dict[str, Any]:
    """The built-in profile in Docker's seccomp profile JSON format."""
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "archMap": [{"architecture": arch, "subArchitectures": list(subs)}
                    for arch, subs in ARCHES.items()],
        "syscalls": [_render(rule) for rule in RULES],
    }
