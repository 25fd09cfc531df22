/* The strict JSON reader: see ul_json.h. */
#include "ul_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/buf.h>
#include <hlbus/str.h>

typedef struct {
    const char *s, *end, *p;
    size_t nodes;
    char *err;
} jp_t;

static void fail(jp_t *j, const char *what)
{
    if (!j->err)
        j->err = hlb_strdupf("%s at byte %zu", what, (size_t)(j->p - j->s));
}

static void skip_ws(jp_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static ul_jnode_t *node(jp_t *j, ul_jtype_t t)
{
    if (++j->nodes > UL_JSON_MAX_NODES) {
        fail(j, "too many values");
        return NULL;
    }
    ul_jnode_t *n = calloc(1, sizeof *n);
    if (!n)
        fail(j, "out of memory");
    else
        n->type = t;
    return n;
}

/* The four hex digits of a \u escape at J, consumed. */
static int hex4(jp_t *j, unsigned *out)
{
    if (j->end - j->p < 4 || hlb_hex4(j->p, out) < 0)
        return -1;
    j->p += 4;
    return 0;
}

static void put_utf8(char *o, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        o[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*n)++] = (char)(0xC0 | (cp >> 6));
        o[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        o[(*n)++] = (char)(0xE0 | (cp >> 12));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o[(*n)++] = (char)(0xF0 | (cp >> 18));
        o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000))
            return false;
        i += len;
    }
    return true;
}

/* At the opening quote; returns the decoded string (never longer than the
 * encoded one). */
static char *parse_string(jp_t *j)
{
    j->p++;
    const char *start = j->p;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\')
            j->p++;
        j->p++;
    }
    if (j->p >= j->end) {
        fail(j, "unterminated string");
        return NULL;
    }
    size_t enc = (size_t)(j->p - start);
    char *o = malloc(enc + 1);
    if (!o) {
        fail(j, "out of memory");
        return NULL;
    }
    size_t n = 0;
    j->p = start;
    while (*j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20) {
            fail(j, "control character in a string");
            goto bad;
        }
        if (c != '\\') {
            o[n++] = (char)c;
            j->p++;
            continue;
        }
        j->p++;
        char e = *j->p++;
        switch (e) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(j, &cp) < 0) {
                fail(j, "bad \\u escape");
                goto bad;
            }
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u') {
                    fail(j, "lone surrogate");
                    goto bad;
                }
                j->p += 2;
                if (hex4(j, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    fail(j, "bad surrogate pair");
                    goto bad;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                fail(j, "lone surrogate");
                goto bad;
            }
            if (cp == 0) {
                fail(j, "\\u0000 in a string");
                goto bad;
            }
            /* 6 escaped bytes give at most 4 (12 give 4): no overflow */
            put_utf8(o, &n, cp);
            break;
        }
        default:
            fail(j, "bad escape");
            goto bad;
        }
    }
    j->p++; /* the closing quote */
    o[n] = '\0';
    if (!utf8_valid((const unsigned char *)o, n)) {
        fail(j, "invalid UTF-8 in a string");
        goto bad;
    }
    return o;
bad:
    free(o);
    return NULL;
}

static int parse_number(jp_t *j, double *out)
{
    const char *q = j->p;
    if (q < j->end && *q == '-')
        q++;
    if (q >= j->end || *q < '0' || *q > '9')
        return -1;
    if (*q == '0')
        q++;
    else
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    if (q < j->end && *q == '.') {
        q++;
        if (q >= j->end || *q < '0' || *q > '9')
            return -1;
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < j->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < j->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= j->end || *q < '0' || *q > '9')
            return -1;
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    }
    size_t len = (size_t)(q - j->p);
    if (len > 64)
        return -1;
    char buf[72];
    memcpy(buf, j->p, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);
    if (!isfinite(*out))
        return -1;
    j->p = q;
    return 0;
}

static bool lit(jp_t *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return false;
    j->p += n;
    return true;
}

