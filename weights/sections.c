/* weights/sections.c — parsing the metadata, tensor table and graph sections
 * of a .ccm file whose header, bounds and CRCs reader.c has checked.
 *
 * The tensor table is read before the graph so that nodes can bind their
 * parameters by tensor name; graph parameter i is tensor i. Every string and
 * array goes into the model's pool, so an early return leaks nothing. */
#include "reader_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef cc_ull ull;

/* Shortest encodings, for checking counts against the bytes that remain. */
enum {
    MIN_META = 4 + 4 + 4,           /* key length, type, shortest value (a str or a list count) */
    MIN_TENSOR = 4 + 4 + 4 + 8 + 8 + 8,  /* name length, dtype, rank, one dim, offset, nbytes */
    MIN_NAME = 4 + 1,               /* a str of at least one byte */
    MIN_NODE = MIN_NAME + 4 + 4 + 4 + 4,  /* name, op length, ninputs, nparams, nattrs */
    MIN_PARAM = 4 + 4,
    MIN_ATTR = 4 + 4 + 8,
    MIN_ALIAS = MIN_NAME + 4,
    MAX_ATTR_VALUES = 2 * CC_MAX_RANK, /* pad's (before, after) per dimension is the longest */
    MAX_ATTRS = 16                  /* cc_attrs_set knows 11 keys, each allowed once */
};

static const char *const META_TYPES = "1 (string), 2 (int), 3 (float), 4 (string list) or 5 (float list)";

/* What the cursor reads, for messages: "node 12", then "node 'layer1.0.conv1'". */
static void item_index(cc_reader *r, const char *what, uint32_t index)
{
    snprintf(r->item, sizeof r->item, "%s %u", what, index);
}

static void item_name(cc_reader *r, const char *what, const char *name)
{
    char q[72];
    snprintf(r->item, sizeof r->item, "%s '%s'", what, cc_qname(name, q, sizeof q));
}

/* ---- metadata ---- */

static cc_status read_meta_value(cc_reader *r, cc_meta *e)
{
    uint32_t n;
    uint64_t u;
    switch (e->type) {
    case CC_META_STRING:
        return cc_rd_str(r, &e->str, "value");
    case CC_META_INT:
        CC_TRY(cc_rd_u64(r, &u, "value"));
        memcpy(&e->i, &u, sizeof e->i);  /* two's complement i64 */
        return CC_OK;
    case CC_META_FLOAT:
        return cc_rd_f64(r, &e->f, "value");
    case CC_META_STRINGS: {
        CC_TRY(cc_rd_u32(r, &n, "list length"));
        CC_TRY(cc_rd_count(r, n, 4, "list length"));
        const char **v = cc_rd_alloc(r, (size_t)n * sizeof *v);
        if (!v)
            return cc_rd_nomem(r, (size_t)n * sizeof *v);
        for (uint32_t k = 0; k < n; k++)
            CC_TRY(cc_rd_str(r, &v[k], "list item"));
        e->strs = v;
        e->n = (int)n;
        return CC_OK;
    }
    case CC_META_FLOATS: {
        CC_TRY(cc_rd_u32(r, &n, "list length"));
        CC_TRY(cc_rd_count(r, n, 8, "list length"));
        double *v = cc_rd_alloc(r, (size_t)n * sizeof *v);
        if (!v)
            return cc_rd_nomem(r, (size_t)n * sizeof *v);
        for (uint32_t k = 0; k < n; k++)
            CC_TRY(cc_rd_f64(r, &v[k], "list item"));
        e->floats = v;
        e->n = (int)n;
        return CC_OK;
    }
    }
    return CC_EFORMAT;  /* the caller checked the type */
}

/* 'output' decides what the probabilities mean: a value this reader does not
 * know must not silently read as softmax. */
static cc_status check_output_key(cc_reader *r)
{
    const cc_meta *e = cc_model_meta(r->m, "output");
    char q[72];
    if (!e)
        return CC_OK;
    if (e->type != CC_META_STRING)
        return cc_rd_fail(r, CC_EFORMAT, "metadata 'output' has type %d; expected 1 (string): 'softmax', "
                          "'sigmoid', 'probabilities' or 'log_probabilities'", (int)e->type);
    if (strcmp(e->str, "softmax") && strcmp(e->str, "sigmoid") && strcmp(e->str, "probabilities") &&
        strcmp(e->str, "log_probabilities"))
        return cc_rd_fail(r, CC_EFORMAT, "metadata 'output' is '%s'; expected 'softmax' (one class per image), "
                          "'sigmoid' (multi-label), 'probabilities' (the model ends in a softmax) or "
                          "'log_probabilities' (it ends in a log-softmax)", cc_qname(e->str, q, sizeof q));
    return CC_OK;
}

