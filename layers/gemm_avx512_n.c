/* layers/gemm_avx512_n.c — C = A B or C += A B (A M x K, B K x N, C M x N,
 * row-major, float) in AVX-512 with C's ROWS in vectors: for the products
 * with many columns and few terms per entry that gemm_avx512.c, which puts
 * C's columns in vectors, runs slowly (the 1x1 convs of MobileNetV3 and
 * EfficientNet, 16 to 80 input channels over 784 to 12544 pixels: 56-99
 * GFLOP/s there, where its transposes in and out cost as much as the sums).
 *
 * How: a tile of MR = 12 rows of C by NV vectors (NV <= 2: 32 columns) is
 * 12 x NV accumulators. For each k, NV vectors of B's row k are loaded and
 * each A[r][k] is broadcast into them: 2 loads and 12 fused multiply-adds
 * per k at NV = 2. B is read in place (its rows are contiguous); A's rows
 * are read a column at a time, 12 streams that stay in L1 across the tiles
 * of a block. Columns are taken in blocks of NB (B's block, K x NB, stays
 * in L2 while every row panel passes over it); depths over KC are summed in
 * C between passes (each entry still adds its K products in order of k).
 * The last vector of a row is masked; rows past M are not computed.
 *
 * Every entry of C is its K products summed in order of k by fused
 * multiply-adds starting from 0 (then added to C when accumulating, or
 * added to the partial sum of the previous depth block): the same floats at
 * any thread count. A fused chain's epilogue (op.h) runs on each block of
 * rows x NB as it is finished. */
#include "kernels.h"
#include "runtime/parallel.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(CC_REAL_DOUBLE)

#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

enum {
    MR = 12,     /* rows of a tile: 12 x 2 accumulators (of 32 registers) */
    NB = 256,    /* columns of a block */
    KC = 256,    /* depth of a pass: B's block is at most 256 KB */
};

/* Where it beats gemm_avx512.c (tests/test_gemm_avx512 --bench, 1 thread):
 * few terms per entry over enough columns (256 x 196 x 64: 129 GFLOP/s
 * against 119; 144 x 3136 x 24: 101 against 71), and rows that do not fill
 * whole vectors there over many columns (40 x 784 x 240: 134 against 109);
 * not deeper products (256 x 196 x 128: 133 against 139) nor 7 x 7 maps. */
int cc_gemm_avx512_n_applies(int M, int N, int K)
{
    return cc_cpu_avx512() && M > 0 && K >= 1 &&
           ((K <= 96 && N >= 196) || (K <= 160 && N >= 500) || (M % 16 && N >= 500));
}

/* C[0..R-1][0..16*NV-1] (+)= A[0..R-1][0..kc-1] B[0..kc-1][...], the last
 * vector masked by `last`. first: start from 0 (else from C); add: when
 * starting from 0, add C's old value at the end (C += AB). */
AVX512 static inline __attribute__((always_inline)) void tile(float *C, size_t ldc, const float *A, size_t lda,
                                                          const float *B, size_t ldb, int kc, int start_zero,
                                                          int add_c, __mmask16 last, int R, int NV)
{
    __m512 acc[MR][2];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) {
            const __mmask16 m = v == NV - 1 ? last : 0xffff;
            acc[r][v] = start_zero ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, C + r * ldc + 16 * v);
        }
    for (int k = 0; k < kc; k++) {
        __m512 b[2];
        for (int v = 0; v < NV; v++)
            b[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xffff, B + k * ldb + 16 * v);
        for (int r = 0; r < R; r++) {
            const __m512 a = _mm512_set1_ps(A[r * lda + k]);
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) {
            const __mmask16 m = v == NV - 1 ? last : 0xffff;
            float *c = C + r * ldc + 16 * v;
            const __m512 x = add_c ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, c), acc[r][v]) : acc[r][v];
            _mm512_mask_storeu_ps(c, m, x);
        }
}

