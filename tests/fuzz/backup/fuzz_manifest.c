/* hl-backup's manifest parser under fuzzing. A manifest is read back from
 * a disk that may have damaged it, and its paths decide where a restore is
 * checked, so the parser must refuse anything malformed without crashing,
 * and whatever it takes must be safe and stable:
 *   - the input as it is (the end line's SHA-256 refuses nearly all), and
 *   - the input sealed with a matching end line, so that mutations reach
 *     the header and entry parsers;
 *   - what parses has only plain absolute paths, in order, and formats
 *     back to text that parses to the same entries.
 * Built as a libFuzzer target with -DHL_FUZZ=ON (clang), and as a replay
 * program (every ctest run) over corpus/ and mutations of it. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz_util.h"
#include "bk_manifest.h"

static void check_parsed(bk_manifest_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        assert(bk_path_ok(m->e[i].path));
        assert(i == 0 || strcmp(m->e[i - 1].path, m->e[i].path) < 0);
        assert(strchr("fdlo", m->e[i].type) && m->e[i].mode <= 07777);
    }
    size_t len;
    char *text = bk_manifest_format(m, &len);
    assert(text);
    bk_manifest_t back;
    char err[256];
    int r = bk_manifest_parse(text, len, &back, err, sizeof err);
    assert(r == 0);
    assert(back.n == m->n);
    for (size_t i = 0; i < m->n; i++) {
        assert(!strcmp(back.e[i].path, m->e[i].path));
        assert(!strcmp(back.e[i].sha, m->e[i].sha) && back.e[i].size == m->e[i].size);
    }
    bk_manifest_free(&back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bk_manifest_t m;
    char err[256];
    if (bk_manifest_parse((const char *) data, size, &m, err, sizeof err) == 0) {
        check_parsed(&m);
        bk_manifest_free(&m);
    } else {
        assert(!strncmp(err, "line ", 5));
    }
    /* sealed: the same bytes with a matching end line */
    char *buf = malloc(size + 70);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    char hex[BK_SHA_HEX];
    bk_sha256_buf(buf, size, hex);
    memcpy(buf + size, "end ", 4);
    memcpy(buf + size + 4, hex, 64);
    buf[size + 68] = '\n';
    if (bk_manifest_parse(buf, size + 69, &m, err, sizeof err) == 0) {
        check_parsed(&m);
        bk_manifest_free(&m);
    } else {
        assert(!strncmp(err, "line ", 5));
    }
    free(buf);
    return 0;
}

#ifndef HL_FUZZ_LIBFUZZER
#include <dirent.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 64;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 2;
    }
    unsigned long long s = 0x9E3779B97F4A7C15ULL;
    size_t runs = 0;
    struct dirent *e;
    static uint8_t input[16384], buf[16384 + 64];
    static const char tokens[] = " %\n-0123456789abcdef/.fdlosi";
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        size_t n = fread(input, 1, sizeof input, f);
        fclose(f);
        LLVMFuzzerTestOneInput(input, n);
        runs++;
        for (int k = 0; k < 20000; k++) {
            memcpy(buf, input, n);
            size_t len = n;
            int edits = 1 + (int) (s % 3);
            for (int j = 0; j < edits; j++) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                size_t at = len ? (size_t) (s >> 8) % len : 0;
                switch (s % 5) {
                case 0: buf[at] = (uint8_t) (s >> 16); break;
                case 1: len = at; break; /* a cut */
                case 2: buf[at] = (uint8_t) tokens[(s >> 20) % (sizeof tokens - 1)]; break;
                case 3: /* a byte inserted */
                    if (len < sizeof buf - 1) {
                        memmove(buf + at + 1, buf + at, len - at);
                        buf[at] = (uint8_t) tokens[(s >> 24) % (sizeof tokens - 1)];
                        len++;
                    }
                    break;
                default: /* a byte removed */
                    if (len) {
                        memmove(buf + at, buf + at + 1, len - at - 1);
                        len--;
                    }
                }
            }
            LLVMFuzzerTestOneInput(buf, len);
            runs++;
        }
    }
    closedir(d);
    printf("%zu inputs, no crash, every oracle held\n", runs);
    return 0;
}
#endif
