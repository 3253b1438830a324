/*
 * dockyard-shim: the per-container monitor.
 *
 * It is exec'd by a process that already forked the container init (or is its subreaper), so
 * it can wait for it. It owns the container's stdout/stderr pipes, writes the json-file log,
 * relays output frames to connected clients (the daemon), and records the exit status in an
 * exit file, so a container outlives its daemon. With --tty-fd it holds the pseudo-terminal
 * master instead: output is one stream, stdin and resizes go to the master. Stdin writes never
 * block the loop: what the process does not take yet waits in a buffer. Signals for the
 * process come as frames and go through a pidfd taken at start, so a signal can never reach
 * a process that reused the pid. See docs/architecture.md ("shim").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_CLIENTS 32
#define LINE_MAX_BYTES 16384
#define FRAME_STDIN 0
#define FRAME_STDOUT 1
#define FRAME_STDERR 2
#define FRAME_EXIT 3
#define FRAME_CLOSE_STDIN 4
#define FRAME_RESIZE 5
#define FRAME_SIGNAL 6    /* client -> shim: signal number as text */
#define FRAME_SIGNALED 7  /* shim -> that client: 0 or the errno, as text */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#define STDIN_HIGH_WATER (1 << 20)  /* stop reading client frames while this much is queued */

struct client {
    int fd;
    unsigned char hdr[8];
    size_t hdr_len;
    unsigned char *payload;
    size_t payload_len, payload_want;
};

struct stream {
    int fd;
    const char *name;
    char line[LINE_MAX_BYTES];
    size_t len;
};

static const char *opt_id, *opt_exit_file, *opt_log;
static pid_t opt_pid = -1;
static long long opt_log_max_size;
static int opt_log_max_file = 1;
static int opt_log_compress;     /* gzip rotated files: NAME.1.gz ... */
static int stdin_fd = -1, log_fd = -1, tty_fd = -1;
static int pidfd = -1;           /* the watched process, taken before it can be reaped */
static int reaped, no_child;     /* reaped: its pid may belong to someone else now */
static unsigned char *stdin_buf;
static size_t stdin_len, stdin_cap;
static int stdin_close_pending;
static long long log_size;
static struct client clients[MAX_CLIENTS];
static struct stream streams[2];

static void die(const char *what) {
    fprintf(stderr, "dockyard-shim: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* --- json-file log ------------------------------------------------------------------------ */

static size_t format_time(char *out, size_t cap) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ts.tv_nsec) {
        char frac[16];
        snprintf(frac, sizeof frac, "%09ld", ts.tv_nsec);
        int end = 9;
        while (end > 0 && frac[end - 1] == '0') end--;
        frac[end] = 0;
        n += snprintf(out + n, cap - n, ".%s", frac);
    }
    n += snprintf(out + n, cap - n, "Z");
    return n;
}

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0 if invalid. */
static int utf8_len(const unsigned char *s, size_t n) {
    int len;
    uint32_t cp;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xE0) == 0xC0) { len = 2; cp = s[0] & 0x1F; }
    else if ((s[0] & 0xF0) == 0xE0) { len = 3; cp = s[0] & 0x0F; }
    else if ((s[0] & 0xF8) == 0xF0) { len = 4; cp = s[0] & 0x07; }
    else return 0;
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Escape like Go's encoding/json (HTML-safe, invalid UTF-8 replaced). Returns bytes written. */
static size_t json_escape(char *out, const unsigned char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = c; i++; continue; }
        if (c == '\n') { out[o++] = '\\'; out[o++] = 'n'; i++; continue; }
        if (c == '\r') { out[o++] = '\\'; out[o++] = 'r'; i++; continue; }
        if (c == '\t') { out[o++] = '\\'; out[o++] = 't'; i++; continue; }
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            memcpy(out + o, "\\u00", 4); o += 4;
            out[o++] = hex[c >> 4]; out[o++] = hex[c & 15]; i++; continue;
        }
        if (c < 0x80) { out[o++] = c; i++; continue; }
        int len = utf8_len(s + i, n - i);
        if (len == 0) { memcpy(out + o, "\\ufffd", 6); o += 6; i++; continue; }
        if (len == 3 && s[i] == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
            memcpy(out + o, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6); o += 6; i += 3; continue;
        }
        memcpy(out + o, s + i, len); o += len; i += len;
    }
    return o;
}

