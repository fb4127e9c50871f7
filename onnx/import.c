/* onnx/import.c — the walk over an ONNX graph and the helpers its op files
 * use (onnx/import.h). */
#include "onnx/import.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const char *s)
{
    return s ? s : "";
}

static const char *node_label(const Onnx__NodeProto *n)
{
    if (n->name && *n->name)
        return n->name;
    return n->n_output && n->output[0] ? n->output[0] : "";
}

cc_status cc_ox_fail(cc_ox *x, const Onnx__NodeProto *n, cc_status st, const char *fmt, ...)
{
    char msg[320], q[120], t[40], safe[330];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cc_qname(msg, safe, sizeof safe);   /* names from the file, made printable */
    if (!n)
        return cc_fail(x->err, st, "%s: %s", x->file, safe);
    return cc_fail(x->err, st, "%s: node '%s' (%s, opset %d): %s", x->file, cc_qname(node_label(n), q, sizeof q),
                   cc_qname(str(n->op_type), t, sizeof t), x->opset, safe);
}

cc_status cc_ox_nomem(cc_ox *x)
{
    return cc_fail(x->err, CC_ENOMEM, "%s: out of memory importing the ONNX model", x->file);
}

void *cc_ox_alloc(cc_ox *x, size_t bytes)
{
    if (x->nowned == x->owned_cap) {
        int cap = x->owned_cap ? 2 * x->owned_cap : 64;
        void **p = realloc(x->owned, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        x->owned = p, x->owned_cap = cap;
    }
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (p)
        x->owned[x->nowned++] = p;
    return p;
}

/* ---- arrays ---- */

static int grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 1;
    int c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q)
        return 0;
    *p = q, *cap = c;
    return 1;
}

/* The value named name, made on first use (kind CC_OX_NONE until bound). */
static cc_ox_value *value(cc_ox *x, const char *name, int create)
{
    int i = cc_map_get(&x->values, name);
    if (i >= 0)
        return &x->vals[i];
    if (!create || !grow((void **)&x->vals, &x->vals_cap, x->nvals + 1, sizeof *x->vals) ||
        !cc_map_put(&x->values, name, x->nvals))
        return NULL;
    x->vals[x->nvals] = (cc_ox_value){CC_OX_NONE, -1, -1};
    return &x->vals[x->nvals++];
}

/* ---- attributes ---- */

const Onnx__AttributeProto *cc_ox_attr_find(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name))
            return n->attribute[i];
    return NULL;
}

static cc_status wrong_type(cc_ox *x, const Onnx__NodeProto *n, const char *name, const char *want, cc_status *st)
{
    if (!*st)
        *st = cc_ox_fail(x, n, CC_EFORMAT, "attribute '%s' is not %s", name, want);
    return *st;
}

int64_t cc_ox_attr_int(cc_ox *x, const Onnx__NodeProto *n, const char *name, int64_t def, cc_status *st)
{
    const Onnx__AttributeProto *a = cc_ox_attr_find(n, name);
    if (!a)
        return def;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
        return wrong_type(x, n, name, "an integer", st), def;
    return a->i;
}

/* The shortest decimal that rounds to f: ONNX stores float attributes in
 * float32, and an exporter's source value (PyTorch's batchnorm eps = 1e-5, a
 * double it adds in double) is almost always that decimal, so the engine
 * computes with the value PyTorch did rather than with its float32 rounding. */
double cc_ox_shortest(float f)
{
    for (int digits = 1; digits <= 9; digits++) {
        char s[32];
        snprintf(s, sizeof s, "%.*g", digits, (double)f);
        const double d = strtod(s, NULL);
        if ((float)d == f)
            return d;
    }
    return f;
}

double cc_ox_attr_float(cc_ox *x, const Onnx__NodeProto *n, const char *name, double def, cc_status *st)
{
    const Onnx__AttributeProto *a = cc_ox_attr_find(n, name);
    if (!a)
        return def;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT || !isfinite(a->f))
        return wrong_type(x, n, name, "a finite float", st), def;
    return cc_ox_shortest(a->f);
}

