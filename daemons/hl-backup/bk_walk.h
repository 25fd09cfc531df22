/* Walking a tree without following links: the scan of what is backed up
 * and the check of what a restore wrote use the same walk, so that both see
 * the same files the same way. */
#pragma once
#include <stdbool.h>
#include <sys/stat.h>

/* Called for every entry, the top first, a directory before what it holds.
 * PATH is the entry's path as the walk names it (BASE + the part below
 * TOP; see bk_walk), DIRFD/NAME opens it. Return 0 to go on, 1 to skip
 * what a directory holds, <0 to stop the walk with that value. */
typedef int (*bk_walk_fn)(const char *path, int dirfd, const char *name, const struct stat *sb,
                          void *arg);

/* Walks the tree at TOP. Paths handed to FN are BASE followed by the part
 * of the path below TOP ("/a" for TOP/a when BASE is ""), or BASE itself
 * for TOP. With ONE_FS it does not descend into another file system (as
 * tar's --one-file-system). A TOP that does not exist is -ENOENT. Entries
 * that vanish during the walk are skipped. 0, FN's negative value, or
 * -errno. */
int bk_walk(const char *top, const char *base, bool one_fs, bk_walk_fn fn, void *arg);

/* Removes the tree at PATH (a directory or a file), never following a link,
 * never crossing into another file system. 0 or -errno (the first error;
 * the rest is still removed as far as possible). Missing is 0. */
int bk_remove_tree(const char *path);
