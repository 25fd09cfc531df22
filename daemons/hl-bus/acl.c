/* The topic ACL: see acl.h. */
#include "acl.h"

#include <errno.h>
#include <hlbus/hlbus.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Who HLB_OWNER_SELF stands for: every daemon of ours (each publishes its
 * own daemon.<name>, log.<name>.*, lifecycle.ack.<name>), the owners in the
 * contract's table and those that own no family. */
const char *const acl_daemon_users[] = {"hl-bus", "hl-service-runner", NULL};
static bool lookup(const char *user, uid_t *uid)
{
    int64_t n;
    if (hlb_parse_int(user, &n) == 0 && n >= 0 && n < (int64_t)(uid_t)-1) {
        *uid = (uid_t)n;
        return true;
    }
    struct passwd pw, *pwp = NULL;
    char buf[4096];
    if (getpwnam_r(user, &pw, buf, sizeof buf, &pwp) != 0 || !pwp)
        return false;
    *uid = pw.pw_uid;
    return true;
}

bool acl_resolve(const char *user, uid_t *uid)
{
    return lookup(user, uid) || lookup("hl", uid);
}

static void add_uid(uid_t *v, size_t *n, uid_t u)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i] == u)
            return;
    if (*n < ACL_MAX_UIDS)
        v[(*n)++] = u;
}

/* Adds every daemon user to UIDS: the table's owners and acl_daemon_users. */
static void all_daemons(uid_t *uids, size_t *n)
{
    uid_t u;
    for (const hlb_topic_family_t *f = hlb_topic_families(); f->prefix; f++)
        if (strcmp(f->owner, HLB_OWNER_SELF) != 0 && acl_resolve(f->owner, &u))
            add_uid(uids, n, u);
    for (size_t k = 0; acl_daemon_users[k]; k++)
        if (acl_resolve(acl_daemon_users[k], &u))
            add_uid(uids, n, u);
}

void acl_load_defaults(acl_t *a)
{
    uid_t self = a->self;
    gid_t admin = a->admin_gid;
    memset(a, 0, sizeof *a);
    a->self = self;
    a->admin_gid = admin;
    /* the bus contract's families (hlbus/topics.h), each owned by its
     * daemon's user; a family two daemons publish on has a row each */
    for (const hlb_topic_family_t *f = hlb_topic_families(); f->prefix; f++) {
        acl_rule_t *r = NULL;
        for (size_t i = 0; i < a->nrules; i++)
            if (strcmp(a->rules[i].prefix, f->prefix) == 0)
                r = &a->rules[i];
        if (!r) {
            if (acl_set(a, f->prefix, NULL, 0, false) < 0)
                continue;
            r = &a->rules[a->nrules - 1];
        }
        uid_t u;
        if (strcmp(f->owner, HLB_OWNER_SELF) == 0)
            all_daemons(r->uids, &r->nuids);
        else if (acl_resolve(f->owner, &u))
            add_uid(r->uids, &r->nuids, u);
    }
}

int acl_set(acl_t *a, const char *prefix, const uid_t *uids, size_t n, bool admins)
{
    acl_rule_t *r = NULL;
    for (size_t i = 0; i < a->nrules; i++)
        if (strcmp(a->rules[i].prefix, prefix) == 0)
            r = &a->rules[i];
    if (!r) {
        if (a->nrules == ACL_MAX_RULES || strlen(prefix) >= sizeof r->prefix)
            return -E2BIG;
        r = &a->rules[a->nrules++];
    }
    memset(r, 0, sizeof *r);
    strcpy(r->prefix, prefix);
    for (size_t i = 0; i < n; i++)
        add_uid(r->uids, &r->nuids, uids[i]);
    r->admins = admins;
    return 0;
}

bool acl_may_publish(const acl_t *a, const char *topic, size_t len, uid_t uid, gid_t gid)
{
    if (uid == 0 || uid == a->self)
        return true;
    const acl_rule_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < a->nrules; i++) {
        size_t pl = strlen(a->rules[i].prefix);
        if (pl <= len && pl >= best_len && memcmp(topic, a->rules[i].prefix, pl) == 0) {
            best = &a->rules[i];
            best_len = pl;
        }
    }
    if (!best)
        return true; /* a family nobody owns */
    for (size_t i = 0; i < best->nuids; i++)
        if (best->uids[i] == uid)
            return true;
    return best->admins && hlb_cred_is_admin(uid, gid, a->admin_gid);
}