cc_status cc_read_metadata(cc_reader *r)
{
    cc_model *m = r->m;
    uint32_t count;
    cc_namemap keys = {0};
    CC_TRY(cc_rd_u32(r, &count, "metadata count"));
    CC_TRY(cc_rd_count(r, count, MIN_META, "metadata count"));
    m->meta = cc_rd_alloc(r, (size_t)count * sizeof *m->meta);
    if (!m->meta)
        return cc_rd_nomem(r, (size_t)count * sizeof *m->meta);
    cc_status st = CC_OK;
    char q[72];
    for (uint32_t i = 0; i < count && !st; i++) {
        cc_meta *e = &m->meta[i];
        memset(e, 0, sizeof *e);
        uint32_t type;
        item_index(r, "metadata entry", (uint32_t)i);
        if ((st = cc_rd_str(r, &e->key, "key")))
            break;
        if (!*e->key) {
            st = cc_rd_fail(r, CC_EFORMAT, "metadata entry %u has an empty key", i);
            break;
        }
        int prev = cc_map_get(&keys, e->key);
        if (prev >= 0) {
            st = cc_rd_fail(r, CC_EFORMAT, "metadata entries %d and %u have the same key '%s' (duplicate key)",
                            prev, i, cc_qname(e->key, q, sizeof q));
            break;
        }
        if (!cc_map_put(&keys, e->key, (int)i)) {
            st = cc_rd_nomem(r, 0);
            break;
        }
        item_name(r, "metadata", e->key);
        if ((st = cc_rd_u32(r, &type, "type")))
            break;
        if (type < CC_META_STRING || type > CC_META_FLOATS) {
            st = cc_rd_fail(r, CC_EFORMAT, "metadata '%s' has type %u; expected %s",
                            cc_qname(e->key, q, sizeof q), type, META_TYPES);
            break;
        }
        e->type = (cc_meta_type)type;
        st = read_meta_value(r, e);
    }
    cc_map_free(&keys);
    CC_TRY(st);
    m->nmeta = (int)count;
    r->item[0] = '\0';
    CC_TRY(cc_rd_finish(r));
    return check_output_key(r);
}

/* ---- tensor table ---- */

typedef struct { uint64_t lo, hi; int index; } range;

static int by_offset(const void *a, const void *b)
{
    const range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static const char *dims_str(const uint64_t *d, uint32_t rank, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? "x%llu" : "%llu", (ull)d[i]);
    return buf;
}

