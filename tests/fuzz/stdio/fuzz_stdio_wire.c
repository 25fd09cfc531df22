/* Fuzz target for hl-stdio's attach protocol: the hello line the relay
 * parses and the frame stream a client (hlctl attach) parses. With HL_FUZZ
 * it is a libFuzzer target; otherwise a test that runs it over its seeds
 * and a few hundred thousand mutations of them. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../fuzz_util.h"

#include "wire.h"

static void check_hello(const uint8_t *data, size_t size)
{
    stdio_hello_t h;
    char err[160];
    err[0] = 0;
    int rc = stdio_hello_parse((const char *)data, size, &h, err, sizeof err);
    if (rc == 0) {
        /* Accepted: a valid channel name, and nothing else accepted. */
        size_t n = strlen(h.channel);
        assert(n >= 1 && n <= 64);
        for (size_t i = 0; i < n; i++)
            assert((h.channel[i] >= 'a' && h.channel[i] <= 'z') ||
                   (h.channel[i] >= '0' && h.channel[i] <= '9') || h.channel[i] == '-');
        size_t sp = 0; /* spaces between words (and before the first) are allowed */
        while (sp < size && data[sp] == ' ')
            sp++;
        assert(size - sp >= strlen(STDIO_WIRE_VERSION) &&
               memcmp(data + sp, STDIO_WIRE_VERSION, strlen(STDIO_WIRE_VERSION)) == 0);
    } else {
        /* Refused with a reason, printable and NUL-terminated. */
        assert(rc == -EINVAL && err[0]);
        for (const char *p = err; *p; p++)
            assert((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    }
}

/* The client's loop: headers checked, payloads within bounds. */
static void check_frames(const uint8_t *data, size_t size)
{
    size_t o = 0;
    while (size - o >= STDIO_WIRE_HDR) {
        int type;
        uint32_t len;
        uint64_t off;
        if (stdio_wire_hdr_parse(data + o, &type, &len, &off) < 0)
            return;
        assert(len <= STDIO_WIRE_MAX_DATA);
        if (size - o - STDIO_WIRE_HDR < len)
            return;
        if (type == STDIO_FRAME_START || type == STDIO_FRAME_END) {
            char v[32];
            stdio_wire_kv((const char *)data + o + STDIO_WIRE_HDR, len, "stream", v, sizeof v);
        }
        if (type == STDIO_FRAME_SKIP)
            (void)stdio_wire_get64(data + o + STDIO_WIRE_HDR);
        o += STDIO_WIRE_HDR + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_hello(data, size);
    check_frames(data, size);
    return 0;
}

#ifndef HL_FUZZ_LIBFUZZER
#include "../common/replay.h"

/* Without libFuzzer: every seed of the corpus and 20000 mutations of each
 * (byte flips, cuts, extensions, and bytes the hello is made of). */
int main(int argc, char **argv)
{
    static const fuzz_replay_t how = {
        .name = "fuzz_stdio_replay",
        .max_len = 448,
        .mutations = 20000,
        .alphabet = "0123456789: fromnw=-",
    };
    return fuzz_replay_main(argc, argv, &how);
}
#endif
