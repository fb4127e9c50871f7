/* cam/methods/layercam.c — LayerCAM (Jiang et al., IEEE TIP 2021;
 * pytorch-grad-cam layer_cam.py): cam = sum_k max(G_k, 0) * A_k. The paper's
 * tanh rescaling for shallow layers is not part of the reference, nor here. */
#include "cam/channel_map.h"

static cc_status layercam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    (void)w;
    const size_t n = (size_t)c->K * c->h * c->w;
    float *E = c->scratch;
    for (size_t i = 0; i < n; i++)
        E[i] = (c->G[i] > 0 ? c->G[i] : 0) * c->A[i];
    return cc_cam_elementwise_map(c, E, cam, err);
}

const cc_cam_method cc_cam_layercam = {
    .name = "layercam",
    .summary = "positive gradients x activations, element-wise, summed over channels",
    .uses = CC_CAM_USES_GRADIENT,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN,
    .layer_map = layercam,
    .scratch_floats = cc_cam_scratch_elementwise,
};
