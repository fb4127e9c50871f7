/* api/api_layout.c — every explained layer as K x h x w maps, whatever its layout.
 *
 * A CAM method reads a layer's activation A and gradient G as K x h x w per
 * image. N x C x H x W layers are read in place. The others (weights/model.h
 * cc_layout) are packed once per forward and once per backward, exactly as
 * the reshape transforms of pytorch-grad-cam's transformer tutorials and the
 * seed's main_vit.py / main_swin.py do:
 *   tokens N x (P + h w) x K:  drop the P prefix tokens (the class token),
 *                              fold the patch tokens into h x w, channels first;
 *   channels last N x h x w x K: channels first.
 * AblationCAM's substituted values go the other way (cc_ctx_unpack_layer):
 * the prefix tokens keep the layer's own values. */
#include "api/api_internal.h"
#include "autograd/tape.h"

#include <stdlib.h>
#include <string.h>

static const char *LAYOUT_NAMES[] = {"no map", "N x C x H x W", "N x H x W x C", "tokens"};

/* One image: src in the layout, dst K x h x w. */
static void pack(const cc_layout *lay, int K, int h, int w, const float *src, float *dst)
{
    const int P = lay->kind == CC_LAYOUT_TOKENS ? lay->prefix : 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const float *v = src + ((size_t)P + (size_t)y * w + x) * K;
            for (int k = 0; k < K; k++)
                dst[((size_t)k * h + y) * w + x] = v[k];
        }
}

/* The inverse for the h x w positions; the prefix tokens of dst are left alone. */
static void unpack(const cc_layout *lay, int K, int h, int w, const float *src, float *dst)
{
    const int P = lay->kind == CC_LAYOUT_TOKENS ? lay->prefix : 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *v = dst + ((size_t)P + (size_t)y * w + x) * K;
            for (int k = 0; k < K; k++)
                v[k] = src[((size_t)k * h + y) * w + x];
        }
}

void cc_ctx_drop_layouts(cnncam_ctx *ctx)
{
    for (int l = 0; l < CNNCAM_MAX_LAYERS; l++) {
        free(ctx->packed_value[l]), free(ctx->packed_grad[l]);
        ctx->packed_value[l] = ctx->packed_grad[l] = NULL;
    }
    free(ctx->unpacked);
    ctx->unpacked = NULL;
}

cnncam_status cc_ctx_plan_layouts(cnncam_ctx *ctx)
{
    const cc_model *f = ctx->model->file;
    const cc_plan *plan = ctx->tape->plan;
    size_t unpacked = 0;
    for (int l = 0; l < ctx->nlayers; l++) {
        const int node = ctx->layer_node[l];
        const cc_shape *s = &plan->shape[node];
        const cc_layout lay = cc_model_layout(f, node, s->rank);
        const char *name = node < f->graph->ninputs ? "input" : f->graph->nodes[node].name;
        char buf[64];
        int ok = 0, K = 0, h = 0, w = 0;
        if (lay.kind == CC_LAYOUT_NCHW && s->rank == 4)
            ok = 1, K = s->d[1], h = s->d[2], w = s->d[3];
        else if (lay.kind == CC_LAYOUT_NHWC && s->rank == 4)
            ok = 1, K = s->d[3], h = s->d[1], w = s->d[2];
        else if (lay.kind == CC_LAYOUT_TOKENS && s->rank == 3 &&
                 (size_t)s->d[1] == (size_t)lay.prefix + (size_t)lay.h * lay.w)
            ok = 1, K = s->d[2], h = lay.h, w = lay.w;
        if (!ok) {
            if (lay.kind == CC_LAYOUT_NONE)
                return cc_ctx_fail(ctx, CNNCAM_EINVAL, "layer '%s' (%s) is no spatial map (an attention score, a "
                                   "window, a vector); Grad-CAM needs an NxCxHxW layer, channels-last NxHxWxC or "
                                   "tokens on a grid (cnncam info lists each layer's layout)", name,
                                   cc_shape_str(s, buf, sizeof buf));
            return cc_ctx_fail(ctx, CNNCAM_EFORMAT, "layer '%s' is %s, which its layout (%s%s) does not fit", name,
                               cc_shape_str(s, buf, sizeof buf), LAYOUT_NAMES[lay.kind],
                               lay.kind == CC_LAYOUT_TOKENS ? " with a grid" : "");
        }
        ctx->layout[l] = lay;
        ctx->K[l] = K, ctx->lh[l] = h, ctx->lw[l] = w;
        if (lay.kind == CC_LAYOUT_NCHW)
            continue;
        const size_t n = (size_t)ctx->N * K * h * w;
        ctx->packed_value[l] = malloc(n * sizeof(float));
        ctx->packed_grad[l] = malloc(n * sizeof(float));
        if (!ctx->packed_value[l] || !ctx->packed_grad[l])
            return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory for layer '%s' as maps", name);
        const size_t one = cc_shape_numel(s) / (size_t)ctx->N * (size_t)ctx->params.batch_size;
        unpacked = one > unpacked ? one : unpacked;
    }
    if (unpacked && ctx->method->uses & CC_CAM_USES_UPPER_BATCHES &&
        !(ctx->unpacked = malloc(unpacked * sizeof(float))))
        return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory for AblationCAM's batches");
    return CNNCAM_OK;
}

