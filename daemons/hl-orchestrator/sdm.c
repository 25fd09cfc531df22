/* The systemd manager over sd-bus (see sdm.h).
 *
 * Ordering facts this relies on, all from systemd's bus code:
 *  - systemd sends a unit's PropertiesChanged twice per change, first for
 *    the type's interface (org.freedesktop.systemd1.Service), then for
 *    org.freedesktop.systemd1.Unit, "so that clients get atomic behaviour":
 *    the change is complete (settled) with the Unit signal.
 *  - JobRemoved is sent when the job finishes, but the unit's change signals
 *    are queued and sent later, at idle: after JobRemoved the cache is
 *    refreshed with GetAll before the job's callback runs, so callbacks always
 *    see the state the job left behind.
 *  - Signals reach a bus client only after Subscribe(), and only those its
 *    match rules select: one rule per watched unit's object path. */
#include "sdm.h"
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <hlbus/log.h>
#include "sdloop.h"
#include <hlbus/str.h>

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT_IFACE "org.freedesktop.systemd1.Unit"
#define SD_SERVICE_IFACE "org.freedesktop.systemd1.Service"
#define SD_CALL_TIMEOUT_US (30 * 1000000ULL)
#define REMOVED_RING 32

typedef enum { J_CALLING, J_QUEUED, J_REFRESH } job_state_t;

typedef struct job {
    struct job *next;
    sdm_t *m;
    sdm_unit_t *u;
    job_state_t st;
    char *path;
    char *result;
    char *error;
    sdm_job_fn *fn;
    void *arg;
    sd_bus_slot *slot;
    bool reset_failed; /* a transient command: let systemd forget it afterwards */
    bool unloaded_ok;  /* a unit systemd has unloaded (NoSuchUnit) is a success */
} job_t;

struct sdm {
    hlb_reactor_t *io; /* the daemon's: the sd-bus connection's fd and deadline */
    zloop_t *loop;     /* its zloop: the reconnect and completion timers */
    char *spec;
    sdm_ops_t ops;
    void *arg;
    sd_bus *bus;
    sdloop_t *sl;
    sdm_unit_t **units;
    size_t n_units, cap_units;
    job_t *jobs;
    bool ready;
    bool connecting;
    int fetching;       /* GetAll answers awaited before "ready" */
    int reconnect_timer;
    int backoff_ms;
    int complete_timer; /* delivers job completions outside sd-bus callbacks */
    sd_bus_slot *job_removed_slot;
    sd_bus_slot *reloading_slot;
    struct { char *path; char *result; } removed[REMOVED_RING];
    unsigned removed_next;
    uint64_t dispatched_before; /* by earlier connections */
    uint64_t userspace_mono_us;
};

static void sdm_schedule_reconnect(sdm_t *m);
static void unit_fetch(sdm_t *m, sdm_unit_t *u);
static void jobs_deliver(sdm_t *m);
static sdm_unit_t *watch_ex(sdm_t *m, const char *unit, bool transient);

/* ---- unit names ---- */

bool sdm_unit_name_valid(const char *name)
{
    if (!name || !*name || strlen(name) > 255)
        return false;
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || !dot[1])
        return false;
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char) *p;
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            !strchr(":-_.\\@", c))
            return false;
    }
    return true;
}

