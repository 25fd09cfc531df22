/* hl-git-sync's config section, through the declarative schema. */
#include "gs_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/confschema.h>
#include <hlbus/str.h>

#ifndef GS_LIBEXEC
#define GS_LIBEXEC "/usr/libexec/hl-freestyle"
#endif

static const hlb_conf_key_t keys[] = {
    HLB_KEY_STR(gs_conf_t, repo_url, "", 0),
    HLB_KEY_STR(gs_conf_t, workspace, "", HLB_KEY_RESTART),
    HLB_KEY_STR(gs_conf_t, name, "", HLB_KEY_RESTART),
    HLB_KEY_STR(gs_conf_t, branch, "", 0),
    HLB_KEY_STR(gs_conf_t, owner, "", HLB_KEY_RESTART),
    HLB_KEY_STR(gs_conf_t, git, "/usr/bin/git", 0),
    HLB_KEY_STR(gs_conf_t, askpass, GS_LIBEXEC "/hl-git-askpass", 0),
    HLB_KEY_STR(gs_conf_t, inspect, GS_LIBEXEC "/hl-git-inspect", 0),
    HLB_KEY_STR(gs_conf_t, state_dir, "", HLB_KEY_RESTART),
    /* NULL default: 0 means "not in the file", then HL_SYNC_INTERVAL or 60 s */
    HLB_KEY("interval", HLB_KIND_DURATION, gs_conf_t, interval_ms, .min = 0, .max = 86400000),
    HLB_KEY("git_timeout", HLB_KIND_DURATION, gs_conf_t, git_timeout_ms, .def = "2m", .min = 1000,
            .max = 86400000),
    HLB_KEY("fetch_timeout", HLB_KIND_DURATION, gs_conf_t, fetch_timeout_ms, .def = "10m",
            .min = 1000, .max = 86400000),
    HLB_KEY("clone_timeout", HLB_KIND_DURATION, gs_conf_t, clone_timeout_ms, .def = "2h",
            .min = 1000, .max = 604800000),
    HLB_KEY("retry_min", HLB_KIND_DURATION, gs_conf_t, retry_min_ms, .def = "5s", .min = 10,
            .max = 86400000),
    HLB_KEY("retry_max", HLB_KIND_DURATION, gs_conf_t, retry_max_ms, .def = "10m", .min = 10,
            .max = 86400000),
    HLB_KEY("busy_retry", HLB_KIND_DURATION, gs_conf_t, busy_retry_ms, .def = "2s", .min = 10,
            .max = 3600000),
    HLB_KEY("ready_timeout", HLB_KIND_DURATION, gs_conf_t, ready_timeout_ms, .def = "60s",
            .min = 0, .max = 3600000),
    HLB_KEY_STR(gs_conf_t, filter, "", HLB_KEY_RESTART),
    HLB_KEY_INT(gs_conf_t, depth, "0", 0, 1000000, HLB_KEY_RESTART),
    HLB_KEY_INT(gs_conf_t, keep_snapshots, "100", 1, 100000, 0),
    HLB_KEY("snapshot_max_age", HLB_KIND_DURATION, gs_conf_t, snapshot_max_age_ms, .def = "168h",
            .min = 60000, .max = INT64_C(31536000000)),
    HLB_KEY_BOOL(gs_conf_t, push, "false", 0),
    HLB_KEY_STR(gs_conf_t, push_branch, "hl-sync/{branch}", 0),
    HLB_KEY_BOOL(gs_conf_t, push_default_branch, "false", 0),
    HLB_KEY_STR(gs_conf_t, username, "x-access-token", 0),
    /* Paths, not the secret kind: the token rotates, so it is read again
     * before every fetch and push rather than once at configure. */
    HLB_KEY_STR(gs_conf_t, token_file, "", 0),
    HLB_KEY_STR(gs_conf_t, token_credential, "", 0),
    HLB_KEY_STR(gs_conf_t, identity_name, "HumanLayer VM", 0),
    HLB_KEY_STR(gs_conf_t, identity_email, "vm@humanlayer.dev", 0),
    {0}};