void cc_ctx_pack_values(cnncam_ctx *ctx)
{
    for (int l = 0; l < ctx->nlayers; l++)
        if (ctx->packed_value[l]) {
            const int node = ctx->layer_node[l];
            const size_t one = cc_shape_numel(&ctx->tape->plan->shape[node]) / (size_t)ctx->N;
            const size_t khw = (size_t)ctx->K[l] * ctx->lh[l] * ctx->lw[l];
            for (int i = 0; i < ctx->N; i++)
                pack(&ctx->layout[l], ctx->K[l], ctx->lh[l], ctx->lw[l],
                     cc_plan_value(ctx->tape->plan, node) + (size_t)i * one, ctx->packed_value[l] + (size_t)i * khw);
        }
}

void cc_ctx_pack_grads(cnncam_ctx *ctx)
{
    for (int l = 0; l < ctx->nlayers; l++) {
        const cc_real *g = cc_tape_grad(ctx->tape, ctx->layer_node[l]);
        if (ctx->packed_grad[l] && g) {
            const size_t one = cc_shape_numel(&ctx->tape->plan->shape[ctx->layer_node[l]]) / (size_t)ctx->N;
            const size_t khw = (size_t)ctx->K[l] * ctx->lh[l] * ctx->lw[l];
            for (int i = 0; i < ctx->N; i++)
                pack(&ctx->layout[l], ctx->K[l], ctx->lh[l], ctx->lw[l], g + (size_t)i * one,
                     ctx->packed_grad[l] + (size_t)i * khw);
        }
    }
}

const float *cc_ctx_layer_value(const cnncam_ctx *ctx, int l, int image)
{
    const size_t khw = (size_t)ctx->K[l] * ctx->lh[l] * ctx->lw[l];
    if (ctx->packed_value[l])
        return ctx->packed_value[l] + (size_t)image * khw;
    return cc_plan_value(ctx->tape->plan, ctx->layer_node[l]) + (size_t)image * khw;
}

const float *cc_ctx_layer_grad(const cnncam_ctx *ctx, int l, int image)
{
    const size_t khw = (size_t)ctx->K[l] * ctx->lh[l] * ctx->lw[l];
    const cc_real *g = cc_tape_grad(ctx->tape, ctx->layer_node[l]);  /* NULL after a pass that did not reach it */
    if (!g)
        return NULL;
    if (ctx->packed_grad[l])
        return ctx->packed_grad[l] + (size_t)image * khw;
    return g + (size_t)image * khw;
}

const float *cc_ctx_unpack_layer(cnncam_ctx *ctx, int l, int image, const float *maps, int n)
{
    if (!ctx->packed_value[l])
        return maps;
    const int node = ctx->layer_node[l];
    const size_t one = cc_shape_numel(&ctx->tape->plan->shape[node]) / (size_t)ctx->N;
    const size_t khw = (size_t)ctx->K[l] * ctx->lh[l] * ctx->lw[l];
    const float *own = cc_plan_value(ctx->tape->plan, node) + (size_t)image * one;
    for (int r = 0; r < n; r++) {
        memcpy(ctx->unpacked + (size_t)r * one, own, one * sizeof(float));
        unpack(&ctx->layout[l], ctx->K[l], ctx->lh[l], ctx->lw[l], maps + (size_t)r * khw,
               ctx->unpacked + (size_t)r * one);
    }
    return ctx->unpacked;
}