const char *cc_ox_attr_string(cc_ox *x, const Onnx__NodeProto *n, const char *name, const char *def,
                              cc_status *st)
{
    const Onnx__AttributeProto *a = cc_ox_attr_find(n, name);
    if (!a)
        return def;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
        return wrong_type(x, n, name, "a string", st), def;
    /* protobuf bytes: compared against known spellings only, so a copy with a NUL is enough */
    char *s = cc_ox_alloc(x, a->s.len + 1);
    if (!s) {
        if (!*st)
            *st = cc_ox_nomem(x);
        return def;
    }
    if (a->s.len)
        memcpy(s, a->s.data, a->s.len);
    s[a->s.len] = 0;
    return s;
}

int cc_ox_attr_ints(cc_ox *x, const Onnx__NodeProto *n, const char *name, int64_t *v, int max, cc_status *st)
{
    const Onnx__AttributeProto *a = cc_ox_attr_find(n, name);
    if (!a)
        return 0;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
        return wrong_type(x, n, name, "a list of integers", st), 0;
    if (a->n_ints > (size_t)max) {
        if (!*st)
            *st = cc_ox_fail(x, n, CC_EFORMAT, "attribute '%s' has %zu values; at most %d", name, a->n_ints, max);
        return 0;
    }
    for (size_t i = 0; i < a->n_ints; i++)
        v[i] = a->ints[i];
    return (int)a->n_ints;
}

cc_status cc_ox_attr_only(cc_ox *x, const Onnx__NodeProto *n, const char *const *known)
{
    for (size_t i = 0; i < n->n_attribute; i++) {
        const char *name = str(n->attribute[i]->name);
        int ok = 0;
        for (int k = 0; known[k] && !ok; k++)
            ok = !strcmp(known[k], name);
        if (!ok) {
            char q[80];
            return cc_ox_fail(x, n, CC_EFORMAT, "attribute '%s' is not one cnncam knows for this op",
                              cc_qname(name, q, sizeof q));
        }
    }
    return CC_OK;
}

cc_ox_attr cc_ox_attr1(const char *key, double v)
{
    cc_ox_attr a = {key, {v}, 1};
    return a;
}

cc_ox_attr cc_ox_attr2(const char *key, double a, double b)
{
    cc_ox_attr r = {key, {a, b}, 2};
    return r;
}

/* ---- inputs ---- */

const cc_ox_value *cc_ox_input(cc_ox *x, const Onnx__NodeProto *n, int i)
{
    if (i >= (int)n->n_input || !n->input[i] || !*n->input[i])
        return NULL;
    return value(x, n->input[i], 0);
}

cc_status cc_ox_act(cc_ox *x, const Onnx__NodeProto *n, int i, int *node)
{
    const cc_ox_value *v = cc_ox_input(x, n, i);
    if (!v || v->kind != CC_OX_ACT) {
        char q[120];
        return cc_ox_fail(x, n, CC_EFORMAT, "input %d ('%s') must be %s", i,
                          cc_qname(i < (int)n->n_input ? str(n->input[i]) : "", q, sizeof q),
                          v && v->kind == CC_OX_CONST ? "computed from the image, not a constant"
                                                      : "computed from the image (it is absent)");
    }
    *node = v->node;
    return CC_OK;
}

cc_status cc_ox_const_input(cc_ox *x, const Onnx__NodeProto *n, int i, const cc_ox_const **c)
{
    const cc_ox_value *v = cc_ox_input(x, n, i);
    if (!v || v->kind != CC_OX_CONST) {
        char q[120];
        return cc_ox_fail(x, n, CC_EFORMAT, "input %d ('%s') must be a constant (an initializer or computed "
                          "from them)", i, cc_qname(i < (int)n->n_input ? str(n->input[i]) : "", q, sizeof q));
    }
    *c = &x->consts[v->cst];
    return CC_OK;
}

const cc_shape *cc_ox_shape(const cc_ox *x, int node)
{
    return &x->nodes[node].shape;
}

cc_status cc_ox_const_ints(cc_ox *x, const Onnx__NodeProto *n, int i, int64_t *v, int max, int *count)
{
    const cc_ox_const *c;
    CC_TRY(cc_ox_const_input(x, n, i, &c));
    if (c->rank > 1 || c->n > max)
        return cc_ox_fail(x, n, CC_EFORMAT, "input %d must be a list of at most %d values, got %lld", i, max,
                          (long long)c->n);
    for (int64_t k = 0; k < c->n; k++) {
        if (c->i)
            v[k] = c->i[k];
        else if (cc_ox_get(c, k) == floor(cc_ox_get(c, k)) && fabs(cc_ox_get(c, k)) < 1e15)
            v[k] = (int64_t)cc_ox_get(c, k);
        else
            return cc_ox_fail(x, n, CC_EFORMAT, "input %d must hold integers, got %g", i, cc_ox_get(c, k));
    }
    *count = (int)c->n;
    return CC_OK;
}