static cc_status read_tensor(cc_reader *r, cc_model_tensor *t, uint32_t i)
{
    char q[72], dims[128];
    uint32_t dtype, rank;
    uint64_t d[CC_MAX_RANK];
    item_index(r, "tensor", (uint32_t)i);
    CC_TRY(cc_rd_str(r, &t->name, "name"));
    const char *name = cc_qname(t->name, q, sizeof q);
    if (!*t->name)
        return cc_rd_fail(r, CC_EFORMAT, "tensor %u has an empty name", i);
    int prev = cc_map_get(&r->tensors, t->name);
    if (prev >= 0)
        return cc_rd_fail(r, CC_EFORMAT, "tensors %d and %u have the same name '%s' (duplicate tensor name)",
                          prev, i, name);
    if (!cc_map_put(&r->tensors, t->name, (int)i))
        return cc_rd_nomem(r, 0);
    item_name(r, "tensor", t->name);
    CC_TRY(cc_rd_u32(r, &dtype, "dtype"));
    if (dtype != CC_DTYPE_F32 && dtype != CC_DTYPE_F16)
        return cc_rd_fail(r, CC_EFORMAT, "tensor '%s' has dtype %u; expected 1 (f32) or 2 (f16)", name, dtype);
    CC_TRY(cc_rd_u32(r, &rank, "rank"));
    if (rank < 1 || rank > CC_MAX_RANK)
        return cc_rd_fail(r, CC_EFORMAT, "tensor '%s' has rank %u; expected 1 to %d", name, rank, CC_MAX_RANK);
    uint64_t numel = 1;
    for (uint32_t k = 0; k < rank; k++)
        CC_TRY(cc_rd_u64(r, &d[k], "dims"));
    for (uint32_t k = 0; k < rank; k++) {
        if (d[k] == 0)
            return cc_rd_fail(r, CC_EFORMAT, "tensor '%s' has dims %s: dims[%u] is 0; every dimension must be "
                              "at least 1", name, dims_str(d, rank, dims, sizeof dims), k);
        if (d[k] > CC_MAX_NUMEL || numel > CC_MAX_NUMEL / d[k])
            return cc_rd_fail(r, CC_EFORMAT, "tensor '%s' has dims %s, more than the engine's limit of %zu "
                              "elements", name, dims_str(d, rank, dims, sizeof dims), (size_t)CC_MAX_NUMEL);
        numel *= d[k];
    }
    CC_TRY(cc_rd_u64(r, &t->offset, "offset"));
    CC_TRY(cc_rd_u64(r, &t->nbytes, "nbytes"));
    const uint64_t want = numel * (dtype == CC_DTYPE_F32 ? 4 : 2);
    if (t->offset % CC_MODEL_ALIGN)
        return cc_rd_fail(r, CC_EFORMAT, "tensor '%s' offset %llu is not a multiple of %d", name,
                          (ull)t->offset, CC_MODEL_ALIGN);
    if (t->nbytes != want)
        return cc_rd_fail(r, CC_EFORMAT, "tensor '%s' nbytes is %llu; dims %s as %s take %llu bytes", name,
                          (ull)t->nbytes, dims_str(d, rank, dims, sizeof dims),
                          dtype == CC_DTYPE_F32 ? "f32" : "f16", (ull)want);
    if (t->offset >= r->data_size)
        return cc_rd_fail(r, CC_EFORMAT, "tensor '%s' starts at byte %llu, past the end of the data section "
                          "(%llu bytes)", name, (ull)t->offset, (ull)r->data_size);
    if (t->nbytes > r->data_size - t->offset)
        return cc_rd_fail(r, CC_EFORMAT, "tensor '%s' ends at byte %llu, past the end of the data section "
                          "(%llu bytes)", name, (ull)(t->offset + t->nbytes), (ull)r->data_size);
    t->dtype = (int)dtype;
    t->shape.rank = (int)rank;
    for (uint32_t k = 0; k < CC_MAX_RANK; k++)
        t->shape.d[k] = k < rank ? (int)d[k] : 0;
    return CC_OK;
}

static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char low;
    memcpy(&low, &one, 1);
    return low == 1;
}

/* f32 tensors are used where they lie (64-byte aligned: the mapping or copy
 * is, the data offset and every tensor offset are multiples of 64); f16
 * tensors, and f32 ones on a big-endian host, are converted into one owned
 * region, each at a 64-byte-aligned offset. */
static cc_status bind_tensors(cc_reader *r)
{
    cc_model *m = r->m;
    const int in_place_f32 = host_little_endian();
    size_t total = 0;
    int nconv = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const cc_model_tensor *t = &m->tensors[i];
        if (t->dtype == CC_DTYPE_F32 && in_place_f32)
            continue;
        size_t bytes = (cc_shape_numel(&t->shape) * sizeof(float) + CC_MODEL_ALIGN - 1) / CC_MODEL_ALIGN *
                       CC_MODEL_ALIGN;
        if (total > SIZE_MAX - bytes)
            return cc_rd_fail(r, CC_ENOMEM, "converting %d tensors to f32 needs more than %zu bytes", nconv,
                              (size_t)SIZE_MAX);
        total += bytes;
        nconv++;
    }
    if (total && !(m->converted = aligned_alloc(CC_MODEL_ALIGN, total)))
        return cc_rd_fail(r, CC_ENOMEM, "out of memory converting %d tensors to f32 (%zu bytes)", nconv, total);
    m->converted_bytes = total;
    size_t at = 0;
    for (int i = 0; i < m->ntensors; i++) {
        cc_model_tensor *t = &m->tensors[i];
        const unsigned char *src = r->b + r->data_off + t->offset;
        if (t->dtype == CC_DTYPE_F32 && in_place_f32) {
            t->data = (const float *)(const void *)src;
            continue;
        }
        const size_t n = cc_shape_numel(&t->shape);
        float *dst = (float *)(void *)((unsigned char *)m->converted + at);
        if (t->dtype == CC_DTYPE_F16) {
            for (size_t k = 0; k < n; k++)
                dst[k] = cc_half_to_float((uint16_t)(src[2 * k] | src[2 * k + 1] << 8));
        } else {
            for (size_t k = 0; k < n; k++) {
                uint32_t u = cc_le32(src + 4 * k);
                memcpy(&dst[k], &u, sizeof u);
            }
        }
        t->data = dst;
        at += (n * sizeof(float) + CC_MODEL_ALIGN - 1) / CC_MODEL_ALIGN * CC_MODEL_ALIGN;
    }
    return CC_OK;
}

