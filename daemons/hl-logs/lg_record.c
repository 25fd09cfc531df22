/* Records as JSON lines: escaping, truncation, record ids. */
#include "lg_record.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <hlbus/str.h>

const char *lg_levelname(int priority)
{
    static const char *const names[8] = {"CRITICAL", "CRITICAL", "CRITICAL", "ERROR",
                                         "WARNING",  "INFO",     "INFO",     "DEBUG"};
    return priority >= 0 && priority < 8 ? names[priority] : "INFO";
}

int lg_priority_parse(const char *s, size_t n)
{
    static const struct {
        const char *w;
        int p;
    } words[] = {{"emerg", 0}, {"alert", 1},  {"crit", 2},    {"critical", 2}, {"err", 3},
                 {"error", 3}, {"warning", 4}, {"warn", 4},   {"notice", 5},   {"info", 6},
                 {"debug", 7}};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strlen(words[i].w) == n && strncasecmp(words[i].w, s, n) == 0)
            return words[i].p;
    return -1;
}

void lg_record_set_id(lg_record_t *r, const void *key, size_t len)
{
    /* Two 64-bit FNV-1a with different offsets: collisions between two
     * records would make a collector drop a real line, so 128 bits. */
    uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
    const unsigned char *p = key;
    for (size_t i = 0; i < len; i++) {
        a = (a ^ p[i]) * 0x100000001b3ULL;
        b = (b ^ p[i]) * 0x100000001b3ULL;
        b ^= b >> 29;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        r->id[i] = hex[(a >> (60 - 4 * i)) & 15];
        r->id[16 + i] = hex[(b >> (60 - 4 * i)) & 15];
    }
    r->id[32] = 0;
}

void lg_json_escape(hlb_buf_t *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    hlb_buf_add(out, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed in one add */
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            run++, i++;
            continue;
        }
        size_t l = c >= 0x80 ? hlb_utf8_len(p + i, n - i) : 0;
        if (l > 1 && !(l == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) { /* C1 controls escaped */
            run += l, i += l;
            continue;
        }
        if (run)
            hlb_buf_add(out, p + i - run, run), run = 0;
        char esc[8];
        size_t el;
        switch (c) {
        case '"': el = 2, memcpy(esc, "\\\"", 2); break;
        case '\\': el = 2, memcpy(esc, "\\\\", 2); break;
        case '\n': el = 2, memcpy(esc, "\\n", 2); break;
        case '\t': el = 2, memcpy(esc, "\\t", 2); break;
        case '\r': el = 2, memcpy(esc, "\\r", 2); break;
        default:
            /* a control or a byte that is not UTF-8: its value, as \u00XX,
             * so nothing raw reaches the file and the byte stays visible */
            el = 6, memcpy(esc, "\\u00", 4), esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
        }
        if (l == 2) { /* a C1 control: escape the code point U+0080-U+009F */
            unsigned cp = p[i + 1];
            esc[4] = hex[cp >> 4], esc[5] = hex[cp & 15], el = 6, memcpy(esc, "\\u00", 4);
            i += 2;
        } else {
            i++;
        }
        hlb_buf_add(out, esc, el);
    }
    if (run)
        hlb_buf_add(out, p + n - run, run);
    hlb_buf_add(out, "\"", 1);
}

/* --- a strict JSON object checker, for fields other programs wrote ------- */

typedef struct {
    const char *p, *end;
    int depth;
} jp_t;

static void ws(jp_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool jstring(jp_t *j)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (++j->p >= j->end)
                return false;
            char e = *j->p;
            if (e == 'u') {
                if (j->end - j->p < 5)
                    return false;
                for (int i = 1; i <= 4; i++) {
                    char h = j->p[i];
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                          (h >= 'A' && h <= 'F')))
                        return false;
                }
                j->p += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || !e)
                return false;
            j->p++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = hlb_utf8_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
            if (!l)
                return false;
            j->p += l;
            continue;
        }
        j->p++;
    }
    return false;
}

static bool jnumber(jp_t *j)
{
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end)
        return false;
    if (*j->p == '0')
        j->p++;
    else if (*j->p >= '1' && *j->p <= '9')
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    else
        return false;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        const char *d = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
        if (j->p == d)
            return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        const char *d = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
        if (j->p == d)
            return false;
    }
    return j->p > s;
}

static bool jlit(jp_t *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n))
        return false;
    j->p += n;
    return true;
}

static bool jvalue(jp_t *j);

static bool jcontainer(jp_t *j, char open, char close, bool keyed)
{
    if (++j->depth > 32)
        return false;
    j->p++; /* open */
    (void)open;
    ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        ws(j);
        if (keyed) {
            if (!jstring(j))
                return false;
            ws(j);
            if (j->p >= j->end || *j->p != ':')
                return false;
            j->p++;
            ws(j);
        }
        if (!jvalue(j))
            return false;
        ws(j);
        if (j->p >= j->end)
            return false;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == close) {
            j->p++;
            j->depth--;
            return true;
        }
        return false;
    }
}

static bool jvalue(jp_t *j)
{
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{': return jcontainer(j, '{', '}', true);
    case '[': return jcontainer(j, '[', ']', false);
    case '"': return jstring(j);
    case 't': return jlit(j, "true");
    case 'f': return jlit(j, "false");
    case 'n': return jlit(j, "null");
    default: return jnumber(j);
    }
}

