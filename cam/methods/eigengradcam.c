/* cam/methods/eigengradcam.c — EigenGradCAM (a pytorch-grad-cam variant of
 * Eigen-CAM, eigen_grad_cam.py): the first principal component of the
 * element-wise product G * A over the pixels, with Eigen-CAM's sign rule
 * (cam/methods/eigencam.c). */
#include "cam/channel_map.h"

static cc_status eigengradcam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    (void)w;
    const size_t n = (size_t)c->K * c->h * c->w;
    float *E = c->scratch;
    for (size_t i = 0; i < n; i++)
        E[i] = c->G[i] * c->A[i];
    return cc_cam_project(c, E, cc_cam_projection_sign(c->params), cam, E + n, err);
}

static size_t scratch(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W)
{
    (void)p, (void)batch, (void)C, (void)H, (void)W;
    return (size_t)K * h * w + cc_cam_project_floats(K, h * w);
}

const cc_cam_method cc_cam_eigengradcam = {
    .name = "eigengradcam",
    .summary = "first principal component of gradient x activation",
    .uses = CC_CAM_USES_GRADIENT,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN,
    .layer_map = eigengradcam,
    .scratch_floats = scratch,
};
