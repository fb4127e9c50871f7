/* autograd/tape.c — planning and running the backward; see tape.h. */
#include "tape.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void cc_tape_free(cc_tape *t)
{
    if (!t)
        return;
    cc_plan_free(t->plan);
    free(t->order);
    free(t->grad);
    free(t->param_grad);
    free(t->reads);
    free(t->requested);
    free(t->targets);
    free(t->active);
    free(t->zeroed);
    free(t);
}

/* Marks below[v]: a request lies at v or under it (so v's gradient is needed),
 * and reaches[v]: v feeds the seed. */
static cc_status mark(const cc_graph *g, const cc_tape_request *req, char *below, char *reaches,
                      char *param_wanted, cc_error *err)
{
    const int nn = g->nnodes;
    if (req->seed < 0 || req->seed >= nn)
        return cc_fail(err, CC_EINVAL, "backward seed %d is not a node of the graph", req->seed);
    for (int k = 0; k < req->nparam_grads; k++) {
        if (req->param_grads[k] < 0 || req->param_grads[k] >= g->nparams)
            return cc_fail(err, CC_EINVAL, "gradient asked for parameter %d of %d", req->param_grads[k],
                           g->nparams);
        param_wanted[req->param_grads[k]] = 1;
    }
    for (int k = 0; k < req->ntargets; k++) {
        if (req->targets[k] < 0 || req->targets[k] >= nn)
            return cc_fail(err, CC_EINVAL, "gradient asked for node %d of %d", req->targets[k], nn);
        below[req->targets[k]] = 1;
    }
    for (int i = 0; i < nn; i++) {
        const cc_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++)
            below[i] |= below[n->input[k]];
        for (int k = 0; k < CC_MAX_PARAMS; k++)
            if (n->param[k] >= 0 && param_wanted[n->param[k]] && !(n->op->buffer_params >> k & 1))
                below[i] = 1;
    }
    reaches[req->seed] = 1;
    for (int i = nn - 1; i >= 0; i--)
        if (reaches[i])
            for (int k = 0; k < g->nodes[i].ninputs; k++)
                reaches[g->nodes[i].input[k]] = 1;
    for (int k = 0; k < req->ntargets; k++)
        if (!reaches[req->targets[k]])
            return cc_fail(err, CC_EINVAL, "'%s' does not feed '%s': its gradient would be zero",
                           g->nodes[req->targets[k]].name, g->nodes[req->seed].name);
    for (int p = 0; p < g->nparams; p++)
        if (param_wanted[p]) {
            int used = 0;
            for (int i = 0; i < nn; i++)
                for (int k = 0; k < CC_MAX_PARAMS; k++)
                    used |= g->nodes[i].param[k] == p && reaches[i] && !(g->nodes[i].op->buffer_params >> k & 1);
            if (!used)
                return cc_fail(err, CC_EINVAL, "parameter '%s' is not a differentiable parameter of a node "
                               "feeding '%s'", g->params[p].name, g->nodes[req->seed].name);
        }
    return CC_OK;
}

/* Whether node i's backward computes some input gradient / some parameter gradient. */
static int wants_din(const cc_graph *g, const char *below, int i)
{
    for (int k = 0; k < g->nodes[i].ninputs; k++)
        if (below[g->nodes[i].input[k]])
            return 1;
    return 0;
}

static int wants_dparam(const cc_graph *g, const char *param_wanted, int i)
{
    const cc_node *n = &g->nodes[i];
    for (int k = 0; k < CC_MAX_PARAMS; k++)
        if (n->param[k] >= 0 && param_wanted[n->param[k]] && !(n->op->buffer_params >> k & 1))
            return 1;
    return 0;
}

