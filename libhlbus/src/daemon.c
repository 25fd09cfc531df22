/* The daemon runtime: flags, config and reload, signals, systemd, loop. */
#include "hlbus/daemon.h"

#include "hlbus/buf.h"
#include "hlbus/codec.h"
#include "hlbus/confschema.h"
#include "hlbus/contract.h"
#include "hlbus/fdguard.h"
#include "hlbus/log.h"
#include "hlbus/notify.h"
#include "hlbus/paths.h"
#include "hlbus/proc.h"
#include "hlbus/topics.h"
#include "orchestrator.pb-c.h"
#include "hlbus/str.h"
#include "hlbus/strv.h"
#include "hlbus/pbfield.h"

#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#ifdef HL_DEFAULT_CONFIG
#define DEFAULT_CONFIG HL_DEFAULT_CONFIG /* the installed sysconfdir */
#else
#define DEFAULT_CONFIG "/etc/hl/hl.yaml"
#endif
#define MAX_SUBS 8

typedef struct {
    hlb_sub_t *sub;
    hlb_event_fn *fn;
    void *arg;
    hlb_daemon_t *d;
} sub_slot_t;

struct hlb_daemon {
    const hlb_daemon_ops_t *ops;
    void *arg;
    const char *config_path;
    bool config_explicit;
    const char *runtime_dir;
    hlb_conf_t *conf;
    zloop_t *loop;
    hlb_pub_t *pub;
    hlb_server_t *server;
    int sigfd;
    bool ready;
    bool watchdog_stalled; /* test knob: stop pinging the watchdog */
    int exit_code;
    uint64_t started_us;
    char *status;
    const char *state;
    sub_slot_t subs[MAX_SUBS];
    int nsubs;
    hlb_reactor_t *reactor; /* made on first use */
    int notify_retry; /* zloop timer while a state change waits to be sent; -1 none */
    bool reloading;       /* inside a reload's configure (apply) */
    char **restart_keys;  /* keys the running reload could not apply */
    uint64_t bus_epoch;   /* hl-bus's incarnation as last seen on daemon.hl-bus */
    uint64_t shutdown_seen;    /* id of the last lifecycle.shutdown hook taken part in */
    bool shutdown_pending;     /* its acknowledgement not sent yet */
};

zloop_t *hlb_daemon_loop(hlb_daemon_t *d) { return d->loop; }

hlb_reactor_t *hlb_daemon_reactor(hlb_daemon_t *d)
{
    if (!d->reactor && d->loop)
        d->reactor = hlb_reactor_new(d->loop);
    return d->reactor;
}
hlb_pub_t *hlb_daemon_pub(hlb_daemon_t *d) { return d->pub; }
hlb_server_t *hlb_daemon_server(hlb_daemon_t *d) { return d->server; }
const char *hlb_daemon_name(const hlb_daemon_t *d) { return d->ops->name; }
const char *hlb_daemon_runtime_dir(const hlb_daemon_t *d) { return d->runtime_dir; }
const hlb_conf_t *hlb_daemon_conf(const hlb_daemon_t *d) { return d->conf; }
bool hlb_daemon_reloading(const hlb_daemon_t *d) { return d->reloading; }

void hlb_daemon_restart_needed(hlb_daemon_t *d, const char *key)
{
    if (hlb_strv_push(&d->restart_keys, key) < 0)
        abort(); /* out of memory, as hlb_buf does */
}

static void clear_restart_keys(hlb_daemon_t *d)
{
    hlb_strv_free(d->restart_keys);
    d->restart_keys = NULL;
}

/* "hl-bus.hwm, hl-bus.stats_depth", or NULL when the reload applied all. */
static char *restart_list(const hlb_daemon_t *d)
{
    if (!d->restart_keys || !d->restart_keys[0])
        return NULL;
    hlb_buf_t b = {0};
    for (size_t i = 0; d->restart_keys[i]; i++)
        hlb_buf_printf(&b, "%s%s", i ? ", " : "", d->restart_keys[i]);
    return hlb_buf_steal(&b);
}
uint64_t hlb_daemon_started_us(const hlb_daemon_t *d) { return d->started_us; }

/* Sends MSG to systemd without blocking (notify.h). A state change that
 * could not be sent is tried again on a timer until it gets through. */
static int on_notify_retry(zloop_t *loop, int timer_id, void *arg)
{
    hlb_daemon_t *d = arg;
    if (hlb_notify_flush() == 0) {
        zloop_timer_end(loop, timer_id);
        d->notify_retry = -1;
    }
    return 0;
}

