/* onnx/ops_const.c — nodes whose inputs are all constants, computed here
 * once (constant folding), and Shape, whose value is known from the shapes
 * the import infers. Exporters compute reshape targets this way:
 * x.view(x.size(0), -1) becomes Shape -> Gather -> Unsqueeze -> Concat ->
 * Reshape. Shapes are those of one image; the batch stays dim 0, which the
 * engine's reshape scales. Integers stay int64, floats float. */
#include "onnx/import.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static cc_status constant(cc_ox *x, const Onnx__NodeProto *n)
{
    const Onnx__AttributeProto *a = cc_ox_attr_find(n, "value");
    cc_ox_const c;
    void *data;
    if (a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR && a->t) {
        CC_TRY(cc_ox_read_tensor(x, a->t, NULL, "its value", &c));
        return cc_ox_bind_const(x, n, 0, &c);
    }
    if ((a = cc_ox_attr_find(n, "value_float")) || (a = cc_ox_attr_find(n, "value_int"))) {
        const int is_int = a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        CC_TRY(cc_ox_new_const(x, 0, NULL, is_int, &c, &data));
        if (is_int)
            *(int64_t *)data = a->i;
        else
            *(float *)data = a->f;
        return cc_ox_bind_const(x, n, 0, &c);
    }
    if ((a = cc_ox_attr_find(n, "value_ints")) || (a = cc_ox_attr_find(n, "value_floats"))) {
        const int is_int = a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        const int64_t len = is_int ? (int64_t)a->n_ints : (int64_t)a->n_floats;
        CC_TRY(cc_ox_new_const(x, 1, &len, is_int, &c, &data));
        if (len)
            memcpy(data, is_int ? (void *)a->ints : (void *)a->floats, (size_t)len * (is_int ? 8 : 4));
        return cc_ox_bind_const(x, n, 0, &c);
    }
    return cc_ox_fail(x, n, CC_EFORMAT, "a Constant needs a tensor, float(s) or int(s) value");
}

static cc_status shape(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_value *v = cc_ox_input(x, n, 0);
    cc_shape s;
    if (v && v->kind == CC_OX_ACT) {
        s = *cc_ox_shape(x, v->node);
    } else {
        const cc_ox_const *c;
        CC_TRY(cc_ox_const_input(x, n, 0, &c));
        s.rank = c->rank;
        for (int i = 0; i < c->rank; i++)
            s.d[i] = (int)c->d[i];
    }
    cc_status st = CC_OK;
    int64_t lo = cc_ox_attr_int(x, n, "start", 0, &st), hi = cc_ox_attr_int(x, n, "end", s.rank, &st);
    if (st)
        return st;
    lo = lo < 0 ? lo + s.rank : lo, hi = hi < 0 ? hi + s.rank : hi;
    lo = lo < 0 ? 0 : lo > s.rank ? s.rank : lo, hi = hi < lo ? lo : hi > s.rank ? s.rank : hi;
    if (v && v->kind == CC_OX_ACT && (x->input_h_free || x->input_w_free) && hi > (lo > 1 ? lo : 1))
        return cc_ox_fail(x, n, CC_EFORMAT, "the model reads a shape that depends on the image size, which the file "
                          "leaves symbolic; export it with a fixed height and width");
    const int64_t len = hi - lo;
    cc_ox_const c;
    void *data;
    CC_TRY(cc_ox_new_const(x, 1, &len, 1, &c, &data));
    for (int64_t i = 0; i < len; i++)
        ((int64_t *)data)[i] = s.d[lo + i];
    return cc_ox_bind_const(x, n, 0, &c);
}

