/* hl-uplink's config section (deploy/config/hl-uplink.yaml.example), read
 * through the declarative schema. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <hlbus/conf.h>

typedef struct ul_config {
    char *endpoint;       /* "" : $HL_API_ENDPOINT, else https://api.humanlayer.dev */
    char *token;          /* the secret (token_file / token_credential); NULL: none */
    char *token_file, *token_credential; /* where it came from, for the re-read */
    char *ca_file;
    bool tls_verify;
    int64_t heartbeat_interval_ms;
    int heartbeat_jitter_pct;
    int64_t backoff_base_ms, backoff_cap_ms, link_retry_ms;
    int64_t request_timeout_ms, connect_timeout_ms;
    uint64_t max_response;
    char **identity_sources;
    char *instance_id;
    char *cloud_init_path, *machine_id_path, *imds_url;
    int64_t imds_timeout_ms, identity_retry_ms;
    char *outbox_dir;
    uint64_t outbox_max;
    int batch_max;
    uint64_t batch_bytes;
    int64_t batch_linger_ms;
    char **forward;       /* topic prefixes sent upstream as events */
    char *alert_listen;   /* "127.0.0.1:9096": Alertmanager's webhook; "": none */
    int64_t status_interval_ms;
} ul_config_t;

/* SECTION may be NULL (every default). 0 or -EINVAL with DIAG filled; OUT
 * must be freed with ul_config_free either way. */
int ul_config_parse(const hlb_conf_t *section, ul_config_t *out, hlb_diag_t *diag);
void ul_config_free(ul_config_t *c);
/* The endpoint in force: the config's, else $HL_API_ENDPOINT, else the spec's. */
const char *ul_config_endpoint(const ul_config_t *c);
/* --help's list of keys (free() it). */
char *ul_config_help(void);
