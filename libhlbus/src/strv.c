/* NULL-terminated string vectors. */
#include "hlbus/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t hlb_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void hlb_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

char **hlb_strv_dup(char *const *v)
{
    if (!v)
        return NULL;
    size_t n = hlb_strv_len(v);
    char **out = calloc(n + 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = strdup(v[i]))) {
            hlb_strv_free(out);
            return NULL;
        }
    return out;
}

bool hlb_strv_eq(char *const *a, char *const *b)
{
    size_t na = hlb_strv_len(a), nb = hlb_strv_len(b);
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

bool hlb_strv_contains(char *const *v, const char *s)
{
    for (size_t i = 0; s && v && v[i]; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

int hlb_strv_push(char ***v, const char *s)
{
    size_t n = hlb_strv_len(*v);
    char *copy = strdup(s ? s : "");
    if (!copy)
        return -ENOMEM;
    char **grown = realloc(*v, (n + 2) * sizeof *grown);
    if (!grown) {
        free(copy);
        return -ENOMEM;
    }
    grown[n] = copy;
    grown[n + 1] = NULL;
    *v = grown;
    return 0;
}
