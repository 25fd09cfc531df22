/* The attach protocol of hl-stdio (docs/stdio.md, "Attach protocol").
 *
 * Plain clients use a channel's raw socket and exchange bare bytes. Clients
 * that want options connect to the attach socket instead, send one hello
 * line, and from then on write bare bytes and receive frames:
 *
 *   client -> relay   "hl-stdio/1 attach CHANNEL [read-only] [from=OFFSET] [size=CxR]
 *                      [framed-input] [screen] [agent]\n"
 *                     OFFSET: N | STREAM:N | now      (then raw input bytes)
 *
 * Terminal channels (docs/stdio.md, "Terminals"): hl-pty attaches with
 * "agent" as the side that runs the program; every other client is a viewer.
 *   size=CxR      the client's window: C columns, R rows
 *   framed-input  the client's bytes after the hello are frames too: D
 *                 (input, offset 0) and W (its new window size)
 *   screen        a late joiner: the current screen (R frames), then the
 *                 live stream from the head (instead of the scrollback)
 *   agent         the program's side: gets the viewers' input and W frames
 *                 with the size to apply; its bytes are what viewers see
 *   relay -> client   frames: a 16-byte header and a payload
 *                       byte 0      type: 'S' start, 'D' data, 'K' skipped, 'E' end
 *                       bytes 1-3   zero
 *                       bytes 4-7   payload length, big-endian
 *                       bytes 8-15  stream offset, big-endian
 *
 *   S  offset = the first byte the client will get; payload is one text line
 *      "stream=ID channel=NAME head=N tail=N missed=N read-only=0|1 reset=0|1\n"
 *   D  the stream bytes at offset (at most STDIO_WIRE_MAX_DATA of them)
 *   K  the client's own bytes at offset were skipped; payload: 8-byte count
 *   E  the relay is closing the connection; payload: why, one text line;
 *      offset = the client's position (where to resume from)
 *   W  a window size: payload 4 bytes, columns and rows, big-endian 16-bit
 *      (relay -> agent: apply it; client -> relay: my window now)
 *   R  a redraw of the screen as it is at the offset (a late joiner's first
 *      screen); several R frames in a row are one redraw
 *
 * Header-only so that hlctl can share it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define STDIO_WIRE_VERSION "hl-stdio/1"
#define STDIO_WIRE_HDR 16
#define STDIO_WIRE_MAX_HELLO 1024    /* bytes, newline included */
#define STDIO_WIRE_MAX_DATA 65536    /* payload of one D frame */
#define STDIO_WIRE_MAX_TEXT 4096     /* payload of S and E frames */

enum {
    STDIO_FRAME_START = 'S',
    STDIO_FRAME_DATA = 'D',
    STDIO_FRAME_SKIP = 'K',
    STDIO_FRAME_END = 'E',
    STDIO_FRAME_WINSIZE = 'W',
    STDIO_FRAME_REDRAW = 'R',
};

static inline void stdio_wire_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t stdio_wire_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline void stdio_wire_hdr(uint8_t out[STDIO_WIRE_HDR], int type, uint32_t len,
                                  uint64_t offset)
{
    out[0] = (uint8_t)type;
    out[1] = out[2] = out[3] = 0;
    out[4] = (uint8_t)(len >> 24);
    out[5] = (uint8_t)(len >> 16);
    out[6] = (uint8_t)(len >> 8);
    out[7] = (uint8_t)len;
    stdio_wire_put64(out + 8, offset);
}

/* Decodes and checks a header: 0, or -1 for an unknown type, non-zero
 * reserved bytes, or a length out of bounds for the type. */
static inline int stdio_wire_hdr_parse(const uint8_t in[STDIO_WIRE_HDR], int *type,
                                       uint32_t *len, uint64_t *offset)
{
    uint32_t l = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
    if (in[1] || in[2] || in[3])
        return -1;
    switch (in[0]) {
    case STDIO_FRAME_DATA:
    case STDIO_FRAME_REDRAW:
        if (l == 0 || l > STDIO_WIRE_MAX_DATA)
            return -1;
        break;
    case STDIO_FRAME_SKIP:
        if (l != 8)
            return -1;
        break;
    case STDIO_FRAME_WINSIZE:
        if (l != 4)
            return -1;
        break;
    case STDIO_FRAME_START:
    case STDIO_FRAME_END:
        if (l > STDIO_WIRE_MAX_TEXT)
            return -1;
        break;
    default:
        return -1;
    }
    *type = in[0];
    *len = l;
    *offset = stdio_wire_get64(in + 8);
    return 0;
}

/* A W frame's payload. */
static inline void stdio_wire_put_size(uint8_t p[4], unsigned cols, unsigned rows)
{
    p[0] = (uint8_t)(cols >> 8);
    p[1] = (uint8_t)cols;
    p[2] = (uint8_t)(rows >> 8);
    p[3] = (uint8_t)rows;
}

static inline void stdio_wire_get_size(const uint8_t p[4], unsigned *cols, unsigned *rows)
{
    *cols = (unsigned)p[0] << 8 | p[1];
    *rows = (unsigned)p[2] << 8 | p[3];
}

/* The value of KEY in a "k=v k=v" text payload, copied into OUT (NUL
 * terminated); false when absent or too long. */
static inline bool stdio_wire_kv(const char *text, size_t len, const char *key, char *out,
                                 size_t outlen)
{
    size_t klen = strlen(key);
    size_t i = 0;
    while (i < len) {
        while (i < len && (text[i] == ' ' || text[i] == '\n'))
            i++;
        size_t s = i;
        while (i < len && text[i] != ' ' && text[i] != '\n')
            i++;
        if (i - s > klen && text[s + klen] == '=' && memcmp(text + s, key, klen) == 0) {
            size_t vlen = i - s - klen - 1;
            if (vlen >= outlen)
                return false;
            memcpy(out, text + s + klen + 1, vlen);
            out[vlen] = 0;
            return true;
        }
    }
    return false;
}

/* A parsed hello (relay side, wire.c). */
typedef struct stdio_hello {
    char channel[65];
    bool read_only;
    enum { STDIO_FROM_DEFAULT, STDIO_FROM_NOW, STDIO_FROM_OFFSET } from;
    bool has_stream;
    uint64_t stream; /* with from=STREAM:N */
    uint64_t offset;
    bool framed_input, screen, agent;
    bool has_size;
    unsigned cols, rows; /* size=CxR; each at most 65535 */
} stdio_hello_t;

/* Parses one hello line (LEN bytes, without the newline; a trailing CR is
 * ignored). 0, or -EINVAL with a reason in ERR. */
int stdio_hello_parse(const char *line, size_t len, stdio_hello_t *out, char *err, size_t errlen);
