/* onnx/ops_norm.c — LayerNormalization (opset 17), and the two ops PyTorch
 * exports as several nodes before it has one:
 *   F.layer_norm over the last dim, at opsets below 17:
 *     m = ReduceMean(x, -1); d = Sub(x, m); v = ReduceMean(Pow(d, 2), -1);
 *     y = Div(d, Sqrt(Add(v, eps))), then Mul by the weight, Add the bias;
 *   GELU (erf): y = Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5).
 * Each is matched at its first node, where every later node must read only
 * the one before (and the original x, where the formula does), and becomes
 * the engine's layer_norm or gelu: PyTorch's own fused formula, not the
 * decomposition's rounding. A partial match maps nothing and falls back to
 * the nodes one by one (which refuse what the engine cannot compute). */
#include "onnx/import.h"

#include <math.h>
#include <string.h>

/* Input i of n names the same value as the string v. */
static int reads(const Onnx__NodeProto *n, int i, const char *v)
{
    return i < (int)n->n_input && n->input[i] && !strcmp(n->input[i], v);
}

/* The constant input of a binary node whose other input is value v; NULL otherwise. */
static const cc_ox_const *const_beside(cc_ox *x, const Onnx__NodeProto *n, const char *v)
{
    for (int i = 0; i < 2; i++) {
        const cc_ox_value *c = cc_ox_input(x, n, 1 - i);
        if (reads(n, i, v) && c && c->kind == CC_OX_CONST)
            return &x->consts[c->cst];
    }
    return NULL;
}

static int is_scalar(const cc_ox_const *c, double v)
{
    return c && c->n == 1 && (float)cc_ox_get(c, 0) == (float)v;
}

/* axes = [-1] or [rank - 1], keepdims 1 (the default). */
static int over_last(cc_ox *x, const Onnx__NodeProto *n, int rank)
{
    cc_status st = CC_OK;
    int64_t axes[CC_MAX_RANK];
    const int k = cc_ox_attr_ints(x, n, "axes", axes, CC_MAX_RANK, &st);
    const int64_t keep = cc_ox_attr_int(x, n, "keepdims", 1, &st);
    return !st && k == 1 && (axes[0] == -1 || axes[0] == rank - 1) && keep == 1;
}

/* weight and bias of one value per channel after the normalised value y: Mul then Add. */
static const Onnx__NodeProto *affine(cc_ox *x, const Onnx__NodeProto *y, int C, const cc_ox_const **w,
                                     const cc_ox_const **b, const Onnx__NodeProto **mul)
{
    *w = *b = NULL;
    *mul = cc_ox_next(x, y, 0, "Mul");
    if (!*mul || !(*w = const_beside(x, *mul, y->output[0])) || (*w)->n != C || (*w)->i)
        return *w = NULL, *mul = NULL, y;
    const Onnx__NodeProto *add = cc_ox_next(x, *mul, 0, "Add");
    if (!add || !(*b = const_beside(x, add, (*mul)->output[0])) || (*b)->n != C || (*b)->i)
        return *b = NULL, *mul;
    return add;
}

static cc_status emit_layer_norm(cc_ox *x, const Onnx__NodeProto *first, const Onnx__NodeProto *last, int in,
                                 double eps, const cc_ox_const *w, const cc_ox_const *b)
{
    cc_ox_param p[2];
    int np = 0;
    const cc_shape cs = {1, {cc_ox_shape(x, in)->d[cc_ox_shape(x, in)->rank - 1]}};
    if (w) {
        p[np].role = "weight";
        CC_TRY(cc_ox_param_tensor(x, first, w, &cs, &p[np++].tensor));
    }
    if (b) {
        p[np].role = "bias";
        CC_TRY(cc_ox_param_tensor(x, first, b, &cs, &p[np++].tensor));
    }
    const cc_ox_attr a = cc_ox_attr1("eps", eps);
    int node;
    CC_TRY(cc_ox_emit(x, last, 0, "layer_norm", &in, 1, p, np, &a, 1, &node));
    return CC_OK;
}

