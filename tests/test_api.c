/* tests/test_api.c — include/cnncam.h as a C user meets it, on a small model
 * written here with the weights writer:
 *   features.0 conv 3->6 k3 p1, features.1 relu, features.2 conv 6->8 k3 s2 p1,
 *   features.3 relu ("features" names it), avgpool (global), flatten,
 *   classifier linear 8->4.
 * Since the head is a global average pool and a linear layer, dy^c/dA at
 * "features" is exactly W[c,k] / (h*w) everywhere: a hand-derived reference
 * for the gradient and the channel weights. Also: class lookup, errors and
 * their messages, call order, batches equal one-by-one runs, several classes
 * after one forward, and four threads sharing one model giving bit-identical
 * maps. */
#include "cnncam.h"
#include "testutil.h"
#include "weights/model.h"
#include "weights/writer.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { C1 = 6, C2 = 8, NCLS = 4, H = 13, W = 11 };
static const char *const LABELS[NCLS] = {"tabby, tabby cat", "dog", "crane", "crane"};
static char model_path[64];

static float conv1_w[C1 * 3 * 9], conv1_b[C1], conv2_w[C2 * C1 * 9], fc_w[NCLS * C2], fc_b[NCLS];

static void write_model(void)
{
    tu_rng rng = {77};
    float *all[] = {conv1_w, conv1_b, conv2_w, fc_w, fc_b};
    const size_t sizes[] = {C1 * 3 * 9, C1, C2 * C1 * 9, NCLS * C2, NCLS};
    for (int t = 0; t < 5; t++)
        for (size_t i = 0; i < sizes[t]; i++)
            all[t][i] = (float)tu_uniform(&rng, -0.5, 0.5);
    cc_model_writer *w = cc_writer_create();
    const double mean[3] = {0.485, 0.456, 0.406}, std[3] = {0.229, 0.224, 0.225};
    cc_writer_meta_string(w, "arch", "api-test");
    cc_writer_meta_int(w, "classes", NCLS);
    cc_writer_meta_strings(w, "labels", LABELS, NCLS);
    cc_writer_meta_string(w, "output", "sigmoid");
    cc_writer_meta_floats(w, "input.mean", mean, 3);
    cc_writer_meta_floats(w, "input.std", std, 3);
    cc_writer_meta_string(w, "gradcam.layer", "features");
    cc_writer_tensor(w, "features.0.weight", CC_DTYPE_F32, cc_shape4(C1, 3, 3, 3), conv1_w);
    cc_writer_tensor(w, "features.0.bias", CC_DTYPE_F32, (cc_shape){1, {C1}}, conv1_b);
    cc_writer_tensor(w, "features.2.weight", CC_DTYPE_F32, cc_shape4(C2, C1, 3, 3), conv2_w);
    cc_writer_tensor(w, "classifier.weight", CC_DTYPE_F32, cc_shape2(NCLS, C2), fc_w);
    cc_writer_tensor(w, "classifier.bias", CC_DTYPE_F32, (cc_shape){1, {NCLS}}, fc_b);
    const double k3[] = {3}, p1[] = {1}, s2[] = {2}, one[] = {1};
    const cc_writer_attr conv1_attrs[] = {{"kernel_size", k3, 1}, {"padding", p1, 1}};
    const cc_writer_attr conv2_attrs[] = {{"kernel_size", k3, 1}, {"padding", p1, 1}, {"stride", s2, 1}};
    const cc_writer_attr pool_attrs[] = {{"output_size", one, 1}};
    const cc_writer_attr flat_attrs[] = {{"start_dim", one, 1}};
    const cc_writer_param conv1_p[] = {{"weight", "features.0.weight"}, {"bias", "features.0.bias"}};
    const cc_writer_param conv2_p[] = {{"weight", "features.2.weight"}};
    const cc_writer_param fc_p[] = {{"weight", "classifier.weight"}, {"bias", "classifier.bias"}};
    int x = cc_writer_input(w, "input");
    int c1 = cc_writer_node(w, "features.0", "conv2d", &x, 1, conv1_p, 2, conv1_attrs, 2);
    int r1 = cc_writer_node(w, "features.1", "relu", &c1, 1, NULL, 0, NULL, 0);
    int c2 = cc_writer_node(w, "features.2", "conv2d", &r1, 1, conv2_p, 1, conv2_attrs, 3);
    int r2 = cc_writer_node(w, "features.3", "relu", &c2, 1, NULL, 0, NULL, 0);
    int pool = cc_writer_node(w, "avgpool", "adaptive_avgpool2d", &r2, 1, NULL, 0, pool_attrs, 1);
    int flat = cc_writer_node(w, "flatten", "flatten", &pool, 1, NULL, 0, flat_attrs, 1);
    int fc = cc_writer_node(w, "classifier", "linear", &flat, 1, fc_p, 2, NULL, 0);
    cc_writer_output(w, fc);
    cc_writer_alias(w, "features", r2);
    snprintf(model_path, sizeof model_path, "/tmp/cnncam-test-api-%d.ccm", (int)getpid());
    cc_error err;
    if (cc_writer_to_file(w, model_path, &err)) {
        fprintf(stderr, "cannot write the test model: %s\n", err.msg);
        exit(3);
    }
    cc_writer_free(w);
}

