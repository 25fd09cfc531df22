/* Configuration parsing and defaults (see config.h). */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hlbus/buf.h>
#include <hlbus/paths.h>
#include "sdm.h"
#include <hlbus/str.h>

/* The spec's four phases (1.2.2), 60+90+90+60 s = its 300 s. Their members
 * are not listed here: each unit joins its phase from its own [Install]
 * section (RequiredBy=/WantedBy=hl-phase-<name>.target), and foreign units
 * (network-online.target, docker.service) from the phase target's file; the
 * orchestrator reads the targets over sd-bus (phases.c). */
static const struct {
    const char *name;
    int64_t timeout_ms;
} default_phases[] = {
    {"infrastructure", 60000},
    {"core", 90000},
    {"application", 90000},
    {"health", 60000},
};

/* Health gates follow the spec's hl-health-check (1.3.2). */
static const char *const default_health_gates[] = {"hl-daemon", "claude-code", "docker", NULL};
static const char *const default_watch[] = {"hl-bus.service", NULL};
static const char *const default_temp_dirs[] = {"/tmp", NULL};
static const char *const default_archive_paths[] = {"/var/lib/hl", "/var/log/hl", "/etc/hl", NULL};
static const char *const default_archive_exclude[] = {"/var/lib/hl/cache", "/var/lib/hl/tmp", NULL};
/* The spec's recovery script removes /var/run/hl/$S.pid and /var/lock/hl/$S.lock. */
static const char *const default_stale[] = {"/run/hl/%n.pid", "/run/lock/hl/%n.lock",
                                            "%S/%n.pid", "%S/%n.lock", NULL};

static void cmd_free(orch_cmd_t *c)
{
    hlb_strv_free(c->argv);
    free(c->text);
    c->argv = NULL;
    c->text = NULL;
}

static char *strv_text(char *const *argv)
{
    hlb_buf_t b = {0};
    for (size_t i = 0; argv[i]; i++) {
        if (i)
            hlb_buf_puts(&b, " ");
        bool quote = argv[i][0] == '\0' || strpbrk(argv[i], " \t'\"") != NULL;
        if (quote)
            hlb_buf_puts(&b, "'");
        hlb_buf_puts(&b, argv[i]);
        if (quote)
            hlb_buf_puts(&b, "'");
    }
    if (!b.data)
        hlb_buf_puts(&b, "");
    return hlb_buf_steal(&b);
}

/* A list of strings at PATH (absent: DEF). */
static int parse_strv(const hlb_conf_t *node, const char *path, const char *const *def,
                      char ***out, hlb_diag_t *d)
{
    const hlb_conf_t *n = hlb_conf_get(node, path);
    if (!n) {
        *out = hlb_strv_dup((char *const *)def);
        return *out ? 0 : -ENOMEM;
    }
    if (hlb_conf_kind(n) != HLB_CONF_SEQ) {
        hlb_diag_add(d, n, "%s: expected a list of strings", path);
        *out = hlb_strv_dup((char *const *)def);
        return -EINVAL;
    }
    size_t cnt = hlb_conf_count(n);
    char **v = calloc(cnt + 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        const hlb_conf_t *e = hlb_conf_at(n, i);
        const char *s = hlb_conf_scalar(e);
        if (!s) {
            hlb_diag_add(d, e, "%s: expected a string", path);
            rc = -EINVAL;
            continue;
        }
        v[k++] = strdup(s);
    }
    *out = v;
    return rc;
}