static void open_log(void) {
    log_fd = open(opt_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) die("open log");
    struct stat st;
    log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
}

/* NAME -> NAME.gz (written to a temp file, renamed, then NAME removed). Synchronous: a
 * rotation happens once per max-size bytes, and level 1 keeps it short. */
static void compress_file(const char *name) {
    char tmp[4200], dst[4200];
    snprintf(tmp, sizeof tmp, "%s.gz.tmp", name);
    snprintf(dst, sizeof dst, "%s.gz", name);
    int in = open(name, O_RDONLY | O_CLOEXEC);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    gzFile gz = out >= 0 ? gzdopen(out, "wb1") : NULL;
    if (in < 0 || !gz) {
        if (in >= 0) close(in);
        if (gz) gzclose(gz); else if (out >= 0) close(out);
        return;                        /* keep the uncompressed file */
    }
    char buf[65536];
    ssize_t r;
    int ok = 1;
    while ((r = read(in, buf, sizeof buf)) > 0)
        if (gzwrite(gz, buf, (unsigned)r) != (int)r) { ok = 0; break; }
    close(in);
    if (gzclose(gz) != Z_OK) ok = 0;
    if (ok && r == 0 && rename(tmp, dst) == 0) unlink(name);
    else unlink(tmp);
}

static void rotate_log(void) {
    char from[4096], to[4096];
    close(log_fd);
    if (opt_log_max_file <= 1) {
        if (truncate(opt_log, 0) < 0 && errno != ENOENT) die("truncate log");
    } else if (opt_log_compress) {
        for (int i = opt_log_max_file - 1; i >= 2; i--) {
            snprintf(from, sizeof from, "%s.%d.gz", opt_log, i - 1);
            snprintf(to, sizeof to, "%s.%d.gz", opt_log, i);
            rename(from, to);
        }
        snprintf(to, sizeof to, "%s.1", opt_log);
        if (rename(opt_log, to) == 0) compress_file(to);
    } else {
        for (int i = opt_log_max_file - 1; i >= 1; i--) {
            if (i == 1) snprintf(from, sizeof from, "%s", opt_log);
            else snprintf(from, sizeof from, "%s.%d", opt_log, i - 1);
            snprintf(to, sizeof to, "%s.%d", opt_log, i);
            rename(from, to);
        }
    }
    open_log();
}

static void log_line(struct stream *st, const unsigned char *data, size_t n, int newline) {
    if (log_fd < 0) return;
    static char buf[LINE_MAX_BYTES * 6 + 256];
    size_t o = 0;
    o += snprintf(buf, sizeof buf, "{\"log\":\"");
    o += json_escape(buf + o, data, n);
    if (newline) { memcpy(buf + o, "\\n", 2); o += 2; }
    o += snprintf(buf + o, sizeof buf - o, "\",\"stream\":\"%s\",\"time\":\"", st->name);
    o += format_time(buf + o, sizeof buf - o);
    o += snprintf(buf + o, sizeof buf - o, "\"}\n");
    if (opt_log_max_size > 0 && log_size > 0 && log_size + (long long)o > opt_log_max_size)
        rotate_log();
    if (write(log_fd, buf, o) == (ssize_t)o) log_size += o;
}

static void log_data(struct stream *st, const unsigned char *data, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            log_line(st, (unsigned char *)st->line, st->len, 1);
            st->len = 0;
            continue;
        }
        st->line[st->len++] = data[i];
        if (st->len == LINE_MAX_BYTES) {
            log_line(st, (unsigned char *)st->line, st->len, 0);
            st->len = 0;
        }
    }
}

static void log_flush(struct stream *st) {
    if (st->len) log_line(st, (unsigned char *)st->line, st->len, 0);
    st->len = 0;
}

/* --- clients ----------------------------------------------------------------------------- */

static void drop_client(struct client *c) {
    if (c->fd >= 0) close(c->fd);
    free(c->payload);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        p += w; n -= w;
    }
    return 0;
}

static void send_frame(int type, const void *data, size_t n) {
    unsigned char hdr[8] = {type, 0, 0, 0, n >> 24, n >> 16, n >> 8, n};
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].fd < 0) continue;
        if (write_all(clients[i].fd, hdr, 8) < 0 || (n && write_all(clients[i].fd, data, n) < 0))
            drop_client(&clients[i]);
    }
}

