/* Issue #12, confused deputy: hl-failure (root) acted on health.*,
 * service.*, lifecycle.state ... from whoever published them. hl-bus now
 * stamps each message with its publisher's kernel credentials and drops
 * what a publisher may not send: here any local user (nobody) tries the
 * families the daemons own, and forges the sender fields themselves.
 *
 * It once failed under -j2: the attacker's sockets lingered 2 s (hlb_pub's
 * default and the raw PUSH's), so when the machine was busy its flood, its
 * test.open or its forged envelope were dropped unsent, and the receiving
 * loop gave up after 3 s without an event. Now everything waits for the
 * messages themselves (linger -1: sent however long it takes), and the bus
 * is frozen (SIGSTOP) for longer than the old linger while the attacker
 * sends, so a time bound coming back fails here every time. */
#include "sec.h"

static proc_t bus;

static const char *const owned[] = {"health.claude-code", "service.web", "lifecycle.state",
                                    "uplink.status", "metrics.threshold.cpu", "failure.x",
                                    "recovery.web", "daemon.hl-orchestrator", NULL};
#define FLOOD 2000
#define STALL_MS 3000 /* more than the 2 s linger that made this test flaky */

/* As nobody: the owned families, a flood of them, an open family, and an
 * envelope claiming to be from root. */
static int attacker(void *arg)
{
    hlb_pub_t *p = hlb_pub_new(sec_dir, "hl-health"); /* the source is a claim, not a proof */
    if (!p)
        return 2;
    hlb_pub_set_linger(p, -1);
    for (int i = 0; owned[i]; i++)
        hlb_pub_send_raw(p, owned[i], "", "forged", 6);
    for (int i = 0; i < FLOOD; i++)
        hlb_pub_send_raw(p, "lifecycle.state", "", "forged", 6);
    hlb_pub_send_raw(p, "test.open", "", "fine", 4);
    hlb_pub_destroy(&p); /* lingers until sent */

    zsock_t *raw = zsock_new(ZMQ_PUSH);
    char ep[300];
    snprintf(ep, sizeof ep, "ipc://%s/bus/pub", sec_dir);
    if (!raw || zsock_connect(raw, "%s", ep) < 0)
        return 3;
    Hl__Envelope e = HL__ENVELOPE__INIT;
    e.source = "hl-orchestrator";
    e.epoch = 1;
    e.seq = 1;
    e.sender_uid = 0;   /* "root" */
    e.sender_gid = 0;
    e.sender_pid = 1;   /* "systemd" */
    uint8_t buf[256];
    size_t n = hl__envelope__pack(&e, buf);
    zmq_send(zsock_resolve(raw), "test.forged", 11, ZMQ_SNDMORE);
    zmq_send(zsock_resolve(raw), buf, n, 0);
    zsock_set_linger(raw, -1);
    zsock_destroy(&raw);
    zsys_shutdown(); /* the child ends in _exit: flush what is queued now */
    return 0;
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root to publish as another uid\n");
        return 77;
    }
    sec_setup();
    sec_start_bus(&bus, 0, NULL);
    hlb_sub_t *s = hlb_sub_new(sec_dir, NULL); /* everything, as hl-failure watches */
    CHECK(sec_sub_synced(s));

    /* the bus stalls longer than any linger of old while the attacker sends */
    REQUIRE(kill(bus.pid, SIGSTOP) == 0);
    pid_t waker = fork();
    if (waker == 0) {
        usleep(STALL_MS * 1000);
        kill(bus.pid, SIGCONT);
        _exit(0);
    }
    CHECK(sec_as_nobody(attacker, NULL) == 0);
    int wst;
    waitpid(waker, &wst, 0);
    kill(bus.pid, SIGCONT);
    hlb_pub_t *mine = hlb_pub_new(sec_dir, "sec-test");
    hlb_pub_send_raw(mine, "test.done", "", "", 0); /* ours come after the attacker's */

    int leaked = 0, open_seen = 0, forged_seen = 0;
    bool done = false;
    hlb_event_t ev;
    long long deadline = proc_now_ms() + 60000;
    /* Until all three came (the attacker's connections and ours are read in
     * no fixed order). A forgery of an owned family would have come before
     * test.open: the attacker sent them first, on the same connection. */
    while (!(done && open_seen && forged_seen) && proc_now_ms() < deadline) {
        if (hlb_sub_recv(s, &ev, 1000) != 1 || ev.replay)
            continue;
        for (int i = 0; owned[i]; i++)
            if (strcmp(ev.topic, owned[i]) == 0 && ev.env->body.len == 6) {
                leaked++;
                CHECK_MSG(false, "nobody's %s reached a subscriber", ev.topic);
            }
        if (strcmp(ev.topic, "test.open") == 0) {
            open_seen++;
            CHECK_MSG(ev.env->sender_uid == SEC_NOBODY && ev.env->sender_pid > 0,
                      "stamped uid %u pid %u", ev.env->sender_uid, ev.env->sender_pid);
            CHECK(!hlb_event_sender_is(&ev, "hl-health"));
        }
        if (strcmp(ev.topic, "test.forged") == 0) {
            forged_seen++;
            CHECK_MSG(ev.env->sender_uid == SEC_NOBODY && ev.env->sender_pid != 1,
                      "forged sender fields survived: uid %u pid %u", ev.env->sender_uid,
                      ev.env->sender_pid);
        }
        if (strcmp(ev.topic, "test.done") == 0) {
            done = true;
            CHECK(ev.env->sender_uid == 0 && ev.env->sender_pid == (uint32_t)getpid());
            CHECK(hlb_event_sender_is(&ev, "hl-health")); /* root may be anyone */
        }
    }
    CHECK(done);
    CHECK_MSG(open_seen == 1, "a family nobody owns stays open (%d)", open_seen);
    CHECK_MSG(forged_seen == 1, "forged envelope delivered %d times", forged_seen);
    CHECK(leaked == 0);

    Hl__BusStats *st = sec_bus_stats();
    CHECK(st != NULL);
    if (st) {
        printf("denied %llu\n", (unsigned long long)st->denied);
        CHECK_MSG(st->denied >= FLOOD, "denied %llu", (unsigned long long)st->denied);
        hl__bus_stats__free_unpacked(st, NULL);
    }
    /* the log says so, but not two thousand times */
    int lines = sec_log_count("denied: uid 65534");
    printf("denied log lines: %d\n", lines);
    CHECK_MSG(lines >= 1 && lines <= 10, "%d log lines for %d denials", lines, FLOOD);

    /* hlctl bus stats shows it */
    char out[8192];
    char *const argv[] = {sec_hlctl_bin(), "--runtime-dir", sec_dir, "bus", "stats", NULL};
    CHECK(proc_run(argv, out, sizeof out) == 0);
    CHECK_MSG(strstr(out, "denied") != NULL, "hlctl bus stats: %s", out);
    hlb_pub_destroy(&mine);
    hlb_sub_destroy(&s);
    return sec_finish(&bus);
}