static int check(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *d)
{
    gs_conf_t *c = obj;
    int rc = 0;
    if (c->git[0] != '/') {
        hlb_diag_add(d, node, "'git' must be an absolute path, not '%s'", c->git);
        rc = -EINVAL;
    }
    if (*c->filter && strcmp(c->filter, "blob:none") && strcmp(c->filter, "tree:0") &&
        strncmp(c->filter, "blob:limit=", 11)) {
        hlb_diag_add(d, node, "'filter' must be blob:none, tree:0 or blob:limit=SIZE, not '%s'",
                     c->filter);
        rc = -EINVAL;
    }
    if (*c->token_file && *c->token_credential) {
        hlb_diag_add(d, node, "'token_file' and 'token_credential' both set: name one");
        rc = -EINVAL;
    }
    if (*c->token_file && c->token_file[0] != '/') {
        hlb_diag_add(d, node, "'token_file' must be an absolute path");
        rc = -EINVAL;
    }
    if (c->retry_max_ms < c->retry_min_ms) {
        hlb_diag_add(d, node, "'retry_max' is shorter than 'retry_min'");
        rc = -EINVAL;
    }
    if (!strstr(c->push_branch, "{branch}") && !*c->push_branch) {
        hlb_diag_add(d, node, "'push_branch' is empty");
        rc = -EINVAL;
    }
    for (const char *p = c->name; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            *p != '-' && *p != '_') {
            hlb_diag_add(d, node, "'name' may hold letters, digits, '-' and '_' only: '%s'",
                         c->name);
            rc = -EINVAL;
            break;
        }
    /* A URL with a password in it would end up in .git/config, logs and argv. */
    const char *at = strchr(c->repo_url, '@'), *scheme = strstr(c->repo_url, "://");
    if (scheme && at && at > scheme && memchr(scheme + 3, ':', (size_t)(at - scheme - 3))) {
        hlb_diag_add(d, node, "'repo_url' carries a password: put the token in token_file "
                              "or token_credential instead");
        rc = -EINVAL;
    }
    return rc;
}

static const hlb_conf_table_t table = {
    .name = "hl-git-sync", .size = sizeof(gs_conf_t), .keys = keys, .check = check};

static void set_str(char **field, const char *v)
{
    char *n = strdup(v);
    if (n) {
        free(*field);
        *field = n;
    }
}

/* The workspace's basename, made a topic word. */
static void default_name(gs_conf_t *c)
{
    const char *ws = c->workspace;
    size_t n = strlen(ws);
    while (n > 1 && ws[n - 1] == '/')
        n--;
    const char *b = ws + n;
    while (b > ws && b[-1] != '/')
        b--;
    char *name = strndup(b, (size_t)(ws + n - b));
    if (!name)
        return;
    for (char *p = name; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            *p != '-')
            *p = '_';
    free(c->name);
    c->name = *name ? name : (free(name), strdup("workspace"));
}

int gs_conf_parse(const hlb_conf_t *section, gs_conf_t *out, hlb_diag_t *diag)
{
    int rc = hlb_conf_schema_parse(&table, section, out, NULL, diag);
    const char *env;
    if (!*out->repo_url && (env = getenv("HL_REPO_URL")) && *env)
        set_str(&out->repo_url, env);
    if (!*out->workspace)
        set_str(&out->workspace, (env = getenv("HL_WORKSPACE")) && *env ? env
                                                                        : GS_DEFAULT_WORKSPACE);
    if (out->workspace[0] != '/') {
        hlb_diag_add(diag, section, "the workspace must be an absolute path, not '%s'",
                     out->workspace);
        rc = -EINVAL;
    }
    if (!out->interval_ms) {
        out->interval_ms = GS_DEFAULT_INTERVAL_MS;
        if ((env = getenv("HL_SYNC_INTERVAL")) && *env) {
            int64_t s;
            if (hlb_parse_int(env, &s) < 0 || s < 1 || s > 86400) {
                hlb_diag_add(diag, NULL, "HL_SYNC_INTERVAL must be 1-86400 seconds, not '%s'", env);
                rc = -EINVAL;
            } else {
                out->interval_ms = s * 1000;
            }
        }
    }
    if (!*out->name)
        default_name(out);
    if (!*out->state_dir) {
        env = getenv("STATE_DIRECTORY"); /* systemd's StateDirectory= */
        set_str(&out->state_dir, env && *env ? env : "/var/lib/hl/hl-git-sync");
    }
    return rc;
}

void gs_conf_free(gs_conf_t *c)
{
    hlb_conf_schema_free(&table, c);
}

char *gs_conf_push_branch(const gs_conf_t *c, const char *branch)
{
    const char *t = c->push_branch, *p = strstr(t, "{branch}");
    if (!p)
        return strdup(t);
    char *out;
    if (asprintf(&out, "%.*s%s%s", (int)(p - t), t, branch, p + 8) < 0)
        return NULL;
    return out;
}

char *gs_conf_help(void)
{
    return hlb_conf_schema_help(&table);
}
