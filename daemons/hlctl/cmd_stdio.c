/* hlctl attach: a terminal on a STDIO channel of hl-stdio, through its
 * attach socket (the protocol is in daemons/hl-stdio/wire.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "../hl-stdio/wire.h"
#include "attach_input.h"
#include "hlctl.h"

#define OUTBUF 65536 /* stdin bytes waiting for the socket */

static const char attach_usage[] =
    "[CHANNEL] [--read-only|--watch] [--from OFFSET|STREAM:OFFSET|now] [--detach-key KEY]\n"
    "       [--no-screen] [--socket PATH] [--quiet]\n"
    "Attaches the terminal to a STDIO channel (default \"main\"): what the channel\n"
    "carries is printed, what you type is sent. Detach with Ctrl-] (--detach-key ^X\n"
    "picks another, \"none\" disables it; it only works on a terminal). Without\n"
    "--from the channel's scrollback is replayed first; on detach the offset to\n"
    "resume from is printed. On a terminal channel (an agent on hl-pty) a terminal\n"
    "is drawn the current screen instead (--no-screen: the scrollback), and its\n"
    "size, and every change of it, is sent: the most recently active read-write\n"
    "client's size is the agent's. --watch: read-only, never resizes. Exit: 0\n"
    "detached, 1 closed or dropped by hl-stdio, 2 could not attach, 64 usage.";

typedef struct {
    int fd;
    bool tty, raw_set, read_only, quiet, framed_in, drew;
    struct termios saved;
    int detach_key; /* -1: none */
    char stream[20];
    char channel[65];
    uint64_t pos;
    bool started;
    uint8_t *in; /* frames not parsed yet */
    size_t in_len, in_cap;
    uint8_t out[OUTBUF];
    size_t out_len;
} attach_t;

