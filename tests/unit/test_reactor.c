/* The reactor: timers fire in due order, reschedule and stop; fd watches deliver
 * events, and an unwatch inside a batch drops the stale event. */
#include <fcntl.h>
#include <sys/epoll.h>
#include <stdint.h>
#include <unistd.h>
#include <hlbus/reactor.h>

#include "check.h"

typedef bool(pred_fn)(void *arg);
typedef struct {
    pred_fn *pred;
    void *arg;
    int64_t deadline_ms;
    bool ok;
} waiter_t;

static int waiter_tick(zloop_t *loop, int id, void *a)
{
    waiter_t *w = a;
    if (w->pred && w->pred(w->arg)) {
        w->ok = true;
        return -1;
    }
    return zclock_mono() >= w->deadline_ms ? -1 : 0;
}

/* Runs LOOP until PRED holds or TIMEOUT_MS passed (PRED NULL: just run). */
static bool run_until(zloop_t *loop, pred_fn *pred, void *arg, int64_t timeout_ms)
{
    waiter_t w = {pred, arg, zclock_mono() + timeout_ms, false};
    int id = zloop_timer(loop, 2, 0, waiter_tick, &w);
    zloop_start(loop);
    zloop_timer_end(loop, id);
    return w.ok;
}

static int order[16];
static int norder;
typedef struct {
    hlb_timer_t t;
    int id;
} tt_t;

static void on_t(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    tt_t *x = arg;
    order[norder++] = x->id;
}

static bool pred_n(void *a) { return norder >= *(int *)a; }

static int fds[2][2];
static int got[2];
static void on_fd(hlb_reactor_t *io, int fd, uint32_t ev, void *arg)
{
    int which = (int)(intptr_t)arg;
    char b[16];
    CHECK(read(fd, b, sizeof b) > 0);
    got[which]++;
    /* The first reader unwatches and closes the other: its event in the same
     * batch must not be delivered. */
    int other = !which;
    hlb_reactor_unwatch(io, fds[other][0]);
}
static bool pred_got(void *a) { return got[0] + got[1] >= 1; }

int main(void)
{
    zsys_init();
    zloop_t *loop = zloop_new();
    hlb_reactor_t *io = hlb_reactor_new(loop);
    CHECK(io);

    /* Order by due time, whatever the insertion order; a stopped timer never fires;
     * a rescheduled one fires at its new time. */
    tt_t t[6];
    int delays[6] = {50, 10, 30, 20, 40, 60};
    for (int i = 0; i < 6; i++) {
        t[i].id = i;
        hlb_timer_init(&t[i].t, on_t, &t[i]);
        hlb_timer_after_ms(io, &t[i].t, delays[i]);
    }
    CHECK(hlb_reactor_timers(io) == 6);
    hlb_timer_stop(io, &t[4].t);            /* 40: never */
    hlb_timer_after_ms(io, &t[5].t, 5);     /* 60 → 5: first */
    int want = 5;
    CHECK(run_until(loop, pred_n, &want, 2000));
    int expect[5] = {5, 1, 3, 2, 0};
    for (int i = 0; i < 5; i++)
        CHECK(order[i] == expect[i]);
    CHECK(hlb_reactor_timers(io) == 0);
    CHECK(!hlb_timer_pending(&t[4].t));

    /* Many timers with equal and random due times come out sorted. */
    enum { N = 2000 };
    static tt_t many[N];
    uint64_t base = hlb_mono_us();
    for (int i = 0; i < N; i++) {
        hlb_timer_init(&many[i].t, on_t, &many[i]);
        hlb_timer_at(io, &many[i].t, base + (uint64_t)((i * 7919) % 500) * 100);
    }
    for (int i = 0; i < N; i += 3)
        hlb_timer_stop(io, &many[i].t);
    uint64_t last = 0;
    size_t fired = 0;
    while (hlb_reactor_timers(io)) {
        /* Pop by hand through the public API: the earliest is the heap top. */
        hlb_timer_t *top = NULL;
        for (int i = 0; i < N; i++)
            if (hlb_timer_pending(&many[i].t) && (!top || many[i].t.due_us < top->due_us))
                top = &many[i].t;
        CHECK(top->due_us >= last);
        last = top->due_us;
        hlb_timer_stop(io, top);
        fired++;
    }
    CHECK(fired == N - (N + 2) / 3);

    /* fd watches */
    for (int i = 0; i < 2; i++) {
        CHECK(pipe2(fds[i], O_CLOEXEC | O_NONBLOCK) == 0);
        CHECK(hlb_reactor_watch(io, fds[i][0], EPOLLIN, on_fd, (void *)(intptr_t)i) == 0);
    }
    CHECK(hlb_reactor_watched(io) == 2);
    CHECK(write(fds[0][1], "x", 1) == 1 && write(fds[1][1], "y", 1) == 1);
    CHECK(run_until(loop, pred_got, NULL, 2000));
    run_until(loop, NULL, NULL, 50); /* whatever else was due had its chance */
    CHECK(got[0] + got[1] == 1);
    CHECK(hlb_reactor_watched(io) == 1);
    CHECK(hlb_reactor_watch(io, -1, EPOLLIN, on_fd, NULL) == -EBADF);

    hlb_reactor_destroy(&io);
    CHECK(io == NULL);
    hlb_reactor_destroy(&io);
    for (int i = 0; i < 2; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
    zloop_destroy(&loop);
    printf("test_reactor: ok\n");
    return check_done();
}
