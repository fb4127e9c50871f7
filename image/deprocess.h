/* image/deprocess.h — a guided-backpropagation gradient as a picture:
 * pytorch-grad-cam's deprocess_image (utils/image.py), as cam.py draws its
 * _gb and _cam_gb files, in the float32 arithmetic numpy 1.24 runs it:
 *   mean  = fl32(sum(x) / n)             np.mean: float32 sum, the division in double
 *   std   = sqrt(fl32(sum((x - m')^2) / n))  np.std (population), m' = fl32(sum(x) / fl32(n))
 *   d     = fl32(std + 1e-5)             np.float32 + a Python float is float64, then
 *                                        the array's division casts it to float32
 *   y     = ((x - mean) / d) * fl32(0.1) + 0.5, clipped to [0, 1]
 *   u8    = trunc(y * 255)
 * Every sum is numpy's reduction of a contiguous float32 array: pairwise
 * summation (8 accumulators, blocks of 128) within each 8192-element
 * buffer of the ufunc machinery, the buffers' sums added in order to 0.
 * With a mask, x is fl32(mask[pixel] * gb[pixel, c]): cam.py's
 * deprocess_image(cv2.merge([cam] * 3) * gb). */
#ifndef CC_DEPROCESS_H
#define CC_DEPROCESS_H

#include <stddef.h>

/* out and gb: pixels x channels, interleaved; mask: pixels values, or NULL. */
void cc_deprocess(unsigned char *out, const float *gb, const float *mask, size_t pixels, int channels);

#endif
