/* layers/gemm.c — C = alpha * op(A) * op(B) + beta * C (and the
 * matrix-vector case) in cc_real, through OpenBLAS: cblas_sgemm/sgemv when
 * cc_real is float, cblas_dgemm/dgemv in the double gradient-check build.
 * The only file that includes <cblas.h>. Untransposed float products that
 * gemm_avx512.c was measured faster on (most conv products, on AVX-512 CPUs)
 * go there instead.
 *
 * A product is split along the longer side of its result into one range per
 * thread of the pool (parallel.h), each one single-threaded OpenBLAS call:
 * every entry is the same dot product whatever the thread count. */
#include "kernels.h"
#include "runtime/parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <strings.h>

/* Least multiply-adds per thread: below it, waking a worker costs more than
 * it saves. */
enum { MIN_MACS = 1 << 19 };

/* Rows or columns per range, in multiples of 16, for `per` multiply-adds each. */
static size_t grain(size_t per)
{
    return per >= MIN_MACS ? 16 : ((size_t)MIN_MACS / (per ? per : 1) + 15) / 16 * 16;
}

typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc, by_rows;
    cc_real alpha, beta;
    const cc_real *A, *B, *x;
    cc_real *C, *y;
} product;

static void blas_gemm(int ta, int tb, int M, int N, int K, cc_real alpha, const cc_real *A, int lda,
                      const cc_real *B, int ldb, cc_real beta, cc_real *C, int ldc)
{
    const enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans;
    const enum CBLAS_TRANSPOSE TB = tb ? CblasTrans : CblasNoTrans;
#ifdef CC_REAL_DOUBLE
    cblas_dgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

static void blas_gemv(int ta, int M, int N, cc_real alpha, const cc_real *A, int lda, const cc_real *x,
                      cc_real beta, cc_real *y)
{
    const enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans;
#ifdef CC_REAL_DOUBLE
    cblas_dgemv(CblasRowMajor, TA, M, N, alpha, A, lda, x, 1, beta, y, 1);
#else
    cblas_sgemv(CblasRowMajor, TA, M, N, alpha, A, lda, x, 1, beta, y, 1);
#endif
}

/* Rows lo..hi-1 of op(A) and C, or columns lo..hi-1 of op(B) and C. */
static void gemm_range(void *arg, size_t lo, size_t hi)
{
    const product *p = arg;
    const int n = (int)(hi - lo), o = (int)lo;
    if (p->by_rows)
        blas_gemm(p->ta, p->tb, n, p->N, p->K, p->alpha,
                  p->ta ? p->A + o : p->A + (size_t)o * p->lda, p->lda, p->B, p->ldb, p->beta,
                  p->C + (size_t)o * p->ldc, p->ldc);
    else
        blas_gemm(p->ta, p->tb, p->M, n, p->K, p->alpha, p->A, p->lda,
                  p->tb ? p->B + (size_t)o * p->ldb : p->B + o, p->ldb, p->beta, p->C + o, p->ldc);
}

/* Whether gemm_avx512.c takes this product (never in the double build). */
static int avx512_takes(int ta, int tb, int M, int N, int K, cc_real alpha, cc_real beta)
{
#ifndef CC_REAL_DOUBLE
    return !ta && !tb && alpha == 1 && (beta == 0 || beta == 1) && cc_gemm_avx512_applies(M, N, K);
#else
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)beta;
    return 0;
#endif
}

static void avx512_gemm(int M, int N, int K, const cc_real *A, int lda, const cc_real *B, int ldb,
                        cc_real beta, cc_real *C, int ldc, const cc_epilogue *ep, int c0)
{
#ifndef CC_REAL_DOUBLE
    const cc_gemm_job g = {.M = M, .N = N, .K = K, .accumulate = beta == 1, .A = A, .B = B, .C = C,
                           .lda = (size_t)lda, .ldb = (size_t)ldb, .ldc = (size_t)ldc, .ep = ep, .c0 = c0};
    (cc_gemm_avx512_n_applies(M, N, K) ? cc_gemm_avx512_n : cc_gemm_avx512)(&g);
#else
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)beta, (void)C, (void)ldc, (void)ep,
        (void)c0;
#endif
}

/* One product without cc_gemm's split into ranges, for callers that split a
 * batch of small products over the pool themselves (matmul.c): inside a range
 * of cc_parallel it runs on that range's thread (a nested cc_parallel runs
 * its chunks on the caller). */
