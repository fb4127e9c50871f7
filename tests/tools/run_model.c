/* tests/tools/run_model.c — runs a .ccm model on a raw float32 input for the
 * Python parity driver (tests/test_models.py), which compares against PyTorch.
 * It goes through the shipped path only, include/cnncam.h: cnncam_model_load,
 * cnncam_ctx_create, cnncam_ctx_set_layers / set_threads, cnncam_forward (the
 * planned forward with its tape, as `cnncam cam` runs it), cnncam_logits and
 * cnncam_activation.
 *
 * usage: run_model MODEL.ccm INPUT.f32 H W LAYER LOGITS.f32 ACT.f32 [THREADS]
 * INPUT is 1xCxHxW float32 little-endian, already normalised (C from its size).
 * Writes the logits and LAYER's activations as raw float32, computed with
 * THREADS threads (default 1). Exit 0 ok, 1 usage, 2 error. */
#include "cnncam.h"

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

/* The whole file as floats; *n gets their count. */
static float *read_raw(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    float *x = NULL;
    long bytes = -1;
    if (f && !fseek(f, 0, SEEK_END) && (bytes = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) &&
        (x = malloc((size_t)bytes)) && fread(x, 1, (size_t)bytes, f) == (size_t)bytes) {
        fclose(f);
        *n = (size_t)bytes / sizeof *x;
        return x;
    }
    if (f)
        fclose(f);
    free(x);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: run_model MODEL.ccm INPUT.f32 H W LAYER LOGITS.f32 ACT.f32 [THREADS]\n");
        return 1;
    }
    const int H = atoi(argv[3]), W = atoi(argv[4]), threads = argc == 9 ? atoi(argv[8]) : 1;
    char err[1024];
    cnncam_model *m;
    if (cnncam_model_load(argv[1], &m, err, sizeof err)) {
        fprintf(stderr, "run_model: %s\n", err);
        return 2;
    }
    size_t n = 0;
    float *x = read_raw(argv[2], &n);
    if (!x || H < 1 || W < 1 || n % ((size_t)H * W)) {
        fprintf(stderr, "run_model: %s does not hold C x %d x %d floats (%zu floats)\n", argv[2], H, W, n);
        return 2;
    }
    cnncam_ctx *ctx = cnncam_ctx_create(m);
    const char *layers[1] = {argv[5]};
    int ok = ctx && !cnncam_ctx_set_layers(ctx, layers, 1) && !cnncam_ctx_set_threads(ctx, threads) &&
             !cnncam_forward(ctx, x, 1, H, W);
    if (!ok) {
        fprintf(stderr, "run_model: %s\n", ctx ? cnncam_ctx_error(ctx) : "out of memory");
        return 2;
    }
    int C, h, w;
    cnncam_layer_shape(ctx, 0, &C, &h, &w);
    ok = write_raw(argv[6], cnncam_logits(ctx, 0), (size_t)cnncam_model_classes(m)) &&
         write_raw(argv[7], cnncam_activation(ctx, 0, 0), (size_t)C * h * w);
    cnncam_ctx_free(ctx);
    cnncam_model_free(m);
    free(x);
    return ok ? 0 : 2;
}
