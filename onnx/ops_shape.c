/* onnx/ops_shape.c — ops that move values without computing: Flatten,
 * Reshape, Squeeze, Unsqueeze (all reshapes of the one-image shape; the
 * engine scales dim 0 with the batch), Transpose, Concat, Split and Slice,
 * and Identity and Dropout, which make no node at all. Dim 0 is the batch:
 * an op that would move or cut it is refused. */
#include "onnx/import.h"

#include <stdint.h>
#include <string.h>

static cc_status pass_through(cc_ox *x, const Onnx__NodeProto *n)
{
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    if (n->n_output > 1 && cc_ox_uses(x, n, 1))
        return cc_ox_fail(x, n, CC_EFORMAT, "output 1 (the dropout mask) is used; inference has none");
    return cc_ox_bind(x, n, 0, in);
}

/* A reshape of in to dims (one image); flatten when it merges every dim after the first. */
static cc_status reshape_to(cc_ox *x, const Onnx__NodeProto *n, int in, const int64_t *dims, int rank)
{
    const cc_shape *s = cc_ox_shape(x, in);
    if (rank < 1 || rank > CC_MAX_RANK)
        return cc_ox_fail(x, n, CC_EFORMAT, "the result would have rank %d; the engine holds 1 to %d", rank,
                          CC_MAX_RANK);
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 1 || dims[i] > (int64_t)CC_MAX_NUMEL)
            return cc_ox_fail(x, n, CC_EFORMAT, "dimension %d of the result is %lld", i, (long long)dims[i]);
        numel *= dims[i];
        if (numel > (int64_t)CC_MAX_NUMEL)
            return cc_ox_fail(x, n, CC_EFORMAT, "the result has more than 2^30 elements");
    }
    if (numel != (int64_t)cc_shape_numel(s))
        return cc_ox_fail(x, n, CC_EFORMAT, "cannot reshape %zu values to %lld", cc_shape_numel(s), (long long)numel);
    if (rank == 2 && dims[0] == s->d[0] && s->rank > 2) {
        const cc_ox_attr a = cc_ox_attr1("start_dim", 1);
        return cc_ox_emit(x, n, 0, "flatten", &in, 1, NULL, 0, &a, 1, NULL);
    }
    cc_ox_attr a = {"shape", {0}, rank};
    for (int i = 0; i < rank; i++)
        a.v[i] = (double)dims[i];
    return cc_ox_emit(x, n, 0, "reshape", &in, 1, NULL, 0, &a, 1, NULL);
}

static cc_status flatten(cc_ox *x, const Onnx__NodeProto *n)
{
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    cc_status st = CC_OK;
    int64_t axis = cc_ox_attr_int(x, n, "axis", 1, &st);
    if (st)
        return st;
    const cc_shape *s = cc_ox_shape(x, in);
    if (axis < 0)
        axis += s->rank;
    if (axis != 1)
        return cc_ox_fail(x, n, CC_EFORMAT, "Flatten at axis %lld: cnncam keeps dim 0, the batch, so reads axis 1 "
                          "only", (long long)axis);
    const int64_t dims[2] = {s->d[0], (int64_t)(cc_shape_numel(s) / (size_t)s->d[0])};
    if (s->rank == 2)
        return cc_ox_bind(x, n, 0, in);
    return reshape_to(x, n, in, dims, 2);
}

