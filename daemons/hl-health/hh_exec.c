/* Exec probes: argv run without a shell, in a process group of its own, with
 * stdout+stderr captured (first HH_OUTPUT_MAX bytes) and exit 0/1/2 read as
 * healthy/degraded/unhealthy, as the spec's hl-health-check does.
 *
 * The child is watched through a pidfd, so the daemon needs no SIGCHLD
 * handler and never reaps anyone else's children. On timeout, and also after
 * a normal exit, the whole process group gets SIGKILL: a check must not leave
 * helpers behind. The group is killed before the leader is reaped, while its
 * zombie still pins the group id, so the kill cannot hit a recycled id.
 * (A child that calls setsid() leaves the group; systemd's cgroup still
 * holds it and KillMode=control-group ends it with the daemon.) */
#include "hh_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

typedef struct {
    hh_probe_t base;
    pid_t pid;
    int pidfd;
    int outfd;
    hlb_timer_t timer;
    int64_t timeout_ms;
    bool timed_out;
    hh_out_t out;
    char **envp; /* built once */
} exec_probe_t;

static void close_out(exec_probe_t *x)
{
    if (x->outfd >= 0) {
        hlb_reactor_unwatch(x->base.env.io, x->outfd);
        close(x->outfd);
        x->outfd = -1;
    }
}

static void drain(exec_probe_t *x)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(x->outfd, buf, sizeof buf);
        if (n > 0) {
            hh_out_add(&x->out, buf, (size_t)n);
            continue;
        }
        if (n == 0)
            close_out(x); /* EOF: every writer is gone */
        else if (errno == EINTR)
            continue;
        return;
    }
}

static void on_output(hlb_reactor_t *io, int fd, uint32_t events, void *arg)
{
    drain(arg);
}

/* Kills the group and reaps the leader; returns its wait status. */
static int kill_and_reap(exec_probe_t *x, bool block)
{
    int status = 0;
    kill(-x->pid, SIGKILL);
    if (waitpid(x->pid, &status, block ? 0 : WNOHANG) <= 0 && !block)
        waitpid(x->pid, &status, 0); /* the leader is a zombie already: no wait */
    hlb_reactor_unwatch(x->base.env.io, x->pidfd);
    close(x->pidfd);
    x->pidfd = -1;
    x->pid = 0;
    return status;
}

static void on_exit_ready(hlb_reactor_t *io, int fd, uint32_t events, void *arg)
{
    exec_probe_t *x = arg;
    hlb_timer_stop(io, &x->timer);
    if (x->outfd >= 0)
        drain(x);
    int status = kill_and_reap(x, false);
    close_out(x); /* leftover writers were just killed; what they had not written is lost */
    hh_result_t r = HH_FAIL;
    char *detail;
    if (x->timed_out) {
        detail = hh_strdup_printf("timed out after %lld ms; process group killed",
                                  (long long)x->timeout_ms);
    } else if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        r = code == 0 ? HH_PASS : code == 1 ? HH_WARN : HH_FAIL;
        detail = hh_strdup_printf("exit %d", code);
    } else if (WIFSIGNALED(status)) {
        detail = hh_strdup_printf("killed by signal %d (%s)", WTERMSIG(status),
                                  strsignal(WTERMSIG(status)));
    } else {
        detail = hh_strdup_printf("ended with wait status %d", status);
    }
    hh_probe_finish(&x->base, r, detail ? detail : "exited", x->out.data, x->out.len);
    free(detail);
}

static void on_timeout(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    exec_probe_t *x = arg;
    x->timed_out = true;
    /* The pidfd turns readable once the leader is dead; on_exit_ready finishes. */
    kill(-x->pid, SIGKILL);
}

static void on_spawn_failed(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    exec_probe_t *x = arg;
    char *d = hh_strdup_printf("cannot run %s: %s", x->base.spec->u.exec.argv[0],
                               strerror((int)x->timeout_ms));
    hh_probe_finish(&x->base, HH_FAIL, d ? d : "cannot run", NULL, 0);
    free(d);
}

static int exec_start(hh_probe_t *p, int64_t timeout_ms)
{
    exec_probe_t *x = (exec_probe_t *)p;
    hh_out_reset(&x->out);
    x->timed_out = false;
    x->timeout_ms = timeout_ms;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    /* Nothing of the daemon (bus sockets, curl connections) leaks into a check. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
    pid_t pid;
    int rc = posix_spawn(&pid, p->spec->u.exec.argv[0], &fa, &at, p->spec->u.exec.argv, x->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        /* Not being able to run the check is the check's failure, reported
         * like any other result (from a timer: never inside start). */
        x->timeout_ms = rc;
        hlb_timer_init(&x->timer, on_spawn_failed, x);
        hlb_timer_after_ms(p->env.io, &x->timer, 0);
        return 0;
    }
    x->pid = pid;
    x->outfd = pfd[0];
    x->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (x->pidfd < 0) {
        int e = errno;
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close_out(x);
        x->pid = 0;
        return -e;
    }
    fcntl(x->pidfd, F_SETFD, FD_CLOEXEC);
    hlb_reactor_watch(p->env.io, x->outfd, EPOLLIN, on_output, x);
    hlb_reactor_watch(p->env.io, x->pidfd, EPOLLIN, on_exit_ready, x);
    hlb_timer_init(&x->timer, on_timeout, x);
    hlb_timer_after_ms(p->env.io, &x->timer, timeout_ms);
    return 0;
}

static void exec_cancel(hh_probe_t *p)
{
    exec_probe_t *x = (exec_probe_t *)p;
    hlb_timer_stop(p->env.io, &x->timer);
    if (x->pid > 0)
        kill_and_reap(x, true);
    close_out(x);
}

static void exec_destroy(hh_probe_t *p)
{
    exec_probe_t *x = (exec_probe_t *)p;
    for (char **e = x->envp; e && *e; e++)
        free(*e);
    free(x->envp);
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
    x->pidfd = -1;
    x->outfd = -1;
    /* A fixed, small environment: checks behave the same whatever the
     * daemon's environment holds, and see no secrets from it. */
    size_t n = 0;
    for (char **e = s->env; e && *e; e++)
        n++;
    x->envp = calloc(n + 4, sizeof *x->envp);
    if (!x->envp)
        goto fail;
    size_t i = 0;
    x->envp[i++] = strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    x->envp[i++] = hh_strdup_printf("HL_CHECK=%s", spec->name ? spec->name : "");
    x->envp[i++] = hh_strdup_printf("HL_SERVICE=%s", spec->service ? spec->service : "");
    for (char **e = s->env; e && *e; e++)
        x->envp[i++] = strdup(*e);
    for (size_t j = 0; j < i; j++)
        if (!x->envp[j])
            goto fail;
    return &x->base;
fail:
    exec_destroy(&x->base);
    return NULL;
}
