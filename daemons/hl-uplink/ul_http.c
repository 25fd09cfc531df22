/* HTTP on the reactor: see ul_http.h. The multi handle's plumbing (which
 * sockets curl wants watched, its timer) is hlbus/curlm.h, shared with
 * hl-health's probes; this file owns the requests and their answers. */
#include "ul_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hlbus/clock.h>
#include <hlbus/curlm.h>
#include <hlbus/str.h>
#include <hlbus/tlscurl.h>

#define HDR_MAX 512 /* a kept header value longer than this is cut */

struct ul_call {
    ul_http_t *h;
    CURL *easy;
    struct curl_slist *headers;
    ul_http_fn *fn;
    void *arg;
    char *body;
    size_t body_len, max_body;
    bool too_large;
    char *ctype, *date, *retry_after, *location;
    char errbuf[CURL_ERROR_SIZE];
    ul_call_t *prev, *next;
};

struct ul_http {
    hlb_curlm_t *m;
    ul_tls_t tls;
    char *ca_file;
    char *user_agent;
    ul_call_t *calls;
    size_t n;
};

static void call_free(ul_call_t *c)
{
    ul_http_t *h = c->h;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->n--;
    hlb_curlm_remove(h->m, c->easy);
    curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    free(c->body);
    free(c->ctype);
    free(c->date);
    free(c->retry_after);
    free(c->location);
    free(c);
}

/* A transfer ended (curlm has removed its handle): the answer to the
 * caller, then the call is freed. */
static void on_done(CURL *easy, CURLcode code, void *arg)
{
    (void)arg;
    ul_call_t *c = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&c);
    ul_resp_t r = {0};
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r.status);
    r.curl_code = code;
    r.body = c->body ? c->body : "";
    r.body_len = c->body_len;
    r.body_too_large = c->too_large;
    r.content_type = c->ctype;
    r.date = c->date;
    r.retry_after = c->retry_after;
    r.location = c->location;
    r.done_mono_us = hlb_mono_us();
    char *msg = NULL;
    if (c->too_large) {
        msg = hlb_strdupf("answer larger than %zu bytes", c->max_body);
    } else if (code != CURLE_OK) {
        msg = hlb_strdupf("%s%s%s", curl_easy_strerror(code), c->errbuf[0] ? ": " : "",
                          c->errbuf);
        r.status = 0; /* a half answer is no answer */
    }
    r.error = msg;
    /* the callback may start the next request: free this one after the
     * callback has seen its buffers */
    c->fn(&r, c->arg);
    free(msg);
    call_free(c);
}

ul_http_t *ul_http_new(hlb_reactor_t *io, const ul_tls_t *tls, const char *user_agent)
{
    ul_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->m = hlb_curlm_new(io, on_done, h);
    h->user_agent = strdup(user_agent ? user_agent : "hl-uplink");
    if (tls) {
        h->tls = *tls;
        h->ca_file = tls->ca_file ? strdup(tls->ca_file) : NULL;
        h->tls.ca_file = h->ca_file;
        /* each request's handle points at it (the CA callback) */
        h->tls.policy = hlb_tlspolicy_ref(tls->policy);
    } else {
        h->tls.verify = true;
    }
    if (!h->m || !h->user_agent) {
        ul_http_destroy(&h);
        return NULL;
    }
    return h;
}

void ul_http_destroy(ul_http_t **h_p)
{
    if (!h_p || !*h_p)
        return;
    ul_http_t *h = *h_p;
    while (h->calls)
        call_free(h->calls);
    hlb_curlm_destroy(&h->m);
    free(h->ca_file);
    hlb_tlspolicy_destroy(&h->tls.policy);
    free(h->user_agent);
    free(h);
    *h_p = NULL;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    ul_call_t *c = userdata;
    size_t n = size * nmemb;
    if (c->body_len + n > c->max_body) {
        c->too_large = true;
        return 0; /* cut the transfer: a huge answer costs no memory */
    }
    memcpy(c->body + c->body_len, ptr, n);
    c->body_len += n;
    c->body[c->body_len] = '\0';
    return n;
}

static void keep_header(char **slot, const char *v, size_t n)
{
    while (n && (v[0] == ' ' || v[0] == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n > HDR_MAX)
        n = HDR_MAX;
    free(*slot);
    *slot = strndup(v, n);
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    ul_call_t *c = userdata;
    size_t n = size * nitems;
    static const struct {
        const char *name;
        size_t off;
    } keep[] = {
        {"content-type:", offsetof(ul_call_t, ctype)},
        {"date:", offsetof(ul_call_t, date)},
        {"retry-after:", offsetof(ul_call_t, retry_after)},
        {"location:", offsetof(ul_call_t, location)},
    };
    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* a new status line (after a 100 Continue): forget the last block */
        for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
            char **slot = (char **)((char *)c + keep[i].off);
            free(*slot);
            *slot = NULL;
        }
        return n;
    }
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        size_t kl = strlen(keep[i].name);
        if (n >= kl && strncasecmp(buf, keep[i].name, kl) == 0) {
            keep_header((char **)((char *)c + keep[i].off), buf + kl, n - kl);
            break;
        }
    }
    return n;
}

ul_call_t *ul_http_start(ul_http_t *h, const ul_req_t *req, ul_http_fn *fn, void *arg)
{
    ul_call_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->h = h;
    c->fn = fn;
    c->arg = arg;
    c->max_body = req->max_body ? req->max_body : (64u << 10);
    c->body = malloc(c->max_body + 1);
    c->easy = curl_easy_init();
    if (!c->body || !c->easy) {
        free(c->body);
        if (c->easy)
            curl_easy_cleanup(c->easy);
        free(c);
        return NULL;
    }
    c->body[0] = '\0';
    for (const char *const *hd = req->headers; hd && *hd; hd++) {
        struct curl_slist *l = curl_slist_append(c->headers, *hd);
        if (l)
            c->headers = l;
    }
    /* curl adds "Expect: 100-continue" to large bodies: a round trip for nothing */
    struct curl_slist *l = curl_slist_append(c->headers, "Expect:");
    if (l)
        c->headers = l;
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect elsewhere is refused */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms ? req->timeout_ms : 10000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(req->connect_timeout_ms ? req->connect_timeout_ms : 5000));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, h->tls.verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, h->tls.verify ? 2L : 0L);
    if (h->tls.ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->tls.ca_file);
    /* the policy was tried at configure time: a refusal here is this
     * libcurl's, and a request without the policy is not one to send */
    hlb_tls_curl_opts_t to = {.own_ca = h->tls.ca_file != NULL};
    if (hlb_tlspolicy_curl(h->tls.policy, e, &to) < 0) {
        curl_slist_free_all(c->headers);
        curl_easy_cleanup(e);
        free(c->body);
        free(c);
        return NULL;
    }
    if (c->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    const char *m = req->method ? req->method : "GET";
    if (req->body || strcmp(m, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    }
    /* its first step from the loop, so that the callback never runs inside
     * this call */
    if (hlb_curlm_add(h->m, e, false) < 0) {
        curl_slist_free_all(c->headers);
        curl_easy_cleanup(e);
        free(c->body);
        free(c);
        return NULL;
    }
    c->next = h->calls;
    if (h->calls)
        h->calls->prev = c;
    h->calls = c;
    h->n++;
    return c;
}

void ul_http_cancel(ul_http_t *h, ul_call_t *c)
{
    (void)h;
    if (c)
        call_free(c);
}

size_t ul_http_in_flight(const ul_http_t *h) { return h->n; }
