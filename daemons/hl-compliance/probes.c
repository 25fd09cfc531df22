/* The probes: one command each through the shared process runner (no
 * shell, a process group killed at the deadline), results handed to the
 * checks when they end. */
#include "probes.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>
#include <hlbus/conf.h>
#include <hlbus/proc.h>
#include <hlbus/reactor.h>
#include <hlbus/str.h>
#include <hlbus/strv.h>

#include "checks.h"

/* argv is char *const * (exec's type); these strings are never written. */
#define S(lit) ((char *) (lit))

typedef struct run run_t;
typedef void(done_fn)(run_t *run, const hlb_proc_result_t *res, void *arg);

struct run {
    cr_report_t *r;
    const probe_opts_t *o;
    hlb_reactor_t *io;
    zloop_t *loop;
    int pending;
};

typedef struct job {
    run_t *run;
    done_fn *fn;
    char *arg; /* owned: a unit name, a file */
} job_t;

static const char *tool(const char *name)
{
    static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL};
    static char buf[8][256];
    static int next;
    for (const char *const *d = dirs; *d; d++) {
        char *p = buf[next];
        snprintf(p, sizeof buf[0], "%s/%s", *d, name);
        if (access(p, X_OK) == 0) {
            next = (next + 1) % 8;
            return p;
        }
    }
    return NULL;
}

/* The last probe ended: -1 ends zloop_start (a proc callback cannot). */
static int on_all_done(zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id, (void) arg;
    return -1;
}

static void on_proc(const hlb_proc_result_t *res, void *arg)
{
    job_t *j = arg;
    j->fn(j->run, res, j->arg); /* may start more probes (units: one per unit) */
    if (--j->run->pending == 0)
        zloop_timer(j->run->loop, 1, 1, on_all_done, j->run); /* the loop ends there */
    free(j->arg);
    free(j);
}

/* Starts ARGV; FN gets the result. */
static void start(run_t *run, char *const *argv, size_t out_max, bool tail, done_fn *fn, const char *arg)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return;
    *j = (job_t) {run, fn, arg ? strdup(arg) : NULL};
    hlb_proc_opts_t po = HLB_PROC_OPTS_INIT;
    po.argv = argv;
    po.timeout_ms = run->o->timeout_ms;
    po.output_max = out_max;
    po.keep_tail = tail;
    run->pending++;
    if (!hlb_proc_start(run->io, &po, on_proc, j)) {
        run->pending--;
        free(j->arg);
        free(j);
    }
}

/* NOT_EVALUATED with the tool's own words when it did not run to the end. */
static bool ran(run_t *run, const hlb_proc_result_t *res, const char *id, const char *name,
                const char *what)
{
    if (hlb_proc_ok(res))
        return true;
    char how[160];
    hlb_proc_describe(res, how, sizeof how);
    size_t n = res->output_len > 300 ? 300 : res->output_len;
    cr_add(run->r, id, name, CR_NOT_EVALUATED, "%s: %s%s%.*s", what, how, n ? ": " : "", (int) n,
           res->output ? res->output : "");
    return false;
}

/* ---- SSH ---- */

static void sshd_done(run_t *run, const hlb_proc_result_t *res, void *arg)
{
    /* sshd exits 255 on a configuration it would not start with: that is a
     * finding (no SSH at all, or not the one we meant), not a check that
     * could not run. Missing privilege (no host keys readable) is the latter. */
    if (!hlb_proc_ok(res) && !res->timed_out && !res->error && res->output &&
        !strstr(res->output, "no hostkeys available") && !strstr(res->output, "Permission denied") &&
        (strstr(res->output, "Bad configuration") || strstr(res->output, "cannot be satisfied") ||
         strstr(res->output, "Unsupported") || strstr(res->output, "bad ") ||
         strstr(res->output, "terminating") || strstr(res->output, "Missing argument") ||
         strstr(res->output, "Disabled method"))) {
        cr_add(run->r, "SSH-7408", "ssh.config", CR_FAIL, "sshd refuses its configuration: %.300s",
               res->output);
        return;
    }
    if (ran(run, res, "SSH-7408", "ssh", "sshd -T"))
        check_sshd_effective(run->r, res->output);
}

static void probe_ssh(run_t *run)
{
    const char *sshd = tool("sshd");
    if (!sshd) {
        cr_add(run->r, "SSH-7408", "ssh", CR_NOT_EVALUATED, "sshd is not installed");
        return;
    }
    /* -T prints the configuration for a connection; these are what an
     * AllowUsers/Match would see for the agent's user over loopback. */
    char ctx[128];
    snprintf(ctx, sizeof ctx, "user=%s,host=localhost,addr=127.0.0.1", run->o->user);
    char *argv[] = {(char *) sshd, S("-T"), S("-C"), ctx, NULL, NULL, NULL};
    if (run->o->sshd_config) {
        argv[4] = S("-f");
        argv[5] = (char *) run->o->sshd_config;
    }
    start(run, argv, 256 * 1024, false, sshd_done, NULL);
}

