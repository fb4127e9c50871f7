/* tests/test_conv_paths.c — the depthwise convolution kernels
 * (layers/conv2d_depthwise.c) against the scalar reference cc_conv2d_forward /
 * cc_conv2d_backward (layers/conv2d.c) on the same data: two independent
 * implementations of one map, so any indexing slip in the fast path shows.
 *
 * Shapes cover stride 1 and 2, dilation 2, asymmetric padding with all four
 * sides different, padding so wide that whole output rows and columns see
 * only zeros, 1x1 to 5x5 kernels, batch 2, odd sizes, with and without bias.
 * Backward buffers start at 0.5 (the kernels must add, not overwrite), and
 * every combination of NULL dinp/dweight/dbias is run: a NULL one must be
 * skipped (ASan sees a write) and the others must not change.
 * The forward takes the banded path (stride 1 or 2, same on both axes) or the
 * plain loop (other strides, unequal dilations, planes too wide for a band):
 * cases cover both, and bands that split a plane's rows.
 * On an AVX-512 CPU the forward takes conv2d_depthwise_avx512.c where it
 * applies (rows of up to 128 outputs; maps of at most 14 columns as blocks
 * of 16 channels), and the portable path is checked on the same case too;
 * the last cases put rows at its vector edges and channels in whole and
 * part blocks.
 * Every case runs with 1 thread, then 3 (the forward splits planes over the
 * pool; the last case is big enough to be split).
 * Tolerance 1e-5 absolute + 1e-5 relative: the fast path sums in cc_real
 * where the reference sums the forward in double; weight and bias gradients,
 * sums of N*OH*OW products that the reference accumulates in float, get
 * 1e-5 absolute per 1000 terms. */
#include "testutil.h"
#include "layers/kernels.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *label;
    int N, C, H, W, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW, bias;
} dw_case;