cc_status cc_ox_const_scalar(cc_ox *x, const Onnx__NodeProto *n, int i, double *v)
{
    const cc_ox_const *c;
    CC_TRY(cc_ox_const_input(x, n, i, &c));
    if (c->n != 1)
        return cc_ox_fail(x, n, CC_EFORMAT, "input %d must be one value, got %lld", i, (long long)c->n);
    *v = cc_ox_get(c, 0);
    return CC_OK;
}

int cc_ox_uses(const cc_ox *x, const Onnx__NodeProto *n, int o)
{
    if (o >= (int)n->n_output || !n->output[o] || !*n->output[o])
        return 0;
    int i = cc_map_get(&x->values, n->output[o]);
    return i < 0 || i >= x->nuses ? 0 : x->uses[i];
}

int cc_ox_producer(const cc_ox *x, int node, const char *op)
{
    return node > 0 && !strcmp(x->nodes[node].op->name, op) ? node : -1;
}

static int unsqueeze_dims(const int64_t *d, int rank, const int64_t *axes, int k, int first, int64_t *out)
{
    const int r = rank + k;
    int add[CC_MAX_RANK] = {0};
    if (r > CC_MAX_RANK)
        return -1;
    for (int i = 0; i < k; i++) {
        const int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < first || a >= r || add[a])
            return -1;
        add[a] = 1;
    }
    for (int i = 0, j = 0; i < r; i++)
        out[i] = add[i] ? 1 : d[j++];
    return r;
}

static int squeeze_dims(const int64_t *d, int rank, const int64_t *axes, int k, int first, int64_t *out)
{
    int drop[CC_MAX_RANK] = {0}, r = 0;
    for (int i = 0; i < k; i++) {
        const int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < first || a >= rank || d[a] != 1)
            return -1;
        drop[a] = 1;
    }
    for (int i = 0; i < rank; i++)
        if (!(k ? drop[i] : i >= first && d[i] == 1))
            out[r++] = d[i];
    return r;
}

cc_status cc_ox_squeeze(cc_ox *x, const Onnx__NodeProto *n, int unsqueeze, const int64_t *d, int rank, int first,
                        int64_t *out, int *out_rank)
{
    int64_t axes[CC_MAX_RANK];
    int k = 0;
    if (x->opset < 13) {
        cc_status st = CC_OK;
        k = cc_ox_attr_ints(x, n, "axes", axes, CC_MAX_RANK, &st);
        CC_TRY(st);
    } else if (cc_ox_input(x, n, 1)) {
        CC_TRY(cc_ox_const_ints(x, n, 1, axes, CC_MAX_RANK, &k));
    }
    *out_rank = unsqueeze ? unsqueeze_dims(d, rank, axes, k, first, out) : squeeze_dims(d, rank, axes, k, first, out);
    if (*out_rank < 0)
        return cc_ox_fail(x, n, CC_EFORMAT, "the axes are out of range, repeated%s%s", first ? ", the batch" : "",
                          unsqueeze ? "" : ", or of a size other than 1");
    return CC_OK;
}

/* ---- outputs ---- */

static cc_status bind_value(cc_ox *x, const Onnx__NodeProto *n, int o, cc_ox_value v)
{
    if (o >= (int)n->n_output || !n->output[o] || !*n->output[o])
        return CC_OK;   /* an output nobody named */
    cc_ox_value *dst = value(x, n->output[o], 1);
    if (!dst)
        return cc_ox_nomem(x);
    if (dst->kind != CC_OX_NONE) {
        char q[120];
        return cc_ox_fail(x, n, CC_EFORMAT, "output '%s' is already made by an earlier node or initializer (ONNX "
                          "values are assigned once)", cc_qname(n->output[o], q, sizeof q));
    }
    *dst = v;
    return CC_OK;
}

cc_status cc_ox_bind(cc_ox *x, const Onnx__NodeProto *n, int o, int node)
{
    return bind_value(x, n, o, (cc_ox_value){CC_OX_ACT, node, -1});
}

