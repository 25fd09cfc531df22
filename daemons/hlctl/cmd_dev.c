/* hlctl dev: the development servers of dev-server.yaml (spec 3.4, #17).
 *
 *   check [FILE]     validate (file:line errors, exit 78)
 *   apply            validate /etc/hl/dev-server.yaml and apply exactly what
 *                    changed: removed servers stopped, systemd reloaded (the
 *                    generator writes the units again), added ones started,
 *                    changed ones restarted, the others left running; the
 *                    proxy reloaded (nginx checks its new config first) and
 *                    hl-health's checks read again
 *   list | status [NAME]   each server with its unit's state and its health
 *   restart NAME | logs NAME [--lines N]
 *
 * What systemd has is the generator's output (/run/systemd/generator): a
 * server whose drop-in there differs from the one the new file gives is a
 * changed server. Everything that touches systemd goes through the
 * orchestrator's methods. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hlbus/devserver.h>
#include <hlbus/json.h>
#include <hlbus/pbenum.h>
#include <hlbus/str.h>
#include <hlbus/strv.h>

#include "health.pb-c.h"
#include "hlctl.h"
#include "orchestrator.pb-c.h"

#define ORCH "hl-orchestrator"
#define PROXY_UNIT "hl-dev-proxy.service"
enum { EX_CONFIG_ = 78 };

static const char *generator_dir(void)
{
    const char *e = getenv("HL_GENERATOR_DIR");
    return e && *e ? e : "/run/systemd/generator";
}

static char *read_small(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    hlb_buf_t b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        hlb_buf_add(&b, chunk, n);
    fclose(f);
    return b.data ? hlb_buf_steal(&b) : strdup("");
}

/* TEXT: the file's content when the caller read it already, else NULL. */
static hlb_dev_config_t *check_text(const char *path, const char *text)
{
    hlb_diag_t d = {0};
    hlb_dev_config_t *c = text ? hlb_dev_config_parse(path, text, &d)
                               : hlb_dev_config_load(path, true, &d);
    /* one escaped line per error: the values come from the file */
    for (char *line = c ? NULL : d.text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        hlctl_fprintf(stderr, "%s\n", line);
    }
    if (!c && !d.text)
        hlctl_fprintf(stderr, "hlctl: %s cannot be read\n", path);
    hlb_diag_free(&d);
    return c;
}

static hlb_dev_config_t *load_checked(const char *path)
{
    return check_text(path, NULL);
}

/* A call that waits for a systemd job: no retry (it would run twice). */
static int orch_call(hlctl_t *ctx, const char *method, const char *unit, Hl__Reply **out)
{
    hlb_map_t *args = NULL;
    if (unit) {
        args = hlb_map_new();
        hlb_map_str(args, "unit", unit);
    }
    hlctl_t c = *ctx;
    if (c.call.timeout_ms == 2000)
        c.call.timeout_ms = 120000;
    c.call.retries = 0;
    Hl__Reply *r = NULL;
    int rc = hlctl_call(&c, ORCH, method, args, &r);
    hlb_map_destroy(&args);
    if (out)
        *out = r;
    else if (r)
        hl__reply__free_unpacked(r, NULL);
    return rc;
}

/* ---- check ---- */

static int cmd_check(hlctl_t *ctx, int argc, char **argv)
{
    (void) ctx;
    if (argc > 2)
        return hlctl_usage("dev check [FILE]");
    const char *path = argc == 2 ? argv[1] : hlb_dev_file_path();
    hlb_dev_config_t *c = load_checked(path);
    if (!c)
        return EX_CONFIG_;
    hlctl_printf("%s: %zu server%s, proxy %s\n", path, c->n_servers, c->n_servers == 1 ? "" : "s",
                 c->proxy_enabled ? "enabled" : "disabled");
    hlb_dev_config_destroy(&c);
    return HLCTL_OK;
}

/* ---- apply ---- */

typedef struct plan {
    char **added, **changed, **removed, **same; /* unit names */
    bool proxy_was, proxy_now;
} plan_t;

static void plan_free(plan_t *p)
{
    hlb_strv_free(p->added);
    hlb_strv_free(p->changed);
    hlb_strv_free(p->removed);
    hlb_strv_free(p->same);
}

