/* cam/methods/ablationcam.c — Ablation-CAM as pytorch-grad-cam's
 * ablation_cam.py and ablation_layer.py compute it (Desai & Ramaswamy, WACV
 * 2020), but running only the network above the layer (svc->score_activations):
 * every other value equals the image's own, as in the reference's full
 * forward of the image repeated.
 *   For each ablated channel k, in chunks of batch_size: the layer's value
 *   with channel k replaced by the ablation value v, and its target s_k;
 *   w_k = (s - s_k) / s, s the image's own target (signed: a negative target
 *   flips every weight, as in the reference); cam = sum_k w_k A_k.
 * The ablation value follows AblationLayer's rule, torch.min of the whole
 * chunk taken again after each write: 0 when the image's smallest activation
 * is exactly 0 (a ReLU's output), else min - 1e7 for the chunk's first
 * channel, that minus 1e7 for the second, and so on, counted afresh in each
 * chunk — so it depends on the batch size, as in the reference.
 * ablation_ratio < 1 ablates the 2 floor(r K) channels the reference picks
 * (cam/methods/ablation_channels.c); the others keep weight 0. */
#include "cam/channel_map.h"

#include <string.h>

static size_t scratch(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W)
{
    (void)C, (void)H, (void)W;
    /* the chunk's values, the scores and ablated channel ids, then the map's */
    return (size_t)batch * K * h * w + 2 * (size_t)K + cc_cam_map_scratch(K, h, w, p);
}

static cc_status ablationcam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    const cc_cam_services *s = c->svc;
    const size_t khw = (size_t)c->K * c->h * c->w, hw = (size_t)c->h * c->w;
    float *acts = c->scratch, *score = acts + (size_t)s->batch * khw;
    float min = c->A[0];
    for (size_t i = 1; i < khw; i++)
        min = c->A[i] < min ? c->A[i] : min;
    const float orig = (float)s->score;
    for (int k = 0; k < c->K; k++)
        score[k] = orig;  /* a channel not ablated keeps weight 0 */
    for (int k0 = 0; k0 < c->K; k0 += s->batch) {
        const int n = c->K - k0 < s->batch ? c->K - k0 : s->batch;
        float v = min;
        for (int j = 0; j < n; j++) {
            float *a = acts + (size_t)j * khw;
            memcpy(a, c->A, khw * sizeof *a);
            if (min != 0)
                v = v - 1e7f;
            float *ch = a + (size_t)(k0 + j) * hw;
            for (size_t i = 0; i < hw; i++)
                ch[i] = min != 0 ? v : 0.0f;
        }
        cc_status st = s->score_activations(s->self, c->layer, acts, n, score + k0, err);
        if (st)
            return st;
    }
    for (int k = 0; k < c->K; k++)
        w[k] = (orig - score[k]) / orig;
    cc_cam_layer_call rest = *c;
    rest.scratch = score + 2 * (size_t)c->K;
    return cc_cam_weighted_map(&rest, w, cam, err);
}

const cc_cam_method cc_cam_ablationcam = {
    .name = "ablationcam",
    .summary = "Ablation-CAM: the drop of the target when each channel is ablated, above the layer only",
    .uses = CC_CAM_USES_UPPER_BATCHES,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN |
             CC_CAM_TAKES_BATCH_SIZE,
    .default_batch = 32,
    .has_weights = 1,
    .layer_map = ablationcam,
    .scratch_floats = scratch,
};
