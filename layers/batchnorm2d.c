/* layers/batchnorm2d.c — torch.nn.BatchNorm2d in eval mode (running statistics).
 *
 * out[n,c,hw] = (inp[n,c,hw] - mean[c]) * s[c] * weight[c] + bias[c],   s[c] = 1 / sqrt(var[c] + eps)
 * With the statistics fixed this is an affine map per channel, so
 *   dinp[n,c,hw] += dout[n,c,hw] * weight[c] * s[c]
 *   dweight[c]   += sum_{n,hw} dout[n,c,hw] * (inp[n,c,hw] - mean[c]) * s[c]
 *   dbias[c]     += sum_{n,hw} dout[n,c,hw]
 * and mean/var get no gradient. The training-mode backward (gradients through
 * batch statistics) would be wrong here: Grad-CAM runs the model in eval mode.
 * weight/bias NULL mean 1/0 (affine=False). */
#include "kernels.h"

#include <math.h>

/* out = inp * alpha + beta per channel, as PyTorch's CPU kernel folds it;
 * s, alpha and beta computed in double (var + eps, the square root and the
 * fold add no float rounding of their own), then applied in cc_real, as
 * PyTorch's float kernel does: one vector of floats per instruction, and
 * results within an ulp or two of the double evaluation. */
typedef struct {
    cc_real *out;
    const cc_real *inp, *weight, *bias, *mean, *var;
    double eps;
    int C, HW;
} planes;

void cc_batchnorm_fold(const cc_real *weight, const cc_real *bias, const cc_real *mean, const cc_real *var,
                       double eps, int c, cc_real *alpha, cc_real *beta)
{
    const double s = 1.0 / sqrt((double)var[c] + eps);
    const double a = s * (weight ? weight[c] : 1);
    *alpha = (cc_real)a;
    *beta = (cc_real)((bias ? bias[c] : 0) - mean[c] * a);
}

CC_VECTORISED void cc_affine_range(cc_real *out, const cc_real *inp, size_t n, cc_real alpha, cc_real beta)
{
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] * alpha + beta;
}

/* Planes (image, channel) lo..hi-1 of the forward. */
static void forward_planes(void *arg, size_t lo, size_t hi)
{
    const planes *p = arg;
    for (size_t nc = lo; nc < hi; nc++) {
        const int c = (int)(nc % (size_t)p->C);
        cc_real a, b;
        cc_batchnorm_fold(p->weight, p->bias, p->mean, p->var, p->eps, c, &a, &b);
        cc_affine_range(p->out + nc * (size_t)p->HW, p->inp + nc * (size_t)p->HW, (size_t)p->HW, a, b);
    }
}

void cc_batchnorm_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                          const cc_real *bias, const cc_real *mean, const cc_real *var,
                          double eps, int N, int C, int HW)
{
    planes p = {out, inp, weight, bias, mean, var, eps, C, HW};
    cc_parallel((size_t)N * C, cc_grain((size_t)HW, CC_MAP_GRAIN), forward_planes, &p);
}

void cc_batchnorm_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias,
                           const cc_real *dout, const cc_real *inp, const cc_real *weight,
                           const cc_real *mean, const cc_real *var, double eps,
                           int N, int C, int HW)
{
    for (int c = 0; c < C; c++) {
        const double s = 1.0 / sqrt((double)var[c] + eps);
        const double alpha = s * (weight ? weight[c] : 1);
        double dw = 0, db = 0;
        for (int n = 0; n < N; n++) {
            const size_t base = ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                const double dy = dout[base + i];
                if (dinp)     /* d/dinp of inp * alpha */
                    dinp[base + i] += (cc_real)(dy * alpha);
                if (dweight)  /* d/dweight of (inp - mean) * s * weight */
                    dw += dy * ((double)inp[base + i] - mean[c]) * s;
                db += dy;     /* d/dbias of + bias */
            }
        }
        if (dweight)
            dweight[c] += (cc_real)dw;
        if (dbias)
            dbias[c] += (cc_real)db;
    }
}

/* eps and the four parameters against C = in->d[1]; op names the tensors in
 * messages. Shared with batchnorm1d.c, which differs only in the ranks it takes. */
cc_status cc_batchnorm_check(const cc_op *op, const cc_attrs *a, const cc_shape *in, const cc_shape *param,
                             const int *has_param, cc_error *err)
{
    char buf[64];
    if (!(a->eps > 0 && a->eps < 1))
        return cc_fail(err, CC_EINVAL, "%s eps=%g must be in (0, 1)", op->name, a->eps);
    const int C = in->d[1];
    for (int k = 0; k < 4; k++) {
        const char *name = op->param_names[k];
        if (!has_param[k] && (op->required_params >> k & 1))
            return cc_fail(err, CC_EINVAL, "%s needs %s (eval mode normalises with the "
                           "running statistics); the model has none", op->name, name);
        if (has_param[k] && (param[k].rank != 1 || param[k].d[0] != C))
            return cc_fail(err, CC_EINVAL, "%s %s has shape %s; expected %d elements, one "
                           "per input channel", op->name, name, cc_shape_str(&param[k], buf, sizeof buf), C);
    }
    return CC_OK;
}

extern const cc_op cc_op_batchnorm2d;

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)nin;
    char buf[64];
    if (in[0].rank != 4)
        return cc_fail(err, CC_EINVAL, "batchnorm2d needs an NxCxHxW input, got %s (rank %d)",
                       cc_shape_str(&in[0], buf, sizeof buf), in[0].rank);
    const cc_status st = cc_batchnorm_check(&cc_op_batchnorm2d, a, &in[0], param, has_param, err);
    if (st)
        return st;
    *out = in[0];
    return CC_OK;
}

/* N x C x (the rest, flattened): HW is 1 for batchnorm1d's N x C. */
static int plane_size(const cc_shape *x)
{
    return (int)(cc_shape_numel(x) / ((size_t)x->d[0] * (size_t)x->d[1]));
}

void cc_batchnorm_op_forward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    cc_batchnorm_forward(a->out, a->in[0], a->param[0], a->param[1], a->param[2], a->param[3],
                         a->attrs->eps, x->d[0], x->d[1], plane_size(x));
}

void cc_batchnorm_op_backward(const cc_op_args *a)
{
    const cc_shape *x = &a->in_shape[0];
    cc_batchnorm_backward(a->din[0], a->dparam[0], a->dparam[1], a->dout, a->in[0], a->param[0],
                          a->param[2], a->param[3], a->attrs->eps, x->d[0], x->d[1], plane_size(x));
}

/* din needs only the parameters; dweight needs the input. */
const cc_op cc_op_batchnorm2d = {
    .name = "batchnorm2d", .min_inputs = 1, .max_inputs = 1,
    .nparams = 4, .param_names = {"weight", "bias", "running_mean", "running_var"},
    .required_params = 1u << 2 | 1u << 3, .buffer_params = 1u << 2 | 1u << 3,
    .saves_for_dinput = 0, .saves_for_dparam = CC_SAVES_INPUTS,
    .infer = infer, .forward = cc_batchnorm_op_forward, .backward = cc_batchnorm_op_backward,
};
