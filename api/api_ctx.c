/* api/api_ctx.c — contexts of include/cnncam.h: layers, threads, the plan
 * for one input size with its tape, the forward and its logits. The methods
 * run in api_cam.c. */
#include "api/api_internal.h"
#include "autograd/tape.h"
#include "runtime/fpenv.h"
#include "layers/kernels.h"
#include "cam/combine.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cnncam_status cc_ctx_fail(cnncam_ctx *ctx, cnncam_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err.msg, sizeof ctx->err.msg, fmt, ap);
    va_end(ap);
    return st;
}

cnncam_ctx *cnncam_ctx_create(const cnncam_model *m)
{
    if (!m)
        return NULL;
    cnncam_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->model = m;
    ctx->threads = cnncam_default_threads();
    cnncam_cam_options_init(&ctx->options);
    cc_ctx_resolve_options(ctx, &ctx->options, &ctx->method, &ctx->params);
    /* The recommended layer, if the file names one; else the caller must choose. */
    const char *layer = cnncam_model_default_layer(m);
    const int node = layer ? cc_model_find_layer(m->file, layer) : -1;
    if (node >= 0 && node != m->file->output) {
        ctx->nlayers = 1;
        ctx->layer_node[0] = node;
        ctx->is_input[0] = m->file->graph->nodes[node].op == NULL;
    }
    return ctx;
}

void cc_ctx_drop_plan(cnncam_ctx *ctx)
{
    cc_ctx_drop_services(ctx);
    cc_ctx_drop_bias_layers(ctx);
    cc_ctx_drop_layouts(ctx);
    free(ctx->target_node), free(ctx->guided);
    ctx->target_node = NULL, ctx->guided = NULL, ctx->ntargets = 0;
    cc_tape_free(ctx->tape);
    ctx->tape = NULL;
    free(ctx->seed), free(ctx->input), free(ctx->method_scratch), free(ctx->scratch);
    ctx->seed = ctx->input = ctx->method_scratch = ctx->scratch = NULL;
    for (int l = 0; l < CNNCAM_MAX_LAYERS; l++) {
        free(ctx->weights[l]), free(ctx->raw[l]);
        ctx->weights[l] = ctx->raw[l] = NULL;
    }
    ctx->have_forward = ctx->have_maps = 0;
    ctx->N = ctx->H = ctx->W = 0;
}

void cnncam_ctx_free(cnncam_ctx *ctx)
{
    if (!ctx)
        return;
    cc_ctx_drop_plan(ctx);
    free(ctx);
}

const char *cnncam_ctx_error(const cnncam_ctx *ctx)
{
    if (!ctx)
        return "no context: the cnncam_ctx is NULL (did cnncam_ctx_create fail?)";
    return ctx->err.msg;
}

cnncam_status cnncam_ctx_set_layers(cnncam_ctx *ctx, const char *const *layers, int n)
{
    if (!ctx)
        return CNNCAM_EINVAL;
    if (!layers)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "cnncam_ctx_set_layers: layers is NULL; pass n layer names");
    if (n < 1 || n > CNNCAM_MAX_LAYERS)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "between 1 and %d layers can be explained at once, not %d",
                    CNNCAM_MAX_LAYERS, n);
    int node[CNNCAM_MAX_LAYERS], is_input[CNNCAM_MAX_LAYERS];
    const cc_model *f = ctx->model->file;
    for (int i = 0; i < n; i++) {
        node[i] = layers[i] ? cc_model_find_layer(f, layers[i]) : -1;
        if (node[i] < 0) {
            char near[400];
            cc_model_suggest(f, layers[i] ? layers[i] : "", near, sizeof near);
            return cc_ctx_fail(ctx, CNNCAM_EINVAL, "the model has no layer '%s'; nearest: %s",
                        layers[i] ? layers[i] : "(null)", near);
        }
        if (node[i] == f->output)
            return cc_ctx_fail(ctx, CNNCAM_EINVAL, "layer '%s' is the logits themselves; choose a layer below them",
                        layers[i]);
        is_input[i] = f->graph->nodes[node[i]].op == NULL;
    }
    /* The same layers again (a pooled context, a loop over images) keep the plan and the forward. */
    if (n == ctx->nlayers && !memcmp(ctx->layer_node, node, sizeof(int) * (size_t)n))
        return CNNCAM_OK;
    cc_ctx_drop_plan(ctx);
    ctx->nlayers = n;
    memcpy(ctx->layer_node, node, sizeof(int) * (size_t)n);
    memcpy(ctx->is_input, is_input, sizeof(int) * (size_t)n);
    return CNNCAM_OK;
}

