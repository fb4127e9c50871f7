/* cam/channel_map.h — the step every layer method ends with: from channel
 * weights or an element-wise product to one map at feature resolution, as
 * the reference's get_cam_image does it:
 *   weights w:        cam = sum_k w_k A_k
 *   element-wise E:   cam = sum_k E_k
 * or, with eigen_smooth, the first principal component of w_k A_k (or of E)
 * over pixels (cam/projection.h) instead of the sum. Sums run in double:
 * K terms of mixed sign per pixel would otherwise lose digits. */
#ifndef CC_CAM_CHANNEL_MAP_H
#define CC_CAM_CHANNEL_MAP_H

#include "cam/method.h"
#include "cam/projection.h"

/* The sign rule of cnncam's principal components when the caller does not
 * ask for LAPACK's (docs/METHODS.md, "The sign of a principal component",
 * gives the measurements behind the choice). */
#define CC_CAM_DEFAULT_SIGN CC_PROJECTION_SIGN_MAX_ABS

/* mean[k] = (1 / hw) sum_i X[k, i]   (X: K x hw) */
void cc_cam_channel_mean(float *mean, const float *X, int K, int hw);
/* cam[i] = sum_k w_k X[k, i]; w NULL: all ones. No ReLU. */
void cc_cam_channel_sum(float *cam, const float *w, const float *X, int K, int hw);

/* Grad-CAM's layer map (cam/methods/gradcam.c), which FinerCAM reuses with
 * its own target. */
cc_status cc_gradcam_layer_map(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err);

/* The reference's default get_cam_image for weights w (K) of c->A. With
 * eigen_smooth it needs cc_cam_map_scratch floats of c->scratch. */
cc_status cc_cam_weighted_map(const cc_cam_layer_call *c, const float *w, float *cam, cc_error *err);
/* The same for an element-wise product E (K x h x w, which it may overwrite). */
cc_status cc_cam_elementwise_map(const cc_cam_layer_call *c, float *E, float *cam, cc_error *err);
/* The projection of E (K x h x w of c's shape) into cam (h x w), with
 * cc_cam_project_floats of scratch. */
cc_status cc_cam_project(const cc_cam_layer_call *c, const float *E, cc_projection_sign sign, float *cam,
                         float *scratch, cc_error *err);
size_t cc_cam_project_floats(int K, int hw);
cc_projection_sign cc_cam_projection_sign(const cc_cam_params *p);
/* Scratch floats the two above need besides an element-wise E: nothing
 * without eigen_smooth; with it, a product E and the projection's. */
size_t cc_cam_map_scratch(int K, int h, int w, const cc_cam_params *p);
/* A method's scratch_floats: for weights (cc_cam_weighted_map alone), and
 * for an element-wise product E kept at the start of the scratch. */
size_t cc_cam_scratch_weighted(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W);
size_t cc_cam_scratch_elementwise(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W);

#endif
