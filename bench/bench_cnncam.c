/* bench/bench_cnncam.c — cnncam's side of `make bench`: loads a model and an
 * image once, then times what bench/bench.py asks for on stdin, so that the
 * driver can alternate cnncam and PyTorch one run at a time.
 *
 *   bench_cnncam MODEL.ccm IMAGE
 *
 * IMAGE is a photo (preprocessed with the model's normalisation) or a .npy
 * float32 tensor of 3xHxW or 1x3xHxW used as is (the subnormal input of
 * bench.py --only subnormal).
 *
 * Prints "ready C H W" (classes, image size), then one line per command:
 *   threads N   set the contexts' threads; replies "ok"
 *   forward     one forward pass (batch 1)
 *   gradcam     forward + Grad-CAM of the top class at the recommended layer
 *   top5        forward + Grad-CAM of each of the 5 best classes
 *   batch8      forward of 8 copies + Grad-CAM of each one's top class
 *   method NAME forward + cnncam_cam of the top class with method NAME (a
 *               cnncam_method_name, its default options, the recommended
 *               layer) in a context of its own; "method guided": Grad-CAM with
 *               options.guided = 1, then cnncam_guided_backprop (bench/bench_methods.py)
 * each replying the wall time in milliseconds, or "error: ..." (and going on);
 *   sgemm N     OpenBLAS sgemm of N x N by N x N with the set threads, the
 *               GEMM ceiling of conv layers; replies GFLOP/s (best of 5);
 *   gemm N      the same product through the engine's own cc_gemm (its
 *               AVX-512 kernel where the CPU has it, else OpenBLAS), the
 *               ceiling where OpenBLAS falls back to older kernels. */
#include <cblas.h>
#include <cnncam.h>

#include "layers/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BATCH = 8, TOP = 5 };

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* The k best classes of logits (n of them), best first. */
static void top_classes(const float *logits, int n, int k, int *out)
{
    for (int i = 0; i < k; i++) {
        int best = -1;
        for (int c = 0; c < n; c++) {
            int taken = 0;
            for (int j = 0; j < i; j++)
                taken |= out[j] == c;
            if (!taken && (best < 0 || logits[c] > logits[best]))
                best = c;
        }
        out[i] = best;
    }
}

/* own: cc_gemm (the engine's threads), else OpenBLAS's sgemm with its threads. */
static double sgemm_gflops(int n, int threads, int own)
{
    float *a = malloc(sizeof(float) * 3 * (size_t)n * n);
    double best = 0;
    if (!a)
        return -1;
    for (size_t i = 0; i < 3 * (size_t)n * n; i++)
        a[i] = (float)(i % 7) * 0.25f - 0.75f;
    if (own)
        cc_set_threads(threads);
    else
        openblas_set_num_threads(threads);
    for (int r = 0; r < 5; r++) {
        double t = now_ms();
        if (own)
            cc_gemm(0, 0, n, n, n, 1.0f, a, n, a + (size_t)n * n, n, 0.0f, a + 2 * (size_t)n * n, n);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, a + (size_t)n * n, n,
                        0.0f, a + 2 * (size_t)n * n, n);
        double g = 2.0 * n * n * n / ((now_ms() - t) * 1e6);
        best = g > best ? g : best;
    }
    free(a);
    return best;
}

/* One command on ctx (its own context per batch size: a context keeps the
 * memory plan of one input shape); returns its time in ms, or -1 with the
 * context's error. */
static double run(cnncam_ctx *ctx, const char *cmd, const float *x, int classes, int h, int w, float *maps)
{
    const int batch = strcmp(cmd, "batch8") ? 1 : BATCH;
    int cls[BATCH > TOP ? BATCH : TOP];
    double t = now_ms();
    if (cnncam_forward(ctx, x, batch, h, w))
        return -1;
    if (!strcmp(cmd, "gradcam") || !strcmp(cmd, "batch8")) {
        for (int i = 0; i < batch; i++)
            cls[i] = cnncam_top_class(ctx, i);
        if (cnncam_gradcam(ctx, cls, maps))
            return -1;
    } else if (!strcmp(cmd, "top5")) {
        const int k = classes < TOP ? classes : TOP;
        top_classes(cnncam_logits(ctx, 0), classes, k, cls);
        for (int i = 0; i < k; i++)
            if (cnncam_gradcam(ctx, &cls[i], maps + (size_t)i * h * w))
                return -1;
    }
    return now_ms() - t;
}

/* "method NAME" on ctx: sets the options (re-planning only when the method's
 * plan differs from the last one's), then times forward + cnncam_cam (+
 * cnncam_guided_backprop for "guided"). gb: height x width x channels floats. */
