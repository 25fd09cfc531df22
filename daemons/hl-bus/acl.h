/* Who may publish what: the topic ACL hl-bus enforces on every message,
 * with the publisher's kernel credentials (SO_PEERCRED of its bus/pub
 * connection, which it cannot fake).
 *
 * A rule owns a topic prefix and lists the uids that may publish under it;
 * the longest matching prefix decides. A rule may also let admins (members
 * of the admin group) publish, for `hlctl pub`. Topics under no rule are
 * open to whoever may connect to bus/pub. Root and hl-bus's own uid may
 * always publish (root can do anything anyway; a dev setup runs every
 * daemon as one user). Users are names resolved when the config is loaded:
 * a daemon's own user if it exists, else the shared user of today ("hl"). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ACL_MAX_RULES 64
#define ACL_MAX_UIDS 16

typedef struct acl_rule {
    char prefix[64];
    uid_t uids[ACL_MAX_UIDS];
    size_t nuids;
    bool admins; /* members of the admin group may publish too */
} acl_rule_t;

typedef struct acl {
    acl_rule_t rules[ACL_MAX_RULES];
    size_t nrules;
    gid_t admin_gid; /* (gid_t)-1: no admin group */
    uid_t self;      /* hl-bus's own uid */
} acl_t;

/* The families and their owners are the bus contract's (hlbus/topics.h);
 * HLB_OWNER_SELF families may be published by any daemon user: these, and
 * every owner in that table. */
extern const char *const acl_daemon_users[];

/* Resolves USER (a name or a decimal uid) to a uid; the shared user "hl"
 * stands in for a daemon user that does not exist. false if neither does. */
bool acl_resolve(const char *user, uid_t *uid);
/* Fills A with the default rules (hlb_topic_families); unresolvable owners leave
 * the family to root and hl-bus alone. */
void acl_load_defaults(acl_t *a);
/* Adds or replaces the rule for PREFIX; -E2BIG when full. */
int acl_set(acl_t *a, const char *prefix, const uid_t *uids, size_t n, bool admins);
bool acl_may_publish(const acl_t *a, const char *topic, size_t len, uid_t uid, gid_t gid);
