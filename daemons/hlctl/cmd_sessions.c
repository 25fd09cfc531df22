/* hlctl sessions: hl-stdio's session recordings (asciicast v2 files of the
 * terminal channels, daemons/hl-stdio/rec.h): list them, replay one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cast.h"
#include "hlctl.h"

#define DEFAULT_DIR "/var/log/hl/sessions"

static const char sessions_usage[] =
    "sessions [--dir DIR] | sessions play NAME|PATH [--cat] [--speed X] [--idle-max S] [--dir DIR]\n"
    "  Lists hl-stdio's session recordings (asciicast v2, oldest first: name, size,\n"
    "  terminal size, duration), or replays one on this terminal: its output with\n"
    "  its timing (--speed 2: twice as fast; pauses longer than --idle-max, default\n"
    "  2 s, are cut short), or all at once with --cat. `asciinema play PATH` plays\n"
    "  them too. DIR defaults to " DEFAULT_DIR ".";

typedef struct rec_info {
    char *name;
    off_t bytes;
    time_t mtime;
    unsigned width, height;
    double duration;
} rec_info_t;

/* The time of the last event (from the file's tail). */
static double last_time(int fd, off_t size)
{
    char buf[65536];
    off_t from = size > (off_t)sizeof buf ? size - (off_t)sizeof buf : 0;
    ssize_t n = pread(fd, buf, sizeof buf, from);
    if (n <= 0)
        return 0;
    size_t end = (size_t)n;
    while (end && buf[end - 1] == '\n')
        end--;
    size_t start = end;
    while (start && buf[start - 1] != '\n')
        start--;
    cast_event_t ev;
    if (cast_event(buf + start, end - start, &ev) < 0)
        return 0;
    cast_event_free(&ev);
    return ev.t;
}

static bool rec_read(int dfd, const char *name, rec_info_t *ri)
{
    memset(ri, 0, sizeof *ri);
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    struct stat st;
    char head[4096];
    ssize_t n;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (n = pread(fd, head, sizeof head, 0)) <= 0) {
        close(fd);
        return false;
    }
    char *nl = memchr(head, '\n', (size_t)n);
    if (!nl || !cast_header(head, (size_t)(nl - head), &ri->width, &ri->height)) {
        close(fd);
        return false;
    }
    ri->bytes = st.st_size;
    ri->mtime = st.st_mtime;
    ri->duration = last_time(fd, st.st_size);
    ri->name = strdup(name);
    close(fd);
    return ri->name != NULL;
}

static int by_mtime(const void *a, const void *b)
{
    const rec_info_t *x = a, *y = b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int list(hlctl_t *ctx, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        hlctl_fprintf(stderr, "hlctl sessions: cannot read %s: %s\n", dir, strerror(errno));
        return HLCTL_CRITICAL;
    }
    rec_info_t *recs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".cast") != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            rec_info_t *nr = realloc(recs, cap * sizeof *recs);
            if (!nr)
                break;
            recs = nr;
        }
        if (rec_read(dirfd(d), de->d_name, &recs[n]))
            n++;
    }
    closedir(d);
    if (n)
        qsort(recs, n, sizeof *recs, by_mtime);
    if (!ctx->json && n == 0)
        hlctl_printf("no recordings in %s\n", dir);
    else if (!ctx->json)
        printf("%-64s %10s %9s %9s  %s\n", "NAME", "BYTES", "SIZE", "DURATION", "LAST WRITTEN");
    for (size_t i = 0; i < n; i++) {
        rec_info_t *r = &recs[i];
        char when[32], size[24];
        struct tm tm;
        gmtime_r(&r->mtime, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(size, sizeof size, "%ux%u", r->width, r->height);
        if (ctx->json) {
            hlb_buf_t b = {0};
            hlb_buf_puts(&b, "{\"name\": ");
            hlb_json_str(&b, r->name, strlen(r->name));
            hlb_buf_printf(&b, ", \"dir\": ");
            hlb_json_str(&b, dir, strlen(dir));
            hlb_buf_printf(&b,
                           ", \"bytes\": %lld, \"width\": %u, \"height\": %u, "
                           "\"duration_s\": %.3f, \"last_written\": \"%s\"}\n",
                           (long long)r->bytes, r->width, r->height, r->duration, when);
            fwrite(b.data, 1, b.len, stdout);
            hlb_buf_free(&b);
        } else {
            hlctl_printf("%-64s %10lld %9s %8.1fs  %s\n", r->name, (long long)r->bytes, size,
                         r->duration, when);
        }
        free(r->name);
    }
    free(recs);
    return HLCTL_OK;
}

static bool write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static int play(const char *dir, const char *what, bool cat, double speed, double idle_max)
{
    char *path = NULL;
    if (strchr(what, '/')) {
        path = strdup(what);
    } else if (asprintf(&path, "%s/%s", dir, what) < 0) {
        path = NULL;
    }
    FILE *f = path ? fopen(path, "re") : NULL;
    if (!f) {
        hlctl_fprintf(stderr, "hlctl sessions: cannot open %s: %s\n", path ? path : what,
                      strerror(errno));
        free(path);
        return HLCTL_CRITICAL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    unsigned w, h;
    if (n <= 0 || !cast_header(line, (size_t)n, &w, &h)) {
        hlctl_fprintf(stderr, "hlctl sessions: %s is not an asciicast v2 recording\n", path);
        free(line);
        fclose(f);
        free(path);
        return HLCTL_CRITICAL;
    }
    double prev = 0;
    unsigned long bad = 0, lineno = 1;
    int rc = HLCTL_OK;
    while (!hlctl_interrupted && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        cast_event_t ev;
        if (cast_event(line, (size_t)n, &ev) < 0) {
            if (bad++ == 0)
                fprintf(stderr, "hlctl sessions: line %lu is no asciicast event: skipped "
                        "(and any others)\n", lineno);
            continue;
        }
        if (!cat && ev.t > prev) {
            double wait = (ev.t - prev) / speed;
            if (wait > idle_max)
                wait = idle_max;
            struct timespec ts = {(time_t)wait, (long)((wait - floor(wait)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        if (ev.t > prev)
            prev = ev.t;
        bool ok = ev.kind != 'o' || write_all(ev.data, ev.len);
        cast_event_free(&ev);
        if (!ok) {
            rc = HLCTL_CRITICAL;
            break;
        }
    }
    free(line);
    fclose(f);
    free(path);
    return rc;
}

int hlctl_cmd_sessions(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},   {"cat", no_argument, NULL, 'c'},
        {"speed", required_argument, NULL, 's'}, {"idle-max", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *dir = DEFAULT_DIR;
    bool cat = false;
    double speed = 1, idle_max = 2;
    int opt;
    while ((opt = getopt_long(argc, argv, "d:cs:i:h", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'd': dir = optarg; break;
        case 'c': cat = true; break;
        case 's':
            speed = strtod(optarg, &end);
            if (*end || !(speed > 0.01 && speed <= 1000))
                return hlctl_usage(sessions_usage);
            break;
        case 'i':
            idle_max = strtod(optarg, &end);
            if (*end || !(idle_max >= 0 && idle_max <= 3600))
                return hlctl_usage(sessions_usage);
            break;
        case 'h': hlctl_printf("Usage: hlctl %s\n", sessions_usage); return HLCTL_OK;
        default: return hlctl_usage(sessions_usage);
        }
    }
    if (optind == argc)
        return list(ctx, dir);
    if (strcmp(argv[optind], "play") == 0 && argc - optind == 2)
        return play(dir, argv[optind + 1], cat, speed, idle_max);
    return hlctl_usage(sessions_usage);
}
