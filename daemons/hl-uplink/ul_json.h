/* A small strict JSON reader for what the API and the metadata sources send
 * back (registration replies, cloud-init's instance-data.json). Bounded:
 * depth and node count are limited, so a hostile or broken answer costs
 * bounded memory and gets a clear error; fuzzed (tests/fuzz/uplink). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ul_jtype { UL_J_NULL, UL_J_BOOL, UL_J_NUM, UL_J_STR, UL_J_ARR, UL_J_OBJ } ul_jtype_t;

typedef struct ul_jnode {
    ul_jtype_t type;
    char *key;   /* the member name inside an object, else NULL */
    char *str;   /* UL_J_STR: NUL-terminated UTF-8 (no NUL inside: \u0000 is refused) */
    double num;
    bool b;
    struct ul_jnode *child, *next;
} ul_jnode_t;

#define UL_JSON_MAX_DEPTH 32
#define UL_JSON_MAX_NODES 20000

/* Parses LEN bytes (one value, whitespace around it). NULL on error, with
 * *ERR (caller frees) saying what and at which byte. */
ul_jnode_t *ul_json_parse(const char *s, size_t len, char **err);
void ul_json_free(ul_jnode_t *n);
/* The member KEY of object OBJ (NULL when OBJ is no object or lacks it). */
const ul_jnode_t *ul_json_get(const ul_jnode_t *obj, const char *key);
/* Its string value, or NULL when absent or not a string. */
const char *ul_json_get_str(const ul_jnode_t *obj, const char *key);
/* Its value as an integer: false when absent, not a number, not integral or
 * outside [MIN, MAX]. */
bool ul_json_get_int(const ul_jnode_t *obj, const char *key, int64_t min, int64_t max,
                     int64_t *out);
/* Appends N as JSON text (numbers as %.17g, integral ones as integers). */
struct hlb_buf;
void ul_json_write(struct hlb_buf *b, const ul_jnode_t *n);
