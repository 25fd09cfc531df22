/* The process runner on the reactor: see proc.h. */
#include "hlbus/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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

#include "hlbus/clock.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

extern char **environ;

struct hlb_proc {
    hlb_proc_t *next; /* every process not yet finished */
    hlb_reactor_t *io;
    pid_t pid;
    int pidfd, outfd;
    hlb_timer_t timer; /* the deadline, or the delivery of a failed start */
    int timeout_ms;
    int error;
    const char *error_what; /* the step that failed; NULL: the start */
    bool timed_out;
    bool keep_tail;
    char *out; /* OUTPUT_MAX + 1 bytes */
    size_t outlen, outmax;
    uint64_t dropped;
    uint64_t started_us;
    hlb_proc_fn *fn;
    void *arg;
};

static hlb_proc_t *live;
static int nlive;

int hlb_proc_running(void) { return nlive; }

bool hlb_proc_ok(const hlb_proc_result_t *r)
{
    return !r->error && !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

void hlb_proc_describe(const hlb_proc_result_t *r, char *buf, size_t n)
{
    if (r->error)
        snprintf(buf, n, "cannot %s: %s", r->error_what ? r->error_what : "start",
                 strerror(-r->error));
    else if (r->timed_out)
        snprintf(buf, n, "timed out after %d ms; process group killed", r->timeout_ms);
    else if (WIFEXITED(r->status))
        snprintf(buf, n, "exit %d", WEXITSTATUS(r->status));
    else if (WIFSIGNALED(r->status))
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(r->status),
                 strsignal(WTERMSIG(r->status)));
    else
        snprintf(buf, n, "ended with wait status 0x%x", r->status);
}

/* Keeps the first or the last OUTMAX bytes of what the command writes. */
static void keep(hlb_proc_t *p, const char *data, size_t n)
{
    if (!p->keep_tail) {
        size_t room = p->outmax - p->outlen, take = n < room ? n : room;
        memcpy(p->out + p->outlen, data, take);
        p->outlen += take;
        p->dropped += n - take;
        return;
    }
    if (n >= p->outmax) {
        p->dropped += p->outlen + (n - p->outmax);
        memcpy(p->out, data + (n - p->outmax), p->outmax);
        p->outlen = p->outmax;
        return;
    }
    if (p->outlen + n > p->outmax) {
        size_t shift = p->outlen + n - p->outmax;
        memmove(p->out, p->out + shift, p->outlen - shift);
        p->outlen -= shift;
        p->dropped += shift;
    }
    memcpy(p->out + p->outlen, data, n);
    p->outlen += n;
}

static void close_out(hlb_proc_t *p)
{
    if (p->outfd >= 0) {
        hlb_reactor_unwatch(p->io, p->outfd);
        close(p->outfd);
        p->outfd = -1;
    }
}

static void drain(hlb_proc_t *p)
{
    char buf[4096];
    while (p->outfd >= 0) {
        ssize_t n = read(p->outfd, buf, sizeof buf);
        if (n > 0)
            keep(p, buf, (size_t)n);
        else if (n == 0)
            close_out(p); /* every writer is gone */
        else if (errno != EINTR)
            return;
    }
}

static void on_output(hlb_reactor_t *io, int fd, uint32_t events, void *arg) { drain(arg); }

/* Kills the group, reaps the leader (a zombie already unless BLOCK), and
 * forgets the pidfd; the wait status. */
static int kill_and_reap(hlb_proc_t *p, bool block)
{
    int status = 0;
    kill(-p->pid, SIGKILL);
    if (waitpid(p->pid, &status, block ? 0 : WNOHANG) <= 0 && !block)
        waitpid(p->pid, &status, 0);
    if (p->pidfd >= 0) {
        hlb_reactor_unwatch(p->io, p->pidfd);
        close(p->pidfd);
        p->pidfd = -1;
    }
    p->pid = 0;
    return status;
}

static void unlink_proc(hlb_proc_t *p)
{
    for (hlb_proc_t **q = &live; *q; q = &(*q)->next)
        if (*q == p) {
            *q = p->next;
            nlive--;
            return;
        }
}

static void proc_free(hlb_proc_t *p)
{
    unlink_proc(p);
    hlb_timer_stop(p->io, &p->timer);
    close_out(p);
    free(p->out);
    free(p);
}

static void deliver(hlb_proc_t *p, int status)
{
    p->out[p->outlen] = '\0';
    hlb_proc_result_t r = {.status = status, .error = p->error,
                           .error_what = p->error_what ? p->error_what : "start",
                           .timed_out = p->timed_out,
                           .output = p->out, .output_len = p->outlen,
                           .output_dropped = p->dropped,
                           .duration_us = hlb_mono_us() - p->started_us,
                           .timeout_ms = p->timeout_ms};
    unlink_proc(p); /* finished: a shutdown from inside the callback skips it */
    if (p->fn)
        p->fn(&r, p->arg);
    proc_free(p);
}

static void on_exit_ready(hlb_reactor_t *io, int fd, uint32_t events, void *arg)
{
    hlb_proc_t *p = arg;
    hlb_timer_stop(io, &p->timer);
    drain(p);
    int status = kill_and_reap(p, false);
    close_out(p); /* leftover writers were just killed */
    deliver(p, status);
}

static void on_timer(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    hlb_proc_t *p = arg;
    if (p->error) { /* could not start: reported from the loop */
        deliver(p, 0);
        return;
    }
    /* the deadline: the pidfd says when the leader is gone */
    p->timed_out = true;
    kill(-p->pid, SIGKILL);
}

/* What failed in the child before its exec, for the result's error_what. */
static const char *const child_steps[] = {"set up the process", "switch to the user",
                                          "drop capabilities", "run the program"};
