/* Reading and parsing the kernel's text files under /proc and /sys. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Largest file read whole (/proc/1/mounts on a busy container host is the
 * biggest one we read; a few hundred KiB). */
#define HLM_FILE_MAX (16u << 20)

/* Reads PATH whole into B (replacing its contents). 0 or -errno; -EFBIG
 * past HLM_FILE_MAX. */
int hlm_read_file(hlm_buf_t *b, const char *path);
/* Reads the one-line sysfs or cgroup attribute NAME of directory DIRFD
 * (AT_FDCWD: NAME is a path) into B, without the trailing newline. */
int hlm_read_line_at(hlm_buf_t *b, int dirfd, const char *name);
/* B = ROOT "/" REL (one slash between them whatever the input). */
const char *hlm_join(hlm_buf_t *b, const char *root, const char *rel);
const char *hlm_join3(hlm_buf_t *b, const char *root, const char *mid, const char *rel);

/* The next line of the text at *CUR, NUL-terminated in place; false at the
 * end. */
bool hlm_next_line(char **cur, char **line);
/* Splits LINE in place at runs of blanks (space, tab, newline); at most MAX fields; returns how
 * many. */
size_t hlm_split(char *line, char **fields, size_t max);
/* Strict parses of the whole string: 0 or -EINVAL / -ERANGE. */
int hlm_parse_u64(const char *s, uint64_t *out);
int hlm_parse_i64(const char *s, int64_t *out);
int hlm_parse_double(const char *s, double *out);
