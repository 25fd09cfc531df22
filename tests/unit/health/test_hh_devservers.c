/* hl-health's checks for the development servers of dev-server.yaml (#17):
 * derived from the file, without a line of hl-health config; the applied
 * copy wins over the file; a service of the same name in the section wins;
 * dev_servers: false turns them off; an invalid file adds nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hh_config.h"

static char dir[] = "/tmp/test_hh_devservers.XXXXXX";
static char file[64], applied[64];

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    REQUIRE(f);
    fputs(text, f);
    fclose(f);
}

static const hh_service_spec_t *svc(const hh_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->nsvcs; i++)
        if (!strcmp(c->svcs[i].name, name))
            return &c->svcs[i];
    return NULL;
}

static const hh_check_spec_t *chk(const hh_config_t *c, const char *name)
{
    for (size_t i = 0; i < c->nchecks; i++)
        if (!strcmp(c->checks[i].name, name))
            return &c->checks[i];
    return NULL;
}

static hh_config_t parse(const char *section_yaml)
{
    hh_config_t c;
    hlb_diag_t d = {0};
    hlb_conf_t *root = section_yaml ? hlb_conf_parse("hl.yaml", section_yaml, &d) : NULL;
    int r = hh_config_parse(hlb_conf_get(root, "hl-health"), &c, &d);
    CHECK_MSG(r == 0, "%s", d.text ? d.text : "");
    hlb_diag_free(&d);
    hlb_conf_destroy(&root);
    return c;
}

int main(void)
{
    REQUIRE(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/dev-server.yaml", dir);
    snprintf(applied, sizeof applied, "%s/applied.yaml", dir);
    setenv("HL_DEV_SERVER_FILE", file, 1);
    setenv("HL_DEV_SERVER_APPLIED", applied, 1);
    put(file, "development:\n  servers:\n"
              "    - {name: web, port: 3100, command: 'node s.js', directory: /w}\n"
              "    - {name: db, port: 5433, command: 'pg', directory: /d, health: tcp}\n"
              "    - {name: api, port: 8000, command: 'uv', directory: /a, health: /healthz}\n");

    hh_config_t c = parse(NULL);
    const hh_service_spec_t *s = svc(&c, "web");
    REQUIRE(s);
    CHECK_STR(s->unit, "hl-service@web.service");
    const hh_check_spec_t *k = chk(&c, "web-http");
    REQUIRE(k);
    CHECK_EQ(k->kind, HH_KIND_HTTP);
    CHECK_STR(k->u.http.url, "http://127.0.0.1:3100/");
    CHECK_EQ(k->u.http.status_min, 100); /* any answer: a dev server's / may be a 404 */
    CHECK_EQ(k->u.http.status_max, 499);
    k = chk(&c, "db-tcp");
    REQUIRE(k);
    CHECK_EQ(k->kind, HH_KIND_TCP);
    CHECK_STR(k->u.tcp.host, "127.0.0.1");
    CHECK_STR(k->u.tcp.port, "5433");
    k = chk(&c, "api-http");
    REQUIRE(k);
    CHECK_STR(k->u.http.url, "http://127.0.0.1:8000/healthz");
    CHECK_EQ(k->u.http.status_min, 200);
    CHECK(svc(&c, "hl-daemon")); /* the built-ins stay */
    hh_config_clear(&c);

    /* a service of the same name in the section wins; defaults apply */
    c = parse("hl-health:\n  defaults: {interval: 2s, timeout: 1s}\n  services:\n"
              "    web: {unit: other.service}\n");
    s = svc(&c, "web");
    REQUIRE(s);
    CHECK_STR(s->unit, "other.service");
    CHECK_NULL(chk(&c, "web-http"));
    k = chk(&c, "db-tcp");
    REQUIRE(k);
    CHECK_EQ(k->interval_ms, 2000);
    hh_config_clear(&c);

    /* off */
    c = parse("hl-health:\n  dev_servers: false\n");
    CHECK_NULL(svc(&c, "web"));
    hh_config_clear(&c);

    /* the applied copy wins over the file */
    put(applied, "development:\n  servers:\n"
                 "    - {name: site, port: 3200, command: 'x', directory: /s}\n");
    c = parse(NULL);
    CHECK(svc(&c, "site"));
    CHECK_NULL(svc(&c, "web"));
    hh_config_clear(&c);

    /* an invalid file adds nothing, and does not fail hl-health's config */
    put(applied, "development:\n  servers:\n    - {name: x}\n");
    c = parse(NULL);
    CHECK_NULL(svc(&c, "x"));
    CHECK(svc(&c, "hl-daemon"));
    hh_config_clear(&c);

    unlink(file);
    unlink(applied);
    rmdir(dir);
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}
