/* HTTP(S) probes on one libcurl multi handle driven by the reactor
 * (hlbus/curlm.h, shared with hl-uplink). Each check keeps its easy handle
 * between runs, so its options are set once and its connection stays in the
 * multi handle's cache (reuse). */
#include "hh_probe.h"

#include <curl/curl.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/curlm.h>
#include <hlbus/tlscurl.h>

struct hh_curl {
    hlb_curlm_t *m;
    hlb_tlspolicy_t *tls; /* the probes' handles point at it */
};

typedef struct {
    hh_probe_t base;
    CURL *easy;
    struct curl_slist *headers;
    regex_t re;
    bool has_re;
    char errbuf[CURL_ERROR_SIZE];
    char *body;        /* first max_body bytes of the response body */
    size_t body_len;
    bool body_over;    /* the body was longer than max_body: transfer cut */
    int64_t timeout_ms;
    bool in_multi;
} http_probe_t;

static void judge(http_probe_t *h, CURLcode code);

/* A transfer ended; curlm has removed the handle, so judging may start the
 * next attempt. */
static void on_done(CURL *easy, CURLcode code, void *arg)
{
    (void)arg;
    http_probe_t *h = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&h);
    h->in_multi = false;
    judge(h, code);
}

hh_curl_t *hh_curl_new(hlb_reactor_t *io)
{
    hh_curl_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->m = hlb_curlm_new(io, on_done, c);
    if (!c->m) {
        free(c);
        return NULL;
    }
    return c;
}

void hh_curl_set_maxconnects(hh_curl_t *c, long n)
{
    curl_multi_setopt(hlb_curlm_multi(c->m), CURLMOPT_MAXCONNECTS, n);
}

void hh_curl_destroy(hh_curl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    /* probes remove their easy handles first */
    hlb_curlm_destroy(&(*self_p)->m);
    hlb_tlspolicy_destroy(&(*self_p)->tls);
    free(*self_p);
    *self_p = NULL;
}

void hh_curl_set_tls(hh_curl_t *c, hlb_tlspolicy_t *p)
{
    /* before the first probe (hh_config_build): a probe's handle points at
     * the policy it was made with, so one in use is never dropped here. A
     * reload builds a new engine, with a multi handle of its own. */
    hlb_tlspolicy_destroy(&c->tls);
    c->tls = hlb_tlspolicy_ref(p);
}

/* ---- one HTTP check ---- */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    http_probe_t *h = userdata;
    size_t n = size * nmemb;
    size_t max = h->base.spec->u.http.max_body;
    size_t room = max - h->body_len;
    size_t take = n < room ? n : room;
    memcpy(h->body + h->body_len, ptr, take);
    h->body_len += take;
    if (take < n) {
        /* A huge body is not read to its end: stop here and judge what we have. */
        h->body_over = true;
        return 0;
    }
    return n;
}

static void judge(http_probe_t *h, CURLcode code)
{
    const hh_http_spec_t *s = &h->base.spec->u.http;
    size_t outlen = h->body_len < HH_OUTPUT_MAX ? h->body_len : HH_OUTPUT_MAX;
    long status = 0;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
    char *detail = NULL;
    hh_result_t r = HH_FAIL;

    if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && h->body_over)) {
        if (code == CURLE_OPERATION_TIMEDOUT)
            detail = hlb_strdupf("timed out after %lld ms%s", (long long)h->timeout_ms,
                                      status ? " (reading the body)" : "");
        else
            detail = hlb_strdupf("%s%s%s", curl_easy_strerror(code),
                                      h->errbuf[0] ? ": " : "", h->errbuf);
    } else if (status < s->status_min || status > s->status_max) {
        detail = hlb_strdupf("HTTP %ld, expected %ld-%ld", status, s->status_min,
                                  s->status_max);
    } else if (s->body_match || h->has_re) {
        /* The body is matched as text: NUL-terminate our copy. */
        h->body[h->body_len] = '\0';
        bool ok = true;
        if (s->body_match && !memmem(h->body, h->body_len, s->body_match, strlen(s->body_match)))
            ok = false;
        if (ok && h->has_re && regexec(&h->re, h->body, 0, NULL, 0) != 0)
            ok = false;
        if (ok) {
            r = HH_PASS;
            detail = hlb_strdupf("HTTP %ld", status);
        } else {
            detail = hlb_strdupf("HTTP %ld, body does not match%s", status,
                                      h->body_over ? " (in the first max_body bytes)" : "");
        }
    } else {
        r = HH_PASS;
        detail = hlb_strdupf("HTTP %ld", status);
    }
    hh_probe_finish(&h->base, r, detail ? detail : "(out of memory)", h->body, outlen);
    free(detail);
}

