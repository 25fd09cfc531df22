/* hlctl: the command-line client of the hl-freestyle bus. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hlctl.h"

volatile int hlctl_interrupted;

typedef struct {
    const char *name;
    hlctl_cmd_fn *fn;
    const char *usage;
    const char *summary;
} command_t;

static const command_t commands[] = {
#define HLCTL_CMD(name, fn, usage, summary) {name, fn, usage, summary},
#include "commands.h"
#undef HLCTL_CMD
};

static void help(FILE *out)
{
    fprintf(out, "Usage: hlctl [OPTION]... COMMAND [ARG]...\n"
                 "Talk to the hl-freestyle daemons over the bus.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-8s %-32s %s\n", commands[i].name, commands[i].usage,
                commands[i].summary);
    fprintf(out,
            "\nOptions:\n"
            "  -j, --json             print JSON (one object per line)\n"
            "  -t, --timeout MS       wait this long for each reply attempt (default 2000)\n"
            "      --retries N        retry a call without a reply N times (default 2)\n"
            "  -r, --runtime-dir DIR  bus and ctl sockets (default $HL_RUNTIME_DIR or /run/hl)\n"
            "  -V, --version          print the version\n"
            "  -h, --help             print this help\n"
            "\nExit status:\n"
            "  0   ok\n"
            "  1   degraded\n"
            "  2   critical, an error reply, or a daemon that does not answer\n"
            "  64  usage error\n"
            "  hlctl check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the plugins' codes; usage too)\n");
}

static void on_signal(int sig)
{
    hlctl_interrupted = 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"retries", required_argument, NULL, 'R'},
        {"runtime-dir", required_argument, NULL, 'r'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    hlctl_t ctx = {.call = {.timeout_ms = 2000, .retries = 2}};
    int opt;
    int64_t v;
    /* '+': stop at the command, whose own options follow it */
    while ((opt = getopt_long(argc, argv, "+jt:r:Vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'j': ctx.json = true; break;
        case 't':
            if (hlb_parse_int(optarg, &v) < 0 || v < 1 || v > 3600000) {
                hlctl_fprintf(stderr, "hlctl: --timeout takes milliseconds (1..3600000), not '%s'\n",
                        optarg);
                return HLCTL_USAGE;
            }
            ctx.call.timeout_ms = (int)v;
            break;
        case 'R':
            if (hlb_parse_int(optarg, &v) < 0 || v < 0 || v > 100) {
                hlctl_fprintf(stderr, "hlctl: --retries takes 0..100, not '%s'\n", optarg);
                return HLCTL_USAGE;
            }
            ctx.call.retries = (int)v;
            break;
        case 'r': ctx.runtime_dir = optarg; break;
        case 'V': hlctl_printf("hlctl %s\n", HL_VERSION); return 0;
        case 'h': help(stdout); return 0;
        default: help(stderr); return HLCTL_USAGE;
        }
    }
    if (optind >= argc) {
        help(stderr);
        return HLCTL_USAGE;
    }
    ctx.runtime_dir = hlb_runtime_dir(ctx.runtime_dir);
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(commands[i].name, name) != 0)
            continue;
        zsys_handler_set(NULL);
        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        hlb_log_init("hlctl", LOG_WARNING);
        int sub_argc = argc - optind;
        char **sub_argv = argv + optind;
        optind = 0; /* the command parses its own options */
        return commands[i].fn(&ctx, sub_argc, sub_argv);
    }
    hlctl_fprintf(stderr, "hlctl: unknown command '%s' (see hlctl --help)\n", name);
    return HLCTL_USAGE;
}
