/* tests/test_gemm_paths.c — the OpenBLAS paths (layers/conv2d_gemm.c,
 * layers/linear_gemm.c) against the scalar references cc_conv2d_forward /
 * cc_conv2d_backward (layers/conv2d.c) and cc_linear_forward /
 * cc_linear_backward (layers/linear.c) on the same data.
 *
 * Conv shapes: 1x1 (the direct path, and 1x1 convs it must not take: stride 2,
 * padding), 3x3 pad 1, stride 2, dilation 2, asymmetric padding with all four
 * sides different, padding wider than the kernel, groups 2 and 3, a channel
 * multiplier (groups = C, OC = 2C: not depthwise), odd sizes, batch 2, with
 * and without bias, and layers big enough that the engine's scratch
 * (cc_conv2d_gemm_scratch, capped at CC_CONV_SCRATCH_CAP) holds only some of
 * the output rows. Every case also runs with scratch for one output row and
 * for two, so tile boundaries fall everywhere. Scratch is allocated at its
 * exact size (ASan sees an overrun) and filled with NaN bytes before each
 * call (nothing may read it before writing it).
 * Backward buffers start at 0.5 (the kernels must add, not overwrite), and
 * every combination of NULL dinp/dweight/dbias is run, with inp NULL unless
 * dweight is wanted (the descriptors save it only then).
 *
 * Tolerance |fast - ref| <= 1e-5 * max|ref| + 1e-5 * |ref|: the gemm sums in
 * float where the reference sums the forward in double, so the error scales
 * with the size of the terms, not of each (possibly cancelled) result.
 *
 * Everything runs with 1 thread, then with 3 (runtime/parallel.h splits the
 * products and transforms into uneven ranges).
 *
 * 3x3 stride-1 undilated ungrouped cases also run the Winograd forward
 * (layers/conv2d_winograd.c) against the same reference, with the engine's
 * scratch and with room for one and two rows of tiles.
 *
 * `test_gemm_paths --bench` instead times the gemm and Winograd forwards of
 * the 3x3 stride-1 convs of ResNet-34 and VGG-16 (and the reference and gemm
 * backward of two), in GFLOP/s. */
#include "testutil.h"
#include "layers/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *label;
    int N, C, OC, H, W, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW, G, bias;
    char path;  /* 'd': direct 1x1 (no scratch), 'c': im2col in one tile, 't': several tiles */
} conv_case;

