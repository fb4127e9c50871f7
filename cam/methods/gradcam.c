/* cam/methods/gradcam.c — Grad-CAM (Selvaraju et al., arXiv:1610.02391;
 * pytorch-grad-cam grad_cam.py):
 *   w_k = mean over pixels of G_k,   cam = sum_k w_k A_k. */
#include "cam/channel_map.h"

cc_status cc_gradcam_layer_map(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    cc_cam_channel_mean(w, c->G, c->K, c->h * c->w);
    return cc_cam_weighted_map(c, w, cam, err);
}

const cc_cam_method cc_cam_gradcam = {
    .name = "gradcam",
    .summary = "channel weights = mean gradient over pixels; sum of weighted activations (the default)",
    .uses = CC_CAM_USES_GRADIENT,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN,
    .has_weights = 1,
    .layer_map = cc_gradcam_layer_map,
    .scratch_floats = cc_cam_scratch_weighted,
};