char *sdm_unit_short(const char *unit)
{
    size_t n = strlen(unit);
    const char *suffix = ".service";
    size_t sl = strlen(suffix);
    if (n > sl && strcmp(unit + n - sl, suffix) == 0)
        return strndup(unit, n - sl);
    return strdup(unit);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---- properties, as a table: name, D-Bus signature, where it goes ---- */

typedef enum { P_STR, P_U32, P_I32, P_U64, P_JOB, P_INVOCATION, P_STRV } ptype_t;

typedef struct prop {
    const char *name;
    const char *sig;
    ptype_t type;
    size_t off;
} prop_t;

static const prop_t props[] = {
    {"LoadState", "s", P_STR, offsetof(sdm_unit_t, load_state)},
    {"ActiveState", "s", P_STR, offsetof(sdm_unit_t, active_state)},
    {"SubState", "s", P_STR, offsetof(sdm_unit_t, sub_state)},
    {"StateChangeTimestamp", "t", P_U64, offsetof(sdm_unit_t, state_change_us)},
    {"ActiveEnterTimestamp", "t", P_U64, offsetof(sdm_unit_t, active_enter_us)},
    {"InactiveEnterTimestamp", "t", P_U64, offsetof(sdm_unit_t, inactive_enter_us)},
    {"InactiveExitTimestamp", "t", P_U64, offsetof(sdm_unit_t, inactive_exit_us)},
    {"InvocationID", "ay", P_INVOCATION, offsetof(sdm_unit_t, invocation_id)},
    {"Job", "(uo)", P_JOB, offsetof(sdm_unit_t, job_id)},
    {"Type", "s", P_STR, offsetof(sdm_unit_t, type)},
    {"Result", "s", P_STR, offsetof(sdm_unit_t, result)},
    {"NRestarts", "u", P_U32, offsetof(sdm_unit_t, n_restarts)},
    {"MainPID", "u", P_U32, offsetof(sdm_unit_t, main_pid)},
    {"ExecMainCode", "i", P_I32, offsetof(sdm_unit_t, exec_code)},
    {"ExecMainStatus", "i", P_I32, offsetof(sdm_unit_t, exec_status)},
    {"Requires", "as", P_STRV, offsetof(sdm_unit_t, requires)},
    {"Wants", "as", P_STRV, offsetof(sdm_unit_t, wants)},
    {NULL, NULL, 0, 0},
};

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static const prop_t *prop_find(const char *name)
{
    for (const prop_t *p = props; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static int prop_read(sdm_unit_t *u, const prop_t *p, sd_bus_message *msg)
{
    char *base = (char *) u + p->off;
    int r;
    switch (p->type) {
    case P_STR: {
        const char *s;
        r = sd_bus_message_read(msg, "s", &s);
        if (r < 0)
            return r;
        char *dup = strdup(s);
        if (!dup)
            return -ENOMEM;
        free(*(char **) base);
        *(char **) base = dup;
        return 0;
    }
    case P_U32:
        return sd_bus_message_read(msg, "u", (uint32_t *) base);
    case P_I32:
        return sd_bus_message_read(msg, "i", (int32_t *) base);
    case P_U64:
        return sd_bus_message_read(msg, "t", (uint64_t *) base);
    case P_JOB: {
        const char *path;
        return sd_bus_message_read(msg, "(uo)", (uint32_t *) base, &path);
    }
    case P_STRV: {
        char **v = NULL;
        r = sd_bus_message_read_strv(msg, &v);
        if (r < 0)
            return r;
        if (!v && !(v = calloc(1, sizeof *v)))
            return -ENOMEM;
        strv_free(*(char ***) base);
        *(char ***) base = v;
        return 0;
    }
    case P_INVOCATION: {
        const void *data;
        size_t len;
        r = sd_bus_message_read_array(msg, 'y', &data, &len);
        if (r < 0)
            return r;
        char *out = base;
        out[0] = '\0';
        if (len == 16)
            for (size_t i = 0; i < 16; i++)
                snprintf(out + 2 * i, 3, "%02x", ((const unsigned char *) data)[i]);
        return 0;
    }
    }
    return -EINVAL;
}

/* Reads an a{sv} of properties into U; unknown ones are skipped. */
static int props_read(sdm_unit_t *u, sd_bus_message *msg)
{
    int r = sd_bus_message_enter_container(msg, 'a', "{sv}");
    if (r < 0)
        return r;
    while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
        const char *key;
        r = sd_bus_message_read(msg, "s", &key);
        if (r < 0)
            return r;
        const prop_t *p = prop_find(key);
        if (p && sd_bus_message_enter_container(msg, 'v', p->sig) > 0) {
            r = prop_read(u, p, msg);
            if (r < 0)
                return r;
            r = sd_bus_message_exit_container(msg);
        } else {
            r = sd_bus_message_skip(msg, "v");
        }
        if (r < 0)
            return r;
        r = sd_bus_message_exit_container(msg);
        if (r < 0)
            return r;
    }
    if (r < 0)
        return r;
    return sd_bus_message_exit_container(msg);
}

/* ---- units ---- */

static void unit_free(sdm_unit_t *u)
{
    if (!u)
        return;
    sd_bus_slot_unref(u->match_slot);
    free(u->name);
    free(u->path);
    free(u->load_state);
    free(u->active_state);
    free(u->sub_state);
    free(u->type);
    free(u->result);
    strv_free(u->requires);
    strv_free(u->wants);
    free(u);
}

static sdm_unit_t *unit_new(const char *name)
{
    sdm_unit_t *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->name = strdup(name);
    u->load_state = strdup("");
    u->active_state = strdup("");
    u->sub_state = strdup("");
    u->type = strdup("");
    u->result = strdup("");
    u->is_service = ends_with(name, ".service");
    if (sd_bus_path_encode(SD_PATH "/unit", name, &u->path) < 0 || !u->name || !u->load_state ||
        !u->active_state || !u->sub_state || !u->type || !u->result) {
        unit_free(u);
        return NULL;
    }
    return u;
}

sdm_unit_t *sdm_unit(sdm_t *m, const char *unit)
{
    for (size_t i = 0; i < m->n_units; i++)
        if (strcmp(m->units[i]->name, unit) == 0)
            return m->units[i];
    return NULL;
}

void sdm_each(sdm_t *m, void (*fn)(sdm_unit_t *u, void *arg), void *arg)
{
    for (size_t i = 0; i < m->n_units; i++)
        if (!m->units[i]->transient)
            fn(m->units[i], arg);
}

static void unit_notify(sdm_t *m, sdm_unit_t *u, bool settled)
{
    if (m->ops.unit_changed && !u->transient)
        m->ops.unit_changed(m, u, settled, m->arg);
}

typedef struct watch_ctx {
    sdm_t *m;
    sdm_unit_t *u;
} watch_ctx_t;

/* The match callback gets the unit; the manager is found through a small
 * per-unit context stored in match_slot's userdata. */
static int on_unit_signal(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
    watch_ctx_t *w = userdata;
    const char *iface = NULL;
    /* Peek the interface before the generic reader consumes it. */
    if (sd_bus_message_read(msg, "s", &iface) < 0 || !iface)
        return 0;
    bool unit_iface = strcmp(iface, SD_UNIT_IFACE) == 0;
    if (!unit_iface && strcmp(iface, SD_SERVICE_IFACE) != 0)
        return 0;
    if (props_read(w->u, msg) < 0) {
        hlb_debug("%s: unreadable PropertiesChanged", w->u->name);
        return 0;
    }
    /* The Unit interface comes last: the change is complete. Units other
     * than services have only that one. */
    unit_notify(w->m, w->u, unit_iface);
    return 0;
}

static void watch_ctx_free(void *p)
{
    free(p);
}

static int unit_match(sdm_t *m, sdm_unit_t *u)
{
    watch_ctx_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->m = m;
    w->u = u;
    sd_bus_slot *slot = NULL;
    int r = sd_bus_match_signal_async(m->bus, &slot, SD_DEST, u->path,
                                      "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                      on_unit_signal, NULL, w);
    if (r < 0) {
        free(w);
        return r;
    }
    sd_bus_slot_set_destroy_callback(slot, watch_ctx_free);
    sd_bus_slot_unref(u->match_slot);
    u->match_slot = slot;
    return 0;
}

/* ---- fetching state: LoadUnit, then GetAll per interface ---- */

typedef struct fetch {
    sdm_t *m;
    sdm_unit_t *u;
    bool initial;
} fetch_t;

static void unit_fetch_done(sdm_t *m, sdm_unit_t *u, bool initial)
{
    (void) initial;
    if (--u->refreshing > 0)
        return;
    u->refreshing = 0;
    unit_notify(m, u, true);
    jobs_deliver(m);
    if (!u->initial_pending)
        return;
    u->initial_pending = false;
    if (--m->fetching == 0 && !m->ready) {
        m->ready = true;
        m->backoff_ms = 0;
        hlb_debug("systemd: connected, %zu units watched", m->n_units);
        if (m->ops.ready)
            m->ops.ready(m, m->arg);
    }
}

static int on_get_all(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    fetch_t *f = userdata;
    if (sd_bus_message_is_method_error(reply, NULL)) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        hlb_debug("%s: GetAll: %s", f->u->name, e && e->message ? e->message : "error");
    } else {
        if (props_read(f->u, reply) >= 0)
            f->u->known = true;
    }
    unit_fetch_done(f->m, f->u, f->initial);
    return 0;
}

static int on_load_unit(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    fetch_t *f = userdata;
    if (sd_bus_message_is_method_error(reply, NULL)) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        hlb_debug("%s: LoadUnit: %s", f->u->name, e && e->message ? e->message : "error");
    }
    unit_fetch_done(f->m, f->u, f->initial);
    return 0;
}

static int fetch_call(sdm_t *m, sdm_unit_t *u, bool initial, const char *iface)
{
    fetch_t *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    *f = (fetch_t) {m, u, initial};
    sd_bus_slot *slot = NULL;
    int r;
    if (!iface)
        r = sd_bus_call_method_async(m->bus, &slot, SD_DEST, SD_PATH, SD_MANAGER, "LoadUnit",
                                     on_load_unit, f, "s", u->name);
    else
        r = sd_bus_call_method_async(m->bus, &slot, SD_DEST, u->path,
                                     "org.freedesktop.DBus.Properties", "GetAll", on_get_all, f,
                                     "s", iface);
    if (r < 0) {
        free(f);
        return r;
    }
    /* The slot is floating: freed with its callback's userdata. */
    sd_bus_slot_set_destroy_callback(slot, free);
    sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);
    u->refreshing++;
    return 0;
}