static double run_method(cnncam_ctx *ctx, const char *name, const float *x, int h, int w, float *maps, float *gb)
{
    const int guided = !strcmp(name, "guided");
    cnncam_cam_options o;
    cnncam_cam_options_init(&o);
    o.method = guided ? "gradcam" : name;
    o.guided = guided;
    if (cnncam_ctx_set_cam_options(ctx, &o))
        return -1;
    const int top = CNNCAM_TOP_CLASS;
    double t = now_ms();
    if (cnncam_forward(ctx, x, 1, h, w) || cnncam_cam(ctx, &top, maps))
        return -1;
    if (guided && cnncam_guided_backprop(ctx, 0, CNNCAM_TOP_CLASS, gb))
        return -1;
    return now_ms() - t;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.ccm IMAGE\n", argv[0]);
        return 1;
    }
    char err[512], line[256];
    int threads = 1;
    cnncam_model *m;
    unsigned char *rgb = NULL;
    float *tensor = NULL;
    int w, h;
    const size_t len = strlen(argv[2]);
    const int npy = len > 4 && !strcmp(argv[2] + len - 4, ".npy");
    if (cnncam_model_load(argv[1], &m, err, sizeof err))
        return fprintf(stderr, "%s\n", err), 2;
    if (npy) {
        int shape[CNNCAM_MAX_RANK], rank;
        if (cnncam_npy_read(argv[2], &tensor, shape, &rank, err, sizeof err))
            return fprintf(stderr, "%s\n", err), 2;
        if ((rank != 3 && rank != 4) || shape[rank - 3] != 3 || (rank == 4 && shape[0] != 1))
            return fprintf(stderr, "%s: a .npy input is 3xHxW or 1x3xHxW\n", argv[2]), 2;
        h = shape[rank - 2], w = shape[rank - 1];
    } else if (cnncam_image_read(argv[2], 0, &rgb, &w, &h, err, sizeof err)) {
        return fprintf(stderr, "%s\n", err), 2;
    }
    const size_t plane = (size_t)3 * w * h;
    const int classes = cnncam_model_classes(m);
    cnncam_ctx *ctx = cnncam_ctx_create(m), *ctx8 = cnncam_ctx_create(m), *ctxm = cnncam_ctx_create(m);
    float *x = malloc(sizeof(float) * plane * BATCH), *maps = malloc(sizeof(float) * (size_t)w * h * BATCH);
    float *gb = malloc(sizeof(float) * plane);
    if (!ctx || !ctx8 || !ctxm || !x || !maps || !gb) {
        fprintf(stderr, "out of memory\n");
        return 2;
    }
    if (npy)
        memcpy(x, tensor, sizeof(float) * plane);
    else
        cnncam_preprocess(m, rgb, w, h, x);
    for (int i = 1; i < BATCH; i++)
        memcpy(x + i * plane, x, sizeof(float) * plane);
    printf("ready %d %d %d\n", classes, h, w);
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        int n;
        if (!strcmp(line, "quit"))
            break;
        if (sscanf(line, "threads %d", &n) == 1) {
            if (cnncam_ctx_set_threads(ctx, n) || cnncam_ctx_set_threads(ctx8, n) ||
                cnncam_ctx_set_threads(ctxm, n))
                printf("error: %s\n", cnncam_ctx_error(ctx));
            else
                printf("ok\n"), threads = n;
        } else if (sscanf(line, "sgemm %d", &n) == 1 && n > 0 && n <= 8192) {
            printf("%.2f\n", sgemm_gflops(n, threads, 0));
        } else if (sscanf(line, "gemm %d", &n) == 1 && n > 0 && n <= 8192) {
            printf("%.2f\n", sgemm_gflops(n, threads, 1));
        } else if (!strcmp(line, "forward") || !strcmp(line, "gradcam") || !strcmp(line, "top5") ||
                   !strcmp(line, "batch8")) {
            cnncam_ctx *c = strcmp(line, "batch8") ? ctx : ctx8;
            double ms = run(c, line, x, classes, h, w, maps);
            if (ms < 0)
                printf("error: %s\n", cnncam_ctx_error(c));
            else
                printf("%.4f\n", ms);
        } else if (!strncmp(line, "method ", 7)) {
            double ms = run_method(ctxm, line + 7, x, h, w, maps, gb);
            if (ms < 0)
                printf("error: %s\n", cnncam_ctx_error(ctxm));
            else
                printf("%.4f\n", ms);
        } else {
            printf("error: unknown command '%s'\n", line);
        }
        fflush(stdout);
    }
    free(x), free(maps), free(gb);
    cnncam_npy_free(tensor);
    cnncam_image_free(rgb);
    cnncam_ctx_free(ctx);
    cnncam_ctx_free(ctxm);
    cnncam_ctx_free(ctx8);
    cnncam_model_free(m);
    return 0;
}
