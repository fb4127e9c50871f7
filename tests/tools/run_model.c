/* tests/tools/run_model.c — runs a .ccm model on a raw float32 input for the
 * Python parity driver (tests/test_models.py), which compares against PyTorch.
 *
 * usage: run_model MODEL.ccm INPUT.f32 H W LAYER LOGITS.f32 ACT.f32 [THREADS]
 * INPUT is 1x3xHxW float32 little-endian, already normalised. Writes the
 * logits and LAYER's activations as raw float32, computed with THREADS
 * threads (default 1). Exit 0 ok, 1 usage, 2 error. */
#include "engine/plan.h"
#include "layers/kernels.h"
#include "weights/model.h"

#include <stdio.h>
#include <stdlib.h>

static int write_raw(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n || fclose(f)) {
        fprintf(stderr, "run_model: cannot write %s\n", path);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: run_model MODEL.ccm INPUT.f32 H W LAYER LOGITS.f32 ACT.f32 [THREADS]\n");
        return 1;
    }
    cc_set_threads(argc == 9 ? atoi(argv[8]) : 1);
    const int H = atoi(argv[3]), W = atoi(argv[4]);
    cc_error err;
    cc_model *m;
    if (cc_model_load(argv[1], &m, &err)) {
        fprintf(stderr, "run_model: %s\n", err.msg);
        return 2;
    }
    const int layer = cc_model_find_layer(m, argv[5]);
    if (layer < 0) {
        char near[512];
        cc_model_suggest(m, argv[5], near, sizeof near);
        fprintf(stderr, "run_model: unknown layer '%s'; nearest: %s\n", argv[5], near);
        return 2;
    }
    const size_t n = (size_t)3 * H * W;
    float *x = malloc(n * sizeof *x);
    FILE *f = fopen(argv[2], "rb");
    if (!x || !f || fread(x, sizeof *x, n, f) != n) {
        fprintf(stderr, "run_model: cannot read %zu floats from %s\n", n, argv[2]);
        return 2;
    }
    fclose(f);
    const int keep[2] = {layer, m->output};
    const cc_plan_opts opts = {.keep = keep, .nkeep = 2};
    const cc_shape shape = cc_shape4(1, 3, H, W);
    cc_plan *p = cc_plan_create(m->graph, &shape, &opts, &err);
    if (!p) {
        fprintf(stderr, "run_model: %s\n", err.msg);
        return 2;
    }
    const cc_real *in[1] = {x};
    cc_plan_forward(p, in);
    int ok = write_raw(argv[6], cc_plan_value(p, m->output), cc_shape_numel(&p->shape[m->output])) &&
             write_raw(argv[7], cc_plan_value(p, layer), cc_shape_numel(&p->shape[layer]));
    cc_plan_free(p);
    cc_model_free(m);
    free(x);
    return ok ? 0 : 2;
}
