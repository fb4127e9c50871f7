/* layers/conv2d.c — torch.nn.Conv2d: any stride, padding, dilation, groups.
 *
 * out[n,oc,oh,ow] = bias[oc] + sum_{c,kh,kw} weight[oc,c,kh,kw] * inp[n, g*CG + c, ih, iw]
 *   ih = oh*SH - PT + kh*DH,  iw = ow*SW - PL + kw*DW,  g = oc / OCG,  CG = C/G, OCG = OC/G
 * The map is linear in inp and in weight, so
 *   dinp[n, g*CG+c, ih, iw] += weight[oc,c,kh,kw] * dout[n,oc,oh,ow]
 *   dweight[oc,c,kh,kw]     += inp[n, g*CG+c, ih, iw] * dout[n,oc,oh,ow]
 *   dbias[oc]               += dout[n,oc,oh,ow]
 * summed over every (n, oc, oh, ow, kh, kw) whose (ih, iw) lies inside the input.
 * This is the scalar reference; faster paths are tested against it. The
 * descriptor runs conv2d_depthwise.c for depthwise convs, conv2d_winograd.c
 * for the 3x3 stride-1 forwards it was measured faster on, conv2d_grouped.c
 * for the forward of groups of 16k output channels, and conv2d_gemm.c
 * (with the engine's scratch for its column buffer) for every other. */
#include "kernels.h"

void cc_conv2d_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                       const cc_real *bias, const cc_conv_dims *d)
{
    const int CG = d->C / d->G, OCG = d->OC / d->G;
    for (int n = 0; n < d->N; n++)
        for (int oc = 0; oc < d->OC; oc++) {
            const int g = oc / OCG;
            const cc_real *w_oc = weight + (size_t)oc * CG * d->KH * d->KW;
            cc_real *o = out + ((size_t)n * d->OC + oc) * d->OH * d->OW;
            for (int oh = 0; oh < d->OH; oh++)
                for (int ow = 0; ow < d->OW; ow++) {
                    double acc = bias ? bias[oc] : 0;
                    for (int c = 0; c < CG; c++) {
                        const cc_real *x = inp + ((size_t)n * d->C + g * CG + c) * d->H * d->W;
                        const cc_real *w = w_oc + (size_t)c * d->KH * d->KW;
                        for (int kh = 0; kh < d->KH; kh++) {
                            const int ih = oh * d->SH - d->PT + kh * d->DH;
                            if (ih < 0 || ih >= d->H)
                                continue;
                            for (int kw = 0; kw < d->KW; kw++) {
                                const int iw = ow * d->SW - d->PL + kw * d->DW;
                                if (iw >= 0 && iw < d->W)
                                    acc += (double)w[kh * d->KW + kw] * x[(size_t)ih * d->W + iw];
                            }
                        }
                    }
                    o[(size_t)oh * d->OW + ow] = (cc_real)acc;
                }
        }
}

void cc_conv2d_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias,
                        const cc_real *dout, const cc_real *inp, const cc_real *weight,
                        const cc_conv_dims *d)
{
    const int CG = d->C / d->G, OCG = d->OC / d->G;
    for (int n = 0; n < d->N; n++)
        for (int oc = 0; oc < d->OC; oc++) {
            const int g = oc / OCG;
            const size_t wbase = (size_t)oc * CG * d->KH * d->KW;
            const cc_real *go = dout + ((size_t)n * d->OC + oc) * d->OH * d->OW;
            for (int oh = 0; oh < d->OH; oh++)
                for (int ow = 0; ow < d->OW; ow++) {
                    const cc_real dy = go[(size_t)oh * d->OW + ow];
                    if (dbias)
                        dbias[oc] += dy;
                    for (int c = 0; c < CG; c++) {
                        const size_t xbase = ((size_t)n * d->C + g * CG + c) * d->H * d->W;
                        const size_t wc = wbase + (size_t)c * d->KH * d->KW;
                        for (int kh = 0; kh < d->KH; kh++) {
                            const int ih = oh * d->SH - d->PT + kh * d->DH;
                            if (ih < 0 || ih >= d->H)
                                continue;
                            for (int kw = 0; kw < d->KW; kw++) {
                                const int iw = ow * d->SW - d->PL + kw * d->DW;
                                if (iw < 0 || iw >= d->W)
                                    continue;
                                const size_t xi = xbase + (size_t)ih * d->W + iw;
                                const size_t wi = wc + (size_t)kh * d->KW + kw;
                                if (dinp)
                                    dinp[xi] += weight[wi] * dy;
                                if (dweight)
                                    dweight[wi] += inp[xi] * dy;
                            }
                        }
                    }
                }
        }
}

