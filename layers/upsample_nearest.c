/* layers/upsample_nearest.c — F.interpolate(x, size or scale_factor,
 * mode="nearest") and nn.Upsample(mode="nearest") of N x C x H x W.
 *
 * out[nc, oh, ow] = inp[nc, src(oh, scale_h, H), src(ow, scale_w, W)]
 * src(o, s, n) = min(floor(o * s), n - 1), with the product in float and s
 * from cc_upsample_scale (1/scale_factor when the model gave one, else in/out),
 * as ATen 1.13's CPU kernel (compute_indices_nearest) computes it. Each output
 * copies one input, so the backward adds each dout element to the input it
 * copied (an input that several outputs copied gets their sum). */
#include "upsample_shape.h"

#include <math.h>

static int source(int o, float scale, int n)
{
    const int i = (int)floorf((float)o * scale);
    return i < n - 1 ? i : n - 1;
}

typedef struct {
    cc_real *out;
    const cc_real *inp;
    int H, W, OH, OW;
    float sh, sw;
} planes;

static void forward_planes(void *arg, size_t lo, size_t hi)
{
    const planes *p = arg;
    for (size_t nc = lo; nc < hi; nc++) {
        const cc_real *x = p->inp + nc * p->H * p->W;
        cc_real *y = p->out + nc * p->OH * p->OW;
        for (int oh = 0; oh < p->OH; oh++) {
            const cc_real *row = x + (size_t)source(oh, p->sh, p->H) * p->W;
            for (int ow = 0; ow < p->OW; ow++)
                y[(size_t)oh * p->OW + ow] = row[source(ow, p->sw, p->W)];
        }
    }
}

/* out: NC x OH x OW, inp: NC x H x W. Planes are split over the pool. */
void cc_upsample_nearest_forward(cc_real *out, const cc_real *inp, int NC, int H, int W, int OH, int OW,
                                 float scale_h, float scale_w)
{
    planes p = {out, inp, H, W, OH, OW, scale_h, scale_w};
    cc_parallel((size_t)NC, cc_grain((size_t)OH * OW, CC_MAP_GRAIN), forward_planes, &p);
}

/* dinp: NC x H x W, dout: NC x OH x OW. Differentiates the copy above. */
void cc_upsample_nearest_backward(cc_real *dinp, const cc_real *dout, int NC, int H, int W, int OH,
                                  int OW, float scale_h, float scale_w)
{
    for (int nc = 0; nc < NC; nc++) {
        cc_real *dx = dinp + (size_t)nc * H * W;
        const cc_real *dy = dout + (size_t)nc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            cc_real *row = dx + (size_t)source(oh, scale_h, H) * W;
            for (int ow = 0; ow < OW; ow++)
                row[source(ow, scale_w, W)] += dy[(size_t)oh * OW + ow];
        }
    }
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    return cc_upsample_infer("upsample_nearest", a, &in[0], out, err);
}

static void forward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0], *y = &a->out_shape;
    cc_upsample_nearest_forward(a->out, a->in[0], x->d[0] * x->d[1], x->d[2], x->d[3], y->d[2], y->d[3],
                                cc_upsample_scale(a->attrs, 0, x->d[2], y->d[2], 0),
                                cc_upsample_scale(a->attrs, 1, x->d[3], y->d[3], 0));
}

static void backward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0], *y = &a->out_shape;
    if (a->din[0])
        cc_upsample_nearest_backward(a->din[0], a->dout, x->d[0] * x->d[1], x->d[2], x->d[3], y->d[2],
                                     y->d[3], cc_upsample_scale(a->attrs, 0, x->d[2], y->d[2], 0),
                                     cc_upsample_scale(a->attrs, 1, x->d[3], y->d[3], 0));
}

const cc_op cc_op_upsample_nearest = {
    .name = "upsample_nearest", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
