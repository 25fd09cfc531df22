/* A declarative config schema: one table per section, one row per key.
 *
 * A row names the key, its kind, where it lands in the daemon's struct
 * (offset and width), its default (as config text, parsed by the same code
 * as the file's value), its limits and, for custom kinds, its parser. From
 * the table come parsing, unknown-key errors with file:line, defaults, the
 * reload's "restart needed" list and the --help summary, so a key is written
 * once:
 *
 *   typedef struct { int64_t hwm; char **lvc; } bus_conf_t;
 *   static const hlb_conf_key_t bus_keys[] = {
 *       HLB_KEY_INT(bus_conf_t, hwm, "100000", 100, 10000000, HLB_KEY_RESTART),
 *       HLB_KEY_STRV(bus_conf_t, lvc, "lvc_prefixes", NULL, 64, 0),
 *       {0}};
 *   static const hlb_conf_table_t bus_table = {"hl-bus", sizeof(bus_conf_t), bus_keys};
 *   hlb_conf_schema_parse(&bus_table, section, &conf, ctx, diag);
 *
 * Lists of structured entries (health checks, phases) are HLB_KIND_LIST rows
 * and maps of named entries (services, thresholds) HLB_KIND_DICT rows: both
 * hold an hlb_conf_vec_t whose items are parsed by the row's sub-table.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"

typedef enum hlb_conf_kindof {
    HLB_KIND_STR,      /* char *, owned; "" allowed */
    HLB_KIND_INT,      /* signed or unsigned integer of the row's width */
    HLB_KIND_DOUBLE,   /* double; limits in dmin/dmax */
    HLB_KIND_BOOL,     /* bool: true/false, yes/no, on/off, 1/0 */
    HLB_KIND_DURATION, /* integer milliseconds: "250ms", "10s", "5m", "1h", bare seconds */
    HLB_KIND_SIZE,     /* integer bytes: "4096", "64K", "1MiB", "2G" (binary) */
    HLB_KIND_MODE,     /* mode_t: an octal "0660" */
    HLB_KIND_ENUM,     /* int: one of the row's names (index = value unless values) */
    HLB_KIND_STRV,     /* char **, NULL-terminated, owned; at most max items */
    HLB_KIND_SECRET,   /* char *, owned: read from KEY_file or KEY_credential, never inline */
    HLB_KIND_CUSTOM,   /* the row's parse() reads the node */
    HLB_KIND_TABLE,    /* a nested map, parsed by sub into the struct at offset */
    HLB_KIND_LIST,     /* hlb_conf_vec_t: a list of maps, each parsed by sub */
    HLB_KIND_DICT,     /* hlb_conf_vec_t: a map of name → map, each parsed by sub */
} hlb_conf_kindof_t;

/* Row flags. */
#define HLB_KEY_RESTART  (1u << 0) /* a reload cannot apply a change: it says so */
#define HLB_KEY_REQUIRED (1u << 1) /* absent is an error */

typedef struct hlb_conf_vec {
    void *items; /* n items of the sub-table's size */
    size_t n;
} hlb_conf_vec_t;

typedef struct hlb_conf_table hlb_conf_table_t;

typedef struct hlb_conf_key {
    const char *key;
    hlb_conf_kindof_t kind;
    size_t offset;
    size_t width;      /* sizeof the field for INT, DURATION, SIZE, MODE, ENUM */
    const char *def;   /* default as config text; NULL: leave what init() set (zero) */
    int64_t min, max;  /* INT, DURATION (ms), SIZE (bytes), STRV/LIST/DICT (count); 0,0: any */
    double dmin, dmax; /* DOUBLE */
    const char *const *names; /* ENUM: NULL-terminated */
    const int *values;        /* ENUM: the value of each name; NULL: its index */
    const hlb_conf_table_t *sub; /* TABLE, LIST, DICT */
    /* CUSTOM: parse NODE (never NULL) into FIELD; report through D. */
    int (*parse)(const hlb_conf_t *node, void *field, void *ctx, hlb_diag_t *d);
    void (*free)(void *field); /* CUSTOM: release what parse() stored */
    unsigned flags;
    const char *help; /* one line for --help; NULL: none */
} hlb_conf_key_t;

struct hlb_conf_table {
    const char *name; /* for messages: "hl-bus", "check" */
    size_t size;      /* sizeof the struct (for LIST and DICT items) */
    const hlb_conf_key_t *keys; /* ended by a row with key NULL */
    /* Before defaults: set what no row's default can (values that depend on
     * CTX, such as a section's defaults for its entries). */
    void (*init)(void *obj, void *ctx);
    /* After every row: cross-key checks and derived values. NODE is the map
     * (NULL when the section is absent), for presence and file:line. */
    int (*check)(void *obj, const hlb_conf_t *node, void *ctx, hlb_diag_t *d);
    /* Release what init()/check() allocated beyond the rows. */
    void (*free)(void *obj);
    /* DICT items: where the entry's name (its map key) is stored, a char *.
     * LIST items: ignored. */
    size_t name_offset;
    bool has_name;
};

#define HLB__W(T, f) sizeof(((T *)0)->f)
/* A row for field F of struct T read from key K (a string literal). */
#define HLB_KEY(K, kd, T, f, ...) \
    {.key = (K), .kind = (kd), .offset = offsetof(T, f), .width = HLB__W(T, f), __VA_ARGS__}
