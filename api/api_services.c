/* api/api_services.c — the facade's side of cc_cam_services (cam/method.h):
 * ScoreCAM's masked inputs through a forward-only plan of the whole network,
 * AblationCAM's substituted layer values through the network above the layer
 * (engine/upper.h). Plans are made once per input size — the uppers with
 * the main plan, the forward-only ones at their first use — and reused by
 * every call; each scoring forward counts towards the run's progress. */
#include "api/api_internal.h"
#include "cam/target.h"

#include <stdlib.h>
#include <string.h>

void cc_ctx_drop_services(cnncam_ctx *ctx)
{
    cc_plan_free(ctx->batch_plan), cc_plan_free(ctx->tail_plan);
    ctx->batch_plan = ctx->tail_plan = NULL;
    for (int l = 0; l < CNNCAM_MAX_LAYERS; l++) {
        cc_upper_free(ctx->upper[l]);
        ctx->upper[l] = NULL;
    }
}

cnncam_status cc_ctx_plan_services(cnncam_ctx *ctx, int C, int H, int W, int *keep, int *nkeep)
{
    if (!(ctx->method->uses & CC_CAM_USES_UPPER_BATCHES))
        return CNNCAM_OK;
    const cc_model *f = ctx->model->file;
    const cc_shape one = cc_shape4(1, C, H, W);
    for (int l = 0; l < ctx->nlayers; l++) {
        if (ctx->is_input[l])
            continue;
        ctx->upper[l] = cc_upper_create(f->graph, ctx->layer_node[l], f->output, &one, ctx->params.batch_size,
                                        &ctx->err);
        if (!ctx->upper[l])
            return CNNCAM_EINVAL;
        for (int k = 0; k < ctx->upper[l]->nfrontier; k++)
            keep[(*nkeep)++] = ctx->upper[l]->frontier[k];
    }
    return CNNCAM_OK;
}

static void progress(cnncam_ctx *ctx)
{
    ctx->forwards_done++;
    if (ctx->options.progress)
        ctx->options.progress(ctx->options.progress_user, ctx->forwards_done, ctx->forwards_total);
}

/* The target of each of n output rows. */
static void score_rows(const cc_ctx_services *s, const cc_real *out, int n, float *scores)
{
    const int classes = s->ctx->classes;
    for (int r = 0; r < n; r++)
        scores[r] = (float)cc_target_value(s->params->target, out + (size_t)r * classes, classes, s->cls);
}

static cc_status score_inputs(void *self, const float *inputs, int n, float *scores, cc_error *err)
{
    cc_ctx_services *s = self;
    cnncam_ctx *ctx = s->ctx;
    const cc_model *f = ctx->model->file;
    const int C = ctx->model->input->channels;
    cc_plan **p = n == s->params->batch_size ? &ctx->batch_plan : &ctx->tail_plan;
    if (*p && (*p)->shape[0].d[0] != n) {
        cc_plan_free(*p);
        *p = NULL;
    }
    if (!*p) {
        const cc_shape in = cc_shape4(n, C, ctx->H, ctx->W);
        const cc_plan_opts opts = {.keep = &f->output, .nkeep = 1, .prepare = 1};  /* read-only parameters */
        if (!(*p = cc_plan_create(f->graph, &in, &opts, err)))
            return CC_ENOMEM;
    }
    const cc_real *in[1] = {inputs};
    cc_plan_forward(*p, in);
    score_rows(s, cc_plan_value(*p, f->output), n, scores);
    progress(ctx);
    return CC_OK;
}

static cc_status score_activations(void *self, int layer, const float *acts, int n, float *scores, cc_error *err)
{
    cc_ctx_services *s = self;
    cnncam_ctx *ctx = s->ctx;
    cc_upper *u = ctx->upper[layer];
    const cc_real *frontier[CC_MAX_INPUTS] = {0};
    const cc_real **values = u->nfrontier <= CC_MAX_INPUTS ? frontier : malloc((size_t)u->nfrontier * sizeof *values);
    if (!values)
        return cc_fail(err, CC_ENOMEM, "out of memory");
    for (int k = 0; k < u->nfrontier; k++) {
        const int node = u->frontier[k];
        const size_t one = cc_shape_numel(&ctx->tape->plan->shape[node]) / (size_t)ctx->N;
        values[k] = cc_plan_value(ctx->tape->plan, node) + (size_t)s->image * one;
    }
    cc_status st = cc_upper_forward(u, cc_ctx_unpack_layer(ctx, layer, s->image, acts, n), n, values, err);
    if (values != frontier)
        free(values);
    if (st)
        return st;
    score_rows(s, cc_upper_output(u), n, scores);
    progress(ctx);
    return CC_OK;
}

void cc_ctx_services_init(cc_ctx_services *s, cnncam_ctx *ctx, int image, int cls, const cc_cam_params *p)
{
    const int C = ctx->model->input->channels;
    const float *z = cnncam_logits(ctx, image);
    *s = (cc_ctx_services){
        .svc = {.self = s, .score_inputs = score_inputs, .score_activations = score_activations,
                .input = ctx->forward_input + (size_t)image * C * ctx->H * ctx->W, .C = C, .H = ctx->H, .W = ctx->W,
                .score = (float)cc_target_value(p->target, z, ctx->classes, cls), .batch = p->batch_size,
                .rng = &ctx->rng},
        .ctx = ctx, .image = image, .cls = cls, .params = p,
    };
}
