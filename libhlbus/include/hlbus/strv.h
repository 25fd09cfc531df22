/* NULL-terminated string vectors (char **), as argv and config lists are
 * kept everywhere in the tree. NULL is a valid, empty vector. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

size_t hlb_strv_len(char *const *v);
/* Frees every string and the vector; NULL is fine. */
void hlb_strv_free(char **v);
/* A deep copy; NULL for NULL (and on out-of-memory). */
char **hlb_strv_dup(char *const *v);
/* Element-wise equality; NULL equals the empty vector. */
bool hlb_strv_eq(char *const *a, char *const *b);
bool hlb_strv_contains(char *const *v, const char *s);
/* Appends a copy of S to *V (keeping it NULL-terminated); 0 or -ENOMEM,
 * after which *V is unchanged. */
int hlb_strv_push(char ***v, const char *s);