/* Rows for the common kinds, keyed by the field's name. */
#define HLB_KEY_STR(T, f, dflt, fl) HLB_KEY(#f, HLB_KIND_STR, T, f, .def = (dflt), .flags = (fl))
#define HLB_KEY_INT(T, f, dflt, lo, hi, fl) \
    HLB_KEY(#f, HLB_KIND_INT, T, f, .def = (dflt), .min = (lo), .max = (hi), .flags = (fl))
#define HLB_KEY_DOUBLE(T, f, dflt, lo, hi, fl) \
    HLB_KEY(#f, HLB_KIND_DOUBLE, T, f, .def = (dflt), .dmin = (lo), .dmax = (hi), .flags = (fl))
#define HLB_KEY_BOOL(T, f, dflt, fl) HLB_KEY(#f, HLB_KIND_BOOL, T, f, .def = (dflt), .flags = (fl))
#define HLB_KEY_DURATION(T, f, dflt, lo, hi, fl) \
    HLB_KEY(#f, HLB_KIND_DURATION, T, f, .def = (dflt), .min = (lo), .max = (hi), .flags = (fl))
#define HLB_KEY_SIZE(T, f, dflt, lo, hi, fl) \
    HLB_KEY(#f, HLB_KIND_SIZE, T, f, .def = (dflt), .min = (lo), .max = (hi), .flags = (fl))
#define HLB_KEY_MODE(T, f, dflt, lo, hi, fl) \
    HLB_KEY(#f, HLB_KIND_MODE, T, f, .def = (dflt), .min = (lo), .max = (hi), .flags = (fl))
#define HLB_KEY_STRV(T, f, dflt, maxn, fl) \
    HLB_KEY(#f, HLB_KIND_STRV, T, f, .def = (dflt), .max = (maxn), .flags = (fl))
#define HLB_KEY_SECRET(T, f, fl) HLB_KEY(#f, HLB_KIND_SECRET, T, f, .flags = (fl))
#define HLB_KEY_ENUM(T, f, dflt, nm, fl) \
    HLB_KEY(#f, HLB_KIND_ENUM, T, f, .def = (dflt), .names = (nm), .flags = (fl))
#define HLB_KEY_TABLE(T, f, tbl, fl) HLB_KEY(#f, HLB_KIND_TABLE, T, f, .sub = (tbl), .flags = (fl))
#define HLB_KEY_LIST(T, f, tbl, maxn, fl) \
    HLB_KEY(#f, HLB_KIND_LIST, T, f, .max = (maxn), .sub = (tbl), .flags = (fl))
#define HLB_KEY_DICT(T, f, tbl, maxn, fl) \
    HLB_KEY(#f, HLB_KIND_DICT, T, f, .max = (maxn), .sub = (tbl), .flags = (fl))
#define HLB_KEY_CUSTOM(K, T, f, fn, freefn, fl) \
    HLB_KEY(K, HLB_KIND_CUSTOM, T, f, .parse = (fn), .free = (freefn), .flags = (fl))

/* Fills OBJ (size TABLE->size, zeroed here) from NODE, a map or NULL (all
 * defaults). Every problem goes to D with its file:line: unknown keys (with
 * the known ones listed), wrong types, values out of limits, missing
 * required keys, inline secrets. Returns 0 or -EINVAL; OBJ is filled either
 * way and must be released with hlb_conf_schema_free. */
int hlb_conf_schema_parse(const hlb_conf_table_t *table, const hlb_conf_t *node, void *obj,
                          void *ctx, hlb_diag_t *d);
/* Releases what parsing stored in OBJ (strings, lists, entries) and zeroes it.
 * Secrets are wiped before they are freed. */
void hlb_conf_schema_free(const hlb_conf_table_t *table, void *obj);
/* Appends to *OUT (a NULL-terminated strv, may be NULL at first) the dotted
 * names, under PREFIX, of the HLB_KEY_RESTART rows whose value differs
 * between OLD and NEW. Returns how many were added. */
size_t hlb_conf_schema_restart_keys(const hlb_conf_table_t *table, const char *prefix,
                                    const void *old_obj, const void *new_obj, char ***out);
/* "key (default), key (default), ..." for --help; free() it. */
char *hlb_conf_schema_help(const hlb_conf_table_t *table);

/* A size with an optional binary unit ("1MiB", "64K", "4096"); 0 or -EINVAL. */
int hlb_parse_size(const char *s, uint64_t *out);
/* An octal mode ("0660"); 0 or -EINVAL. */
int hlb_parse_mode(const char *s, mode_t *out);

/* Top-level sections any daemon may find in the shared file: the shared
 * settings (admin_group, log) and the daemons still to come; besides these,
 * one per directory under daemons/ (generated at build time, so a new
 * daemon's section needs no edit here). A config that names any other is
 * refused, with file:line, by every daemon: a misspelt section would
 * otherwise be silently ignored by all of them. */
extern const char *const hlb_conf_sections[];
/* Reports every top-level key of ROOT not in hlb_conf_sections. */
int hlb_conf_check_sections(const hlb_conf_t *root, hlb_diag_t *d);

/* Reads a secret: PATH_KEY ("<key>_file") names a file, CRED_KEY
 * ("<key>_credential") a systemd credential in $CREDENTIALS_DIRECTORY
 * (LoadCredential=). Exposed for daemons that read secrets outside a row. */
int hlb_conf_secret_read(const hlb_conf_t *node, const char *key, char **out, hlb_diag_t *d);