static ul_jnode_t *parse_value(jp_t *j, int depth)
{
    skip_ws(j);
    if (j->p >= j->end) {
        fail(j, "unexpected end");
        return NULL;
    }
    if (depth > UL_JSON_MAX_DEPTH) {
        fail(j, "nested too deep");
        return NULL;
    }
    char c = *j->p;
    ul_jnode_t *n = NULL;
    if (c == '{' || c == '[') {
        bool obj = c == '{';
        char close = obj ? '}' : ']';
        if (!(n = node(j, obj ? UL_J_OBJ : UL_J_ARR)))
            return NULL;
        j->p++;
        skip_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return n;
        }
        ul_jnode_t **tail = &n->child;
        for (;;) {
            char *key = NULL;
            if (obj) {
                skip_ws(j);
                if (j->p >= j->end || *j->p != '"') {
                    fail(j, "expected a member name");
                    goto bad;
                }
                if (!(key = parse_string(j)))
                    goto bad;
                skip_ws(j);
                if (j->p >= j->end || *j->p != ':') {
                    free(key);
                    fail(j, "expected ':'");
                    goto bad;
                }
                j->p++;
            }
            ul_jnode_t *v = parse_value(j, depth + 1);
            if (!v) {
                free(key);
                goto bad;
            }
            v->key = key;
            *tail = v;
            tail = &v->next;
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                return n;
            }
            fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
            goto bad;
        }
    }
    if (c == '"') {
        if (!(n = node(j, UL_J_STR)))
            return NULL;
        if (!(n->str = parse_string(j)))
            goto bad;
        return n;
    }
    if (lit(j, "true") || lit(j, "false")) {
        if (!(n = node(j, UL_J_BOOL)))
            return NULL;
        n->b = j->p[-1] == 'e' && j->p[-2] == 'u';
        return n;
    }
    if (lit(j, "null"))
        return node(j, UL_J_NULL);
    if (!(n = node(j, UL_J_NUM)))
        return NULL;
    if (parse_number(j, &n->num) < 0) {
        fail(j, "unexpected character");
        goto bad;
    }
    return n;
bad:
    ul_json_free(n);
    return NULL;
}

ul_jnode_t *ul_json_parse(const char *s, size_t len, char **err)
{
    jp_t j = {.s = s, .end = s + len, .p = s};
    ul_jnode_t *n = s ? parse_value(&j, 0) : NULL;
    if (n) {
        skip_ws(&j);
        if (j.p != j.end) {
            fail(&j, "trailing bytes");
            ul_json_free(n);
            n = NULL;
        }
    } else if (!s) {
        j.err = strdup("no data");
    }
    if (err)
        *err = j.err;
    else
        free(j.err);
    return n;
}

void ul_json_free(ul_jnode_t *n)
{
    /* iterative over siblings, recursive over depth (bounded by the parser) */
    while (n) {
        ul_jnode_t *next = n->next;
        ul_json_free(n->child);
        free(n->key);
        free(n->str);
        free(n);
        n = next;
    }
}

const ul_jnode_t *ul_json_get(const ul_jnode_t *obj, const char *key)
{
    if (!obj || obj->type != UL_J_OBJ)
        return NULL;
    const ul_jnode_t *found = NULL;
    for (const ul_jnode_t *c = obj->child; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            found = c; /* the last one wins, as in most parsers */
    return found;
}

const char *ul_json_get_str(const ul_jnode_t *obj, const char *key)
{
    const ul_jnode_t *n = ul_json_get(obj, key);
    return n && n->type == UL_J_STR ? n->str : NULL;
}

bool ul_json_get_int(const ul_jnode_t *obj, const char *key, int64_t min, int64_t max,
                     int64_t *out)
{
    const ul_jnode_t *n = ul_json_get(obj, key);
    if (!n || n->type != UL_J_NUM || n->num != floor(n->num) || n->num < (double)min ||
        n->num > (double)max)
        return false;
    *out = (int64_t)n->num;
    return true;
}

/* Strings from the parser are valid UTF-8 without NUL (it decoded them):
 * only quotes, backslashes and controls need escaping. */
static void write_str(hlb_buf_t *b, const char *s)
{
    hlb_buf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            hlb_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            hlb_buf_printf(b, "\\u%04x", c);
        else
            hlb_buf_add(b, s, 1);
    }
    hlb_buf_puts(b, "\"");
}

void ul_json_write(struct hlb_buf *b, const ul_jnode_t *n)
{
    switch (n->type) {
    case UL_J_NULL:
        hlb_buf_puts(b, "null");
        break;
    case UL_J_BOOL:
        hlb_buf_puts(b, n->b ? "true" : "false");
        break;
    case UL_J_NUM:
        if (n->num == floor(n->num) && fabs(n->num) < 9e15)
            hlb_buf_printf(b, "%lld", (long long)n->num);
        else
            hlb_buf_printf(b, "%.17g", n->num);
        break;
    case UL_J_STR:
        write_str(b, n->str);
        break;
    case UL_J_ARR:
    case UL_J_OBJ:
        hlb_buf_puts(b, n->type == UL_J_ARR ? "[" : "{");
        for (const ul_jnode_t *c = n->child; c; c = c->next) {
            if (c != n->child)
                hlb_buf_puts(b, ",");
            if (n->type == UL_J_OBJ) {
                write_str(b, c->key);
                hlb_buf_puts(b, ":");
            }
            ul_json_write(b, c);
        }
        hlb_buf_puts(b, n->type == UL_J_ARR ? "]" : "}");
        break;
    }
}
