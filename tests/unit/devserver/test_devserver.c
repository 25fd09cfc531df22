/* dev-server.yaml (hlbus/devserver.h): the spec's example (refused only for
 * its two port clashes, each named with its line), every strictness rule with
 * file:line, route order, and the rendered drop-in and nginx config (checked
 * by `nginx -t` when nginx is installed). */
#include <hlbus/devserver.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static const char *const spec_example =
    "# /etc/hl/dev-server.yaml\n"
    "development:\n"
    "  servers:\n"
    "    - name: 'web-dev'\n"
    "      port: 3000\n"
    "      command: 'npm run dev'\n"
    "      directory: '/home/hluser/workspace/web'\n"
    "      environment:\n"
    "        NODE_ENV: 'development'\n"
    "\n"
    "    - name: 'api-dev'\n"
    "      port: 8000\n"
    "      command: 'python -m uvicorn main:app --reload'\n"
    "      directory: '/home/hluser/workspace/api'\n"
    "      environment:\n"
    "        PYTHONPATH: '/home/hluser/workspace/api'\n"
    "\n"
    "  proxy:\n"
    "    enabled: true\n"
    "    port: 8080\n"
    "    routes:\n"
    "      '/api/*': 'http://localhost:8000'\n"
    "      '/*': 'http://localhost:3000'\n";

/* The example with its clashes moved as the README says: web-dev on 3100,
 * the proxy on 8090. */
static char *resolved_example(void)
{
    char *s = strdup(spec_example);
    char *p;
    while ((p = strstr(s, "3000")))
        memcpy(p, "3100", 4);
    p = strstr(s, "port: 8080");
    memcpy(p, "port: 8090", 10);
    return s;
}

/* Parses TEXT; returns the diagnostics (or NULL when it parsed). */
static char *errors_of(const char *text)
{
    hlb_diag_t d = {0};
    hlb_dev_config_t *c = hlb_dev_config_parse("t.yaml", text, &d);
    if (c) {
        hlb_dev_config_destroy(&c);
        hlb_diag_free(&d);
        return NULL;
    }
    char *out = d.text ? strdup(d.text) : strdup("(no text)");
    hlb_diag_free(&d);
    return out;
}

#define CHECK_ERR(text, needle)                                                           \
    do {                                                                                  \
        char *e_ = errors_of(text);                                                       \
        CHECK_MSG(e_ && strstr(e_, needle), "want '%s' in: %s", needle, e_ ? e_ : "(ok)"); \
        free(e_);                                                                         \
    } while (0)