static unsigned char *photo(int seed)
{
    unsigned char *rgb = tu_alloc((size_t)H * W * 3);
    tu_rng rng = {(uint64_t)seed};
    for (int i = 0; i < H * W * 3; i++)
        rgb[i] = (unsigned char)(tu_next(&rng) & 255);
    return rgb;
}

static void check_model_queries(const cnncam_model *m)
{
    char err[256];
    tu_check(cnncam_model_classes(m) == NCLS, "classes %d", cnncam_model_classes(m));
    tu_check(!strcmp(cnncam_model_label(m, 1), "dog") && !cnncam_model_label(m, 4) && !cnncam_model_label(m, -1),
             "labels");
    tu_check(cnncam_model_multi_label(m) == 1 && !strcmp(cnncam_model_output(m), "sigmoid"),
             "output 'sigmoid': multi-label, cnncam_model_output '%s'", cnncam_model_output(m));
    tu_check(cnncam_model_find_class(m, "2", err, sizeof err) == 2, "class by index");
    tu_check(cnncam_model_find_class(m, "Tabby", err, sizeof err) == 0, "class by synonym, any case");
    tu_check(cnncam_model_find_class(m, "tabby, tabby cat", err, sizeof err) == 0, "class by full label");
    tu_check(cnncam_model_find_class(m, "crane", err, sizeof err) == -2 && strstr(err, "2 'crane', 3 'crane'"),
             "ambiguous class: %s", err);
    tu_check(cnncam_model_find_class(m, "4", err, sizeof err) == -1 && strstr(err, "out of range"),
             "class out of range: %s", err);
    tu_check(cnncam_model_find_class(m, "cat", err, sizeof err) == -1 && strstr(err, "no class"),
             "unknown class: %s", err);
    tu_check(cnncam_model_has_layer(m, "features.2") && cnncam_model_has_layer(m, "features") &&
                 cnncam_model_has_layer(m, "input") && !cnncam_model_has_layer(m, "features.9"),
             "has_layer");
    tu_check(!strcmp(cnncam_model_default_layer(m), "features"), "default layer");
    float mean[3], std[3];
    cnncam_model_normalization(m, mean, std);
    tu_check(mean[1] == 0.456f && std[2] == 0.225f, "normalisation");

    /* (u8 / 255 - mean) / std, each step in float32, as torchvision. */
    unsigned char *rgb = photo(1);
    float *x = tu_alloc(sizeof(float) * 3 * H * W);
    tu_check(cnncam_preprocess(m, rgb, W, H, x) == CNNCAM_OK, "preprocess");
    int same = 1;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < H * W; i++) {
            volatile float v = (float)rgb[i * 3 + c] / 255.0f;
            v = v - mean[c];
            v = v / std[c];
            same &= x[c * H * W + i] == v;
        }
    tu_check(same, "preprocess is (u8 / 255 - mean) / std in float32");
    free(rgb);
    free(x);
}

