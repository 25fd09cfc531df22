/* Configuration parsing and defaults (see config.h). */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hlbus/buf.h>
#include <hlbus/confschema.h>
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

/* A list of commands at NODE into *OUT. */
static int parse_cmd_list(const hlb_conf_t *n, const char *what, orch_cmd_t **out, size_t *n_out,
                          hlb_diag_t *d)
{
    if (hlb_conf_kind(n) != HLB_CONF_SEQ) {
        hlb_diag_add(d, n, "%s: expected a list of commands", what);
        return -EINVAL;
    }
    size_t cnt = hlb_conf_count(n);
    orch_cmd_t *v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (parse_cmd(hlb_conf_at(n, i), what, &v[k], d) == 0)
            k++;
        else
            rc = -EINVAL;
    }
    *out = v;
    *n_out = k;
    return rc;
}

/* health: true (wait for health.<the unit's name>), false, or a service
 * name. FIELD: the unit, whose 'unit' row comes first. */
static int parse_unit_health(const hlb_conf_t *h, void *field, void *ctx, hlb_diag_t *d)
{
    orch_unit_cfg_t *u = field;
    const char *hs = hlb_conf_scalar(h);
    if (!hs) {
        hlb_diag_add(d, h, "health: expected true, false or a service name");
        return -EINVAL;
    }
    free(u->health);
    u->health = NULL;
    if (!strcmp(hs, "true") || !strcmp(hs, "yes") || !strcmp(hs, "on")) {
        u->health = u->unit ? sdm_unit_short(u->unit) : NULL;
    } else if (!strcmp(hs, "false") || !strcmp(hs, "no") || !strcmp(hs, "off")) {
        /* no gate */
    } else if (!hlb_name_valid(hs)) {
        hlb_diag_add(d, h, "health: \"%s\" is not a service name ([a-z0-9-])", hs);
        return -EINVAL;
    } else {
        u->health = strdup(hs);
    }
    return 0;
}

static const hlb_conf_key_t unit_keys[] = {
    HLB_KEY_STR(orch_unit_cfg_t, unit, NULL, 0),
    /* skipped when not installed (LoadState not-found) or masked */
    HLB_KEY_BOOL(orch_unit_cfg_t, optional, "false", 0),
    {.key = "health", .kind = HLB_KIND_CUSTOM, .offset = 0, .parse = parse_unit_health},
    {0}};
static const hlb_conf_table_t unit_table = {.name = "unit", .size = sizeof(orch_unit_cfg_t),
                                            .keys = unit_keys};

/* A phase unit: its name, or a map {unit, optional, health}. */
static int parse_unit(const hlb_conf_t *e, orch_unit_cfg_t *u, hlb_diag_t *d)
{
    const char *name = hlb_conf_scalar(e);
    memset(u, 0, sizeof *u);
    if (!name && hlb_conf_kind(e) != HLB_CONF_MAP) {
        hlb_diag_add(d, e, "a phase unit is a name or a map {unit, optional, health}");
        return -EINVAL;
    }
    if (!name) {
        int rc = hlb_conf_schema_parse(&unit_table, e, u, NULL, d);
        if (rc == 0 && !u->unit) {
            hlb_diag_add(d, e, "a phase unit needs \"unit\"");
            rc = -EINVAL;
        }
        if (rc == 0 && !sdm_unit_name_valid(u->unit)) {
            hlb_diag_add(d, e, "\"%s\" is not a unit name (e.g. hl-daemon.service)", u->unit);
            rc = -EINVAL;
        }
        if (rc < 0)
            hlb_conf_schema_free(&unit_table, u);
        return rc;
    }
    if (!sdm_unit_name_valid(name)) {
        hlb_diag_add(d, e, "\"%s\" is not a unit name (e.g. hl-daemon.service)", name);
        return -EINVAL;
    }
    u->unit = strdup(name);
    return u->unit ? 0 : -ENOMEM;
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

/* ---- the schema: what the file may say ---- */

/* A phase's units: names, or maps {unit, optional, health}. FIELD: the phase. */
static int parse_units(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    orch_phase_cfg_t *p = field;
    if (hlb_conf_kind(n) != HLB_CONF_SEQ) {
        hlb_diag_add(d, n, "units: expected a list");
        return -EINVAL;
    }
    size_t cnt = hlb_conf_count(n);
    p->units = calloc(cnt ? cnt : 1, sizeof *p->units);
    if (!p->units)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < cnt; i++)
        if (parse_unit(hlb_conf_at(n, i), &p->units[p->n_units], d) == 0)
            p->n_units++;
        else
            rc = -EINVAL;
    return rc;
}