static cc_status gather(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_const *d, *idx;
    CC_TRY(cc_ox_const_input(x, n, 0, &d));
    CC_TRY(cc_ox_const_input(x, n, 1, &idx));
    cc_status st = CC_OK;
    int64_t axis = cc_ox_attr_int(x, n, "axis", 0, &st);
    if (st)
        return st;
    if (axis < 0)
        axis += d->rank;
    if (axis < 0 || axis >= d->rank || !idx->i || d->rank - 1 + idx->rank > CC_MAX_RANK)
        return cc_ox_fail(x, n, CC_EFORMAT, "cannot gather integer indices along axis %lld of a rank-%d constant",
                          (long long)axis, d->rank);
    int64_t dims[CC_MAX_RANK], outer = 1, inner = 1;
    int r = 0;
    for (int i = 0; i < axis; i++)
        dims[r++] = d->d[i], outer *= d->d[i];
    for (int i = 0; i < idx->rank; i++)
        dims[r++] = idx->d[i];
    for (int i = (int)axis + 1; i < d->rank; i++)
        dims[r++] = d->d[i], inner *= d->d[i];
    const int64_t len = d->d[axis];
    cc_ox_const c;
    void *data;
    CC_TRY(cc_ox_new_const(x, r, dims, d->i != NULL, &c, &data));
    for (int64_t o = 0, k = 0; o < outer; o++)
        for (int64_t j = 0; j < idx->n; j++) {
            const int64_t at = idx->i[j] < 0 ? idx->i[j] + len : idx->i[j];
            if (at < 0 || at >= len)
                return cc_ox_fail(x, n, CC_EFORMAT, "index %lld is outside 0..%lld", (long long)idx->i[j],
                                  (long long)len - 1);
            for (int64_t i = 0; i < inner; i++, k++)
                cc_ox_copy(&c, data, k, d, (o * len + at) * inner + i);
        }
    return cc_ox_bind_const(x, n, 0, &c);
}

/* Copies c with new dims (same count). */
static cc_status redim(cc_ox *x, const Onnx__NodeProto *n, const cc_ox_const *c, const int64_t *dims, int rank)
{
    cc_ox_const r = *c;
    int64_t k = 1;
    for (int i = 0; i < rank && i < CC_MAX_RANK; i++)
        k = dims[i] < 0 || (k && dims[i] > (int64_t)CC_MAX_NUMEL / k) ? -1 : k * dims[i];
    if (rank > CC_MAX_RANK || k != c->n)
        return cc_ox_fail(x, n, CC_EFORMAT, "cannot give %lld values %d dims", (long long)c->n, rank);
    r.rank = rank;
    for (int i = 0; i < rank; i++)
        r.d[i] = dims[i];
    return cc_ox_bind_const(x, n, 0, &r);
}

static cc_status squeeze_or_unsqueeze(cc_ox *x, const Onnx__NodeProto *n, int unsqueeze)
{
    const cc_ox_const *c;
    int r;
    int64_t dims[CC_MAX_RANK];
    CC_TRY(cc_ox_const_input(x, n, 0, &c));
    CC_TRY(cc_ox_squeeze(x, n, unsqueeze, c->d, c->rank, 0, dims, &r));
    return redim(x, n, c, dims, r);
}

static cc_status unsqueeze(cc_ox *x, const Onnx__NodeProto *n)
{
    return squeeze_or_unsqueeze(x, n, 1);
}

static cc_status squeeze(cc_ox *x, const Onnx__NodeProto *n)
{
    return squeeze_or_unsqueeze(x, n, 0);
}

static cc_status reshape(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_const *c;
    int k, infer = -1;
    int64_t v[CC_MAX_RANK], known = 1;
    CC_TRY(cc_ox_const_input(x, n, 0, &c));
    CC_TRY(cc_ox_const_ints(x, n, 1, v, CC_MAX_RANK, &k));
    for (int i = 0; i < k; i++) {
        if (v[i] == 0 && i < c->rank)
            v[i] = c->d[i];
        if (v[i] == -1 && infer < 0)
            infer = i;
        else if (v[i] < 0 || (known && v[i] > (int64_t)CC_MAX_NUMEL / known))
            return cc_ox_fail(x, n, CC_EFORMAT, "shape entry %d is %lld (negative, or past 2^30 elements)", i,
                              (long long)v[i]);
        else
            known *= v[i];
    }
    if (infer >= 0)
        v[infer] = known ? c->n / known : 0;
    return redim(x, n, c, v, k);
}

