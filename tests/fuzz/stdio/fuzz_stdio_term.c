/* Fuzz target for the terminal side of the attach protocol (#16): what a
 * late joiner is drawn and what a recording holds, from any program output.
 *   header byte: the terminal's size (cols 2..65, rows 2..33)
 *   frame 0: the program's output, fed to a terminal (term.c, libvterm)
 *   frame 1: more output after a resize to a size from its first bytes
 *   frame 2: what the viewer's terminal showed before (overdrawn; 7-bit)
 * Oracles: the redraw (R frames) drawn on the viewer's terminal gives the
 * same text as the program's terminal; the recording's escaping (rec.c) of
 * the same output, split anywhere, is always an event that the parser of
 * `hlctl sessions` (cast.c) reads back; that parser and the W frame codec
 * take any bytes without harm. With HL_FUZZ a libFuzzer target; otherwise
 * a test over the seeds in corpus-term/ and mutations of them. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz_util.h"
#include "cast.h"
#include "rec.h"
#include "term.h"
#include "wire.h"

static const uint8_t *cur_in;
static size_t cur_len;

static void check_redraw(unsigned cols, unsigned rows, const fuzz_frames_t *f)
{
    stdio_term_t *prog = stdio_term_new(cols, rows);
    assert(prog);
    stdio_term_feed(prog, f->data[0], f->len[0]);
    if (f->n > 1 && f->len[1] >= 2) {
        unsigned c2 = 2 + f->data[1][0] % 64, r2 = 2 + f->data[1][1] % 32;
        stdio_term_resize(prog, c2, r2);
        stdio_term_feed(prog, f->data[1] + 2, f->len[1] - 2);
        cols = c2;
        rows = r2;
    }
    char *draw = NULL;
    size_t dl = 0;
    assert(stdio_term_redraw(prog, &draw, &dl) == 0);
    stdio_term_t *viewer = stdio_term_new(cols, rows);
    assert(viewer);
    if (f->n > 2) {
        /* 7-bit: libvterm keeps half a UTF-8 character pending across
         * everything but its continuation, which no redraw can know; the
         * strings and sequences it may be in the middle of are fuzzed. */
        uint8_t *g = malloc(f->len[2] + 1);
        assert(g);
        for (size_t i = 0; i < f->len[2]; i++)
            g[i] = f->data[2][i] & 0x7f;
        stdio_term_feed(viewer, g, f->len[2]);
        free(g);
    }
    stdio_term_feed(viewer, draw, dl);
    char *a = stdio_term_text(prog), *b = stdio_term_text(viewer);
    assert(a && b);
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "redraw differs:\n%s\n---\n%s\n--- the redraw:\n", a, b);
        for (size_t i = 0; i < dl; i++)
            fprintf(stderr, draw[i] >= 0x20 && draw[i] < 0x7f ? "%c" : "\\x%02x",
                    (unsigned char)draw[i]);
        fprintf(stderr, "\n--- what the viewer showed before: %zu bytes\n", f->n > 2 ? f->len[2] : 0);
        const char *dump = getenv("FUZZ_DUMP");
        FILE *fp = dump ? fopen(dump, "wb") : NULL;
        if (fp) {
            fwrite(cur_in, 1, cur_len, fp);
            fclose(fp);
        }
        abort();
    }
    free(a);
    free(b);
    free(draw);
    stdio_term_free(&prog);
    stdio_term_free(&viewer);
}

static void check_recording(const fuzz_frames_t *f)
{
    const uint8_t *d = f->data[0];
    size_t n = f->len[0];
    size_t cut = n ? (size_t)d[0] % (n + 1) : 0;
    size_t cap = 6 * (n + 4) + 64;
    char *out = malloc(cap + 64);
    assert(out);
    uint8_t carry[4];
    size_t cl = 0;
    size_t o = (size_t)snprintf(out, cap, "[0.5, \"o\", \"");
    o += stdio_rec_escape(d, cut, carry, &cl, out + o, cap - o);
    o += stdio_rec_escape(d + cut, n - cut, carry, &cl, out + o, cap - o);
    assert(cl <= 3);
    memcpy(out + o, "\"]", 2);
    o += 2;
    cast_event_t ev;
    assert(cast_event(out, o, &ev) == 0);
    assert(ev.kind == 'o' && ev.len <= 3 * n + 3);
    cast_event_free(&ev);
    free(out);
}

static void check_parsers(const fuzz_frames_t *f)
{
    for (int i = 0; i < f->n; i++) {
        cast_event_t ev;
        if (cast_event((const char *)f->data[i], f->len[i], &ev) == 0) {
            assert(ev.data && ev.len <= f->len[i]);
            assert(ev.data[ev.len] == 0);
            cast_event_free(&ev);
        }
        unsigned w, h;
        if (cast_header((const char *)f->data[i], f->len[i], &w, &h))
            assert(w >= 1 && w <= 65535 && h >= 1 && h <= 65535);
        if (f->len[i] >= 4) {
            unsigned c, r;
            uint8_t back[4];
            stdio_wire_get_size(f->data[i], &c, &r);
            stdio_wire_put_size(back, c, r);
            assert(memcmp(back, f->data[i], 4) == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    cur_in = data;
    cur_len = size;
    unsigned cols = 2 + data[0] % 64, rows = 2 + (data[0] >> 6) * 10;
    fuzz_frames_t f;
    fuzz_split(data + 1, size - 1, 3, &f);
    check_redraw(cols, rows, &f);
    check_recording(&f);
    check_parsers(&f);
    return 0;
}

#ifndef HL_FUZZ_LIBFUZZER
#include "../common/replay.h"

/* Without libFuzzer: every seed of the corpus and 10000 mutations of each,
 * drawn from what program output is made of: escapes, CSI parameters, UTF-8
 * leads. */
int main(int argc, char **argv)
{
    static const fuzz_replay_t how = {
        .name = "fuzz_stdio_term_replay",
        .max_len = 960,
        .mutations = 10000,
        .max_edits = 6,
        .alphabet = "\033[;?0123456789HJKmrhlABCDc\r\n\t\b =>\xe4\xb8\xad\xf0\x9f",
        .extend_from_alphabet = true,
    };
    return fuzz_replay_main(argc, argv, &how);
}
#endif
