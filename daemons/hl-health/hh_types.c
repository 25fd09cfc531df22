/* Names and spec helpers. */
#include "hh_types.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/strv.h>
#include <hlbus/str.h>
#include <hlbus/pbenum.h>

static const char *const result_names[HH_NRESULTS] = {"pass", "warn", "fail"};
static const char *const kind_names[] = {"unit", "http", "tcp", "exec", "disk"};

const char *hh_state_name(hh_state_t s) { return hlb_pb_enum_word(&hl__health_state__descriptor, (int)s); }
const char *hh_result_name(hh_result_t r) { return hlb_enum_name(result_names, HH_NRESULTS, r, "?"); }
const char *hh_kind_name(hh_kind_t k) { return hlb_enum_name(kind_names, HLB_NELEMS(kind_names), k, "?"); }

void hh_check_spec_defaults(hh_check_spec_t *s, hh_kind_t kind)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->interval_ms = 10000;
    s->timeout_ms = 5000;
    s->retries = 3;
    s->retry_delay_ms = 500;
    s->failures = 2;
    s->successes = 2;
    switch (kind) {
    case HH_KIND_HTTP:
        s->u.http.status_min = 200;
        s->u.http.status_max = 399;
        s->u.http.max_body = 64 * 1024;
        s->u.http.max_redirects = 5;
        s->u.http.tls_verify = true;
        s->u.http.reuse = true;
        break;
    case HH_KIND_DISK:
        s->u.disk.warn_free_pct = 10;
        s->u.disk.crit_free_pct = 5;
        s->u.disk.crit_free_inodes_pct = 2;
        break;
    default:
        break;
    }
}


void hh_check_spec_clear(hh_check_spec_t *s)
{
    free(s->name);
    free(s->service);
    switch (s->kind) {
    case HH_KIND_HTTP: {
        hh_http_spec_t *h = &s->u.http;
        free(h->url);
        free(h->method);
        free(h->body);
        hlb_strv_free(h->headers);
        free(h->body_match);
        free(h->body_regex);
        free(h->ca_file);
        free(h->client_cert);
        free(h->client_key);
        free(h->tls_min);
        break;
    }
    case HH_KIND_TCP:
        free(s->u.tcp.host);
        free(s->u.tcp.port);
        break;
    case HH_KIND_EXEC:
        hlb_strv_free(s->u.exec.argv);
        hlb_strv_free(s->u.exec.env);
        free(s->u.exec.user);
        break;
    case HH_KIND_DISK:
        free(s->u.disk.path);
        break;
    case HH_KIND_UNIT:
        break;
    }
    memset(s, 0, sizeof *s);
}

void hh_service_spec_clear(hh_service_spec_t *s)
{
    free(s->name);
    free(s->unit);
    free(s->phase);
    memset(s, 0, sizeof *s);
}

#define DUP(f)                                     \
    do {                                           \
        if (src->f && !(dst->f = strdup(src->f)))  \
            goto oom;                              \
    } while (0)
#define DUPV(f)                                     \
    do {                                            \
        if (src->f && !(dst->f = hlb_strv_dup(src->f))) \
            goto oom;                               \
    } while (0)

int hh_check_spec_copy(hh_check_spec_t *dst, const hh_check_spec_t *src)
{
    *dst = *src;
    /* Null every pointer first so that a partial copy can be cleared. */
    dst->name = dst->service = NULL;
    memset(&dst->u, 0, sizeof dst->u);
    dst->u = src->u;
    switch (src->kind) {
    case HH_KIND_HTTP:
        dst->u.http.url = dst->u.http.method = dst->u.http.body = NULL;
        dst->u.http.headers = NULL;
        dst->u.http.body_match = dst->u.http.body_regex = NULL;
        dst->u.http.ca_file = dst->u.http.client_cert = dst->u.http.client_key = NULL;
        dst->u.http.tls_min = NULL;
        break;
    case HH_KIND_TCP:
        dst->u.tcp.host = dst->u.tcp.port = NULL;
        break;
    case HH_KIND_EXEC:
        dst->u.exec.argv = dst->u.exec.env = NULL;
        dst->u.exec.user = NULL;
        break;
    case HH_KIND_DISK:
        dst->u.disk.path = NULL;
        break;
    case HH_KIND_UNIT:
        break;
    }
    DUP(name);
    DUP(service);
    switch (src->kind) {
    case HH_KIND_HTTP:
        DUP(u.http.url);
        DUP(u.http.method);
        DUP(u.http.body);
        DUPV(u.http.headers);
        DUP(u.http.body_match);
        DUP(u.http.body_regex);
        DUP(u.http.ca_file);
        DUP(u.http.client_cert);
        DUP(u.http.client_key);
        DUP(u.http.tls_min);
        break;
    case HH_KIND_TCP:
        DUP(u.tcp.host);
        DUP(u.tcp.port);
        break;
    case HH_KIND_EXEC:
        DUPV(u.exec.argv);
        DUPV(u.exec.env);
        DUP(u.exec.user);
        break;
    case HH_KIND_DISK:
        DUP(u.disk.path);
        break;
    case HH_KIND_UNIT:
        break;
    }
    return 0;
oom:
    hh_check_spec_clear(dst);
    return -ENOMEM;
}
