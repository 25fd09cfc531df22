/* The screen of a terminal channel: see term.h. */
#include "term.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vterm.h>

/* What libvterm follows but does not tell, scanned from the same bytes. */
typedef struct modes {
    int top, bottom;     /* scroll region, 1-based; 0: the whole screen */
    bool app_cursor;     /* DECCKM, CSI ? 1 h */
    bool app_keypad;     /* DECKPAM, ESC = */
    bool paste;          /* bracketed paste, CSI ? 2004 h */
    bool focus;          /* focus events, CSI ? 1004 h */
    bool sgr_mouse;      /* CSI ? 1006 h */
    /* scanner: the escape sequence being read is held back (PEND) until
     * it is complete, so that it reaches libvterm whole or not at all */
    enum { S_GROUND, S_ESC, S_CSI } st;
    char csi[40];
    size_t csi_len;
    bool csi_overflow;
    uint8_t pend[48];
    size_t pend_len;
    /* the last graphic character (its UTF-8), for REP */
    uint8_t last[4], cur[4];
    size_t last_len, cur_len;
    bool held_c2; /* a 0xc2 held back: the first byte of a C1 control? */
} modes_t;

struct stdio_term {
    VTerm *vt;
    VTermScreen *screen;
    VTermState *state;
    unsigned cols, rows;
    bool cursor_visible, altscreen;
    int mouse; /* VTERM_PROP_MOUSE_* */
    modes_t m;
    VTerm *scratch; /* measures characters (cut_wide) */
    uint32_t wcache[256]; /* codepoint << 2 | CH_* kind; 0: empty */
};

bool stdio_term_size_ok(unsigned cols, unsigned rows)
{
    return cols >= STDIO_TERM_MIN && rows >= STDIO_TERM_MIN && cols <= STDIO_TERM_MAX_COLS &&
           rows <= STDIO_TERM_MAX_ROWS;
}

static int on_prop(VTermProp prop, VTermValue *val, void *user)
{
    stdio_term_t *t = user;
    switch (prop) {
    case VTERM_PROP_CURSORVISIBLE: t->cursor_visible = val->boolean; break;
    case VTERM_PROP_ALTSCREEN: t->altscreen = val->boolean; break;
    case VTERM_PROP_MOUSE: t->mouse = val->number; break;
    default: break;
    }
    return 1;
}

static const VTermScreenCallbacks screen_cbs = {.settermprop = on_prop};

/* Answers to the program's queries (device attributes, cursor position) are
 * the viewer's terminal's business: libvterm's are dropped. */
static void on_output(const char *s, size_t len, void *user)
{
    (void)s, (void)len, (void)user;
}

stdio_term_t *stdio_term_new(unsigned cols, unsigned rows)
{
    if (!stdio_term_size_ok(cols, rows))
        return NULL;
    stdio_term_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->vt = vterm_new((int)rows, (int)cols);
    if (!t->vt) {
        free(t);
        return NULL;
    }
    t->cols = cols;
    t->rows = rows;
    t->cursor_visible = true;
    vterm_set_utf8(t->vt, 1);
    vterm_output_set_callback(t->vt, on_output, NULL);
    t->screen = vterm_obtain_screen(t->vt);
    t->state = vterm_obtain_state(t->vt);
    vterm_screen_set_callbacks(t->screen, &screen_cbs, t);
    vterm_screen_enable_altscreen(t->screen, 1);
    vterm_screen_reset(t->screen, 1);
    return t;
}

void stdio_term_free(stdio_term_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->scratch)
        vterm_free((*self_p)->scratch);
    vterm_free((*self_p)->vt);
    free(*self_p);
    *self_p = NULL;
}