cnncam_status cnncam_ctx_set_threads(cnncam_ctx *ctx, int n)
{
    if (!ctx)
        return CNNCAM_EINVAL;
    if (n < 1 || n > 256)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "threads must be 1 to 256, not %d", n);
    ctx->threads = n;
    return CNNCAM_OK;
}

int cnncam_ctx_threads(const cnncam_ctx *ctx)
{
    if (!ctx)
        return 0;
    return ctx->threads;
}

/* The tape's targets (api_internal.h): the layers, the input when the
 * method or guided backprop needs its gradient, FullGrad's bias layers. */
static cnncam_status plan_targets(cnncam_ctx *ctx, const cc_shape *in)
{
    const cc_model *f = ctx->model->file;
    const unsigned uses = ctx->method->uses;
    cc_shape *shapes = NULL;
    if (uses & CC_CAM_USES_BIAS_GRADIENTS) {
        shapes = malloc((size_t)f->graph->nnodes * sizeof *shapes);
        if (!shapes)
            return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory planning the bias layers");
        cnncam_status st = cc_plan_shapes(f->graph, in, shapes, &ctx->err) ? CNNCAM_EINVAL
                                                                          : cc_ctx_find_bias_layers(ctx, shapes);
        free(shapes);
        if (st)
            return st;
    }
    if (ctx->options.guided && cc_ctx_plan_guided(ctx))
        return CNNCAM_ENOMEM;
    ctx->target_node = malloc(((size_t)ctx->nlayers + 1 + ctx->nbias) * sizeof *ctx->target_node);
    if (!ctx->target_node)
        return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory planning the backward");
    ctx->ntargets = 0;
    ctx->input_target = ctx->bias_target = -1;
    for (int l = 0; l < ctx->nlayers; l++) {
        if (ctx->is_input[l])
            ctx->input_target = ctx->ntargets;
        ctx->target_node[ctx->ntargets++] = ctx->layer_node[l];
    }
    if (ctx->input_target < 0 && (uses & CC_CAM_USES_INPUT_GRADIENT || ctx->options.guided)) {
        ctx->input_target = ctx->ntargets;
        ctx->target_node[ctx->ntargets++] = 0;  /* the graph's first input: the image */
    }
    ctx->bias_target = ctx->ntargets;
    for (int b = 0; b < ctx->nbias; b++)
        ctx->target_node[ctx->ntargets++] = ctx->bias_node[b];
    return CNNCAM_OK;
}

