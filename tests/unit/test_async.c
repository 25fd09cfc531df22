/* The runtime's asynchronous parts, in a real zloop: ctl calls (acall.h)
 * over real ipc sockets to a real hlb_server, and commands run as real
 * processes by the process runner (proc.h) on the reactor. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <hlbus/hlbus.h>

#include "check.h"
#include "hlbus/acall.h"

static char dir[64];
static zloop_t *loop;
static hlb_reactor_t *io;

/* ---- a loop that runs until a condition or a deadline ---- */

static bool *until_flag;
static int64_t until_deadline;
static int ticks;

static int on_until(zloop_t *l, int id, void *arg)
{
    return (until_flag && *until_flag) || zclock_mono() >= until_deadline ? -1 : 0;
}

static int on_tick(zloop_t *l, int id, void *arg)
{
    ticks++;
    return 0;
}

/* Runs the loop until *FLAG (NULL: for MS) or MS pass; whether FLAG is set. */
static bool run(bool *flag, int ms)
{
    until_flag = flag;
    until_deadline = zclock_mono() + ms;
    int t = zloop_timer(loop, 5, 0, on_until, NULL);
    zloop_start(loop);
    zloop_timer_end(loop, t);
    return flag ? *flag : true;
}

/* ---- a peer daemon ---- */

typedef struct {
    hlb_deferred_t *d;
    int64_t v;
} slow_t;
static slow_t slows[16];
static int nslow;
static uint64_t never_ids[8];
static int nnever;
static hlb_deferred_t *nevers[8];

static int on_server(zloop_t *l, zsock_t *s, void *arg)
{
    hlb_server_handle(arg);
    return 0;
}

static int on_slow_due(zloop_t *l, int id, void *arg)
{
    slow_t *s = arg;
    hlb_map_t *m = hlb_map_new();
    hlb_map_int(m, "v", s->v);
    hlb_reply_map(hlb_deferred_reply(s->d), m);
    hlb_map_destroy(&m);
    hlb_deferred_send(&s->d);
    return 0;
}

static void m_echo(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    int64_t v = 0;
    if (req->map)
        hlb_mpview_int(req->map, "v", &v);
    hlb_map_t *m = hlb_map_new();
    hlb_map_int(m, "v", v);
    hlb_reply_map(reply, m);
    hlb_map_destroy(&m);
}

static void m_slow(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    int64_t v = 0, ms = 300;
    if (req->map) {
        hlb_mpview_int(req->map, "v", &v);
        hlb_mpview_int(req->map, "ms", &ms);
    }
    slow_t *s = &slows[nslow++];
    s->v = v;
    s->d = hlb_request_defer(req, reply);
    zloop_timer(loop, (size_t)ms, 1, on_slow_due, s);
}

static void m_never(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    never_ids[nnever] = req->req->id;
    nevers[nnever++] = hlb_request_defer(req, reply);
}

static const hlb_method_t methods[] = {
    {"echo", m_echo, 0, ""}, {"slow", m_slow, 0, ""}, {"never", m_never, 0, ""}, {NULL, NULL, 0, NULL}};

static hlb_server_t *peer_new(const char *name)
{
    hlb_server_t *s = hlb_server_new(dir, name);
    if (s) {
        hlb_server_add_methods(s, methods, NULL);
        zloop_reader(loop, hlb_server_sock(s), on_server, s);
    }
    return s;
}

static void peer_destroy(hlb_server_t **s)
{
    if (!*s)
        return;
    zloop_reader_end(loop, hlb_server_sock(*s));
    hlb_server_destroy(s);
}

/* ---- calls ---- */

typedef struct {
    bool done;
    int rc;
    int status;
    int64_t v;
    int order;
} res_t;
static int done_count;

static void on_done(int rc, const Hl__Reply *r, void *arg)
{
    res_t *res = arg;
    res->done = true;
    res->rc = rc;
    res->order = ++done_count;
    if (rc == 0) {
        res->status = r->status;
        hlb_mpview_t *v = r->type && !strcmp(r->type, HLB_TYPE_MSGPACK)
                              ? hlb_mpview_new(r->body.data, r->body.len)
                              : NULL;
        if (v)
            hlb_mpview_int(v, "v", &res->v);
        hlb_mpview_destroy(&v);
    }
}

