/* Alertmanager's webhook receiver: see ul_alertrecv.h. */
#include "ul_alertrecv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <hlbus/buf.h>
#include <hlbus/clock.h>
#include <hlbus/str.h>

#include "ul_json.h"

#define BODY_MAX (1u << 20)

struct ul_alertrecv {
    hlb_reactor_t *io;
    struct MHD_Daemon *mhd;
    int epfd, port;
    hlb_timer_t timer;
    ul_alert_fn *fn;
    void *arg;
    uint64_t epoch, seq;
};

typedef struct {
    hlb_buf_t body;
    bool too_large;
} upload_t;

int ul_alert_webhook_parse(const char *body, size_t len, uint64_t epoch, uint64_t *seq,
                           ul_alert_fn *fn, void *arg, char **err)
{
    ul_jnode_t *doc = ul_json_parse(body, len, err);
    if (!doc)
        return -EINVAL;
    const ul_jnode_t *alerts = ul_json_get(doc, "alerts");
    if (!alerts || alerts->type != UL_J_ARR) {
        *err = strdup("no 'alerts' list: not an Alertmanager webhook message");
        ul_json_free(doc);
        return -EINVAL;
    }
    for (const ul_jnode_t *a = alerts->child; a; a = a->next) {
        if (a->type != UL_J_OBJ)
            continue;
        const char *fp = ul_json_get_str(a, "fingerprint");
        const char *status = ul_json_get_str(a, "status");
        const char *starts = ul_json_get_str(a, "startsAt");
        const char *name = ul_json_get_str(ul_json_get(a, "labels"), "alertname");
        hlb_buf_t b = {0};
        ul_json_write(&b, a);
        char *id = hlb_strdupf("alertmanager:%s:%s:%s", fp ? fp : "-", status ? status : "-",
                               starts ? starts : "-");
        char *topic = hlb_strdupf("alertmanager.%s", name ? name : "unnamed");
        ul_event_t ev = {.id = id,
                         .source = "alertmanager",
                         .epoch = epoch,
                         .seq = ++*seq,
                         .type = "alert",
                         .topic = topic,
                         .body = b.data};
        if (id && topic && b.data)
            fn(&ev, arg);
        free(id);
        free(topic);
        hlb_buf_free(&b);
    }
    ul_json_free(doc);
    return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    ul_alertrecv_t *r = cls;
    if (strcmp(method, "POST") != 0 || strcmp(url, "/alertmanager") != 0)
        return reply(conn, strcmp(url, "/alertmanager") == 0 ? MHD_HTTP_METHOD_NOT_ALLOWED
                                                              : MHD_HTTP_NOT_FOUND,
                     "{\"error\":\"POST /alertmanager only\"}");
    upload_t *u = *con_cls;
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u)
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (u->body.len + *upload_data_size > BODY_MAX)
            u->too_large = true;
        else
            hlb_buf_add(&u->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (u->too_large)
        return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"body over 1 MiB\"}");
    char *err = NULL;
    int rc = ul_alert_webhook_parse(u->body.data ? u->body.data : "", u->body.len, r->epoch, &r->seq,
                                    r->fn, r->arg, &err);
    if (rc < 0) {
        hlb_buf_t b = {0};
        hlb_buf_puts(&b, "{\"error\":\"");
        for (const char *p = err ? err : "bad request"; *p; p++)
            if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
                hlb_buf_add(&b, p, 1);
        hlb_buf_puts(&b, "\"}");
        free(err);
        enum MHD_Result res = reply(conn, MHD_HTTP_BAD_REQUEST, b.data);
        hlb_buf_free(&b);
        return res;
    }
    /* queued in the outbox (on disk): Alertmanager may forget it now */
    return reply(conn, MHD_HTTP_OK, "{\"ok\":true}");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    upload_t *u = *con_cls;
    if (u) {
        hlb_buf_free(&u->body);
        free(u);
        *con_cls = NULL;
    }
}

static void run(ul_alertrecv_t *r)
{
    MHD_run(r->mhd);
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(r->mhd, &to) == MHD_YES)
        hlb_timer_after_ms(r->io, &r->timer, (int64_t)(to > 60000 ? 60000 : to));
    else
        hlb_timer_stop(r->io, &r->timer);
}

static void on_epoll(hlb_reactor_t *io, int fd, uint32_t events, void *arg)
{
    (void)io;
    (void)fd;
    (void)events;
    run(arg);
}

static void on_timer(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    (void)io;
    (void)t;
    run(arg);
}

ul_alertrecv_t *ul_alertrecv_new(hlb_reactor_t *io, const char *listen, ul_alert_fn *fn,
                                 void *arg, char **err)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = 0;
    const char *colon = strrchr(listen, ':');
    char host[64];
    if (!colon || (size_t)(colon - listen) >= sizeof host) {
        *err = strdup("want HOST:PORT");
        return NULL;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        *err = strdup("bad port");
        return NULL;
    }
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127) {
            *err = strdup("loopback addresses only: the receiver has no authentication");
            return NULL;
        }
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) {
            *err = strdup("loopback addresses only: the receiver has no authentication");
            return NULL;
        }
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof *s6;
    } else {
        *err = strdup("the host must be a loopback address");
        return NULL;
    }
    (void)sl;
    ul_alertrecv_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->io = io;
    r->fn = fn;
    r->arg = arg;
    r->epoch = hlb_now_us(); /* this receiver's incarnation; seq counts within it */
    hlb_timer_init(&r->timer, on_timer, r);
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    r->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, r,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT,
                              10u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
                              MHD_OPTION_END);
    if (!r->mhd) {
        *err = hlb_strdupf("cannot listen on %s", listen);
        free(r);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_BIND_PORT);
    r->epfd = di ? di->epoll_fd : -1;
    r->port = pi ? pi->port : (int)port;
    if (r->epfd < 0 || hlb_reactor_watch(io, r->epfd, EPOLLIN, on_epoll, r) < 0) {
        *err = strdup("cannot watch the receiver's epoll fd");
        MHD_stop_daemon(r->mhd);
        free(r);
        return NULL;
    }
    run(r);
    return r;
}

void ul_alertrecv_destroy(ul_alertrecv_t **r_p)
{
    if (!r_p || !*r_p)
        return;
    ul_alertrecv_t *r = *r_p;
    hlb_reactor_unwatch(r->io, r->epfd);
    hlb_timer_stop(r->io, &r->timer);
    MHD_stop_daemon(r->mhd);
    free(r);
    *r_p = NULL;
}

int ul_alertrecv_port(const ul_alertrecv_t *r) { return r->port; }
