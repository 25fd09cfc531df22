/* hl-compliance: the host's compliance report (spec 6.4.2). Run by
 * hl-compliance.timer (daily, the report kept in /var/lib/hl and its
 * Prometheus series beside it) and by `hlctl compliance`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <hlbus/clock.h>
#include <hlbus/log.h>

#include "probes.h"
#include "report.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hl-compliance [OPTION]...\n"
            "The host's compliance report: SSH (effective sshd -T), sudo rules, the\n"
            "nftables firewall, audit rules, the TLS policy and certificate, and the\n"
            "exposure score of each hl unit. A check that cannot be run says\n"
            "NOT_EVALUATED and why. Exit status: 0 all pass, 1 a warning, 2 a failure.\n\n"
            "  --json                the spec's JSON report\n"
            "  --all                 text: passing checks too\n"
            "  --output FILE         also write the JSON report to FILE (atomically)\n"
            "  --prometheus FILE     also write hl_compliance_check_status to FILE\n"
            "  --user NAME           whose sudo rules (default hluser)\n"
            "  --sshd-config FILE    check FILE with sshd -T -f (default: the system's)\n"
            "  --sudoers FILE        check FILE (visudo -c and its rules) instead of sudo -l\n"
            "  --nft-file FILE       check FILE, loaded in a private network namespace\n"
            "  --audit-rules FILE    check FILE instead of the kernel's rules\n"
            "  --tls FILE            the TLS policy (default /etc/hl/tls.yml)\n"
            "  --units GLOB          units to score (default 'hl*.service')\n"
            "  --max-exposure N      highest systemd-analyze exposure that passes (2.0)\n"
            "  --timeout MS          each tool's deadline (default 10000)\n"
            "  --help, --version\n");
}

static char *instance_id(void)
{
    char buf[128] = "";
    FILE *f = fopen("/etc/machine-id", "re");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    return strdup(*buf ? buf : "unknown");
}

/* FILE written whole or not at all: a reader never sees half a report. */
/* Writes TEXT to PATH through a temporary file and a rename; MODE is the
 * file's (the unit's UMask=0077 would make every file 0600). */
static int write_atomic(const char *path, const char *text, mode_t mode)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int) getpid());
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -1;
    bool ok = fchmod(fileno(f), mode) == 0 && fputs(text, f) >= 0;
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    probe_opts_t o = {.user = "hluser", .tls = "/etc/hl/tls.yml", .units = "hl*.service",
                      .max_exposure = 2.0, .timeout_ms = 10000};
    bool json = false, all = false;
    const char *output = NULL, *prom = NULL;
    enum { O_JSON = 256, O_ALL, O_OUT, O_PROM, O_USER, O_SSHD, O_SUDO, O_NFT, O_AUDIT, O_TLS,
           O_UNITS, O_EXPO, O_TIMEOUT, O_HELP, O_VERSION };
    static const struct option opts[] = {
        {"json", no_argument, 0, O_JSON},          {"all", no_argument, 0, O_ALL},
        {"output", required_argument, 0, O_OUT},   {"prometheus", required_argument, 0, O_PROM},
        {"user", required_argument, 0, O_USER},    {"sshd-config", required_argument, 0, O_SSHD},
        {"sudoers", required_argument, 0, O_SUDO}, {"nft-file", required_argument, 0, O_NFT},
        {"audit-rules", required_argument, 0, O_AUDIT}, {"tls", required_argument, 0, O_TLS},
        {"units", required_argument, 0, O_UNITS},  {"max-exposure", required_argument, 0, O_EXPO},
        {"timeout", required_argument, 0, O_TIMEOUT}, {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},    {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_JSON: json = true; break;
        case O_ALL: all = true; break;
        case O_OUT: output = optarg; break;
        case O_PROM: prom = optarg; break;
        case O_USER: o.user = optarg; break;
        case O_SSHD: o.sshd_config = optarg; break;
        case O_SUDO: o.sudoers = optarg; break;
        case O_NFT: o.nft_file = optarg; break;
        case O_AUDIT: o.audit_rules = optarg; break;
        case O_TLS: o.tls = optarg; break;
        case O_UNITS: o.units = optarg; break;
        case O_EXPO: o.max_exposure = atof(optarg); break;
        case O_TIMEOUT: o.timeout_ms = atoi(optarg) > 0 ? atoi(optarg) : 10000; break;
        case O_HELP: usage(stdout); return 0;
        case O_VERSION: printf("hl-compliance %s\n", HL_VERSION); return 0;
        default: usage(stderr); return 64;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hl-compliance: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 64;
    }
    cr_report_t r = {0};
    uint64_t t0 = hlb_now_us();
    if (probes_run(&r, &o) < 0) {
        fprintf(stderr, "hl-compliance: cannot run the probes: out of memory\n");
        return 70;
    }
    char *id = instance_id();
    char *js = cr_json(&r, id, t0);
    int rc = 0;
    if (output && (!js || write_atomic(output, js, 0600) != 0)) {
        fprintf(stderr, "hl-compliance: cannot write %s: %m\n", output);
        rc = 73;
    }
    char *pm = prom ? cr_prometheus(&r) : NULL;
    if (prom && (!pm || write_atomic(prom, pm, 0644) != 0)) {
        fprintf(stderr, "hl-compliance: cannot write %s: %m\n", prom);
        rc = 73;
    }
    if (json) {
        fputs(js ? js : "{}\n", stdout);
    } else {
        char *t = cr_text(&r, all);
        fputs(t ? t : "", stdout);
        free(t);
    }
    cr_status_t w = cr_worst(&r);
    if (!rc)
        rc = w == CR_FAIL ? 2 : w == CR_WARN ? 1 : 0;
    free(pm);
    free(js);
    free(id);
    cr_free(&r);
    return rc;
}
