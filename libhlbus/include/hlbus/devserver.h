/* The development servers' file, /etc/hl/dev-server.yaml (spec 3.4.1): its
 * reader and strict validator, shared by everything that acts on it (the
 * systemd generator, the proxy's config writer, hl-health's checks, hlctl
 * dev). One reader, so that they cannot disagree about what the file says.
 *
 *   development:
 *     servers:
 *       - name: web-dev                 # [a-z0-9-], unit hl-service@web-dev
 *         port: 3100                    # 1024-65535, unique, not a port of ours
 *         command: 'npm run dev'        # split like a shell, run without one
 *         directory: /home/hluser/workspace/web   # absolute
 *         environment: {NODE_ENV: development}
 *         user: hluser                  # ours: default hluser, never root
 *         health: http                  # ours: http (any answer), tcp or /path
 *     proxy:
 *       enabled: true
 *       port: 8090                      # 8080 is hl-daemon's (see the README)
 *       routes:
 *         '/api/\*': 'http://localhost:8000'   # a prefix (trailing star) or exact
 *         '/\*': 'http://localhost:3100'
 *
 * The file is read with libhlbus's YAML reader and checked through the
 * config schema (confschema.h): every error names file and line. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* Where the file lives, and the copy `hlctl dev apply` makes of it once it
 * has been validated: readers take the applied copy when it exists (so an
 * edit is live only once applied, and a broken edit never is), the file
 * otherwise (at boot, /run is empty). */
#define HLB_DEV_FILE "/etc/hl/dev-server.yaml"
#define HLB_DEV_APPLIED_FILE "/run/hl/dev-server.yaml"

typedef enum { HLB_DEV_HEALTH_HTTP, HLB_DEV_HEALTH_TCP, HLB_DEV_HEALTH_PATH } hlb_dev_health_t;

typedef struct hlb_dev_server {
    char *name;
    int64_t port;
    char *command;
    char *directory;
    char **environment; /* "KEY=VALUE", in the file's order */
    char *user;
    char *health_word;  /* as written: http, tcp or a path */
    hlb_dev_health_t health;
    int line;
} hlb_dev_server_t;

typedef struct hlb_dev_route {
    char *pattern;  /* as written: '/api/' and a star */
    char *location; /* the prefix without '*' ('/api/'), or the exact path */
    bool exact;     /* no trailing '*': this path only */
    int64_t port;   /* the upstream, always on loopback */
    char *upstream; /* "http://127.0.0.1:PORT" */
    int line;
} hlb_dev_route_t;

typedef struct hlb_dev_config {
    hlb_dev_server_t *servers;
    size_t n_servers;
    bool proxy_enabled;
    int64_t proxy_port;
    hlb_dev_route_t *routes; /* longest location first, exact before prefix */
    size_t n_routes;
    char *file; /* where it was read from */
} hlb_dev_config_t;

/* One of our own services' ports, which no dev server or proxy may take. */
typedef struct hlb_dev_reserved_port {
    int port;
    const char *owner; /* "hl-daemon's (what it serves there)" */
} hlb_dev_reserved_port_t;
/* Ended by port 0. */
extern const hlb_dev_reserved_port_t hlb_dev_reserved_ports[];

/* Parses and validates TEXT (NAME for messages). NULL on any error, every
 * error in DIAG as "NAME:LINE: message". A file without a development
 * section is an empty configuration. */
hlb_dev_config_t *hlb_dev_config_parse(const char *name, const char *text, hlb_diag_t *diag);
/* Reads PATH (a missing file is an empty configuration when MISSING_OK). */
hlb_dev_config_t *hlb_dev_config_load(const char *path, bool missing_ok, hlb_diag_t *diag);
/* The path readers use: the applied copy if it exists, else the file. The
 * environment's HL_DEV_SERVER_FILE / HL_DEV_SERVER_APPLIED override both (tests). */
const char *hlb_dev_effective_path(void);
const char *hlb_dev_file_path(void);
const char *hlb_dev_applied_path(void);
void hlb_dev_config_destroy(hlb_dev_config_t **self_p);
/* The server named NAME, or NULL. */
const hlb_dev_server_t *hlb_dev_config_server(const hlb_dev_config_t *c, const char *name);

/* ---- what the file turns into (devrender.c) ---- */

/* The unit of server S: "hl-service@NAME.service" (free it). */
char *hlb_dev_unit_name(const hlb_dev_server_t *s);
/* The drop-in for hl-service@NAME.service that describes S (free it):
 * user, environment, command and directory for hl-service-runner, ordering.
 * SOURCE names the file in its comment. Two servers with the same drop-in
 * text run the same way: a change of the text is a change of the server. */
char *hlb_dev_unit_dropin(const hlb_dev_server_t *s, const char *source);
/* nginx's whole configuration for C's proxy (free it); RUNTIME_DIR holds its
 * pid file and temp paths. NULL when the proxy is disabled. */
char *hlb_dev_nginx_conf(const hlb_dev_config_t *c, const char *runtime_dir);
