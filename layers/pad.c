/* layers/pad.c — F.pad(x, ..., mode="constant", value=0) with non-negative
 * pads on any dimensions but 0 (Swin pads its feature map to whole windows,
 * ConvNeXt-style stems pad before a strided conv).
 *
 * pads = (before_0, after_0, before_1, after_1, ...) in dimension order (F.pad
 * lists the last dimension first), before_0 = after_0 = 0:
 *   out[i] = inp[i - before]  where 0 <= i_k - before_k < in_k for every k, else 0
 * out_k = before_k + in_k + after_k. The backward adds the interior of dout
 * (the part the input was copied to) into dinp. */
#include "kernels.h"

#include <string.h>

/* The map from the contiguous input to the interior of the output, and the
 * interior's offset in the output. */
static cc_view pad_view(const cc_shape *in, const cc_shape *out, const int *pads, size_t *offset)
{
    cc_view v = {in->rank, {0}, {0}, {0}};
    cc_shape_strides(out, v.dst);
    cc_shape_strides(in, v.src);
    *offset = 0;
    for (int k = 0; k < in->rank; k++) {
        v.n[k] = in->d[k];
        *offset += (size_t)pads[2 * k] * v.dst[k];
    }
    return v;
}

void cc_pad_forward(cc_real *out, const cc_real *inp, const cc_shape *in, const cc_shape *outs, const int *pads)
{
    size_t off;
    const cc_view v = pad_view(in, outs, pads, &off);
    memset(out, 0, cc_shape_numel(outs) * sizeof *out);
    cc_view_copy(out + off, inp, &v, 0);
}

void cc_pad_backward(cc_real *dinp, const cc_real *dout, const cc_shape *in, const cc_shape *outs,
                     const int *pads)
{
    size_t off;
    cc_view v = pad_view(in, outs, pads, &off);
    cc_view_swap(&v);
    cc_view_copy(dinp, dout + off, &v, 1);
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    char buf[96];
    const cc_shape *x = &in[0];
    if (a->npads != 2 * x->rank)
        return cc_fail(err, CC_EINVAL, "pad pads has %d values but the input %s has rank %d; it needs 2 * %d "
                       "(before, after per dimension, in dimension order)", a->npads,
                       cc_shape_str(x, buf, sizeof buf), x->rank, x->rank);
    if (a->pads[0] || a->pads[1])
        return cc_fail(err, CC_EINVAL, "pad pads for dim 0 are %d,%d; they must be 0,0 (dim 0, the batch, "
                       "stays) for %s", a->pads[0], a->pads[1], cc_shape_str(x, buf, sizeof buf));
    cc_shape s = *x;
    size_t n = 1;
    for (int k = 0; k < x->rank; k++) {
        if (a->pads[2 * k] < 0 || a->pads[2 * k + 1] < 0)
            return cc_fail(err, CC_EINVAL, "pad pads for dim %d are %d,%d; only non-negative padding (crop "
                           "with slice)", k, a->pads[2 * k], a->pads[2 * k + 1]);
        const size_t d = (size_t)x->d[k] + (size_t)a->pads[2 * k] + (size_t)a->pads[2 * k + 1];
        n *= d;
        if (d > CC_MAX_NUMEL || n > CC_MAX_NUMEL)
            return cc_fail(err, CC_EINVAL, "pad of %s gives more than %zu elements",
                           cc_shape_str(x, buf, sizeof buf), (size_t)CC_MAX_NUMEL);
        s.d[k] = (int)d;
    }
    *out = s;
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    cc_pad_forward(a->out, a->in[0], &a->in_shape[0], &a->out_shape, a->attrs->pads);
}

static void backward(const cc_op_args *a)
{
    if (a->din[0])
        cc_pad_backward(a->din[0], a->dout, &a->in_shape[0], &a->out_shape, a->attrs->pads);
}

const cc_op cc_op_pad = {
    .name = "pad", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
