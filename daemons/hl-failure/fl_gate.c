/* hl-failure: the gate: recovery only while the orchestrator is up and
 * steady; and the STATUS= line that says so. */
#include <stdlib.h>
#include <string.h>

#include <hlbus/clock.h>

#include "fl_daemon.h"

/* ---- the gate: recovery only while the orchestrator is up and steady ---- */

void fl_status_line(fl_daemon_t *fd)
{
    if (!fd->d)
        return;
    size_t open = 0, held = 0;
    for (size_t i = 0; i < fd->ntargets; i++) {
        target_t *t = fd->targets[i];
        if (!t->policy)
            continue;
        fl_state_t s = fl_policy_state(t->policy);
        open += s != FL_ST_IDLE;
        held += s == FL_ST_GAVE_UP || s == FL_ST_HELD || s == FL_ST_CONFIG;
    }
    hlb_buf_t b = {0};
    hlb_buf_printf(&b, "recovery %s; %zu incident%s in progress, %zu waiting for a person",
                   fd->gate_open ? "enabled" : "paused", open, open == 1 ? "" : "s", held);
    if (!fd->status || strcmp(fd->status, b.data) != 0) { /* sd_notify only on change */
        hlb_daemon_status(fd->d, "%s", b.data);
        free(fd->status);
        fd->status = hlb_buf_steal(&b);
    }
    hlb_buf_free(&b);
}

/* The orchestrator's state as we trust it: "unreachable" when its ctl socket
 * is silent, else its last lifecycle.state, else DFLT. */
const char *fl_lc_word(const fl_daemon_t *fd, const char *dflt)
{
    if (fd->orch_unreachable)
        return "unreachable";
    return fd->lifecycle ? fd->lifecycle : dflt;
}

static bool state_opens(const fl_config_t *c, const char *state)
{
    for (size_t i = 0; state && c->recover_in && c->recover_in[i]; i++)
        if (strcmp(c->recover_in[i], state) == 0)
            return true;
    return false;
}

void fl_set_gate(fl_daemon_t *fd)
{
    bool open = fd->orch_unreachable ? false
                : fd->lifecycle       ? state_opens(fd->cfg, fd->lifecycle)
                                      : !fd->cfg->require_lifecycle;
    if (open == fd->gate_open)
        return;
    fd->gate_open = open;
    uint64_t now = hlb_mono_ms();
    if (open)
        hlb_info("recovery enabled: the orchestrator is %s", fl_lc_word(fd, "not required"));
    else
        hlb_info("recovery paused: the orchestrator is %s", fl_lc_word(fd, "not seen yet"));
    for (size_t i = 0; i < fd->ntargets; i++) {
        target_t *t = fd->targets[i];
        if (!t->policy)
            continue;
        fl_policy_gate(t->policy, open, now);
        fl_flush(t);
    }
    /* what failed while it was closed is still failing: act on it now */
    if (open)
        fl_detect_reassert(fd->det, NULL, now);
    fl_status_line(fd);
    fl_reschedule(fd);
}
