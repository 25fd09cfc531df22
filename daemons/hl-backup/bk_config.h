/* hl-backup's configuration: the hl-backup section of the config file
 * (deploy/config/hl-backup.yaml.example), each key overridable on the
 * command line (the orchestrator's shutdown archive passes its own). */
#pragma once
#include <stdint.h>
#include <hlbus/conf.h>

typedef struct bk_cfg {
    char *dir;          /* the backup directory */
    char **paths;       /* what is backed up */
    char **exclude;     /* paths left out, with all below them */
    int64_t keep;       /* at most this many backups (good or legacy) */
    int64_t max_age_ms; /* and none older (0: no limit) */
    int64_t full_every; /* a full backup after this many incrementals */
    char *tar;          /* GNU tar */
} bk_cfg_t;

/* Parses SECTION (the hl-backup map, or NULL for the defaults) into C.
 * 0, or -EINVAL with the errors in D. */
int bk_cfg_parse(const hlb_conf_t *section, bk_cfg_t *c, hlb_diag_t *d);
/* Checks C after command-line overrides: absolute paths, no "/" itself.
 * 0, or -EINVAL with the reason in ERR. */
int bk_cfg_check(const bk_cfg_t *c, char *err, size_t errn);
void bk_cfg_free(bk_cfg_t *c);
