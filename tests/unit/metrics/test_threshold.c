/* The threshold state machine: every transition of the table, exactly one
 * FIRE per excursion and one CLEAR after it, hysteresis, zero windows. */
#include <string.h>
#include "check.h"
#include "threshold.h"

static hlm_threshold_t th(double above, double clear_below, int64_t for_ms, int64_t clear_ms)
{
    hlm_threshold_cfg_t c = {.resource = HLM_RES_CPU, .above = above, .clear_below = clear_below,
                             .for_ms = for_ms, .clear_for_ms = clear_ms};
    strcpy(c.name, "cpu");
    hlm_threshold_t t;
    hlm_threshold_init(&t, &c);
    return t;
}

#define FEED(t, v, ms) hlm_threshold_feed(&(t), true, (v), (ms) * 1000, (ms) * 1000)

static void test_sustained(void)
{
    hlm_threshold_t t = th(80, 80, 1000, 500);
    CHECK(t.state == HLM_TH_OK);
    CHECK(FEED(t, 50, 0) == HLM_TH_NONE && t.state == HLM_TH_OK);      /* OK + LOW */
    CHECK(FEED(t, 90, 100) == HLM_TH_NONE && t.state == HLM_TH_PENDING); /* OK + HIGH */
    CHECK(t.window_us == 100 * 1000);
    CHECK(FEED(t, 95, 600) == HLM_TH_NONE && t.state == HLM_TH_PENDING); /* not yet */
    CHECK(FEED(t, 95, 1100) == HLM_TH_FIRE && t.state == HLM_TH_FIRING); /* sustained */
    CHECK(t.window_us == 100 * 1000); /* the event says when the excursion began */
    CHECK(FEED(t, 99, 1200) == HLM_TH_NONE && t.state == HLM_TH_FIRING);
    CHECK(FEED(t, 80, 1300) == HLM_TH_NONE && t.state == HLM_TH_RESOLVING); /* FIRING + LOW */
    CHECK(FEED(t, 81, 1400) == HLM_TH_NONE && t.state == HLM_TH_FIRING); /* RESOLVING + HIGH */
    CHECK(FEED(t, 10, 1500) == HLM_TH_NONE && t.state == HLM_TH_RESOLVING);
    CHECK(t.window_us == 1500 * 1000);
    CHECK(FEED(t, 10, 1900) == HLM_TH_NONE && t.state == HLM_TH_RESOLVING);
    CHECK(FEED(t, 10, 2000) == HLM_TH_CLEAR && t.state == HLM_TH_OK);
    CHECK(FEED(t, 10, 5000) == HLM_TH_NONE && t.state == HLM_TH_OK);
    CHECK(t.fired == 1 && t.cleared == 1);
    /* a short spike never fires: PENDING + LOW goes back to OK */
    CHECK(FEED(t, 90, 6000) == HLM_TH_NONE && t.state == HLM_TH_PENDING);
    CHECK(FEED(t, 70, 6500) == HLM_TH_NONE && t.state == HLM_TH_OK);
    CHECK(FEED(t, 90, 7000) == HLM_TH_NONE && t.state == HLM_TH_PENDING);
    CHECK(t.window_us == 7000 * 1000); /* a new excursion, a new window */
    CHECK(FEED(t, 90, 7999) == HLM_TH_NONE);
    CHECK(FEED(t, 90, 8000) == HLM_TH_FIRE);
    CHECK(t.fired == 2);
    hlm_threshold_fini(&t);
}

static void test_no_data(void)
{
    hlm_threshold_t t = th(80, 80, 1000, 1000);
    CHECK(hlm_threshold_feed(&t, false, 99, 0, 0) == HLM_TH_NONE && t.state == HLM_TH_OK);
    CHECK(!t.have_value);
    CHECK(FEED(t, 90, 0) == HLM_TH_NONE && t.state == HLM_TH_PENDING);
    /* missing samples neither fire nor reset the window */
    CHECK(hlm_threshold_feed(&t, false, 0, 5000000, 5000000) == HLM_TH_NONE);
    CHECK(t.state == HLM_TH_PENDING && t.value == 90);
    CHECK(FEED(t, 90, 5000) == HLM_TH_FIRE);
    hlm_threshold_fini(&t);
}

