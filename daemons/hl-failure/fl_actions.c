/* hl-failure: running a recovery action (a request to the orchestrator, or
 * a command) and feeding its outcome back to the policy. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/acall.h>
#include <hlbus/clock.h>
#include <hlbus/proc.h>

#include "fl_daemon.h"

/* ---- actions ---- */

static void action_done(target_t *t, bool ok, const char *detail)
{
    fl_daemon_t *fd = t->fd;
    const char *action = t->action ? t->action : "?";
    double secs = (double)(hlb_now_us() - t->action_started_us) / 1e6;
    fl_incident_t *in = fl_incident_of(t);
    int attempt = t->policy ? fl_policy_attempts(t->policy) : 0;
    if (ok) {
        fl_incident_add(in, hlb_now_us(), "succeeded", "%s done in %.1f s%s%s", action, secs,
                        detail && *detail ? ": " : "", detail ? detail : "");
        hlb_map_t *m = fl_log_fields(t, action, attempt);
        hlb_log_fields(LOG_INFO, m, "%s of %s done in %.1f s", action, t->name, secs);
        hlb_map_destroy(&m);
    } else {
        fl_incident_add(in, hlb_now_us(), "failed", "%s failed after %.1f s: %s", action, secs,
                        detail ? detail : "unknown error");
        hlb_map_t *m = fl_log_fields(t, action, attempt);
        hlb_log_fields(LOG_WARNING, m, "%s of %s failed: %s", action, t->name,
                       detail ? detail : "unknown error");
        hlb_map_destroy(&m);
    }
    fl_publish_step(t, ok ? "succeeded" : "failed", action, attempt, detail, 0, 0);
    t->action = NULL;
    /* the network command worked: look again now instead of at the next
     * interval, so that the verification does not wait for it */
    if (ok && t->kind == T_NETWORK)
        fl_checks_run_now(fd, FL_FT_NETWORK);
    if (!t->policy)
        return;
    /* Verification is a transition to healthy seen after the action began
     * (while it ran, or after): a "healthy" left over from before it proves
     * nothing. */
    fl_policy_feed(t->policy, ok ? FL_EV_ACT_OK : FL_EV_ACT_FAILED,
                   &(fl_input_t){.detail = ok ? "healthy again after the action" : detail},
                   hlb_mono_ms());
    fl_flush(t);
    fl_reschedule(fd);
}

static void on_call_done(int rc, const Hl__Reply *r, void *arg)
{
    target_t *t = arg;
    t->call = NULL;
    char buf[512];
    bool ok = rc == 0 && r && r->status == 0;
    if (rc < 0) {
        snprintf(buf, sizeof buf, "%s did not answer: %s", t->fd->cfg->orchestrator,
                 strerror(-rc));
        fl_liveness_probe_now(t->fd->live);
    }
    else if (!ok)
        snprintf(buf, sizeof buf, "%s", r->error && *r->error ? r->error : "refused");
    else
        buf[0] = '\0';
    action_done(t, ok, buf);
}

/* How a command ended, and the first line of the last of its output (which
 * says most), at most 400 bytes of it. */
void fl_cmd_summary(const hlb_proc_result_t *r, char *buf, size_t size)
{
    char how[96];
    hlb_proc_describe(r, how, sizeof how);
    const char *out = r->output ? r->output : "";
    out += strspn(out, "\r\n ");
    size_t n = strcspn(out, "\r\n");
    snprintf(buf, size, "%s%s%.*s", how, n ? ": " : "", (int)(n > 400 ? 400 : n), out);
}

/* The runner's options for hl-failure's commands: the tail of the output. */
hlb_proc_opts_t fl_cmd_opts(char *const *argv, int64_t timeout_ms)
{
    hlb_proc_opts_t o = HLB_PROC_OPTS_INIT;
    o.argv = argv;
    o.timeout_ms = (int)timeout_ms;
    o.keep_tail = true;
    return o;
}

static void on_cmd_done(const hlb_proc_result_t *r, void *arg)
{
    target_t *t = arg;
    t->cmd = NULL;
    char buf[640];
    fl_cmd_summary(r, buf, sizeof buf);
    action_done(t, hlb_proc_ok(r), buf);
}

void fl_action_start(target_t *t, const char *action, int attempt)
{
    fl_daemon_t *fd = t->fd;
    t->action = action;
    t->action_started_us = hlb_now_us();
    fd->actions++;
    fl_incident_t *in = fl_incident_of(t);
    if (t->kind == T_SERVICE) {
        hlb_map_t *args = hlb_map_new();
        hlb_map_str(args, "unit", t->unit ? t->unit : t->name);
        hlb_map_str(args, "type", action);
        hlb_buf_t reason = {0};
        hlb_buf_printf(&reason, "hl-failure incident #%" PRIu64 ", attempt %d: %s", t->incident,
                       attempt, in ? in->evidence : "");
        hlb_map_str(args, "reason", reason.data);
        hlb_buf_free(&reason);
        size_t len;
        const void *body = hlb_map_data(args, &len);
        hlb_acall_opts_t o = {.timeout_ms = (int)fd->cfg->action_timeout_ms, .attempts = 1,
                              .connect_wait_ms = 5000};
        t->call = hlb_daemon_call(fd->d, fd->cfg->orchestrator, fd->cfg->recover_method,
                                  HLB_TYPE_MSGPACK, body, len, &o, on_call_done, t);
        hlb_map_destroy(&args);
        if (!t->call)
            action_done(t, false, "cannot send the request (out of memory?)");
        return;
    }
    char *const *argv = t->kind == T_NETWORK ? fd->cfg->network_command : t->command;
    hlb_proc_opts_t o = fl_cmd_opts(argv, fd->cfg->command_timeout_ms);
    t->cmd = hlb_proc_start(hlb_daemon_reactor(fd->d), &o, on_cmd_done, t);
    if (!t->cmd)
        action_done(t, false, "cannot start the command (out of memory)");
}

void fl_on_stop_done(int rc, const Hl__Reply *r, void *arg)
{
    target_t *t = arg;
    t->stop_call = NULL;
    bool ok = rc == 0 && r && r->status == 0;
    fl_incident_add(fl_incident_of(t), hlb_now_us(), "loop-stopped", "%s",
                    ok ? "stopped the unit: systemd was restarting it into the same error"
                       : rc < 0 ? strerror(-rc) : (r->error ? r->error : "refused"));
    fl_publish_step(t, "loop-stopped", "stop", 0, ok ? "unit stopped" : "stop failed", 0, 0);
}
