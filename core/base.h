/* core/base.h — the types every folder shares: the real type, statuses,
 * error messages and tensor shapes. Nothing here knows about ops, graphs or
 * images.
 *
 * cc_real is float in the library and double in the gradient-check build
 * (-DCC_REAL_DOUBLE): the same source is compiled twice, so the double-precision
 * checks exercise exactly the kernels the library ships. */
#ifndef CC_BASE_H
#define CC_BASE_H

#include <stddef.h>

#ifdef CC_REAL_DOUBLE
typedef double cc_real;
#else
typedef float cc_real;
#endif

enum { CC_MAX_RANK = 6, CC_ERROR_LEN = 512 };

/* Status codes returned by every fallible internal function. */
typedef enum {
    CC_OK = 0,
    CC_EINVAL = 1,   /* bad argument or shape: the caller's mistake */
    CC_EFORMAT = 2,  /* malformed file or data */
    CC_ENOMEM = 3,   /* allocation failed */
    CC_EIO = 4       /* the operating system refused */
} cc_status;

/* A message that names the value, the limit and the fix. */
typedef struct { char msg[CC_ERROR_LEN]; } cc_error;

/* Formats into err (may be NULL) and returns status, so callers write
 * `return cc_fail(err, CC_EINVAL, "...", ...)`. */
cc_status cc_fail(cc_error *err, cc_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Returns the status of x when it is a failure. */
#define CC_TRY(x) do { cc_status st_ = (x); if (st_) return st_; } while (0)

/* Row-major sizes, outermost first: NCHW for images, N×F after flatten. */
typedef struct { int rank; int d[CC_MAX_RANK]; } cc_shape;

cc_shape cc_shape4(int n, int c, int h, int w);
cc_shape cc_shape2(int n, int f);
size_t cc_shape_numel(const cc_shape *s);
int cc_shape_equal(const cc_shape *a, const cc_shape *b);
/* "2x3x5x7" into buf; returns buf. */
const char *cc_shape_str(const cc_shape *s, char *buf, size_t len);

/* Largest element count of one tensor; keeps every index inside int range
 * arithmetic and size_t byte counts far from overflow. */
#define CC_MAX_NUMEL ((size_t)1 << 30)

#endif
