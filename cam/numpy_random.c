/* cam/numpy_random.c — MT19937 as numpy's RandomState runs it; see
 * numpy_random.h. */
#include "cam/numpy_random.h"

enum { MT_M = 397 };
#define MATRIX_A 0x9908b0dfu
#define UPPER_MASK 0x80000000u
#define LOWER_MASK 0x7fffffffu

void cc_numpy_random_seed(cc_numpy_random *rs, uint32_t seed)
{
    for (int i = 0; i < CC_MT19937_N; i++) {
        rs->key[i] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)i + 1;
    }
    rs->pos = CC_MT19937_N;
}

/* The next 624 words of the recurrence. */
static void regenerate(cc_numpy_random *rs)
{
    uint32_t *key = rs->key;
    for (int i = 0; i < CC_MT19937_N; i++) {
        const uint32_t y = (key[i] & UPPER_MASK) | (key[(i + 1) % CC_MT19937_N] & LOWER_MASK);
        key[i] = key[(i + MT_M) % CC_MT19937_N] ^ (y >> 1) ^ (-(y & 1) & MATRIX_A);
    }
    rs->pos = 0;
}

static uint32_t next32(cc_numpy_random *rs)
{
    if (rs->pos == CC_MT19937_N)
        regenerate(rs);
    uint32_t y = rs->key[rs->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double cc_numpy_random_sample(cc_numpy_random *rs)
{
    const uint32_t a = next32(rs) >> 5, b = next32(rs) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

void cc_numpy_random_uniform(cc_numpy_random *rs, double low, double high, double *out, size_t n)
{
    const double range = high - low;
    for (size_t i = 0; i < n; i++)
        out[i] = low + range * cc_numpy_random_sample(rs);
}
