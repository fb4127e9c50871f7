/* engine/plan.c — shape inference, buffer lifetimes, arena layout, forward. */
#include "plan.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ALIGN = 64 };

cc_status cc_plan_shapes(const cc_graph *g, const cc_shape *input_shapes, cc_shape *shapes,
                         cc_error *err)
{
    int next_input = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const cc_node *n = &g->nodes[i];
        char buf[64];
        if (!n->op) {
            shapes[i] = input_shapes[next_input++];
            if (shapes[i].rank < 1 || shapes[i].rank > CC_MAX_RANK)
                return cc_fail(err, CC_EINVAL, "input '%s' has rank %d; expected 1 to %d", n->name,
                               shapes[i].rank, CC_MAX_RANK);
        } else {
            cc_shape in[CC_MAX_INPUTS], param[CC_MAX_PARAMS];
            int has[CC_MAX_PARAMS];
            for (int k = 0; k < n->ninputs; k++)
                in[k] = shapes[n->input[k]];
            for (int k = 0; k < CC_MAX_PARAMS; k++) {
                has[k] = n->param[k] >= 0;
                param[k] = has[k] ? g->params[n->param[k]].shape : (cc_shape){0, {0, 0, 0, 0}};
            }
            cc_error why;
            if (n->op->infer(&n->attrs, in, n->ninputs, param, has, &shapes[i], &why))
                return cc_fail(err, CC_EINVAL, "node '%s' (%s): %s", n->name, n->op->name, why.msg);
        }
        size_t numel = 1;
        for (int d = 0; d < shapes[i].rank; d++) {
            if (shapes[i].d[d] < 1)
                return cc_fail(err, CC_EINVAL, "node '%s' would have shape %s, with an empty dimension",
                               n->name, cc_shape_str(&shapes[i], buf, sizeof buf));
            if (numel > CC_MAX_NUMEL / (size_t)shapes[i].d[d])
                return cc_fail(err, CC_EINVAL, "node '%s' would have %s elements, over the limit of %zu",
                               n->name, cc_shape_str(&shapes[i], buf, sizeof buf), (size_t)CC_MAX_NUMEL);
            numel *= (size_t)shapes[i].d[d];
        }
    }
    return CC_OK;
}

typedef struct { int index; size_t bytes; int first; } by_size;

static int larger_first(const void *a, const void *b)
{
    const by_size *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    return x->first - y->first;
}


typedef struct { size_t lo, hi; } span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Largest buffers first, each at the lowest offset that clears every placed
 * buffer live at an overlapping step. */
cc_status cc_arena_layout(const cc_buffer_req *req, int n, size_t *offset, size_t *total,
                          cc_error *err)
{
    by_size *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    span *busy = malloc((size_t)(n ? n : 1) * sizeof *busy);
    char *placed = calloc((size_t)(n ? n : 1), 1);
    if (!order || !busy || !placed) {
        free(order), free(busy), free(placed);
        return cc_fail(err, CC_ENOMEM, "out of memory planning %d buffers", n);
    }
    for (int i = 0; i < n; i++)
        order[i] = (by_size){i, (req[i].bytes + ALIGN - 1) / ALIGN * ALIGN, req[i].first};
    qsort(order, (size_t)n, sizeof *order, larger_first);
    size_t end = 0;
    for (int k = 0; k < n; k++) {
        const int i = order[k].index;
        int nbusy = 0;
        for (int j = 0; j < n; j++)
            if (placed[j] && req[j].first <= req[i].last && req[i].first <= req[j].last)
                busy[nbusy++] = (span){offset[j], offset[j] + (req[j].bytes + ALIGN - 1) / ALIGN * ALIGN};
        qsort(busy, (size_t)nbusy, sizeof *busy, span_cmp);
        size_t at = 0;
        for (int j = 0; j < nbusy; j++) {
            if (busy[j].lo >= at + order[k].bytes)
                break;
            if (busy[j].hi > at)
                at = busy[j].hi;
        }
        offset[i] = at;
        placed[i] = 1;
        if (at + order[k].bytes > end)
            end = at + order[k].bytes;
    }
    free(order), free(busy), free(placed);
    *total = end;
    return CC_OK;
}

void cc_plan_free(cc_plan *p)
{
    if (!p)
        return;
    free(p->shape);
    free(p->value);
    free(p->value_last);
    free(p->extra);
    free(p->arena);
    free(p);
}

/* What node i's op->scratch_bytes asks for, from the planned shapes. */
static size_t node_scratch(const cc_graph *g, const cc_shape *shapes, int i)
{
    const cc_node *n = &g->nodes[i];
    if (!n->op || !n->op->scratch_bytes)
        return 0;
    cc_shape in[CC_MAX_INPUTS], param[CC_MAX_PARAMS];
    for (int k = 0; k < n->ninputs; k++)
        in[k] = shapes[n->input[k]];
    for (int k = 0; k < CC_MAX_PARAMS; k++)
        param[k] = n->param[k] >= 0 ? g->params[n->param[k]].shape : (cc_shape){0, {0, 0, 0, 0}};
    return n->op->scratch_bytes(&n->attrs, in, n->ninputs, param, &shapes[i]);
}

