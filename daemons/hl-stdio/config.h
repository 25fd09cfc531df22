/* hl-stdio's config section, read into the relay's configuration. */
#pragma once
#include <hlbus/conf.h>

#include "relay.h"

/* The sockets' group when the config names none (if it exists). */
#define STDIO_DEFAULT_GROUP "hluser"

typedef struct stdio_settings {
    stdio_relay_conf_t relay; /* .channels points at chans */
    stdio_chan_conf_t *chans;
    size_t n_chans;
    int client_events_per_sec; /* attach/detach events (and their log lines) per channel */
    char **owned;              /* the strings the confs point at */
    size_t n_owned;
} stdio_settings_t;

/* Reads SECTION (may be NULL: the defaults, one channel "main" at
 * <runtime_dir>/stdio.sock) into OUT. Every problem goes to DIAG with its
 * file and line; returns 0 or -EINVAL. OUT is filled either way and must be
 * freed with stdio_settings_free. */
int stdio_settings_parse(const hlb_conf_t *section, const char *runtime_dir,
                         stdio_settings_t *out, hlb_diag_t *diag);
void stdio_settings_free(stdio_settings_t *s);

/* "1MiB", "512KiB", "64K", "4096": a size in bytes (K, M, G are binary).
 * 0 or -EINVAL. Exposed for tests. */
int stdio_parse_size(const char *s, uint64_t *out);
/* "0660": an octal mode. 0 or -EINVAL. */
int stdio_parse_mode(const char *s, mode_t *out);
