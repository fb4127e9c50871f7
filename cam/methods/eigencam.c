/* cam/methods/eigencam.c — Eigen-CAM (Muhammad & Yeasin, arXiv:2008.00299;
 * pytorch-grad-cam eigen_cam.py): no gradients, no target; the map is the
 * first principal component of the activations over the pixels,
 *   cam = M v,  M = the (hw x K) channels centred over the pixels, v the
 *   first right singular vector of M (cam/projection.h).
 * A principal component has no sign of its own, and the ReLU that follows
 * keeps the half it makes positive: the reference keeps whatever LAPACK
 * returns (--eigen-sign lapack); cnncam's default is a rule of the map
 * itself (docs/METHODS.md). */
#include "cam/channel_map.h"

static cc_status eigencam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    (void)w;
    return cc_cam_project(c, c->A, cc_cam_projection_sign(c->params), cam, c->scratch, err);
}

static size_t scratch(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W)
{
    (void)p, (void)batch, (void)C, (void)H, (void)W;
    return cc_cam_project_floats(K, h * w);
}

const cc_cam_method cc_cam_eigencam = {
    .name = "eigencam",
    .summary = "Eigen-CAM: first principal component of the activations (no gradients, no target)",
    .uses = 0,
    .takes = CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN,
    .layer_map = eigencam,
    .scratch_floats = scratch,
};