#define NOTIFY_RETRY_MS 250

static void daemon_notify(hlb_daemon_t *d, const char *msg)
{
    if (hlb_notify(msg) < 0)
        hlb_debug("sd_notify '%.40s' not sent (%" PRIu64 " so far)", msg, hlb_notify_dropped());
    if (hlb_notify_pending() && d->loop && d->notify_retry < 0)
        d->notify_retry = zloop_timer(d->loop, NOTIFY_RETRY_MS, 0, on_notify_retry, d);
}

static void fill_status(hlb_daemon_t *d, Hl__DaemonStatus *st)
{
    st->name = (char *)d->ops->name;
    st->version = (char *)HL_VERSION;
    st->pid = (uint32_t)getpid();
    st->started_us = d->started_us;
    st->state = (char *)d->state;
    st->status = hlb_pb_str(d->status);
    if (d->pub) {
        st->published = hlb_pub_sent(d->pub);
        st->dropped = hlb_pub_dropped(d->pub);
    }
    for (int i = 0; i < d->nsubs; i++)
        st->gaps += hlb_sub_stats(d->subs[i].sub).gaps;
    st->notify_dropped = hlb_notify_dropped();
    st->contract = (Hl__ContractVersion)hlb_contract_version();
}

/* daemon.<name>: the daemon's state, kept by the proxy's last-value cache. */
static void publish_state(hlb_daemon_t *d, const char *state)
{
    d->state = state;
    if (!d->pub)
        return;
    Hl__DaemonStatus st = HL__DAEMON_STATUS__INIT;
    fill_status(d, &st);
    char topic[96];
    snprintf(topic, sizeof topic, "daemon.%s", d->ops->name);
    hlb_pub_send(d->pub, topic, &st.base);
}

void hlb_daemon_ready(hlb_daemon_t *d)
{
    if (d->ready)
        return;
    d->ready = true;
    daemon_notify(d, "READY=1");
    publish_state(d, "running");
}

void hlb_daemon_status(hlb_daemon_t *d, const char *fmt, ...)
{
    hlb_buf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    hlb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(d->status);
    d->status = hlb_buf_steal(&b);
    char *msg = hlb_strdupf("STATUS=%s", d->status);
    daemon_notify(d, msg ? msg : "STATUS=");
    free(msg);
}

void hlb_daemon_quit(hlb_daemon_t *d, int code)
{
    d->exit_code = code;
    kill(getpid(), SIGTERM); /* handled by the loop like an outside request */
}

/* Loads the config files and runs the daemon's validation; with APPLY, the
 * daemon then applies it. The old tree is replaced only after success. */
static int load_config(hlb_daemon_t *d, bool apply, hlb_diag_t *diag)
{
    hlb_conf_t *conf = hlb_conf_load(d->config_path, !d->config_explicit, diag);
    if (!conf)
        return -EINVAL;
    const hlb_conf_t *section = hlb_conf_get(conf, d->ops->name);
    /* The file is shared: every daemon refuses a section none of them reads,
     * so a misspelt one cannot pass unnoticed. */
    int rc = hlb_conf_check_sections(conf, diag);
    /* Settings every daemon shares live at the top level. */
    static const char *const common[] = {"level", NULL};
    const hlb_conf_t *logs = hlb_conf_get(conf, "log");
    if (logs && hlb_conf_check_keys(logs, common, diag) < 0)
        rc = -EINVAL;
    const char *lvl;
    hlb_conf_str(conf, "log.level", NULL, &lvl, diag);
    if (lvl && hlb_log_level_parse(lvl) < 0) {
        hlb_diag_add(diag, hlb_conf_get(conf, "log.level"),
                     "unknown log level '%s' (error, warning, info, debug)", lvl);
        rc = -EINVAL;
    }
    const char *admin;
    hlb_conf_str(conf, "admin_group", NULL, &admin, diag);
    gid_t admin_gid = (gid_t)-1;
    if (admin && *admin) {
        struct group *g = getgrnam(admin);
        if (!g) /* not fatal: a missing group just means root only */
            hlb_warn("admin_group '%s' does not exist; only root may change state", admin);
        else
            admin_gid = g->gr_gid;
    }
    if (d->ops->configure && rc == 0)
        rc = d->ops->configure(d, conf, section, true, diag, d->arg);
    if (rc == 0 && diag->errors)
        rc = -EINVAL;
    if (rc == 0 && apply && d->ops->configure) {
        d->reloading = d->conf != NULL;
        rc = d->ops->configure(d, conf, section, false, diag, d->arg);
        d->reloading = false;
    }
    if (rc < 0 || !apply) {
        hlb_conf_destroy(&conf);
        return rc;
    }
    if (lvl)
        hlb_log_set_level(hlb_log_level_parse(lvl));
    if (d->server)
        hlb_server_set_admin_gid(d->server, admin_gid);
    hlb_conf_destroy(&d->conf);
    d->conf = conf;
    return 0;
}

