/* hl-logs: the daemon around the sources (journal, bus) and the sinks
 * (files, the forwarding spool). See docs/logs.md. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <hlbus/hlbus.h>

#include "lg_config.h"
#include "lg_files.h"
#include "lg_forward.h"
#include "lg_journal.h"
#include "lg_spool.h"

typedef struct lg_seq {
    char name[72];
    uint64_t seq;
} lg_seq_t;

typedef struct lg_daemon {
    hlb_daemon_t *d;
    lg_conf_t conf;
    bool configured;
    hlb_tlspolicy_t *tls;    /* /etc/hl/tls.yml, read with the config */
    lg_journal_t *journal;
    bool cursor_found;
    lg_files_t *files;
    lg_spool_t *spool;
    lg_forward_t *forward;
    hlb_sub_t *sub;
    hlb_timer_t pump, tick, compress;
    hlb_buf_t line;
    lg_seq_t *seqs;
    size_t n_seqs, cap_seqs;
    bool dirty;              /* records taken since the last commit */
    bool files_down;
    uint64_t records, journal_records, bus_records, bus_duplicates, truncated;
    uint64_t dropped_reported, lost_reported;
    uint64_t last_drop_log_us;
    uint64_t ticks;
    char hostname[256];
} lg_daemon_t;

int lg_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                        bool check_only, hlb_diag_t *diag, void *arg);
int lg_daemon_start(hlb_daemon_t *d, void *arg);
void lg_daemon_stop(hlb_daemon_t *d, void *arg);
void lg_daemon_prepare_shutdown(hlb_daemon_t *d, uint64_t deadline_us, void *arg);
extern const hlb_method_t lg_methods[];
