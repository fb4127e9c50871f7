/* layers/upsample_bilinear.c — F.interpolate(x, size or scale_factor,
 * mode="bilinear", align_corners) and nn.Upsample(mode="bilinear") of N x C x H x W.
 *
 * Per axis (rows shown), with s from cc_upsample_scale and float arithmetic
 * as ATen 1.13's CPU kernel (compute_source_index_and_lambda):
 *   r  = align_corners ? oh * s : max(0, s * (oh + 0.5) - 0.5)
 *   h0 = (int)r, h1 = h0 + (h0 < H - 1), l1 = clamp(r - h0, 0, 1), l0 = 1 - l1
 *   (OH = H copies: h0 = h1 = oh, l1 = 0)
 * out[nc,oh,ow] = l0_h * (l0_w x[h0,w0] + l1_w x[h0,w1]) + l1_h * (l0_w x[h1,w0] + l1_w x[h1,w1])
 * The map is linear in x: the backward adds l*_h l*_w dout[nc,oh,ow] to each
 * of the four inputs it read, nothing saved. */
#include "upsample_shape.h"

typedef struct { int i0, i1; cc_real l0, l1; } tap;

static tap source(int o, float scale, int in, int out, int align_corners)
{
    tap t = {o, o, 1, 0};
    if (in == out)
        return t;
    float r = align_corners ? scale * (float)o : scale * ((float)o + 0.5f) - 0.5f;
    if (r < 0)
        r = 0;
    t.i0 = (int)r;
    t.i1 = t.i0 + (t.i0 < in - 1);
    float l1 = r - (float)t.i0;
    l1 = l1 < 0 ? 0 : l1 > 1 ? 1 : l1;
    t.l1 = l1;
    t.l0 = (cc_real)(1.0f - l1);
    return t;
}

typedef struct {
    cc_real *out;
    const cc_real *inp;
    int H, W, OH, OW, align;
    float sh, sw;
} planes;

static void forward_planes(void *arg, size_t lo, size_t hi)
{
    const planes *p = arg;
    for (size_t nc = lo; nc < hi; nc++) {
        const cc_real *x = p->inp + nc * p->H * p->W;
        cc_real *y = p->out + nc * p->OH * p->OW;
        for (int oh = 0; oh < p->OH; oh++) {
            const tap h = source(oh, p->sh, p->H, p->OH, p->align);
            const cc_real *r0 = x + (size_t)h.i0 * p->W, *r1 = x + (size_t)h.i1 * p->W;
            for (int ow = 0; ow < p->OW; ow++) {
                const tap w = source(ow, p->sw, p->W, p->OW, p->align);
                y[(size_t)oh * p->OW + ow] = h.l0 * (w.l0 * r0[w.i0] + w.l1 * r0[w.i1]) +
                                             h.l1 * (w.l0 * r1[w.i0] + w.l1 * r1[w.i1]);
            }
        }
    }
}

/* out: NC x OH x OW, inp: NC x H x W. Planes are split over the pool. */
void cc_upsample_bilinear_forward(cc_real *out, const cc_real *inp, int NC, int H, int W, int OH, int OW,
                                  float scale_h, float scale_w, int align_corners)
{
    planes p = {out, inp, H, W, OH, OW, align_corners, scale_h, scale_w};
    cc_parallel((size_t)NC, cc_grain((size_t)OH * OW * 4, CC_MAP_GRAIN), forward_planes, &p);
}

/* dinp: NC x H x W, dout: NC x OH x OW. Differentiates the weighted sum above. */
void cc_upsample_bilinear_backward(cc_real *dinp, const cc_real *dout, int NC, int H, int W, int OH,
                                   int OW, float scale_h, float scale_w, int align_corners)
{
    for (int nc = 0; nc < NC; nc++) {
        cc_real *dx = dinp + (size_t)nc * H * W;
        const cc_real *dy = dout + (size_t)nc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const tap h = source(oh, scale_h, H, OH, align_corners);
            cc_real *r0 = dx + (size_t)h.i0 * W, *r1 = dx + (size_t)h.i1 * W;
            for (int ow = 0; ow < OW; ow++) {
                const tap w = source(ow, scale_w, W, OW, align_corners);
                const cc_real g = dy[(size_t)oh * OW + ow];
                r0[w.i0] += h.l0 * w.l0 * g;
                r0[w.i1] += h.l0 * w.l1 * g;
                r1[w.i0] += h.l1 * w.l0 * g;
                r1[w.i1] += h.l1 * w.l1 * g;
            }
        }
    }
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    return cc_upsample_infer("upsample_bilinear", a, &in[0], out, err);
}

static void forward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0], *y = &a->out_shape;
    const int ac = a->attrs->align_corners != 0;
    cc_upsample_bilinear_forward(a->out, a->in[0], x->d[0] * x->d[1], x->d[2], x->d[3], y->d[2], y->d[3],
                                 cc_upsample_scale(a->attrs, 0, x->d[2], y->d[2], ac),
                                 cc_upsample_scale(a->attrs, 1, x->d[3], y->d[3], ac), ac);
}

static void backward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0], *y = &a->out_shape;
    const int ac = a->attrs->align_corners != 0;
    if (a->din[0])
        cc_upsample_bilinear_backward(a->din[0], a->dout, x->d[0] * x->d[1], x->d[2], x->d[3], y->d[2],
                                      y->d[3], cc_upsample_scale(a->attrs, 0, x->d[2], y->d[2], ac),
                                      cc_upsample_scale(a->attrs, 1, x->d[3], y->d[3], ac), ac);
}

const cc_op cc_op_upsample_bilinear = {
    .name = "upsample_bilinear", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