static void unit_fetch_ex(sdm_t *m, sdm_unit_t *u, bool initial, bool load)
{
    if (!m->bus)
        return;
    if (initial && !u->initial_pending) {
        u->initial_pending = true;
        m->fetching++;
    }
    u->refreshing++; /* held while the calls are queued */
    if (load)
        fetch_call(m, u, initial, NULL);
    fetch_call(m, u, initial, SD_UNIT_IFACE);
    if (u->is_service)
        fetch_call(m, u, initial, SD_SERVICE_IFACE);
    /* Drop the hold; if every call failed to queue, this completes. */
    if (--u->refreshing == 0) {
        u->refreshing = 1;
        unit_fetch_done(m, u, initial);
    }
    sdloop_kick(m->sl);
}

static void unit_fetch(sdm_t *m, sdm_unit_t *u)
{
    unit_fetch_ex(m, u, false, false);
}

/* Drops a unit record (transient ones, once their job has ended) unless a
 * job still refers to it. */
static void unit_forget(sdm_t *m, sdm_unit_t *u)
{
    if (u->refreshing > 0)
        return;
    for (job_t *j = m->jobs; j; j = j->next)
        if (j->u == u)
            return;
    for (size_t i = 0; i < m->n_units; i++)
        if (m->units[i] == u) {
            memmove(&m->units[i], &m->units[i + 1], (m->n_units - i - 1) * sizeof *m->units);
            m->n_units--;
            unit_free(u);
            return;
        }
}

