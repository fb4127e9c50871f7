/* api/api_cam.c — the explanation methods of include/cnncam.h: options,
 * their validation against what each method takes (cam/method.h), and a
 * run: the backward a method needs, its per-layer maps, then the reference's
 * post-processing (rectify, min-max, resize, mean over layers, min-max:
 * cam/combine.h); aug_smooth repeats that on six augmented inputs and
 * averages the de-augmented maps. */
#include "api/api_internal.h"
#include "cam/combine.h"
#include "cam/normalize.h"
#include "cam/target.h"
#include "runtime/fpenv.h"
#include "layers/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cc_cam_method *method_at(int i)
{
    int n = 0;
    while (cc_cam_methods[n])
        n++;
    return i >= 0 && i < n ? cc_cam_methods[i] : NULL;
}

const char *cnncam_method_name(int i)
{
    const cc_cam_method *m = method_at(i);
    return m ? m->name : NULL;
}

const char *cnncam_method_summary(int i)
{
    const cc_cam_method *m = method_at(i);
    return m ? m->summary : NULL;
}

void cnncam_cam_options_init(cnncam_cam_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->target = CNNCAM_TARGET_LOGIT;
    o->seed = -1;
}

static const char *const KPCA_KERNELS[] = {"sigmoid", "rbf", "poly", "linear", "cosine"};

/* Which options differ from cnncam_cam_options_init's, as CC_CAM_TAKES_* bits. */
static unsigned options_set(const cnncam_cam_options *o)
{
    return (o->target != CNNCAM_TARGET_LOGIT ? CC_CAM_TAKES_TARGET : 0u) |
           (o->aug_smooth ? CC_CAM_TAKES_AUG_SMOOTH : 0u) | (o->eigen_smooth ? CC_CAM_TAKES_EIGEN_SMOOTH : 0u) |
           (o->batch_size ? CC_CAM_TAKES_BATCH_SIZE : 0u) | (o->ablation_ratio != 0 ? CC_CAM_TAKES_ABLATION_RATIO : 0u) |
           (o->seed != -1 ? CC_CAM_TAKES_SEED : 0u) |
           (o->kpca_kernel || o->kpca_gamma != 0 ? CC_CAM_TAKES_KPCA : 0u) |
           (o->finer_alpha != 0 ? CC_CAM_TAKES_FINER_ALPHA : 0u) |
           (o->eigen_sign != CNNCAM_SIGN_DEFAULT ? CC_CAM_TAKES_EIGEN_SIGN : 0u);
}

static const char *option_name(unsigned bit)
{
    switch (bit) {
    case CC_CAM_TAKES_TARGET: return "a target other than the logit";
    case CC_CAM_TAKES_AUG_SMOOTH: return "aug_smooth";
    case CC_CAM_TAKES_EIGEN_SMOOTH: return "eigen_smooth";
    case CC_CAM_TAKES_BATCH_SIZE: return "batch_size";
    case CC_CAM_TAKES_ABLATION_RATIO: return "ablation_ratio";
    case CC_CAM_TAKES_SEED: return "seed";
    case CC_CAM_TAKES_KPCA: return "kpca_kernel / kpca_gamma";
    case CC_CAM_TAKES_FINER_ALPHA: return "finer_alpha";
    default: return "eigen_sign";
    }
}