static hlb_acall_t *call(const char *daemon, const char *method, int64_t v, int64_t ms,
                       const hlb_acall_opts_t *o, res_t *res)
{
    hlb_map_t *m = hlb_map_new();
    hlb_map_int(m, "v", v);
    hlb_map_int(m, "ms", ms);
    size_t len;
    const void *d = hlb_map_data(m, &len);
    hlb_acall_t *c = hlb_acall_start(loop, dir, daemon, method, HLB_TYPE_MSGPACK, d, len, o, on_done, res);
    hlb_map_destroy(&m);
    return c;
}

static void test_calls(void)
{
    hlb_server_t *peer = peer_new("peer");
    CHECK(peer != NULL);
    hlb_acall_opts_t o = {.timeout_ms = 3000, .attempts = 1};

    /* two calls in flight: each gets its own answer, the fast one first, and
     * the loop keeps running meanwhile */
    res_t slow = {0}, fast = {0};
    done_count = 0;
    CHECK(call("peer", "slow", 1, 300, &o, &slow) != NULL);
    CHECK(call("peer", "echo", 2, 0, &o, &fast) != NULL);
    CHECK(hlb_acall_pending() == 2);
    ticks = 0;
    int tick = zloop_timer(loop, 10, 0, on_tick, NULL);
    CHECK(run(&slow.done, 5000));
    zloop_timer_end(loop, tick);
    CHECK(fast.done && fast.rc == 0 && fast.status == 0 && fast.v == 2 && fast.order == 1);
    CHECK(slow.rc == 0 && slow.v == 1 && slow.order == 2);
    CHECK_MSG(ticks >= 10, "the loop was blocked: %d ticks during a 300 ms call", ticks);
    CHECK(hlb_acall_pending() == 0);

    /* an error reply is a reply */
    res_t err = {0};
    call("peer", "nosuch", 0, 0, &o, &err);
    CHECK(run(&err.done, 3000) && err.rc == 0 && err.status != 0);

    /* no answer: retried with the same request id, then timed out */
    res_t to = {0};
    hlb_acall_opts_t quick = {.timeout_ms = 100, .attempts = 2};
    call("peer", "never", 0, 0, &quick, &to);
    CHECK(run(&to.done, 3000) && to.rc == -ETIMEDOUT);
    CHECK(nnever == 2 && never_ids[0] == never_ids[1] && never_ids[0] != 0);

    /* nobody there: refused, reported from the loop, not from the call */
    res_t ref = {0};
    hlb_acall_t *c = call("nobody", "echo", 0, 0, &o, &ref);
    CHECK(c != NULL && !ref.done);
    CHECK(run(&ref.done, 3000) && ref.rc == -ECONNREFUSED);

    /* a daemon that comes up while the call waits for it */
    res_t late = {0};
    hlb_acall_opts_t patient = {.timeout_ms = 2000, .attempts = 1, .connect_wait_ms = 3000};
    call("late", "echo", 7, 0, &patient, &late);
    run(NULL, 150);
    CHECK(!late.done);
    hlb_server_t *late_peer = peer_new("late");
    CHECK(run(&late.done, 3000) && late.rc == 0 && late.v == 7);

    /* cancelled: no callback, even when the reply comes */
    res_t can = {0};
    c = call("peer", "slow", 3, 100, &o, &can);
    hlb_acall_cancel(&c);
    CHECK(c == NULL);
    run(NULL, 300);
    CHECK(!can.done && hlb_acall_pending() == 0);
    hlb_acall_cancel(&c); /* NULL is fine */

    /* bad names never start */
    CHECK(hlb_acall_start(loop, dir, "Bad/Name", "echo", NULL, NULL, 0, &o, on_done, &can) == NULL);

    for (int i = 0; i < nnever; i++) {
        hlb_reply_error(hlb_deferred_reply(nevers[i]), ECANCELED, "test over");
        hlb_deferred_send(&nevers[i]);
    }
    run(NULL, 50);
    peer_destroy(&late_peer);
    peer_destroy(&peer);
}

