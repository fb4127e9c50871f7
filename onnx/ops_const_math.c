/* onnx/ops_const_math.c — element-wise ops on constants, with NumPy
 * broadcasting, folded at load: arithmetic, comparisons, Where, Expand, Not,
 * Neg, Sqrt, and ConstantOfShape, Range and ScatterND, which exporters use to
 * build masks, index tables and shapes (Swin's attention masks, ViT's class
 * token expanded to the batch). Integers stay int64 and wrap as int64 does,
 * comparisons give 0 or 1, floats are float32 as ONNX Runtime computes them. */
#include "onnx/import.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The broadcast dims of n constants; 0 when they do not broadcast. */
static int broadcast(const cc_ox_const *const *c, int n, int64_t *dims, int *rank)
{
    *rank = 0;
    for (int k = 0; k < n; k++)
        *rank = c[k]->rank > *rank ? c[k]->rank : *rank;
    for (int i = 0; i < *rank; i++) {
        dims[i] = 1;
        for (int k = 0; k < n; k++) {
            const int at = i - (*rank - c[k]->rank);
            const int64_t d = at >= 0 ? c[k]->d[at] : 1;
            if (d != 1 && dims[i] != 1 && d != dims[i])
                return 0;
            dims[i] = d != 1 ? d : dims[i];
        }
    }
    return 1;
}

/* The element of c that output element k (of rank dims) reads. */
static int64_t source(const cc_ox_const *c, int rank, const int64_t *dims, int64_t k)
{
    int64_t at = 0, stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        const int64_t pos = k % dims[i];
        k /= dims[i];
        const int ci = i - (rank - c->rank);
        if (ci >= 0) {
            at += (c->d[ci] == 1 ? 0 : pos) * stride;
            stride *= c->d[ci];
        }
    }
    return at;
}

static cc_status binary(cc_ox *x, const Onnx__NodeProto *n, char op)
{
    const cc_ox_const *c[2];
    CC_TRY(cc_ox_const_input(x, n, 0, &c[0]));
    CC_TRY(cc_ox_const_input(x, n, 1, &c[1]));
    int64_t dims[CC_MAX_RANK];
    int rank;
    if (!broadcast(c, 2, dims, &rank))
        return cc_ox_fail(x, n, CC_EFORMAT, "constant shapes do not broadcast");
    const int compare = op == '=' || op == '<' || op == '>' || op == '&' || op == '|';
    const int is_int = compare || (c[0]->i && c[1]->i);
    cc_status st = CC_OK;
    const int64_t fmod_flag = op == '%' ? cc_ox_attr_int(x, n, "fmod", 0, &st) : 0;
    if (st)
        return st;
    cc_ox_const out;
    void *data;
    CC_TRY(cc_ox_new_const(x, rank, dims, is_int, &out, &data));
    for (int64_t k = 0; k < out.n; k++) {
        const int64_t ka = source(c[0], rank, dims, k), kb = source(c[1], rank, dims, k);
        if (compare) {
            const double u = cc_ox_get(c[0], ka), v = cc_ox_get(c[1], kb);
            ((int64_t *)data)[k] = op == '=' ? u == v : op == '<' ? u < v : op == '>' ? u > v
                                 : op == '&' ? (u != 0 && v != 0) : (u != 0 || v != 0);
        } else if (is_int) {
            const int64_t u = c[0]->i[ka], v = c[1]->i[kb];
            if ((op == '/' || op == '%') && (v == 0 || (v == -1 && u == INT64_MIN)))
                return cc_ox_fail(x, n, CC_EFORMAT, "integer division by zero, or of the least int64 by -1");
            const uint64_t uu = (uint64_t)u, uv = (uint64_t)v;   /* wrap around as int64 does */
            int64_t r = op == '+' ? (int64_t)(uu + uv) : op == '-' ? (int64_t)(uu - uv)
                      : op == '*' ? (int64_t)(uu * uv) : op == '/' ? u / v : u % v;
            if (op == '%' && !fmod_flag && r && (r < 0) != (v < 0))
                r += v;   /* Mod's default: the sign of the divisor, as Python's */
            ((int64_t *)data)[k] = r;
        } else {
            const float u = (float)cc_ox_get(c[0], ka), v = (float)cc_ox_get(c[1], kb);
            ((float *)data)[k] = op == '+' ? u + v : op == '-' ? u - v : op == '*' ? u * v : op == '/' ? u / v
                               : op == '^' ? powf(u, v) : fmodf(u, v);
        }
    }
    return cc_ox_bind_const(x, n, 0, &out);
}

