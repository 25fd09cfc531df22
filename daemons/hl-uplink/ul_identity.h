/* Who this instance is: its id and region, from (in the configured order)
 * cloud-init's instance data, an EC2-style metadata service with an IMDSv2
 * session token, or /etc/machine-id. Which source answered is reported
 * (uplink.status, the registration's identity_source). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "ul_http.h"

typedef struct ul_identity {
    char *instance_id;
    char *region;       /* "" when the source has none */
    const char *source; /* cloud-init, imds, machine-id, config */
} ul_identity_t;

void ul_identity_clear(ul_identity_t *id);
/* An instance id the API takes: 1-128 of [A-Za-z0-9._:-]. */
bool ul_identity_valid_id(const char *s);
/* From cloud-init's instance-data.json (v1.instance_id, v1.region). 0, or
 * -errno with *ERR. */
int ul_identity_cloud_init(const char *path, ul_identity_t *out, char **err);
/* From a machine-id file (32 hex digits). */
int ul_identity_machine_id(const char *path, ul_identity_t *out, char **err);

/* From an EC2-style metadata service at BASE (http://169.254.169.254): PUT
 * /latest/api/token for an IMDSv2 session token, then instance-id and
 * placement/region with it. FN runs once, from the loop. */
typedef void(ul_identity_fn)(int rc, ul_identity_t *id, const char *err, void *arg);
typedef struct ul_imds ul_imds_t;
ul_imds_t *ul_identity_imds(ul_http_t *h, const char *base, int64_t timeout_ms,
                            ul_identity_fn *fn, void *arg);
void ul_imds_cancel(ul_imds_t **q_p);
