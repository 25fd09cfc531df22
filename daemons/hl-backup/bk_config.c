/* The hl-backup config section (see bk_config.h). */
#include "bk_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <hlbus/confschema.h>
#include <hlbus/strv.h>

#include "bk_manifest.h"

static const hlb_conf_key_t keys[] = {
    HLB_KEY("dir", HLB_KIND_STR, bk_cfg_t, dir, .def = "/var/backups/hl",
            .help = "the backup directory"),
    /* spec 5.4.1: state, config, the workspace and logs */
    HLB_KEY("paths", HLB_KIND_STRV, bk_cfg_t, paths,
            .def = "[/var/lib/hl, /etc/hl, /home/hluser/workspace, /var/log/hl]", .max = 256),
    HLB_KEY("exclude", HLB_KIND_STRV, bk_cfg_t, exclude,
            .def = "[/var/lib/hl/cache, /var/lib/hl/tmp]", .max = 256),
    /* 7 days of 15-minute backups */
    HLB_KEY("keep", HLB_KIND_INT, bk_cfg_t, keep, .def = "672", .min = 1, .max = 100000),
    HLB_KEY("max_age", HLB_KIND_DURATION, bk_cfg_t, max_age_ms, .def = "168h", .min = 0,
            .max = 3650LL * 24 * 3600 * 1000),
    /* a chain of one day at 15 minutes: a restore replays at most 96 archives */
    HLB_KEY("full_every", HLB_KIND_INT, bk_cfg_t, full_every, .def = "96", .min = 0, .max = 10000),
    HLB_KEY("tar", HLB_KIND_STR, bk_cfg_t, tar, .def = "/usr/bin/tar"),
    {0}};

static const hlb_conf_table_t table = {.name = "hl-backup", .size = sizeof(bk_cfg_t), .keys = keys};

int bk_cfg_parse(const hlb_conf_t *section, bk_cfg_t *c, hlb_diag_t *d)
{
    int errors = d->errors;
    hlb_conf_schema_parse(&table, section, c, NULL, d);
    char err[256];
    if (d->errors == errors && bk_cfg_check(c, err, sizeof err) < 0)
        hlb_diag_add(d, section, "hl-backup: %s", err);
    return d->errors > errors ? -EINVAL : 0;
}

int bk_cfg_check(const bk_cfg_t *c, char *err, size_t errn)
{
    if (!c->dir || !bk_path_ok(c->dir) || !strcmp(c->dir, "/")) {
        snprintf(err, errn, "dir \"%s\" must be an absolute path below /", c->dir ? c->dir : "");
        return -EINVAL;
    }
    if (!c->paths || !c->paths[0]) {
        snprintf(err, errn, "paths: nothing to back up");
        return -EINVAL;
    }
    for (char **v = c->paths; *v; v++) {
        if (!bk_path_ok(*v) || !strcmp(*v, "/")) {
            snprintf(err, errn, "paths: \"%s\" must be an absolute path below / (no . or ..)", *v);
            return -EINVAL;
        }
    }
    for (char **v = c->exclude; v && *v; v++) {
        if (!bk_path_ok(*v) || !strcmp(*v, "/")) {
            snprintf(err, errn, "exclude: \"%s\" must be an absolute path below /", *v);
            return -EINVAL;
        }
    }
    if (!c->tar || c->tar[0] != '/') {
        snprintf(err, errn, "tar must be an absolute path");
        return -EINVAL;
    }
    if (c->keep < 1) {
        snprintf(err, errn, "keep must be at least 1");
        return -EINVAL;
    }
    return 0;
}

void bk_cfg_free(bk_cfg_t *c)
{
    hlb_conf_schema_free(&table, c);
}
