/* layers/concat.c — torch.cat(xs, dim=1) of NCHW tensors (DenseNet,
 * Inception, SqueezeNet's fire modules).
 *
 * out[n, off_i + c, hw] = inp_i[n, c, hw],  off_i = C_0 + ... + C_{i-1}
 * Each input owns a disjoint slice of the output, so dinp_i is that slice of dout. */
#include "kernels.h"

#include <string.h>

void cc_concat_forward(cc_real *out, const cc_real *const *inp, const int *C, int nin,
                       int N, int HW)
{
    int OC = 0;
    for (int i = 0; i < nin; i++)
        OC += C[i];
    for (int n = 0; n < N; n++)
        for (int i = 0, off = 0; i < nin; off += C[i], i++)
            memcpy(out + ((size_t)n * OC + off) * HW, inp[i] + (size_t)n * C[i] * HW,
                   (size_t)C[i] * HW * sizeof *out);
}

void cc_concat_backward(cc_real *const *dinp, const cc_real *dout, const int *C, int nin,
                        int N, int HW)
{
    int OC = 0;
    for (int i = 0; i < nin; i++)
        OC += C[i];
    for (int n = 0; n < N; n++)
        for (int i = 0, off = 0; i < nin; off += C[i], i++) {
            if (!dinp[i])
                continue;
            const size_t len = (size_t)C[i] * HW;
            const cc_real *src = dout + ((size_t)n * OC + off) * HW;
            cc_real *dst = dinp[i] + (size_t)n * len;
            for (size_t j = 0; j < len; j++)
                dst[j] += src[j];
        }
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)param, (void)has_param;
    char s0[64], si[64];
    if (nin < 2 || nin > CC_MAX_INPUTS)
        return cc_fail(err, CC_EINVAL, "concat takes 2 to %d inputs, got %d", CC_MAX_INPUTS, nin);
    if (a->axis != 1)
        return cc_fail(err, CC_EINVAL, "concat axis=%d is not supported; only axis=1 (channels)",
                       a->axis);
    size_t C = 0;
    for (int i = 0; i < nin; i++) {
        if (in[i].rank != 4)
            return cc_fail(err, CC_EINVAL, "concat input %d is %s (rank %d); expected NxCxHxW", i,
                           cc_shape_str(&in[i], si, sizeof si), in[i].rank);
        if (in[i].d[0] != in[0].d[0] || in[i].d[2] != in[0].d[2] || in[i].d[3] != in[0].d[3])
            return cc_fail(err, CC_EINVAL, "concat input %d is %s but input 0 is %s; all but the "
                           "channel dimension must match", i, cc_shape_str(&in[i], si, sizeof si),
                           cc_shape_str(&in[0], s0, sizeof s0));
        C += (size_t)in[i].d[1];
    }
    const size_t rest = (size_t)in[0].d[0] * in[0].d[2] * in[0].d[3];
    if (C * rest > CC_MAX_NUMEL)
        return cc_fail(err, CC_EINVAL, "concat output would have %zu channels of %zu elements, more "
                       "than %zu in all", C, rest, (size_t)CC_MAX_NUMEL);
    *out = cc_shape4(in[0].d[0], (int)C, in[0].d[2], in[0].d[3]);
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    int C[CC_MAX_INPUTS];
    for (int i = 0; i < a->ninputs; i++)
        C[i] = a->in_shape[i].d[1];
    cc_concat_forward(a->out, a->in, C, a->ninputs, a->out_shape.d[0],
                      a->out_shape.d[2] * a->out_shape.d[3]);
}

static void backward(const cc_op_args *a)
{
    int C[CC_MAX_INPUTS];
    for (int i = 0; i < a->ninputs; i++)
        C[i] = a->in_shape[i].d[1];
    cc_concat_backward(a->din, a->dout, C, a->ninputs, a->out_shape.d[0],
                       a->out_shape.d[2] * a->out_shape.d[3]);
}

const cc_op cc_op_concat = {
    .name = "concat", .min_inputs = 2, .max_inputs = CC_MAX_INPUTS,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