int cc_ox_layer_norm_pattern(cc_ox *x, const Onnx__NodeProto *mean, cc_status *st)
{
    int in;
    const cc_ox_value *xv = cc_ox_input(x, mean, 0);
    if (!xv || xv->kind != CC_OX_ACT)
        return 0;
    in = xv->node;
    const int rank = cc_ox_shape(x, in)->rank, C = cc_ox_shape(x, in)->d[rank - 1];
    const char *xs = mean->input[0];
    if (!over_last(x, mean, rank))
        return 0;
    const Onnx__NodeProto *sub = cc_ox_next(x, mean, 0, "Sub");
    if (!sub || !reads(sub, 0, xs) || !reads(sub, 1, mean->output[0]) || cc_ox_uses(x, sub, 0) != 2)
        return 0;
    /* d feeds Pow and the final Div: tell them apart among its two readers. */
    const Onnx__NodeProto *r[2], *pow = NULL, *div = NULL;
    const int nr = cc_ox_readers(x, sub->output[0], r, 2);
    for (int k = 0; k < nr; k++) {
        if (reads(r[k], 0, sub->output[0]) && r[k]->op_type && !strcmp(r[k]->op_type, "Pow"))
            pow = r[k];
        if (reads(r[k], 0, sub->output[0]) && r[k]->op_type && !strcmp(r[k]->op_type, "Div"))
            div = r[k];
    }
    if (!pow || !div || !is_scalar(const_beside(x, pow, sub->output[0]), 2))
        return 0;
    const Onnx__NodeProto *var = cc_ox_next(x, pow, 0, "ReduceMean");
    if (!var || !over_last(x, var, rank))
        return 0;
    const Onnx__NodeProto *add = cc_ox_next(x, var, 0, "Add");
    const cc_ox_const *eps = add ? const_beside(x, add, var->output[0]) : NULL;
    const Onnx__NodeProto *sqrt_n = add ? cc_ox_next(x, add, 0, "Sqrt") : NULL;
    if (!eps || eps->n != 1 || !sqrt_n || cc_ox_next(x, sqrt_n, 0, "Div") != div || !reads(div, 1, sqrt_n->output[0]))
        return 0;
    const double e = cc_ox_shortest((float)cc_ox_get(eps, 0));
    if (!(e > 0 && e < 1))
        return 0;
    const cc_ox_const *w, *b;
    const Onnx__NodeProto *mul, *last = affine(x, div, C, &w, &b, &mul);
    const Onnx__NodeProto *taken[] = {sub, pow, var, add, sqrt_n, div, mul, last};
    for (int i = 0; i < 8; i++)
        if (taken[i])
            cc_ox_take(x, taken[i]);
    *st = emit_layer_norm(x, mean, last, in, e, w, b);
    return 1;
}

int cc_ox_gelu_pattern(cc_ox *x, const Onnx__NodeProto *div, cc_status *st)
{
    const cc_ox_value *xv = cc_ox_input(x, div, 0), *cv = cc_ox_input(x, div, 1);
    if (!xv || xv->kind != CC_OX_ACT || !cv || cv->kind != CC_OX_CONST || !is_scalar(&x->consts[cv->cst], sqrt(2)))
        return 0;
    const char *xs = div->input[0];
    const Onnx__NodeProto *erf = cc_ox_next(x, div, 0, "Erf");
    const Onnx__NodeProto *add = erf ? cc_ox_next(x, erf, 0, "Add") : NULL;
    const Onnx__NodeProto *mul = add ? cc_ox_next(x, add, 0, "Mul") : NULL;
    const Onnx__NodeProto *half = mul ? cc_ox_next(x, mul, 0, "Mul") : NULL;
    if (!half || !is_scalar(const_beside(x, add, erf->output[0]), 1) ||
        !((reads(mul, 0, xs) && reads(mul, 1, add->output[0])) || (reads(mul, 1, xs) && reads(mul, 0, add->output[0]))) ||
        !is_scalar(const_beside(x, half, mul->output[0]), 0.5))
        return 0;
    const Onnx__NodeProto *taken[] = {erf, add, mul, half};
    for (int i = 0; i < 4; i++)
        cc_ox_take(x, taken[i]);
    *st = cc_ox_emit(x, half, 0, "gelu", &xv->node, 1, NULL, 0, NULL, 0, NULL);
    return 1;
}

static cc_status layer_normalization(cc_ox *x, const Onnx__NodeProto *n)
{
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    const int rank = cc_ox_shape(x, in)->rank, C = cc_ox_shape(x, in)->d[rank - 1];
    cc_status st = CC_OK;
    const int64_t axis = cc_ox_attr_int(x, n, "axis", -1, &st);
    const double eps = cc_ox_attr_float(x, n, "epsilon", 1e-5, &st);
    if (st)
        return st;
    if (axis != -1 && axis != rank - 1)
        return cc_ox_fail(x, n, CC_EFORMAT, "axis %lld: cnncam normalises over the last axis only", (long long)axis);
    if (cc_ox_uses(x, n, 1) || cc_ox_uses(x, n, 2))
        return cc_ox_fail(x, n, CC_EFORMAT, "the mean and inverse deviation outputs are used; cnncam makes neither");
    const cc_ox_const *w = NULL, *b = NULL;
    CC_TRY(cc_ox_const_input(x, n, 1, &w));
    if (cc_ox_input(x, n, 2))
        CC_TRY(cc_ox_const_input(x, n, 2, &b));
    if (w->n != C || (b && b->n != C))
        return cc_ox_fail(x, n, CC_EFORMAT, "scale and bias need %d values each", C);
    return emit_layer_norm(x, n, n, in, eps, w, b);
}

static cc_status erf_alone(cc_ox *x, const Onnx__NodeProto *n)
{
    return cc_ox_fail(x, n, CC_EFORMAT, "cnncam reads Erf only inside GELU as PyTorch exports it "
                      "(x * (erf(x / sqrt 2) + 1) * 0.5)");
}

const cc_ox_op cc_ox_norm_ops[] = {
    {"LayerNormalization", layer_normalization},
    {"Erf", erf_alone},
    {NULL, NULL},
};
