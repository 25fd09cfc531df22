/* sd_notify that never blocks. libsystemd's sd_notify sends with a blocking
 * socket: when whoever owns NOTIFY_SOCKET stops reading and its datagram
 * queue fills (10 messages by default), the sender waits, and a daemon's
 * whole loop with it. Here every send is non-blocking; what cannot be sent
 * is counted, and a state change (READY=1, RELOADING=1, STOPPING=1) that
 * could not be sent is kept and sent again by hlb_notify_flush(), so that
 * systemd still learns it once the queue drains. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Sends MSG ("READY=1", "STATUS=...", newline-separated assignments).
 * 0 when sent or when not run under systemd (no NOTIFY_SOCKET);
 * -EAGAIN when the queue is full, another -errno when the socket is gone. */
int hlb_notify(const char *msg);
int hlb_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whether a state change waits to be sent again. */
bool hlb_notify_pending(void);
/* Sends the waiting state change, if any; 0 when nothing waits any more. */
int hlb_notify_flush(void);
/* Messages that could not be sent when asked (since the start). */
uint64_t hlb_notify_dropped(void);