static cc_status reshape(cc_ox *x, const Onnx__NodeProto *n)
{
    int in, k;
    int64_t v[CC_MAX_RANK];
    CC_TRY(cc_ox_act(x, n, 0, &in));
    CC_TRY(cc_ox_const_ints(x, n, 1, v, CC_MAX_RANK, &k));
    cc_status st = CC_OK;
    const int64_t allowzero = cc_ox_attr_int(x, n, "allowzero", 0, &st);
    if (st)
        return st;
    const cc_shape *s = cc_ox_shape(x, in);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < k; i++) {
        if (v[i] == 0 && !allowzero) {
            if (i >= s->rank)
                return cc_ox_fail(x, n, CC_EFORMAT, "shape entry %d is 0 (copy), but the input has rank %d", i,
                                  s->rank);
            v[i] = s->d[i];
        }
        if (v[i] == -1) {
            if (infer >= 0)
                return cc_ox_fail(x, n, CC_EFORMAT, "the shape has more than one -1");
            infer = i;
        } else if (v[i] < 1) {
            return cc_ox_fail(x, n, CC_EFORMAT, "shape entry %d is %lld", i, (long long)v[i]);
        } else {
            if (v[i] > (int64_t)CC_MAX_NUMEL / known)
                return cc_ox_fail(x, n, CC_EFORMAT, "the shape has more than 2^30 elements");
            known *= v[i];
        }
    }
    if (infer >= 0) {
        const int64_t total = (int64_t)cc_shape_numel(s);
        if (total % known)
            return cc_ox_fail(x, n, CC_EFORMAT, "cannot reshape %lld values into a multiple of %lld",
                              (long long)total, (long long)known);
        v[infer] = total / known;
    }
    return reshape_to(x, n, in, v, k);
}

static cc_status squeeze_or_unsqueeze(cc_ox *x, const Onnx__NodeProto *n, int unsqueeze)
{
    int in, r;
    int64_t d[CC_MAX_RANK], dims[CC_MAX_RANK];
    CC_TRY(cc_ox_act(x, n, 0, &in));
    const cc_shape *s = cc_ox_shape(x, in);
    for (int i = 0; i < s->rank; i++)
        d[i] = s->d[i];
    CC_TRY(cc_ox_squeeze(x, n, unsqueeze, d, s->rank, 1, dims, &r));
    return reshape_to(x, n, in, dims, r);
}

static cc_status squeeze(cc_ox *x, const Onnx__NodeProto *n)
{
    return squeeze_or_unsqueeze(x, n, 0);
}

static cc_status unsqueeze(cc_ox *x, const Onnx__NodeProto *n)
{
    return squeeze_or_unsqueeze(x, n, 1);
}

static cc_status transpose(cc_ox *x, const Onnx__NodeProto *n)
{
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    const int rank = cc_ox_shape(x, in)->rank;
    cc_status st = CC_OK;
    int64_t perm[CC_MAX_RANK];
    int k = cc_ox_attr_ints(x, n, "perm", perm, CC_MAX_RANK, &st);
    if (st)
        return st;
    if (!k)   /* default: reverse the dims, which moves the batch */
        k = rank, perm[0] = rank - 1;
    if (k != rank || perm[0] != 0)
        return cc_ox_fail(x, n, CC_EFORMAT, "cnncam transposes the dims after the batch only (perm[0] must be 0)");
    cc_ox_attr a = {"perm", {0}, k};
    for (int i = 0; i < k; i++)
        a.v[i] = (double)perm[i];
    return cc_ox_emit(x, n, 0, "permute", &in, 1, NULL, 0, &a, 1, NULL);
}

/* One activation between constants of one image (a class token before the
 * patches: torch.cat([token.expand(n, -1, -1), x], 1)): zeros padded around
 * the activation, then the constants added over them, as the converter stores
 * a class token (weights/FORMAT.md); x + 0 and 0 + token are exact. */
