/* Forwarding to a syslog collector (lg_forward.h). */
#include "lg_forward.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hlbus/buf.h>
#include <hlbus/clock.h>

#define FILL_BYTES (64 * 1024)
#define ACK_TICK_MS 100
#define SAVE_EVERY_US 500000

typedef enum { ST_DOWN, ST_CONNECTING, ST_HANDSHAKE, ST_UP } state_t;

/* What one write covered: its last wire byte, the spool position after
 * its last record, and when the peer's TCP acknowledged it (0: not yet). */
typedef struct {
    uint64_t wire_end;
    lg_pos_t pos;
    uint64_t records;
    uint64_t acked_us;
} flight_t;

struct lg_forward {
    hlb_reactor_t *io;
    lg_spool_t *sp;
    lg_forward_conf_t conf;
    char *host, *port, *ca_file, *server_name;
    char hostname[256];
    lg_forward_state_fn *fn;
    void *fn_arg;
    state_t st;
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    hlb_timer_t retry, ack, connect_deadline;
    unsigned fails;
    hlb_buf_t out;      /* bytes formatted, not yet written */
    size_t out_off;
    lg_pos_t out_pos;   /* spool position after the last record in out */
    uint64_t out_records;
    uint64_t wire;      /* bytes handed to the socket on this connection (TCP) */
    flight_t *fl;
    size_t fl_n, fl_cap;
    uint64_t last_save_us;
    lg_forward_stats_t stats;
};

/* PREFIX (may be "") then DETAIL: why the link is down, for status and stats. */
static void set_error(lg_forward_t *fw, const char *prefix, const char *detail)
{
    snprintf(fw->stats.last_error, sizeof fw->stats.last_error, "%s%s", prefix, detail);
}

/* --- the message ----------------------------------------------------------- */

static void add_printable(hlb_buf_t *b, const char *s, size_t n, size_t max)
{
    if (!n) {
        hlb_buf_add(b, "-", 1);
        return;
    }
    char tmp[256];
    size_t k = 0;
    for (size_t i = 0; i < n && k < max && k < sizeof tmp; i++) {
        unsigned char c = (unsigned char)s[i];
        tmp[k++] = c > 32 && c < 127 ? (char)c : '_';
    }
    hlb_buf_add(b, tmp, k);
}

void lg_syslog_frame(hlb_buf_t *out, const lg_spool_rec_t *r, const char *hostname)
{
    char head[512];
    time_t s = (time_t)(r->ts_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char when[40];
    size_t wl = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wl, sizeof when - wl, ".%06uZ", (unsigned)(r->ts_us % 1000000));
    hlb_buf_t msg = {0};
    /* facility daemon (3) */
    int hl = snprintf(head, sizeof head, "<%u>1 %s ", (unsigned)(3 * 8 + (r->priority & 7)), when);
    hlb_buf_add(&msg, head, (size_t)hl);
    add_printable(&msg, hostname, strlen(hostname), 255);
    hlb_buf_add(&msg, " ", 1);
    add_printable(&msg, r->name, r->name_len, 48);
    if (r->pid)
        hl = snprintf(head, sizeof head, " %llu - [hl@32473 id=\"", (unsigned long long)r->pid);
    else
        hl = snprintf(head, sizeof head, " - - [hl@32473 id=\"");
    hlb_buf_add(&msg, head, (size_t)hl);
    add_printable(&msg, r->id, r->id_len, 64);
    hlb_buf_add(&msg, "\"] ", 3);
    hlb_buf_add(&msg, r->line, r->line_len);
    hl = snprintf(head, sizeof head, "%zu ", msg.len);
    hlb_buf_add(out, head, (size_t)hl);
    hlb_buf_add(out, msg.data, msg.len);
    hlb_buf_free(&msg);
}

/* --- the link -------------------------------------------------------------- */

