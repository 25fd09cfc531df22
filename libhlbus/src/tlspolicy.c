/* The TLS policy: see hlbus/tlspolicy.h. The file is read by the config
 * schema (confschema.h), so its errors read like hl.yaml's, with file:line. */
#include "hlbus/tlspolicy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "hlbus/buf.h"
#include "hlbus/confschema.h"
#include "hlbus/str.h"

#ifndef HL_DEFAULT_TLS_POLICY
#define HL_DEFAULT_TLS_POLICY "/etc/hl/tls.yml"
#endif

struct hlb_tlspolicy {
    int refs;
    char *source;      /* NULL: built in */
    int min_version, max_version;
    char *ciphers;     /* TLS 1.2, OpenSSL names; NULL: defaults */
    char *tls13;       /* TLS 1.3 suites; NULL: defaults */
    size_t nsuites;
    char *ca_file;     /* set only when CA was loaded */
    STACK_OF(X509) *ca;
    char *certificate, *private_key;
    char *warning;
};

/* The AEAD suites with ephemeral (EC)DH key exchange that TLS 1.2 has, by
 * IANA name, and OpenSSL's name for each. CCM_8 (a short tag) is left out. */
static const struct {
    const char *iana, *openssl;
} tls12_suites[] = {
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "ECDHE-ECDSA-AES128-CCM"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "ECDHE-ECDSA-AES256-CCM"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256"},
    {"TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384"},
    {"TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE-RSA-CHACHA20-POLY1305"},
    {"TLS_DHE_RSA_WITH_AES_128_CCM", "DHE-RSA-AES128-CCM"},
    {"TLS_DHE_RSA_WITH_AES_256_CCM", "DHE-RSA-AES256-CCM"},
};

/* TLS 1.3's suites: all AEAD with ephemeral keys; IANA and OpenSSL agree. */
static const char *const tls13_suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                           "TLS_CHACHA20_POLY1305_SHA256",
                                           "TLS_AES_128_CCM_SHA256", NULL};

/* Why a name we do not map is refused: the reason the policy forbids it when
 * the name says so, else "unknown". */
static const char *why_refused(const char *s)
{
    static const char *const weak[] = {"_CBC", "RC4", "3DES", "_DES", "NULL", "EXPORT",
                                       "_MD5", "_anon_", "CCM_8", NULL};
    if (strncmp(s, "TLS_", 4) != 0 && strncmp(s, "SSL_", 4) != 0)
        return NULL;
    for (const char *const *w = weak; *w; w++)
        if (strstr(s, *w))
            return "not an AEAD cipher";
    const char *with = strstr(s, "_WITH_");
    if (with) {
        bool ephemeral = (strncmp(s, "TLS_ECDHE_", 10) == 0 || strncmp(s, "TLS_DHE_", 8) == 0) &&
                         !strstr(s, "_PSK_");
        if (!ephemeral)
            return "no forward secrecy (key exchange not (EC)DHE)";
    }
    return NULL;
}

typedef struct {
    char *tls12, *tls13;
    size_t n;
} suites_t;