/* ---- jobs ---- */

static void job_free(job_t *j)
{
    if (!j)
        return;
    sd_bus_slot_unref(j->slot);
    free(j->path);
    free(j->result);
    free(j->error);
    free(j);
}

static void job_unlink(sdm_t *m, job_t *j)
{
    for (job_t **pp = &m->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            return;
        }
}

static void reset_failed(sdm_t *m, const char *unit)
{
    if (!m->bus)
        return;
    sd_bus_call_method_async(m->bus, NULL, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", NULL,
                             NULL, "s", unit);
}

/* Completes every job that has its result and a fresh unit state. Runs from
 * a zero-delay timer so that callbacks never run inside sd-bus dispatch
 * (where they could not safely queue more calls that need a kick). */
static int on_complete_timer(zloop_t *loop, int timer_id, void *arg)
{
    sdm_t *m = arg;
    m->complete_timer = -1;
    for (;;) {
        job_t *j = m->jobs;
        while (j && !(j->result && (j->st != J_REFRESH || j->u->refreshing == 0)))
            j = j->next;
        if (!j)
            break;
        job_unlink(m, j);
        if (j->fn)
            j->fn(m, j->u, j->result, j->error, j->arg);
        if (j->reset_failed && strcmp(j->result, "done") != 0)
            reset_failed(m, j->u->name);
        /* A transient command's record is not needed any more. */
        sdm_unit_t *done = j->u->transient ? j->u : NULL;
        job_free(j);
        if (done)
            unit_forget(m, done);
    }
    sdloop_kick(m->sl);
    return 0;
}

static void jobs_deliver(sdm_t *m)
{
    if (m->complete_timer < 0)
        m->complete_timer = zloop_timer(m->loop, 0, 1, on_complete_timer, m);
}

static void job_finish(sdm_t *m, job_t *j, const char *result, const char *error, bool refresh)
{
    free(j->result);
    j->result = strdup(result);
    if (error) {
        free(j->error);
        j->error = strdup(error);
    }
    if (!j->result)
        j->result = NULL; /* out of memory: retried by the next delivery */
    if (refresh && m->bus) {
        j->st = J_REFRESH;
        unit_fetch(m, j->u);
    } else {
        j->st = J_REFRESH;
    }
    jobs_deliver(m);
}

static int on_job_removed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
    sdm_t *m = userdata;
    uint32_t id;
    const char *path, *unit, *result;
    if (sd_bus_message_read(msg, "uoss", &id, &path, &unit, &result) < 0)
        return 0;
    for (job_t *j = m->jobs; j; j = j->next)
        if (j->st == J_QUEUED && j->path && strcmp(j->path, path) == 0) {
            job_finish(m, j, result, NULL, true);
            return 0;
        }
    /* Not (yet) ours: remember it in case the reply naming it is still queued. */
    unsigned k = m->removed_next++ % REMOVED_RING;
    free(m->removed[k].path);
    free(m->removed[k].result);
    m->removed[k].path = strdup(path);
    m->removed[k].result = strdup(result);
    return 0;
}

static int on_job_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    job_t *j = userdata;
    sdm_t *m = j->m;
    j->slot = sd_bus_slot_unref(j->slot);
    if (sd_bus_message_is_method_error(reply, NULL)) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        char *text = NULL;
        if (asprintf(&text, "%s [%s]", e && e->message ? e->message : "D-Bus error",
                     e && e->name ? e->name : "?") < 0)
            text = NULL;
        job_finish(m, j, "bus-error", text ? text : "D-Bus error", false);
        free(text);
        return 0;
    }
    const char *path;
    if (sd_bus_message_read(reply, "o", &path) < 0) {
        job_finish(m, j, "bus-error", "unreadable reply", false);
        return 0;
    }
    j->path = strdup(path);
    j->st = J_QUEUED;
    for (unsigned k = 0; k < REMOVED_RING; k++)
        if (m->removed[k].path && j->path && strcmp(m->removed[k].path, j->path) == 0) {
            job_finish(m, j, m->removed[k].result, NULL, true);
            break;
        }
    return 0;
}

static job_t *job_new(sdm_t *m, sdm_unit_t *u, sdm_job_fn *fn, void *arg)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->m = m;
    j->u = u;
    j->fn = fn;
    j->arg = arg;
    j->st = J_CALLING;
    return j;
}