static void test_spec_example(void)
{
    char *e = errors_of(spec_example);
    REQUIRE(e);
    /* the two clashes, and nothing else */
    CHECK(strstr(e, "t.yaml:5: port 3000 is claude-code's"));
    CHECK(strstr(e, "t.yaml:20: proxy port 8080 is hl-daemon's"));
    int lines = 0;
    for (const char *p = e; *p; p++)
        lines += *p == '\n';
    CHECK_EQ(lines, 2);
    free(e);

    char *text = resolved_example();
    hlb_diag_t d = {0};
    hlb_dev_config_t *c = hlb_dev_config_parse("dev-server.yaml", text, &d);
    CHECK_MSG(c, "%s", d.text ? d.text : "");
    hlb_diag_free(&d);
    free(text);
    REQUIRE(c);
    CHECK_EQ(c->n_servers, 2);
    CHECK_STR(c->servers[0].name, "web-dev");
    CHECK_EQ(c->servers[0].port, 3100);
    CHECK_STR(c->servers[0].command, "npm run dev");
    CHECK_STR(c->servers[0].directory, "/home/hluser/workspace/web");
    CHECK_STR(c->servers[0].environment[0], "NODE_ENV=development");
    CHECK_NULL(c->servers[0].environment[1]);
    CHECK_STR(c->servers[0].user, "hluser");
    CHECK_EQ(c->servers[0].health, HLB_DEV_HEALTH_HTTP);
    CHECK_EQ(c->servers[1].line, 11);
    CHECK(c->proxy_enabled);
    CHECK_EQ(c->proxy_port, 8090);
    REQUIRE(c->n_routes == 2);
    /* longest first */
    CHECK_STR(c->routes[0].location, "/api/");
    CHECK_STR(c->routes[0].upstream, "http://127.0.0.1:8000");
    CHECK(!c->routes[0].exact);
    CHECK_STR(c->routes[1].location, "/");
    CHECK_EQ(c->routes[1].port, 3100);
    CHECK(hlb_dev_config_server(c, "api-dev") == &c->servers[1]);
    CHECK_NULL(hlb_dev_config_server(c, "nope"));

    char *dropin = hlb_dev_unit_dropin(&c->servers[1], "/etc/hl/dev-server.yaml");
    CHECK(strstr(dropin, "\nUser=hluser\n"));
    CHECK(strstr(dropin, "\nEnvironmentFile=\n"));
    CHECK(strstr(dropin, "\nEnvironment=\"HL_SERVICE_COMMAND=python -m uvicorn main:app --reload\"\n"));
    CHECK(strstr(dropin, "\nEnvironment=\"HL_SERVICE_DIRECTORY=/home/hluser/workspace/api\"\n"));
    CHECK(strstr(dropin, "\nEnvironment=\"PYTHONPATH=/home/hluser/workspace/api\"\n"));
    CHECK(strstr(dropin, "\nBefore=hl-orchestrator.service\n"));
    free(dropin);
    char *unit = hlb_dev_unit_name(&c->servers[0]);
    CHECK_STR(unit, "hl-service@web-dev.service");
    free(unit);

    char *ng = hlb_dev_nginx_conf(c, "/run/hl-dev-proxy");
    REQUIRE(ng);
    const char *api = strstr(ng, "location /api/ {");
    const char *root = strstr(ng, "location / {");
    CHECK(api && root && api < root);
    CHECK(strstr(ng, "listen 8090;"));
    CHECK(strstr(ng, "proxy_set_header Upgrade $http_upgrade;"));
    CHECK(strstr(ng, "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"));
    CHECK(strstr(ng, "pid /run/hl-dev-proxy/nginx.pid;"));
    CHECK(!strstr(ng, "return 404")); /* the star route covers the rest */
    free(ng);

    /* nginx itself judges the config, where it is installed */
    if (access("/usr/sbin/nginx", X_OK) == 0) {
        char dir[] = "/tmp/unit_devserver.XXXXXX";
        REQUIRE(mkdtemp(dir));
        char *conf = hlb_dev_nginx_conf(c, dir);
        char path[64];
        snprintf(path, sizeof path, "%s/nginx.conf", dir);
        FILE *f = fopen(path, "we");
        REQUIRE(f);
        fputs(conf, f);
        fclose(f);
        free(conf);
        char cmd[256];
        snprintf(cmd, sizeof cmd, "/usr/sbin/nginx -t -q -e stderr -c %s", path);
        CHECK_EQ(system(cmd), 0);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK_EQ(system(cmd), 0);
    } else {
        printf("nginx not installed: nginx -t on the rendered config skipped\n");
    }
    hlb_dev_config_destroy(&c);
}

static const char *const head = "development:\n  servers:\n";
static char *with(const char *servers, const char *rest)
{
    size_t n = strlen(head) + strlen(servers) + strlen(rest) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%s%s%s", head, servers, rest);
    return s;
}

#define SRV(name, port, extra)                                                 \
    "    - name: " name "\n      port: " port "\n      command: 'run it'\n" \
    "      directory: /srv/" name "\n" extra

