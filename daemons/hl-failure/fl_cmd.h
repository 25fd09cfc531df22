/* Running a command (the network recovery command, a reachability or config
 * check) without blocking the loop: posix_spawn with a clean signal state in
 * its own process group, its exit watched through a pidfd registered in the
 * zloop, a deadline after which the whole group is killed, and its output
 * (stdout and stderr) collected in a memfd of which the tail is kept. No
 * shell: ARGV[0] is an absolute path. */
#pragma once
#include <stdbool.h>
#include <czmq.h>

#define FL_CMD_OUTPUT_MAX 4096

typedef struct fl_cmd fl_cmd_t;

typedef struct fl_cmd_result {
    int status;        /* wait status (WIFEXITED...), valid when !error */
    int error;         /* 0, or a negative errno: could not start */
    bool timed_out;    /* killed at its deadline */
    const char *output;/* its last FL_CMD_OUTPUT_MAX bytes, NUL-terminated */
    uint64_t duration_us;
} fl_cmd_result_t;

/* Called once, from the loop, when the command has ended. */
typedef void(fl_cmd_fn)(const fl_cmd_result_t *r, void *arg);

/* NULL only when out of memory; a command that cannot start is reported
 * through FN (from the loop, not from inside this call). */
fl_cmd_t *fl_cmd_start(zloop_t *loop, char *const argv[], int timeout_ms, fl_cmd_fn *fn,
                       void *arg);
/* Kills the command's process group; FN is not called. Safe from any loop
 * handler (the pidfd stays registered until the process is reaped). */
void fl_cmd_cancel(fl_cmd_t **c_p);
/* After the loop has ended: kills and reaps whatever still runs. */
void fl_cmd_shutdown(void);
/* "exit 3", "killed by signal 9", "timed out after 10 s", "cannot start: ..." */
void fl_cmd_describe(const fl_cmd_result_t *r, char *buf, size_t n);
bool fl_cmd_ok(const fl_cmd_result_t *r);
int fl_cmd_running(void);