/* An argv: a list of strings whose first is an absolute path. */
static int parse_cmd(const hlb_conf_t *n, const char *what, orch_cmd_t *out, hlb_diag_t *d)
{
    if (hlb_conf_kind(n) != HLB_CONF_SEQ || hlb_conf_count(n) == 0) {
        hlb_diag_add(d, n, "%s: expected a command as a list: [/absolute/program, arg, ...]",
                     what);
        return -EINVAL;
    }
    size_t cnt = hlb_conf_count(n);
    char **v = calloc(cnt + 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const char *s = hlb_conf_scalar(hlb_conf_at(n, i));
        if (!s) {
            hlb_diag_add(d, hlb_conf_at(n, i), "%s: arguments must be strings", what);
            hlb_strv_free(v);
            return -EINVAL;
        }
        v[i] = strdup(s);
    }
    if (v[0][0] != '/') {
        hlb_diag_add(d, n, "%s: the program must be an absolute path, not \"%s\" (no shell, no PATH)",
                     what, v[0]);
        hlb_strv_free(v);
        return -EINVAL;
    }
    out->argv = v;
    out->text = strv_text(v);
    return 0;
}

static int parse_cmds(const hlb_conf_t *node, const char *path, orch_cmd_t **out, size_t *n_out,
                      hlb_diag_t *d)
{
    *out = NULL;
    *n_out = 0;
    const hlb_conf_t *n = hlb_conf_get(node, path);
    if (!n)
        return 0;
    if (hlb_conf_kind(n) != HLB_CONF_SEQ) {
        hlb_diag_add(d, n, "%s: expected a list of commands", path);
        return -EINVAL;
    }
    size_t cnt = hlb_conf_count(n);
    orch_cmd_t *v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (parse_cmd(hlb_conf_at(n, i), path, &v[k], d) == 0)
            k++;
        else
            rc = -EINVAL;
    }
    *out = v;
    *n_out = k;
    return rc;
}

static int parse_unit(const hlb_conf_t *e, orch_unit_cfg_t *u, hlb_diag_t *d)
{
    static const char *const keys[] = {"unit", "optional", "health", NULL};
    const char *name = hlb_conf_scalar(e);
    bool optional = false;
    const char *health = NULL;
    bool health_on = false;
    if (!name) {
        if (hlb_conf_kind(e) != HLB_CONF_MAP) {
            hlb_diag_add(d, e, "a phase unit is a name or a map {unit, optional, health}");
            return -EINVAL;
        }
        int rc = hlb_conf_check_keys(e, keys, d);
        rc |= hlb_conf_str(e, "unit", NULL, &name, d);
        rc |= hlb_conf_bool(e, "optional", false, &optional, d);
        const hlb_conf_t *h = hlb_conf_get(e, "health");
        if (h) {
            const char *hs = hlb_conf_scalar(h);
            if (!hs) {
                hlb_diag_add(d, h, "health: expected true, false or a service name");
                rc = -EINVAL;
            } else if (!strcmp(hs, "true") || !strcmp(hs, "yes") || !strcmp(hs, "on")) {
                health_on = true;
            } else if (!strcmp(hs, "false") || !strcmp(hs, "no") || !strcmp(hs, "off")) {
                health_on = false;
            } else if (!hlb_name_valid(hs)) {
                hlb_diag_add(d, h, "health: \"%s\" is not a service name ([a-z0-9-])", hs);
                rc = -EINVAL;
            } else {
                health = hs;
            }
        }
        if (rc)
            return -EINVAL;
        if (!name) {
            hlb_diag_add(d, e, "a phase unit needs \"unit\"");
            return -EINVAL;
        }
    }
    if (!sdm_unit_name_valid(name)) {
        hlb_diag_add(d, e, "\"%s\" is not a unit name (e.g. hl-daemon.service)", name);
        return -EINVAL;
    }
    u->unit = strdup(name);
    u->optional = optional;
    if (health)
        u->health = strdup(health);
    else if (health_on)
        u->health = sdm_unit_short(name);
    return 0;
}

static void phase_free(orch_phase_cfg_t *p)
{
    free(p->name);
    free(p->target);
    for (size_t i = 0; i < p->n_units; i++) {
        free(p->units[i].unit);
        free(p->units[i].health);
    }
    free(p->units);
    for (size_t i = 0; i < p->n_checks; i++)
        cmd_free(&p->checks[i]);
    free(p->checks);
}

