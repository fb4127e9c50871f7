/* cam/methods/segeigencam.c — SegEigenCAM (Chung & Ying, Appl. Sci. 2025;
 * pytorch-grad-cam seg_eigen_cam.py): the first principal component of
 * |G| * A over the pixels, negated when its most negative value is larger in
 * magnitude than its most positive (strictly; a tie keeps LAPACK's sign),
 * as the reference's get_2d_projection_with_sign_correction. */
#include "cam/channel_map.h"

#include <math.h>

static cc_status segeigencam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    (void)w;
    const size_t n = (size_t)c->K * c->h * c->w;
    float *E = c->scratch;
    for (size_t i = 0; i < n; i++)
        E[i] = fabsf(c->G[i]) * c->A[i];
    return cc_cam_project(c, E, CC_PROJECTION_SIGN_SEG_EIGEN, cam, E + n, err);
}

static size_t scratch(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W)
{
    (void)p, (void)batch, (void)C, (void)H, (void)W;
    return (size_t)K * h * w + cc_cam_project_floats(K, h * w);
}

const cc_cam_method cc_cam_segeigencam = {
    .name = "segeigencam",
    .summary = "first principal component of |gradient| x activation, sign set by its larger extreme",
    .uses = CC_CAM_USES_GRADIENT,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH,
    .layer_map = segeigencam,
    .scratch_floats = scratch,
};
