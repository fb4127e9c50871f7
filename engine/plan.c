/* engine/plan.c — shape inference, buffer lifetimes, arena layout, forward. */
#include "plan.h"
#include "layers/kernels.h"

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
    free(p->fused_head);
    free(p->fused_tail);
    free(p->fused_bn);
    for (int i = 0; p->prepared && i < p->graph->nnodes; i++)
        free(p->prepared[i]);
    free(p->prepared);
    free(p->runs);
    free(p->epilogue);
    free(p->folded);
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

/* The node that reads value v when exactly one input of one node does,
 * else -1. */
static void single_readers(const cc_graph *g, int *reader)
{
    for (int i = 0; i < g->nnodes; i++)
        reader[i] = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].ninputs; k++) {
            const int v = g->nodes[i].input[k];
            reader[v] = reader[v] == -1 ? i : -2;
        }
    for (int i = 0; i < g->nnodes; i++)
        reader[i] = reader[i] < 0 ? -1 : reader[i];
}

/* Finds the fused chains (plan.h) from the planned lifetimes; sets
 * fused_head, fused_tail, fused_bn (all -1 on entry) and the epilogues, with room for the
 * batchnorm folds in p->folded (run_node folds them). A value may join a chain only when its one reader is the next
 * node and its lifetime ends there. */
static cc_status plan_fusion(cc_plan *p, int *reader, cc_error *err)
{
    const cc_graph *g = p->graph;
    const int nn = g->nnodes;
    size_t nfold = 0;
    single_readers(g, reader);
    for (int pass = 0; pass < 2; pass++) {   /* count the folds, then fill them */
        size_t at = 0;
        for (int i = 0; i < nn; i++) {
            const cc_node *h = &g->nodes[i];
            if (!h->op || !h->op->takes_epilogue || p->shape[i].rank != 4 || (pass && p->fused_head[i] != i))
                continue;
            cc_epilogue e;
            memset(&e, 0, sizeof e);
            int cur = i, bn = -1;
            for (;;) {
                const int j = reader[cur];
                if (j < 0 || p->value_last[cur] != j)
                    break;
                const cc_node *n = &g->nodes[j];
                if (n->ninputs != 1)
                    break;
                if (!strcmp(n->op->name, "batchnorm2d") && bn < 0 && e.nacts == 0)
                    bn = j;
                else if (n->op->range && e.nacts < CC_MAX_EPILOGUE_ACTS)
                    e.act[e.nacts++] = n->op->range;
                else
                    break;
                cur = j;
            }
            if (cur == i)
                continue;
            const int C = p->shape[i].d[1];
            if (pass == 0) {
                for (int k = i; k >= 0; k = k == cur ? -1 : reader[k])
                    p->fused_head[k] = i;
                p->fused_tail[i] = cur;
                nfold += bn >= 0 ? 2 * (size_t)C : 0;
                continue;
            }
            if (bn >= 0) {
                e.scale = p->folded + at, e.shift = p->folded + at + C;
                p->fused_bn[i] = bn;
                at += 2 * (size_t)C;
            }
            p->epilogue[i] = e;
        }
        if (pass == 0 && nfold && !(p->folded = malloc(nfold * sizeof *p->folded)))
            return cc_fail(err, CC_ENOMEM, "out of memory planning fused layers");
    }
    return CC_OK;
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
        !(p->extra = calloc((size_t)(nextra ? nextra : 1), sizeof *p->extra)) ||
        !(p->fused_head = malloc((size_t)nn * sizeof *p->fused_head)) ||
        !(p->fused_tail = malloc((size_t)nn * sizeof *p->fused_tail)) ||
        !(p->fused_bn = malloc((size_t)nn * sizeof *p->fused_bn)) ||
        !(p->epilogue = calloc((size_t)nn, sizeof *p->epilogue)) ||
        !(p->runs = calloc((size_t)nn, sizeof *p->runs)) ||
        !(p->prepared = calloc((size_t)nn, sizeof *p->prepared))) {
        cc_fail(err, CC_ENOMEM, "out of memory planning a graph of %d nodes", nn);
        goto fail;
    }
    p->graph = g;
    p->nsteps = nsteps;
    p->prepare = opts && opts->prepare;
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
        p->fused_head[i] = -1, p->fused_tail[i] = -1, p->fused_bn[i] = -1;
    if (!(opts && opts->no_fusion)) {
        int *reader = malloc((size_t)nn * sizeof *reader);
        const cc_status st = reader ? plan_fusion(p, reader, err)
                                    : cc_fail(err, CC_ENOMEM, "out of memory planning a graph of %d nodes", nn);
        free(reader);
        if (st)
            goto fail;
    }
    for (int i = 0; i < nn; i++)
        req[i] = (cc_buffer_req){cc_shape_numel(&p->shape[i]) * sizeof(cc_real), i, p->value_last[i]};
    /* A chain's head writes its tail's buffer, which must therefore be free
     * from the head's step on; the values inside the chain take no memory. */
    for (int i = 0; i < nn; i++) {
        if (p->fused_tail[i] >= 0)
            req[p->fused_tail[i]].first = i;
        if (p->fused_head[i] >= 0 && p->fused_tail[p->fused_head[i]] != i)
            req[i].bytes = 0;
    }
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

/* Head i's batchnorm as scale and shift per channel, from its parameters now. */
static void fold(cc_plan *p, int i)
{
    const cc_graph *g = p->graph;
    const cc_node *b = &g->nodes[p->fused_bn[i]];
    const cc_real *prm[4];
    for (int k = 0; k < 4; k++)
        prm[k] = b->param[k] >= 0 ? g->params[b->param[k]].data : NULL;
    cc_real *scale = (cc_real *)p->epilogue[i].scale, *shift = (cc_real *)p->epilogue[i].shift;
    for (int c = 0; c < p->shape[i].d[1]; c++)
        cc_batchnorm_fold(prm[0], prm[1], prm[2], prm[3], b->attrs.eps, c, &scale[c], &shift[c]);
}

/* Node i's prepared parameters at its second forward; none when its op has
 * nothing to prepare here or memory is short (the forward then does the work
 * itself, as without preparation). */
static void prepare_node(cc_plan *p, int i, const cc_op_args *a)
{
    const cc_op *op = p->graph->nodes[i].op;
    if (!op->prepare || p->runs[i]++ != 1)
        return;
    cc_shape in[CC_MAX_INPUTS];
    for (int k = 0; k < a->ninputs; k++)
        in[k] = a->in_shape[k];
    const size_t bytes = op->prepared_bytes(a->attrs, in, a->ninputs, a->param_shape, &a->out_shape);
    if (bytes && (p->prepared[i] = aligned_alloc(ALIGN, (bytes + ALIGN - 1) / ALIGN * ALIGN)))
        op->prepare(a, p->prepared[i]);
}

static void run_node(cc_plan *p, int i)
{
    if (p->fused_head[i] >= 0 && p->fused_head[i] != i)
        return;   /* its head computed it */
    cc_op_args a = cc_plan_args(p, i);
    if (p->fused_head[i] == i) {
        a.out = p->value[p->fused_tail[i]];
        a.epilogue = &p->epilogue[i];
        if (p->fused_bn[i] >= 0)
            fold(p, i);
    }
    if (p->prepare)
        prepare_node(p, i, &a);
    a.prepared = p->prepared[i];
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
    assert((p->fused_head[first] < 0 || p->fused_head[first] == first) &&
           (p->fused_head[last] < 0 || p->fused_tail[p->fused_head[last]] == last) && "a range splits a fused chain");
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
