/* hl-orchestrator: phased startup, readiness, graceful shutdown and recovery
 * over systemd's D-Bus API; hl-orchestrator.c is where it starts. */
#include "orch.h"

int main(int argc, char **argv)
{
    static const hlb_daemon_ops_t ops = {
        .name = "hl-orchestrator",
        .summary = "Phased startup, readiness, graceful shutdown and recovery of the VM's "
                   "services, over systemd's D-Bus API.",
        .configure = orch_configure,
        .start = orch_start,
        .stop = orch_stop,
        .methods = orch_methods,
        .manual_ready = true,
        .help_extra = "READY=1 is sent when the last startup phase passes; STATUS= tells the\n"
                      "phase. A failed startup exits with status 3 after publishing its\n"
                      "report (lifecycle.phase); admins read the unit's journal with\n"
                      "`hlctl journal UNIT` (the journal method).\n"
                      "Stopping the unit runs the graceful shutdown (ExecStop=hlctl shutdown).",
    };
    orch_t o = {0};
    int rc = hlb_daemon_main(argc, argv, &ops, &o);
    orch_free(&o);
    return rc;
}
