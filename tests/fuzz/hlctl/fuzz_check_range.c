/* Fuzz target for hlctl check's parsers and writers (daemons/hlctl/plugin.c):
 * the input, up to its first NUL, is a -w/-c range; what follows is text and
 * a perfdata label as they would come from the bus. A range that parses
 * behaves as its bounds say (inside and outside agree with @, start <= end);
 * one that does not has a reason. The status text and the perfdata never
 * carry a '|' of the input or a control byte, so the line stays one line
 * whose perfdata starts where the plugins look for it. With HL_FUZZ a
 * libFuzzer target; otherwise a test over the seeds in corpus-check/ and
 * random inputs. */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    size_t first = strlen(s);
    hlctl_range_t r;
    const char *why = NULL;
    if (hlctl_range_parse(s, &r, &why) == 0) {
        assert(r.set && strcmp(r.text, s) == 0);
        assert(r.start_inf || r.end_inf || r.start <= r.end);
        double probes[] = {r.start, r.end, r.start - 1, r.end + 1, 0, -1e300, 1e300};
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
            double v = probes[i];
            if (isnan(v) || isinf(v))
                continue;
            bool in = (r.start_inf || v >= r.start) && (r.end_inf || v <= r.end);
            assert(hlctl_range_alerts(&r, v) == (r.inside ? in : !in));
        }
    } else {
        assert(why && *why && !r.set);
    }
    /* the rest: text and a label from a publisher */
    const char *rest = first < size ? s + first + 1 : "";
    hlctl_plugin_t p = {.name = "FUZZ"};
    hlctl_plugin_text(&p, "%s", rest);
    hlctl_plugin_perf(&p, rest, 1, "s", false, 0, NAN);
    for (const char *c = p.text.data ? p.text.data : ""; *c; c++)
        assert(*c != '|' && (unsigned char)*c >= 0x20 && *c != 0x7f);
    for (const char *c = p.perf.data ? p.perf.data : ""; *c; c++)
        assert(*c != '|' && (unsigned char)*c >= 0x20 && *c != 0x7f);
    hlb_buf_free(&p.text);
    hlb_buf_free(&p.perf);
    hlb_buf_free(&p.json_perf);
    free(s);
    return 0;
}

#ifndef HL_FUZZ_LIBFUZZER
#include "../common/replay.h"

/* Without libFuzzer: every seed in the directory given, then random inputs
 * drawn from the range alphabet and a few bytes that must be escaped. */
int main(int argc, char **argv)
{
    static const char alphabet[] = "0123456789.:~@-+eE |\n\x1b'\0\xff";
    static const fuzz_replay_t how = {
        .name = "fuzz_check_range_replay",
        .alphabet = alphabet,
        .alphabet_len = sizeof alphabet - 1,
        .random_inputs = 200000,
        .random_max = 24,
        .random_from_alphabet = true,
        .verdict = "every range as its bounds say, no '|' or control byte out",
    };
    return fuzz_replay_main(argc, argv, &how);
}
#endif
