/* libFuzzer target: the YAML configuration parser and its typed getters.
 *
 * The input is YAML text. Up to its first NUL byte it is parsed with
 * hlb_conf_parse; when a NUL is present, the part after it is also written as
 * a drop-in (hl.d/50-fuzz.yaml) beside the first part as hl.yaml, and the
 * pair is loaded with hlb_conf_load, which merges them. On every tree, every
 * node is visited and every typed getter is called at every path. Oracles:
 * a NULL result comes with at least one diagnostic, every diagnostic line
 * names the file, and getters never report success with a wrong value.
 */
#include <errno.h>
#include <fcntl.h>
#include <hlbus/hlbus.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"

static char *g_dir, *g_main, *g_dropin;

static void cleanup(void)
{
    if (g_dir) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", g_dir) >= 0 && system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", g_dir);
        free(cmd);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_dir = fuzz_tmpdir();
    if (asprintf(&g_main, "%s/hl.yaml", g_dir) < 0 ||
        asprintf(&g_dropin, "%s/hl.d/50-fuzz.yaml", g_dir) < 0)
        abort();
    char *d = NULL;
    if (asprintf(&d, "%s/hl.d", g_dir) < 0 || mkdir(d, 0755) < 0)
        abort();
    free(d);
    atexit(cleanup);
    return 0;
}

/* The prefix every diagnostic line must start with: the name given to
 * hlb_conf_parse, or the directory of the files given to hlb_conf_load. */
static const char *g_prefix;

/* Every line of a diagnostic names a file read. */
static void check_diag(const hlb_diag_t *d)
{
    if (!d->text)
        return;
    size_t fl = strlen(g_prefix);
    for (const char *line = d->text; *line;) {
        const char *nl = strchr(line, '\n');
        if (!nl || strncmp(line, g_prefix, fl) != 0) {
            fprintf(stderr, "diagnostic without its file: %s\n", line);
            abort();
        }
        line = nl + 1;
    }
}

static void getters(const hlb_conf_t *root, const char *path)
{
    hlb_diag_t d = {0};
    const char *s;
    int64_t i;
    double x;
    bool b;
    const hlb_conf_t *n = hlb_conf_get(root, path);
    if (!n)
        abort(); /* the path was built from the tree */
    if (hlb_conf_str(root, path, "def", &s, &d) == 0 && !s)
        abort();
    if (hlb_conf_int(root, path, 7, -100, 1000000, &i, &d) == 0 && (i < -100 || i > 1000000))
        abort();
    if (hlb_conf_double(root, path, 0.5, -1e9, 1e9, &x, &d) == 0 && !(x >= -1e9 && x <= 1e9))
        abort();
    (void)hlb_conf_bool(root, path, false, &b, &d);
    if (hlb_conf_duration_ms(root, path, 10, 0, 86400000, &i, &d) == 0 &&
        (i < 0 || i > 86400000))
        abort();
    if (hlb_conf_kind(n) == HLB_CONF_MAP) {
        static const char *const allowed[] = {"a", "interval", "checks", NULL};
        (void)hlb_conf_check_keys(n, allowed, &d);
    }
    const char *v = hlb_conf_scalar(n);
    if (v) {
        int64_t o;
        (void)hlb_parse_int(v, &o);
        if (hlb_parse_duration_ms(v, &o) == 0 && o < 0)
            abort();
    }
    check_diag(&d);
    hlb_diag_free(&d);
}

/* Visits every node; PATH is the dotted path of NODE from the root (empty
 * for the root), or NULL when a key holds a dot and no path can reach it. */
static void walk(const hlb_conf_t *root, const hlb_conf_t *node, const char *path, int depth)
{
    if (depth > 100)
        abort(); /* the parser bounds nesting */
    if (hlb_conf_line(node) < 0)
        abort();
    size_t n = hlb_conf_count(node);
    if (path && *path)
        getters(root, path);
    for (size_t i = 0; i < n; i++) {
        const hlb_conf_t *kid = hlb_conf_at(node, i);
        if (!kid)
            abort();
        const char *key = hlb_conf_key(kid);
        if (hlb_conf_kind(node) == HLB_CONF_MAP && !key)
            abort(); /* map entries have keys */
        char *kp = NULL;
        if (path && key && *key && !strchr(key, '.') && hlb_conf_kind(node) == HLB_CONF_MAP &&
            asprintf(&kp, "%s%s%s", path, *path ? "." : "", key) < 0)
            abort();
        walk(root, kid, kp, depth + 1);
        free(kp);
    }
    if (hlb_conf_at(node, n))
        abort();
}

static void check_tree(hlb_conf_t *c, hlb_diag_t *d)
{
    check_diag(d);
    if (!c && d->errors == 0) {
        fprintf(stderr, "config refused without a diagnostic\n");
        abort();
    }
    if (c) {
        if (hlb_conf_kind(c) != HLB_CONF_MAP)
            abort(); /* the top level is a map */
        walk(c, c, "", 0);
    }
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    hlb_diag_t d = {0};
    g_prefix = "fuzz.yaml:";
    hlb_conf_t *c = hlb_conf_parse("fuzz.yaml", text, &d);
    check_tree(c, &d);
    hlb_conf_destroy(&c);
    hlb_diag_free(&d);

    const uint8_t *nul = memchr(data, 0, size);
    if (nul) {
        size_t a = (size_t)(nul - data);
        write_file(g_main, data, a);
        write_file(g_dropin, nul + 1, size - a - 1);
        g_prefix = g_dir;
        c = hlb_conf_load(g_main, false, &d);
        check_tree(c, &d);
        hlb_conf_destroy(&c);
        hlb_diag_free(&d);
    }
    free(text);
    return 0;
}