static void schedule_retry(lg_forward_t *fw)
{
    uint64_t d = (uint64_t)fw->conf.backoff_min_ms;
    for (unsigned i = 0; i < fw->fails && d < (uint64_t)fw->conf.backoff_max_ms; i++)
        d *= 2;
    if (d > (uint64_t)fw->conf.backoff_max_ms)
        d = (uint64_t)fw->conf.backoff_max_ms;
    /* full jitter in [d/2, d]: many VMs must not return in step */
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
        rnd = (uint32_t)hlb_mono_us();
    d = d / 2 + (d / 2) * (rnd % 1001) / 1000;
    if (fw->fails < 30)
        fw->fails++;
    hlb_timer_after_ms(fw->io, &fw->retry, (int64_t)d);
}

static uint64_t wire_sent(const lg_forward_t *fw)
{
    if (fw->ssl)
        return BIO_number_written(SSL_get_wbio(fw->ssl));
    return fw->wire;
}

/* Marks what the peer's TCP has acknowledged, and confirms to the spool
 * what has stood long enough, or everything acknowledged when CLEAN (the
 * collector closed after reading all it had). */
static void settle(lg_forward_t *fw, bool clean)
{
    if (fw->fd < 0)
        return;
    int outq = 0;
    if (ioctl(fw->fd, SIOCOUTQ, &outq) < 0)
        outq = (int)(wire_sent(fw) & 0x7fffffff); /* unknown: nothing is acked */
    uint64_t sent = wire_sent(fw);
    uint64_t acked = sent >= (uint64_t)outq ? sent - (uint64_t)outq : 0;
    uint64_t now = hlb_mono_us();
    size_t done = 0;
    for (size_t i = 0; i < fw->fl_n; i++) {
        flight_t *f = &fw->fl[i];
        if (f->wire_end > acked)
            break;
        if (!f->acked_us)
            f->acked_us = now;
        if (clean || now - f->acked_us >= (uint64_t)fw->conf.confirm_ms * 1000)
            done = i + 1;
    }
    if (!done)
        return;
    lg_pos_t pos = fw->fl[done - 1].pos;
    memmove(fw->fl, fw->fl + done, (fw->fl_n - done) * sizeof *fw->fl);
    fw->fl_n -= done;
    bool save = clean || now - fw->last_save_us >= SAVE_EVERY_US;
    if (save)
        fw->last_save_us = now;
    lg_spool_confirm(fw->sp, pos, save);
    fw->fails = 0; /* the collector took records: back-off starts over */
}

static void close_link(lg_forward_t *fw, bool clean, const char *why)
{
    bool was_up = fw->st == ST_UP;
    if (fw->fd >= 0) {
        settle(fw, clean);
        hlb_reactor_unwatch(fw->io, fw->fd);
    }
    if (fw->ssl) {
        SSL_free(fw->ssl);
        fw->ssl = NULL;
    }
    if (fw->fd >= 0) {
        /* a reset, not a FIN with our unsent data behind it */
        struct linger lg = {1, 0};
        setsockopt(fw->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fw->fd);
        fw->fd = -1;
    }
    hlb_timer_stop(fw->io, &fw->ack);
    hlb_timer_stop(fw->io, &fw->connect_deadline);
    /* everything not confirmed goes again, from the confirmed position */
    uint64_t unconfirmed = 0;
    for (size_t i = 0; i < fw->fl_n; i++)
        unconfirmed += fw->fl[i].records;
    fw->stats.resent += unconfirmed;
    fw->fl_n = 0;
    hlb_buf_reset(&fw->out);
    fw->out_off = 0;
    fw->out_records = 0;
    lg_spool_rewind(fw->sp, lg_spool_confirmed(fw->sp));
    fw->st = ST_DOWN;
    fw->stats.up = false;
    if (was_up) {
        fw->stats.disconnects++;
        if (!clean)
            fw->stats.resets++;
    } else {
        fw->stats.connect_failures++;
    }
    set_error(fw, "", why);
    if (was_up && fw->fn)
        fw->fn(fw, false, why, fw->fn_arg);
    schedule_retry(fw);
}