static void make_plan(const hlb_dev_config_t *c, plan_t *p)
{
    memset(p, 0, sizeof *p);
    const char *gen = generator_dir();
    for (size_t i = 0; i < c->n_servers; i++) {
        char *unit = hlb_dev_unit_name(&c->servers[i]);
        char *text = hlb_dev_unit_dropin(&c->servers[i], hlb_dev_file_path());
        char *path = hlb_strdupf("%s/%s.d/50-dev-server.conf", gen, unit);
        char *old = path ? read_small(path) : NULL;
        char ***into = !old ? &p->added : strcmp(old, text) ? &p->changed : &p->same;
        hlb_strv_push(into, unit);
        free(unit);
        free(text);
        free(path);
        free(old);
    }
    /* What the generator made that the file no longer has. */
    char *wants = hlb_strdupf("%s/hl-phase-core.target.wants", gen);
    DIR *d = wants ? opendir(wants) : NULL;
    for (struct dirent *de; d && (de = readdir(d));) {
        const char *n = de->d_name;
        if (!strcmp(n, PROXY_UNIT)) {
            p->proxy_was = true;
            continue;
        }
        if (strncmp(n, "hl-service@", 11) != 0)
            continue;
        if (!hlb_strv_contains(p->added, n) && !hlb_strv_contains(p->changed, n) &&
            !hlb_strv_contains(p->same, n))
            hlb_strv_push(&p->removed, n);
    }
    if (d)
        closedir(d);
    free(wants);
    p->proxy_now = c->proxy_enabled;
}

/* TEXT, the very bytes that validated, becomes the applied copy. */
static int write_applied(const char *text, const char *to)
{
    char *tmp = hlb_strdupf("%s.new", to);
    int fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640) : -1;
    int r = fd < 0 ? -errno : 0;
    size_t len = strlen(text), off = 0;
    while (r == 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno != EINTR)
            r = -errno;
        else if (n > 0)
            off += (size_t) n;
    }
    if (fd >= 0) {
        /* readable by the daemons' group, like /etc/hl (hl-health, the proxy) */
        struct group *g = getgrnam("hl");
        if (r == 0 && g && fchown(fd, 0, g->gr_gid) < 0)
            r = -errno;
        if (r == 0 && fsync(fd) < 0)
            r = -errno;
        close(fd);
    }
    if (r == 0 && rename(tmp, to) < 0)
        r = -errno;
    if (r < 0 && tmp)
        unlink(tmp);
    free(tmp);
    return r;
}

static void print_list(const char *what, char **v)
{
    if (!v)
        return;
    hlctl_printf("  %s:", what);
    for (char **u = v; *u; u++)
        hlctl_printf(" %s", *u);
    hlctl_printf("\n");
}

static void each_job(hlctl_t *ctx, const char *method, char **units, int *failed)
{
    for (char **u = units; u && *u; u++)
        if (orch_call(ctx, method, *u, NULL) != HLCTL_OK)
            (*failed)++;
}