static const conv_case conv_cases[] = {
    {"1x1 pointwise, bias, batch 2", 2, 7, 11, 5, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 'd'},
    {"1x1 groups 2, no bias", 2, 6, 4, 9, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 0, 'd'},
    {"1x1 on a 1x1 map, batch 2 (one column: gemv)", 2, 40, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 'd'},
    {"1x1 stride 2 (im2col)", 2, 5, 3, 7, 5, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 'c'},
    {"1x1 padding 0,1,2,1 (im2col)", 1, 4, 3, 5, 6, 1, 1, 1, 1, 0, 1, 2, 1, 1, 1, 1, 1, 'c'},
    {"3x3 pad 1, bias, batch 2", 2, 3, 4, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 'c'},
    {"3x3 stride 2 pad 1, no bias, batch 2", 2, 4, 6, 11, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 'c'},
    {"3x3 stride 2 dilation 2, pad 1,2,0,3", 2, 3, 5, 11, 13, 3, 3, 2, 2, 1, 2, 0, 3, 2, 2, 1, 1, 'c'},
    {"5x5 dilation 2, pad 4,3,2,1", 1, 3, 4, 13, 11, 5, 5, 1, 1, 4, 3, 2, 1, 2, 2, 1, 1, 'c'},
    {"3x3 groups 2, pad 1", 2, 4, 6, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 'c'},
    {"1x5 groups 3, stride 2x1, no bias", 1, 6, 9, 7, 11, 1, 5, 2, 1, 0, 2, 0, 2, 1, 1, 3, 0, 'c'},
    {"channel multiplier 2 (groups = C, OC = 2C)", 1, 3, 6, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 'c'},
    {"groups 3, one filter per group of 2 channels", 2, 6, 3, 8, 5, 3, 3, 1, 1, 1, 0, 1, 2, 1, 1, 3, 1, 'c'},
    {"7x7 stride 2 pad 3 (ResNet stem)", 1, 3, 8, 23, 21, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 0, 'c'},
    {"3x3, padding 4,3,5,2 wider than the kernel", 1, 2, 3, 4, 5, 3, 3, 1, 1, 4, 3, 5, 2, 1, 1, 1, 1, 'c'},
    {"2x2 stride 3 (gaps between windows)", 1, 4, 5, 8, 11, 2, 2, 3, 3, 0, 1, 1, 0, 1, 1, 1, 0, 'c'},
    {"7x3 on a 1-wide input", 2, 2, 3, 9, 1, 7, 3, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 'c'},
    {"3x3 stride 3 dilation 2 pad 3,0,1,2, groups 2", 2, 4, 2, 17, 14, 3, 3, 3, 3, 3, 0, 1, 2, 2, 2, 2, 1, 'c'},
    /* "same" convs (stride 1, OW == W): im2col copies a tap's rows in one piece */
    {"5x5 pad 2 (same), groups 2", 1, 4, 6, 9, 11, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 2, 1, 'c'},
    {"1x3 pad 0,1 (same)", 1, 3, 5, 6, 7, 1, 3, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 'c'},
    {"3x3 pad 1,0,1,2 (same, asymmetric), batch 2", 2, 3, 5, 8, 6, 3, 3, 1, 1, 1, 0, 1, 2, 1, 1, 1, 1, 'c'},
    {"3x3 pad 1, 128 channels at 64x64: tiled", 1, 128, 4, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 't'},
    {"3x3 pad 1 groups 2, batch 2, 96x80: tiled", 2, 64, 6, 96, 80, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 't'},
    {"5x5 stride 2 pad 2,1,0,3 dil 1x2, 64 ch: tiled", 1, 64, 3, 161, 150, 5, 5, 2, 2, 2, 1, 0, 3, 1, 2, 1, 1,
     't'},
    /* Winograd shapes: odd output sizes (half tiles), no padding, padding 2,1,0,3, batch 2 */
    {"3x3 pad 1, 32->24 at 31x29 (winograd)", 1, 32, 24, 31, 29, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 'c'},
    {"3x3 no padding, 16->16 at 27x34, batch 2 (winograd)", 2, 16, 16, 27, 34, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0,
     'c'},
    {"3x3 pad 2,1,0,3, 17->20 at 30x25 (winograd)", 1, 17, 20, 30, 25, 3, 3, 1, 1, 2, 1, 0, 3, 1, 1, 1, 1, 'c'},
    {"3x3 pad 1, 64->64 at 56x56 (winograd, ResNet layer1)", 1, 64, 64, 56, 56, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
     't'},
    {"3x3 pad 1, 150->20 at 17x15 (winograd, filters in blocks of 128)", 1, 150, 20, 17, 15, 3, 3, 1, 1, 1, 1, 1,
     1, 1, 1, 1, 1, 't'},
    {"3x3 pad 1,2,0,1, 16->16 at 9x531 (winograd, 266 tiles a row)", 1, 16, 16, 9, 531, 3, 3, 1, 1, 1, 2, 0, 1, 1, 1,
     1, 1, 't'},
};

typedef struct {
    const char *label;
    int N, IN, OUT, bias;
} linear_case;

