/* tests/test_grouped_conv.c — the direct grouped-conv forward
 * (layers/conv2d_grouped.c) against the scalar reference cc_conv2d_forward
 * (layers/conv2d.c) on the same data.
 *
 * Shapes: RegNet's 16-channel groups at stride 1 and 2, ungrouped stems on
 * 3 channels (7x7 and 3x3, stride 2), two vectors of output
 * channels per group, 2 input channels per group, output widths that leave a
 * partial block of 14 or 7 columns and a partial block of rows, dilation 2,
 * row stride 3, unequal strides and dilations, asymmetric padding
 * wider than the kernel, a 1-wide input, batch 2, with and without bias, and
 * one layer big enough to be split over threads. Outputs start at 7 and the
 * scratch full of NaN bytes at its exact size: the kernel must write every
 * output and read only what it packed (ASan sees an overrun).
 *
 * The kernel computes the same map on any CPU (the vector code has a baseline
 * clone), so every case runs here; cc_conv2d_grouped_applies, which conv2d.c
 * asks, is checked to take RegNet's shape where the CPU has AVX-512 and to
 * refuse shapes the kernel does not cover.
 *
 * Tolerance |fast - ref| <= 1e-5 * max|ref| + 1e-5 * |ref|: the kernel sums in
 * float where the reference sums in double. Every case runs with 1 thread,
 * then 3. */
#include "testutil.h"
#include "layers/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *label;
    int N, C, OC, H, W, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW, G, bias;
} grouped_case;

static const grouped_case cases[] = {
    {"RegNet 3x3 pad 1, 16-channel groups, 14x14", 1, 32, 32, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1},
    {"3x3 stride 2 pad 1, 23x19 input, batch 2, no bias", 2, 32, 32, 23, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 0},
    {"3x3 pad 1 at 7x7 (blocks of 4 rows x 7)", 1, 48, 48, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1},
    {"3x3 dilation 2, pad 2,1,0,3, 32 outputs per group", 1, 16, 64, 13, 17, 3, 3, 1, 1, 2, 1, 0, 3, 2, 2, 2, 1},
    {"5x5 stride 3x2 pad 2", 2, 32, 32, 17, 16, 5, 5, 3, 2, 2, 2, 2, 2, 1, 1, 2, 1},
    {"1x3 stride 2x1 dilation 1x2, 2 inputs per group", 1, 4, 32, 9, 11, 1, 3, 2, 1, 0, 2, 0, 2, 1, 2, 2, 0},
    {"3x3, padding 4,3,5,2 wider than the kernel", 1, 32, 32, 4, 5, 3, 3, 1, 1, 4, 3, 5, 2, 1, 1, 2, 1},
    {"7x3 on a 1-wide input", 2, 32, 32, 9, 1, 7, 3, 1, 1, 3, 1, 3, 1, 1, 1, 2, 1},
    {"ResNet stem: ungrouped 7x7 stride 2 pad 3, 3 -> 64", 1, 3, 64, 45, 38, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1},
    {"3x3 stride 2 stem, 3 -> 16, batch 2, no bias", 2, 3, 16, 33, 30, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0},
    {"RegNet stage 1: 64 channels, 4 groups, stride 2, 112x112", 1, 64, 64, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1,
     1, 4, 1},
};

static int out_size(int in, int pa, int pb, int k, int s, int dil)
{
    return (in + pa + pb - dil * (k - 1) - 1) / s + 1;
}

static cc_conv_dims dims_of(const grouped_case *t)
{
    const cc_conv_dims d = {
        .N = t->N, .C = t->C, .H = t->H, .W = t->W, .OC = t->OC, .KH = t->KH, .KW = t->KW,
        .SH = t->SH, .SW = t->SW, .PT = t->PT, .PL = t->PL, .DH = t->DH, .DW = t->DW, .G = t->G,
        .OH = out_size(t->H, t->PT, t->PB, t->KH, t->SH, t->DH),
        .OW = out_size(t->W, t->PL, t->PR, t->KW, t->SW, t->DW),
    };
    return d;
}

static void check_case(const grouped_case *t, tu_rng *rng)
{
    const cc_conv_dims d = dims_of(t);
    const size_t nx = (size_t)d.N * d.C * d.H * d.W, ny = (size_t)d.N * d.OC * d.OH * d.OW;
    const size_t nw = (size_t)d.OC * (d.C / d.G) * d.KH * d.KW;
    cc_real *x = tu_random_reals(nx, rng), *w = tu_random_reals(nw, rng);
    cc_real *b = t->bias ? tu_random_reals((size_t)d.OC, rng) : NULL;
    cc_real *ref = tu_filled_reals(ny, 0), *y = tu_filled_reals(ny, 7);
    const size_t bytes = cc_conv2d_grouped_scratch(&d);
    void *scratch = tu_alloc(bytes);
    memset(scratch, 0xff, bytes);
    cc_conv2d_forward(ref, x, w, b, &d);
    cc_conv2d_grouped_forward(y, x, w, b, &d, scratch);
    double *want = tu_alloc(ny * sizeof(double)), scale = 0;
    for (size_t i = 0; i < ny; i++) {
        want[i] = (double)ref[i];
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    }
    char name[160];
    snprintf(name, sizeof name, "%s (%dx%d out): forward", t->label, d.OH, d.OW);
    const double e = tu_close(name, y, want, ny, 1e-5 * scale, 1e-5);
    printf("  %-60s max |diff| %.2g\n", t->label, e);
    free(x), free(w), free(b), free(ref), free(y), free(scratch), free(want);
}

/* conv2d.c takes the kernel for RegNet's groups and image stems on AVX-512,
 * never for shapes it does not cover. */
static void check_applies(void)
{
    const grouped_case taken[] = {
        {"RegNet 3x3 in 20 groups of 16", 1, 320, 320, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 20, 1},
        {"ResNet's 7x7 stem", 1, 3, 64, 224, 224, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 0},
        {"RegNet's 3x3 stem", 1, 3, 32, 224, 224, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0},
    };
    const grouped_case refused[] = {
        {"8 outputs per group", 1, 32, 16, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1},
        {"depthwise", 1, 32, 32, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32, 1},
        {"ungrouped with 32 input channels", 1, 32, 32, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {"ungrouped 1x1 on 16 channels", 1, 16, 64, 56, 56, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1},
        {"band too big: 256 inputs per group at stride 2", 1, 512, 32, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 1},
        {"column stride 3", 1, 32, 32, 14, 14, 3, 3, 1, 3, 1, 1, 1, 1, 1, 1, 2, 1},
        {"VGG's stride-1 stem", 1, 3, 64, 224, 224, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    };
    const int avx512 = cc_cpu_avx512();
    cc_conv_dims d;
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        d = dims_of(&taken[i]);
        tu_check(cc_conv2d_grouped_applies(&d) == avx512, "%s: taken %s AVX-512", taken[i].label,
                 avx512 ? "with" : "without");
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        d = dims_of(&refused[i]);
        tu_check(!cc_conv2d_grouped_applies(&d), "%s: not taken", refused[i].label);
    }
}

int main(void)
{
    check_applies();
    for (int threads = 1; threads <= 3; threads += 2) {
        cc_set_threads(threads);
        printf("-- %d thread%s\n", threads, threads > 1 ? "s" : "");
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            tu_rng rng = {4401 + i};
            check_case(&cases[i], &rng);
        }
    }
    return tu_finish("grouped_conv");
}
