/* layers/linear.c — torch.nn.Linear on an input of rank >= 2 with the
 * features in the LAST dim: N x IN, or tokens B x L x IN (any leading dims,
 * N their product; out is the leading dims x OUT). Either way it is one map
 * over N rows:
 *
 * out[n,o] = bias[o] + sum_i weight[o,i] * inp[n,i]      (weight is OUT x IN)
 * Linear in inp and in weight, so
 *   dinp[n,i]    += sum_o dout[n,o] * weight[o,i]
 *   dweight[o,i] += sum_n dout[n,o] * inp[n,i]
 *   dbias[o]     += sum_n dout[n,o]
 * Every sum is accumulated in double. This is the scalar reference; the
 * descriptor runs the same map through OpenBLAS (linear_gemm.c). */
#include "kernels.h"

void cc_linear_forward(cc_real *out, const cc_real *inp, const cc_real *weight,
                       const cc_real *bias, int N, int IN, int OUT)
{
    for (int n = 0; n < N; n++) {
        const cc_real *x = inp + (size_t)n * IN;
        for (int o = 0; o < OUT; o++) {
            const cc_real *w = weight + (size_t)o * IN;
            double acc = bias ? bias[o] : 0;
            for (int i = 0; i < IN; i++)
                acc += (double)w[i] * x[i];
            out[(size_t)n * OUT + o] = (cc_real)acc;
        }
    }
}

/* dinp sums down the columns of weight; walking them one at a time would
 * stride through the whole matrix per element (VGG's fc6 is 4096 x 25088),
 * so a block of columns is summed together, reading rows contiguously. */
enum { LINEAR_BLOCK = 256 };

void cc_linear_backward(cc_real *dinp, cc_real *dweight, cc_real *dbias, const cc_real *dout,
                        const cc_real *inp, const cc_real *weight, int N, int IN, int OUT)
{
    if (dinp)  /* from acc += weight[o,i] * inp[n,i] */
        for (int n = 0; n < N; n++) {
            const cc_real *dy = dout + (size_t)n * OUT;
            for (int i0 = 0; i0 < IN; i0 += LINEAR_BLOCK) {
                const int len = IN - i0 < LINEAR_BLOCK ? IN - i0 : LINEAR_BLOCK;
                double acc[LINEAR_BLOCK] = {0};
                for (int o = 0; o < OUT; o++) {
                    const cc_real *w = weight + (size_t)o * IN + i0;
                    for (int i = 0; i < len; i++)
                        acc[i] += (double)dy[o] * w[i];
                }
                for (int i = 0; i < len; i++)
                    dinp[(size_t)n * IN + i0 + i] += (cc_real)acc[i];
            }
        }
    if (dweight)  /* the same line, with respect to weight[o,i] */
        for (int o = 0; o < OUT; o++)
            for (int i = 0; i < IN; i++) {
                double acc = 0;
                for (int n = 0; n < N; n++)
                    acc += (double)dout[(size_t)n * OUT + o] * inp[(size_t)n * IN + i];
                dweight[(size_t)o * IN + i] += (cc_real)acc;
            }
    if (dbias)  /* from acc = bias[o] */
        for (int o = 0; o < OUT; o++) {
            double acc = 0;
            for (int n = 0; n < N; n++)
                acc += dout[(size_t)n * OUT + o];
            dbias[o] += (cc_real)acc;
        }
}

static cc_status infer(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                       const int *has_param, cc_shape *out, cc_error *err)
{
    (void)a, (void)nin;
    char buf[64], wbuf[64];
    const cc_shape *x = &in[0], *w = &param[0];
    if (x->rank < 2)
        return cc_fail(err, CC_EINVAL, "linear needs an input of rank 2 to %d with the features last "
                       "(N x in_features, B x L x in_features), got %s (rank %d)", CC_MAX_RANK,
                       cc_shape_str(x, buf, sizeof buf), x->rank);
    const int IN = x->d[x->rank - 1];
    if (!has_param[0] || w->rank != 2)
        return cc_fail(err, CC_EINVAL, "linear weight must be out_features x in_features, got %s",
                       has_param[0] ? cc_shape_str(w, wbuf, sizeof wbuf) : "none");
    if (w->d[1] != IN)
        return cc_fail(err, CC_EINVAL, "linear weight %s takes %d input features; the input %s has %d",
                       cc_shape_str(w, wbuf, sizeof wbuf), w->d[1], cc_shape_str(x, buf, sizeof buf), IN);
    if (has_param[1] && (param[1].rank != 1 || param[1].d[0] != w->d[0]))
        return cc_fail(err, CC_EINVAL, "linear bias has shape %s; expected %d elements (out_features)",
                       cc_shape_str(&param[1], buf, sizeof buf), w->d[0]);
    *out = *x;
    out->d[x->rank - 1] = w->d[0];
    if (cc_shape_numel(x) / (size_t)IN * (size_t)w->d[0] > CC_MAX_NUMEL)
        return cc_fail(err, CC_EINVAL, "linear output %s has more than %zu elements",
                       cc_shape_str(out, buf, sizeof buf), (size_t)CC_MAX_NUMEL);
    return CC_OK;
}

/* The rows: the product of the input's leading dims. */
static int rows_of(const cc_op_args *a)
{
    return (int)(cc_shape_numel(&a->in_shape[0]) / (size_t)a->param_shape[0].d[1]);
}

/* The descriptor runs the gemm kernels (linear_gemm.c); the ones above are
 * their reference. */
static void forward(const cc_op_args *a)
{
    cc_linear_gemm_forward(a->out, a->in[0], a->param[0], a->param[1], rows_of(a), a->param_shape[0].d[1],
                           a->param_shape[0].d[0], a->scratch);
}

static void backward(const cc_op_args *a)
{
    cc_linear_gemm_backward(a->din[0], a->dparam[0], a->dparam[1], a->dout, a->in[0], a->param[0], rows_of(a),
                            a->param_shape[0].d[1], a->param_shape[0].d[0], a->scratch);
}

static size_t scratch_bytes(const cc_attrs *a, const cc_shape *in, int nin, const cc_shape *param,
                            const cc_shape *out)
{
    (void)a, (void)nin, (void)out;
    const int IN = param[0].d[1];
    return cc_linear_gemm_scratch((int)(cc_shape_numel(&in[0]) / (size_t)IN), IN, param[0].d[0]);
}

/* din needs only the weight; dweight needs the input. */
const cc_op cc_op_linear = {
    .name = "linear", .min_inputs = 1, .max_inputs = 1,
    .nparams = 2, .param_names = {"weight", "bias"}, .required_params = 1u,
    .saves_for_dinput = 0, .saves_for_dparam = CC_SAVES_INPUTS,
    .infer = infer, .forward = forward, .backward = backward, .scratch_bytes = scratch_bytes,
};
