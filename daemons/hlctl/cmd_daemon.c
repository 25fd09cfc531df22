/* hlctl ping, status, call: the methods every daemon serves, and any other. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hlctl.h"

int hlctl_cmd_ping(hlctl_t *ctx, int argc, char **argv)
{
    if (argc != 2)
        return hlctl_usage("ping DAEMON");
    uint64_t t0 = hlb_mono_us();
    Hl__Reply *r;
    int rc = hlctl_call(ctx, argv[1], "ping", NULL, &r);
    if (rc != HLCTL_OK)
        return rc;
    double ms = (double)(hlb_mono_us() - t0) / 1000.0;
    if (ctx->json)
        hlctl_printf("{\"daemon\":\"%s\",\"ok\":true,\"rtt_ms\":%.3f}\n", argv[1], ms);
    else
        hlctl_printf("%s: pong in %.3f ms\n", argv[1], ms);
    hl__reply__free_unpacked(r, NULL);
    return HLCTL_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The daemons that have a ctl socket, by name. */
static char **list_daemons(const char *runtime_dir, size_t *n)
{
    char *dir = hlb_path(runtime_dir, HLB_CTL_DIR);
    DIR *dh = dir ? opendir(dir) : NULL;
    free(dir);
    char **v = NULL;
    *n = 0;
    if (!dh)
        return NULL;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (!hlb_name_valid(de->d_name))
            continue;
        /* Under systemd ctl/<name> is a link into the daemon's own runtime
         * directory, which exists only while its unit runs (or restarts): a
         * dangling link is a daemon that is not running, as a missing
         * socket file is. */
        struct stat st;
        if (fstatat(dirfd(dh), de->d_name, &st, 0) < 0 && errno == ENOENT)
            continue;
        char **nv = realloc(v, (*n + 1) * sizeof *v);
        if (!nv)
            break;
        v = nv;
        v[(*n)++] = strdup(de->d_name);
    }
    closedir(dh);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

int hlctl_cmd_status(hlctl_t *ctx, int argc, char **argv)
{
    size_t n = 0;
    char **names = NULL;
    bool listed = argc < 2;
    if (listed) {
        names = list_daemons(ctx->runtime_dir, &n);
        if (n == 0) {
            hlctl_fprintf(stderr, "hlctl: no daemon has a ctl socket under %s/ctl (is the stack running?)\n",
                    ctx->runtime_dir);
            return HLCTL_CRITICAL;
        }
    } else {
        names = (char **)argv + 1;
        n = (size_t)argc - 1;
    }
    /* One quick attempt each: status is a survey, not a transaction. */
    hlctl_t quick = *ctx;
    quick.call.retries = 0;
    int worst = HLCTL_OK;
    if (!ctx->json)
        hlctl_printf("%-16s %-9s %-8s %-8s %-9s %s\n", "DAEMON", "STATE", "VERSION", "PID", "UPTIME",
               "STATUS");
    for (size_t i = 0; i < n; i++) {
        Hl__Reply *r = NULL;
        Hl__DaemonStatus *st = NULL;
        int rc = hlctl_call(&quick, names[i], "status", NULL, &r);
        if (rc == HLCTL_OK)
            st = (Hl__DaemonStatus *)hlb_reply_decode(r, &hl__daemon_status__descriptor);
        if (!st) {
            worst = HLCTL_CRITICAL;
            if (ctx->json)
                hlctl_printf("{\"daemon\":\"%s\",\"state\":\"unreachable\"}\n", names[i]);
            else
                hlctl_printf("%-16s %-9s\n", names[i], "down");
        } else {
            if (strcmp(st->state, "running") != 0 && worst == HLCTL_OK)
                worst = HLCTL_DEGRADED;
            if (ctx->json) {
                hlctl_print_json(r);
            } else {
                char up[32];
                hlctl_format_duration(up, sizeof up, hlb_now_us() - st->started_us);
                hlctl_printf("%-16s %-9s %-8s %-8u %-9s %s\n", st->name, st->state, st->version, st->pid,
                       up, st->status);
            }
            protobuf_c_message_free_unpacked(&st->base, NULL);
        }
        if (r)
            hl__reply__free_unpacked(r, NULL);
    }
    if (listed) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    return worst;
}

int hlctl_cmd_call(hlctl_t *ctx, int argc, char **argv)
{
    if (argc < 3)
        return hlctl_usage("call DAEMON METHOD [KEY=VALUE...]   (METHOD 'help' lists them)");
    hlb_map_t *args = NULL;
    if (argc > 3 && !(args = hlctl_kv_map(argc - 3, argv + 3)))
        return HLCTL_USAGE;
    Hl__Reply *r;
    int rc = hlctl_call(ctx, argv[1], argv[2], args, &r);
    hlb_map_destroy(&args);
    if (rc != HLCTL_OK)
        return rc;
    if (r->body.len || (r->type && *r->type))
        hlctl_print_json(r);
    else if (!ctx->json)
        hlctl_printf("ok\n");
    else
        hlctl_printf("{\"ok\":true}\n");
    hl__reply__free_unpacked(r, NULL);
    return HLCTL_OK;
}