static void note(attach_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(attach_t *a, const char *fmt, ...)
{
    if (a->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs(a->raw_set ? "\r\n[" : "[", stderr);
    hlctl_vfprintf(stderr, fmt, ap); /* the relay's words among them: escaped */
    fputs(a->raw_set ? "]\r\n" : "]\n", stderr);
    va_end(ap);
}

static void restore_tty(attach_t *a)
{
    if (a->raw_set) {
        tcsetattr(STDIN_FILENO, TCSADRAIN, &a->saved);
        a->raw_set = false;
    }
}

static int parse_detach_key(const char *s)
{
    if (strcmp(s, "none") == 0)
        return -1;
    if (s[0] == '^' && s[1] && !s[2]) {
        char c = s[1];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c >= '@' && c <= '_')
            return c & 0x1f;
    }
    return -2;
}

static bool from_valid(const char *s)
{
    if (strcmp(s, "now") == 0)
        return true;
    const char *colon = strchr(s, ':');
    const char *num = s;
    if (colon) {
        if (colon == s || colon - s > 16)
            return false;
        for (const char *p = s; p < colon; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                return false;
        num = colon + 1;
    }
    int64_t v;
    return *num && strspn(num, "0123456789") == strlen(num) && hlb_parse_int(num, &v) == 0;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, -1);
            continue;
        }
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

/* Handles the frames in a->in. Returns 0 to go on, 1 when the relay ended
 * the session (E frame), -1 on a protocol error. */
static int take_frames(attach_t *a, char *why, size_t whylen)
{
    size_t o = 0;
    int rc = 0;
    while (rc == 0 && a->in_len - o >= STDIO_WIRE_HDR) {
        int type;
        uint32_t len;
        uint64_t off;
        if (stdio_wire_hdr_parse(a->in + o, &type, &len, &off) < 0) {
            snprintf(why, whylen, "protocol error: a bad frame header");
            return -1;
        }
        if (a->in_len - o < STDIO_WIRE_HDR + len)
            break;
        const uint8_t *pl = a->in + o + STDIO_WIRE_HDR;
        o += STDIO_WIRE_HDR + len;
        if (!a->started && type != STDIO_FRAME_START && type != STDIO_FRAME_END) {
            snprintf(why, whylen, "protocol error: data before the start");
            return -1;
        }
        switch (type) {
        case STDIO_FRAME_START: {
            char missed[24] = "0";
            a->started = true;
            a->pos = off;
            stdio_wire_kv((const char *)pl, len, "stream", a->stream, sizeof a->stream);
            stdio_wire_kv((const char *)pl, len, "missed", missed, sizeof missed);
            if (strcmp(missed, "0") != 0)
                note(a, "%s bytes of %s were no longer kept; starting at %llu", missed,
                     a->channel, (unsigned long long)off);
            if (a->tty && !a->read_only && a->detach_key >= 0)
                note(a, "attached to %s at %s:%llu; detach with ^%c", a->channel, a->stream,
                     (unsigned long long)off, a->detach_key + '@');
            else
                note(a, "attached to %s at %s:%llu%s", a->channel, a->stream,
                     (unsigned long long)off, a->read_only ? ", read-only" : "");
            break;
        }
        case STDIO_FRAME_DATA:
            if (!write_all(STDOUT_FILENO, pl, len)) {
                snprintf(why, whylen, "cannot write to stdout: %s", strerror(errno));
                return -1;
            }
            a->pos = off + len;
            break;
        case STDIO_FRAME_SKIP:
            a->pos = off + stdio_wire_get64(pl);
            break;
        case STDIO_FRAME_REDRAW:
            /* The screen as it is (a terminal channel), then the live stream. */
            if (!write_all(STDOUT_FILENO, pl, len)) {
                snprintf(why, whylen, "cannot write to stdout: %s", strerror(errno));
                return -1;
            }
            a->drew = true;
            a->pos = off;
            break;
        case STDIO_FRAME_WINSIZE:
            break; /* for agents */
        case STDIO_FRAME_END: {
            size_t l = len;
            while (l && (pl[l - 1] == '\n' || pl[l - 1] == '\r'))
                l--;
            snprintf(why, whylen, "%.*s", (int)l, (const char *)pl);
            if (a->started)
                a->pos = off;
            rc = 1;
            break;
        }
        }
    }
    memmove(a->in, a->in + o, a->in_len - o);
    a->in_len -= o;
    return rc;
}

static int winch_pipe[2] = {-1, -1};

static void on_winch(int sig)
{
    (void)sig;
    int e = errno;
    if (write(winch_pipe[1], "w", 1) < 0) {
        /* full: a change is pending already */
    }
    errno = e;
}

/* The terminal's size (stdin's, else stdout's); false when neither is one. */
static bool term_size(unsigned *cols, unsigned *rows)
{
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
        return false;
    *cols = ws.ws_col;
    *rows = ws.ws_row;
    return ws.ws_col && ws.ws_row;
}

/* Queues a W frame with the terminal's size; false when there is no room. */
static bool queue_size(attach_t *a)
{
    unsigned cols, rows;
    if (!term_size(&cols, &rows))
        return true;
    if (OUTBUF - a->out_len < STDIO_WIRE_HDR + 4)
        return false;
    stdio_wire_hdr(a->out + a->out_len, STDIO_FRAME_WINSIZE, 4, 0);
    stdio_wire_put_size(a->out + a->out_len + STDIO_WIRE_HDR, cols > 65535 ? 65535 : cols,
                        rows > 65535 ? 65535 : rows);
    a->out_len += STDIO_WIRE_HDR + 4;
    return true;
}

/* What a program on a terminal channel may have left set on ours: reset
 * when we leave (the alternate screen, modes, the pen, a hidden cursor). */
static void reset_terminal(const attach_t *a)
{
    static const char reset[] = "\033[r\033[0m\033[?1l\033>\033[?2004l\033[?1000l\033[?1002l"
                                "\033[?1003l\033[?1006l\033[?1004l\033[?1049l\033[?25h";
    if (a->drew && isatty(STDOUT_FILENO))
        write_all(STDOUT_FILENO, reset, sizeof reset - 1);
}

static int connect_attach(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int hlctl_cmd_attach(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"read-only", no_argument, NULL, 'R'}, {"from", required_argument, NULL, 'f'},
        {"detach-key", required_argument, NULL, 'k'}, {"socket", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},      {"help", no_argument, NULL, 'h'},
        {"watch", no_argument, NULL, 'W'},      {"no-screen", no_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    static attach_t a;
    memset(&a, 0, sizeof a);
    a.fd = -1;
    a.detach_key = 0x1d; /* Ctrl-] as in telnet */
    const char *from = NULL, *sock = NULL;
    bool no_screen = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "+Rf:k:s:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'R': a.read_only = true; break;
        case 'W': a.read_only = true; break;
        case 'N': no_screen = true; break;
        case 'f':
            if (!from_valid(optarg)) {
                hlctl_fprintf(stderr, "hlctl attach: --from takes OFFSET, STREAM:OFFSET or now, not '%s'\n",
                        optarg);
                return HLCTL_USAGE;
            }
            from = optarg;
            break;
        case 'k':
            a.detach_key = parse_detach_key(optarg);
            if (a.detach_key == -2) {
                hlctl_fprintf(stderr, "hlctl attach: --detach-key takes ^X or none, not '%s'\n", optarg);
                return HLCTL_USAGE;
            }
            break;
        case 's': sock = optarg; break;
        case 'q': a.quiet = true; break;
        case 'h': hlctl_printf("Usage: hlctl attach %s\n", attach_usage); return HLCTL_OK;
        default: return hlctl_usage(attach_usage);
        }
    }
    if (argc - optind > 1)
        return hlctl_usage(attach_usage);
    snprintf(a.channel, sizeof a.channel, "%s", optind < argc ? argv[optind] : "main");
    if (!hlb_name_valid(a.channel)) {
        hlctl_fprintf(stderr, "hlctl attach: a channel name is [a-z0-9-]{1,64}, not '%s'\n",
                a.channel);
        return HLCTL_USAGE;
    }
    char *path = sock ? strdup(sock) : hlb_path(ctx->runtime_dir, "stdio-attach.sock");
    a.fd = path ? connect_attach(path) : -1;
    if (a.fd < 0) {
        hlctl_fprintf(stderr, "hlctl attach: cannot connect to %s: %s (is hl-stdio running?)\n",
                path ? path : "the attach socket", strerror(errno));
        free(path);
        return HLCTL_CRITICAL;
    }
    free(path);
    /* A terminal: its size (read-write only: watchers never resize), the
     * screen rather than the history (unless a position was asked for),
     * and framed input so that size changes can follow. */
    char hello[320], size[40] = "";
    unsigned cols, rows;
    bool sized = !a.read_only && term_size(&cols, &rows);
    if (sized)
        snprintf(size, sizeof size, " size=%ux%u", cols > 65535 ? 65535 : cols,
                 rows > 65535 ? 65535 : rows);
    bool screen = !from && !no_screen && isatty(STDOUT_FILENO);
    a.framed_in = !a.read_only;
    snprintf(hello, sizeof hello, STDIO_WIRE_VERSION " attach %s%s%s%s%s%s%s\n", a.channel,
             a.read_only ? " read-only" : "", from ? " from=" : "", from ? from : "",
             a.framed_in ? " framed-input" : "", size, screen ? " screen" : "");
    if (!write_all(a.fd, hello, strlen(hello))) {
        hlctl_fprintf(stderr, "hlctl attach: cannot send the hello: %s\n", strerror(errno));
        close(a.fd);
        return HLCTL_CRITICAL;
    }
    fcntl(a.fd, F_SETFL, fcntl(a.fd, F_GETFL) | O_NONBLOCK);
    if (sized && pipe2(winch_pipe, O_NONBLOCK | O_CLOEXEC) == 0) {
        struct sigaction sa = {.sa_handler = on_winch};
        sigaction(SIGWINCH, &sa, NULL);
    }
    /* A closed terminal or a quit key ends the session like ^C: the
     * terminal is restored on the way out. */
    struct sigaction stop = {0};
    sigaction(SIGINT, NULL, &stop);
    sigaction(SIGHUP, &stop, NULL);
    sigaction(SIGQUIT, &stop, NULL);
    bool size_pending = false;

    a.tty = isatty(STDIN_FILENO);
    if (a.tty && tcgetattr(STDIN_FILENO, &a.saved) == 0) {
        struct termios raw = a.saved;
        cfmakeraw(&raw);
        if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0) /* typeahead is kept */
            a.raw_set = true;
    }
    bool stdin_open = true, user_detached = false, sock_wr_open = !a.read_only;
    bool watch_stdout = true;
    int rc = HLCTL_OK;
    char why[512] = "";
    a.in_cap = 2 * (STDIO_WIRE_HDR + STDIO_WIRE_MAX_DATA);
    a.in = malloc(a.in_cap);
    if (!a.in) {
        restore_tty(&a);
        close(a.fd);
        return HLCTL_CRITICAL;
    }
    while (!hlctl_interrupted) {
        /* Read-only: stdin only matters on a terminal, for the detach key. */
        bool want_stdin = stdin_open && (a.tty || !a.read_only) && a.out_len < OUTBUF;
        if (!sock_wr_open && !a.read_only)
            a.out_len = 0; /* the relay takes no more input: nowhere to send it */
        /* stdout too, for nothing but its reader going away (a pipe into
         * `head` or `grep -m1`): then there is no one to print for. */
        struct pollfd pf[4] = {
            {.fd = a.fd, .events = POLLIN | (a.out_len && sock_wr_open ? POLLOUT : 0)},
            {.fd = want_stdin ? STDIN_FILENO : -1, .events = POLLIN},
            {.fd = watch_stdout ? STDOUT_FILENO : -1, .events = 0},
            {.fd = winch_pipe[0], .events = POLLIN},
        };
        if (poll(pf, 4, -1) < 0) {
            if (errno == EINTR)
                continue;
            snprintf(why, sizeof why, "poll: %s", strerror(errno));
            rc = HLCTL_CRITICAL;
            break;
        }
        if (pf[2].revents & POLLNVAL)
            watch_stdout = false; /* no stdout at all: nothing to watch */
        else if (pf[2].revents & (POLLERR | POLLHUP)) {
            user_detached = true;
            break;
        }
        if (pf[3].revents & POLLIN) {
            char drain[64];
            while (read(winch_pipe[0], drain, sizeof drain) > 0) {
            }
            size_pending = true;
        }
        if (size_pending && sock_wr_open && a.framed_in)
            size_pending = !queue_size(&a);
        /* Framed input: a D header goes before what is read (hdr bytes). */
        size_t hdr = a.framed_in ? STDIO_WIRE_HDR : 0;
        if ((pf[1].revents & (POLLIN | POLLHUP | POLLERR)) && a.out_len + hdr < OUTBUF) {
            uint8_t buf[4096];
            size_t at = a.out_len;
            attach_input_t in = {.q = a.out, .len = a.out_len + hdr, .cap = OUTBUF, .tty = a.tty,
                                 .detach_key = a.detach_key, .read_only = a.read_only};
            /* Never more than the queue has room for: reading a whole buf
             * when fewer bytes were free overran a.out (#12). */
            size_t room = attach_input_room(&in, sizeof buf);
            ssize_t n = room ? read(STDIN_FILENO, buf, room) : -1;
            if (room == 0) {
                /* full: wait for the socket (want_stdin keeps us from here) */
            } else if (n <= 0) {
                stdin_open = false;
                if (!a.read_only && a.out_len == 0 && sock_wr_open) {
                    shutdown(a.fd, SHUT_WR); /* no more input; output goes on */
                    sock_wr_open = false;
                }
            } else {
                if (attach_input_take(&in, buf, (size_t)n))
                    user_detached = true;
                if (a.read_only) {
                    /* nothing is queued */
                } else if (in.len > at + hdr) {
                    if (hdr)
                        stdio_wire_hdr(a.out + at, STDIO_FRAME_DATA,
                                       (uint32_t)(in.len - at - hdr), 0);
                    a.out_len = in.len;
                }
            }
        }
        if (a.out_len && sock_wr_open) {
            ssize_t w = send(a.fd, a.out, a.out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                memmove(a.out, a.out + w, a.out_len - (size_t)w);
                a.out_len -= (size_t)w;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                a.out_len = 0; /* the relay will say why, if it can */
                sock_wr_open = false;
            }
            if (!stdin_open && a.out_len == 0 && sock_wr_open) {
                shutdown(a.fd, SHUT_WR);
                sock_wr_open = false;
            }
        }
        if (user_detached && a.out_len == 0)
            break;
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(a.fd, a.in + a.in_len, a.in_cap - a.in_len, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                if (!why[0])
                    snprintf(why, sizeof why, "hl-stdio closed the connection");
                rc = a.started ? HLCTL_DEGRADED : HLCTL_CRITICAL;
                break;
            }
            if (n > 0) {
                a.in_len += (size_t)n;
                int t = take_frames(&a, why, sizeof why);
                if (t != 0) {
                    rc = t < 0 || !a.started ? HLCTL_CRITICAL : HLCTL_DEGRADED;
                    break;
                }
            }
        }
    }
    reset_terminal(&a);
    restore_tty(&a);
    signal(SIGWINCH, SIG_DFL);
    if (winch_pipe[0] >= 0) {
        close(winch_pipe[0]);
        close(winch_pipe[1]);
        winch_pipe[0] = winch_pipe[1] = -1;
    }
    if (rc == HLCTL_CRITICAL && !a.started)
        hlctl_fprintf(stderr, "hlctl attach: %s\n", why[0] ? why : "could not attach");
    else if (a.started && !a.quiet && (user_detached || hlctl_interrupted))
        hlctl_fprintf(stderr, "\n[detached from %s at %s:%llu; resume with: hlctl attach %s --from %s:%llu]\n",
                a.channel, a.stream, (unsigned long long)a.pos, a.channel, a.stream,
                (unsigned long long)a.pos);
    else if (a.started && !a.quiet)
        hlctl_fprintf(stderr, "\n[hl-stdio: %s; %s at %s:%llu; resume with: hlctl attach %s --from %s:%llu]\n",
                why, a.channel, a.stream, (unsigned long long)a.pos, a.channel, a.stream,
                (unsigned long long)a.pos);
    free(a.in);
    close(a.fd);
    return rc;
}
