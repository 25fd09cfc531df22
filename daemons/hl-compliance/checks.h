/* The checks: each reads what a tool printed (or a file) and adds findings.
 * They run no programs themselves (probes.c does), so tests feed them
 * fixtures and the mutation test feeds them broken variants. */
#pragma once
#include <stdbool.h>
#include "report.h"

/* `sshd -T` output: the effective configuration, drop-ins applied (SSH-7408
 * and the spec's 6.1.1 settings, weak algorithms). */
void check_sshd_effective(cr_report_t *r, const char *sshd_T);
/* Sudoers rules, as `sudo -l -U USER` lists them or as a sudoers file's text:
 * no rule granting ALL, no wildcard in a command, no !authenticate of ALL
 * (AUTH-9252 and the spec's hole: `*` matches spaces and more arguments). */
void check_sudo_rules(cr_report_t *r, const char *user, const char *rules);
/* `nft list ruleset` output: our table, an input policy of drop, nothing
 * accepted from anywhere but SSH (FIRE-4540, FIRE-4590). */
void check_nft_ruleset(cr_report_t *r, const char *ruleset);
/* Audit rules, as `auditctl -l` prints them or as a rules file: the keys we
 * ship are present, no watch of a path that cannot exist, no glob in
 * -F path= (ACCT-9630). LIVE: read from the kernel (auditctl -l). */
void check_audit_rules(cr_report_t *r, const char *rules, bool live);
/* tls.yml (spec 6.3.2) as text: minimum version, cipher suites, and the
 * certificate's expiry given as seconds left (-1: not read) (CRYP-7902). */
void check_tls_policy(cr_report_t *r, const char *path, const char *yaml_text);
void check_cert_expiry(cr_report_t *r, const char *cert, long long seconds_left, const char *why);
/* `systemd-analyze security UNIT` output: its overall exposure (HL-UNIT). */
void check_unit_exposure(cr_report_t *r, const char *unit, const char *analyze_out,
                         double max_exposure);
