/* Every probe kind against real peers: hl-test-httpd on loopback (200, 500,
 * slow, hang, slowloris trickle, reset, redirect loop, huge body, body
 * match), openssl s_server for TLS, closed ports for TCP, real processes for
 * exec (exit codes, output bound, hangs that leave children) and statvfs. */
#include <pwd.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include "hh_test.h"

static const char *httpd_path;
static httpd_t srv;
static zloop_t *loop;
static hlb_reactor_t *io; /* the reactor the engines share, as in the daemon */

typedef struct {
    hh_result_t r;
    char *detail;
    char *out;
    size_t outlen;
    uint64_t dur_us;
} res_t;

static void res_free(res_t *r)
{
    free(r->detail);
    free(r->out);
}

/* Runs SPEC once in a fresh engine; returns its result. */
static res_t run_one(hh_check_spec_t spec)
{
    hh_engine_t *e = hh_engine_new(io);
    CHECK(e);
    add_service(e, "svc", NULL);
    char *name = strdup(spec.name);
    spec.interval_ms = 60000; /* one run in this test */
    add_check(e, &spec);
    CHECK(hh_engine_start(e) == 0);
    hh_check_t *c = wait_runs(loop, e, name, 1, 20000);
    res_t r = {c->last_result, strdup(c->last_detail), malloc(c->last_out.len + 1),
               c->last_out.len, c->last_duration_us};
    memcpy(r.out, c->last_out.data, c->last_out.len);
    r.out[r.outlen] = 0;
    printf("  %-14s %s: %s\n", name, hh_result_name(r.r), r.detail);
    free(name);
    hh_engine_destroy(&e);
    return r;
}

static void expect(hh_check_spec_t spec, hh_result_t want, const char *detail_has)
{
    res_t r = run_one(spec);
    if (r.r != want || (detail_has && !strstr(r.detail, detail_has))) {
        fprintf(stderr, "expected %s with \"%s\", got %s \"%s\"\n", hh_result_name(want),
                detail_has ? detail_has : "", hh_result_name(r.r), r.detail);
        abort();
    }
    res_free(&r);
}

static hh_check_spec_t H(const char *path)
{
    return http_spec(path, "svc", srv.port, path);
}

static uint64_t server_stat(const char *key)
{
    /* Reads /stats through a check's output: the fixture counts per route. */
    hh_check_spec_t s = H("/stats");
    res_t r = run_one(s);
    uint64_t v = 0;
    char *p = strstr(r.out, key);
    if (p)
        v = strtoull(p + strlen(key) + 1, NULL, 10);
    res_free(&r);
    return v;
}

static void test_http(void)
{
    expect(H("/ok"), HH_PASS, "HTTP 200");
    expect(H("/fail"), HH_FAIL, "HTTP 500, expected 200-399");
    expect(H("/status/404"), HH_FAIL, "HTTP 404");
    hh_check_spec_t s = H("/status/204");
    s.u.http.status_min = s.u.http.status_max = 204;
    expect(s, HH_PASS, "HTTP 204");

    expect(H("/slow/100"), HH_PASS, "HTTP 200");
    s = H("/slow/3000");
    s.timeout_ms = 300;
    expect(s, HH_FAIL, "timed out after 300 ms");
    s = H("/hang");
    s.timeout_ms = 300;
    expect(s, HH_FAIL, "timed out after 300 ms");
    s = H("/trickle");
    s.timeout_ms = 500;
    expect(s, HH_FAIL, "timed out after 500 ms");
    expect(H("/reset"), HH_FAIL, NULL);

    /* A redirect is a 3xx status: inside the default 200-399 range, not
     * inside 200-299; followed, the loop ends at max_redirects. */
    expect(H("/redirect"), HH_PASS, "HTTP 302");
    s = H("/redirect");
    s.u.http.status_max = 299;
    expect(s, HH_FAIL, "HTTP 302");
    s = H("/redirect");
    s.u.http.follow_redirects = true;
    s.u.http.max_redirects = 3;
    expect(s, HH_FAIL, "redirect");

    /* A 256 MiB body is not read to its end: max_body bytes, then judged. */
    s = H("/huge");
    s.u.http.max_body = 100000;
    res_t r = run_one(s);
    CHECK(r.r == HH_PASS && r.outlen == HH_OUTPUT_MAX && r.out[0] == 'x');
    res_free(&r);
    s = H("/huge");
    s.u.http.body_match = strdup("not-there");
    expect(s, HH_FAIL, "body does not match (in the first max_body bytes)");

    s = H("/body/hello-world");
    s.u.http.body_match = strdup("lo-wo");
    expect(s, HH_PASS, "HTTP 200");
    s = H("/body/hello-world");
    s.u.http.body_regex = strdup("^hel+o-w.*d$");
    expect(s, HH_PASS, "HTTP 200");
    s = H("/body/hello-world");
    s.u.http.body_match = strdup("goodbye");
    expect(s, HH_FAIL, "body does not match");
    s = H("/ok");
    s.u.http.body_regex = strdup("([unclosed");
    char *err = NULL;
    hh_engine_t *e = hh_engine_new(io);
    add_service(e, "svc", NULL);
    CHECK(hh_engine_add_check(e, &s, &err) == -EINVAL);
    CHECK(err && strstr(err, "body_regex"));
    free(err);
    hh_check_spec_clear(&s);
    hh_engine_destroy(&e);

    s = H("/ok");
    s.u.http.method = strdup("HEAD");
    expect(s, HH_PASS, "HTTP 200");
    s = H("/ok");
    s.u.http.method = strdup("POST");
    s.u.http.body = strdup("{\"ping\":1}");
    s.u.http.headers = calloc(2, sizeof(char *));
    s.u.http.headers[0] = strdup("Content-Type: application/json");
    expect(s, HH_PASS, "HTTP 200");

    /* Nothing listens: refused at once. */
    s = http_spec("refused", "svc", 1, "/ok");
    expect(s, HH_FAIL, "connect");
}

