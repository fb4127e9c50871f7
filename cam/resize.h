/* cam/resize.h — bilinear resize of a float32 map, h×w -> H×W, identical
 * to OpenCV's cv2.resize(src, (W, H)) with the default INTER_LINEAR on a
 * single-channel float32 image (docs/NUMERICS.md step 4; verified bit for bit
 * against OpenCV 4.6 on Debian, tests/test_postprocess.c).
 *
 * Half-pixel centres, per axis (x shown; y is the same with h, H):
 *   scale = 1 / ((double)W / w)                         (double)
 *   f     = (float)((dx + 0.5) * scale - 0.5)           (double, rounded to float)
 *   sx    = floor(f);  f = f - sx                       (float)
 *   a0    = 1 - f;  a1 = f                              (float)
 * Columns: sx < 0 -> sx = 0, f = 0; sx >= w-1 -> the output is src[w-1] itself.
 * Rows: the two source rows sy, sy+1 are each clamped into [0, h-1] and the
 * weights (1 - f, f) are kept, so a border row is b0*r + b1*r in float.
 *   row(y)  = a0*src[y][sx] + a1*src[y][sx+1]           (float)
 *   out     = b0*row(sy) + b1*row(sy+1)                 (float, no FMA)
 * No antialiasing when shrinking (OpenCV's INTER_LINEAR has none).
 * Equal sizes copy. An exact 2× shrink in both axes is, inside OpenCV, its
 * INTER_AREA fast path: the first 4*floor(W/4) columns of each row (its SSE
 * loop) are ((a+b)+(c+d))*0.25, which is what the bilinear formula gives at
 * f = 0.5, the rest (its scalar tail) (((a+b)+c)+d)*0.25; reproduced here.
 * (A build whose SIMD width is 8 floats would split at 8: at most 1 ulp.) */
#ifndef CC_RESIZE_H
#define CC_RESIZE_H

/* out: H×W, src: h×w, row-major; all sizes >= 1; out must not alias src. */
void cc_cam_resize(float *out, int H, int W, const float *src, int h, int w);

#endif
