/* The relay core with real unix sockets: permissions, relay semantics and
 * ordering, replay, resume, slow and dying clients, garbage, huge writes,
 * limits, events, reconfiguration, and connect/disconnect cycles. */
#include <grp.h>
#include <sys/resource.h>

#include "harness.h"

/* The stream a test writer produces: bytes whose high nibble names the
 * writer and whose low nibble is pseudo-random, so any reader can take an
 * interleaving apart and check each writer's bytes for order and holes. */
typedef struct {
    unsigned long long seed;
    uint8_t tag;
} tagger_t;

static void tag_fill(tagger_t *t, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(t->tag << 4 | (t_rand(&t->seed) & 15));
}

/* ------------------------------------------------------------------ tests */

static void test_permissions(void)
{
    t_setup(65536);
    struct stat st;
    REQUIRE(stat(t_main_path, &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQ_U(st.st_mode & 07777, 0660);
    CHECK_EQ_U(st.st_gid, getegid());
    REQUIRE(stat(t_ro_path, &st) == 0);
    CHECK_EQ_U(st.st_mode & 07777, 0660);
    REQUIRE(stat(t_attach_path, &st) == 0);
    CHECK_EQ_U(st.st_mode & 07777, 0660);
    /* No temporary names left behind. */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 3", t_dir);
    CHECK(system(cmd) == 0);

    /* World access is refused by the configuration check. */
    stdio_relay_conf_t c = t_conf;
    stdio_chan_conf_t ch = t_chan;
    c.channels = &ch;
    char err[256];
    ch.mode = 0666;
    CHECK(stdio_relay_conf_check(&c, err, sizeof err) == -EINVAL && strstr(err, "others"));
    ch.mode = 0662;
    CHECK(stdio_relay_conf_check(&c, err, sizeof err) == -EINVAL);
    ch.mode = 0660;
    c.attach_mode = 0606;
    CHECK(stdio_relay_conf_check(&c, err, sizeof err) == -EINVAL);
    c.attach_mode = 0660;
    ch.path = "relative.sock";
    CHECK(stdio_relay_conf_check(&c, err, sizeof err) == -EINVAL);
    ch.path = t_attach_path;
    CHECK(stdio_relay_conf_check(&c, err, sizeof err) == -EINVAL && strstr(err, "twice"));

    /* A reload changes group and mode in place, clients stay. */
    tclient_t *a = tc_raw(t_main_path);
    struct group *g = getgrnam("nogroup");
    ch = t_chan;
    ch.mode = 0600;
    if (g)
        ch.gid = g->gr_gid;
    CHECK(stdio_relay_configure(R, &c, err, sizeof err) == 0);
    REQUIRE(stat(t_main_path, &st) == 0);
    CHECK_EQ_U(st.st_mode & 07777, 0600);
    if (g)
        CHECK_EQ_U(st.st_gid, g->gr_gid);
    CHECK_EQ_U(stdio_relay_connections(R), 1);
    CHECK(!a->eof);
    t_teardown();
}

static void test_relay_basic(void)
{
    t_setup(65536);
    tclient_t *a = tc_raw(t_main_path);
    tclient_t *b = tc_raw(t_main_path);
    tclient_t *c = tc_raw(t_main_path);
    tc_write(a, "hello", 5);
    WAIT(b->in.len == 5 && c->in.len == 5);
    CHECK(memcmp(b->in.p, "hello", 5) == 0);
    tc_write(b, "x", 1);
    WAIT(a->in.len >= 1 && c->in.len == 6);
    /* A got B's byte and never its own. */
    CHECK_EQ_U(a->in.len, 1);
    CHECK(a->in.p[0] == 'x');
    CHECK(memcmp(c->in.p, "hellox", 6) == 0);
    CHECK_EQ_U(b->in.len, 5);
    /* The credentials are logged. */
    char needle[64];
    snprintf(needle, sizeof needle, "uid %u gid %u pid %ld", (unsigned)getuid(),
             (unsigned)getgid(), (long)getpid());
    CHECK(t_logged(needle));
    CHECK_EQ_U(t_attaches[0].ci.pid, getpid());
    CHECK(t_attaches[0].ci.cred_known);

    /* A half-closed client still receives. */
    shutdown(a->fd, SHUT_WR);
    tc_write(c, "yz", 2);
    WAIT(a->in.len == 3);
    CHECK(memcmp(a->in.p, "xyz", 3) == 0);
    CHECK_EQ_U(t_n_detach, 0);

    /* Closing is a detach with reason "closed". */
    tc_close(b);
    WAIT(t_n_detach == 1);
    CHECK(strcmp(t_detaches[0].reason, "closed") == 0);
    CHECK_EQ_U(t_detaches[0].ci.bytes_in, 1);
    CHECK_EQ_U(t_detaches[0].ci.bytes_out, 7);
    t_teardown();
}

static void test_ordering_many(void)
{
    enum { W = 8, TOTAL = 300000 };
    t_setup(65536);
    tclient_t *pure = tc_raw(t_main_path);
    tclient_t *w[W];
    tagger_t tg[W];
    size_t written[W] = {0};
    for (int i = 0; i < W; i++) {
        w[i] = tc_raw(i % 2 ? t_main_path : t_main_path);
        tg[i] = (tagger_t){.seed = 1000 + (unsigned long long)i, .tag = (uint8_t)i};
    }
    unsigned long long seed = 7;
    uint8_t buf[5000];
    bool more = true;
    while (more) {
        more = false;
        int i = (int)(t_rand(&seed) % W);
        for (int k = 0; k < W; k++)
            if (written[k] < TOTAL)
                more = true;
        if (written[i] >= TOTAL)
            continue;
        size_t n = 1 + t_rand(&seed) % sizeof buf;
        if (n > TOTAL - written[i])
            n = TOTAL - written[i];
        tag_fill(&tg[i], buf, n);
        tc_write(w[i], buf, n);
        written[i] += n;
        t_step();
    }
    WAIT(pure->in.len == (size_t)W * TOTAL);
    for (int i = 0; i < W; i++)
        WAIT(w[i]->in.len == (size_t)(W - 1) * TOTAL);
    CHECK_EQ_U(t_n_detach, 0);
    /* Each writer's bytes, in order, without holes, in every reader. */
    tagger_t ref[W];
    for (int i = 0; i < W; i++)
        ref[i] = (tagger_t){.seed = 1000 + (unsigned long long)i, .tag = (uint8_t)i};
    size_t bad = 0;
    for (size_t k = 0; k < pure->in.len; k++) {
        uint8_t b = pure->in.p[k], want;
        tag_fill(&ref[b >> 4], &want, 1);
        if (b != want)
            bad++;
    }
    CHECK_EQ_U(bad, 0);
    /* Every client sees the same interleaving, minus its own bytes. */
    for (int i = 0; i < W; i++) {
        size_t j = 0;
        bool same = true;
        for (size_t k = 0; k < pure->in.len && same; k++) {
            if (pure->in.p[k] >> 4 == i)
                continue;
            same = j < w[i]->in.len && w[i]->in.p[j++] == pure->in.p[k];
        }
        CHECK(same && j == w[i]->in.len);
    }
    t_teardown();
}

static void test_replay(void)
{
    t_setup(65536);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *p = tc_raw(t_main_path);
    uint8_t buf[100000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + i / 251);
    tc_write(w, buf, 10000);
    WAIT(p->in.len == 10000);
    tclient_t *l = tc_raw(t_main_path);
    WAIT(l->in.len == 10000);
    CHECK(memcmp(l->in.p, buf, 10000) == 0);
    /* Past the ring's size a late joiner gets the newest 64 KiB. */
    tc_write(w, buf + 10000, sizeof buf - 10000);
    WAIT(p->in.len == sizeof buf);
    tclient_t *l2 = tc_raw(t_main_path);
    WAIT(l2->in.len == 65536);
    CHECK(memcmp(l2->in.p, buf + sizeof buf - 65536, 65536) == 0);
    /* The read-only socket replays too. */
    tclient_t *ro = tc_raw(t_ro_path);
    WAIT(ro->in.len == 65536);
    CHECK(memcmp(ro->in.p, buf + sizeof buf - 65536, 65536) == 0);
    CHECK_EQ_U(t_n_detach, 0);
    t_teardown();
}

static uint64_t s_num(tclient_t *c, const char *key)
{
    char v[64];
    if (!stdio_wire_kv(c->s_text, strlen(c->s_text), key, v, sizeof v))
        return UINT64_MAX;
    return strtoull(v, NULL, strcmp(key, "stream") == 0 ? 16 : 10);
}

static void test_resume(void)
{
    t_setup(65536);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *p = tc_raw(t_main_path);
    static uint8_t buf[200000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i ^ (i >> 9));

    tclient_t *f1 = tc_attach("hl-stdio/1 attach main");
    WAIT(f1->started);
    CHECK_EQ_U(f1->start, 0);
    CHECK_EQ_U(s_num(f1, "missed"), 0);
    uint64_t stream = s_num(f1, "stream");
    CHECK(stream != UINT64_MAX && stream != 0);
    tc_write(w, buf, 5000);
    WAIT(f1->pos == 5000 && p->in.len == 5000);
    CHECK(memcmp(f1->in.p, buf, 5000) == 0);
    CHECK_EQ_U(f1->errors, 0);
    tc_close(f1);
    tc_write(w, buf + 5000, 3000);
    WAIT(p->in.len == 8000);

    /* Resume exactly where it left off: no duplicates, no holes. */
    tclient_t *f2 = tc_attach("hl-stdio/1 attach main from=5000");
    WAIT(f2->pos == 8000);
    CHECK_EQ_U(f2->start, 5000);
    CHECK_EQ_U(s_num(f2, "missed"), 0);
    CHECK_EQ_U(f2->in.len, 3000);
    CHECK(memcmp(f2->in.p, buf + 5000, 3000) == 0);

    char hello[200];
    snprintf(hello, sizeof hello, "hl-stdio/1 attach main from=%016llx:4000",
             (unsigned long long)stream);
    tclient_t *f3 = tc_attach(hello);
    WAIT(f3->pos == 8000);
    CHECK_EQ_U(f3->start, 4000);
    CHECK_EQ_U(s_num(f3, "reset"), 0);
    CHECK(memcmp(f3->in.p, buf + 4000, 4000) == 0);

    /* Fallen out of the ring: told how much was missed. */
    tc_write(w, buf + 8000, sizeof buf - 8000);
    WAIT(p->in.len == sizeof buf);
    tclient_t *f4 = tc_attach("hl-stdio/1 attach main from=5000");
    WAIT(f4->pos == sizeof buf);
    /* The ring keeps 1.25 x the scrollback. */
    uint64_t tail = sizeof buf - 81920;
    CHECK_EQ_U(f4->start, tail);
    CHECK_EQ_U(s_num(f4, "missed"), tail - 5000);
    CHECK_EQ_U(s_num(f4, "tail"), tail);
    CHECK_EQ_U(s_num(f4, "head"), sizeof buf);
    CHECK_EQ_U(f4->in.len, 81920);
    CHECK(memcmp(f4->in.p, buf + tail, 81920) == 0);

    /* from=now: nothing old. */
    tclient_t *f5 = tc_attach("hl-stdio/1 attach main from=now");
    WAIT(f5->started);
    CHECK_EQ_U(f5->start, sizeof buf);
    tc_write(w, "z", 1);
    WAIT(f5->pos == sizeof buf + 1);
    CHECK(f5->in.len == 1 && f5->in.p[0] == 'z');

    /* Beyond the head: refused. */
    tclient_t *f6 = tc_attach("hl-stdio/1 attach main from=999999999");
    WAIT(f6->ended && f6->eof);
    CHECK(strstr(f6->e_text, "beyond the head"));
    CHECK(!f6->started);

    /* Another stream's offset: a reset, told what this stream lost. */
    tclient_t *f7 = tc_attach("hl-stdio/1 attach main from=deadbeef:10");
    WAIT(f7->started);
    CHECK_EQ_U(s_num(f7, "reset"), 1);
    CHECK_EQ_U(f7->start, sizeof buf + 1 - 65536);
    CHECK_EQ_U(s_num(f7, "missed"), sizeof buf + 1 - 65536);

    /* A framed writer is told about its own bytes (K frames), so that its
     * position stays exact. */
    tclient_t *f8 = tc_attach("hl-stdio/1 attach main from=now");
    WAIT(f8->started);
    uint64_t h0 = f8->start;
    tc_write(f8, "abc", 3);
    WAIT(f8->pos == h0 + 3);
    CHECK_EQ_U(f8->skipped, 3);
    CHECK_EQ_U(f8->in.len, 0);
    tc_write(w, "d", 1);
    WAIT(f8->pos == h0 + 4);
    CHECK(f8->in.len == 1 && f8->in.p[0] == 'd');
    WAIT(p->in.len == sizeof buf + 5);
    CHECK(memcmp(p->in.p + sizeof buf, "zabcd", 5) == 0);
    CHECK_EQ_U(f2->errors + f3->errors + f4->errors + f5->errors + f7->errors + f8->errors, 0);
    /* Input that came in the same packet as the hello is not lost. */
    tclient_t *f9 = tc_connect(t_attach_path);
    f9->framed = true;
    tc_write(f9, "hl-stdio/1 attach main from=now\nearly", 37);
    WAIT(p->in.len == sizeof buf + 10);
    CHECK(memcmp(p->in.p + sizeof buf + 5, "early", 5) == 0);
    t_teardown();
}

static void test_slow_reader(void)
{
    enum { TOTAL = 4 << 20 };
    t_setup(65536);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *fast = tc_raw(t_main_path);
    tclient_t *stuck = tc_raw(t_main_path);
    tclient_t *stuckf = tc_attach("hl-stdio/1 attach main");
    WAIT(stuckf->started);
    stuck->paused = stuckf->paused = true;
    static uint8_t buf[TOTAL];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 31 + (i >> 12));
    for (size_t o = 0; o < TOTAL; o += 16384) {
        tc_write(w, buf + o, 16384);
        t_step();
    }
    WAIT(fast->in.len == TOTAL);
    /* The reader that kept up got every byte, in order. */
    CHECK(fast->in.len == TOTAL && memcmp(fast->in.p, buf, TOTAL) == 0);
    /* The two that did not were dropped, with a reason. */
    WAIT(t_n_detach == 2);
    CHECK(strncmp(t_detaches[0].reason, "slow: ", 6) == 0);
    CHECK(strncmp(t_detaches[1].reason, "slow: ", 6) == 0);
    stdio_chan_stats_t cs;
    /* Now they read: a correct prefix, then the end. */
    stuck->paused = stuckf->paused = false;
    WAIT(stuck->eof);
    CHECK(stuck->in.len > 0 && stuck->in.len < TOTAL);
    CHECK(memcmp(stuck->in.p, buf, stuck->in.len) == 0);
    WAIT(stuckf->eof);
    CHECK(stuckf->ended);
    CHECK(strncmp(stuckf->e_text, "slow: ", 6) == 0);
    CHECK_EQ_U(stuckf->errors, 0);
    CHECK_EQ_U(stuckf->e_offset, stuckf->pos);
    CHECK(stuckf->in.len > 0 && stuckf->in.len < TOTAL);
    CHECK(memcmp(stuckf->in.p, buf, stuckf->in.len) == 0);
    (void)cs;
    CHECK_EQ_U(stdio_relay_connections(R), 2);
    t_teardown();
}

static uint64_t s_pauses;
static void pauses_of(const stdio_chan_stats_t *cs, void *arg)
{
    (void)arg;
    s_pauses = cs->pauses;
}
static uint64_t chan_pauses(void)
{
    stdio_relay_each(R, pauses_of, NULL, NULL);
    return s_pauses;
}

/* At the agent's rates the ring absorbs a client that stops reading: the
 * writer is never held back, not even for the stall timeout, and the
 * client stays attached while it has room. */
static void test_stuck_reader_slow_writer(void)
{
    t_setup(1 << 20);
    t_conf.stall_timeout_ms = 60000; /* would be noticed if it ever applied */
    char err[256];
    REQUIRE(stdio_relay_configure(R, &t_conf, err, sizeof err) == 0);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *fast = tc_raw(t_main_path);
    tclient_t *stuck = tc_raw(t_main_path);
    stuck->paused = true;
    char line[100];
    size_t total = 0;
    for (int i = 0; i < 5000; i++) { /* 500 KB of "output", line by line */
        snprintf(line, sizeof line, "%04d: %-90s\n", i, "the agent says something");
        tc_write(w, line, strlen(line));
        total += strlen(line);
        if (i % 50 == 0)
            t_step();
    }
    WAIT(fast->in.len == total);
    CHECK_EQ_U(chan_pauses(), 0);
    CHECK_EQ_U(t_n_detach, 0);
    stuck->paused = false;
    WAIT(stuck->in.len == total);
    CHECK(memcmp(stuck->in.p, fast->in.p, total) == 0);
    t_teardown();
}

/* stall_timeout 0: no backpressure at all. A stuck client is dropped as
 * soon as it falls out of the ring, and the writer never waits. */
static void test_no_backpressure(void)
{
    enum { TOTAL = 2 << 20 };
    t_setup(65536);
    t_conf.stall_timeout_ms = 0;
    char err[256];
    REQUIRE(stdio_relay_configure(R, &t_conf, err, sizeof err) == 0);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *fast = tc_raw(t_main_path);
    tclient_t *stuck = tc_raw(t_main_path);
    stuck->paused = true;
    static uint8_t buf[TOTAL];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 13);
    for (size_t o = 0; o < TOTAL; o += 4096) {
        tc_write(w, buf + o, 4096);
        t_step();
    }
    WAIT(fast->in.len == TOTAL);
    CHECK(memcmp(fast->in.p, buf, TOTAL) == 0);
    WAIT(t_n_detach == 1);
    CHECK(strncmp(t_detaches[0].reason, "slow: ", 6) == 0);
    CHECK_EQ_U(chan_pauses(), 0);
    t_teardown();
}