/* Connection reuse: many runs of one check over one connection. */
static bool pred_runs5(void *a) { return hh_engine_check(a, "reuse")->runs >= 5; }
static void test_reuse(void)
{
    uint64_t before = server_stat("_accepts");
    hh_engine_t *e = hh_engine_new(io);
    add_service(e, "svc", NULL);
    hh_check_spec_t s = http_spec("reuse", "svc", srv.port, "/ok");
    s.interval_ms = 20;
    add_check(e, &s);
    hh_engine_start(e);
    CHECK(run_until(loop, pred_runs5, e, 5000));
    CHECK(hh_engine_check(e, "reuse")->passes >= 5);
    uint64_t runs = hh_engine_check(e, "reuse")->runs;
    hh_engine_destroy(&e);
    uint64_t after = server_stat("_accepts");
    /* One connection for the five runs, one for each /stats read. */
    printf("  reuse: %llu connections for %llu runs\n", (unsigned long long)(after - before - 1),
           (unsigned long long)runs);
    CHECK(after - before == 2);
}

/* TLS against openssl s_server with a throw-away certificate. Its own ctest
 * (test_hh_probes_tls): without openssl it is reported as skipped, never as
 * passed; with openssl, a certificate that cannot be made is a failure. */
static void test_tls(const char *dir)
{
    char *cmd = hlb_strdupf(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/k.pem -out %s/c.pem "
        "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 2 "
        ">/dev/null 2>&1",
        dir, dir);
    REQUIRE(system(cmd) == 0);
    free(cmd);
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        int errnul = open("/dev/null", O_WRONLY);
        dup2(errnul, 2);
        char *c = hlb_strdupf("%s/c.pem", dir), *k = hlb_strdupf("%s/k.pem", dir);
        execlp("openssl", "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", c,
               "-key", k, "-www", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[256];
    int port = 0;
    while (!port && fgets(line, sizeof line, f)) {
        char *colon = strrchr(line, ':');
        if (strncmp(line, "ACCEPT", 6) == 0 && colon)
            port = (int)strtol(colon + 1, NULL, 10);
    }
    CHECK(port > 0);
    char *url = hlb_strdupf("https://127.0.0.1:%d/", port);
    hh_check_spec_t s = http_spec("tls-noverify", "svc", port, "/");
    free(s.u.http.url);
    s.u.http.url = strdup(url);
    s.u.http.tls_verify = false;
    expect(s, HH_PASS, "HTTP 200");

    s = http_spec("tls-verify", "svc", port, "/");
    free(s.u.http.url);
    s.u.http.url = strdup(url);
    expect(s, HH_FAIL, "certificate");

    s = http_spec("tls-ca", "svc", port, "/");
    free(s.u.http.url);
    s.u.http.url = strdup(url);
    s.u.http.ca_file = hlb_strdupf("%s/c.pem", dir);
    s.u.http.tls_min = strdup("1.2");
    expect(s, HH_PASS, "HTTP 200");
    free(url);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    fclose(f);
}

static hh_check_spec_t T(const char *host, int port)
{
    hh_check_spec_t s;
    hh_check_spec_defaults(&s, HH_KIND_TCP);
    s.name = hlb_strdupf("tcp-%d", port);
    s.service = strdup("svc");
    s.u.tcp.host = strdup(host);
    s.u.tcp.port = hlb_strdupf("%d", port);
    s.retries = 1;
    s.timeout_ms = 1000;
    return s;
}

static void test_tcp(void)
{
    expect(T("127.0.0.1", srv.port), HH_PASS, "connected");
    expect(T("localhost", srv.port), HH_PASS, "connected");
    expect(T("127.0.0.1", 1), HH_FAIL, "Connection refused");
    expect(T("no-such-host.invalid", 80), HH_FAIL, "cannot resolve");
    /* A listener whose backlog is full never completes the handshake:
     * the connect times out (a SYN dropped on loopback). */
}

/* Waits until PID has exited (gone, or a zombie its parent has yet to
 * reap), at most MS: a pidfd turns readable at the exit, so this waits for
 * the event, not for a guess. SIGKILL is asynchronous: the kill returns
 * before the target has run its exit. */
static bool dead_within(pid_t pid, int ms)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return errno == ESRCH;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, ms);
    close(fd);
    return n == 1;
}