/* tile() with R and NV as constants. */
#define TILE_R(R)                                                                                       \
    case R:                                                                                            \
        if (NV == 2)                                                                                   \
            tile(C, ldc, A, lda, B, ldb, kc, start_zero, add_c, last, R, 2);                             \
        else                                                                                           \
            tile(C, ldc, A, lda, B, ldb, kc, start_zero, add_c, last, R, 1);                             \
        break;

AVX512 static void tile_rn(float *C, size_t ldc, const float *A, size_t lda, const float *B, size_t ldb, int kc,
                           int start_zero, int add_c, __mmask16 last, int R, int NV)
{
    switch (R) {
        TILE_R(12) TILE_R(11) TILE_R(10) TILE_R(9) TILE_R(8) TILE_R(7)
        TILE_R(6) TILE_R(5) TILE_R(4) TILE_R(3) TILE_R(2)
    default:
        TILE_R(1)
    }
}

/* The tasks: column blocks, each split into row groups when there are too
 * few blocks to share (a 14 x 14 map is one block of 196 columns). */
typedef struct {
    const cc_gemm_job *g;
    int groups, rows;   /* row groups per block, rows per group (a multiple of MR) */
} tasks;

/* Tasks lo..hi-1: each one's rows over its column block, pass by pass. */
AVX512 static void blocks(void *arg, size_t lo, size_t hi)
{
    const tasks *t = arg;
    const cc_gemm_job *j = t->g;
    for (size_t task = lo; task < hi; task++) {
        const int n0 = (int)(task / (size_t)t->groups) * NB, nb = j->N - n0 < NB ? j->N - n0 : NB;
        const int m0 = (int)(task % (size_t)t->groups) * t->rows;
        const int m1 = m0 + t->rows < j->M ? m0 + t->rows : j->M;
        for (int k0 = 0; k0 < j->K; k0 += KC) {
            const int kc = j->K - k0 < KC ? j->K - k0 : KC;
            const int start_zero = k0 == 0, add_c = k0 == 0 && j->accumulate;
            for (int m = m0; m < m1; m += MR) {
                const int R = m1 - m < MR ? m1 - m : MR;
                const float *a = j->A + (size_t)m * j->lda + k0;
                for (int n = n0; n < n0 + nb; n += 32) {
                    const int w = n0 + nb - n < 32 ? n0 + nb - n : 32, NV = (w + 15) / 16;
                    const __mmask16 last = (__mmask16)(0xffffu >> (16 * NV - w));
                    tile_rn(j->C + (size_t)m * j->ldc + n, j->ldc, a, j->lda, j->B + (size_t)k0 * j->ldb + n,
                            j->ldb, kc, start_zero, add_c, last, R, NV);
                }
            }
        }
        for (int r = m0; j->ep && r < m1; r++)   /* this block, while it is in cache */
            cc_epilogue_apply(j->ep, j->C + (size_t)r * j->ldc + n0, j->c0 + r, (size_t)nb);
    }
}

/* At least four tasks where the rows allow (two per thread of two), so that
 * one or two column blocks still split; every entry is summed the same way
 * whatever its task. */
void cc_gemm_avx512_n(const cc_gemm_job *g)
{
    const int nblocks = (g->N + NB - 1) / NB, panels = (g->M + MR - 1) / MR;
    int groups = nblocks >= 4 ? 1 : (4 + nblocks - 1) / nblocks;
    groups = groups < panels ? groups : panels;
    const int rows = (panels + groups - 1) / groups * MR;
    const tasks t = {.g = g, .groups = (g->M + rows - 1) / rows, .rows = rows};
    cc_parallel((size_t)nblocks * t.groups, cc_grain((size_t)rows * NB * g->K, 1 << 19), blocks, (void *)&t);
}

#else

int cc_gemm_avx512_n_applies(int M, int N, int K)
{
    (void)M, (void)N, (void)K;
    return 0;
}

#endif
