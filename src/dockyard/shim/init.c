/*
 * dockyard-init: the tiny init that `run --init` puts at PID 1 (mounted at /sbin/docker-init).
 *
 * It starts the command as its child, forwards the signals it receives to it, reaps every
 * zombie that is reparented to it, and exits with the command's status (128+signal when the
 * command was killed), so a process that was never written to be PID 1 behaves as usual.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--") == 0) first = 2;
    if (first >= argc) {
        fprintf(stderr, "usage: docker-init [--] COMMAND [ARG...]\n");
        return 2;
    }
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);

    pid_t child = fork();
    if (child < 0) {
        perror("docker-init: fork");
        return 1;
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        setpgid(0, 0);
        execvp(argv[first], &argv[first]);
        fprintf(stderr, "docker-init: exec %s: %s\n", argv[first], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }

    for (;;) {
        siginfo_t info;
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(&all, &info, &tick);
        if (sig > 0 && sig != SIGCHLD) kill(child, sig);
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0) break;
            if (pid == child) {
                /* Reap what is left, then leave with the command's status. */
                while (waitpid(-1, NULL, WNOHANG) > 0) {}
                if (WIFEXITED(status)) return WEXITSTATUS(status);
                if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
                return 1;
            }
        }
    }
}
