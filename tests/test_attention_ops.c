/* tests/test_attention_ops.c — the fast paths of the attention ops against
 * plain references, at 1 and 3 threads:
 *
 * - matmul (layers/matmul.c): cc_matmul_forward/backward (cc_gemm per
 *   product, the batch split over the pool) against cc_matmul_ref_* (plain
 *   loops in double), on ViT's and Swin's attention shapes, odd sizes, batch 1
 *   (cc_gemm splits the one product), trans_b 0 and 1, alpha != 1. Backward
 *   buffers start at 0.5 (the kernels add) and each of dA, dB is also asked
 *   for alone (the other NULL). Tolerance |fast - ref| <= 1e-5 max|ref| +
 *   1e-5 |ref| (float sums against double ones, as test_gemm_paths).
 * - softmax and log_softmax (layers/softmax.c, log_softmax.c): against the
 *   exact value computed in double from the same float inputs, within 4 ulp
 *   relative (softmax) or 1e-6 absolute + 2 ulp (log_softmax); the same bits
 *   at 1 and 3 threads; a NaN in a row makes exactly that row NaN.
 * - add_const / mul_const's broadcast walk (layers/add_const.c): against an
 *   index-by-index broadcast, for shapes whose runs end inside a range of the
 *   pool. */
#include "testutil.h"
#include "layers/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void close_scaled(const char *what, const cc_real *got, const cc_real *ref, size_t n)
{
    double big = 0;
    for (size_t i = 0; i < n; i++)
        big = fabs((double)ref[i]) > big ? fabs((double)ref[i]) : big;
    double *w = tu_alloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        w[i] = ref[i];
    tu_close(what, got, w, n, 1e-5 * big, 1e-5);
    free(w);
}

static void matmul_case(int batch, int M, int N, int K, int trans_b, double alpha, tu_rng *rng)
{
    const cc_matmul_dims d = {.batch = batch, .M = M, .N = N, .K = K, .trans_b = trans_b, .alpha = alpha};
    const size_t na = (size_t)batch * M * K, nb = (size_t)batch * K * N, ny = (size_t)batch * M * N;
    cc_real *A = tu_random_reals(na, rng), *B = tu_random_reals(nb, rng), *dy = tu_random_reals(ny, rng);
    cc_real *y = tu_alloc(ny * sizeof(cc_real)), *y_ref = tu_alloc(ny * sizeof(cc_real));
    char what[160];
    snprintf(what, sizeof what, "matmul %dx%dx%d by K=%d trans_b=%d alpha=%g, %d threads", batch, M, N, K,
             trans_b, alpha, cc_parallel_threads());
    cc_matmul_ref_forward(y_ref, A, B, &d);
    for (size_t i = 0; i < ny; i++)
        y[i] = (cc_real)1e30;
    cc_matmul_forward(y, A, B, &d);
    char label[200];
    snprintf(label, sizeof label, "%s forward", what);
    close_scaled(label, y, y_ref, ny);
    for (int mask = 1; mask <= 3; mask++) {
        cc_real *dA = mask & 1 ? tu_filled_reals(na, 0.5) : NULL, *dB = mask & 2 ? tu_filled_reals(nb, 0.5) : NULL;
        cc_real *dA_ref = tu_filled_reals(na, 0.5), *dB_ref = tu_filled_reals(nb, 0.5);
        cc_matmul_backward(dA, dB, dy, A, B, &d);
        cc_matmul_ref_backward(dA_ref, dB_ref, dy, A, B, &d);
        if (dA) {
            snprintf(label, sizeof label, "%s dA (mask %d)", what, mask);
            close_scaled(label, dA, dA_ref, na);
        }
        if (dB) {
            snprintf(label, sizeof label, "%s dB (mask %d)", what, mask);
            close_scaled(label, dB, dB_ref, nb);
        }
        free(dA), free(dB), free(dA_ref), free(dB_ref);
    }
    free(A), free(B), free(dy), free(y), free(y_ref);
}

