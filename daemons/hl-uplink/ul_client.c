/* hl-uplink's engine: see ul_client.h. */
#include "ul_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <strings.h>
#include <unistd.h>

#include <hlbus/buf.h>
#include <hlbus/clock.h>
#include <hlbus/log.h>
#include <hlbus/json.h>
#include <hlbus/str.h>
#include <hlbus/strv.h>

#include "ul_json.h"

struct ul_client {
    hlb_reactor_t *io;
    ul_client_conf_t c;
    char *endpoint, *agent_version, *instance_id_conf;
    char *cloud_init_path, *machine_id_path, *imds_url;
    char **sources;
    ul_outbox_t *ob;
    ul_client_hooks_t hooks;
    ul_http_t *http;
    ul_sched_t sched;
    ul_clock_t clock;
    hlb_timer_t timer;

    /* identity */
    ul_identity_t id;
    size_t source_at; /* the next source to try */
    ul_imds_t *imds;
    char *id_errors;

    /* the request in flight */
    ul_call_t *call;
    ul_op_t op;
    char *url, *body;
    size_t batch_n;     /* events in the batch in flight */
    size_t batch_limit; /* lowered after a 413 */
    bool reauthed;
    char *token;

    char *last_error;
    uint64_t launch_us; /* server time of the first registration attempt */
    uint64_t last_hb_us, last_contact_us;
    uint64_t heartbeats, auth_rereads, events_sent, events_rejected, batches;
    bool started;
};

static void schedule(ul_client_t *c);

static void set_error(ul_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(ul_client_t *c, const char *fmt, ...)
{
    free(c->last_error);
    if (!fmt) {
        c->last_error = NULL;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&c->last_error, fmt, ap) < 0)
        c->last_error = NULL;
    va_end(ap);
}

static void changed(ul_client_t *c)
{
    if (c->hooks.changed)
        c->hooks.changed(c->hooks.arg);
}

uint64_t ul_client_now_us(const ul_client_t *c)
{
    return ul_clock_now_us(&c->clock, hlb_mono_us(), hlb_now_us());
}

static uint64_t now_ms(void) { return hlb_mono_ms(); }

/* ---- identity ---- */

static void identity_next(ul_client_t *c);

static void identity_found(ul_client_t *c)
{
    hlb_info("identity: %s (%s%s%s)", c->id.instance_id, c->id.source,
             *c->id.region ? ", region " : "", c->id.region);
    free(c->id_errors);
    c->id_errors = NULL;
    changed(c);
    schedule(c);
}

static void id_error(ul_client_t *c, const char *err)
{
    char *e = hlb_strdupf("%s%s%s", c->id_errors ? c->id_errors : "", c->id_errors ? "; " : "",
                          err);
    free(c->id_errors);
    c->id_errors = e;
}

static void on_imds(int rc, ul_identity_t *id, const char *err, void *arg)
{
    ul_client_t *c = arg;
    if (rc == 0) {
        c->id = *id;
        identity_found(c);
        return;
    }
    id_error(c, err ? err : "imds failed");
    identity_next(c);
}

static void on_identity_retry(hlb_reactor_t *io, hlb_timer_t *t, void *arg);

static void identity_next(ul_client_t *c)
{
    while (c->sources && c->sources[c->source_at]) {
        const char *s = c->sources[c->source_at++];
        char *err = NULL;
        int rc = -ENOENT;
        if (strcmp(s, "cloud-init") == 0) {
            rc = ul_identity_cloud_init(c->cloud_init_path, &c->id, &err);
        } else if (strcmp(s, "machine-id") == 0) {
            rc = ul_identity_machine_id(c->machine_id_path, &c->id, &err);
        } else if (strcmp(s, "imds") == 0) {
            ul_imds_cancel(&c->imds); /* a finished one */
            c->imds = ul_identity_imds(c->http, c->imds_url, c->c.imds_timeout_ms, on_imds, c);
            if (c->imds)
                return; /* on_imds goes on */
            err = strdup("imds: out of memory");
        }
        if (rc == 0) {
            identity_found(c);
            return;
        }
        id_error(c, err ? err : s);
        free(err);
    }
    /* nothing answered: say so, and try the list again later */
    set_error(c, "no identity: %s", c->id_errors ? c->id_errors : "no sources configured");
    hlb_warn("%s; again in %lld ms", c->last_error, (long long)c->c.identity_retry_ms);
    free(c->id_errors);
    c->id_errors = NULL;
    c->source_at = 0;
    hlb_timer_init(&c->timer, on_identity_retry, c);
    hlb_timer_after_ms(c->io, &c->timer, c->c.identity_retry_ms);
    changed(c);
}