int sdm_job(sdm_t *m, const char *method, const char *unit, const char *mode, sdm_job_fn *fn,
            void *arg)
{
    if (!m->ready || !m->bus)
        return -ENOTCONN;
    if (strcmp(method, "StartUnit") && strcmp(method, "StopUnit") && strcmp(method, "RestartUnit") &&
        strcmp(method, "ReloadUnit"))
        return -EINVAL;
    sdm_unit_t *u = sdm_watch(m, unit);
    if (!u)
        return -EINVAL;
    job_t *j = job_new(m, u, fn, arg);
    if (!j)
        return -ENOMEM;
    int r = sd_bus_call_method_async(m->bus, &j->slot, SD_DEST, SD_PATH, SD_MANAGER, method,
                                     on_job_reply, j, "ss", unit, mode);
    if (r < 0) {
        job_free(j);
        return r;
    }
    j->next = m->jobs;
    m->jobs = j;
    sdloop_kick(m->sl);
    return 0;
}

int sdm_run(sdm_t *m, const char *name, const char *description, char *const *argv,
            uint64_t timeout_us, sdm_job_fn *fn, void *arg)
{
    if (!m->ready || !m->bus)
        return -ENOTCONN;
    if (!argv || !argv[0] || argv[0][0] != '/' || !sdm_unit_name_valid(name) ||
        !ends_with(name, ".service"))
        return -EINVAL;
    sdm_unit_t *u = sdm_unit(m, name);
    if (u && !u->transient)
        return -EEXIST;
    if (!u)
        u = watch_ex(m, name, true);
    if (!u)
        return -EINVAL;
    sd_bus_message *msg = NULL;
    int r = sd_bus_message_new_method_call(m->bus, &msg, SD_DEST, SD_PATH, SD_MANAGER,
                                           "StartTransientUnit");
    if (r < 0)
        return r;
    /* A oneshot that nothing depends on: it may run during a system shutdown
     * (no Conflicts=shutdown.target) and a failed one stays loaded until we
     * have read its exit status, then we reset it. What it writes (the state
     * archive) is private: UMask=0077. */
    r = sd_bus_message_append(msg, "ss", name, "fail");
    if (r >= 0)
        r = sd_bus_message_open_container(msg, 'a', "(sv)");
    if (r >= 0)
        r = sd_bus_message_append(msg, "(sv)(sv)(sv)(sv)(sv)(sv)", "Description", "s", description,
                                  "Type", "s", "oneshot", "DefaultDependencies", "b", 0,
                                  "TimeoutStartUSec", "t", timeout_us, "CollectMode", "s",
                                  "inactive", "UMask", "u", (uint32_t) 0077);
    if (r >= 0)
        r = sd_bus_message_open_container(msg, 'r', "sv");
    if (r >= 0)
        r = sd_bus_message_append(msg, "s", "ExecStart");
    if (r >= 0)
        r = sd_bus_message_open_container(msg, 'v', "a(sasb)");
    if (r >= 0)
        r = sd_bus_message_open_container(msg, 'a', "(sasb)");
    if (r >= 0)
        r = sd_bus_message_open_container(msg, 'r', "sasb");
    if (r >= 0)
        r = sd_bus_message_append(msg, "s", argv[0]);
    if (r >= 0)
        r = sd_bus_message_append_strv(msg, (char **) argv);
    if (r >= 0)
        r = sd_bus_message_append(msg, "b", 0);
    for (int k = 0; k < 4 && r >= 0; k++)
        r = sd_bus_message_close_container(msg);
    if (r >= 0)
        r = sd_bus_message_close_container(msg); /* a(sv) */
    if (r >= 0)
        r = sd_bus_message_append(msg, "a(sa(sv))", 0);
    job_t *j = NULL;
    if (r >= 0) {
        j = job_new(m, u, fn, arg);
        r = j ? 0 : -ENOMEM;
    }
    if (r >= 0) {
        j->reset_failed = true;
        r = sd_bus_call_async(m->bus, &j->slot, msg, on_job_reply, j, SD_CALL_TIMEOUT_US);
    }
    sd_bus_message_unref(msg);
    if (r < 0) {
        job_free(j);
        return r;
    }
    /* Fresh state for this run: the previous run's exit status must not leak. */
    u->exec_code = 0;
    u->exec_status = 0;
    free(u->result);
    u->result = strdup("");
    j->next = m->jobs;
    m->jobs = j;
    sdloop_kick(m->sl);
    return 0;
}

/* The answer of a manager call: no job follows, the answer is the result. */
static int on_call_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    job_t *j = userdata;
    sdm_t *m = j->m;
    j->slot = sd_bus_slot_unref(j->slot);
    if (sd_bus_message_is_method_error(reply, NULL)) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (j->unloaded_ok && sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit")) {
            job_finish(m, j, "done", NULL, true);
            return 0;
        }
        char *text = NULL;
        if (asprintf(&text, "%s [%s]", e && e->message ? e->message : "D-Bus error",
                     e && e->name ? e->name : "?") < 0)
            text = NULL;
        job_finish(m, j, "bus-error", text ? text : "D-Bus error", true);
        free(text);
        return 0;
    }
    job_finish(m, j, "done", NULL, true);
    return 0;
}