/* ---- sudo ---- */

static void sudo_done(run_t *run, const hlb_proc_result_t *res, void *arg)
{
    if (ran(run, res, "AUTH-9252", "sudo", arg ? "visudo -c" : "sudo -l"))
        check_sudo_rules(run->r, run->o->user, arg ? arg : res->output);
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0 && len < (8u << 20))
        fwrite(chunk, 1, n, m);
    if (m)
        fclose(m);
    fclose(f);
    return buf;
}

static void probe_sudo(run_t *run)
{
    const char *visudo = tool("visudo"), *sudo = tool("sudo");
    if (!sudo || !visudo) {
        cr_add(run->r, "AUTH-9250", "sudo", CR_NOT_EVALUATED, "sudo is not installed");
        return;
    }
    cr_add(run->r, "AUTH-9250", "sudo.installed", CR_PASS, "%s", sudo);
    if (run->o->sudoers) {
        char err[256];
        char *text = read_file(run->o->sudoers, err, sizeof err);
        if (!text) {
            cr_add(run->r, "AUTH-9252", "sudo", CR_NOT_EVALUATED, "%s", err);
            return;
        }
        char *argv[] = {(char *) visudo, S("-c"), S("-q"), S("-f"), (char *) run->o->sudoers, NULL};
        start(run, argv, 4096, false, sudo_done, text);
        free(text);
        return;
    }
    if (!getpwnam(run->o->user)) {
        cr_add(run->r, "AUTH-9252", "sudo", CR_NOT_EVALUATED, "no user %s on this system",
               run->o->user);
        return;
    }
    char *argv[] = {(char *) sudo, S("-n"), S("-l"), S("-U"), (char *) run->o->user, NULL};
    start(run, argv, 64 * 1024, false, sudo_done, NULL);
}

/* ---- firewall ---- */

static void nft_done(run_t *run, const hlb_proc_result_t *res, void *arg)
{
    if (ran(run, res, "FIRE-4540", "firewall", "nft list ruleset"))
        check_nft_ruleset(run->r, res->output);
}

static void probe_firewall(run_t *run)
{
    const char *nft = tool("nft");
    if (!nft) {
        cr_add(run->r, "FIRE-4540", "firewall", CR_NOT_EVALUATED, "nft is not installed");
        return;
    }
    if (run->o->nft_file) {
        /* The file as the kernel would take it, in a network namespace of
         * its own (the host's rules untouched); then read back. */
        const char *unshare = tool("unshare");
        if (!unshare) {
            cr_add(run->r, "FIRE-4540", "firewall", CR_NOT_EVALUATED, "unshare is not installed");
            return;
        }
        char *argv[] = {(char *) unshare, S("-rn"), S("/bin/sh"), S("-c"), S("\"$0\" -f \"$1\" && \"$0\" list ruleset"),
                        (char *) nft, (char *) run->o->nft_file, NULL};
        start(run, argv, 256 * 1024, false, nft_done, NULL);
        return;
    }
    char *argv[] = {(char *) nft, S("list"), S("ruleset"), NULL};
    start(run, argv, 256 * 1024, false, nft_done, NULL);
}

/* ---- audit ---- */

static void audit_done(run_t *run, const hlb_proc_result_t *res, void *arg)
{
    if (ran(run, res, "ACCT-9630", "audit", "auditctl -l"))
        check_audit_rules(run->r, res->output, true);
}

static void auditd_done(run_t *run, const hlb_proc_result_t *res, void *arg)
{
    if (!ran(run, res, "ACCT-9628", "audit.enabled", "auditctl -s"))
        return;
    bool on = strstr(res->output, "enabled 1") || strstr(res->output, "enabled 2");
    cr_add(run->r, "ACCT-9628", "audit.enabled", on ? CR_PASS : CR_FAIL, "%s",
           on ? "kernel auditing enabled" : "kernel auditing is off");
}

static void probe_audit(run_t *run)
{
    if (run->o->audit_rules) {
        char err[256];
        char *text = read_file(run->o->audit_rules, err, sizeof err);
        if (!text)
            cr_add(run->r, "ACCT-9630", "audit", CR_NOT_EVALUATED, "%s", err);
        else
            check_audit_rules(run->r, text, false);
        free(text);
        return;
    }
    const char *auditctl = tool("auditctl");
    if (!auditctl) {
        cr_add(run->r, "ACCT-9628", "audit", CR_NOT_EVALUATED, "auditd is not installed");
        return;
    }
    char *s[] = {(char *) auditctl, S("-s"), NULL};
    start(run, s, 4096, false, auditd_done, NULL);
    char *l[] = {(char *) auditctl, S("-l"), NULL};
    start(run, l, 256 * 1024, false, audit_done, NULL);
}