static void on_timer(hlb_reactor_t *io, hlb_timer_t *t, void *arg);

static void on_identity_retry(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    (void)io;
    (void)t;
    ul_client_t *c = arg;
    hlb_timer_init(&c->timer, on_timer, c);
    identity_next(c);
}

static void identity_start(ul_client_t *c)
{
    if (c->instance_id_conf) {
        c->id.instance_id = strdup(c->instance_id_conf);
        c->id.region = strdup("");
        c->id.source = "config";
        identity_found(c);
        return;
    }
    c->source_at = 0;
    identity_next(c);
}

/* ---- requests ---- */

static void json_kv_str(hlb_buf_t *b, const char *k, const char *v, bool comma)
{
    if (comma)
        hlb_buf_puts(b, ",");
    hlb_json_str(b, k, strlen(k));
    hlb_buf_puts(b, ":");
    hlb_json_str(b, v, strlen(v));
}

static char *body_register(ul_client_t *c)
{
    hlb_buf_t b = {0};
    char iso[32];
    if (!c->launch_us)
        c->launch_us = ul_client_now_us(c);
    ul_iso8601(c->launch_us, iso);
    hlb_buf_puts(&b, "{");
    json_kv_str(&b, "instance_id", c->id.instance_id, false);
    json_kv_str(&b, "identity_source", c->id.source, true);
    hlb_buf_puts(&b, ",\"metadata\":{");
    json_kv_str(&b, "region", c->id.region, false);
    json_kv_str(&b, "launch_time", iso, true);
    json_kv_str(&b, "agent_version", c->agent_version, true);
    hlb_buf_puts(&b, "}}");
    return hlb_buf_steal(&b);
}

static char *body_heartbeat(ul_client_t *c)
{
    hlb_buf_t b = {0};
    char iso[32];
    ul_iso8601(ul_client_now_us(c), iso);
    hlb_buf_puts(&b, "{");
    json_kv_str(&b, "sent_at", iso, false);
    char *s = c->hooks.status_json ? c->hooks.status_json(c->hooks.arg) : NULL;
    /* splice the summary's members in after sent_at */
    if (s && s[0] == '{') {
        const char *rest = s + 1;
        while (*rest == ' ')
            rest++;
        if (*rest != '}')
            hlb_buf_puts(&b, ",");
        hlb_buf_puts(&b, rest);
    } else {
        hlb_buf_puts(&b, "}");
    }
    free(s);
    return hlb_buf_steal(&b);
}

static char *body_events(ul_client_t *c, size_t *n_out)
{
    hlb_buf_t b = {0};
    hlb_buf_puts(&b, "{\"events\":[");
    size_t n = 0, limit = c->batch_limit ? c->batch_limit : c->c.batch_max;
    size_t depth = ul_outbox_depth(c->ob);
    for (; n < depth && n < limit; n++) {
        const ul_event_t *e = ul_outbox_at(c->ob, n);
        if (n && b.len + strlen(e->body) + 256 > c->c.batch_bytes)
            break; /* the next one waits for the next batch */
        char iso[32];
        ul_iso8601(e->ts_us, iso);
        hlb_buf_puts(&b, n ? ",{" : "{");
        json_kv_str(&b, "id", e->id, false);
        json_kv_str(&b, "source", e->source, true);
        hlb_buf_printf(&b, ",\"epoch\":%llu,\"seq\":%llu", (unsigned long long)e->epoch,
                       (unsigned long long)e->seq);
        json_kv_str(&b, "type", e->type, true);
        json_kv_str(&b, "topic", e->topic, true);
        json_kv_str(&b, "ts", iso, true);
        hlb_buf_puts(&b, ",\"body\":");
        hlb_buf_puts(&b, e->body);
        hlb_buf_puts(&b, "}");
    }
    hlb_buf_puts(&b, "]}");
    *n_out = n;
    return hlb_buf_steal(&b);
}

static void on_answer(const ul_resp_t *r, void *arg);