static void check_errors(const cnncam_model *m)
{
    cnncam_ctx *ctx = cnncam_ctx_create(m);
    float map[H * W];
    int c = 0;
    tu_check(cnncam_gradcam(ctx, &c, map) == CNNCAM_ESTATE && strstr(cnncam_ctx_error(ctx), "forward first"),
             "gradcam before forward: %s", cnncam_ctx_error(ctx));
    const char *bad[1] = {"features.9"};
    tu_check(cnncam_ctx_set_layers(ctx, bad, 1) == CNNCAM_EINVAL &&
                 strstr(cnncam_ctx_error(ctx), "nearest: features"),
             "unknown layer: %s", cnncam_ctx_error(ctx));
    const char *logits[1] = {"classifier"};
    tu_check(cnncam_ctx_set_layers(ctx, logits, 1) == CNNCAM_EINVAL, "the logits as a layer");
    const char *flat[1] = {"flatten"};
    float *x = tu_alloc(sizeof(float) * 3 * H * W);
    tu_check(cnncam_ctx_set_layers(ctx, flat, 1) == CNNCAM_OK && cnncam_forward(ctx, x, 1, H, W) == CNNCAM_EINVAL &&
                 strstr(cnncam_ctx_error(ctx), "is no spatial map"),
             "a rank-2 layer: %s", cnncam_ctx_error(ctx));
    const char *good[1] = {"features"};
    cnncam_ctx_set_layers(ctx, good, 1);
    tu_check(cnncam_forward(ctx, x, 1, 0, W) == CNNCAM_EINVAL, "empty input");
    tu_check(cnncam_forward(ctx, x, 1, 2, 2) == CNNCAM_OK, "a 2x2 input plans");
    c = NCLS;
    tu_check(cnncam_gradcam(ctx, &c, map) == CNNCAM_EINVAL && strstr(cnncam_ctx_error(ctx), "out of range"),
             "class out of range: %s", cnncam_ctx_error(ctx));
    tu_check(cnncam_ctx_set_threads(ctx, 0) == CNNCAM_EINVAL, "zero threads");
    unsigned char rgb[12] = {0}, out[12];
    tu_check(cnncam_overlay(rgb, 2, 2, map, CNNCAM_OVERLAY_CLEAN, 1.5f, out) == CNNCAM_EINVAL, "alpha > 1");
    char err[256];
    cnncam_model *none;
    tu_check(cnncam_model_load("/nonexistent.ccm", &none, err, sizeof err) != CNNCAM_OK && !none &&
                 strstr(err, "/nonexistent.ccm"),
             "missing model: %s", err);
    free(x);
    cnncam_ctx_free(ctx);
}

/* Every public function given a NULL handle or pointer (or a bad value)
 * returns a status, 0, -1 or NULL as include/cnncam.h says, never crashes;
 * where there is a place for a message (the context, err), it names the
 * argument. */
