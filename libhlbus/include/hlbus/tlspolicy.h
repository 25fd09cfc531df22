/* The VM's TLS policy (spec 6.3.2): /etc/hl/tls.yml, read once per
 * configure by every daemon that speaks TLS (hl-uplink, hl-health's HTTPS
 * probes, hl-logs' forwarder) and applied to each client the same way.
 *
 *   tls:
 *     min_version: TLSv1.2          # TLSv1.2 or TLSv1.3; below 1.2 is refused
 *     max_version: TLSv1.3          # absent: the highest the library has
 *     cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, ...]
 *     ca_certificate: /etc/ssl/certs/hl-ca.crt   # trusted beside the system store
 *     certificate: ...  private_key: ...          # ours, for a server
 *
 * cipher_suites are IANA names of AEAD suites with (EC)DHE key exchange
 * (TLS 1.2, mapped to OpenSSL's names), or TLS 1.3 names (then TLS 1.3 is
 * held to those; unlisted, OpenSSL's TLS 1.3 defaults apply). Absent or
 * empty: OpenSSL's default TLS 1.2 suites.
 *
 * The path is $HL_TLS_POLICY, else /etc/hl/tls.yml. A missing file is the
 * built-in policy (TLS 1.2 at least, OpenSSL's suites, no extra CA), not an
 * error; anything wrong in a file that exists is an error with file:line,
 * so that --check-config of each daemon catches it. The CA file is read
 * here too: an unreadable or empty one is an error; a missing one is a
 * warning (hlb_tlspolicy_warning) and no extra CA, as the shipped policy
 * names a CA that a VM has only once it is provisioned.
 *
 * A policy is reference counted (a curl handle's callback points at it);
 * hlb_tlspolicy_destroy drops one reference. In hltls (OpenSSL); the curl
 * side is hlbus/tlscurl.h, in hlcurlm. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

typedef struct hlb_tlspolicy hlb_tlspolicy_t;
struct ssl_ctx_st;   /* OpenSSL's SSL_CTX */
struct x509_store_st; /* OpenSSL's X509_STORE */

/* Protocol versions as on the wire (OpenSSL's TLS1_2_VERSION, ...). */
#define HLB_TLS_1_0 0x0301
#define HLB_TLS_1_1 0x0302
#define HLB_TLS_1_2 0x0303
#define HLB_TLS_1_3 0x0304

/* $HL_TLS_POLICY when set and not empty, else the installed default. */
const char *hlb_tlspolicy_path(void);
/* Reads the policy at PATH (NULL: hlb_tlspolicy_path()). NULL when the file
 * is malformed or a value is refused; every problem goes to DIAG. */
hlb_tlspolicy_t *hlb_tlspolicy_load(const char *path, hlb_diag_t *diag);
/* Parses YAML text as if read from NAME (for tests). */
hlb_tlspolicy_t *hlb_tlspolicy_parse(const char *name, const char *text, hlb_diag_t *diag);
/* The built-in policy (what a missing file means). */
hlb_tlspolicy_t *hlb_tlspolicy_default(void);
/* Another reference to P (P may be NULL). */
hlb_tlspolicy_t *hlb_tlspolicy_ref(hlb_tlspolicy_t *p);
/* Drops one reference; the last one frees. Accepts NULL, nulls *P_P. */
void hlb_tlspolicy_destroy(hlb_tlspolicy_t **p_p);

/* The file it came from; NULL for the built-in policy. */
const char *hlb_tlspolicy_source(const hlb_tlspolicy_t *p);
/* HLB_TLS_1_2 or HLB_TLS_1_3. */
int hlb_tlspolicy_min_version(const hlb_tlspolicy_t *p);
/* HLB_TLS_1_2, HLB_TLS_1_3, or 0: the highest the library has. */
int hlb_tlspolicy_max_version(const hlb_tlspolicy_t *p);
/* OpenSSL cipher lists ("ECDHE-RSA-AES256-GCM-SHA384:..."); NULL: defaults. */
const char *hlb_tlspolicy_ciphers(const hlb_tlspolicy_t *p);
const char *hlb_tlspolicy_tls13_suites(const hlb_tlspolicy_t *p);
/* The extra CA's path when one was loaded, else NULL. */
const char *hlb_tlspolicy_ca_file(const hlb_tlspolicy_t *p);
/* Our own certificate and key (servers); NULL when not set. */
const char *hlb_tlspolicy_certificate(const hlb_tlspolicy_t *p);
const char *hlb_tlspolicy_private_key(const hlb_tlspolicy_t *p);
/* What the daemon should warn about at configure (a missing CA file); NULL. */
const char *hlb_tlspolicy_warning(const hlb_tlspolicy_t *p);
/* One line for a log: "TLSv1.2-TLSv1.3, 4 suites, extra CA /etc/..."; free() it. */
char *hlb_tlspolicy_describe(const hlb_tlspolicy_t *p);
/* True when A and B would configure a client the same way (a reload that
 * changed nothing keeps connections). NULL is the built-in policy. */
bool hlb_tlspolicy_equal(const hlb_tlspolicy_t *a, const hlb_tlspolicy_t *b);
/* The versions' names: "TLSv1.2"; "?" for others. */
const char *hlb_tls_version_name(int v);

/* Applies P (NULL: the built-in policy) to an OpenSSL client or server
 * context: versions, TLS 1.2 cipher list, TLS 1.3 suites and, when
 * EXTRA_CA, the policy's CA added to CTX's store beside what is there (call
 * it after SSL_CTX_set_default_verify_paths). 0 or -EINVAL. */
int hlb_tlspolicy_ssl_ctx(const hlb_tlspolicy_t *p, struct ssl_ctx_st *ctx, bool extra_ca);
/* Adds the policy's CA certificates to STORE (none: nothing to do). 0 or
 * -EINVAL; a certificate already there is not an error. */
int hlb_tlspolicy_add_ca(const hlb_tlspolicy_t *p, struct x509_store_st *store);
