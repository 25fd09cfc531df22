/* Asynchronous calls to another daemon's ctl endpoint, inside the zloop
 * (the daemon runtime's: hlb_daemon_call in daemon.h, and it drops what is
 * still in flight when the daemon stops).
 *
 * hlb_call() blocks until the reply comes, and a recovery action (a restart
 * that waits for its systemd job, a rebuild) can take tens of seconds: the
 * loop would stop reading events and stop answering `hlctl failures`
 * meanwhile. So each call here is a DEALER socket of its own, registered as
 * a zloop reader, with a zloop timer as its deadline: send, return to the
 * loop, and get a callback when the reply (or the deadline) comes. A socket
 * per call because replies carry no request id: with one socket, two
 * recoveries in flight could not be told apart.
 *
 * The wire format is libhlbus's ([empty delimiter][hl.Request] and back), and
 * a retry reuses the request id, so a server that already ran the request
 * answers from its reply cache instead of running it twice. */
#pragma once
#include <czmq.h>
#include "hlbus.pb-c.h"

typedef struct hlb_acall hlb_acall_t;

/* RC is 0 with REPLY set (check its status), or -ETIMEDOUT, -ECONNREFUSED
 * (nobody listens), -EPROTO (an undecodable reply). REPLY is freed after the
 * callback returns. The call is finished (and freed) after the callback. */
typedef void(hlb_acall_fn)(int rc, const Hl__Reply *reply, void *arg);

typedef struct hlb_acall_opts {
    int timeout_ms;        /* for the reply, per attempt */
    int attempts;          /* sends in all (1 + retries after a timeout) */
    int connect_wait_ms;   /* how long a missing endpoint is waited for */
} hlb_acall_opts_t;

/* Starts METHOD on DAEMON with a body of TYPE (may be NULL). NULL when it
 * cannot even start (bad daemon name, out of memory). */
hlb_acall_t *hlb_acall_start(zloop_t *loop, const char *runtime_dir, const char *daemon,
                         const char *method, const char *type, const void *body, size_t len,
                         const hlb_acall_opts_t *opts, hlb_acall_fn *fn, void *arg);
/* Drops the call without calling back. Safe from any loop handler. */
void hlb_acall_cancel(hlb_acall_t **c_p);
/* After the loop has ended: drops every call still in flight. */
void hlb_acall_shutdown(void);
/* Calls in flight (for tests and the status). */
int hlb_acall_pending(void);