static int http_start(hh_probe_t *p, int64_t timeout_ms)
{
    http_probe_t *h = (http_probe_t *)p;
    h->body_len = 0;
    h->body_over = false;
    h->errbuf[0] = '\0';
    h->timeout_ms = timeout_ms;
    curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    /* run now: the request leaves in this loop turn instead of the next. The
     * transfer cannot complete yet (the request is only being written), but
     * others' may: they are judged too, which is fine from here. */
    h->in_multi = true;
    int rc = hlb_curlm_add(p->env.curl->m, h->easy, true);
    if (rc < 0)
        h->in_multi = false;
    return rc;
}

static void http_cancel(hh_probe_t *p)
{
    http_probe_t *h = (http_probe_t *)p;
    if (h->in_multi) {
        hlb_curlm_remove(p->env.curl->m, h->easy);
        h->in_multi = false;
    }
}

static void http_destroy(hh_probe_t *p)
{
    http_probe_t *h = (http_probe_t *)p;
    curl_easy_cleanup(h->easy);
    curl_slist_free_all(h->headers);
    if (h->has_re)
        regfree(&h->re);
    free(h->body);
    free(h);
}

static const hh_probe_ops_t http_ops = {http_start, http_cancel, http_destroy};

hh_probe_t *hh_http_probe_new(const hh_probe_env_t *env, const hh_check_spec_t *spec, char **err)
{
    const hh_http_spec_t *s = &spec->u.http;
    if (!env->curl || !s->url) {
        if (err)
            *err = strdup("http check without url");
        return NULL;
    }
    http_probe_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->base.ops = &http_ops;
    h->body = malloc(s->max_body + 1);
    h->easy = curl_easy_init();
    if (!h->body || !h->easy)
        goto fail;
    if (s->body_regex) {
        int rc = regcomp(&h->re, s->body_regex, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            if (err) {
                char msg[128];
                regerror(rc, &h->re, msg, sizeof msg);
                *err = hlb_strdupf("body_regex: %s", msg);
            }
            goto fail;
        }
        h->has_re = true;
    }
    for (char **hd = s->headers; hd && *hd; hd++) {
        struct curl_slist *l = curl_slist_append(h->headers, *hd);
        if (!l)
            goto fail;
        h->headers = l;
    }
    CURL *e = h->easy;
    curl_easy_setopt(e, CURLOPT_URL, s->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, h);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "hl-health/" HL_HEALTH_VERSION);
    /* Only http and https, also for redirects: a check must not turn into a
     * file:// read or anything else by a Location header. */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    /* No proxy: health checks are of local endpoints, and an explicit ""
     * also spares curl its look-up of *_proxy variables on every transfer. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, s->follow_redirects ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, s->max_redirects);
    if (h->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
    const char *m = s->method ? s->method : "GET";
    if (strcmp(m, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(m, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    if (s->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, s->body);
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    }
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, s->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, s->tls_verify ? 2L : 0L);
    if (s->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    if (s->client_cert)
        curl_easy_setopt(e, CURLOPT_SSLCERT, s->client_cert);
    if (s->client_key)
        curl_easy_setopt(e, CURLOPT_SSLKEY, s->client_key);
    /* The VM's TLS policy, with the check's own options where they are
     * stricter or more specific: its min_version raises the policy's floor
     * (one below it is the policy's), its ca_file is the whole trust (so the
     * policy's extra CA is not added), suites and max_version are the
     * policy's. */
    hlb_tls_curl_opts_t to = {.own_ca = s->ca_file != NULL};
    if (s->tls_min)
        to.min_version = strcmp(s->tls_min, "1.3") == 0   ? HLB_TLS_1_3
                         : strcmp(s->tls_min, "1.2") == 0 ? HLB_TLS_1_2
                                                          : HLB_TLS_1_0;
    int trc = hlb_tlspolicy_curl(env->curl->tls, e, &to);
    if (trc < 0) {
        if (err)
            *err = trc == -ERANGE
                       ? hlb_strdupf("tls.min_version %s is above the TLS policy's max_version "
                                     "%s (%s)",
                                     s->tls_min,
                                     hlb_tls_version_name(hlb_tlspolicy_max_version(env->curl->tls)),
                                     hlb_tlspolicy_source(env->curl->tls)
                                         ? hlb_tlspolicy_source(env->curl->tls)
                                         : "built in")
                       : strdup("this libcurl cannot apply the TLS policy (it needs OpenSSL)");
        goto fail;
    }
    if (!s->reuse)
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    return &h->base;
fail:
    http_destroy(&h->base);
    return NULL;
}
