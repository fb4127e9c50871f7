/* image/resample.h — antialiased resampling of 8-bit RGB images, identical
 * to Pillow's Image.resize(size, BILINEAR or BICUBIC) on an "RGB" image
 * (Pillow 9.4, libImaging/Resample.c), which is what torchvision's Resize does
 * to a PIL image.
 *
 * Per axis (source n samples -> m):  scale = n / m,  fs = max(scale, 1),
 * support = s * fs (s = 1 bilinear, 2 bicubic),  ksize = 2*ceil(support) + 1.
 * Output i has centre c = (i + 0.5) * scale and taps j in
 *   [max(0, (int)(c - support + 0.5)), min(n, (int)(c + support + 0.5))),
 * weight k_j = f((j - c + 0.5) / fs) / sum_j f(...)        (double), with
 *   bilinear f(x) = max(0, 1 - |x|),
 *   bicubic  f(x) = Keys a = -0.5: ((a+2)|x| - (a+3))x² + 1 below 1,
 *                   (((|x| - 5)|x| + 8)|x| - 4)a below 2, else 0;
 * so shrinking widens the filter by the scale (antialiasing), enlarging does not.
 * Weights become fixed point, K_j = (int)(k_j * 2^22 ± 0.5) (away from zero),
 * and each pass computes, per channel, v = 2^21 + sum_j p_j K_j (int32), then
 * clamps v >> 22 to [0, 255]. The horizontal pass runs first, over the source
 * rows the vertical pass will read, into an 8-bit temporary; then the
 * vertical pass. A pass whose size does not change is skipped (identity). */
#ifndef CC_RESAMPLE_H
#define CC_RESAMPLE_H

#include <stddef.h>

/* The numbers are Pillow's Image.Resampling values. */
typedef enum { CC_RESAMPLE_BILINEAR = 2, CC_RESAMPLE_BICUBIC = 3 } cc_resample_filter;

/* Bytes of scratch cc_resample_rgb needs (coefficients and the
 * intermediate image); 0 when the sizes are equal. */
size_t cc_resample_scratch_bytes(int h, int w, int H, int W, cc_resample_filter filter);

/* out: H×W×3, rgb: h×w×3, row-major RGB; sizes >= 1; out must not alias rgb.
 * scratch: cc_resample_scratch_bytes(...) bytes, 8-byte aligned. */
void cc_resample_rgb(unsigned char *out, int H, int W, const unsigned char *rgb, int h, int w,
                     cc_resample_filter filter, void *scratch);

#endif
