/* onnx/ops_linear.c — Gemm and MatMul. A product with a constant matrix is
 * the engine's linear (weight N x K, the layout of nn.Linear, which Gemm's
 * transB = 1 already has; other layouts are transposed once here); a product
 * of two activations is the engine's batched matmul. */
#include "onnx/import.h"

/* The K x N constant b as an N x K weight. */
static cc_status transposed(cc_ox *x, const cc_ox_const *b, cc_ox_const *out)
{
    const int64_t K = b->d[0], N = b->d[1], d[2] = {N, K};
    void *data;
    CC_TRY(cc_ox_new_const(x, 2, d, 0, out, &data));
    float *w = data;
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++)
            w[j * K + k] = (float)cc_ox_get(b, k * N + j);
    return CC_OK;
}

static cc_status gemm(cc_ox *x, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"alpha", "beta", "transA", "transB", NULL};
    CC_TRY(cc_ox_attr_only(x, n, known));
    cc_status st = CC_OK;
    const double alpha = cc_ox_attr_float(x, n, "alpha", 1, &st), beta = cc_ox_attr_float(x, n, "beta", 1, &st);
    const int64_t ta = cc_ox_attr_int(x, n, "transA", 0, &st), tb = cc_ox_attr_int(x, n, "transB", 0, &st);
    if (st)
        return st;
    if (alpha != 1 || beta != 1 || ta)
        return cc_ox_fail(x, n, CC_EFORMAT, "cnncam reads Gemm as nn.Linear: alpha 1, beta 1, transA 0 (got %g, %g, "
                          "%lld)", alpha, beta, (long long)ta);
    int in;
    const cc_ox_const *b, *c = NULL;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    CC_TRY(cc_ox_const_input(x, n, 1, &b));
    if (cc_ox_input(x, n, 2))
        CC_TRY(cc_ox_const_input(x, n, 2, &c));
    if (b->rank != 2 || b->i)
        return cc_ox_fail(x, n, CC_EFORMAT, "B must be a float matrix");
    cc_ox_const w = *b;
    if (!tb)
        CC_TRY(transposed(x, b, &w));
    const int64_t N = w.d[0];
    cc_ox_param p[2] = {{"weight", 0}, {"bias", 0}};
    CC_TRY(cc_ox_param_tensor(x, n, &w, NULL, &p[0].tensor));
    if (c) {
        if (c->n != N)
            return cc_ox_fail(x, n, CC_EFORMAT, "C has %lld values; cnncam reads a bias of one per output (%lld)",
                              (long long)c->n, (long long)N);
        const cc_shape bs = {1, {(int)N}};
        CC_TRY(cc_ox_param_tensor(x, n, c, &bs, &p[1].tensor));
    }
    return cc_ox_emit(x, n, 0, "linear", &in, 1, p, c ? 2 : 1, NULL, 0, NULL);
}

static cc_status matmul(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_value *bv = cc_ox_input(x, n, 1);
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    if (bv && bv->kind == CC_OX_CONST) {
        const cc_ox_const *b = &x->consts[bv->cst];
        if (b->rank != 2 || b->i)
            return cc_ox_fail(x, n, CC_EFORMAT, "a constant second operand must be a float matrix");
        cc_ox_const w;
        CC_TRY(transposed(x, b, &w));
        cc_ox_param p = {"weight", 0};
        CC_TRY(cc_ox_param_tensor(x, n, &w, NULL, &p.tensor));
        return cc_ox_emit(x, n, 0, "linear", &in, 1, &p, 1, NULL, 0, NULL);
    }
    int in2[2] = {in, 0};
    CC_TRY(cc_ox_act(x, n, 1, &in2[1]));
    return cc_ox_emit(x, n, 0, "matmul", in2, 2, NULL, 0, NULL, 0, NULL);
}

const cc_ox_op cc_ox_linear_ops[] = {
    {"Gemm", gemm},
    {"MatMul", matmul},
    {NULL, NULL},
};
