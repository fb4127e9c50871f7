/* cam/lapack.h — the LAPACK routines cam/ calls, declared as the Fortran
 * symbols OpenBLAS exports. Debian's libopenblas0-pthread builds the reference
 * LAPACK that OpenBLAS bundles into libopenblas.so itself (dgesdd_ and
 * dsyevr_ are defined there), so the Makefile's BLAS_LIBS (-lopenblas) links
 * them: no -llapack. numpy reaches the same code through liblapack.so.3,
 * which on Debian is OpenBLAS's build of it too (openblas-pthread/).
 *
 * gfortran's calling convention: every argument by address, INTEGER as a
 * 32-bit int (the LP64 OpenBLAS; libopenblas64 would differ), and one hidden
 * length (size_t) per CHARACTER argument, after the others. */
#ifndef CC_LAPACK_H
#define CC_LAPACK_H

#include <stddef.h>

/* SVD of the m x n column-major a by divide and conquer. */
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s, double *u,
             const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *iwork, int *info,
             size_t jobz_len);

/* Selected eigenpairs of the symmetric n x n a (its uplo triangle, destroyed). */
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
             const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
             double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
             const int *liwork, int *info, size_t jobz_len, size_t range_len, size_t uplo_len);

#endif