static int reload(hlb_daemon_t *d, hlb_diag_t *diag)
{
    char *msg = hlb_strdupf("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)hlb_mono_us());
    daemon_notify(d, msg ? msg : "RELOADING=1");
    free(msg);
    clear_restart_keys(d);
    int rc = load_config(d, true, diag);
    char *restart = rc < 0 ? NULL : restart_list(d);
    if (rc < 0)
        hlb_err("reload failed, keeping the running config:\n%s",
                diag->text ? diag->text : "unknown error");
    else if (restart)
        hlb_warn("configuration reloaded from %s; restart needed for %s (the running values "
                 "stay until then)",
                 d->config_path, restart);
    else
        hlb_info("configuration reloaded from %s", d->config_path);
    free(restart);
    daemon_notify(d, "READY=1");
    publish_state(d, d->ready ? "running" : "starting");
    return rc;
}

/* Built-in methods every daemon serves. */
static void m_ping(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hlb_daemon_t *d = arg;
    hlb_map_t *m = hlb_map_new();
    hlb_map_str(m, "pong", d->ops->name);
    hlb_reply_map(reply, m);
    hlb_map_destroy(&m);
}

static void m_status(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hlb_daemon_t *d = arg;
    Hl__DaemonStatus st = HL__DAEMON_STATUS__INIT;
    fill_status(d, &st);
    hlb_reply_msg(reply, &st.base);
}

static void m_reload(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hlb_daemon_t *d = arg;
    hlb_diag_t diag = {0};
    if (reload(d, &diag) < 0) {
        hlb_reply_error(reply, EINVAL, "config rejected, old config kept:\n%s",
                        diag.text ? diag.text : "");
    } else {
        char *restart = restart_list(d);
        hlb_map_t *m = hlb_map_new();
        hlb_map_str(m, "reloaded", d->config_path);
        if (restart) {
            char *msg = NULL;
            if (asprintf(&msg, "restart needed for %s", restart) < 0)
                msg = NULL;
            hlb_map_str(m, "restart_needed", restart);
            hlb_map_str(m, "message", msg ? msg : restart);
            free(msg);
        }
        hlb_reply_map(reply, m);
        hlb_map_destroy(&m);
        free(restart);
    }
    hlb_diag_free(&diag);
}

static void m_set_log_level(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    char *lvl = req->map ? hlb_mpview_str(req->map, "level") : NULL;
    int l = hlb_log_level_parse(lvl);
    if (l < 0)
        hlb_reply_error(reply, EINVAL, "level= must be error, warning, info or debug");
    else
        hlb_log_set_level(l);
    free(lvl);
}

static void m_stall_watchdog(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    hlb_daemon_t *d = arg;
    d->watchdog_stalled = true;
    hlb_warn("watchdog pings stopped on request (test knob)");
}

static const hlb_method_t builtin_methods[] = {
    {"ping", m_ping, 0, "answer pong"},
    {"status", m_status, 0, "name, version, pid, uptime, state, bus counters"},
    {"reload", m_reload, HLB_METHOD_ADMIN, "reload the config; a bad one is refused"},
    {"log-level", m_set_log_level, HLB_METHOD_ADMIN, "level=debug|info|warning|error"},
    {NULL, NULL, 0, NULL},
};

/* Only with HL_TEST_KNOBS=1 in the environment (the e2e tier). */
static const hlb_method_t test_methods[] = {
    {"test.stall-watchdog", m_stall_watchdog, HLB_METHOD_ADMIN, "stop WATCHDOG=1 pings"},
    {NULL, NULL, 0, NULL},
};

static int on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    hlb_daemon_t *d = arg;
    struct signalfd_siginfo si;
    while (read(d->sigfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            hlb_diag_t diag = {0};
            reload(d, &diag);
            hlb_diag_free(&diag);
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            hlb_info("stopping on signal %d", (int)si.ssi_signo);
            return -1; /* ends zloop_start */
        }
    }
    return 0;
}

