/* Free-form maps (structured log fields, details, request arguments) as
 * msgpack: a builder and a read-only view. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HLB_TYPE_MSGPACK "msgpack"

typedef struct hlb_map hlb_map_t;

hlb_map_t *hlb_map_new(void);
void hlb_map_destroy(hlb_map_t **self_p);
void hlb_map_str(hlb_map_t *m, const char *key, const char *value);
void hlb_map_strn(hlb_map_t *m, const char *key, const char *value, size_t len);
void hlb_map_int(hlb_map_t *m, const char *key, int64_t value);
void hlb_map_uint(hlb_map_t *m, const char *key, uint64_t value);
void hlb_map_double(hlb_map_t *m, const char *key, double value);
void hlb_map_bool(hlb_map_t *m, const char *key, bool value);
void hlb_map_nil(hlb_map_t *m, const char *key);
/* Nests CHILD (taken) as the value of KEY. */
void hlb_map_map(hlb_map_t *m, const char *key, hlb_map_t **child_p);
/* An array of strings. */
void hlb_map_strv(hlb_map_t *m, const char *key, const char *const *values, size_t n);
size_t hlb_map_size(const hlb_map_t *m);
/* The packed map; the pointer stays valid until the map changes or dies. */
const void *hlb_map_data(hlb_map_t *m, size_t *len);

/* hlb_msgpack_check: the guard to call before unpacking untrusted bytes. */
#include "msgpack_check.h"

/* A decoded msgpack map to read from. */
typedef struct hlb_mpview hlb_mpview_t;

/* NULL unless DATA is exactly one msgpack map. */
hlb_mpview_t *hlb_mpview_new(const void *data, size_t len);
void hlb_mpview_destroy(hlb_mpview_t **self_p);
bool hlb_mpview_has(const hlb_mpview_t *v, const char *key);
/* Returns a copy the caller frees, or NULL when absent or not a string. */
char *hlb_mpview_str(const hlb_mpview_t *v, const char *key);
/* 0, -ENOENT when absent, -EINVAL when of another type. */
int hlb_mpview_int(const hlb_mpview_t *v, const char *key, int64_t *out);
int hlb_mpview_double(const hlb_mpview_t *v, const char *key, double *out);
int hlb_mpview_bool(const hlb_mpview_t *v, const char *key, bool *out);
