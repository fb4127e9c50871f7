/* api/api_guided.c — guided backpropagation (Springenberg et al.,
 * arXiv:1412.6806) as pytorch-grad-cam's guided_backprop.py: the gradient of
 * one class's output with respect to the input, with every nn.ReLU module
 * differentiated by the guided rule (layers/op.h: dx = dy [x > 0] [dy > 0]).
 * Only ReLU modules, as the reference patches them: F.relu calls keep their
 * backward (weights/FORMAT.md, "Module types", for files without module
 * types). guided_extended also guides the ReLU6, Hardswish, Hardsigmoid,
 * SiLU and Sigmoid modules by the same rule, max(0, f'(x) max(0, dy)), so
 * MobileNet's and EfficientNet's gates and activations pass only positive
 * evidence too (docs/METHODS.md). The backward is a second pass on the
 * forward of the explanation: no forward of its own. */
#include "api/api_internal.h"
#include "layers/kernels.h"
#include "runtime/fpenv.h"

#include <stdlib.h>
#include <string.h>

/* Module classes and, for files without module types, the ops they map to. */
static const struct { const char *module, *op; int extended; } GUIDED[] = {
    {"ReLU", "relu", 0},       {"ReLU6", "relu6", 1},   {"Hardswish", "hardswish", 1},
    {"Hardsigmoid", "hardsigmoid", 1}, {"SiLU", "silu", 1}, {"Sigmoid", "sigmoid", 1},
};

cnncam_status cc_ctx_plan_guided(cnncam_ctx *ctx)
{
    const cc_model *f = ctx->model->file;
    const cc_graph *g = f->graph;
    ctx->guided = calloc((size_t)g->nnodes, 1);
    if (!ctx->guided)
        return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory planning guided backpropagation");
    for (int i = 0; i < g->nnodes; i++) {
        const cc_op *op = g->nodes[i].op;
        if (!op || !op->guided_backward)
            continue;
        for (size_t k = 0; k < sizeof GUIDED / sizeof *GUIDED; k++) {
            if (GUIDED[k].extended && !ctx->options.guided_extended)
                continue;
            const int match = f->node_module ? !strcmp(f->node_module[i], GUIDED[k].module)
                                             : !strcmp(op->name, GUIDED[k].op);
            if (match && !strcmp(op->name, GUIDED[k].op))
                ctx->guided[i] = 1;
        }
    }
    return CNNCAM_OK;
}

cnncam_status cnncam_guided_backprop(cnncam_ctx *ctx, int image, int cls, float *out)
{
    if (!ctx)
        return CNNCAM_EINVAL;
    if (!out)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "cnncam_guided_backprop: out is NULL; it needs height x width x "
                           "channels floats");
    if (!ctx->have_forward)
        return cc_ctx_fail(ctx, CNNCAM_ESTATE, "guided backpropagation needs a forward first");
    if (!ctx->guided)
        return cc_ctx_fail(ctx, CNNCAM_ESTATE, "guided backpropagation was not planned: set guided in the "
                           "options (cnncam_ctx_set_cam_options) before the forward");
    if (image < 0 || image >= ctx->N)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "image %d is out of range: the forward had %d", image, ctx->N);
    if (cls == CNNCAM_TOP_CLASS)
        cls = cnncam_top_class(ctx, image);
    if (cls < 0 || cls >= ctx->classes)
        return cc_ctx_fail(ctx, CNNCAM_EINVAL, "class %d is out of range: the model has %d classes (0 to %d)", cls,
                           ctx->classes, ctx->classes - 1);
    /* out[image, cls].backward(): the logit, whatever target the CAM uses */
    memset(ctx->seed, 0, (size_t)ctx->N * ctx->classes * sizeof *ctx->seed);
    ctx->seed[(size_t)image * ctx->classes + cls] = 1;
    const cc_tape_pass pass = {.targets = &ctx->input_target, .ntargets = 1, .guided = ctx->guided};
    cc_set_threads(ctx->threads);
    const unsigned fp = cc_fpenv_enter();
    cc_tape_backward_pass(ctx->tape, ctx->seed, &pass);
    cc_fpenv_leave(fp);
    const int C = ctx->model->input->channels;
    const size_t HW = (size_t)ctx->H * ctx->W;
    const cc_real *g = cc_tape_grad(ctx->tape, 0) + (size_t)image * C * HW;
    for (size_t i = 0; i < HW; i++)
        for (int c = 0; c < C; c++)
            out[i * C + c] = g[(size_t)c * HW + i];  /* x.grad[0].transpose(1, 2, 0) */
    ctx->have_maps = 0;  /* the layer gradients of the last cnncam_cam are gone */
    return CNNCAM_OK;
}
