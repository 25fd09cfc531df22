/* hl-failure: its ctl methods: failures (incident timelines and each
 * target's state) and rearm. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/clock.h>

#include "failure.pb-c.h"
#include "fl_daemon.h"

/* ---- methods ---- */

static void fill_target(fl_daemon_t *fd, target_t *t, Hl__TargetStatus *s)
{
    hl__target_status__init(s);
    s->target = t->name;
    s->state = (char *)(t->policy ? fl_state_name(fl_policy_state(t->policy)) : "report-only");
    s->healthy = fl_detect_is_healthy(fd->det, t->name);
    s->incident = t->incident;
    if (!t->policy)
        return;
    const fl_policy_cfg_t *pc = fl_policy_cfg(t->policy);
    uint64_t now = hlb_mono_ms();
    s->attempts = (uint32_t)fl_policy_attempts(t->policy);
    s->max_attempts = (uint32_t)pc->max_attempts;
    s->recoveries = (uint32_t)fl_policy_recoveries(t->policy, now);
    s->flap_max = (uint32_t)pc->flap_max;
    s->next_action = (char *)fl_policy_next_action(t->policy);
    uint64_t due = fl_policy_due_ms(t->policy);
    if (due != FL_NEVER)
        s->due_us = hlb_now_us() + (due > now ? (due - now) * 1000 : 0);
}

static void m_failures(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    fl_daemon_t *fd = arg;
    int64_t limit = 50;
    char *target = NULL;
    bool only_open = false;
    if (req->map) {
        int rc = hlb_mpview_int(req->map, "limit", &limit);
        if (rc == -EINVAL || (rc == 0 && limit < 1)) {
            hlb_reply_error(reply, EINVAL, "limit= must be a positive number");
            return;
        }
        target = hlb_mpview_str(req->map, "target");
        hlb_mpview_bool(req->map, "open", &only_open);
    }
    size_t n = fl_incidents_count(fd->inc);
    Hl__Incident *incs = calloc(n ? n : 1, sizeof *incs);
    Hl__Incident **iptrs = calloc(n ? n : 1, sizeof *iptrs);
    Hl__IncidentEntry *ents = calloc(n ? n * FL_INCIDENT_MAX_ENTRIES : 1, sizeof *ents);
    Hl__IncidentEntry **eptrs = calloc(n ? n * FL_INCIDENT_MAX_ENTRIES : 1, sizeof *eptrs);
    Hl__TargetStatus *ts = calloc(fd->ntargets ? fd->ntargets : 1, sizeof *ts);
    Hl__TargetStatus **tptrs = calloc(fd->ntargets ? fd->ntargets : 1, sizeof *tptrs);
    if (!incs || !iptrs || !ents || !eptrs || !ts || !tptrs) {
        hlb_reply_error(reply, ENOMEM, "out of memory");
        goto out;
    }
    /* the newest LIMIT that match, oldest first */
    size_t first = n, count = 0;
    while (first > 0 && count < (size_t)limit) {
        fl_incident_t *in = fl_incidents_at(fd->inc, first - 1);
        if ((!target || strcmp(target, in->target) == 0) &&
            (!only_open || fl_incident_is_open(in)))
            count++;
        first--;
    }
    size_t k = 0, e = 0;
    for (size_t i = first; i < n; i++) {
        fl_incident_t *in = fl_incidents_at(fd->inc, i);
        if ((target && strcmp(target, in->target) != 0) || (only_open && !fl_incident_is_open(in)))
            continue;
        Hl__Incident *o = &incs[k];
        hl__incident__init(o);
        o->id = in->id;
        o->target = in->target;
        o->type = in->type;
        o->severity = in->severity;
        o->pattern = in->pattern;
        o->evidence = in->evidence;
        o->detected_us = in->detected_us;
        o->ended_us = in->ended_us;
        o->outcome = in->outcome;
        o->ttr_ms = in->ttr_ms;
        o->attempts = in->attempts;
        o->folded = in->folded;
        o->timeline = &eptrs[e];
        for (size_t j = 0; j < in->nentries; j++, e++) {
            hl__incident_entry__init(&ents[e]);
            ents[e].ts_us = in->entries[j].ts_us;
            ents[e].what = in->entries[j].what;
            ents[e].detail = in->entries[j].detail;
            eptrs[e] = &ents[e];
            o->n_timeline++;
        }
        iptrs[k++] = o;
    }
    size_t nt = 0;
    for (size_t i = 0; i < fd->ntargets; i++) {
        if (target && strcmp(target, fd->targets[i]->name) != 0)
            continue;
        fill_target(fd, fd->targets[i], &ts[nt]);
        tptrs[nt] = &ts[nt];
        nt++;
    }
    Hl__FailureReport r = HL__FAILURE_REPORT__INIT;
    r.n_incidents = k;
    r.incidents = iptrs;
    r.n_targets = nt;
    r.targets = tptrs;
    r.lifecycle = (char *)fl_lc_word(fd, "");
    r.recovery_enabled = fd->gate_open;
    r.detected = fd->detected;
    r.actions = fd->actions;
    hlb_reply_msg(reply, &r.base);
out:
    free(incs);
    free(iptrs);
    free(ents);
    free(eptrs);
    free(ts);
    free(tptrs);
    free(target);
}

static void m_rearm(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    fl_daemon_t *fd = arg;
    char *name = NULL;
    if (req->map) {
        name = hlb_mpview_str(req->map, "target");
        if (!name)
            name = hlb_mpview_str(req->map, "service");
    }
    if (!name || !*name) {
        hlb_reply_error(reply, EINVAL, "target= is required (a service name, or network)");
        free(name);
        return;
    }
    target_t *t = fl_target_find(fd, name);
    if (!t || !t->policy) {
        hlb_buf_t known = {0};
        for (size_t i = 0; i < fd->ntargets; i++)
            if (fd->targets[i]->policy)
                hlb_buf_printf(&known, "%s%s", known.len ? ", " : "", fd->targets[i]->name);
        hlb_reply_error(reply, ENOENT, "%s has no recovery policy to rearm%s%s%s", name,
                        known.len ? " (known: " : "", known.len ? known.data : "",
                        known.len ? ")" : "");
        hlb_buf_free(&known);
        free(name);
        return;
    }
    char why[128];
    snprintf(why, sizeof why, "rearmed by uid %ld (pid %ld)", (long)req->uid, (long)req->pid);
    uint64_t now = hlb_mono_ms();
    fl_policy_feed(t->policy, FL_EV_REARM, &(fl_input_t){.detail = why}, now);
    fl_flush(t);
    /* still failing: the fresh budget applies at once */
    fl_detect_reassert(fd->det, t->name, now);
    Hl__TargetStatus s;
    fill_target(fd, t, &s);
    hlb_reply_msg(reply, &s.base);
    fl_status_line(fd);
    fl_reschedule(fd);
    free(name);
}

const hlb_method_t fl_daemon_methods[] = {
    {"failures", m_failures, 0,
     "[limit=N] [target=NAME] [open=true]: recent incidents as timelines, and each target's state"},
    {"rearm", m_rearm, HLB_METHOD_ADMIN,
     "target=NAME: recovery of NAME starts afresh after a give-up, flap hold or config error"},
    {NULL, NULL, 0, NULL},
};