static int parse_phase(const hlb_conf_t *e, int64_t default_timeout, orch_phase_cfg_t *p,
                       hlb_diag_t *d)
{
    static const char *const keys[] = {"name", "timeout", "units", "checks", "check_timeout",
                                       NULL};
    if (hlb_conf_kind(e) != HLB_CONF_MAP) {
        hlb_diag_add(d, e, "a phase is a map {name, timeout, units, checks}");
        return -EINVAL;
    }
    int rc = hlb_conf_check_keys(e, keys, d);
    const char *name = NULL;
    rc |= hlb_conf_str(e, "name", NULL, &name, d);
    if (!name) {
        hlb_diag_add(d, e, "a phase needs a name");
        rc = -EINVAL;
    } else if (!hlb_name_valid(name)) {
        hlb_diag_add(d, e, "phase name \"%s\": use [a-z0-9-]", name);
        rc = -EINVAL;
    }
    p->name = strdup(name ? name : "?");
    p->target = orch_phase_target(p->name);
    rc |= hlb_conf_duration_ms(e, "timeout", default_timeout, 1, 24 * 3600 * 1000LL,
                               &p->timeout_ms, d);
    rc |= hlb_conf_duration_ms(e, "check_timeout", 60000, 1, 3600 * 1000LL, &p->check_timeout_ms,
                               d);
    const hlb_conf_t *units = hlb_conf_get(e, "units");
    p->from_target = units == NULL;
    if (units && hlb_conf_kind(units) != HLB_CONF_SEQ) {
        hlb_diag_add(d, units, "units: expected a list");
        rc = -EINVAL;
    } else if (units) {
        size_t cnt = hlb_conf_count(units);
        p->units = calloc(cnt ? cnt : 1, sizeof *p->units);
        if (!p->units)
            return -ENOMEM;
        for (size_t i = 0; i < cnt; i++)
            if (parse_unit(hlb_conf_at(units, i), &p->units[p->n_units], d) == 0)
                p->n_units++;
            else
                rc = -EINVAL;
    }
    rc |= parse_cmds(e, "checks", &p->checks, &p->n_checks, d);
    return rc ? -EINVAL : 0;
}

static int default_phases_build(orch_cfg_t *c, int64_t scale_total)
{
    size_t n = sizeof default_phases / sizeof default_phases[0];
    c->phases = calloc(n, sizeof *c->phases);
    if (!c->phases)
        return -ENOMEM;
    c->n_phases = n;
    for (size_t i = 0; i < n; i++) {
        orch_phase_cfg_t *p = &c->phases[i];
        p->name = strdup(default_phases[i].name);
        p->target = p->name ? orch_phase_target(p->name) : NULL;
        p->from_target = true;
        /* Scale the per-phase defaults to the configured total. */
        p->timeout_ms = default_phases[i].timeout_ms * scale_total / 300000;
        if (p->timeout_ms < 1000)
            p->timeout_ms = 1000;
        p->check_timeout_ms = 60000;
        p->units = calloc(1, sizeof *p->units);
        if (!p->name || !p->target || !p->units)
            return -ENOMEM;
    }
    return 0;
}

char *orch_phase_target(const char *phase)
{
    char *t = NULL;
    if (asprintf(&t, "hl-phase-%s.target", phase) < 0)
        return NULL;
    return t;
}