static const linear_case linear_cases[] = {
    {"bias, batch 2", 2, 17, 13, 1},
    {"no bias, batch 3", 3, 7, 5, 0},
    {"1 x 1", 1, 1, 1, 1},
    {"odd sizes, batch 5", 5, 301, 257, 1},
    {"VGG-like classifier row 4096 -> 1000", 1, 4096, 1000, 1},
    {"batch 4, no bias, 512 -> 37", 4, 512, 37, 0},
    /* the AVX-512 routes (linear_gemm.c): OUT a multiple of 16, IN >= 64;
     * rows not a multiple of 16 pad the backward */
    {"ViT tokens, 197 x 96 -> 144", 197, 96, 144, 1},
    {"tokens 33 x 80 -> 64, no bias", 33, 80, 64, 0},
    {"rows 32 (no padding) x 64 -> 48", 32, 64, 48, 1},
};

static int out_size(int in, int pa, int pb, int k, int s, int dil)
{
    return (in + pa + pb - dil * (k - 1) - 1) / s + 1;
}

/* Scratch of exactly `bytes`, full of NaNs: a kernel must write before it reads. */
static void *poisoned(void *scratch, size_t bytes)
{
    if (scratch)
        memset(scratch, 0xff, bytes);
    return scratch;
}

static double compare(const char *label, const char *what, const cc_real *got, const cc_real *want,
                      size_t n)
{
    char name[240];
    snprintf(name, sizeof name, "%s: %s", label, what);
    double *w = tu_alloc(n * sizeof(double)), scale = 0;
    for (size_t i = 0; i < n; i++) {
        w[i] = (double)want[i];
        scale = fabs(w[i]) > scale ? fabs(w[i]) : scale;
    }
    double e = tu_close(name, got, w, n, 1e-5 * scale, 1e-5);
    free(w);
    return e;
}

static double worse(double a, double b)
{
    return b > a || b != b ? b : a;
}

/* The backward with gradients selected by mask (bit 0 dinp, 1 dweight, 2 dbias)
 * into buffers that start at 0.5, compared with the reference ones. */
static double check_backward(const char *label, const char *tag, unsigned mask, const cc_conv_dims *d,
                             const cc_real *x, const cc_real *w, const cc_real *dy, void *scratch,
                             size_t bytes, const cc_real *dx_ref, const cc_real *dw_ref,
                             const cc_real *db_ref)
{
    const size_t nx = (size_t)d->N * d->C * d->H * d->W;
    const size_t nw = (size_t)d->OC * (d->C / d->G) * d->KH * d->KW, nb = (size_t)d->OC;
    cc_real *dx = mask & 1 ? tu_filled_reals(nx, 0.5) : NULL;
    cc_real *dw = mask & 2 ? tu_filled_reals(nw, 0.5) : NULL;
    cc_real *db = mask & 4 ? tu_filled_reals(nb, 0.5) : NULL;
    cc_conv2d_gemm_backward(dx, dw, db, dy, mask & 2 ? x : NULL, w, d, poisoned(scratch, bytes), bytes);
    char what[96];
    double worst = 0;
    if (dx) {
        snprintf(what, sizeof what, "dinp (mask %u, %s)", mask, tag);
        worst = worse(worst, compare(label, what, dx, dx_ref, nx));
    }
    if (dw) {
        snprintf(what, sizeof what, "dweight (mask %u, %s)", mask, tag);
        worst = worse(worst, compare(label, what, dw, dw_ref, nw));
    }
    if (db) {
        snprintf(what, sizeof what, "dbias (mask %u, %s)", mask, tag);
        worst = worse(worst, compare(label, what, db, db_ref, nb));
    }
    free(dx), free(dw), free(db);
    return worst;
}

/* The Winograd forward (layers/conv2d_winograd.c) of a 3x3 stride-1 undilated
 * ungrouped case, with the engine's scratch, then with room for one and for
 * two rows of tiles (the scratch of the same conv with 2 and 4 output rows),
 * so chunk boundaries fall everywhere; returns the worst error. */
