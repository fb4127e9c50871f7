/* cam/methods/xgradcam.c — XGrad-CAM (Fu et al., arXiv:2008.02312;
 * pytorch-grad-cam xgrad_cam.py):
 *   w_k = sum_ij G_kij A_kij / (sum_ij A_kij + 1e-7),   cam = sum_k w_k A_k.
 * The 1e-7 is added to the signed sum, as in the reference: a channel whose
 * activations sum to about -1e-7 blows up there too. */
#include "cam/channel_map.h"

static cc_status xgradcam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    const int hw = c->h * c->w;
    for (int k = 0; k < c->K; k++) {
        const float *A = c->A + (size_t)k * hw, *G = c->G + (size_t)k * hw;
        double S = 0, GA = 0;
        for (int i = 0; i < hw; i++)
            S += A[i], GA += (double)G[i] * A[i];
        w[k] = (float)(GA / (S + 1e-7));
    }
    return cc_cam_weighted_map(c, w, cam, err);
}

const cc_cam_method cc_cam_xgradcam = {
    .name = "xgradcam",
    .summary = "XGrad-CAM: gradient x activation summed per channel, over the channel's activation sum",
    .uses = CC_CAM_USES_GRADIENT,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN,
    .has_weights = 1,
    .layer_map = xgradcam,
    .scratch_floats = cc_cam_scratch_weighted,
};