static int add_const(cc_ox *x, const cc_ox_const *c)
{
    const cc_ox_const copy = *c;   /* c may point into the array that grows */
    if (!grow((void **)&x->consts, &x->consts_cap, x->nconsts + 1, sizeof *x->consts))
        return -1;
    x->consts[x->nconsts] = copy;
    return x->nconsts++;
}

cc_status cc_ox_bind_const(cc_ox *x, const Onnx__NodeProto *n, int o, const cc_ox_const *c)
{
    int k = add_const(x, c);
    if (k < 0)
        return cc_ox_nomem(x);
    return bind_value(x, n, o, (cc_ox_value){CC_OX_CONST, -1, k});
}

cc_status cc_ox_new_const(cc_ox *x, int rank, const int64_t *d, int is_int, cc_ox_const *c, void **data)
{
    memset(c, 0, sizeof *c);
    c->rank = rank;
    c->n = 1;
    for (int i = 0; i < rank; i++) {
        c->d[i] = d[i];
        c->n *= d[i];
    }
    void *p = cc_ox_alloc(x, (size_t)(c->n ? c->n : 1) * (is_int ? sizeof(int64_t) : sizeof(float)));
    if (!p)
        return cc_ox_nomem(x);
    if (is_int)
        c->i = p;
    else
        c->f = p;
    *data = p;
    return CC_OK;
}

cc_status cc_ox_param_tensor(cc_ox *x, const Onnx__NodeProto *n, const cc_ox_const *c, const cc_shape *shape,
                             int *tensor)
{
    if (c->i)
        return cc_ox_fail(x, n, CC_EFORMAT, "a weight must hold floats, not integers");
    const void *data = c->f ? (const void *)c->f : (const void *)c->le32;
    cc_shape s = {c->rank, {0}};
    for (int i = 0; i < c->rank; i++)
        s.d[i] = (int)c->d[i];
    if (shape)
        s = *shape;
    if (s.rank < 1 || (int64_t)cc_shape_numel(&s) != c->n || c->n < 1)
        return cc_ox_fail(x, n, CC_EFORMAT, "a weight of %lld values cannot be used here", (long long)c->n);
    for (int k = 0; k < x->ntensors; k++)   /* one initializer bound twice (shared, or through Identity) */
        if (x->tensors[k].data == data && cc_shape_equal(&x->tensors[k].shape, &s)) {
            *tensor = k;
            return CC_OK;
        }
    if (!grow((void **)&x->tensors, &x->tensors_cap, x->ntensors + 1, sizeof *x->tensors))
        return cc_ox_nomem(x);
    /* The initializer's name when it has one the format can hold and no other tensor took. */
    const char *name = c->name;
    for (int k = 0; name && k < x->ntensors; k++)
        if (!strcmp(x->tensors[k].name, name))
            name = NULL;
    if (!name || strlen(name) > CC_OX_MAX_TENSOR_NAME ||
        cc_utf8_check((const unsigned char *)name, strlen(name)) != strlen(name)) {
        char *made = cc_ox_alloc(x, 24);
        if (!made)
            return cc_ox_nomem(x);
        snprintf(made, 24, "onnx.tensor.%d", x->ntensors);
        name = made;
    }
    x->tensors[x->ntensors] = (cc_ox_tensor){name, s, data};
    *tensor = x->ntensors++;
    return CC_OK;
}

/* How node k's value is a map, as the converter follows the grid through a
 * graph (weights/FORMAT.md, Layouts): the input and what convs and pools make
 * are N x C x H x W; a permute (0, 2, 3, 1) makes it channels last and
 * (0, 3, 1, 2) back; a reshape keeps a layout only when it keeps the shape;
 * other ops keep their first input's (an add, its known side's). */
static int layout_of(const cc_ox *x, const cc_ox_node *d)
{
    static const char *const grid[] = {"conv2d", "maxpool2d", "avgpool2d", "adaptive_avgpool2d", "batchnorm2d",
                                       "upsample_nearest", "upsample_bilinear", NULL};
    if (d->shape.rank != 4)
        return 0;
    const char *op = d->op->name;
    for (int i = 0; grid[i]; i++)
        if (!strcmp(op, grid[i]))
            return CC_OX_NCHW;
    int in = 0;
    for (int i = 0; i < d->ninputs && !in; i++)
        in = x->nodes[d->input[i]].layout;
    if (!strcmp(op, "permute")) {
        const double *p = d->attr[0].v;
        if (in == CC_OX_NCHW && p[1] == 2 && p[2] == 3 && p[3] == 1)
            return CC_OX_NHWC;
        if (in == CC_OX_NHWC && p[1] == 3 && p[2] == 1 && p[3] == 2)
            return CC_OX_NCHW;
        return 0;
    }
    if (!strcmp(op, "reshape") || !strcmp(op, "flatten"))
        return d->ninputs && cc_shape_equal(&x->nodes[d->input[0]].shape, &d->shape) ? in : 0;
    return in;
}