cc_status cc_read_tensors(cc_reader *r)
{
    cc_model *m = r->m;
    uint32_t count;
    CC_TRY(cc_rd_u32(r, &count, "tensor count"));
    CC_TRY(cc_rd_count(r, count, MIN_TENSOR, "tensor count"));
    m->tensors = cc_rd_alloc(r, (size_t)count * sizeof *m->tensors);
    range *ranges = cc_rd_alloc(r, (size_t)count * sizeof *ranges);
    if (!m->tensors || !ranges)
        return cc_rd_nomem(r, (size_t)count * (sizeof *m->tensors + sizeof *ranges));
    for (uint32_t i = 0; i < count; i++) {
        memset(&m->tensors[i], 0, sizeof m->tensors[i]);
        CC_TRY(read_tensor(r, &m->tensors[i], i));
        ranges[i] = (range){m->tensors[i].offset, m->tensors[i].offset + m->tensors[i].nbytes, (int)i};
    }
    m->ntensors = (int)count;
    r->item[0] = '\0';
    CC_TRY(cc_rd_finish(r));
    qsort(ranges, count, sizeof *ranges, by_offset);
    for (uint32_t i = 1; i < count; i++)
        if (ranges[i].lo < ranges[i - 1].hi) {
            char qa[72], qb[72];
            const range *a = &ranges[i - 1], *b = &ranges[i];
            return cc_rd_fail(r, CC_EFORMAT, "tensors '%s' (data bytes %llu..%llu) and '%s' (data bytes "
                              "%llu..%llu) overlap", cc_qname(m->tensors[a->index].name, qa, sizeof qa),
                              (ull)a->lo, (ull)a->hi - 1, cc_qname(m->tensors[b->index].name, qb, sizeof qb),
                              (ull)b->lo, (ull)b->hi - 1);
        }
    return bind_tensors(r);
}

/* ---- graph ---- */

/* A node or alias name: 1 to 255 bytes (the engine's limit), unique among
 * nodes and aliases. */
static cc_status check_name(cc_reader *r, const char *name, const char *what, uint32_t index, int node)
{
    char q[72];
    size_t n = strlen(name);
    if (n == 0 || n > CC_MODEL_MAX_NAME)
        return cc_rd_fail(r, CC_EFORMAT, "%s %u: name '%s' is %zu bytes long; node and alias names have 1 to "
                          "%d bytes", what, index, cc_qname(name, q, sizeof q), n, CC_MODEL_MAX_NAME);
    if (cc_map_get(&r->names, name) >= 0)
        return cc_rd_fail(r, CC_EFORMAT, "%s %u: duplicate name '%s' (node and alias names are unique)", what,
                          index, cc_qname(name, q, sizeof q));
    if (!cc_map_put(&r->names, name, node))
        return cc_rd_nomem(r, 0);
    return CC_OK;
}

static cc_status read_params(cc_reader *r, const cc_op *op, const char *name, int *params)
{
    char q[72], qt[72];
    uint32_t nparams;
    CC_TRY(cc_rd_u32(r, &nparams, "nparams"));
    if (nparams > (uint32_t)op->nparams)
        return cc_rd_fail(r, CC_EFORMAT, "node '%s' has nparams %u; %s takes %d parameters", name, nparams,
                          op->name, op->nparams);
    for (uint32_t k = 0; k < nparams; k++) {
        const char *role, *tensor;
        CC_TRY(cc_rd_str(r, &role, "parameter role"));
        CC_TRY(cc_rd_str(r, &tensor, "parameter tensor"));
        int slot = -1;
        for (int j = 0; j < op->nparams; j++)
            if (!strcmp(op->param_names[j], role))
                slot = j;
        if (slot < 0) {
            char roles[96] = "";
            for (int j = 0; j < op->nparams; j++)
                snprintf(roles + strlen(roles), sizeof roles - strlen(roles), "%s%s", j ? ", " : "",
                         op->param_names[j]);
            return cc_rd_fail(r, CC_EFORMAT, "node '%s' has a parameter role '%s' that %s does not have "
                              "(its roles: %s)", name, cc_qname(role, q, sizeof q), op->name,
                              *roles ? roles : "none");
        }
        if (params[slot] >= 0)
            return cc_rd_fail(r, CC_EFORMAT, "node '%s' gives parameter role '%s' twice", name, role);
        params[slot] = cc_map_get(&r->tensors, tensor);
        if (params[slot] < 0)
            return cc_rd_fail(r, CC_EFORMAT, "node '%s' parameter role '%s' names tensor '%s', which is not in "
                              "the tensor table", name, role, cc_qname(tensor, qt, sizeof qt));
    }
    for (int j = 0; j < op->nparams; j++)
        if (params[j] < 0 && (op->required_params >> j & 1))
            return cc_rd_fail(r, CC_EFORMAT, "node '%s' (%s) has no parameter with role '%s', which %s requires",
                              name, op->name, op->param_names[j], op->name);
    return CC_OK;
}

