/* The process runner: a command run from the daemon's reactor without
 * blocking the loop. No shell (ARGV[0] is an absolute path); stdin is
 * /dev/null; stdout and stderr go to one pipe of which a bounded part is
 * kept (the first or the last OUTPUT_MAX bytes; the rest is counted); a
 * process group of its own, with the signal mask and dispositions reset and
 * no fd of the daemon's but 0-2; optionally as another user (its uid and
 * primary group, no supplementary groups, no ambient capabilities). Its exit is
 * watched through a pidfd, so the daemon needs no SIGCHLD handler and never
 * reaps anyone else's children. At the deadline, and after the leader
 * exits, the whole group gets SIGKILL: a command leaves no helpers behind.
 * The group is killed before the leader is reaped, while its zombie still
 * pins the group id, so the kill cannot hit a recycled id. (A child that
 * calls setsid() leaves the group; the unit's cgroup still holds it.) */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "reactor.h"

#define HLB_PROC_OUTPUT_MAX 4096
#define HLB_PROC_SAME_USER ((uid_t)-1)

typedef struct hlb_proc hlb_proc_t;

typedef struct hlb_proc_opts {
    char *const *argv;  /* argv[0] absolute */
    char *const *envp;  /* NULL: the daemon's environment */
    int timeout_ms;     /* default 10000 */
    size_t output_max;  /* bytes of output kept; default HLB_PROC_OUTPUT_MAX */
    bool keep_tail;     /* keep the last bytes instead of the first */
    uid_t uid;          /* run as UID/GID (supplementary groups dropped); */
    gid_t gid;          /* 0/0 is root; HLB_PROC_SAME_USER: as the daemon runs */
} hlb_proc_opts_t;

/* Defaults: as the daemon's user, 10 s, the first 4 KiB of output. */
#define HLB_PROC_OPTS_INIT {.uid = HLB_PROC_SAME_USER, .gid = (gid_t)-1}

typedef struct hlb_proc_result {
    int status;              /* wait status (WIFEXITED...), valid when !error */
    int error;               /* 0, or a negative errno: could not start */
    const char *error_what;  /* what could not be done: "start", "switch to the user",
                                "drop capabilities", "run the program", ... */
    bool timed_out;          /* killed at its deadline */
    const char *output;      /* what was kept, NUL-terminated (may hold NULs) */
    size_t output_len;
    uint64_t output_dropped; /* bytes written beyond what was kept */
    uint64_t duration_us;
    int timeout_ms;          /* the deadline it had */
} hlb_proc_result_t;

/* Called once, from the loop (never inside hlb_proc_start), when the command
 * has ended or could not start. The process is freed after it returns. */
typedef void(hlb_proc_fn)(const hlb_proc_result_t *r, void *arg);

/* NULL only when out of memory or without argv. */
hlb_proc_t *hlb_proc_start(hlb_reactor_t *io, const hlb_proc_opts_t *o, hlb_proc_fn *fn,
                           void *arg);
/* Kills the group and reaps it; FN is not called. NULL and *P NULL are fine. */
void hlb_proc_cancel(hlb_proc_t **p);
/* Cancels whatever still runs (at the daemon's exit). */
void hlb_proc_shutdown(void);
int hlb_proc_running(void);

/* Exit 0, not killed, started. */
bool hlb_proc_ok(const hlb_proc_result_t *r);
/* "exit 3", "killed by signal 9 (Killed)", "timed out after 10000 ms; process
 * group killed", "cannot start: ..." */
void hlb_proc_describe(const hlb_proc_result_t *r, char *buf, size_t n);