cc_status cc_ox_emit(cc_ox *x, const Onnx__NodeProto *n, int o, const char *op, const int *inputs, int nin,
                     const cc_ox_param *params, int nparams, const cc_ox_attr *attrs, int nattrs, int *node)
{
    const cc_op *opd = cc_op_find(op);
    if (!opd || nin > CC_MAX_INPUTS || nparams > CC_MAX_PARAMS || nattrs > CC_OX_MAX_ATTRS)
        return cc_ox_fail(x, n, CC_EINVAL, "internal: cannot make a '%s' node here", op);
    cc_attrs a = cc_attrs_default();
    cc_error e;
    for (int i = 0; i < nattrs; i++)
        if (cc_attrs_set(&a, attrs[i].key, attrs[i].v, attrs[i].n, &e))
            return cc_ox_fail(x, n, CC_EFORMAT, "%s", e.msg);
    cc_shape in[CC_MAX_INPUTS], ps[CC_MAX_PARAMS];
    int has[CC_MAX_PARAMS] = {0};
    for (int i = 0; i < nin; i++)
        in[i] = x->nodes[inputs[i]].shape;
    for (int i = 0; i < opd->nparams; i++)
        ps[i] = (cc_shape){0, {0}};
    for (int i = 0; i < nparams; i++) {
        int slot = -1;
        for (int k = 0; k < opd->nparams; k++)
            if (!strcmp(opd->param_names[k], params[i].role))
                slot = k;
        if (slot < 0)
            return cc_ox_fail(x, n, CC_EINVAL, "internal: '%s' has no parameter '%s'", op, params[i].role);
        ps[slot] = x->tensors[params[i].tensor].shape;
        has[slot] = 1;
    }
    cc_shape out;
    if (nin < opd->min_inputs || nin > opd->max_inputs)
        return cc_ox_fail(x, n, CC_EINVAL, "internal: '%s' takes %d to %d inputs", op, opd->min_inputs,
                          opd->max_inputs);
    if (opd->infer(&a, in, nin, ps, has, &out, &e))
        return cc_ox_fail(x, n, CC_EFORMAT, "%s", e.msg);
    if (!grow((void **)&x->nodes, &x->nodes_cap, x->nnodes + 1, sizeof *x->nodes))
        return cc_ox_nomem(x);
    cc_ox_node *d = &x->nodes[x->nnodes];
    memset(d, 0, sizeof *d);
    d->op = opd;
    d->ninputs = nin;
    memcpy(d->input, inputs, (size_t)nin * sizeof *inputs);
    d->nparams = nparams;
    if (nparams)
        memcpy(d->param, params, (size_t)nparams * sizeof *params);
    d->nattrs = nattrs;
    if (nattrs)
        memcpy(d->attr, attrs, (size_t)nattrs * sizeof *attrs);
    d->src = n;
    d->value = o >= 0 && o < (int)n->n_output ? str(n->output[o]) : "";
    d->shape = out;
    d->layout = layout_of(x, d);
    const int k = x->nnodes++;
    if (node)
        *node = k;
    return o < 0 ? CC_OK : cc_ox_bind(x, n, o, k);
}

/* ---- the walk ---- */

static const cc_ox_op *find_op(const cc_ox_op *const *tables, const char *type)
{
    for (int t = 0; tables[t]; t++)
        for (const cc_ox_op *o = tables[t]; o->op_type; o++)
            if (!strcmp(o->op_type, type))
                return o;
    return NULL;
}

static int all_inputs_constant(cc_ox *x, const Onnx__NodeProto *n)
{
    for (size_t i = 0; i < n->n_input; i++) {
        const cc_ox_value *v = cc_ox_input(x, n, (int)i);
        if (v && v->kind != CC_OX_CONST)
            return 0;
    }
    return 1;
}

