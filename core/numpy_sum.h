/* core/numpy_sum.h — float32 sums as numpy 1.24 computes them, for code that
 * must reproduce a numpy reduction bit for bit (np.sum, np.mean of float32).
 *
 * numpy reduces a contiguous float32 run by pairwise summation
 * (numpy/core/src/umath/loops_utils.h.src, pairwise_sum): fewer than 8
 * values added in order; up to 128 in 8 interleaved accumulators combined as
 * ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the leftovers in order; longer
 * runs split at n/2 rounded down to a multiple of 8. The ufunc machinery
 * hands the loop at most 8192 values (its buffer) at a time and adds the
 * pieces' sums in order, starting from 0. Checked against numpy 1.24 on
 * runs up to 50176 values (tests/test_linalg.c replays numpy's channel means). */
#ifndef CC_NUMPY_SUM_H
#define CC_NUMPY_SUM_H

#include <stddef.h>

enum { CC_NUMPY_BUFFER = 8192 };

/* pairwise_sum of n floats (one buffer's worth or less, as numpy calls it). */
float cc_numpy_pairwise_sum(const float *a, size_t n);

/* np.add.reduce of n contiguous floats: pairwise within each 8192-value
 * piece, the pieces added in order to 0. */
float cc_numpy_sum(const float *a, size_t n);

#endif
