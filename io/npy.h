/* io/npy.h — float arrays as NumPy .npy files (numpy.lib.format, versions 1.0-3.0).
 *
 * A file is: "\x93NUMPY", major and minor version bytes, the header length
 * (u16 little-endian in 1.0, u32 in 2.0 and 3.0), the header — a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded
 * with spaces and a final '\n' so the data starts at a multiple of 64 — then
 * the elements in C (row-major) order.
 *
 * The writer produces exactly the bytes numpy.save(path, a) writes for a
 * C-contiguous float32 array a of that shape (tests/test_npy.c compares them
 * with numpy's own output), so np.load reads it back. */
#ifndef CC_NPY_H
#define CC_NPY_H

#include "core/base.h"

/* Writes data (shape[0] x ... x shape[rank-1] floats, row-major) as a '<f4'
 * version 1.0 file; rank is 1..CC_MAX_RANK, every dimension at least 1, at
 * most CC_MAX_NUMEL elements. Atomic like cc_image_write (io/atomic.h). */
cc_status cc_npy_write(const char *path, const float *data, const int *shape, int rank, cc_error *err);

/* Reads a file numpy wrote for a C-order float32 ('<f4') or float64 ('<f8',
 * rounded to float; a finite value beyond float's range is an error) array of
 * rank 1..CC_MAX_RANK with every dimension at least 1. Every field is
 * checked: the header must be exactly the dict numpy writes (any key order,
 * either quote, no other keys), at most 10000 bytes (numpy.load's own limit),
 * and the file exactly as long as the shape says. shape needs room for
 * CC_MAX_RANK ints; *data is malloc'ed, the caller frees it. On error *data is
 * NULL and *rank 0. */
cc_status cc_npy_read(const char *path, float **data, int *shape, int *rank, cc_error *err);

/* The same from size bytes in memory (cc_npy_read reads the file and calls
 * this); name only labels messages, NULL gives "array". */
cc_status cc_npy_decode(const void *data, size_t size, const char *name, float **data_out, int *shape, int *rank,
                        cc_error *err);

#endif
