/* hl-stdio: the STDIO relay daemon (spec 3.2.2); hl-stdio.c is where it
 * starts. */
#include <hlbus/hlbus.h>

#include "hl-stdio.h"

int main(int argc, char **argv)
{
    static stdio_daemon_t app;
    static const hlb_daemon_ops_t ops = {
        .name = "hl-stdio",
        .summary = "The STDIO relay: each channel's socket fans the bytes any client writes out\n"
                   "to every other client, with scrollback, resume and bounded per-client queues.",
        .configure = stdio_daemon_configure,
        .start = stdio_daemon_start,
        .stop = stdio_daemon_stop,
        .methods = stdio_daemon_methods,
        .help_extra =
            "Config section 'hl-stdio' (see hl-stdio.yaml.example): group, mode, scrollback,\n"
            "max_clients, stall_timeout, attach_socket, events, channels.\n"
            "Sockets: <runtime dir>/stdio.sock (raw bytes, for plain clients such as\n"
            "claude-code-server or socat) and <runtime dir>/stdio-attach.sock (the attach\n"
            "protocol of `hlctl attach`). Events: stdio.<channel>, stdio.<channel>.attach|detach.",
    };
    int rc = hlb_daemon_main(argc, argv, &ops, &app);
    stdio_daemon_free(&app);
    return rc;
}