static double check_winograd(const conv_case *t, const cc_conv_dims *d, const cc_real *x,
                             const cc_real *w, const cc_real *b, const cc_real *y_ref)
{
    cc_conv_dims rows1 = *d, rows2 = *d;
    rows1.OH = 2, rows2.OH = 4;
    const size_t sizes[3] = {cc_conv2d_winograd_scratch(d), cc_conv2d_winograd_scratch(&rows1),
                             cc_conv2d_winograd_scratch(&rows2)};
    const size_t ny = (size_t)d->N * d->OC * d->OH * d->OW;
    double worst = 0;
    for (int s = 0; s < 3; s++) {
        void *scratch = tu_alloc(sizes[s]);
        cc_real *y = tu_filled_reals(ny, 7);  /* the forward must overwrite */
        cc_conv2d_winograd_forward(y, x, w, b, d, poisoned(scratch, sizes[s]), sizes[s], NULL);
        char what[80];
        snprintf(what, sizeof what, "winograd forward (%zu bytes of scratch)", sizes[s]);
        worst = worse(worst, compare(t->label, what, y, y_ref, ny));
        /* with the filters transformed once beforehand (the engine keeps them): the same floats */
        cc_real *u = tu_alloc(cc_conv2d_winograd_u_bytes(d)), *yu = tu_filled_reals(ny, 7);
        cc_conv2d_winograd_transform(u, w, d);
        cc_conv2d_winograd_forward(yu, x, w, b, d, poisoned(scratch, sizes[s]), sizes[s], u);
        tu_check(!memcmp(y, yu, ny * sizeof *y), "%s: winograd with a prepared U, bit for bit", t->label);
        free(u), free(yu);
        free(y), free(scratch);
    }
    return worst;
}

static void check_conv(const conv_case *t, tu_rng *rng)
{
    cc_conv_dims d = {
        .N = t->N, .C = t->C, .H = t->H, .W = t->W, .OC = t->OC, .KH = t->KH, .KW = t->KW,
        .SH = t->SH, .SW = t->SW, .PT = t->PT, .PL = t->PL, .DH = t->DH, .DW = t->DW, .G = t->G,
        .OH = out_size(t->H, t->PT, t->PB, t->KH, t->SH, t->DH),
        .OW = out_size(t->W, t->PL, t->PR, t->KW, t->SW, t->DW),
    };
    if (d.OH < 1 || d.OW < 1 || d.C % d.G || d.OC % d.G) {
        tu_check(0, "%s: bad test case (output %dx%d, groups %d)", t->label, d.OH, d.OW, d.G);
        return;
    }
    const size_t K = (size_t)(d.C / d.G) * d.KH * d.KW, row = K * d.OW * sizeof(cc_real);
    const size_t nx = (size_t)d.N * d.C * d.H * d.W, ny = (size_t)d.N * d.OC * d.OH * d.OW;
    const size_t nw = (size_t)d.OC * K, nb = (size_t)d.OC;

    /* The engine's scratch size picks the path the case is meant to test. */
    const size_t natural = cc_conv2d_gemm_scratch(&d);
    const char path = natural == 0 ? 'd' : natural < row * d.OH ? 't' : 'c';
    tu_check(path == t->path, "%s: expected path '%c', scratch %zu bytes (one row %zu, all %d rows %zu) "
             "gives '%c'", t->label, t->path, natural, row, d.OH, row * d.OH, path);
    tu_check(natural <= CC_CONV_SCRATCH_CAP || natural == row,
             "%s: scratch %zu bytes is over the cap %d", t->label, natural, CC_CONV_SCRATCH_CAP);

    cc_real *x = tu_random_reals(nx, rng), *w = tu_random_reals(nw, rng);
    cc_real *b = t->bias ? tu_random_reals(nb, rng) : NULL;
    cc_real *dy = tu_random_reals(ny, rng);
    cc_real *y_ref = tu_filled_reals(ny, 0);
    cc_conv2d_forward(y_ref, x, w, b, &d);
    cc_real *dx_ref = tu_filled_reals(nx, 0.5), *dw_ref = tu_filled_reals(nw, 0.5), *db_ref = tu_filled_reals(nb, 0.5);
    cc_conv2d_backward(dx_ref, dw_ref, t->bias ? db_ref : NULL, dy, x, w, &d);

    /* The engine's scratch, then one output row, then two (the direct path takes none). */
    const size_t sizes[3] = {natural, row, 2 * row};
    const char *tags[3] = {"engine scratch", "1-row tiles", "2-row tiles"};
    double worst = 0;
    for (int s = 0; s < (path == 'd' ? 1 : 3); s++) {
        void *scratch = sizes[s] ? tu_alloc(sizes[s]) : NULL;
        cc_real *y = tu_filled_reals(ny, 7);  /* the forward must overwrite */
        cc_conv2d_gemm_forward(y, x, w, b, &d, poisoned(scratch, sizes[s]), sizes[s], NULL);
        char what[64];
        snprintf(what, sizeof what, "forward (%s)", tags[s]);
        worst = worse(worst, compare(t->label, what, y, y_ref, ny));
        for (unsigned mask = s == 0 ? 0 : 7; mask < 8; mask++) {
            if ((mask & 4) && !t->bias)
                continue;
            worst = worse(worst, check_backward(t->label, tags[s], mask, &d, x, w, dy, scratch, sizes[s],
                                                dx_ref, dw_ref, db_ref));
        }
        free(y), free(scratch);
    }
    const int winograd = d.KH == 3 && d.KW == 3 && d.SH == 1 && d.SW == 1 && d.DH == 1 && d.DW == 1 &&
                         d.G == 1;
    const double wino = winograd ? check_winograd(t, &d, x, w, b, y_ref) : 0;
    printf("conv2d %-50s N%d C%d->%d G%d %dx%d -> %dx%d %c  max |gemm - reference| = %.3g", t->label,
           d.N, d.C, d.OC, d.G, d.H, d.W, d.OH, d.OW, path, worst);
    if (winograd)
        printf(", |winograd - reference| = %.3g%s", wino,
               cc_conv2d_winograd_applies(&d) ? " (the engine's path)" : "");
    printf("\n");
    free(x), free(w), free(b), free(dy), free(y_ref);
    free(dx_ref), free(dw_ref), free(db_ref);
}