static void add_client(int fd) {
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].fd < 0) { clients[i].fd = fd; return; }
    }
    close(fd);
}

static void close_stdin(void) {
    if (stdin_fd >= 0) close(stdin_fd);
    stdin_fd = -1;
    stdin_len = 0;
    stdin_close_pending = 0;
}

/* Write what the process takes now; the rest stays queued until poll says it is writable. */
static void flush_stdin(void) {
    while (stdin_fd >= 0 && stdin_len > 0) {
        ssize_t w = write(stdin_fd, stdin_buf, stdin_len);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            close_stdin();  /* the reader went away (EPIPE): drop stdin like Docker */
            return;
        }
        memmove(stdin_buf, stdin_buf + w, stdin_len - w);
        stdin_len -= w;
    }
    if (stdin_close_pending && stdin_len == 0) close_stdin();
}

static void queue_stdin(const unsigned char *data, size_t n) {
    if (stdin_fd < 0 || stdin_close_pending || n == 0) return;
    if (stdin_len + n > stdin_cap) {
        size_t cap = stdin_cap ? stdin_cap : 65536;
        while (cap < stdin_len + n) cap *= 2;
        unsigned char *grown = realloc(stdin_buf, cap);
        if (!grown) return;
        stdin_buf = grown;
        stdin_cap = cap;
    }
    memcpy(stdin_buf + stdin_len, data, n);
    stdin_len += n;
    flush_stdin();
}

/* 0 or an errno. Only through the pidfd, or while the process is our unreaped child. */
static int signal_process(int sig) {
    if (reaped) return ESRCH;
    if (pidfd >= 0) return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? errno : 0;
    if (no_child) return ESRCH;  /* without a pidfd its pid proves nothing */
    return kill(opt_pid, sig) < 0 ? errno : 0;
}

static void answer_signal(struct client *c) {
    char text[16];
    unsigned sig = 0;
    int err = EINVAL;
    if (c->payload_len < sizeof text) {
        memcpy(text, c->payload, c->payload_len);
        text[c->payload_len] = 0;
        if (sscanf(text, "%u", &sig) == 1 && sig < 65) err = signal_process((int)sig);
    }
    int n = snprintf(text, sizeof text, "%d", err);
    unsigned char hdr[8] = {FRAME_SIGNALED, 0, 0, 0, 0, 0, 0, n};
    if (write_all(c->fd, hdr, 8) < 0 || write_all(c->fd, text, n) < 0) drop_client(c);
}

static void handle_frame(struct client *c) {
    int type = c->hdr[0];
    if (type == FRAME_STDIN) {
        queue_stdin(c->payload, c->payload_len);
    } else if (type == FRAME_CLOSE_STDIN && stdin_fd >= 0) {
        stdin_close_pending = 1;
        flush_stdin();
    } else if (type == FRAME_RESIZE && c->payload_len < 64) {
        char text[64];
        unsigned rows = 0, cols = 0;
        memcpy(text, c->payload, c->payload_len);
        text[c->payload_len] = 0;
        if (sscanf(text, "%u %u", &rows, &cols) == 2 && tty_fd >= 0) {
            struct winsize ws = {.ws_row = rows, .ws_col = cols};
            ioctl(tty_fd, TIOCSWINSZ, &ws);
        }
    } else if (type == FRAME_SIGNAL) {
        answer_signal(c);
    }
}

static void read_client(struct client *c) {
    if (c->hdr_len < 8) {
        ssize_t r = read(c->fd, c->hdr + c->hdr_len, 8 - c->hdr_len);
        if (r <= 0) { drop_client(c); return; }
        c->hdr_len += r;
        if (c->hdr_len < 8) return;
        c->payload_want = (size_t)c->hdr[4] << 24 | c->hdr[5] << 16 | c->hdr[6] << 8 | c->hdr[7];
        if (c->payload_want > (1 << 20)) { drop_client(c); return; }
        c->payload = malloc(c->payload_want ? c->payload_want : 1);
        c->payload_len = 0;
        if (!c->payload) { drop_client(c); return; }
    }
    if (c->payload_len < c->payload_want) {
        ssize_t r = read(c->fd, c->payload + c->payload_len, c->payload_want - c->payload_len);
        if (r <= 0) { drop_client(c); return; }
        c->payload_len += r;
    }
    if (c->payload_len == c->payload_want) {
        handle_frame(c);
        free(c->payload);
        c->payload = NULL;
        c->hdr_len = c->payload_len = c->payload_want = 0;
    }
}

