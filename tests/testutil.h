/* tests/testutil.h — what every test binary shares: a seeded generator,
 * comparisons that print what differed, and a pass/fail tally whose exit
 * code is non-zero on any failure. Built for cc_real = float and double. */
#ifndef CC_TESTUTIL_H
#define CC_TESTUTIL_H

#include "layers/op.h"

#include <stddef.h>
#include <stdint.h>

/* splitmix64: the same stream on every machine. */
typedef struct { uint64_t s; } tu_rng;
uint64_t tu_next(tu_rng *r);
double tu_uniform(tu_rng *r, double lo, double hi);

/* Shape from "2x3x5x7"; aborts the test on a malformed literal. */
cc_shape tu_shape(const char *s);

/* Attributes from "key=v[,v...] ..." in cc_attrs_set's names over PyTorch's
 * defaults; aborts the test on a malformed literal. */
cc_attrs tu_attrs(const char *text);

/* Compares n values; counts a check, prints up to 5 mismatches with index,
 * expected, got and the tolerance |got-want| <= atol + rtol*|want|. An
 * expected NaN matches only a NaN; an unexpected NaN never matches.
 * Returns the largest |got-want| so callers can report it. */
double tu_close(const char *what, const cc_real *got, const double *want, size_t n,
                double atol, double rtol);
/* One named boolean check. */
void tu_check(int ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Checks that a call failed with status want and that its message names every
 * one of the NULL-ended words that follow err. */
void tu_expect_error(const char *what, cc_status st, cc_status want, const cc_error *err, ...);
/* A check that cannot run here (no AVX-512, a refused setrlimit): counted and
 * printed with why, so a skip shows in the tally instead of passing silently. */
void tu_skip(const char *why);
/* Prints "<name>: N passed, N failed, N skipped" and returns the process exit
 * code: non-zero on any failure, and when no check passed at all (a test
 * that checked nothing proves nothing). */
int tu_finish(const char *name);

/* Tolerances of the finite-difference checks in this precision: PyTorch
 * gradcheck's eps 1e-6, atol 1e-5, rtol 1e-3 for double; for float a step of
 * 1e-2 and atol 1e-3, rtol 1e-2 (float rounding of a difference quotient). */
typedef struct { double eps, atol, rtol; } tu_tolerance;
tu_tolerance tu_gradcheck_tolerance(void);

void *tu_alloc(size_t bytes);  /* zeroed; aborts the test when out of memory */
cc_real *tu_random_reals(size_t n, tu_rng *rng);  /* n values uniform in [-1, 1) */
cc_real *tu_filled_reals(size_t n, double v);     /* n copies of v */

#endif