int sdm_manager_call(sdm_t *m, const char *method, const char *unit, sdm_job_fn *fn, void *arg)
{
    if (!m->ready || !m->bus)
        return -ENOTCONN;
    bool reload = !strcmp(method, "Reload");
    if (!reload && strcmp(method, "ResetFailedUnit") != 0)
        return -EINVAL;
    sdm_unit_t *u = sdm_watch(m, unit);
    if (!u)
        return -EINVAL;
    job_t *j = job_new(m, u, fn, arg);
    if (!j)
        return -ENOMEM;
    /* A stopped unit nothing refers to is unloaded: it has no failures left. */
    j->unloaded_ok = !reload;
    sd_bus_message *msg = NULL;
    int r = sd_bus_message_new_method_call(m->bus, &msg, SD_DEST, SD_PATH, SD_MANAGER, method);
    if (r >= 0 && !reload)
        r = sd_bus_message_append(msg, "s", unit);
    /* A reload is answered when it is over: the job timeout, not sd-bus's 25 s. */
    if (r >= 0)
        r = sd_bus_call_async(m->bus, &j->slot, msg, on_call_reply, j, SD_CALL_TIMEOUT_US);
    sd_bus_message_unref(msg);
    if (r < 0) {
        job_free(j);
        return r;
    }
    j->next = m->jobs;
    m->jobs = j;
    sdloop_kick(m->sl);
    return 0;
}

void sdm_cancel_callbacks(sdm_t *m, void *arg)
{
    for (job_t *j = m->jobs; j; j = j->next)
        if (j->arg == arg)
            j->fn = NULL;
}

/* ---- watching ---- */

static sdm_unit_t *watch_ex(sdm_t *m, const char *unit, bool transient)
{
    if (!sdm_unit_name_valid(unit))
        return NULL;
    sdm_unit_t *u = sdm_unit(m, unit);
    if (u)
        return u;
    if (m->n_units == m->cap_units) {
        size_t cap = m->cap_units ? m->cap_units * 2 : 16;
        sdm_unit_t **units = realloc(m->units, cap * sizeof *units);
        if (!units)
            return NULL;
        m->units = units;
        m->cap_units = cap;
    }
    u = unit_new(unit);
    if (!u)
        return NULL;
    m->units[m->n_units++] = u;
    u->transient = transient;
    if (m->bus && !m->connecting) {
        unit_match(m, u);
        /* A transient unit must not be loaded before it is created. */
        if (!transient)
            unit_fetch_ex(m, u, false, true);
    }
    return u;
}

sdm_unit_t *sdm_watch(sdm_t *m, const char *unit)
{
    return watch_ex(m, unit, false);
}

/* ---- connection ---- */

static void on_bus_failed(int err, void *arg)
{
    sdm_t *m = arg;
    bool was_ready = m->ready;
    m->ready = false;
    hlb_debug("systemd bus connection lost: %s", strerror(-err));
    for (job_t *j = m->jobs; j; j = j->next)
        if (!j->result)
            job_finish(m, j, "lost", "the connection to systemd was lost", false);
    if (m->ops.lost && was_ready)
        m->ops.lost(m, err, m->arg);
    sdm_schedule_reconnect(m);
}

static void sdm_disconnect(sdm_t *m)
{
    m->job_removed_slot = sd_bus_slot_unref(m->job_removed_slot);
    m->reloading_slot = sd_bus_slot_unref(m->reloading_slot);
    for (size_t i = 0; i < m->n_units; i++) {
        m->units[i]->match_slot = sd_bus_slot_unref(m->units[i]->match_slot);
        m->units[i]->refreshing = 0;
        m->units[i]->initial_pending = false;
    }
    for (job_t *j = m->jobs; j; j = j->next)
        j->slot = sd_bus_slot_unref(j->slot);
    if (m->sl)
        m->dispatched_before += sdloop_dispatched(m->sl);
    sdloop_destroy(&m->sl);
    m->bus = sd_bus_flush_close_unref(m->bus);
    m->ready = false;
    m->fetching = 0;
}

static int sdm_open_bus(sdm_t *m, sd_bus **out)
{
    sd_bus *b = NULL;
    int r;
    if (strcmp(m->spec, "system") == 0)
        r = sd_bus_open_system_with_description(&b, "hl-orchestrator");
    else if (strcmp(m->spec, "user") == 0)
        r = sd_bus_open_user_with_description(&b, "hl-orchestrator");
    else {
        /* "private[:PATH]": a manager's own socket, talked to directly, for a
         * system without a bus daemon (root only; a user manager's is
         * $XDG_RUNTIME_DIR/systemd/private). Any other string is the
         * address of a bus. */
        const char *after = hlb_after_prefix(m->spec, "private");
        bool direct = after && (!*after || *after == ':');
        char *addr = NULL;
        if (!direct)
            addr = strdup(m->spec);
        else if (asprintf(&addr, "unix:path=%s",
                          m->spec[7] ? m->spec + 8 : "/run/systemd/private") < 0)
            addr = NULL;
        r = addr ? sd_bus_new(&b) : -ENOMEM;
        if (r >= 0)
            r = sd_bus_set_address(b, addr);
        free(addr);
        if (r >= 0)
            r = sd_bus_set_bus_client(b, !direct);
        if (r >= 0)
            r = sd_bus_start(b);
    }
    if (r < 0) {
        sd_bus_unref(b);
        return r;
    }
    *out = b;
    return 0;
}

