/* libFuzzer target: dev-server.yaml's validator and what it turns into
 * (hlbus/devserver.h): the YAML text is parsed and validated; a file that
 * validates is rendered into every server's drop-in and nginx's config.
 * Oracles: a refusal comes with a diagnostic whose every line names the
 * file; what validates has unique names and ports, absolute directories,
 * routes longest first, and renders lines without control characters other
 * than newlines (a value that could end a unit-file line early, or add a
 * directive, would show up here). */
#include <hlbus/devserver.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

static void check_text(const char *t)
{
    if (!t)
        abort();
    for (const unsigned char *p = (const unsigned char *) t; *p; p++)
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
            abort();
}

/* Every line of an unquoted drop-in is a section, a comment, or KEY=VALUE
 * with one of the keys we write. */
static void check_dropin(const char *t)
{
    static const char *const keys[] = {"Description=", "Before=", "User=", "Group=",
                                       "EnvironmentFile=", "Environment=\"", "BindPaths=-",
                                       NULL};
    check_text(t);
    for (const char *line = t; *line;) {
        const char *nl = strchr(line, '\n');
        if (!nl)
            abort();
        bool ok = *line == '#' || *line == '[' || *line == '\n';
        for (size_t k = 0; keys[k] && !ok; k++)
            ok = !strncmp(line, keys[k], strlen(keys[k]));
        if (!ok)
            abort();
        line = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    hlb_diag_t d = {0};
    hlb_dev_config_t *c = hlb_dev_config_parse("dev.yaml", text, &d);
    if (!c) {
        if (!d.text)
            abort();
        for (const char *line = d.text; *line;) {
            const char *nl = strchr(line, '\n');
            if (!nl || strncmp(line, "dev.yaml", 8) != 0)
                abort();
            line = nl + 1;
        }
    } else {
        if (d.errors)
            abort();
        for (size_t i = 0; i < c->n_servers; i++) {
            const hlb_dev_server_t *s = &c->servers[i];
            if (s->directory[0] != '/' || s->port < 1024 || s->port > 65535)
                abort();
            for (size_t k = 0; k < i; k++)
                if (!strcmp(s->name, c->servers[k].name) || s->port == c->servers[k].port)
                    abort();
            char *dropin = hlb_dev_unit_dropin(s, "/etc/hl/dev-server.yaml");
            check_dropin(dropin);
            free(dropin);
            char *unit = hlb_dev_unit_name(s);
            check_text(unit);
            free(unit);
        }
        for (size_t i = 1; i < c->n_routes; i++)
            if (!c->routes[i - 1].exact && c->routes[i].exact)
                abort();
        char *ng = hlb_dev_nginx_conf(c, "/run/hl-dev-proxy");
        if (c->proxy_enabled != (ng != NULL))
            abort();
        if (ng) {
            check_text(ng);
            /* every brace the routes opened is closed */
            long depth = 0;
            for (const char *p = ng; *p; p++)
                depth += *p == '{' ? 1 : *p == '}' ? -1 : 0;
            if (depth != 0)
                abort();
        }
        free(ng);
        hlb_dev_config_destroy(&c);
    }
    hlb_diag_free(&d);
    free(text);
    return 0;
}
