/* In-process harness for the relay core: one relay in a private directory,
 * driven by the test between its own non-blocking client sockets, so every
 * interleaving is the test's choice. Waits are for conditions, with a
 * deadline; nothing sleeps to "give it time". */
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"
#include "t.h"
#include "wire.h"

/* ------------------------------------------------------------ byte buffers */

typedef struct bbuf {
    uint8_t *p;
    size_t len, cap;
} bbuf_t;

static void bb_add(bbuf_t *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        REQUIRE(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void bb_free(bbuf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ clients */

typedef struct tclient {
    int fd;
    bool framed, eof, paused; /* paused: the test does not read it */
    int err;
    bbuf_t in; /* raw: everything received; framed: the D payloads */
    bbuf_t raw; /* framed: bytes not parsed yet */
    /* framed */
    bool started, ended;
    uint64_t start, pos, skipped;
    char s_text[512], e_text[512];
    uint64_t e_offset;
    int errors; /* frames out of sequence or malformed */
    /* terminals: R payloads (the screen drawn), W frames (sizes to apply) */
    bbuf_t screen;
    unsigned w_cols, w_rows;
    int w_count;
} tclient_t;

#define MAX_TCLIENTS 512
static tclient_t *t_clients[MAX_TCLIENTS];

static void tc_track(tclient_t *c)
{
    for (int i = 0; i < MAX_TCLIENTS; i++)
        if (!t_clients[i]) {
            t_clients[i] = c;
            return;
        }
    REQUIRE(!"too many test clients");
}

static void tc_parse(tclient_t *c)
{
    size_t o = 0;
    while (c->raw.len - o >= STDIO_WIRE_HDR) {
        int type;
        uint32_t len;
        uint64_t off;
        if (stdio_wire_hdr_parse(c->raw.p + o, &type, &len, &off) < 0) {
            c->errors++;
            c->raw.len = 0;
            return;
        }
        if (c->raw.len - o < STDIO_WIRE_HDR + len)
            break;
        const uint8_t *pl = c->raw.p + o + STDIO_WIRE_HDR;
        if (c->ended || (type != STDIO_FRAME_START && !c->started))
            c->errors++;
        switch (type) {
        case STDIO_FRAME_START:
            if (c->started)
                c->errors++;
            c->started = true;
            c->start = c->pos = off;
            snprintf(c->s_text, sizeof c->s_text, "%.*s", (int)len, (const char *)pl);
            break;
        case STDIO_FRAME_DATA:
            if (off != c->pos)
                c->errors++;
            bb_add(&c->in, pl, len);
            c->pos = off + len;
            break;
        case STDIO_FRAME_SKIP:
            if (off != c->pos)
                c->errors++;
            c->pos = off + stdio_wire_get64(pl);
            c->skipped += stdio_wire_get64(pl);
            break;
        case STDIO_FRAME_REDRAW:
            bb_add(&c->screen, pl, len);
            break;
        case STDIO_FRAME_WINSIZE:
            stdio_wire_get_size(pl, &c->w_cols, &c->w_rows);
            c->w_count++;
            break;
        case STDIO_FRAME_END:
            c->ended = true;
            c->e_offset = off;
            snprintf(c->e_text, sizeof c->e_text, "%.*s", (int)len, (const char *)pl);
            break;
        }
        o += STDIO_WIRE_HDR + len;
    }
    if (o) {
        memmove(c->raw.p, c->raw.p + o, c->raw.len - o);
        c->raw.len -= o;
    }
}

/* Reads whatever is there. */
static void tc_pump(tclient_t *c)
{
    if (c->fd < 0 || c->eof || c->paused)
        return;
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            bb_add(c->framed ? &c->raw : &c->in, buf, (size_t)n);
            continue;
        }
        if (n == 0)
            c->eof = true;
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            c->err = errno, c->eof = true;
        break;
    }
    if (c->framed)
        tc_parse(c);
}

static void t_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    REQUIRE(strlen(path) < sizeof sa->sun_path);
    memcpy(sa->sun_path, path, strlen(path) + 1);
}

/* A blocking connection, or -1 with errno. */
static int t_connect_fd(const char *path)
{
    struct sockaddr_un sa;
    t_addr(&sa, path);
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

static tclient_t *tc_connect(const char *path)
{
    tclient_t *c = calloc(1, sizeof *c);
    REQUIRE(c);
    c->fd = t_connect_fd(path);
    if (c->fd < 0) {
        fprintf(stderr, "connect %s: %s\n", path, strerror(errno));
        REQUIRE(0);
    }
    tc_track(c);
    return c;
}

static void tc_close(tclient_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < MAX_TCLIENTS; i++)
        if (t_clients[i] == c)
            t_clients[i] = NULL;
    if (c->fd >= 0)
        close(c->fd);
    bb_free(&c->in);
    bb_free(&c->raw);
    bb_free(&c->screen);
    free(c);
}

/* Writes all of it (blocking on a full socket only as long as the relay
 * needs to be stepped: the caller's step function keeps things moving). */
static void t_step(void);
static void tc_write(tclient_t *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            c->err = errno;
            return;
        }
        t_step();
    }
}

/* ------------------------------------------------------------ the relay */

static stdio_relay_t *R;
static char t_dir[128];
static char t_main_path[192], t_ro_path[192], t_attach_path[192];
static stdio_chan_conf_t t_chan;
static stdio_relay_conf_t t_conf;

typedef struct {
    char channel[80];
    uint64_t id;
    char reason[256];
    stdio_client_info_t ci;
} t_ev_t;

