/* cam/methods/kpcacam.c — KPCA-CAM (Karmani et al., arXiv:2410.00267;
 * pytorch-grad-cam kpca_cam.py): no gradients; the map is the first kernel
 * principal component of the pixels' centred channel vectors
 * (cam/kernel_pca.h: scikit-learn's KernelPCA, sigmoid kernel and gamma
 * 1 / K by default, its svd_flip sign). --kpca-kernel, --kpca-gamma. */
#include "cam/kernel_pca.h"

static cc_status kpcacam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    (void)w;
    cc_kpca_plan plan;
    cc_status st = cc_kpca_plan_init(&plan, c->K, c->h * c->w, err);
    if (st)
        return st;
    return cc_kpca_projection(&plan, c->A, c->params->kpca_kernel, c->params->kpca_gamma, cam, c->scratch, err);
}

static size_t scratch(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W)
{
    (void)p, (void)batch, (void)C, (void)H, (void)W;
    cc_kpca_plan plan;
    if (cc_kpca_plan_init(&plan, K, h * w, NULL))
        return 0;  /* refused: the call says why */
    return (plan.scratch_bytes + sizeof(float) - 1) / sizeof(float);
}

const cc_cam_method cc_cam_kpcacam = {
    .name = "kpcacam",
    .summary = "KPCA-CAM: first kernel principal component of the activations (no gradients, no target)",
    .uses = 0,
    .takes = CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_KPCA,
    .layer_map = kpcacam,
    .scratch_floats = scratch,
};
