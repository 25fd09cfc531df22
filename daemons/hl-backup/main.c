/* hl-backup: backups of state, config, the workspace and logs (spec 5.4.1),
 * each verified by a restore as soon as it is written; and the
 * orchestrator's shutdown archive, written by the same code. Run by
 * hl-backup.timer (every 15 minutes: the RPO), by `hlctl backup`, and by
 * hl-orchestrator at a shutdown (`create --full --reason shutdown`). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hlbus/conf.h>
#include <hlbus/strv.h>

#include "bk_config.h"
#include "bk_events.h"
#include "bk_ops.h"
#include "bk_print.h"
#include "bk_store.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: hl-backup [OPTION]... COMMAND [ID]\n"
            "Backups of /var/lib/hl, /etc/hl, the workspace and /var/log/hl into\n"
            "/var/backups/hl: full, then incremental; each with a manifest (path, size,\n"
            "mode, SHA-256 of every file) and verified by a restore before it becomes\n"
            "hl-state-latest.tar.gz.\n\n"
            "Commands:\n"
            "  create [--full] [--reason R]   a backup now (R: request, timer, shutdown)\n"
            "  list                           the backups, newest first\n"
            "  verify [ID|latest] [--quick]   the archives of ID's chain against their\n"
            "                                 manifests, then a restore into a scratch\n"
            "                                 directory checked file by file (--quick: hashes only)\n"
            "  restore ID [--to DIR] [--only PATH]\n"
            "                                 restores ID (in place, or under DIR), checked\n"
            "                                 against its manifest\n\n"
            "Options:\n"
            "  --config FILE      the config (default " HL_DEFAULT_CONFIG "), section hl-backup\n"
            "  --runtime-dir DIR  where the bus is (backup.* events; none when it is not there)\n"
            "  --json             machine-readable output\n"
            "  --dir DIR, --path P (repeatable), --exclude P (repeatable), --keep N,\n"
            "  --max-age DURATION, --full-every N, --tar PATH   override the config\n"
            "  --name ID, --prefix hl-backup-|hl-state-       (create) the backup's name\n"
            "  --wait DURATION    (create) wait that long for a run holding the lock\n"
            "  --check-config, --help, --version\n\n"
            "Exit status: 0 ok, 1 ok but files changed while read, 2 a backup or restore\n"
            "that does not verify, 3 nothing written, 66 no such backup, 75 busy (another\n"
            "run holds the lock), 64 usage, 78 config.\n");
}

int main(int argc, char **argv)
{
    /* Backups hold everyone's files: nothing of them readable by others
     * (tar's snapshot file included), whoever runs this. */
    umask(077);
    const char *config = NULL, *runtime_dir = NULL, *reason = "request", *to = NULL, *only = NULL;
    const char *name = NULL, *prefix = BK_PREFIX_BACKUP;
    const char *o_dir = NULL, *o_tar = NULL;
    char **o_paths = NULL, **o_exclude = NULL;
    int64_t o_keep = -1, o_age = -1, o_full_every = -1, wait_ms = 0;
    bool json = false, full = false, quick = false, check_only = false;
    enum { O_CONFIG = 256, O_RT, O_JSON, O_FULL, O_REASON, O_TO, O_ONLY, O_QUICK, O_DIR, O_PATH,
           O_EXCL, O_KEEP, O_AGE, O_FE, O_TAR, O_NAME, O_PREFIX, O_CHECK, O_HELP, O_VERSION, O_WAIT };
    static const struct option opts[] = {
        {"config", required_argument, 0, O_CONFIG}, {"runtime-dir", required_argument, 0, O_RT},
        {"json", no_argument, 0, O_JSON},           {"full", no_argument, 0, O_FULL},
        {"reason", required_argument, 0, O_REASON}, {"to", required_argument, 0, O_TO},
        {"only", required_argument, 0, O_ONLY},     {"quick", no_argument, 0, O_QUICK},
        {"dir", required_argument, 0, O_DIR},       {"path", required_argument, 0, O_PATH},
        {"exclude", required_argument, 0, O_EXCL},  {"keep", required_argument, 0, O_KEEP},
        {"max-age", required_argument, 0, O_AGE},   {"full-every", required_argument, 0, O_FE},
        {"tar", required_argument, 0, O_TAR},       {"name", required_argument, 0, O_NAME},
        {"prefix", required_argument, 0, O_PREFIX}, {"check-config", no_argument, 0, O_CHECK},
        {"help", no_argument, 0, O_HELP},           {"version", no_argument, 0, O_VERSION},
        {"wait", required_argument, 0, O_WAIT},
        {0, 0, 0, 0},
    };
    int c, rc = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_CONFIG: config = optarg; break;
        case O_RT: runtime_dir = optarg; break;
        case O_JSON: json = true; break;
        case O_FULL: full = true; break;
        case O_REASON: reason = optarg; break;
        case O_TO: to = optarg; break;
        case O_ONLY: only = optarg; break;
        case O_QUICK: quick = true; break;
        case O_DIR: o_dir = optarg; break;
        case O_PATH: hlb_strv_push(&o_paths, optarg); break;
        case O_EXCL: hlb_strv_push(&o_exclude, optarg); break;
        case O_KEEP:
            if (hlb_parse_int(optarg, &o_keep) < 0 || o_keep < 1) {
                fprintf(stderr, "hl-backup: --keep %s: a count of at least 1\n", optarg);
                goto usage_fail;
            }
            break;
        case O_AGE:
            if (hlb_parse_duration_ms(optarg, &o_age) < 0 || o_age < 0) {
                fprintf(stderr, "hl-backup: --max-age %s: a duration (168h, 7d is 168h)\n", optarg);
                goto usage_fail;
            }
            break;
        case O_FE:
            if (hlb_parse_int(optarg, &o_full_every) < 0 || o_full_every < 0) {
                fprintf(stderr, "hl-backup: --full-every %s: a count\n", optarg);
                goto usage_fail;
            }
            break;
        case O_TAR: o_tar = optarg; break;
        case O_WAIT:
            if (hlb_parse_duration_ms(optarg, &wait_ms) < 0 || wait_ms < 0) {
                fprintf(stderr, "hl-backup: --wait %s: a duration (60s)\n", optarg);
                goto usage_fail;
            }
            break;
        case O_NAME: name = optarg; break;
        case O_PREFIX:
            if (strcmp(optarg, BK_PREFIX_BACKUP) && strcmp(optarg, BK_PREFIX_STATE)) {
                fprintf(stderr, "hl-backup: --prefix is %s or %s\n", BK_PREFIX_BACKUP, BK_PREFIX_STATE);
                goto usage_fail;
            }
            prefix = optarg;
            break;
        case O_CHECK: check_only = true; break;
        case O_HELP: usage(stdout); rc = 0; goto out_args;
        case O_VERSION: printf("hl-backup %s\n", HL_VERSION); rc = 0; goto out_args;
        default: usage(stderr); goto usage_fail;
        }
    }
    const char *cmd = optind < argc ? argv[optind++] : NULL;
    const char *id = optind < argc ? argv[optind++] : NULL;
    if (optind < argc) {
        fprintf(stderr, "hl-backup: unexpected argument '%s'\n", argv[optind]);
        goto usage_fail;
    }
    if (!check_only && (!cmd || (strcmp(cmd, "create") && strcmp(cmd, "list") && strcmp(cmd, "verify") &&
                                 strcmp(cmd, "restore")))) {
        fprintf(stderr, "hl-backup: %s%s\n", cmd ? "unknown command " : "a command is needed",
                cmd ? cmd : " (create, list, verify, restore)");
        usage(stderr);
        goto usage_fail;
    }
    if (cmd && !strcmp(cmd, "restore") && !id) {
        fprintf(stderr, "hl-backup: restore needs a backup ID (hl-backup list)\n");
        goto usage_fail;
    }

    /* The config file when there is one; the command line over it. */
    hlb_diag_t d = {0};
    hlb_conf_t *conf = hlb_conf_load(config ? config : HL_DEFAULT_CONFIG, !config, &d);
    bk_cfg_t cfg = {0};
    if (!conf || bk_cfg_parse(hlb_conf_get(conf, "hl-backup"), &cfg, &d) < 0) {
        fprintf(stderr, "%s", d.text ? d.text : "hl-backup: the config cannot be read\n");
        hlb_diag_free(&d);
        hlb_conf_destroy(&conf);
        bk_cfg_free(&cfg);
        rc = BK_EXIT_CONFIG;
        goto out_args;
    }
    hlb_diag_free(&d);
    hlb_conf_destroy(&conf);
    if (o_dir) {
        free(cfg.dir);
        cfg.dir = strdup(o_dir);
    }
    if (o_paths) {
        hlb_strv_free(cfg.paths);
        cfg.paths = o_paths;
        o_paths = NULL;
    }
    if (o_exclude) {
        hlb_strv_free(cfg.exclude);
        cfg.exclude = o_exclude;
        o_exclude = NULL;
    }
    if (o_tar) {
        free(cfg.tar);
        cfg.tar = strdup(o_tar);
    }
    if (o_keep > 0)
        cfg.keep = o_keep;
    if (o_age >= 0)
        cfg.max_age_ms = o_age;
    if (o_full_every >= 0)
        cfg.full_every = o_full_every;
    char err[512];
    if (bk_cfg_check(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "hl-backup: %s\n", err);
        bk_cfg_free(&cfg);
        return BK_EXIT_CONFIG;
    }
    if (check_only) {
        printf("config ok\n");
        bk_cfg_free(&cfg);
        return 0;
    }

    if (!strcmp(cmd, "list")) {
        bk_list_t l;
        int r = bk_store_list(cfg.dir, &l);
        if (r < 0 && r != -2 /* ENOENT: none yet */) {
            fprintf(stderr, "hl-backup: cannot read %s: %s\n", cfg.dir, strerror(-r));
            bk_cfg_free(&cfg);
            return BK_EXIT_FAILED;
        }
        char *latest = bk_store_latest(cfg.dir);
        bk_print_list(stdout, cfg.dir, &l, latest, json);
        free(latest);
        bk_list_free(&l);
        bk_cfg_free(&cfg);
        return 0;
    }
    bk_events_t *ev = bk_events_open(runtime_dir);
    bk_result_t r;
    if (!strcmp(cmd, "create")) {
        bk_create_opts_t o = {.reason = reason, .prefix = prefix, .name = name, .full = full, .wait_ms = wait_ms,
                              .event = bk_events_publish, .arg = ev};
        rc = bk_create(&cfg, &o, &r);
    } else if (!strcmp(cmd, "verify")) {
        rc = bk_verify(&cfg, id, quick, bk_events_publish, ev, &r);
    } else {
        rc = bk_restore(&cfg, id, to, only, bk_events_publish, ev, &r);
    }
    bk_print_result(rc == BK_EXIT_OK || rc == BK_EXIT_PARTIAL || json ? stdout : stderr, &r, json);
    bk_result_free(&r);
    bk_events_close(&ev);
    bk_cfg_free(&cfg);
    return rc;

usage_fail:
    rc = BK_EXIT_USAGE;
out_args:
    /* the overrides not (yet) handed to the config */
    hlb_strv_free(o_paths);
    hlb_strv_free(o_exclude);
    return rc;
}
