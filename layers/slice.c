/* layers/slice.c — x[:, ..., start:end:step] along one dimension axis >= 1
 * of a tensor of any rank: x.chunk(2, dim=1), torch.split(x, s, dim),
 * x.narrow(axis, ...) (torchvision's shufflenet_v2 halves its channels so),
 * Swin's patch merging x[:, 0::2, 1::2, :].
 *
 * With the input seen as outer x C x inner around axis (C = its size):
 *   out[o, j, i] = inp[o, start + j * step, i],  0 <= j < ceil((end - start) / step)
 * The output is a contiguous copy; the backward adds dout into the indices
 * of dinp it came from and leaves the others alone. */
#include "kernels.h"

static cc_view slice_view(int outer, int C, int inner, int step, int count)
{
    cc_view v = {3, {outer, count, inner}, {(size_t)count * inner, (size_t)inner, 1},
                 {(size_t)C * inner, (size_t)step * inner, 1}};
    return v;
}

/* out: outer x count x inner, inp: outer x C x inner. */
void cc_slice_forward(cc_real *out, const cc_real *inp, int outer, int C, int inner, int start, int step,
                      int count)
{
    const cc_view v = slice_view(outer, C, inner, step, count);
    cc_view_copy(out, inp + (size_t)start * inner, &v, 0);
}

/* dinp: outer x C x inner, dout: outer x count x inner. Differentiates the copy above. */
void cc_slice_backward(cc_real *dinp, const cc_real *dout, int outer, int C, int inner, int start, int step,
                       int count)
{
    cc_view v = slice_view(outer, C, inner, step, count);
    cc_view_swap(&v);
    cc_view_copy(dinp + (size_t)start * inner, dout, &v, 1);
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin, (void)param, (void)has_param;
    char buf[96];
    const cc_shape *x = &in[0];
    if (x->rank < 2)
        return cc_fail(err, CC_EINVAL, "slice of a rank-%d input %s; it needs N x C (x ...)", x->rank,
                       cc_shape_str(x, buf, sizeof buf));
    if (a->axis < 1 || a->axis >= x->rank)
        return cc_fail(err, CC_EINVAL, "slice axis=%d of %s must be in 1..%d (dim 0, the batch, stays)",
                       a->axis, cc_shape_str(x, buf, sizeof buf), x->rank - 1);
    if (a->step < 1)
        return cc_fail(err, CC_EINVAL, "slice step=%d must be at least 1", a->step);
    const int C = x->d[a->axis];
    if (a->start < 0 || a->start >= a->end || a->end > C)
        return cc_fail(err, CC_EINVAL, "slice [%d, %d) along axis %d of %s: needs 0 <= start < end <= %d",
                       a->start, a->end, a->axis, cc_shape_str(x, buf, sizeof buf), C);
    *out = *x;
    out->d[a->axis] = (a->end - a->start + a->step - 1) / a->step;
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    const int ax = a->attrs->axis;
    cc_slice_forward(a->out, a->in[0], (int)cc_dims_product(x, 0, ax), x->d[ax],
                     (int)cc_dims_product(x, ax + 1, x->rank), a->attrs->start, a->attrs->step,
                     a->out_shape.d[ax]);
}

static void backward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    const int ax = a->attrs->axis;
    if (a->din[0])
        cc_slice_backward(a->din[0], a->dout, (int)cc_dims_product(x, 0, ax), x->d[ax],
                          (int)cc_dims_product(x, ax + 1, x->rank), a->attrs->start, a->attrs->step,
                          a->out_shape.d[ax]);
}

const cc_op cc_op_slice = {
    .name = "slice", .min_inputs = 1, .max_inputs = 1,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