static int send_current(ul_client_t *c)
{
    char *auth = hlb_strdupf("Authorization: Bearer %s", c->token ? c->token : "");
    const char *hdrs[] = {"Content-Type: application/json", "Accept: application/json", auth,
                          NULL};
    ul_req_t req = {
        .method = c->op == UL_OP_HEARTBEAT ? "PUT" : "POST",
        .url = c->url,
        .headers = hdrs,
        .body = c->body,
        .body_len = strlen(c->body),
        .timeout_ms = c->c.request_timeout_ms,
        .connect_timeout_ms = c->c.connect_timeout_ms,
        .max_body = c->c.max_response,
    };
    c->call = auth ? ul_http_start(c->http, &req, on_answer, c) : NULL;
    if (auth)
        explicit_bzero(auth, strlen(auth));
    free(auth);
    return c->call ? 0 : -ENOMEM;
}

static void load_token(ul_client_t *c, bool reread)
{
    if (c->token)
        explicit_bzero(c->token, strlen(c->token));
    free(c->token);
    c->token = NULL;
    if (c->hooks.token && c->hooks.token(&c->token, reread, c->hooks.arg) < 0)
        c->token = NULL;
}

static void begin(ul_client_t *c, ul_op_t op)
{
    free(c->url);
    free(c->body);
    c->url = c->body = NULL;
    c->op = op;
    c->reauthed = false;
    c->batch_n = 0;
    switch (op) {
    case UL_OP_REGISTER:
        c->url = hlb_strdupf("%s/instances", c->endpoint);
        c->body = body_register(c);
        break;
    case UL_OP_HEARTBEAT:
        c->url = hlb_strdupf("%s/instances/%s/heartbeat", c->endpoint, c->id.instance_id);
        c->body = body_heartbeat(c);
        break;
    case UL_OP_EVENTS:
        c->url = hlb_strdupf("%s/instances/%s/events", c->endpoint, c->id.instance_id);
        c->body = body_events(c, &c->batch_n);
        break;
    case UL_OP_NONE:
        return;
    }
    if (!c->token)
        load_token(c, false);
    ul_sched_begin(&c->sched, op);
    if (!c->url || !c->body || send_current(c) < 0) {
        set_error(c, "%s: cannot start the request", ul_op_name(op));
        ul_sched_done(&c->sched, op, UL_OUT_FAILED, 0, 0, now_ms());
    }
}

