/* tests/test_gemm_avx512.c — the AVX-512 conv product (layers/gemm_avx512.c)
 * against products summed in double here.
 *
 * Shapes: row counts that leave a partial panel of 64 and a partial vector of
 * 16, column counts that leave a partial block of 7 and that need several
 * chunks of columns (more than 196), depths that leave a partial block of
 * 512 and depths under 16, leading dimensions wider than the matrices, and
 * both C = A B and C += A B. C's padding columns hold a sentinel that must
 * survive. Every case runs with 1 thread, then 3: the results must be the
 * same floats. cc_gemm_avx512_applies is checked to take ResNet-34's last
 * 3x3 convs and to refuse what the kernel was measured slower on than
 * OpenBLAS's AVX2 kernels (unless OpenBLAS runs its SSE3 ones here). The
 * matrix-vector kernels (cc_gemv_avx512) are checked the same way, and
 * every case also runs through the kernel with C's rows in vectors
 * (gemm_avx512_n.c), which --bench times in a third column.
 *
 * Tolerance |got - want| <= 1e-6 * sum_k |a_ik b_kj| + 1e-6 * |want|: a
 * float sum of K products is off by at most K * 2^-24 of that sum, and by
 * about sqrt(K) * 2^-24 for terms of either sign (2e-6 at the deepest case
 * here, K = 1100, where the worst error printed stays far below); a wrong
 * element or a missed block is off by a whole term.
 *
 * `test_gemm_avx512 --bench` times the kernel and OpenBLAS (one thread each)
 * on the products of the five article models, with A read from memory as a
 * model's weights are, and prints GFLOP/s: how the applies rule was set.
 * Without AVX-512 the checks of the kernel cannot run: one skip in the tally. */
#include "testutil.h"
#include "layers/kernels.h"

#include <cblas.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef CC_REAL_DOUBLE
#error "the AVX-512 product is float only"
#endif

typedef struct { int M, N, K, lda, ldb, ldc, accumulate; } gemm_case;

static const gemm_case cases[] = {
    {64, 49, 512, 512, 49, 49, 0},          /* one panel, whole blocks, one depth block */
    {512, 49, 1100, 1100, 49, 49, 1},       /* depth 512 + 512 + 76 */
    {50, 13, 200, 203, 17, 21, 0},          /* partial vector, partial block, wider lds */
    {130, 400, 129, 129, 400, 400, 1},      /* partial panel; 400 columns: three chunks */
    {16, 1, 9, 9, 1, 1, 0},                 /* one column, depth under 16 */
    {96, 197, 64, 70, 200, 199, 1},         /* 197 columns: one past a chunk */
    {784, 49, 320, 320, 49, 49, 0},         /* RegNet's last stage 1x1 */
    {40, 784, 24, 24, 784, 784, 0},         /* MobileNet's 1x1s: rows in part vectors, depth 24 */
    {24, 3136, 16, 16, 3136, 3136, 1},
    {13, 530, 600, 600, 531, 533, 1},       /* rows kernel: a 1-row panel, 3 depth passes, a partial block */
    {25, 17, 5, 7, 17, 20, 0},              /* a vector and one lane */
    {12, 257, 256, 256, 257, 257, 1},       /* one depth pass exactly, one column past a block */
    {480, 196, 80, 80, 196, 196, 1},        /* rows kernel, one column block: split into row groups */
    {100, 300, 40, 40, 300, 300, 0},        /* two blocks, row groups of a partial tile */
    {112, 196, 672, 672, 196, 196, 0},      /* one chunk of columns: split by rows */
};

static float sentinel(void) { return 7.25f; }

