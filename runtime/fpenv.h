/* runtime/fpenv.h — the floating-point mode of a run: subnormals flushed to zero.
 *
 * An x86 multiply or add whose operand or result is subnormal (|x| below
 * FLT_MIN = 1.2e-38) is slow outside fused multiply-adds: a vector
 * mul + add chain on subnormals ran 2.6x slower than on normal floats on the
 * AVX-512 machine of bench/RESULTS.md. A run therefore computes with MXCSR's
 * FTZ (results below FLT_MIN become 0) and DAZ (subnormal inputs are read as
 * 0): cc_fpenv_enter sets both on the calling thread and returns its previous
 * MXCSR, cc_fpenv_leave puts that back. The pool's workers compute each job
 * in the mode of the thread that called cc_parallel (parallel.c copies it),
 * so every range of a product sees the same arithmetic whichever thread runs
 * it. Rounding mode and exception masks are left as the caller set them.
 * Elsewhere (not x86) the functions do nothing and subnormals are computed as
 * IEEE 754 says: those CPUs (ARMv8's NEON, for one) do not slow down on them. */
#ifndef CC_FPENV_H
#define CC_FPENV_H

#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE__))
#include <xmmintrin.h>
#define CC_FPENV_X86 1
enum { CC_MXCSR_DAZ = 0x0040, CC_MXCSR_FTZ = 0x8000 };
#endif

/* The calling thread's mode (MXCSR), and setting it: what the pool copies. */
static inline unsigned cc_fpenv_get(void)
{
#ifdef CC_FPENV_X86
    return _mm_getcsr();
#else
    return 0;
#endif
}

static inline void cc_fpenv_set(unsigned mode)
{
#ifdef CC_FPENV_X86
    _mm_setcsr(mode);
#else
    (void)mode;
#endif
}

/* FTZ + DAZ on for a run; returns the mode to restore. Status flags the run
 * raises (inexact, underflow) are cleared again by cc_fpenv_leave: a caller
 * that inspects them sees its own. */
unsigned cc_fpenv_enter(void);
void cc_fpenv_leave(unsigned saved);

#endif
