/* tests/fuzz/make_fuzz_corpus.c — writes seed .ccm files for fuzz_reader:
 * small valid models that together use every op, every attribute, both
 * dtypes, aliases and every metadata type, and plan for 1x3x32x32 inputs.
 * usage: make_fuzz_corpus DIR */
#include "engine/plan.h"
#include "weights/model.h"
#include "weights/writer.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static float W[4096];  /* every tensor's values: a fixed ramp */

#define V(...) (const double[]){__VA_ARGS__}, (int)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double))
#define A(k, ...) {k, V(__VA_ARGS__)}

static void tensor(cc_model_writer *w, const char *name, int dtype, int rank, int d0, int d1, int d2, int d3)
{
    cc_writer_tensor(w, name, dtype, (cc_shape){rank, {d0, d1, d2, d3}}, W);
}

static int conv(cc_model_writer *w, const char *name, int in, int C, int OC, int k, int groups, int dtype,
                const cc_writer_attr *extra, int nextra)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    tensor(w, wn, dtype, 4, OC, C / groups, k, k);
    tensor(w, bn, dtype, 1, OC, 0, 0, 0);
    cc_writer_attr attrs[6] = {A("kernel_size", k), A("groups", groups)};
    for (int i = 0; i < nextra && i < 4; i++)
        attrs[2 + i] = extra[i];
    const cc_writer_param p[2] = {{"weight", wn}, {"bias", bn}};
    return cc_writer_node(w, name, "conv2d", &in, 1, p, 2, attrs, 2 + nextra);
}

static int unary(cc_model_writer *w, const char *name, const char *op, int in)
{
    return cc_writer_node(w, name, op, &in, 1, NULL, 0, NULL, 0);
}

static int head(cc_model_writer *w, int in, int C, int classes)
{
    const cc_writer_attr pool[1] = {A("output_size", 1, 1)}, flat[1] = {A("start_dim", 1)};
    int x = cc_writer_node(w, "avgpool", "adaptive_avgpool2d", &in, 1, NULL, 0, pool, 1);
    x = cc_writer_node(w, "flatten", "flatten", &x, 1, NULL, 0, flat, 1);
    tensor(w, "fc.weight", CC_DTYPE_F32, 2, classes, C, 0, 0);
    tensor(w, "fc.bias", CC_DTYPE_F16, 1, classes, 0, 0, 0);
    const cc_writer_param p[2] = {{"weight", "fc.weight"}, {"bias", "fc.bias"}};
    return cc_writer_node(w, "fc", "linear", &x, 1, p, 2, NULL, 0);
}

/* conv-bn-relu-maxpool, a residual add, every activation, avg pool, head. */
static void net_resnetish(cc_model_writer *w)
{
    static const char *const labels[3] = {"a", "b", "c"};
    cc_writer_meta_string(w, "arch", "resnetish");
    cc_writer_meta_int(w, "classes", 3);
    cc_writer_meta_strings(w, "labels", labels, 3);
    cc_writer_meta_floats(w, "input.mean", (const double[]){0.485, 0.456, 0.406}, 3);
    cc_writer_meta_float(w, "scale", 0.5);
    cc_writer_meta_string(w, "gradcam.layer", "layer1");
    int x = cc_writer_input(w, "input");
    const cc_writer_attr s2[2] = {A("stride", 2), A("padding", 1)};
    x = conv(w, "conv1", x, 3, 4, 3, 1, CC_DTYPE_F32, s2, 2);
    tensor(w, "bn1.weight", CC_DTYPE_F32, 1, 4, 0, 0, 0);
    tensor(w, "bn1.bias", CC_DTYPE_F32, 1, 4, 0, 0, 0);
    tensor(w, "bn1.running_mean", CC_DTYPE_F16, 1, 4, 0, 0, 0);
    tensor(w, "bn1.running_var", CC_DTYPE_F16, 1, 4, 0, 0, 0);
    const cc_writer_param bp[4] = {{"weight", "bn1.weight"}, {"bias", "bn1.bias"},
                                   {"running_mean", "bn1.running_mean"}, {"running_var", "bn1.running_var"}};
    const cc_writer_attr eps[1] = {A("eps", 1e-3)};
    x = cc_writer_node(w, "bn1", "batchnorm2d", &x, 1, bp, 4, eps, 1);
    x = unary(w, "relu", "relu", x);
    const cc_writer_attr mp[4] = {A("kernel_size", 3), A("stride", 2), A("padding", 1), A("ceil_mode", 1)};
    int skip = cc_writer_node(w, "maxpool", "maxpool2d", &x, 1, NULL, 0, mp, 4);
    const cc_writer_attr p1[1] = {A("padding", 1)};
    x = conv(w, "layer1.0.conv1", skip, 4, 4, 3, 1, CC_DTYPE_F16, p1, 1);
    x = unary(w, "layer1.0.relu6", "relu6", x);
    x = unary(w, "layer1.0.hardswish", "hardswish", x);
    const cc_writer_attr se[1] = {A("output_size", 1)};
    int gate = cc_writer_node(w, "layer1.0.se.pool", "adaptive_avgpool2d", &x, 1, NULL, 0, se, 1);
    gate = unary(w, "layer1.0.se.hardsigmoid", "hardsigmoid", gate);
    x = unary(w, "layer1.0.silu", "silu", x);
    const int mul_in[2] = {x, gate};
    x = cc_writer_node(w, "layer1.0.mul", "mul", mul_in, 2, NULL, 0, NULL, 0);
    x = unary(w, "layer1.0.sigmoid", "sigmoid", x);
    const int add_in[2] = {x, skip};
    int block = cc_writer_node(w, "layer1.0.add", "add", add_in, 2, NULL, 0, NULL, 0);
    x = unary(w, "layer1.0.identity", "identity", block);
    const cc_writer_attr ap[4] = {A("kernel_size", 2, 3), A("stride", 2), A("padding", 0, 1),
                                  A("count_include_pad", 0)};
    x = cc_writer_node(w, "avg", "avgpool2d", &x, 1, NULL, 0, ap, 4);
    head(w, x, 4, 3);
    cc_writer_alias(w, "layer1", block);
    cc_writer_alias(w, "layer1.0", block);
}