/* rows: the kernel with C's rows in vectors (gemm_avx512_n.c), else gemm_avx512.c's. */
static void check_case(const gemm_case *t, tu_rng *rng, int rows)
{
    const size_t na = (size_t)t->M * t->lda, nb = (size_t)t->K * t->ldb, nc = (size_t)t->M * t->ldc;
    float *a = tu_random_reals(na, rng), *b = tu_random_reals(nb, rng), *c = tu_random_reals(nc, rng);
    double *want = tu_alloc((size_t)t->M * t->N * sizeof *want), *mag = tu_alloc((size_t)t->M * t->N * sizeof *mag);
    for (int i = 0; i < t->M; i++) {
        for (int j = t->N; j < t->ldc; j++)
            c[(size_t)i * t->ldc + j] = sentinel();
        for (int j = 0; j < t->N; j++) {
            double s = 0, m = 0;
            for (int k = 0; k < t->K; k++) {
                const double p = (double)a[(size_t)i * t->lda + k] * b[(size_t)k * t->ldb + j];
                s += p, m += fabs(p);
            }
            want[(size_t)i * t->N + j] = s + (t->accumulate ? c[(size_t)i * t->ldc + j] : 0);
            mag[(size_t)i * t->N + j] = m;
        }
    }
    float *c1 = tu_alloc(nc * sizeof *c1);
    memcpy(c1, c, nc * sizeof *c);
    void (*const kernel)(const cc_gemm_job *) = rows ? cc_gemm_avx512_n : cc_gemm_avx512;
    cc_gemm_job g = {.M = t->M, .N = t->N, .K = t->K, .accumulate = t->accumulate, .A = a, .B = b, .C = c1,
                     .lda = (size_t)t->lda, .ldb = (size_t)t->ldb, .ldc = (size_t)t->ldc};
    cc_set_threads(1);
    kernel(&g);
    cc_set_threads(3);
    g.C = c;
    kernel(&g);
    size_t bad = 0, kept = 1, same = 1;
    double worst = 0;
    for (int i = 0; i < t->M; i++)
        for (int j = 0; j < t->ldc; j++) {
            const size_t at = (size_t)i * t->ldc + j;
            same &= memcmp(&c[at], &c1[at], sizeof *c) == 0;
            if (j >= t->N) {
                kept &= c[at] == sentinel();
                continue;
            }
            const double w = want[(size_t)i * t->N + j], e = fabs(c[at] - w);
            const double tol = 1e-6 * mag[(size_t)i * t->N + j] + 1e-6 * fabs(w);
            worst = e / (tol + 1e-30) > worst ? e / (tol + 1e-30) : worst;
            if (e > tol && bad++ < 3)
                printf("    C[%d][%d] = %.9g, want %.9g (tol %.2g)\n", i, j, c[at], w, tol);
        }
    printf("  %4d x %3d x %4d, %s%s: largest error %.2g of the tolerance\n", t->M, t->N, t->K,
           t->accumulate ? "C += AB" : "C = AB", rows ? " (rows kernel)" : "", worst);
    tu_check(bad == 0, "%dx%dx%d acc %d: %zu entries off (worst at %.2g of the tolerance)", t->M, t->N, t->K,
             t->accumulate, bad, worst);
    tu_check(kept, "%dx%dx%d: padding columns of C untouched", t->M, t->N, t->K);
    tu_check(same, "%dx%dx%d: 1 and 3 threads give the same floats", t->M, t->N, t->K);
    free(a), free(b), free(c), free(c1), free(want), free(mag);
}

/* cc_gemv_avx512, y (+)= A x and y (+)= A^T x, against sums in double:
 * lengths with partial vectors, a wider lda, 1 and 3 threads the same floats,
 * y's entries past the product untouched. */