static t_ev_t t_attaches[4096], t_detaches[4096];
static int t_n_attach, t_n_detach;
static bbuf_t t_logs;
static bbuf_t t_data;     /* data events, concatenated */
static uint64_t t_data_end, t_data_skipped;
static int t_data_events, t_data_errors;

static void h_attach(void *arg, const stdio_client_info_t *ci)
{
    (void)arg;
    t_ev_t *e = &t_attaches[t_n_attach++ % 4096];
    snprintf(e->channel, sizeof e->channel, "%s", ci->channel ? ci->channel : "");
    e->id = ci->id;
    e->ci = *ci;
}

static void h_detach(void *arg, const stdio_client_info_t *ci)
{
    (void)arg;
    t_ev_t *e = &t_detaches[t_n_detach++ % 4096];
    snprintf(e->channel, sizeof e->channel, "%s", ci->channel ? ci->channel : "");
    snprintf(e->reason, sizeof e->reason, "%s", ci->reason ? ci->reason : "");
    e->id = ci->id;
    e->ci = *ci;
}

static void h_data(void *arg, const char *channel, uint64_t stream, uint64_t offset,
                   const struct iovec *iov, int iovcnt, uint64_t skipped)
{
    (void)arg;
    (void)channel;
    (void)stream;
    t_data_events++;
    if (offset != t_data_end + skipped)
        t_data_errors++;
    t_data_skipped += skipped;
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++) {
        bb_add(&t_data, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    t_data_end = offset + n;
}

static void h_log(void *arg, int level, const char *msg)
{
    (void)arg;
    bb_add(&t_logs, msg, strlen(msg));
    bb_add(&t_logs, "\n", 1);
    if (getenv("T_VERBOSE"))
        fprintf(stderr, "relay[%d]: %s\n", level, msg);
}

static const stdio_hooks_t t_hooks = {
    .attach = h_attach, .detach = h_detach, .data = h_data, .log = h_log};

static uint64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void t_step(void)
{
    if (R)
        REQUIRE(stdio_relay_dispatch(R, 0) >= 0);
    for (int i = 0; i < MAX_TCLIENTS; i++)
        if (t_clients[i])
            tc_pump(t_clients[i]);
    /* Let the relay's epoll wait a little when nothing is ready, so that a
     * wait does not spin; the clients are pumped every round anyway. */
    if (R) {
        struct pollfd pfd = {.fd = stdio_relay_fd(R), .events = POLLIN};
        poll(&pfd, 1, 1);
    }
}

#define WAIT(cond)                                                                       \
    do {                                                                                 \
        uint64_t _dl = t_now_ms() + 20000;                                               \
        while (!(cond)) {                                                                \
            if (t_now_ms() > _dl) {                                                      \
                fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__, __LINE__, \
                        #cond);                                                          \
                check_failed++;                                                            \
                break;                                                                   \
            }                                                                            \
            t_step();                                                                    \
        }                                                                                \
    } while (0)

/* A fresh relay with channel "main" (SCROLLBACK bytes of history). */
static void t_setup(size_t scrollback)
{
    snprintf(t_dir, sizeof t_dir, "/tmp/hlstdio-test.XXXXXX");
    REQUIRE(mkdtemp(t_dir));
    chmod(t_dir, 0755);
    snprintf(t_main_path, sizeof t_main_path, "%s/stdio.sock", t_dir);
    snprintf(t_ro_path, sizeof t_ro_path, "%s/stdio.ro.sock", t_dir);
    snprintf(t_attach_path, sizeof t_attach_path, "%s/stdio-attach.sock", t_dir);
    stdio_relay_conf_defaults(&t_conf);
    t_conf.attach_path = t_attach_path;
    t_conf.drain_timeout_ms = 60000;
    t_chan = (stdio_chan_conf_t){
        .name = "main",
        .path = t_main_path,
        .ro_path = t_ro_path,
        .gid = STDIO_NO_GID,
        .mode = 0660,
        .scrollback = scrollback,
        .max_clients = 256,
        .publish = true,
    };
    t_conf.channels = &t_chan;
    t_conf.n_channels = 1;
    R = stdio_relay_new(&t_hooks, NULL);
    REQUIRE(R);
    char err[256];
    int rc = stdio_relay_configure(R, &t_conf, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "configure: %s\n", err);
    REQUIRE(rc == 0);
    t_n_attach = t_n_detach = 0;
    t_data_events = t_data_errors = 0;
    t_data_end = t_data_skipped = 0;
    bb_free(&t_data);
    bb_free(&t_logs);
}

static void t_teardown(void)
{
    for (int i = 0; i < MAX_TCLIENTS; i++)
        if (t_clients[i])
            tc_close(t_clients[i]);
    stdio_relay_destroy(&R);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", t_dir);
}

/* A framed client: connects to the attach socket and sends HELLO + "\n". */
static tclient_t *tc_attach(const char *hello)
{
    tclient_t *c = tc_connect(t_attach_path);
    c->framed = true;
    char line[1100];
    snprintf(line, sizeof line, "%s\n", hello);
    tc_write(c, line, strlen(line));
    return c;
}

/* Raw clients are attached once the relay says so. */
static tclient_t *tc_raw(const char *path)
{
    int before = t_n_attach;
    tclient_t *c = tc_connect(path);
    WAIT(t_n_attach > before);
    return c;
}

static bool t_logged(const char *needle)
{
    return t_logs.len && memmem(t_logs.p, t_logs.len, needle, strlen(needle)) != NULL;
}

static unsigned t_count_fds(void)
{
    unsigned n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}
