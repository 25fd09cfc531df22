/* The hl-stdio unit tests' helpers on top of the shared harness
 * (tests/common/check.h). */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

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