static int listen_abstract(void) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int n = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "dockyard-shim/%s", opt_id);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    if (bind(fd, (struct sockaddr *)&addr, offsetof(struct sockaddr_un, sun_path) + 1 + n) < 0)
        die("bind");
    if (listen(fd, 16) < 0) die("listen");
    return fd;
}

static void accept_client(int lfd) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
        close(fd);
        return;
    }
    add_client(fd);
}

/* --- output and exit --------------------------------------------------------------------- */

/* Returns 0 at EOF (and closes the stream). */
static int pump(struct stream *st, int type) {
    unsigned char buf[32768];
    ssize_t r = read(st->fd, buf, sizeof buf);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 1;
    if (r <= 0) {
        log_flush(st);
        close(st->fd);
        st->fd = -1;
        return 0;
    }
    log_data(st, buf, r);
    send_frame(type, buf, r);
    return 1;
}

static void write_exit_file(int code) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char tmp[4096], body[128], dir[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", opt_exit_file);
    int n = snprintf(body, sizeof body, "{\"exit_code\": %d, \"finished_at\": %lld}", code,
                     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    if (write_all(fd, body, n) == 0) fsync(fd);
    close(fd);
    rename(tmp, opt_exit_file);
    snprintf(dir, sizeof dir, "%s", opt_exit_file);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        int dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) { fsync(dfd); close(dfd); }
    }
}

static int status_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 255;
}

static void parse_args(int argc, char **argv, int *control_fd) {
    static struct option opts[] = {
        {"id", 1, 0, 'i'}, {"pid", 1, 0, 'p'}, {"stdout-fd", 1, 0, 'o'},
        {"stderr-fd", 1, 0, 'e'}, {"stdin-fd", 1, 0, 'n'}, {"control-fd", 1, 0, 'c'},
        {"exit-file", 1, 0, 'x'}, {"log", 1, 0, 'l'}, {"log-max-size", 1, 0, 's'},
        {"log-max-file", 1, 0, 'f'}, {"log-compress", 0, 0, 'z'}, {"tty-fd", 1, 0, 't'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'i': opt_id = optarg; break;
        case 'p': opt_pid = atoi(optarg); break;
        case 'o': streams[0].fd = atoi(optarg); break;
        case 'e': streams[1].fd = atoi(optarg); break;
        case 'n': stdin_fd = atoi(optarg); break;
        case 'c': *control_fd = atoi(optarg); break;
        case 'x': opt_exit_file = optarg; break;
        case 'l': opt_log = optarg[0] ? optarg : NULL; break;
        case 's': opt_log_max_size = atoll(optarg); break;
        case 'f': opt_log_max_file = atoi(optarg); break;
        case 'z': opt_log_compress = 1; break;
        case 't': tty_fd = atoi(optarg); break;
        default: exit(2);
        }
    }
    if (tty_fd >= 0) {  /* one stream: the terminal carries stdout and stderr, and stdin */
        streams[0].fd = tty_fd;
        streams[1].fd = -1;
        stdin_fd = dup(tty_fd);
    }
    if (!opt_id || opt_pid <= 0 || !opt_exit_file || streams[0].fd < 0 ||
        (streams[1].fd < 0 && tty_fd < 0)) {
        fprintf(stderr, "usage: dockyard-shim --id ID --pid PID (--stdout-fd N --stderr-fd N | "
                        "--tty-fd N) [--stdin-fd N] --control-fd N --exit-file PATH "
                        "[--log PATH ...]\n");
        exit(2);
    }
}