static cc_status concat_constants(cc_ox *x, const Onnx__NodeProto *n, int act, int axis)
{
    const cc_shape s = *cc_ox_shape(x, act);
    if (axis < 1 || axis >= s.rank)
        return cc_ox_fail(x, n, CC_EFORMAT, "axis %d: cnncam concatenates along a dim after the batch", axis);
    int64_t before = 0, after = 0, seen = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        const cc_ox_value *v = cc_ox_input(x, n, (int)i);
        if (v->kind == CC_OX_ACT) {
            if (v->node != act || seen++)
                return cc_ox_fail(x, n, CC_EFORMAT, "cnncam concatenates constants with one activation only");
            continue;
        }
        const cc_ox_const *c = &x->consts[v->cst];
        if (c->rank != s.rank || c->d[0] != 1)
            return cc_ox_fail(x, n, CC_EFORMAT, "constant input %zu must be one image's (dim 0 of 1) of rank %d", i,
                              s.rank);
        for (int k = 1; k < s.rank; k++)
            if (k != axis && c->d[k] != s.d[k])
                return cc_ox_fail(x, n, CC_EFORMAT, "constant input %zu does not match the activation", i);
        *(seen ? &after : &before) += c->d[axis];
    }
    cc_ox_attr pads = {"pads", {0}, 2 * s.rank};
    pads.v[2 * axis] = (double)before, pads.v[2 * axis + 1] = (double)after;
    int padded;
    CC_TRY(cc_ox_emit(x, n, -1, "pad", &act, 1, NULL, 0, &pads, 1, &padded));
    const cc_shape ps = *cc_ox_shape(x, padded);
    int64_t dims[CC_MAX_RANK];
    for (int k = 0; k < ps.rank; k++)
        dims[k] = k ? ps.d[k] : 1;
    cc_ox_const over;
    void *data;
    CC_TRY(cc_ox_new_const(x, ps.rank, dims, 0, &over, &data));
    float *o = data;
    memset(o, 0, (size_t)over.n * sizeof *o);
    int64_t outer = 1, inner = 1;
    for (int k = 1; k < axis; k++)
        outer *= ps.d[k];
    for (int k = axis + 1; k < ps.rank; k++)
        inner *= ps.d[k];
    int64_t at = 0;   /* where along the axis the next input starts */
    for (size_t i = 0; i < n->n_input; i++) {
        const cc_ox_value *v = cc_ox_input(x, n, (int)i);
        if (v->kind == CC_OX_ACT) {
            at += s.d[axis];
            continue;
        }
        const cc_ox_const *c = &x->consts[v->cst];
        const int64_t len = c->d[axis];
        for (int64_t p = 0; p < outer; p++)
            for (int64_t j = 0; j < len; j++)
                for (int64_t q = 0; q < inner; q++)
                    o[(p * ps.d[axis] + at + j) * inner + q] = (float)cc_ox_get(c, (p * len + j) * inner + q);
        at += len;
    }
    cc_ox_param p = {"value", 0};
    CC_TRY(cc_ox_param_tensor(x, n, &over, NULL, &p.tensor));
    return cc_ox_emit(x, n, 0, "add_const", &padded, 1, &p, 1, NULL, 0, NULL);
}

static cc_status concat(cc_ox *x, const Onnx__NodeProto *n)
{
    int in[CC_MAX_INPUTS];
    if (n->n_input < 1 || n->n_input > CC_MAX_INPUTS)
        return cc_ox_fail(x, n, CC_EFORMAT, "%zu inputs; cnncam concatenates 1 to %d", n->n_input, CC_MAX_INPUTS);
    int act = -1, consts = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        const cc_ox_value *v = cc_ox_input(x, n, (int)i);
        if (v && v->kind == CC_OX_CONST)
            consts++;
        else if (v && v->kind == CC_OX_ACT)
            act = v->node;
    }
    if (consts && act >= 0) {
        cc_status st = CC_OK;
        int64_t axis = cc_ox_attr_int(x, n, "axis", 0, &st);
        if (st)
            return st;
        const int rank = cc_ox_shape(x, act)->rank;
        return concat_constants(x, n, act, (int)(axis < 0 ? axis + rank : axis));
    }
    for (size_t i = 0; i < n->n_input; i++)
        CC_TRY(cc_ox_act(x, n, (int)i, &in[i]));
    cc_status st = CC_OK;
    int64_t axis = cc_ox_attr_int(x, n, "axis", INT64_MIN, &st);
    if (st)
        return st;
    const int rank = cc_ox_shape(x, in[0])->rank;
    if (axis == INT64_MIN)
        return cc_ox_fail(x, n, CC_EFORMAT, "attribute 'axis' is required");
    if (axis < 0)
        axis += rank;
    if (axis < 1 || axis >= rank)
        return cc_ox_fail(x, n, CC_EFORMAT, "axis %lld: cnncam concatenates along a dim after the batch",
                          (long long)axis);
    if (n->n_input == 1)
        return cc_ox_bind(x, n, 0, in[0]);
    const cc_ox_attr a = cc_ox_attr1("axis", (double)axis);
    return cc_ox_emit(x, n, 0, "concat", in, (int)n->n_input, NULL, 0, &a, 1, NULL);
}

