/* The fleet simulation of hl-uplink (issue #15): N agents, each one
 * hl-uplink's own scheduler (ul_sched.h, ul_backoff.h: the code the daemon
 * runs, not a model of it), against a simulated HL API with the reference
 * server's rate limit (tests/fixtures/uplink/refserver.py: a token bucket,
 * 429 with Retry-After beyond it), through an outage.
 *
 * The scenario: the fleet is registered and heartbeating; the API goes away
 * (connections refused) for OUTAGE seconds; it comes back having lost its
 * registry (a control-plane restart), so every agent's next heartbeat gets
 * 404 and it registers again. Measured per policy, after recovery: the peak
 * request rate over 1 s bins against the steady rate before the outage, and
 * the time from recovery to each agent registered again (P50/P99/max).
 *
 * Asserted (simulated time, not wall time): hl-uplink's policy meets the
 * goals (peak <= 2x steady, P99 <= 60 s), and the simulation tells the
 * policies apart (the peers miss at least one goal each), so it cannot pass
 * by measuring nothing. Usage: sim_uplink_fleet [--agents N] [--outage S]
 * [--table] (markdown rows for the README). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ul_sched.h"

typedef struct {
    int agents;
    uint64_t outage_ms;
    uint64_t heartbeat_ms;
    uint64_t latency_ms;
    double limit_factor;    /* the API's rate limit, as a multiple of the steady rate */
    uint64_t retry_after_ms; /* what its 429 says (the reference server's default) */
} sim_conf_t;

typedef struct {
    ul_sched_t s;
    ul_op_t op;          /* in flight */
    ul_outcome_t out;    /* its answer, delivered at the heap entry's time */
    uint64_t retry_after;
    bool known;          /* the server has its registration */
    int64_t reregistered_ms; /* after recovery; -1: not yet */
} agent_t;

typedef struct {
    uint64_t at;
    int who;
} ev_t;

typedef struct {
    ev_t *v;
    size_t n, cap;
} heap_t;

static void heap_push(heap_t *h, uint64_t at, int who)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->v = realloc(h->v, h->cap * sizeof *h->v);
        if (!h->v)
            abort();
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p].at <= at)
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = (ev_t){at, who};
}

