/* Test helpers: start daemons with a private sd_notify socket and wait for
 * their READY=1 (an event, not a guess), stop them, and wait on conditions. */
#pragma once
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int notify_fd; /* our end of the child's NOTIFY_SOCKET */
    char notify_path[108];
} proc_t;

static inline long long proc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Starts ARGV with NOTIFY_SOCKET pointing at a datagram socket in DIR. */
static inline int proc_start(proc_t *p, const char *dir, char *const argv[])
{
    static int n;
    memset(p, 0, sizeof *p);
    snprintf(p->notify_path, sizeof p->notify_path, "%s/notify-%d-%d", dir, (int)getpid(), n++);
    unlink(p->notify_path);
    p->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, p->notify_path);
    if (p->notify_fd < 0 || bind(p->notify_fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -errno;
    p->pid = fork();
    if (p->pid < 0)
        return -errno;
    if (p->pid == 0) {
        setenv("NOTIFY_SOCKET", p->notify_path, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return 0;
}

/* Waits for a notify datagram containing WHAT (e.g. "READY=1"). */
static inline bool proc_wait_notify(proc_t *p, const char *what, int timeout_ms)
{
    long long deadline = proc_now_ms() + timeout_ms;
    char buf[4096];
    for (;;) {
        long long left = deadline - proc_now_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = p->notify_fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            return false;
        ssize_t n = recv(p->notify_fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        if (strstr(buf, what))
            return true;
    }
}

/* Sends SIG and reaps; returns the wait status. */
static inline int proc_stop(proc_t *p, int sig)
{
    int st = -1;
    if (p->pid > 0) {
        kill(p->pid, sig);
        waitpid(p->pid, &st, 0);
        p->pid = 0;
    }
    if (p->notify_fd > 0) {
        close(p->notify_fd);
        unlink(p->notify_path);
        p->notify_fd = -1;
    }
    return st;
}

/* Runs ARGV to completion, capturing up to N-1 bytes of stdout into OUT. */
static inline int proc_run(char *const argv[], char *out, size_t n)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < n && (r = read(pfd[0], out + len, n - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    char drain[256];
    while (read(pfd[0], drain, sizeof drain) > 0)
        ;
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
