/* A daemon's ctl endpoint: a ROUTER bound at ctl/<name> that decodes
 * requests strictly, dispatches them through a method table, authorises
 * mutating methods from the caller's kernel credentials (SO_PEERCRED), and
 * answers every request that can be answered: malformed and unknown ones get
 * an error reply, never a crash. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include <czmq.h>
#include <protobuf-c/protobuf-c.h>
#include "hlbus.pb-c.h"
#include "map.h"

typedef struct hlb_server hlb_server_t;

/* One request being served. Valid during the method call only, unless the
 * method keeps it with hlb_request_defer(). */
typedef struct hlb_request {
    const char *method;
    const Hl__Request *req;       /* type and raw body */
    const ProtobufCMessage *args; /* body decoded when its type is registered */
    hlb_mpview_t *map;            /* body as a map when its type is msgpack */
    bool cred_known;
    uid_t uid;
    gid_t gid;
    pid_t pid;
    /* private to the server */
    zframe_t *identity_;
    bool delimiter_;
    bool cache_;
    hlb_server_t *server_;
} hlb_request_t;

/* What a method fills in. */
typedef struct hlb_reply hlb_reply_t;
void hlb_reply_error(hlb_reply_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hlb_reply_msg(hlb_reply_t *r, const ProtobufCMessage *body);
void hlb_reply_map(hlb_reply_t *r, hlb_map_t *map);

/* Method flags. */
#define HLB_METHOD_ADMIN 0x1 /* changes something: root or the admin group only */

typedef void (hlb_method_fn)(hlb_request_t *req, hlb_reply_t *reply, void *arg);

typedef struct hlb_method {
    const char *name;
    hlb_method_fn *fn;
    unsigned flags;
    const char *help; /* one line, listed by the built-in "help" method */
} hlb_method_t;

/* Binds ipc://<runtime_dir>/ctl/<name> (replacing a stale socket file) with
 * mode 0660 inside a 0755 ctl directory. */
hlb_server_t *hlb_server_new(const char *runtime_dir, const char *name);
void hlb_server_destroy(hlb_server_t **self_p);
/* Adds a NULL-name-terminated table; entries must outlive the server. */
void hlb_server_add_methods(hlb_server_t *s, const hlb_method_t *methods, void *arg);
/* Members of group GID (primary or supplementary) may call admin methods,
 * besides root. (gid_t)-1 allows root only. */
void hlb_server_set_admin_gid(hlb_server_t *s, gid_t gid);
zsock_t *hlb_server_sock(hlb_server_t *s);
/* Reads and serves whatever requests are waiting; call when the socket is
 * readable. */
void hlb_server_handle(hlb_server_t *s);
uint64_t hlb_server_served(const hlb_server_t *s);
uint64_t hlb_server_rejected(const hlb_server_t *s);

/* Deferred replies, for methods that finish later (a systemd job, a health
 * probe): inside the method, hlb_request_defer() returns a handle and the
 * server sends nothing now; later, build a reply with hlb_deferred_reply()
 * and send it with hlb_deferred_send(), which frees the handle. A deferred
 * request must be answered (or its handle sent with an error) before the
 * server is destroyed. */
typedef struct hlb_deferred hlb_deferred_t;
hlb_deferred_t *hlb_request_defer(hlb_request_t *req, hlb_reply_t *reply);
hlb_reply_t *hlb_deferred_reply(hlb_deferred_t *d);
const char *hlb_deferred_method(const hlb_deferred_t *d);
void hlb_deferred_send(hlb_deferred_t **d_p);

/* Whether UID/GID may call admin methods given ADMIN_GID: root, the primary
 * group, or the user's supplementary groups. Exposed for tests. */
bool hlb_cred_is_admin(uid_t uid, gid_t gid, gid_t admin_gid);
/* The kernel credentials of the ipc peer a received frame came from
 * (libzmq's "Peer-Address" metadata, from SO_PEERCRED at accept); false
 * when the frame carries none (not ipc). */
bool hlb_peer_cred(zmq_msg_t *f, uid_t *uid, gid_t *gid, pid_t *pid);