static int on_watchdog(zloop_t *loop, int timer_id, void *arg)
{
    hlb_daemon_t *d = arg;
    if (!d->watchdog_stalled)
        daemon_notify(d, "WATCHDOG=1");
    return 0;
}

static int on_server(zloop_t *loop, zsock_t *sock, void *arg)
{
    hlb_server_handle(arg);
    return 0;
}

#define SUB_BATCH 256 /* events per wake-up, so a flood cannot starve timers */

static int on_sub(zloop_t *loop, zsock_t *sock, void *arg)
{
    sub_slot_t *slot = arg;
    /* past the batch too while a replay bundle is half handed out: the
     * socket will not wake us for what we already hold */
    for (int i = 0; i < SUB_BATCH || hlb_sub_pending(slot->sub); i++) {
        hlb_event_t ev;
        int rc = hlb_sub_recv(slot->sub, &ev, 0);
        if (rc == -EAGAIN || rc < 0)
            break;
        if (rc == 1)
            slot->fn(slot->d, &ev, slot->arg);
    }
    return 0;
}

hlb_acall_t *hlb_daemon_call(hlb_daemon_t *d, const char *daemon, const char *method,
                             const char *type, const void *body, size_t len,
                             const hlb_acall_opts_t *opts, hlb_acall_fn *fn, void *arg)
{
    return hlb_acall_start(d->loop, d->runtime_dir, daemon, method, type, body, len, opts, fn, arg);
}

/* hl-bus restarted (a new epoch on daemon.hl-bus): its last-value cache
 * starts empty, so every state topic this daemon published goes out again,
 * and a new subscriber sees the whole current state at once instead of
 * whatever changed since. */
static void on_bus_status(hlb_daemon_t *d, const hlb_event_t *ev)
{
    uint64_t epoch = ev->env->epoch;
    bool restarted = d->bus_epoch != 0 && epoch > d->bus_epoch;
    if (epoch > d->bus_epoch)
        d->bus_epoch = epoch;
    if (!restarted)
        return;
    size_t n = hlb_pub_republish(d->pub);
    hlb_info("hl-bus restarted: republished %zu state topic(s)", n);
}

void hlb_daemon_shutdown_ack(hlb_daemon_t *d, bool ok, const char *detail)
{
    if (!d->shutdown_pending)
        return;
    d->shutdown_pending = false;
    Hl__ShutdownAck a = HL__SHUTDOWN_ACK__INIT;
    a.id = d->shutdown_seen;
    a.daemon = (char *) d->ops->name;
    a.ok = ok;
    a.detail = (char *) (detail ? detail : "");
    char *topic = hlb_strdupf("lifecycle.ack.%s", d->ops->name);
    int r = topic ? hlb_pub_send(d->pub, topic, &a.base) : -ENOMEM;
    if (r < 0)
        hlb_warn("shutdown: cannot acknowledge on %s: %s", topic ? topic : "lifecycle.ack.*",
                 strerror(-r));
    else
        hlb_info("shutdown: acknowledged%s%s", ok ? "" : " (could not save: ",
                 ok ? "" : (detail ? detail : "?"));
    free(topic);
}

/* The orchestrator's pre-shutdown hook (spec 1.4): every daemon takes part,
 * so the orchestrator can wait for all of ours; a daemon with work in flight
 * finishes it in its prepare_shutdown op first. The notice is a state topic,
 * so a daemon that starts late gets the last one replayed: one whose deadline
 * has passed, or that was answered already, is not acted on again. */
static void on_shutdown_notice(hlb_daemon_t *d, const hlb_event_t *ev)
{
    const Hl__ShutdownNotice *n = hlb_event_as(ev, &hl__shutdown_notice__descriptor);
    if (!n || strcmp(n->step, "pre-shutdown") != 0 || n->id == 0 || n->id == d->shutdown_seen)
        return;
    if (hlb_topic_owner_ok(ev->topic, d->ops->name))
        return; /* the orchestrator's own notice: it does not wait for itself */
    if (n->deadline_us && n->deadline_us <= hlb_now_us())
        return;
    d->shutdown_seen = n->id;
    d->shutdown_pending = true;
    hlb_info("shutdown: pre-shutdown hook (%s)", *n->reason ? n->reason : "no reason given");
    if (d->ops->prepare_shutdown)
        d->ops->prepare_shutdown(d, n->deadline_us, d->arg);
    else
        hlb_daemon_shutdown_ack(d, true, "nothing in flight");
}