static void test_zero_windows(void)
{
    hlm_threshold_t t = th(4, 4, 0, 0);
    CHECK(FEED(t, 4.5, 0) == HLM_TH_FIRE && t.state == HLM_TH_FIRING);
    CHECK(FEED(t, 5, 1) == HLM_TH_NONE);
    CHECK(FEED(t, 4, 2) == HLM_TH_CLEAR && t.state == HLM_TH_OK); /* <= clear level */
    CHECK(FEED(t, 3, 3) == HLM_TH_NONE);
    CHECK(t.fired == 1 && t.cleared == 1);
    hlm_threshold_fini(&t);
}

static void test_hysteresis(void)
{
    /* fires above 90, clears only at or below 80: values between keep the
     * state, so a value wobbling around 90 publishes nothing new */
    hlm_threshold_t t = th(90, 80, 0, 0);
    int fires = 0, clears = 0;
    double wobble[] = {91, 89, 91, 85, 90.5, 81, 95, 89.9};
    for (size_t i = 0; i < sizeof wobble / sizeof wobble[0]; i++) {
        hlm_th_action_t a = FEED(t, wobble[i], (uint64_t)i);
        fires += a == HLM_TH_FIRE;
        clears += a == HLM_TH_CLEAR;
    }
    CHECK(fires == 1 && clears == 0 && t.state == HLM_TH_FIRING);
    CHECK(FEED(t, 80, 100) == HLM_TH_CLEAR);
    /* PENDING + MID falls back to OK (MID is not a new excursion) */
    hlm_threshold_t p = th(90, 80, 1000, 0);
    CHECK(FEED(p, 95, 0) == HLM_TH_NONE && p.state == HLM_TH_PENDING);
    CHECK(FEED(p, 85, 10) == HLM_TH_NONE && p.state == HLM_TH_OK);
    /* FIRING + MID stays FIRING; RESOLVING + MID goes back to FIRING */
    hlm_threshold_t f = th(90, 80, 0, 1000);
    CHECK(FEED(f, 95, 0) == HLM_TH_FIRE);
    CHECK(FEED(f, 85, 1) == HLM_TH_NONE && f.state == HLM_TH_FIRING);
    CHECK(FEED(f, 70, 2) == HLM_TH_NONE && f.state == HLM_TH_RESOLVING);
    CHECK(FEED(f, 85, 3) == HLM_TH_NONE && f.state == HLM_TH_FIRING);
    CHECK(f.fired == 1 && f.cleared == 0);
    hlm_threshold_fini(&t);
    hlm_threshold_fini(&p);
    hlm_threshold_fini(&f);
}

static void test_names(void)
{
    CHECK(hlm_resource_parse("cpu") == HLM_RES_CPU);
    CHECK(hlm_resource_parse("disk") == HLM_RES_DISK);
    CHECK(hlm_resource_parse("gpu") < 0);
    CHECK(hlm_resource_parse(NULL) < 0);
    CHECK(strcmp(hlm_resource_name(HLM_RES_LOAD), "load") == 0);
    CHECK(strcmp(hlm_th_state_name(HLM_TH_RESOLVING), "resolving") == 0);
    hlm_threshold_cfg_t c = {.resource = HLM_RES_DISK, .mountpoint = "/var"};
    hlm_threshold_t t;
    CHECK(hlm_threshold_init(&t, &c) == 0);
    CHECK(t.cfg.mountpoint != c.mountpoint && strcmp(t.cfg.mountpoint, "/var") == 0);
    hlm_threshold_fini(&t);
}

int main(void)
{
    test_sustained();
    test_no_data();
    test_zero_windows();
    test_hysteresis();
    test_names();
    return check_done();
}
