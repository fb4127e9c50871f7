/* cam/methods/scorecam.c — Score-CAM as pytorch-grad-cam's score_cam.py
 * computes it (Wang et al., arXiv:1910.01279, without the paper's baseline):
 *   U_k = A_k upsampled to H x W, bilinear with align_corners=True
 *         (torch's UpsamplingBilinear2d), then (U_k - min) / (max - min + 1e-8);
 *   s_k = target(model(x * U_k)), the normalised input masked by U_k,
 *         batch_size masked images per forward through the whole network;
 *   w = softmax(s) over the K channels,   cam = sum_k w_k A_k.
 * The score is the raw target (a logit by default) and the softmax runs over
 * channels, both as the reference: the official Score-CAM code instead
 * weights by the class probability. Masks multiply the normalised input, so
 * a masked-out pixel becomes the dataset's mean colour (0). */
#include "cam/channel_map.h"
#include "layers/kernels.h"

#include <math.h>

static size_t scratch(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W)
{
    /* the masked batch, one upsampled mask, the K scores, then the map's */
    return (size_t)batch * C * H * W + (size_t)H * W + (size_t)K + cc_cam_map_scratch(K, h, w, p);
}

static cc_status scorecam(const cc_cam_layer_call *c, float *w, float *cam, cc_error *err)
{
    const cc_cam_services *s = c->svc;
    const size_t HW = (size_t)s->H * s->W, CHW = (size_t)s->C * HW, hw = (size_t)c->h * c->w;
    float *masked = c->scratch, *U = masked + (size_t)s->batch * CHW, *score = U + HW;
    const float sh = s->H > 1 ? (float)(c->h - 1) / (float)(s->H - 1) : 0;
    const float sw = s->W > 1 ? (float)(c->w - 1) / (float)(s->W - 1) : 0;
    for (int k0 = 0; k0 < c->K; k0 += s->batch) {
        const int n = c->K - k0 < s->batch ? c->K - k0 : s->batch;
        for (int j = 0; j < n; j++) {
            cc_upsample_bilinear_forward(U, c->A + (size_t)(k0 + j) * hw, 1, c->h, c->w, s->H, s->W, sh, sw, 1);
            float lo = U[0], hi = U[0];
            for (size_t i = 1; i < HW; i++)
                lo = U[i] < lo ? U[i] : lo, hi = U[i] > hi ? U[i] : hi;
            const float range = hi - lo + 1e-8f;
            for (size_t i = 0; i < HW; i++)
                U[i] = (U[i] - lo) / range;
            float *x = masked + (size_t)j * CHW;
            for (int ch = 0; ch < s->C; ch++)
                for (size_t i = 0; i < HW; i++)
                    x[(size_t)ch * HW + i] = s->input[(size_t)ch * HW + i] * U[i];
        }
        cc_status st = s->score_inputs(s->self, masked, n, score + k0, err);
        if (st)
            return st;
    }
    double top = score[0], sum = 0;
    for (int k = 1; k < c->K; k++)
        top = score[k] > top ? score[k] : top;
    for (int k = 0; k < c->K; k++)
        sum += exp(score[k] - top);
    for (int k = 0; k < c->K; k++)
        w[k] = (float)(exp(score[k] - top) / sum);
    cc_cam_layer_call rest = *c;
    rest.scratch = score + c->K;  /* the map's scratch, after ours */
    return cc_cam_weighted_map(&rest, w, cam, err);
}

const cc_cam_method cc_cam_scorecam = {
    .name = "scorecam",
    .summary = "Score-CAM: softmax over channels of the target's score on the input masked by each channel",
    .uses = CC_CAM_USES_INPUT_BATCHES,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH | CC_CAM_TAKES_EIGEN_SMOOTH | CC_CAM_TAKES_EIGEN_SIGN |
             CC_CAM_TAKES_BATCH_SIZE,
    .default_batch = 16,
    .has_weights = 1,
    .layer_map = scorecam,
    .scratch_floats = scratch,
};