static cc_status concat(cc_ox *x, const Onnx__NodeProto *n)
{
    cc_status st = CC_OK;
    const int64_t axis = cc_ox_attr_int(x, n, "axis", 0, &st);
    if (st)
        return st;
    int64_t len = 0;
    int is_int = 1;
    for (size_t i = 0; i < n->n_input; i++) {
        const cc_ox_const *c;
        CC_TRY(cc_ox_const_input(x, n, (int)i, &c));
        if (c->rank != 1 || (axis != 0 && axis != -1) || len > (int64_t)CC_MAX_NUMEL)
            return cc_ox_fail(x, n, CC_EFORMAT, "cnncam folds concatenations of 1-D constants only");
        len += c->n;
        is_int &= c->i != NULL;
    }
    cc_ox_const out;
    void *data;
    CC_TRY(cc_ox_new_const(x, 1, &len, is_int, &out, &data));
    for (size_t i = 0, k = 0; i < n->n_input; i++) {
        const cc_ox_const *c = &x->consts[cc_ox_input(x, n, (int)i)->cst];
        for (int64_t j = 0; j < c->n; j++, k++)
            cc_ox_copy(&out, data, (int64_t)k, c, j);
    }
    return cc_ox_bind_const(x, n, 0, &out);
}

static cc_status cast(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_const *c;
    CC_TRY(cc_ox_const_input(x, n, 0, &c));
    cc_status st = CC_OK;
    const int64_t to = cc_ox_attr_int(x, n, "to", 0, &st);
    if (st)
        return st;
    const int is_int = to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ||
                       to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
    if (!is_int && to != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && to != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE)
        return cc_ox_fail(x, n, CC_EFORMAT, "cnncam folds casts to float and integer types only (to = %lld)",
                          (long long)to);
    cc_ox_const out;
    void *data;
    CC_TRY(cc_ox_new_const(x, c->rank, c->d, is_int, &out, &data));
    for (int64_t k = 0; k < c->n; k++) {
        const double v = cc_ox_get(c, k);
        if (is_int)
            ((int64_t *)data)[k] = to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL ? v != 0
                                 : fabs(v) < 9e18 ? (int64_t)v : 0;
        else
            ((float *)data)[k] = (float)v;
    }
    return cc_ox_bind_const(x, n, 0, &out);
}

static cc_status identity(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_const *c;
    CC_TRY(cc_ox_const_input(x, n, 0, &c));
    return cc_ox_bind_const(x, n, 0, c);
}