static int cmd_apply(hlctl_t *ctx, int argc, char **argv)
{
    (void) argv;
    if (argc != 1)
        return hlctl_usage("dev apply");
    const char *file = hlb_dev_file_path();
    /* Read once: what is applied is exactly what was validated. */
    char *text = read_small(file);
    if (!text) {
        hlctl_fprintf(stderr, "hlctl: cannot read %s: %s\n", file, strerror(errno));
        return EX_CONFIG_;
    }
    hlb_dev_config_t *c = check_text(file, text);
    if (!c) {
        free(text);
        hlctl_fprintf(stderr, "hlctl: %s refused: nothing was changed, the running setup "
                              "stays as it is\n", file);
        return EX_CONFIG_;
    }
    plan_t p;
    make_plan(c, &p);
    hlb_dev_config_destroy(&c);
    bool proxy_change = p.proxy_was != p.proxy_now;
    int failed = 0;
    int r = write_applied(text, hlb_dev_applied_path());
    free(text);
    if (r < 0) {
        hlctl_fprintf(stderr, "hlctl: cannot write %s: %s\n", hlb_dev_applied_path(),
                      strerror(-r));
        plan_free(&p);
        return HLCTL_CRITICAL;
    }
    /* Before the reload: after it, a removed server is no unit of a phase,
     * so no longer the orchestrator's to stop. */
    each_job(ctx, "stop", p.removed, &failed);
    if (p.proxy_was && !p.proxy_now && orch_call(ctx, "stop", PROXY_UNIT, NULL) != HLCTL_OK)
        failed++;
    if (orch_call(ctx, "daemon-reload", NULL, NULL) != HLCTL_OK) {
        plan_free(&p);
        return HLCTL_CRITICAL;
    }
    each_job(ctx, "start", p.added, &failed);
    each_job(ctx, "restart", p.changed, &failed);
    if (p.proxy_now) {
        /* nginx -t runs in the reload (ExecReload=): a refused config fails
         * it and the running proxy keeps the old one. */
        const char *m = p.proxy_was ? "reload-unit" : "start";
        if (orch_call(ctx, m, PROXY_UNIT, NULL) != HLCTL_OK) {
            hlctl_fprintf(stderr, "hlctl: the proxy did not take the new routes (its journal: "
                                  "hlctl dev logs proxy)\n");
            failed++;
        }
    }
    Hl__Reply *hr = NULL;
    if (hlctl_call(ctx, "hl-health", "reload", NULL, &hr) != HLCTL_OK)
        failed++;
    if (hr)
        hl__reply__free_unpacked(hr, NULL);
    if (ctx->json) {
        hlb_buf_t b = {0};
        hlb_buf_puts(&b, "{");
        char **const lists[] = {p.added, p.changed, p.removed, p.same};
        static const char *const names[] = {"added", "changed", "removed", "unchanged"};
        for (size_t i = 0; i < 4; i++) {
            hlb_buf_printf(&b, "%s\"%s\":[", i ? "," : "", names[i]);
            for (char **u = lists[i]; u && *u; u++) {
                if (u != lists[i])
                    hlb_buf_puts(&b, ",");
                hlb_json_str(&b, *u, strlen(*u));
            }
            hlb_buf_puts(&b, "]");
        }
        hlb_buf_printf(&b, ",\"proxy\":\"%s\",\"failed\":%d}\n",
                       p.proxy_now ? (proxy_change ? "started" : "reloaded")
                                   : (proxy_change ? "stopped" : "disabled"),
                       failed);
        fputs(b.data, stdout);
        hlb_buf_free(&b);
    } else {
        hlctl_printf("applied %s:\n", file);
        print_list("added (started)", p.added);
        print_list("changed (restarted)", p.changed);
        print_list("removed (stopped)", p.removed);
        print_list("unchanged (left running)", p.same);
        hlctl_printf("  proxy: %s\n", p.proxy_now ? (proxy_change ? "started" : "reloaded")
                                                  : (proxy_change ? "stopped" : "disabled"));
        if (failed)
            hlctl_printf("  %d step%s failed (above)\n", failed, failed == 1 ? "" : "s");
    }
    plan_free(&p);
    return failed ? HLCTL_CRITICAL : HLCTL_OK;
}

/* ---- list, status ---- */

typedef struct states {
    Hl__Reply *svc_reply, *health_reply;
    Hl__ServiceList *svcs;
    Hl__HealthReport *health;
} states_t;

static void states_fetch(hlctl_t *ctx, states_t *s)
{
    memset(s, 0, sizeof *s);
    hlb_call_opts_t o = ctx->call;
    if (hlb_call_map(ctx->runtime_dir, ORCH, "services", NULL, &o, &s->svc_reply) == 0 &&
        !s->svc_reply->status)
        s->svcs = (Hl__ServiceList *) hlb_reply_decode(s->svc_reply, &hl__service_list__descriptor);
    if (hlb_call_map(ctx->runtime_dir, "hl-health", "health", NULL, &o, &s->health_reply) == 0 &&
        !s->health_reply->status)
        s->health = (Hl__HealthReport *) hlb_reply_decode(s->health_reply,
                                                          &hl__health_report__descriptor);
}

static void states_free(states_t *s)
{
    if (s->svcs)
        protobuf_c_message_free_unpacked(&s->svcs->base, NULL);
    if (s->health)
        protobuf_c_message_free_unpacked(&s->health->base, NULL);
    if (s->svc_reply)
        hl__reply__free_unpacked(s->svc_reply, NULL);
    if (s->health_reply)
        hl__reply__free_unpacked(s->health_reply, NULL);
}

static const Hl__ServiceState *unit_state(const states_t *s, const char *unit)
{
    for (size_t i = 0; s->svcs && i < s->svcs->n_services; i++)
        if (!strcmp(s->svcs->services[i]->unit, unit))
            return s->svcs->services[i];
    return NULL;
}

static const Hl__ServiceHealth *health_of(const states_t *s, const char *service)
{
    for (size_t i = 0; s->health && i < s->health->n_services; i++)
        if (!strcmp(s->health->services[i]->service, service))
            return s->health->services[i];
    return NULL;
}