/* One output size along an axis, as PyTorch: floor((in + pads - dil*(k-1) - 1) / stride) + 1. */
static int conv_out(int in, int pad_a, int pad_b, int k, int stride, int dil)
{
    const long span = (long)dil * (k - 1) + 1;
    const long avail = (long)in + pad_a + pad_b - span;
    return avail < 0 ? 0 : (int)(avail / stride + 1);
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin;
    const cc_shape *x = &in[0], *w = &param[0];
    if (x->rank != 4)
        return cc_fail(err, CC_EINVAL, "conv2d needs an NxCxHxW input, got rank %d", x->rank);
    if (w->rank != 4)
        return cc_fail(err, CC_EINVAL, "conv2d weight must be OCxC/GxKHxKW, got rank %d", w->rank);
    const int C = x->d[1], OC = w->d[0], G = a->groups;
    if (G < 1 || C % G || OC % G)
        return cc_fail(err, CC_EINVAL, "conv2d groups=%d must divide in_channels=%d and out_channels=%d",
                       G, C, OC);
    if (w->d[1] != C / G)
        return cc_fail(err, CC_EINVAL, "conv2d weight has %d input channels per group; the input has %d channels "
                       "in %d groups, so %d", w->d[1], C, G, C / G);
    if (w->d[2] != a->kernel[0] || w->d[3] != a->kernel[1])
        return cc_fail(err, CC_EINVAL, "conv2d weight is %dx%d but kernel_size is %dx%d",
                       w->d[2], w->d[3], a->kernel[0], a->kernel[1]);
    if (has_param[1] && (param[1].rank != 1 || param[1].d[0] != OC))
        return cc_fail(err, CC_EINVAL, "conv2d bias must have %d elements", OC);
    const int OH = conv_out(x->d[2], a->pad[0], a->pad[2], w->d[2], a->stride[0], a->dilation[0]);
    const int OW = conv_out(x->d[3], a->pad[1], a->pad[3], w->d[3], a->stride[1], a->dilation[1]);
    if (OH < 1 || OW < 1)
        return cc_fail(err, CC_EINVAL, "conv2d input %dx%d is smaller than its %dx%d kernel (dilation %dx%d, "
                       "padding %d,%d,%d,%d)", x->d[2], x->d[3], w->d[2], w->d[3], a->dilation[0],
                       a->dilation[1], a->pad[0], a->pad[1], a->pad[2], a->pad[3]);
    *out = cc_shape4(x->d[0], OC, OH, OW);
    return CC_OK;
}

static cc_conv_dims dims_from(const cc_attrs *t, const cc_shape *in, const cc_shape *weight,
                              const cc_shape *out)
{
    const cc_conv_dims d = {
        .N = in->d[0], .C = in->d[1], .H = in->d[2], .W = in->d[3],
        .OC = weight->d[0], .KH = weight->d[2], .KW = weight->d[3],
        .SH = t->stride[0], .SW = t->stride[1], .PT = t->pad[0], .PL = t->pad[1],
        .DH = t->dilation[0], .DW = t->dilation[1], .G = t->groups,
        .OH = out->d[2], .OW = out->d[3],
    };
    return d;
}

