#include "http.h"
#include "peeruid.h"
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct hlm_http {
    struct MHD_Daemon *mhd;
    hlm_latest_t *slot;
    char *path;
    uint16_t port;
    atomic_uint_fast64_t scrapes, not_found, bad_method, unavailable, refused_user;
    /* Open connections per local uid, touched only on the MHD thread. */
    unsigned per_user;
    size_t n_users;
    struct user_conns {
        uid_t uid;
        unsigned n;
    } *users; /* max_conns entries */
};

/* A connection's slot in users[]: index + 1 in its socket context, 0 when
 * not counted (a remote peer, or one closed at once). */
static struct user_conns *user_slot(hlm_http_t *h, uid_t uid, bool add)
{
    for (size_t i = 0; i < h->n_users; i++)
        if (h->users[i].uid == uid)
            return &h->users[i];
    if (!add)
        return NULL;
    for (size_t i = 0; i < h->n_users; i++)
        if (h->users[i].n == 0) {
            h->users[i].uid = uid;
            return &h->users[i];
        }
    return NULL; /* cannot happen: at most max_conns users are connected */
}

/* Runs on the MHD thread. One local user may hold per_user connections: a
 * connection beyond that is shut down at once (MHD then closes it), so that
 * no user's idle or trickling connections can take every slot from the
 * others (Prometheus among them). Peers that are not local sockets are
 * counted as one user each by the connection limit only. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    hlm_http_t *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *ctx = NULL;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        uid_t uid;
        if (!ci || hlm_tcp_peer_uid(ci->connect_fd, &uid) < 0)
            return;
        struct user_conns *u = user_slot(h, uid, true);
        if (!u || u->n >= h->per_user) {
            atomic_fetch_add(&h->refused_user, 1);
            shutdown(ci->connect_fd, SHUT_RDWR);
            return;
        }
        u->n++;
        *ctx = (void *)(uintptr_t)(u - h->users + 1);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *ctx) {
        struct user_conns *u = &h->users[(uintptr_t)*ctx - 1];
        if (u->n)
            u->n--;
        *ctx = NULL;
    }
}

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A macro, not a char array, so that snprintf's format is a literal the
 * compiler checks (-Wformat=2). */
#define LANDING_PAGE                                                                           \
    "<html><head><title>hl-metrics</title></head><body><h1>hl-metrics</h1>"                 \
    "<p><a href=\"%s\">Metrics</a></p></body></html>\n"

static void release_snapshot(void *cls)
{
    hlm_snapshot_t *s = cls;
    hlm_snapshot_unref(&s);
}

static enum MHD_Result reply_static(struct MHD_Connection *conn, unsigned status,
                                    const char *text, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Runs on the MHD thread. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    hlm_http_t *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        atomic_fetch_add(&h->bad_method, 1);
        return reply_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                            "text/plain; charset=utf-8");
    }
    if (strcmp(url, h->path) == 0) {
        hlm_snapshot_t *s = hlm_latest_get(h->slot);
        if (!s) {
            atomic_fetch_add(&h->unavailable, 1);
            return reply_static(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no metrics collected yet\n",
                                "text/plain; charset=utf-8");
        }
        size_t len;
        const char *text = hlm_snapshot_text(s, &len);
        /* The response points into the snapshot, which stays alive (by its
         * reference) until MHD is done sending it. */
        struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
            len, (void *)text, release_snapshot, s);
        if (!r) {
            hlm_snapshot_unref(&s);
            return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
        enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        atomic_fetch_add(&h->scrapes, 1);
        return rc;
    }
    if (strcmp(url, "/") == 0) {
        char page[sizeof LANDING_PAGE + 256];
        snprintf(page, sizeof page, LANDING_PAGE, h->path);
        return reply_static(conn, MHD_HTTP_OK, page, "text/html; charset=utf-8");
    }
    atomic_fetch_add(&h->not_found, 1);
    return reply_static(conn, MHD_HTTP_NOT_FOUND, "not found\n", "text/plain; charset=utf-8");
}

