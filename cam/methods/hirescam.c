/* cam/methods/hirescam.c — HiResCAM (Draelos & Carin, arXiv:2011.08891;
 * pytorch-grad-cam hirescam.py): cam = sum_k G_k * A_k, element by element,
 * with no averaging of the gradient (the ReLU comes after, as for all). */
#include "cam/channel_map.h"

static cc_status hirescam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    (void)w;
    const size_t n = (size_t)c->K * c->h * c->w;
    float *E = c->scratch;
    for (size_t i = 0; i < n; i++)
        E[i] = c->G[i] * c->A[i];
    return cc_cam_elementwise_map(c, E, cam, err);
}

const cc_cam_method cc_cam_hirescam = {
    .name = "hirescam",
    .summary = "element-wise gradient x activation, summed over channels (no gradient averaging)",
    .uses = CC_CAM_USES_GRADIENT,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN,
    .layer_map = hirescam,
    .scratch_floats = cc_cam_scratch_elementwise,
};
