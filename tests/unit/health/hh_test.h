/* Helpers for the hl-health tests: a fixture HTTP server process, waiting on
 * the loop for a condition with a deadline, and check specs. A helper that
 * fails REQUIREs (the test cannot go on); test bodies CHECK (see
 * tests/common/check.h). */
#pragma once
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hh_engine.h"
#include "check.h"

typedef struct {
    pid_t pid;
    int port;
} httpd_t;

/* Starts hl-test-httpd (path in argv[1] of the test) on an ephemeral port. */
static inline httpd_t httpd_start(const char *path)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed test leaves no server behind */
        dup2(p[1], 1);
        close(p[0]);
        execl(path, path, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    int port = 0;
    REQUIRE(fscanf(f, "PORT %d", &port) == 1);
    fclose(f);
    return (httpd_t){pid, port};
}

static inline void httpd_stop(httpd_t *h)
{
    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        waitpid(h->pid, NULL, 0);
        h->pid = 0;
    }
}

typedef bool(pred_fn)(void *arg);
typedef struct {
    pred_fn *pred;
    void *arg;
    int64_t deadline_ms;
    bool ok;
} waiter_t;

static inline int waiter_tick(zloop_t *loop, int id, void *a)
{
    waiter_t *w = a;
    if (w->pred && w->pred(w->arg)) {
        w->ok = true;
        return -1;
    }
    return zclock_mono() >= w->deadline_ms ? -1 : 0;
}

/* Runs LOOP until PRED holds (true) or TIMEOUT_MS passed (false). PRED NULL:
 * just run for TIMEOUT_MS. The predicate is looked at every 2 ms. */
static inline bool run_until(zloop_t *loop, pred_fn *pred, void *arg, int64_t timeout_ms)
{
    waiter_t w = {pred, arg, zclock_mono() + timeout_ms, false};
    int id = zloop_timer(loop, 2, 0, waiter_tick, &w);
    zloop_start(loop);
    zloop_timer_end(loop, id);
    return w.ok;
}

static inline hh_check_spec_t http_spec(const char *name, const char *svc, int port,
                                        const char *path)
{
    hh_check_spec_t s;
    hh_check_spec_defaults(&s, HH_KIND_HTTP);
    s.name = strdup(name);
    s.service = strdup(svc);
    s.u.http.url = hlb_strdupf("http://127.0.0.1:%d%s", port, path);
    s.interval_ms = 200;
    s.timeout_ms = 1000;
    s.retries = 1;
    s.failures = 1;
    s.successes = 1;
    return s;
}

static inline hh_check_spec_t exec_spec(const char *name, const char *svc, const char *script)
{
    hh_check_spec_t s;
    hh_check_spec_defaults(&s, HH_KIND_EXEC);
    s.name = strdup(name);
    s.service = strdup(svc);
    s.u.exec.argv = calloc(4, sizeof(char *));
    s.u.exec.argv[0] = strdup("/bin/sh");
    s.u.exec.argv[1] = strdup("-c");
    s.u.exec.argv[2] = strdup(script);
    s.interval_ms = 200;
    s.timeout_ms = 1000;
    s.retries = 1;
    s.failures = 1;
    s.successes = 1;
    return s;
}

static inline void add_service(hh_engine_t *e, const char *name, const char *unit)
{
    hh_service_spec_t s = {.name = (char *)name, .unit = (char *)unit};
    REQUIRE(hh_engine_add_service(e, &s) == 0);
}

static inline void add_check(hh_engine_t *e, hh_check_spec_t *s)
{
    char *err = NULL;
    int rc = hh_engine_add_check(e, s, &err);
    if (rc != 0)
        fprintf(stderr, "add_check: %s\n", err ? err : strerror(-rc));
    REQUIRE(rc == 0);
    free(err);
}

/* Predicate: a check has at least N runs. */
typedef struct {
    hh_engine_t *e;
    const char *check;
    uint64_t runs;
} runs_arg_t;
static inline bool pred_runs(void *a)
{
    runs_arg_t *r = a;
    hh_check_t *c = hh_engine_check(r->e, r->check);
    return c && c->runs >= r->runs;
}

static inline hh_check_t *wait_runs(zloop_t *loop, hh_engine_t *e, const char *check,
                                    uint64_t runs, int64_t timeout_ms)
{
    runs_arg_t a = {e, check, runs};
    REQUIRE(run_until(loop, pred_runs, &a, timeout_ms));
    return hh_engine_check(e, check);
}
