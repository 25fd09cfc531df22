/* hl-git-sync's daemon side: configure, start, stop, the bus and the ctl
 * methods around the sync engine (gs_sync.h). main.c holds only the ops. */
#pragma once
#include <hlbus/hlbus.h>

typedef struct gitsync gitsync_t;

gitsync_t *gitsync_app(void);
void gitsync_app_free(gitsync_t *app);
int gitsync_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                      bool check_only, hlb_diag_t *diag, void *arg);
int gitsync_start(hlb_daemon_t *d, void *arg);
void gitsync_stop(hlb_daemon_t *d, void *arg);
extern const hlb_method_t gitsync_methods[];
extern const char gitsync_help[];