/* One complete CSI sequence (between ESC [ and its final byte F). */
static void csi_done(modes_t *m, char f)
{
    if (m->csi_overflow)
        return;
    m->csi[m->csi_len] = 0;
    const char *p = m->csi;
    if (f == 'r' && *p != '?') {
        int top = 0, bottom = 0;
        if (sscanf(p, "%d;%d", &top, &bottom) == 2 && top >= 1 && bottom > top) {
            m->top = top;
            m->bottom = bottom;
        } else {
            m->top = m->bottom = 0;
        }
        return;
    }
    if ((f != 'h' && f != 'l') || *p != '?')
        return;
    bool on = f == 'h';
    /* CSI ? 1 ; 2004 h: every parameter is a mode. */
    for (const char *s = p + 1; *s;) {
        int mode = atoi(s);
        if (mode == 1)
            m->app_cursor = on;
        else if (mode == 2004)
            m->paste = on;
        else if (mode == 1004)
            m->focus = on;
        else if (mode == 1006)
            m->sgr_mouse = on;
        const char *semi = strchr(s, ';');
        if (!semi)
            break;
        s = semi + 1;
    }
}

static void vt_write(stdio_term_t *t, const void *p, size_t n)
{
    if (n)
        vterm_input_write(t->vt, p, n);
}

/* Ground state: follows the last graphic character (UTF-8 assembled). */
static void track_char(modes_t *m, uint8_t c)
{
    if (c < 0x20 || c == 0x7f)
        return;
    if (c < 0x80) {
        m->last[0] = c;
        m->last_len = 1;
        m->cur_len = 0;
        return;
    }
    if ((c & 0xc0) != 0x80)
        m->cur_len = 0; /* a lead byte starts one */
    if (m->cur_len < sizeof m->cur)
        m->cur[m->cur_len++] = c;
    size_t need = (m->cur[0] & 0xe0) == 0xc0 ? 2 : (m->cur[0] & 0xf0) == 0xe0 ? 3 : 4;
    if ((m->cur[0] & 0xc0) == 0xc0 && m->cur_len == need) {
        memcpy(m->last, m->cur, need);
        m->last_len = need;
        m->cur_len = 0;
    }
}

/* REP (CSI n b), done here: libvterm 0.1.4 loops forever on one with no
 * character before it (the program's output would hang the relay), so the
 * character is written N times instead, up to the end of the line. */
static void do_rep(stdio_term_t *t)
{
    modes_t *m = &t->m;
    for (size_t i = 0; i < m->csi_len; i++)
        if (m->csi[i] < '0' || m->csi[i] > '9')
            return; /* private or several parameters: not a REP libvterm knows */
    if (!m->last_len)
        return;
    long n = m->csi_len ? atol(m->csi) : 1;
    VTermPos pos;
    vterm_state_get_cursorpos(t->state, &pos);
    long room = (long)t->cols - (pos.col < 0 ? 0 : pos.col);
    if (n < 1)
        n = 1;
    if (n > room)
        n = room;
    for (long i = 0; i < n; i++)
        vt_write(t, m->last, m->last_len);
}

/* libvterm 0.1.4 writes a CSI sequence's arguments into an array of 16
 * without checking: a 17th (";;;;...30m", found by fuzz_stdio_term)
 * overwrites its memory. xterm ignores arguments past its own limit; such
 * a sequence is left out here. */
#define CSI_ARGS_MAX_0_1_4 16

static size_t csi_args(const modes_t *m)
{
    size_t n = 1;
    for (size_t i = 0; i < m->csi_len; i++)
        n += m->csi[i] == ';' || m->csi[i] == ':';
    return n;
}

static void pend_add(modes_t *m, uint8_t c)
{
    if (m->pend_len < sizeof m->pend)
        m->pend[m->pend_len++] = c;
    else
        m->csi_overflow = true;
}