bool lg_json_object_valid(const char *s, size_t n)
{
    jp_t j = {s, s + n, 0};
    ws(&j);
    if (j.p >= j.end || *j.p != '{')
        return false;
    if (!jcontainer(&j, '{', '}', true))
        return false;
    ws(&j);
    return j.p == j.end;
}

/* --- the line -------------------------------------------------------------- */

static void add_lit(hlb_buf_t *b, const char *s) { hlb_buf_add(b, s, strlen(s)); }

static void add_u64(hlb_buf_t *b, uint64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    do
        tmp[--i] = (char)('0' + v % 10);
    while ((v /= 10));
    hlb_buf_add(b, tmp + i, sizeof tmp - (size_t)i);
}

/* ISO 8601 UTC with microseconds; gmtime_r once per second, cached. */
static void add_time(hlb_buf_t *b, uint64_t ts_us)
{
    static __thread time_t last = (time_t)-1;
    static __thread char head[24];
    time_t s = (time_t)(ts_us / 1000000);
    if (s != last) {
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
        last = s;
    }
    char frac[9];
    unsigned us = (unsigned)(ts_us % 1000000);
    frac[0] = '.';
    for (int i = 6; i >= 1; i--, us /= 10)
        frac[i] = (char)('0' + us % 10);
    frac[7] = 'Z';
    hlb_buf_add(b, "\"", 1);
    add_lit(b, head);
    hlb_buf_add(b, frac, 8);
    hlb_buf_add(b, "\"", 1);
}

/* The longest prefix of S within LIMIT bytes that does not split a UTF-8
 * sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t limit)
{
    if (n <= limit)
        return n;
    size_t k = limit;
    while (k > 0 && k > limit - 4 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    return k;
}

bool lg_record_json(const lg_record_t *r, size_t max_bytes, hlb_buf_t *out)
{
    size_t start = out->len;
    bool fields = r->fields.n > 2 && lg_json_object_valid(r->fields.p, r->fields.n);
    /* The fixed part of a line is about 300 bytes; structured fields that
     * would push it over the limit are dropped before the message is cut. */
    size_t budget = max_bytes > 400 ? max_bytes - 400 : 0;
    if (fields && r->fields.n > budget / 2)
        fields = false;
    add_lit(out, "{");
    if (fields) {
        /* the object's members without its braces, first, so the spec's
         * fields below win for a consumer that keeps the last of a name */
        const char *p = r->fields.p, *e = r->fields.p + r->fields.n;
        while (p < e && *p != '{')
            p++;
        while (e > p && e[-1] != '}')
            e--;
        p++, e--;
        while (p < e && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
            p++;
        if (e > p) {
            hlb_buf_add(out, p, (size_t)(e - p));
            add_lit(out, ",");
        }
    }
    add_lit(out, "\"asctime\":");
    add_time(out, r->ts_us);
    add_lit(out, ",\"name\":");
    lg_json_escape(out, r->name.p, r->name.n > 256 ? 256 : r->name.n);
    add_lit(out, ",\"levelname\":\"");
    add_lit(out, lg_levelname(r->priority));
    add_lit(out, "\",\"unit\":");
    lg_json_escape(out, r->unit.p, r->unit.n > 256 ? 256 : r->unit.n);
    add_lit(out, ",\"pid\":");
    add_u64(out, r->pid > 0 ? (uint64_t)r->pid : 0);
    add_lit(out, ",\"boot_id\":");
    lg_json_escape(out, r->boot_id.p, r->boot_id.n > 64 ? 64 : r->boot_id.n);
    add_lit(out, ",\"seq\":");
    add_u64(out, r->seq);
    add_lit(out, ",\"id\":\"");
    add_lit(out, r->id);
    add_lit(out, "\",\"origin\":");
    lg_json_escape(out, r->origin.p, r->origin.n);
    add_lit(out, ",\"message\":");
    size_t used = out->len - start;
    size_t room = max_bytes > used + 64 ? max_bytes - used - 64 : 0;
    /* escaping can grow a byte to six: cut the raw text so the escaped one fits */
    size_t keep = r->message.n;
    bool cut = false;
    size_t esc_start = out->len;
    lg_json_escape(out, r->message.p, keep);
    if (out->len - esc_start > room) {
        out->len = esc_start;
        cut = true;
        size_t lo = 0, hi = keep;
        /* the largest prefix whose escaped form fits (escaping is monotonic) */
        while (lo < hi) {
            size_t mid = utf8_cut(r->message.p, r->message.n, (lo + hi + 1) / 2);
            if (mid <= lo)
                break;
            hlb_buf_t tmp = {0};
            lg_json_escape(&tmp, r->message.p, mid);
            bool fits = tmp.len <= room;
            hlb_buf_free(&tmp);
            if (fits)
                lo = mid;
            else
                hi = mid - 1;
        }
        keep = utf8_cut(r->message.p, r->message.n, lo);
        lg_json_escape(out, r->message.p, keep);
        out->len--; /* reopen the string for the marker */
        char mark[64];
        int ml = snprintf(mark, sizeof mark, "...[truncated %zu bytes]\"", r->message.n - keep);
        hlb_buf_add(out, mark, (size_t)ml);
        add_lit(out, ",\"truncated\":true");
    }
    add_lit(out, "}\n");
    return cut;
}
