/* layers/avgpool2d.c — torch.nn.AvgPool2d (no divisor_override).
 *
 * out[n,c,oh,ow] = (1/D) * sum over ih in [h0, h1), iw in [w0, w1) of inp[n,c,ih,iw]
 * with the window of PyTorch's CPU kernel (cpu_avg_pool):
 *   h0 = oh*SH - PT,  h1 = min(h0 + KH, H + PT)      (the padded input)
 *   pool_size = (h1 - h0) * (w1 - w0)                (before clipping)
 *   h0, h1 clipped to [0, H)                         (the real input)
 *   D = count_include_pad ? pool_size : (h1 - h0) * (w1 - w0)
 * so with count_include_pad a window hanging past the padding (ceil_mode)
 * still counts only the padded part. The map is linear with a constant
 * divisor, so dinp[n,c,ih,iw] += dout[n,c,oh,ow] / D over the same clipped
 * window: the backward needs neither the input nor the output.
 * PyTorch pads symmetrically, so the padded input ends at H + PT; shape
 * inference refuses asymmetric padding when count_include_pad needs that end. */
#include "pool_shape.h"

#include <assert.h>

/* The clipped window of output (oh,ow) and its divisor. */
typedef struct { int h0, h1, w0, w1; double div; } window;

static window window_at(const cc_pool_dims *d, int oh, int ow, int count_include_pad)
{
    window r;
    r.h0 = oh * d->SH - d->PT;
    r.w0 = ow * d->SW - d->PL;
    r.h1 = r.h0 + d->KH < d->H + d->PT ? r.h0 + d->KH : d->H + d->PT;
    r.w1 = r.w0 + d->KW < d->W + d->PL ? r.w0 + d->KW : d->W + d->PL;
    /* In double: a huge kernel on a tiny input can overflow an int product. */
    const double pool_size = (double)(r.h1 - r.h0) * (r.w1 - r.w0);
    r.h0 = r.h0 > 0 ? r.h0 : 0;
    r.w0 = r.w0 > 0 ? r.w0 : 0;
    r.h1 = r.h1 < d->H ? r.h1 : d->H;
    r.w1 = r.w1 < d->W ? r.w1 : d->W;
    /* Never empty (see pool_shape.c), so the divisor is never 0. */
    assert(r.h0 < r.h1 && r.w0 < r.w1);
    r.div = count_include_pad ? pool_size : (double)(r.h1 - r.h0) * (r.w1 - r.w0);
    return r;
}

/* out: N x C x OH x OW, inp: N x C x H x W */
void cc_avgpool2d_forward(cc_real *out, const cc_real *inp, const cc_pool_dims *d,
                          int count_include_pad)
{
    for (int nc = 0; nc < d->N * d->C; nc++) {
        const cc_real *x = inp + (size_t)nc * d->H * d->W;
        cc_real *o = out + (size_t)nc * d->OH * d->OW;
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow = 0; ow < d->OW; ow++) {
                const window r = window_at(d, oh, ow, count_include_pad);
                double sum = 0;
                for (int ih = r.h0; ih < r.h1; ih++)
                    for (int iw = r.w0; iw < r.w1; iw++)
                        sum += x[(size_t)ih * d->W + iw];
                o[(size_t)oh * d->OW + ow] = (cc_real)(sum / r.div);
            }
    }
}

/* dinp: N x C x H x W, dout: N x C x OH x OW. Differentiates o = sum / D:
 * every element of the clipped window receives dout / D. */
void cc_avgpool2d_backward(cc_real *dinp, const cc_real *dout, const cc_pool_dims *d,
                           int count_include_pad)
{
    if (!dinp)
        return;
    for (int nc = 0; nc < d->N * d->C; nc++) {
        cc_real *dx = dinp + (size_t)nc * d->H * d->W;
        const cc_real *dy = dout + (size_t)nc * d->OH * d->OW;
        for (int oh = 0; oh < d->OH; oh++)
            for (int ow = 0; ow < d->OW; ow++) {
                const window r = window_at(d, oh, ow, count_include_pad);
                const cc_real g = (cc_real)(dy[(size_t)oh * d->OW + ow] / r.div);
                for (int ih = r.h0; ih < r.h1; ih++)
                    for (int iw = r.w0; iw < r.w1; iw++)
                        dx[(size_t)ih * d->W + iw] += g;
            }
    }
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    if (a->dilation[0] != 1 || a->dilation[1] != 1)
        return cc_fail(err, CC_EINVAL, "avgpool2d has no dilation, got %dx%d; expected 1x1",
                       a->dilation[0], a->dilation[1]);
    /* The kernel's divisor assumes the padded input ends at H + PT, W + PL. */
    if (a->count_include_pad && (a->pad[2] != a->pad[0] || a->pad[3] != a->pad[1]))
        return cc_fail(err, CC_EINVAL, "avgpool2d padding %d,%d,%d,%d (top, left, bottom, right) is "
                       "asymmetric; with count_include_pad it must be symmetric as in PyTorch",
                       a->pad[0], a->pad[1], a->pad[2], a->pad[3]);
    return cc_pool_infer("avgpool2d", a, &in[0], out, err);
}

static void forward(const cc_op_args *a)
{
    const cc_pool_dims d = cc_pool_dims_of(a);
    cc_avgpool2d_forward(a->out, a->in[0], &d, a->attrs->count_include_pad);
}

static void backward(const cc_op_args *a)
{
    const cc_pool_dims d = cc_pool_dims_of(a);
    if (a->din[0])
        cc_avgpool2d_backward(a->din[0], a->dout, &d, a->attrs->count_include_pad);
}

const cc_op cc_op_avgpool2d = {
    .name = "avgpool2d", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