static void on_io(hlb_reactor_t *io, int fd, uint32_t events, void *arg);

static void watch(lg_forward_t *fw, bool want_out)
{
    hlb_reactor_watch(fw->io, fw->fd, EPOLLIN | (want_out ? EPOLLOUT : 0), on_io, fw);
}

static void fill(lg_forward_t *fw)
{
    lg_spool_rec_t r;
    while (fw->out.len < FILL_BYTES && lg_spool_next(fw->sp, &r) == 1) {
        lg_syslog_frame(&fw->out, &r, fw->hostname);
        fw->out_records++;
        fw->out_pos = lg_spool_tell(fw->sp);
    }
}

static void push_flight(lg_forward_t *fw)
{
    if (fw->fl_n == fw->fl_cap) {
        size_t nc = fw->fl_cap ? fw->fl_cap * 2 : 64;
        flight_t *n = realloc(fw->fl, nc * sizeof *n);
        if (!n)
            return; /* not recorded: confirmed later with the next one */
        fw->fl = n;
        fw->fl_cap = nc;
    }
    fw->fl[fw->fl_n++] = (flight_t){wire_sent(fw), fw->out_pos, fw->out_records, 0};
    fw->stats.sent += fw->out_records;
    fw->stats.sent_bytes += fw->out.len;
    fw->out_records = 0;
}

/* Writes until the socket is full or the spool is drained. */
static void pump(lg_forward_t *fw)
{
    for (int round = 0; round < 64; round++) {
        if (fw->out_off == fw->out.len) {
            hlb_buf_reset(&fw->out);
            fw->out_off = 0;
            fill(fw);
            if (!fw->out.len) {
                watch(fw, false);
                return;
            }
        }
        const char *p = fw->out.data + fw->out_off;
        size_t n = fw->out.len - fw->out_off;
        ssize_t w;
        if (fw->ssl) {
            size_t wr = 0;
            int rc = SSL_write_ex(fw->ssl, p, n, &wr);
            if (rc <= 0) {
                int e = SSL_get_error(fw->ssl, rc);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                    watch(fw, true);
                    return;
                }
                close_link(fw, false, "TLS write failed");
                return;
            }
            w = (ssize_t)wr;
        } else {
            w = send(fw->fd, p, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    watch(fw, true);
                    return;
                }
                close_link(fw, false, strerror(errno));
                return;
            }
            fw->wire += (uint64_t)w;
        }
        fw->out_off += (size_t)w;
        if (fw->out_off == fw->out.len)
            push_flight(fw);
    }
    watch(fw, true); /* more to do: let the loop breathe first */
}