static cc_status add(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '+'); }
static cc_status sub(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '-'); }
static cc_status mul(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '*'); }
static cc_status div_op(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '/'); }
static cc_status mod(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '%'); }
static cc_status pow_op(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '^'); }
static cc_status equal(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '='); }
static cc_status less(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '<'); }
static cc_status greater(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '>'); }
static cc_status and_op(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '&'); }
static cc_status or_op(cc_ox *x, const Onnx__NodeProto *n) { return binary(x, n, '|'); }

static cc_status unary(cc_ox *x, const Onnx__NodeProto *n, char op)
{
    const cc_ox_const *c;
    CC_TRY(cc_ox_const_input(x, n, 0, &c));
    const int is_int = op == '!' || (c->i && op == '-');
    cc_ox_const out;
    void *data;
    CC_TRY(cc_ox_new_const(x, c->rank, c->d, is_int, &out, &data));
    for (int64_t k = 0; k < c->n; k++) {
        if (op == '!')
            ((int64_t *)data)[k] = cc_ox_get(c, k) == 0;
        else if (is_int)
            ((int64_t *)data)[k] = (int64_t)(0 - (uint64_t)c->i[k]);
        else
            ((float *)data)[k] = op == '-' ? -(float)cc_ox_get(c, k) : sqrtf((float)cc_ox_get(c, k));
    }
    return cc_ox_bind_const(x, n, 0, &out);
}

static cc_status not_op(cc_ox *x, const Onnx__NodeProto *n) { return unary(x, n, '!'); }
static cc_status neg(cc_ox *x, const Onnx__NodeProto *n) { return unary(x, n, '-'); }
static cc_status sqrt_op(cc_ox *x, const Onnx__NodeProto *n) { return unary(x, n, 'r'); }

static cc_status where(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_const *c[3];
    for (int i = 0; i < 3; i++)
        CC_TRY(cc_ox_const_input(x, n, i, &c[i]));
    int64_t dims[CC_MAX_RANK];
    int rank;
    if (!broadcast(c, 3, dims, &rank))
        return cc_ox_fail(x, n, CC_EFORMAT, "constant shapes do not broadcast");
    const int is_int = c[1]->i && c[2]->i;
    cc_ox_const out;
    void *data;
    CC_TRY(cc_ox_new_const(x, rank, dims, is_int, &out, &data));
    for (int64_t k = 0; k < out.n; k++) {
        const cc_ox_const *pick = cc_ox_get(c[0], source(c[0], rank, dims, k)) != 0 ? c[1] : c[2];
        cc_ox_copy(&out, data, k, pick, source(pick, rank, dims, k));
    }
    return cc_ox_bind_const(x, n, 0, &out);
}

/* A constant's dims from a shape input (1-D, at most the engine's rank, 2^30 elements). */
static cc_status shape_input(cc_ox *x, const Onnx__NodeProto *n, int i, int64_t *dims, int *rank)
{
    CC_TRY(cc_ox_const_ints(x, n, i, dims, CC_MAX_RANK, rank));
    int64_t total = 1;
    for (int k = 0; k < *rank; k++) {
        if (dims[k] < 0 || (total && dims[k] > (int64_t)CC_MAX_NUMEL / total))
            return cc_ox_fail(x, n, CC_EFORMAT, "shape entry %d is %lld (negative, or past 2^30 elements)", k,
                              (long long)dims[k]);
        total *= dims[k];
    }
    return CC_OK;
}

static cc_status expand(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_const *c;
    CC_TRY(cc_ox_const_input(x, n, 0, &c));
    cc_ox_const shape = {0};
    CC_TRY(shape_input(x, n, 1, shape.d, &shape.rank));
    shape.n = 0;   /* only its dims take part in the broadcast */
    const cc_ox_const *both[2] = {c, &shape};
    int64_t dims[CC_MAX_RANK];
    int rank;
    if (!broadcast(both, 2, dims, &rank))
        return cc_ox_fail(x, n, CC_EFORMAT, "the constant does not broadcast to that shape");
    cc_ox_const out;
    void *data;
    CC_TRY(cc_ox_new_const(x, rank, dims, c->i != NULL, &out, &data));
    if (out.n > (int64_t)CC_MAX_NUMEL)
        return cc_ox_fail(x, n, CC_EFORMAT, "the result would have more than 2^30 elements");
    for (int64_t k = 0; k < out.n; k++)
        cc_ox_copy(&out, data, k, c, source(c, rank, dims, k));
    return cc_ox_bind_const(x, n, 0, &out);
}