static cc_status map_node(cc_ox *x, const Onnx__NodeProto *n)
{
    static const cc_ox_op *const act_tables[] = {cc_ox_conv_ops, cc_ox_activation_ops, cc_ox_pool_ops,
                                                 cc_ox_arith_ops, cc_ox_shape_ops, cc_ox_linear_ops,
                                                 cc_ox_norm_ops, NULL};
    static const cc_ox_op *const const_tables[] = {cc_ox_const_ops, cc_ox_const_math_ops, NULL};
    const char *type = str(n->op_type);
    const char *domain = str(n->domain);
    if (*domain && strcmp(domain, "ai.onnx"))
        return cc_ox_fail(x, n, CC_EFORMAT, "the op is in domain '%s'; cnncam reads the default ONNX domain "
                          "only", domain);
    for (size_t i = 0; i < n->n_input; i++) {
        const char *in = n->input[i];
        if (in && *in && (!cc_ox_input(x, n, (int)i) || cc_ox_input(x, n, (int)i)->kind == CC_OX_NONE)) {
            char q[120];
            return cc_ox_fail(x, n, CC_EFORMAT, "input '%s' is not made by any earlier node, initializer or "
                              "graph input (ONNX nodes must be in topological order)", cc_qname(in, q, sizeof q));
        }
    }
    const cc_ox_op *op = NULL;
    if (all_inputs_constant(x, n) || !strcmp(type, "Shape"))
        op = find_op(const_tables, type);
    if (!op)
        op = find_op(act_tables, type);
    if (!op)
        return cc_ox_fail(x, n, CC_EFORMAT, "cnncam does not support the op %s%s (docs/ONNX.md lists the ops "
                          "it reads); nothing was loaded", type,
                          all_inputs_constant(x, n) ? " on constants" : "");
    return op->map(x, n);
}

static cc_status count_uses(cc_ox *x, const Onnx__GraphProto *g)
{
    for (size_t k = 0; k < g->n_node; k++)
        for (size_t i = 0; i < g->node[k]->n_input; i++) {
            const char *in = g->node[k]->input[i];
            if (!in || !*in)
                continue;
            if (!value(x, in, 1))
                return cc_ox_nomem(x);
        }
    for (size_t k = 0; k < g->n_output; k++)
        if (g->output[k]->name && !value(x, g->output[k]->name, 1))
            return cc_ox_nomem(x);
    x->nuses = x->nvals;
    x->uses = calloc((size_t)x->nvals + 1, sizeof *x->uses);
    if (!x->uses)
        return cc_ox_nomem(x);
    for (size_t k = 0; k < g->n_node; k++)
        for (size_t i = 0; i < g->node[k]->n_input; i++) {
            const char *in = g->node[k]->input[i];
            if (in && *in)
                x->uses[cc_map_get(&x->values, in)]++;
        }
    for (size_t k = 0; k < g->n_output; k++)
        if (g->output[k]->name)
            x->uses[cc_map_get(&x->values, g->output[k]->name)]++;
    /* Who reads each value, for patterns. */
    x->first_reader = calloc((size_t)x->nuses + 2, sizeof *x->first_reader);
    int total = 0;
    for (size_t k = 0; k < g->n_node; k++)
        total += (int)g->node[k]->n_input;
    x->reader = malloc(((size_t)total + 1) * sizeof *x->reader);
    x->done = calloc(g->n_node + 1, 1);
    int *at = malloc(((size_t)x->nuses + 2) * sizeof *at);
    if (!x->first_reader || !x->reader || !x->done || !at) {
        free(at);
        return cc_ox_nomem(x);
    }
    for (size_t k = 0; k < g->n_node; k++)
        for (size_t i = 0; i < g->node[k]->n_input; i++)
            if (g->node[k]->input[i] && *g->node[k]->input[i])
                x->first_reader[cc_map_get(&x->values, g->node[k]->input[i]) + 1]++;
    for (int v = 0; v < x->nuses; v++)
        x->first_reader[v + 1] += x->first_reader[v];
    memcpy(at, x->first_reader, ((size_t)x->nuses + 1) * sizeof *at);
    for (size_t k = 0; k < g->n_node; k++)
        for (size_t i = 0; i < g->node[k]->n_input; i++)
            if (g->node[k]->input[i] && *g->node[k]->input[i])
                x->reader[at[cc_map_get(&x->values, g->node[k]->input[i])]++] = (int)k;
    free(at);
    return CC_OK;
}

