/* hl-pty: the agent's terminal host (docs/pty.md). Opens a pseudo-terminal,
 * runs the program on it as a session leader, and joins a channel of
 * hl-stdio's relay as its agent side: what the program writes goes to the
 * channel's viewers, what they type comes to the program, and the window
 * size the relay picks is applied to the terminal. It outlives the relay
 * (reconnects; output meanwhile bounded, then counted) and ends with the
 * program, with its exit status. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <hlbus/clock.h>
#ifndef HL_VERSION
#define HL_VERSION "0.0.0"
#endif

#include "link.h"
#include "spawn.h"
#include "term.h"
#include "wire.h"

#define READ_CHUNK 4096
#define TTY_IN_CAP (4 * 65536) /* viewers' input the program has not taken yet */
#define EXIT_FLUSH_MS 2000  /* after the program ends: time to hand over its last words */

static const char usage[] =
    "Usage: hl-pty [OPTIONS] -- PROGRAM [ARGS...]\n"
    "Runs PROGRAM on a pseudo-terminal and joins a channel of hl-stdio as its\n"
    "agent side. Ends as PROGRAM does: with its exit status, or killed by the same\n"
    "signal (an exit status of 128+N where a signal cannot be raised).\n"
    "  --channel NAME   the relay's channel (default main)\n"
    "  --socket PATH    hl-stdio's attach socket (default $HL_RUNTIME_DIR or\n"
    "                   /run/hl, then /stdio-attach.sock)\n"
    "  --buffer SIZE    output kept while the relay is away (default 1MiB)\n"
    "  --size CxR       the terminal's size until a viewer says (default 80x24)\n"
    "  --term NAME      TERM for the program (default xterm-256color)\n"
    "  --chdir DIR      the program's working directory\n"
    "  --help, --version\n";

typedef struct host {
    pty_child_t child;
    stdio_term_t *term;
    relay_link_t link;
    unsigned cols, rows;
    uint8_t tty_in[TTY_IN_CAP];
    size_t tty_in_len;
    bool child_done, tty_eof;
    int wstatus;
} host_t;

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static bool parse_size(const char *s, unsigned *cols, unsigned *rows)
{
    char x;
    return sscanf(s, "%u%c%u", cols, &x, rows) == 3 && x == 'x' &&
           stdio_term_size_ok(*cols, *rows);
}

static bool parse_bytes(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return false;
    if (!strcmp(end, "KiB") || !strcmp(end, "K"))
        v <<= 10;
    else if (!strcmp(end, "MiB") || !strcmp(end, "M"))
        v <<= 20;
    else if (*end)
        return false;
    if (v < 65536 || v > (256ull << 20))
        return false;
    *out = (size_t)v;
    return true;
}

static void on_input(void *arg, const uint8_t *data, size_t len)
{
    host_t *h = arg;
    /* The relay is not read while this is full (main loop), so it fits. */
    size_t room = TTY_IN_CAP - h->tty_in_len;
    if (len > room)
        len = room;
    memcpy(h->tty_in + h->tty_in_len, data, len);
    h->tty_in_len += len;
}

static void on_size(void *arg, unsigned cols, unsigned rows)
{
    host_t *h = arg;
    if (!stdio_term_size_ok(cols, rows)) {
        fprintf(stderr, "hl-pty: the relay asked for a %ux%u terminal: ignored\n", cols, rows);
        return;
    }
    if (cols == h->cols && rows == h->rows)
        return;
    h->cols = cols;
    h->rows = rows;
    stdio_term_resize(h->term, cols, rows);
    if (pty_resize(&h->child, cols, rows) < 0)
        fprintf(stderr, "hl-pty: cannot resize the terminal: %s\n", strerror(errno));
}

static const link_ops_t link_ops = {.input = on_input, .size = on_size};

