/* Proto enum words (see pbenum.h). */
#include "hlbus/pbenum.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ENUMS 32
#define MAX_WORD 48

typedef struct {
    const ProtobufCEnumDescriptor *desc;
    char (*words)[MAX_WORD]; /* one per value, in desc->values order */
} enum_words_t;

static enum_words_t enums[MAX_ENUMS];
static size_t nenums;
static pthread_mutex_t enums_lock = PTHREAD_MUTEX_INITIALIZER;

static void make_word(const char *name, char *out)
{
    const char *us = strchr(name, '_');
    const char *p = us && us[1] ? us + 1 : name;
    size_t i = 0;
    for (; p[i] && i + 1 < MAX_WORD; i++)
        out[i] = p[i] == '_' ? '-' : (char)tolower((unsigned char)p[i]);
    out[i] = '\0';
}

static const enum_words_t *words_of(const ProtobufCEnumDescriptor *desc)
{
    pthread_mutex_lock(&enums_lock);
    const enum_words_t *found = NULL;
    for (size_t i = 0; i < nenums && !found; i++)
        if (enums[i].desc == desc)
            found = &enums[i];
    if (!found && nenums < MAX_ENUMS) {
        char (*w)[MAX_WORD] = calloc(desc->n_values ? desc->n_values : 1, sizeof *w);
        if (w) {
            for (unsigned i = 0; i < desc->n_values; i++)
                make_word(desc->values[i].name, w[i]);
            enums[nenums] = (enum_words_t){desc, w};
            found = &enums[nenums++];
        }
    }
    pthread_mutex_unlock(&enums_lock);
    return found;
}

const char *hlb_pb_enum_word(const ProtobufCEnumDescriptor *desc, int value)
{
    const enum_words_t *w = desc ? words_of(desc) : NULL;
    for (unsigned i = 0; w && i < desc->n_values; i++)
        if (desc->values[i].value == value)
            return w->words[i];
    return "unknown";
}

int hlb_pb_enum_parse(const ProtobufCEnumDescriptor *desc, const char *word, int *value)
{
    const enum_words_t *w = desc && word ? words_of(desc) : NULL;
    for (unsigned i = 0; w && i < desc->n_values; i++)
        if (strcasecmp(word, w->words[i]) == 0 || strcmp(word, desc->values[i].name) == 0) {
            *value = desc->values[i].value;
            return 0;
        }
    char *end;
    long v = word && *word ? strtol(word, &end, 10) : 0;
    if (w && word && *word && !*end && protobuf_c_enum_descriptor_get_value(desc, (int)v)) {
        *value = (int)v;
        return 0;
    }
    return -EINVAL;
}
