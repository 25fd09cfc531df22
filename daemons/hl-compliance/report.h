/* The compliance report (spec 6.4.2): a list of findings, each a check with
 * a status and its details, printed as the spec's JSON or as text. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CR_PASS,
    CR_WARN,
    CR_FAIL,
    /* The check could not be run (a tool missing, no privilege, the service
     * never configured): said, with the reason, never skipped silently. */
    CR_NOT_EVALUATED,
} cr_status_t;

typedef struct cr_finding {
    char *id;     /* the Lynis test it covers ("SSH-7408"), or ours ("HL-UNIT") */
    char *name;   /* "ssh.PermitRootLogin" */
    cr_status_t status;
    char *detail; /* what was found and what was expected */
    uint64_t ts_us;
} cr_finding_t;

typedef struct cr_report {
    cr_finding_t *v;
    size_t n, cap;
    /* The certificate's notAfter (unixtime), when it was read: exported so
     * that an alert fires before it lapses, between the daily reports. */
    char *cert_path;
    long long cert_not_after;
} cr_report_t;

const char *cr_status_name(cr_status_t s);
void cr_add(cr_report_t *r, const char *id, const char *name, cr_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void cr_free(cr_report_t *r);
/* Counts per status; the worst status found (PASS when empty). */
size_t cr_count(const cr_report_t *r, cr_status_t st);
cr_status_t cr_worst(const cr_report_t *r);
/* The first finding named NAME, or NULL. */
const cr_finding_t *cr_find(const cr_report_t *r, const char *name);
/* The spec's JSON shape: timestamp, instance_id, compliance_checks[] of
 * {name, id, status, details: {detail}, timestamp}, plus a summary. */
char *cr_json(const cr_report_t *r, const char *instance_id, uint64_t ts_us);
char *cr_text(const cr_report_t *r, bool all);
/* Records the certificate's notAfter (unixtime) for cr_prometheus. */
void cr_set_cert_expiry(cr_report_t *r, const char *path, long long not_after);
/* Prometheus text: hl_compliance_check_status{check,id} 0 pass 1 warn 2 fail
 * 3 not evaluated, and hl_tls_certificate_expiry_timestamp_seconds{path}
 * when the certificate was read. */
char *cr_prometheus(const cr_report_t *r);