static void drain_input(lg_forward_t *fw)
{
    char buf[4096];
    for (;;) {
        if (fw->ssl) {
            size_t got = 0;
            int rc = SSL_read_ex(fw->ssl, buf, sizeof buf, &got);
            if (rc > 0)
                continue; /* a collector says nothing over syslog: ignored */
            int e = SSL_get_error(fw->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            if (e == SSL_ERROR_ZERO_RETURN) {
                close_link(fw, true, "collector closed the connection");
                return;
            }
            close_link(fw, false, "TLS connection reset");
            return;
        }
        ssize_t r = recv(fw->fd, buf, sizeof buf, 0);
        if (r > 0)
            continue;
        if (r == 0) {
            close_link(fw, true, "collector closed the connection");
            return;
        }
        if (errno == EAGAIN || errno == EINTR)
            return;
        close_link(fw, false, strerror(errno));
        return;
    }
}

static void went_up(lg_forward_t *fw)
{
    fw->st = ST_UP;
    fw->stats.up = true;
    fw->stats.connects++;
    fw->stats.last_error[0] = 0;
    hlb_timer_stop(fw->io, &fw->connect_deadline);
    hlb_timer_after_ms(fw->io, &fw->ack, ACK_TICK_MS);
    if (fw->fn)
        fw->fn(fw, true, "connected", fw->fn_arg);
    pump(fw);
}

static void handshake(lg_forward_t *fw)
{
    int rc = SSL_connect(fw->ssl);
    if (rc == 1) {
        went_up(fw);
        return;
    }
    int e = SSL_get_error(fw->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) {
        watch(fw, false);
        return;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        watch(fw, true);
        return;
    }
    long v = SSL_get_verify_result(fw->ssl);
    char why[160];
    if (v != X509_V_OK)
        snprintf(why, sizeof why, "TLS: certificate not accepted: %s",
                 X509_verify_cert_error_string(v));
    else
        snprintf(why, sizeof why, "TLS handshake failed: %s",
                 ERR_reason_error_string(ERR_peek_last_error()) ?: "connection closed");
    ERR_clear_error();
    close_link(fw, false, why);
}

static void on_io(hlb_reactor_t *io, int fd, uint32_t events, void *arg)
{
    (void)io;
    (void)fd;
    lg_forward_t *fw = arg;
    if (fw->st == ST_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(fw->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err || (events & (EPOLLERR | EPOLLHUP))) {
            close_link(fw, false, err ? strerror(err) : "connection refused");
            return;
        }
        if (!(events & EPOLLOUT))
            return;
        if (fw->conf.transport == LG_TRANSPORT_TLS) {
            fw->ssl = SSL_new(fw->ctx);
            const char *name = *fw->server_name ? fw->server_name : fw->host;
            if (!fw->ssl || !SSL_set_fd(fw->ssl, fw->fd)) {
                close_link(fw, false, "TLS setup failed");
                return;
            }
            SSL_set_tlsext_host_name(fw->ssl, name);
            if (fw->conf.verify)
                SSL_set1_host(fw->ssl, name);
            fw->st = ST_HANDSHAKE;
            handshake(fw);
        } else {
            went_up(fw);
        }
        return;
    }
    if (fw->st == ST_HANDSHAKE) {
        handshake(fw);
        return;
    }
    if (fw->st != ST_UP)
        return;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        drain_input(fw);
        if (fw->st != ST_UP)
            return;
    }
    if (events & EPOLLOUT)
        pump(fw);
}