orch_cfg_t *orch_cfg_parse(const hlb_conf_t *s, hlb_diag_t *d)
{
    static const char *const keys[] = {"bus", "manager", "state_root", "journal_lines",
                                       "health", "startup", "phases", "watch", "manage",
                                       "job_mode", "shutdown", "recovery", NULL};
    static const char *const health_keys[] = {"gate", "unit", "accept_degraded", "gates", NULL};
    static const char *const startup_keys[] = {"timeout", NULL};
    static const char *const shutdown_keys[] = {"ack_timeout", "expect_ack", "stop_timeout",
                                                "temp_dirs", "temp_pattern", "commands",
                                                "command_timeout", "archive", "instance_state",
                                                NULL};
    static const char *const archive_keys[] = {"enabled", "dir", "paths", "exclude", "keep",
                                               "max_age", "timeout", "tar", NULL};
    static const char *const recovery_keys[] = {"timeout", "rebuild_command", "rebuild_timeout",
                                                "stale_files", NULL};
    orch_cfg_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    int rc = 0;
    const char *str;
    if (s && hlb_conf_kind(s) != HLB_CONF_MAP) {
        hlb_diag_add(d, s, "hl-orchestrator: expected a map");
        orch_cfg_destroy(&c);
        return NULL;
    }
    if (s)
        rc |= hlb_conf_check_keys(s, keys, d);
    rc |= hlb_conf_str(s, "bus", "system", &str, d);
    c->bus = strdup(str);
    const char *private_path = hlb_after_prefix(str, "private:");
    if (private_path && *private_path != '/') {
        hlb_diag_add(d, hlb_conf_get(s, "bus"), "bus: private:PATH needs an absolute PATH");
        rc = -EINVAL;
    }
    const char *mgr;
    rc |= hlb_conf_str(s, "manager", !strcmp(str, "user") ? "user" : "system", &mgr, d);
    if (strcmp(mgr, "system") && strcmp(mgr, "user")) {
        hlb_diag_add(d, hlb_conf_get(s, "manager"), "manager: system or user, not \"%s\"", mgr);
        rc = -EINVAL;
    }
    c->user_manager = !strcmp(mgr, "user");
    rc |= hlb_conf_str(s, "state_root", "/var/lib/hl", &str, d);
    if (str[0] != '/') {
        hlb_diag_add(d, hlb_conf_get(s, "state_root"), "state_root must be an absolute path");
        rc = -EINVAL;
    }
    c->state_root = strdup(str);
    rc |= hlb_conf_int(s, "journal_lines", 20, 0, 1000, &c->journal_lines, d);
    rc |= hlb_conf_str(s, "job_mode", "replace", &str, d);
    c->job_mode = strdup(str);

    const hlb_conf_t *h = hlb_conf_get(s, "health");
    if (h)
        rc |= hlb_conf_check_keys(h, health_keys, d);
    rc |= hlb_conf_str(h, "gate", "auto", &str, d);
    if (strcmp(str, "auto") && strcmp(str, "off")) {
        hlb_diag_add(d, hlb_conf_get(h, "gate"), "health.gate: auto or off, not \"%s\"", str);
        rc = -EINVAL;
    }
    c->health_gate = strcmp(str, "auto") == 0;
    rc |= hlb_conf_str(h, "unit", "hl-health.service", &str, d);
    c->health_unit = strdup(str);
    rc |= hlb_conf_bool(h, "accept_degraded", false, &c->accept_degraded, d);
    rc |= parse_strv(h, "gates", default_health_gates, &c->health_gates, d);
    for (char **v = c->health_gates; v && *v; v++)
        if (!hlb_name_valid(*v)) {
            hlb_diag_add(d, hlb_conf_get(h, "gates"), "health.gates: \"%s\" is not a service name",
                         *v);
            rc = -EINVAL;
        }

    const hlb_conf_t *st = hlb_conf_get(s, "startup");
    if (st)
        rc |= hlb_conf_check_keys(st, startup_keys, d);
    rc |= hlb_conf_duration_ms(st, "timeout", 300000, 1000, 24 * 3600 * 1000LL,
                               &c->startup_timeout_ms, d);

    const hlb_conf_t *ph = hlb_conf_get(s, "phases");
    if (!ph) {
        if (default_phases_build(c, c->startup_timeout_ms) < 0)
            rc = -ENOMEM;
    } else if (hlb_conf_kind(ph) != HLB_CONF_SEQ || hlb_conf_count(ph) == 0) {
        hlb_diag_add(d, ph, "phases: expected a non-empty list");
        rc = -EINVAL;
    } else {
        size_t cnt = hlb_conf_count(ph);
        c->phases = calloc(cnt, sizeof *c->phases);
        if (!c->phases) {
            orch_cfg_destroy(&c);
            return NULL;
        }
        int64_t share = c->startup_timeout_ms / (int64_t) cnt;
        for (size_t i = 0; i < cnt; i++) {
            rc |= parse_phase(hlb_conf_at(ph, i), share, &c->phases[i], d);
            c->n_phases++;
        }
        /* A unit belongs to one phase only, and names are unique. */
        for (size_t i = 0; i < c->n_phases; i++) {
            for (size_t j = 0; j < i; j++)
                if (!strcmp(c->phases[i].name, c->phases[j].name)) {
                    hlb_diag_add(d, hlb_conf_at(ph, i), "phase \"%s\" is defined twice",
                                 c->phases[i].name);
                    rc = -EINVAL;
                }
            for (size_t k = 0; k < c->phases[i].n_units; k++) {
                int at = orch_cfg_phase_of(c, c->phases[i].units[k].unit);
                if (at >= 0 && (size_t) at != i) {
                    hlb_diag_add(d, hlb_conf_at(ph, i), "unit %s is in phases %s and %s",
                                 c->phases[i].units[k].unit, c->phases[at].name,
                                 c->phases[i].name);
                    rc = -EINVAL;
                }
            }
        }
    }
    rc |= parse_strv(s, "watch", default_watch, &c->watch, d);
    rc |= parse_strv(s, "manage", (const char *const[]) {NULL}, &c->manage, d);
    for (char **v = c->watch; v && *v; v++)
        if (!sdm_unit_name_valid(*v)) {
            hlb_diag_add(d, hlb_conf_get(s, "watch"), "watch: \"%s\" is not a unit name", *v);
            rc = -EINVAL;
        }
    for (char **v = c->manage; v && *v; v++)
        if (!sdm_unit_name_valid(*v)) {
            hlb_diag_add(d, hlb_conf_get(s, "manage"), "manage: \"%s\" is not a unit name", *v);
            rc = -EINVAL;
        }

    const hlb_conf_t *sd = hlb_conf_get(s, "shutdown");
    if (sd)
        rc |= hlb_conf_check_keys(sd, shutdown_keys, d);
    rc |= hlb_conf_duration_ms(sd, "ack_timeout", 10000, 0, 3600 * 1000LL, &c->ack_timeout_ms, d);
    rc |= parse_strv(sd, "expect_ack", (const char *const[]) {NULL}, &c->expect_ack, d);
    for (char **v = c->expect_ack; v && *v; v++)
        if (!hlb_name_valid(*v)) {
            hlb_diag_add(d, hlb_conf_get(sd, "expect_ack"), "expect_ack: \"%s\" is not a daemon name",
                         *v);
            rc = -EINVAL;
        }
    rc |= hlb_conf_duration_ms(sd, "stop_timeout", 45000, 1000, 3600 * 1000LL,
                               &c->stop_timeout_ms, d);
    rc |= parse_strv(sd, "temp_dirs", default_temp_dirs, &c->temp_dirs, d);
    for (char **v = c->temp_dirs; v && *v; v++)
        if ((*v)[0] != '/') {
            hlb_diag_add(d, hlb_conf_get(sd, "temp_dirs"), "temp_dirs: \"%s\" is not absolute", *v);
            rc = -EINVAL;
        }
    rc |= hlb_conf_str(sd, "temp_pattern", "hl-*", &str, d);
    if (!*str || strchr(str, '/') || !strcmp(str, "*") || !strcmp(str, ".") || !strcmp(str, "..")) {
        hlb_diag_add(d, hlb_conf_get(sd, "temp_pattern"),
                     "temp_pattern \"%s\": a file name pattern with a fixed part, e.g. hl-*", str);
        rc = -EINVAL;
    }
    c->temp_pattern = strdup(str);
    rc |= parse_cmds(sd, "commands", &c->cleanup_cmds, &c->n_cleanup_cmds, d);
    rc |= hlb_conf_duration_ms(sd, "command_timeout", 120000, 1000, 3600 * 1000LL,
                               &c->cleanup_timeout_ms, d);
    const hlb_conf_t *ar = hlb_conf_get(sd, "archive");
    if (ar)
        rc |= hlb_conf_check_keys(ar, archive_keys, d);
    rc |= hlb_conf_bool(ar, "enabled", true, &c->archive, d);
    rc |= hlb_conf_str(ar, "dir", "/var/backups/hl", &str, d);
    c->archive_dir = strdup(str);
    if (str[0] != '/') {
        hlb_diag_add(d, hlb_conf_get(ar, "dir"), "archive.dir must be absolute");
        rc = -EINVAL;
    }
    c->archive_paths_default = !hlb_conf_get(ar, "paths");
    rc |= parse_strv(ar, "paths", default_archive_paths, &c->archive_paths, d);
    rc |= parse_strv(ar, "exclude", default_archive_exclude, &c->archive_exclude, d);
    for (char **v = c->archive_paths; v && *v; v++)
        if ((*v)[0] != '/' || strstr(*v, "/../") || !strcmp(*v, "/")) {
            hlb_diag_add(d, hlb_conf_get(ar, "paths"),
                         "archive.paths: \"%s\" must be an absolute path below /", *v);
            rc = -EINVAL;
        }
    rc |= hlb_conf_int(ar, "keep", 7, 1, 10000, &c->archive_keep, d);
    rc |= hlb_conf_duration_ms(ar, "max_age", 7LL * 24 * 3600 * 1000, 0,
                               3650LL * 24 * 3600 * 1000, &c->archive_max_age_ms, d);
    rc |= hlb_conf_duration_ms(ar, "timeout", 120000, 1000, 24 * 3600 * 1000LL,
                               &c->archive_timeout_ms, d);
    rc |= hlb_conf_str(ar, "tar", "/usr/bin/tar", &str, d);
    if (str[0] != '/') {
        hlb_diag_add(d, hlb_conf_get(ar, "tar"), "archive.tar must be an absolute path");
        rc = -EINVAL;
    }
    c->tar = strdup(str);
    rc |= hlb_conf_str(sd, "instance_state", "/var/lib/hl/hl-orchestrator/instance-state.json",
                       &str, d);
    if (str[0] != '/') {
        hlb_diag_add(d, hlb_conf_get(sd, "instance_state"), "instance_state must be absolute");
        rc = -EINVAL;
    }
    c->instance_state = strdup(str);

    const hlb_conf_t *rv = hlb_conf_get(s, "recovery");
    if (rv)
        rc |= hlb_conf_check_keys(rv, recovery_keys, d);
    rc |= hlb_conf_duration_ms(rv, "timeout", 120000, 1000, 3600 * 1000LL,
                               &c->recovery_timeout_ms, d);
    const hlb_conf_t *rb = hlb_conf_get(rv, "rebuild_command");
    if (rb)
        rc |= parse_cmd(rb, "recovery.rebuild_command", &c->rebuild, d);
    rc |= hlb_conf_duration_ms(rv, "rebuild_timeout", 600000, 1000, 24 * 3600 * 1000LL,
                               &c->rebuild_timeout_ms, d);
    rc |= parse_strv(rv, "stale_files", default_stale, &c->stale_files, d);
    for (char **v = c->stale_files; v && *v; v++)
        if ((*v)[0] != '/' && !hlb_has_prefix(*v, "%S/")) {
            hlb_diag_add(d, hlb_conf_get(rv, "stale_files"),
                         "stale_files: \"%s\" must be absolute (or start with %%S/)", *v);
            rc = -EINVAL;
        }

    c->refs = 1;
    if (rc || !c->bus || !c->state_root || !c->health_unit ||
        !c->temp_pattern || !c->archive_dir || !c->tar || !c->instance_state || !c->job_mode) {
        if (!d->errors)
            hlb_diag_add(d, s, "hl-orchestrator: out of memory");
        orch_cfg_destroy(&c);
        return NULL;
    }
    return c;
}