const Onnx__NodeProto *cc_ox_next(const cc_ox *x, const Onnx__NodeProto *n, int o, const char *op)
{
    if (o >= (int)n->n_output || !n->output[o] || !*n->output[o] || cc_ox_uses(x, n, o) != 1)
        return NULL;
    const int v = cc_map_get(&x->values, n->output[o]);
    if (v < 0 || v >= x->nuses || x->first_reader[v + 1] - x->first_reader[v] != 1)
        return NULL;   /* a graph output, or read twice by one node */
    const int k = x->reader[x->first_reader[v]];
    const Onnx__NodeProto *r = x->graph->node[k];
    return !x->done[k] && r->op_type && !strcmp(r->op_type, op) && (!r->domain || !*r->domain) ? r : NULL;
}

int cc_ox_readers(const cc_ox *x, const char *v, const Onnx__NodeProto **out, int max)
{
    const int i = cc_map_get(&x->values, v);
    int n = 0;
    for (int e = i < 0 || i >= x->nuses ? 0 : x->first_reader[i]; i >= 0 && i < x->nuses && e < x->first_reader[i + 1];
         e++)
        if (!x->done[x->reader[e]] && n < max)
            out[n++] = x->graph->node[x->reader[e]];
    return n;
}

/* n among the readers of its first input: no scan of the graph. */
void cc_ox_take(cc_ox *x, const Onnx__NodeProto *n)
{
    const int i = n->n_input && n->input[0] ? cc_map_get(&x->values, n->input[0]) : -1;
    for (int e = i < 0 || i >= x->nuses ? 0 : x->first_reader[i]; i >= 0 && i < x->nuses && e < x->first_reader[i + 1];
         e++)
        if (x->graph->node[x->reader[e]] == n)
            x->done[x->reader[e]] = 1;
}

/* The one graph input that is not an initializer: N x C x H x W floats. */
static cc_status read_input(cc_ox *x, const Onnx__GraphProto *g, const Onnx__ValueInfoProto **input)
{
    *input = NULL;
    for (size_t k = 0; k < g->n_input; k++) {
        const cc_ox_value *v = value(x, str(g->input[k]->name), 0);
        if (v && v->kind == CC_OX_CONST)
            continue;   /* older exporters list initializers as inputs too */
        if (*input)
            return cc_ox_fail(x, NULL, CC_EFORMAT, "the graph has inputs '%s' and '%s'; cnncam explains models of "
                              "one image input", str((*input)->name), str(g->input[k]->name));
        *input = g->input[k];
    }
    if (!*input || !(*input)->name || !*(*input)->name)
        return cc_ox_fail(x, NULL, CC_EFORMAT, "the graph has no (named) input besides its initializers");
    const Onnx__TypeProto *t = (*input)->type;
    const Onnx__TensorShapeProto *s =
        t && t->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && t->tensor_type ? t->tensor_type->shape : NULL;
    if (!s || t->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || s->n_dim != 4)
        return cc_ox_fail(x, NULL, CC_EFORMAT, "graph input '%s' must be a float tensor of shape N x C x H x W "
                          "(an image batch)", (*input)->name);
    int d[4];
    int free_dim[4];
    for (int i = 0; i < 4; i++) {
        const Onnx__TensorShapeProto__Dimension *dim = s->dim[i];
        free_dim[i] = dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d[i] = free_dim[i] ? 224 : (int)dim->dim_value;
        if (!free_dim[i] && (dim->dim_value < 1 || dim->dim_value > 16384))
            return cc_ox_fail(x, NULL, CC_EFORMAT, "graph input '%s' has dimension %d of %lld; expected 1 to 16384",
                              (*input)->name, i, (long long)dim->dim_value);
    }
    if (free_dim[1])
        return cc_ox_fail(x, NULL, CC_EFORMAT, "graph input '%s' leaves its channel count symbolic; cnncam needs "
                          "it fixed", (*input)->name);
    if (!free_dim[0] && d[0] != 1)
        return cc_ox_fail(x, NULL, CC_EFORMAT, "graph input '%s' has a fixed batch of %d; cnncam needs a batch of "
                          "1 or a symbolic one (export with a batch of 1)", (*input)->name, d[0]);
    x->input_h_free = free_dim[2];
    x->input_w_free = free_dim[3];
    if (!grow((void **)&x->nodes, &x->nodes_cap, 1, sizeof *x->nodes))
        return cc_ox_nomem(x);
    memset(&x->nodes[0], 0, sizeof x->nodes[0]);
    x->nodes[0].shape = cc_shape4(1, d[1], d[2], d[3]);
    x->nodes[0].layout = CC_OX_NCHW;
    x->nodes[0].value = (*input)->name;
    x->nnodes = 1;
    cc_ox_value *v = value(x, (*input)->name, 1);
    if (!v)
        return cc_ox_nomem(x);
    *v = (cc_ox_value){CC_OX_ACT, 0, -1};
    return CC_OK;
}