static void check_linear(const linear_case *t, tu_rng *rng)
{
    const int N = t->N, IN = t->IN, OUT = t->OUT;
    const size_t nx = (size_t)N * IN, ny = (size_t)N * OUT, nw = (size_t)OUT * IN;
    cc_real *x = tu_random_reals(nx, rng), *w = tu_random_reals(nw, rng);
    cc_real *b = t->bias ? tu_random_reals((size_t)OUT, rng) : NULL, *dy = tu_random_reals(ny, rng);
    cc_real *y_ref = tu_filled_reals(ny, 0), *y = tu_filled_reals(ny, 7);
    cc_linear_forward(y_ref, x, w, b, N, IN, OUT);
    const size_t sbytes = cc_linear_gemm_scratch(N, IN, OUT);
    void *scratch = sbytes ? tu_alloc(sbytes) : NULL;
    cc_linear_gemm_forward(y, x, w, b, N, IN, OUT, NULL);
    double worst = compare(t->label, "linear forward", y, y_ref, ny);
    if (scratch) {  /* and through the AVX-512 route (the caller runs 1 and 3 threads) */
        cc_real *ys = tu_filled_reals(ny, 7);
        cc_linear_gemm_forward(ys, x, w, b, N, IN, OUT, poisoned(scratch, sbytes));
        worst = worse(worst, compare(t->label, "linear forward, scratch route", ys, y_ref, ny));
        free(ys);
    }
    cc_real *dx_ref = tu_filled_reals(nx, 0.5), *dw_ref = tu_filled_reals(nw, 0.5);
    cc_real *db_ref = tu_filled_reals((size_t)OUT, 0.5);
    cc_linear_backward(dx_ref, dw_ref, t->bias ? db_ref : NULL, dy, x, w, N, IN, OUT);
    for (unsigned mask = 0; mask < 8; mask++) {
        if ((mask & 4) && !t->bias)
            continue;
        cc_real *dx = mask & 1 ? tu_filled_reals(nx, 0.5) : NULL;
        cc_real *dw = mask & 2 ? tu_filled_reals(nw, 0.5) : NULL;
        cc_real *db = mask & 4 ? tu_filled_reals((size_t)OUT, 0.5) : NULL;
        cc_linear_gemm_backward(dx, dw, db, dy, mask & 2 ? x : NULL, w, N, IN, OUT,
                                mask & 1 && scratch ? poisoned(scratch, sbytes) : NULL);
        char what[64];
        if (dx) {
            snprintf(what, sizeof what, "linear dinp (mask %u)", mask);
            worst = worse(worst, compare(t->label, what, dx, dx_ref, nx));
        }
        if (dw) {
            snprintf(what, sizeof what, "linear dweight (mask %u)", mask);
            worst = worse(worst, compare(t->label, what, dw, dw_ref, nw));
        }
        if (db) {
            snprintf(what, sizeof what, "linear dbias (mask %u)", mask);
            worst = worse(worst, compare(t->label, what, db, db_ref, (size_t)OUT));
        }
        free(dx), free(dw), free(db);
    }
    printf("linear %-50s N%d %d -> %d  max |gemm - reference| = %.3g\n", t->label, N, IN, OUT, worst);
    free(x), free(w), free(b), free(dy), free(y_ref), free(y), free(dx_ref), free(dw_ref), free(db_ref);
    free(scratch);
}

