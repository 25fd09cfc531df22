/* Keystroke-to-echo latency through a terminal client: this program is
 * the person's terminal. It opens a pseudo-terminal (80x24), runs CLIENT on
 * it (hlctl attach, tmux attach, dtach -a, or the echo program itself),
 * and times, N times, one byte written to the terminal until the same byte
 * comes back from the program at the other end (hl-tui --echo), p50 and
 * p99 in microseconds. Keystrokes are 2 ms apart so that each is a round
 * trip of its own, as typing is.
 *   bench_pty_echo NAME N CLIENT [ARGS...]
 * prints "NAME  p50_us  p99_us  max_us  samples". With BENCH_PTY_RAW=FILE
 * each sample is also appended to FILE, one per line, so that rounds can be
 * pooled (a p99 of pooled samples, not the worst of the rounds' p99s). Exit
 * 0, 2 when the echo never came (the client or its server did not start). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Reads until byte C shows up or DEADLINE_NS passes; true when it did. */
static bool wait_byte(int m, char c, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline_ns)
            return false;
        struct pollfd pf = {.fd = m, .events = POLLIN};
        int r = poll(&pf, 1, (int)((deadline_ns - now) / 1000000u) + 1);
        if (r <= 0)
            continue;
        char buf[4096];
        ssize_t n = read(m, buf, sizeof buf);
        if (n <= 0)
            return false;
        if (memchr(buf, c, (size_t)n))
            return true;
    }
}

static void drain(int m, int quiet_ms)
{
    char buf[4096];
    struct pollfd pf = {.fd = m, .events = POLLIN};
    while (poll(&pf, 1, quiet_ms) > 0 && read(m, buf, sizeof buf) > 0) {
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_pty_echo NAME N CLIENT [ARGS...]\n");
        return 64;
    }
    const char *name = argv[1];
    int n = atoi(argv[2]);
    if (n < 10 || n > 1000000)
        return 64;
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
        return 1;
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    ioctl(m, TIOCSWINSZ, &ws);
    char *slave = ptsname(m);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        int s = open(slave, O_RDWR);
        ioctl(s, TIOCSCTTY, 0);
        dup2(s, 0);
        dup2(s, 1);
        dup2(s, 2);
        close(m);
        setenv("TERM", "xterm-256color", 1);
        execvp(argv[3], argv + 3);
        _exit(127);
    }
    /* Up: a probe byte comes back (the client and the program are there). */
    bool up = false;
    for (int i = 0; i < 100 && !up; i++) {
        if (write(m, "!", 1) != 1)
            break;
        up = wait_byte(m, '!', now_ns() + 100000000u);
    }
    if (!up) {
        fprintf(stderr, "%s: no echo within 10 s\n", name);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return 2;
    }
    drain(m, 200);
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    int got = 0;
    for (int i = 0; i < n; i++) {
        char c = (char)('a' + i % 26);
        uint64_t t0 = now_ns();
        if (write(m, &c, 1) != 1)
            break;
        if (!wait_byte(m, c, t0 + 2000000000u))
            break;
        lat[got++] = (now_ns() - t0) / 1000u;
        if (getenv("BENCH_PTY_TRACE") && lat[got - 1] > 2000)
            fprintf(stderr, "%s: sample %d took %llu us\n", name, i,
                    (unsigned long long)lat[got - 1]);
        struct timespec gap = {0, 2000000};
        nanosleep(&gap, NULL);
        drain(m, 0);
    }
    const char *raw = getenv("BENCH_PTY_RAW");
    FILE *rf = raw && *raw ? fopen(raw, "a") : NULL;
    for (int i = 0; rf && i < got; i++)
        fprintf(rf, "%llu\n", (unsigned long long)lat[i]);
    if (rf)
        fclose(rf);
    qsort(lat, (size_t)got, sizeof *lat, cmp_u64);
    if (got)
        printf("%-12s %8llu %8llu %8llu %8d\n", name, (unsigned long long)lat[got / 2],
               (unsigned long long)lat[(size_t)(got * 0.99)], (unsigned long long)lat[got - 1],
               got);
    kill(pid, SIGHUP);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(lat);
    return got == n ? 0 : 2;
}