/* Plans the tape for N x C x H x W (the model's C) unless it is planned already. */
static cnncam_status plan(cnncam_ctx *ctx, int N, int H, int W)
{
    if (ctx->tape && ctx->N == N && ctx->H == H && ctx->W == W)
        return CNNCAM_OK;
    cc_ctx_drop_plan(ctx);
    const cc_model *f = ctx->model->file;
    const int C = ctx->model->input->channels;
    const cc_shape in = cc_shape4(N, C, H, W);
    /* kept after the forward: the layers, the logits, and what the method's
     * services read (the values that skip over a layer, for AblationCAM) */
    int *keep = malloc(((size_t)f->graph->nnodes + CNNCAM_MAX_LAYERS + 1) * sizeof *keep);
    if (!keep)
        return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory planning a %dx%dx%dx%d input", N, C, H, W);
    int nkeep = 0;
    for (int l = 0; l < ctx->nlayers; l++)
        keep[nkeep++] = ctx->layer_node[l];
    keep[nkeep++] = f->output;
    cnncam_status st = cc_ctx_plan_services(ctx, C, H, W, keep, &nkeep);
    if (st) {
        free(keep);
        return st;
    }
    st = plan_targets(ctx, &in);
    if (st) {
        free(keep);
        cc_ctx_drop_plan(ctx);
        return st;
    }
    /* a loaded model's parameters are read-only: prepared work is kept */
    const cc_tape_request req = {.seed = f->output, .targets = ctx->target_node, .ntargets = ctx->ntargets,
                                 .keep = keep, .nkeep = nkeep, .prepare = 1};
    cc_tape *t = cc_tape_create(f->graph, &in, &req, &ctx->err);
    free(keep);
    if (!t) {
        cc_ctx_drop_plan(ctx);
        return CNNCAM_EINVAL;
    }
    const cc_shape *out = &t->plan->shape[f->output];
    const int classes = (int)(cc_shape_numel(out) / (size_t)N);
    if (ctx->model->classes && classes != ctx->model->classes) {
        cc_tape_free(t);
        return cc_ctx_fail(ctx, CNNCAM_EFORMAT, "the model file says %d classes but its graph gives %d logits",
                    ctx->model->classes, classes);
    }
    ctx->tape = t;
    ctx->N = N, ctx->H = H, ctx->W = W, ctx->classes = classes;
    st = cc_ctx_plan_layouts(ctx);
    if (st) {
        cc_ctx_drop_plan(ctx);
        return st;
    }
    const int *h = ctx->lh, *w = ctx->lw;
    ctx->seed = malloc((size_t)N * classes * sizeof *ctx->seed);
    ctx->input = malloc((size_t)N * C * H * W * sizeof *ctx->input);
    ctx->scratch = malloc(cc_cam_combine_scratch_floats(h, w, ctx->nlayers, H, W) * sizeof(float));
    int ok = ctx->seed && ctx->input && ctx->scratch;
    size_t method_floats = 0;
    for (int l = 0; l < ctx->nlayers && ok; l++) {
        const int K = ctx->K[l];
        ctx->weights[l] = malloc((size_t)N * K * sizeof(float));
        ctx->raw[l] = malloc((size_t)N * h[l] * w[l] * sizeof(float));
        ok = ctx->weights[l] && ctx->raw[l];
        /* the largest any method run on this plan needs: the context's, and Grad-CAM's (cnncam_gradcam) */
        for (int pass = 0; pass < 2; pass++) {
            const cc_cam_method *m = pass ? ctx->method : cc_cam_methods[0];
            if (m->scratch_floats && !m->image_map) {
                const size_t need = m->scratch_floats(K, h[l], w[l], &ctx->params, ctx->params.batch_size, C, H, W);
                method_floats = need > method_floats ? need : method_floats;
            }
        }
    }
    if (ctx->method->image_map && ctx->method->scratch_floats) {
        /* an image method's scratch, from its largest layer (by pixels) */
        int K = 1, bh = 1, bw = 1;
        for (int b = 0; b < ctx->nbias; b++) {
            const cc_shape *s = &t->plan->shape[ctx->bias_node[b]];
            if (s->rank == 4 && (size_t)s->d[2] * s->d[3] > (size_t)bh * bw)
                K = s->d[1], bh = s->d[2], bw = s->d[3];
        }
        const size_t need = ctx->method->scratch_floats(K, bh, bw, &ctx->params, ctx->params.batch_size, C, H, W);
        method_floats = need > method_floats ? need : method_floats;
    }
    if (ok && method_floats)
        ok = (ctx->method_scratch = malloc(method_floats * sizeof(float))) != NULL;
    if (!ok) {
        cc_ctx_drop_plan(ctx);
        return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory planning a %dx%dx%dx%d input", N, C, H, W);
    }
    return CNNCAM_OK;
}