cnncam_status cc_ctx_resolve_options(cnncam_ctx *ctx, const cnncam_cam_options *o, const cc_cam_method **method,
                                     cc_cam_params *p)
{
    const char *name = o->method ? o->method : "gradcam";
    const cc_cam_method *m = cc_cam_method_find(name);
    if (!m) {
        char names[400] = "";
        for (int k = 0; cc_cam_methods[k]; k++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "",
                     cc_cam_methods[k]->name);
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "unknown method '%s'; the methods are: %s", name, names);
    }
    const unsigned extra = options_set(o) & ~m->takes;
    if (extra) {
        const unsigned bit = extra & -extra;
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "%s does not take %s", m->name, option_name(bit));
    }
    if ((unsigned)o->target > CNNCAM_TARGET_BINARY)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "unknown target %d (CNNCAM_TARGET_LOGIT .. CNNCAM_TARGET_BINARY)",
                           (int)o->target);
    if (o->batch_size < 0 || o->batch_size > 4096)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "batch_size must be 1 to 4096, not %d", o->batch_size);
    if (o->ablation_ratio < 0 || o->ablation_ratio > 1 || isnan(o->ablation_ratio))
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "ablation_ratio must be in (0, 1], not %g", o->ablation_ratio);
    if (o->seed < -1 || o->seed > 4294967295LL)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "seed must be 0 to 4294967295 (numpy's), not %lld", o->seed);
    if (!isfinite(o->kpca_gamma) || !isfinite(o->finer_alpha))
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "kpca_gamma and finer_alpha must be finite");
    if (o->eigen_sign != CNNCAM_SIGN_DEFAULT && o->eigen_sign != CNNCAM_SIGN_LAPACK)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "unknown eigen_sign %d", o->eigen_sign);
    int kernel = 0;
    if (o->kpca_kernel) {
        while (kernel < 5 && strcmp(o->kpca_kernel, KPCA_KERNELS[kernel]))
            kernel++;
        if (kernel == 5)
            return cc_ctx_fail(ctx, CNNCAM_EINVAL, "unknown kpca_kernel '%s' (sigmoid, rbf, poly, linear, cosine)",
                               o->kpca_kernel);
    }
    *method = m;
    *p = (cc_cam_params){
        .target = (cc_target)o->target,
        .aug_smooth = o->aug_smooth != 0,
        .eigen_smooth = o->eigen_smooth != 0,
        .batch_size = o->batch_size ? o->batch_size : m->default_batch ? m->default_batch : 1,
        .ablation_ratio = o->ablation_ratio != 0 ? o->ablation_ratio : 1.0,
        .seed = o->seed >= 0 ? (unsigned long)o->seed : 0,
        .kpca_kernel = (cc_kpca_kernel)kernel,
        .kpca_gamma = o->kpca_gamma,
        .finer_alpha = o->finer_alpha != 0 ? o->finer_alpha : 1.0,
        .eigen_sign = o->eigen_sign == CNNCAM_SIGN_LAPACK ? CC_SIGN_LAPACK : CC_SIGN_DEFAULT,
    };
    return CNNCAM_OK;
}

/* Whether the plan of (m, p) differs from the context's: what the tape
 * computes, or the method's scratch. */
static int plan_changes(const cnncam_ctx *ctx, const cc_cam_method *m, const cc_cam_params *p, int guided)
{
    return m != ctx->method || guided != ctx->options.guided || p->eigen_smooth != ctx->params.eigen_smooth ||
           p->batch_size != ctx->params.batch_size;
}

cnncam_status cnncam_ctx_set_cam_options(cnncam_ctx *ctx, const cnncam_cam_options *o)
{
    if (!ctx)
        return CNNCAM_EINVAL;
    if (!o)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "cnncam_ctx_set_cam_options: the options are NULL; "
                           "fill them with cnncam_cam_options_init");
    const cc_cam_method *m;
    cc_cam_params p;
    cnncam_status st = cc_ctx_resolve_options(ctx, o, &m, &p);
    if (st)
        return st;
    const int replan = plan_changes(ctx, m, &p, o->guided);
    ctx->options = *o;
    ctx->options.method = m->name;  /* static strings: nothing of the caller's is kept */
    ctx->options.kpca_kernel = o->kpca_kernel ? KPCA_KERNELS[p.kpca_kernel] : NULL;
    ctx->method = m;
    ctx->params = p;
    if (replan)
        cc_ctx_drop_plan(ctx);
    return CNNCAM_OK;
}