cc_plan *cc_plan_create(const cc_graph *g, const cc_shape *input_shapes, const cc_plan_opts *opts,
                        cc_error *err)
{
    const int nn = g->nnodes, nextra = opts ? opts->nextra : 0;
    const int nsteps = opts && opts->nsteps > nn ? opts->nsteps : nn;
    if (nn == 0 || g->nodes[nn - 1].op == NULL) {
        cc_fail(err, CC_EINVAL, "the graph has no op to run");
        return NULL;
    }
    cc_plan *p = calloc(1, sizeof *p);
    cc_buffer_req *req = malloc((size_t)(nn + nextra + 1) * sizeof *req);  /* +1: scratch */
    size_t *offset = malloc((size_t)(nn + nextra + 1) * sizeof *offset);
    if (!p || !req || !offset || !(p->shape = malloc((size_t)nn * sizeof *p->shape)) ||
        !(p->value = calloc((size_t)nn, sizeof *p->value)) ||
        !(p->value_last = malloc((size_t)nn * sizeof *p->value_last)) ||
        !(p->extra = calloc((size_t)(nextra ? nextra : 1), sizeof *p->extra))) {
        cc_fail(err, CC_ENOMEM, "out of memory planning a graph of %d nodes", nn);
        goto fail;
    }
    p->graph = g;
    p->nsteps = nsteps;
    if (cc_plan_shapes(g, input_shapes, p->shape, err))
        goto fail;

    /* A value lives from its own step to its last reader, or longer when kept. */
    for (int i = 0; i < nn; i++)
        p->value_last[i] = i;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].ninputs; k++)
            if (p->value_last[g->nodes[i].input[k]] < i)
                p->value_last[g->nodes[i].input[k]] = i;
    for (int i = 0; i < nn; i++) {
        int consumed = p->value_last[i] > i;
        if (!consumed || (opts && opts->keep_all))  /* outputs of the graph stay readable */
            p->value_last[i] = nsteps - 1;
        if (opts && opts->live_until && opts->live_until[i] > p->value_last[i])
            p->value_last[i] = opts->live_until[i];
    }
    for (int k = 0; opts && k < opts->nkeep; k++)
        p->value_last[opts->keep[k]] = nsteps - 1;

    for (int i = 0; i < nn; i++)
        req[i] = (cc_buffer_req){cc_shape_numel(&p->shape[i]) * sizeof(cc_real), i, p->value_last[i]};
    for (int k = 0; k < nextra; k++)
        req[nn + k] = opts->extra[k];
    /* One scratch region for every op call, live at every step. */
    for (int i = 0; i < nn; i++) {
        const size_t s = node_scratch(g, p->shape, i);
        p->scratch_bytes = s > p->scratch_bytes ? s : p->scratch_bytes;
    }
    const int nreq = nn + nextra + (p->scratch_bytes > 0);
    req[nn + nextra] = (cc_buffer_req){p->scratch_bytes, 0, nsteps - 1};
    if (cc_arena_layout(req, nreq, offset, &p->arena_bytes, err))
        goto fail;
    p->arena = aligned_alloc(ALIGN, p->arena_bytes ? p->arena_bytes : ALIGN);
    if (!p->arena) {
        cc_fail(err, CC_ENOMEM, "out of memory: the plan needs %zu bytes", p->arena_bytes);
        goto fail;
    }
    for (int i = 0; i < nn; i++)
        p->value[i] = (cc_real *)(p->arena + offset[i]);
    for (int k = 0; k < nextra; k++)
        p->extra[k] = (cc_real *)(p->arena + offset[nn + k]);
    if (p->scratch_bytes)
        p->scratch = p->arena + offset[nn + nextra];
    free(req);
    free(offset);
    return p;
fail:
    free(req);
    free(offset);
    cc_plan_free(p);
    return NULL;
}

cc_op_args cc_plan_args(const cc_plan *p, int i)
{
    const cc_node *n = &p->graph->nodes[i];
    cc_op_args a;
    memset(&a, 0, sizeof a);
    a.attrs = &n->attrs;
    a.ninputs = n->ninputs;
    for (int k = 0; k < n->ninputs; k++) {
        a.in_shape[k] = p->shape[n->input[k]];
        a.in[k] = p->value[n->input[k]];
    }
    for (int k = 0; k < CC_MAX_PARAMS; k++)
        if (n->param[k] >= 0) {
            a.param_shape[k] = p->graph->params[n->param[k]].shape;
            a.param[k] = p->graph->params[n->param[k]].data;
        }
    a.out_shape = p->shape[i];
    a.out = p->value[i];
    a.scratch = p->scratch;
    return a;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void run_node(cc_plan *p, int i)
{
    cc_op_args a = cc_plan_args(p, i);
    const double t = p->node_seconds ? seconds() : 0;
    p->graph->nodes[i].op->forward(&a);
    if (p->node_seconds)
        p->node_seconds[i] += seconds() - t;
}

void cc_plan_forward(cc_plan *p, const cc_real *const *inputs)
{
    int next_input = 0;
    for (int i = 0; i < p->graph->nnodes; i++) {
        if (!p->graph->nodes[i].op)
            memcpy(p->value[i], inputs[next_input++], cc_shape_numel(&p->shape[i]) * sizeof(cc_real));
        else
            run_node(p, i);
    }
}

void cc_plan_forward_range(cc_plan *p, int first, int last)
{
    assert(0 <= first && last < p->graph->nnodes);
    for (int i = first; i <= last; i++)
        if (p->graph->nodes[i].op)
            run_node(p, i);
}

const cc_real *cc_plan_value(const cc_plan *p, int node)
{
    if (node < 0 || node >= p->graph->nnodes || p->value_last[node] < p->graph->nnodes - 1)
        return NULL;
    return p->value[node];
}
