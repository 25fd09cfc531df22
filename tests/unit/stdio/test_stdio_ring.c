/* The scrollback ring against a model: every retained byte and its author. */
#include <errno.h>
#include <stdint.h>

#include "ring.h"
#include "t.h"

/* The model: the whole stream and who wrote each byte. */
typedef struct {
    uint8_t *data;
    uint64_t *author;
    size_t len, cap;
} model_t;

static void model_add(model_t *m, const uint8_t *p, size_t n, uint64_t a)
{
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->data = realloc(m->data, m->cap);
        m->author = realloc(m->author, m->cap * sizeof *m->author);
        REQUIRE(m->data && m->author);
    }
    if (n)
        memcpy(m->data + m->len, p, n);
    for (size_t i = 0; i < n; i++)
        m->author[m->len + i] = a;
    m->len += n;
}

static void verify(stdio_ring_t *r, const model_t *m)
{
    uint64_t head = stdio_ring_head(r), tail = stdio_ring_tail(r);
    CHECK_EQ_U(head, m->len);
    CHECK(tail <= head);
    CHECK(head - tail <= stdio_ring_keep(r));
    if (tail == head)
        return;
    uint8_t *buf = malloc(head - tail);
    stdio_ring_copy(r, tail, buf, head - tail);
    CHECK(memcmp(buf, m->data + tail, head - tail) == 0);
    free(buf);
    /* Authors: walk the runs. */
    uint64_t off = tail;
    while (off < head) {
        uint64_t a;
        uint64_t end = stdio_ring_run(r, off, &a);
        CHECK(end > off && end <= head);
        for (uint64_t i = off; i < end; i++)
            if (m->author[i] != a) {
                CHECK_EQ_U(m->author[i], a);
                return;
            }
        off = end;
    }
}

static void test_basic(void)
{
    stdio_ring_t *r = stdio_ring_new(16, 8, 64);
    REQUIRE(r);
    CHECK_EQ_U(stdio_ring_head(r), 0);
    CHECK_EQ_U(stdio_ring_tail(r), 0);
    stdio_ring_append(r, "hello", 5, 1);
    CHECK_EQ_U(stdio_ring_head(r), 5);
    CHECK_EQ_U(stdio_ring_tail(r), 0);
    stdio_ring_append(r, "world, how are you", 18, 2);
    CHECK_EQ_U(stdio_ring_head(r), 23);
    CHECK_EQ_U(stdio_ring_tail(r), 7);
    char buf[32] = {0};
    stdio_ring_copy(r, 7, buf, 16);
    CHECK(memcmp(buf, "rld, how are you", 16) == 0);
    uint64_t a;
    CHECK_EQ_U(stdio_ring_run(r, 7, &a), 23);
    CHECK_EQ_U(a, 2);
    /* Reserve/commit across the wrap gives two iovecs that add up. */
    struct iovec iov[2];
    int n = stdio_ring_reserve(r, 8, iov);
    CHECK(n >= 1 && n <= 2);
    size_t tot = iov[0].iov_len + (n == 2 ? iov[1].iov_len : 0);
    CHECK_EQ_U(tot, 8);
    stdio_ring_destroy(&r);
    CHECK(r == NULL);
    stdio_ring_destroy(&r);
    CHECK(stdio_ring_new(0, 8, 64) == NULL);
    CHECK(stdio_ring_new(8, 0, 64) == NULL);
}