static int parse_suites(const hlb_conf_t *node, void *field, void *ctx, hlb_diag_t *d)
{
    (void)ctx;
    suites_t *out = field;
    if (hlb_conf_kind(node) != HLB_CONF_SEQ) {
        hlb_diag_add(d, node, "'cipher_suites' must be a list of IANA suite names");
        return -EINVAL;
    }
    hlb_buf_t b12 = {0}, b13 = {0};
    int rc = 0;
    for (size_t i = 0; i < hlb_conf_count(node); i++) {
        const hlb_conf_t *it = hlb_conf_at(node, i);
        const char *s = hlb_conf_scalar(it);
        if (!s) {
            hlb_diag_add(d, it, "'cipher_suites' item %zu must be a suite name", i + 1);
            rc = -EINVAL;
            continue;
        }
        const char *ossl = NULL;
        bool v13 = false;
        for (size_t k = 0; k < sizeof tls12_suites / sizeof *tls12_suites && !ossl; k++)
            if (strcmp(tls12_suites[k].iana, s) == 0)
                ossl = tls12_suites[k].openssl;
        for (size_t k = 0; tls13_suites[k] && !ossl; k++)
            if (strcmp(tls13_suites[k], s) == 0) {
                ossl = tls13_suites[k];
                v13 = true;
            }
        if (ossl) {
            hlb_buf_t *b = v13 ? &b13 : &b12;
            hlb_buf_printf(b, "%s%s", b->len ? ":" : "", ossl);
            out->n++;
            continue;
        }
        rc = -EINVAL;
        const char *why = why_refused(s);
        const char *iana = NULL;
        for (size_t k = 0; k < sizeof tls12_suites / sizeof *tls12_suites && !iana; k++)
            if (strcmp(tls12_suites[k].openssl, s) == 0)
                iana = tls12_suites[k].iana;
        if (why)
            hlb_diag_add(d, it, "'cipher_suites': %s is refused: %s", s, why);
        else if (iana)
            hlb_diag_add(d, it, "'cipher_suites': %s is OpenSSL's name; write the IANA name %s",
                         s, iana);
        else
            hlb_diag_add(d, it,
                         "'cipher_suites': unknown suite '%s' (IANA names of AEAD suites with "
                         "(EC)DHE, such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)",
                         s);
    }
    out->tls12 = hlb_buf_steal(&b12);
    out->tls13 = hlb_buf_steal(&b13);
    return rc;
}

static void free_suites(void *field)
{
    suites_t *s = field;
    free(s->tls12);
    free(s->tls13);
    memset(s, 0, sizeof *s);
}

typedef struct {
    char *certificate, *private_key, *ca_certificate;
    int min_version, max_version;
    suites_t suites;
} raw_tls_t;

typedef struct {
    raw_tls_t tls;
} raw_file_t;

static const char *const version_names[] = {"TLSv1", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3",
                                            NULL};
static const int version_values[] = {HLB_TLS_1_0, HLB_TLS_1_0, HLB_TLS_1_1, HLB_TLS_1_2,
                                     HLB_TLS_1_3};

const char *hlb_tls_version_name(int v)
{
    switch (v) {
    case HLB_TLS_1_0: return "TLSv1.0";
    case HLB_TLS_1_1: return "TLSv1.1";
    case HLB_TLS_1_2: return "TLSv1.2";
    case HLB_TLS_1_3: return "TLSv1.3";
    default: return "?";
    }
}

static int check_path(const hlb_conf_t *node, const char *key, const char *v, hlb_diag_t *d)
{
    if (!v || !*v || v[0] == '/')
        return 0;
    hlb_diag_add(d, hlb_conf_get(node, key), "'%s' must be an absolute path, not '%s'", key, v);
    return -EINVAL;
}

static int check_tls(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *d)
{
    (void)ctx;
    raw_tls_t *t = obj;
    int rc = 0;
    const hlb_conf_t *minn = hlb_conf_get(node, "min_version");
    const hlb_conf_t *maxn = hlb_conf_get(node, "max_version");
    /* spec 6.3.2: TLS 1.2 at least; a policy that asks for less is a
     * mistake to stop at, not one to apply */
    if (t->min_version && t->min_version < HLB_TLS_1_2) {
        hlb_diag_add(d, minn, "'min_version' %s is below TLSv1.2, the least the policy allows",
                     hlb_tls_version_name(t->min_version));
        rc = -EINVAL;
    }
    if (t->max_version && t->max_version < HLB_TLS_1_2) {
        hlb_diag_add(d, maxn, "'max_version' %s is below TLSv1.2, the least the policy allows",
                     hlb_tls_version_name(t->max_version));
        rc = -EINVAL;
    } else if (t->max_version && t->min_version > t->max_version) {
        hlb_diag_add(d, minn ? minn : maxn, "'min_version' %s is above 'max_version' %s",
                     hlb_tls_version_name(t->min_version), hlb_tls_version_name(t->max_version));
        rc = -EINVAL;
    }
    rc |= check_path(node, "ca_certificate", t->ca_certificate, d);
    rc |= check_path(node, "certificate", t->certificate, d);
    rc |= check_path(node, "private_key", t->private_key, d);
    return rc ? -EINVAL : 0;
}

