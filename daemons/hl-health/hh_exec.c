/* Exec probes: argv run by the process runner (hlbus/proc.h: no shell, a
 * process group of its own that is killed at the deadline and after the
 * exit, output bounded) with the first HH_OUTPUT_MAX bytes of stdout+stderr
 * kept, and exit 0/1/2 read as healthy/degraded/unhealthy, as the spec's
 * hl-health-check does.
 *
 * A check with a user (exec_user, by default hl-check in the shipped config)
 * runs as that user: the runner forks, and the child takes the user's uid
 * and primary group, no supplementary groups, and clears its ambient
 * capabilities before execve(), so the check runs with none of hl-health's
 * groups (hl may publish and call ctl sockets) nor its CAP_SETUID/CAP_SETGID
 * (the unit grants them for this switch only, under NoNewPrivileges=). */
#include "hh_probe.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <hlbus/proc.h>
#include <hlbus/strv.h>

typedef struct {
    hh_probe_t base;
    hlb_proc_t *proc;
    char **envp; /* built once */
    bool as_user; /* run as uid/gid */
    uid_t uid;
    gid_t gid;
} exec_probe_t;

static void on_done(const hlb_proc_result_t *res, void *arg)
{
    exec_probe_t *x = arg;
    x->proc = NULL; /* finished: the runner frees it after this returns */
    hh_result_t r = HH_FAIL;
    char *detail;
    if (res->error) {
        /* not being able to run the check is the check's failure, said in
         * its output as the check itself would */
        char *out = x->as_user && strcmp(res->error_what, "switch to the user") == 0
                        ? hlb_strdupf("cannot switch to the check's user (hl-health needs "
                                      "CAP_SETUID and CAP_SETGID for exec_user): %s\n",
                                      strerror(-res->error))
                        : hlb_strdupf("cannot %s %s: %s\n", res->error_what,
                                      x->base.spec->u.exec.argv[0], strerror(-res->error));
        detail = hlb_strdupf("cannot run %s: %s", x->base.spec->u.exec.argv[0],
                             strerror(-res->error));
        hh_probe_finish(&x->base, HH_FAIL, detail ? detail : "cannot run", out ? out : "",
                        out ? strlen(out) : 0);
        free(out);
        free(detail);
        return;
    } else if (res->timed_out || !WIFEXITED(res->status)) {
        char how[128];
        hlb_proc_describe(res, how, sizeof how);
        detail = strdup(how);
    } else {
        int code = WEXITSTATUS(res->status);
        r = code == 0 ? HH_PASS : code == 1 ? HH_WARN : HH_FAIL;
        detail = hlb_strdupf("exit %d", code);
    }
    hh_probe_finish(&x->base, r, detail ? detail : "exited", res->output, res->output_len);
    free(detail);
}

static int exec_start(hh_probe_t *p, int64_t timeout_ms)
{
    exec_probe_t *x = (exec_probe_t *)p;
    hlb_proc_opts_t o = HLB_PROC_OPTS_INIT;
    o.argv = p->spec->u.exec.argv;
    o.envp = x->envp;
    o.timeout_ms = (int)timeout_ms;
    o.output_max = HH_OUTPUT_MAX;
    if (x->as_user) {
        o.uid = x->uid;
        o.gid = x->gid;
    }
    /* A start that fails (no such program) is reported through on_done, from
     * the loop: not being able to run the check is the check's failure. */
    x->proc = hlb_proc_start(p->env.io, &o, on_done, x);
    return x->proc ? 0 : -ENOMEM;
}

static void exec_cancel(hh_probe_t *p)
{
    exec_probe_t *x = (exec_probe_t *)p;
    hlb_proc_cancel(&x->proc);
}

static void exec_destroy(hh_probe_t *p)
{
    exec_probe_t *x = (exec_probe_t *)p;
    hlb_proc_cancel(&x->proc);
    hlb_strv_free(x->envp);
    free(x);
}

static const hh_probe_ops_t exec_ops = {exec_start, exec_cancel, exec_destroy};

hh_probe_t *hh_exec_probe_new(const hh_probe_env_t *env, const hh_check_spec_t *spec, char **err)
{
    const hh_exec_spec_t *s = &spec->u.exec;
    if (!s->argv || !s->argv[0] || s->argv[0][0] != '/') {
        if (err)
            *err = strdup("exec check needs argv with an absolute program path");
        return NULL;
    }
    exec_probe_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->base.ops = &exec_ops;
    if (s->user) {
        struct passwd pw, *pwp = NULL;
        char buf[4096];
        if (getpwnam_r(s->user, &pw, buf, sizeof buf, &pwp) != 0 || !pwp) {
            if (err)
                *err = hlb_strdupf("exec check user '%s' does not exist", s->user);
            free(x);
            return NULL;
        }
        x->as_user = true;
        x->uid = pw.pw_uid;
        x->gid = pw.pw_gid;
    }
    /* A fixed, small environment: checks behave the same whatever the
     * daemon's environment holds, and see no secrets from it. */
    char *path = strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    char *check = hlb_strdupf("HL_CHECK=%s", spec->name ? spec->name : "");
    char *service = hlb_strdupf("HL_SERVICE=%s", spec->service ? spec->service : "");
    bool ok = path && check && service && hlb_strv_push(&x->envp, path) == 0 &&
              hlb_strv_push(&x->envp, check) == 0 && hlb_strv_push(&x->envp, service) == 0;
    free(path);
    free(check);
    free(service);
    for (char **e = s->env; ok && e && *e; e++)
        ok = hlb_strv_push(&x->envp, *e) == 0;
    if (!ok) {
        exec_destroy(&x->base);
        return NULL;
    }
    return &x->base;
}
