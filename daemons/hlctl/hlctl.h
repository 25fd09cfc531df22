/* hlctl: shared context and helpers of the subcommands (cmd_*.c). */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <hlbus/hlbus.h>

/* Exit codes, as documented in --help. */
enum {
    HLCTL_OK = 0,
    HLCTL_DEGRADED = 1,
    HLCTL_CRITICAL = 2, /* critical, an error reply, or the daemon is unreachable */
    HLCTL_USAGE = 64,
};

typedef struct hlctl {
    const char *runtime_dir;
    bool json;
    hlb_call_opts_t call; /* --timeout (ms per attempt), --retries */
} hlctl_t;

/* A subcommand: ARGV[0] is its name and getopt is reset (optind = 0) before
 * it runs. Returns an exit code. */
typedef int (hlctl_cmd_fn)(hlctl_t *ctx, int argc, char **argv);

/* Calls DAEMON's METHOD with ARGS (may be NULL). Returns HLCTL_OK with
 * *REPLY set (a successful reply); otherwise has printed why to stderr
 * (unreachable, timed out, or the daemon's error) and returns
 * HLCTL_CRITICAL, with *REPLY NULL. */
int hlctl_call(hlctl_t *ctx, const char *daemon, const char *method, hlb_map_t *args,
               Hl__Reply **reply);
/* Prints a reply body as one line of JSON. */
void hlctl_print_json(const Hl__Reply *reply);
/* Parses KEY=VALUE words into a map: integers, true/false, else strings.
 * Returns NULL (and says why) on a word without '='. */
hlb_map_t *hlctl_kv_map(int argc, char **argv);
/* "3d 4h", "5m 2s": a short human duration. */
void hlctl_format_duration(char *out, size_t n, uint64_t us);
/* US (wall clock) relative to now: "never" for 0, "5m 2s ago", or with
 * FUTURE "in 3s" (else a time ahead of ours reads "0s ago"). */
void hlctl_format_ago(char *out, size_t n, uint64_t us, bool future);
/* Prints USAGE of one command to stderr and returns HLCTL_USAGE. */
int hlctl_usage(const char *usage);
/* printf for everything that shows what a daemon or the bus sent: each %s
 * argument comes out escaped (control characters, invalid UTF-8). Use it,
 * not printf, for any text not written in hlctl itself. */
int hlctl_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int hlctl_fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hlctl_vfprintf(FILE *f, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Set by SIGINT/SIGTERM while a command waits. */
extern volatile int hlctl_interrupted;

#define HLCTL_CMD(name, fn, usage, summary) hlctl_cmd_fn fn;
#include "commands.h"
#undef HLCTL_CMD