static const dw_case cases[] = {
    {"3x3 stride 1 pad 1, bias, batch 2", 2, 5, 9, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 stride 2 pad 1, no bias, batch 2", 2, 4, 11, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},
    {"5x5 dilation 2, pad 4,3,2,1, bias", 1, 3, 13, 11, 5, 5, 1, 1, 4, 3, 2, 1, 2, 2, 1},
    {"5x5 stride 2, pad 2,1,0,3, batch 2", 2, 3, 10, 9, 5, 5, 2, 2, 2, 1, 0, 3, 1, 1, 1},
    {"3x5 stride 2x1 dilation 1x2, pad 1,4,2,0", 1, 7, 5, 11, 3, 5, 2, 1, 1, 4, 2, 0, 1, 2, 0},
    {"3x3, padding 4,3,5,2 wider than the kernel", 1, 2, 4, 5, 3, 3, 1, 1, 4, 3, 5, 2, 1, 1, 1},
    {"3x3 stride 3 dilation 2 pad 3,0,1,2", 2, 3, 17, 14, 3, 3, 3, 3, 3, 0, 1, 2, 2, 2, 1},
    {"1x1 stride 2, odd sizes", 2, 3, 7, 5, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1},
    {"2x2 stride 3 (gaps between windows)", 1, 4, 8, 11, 2, 2, 3, 3, 0, 1, 1, 0, 1, 1, 0},
    {"7x3 on a 1-wide input", 2, 2, 9, 1, 7, 3, 1, 1, 3, 1, 3, 1, 1, 1, 1},
    {"3x3 pad 1, 24 channels at 40x37 (planes split)", 1, 24, 40, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"5x5 pad 2, 100x90 (four bands of rows)", 1, 2, 100, 90, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1},
    {"3x3 stride 2 pad 1,0,1,1, 131x101 (bands, stride 2)", 1, 2, 131, 101, 3, 3, 2, 2, 1, 0, 1, 1, 1, 1, 0},
    {"3x3 dilation 2 pad 2, 4x3000 (too wide for a band)", 1, 1, 4, 3000, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},
    /* output rows at the AVX-512 path's vector edges (16, 17, 128 pixels; 129 takes the portable path) */
    {"3x3 pad 1, 16 wide (one whole vector)", 1, 3, 6, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 pad 1, 17 wide (a vector and one lane)", 2, 2, 5, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    {"5x5 stride 2 pad 2, 7x7 (MobileNet's last maps)", 1, 5, 14, 14, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 1},
    {"3x3 pad 1, 128 wide (eight vectors)", 1, 2, 9, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 pad 1, 129 wide (past the AVX-512 path)", 1, 2, 5, 129, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 stride 2 pad 0,1,1,0, 225x225 -> 113 wide, bands", 1, 3, 225, 225, 3, 3, 2, 2, 0, 1, 1, 0, 1, 1, 1},
    {"5x5 dilation 2 pad 4, 31x45", 1, 2, 31, 45, 5, 5, 1, 1, 4, 4, 4, 4, 2, 2, 1},
    /* maps of at most 14 columns take the AVX-512 path's channel blocks: whole and part blocks */
    {"5x5 pad 2, 40 channels at 14x14, batch 2 (channel blocks)", 2, 40, 14, 14, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1},
    {"3x3 stride 2 pad 1, 33 channels 15x15 -> 8x8", 1, 33, 15, 15, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},
    {"3x3 dilation 2 pad 2,1,0,3, 17 channels at 9x12", 1, 17, 9, 12, 3, 3, 1, 1, 2, 1, 0, 3, 2, 2, 1},
    {"5x5 stride 2 pad 2, 96 channels 28x28 -> 14x14", 1, 96, 28, 28, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 1},
};

static int out_size(int in, int pa, int pb, int k, int s, int dil)
{
    return (in + pa + pb - dil * (k - 1) - 1) / s + 1;
}

static double *as_double(const cc_real *p, size_t n)
{
    double *q = tu_alloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        q[i] = (double)p[i];
    return q;
}

static double compare(const char *label, const char *what, const cc_real *got, const cc_real *want,
                      size_t n, double atol)
{
    char name[200];
    snprintf(name, sizeof name, "%s: %s", label, what);
    double *w = as_double(want, n);
    double e = tu_close(name, got, w, n, atol, 1e-5);
    free(w);
    return e;
}

static void check_case(const dw_case *t, tu_rng *rng)
{
    cc_conv_dims d = {
        .N = t->N, .C = t->C, .H = t->H, .W = t->W, .OC = t->C, .KH = t->KH, .KW = t->KW,
        .SH = t->SH, .SW = t->SW, .PT = t->PT, .PL = t->PL, .DH = t->DH, .DW = t->DW, .G = t->C,
        .OH = out_size(t->H, t->PT, t->PB, t->KH, t->SH, t->DH),
        .OW = out_size(t->W, t->PL, t->PR, t->KW, t->SW, t->DW),
    };
    if (d.OH < 1 || d.OW < 1) {
        tu_check(0, "%s: test case has an empty output %dx%d", t->label, d.OH, d.OW);
        return;
    }
    const size_t nx = (size_t)d.N * d.C * d.H * d.W, ny = (size_t)d.N * d.C * d.OH * d.OW;
    const size_t nw = (size_t)d.C * d.KH * d.KW, nb = (size_t)d.C;
    cc_real *x = tu_random_reals(nx, rng), *w = tu_random_reals(nw, rng);
    cc_real *b = t->bias ? tu_random_reals(nb, rng) : NULL;
    cc_real *dy = tu_random_reals(ny, rng);
    cc_real *y_ref = tu_filled_reals(ny, 0), *y = tu_filled_reals(ny, 7);  /* the forward must overwrite */

    cc_conv2d_forward(y_ref, x, w, b, &d);
    cc_conv2d_depthwise_forward(y, x, w, b, &d, NULL);
    double worst = compare(t->label, cc_conv2d_depthwise_avx512_applies(&d) ? "forward (AVX-512)" : "forward", y,
                           y_ref, ny, 1e-5);
    if (cc_conv2d_depthwise_avx512_applies(&d)) {   /* the portable path too, on this CPU */
        cc_real *yp = tu_filled_reals(ny, 7);
        cc_conv2d_depthwise_forward_portable(yp, x, w, b, &d, NULL);
        const double e = compare(t->label, "forward (portable)", yp, y_ref, ny, 1e-5);
        worst = e > worst ? e : worst;
        free(yp);
    }

    /* Reference gradients, into buffers that start at 0.5 like the others. */
    cc_real *dx_ref = tu_filled_reals(nx, 0.5), *dw_ref = tu_filled_reals(nw, 0.5), *db_ref = tu_filled_reals(nb, 0.5);
    cc_conv2d_backward(dx_ref, dw_ref, t->bias ? db_ref : NULL, dy, x, w, &d);

    /* dweight and dbias sum N*OH*OW products, which the reference adds up in
     * float: its own rounding grows with that count. */
    const double terms = (double)d.N * d.OH * d.OW, sum_tol = 1e-5 * (terms > 1000 ? terms / 1000 : 1);
    /* Bit i of mask asks for dinp, dweight, dbias. */
    for (unsigned mask = 0; mask < 8; mask++) {
        if ((mask & 4) && !t->bias)
            continue;
        cc_real *dx = mask & 1 ? tu_filled_reals(nx, 0.5) : NULL;
        cc_real *dw = mask & 2 ? tu_filled_reals(nw, 0.5) : NULL;
        cc_real *db = mask & 4 ? tu_filled_reals(nb, 0.5) : NULL;
        /* inp is saved only when dweight is wanted, as conv2d's descriptor says. */
        cc_conv2d_depthwise_backward(dx, dw, db, dy, mask & 2 ? x : NULL, w, &d);
        char what[64];
        double e;
        if (dx) {
            snprintf(what, sizeof what, "dinp (mask %u)", mask);
            e = compare(t->label, what, dx, dx_ref, nx, 1e-5);
            worst = e > worst ? e : worst;
        }
        if (dw) {
            snprintf(what, sizeof what, "dweight (mask %u)", mask);
            e = compare(t->label, what, dw, dw_ref, nw, sum_tol);
            worst = e > worst ? e : worst;
        }
        if (db) {
            snprintf(what, sizeof what, "dbias (mask %u)", mask);
            e = compare(t->label, what, db, db_ref, nb, sum_tol);
            worst = e > worst ? e : worst;
        }
        free(dx), free(dw), free(db);
    }
    printf("depthwise %-44s N%d C%d %dx%d -> %dx%d  max |fast - reference| = %.3g\n", t->label,
           d.N, d.C, d.H, d.W, d.OH, d.OW, worst);
    free(x), free(w), free(b), free(dy), free(y_ref), free(y);
    free(dx_ref), free(dw_ref), free(db_ref);
}

int main(void)
{
    for (int threads = 1; threads <= 3; threads += 2) {  /* planes split over 3 threads */
        cc_set_threads(threads);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            tu_rng rng = {977 + i};
            check_case(&cases[i], &rng);
        }
    }
    return tu_finish("conv_paths");
}
