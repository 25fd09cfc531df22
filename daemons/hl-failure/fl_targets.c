/* hl-failure: the targets it watches (a service, the network, a resource
 * pattern with a command), each with its recovery policy, made on first
 * failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/acall.h>
#include <hlbus/clock.h>
#include <hlbus/proc.h>
#include <hlbus/strv.h>

#include "fl_daemon.h"

static fl_policy_cfg_t command_policy(const fl_config_t *c)
{
    fl_policy_cfg_t p = c->defaults;
    p.actions[0] = "command";
    p.nactions = 1;
    p.credit_systemd = false;
    return p;
}

fl_incident_t *fl_incident_of(target_t *t)
{
    return t->incident ? fl_incidents_get(t->fd->inc, t->incident) : NULL;
}

/* ---- targets ---- */

target_t *fl_target_find(fl_daemon_t *fd, const char *name)
{
    for (size_t i = 0; name && i < fd->ntargets; i++)
        if (strcmp(fd->targets[i]->name, name) == 0)
            return fd->targets[i];
    return NULL;
}

/* The policy config for target NAME of KIND under the current config, or
 * NULL when its failures are only reported. */
bool fl_policy_cfg_for(const fl_daemon_t *fd, const char *name, tkind_t kind,
                           char *const *t_command, fl_policy_cfg_t *out)
{
    const fl_config_t *c = fd->cfg;
    if (kind == T_NETWORK) {
        if (!c->network_command)
            return false;
        *out = c->network_policy;
        return true;
    }
    if (kind == T_COMMAND) { /* a resource pattern with a recovery command */
        *out = command_policy(c);
        return t_command != NULL;
    }
    const fl_policy_cfg_t *p = fl_config_policy_for(c, name);
    if (p)
        *out = *p;
    return p != NULL;
}

target_t *fl_target_get(fl_daemon_t *fd, const char *name, tkind_t kind,
                            char *const *command)
{
    target_t *t = fl_target_find(fd, name);
    if (t)
        return t;
    target_t **v = realloc(fd->targets, (fd->ntargets + 1) * sizeof *v);
    if (!v)
        return NULL;
    fd->targets = v;
    t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        return NULL;
    }
    t->fd = fd;
    t->kind = kind;
    if (kind == T_COMMAND && command)
        t->command = hlb_strv_dup(command);
    if (kind == T_SERVICE) {
        const fl_service_cfg_t *sc = fl_config_service(fd->cfg, name);
        if (sc) {
            t->unit = strdup(sc->unit);
        } else if ((t->unit = malloc(strlen(name) + sizeof ".service"))) {
            sprintf(t->unit, "%s%s", name, strchr(name, '.') ? "" : ".service");
        }
    }
    fl_policy_cfg_t pc;
    if (fl_policy_cfg_for(fd, name, kind, t->command, &pc)) {
        t->policy = fl_policy_new(name, &pc, fl_on_effect, t);
        if (t->policy)
            fl_policy_gate(t->policy, fd->gate_open, hlb_mono_ms());
    }
    fd->targets[fd->ntargets++] = t;
    return t;
}

void fl_target_free(target_t *t)
{
    hlb_acall_cancel(&t->call);
    hlb_acall_cancel(&t->stop_call);
    hlb_proc_cancel(&t->cmd);
    fl_policy_destroy(&t->policy);
    for (size_t i = 0; i < t->nq; i++)
        free(t->q[i].detail);
    free(t->name);
    free(t->unit);
    hlb_strv_free(t->command);
    free(t);
}
