/* The agent's terminal: see spawn.h. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int pty_resize(const pty_child_t *c, unsigned cols, unsigned rows)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    return ioctl(c->master, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int pty_exit_code(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return 1;
}

/* In the child: everything a fresh session needs, then the program. */
static void child(char *const argv[], const char *slave, const char *dir, const char *term)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    if (setsid() < 0)
        _exit(127);
    int fd = open(slave, O_RDWR);
    if (fd < 0)
        _exit(127);
    /* The first terminal a session leader opens is its controlling one on
     * Linux; TIOCSCTTY says so explicitly. */
    ioctl(fd, TIOCSCTTY, 0);
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
    if (term)
        setenv("TERM", term, 1);
    if (dir && chdir(dir) < 0) {
        dprintf(2, "hl-pty: cannot enter %s: %s\r\n", dir, strerror(errno));
        _exit(127);
    }
    execvp(argv[0], argv);
    dprintf(2, "hl-pty: cannot run %s: %s\r\n", argv[0], strerror(errno));
    _exit(127);
}

int pty_spawn(char *const argv[], const char *dir, const char *term, unsigned cols,
              unsigned rows, pty_child_t *out, char *err, size_t errlen)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open a pseudo-terminal: %s", strerror(e));
        if (m >= 0)
            close(m);
        return -e;
    }
    char slave[128];
    if (ptsname_r(m, slave, sizeof slave) != 0) {
        int e = errno;
        snprintf(err, errlen, "ptsname: %s", strerror(e));
        close(m);
        return -e;
    }
    out->master = m;
    pty_resize(out, cols, rows);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        snprintf(err, errlen, "fork: %s", strerror(e));
        close(m);
        return -e;
    }
    if (pid == 0)
        child(argv, slave, dir, term);
    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
    out->pid = pid;
    return 0;
}
