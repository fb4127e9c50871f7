/* layers/gemm_avx512.c — C = A B, or C += A B (A M x K, B K x N, C M x N,
 * row-major, float) in AVX-512: cc_gemm (gemm.c) sends here the products that
 * cc_gemm_avx512_applies() accepts, which are most of a CNN's: 1x1 convs,
 * im2col products and Winograd's products with 16k output channels.
 *
 * Why: OpenBLAS, held to its AVX2 kernels in this environment, runs products
 * with few columns (a conv's output pixels: 49 at 7x7, 196 at 14x14) at
 * 75-90 GFLOP/s where one core's multiply-adds reach 117: ResNet-34's last
 * 3x3 convs (512 x 49 x 4608) at 77. This file runs them at 90-100 and most
 * other conv products 5-10% faster than OpenBLAS (test_gemm_avx512 --bench).
 *
 * How: 64 rows of A (a panel: four vectors of 16) are taken KC columns at a
 * time and transposed into P[k][64] by 16x16 transposes in registers, so that
 * the 64 products of one k are four aligned vectors. PR = 7 columns of B times
 * a panel are 28 vector accumulators: for each k, each B[k][p] is broadcast
 * and multiply-added into the four vectors of P[k]. Between blocks of KC the
 * accumulators wait in T[p][64] (the panel's part of C, transposed), which
 * goes into C at the end. A panel's last rows may fill fewer than four
 * vectors (the rest of P is zeros); columns past NMAX are taken in chunks.
 *
 * Every entry of C is its K products summed in order of k by fused
 * multiply-adds, then added to C when accumulating: the same floats whatever
 * the thread count, and within rounding of OpenBLAS's (also fused) sums.
 * P and T live on the caller's stack: 178 KB (include/cnncam.h says so). */
#include "kernels.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(CC_REAL_DOUBLE)

#include <immintrin.h>

#include "avx512_transpose.h"

enum {
    ROWS = 64,    /* rows of A per panel: four vectors */
    PR = 7,       /* columns of B per block: 7 x 4 accumulators (of 32 registers) */
    KC = 512,     /* columns of A packed at a time: P is 128 KB, in L2 (384: 5% slower) */
    NMAX = 196,   /* columns of C per chunk at most (28 blocks, 14x14 outputs): T is 49 KB */
    KMIN = 64,    /* fewer products per entry: packing costs more than it saves */
};

/* Where it was measured faster than OpenBLAS (tests/test_gemm_avx512.c
 * --bench). Against OpenBLAS's AVX2 kernels: rows in whole vectors (40 rows,
 * a vector and a half of padding, ran at 90 GFLOP/s against 95) and at least
 * KMIN terms per entry (24 ran at 83 against 91). Where OpenBLAS does not
 * know the CPU and runs its SSE3 (Prescott) kernels at 25-32 GFLOP/s, every
 * product: 40 rows ran at 109, 16 terms at 56, 24 at 72. */
int cc_gemm_avx512_applies(int M, int N, int K)
{
    return cc_cpu_avx512() && M > 0 && N >= 1 && K >= 1 && (cc_blas_is_slow() || (M % 16 == 0 && K >= KMIN));
}

/* On every function below: GCC and clang both take the attribute (clang
 * ignores GCC's target pragma). */
#define AVX512 __attribute__((target("avx512f")))

/* dst[c][r] = src[r][c] for a 16x16 block. */
AVX512 static inline void transpose16(float *restrict dst, size_t ldd, const float *restrict src, size_t lds)
{
    __m512 r[16];
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(src + (size_t)i * lds);
    cc_transpose16(r);
    for (int i = 0; i < 16; i++)
        _mm512_storeu_ps(dst + (size_t)i * ldd, r[i]);
}

/* P[k][r] = a[r][k] for k < kc and r in the vectors that hold `rows` rows;
 * rows at or past `rows` are zeros. */
AVX512 static void pack(float *restrict P, const float *restrict a, size_t lda, int rows, int kc)
{
    for (int r0 = 0; r0 < rows; r0 += 16)
        for (int k0 = 0; k0 < kc; k0 += 16) {
            if (r0 + 16 <= rows && k0 + 16 <= kc) {
                transpose16(P + (size_t)k0 * ROWS + r0, ROWS, a + (size_t)r0 * lda + k0, lda);
                continue;
            }
            for (int k = k0; k < k0 + 16 && k < kc; k++)
                for (int r = r0; r < r0 + 16; r++)
                    P[(size_t)k * ROWS + r] = r < rows ? a[(size_t)r * lda + k] : 0;
        }
}

