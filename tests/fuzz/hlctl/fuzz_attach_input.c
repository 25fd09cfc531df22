/* Fuzz target for hlctl attach's stdin side (daemons/hlctl/attach_input.c),
 * whose read overran its queue (#12). The input drives the attach loop:
 * byte 0 sets tty / read-only / a detach key (byte 1), byte 2 the queue's
 * capacity; every further byte is a step, a read from stdin (low 7 bits x 41
 * bytes, sized by attach_input_room as hlctl does, or not, bit 0 of the
 * step count) or the socket taking bytes (high bit). The queue is exactly
 * its capacity on the heap, so ASan sees any write past it; a model of what
 * must be queued is checked after every step. With HL_FUZZ it is a
 * libFuzzer target; otherwise a test over its seeds and random inputs. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../fuzz_util.h"

#include "attach_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    attach_input_t in = {.tty = data[0] & 1, .read_only = data[0] & 2,
                         .detach_key = data[0] & 4 ? data[1] : -1};
    in.cap = 1 + (size_t)data[2] * 37;
    in.q = malloc(in.cap);
    uint8_t *model = malloc(in.cap);
    size_t model_len = 0;
    uint8_t chunk[8192];
    size_t src = 3;
    bool detached = false;
    for (size_t step = 3; step < size && !detached; step++) {
        uint8_t op = data[step];
        if (op & 0x80) { /* the socket takes some */
            size_t w = (size_t)(op & 0x7f) * 97;
            attach_input_sent(&in, w);
            size_t k = w < model_len ? w : model_len;
            memmove(model, model + k, model_len - k);
            model_len -= k;
        } else { /* stdin has N bytes */
            size_t n = (size_t)op * 41 + 1;
            if (n > sizeof chunk)
                n = sizeof chunk;
            bool sized = (step & 1) == 0; /* as hlctl reads; else more than the room */
            size_t r = sized ? attach_input_room(&in, n) : n;
            for (size_t i = 0; i < r; i++)
                chunk[i] = data[src++ % size];
            size_t room = in.cap - in.len;
            detached = attach_input_take(&in, chunk, r);
            if (!in.read_only) {
                /* what the model queues: up to the detach key, within the room */
                size_t keep = r;
                if (in.tty && in.detach_key >= 0) {
                    uint8_t *k = memchr(chunk, in.detach_key, r);
                    if (k)
                        keep = (size_t)(k - chunk);
                }
                if (keep > room)
                    keep = room;
                if (sized)
                    assert(keep == r || (in.tty && in.detach_key >= 0));
                memcpy(model + model_len, chunk, keep);
                model_len += keep;
            }
        }
        assert(in.len <= in.cap);
        assert(in.len == model_len);
        assert(memcmp(in.q, model, in.len) == 0);
    }
    free(in.q);
    free(model);
    return 0;
}

#ifndef HL_FUZZ_LIBFUZZER
#include "../common/replay.h"

/* Without libFuzzer: every seed in the directory given, then random inputs. */
int main(int argc, char **argv)
{
    static const fuzz_replay_t how = {
        .name = "fuzz_attach_replay",
        .random_inputs = 100000,
        .random_min = 3,
        .random_max = 200,
        .verdict = "no overrun",
    };
    return fuzz_replay_main(argc, argv, &how);
}
#endif