orch_cfg_t *orch_cfg_ref(orch_cfg_t *c)
{
    if (c)
        c->refs++;
    return c;
}

void orch_cfg_destroy(orch_cfg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    orch_cfg_t *c = *self_p;
    *self_p = NULL;
    if (--c->refs > 0)
        return;
    free(c->bus);
    free(c->state_root);
    free(c->health_unit);
    hlb_strv_free(c->health_gates);
    for (size_t i = 0; i < c->n_phases; i++)
        phase_free(&c->phases[i]);
    free(c->phases);
    hlb_strv_free(c->watch);
    hlb_strv_free(c->manage);
    free(c->job_mode);
    hlb_strv_free(c->expect_ack);
    hlb_strv_free(c->temp_dirs);
    free(c->temp_pattern);
    for (size_t i = 0; i < c->n_cleanup_cmds; i++)
        cmd_free(&c->cleanup_cmds[i]);
    free(c->cleanup_cmds);
    free(c->archive_dir);
    hlb_strv_free(c->archive_paths);
    hlb_strv_free(c->archive_exclude);
    free(c->tar);
    free(c->instance_state);
    cmd_free(&c->rebuild);
    hlb_strv_free(c->stale_files);
    free(c);
    *self_p = NULL;
}

char *orch_expand(const char *pattern, const char *unit, const char *state_root)
{
    hlb_buf_t b = {0};
    char *service = sdm_unit_short(unit);
    if (!service)
        return NULL;
    for (const char *p = pattern; *p; p++) {
        if (*p != '%' || !p[1]) {
            hlb_buf_add(&b, p, 1);
            continue;
        }
        p++;
        switch (*p) {
        case 'n': hlb_buf_puts(&b, service); break;
        case 'u': hlb_buf_puts(&b, unit); break;
        case 'S': hlb_buf_puts(&b, state_root); break;
        case '%': hlb_buf_puts(&b, "%"); break;
        default: hlb_buf_add(&b, p - 1, 2); break;
        }
    }
    free(service);
    if (!b.data)
        hlb_buf_puts(&b, "");
    return hlb_buf_steal(&b);
}