/* ---- commands ---- */

typedef struct {
    bool done;
    hlb_proc_result_t r;
    char out[HLB_PROC_OUTPUT_MAX + 1];
} cres_t;

static void on_cmd(const hlb_proc_result_t *r, void *arg)
{
    cres_t *c = arg;
    c->done = true;
    c->r = *r;
    snprintf(c->out, sizeof c->out, "%s", r->output ? r->output : "");
    c->r.output = c->out;
}

static bool run_cmd_as(char *const argv[], int timeout_ms, bool tail, uid_t uid, gid_t gid,
                       cres_t *res)
{
    memset(res, 0, sizeof *res);
    hlb_proc_opts_t o = HLB_PROC_OPTS_INIT;
    o.argv = argv;
    o.timeout_ms = timeout_ms;
    o.keep_tail = tail;
    o.uid = uid;
    o.gid = gid;
    hlb_proc_t *c = hlb_proc_start(io, &o, on_cmd, res);
    if (!c)
        return false;
    CHECK(!res->done); /* never from inside the start */
    return run(&res->done, 10000);
}

static bool run_cmd(char *const argv[], int timeout_ms, cres_t *res)
{
    return run_cmd_as(argv, timeout_ms, true, HLB_PROC_SAME_USER, (gid_t)-1, res);
}

static hlb_proc_t *start_sleeper(cres_t *res)
{
    static char *sleeper[] = {"/bin/sleep", "30", NULL};
    hlb_proc_opts_t o = HLB_PROC_OPTS_INIT;
    o.argv = sleeper;
    o.timeout_ms = 30000;
    return hlb_proc_start(io, &o, on_cmd, res);
}