static void expect_pids_dead(const char *file)
{
    FILE *f = fopen(file, "r");
    CHECK(f);
    int pid, n = 0;
    while (fscanf(f, "%d", &pid) == 1) {
        if (!dead_within(pid, 10000)) {
            fprintf(stderr, "pid %d from %s still alive\n", pid, file);
            abort();
        }
        n++;
    }
    fclose(f);
    CHECK(n >= 2);
}

static void test_exec(const char *dir)
{
    expect(exec_spec("exit0", "svc", "echo fine; exit 0"), HH_PASS, "exit 0");
    expect(exec_spec("exit1", "svc", "echo meh; exit 1"), HH_WARN, "exit 1");
    expect(exec_spec("exit2", "svc", "exit 2"), HH_FAIL, "exit 2");
    expect(exec_spec("exit7", "svc", "exit 7"), HH_FAIL, "exit 7");
    expect(exec_spec("signal", "svc", "kill -TERM $$"), HH_FAIL, "signal 15");

    res_t r = run_one(exec_spec("out", "svc", "echo to-stdout; echo to-stderr >&2; echo $HL_CHECK"));
    CHECK(r.r == HH_PASS && strcmp(r.out, "to-stdout\nto-stderr\nout\n") == 0);
    res_free(&r);
    /* 1 MiB of output: the first 4 KiB kept, the process not blocked on a full pipe. */
    r = run_one(exec_spec("big", "svc", "head -c 1048576 /dev/zero | tr '\\0' y; exit 0"));
    CHECK(r.r == HH_PASS && r.outlen == HH_OUTPUT_MAX && r.out[0] == 'y');
    res_free(&r);

    hh_check_spec_t s = exec_spec("nosuch", "svc", "");
    free(s.u.exec.argv[0]);
    s.u.exec.argv[0] = strdup("/nonexistent/check");
    expect(s, HH_FAIL, "cannot run /nonexistent/check");

    /* A hung check with children: the whole group dies at the timeout. */
    char *pids = hlb_strdupf("%s/hang.pids", dir);
    char *script = hlb_strdupf(
        "sleep 300 & echo $! > %s; (sleep 300; true) & echo $! >> %s; echo $$ >> %s; sleep 300",
        pids, pids, pids);
    s = exec_spec("hang", "svc", script);
    s.timeout_ms = 300;
    r = run_one(s);
    CHECK(r.r == HH_FAIL && strstr(r.detail, "timed out after 300 ms; process group killed"));
    CHECK(r.dur_us < 5000000);
    res_free(&r);
    expect_pids_dead(pids);
    free(script);

    /* A check that exits at once but leaves a child holding its output pipe:
     * the result comes at exit, and the child is killed. */
    char *pids2 = hlb_strdupf("%s/leave.pids", dir);
    script = hlb_strdupf("sleep 300 & echo $! > %s; sleep 300 & echo $! >> %s; echo left; exit 0",
                              pids2, pids2);
    r = run_one(exec_spec("leave", "svc", script));
    CHECK(r.r == HH_PASS && strstr(r.out, "left"));
    res_free(&r);
    expect_pids_dead(pids2);
    free(script);
    free(pids);
    free(pids2);
}