/* A phase's checks: commands run once its units are up. FIELD: the phase. */
static int parse_phase_checks(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    orch_phase_cfg_t *p = field;
    return parse_cmd_list(n, "checks", &p->checks, &p->n_checks, d);
}

static void phase_init(void *obj, void *ctx) { ((orch_phase_cfg_t *)obj)->timeout_ms = -1; }

static const hlb_conf_key_t phase_keys[] = {
    HLB_KEY_STR(orch_phase_cfg_t, name, NULL, 0),
    /* default: the startup timeout shared out among the phases */
    HLB_KEY("timeout", HLB_KIND_DURATION, orch_phase_cfg_t, timeout_ms, .min = 1,
            .max = 24 * 3600 * 1000LL),
    {.key = "units", .kind = HLB_KIND_CUSTOM, .offset = 0, .parse = parse_units},
    {.key = "checks", .kind = HLB_KIND_CUSTOM, .offset = 0, .parse = parse_phase_checks},
    HLB_KEY("check_timeout", HLB_KIND_DURATION, orch_phase_cfg_t, check_timeout_ms, .def = "60s",
            .min = 1, .max = 3600 * 1000LL),
    {0}};
static const hlb_conf_table_t phase_table = {.name = "phase", .size = sizeof(orch_phase_cfg_t),
                                             .keys = phase_keys, .init = phase_init};

/* The phases: a non-empty list (absent: the spec's four). FIELD: the config. */
static int parse_phases(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    orch_cfg_t *c = field;
    if (hlb_conf_kind(n) != HLB_CONF_SEQ || hlb_conf_count(n) == 0) {
        hlb_diag_add(d, n, "phases: expected a non-empty list");
        return -EINVAL;
    }
    size_t cnt = hlb_conf_count(n);
    c->phases = calloc(cnt, sizeof *c->phases);
    if (!c->phases)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < cnt; i++) {
        const hlb_conf_t *e = hlb_conf_at(n, i);
        orch_phase_cfg_t *p = &c->phases[c->n_phases++];
        if (hlb_conf_kind(e) != HLB_CONF_MAP) {
            hlb_diag_add(d, e, "a phase is a map {name, timeout, units, checks}");
            p->name = strdup("?");
            rc = -EINVAL;
            continue;
        }
        if (hlb_conf_schema_parse(&phase_table, e, p, ctx, d) < 0)
            rc = -EINVAL;
        /* No `units:`: the members are read from hl-phase-<name>.target. */
        p->from_target = !hlb_conf_get(e, "units");
        if (!p->name) {
            hlb_diag_add(d, e, "a phase needs a name");
            p->name = strdup("?");
            rc = -EINVAL;
        } else if (!hlb_name_valid(p->name)) {
            hlb_diag_add(d, e, "phase name \"%s\": use [a-z0-9-]", p->name);
            rc = -EINVAL;
        }
        p->target = orch_phase_target(p->name);
    }
    return rc;
}

static int parse_shutdown_cmds(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    orch_cfg_t *c = field;
    return parse_cmd_list(n, "commands", &c->cleanup_cmds, &c->n_cleanup_cmds, d);
}

static int parse_rebuild(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    return parse_cmd(n, "recovery.rebuild_command", field, d);
}

/* manager: system or user; its default follows 'bus' (see check_cfg). */
static int parse_manager(const hlb_conf_t *n, void *field, void *ctx, hlb_diag_t *d)
{
    const char *v = hlb_conf_scalar(n);
    if (!v || (strcmp(v, "system") && strcmp(v, "user"))) {
        hlb_diag_add(d, n, "manager: system or user, not \"%s\"", v ? v : "a list or map");
        return -EINVAL;
    }
    *(bool *)field = strcmp(v, "user") == 0;
    return 0;
}

/* The sections below read into orch_cfg_t itself (their rows' offset is 0):
 * the struct is flat, the file is not. */
static const char *const gate_names[] = {"off", "auto", NULL};
static const hlb_conf_key_t health_keys[] = {
    /* auto: wait for health.<service> where hl-health runs */
    HLB_KEY("gate", HLB_KIND_ENUM, orch_cfg_t, health_gate, .def = "auto", .names = gate_names),
    /* "hl-health runs" means this unit is active */
    HLB_KEY("unit", HLB_KIND_STR, orch_cfg_t, health_unit, .def = "hl-health.service"),
    HLB_KEY_BOOL(orch_cfg_t, accept_degraded, "false", 0),
    /* services whose members, read from a phase target, wait for health.<service>
     * (the spec's hl-health-check, 1.3.2) */
    HLB_KEY("gates", HLB_KIND_STRV, orch_cfg_t, health_gates,
            .def = "[hl-daemon, claude-code, docker]"),
    {0}};