static void test_model(void)
{
    unsigned long long seed = 42;
    for (int round = 0; round < 20; round++) {
        size_t keep = 1 + t_rand(&seed) % 5000, slack = 1 + t_rand(&seed) % 700;
        stdio_ring_t *r = stdio_ring_new(keep, slack, 2 + t_rand(&seed) % 50);
        REQUIRE(r);
        model_t m = {0};
        uint8_t chunk[3000];
        for (int step = 0; step < 400; step++) {
            size_t n = t_rand(&seed) % sizeof chunk;
            for (size_t i = 0; i < n; i++)
                chunk[i] = (uint8_t)t_rand(&seed);
            uint64_t author = 1 + t_rand(&seed) % 3;
            if (t_rand(&seed) % 2) {
                stdio_ring_append(r, chunk, n, author);
            } else {
                /* The relay's way: reserve, read into it, commit fewer. */
                n = n % (slack + 1);
                struct iovec iov[2];
                int k = stdio_ring_reserve(r, slack, iov);
                size_t left = n, o = 0;
                for (int i = 0; i < k && left; i++) {
                    size_t c = left < iov[i].iov_len ? left : iov[i].iov_len;
                    memcpy(iov[i].iov_base, chunk + o, c);
                    o += c;
                    left -= c;
                }
                stdio_ring_commit(r, n, author);
            }
            model_add(&m, chunk, n, author);
            if (t_rand(&seed) % 50 == 0) {
                uint64_t old_tail = stdio_ring_tail(r);
                slack = 1 + t_rand(&seed) % 700;
                CHECK(stdio_ring_resize(r, 1 + t_rand(&seed) % 6000, slack) == 0);
                CHECK(stdio_ring_tail(r) >= old_tail || stdio_ring_head(r) - stdio_ring_tail(r) <= stdio_ring_keep(r));
            }
            verify(r, &m);
            if (check_failed)
                break;
        }
        free(m.data);
        free(m.author);
        stdio_ring_destroy(&r);
    }
}

static void test_run_cap(void)
{
    /* Two writers alternating byte by byte: the run bookkeeping is bounded
     * and the tail moves up instead. */
    stdio_ring_t *r = stdio_ring_new(1000, 100, 10);
    REQUIRE(r);
    for (int i = 0; i < 100; i++)
        stdio_ring_append(r, "x", 1, 1 + (uint64_t)(i % 2));
    CHECK(stdio_ring_runs(r) <= 10);
    CHECK_EQ_U(stdio_ring_head(r), 100);
    /* The ten newest runs are the bytes 90..99. */
    CHECK_EQ_U(stdio_ring_tail(r), 90);
    uint64_t a;
    CHECK_EQ_U(stdio_ring_run(r, 90, &a), 91);
    CHECK_EQ_U(a, 1);
    CHECK_EQ_U(stdio_ring_run(r, 99, &a), 100);
    CHECK_EQ_U(a, 2);
    stdio_ring_destroy(&r);
}

static void test_resize(void)
{
    stdio_ring_t *r = stdio_ring_new(10, 4, 64);
    REQUIRE(r);
    stdio_ring_append(r, "0123456789abcdef", 16, 7);
    CHECK_EQ_U(stdio_ring_tail(r), 6);
    /* Growing cannot invent history that was already gone. */
    CHECK(stdio_ring_resize(r, 100, 4) == 0);
    CHECK_EQ_U(stdio_ring_head(r), 16);
    CHECK(stdio_ring_tail(r) >= 2);
    char buf[32];
    uint64_t t = stdio_ring_tail(r);
    stdio_ring_copy(r, t, buf, 16 - t);
    CHECK(memcmp(buf, &"0123456789abcdef"[t], 16 - t) == 0);
    stdio_ring_append(r, "ghij", 4, 7);
    t = stdio_ring_tail(r);
    stdio_ring_copy(r, t, buf, 20 - t);
    CHECK(memcmp(buf, &"0123456789abcdefghij"[t], 20 - t) == 0);
    CHECK(stdio_ring_resize(r, 5, 4) == 0);
    CHECK_EQ_U(stdio_ring_tail(r), 15);
    stdio_ring_copy(r, 15, buf, 5);
    CHECK(memcmp(buf, "fghij", 5) == 0);
    CHECK(stdio_ring_resize(r, 0, 4) == -EINVAL);
    CHECK(stdio_ring_resize(r, 4, 0) == -EINVAL);
    stdio_ring_destroy(&r);
}

int main(void)
{
    TEST(test_basic);
    TEST(test_model);
    TEST(test_run_cap);
    TEST(test_resize);
    return check_done();
}
