/* hl-service-runner: the ExecStart of hl-service@NAME.service (spec 2.1.2).
 *
 * systemd has already loaded /etc/hl/services/NAME.env into the environment
 * (EnvironmentFile=); this program checks it and replaces itself with the
 * service's command, so that the command is the unit's main process: its
 * signals, exit status, watchdog and restarts are systemd's business.
 *
 *   HL_SERVICE_COMMAND    required: a command line, split into words as the
 *                         shell would (quotes, $VARIABLES from the
 *                         environment) but run without a shell, so that the
 *                         program itself is the main process. Pipes,
 *                         redirections and command substitution are refused;
 *                         write  sh -c '...'  when a shell is what you want.
 *   HL_SERVICE_DIRECTORY  optional: the working directory
 *   HL_SERVICE_NAME       set by the unit to NAME; must match if present
 *
 * Exit codes: 64 usage; 78 (EX_CONFIG, which the unit does not retry) for a
 * missing or malformed description; 126/127 as a shell would when the
 * program cannot be run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wordexp.h>

enum { EX_USAGE_ = 64, EX_CONFIG_ = 78, EX_NOEXEC_ = 126, EX_NOTFOUND_ = 127 };

static const char *wordexp_error(int rc)
{
    switch (rc) {
    case WRDE_BADCHAR: return "shell syntax (| & ; < > ( ) { } or a newline): use sh -c '...'";
    case WRDE_CMDSUB: return "command substitution is not run: use sh -c '...'";
    case WRDE_SYNTAX: return "unbalanced quotes or a syntax error";
    case WRDE_NOSPACE: return "out of memory";
    default: return "cannot be split into words";
    }
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: hl-service-runner NAME\n"
               "Runs $HL_SERVICE_COMMAND (split like a shell would, without a shell) in\n"
               "$HL_SERVICE_DIRECTORY, as described by /etc/hl/services/NAME.env, which\n"
               "hl-service@NAME.service loads.\n");
        return 0;
    }
    if (argc != 2 || !*argv[1]) {
        fprintf(stderr, "usage: hl-service-runner NAME\n");
        return EX_USAGE_;
    }
    const char *name = argv[1];
    const char *unit_name = getenv("HL_SERVICE_NAME");
    if (unit_name && strcmp(unit_name, name) != 0) {
        fprintf(stderr, "hl-service-runner: HL_SERVICE_NAME is '%s', not '%s'\n", unit_name, name);
        return EX_CONFIG_;
    }
    const char *cmd = getenv("HL_SERVICE_COMMAND");
    if (!cmd || !*cmd) {
        fprintf(stderr,
                "hl-service-runner: %s: HL_SERVICE_COMMAND is not set "
                "(in /etc/hl/services/%s.env)\n",
                name, name);
        return EX_CONFIG_;
    }
    wordexp_t w;
    int rc = wordexp(cmd, &w, WRDE_NOCMD);
    if (rc != 0) {
        fprintf(stderr, "hl-service-runner: %s: HL_SERVICE_COMMAND: %s\n", name, wordexp_error(rc));
        if (rc == WRDE_NOSPACE)
            wordfree(&w);
        return EX_CONFIG_;
    }
    if (w.we_wordc == 0) {
        fprintf(stderr, "hl-service-runner: %s: HL_SERVICE_COMMAND has no words\n", name);
        wordfree(&w);
        return EX_CONFIG_;
    }
    const char *dir = getenv("HL_SERVICE_DIRECTORY");
    if (dir && *dir && chdir(dir) < 0) {
        fprintf(stderr, "hl-service-runner: %s: cannot enter HL_SERVICE_DIRECTORY %s: %s\n", name,
                dir, strerror(errno));
        wordfree(&w);
        return EX_CONFIG_;
    }
    fflush(NULL);
    execvp(w.we_wordv[0], w.we_wordv);
    int e = errno;
    fprintf(stderr, "hl-service-runner: %s: cannot run %s: %s\n", name, w.we_wordv[0], strerror(e));
    wordfree(&w);
    return e == ENOENT ? EX_NOTFOUND_ : EX_NOEXEC_;
}
