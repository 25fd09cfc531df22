/* hl-orchestrator: configure, start and stop (the systemd connection, the
 * bus subscriptions) and the overall lifecycle state; startup.c, shutdown.c,
 * recovery.c, units.c and methods.c are what it routes to (orch.h). */
#include "orch.h"
#include "phases.h"
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <hlbus/str.h>
#include <hlbus/pbfield.h>

/* lc_state_t counts from 0, the proto's Lifecycle from 1 (0: unspecified). */
_Static_assert(LC_READY + 1 == HL__LIFECYCLE__LIFECYCLE_READY &&
                   LC_STOPPED + 1 == HL__LIFECYCLE__LIFECYCLE_STOPPED,
               "lc_state_t follows proto/orchestrator.proto's Lifecycle");
static Hl__Lifecycle lc_proto(lc_state_t st)
{
    return (Hl__Lifecycle) (st + 1);
}

const char *orch_lc_name(lc_state_t st)
{
    return hlb_pb_enum_word(&hl__lifecycle__descriptor, lc_proto(st));
}

void orch_lifecycle_fill(orch_t *o, Hl__LifecycleState *m)
{
    hl__lifecycle_state__init(m);
    m->state = lc_proto(o->lc);
    m->phase = o->lc_phase;
    m->phase_name = (char *) (o->lc_phase_name ? o->lc_phase_name : "");
    m->status = hlb_pb_str(o->status);
    m->since_us = o->lc_since_us;
    m->ts_us = hlb_now_us();
    m->pid = (uint32_t) getpid();
    m->boot_us = o->boot_us;
    m->startup_began_us = o->startup_began_us;
    m->ready_us = o->ready_us;
}

void orch_note_boot(orch_t *o)
{
    uint64_t userspace = sdm_userspace_mono_us(o->sdm), mono = hlb_mono_us();
    if (!o->boot_us && userspace && userspace <= mono)
        o->boot_us = hlb_now_us() - (mono - userspace);
}

void orch_set_lifecycle(orch_t *o, lc_state_t st, const char *fmt, ...)
{
    hlb_buf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    hlb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *text = hlb_buf_steal(&b);
    bool same = o->lc == st && o->status && text && !strcmp(o->status, text);
    if (o->lc != st || !o->lc_since_us)
        o->lc_since_us = hlb_now_us();
    o->lc = st;
    if (same) {
        free(text);
        return;
    }
    free(o->status);
    o->status = text;
    if (o->d)
        hlb_daemon_status(o->d, "%s", text ? text : "");
    if (o->pub) {
        Hl__LifecycleState m;
        orch_lifecycle_fill(o, &m);
        hlb_pub_send(o->pub, "lifecycle.state", &m.base);
    }
}

char *orch_transient_name(orch_t *o, const char *what)
{
    char *n = NULL;
    if (asprintf(&n, "hl-orch-%s-%d-%llu.service", what, (int) getpid(),
                 (unsigned long long) ++o->counter) < 0)
        return NULL;
    return n;
}

char *orch_normalize_unit(const char *unit)
{
    if (!unit || !*unit)
        return NULL;
    char *n = NULL;
    if (strchr(unit, '.'))
        n = strdup(unit);
    else if (asprintf(&n, "%s.service", unit) < 0)
        n = NULL;
    if (n && !sdm_unit_name_valid(n)) {
        free(n);
        n = NULL;
    }
    return n;
}

/* ---- systemd ---- */

static void watch_configured(orch_t *o)
{
    const orch_cfg_t *c = o->cfg;
    phases_watch_targets(c, o->sdm);
    for (size_t i = 0; i < c->n_phases; i++)
        for (size_t k = 0; k < c->phases[i].n_units; k++)
            sdm_watch(o->sdm, c->phases[i].units[k].unit);
    for (char **v = c->watch; v && *v; v++)
        sdm_watch(o->sdm, *v);
    for (char **v = c->manage; v && *v; v++)
        sdm_watch(o->sdm, *v);
    sdm_watch(o->sdm, c->health_unit);
    /* The daemons whose shutdown acknowledgement is awaited: whether each
     * one runs decides whether the shutdown waits for it. */
    for (char **v = c->expect_ack; v && *v; v++) {
        char *unit = hlb_strdupf("%s.service", *v);
        if (unit)
            sdm_watch(o->sdm, unit);
        free(unit);
    }
}

/* The startup begins once systemd has reported every phase member. */
static void begin_when_known(orch_t *o)
{
    if (!o->awaiting_members || !phases_members_known(o->cfg, o->sdm))
        return;
    o->awaiting_members = false;
    if (o->startup)
        startup_begin(o->startup);
}

/* The first connection: the phases' members come from their targets, then
 * the startup is built on them (not before: its units are the members). A
 * shutdown asked for before systemd answered has nothing to wait for. */
static void begin_startup(orch_t *o)
{
    if (o->lc == LC_SHUTTING_DOWN || o->lc == LC_STOPPED)
        return;
    char *why = NULL;
    int r = phases_read(o->cfg, o->sdm, &why);
    if (r < 0) {
        const char *text = why ? why : strerror(-r);
        hlb_err("cannot start: %s", text);
        orch_set_lifecycle(o, LC_FAILED, "failed: %s", text);
        free(why);
        hlb_daemon_quit(o->d, 3); /* not restarted: the install is incomplete */
        return;
    }
    watch_configured(o); /* the members, now known */
    o->startup = startup_new(o);
    if (!o->startup) {
        hlb_err("out of memory");
        hlb_daemon_quit(o->d, 1);
        return;
    }
    o->awaiting_members = true;
    begin_when_known(o);
}

