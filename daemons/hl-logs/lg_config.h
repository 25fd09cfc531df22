/* hl-logs' config section: see deploy/config/hl-logs.yaml.example. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <hlbus/conf.h>
#include <hlbus/confschema.h>

typedef enum { LG_LAYOUT_PER_SERVICE, LG_LAYOUT_COMBINED } lg_layout_t;
typedef enum { LG_TRANSPORT_TCP, LG_TRANSPORT_TLS } lg_transport_t;

typedef struct lg_forward_conf {
    char *host;         /* "" : forwarding off */
    int64_t port;
    int transport;      /* lg_transport_t */
    char *ca_file;      /* "": the system CA store */
    char *server_name;  /* "": host; checked against the certificate */
    bool verify;        /* false only for tests that say so */
    uint64_t spool_max_bytes;
    uint64_t chunk_bytes;
    int64_t backoff_min_ms, backoff_max_ms;
    int64_t confirm_ms; /* how long a TCP-acked record must stand before it counts as read */
    int64_t connect_timeout_ms;
} lg_forward_conf_t;

typedef struct lg_conf {
    char *dir;             /* /var/log/hl */
    char *state_dir;       /* cursor and spool: /var/lib/hl/hl-logs */
    int layout;            /* lg_layout_t */
    char *combined_name;   /* daemon.log */
    char **units;          /* fnmatch patterns of _SYSTEMD_UNIT to follow */
    uint64_t max_bytes;    /* rotate a file at this size */
    int64_t backup_count;  /* rotated files kept per file */
    bool compress;         /* gzip rotated files */
    uint64_t disk_cap;     /* all files in dir together */
    uint64_t record_max;   /* a longer record is truncated with a marker */
    int64_t batch;         /* journal entries per loop turn */
    char *journal_dir;     /* "": the system journal; a directory for tests */
    bool bus;              /* also take log.* from the bus (lines not in the journal) */
    lg_forward_conf_t forward;
} lg_conf_t;

extern const hlb_conf_table_t lg_conf_table;

/* Parses SECTION (NULL: all defaults) into OUT; problems go to DIAG with
 * file:line. 0 or -EINVAL; OUT must be freed with lg_conf_free either way. */
int lg_conf_parse(const hlb_conf_t *section, lg_conf_t *out, hlb_diag_t *diag);
void lg_conf_free(lg_conf_t *c);
