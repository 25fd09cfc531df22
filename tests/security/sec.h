/* Helpers of the security tier: a real hl-bus in a private runtime dir,
 * its stats, raw connections as a local attacker makes them, and running
 * a piece of the test as an unprivileged user. */
#pragma once
#include <hlbus/hlbus.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "check.h"
#include "proc.h"

#define SEC_NOBODY 65534 /* the attacker: any local user */

static char sec_dir[] = "/tmp/hlsecXXXXXX";

/* HL_SEC_BUS_BIN and HL_SEC_HLCTL_BIN run the tests against another hl-bus
 * or hlctl (an older build, to see a finding come back). */
static inline char *sec_hlctl_bin(void)
{
    const char *e = getenv("HL_SEC_HLCTL_BIN");
    return (char *)(e && *e ? e : HLCTL_BIN);
}

static inline char *sec_bus_bin(void)
{
    const char *e = getenv("HL_SEC_BUS_BIN");
    return (char *)(e && *e ? e : HL_BUS_BIN);
}

/* The bus a test started: stopped at exit too, so that a REQUIRE that ends
 * the test early (exit) leaves no hl-bus behind. sec_finish stops it first
 * (and checks its exit status), which makes this a no-op then. */
static proc_t *sec_started_bus;

static inline void sec_stop_at_exit(void)
{
    if (sec_started_bus && sec_started_bus->pid > 0)
        proc_stop(sec_started_bus, SIGKILL);
}

/* Starts hl-bus with CONFIG_YAML (may be NULL) as its hl-bus section body
 * and, when NOFILE > 0, that descriptor limit (soft and hard). */
static inline void sec_start_bus(proc_t *bus, int nofile, const char *config_yaml)
{
    char conf[256], nf[32];
    snprintf(conf, sizeof conf, "%s/hl.yaml", sec_dir);
    FILE *f = fopen(conf, "w");
    if (f) {
        fprintf(f, "hl-bus:\n%s", config_yaml ? config_yaml : "  stats_depth: 1\n");
        fclose(f);
    }
    snprintf(nf, sizeof nf, "--nofile=%d", nofile);
    char *const limited[] = {"/usr/bin/prlimit", nf, sec_bus_bin(), "--runtime-dir", sec_dir,
                             "--config", conf, NULL};
    char *const plain[] = {sec_bus_bin(), "--runtime-dir", sec_dir, "--config", conf, NULL};
    /* its log goes to sec_dir/bus.log, for the tests that read it */
    char logp[300];
    snprintf(logp, sizeof logp, "%s/bus.log", sec_dir);
    int saved = dup(2), logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd >= 0)
        dup2(logfd, 2);
    CHECK(proc_start(bus, sec_dir, nofile > 0 ? limited : plain) == 0);
    if (!sec_started_bus)
        atexit(sec_stop_at_exit);
    sec_started_bus = bus;
    dup2(saved, 2);
    close(saved);
    if (logfd >= 0)
        close(logfd);
    CHECK(proc_wait_notify(bus, "READY=1", 10000));
    /* the attacker is any local user: let it reach the sockets */
    char path[512];
    snprintf(path, sizeof path, "%s/bus/sub", sec_dir);
    chmod(path, 0666);
    snprintf(path, sizeof path, "%s/bus/pub", sec_dir);
    chmod(path, 0666);
    chmod(sec_dir, 0755);
    snprintf(path, sizeof path, "%s/bus", sec_dir);
    chmod(path, 0755);
}

/* Lines of hl-bus's log containing WHAT. */
static inline int sec_log_count(const char *what)
{
    char path[300], line[4096];
    snprintf(path, sizeof path, "%s/bus.log", sec_dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* Resident memory of PID in KiB. */
static inline long sec_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* Runs FN in a child as UID (primary group GID, no others); returns its
 * exit status. */
static inline int sec_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
            _exit(100);
        int rc = fn(arg);
        zsys_shutdown(); /* _exit skips czmq's atexit: flush what is queued */
        _exit(rc);
    }
    int st = -1;
    waitpid(kid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs FN in a child as the unprivileged user; returns its exit status. */
static inline int sec_as_nobody(int (*fn)(void *), void *arg)
{
    return sec_as(SEC_NOBODY, SEC_NOBODY, fn, arg);
}

static inline bool sec_alive(proc_t *p)
{
    int st;
    return p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == 0;
}

static inline Hl__BusStats *sec_bus_stats(void)
{
    Hl__Reply *r = NULL;
    hlb_call_opts_t o = {.timeout_ms = 3000, .retries = 1};
    if (hlb_call(sec_dir, "hl-bus", "stats", NULL, &o, &r) < 0 || !r || r->status) {
        if (r)
            hl__reply__free_unpacked(r, NULL);
        return NULL;
    }
    Hl__BusStats *st = (Hl__BusStats *)hlb_reply_decode(r, &hl__bus_stats__descriptor);
    hl__reply__free_unpacked(r, NULL);
    return st;
}

/* A plain AF_UNIX connection to REL under the runtime dir (no ZMTP). */
static inline int sec_connect_raw(const char *rel)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", sec_dir, rel);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Lets this process hold many descriptors (the attacker's own limit). */
static inline void sec_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Waits until the subscriber got the replay of daemon.hl-bus: the proxy
 * has its subscription then. */
static inline bool sec_sub_synced(hlb_sub_t *s)
{
    long long deadline = proc_now_ms() + 10000;
    while (proc_now_ms() < deadline) {
        hlb_event_t ev;
        if (hlb_sub_recv(s, &ev, 200) == 1 && strcmp(ev.topic, "daemon.hl-bus") == 0)
            return true;
    }
    return false;
}

static inline void sec_setup(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!mkdtemp(sec_dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static inline int sec_finish(proc_t *bus)
{
    if (bus && bus->pid > 0) {
        /* a clean exit too: under ASan a memory error or leak is exit 1 */
        int st = proc_stop(bus, SIGTERM);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hl-bus ended with status %#x (see %s/bus.log)", st, sec_dir);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            char cmd[400];
            snprintf(cmd, sizeof cmd, "tail -40 %s/bus.log >&2", sec_dir);
            if (system(cmd) != 0)
                fprintf(stderr, "no bus.log\n");
        }
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sec_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", sec_dir);
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}
