/* The TLS policy reader (hlbus/tlspolicy.h): the shipped tls.yml, the
 * built-in policy for a missing file, each kind of refused value with a
 * message that names the key and its file:line, the CA file (loaded, missing,
 * not PEM), and the policy applied to a real OpenSSL context and curl
 * handle. The CA is made by `openssl req` in a temporary directory. */
#include <hlbus/hlbus.h>
#include <hlbus/tlscurl.h>
#include <hlbus/tlspolicy.h>

#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char tmp[] = "/tmp/unit_tlspolicy.XXXXXX";

static hlb_tlspolicy_t *parse(const char *text, hlb_diag_t *d)
{
    return hlb_tlspolicy_parse("tls.yml", text, d);
}

/* Refused, with a message that contains each of NEEDLES. */
static void refused(const char *text, const char *n1, const char *n2)
{
    hlb_diag_t d = {0};
    hlb_tlspolicy_t *p = parse(text, &d);
    CHECK_NULL(p);
    CHECK_MSG(d.errors > 0, "no error for:\n%s", text);
    CHECK_MSG(d.text && strstr(d.text, n1), "'%s' not in: %s", n1, d.text ? d.text : "");
    if (n2)
        CHECK_MSG(d.text && strstr(d.text, n2), "'%s' not in: %s", n2, d.text ? d.text : "");
    hlb_tlspolicy_destroy(&p);
    hlb_diag_free(&d);
}