static hh_check_spec_t D(const char *path, double warn, double crit)
{
    hh_check_spec_t s;
    hh_check_spec_defaults(&s, HH_KIND_DISK);
    s.name = strdup("disk");
    s.service = strdup("svc");
    s.u.disk.path = strdup(path);
    s.u.disk.warn_free_pct = warn;
    s.u.disk.crit_free_pct = crit;
    s.u.disk.crit_free_inodes_pct = 0;
    s.retries = 1;
    return s;
}

/* An exec check with a user runs as that user, with its primary group only
 * and no capability (issue #12 item 2: checks never run as hl-health). As
 * root the switch is made; otherwise it must fail visibly, not run as us. */
static void test_exec_user(void)
{
    struct passwd *pw = getpwnam("nobody");
    CHECK(pw);
    uid_t nobody = pw->pw_uid;
    gid_t nogroup = pw->pw_gid;
    hh_check_spec_t s = exec_spec("as-nobody", "svc",
                                  "id -u; id -G; grep -E '^Cap(Eff|Prm|Amb):' /proc/self/status");
    s.u.exec.user = strdup("nobody");
    res_t r = run_one(s);
    if (geteuid() == 0) {
        char want[256];
        snprintf(want, sizeof want,
                 "%u\n%u\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
                 "CapAmb:\t0000000000000000\n",
                 (unsigned)nobody, (unsigned)nogroup);
        if (r.r != HH_PASS || strcmp(r.out, want) != 0) {
            fprintf(stderr, "as nobody: got %s, output:\n%s\nwanted:\n%s", hh_result_name(r.r),
                    r.out, want);
            abort();
        }
        res_free(&r);
        /* A hung check of another user is still killed at its timeout. */
        s = exec_spec("as-nobody-hang", "svc", "sleep 30");
        s.u.exec.user = strdup("nobody");
        s.timeout_ms = 300;
        r = run_one(s);
        CHECK(r.r == HH_FAIL && strstr(r.detail, "timed out"));
    } else {
        printf("  (not root: the switch must be refused)\n");
        CHECK(r.r == HH_FAIL && strstr(r.out, "cannot switch to the check's user"));
    }
    res_free(&r);
}

static void test_disk(void)
{
    expect(D("/", 0, 0), HH_PASS, "enough free space");
    expect(D("/", 100.1, 0), HH_WARN, "warning threshold");
    expect(D("/", 100.1, 100.1), HH_FAIL, "critical threshold");
    expect(D("/nonexistent/dir", 0, 0), HH_FAIL, "No such file");
    hh_check_spec_t s = D("/", 0, 0);
    s.u.disk.warn_free_bytes = UINT64_MAX;
    expect(s, HH_WARN, "warning");
}

int main(int argc, char **argv)
{
    REQUIRE(argc > 1);
    httpd_path = argv[1];
    bool tls = argc > 2 && strcmp(argv[2], "tls") == 0;
    if (tls && system("command -v openssl >/dev/null 2>&1") != 0)
        check_skip("openssl is not installed (scripts/install-deps.sh installs it)");
    setvbuf(stdout, NULL, _IOLBF, 0);
    zsys_init();
    zsys_handler_set(NULL);
    signal(SIGPIPE, SIG_IGN);
    loop = zloop_new();
    io = hlb_reactor_new(loop);
    srv = httpd_start(httpd_path);
    char dir[] = "/tmp/hh-probes-XXXXXX";
    CHECK(mkdtemp(dir));
    if (tls) {
        printf("tls:\n");
        test_tls(dir);
        goto out;
    }
    printf("http:\n");
    test_http();
    test_reuse();
    printf("tcp:\n");
    test_tcp();
    printf("exec:\n");
    test_exec(dir);
    test_exec_user();
    printf("disk:\n");
    test_disk();
out:
    httpd_stop(&srv);
    hlb_reactor_destroy(&io);
    zloop_destroy(&loop);
    char *rm = hlb_strdupf("rm -rf %s", dir);
    CHECK(system(rm) == 0);
    free(rm);
    printf("test_hh_probes: ok\n");
    return check_done();
}
