/* tests/netbuild.c — see netbuild.h. Any failure to build is a test bug: abort loudly. */
#include "netbuild.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int must(int id, const cc_error *err)
{
    if (id < 0) {
        fprintf(stderr, "netbuild: %s\n", err->msg);
        exit(3);
    }
    return id;
}

void nb_init(netbuild *b, uint64_t seed)
{
    memset(b, 0, sizeof *b);
    b->g = cc_graph_create();
    b->rng.s = seed;
    b->owned = tu_alloc(4096 * sizeof *b->owned);
}

void nb_free(netbuild *b)
{
    for (int i = 0; i < b->nowned; i++)
        free(b->owned[i]);
    free(b->owned);
    cc_graph_free(b->g);
}

static int param(netbuild *b, const char *node, const char *what, cc_shape s, double lo, double hi)
{
    char name[300];
    cc_error err;
    size_t n = cc_shape_numel(&s);
    cc_real *data = tu_alloc(n * sizeof(cc_real));
    for (size_t i = 0; i < n; i++)
        data[i] = (cc_real)tu_uniform(&b->rng, lo, hi);
    b->owned[b->nowned++] = data;
    snprintf(name, sizeof name, "%s.%s", node, what);
    return must(cc_graph_add_param(b->g, name, s, data, &err), &err);
}

int nb_input(netbuild *b, const char *name)
{
    cc_error err;
    return must(cc_graph_add_input(b->g, name, &err), &err);
}

int nb_conv(netbuild *b, const char *name, int in, int C, int OC, int k, int stride, int pad,
            int groups, int bias)
{
    const double bound = 1.0 / sqrt((double)(C / groups * k * k));
    int p[2] = {param(b, name, "weight", cc_shape4(OC, C / groups, k, k), -bound, bound), -1};
    if (bias)
        p[1] = param(b, name, "bias", (cc_shape){1, {OC, 0, 0, 0}}, -bound, bound);
    char attrs[128];
    snprintf(attrs, sizeof attrs, "kernel_size=%d stride=%d padding=%d groups=%d", k, stride, pad, groups);
    cc_attrs a = tu_attrs(attrs);
    cc_error err;
    return must(cc_graph_add_node(b->g, name, "conv2d", &in, 1, p, 2, &a, &err), &err);
}

int nb_batchnorm(netbuild *b, const char *name, int in, int C, double eps)
{
    const cc_shape s = {1, {C, 0, 0, 0}};
    int p[4] = {param(b, name, "weight", s, 0.5, 1.5), param(b, name, "bias", s, -0.5, 0.5),
                param(b, name, "running_mean", s, -0.5, 0.5), param(b, name, "running_var", s, 0.5, 2)};
    cc_attrs a = cc_attrs_default();
    a.eps = eps;
    cc_error err;
    return must(cc_graph_add_node(b->g, name, "batchnorm2d", &in, 1, p, 4, &a, &err), &err);
}

int nb_linear(netbuild *b, const char *name, int in, int IN, int OUT, int bias)
{
    const double bound = 1.0 / sqrt((double)IN);
    int p[2] = {param(b, name, "weight", cc_shape2(OUT, IN), -bound, bound), -1};
    if (bias)
        p[1] = param(b, name, "bias", (cc_shape){1, {OUT, 0, 0, 0}}, -bound, bound);
    cc_error err;
    return must(cc_graph_add_node(b->g, name, "linear", &in, 1, p, 2, NULL, &err), &err);
}

int nb_layer_norm(netbuild *b, const char *name, int in, int C, double eps)
{
    const cc_shape s = {1, {C, 0, 0, 0}};
    int p[2] = {param(b, name, "weight", s, 0.5, 1.5), param(b, name, "bias", s, -0.5, 0.5)};
    cc_attrs a = cc_attrs_default();
    a.eps = eps;
    cc_error err;
    return must(cc_graph_add_node(b->g, name, "layer_norm", &in, 1, p, 2, &a, &err), &err);
}

int nb_const(netbuild *b, const char *name, const char *op, int in, const char *shape,
             const double *values, double scale)
{
    const cc_shape s = tu_shape(shape);
    const int p = param(b, name, "value", s, -scale, scale);
    if (values) {
        cc_real *data = b->owned[b->nowned - 1];
        for (size_t i = 0; i < cc_shape_numel(&s); i++)
            data[i] = (cc_real)values[i];
    }
    cc_error err;
    return must(cc_graph_add_node(b->g, name, op, &in, 1, &p, 1, NULL, &err), &err);
}

int nb_op(netbuild *b, const char *name, const char *op, const int *inputs, int ninputs,
          const char *attrs)
{
    cc_attrs a = tu_attrs(attrs);
    cc_error err;
    return must(cc_graph_add_node(b->g, name, op, inputs, ninputs, NULL, 0, &a, &err), &err);
}

int nb_unary(netbuild *b, const char *name, const char *op, int in)
{
    return nb_op(b, name, op, &in, 1, NULL);
}