static const char *route_of(const hlb_dev_config_t *c, int64_t port)
{
    for (size_t i = 0; c->proxy_enabled && i < c->n_routes; i++)
        if (c->routes[i].port == port)
            return c->routes[i].pattern;
    return NULL;
}

static void json_kv(hlb_buf_t *b, const char *k, const char *v, bool comma)
{
    hlb_buf_printf(b, "%s\"%s\":", comma ? "," : "", k);
    if (v)
        hlb_json_str(b, v, strlen(v));
    else
        hlb_buf_puts(b, "null");
}

static int cmd_list(hlctl_t *ctx, int argc, char **argv)
{
    const char *only = argc == 2 ? argv[1] : NULL;
    if (argc > 2)
        return hlctl_usage("dev list | dev status [NAME]");
    const char *path = hlb_dev_effective_path();
    hlb_dev_config_t *c = load_checked(path);
    if (!c)
        return EX_CONFIG_;
    if (only && !hlb_dev_config_server(c, only)) {
        hlctl_fprintf(stderr, "hlctl: no server '%s' in %s\n", only, path);
        hlb_dev_config_destroy(&c);
        return HLCTL_CRITICAL;
    }
    states_t st;
    states_fetch(ctx, &st);
    int rc = HLCTL_OK;
    hlb_buf_t b = {0};
    if (ctx->json)
        hlb_buf_puts(&b, "{\"file\":");
    if (ctx->json) {
        hlb_json_str(&b, path, strlen(path));
        hlb_buf_printf(&b, ",\"proxy\":{\"enabled\":%s,\"port\":%lld},\"servers\":[",
                       c->proxy_enabled ? "true" : "false", (long long) c->proxy_port);
    } else {
        hlctl_printf("%-16s %5s %-10s %-13s %-10s %-10s %s\n", "NAME", "PORT", "ACTIVE", "SUB",
                     "HEALTH", "ROUTE", "COMMAND");
    }
    bool first = true;
    for (size_t i = 0; i < c->n_servers; i++) {
        const hlb_dev_server_t *s = &c->servers[i];
        if (only && strcmp(only, s->name))
            continue;
        char *unit = hlb_dev_unit_name(s);
        const Hl__ServiceState *u = unit_state(&st, unit);
        const Hl__ServiceHealth *h = health_of(&st, s->name);
        const char *hw = h ? hlb_pb_enum_word(&hl__health_state__descriptor, h->state) : NULL;
        if (!u || strcmp(u->active_state, "active") ||
            (h && h->state != HL__HEALTH_STATE__HEALTH_HEALTHY))
            rc = HLCTL_DEGRADED;
        const char *route = route_of(c, s->port);
        if (ctx->json) {
            hlb_buf_puts(&b, first ? "{" : ",{");
            json_kv(&b, "name", s->name, false);
            hlb_buf_printf(&b, ",\"port\":%lld", (long long) s->port);
            json_kv(&b, "unit", unit, true);
            json_kv(&b, "command", s->command, true);
            json_kv(&b, "directory", s->directory, true);
            json_kv(&b, "user", s->user, true);
            json_kv(&b, "active_state", u ? u->active_state : NULL, true);
            json_kv(&b, "sub_state", u ? u->sub_state : NULL, true);
            hlb_buf_printf(&b, ",\"main_pid\":%u,\"restarts\":%u", u ? u->main_pid : 0,
                           u ? u->n_restarts : 0);
            json_kv(&b, "health", hw, true);
            json_kv(&b, "health_reason", h ? h->reason : NULL, true);
            json_kv(&b, "route", route, true);
            hlb_buf_puts(&b, "}");
        } else if (only) {
            hlctl_printf("%s: %s, port %lld\n  command   %s\n  directory %s\n  user      %s\n",
                         s->name, unit, (long long) s->port, s->command, s->directory, s->user);
            hlctl_printf("  state     %s/%s, pid %u, %u restarts\n", u ? u->active_state : "?",
                         u ? u->sub_state : "?", u ? u->main_pid : 0, u ? u->n_restarts : 0);
            hlctl_printf("  health    %s%s%s\n", hw ? hw : "?", h && *h->reason ? ": " : "",
                         h ? h->reason : "");
            if (route)
                hlctl_printf("  proxy     %s on :%lld\n", route, (long long) c->proxy_port);
        } else {
            hlctl_printf("%-16s %5lld %-10s %-13s %-10s %-10s %s\n", s->name, (long long) s->port,
                         u ? u->active_state : "?", u ? u->sub_state : "?", hw ? hw : "?",
                         route ? route : "-", s->command);
        }
        first = false;
        free(unit);
    }
    if (ctx->json) {
        hlb_buf_puts(&b, "]}\n");
        fputs(b.data, stdout);
    }
    hlb_buf_free(&b);
    states_free(&st);
    hlb_dev_config_destroy(&c);
    return rc;
}

