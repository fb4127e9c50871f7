/* layers/slice.c — x[:, start:end] along the channels (dim 1) of an N x C x ...
 * tensor: x.chunk(2, dim=1), torch.split(x, s, dim=1), x.narrow(1, ...)
 * (torchvision's shufflenet_v2 halves its channels so).
 *
 * out[n, c, i] = inp[n, start + c, i],  0 <= c < end - start, i over the inner dims
 * The output is a contiguous copy; the backward adds dout into the slice of
 * dinp it came from and leaves the other channels alone. */
#include "kernels.h"

#include <string.h>

/* out: N x (end-start) x inner, inp: N x C x inner. */
void cc_slice_forward(cc_real *out, const cc_real *inp, int N, int C, int inner, int start, int end)
{
    const size_t len = (size_t)(end - start) * inner;
    for (int n = 0; n < N; n++)
        memcpy(out + n * len, inp + ((size_t)n * C + start) * inner, len * sizeof *out);
}

/* dinp: N x C x inner, dout: N x (end-start) x inner. Differentiates the copy above. */
void cc_slice_backward(cc_real *dinp, const cc_real *dout, int N, int C, int inner, int start, int end)
{
    const size_t len = (size_t)(end - start) * inner;
    for (int n = 0; n < N; n++)
        cc_copy_backward(dinp + ((size_t)n * C + start) * inner, dout + n * len, len);
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    char buf[64];
    const cc_shape *x = &in[0];
    if (a->axis != 1)
        return cc_fail(err, CC_EINVAL, "slice axis=%d is not supported; only axis=1 (channels)", a->axis);
    if (x->rank < 2)
        return cc_fail(err, CC_EINVAL, "slice of a rank-%d input; it needs N x C (x ...)", x->rank);
    const int C = x->d[1];
    if (a->start < 0 || a->start >= a->end || a->end > C)
        return cc_fail(err, CC_EINVAL, "slice of channels [%d, %d) from %s: needs 0 <= start < end <= %d",
                       a->start, a->end, cc_shape_str(x, buf, sizeof buf), C);
    *out = *x;
    out->d[1] = a->end - a->start;
    return CC_OK;
}

static int inner_of(const cc_shape *s)
{
    int inner = 1;
    for (int i = 2; i < s->rank; i++)
        inner *= s->d[i];
    return inner;
}

static void forward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    cc_slice_forward(a->out, a->in[0], x->d[0], x->d[1], inner_of(x), a->attrs->start, a->attrs->end);
}

static void backward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    if (a->din[0])
        cc_slice_backward(a->din[0], a->dout, x->d[0], x->d[1], inner_of(x), a->attrs->start,
                          a->attrs->end);
}

const cc_op cc_op_slice = {
    .name = "slice", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
