/* hl-dev-proxy-config: writes nginx's configuration for the development
 * proxy from dev-server.yaml's routes, has nginx itself check it (nginx -t)
 * and only then puts it in place (a rename), so that a bad change never
 * replaces a working proxy. hl-dev-proxy.service runs it before it starts
 * nginx and before each reload (then SIGHUP: nginx's graceful reload, which
 * keeps open connections, WebSockets too, on the old workers).
 *
 *   hl-dev-proxy-config [--check] OUTPUT
 *
 * Exit codes: 0 written (or, with --check, valid); 64 usage; 78 (EX_CONFIG,
 * which the unit does not retry) an invalid file, a disabled proxy, or a
 * configuration nginx refuses (its words are printed). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hlbus/devserver.h>
#include <hlbus/str.h>

enum { EX_USAGE_ = 64, EX_CONFIG_ = 78, EX_SOFTWARE_ = 70 };

static int write_all(int fd, const char *text)
{
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        off += (size_t) n;
    }
    return 0;
}

/* nginx -t on PATH; its output goes where ours does (the journal). */
static int nginx_test(const char *path)
{
    const char *nginx = getenv("HL_NGINX");
    if (!nginx || !*nginx)
        nginx = "/usr/sbin/nginx";
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        const char *const argv[] = {nginx, "-t", "-q", "-e", "stderr", "-c", path, NULL};
        execv(nginx, (char *const *) argv); /* execv does not write to them */
        fprintf(stderr, "hl-dev-proxy-config: cannot run %s: %s\n", nginx, strerror(errno));
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 127 ? -ENOENT : -EINVAL;
}

int main(int argc, char **argv)
{
    bool check = false;
    int i = 1;
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("Usage: hl-dev-proxy-config [--check] OUTPUT\n"
               "Writes nginx's configuration for the development proxy of %s\n"
               "(or of its applied copy %s) to OUTPUT, after `nginx -t` accepted it.\n"
               "--check: only validate (the file, then nginx -t on a temporary copy).\n",
               hlb_dev_file_path(), hlb_dev_applied_path());
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("hl-dev-proxy-config %s\n", HL_VERSION);
        return 0;
    }
    if (i < argc && !strcmp(argv[i], "--check")) {
        check = true;
        i++;
    }
    if (argc - i != 1 || argv[i][0] != '/') {
        fprintf(stderr, "usage: hl-dev-proxy-config [--check] /ABSOLUTE/OUTPUT\n");
        return EX_USAGE_;
    }
    const char *out = argv[i];
    const char *path = hlb_dev_effective_path();
    hlb_diag_t d = {0};
    hlb_dev_config_t *c = hlb_dev_config_load(path, true, &d);
    if (!c) {
        fprintf(stderr, "hl-dev-proxy-config: %s is not valid:\n%s", path,
                d.text ? d.text : "(no detail)\n");
        hlb_diag_free(&d);
        return EX_CONFIG_;
    }
    hlb_diag_free(&d);
    if (!c->proxy_enabled) {
        fprintf(stderr, "hl-dev-proxy-config: %s: the proxy is not enabled "
                        "(development.proxy.enabled)\n", path);
        hlb_dev_config_destroy(&c);
        return EX_CONFIG_;
    }
    char *copy = strdup(out);
    char *dir = copy ? strdup(dirname(copy)) : NULL;
    char *text = dir ? hlb_dev_nginx_conf(c, dir) : NULL;
    char *tmp = hlb_strdupf("%s.new", out);
    hlb_dev_config_destroy(&c);
    int rc = 0;
    if (!text || !tmp) {
        fprintf(stderr, "hl-dev-proxy-config: out of memory\n");
        rc = EX_SOFTWARE_;
        goto done;
    }
    (void) unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0 || write_all(fd, text) < 0 || fsync(fd) < 0) {
        fprintf(stderr, "hl-dev-proxy-config: cannot write %s: %s\n", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        (void) unlink(tmp);
        rc = EX_SOFTWARE_;
        goto done;
    }
    close(fd);
    int r = nginx_test(tmp);
    if (r < 0) {
        fprintf(stderr, "hl-dev-proxy-config: %s: nginx refused the configuration (above); "
                        "the running one is unchanged\n", path);
        (void) unlink(tmp);
        rc = r == -ENOENT ? EX_SOFTWARE_ : EX_CONFIG_;
        goto done;
    }
    if (check) {
        (void) unlink(tmp);
        goto done;
    }
    if (rename(tmp, out) < 0) {
        fprintf(stderr, "hl-dev-proxy-config: cannot rename %s to %s: %s\n", tmp, out,
                strerror(errno));
        (void) unlink(tmp);
        rc = EX_SOFTWARE_;
    }
done:
    free(copy);
    free(dir);
    free(text);
    free(tmp);
    return rc;
}
