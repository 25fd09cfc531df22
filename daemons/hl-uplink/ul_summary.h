/* The status summary a heartbeat carries, kept from the bus: lifecycle
 * state, health of each service, open incidents, resource thresholds,
 * active alerts, daemon versions. Bus-free: the daemon feeds it words. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct ul_dict {
    char **k, **v;
    size_t n;
} ul_dict_t;

typedef struct ul_summary {
    char *lifecycle;
    ul_dict_t services, thresholds, versions, alerts;
    uint64_t *incidents; /* open incident ids */
    size_t n_incidents;
} ul_summary_t;

#define UL_SUMMARY_MAX 1024 /* entries per map: a flood of topics cannot grow it further */

/* V NULL removes K. */
void ul_dict_set(ul_dict_t *d, const char *k, const char *v);
void ul_dict_free(ul_dict_t *d);
void ul_summary_lifecycle(ul_summary_t *s, const char *word);
void ul_summary_incident(ul_summary_t *s, uint64_t id, int open);
/* A JSON object: lifecycle, services, open_incidents, thresholds, alerts,
 * versions (malloc'd). */
char *ul_summary_json(const ul_summary_t *s);
void ul_summary_free(ul_summary_t *s);
