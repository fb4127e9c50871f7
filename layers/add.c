/* layers/add.c — out = a + b, same shapes   (residual connections: out += identity)
 * d/da = d/db = 1: each input gets dout. No broadcasting: the residual
 * blocks of the supported models add tensors of identical shape. */
#include "kernels.h"

typedef struct { cc_real *out; const cc_real *a, *b; } sum;

CC_VECTORISED static void forward_range(void *arg, size_t lo, size_t hi)
{
    const sum *s = arg;
    for (size_t i = lo; i < hi; i++)
        s->out[i] = s->a[i] + s->b[i];
}

void cc_add_forward(cc_real *out, const cc_real *a, const cc_real *b, size_t n)
{
    sum s = {out, a, b};
    cc_parallel(n, CC_MAP_GRAIN, forward_range, &s);
}

void cc_add_backward(cc_real *da, cc_real *db, const cc_real *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (da)
            da[i] += dout[i];
        if (db)
            db[i] += dout[i];
    }
}

static cc_status infer(const cc_attrs *attrs, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)attrs, (void)param, (void)has_param;
    char a[64], b[64];
    if (nin != 2)
        return cc_fail(err, CC_EINVAL, "add takes 2 inputs, got %d", nin);
    if (!cc_shape_equal(&in[0], &in[1]))
        return cc_fail(err, CC_EINVAL, "add needs inputs of the same shape, got %s and %s "
                       "(no broadcasting)", cc_shape_str(&in[0], a, sizeof a),
                       cc_shape_str(&in[1], b, sizeof b));
    *out = in[0];
    return CC_OK;
}

static void forward(const cc_op_args *a)
{
    cc_add_forward(a->out, a->in[0], a->in[1], cc_shape_numel(&a->out_shape));
}

static void backward(const cc_op_args *a)
{
    cc_add_backward(a->din[0], a->din[1], a->dout, cc_shape_numel(&a->out_shape));
}

const cc_op cc_op_add = {
    .name = "add", .min_inputs = 2, .max_inputs = 2,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