void stdio_term_feed(stdio_term_t *t, const void *data, size_t len)
{
    const uint8_t *b = data;
    modes_t *m = &t->m;
    size_t seg = 0; /* ground bytes from here on go to libvterm as they are */
    for (size_t i = 0; i < len; i++) {
        uint8_t c = b[i];
        switch (m->st) {
        case S_GROUND:
            if (c != 0x1b && c >= 0x20 && c != 0x7f && (m->held_c2 || c == 0xc2)) {
                /* 0xc2 and a byte from 0x80 to 0x9f, U+0080..U+009F:
                 * libvterm 0.1.4 draws such a C1 control as a glyph of
                 * width -1, and in insert mode that crashes it (found by
                 * fuzz_stdio_term). No terminal shows one: it is left out.
                 * A 0xc2 waits for the next character byte; controls and
                 * escape sequences between the two (which libvterm's UTF-8
                 * decoder does not see either) go on meanwhile. It never
                 * reaches libvterm alone, where a later byte could complete
                 * it: with a continuation byte it goes on, else it is the
                 * U+FFFD libvterm would have made of it. */
                vt_write(t, b + seg, i - seg);
                seg = i + 1;
                bool held = m->held_c2;
                m->held_c2 = false;
                if (held && c >= 0x80 && c < 0xa0) {
                    m->cur_len = 0;
                    break;
                }
                if (held && c >= 0xa0 && c < 0xc0)
                    vt_write(t, "\xc2", 1);
                else if (held)
                    vt_write(t, "\xef\xbf\xbd", 3);
                if (c == 0xc2)
                    m->held_c2 = true;
                else
                    seg = i; /* C goes with the rest */
                track_char(m, c);
            } else if (c == 0x1b) {
                vt_write(t, b + seg, i - seg);
                m->pend_len = 0;
                pend_add(m, c);
                m->st = S_ESC;
                seg = i + 1;
            } else {
                track_char(m, c);
            }
            break;
        case S_ESC:
            seg = i + 1;
            if (c == 0x1b) {
                /* ESC ESC: libvterm starts again at the second, so the first
                 * is dropped (written alone it would leave libvterm in its
                 * escape state while this scanner is not). */
                m->pend_len = 0;
                pend_add(m, c);
                break;
            }
            /* As libvterm 0.1.4's parser does: intermediates, NUL, DEL and
             * bytes from 0x80 leave it in its escape state, and a C0
             * control is done there; so "ESC ( [" or "ESC 0xb8 [" starts a
             * CSI sequence in libvterm, and must here too (or its arguments
             * would reach libvterm uncounted). The final byte must always
             * reach libvterm, or a later '[' would open a sequence there
             * unseen here. CAN and SUB cancel. */
            if (c == 0x18 || c == 0x1a) {
                m->pend_len = 0;
                m->st = S_GROUND;
                break;
            }
            if (c < 0x20) {
                vt_write(t, &c, 1);
                break;
            }
            if (c >= 0x7f)
                break; /* skipped by libvterm: not kept (PEND keeps room for the final) */
            if (c < 0x30) {
                if (m->pend_len < sizeof m->pend - 2)
                    pend_add(m, c); /* an intermediate; libvterm keeps a few only */
                break;
            }
            pend_add(m, c);
            if (c == '[') {
                m->st = S_CSI;
                m->csi_len = 0;
                m->csi_overflow = false;
                break;
            }
            bool plain = m->pend_len == 2; /* ESC F, no intermediates */
            if (plain && c == '=')
                m->app_keypad = true;
            else if (plain && c == '>')
                m->app_keypad = false;
            else if (plain && c == 'c') { /* RIS: a full reset */
                memset(m, 0, sizeof *m);
                m->pend[0] = 0x1b;
                m->pend[1] = 'c';
                m->pend_len = 2;
            }
            vt_write(t, m->pend, m->pend_len);
            m->pend_len = 0;
            m->st = S_GROUND;
            break;
        case S_CSI:
            seg = i + 1;
            if (c >= 0x40 && c <= 0x7e) {
                m->st = S_GROUND;
                if (m->csi_overflow || csi_args(m) > CSI_ARGS_MAX_0_1_4)
                    break; /* longer than any sequence worth keeping: left out */
                csi_done(m, (char)c);
                if (c == 'b') {
                    m->csi[m->csi_len] = 0;
                    do_rep(t);
                } else {
                    pend_add(m, c);
                    vt_write(t, m->pend, m->pend_len);
                }
                m->pend_len = 0;
            } else if (c == 0x1b) { /* aborted; a new one starts */
                m->pend_len = 0;
                pend_add(m, c);
                m->st = S_ESC;
            } else if (c == 0x18 || c == 0x1a) { /* CAN, SUB: cancelled */
                m->pend_len = 0;
                m->st = S_GROUND;
            } else if (c < 0x20) {
                /* Other controls inside a sequence are done at once. */
                vt_write(t, &c, 1);
            } else {
                pend_add(m, c);
                if (m->csi_len + 1 < sizeof m->csi)
                    m->csi[m->csi_len++] = (char)c;
                else
                    m->csi_overflow = true;
            }
            break;
        }
    }
    if (m->st == S_GROUND)
        vt_write(t, b + seg, len - seg);
}

