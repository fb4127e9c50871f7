/* api/api_ctx.c — contexts of include/cnncam.h: the planned forward with its
 * tape, the backward from the chosen classes down to the chosen layers only,
 * and the maps (docs/NUMERICS.md). */
#include "api/api_internal.h"
#include "autograd/tape.h"
#include "cam/gradcam.h"
#include "runtime/fpenv.h"
#include "layers/kernels.h"
#include "cam/combine.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cnncam_ctx {
    const cnncam_model *model;
    cc_error err;
    int nlayers;
    int layer_node[CNNCAM_MAX_LAYERS];
    int is_input[CNNCAM_MAX_LAYERS];
    cc_tape *tape;            /* planned for N x C x H x W and these layers */
    int N, H, W, classes;
    int threads;
    int have_forward, have_maps;
    cc_real *seed;            /* N x classes */
    float *alpha[CNNCAM_MAX_LAYERS];     /* N x C per layer */
    float *raw[CNNCAM_MAX_LAYERS];       /* N x h x w per layer (the input: saliency, N x H x W) */
    float *scratch;                      /* for cc_cam_combine */
};

/* Keeps the message on the handle (cnncam_ctx_error) and returns st. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static cnncam_status fail(cnncam_ctx *ctx, cnncam_status st, const char *fmt, ...)
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

static void drop_plan(cnncam_ctx *ctx)
{
    cc_tape_free(ctx->tape);
    ctx->tape = NULL;
    free(ctx->seed);
    ctx->seed = NULL;
    for (int l = 0; l < CNNCAM_MAX_LAYERS; l++) {
        free(ctx->alpha[l]), free(ctx->raw[l]);
        ctx->alpha[l] = ctx->raw[l] = NULL;
    }
    free(ctx->scratch);
    ctx->scratch = NULL;
    ctx->have_forward = ctx->have_maps = 0;
    ctx->N = ctx->H = ctx->W = 0;
}

void cnncam_ctx_free(cnncam_ctx *ctx)
{
    if (!ctx)
        return;
    drop_plan(ctx);
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
        return fail(ctx, CNNCAM_EINVAL, "cnncam_ctx_set_layers: layers is NULL; pass n layer names");
    if (n < 1 || n > CNNCAM_MAX_LAYERS)
        return fail(ctx, CNNCAM_EINVAL, "between 1 and %d layers can be explained at once, not %d",
                    CNNCAM_MAX_LAYERS, n);
    int node[CNNCAM_MAX_LAYERS], is_input[CNNCAM_MAX_LAYERS];
    const cc_model *f = ctx->model->file;
    for (int i = 0; i < n; i++) {
        node[i] = layers[i] ? cc_model_find_layer(f, layers[i]) : -1;
        if (node[i] < 0) {
            char near[400];
            cc_model_suggest(f, layers[i] ? layers[i] : "", near, sizeof near);
            return fail(ctx, CNNCAM_EINVAL, "the model has no layer '%s'; nearest: %s",
                        layers[i] ? layers[i] : "(null)", near);
        }
        if (node[i] == f->output)
            return fail(ctx, CNNCAM_EINVAL, "layer '%s' is the logits themselves; choose a layer below them",
                        layers[i]);
        is_input[i] = f->graph->nodes[node[i]].op == NULL;
    }
    drop_plan(ctx);
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
        return fail(ctx, CNNCAM_EINVAL, "threads must be 1 to 256, not %d", n);
    ctx->threads = n;
    return CNNCAM_OK;
}

int cnncam_ctx_threads(const cnncam_ctx *ctx)
{
    if (!ctx)
        return 0;
    return ctx->threads;
}

/* Plans the tape for N x C x H x W (the model's C) unless it is planned already. */
static cnncam_status plan(cnncam_ctx *ctx, int N, int H, int W)
{
    if (ctx->tape && ctx->N == N && ctx->H == H && ctx->W == W)
        return CNNCAM_OK;
    drop_plan(ctx);
    const cc_model *f = ctx->model->file;
    const int C = ctx->model->input->channels;
    const cc_shape in = cc_shape4(N, C, H, W);
    int keep[CNNCAM_MAX_LAYERS + 1];
    for (int l = 0; l < ctx->nlayers; l++)
        keep[l] = ctx->layer_node[l];
    keep[ctx->nlayers] = f->output;
    const cc_tape_request req = {.seed = f->output, .targets = ctx->layer_node, .ntargets = ctx->nlayers,
                                 .keep = keep, .nkeep = ctx->nlayers + 1};
    cc_tape *t = cc_tape_create(f->graph, &in, &req, &ctx->err);
    if (!t)
        return CNNCAM_EINVAL;
    const cc_shape *out = &t->plan->shape[f->output];
    const int classes = (int)(cc_shape_numel(out) / (size_t)N);
    if (ctx->model->classes && classes != ctx->model->classes) {
        cc_tape_free(t);
        return fail(ctx, CNNCAM_EFORMAT, "the model file says %d classes but its graph gives %d logits",
                    ctx->model->classes, classes);
    }
    ctx->tape = t;
    ctx->N = N, ctx->H = H, ctx->W = W, ctx->classes = classes;
    int h[CNNCAM_MAX_LAYERS], w[CNNCAM_MAX_LAYERS];
    for (int l = 0; l < ctx->nlayers; l++) {
        const cc_shape *s = &t->plan->shape[ctx->layer_node[l]];
        h[l] = s->rank == 4 ? s->d[2] : 1, w[l] = s->rank == 4 ? s->d[3] : 1;
    }
    ctx->seed = malloc((size_t)N * classes * sizeof *ctx->seed);
    ctx->scratch = malloc(cc_cam_combine_scratch_floats(h, w, ctx->nlayers, H, W) * sizeof(float));
    int ok = ctx->seed && ctx->scratch;
    for (int l = 0; l < ctx->nlayers && ok; l++) {
        const cc_shape *s = &t->plan->shape[ctx->layer_node[l]];
        ctx->alpha[l] = malloc((size_t)N * s->d[1] * sizeof(float));
        ctx->raw[l] = malloc((size_t)N * h[l] * w[l] * sizeof(float));
        ok = ctx->alpha[l] && ctx->raw[l];
    }
    if (!ok) {
        drop_plan(ctx);
        return fail(ctx, CNNCAM_ENOMEM, "out of memory planning a %dx%dx%dx%d input", N, C, H, W);
    }
    return CNNCAM_OK;
}