cc_tape *cc_tape_create(const cc_graph *g, const cc_shape *input_shapes,
                        const cc_tape_request *req, cc_error *err)
{
    const int nn = g->nnodes, np = g->nparams;
    cc_tape *t = calloc(1, sizeof *t);
    char *below = calloc((size_t)nn, 1), *reaches = calloc((size_t)nn, 1);
    char *param_wanted = calloc((size_t)(np ? np : 1), 1);
    int *live_until = malloc((size_t)nn * sizeof *live_until);
    int *keep = malloc((size_t)(req->nkeep + req->ntargets + 1) * sizeof *keep);
    cc_buffer_req *extra = malloc((size_t)(nn + np + 1) * sizeof *extra);
    int *extra_of_node = malloc((size_t)nn * sizeof *extra_of_node);
    int *extra_of_param = malloc((size_t)(np ? np : 1) * sizeof *extra_of_param);
    cc_shape *shapes = malloc((size_t)nn * sizeof *shapes);
    if (!t || !below || !reaches || !param_wanted || !live_until || !keep || !extra ||
        !extra_of_node || !extra_of_param || !shapes || !(t->order = malloc((size_t)nn * sizeof(int))) ||
        !(t->grad = calloc((size_t)nn, sizeof *t->grad)) ||
        !(t->param_grad = calloc((size_t)(np ? np : 1), sizeof *t->param_grad)) ||
        !(t->reads = calloc((size_t)nn, sizeof *t->reads)) ||
        !(t->requested = calloc((size_t)nn, 1)) ||
        !(t->targets = malloc((size_t)(req->ntargets ? req->ntargets : 1) * sizeof(int))) ||
        !(t->active = calloc((size_t)nn, 1)) || !(t->zeroed = calloc((size_t)nn, 1))) {
        cc_fail(err, CC_ENOMEM, "out of memory planning the backward of %d nodes", nn);
        goto fail;
    }
    t->seed = req->seed;
    if (mark(g, req, below, reaches, param_wanted, err) || cc_plan_shapes(g, input_shapes, shapes, err))
        goto fail;
    for (int k = 0; k < req->ntargets; k++)
        t->targets[k] = req->targets[k];
    t->ntargets = req->ntargets;

    /* The backward order: nodes on a path from a request to the seed, last first. */
    for (int i = nn - 1; i >= 0; i--)
        if (g->nodes[i].op && reaches[i] && below[i] && (wants_din(g, below, i) || wants_dparam(g, param_wanted, i)))
            t->order[t->norder++] = i;
    const int nsteps = nn + t->norder + 1;  /* +1: the step that seeds the backward */

    /* What a backward reads stays alive to the end, not just to its step: the
     * same forward serves several backwards (one per explained class), and a
     * gradient buffer of a later step must not overwrite it in between. */
    for (int i = 0; i < nn; i++)
        live_until[i] = -1;
    for (int s = 0; s < t->norder; s++) {
        const int i = t->order[s];
        const cc_op *op = g->nodes[i].op;
        t->reads[i] = (wants_din(g, below, i) ? op->saves_for_dinput : 0) |
                      (wants_dparam(g, param_wanted, i) ? op->saves_for_dparam : 0);
        if (t->reads[i] & CC_SAVES_OUTPUT)
            live_until[i] = nsteps - 1;
        if (t->reads[i] & CC_SAVES_INPUTS)
            for (int k = 0; k < g->nodes[i].ninputs; k++)
                live_until[g->nodes[i].input[k]] = nsteps - 1;
    }

    /* A gradient buffer starts at the first backward that may write it (the
     * seed step for the seed) and ends after its producer's backward read it;
     * requested ones last to the end. */
    int nextra = 0;
    for (int i = 0; i < nn; i++)
        extra_of_node[i] = -1;
    for (int i = 0; i < nn; i++)
        if (reaches[i] && below[i]) {
            int first = i == req->seed ? nn : nsteps, last = nn;
            for (int s = 0; s < t->norder; s++) {
                const cc_node *n = &g->nodes[t->order[s]];
                for (int k = 0; k < n->ninputs; k++)
                    if (n->input[k] == i && nn + 1 + s < first)
                        first = nn + 1 + s;
                if (t->order[s] == i)
                    last = nn + 1 + s;
            }
            for (int k = 0; k < req->ntargets; k++)
                if (req->targets[k] == i) {
                    last = nsteps - 1;
                    t->requested[i] = 1;
                }
            if (last < first)
                last = first;
            extra_of_node[i] = nextra;
            extra[nextra++] = (cc_buffer_req){cc_shape_numel(&shapes[i]) * sizeof(cc_real), first, last};
        }
    for (int p = 0; p < np; p++) {
        extra_of_param[p] = -1;
        if (param_wanted[p]) {
            extra_of_param[p] = nextra;
            extra[nextra++] = (cc_buffer_req){cc_shape_numel(&g->params[p].shape) * sizeof(cc_real), nn,
                                              nsteps - 1};
        }
    }

    int nkeep = 0;
    for (int k = 0; k < req->nkeep; k++) {
        if (req->keep[k] < 0 || req->keep[k] >= nn) {
            cc_fail(err, CC_EINVAL, "asked to keep node %d of %d", req->keep[k], nn);
            goto fail;
        }
        keep[nkeep++] = req->keep[k];
    }
    keep[nkeep++] = req->seed;
    const cc_plan_opts opts = {.keep = keep, .nkeep = nkeep, .live_until = live_until,
                               .extra = extra, .nextra = nextra, .nsteps = nsteps, .no_fusion = req->no_fusion,
                               .prepare = req->prepare};
    if (!(t->plan = cc_plan_create(g, input_shapes, &opts, err)))
        goto fail;
    for (int i = 0; i < nn; i++)
        if (extra_of_node[i] >= 0)
            t->grad[i] = t->plan->extra[extra_of_node[i]];
    for (int p = 0; p < np; p++)
        if (extra_of_param[p] >= 0)
            t->param_grad[p] = t->plan->extra[extra_of_param[p]];
    goto done;
fail:
    cc_tape_free(t);
    t = NULL;
done:
    free(below), free(reaches), free(param_wanted), free(live_until), free(keep);
    free(extra), free(extra_of_node), free(extra_of_param), free(shapes);
    return t;
}

