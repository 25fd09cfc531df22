/* The owner-recording lock (see bk_lock.h). */
#include "bk_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <hlbus/clock.h>

#define LOCK_NAME ".hl-backup.lock"

static void read_boot_id(char out[40])
{
    out[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (f) {
        if (!fgets(out, 40, f))
            out[0] = '\0';
        fclose(f);
    }
    out[strcspn(out, "\n")] = '\0';
}

static uint64_t start_ticks(pid_t pid)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* After the command's closing parenthesis (it may hold spaces): state
     * is field 3, starttime field 22. */
    char *s = strrchr(buf, ')');
    if (!s)
        return 0;
    s++;
    for (int field = 2; field < 22 && s; field++)
        s = strchr(s + 1, ' ');
    return s ? strtoull(s + 1, NULL, 10) : 0;
}

void bk_owner_self(bk_owner_t *o)
{
    *o = (bk_owner_t) {.pid = getpid(), .since_us = hlb_now_us()};
    read_boot_id(o->boot_id);
    o->start_ticks = start_ticks(o->pid);
}

bool bk_owner_alive(const bk_owner_t *o)
{
    char boot[40];
    read_boot_id(boot);
    /* an unknown boot id (unreadable /proc/sys) cannot tell boots apart:
     * the pid and its start time still can */
    if ((boot[0] && o->boot_id[0] && strcmp(boot, o->boot_id)) || o->pid <= 0)
        return false;
    uint64_t t = start_ticks(o->pid);
    return t && t == o->start_ticks;
}

const char *bk_owner_str(const bk_owner_t *o, char *buf, size_t n)
{
    time_t t = (time_t) (o->since_us / 1000000);
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(buf, n, "pid %d (boot %.8s, since %s)", (int) o->pid,
             o->boot_id[0] ? o->boot_id : "?", when);
    return buf;
}

static bool parse_owner(int fd, bk_owner_t *o)
{
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    *o = (bk_owner_t) {0};
    int pid = 0;
    char boot[40] = "";
    uint64_t ticks = 0, since = 0;
    if (sscanf(buf, "boot_id %39s pid %d start_ticks %" SCNu64 " since_us %" SCNu64, boot, &pid,
               &ticks, &since) != 4)
        return false;
    if (!strcmp(boot, "-")) /* the holder could not read it */
        boot[0] = '\0';
    memcpy(o->boot_id, boot, sizeof o->boot_id);
    o->pid = pid;
    o->start_ticks = ticks;
    o->since_us = since;
    return true;
}

int bk_lock_take(const char *dir, bk_lock_t *l, bk_owner_t *holder)
{
    *l = (bk_lock_t) {.fd = -1};
    char path[4096];
    if ((size_t) snprintf(path, sizeof path, "%s/" LOCK_NAME, dir) >= sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (holder && !parse_owner(fd, holder))
            *holder = (bk_owner_t) {0};
        close(fd);
        return e == EWOULDBLOCK ? -EBUSY : -e;
    }
    /* A record left behind is a holder that never released: gone, since
     * the kernel gave us its lock. */
    if (parse_owner(fd, &l->prev))
        l->reclaimed = true;
    bk_owner_t me;
    bk_owner_self(&me);
    char rec[256];
    int n = snprintf(rec, sizeof rec, "boot_id %s pid %d start_ticks %" PRIu64 " since_us %" PRIu64 "\n",
                     me.boot_id[0] ? me.boot_id : "-", (int) me.pid, me.start_ticks, me.since_us);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, rec, (size_t) n, 0) != n) {
        int e = -errno;
        close(fd);
        return e;
    }
    fsync(fd);
    l->fd = fd;
    return 0;
}

void bk_lock_release(bk_lock_t *l)
{
    if (l->fd < 0)
        return;
    if (ftruncate(l->fd, 0) == 0)
        fsync(l->fd);
    close(l->fd);
    l->fd = -1;
}
