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
#include "../common/replay.h"

/* Without libFuzzer: every seed of the corpus and 20000 mutations of each,
 * with the bytes a manifest is made of. */
int main(int argc, char **argv)
{
    static const fuzz_replay_t how = {
        .name = "fuzz_backup_manifest_replay",
        .max_len = 16384,
        .mutations = 20000,
        .max_edits = 3,
        .alphabet = " %\n-0123456789abcdef/.fdlosi",
        .verdict = "every oracle held",
    };
    return fuzz_replay_main(argc, argv, &how);
}
#endif
