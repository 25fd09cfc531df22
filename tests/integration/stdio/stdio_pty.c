/* Runs a command on a pseudo-terminal, like a person at a terminal would:
 *
 *   stdio_pty TIMEOUT_MS EXPECT KEYS -- COMMAND [ARG]...
 *
 * Copies everything the command prints to stdout; once the output contains
 * EXPECT (after the command has switched its terminal to raw mode, so that
 * the keys are not line-buffered away), types KEYS (C escapes: \035 is
 * Ctrl-]). Exits with the command's status, or 124 if it has not ended
 * within TIMEOUT_MS (it is then killed). */
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Decodes \NNN (octal), \n, \r, \\ in S into OUT; returns the length. */
static size_t unescape(const char *s, char *out)
{
    size_t n = 0;
    while (*s) {
        if (*s != '\\') {
            out[n++] = *s++;
            continue;
        }
        s++;
        if (*s >= '0' && *s <= '7') {
            int v = 0;
            for (int i = 0; i < 3 && *s >= '0' && *s <= '7'; i++)
                v = v * 8 + (*s++ - '0');
            out[n++] = (char)v;
        } else if (*s == 'n') {
            out[n++] = '\n', s++;
        } else if (*s == 'r') {
            out[n++] = '\r', s++;
        } else if (*s) {
            out[n++] = *s++;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: %s TIMEOUT_MS EXPECT KEYS -- COMMAND [ARG]...\n", argv[0]);
        return 64;
    }
    long long deadline = now_ms() + strtol(argv[1], NULL, 10);
    const char *expect = argv[2];
    char keys[256];
    size_t nkeys = unescape(argv[3], keys);
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    if (pid < 0) {
        perror("forkpty");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[5], argv + 5);
        _exit(127);
    }
    char *seen = calloc(1, 1);
    size_t seen_len = 0;
    bool typed = false;
    int status = -1;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fprintf(stderr, "stdio_pty: timed out\n");
            return 124;
        }
        struct pollfd p = {.fd = master, .events = POLLIN};
        int r = poll(&p, 1, left > 100 ? 100 : (int)left);
        if (r > 0) {
            char buf[4096];
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0) {
                fwrite(buf, 1, (size_t)n, stdout);
                fflush(stdout);
                seen = realloc(seen, seen_len + (size_t)n + 1);
                memcpy(seen + seen_len, buf, (size_t)n);
                seen_len += (size_t)n;
                seen[seen_len] = 0;
            } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
                /* EIO: the command closed the terminal (it ended). */
                break;
            }
        }
        if (!typed && strstr(seen, expect)) {
            /* Wait until the command has the terminal in raw mode. */
            struct termios t;
            if (tcgetattr(master, &t) == 0 && !(t.c_lflag & ICANON)) {
                if (write(master, keys, nkeys) != (ssize_t)nkeys)
                    perror("write");
                typed = true;
            }
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = 0;
            break;
        }
    }
    if (pid > 0)
        waitpid(pid, &status, 0);
    /* What it printed just before it ended is still in the terminal's
     * buffer: read it out (the read fails with EIO once it is empty). */
    for (;;) {
        char buf[4096];
        ssize_t n = read(master, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        fwrite(buf, 1, (size_t)n, stdout);
    }
    fflush(stdout);
    free(seen);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