cnncam_status cnncam_forward(cnncam_ctx *ctx, const float *input, int batch, int height, int width)
{
    if (!ctx)
        return CNNCAM_EINVAL;
    const cc_model_input *mi = ctx->model->input;
    if (!input || batch < 1 || height < 1 || width < 1)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "forward needs an input of at least 1x%dx1x1, got %dx%dx%dx%d%s",
                    mi->channels, batch, mi->channels, height, width, input ? "" : " at NULL");
    if (mi->height && (height != mi->height || width != mi->width))
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "the model works at one input size, %dx%d (height x width), and the input "
                    "is %dx%d", mi->height, mi->width, height, width);
    cnncam_status st = plan(ctx, batch, height, width);
    if (st)
        return st;
    memcpy(ctx->input, input, (size_t)batch * mi->channels * height * width * sizeof *ctx->input);
    cc_ctx_run_forward(ctx, ctx->input);
    ctx->have_forward = 1;
    ctx->have_maps = 0;
    return CNNCAM_OK;
}

void cc_ctx_run_forward(cnncam_ctx *ctx, const float *input)
{
    const cc_real *in[1] = {input};
    ctx->forward_input = input;
    cc_set_threads(ctx->threads);
    const unsigned fp = cc_fpenv_enter();  /* subnormals flushed, on the pool's threads too */
    cc_tape_forward(ctx->tape, in);
    cc_fpenv_leave(fp);
    cc_ctx_pack_values(ctx);
}

const float *cnncam_logits(const cnncam_ctx *ctx, int image)
{
    if (!ctx || !ctx->have_forward || image < 0 || image >= ctx->N)
        return NULL;
    return cc_plan_value(ctx->tape->plan, ctx->model->file->output) + (size_t)image * ctx->classes;
}

int cnncam_top_class(const cnncam_ctx *ctx, int image)
{
    const float *y = cnncam_logits(ctx, image);
    if (!y)
        return -1;
    int best = 0;  /* the lowest index on ties, as numpy's argmax */
    for (int c = 1; c < ctx->classes; c++)
        if (y[c] > y[best])
            best = c;
    return best;
}

cnncam_status cnncam_layer_shape(const cnncam_ctx *ctx, int l, int *channels, int *h, int *w)
{
    if (!ctx || !channels || !h || !w || !ctx->tape || l < 0 || l >= ctx->nlayers)
        return CNNCAM_EINVAL;
    *channels = ctx->K[l], *h = ctx->lh[l], *w = ctx->lw[l];
    return CNNCAM_OK;
}

const float *cnncam_activation(const cnncam_ctx *ctx, int l, int image)
{
    if (!ctx || !ctx->have_forward || l < 0 || l >= ctx->nlayers || image < 0 || image >= ctx->N)
        return NULL;
    return cc_ctx_layer_value(ctx, l, image);
}

const float *cnncam_gradient(const cnncam_ctx *ctx, int l, int image)
{
    if (!ctx || !ctx->have_maps || l < 0 || l >= ctx->nlayers || image < 0 || image >= ctx->N)
        return NULL;
    return cc_ctx_layer_grad(ctx, l, image);
}

const float *cnncam_channel_weights(const cnncam_ctx *ctx, int l, int image)
{
    if (!ctx || !ctx->have_maps || !ctx->has_weights || l < 0 || l >= ctx->nlayers || image < 0 ||
        image >= ctx->N || ctx->is_input[l])
        return NULL;
    return ctx->weights[l] + (size_t)image * ctx->K[l];
}

const float *cnncam_raw_map(const cnncam_ctx *ctx, int l, int image)
{
    if (!ctx || !ctx->have_maps || !ctx->has_raw || l < 0 || l >= ctx->nlayers || image < 0 || image >= ctx->N || ctx->is_input[l])
        return NULL;
    return ctx->raw[l] + (size_t)image * ctx->lh[l] * ctx->lw[l];
}
