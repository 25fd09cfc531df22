/* Throughput of one writer to N readers through hl-stdio, against socat
 * relaying between two unix sockets and against direct socket pairs, in
 * the same run. Prints a table; asserts nothing about time.
 *
 *   bench_stdio [--mb MB] [--repeat K] [--readers 1,4,16] [--hl-stdio PATH]
 *               [--core] [--socat PATH] [--quick]
 *
 * Each run: the readers attach, the writer sends one sync byte that every
 * reader must see (so all are attached before the clock starts), then MB
 * MiB of a pseudo-random pattern in 256 KiB writes. A reader checks sampled
 * bytes against the pattern and reports when it has everything; the run's
 * time is from "go" to the last reader done. A reader that is cut off early
 * (dropped) is reported as such, never silently counted. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"

#define PERIOD ((4u << 20) + 13) /* pattern period: not a multiple of any chunk */
#define WCHUNK (256u << 10)
#define RBUF (256u << 10)
#define MAX_READERS 64

static uint8_t *pat; /* PERIOD + WCHUNK bytes, so any slice is contiguous */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_stdio: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int unix_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

/* ------------------------------------------------------------ roles */

typedef struct report {
    uint64_t bytes;
    uint64_t done_ns;
    uint32_t bad;  /* sampled bytes that did not match */
    uint32_t ready;
} report_t;

/* Reads the sync byte, says ready, reads TOTAL bytes, says done. */
static void reader(int fd, uint64_t total, int rep)
{
    uint8_t *buf = malloc(RBUF);
    report_t r = {0};
    uint8_t sync;
    if (!buf || read(fd, &sync, 1) != 1)
        _exit(3);
    r.ready = 1;
    if (write(rep, &r, sizeof r) != sizeof r)
        _exit(3);
    uint64_t off = 0;
    while (off < total) {
        ssize_t n = read(fd, buf, RBUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        /* Sample: the first and last byte of the read and one per 64 KiB. */
        for (ssize_t i = 0; i < n; i += 65536)
            r.bad += buf[i] != pat[(off + (uint64_t)i) % PERIOD];
        r.bad += buf[n - 1] != pat[(off + (uint64_t)n - 1) % PERIOD];
        off += (uint64_t)n;
    }
    r.ready = 0;
    r.bytes = off;
    r.done_ns = now_ns();
    if (write(rep, &r, sizeof r) != sizeof r)
        _exit(3);
    _exit(0);
}

/* Writes the sync byte, waits for go, writes TOTAL bytes to every fd. */
static void writer(const int *fds, int nfd, uint64_t total, int go)
{
    for (int i = 0; i < nfd; i++)
        if (!write_all(fds[i], "S", 1))
            _exit(4);
    char g;
    if (read(go, &g, 1) != 1)
        _exit(4);
    uint64_t off = 0;
    while (off < total) {
        uint64_t n = total - off < WCHUNK ? total - off : WCHUNK;
        const uint8_t *p = pat + off % PERIOD;
        for (int i = 0; i < nfd; i++)
            if (!write_all(fds[i], p, (size_t)n))
                _exit(4);
        off += n;
    }
    _exit(0);
}

/* ------------------------------------------------------------ peers */

typedef enum { P_DIRECT, P_SOCAT, P_SOCAT_TUNED, P_PLAIN, P_CORE, P_DAEMON } peer_t;
static const char *peer_name[] = {"direct socketpair", "socat (default -b 8192)",
                                  "socat -b 262144",   "plain C relay (1:1)",
                                  "hl-stdio core",     "hl-stdio"};

/* The simplest relay there is, as a reference: blocking read and write
 * through one 256 KiB buffer, one writer to one reader, no scrollback. */
static pid_t start_plain(int in, int out)
{
    pid_t pid = fork();
    if (pid == 0) {
        uint8_t *buf = malloc(WCHUNK);
        ssize_t n;
        while (buf && (n = read(in, buf, WCHUNK)) > 0)
            if (!write_all(out, buf, (size_t)n))
                break;
        _exit(0);
    }
    return pid;
}

static const char *socat_path = "socat";
static const char *daemon_path;
static char dir[64];

typedef struct result {
    double relay_cpu; /* seconds of the relay process, user + system */
    uint64_t ns;
    uint64_t delivered; /* summed over readers */
    int short_readers;
    uint32_t bad;
} result_t;

static stdio_relay_t *core_relay;

/* Runs the relay for P_CORE in a child: the real core, no daemon around it. */
static pid_t start_core(const char *sock)
{
    stdio_relay_conf_t c;
    stdio_relay_conf_defaults(&c);
    stdio_chan_conf_t ch = {.name = "main", .path = sock, .gid = STDIO_NO_GID, .mode = 0600,
                            .scrollback = 1 << 20, .max_clients = 256, .publish = false};
    c.channels = &ch;
    c.n_channels = 1;
    const char *sb = getenv("BENCH_SNDBUF");
    if (sb)
        c.sndbuf = atoi(sb);
    const char *st = getenv("BENCH_STALL");
    if (st)
        c.stall_timeout_ms = atoi(st);
    const char *sbk = getenv("BENCH_SCROLLBACK");
    if (sbk)
        ch.scrollback = (size_t)atol(sbk);
    const char *rc = getenv("BENCH_CHUNK");
    if (rc)
        c.read_chunk = (size_t)atoi(rc);
    stdio_relay_t *r = stdio_relay_new(NULL, NULL);
    char err[256];
    if (!r || stdio_relay_configure(r, &c, err, sizeof err) < 0) {
        fprintf(stderr, "core: %s\n", err);
        exit(2);
    }
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            if (stdio_relay_dispatch(r, -1) < 0)
                _exit(5);
    }
    core_relay = r; /* destroyed (and its socket removed) once the child is gone */
    return pid;
}