#define T raw_tls_t
static const hlb_conf_key_t tls_keys[] = {
    HLB_KEY_STR(T, certificate, "\"\"", 0),
    HLB_KEY_STR(T, private_key, "\"\"", 0),
    HLB_KEY_STR(T, ca_certificate, "\"\"", 0),
    HLB_KEY("min_version", HLB_KIND_ENUM, T, min_version, .def = "TLSv1.2",
            .names = version_names, .values = version_values),
    HLB_KEY("max_version", HLB_KIND_ENUM, T, max_version, .names = version_names,
            .values = version_values),
    HLB_KEY_CUSTOM("cipher_suites", T, suites, parse_suites, free_suites, 0),
    {0}};
#undef T
static const hlb_conf_table_t tls_table = {
    .name = "tls", .size = sizeof(raw_tls_t), .keys = tls_keys, .check = check_tls};

static const hlb_conf_key_t file_keys[] = {
    HLB_KEY("tls", HLB_KIND_TABLE, raw_file_t, tls, .sub = &tls_table), {0}};
static const hlb_conf_table_t file_table = {
    .name = "tls.yml", .size = sizeof(raw_file_t), .keys = file_keys};

const char *hlb_tlspolicy_path(void)
{
    const char *e = getenv("HL_TLS_POLICY");
    return e && *e ? e : HL_DEFAULT_TLS_POLICY;
}

static hlb_tlspolicy_t *policy_new(void)
{
    hlb_tlspolicy_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->refs = 1;
    p->min_version = HLB_TLS_1_2;
    return p;
}

hlb_tlspolicy_t *hlb_tlspolicy_default(void) { return policy_new(); }

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

/* Every certificate of the PEM file PATH. -ENOENT when it is missing (the
 * caller decides), -EINVAL with a message in *WHY otherwise. */
static int load_ca(const char *path, STACK_OF(X509) **out, char **why)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        *why = hlb_strdupf("cannot read %s: %s", path, strerror(e));
        return e == ENOENT ? -ENOENT : -EINVAL;
    }
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x;
    while (sk && (x = PEM_read_X509(f, NULL, NULL, NULL)))
        if (!sk_X509_push(sk, x))
            X509_free(x);
    unsigned long err = ERR_peek_last_error();
    fclose(f);
    /* the loop ends at the end of the file (PEM_R_NO_START_LINE), which is
     * no error once something was read */
    bool eof = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
    ERR_clear_error();
    if (!sk || sk_X509_num(sk) == 0 || (err && !eof)) {
        *why = hlb_strdupf("%s: %s", path,
                           sk && sk_X509_num(sk) ? "a certificate in it is not valid PEM"
                                                 : "no PEM certificate in it");
        sk_X509_pop_free(sk, X509_free);
        return -EINVAL;
    }
    *out = sk;
    return 0;
}

