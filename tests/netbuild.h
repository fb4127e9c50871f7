/* tests/netbuild.h — building small networks from C for the graph tests:
 * PyTorch-style layers with seeded random parameters the builder owns. */
#ifndef CC_NETBUILD_H
#define CC_NETBUILD_H

#include "engine/graph.h"
#include "testutil.h"

typedef struct {
    cc_graph *g;
    tu_rng rng;
    cc_real **owned;
    int nowned;
} netbuild;

void nb_init(netbuild *b, uint64_t seed);
void nb_free(netbuild *b);  /* the graph and every parameter */

int nb_input(netbuild *b, const char *name);
/* Conv2d(C, OC, k, stride, padding=pad, groups, bias), weights ~ U(-1,1)/sqrt(fan_in). */
int nb_conv(netbuild *b, const char *name, int in, int C, int OC, int k, int stride, int pad,
            int groups, int bias);
int nb_batchnorm(netbuild *b, const char *name, int in, int C, double eps);
int nb_linear(netbuild *b, const char *name, int in, int IN, int OUT, int bias);
/* LayerNorm(C) over the last dim, weight ~ U(0.5,1.5), bias ~ U(-0.5,0.5). */
int nb_layer_norm(netbuild *b, const char *name, int in, int C, double eps);
/* add_const / mul_const with its buffer 'value' of the given shape ("1x2x5x5"):
 * a copy of values when given, else U(-scale, scale). */
int nb_const(netbuild *b, const char *name, const char *op, int in, const char *shape,
             const double *values, double scale);
/* Any op without parameters; attrs as "key=v[,v] ..." (cc_attrs_set names). */
int nb_op(netbuild *b, const char *name, const char *op, const int *inputs, int ninputs,
          const char *attrs);
int nb_unary(netbuild *b, const char *name, const char *op, int in);

#endif