/* t[p][16v..16v+15] (+)= sum over k < kc of P[k][16v..] * b[k][p] for
 * p < np, v < nv: np and nv are constants where inlined, so the accumulators
 * stay in registers. Meanwhile one cache line per k of the next block of A
 * to pack (pf, rows lda apart, KC / 16 lines each; NULL: none) is fetched,
 * lines line, line + 1, ...: the blocks of a panel fetch it all between
 * them. Without this, a pack waited on memory: products of 49 columns ran at
 * 80-90 GFLOP/s instead of 97-102. */
AVX512 static inline __attribute__((always_inline)) void block(float *restrict t, const float *restrict P,
                                                        const float *restrict b, size_t ldb, int kc,
                                                        int first, int np, int nv, const float *pf,
                                                        size_t lda, int line)
{
    __m512 acc[PR][4];
    for (int p = 0; p < np; p++)
        for (int v = 0; v < nv; v++)
            acc[p][v] = first ? _mm512_setzero_ps() : _mm512_load_ps(t + p * ROWS + 16 * v);
    for (int k = 0; k < kc; k++, P += ROWS, b += ldb, line++) {
        if (pf && line < ROWS * (KC / 16))
            __builtin_prefetch(pf + (size_t)(line / (KC / 16)) * lda + (line % (KC / 16)) * 16, 0, 3);
        __m512 w[4];
        for (int v = 0; v < nv; v++)
            w[v] = _mm512_load_ps(P + 16 * v);
        for (int p = 0; p < np; p++) {
            const __m512 x = _mm512_set1_ps(b[p]);
            for (int v = 0; v < nv; v++)
                acc[p][v] = _mm512_fmadd_ps(w[v], x, acc[p][v]);
        }
    }
    for (int p = 0; p < np; p++)
        for (int v = 0; v < nv; v++)
            _mm512_store_ps(t + p * ROWS + 16 * v, acc[p][v]);
}

/* block() with np and nv as constants: a panel's last rows may fill fewer
 * than four vectors, its last columns fewer than PR. */
AVX512 static void block_v(float *t, const float *P, const float *b, size_t ldb, int kc, int first, int np, int nv,
                    const float *pf, size_t lda, int line)
{
    switch (np) {
    case 7: block(t, P, b, ldb, kc, first, 7, nv, pf, lda, line); break;
    case 6: block(t, P, b, ldb, kc, first, 6, nv, pf, lda, line); break;
    case 5: block(t, P, b, ldb, kc, first, 5, nv, pf, lda, line); break;
    case 4: block(t, P, b, ldb, kc, first, 4, nv, pf, lda, line); break;
    case 3: block(t, P, b, ldb, kc, first, 3, nv, pf, lda, line); break;
    case 2: block(t, P, b, ldb, kc, first, 2, nv, pf, lda, line); break;
    default: block(t, P, b, ldb, kc, first, 1, nv, pf, lda, line); break;
    }
}

AVX512 static void block_n(float *t, const float *P, const float *b, size_t ldb, int kc, int first, int np, int nv,
                    const float *pf, size_t lda, int line)
{
    switch (nv) {
    case 4: block_v(t, P, b, ldb, kc, first, np, 4, pf, lda, line); break;
    case 3: block_v(t, P, b, ldb, kc, first, np, 3, pf, lda, line); break;
    case 2: block_v(t, P, b, ldb, kc, first, np, 2, pf, lda, line); break;
    default: block_v(t, P, b, ldb, kc, first, np, 1, pf, lda, line); break;
    }
}

/* c[r][p] = T[p][r] (+ c[r][p] when accumulating), r < rows, p < np. */
AVX512 static void unpack(float *restrict c, size_t ldc, const float *restrict T, int rows, int np, int accumulate)
{
    float s[16 * 16] __attribute__((aligned(64)));
    for (int r0 = 0; r0 < rows; r0 += 16)
        for (int p0 = 0; p0 < np; p0 += 16) {
            if (r0 + 16 > rows || p0 + 16 > np) {
                for (int r = r0; r < r0 + 16 && r < rows; r++)
                    for (int p = p0; p < p0 + 16 && p < np; p++)
                        c[(size_t)r * ldc + p] = (accumulate ? c[(size_t)r * ldc + p] : 0) + T[(size_t)p * ROWS + r];
                continue;
            }
            transpose16(s, 16, T + (size_t)p0 * ROWS + r0, ROWS);
            for (int r = 0; r < 16; r++) {
                float *cr = c + (size_t)(r0 + r) * ldc + p0;
                const __m512 v = _mm512_load_ps(s + 16 * r);
                _mm512_storeu_ps(cr, accumulate ? _mm512_add_ps(_mm512_loadu_ps(cr), v) : v);
            }
        }
}