static void test_read_only(void)
{
    t_setup(65536);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *ro = tc_raw(t_ro_path);
    tclient_t *rof = tc_attach("hl-stdio/1 attach main read-only");
    WAIT(rof->started);
    CHECK_EQ_U(s_num(rof, "read-only"), 1);
    tc_write(w, "out", 3);
    WAIT(ro->in.len == 3 && rof->in.len == 3);
    /* Their writes are refused by the kernel. */
    CHECK(send(ro->fd, "in", 2, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno == EPIPE);
    CHECK(send(rof->fd, "in", 2, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno == EPIPE);
    tc_write(w, "more", 4);
    WAIT(ro->in.len == 7 && rof->in.len == 7);
    CHECK_EQ_U(w->in.len, 0);
    CHECK(t_attaches[1].ci.read_only && t_attaches[2].ci.read_only);
    CHECK(!t_attaches[0].ci.read_only);
    /* They are still attached and detach normally. */
    tc_close(ro);
    WAIT(t_n_detach == 1);
    t_teardown();
}

static uint64_t lag_behind(uint64_t id);
static uint64_t s_head;
static void head_of(const stdio_chan_stats_t *cs, void *arg)
{
    (void)arg;
    s_head = cs->head;
}
static uint64_t chan_head(void)
{
    stdio_relay_each(R, head_of, NULL, NULL);
    return s_head;
}

/* A writer that dies with its bytes still queued to the relay, and with
 * bytes for it unread (so the relay sees a reset): nothing it wrote is lost. */
static void test_dying_writer_queued(void)
{
    t_setup(1 << 20);
    tclient_t *p = tc_raw(t_main_path);
    int done[2], go[2];
    REQUIRE(pipe(done) == 0 && pipe(go) == 0);
    int before = t_n_attach;
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int fd = t_connect_fd(t_main_path);
        static uint8_t b[100000];
        memset(b, 'k', sizeof b);
        char g;
        /* Wait for the word, write, report, and wait to be killed. */
        if (fd < 0 || read(go[0], &g, 1) != 1)
            _exit(2);
        if (write(fd, b, sizeof b) != (ssize_t)sizeof b || write(done[1], "w", 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    close(done[1]);
    close(go[0]);
    WAIT(t_n_attach > before);
    uint64_t id = t_attaches[t_n_attach - 1].id;
    tc_write(p, "unread", 6);
    WAIT(chan_head() == 6 && lag_behind(id) == 0);
    /* From here the relay does not run until the writer is dead. */
    char w;
    REQUIRE(write(go[1], "g", 1) == 1);
    REQUIRE(read(done[0], &w, 1) == 1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(done[0]);
    close(go[1]);
    WAIT(t_n_detach == 1);
    CHECK(strcmp(t_detaches[0].reason, "closed") == 0);
    CHECK_EQ_U(t_detaches[0].ci.bytes_in, 100000);
    WAIT(p->in.len == 100000);
    t_teardown();
}

/* A client that only writes and shut its reading side: the relay's writes
 * to it fail, and it must still be heard (and not dropped as slow). */
static void test_write_only_client(void)
{
    t_setup(65536);
    tclient_t *p = tc_raw(t_main_path);
    tclient_t *wo = tc_raw(t_main_path);
    shutdown(wo->fd, SHUT_RD);
    wo->paused = true;
    static uint8_t big[200000];
    memset(big, 'p', sizeof big);
    tc_write(p, big, sizeof big); /* more than its ring: would be "slow" */
    tc_write(wo, "still heard", 11);
    WAIT(p->in.len == 11);
    CHECK(memcmp(p->in.p, "still heard", 11) == 0);
    CHECK_EQ_U(t_n_detach, 0);
    tc_close(wo);
    WAIT(t_n_detach == 1);
    CHECK(strcmp(t_detaches[0].reason, "closed") == 0);
    t_teardown();
}

static void test_dying_clients(void)
{
    t_setup(1 << 20);
    tclient_t *p = tc_raw(t_main_path);
    int before = t_n_attach;
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        /* A writer that is killed in the middle of a large write. */
        int fd = t_connect_fd(t_main_path);
        if (fd < 0)
            _exit(2);
        tagger_t tg = {.seed = 99, .tag = 5};
        static uint8_t b[1 << 20];
        for (;;) {
            tag_fill(&tg, b, sizeof b);
            if (write(fd, b, sizeof b) < 0)
                _exit(3);
        }
    }
    WAIT(t_n_attach > before);
    /* It never reads: what P says stays unread in its socket, so its death
     * is a reset (EPOLLERR), which must not lose what it wrote. */
    tc_write(p, "unread", 6);
    WAIT(p->in.len >= (3u << 20));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    WAIT(t_n_detach == 1);
    CHECK(strcmp(t_detaches[0].reason, "closed") == 0);
    /* What arrived is exactly a prefix of what it wrote. */
    size_t got = p->in.len;
    CHECK_EQ_U(got, t_detaches[0].ci.bytes_in);
    tagger_t ref = {.seed = 99, .tag = 5};
    uint8_t *want = malloc(got);
    tag_fill(&ref, want, got);
    CHECK(memcmp(p->in.p, want, got) == 0);
    free(want);

    /* A reader that dies with data in flight to it: it reads a little and
     * then stops, so its socket is full when it is killed. */
    before = t_n_attach;
    int sync[2];
    REQUIRE(pipe(sync) == 0);
    child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int fd = t_connect_fd(t_main_path);
        if (fd < 0)
            _exit(2);
        char b[1000];
        if (read(fd, b, sizeof b) <= 0 || write(sync[1], "r", 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    close(sync[1]);
    WAIT(t_n_attach > before);
    tclient_t *w = tc_raw(t_main_path);
    static uint8_t big[256 << 10];
    memset(big, 'q', sizeof big);
    tc_write(w, big, sizeof big);
    char r1;
    REQUIRE(read(sync[0], &r1, 1) == 1);
    close(sync[0]);
    WAIT(p->in.len == got + sizeof big);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    WAIT(t_n_detach == 2);
    for (int i = 0; i < 8; i++)
        tc_write(w, big, sizeof big);
    CHECK(strcmp(t_detaches[1].reason, "closed") == 0);
    if (strcmp(t_detaches[1].reason, "closed"))
        fprintf(stderr, "reason: %s\n", t_detaches[1].reason);
    WAIT(p->in.len == got + 9 * sizeof big);
    CHECK_EQ_U(stdio_relay_connections(R), 2);
    t_teardown();
}

static void test_garbage(void)
{
    t_setup(65536);
    t_conf.hello_timeout_ms = 200;
    char err[256];
    REQUIRE(stdio_relay_configure(R, &t_conf, err, sizeof err) == 0);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *p = tc_raw(t_main_path);
    /* Every byte value, unchanged. */
    uint8_t all[256 * 40];
    for (size_t i = 0; i < sizeof all; i++)
        all[i] = (uint8_t)(i % 256 ^ i / 256);
    tc_write(w, all, sizeof all);
    WAIT(p->in.len == sizeof all);
    CHECK(memcmp(p->in.p, all, sizeof all) == 0);

    /* Garbage instead of a hello. */
    tclient_t *g1 = tc_connect(t_attach_path);
    g1->framed = true;
    tc_write(g1, "\x00\xff\x1b[2J garbage\n", 16);
    WAIT(g1->eof);
    CHECK(g1->ended && strncmp(g1->e_text, "error: expected", 15) == 0);
    CHECK(!strchr(g1->e_text, 0x1b));
    /* Endless line. */
    tclient_t *g2 = tc_connect(t_attach_path);
    g2->framed = true;
    uint8_t junk[3000];
    unsigned long long seed = 5;
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (uint8_t)t_rand(&seed);
        if (junk[i] == '\n')
            junk[i] = 'n';
    }
    tc_write(g2, junk, sizeof junk);
    WAIT(g2->eof);
    CHECK(g2->ended && strstr(g2->e_text, "longer than 1024"));
    /* Silence. */
    tclient_t *g3 = tc_connect(t_attach_path);
    g3->framed = true;
    WAIT(g3->eof);
    CHECK(g3->ended && strstr(g3->e_text, "no hello within"));
    /* Unknown channel; a hello cut short by a hang-up. */
    tclient_t *g4 = tc_attach("hl-stdio/1 attach nosuch");
    WAIT(g4->eof);
    CHECK(g4->ended && strstr(g4->e_text, "no channel"));
    tclient_t *g5 = tc_connect(t_attach_path);
    tc_write(g5, "hl-stdio/1 att", 14);
    tc_close(g5);
    /* Still relaying, nobody attached by any of that. */
    tc_write(w, "ok", 2);
    WAIT(p->in.len == sizeof all + 2);
    WAIT(stdio_relay_connections(R) == 2);
    CHECK_EQ_U(t_n_attach, 2);
    CHECK_EQ_U(t_n_detach, 0);
    t_teardown();
}

static void test_huge_write(void)
{
    enum { TOTAL = 32 << 20 };
    t_setup(65536);
    tclient_t *p = tc_raw(t_main_path);
    tclient_t *p2 = tc_attach("hl-stdio/1 attach main");
    WAIT(p2->started);
    int before = t_n_attach;
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int fd = t_connect_fd(t_main_path);
        if (fd < 0)
            _exit(2);
        uint8_t *b = malloc(TOTAL);
        tagger_t tg = {.seed = 3, .tag = 9};
        tag_fill(&tg, b, TOTAL);
        /* One write call for all of it. */
        ssize_t n = write(fd, b, TOTAL);
        _exit(n == TOTAL ? 0 : 4);
    }
    WAIT(t_n_attach > before);
    WAIT(p->in.len == TOTAL && p2->pos == p2->start + TOTAL);
    int status = -1;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    uint8_t *want = malloc(TOTAL);
    tagger_t ref = {.seed = 3, .tag = 9};
    tag_fill(&ref, want, TOTAL);
    CHECK(p->in.len == TOTAL && memcmp(p->in.p, want, TOTAL) == 0);
    CHECK(p2->in.len == TOTAL && memcmp(p2->in.p, want, TOTAL) == 0);
    CHECK_EQ_U(p2->errors, 0);
    free(want);
    t_teardown();
}

static void test_cycles(void)
{
    t_setup(65536);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *p = tc_raw(t_main_path);
    tc_write(w, "scrollback", 10);
    WAIT(p->in.len == 10);
    unsigned fds0 = t_count_fds();
    int cycles = 0;
    for (int round = 0; round < 20; round++) {
        tclient_t *c[50];
        for (int i = 0; i < 50; i++) {
            switch (i % 5) {
            case 0:
                c[i] = tc_connect(t_main_path);
                break;
            case 1:
                c[i] = tc_connect(t_ro_path);
                break;
            case 2:
                c[i] = tc_attach("hl-stdio/1 attach main");
                break;
            case 3:
                c[i] = tc_attach("hl-stdio/1 attach main read-only from=3");
                break;
            default:
                c[i] = tc_connect(t_attach_path); /* leaves before its hello */
                break;
            }
        }
        /* Some write, all wait for their scrollback, then all go. */
        for (int i = 0; i < 50; i += 5)
            tc_write(c[i], "w", 1);
        for (int i = 0; i < 50; i++) {
            if (i % 5 == 4)
                continue;
            size_t want = i % 5 == 3 ? 7 : 10;
            WAIT(c[i]->in.len >= want);
        }
        for (int i = 0; i < 50; i++) {
            tc_close(c[i]);
            cycles++;
        }
        WAIT(stdio_relay_connections(R) == 2);
    }
    CHECK_EQ_U(cycles, 1000);
    WAIT(p->in.len == 10 + 200);
    CHECK_EQ_U(t_count_fds(), fds0);
    CHECK_EQ_U(stdio_relay_connections(R), 2);
    t_teardown();
}

static void test_limits(void)
{
    t_setup(65536);
    t_chan.max_clients = 2;
    t_conf.max_pending = 2;
    char err[256];
    REQUIRE(stdio_relay_configure(R, &t_conf, err, sizeof err) == 0);
    tclient_t *a = tc_raw(t_main_path);
    tclient_t *b = tc_raw(t_ro_path);
    tclient_t *c = tc_connect(t_main_path);
    WAIT(c->eof);
    CHECK_EQ_U(c->in.len, 0);
    tclient_t *f = tc_attach("hl-stdio/1 attach main");
    WAIT(f->eof);
    CHECK(f->ended && strstr(f->e_text, "has 2 clients already"));
    CHECK(t_logged("refused"));
    /* Only two connections may wait for their hello. */
    tclient_t *h1 = tc_connect(t_attach_path);
    tclient_t *h2 = tc_connect(t_attach_path);
    WAIT(stdio_relay_connections(R) == 4);
    tclient_t *h3 = tc_connect(t_attach_path);
    WAIT(h3->eof);
    CHECK(!h1->eof && !h2->eof && !a->eof && !b->eof);
    t_teardown();
}

static void test_events(void)
{
    t_setup(65536);
    t_conf.event_interval_ms = 50;
    t_conf.event_max_bytes = 100;
    char err[256];
    REQUIRE(stdio_relay_configure(R, &t_conf, err, sizeof err) == 0);
    tclient_t *w = tc_raw(t_main_path);
    tc_write(w, "a", 1);
    WAIT(t_data_events == 1);
    CHECK(t_data.len == 1 && t_data.p[0] == 'a');
    /* Many small writes: coalesced into few events, nothing lost. */
    for (int i = 0; i < 30; i++) {
        tc_write(w, "b", 1);
        t_step();
    }
    WAIT(t_data_end == 31);
    CHECK(t_data_events < 31);
    CHECK_EQ_U(t_data.len, 31);
    CHECK_EQ_U(t_data_skipped, 0);
    /* A burst above the cap: the newest bytes, the rest counted. */
    uint8_t big[1000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    int ev0 = t_data_events;
    tc_write(w, big, sizeof big);
    WAIT(t_data_end == 1031);
    CHECK(t_data_skipped > 0);
    CHECK_EQ_U(t_data.len + t_data_skipped, 1031);
    CHECK(memcmp(t_data.p + t_data.len - 100, big + 900, 100) == 0);
    CHECK(t_data_events > ev0);
    CHECK_EQ_U(t_data_errors, 0);
    /* A channel that does not publish. */
    t_chan.publish = false;
    REQUIRE(stdio_relay_configure(R, &t_conf, err, sizeof err) == 0);
    tclient_t *p = tc_raw(t_main_path);
    int ev1 = t_data_events;
    tc_write(w, "silent", 6);
    WAIT(p->in.len == 1031 + 6);
    CHECK_EQ_U(t_data_events, ev1);
    t_teardown();
}

static uint64_t s_lag_id, s_lag;
static void lag_client(const stdio_client_info_t *ci, void *arg)
{
    (void)arg;
    if (ci->id == s_lag_id)
        s_lag = ci->lag;
}
static uint64_t lag_behind(uint64_t id)
{
    s_lag_id = id;
    s_lag = UINT64_MAX;
    stdio_relay_each(R, NULL, lag_client, NULL);
    return s_lag;
}

static void test_reconfigure(void)
{
    t_setup(65536);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *p = tc_raw(t_main_path);
    stdio_chan_conf_t ch[2] = {t_chan, t_chan};
    char dev_path[256], err[256];
    snprintf(dev_path, sizeof dev_path, "%s/dev.sock", t_dir);
    ch[1].name = "dev";
    ch[1].path = dev_path;
    ch[1].ro_path = NULL;
    stdio_relay_conf_t c = t_conf;
    c.channels = ch;
    c.n_channels = 2;
    REQUIRE(stdio_relay_configure(R, &c, err, sizeof err) == 0);
    struct stat st;
    CHECK(stat(dev_path, &st) == 0 && S_ISSOCK(st.st_mode));
    tclient_t *d = tc_raw(dev_path);
    tclient_t *df = tc_attach("hl-stdio/1 attach dev");
    WAIT(df->started);
    tc_write(d, "dev!", 4);
    WAIT(df->in.len == 4);
    CHECK_EQ_U(p->in.len, 0); /* channels are separate */

    /* A bad change leaves everything as it was. */
    char file_path[256];
    snprintf(file_path, sizeof file_path, "%s/not-a-socket", t_dir);
    FILE *fp = fopen(file_path, "w");
    REQUIRE(fp);
    fclose(fp);
    stdio_chan_conf_t bad[3] = {ch[0], ch[1], t_chan};
    bad[2].name = "third";
    bad[2].path = file_path;
    bad[2].ro_path = NULL;
    c.channels = bad;
    c.n_channels = 3;
    CHECK(stdio_relay_configure(R, &c, err, sizeof err) == -EEXIST);
    CHECK(strstr(err, "not a socket"));
    CHECK(access(file_path, F_OK) == 0);
    tc_write(w, "still", 5);
    WAIT(p->in.len == 5);

    /* A stale socket file is replaced; a live one is not. */
    char stale_path[256];
    snprintf(stale_path, sizeof stale_path, "%s/stale.sock", t_dir);
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    t_addr(&sa, stale_path);
    REQUIRE(bind(sfd, (struct sockaddr *)&sa, sizeof sa) == 0);
    REQUIRE(listen(sfd, 1) == 0);
    bad[2].path = stale_path;
    CHECK(stdio_relay_configure(R, &c, err, sizeof err) == -EADDRINUSE);
    close(sfd);
    CHECK(stdio_relay_configure(R, &c, err, sizeof err) == 0);
    tclient_t *t3 = tc_raw(stale_path);
    CHECK(!t3->eof);

    /* Removing a channel tells its attach clients and removes its socket. */
    c.channels = ch;
    c.n_channels = 1;
    REQUIRE(stdio_relay_configure(R, &c, err, sizeof err) == 0);
    WAIT(df->eof && d->eof && t3->eof);
    CHECK(df->ended && strstr(df->e_text, "channel removed"));
    CHECK(access(dev_path, F_OK) < 0 && access(stale_path, F_OK) < 0);
    /* main went on untouched. */
    tc_write(w, "on", 2);
    WAIT(p->in.len == 7);
    CHECK(!w->eof && !p->eof);

    /* A smaller scrollback drops those behind it: fill a paused client's
     * socket until the rest of what it is owed waits in the ring. */
    tclient_t *lag = tc_raw(t_main_path);
    lag->paused = true;
    uint64_t lag_id = t_attaches[t_n_attach - 1].id;
    char piece[1000];
    memset(piece, 'L', sizeof piece);
    size_t sent = 7;
    while (lag_behind(lag_id) < 8192) {
        tc_write(w, piece, sizeof piece);
        sent += sizeof piece;
        WAIT(p->in.len == sent);
    }
    CHECK(lag_behind(lag_id) < 32768);
    int det = t_n_detach;
    ch[0].scrollback = 4096;
    REQUIRE(stdio_relay_configure(R, &c, err, sizeof err) == 0);
    CHECK_EQ_U(t_n_detach, det + 1);
    CHECK_EQ_U(t_detaches[det].id, lag_id);
    CHECK(strncmp(t_detaches[det].reason, "slow:", 5) == 0);
    CHECK(!p->eof && !w->eof);
    tclient_t *late = tc_raw(t_main_path);
    WAIT(late->in.len == 4096);
    t_teardown();
}

static void test_shutdown(void)
{
    t_setup(65536);
    tclient_t *r = tc_raw(t_main_path);
    tclient_t *f = tc_attach("hl-stdio/1 attach main");
    WAIT(f->started);
    stdio_relay_shutdown(R, "shutdown");
    WAIT(f->eof && r->eof);
    CHECK(f->ended && strcmp(f->e_text, "shutdown\n") == 0);
    CHECK(access(t_main_path, F_OK) < 0 && access(t_attach_path, F_OK) < 0);
    CHECK_EQ_U(stdio_relay_connections(R), 0);
    t_teardown();
}

static void test_attach_permission(void)
{
    struct group *g = getgrnam("nogroup");
    if (geteuid() != 0 || !g) {
        fprintf(stderr, "skipped: needs root and group nogroup\n");
        return;
    }
    gid_t nog = g->gr_gid;
    t_setup(65536);
    /* The attach socket admits group nogroup; channel main only root's group. */
    t_conf.attach_gid = nog;
    t_chan.gid = 0;
    char err[256];
    REQUIRE(stdio_relay_configure(R, &t_conf, err, sizeof err) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (setgroups(0, NULL) < 0 || setgid(nog) < 0 || setuid(65534) < 0)
            _exit(10);
        /* The raw socket is closed to it: 0660 and not its group. */
        int fd = t_connect_fd(t_main_path);
        if (fd >= 0 || errno != EACCES)
            _exit(11);
        fd = t_connect_fd(t_attach_path);
        if (fd < 0)
            _exit(12);
        const char *h = "hl-stdio/1 attach main\n";
        if (write(fd, h, strlen(h)) < 0)
            _exit(13);
        char buf[512];
        size_t got = 0;
        ssize_t n;
        while ((n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)n;
        buf[got] = 0;
        _exit(got > 16 && buf[0] == 'E' && strstr(buf + 16, "not allowed") ? 0 : 14);
    }
    int status = -1;
    WAIT(waitpid(child, &status, WNOHANG) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFEXITED(status) && WEXITSTATUS(status))
        fprintf(stderr, "child exit %d\n", WEXITSTATUS(status));
    CHECK(t_logged("not allowed"));
    CHECK(t_logged("uid 65534"));
    CHECK_EQ_U(t_n_attach, 0);
    t_teardown();
}

/* Out of file descriptors: connections beyond the limit are refused at
 * once (no spinning on a listener that stays readable), the attached ones
 * carry on, and new ones are accepted once descriptors are free again. */
static void test_out_of_fds(void)
{
    t_setup(65536);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *p = tc_raw(t_main_path);
    /* Ten connections wait in the backlog; then the limit leaves room for two. */
    int fds[10];
    for (int i = 0; i < 10; i++)
        REQUIRE((fds[i] = t_connect_fd(t_main_path)) >= 0);
    /* The limit is on descriptor numbers: leave exactly two free below it. */
    int limit = 0;
    for (int fd = 0, free_fds = 0; fd < 4096 && free_fds < 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0)
            free_fds++;
        limit = fd + 1;
    }
    struct rlimit old;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
    struct rlimit low = {.rlim_cur = (rlim_t)limit, .rlim_max = old.rlim_max};
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    /* Each waiting connection is either attached or hung up on. */
    int attached0 = t_n_attach;
    int done = 0;
    uint64_t deadline = t_now_ms() + 20000;
    bool eof[10] = {false};
    while (done < 10 && t_now_ms() < deadline) {
        t_step();
        done = t_n_attach - attached0;
        for (int i = 0; i < 10; i++) {
            char b;
            if (!eof[i] && recv(fds[i], &b, 1, MSG_DONTWAIT | MSG_PEEK) == 0)
                eof[i] = true;
            done += eof[i];
        }
    }
    int refused = 0;
    for (int i = 0; i < 10; i++)
        refused += eof[i];
    CHECK_EQ_U(done, 10);
    CHECK(refused >= 7); /* two taken, and the reserve lets one more in at most */
    CHECK(t_logged("out of file descriptors"));
    REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0);
    for (int i = 0; i < 10; i++)
        close(fds[i]);
    /* Still relaying, and accepting again. */
    tc_write(w, "ok", 2);
    WAIT(p->in.len == 2);
    tclient_t *late = tc_raw(t_main_path);
    WAIT(late->in.len == 2);
    t_teardown();
}

static int s_chans, s_clients;
static void each_chan(const stdio_chan_stats_t *cs, void *arg)
{
    (void)arg;
    s_chans++;
    CHECK(strcmp(cs->name, "main") == 0);
    CHECK_EQ_U(cs->head, 6);
    CHECK_EQ_U(cs->clients, 2);
    CHECK_EQ_U(cs->bytes_out, 6);
}
static void each_client(const stdio_client_info_t *ci, void *arg)
{
    (void)arg;
    s_clients++;
    CHECK_EQ_U(ci->position, 6);
    CHECK_EQ_U(ci->lag, 0);
}

static void test_stats(void)
{
    t_setup(65536);
    tclient_t *w = tc_raw(t_main_path);
    tclient_t *p = tc_raw(t_main_path);
    tc_write(w, "sixsix", 6);
    WAIT(p->in.len == 6);
    stdio_relay_each(R, each_chan, each_client, NULL);
    CHECK_EQ_U(s_chans, 1);
    CHECK_EQ_U(s_clients, 2);
    t_teardown();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    TEST(test_permissions);
    TEST(test_relay_basic);
    TEST(test_ordering_many);
    TEST(test_replay);
    TEST(test_resume);
    TEST(test_slow_reader);
    TEST(test_stuck_reader_slow_writer);
    TEST(test_no_backpressure);
    TEST(test_read_only);
    TEST(test_dying_writer_queued);
    TEST(test_write_only_client);
    TEST(test_dying_clients);
    TEST(test_garbage);
    TEST(test_huge_write);
    TEST(test_cycles);
    TEST(test_limits);
    TEST(test_events);
    TEST(test_reconfigure);
    TEST(test_shutdown);
    TEST(test_attach_permission);
    TEST(test_out_of_fds);
    TEST(test_stats);
    return check_done();
}
