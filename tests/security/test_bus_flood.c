/* Issue #12: "1,100 connections crashed hl-bus". libzmq aborts when accept()
 * hits EMFILE, so a flood of plain connections to bus/sub killed the bus
 * (and under systemd it then hit its start limit). hl-bus runs here with a
 * 256-descriptor limit so the flood reaches it quickly; it must stay up,
 * keep serving, and cap what one unprivileged uid may hold. */
#include "sec.h"

#define FLOOD 1100

static proc_t bus;

/* Opens up to N raw connections to bus/sub; returns how many connect()s
 * succeeded (a full backlog times out instead of blocking for ever). */
static int flood_at(const char *rel, int *fds, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = -1;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", sec_dir, rel);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = {.tv_sec = 1};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            fds[i] = fd;
            ok++;
        } else if (fd >= 0) {
            close(fd);
        }
    }
    return ok;
}

static int flood(int *fds, int n)
{
    return flood_at("bus/sub", fds, n);
}

/* Connections the server has closed read EOF (or a reset). */
static int still_open(const int *fds, int n)
{
    int open_n = 0;
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            continue;
        struct pollfd pf = {.fd = fds[i], .events = POLLIN};
        char c;
        if (poll(&pf, 1, 0) == 1 && recv(fds[i], &c, 1, MSG_DONTWAIT) <= 0)
            continue;
        open_n++;
    }
    return open_n;
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* Root floods: more connections than hl-bus has descriptors. */
static void test_flood_survives(void)
{
    static int fds[FLOOD];
    int ok = flood(fds, FLOOD);
    printf("root flood: %d of %d connects went through\n", ok, FLOOD);
    usleep(500 * 1000); /* libzmq's I/O thread accepts in the background */
    CHECK_MSG(sec_alive(&bus), "hl-bus died under %d connections", FLOOD);
    close_all(fds, FLOOD);
    /* the flood gone, the bus serves again */
    Hl__BusStats *st = NULL;
    for (int i = 0; i < 20 && sec_alive(&bus) && !(st = sec_bus_stats()); i++)
        usleep(100 * 1000);
    CHECK_MSG(st != NULL, "hl-bus answers stats after the flood");
    if (st) {
        printf("refused: reserve %llu emfile %llu\n",
               (unsigned long long)st->connections_refused_reserve,
               (unsigned long long)st->connections_refused_emfile);
        CHECK(st->connections_refused_reserve + st->connections_refused_emfile > 0);
        hl__bus_stats__free_unpacked(st, NULL);
    }
    const char *const pre[] = {"daemon.", NULL};
    hlb_sub_t *s = hlb_sub_new(sec_dir, pre);
    CHECK_MSG(s && sec_sub_synced(s), "a new subscriber is served after the flood");
    hlb_sub_destroy(&s);
}

/* The same on a daemon's ctl socket (libhlbus's server: every daemon,
 * the root ones too, has one). */
static void test_ctl_flood(void)
{
    static int fds[FLOOD];
    int ok = flood_at("ctl/hl-bus", fds, FLOOD);
    printf("ctl flood: %d of %d connects went through\n", ok, FLOOD);
    usleep(500 * 1000);
    CHECK_MSG(sec_alive(&bus), "hl-bus died under %d ctl connections", FLOOD);
    close_all(fds, FLOOD);
    Hl__BusStats *st = NULL;
    for (int i = 0; i < 20 && sec_alive(&bus) && !(st = sec_bus_stats()); i++)
        usleep(100 * 1000);
    CHECK_MSG(st != NULL, "the ctl socket answers after the flood");
    if (st)
        hl__bus_stats__free_unpacked(st, NULL);
}

/* An unprivileged user floods and holds: it keeps at most the per-uid cap,
 * and the daemons (root here) still connect meanwhile. */
static void test_per_uid_cap(void)
{
    int report[2], go[2];
    CHECK(pipe(report) == 0 && pipe(go) == 0);
    pid_t kid = fork();
    if (kid == 0) {
        close(report[0]);
        close(go[1]);
        if (setgid(SEC_NOBODY) < 0 || setuid(SEC_NOBODY) < 0)
            _exit(2);
        static int fds[FLOOD];
        int ok = flood(fds, 300);
        usleep(500 * 1000);
        int held = still_open(fds, 300);
        int msg[2] = {ok, held};
        if (write(report[1], msg, sizeof msg) != sizeof msg)
            _exit(3);
        char c;
        if (read(go[0], &c, 1) < 0) /* hold until the parent has checked */
            _exit(4);
        close_all(fds, 300);
        _exit(0);
    }
    close(report[1]);
    close(go[0]);
    int msg[2] = {0, 0};
    CHECK(read(report[0], msg, sizeof msg) == sizeof msg);
    printf("uid %d: %d connects, %d held by hl-bus\n", SEC_NOBODY, msg[0], msg[1]);
    CHECK_MSG(msg[1] <= HLB_FDGUARD_PER_UID, "one uid holds %d connections", msg[1]);
    CHECK(sec_alive(&bus));
    const char *const pre[] = {"daemon.", NULL};
    hlb_sub_t *s = hlb_sub_new(sec_dir, pre);
    CHECK_MSG(s && sec_sub_synced(s), "a daemon subscribes while the flood is held");
    hlb_sub_destroy(&s);
    Hl__BusStats *st = sec_bus_stats();
    CHECK_MSG(st && st->connections_refused_per_uid > 0, "refusals per uid are counted");
    if (st)
        hl__bus_stats__free_unpacked(st, NULL);
    if (write(go[1], "x", 1) != 1)
        perror("write");
    waitpid(kid, NULL, 0);
    close(report[0]);
    close(go[1]);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root to run the flood as another uid\n");
        return 77;
    }
    sec_setup();
    sec_raise_nofile();
    sec_start_bus(&bus, 256, NULL);
    test_flood_survives();
    test_ctl_flood();
    test_per_uid_cap();
    return sec_finish(&bus);
}