static void tty_write(host_t *h)
{
    while (h->tty_in_len) {
        ssize_t n = write(h->child.master, h->tty_in, h->tty_in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* full (EAGAIN) or the program is gone (EIO): later, or never */
        memmove(h->tty_in, h->tty_in + n, h->tty_in_len - (size_t)n);
        h->tty_in_len -= (size_t)n;
    }
}

/* One read of the program's output: onto our screen and to the relay.
 * false at the end of it (EIO: no process has the terminal open). */
static bool tty_read(host_t *h)
{
    uint8_t buf[READ_CHUNK];
    ssize_t n = read(h->child.master, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n <= 0)
        return false;
    stdio_term_feed(h->term, buf, (size_t)n);
    link_output(&h->link, buf, (size_t)n);
    return true;
}

static void reap(host_t *h)
{
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0)
        if (p == h->child.pid) {
            h->child_done = true;
            h->wstatus = st;
        }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"channel", required_argument, NULL, 'c'}, {"socket", required_argument, NULL, 's'},
        {"buffer", required_argument, NULL, 'b'},  {"size", required_argument, NULL, 'z'},
        {"term", required_argument, NULL, 't'},    {"chdir", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *channel = "main", *sock = NULL, *termname = "xterm-256color", *dir = NULL;
    size_t bound = 1u << 20;
    static host_t h;
    h.cols = 80;
    h.rows = 24;
    int opt;
    while ((opt = getopt_long(argc, argv, "+c:s:b:z:t:C:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            channel = optarg;
            if (!name_ok(channel)) {
                fprintf(stderr, "hl-pty: a channel name is [a-z0-9-]{1,64}, not '%s'\n", optarg);
                return 64;
            }
            break;
        case 's': sock = optarg; break;
        case 'b':
            if (!parse_bytes(optarg, &bound)) {
                fprintf(stderr, "hl-pty: --buffer takes 64KiB..256MiB, not '%s'\n", optarg);
                return 64;
            }
            break;
        case 'z':
            if (!parse_size(optarg, &h.cols, &h.rows)) {
                fprintf(stderr, "hl-pty: --size takes COLSxROWS within %d..%d x %d..%d, not '%s'\n",
                        STDIO_TERM_MIN, STDIO_TERM_MAX_COLS, STDIO_TERM_MIN, STDIO_TERM_MAX_ROWS,
                        optarg);
                return 64;
            }
            break;
        case 't': termname = optarg; break;
        case 'C': dir = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("hl-pty %s\n", HL_VERSION); return 0;
        default: fputs(usage, stderr); return 64;
        }
    }
    if (optind >= argc) {
        fputs("hl-pty: no program given (hl-pty [OPTIONS] -- PROGRAM [ARGS...])\n", stderr);
        return 64;
    }
    char *path = NULL;
    if (sock) {
        path = strdup(sock);
    } else {
        const char *rd = getenv("HL_RUNTIME_DIR");
        if (asprintf(&path, "%s/stdio-attach.sock", rd && *rd ? rd : "/run/hl") < 0)
            path = NULL;
    }
    h.term = stdio_term_new(h.cols, h.rows);
    if (!path || !h.term || link_init(&h.link, path, channel, bound) < 0) {
        fputs("hl-pty: out of memory\n", stderr);
        return 71;
    }
    free(path);

    /* Signals through a descriptor: the child's end (SIGCHLD), ours
     * (forwarded to the program's session), nothing else. */
    sigset_t mask;
    sigemptyset(&mask);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaddset(&mask, sigs[i]);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    char err[256];
    if (sfd < 0 || pty_spawn(argv + optind, dir, termname, h.cols, h.rows, &h.child, err,
                             sizeof err) < 0) {
        fprintf(stderr, "hl-pty: %s\n", sfd < 0 ? strerror(errno) : err);
        return 71;
    }
    fprintf(stderr, "hl-pty: started %s (pid %ld) on a %ux%u terminal\n", argv[optind],
            (long)h.child.pid, h.cols, h.rows);

    uint64_t flush_deadline = 0;
    for (;;) {
        if (h.link.fd < 0) {
            int rc = link_connect(&h.link, h.cols, h.rows, h.term);
            if (rc < 0 && rc != -EAGAIN && h.link.connects == 0 && rc != -ENOENT &&
                rc != -ECONNREFUSED)
                fprintf(stderr, "hl-pty: cannot reach the relay: %s\n", strerror(-rc));
        }
        if (h.link.fd >= 0)
            link_flush(&h.link, h.term);
        if (h.tty_eof && h.child_done) {
            /* The program is gone and its output read: hand the rest over. */
            if (!flush_deadline)
                flush_deadline = hlb_mono_us() + EXIT_FLUSH_MS * 1000u;
            if (h.link.out_len == 0 || hlb_mono_us() >= flush_deadline)
                break;
        }
        int timeout = -1;
        if (h.link.fd < 0 || flush_deadline)
            timeout = 100; /* the next try, or the end */
        bool take_tty = !h.tty_eof && link_may_take(&h.link);
        struct pollfd pf[3] = {
            {.fd = sfd, .events = POLLIN},
            {.fd = h.tty_eof ? -1 : h.child.master,
             .events = (take_tty ? POLLIN : 0) | (h.tty_in_len ? POLLOUT : 0)},
            {.fd = h.link.fd,
             .events = (TTY_IN_CAP - h.tty_in_len >= 2 * STDIO_WIRE_MAX_DATA ? POLLIN : 0) |
                       (h.link.out_len ? POLLOUT : 0)},
        };
        if (poll(pf, 3, timeout) < 0 && errno != EINTR) {
            fprintf(stderr, "hl-pty: poll: %s\n", strerror(errno));
            break;
        }
        if (pf[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGCHLD) {
                    reap(&h);
                } else if (!h.child_done) {
                    /* To the program's whole session: it decides how to end. */
                    kill(-h.child.pid, (int)si.ssi_signo);
                }
            }
        }
        if (pf[1].revents & POLLOUT)
            tty_write(&h);
        if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            /* POLLHUP: the program and its children closed the terminal;
             * read what is left, then stop watching it. */
            for (int i = 0; i < 16 && link_may_take(&h.link); i++)
                if (!tty_read(&h)) {
                    h.tty_eof = true;
                    break;
                } else if (!(pf[1].revents & POLLHUP)) {
                    break;
                }
        }
        if (h.link.fd >= 0 && (pf[2].revents & (POLLIN | POLLHUP | POLLERR)))
            if (link_read(&h.link, &link_ops, &h, h.term) == 0 && h.tty_in_len)
                tty_write(&h);
        if (h.child_done && !h.tty_eof) {
            /* The session leader ended: whatever it left is read to the end
             * (EIO once no process holds the terminal). */
            if (!tty_read(&h))
                h.tty_eof = true;
        }
    }
    if (!h.child_done) {
        /* Only on a poll failure: do not leave the program behind. */
        kill(-h.child.pid, SIGHUP);
        waitpid(h.child.pid, &h.wstatus, 0);
    }
    int code = pty_exit_code(h.wstatus);
    if (h.link.lost)
        fprintf(stderr, "hl-pty: %llu bytes of output were not kept while the relay was away\n",
                (unsigned long long)h.link.lost);
    fprintf(stderr, "hl-pty: %s ended (%s %d)\n", argv[optind],
            WIFSIGNALED(h.wstatus) ? "signal" : "exit",
            WIFSIGNALED(h.wstatus) ? WTERMSIG(h.wstatus) : WEXITSTATUS(h.wstatus));
    link_fini(&h.link);
    stdio_term_free(&h.term);
    close(h.child.master);
    if (WIFSIGNALED(h.wstatus)) {
        /* Killed by a signal: so are we (its core, if any, was the
         * program's), so that systemd reports the program's end as it is
         * ("code=killed, status=6/ABRT") and its Restart= rules apply. */
        int sig = WTERMSIG(h.wstatus);
        setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
        signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        raise(sig);
    }
    return code;
}