/* Depthwise and dilated convs with asymmetric padding, two inputs, concat. */
static void net_two_inputs(cc_model_writer *w)
{
    cc_writer_meta_int(w, "eval.resize", 36);
    cc_writer_meta_strings(w, "empty", NULL, 0);
    static const char *const modules[6] = {"Conv2d", "Conv2d", "", "AdaptiveAvgPool2d", "", "Linear"};
    cc_writer_meta_strings(w, "node.module", modules, 6);  /* one per node, checked after the graph */
    int a = cc_writer_input(w, "rgb");
    int b = cc_writer_input(w, "aux");
    const cc_writer_attr dw[2] = {A("padding", 1, 1, 1, 1), A("dilation", 1)};
    a = conv(w, "dw", a, 3, 3, 3, 3, CC_DTYPE_F32, dw, 2);
    const cc_writer_attr dil[2] = {A("padding", 2, 2, 2, 2), A("dilation", 2)};
    b = conv(w, "dil", b, 3, 2, 3, 1, CC_DTYPE_F16, dil, 2);
    const int cat_in[2] = {a, b};
    const cc_writer_attr axis[1] = {A("axis", 1)};
    int x = cc_writer_node(w, "cat", "concat", cat_in, 2, NULL, 0, axis, 1);
    head(w, x, 5, 2);
    cc_writer_alias(w, "features", x);
}

/* The smallest model: one relu, no tensors, no metadata. */
static void net_relu(cc_model_writer *w)
{
    int x = cc_writer_input(w, "x");
    unary(w, "relu", "relu", x);
}

static int save(const char *dir, const char *name, void (*build)(cc_model_writer *))
{
    char path[1024];
    cc_error err;
    cc_model_writer *w = cc_writer_create();
    if (!w)
        return 1;
    build(w);
    snprintf(path, sizeof path, "%s/%s.ccm", dir, name);
    cc_status st = cc_writer_to_file(w, path, &err);
    cc_writer_free(w);
    cc_model *m = NULL;
    if (!st)
        st = cc_model_load(path, &m, &err);  /* a seed must load and plan for the fuzzer's input */
    if (!st) {
        cc_shape in[2] = {cc_shape4(1, 3, 32, 32), cc_shape4(1, 3, 32, 32)}, shapes[64];
        st = m->graph->nnodes > 64 || m->graph->ninputs > 2 ? CC_EINVAL
                                                            : cc_plan_shapes(m->graph, in, shapes, &err);
    }
    cc_model_free(m);
    if (st)
        fprintf(stderr, "make_fuzz_corpus: %s: %s\n", path, err.msg);
    return st != CC_OK;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_fuzz_corpus DIR\n");
        return 1;
    }
    for (int i = 0; i < 4096; i++)
        W[i] = (float)((i % 17) - 8) / 16;
    mkdir(argv[1], 0777);
    int bad = save(argv[1], "resnetish", net_resnetish) + save(argv[1], "two_inputs", net_two_inputs) +
              save(argv[1], "relu", net_relu);
    return bad ? 1 : 0;
}