static void matmul_cases(void)
{
    static const struct { int batch, M, N, K, trans_b; double alpha; } cases[] = {
        {12, 197, 197, 64, 1, 0.125},  /* ViT-B/16: q k^T * 64^-1/2 */
        {12, 197, 64, 197, 0, 1},      /* ViT-B/16: attn v */
        {24, 49, 49, 32, 1, 0.17677669529663687},  /* Swin-T, 8 windows x 3 heads */
        {24, 49, 32, 49, 0, 1},
        {3, 5, 7, 3, 0, -1.5},
        {5, 1, 9, 4, 1, 2},            /* one row */
        {4, 6, 1, 5, 0, 1},            /* one column */
        {1, 70, 60, 50, 0, 1},         /* batch 1: cc_gemm splits the product */
        {1, 33, 17, 9, 1, 0.5},
        {2, 40, 130, 24, 1, 1},        /* fewer products than threads */
    };
    tu_rng rng = {20261204};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        matmul_case(cases[i].batch, cases[i].M, cases[i].N, cases[i].K, cases[i].trans_b, cases[i].alpha, &rng);
}

/* The exact softmax / log_softmax of one float row, in double. */
static void exact_row(double *p, double *lp, const cc_real *x, int C)
{
    double m = -INFINITY, s = 0;
    for (int c = 0; c < C; c++)
        m = x[c] > m ? x[c] : m;
    for (int c = 0; c < C; c++)
        s += exp((double)x[c] - m);
    for (int c = 0; c < C; c++) {
        p[c] = exp((double)x[c] - m) / s;
        lp[c] = (double)x[c] - m - log(s);
    }
}

static void softmax_case(int N, int C, double scale, int nan_row, tu_rng *rng, const cc_real *first_y,
                         const cc_real *first_ly)
{
    const size_t n = (size_t)N * C;
    cc_real *x = tu_alloc(n * sizeof(cc_real)), *y = tu_alloc(n * sizeof(cc_real)), *ly = tu_alloc(n * sizeof(cc_real));
    for (size_t i = 0; i < n; i++)
        x[i] = (cc_real)(tu_uniform(rng, -1, 1) * scale);
    if (nan_row >= 0)
        x[(size_t)nan_row * C + C / 2] = NAN;
    cc_softmax_forward(y, x, N, C);
    cc_log_softmax_forward(ly, x, N, C);
    double *p = tu_alloc(n * sizeof(double)), *lp = tu_alloc(n * sizeof(double));
    for (int r = 0; r < N; r++)
        exact_row(p + (size_t)r * C, lp + (size_t)r * C, x + (size_t)r * C, C);
    char what[160];
    const double ulp = sizeof(cc_real) == sizeof(float) ? 0x1p-23 : 0x1p-52;
    snprintf(what, sizeof what, "softmax %d rows of %d, scale %g, %d threads", N, C, scale, cc_parallel_threads());
    tu_close(what, y, p, n, 1e-37, 4 * ulp);  /* NaN in p exactly where the row is NaN */
    snprintf(what, sizeof what, "log_softmax %d rows of %d, scale %g, %d threads", N, C, scale, cc_parallel_threads());
    tu_close(what, ly, lp, n, 1e-6, 2 * ulp);
    /* The same bits at every thread count. */
    tu_check(!memcmp(first_y, y, n * sizeof(cc_real)) && !memcmp(first_ly, ly, n * sizeof(cc_real)),
             "softmax %d x %d: same bits at 1 and %d threads", N, C, cc_parallel_threads());
    free(x), free(y), free(ly), free(p), free(lp);
}

