/* hl-bus: the bus proxy daemon; hl-bus.c is where it starts. */
#include <stdio.h>
#include <stdlib.h>

#include "hl-bus.h"

int main(int argc, char **argv)
{
    static bus_t bus;
    char *keys = hlb_conf_schema_help(&bus_table);
    char *help = NULL;
    if (asprintf(&help,
                 "Config section 'hl-bus': %s.\n"
                 "Socket activation: LISTEN_FDS named 'pub' and 'sub' (or in that order).",
                 keys) < 0)
        help = NULL;
    free(keys);
    static const hlb_daemon_ops_t ops = {
        .name = "hl-bus",
        .summary = "The hl-freestyle bus: publishers push to bus/pub, subscribers read bus/sub;\n"
                   "state topics are cached and replayed to late subscribers.",
        .configure = bus_configure,
        .start = bus_start,
        .stop = bus_stop,
        .methods = bus_methods,
    };
    hlb_daemon_ops_t run = ops;
    run.help_extra = help;
    int rc = hlb_daemon_main(argc, argv, &run, &bus);
    hlb_conf_schema_free(&bus_table, &bus.conf);
    free(help);
    return rc;
}
