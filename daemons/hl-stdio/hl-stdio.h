/* hl-stdio on the daemon runtime: what main.c's ops call (hl-stdio.c,
 * methods.c). */
#pragma once
#include <hlbus/hlbus.h>

#include "config.h"
#include "events.h"
#include "relay.h"

typedef struct stdio_daemon {
    stdio_settings_t first; /* parsed before the loop exists; applied by start */
    bool have_first;
    stdio_relay_t *relay;
    stdio_events_t *events;
    char *attach_path;
} stdio_daemon_t;

int stdio_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                           bool check_only, hlb_diag_t *diag, void *arg);
int stdio_daemon_start(hlb_daemon_t *d, void *arg);
void stdio_daemon_stop(hlb_daemon_t *d, void *arg);
/* What configure kept that start did not take (after hlb_daemon_main). */
void stdio_daemon_free(stdio_daemon_t *app);
extern const hlb_method_t stdio_daemon_methods[];
