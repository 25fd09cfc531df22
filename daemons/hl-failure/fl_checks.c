/* hl-failure: the active checks (commands run on an interval, e.g. the
 * network check) whose results go to the detector. */
#include <stdlib.h>

#include <hlbus/clock.h>
#include <hlbus/proc.h>

#include "fl_daemon.h"

/* ---- active checks ---- */

static int on_check_timer(zloop_t *loop, int timer_id, void *arg);

static void on_check_done(const hlb_proc_result_t *r, void *arg)
{
    check_run_t *cr = arg;
    cr->cmd = NULL;
    char buf[600];
    fl_cmd_summary(r, buf, sizeof buf);
    fl_detect_check(cr->fd->det, cr->k, hlb_proc_ok(r), buf, hlb_mono_ms());
    fl_reschedule(cr->fd);
}

static void check_start(check_run_t *cr)
{
    if (cr->cmd) /* still running: a slow check does not pile up */
        return;
    hlb_proc_opts_t o = fl_cmd_opts(cr->k->argv, cr->k->timeout_ms);
    cr->cmd = hlb_proc_start(hlb_daemon_reactor(cr->fd->d), &o, on_check_done, cr);
}

static int on_check_timer(zloop_t *loop, int timer_id, void *arg)
{
    check_start(arg);
    return 0;
}

void fl_checks_stop(fl_daemon_t *fd)
{
    for (size_t i = 0; i < fd->nchecks; i++) {
        if (fd->checks[i].timer >= 0)
            zloop_timer_end(fd->loop, fd->checks[i].timer);
        hlb_proc_cancel(&fd->checks[i].cmd);
    }
    free(fd->checks);
    fd->checks = NULL;
    fd->nchecks = 0;
}

void fl_checks_start(fl_daemon_t *fd)
{
    fd->checks = calloc(fd->cfg->nchecks ? fd->cfg->nchecks : 1, sizeof *fd->checks);
    if (!fd->checks)
        return;
    fd->nchecks = fd->cfg->nchecks;
    for (size_t i = 0; i < fd->nchecks; i++) {
        check_run_t *cr = &fd->checks[i];
        cr->k = &fd->cfg->checks[i];
        cr->fd = fd;
        cr->timer = zloop_timer(fd->loop, (size_t)cr->k->interval_ms, 0, on_check_timer, cr);
        check_start(cr); /* a first result at once */
    }
}

void fl_checks_run_now(fl_daemon_t *fd, fl_ftype_t type)
{
    for (size_t i = 0; i < fd->nchecks; i++)
        if (fd->checks[i].k->type == type)
            check_start(&fd->checks[i]);
}
