/* tests/test_worked_examples.c — the article's two worked examples
 * (docs/NUMERICS.md, the worked examples), numbers derived by hand, reproduced
 * through the graph, the tape and the Grad-CAM kernels. */
#include "autograd/tape.h"
#include "cam/channel_map.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

static int must(int id, const cc_error *err)
{
    if (id < 0) {
        fprintf(stderr, "building the example graph: %s\n", err->msg);
        exit(3);
    }
    return id;
}

static void expect(const char *what, const cc_real *got, const double *want, size_t n)
{
    /* Hand-derived exact values; float holds 1/3 to 3e-8. */
    tu_close(what, got, want, n, 1e-7, 0);
}

/* Example 1: X (1x1x3x3), conv 2x2 without bias, flatten, linear 4->2 without bias;
 * backward from logit 0. */
static void example_conv_linear(void)
{
    static const cc_real X[9] = {1, 2, 3, 1, 1, 2, 2, 1, 2};
    static const cc_real conv_w[4] = {1, 0, 1, 2};
    static const cc_real fc_w[8] = {0, 1, 0, 1, 1, 0, 1, 1};
    cc_error err;
    cc_graph *g = cc_graph_create();
    const int x = must(cc_graph_add_input(g, "input", &err), &err);
    const int pw = must(cc_graph_add_param(g, "conv.weight", cc_shape4(1, 1, 2, 2), conv_w, &err), &err);
    const int pf = must(cc_graph_add_param(g, "fc.weight", cc_shape2(2, 4), fc_w, &err), &err);
    cc_attrs ca = tu_attrs("kernel_size=2");
    const int conv = must(cc_graph_add_node(g, "conv", "conv2d", &x, 1, &pw, 1, &ca, &err), &err);
    const int flat = must(cc_graph_add_node(g, "flatten", "flatten", &conv, 1, NULL, 0, NULL, &err), &err);
    const int fc = must(cc_graph_add_node(g, "fc", "linear", &flat, 1, &pf, 1, NULL, &err), &err);

    const int targets[2] = {x, conv};
    const cc_tape_request req = {.seed = fc, .targets = targets, .ntargets = 2, .keep = &conv, .nkeep = 1};
    const cc_shape shape = cc_shape4(1, 1, 3, 3);
    cc_tape *t = cc_tape_create(g, &shape, &req, &err);
    tu_check(t != NULL, "example 1: tape: %s", err.msg);
    if (!t) {
        cc_graph_free(g);
        return;
    }
    const cc_real *in[1] = {X};
    cc_tape_forward(t, in);
    expect("example 1: conv out", cc_plan_value(t->plan, conv), (const double[]){4, 7, 5, 6}, 4);
    expect("example 1: logits", cc_plan_value(t->plan, fc), (const double[]){13, 15}, 2);
    const cc_real seed[2] = {1, 0};
    cc_tape_backward(t, seed);
    expect("example 1: d logit0 / d conv out", cc_tape_grad(t, conv), (const double[]){0, 1, 0, 1}, 4);
    expect("example 1: d logit0 / d X", cc_tape_grad(t, x), (const double[]){0, 1, 0, 0, 2, 2, 0, 1, 2}, 9);
    cc_tape_free(t);
    cc_graph_free(g);
}

/* Example 2: A has two 3x3 channels; a head of global average pool and a
 * linear layer with weights [3, -6] gives alpha = [1/3, -2/3]. */
static void example_gradcam(void)
{
    static const cc_real A[18] = {1, 0, 2, 3, 5, 0, 1, 1, 1,   0, 1, 0, 3, 1, 0, 1, 0, 1};
    static const cc_real fc_w[2] = {3, -6};
    cc_error err;
    cc_graph *g = cc_graph_create();
    const int a = must(cc_graph_add_input(g, "A", &err), &err);
    const int pf = must(cc_graph_add_param(g, "fc.weight", cc_shape2(1, 2), fc_w, &err), &err);
    cc_attrs pa = tu_attrs("output_size=1");
    const int pool = must(cc_graph_add_node(g, "avgpool", "adaptive_avgpool2d", &a, 1, NULL, 0, &pa, &err), &err);
    const int flat = must(cc_graph_add_node(g, "flatten", "flatten", &pool, 1, NULL, 0, NULL, &err), &err);
    const int fc = must(cc_graph_add_node(g, "fc", "linear", &flat, 1, &pf, 1, NULL, &err), &err);

    const cc_tape_request req = {.seed = fc, .targets = &a, .ntargets = 1, .keep = &a, .nkeep = 1};
    const cc_shape shape = cc_shape4(1, 2, 3, 3);
    cc_tape *t = cc_tape_create(g, &shape, &req, &err);
    tu_check(t != NULL, "example 2: tape: %s", err.msg);
    if (!t) {
        cc_graph_free(g);
        return;
    }
    const cc_real *in[1] = {A};
    cc_tape_forward(t, in);
    const cc_real seed[1] = {1};
    cc_tape_backward(t, seed);
    cc_real alpha[2], cam[9];
    cc_cam_channel_mean(alpha, cc_tape_grad(t, a), 2, 9);
    expect("example 2: alpha", alpha, (const double[]){1.0 / 3, -2.0 / 3}, 2);
    cc_cam_channel_sum(cam, alpha, cc_plan_value(t->plan, a), 2, 9);
    for (int i = 0; i < 9; i++)
        cam[i] = cam[i] > 0 ? cam[i] : 0;
    expect("example 2: ReLU(alpha . A)", cam,
           (const double[]){1.0 / 3, 0, 2.0 / 3, 0, 1, 0, 0, 1.0 / 3, 0}, 9);
    cc_tape_free(t);
    cc_graph_free(g);
}

int main(void)
{
    example_conv_linear();
    example_gradcam();
    return tu_finish("worked_examples");
}
