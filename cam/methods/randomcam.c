/* cam/methods/randomcam.c — RandomCAM (pytorch-grad-cam random_cam.py), the
 * baseline: w_k uniform in [-1, 1) from numpy's legacy generator
 * (cam/numpy_random.h) seeded with --seed, drawn K per image per layer in
 * the reference's order; cam = sum_k w_k A_k. The reference draws from
 * numpy's global generator, so np.random.seed(s) before its call gives the
 * same weights as --seed s here. */
#include "cam/channel_map.h"
#include "cam/numpy_random.h"

static cc_status randomcam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    for (int k = 0; k < c->K; k++) {
        double u;
        cc_numpy_random_uniform(c->svc->rng, -1.0, 1.0, &u, 1);
        w[k] = (float)u;
    }
    return cc_cam_weighted_map(c, w, cam, err);
}

const cc_cam_method cc_cam_randomcam = {
    .name = "randomcam",
    .summary = "random channel weights in [-1, 1) (numpy's generator, --seed): a baseline",
    .uses = 0,
    .takes = CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN | CC_CAM_TAKES_SEED,
    .has_weights = 1,
    .layer_map = randomcam,
    .scratch_floats = cc_cam_scratch_weighted,
};
