/* tests/test_exp_real.c — the float exp of the element-wise kernels
 * (layers/exp_real.h) against double-precision libm exp: at most 2 ulp
 * relative error on 4 million points spread over the whole unclamped range
 * and on every 97th float of [-1, 1] (the small arguments); the clamped ends stay finite and
 * positive; NaN stays NaN; sigmoid and silu through it stay within a few float roundings of
 * the same formulas in double; cc_expm1_real within 3 ulp of double expm1. */
#include "layers/exp_real.h"
#include "layers/kernels.h"
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static float exp_f(float x)
{
    return cc_exp_real(x);
}

static float expm1_f(float x)
{
    return cc_expm1_real(x);
}

/* The largest relative error of f against the double-precision ref, in units
 * of FLT_EPSILON (2 ulp = 2), over n + 1 points spread evenly on [lo, hi] and
 * every 97th float of [-1, 1] (the small arguments); *at: where. */
static double worst_error(float (*f)(float), double (*ref)(double), double lo, double hi, int n, double *at)
{
    double worst = 0;
    for (int i = 0; i <= n + 2 * (int)(0x3f800000u / 97 + 1); i++) {
        float x = (float)(lo + (hi - lo) * i / n);
        if (i > n) {  /* then the small ones, both signs */
            const uint32_t b = (uint32_t)((i - n - 1) / 2) * 97u | (uint32_t)((i - n - 1) % 2) << 31;
            memcpy(&x, &b, sizeof x);
        }
        const double want = ref((double)x), u = fabs((double)f(x) - want) / fabs(want) / FLT_EPSILON;
        if (want != 0 && u > worst)
            worst = u, *at = x;
    }
    return worst;
}

int main(void)
{
    double worst_x = 0;
    const double worst = worst_error(exp_f, exp, -87.3, 88.3, 4000000, &worst_x);
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

    /* exp(x) - 1 for elu, over [-87.3, 2] and the small arguments, where
     * subtracting 1 from exp would leave few digits. */
    double m1_x = 0;
    const double m1 = worst_error(expm1_f, expm1, -87.3, 2, 2000000, &m1_x);
    printf("expm1: max error %.2f x FLT_EPSILON at x = %.9g\n", m1, m1_x);
    tu_check(m1 <= 3.0, "expm1 within 3 FLT_EPSILON of double expm1 (worst %.2f at %g)", m1, m1_x);
    tu_check(isnan(cc_expm1_real(nan)), "expm1 of NaN is NaN");

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