static void check_null_arguments(const cnncam_model *m)
{
    char err[256] = "";
    float map[H * W], mean[3] = {-1, -1, -1}, std[3] = {-1, -1, -1};
    int c = 0, a = -7, b = -7, d = -7, resize = -7, crop = -7;
    const char *interp = NULL;
    tu_check(cnncam_model_load(model_path, NULL, err, sizeof err) == CNNCAM_EINVAL && strstr(err, "out is NULL"),
             "model_load(out NULL): %s", err);
    tu_check(cnncam_model_load(model_path, NULL, NULL, 0) == CNNCAM_EINVAL, "model_load(out NULL, err NULL)");
    cnncam_model_free(NULL);
    tu_check(cnncam_model_classes(NULL) == 0 && !cnncam_model_label(NULL, 0) && cnncam_model_multi_label(NULL) == 0 &&
                 !cnncam_model_output(NULL) && !cnncam_model_default_layer(NULL) &&
                 !cnncam_model_has_layer(NULL, "features") && !cnncam_model_has_layer(m, NULL) &&
                 cnncam_model_channels(NULL) == 0,
             "model queries on NULL: 0 or NULL");
    tu_check(cnncam_model_find_class(NULL, "dog", err, sizeof err) == -1 && strstr(err, "model is NULL"),
             "find_class(NULL model): %s", err);
    tu_check(cnncam_model_find_class(m, NULL, err, sizeof err) == -1 && strstr(err, "class name is NULL"),
             "find_class(NULL name): %s", err);
    tu_check(cnncam_model_find_class(m, "hippogriff", NULL, 100) == -1 && cnncam_model_find_class(m, "dog", NULL, 9) == 1,
             "find_class with err NULL but errlen 100 writes nothing");
    char buf[64] = "x";
    cnncam_model_suggest_layers(NULL, "features", buf, sizeof buf);
    cnncam_model_suggest_layers(m, "features", NULL, 64);
    tu_check(buf[0] == 0, "suggest_layers(NULL model) gives \"\"");
    cnncam_model_normalization(NULL, mean, std);
    cnncam_model_normalization(m, NULL, NULL);
    cnncam_model_channel_normalization(NULL, mean, std);
    cnncam_model_channel_normalization(m, NULL, std);
    tu_check(mean[0] == -1 && std[0] == -1, "normalization(NULL model) leaves its outputs alone");
    tu_check(!cnncam_model_input_size(NULL, &a, &b) && !cnncam_model_input_size(m, NULL, NULL) && a == -7,
             "input_size with NULLs: 0");
    tu_check(!cnncam_model_eval_recipe(NULL, &resize, &crop, &interp) && !cnncam_model_eval_recipe(m, NULL, NULL, NULL),
             "eval_recipe with NULLs: 0");
    unsigned char rgb[3 * H * W] = {0}, out[3 * H * W];
    float *x = tu_alloc(sizeof(float) * 3 * H * W);
    tu_check(cnncam_preprocess(NULL, rgb, W, H, x) == CNNCAM_EINVAL && cnncam_preprocess(m, NULL, W, H, x) == CNNCAM_EINVAL &&
                 cnncam_preprocess(m, rgb, W, H, NULL) == CNNCAM_EINVAL &&
                 cnncam_preprocess_pixels(NULL, rgb, 3, W, H, x) == CNNCAM_EINVAL,
             "preprocess with NULLs: CNNCAM_EINVAL");
    tu_check(!cnncam_ctx_create(NULL), "ctx_create(NULL): NULL");
    cnncam_ctx_free(NULL);
    tu_check(strstr(cnncam_ctx_error(NULL), "NULL") != NULL, "ctx_error(NULL): %s", cnncam_ctx_error(NULL));
    const char *layers[1] = {"features"};
    tu_check(cnncam_ctx_set_layers(NULL, layers, 1) == CNNCAM_EINVAL && cnncam_ctx_set_threads(NULL, 2) == CNNCAM_EINVAL &&
                 cnncam_ctx_threads(NULL) == 0 && cnncam_forward(NULL, x, 1, H, W) == CNNCAM_EINVAL &&
                 cnncam_gradcam(NULL, &c, map) == CNNCAM_EINVAL && !cnncam_logits(NULL, 0) && cnncam_top_class(NULL, 0) == -1 &&
                 cnncam_layer_shape(NULL, 0, &a, &b, &d) == CNNCAM_EINVAL && !cnncam_activation(NULL, 0, 0) &&
                 !cnncam_gradient(NULL, 0, 0) && !cnncam_channel_weights(NULL, 0, 0) && !cnncam_raw_map(NULL, 0, 0),
             "context functions on a NULL context: CNNCAM_EINVAL, 0, -1 or NULL");
    cnncam_ctx *ctx = cnncam_ctx_create(m);
    tu_check(cnncam_ctx_set_layers(ctx, NULL, 1) == CNNCAM_EINVAL && strstr(cnncam_ctx_error(ctx), "layers is NULL"),
             "set_layers(NULL): %s", cnncam_ctx_error(ctx));
    tu_check(cnncam_forward(ctx, NULL, 1, H, W) == CNNCAM_EINVAL, "forward(NULL input)");
    tu_check(cnncam_forward(ctx, x, 1, 1 << 20, 1 << 20) != CNNCAM_OK, "forward of a 2^20 x 2^20 input is refused: %s",
             cnncam_ctx_error(ctx));
    cnncam_preprocess(m, rgb, W, H, x);
    tu_check(cnncam_forward(ctx, x, 1, H, W) == CNNCAM_OK, "forward after the refusals");
    tu_check(cnncam_gradcam(ctx, NULL, map) == CNNCAM_EINVAL && strstr(cnncam_ctx_error(ctx), "classes is NULL"),
             "gradcam(classes NULL): %s", cnncam_ctx_error(ctx));
    tu_check(cnncam_gradcam(ctx, &c, NULL) == CNNCAM_EINVAL && strstr(cnncam_ctx_error(ctx), "maps is NULL"),
             "gradcam(maps NULL): %s", cnncam_ctx_error(ctx));
    tu_check(cnncam_layer_shape(ctx, 0, NULL, &b, &d) == CNNCAM_EINVAL, "layer_shape(channels NULL)");
    tu_check(cnncam_gradcam(ctx, &c, map) == CNNCAM_OK, "gradcam after the refusals: %s", cnncam_ctx_error(ctx));
    cnncam_ctx_free(ctx);
    unsigned char *px = (unsigned char *)&a;
    tu_check(cnncam_image_read("assets/images/kite.png", 0, NULL, &a, &b, err, sizeof err) == CNNCAM_EINVAL &&
                 strstr(err, "rgb, width and height"),
             "image_read(rgb NULL): %s", err);
    tu_check(cnncam_image_read(NULL, 0, &px, &a, &b, err, sizeof err) != CNNCAM_OK && !px, "image_read(path NULL): %s",
             err);
    tu_check(cnncam_image_read_channels("assets/images/kite.png", 0, 1, &px, NULL, &b, NULL, 0) == CNNCAM_EINVAL,
             "image_read_channels(width NULL)");
    tu_check(cnncam_image_write(NULL, rgb, W, H, err, sizeof err) == CNNCAM_EINVAL &&
                 cnncam_image_write("/tmp/never.png", NULL, W, H, err, sizeof err) == CNNCAM_EINVAL,
             "image_write with NULLs");
    cnncam_image_free(NULL);
    tu_check(cnncam_overlay(NULL, W, H, map, CNNCAM_OVERLAY_CLEAN, 0.5f, out) == CNNCAM_EINVAL &&
                 cnncam_overlay(rgb, W, H, NULL, CNNCAM_OVERLAY_CLEAN, 0.5f, out) == CNNCAM_EINVAL &&
                 cnncam_overlay(rgb, W, H, map, CNNCAM_OVERLAY_CLEAN, 0.5f, NULL) == CNNCAM_EINVAL &&
                 cnncam_overlay(rgb, W, H, map, (cnncam_overlay_mode)7, 0.5f, out) == CNNCAM_EINVAL,
             "overlay with NULLs or an unknown mode");
    free(x);
}

