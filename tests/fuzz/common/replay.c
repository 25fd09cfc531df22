/* The one replay driver of the fuzz targets (replay.h). */
#include "replay.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../fuzz_util.h"

#define DEFAULT_MAX_LEN 4096
#define GROWTH 64 /* room for the bytes edits append */

typedef struct run {
    const fuzz_replay_t *how;
    uint64_t rng;
    size_t inputs, seeds;
    uint8_t *seed, *mutant, *moded; /* moded: an input behind its mode byte */
    size_t max_len;
} run_t;

static uint64_t next(run_t *r)
{
    r->rng ^= r->rng << 13, r->rng ^= r->rng >> 7, r->rng ^= r->rng << 17;
    return r->rng;
}

static uint8_t pick(run_t *r, bool from_alphabet)
{
    uint64_t v = next(r);
    const char *a = r->how->alphabet;
    if (from_alphabet && a) {
        size_t n = r->how->alphabet_len ? r->how->alphabet_len : strlen(a);
        if (n)
            return (uint8_t)a[(v >> 20) % n];
    }
    return (uint8_t)(v >> 24);
}

/* With FUZZ_REPLAY_LAST=FILE each input is written to FILE before it runs,
 * so that the one a crash leaves there reproduces it. */
static void keep_last(const uint8_t *data, size_t len)
{
    static const char *path;
    static bool looked;
    if (!looked) {
        path = getenv("FUZZ_REPLAY_LAST");
        looked = true;
    }
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static void one(run_t *r, const uint8_t *data, size_t len)
{
    keep_last(data, len);
    r->inputs++;
    if (!r->how->modes) {
        LLVMFuzzerTestOneInput(data, len);
        return;
    }
    memcpy(r->moded + 1, data, len);
    for (unsigned m = 0; m < r->how->modes; m++) {
        r->moded[0] = (uint8_t)m;
        LLVMFuzzerTestOneInput(r->moded, len + 1);
        if (r->how->mode_flag) {
            r->moded[0] = (uint8_t)(m | r->how->mode_flag);
            LLVMFuzzerTestOneInput(r->moded, len + 1);
        }
    }
}

/* A seed and its mutations: bytes replaced (at random or from the
 * alphabet), inserted or removed, the input cut short, bytes appended. */
static void seed_and_mutants(run_t *r, size_t n)
{
    one(r, r->seed, n);
    int max_edits = r->how->max_edits > 0 ? r->how->max_edits : 4;
    for (int m = 0; m < r->how->mutations; m++) {
        memcpy(r->mutant, r->seed, n);
        size_t len = n;
        int edits = 1 + (int)(next(r) % (uint64_t)max_edits);
        for (int e = 0; e < edits; e++) {
            uint64_t v = next(r);
            size_t at = len ? (size_t)(v >> 8) % len : 0;
            switch (v % 6) {
            case 0:
                if (len)
                    r->mutant[at] = pick(r, false);
                break;
            case 1:
                if (len)
                    len = at; /* a cut */
                break;
            case 2:
                if (len < r->max_len + GROWTH)
                    r->mutant[len++] = pick(r, r->how->extend_from_alphabet);
                break;
            case 3: /* a byte inserted */
                if (len < r->max_len + GROWTH) {
                    memmove(r->mutant + at + 1, r->mutant + at, len - at);
                    r->mutant[at] = pick(r, true);
                    len++;
                }
                break;
            case 4: /* a byte removed */
                if (len) {
                    memmove(r->mutant + at, r->mutant + at + 1, len - at - 1);
                    len--;
                }
                break;
            default:
                if (len)
                    r->mutant[at] = pick(r, true);
                break;
            }
        }
        one(r, r->mutant, len);
    }
}

/* PATH: a seed, or a directory of them (recursively, dot files skipped). */
static int replay_path(run_t *r, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return -errno;
        struct dirent *de;
        int rc = 0;
        while ((de = readdir(d)) && rc == 0) {
            if (de->d_name[0] == '.')
                continue;
            char sub[4096];
            if (snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) >= (int)sizeof sub)
                continue;
            rc = replay_path(r, sub);
        }
        closedir(d);
        return rc;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t n = fread(r->seed, 1, r->max_len, f);
    fclose(f);
    seed_and_mutants(r, n);
    r->seeds++;
    return 0;
}

int fuzz_replay_main(int argc, char **argv, const fuzz_replay_t *how)
{
    run_t r = {.how = how, .rng = 0x9E3779B97F4A7C15ULL};
    r.max_len = how->max_len ? how->max_len : DEFAULT_MAX_LEN;
    r.seed = malloc(r.max_len + GROWTH);
    r.mutant = malloc(r.max_len + GROWTH);
    r.moded = malloc(r.max_len + GROWTH + 1);
    if (!r.seed || !r.mutant || !r.moded) {
        fprintf(stderr, "%s: out of memory\n", how->name);
        return 1;
    }
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++)
        if (replay_path(&r, argv[i]) < 0) {
            fprintf(stderr, "%s: %s: %s\n", how->name, argv[i], strerror(errno));
            rc = 1;
        }
    for (int i = 0; rc == 0 && i < how->random_inputs; i++) {
        size_t n = how->random_min + (how->random_max ? (size_t)(next(&r) % how->random_max) : 0);
        if (n > r.max_len + GROWTH)
            n = r.max_len + GROWTH;
        for (size_t k = 0; k < n; k++)
            r.mutant[k] = pick(&r, how->random_from_alphabet);
        one(&r, r.mutant, n);
    }
    if (rc == 0 && how->builtin)
        r.inputs += how->builtin();
    free(r.seed);
    free(r.mutant);
    free(r.moded);
    if (rc)
        return rc;
    printf("%s: %zu inputs from %zu seeds, %s\n", how->name, r.inputs, r.seeds,
           how->verdict ? how->verdict : "no crash");
    return r.inputs ? 0 : 2;
}