static cc_status read_attrs(cc_reader *r, const cc_op *op, const char *name, cc_attrs *attrs)
{
    char q[72];
    uint32_t nattrs;
    const char *seen[MAX_ATTRS];
    CC_TRY(cc_rd_u32(r, &nattrs, "nattrs"));
    CC_TRY(cc_rd_count(r, nattrs, MIN_ATTR, "nattrs"));
    for (uint32_t k = 0; k < nattrs; k++) {
        const char *key;
        uint32_t n;
        double v[MAX_ATTR_VALUES];
        CC_TRY(cc_rd_str(r, &key, "attribute key"));
        CC_TRY(cc_rd_u32(r, &n, "attribute value count"));
        const char *qk = cc_qname(key, q, sizeof q);
        if (n < 1 || n > MAX_ATTR_VALUES)
            return cc_rd_fail(r, CC_EFORMAT, "node '%s' attribute '%s' has %u values; expected 1 to %d", name,
                              qk, n, MAX_ATTR_VALUES);
        for (uint32_t j = 0; j < n; j++)
            CC_TRY(cc_rd_f64(r, &v[j], "attribute value"));
        if (k >= MAX_ATTRS)  /* never reached: cc_attrs_set knows fewer keys, each allowed once */
            return cc_rd_fail(r, CC_EFORMAT, "node '%s' has %u attributes; at most %d", name, nattrs, MAX_ATTRS);
        for (uint32_t j = 0; j < k; j++)
            if (!strcmp(seen[j], key))
                return cc_rd_fail(r, CC_EFORMAT, "node '%s' has attribute '%s' twice (duplicate attribute)",
                                  name, qk);
        cc_error why;
        if (cc_attrs_set(attrs, key, v, (int)n, &why))
            return cc_rd_fail(r, CC_EFORMAT, "node '%s' (%s): %s", name, op->name, why.msg);
        seen[k] = key;
    }
    return CC_OK;
}

static cc_status read_node(cc_reader *r, uint32_t k)
{
    cc_graph *g = r->m->graph;
    const int self = g->nnodes;
    const char *name, *opname;
    char q[72], qo[72];
    item_index(r, "node", (uint32_t)self);
    CC_TRY(cc_rd_str(r, &name, "name"));
    CC_TRY(check_name(r, name, "node", (uint32_t)self, self));
    const char *qn = cc_qname(name, q, sizeof q);
    item_name(r, "node", name);
    CC_TRY(cc_rd_str(r, &opname, "op"));
    const cc_op *op = cc_op_find(opname);
    if (!op)
        return cc_rd_fail(r, CC_EFORMAT, "node '%s' has op '%s', which this version of cnncam does not "
                          "know (written by a newer converter?)", qn, cc_qname(opname, qo, sizeof qo));
    uint32_t ninputs;
    int inputs[CC_MAX_INPUTS], params[CC_MAX_PARAMS];
    CC_TRY(cc_rd_u32(r, &ninputs, "ninputs"));
    if (ninputs < (uint32_t)op->min_inputs || ninputs > (uint32_t)op->max_inputs)
        return cc_rd_fail(r, CC_EFORMAT, "node '%s' has ninputs %u; %s takes %d to %d inputs", qn, ninputs,
                          op->name, op->min_inputs, op->max_inputs);
    for (uint32_t j = 0; j < ninputs; j++) {
        uint32_t in;
        CC_TRY(cc_rd_u32(r, &in, "input"));
        if (in >= (uint32_t)self)
            return cc_rd_fail(r, CC_EFORMAT, "node '%s' (node %d) input %u is node %u, which is not an earlier "
                              "node", qn, self, j, in);
        inputs[j] = (int)in;
    }
    for (int j = 0; j < CC_MAX_PARAMS; j++)
        params[j] = -1;
    CC_TRY(read_params(r, op, qn, params));
    cc_attrs attrs = cc_attrs_default();
    CC_TRY(read_attrs(r, op, qn, &attrs));
    cc_error why;
    if (cc_graph_add_node(g, name, op->name, inputs, (int)ninputs, params, op->nparams, &attrs, &why) < 0)
        return cc_rd_fail(r, CC_ENOMEM, "graph node %u: %s", k, why.msg);  /* all else was checked */
    return CC_OK;
}