/* The gradient at "features" is W[c,k] / (h*w): the head is a mean and a linear map. */
static void check_gradients(const cnncam_model *m)
{
    cnncam_ctx *ctx = cnncam_ctx_create(m);
    unsigned char *rgb = photo(2);
    float *x = tu_alloc(sizeof(float) * 3 * H * W), map[H * W];
    cnncam_preprocess(m, rgb, W, H, x);
    cnncam_forward(ctx, x, 1, H, W);
    int C, h, w;
    cnncam_layer_shape(ctx, 0, &C, &h, &w);
    tu_check(C == C2 && h == 7 && w == 6, "features is %dx%dx%d, expected 8x7x6", C, h, w);
    for (int c = 0; c < NCLS; c++) {
        tu_check(cnncam_gradcam(ctx, &c, map) == CNNCAM_OK, "gradcam class %d", c);
        const float *g = cnncam_gradient(ctx, 0, 0), *alpha = cnncam_channel_weights(ctx, 0, 0);
        double *want = tu_alloc(sizeof(double) * C * h * w), want_alpha[C2];
        for (int k = 0; k < C; k++) {
            want_alpha[k] = (double)fc_w[c * C2 + k] / (h * w);
            for (int i = 0; i < h * w; i++)
                want[k * h * w + i] = want_alpha[k];
        }
        char what[64];
        snprintf(what, sizeof what, "dy%d/dA at features", c);
        tu_close(what, g, want, (size_t)C * h * w, 1e-7, 1e-6);
        snprintf(what, sizeof what, "channel weights of class %d", c);
        tu_close(what, alpha, want_alpha, C, 1e-7, 1e-6);
        /* The raw map is ReLU(sum_k alpha_k A_k) over the activations the API reports. */
        const float *A = cnncam_activation(ctx, 0, 0), *raw = cnncam_raw_map(ctx, 0, 0);
        double want_raw[7 * 6];
        for (int i = 0; i < h * w; i++) {
            double s = 0;
            for (int k = 0; k < C; k++)
                s += want_alpha[k] * A[k * h * w + i];
            want_raw[i] = s > 0 ? s : 0;
        }
        snprintf(what, sizeof what, "raw map of class %d", c);
        tu_close(what, raw, want_raw, (size_t)h * w, 1e-6, 1e-5);
        float lo = map[0], hi = map[0];
        for (int i = 0; i < H * W; i++)
            lo = map[i] < lo ? map[i] : lo, hi = map[i] > hi ? map[i] : hi;
        tu_check(lo >= 0 && (hi == 0 || (hi > 0.9999f && hi < 1)), "class %d map spans [%g, %g]", c, lo, hi);
        free(want);
    }
    free(rgb);
    free(x);
    cnncam_ctx_free(ctx);
}

