/* The backup directory's lock. borg and restic stall after a crash on a
 * lock file nobody removes (borg#955, #2306); this one cannot: it is an
 * flock(2) on DIR/.hl-backup.lock, which the kernel drops the moment its
 * holder dies, however it dies. The file also records its holder (boot id,
 * pid, start time) so that a run that finds it taken says by whom, and a
 * run that takes it after a holder that never released it (killed,
 * crashed, power lost) says whose it was and cleans up after it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct bk_owner {
    char boot_id[40];
    pid_t pid;
    uint64_t start_ticks; /* /proc/PID/stat field 22: tells a reused pid apart */
    uint64_t since_us;
} bk_owner_t;

typedef struct bk_lock {
    int fd;
    bool reclaimed;    /* a previous holder left its record: it is gone */
    bk_owner_t prev;   /* that holder */
} bk_lock_t;

/* Takes the lock of DIR without waiting. 0; -EBUSY when held, *HOLDER
 * (may be NULL) its record; another -errno. */
int bk_lock_take(const char *dir, bk_lock_t *l, bk_owner_t *holder);
/* Releases it: the record is cleared first, so that the next holder does
 * not take a clean exit for a crash. */
void bk_lock_release(bk_lock_t *l);

/* This process as an owner. */
void bk_owner_self(bk_owner_t *o);
/* Whether O's process is still running (same boot, pid, start time). */
bool bk_owner_alive(const bk_owner_t *o);
/* "pid 123 (boot 1a2b…, since 2026-12-07T05:45:00Z)"; into BUF. */
const char *bk_owner_str(const bk_owner_t *o, char *buf, size_t n);