/* Builds the policy from a parsed tls.yml (ROOT, not NULL). */
static hlb_tlspolicy_t *from_conf(const char *name, const hlb_conf_t *root, hlb_diag_t *d)
{
    hlb_diag_t local = {0};
    if (!d)
        d = &local;
    int errors = d->errors;
    const hlb_conf_t *tls = hlb_conf_get(root, "tls");
    if (!tls)
        hlb_diag_add(d, root, "no 'tls' section (a policy file that says nothing is a mistake; "
                              "remove the file for the built-in policy)");
    raw_file_t raw;
    hlb_conf_schema_parse(&file_table, root, &raw, NULL, d);
    hlb_tlspolicy_t *p = policy_new();
    if (!p)
        abort();
    if (d->errors == errors) {
        p->source = strdup(name);
        p->min_version = raw.tls.min_version;
        p->max_version = raw.tls.max_version;
        p->ciphers = dup_or_null(raw.tls.suites.tls12);
        p->tls13 = dup_or_null(raw.tls.suites.tls13);
        p->nsuites = raw.tls.suites.n;
        p->certificate = dup_or_null(raw.tls.certificate);
        p->private_key = dup_or_null(raw.tls.private_key);
        if (*raw.tls.ca_certificate) {
            char *why = NULL;
            int rc = load_ca(raw.tls.ca_certificate, &p->ca, &why);
            if (rc == -ENOENT)
                p->warning = hlb_strdupf("%s: ca_certificate %s does not exist: no CA is "
                                         "trusted beside the system store",
                                         name, raw.tls.ca_certificate);
            else if (rc < 0)
                hlb_diag_add(d, hlb_conf_get(tls, "ca_certificate"), "'ca_certificate' %s",
                             why ? why : "cannot be read");
            else
                p->ca_file = strdup(raw.tls.ca_certificate);
            free(why);
        }
    }
    /* OpenSSL itself must take what we mapped (a build without ChaCha20,
     * a suite the library lacks): found now, not at the first connection */
    if (d->errors == errors) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx || hlb_tlspolicy_ssl_ctx(p, ctx, false) < 0)
            hlb_diag_add(d, hlb_conf_get(tls, "cipher_suites") ? hlb_conf_get(tls, "cipher_suites")
                                                               : tls,
                         "OpenSSL refuses this policy (%s)", OpenSSL_version(OPENSSL_VERSION));
        SSL_CTX_free(ctx);
        ERR_clear_error();
    }
    hlb_conf_schema_free(&file_table, &raw);
    bool failed = d->errors > errors;
    hlb_diag_free(&local);
    if (failed)
        hlb_tlspolicy_destroy(&p);
    return p;
}

hlb_tlspolicy_t *hlb_tlspolicy_parse(const char *name, const char *text, hlb_diag_t *d)
{
    hlb_conf_t *root = hlb_conf_parse(name, text, d);
    if (!root)
        return NULL;
    hlb_tlspolicy_t *p = from_conf(name, root, d);
    hlb_conf_destroy(&root);
    return p;
}

hlb_tlspolicy_t *hlb_tlspolicy_load(const char *path, hlb_diag_t *d)
{
    if (!path)
        path = hlb_tlspolicy_path();
    hlb_conf_t *root = hlb_conf_load_file(path, true, d);
    if (!root)
        return errno == ENOENT ? policy_new() : NULL;
    hlb_tlspolicy_t *p = from_conf(path, root, d);
    hlb_conf_destroy(&root);
    return p;
}

hlb_tlspolicy_t *hlb_tlspolicy_ref(hlb_tlspolicy_t *p)
{
    if (p)
        p->refs++;
    return p;
}

void hlb_tlspolicy_destroy(hlb_tlspolicy_t **p_p)
{
    if (!p_p || !*p_p)
        return;
    hlb_tlspolicy_t *p = *p_p;
    *p_p = NULL;
    if (--p->refs > 0)
        return;
    free(p->source);
    free(p->ciphers);
    free(p->tls13);
    free(p->ca_file);
    sk_X509_pop_free(p->ca, X509_free);
    free(p->certificate);
    free(p->private_key);
    free(p->warning);
    free(p);
}

/* NULL stands for the built-in policy in every getter. */
static const hlb_tlspolicy_t builtin = {.min_version = HLB_TLS_1_2};
#define P(p) ((p) ? (p) : &builtin)

