/* Shared by the libFuzzer targets: splitting one input into frames, a
 * private runtime directory, and a strict JSON validator used as an oracle
 * (libhlbus promises valid JSON whatever the bytes; the fuzzer checks it). */
#pragma once
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer's entry points, called by name (declared here so that a target
 * is clean under -Wmissing-prototypes). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fuzz input as frames: byte 0 is the header (the target reads its bits),
 * then FRAME_COUNT frames, each but the last preceded by a 2-byte
 * little-endian length clipped to what is left; the last takes the rest.
 * gen_seeds.c writes the same layout. */
#define FUZZ_MAX_FRAMES 4

typedef struct {
    const uint8_t *data[FUZZ_MAX_FRAMES];
    size_t len[FUZZ_MAX_FRAMES];
    int n;
} fuzz_frames_t;

static inline void fuzz_split(const uint8_t *p, size_t len, int nframes, fuzz_frames_t *out)
{
    out->n = 0;
    for (int i = 0; i < nframes && i < FUZZ_MAX_FRAMES; i++) {
        size_t take = len;
        if (i + 1 < nframes) {
            if (len < 2) {
                take = len;
            } else {
                take = (size_t)p[0] | (size_t)p[1] << 8;
                p += 2;
                len -= 2;
                if (take > len)
                    take = len;
            }
        }
        out->data[out->n] = p;
        out->len[out->n] = take;
        out->n++;
        p += take;
        len -= take;
    }
}

/* A private runtime directory under $TMPDIR, removed at exit by the caller's
 * atexit handler (the targets keep one for the whole run). */
static inline char *fuzz_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = NULL;
    if (asprintf(&tmpl, "%s/hlfuzz.XXXXXX", base && *base ? base : "/tmp") < 0)
        abort();
    if (!mkdtemp(tmpl))
        abort();
    return tmpl;
}

/* ---- strict JSON (RFC 8259) validator ---- */

typedef struct {
    const unsigned char *s;
    size_t n, i;
    int depth;
} fjson_t;

static bool fj_value(fjson_t *j);

static void fj_ws(fjson_t *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
                           j->s[j->i] == '\r'))
        j->i++;
}

static bool fj_lit(fjson_t *j, const char *lit)
{
    size_t l = strlen(lit);
    if (j->n - j->i < l || memcmp(j->s + j->i, lit, l) != 0)
        return false;
    j->i += l;
    return true;
}

static size_t fj_utf8(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, cp = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, cp = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

static bool fj_string(fjson_t *j)
{
    if (j->i >= j->n || j->s[j->i] != '"')
        return false;
    j->i++;
    while (j->i < j->n) {
        unsigned char c = j->s[j->i];
        if (c == '"') {
            j->i++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (++j->i >= j->n)
                return false;
            c = j->s[j->i++];
            if (c == 'u') {
                for (int k = 0; k < 4; k++, j->i++)
                    if (j->i >= j->n || !isxdigit(j->s[j->i]))
                        return false;
            } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
                return false;
            }
            continue;
        }
        size_t l = fj_utf8(j->s + j->i, j->n - j->i);
        if (!l)
            return false;
        j->i += l;
    }
    return false;
}

static bool fj_digits(fjson_t *j)
{
    size_t start = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
        j->i++;
    return j->i > start;
}

static bool fj_number(fjson_t *j)
{
    if (j->i < j->n && j->s[j->i] == '-')
        j->i++;
    if (j->i < j->n && j->s[j->i] == '0')
        j->i++;
    else if (!fj_digits(j))
        return false;
    if (j->i < j->n && j->s[j->i] == '.') {
        j->i++;
        if (!fj_digits(j))
            return false;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
            j->i++;
        if (!fj_digits(j))
            return false;
    }
    return true;
}

static bool fj_container(fjson_t *j, char open)
{
    char close = open == '{' ? '}' : ']';
    if (++j->depth > 200)
        return false;
    j->i++;
    fj_ws(j);
    if (j->i < j->n && j->s[j->i] == (unsigned char)close) {
        j->i++;
        j->depth--;
        return true;
    }
    for (;;) {
        fj_ws(j);
        if (open == '{') {
            if (!fj_string(j))
                return false;
            fj_ws(j);
            if (j->i >= j->n || j->s[j->i] != ':')
                return false;
            j->i++;
        }
        if (!fj_value(j))
            return false;
        fj_ws(j);
        if (j->i >= j->n)
            return false;
        if (j->s[j->i] == ',') {
            j->i++;
            continue;
        }
        if (j->s[j->i] == (unsigned char)close) {
            j->i++;
            j->depth--;
            return true;
        }
        return false;
    }
}

static bool fj_value(fjson_t *j)
{
    fj_ws(j);
    if (j->i >= j->n)
        return false;
    switch (j->s[j->i]) {
    case '{':
    case '[': return fj_container(j, (char)j->s[j->i]);
    case '"': return fj_string(j);
    case 't': return fj_lit(j, "true");
    case 'f': return fj_lit(j, "false");
    case 'n': return fj_lit(j, "null");
    default: return fj_number(j);
    }
}

/* Whether S[0..N) is exactly one JSON value (with optional whitespace). */
static inline bool fuzz_json_valid(const char *s, size_t n)
{
    fjson_t j = {(const unsigned char *)s, n, 0, 0};
    if (!fj_value(&j))
        return false;
    fj_ws(&j);
    return j.i == n;
}

/* Aborts (a finding) when JSON produced by libhlbus is not valid. */
#define FUZZ_CHECK_JSON(buf)                                                              \
    do {                                                                                 \
        if ((buf)->len && !fuzz_json_valid((buf)->data, (buf)->len)) {                   \
            fprintf(stderr, "invalid JSON from libhlbus: %.*s\n", (int)(buf)->len,         \
                    (buf)->data);                                                        \
            abort();                                                                     \
        }                                                                                \
    } while (0)
