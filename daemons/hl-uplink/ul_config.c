/* hl-uplink's config section: see ul_config.h. */
#include "ul_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/confschema.h>
#include <hlbus/str.h>

static const char *const sources_known[] = {"cloud-init", "imds", "machine-id", NULL};

static int check(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *d)
{
    (void)ctx;
    ul_config_t *c = obj;
    int rc = 0;
    const char *ep = c->endpoint;
    if (*ep && strncmp(ep, "https://", 8) != 0 && strncmp(ep, "http://", 7) != 0) {
        hlb_diag_add(d, hlb_conf_get(node, "endpoint") ? hlb_conf_get(node, "endpoint") : node,
                     "'endpoint' must be an http:// or https:// URL");
        rc = -EINVAL;
    }
    for (char **s = c->identity_sources; s && *s; s++) {
        bool ok = false;
        for (const char *const *k = sources_known; *k; k++)
            ok |= strcmp(*s, *k) == 0;
        if (!ok) {
            hlb_diag_add(d, hlb_conf_get(node, "identity_sources"),
                         "identity source '%s' is not one of cloud-init, imds, machine-id", *s);
            rc = -EINVAL;
        }
    }
    if (c->backoff_cap_ms < c->backoff_base_ms) {
        hlb_diag_add(d, node, "'backoff_cap' must not be below 'backoff_base'");
        rc = -EINVAL;
    }
    if (*c->alert_listen) {
        const char *colon = strrchr(c->alert_listen, ':');
        if (!colon || colon == c->alert_listen || !colon[1]) {
            hlb_diag_add(d, hlb_conf_get(node, "alert_listen"),
                         "'alert_listen' must be HOST:PORT (loopback), or \"\" for none");
            rc = -EINVAL;
        }
    }
    /* where the token came from, for the one re-read after a 401 */
    const char *tf = hlb_conf_scalar(hlb_conf_get(node, "token_file"));
    const char *tc = hlb_conf_scalar(hlb_conf_get(node, "token_credential"));
    c->token_file = tf ? strdup(tf) : NULL;
    c->token_credential = tc ? strdup(tc) : NULL;
    return rc;
}

static void cfg_free(void *obj)
{
    ul_config_t *c = obj;
    free(c->token_file);
    free(c->token_credential);
    c->token_file = c->token_credential = NULL;
}

#define T ul_config_t
static const hlb_conf_key_t keys[] = {
    HLB_KEY_STR(T, endpoint, "\"\"", 0),
    HLB_KEY_SECRET(T, token, 0),
    HLB_KEY_STR(T, ca_file, "\"\"", 0),
    HLB_KEY_BOOL(T, tls_verify, "true", 0),
    HLB_KEY("heartbeat_interval", HLB_KIND_DURATION, T, heartbeat_interval_ms, .def = "30s",
            .min = 1000, .max = 3600000),
    HLB_KEY("heartbeat_jitter", HLB_KIND_INT, T, heartbeat_jitter_pct, .def = "10", .min = 0,
            .max = 50, .help = "percent"),
    HLB_KEY("backoff_base", HLB_KIND_DURATION, T, backoff_base_ms, .def = "1s", .min = 10,
            .max = 3600000),
    HLB_KEY("backoff_cap", HLB_KIND_DURATION, T, backoff_cap_ms, .def = "60s", .min = 10,
            .max = 3600000),
    HLB_KEY("link_retry", HLB_KIND_DURATION, T, link_retry_ms, .def = "2s", .min = 0,
            .max = 60000),
    HLB_KEY("request_timeout", HLB_KIND_DURATION, T, request_timeout_ms, .def = "10s",
            .min = 100, .max = 300000),
    HLB_KEY("connect_timeout", HLB_KIND_DURATION, T, connect_timeout_ms, .def = "5s",
            .min = 100, .max = 300000),
    HLB_KEY_SIZE(T, max_response, "64K", 1024, 16 << 20, 0),
    HLB_KEY_STRV(T, identity_sources, "[cloud-init, imds, machine-id]", 3, 0),
    HLB_KEY_STR(T, instance_id, "\"\"", 0),
    HLB_KEY_STR(T, cloud_init_path, "/run/cloud-init/instance-data.json", 0),
    HLB_KEY_STR(T, machine_id_path, "/etc/machine-id", 0),
    HLB_KEY_STR(T, imds_url, "http://169.254.169.254", 0),
    HLB_KEY("imds_timeout", HLB_KIND_DURATION, T, imds_timeout_ms, .def = "1s", .min = 50,
            .max = 60000),
    HLB_KEY("identity_retry", HLB_KIND_DURATION, T, identity_retry_ms, .def = "30s",
            .min = 100, .max = 3600000),
    HLB_KEY_STR(T, outbox_dir, "/var/lib/hl/hl-uplink", HLB_KEY_RESTART),
    HLB_KEY_SIZE(T, outbox_max, "8MiB", 4096, 1ull << 32, HLB_KEY_RESTART),
    HLB_KEY_INT(T, batch_max, "100", 1, 500, 0),
    HLB_KEY_SIZE(T, batch_bytes, "256K", 4096, 16 << 20, 0),
    HLB_KEY("batch_linger", HLB_KIND_DURATION, T, batch_linger_ms, .def = "200ms", .min = 0,
            .max = 60000),
    HLB_KEY_STRV(T, forward, "[alert., failure., recovery., lifecycle.state]", 32, 0),
    HLB_KEY_STR(T, alert_listen, "127.0.0.1:9096", HLB_KEY_RESTART),
    HLB_KEY("status_interval", HLB_KIND_DURATION, T, status_interval_ms, .def = "10s",
            .min = 100, .max = 3600000),
    {0}};
#undef T

static const hlb_conf_table_t table = {
    .name = "hl-uplink", .size = sizeof(ul_config_t), .keys = keys, .check = check,
    .free = cfg_free};

int ul_config_parse(const hlb_conf_t *section, ul_config_t *out, hlb_diag_t *diag)
{
    return hlb_conf_schema_parse(&table, section, out, NULL, diag);
}

void ul_config_free(ul_config_t *c) { hlb_conf_schema_free(&table, c); }

const char *ul_config_endpoint(const ul_config_t *c)
{
    if (c->endpoint && *c->endpoint)
        return c->endpoint;
    const char *e = getenv("HL_API_ENDPOINT");
    return e && *e ? e : "https://api.humanlayer.dev";
}

char *ul_config_help(void) { return hlb_conf_schema_help(&table); }