static bool is_json(const char *ctype)
{
    if (!ctype)
        return false;
    size_t n = strlen("application/json");
    return strncasecmp(ctype, "application/json", n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* Judges a 2xx answer: an object in JSON, with what OP needs. NULL when
 * usable; else why not (static text or *FREE_ME). */
static const char *check_body(ul_client_t *c, const ul_resp_t *r, int64_t *interval_s,
                              char **free_me)
{
    *interval_s = 0;
    if (!is_json(r->content_type))
        return *free_me = hlb_strdupf("answer is %s, not application/json",
                                      r->content_type ? r->content_type : "untyped");
    char *err = NULL;
    ul_jnode_t *doc = ul_json_parse(r->body, r->body_len, &err);
    if (!doc || doc->type != UL_J_OBJ) {
        *free_me = hlb_strdupf("malformed answer: %s", err ? err : "not an object");
        free(err);
        ul_json_free(doc);
        return *free_me;
    }
    const char *why = NULL;
    int64_t iv;
    if (ul_json_get_int(doc, "heartbeat_interval_s", 1, 86400, &iv))
        *interval_s = iv;
    if (c->op == UL_OP_REGISTER) {
        const char *iid = ul_json_get_str(doc, "instance_id");
        if (!iid || strcmp(iid, c->id.instance_id) != 0)
            why = "registration answer names another instance";
    } else if (c->op == UL_OP_EVENTS) {
        int64_t a, d;
        if (!ul_json_get_int(doc, "accepted", 0, INT32_MAX, &a) ||
            !ul_json_get_int(doc, "duplicates", 0, INT32_MAX, &d))
            why = "events answer without accepted/duplicates";
        else if ((uint64_t)(a + d) != c->batch_n)
            why = "events answer does not count the whole batch";
    }
    ul_json_free(doc);
    return why;
}

static void on_answer(const ul_resp_t *r, void *arg)
{
    ul_client_t *c = arg;
    c->call = NULL;
    uint64_t now = now_ms();
    if (r->date)
        ul_clock_sample(&c->clock, r->date, r->done_mono_us);
    if (r->status)
        c->last_contact_us = ul_client_now_us(c);
    ul_op_t op = c->op;
    /* 401: the token may have rotated; re-read it once and try again at once */
    if (r->status == 401 && !c->reauthed) {
        c->reauthed = true;
        c->auth_rereads++;
        load_token(c, true);
        if (send_current(c) == 0)
            return;
    }
    long st = r->status;
    ul_outcome_t out = ul_outcome_of_status(op, st);
    uint64_t ra = (st == 429 || st == 503)
                      ? ul_retry_after_ms(r->retry_after, r->date, 3600 * 1000ULL)
                      : 0;
    int64_t interval_s = 0;
    if (st == 0) {
        set_error(c, "%s: %s", ul_op_name(op), r->error ? r->error : "no answer");
    } else if (r->body_too_large) {
        out = UL_OUT_FAILED;
        set_error(c, "%s: %s", ul_op_name(op), r->error);
    } else if (st >= 300 && st < 400) {
        out = UL_OUT_FAILED;
        set_error(c, "%s: HTTP %ld redirect to %s refused", ul_op_name(op), st,
                  r->location ? r->location : "(nowhere)");
    } else if (out == UL_OUT_OK) {
        char *free_me = NULL;
        const char *why = check_body(c, r, &interval_s, &free_me);
        if (why) {
            out = UL_OUT_FAILED;
            set_error(c, "%s: %s", ul_op_name(op), why);
        }
        free(free_me);
    } else if (st == 401) {
        set_error(c, "%s: HTTP 401 unauthorized (token re-read once)", ul_op_name(op));
    } else {
        set_error(c, "%s: HTTP %ld", ul_op_name(op), st);
    }
    if (out == UL_OUT_OK) {
        set_error(c, NULL);
        if (op == UL_OP_HEARTBEAT) {
            c->heartbeats++;
            c->last_hb_us = ul_client_now_us(c);
        } else if (op == UL_OP_EVENTS) {
            (void)ul_outbox_ack(c->ob, c->batch_n);
            c->events_sent += c->batch_n;
            c->batches++;
            c->batch_limit = 0;
        }
    } else if (out == UL_OUT_REJECTED && op == UL_OP_EVENTS) {
        if (st == 413 && c->batch_n > 1) {
            c->batch_limit = c->batch_n / 2; /* smaller batches; nothing lost */
        } else {
            /* the API refuses this event as it is: it alone goes, counted,
             * so that one bad event never blocks the ones behind it */
            (void)ul_outbox_ack(c->ob, 1);
            c->events_rejected++;
            hlb_warn("events: HTTP %ld for event %s: dropped", st,
                     ul_outbox_depth(c->ob) ? "at the head" : "");
        }
    }
    bool was_online = c->sched.online, was_reg = c->sched.registered;
    ul_sched_done(&c->sched, op, out, ra, (uint64_t)interval_s * 1000, now);
    if (op == UL_OP_EVENTS || out != UL_OUT_OK)
        ul_sched_events(&c->sched, ul_outbox_depth(c->ob) > 0, now);
    if (was_online != c->sched.online || was_reg != c->sched.registered) {
        if (c->sched.online)
            hlb_info("api: online (%s)", ul_op_name(op));
        else
            hlb_warn("api: offline: %s", c->last_error ? c->last_error : "?");
    }
    changed(c);
    schedule(c);
}

/* ---- the schedule on the reactor ---- */

static void schedule(ul_client_t *c)
{
    if (!c->id.instance_id || c->call)
        return;
    uint64_t now = now_ms(), due;
    ul_op_t op = ul_sched_next(&c->sched, now, &due);
    if (op == UL_OP_NONE)
        return;
    if (op == UL_OP_EVENTS && ul_outbox_depth(c->ob) == 0) {
        ul_sched_events(&c->sched, false, now);
        op = ul_sched_next(&c->sched, now, &due);
    }
    if (due <= now) {
        begin(c, op);
        if (!c->call) /* it failed at once: the schedule says when next */
            schedule(c);
        return;
    }
    hlb_timer_at(c->io, &c->timer, due * 1000);
}

static void on_timer(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    (void)io;
    (void)t;
    schedule(arg);
}

/* ---- life ---- */

ul_client_t *ul_client_new(hlb_reactor_t *io, const ul_client_conf_t *conf, ul_outbox_t *ob,
                           const ul_client_hooks_t *hooks)
{
    ul_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->io = io;
    c->c = *conf;
    c->ob = ob;
    if (hooks)
        c->hooks = *hooks;
    c->endpoint = strdup(conf->endpoint ? conf->endpoint : "");
    size_t n = strlen(c->endpoint);
    while (n && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    c->agent_version = strdup(conf->agent_version ? conf->agent_version : "");
    c->instance_id_conf = conf->instance_id && *conf->instance_id ? strdup(conf->instance_id)
                                                                  : NULL;
    c->cloud_init_path = strdup(conf->cloud_init_path ? conf->cloud_init_path
                                                      : "/run/cloud-init/instance-data.json");
    c->machine_id_path = strdup(conf->machine_id_path ? conf->machine_id_path
                                                      : "/etc/machine-id");
    c->imds_url = strdup(conf->imds_url ? conf->imds_url : "http://169.254.169.254");
    c->sources = hlb_strv_dup((char **)conf->identity_sources);
    if (!c->c.batch_max)
        c->c.batch_max = 100;
    if (!c->c.batch_bytes)
        c->c.batch_bytes = 256u << 10;
    if (!c->c.identity_retry_ms)
        c->c.identity_retry_ms = 30000;
    c->http = ul_http_new(io, &conf->tls, "hl-uplink");
    if (!c->endpoint || !c->http) {
        ul_client_destroy(&c);
        return NULL;
    }
    hlb_timer_init(&c->timer, on_timer, c);
    uint64_t seed = hlb_now_us() ^ ((uint64_t)getpid() << 32);
    ul_sched_init(&c->sched, &conf->sched, seed, now_ms());
    return c;
}

void ul_client_destroy(ul_client_t **c_p)
{
    if (!c_p || !*c_p)
        return;
    ul_client_t *c = *c_p;
    if (c->io)
        hlb_timer_stop(c->io, &c->timer);
    ul_imds_cancel(&c->imds);
    ul_http_destroy(&c->http); /* cancels the call in flight */
    ul_identity_clear(&c->id);
    if (c->token)
        explicit_bzero(c->token, strlen(c->token));
    free(c->token);
    free(c->url);
    free(c->body);
    free(c->last_error);
    free(c->id_errors);
    free(c->endpoint);
    free(c->agent_version);
    free(c->instance_id_conf);
    free(c->cloud_init_path);
    free(c->machine_id_path);
    free(c->imds_url);
    hlb_strv_free(c->sources);
    free(c);
    *c_p = NULL;
}

void ul_client_start(ul_client_t *c)
{
    if (c->started)
        return;
    c->started = true;
    ul_sched_events(&c->sched, ul_outbox_depth(c->ob) > 0, now_ms());
    identity_start(c);
}

int ul_client_push(ul_client_t *c, const ul_event_t *ev)
{
    int rc = ul_outbox_push(c->ob, ev);
    ul_sched_events(&c->sched, ul_outbox_depth(c->ob) > 0, now_ms());
    schedule(c);
    changed(c);
    return rc;
}

void ul_client_link_change(ul_client_t *c)
{
    ul_sched_link_change(&c->sched, now_ms());
    if (!c->call)
        hlb_timer_stop(c->io, &c->timer);
    schedule(c);
}

void ul_client_flush(ul_client_t *c)
{
    ul_sched_events(&c->sched, ul_outbox_depth(c->ob) > 0, now_ms());
    ul_sched_kick(&c->sched, now_ms());
    schedule(c);
}

bool ul_client_idle(const ul_client_t *c) { return ul_outbox_depth(c->ob) == 0; }

void ul_client_state(const ul_client_t *c, ul_client_state_t *s)
{
    memset(s, 0, sizeof *s);
    s->identified = c->id.instance_id != NULL;
    s->registered = c->sched.registered;
    s->online = c->sched.online;
    s->instance_id = c->id.instance_id;
    s->region = c->id.region;
    s->identity_source = c->id.source;
    s->last_error = c->last_error ? c->last_error : "";
    s->last_heartbeat_us = c->last_hb_us;
    s->last_contact_us = c->last_contact_us;
    s->clock_offset_ms = ul_clock_offset_ms(&c->clock, hlb_mono_us(), hlb_now_us());
    uint64_t due;
    ul_op_t op = ul_sched_next(&c->sched, now_ms(), &due);
    s->next_attempt_ms = op == UL_OP_NONE ? 0 : due;
    s->requests = c->sched.requests;
    s->failures = c->sched.failures;
    s->throttled = c->sched.throttled;
    s->registrations = c->sched.registrations;
    s->heartbeats = c->heartbeats;
    s->auth_rereads = c->auth_rereads;
    s->events_sent = c->events_sent;
    s->events_rejected = c->events_rejected;
    s->batches = c->batches;
    s->backoff_window_ms = ul_backoff_window(&c->sched.bo);
}
