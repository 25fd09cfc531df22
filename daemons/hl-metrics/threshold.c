#include "threshold.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/str.h>

typedef enum { IN_HIGH, IN_MID, IN_LOW, NINPUTS } input_t;

/* What the sample means for the window: whether the current state has
 * lasted its window decides among the two outcomes of a row. */
typedef struct {
    hlm_th_state_t next;         /* when the window has not yet elapsed (or none applies) */
    hlm_th_state_t next_elapsed; /* when it has */
    hlm_th_action_t action_elapsed;
    bool restart;                /* entering NEXT starts a new window */
} rule_t;

/* HIGH: value > above; LOW: value <= clear_below; MID: in between
 * (neither a new excursion nor a recovery: a firing threshold stays firing,
 * a pending one falls back to OK). */
static const rule_t rules[HLM_TH_NSTATES][NINPUTS] = {
    [HLM_TH_OK] = {
        [IN_HIGH] = {HLM_TH_PENDING, HLM_TH_PENDING, HLM_TH_NONE, true},
        [IN_MID] = {HLM_TH_OK, HLM_TH_OK, HLM_TH_NONE, false},
        [IN_LOW] = {HLM_TH_OK, HLM_TH_OK, HLM_TH_NONE, false},
    },
    [HLM_TH_PENDING] = {
        [IN_HIGH] = {HLM_TH_PENDING, HLM_TH_FIRING, HLM_TH_FIRE, false},
        [IN_MID] = {HLM_TH_OK, HLM_TH_OK, HLM_TH_NONE, true},
        [IN_LOW] = {HLM_TH_OK, HLM_TH_OK, HLM_TH_NONE, true},
    },
    [HLM_TH_FIRING] = {
        [IN_HIGH] = {HLM_TH_FIRING, HLM_TH_FIRING, HLM_TH_NONE, false},
        [IN_MID] = {HLM_TH_FIRING, HLM_TH_FIRING, HLM_TH_NONE, false},
        [IN_LOW] = {HLM_TH_RESOLVING, HLM_TH_RESOLVING, HLM_TH_NONE, true},
    },
    [HLM_TH_RESOLVING] = {
        [IN_HIGH] = {HLM_TH_FIRING, HLM_TH_FIRING, HLM_TH_NONE, true},
        [IN_MID] = {HLM_TH_FIRING, HLM_TH_FIRING, HLM_TH_NONE, true},
        [IN_LOW] = {HLM_TH_RESOLVING, HLM_TH_OK, HLM_TH_CLEAR, false},
    },
};

int hlm_threshold_init(hlm_threshold_t *t, const hlm_threshold_cfg_t *cfg)
{
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    t->cfg.mountpoint = NULL;
    if (cfg->mountpoint && !(t->cfg.mountpoint = strdup(cfg->mountpoint)))
        return -ENOMEM;
    t->state = HLM_TH_OK;
    return 0;
}

void hlm_threshold_fini(hlm_threshold_t *t)
{
    free(t->cfg.mountpoint);
    t->cfg.mountpoint = NULL;
}

static int64_t window(const hlm_threshold_t *t)
{
    return t->state == HLM_TH_PENDING ? t->cfg.for_ms
           : t->state == HLM_TH_RESOLVING ? t->cfg.clear_for_ms
                                          : 0;
}

hlm_th_action_t hlm_threshold_feed(hlm_threshold_t *t, bool valid, double value,
                                   uint64_t now_mono, uint64_t now_us)
{
    if (!valid)
        return HLM_TH_NONE;
    t->have_value = true;
    t->value = value;
    input_t in = value > t->cfg.above ? IN_HIGH : value <= t->cfg.clear_below ? IN_LOW : IN_MID;
    /* A state entered on this sample is evaluated again at once, so that a
     * zero window fires (or clears) on the first sample: at most two steps,
     * enter the window, then leave it. */
    for (int step = 0; step < 2; step++) {
        const rule_t *r = &rules[t->state][in];
        bool elapsed = (int64_t)(now_mono - t->window_mono) >= window(t) * 1000;
        hlm_th_state_t next = elapsed ? r->next_elapsed : r->next;
        hlm_th_action_t act = elapsed ? r->action_elapsed : HLM_TH_NONE;
        if (r->restart) {
            t->window_mono = now_mono;
            t->window_us = now_us;
        }
        bool changed = next != t->state;
        t->state = next;
        if (act == HLM_TH_FIRE)
            t->fired++;
        else if (act == HLM_TH_CLEAR)
            t->cleared++;
        if (act != HLM_TH_NONE || !changed)
            return act;
    }
    return HLM_TH_NONE;
}

static const char *const res_names[HLM_RES_COUNT] = {"cpu", "memory", "disk", "load"};

const char *hlm_resource_name(hlm_resource_t r)
{
    return hlb_enum_name(res_names, HLM_RES_COUNT, r, "?");
}

int hlm_resource_parse(const char *s)
{
    return hlb_enum_parse(res_names, HLM_RES_COUNT, s);
}

const char *hlm_th_state_name(hlm_th_state_t s)
{
    static const char *const names[HLM_TH_NSTATES] = {"ok", "pending", "firing", "resolving"};
    return hlb_enum_name(names, HLM_TH_NSTATES, s, "?");
}
