/* layers/exp_real.h — exp for the element-wise kernels (sigmoid, silu, elu),
 * and exp(x) - 1 for elu (cc_expm1_real, below).
 *
 * In the double build it is libm's exp. In the float build it is a branch-free
 * expf that -O3 vectorises (libm's exp is a call per element: with it, silu
 * was half of an EfficientNet forward): x = k ln2 + r with k = round(x / ln2)
 * (the 1.5 * 2^23 trick rounds to nearest without SSE4.1), ln2 split in two
 * so k ln2 is exact, exp(r) on |r| <= ln2/2 by Cephes' expf polynomial
 * (1 + r + r^2 P(r), P of degree 5), and 2^k put in the exponent bits.
 * x is clamped to [-87.3, 88.3], where 2^k stays a normal float: exp(-100)
 * gives 1.2e-38 instead of 3.7e-44, which changes 1 / (1 + e) and x / (1 + e)
 * by less than 1e-37. Relative error <= 2 ulp over the range
 * (tests/test_exp_real.c checks it against double exp); NaN gives NaN, so
 * sigmoid and silu propagate it as PyTorch does. */
#ifndef CC_EXP_REAL_H
#define CC_EXP_REAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "op.h"

#ifdef CC_REAL_DOUBLE
static inline double cc_exp_real(double x)
{
    return exp(x);
}

static inline double cc_expm1_real(double x)
{
    return expm1(x);
}
#else
static inline float cc_exp_real(float in)
{
    const float round_magic = 12582912.0f;      /* 1.5 * 2^23 */
    float x = in > -87.3f ? in : -87.3f;        /* NaN too: its int conversion would be undefined */
    x = x < 88.3f ? x : 88.3f;
    const float k = (x * 1.44269504088896341f + round_magic) - round_magic;
    const float r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = ((int32_t)k + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return in == in ? p * scale : in;
}

/* exp(x) - 1 for elu. Subtracting 1 from cc_exp_real loses the low bits near
 * 0 (at x = -1e-4 only 4 of 7 digits are left), so there, for |x| <= 1/2,
 * it is the series x + x^2/2! + ... + x^9/9!, whose first omitted term is below 1e-9
 * of the value. Both are computed and one kept, so the loop stays branch
 * free and vectorised; NaN takes the exp side and stays NaN. */
static inline float cc_expm1_real(float x)
{
    float p = 1.0f / 362880;
    p = p * x + 1.0f / 40320;
    p = p * x + 1.0f / 5040;
    p = p * x + 1.0f / 720;
    p = p * x + 1.0f / 120;
    p = p * x + 1.0f / 24;
    p = p * x + 1.0f / 6;
    p = p * x + 0.5f;
    const float series = p * x * x + x, direct = cc_exp_real(x) - 1.0f;
    return fabsf(x) <= 0.5f ? series : direct;
}
#endif

#endif