bool stdio_term_resize(stdio_term_t *t, unsigned cols, unsigned rows)
{
    if (!stdio_term_size_ok(cols, rows))
        return false;
    if (cols == t->cols && rows == t->rows)
        return true;
    vterm_set_size(t->vt, (int)rows, (int)cols);
    t->cols = cols;
    t->rows = rows;
    /* A terminal resets its scroll region when it changes size (xterm
     * does); libvterm 0.1.4 keeps it, and one beyond the new bottom
     * corrupts its memory on the next scroll or erase (found by
     * fuzz_stdio_term). Reset here and put the cursor back where it was,
     * within the new size. Not with DECSC/DECRC: a save and restore around
     * the reset still left libvterm writing through a NULL row on the next
     * erase (tests/unit/stdio/test_stdio_term.c), and it would overwrite the
     * program's own saved cursor. */
    VTermPos pos;
    vterm_state_get_cursorpos(t->state, &pos);
    int row = pos.row < 0 ? 0 : pos.row >= (int)rows ? (int)rows - 1 : pos.row;
    int col = pos.col < 0 ? 0 : pos.col >= (int)cols ? (int)cols - 1 : pos.col;
    char seq[32];
    int n = snprintf(seq, sizeof seq, "\033[r\033[%d;%dH", row + 1, col + 1);
    vt_write(t, seq, (size_t)n);
    t->m.top = t->m.bottom = 0;
    return true;
}

void stdio_term_size(const stdio_term_t *t, unsigned *cols, unsigned *rows)
{
    *cols = t->cols;
    *rows = t->rows;
}

/* ---------------------------------------------------------------- output */

typedef struct buf {
    char *p;
    size_t len, cap;
    bool oom;
} buf_t;