/* What the runtime itself follows on the bus, for every daemon but hl-bus. */
static void on_runtime_event(hlb_daemon_t *d, const hlb_event_t *ev, void *arg)
{
    (void) arg;
    if (!hlb_event_from_owner(ev))
        return;
    if (strcmp(ev->topic, "daemon.hl-bus") == 0)
        on_bus_status(d, ev);
    else if (strcmp(ev->topic, "lifecycle.shutdown") == 0)
        on_shutdown_notice(d, ev);
}

hlb_sub_t *hlb_daemon_subscribe(hlb_daemon_t *d, const char *const *prefixes, hlb_event_fn *fn,
                                void *arg)
{
    if (d->nsubs >= MAX_SUBS)
        return NULL;
    sub_slot_t *slot = &d->subs[d->nsubs];
    slot->sub = hlb_sub_new(d->runtime_dir, prefixes);
    if (!slot->sub)
        return NULL;
    slot->fn = fn;
    slot->arg = arg;
    slot->d = d;
    zloop_reader(d->loop, hlb_sub_sock(slot->sub), on_sub, slot);
    d->nsubs++;
    return slot->sub;
}

static void usage(const hlb_daemon_ops_t *ops, FILE *out)
{
    fprintf(out,
            "Usage: %s [OPTION]...\n"
            "%s\n\n"
            "  -c, --config FILE       config file (default " DEFAULT_CONFIG
            ", or $HL_CONFIG);\n"
            "                          drop-ins in <its dir>/hl.d/*.yaml are merged in name order\n"
            "  -r, --runtime-dir DIR   bus and ctl sockets (default $HL_RUNTIME_DIR or " HLB_RUNTIME_DIR_DEFAULT ")\n"
            "      --check-config      validate the config, report every error with file:line, exit\n"
            "  -l, --log-level LEVEL   error, warning, info (default) or debug\n"
            "  -V, --version           print the version and exit\n"
            "  -h, --help              print this help and exit\n\n"
            "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the config (a bad one is\n"
            "refused and the running config kept). Under systemd: Type=notify, watchdog.\n",
            ops->name, ops->summary ? ops->summary : "");
    if (ops->help_extra)
        fprintf(out, "\n%s\n", ops->help_extra);
}

