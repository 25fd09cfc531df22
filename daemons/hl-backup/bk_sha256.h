/* SHA-256 of files and buffers (OpenSSL's libcrypto), as 64 hex digits:
 * what a manifest records for each file and for the archive itself. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define BK_SHA_HEX 65 /* 64 digits and the NUL */

/* HEX of the file at DIRFD/PATH (AT_FDCWD: relative to the cwd), read
 * without following a final link; *SIZE its length. 0 or -errno. */
int bk_sha256_file(int dirfd, const char *path, char hex[BK_SHA_HEX], uint64_t *size);
/* HEX of an open file from its start to its end. 0 or -errno. */
int bk_sha256_fd(int fd, char hex[BK_SHA_HEX], uint64_t *size);
void bk_sha256_buf(const void *data, size_t len, char hex[BK_SHA_HEX]);