int main(int argc, char **argv) {
    int control_fd = -1;
    streams[0] = (struct stream){.fd = -1, .name = "stdout"};
    streams[1] = (struct stream){.fd = -1, .name = "stderr"};
    for (int i = 0; i < MAX_CLIENTS; i++) clients[i].fd = -1;
    parse_args(argc, argv, &control_fd);
    /* Our child (or, with runc exec --tty, reparented to us, a subreaper) that nobody else
     * reaps: the pid is still its own here. */
    pidfd = (int)syscall(SYS_pidfd_open, opt_pid, 0);

    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);  /* an inherited SIG_IGN would reap the container for us */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) die("signalfd");

    for (int i = 0; i < 2; i++) {
        if (streams[i].fd < 0) continue;
        fcntl(streams[i].fd, F_SETFL, fcntl(streams[i].fd, F_GETFL) | O_NONBLOCK);
        fcntl(streams[i].fd, F_SETFD, FD_CLOEXEC);
    }
    if (stdin_fd >= 0) {
        fcntl(stdin_fd, F_SETFL, fcntl(stdin_fd, F_GETFL) | O_NONBLOCK);
        fcntl(stdin_fd, F_SETFD, FD_CLOEXEC);
    }
    if (control_fd >= 0) {
        fcntl(control_fd, F_SETFD, FD_CLOEXEC);
        add_client(control_fd);
    }
    if (opt_log) open_log();
    int lfd = listen_abstract();
    int chdir_ok = chdir("/");
    (void)chdir_ok;

    int exited = 0, code = 255;
    struct timespec deadline = {0, 0};
    for (;;) {
        struct pollfd pfd[5 + MAX_CLIENTS];
        int idx[MAX_CLIENTS];
        int n = 0;
        pfd[n++] = (struct pollfd){sfd, POLLIN, 0};
        pfd[n++] = (struct pollfd){lfd, POLLIN, 0};
        pfd[n++] = (struct pollfd){streams[0].fd, POLLIN, 0};
        pfd[n++] = (struct pollfd){streams[1].fd, POLLIN, 0};
        pfd[n++] = (struct pollfd){stdin_len ? stdin_fd : -1, POLLOUT, 0};
        short client_events = stdin_len < STDIN_HIGH_WATER ? POLLIN : 0;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (clients[i].fd < 0) continue;
            idx[n - 5] = i;
            pfd[n++] = (struct pollfd){clients[i].fd, client_events, 0};
        }
        int timeout = -1;
        if (exited || no_child) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
            timeout = no_child && !exited ? 100 : (ms > 0 ? (int)ms : 0);
            if (exited && (ms <= 0 || (streams[0].fd < 0 && streams[1].fd < 0))) break;
        }
        int r = poll(pfd, n, timeout);
        if (r < 0 && errno != EINTR) die("poll");
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0) {}
        }
        /* Reap every child; note the container init's status. */
        for (;;) {
            int status;
            pid_t p = waitpid(-1, &status, WNOHANG);
            if (p > 0) {
                if (p == opt_pid && !exited) {
                    exited = reaped = 1;
                    code = status_code(status);
                    clock_gettime(CLOCK_MONOTONIC, &deadline);
                    deadline.tv_sec += 2;
                }
                continue;
            }
            if (p < 0 && errno == ECHILD && !exited) {
                /* Not our child (e.g. lost across an unusual launch): poll for it. */
                no_child = 1;
                int gone = pidfd >= 0 ? syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0
                                      : kill(opt_pid, 0) < 0 && errno == ESRCH;
                if (gone) {
                    exited = 1;
                    code = 255;
                    clock_gettime(CLOCK_MONOTONIC, &deadline);
                    deadline.tv_sec += 2;
                }
            }
            break;
        }
        if (pfd[1].revents & POLLIN) accept_client(lfd);
        if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) pump(&streams[0], FRAME_STDOUT);
        if (pfd[3].revents & (POLLIN | POLLHUP | POLLERR)) pump(&streams[1], FRAME_STDERR);
        if (pfd[4].revents & POLLOUT) flush_stdin();
        else if (pfd[4].revents & (POLLHUP | POLLERR)) close_stdin();
        for (int k = 5; k < n; k++) {
            if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                struct client *c = &clients[idx[k - 5]];
                if (c->fd == pfd[k].fd) read_client(c);
            }
        }
    }
    for (int i = 0; i < 2; i++) if (streams[i].fd >= 0) log_flush(&streams[i]);
    write_exit_file(code);
    char text[16];
    int len = snprintf(text, sizeof text, "%d", code);
    send_frame(FRAME_EXIT, text, len);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].fd >= 0) {
            shutdown(clients[i].fd, SHUT_WR);
            drop_client(&clients[i]);
        }
    }
    return 0;
}