void cc_gemm_serial(int ta, int tb, int M, int N, int K, cc_real alpha, const cc_real *A, int lda,
                    const cc_real *B, int ldb, cc_real beta, cc_real *C, int ldc)
{
    if (avx512_takes(ta, tb, M, N, K, alpha, beta))
        avx512_gemm(M, N, K, A, lda, B, ldb, beta, C, ldc, NULL, 0);
    else
        blas_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Split along the longer side of C. A one-column product (a 1x1 conv on a
 * 1x1 map: squeeze-excitation) is a matrix-vector product. */
void cc_gemm(int ta, int tb, int M, int N, int K, cc_real alpha, const cc_real *A, int lda,
             const cc_real *B, int ldb, cc_real beta, cc_real *C, int ldc)
{
    if (N == 1 && (tb || ldb == 1) && ldc == 1) {  /* B's column and C contiguous */
        cc_gemv(ta, ta ? K : M, ta ? M : K, alpha, A, lda, B, beta, C);
        return;
    }
    if (avx512_takes(ta, tb, M, N, K, alpha, beta)) {
        avx512_gemm(M, N, K, A, lda, B, ldb, beta, C, ldc, NULL, 0);
        return;
    }
    const product p = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .lda = lda, .ldb = ldb, .ldc = ldc,
                       .by_rows = M > N, .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C};
    const size_t side = p.by_rows ? (size_t)M : (size_t)N;
    const size_t per = (size_t)(p.by_rows ? N : M) * (size_t)K;  /* multiply-adds per row/column */
    cc_parallel(side, grain(per), gemm_range, (void *)&p);
}

typedef struct {
    const cc_epilogue *ep;
    cc_real *C;
    int N, ldc, c0;
} rows_job;

static void epilogue_rows(void *arg, size_t lo, size_t hi)
{
    const rows_job *j = arg;
    for (size_t r = lo; r < hi; r++)
        cc_epilogue_apply(j->ep, j->C + r * (size_t)j->ldc, j->c0 + (int)r, (size_t)j->N);
}

void cc_gemm_ep(int ta, int tb, int M, int N, int K, cc_real alpha, const cc_real *A, int lda,
                const cc_real *B, int ldb, cc_real beta, cc_real *C, int ldc, const cc_epilogue *ep, int c0)
{
    if (ep && N > 1 && avx512_takes(ta, tb, M, N, K, alpha, beta)) {
        avx512_gemm(M, N, K, A, lda, B, ldb, beta, C, ldc, ep, c0);
        return;
    }
    cc_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (ep) {
        const rows_job j = {ep, C, N, ldc, c0};
        cc_parallel((size_t)M, cc_grain((size_t)N, CC_MAP_GRAIN), epilogue_rows, (void *)&j);
    }
}

/* Entries lo..hi-1 of y: rows of A, or columns when transposed. */
static void gemv_range(void *arg, size_t lo, size_t hi)
{
    const product *p = arg;
    const int n = (int)(hi - lo), o = (int)lo;
    if (p->ta)
        blas_gemv(1, p->M, n, p->alpha, p->A + o, p->lda, p->x, p->beta, p->y + o);
    else
        blas_gemv(0, n, p->N, p->alpha, p->A + (size_t)o * p->lda, p->lda, p->x, p->beta, p->y + o);
}

void cc_gemv(int ta, int M, int N, cc_real alpha, const cc_real *A, int lda, const cc_real *x,
             cc_real beta, cc_real *y)
{
#ifndef CC_REAL_DOUBLE
    if (cc_cpu_avx512() && alpha == 1 && (beta == 0 || beta == 1)) {
        cc_gemv_avx512(ta, M, N, A, lda, x, beta == 1, y);
        return;
    }
#endif
    const product p = {.ta = ta, .M = M, .N = N, .lda = lda, .alpha = alpha, .beta = beta, .A = A, .x = x,
                       .y = y};
    const size_t out = (size_t)(ta ? N : M), per = (size_t)(ta ? M : N);
    cc_parallel(out, grain(per), gemv_range, (void *)&p);
}

/* OpenBLAS's core names with AVX2 or AVX-512 kernels (openblas_get_corename,
 * lower case in 0.3.21); any other on an x86 CPU with AVX-512 means it did not
 * recognise the CPU (this Xeon: "prescott", SSE3, 25-32 GFLOP/s a core). */
static int blas_slow;

static void read_corename(void)
{
    static const char *const fast[] = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"};
    const char *name = openblas_get_corename();
    blas_slow = 1;
    for (size_t i = 0; name && i < sizeof fast / sizeof fast[0]; i++)
        if (!strcasecmp(name, fast[i]))
            blas_slow = 0;
}

int cc_blas_is_slow(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_corename);
    return blas_slow;
}

/* OpenBLAS's pthread build starts a worker per core when it loads, and an
 * idle worker spins (sched_yield) for ~0.1 s after the process starts or
 * after any threaded call: on two cores it takes half of a core from this
 * pool's worker (an EfficientNet `cnncam cam` with 2 threads ran 140 ms
 * instead of 62). One thread is not enough to stop that, so its workers are
 * also shut down, through blas_thread_shutdown_ (OpenBLAS's own fork handler,
 * exported by its pthread build; weak, so another BLAS simply lacks it). Done
 * once, and again whenever something else in the process raised OpenBLAS's
 * thread count (the next threaded call restarts its workers). */
extern int blas_thread_shutdown_(void) __attribute__((weak));

static void openblas_single(void)
{
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_)
        blas_thread_shutdown_();
}

static pthread_once_t single_once = PTHREAD_ONCE_INIT;

int cc_set_threads(int n)
{
    pthread_once(&single_once, openblas_single);
    if (openblas_get_num_threads() != 1)
        openblas_single();
    return cc_parallel_set_threads(n);
}