cnncam_status cnncam_forward(cnncam_ctx *ctx, const float *input, int batch, int height, int width)
{
    if (!ctx)
        return CNNCAM_EINVAL;
    const cc_model_input *mi = ctx->model->input;
    if (!input || batch < 1 || height < 1 || width < 1)
        return fail(ctx, CNNCAM_EINVAL, "forward needs an input of at least 1x%dx1x1, got %dx%dx%dx%d%s",
                    mi->channels, batch, mi->channels, height, width, input ? "" : " at NULL");
    if (mi->height && (height != mi->height || width != mi->width))
        return fail(ctx, CNNCAM_EINVAL, "the model works at one input size, %dx%d (height x width), and the input "
                    "is %dx%d", mi->height, mi->width, height, width);
    cnncam_status st = plan(ctx, batch, height, width);
    if (st)
        return st;
    for (int l = 0; l < ctx->nlayers; l++) {
        const cc_shape *s = &ctx->tape->plan->shape[ctx->layer_node[l]];
        if (s->rank != 4)
            return fail(ctx, CNNCAM_EINVAL, "layer '%s' has shape of rank %d; Grad-CAM needs an NxCxHxW layer",
                        ctx->model->file->graph->nodes[ctx->layer_node[l]].name, s->rank);
    }
    const cc_real *in[1] = {input};
    cc_set_threads(ctx->threads);
    const unsigned fp = cc_fpenv_enter();  /* subnormals flushed, on the pool's threads too */
    cc_tape_forward(ctx->tape, in);
    cc_fpenv_leave(fp);
    ctx->have_forward = 1;
    ctx->have_maps = 0;
    return CNNCAM_OK;
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

/* Gradient saliency of one image: per pixel max over channels of |dy/dx|. */
static void saliency(float *map, const cc_real *grad, int C, size_t hw)
{
    for (size_t i = 0; i < hw; i++) {
        float best = 0;
        for (int c = 0; c < C; c++) {
            const float g = fabsf(grad[(size_t)c * hw + i]);
            best = g > best ? g : best;
        }
        map[i] = best;
    }
}

cnncam_status cnncam_gradcam(cnncam_ctx *ctx, const int *classes, float *maps)
{
    if (!ctx)
        return CNNCAM_EINVAL;
    if (!classes || !maps)
        return fail(ctx, CNNCAM_EINVAL, "cnncam_gradcam: %s is NULL; it needs one class per image and room for "
                    "batch x height x width floats", !classes ? "classes" : "maps");
    if (!ctx->have_forward)
        return fail(ctx, CNNCAM_ESTATE, "gradcam needs a forward first");
    if (!ctx->nlayers)
        return fail(ctx, CNNCAM_ESTATE, "no layer to explain: the model file recommends none, so choose one");
    for (int i = 0; i < ctx->N; i++)
        if (classes[i] < 0 || classes[i] >= ctx->classes)
            return fail(ctx, CNNCAM_EINVAL, "class %d is out of range: the model has %d classes (0 to %d)",
                        classes[i], ctx->classes, ctx->classes - 1);
    memset(ctx->seed, 0, (size_t)ctx->N * ctx->classes * sizeof *ctx->seed);
    for (int i = 0; i < ctx->N; i++)
        ctx->seed[(size_t)i * ctx->classes + classes[i]] = 1;
    cc_set_threads(ctx->threads);
    const unsigned fp = cc_fpenv_enter();  /* until the maps are made */
    cc_tape_backward(ctx->tape, ctx->seed);

    for (int i = 0; i < ctx->N; i++) {
        const float *cams[CNNCAM_MAX_LAYERS];
        int h[CNNCAM_MAX_LAYERS], w[CNNCAM_MAX_LAYERS];
        for (int l = 0; l < ctx->nlayers; l++) {
            const int node = ctx->layer_node[l];
            const cc_shape *s = &ctx->tape->plan->shape[node];
            const int C = s->d[1];
            h[l] = s->d[2], w[l] = s->d[3];
            const size_t hw = (size_t)h[l] * w[l], chw = (size_t)C * hw;
            const cc_real *A = cc_plan_value(ctx->tape->plan, node) + (size_t)i * chw;
            const cc_real *G = cc_tape_grad(ctx->tape, node) + (size_t)i * chw;
            float *raw = ctx->raw[l] + (size_t)i * hw;
            if (ctx->is_input[l]) {
                saliency(raw, G, C, hw);
            } else {
                float *alpha = ctx->alpha[l] + (size_t)i * C;
                cc_gradcam_alpha(alpha, G, C, (int)hw);
                cc_gradcam_map(raw, alpha, A, C, (int)hw);
            }
            cams[l] = raw;
        }
        cc_cam_combine(maps + (size_t)i * ctx->H * ctx->W, cams, h, w, ctx->nlayers, ctx->H, ctx->W,
                       ctx->scratch);
    }
    cc_fpenv_leave(fp);
    ctx->have_maps = 1;
    return CNNCAM_OK;
}

cnncam_status cnncam_layer_shape(const cnncam_ctx *ctx, int l, int *channels, int *h, int *w)
{
    if (!ctx || !channels || !h || !w || !ctx->tape || l < 0 || l >= ctx->nlayers)
        return CNNCAM_EINVAL;
    const cc_shape *s = &ctx->tape->plan->shape[ctx->layer_node[l]];
    *channels = s->d[1], *h = s->d[2], *w = s->d[3];
    return CNNCAM_OK;
}

static size_t layer_chw(const cnncam_ctx *ctx, int l)
{
    const cc_shape *s = &ctx->tape->plan->shape[ctx->layer_node[l]];
    return (size_t)s->d[1] * s->d[2] * s->d[3];
}

const float *cnncam_activation(const cnncam_ctx *ctx, int l, int image)
{
    if (!ctx || !ctx->have_forward || l < 0 || l >= ctx->nlayers || image < 0 || image >= ctx->N)
        return NULL;
    return cc_plan_value(ctx->tape->plan, ctx->layer_node[l]) + (size_t)image * layer_chw(ctx, l);
}

const float *cnncam_gradient(const cnncam_ctx *ctx, int l, int image)
{
    if (!ctx || !ctx->have_maps || l < 0 || l >= ctx->nlayers || image < 0 || image >= ctx->N)
        return NULL;
    return cc_tape_grad(ctx->tape, ctx->layer_node[l]) + (size_t)image * layer_chw(ctx, l);
}

const float *cnncam_channel_weights(const cnncam_ctx *ctx, int l, int image)
{
    if (!ctx || !ctx->have_maps || l < 0 || l >= ctx->nlayers || image < 0 || image >= ctx->N || ctx->is_input[l])
        return NULL;
    return ctx->alpha[l] + (size_t)image * ctx->tape->plan->shape[ctx->layer_node[l]].d[1];
}

const float *cnncam_raw_map(const cnncam_ctx *ctx, int l, int image)
{
    if (!ctx || !ctx->have_maps || l < 0 || l >= ctx->nlayers || image < 0 || image >= ctx->N || ctx->is_input[l])
        return NULL;
    const cc_shape *s = &ctx->tape->plan->shape[ctx->layer_node[l]];
    return ctx->raw[l] + (size_t)image * s->d[2] * s->d[3];
}
