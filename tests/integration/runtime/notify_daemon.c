/* The smallest daemon on the runtime: one method, "say", that sets the
 * daemon's status (an sd_notify STATUS= each time), so a test can make the
 * runtime speak to NOTIFY_SOCKET as often as it likes. */
#include <hlbus/hlbus.h>

static int said;

static void m_say(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hlb_daemon_t **d = arg;
    hlb_daemon_status(*d, "said %d", ++said);
}

static hlb_daemon_t *daemon_of_start;

static int start(hlb_daemon_t *d, void *arg)
{
    daemon_of_start = d;
    return 0;
}

static const hlb_method_t methods[] = {
    {"say", m_say, 0, "set the status (one STATUS= notification)"},
    {NULL, NULL, 0, NULL},
};

static const hlb_daemon_ops_t ops = {
    .name = "notify-test",
    .summary = "a daemon that only notifies (tests of the runtime)",
    .start = start,
    .methods = methods,
};

int main(int argc, char **argv) { return hlb_daemon_main(argc, argv, &ops, &daemon_of_start); }
