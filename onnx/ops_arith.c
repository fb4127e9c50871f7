/* onnx/ops_arith.c — Add, Sub, Mul and Div with an activation on one side.
 *
 * Two activations: Add of equal shapes is add; Mul is the channel scale of
 * squeeze-excitation (N x C x H x W by N x C x 1 x 1), or, when one side is
 * Sigmoid or HardSigmoid of the other, the SiLU or Hardswish PyTorch
 * exported that way (x * sigmoid(x), x * hardsigmoid(x)), read as the
 * engine's silu and hardswish. With a constant: add_const and mul_const; a
 * constant right after a bias-less linear (MatMul's) becomes its bias. Sub
 * of a constant is the addition of its negation (exact); Div only by powers
 * of two (their reciprocals are exact), since a multiplication by any other
 * reciprocal would round differently from the division. */
#include "onnx/import.h"

#include <math.h>
#include <string.h>

/* The activation and the constant of a binary node with exactly one of each;
 * act_first: the activation is input 0. */
static int act_const(cc_ox *x, const Onnx__NodeProto *n, int *act, const cc_ox_const **c, int *act_first)
{
    const cc_ox_value *a = cc_ox_input(x, n, 0), *b = cc_ox_input(x, n, 1);
    if (!a || !b || (a->kind == CC_OX_ACT) == (b->kind == CC_OX_ACT))
        return 0;
    *act_first = a->kind == CC_OX_ACT;
    *act = *act_first ? a->node : b->node;
    *c = &x->consts[*act_first ? b->cst : a->cst];
    return 1;
}

/* A float copy of c, each value through f (negation, reciprocal; NULL: as it is). */
static cc_status mapped(cc_ox *x, const cc_ox_const *c, double (*f)(double), cc_ox_const *out)
{
    void *data;
    CC_TRY(cc_ox_new_const(x, c->rank, c->d, 0, out, &data));
    float *v = data;
    for (int64_t k = 0; k < c->n; k++)
        v[k] = (float)(f ? f(cc_ox_get(c, k)) : cc_ox_get(c, k));
    return CC_OK;
}

static double negate(double v)
{
    return -v;
}

static double reciprocal(double v)
{
    return 1 / v;
}

static cc_status with_const(cc_ox *x, const Onnx__NodeProto *n, const char *op, int act, const cc_ox_const *c)
{
    cc_ox_param p = {"value", 0};
    cc_ox_const fc = *c;
    if (c->i)
        CC_TRY(mapped(x, c, NULL, &fc));
    CC_TRY(cc_ox_param_tensor(x, n, &fc, NULL, &p.tensor));
    return cc_ox_emit(x, n, 0, op, &act, 1, &p, 1, NULL, 0, NULL);
}

/* MatMul then Add of a vector: the linear's bias, when nothing else reads the product. */
static int fold_bias(cc_ox *x, int act, const cc_ox_const *c)
{
    cc_ox_node *p = &x->nodes[act];
    if (act == 0 || strcmp(p->op->name, "linear") || p->nparams != 1 || c->i || c->rank != 1 ||
        c->d[0] != p->shape.d[p->shape.rank - 1] || cc_ox_uses(x, p->src, 0) != 1)
        return 0;
    return 1;
}

static cc_status add(cc_ox *x, const Onnx__NodeProto *n)
{
    int act, first;
    const cc_ox_const *c;
    if (act_const(x, n, &act, &c, &first)) {
        if (fold_bias(x, act, c)) {
            cc_ox_node *p = &x->nodes[act];
            p->param[1].role = "bias";
            CC_TRY(cc_ox_param_tensor(x, n, c, NULL, &p->param[1].tensor));
            p->nparams = 2;
            p->src = n;   /* the module's output: nn.Linear on a sequence exports as MatMul + Add */
            p->value = n->output[0];
            return cc_ox_bind(x, n, 0, act);
        }
        return with_const(x, n, "add_const", act, c);
    }
    int in[2];
    CC_TRY(cc_ox_act(x, n, 0, &in[0]));
    CC_TRY(cc_ox_act(x, n, 1, &in[1]));
    return cc_ox_emit(x, n, 0, "add", in, 2, NULL, 0, NULL, 0, NULL);
}

static cc_status sub(cc_ox *x, const Onnx__NodeProto *n)
{
    int act, first;
    const cc_ox_const *c;
    if (!act_const(x, n, &act, &c, &first) || !first)
        return cc_ox_fail(x, n, CC_EFORMAT, "cnncam reads Sub of a constant from an activation only");
    cc_ox_const neg;
    CC_TRY(mapped(x, c, negate, &neg));
    return with_const(x, n, "add_const", act, &neg);
}

static cc_status div_op(cc_ox *x, const Onnx__NodeProto *n)
{
    cc_status st = CC_OK;
    if (cc_ox_gelu_pattern(x, n, &st))   /* nn.GELU(): x / sqrt 2 starts it */
        return st;
    int act, first;
    const cc_ox_const *c;
    if (!act_const(x, n, &act, &c, &first) || !first)
        return cc_ox_fail(x, n, CC_EFORMAT, "cnncam reads Div of an activation by a constant only");
    for (int64_t k = 0; k < c->n; k++) {
        int e;
        const double v = cc_ox_get(c, k);
        if (!(v != 0) || !isfinite(v) || fabs(frexp(v, &e)) != 0.5)
            return cc_ox_fail(x, n, CC_EFORMAT, "division by %g: cnncam divides by powers of two only (their "
                              "reciprocals are exact)", v);
    }
    cc_ox_const r;
    CC_TRY(mapped(x, c, reciprocal, &r));
    return with_const(x, n, "mul_const", act, &r);
}

static cc_status mul(cc_ox *x, const Onnx__NodeProto *n)
{
    int act, first;
    const cc_ox_const *c;
    if (act_const(x, n, &act, &c, &first))
        return with_const(x, n, "mul_const", act, c);
    int in[2];
    CC_TRY(cc_ox_act(x, n, 0, &in[0]));
    CC_TRY(cc_ox_act(x, n, 1, &in[1]));
    for (int s = 0; s < 2; s++) {   /* x * f(x), either order */
        const int gate = in[s], other = in[1 - s];
        const cc_ox_node *g = &x->nodes[gate];
        if (gate == 0 || g->ninputs != 1 || g->input[0] != other)
            continue;
        if (!strcmp(g->op->name, "sigmoid"))
            return cc_ox_emit(x, n, 0, "silu", &other, 1, NULL, 0, NULL, 0, NULL);
        if (!strcmp(g->op->name, "hardsigmoid"))
            return cc_ox_emit(x, n, 0, "hardswish", &other, 1, NULL, 0, NULL, 0, NULL);
    }
    return cc_ox_emit(x, n, 0, "mul", in, 2, NULL, 0, NULL, 0, NULL);
}

const cc_ox_op cc_ox_arith_ops[] = {
    {"Add", add},
    {"Sub", sub},
    {"Mul", mul},
    {"Div", div_op},
    {NULL, NULL},
};
