/* layers/mul_const.c — y = x * value, value a constant of the model that
 * broadcasts against x   (ConvNeXt's layer scale gamma [C,1,1] on NCHW or
 * [C] on NHWC, attention's scale as a value of shape [1], a folded affine)
 *
 * Broadcasting as add_const.c's (numpy's from the right, value's dim 0 is 1
 * where it lines up with the batch, a scalar has shape [1]):
 *   y[i] = x[i] value[j(i)]
 * value is a buffer parameter (never differentiated), so the backward is
 *   dx[i] += dy[i] value[j(i)]
 * and reads nothing saved. Shape rules and the walk: cc_const_infer,
 * cc_bcast_plan, cc_bcast_apply, cc_const_forward (add_const.c). */
#include "kernels.h"

static cc_status infer(const cc_attrs *attrs, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)attrs, (void)nin;
    return cc_const_infer("mul_const", &in[0], &param[0], has_param[0], out, err);
}

static void forward(const cc_op_args *a)
{
    cc_const_forward(a, CC_BCAST_MUL);
}

static void backward(const cc_op_args *a)
{
    if (!a->din[0])
        return;
    cc_bcast p;  /* d/dx of x * value */
    cc_bcast_plan(&p, &a->in_shape[0], &a->param_shape[0]);
    cc_bcast_apply(CC_BCAST_MUL_ACC, a->din[0], a->dout, a->param[0], &p, cc_shape_numel(&a->out_shape));
}

/* value: a buffer (the model's constant), never differentiated. */
const cc_op cc_op_mul_const = {
    .name = "mul_const", .min_inputs = 1, .max_inputs = 1,
    .nparams = 1, .param_names = {"value"}, .required_params = 1u, .buffer_params = 1u,
    .saves_for_dinput = 0,
    .infer = infer, .forward = forward, .backward = backward,
};
