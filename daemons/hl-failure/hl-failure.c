/* hl-failure: configure, start and stop, and the routing of every bus
 * event to the detector; the one timer of every deadline. The rest, one
 * concern a file: fl_targets (targets and their policies), fl_detected (what
 * a detected failure becomes), fl_effects (what a policy decided),
 * fl_actions (running a recovery), fl_gate (recovery only while the
 * orchestrator is steady), fl_checks (active checks), fl_publish (events),
 * fl_methods (ctl). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/acall.h>
#include <hlbus/clock.h>
#include <hlbus/proc.h>
#include <hlbus/str.h>
#include <hlbus/strv.h>

#include "fl_decode.h"
#include "fl_liveness.h"
#include "hl-failure.h"
#include "fl_daemon.h"

/* ---- the one timer ---- */

static int on_timer(zloop_t *loop, int timer_id, void *arg);

void fl_reschedule(fl_daemon_t *fd)
{
    if (!fd->loop)
        return;
    uint64_t due = fl_detect_next_due(fd->det);
    for (size_t i = 0; i < fd->ntargets; i++) {
        target_t *t = fd->targets[i];
        uint64_t d = t->policy ? fl_policy_next_due(t->policy) : FL_NEVER;
        if (d < due)
            due = d;
    }
    if (fd->timer >= 0 && due == fd->timer_due)
        return;
    if (fd->timer >= 0)
        zloop_timer_end(fd->loop, fd->timer);
    fd->timer = -1;
    fd->timer_due = due;
    if (due == FL_NEVER)
        return;
    uint64_t now = hlb_mono_ms();
    fd->timer = zloop_timer(fd->loop, due > now ? (size_t)(due - now) : 0, 1, on_timer, fd);
}
static int on_timer(zloop_t *loop, int timer_id, void *arg)
{
    fl_daemon_t *fd = arg;
    fd->timer = -1;
    fd->timer_due = FL_NEVER;
    uint64_t now = hlb_mono_ms();
    fl_detect_tick(fd->det, now);
    for (size_t i = 0; i < fd->ntargets; i++) {
        target_t *t = fd->targets[i];
        if (!t->policy)
            continue;
        fl_policy_tick(t->policy, now);
        fl_flush(t);
    }
    fl_reschedule(fd);
    return 0;
}

/* ---- events ---- */

static void on_event(hlb_daemon_t *d, const hlb_event_t *ev, void *arg)
{
    fl_daemon_t *fd = arg;
    const fl_config_t *c = fd->cfg;
    if (!hlb_event_from_owner(ev)) /* a forged service./health./lifecycle. must not steer us */
        return;
    uint64_t now = hlb_mono_ms();
    int rc = 0;
    if (hlb_has_prefix(ev->topic, c->topic_lifecycle)) {
        const char *state;
        if ((rc = fl_decode_lifecycle(ev, &state)) == 0 &&
            (!fd->lifecycle || strcmp(fd->lifecycle, state) != 0)) {
            free(fd->lifecycle);
            fd->lifecycle = strdup(state);
            fl_set_gate(fd);
        }
    } else if (hlb_has_prefix(ev->topic, c->topic_service)) {
        fl_unit_obs_t u;
        if ((rc = fl_decode_unit(ev, c->topic_service, &u)) == 0)
            fl_detect_unit(fd->det, &u, now);
    } else if (hlb_has_prefix(ev->topic, c->topic_health)) {
        fl_health_obs_t h;
        if ((rc = fl_decode_health(ev, c->topic_health, &h)) == 0)
            fl_detect_health(fd->det, &h, now);
    } else if (hlb_has_prefix(ev->topic, c->topic_threshold)) {
        fl_threshold_obs_t t;
        if ((rc = fl_decode_threshold(ev, c->topic_threshold, &t)) == 0)
            fl_detect_threshold(fd->det, &t, now);
    } else if (hlb_has_prefix(ev->topic, c->topic_uplink)) {
        fl_uplink_obs_t u;
        if ((rc = fl_decode_uplink(ev, &u)) == 0)
            fl_detect_uplink(fd->det, &u, now);
    }
    if (rc < 0) /* hlb_event_as logged a body of the wrong type */
        hlb_debug("%s: nothing hl-failure can use in it", ev->topic);
    fl_status_line(fd);
    fl_reschedule(fd);
}

/* ---- lifecycle of the daemon ---- */

fl_daemon_t *fl_daemon_new(void)
{
    fl_daemon_t *fd = calloc(1, sizeof *fd);
    if (fd)
        fd->timer = -1;
    return fd;
}

void fl_daemon_destroy(fl_daemon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_daemon_t *fd = *self_p;
    for (size_t i = 0; i < fd->ntargets; i++)
        fl_target_free(fd->targets[i]);
    free(fd->targets);
    fl_detect_destroy(&fd->det);
    fl_incidents_destroy(&fd->inc);
    fl_config_destroy(&fd->cfg);
    free(fd->lifecycle);
    free(fd->status);
    free(fd->checks);
    free(fd);
    *self_p = NULL;
}

