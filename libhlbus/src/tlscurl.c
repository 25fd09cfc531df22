/* The TLS policy on a curl easy handle: see hlbus/tlscurl.h. */
#include "hlbus/tlscurl.h"

#include <errno.h>
#include <string.h>

#include <openssl/ssl.h>

/* curl calls this for each new connection's SSL_CTX, after it loaded the
 * CA bundle (or, on newer curl, before it does, into the same store): the
 * policy's CA goes in beside it. */
static CURLcode add_ca(CURL *easy, void *sslctx, void *arg)
{
    (void)easy;
    return hlb_tlspolicy_add_ca(arg, SSL_CTX_get_cert_store(sslctx)) < 0 ? CURLE_SSL_CACERT_BADFILE
                                                                          : CURLE_OK;
}

static bool curl_has_openssl(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    return v && v->ssl_version && strncmp(v->ssl_version, "OpenSSL", 7) == 0;
}

int hlb_tlspolicy_curl(hlb_tlspolicy_t *p, CURL *e, const hlb_tls_curl_opts_t *o)
{
    int minv = hlb_tlspolicy_min_version(p), maxv = hlb_tlspolicy_max_version(p);
    if (o && o->min_version > minv)
        minv = o->min_version;
    if (maxv && minv > maxv)
        return -ERANGE;
    long v = minv >= HLB_TLS_1_3 ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2;
    v |= maxv == HLB_TLS_1_2   ? CURL_SSLVERSION_MAX_TLSv1_2
         : maxv == HLB_TLS_1_3 ? CURL_SSLVERSION_MAX_TLSv1_3
                               : CURL_SSLVERSION_MAX_DEFAULT;
    if (curl_easy_setopt(e, CURLOPT_SSLVERSION, v) != CURLE_OK)
        return -ENOTSUP;
    const char *c12 = hlb_tlspolicy_ciphers(p), *c13 = hlb_tlspolicy_tls13_suites(p);
    if (c12 && curl_easy_setopt(e, CURLOPT_SSL_CIPHER_LIST, c12) != CURLE_OK)
        return -ENOTSUP;
    if (c13 && curl_easy_setopt(e, CURLOPT_TLS13_CIPHERS, c13) != CURLE_OK)
        return -ENOTSUP;
    if (!hlb_tlspolicy_ca_file(p) || (o && o->own_ca))
        return 0;
    if (!curl_has_openssl())
        return -ENOTSUP;
#if LIBCURL_VERSION_NUM >= 0x075700
    /* the cached store is shared by the multi handle's connections and may
     * be swapped in after our callback ran, dropping the CA */
    curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L);
#endif
    if (curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, add_ca) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, p) != CURLE_OK)
        return -ENOTSUP;
    return 0;
}

int hlb_tlspolicy_curl_check(hlb_tlspolicy_t *p, hlb_diag_t *d)
{
    CURL *e = curl_easy_init();
    int rc = e ? hlb_tlspolicy_curl(p, e, NULL) : -ENOMEM;
    if (e)
        curl_easy_cleanup(e);
    if (rc < 0) {
        const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
        const char *src = hlb_tlspolicy_source(p);
        hlb_diag_add(d, NULL, "%s: libcurl %s (%s) cannot apply the TLS policy%s",
                     src ? src : "built-in TLS policy", v ? v->version : "?",
                     v && v->ssl_version ? v->ssl_version : "no TLS",
                     rc == -ENOTSUP ? " (it needs libcurl with OpenSSL)" : "");
    }
    return rc;
}
