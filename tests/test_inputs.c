/* tests/test_inputs.c — models that do not take 3-channel images of any size
 * (include/cnncam.h), on small models written here with the weights writer:
 *   gray: 1 channel, conv 1->2 k3 p1, relu, flatten, linear 40->3; it works
 *         at 5x4 only, and the file says so (input.height 5, input.width 4);
 *   rgba: 4 channels, conv 4->2 k1, global average pool, flatten, linear.
 * Checked: the channel count and fixed size the API reports; a forward at
 * another size refused with both sizes named; preprocessing of RGB and RGBA
 * pixels into 1 and 4 channels against Pillow's convert("L") values
 * (red 76, green 150, blue 29, and (0,0,250) -> 28, where Pillow's older
 * (299 R + 587 G + 114 B) / 1000 rounding gives 29) and alpha 255; a
 * conversion that does not exist refused; and the loader refusing bad
 * input.* metadata with a message that names the key. */
#include "cnncam.h"
#include "testutil.h"
#include "weights/model.h"
#include "weights/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { GH = 5, GW = 4, NCLS = 3 };

typedef struct {
    int channels;            /* 0: no input.channels key */
    int height, width;       /* -1: leave the key out */
    int nmean;               /* values of input.mean and input.std (-1: no keys) */
    double std0;             /* input.std[0] */
    const char *channels_as_string;  /* input.channels written as a string instead */
} spec;

static float conv_w[2 * 4 * 9], conv_b[2], fc_w[NCLS * 2 * GH * GW];

static void write_model(const char *path, const spec *s, int rgba)
{
    cc_model_writer *w = cc_writer_create();
    const double mean[4] = {0.5, 0.25, 0.125, 0.375}, std[4] = {s->std0, 0.5, 0.25, 0.75};
    const int C = rgba ? 4 : 1;
    cc_writer_meta_int(w, "classes", NCLS);
    if (s->channels_as_string)
        cc_writer_meta_string(w, "input.channels", s->channels_as_string);
    else if (s->channels)
        cc_writer_meta_int(w, "input.channels", s->channels);
    if (s->height >= 0)
        cc_writer_meta_int(w, "input.height", s->height);
    if (s->width >= 0)
        cc_writer_meta_int(w, "input.width", s->width);
    if (s->nmean >= 0) {
        cc_writer_meta_floats(w, "input.mean", mean, s->nmean);
        cc_writer_meta_floats(w, "input.std", std, s->nmean);
    }
    const double k3[] = {3}, k1[] = {1}, p1[] = {1}, one[] = {1};
    const cc_writer_attr conv_attrs[] = {{"kernel_size", rgba ? k1 : k3, 1}, {"padding", rgba ? one : p1, 1}};
    const cc_writer_attr pool_attrs[] = {{"output_size", one, 1}};
    const cc_writer_attr flat_attrs[] = {{"start_dim", one, 1}};
    const cc_writer_param conv_p[] = {{"weight", "conv.weight"}, {"bias", "conv.bias"}};
    const cc_writer_param fc_p[] = {{"weight", "fc.weight"}};
    cc_writer_tensor(w, "conv.weight", CC_DTYPE_F32, cc_shape4(2, C, rgba ? 1 : 3, rgba ? 1 : 3), conv_w);
    cc_writer_tensor(w, "conv.bias", CC_DTYPE_F32, (cc_shape){1, {2}}, conv_b);
    cc_writer_tensor(w, "fc.weight", CC_DTYPE_F32, cc_shape2(NCLS, rgba ? 2 : 2 * GH * GW), fc_w);
    int x = cc_writer_input(w, "input");
    int conv = cc_writer_node(w, "conv", "conv2d", &x, 1, conv_p, 2, conv_attrs, rgba ? 1 : 2);
    int act = cc_writer_node(w, "relu", "relu", &conv, 1, NULL, 0, NULL, 0);
    if (rgba)
        act = cc_writer_node(w, "pool", "adaptive_avgpool2d", &act, 1, NULL, 0, pool_attrs, 1);
    int flat = cc_writer_node(w, "flatten", "flatten", &act, 1, NULL, 0, flat_attrs, 1);
    cc_writer_node(w, "fc", "linear", &flat, 1, fc_p, 1, NULL, 0);
    cc_error err;
    if (cc_writer_to_file(w, path, &err)) {
        fprintf(stderr, "cannot write %s: %s\n", path, err.msg);
        exit(3);
    }
    cc_writer_free(w);
}

static char path[64];

static cnncam_model *load(const spec *s, int rgba, char *err, size_t len)
{
    write_model(path, s, rgba);
    cnncam_model *m = NULL;
    cnncam_model_load(path, &m, err, len);
    return m;
}

