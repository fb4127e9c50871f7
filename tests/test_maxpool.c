/* tests/test_maxpool.c — the max pool forward (layers/maxpool2d.c) against a
 * naive max written here: for every output, the window clipped to the input,
 * scanned row-major, keeping v when v > max or v is NaN (PyTorch's CPU rule).
 *
 * Inputs are random with NaNs, -infs and repeated values planted, and whole
 * planes of -inf (the max of a window of -inf is -inf, not a padding value);
 * shapes cover the ResNet stem (3x3 stride 2 pad 1), VGG's 2x2 stride 2,
 * ceil_mode windows that run past the input, padding on one side, a 1-wide
 * input, planes big enough to be split over 3 threads, and stride-2 rows in
 * whole and part vectors of 16 (the AVX-512 row loop). Values must be
 * identical (a max rounds nothing); NaN must come out where the naive max
 * gives NaN. */
#include "testutil.h"
#include "layers/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *label;
    int N, C, H, W, KH, KW, SH, SW, PT, PL, ceil_mode;
} pool_case;

static const pool_case cases[] = {
    {"3x3 stride 2 pad 1 (ResNet stem)", 2, 3, 11, 9, 3, 3, 2, 2, 1, 1, 0},
    {"2x2 stride 2 (VGG), odd sizes", 1, 4, 9, 7, 2, 2, 2, 2, 0, 0, 0},
    {"3x3 stride 2 ceil_mode (windows past the input)", 1, 2, 10, 7, 3, 3, 2, 2, 0, 0, 1},
    {"3x2 stride 1x2, padding 1,0", 1, 3, 6, 9, 3, 2, 1, 2, 1, 0, 0},
    {"3x3 stride 1 on a 1-wide input", 1, 2, 8, 1, 3, 3, 1, 1, 1, 1, 0},
    {"3x3 stride 2 pad 1, 64 planes at 56x56 (split over threads)", 1, 64, 56, 56, 3, 3, 2, 2, 1, 1, 0},
    /* rows of stride-2 outputs in whole and part AVX-512 vectors of 16 */
    {"2x2 stride 2, 64 wide (two whole vectors)", 1, 3, 6, 64, 2, 2, 2, 2, 0, 0, 0},
    {"3x3 stride 2 ceil_mode, 67 wide", 2, 2, 7, 67, 3, 3, 2, 2, 0, 0, 1},
    {"3x3 stride 2 pad 1, 33 wide (the last window's last column ends the row)", 1, 2, 5, 33, 3, 3, 2, 2, 1, 1, 0},
};

static int out_size(int in, int k, int s, int p, int ceil_mode)
{
    const int span = in + 2 * p - k;
    int o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p)  /* the last window must start inside the input or left padding */
        o--;
    return o;
}

static cc_real naive(const cc_real *x, const cc_pool_dims *d, int oh, int ow)
{
    cc_real m = -INFINITY;
    for (int kh = 0; kh < d->KH; kh++)
        for (int kw = 0; kw < d->KW; kw++) {
            const int ih = oh * d->SH - d->PT + kh, iw = ow * d->SW - d->PL + kw;
            if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W)
                continue;
            const cc_real v = x[(size_t)ih * d->W + iw];
            if (v > m || isnan(v))
                m = v;
        }
    return m;
}

static void check(const pool_case *t, int threads, tu_rng *rng)
{
    cc_pool_dims d = {.N = t->N, .C = t->C, .H = t->H, .W = t->W, .KH = t->KH, .KW = t->KW, .SH = t->SH,
                      .SW = t->SW, .PT = t->PT, .PL = t->PL};
    d.OH = out_size(t->H, t->KH, t->SH, t->PT, t->ceil_mode);
    d.OW = out_size(t->W, t->KW, t->SW, t->PL, t->ceil_mode);
    const size_t nx = (size_t)d.N * d.C * d.H * d.W, ny = (size_t)d.N * d.C * d.OH * d.OW;
    cc_real *x = tu_random_reals(nx, rng);
    for (size_t i = 0; i < nx; i++) {  /* plant NaNs, -infs and ties */
        const unsigned r = (unsigned)(tu_next(rng) % 40);
        x[i] = r == 0 ? NAN : r == 1 ? -INFINITY : r < 6 ? (cc_real)0.25 : x[i];
    }
    for (size_t i = 0; i < (size_t)d.H * d.W; i++)  /* the last plane all -inf */
        x[nx - 1 - i] = -INFINITY;
    cc_real *y = tu_filled_reals(ny, 7);
    cc_maxpool2d_forward(y, x, &d);
    size_t bad = 0, nans = 0;
    for (size_t nc = 0; nc < (size_t)d.N * d.C; nc++)
        for (int oh = 0; oh < d.OH; oh++)
            for (int ow = 0; ow < d.OW; ow++) {
                const cc_real want = naive(x + nc * d.H * d.W, &d, oh, ow);
                const cc_real got = y[(nc * d.OH + oh) * d.OW + ow];
                nans += isnan(want);
                if (isnan(want) ? !isnan(got) : got != want) {
                    if (!bad)
                        printf("  %s, %d threads: plane %zu (%d,%d): got %g, want %g\n", t->label, threads, nc, oh,
                               ow, (double)got, (double)want);
                    bad++;
                }
            }
    tu_check(!bad, "%s, %d threads: %zu of %zu outputs differ from the naive max", t->label, threads, bad, ny);
    printf("maxpool %-60s %d thread(s): %zu outputs (%zu NaN) equal the naive max\n", t->label, threads, ny, nans);
    free(x), free(y);
}

int main(void)
{
    for (int threads = 1; threads <= 3; threads += 2) {
        cc_set_threads(threads);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            tu_rng rng = {501 + i};
            check(&cases[i], threads, &rng);
        }
    }
    return tu_finish("maxpool");
}
