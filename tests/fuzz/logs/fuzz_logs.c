/* hl-logs' decoders under fuzzing, one target per FUZZ_WHAT:
 *   spool:  the spool record decoder on the input, then the spool reader over
 *           a chunk file holding the input (torn tail cut, quarantine, order);
 *   record: the JSON checker and the line parser of analyze on the input,
 *           and the JSON line encoder with the input as message and fields
 *           (its output must pass the checker).
 * Built as a libFuzzer target with -DHL_FUZZ=ON (clang), and as a replay
 * program (every ctest run) over corpus/ and mutations of it. */
#include <assert.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hlbus/buf.h>

#include "../fuzz_util.h"
#include "lg_analyze.h"
#include "lg_record.h"
#include "lg_spool.h"

#ifndef FUZZ_WHAT_SPOOL
#define FUZZ_WHAT_SPOOL 0
#endif

static char *spool_dir;

static void fuzz_spool(const uint8_t *data, size_t size)
{
    lg_spool_rec_t r;
    size_t used = 0, at = 0;
    while (at < size && lg_spool_decode(data + at, size - at, &r, &used) == 1) {
        assert(used > 0 && used <= size - at);
        assert(r.line_len <= size && r.id_len <= 64);
        at += used;
    }
    /* the reader over a chunk made of the input, twice (the second sealed) */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s/s", spool_dir);
    if (system(cmd) != 0)
        return;
    char dir[400], path[500];
    snprintf(dir, sizeof dir, "%s/s", spool_dir);
    if (mkdir(dir, 0700) < 0)
        return;
    for (int c = 1; c <= 2; c++) {
        snprintf(path, sizeof path, "%s/%016x.chunk", dir, c);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            return;
        if (write(fd, data, size) != (ssize_t)size) {
            close(fd);
            return;
        }
        close(fd);
    }
    lg_spool_t *sp = NULL;
    if (lg_spool_open(&sp, dir, 1 << 30, 1 << 20) < 0)
        return;
    size_t n = 0;
    while (lg_spool_next(sp, &r) == 1 && n < 100000)
        n++;
    lg_spool_confirm(sp, lg_spool_tell(sp), false);
    lg_spool_close(&sp);
}

static void fuzz_record(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bool valid = lg_json_object_valid(s, size);
    lg_line_t l;
    bool parsed = lg_line_parse(s, size, &l);
    if (valid)
        assert(parsed); /* what the checker takes, the parser reads */
    hlb_buf_t norm = {0};
    lg_normalise(s, size, &norm);
    hlb_buf_free(&norm);
    lg_record_t r = {0};
    r.message = (lg_text_t){s, size};
    r.fields = (lg_text_t){s, size};
    r.name = (lg_text_t){s, size < 40 ? size : 40};
    r.unit = (lg_text_t){"", 0};
    r.boot_id = (lg_text_t){"", 0};
    r.origin = (lg_text_t){"journal", 7};
    lg_record_set_id(&r, s, size);
    hlb_buf_t out = {0};
    lg_record_json(&r, 1024 + size % 8192, &out);
    assert(out.len > 0 && out.data[out.len - 1] == '\n');
    assert(lg_json_object_valid(out.data, out.len - 1));
    assert(lg_line_parse(out.data, out.len - 1, &l));
    hlb_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!spool_dir)
        spool_dir = fuzz_tmpdir();
    if (FUZZ_WHAT_SPOOL)
        fuzz_spool(data, size);
    else
        fuzz_record(data, size);
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
    static uint8_t input[8192], buf[8192 + 64];
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
        for (int m = 0; m < (FUZZ_WHAT_SPOOL ? 300 : 5000); m++) {
            memcpy(buf, input, n);
            size_t len = n;
            static const char tokens[] = "{}[]\":,\\0123\x90\x96\xa5\xd9\xdb\xcf";
            int edits = 1 + (int)(s % 4);
            for (int k = 0; k < edits; k++) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                size_t at = len ? (size_t)(s >> 8) % len : 0;
                switch (s % 4) {
                case 0: buf[at] = (uint8_t)(s >> 16); break;
                case 1: if (len) len = at; break;
                case 2: if (len < sizeof buf) buf[len++] = (uint8_t)(s >> 24); break;
                default: buf[at] = (uint8_t)tokens[(s >> 20) % (sizeof tokens - 1)]; break;
                }
            }
            LLVMFuzzerTestOneInput(buf, len);
            runs++;
        }
    }
    closedir(d);
    printf("%zu runs\n", runs);
    return 0;
}
#endif