static void test_errors(void)
{
    char *t;
    /* unknown keys, at every level */
    CHECK_ERR("develpment:\n  servers: []\n", "t.yaml:1: unknown key 'develpment'");
    CHECK_ERR("development:\n  server: []\n", "t.yaml:2: unknown key 'server'");
    t = with(SRV("a", "4000", "      colour: red\n"), "");
    CHECK_ERR(t, "t.yaml:7: unknown key 'colour' in 'server'");
    free(t);
    t = with(SRV("a", "4000", ""), "  proxy:\n    enabled: true\n    prot: 9000\n");
    CHECK_ERR(t, "t.yaml:9: unknown key 'prot' in 'proxy'");
    free(t);
    /* required keys */
    CHECK_ERR("development:\n  servers:\n    - name: a\n      port: 4000\n      directory: /x\n",
              "t.yaml:3: 'server' needs 'command'");
    /* duplicates */
    t = with(SRV("a", "4000", "") SRV("a", "4001", ""), "");
    CHECK_ERR(t, "t.yaml:7: duplicate server name 'a' (first at line 3)");
    free(t);
    t = with(SRV("a", "4000", "") SRV("b", "4000", ""), "");
    CHECK_ERR(t, "t.yaml:8: port 4000 is taken by server 'a' (line 3)");
    free(t);
    CHECK_ERR("development:\n  servers:\n    - name: a\n      name: b\n", "duplicate key 'name'");
    /* our own services' ports, the proxy's port */
    t = with(SRV("a", "8081", ""), "");
    CHECK_ERR(t, "t.yaml:4: port 8081 is hl-metrics'");
    free(t);
    t = with(SRV("a", "8090", ""),
             "  proxy:\n    enabled: true\n    port: 8090\n    routes: {'/*': 'http://localhost:8090'}\n");
    CHECK_ERR(t, "t.yaml:4: port 8090 is the proxy's");
    free(t);
    t = with(SRV("a", "80", ""), "");
    CHECK_ERR(t, "t.yaml:4:");
    free(t);
    /* directories */
    CHECK_ERR("development:\n  servers:\n    - {name: a, port: 4000, command: x, directory: web}\n",
              "t.yaml:3: directory 'web' must be an absolute path");
    CHECK_ERR("development:\n  servers:\n    - {name: a, port: 4000, command: x, directory: /a/../b}\n",
              "no . or .. segments");
    CHECK_ERR("development:\n  servers:\n    - {name: a, port: 4000, command: x, directory: '/a b'}\n",
              "letters, digits and ._-+@/ only");
    /* shell syntax in commands */
    static const char *const shelly[] = {"npm run dev | tee x", "a && b", "a; b", "a > log",
                                         "echo $(id)", "echo `id`", "a &", "'unbalanced"};
    for (size_t i = 0; i < sizeof shelly / sizeof *shelly; i++) {
        char line[200];
        snprintf(line, sizeof line,
                 "development:\n  servers:\n    - name: a\n      port: 4000\n      command: \"%s\"\n"
                 "      directory: /x\n",
                 shelly[i]);
        CHECK_ERR(line, "t.yaml:5: command");
    }
    /* but quotes and $VARIABLES are fine, as the runner splits them */
    CHECK_NULL(errors_of("development:\n  servers:\n    - name: a\n      port: 4000\n"
                         "      command: \"node 'my server.js' --port $HL_DEV_SERVER_PORT\"\n"
                         "      directory: /x\n"));
    /* names, environment, users, health */
    CHECK_ERR("development:\n  servers:\n    - {name: Web_1, port: 4000, command: x, directory: /x}\n",
              "t.yaml:3: name 'Web_1'");
    CHECK_ERR("development:\n  servers:\n    - {name: a, port: 4000, command: x, directory: /x,"
              " environment: {HL_SERVICE_COMMAND: y}}\n",
              "HL_SERVICE_COMMAND is set by hl-service@ itself");
    CHECK_ERR("development:\n  servers:\n    - {name: a, port: 4000, command: x, directory: /x,"
              " environment: {1X: y}}\n",
              "'1X' is not a variable name");
    CHECK_ERR("development:\n  servers:\n    - {name: a, port: 4000, command: x, directory: /x,"
              " environment: [A=b]}\n",
              "'environment' must be a map");
    CHECK_ERR("development:\n  servers:\n    - {name: a, port: 4000, command: x, directory: /x,"
              " user: root}\n",
              "never root");
    CHECK_ERR("development:\n  servers:\n    - {name: a, port: 4000, command: x, directory: /x,"
              " health: ping}\n",
              "health 'ping'");
    /* routes */
    t = with(SRV("a", "4000", ""),
             "  proxy:\n    enabled: true\n    routes:\n      '/x/*': 'http://example.com:4000'\n");
    CHECK_ERR(t, "t.yaml:10: route '/x/*': the target must be http://localhost:PORT");
    free(t);
    t = with(SRV("a", "4000", ""),
             "  proxy:\n    enabled: true\n    routes:\n      '/x/*': 'http://localhost:4001'\n");
    CHECK_ERR(t, "t.yaml:10: route '/x/*': no server listens on port 4001");
    free(t);
    t = with(SRV("a", "4000", ""), "  proxy:\n    enabled: true\n    routes:\n      'x': 'http://localhost:4000'\n");
    CHECK_ERR(t, "route 'x': a path starting with '/'");
    free(t);
    t = with(SRV("a", "4000", ""), "  proxy:\n    enabled: true\n");
    CHECK_ERR(t, "the proxy is enabled but has no routes");
    free(t);
    /* a disabled proxy may keep any port and routes it does not use */
    t = with(SRV("a", "4000", ""), "  proxy:\n    enabled: false\n    port: 8080\n");
    CHECK_NULL(errors_of(t));
    free(t);
    /* not a map, not YAML */
    CHECK_ERR("- a\n- b\n", "t.yaml:1:");
    CHECK_ERR("development: [\n", "t.yaml:");
}

