/* api/api_bias.c — FullGrad's bias layers (weights/FORMAT.md, "Module
 * types"): nodes whose module is an nn.Conv2d or nn.BatchNorm2d binding a
 * bias (in a file without module types: every conv2d or batchnorm2d node
 * binding one), in graph order, with the bias as pytorch-grad-cam folds it:
 *   conv:       b
 *   batchnorm:  -(running_mean * weight / sqrt(running_var + eps)) + b
 * in float32, in that order, as its torch expression computes it. */
#include "api/api_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int param_index(const cc_op *op, const char *name)
{
    for (int k = 0; k < op->nparams; k++)
        if (!strcmp(op->param_names[k], name))
            return k;
    return -1;
}

static const cc_real *param(const cc_graph *g, const cc_node *n, const char *name)
{
    const int k = param_index(n->op, name);
    return k >= 0 && n->param[k] >= 0 ? g->params[n->param[k]].data : NULL;
}

static int is_bias_layer(const cc_model *f, int i)
{
    const cc_node *n = &f->graph->nodes[i];
    if (!n->op || !param(f->graph, n, "bias"))
        return 0;
    const int conv = !strcmp(n->op->name, "conv2d"), bn = !strcmp(n->op->name, "batchnorm2d");
    if (f->node_module)
        return (conv && !strcmp(f->node_module[i], "Conv2d")) || (bn && !strcmp(f->node_module[i], "BatchNorm2d"));
    return conv || bn;
}

void cc_ctx_drop_bias_layers(cnncam_ctx *ctx)
{
    free(ctx->bias_node);
    for (int l = 0; l < ctx->nbias; l++)
        free(ctx->bias[l]);
    free(ctx->bias);
    ctx->bias_node = NULL, ctx->bias = NULL, ctx->nbias = 0;
}

cnncam_status cc_ctx_find_bias_layers(cnncam_ctx *ctx, const cc_shape *shapes)
{
    const cc_model *f = ctx->model->file;
    const cc_graph *g = f->graph;
    int n = 0;
    for (int i = 0; i < g->nnodes; i++)
        n += is_bias_layer(f, i);
    ctx->bias_node = malloc((size_t)(n ? n : 1) * sizeof *ctx->bias_node);
    ctx->bias = calloc((size_t)(n ? n : 1), sizeof *ctx->bias);
    if (!ctx->bias_node || !ctx->bias)
        return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory listing FullGrad's bias layers");
    for (int i = 0; i < g->nnodes; i++) {
        if (!is_bias_layer(f, i))
            continue;
        const cc_node *node = &g->nodes[i];
        const int K = shapes[i].d[1];
        float *b = ctx->bias[ctx->nbias] = malloc((size_t)K * sizeof *b);
        if (!b)
            return cc_ctx_fail(ctx, CNNCAM_ENOMEM, "out of memory folding the bias of '%s'", node->name);
        ctx->bias_node[ctx->nbias++] = i;
        const cc_real *bias = param(g, node, "bias");
        if (!strcmp(node->op->name, "conv2d")) {
            memcpy(b, bias, (size_t)K * sizeof *b);
            continue;
        }
        const cc_real *w = param(g, node, "weight"), *mean = param(g, node, "running_mean"),
                      *var = param(g, node, "running_var");
        const float eps = (float)node->attrs.eps;
        for (int k = 0; k < K; k++) {
            const float scaled = (w ? mean[k] * w[k] : mean[k]) / sqrtf(var[k] + eps);
            b[k] = -scaled + bias[k];
        }
    }
    return CNNCAM_OK;
}
