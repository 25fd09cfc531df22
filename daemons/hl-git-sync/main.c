/* hl-git-sync: the workspace repository, cloned and kept in sync with its
 * upstream without ever losing local work (spec 3.3; docs/git-sync.md). */
#include "hl-git-sync.h"

int main(int argc, char **argv)
{
    static const hlb_daemon_ops_t ops = {
        .name = "hl-git-sync",
        .summary = "Clones the workspace repository and keeps its branch in sync with the\n"
                   "upstream every interval, saving the whole working state before any update.",
        .configure = gitsync_configure,
        .start = gitsync_start,
        .stop = gitsync_stop,
        .methods = gitsync_methods,
        .manual_ready = true,
        .help_extra = gitsync_help,
    };
    gitsync_t *app = gitsync_app();
    int rc = hlb_daemon_main(argc, argv, &ops, app);
    gitsync_app_free(app);
    return rc;
}