typedef struct {
    cc_gemm_job g;
    int cols;  /* columns per chunk, a multiple of PR, at most NMAX */
} job;

/* C's rows m0..m1-1 and columns n0..n1-1: a panel of up to ROWS rows and a
 * chunk of up to cols columns at a time. */
AVX512 static void product(const job *j, int m0, int m1, int n0, int n1)
{
    float P[KC * ROWS] __attribute__((aligned(64)));
    float T[NMAX * ROWS] __attribute__((aligned(64)));
    for (int m = m0; m < m1; m += ROWS) {
        const int rows = m1 - m < ROWS ? m1 - m : ROWS;
        for (int n = n0; n < n1; n += j->cols) {
            const int np = n1 - n < j->cols ? n1 - n : j->cols;
            for (int k0 = 0; k0 < j->g.K; k0 += KC) {
                const int kc = j->g.K - k0 < KC ? j->g.K - k0 : KC;
                pack(P, j->g.A + (size_t)m * j->g.lda + k0, j->g.lda, rows, kc);
                const float *next = k0 + KC < j->g.K     ? j->g.A + (size_t)m * j->g.lda + k0 + KC  /* this panel */
                                    : n + np < n1      ? j->g.A + (size_t)m * j->g.lda            /* again, next chunk */
                                    : m + ROWS < m1    ? j->g.A + (size_t)(m + ROWS) * j->g.lda   /* the next panel */
                                                       : NULL;
                for (int p = 0; p < np; p += PR)
                    block_n(T + (size_t)p * ROWS, P, j->g.B + (size_t)k0 * j->g.ldb + n + p, j->g.ldb, kc, k0 == 0,
                            np - p < PR ? np - p : PR, (rows + 15) / 16, next, j->g.lda, p / PR * kc);
            }
            unpack(j->g.C + (size_t)m * j->g.ldc + n, j->g.ldc, T, rows, np, j->g.accumulate);
            for (int r = 0; j->g.ep && r < rows; r++)   /* this block, while it is in cache */
                cc_epilogue_apply(j->g.ep, j->g.C + (size_t)(m + r) * j->g.ldc + n, j->g.c0 + m + r, (size_t)np);
        }
    }
}

/* Vectors of 16 rows lo..hi-1, all columns. */
AVX512 static void rows_range(void *arg, size_t lo, size_t hi)
{
    const job *j = arg;
    product(j, (int)lo * 16, (int)hi * 16 < j->g.M ? (int)hi * 16 : j->g.M, 0, j->g.N);
}

/* Blocks of PR columns lo..hi-1, all rows. */
AVX512 static void cols_range(void *arg, size_t lo, size_t hi)
{
    const job *j = arg;
    product(j, 0, j->g.M, (int)lo * PR, (int)hi * PR < j->g.N ? (int)hi * PR : j->g.N);
}

/* The threads split the side with more units: vectors of 16 rows (two
 * threads get equal shares of 320 or 784 rows, where whole panels of 64
 * split 3:2), or blocks of PR columns (with 64 rows and 3136 columns, each
 * thread reading all of B cost more than packing A twice); but rows when
 * the columns are one chunk and there are four vectors to share (with 112
 * rows and 196 columns, each of the column ranges packed all of A again:
 * two threads were no faster than one). Columns past NMAX are taken in
 * equal chunks, each packing its panel again. */
void cc_gemm_avx512(const cc_gemm_job *g)
{
    const int vectors = (g->M + 15) / 16, blocks = (g->N + PR - 1) / PR;
    const int chunks = (blocks + NMAX / PR - 1) / (NMAX / PR);
    const job j = {.g = *g, .cols = (blocks + chunks - 1) / chunks * PR};
    if (vectors >= blocks || (chunks == 1 && vectors >= 4))
        cc_parallel((size_t)vectors, cc_grain((size_t)16 * g->N * g->K, 1 << 19), rows_range, (void *)&j);
    else
        cc_parallel((size_t)blocks, cc_grain((size_t)PR * g->M * g->K, 1 << 19), cols_range, (void *)&j);
}

/* ---- matrix-vector products ---------------------------------------------
 * y (+)= A x: four rows at a time, each a dot product in 16 lanes summed in
 * order of k within a lane, the lanes then added in a fixed order; rows are
 * split over the pool, so every entry is the same float at any thread count.
 * y (+)= A^T x: y's columns in vectors, x[m] A[m][...] added in order of m. */

typedef struct {
    int M, N, accumulate;
    const float *A, *x;
    float *y;
    size_t lda;
} gemv_job;