cc_status cc_read_graph(cc_reader *r)
{
    cc_model *m = r->m;
    cc_error why;
    char q[72];
    if (!(m->graph = cc_graph_create()))
        return cc_rd_nomem(r, sizeof *m->graph);
    cc_graph *g = m->graph;
    for (int i = 0; i < m->ntensors; i++)
        if (cc_graph_add_param(g, m->tensors[i].name, m->tensors[i].shape, m->tensors[i].data, &why) < 0)
            return cc_rd_fail(r, CC_ENOMEM, "tensor '%s': %s", cc_qname(m->tensors[i].name, q, sizeof q),
                              why.msg);

    uint32_t ninputs, nnodes, output, naliases;
    CC_TRY(cc_rd_u32(r, &ninputs, "ninputs"));
    if (ninputs == 0)
        return cc_rd_fail(r, CC_EFORMAT, "graph ninputs is 0; a model needs at least one input");
    CC_TRY(cc_rd_count(r, ninputs, MIN_NAME, "ninputs"));
    for (uint32_t i = 0; i < ninputs; i++) {
        const char *name;
        item_index(r, "graph input", (uint32_t)i);
        CC_TRY(cc_rd_str(r, &name, "name"));
        CC_TRY(check_name(r, name, "graph input", i, (int)i));
        if (cc_graph_add_input(g, name, &why) < 0)
            return cc_rd_fail(r, CC_ENOMEM, "graph input %u: %s", i, why.msg);
    }
    r->item[0] = '\0';
    CC_TRY(cc_rd_u32(r, &nnodes, "nnodes"));
    CC_TRY(cc_rd_count(r, nnodes, MIN_NODE, "nnodes"));
    for (uint32_t k = 0; k < nnodes; k++)
        CC_TRY(read_node(r, k));
    r->item[0] = '\0';
    const uint32_t total = (uint32_t)g->nnodes;
    CC_TRY(cc_rd_u32(r, &output, "output"));
    if (output >= total)
        return cc_rd_fail(r, CC_EFORMAT, "graph output is node %u, but the graph has %u nodes (0..%u)", output,
                          total, total - 1);
    if (!g->nodes[output].op)
        return cc_rd_fail(r, CC_EFORMAT, "graph output is node %u ('%s'), a graph input; expected the node "
                          "that computes the logits", output, cc_qname(g->nodes[output].name, q, sizeof q));
    m->output = (int)output;
    CC_TRY(cc_rd_u32(r, &naliases, "naliases"));
    CC_TRY(cc_rd_count(r, naliases, MIN_ALIAS, "naliases"));
    m->aliases = cc_rd_alloc(r, (size_t)naliases * sizeof *m->aliases);
    if (!m->aliases)
        return cc_rd_nomem(r, (size_t)naliases * sizeof *m->aliases);
    for (uint32_t i = 0; i < naliases; i++) {
        cc_alias *a = &m->aliases[i];
        uint32_t node;
        item_index(r, "alias", (uint32_t)i);
        CC_TRY(cc_rd_str(r, &a->name, "name"));
        item_name(r, "alias", a->name);
        CC_TRY(cc_rd_u32(r, &node, "node"));
        if (node >= total)
            return cc_rd_fail(r, CC_EFORMAT, "alias '%s' points at node %u, but the graph has %u nodes (0..%u)",
                              cc_qname(a->name, q, sizeof q), node, total, total - 1);
        CC_TRY(check_name(r, a->name, "alias", i, (int)node));
        a->node = (int)node;
        m->naliases = (int)i + 1;
    }
    r->item[0] = '\0';
    return cc_rd_finish(r);
}
