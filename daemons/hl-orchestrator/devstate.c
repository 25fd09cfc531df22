/* dev.<name>: the development servers' state on the bus (#17). The
 * orchestrator already watches their units (generated members of the core
 * phase); with each change of hl-service@NAME it also says what the server
 * is (from the applied dev-server.yaml: hlbus/devserver.h), so a subscriber
 * needs neither the file nor the unit-name convention. */
#include "orch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev.pb-c.h"

void devstate_reload(orch_t *o)
{
    hlb_diag_t d = {0};
    hlb_dev_config_t *c = hlb_dev_config_load(hlb_dev_effective_path(), true, &d);
    if (!c) /* hlctl dev apply never applies such a file; at boot it may be one */
        hlb_warn("%s is not valid; dev.* not published: %s", hlb_dev_effective_path(),
                 d.text ? d.text : "");
    hlb_diag_free(&d);
    hlb_dev_config_destroy(&o->dev);
    o->dev = c;
}

void devstate_free(orch_t *o)
{
    hlb_dev_config_destroy(&o->dev);
}

static const char *route_to(const hlb_dev_config_t *c, int64_t port)
{
    for (size_t i = 0; c->proxy_enabled && i < c->n_routes; i++)
        if (c->routes[i].port == port)
            return c->routes[i].pattern;
    return "";
}

void devstate_publish(orch_t *o, const sdm_unit_t *u, const Hl__ServiceState *state)
{
    if (!o->dev || strncmp(u->name, "hl-service@", 11) != 0)
        return;
    for (size_t i = 0; i < o->dev->n_servers; i++) {
        const hlb_dev_server_t *s = &o->dev->servers[i];
        char *unit = hlb_dev_unit_name(s);
        bool match = unit && !strcmp(unit, u->name);
        if (!match) {
            free(unit);
            continue;
        }
        Hl__DevServer m = HL__DEV_SERVER__INIT;
        m.name = s->name;
        m.port = (uint32_t) s->port;
        m.unit = unit;
        m.command = s->command;
        m.directory = s->directory;
        m.user = s->user;
        m.route = (char *) route_to(o->dev, s->port);
        m.proxy_port = o->dev->proxy_enabled ? (uint32_t) o->dev->proxy_port : 0;
        m.state = (Hl__ServiceState *) state;
        m.ts_us = hlb_now_us();
        char *topic = hlb_strdupf("dev.%s", s->name);
        int r = topic ? hlb_pub_send(o->pub, topic, &m.base) : -ENOMEM;
        if (r < 0)
            hlb_debug("publish dev.%s: %s", s->name, strerror(-r));
        free(topic);
        free(unit);
        return;
    }
}
