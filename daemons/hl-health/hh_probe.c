/* Probe dispatch and helpers shared by the probe kinds. */
#include "hh_probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hh_out_reset(hh_out_t *o)
{
    o->len = 0;
    o->dropped = 0;
}

void hh_out_add(hh_out_t *o, const void *data, size_t len)
{
    if (len == 0)
        return; /* data may be NULL then */
    size_t room = sizeof o->data - o->len;
    size_t n = len < room ? len : room;
    memcpy(o->data + o->len, data, n);
    o->len += n;
    o->dropped += len - n;
}

hh_probe_t *hh_probe_new(const hh_probe_env_t *env, const hh_check_spec_t *spec,
                         hh_probe_done_fn *done, void *arg, char **err)
{
    hh_probe_t *p = NULL;
    switch (spec->kind) {
    case HH_KIND_HTTP: p = hh_http_probe_new(env, spec, err); break;
    case HH_KIND_TCP: p = hh_tcp_probe_new(env, spec, err); break;
    case HH_KIND_EXEC: p = hh_exec_probe_new(env, spec, err); break;
    case HH_KIND_DISK: p = hh_disk_probe_new(env, spec, err); break;
    case HH_KIND_UNIT:
        if (err)
            *err = strdup("unit checks are fed by service events, not probed");
        return NULL;
    }
    if (!p)
        return NULL;
    p->spec = spec;
    p->env = *env;
    p->done = done;
    p->arg = arg;
    return p;
}

int hh_probe_start(hh_probe_t *p, int64_t timeout_ms)
{
    if (p->busy)
        return -EBUSY;
    p->busy = true;
    int rc = p->ops->start(p, timeout_ms);
    if (rc < 0)
        p->busy = false;
    return rc;
}

void hh_probe_cancel(hh_probe_t *p)
{
    if (p && p->busy) {
        p->ops->cancel(p);
        p->busy = false;
    }
}

void hh_probe_destroy(hh_probe_t **p_p)
{
    if (!p_p || !*p_p)
        return;
    hh_probe_t *p = *p_p;
    hh_probe_cancel(p);
    p->ops->destroy(p);
    *p_p = NULL;
}

void hh_probe_finish(hh_probe_t *p, hh_result_t r, const char *detail, const char *out,
                     size_t outlen)
{
    p->busy = false;
    p->done(p, r, detail, out, outlen, p->arg);
}