void cc_tape_forward(cc_tape *t, const cc_real *const *inputs)
{
    cc_plan_forward(t->plan, inputs);
    memset(t->active, 0, (size_t)t->plan->graph->nnodes);  /* no gradient of this forward yet */
    t->have_param_grads = 0;
}

static void zero(cc_real *p, const cc_shape *s)
{
    memset(p, 0, cc_shape_numel(s) * sizeof(cc_real));
}

/* active[i]: the pass wants node i's gradient: a selected target lies at or
 * below i (or a wanted parameter, when the pass takes them) and i feeds the
 * seed, i.e. has a gradient buffer. A node that does not feed the seed feeds
 * only nodes that do not either, so clearing it in the same sweep is safe. */
static void select_nodes(cc_tape *t, const cc_tape_pass *pass)
{
    const cc_graph *g = t->plan->graph;
    const int nn = g->nnodes;
    memset(t->active, 0, (size_t)nn);
    const int n = pass->targets ? pass->ntargets : t->ntargets;
    for (int k = 0; k < n; k++) {
        const int which = pass->targets ? pass->targets[k] : k;
        assert(which >= 0 && which < t->ntargets);
        t->active[t->targets[which]] = 1;
    }
    for (int i = 0; i < nn; i++) {
        const cc_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->ninputs; k++)
            t->active[i] |= t->active[nd->input[k]];
        for (int k = 0; k < CC_MAX_PARAMS && pass->param_grads; k++)
            if (nd->param[k] >= 0 && !(nd->op->buffer_params >> k & 1) && t->param_grad[nd->param[k]])
                t->active[i] = 1;
        t->active[i] &= t->grad[i] != NULL;
    }
}

void cc_tape_backward_pass(cc_tape *t, const cc_real *seed_grad, const cc_tape_pass *pass)
{
    const cc_plan *p = t->plan;
    const cc_graph *g = p->graph;
    const int nn = g->nnodes;
    select_nodes(t, pass);
    t->have_param_grads = pass->param_grads;
    for (int q = 0; q < g->nparams && pass->param_grads; q++)
        if (t->param_grad[q])
            zero(t->param_grad[q], &g->params[q].shape);
    if (!t->active[t->seed])
        return;  /* nothing selected lies under the seed */
    memcpy(t->grad[t->seed], seed_grad, cc_shape_numel(&p->shape[t->seed]) * sizeof(cc_real));
    /* A gradient buffer is zeroed by the first node of THIS pass that writes
     * it, not at a planned step, so a pass never depends on which writers
     * another pass ran. The arena stays sound: the plan gave each buffer the
     * steps from its first possible writer to its producer's backward (to the
     * end if requested), the union of what every pass can use; a pass uses it
     * from its first executed writer to that same end, inside that interval,
     * where no other buffer or saved value shares its memory. Inactive nodes
     * are neither read nor written. */
    memset(t->zeroed, 0, (size_t)nn);
    for (int s = 0; s < t->norder; s++) {
        const int i = t->order[s];
        if (!t->active[i])
            continue;
        const cc_node *n = &g->nodes[i];
        cc_op_args a = cc_plan_args(p, i);
        int writes = 0;
        /* Only what the tape saved is passed: anything else may be overwritten. */
        if (!(t->reads[i] & CC_SAVES_OUTPUT))
            a.out = NULL;
        for (int k = 0; k < n->ninputs; k++) {
            const int v = n->input[k];
            if (!(t->reads[i] & CC_SAVES_INPUTS))
                a.in[k] = NULL;
            a.din[k] = t->active[v] ? t->grad[v] : NULL;
            if (a.din[k] && !t->zeroed[v]) {  /* the same tensor twice (x + x) is zeroed once */
                zero(t->grad[v], &p->shape[v]);
                t->zeroed[v] = 1;
            }
            writes |= a.din[k] != NULL;
        }
        for (int k = 0; k < CC_MAX_PARAMS && pass->param_grads; k++)
            if (n->param[k] >= 0 && !(n->op->buffer_params >> k & 1)) {
                a.dparam[k] = t->param_grad[n->param[k]];
                writes |= a.dparam[k] != NULL;
            }
        if (!writes)
            continue;  /* a lowest target: nothing under it is wanted */
        a.dout = t->grad[i];
        const int guided = pass->guided && pass->guided[i];
        assert(!guided || n->op->guided_backward);
        (guided ? n->op->guided_backward : n->op->backward)(&a);
    }
}

void cc_tape_backward(cc_tape *t, const cc_real *seed_grad)
{
    const cc_tape_pass all = {.targets = NULL, .param_grads = 1, .guided = NULL};
    cc_tape_backward_pass(t, seed_grad, &all);
}

const cc_real *cc_tape_grad(const cc_tape *t, int node)
{
    if (node < 0 || node >= t->plan->graph->nnodes || !t->requested[node] || !t->active[node])
        return NULL;
    return t->grad[node];
}

const cc_real *cc_tape_param_grad(const cc_tape *t, int param)
{
    if (param < 0 || param >= t->plan->graph->nparams || !t->have_param_grads)
        return NULL;
    return t->param_grad[param];
}