/* A batch of two equals two runs of one; classes after one forward equal fresh forwards. */
static void check_batches(const cnncam_model *m)
{
    cnncam_ctx *ctx = cnncam_ctx_create(m);
    float *x = tu_alloc(sizeof(float) * 2 * 3 * H * W), maps[2 * H * W], one[H * W];
    for (int i = 0; i < 2; i++) {
        unsigned char *rgb = photo(10 + i);
        cnncam_preprocess(m, rgb, W, H, x + (size_t)i * 3 * H * W);
        free(rgb);
    }
    const int classes[2] = {1, 3};
    cnncam_forward(ctx, x, 2, H, W);
    cnncam_gradcam(ctx, classes, maps);
    for (int i = 0; i < 2; i++) {
        cnncam_forward(ctx, x + (size_t)i * 3 * H * W, 1, H, W);
        cnncam_gradcam(ctx, &classes[i], one);
        tu_check(!memcmp(one, maps + (size_t)i * H * W, sizeof one), "batch image %d differs from its own run", i);
    }
    /* After one forward, class 0 then class 2 equals class 2 after a fresh forward. */
    int c0 = 0, c2 = 2;
    cnncam_forward(ctx, x, 1, H, W);
    cnncam_gradcam(ctx, &c0, one);
    cnncam_gradcam(ctx, &c2, one);
    cnncam_forward(ctx, x, 1, H, W);
    cnncam_gradcam(ctx, &c2, maps);
    tu_check(!memcmp(one, maps, sizeof one), "second class after one forward differs from a fresh run");
    free(x);
    cnncam_ctx_free(ctx);
}

typedef struct {
    const cnncam_model *m;
    const float *x;
    float map[H * W];
    int ok;
} worker;

static void *work(void *arg)
{
    worker *wk = arg;
    cnncam_ctx *ctx = cnncam_ctx_create(wk->m);
    wk->ok = ctx != NULL;
    for (int r = 0; r < 20 && wk->ok; r++) {
        int c = r % NCLS;
        wk->ok = !cnncam_forward(ctx, wk->x, 1, H, W) && !cnncam_gradcam(ctx, &c, wk->map);
    }
    cnncam_ctx_free(ctx);
    return NULL;
}

