/* cam/normalize.h — min-max scaling of a CAM (docs/NUMERICS.md step 3):
 *   cam = cam - min(cam);  cam = cam / (max(cam) + 1e-7)
 * exactly as the reference evaluates it with numpy 1.24 on a float32 map:
 *   - the subtraction is a float32 operation;
 *   - max(cam) is a float32 scalar; `1e-7 + max` promotes it to float64, so the
 *     divisor is fl32(double(max) + 1e-7): rounded to float32 once, because the
 *     float32-array / float64-scalar division runs the float32 loop (value-based
 *     casting) after casting the scalar to float32;
 *   - the division is a float32 division.
 * An all-zero (or constant) map stays all zero. A map whose maximum is about 1
 * comes out with a peak of 1 - 2^-23 (~1 - 1.2e-7), not 1: fl32(1 + 1e-7) is
 * 1 + 2^-23. A peak of 3 comes out exactly 1 (3 + 1e-7 rounds back to 3).
 *
 * Float32 by contract, not cc_real: these functions reproduce float32 reference
 * numerics bit for bit. */
#ifndef CC_NORMALIZE_H
#define CC_NORMALIZE_H

#include <stddef.h>

/* out[i] = (cam[i] - min) / fl32(max' + 1e-7), max' = max(cam - min).
 * n >= 1; out may equal cam (in place); NaN inputs are not supported. */
void cc_cam_normalize(float *out, const float *cam, size_t n);

#endif
