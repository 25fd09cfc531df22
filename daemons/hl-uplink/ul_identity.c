/* Instance identity: see ul_identity.h. */
#include "ul_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hlbus/str.h>

#include "ul_json.h"

#define FILE_MAX (1u << 20)

void ul_identity_clear(ul_identity_t *id)
{
    free(id->instance_id);
    free(id->region);
    id->instance_id = id->region = NULL;
    id->source = NULL;
}

bool ul_identity_valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 128)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == ':' || *s == '-'))
            return false;
    return true;
}

/* The whole of a small file, NUL-terminated. */
static char *read_small(const char *path, size_t *len, char **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = hlb_strdupf("%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(FILE_MAX + 1);
    size_t n = 0;
    while (buf && n <= FILE_MAX) {
        ssize_t r = read(fd, buf + n, FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf || n > FILE_MAX) {
        *err = hlb_strdupf("%s: %s", path, buf ? "larger than 1 MiB" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int ul_identity_cloud_init(const char *path, ul_identity_t *out, char **err)
{
    size_t len;
    char *buf = read_small(path, &len, err);
    if (!buf)
        return -ENOENT;
    char *jerr = NULL;
    ul_jnode_t *doc = ul_json_parse(buf, len, &jerr);
    free(buf);
    if (!doc) {
        *err = hlb_strdupf("%s: %s", path, jerr ? jerr : "not JSON");
        free(jerr);
        return -EINVAL;
    }
    const ul_jnode_t *v1 = ul_json_get(doc, "v1");
    const char *iid = ul_json_get_str(v1, "instance_id");
    if (!iid)
        iid = ul_json_get_str(v1, "instance-id");
    const char *region = ul_json_get_str(v1, "region");
    int rc = 0;
    if (!ul_identity_valid_id(iid)) {
        *err = hlb_strdupf("%s: v1.instance_id %s", path, iid ? "is not a valid id" : "missing");
        rc = -EINVAL;
    } else {
        out->instance_id = strdup(iid);
        out->region = strdup(region ? region : "");
        out->source = "cloud-init";
    }
    ul_json_free(doc);
    return rc;
}

int ul_identity_machine_id(const char *path, ul_identity_t *out, char **err)
{
    size_t len;
    char *buf = read_small(path, &len, err);
    if (!buf)
        return -ENOENT;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    bool hex = len == 32;
    for (size_t i = 0; hex && i < len; i++)
        hex = (buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f');
    if (!hex) {
        *err = hlb_strdupf("%s: not a machine id (32 lower-case hex digits)", path);
        free(buf);
        return -EINVAL;
    }
    out->instance_id = buf;
    out->region = strdup("");
    out->source = "machine-id";
    return 0;
}

/* ---- IMDSv2: token, then instance-id and region ---- */

struct ul_imds {
    ul_http_t *h;
    char *base;
    int64_t timeout_ms;
    ul_identity_fn *fn;
    void *arg;
    ul_call_t *call;
    char *token;
    ul_identity_t id;
    int step; /* 0 token, 1 instance-id, 2 region */
};

static void imds_step(ul_imds_t *q);

static void imds_finish(ul_imds_t *q, int rc, const char *err)
{
    q->call = NULL;
    ul_identity_fn *fn = q->fn;
    void *arg = q->arg;
    ul_identity_t id = q->id;
    memset(&q->id, 0, sizeof q->id);
    if (rc == 0)
        id.source = "imds";
    fn(rc, rc == 0 ? &id : NULL, err, arg); /* takes id's strings on success */
    if (rc != 0)
        ul_identity_clear(&id);
}

static char *plain_value(const ul_resp_t *r)
{
    /* a metadata value is one short line of text */
    if (r->body_len == 0 || r->body_len > 256 || memchr(r->body, '\n', r->body_len))
        return NULL;
    return strndup(r->body, r->body_len);
}

static void imds_done(const ul_resp_t *r, void *arg)
{
    ul_imds_t *q = arg;
    q->call = NULL;
    static const char *what[] = {"token", "instance-id", "region"};
    if (r->status != 200) {
        if (q->step == 2) { /* no region is no reason to fail */
            q->id.region = strdup("");
            imds_finish(q, 0, NULL);
            return;
        }
        char *e = r->status ? hlb_strdupf("imds %s: HTTP %ld", what[q->step], r->status)
                            : hlb_strdupf("imds %s: %s", what[q->step], r->error);
        imds_finish(q, -EIO, e);
        free(e);
        return;
    }
    char *v = plain_value(r);
    if (!v) {
        char *e = hlb_strdupf("imds %s: not one line of text", what[q->step]);
        imds_finish(q, -EINVAL, e);
        free(e);
        return;
    }
    if (q->step == 0) {
        q->token = v;
    } else if (q->step == 1) {
        if (!ul_identity_valid_id(v)) {
            free(v);
            imds_finish(q, -EINVAL, "imds instance-id: not a valid id");
            return;
        }
        q->id.instance_id = v;
    } else {
        q->id.region = v;
        imds_finish(q, 0, NULL);
        return;
    }
    q->step++;
    imds_step(q);
}

static void imds_step(ul_imds_t *q)
{
    char *url, *hdr;
    const char *method = "GET";
    if (q->step == 0) {
        url = hlb_strdupf("%s/latest/api/token", q->base);
        hdr = strdup("X-aws-ec2-metadata-token-ttl-seconds: 300");
        method = "PUT";
    } else {
        url = hlb_strdupf("%s/latest/meta-data/%s", q->base,
                          q->step == 1 ? "instance-id" : "placement/region");
        hdr = hlb_strdupf("X-aws-ec2-metadata-token: %s", q->token);
    }
    const char *hdrs[] = {hdr, NULL};
    ul_req_t req = {.method = method,
                    .url = url,
                    .headers = hdrs,
                    .timeout_ms = q->timeout_ms,
                    .connect_timeout_ms = q->timeout_ms,
                    .max_body = 4096};
    q->call = url && hdr ? ul_http_start(q->h, &req, imds_done, q) : NULL;
    free(url);
    if (hdr)
        explicit_bzero(hdr, strlen(hdr));
    free(hdr);
    if (!q->call)
        imds_finish(q, -ENOMEM, "imds: cannot start a request");
}

ul_imds_t *ul_identity_imds(ul_http_t *h, const char *base, int64_t timeout_ms,
                            ul_identity_fn *fn, void *arg)
{
    ul_imds_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->h = h;
    q->base = strdup(base);
    q->timeout_ms = timeout_ms;
    q->fn = fn;
    q->arg = arg;
    size_t n = strlen(q->base);
    while (n && q->base[n - 1] == '/')
        q->base[--n] = '\0';
    imds_step(q);
    return q;
}

void ul_imds_cancel(ul_imds_t **q_p)
{
    if (!q_p || !*q_p)
        return;
    ul_imds_t *q = *q_p;
    if (q->call)
        ul_http_cancel(q->h, q->call);
    if (q->token)
        explicit_bzero(q->token, strlen(q->token));
    free(q->token);
    free(q->base);
    ul_identity_clear(&q->id);
    free(q);
    *q_p = NULL;
}
