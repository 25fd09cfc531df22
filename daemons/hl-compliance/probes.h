/* Running the tools the checks read (sshd -T, sudo -l, nft, auditctl,
 * openssl, systemd-analyze), all at once on one reactor, each with a
 * deadline: a hung tool still leaves a report, its check NOT_EVALUATED. */
#pragma once
#include <stdbool.h>
#include "report.h"

typedef struct probe_opts {
    const char *user;         /* whose sudo rules (hluser) */
    const char *sshd_config;  /* sshd -f FILE; NULL: the system's */
    const char *sudoers;      /* a sudoers file instead of `sudo -l -U` */
    const char *nft_file;     /* a ruleset file, loaded in a private netns */
    const char *audit_rules;  /* a rules file instead of `auditctl -l` */
    const char *tls;          /* tls.yml */
    const char *units;        /* glob of our units for systemd-analyze */
    double max_exposure;
    int timeout_ms;
} probe_opts_t;

/* Runs every probe and adds its findings to R. 0, or -errno when nothing
 * could run at all. */
int probes_run(cr_report_t *r, const probe_opts_t *o);