static void put(buf_t *b, const void *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(buf_t *b, const char *s) { put(b, s, strlen(s)); }

static void putf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(buf_t *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static size_t utf8_of(uint32_t c, char *u)
{
    size_t n;
    if (c < 0x80) {
        u[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        u[0] = (char)(0xc0 | c >> 6);
        u[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        u[0] = (char)(0xe0 | c >> 12);
        u[1] = (char)(0x80 | (c >> 6 & 0x3f));
        u[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    } else if (c < 0x110000) {
        u[0] = (char)(0xf0 | c >> 18);
        u[1] = (char)(0x80 | (c >> 12 & 0x3f));
        u[2] = (char)(0x80 | (c >> 6 & 0x3f));
        u[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    } else {
        u[0] = '?';
        n = 1;
    }
    return n;
}

static void put_utf8(buf_t *b, uint32_t c)
{
    char u[4];
    put(b, u, utf8_of(c, u));
}

/* A pen: the attributes SGR sets. */
typedef struct pen {
    VTermScreenCellAttrs a;
    VTermColor fg, bg;
} pen_t;

static bool color_eq(const VTermColor *x, const VTermColor *y)
{
    if (VTERM_COLOR_IS_DEFAULT_FG(x) != VTERM_COLOR_IS_DEFAULT_FG(y) ||
        VTERM_COLOR_IS_DEFAULT_BG(x) != VTERM_COLOR_IS_DEFAULT_BG(y))
        return false;
    if (VTERM_COLOR_IS_DEFAULT_FG(x) || VTERM_COLOR_IS_DEFAULT_BG(x))
        return true;
    if (VTERM_COLOR_IS_INDEXED(x) != VTERM_COLOR_IS_INDEXED(y))
        return false;
    if (VTERM_COLOR_IS_INDEXED(x))
        return x->indexed.idx == y->indexed.idx;
    return x->rgb.red == y->rgb.red && x->rgb.green == y->rgb.green &&
           x->rgb.blue == y->rgb.blue;
}

static bool pen_eq(const pen_t *x, const pen_t *y)
{
    return x->a.bold == y->a.bold && x->a.underline == y->a.underline &&
           x->a.italic == y->a.italic && x->a.blink == y->a.blink &&
           x->a.reverse == y->a.reverse && x->a.strike == y->a.strike &&
           color_eq(&x->fg, &y->fg) && color_eq(&x->bg, &y->bg);
}

static void put_color(buf_t *b, const VTermColor *c, bool fg)
{
    if (fg ? VTERM_COLOR_IS_DEFAULT_FG(c) : VTERM_COLOR_IS_DEFAULT_BG(c))
        return; /* the reset before it said so */
    if (VTERM_COLOR_IS_INDEXED(c)) {
        unsigned i = c->indexed.idx;
        if (i < 8)
            putf(b, ";%u", (fg ? 30 : 40) + i);
        else if (i < 16)
            putf(b, ";%u", (fg ? 90 : 100) + i - 8);
        else
            putf(b, ";%u;5;%u", fg ? 38 : 48, i);
    } else {
        putf(b, ";%u;2;%u;%u;%u", fg ? 38 : 48, c->rgb.red, c->rgb.green, c->rgb.blue);
    }
}

/* The whole pen, from a reset: simpler than a difference, and redraws are
 * rare. */
static void put_pen(buf_t *b, const pen_t *p)
{
    puts_(b, "\033[0");
    if (p->a.bold)
        puts_(b, ";1");
    if (p->a.italic)
        puts_(b, ";3");
    if (p->a.underline == VTERM_UNDERLINE_SINGLE)
        puts_(b, ";4");
    else if (p->a.underline)
        puts_(b, ";4:2"); /* double or curly: both read as underlined */
    if (p->a.blink)
        puts_(b, ";5");
    if (p->a.reverse)
        puts_(b, ";7");
    if (p->a.strike)
        puts_(b, ";9");
    put_color(b, &p->fg, true);
    put_color(b, &p->bg, false);
    puts_(b, "m");
}

static void pen_of_state(stdio_term_t *t, pen_t *p)
{
    VTermValue v;
    memset(p, 0, sizeof *p);
    if (vterm_state_get_penattr(t->state, VTERM_ATTR_BOLD, &v))
        p->a.bold = v.boolean;
    if (vterm_state_get_penattr(t->state, VTERM_ATTR_UNDERLINE, &v))
        p->a.underline = (unsigned)v.number & 3u;
    if (vterm_state_get_penattr(t->state, VTERM_ATTR_ITALIC, &v))
        p->a.italic = v.boolean;
    if (vterm_state_get_penattr(t->state, VTERM_ATTR_BLINK, &v))
        p->a.blink = v.boolean;
    if (vterm_state_get_penattr(t->state, VTERM_ATTR_REVERSE, &v))
        p->a.reverse = v.boolean;
    if (vterm_state_get_penattr(t->state, VTERM_ATTR_STRIKE, &v))
        p->a.strike = v.boolean;
    if (vterm_state_get_penattr(t->state, VTERM_ATTR_FOREGROUND, &v))
        p->fg = v.color;
    if (vterm_state_get_penattr(t->state, VTERM_ATTR_BACKGROUND, &v))
        p->bg = v.color;
}

static size_t utf8_of(uint32_t c, char *u);

/* A control character libvterm kept in a cell (C1 ones, U+0080 to U+009F,
 * can arrive so): sent back, a terminal would act on it, not show it; it
 * is a space in the redraw and in the text. */
static uint32_t printable(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c < 0xa0) ? ' ' : c;
}

enum { CH_WIDE = 1, CH_COMBINING = 2 };

/* What libvterm makes of character CH (from U+0300 up, where combining
 * ones begin): wide, or combining (merged into the character before it).
 * Measured on a scratch terminal, remembered in a small cache. */
static unsigned char_kind(stdio_term_t *t, uint32_t ch)
{
    if (ch < 0x300 || ch == (uint32_t)-1 || ch > 0x10ffff)
        return 0;
    size_t slot = ch % (sizeof t->wcache / sizeof *t->wcache);
    if (t->wcache[slot] >> 2 == ch)
        return t->wcache[slot] & 3;
    if (!t->scratch && !(t->scratch = vterm_new(1, 4)))
        return 0;
    vterm_set_utf8(t->scratch, 1);
    VTermScreen *sc = vterm_obtain_screen(t->scratch);
    vterm_screen_reset(sc, 1);
    char u[5] = "a";
    size_t n = 1 + utf8_of(ch, u + 1);
    vterm_input_write(t->scratch, u, n);
    VTermScreenCell a, m;
    unsigned kind = 0;
    if (vterm_screen_get_cell(sc, (VTermPos){0, 0}, &a) && a.chars[1] == ch)
        kind = CH_COMBINING;
    else if (vterm_screen_get_cell(sc, (VTermPos){0, 1}, &m) && m.width > 1)
        kind = CH_WIDE;
    t->wcache[slot] = ch << 2 | kind;
    return kind;
}

/* A wide character cut in half: libvterm keeps one that straddles the
 * right edge after the screen shrank, or with its right half written over,
 * as a cell of width 1. No terminal can draw it so (it would wrap, or take
 * the next cell too), and none shows it (a terminal erases a wide character
 * when half of it is written over): it is left out. */
static bool cut_wide(stdio_term_t *t, int col, const VTermScreenCell *c)
{
    (void)col;
    return c->width == 1 && c->chars[0] >= 0x1100 && (char_kind(t, c->chars[0]) & CH_WIDE);
}

static bool cell_blank(const VTermScreenCell *c)
{
    /* (a space with a combining character on it is not blank) */
    return (c->chars[0] == 0 || (c->chars[0] == ' ' && c->chars[1] == 0)) &&
           VTERM_COLOR_IS_DEFAULT_BG(&c->bg) &&
           !c->attrs.reverse && !c->attrs.underline && !c->attrs.strike;
}

int stdio_term_redraw(stdio_term_t *t, char **out, size_t *len)
{
    buf_t b = {0};
    /* Hidden cursor while drawing; the program's screen (main or alternate)
     * cleared; a scroll region drawn over would move nothing. */
    /* Whatever the viewer's terminal was in the middle of (a string such
     * as a title, an escape sequence, half a UTF-8 character) ends first:
     * CAN and ST end strings and sequences; three continuation bytes at home
     * complete any character begun (and show as replacement characters,
     * cleared below). An ASCII byte does not do it: libvterm keeps a
     * sequence pending across it. */
    puts_(&b, "\030\033\\\033[H\xbf\xbf\xbf\033[H");
    puts_(&b, "\033[?25l\033[r");
    puts_(&b, t->altscreen ? "\033[?1049h" : "\033[?1049l");
    puts_(&b, "\033[0m\033[H\033[2J");
    pen_t cur = {0}, def;
    VTermScreenCell cell;
    VTermPos pos = {0, 0};
    vterm_screen_get_cell(t->screen, pos, &cell); /* for the default colours */
    memset(&def, 0, sizeof def);
    vterm_state_get_default_colors(t->state, &def.fg, &def.bg);
    def.fg.type |= VTERM_COLOR_DEFAULT_FG;
    def.bg.type |= VTERM_COLOR_DEFAULT_BG;
    cur = def;
    for (int row = 0; row < (int)t->rows; row++) {
        /* The row's last cell worth drawing: trailing blanks are left to the
         * clear. */
        int end = (int)t->cols;
        while (end > 0) {
            pos = (VTermPos){row, end - 1};
            if (!vterm_screen_get_cell(t->screen, pos, &cell) || !cell_blank(&cell))
                break;
            end--;
        }
        if (end == 0)
            continue;
        putf(&b, "\033[%d;1H", row + 1);
        for (int col = 0; col < end; col++) {
            pos = (VTermPos){row, col};
            if (!vterm_screen_get_cell(t->screen, pos, &cell))
                continue;
            if (cell.chars[0] == (uint32_t)-1)
                continue; /* the right half of a wide character */
            if (col + cell.width > (int)t->cols || cut_wide(t, col, &cell))
                cell.chars[0] = 0; /* a wide one cut by a resize: no terminal shows it */
            pen_t p = {.a = cell.attrs, .fg = cell.fg, .bg = cell.bg};
            if (!pen_eq(&p, &cur)) {
                put_pen(&b, &p);
                cur = p;
            }
            if (cell.chars[0] == 0) {
                puts_(&b, " ");
                continue;
            }
            /* A combining character alone in its cell (a program wrote one
             * where no character was before it): sent as it is, the
             * viewer's terminal would merge it into whatever it drew last,
             * or drop it when more text follows. A space here and the
             * cursor back make it a character of its own, and a cursor
             * move after it ends the text there, as the program's did. */
            bool lone = char_kind(t, cell.chars[0]) & CH_COMBINING;
            if (lone)
                putf(&b, " \033[%d;%dH", row + 1, col + 1);
            for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && cell.chars[i]; i++)
                put_utf8(&b, printable(cell.chars[i]));
            if (lone)
                putf(&b, "\033[%d;%dH", row + 1, col + 2);
            if (cell.width > 1)
                col += cell.width - 1;
        }
    }
    /* The modes the program set, its pen and its cursor. */
    if (t->m.top)
        putf(&b, "\033[%d;%dr", t->m.top, t->m.bottom);
    puts_(&b, t->m.app_cursor ? "\033[?1h" : "\033[?1l");
    puts_(&b, t->m.app_keypad ? "\033=" : "\033>");
    puts_(&b, t->m.paste ? "\033[?2004h" : "\033[?2004l");
    if (t->m.focus)
        puts_(&b, "\033[?1004h");
    static const char *const mouse[] = {"", "\033[?1000h", "\033[?1002h", "\033[?1003h"};
    if (t->mouse > 0 && t->mouse < 4)
        puts_(&b, mouse[t->mouse]);
    if (t->mouse > 0 && t->m.sgr_mouse)
        puts_(&b, "\033[?1006h");
    pen_t pen;
    pen_of_state(t, &pen);
    put_pen(&b, &pen);
    VTermPos cp;
    vterm_state_get_cursorpos(t->state, &cp);
    /* libvterm can leave it outside the screen after a shrink. */
    cp.row = cp.row < 0 ? 0 : cp.row >= (int)t->rows ? (int)t->rows - 1 : cp.row;
    cp.col = cp.col < 0 ? 0 : cp.col >= (int)t->cols ? (int)t->cols - 1 : cp.col;
    putf(&b, "\033[%d;%dH", cp.row + 1, cp.col + 1);
    if (t->cursor_visible)
        puts_(&b, "\033[?25h");
    if (b.oom) {
        free(b.p);
        return -ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

char *stdio_term_text(stdio_term_t *t)
{
    buf_t b = {0};
    VTermScreenCell cell;
    for (int row = 0; row < (int)t->rows; row++) {
        size_t line_start = b.len;
        for (int col = 0; col < (int)t->cols; col++) {
            if (!vterm_screen_get_cell(t->screen, (VTermPos){row, col}, &cell))
                continue;
            if (cell.chars[0] == (uint32_t)-1)
                continue;
            if (col + cell.width > (int)t->cols || cut_wide(t, col, &cell))
                cell.chars[0] = 0; /* as in the redraw */
            if (cell.chars[0] == 0)
                puts_(&b, " ");
            for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && cell.chars[i]; i++)
                put_utf8(&b, printable(cell.chars[i])); /* as in the redraw */
            if (cell.width > 1)
                col += cell.width - 1;
        }
        while (b.len > line_start && b.p[b.len - 1] == ' ')
            b.len--;
        puts_(&b, "\n");
    }
    put(&b, "", 1);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
