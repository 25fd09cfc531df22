/* Helpers shared by the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hlctl.h"

int hlctl_usage(const char *usage)
{
    hlctl_fprintf(stderr, "Usage: hlctl %s\n", usage);
    return HLCTL_USAGE;
}

int hlctl_call(hlctl_t *ctx, const char *daemon, const char *method, hlb_map_t *args,
               Hl__Reply **reply)
{
    *reply = NULL;
    if (!hlb_name_valid(daemon)) {
        hlctl_fprintf(stderr, "hlctl: '%s' is not a daemon name\n", daemon);
        return HLCTL_USAGE;
    }
    Hl__Reply *r = NULL;
    int rc = hlb_call_map(ctx->runtime_dir, daemon, method, args, &ctx->call, &r);
    if (rc == -ECONNREFUSED) {
        hlctl_fprintf(stderr, "hlctl: %s is not running (nothing listens on %s/ctl/%s)\n", daemon,
                ctx->runtime_dir, daemon);
        return HLCTL_CRITICAL;
    }
    if (rc == -EACCES) {
        hlctl_fprintf(stderr, "hlctl: permission denied on %s/ctl/%s\n", ctx->runtime_dir, daemon);
        return HLCTL_CRITICAL;
    }
    if (rc < 0) {
        hlctl_fprintf(stderr, "hlctl: %s did not answer '%s': %s\n", daemon, method,
                rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
        return HLCTL_CRITICAL;
    }
    if (r->status != 0) {
        hlctl_fprintf(stderr, "hlctl: %s: %s\n", daemon, r->error && *r->error ? r->error : strerror(r->status));
        hl__reply__free_unpacked(r, NULL);
        return HLCTL_CRITICAL;
    }
    *reply = r;
    return HLCTL_OK;
}

void hlctl_print_json(const Hl__Reply *r)
{
    hlb_buf_t b = {0};
    hlb_json_body(&b, r->type, r->body.data, r->body.len);
    printf("%s\n", b.data ? b.data : "null"); /* JSON: already escaped */
    hlb_buf_free(&b);
}

hlb_map_t *hlctl_kv_map(int argc, char **argv)
{
    hlb_map_t *m = hlb_map_new();
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            hlctl_fprintf(stderr, "hlctl: expected KEY=VALUE, not '%s'\n", argv[i]);
            hlb_map_destroy(&m);
            return NULL;
        }
        char *key = strndup(argv[i], (size_t)(eq - argv[i]));
        const char *val = eq + 1;
        int64_t n;
        if (hlb_parse_int(val, &n) == 0)
            hlb_map_int(m, key, n);
        else if (strcmp(val, "true") == 0 || strcmp(val, "false") == 0)
            hlb_map_bool(m, key, val[0] == 't');
        else
            hlb_map_str(m, key, val);
        free(key);
    }
    return m;
}

void hlctl_format_duration(char *out, size_t n, uint64_t us)
{
    uint64_t s = us / 1000000;
    if (s >= 86400)
        snprintf(out, n, "%llud %lluh", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(out, n, "%lluh %llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(out, n, "%llum %llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
    else
        snprintf(out, n, "%llus", (unsigned long long)s);
}

void hlctl_format_ago(char *out, size_t n, uint64_t us, bool future)
{
    if (!us) {
        snprintf(out, n, "never");
        return;
    }
    uint64_t now = hlb_now_us();
    char d[32];
    if (future && us > now) {
        hlctl_format_duration(d, sizeof d, us - now);
        snprintf(out, n, "in %s", d);
        return;
    }
    hlctl_format_duration(d, sizeof d, now > us ? now - us : 0);
    snprintf(out, n, "%s ago", d);
}
