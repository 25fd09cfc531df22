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
#include <dirent.h>

/* Runs INPUT and 20000 mutations of it (byte flips, cuts, extensions, and
 * bytes the hello is made of). */
static size_t mutate_run(const uint8_t *input, size_t n, unsigned long long *s)
{
    uint8_t buf[512];
    if (n > sizeof buf - 64)
        n = sizeof buf - 64;
    LLVMFuzzerTestOneInput(input, n);
    for (int m = 0; m < 20000; m++) {
        memcpy(buf, input, n);
        size_t len = n;
        int edits = 1 + (int)(*s % 4);
        for (int e = 0; e < edits; e++) {
            *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
            size_t at = len ? (size_t)(*s >> 8) % len : 0;
            switch (*s % 4) {
            case 0: buf[at] = (uint8_t)(*s >> 16); break;
            case 1: if (len) len = at; break;
            case 2: if (len < sizeof buf) buf[len++] = (uint8_t)(*s >> 24); break;
            default: buf[at] = (uint8_t)"0123456789: fromnw=-"[(*s >> 20) % 20]; break;
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    return 20001;
}

/* Without libFuzzer: every file of the corpus directory given, and
 * mutations of each. */
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 64;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 2;
    }
    unsigned long long s = 0x9E3779B97F4A7C15ULL;
    size_t runs = 0, files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        uint8_t in[4096];
        size_t n = fread(in, 1, sizeof in, f);
        fclose(f);
        runs += mutate_run(in, n, &s);
        files++;
    }
    closedir(d);
    printf("%zu inputs from %zu seeds, no crash\n", runs, files);
    return files ? 0 : 2;
}
#endif