static void test_commands(void)
{
    cres_t r;
    char buf[64];
    char *exit3[] = {"/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3", NULL};
    CHECK(run_cmd(exit3, 5000, &r));
    CHECK(!hlb_proc_ok(&r.r) && WIFEXITED(r.r.status) && WEXITSTATUS(r.r.status) == 3);
    CHECK(strstr(r.out, "to-stdout") && strstr(r.out, "to-stderr"));
    hlb_proc_describe(&r.r, buf, sizeof buf);
    CHECK(strcmp(buf, "exit 3") == 0);

    char *ok[] = {"/bin/true", NULL};
    CHECK(run_cmd(ok, 5000, &r) && hlb_proc_ok(&r.r) && r.out[0] == '\0');

    /* the deadline kills the whole group: the grandchild too */
    char *hang[] = {"/bin/sh", "-c", "sleep 30 & echo $!; wait", NULL};
    CHECK(run_cmd(hang, 300, &r));
    CHECK(r.r.timed_out && !hlb_proc_ok(&r.r));
    hlb_proc_describe(&r.r, buf, sizeof buf);
    CHECK(strstr(buf, "timed out") != NULL);
    int64_t gpid;
    r.out[strcspn(r.out, "\n")] = '\0';
    CHECK_MSG(hlb_parse_int(r.out, &gpid) == 0 && gpid > 1, "%s", r.out);
    char path[64], stat[256] = "";
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)gpid);
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) { /* its reaper may take a moment */
        FILE *f = fopen(path, "r");
        if (!f) {
            gone = true;
            break;
        }
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        stat[n] = '\0';
        fclose(f);
        char *rp = strrchr(stat, ')');
        gone = rp && (rp[2] == 'Z' || rp[2] == 'X');
        if (!gone)
            run(NULL, 10);
    }
    CHECK_MSG(gone, "the grandchild %lld outlived the deadline: %s", (long long)gpid, stat);

    /* no shell, no PATH lookup; a missing program */
    char *rel[] = {"sleep", "1", NULL};
    CHECK(run_cmd(rel, 1000, &r) && r.r.error == -EINVAL);
    char *missing[] = {"/nonexistent/program", NULL};
    CHECK(run_cmd(missing, 1000, &r) && r.r.error == -ENOENT);
    hlb_proc_describe(&r.r, buf, sizeof buf);
    CHECK(strstr(buf, "cannot start") != NULL);

    /* the daemon blocks signals for its signalfd; the command must not */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    char *mask[] = {"/bin/grep", "SigBlk", "/proc/self/status", NULL};
    CHECK(run_cmd(mask, 5000, &r) && hlb_proc_ok(&r.r));
    CHECK_MSG(strstr(r.out, "0000000000000000") != NULL, "%s", r.out);
    sigprocmask(SIG_SETMASK, &old, NULL);

    /* a lot of output: the tail is kept */
    char *big[] = {"/bin/sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; echo THE-END", NULL};
    CHECK(run_cmd(big, 10000, &r) && hlb_proc_ok(&r.r));
    CHECK(strlen(r.out) <= HLB_PROC_OUTPUT_MAX && strstr(r.out, "THE-END") && !strstr(r.out, "line 0\n"));
    CHECK(r.r.output_dropped > 0 && r.r.output_len + r.r.output_dropped == 28898);
    /* ... or the head, and the rest counted */
    CHECK(run_cmd_as(big, 10000, false, HLB_PROC_SAME_USER, (gid_t)-1, &r) && hlb_proc_ok(&r.r));
    CHECK(r.r.output_len == HLB_PROC_OUTPUT_MAX && strncmp(r.out, "line 0\n", 7) == 0 &&
          !strstr(r.out, "THE-END"));
    uint64_t total = r.r.output_len + r.r.output_dropped;
    CHECK_MSG(total == 28898, /* 10*7 + 90*8 + 900*9 + 2000*10 + 8 */ "%llu bytes written", (unsigned long long)total);

    /* as another user: nobody (65534), with no supplementary groups */
    char *id[] = {"/usr/bin/id", NULL};
    CHECK(run_cmd_as(id, 5000, false, 65534, 65534, &r));
    if (geteuid() == 0) {
        CHECK_MSG(hlb_proc_ok(&r.r) && strstr(r.out, "uid=65534") && strstr(r.out, "gid=65534") &&
                      !strstr(r.out, "groups=0"),
                  "%s", r.out);
    } else { /* only root may: a clear error, not a command run as us */
        CHECK_MSG(r.r.error == -EPERM, "error %d", r.r.error);
    }
    /* the same user with the daemon's fds closed: only 0, 1, 2 (and ls' own) */
    char *fds[] = {"/bin/ls", "/proc/self/fd", NULL};
    CHECK(run_cmd_as(fds, 5000, false, geteuid(), getegid(), &r) && hlb_proc_ok(&r.r));
    CHECK_MSG(strcmp(r.out, "0\n1\n2\n3\n") == 0, "%s", r.out);
    CHECK(run_cmd(fds, 5000, &r) && hlb_proc_ok(&r.r));
    CHECK_MSG(strcmp(r.out, "0\n1\n2\n3\n") == 0, "%s", r.out);

    /* cancelled: killed, reaped, no callback */
    cres_t can = {0};
    hlb_proc_t *c = start_sleeper(&can);
    CHECK(c && hlb_proc_running() == 1);
    hlb_proc_cancel(&c);
    CHECK(c == NULL && hlb_proc_running() == 0);
    run(NULL, 50);
    CHECK(!can.done);

    /* at shutdown, what still runs is killed and reaped */
    c = start_sleeper(&can);
    CHECK(hlb_proc_running() == 1);
    hlb_proc_shutdown();
    CHECK(hlb_proc_running() == 0 && !can.done);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/fl-async-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    zsys_handler_set(NULL);
    loop = zloop_new();
    io = hlb_reactor_new(loop);
    test_calls();
    test_commands();
    hlb_acall_shutdown();
    hlb_reactor_destroy(&io);
    zloop_destroy(&loop);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