static cc_conv_dims dims_of(const cc_op_args *a)
{
    return dims_from(a->attrs, &a->in_shape[0], &a->param_shape[0], &a->out_shape);
}

static int is_depthwise(const cc_conv_dims *d)
{
    return d->G == d->C && d->OC == d->C;
}

/* The gemm path's column buffer, or the Winograd or grouped path's buffers
 * when larger; the depthwise kernel needs none. */
static size_t scratch_bytes(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                            const cc_shape *out)
{
    (void)nin;
    const cc_conv_dims d = dims_from(a, &in[0], &param[0], out);
    if (is_depthwise(&d))
        return 0;
    const size_t gemm = cc_conv2d_gemm_scratch(&d);  /* the backward always takes this path */
    size_t fast = 0;
    if (cc_conv2d_winograd_applies(&d))
        fast = cc_conv2d_winograd_scratch(&d);
    else if (cc_conv2d_grouped_applies(&d))
        fast = cc_conv2d_grouped_scratch(&d);
    return gemm > fast ? gemm : fast;
}

/* A fused chain's epilogue runs inside the depthwise and gemm paths, on
 * each plane or tile as it is made; after the other two, plane by plane. */
static void forward(const cc_op_args *a)
{
    const cc_conv_dims d = dims_of(a);
    if (is_depthwise(&d)) {
        cc_conv2d_depthwise_forward(a->out, a->in[0], a->param[0], a->param[1], &d, a->epilogue);
    } else if (cc_conv2d_winograd_applies(&d)) {
        cc_conv2d_winograd_forward(a->out, a->in[0], a->param[0], a->param[1], &d, a->scratch,
                                   cc_conv2d_winograd_scratch(&d), a->prepared);
        cc_epilogue_planes(a->epilogue, a->out, d.N, d.OC, (size_t)d.OH * d.OW);
    } else if (cc_conv2d_grouped_applies(&d)) {
        cc_conv2d_grouped_forward(a->out, a->in[0], a->param[0], a->param[1], &d, a->scratch);
        cc_epilogue_planes(a->epilogue, a->out, d.N, d.OC, (size_t)d.OH * d.OW);
    } else {
        cc_conv2d_gemm_forward(a->out, a->in[0], a->param[0], a->param[1], &d, a->scratch,
                               cc_conv2d_gemm_scratch(&d), a->epilogue);
    }
}

static void backward(const cc_op_args *a)
{
    const cc_conv_dims d = dims_of(a);
    if (is_depthwise(&d))
        cc_conv2d_depthwise_backward(a->din[0], a->dparam[0], a->dparam[1], a->dout, a->in[0],
                                     a->param[0], &d);
    else
        cc_conv2d_gemm_backward(a->din[0], a->dparam[0], a->dparam[1], a->dout, a->in[0],
                                a->param[0], &d, a->scratch, cc_conv2d_gemm_scratch(&d));
}

/* Winograd's transformed filters, kept by the engine for a loaded model. */
static size_t prepared_bytes(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                             const cc_shape *out)
{
    (void)nin;
    const cc_conv_dims d = dims_from(a, &in[0], &param[0], out);
    return !is_depthwise(&d) && cc_conv2d_winograd_applies(&d) ? cc_conv2d_winograd_u_bytes(&d) : 0;
}

static void prepare(const cc_op_args *a, void *prepared)
{
    const cc_conv_dims d = dims_of(a);
    cc_conv2d_winograd_transform(prepared, a->param[0], &d);
}

const cc_op cc_op_conv2d = {
    .name = "conv2d", .min_inputs = 1, .max_inputs = 1,
    .nparams = 2, .param_names = {"weight", "bias"}, .required_params = 1u,
    .saves_for_dinput = 0, .saves_for_dparam = CC_SAVES_INPUTS,
    .infer = infer, .forward = forward, .backward = backward, .scratch_bytes = scratch_bytes,
    .takes_epilogue = 1, .prepared_bytes = prepared_bytes, .prepare = prepare,
};