static void check_gemv(tu_rng *rng)
{
    static const int shapes[][3] = {{40, 24, 24}, {1000, 1280, 1280}, {7, 33, 40}, {1, 1, 1}, {240, 17, 17},
                                    {70, 401, 401}, {6, 300, 303}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int acc = 0; acc < 2; acc++) {
                const int M = shapes[s][0], N = shapes[s][1], lda = shapes[s][2] + (ta ? 0 : 3);
                const int nx = ta ? M : N, ny = ta ? N : M;
                float *a = tu_random_reals((size_t)M * lda, rng), *x = tu_random_reals((size_t)nx, rng);
                float *y0 = tu_random_reals((size_t)ny + 1, rng), *y1 = tu_alloc(sizeof(float) * (ny + 1));
                float *y3 = tu_alloc(sizeof(float) * (ny + 1));
                y0[ny] = sentinel();
                memcpy(y1, y0, sizeof(float) * (ny + 1));
                memcpy(y3, y0, sizeof(float) * (ny + 1));
                cc_set_threads(1);
                cc_gemv_avx512(ta, M, N, a, lda, x, acc, y1);
                cc_set_threads(3);
                cc_gemv_avx512(ta, M, N, a, lda, x, acc, y3);
                size_t bad = 0;
                for (int i = 0; i < ny; i++) {
                    double want = acc ? y0[i] : 0, mag = fabs(want);
                    for (int k = 0; k < nx; k++) {
                        const double p = (double)(ta ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k]) * x[k];
                        want += p, mag += fabs(p);
                    }
                    bad += fabs(y1[i] - want) > 1e-6 * mag + 1e-30;
                }
                tu_check(bad == 0, "gemv %s %dx%d acc %d: %zu entries off", ta ? "A^T x" : "A x", M, N, acc, bad);
                tu_check(!memcmp(y1, y3, sizeof(float) * ny), "gemv %dx%d: 1 and 3 threads the same floats", M, N);
                tu_check(y1[ny] == sentinel() && y3[ny] == sentinel(), "gemv %dx%d: y[%d] untouched", M, N, ny);
                free(a), free(x), free(y0), free(y1), free(y3);
            }
}

/* Where cc_gemm takes the kernel (tests/test_gemm_avx512 --bench measured
 * these faster or slower than OpenBLAS's AVX2 kernels; every product is
 * faster than its SSE3 ones, which it runs where it does not know the CPU). */
static void check_applies(int avx512)
{
    const int taken[][3] = {{512, 49, 4608}, {512, 196, 4608}, {784, 49, 784}, {256, 49, 256}};
    const int slower[][3] = {{64, 3136, 32}, {40, 784, 240}, {8, 49, 512}};
    const int slow_blas = cc_blas_is_slow();
    printf("  OpenBLAS core: %s (%s)\n", openblas_get_corename(), slow_blas ? "SSE3 kernels" : "AVX2 or newer");
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++)
        tu_check(cc_gemm_avx512_applies(taken[i][0], taken[i][1], taken[i][2]) == avx512,
                 "%dx%dx%d taken %s AVX-512", taken[i][0], taken[i][1], taken[i][2], avx512 ? "with" : "without");
    for (size_t i = 0; i < sizeof slower / sizeof slower[0]; i++)
        tu_check(cc_gemm_avx512_applies(slower[i][0], slower[i][1], slower[i][2]) == (avx512 && slow_blas),
                 "%dx%dx%d taken only where OpenBLAS runs SSE3 kernels", slower[i][0], slower[i][1], slower[i][2]);
}

/* ---- --bench ------------------------------------------------------------ */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Copies of A, used in turn so that A comes from memory, as a model's
 * weights do: together at least 96 MB, more than the L3 cache. */
enum { MAX_COPIES = 64 };
static int copies_of(size_t bytes) { const size_t n = ((size_t)96 << 20) / bytes + 1; return n > MAX_COPIES ? MAX_COPIES : (int)n; }