enum { STEP_SETUP, STEP_USER, STEP_CAPS, STEP_EXEC };

/* After fork, as another user: only async-signal-safe calls. ERRW (close-
 * on-exec, so a successful exec says nothing) gets the step and errno of
 * what failed. */
static void child_as_user(const hlb_proc_opts_t *o, int outw, int errw, char *const *envp)
{
    int step = STEP_SETUP;
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int devnull = open("/dev/null", O_RDONLY);
    if (setpgid(0, 0) < 0 || devnull < 0 || dup2(devnull, 0) < 0 || dup2(outw, 1) < 0 ||
        dup2(outw, 2) < 0)
        goto fail;
    /* the error pipe moves to 3, everything above it goes */
    if (errw != 3 && dup3(errw, 3, O_CLOEXEC) < 0)
        goto fail;
    errw = 3;
    closefrom(4);
    /* The groups first (setgid needs the privilege the uid switch drops),
     * then the uid; then no capability survives the execve(). */
    step = STEP_USER;
    if (setgroups(0, NULL) < 0 || setresgid(o->gid, o->gid, o->gid) < 0 ||
        setresuid(o->uid, o->uid, o->uid) < 0)
        goto fail;
    if (getuid() != o->uid || geteuid() != o->uid) {
        errno = EPERM;
        goto fail;
    }
    step = STEP_CAPS;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        goto fail;
    step = STEP_EXEC;
    execve(o->argv[0], o->argv, envp);
fail:;
    int msg[2] = {step, errno};
    if (write(errw, msg, sizeof msg) < 0) {
        /* nothing more to say */
    }
    _exit(127);
}

static int spawn_as_user(hlb_proc_t *p, const hlb_proc_opts_t *o, int outw, char *const *envp)
{
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(ep[0]);
        close(ep[1]);
        return -e;
    }
    if (pid == 0)
        child_as_user(o, outw, ep[1], envp);
    /* As POSIX_SPAWN_SETPGROUP does, from both sides: no race with a kill. */
    setpgid(pid, pid);
    close(ep[1]);
    int msg[2] = {0, 0};
    ssize_t n;
    do
        n = read(ep[0], msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    close(ep[0]);
    if (n == (ssize_t)sizeof msg) { /* the child failed before exec */
        waitpid(pid, NULL, 0);
        if (msg[0] >= 0 && msg[0] < (int)(sizeof child_steps / sizeof *child_steps))
            p->error_what = child_steps[msg[0]];
        return msg[1] ? -msg[1] : -EPERM;
    }
    p->pid = pid;
    return 0;
}

static int spawn_plain(hlb_proc_t *p, const hlb_proc_opts_t *o, int outw, char *const *envp)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outw, 1);
    posix_spawn_file_actions_adddup2(&fa, outw, 2);
    /* Nothing of the daemon (bus sockets, connections) leaks into a command. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* The daemon blocks SIGTERM/SIGINT/SIGHUP for its signalfd and ignores
     * SIGPIPE; the command gets the defaults back. */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
    int rc = posix_spawn(&p->pid, o->argv[0], &fa, &at, o->argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return -rc;
}

static int spawn(hlb_proc_t *p, const hlb_proc_opts_t *o)
{
    if (!o->argv[0] || o->argv[0][0] != '/')
        return -EINVAL;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    char *const *envp = o->envp ? o->envp : environ;
    int rc = o->uid == HLB_PROC_SAME_USER ? spawn_plain(p, o, pfd[1], envp)
                                          : spawn_as_user(p, o, pfd[1], envp);
    close(pfd[1]);
    if (rc < 0) {
        close(pfd[0]);
        return rc;
    }
    p->outfd = pfd[0];
    /* The child is not reaped before we waitpid, so its pid cannot be reused
     * between the spawn and this. */
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    if (p->pidfd < 0) {
        rc = -errno;
        kill_and_reap(p, true);
        close_out(p);
        return rc;
    }
    fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
    if (hlb_reactor_watch(p->io, p->outfd, EPOLLIN, on_output, p) < 0 ||
        hlb_reactor_watch(p->io, p->pidfd, EPOLLIN, on_exit_ready, p) < 0) {
        kill_and_reap(p, true);
        close_out(p);
        return -ENOMEM;
    }
    return 0;
}

hlb_proc_t *hlb_proc_start(hlb_reactor_t *io, const hlb_proc_opts_t *o, hlb_proc_fn *fn,
                           void *arg)
{
    if (!io || !o || !o->argv)
        return NULL;
    hlb_proc_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->outmax = o->output_max ? o->output_max : HLB_PROC_OUTPUT_MAX;
    p->out = malloc(p->outmax + 1);
    if (!p->out) {
        free(p);
        return NULL;
    }
    p->io = io;
    p->pidfd = p->outfd = -1;
    p->keep_tail = o->keep_tail;
    p->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    p->fn = fn;
    p->arg = arg;
    p->started_us = hlb_mono_us();
    p->next = live;
    live = p;
    nlive++;
    hlb_timer_init(&p->timer, on_timer, p);
    int rc = spawn(p, o);
    if (rc < 0) {
        p->error = rc;
        hlb_timer_after_ms(io, &p->timer, 0);
        return p;
    }
    hlb_timer_after_ms(io, &p->timer, p->timeout_ms);
    return p;
}

void hlb_proc_cancel(hlb_proc_t **pp)
{
    if (!pp || !*pp)
        return;
    hlb_proc_t *p = *pp;
    *pp = NULL;
    if (p->pid > 0)
        kill_and_reap(p, true);
    proc_free(p);
}

void hlb_proc_shutdown(void)
{
    while (live) {
        hlb_proc_t *p = live;
        hlb_proc_cancel(&p);
    }
}