static void test_shipped(void)
{
    /* deploy/security/tls.yml as installed, its CA not provisioned here */
    hlb_diag_t d = {0};
    hlb_tlspolicy_t *p = hlb_tlspolicy_load(HL_SOURCE_DIR "/deploy/security/tls.yml", &d);
    CHECK_MSG(p != NULL, "%s", d.text ? d.text : "");
    REQUIRE(p);
    CHECK_EQ(hlb_tlspolicy_min_version(p), HLB_TLS_1_2);
    CHECK_EQ(hlb_tlspolicy_max_version(p), HLB_TLS_1_3);
    CHECK_STR(hlb_tlspolicy_ciphers(p), "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
                                        "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                        "ECDHE-ECDSA-CHACHA20-POLY1305");
    CHECK_NULL(hlb_tlspolicy_tls13_suites(p));
    CHECK_STR(hlb_tlspolicy_certificate(p), "/etc/ssl/certs/hl-server.crt");
    CHECK_STR(hlb_tlspolicy_private_key(p), "/etc/ssl/private/hl-server.key");
    if (access("/etc/ssl/certs/hl-ca.crt", F_OK) != 0) {
        CHECK_NULL(hlb_tlspolicy_ca_file(p));
        const char *w = hlb_tlspolicy_warning(p);
        CHECK_MSG(w && strstr(w, "hl-ca.crt") && strstr(w, "does not exist"), "%s", w ? w : "");
    }
    hlb_tlspolicy_destroy(&p);
    hlb_diag_free(&d);
}

static void test_missing_file(void)
{
    hlb_diag_t d = {0};
    char path[128];
    snprintf(path, sizeof path, "%s/absent.yml", tmp);
    hlb_tlspolicy_t *p = hlb_tlspolicy_load(path, &d);
    REQUIRE(p);
    CHECK_EQ(d.errors, 0);
    CHECK_NULL(hlb_tlspolicy_source(p));
    CHECK_EQ(hlb_tlspolicy_min_version(p), HLB_TLS_1_2);
    CHECK_EQ(hlb_tlspolicy_max_version(p), 0);
    CHECK_NULL(hlb_tlspolicy_ciphers(p));
    CHECK_NULL(hlb_tlspolicy_ca_file(p));
    CHECK_NULL(hlb_tlspolicy_warning(p));
    CHECK(hlb_tlspolicy_equal(p, NULL));
    hlb_tlspolicy_destroy(&p);
    CHECK_NULL(p);
    /* $HL_TLS_POLICY names the file */
    setenv("HL_TLS_POLICY", path, 1);
    CHECK_STR(hlb_tlspolicy_path(), path);
    unsetenv("HL_TLS_POLICY");
    /* the installed default: <sysconfdir>/hl/tls.yml, beside hl.yaml */
    const char *def = hlb_tlspolicy_path();
    CHECK_MSG(strlen(def) > 11 && strcmp(def + strlen(def) - 11, "/hl/tls.yml") == 0, "%s", def);
}

static void test_good(void)
{
    hlb_diag_t d = {0};
    hlb_tlspolicy_t *p = parse("tls:\n"
                               "  min_version: TLSv1.3\n"
                               "  cipher_suites:\n"
                               "    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
                               "    - TLS_DHE_RSA_WITH_AES_256_GCM_SHA384\n"
                               "    - TLS_AES_256_GCM_SHA384\n",
                               &d);
    CHECK_MSG(p != NULL, "%s", d.text ? d.text : "");
    REQUIRE(p);
    CHECK_EQ(hlb_tlspolicy_min_version(p), HLB_TLS_1_3);
    CHECK_EQ(hlb_tlspolicy_max_version(p), 0);
    CHECK_STR(hlb_tlspolicy_ciphers(p), "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384");
    CHECK_STR(hlb_tlspolicy_tls13_suites(p), "TLS_AES_256_GCM_SHA384");
    CHECK_STR(hlb_tlspolicy_source(p), "tls.yml");
    CHECK(!hlb_tlspolicy_equal(p, NULL));
    char *s = hlb_tlspolicy_describe(p);
    CHECK_MSG(s && strstr(s, "TLSv1.3-highest") && strstr(s, "3 suites"), "%s", s ? s : "");
    free(s);
    /* a reference outlives the first owner */
    hlb_tlspolicy_t *q = hlb_tlspolicy_ref(p);
    hlb_tlspolicy_destroy(&p);
    CHECK_EQ(hlb_tlspolicy_min_version(q), HLB_TLS_1_3);
    hlb_tlspolicy_destroy(&q);
    hlb_diag_free(&d);
}

static void test_refused(void)
{
    /* malformed YAML: file and line */
    refused("tls:\n  min_version: [TLSv1.2\n", "tls.yml:", NULL);
    /* a file without a tls section */
    refused("other: 1\n", "unknown key 'other'", "no 'tls' section");
    refused("tls:\n  min_versoin: TLSv1.2\n", "tls.yml:2:", "unknown key 'min_versoin'");
    /* versions: unknown, too weak, min above max */
    refused("tls:\n  min_version: TLSv9\n", "tls.yml:2:", "'min_version' must be one of");
    refused("tls:\n  min_version: TLSv1.1\n", "tls.yml:2:", "'min_version' TLSv1.1 is below");
    refused("tls:\n  max_version: TLSv1.1\n", "'max_version' TLSv1.1 is below", NULL);
    refused("tls:\n  min_version: TLSv1.3\n  max_version: TLSv1.2\n",
            "'min_version' TLSv1.3 is above 'max_version' TLSv1.2", NULL);
    /* suites: unknown, CBC, no forward secrecy, OpenSSL's spelling, not a list */
    refused("tls:\n  cipher_suites:\n    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
            "    - TLS_FOO_BAR\n",
            "tls.yml:4:", "unknown suite 'TLS_FOO_BAR'");
    refused("tls:\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256]\n",
            "'cipher_suites': TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "not an AEAD cipher");
    refused("tls:\n  cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256]\n",
            "TLS_RSA_WITH_AES_128_GCM_SHA256 is refused", "no forward secrecy");
    refused("tls:\n  cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256]\n",
            "OpenSSL's name", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    refused("tls:\n  cipher_suites: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n",
            "'cipher_suites' must be a list", NULL);
    /* paths */
    refused("tls:\n  ca_certificate: certs/ca.pem\n", "tls.yml:2:",
            "'ca_certificate' must be an absolute path");
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_ca(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
             "-subj /CN=unit-tls-ca -keyout %s/ca.key -out %s/ca.pem 2>/dev/null && "
             "echo 'not a certificate' > %s/bad.pem && chmod 000 %s/ca.key",
             tmp, tmp, tmp, tmp);
    if (run(cmd) != 0)
        check_skip("openssl req failed (no openssl?)");
    char yml[512];
    hlb_diag_t d = {0};
    snprintf(yml, sizeof yml, "tls:\n  ca_certificate: %s/ca.pem\n", tmp);
    hlb_tlspolicy_t *p = parse(yml, &d);
    CHECK_MSG(p != NULL, "%s", d.text ? d.text : "");
    REQUIRE(p);
    char want[256];
    snprintf(want, sizeof want, "%s/ca.pem", tmp);
    CHECK_STR(hlb_tlspolicy_ca_file(p), want);
    CHECK_NULL(hlb_tlspolicy_warning(p));
    /* on a context: versions, and the CA beside what is in the store; twice is fine */
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    REQUIRE(ctx);
    CHECK_EQ(hlb_tlspolicy_ssl_ctx(p, ctx, true), 0);
    CHECK_EQ(hlb_tlspolicy_ssl_ctx(p, ctx, true), 0);
    CHECK_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
    CHECK_EQ(sk_X509_OBJECT_num(objs), 1);
    SSL_CTX_free(ctx);
    /* on a curl handle */
    CURL *e = curl_easy_init();
    REQUIRE(e);
    CHECK_EQ(hlb_tlspolicy_curl(p, e, NULL), 0);
    hlb_tls_curl_opts_t o = {.min_version = HLB_TLS_1_3, .own_ca = true};
    CHECK_EQ(hlb_tlspolicy_curl(p, e, &o), 0);
    curl_easy_cleanup(e);
    hlb_tlspolicy_destroy(&p);
    hlb_diag_free(&d);

    /* a check's floor above the policy's ceiling */
    p = parse("tls:\n  max_version: TLSv1.2\n", &d);
    REQUIRE(p);
    e = curl_easy_init();
    CHECK_EQ(hlb_tlspolicy_curl(p, e, &o), -ERANGE);
    curl_easy_cleanup(e);
    hlb_tlspolicy_destroy(&p);

    /* not PEM: an error at its line; missing: a warning, no CA */
    snprintf(yml, sizeof yml, "tls:\n  min_version: TLSv1.2\n  ca_certificate: %s/bad.pem\n", tmp);
    refused(yml, "tls.yml:3:", "no PEM certificate");
    snprintf(yml, sizeof yml, "tls:\n  ca_certificate: %s/nope.pem\n", tmp);
    p = parse(yml, &d);
    REQUIRE(p);
    CHECK_NULL(hlb_tlspolicy_ca_file(p));
    CHECK_MSG(hlb_tlspolicy_warning(p) && strstr(hlb_tlspolicy_warning(p), "does not exist"),
              "%s", hlb_tlspolicy_warning(p) ? hlb_tlspolicy_warning(p) : "no warning");
    hlb_tlspolicy_destroy(&p);
    /* unreadable (not for root, who reads anything) */
    if (geteuid() != 0) {
        snprintf(yml, sizeof yml, "tls:\n  ca_certificate: %s/ca.key\n", tmp);
        refused(yml, "tls.yml:2:", "Permission denied");
    }
    hlb_diag_free(&d);
}

int main(void)
{
    if (!mkdtemp(tmp))
        return 1;
    TEST(test_shipped);
    TEST(test_missing_file);
    TEST(test_good);
    TEST(test_refused);
    TEST(test_ca);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    run(cmd);
    return check_done();
}
