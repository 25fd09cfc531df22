/* The hello line of the attach protocol: strict parsing, so that a later
 * version can rely on an old relay refusing what it does not understand. */
#include "wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Whole-token unsigned parse in BASE (10 or 16); false on anything else. */
static bool parse_u64(const char *s, size_t len, int base, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + d;
    }
    *out = v;
    return true;
}

static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static bool tok_is(const char *t, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(t, word, n) == 0;
}

/* Prints a token for an error message without trusting its bytes. */
static void tok_show(const char *t, size_t n, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 5 < outlen; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c >= 0x20 && c < 0x7f)
            out[j++] = (char)c;
        else
            j += (size_t)snprintf(out + j, outlen - j, "\\x%02x", c);
    }
    out[j] = 0;
}

int stdio_hello_parse(const char *line, size_t len, stdio_hello_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len && line[len - 1] == '\r')
        len--;
    const char *tok[12];
    size_t tlen[12];
    int n = 0;
    for (size_t i = 0; i < len;) {
        if (line[i] == ' ') {
            i++;
            continue;
        }
        if (n == 12)
            return fail(err, errlen, "too many words in hello");
        tok[n] = line + i;
        while (i < len && line[i] != ' ')
            i++;
        tlen[n] = (size_t)(line + i - tok[n]);
        n++;
    }
    char shown[96];
    if (n < 1 || !tok_is(tok[0], tlen[0], STDIO_WIRE_VERSION)) {
        tok_show(n ? tok[0] : "", n ? tlen[0] : 0, shown, sizeof shown);
        return fail(err, errlen, "expected \"%s attach CHANNEL ...\", got \"%s\"",
                    STDIO_WIRE_VERSION, shown);
    }
    if (n < 3 || !tok_is(tok[1], tlen[1], "attach"))
        return fail(err, errlen, "expected \"%s attach CHANNEL ...\"", STDIO_WIRE_VERSION);
    if (!name_ok(tok[2], tlen[2])) {
        tok_show(tok[2], tlen[2], shown, sizeof shown);
        return fail(err, errlen, "bad channel name \"%s\" (want [a-z0-9-]{1,64})", shown);
    }
    memcpy(out->channel, tok[2], tlen[2]);
    out->channel[tlen[2]] = 0;
    bool seen_ro = false, seen_from = false, seen_size = false;
    for (int i = 3; i < n; i++) {
        const char *t = tok[i];
        size_t l = tlen[i];
        if (tok_is(t, l, "read-only") && !seen_ro) {
            out->read_only = seen_ro = true;
        } else if (l > 5 && memcmp(t, "from=", 5) == 0 && !seen_from) {
            seen_from = true;
            const char *v = t + 5;
            size_t vl = l - 5;
            const char *colon = memchr(v, ':', vl);
            if (tok_is(v, vl, "now")) {
                out->from = STDIO_FROM_NOW;
            } else if (colon) {
                size_t sl = (size_t)(colon - v);
                if (!parse_u64(v, sl, 16, &out->stream) ||
                    !parse_u64(colon + 1, vl - sl - 1, 10, &out->offset)) {
                    tok_show(v, vl, shown, sizeof shown);
                    return fail(err, errlen, "bad offset \"%s\" (want N, STREAM:N or now)", shown);
                }
                out->has_stream = true;
                out->from = STDIO_FROM_OFFSET;
            } else if (parse_u64(v, vl, 10, &out->offset)) {
                out->from = STDIO_FROM_OFFSET;
            } else {
                tok_show(v, vl, shown, sizeof shown);
                return fail(err, errlen, "bad offset \"%s\" (want N, STREAM:N or now)", shown);
            }
        } else if (tok_is(t, l, "framed-input") && !out->framed_input) {
            out->framed_input = true;
        } else if (tok_is(t, l, "screen") && !out->screen) {
            out->screen = true;
        } else if (tok_is(t, l, "agent") && !out->agent) {
            out->agent = true;
        } else if (l > 5 && memcmp(t, "size=", 5) == 0 && !seen_size) {
            seen_size = true;
            const char *v = t + 5;
            size_t vl = l - 5;
            const char *x = memchr(v, 'x', vl);
            uint64_t c = 0, rw = 0;
            if (!x || !parse_u64(v, (size_t)(x - v), 10, &c) ||
                !parse_u64(x + 1, vl - (size_t)(x - v) - 1, 10, &rw) || c > 65535 ||
                rw > 65535) {
                tok_show(v, vl, shown, sizeof shown);
                return fail(err, errlen, "bad size \"%s\" (want COLSxROWS)", shown);
            }
            out->has_size = true;
            out->cols = (unsigned)c;
            out->rows = (unsigned)rw;
        } else {
            tok_show(t, l, shown, sizeof shown);
            return fail(err, errlen, "unknown or repeated option \"%s\"", shown);
        }
    }
    return 0;
}
