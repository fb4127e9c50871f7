/* api/api_info.c — model introspection of include/cnncam.h: the graph's
 * nodes and aliases, each node's shape for an input size, the tensors, the
 * file's size and its typed metadata (what `cnncam info` prints). Queries
 * only, over the loaded cc_model (weights/model.h); nothing here allocates
 * except the shape inference's scratch. */
#include "api/api_internal.h"
#include "engine/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cc_graph *graph_of(const cnncam_model *m)
{
    return m ? m->file->graph : NULL;
}

int cnncam_model_node_count(const cnncam_model *m)
{
    return m ? graph_of(m)->nnodes : 0;
}

static const cc_node *node_at(const cnncam_model *m, int node)
{
    return m && node >= 0 && node < graph_of(m)->nnodes ? &graph_of(m)->nodes[node] : NULL;
}

const char *cnncam_model_node_name(const cnncam_model *m, int node)
{
    const cc_node *n = node_at(m, node);
    return n ? n->name : NULL;
}

const char *cnncam_model_node_op(const cnncam_model *m, int node)
{
    const cc_node *n = node_at(m, node);
    if (!n)
        return NULL;
    return n->op ? n->op->name : "input";  /* graph inputs have no op */
}

int cnncam_model_output_node(const cnncam_model *m)
{
    return m ? m->file->output : -1;
}

int cnncam_model_find_node(const cnncam_model *m, const char *name)
{
    return m && name ? cc_model_find_layer(m->file, name) : -1;
}

int cnncam_model_alias_count(const cnncam_model *m)
{
    return m ? m->file->naliases : 0;
}

const char *cnncam_model_alias_name(const cnncam_model *m, int i)
{
    return m && i >= 0 && i < m->file->naliases ? m->file->aliases[i].name : NULL;
}

int cnncam_model_alias_node(const cnncam_model *m, int i)
{
    return m && i >= 0 && i < m->file->naliases ? m->file->aliases[i].node : -1;
}

const char *cnncam_model_node_layout(const cnncam_model *m, int node)
{
    const cc_meta *e = m && node_at(m, node) ? cc_model_meta(m->file, "node.layout") : NULL;
    if (!e || !m->file->node_layout)
        return NULL;
    const int first = graph_of(m)->ninputs;
    return node < first ? "nchw" : e->strs[node - first];
}

const char *cnncam_model_layer_warning(const cnncam_model *m, int node)
{
    if (!m || !node_at(m, node) || !m->file->node_layout)
        return NULL;
    const cc_layout *lay = &m->file->node_layout[node];
    if (lay->kind != CC_LAYOUT_TOKENS || !lay->prefix)
        return NULL;
    const cc_graph *g = graph_of(m);
    int readers = 0;
    for (int i = node + 1; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].ninputs; k++) {
            if (g->nodes[i].input[k] != node)
                continue;
            const cc_node *r = &g->nodes[i];
            if (strcmp(r->op->name, "slice") || r->attrs.axis != 1 || r->attrs.end > lay->prefix)
                return NULL;      /* a reader of the patch tokens */
            readers++;
        }
    return readers ? "only its prefix (class) tokens reach the output, so the patch tokens' gradients are exactly "
                     "zero and every gradient map here is blank; explain an earlier layer (the last block's first "
                     "norm)" : NULL;
}

static void public_shape(cnncam_shape *out, const cc_shape *s)
{
    out->rank = s->rank;
    for (int d = 0; d < CNNCAM_MAX_RANK; d++)
        out->dims[d] = d < s->rank ? s->d[d] : 0;
}

