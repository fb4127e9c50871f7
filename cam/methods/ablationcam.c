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
#include "cam/methods/ablation_channels.h"

#include <string.h>

static size_t scratch(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W)
{
    (void)C, (void)H, (void)W;
    /* the chunk's values; the ablated channels (2K at most), their scores and the channels' scores; then
     * the channel choice's or the map's scratch (used one after the other) */
    const size_t choice = p->ablation_ratio < 1 ? cc_ablation_channels_floats(K, h * w) : 0,
                 map = cc_cam_map_scratch(K, h, w, p);
    return (size_t)batch * K * h * w + 5 * (size_t)K + (choice > map ? choice : map);
}

static cc_status ablationcam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    const cc_cam_services *s = c->svc;
    const size_t khw = (size_t)c->K * c->h * c->w, hw = (size_t)c->h * c->w;
    float *acts = c->scratch, *ablated_score = acts + (size_t)s->batch * khw, *score = ablated_score + 2 * c->K;
    int *channel = (int *)(score + c->K);  /* 2K ints in the room of 2K floats */
    float *rest = (float *)(channel + 2 * c->K);
    int n = c->K;
    if (c->params->ablation_ratio < 1) {
        cc_status st = cc_ablation_channels(c, c->params->ablation_ratio, channel, &n, rest, err);
        if (st)
            return st;
    } else {
        for (int k = 0; k < c->K; k++)
            channel[k] = k;
    }
    float min = c->A[0];
    for (size_t i = 1; i < khw; i++)
        min = c->A[i] < min ? c->A[i] : min;
    for (int k0 = 0; k0 < n; k0 += s->batch) {
        const int m = n - k0 < s->batch ? n - k0 : s->batch;
        float v = min;
        for (int j = 0; j < m; j++) {
            float *a = acts + (size_t)j * khw;
            memcpy(a, c->A, khw * sizeof *a);
            if (min != 0)
                v = v - 1e7f;
            float *ch = a + (size_t)channel[k0 + j] * hw;
            for (size_t i = 0; i < hw; i++)
                ch[i] = min != 0 ? v : 0.0f;
        }
        cc_status st = s->score_activations(s->self, c->layer, acts, m, ablated_score + k0, err);
        if (st)
            return st;
    }
    const float orig = (float)s->score;
    cc_ablation_scores(channel, ablated_score, n, orig, c->K, score);
    for (int k = 0; k < c->K; k++)
        w[k] = (orig - score[k]) / orig;
    cc_cam_layer_call map = *c;
    map.scratch = rest;
    return cc_cam_weighted_map(&map, w, cam, err);
}

const cc_cam_method cc_cam_ablationcam = {
    .name = "ablationcam",
    .summary = "Ablation-CAM: the drop of the target when each channel is ablated, above the layer only",
    .uses = CC_CAM_USES_UPPER_BATCHES,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN |
             CC_CAM_TAKES_BATCH_SIZE | CC_CAM_TAKES_ABLATION_RATIO,
    .default_batch = 32,
    .has_weights = 1,
    .layer_map = ablationcam,
    .scratch_floats = scratch,
};
