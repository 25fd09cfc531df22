/* The scrollback of one channel: a byte ring addressed by absolute 64-bit
 * stream offsets, which also remembers who wrote each byte (as runs of one
 * author) so that the relay never sends a client its own bytes.
 *
 * The ring keeps KEEP bytes of history (what a late joiner is replayed and how
 * far back a client may resume) plus SLACK bytes of physical room: a read of
 * up to SLACK new bytes straight into the ring then never overwrites any byte
 * of the previous KEEP, so a client that is only just being dropped for
 * falling behind still has the rest of the frame it was sent intact. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct stdio_ring stdio_ring_t;

/* NULL on bad sizes (KEEP or SLACK zero) or out of memory. MAX_RUNS bounds
 * the author bookkeeping (two writers alternating byte by byte would
 * otherwise need one run per byte); when it is reached the oldest run is
 * forgotten and the tail moves up past it. */
stdio_ring_t *stdio_ring_new(size_t keep, size_t slack, size_t max_runs);
void stdio_ring_destroy(stdio_ring_t **self_p);

/* Offset of the next byte to be written (the number of bytes ever written). */
uint64_t stdio_ring_head(const stdio_ring_t *r);
/* Oldest offset still available: max(head - keep, start of the oldest run). */
uint64_t stdio_ring_tail(const stdio_ring_t *r);
size_t stdio_ring_keep(const stdio_ring_t *r);
size_t stdio_ring_slack(const stdio_ring_t *r);
size_t stdio_ring_runs(const stdio_ring_t *r);

/* Room for LEN (<= slack) new bytes at the head, as one or two iovecs
 * (two when it wraps); returns the count. Read into it, then commit. */
int stdio_ring_reserve(stdio_ring_t *r, size_t len, struct iovec iov[2]);
/* Makes N bytes of the reserved room part of the stream, written by AUTHOR
 * (non-zero). */
void stdio_ring_commit(stdio_ring_t *r, size_t n, uint64_t author);
/* Copies LEN bytes in (in slack-sized steps). */
void stdio_ring_append(stdio_ring_t *r, const void *data, size_t len, uint64_t author);

/* Iovecs for the LEN bytes at FROM, which must still be physically present
 * (from >= head - keep - slack, from + len <= head); returns the count. */
int stdio_ring_iov(const stdio_ring_t *r, uint64_t from, size_t len, struct iovec iov[2]);
/* Copies the LEN bytes at FROM (same precondition) into DST. */
void stdio_ring_copy(const stdio_ring_t *r, uint64_t from, void *dst, size_t len);
/* The author of the byte at OFF (tail <= off < head) and the end of its run
 * (capped at head). */
uint64_t stdio_ring_run(const stdio_ring_t *r, uint64_t off, uint64_t *author);

/* Changes KEEP and SLACK, keeping as much history as fits; offsets are
 * unchanged. 0, -EINVAL or -ENOMEM (the ring is then unchanged). */
int stdio_ring_resize(stdio_ring_t *r, size_t keep, size_t slack);
