/* The topic ACL: see acl.h. */
#include "acl.h"

#include <errno.h>
#include <hlbus/hlbus.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void acl_load_defaults(acl_t *a)
{
    uid_t self = a->self;
    gid_t admin = a->admin_gid;
    memset(a, 0, sizeof *a);
    a->self = self;
    a->admin_gid = admin;
    a->has_shared = lookup("hl", &a->shared);
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
            r->name_at = strlen(f->prefix);
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

/* UID's user name ("" when it has none), remembered. */
static const char *user_of(acl_t *a, uid_t uid)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (a->users[i].uid == uid)
            return a->users[i].name;
    static char name[ACL_NAME_LEN];
    struct passwd pw, *pwp = NULL;
    char buf[4096];
    name[0] = '\0';
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &pwp) == 0 && pwp && strlen(pw.pw_name) < sizeof name)
        strcpy(name, pw.pw_name);
    if (a->nusers < ACL_MAX_NAMES) {
        acl_name_t *e = &a->users[a->nusers++];
        strcpy(e->name, name);
        e->uid = uid;
        e->found = name[0] != '\0';
        return e->name;
    }
    return name;
}

/* Whether NAME (LEN bytes) is a user of its own, remembered. Asked only for
 * the shared user's messages, so that a publisher cannot make hl-bus look
 * up names it makes up. */
static bool name_is_user(acl_t *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->nnames; i++)
        if (strlen(a->names[i].name) == len && memcmp(a->names[i].name, name, len) == 0)
            return a->names[i].found;
    char user[ACL_NAME_LEN];
    memcpy(user, name, len);
    user[len] = '\0';
    struct passwd pw, *pwp = NULL;
    char buf[4096];
    bool found = getpwnam_r(user, &pw, buf, sizeof buf, &pwp) == 0 && pwp;
    if (a->nnames < ACL_MAX_NAMES) {
        acl_name_t *e = &a->names[a->nnames++];
        strcpy(e->name, user);
        e->uid = found ? pw.pw_uid : (uid_t)-1;
        e->found = found;
    }
    return found;
}

/* Whether UID owns NAME (LEN bytes) in a per-name family: its own name, or
 * the shared user "hl" for a name that is nobody's user. */
static bool owns_name(acl_t *a, uid_t uid, const char *name, size_t len)
{
    if (len == 0 || len >= ACL_NAME_LEN)
        return false;
    const char *mine = user_of(a, uid);
    if (strlen(mine) == len && memcmp(mine, name, len) == 0)
        return true;
    return a->has_shared && uid == a->shared && !name_is_user(a, name, len);
}

int acl_let_admins(acl_t *a, const char *prefix)
{
    const acl_rule_t *owner = NULL;
    size_t best = 0;
    for (size_t k = 0; k < a->nrules; k++) {
        size_t pl = strlen(a->rules[k].prefix);
        if (pl <= strlen(prefix) && pl >= best && strncmp(prefix, a->rules[k].prefix, pl) == 0) {
            owner = &a->rules[k];
            best = pl;
        }
    }
    acl_rule_t keep = owner ? *owner : (acl_rule_t){.nuids = 0};
    int r = acl_set(a, prefix, keep.uids, keep.nuids, true);
    if (r == 0)
        for (size_t k = 0; k < a->nrules; k++)
            if (strcmp(a->rules[k].prefix, prefix) == 0)
                a->rules[k].name_at = keep.name_at;
    return r;
}

bool acl_may_publish(acl_t *a, const char *topic, size_t len, uid_t uid, gid_t gid)
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
    if (best->name_at) {
        const char *name = topic + best->name_at;
        size_t n = 0;
        while (best->name_at + n < len && name[n] != '.')
            n++;
        if (owns_name(a, uid, name, n))
            return true;
        return best->admins && hlb_cred_is_admin(uid, gid, a->admin_gid);
    }
    for (size_t i = 0; i < best->nuids; i++)
        if (best->uids[i] == uid)
            return true;
    return best->admins && hlb_cred_is_admin(uid, gid, a->admin_gid);
}