static void test_empty_and_order(void)
{
    hlb_dev_config_t *c = hlb_dev_config_parse("t.yaml", "", NULL);
    REQUIRE(c);
    CHECK_EQ(c->n_servers, 0);
    CHECK(!c->proxy_enabled);
    CHECK_NULL(hlb_dev_nginx_conf(c, "/run/x"));
    hlb_dev_config_destroy(&c);
    char *t = with(SRV("a", "4000", "") SRV("b", "4001", "      health: tcp\n")
                       SRV("c", "4002", "      health: /healthz\n"),
                   "  proxy:\n    enabled: true\n    routes:\n"
                   "      '/a*': 'http://localhost:4000'\n"
                   "      '/api/v1/*': 'http://127.0.0.1:4001/'\n"
                   "      '/status': 'http://[::1]:4002'\n");
    hlb_diag_t d = {0};
    c = hlb_dev_config_parse("t.yaml", t, &d);
    CHECK_MSG(c, "%s", d.text ? d.text : "");
    hlb_diag_free(&d);
    free(t);
    REQUIRE(c);
    CHECK_EQ(c->servers[1].health, HLB_DEV_HEALTH_TCP);
    CHECK_EQ(c->servers[2].health, HLB_DEV_HEALTH_PATH);
    REQUIRE(c->n_routes == 3);
    CHECK_STR(c->routes[0].location, "/status");
    CHECK(c->routes[0].exact);
    CHECK_STR(c->routes[1].location, "/api/v1/");
    CHECK_STR(c->routes[2].location, "/a");
    char *ng = hlb_dev_nginx_conf(c, "/run/x");
    CHECK(strstr(ng, "location = /status {"));
    CHECK(strstr(ng, "return 404")); /* nothing routes '/' */
    free(ng);
    hlb_dev_config_destroy(&c);
}

static void test_escaping(void)
{
    hlb_dev_config_t *c = hlb_dev_config_parse(
        "t.yaml",
        "development:\n  servers:\n    - name: a\n      port: 4000\n"
        "      command: \"node x.js --name '100%' \\\"q\\\"\"\n      directory: /home/alice/app\n"
        "      environment: {MSG: 'a \"b\" \\ c 50%'}\n",
        NULL);
    REQUIRE(c);
    char *dropin = hlb_dev_unit_dropin(&c->servers[0], "/etc/hl/dev-server.yaml");
    CHECK_MSG(strstr(dropin, "Environment=\"HL_SERVICE_COMMAND=node x.js --name '100%%' \\\"q\\\"\""),
              "%s", dropin);
    CHECK_MSG(strstr(dropin, "Environment=\"MSG=a \\\"b\\\" \\\\ c 50%%\""), "%s", dropin);
    /* another user's home is hidden by the managed sandbox: bound back */
    CHECK(strstr(dropin, "\nBindPaths=-/home/alice/app\n"));
    free(dropin);
    hlb_dev_config_destroy(&c);
}

int main(void)
{
    test_spec_example();
    test_errors();
    test_empty_and_order();
    test_escaping();
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}