static cc_status read_opset(cc_ox *x, const Onnx__ModelProto *m)
{
    x->opset = 0;
    for (size_t k = 0; k < m->n_opset_import; k++) {
        const char *d = str(m->opset_import[k]->domain);
        if (!*d || !strcmp(d, "ai.onnx"))
            x->opset = m->opset_import[k]->has_version ? (int)m->opset_import[k]->version : 0;
    }
    if (x->opset < 11 || x->opset > 17)
        return cc_ox_fail(x, NULL, CC_EFORMAT, "the model uses opset %d of the default ONNX domain; cnncam reads "
                          "opsets 11 to 17 (torch.onnx.export(..., opset_version=13) writes one)", x->opset);
    return CC_OK;
}

/* Marks what the logits depend on. */
static void mark_live(cc_ox *x, int out)
{
    x->nodes[out].live = 1;
    for (int k = out; k > 0; k--) {
        if (!x->nodes[k].live)
            continue;
        for (int i = 0; i < x->nodes[k].ninputs; i++)
            x->nodes[x->nodes[k].input[i]].live = 1;
    }
}

cc_status cc_ox_walk(cc_ox *x, int *output)
{
    const Onnx__GraphProto *g = x->graph;
    CC_TRY(read_opset(x, x->model));
    CC_TRY(count_uses(x, g));
    for (size_t k = 0; k < g->n_initializer; k++) {
        const Onnx__TensorProto *t = g->initializer[k];
        char what[200], q[120];
        snprintf(what, sizeof what, "initializer '%s'", cc_qname(str(t->name), q, sizeof q));
        cc_ox_const c;
        CC_TRY(cc_ox_read_tensor(x, t, x->raw && (int)k < x->nraw ? &x->raw[k] : NULL, what, &c));
        c.name = t->name && *t->name ? t->name : NULL;
        cc_ox_value *v = value(x, str(t->name), 1);
        if (!v)
            return cc_ox_nomem(x);
        if (v->kind != CC_OX_NONE)
            return cc_ox_fail(x, NULL, CC_EFORMAT, "%s is given twice", what);
        int ci = add_const(x, &c);
        if (ci < 0)
            return cc_ox_nomem(x);
        *v = (cc_ox_value){CC_OX_CONST, -1, ci};
    }
    const Onnx__ValueInfoProto *input;
    CC_TRY(read_input(x, g, &input));
    /* Constants first: they read nothing, and patterns look ahead at them. */
    for (size_t k = 0; k < g->n_node; k++)
        if (g->node[k]->op_type && !strcmp(g->node[k]->op_type, "Constant") && !g->node[k]->n_input) {
            CC_TRY(map_node(x, g->node[k]));
            x->done[k] = 1;
        }
    for (size_t k = 0; k < g->n_node; k++)
        if (!x->done[k])
            CC_TRY(map_node(x, g->node[k]));
    if (g->n_output < 1 || !g->output[0]->name)
        return cc_ox_fail(x, NULL, CC_EFORMAT, "the graph has no output");
    const cc_ox_value *v = value(x, g->output[0]->name, 0);
    if (!v || v->kind != CC_OX_ACT || v->node == 0)
        return cc_ox_fail(x, NULL, CC_EFORMAT, "graph output '%s' is %s", g->output[0]->name,
                          !v || v->kind == CC_OX_NONE ? "made by no node" : v && v->kind == CC_OX_CONST
                          ? "a constant: it does not depend on the image" : "the input itself");
    *output = v->node;
    mark_live(x, v->node);
    return CC_OK;
}

void cc_ox_free(cc_ox *x)
{
    for (int i = 0; i < x->nowned; i++)
        free(x->owned[i]);
    free(x->owned);
    free(x->vals);
    free(x->consts);
    free(x->nodes);
    free(x->tensors);
    free(x->uses);
    free(x->first_reader);
    free(x->reader);
    free(x->done);
    cc_map_free(&x->values);
}