/* Slice of a constant along any axes (opset 10+: starts, ends, axes, steps inputs), steps of either sign. */
static cc_status slice(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_const *c;
    int ks, ke, ka = 0, kt = 0;
    int64_t starts[CC_MAX_RANK], ends[CC_MAX_RANK], axes[CC_MAX_RANK], steps[CC_MAX_RANK];
    CC_TRY(cc_ox_const_input(x, n, 0, &c));
    CC_TRY(cc_ox_const_ints(x, n, 1, starts, CC_MAX_RANK, &ks));
    CC_TRY(cc_ox_const_ints(x, n, 2, ends, CC_MAX_RANK, &ke));
    if (cc_ox_input(x, n, 3))
        CC_TRY(cc_ox_const_ints(x, n, 3, axes, CC_MAX_RANK, &ka));
    if (cc_ox_input(x, n, 4))
        CC_TRY(cc_ox_const_ints(x, n, 4, steps, CC_MAX_RANK, &kt));
    if (ke != ks || (ka && ka != ks) || (kt && kt != ks))
        return cc_ox_fail(x, n, CC_EFORMAT, "starts, ends, axes and steps differ in length");
    int64_t lo[CC_MAX_RANK], step[CC_MAX_RANK], dims[CC_MAX_RANK];
    for (int i = 0; i < c->rank; i++)
        lo[i] = 0, step[i] = 1, dims[i] = c->d[i];
    for (int i = 0; i < ks; i++) {
        int64_t a = ka ? axes[i] : i;
        a = a < 0 ? a + c->rank : a;
        const int64_t st = kt ? steps[i] : 1;
        if (a < 0 || a >= c->rank || st == 0)
            return cc_ox_fail(x, n, CC_EFORMAT, "axis %lld or step %lld is out of range", (long long)a, (long long)st);
        const int64_t d = c->d[a];
        int64_t b = starts[i] < 0 ? starts[i] + d : starts[i], e = ends[i] < 0 ? ends[i] + d : ends[i];
        if (st > 0) {
            b = b < 0 ? 0 : b > d ? d : b, e = e < 0 ? 0 : e > d ? d : e;
            dims[a] = e > b ? (e - b + st - 1) / st : 0;
        } else {
            b = b < 0 ? -1 : b > d - 1 ? d - 1 : b, e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            dims[a] = b > e ? (b - e - st - 1) / -st : 0;
        }
        lo[a] = b, step[a] = st;
    }
    cc_ox_const out;
    void *data;
    CC_TRY(cc_ox_new_const(x, c->rank, dims, c->i != NULL, &out, &data));
    for (int64_t k = 0; k < out.n; k++) {
        int64_t rest = k, at = 0, stride = 1;
        for (int i = c->rank - 1; i >= 0; i--) {
            at += (lo[i] + (rest % dims[i]) * step[i]) * stride;
            rest /= dims[i];
            stride *= c->d[i];
        }
        cc_ox_copy(&out, data, k, c, at);
    }
    return cc_ox_bind_const(x, n, 0, &out);
}

static cc_status transpose(cc_ox *x, const Onnx__NodeProto *n)
{
    const cc_ox_const *c;
    CC_TRY(cc_ox_const_input(x, n, 0, &c));
    cc_status st = CC_OK;
    int64_t perm[CC_MAX_RANK];
    int k = cc_ox_attr_ints(x, n, "perm", perm, CC_MAX_RANK, &st);
    if (st)
        return st;
    int seen[CC_MAX_RANK] = {0};
    for (int i = 0; i < k; i++) {
        if (perm[i] < 0 || perm[i] >= c->rank || seen[perm[i]]++)
            return cc_ox_fail(x, n, CC_EFORMAT, "perm is not a permutation of the %d dims", c->rank);
    }
    if (!k)
        for (k = 0; k < c->rank; k++)
            perm[k] = c->rank - 1 - k;
    if (k != c->rank)
        return cc_ox_fail(x, n, CC_EFORMAT, "perm has %d entries for %d dims", k, c->rank);
    int64_t dims[CC_MAX_RANK], stride[CC_MAX_RANK];
    for (int i = c->rank - 1, s = 1; i >= 0; i--)
        stride[i] = s, s *= (int)c->d[i];
    for (int i = 0; i < k; i++)
        dims[i] = c->d[perm[i]];
    cc_ox_const out;
    void *data;
    CC_TRY(cc_ox_new_const(x, k, dims, c->i != NULL, &out, &data));
    for (int64_t o = 0; o < out.n; o++) {
        int64_t rest = o, at = 0;
        for (int i = k - 1; i >= 0; i--) {
            at += (rest % dims[i]) * stride[perm[i]];
            rest /= dims[i];
        }
        cc_ox_copy(&out, data, o, c, at);
    }
    return cc_ox_bind_const(x, n, 0, &out);
}

const cc_ox_op cc_ox_const_ops[] = {
    {"Slice", slice},
    {"Transpose", transpose},
    {"Constant", constant},
    {"Shape", shape},
    {"Gather", gather},
    {"Unsqueeze", unsqueeze},
    {"Squeeze", squeeze},
    {"Reshape", reshape},
    {"Concat", concat},
    {"Cast", cast},
    {"Identity", identity},
    {NULL, NULL},
};
