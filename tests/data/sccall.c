/* sccall NR [ARG...]: make system call NR with integer arguments (decimal or 0x hex) and
 * print the errno it failed with, 0 on success. A clone that succeeds: the child exits at
 * once and the parent waits for it. Used by tests/test_seccomp.py inside containers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long a[6] = {0, 0, 0, 0, 0, 0};
    if (argc < 2)
        return 2;
    for (int i = 2; i < argc && i < 8; i++)
        a[i - 2] = strtol(argv[i], NULL, 0);
    long nr = strtol(argv[1], NULL, 0);
    long ret = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (ret == 0 && nr == SYS_clone)
        _exit(0);
    int err = ret < 0 ? errno : 0;
    if (ret > 0 && nr == SYS_clone)
        waitpid((pid_t)ret, NULL, 0);
    printf("%d\n", err);
    return 0;
}