/* The class each image is explained for in the current forward. */
static cnncam_status resolve_classes(cnncam_ctx *ctx, const int *classes, cc_target target, int *cls)
{
    for (int i = 0; i < ctx->N; i++) {
        cls[i] = classes[i] == CNNCAM_TOP_CLASS ? cnncam_top_class(ctx, i) : classes[i];
        if (target == CC_TARGET_BINARY && classes[i] == CNNCAM_TOP_CLASS)
            cls[i] = cnncam_logits(ctx, i)[0] > 0;  /* the likelier of the two */
        if (cc_target_check(target, ctx->classes, cls[i], &ctx->err))
            return CNNCAM_EINVAL;
    }
    return CNNCAM_OK;
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

/* Seeds the backward from each image's target (or the method's own) and
 * runs a pass to the given targets of the tape. */
static void backward(cnncam_ctx *ctx, const cc_cam_method *m, const cc_cam_params *p, const int *cls,
                     const int *targets, int ntargets)
{
    for (int i = 0; i < ctx->N; i++) {
        const float *z = cnncam_logits(ctx, i);
        float *dz = ctx->seed + (size_t)i * ctx->classes;
        if (m->seed)
            m->seed(z, ctx->classes, cls[i], p, dz);
        else
            cc_target_seed(p->target, z, ctx->classes, cls[i], dz);
    }
    const cc_tape_pass pass = {.targets = targets, .ntargets = ntargets};
    cc_tape_backward_pass(ctx->tape, ctx->seed, &pass);
}

/* An image method (FullGrad): its map per image, normalised once. */
static cnncam_status run_image_method(cnncam_ctx *ctx, const cc_cam_method *m, const cc_cam_params *p,
                                      const int *cls, float *maps)
{
    const cc_plan *plan = ctx->tape->plan;
    int *targets = malloc((size_t)(1 + ctx->nbias) * sizeof *targets);
    cc_cam_bias_layer *layers = malloc((size_t)(ctx->nbias ? ctx->nbias : 1) * sizeof *layers);
    if (!targets || !layers) {
        free(targets), free(layers);
        return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory");
    }
    int n = 0;
    targets[n++] = ctx->input_target;
    for (int b = 0; b < ctx->nbias; b++)
        targets[n++] = ctx->bias_target + b;
    backward(ctx, m, p, cls, targets, n);
    free(targets);
    const int C = ctx->model->input->channels;
    const size_t chw = (size_t)C * ctx->H * ctx->W, HW = (size_t)ctx->H * ctx->W;
    for (int i = 0; i < ctx->N; i++) {
        for (int b = 0; b < ctx->nbias; b++) {
            const int node = ctx->bias_node[b];
            const cc_shape *s = &plan->shape[node];
            const size_t one = cc_shape_numel(s) / (size_t)ctx->N;
            layers[b] = (cc_cam_bias_layer){.K = s->d[1], .h = s->rank == 4 ? s->d[2] : 1,
                                            .w = s->rank == 4 ? s->d[3] : 1, .bias = ctx->bias[b],
                                            .G = cc_tape_grad(ctx->tape, node) + (size_t)i * one};
        }
        const cc_cam_image_call call = {.C = C, .H = ctx->H, .W = ctx->W,
                                        .input = ctx->forward_input + (size_t)i * chw,
                                        .input_grad = cc_tape_grad(ctx->tape, 0) + (size_t)i * chw,
                                        .bias_layers = layers, .nbias_layers = ctx->nbias, .params = p,
                                        .scratch = ctx->method_scratch};
        float *map = maps + (size_t)i * HW;
        cc_status st = m->image_map(&call, map, &ctx->err);
        if (st) {
            free(layers);
            return (cnncam_status)st;
        }
        cc_cam_normalize(map, map, HW);
    }
    free(layers);
    ctx->has_weights = ctx->has_raw = 0;
    return CNNCAM_OK;
}

/* One run of method m on the current forward: the backward it needs, each
 * layer's map, and the post-processed maps (N x H x W). */
static cnncam_status run_once(cnncam_ctx *ctx, const cc_cam_method *m, const cc_cam_params *p, const int *cls,
                              float *maps)
{
    if (m->image_map)
        return run_image_method(ctx, m, p, cls, maps);
    if (m->uses & CC_CAM_USES_GRADIENT) {
        int layers[CNNCAM_MAX_LAYERS];
        for (int l = 0; l < ctx->nlayers; l++)
            layers[l] = l;  /* the layers are the tape's first targets */
        backward(ctx, m, p, cls, layers, ctx->nlayers);
        cc_ctx_pack_grads(ctx);
    }
    for (int l = 0; l < ctx->nlayers; l++) {
        const int K = ctx->K[l], h = ctx->lh[l], w = ctx->lw[l];
        const size_t hw = (size_t)h * w;
        for (int i = 0; i < ctx->N; i++) {
            const cc_real *A = cc_ctx_layer_value(ctx, l, i);
            const cc_real *G = m->uses & CC_CAM_USES_GRADIENT ? cc_ctx_layer_grad(ctx, l, i) : NULL;
            float *raw = ctx->raw[l] + (size_t)i * hw;
            if (ctx->is_input[l]) {
                if (!G)
                    return cc_ctx_fail(ctx, CNNCAM_EINVAL, "%s cannot explain the input itself: it has no "
                                       "gradient saliency; choose a layer", m->name);
                saliency(raw, G, K, hw);
                continue;
            }
            cc_ctx_services svc;
            cc_ctx_services_init(&svc, ctx, i, cls[i], p);
            const cc_cam_layer_call call = {.layer = l, .K = K, .h = h, .w = w, .A = A, .G = G, .params = p,
                                            .svc = &svc.svc, .scratch = ctx->method_scratch};
            cc_status st = m->layer_map(&call, ctx->weights[l] + (size_t)i * K, raw, &ctx->err);
            if (st)
                return (cnncam_status)st;
            for (size_t q = 0; q < hw; q++)
                raw[q] = raw[q] > 0 ? raw[q] : 0;  /* compute_cam_per_layer's ReLU */
        }
    }
    for (int i = 0; i < ctx->N; i++) {
        const float *cams[CNNCAM_MAX_LAYERS];
        int h[CNNCAM_MAX_LAYERS], w[CNNCAM_MAX_LAYERS];
        for (int l = 0; l < ctx->nlayers; l++) {
            h[l] = ctx->lh[l], w[l] = ctx->lw[l];
            cams[l] = ctx->raw[l] + (size_t)i * h[l] * w[l];
        }
        cc_cam_combine(maps + (size_t)i * ctx->H * ctx->W, cams, h, w, ctx->nlayers, ctx->H, ctx->W, ctx->scratch);
    }
    ctx->has_weights = m->has_weights;
    ctx->has_raw = 1;
    return CNNCAM_OK;
}

/* ttach's Compose(HorizontalFlip, Multiply([0.9, 1, 1.1])) in its order:
 * flip off then on, each with the three factors. Run last is the identity,
 * so that the context ends on the un-augmented forward. */
static const struct { int flip; float factor; } AUGMENTATIONS[6] = {
    {0, 0.9f}, {0, 1.0f}, {0, 1.1f}, {1, 0.9f}, {1, 1.0f}, {1, 1.1f}};
static const int AUG_RUN_ORDER[6] = {0, 2, 3, 4, 5, 1};

static void flip_width(float *dst, const float *src, size_t rows, int W)
{
    for (size_t r = 0; r < rows; r++)
        for (int x = 0; x < W; x++)
            dst[r * W + x] = src[r * W + (W - 1 - x)];
}

/* RandomCAM's stream where transform t starts drawing: the reference runs
 * the transforms in order, each drawing K weights per image per layer. */
static void position_stream(cnncam_ctx *ctx, const cc_cam_params *p, int t)
{
    size_t per_run = 0;
    for (int l = 0; l < ctx->nlayers; l++)
        per_run += (size_t)ctx->N * ctx->K[l];
    cc_numpy_random_seed(&ctx->rng, (uint32_t)p->seed);
    for (size_t q = 0; q < per_run * (size_t)t; q++)
        cc_numpy_random_sample(&ctx->rng);
}

/* The reference's forward_augmentation_smoothing: the mean of the six
 * de-augmented maps, in transform order, in float32, not normalised again. */
static cnncam_status run_aug_smooth(cnncam_ctx *ctx, const cc_cam_method *m, const cc_cam_params *p,
                                    const int *classes, int *cls, float *maps)
{
    const int C = ctx->model->input->channels;
    const size_t in_n = (size_t)ctx->N * C * ctx->H * ctx->W, map_n = (size_t)ctx->N * ctx->H * ctx->W;
    float *x = malloc(in_n * sizeof *x), *tmp = malloc(in_n * sizeof *tmp);
    float *each = malloc(6 * map_n * sizeof *each);
    cnncam_status st = CNNCAM_OK;
    if (!x || !tmp || !each)
        st = cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory for aug_smooth's six maps");
    for (int r = 0; r < 6 && !st; r++) {
        const int t = AUG_RUN_ORDER[r];
        if (m->takes & CC_CAM_TAKES_SEED)
            position_stream(ctx, p, t);
        const float *src = ctx->input;
        if (AUGMENTATIONS[t].flip) {
            flip_width(tmp, ctx->input, in_n / ctx->W, ctx->W);
            src = tmp;
        }
        for (size_t q = 0; q < in_n; q++)
            x[q] = src[q] * AUGMENTATIONS[t].factor;
        cc_ctx_run_forward(ctx, t == 1 ? ctx->input : x);
        if (!(st = resolve_classes(ctx, classes, p->target, cls)))
            st = run_once(ctx, m, p, cls, each + (size_t)t * map_n);
        if (!st && AUGMENTATIONS[t].flip) {
            flip_width(tmp, each + (size_t)t * map_n, map_n / ctx->W, ctx->W);
            memcpy(each + (size_t)t * map_n, tmp, map_n * sizeof *tmp);
        }
    }
    for (size_t q = 0; q < map_n && !st; q++) {
        float sum = 0;
        for (int t = 0; t < 6; t++)
            sum += each[(size_t)t * map_n + q];
        maps[q] = sum / 6.0f;
    }
    free(x), free(tmp), free(each);
    return st;
}

static cnncam_status run(cnncam_ctx *ctx, const cc_cam_method *m, const cc_cam_params *p, const int *classes,
                         float *maps)
{
    if (!classes || !maps)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "%s is NULL; it needs one class per image and room for batch x "
                           "height x width floats", !classes ? "classes" : "maps");
    if (!ctx->have_forward)
        return cc_ctx_fail(ctx, CNNCAM_ESTATE, "%s needs a forward first", m->name);
    if (!ctx->nlayers && !(m->uses & CC_CAM_IGNORES_LAYERS))
        return cc_ctx_fail(ctx, CNNCAM_ESTATE, "no layer to explain: the model file recommends none, so choose one");
    int *cls = malloc((size_t)ctx->N * sizeof *cls);
    if (!cls)
        return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory");
    cnncam_status st = resolve_classes(ctx, classes, p->target, cls);
    ctx->forwards_done = ctx->forwards_total = 0;
    if (m->uses & (CC_CAM_USES_INPUT_BATCHES | CC_CAM_USES_UPPER_BATCHES))
        for (int l = 0; l < ctx->nlayers; l++) {
            int K = ctx->K[l];
            if (m->uses & CC_CAM_USES_UPPER_BATCHES && p->ablation_ratio < 1)
                K = 2 * (int)(K * p->ablation_ratio);  /* the channels ablated */
            ctx->forwards_total += ctx->N * ((K + p->batch_size - 1) / p->batch_size) * (p->aug_smooth ? 6 : 1);
        }
    cc_numpy_random_seed(&ctx->rng, (uint32_t)p->seed);
    if (!st) {
        cc_set_threads(ctx->threads);
        const unsigned fp = cc_fpenv_enter();  /* until the maps are made */
        st = p->aug_smooth ? run_aug_smooth(ctx, m, p, classes, cls, maps) : run_once(ctx, m, p, cls, maps);
        cc_fpenv_leave(fp);
    }
    free(cls);
    ctx->have_maps = !st;
    return st;
}

cnncam_status cnncam_cam(cnncam_ctx *ctx, const int *classes, float *maps)
{
    if (!ctx)
        return CNNCAM_EINVAL;
    return run(ctx, ctx->method, &ctx->params, classes, maps);
}

cnncam_status cnncam_gradcam(cnncam_ctx *ctx, const int *classes, float *maps)
{
    if (!ctx)
        return CNNCAM_EINVAL;
    const cc_cam_params p = {.target = CC_TARGET_LOGIT, .batch_size = 1, .ablation_ratio = 1, .finer_alpha = 1};
    return run(ctx, cc_cam_methods[0], &p, classes, maps);
}