/* Starts the daemon and waits for its READY=1 on a notify socket of ours. */
static pid_t start_daemon(const char *rundir, const char *sock)
{
    char npath[100], cpath[128];
    snprintf(npath, sizeof npath, "%s/notify", rundir);
    snprintf(cpath, sizeof cpath, "%s/hl.yaml", rundir);
    FILE *f = fopen(cpath, "w");
    if (!f)
        die("config");
    /* The defaults, as deployed (BENCH_DAEMON_EXTRA adds lines to the section). */
    const char *extra = getenv("BENCH_DAEMON_EXTRA");
    fprintf(f, "hl-stdio:\n%s%s  channels:\n    - name: main\n      socket: %s\n",
            extra ? extra : "", extra ? "\n" : "", sock);
    fclose(f);
    int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", npath);
    unlink(npath); /* the previous run's */
    if (nfd < 0 || bind(nfd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("notify socket");
    pid_t pid = fork();
    if (pid == 0) {
        setenv("NOTIFY_SOCKET", npath, 1);
        setenv("HL_RUNTIME_DIR", rundir, 1);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0 && !getenv("BENCH_VERBOSE"))
            dup2(null, 2);
        execl(daemon_path, daemon_path, "--config", cpath, "--runtime-dir", rundir,
              "--log-level", "warning", (char *)NULL);
        _exit(127);
    }
    char msg[4096];
    struct pollfd pfd = {.fd = nfd, .events = POLLIN};
    for (;;) {
        if (poll(&pfd, 1, 20000) <= 0) {
            fprintf(stderr, "bench_stdio: %s did not become ready\n", daemon_path);
            kill(pid, SIGKILL);
            exit(2);
        }
        ssize_t n = recv(nfd, msg, sizeof msg - 1, 0);
        if (n > 0) {
            msg[n] = 0;
            if (strstr(msg, "READY=1"))
                break;
        }
    }
    close(nfd);
    return pid;
}

/* Stops the relay; returns the CPU time it used (user + system), which the
 * load of the machine hardly changes, unlike the wall clock. */
static double stop(pid_t pid)
{
    struct rusage ru = {0};
    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    int st;
    if (wait4(pid, &st, 0, &ru) < 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static result_t run(peer_t peer, int nreaders, uint64_t total)
{
    result_t res = {0};
    int rep[2], go[2];
    if (pipe2(rep, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
        die("pipe");
    int wfds[MAX_READERS], nw = 0;
    int rfds[MAX_READERS];
    pid_t relay = -1;
    char sock[128];
    snprintf(sock, sizeof sock, "%s/stdio.sock", dir);
    switch (peer) {
    case P_DIRECT:
        for (int i = 0; i < nreaders; i++) {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair");
            wfds[nw++] = sv[0];
            rfds[i] = sv[1];
        }
        break;
    case P_PLAIN: {
        int a[2], b[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) < 0)
            die("socketpair");
        relay = start_plain(a[1], b[1]);
        close(a[1]);
        close(b[1]);
        wfds[nw++] = a[0];
        rfds[0] = b[0];
        break;
    }
    case P_SOCAT:
    case P_SOCAT_TUNED: {
        int a[2], b[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM, 0, b) < 0)
            die("socketpair");
        relay = fork();
        if (relay == 0) {
            dup2(a[1], 3);
            dup2(b[1], 4);
            /* -u: one direction, writer to reader, as the others do. */
            if (peer == P_SOCAT)
                execlp(socat_path, socat_path, "-u", "FD:3", "FD:4", (char *)NULL);
            else
                execlp(socat_path, socat_path, "-b", "262144", "-u", "FD:3", "FD:4",
                       (char *)NULL);
            _exit(127);
        }
        close(a[1]);
        close(b[1]);
        fcntl(a[0], F_SETFD, FD_CLOEXEC);
        fcntl(b[0], F_SETFD, FD_CLOEXEC);
        wfds[nw++] = a[0];
        rfds[0] = b[0];
        break;
    }
    case P_CORE:
    case P_DAEMON:
        relay = peer == P_CORE ? start_core(sock) : start_daemon(dir, sock);
        for (int i = 0; i < nreaders; i++)
            if ((rfds[i] = unix_connect(sock)) < 0)
                die("connect reader");
        if ((wfds[nw++] = unix_connect(sock)) < 0)
            die("connect writer");
        break;
    }
    pid_t readers[MAX_READERS];
    for (int i = 0; i < nreaders; i++) {
        readers[i] = fork();
        if (readers[i] == 0) {
            close(rep[0]);
            reader(rfds[i], total, rep[1]);
        }
        close(rfds[i]);
    }
    pid_t w = fork();
    if (w == 0)
        writer(wfds, nw, total, go[0]);
    for (int i = 0; i < nw; i++)
        close(wfds[i]);
    close(rep[1]);
    close(go[0]);
    report_t r;
    for (int ready = 0; ready < nreaders;) {
        if (read(rep[0], &r, sizeof r) != sizeof r)
            die("a reader failed before the start");
        ready += r.ready == 1;
    }
    uint64_t t0 = now_ns(), last = t0;
    if (write(go[1], "g", 1) != 1)
        die("go");
    for (int done = 0; done < nreaders; done++) {
        if (read(rep[0], &r, sizeof r) != sizeof r)
            die("a reader failed");
        res.delivered += r.bytes;
        res.bad += r.bad;
        if (r.bytes < total)
            res.short_readers++;
        if (r.done_ns > last)
            last = r.done_ns;
    }
    res.ns = last - t0;
    for (int i = 0; i < nreaders; i++)
        waitpid(readers[i], NULL, 0);
    waitpid(w, NULL, 0);
    res.relay_cpu = stop(relay);
    stdio_relay_destroy(&core_relay);
    close(rep[0]);
    close(go[1]);
    return res;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint64_t mb = 1024;
    int repeat = 3;
    int counts[8] = {1, 4, 16}, ncounts = 3;
    bool core = false;
    static const struct option opts[] = {
        {"mb", required_argument, 0, 'm'},      {"repeat", required_argument, 0, 'r'},
        {"readers", required_argument, 0, 'n'}, {"hl-stdio", required_argument, 0, 'd'},
        {"socat", required_argument, 0, 's'},   {"core", no_argument, 0, 'c'},
        {"quick", no_argument, 0, 'q'},         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm':
            mb = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            repeat = atoi(optarg);
            break;
        case 'n': {
            ncounts = 0;
            for (char *t = strtok(optarg, ","); t && ncounts < 8; t = strtok(NULL, ","))
                counts[ncounts++] = atoi(t);
            break;
        }
        case 'd':
            daemon_path = optarg;
            break;
        case 's':
            socat_path = optarg;
            break;
        case 'c':
            core = true;
            break;
        case 'q':
            mb = 64;
            repeat = 1;
            break;
        default:
            fprintf(stderr, "usage: %s [--mb MB] [--repeat K] [--readers 1,4,16] "
                            "[--hl-stdio PATH] [--core] [--socat PATH] [--quick]\n",
                    argv[0]);
            return 64;
        }
    }
    if (repeat < 1 || mb < 1 || ncounts < 1)
        return 64;
    for (int i = 0; i < ncounts; i++)
        if (counts[i] < 1 || counts[i] > MAX_READERS)
            return 64;
    signal(SIGPIPE, SIG_IGN);
    pat = malloc(PERIOD + WCHUNK);
    if (!pat)
        die("malloc");
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < PERIOD + WCHUNK; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        pat[i] = (uint8_t)s;
    }
    memcpy(pat + PERIOD, pat, WCHUNK);
    snprintf(dir, sizeof dir, "/tmp/bench-stdio.XXXXXX");
    if (!mkdtemp(dir))
        die("mkdtemp");
    uint64_t total = mb << 20;
    double loads[3] = {0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &loads[0], &loads[1], &loads[2]) != 3)
            loads[0] = -1;
        fclose(la);
    }
    printf("# hl-stdio throughput: %" PRIu64 " MiB per reader, median of %d, load %.2f, %ld cpus\n",
           mb, repeat, loads[0], sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-26s %7s %12s %14s %12s %s\n", "relay", "readers", "per reader", "aggregate",
           "relay CPU", "notes");
    int failures = 0;
    peer_t peers[6];
    int np = 0;
    peers[np++] = P_DIRECT;
    peers[np++] = P_SOCAT;
    peers[np++] = P_SOCAT_TUNED;
    peers[np++] = P_PLAIN;
    if (core)
        peers[np++] = P_CORE;
    if (daemon_path)
        peers[np++] = P_DAEMON;
    for (int ci = 0; ci < ncounts; ci++) {
        int n = counts[ci];
        for (int pi = 0; pi < np; pi++) {
            peer_t p = peers[pi];
            if ((p == P_SOCAT || p == P_SOCAT_TUNED || p == P_PLAIN) && n != 1)
                continue; /* these relay one pair of sockets */
            uint64_t ns[16];
            double cpu = 0;
            result_t last = {0};
            int shorts = 0;
            uint32_t bad = 0;
            for (int k = 0; k < repeat && k < 16; k++) {
                last = run(p, n, total);
                ns[k] = last.ns;
                cpu += last.relay_cpu;
                shorts += last.short_readers;
                bad += last.bad;
            }
            qsort(ns, (size_t)(repeat < 16 ? repeat : 16), sizeof *ns, cmp_u64);
            double sec = (double)ns[(repeat < 16 ? repeat : 16) / 2] / 1e9;
            double per = (double)total / sec / 1e9;
            char notes[128] = "";
            if (p == P_DIRECT && n > 1)
                snprintf(notes, sizeof notes, "writer writes to each reader itself");
            if (shorts)
                snprintf(notes, sizeof notes, "%d reader(s) cut short (dropped)", shorts);
            if (bad)
                snprintf(notes + strlen(notes), sizeof notes - strlen(notes),
                         " %u corrupt samples", bad);
            failures += shorts + (int)bad;
            /* CPU seconds of the relay per GB it delivered (all readers). */
            char cpus[32] = "-";
            if (p != P_DIRECT)
                snprintf(cpus, sizeof cpus, "%.3f s/GB",
                         cpu / ((double)total * n * (repeat < 16 ? repeat : 16) / 1e9));
            printf("%-26s %7d %9.2f GB/s %11.2f GB/s %12s %s\n", peer_name[p], n, per, per * n,
                   cpus, notes);
            fflush(stdout);
        }
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", dir);
    return failures ? 1 : 0;
}