cnncam_status cnncam_model_node_shapes(const cnncam_model *m, int height, int width, cnncam_shape *shapes,
                                       char *err, size_t errlen)
{
    if (!m || !shapes)
        return cc_api_report(err, errlen, CNNCAM_EINVAL,
                             !m ? "cnncam_model_node_shapes: the model is NULL"
                                : "cnncam_model_node_shapes: shapes is NULL; give room for "
                                  "cnncam_model_node_count shapes");
    if (height < 1 || width < 1 || height > CC_MODEL_MAX_SIDE || width > CC_MODEL_MAX_SIDE) {
        char msg[128];
        snprintf(msg, sizeof msg, "an input of %dx%d: height and width take 1 to %d", height, width,
                 CC_MODEL_MAX_SIDE);
        return cc_api_report(err, errlen, CNNCAM_EINVAL, msg);
    }
    const cc_graph *g = graph_of(m);
    cc_shape *all = malloc((size_t)g->nnodes * sizeof *all);
    if (!all)
        return cc_api_report(err, errlen, CNNCAM_ENOMEM, "out of memory inferring the layers' shapes");
    const cc_shape in = cc_shape4(1, m->input->channels, height, width);
    cc_error e;
    const cnncam_status st = (cnncam_status)cc_plan_shapes(g, &in, all, &e);
    for (int i = 0; !st && i < g->nnodes; i++)
        public_shape(&shapes[i], &all[i]);
    free(all);
    return cc_api_report(err, errlen, st, e.msg);
}

int cnncam_model_tensor_count(const cnncam_model *m)
{
    return m ? m->file->ntensors : 0;
}

static const cc_model_tensor *tensor_at(const cnncam_model *m, int i)
{
    return m && i >= 0 && i < m->file->ntensors ? &m->file->tensors[i] : NULL;
}

const char *cnncam_model_tensor_name(const cnncam_model *m, int i)
{
    const cc_model_tensor *t = tensor_at(m, i);
    return t ? t->name : NULL;
}

const char *cnncam_model_tensor_dtype(const cnncam_model *m, int i)
{
    const cc_model_tensor *t = tensor_at(m, i);
    if (!t)
        return NULL;
    return t->dtype == CC_DTYPE_F16 ? "f16" : "f32";  /* the reader accepts no other */
}

int cnncam_model_tensor_shape(const cnncam_model *m, int i, cnncam_shape *shape)
{
    const cc_model_tensor *t = tensor_at(m, i);
    if (!t || !shape)
        return 0;
    public_shape(shape, &t->shape);
    return 1;
}

long long cnncam_model_parameter_count(const cnncam_model *m)
{
    long long n = 0;
    for (int i = 0; m && i < m->file->ntensors; i++)
        n += (long long)cc_shape_numel(&m->file->tensors[i].shape);
    return n;
}

long long cnncam_model_file_size(const cnncam_model *m)
{
    return m ? (long long)m->file->file_size : 0;
}

const char *cnncam_model_meta_key(const cnncam_model *m, int i)
{
    return m && i >= 0 && i < m->file->nmeta ? m->file->meta[i].key : NULL;
}

const char *cnncam_model_meta_type(const cnncam_model *m, const char *key)
{
    const cc_meta *e = m ? cc_model_meta(m->file, key) : NULL;
    if (!e)
        return NULL;
    switch (e->type) {
    case CC_META_STRING: return "string";
    case CC_META_INT: return "int";
    case CC_META_FLOAT: return "float";
    case CC_META_STRINGS: return "strings";
    case CC_META_FLOATS: return "floats";
    }
    return NULL;
}

const char *cnncam_model_meta_string(const cnncam_model *m, const char *key)
{
    return m ? cc_model_meta_string(m->file, key) : NULL;
}

int cnncam_model_meta_int(const cnncam_model *m, const char *key, long long *value)
{
    int64_t v;
    if (!m || !value || !cc_model_meta_int(m->file, key, &v))
        return 0;
    *value = (long long)v;
    return 1;
}

int cnncam_model_meta_float(const cnncam_model *m, const char *key, double *value)
{
    return m && value && cc_model_meta_float(m->file, key, value);
}

/* The list lookups write NULL / 0 when the key is absent; the public ones leave
 * the caller's values untouched instead, as the scalar ones do. */
int cnncam_model_meta_strings(const cnncam_model *m, const char *key, const char *const **values, int *n)
{
    if (!m || !values || !n || !cc_model_meta_strings(m->file, key, NULL, NULL))
        return 0;
    return cc_model_meta_strings(m->file, key, values, n);
}

int cnncam_model_meta_floats(const cnncam_model *m, const char *key, const double **values, int *n)
{
    if (!m || !values || !n || !cc_model_meta_floats(m->file, key, NULL, NULL))
        return 0;
    return cc_model_meta_floats(m->file, key, values, n);
}