static const hlb_conf_table_t health_table = {.name = "health", .size = sizeof(orch_cfg_t),
                                              .keys = health_keys};

static const hlb_conf_key_t startup_keys[] = {
    HLB_KEY("timeout", HLB_KIND_DURATION, orch_cfg_t, startup_timeout_ms, .def = "300s",
            .min = 1000, .max = 24 * 3600 * 1000LL),
    {0}};
static const hlb_conf_table_t startup_table = {.name = "startup", .size = sizeof(orch_cfg_t),
                                               .keys = startup_keys};

static const hlb_conf_key_t archive_keys[] = {
    HLB_KEY("enabled", HLB_KIND_BOOL, orch_cfg_t, archive, .def = "true"),
    HLB_KEY("dir", HLB_KIND_STR, orch_cfg_t, archive_dir, .def = "/var/backups/hl"),
    /* by default also the loaded config's directory (orch_cfg_archive_config_dir) */
    HLB_KEY("paths", HLB_KIND_STRV, orch_cfg_t, archive_paths,
            .def = "[/var/lib/hl, /var/log/hl, /etc/hl]"),
    HLB_KEY("exclude", HLB_KIND_STRV, orch_cfg_t, archive_exclude,
            .def = "[/var/lib/hl/cache, /var/lib/hl/tmp]"),
    HLB_KEY("keep", HLB_KIND_INT, orch_cfg_t, archive_keep, .def = "7", .min = 1, .max = 10000),
    HLB_KEY("max_age", HLB_KIND_DURATION, orch_cfg_t, archive_max_age_ms, .def = "168h", .min = 0,
            .max = 3650LL * 24 * 3600 * 1000),
    HLB_KEY("timeout", HLB_KIND_DURATION, orch_cfg_t, archive_timeout_ms, .def = "120s",
            .min = 1000, .max = 24 * 3600 * 1000LL),
    HLB_KEY("tar", HLB_KIND_STR, orch_cfg_t, tar, .def = "/usr/bin/tar"),
    /* the writer of the archive: the program of the periodic backups */
    HLB_KEY("program", HLB_KIND_STR, orch_cfg_t, backup, .def = HL_BACKUP_PROGRAM),
    {0}};
static const hlb_conf_table_t archive_table = {.name = "archive", .size = sizeof(orch_cfg_t),
                                               .keys = archive_keys};

static const hlb_conf_key_t shutdown_keys[] = {
    HLB_KEY("ack_timeout", HLB_KIND_DURATION, orch_cfg_t, ack_timeout_ms, .def = "10s", .min = 0,
            .max = 3600 * 1000LL),
    HLB_KEY("expect_ack", HLB_KIND_STRV, orch_cfg_t, expect_ack,
            .def = "[hl-health, hl-failure, hl-metrics, hl-stdio, hl-logs, hl-git-sync, hl-uplink]"),
    HLB_KEY("stop_timeout", HLB_KIND_DURATION, orch_cfg_t, stop_timeout_ms, .def = "45s",
            .min = 1000, .max = 3600 * 1000LL),
    HLB_KEY("temp_dirs", HLB_KIND_STRV, orch_cfg_t, temp_dirs, .def = "[/tmp]"),
    HLB_KEY("temp_pattern", HLB_KIND_STR, orch_cfg_t, temp_pattern, .def = "hl-*"),
    {.key = "commands", .kind = HLB_KIND_CUSTOM, .offset = 0, .parse = parse_shutdown_cmds},
    HLB_KEY("command_timeout", HLB_KIND_DURATION, orch_cfg_t, cleanup_timeout_ms, .def = "120s",
            .min = 1000, .max = 3600 * 1000LL),
    {.key = "archive", .kind = HLB_KIND_TABLE, .offset = 0, .sub = &archive_table},
    HLB_KEY("instance_state", HLB_KIND_STR, orch_cfg_t, instance_state,
            .def = "/var/lib/hl/hl-orchestrator/instance-state.json"),
    {0}};
static const hlb_conf_table_t shutdown_table = {.name = "shutdown", .size = sizeof(orch_cfg_t),
                                                .keys = shutdown_keys};

