/* cam/combine.h — from per-layer CAMs at feature resolution to the final
 * map at input resolution (docs/NUMERICS.md steps 3-4 and "Several layers"), float32 as the
 * reference computes it with numpy and OpenCV:
 *   per layer l:  m_l = resize(normalize(cam_l), H, W)        (steps 3-4)
 *   mean       =  fl32(sum_l max(m_l, 0)) / fl32(L)           (sum in layer order,
 *                                                              float32, as np.mean
 *                                                              over the layer axis)
 *   final      =  normalize(mean)                             (step 5)
 * The final normalisation runs with one layer too. It divides the peak p by
 * fl32(p + 1e-7), so the hottest pixel is 1 - ~1e-7/p, not 1: with one layer p
 * is close to 1 and the hottest pixel is 1 - 2^-23 (1 - ~1.2e-7). */
#ifndef CC_COMBINE_H
#define CC_COMBINE_H

#include <stddef.h>

/* Floats of scratch cc_cam_combine needs: the largest h*w of the layers plus
 * one H×W map. */
size_t cc_cam_combine_scratch_floats(const int *h, const int *w, int L, int H, int W);

/* out: H×W final map. cams[l]: layer l's rectified CAM, h[l]×w[l] (cam.h).
 * L >= 1. scratch: cc_cam_combine_scratch_floats(...) floats. */
void cc_cam_combine(float *out, const float *const *cams, const int *h, const int *w, int L,
                    int H, int W, float *scratch);

/* One layer, steps 3-4 only: out (H×W) = resize(normalize(cam)). scratch:
 * h*w floats. */
void cc_cam_layer_upsample(float *out, int H, int W, const float *cam, int h, int w,
                           float *scratch);

#endif