static void softmax_cases(int threads)
{
    static const struct { int N, C; double scale; int nan_row; } cases[] = {
        {12 * 197, 197, 4, -1}, {7, 1000, 10, 3}, {5, 3, 30, -1}, {64 * 3 * 49, 49, 8, 100}, {3, 17, 200, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const size_t n = (size_t)cases[i].N * cases[i].C;
        cc_real *y1 = tu_alloc(n * sizeof(cc_real)), *ly1 = tu_alloc(n * sizeof(cc_real));
        cc_real *x = tu_alloc(n * sizeof(cc_real));
        tu_rng rng = {7 + i};
        for (size_t j = 0; j < n; j++)
            x[j] = (cc_real)(tu_uniform(&rng, -1, 1) * cases[i].scale);
        if (cases[i].nan_row >= 0)
            x[(size_t)cases[i].nan_row * cases[i].C + cases[i].C / 2] = NAN;
        cc_set_threads(1);
        cc_softmax_forward(y1, x, cases[i].N, cases[i].C);
        cc_log_softmax_forward(ly1, x, cases[i].N, cases[i].C);
        cc_set_threads(threads);
        tu_rng again = {7 + i};
        softmax_case(cases[i].N, cases[i].C, cases[i].scale, cases[i].nan_row, &again, y1, ly1);
        free(x), free(y1), free(ly1);
    }
}

/* value[j(i)] by index arithmetic: the definition of the broadcast. */
static void bcast_case(const char *xs, const char *vs, tu_rng *rng)
{
    const cc_shape x = tu_shape(xs), v = tu_shape(vs);
    cc_error err;
    cc_shape y;
    tu_check(cc_const_infer("add_const", &x, &v, 1, &y, &err) == CC_OK && cc_shape_equal(&x, &y),
             "%s + %s is accepted", xs, vs);
    const size_t n = cc_shape_numel(&x), nv = cc_shape_numel(&v);
    cc_real *a = tu_random_reals(n, rng), *val = tu_random_reals(nv, rng);
    double *sum = tu_alloc(n * sizeof(double)), *prod = tu_alloc(n * sizeof(double)), *acc = tu_alloc(n * sizeof(double));
    const int off = x.rank - v.rank;
    for (size_t i = 0; i < n; i++) {
        size_t r = i, j = 0, vstride = 1;
        for (int k = x.rank - 1; k >= 0; k--) {
            const size_t idx = r % (size_t)x.d[k];
            r /= (size_t)x.d[k];
            if (k >= off) {
                j += (v.d[k - off] == 1 ? 0 : idx) * vstride;
                vstride *= (size_t)v.d[k - off];
            }
        }
        sum[i] = (double)(a[i] + val[j]);
        prod[i] = (double)(a[i] * val[j]);
        acc[i] = (double)((cc_real)0.5 + a[i] * val[j]);
    }
    cc_bcast p;
    cc_bcast_plan(&p, &x, &v);
    cc_real *out = tu_alloc(n * sizeof(cc_real));
    char what[160];
    cc_bcast_apply(CC_BCAST_ADD, out, a, val, &p, n);
    snprintf(what, sizeof what, "%s + %s (%d runs), %d threads", xs, vs, p.rank, cc_parallel_threads());
    tu_close(what, out, sum, n, 0, 0);
    cc_bcast_apply(CC_BCAST_MUL, out, a, val, &p, n);
    snprintf(what, sizeof what, "%s * %s, %d threads", xs, vs, cc_parallel_threads());
    tu_close(what, out, prod, n, 0, 0);
    for (size_t i = 0; i < n; i++)
        out[i] = (cc_real)0.5;
    cc_bcast_apply(CC_BCAST_MUL_ACC, out, a, val, &p, n);
    snprintf(what, sizeof what, "0.5 + %s * %s, %d threads", xs, vs, cc_parallel_threads());
    tu_close(what, out, acc, n, 0, 0);
    free(a), free(val), free(sum), free(prod), free(acc), free(out);
}

static void bcast_cases(void)
{
    static const char *const cases[][2] = {
        {"2x197x768", "1x197x768"}, {"2x96x56x56", "96x1x1"}, {"2x56x56x96", "96"}, {"2x3x5x7", "1"},
        {"4x64x3x49x49", "1x64x1x49x49"}, {"4x3x49x49", "1x3x49x49"}, {"3x1x7x1x5", "7x1x1"},
        {"2x7x130x3", "1x7x1x3"}, {"1", "1"}, {"5x1", "1x1"},
    };
    tu_rng rng = {99};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        bcast_case(cases[i][0], cases[i][1], &rng);
}

int main(void)
{
    for (int threads = 1; threads <= 3; threads += 2) {
        cc_set_threads(threads);
        matmul_cases();
        bcast_cases();
    }
    softmax_cases(3);
    return tu_finish("attention_ops");
}