static void on_sdm_ready(sdm_t *m, void *arg)
{
    orch_t *o = arg;
    units_snapshot(o);
    if (!o->started) {
        o->started = true;
        hlb_info("connected to systemd (%s bus)", o->cfg->bus);
        begin_startup(o);
    } else {
        hlb_info("reconnected to systemd");
        startup_poke(o->startup);
        if (o->shutdown)
            shutdown_poke(o->shutdown);
    }
}

static void on_sdm_lost(sdm_t *m, int err, void *arg)
{
    orch_t *o = arg;
    hlb_warn("lost the connection to systemd (%s); reconnecting", strerror(-err));
    (void) o;
}

static void on_unit_changed(sdm_t *m, sdm_unit_t *u, bool settled, void *arg)
{
    orch_t *o = arg;
    units_changed(o, u, settled);
    if (settled)
        begin_when_known(o);
}

static void on_event(hlb_daemon_t *d, const hlb_event_t *ev, void *arg)
{
    orch_t *o = arg;
    if (!hlb_event_from_owner(ev)) /* only hl-health's health, each daemon's own ack */
        return;
    if (hlb_has_prefix(ev->topic, "health."))
        health_event(o, ev);
    else if (hlb_has_prefix(ev->topic, "lifecycle.ack."))
        shutdown_ack(o, ev);
}

/* ---- daemon ops ---- */

int orch_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                   bool check_only, hlb_diag_t *diag, void *arg)
{
    orch_t *o = arg;
    orch_cfg_t *c = orch_cfg_parse(section, diag);
    if (!c)
        return -EINVAL;
    orch_cfg_archive_config_dir(c, conf ? hlb_conf_file(conf) : NULL);
    /* A reload reads the phase targets as systemd has them now (enable a
     * unit, and `systemctl reload hl-orchestrator` makes it a member); before
     * the first connection they are read at connect time. */
    if (!check_only && o->started && o->sdm && sdm_is_ready(o->sdm)) {
        char *why = NULL;
        phases_watch_targets(c, o->sdm);
        int r = phases_read(c, o->sdm, &why);
        if (r < 0) {
            hlb_diag_add(diag, section, "%s", why ? why : strerror(-r));
            free(why);
            orch_cfg_destroy(&c);
            return r;
        }
    }
    if (check_only) {
        orch_cfg_destroy(&c);
        return 0;
    }
    if (o->cfg) { /* a reload: what only a restart applies is said, and kept */
        char **restart = NULL;
        orch_cfg_restart_keys(o->cfg, c, &restart);
        for (size_t i = 0; restart && restart[i]; i++) {
            hlb_daemon_restart_needed(d, restart[i]);
            free(restart[i]);
        }
        free(restart);
        free(c->bus);
        c->bus = strdup(o->cfg->bus); /* what the connection uses */
        c->user_manager = o->cfg->user_manager;
    }
    /* A running startup keeps the phases it began with (it holds a reference). */
    orch_cfg_destroy(&o->cfg);
    o->cfg = c;
    devstate_reload(o);
    if (o->sdm)
        watch_configured(o);
    return 0;
}

int orch_reread_members(orch_t *o, hlb_diag_t *diag)
{
    const hlb_conf_t *conf = hlb_daemon_conf(o->d);
    return orch_configure(o->d, conf, hlb_conf_get(conf, "hl-orchestrator"), false, diag, o);
}

int orch_start(hlb_daemon_t *d, void *arg)
{
    orch_t *o = arg;
    o->d = d;
    o->loop = hlb_daemon_loop(d);
    o->pub = hlb_daemon_pub(d);
    o->exit_timer = -1;
    static const sdm_ops_t ops = {
        .ready = on_sdm_ready,
        .lost = on_sdm_lost,
        .unit_changed = on_unit_changed,
    };
    o->sdm = sdm_new(hlb_daemon_reactor(d), o->cfg->bus, &ops, o);
    if (!o->sdm) {
        hlb_err("out of memory");
        return -ENOMEM;
    }
    watch_configured(o);
    static const char *const prefixes[] = {"health.", "lifecycle.ack.", NULL};
    if (!hlb_daemon_subscribe(d, prefixes, on_event, o)) {
        hlb_err("cannot subscribe to the bus");
        return -EIO;
    }
    orch_set_lifecycle(o, LC_STARTING, "connecting to systemd (%s bus)", o->cfg->bus);
    int r = sdm_connect(o->sdm);
    if (r < 0) {
        hlb_err("bad systemd bus \"%s\": %s", o->cfg->bus, strerror(-r));
        return r;
    }
    return 0;
}

static void free_user(sdm_unit_t *u, void *arg)
{
    free(u->user);
    u->user = NULL;
}

void orch_stop(hlb_daemon_t *d, void *arg)
{
    orch_t *o = arg;
    const char *why = "hl-orchestrator is stopping";
    methods_cancel_all(o, why);
    recovery_cancel_all(o, why);
    units_failure_cancel(o, NULL);
    if (o->shutdown)
        shutdown_cancel(o->shutdown, why);
    startup_destroy(&o->startup);
    shutdown_destroy(&o->shutdown);
    if (o->sdm)
        sdm_each(o->sdm, free_user, NULL);
    sdm_destroy(&o->sdm);
}

void orch_free(orch_t *o)
{
    zhashx_destroy(&o->health);
    devstate_free(o);
    orch_cfg_destroy(&o->cfg);
    free(o->status);
}