static ev_t heap_pop(heap_t *h)
{
    ev_t top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t mv = last.at;
        if (l < h->n && h->v[l].at < mv) {
            m = l;
            mv = h->v[l].at;
        }
        if (r < h->n && h->v[r].at < mv)
            m = r;
        if (m == i)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

typedef struct {
    double steady_rps, peak_rps, peak_ratio;
    double p50_s, p99_s, max_s;
    int not_registered;
    uint64_t requests_after, throttled_after;
} sim_result_t;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The API: a token bucket of RATE per second (the reference server's
 * --rate-limit), burst one second's worth. */
typedef struct {
    double tokens, rate, burst;
    uint64_t last_ms;
} bucket_t;

static bool bucket_take(bucket_t *b, uint64_t now)
{
    b->tokens += (double)(now - b->last_ms) * b->rate / 1000.0;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last_ms = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

static sim_result_t run(const sim_conf_t *sc, ul_policy_t policy, uint64_t base_ms)
{
    const uint64_t warm = 3 * sc->heartbeat_ms;      /* registered and steady by then */
    const uint64_t steady_from = warm, down_at = warm + 2 * sc->heartbeat_ms;
    const uint64_t up_at = down_at + sc->outage_ms;
    const uint64_t end = up_at + 30 * 60 * 1000ULL;  /* 30 min after recovery at most */
    const size_t nbins = end / 1000 + 1;
    uint32_t *bins = calloc(nbins, sizeof *bins);
    agent_t *a = calloc((size_t)sc->agents, sizeof *a);
    heap_t h = {0};
    REQUIRE(bins && a);

    ul_sched_conf_t c = {
        .policy = policy,
        .backoff_base_ms = base_ms,
        .backoff_cap_ms = 60000,
        .heartbeat_ms = sc->heartbeat_ms,
        .heartbeat_jitter_pct = 10,
        .link_retry_ms = 2000,
        .events_linger_ms = 200,
        .start_jitter_ms = sc->heartbeat_ms, /* the fleet came up over one interval */
    };
    double steady_guess = sc->agents * 1000.0 / (double)sc->heartbeat_ms;
    bucket_t bucket = {.rate = steady_guess * sc->limit_factor,
                       .burst = steady_guess * sc->limit_factor};
    bucket.tokens = bucket.burst;
    for (int i = 0; i < sc->agents; i++) {
        ul_sched_init(&a[i].s, &c, (uint64_t)i * 7919 + policy, 0);
        a[i].reregistered_ms = -1;
        uint64_t due;
        ul_sched_next(&a[i].s, 0, &due);
        heap_push(&h, due, i);
    }
    uint64_t requests_after = 0, throttled_after = 0;
    int pending = sc->agents; /* not yet registered after recovery */
    bool cleared = false;
    while (h.n) {
        ev_t e = heap_pop(&h);
        if (e.at >= end)
            break;
        agent_t *ag = &a[e.who];
        uint64_t now = e.at;
        if (ag->s.in_flight) {
            ul_sched_done(&ag->s, ag->op, ag->out, ag->retry_after, 0, now);
            if (ag->op == UL_OP_REGISTER && ag->out == UL_OUT_OK && now >= up_at &&
                ag->reregistered_ms < 0) {
                ag->reregistered_ms = (int64_t)(now - up_at);
                pending--;
            }
        } else {
            uint64_t due;
            ul_op_t op = ul_sched_next(&ag->s, now, &due);
            if (op != UL_OP_NONE && due <= now) {
                ul_sched_begin(&ag->s, op);
                ag->op = op;
                ag->retry_after = 0;
                bins[now / 1000]++;
                if (now >= up_at)
                    requests_after++;
                long status;
                if (now >= down_at && !cleared) {
                    for (int i = 0; i < sc->agents; i++)
                        a[i].known = false; /* the restart loses the registry */
                    cleared = true;
                }
                if (now >= down_at && now < up_at) {
                    status = 0; /* refused */
                } else if (!bucket_take(&bucket, now)) {
                    status = 429;
                    ag->retry_after = sc->retry_after_ms;
                    if (now >= up_at)
                        throttled_after++;
                } else if (op == UL_OP_REGISTER) {
                    status = ag->known ? 200 : 201;
                    ag->known = true;
                } else {
                    status = ag->known ? 200 : 404;
                }
                ag->out = ul_outcome_of_status(op, status);
                heap_push(&h, now + (status ? sc->latency_ms : 1), e.who);
                continue;
            }
        }
        /* all back: run one more minute of steady heartbeats for the peak */
        if (pending == 0 && now > up_at + 2 * sc->heartbeat_ms)
            break;
        uint64_t due;
        ul_op_t op = ul_sched_next(&ag->s, now, &due);
        if (op != UL_OP_NONE)
            heap_push(&h, due > now ? due : now, e.who);
    }

    sim_result_t r = {0};
    uint64_t steady_sum = 0;
    for (uint64_t t = steady_from / 1000; t < down_at / 1000; t++)
        steady_sum += bins[t];
    r.steady_rps = (double)steady_sum / (double)((down_at - steady_from) / 1000);
    for (uint64_t t = up_at / 1000; t < nbins; t++)
        if (bins[t] > r.peak_rps)
            r.peak_rps = bins[t];
    r.peak_ratio = r.steady_rps > 0 ? r.peak_rps / r.steady_rps : 0;
    int64_t *times = calloc((size_t)sc->agents, sizeof *times);
    REQUIRE(times);
    int n = 0;
    for (int i = 0; i < sc->agents; i++) {
        if (a[i].reregistered_ms >= 0)
            times[n++] = a[i].reregistered_ms;
        else
            r.not_registered++;
    }
    qsort(times, (size_t)n, sizeof *times, cmp_i64);
    if (n) {
        r.p50_s = (double)times[(size_t)(n - 1) * 50 / 100] / 1000.0;
        r.p99_s = (double)times[(size_t)(n - 1) * 99 / 100] / 1000.0;
        r.max_s = (double)times[n - 1] / 1000.0;
    }
    r.requests_after = requests_after;
    r.throttled_after = throttled_after;
    free(times);
    free(h.v);
    free(a);
    free(bins);
    return r;
}

int main(int argc, char **argv)
{
    sim_conf_t sc = {.agents = 10000,
                     .outage_ms = 600000,
                     .heartbeat_ms = 30000,
                     .latency_ms = 20,
                     .limit_factor = 2.0,
                     .retry_after_ms = 5000};
    bool table = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--agents") == 0 && i + 1 < argc)
            sc.agents = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--outage") == 0 && i + 1 < argc)
            sc.outage_ms = (uint64_t)strtoull(argv[++i], NULL, 10) * 1000;
        else if (strcmp(argv[i], "--table") == 0)
            table = true;
        else {
            fprintf(stderr, "usage: %s [--agents N] [--outage SECONDS] [--table]\n", argv[0]);
            return 64;
        }
    }
    REQUIRE(sc.agents > 0 && sc.agents <= 1000000);
    struct {
        ul_policy_t p;
        uint64_t base;
        const char *desc;
    } runs[] = {
        {UL_POLICY_JITTER, 1000, "hl-uplink: full jitter, 1 s base, 60 s cap"},
        {UL_POLICY_DOUBLING, 1000, "SSM-style: doubling from 1 s, no cap, no jitter"},
        {UL_POLICY_FIXED, 10000, "fixed-interval retry every 10 s"},
    };
    sim_result_t res[3];
    printf("%d agents, heartbeat %llu s +-10%%, outage %llu s, API limit %.1fx steady "
           "(429, Retry-After %llu s), registry lost in the outage\n",
           sc.agents, (unsigned long long)sc.heartbeat_ms / 1000,
           (unsigned long long)sc.outage_ms / 1000, sc.limit_factor,
           (unsigned long long)sc.retry_after_ms / 1000);
    if (table)
        printf("| policy | steady req/s | peak req/s after recovery | peak / steady | "
               "recovery to registered P50 / P99 / max | not registered after 30 min |\n"
               "|---|---|---|---|---|---|\n");
    for (int i = 0; i < 3; i++) {
        res[i] = run(&sc, runs[i].p, runs[i].base);
        const sim_result_t *r = &res[i];
        if (table)
            printf("| %s | %.0f | %.0f | %.2fx | %.1f / %.1f / %.1f s | %d |\n", runs[i].desc,
                   r->steady_rps, r->peak_rps, r->peak_ratio, r->p50_s, r->p99_s, r->max_s,
                   r->not_registered);
        else
            printf("%-18s steady %6.0f req/s  peak after recovery %6.0f req/s (%.2fx)  "
                   "registered P50 %6.1f s  P99 %6.1f s  max %6.1f s  missing %d  "
                   "requests after %llu (429: %llu)\n",
                   ul_policy_name(runs[i].p), r->steady_rps, r->peak_rps, r->peak_ratio,
                   r->p50_s, r->p99_s, r->max_s, r->not_registered,
                   (unsigned long long)r->requests_after,
                   (unsigned long long)r->throttled_after);
    }
    /* the goals, for hl-uplink's own code */
    CHECK(res[0].steady_rps > 0);
    CHECK(res[0].peak_ratio <= 2.0);
    CHECK(res[0].p99_s <= 60.0);
    CHECK_EQ(res[0].not_registered, 0);
    /* the simulation tells policies apart: each peer misses a goal */
    CHECK(res[1].peak_ratio > 2.0 || res[1].p99_s > 60.0);
    CHECK(res[2].peak_ratio > 2.0 || res[2].p99_s > 60.0);
    return check_done();
}
