/* Commands run from the loop: posix_spawn, pidfd, memfd. */
#include "fl_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <hlbus/codec.h>

extern char **environ;

struct fl_cmd {
    fl_cmd_t *next;
    zloop_t *loop;
    pid_t pid;
    int pidfd;
    int outfd;          /* memfd with stdout and stderr */
    zmq_pollitem_t item;
    bool polled;
    int timer;          /* deadline or early-failure delivery; -1 none */
    int timeout_ms;
    int error;          /* could not start */
    bool timed_out, cancelled;
    uint64_t started_us;
    fl_cmd_fn *fn;
    void *arg;
};

static fl_cmd_t *live; /* every command not yet reaped */
static int nlive;

int fl_cmd_running(void) { return nlive; }

static void unlink_cmd(fl_cmd_t *c)
{
    for (fl_cmd_t **p = &live; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            nlive--;
            return;
        }
}

static void cmd_free(fl_cmd_t *c)
{
    unlink_cmd(c);
    if (c->timer >= 0)
        zloop_timer_end(c->loop, c->timer);
    if (c->polled)
        zloop_poller_end(c->loop, &c->item);
    if (c->pidfd >= 0)
        close(c->pidfd);
    if (c->outfd >= 0)
        close(c->outfd);
    free(c);
}

bool fl_cmd_ok(const fl_cmd_result_t *r)
{
    return !r->error && !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

void fl_cmd_describe(const fl_cmd_result_t *r, char *buf, size_t n)
{
    if (r->error)
        snprintf(buf, n, "cannot start: %s", strerror(-r->error));
    else if (r->timed_out)
        snprintf(buf, n, "timed out, killed");
    else if (WIFEXITED(r->status))
        snprintf(buf, n, "exit %d", WEXITSTATUS(r->status));
    else if (WIFSIGNALED(r->status))
        snprintf(buf, n, "killed by signal %d", WTERMSIG(r->status));
    else
        snprintf(buf, n, "ended (status 0x%x)", r->status);
}

/* The tail of what the command wrote, trimmed of trailing blank lines. */
static void read_output(int fd, char *buf, size_t cap)
{
    buf[0] = '\0';
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0)
        return;
    off_t from = size > (off_t)(cap - 1) ? size - (off_t)(cap - 1) : 0;
    ssize_t n = pread(fd, buf, (size_t)(size - from), from);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    for (ssize_t i = 0; i < n; i++) /* keep it one printable block */
        if (buf[i] == '\0')
            buf[i] = ' ';
}

static void deliver(fl_cmd_t *c, int status)
{
    char out[FL_CMD_OUTPUT_MAX + 1];
    if (c->outfd >= 0)
        read_output(c->outfd, out, sizeof out);
    else
        out[0] = '\0';
    fl_cmd_result_t r = {.status = status, .error = c->error, .timed_out = c->timed_out,
                         .output = out, .duration_us = hlb_mono_us() - c->started_us};
    if (!c->cancelled && c->fn)
        c->fn(&r, c->arg);
}

static int on_exit_fd(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    fl_cmd_t *c = arg;
    int st = 0;
    pid_t p = waitpid(c->pid, &st, WNOHANG);
    if (p == 0)
        return 0; /* spurious */
    /* in our own poller handler: zloop ends the round after us */
    zloop_poller_end(c->loop, &c->item);
    c->polled = false;
    deliver(c, p == c->pid ? st : 0);
    cmd_free(c);
    return 0;
}

static int on_timer(zloop_t *loop, int timer_id, void *arg)
{
    fl_cmd_t *c = arg;
    c->timer = -1;
    if (c->error) { /* could not start: report from the loop */
        deliver(c, 0);
        cmd_free(c);
        return 0;
    }
    /* the deadline: kill the group; the pidfd says when it is gone */
    c->timed_out = true;
    kill(-c->pid, SIGKILL);
    return 0;
}

static int spawn(fl_cmd_t *c, char *const argv[])
{
    if (!argv || !argv[0] || argv[0][0] != '/')
        return -EINVAL;
    c->outfd = memfd_create("hl-failure-cmd", MFD_CLOEXEC);
    if (c->outfd < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, c->outfd, 1);
    posix_spawn_file_actions_adddup2(&fa, c->outfd, 2);
    /* The daemon blocks SIGTERM/SIGINT/SIGHUP for its signalfd and ignores
     * SIGPIPE; the command gets the defaults back, and a group of its own
     * so that a deadline kills its children too. */
    sigset_t none, defs;
    sigemptyset(&none);
    sigemptyset(&defs);
    sigaddset(&defs, SIGPIPE);
    sigaddset(&defs, SIGTERM);
    sigaddset(&defs, SIGINT);
    sigaddset(&defs, SIGHUP);
    sigaddset(&defs, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &defs);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawn(&c->pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        return -rc;
    /* The child is not reaped before we waitpid, so its pid cannot be reused
     * between the spawn and this. */
    c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
    if (c->pidfd < 0) {
        rc = -errno;
        kill(-c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        c->pid = 0;
        return rc;
    }
    fcntl(c->pidfd, F_SETFD, FD_CLOEXEC);
    return 0;
}

fl_cmd_t *fl_cmd_start(zloop_t *loop, char *const argv[], int timeout_ms, fl_cmd_fn *fn,
                       void *arg)
{
    fl_cmd_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->pidfd = c->outfd = c->timer = -1;
    c->fn = fn;
    c->arg = arg;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    c->started_us = hlb_mono_us();
    c->next = live;
    live = c;
    nlive++;
    int rc = spawn(c, argv);
    if (rc < 0) {
        c->error = rc;
        c->timer = zloop_timer(loop, 0, 1, on_timer, c);
        return c;
    }
    c->item = (zmq_pollitem_t){.fd = c->pidfd, .events = ZMQ_POLLIN};
    if (zloop_poller(loop, &c->item, on_exit_fd, c) < 0) {
        kill(-c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        c->error = -ENOMEM;
        c->timer = zloop_timer(loop, 0, 1, on_timer, c);
        return c;
    }
    c->polled = true;
    c->timer = zloop_timer(loop, (size_t)c->timeout_ms, 1, on_timer, c);
    return c;
}

void fl_cmd_cancel(fl_cmd_t **c_p)
{
    if (!c_p || !*c_p)
        return;
    fl_cmd_t *c = *c_p;
    *c_p = NULL;
    c->cancelled = true;
    if (c->error) /* never started: its delivery timer frees it */
        return;
    kill(-c->pid, SIGKILL); /* reaped, and freed, by its pidfd handler */
}

void fl_cmd_shutdown(void)
{
    while (live) {
        fl_cmd_t *c = live;
        if (!c->error && c->pid > 0) {
            kill(-c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
        }
        c->cancelled = true;
        cmd_free(c);
    }
}