static cc_status slice_one(cc_ox *x, const Onnx__NodeProto *n, int o, int in, int axis, int64_t start,
                           int64_t end, int64_t step, int *node)
{
    const cc_ox_attr a[4] = {cc_ox_attr1("axis", axis), cc_ox_attr1("start", (double)start),
                             cc_ox_attr1("end", (double)end), cc_ox_attr1("step", (double)step)};
    return cc_ox_emit(x, n, o, "slice", &in, 1, NULL, 0, a, 4, node);
}

static cc_status split(cc_ox *x, const Onnx__NodeProto *n)
{
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    const cc_shape *s = cc_ox_shape(x, in);
    cc_status st = CC_OK;
    int64_t axis = cc_ox_attr_int(x, n, "axis", 0, &st);
    int64_t sizes[CC_MAX_INPUTS];
    int k = 0;
    if (x->opset < 13)
        k = cc_ox_attr_ints(x, n, "split", sizes, CC_MAX_INPUTS, &st);
    else if (cc_ox_input(x, n, 1))
        CC_TRY(cc_ox_const_ints(x, n, 1, sizes, CC_MAX_INPUTS, &k));
    if (st)
        return st;
    if (axis < 0)
        axis += s->rank;
    const int outs = (int)n->n_output;
    if (axis < 1 || axis >= s->rank || outs < 1 || outs > CC_MAX_INPUTS || (k && k != outs))
        return cc_ox_fail(x, n, CC_EFORMAT, "a split along axis %lld into %d outputs that cnncam cannot read",
                          (long long)axis, outs);
    const int64_t dim = s->d[axis];
    if (!k) {
        if (dim % outs)
            return cc_ox_fail(x, n, CC_EFORMAT, "%lld does not split into %d equal parts", (long long)dim, outs);
        for (int i = 0; i < outs; i++)
            sizes[i] = dim / outs;
    }
    int64_t start = 0;
    for (int i = 0; i < outs; i++) {
        if (sizes[i] < 1 || sizes[i] > dim - start)
            return cc_ox_fail(x, n, CC_EFORMAT, "split sizes do not add up to %lld", (long long)dim);
        CC_TRY(slice_one(x, n, i, in, (int)axis, start, start + sizes[i], 1, NULL));
        start += sizes[i];
    }
    if (start != dim)
        return cc_ox_fail(x, n, CC_EFORMAT, "split sizes add up to %lld, not %lld", (long long)start,
                          (long long)dim);
    return CC_OK;
}

/* Slice (opset 10+: starts, ends, axes, steps as inputs): one engine slice
 * per axis that is not taken whole, the last of them making the output. */
static cc_status slice(cc_ox *x, const Onnx__NodeProto *n)
{
    int in, ks, ke, ka = 0, kt = 0;
    int64_t starts[CC_MAX_RANK], ends[CC_MAX_RANK], axes[CC_MAX_RANK], steps[CC_MAX_RANK];
    CC_TRY(cc_ox_act(x, n, 0, &in));
    CC_TRY(cc_ox_const_ints(x, n, 1, starts, CC_MAX_RANK, &ks));
    CC_TRY(cc_ox_const_ints(x, n, 2, ends, CC_MAX_RANK, &ke));
    if (cc_ox_input(x, n, 3))
        CC_TRY(cc_ox_const_ints(x, n, 3, axes, CC_MAX_RANK, &ka));
    if (cc_ox_input(x, n, 4))
        CC_TRY(cc_ox_const_ints(x, n, 4, steps, CC_MAX_RANK, &kt));
    if (ke != ks || (ka && ka != ks) || (kt && kt != ks) || ks < 1)
        return cc_ox_fail(x, n, CC_EFORMAT, "starts, ends, axes and steps differ in length");
    const cc_shape *s = cc_ox_shape(x, in);   /* slices keep the rank, and each axis is cut once */
    int64_t cut[CC_MAX_RANK][4];               /* axis, start, end, step */
    int ncut = 0;
    for (int i = 0; i < ks; i++) {
        int64_t axis = ka ? axes[i] : i;
        if (axis < 0)
            axis += s->rank;
        const int64_t step = kt ? steps[i] : 1;
        if (axis < 1 || axis >= s->rank || step < 1)
            return cc_ox_fail(x, n, CC_EFORMAT, "cnncam slices dims after the batch, forwards (axis %lld, step %lld)",
                              (long long)axis, (long long)step);
        const int64_t dim = s->d[axis];
        int64_t b = starts[i] < 0 ? starts[i] + dim : starts[i];
        int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
        b = b < 0 ? 0 : b > dim ? dim : b;
        e = e < 0 ? 0 : e > dim ? dim : e;
        if (e <= b)
            return cc_ox_fail(x, n, CC_EFORMAT, "the slice of axis %lld is empty", (long long)axis);
        if (b > 0 || e < dim || step > 1) {
            const int64_t c[4] = {axis, b, e, step};
            memcpy(cut[ncut++], c, sizeof c);
        }
    }
    if (!ncut)
        return cc_ox_bind(x, n, 0, in);
    int cur = in;
    for (int i = 0; i < ncut; i++)
        CC_TRY(slice_one(x, n, i == ncut - 1 ? 0 : -1, cur, (int)cut[i][0], cut[i][1], cut[i][2], cut[i][3], &cur));
    return CC_OK;
}

