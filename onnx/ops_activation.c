/* onnx/ops_activation.c — element-wise activations and the soft-maxes, each
 * onto the engine op of the same formula. Where ONNX spells one activation
 * with parameters (Clip, HardSigmoid), only the values PyTorch exports for
 * ReLU, ReLU6 and Hardsigmoid are read; another value is refused rather
 * than computed approximately. */
#include "onnx/import.h"

#include <math.h>

static cc_status unary(cc_ox *x, const Onnx__NodeProto *n, const char *op, const cc_ox_attr *a, int na)
{
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    return cc_ox_emit(x, n, 0, op, &in, 1, NULL, 0, a, na, NULL);
}

static cc_status relu(cc_ox *x, const Onnx__NodeProto *n)
{
    return unary(x, n, "relu", NULL, 0);
}

static cc_status sigmoid(cc_ox *x, const Onnx__NodeProto *n)
{
    return unary(x, n, "sigmoid", NULL, 0);
}

static cc_status hardswish(cc_ox *x, const Onnx__NodeProto *n)
{
    return unary(x, n, "hardswish", NULL, 0);
}

/* min and max: attributes before opset 11, optional constant inputs after. */
static cc_status clip(cc_ox *x, const Onnx__NodeProto *n)
{
    double lo = -INFINITY, hi = INFINITY;
    if (cc_ox_input(x, n, 1))
        CC_TRY(cc_ox_const_scalar(x, n, 1, &lo));
    if (cc_ox_input(x, n, 2))
        CC_TRY(cc_ox_const_scalar(x, n, 2, &hi));
    if (lo == 0 && hi == 6)
        return unary(x, n, "relu6", NULL, 0);
    if (lo == 0 && hi == INFINITY)
        return unary(x, n, "relu", NULL, 0);
    return cc_ox_fail(x, n, CC_EFORMAT, "Clip to [%g, %g]: cnncam reads Clip as ReLU6 ([0, 6]) or ReLU ([0, inf)) "
                      "only", lo, hi);
}

/* PyTorch's Hardsigmoid, relu6(x + 3) / 6, exports as alpha 1/6, beta 0.5. */
static cc_status hardsigmoid(cc_ox *x, const Onnx__NodeProto *n)
{
    cc_status st = CC_OK;
    const double alpha = cc_ox_attr_float(x, n, "alpha", 0.2, &st);
    const double beta = cc_ox_attr_float(x, n, "beta", 0.5, &st);
    if (st)
        return st;
    if ((float)alpha != (float)(1.0 / 6) || beta != 0.5)
        return cc_ox_fail(x, n, CC_EFORMAT, "HardSigmoid with alpha %g and beta %g: cnncam reads PyTorch's "
                          "Hardsigmoid (alpha 1/6, beta 0.5) only", alpha, beta);
    return unary(x, n, "hardsigmoid", NULL, 0);
}

static cc_status leaky_relu(cc_ox *x, const Onnx__NodeProto *n)
{
    cc_status st = CC_OK;
    const cc_ox_attr a = cc_ox_attr1("negative_slope", cc_ox_attr_float(x, n, "alpha", 0.01, &st));
    return st ? st : unary(x, n, "leaky_relu", &a, 1);
}

static cc_status elu(cc_ox *x, const Onnx__NodeProto *n)
{
    cc_status st = CC_OK;
    const cc_ox_attr a = cc_ox_attr1("alpha", cc_ox_attr_float(x, n, "alpha", 1.0, &st));
    return st ? st : unary(x, n, "elu", &a, 1);
}

/* Over the last axis only. Before opset 13 the op flattens the input to 2-D
 * at axis (default 1), which is the last axis's softmax when axis is the last. */
static cc_status soft(cc_ox *x, const Onnx__NodeProto *n, const char *op)
{
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    const int rank = cc_ox_shape(x, in)->rank;
    cc_status st = CC_OK;
    int64_t axis = cc_ox_attr_int(x, n, "axis", x->opset >= 13 ? -1 : 1, &st);
    if (st)
        return st;
    if (axis < 0)
        axis += rank;
    if (axis != rank - 1)
        return cc_ox_fail(x, n, CC_EFORMAT, "axis %lld of a rank-%d input: cnncam normalises over the last axis "
                          "only", (long long)axis, rank);
    const cc_ox_attr a = cc_ox_attr1("axis", rank - 1);
    return cc_ox_emit(x, n, 0, op, &in, 1, NULL, 0, &a, 1, NULL);
}

static cc_status softmax(cc_ox *x, const Onnx__NodeProto *n)
{
    return soft(x, n, "softmax");
}

static cc_status log_softmax(cc_ox *x, const Onnx__NodeProto *n)
{
    return soft(x, n, "log_softmax");
}

const cc_ox_op cc_ox_activation_ops[] = {
    {"Relu", relu},
    {"Clip", clip},
    {"Sigmoid", sigmoid},
    {"HardSigmoid", hardsigmoid},
    {"HardSwish", hardswish},
    {"LeakyRelu", leaky_relu},
    {"Elu", elu},
    {"Softmax", softmax},
    {"LogSoftmax", log_softmax},
    {NULL, NULL},
};
