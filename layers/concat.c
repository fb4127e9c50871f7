/* layers/concat.c — torch.cat(xs, dim=axis) along any axis >= 1 of tensors
 * of one rank >= 2 (DenseNet, Inception and SqueezeNet's channels, ViT's
 * class token before the patch tokens, Swin's patch merging on the last dim).
 *
 * With each input seen as outer x C_i x inner around the axis:
 *   out[o, off_i + c, j] = inp_i[o, c, j],  off_i = C_0 + ... + C_{i-1}
 * Each input owns a disjoint slice of the output, so dinp_i is that slice of dout. */
#include "kernels.h"

#include <string.h>

void cc_concat_forward(cc_real *out, const cc_real *const *inp, const int *C, int nin,
                       int outer, int inner)
{
    int OC = 0;
    for (int i = 0; i < nin; i++)
        OC += C[i];
    for (int n = 0; n < outer; n++)
        for (int i = 0, off = 0; i < nin; off += C[i], i++)
            memcpy(out + ((size_t)n * OC + off) * inner, inp[i] + (size_t)n * C[i] * inner,
                   (size_t)C[i] * inner * sizeof *out);
}

void cc_concat_backward(cc_real *const *dinp, const cc_real *dout, const int *C, int nin,
                        int outer, int inner)
{
    int OC = 0;
    for (int i = 0; i < nin; i++)
        OC += C[i];
    for (int n = 0; n < outer; n++)
        for (int i = 0, off = 0; i < nin; off += C[i], i++) {
            if (!dinp[i])
                continue;
            const size_t len = (size_t)C[i] * inner;
            const cc_real *src = dout + ((size_t)n * OC + off) * inner;
            cc_real *dst = dinp[i] + (size_t)n * len;
            for (size_t j = 0; j < len; j++)
                dst[j] += src[j];
        }
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)param, (void)has_param;
    char s0[96], si[96];
    if (nin < 2 || nin > CC_MAX_INPUTS)
        return cc_fail(err, CC_EINVAL, "concat takes 2 to %d inputs, got %d", CC_MAX_INPUTS, nin);
    const int ax = a->axis, rank = in[0].rank;
    if (rank < 2)
        return cc_fail(err, CC_EINVAL, "concat of rank-%d inputs (%s); it needs N x C (x ...)", rank,
                       cc_shape_str(&in[0], s0, sizeof s0));
    if (ax < 1 || ax >= rank)
        return cc_fail(err, CC_EINVAL, "concat axis=%d of rank-%d inputs (%s) must be in 1..%d (dim 0, the "
                       "batch, stays)", ax, rank, cc_shape_str(&in[0], s0, sizeof s0), rank - 1);
    size_t C = 0;
    for (int i = 0; i < nin; i++) {
        int same = in[i].rank == rank;
        for (int k = 0; same && k < rank; k++)
            same = k == ax || in[i].d[k] == in[0].d[k];
        if (!same)
            return cc_fail(err, CC_EINVAL, "concat input %d is %s but input 0 is %s; all must have rank %d "
                           "and match in every dimension but axis %d", i, cc_shape_str(&in[i], si, sizeof si),
                           cc_shape_str(&in[0], s0, sizeof s0), rank, ax);
        C += (size_t)in[i].d[ax];
    }
    const size_t rest = cc_dims_product(&in[0], 0, ax) * cc_dims_product(&in[0], ax + 1, rank);
    if (C * rest > CC_MAX_NUMEL)
        return cc_fail(err, CC_EINVAL, "concat output would have %zu along axis %d times %zu elements, more "
                       "than %zu in all", C, ax, rest, (size_t)CC_MAX_NUMEL);
    *out = in[0];
    out->d[ax] = (int)C;
    return CC_OK;
}

static void sizes(const cc_op_args *a, int *C, int *outer, int *inner)
{
    const int ax = a->attrs->axis;
    for (int i = 0; i < a->ninputs; i++)
        C[i] = a->in_shape[i].d[ax];
    *outer = (int)cc_dims_product(&a->out_shape, 0, ax);
    *inner = (int)cc_dims_product(&a->out_shape, ax + 1, a->out_shape.rank);
}

static void forward(const cc_op_args *a)
{
    int C[CC_MAX_INPUTS], outer, inner;
    sizes(a, C, &outer, &inner);
    cc_concat_forward(a->out, a->in, C, a->ninputs, outer, inner);
}

static void backward(const cc_op_args *a)
{
    int C[CC_MAX_INPUTS], outer, inner;
    sizes(a, C, &outer, &inner);
    cc_concat_backward(a->din, a->dout, C, a->ninputs, outer, inner);
}

const cc_op cc_op_concat = {
    .name = "concat", .min_inputs = 2, .max_inputs = CC_MAX_INPUTS,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
