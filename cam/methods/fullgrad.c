/* cam/methods/fullgrad.c — FullGrad as pytorch-grad-cam's fullgrad_cam.py
 * computes it (Srinivas & Fleuret, arXiv:1905.00780); the chosen layers are
 * ignored:
 *   input term:  |dT/dx * x|, each of its C channels min-max normalised
 *   bias terms:  for every conv / batchnorm with a bias (a batchnorm's folded,
 *                b - mean * weight / sqrt(var + eps)), |bias_k * dT/dz_k| at
 *                its output z, each channel k min-max normalised and resized
 *                to H x W (cv2 bilinear), summed over k
 *   map = the sum of all of them, normalised once by the facade (no ReLU:
 *         every term is >= 0).
 * Every channel is normalised on its own, as the reference does; the
 * official FullGrad code normalises each layer's whole tensor. The
 * reference resizes every channel and sums; bilinear resizing is linear, so
 * summing a layer's normalised channels first and resizing the sum once
 * gives the same map up to float rounding (~1e-7), at 1 / K of the cost. */
#include "cam/method.h"
#include "cam/normalize.h"
#include "cam/resize.h"

#include <math.h>
#include <string.h>

/* acc (h x w) += normalize(|scale * g|) for one channel. */
static void add_channel(float *acc, float *tmp, const float *g, float scale, size_t hw)
{
    for (size_t i = 0; i < hw; i++)
        tmp[i] = fabsf(scale * g[i]);
    cc_cam_normalize(tmp, tmp, hw);
    for (size_t i = 0; i < hw; i++)
        acc[i] += tmp[i];
}

static cc_status fullgrad(const cc_cam_image_call *c, float *map, cc_error *err)
{
    (void)err;
    const size_t HW = (size_t)c->H * c->W;
    size_t most = HW;  /* a layer may be larger than the input (padding, upsampling) */
    for (int l = 0; l < c->nbias_layers; l++)
        most = (size_t)c->bias_layers[l].h * c->bias_layers[l].w > most ? (size_t)c->bias_layers[l].h * c->bias_layers[l].w : most;
    float *tmp = c->scratch, *layer = tmp + most, *up = layer + most;
    memset(map, 0, HW * sizeof *map);
    for (int ch = 0; ch < c->C; ch++) {
        const float *x = c->input + (size_t)ch * HW, *g = c->input_grad + (size_t)ch * HW;
        for (size_t i = 0; i < HW; i++)
            tmp[i] = fabsf(g[i] * x[i]);
        cc_cam_normalize(tmp, tmp, HW);
        for (size_t i = 0; i < HW; i++)
            map[i] += tmp[i];
    }
    for (int l = 0; l < c->nbias_layers; l++) {
        const cc_cam_bias_layer *b = &c->bias_layers[l];
        const size_t hw = (size_t)b->h * b->w;
        memset(layer, 0, hw * sizeof *layer);
        for (int k = 0; k < b->K; k++)
            add_channel(layer, tmp, b->G + (size_t)k * hw, b->bias[k], hw);
        const float *sum = layer;
        if (b->h != c->H || b->w != c->W) {
            cc_cam_resize(up, c->H, c->W, layer, b->h, b->w);
            sum = up;
        }
        for (size_t i = 0; i < HW; i++)
            map[i] += sum[i];
    }
    return CC_OK;
}

static size_t scratch(int K, int h, int w, const cc_cam_params *p, int batch, int C, int H, int W)
{
    (void)K, (void)p, (void)batch, (void)C;
    const size_t HW = (size_t)H * W, hw = (size_t)h * w;
    return 2 * (hw > HW ? hw : HW) + HW;
}

const cc_cam_method cc_cam_fullgrad = {
    .name = "fullgrad",
    .summary = "FullGrad: input x gradient plus every conv/BN bias x gradient, per channel, over the whole net",
    .uses = CC_CAM_USES_INPUT_GRADIENT | CC_CAM_USES_BIAS_GRADIENTS | CC_CAM_IGNORES_LAYERS,
    .takes = CC_CAM_TAKES_TARGET | CC_CAM_TAKES_AUG_SMOOTH,
    .image_map = fullgrad,
    .scratch_floats = scratch,
};
