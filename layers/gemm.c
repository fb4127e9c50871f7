/* layers/gemm.c — C = alpha * op(A) * op(B) + beta * C (and the
 * matrix-vector case) in cc_real, through OpenBLAS: cblas_sgemm/sgemv when
 * cc_real is float, cblas_dgemm/dgemv in the double gradient-check build.
 * The only file that includes <cblas.h>. */
#include "kernels.h"

#include <cblas.h>

void cc_gemm(int ta, int tb, int M, int N, int K, cc_real alpha, const cc_real *A, int lda,
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

void cc_gemv(int ta, int M, int N, cc_real alpha, const cc_real *A, int lda, const cc_real *x,
             cc_real beta, cc_real *y)
{
    const enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans;
#ifdef CC_REAL_DOUBLE
    cblas_dgemv(CblasRowMajor, TA, M, N, alpha, A, lda, x, 1, beta, y, 1);
#else
    cblas_sgemv(CblasRowMajor, TA, M, N, alpha, A, lda, x, 1, beta, y, 1);
#endif
}

void cc_gemm_set_threads(int n)
{
    openblas_set_num_threads(n);
}
