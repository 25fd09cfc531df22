/* SHA-256 through libcrypto's EVP interface (see bk_sha256.h). */
#include "bk_sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <openssl/evp.h>

static void to_hex(const unsigned char *md, unsigned n, char hex[BK_SHA_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n && i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

int bk_sha256_fd(int fd, char hex[BK_SHA_HEX], uint64_t *size)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -ENOMEM;
    }
    static __thread unsigned char buf[1 << 16];
    uint64_t total = 0;
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t) n);
        total += (uint64_t) n;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!r && EVP_DigestFinal_ex(ctx, md, &len) != 1)
        r = -EIO;
    EVP_MD_CTX_free(ctx);
    if (r)
        return r;
    to_hex(md, len, hex);
    if (size)
        *size = total;
    return 0;
}

int bk_sha256_file(int dirfd, const char *path, char hex[BK_SHA_HEX], uint64_t *size)
{
    int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    int r = bk_sha256_fd(fd, hex, size);
    close(fd);
    return r;
}

void bk_sha256_buf(const void *data, size_t len, char hex[BK_SHA_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    to_hex(md, n, hex);
}