const char *hlb_tlspolicy_source(const hlb_tlspolicy_t *p) { return P(p)->source; }
int hlb_tlspolicy_min_version(const hlb_tlspolicy_t *p) { return P(p)->min_version; }
int hlb_tlspolicy_max_version(const hlb_tlspolicy_t *p) { return P(p)->max_version; }
const char *hlb_tlspolicy_ciphers(const hlb_tlspolicy_t *p) { return P(p)->ciphers; }
const char *hlb_tlspolicy_tls13_suites(const hlb_tlspolicy_t *p) { return P(p)->tls13; }
const char *hlb_tlspolicy_ca_file(const hlb_tlspolicy_t *p) { return P(p)->ca_file; }
const char *hlb_tlspolicy_certificate(const hlb_tlspolicy_t *p) { return P(p)->certificate; }
const char *hlb_tlspolicy_private_key(const hlb_tlspolicy_t *p) { return P(p)->private_key; }
const char *hlb_tlspolicy_warning(const hlb_tlspolicy_t *p) { return P(p)->warning; }

char *hlb_tlspolicy_describe(const hlb_tlspolicy_t *p)
{
    p = P(p);
    char suites[64];
    if (p->nsuites)
        snprintf(suites, sizeof suites, "%zu suites", p->nsuites);
    else
        snprintf(suites, sizeof suites, "OpenSSL's suites");
    return hlb_strdupf("%s (%s-%s, %s, %s%s)", p->source ? p->source : "built-in policy",
                       hlb_tls_version_name(p->min_version),
                       p->max_version ? hlb_tls_version_name(p->max_version) : "highest", suites,
                       p->ca_file ? "extra CA " : "no extra CA", p->ca_file ? p->ca_file : "");
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool ca_eq(const STACK_OF(X509) *a, const STACK_OF(X509) *b)
{
    int n = a ? sk_X509_num(a) : 0;
    if (n != (b ? sk_X509_num(b) : 0))
        return false;
    for (int i = 0; i < n; i++)
        if (X509_cmp(sk_X509_value(a, i), sk_X509_value(b, i)) != 0)
            return false;
    return true;
}

bool hlb_tlspolicy_equal(const hlb_tlspolicy_t *a, const hlb_tlspolicy_t *b)
{
    a = P(a);
    b = P(b);
    return a->min_version == b->min_version && a->max_version == b->max_version &&
           str_eq(a->ciphers, b->ciphers) && str_eq(a->tls13, b->tls13) &&
           str_eq(a->ca_file, b->ca_file) && ca_eq(a->ca, b->ca) &&
           str_eq(a->certificate, b->certificate) && str_eq(a->private_key, b->private_key);
}

int hlb_tlspolicy_add_ca(const hlb_tlspolicy_t *p, X509_STORE *store)
{
    p = P(p);
    for (int i = 0; p->ca && i < sk_X509_num(p->ca); i++) {
        if (X509_STORE_add_cert(store, sk_X509_value(p->ca, i)) == 1)
            continue;
        unsigned long e = ERR_peek_last_error();
        ERR_clear_error();
        if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE)
            return -EINVAL;
    }
    return 0;
}

int hlb_tlspolicy_ssl_ctx(const hlb_tlspolicy_t *p, SSL_CTX *ctx, bool extra_ca)
{
    p = P(p);
    if (!SSL_CTX_set_min_proto_version(ctx, p->min_version) ||
        !SSL_CTX_set_max_proto_version(ctx, p->max_version))
        return -EINVAL;
    if (p->ciphers && !SSL_CTX_set_cipher_list(ctx, p->ciphers))
        return -EINVAL;
    if (p->tls13 && !SSL_CTX_set_ciphersuites(ctx, p->tls13))
        return -EINVAL;
    if (extra_ca && hlb_tlspolicy_add_ca(p, SSL_CTX_get_cert_store(ctx)) < 0)
        return -EINVAL;
    return 0;
}