/* Four threads, four contexts, one model: each ends with class 3's map, bit-identical. */
static void check_threads(const cnncam_model *m)
{
    unsigned char *rgb = photo(3);
    float *x = tu_alloc(sizeof(float) * 3 * H * W), want[H * W];
    cnncam_preprocess(m, rgb, W, H, x);
    cnncam_ctx *ctx = cnncam_ctx_create(m);
    int c = 3;
    cnncam_forward(ctx, x, 1, H, W);
    cnncam_gradcam(ctx, &c, want);
    cnncam_ctx_free(ctx);
    worker wk[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        wk[i] = (worker){.m = m, .x = x};
        pthread_create(&t[i], NULL, work, &wk[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        tu_check(wk[i].ok && !memcmp(wk[i].map, want, sizeof want), "thread %d's map differs", i);
    }
    free(rgb);
    free(x);
}

/* ---- the final map, by hand, on a non-square model ----
 * input 3 x 9 x 14 -> features: conv 1x1 stride 3, weights [[1,0,0],[0,1,1]],
 * no bias (A0 = x0, A1 = x1 + x2 at rows and columns 0, 3, 6, ...: 3 x 5)
 * -> global average pool -> linear 2 -> 2, row 0 = [1.5, -3].
 * For class 0: dy/dA_k = L[0,k] / 15, so alpha = [0.1, -0.2], and with
 *   A0 = [[0,2,4,6,8],[1,3,5,9,7],[2,2,2,2,2]], A1 = [[0,0,1,1,0],[0,1,3,0,0],[2,0,0,0,1]]
 * the raw map ReLU(0.1 A0 - 0.2 A1) = K / 10 and its min-max K / 9 with
 *   K = [[0,2,2,4,8],[1,1,0,9,7],[0,2,2,2,0]].
 * The map is then resized to 9 x 14 with half-pixel bilinear interpolation
 * (the source coordinate of output pixel d is (d + 0.5) * n / N - 0.5, clamped
 * to the source) and min-max normalised once more (README: the reference's
 * numerics); both computed below in double from that definition alone. The
 * peak lies between output pixels (no output column lands on source column
 * 3), so the resized map tops out below 1 and the last min-max shows. */
enum { MH = 9, MW = 14, MC = 2, Mh = 3, Mw = 5 };
static const double MAP_A0[Mh * Mw] = {0, 2, 4, 6, 8, 1, 3, 5, 9, 7, 2, 2, 2, 2, 2};
static const double MAP_A1[Mh * Mw] = {0, 0, 1, 1, 0, 0, 1, 3, 0, 0, 2, 0, 0, 0, 1};
static const double MAP_K[Mh * Mw] = {0, 2, 2, 4, 8, 1, 1, 0, 9, 7, 0, 2, 2, 2, 0};

static void write_map_model(const char *path)
{
    static const float sel_w[MC * 3] = {1, 0, 0, 0, 1, 1}, head_w[2 * MC] = {1.5f, -3, -0.75f, 1.5f};
    cc_model_writer *w = cc_writer_create();
    cc_writer_meta_int(w, "classes", 2);
    cc_writer_meta_string(w, "gradcam.layer", "features");
    cc_writer_tensor(w, "features.weight", CC_DTYPE_F32, cc_shape4(MC, 3, 1, 1), sel_w);
    cc_writer_tensor(w, "fc.weight", CC_DTYPE_F32, cc_shape2(2, MC), head_w);
    const double k1[] = {1}, s3[] = {3}, one[] = {1};
    const cc_writer_attr conv_attrs[] = {{"kernel_size", k1, 1}, {"stride", s3, 1}};
    const cc_writer_attr pool_attrs[] = {{"output_size", one, 1}}, flat_attrs[] = {{"start_dim", one, 1}};
    const cc_writer_param conv_p[] = {{"weight", "features.weight"}}, fc_p[] = {{"weight", "fc.weight"}};
    int x = cc_writer_input(w, "input");
    int conv = cc_writer_node(w, "features", "conv2d", &x, 1, conv_p, 1, conv_attrs, 2);
    int pool = cc_writer_node(w, "avgpool", "adaptive_avgpool2d", &conv, 1, NULL, 0, pool_attrs, 1);
    int flat = cc_writer_node(w, "flatten", "flatten", &pool, 1, NULL, 0, flat_attrs, 1);
    cc_writer_output(w, cc_writer_node(w, "fc", "linear", &flat, 1, fc_p, 1, NULL, 0));
    cc_error err;
    if (cc_writer_to_file(w, path, &err)) {
        fprintf(stderr, "cannot write the map test model: %s\n", err.msg);
        exit(3);
    }
    cc_writer_free(w);
}

/* Half-pixel bilinear, n x m -> N x M, from the definition (not the library's code). */
static void bilinear_reference(double *out, int N, int M, const double *src, int n, int m)
{
    for (int y = 0; y < N; y++)
        for (int x = 0; x < M; x++) {
            double sy = (y + 0.5) * n / N - 0.5, sx = (x + 0.5) * m / M - 0.5;
            sy = sy < 0 ? 0 : sy > n - 1 ? n - 1 : sy;
            sx = sx < 0 ? 0 : sx > m - 1 ? m - 1 : sx;
            int y0 = (int)sy, x0 = (int)sx, y1 = y0 + (y0 < n - 1), x1 = x0 + (x0 < m - 1);
            double fy = sy - y0, fx = sx - x0;
            out[y * M + x] = (1 - fy) * ((1 - fx) * src[y0 * m + x0] + fx * src[y0 * m + x1]) +
                             fy * ((1 - fx) * src[y1 * m + x0] + fx * src[y1 * m + x1]);
        }
}

static void check_final_map(void)
{
    char path[64], err[256];
    snprintf(path, sizeof path, "/tmp/cnncam-test-api-map-%d.ccm", (int)getpid());
    write_map_model(path);
    cnncam_model *m;
    if (cnncam_model_load(path, &m, err, sizeof err)) {
        tu_check(0, "loading the map test model: %s", err);
        unlink(path);
        return;
    }
    /* The stride-3 conv reads only rows and columns 0, 3, 6, ...: noise everywhere
     * else must not matter, and x1 + x2 splits A1 in two random parts. */
    float *x = tu_alloc(sizeof(float) * 3 * MH * MW), map[MH * MW];
    tu_rng rng = {909};
    for (int i = 0; i < 3 * MH * MW; i++)
        x[i] = (float)tu_uniform(&rng, -5, 5);
    for (int i = 0; i < Mh; i++)
        for (int j = 0; j < Mw; j++) {
            const int at = 3 * i * MW + 3 * j;
            const float part = (float)(int)tu_uniform(&rng, -4, 4);
            x[at] = (float)MAP_A0[i * Mw + j];
            x[MH * MW + at] = (float)MAP_A1[i * Mw + j] - part;
            x[2 * MH * MW + at] = part;
        }
    cnncam_ctx *ctx = cnncam_ctx_create(m);
    int c = 0, C, h, w;
    tu_check(cnncam_forward(ctx, x, 1, MH, MW) == CNNCAM_OK && cnncam_gradcam(ctx, &c, map) == CNNCAM_OK,
             "map model: forward and gradcam: %s", cnncam_ctx_error(ctx));
    cnncam_layer_shape(ctx, 0, &C, &h, &w);
    tu_check(C == MC && h == Mh && w == Mw, "map model: features is %dx%dx%d, expected 2x3x5", C, h, w);
    if (C == MC && h == Mh && w == Mw) {
        double act[MC * Mh * Mw], raw[Mh * Mw], norm[Mh * Mw], up[MH * MW];
        const double alpha[MC] = {0.1, -0.2};
        for (int i = 0; i < Mh * Mw; i++) {
            act[i] = MAP_A0[i], act[Mh * Mw + i] = MAP_A1[i];
            raw[i] = MAP_K[i] / 10;
            norm[i] = MAP_K[i] / 9;
        }
        tu_close("map model: A", cnncam_activation(ctx, 0, 0), act, MC * Mh * Mw, 0, 0);
        tu_close("map model: channel weights [0.1, -0.2]", cnncam_channel_weights(ctx, 0, 0), alpha, MC, 1e-8, 1e-7);
        tu_close("map model: raw map K / 10", cnncam_raw_map(ctx, 0, 0), raw, Mh * Mw, 1e-7, 1e-6);
        bilinear_reference(up, MH, MW, norm, Mh, Mw);
        double lo = up[0], hi = up[0];
        for (int i = 0; i < MH * MW; i++)
            lo = up[i] < lo ? up[i] : lo, hi = up[i] > hi ? up[i] : hi;
        for (int i = 0; i < MH * MW; i++)
            up[i] = (up[i] - lo) / (hi - lo + 1e-7);
        double worst = tu_close("map model: the 9x14 map, every pixel", map, up, MH * MW, 2e-6, 0);
        printf("map model: 9x14 map from a 3x5 layer, max |diff| %.3g against the hand-derived map\n", worst);
    }
    free(x);
    cnncam_ctx_free(ctx);
    cnncam_model_free(m);
    unlink(path);
}

int main(void)
{
    write_model();
    char err[256];
    cnncam_model *m;
    if (cnncam_model_load(model_path, &m, err, sizeof err)) {
        fprintf(stderr, "FAIL loading the test model: %s\n", err);
        return 1;
    }
    check_model_queries(m);
    check_errors(m);
    check_null_arguments(m);
    check_gradients(m);
    check_batches(m);
    check_threads(m);
    check_final_map();
    cnncam_model_free(m);
    unlink(model_path);
    return tu_finish("api");
}
