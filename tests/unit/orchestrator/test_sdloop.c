/* sd-bus on the reactor (in a zloop): a real sd-bus server and client over a socketpair,
 * both driven by sdloop in one zloop. Replies, replies sent later from a
 * timer, call timeouts (sd-bus's timer), a burst larger than one dispatch
 * batch, and the peer going away. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include "check.h"
#include "sdloop.h"

static zloop_t *loop;
static sdloop_t *srv_loop, *cli_loop;
static int stop_pipe[2];
static int replies, errors, timeouts, failed;
static sd_bus_message *held;

static void stop(void)
{
    if (write(stop_pipe[1], "x", 1) != 1)
        abort();
}

static int on_stop(zloop_t *l, zmq_pollitem_t *item, void *arg)
{
    char c;
    if (read(stop_pipe[0], &c, 1) != 1)
        return 0;
    return -1; /* ends zloop_start */
}

static int m_echo(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
    const char *s;
    int r = sd_bus_message_read(m, "s", &s);
    if (r < 0)
        return r;
    return sd_bus_reply_method_return(m, "s", s);
}

static int m_later(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
    held = sd_bus_message_ref(m);
    return 1; /* answered by on_later */
}

static int m_never(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
    return 1;
}

static const sd_bus_vtable vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Echo", "s", "s", m_echo, 0),
    SD_BUS_METHOD("Later", "s", "s", m_later, 0),
    SD_BUS_METHOD("Never", "", "", m_never, 0),
    SD_BUS_VTABLE_END,
};

static int on_later(zloop_t *l, int id, void *arg)
{
    if (held) {
        sd_bus_reply_method_return(held, "s", "late");
        sd_bus_message_unref(held);
        held = NULL;
        sdloop_kick(srv_loop); /* queued outside a dispatch: flush it */
    }
    return 0;
}

static int expect;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
    if (sd_bus_message_is_method_error(m, NULL)) {
        errors++;
        if (sd_bus_message_is_method_error(m, SD_BUS_ERROR_TIMEOUT) ||
            sd_bus_message_is_method_error(m, SD_BUS_ERROR_NO_REPLY))
            timeouts++;
    } else {
        const char *s;
        if (sd_bus_message_read(m, "s", &s) >= 0 && !strcmp(s, (const char *) userdata))
            replies++;
    }
    if (replies + errors == expect)
        stop();
    return 0;
}

static void on_fail(int err, void *arg)
{
    failed = err;
    stop();
}

static int on_guard(zloop_t *l, int id, void *arg)
{
    fprintf(stderr, "guard timer: the loop did not finish in time\n");
    return -1;
}

static void run(void)
{
    int guard = zloop_timer(loop, 10000, 1, on_guard, NULL);
    zloop_start(loop);
    zloop_timer_end(loop, guard);
}

static void call(sd_bus *cli, const char *method, const char *arg, uint64_t usec)
{
    sd_bus_message *m = NULL;
    CHECK(sd_bus_message_new_method_call(cli, &m, NULL, "/t", "t.T", method) >= 0);
    if (arg)
        sd_bus_message_append(m, "s", arg);
    CHECK(sd_bus_call_async(cli, NULL, m, on_reply, (void *) (arg ? arg : ""), usec) >= 0);
    sd_bus_message_unref(m);
}

int main(void)
{
    zsys_handler_set(NULL);
    loop = zloop_new();
    CHECK(pipe2(stop_pipe, O_CLOEXEC) == 0);
    zmq_pollitem_t pi = {.fd = stop_pipe[0], .events = ZMQ_POLLIN};
    zloop_poller(loop, &pi, on_stop, NULL);

    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0);
    sd_bus *srv = NULL, *cli = NULL;
    sd_id128_t id;
    sd_id128_randomize(&id);
    CHECK(sd_bus_new(&srv) >= 0 && sd_bus_set_fd(srv, fds[0], fds[0]) >= 0 &&
          sd_bus_set_server(srv, 1, id) >= 0 && sd_bus_set_anonymous(srv, 1) >= 0);
    CHECK(sd_bus_add_object_vtable(srv, NULL, "/t", "t.T", vtable, NULL) >= 0);
    CHECK(sd_bus_start(srv) >= 0);
    CHECK(sd_bus_new(&cli) >= 0 && sd_bus_set_fd(cli, fds[1], fds[1]) >= 0 &&
          sd_bus_set_anonymous(cli, 1) >= 0 && sd_bus_start(cli) >= 0);
    hlb_reactor_t *io = hlb_reactor_new(loop);
    CHECK(io != NULL);
    srv_loop = sdloop_new(io, srv, NULL, NULL);
    cli_loop = sdloop_new(io, cli, on_fail, NULL);
    CHECK(srv_loop && cli_loop);

    /* 1. A round trip. */
    expect = 1;
    call(cli, "Echo", "hello", 0);
    sdloop_kick(cli_loop);
    run();
    CHECK(replies == 1 && errors == 0);

    /* 2. A reply sent later, from a timer of the same loop. */
    replies = errors = 0;
    call(cli, "Later", "late", 0);
    sdloop_kick(cli_loop);
    zloop_timer(loop, 50, 1, on_later, NULL);
    run();
    CHECK(replies == 1 && errors == 0);

    /* 3. No reply: sd-bus's own timeout fires through sdloop's timer. */
    replies = errors = 0;
    call(cli, "Never", NULL, 100000);
    sdloop_kick(cli_loop);
    run();
    CHECK(timeouts == 1 && errors == 1);

    /* 4. A burst larger than a dispatch batch. */
    replies = errors = 0;
    expect = 1000;
    for (int i = 0; i < 1000; i++)
        call(cli, "Echo", "burst", 0);
    sdloop_kick(cli_loop);
    run();
    CHECK_MSG(replies == 1000, "%d replies, %d errors", replies, errors);
    CHECK(sdloop_dispatched(cli_loop) >= 1000);

    /* 5. The peer goes away: the owner is told once. */
    sdloop_destroy(&srv_loop);
    sd_bus_unref(srv); /* closes fds[0] */
    run();
    CHECK(failed < 0);

    sdloop_destroy(&cli_loop);
    sd_bus_unref(cli);
    hlb_reactor_destroy(&io);
    zloop_destroy(&loop);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return check_done();
}
