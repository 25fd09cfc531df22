/* hl-health's config section: services and their checks, with defaults, as
 * specs ready for the engine. */
#pragma once
#include <hlbus/hlbus.h>
#include <hlbus/tlspolicy.h>
#include "hh_engine.h"

typedef struct hh_config {
    hh_service_spec_t *svcs;
    size_t nsvcs;
    hh_check_spec_t *checks;
    const hlb_conf_t **check_nodes; /* where each check was configured (valid during configure) */
    size_t nchecks;
    int64_t snapshot_ms; /* periodic health.* snapshot; 0: none */
    int64_t spread_ms;   /* first runs spread over this long */
    int64_t slack_ms;    /* run starts rounded up to multiples of this */
    hlb_tlspolicy_t *tls; /* the TLS policy of the HTTPS checks, set by the
                           * daemon (not parsed here); cleared with the config */
} hh_config_t;

/* Parses SECTION (may be NULL: the built-in defaults, the spec's three
 * services). Every problem goes to DIAG with its file and line; -EINVAL then. */
int hh_config_parse(const hlb_conf_t *section, hh_config_t *cfg, hlb_diag_t *diag);
void hh_config_clear(hh_config_t *cfg);
/* A new engine on LOOP with CFG's services and checks (copied). NULL on a
 * check the engine refuses; the reason goes to DIAG. */
hh_engine_t *hh_config_build(const hh_config_t *cfg, hlb_reactor_t *io, hlb_diag_t *diag);
