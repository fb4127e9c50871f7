/* tests/test_exp_real.c — the float exp of the element-wise kernels
 * (layers/exp_real.h) against double-precision libm exp: at most 2 ulp
 * relative error on 4 million points spread over the whole unclamped range
 * and on every 97th float of [-1, 1] (the small arguments); the clamped ends stay finite and
 * positive; NaN stays NaN; sigmoid and silu through it stay within a few float roundings of
 * the same formulas in double. */
#include "layers/exp_real.h"
#include "layers/kernels.h"
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Relative error of cc_exp_real(x) in units of FLT_EPSILON (2 ulp = 2). */
static double ulps(float x)
{
    const double want = exp((double)x);
    return fabs((double)cc_exp_real(x) - want) / want / FLT_EPSILON;
}

int main(void)
{
    double worst = 0, worst_x = 0;
    for (int i = 0; i <= 4000000; i++) {
        const float x = (float)(-87.3 + (88.3 + 87.3) * i / 4000000.0);
        const double u = ulps(x);
        if (u > worst)
            worst = u, worst_x = x;
    }
    for (uint32_t bits = 0; bits <= 0x3f800000u; bits += 97)
        for (int sign = 0; sign < 2; sign++) {
            const uint32_t b = bits | (uint32_t)sign << 31;
            float x;
            memcpy(&x, &b, sizeof x);
            const double u = ulps(x);
            if (u > worst)
                worst = u, worst_x = x;
        }
    printf("max error %.2f x FLT_EPSILON at x = %.9g\n", worst, worst_x);
    tu_check(worst <= 2.0, "exp within 2 FLT_EPSILON of double exp over [-87.3, 88.3] (worst %.2f at %g)", worst,
             worst_x);
    tu_check(cc_exp_real(0.0f) == 1.0f, "exp(0) is exactly 1");
    const float nan = NAN;
    float sig_nan, silu_nan;
    cc_sigmoid_forward(&sig_nan, &nan, 1);
    cc_silu_forward(&silu_nan, &nan, 1);
    tu_check(isnan(cc_exp_real(nan)) && isnan(sig_nan) && isnan(silu_nan), "exp, sigmoid and silu of NaN are NaN");
    const float lo = cc_exp_real(-1000.0f), hi = cc_exp_real(1000.0f);
    tu_check(lo > 0 && lo < 1.3e-38f && isfinite(hi) && hi > 2e38f,
             "clamped ends: exp(-1000) = %g in (0, 1.3e-38), exp(1000) = %g finite", lo, hi);

    enum { N = 20001 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)(-100.0 + 200.0 * i / (N - 1));
    double sig_err = 0, silu_err = 0, silu_tiny = 0;
    cc_sigmoid_forward(y, x, N);
    for (int i = 0; i < N; i++)
        sig_err = fmax(sig_err, fabs(y[i] - 1.0 / (1.0 + exp(-(double)x[i]))));
    cc_silu_forward(y, x, N);
    for (int i = 0; i < N; i++) {
        const double want = x[i] / (1.0 + exp(-(double)x[i]));
        if (x[i] >= -60)
            silu_err = fmax(silu_err, fabs(y[i] - want) / fmax(fabs(want), DBL_MIN));
        else  /* |y| < 1e-24: the clamp shows, absolutely tiny */
            silu_tiny = fmax(silu_tiny, fabs(y[i] - want));
    }
    tu_check(sig_err <= 2e-7, "sigmoid on [-100, 100]: max abs error %.3g vs double (<= 2e-7)", sig_err);
    tu_check(silu_err <= 4 * FLT_EPSILON, "silu on [-60, 100]: max relative error %.3g vs double (<= 4 eps)",
             silu_err);
    tu_check(silu_tiny <= 1e-30, "silu on [-100, -60): max abs error %.3g (<= 1e-30)", silu_tiny);
    return tu_finish("exp_real");
}