/* ---- restart, logs ---- */

/* NAME's unit, if NAME is a server of the applied file ("proxy": the proxy's). */
static char *server_unit(const char *name)
{
    if (!strcmp(name, "proxy"))
        return strdup(PROXY_UNIT);
    hlb_dev_config_t *c = load_checked(hlb_dev_effective_path());
    const hlb_dev_server_t *s = c ? hlb_dev_config_server(c, name) : NULL;
    char *unit = s ? hlb_dev_unit_name(s) : NULL;
    if (c && !s)
        hlctl_fprintf(stderr, "hlctl: no server '%s' in %s\n", name, hlb_dev_effective_path());
    hlb_dev_config_destroy(&c);
    return unit;
}

static int cmd_restart(hlctl_t *ctx, int argc, char **argv)
{
    if (argc != 2)
        return hlctl_usage("dev restart NAME");
    char *unit = server_unit(argv[1]);
    if (!unit)
        return HLCTL_CRITICAL;
    Hl__Reply *r = NULL;
    int rc = orch_call(ctx, "restart", unit, &r);
    if (rc == HLCTL_OK && !ctx->json)
        hlctl_printf("%s restarted\n", unit);
    else if (rc == HLCTL_OK)
        hlctl_print_json(r);
    if (r)
        hl__reply__free_unpacked(r, NULL);
    free(unit);
    return rc;
}

static int cmd_logs(hlctl_t *ctx, int argc, char **argv)
{
    const char *usage = "dev logs NAME [--lines N]";
    static const struct option opts[] = {{"lines", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    long lines = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
        char *end;
        if (opt != 'n')
            return hlctl_usage(usage);
        errno = 0;
        lines = strtol(optarg, &end, 10);
        if (errno || *end || lines < 1 || lines > 1000) {
            fprintf(stderr, "hlctl: --lines takes 1..1000, not '%s'\n", optarg);
            return HLCTL_USAGE;
        }
    }
    if (optind != argc - 1)
        return hlctl_usage(usage);
    char *unit = server_unit(argv[optind]);
    if (!unit)
        return HLCTL_CRITICAL;
    hlb_map_t *args = hlb_map_new();
    hlb_map_str(args, "unit", unit);
    if (lines)
        hlb_map_int(args, "lines", lines);
    Hl__Reply *r = NULL;
    int rc = hlctl_call(ctx, ORCH, "journal", args, &r);
    hlb_map_destroy(&args);
    free(unit);
    if (rc != HLCTL_OK)
        return rc;
    Hl__JournalExcerpt *j =
        (Hl__JournalExcerpt *) hlb_reply_decode(r, &hl__journal_excerpt__descriptor);
    if (ctx->json && j)
        hlctl_print_json(r);
    else if (j)
        for (size_t i = 0; i < j->n_lines; i++)
            hlctl_printf("%s\n", j->lines[i]);
    if (j)
        protobuf_c_message_free_unpacked(&j->base, NULL);
    hl__reply__free_unpacked(r, NULL);
    return HLCTL_OK;
}

int hlctl_cmd_dev(hlctl_t *ctx, int argc, char **argv)
{
    const char *usage = "dev check [FILE] | apply | list | status [NAME] | restart NAME | "
                        "logs NAME [--lines N]";
    if (argc < 2)
        return hlctl_usage(usage);
    const char *sub = argv[1];
    argc--;
    argv++;
    optind = 0;
    if (!strcmp(sub, "check"))
        return cmd_check(ctx, argc, argv);
    if (!strcmp(sub, "apply"))
        return cmd_apply(ctx, argc, argv);
    if (!strcmp(sub, "list") || !strcmp(sub, "status"))
        return cmd_list(ctx, argc, argv);
    if (!strcmp(sub, "restart"))
        return cmd_restart(ctx, argc, argv);
    if (!strcmp(sub, "logs"))
        return cmd_logs(ctx, argc, argv);
    return hlctl_usage(usage);
}
