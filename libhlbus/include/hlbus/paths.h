/* Where the bus lives: endpoints under the runtime directory. */
#pragma once
#include <sys/types.h>

#define HLB_RUNTIME_DIR_DEFAULT "/run/hl"
#define HLB_BUS_PUB "bus/pub"   /* publishers connect (the proxy's PULL) */
#define HLB_BUS_SUB "bus/sub"   /* subscribers connect (the proxy's XPUB) */
#define HLB_CTL_DIR "ctl"       /* ctl/<daemon>: each daemon's ROUTER */

/* DIR if set, else $HL_RUNTIME_DIR, else /run/hl. Not a copy. */
const char *hlb_runtime_dir(const char *dir);
/* "ipc://<dir>/<rel>"; the caller frees. */
char *hlb_endpoint(const char *runtime_dir, const char *rel);
/* "<dir>/<rel>"; the caller frees. */
char *hlb_path(const char *runtime_dir, const char *rel);
/* mkdir -p with MODE for the directories it creates; 0 or -errno. */
int hlb_mkdir_p(const char *path, mode_t mode);
/* Where a socket named PATH is to be bound: PATH itself, or, when PATH is a
 * symbolic link, its target (relative targets from PATH's directory). Under
 * systemd ctl/<name> and stdio.sock are root-owned links into the daemon's
 * own directory (deploy/tmpfiles.d/hl.conf): the daemon binds the target,
 * clients connect through the link. One level: a link to a link is EMLINK.
 * The caller frees; NULL with errno on failure. */
char *hlb_socket_target(const char *path);
/* Whether something listens on the unix socket at PATH: 0, -ECONNREFUSED
 * (nobody: no file, or a stale one), -EACCES (not allowed to connect), or
 * another -errno. A plain connect(), closed at once. */
int hlb_socket_probe(const char *path);
/* A daemon name is [a-z0-9_-]{1,64}: it becomes a file name and a topic part. */
int hlb_name_valid(const char *name);
