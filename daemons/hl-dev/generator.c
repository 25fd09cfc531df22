/* hl-dev-generator: a systemd generator (systemd.generator(7)) that turns
 * /etc/hl/dev-server.yaml (spec 3.4.1) into units, so that the file is the
 * one place a development server is described:
 *
 *   hl-service@NAME.service.d/50-dev-server.conf   the server's user, command,
 *                         directory and environment for hl-service-runner
 *   hl-phase-core.target.wants/hl-service@NAME.service   an optional member of
 *                         the orchestrator's core phase (spec 1.2.2: "development
 *                         server preparation"), started there in order
 *   hl-phase-core.target.wants/hl-dev-proxy.service   the proxy, when enabled
 *
 * It reads the copy `hlctl dev apply` made after validating the file
 * (/run/hl/dev-server.yaml) when there is one, so a broken edit never reaches
 * systemd, and the file itself otherwise (at boot). A file that does not
 * validate generates nothing and says why on stderr (the journal); the
 * generator never fails the boot for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hlbus/devserver.h>
#include <hlbus/str.h>

#ifndef HL_UNITDIR
#define HL_UNITDIR "/lib/systemd/system"
#endif

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        off += (size_t) n;
    }
    return close(fd) < 0 ? -errno : 0;
}

static int mkdir_p1(const char *path)
{
    return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* DIR/hl-phase-core.target.wants/UNIT -> the template or unit file (systemd
 * reads the link's name; the target's base name must match it). */
static int want(const char *dir, const char *unit, const char *file)
{
    char *wants = hlb_strdupf("%s/hl-phase-core.target.wants", dir);
    char *link = hlb_strdupf("%s/%s", wants, unit);
    char *target = hlb_strdupf("%s/%s", HL_UNITDIR, file);
    int r = !wants || !link || !target ? -ENOMEM : mkdir_p1(wants);
    if (r == 0 && symlink(target, link) < 0 && errno != EEXIST)
        r = -errno;
    free(wants);
    free(link);
    free(target);
    return r;
}

static int generate(const char *dir, const hlb_dev_config_t *c)
{
    for (size_t i = 0; i < c->n_servers; i++) {
        const hlb_dev_server_t *s = &c->servers[i];
        char *unit = hlb_dev_unit_name(s);
        char *dropdir = hlb_strdupf("%s/%s.d", dir, unit);
        char *path = hlb_strdupf("%s/50-dev-server.conf", dropdir);
        char *text = hlb_dev_unit_dropin(s, hlb_dev_file_path());
        int r = !unit || !dropdir || !path || !text ? -ENOMEM : mkdir_p1(dropdir);
        if (r == 0)
            r = write_file(path, text);
        if (r == 0)
            r = want(dir, unit, "hl-service@.service");
        if (r < 0)
            fprintf(stderr, "hl-dev-generator: %s: %s\n", unit ? unit : s->name, strerror(-r));
        free(unit);
        free(dropdir);
        free(path);
        free(text);
        if (r < 0)
            return r;
    }
    if (c->proxy_enabled) {
        int r = want(dir, "hl-dev-proxy.service", "hl-dev-proxy.service");
        if (r < 0) {
            fprintf(stderr, "hl-dev-generator: hl-dev-proxy.service: %s\n", strerror(-r));
            return r;
        }
    }
    return 0;
}

static hlb_dev_config_t *load(const char *path)
{
    hlb_diag_t d = {0};
    hlb_dev_config_t *c = hlb_dev_config_load(path, true, &d);
    if (!c)
        fprintf(stderr, "hl-dev-generator: %s is not valid; no development servers from it:\n%s",
                path, d.text ? d.text : "(no detail)\n");
    hlb_diag_free(&d);
    return c;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("Usage: hl-dev-generator NORMAL_DIR [EARLY_DIR LATE_DIR]\n"
               "A systemd generator: writes the units of the development servers of\n"
               "%s (or of its applied copy %s) into NORMAL_DIR.\n",
               hlb_dev_file_path(), hlb_dev_applied_path());
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("hl-dev-generator %s\n", HL_VERSION);
        return 0;
    }
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: hl-dev-generator NORMAL_DIR [EARLY_DIR LATE_DIR]\n");
        return 64;
    }
    const char *applied = hlb_dev_applied_path();
    hlb_dev_config_t *c = NULL;
    if (access(applied, F_OK) == 0)
        c = load(applied);
    if (!c)
        c = load(hlb_dev_file_path());
    if (!c)
        return 0; /* said why; the boot goes on without dev servers */
    int r = generate(argv[1], c);
    hlb_dev_config_destroy(&c);
    return r < 0 ? 1 : 0;
}
