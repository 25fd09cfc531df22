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
 * a daemon's own user if it exists, else the shared user of today ("hl").
 *
 * The per-name families (daemon.<name>, log.<name>.*, lifecycle.ack.<name>,
 * HLB_OWNER_SELF in the contract) belong to <name>'s own user, as
 * hlb_event_from_owner() checks on the subscriber's side: daemon.hl-health
 * only to hl-health. A name without a user of its own (hl-orchestrator,
 * which runs as root) falls back to the shared user "hl", never to another
 * daemon's user. What is looked up is the publisher's uid (its user name,
 * remembered until the ACL is rebuilt at a reload), never a name a
 * publisher makes up: only "hl"'s own messages need the name looked up. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ACL_MAX_RULES 64
#define ACL_MAX_UIDS 16
#define ACL_MAX_NAMES 64 /* users (and names) remembered; more are looked up each time */
#define ACL_NAME_LEN 33  /* a user name is at most 32 bytes (useradd's limit) */

typedef struct acl_rule {
    char prefix[64];
    uid_t uids[ACL_MAX_UIDS];
    size_t nuids;
    bool admins; /* members of the admin group may publish too */
    /* non-zero: a per-name rule, the topic's name begins at this offset (the
     * family prefix's length) and belongs to <name>'s user (UIDS unused) */
    size_t name_at;
} acl_rule_t;

/* A user, looked up once: UID's name, or NAME's uid; FOUND false when
 * there is no such user. */
typedef struct acl_name {
    char name[ACL_NAME_LEN];
    uid_t uid;
    bool found;
} acl_name_t;

typedef struct acl {
    acl_rule_t rules[ACL_MAX_RULES];
    size_t nrules;
    gid_t admin_gid; /* (gid_t)-1: no admin group */
    uid_t self;      /* hl-bus's own uid */
    acl_name_t users[ACL_MAX_NAMES]; /* publishers' uids seen so far, with their names */
    size_t nusers;
    acl_name_t names[ACL_MAX_NAMES]; /* names the shared user published, with their users */
    size_t nnames;
    uid_t shared;    /* the shared user "hl", if it exists */
    bool has_shared;
} acl_t;

/* Resolves USER (a name or a decimal uid) to a uid; the shared user "hl"
 * stands in for a daemon user that does not exist. false if neither does. */
bool acl_resolve(const char *user, uid_t *uid);
/* Fills A with the default rules (hlb_topic_families); unresolvable owners leave
 * the family to root and hl-bus alone; HLB_OWNER_SELF families are per-name. */
void acl_load_defaults(acl_t *a);
/* Adds or replaces the rule for PREFIX (a list of uids, never per-name: an
 * admin's topic_owners rule says who, and a longer prefix wins); -E2BIG when
 * full. */
int acl_set(acl_t *a, const char *prefix, const uid_t *uids, size_t n, bool admins);
/* admin_topics: lets admins publish under PREFIX too, keeping the owners of
 * the rule that decided it so far (its uids, or its per-name owners);
 * -E2BIG when full. */
int acl_let_admins(acl_t *a, const char *prefix);
/* Whether UID (primary group GID) may publish TOPIC (LEN bytes). A may
 * remember a per-name owner it looked up. */
bool acl_may_publish(acl_t *a, const char *topic, size_t len, uid_t uid, gid_t gid);
