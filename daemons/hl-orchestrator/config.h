/* hl-orchestrator's configuration: the "hl-orchestrator" section of hl.yaml,
 * with built-in defaults that follow the spec (1.2.2 phases, 1.4 shutdown,
 * 2.2.2 recovery, 5.4 archive retention). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <hlbus/conf.h>
#include <hlbus/strv.h>

/* An argv (NULL-terminated) and its text for messages. */
typedef struct orch_cmd {
    char **argv;
    char *text;
} orch_cmd_t;

typedef struct orch_unit_cfg {
    char *unit;        /* "hl-daemon.service" */
    bool optional;     /* skipped when not installed (LoadState not-found) or masked */
    char *health;      /* the <service> of health.<service> to wait for; NULL: none */
} orch_unit_cfg_t;

typedef struct orch_phase_cfg {
    char *name;
    /* No `units:` in the config: the members are read from systemd, from
     * TARGET (hl-phase-<name>.target), once connected (see phases.h). */
    bool from_target;
    char *target;
    int64_t timeout_ms;
    orch_unit_cfg_t *units;
    size_t n_units;
    orch_cmd_t *checks;   /* run in order once the units are up (and healthy) */
    size_t n_checks;
    int64_t check_timeout_ms;
} orch_phase_cfg_t;

typedef struct orch_cfg {
    char *bus;                  /* system, user, private[:PATH], or an sd-bus address */
    bool user_manager;          /* the manager is a user's: journal fields differ */
    int refs;
    char *state_root;           /* /var/lib/hl */
    int64_t journal_lines;

    bool health_gate;           /* wait for health.<service> where hl-health runs */
    char *health_unit;          /* hl-health.service: "hl-health runs" means it is active */
    bool accept_degraded;
    char **health_gates;        /* services whose members read from a phase target wait for
                                   health.<service> (spec 1.3.2: hl-daemon, claude-code, docker) */

    int64_t startup_timeout_ms; /* all phases together */
    orch_phase_cfg_t *phases;
    size_t n_phases;
    bool members_read;          /* the phase targets' members are in phases[].units */
    char **watch;               /* extra units reported as service.*, NULL-terminated */
    char **manage;              /* extra units start/stop/restart/recover may act on */
    char *job_mode;             /* for start jobs: replace */

    /* shutdown (spec 1.4) */
    int64_t ack_timeout_ms;
    char **expect_ack;          /* daemons whose lifecycle.ack.<daemon> is awaited */
    int64_t stop_timeout_ms;    /* per group of units */
    char **temp_dirs;           /* directories whose entries matching temp_pattern go */
    char *temp_pattern;
    orch_cmd_t *cleanup_cmds;
    size_t n_cleanup_cmds;
    int64_t cleanup_timeout_ms;
    bool archive;
    bool archive_paths_default;
    char *archive_dir;
    char **archive_paths;       /* by default also the loaded config's directory */
    char **archive_exclude;
    int64_t archive_keep;       /* archives kept at most (newest first) */
    int64_t archive_max_age_ms; /* older ones go */
    int64_t archive_timeout_ms;
    char *tar;                  /* absolute path of GNU tar */
    char *backup;               /* hl-backup, which writes the archive */
    char *instance_state;       /* file written at the end of a shutdown */

    /* recovery (spec 2.2.2) */
    int64_t recovery_timeout_ms; /* each stop/start job */
    orch_cmd_t rebuild;          /* argv with %n (service) and %u (unit); none when NULL */
    int64_t rebuild_timeout_ms;
    char **stale_files;          /* patterns with %n, %u, %S (state_root) */
} orch_cfg_t;

/* Parses SECTION (may be NULL: all defaults). Problems go to DIAG with file
 * and line; NULL then. */
orch_cfg_t *orch_cfg_parse(const hlb_conf_t *section, hlb_diag_t *diag);
/* Appends to *OUT the keys ("hl-orchestrator.bus") that differ between OLD
 * and C and take effect only at the next start; returns how many. */
size_t orch_cfg_restart_keys(const orch_cfg_t *old, const orch_cfg_t *c, char ***out);
/* Drops a reference (the last one frees); nulls *SELF_P. */
void orch_cfg_destroy(orch_cfg_t **self_p);
orch_cfg_t *orch_cfg_ref(orch_cfg_t *c);

/* Adds the directory of the config file actually loaded (FILE) to the
 * default archive paths when it is not there yet (a /usr/local install keeps
 * its config in /usr/local/etc/hl). Paths configured explicitly stay as
 * they are. */
void orch_cfg_archive_config_dir(orch_cfg_t *c, const char *file);

/* "hl-phase-<PHASE>.target"; the caller frees. */
char *orch_phase_target(const char *phase);

/* Expands %n (service), %u (unit), %S (state root) and %% in PATTERN. */
char *orch_expand(const char *pattern, const char *unit, const char *state_root);
/* Whether UNIT is one the orchestrator manages (a phase's or "manage"). */
bool orch_cfg_manages(const orch_cfg_t *c, const char *unit);
/* The phase index (0-based) of UNIT, or -1. */
int orch_cfg_phase_of(const orch_cfg_t *c, const char *unit);
