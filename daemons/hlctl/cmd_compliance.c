/* hlctl compliance: the compliance report (hl-compliance, spec 6.4.2), run
 * here and now. It is a program of its own rather than a daemon's method
 * because its checks need root (sshd's host keys, another user's sudo
 * rules, the firewall, the audit rules): run as another user, those checks
 * say NOT_EVALUATED and why. The daily report of hl-compliance.timer is in
 * /var/lib/hl/compliance/report.json. */
#include "hlctl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* hl-compliance beside hlctl (the same install), or in the build tree's
 * daemons/hl-compliance/, else on PATH. */
static const char *program(char *buf, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, n, "%s/hl-compliance", self);
            if (access(buf, X_OK) == 0)
                return buf;
            snprintf(buf, n, "%s/../hl-compliance/hl-compliance", self);
            if (access(buf, X_OK) == 0)
                return buf;
        }
    }
    return "hl-compliance";
}

int hlctl_cmd_compliance(hlctl_t *ctx, int argc, char **argv)
{
    char buf[PATH_MAX + 32];
    const char *prog = program(buf, sizeof buf);
    /* hlctl's --json becomes the program's; every other argument is its own
     * (--all, --user, --tls FILE ...; hl-compliance --help lists them). */
    char **args = calloc((size_t) argc + 3, sizeof *args);
    if (!args)
        return 70;
    size_t n = 0;
    args[n++] = (char *) prog;
    if (ctx->json)
        args[n++] = (char *) "--json";
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    fflush(stdout);
    execvp(prog, args);
    fprintf(stderr, "hlctl: cannot run %s: %s\n", prog, strerror(errno));
    free(args);
    return errno == ENOENT ? 127 : 126;
}
