/* The one C test harness of the tree.
 *
 * A CHECK records a failure, says where and what (both values for the
 * comparisons) and goes on, so one run reports every broken case; REQUIRE is
 * for a condition the rest of the test cannot do without and ends the run.
 * TEST(fn) runs a case and prints "ok"/"FAIL" with its name. A test program
 * ends with `return check_done();`, which prints "N passed, N failed" and
 * returns the exit status. A test that cannot run here (a missing tool, no
 * privilege) calls check_skip(why): exit status CHECK_SKIP (77), which the
 * test's SKIP_RETURN_CODE turns into a visible ctest skip, never a pass. */
#pragma once
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK_SKIP 77

#define check__fail_(...)                                                               \
    do {                                                                                \
        check_failed++;                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                   \
    } while (0)

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (cond)                                                                       \
            check_passed++;                                                             \
        else                                                                            \
            check__fail_("%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
    } while (0)

/* CHECK with a printf-style explanation of what was seen. */
#define CHECK_MSG(cond, ...)                                                            \
    do {                                                                                \
        if (cond) {                                                                     \
            check_passed++;                                                             \
        } else {                                                                        \
            check__fail_("%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
        }                                                                               \
    } while (0)

/* Integers, compared and printed as intmax_t (each side evaluated once). */
#define CHECK_EQ(a, b)                                                                  \
    do {                                                                                \
        intmax_t check_a_ = (intmax_t)(a), check_b_ = (intmax_t)(b);                    \
        if (check_a_ == check_b_)                                                       \
            check_passed++;                                                             \
        else                                                                            \
            check__fail_("%s:%d: CHECK_EQ failed: %s == %s (%jd != %jd)\n", __FILE__,   \
                         __LINE__, #a, #b, check_a_, check_b_);                         \
    } while (0)

/* Unsigned integers (sizes, counters above INTMAX_MAX), printed as such. */
#define CHECK_EQ_U(a, b)                                                                \
    do {                                                                                \
        uintmax_t check_a_ = (uintmax_t)(a), check_b_ = (uintmax_t)(b);                 \
        if (check_a_ == check_b_)                                                       \
            check_passed++;                                                             \
        else                                                                            \
            check__fail_("%s:%d: CHECK_EQ failed: %s == %s (%ju != %ju)\n", __FILE__,   \
                         __LINE__, #a, #b, check_a_, check_b_);                         \
    } while (0)

/* Strings; NULL is a value of its own (equal only to NULL), printed as such. */
#define CHECK_STR(a, b)                                                                 \
    do {                                                                                \
        const char *check_a_ = (a), *check_b_ = (b);                                    \
        if (check_a_ == check_b_ || (check_a_ && check_b_ && !strcmp(check_a_, check_b_))) \
            check_passed++;                                                             \
        else                                                                            \
            check__fail_("%s:%d: CHECK_STR failed: %s == %s (%s%s%s != %s%s%s)\n",       \
                         __FILE__, __LINE__, #a, #b, check_a_ ? "\"" : "",              \
                         check_a_ ? check_a_ : "NULL", check_a_ ? "\"" : "",            \
                         check_b_ ? "\"" : "", check_b_ ? check_b_ : "NULL",            \
                         check_b_ ? "\"" : "");                                         \
    } while (0)

#define CHECK_NULL(p)                                                                   \
    do {                                                                                \
        const void *check_p_ = (const void *)(p);                                       \
        if (!check_p_)                                                                  \
            check_passed++;                                                             \
        else                                                                            \
            check__fail_("%s:%d: CHECK_NULL failed: %s (%p)\n", __FILE__, __LINE__, #p, \
                         check_p_);                                                     \
    } while (0)

/* Fatal: the test cannot go on meaningfully. */
#define REQUIRE(cond)                                                                   \
    do {                                                                                \
        if (cond) {                                                                     \
            check_passed++;                                                             \
        } else {                                                                        \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);  \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

/* Runs one case and names it with its verdict. */
#define TEST(fn)                                                                        \
    do {                                                                                \
        int check_before_ = check_failed;                                               \
        fn();                                                                           \
        fprintf(stderr, "%s %s\n", check_failed == check_before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    fflush(stdout);
    return check_failed ? 1 : 0;
}

/* Ends the test as skipped: WHY says what is missing. */
static inline void check_skip(const char *why)
{
    fflush(stdout);
    fprintf(stderr, "SKIPPED: %s\n", why);
    exit(CHECK_SKIP);
}
