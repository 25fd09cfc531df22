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
 * holds it and KillMode=control-group ends it with the daemon.)
 *
 * A check with a user (exec_user, by default hl-check in the shipped config)
 * is started with fork(), not posix_spawn(): the child takes the user's uid
 * and primary group, no supplementary groups, and clears its ambient
 * capabilities before execve(), so the check runs with none of hl-health's
 * groups (hl may publish and call ctl sockets) nor its CAP_SETUID/CAP_SETGID
 * (the unit grants them for this switch only, under NoNewPrivileges=). */
#include "hh_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
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
    hh_timer_t timer;
    int64_t timeout_ms;
    bool timed_out;
    hh_out_t out;
    char **envp; /* built once */
    bool as_user; /* switch to uid/gid in the child */
    uid_t uid;
    gid_t gid;
} exec_probe_t;

static void close_out(exec_probe_t *x)
{
    if (x->outfd >= 0) {
        hh_io_unwatch(x->base.env.io, x->outfd);
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

static void on_output(hh_io_t *io, int fd, uint32_t events, void *arg)
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
    hh_io_unwatch(x->base.env.io, x->pidfd);
    close(x->pidfd);
    x->pidfd = -1;
    x->pid = 0;
    return status;
}

static void on_exit_ready(hh_io_t *io, int fd, uint32_t events, void *arg)
{
    exec_probe_t *x = arg;
    hh_timer_stop(io, &x->timer);
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

static void on_timeout(hh_io_t *io, hh_timer_t *t, void *arg)
{
    exec_probe_t *x = arg;
    x->timed_out = true;
    /* The pidfd turns readable once the leader is dead; on_exit_ready finishes. */
    kill(-x->pid, SIGKILL);
}

static void on_spawn_failed(hh_io_t *io, hh_timer_t *t, void *arg)
{
    exec_probe_t *x = arg;
    char *d = hh_strdup_printf("cannot run %s: %s", x->base.spec->u.exec.argv[0],
                               strerror((int)x->timeout_ms));
    hh_probe_finish(&x->base, HH_FAIL, d ? d : "cannot run", NULL, 0);
    free(d);
}

/* The child's part of spawn_as_user: never returns. Only async-signal-safe
 * calls; a failure is written to the output pipe and ends the child with
 * 127 (the check reports it as its output). */
static void child_as_user(const exec_probe_t *x, int outfd)
{
    const char *why = NULL;
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (setpgid(0, 0) < 0 || nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(outfd, 1) < 0 ||
        dup2(outfd, 2) < 0) {
        why = "cannot set up the check's process: ";
        goto fail;
    }
    /* The groups first (setgid needs the privilege the uid switch drops),
     * then the uid; then no capability survives the execve(). */
    if (setgroups(0, NULL) < 0 || setresgid(x->gid, x->gid, x->gid) < 0 ||
        setresuid(x->uid, x->uid, x->uid) < 0) {
        why = "cannot switch to the check's user (hl-health needs CAP_SETUID and "
              "CAP_SETGID for exec_user): ";
        goto fail;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
        why = "cannot drop capabilities: ";
        goto fail;
    }
    if (getuid() != x->uid || geteuid() != x->uid) {
        errno = EPERM;
        why = "the user switch did not take: ";
        goto fail;
    }
    close_range(3, ~0U, 0);
    execve(x->base.spec->u.exec.argv[0], x->base.spec->u.exec.argv, x->envp);
    why = "cannot run the check: ";
fail:;
    int e = errno;
    const char *msg = strerror(e);
    ssize_t ignored = write(2, why, strlen(why));
    ignored = write(2, msg, strlen(msg));
    ignored = write(2, "\n", 1);
    (void)ignored;
    _exit(127);
}

/* posix_spawn() cannot change the user: fork, switch, exec. 0 or an errno. */
static int spawn_as_user(const exec_probe_t *x, int outfd, pid_t *pid)
{
    pid_t child = fork();
    if (child < 0)
        return errno;
    if (child == 0)
        child_as_user(x, outfd);
    /* As POSIX_SPAWN_SETPGROUP does, from both sides: no race with a kill. */
    setpgid(child, child);
    *pid = child;
    return 0;
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
    int rc = x->as_user ? spawn_as_user(x, pfd[1], &pid)
                        : posix_spawn(&pid, p->spec->u.exec.argv[0], &fa, &at,
                                      p->spec->u.exec.argv, x->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        /* Not being able to run the check is the check's failure, reported
         * like any other result (from a timer: never inside start). */
        x->timeout_ms = rc;
        hh_timer_init(&x->timer, on_spawn_failed, x);
        hh_timer_after_ms(p->env.io, &x->timer, 0);
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
    hh_io_watch(p->env.io, x->outfd, EPOLLIN, on_output, x);
    hh_io_watch(p->env.io, x->pidfd, EPOLLIN, on_exit_ready, x);
    hh_timer_init(&x->timer, on_timeout, x);
    hh_timer_after_ms(p->env.io, &x->timer, timeout_ms);
    return 0;
}

static void exec_cancel(hh_probe_t *p)
{
    exec_probe_t *x = (exec_probe_t *)p;
    hh_timer_stop(p->env.io, &x->timer);
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
    if (s->user) {
        struct passwd pw, *pwp = NULL;
        char buf[4096];
        if (getpwnam_r(s->user, &pw, buf, sizeof buf, &pwp) != 0 || !pwp) {
            if (err)
                *err = hh_strdup_printf("exec check user '%s' does not exist", s->user);
            free(x);
            return NULL;
        }
        x->as_user = true;
        x->uid = pw.pw_uid;
        x->gid = pw.pw_gid;
    }
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