int fl_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                        bool check_only, hlb_diag_t *diag, void *arg)
{
    fl_daemon_t *fd = arg;
    fl_config_t *c = fl_config_parse(section, diag);
    if (!c)
        return -EINVAL;
    if (check_only) {
        fl_config_destroy(&c);
        return 0;
    }
    fl_config_t *old = fd->cfg;
    fd->cfg = c;
    if (!old || !fd->loop) { /* the first: start() builds the rest */
        fl_config_destroy(&old);
        return 0;
    }
    /* a reload: everything that points into the old config moves over */
    fl_detect_set_config(fd->det, c);
    fl_incidents_set_max(fd->inc, (size_t)c->max_incidents);
    for (size_t i = 0; i < fd->ntargets; i++) {
        target_t *t = fd->targets[i];
        fl_policy_cfg_t pc;
        if (fl_policy_cfg_for(fd, t->name, t->kind, t->command, &pc)) {
            if (t->policy)
                fl_policy_set_cfg(t->policy, &pc);
            else if ((t->policy = fl_policy_new(t->name, &pc, fl_on_effect, t)))
                fl_policy_gate(t->policy, fd->gate_open, hlb_mono_ms());
        } else if (t->policy && fl_policy_state(t->policy) == FL_ST_IDLE && !t->call && !t->cmd) {
            fl_policy_destroy(&t->policy); /* no longer recovered */
        }
        if (t->kind == T_SERVICE) {
            const fl_service_cfg_t *sc = fl_config_service(c, t->name);
            if (sc && (!t->unit || strcmp(t->unit, sc->unit) != 0)) {
                free(t->unit);
                t->unit = strdup(sc->unit);
            }
        }
    }
    bool same_checks = old->nchecks == c->nchecks;
    for (size_t i = 0; same_checks && i < c->nchecks; i++)
        same_checks = strcmp(old->checks[i].name, c->checks[i].name) == 0 &&
                      hlb_strv_eq(old->checks[i].argv, c->checks[i].argv) &&
                      old->checks[i].interval_ms == c->checks[i].interval_ms;
    if (same_checks) {
        for (size_t i = 0; i < fd->nchecks; i++)
            fd->checks[i].k = &c->checks[i];
    } else {
        fl_checks_stop(fd);
        fl_checks_start(fd);
    }
    const char *topics[] = {c->topic_service, c->topic_health, c->topic_threshold,
                            c->topic_uplink, c->topic_lifecycle};
    for (size_t i = 0; fd->sub && i < sizeof topics / sizeof topics[0]; i++)
        hlb_sub_subscribe(fd->sub, topics[i]); /* old prefixes are ignored by on_event */
    fl_config_destroy(&old);
    fl_set_gate(fd);
    fl_status_line(fd);
    fl_reschedule(fd);
    return 0;
}

/* Liveness probe interval and deadline: a kill -9 of the orchestrator is
 * known within about 7 s. */
#define ORCH_PROBE_INTERVAL_MS 5000
#define ORCH_PROBE_TIMEOUT_MS 2000

static void on_liveness(bool reachable, const char *detail, void *arg)
{
    fl_daemon_t *fd = arg;
    if (fd->orch_unreachable == !reachable)
        return;
    fd->orch_unreachable = !reachable;
    if (reachable)
        hlb_info("%s %s again", fd->cfg->orchestrator, detail);
    else
        hlb_warn("%s is down: %s; recovery waits for it", fd->cfg->orchestrator, detail);
    fl_set_gate(fd);
    fl_status_line(fd);
}

int fl_daemon_start(hlb_daemon_t *d, void *arg)
{
    fl_daemon_t *fd = arg;
    fd->d = d;
    fd->loop = hlb_daemon_loop(d);
    fd->gate_open = !fd->cfg->require_lifecycle;
    fd->det = fl_detect_new(fd->cfg, &fl_detect_callbacks, fd);
    fd->inc = fl_incidents_new((size_t)fd->cfg->max_incidents);
    if (!fd->det || !fd->inc)
        return -ENOMEM;
    const fl_config_t *c = fd->cfg;
    const char *const prefixes[] = {c->topic_service, c->topic_health, c->topic_threshold,
                                    c->topic_uplink, c->topic_lifecycle, NULL};
    fd->sub = hlb_daemon_subscribe(d, prefixes, on_event, fd);
    if (!fd->sub) {
        hlb_err("cannot subscribe to the bus");
        return -EIO;
    }
    fl_checks_start(fd);
    if (fd->cfg->require_lifecycle)
        fd->live = fl_liveness_new(fd->loop, hlb_daemon_runtime_dir(d), c->orchestrator,
                                   ORCH_PROBE_INTERVAL_MS, ORCH_PROBE_TIMEOUT_MS, on_liveness, fd);
    fl_status_line(fd);
    hlb_info("watching %s*, %s*, %s*, %s* and %s; recovery through %s.%s; %s", c->topic_service,
             c->topic_health, c->topic_threshold, c->topic_uplink, c->topic_lifecycle,
             c->orchestrator, c->recover_method,
             fd->gate_open ? "recovery enabled" : "recovery waits for the orchestrator's ready");
    return 0;
}

void fl_daemon_stop(hlb_daemon_t *d, void *arg)
{
    fl_daemon_t *fd = arg;
    if (fd->timer >= 0)
        zloop_timer_end(fd->loop, fd->timer);
    fd->timer = -1;
    fl_checks_stop(fd);
    fl_liveness_destroy(&fd->live);
    for (size_t i = 0; i < fd->ntargets; i++) {
        hlb_acall_cancel(&fd->targets[i]->call);
        hlb_acall_cancel(&fd->targets[i]->stop_call);
        hlb_proc_cancel(&fd->targets[i]->cmd);
    }
    hlb_proc_shutdown();
    hlb_acall_shutdown();
    fd->d = NULL;
}
