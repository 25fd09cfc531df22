/* hlctl attach's stdin side: see attach_input.h. */
#include "attach_input.h"

#include <string.h>

size_t attach_input_room(const attach_input_t *in, size_t chunk)
{
    if (in->read_only)
        return chunk;
    size_t room = in->cap > in->len ? in->cap - in->len : 0;
    return room < chunk ? room : chunk;
}

bool attach_input_take(attach_input_t *in, const uint8_t *buf, size_t n)
{
    size_t keep = n;
    bool detach = false;
    if (in->tty && in->detach_key >= 0) {
        const uint8_t *k = memchr(buf, in->detach_key, n);
        if (k) {
            keep = (size_t)(k - buf);
            detach = true;
        }
        /* Read-only: Ctrl-C leaves as well, nothing is forwarded. */
        if (in->read_only && memchr(buf, 0x03, keep))
            detach = true;
    }
    if (in->read_only)
        return detach;
    size_t room = in->cap > in->len ? in->cap - in->len : 0;
    if (keep > room) /* a caller that read more than the room: never past the end */
        keep = room;
    memcpy(in->q + in->len, buf, keep);
    in->len += keep;
    return detach;
}

void attach_input_sent(attach_input_t *in, size_t w)
{
    if (w >= in->len) {
        in->len = 0;
        return;
    }
    memmove(in->q, in->q + w, in->len - w);
    in->len -= w;
}
