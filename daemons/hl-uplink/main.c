/* hl-uplink: identity, registration, heartbeats and events to the HL cloud
 * API (spec 3.1), with an offline outbox and capped jittered back-off. */
#include <hlbus/hlbus.h>

#include "hl-uplink.h"

int main(int argc, char **argv)
{
    static ul_daemon_t uplink;
    static const hlb_daemon_ops_t ops = {
        .name = "hl-uplink",
        .summary = "The VM's link to the HL cloud API: instance identity, idempotent\n"
                   "registration, jittered heartbeats with a status summary, events and\n"
                   "alerts upstream through an on-disk outbox; publishes uplink.status.",
        .configure = ul_daemon_configure,
        .start = ul_daemon_start,
        .stop = ul_daemon_stop,
        .methods = ul_methods,
        .prepare_shutdown = ul_daemon_prepare_shutdown,
        .help_extra = "Config section 'hl-uplink': see hl-uplink.yaml.example. The endpoint\n"
                      "is the section's 'endpoint', else $HL_API_ENDPOINT, else\n"
                      "https://api.humanlayer.dev; the token comes from token_file or\n"
                      "token_credential (systemd LoadCredential=), never the command line.",
    };
    return hlb_daemon_main(argc, argv, &ops, &uplink);
}