/* ---- --bench ------------------------------------------------------------ */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best of `reps` seconds. */
typedef enum { REF_FWD, GEMM_FWD, WINO_FWD, REF_BWD, GEMM_BWD } bench_kind;

static double time_conv(bench_kind k, int reps, const cc_conv_dims *d, cc_real *y, const cc_real *x,
                        const cc_real *w, const cc_real *b, cc_real *dx, cc_real *dw, void *scratch,
                        size_t bytes)
{
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        const double t0 = now();
        switch (k) {
        case REF_FWD: cc_conv2d_forward(y, x, w, b, d); break;
        case GEMM_FWD: cc_conv2d_gemm_forward(y, x, w, b, d, scratch, bytes, NULL); break;
        case WINO_FWD: cc_conv2d_winograd_forward(y, x, w, b, d, scratch, bytes, NULL); break;
        case REF_BWD: cc_conv2d_backward(dx, dw, NULL, y, x, w, d); break;
        case GEMM_BWD: cc_conv2d_gemm_backward(dx, dw, NULL, y, x, w, d, scratch, bytes); break;
        }
        const double t = now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

/* The 3x3 stride-1 convs of ResNet-34 and VGG-16 at 224x224: reference
 * (first two only: it is slow), im2col + gemm and Winograd forwards, and
 * the gemm backward. cc_conv2d_winograd_applies' threshold comes from here. */
static void bench(void)
{
    static const struct { const char *label; int C, OC, H; } layers[] = {
        {"ResNet-34 layer1 conv 3x3 64->64 56x56", 64, 64, 56},
        {"VGG-16 conv3 3x3 256->256 56x56", 256, 256, 56},
        {"VGG-16 conv1_2 3x3 64->64 224x224", 64, 64, 224},
        {"VGG-16 conv2_2 3x3 128->128 112x112", 128, 128, 112},
        {"ResNet-34 layer2 3x3 128->128 28x28", 128, 128, 28},
        {"VGG-16 conv4_2 3x3 512->512 28x28", 512, 512, 28},
        {"ResNet-34 layer3 3x3 256->256 14x14", 256, 256, 14},
        {"VGG-16 conv5 3x3 512->512 14x14", 512, 512, 14},
        {"ResNet-34 layer4 3x3 512->512 7x7", 512, 512, 7},
    };
    cc_set_threads(1);  /* as the engine runs */
    printf("one thread; a conv's FLOPs: 2*OC*OH*OW*C*KH*KW (forward), twice that (backward: dinp and dweight)\n");
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const cc_conv_dims d = {.N = 1, .C = layers[i].C, .H = layers[i].H, .W = layers[i].H,
                                .OC = layers[i].OC, .KH = 3, .KW = 3, .SH = 1, .SW = 1, .PT = 1, .PL = 1,
                                .DH = 1, .DW = 1, .G = 1, .OH = layers[i].H, .OW = layers[i].H};
        const size_t nx = (size_t)d.C * d.H * d.W, ny = (size_t)d.OC * d.OH * d.OW;
        const size_t nw = (size_t)d.OC * d.C * 9, bytes = cc_conv2d_gemm_scratch(&d);
        const size_t wbytes = cc_conv2d_winograd_scratch(&d);
        tu_rng rng = {42};
        cc_real *x = tu_random_reals(nx, &rng), *w = tu_random_reals(nw, &rng), *b = tu_random_reals((size_t)d.OC, &rng);
        cc_real *y = tu_random_reals(ny, &rng), *dx = tu_filled_reals(nx, 0), *dw = tu_filled_reals(nw, 0);
        void *scratch = tu_alloc(bytes > wbytes ? bytes : wbytes);
        const double flop = 2.0 * (double)ny * (double)d.C * 9;
        printf("%s (%.2f GFLOP forward, scratch %zu KiB, winograd %zu KiB, winograd taken: %s)\n", layers[i].label,
               flop * 1e-9, bytes >> 10, wbytes >> 10, cc_conv2d_winograd_applies(&d) ? "yes" : "no");
        const double gf = time_conv(GEMM_FWD, 5, &d, y, x, w, b, dx, dw, scratch, bytes);
        const double wf = time_conv(WINO_FWD, 5, &d, y, x, w, b, dx, dw, scratch, wbytes);
        printf("  forward   gemm %7.2f ms %6.1f GFLOP/s   winograd %7.2f ms (%6.1f GFLOP/s direct-equivalent)  x%.2f\n",
               gf * 1e3, flop / gf * 1e-9, wf * 1e3, flop / wf * 1e-9, gf / wf);
        if (i < 2) {
            const double rf = time_conv(REF_FWD, 2, &d, y, x, w, b, dx, dw, scratch, bytes);
            const double rb = time_conv(REF_BWD, 1, &d, y, x, w, b, dx, dw, scratch, bytes);
            const double gb = time_conv(GEMM_BWD, 5, &d, y, x, w, b, dx, dw, scratch, bytes);
            printf("  forward   reference %8.1f ms %6.2f GFLOP/s   gemm x%.1f\n", rf * 1e3, flop / rf * 1e-9,
                   rf / gf);
            printf("  backward  reference %8.1f ms %6.2f GFLOP/s   gemm %7.1f ms %6.2f GFLOP/s   x%.1f\n",
                   rb * 1e3, 2 * flop / rb * 1e-9, gb * 1e3, 2 * flop / gb * 1e-9, rb / gb);
        }
        free(x), free(w), free(b), free(y), free(dx), free(dw), free(scratch);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench();
        return 0;
    }
    for (int threads = 1; threads <= 3; threads += 2) {  /* the products and transforms split over 3 */
        cc_set_threads(threads);
        printf("-- %d thread%s\n", threads, threads > 1 ? "s" : "");
        for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) {
            tu_rng rng = {1201 + i};
            check_conv(&conv_cases[i], &rng);
        }
        for (size_t i = 0; i < sizeof linear_cases / sizeof linear_cases[0]; i++) {
            tu_rng rng = {3301 + i};
            check_linear(&linear_cases[i], &rng);
        }
    }
    return tu_finish("gemm_paths");
}
