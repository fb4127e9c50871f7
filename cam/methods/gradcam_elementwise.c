/* cam/methods/gradcam_elementwise.c — GradCAMElementWise (a
 * pytorch-grad-cam variant without a paper, grad_cam_elementwise.py):
 * cam = sum_k max(G_k * A_k, 0), the product rectified before the sum. */
#include "cam/channel_map.h"

static cc_status elementwise(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    (void)w;
    const size_t n = (size_t)c->K * c->h * c->w;
    float *E = c->scratch;
    for (size_t i = 0; i < n; i++) {
        const float e = c->G[i] * c->A[i];
        E[i] = e > 0 ? e : 0;
    }
    return cc_cam_elementwise_map(c, E, cam, err);
}

const cc_cam_method cc_cam_gradcam_elementwise = {
    .name = "gradcamelementwise",
    .summary = "rectified element-wise gradient x activation, summed over channels",
    .uses = CC_CAM_USES_GRADIENT,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN,
    .layer_map = elementwise,
    .scratch_floats = cc_cam_scratch_elementwise,
};