static const hlb_conf_key_t recovery_keys[] = {
    HLB_KEY("timeout", HLB_KIND_DURATION, orch_cfg_t, recovery_timeout_ms, .def = "120s",
            .min = 1000, .max = 3600 * 1000LL),
    /* argv with %n (service) and %u (unit); absent: the built-in rebuild (recovery.c) */
    HLB_KEY("rebuild_command", HLB_KIND_CUSTOM, orch_cfg_t, rebuild, .parse = parse_rebuild),
    HLB_KEY("rebuild_timeout", HLB_KIND_DURATION, orch_cfg_t, rebuild_timeout_ms, .def = "600s",
            .min = 1000, .max = 24 * 3600 * 1000LL),
    /* the spec's recovery script removes /var/run/hl/$S.pid and /var/lock/hl/$S.lock */
    HLB_KEY("stale_files", HLB_KIND_STRV, orch_cfg_t, stale_files,
            .def = "['/run/hl/%n.pid', '/run/lock/hl/%n.lock', '%S/%n.pid', '%S/%n.lock']"),
    {0}};
static const hlb_conf_table_t recovery_table = {.name = "recovery", .size = sizeof(orch_cfg_t),
                                                .keys = recovery_keys};

static int check_cfg(void *obj, const hlb_conf_t *s, void *ctx, hlb_diag_t *d);

static const hlb_conf_key_t orch_keys[] = {
    /* system, user, private[:PATH], or an sd-bus address */
    /* the sd-bus connection is made once, at start */
    HLB_KEY_STR(orch_cfg_t, bus, "system", HLB_KEY_RESTART),
    HLB_KEY("manager", HLB_KIND_CUSTOM, orch_cfg_t, user_manager, .parse = parse_manager,
            .flags = HLB_KEY_RESTART),
    HLB_KEY_STR(orch_cfg_t, state_root, "/var/lib/hl", 0),
    HLB_KEY_INT(orch_cfg_t, journal_lines, "20", 0, 1000, 0),
    {.key = "health", .kind = HLB_KIND_TABLE, .offset = 0, .sub = &health_table},
    /* before phases: their timeouts default to a share of it */
    {.key = "startup", .kind = HLB_KIND_TABLE, .offset = 0, .sub = &startup_table},
    {.key = "phases", .kind = HLB_KIND_CUSTOM, .offset = 0, .parse = parse_phases},
    HLB_KEY_STRV(orch_cfg_t, watch, "[hl-bus.service]", 0, 0),
    HLB_KEY_STRV(orch_cfg_t, manage, "[]", 0, 0),
    HLB_KEY_STR(orch_cfg_t, job_mode, "replace", 0),
    {.key = "shutdown", .kind = HLB_KIND_TABLE, .offset = 0, .sub = &shutdown_table},
    {.key = "recovery", .kind = HLB_KIND_TABLE, .offset = 0, .sub = &recovery_table},
    {0}};
static const hlb_conf_table_t orch_table = {.name = "hl-orchestrator", .size = sizeof(orch_cfg_t),
                                            .keys = orch_keys, .check = check_cfg};

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

/* What the rows cannot say: defaults that depend on other keys, and checks
 * across them. S is the section (may be NULL). */