__attribute__((format(printf, 3, 4))) static int fail(char **err, int rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(err, fmt, ap) < 0)
            *err = NULL;
        va_end(ap);
    }
    return rc;
}

int hlm_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, char **err)
{
    if (err)
        *err = NULL;
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon)
        return fail(err, -EINVAL, "listen address '%s%s' is not HOST:PORT, [V6]:PORT or :PORT",
                    s ? s : "", "");
    const char *ps = colon + 1;
    char *end;
    errno = 0;
    long port = strtol(ps, &end, 10);
    if (!*ps || *end || errno || port < 0 || port > 65535 || *ps == '-' || *ps == '+')
        return fail(err, -EINVAL, "listen address '%s': bad port '%s'", s, ps);
    size_t hl = (size_t)(colon - s);
    char host[256];
    if (hl >= sizeof host)
        return fail(err, -EINVAL, "listen address '%s%s': host too long", s, "");
    memcpy(host, s, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof *ss);
    if (hl == 0) {
        /* All interfaces, IPv6 and IPv4 (dual stack). */
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_any;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof *a;
        return 0;
    }
    if (host[0] == '[') {
        if (hl < 3 || host[hl - 1] != ']')
            return fail(err, -EINVAL, "listen address '%s': bad IPv6 literal '%s'", s, host);
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return fail(err, -EINVAL, "listen address '%s': bad IPv6 address '%s'", s, host + 1);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof *a;
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        return 0;
    }
    /* A name such as "localhost": its first address. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0 || !res)
        return fail(err, -EINVAL, "listen address: cannot resolve '%s': %s", host,
                    gai_strerror(gai));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    freeaddrinfo(res);
    return 0;
}

hlm_http_t *hlm_http_new(const hlm_http_opts_t *o, hlm_latest_t *slot, char **err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (hlm_parse_listen(o->listen, &ss, &sl, err) < 0)
        return NULL;
    const char *path = o->path && *o->path ? o->path : "/metrics";
    if (path[0] != '/') {
        fail(err, -EINVAL, "metrics path '%s' must start with '/'%s", path, "");
        return NULL;
    }
    hlm_http_t *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        free(h);
        fail(err, -ENOMEM, "%s%s", "out of memory", "");
        return NULL;
    }
    h->slot = slot;
    unsigned max_conns = o->max_conns ? o->max_conns : 128;
    h->per_user = o->max_conns_per_user ? o->max_conns_per_user : 8;
    h->n_users = max_conns;
    h->users = calloc(max_conns, sizeof *h->users);
    if (!h->users) {
        free(h->path);
        free(h);
        fail(err, -ENOMEM, "%s%s", "out of memory", "");
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    bool any6 = ss.ss_family == AF_INET6 &&
                memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr, &in6addr_any,
                       sizeof in6addr_any) == 0;
    if (ss.ss_family == AF_INET6)
        flags |= any6 ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
    uint16_t want = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                            : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    h->mhd = MHD_start_daemon(flags, want, NULL, NULL, on_request, h,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, max_conns,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(o->timeout_s ? o->timeout_s : 10),
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                              MHD_OPTION_END);
    if (!h->mhd) {
        int e = errno;
        fail(err, -EADDRINUSE, "cannot listen on %s: %s", o->listen,
             e ? strerror(e) : "libmicrohttpd refused to start");
        free(h->users);
        free(h->path);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : want;
    return h;
}

void hlm_http_destroy(hlm_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlm_http_t *h = *self_p;
    /* Joins the MHD thread; responses still in flight release their
     * snapshot references. */
    MHD_stop_daemon(h->mhd);
    free(h->users);
    free(h->path);
    free(h);
    *self_p = NULL;
}

uint16_t hlm_http_port(const hlm_http_t *h)
{
    return h->port;
}

hlm_http_stats_t hlm_http_stats(const hlm_http_t *h)
{
    hlm_http_stats_t s = {
        .scrapes = atomic_load(&h->scrapes),
        .not_found = atomic_load(&h->not_found),
        .bad_method = atomic_load(&h->bad_method),
        .unavailable = atomic_load(&h->unavailable),
        .refused_user = atomic_load(&h->refused_user),
    };
    return s;
}
