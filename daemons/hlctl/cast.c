/* asciicast v2 lines: see cast.h. */
#include "cast.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <hlbus/str.h>

static void skip_ws(const char *s, size_t len, size_t *i)
{
    while (*i < len && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\r' || s[*i] == '\n'))
        (*i)++;
}

static int hex4(const char *s, size_t len, size_t i, unsigned *out)
{
    return i + 4 > len ? -1 : hlb_hex4(s + i, out);
}

static size_t put_utf8(char *o, unsigned c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3f));
    o[2] = (char)(0x80 | (c >> 6 & 0x3f));
    o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* A JSON string at s[*i] (the opening quote), decoded into a malloc'd
 * buffer; -1 when malformed. */
static int json_string(const char *s, size_t len, size_t *i, char **out, size_t *outlen)
{
    if (*i >= len || s[*i] != '"')
        return -1;
    (*i)++;
    /* Decoding never grows: an escape is at least as long as its bytes. */
    char *o = malloc(len - *i + 1);
    if (!o)
        return -1;
    size_t n = 0;
    while (*i < len) {
        char c = s[(*i)++];
        if (c == '"') {
            o[n] = 0;
            *out = o;
            *outlen = n;
            return 0;
        }
        if ((unsigned char)c < 0x20)
            break; /* raw controls are not JSON */
        if (c != '\\') {
            o[n++] = c;
            continue;
        }
        if (*i >= len)
            break;
        char e = s[(*i)++];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            o[n++] = map[simple - "\"\\/bfnrt"];
            continue;
        }
        if (e != 'u')
            break;
        unsigned cp;
        if (hex4(s, len, *i, &cp) < 0)
            break;
        *i += 4;
        if (cp >= 0xd800 && cp < 0xdc00) {
            unsigned lo;
            if (*i + 6 <= len && s[*i] == '\\' && s[*i + 1] == 'u' &&
                hex4(s, len, *i + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                *i += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else {
                cp = 0xfffd;
            }
        } else if (cp >= 0xdc00 && cp < 0xe000) {
            cp = 0xfffd;
        }
        /* \uXXXX is 6 bytes, its UTF-8 at most 3; a pair is 12 for 4. */
        n += put_utf8(o + n, cp);
    }
    free(o);
    return -1;
}

static bool key_uint(const char *line, size_t len, const char *key, unsigned *out)
{
    /* "key": N at the top level of the header (hl-stdio and asciinema
     * write it so); nested objects (env, theme) have no such keys. */
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 2 < len; i++) {
        if (line[i] != '"' || memcmp(line + i + 1, key, kl) != 0 || line[i + kl + 1] != '"')
            continue;
        size_t j = i + kl + 2;
        skip_ws(line, len, &j);
        if (j >= len || line[j] != ':')
            continue;
        j++;
        skip_ws(line, len, &j);
        unsigned long v = 0;
        size_t start = j;
        while (j < len && line[j] >= '0' && line[j] <= '9' && j - start < 6)
            v = v * 10 + (unsigned long)(line[j++] - '0');
        if (j == start || v == 0 || v > 65535)
            return false;
        *out = (unsigned)v;
        return true;
    }
    return false;
}

bool cast_header(const char *line, size_t len, unsigned *width, unsigned *height)
{
    size_t i = 0;
    skip_ws(line, len, &i);
    if (i >= len || line[i] != '{')
        return false;
    unsigned version;
    return key_uint(line, len, "version", &version) && version == 2 &&
           key_uint(line, len, "width", width) && key_uint(line, len, "height", height);
}

int cast_event(const char *line, size_t len, cast_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    size_t i = 0;
    skip_ws(line, len, &i);
    if (i >= len || line[i] != '[')
        return -1;
    i++;
    skip_ws(line, len, &i);
    /* The time: digits, a point, digits (strtod would read past LEN). */
    char num[32];
    size_t k = 0;
    while (i < len && k + 1 < sizeof num &&
           ((line[i] >= '0' && line[i] <= '9') || line[i] == '.' || line[i] == 'e' ||
            line[i] == 'E' || line[i] == '-' || line[i] == '+'))
        num[k++] = line[i++];
    num[k] = 0;
    char *end;
    double t = strtod(num, &end);
    if (k == 0 || *end || !isfinite(t) || t < 0)
        return -1;
    skip_ws(line, len, &i);
    if (i >= len || line[i++] != ',')
        return -1;
    skip_ws(line, len, &i);
    char *kind = NULL;
    size_t kl;
    if (json_string(line, len, &i, &kind, &kl) < 0)
        return -1;
    bool one = kl == 1;
    char kc = kind[0];
    free(kind);
    if (!one)
        return -1;
    skip_ws(line, len, &i);
    if (i >= len || line[i++] != ',')
        return -1;
    skip_ws(line, len, &i);
    if (json_string(line, len, &i, &ev->data, &ev->len) < 0)
        return -1;
    skip_ws(line, len, &i);
    if (i >= len || line[i++] != ']') {
        cast_event_free(ev);
        return -1;
    }
    skip_ws(line, len, &i);
    if (i != len) {
        cast_event_free(ev);
        return -1;
    }
    ev->t = t;
    ev->kind = kc;
    return 0;
}

void cast_event_free(cast_event_t *ev)
{
    free(ev->data);
    ev->data = NULL;
    ev->len = 0;
}
