/* Phase membership from systemd, so that a unit joins its startup phase
 * from its own files and adding a daemon edits no other daemon's source.
 *
 * A phase NAME configured without `units:` (the default phases are) has
 * the members that hl-phase-NAME.target lists, as systemd reports them over
 * sd-bus (the target's Requires and Wants properties, which include the
 * .requires/ and .wants/ links that `systemctl enable` makes):
 *
 *   RequiredBy=hl-phase-core.target   in a unit's [Install]: required; the
 *                                     startup fails when it cannot come up
 *   WantedBy=hl-phase-core.target     optional: skipped when not installed
 *                                     or masked
 *
 * Units that are not ours (network-online.target, docker.service) are
 * listed in the target's own file (Requires=, Wants=). A unit named by two
 * targets belongs to the first phase. A member whose service name is in
 * health.gates waits for health.<service>. The targets are never started:
 * they are lists, read once per configuration (at the first connection to
 * systemd and at each reload). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "sdm.h"

/* The members of phase INDEX of C from its target's dependency lists
 * REQUIRES and WANTS (NULL-terminated; NULL: none). Skipped: invalid names,
 * other phase targets, units of earlier phases of C and duplicates. Into
 * *OUT (an array of *N_OUT, owned by the caller; free the strings too).
 * 0 or -ENOMEM. */
int phases_members(const orch_cfg_t *c, size_t index, char *const *requires, char *const *wants,
                   orch_unit_cfg_t **out, size_t *n_out);

/* Watches the targets of C's phases that are read from systemd. */
void phases_watch_targets(const orch_cfg_t *c, sdm_t *m);

/* Fills C's target-read phases from the watched targets' state (M ready).
 * Once per configuration: later calls do nothing. 0, or -ENOENT when a
 * target is not installed (or cannot be loaded); *WHY (caller frees) then
 * says which and what to do. */
int phases_read(orch_cfg_t *c, sdm_t *m, char **why);

/* Whether systemd has answered for every phase member of C (the startup
 * judges units by their state, and an unknown state is no state). */
bool phases_members_known(const orch_cfg_t *c, sdm_t *m);