static void connect_start(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    (void)io;
    (void)t;
    lg_forward_t *fw = arg;
    if (fw->st != ST_DOWN)
        return;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    /* A literal address first: no resolver call on the loop. A name goes
     * through the resolver (nss; /etc/hosts or a local stub for a VM). */
    hints.ai_flags |= AI_NUMERICHOST;
    int rc = getaddrinfo(fw->host, fw->port, &hints, &ai);
    if (rc == EAI_NONAME) {
        hints.ai_flags &= ~AI_NUMERICHOST;
        rc = getaddrinfo(fw->host, fw->port, &hints, &ai);
    }
    if (rc != 0) {
        fw->stats.connect_failures++;
        set_error(fw, "cannot resolve the collector: ", gai_strerror(rc));
        schedule_retry(fw);
        return;
    }
    fw->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fw->fd < 0) {
        freeaddrinfo(ai);
        fw->stats.connect_failures++;
        set_error(fw, "socket: ", strerror(errno));
        schedule_retry(fw);
        return;
    }
    int one = 1;
    setsockopt(fw->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    rc = connect(fw->fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    fw->wire = 0;
    fw->st = ST_CONNECTING;
    if (rc < 0 && errno != EINPROGRESS) {
        close_link(fw, false, strerror(errno));
        return;
    }
    hlb_timer_after_ms(fw->io, &fw->connect_deadline, fw->conf.connect_timeout_ms);
    watch(fw, true);
}

static void connect_timeout(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    (void)io;
    (void)t;
    lg_forward_t *fw = arg;
    if (fw->st == ST_CONNECTING || fw->st == ST_HANDSHAKE)
        close_link(fw, false, "connect timed out");
}

static void ack_tick(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    (void)t;
    lg_forward_t *fw = arg;
    if (fw->st != ST_UP)
        return;
    settle(fw, false);
    hlb_timer_after_ms(io, &fw->ack, ACK_TICK_MS);
}

lg_forward_t *lg_forward_new(hlb_reactor_t *io, lg_spool_t *sp, const lg_forward_conf_t *conf,
                             const hlb_tlspolicy_t *tls, const char *hostname,
                             lg_forward_state_fn *fn, void *arg)
{
    lg_forward_t *fw = calloc(1, sizeof *fw);
    if (!fw)
        return NULL;
    fw->io = io;
    fw->sp = sp;
    fw->conf = *conf;
    fw->fd = -1;
    fw->fn = fn;
    fw->fn_arg = arg;
    char port[16];
    snprintf(port, sizeof port, "%d", (int)conf->port);
    fw->host = strdup(conf->host);
    fw->port = strdup(port);
    fw->ca_file = strdup(conf->ca_file ? conf->ca_file : "");
    fw->server_name = strdup(conf->server_name ? conf->server_name : "");
    snprintf(fw->hostname, sizeof fw->hostname, "%s", hostname);
    if (!fw->host || !fw->port || !fw->ca_file || !fw->server_name)
        goto fail;
    if (conf->transport == LG_TRANSPORT_TLS) {
        fw->ctx = SSL_CTX_new(TLS_client_method());
        if (!fw->ctx)
            goto fail;
        SSL_CTX_set_options(fw->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
        SSL_CTX_set_mode(fw->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        int ok = *fw->ca_file ? SSL_CTX_load_verify_locations(fw->ctx, fw->ca_file, NULL)
                              : SSL_CTX_set_default_verify_paths(fw->ctx);
        if (!ok) {
            set_error(fw, "cannot load the CA file ", fw->ca_file);
            goto fail;
        }
        /* the policy's versions and suites; its CA beside the system store,
         * unless ca_file (then that file is the whole trust) */
        if (hlb_tlspolicy_ssl_ctx(tls, fw->ctx, !*fw->ca_file) < 0) {
            set_error(fw, "cannot apply the TLS policy ",
                      hlb_tlspolicy_source(tls) ? hlb_tlspolicy_source(tls) : "(built in)");
            goto fail;
        }
        SSL_CTX_set_verify(fw->ctx, conf->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    }
    hlb_timer_init(&fw->retry, connect_start, fw);
    hlb_timer_init(&fw->ack, ack_tick, fw);
    hlb_timer_init(&fw->connect_deadline, connect_timeout, fw);
    hlb_timer_after_ms(io, &fw->retry, 0);
    return fw;
fail:
    lg_forward_destroy(&fw);
    return NULL;
}

void lg_forward_destroy(lg_forward_t **fwp)
{
    lg_forward_t *fw = *fwp;
    if (!fw)
        return;
    if (fw->fd >= 0) {
        settle(fw, false);
        hlb_reactor_unwatch(fw->io, fw->fd);
        if (fw->ssl)
            SSL_free(fw->ssl);
        close(fw->fd);
    }
    lg_spool_confirm(fw->sp, lg_spool_confirmed(fw->sp), true);
    hlb_timer_stop(fw->io, &fw->retry);
    hlb_timer_stop(fw->io, &fw->ack);
    hlb_timer_stop(fw->io, &fw->connect_deadline);
    if (fw->ctx)
        SSL_CTX_free(fw->ctx);
    hlb_buf_free(&fw->out);
    free(fw->fl);
    free(fw->host);
    free(fw->port);
    free(fw->ca_file);
    free(fw->server_name);
    free(fw);
    *fwp = NULL;
}

void lg_forward_kick(lg_forward_t *fw)
{
    if (fw->st == ST_UP && fw->out_off == fw->out.len)
        pump(fw);
}

const lg_forward_stats_t *lg_forward_stats(const lg_forward_t *fw) { return &fw->stats; }
