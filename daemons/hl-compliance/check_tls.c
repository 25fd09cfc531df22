/* TLS in transit (spec 6.3.2, Lynis CRYP-7902): tls.yml's policy is one we
 * can stand behind (TLS 1.2 at least, AEAD suites with forward secrecy), and
 * the certificate it names does not lapse unseen. */
#include "checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/conf.h>

#define WARN_DAYS 30

static bool suite_ok(const char *s, const char **why)
{
    static const char *const bad[] = {"CBC", "RC4", "3DES", "DES_", "NULL", "EXPORT", "MD5", "anon", NULL};
    for (const char *const *b = bad; *b; b++)
        if (strstr(s, *b)) {
            *why = *b;
            return false;
        }
    if (strncmp(s, "TLS_AES_", 8) == 0 || strncmp(s, "TLS_CHACHA20_", 13) == 0)
        return true; /* TLS 1.3 suites: all AEAD with ephemeral keys */
    if (!strstr(s, "ECDHE") && !strstr(s, "DHE_")) {
        *why = "no forward secrecy (not (EC)DHE)";
        return false;
    }
    if (!strstr(s, "GCM") && !strstr(s, "CHACHA20")) {
        *why = "not an AEAD cipher";
        return false;
    }
    return true;
}

void check_tls_policy(cr_report_t *r, const char *path, const char *text)
{
    const char *id = "CRYP-7902";
    hlb_diag_t diag = {0};
    hlb_conf_t *c = hlb_conf_parse(path, text, &diag);
    if (!c || diag.errors) {
        cr_add(r, id, "tls.policy", CR_FAIL, "%s: %s", path, diag.text ? diag.text : "unreadable");
        hlb_diag_free(&diag);
        hlb_conf_destroy(&c);
        return;
    }
    const hlb_conf_t *t = hlb_conf_get(c, "tls");
    static const char *const keys[] = {"certificate", "private_key", "ca_certificate",
                                       "cipher_suites", "min_version", "max_version", NULL};
    if (!t) {
        cr_add(r, id, "tls.policy", CR_FAIL, "%s: no 'tls' section", path);
        goto out;
    }
    hlb_conf_check_keys(t, keys, &diag);
    if (diag.errors) {
        cr_add(r, id, "tls.policy", CR_FAIL, "%s", diag.text);
        goto out;
    }
    const char *minv = hlb_conf_scalar(hlb_conf_get(t, "min_version"));
    if (!minv || (strcmp(minv, "TLSv1.2") != 0 && strcmp(minv, "TLSv1.3") != 0))
        cr_add(r, id, "tls.min_version", CR_FAIL, "%s (expected TLSv1.2 or TLSv1.3)",
               minv ? minv : "not set");
    else
        cr_add(r, id, "tls.min_version", CR_PASS, "%s", minv);
    const char *maxv = hlb_conf_scalar(hlb_conf_get(t, "max_version"));
    if (maxv && strcmp(maxv, "TLSv1.2") != 0 && strcmp(maxv, "TLSv1.3") != 0)
        cr_add(r, id, "tls.max_version", CR_FAIL, "%s (expected TLSv1.2 or TLSv1.3)", maxv);
    const hlb_conf_t *suites = hlb_conf_get(t, "cipher_suites");
    size_t n = hlb_conf_count(suites), weak = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = hlb_conf_scalar(hlb_conf_at(suites, i));
        const char *why = NULL;
        if (!s || !suite_ok(s, &why)) {
            weak++;
            cr_add(r, id, "tls.cipher_suites", CR_FAIL, "%s: %s", s ? s : "(not a string)", why ? why : "");
        }
    }
    if (n && !weak)
        cr_add(r, id, "tls.cipher_suites", CR_PASS, "%zu suites, all AEAD with forward secrecy", n);
    else if (!n)
        cr_add(r, id, "tls.cipher_suites", CR_WARN, "none listed: the library's defaults apply");
out:
    hlb_diag_free(&diag);
    hlb_conf_destroy(&c);
}

void check_cert_expiry(cr_report_t *r, const char *cert, long long left, const char *why)
{
    char name[128];
    snprintf(name, sizeof name, "tls.certificate.expiry");
    if (left == -1)
        cr_add(r, "CRYP-7902", name, CR_NOT_EVALUATED, "%s: %s", cert, why ? why : "not read");
    else if (left <= 0)
        cr_add(r, "CRYP-7902", name, CR_FAIL, "%s has expired", cert);
    else if (left < WARN_DAYS * 86400LL)
        cr_add(r, "CRYP-7902", name, CR_WARN, "%s expires in %lld days", cert, left / 86400);
    else
        cr_add(r, "CRYP-7902", name, CR_PASS, "%s valid for %lld more days", cert, left / 86400);
}

void check_unit_exposure(cr_report_t *r, const char *unit, const char *out, double max)
{
    char name[160];
    snprintf(name, sizeof name, "unit.%s.exposure", unit);
    const char *p = out ? strstr(out, "Overall exposure level for ") : NULL;
    p = p ? strstr(p, ": ") : NULL;
    double v;
    if (!p || sscanf(p + 2, "%lf", &v) != 1) {
        cr_add(r, "HL-UNIT", name, CR_NOT_EVALUATED, "systemd-analyze security gave no score");
        return;
    }
    cr_add(r, "HL-UNIT", name, v <= max ? CR_PASS : CR_FAIL, "%.1f (at most %.1f)", v, max);
}