static double time_product(int mine, int M, int N, int K, float *const *a, int copies, const float *b, float *c)
{
    double best = 1e30;
    const int reps = (int)(2e9 / (2.0 * M * N * K)) + 6;
    for (int r = 0; r < reps; r++) {
        const double t0 = now();
        const cc_gemm_job g = {.M = M, .N = N, .K = K, .A = a[r % copies], .B = b, .C = c,
                               .lda = (size_t)K, .ldb = (size_t)N, .ldc = (size_t)N};
        if (mine)
            (mine == 2 ? cc_gemm_avx512_n : cc_gemm_avx512)(&g);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a[r % copies], K, b, N, 0, c, N);
        const double t = now() - t0;
        best = t < best ? t : best;
    }
    return 2.0 * M * N * K / best * 1e-9;
}

/* M x N x K of the models' products at 224x224: convs as (outputs, pixels,
 * taps) and Winograd's as (outputs, tiles, inputs). */
static void bench(void)
{
    static const int shapes[][3] = {
        {512, 49, 4608}, {512, 49, 2304}, {512, 196, 4608}, {256, 196, 2304}, {256, 196, 1152},
        {128, 784, 1152}, {128, 784, 576}, {256, 49, 256}, {512, 49, 512}, {128, 196, 128},
        {256, 504, 256}, {512, 504, 512}, {128, 504, 128}, {144, 784, 144}, {320, 196, 320},
        {784, 49, 784}, {784, 49, 320}, {40, 784, 240}, {480, 196, 80}, {80, 196, 480}, {672, 196, 112},
        {112, 196, 672}, {1152, 49, 192}, {192, 49, 1152}, {1280, 49, 320}, {64, 3136, 576},
        {64, 3136, 64}, {128, 784, 64}, {256, 196, 64}, {96, 12544, 16}, {144, 3136, 24}, {240, 784, 40}, {64, 3136, 16}, {72, 3136, 24},
        {24, 3136, 72}, {120, 784, 40}, {40, 784, 120}, {80, 196, 240}, {200, 196, 80}, {16, 12544, 32},
        {480, 196, 80}, {256, 196, 128}, {512, 49, 256},
    };
    cc_set_threads(1);
    tu_rng rng = {99};
    printf("%5s %5s %5s  %8s %8s %8s  (GFLOP/s, 1 thread)\n", "M", "N", "K", "OpenBLAS", "avx512", "rows");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *a[MAX_COPIES];
        const int copies = copies_of((size_t)M * K * sizeof(float));
        for (int i = 0; i < copies; i++)
            a[i] = tu_random_reals((size_t)M * K, &rng);
        float *b = tu_random_reals((size_t)K * N, &rng), *c = tu_alloc((size_t)M * N * sizeof *c);
        double blas = 0, mine = 0, rows = 0;
        for (int round = 0; round < 3; round++) {  /* alternating, best of each */
            const double g0 = time_product(0, M, N, K, a, copies, b, c), g1 = time_product(1, M, N, K, a, copies, b, c);
            const double g2 = time_product(2, M, N, K, a, copies, b, c);
            blas = g0 > blas ? g0 : blas, mine = g1 > mine ? g1 : mine, rows = g2 > rows ? g2 : rows;
        }
        printf("%5d %5d %5d  %8.1f %8.1f %8.1f  %s%s\n", M, N, K, blas, mine, rows,
               cc_gemm_avx512_applies(M, N, K) ? "taken" : "", cc_gemm_avx512_n_applies(M, N, K) ? ", rows" : "");
        for (int i = 0; i < copies; i++)
            free(a[i]);
        free(b), free(c);
    }
}

int main(int argc, char **argv)
{
    const int avx512 = cc_cpu_avx512();
    check_applies(avx512);
    if (!avx512) {
        tu_skip("no AVX-512 on this CPU: the kernel's checks cannot run");
        return tu_finish("gemm_avx512");
    }
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        bench();
        return 0;
    }
    {
        tu_rng grng = {4242};
        check_gemv(&grng);
    }
    for (int rows = 0; rows < 2; rows++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            tu_rng rng = {5501 + i};
            check_case(&cases[i], &rng, rows);
        }
    return tu_finish("gemm_avx512");
}
