/* What each subscriber connection may make hl-bus hold. libzmq keeps every
 * subscription in a trie (tens of bytes per byte of prefix) before hl-bus
 * sees it, so a bound only holds if a connection that breaks it goes:
 * hl-bus counts per connection (the fd a subscription came on, ZMQ_SRCFD,
 * with its socket inode so a reused fd number starts afresh) and drops the
 * connection that asks for too many, or for more than is left in all. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct subbudget subbudget_t;

typedef enum { SB_OK, SB_TOO_MANY, SB_NO_ROOM, SB_UNKNOWN } sb_verdict_t;

subbudget_t *subbudget_new(void);
void subbudget_destroy(subbudget_t **self_p);
/* A subscription of LEN bytes on FD: within PER_CONN subscriptions for FD
 * and MAX_BYTES for all connections together? Counted when SB_OK. */
sb_verdict_t subbudget_add(subbudget_t *b, int fd, size_t len, int per_conn, int64_t max_bytes);
/* FD unsubscribed LEN bytes. */
void subbudget_remove(subbudget_t *b, int fd, size_t len);
/* Subscriptions and their bytes on connections still open. */
void subbudget_totals(subbudget_t *b, uint64_t *count, uint64_t *bytes);