static int check_cfg(void *obj, const hlb_conf_t *s, void *ctx, hlb_diag_t *d)
{
    orch_cfg_t *c = obj;
    const char *private_path = hlb_after_prefix(c->bus, "private:");
    if (private_path && *private_path != '/')
        hlb_diag_add(d, hlb_conf_get(s, "bus"), "bus: private:PATH needs an absolute PATH");
    if (!hlb_conf_get(s, "manager"))
        c->user_manager = !strcmp(c->bus, "user");
    if (c->state_root[0] != '/')
        hlb_diag_add(d, hlb_conf_get(s, "state_root"), "state_root must be an absolute path");

    const hlb_conf_t *ph = hlb_conf_get(s, "phases");
    if (!ph) {
        if (default_phases_build(c, c->startup_timeout_ms) < 0)
            return -ENOMEM;
    } else if (c->n_phases) {
        int64_t share = c->startup_timeout_ms / (int64_t)c->n_phases;
        for (size_t i = 0; i < c->n_phases; i++)
            if (c->phases[i].timeout_ms < 0)
                c->phases[i].timeout_ms = share;
        /* A unit belongs to one phase only, and names are unique. */
        for (size_t i = 0; i < c->n_phases; i++) {
            for (size_t j = 0; j < i; j++)
                if (!strcmp(c->phases[i].name, c->phases[j].name))
                    hlb_diag_add(d, hlb_conf_at(ph, i), "phase \"%s\" is defined twice",
                                 c->phases[i].name);
            for (size_t k = 0; k < c->phases[i].n_units; k++) {
                int at = orch_cfg_phase_of(c, c->phases[i].units[k].unit);
                if (at >= 0 && (size_t)at != i)
                    hlb_diag_add(d, hlb_conf_at(ph, i), "unit %s is in phases %s and %s",
                                 c->phases[i].units[k].unit, c->phases[at].name,
                                 c->phases[i].name);
            }
        }
    }
    const hlb_conf_t *h = hlb_conf_get(s, "health");
    for (char **v = c->health_gates; v && *v; v++)
        if (!hlb_name_valid(*v))
            hlb_diag_add(d, hlb_conf_get(h, "gates"), "health.gates: \"%s\" is not a service name",
                         *v);
    for (char **v = c->watch; v && *v; v++)
        if (!sdm_unit_name_valid(*v))
            hlb_diag_add(d, hlb_conf_get(s, "watch"), "watch: \"%s\" is not a unit name", *v);
    for (char **v = c->manage; v && *v; v++)
        if (!sdm_unit_name_valid(*v))
            hlb_diag_add(d, hlb_conf_get(s, "manage"), "manage: \"%s\" is not a unit name", *v);

    const hlb_conf_t *sd = hlb_conf_get(s, "shutdown");
    for (char **v = c->expect_ack; v && *v; v++)
        if (!hlb_name_valid(*v))
            hlb_diag_add(d, hlb_conf_get(sd, "expect_ack"),
                         "expect_ack: \"%s\" is not a daemon name", *v);
    for (char **v = c->temp_dirs; v && *v; v++)
        if ((*v)[0] != '/')
            hlb_diag_add(d, hlb_conf_get(sd, "temp_dirs"), "temp_dirs: \"%s\" is not absolute", *v);
    const char *tp = c->temp_pattern;
    if (!*tp || strchr(tp, '/') || !strcmp(tp, "*") || !strcmp(tp, ".") || !strcmp(tp, ".."))
        hlb_diag_add(d, hlb_conf_get(sd, "temp_pattern"),
                     "temp_pattern \"%s\": a file name pattern with a fixed part, e.g. hl-*", tp);
    const hlb_conf_t *ar = hlb_conf_get(sd, "archive");
    if (c->archive_dir[0] != '/')
        hlb_diag_add(d, hlb_conf_get(ar, "dir"), "archive.dir must be absolute");
    c->archive_paths_default = !hlb_conf_get(ar, "paths");
    for (char **v = c->archive_paths; v && *v; v++)
        if ((*v)[0] != '/' || strstr(*v, "/../") || !strcmp(*v, "/"))
            hlb_diag_add(d, hlb_conf_get(ar, "paths"),
                         "archive.paths: \"%s\" must be an absolute path below /", *v);
    if (c->tar[0] != '/')
        hlb_diag_add(d, hlb_conf_get(ar, "tar"), "archive.tar must be an absolute path");
    if (c->backup[0] != '/')
        hlb_diag_add(d, hlb_conf_get(ar, "program"), "archive.program must be an absolute path");
    if (c->instance_state[0] != '/')
        hlb_diag_add(d, hlb_conf_get(sd, "instance_state"), "instance_state must be absolute");

    const hlb_conf_t *rv = hlb_conf_get(s, "recovery");
    for (char **v = c->stale_files; v && *v; v++)
        if ((*v)[0] != '/' && !hlb_has_prefix(*v, "%S/"))
            hlb_diag_add(d, hlb_conf_get(rv, "stale_files"),
                         "stale_files: \"%s\" must be absolute (or start with %%S/)", *v);
    return 0;
}

orch_cfg_t *orch_cfg_parse(const hlb_conf_t *s, hlb_diag_t *d)
{
    if (s && hlb_conf_kind(s) != HLB_CONF_MAP) {
        hlb_diag_add(d, s, "hl-orchestrator: expected a map");
        return NULL;
    }
    orch_cfg_t *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    int errors = d->errors;
    /* Into the struct itself: orch_cfg_destroy releases what the rows stored. */
    hlb_conf_schema_parse(&orch_table, s, c, NULL, d);
    c->refs = 1;
    if (d->errors > errors) {
        orch_cfg_destroy(&c);
        return NULL;
    }
    return c;
}

size_t orch_cfg_restart_keys(const orch_cfg_t *old, const orch_cfg_t *c, char ***out)
{
    return hlb_conf_schema_restart_keys(&orch_table, "hl-orchestrator", old, c, out);
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
    free(c->backup);
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