/* ---- TLS ---- */

static void cert_done(run_t *run, const hlb_proc_result_t *res, void *arg)
{
    const char *cert = arg;
    if (!hlb_proc_ok(res)) {
        char how[160];
        hlb_proc_describe(res, how, sizeof how);
        check_cert_expiry(run->r, cert, -1, how);
        return;
    }
    /* notAfter=Mar  1 12:00:00 2027 GMT */
    const char *p = strstr(res->output, "notAfter=");
    struct tm tm = {0};
    if (!p || !strptime(p + 9, "%b %e %H:%M:%S %Y", &tm)) {
        check_cert_expiry(run->r, cert, -1, "no notAfter in openssl's output");
        return;
    }
    long long not_after = (long long) timegm(&tm);
    cr_set_cert_expiry(run->r, cert, not_after);
    long long left = not_after - (long long) time(NULL);
    check_cert_expiry(run->r, cert, left > 0 ? left : 0, NULL);
}

static void probe_tls(run_t *run)
{
    char err[256];
    char *text = read_file(run->o->tls, err, sizeof err);
    if (!text) {
        cr_add(run->r, "CRYP-7902", "tls.policy", CR_NOT_EVALUATED, "%s", err);
        return;
    }
    check_tls_policy(run->r, run->o->tls, text);
    /* the certificate it names, if any */
    hlb_diag_t diag = {0};
    hlb_conf_t *c = hlb_conf_parse(run->o->tls, text, &diag);
    const char *cert = hlb_conf_scalar(hlb_conf_get(c, "tls.certificate"));
    const char *openssl = tool("openssl");
    if (cert && *cert && openssl) {
        char *argv[] = {(char *) openssl, S("x509"), S("-noout"), S("-enddate"), S("-in"), (char *) cert, NULL};
        start(run, argv, 4096, false, cert_done, cert);
    } else if (cert && *cert) {
        check_cert_expiry(run->r, cert, -1, "openssl is not installed");
    }
    hlb_diag_free(&diag);
    hlb_conf_destroy(&c);
    free(text);
}

/* ---- units ---- */

static void exposure_done(run_t *run, const hlb_proc_result_t *res, void *arg)
{
    check_unit_exposure(run->r, arg, res->output, run->o->max_exposure);
}

static void units_done(run_t *run, const hlb_proc_result_t *res, void *arg)
{
    if (!ran(run, res, "HL-UNIT", "unit", "systemctl list-unit-files"))
        return;
    const char *analyze = tool("systemd-analyze");
    char *copy = strdup(res->output);
    size_t n = 0;
    char *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l && analyze; l = strtok_r(NULL, "\n", &save)) {
        char unit[200], state[64];
        if (sscanf(l, "%199s %63s", unit, state) != 2 || strchr(unit, '@') ||
            strlen(unit) < 9 || strcmp(unit + strlen(unit) - 8, ".service") != 0)
            continue;
        n++;
        char *argv[] = {(char *) analyze, S("security"), S("--no-pager"), unit, NULL};
        start(run, argv, 4096, true, exposure_done, unit);
    }
    if (!analyze)
        cr_add(run->r, "HL-UNIT", "unit", CR_NOT_EVALUATED, "systemd-analyze is not installed");
    else if (!n)
        cr_add(run->r, "HL-UNIT", "unit", CR_NOT_EVALUATED, "no unit matches %s", run->o->units);
    free(copy);
}

static void probe_units(run_t *run)
{
    const char *systemctl = tool("systemctl");
    if (!systemctl || access("/run/systemd/system", F_OK) != 0) {
        cr_add(run->r, "HL-UNIT", "unit", CR_NOT_EVALUATED,
               "systemd is not the init system here: no unit to score");
        return;
    }
    char *argv[] = {(char *) systemctl, S("list-unit-files"), S("--no-legend"), S("--no-pager"),
                    (char *) run->o->units, NULL};
    start(run, argv, 64 * 1024, false, units_done, NULL);
}


int probes_run(cr_report_t *r, const probe_opts_t *o)
{
    run_t run = {.r = r, .o = o};
    run.loop = zloop_new();
    run.io = run.loop ? hlb_reactor_new(run.loop) : NULL;
    if (!run.io) {
        zloop_destroy(&run.loop);
        return -ENOMEM;
    }
    probe_ssh(&run);
    probe_sudo(&run);
    probe_firewall(&run);
    probe_audit(&run);
    probe_tls(&run);
    probe_units(&run);
    /* Everything runs at once; the last one to end stops the loop (each has
     * its own deadline, so this ends). */
    if (run.pending)
        zloop_start(run.loop);
    hlb_proc_shutdown();
    hlb_reactor_destroy(&run.io);
    zloop_destroy(&run.loop);
    return 0;
}