static cc_status constant_of_shape(cc_ox *x, const Onnx__NodeProto *n)
{
    int64_t dims[CC_MAX_RANK];
    int rank;
    CC_TRY(shape_input(x, n, 0, dims, &rank));
    const Onnx__AttributeProto *a = cc_ox_attr_find(n, "value");
    cc_ox_const v = {0};
    if (a) {
        if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR || !a->t)
            return cc_ox_fail(x, n, CC_EFORMAT, "attribute 'value' must be a tensor of one value");
        CC_TRY(cc_ox_read_tensor(x, a->t, NULL, "its value", &v));
        if (v.n != 1)
            return cc_ox_fail(x, n, CC_EFORMAT, "attribute 'value' must hold one value, not %lld", (long long)v.n);
    }
    cc_ox_const out;
    void *data;
    CC_TRY(cc_ox_new_const(x, rank, dims, a && v.i, &out, &data));
    for (int64_t k = 0; k < out.n; k++)
        if (out.i)
            ((int64_t *)data)[k] = v.i[0];
        else
            ((float *)data)[k] = a ? (float)cc_ox_get(&v, 0) : 0.0f;
    return cc_ox_bind_const(x, n, 0, &out);
}

static cc_status range(cc_ox *x, const Onnx__NodeProto *n)
{
    double r[3];
    for (int i = 0; i < 3; i++)
        CC_TRY(cc_ox_const_scalar(x, n, i, &r[i]));
    const cc_ox_const *start;
    CC_TRY(cc_ox_const_input(x, n, 0, &start));
    if (r[2] == 0 || !isfinite(r[0]) || !isfinite(r[1]) || !isfinite(r[2]))
        return cc_ox_fail(x, n, CC_EFORMAT, "Range needs finite bounds and a delta other than 0");
    const double count = ceil((r[1] - r[0]) / r[2]);
    const int64_t len = count > 0 ? (int64_t)fmin(count, (double)CC_MAX_NUMEL + 1) : 0;
    if (len > (int64_t)CC_MAX_NUMEL)
        return cc_ox_fail(x, n, CC_EFORMAT, "the range has more than 2^30 elements");
    cc_ox_const out;
    void *data;
    CC_TRY(cc_ox_new_const(x, 1, &len, start->i != NULL, &out, &data));
    for (int64_t k = 0; k < len; k++)
        if (start->i)
            ((int64_t *)data)[k] = (int64_t)r[0] + k * (int64_t)r[2];
        else
            ((float *)data)[k] = (float)(r[0] + (double)k * r[2]);
    return cc_ox_bind_const(x, n, 0, &out);
}

/* data with updates written at indices (the last dim of indices indexes data's leading dims). */
static cc_status scatter_nd(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_const *data, *idx, *upd;
    CC_TRY(cc_ox_const_input(x, n, 0, &data));
    CC_TRY(cc_ox_const_input(x, n, 1, &idx));
    CC_TRY(cc_ox_const_input(x, n, 2, &upd));
    const int q = idx->rank ? (int)idx->d[idx->rank - 1] : 0;
    if (!idx->i || idx->rank < 1 || q < 1 || q > data->rank || !data->i != !upd->i)
        return cc_ox_fail(x, n, CC_EFORMAT, "ScatterND needs integer indices of depth 1 to the data's rank, and "
                          "updates of the data's type");
    int64_t slice = 1, count = idx->n / q;
    for (int i = q; i < data->rank; i++)
        slice *= data->d[i];
    if (upd->n != count * slice)
        return cc_ox_fail(x, n, CC_EFORMAT, "ScatterND's updates hold %lld values; the indices need %lld",
                          (long long)upd->n, (long long)(count * slice));
    cc_ox_const out;
    void *dst;
    CC_TRY(cc_ox_new_const(x, data->rank, data->d, data->i != NULL, &out, &dst));
    for (int64_t k = 0; k < data->n; k++)
        cc_ox_copy(&out, dst, k, data, k);
    for (int64_t j = 0; j < count; j++) {
        int64_t at = 0;
        for (int i = 0; i < q; i++) {
            int64_t p = idx->i[j * q + i];
            p = p < 0 ? p + data->d[i] : p;
            if (p < 0 || p >= data->d[i])
                return cc_ox_fail(x, n, CC_EFORMAT, "ScatterND index %lld is outside 0..%lld",
                                  (long long)idx->i[j * q + i], (long long)data->d[i] - 1);
            at = at * data->d[i] + p;
        }
        for (int64_t s = 0; s < slice; s++)
            cc_ox_copy(&out, dst, at * slice + s, upd, j * slice + s);
    }
    return cc_ox_bind_const(x, n, 0, &out);
}

const cc_ox_op cc_ox_const_math_ops[] = {
    {"Add", add}, {"Sub", sub}, {"Mul", mul}, {"Div", div_op}, {"Mod", mod}, {"Pow", pow_op},
    {"Equal", equal}, {"Less", less}, {"Greater", greater}, {"And", and_op}, {"Or", or_op},
    {"Not", not_op}, {"Neg", neg}, {"Sqrt", sqrt_op}, {"Where", where}, {"Expand", expand},
    {"ConstantOfShape", constant_of_shape}, {"Range", range}, {"ScatterND", scatter_nd},
    {NULL, NULL},
};
