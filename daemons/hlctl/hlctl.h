/* hlctl: shared context and helpers of the subcommands (cmd_*.c). */
#pragma once
#include <stdbool.h>
#include <hlbus/hlbus.h>

/* Exit codes, as documented in --help. */
enum {
    HLCTL_OK = 0,
    HLCTL_DEGRADED = 1,
    HLCTL_CRITICAL = 2, /* critical, or the daemon is unreachable */
    HLCTL_USAGE = 64,
};

typedef struct hlctl {
    const char *runtime_dir;
    bool json;
    hlb_call_opts_t call; /* --timeout (ms per attempt), --retries */
} hlctl_t;

/* A subcommand: ARGV[0] is its name; getopt state is reset before it runs.
 * Returns an exit code. */
typedef int (hlctl_cmd_fn)(hlctl_t *ctx, int argc, char **argv);

/* Calls DAEMON's METHOD with ARGS (may be NULL). On success returns 0 and
 * *REPLY; otherwise prints why to stderr and returns HLCTL_CRITICAL
 * (unreachable) or HLCTL_DEGRADED... see hlctl_call_status(). */
int hlctl_call(hlctl_t *ctx, const char *daemon, const char *method, hlb_map_t *args,
               Hl__Reply **reply);
/* Prints a reply body: JSON with --json, else a readable "key: value" form. */
void hlctl_print_body(hlctl_t *ctx, const Hl__Reply *reply);
/* Prints usage of one command to stderr and returns HLCTL_USAGE. */
int hlctl_usage(const char *usage);
