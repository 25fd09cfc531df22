/* The agent's terminal: a pseudo-terminal, and the program on it as a
 * session leader with it as its controlling terminal (what a terminal
 * emulator or sshd does), so that it gets SIGWINCH, job control and a tty. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

typedef struct pty_child {
    int master; /* non-blocking, close-on-exec */
    pid_t pid;
} pty_child_t;

/* Opens a pty of COLS x ROWS, starts ARGV (argv[0] looked up in PATH) on it
 * in DIR (NULL: ours) with TERM set to TERM (NULL: left alone). 0, or
 * -errno with ERR filled. A program that cannot be started exits 127 after
 * saying why on the terminal (as a shell would). */
int pty_spawn(char *const argv[], const char *dir, const char *term, unsigned cols,
              unsigned rows, pty_child_t *out, char *err, size_t errlen);
/* Sets the terminal's size; the kernel sends the program SIGWINCH. */
int pty_resize(const pty_child_t *c, unsigned cols, unsigned rows);
/* The exit status a shell would report: the code, or 128 + the signal. */
int pty_exit_code(int wstatus);