/* After a daemon-reload units may have appeared (a package installed their
 * files) or changed: load and fetch every watched unit again. */
static int on_reloading(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
    sdm_t *m = userdata;
    int active = 0;
    if (sd_bus_message_read(msg, "b", &active) < 0 || active)
        return 0;
    hlb_debug("systemd reloaded: fetching the watched units again");
    for (size_t i = 0; i < m->n_units; i++)
        if (!m->units[i]->transient)
            unit_fetch_ex(m, m->units[i], false, true);
    return 0;
}

static int on_subscribe(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    if (sd_bus_message_is_method_error(reply, NULL)) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        hlb_warn("systemd Subscribe failed: %s", e && e->message ? e->message : "error");
    }
    return 0;
}

static int on_userspace_ts(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    sdm_t *m = userdata;
    uint64_t t = 0;
    if (sd_bus_message_is_method_error(reply, NULL) ||
        sd_bus_message_read(reply, "v", "t", &t) < 0) {
        hlb_debug("systemd: no UserspaceTimestampMonotonic");
        return 0;
    }
    m->userspace_mono_us = t;
    return 0;
}

uint64_t sdm_userspace_mono_us(const sdm_t *m)
{
    return m ? m->userspace_mono_us : 0;
}

static int sdm_try_connect(sdm_t *m)
{
    sd_bus *b = NULL;
    int r = sdm_open_bus(m, &b);
    if (r < 0)
        return r;
    m->bus = b;
    m->connecting = true;
    m->sl = sdloop_new(m->io, b, on_bus_failed, m);
    if (!m->sl) {
        m->connecting = false;
        sdm_disconnect(m);
        return -ENOMEM;
    }
    r = sd_bus_match_signal_async(b, &m->job_removed_slot, SD_DEST, SD_PATH, SD_MANAGER,
                                  "JobRemoved", on_job_removed, NULL, m);
    if (r >= 0)
        r = sd_bus_match_signal_async(b, &m->reloading_slot, SD_DEST, SD_PATH, SD_MANAGER,
                                      "Reloading", on_reloading, NULL, m);
    if (r >= 0)
        r = sd_bus_call_method_async(b, NULL, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe",
                                     on_subscribe, NULL, "");
    /* Asked before the units: answered before "ready". */
    if (r >= 0)
        r = sd_bus_call_method_async(b, NULL, SD_DEST, SD_PATH, "org.freedesktop.DBus.Properties",
                                     "Get", on_userspace_ts, m, "ss", SD_MANAGER,
                                     "UserspaceTimestampMonotonic");
    if (r < 0) {
        m->connecting = false;
        sdm_disconnect(m);
        return r;
    }
    /* Hold "ready" until every unit has been fetched once. */
    m->fetching = 1;
    for (size_t i = 0; i < m->n_units; i++) {
        unit_match(m, m->units[i]);
        if (!m->units[i]->transient)
            unit_fetch_ex(m, m->units[i], true, true);
    }
    m->connecting = false;
    if (--m->fetching == 0) {
        m->ready = true;
        if (m->ops.ready)
            m->ops.ready(m, m->arg);
    }
    sdloop_kick(m->sl);
    return 0;
}

static int on_reconnect_timer(zloop_t *loop, int timer_id, void *arg)
{
    sdm_t *m = arg;
    m->reconnect_timer = -1;
    sdm_disconnect(m);
    int r = sdm_try_connect(m);
    if (r < 0) {
        hlb_warn("cannot connect to systemd (%s bus): %s; retrying", m->spec, strerror(-r));
        sdm_schedule_reconnect(m);
    }
    return 0;
}

static void sdm_schedule_reconnect(sdm_t *m)
{
    if (m->reconnect_timer >= 0)
        return;
    m->backoff_ms = m->backoff_ms ? (m->backoff_ms * 2 > 5000 ? 5000 : m->backoff_ms * 2) : 100;
    m->reconnect_timer = zloop_timer(m->loop, (size_t) m->backoff_ms, 1, on_reconnect_timer, m);
}

int sdm_connect(sdm_t *m)
{
    int r = sdm_try_connect(m);
    if (r == -EINVAL || r == -ENOMEM)
        return r;
    if (r < 0) {
        hlb_warn("cannot connect to systemd (%s bus): %s; retrying", m->spec, strerror(-r));
        sdm_schedule_reconnect(m);
    }
    return 0;
}

