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
#include "../common/replay.h"

/* Without libFuzzer: every seed of the corpus and mutations of each, with
 * the bytes JSON and msgpack are made of (fewer for the spool: each input
 * writes files). */
int main(int argc, char **argv)
{
    static const fuzz_replay_t how = {
        .name = FUZZ_WHAT_SPOOL ? "fuzz_logs_spool_replay" : "fuzz_logs_record_replay",
        .max_len = 8192,
        .mutations = FUZZ_WHAT_SPOOL ? 300 : 5000,
        .alphabet = "{}[]\":,\\0123\x90\x96\xa5\xd9\xdb\xcf",
    };
    return fuzz_replay_main(argc, argv, &how);
}
#endif