AVX512 static float dot(const float *a, const float *x, int n)
{
    __m512 s = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16)
        s = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(x + k), s);
    if (k < n) {
        const __mmask16 m = (__mmask16)((1u << (n - k)) - 1);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, x + k), s);
    }
    return _mm512_reduce_add_ps(s);
}

/* Rows lo..hi-1 of y = A x, four at a time: x is read once for the four,
 * and their four chains of multiply-adds run side by side. */
AVX512 static void gemv_rows(void *arg, size_t lo, size_t hi)
{
    const gemv_job *j = arg;
    const int n = j->N, tail = n % 16;
    const __mmask16 m = (__mmask16)((1u << tail) - 1);
    size_t r = lo;
    for (; r + 4 <= hi; r += 4) {
        const float *a = j->A + r * j->lda;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        int k = 0;
        for (; k + 16 <= n; k += 16) {
            const __m512 v = _mm512_loadu_ps(j->x + k);
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), v, s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j->lda + k), v, s1);
            s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + 2 * j->lda + k), v, s2);
            s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + 3 * j->lda + k), v, s3);
        }
        if (tail) {
            const __m512 v = _mm512_maskz_loadu_ps(m, j->x + k);
            s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), v, s0);
            s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + j->lda + k), v, s1);
            s2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + 2 * j->lda + k), v, s2);
            s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + 3 * j->lda + k), v, s3);
        }
        const float v[4] = {_mm512_reduce_add_ps(s0), _mm512_reduce_add_ps(s1), _mm512_reduce_add_ps(s2),
                            _mm512_reduce_add_ps(s3)};
        for (int i = 0; i < 4; i++)
            j->y[r + i] = j->accumulate ? j->y[r + i] + v[i] : v[i];
    }
    for (; r < hi; r++) {
        const float v = dot(j->A + r * j->lda, j->x, n);
        j->y[r] = j->accumulate ? j->y[r] + v : v;
    }
}

enum { GEMV_T_VECTORS = 8 };   /* 128 columns: 512 contiguous bytes of each row per pass */

/* Columns lo..hi-1 (in vectors of 16) of y = A^T x, A M x N: up to eight
 * vectors of y at a time, so that each row is read 512 bytes at once (one
 * 64-byte piece per row, 100 KB apart in a VGG classifier's transposed
 * product, missed the TLB on every row) and eight chains run side by side. */
AVX512 static void gemv_t_cols(void *arg, size_t lo, size_t hi)
{
    const gemv_job *j = arg;
    const size_t end = hi * 16 < (size_t)j->N ? hi * 16 : (size_t)j->N;
    for (size_t c0 = lo * 16; c0 < end; c0 += 16 * GEMV_T_VECTORS) {
        const int n = end - c0 < 16 * GEMV_T_VECTORS ? (int)(end - c0) : 16 * GEMV_T_VECTORS;
        const int nv = (n + 15) / 16;
        __mmask16 m[GEMV_T_VECTORS];
        __m512 s[GEMV_T_VECTORS];
        for (int v = 0; v < nv; v++) {
            const int w = n - 16 * v < 16 ? n - 16 * v : 16;
            m[v] = (__mmask16)((1u << w) - 1);
            s[v] = j->accumulate ? _mm512_maskz_loadu_ps(m[v], j->y + c0 + 16 * v) : _mm512_setzero_ps();
        }
        for (int r = 0; r < j->M; r++) {
            const float *a = j->A + (size_t)r * j->lda + c0;
            const __m512 xr = _mm512_set1_ps(j->x[r]);
            for (int v = 0; v < nv; v++)
                s[v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m[v], a + 16 * v), xr, s[v]);
        }
        for (int v = 0; v < nv; v++)
            _mm512_mask_storeu_ps(j->y + c0 + 16 * v, m[v], s[v]);
    }
}

void cc_gemv_avx512(int ta, int M, int N, const float *A, int lda, const float *x, int accumulate, float *y)
{
    const gemv_job j = {.M = M, .N = N, .accumulate = accumulate, .A = A, .x = x, .y = y, .lda = (size_t)lda};
    if (ta)
        cc_parallel((size_t)(N + 15) / 16, cc_grain((size_t)16 * M, 1 << 16), gemv_t_cols, (void *)&j);
    else
        cc_parallel((size_t)M, cc_grain((size_t)N, 1 << 16), gemv_rows, (void *)&j);
}

#else

int cc_gemm_avx512_applies(int M, int N, int K)
{
    (void)M, (void)N, (void)K;
    return 0;
}

#endif