static void gray_model(void)
{
    char err[512];
    const spec s = {1, GH, GW, 1, 0.5, NULL};
    cnncam_model *m = load(&s, 0, err, sizeof err);
    tu_check(m != NULL, "the gray model loads: %s", err);
    if (!m)
        return;
    int h = 0, w = 0;
    tu_check(cnncam_model_channels(m) == 1, "channels %d, want 1", cnncam_model_channels(m));
    tu_check(cnncam_model_input_size(m, &h, &w) == 1 && h == GH && w == GW, "fixed size %dx%d, want %dx%d", h,
             w, GH, GW);
    /* RGB pixels -> Pillow's L (values from Pillow 9.4's convert("L")), normalised with mean 0.5, std 0.5 */
    const unsigned char rgb[GH * GW * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 250, 10, 200, 30};
    const double L[5] = {76, 150, 29, 28, 124};
    float x[GH * GW];
    tu_check(cnncam_preprocess(m, rgb, GW, GH, x) == CNNCAM_OK, "preprocess RGB into 1 channel");
    double want[GH * GW];
    for (int i = 0; i < GH * GW; i++)
        want[i] = ((float)(i < 5 ? L[i] : 0) / 255.0f - 0.5f) / 0.5f;
    tu_close("RGB -> luminance as Pillow's convert(\"L\"), normalised", x, want, GH * GW, 0, 0);
    unsigned char rgba[GH * GW * 4] = {0};
    for (int i = 0; i < GH * GW; i++)
        memcpy(rgba + 4 * i, rgb + 3 * i, 3), rgba[4 * i + 3] = (unsigned char)(7 * i);
    float y[GH * GW];
    tu_check(cnncam_preprocess_pixels(m, rgba, 4, GW, GH, y) == CNNCAM_OK, "preprocess RGBA into 1 channel");
    tu_close("RGBA -> luminance ignores alpha", y, want, GH * GW, 0, 0);
    tu_check(cnncam_preprocess_pixels(m, rgba, 2, GW, GH, y) == CNNCAM_EINVAL,
             "2-channel pixels have no conversion to gray");

    cnncam_ctx *ctx = cnncam_ctx_create(m);
    const char *layer = "relu";
    cnncam_ctx_set_layers(ctx, &layer, 1);
    tu_check(cnncam_forward(ctx, x, 1, GH, GW) == CNNCAM_OK, "forward at the fixed size: %s", cnncam_ctx_error(ctx));
    float big[(GH + 1) * GW] = {0};
    tu_check(cnncam_forward(ctx, big, 1, GH + 1, GW) == CNNCAM_EINVAL, "forward at 6x4 refused");
    const char *msg = cnncam_ctx_error(ctx);
    tu_check(strstr(msg, "5x4") && strstr(msg, "6x4"), "the message names both sizes: '%s'", msg);
    cnncam_ctx_free(ctx);
    cnncam_model_free(m);
}

static void rgba_model(void)
{
    char err[512];
    const spec s = {4, -1, -1, 4, 0.25, NULL};
    cnncam_model *m = load(&s, 1, err, sizeof err);
    tu_check(m != NULL, "the RGBA model loads: %s", err);
    if (!m)
        return;
    int h = 7, w = 7;
    tu_check(cnncam_model_channels(m) == 4, "channels %d, want 4", cnncam_model_channels(m));
    tu_check(cnncam_model_input_size(m, &h, &w) == 0 && h == 7, "no fixed size");
    float mean[4], std[4];
    cnncam_model_channel_normalization(m, mean, std);
    tu_check(mean[3] == 0.375f && std[3] == 0.75f, "channel 3 mean %g std %g", mean[3], std[3]);
    const unsigned char rgb[2 * 3] = {10, 20, 30, 200, 100, 0};
    float x[4 * 2];
    tu_check(cnncam_preprocess(m, rgb, 2, 1, x) == CNNCAM_OK, "preprocess RGB into RGBA");
    double want[8];
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < 2; i++)
            want[c * 2 + i] = ((float)(c < 3 ? rgb[3 * i + c] : 255) / 255.0f - mean[c]) / std[c];
    tu_close("RGB -> RGBA: alpha 255", x, want, 8, 0, 0);
    cnncam_ctx *ctx = cnncam_ctx_create(m);
    const char *layer = "relu";
    cnncam_ctx_set_layers(ctx, &layer, 1);
    tu_check(cnncam_forward(ctx, x, 1, 1, 2) == CNNCAM_OK && cnncam_forward(ctx, x, 1, 2, 1) == CNNCAM_OK,
             "any size: %s", cnncam_ctx_error(ctx));
    cnncam_ctx_free(ctx);
    cnncam_model_free(m);
}

static void bad_metadata(void)
{
    static const struct { spec s; const char *says[2]; } cases[] = {
        {{0, -1, -1, 1, 0.5, NULL}, {"input.mean", "3"}},           /* absent channels = 3, one mean */
        {{65, -1, -1, 1, 0.5, NULL}, {"input.channels", "65"}},
        {{-2, -1, -1, 1, 0.5, NULL}, {"input.channels", "1 to 64"}},
        {{1, -1, -1, 1, 0.5, "1"}, {"input.channels", "type"}},
        {{1, 5, -1, 1, 0.5, NULL}, {"input.height", "input.width"}},
        {{1, 0, 4, 1, 0.5, NULL}, {"input.height", "1 to 16384"}},
        {{1, 5, 16385, 1, 0.5, NULL}, {"input.width", "16385"}},
        {{1, -1, -1, 3, 0.5, NULL}, {"input.mean", "3 values"}},
        {{1, -1, -1, -1, 0.5, NULL}, {"input.mean", "absent"}},
        {{1, -1, -1, 1, 0.0, NULL}, {"input.std", "positive"}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char err[512] = "";
        cnncam_model *m = load(&cases[k].s, 0, err, sizeof err);
        tu_check(!m && strstr(err, cases[k].says[0]) && strstr(err, cases[k].says[1]),
                 "bad input metadata %zu refused naming '%s' and '%s': %s", k, cases[k].says[0], cases[k].says[1],
                 m ? "it loaded" : err);
        cnncam_model_free(m);
    }
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/cnncam-test-inputs-%d.ccm", (int)getpid());
    tu_rng rng = {5};
    for (size_t i = 0; i < sizeof conv_w / sizeof *conv_w; i++)
        conv_w[i] = (float)tu_uniform(&rng, -1, 1);
    for (size_t i = 0; i < sizeof fc_w / sizeof *fc_w; i++)
        fc_w[i] = (float)tu_uniform(&rng, -1, 1);
    gray_model();
    rgba_model();
    bad_metadata();
    unlink(path);
    return tu_finish("inputs");
}