sdm_t *sdm_new(hlb_reactor_t *io, const char *bus, const sdm_ops_t *ops, void *arg)
{
    sdm_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->io = io;
    m->loop = hlb_reactor_loop(io);
    m->spec = strdup(bus && *bus ? bus : "system");
    if (!m->spec) {
        free(m);
        return NULL;
    }
    if (ops)
        m->ops = *ops;
    m->arg = arg;
    m->reconnect_timer = -1;
    m->complete_timer = -1;
    return m;
}

void sdm_destroy(sdm_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sdm_t *m = *self_p;
    if (m->reconnect_timer >= 0)
        zloop_timer_end(m->loop, m->reconnect_timer);
    if (m->complete_timer >= 0)
        zloop_timer_end(m->loop, m->complete_timer);
    sdm_disconnect(m);
    while (m->jobs) {
        job_t *j = m->jobs;
        m->jobs = j->next;
        job_free(j);
    }
    for (size_t i = 0; i < m->n_units; i++)
        unit_free(m->units[i]);
    free(m->units);
    for (unsigned k = 0; k < REMOVED_RING; k++) {
        free(m->removed[k].path);
        free(m->removed[k].result);
    }
    free(m->spec);
    free(m);
    *self_p = NULL;
}

bool sdm_is_ready(const sdm_t *m)
{
    return m && m->ready;
}

uint64_t sdm_dispatched(const sdm_t *m)
{
    return m->dispatched_before + sdloop_dispatched(m->sl);
}

/* ---- manager properties ---- */

typedef struct mgr_get {
    sdm_t *m;
    sdm_str_fn *fn;
    void *arg;
} mgr_get_t;

static int on_manager_get(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    mgr_get_t *g = userdata;
    const char *value = NULL, *error = NULL;
    if (sd_bus_message_is_method_error(reply, NULL)) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        error = e && e->message ? e->message : "D-Bus error";
    } else if (sd_bus_message_enter_container(reply, 'v', "s") < 0 ||
               sd_bus_message_read(reply, "s", &value) < 0) {
        value = NULL;
        error = "the reply is not a string";
    }
    g->fn(g->m, value, error, g->arg);
    return 0;
}

int sdm_manager_string(sdm_t *m, const char *property, sdm_str_fn *fn, void *arg)
{
    if (!m->ready || !m->bus)
        return -ENOTCONN;
    mgr_get_t *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->m = m;
    g->fn = fn;
    g->arg = arg;
    sd_bus_slot *slot = NULL;
    int r = sd_bus_call_method_async(m->bus, &slot, SD_DEST, SD_PATH,
                                     "org.freedesktop.DBus.Properties", "Get", on_manager_get, g,
                                     "ss", SD_MANAGER, property);
    if (r < 0) {
        free(g);
        return r;
    }
    /* The slot lives with the connection and frees G when it goes, answered
     * or not. */
    sd_bus_slot_set_destroy_callback(slot, free);
    sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);
    sdloop_kick(m->sl);
    return 0;
}

/* ---- daemon-reload ---- */

typedef struct reload_req {
    sdm_t *m_back;
    sdm_str_fn *fn;
    void *arg;
    char *error;
} reload_req_t;

static void reload_req_free(void *p)
{
    reload_req_t *q = p;
    free(q->error);
    free(q);
}

/* The barrier's answer: systemd answers one connection's calls in order, so
 * every fetch queued before it has been answered and read. */
static void on_reload_barrier(sdm_t *m, const char *value, const char *error, void *arg)
{
    (void) value;
    (void) error; /* the reload itself succeeded; the barrier only orders */
    reload_req_t *q = arg;
    q->fn(m, NULL, q->error, q->arg);
    reload_req_free(q);
}

static int on_reload_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    reload_req_t *q = userdata;
    sdm_t *m = q->m_back;
    (void) ret_error;
    if (sd_bus_message_is_method_error(reply, NULL)) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        q->error = strdup(e && e->message ? e->message : "daemon-reload failed");
    }
    /* The Reloading signal also refetches; doing it here does not depend on
     * whether systemd sent that signal before this reply. */
    for (size_t i = 0; i < m->n_units; i++)
        if (!m->units[i]->transient)
            unit_fetch_ex(m, m->units[i], false, true);
    if (sdm_manager_string(m, "Version", on_reload_barrier, q) < 0) {
        q->fn(m, NULL, q->error ? q->error : "cannot read systemd's state after the reload",
              q->arg);
        reload_req_free(q);
    }
    return 0;
}

int sdm_daemon_reload(sdm_t *m, sdm_str_fn *fn, void *arg)
{
    if (!m->ready || !m->bus)
        return -ENOTCONN;
    reload_req_t *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->fn = fn;
    q->arg = arg;
    q->m_back = m;
    /* Reload takes as long as systemd needs to read every unit again. */
    int r = sd_bus_call_method_async(m->bus, NULL, SD_DEST, SD_PATH, SD_MANAGER, "Reload",
                                     on_reload_reply, q, "");
    if (r < 0) {
        free(q);
        return r;
    }
    sdloop_kick(m->sl);
    return 0;
}
