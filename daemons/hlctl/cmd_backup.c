/* hlctl backup list|create|verify|restore: the backups of hl-backup
 * (docs/backup.md), run here and now by the hl-backup program, as
 * `hlctl compliance` runs hl-compliance: a backup reads everyone's files and
 * a restore writes them, which needs root, not a daemon's method. The
 * periodic ones are hl-backup.timer's. hlctl's --json and --runtime-dir
 * (where backup.* events go) are passed on. */
#include "hlctl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* hl-backup beside hlctl (the same install), or in the build tree's
 * daemons/hl-backup/, else on PATH. */
static const char *program(char *buf, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, n, "%s/hl-backup", self);
            if (access(buf, X_OK) == 0)
                return buf;
            snprintf(buf, n, "%s/../hl-backup/hl-backup", self);
            if (access(buf, X_OK) == 0)
                return buf;
        }
    }
    return "hl-backup";
}

int hlctl_cmd_backup(hlctl_t *ctx, int argc, char **argv)
{
    static const char *const subs[] = {"list", "create", "verify", "restore", NULL};
    bool known = false;
    for (const char *const *s = subs; argc > 1 && *s; s++)
        known |= !strcmp(argv[1], *s);
    if (!known) {
        fprintf(stderr, "usage: hlctl backup list | create [--full] | verify [ID|latest] [--quick] |\n"
                        "       restore ID [--to DIR] [--only PATH]   (hl-backup --help: every option)\n");
        return HLCTL_USAGE;
    }
    char buf[PATH_MAX + 32];
    const char *prog = program(buf, sizeof buf);
    char **args = calloc((size_t) argc + 5, sizeof *args);
    if (!args)
        return 70;
    size_t n = 0;
    args[n++] = (char *) prog;
    if (ctx->json)
        args[n++] = (char *) "--json";
    char *rt = NULL;
    if (ctx->runtime_dir && asprintf(&rt, "--runtime-dir=%s", ctx->runtime_dir) >= 0)
        args[n++] = rt;
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    fflush(stdout);
    execvp(prog, args);
    fprintf(stderr, "hlctl: cannot run %s: %s\n", prog, strerror(errno));
    free(rt);
    free(args);
    return errno == ENOENT ? 127 : 126;
}
