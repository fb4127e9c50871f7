/* cam/methods/fem.c — FEM as pytorch-grad-cam's fem.py computes it (no
 * gradients; k = 2):
 *   mu_k, sd_k = mean and population std of A_k over pixels,
 *   w_k = the fraction of pixels where A_k > mu_k + 2 sd_k (strict),
 *   cam = sum_k w_k A_k.
 * The published FEM (Fuad et al., IPTA 2020) swaps the roles — weight mu_k,
 * summing the binary masks; the reference's reading is the default here, as
 * docs/METHODS.md says. */
#include "cam/channel_map.h"

#include <math.h>

static cc_status fem(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    (void)err;
    const int hw = c->h * c->w;
    for (int k = 0; k < c->K; k++) {
        const float *A = c->A + (size_t)k * hw;
        double sum = 0, dev = 0;
        for (int i = 0; i < hw; i++)
            sum += A[i];
        const float mu = (float)(sum / hw);
        for (int i = 0; i < hw; i++)
            dev += ((double)A[i] - mu) * ((double)A[i] - mu);
        /* the threshold in float32, as numpy forms it from float32 mean and std */
        const float th = mu + 2.0f * (float)sqrt(dev / hw);
        int above = 0;
        for (int i = 0; i < hw; i++)
            above += A[i] > th;
        w[k] = (float)((double)above / hw);
    }
    cc_cam_channel_sum(cam, w, c->A, c->K, hw);
    return CC_OK;
}

const cc_cam_method cc_cam_fem = {
    .name = "fem",
    .summary = "feature explanation: weight = fraction of a channel's pixels above mean + 2 std (no gradients)",
    .uses = 0,
    .takes = CC_CAM_TAKES_AUG_SMOOTH,
    .has_weights = 1,
    .layer_map = fem,
};
