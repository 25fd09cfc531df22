/* Startup timing series from lifecycle.state and lifecycle.phase: boot to
 * ready, the startup's own duration and each phase's, absent until known,
 * a new startup's pending phases clearing the old figures, untyped bodies
 * ignored. */
#include <string.h>
#include "check.h"
#include "orchestrator.pb-c.h"
#include "startup_metrics.h"

static char *render(hlm_startup_t *s)
{
    hlm_expo_t *e = hlm_expo_new();
    hlm_startup_render(s, e);
    size_t len;
    char *text = hlm_expo_steal(e, &len);
    hlm_expo_destroy(&e);
    return text;
}

static void phase(hlm_startup_t *s, const char *name, uint32_t index, Hl__PhaseState state,
                  uint64_t started, uint64_t finished)
{
    Hl__PhaseStatus m;
    hl__phase_status__init(&m);
    m.name = (char *) name;
    m.index = index;
    m.count = 2;
    m.state = state;
    m.started_us = started;
    m.finished_us = finished;
    hlm_startup_event(s, "lifecycle.phase", &m.base);
}

static void state(hlm_startup_t *s, uint64_t boot, uint64_t began, uint64_t ready)
{
    Hl__LifecycleState m;
    hl__lifecycle_state__init(&m);
    m.state = ready ? HL__LIFECYCLE__LIFECYCLE_READY : HL__LIFECYCLE__LIFECYCLE_STARTING;
    m.boot_us = boot;
    m.startup_began_us = began;
    m.ready_us = ready;
    hlm_startup_event(s, "lifecycle.state", &m.base);
}

int main(void)
{
    hlm_startup_t *s = hlm_startup_new();
    char *t = render(s);
    CHECK_MSG(t && !strstr(t, "hl_startup"), "before any event: %s", t ? t : "");
    free(t);

    const uint64_t boot = 1700000000000000ULL; /* wall clock, us */
    state(s, boot, 0, 0);                      /* starting: nothing yet */
    phase(s, "core", 1, HL__PHASE_STATE__PHASE_PENDING, 0, 0);
    phase(s, "core", 1, HL__PHASE_STATE__PHASE_DONE, boot + 4000000, boot + 5500000);
    phase(s, "health", 2, HL__PHASE_STATE__PHASE_STARTING, boot + 5500000, 0);
    t = render(s);
    CHECK_MSG(t && strstr(t, "hl_startup_phase_duration_seconds{index=\"1\",phase=\"core\"} 1.5\n"), "%s", t);
    CHECK_MSG(t && !strstr(t, "phase=\"health\"") && !strstr(t, "boot_to_ready"), "%s", t);
    free(t);

    phase(s, "health", 2, HL__PHASE_STATE__PHASE_DONE, boot + 5500000, boot + 5750000);
    state(s, boot, boot + 4000000, boot + 5750000);
    t = render(s);
    CHECK_MSG(t && strstr(t, "hl_startup_boot_to_ready_seconds 5.75\n"), "%s", t);
    CHECK_MSG(t && strstr(t, "hl_startup_duration_seconds 1.75\n"), "%s", t);
    CHECK_MSG(t && strstr(t, "hl_startup_ready_timestamp_seconds 1.70000000575e+09\n"), "%s", t);
    CHECK_MSG(t && strstr(t, "{index=\"2\",phase=\"health\"} 0.25\n"), "%s", t);
    CHECK_MSG(t && strstr(t, "# TYPE hl_startup_boot_to_ready_seconds gauge\n"), "%s", t);
    free(t);

    /* Unknown boot (systemd did not say): no boot-to-ready, the rest stays. */
    state(s, 0, boot + 4000000, boot + 5750000);
    t = render(s);
    CHECK_MSG(t && !strstr(t, "boot_to_ready") && strstr(t, "hl_startup_duration_seconds 1.75\n"), "%s", t);
    free(t);

    /* A new startup: its pending phases clear the old figures; the last
     * complete startup's totals stay until the new one is ready. */
    phase(s, "core", 1, HL__PHASE_STATE__PHASE_PENDING, 0, 0);
    phase(s, "health", 2, HL__PHASE_STATE__PHASE_PENDING, 0, 0);
    state(s, boot, 0, 0);
    t = render(s);
    CHECK_MSG(t && !strstr(t, "hl_startup_phase_duration_seconds") &&
                  strstr(t, "hl_startup_duration_seconds 1.75\n"), "%s", t);
    free(t);

    /* Untyped, wrong type, or the wrong topic: ignored. */
    hlm_startup_event(s, "lifecycle.phase", NULL);
    Hl__LifecycleState wrong;
    hl__lifecycle_state__init(&wrong);
    wrong.ready_us = boot + 9000000;
    wrong.boot_us = boot;
    hlm_startup_event(s, "lifecycle.phase", &wrong.base);
    hlm_startup_event(s, "lifecycle.other", &wrong.base);
    t = render(s);
    CHECK_MSG(t && !strstr(t, "boot_to_ready"), "%s", t);
    free(t);
    hlm_startup_destroy(&s);
    CHECK(s == NULL);
    return check_done();
}
