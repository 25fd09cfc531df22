/* Minimal checks for the hl-stdio unit tests: a failed check prints where
 * and what, and the test exits non-zero at the end. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
            t_failures++;                                                                \
        }                                                                                \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                 \
    do {                                                                                 \
        unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b);   \
        if (_a != _b) {                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%llu != %llu)\n", __FILE__,  \
                    __LINE__, #a, #b, _a, _b);                                           \
            t_failures++;                                                                \
        }                                                                                \
    } while (0)

/* Fatal: the test cannot go on meaningfully. */
#define REQUIRE(cond)                                                                    \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define TEST(fn)                                                                         \
    do {                                                                                 \
        int _before = t_failures;                                                        \
        fn();                                                                            \
        fprintf(stderr, "%s %s\n", t_failures == _before ? "ok  " : "FAIL", #fn);         \
    } while (0)

#define T_DONE() (t_failures ? (fprintf(stderr, "%d check(s) failed\n", t_failures), 1) : 0)

/* xorshift64*: deterministic pseudo-random numbers for test data. */
static inline unsigned long long t_rand(unsigned long long *s)
{
    unsigned long long x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}