int hlb_daemon_main(int argc, char **argv, const hlb_daemon_ops_t *ops, void *arg)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"runtime-dir", required_argument, NULL, 'r'},
        {"check-config", no_argument, NULL, 'C'},
        {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    hlb_daemon_t d = {.ops = ops, .arg = arg, .sigfd = -1, .state = "starting", .notify_retry = -1};
    bool check_only = false;
    int level = LOG_INFO, opt;
    d.config_path = getenv("HL_CONFIG");
    d.config_explicit = d.config_path && *d.config_path;
    if (!d.config_explicit)
        d.config_path = DEFAULT_CONFIG;
    while ((opt = getopt_long(argc, argv, "c:r:l:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': d.config_path = optarg; d.config_explicit = true; break;
        case 'r': d.runtime_dir = optarg; break;
        case 'C': check_only = true; break;
        case 'l':
            level = hlb_log_level_parse(optarg);
            if (level < 0) {
                fprintf(stderr, "%s: unknown log level '%s' (error, warning, info, debug)\n",
                        ops->name, optarg);
                return 64;
            }
            break;
        case 'V': printf("%s %s\n", ops->name, HL_VERSION); return 0;
        case 'h': usage(ops, stdout); return 0;
        default: usage(ops, stderr); return 64;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", ops->name, argv[optind]);
        return 64;
    }
    d.runtime_dir = hlb_runtime_dir(d.runtime_dir);
    hlb_log_init(ops->name, level);

    hlb_diag_t diag = {0};
    if (check_only) {
        int rc = load_config(&d, false, &diag);
        if (rc < 0)
            fprintf(stderr, "%s", diag.text ? diag.text : "config invalid\n");
        else
            printf("%s: config OK (%s)\n", ops->name, d.config_path);
        hlb_diag_free(&diag);
        return rc < 0 ? 1 : 0;
    }

    /* czmq's own SIGINT handling would end zloop behind our back. */
    zsys_handler_set(NULL);
    zsys_init();
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    d.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    d.started_us = hlb_now_us();
    int rc = 1;
    /* Before any socket exists: a flood of local connections must not make
     * libzmq's accept hit EMFILE, which aborts us (hlbus/fdguard.h). */
    hlb_fdguard_arm(HLB_FDGUARD_PER_UID, HLB_FDGUARD_RESERVE);

    if (load_config(&d, true, &diag) < 0) {
        hlb_err("invalid configuration:\n%s", diag.text ? diag.text : "");
        hlb_notify("STATUS=invalid configuration");
        hlb_diag_free(&diag);
        return 78; /* EX_CONFIG: systemd units use RestartPreventExitStatus=78 */
    }
    hlb_diag_free(&diag);

    char *ctl_dir = hlb_path(d.runtime_dir, HLB_CTL_DIR);
    char *bus_dir = hlb_path(d.runtime_dir, "bus");
    hlb_mkdir_p(ctl_dir, 0755);
    hlb_mkdir_p(bus_dir, 0755);
    free(ctl_dir);
    free(bus_dir);

    d.loop = zloop_new();
    d.pub = hlb_pub_new(d.runtime_dir, ops->name);
    d.server = hlb_server_new(d.runtime_dir, ops->name);
    if (!d.loop || !d.pub || !d.server || d.sigfd < 0) {
        hlb_err("cannot set up: %s (is another %s running on %s?)", strerror(errno), ops->name,
                d.runtime_dir);
        goto out;
    }
    const char *admin;
    hlb_conf_str(d.conf, "admin_group", NULL, &admin, NULL);
    if (admin && *admin) {
        struct group *g = getgrnam(admin);
        if (g)
            hlb_server_set_admin_gid(d.server, g->gr_gid);
    }
    hlb_log_set_pub(d.pub);
    hlb_pub_keep_state(d.pub);
    if (strcmp(ops->name, "hl-bus") != 0) {
        static const char *const followed[] = {"daemon.hl-bus", "lifecycle.shutdown", NULL};
        if (!hlb_daemon_subscribe(&d, followed, on_runtime_event, NULL))
            hlb_warn("cannot follow daemon.hl-bus and lifecycle.shutdown: state topics are not "
                     "republished when hl-bus restarts, shutdown hooks not acknowledged");
    }
    hlb_server_add_methods(d.server, builtin_methods, &d);
    const char *knobs = getenv("HL_TEST_KNOBS");
    if (knobs && strcmp(knobs, "1") == 0)
        hlb_server_add_methods(d.server, test_methods, &d);
    if (ops->methods)
        hlb_server_add_methods(d.server, ops->methods, arg);
    zloop_reader(d.loop, hlb_server_sock(d.server), on_server, d.server);
    zmq_pollitem_t sigitem = {.fd = d.sigfd, .events = ZMQ_POLLIN};
    zloop_poller(d.loop, &sigitem, on_signal, &d);
    uint64_t wd_usec = 0;
    if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0)
        zloop_timer(d.loop, (size_t)(wd_usec / 2000 ? wd_usec / 2000 : 1), 0, on_watchdog, &d);

    publish_state(&d, "starting");
    if (ops->start && ops->start(&d, arg) != 0) {
        hlb_err("start failed");
        goto out;
    }
    if (!ops->manual_ready)
        hlb_daemon_ready(&d);
    hlb_info("%s %s running (runtime dir %s)", ops->name, HL_VERSION, d.runtime_dir);
    zloop_start(d.loop);
    rc = d.exit_code;

    daemon_notify(&d, "STOPPING=1");
    publish_state(&d, "stopping");
    if (ops->stop)
        ops->stop(&d, arg);
out:
    hlb_acall_shutdown(); /* calls the daemon's stop did not cancel */
    hlb_proc_shutdown();  /* and the commands it did not */
    hlb_notify_flush(); /* a last try for a STOPPING=1 the queue refused */
    hlb_log_set_pub(NULL);
    for (int i = 0; i < d.nsubs; i++)
        hlb_sub_destroy(&d.subs[i].sub);
    hlb_server_destroy(&d.server);
    hlb_pub_destroy(&d.pub);
    hlb_reactor_destroy(&d.reactor);
    zloop_destroy(&d.loop);
    hlb_conf_destroy(&d.conf);
    clear_restart_keys(&d);
    free(d.status);
    if (d.sigfd >= 0)
        close(d.sigfd);
    return rc;
}