void orch_cfg_archive_config_dir(orch_cfg_t *c, const char *file)
{
    if (!c->archive_paths_default || !file || file[0] != '/')
        return;
    const char *slash = strrchr(file, '/');
    char *dir = slash == file ? strdup("/") : strndup(file, (size_t) (slash - file));
    if (!dir || !strcmp(dir, "/")) {
        free(dir);
        return;
    }
    size_t n = hlb_strv_len(c->archive_paths);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(c->archive_paths[i], dir)) {
            free(dir);
            return;
        }
    char **v = realloc(c->archive_paths, (n + 2) * sizeof *v);
    if (!v) {
        free(dir);
        return;
    }
    v[n] = dir;
    v[n + 1] = NULL;
    c->archive_paths = v;
}

int orch_cfg_phase_of(const orch_cfg_t *c, const char *unit)
{
    for (size_t i = 0; i < c->n_phases; i++)
        for (size_t k = 0; k < c->phases[i].n_units; k++)
            if (!strcmp(c->phases[i].units[k].unit, unit))
                return (int) i;
    return -1;
}

bool orch_cfg_manages(const orch_cfg_t *c, const char *unit)
{
    if (orch_cfg_phase_of(c, unit) >= 0)
        return true;
    for (char **v = c->manage; v && *v; v++)
        if (!strcmp(*v, unit))
            return true;
    return false;
}
