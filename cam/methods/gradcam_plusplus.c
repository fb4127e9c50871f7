/* cam/methods/gradcam_plusplus.c — Grad-CAM++ (Chattopadhyay et al.,
 * arXiv:1710.11063), the closed form of pytorch-grad-cam grad_cam_plusplus.py
 * (the paper's eq. 19 for an exponential output, first derivatives only):
 *   S_k = sum_ij A_kij,
 *   a_kij = G^2 / (2 G^2 + S_k G^3 + 1e-6), and 0 where G == 0,
 *   w_k = sum_ij max(G_kij, 0) a_kij,   cam = sum_k w_k A_k.
 * Like the reference, a denominator the sign of S_k G^3 drives to 0 or below
 * is not guarded. */
#include "cam/channel_map.h"

static cc_status gradcam_plusplus(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    const int hw = c->h * c->w;
    for (int k = 0; k < c->K; k++) {
        const float *A = c->A + (size_t)k * hw, *G = c->G + (size_t)k * hw;
        double S = 0, sum = 0;
        for (int i = 0; i < hw; i++)
            S += A[i];
        for (int i = 0; i < hw; i++) {
            if (G[i] <= 0)
                continue;  /* a_kij is 0 there, or multiplies max(G, 0) = 0 */
            const double g2 = (double)G[i] * G[i], g3 = g2 * G[i];
            sum += G[i] * (g2 / (2 * g2 + S * g3 + 1e-6));
        }
        w[k] = (float)sum;
    }
    return cc_cam_weighted_map(c, w, cam, err);
}

const cc_cam_method cc_cam_gradcam_plusplus = {
    .name = "gradcam++",
    .summary = "Grad-CAM++: positive gradients weighted by the closed-form alpha_kij",
    .uses = CC_CAM_USES_GRADIENT,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN,
    .has_weights = 1,
    .layer_map = gradcam_plusplus,
    .scratch_floats = cc_cam_scratch_weighted,
};
