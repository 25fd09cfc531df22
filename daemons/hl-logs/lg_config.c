/* hl-logs' config section, one row per key (hlbus/confschema.h). */
#include "lg_config.h"

#include <errno.h>
#include <string.h>

static const char *const layout_names[] = {"per-service", "combined", NULL};
static const char *const transport_names[] = {"tcp", "tls", NULL};

static const hlb_conf_key_t forward_keys[] = {
    HLB_KEY_STR(lg_forward_conf_t, host, "", 0),
    HLB_KEY_INT(lg_forward_conf_t, port, "6514", 1, 65535, 0),
    HLB_KEY_ENUM(lg_forward_conf_t, transport, "tls", transport_names, 0),
    HLB_KEY_STR(lg_forward_conf_t, ca_file, "", 0),
    HLB_KEY_STR(lg_forward_conf_t, server_name, "", 0),
    HLB_KEY_BOOL(lg_forward_conf_t, verify, "true", 0),
    HLB_KEY_SIZE(lg_forward_conf_t, spool_max_bytes, "256MiB", 64 * 1024, INT64_MAX,
                 HLB_KEY_RESTART),
    HLB_KEY_SIZE(lg_forward_conf_t, chunk_bytes, "4MiB", 4096, 1 << 30, HLB_KEY_RESTART),
    HLB_KEY_DURATION(lg_forward_conf_t, backoff_min_ms, "200ms", 10, 3600000, 0),
    HLB_KEY_DURATION(lg_forward_conf_t, backoff_max_ms, "30s", 10, 3600000, 0),
    HLB_KEY_DURATION(lg_forward_conf_t, confirm_ms, "1s", 0, 600000, 0),
    HLB_KEY_DURATION(lg_forward_conf_t, connect_timeout_ms, "10s", 100, 600000, 0),
    {0}};

static int forward_check(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *d)
{
    (void)ctx;
    lg_forward_conf_t *f = obj;
    if (f->backoff_min_ms > f->backoff_max_ms) {
        hlb_diag_add(d, node, "'backoff_min_ms' is above 'backoff_max_ms'");
        return -EINVAL;
    }
    if (f->chunk_bytes * 2 > f->spool_max_bytes) {
        hlb_diag_add(d, node, "'spool_max_bytes' must hold at least two chunks (chunk_bytes)");
        return -EINVAL;
    }
    return 0;
}

static const hlb_conf_table_t forward_table = {
    .name = "forward", .size = sizeof(lg_forward_conf_t), .keys = forward_keys,
    .check = forward_check};

static const hlb_conf_key_t lg_keys[] = {
    HLB_KEY_STR(lg_conf_t, dir, "/var/log/hl", HLB_KEY_RESTART),
    HLB_KEY_STR(lg_conf_t, state_dir, "/var/lib/hl/hl-logs", HLB_KEY_RESTART),
    HLB_KEY_ENUM(lg_conf_t, layout, "per-service", layout_names, HLB_KEY_RESTART),
    HLB_KEY_STR(lg_conf_t, combined_name, "daemon", HLB_KEY_RESTART),
    HLB_KEY_STRV(lg_conf_t, units,
                 "[hl-*.service, hl-service@*.service, claude-code.service]", 256,
                 HLB_KEY_RESTART),
    HLB_KEY_SIZE(lg_conf_t, max_bytes, "10MiB", 4096, INT64_MAX, 0),
    HLB_KEY_INT(lg_conf_t, backup_count, "5", 0, 1000, 0),
    HLB_KEY_BOOL(lg_conf_t, compress, "false", 0),
    HLB_KEY_SIZE(lg_conf_t, disk_cap, "1GiB", 65536, INT64_MAX, 0),
    HLB_KEY_SIZE(lg_conf_t, record_max, "64KiB", 512, 16 << 20, 0),
    HLB_KEY_INT(lg_conf_t, batch, "2000", 1, 1000000, 0),
    HLB_KEY_STR(lg_conf_t, journal_dir, "", HLB_KEY_RESTART),
    HLB_KEY_BOOL(lg_conf_t, bus, "true", HLB_KEY_RESTART),
    HLB_KEY_TABLE(lg_conf_t, forward, &forward_table, 0),
    {0}};

static int lg_check(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *d)
{
    (void)ctx;
    lg_conf_t *c = obj;
    if (c->dir[0] != '/' || c->state_dir[0] != '/') {
        hlb_diag_add(d, node, "'dir' and 'state_dir' must be absolute paths");
        return -EINVAL;
    }
    if (!c->combined_name[0] || strchr(c->combined_name, '/')) {
        hlb_diag_add(d, node, "'combined_name' must be a file name without '/'");
        return -EINVAL;
    }
    return 0;
}

const hlb_conf_table_t lg_conf_table = {
    .name = "hl-logs", .size = sizeof(lg_conf_t), .keys = lg_keys, .check = lg_check};

int lg_conf_parse(const hlb_conf_t *section, lg_conf_t *out, hlb_diag_t *diag)
{
    return hlb_conf_schema_parse(&lg_conf_table, section, out, NULL, diag);
}

void lg_conf_free(lg_conf_t *c) { hlb_conf_schema_free(&lg_conf_table, c); }