/* Zero padding (mode constant, value 0; pads from opset 11 an input, ONNX's
 * order all begins then all ends), as the engine's pad: (before, after) per
 * dimension. Padding of nothing, which exporters write before some pools, is
 * no node at all. */
static cc_status pad(cc_ox *x, const Onnx__NodeProto *n)
{
    int in, k;
    int64_t p[2 * CC_MAX_RANK];
    CC_TRY(cc_ox_act(x, n, 0, &in));
    CC_TRY(cc_ox_const_ints(x, n, 1, p, 2 * CC_MAX_RANK, &k));
    cc_status st = CC_OK;
    const char *mode = cc_ox_attr_string(x, n, "mode", "constant", &st);
    if (st)
        return st;
    double value = 0;
    if (cc_ox_input(x, n, 2))
        CC_TRY(cc_ox_const_scalar(x, n, 2, &value));
    if (cc_ox_input(x, n, 3))
        return cc_ox_fail(x, n, CC_EFORMAT, "padding selected axes (input 'axes') is not supported");
    const cc_shape *s = cc_ox_shape(x, in);
    if (strcmp(mode, "constant") || value != 0 || k != 2 * s->rank)
        return cc_ox_fail(x, n, CC_EFORMAT, "cnncam reads zero padding (mode constant, value 0) of every axis only "
                          "(mode '%s', value %g)", mode, value);
    cc_ox_attr a = {"pads", {0}, 2 * s->rank};
    int any = 0;
    for (int i = 0; i < s->rank; i++) {
        if (p[i] < 0 || p[s->rank + i] < 0 || p[i] > 65536 || p[s->rank + i] > 65536 || (i == 0 && (p[0] || p[s->rank])))
            return cc_ox_fail(x, n, CC_EFORMAT, "pads of axis %d are %lld and %lld; cnncam pads by 0 to 65536 and "
                              "never the batch", i, (long long)p[i], (long long)p[s->rank + i]);
        a.v[2 * i] = (double)p[i];
        a.v[2 * i + 1] = (double)p[s->rank + i];
        any |= p[i] || p[s->rank + i];
    }
    if (!any)
        return cc_ox_bind(x, n, 0, in);
    return cc_ox_emit(x, n, 0, "pad", &in, 1, NULL, 0, &a, 1, NULL);
}

const cc_ox_op cc_ox_shape_ops[] = {
    {"Pad", pad},
    {"Identity", pass_through},
    {"Dropout", pass_through},
    {"Flatten", flatten},
    {"Reshape", reshape},
    {"Squeeze", squeeze},
    {"Unsqueeze", unsqueeze},
    {"Transpose", transpose},
    {"Concat", concat},
    {"Split", split},
    {"Slice", slice},
    {NULL, NULL},
};
