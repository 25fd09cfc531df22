/* Issue #12, per-name families: daemon.<name>, log.<name>.* and
 * lifecycle.ack.<name> belong to <name>'s own user. Before, hl-bus let any
 * daemon user publish any name: hl-metrics could forge daemon.hl-health
 * (its state, its version) or hl-health's shutdown ack. Here real users of
 * every system publish their own name and another's: "nobody" and
 * "daemon" (uid 1) stand for two daemon users; where hl-health and
 * hl-metrics exist (the e2e container; e2e.security-host checks it there
 * through the installed units) their case is run as well. A name without a
 * user of its own falls back to the shared user "hl", never to another
 * daemon's user; a number is never taken for a uid. */
#include "sec.h"

#include <pwd.h>

static proc_t bus;

typedef struct attempt {
    const char *topic;
    bool allowed;
} attempt_t;

typedef struct as_user {
    const char *name; /* who publishes */
    const attempt_t *tries;
    const char *done; /* its last message: all of its others were read before */
} as_user_t;

static const attempt_t nobody_tries[] = {
    {"daemon.nobody", true},
    {"log.nobody.info", true},
    {"lifecycle.ack.nobody", true},
    {"daemon.daemon", false},         /* another user's name */
    {"log.daemon.warning", false},
    {"lifecycle.ack.daemon", false},
    {"daemon.nobody-else", false},    /* no user of its own: "hl"'s, not ours */
    {"daemon.65534", false},          /* a number is not a uid here */
    {"daemon.", false},               /* no name at all */
    {"log.nobody", true},             /* the name alone, no level */
    {NULL, false},
};
static const attempt_t daemon_tries[] = {
    {"daemon.daemon", true},
    {"lifecycle.ack.daemon", true},
    {"daemon.nobody", false},
    {NULL, false},
};
static const attempt_t metrics_tries[] = {
    {"daemon.hl-metrics", true},
    {"daemon.hl-health", false}, /* the finding: a forged daemon.hl-health */
    {"log.hl-health.err", false},
    {"lifecycle.ack.hl-health", false},
    {NULL, false},
};

#define MADE_UP 100 /* more names than hl-bus remembers (ACL_MAX_NAMES) */

static int publisher(void *arg)
{
    const as_user_t *who = arg;
    hlb_pub_t *p = hlb_pub_new(sec_dir, who->name);
    if (!p)
        return 2;
    /* Sent, however long the bus takes to read it: the test waits for the
     * last message, not for a time. */
    hlb_pub_set_linger(p, -1);
    /* made-up names first: they must not crowd out the real ones */
    for (int i = 0; i < MADE_UP && who->tries == nobody_tries; i++) {
        char t[64];
        snprintf(t, sizeof t, "daemon.made-up-%d", i);
        hlb_pub_send_raw(p, t, "", "forged", 6);
    }
    for (const attempt_t *a = who->tries; a->topic; a++)
        hlb_pub_send_raw(p, a->topic, "", "sec", 3);
    hlb_pub_send_raw(p, who->done, "", "", 0);
    hlb_pub_destroy(&p);
    return 0;
}

/* Publishes WHO's attempts as WHO and checks what reached the subscriber. */
static void run_as(hlb_sub_t *s, const as_user_t *who, int *denied_expected)
{
    struct passwd *pw = getpwnam(who->name);
    REQUIRE(pw != NULL);
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    CHECK(sec_as(uid, gid, publisher, (void *)who) == 0);
    int n = 0;
    bool seen[16] = {false};
    for (const attempt_t *a = who->tries; a->topic; a++, n++)
        if (!a->allowed)
            (*denied_expected)++;
    if (who->tries == nobody_tries)
        *denied_expected += MADE_UP;
    bool done = false;
    hlb_event_t ev;
    long long deadline = proc_now_ms() + 60000;
    while (!done && proc_now_ms() < deadline) {
        if (hlb_sub_recv(s, &ev, 1000) != 1 || ev.replay)
            continue;
        if (strcmp(ev.topic, who->done) == 0) {
            done = true;
            continue;
        }
        if (ev.env->sender_uid != uid)
            continue;
        if (strncmp(ev.topic, "daemon.made-up-", 15) == 0)
            CHECK_MSG(false, "%s published %s", who->name, ev.topic);
        for (int i = 0; i < n; i++)
            if (strcmp(ev.topic, who->tries[i].topic) == 0) {
                CHECK_MSG(who->tries[i].allowed, "%s (uid %u) published %s, another's name",
                          who->name, (unsigned)uid, ev.topic);
                seen[i] = true;
            }
    }
    CHECK_MSG(done, "%s's last message never came", who->name);
    for (int i = 0; i < n; i++)
        if (who->tries[i].allowed)
            CHECK_MSG(seen[i], "%s may publish its own %s: refused", who->name,
                      who->tries[i].topic);
    printf("as %s (uid %u): checked %d topics\n", who->name, (unsigned)uid, n);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root to publish as other users\n");
        return 77;
    }
    if (!getpwnam("nobody") || !getpwnam("daemon")) {
        printf("SKIP: no users 'nobody' and 'daemon' here\n");
        return 77;
    }
    sec_setup();
    sec_start_bus(&bus, 0, NULL);
    hlb_sub_t *s = hlb_sub_new(sec_dir, NULL);
    CHECK(sec_sub_synced(s));
    int denied = 0;
    run_as(s, &(as_user_t){"nobody", nobody_tries, "test.names.nobody"}, &denied);
    run_as(s, &(as_user_t){"daemon", daemon_tries, "test.names.daemon"}, &denied);
    if (getpwnam("hl-metrics") && getpwnam("hl-health"))
        run_as(s, &(as_user_t){"hl-metrics", metrics_tries, "test.names.metrics"}, &denied);
    else
        printf("no users hl-metrics and hl-health here: their case runs in e2e.security-host\n");

    Hl__BusStats *st = sec_bus_stats();
    CHECK(st != NULL);
    if (st) {
        CHECK_MSG(st->denied == (uint64_t)denied, "denied %llu, expected %d",
                  (unsigned long long)st->denied, denied);
        hl__bus_stats__free_unpacked(st, NULL);
    }
    hlb_sub_destroy(&s);
    return sec_finish(&bus);
}
