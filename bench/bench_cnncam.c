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
 *               ceiling where OpenBLAS falls back to older kernels;
 *   peak        the core's multiply-add peak: 24 independent chains of
 *               fused multiply-adds (AVX-512 where the CPU has it, else
 *               AVX2) on each thread; replies GFLOP/s (best of 5);
 *   profile N FILE [IDLE_MS]  N forwards with each node timed (the plan's
 *               profiler), each after IDLE_MS of sleep (default 0: back to
 *               back; the timed runs sleep first, and cold caches cost);
 *               writes "name op ms input output weight" per node (mean ms of
 *               one forward; shapes as 1x64x56x56, "-" for no weight) to
 *               FILE; replies FILE and the mean wall ms of one forward (the
 *               nodes' sum is less by what runs between them). */
#include <cblas.h>
#include <cnncam.h>

#include "api/api_internal.h"
#include "layers/kernels.h"
#include "runtime/parallel.h"

#include <immintrin.h>

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

/* 24 independent chains of n fused multiply-adds each, in named variables
 * (an array of vectors lets the compiler keep them in memory). */
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) \
                  X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define CHAIN_FLOPS(lanes) (2.0 * 24 * (lanes))

/* One function of 24 chains in vectors of type T (its intrinsics' prefix P),
 * returning their sum's first lane (so none is optimised away). */
#define CHAIN_FUNCTION(name, isa, T, P)                                     \
    __attribute__((target(isa))) static float name(long n)                  \
    {                                                                          \
        const T x = P##_set1_ps(0.999999f), y = P##_set1_ps(1e-7f);            \
        CHAINS(DECL_##P)                                                       \
        for (long it = 0; it < n; it++) {                                      \
            CHAINS(STEP_##P)                                                   \
        }                                                                      \
        T s = P##_setzero_ps();                                                \
        CHAINS(SUM_##P)                                                        \
        float o[sizeof(T) / sizeof(float)];                                    \
        P##_storeu_ps(o, s);                                                   \
        return o[0];                                                           \
    }
#define DECL__mm512(i) __m512 a##i = _mm512_set1_ps((float)i);
#define STEP__mm512(i) a##i = _mm512_fmadd_ps(a##i, x, y);
#define SUM__mm512(i) s = _mm512_add_ps(s, a##i);
#define DECL__mm256(i) __m256 a##i = _mm256_set1_ps((float)i);
#define STEP__mm256(i) a##i = _mm256_fmadd_ps(a##i, x, y);
#define SUM__mm256(i) s = _mm256_add_ps(s, a##i);
CHAIN_FUNCTION(chains512, "avx512f", __m512, _mm512)
CHAIN_FUNCTION(chains256, "avx2,fma", __m256, _mm256)

enum { PEAK_ITERS = 20000000 };
static volatile float peak_sink;

static void peak_range(void *arg, size_t lo, size_t hi)
{
    (void)arg;
    for (size_t i = lo; i < hi; i++)
        peak_sink += cc_cpu_avx512() ? chains512(PEAK_ITERS) : chains256(PEAK_ITERS);
}

/* Multiply-adds of every thread of the pool at once, 2 flops each. */
static double peak_gflops(int threads)
{
    double best = 0;
    const int lanes = cc_cpu_avx512() ? 16 : 8;
    cc_set_threads(threads);
    for (int r = 0; r < 5; r++) {
        double t = now_ms();
        cc_parallel((size_t)threads, 1, peak_range, NULL);
        double g = CHAIN_FLOPS(lanes) * PEAK_ITERS * threads / ((now_ms() - t) * 1e6);
        best = g > best ? g : best;
    }
    return best;
}

static void print_shape(FILE *f, const cc_shape *s, const char *end)
{
    for (int i = 0; i < s->rank; i++)
        fprintf(f, i ? "x%d" : "%d", s->d[i]);
    fputs(end, f);
}

/* Each node's mean forward time over n forwards of ctx, each after idle_ms
 * of sleep, to path; *wall: the mean wall time of one forward. */
static int profile(cnncam_ctx *ctx, const float *x, int h, int w, int n, int idle_ms, const char *path,
                   double *wall)
{
    if (cnncam_forward(ctx, x, 1, h, w))   /* planned */
        return -1;
    cc_plan *p = ctx->tape->plan;
    const cc_graph *g = p->graph;
    double *sec = calloc((size_t)g->nnodes, sizeof *sec);
    FILE *f = fopen(path, "w");
    int bad = !sec || !f;
    p->node_seconds = sec;
    *wall = 0;
    for (int i = 0; i < n && !bad; i++) {
        const struct timespec pause = {idle_ms / 1000, (long)(idle_ms % 1000) * 1000000};
        if (idle_ms)
            nanosleep(&pause, NULL);
        const double t0 = now_ms();
        bad = cnncam_forward(ctx, x, 1, h, w) != 0;
        *wall += (now_ms() - t0) / n;
    }
    p->node_seconds = NULL;
    for (int i = 0; i < g->nnodes && !bad; i++) {
        const cc_node *nd = &g->nodes[i];
        if (!nd->op)
            continue;
        fprintf(f, "%s %s %.5f ", nd->name, nd->op->name, 1e3 * sec[i] / n);
        print_shape(f, &p->shape[nd->input[0]], " ");
        print_shape(f, &p->shape[i], " ");
        if (nd->param[0] >= 0)
            print_shape(f, &g->params[nd->param[0]].shape, "\n");
        else
            fputs("-\n", f);
    }
    bad |= f && fclose(f) != 0;
    free(sec);
    return bad ? -1 : 0;
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
    char err[512], line[256], path[201];
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
        } else if (!strcmp(line, "peak")) {
            printf("%.2f\n", peak_gflops(threads));
        } else if (sscanf(line, "profile %d %200s", &n, path) == 2 && n > 0) {
            int idle = 0;
            double wall;
            sscanf(line, "profile %*d %*s %d", &idle);
            if (idle < 0 || idle > 10000)
                printf("error: profile: IDLE_MS %d is not in 0..10000\n", idle);
            else if (profile(ctx, x, h, w, n, idle, path, &wall))
                printf("error: profile: %s\n", cnncam_ctx_error(ctx)[0] ? cnncam_ctx_error(ctx) : "cannot write");
            else
                printf("%s %.3f\n", path, wall);
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
