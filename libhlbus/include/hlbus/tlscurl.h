/* The TLS policy (hlbus/tlspolicy.h) on a libcurl easy handle, for the
 * daemons that speak HTTPS through hlcurlm (hl-uplink, hl-health's probes).
 * In hlcurlm. libcurl must use OpenSSL (libcurl4-openssl-dev): the extra CA
 * is added to the connection's X509_STORE from CURLOPT_SSL_CTX_FUNCTION,
 * beside the system bundle curl loaded, which no other backend allows. */
#pragma once
#include <stdbool.h>

#include <curl/curl.h>

#include "tlspolicy.h"

typedef struct hlb_tls_curl_opts {
    /* A floor of the caller's own (a check's min_version, HLB_TLS_1_3):
     * the higher of it and the policy's applies. 0: the policy's. */
    int min_version;
    /* The caller set CURLOPT_CAINFO: that file is the whole trust (it
     * replaces the system bundle), so the policy's CA is not added. */
    bool own_ca;
} hlb_tls_curl_opts_t;

/* Sets EASY's CURLOPT_SSLVERSION (min|max), CURLOPT_SSL_CIPHER_LIST,
 * CURLOPT_TLS13_CIPHERS and, when the policy has a CA and not OPTS->own_ca,
 * the callback that adds it (with curl's CA cache off for this handle, so
 * that the store the CA goes into is the connection's own, not one shared
 * and replaced). P (NULL: the built-in policy) must outlive EASY: take a
 * reference (hlb_tlspolicy_ref) for the handle's life. OPTS may be NULL.
 * 0; -ERANGE when OPTS->min_version is above the policy's max_version;
 * -ENOTSUP when this libcurl cannot (not OpenSSL, too old). */
int hlb_tlspolicy_curl(hlb_tlspolicy_t *p, CURL *easy, const hlb_tls_curl_opts_t *opts);
/* Tries P on a scratch handle, for configure: a libcurl that cannot apply
 * it is reported to DIAG (naming the policy's file) now, not at the first
 * request. 0 or -ENOTSUP. */
int hlb_tlspolicy_curl_check(hlb_tlspolicy_t *p, hlb_diag_t *diag);
