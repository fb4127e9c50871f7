/* tools/cmd_cam.c — `cnncam cam` and `cnncam predict`: images in, predictions,
 * Grad-CAM maps, overlays and tensors out. Every output is written atomically
 * (temporary file + rename), so a failure never leaves a half-written file.
 * A failing image is reported and the others still run; the exit code then
 * says something failed. */
#include "cam_options.h"
#include "cli.h"
#include "cnncam.h"
#include "image/channels.h"
#include "io/image.h"
#include "io/npy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* "base.ext" with ".part" segments inserted before the extension. */
static void output_name(char *buf, size_t len, const char *base, const char *image_part, int cls)
{
    const char *slash = strrchr(base, '/');
    const char *dot = strrchr(base, '.');
    if (!dot || (slash && dot < slash))
        dot = base + strlen(base);
    char cls_part[32] = "";
    if (cls >= 0)
        snprintf(cls_part, sizeof cls_part, ".c%d", cls);
    snprintf(buf, len, "%.*s%s%s%s%s", (int)(dot - base), base, image_part ? "." : "",
             image_part ? image_part : "", cls_part, dot);
}

/* The name an image contributes to output names: its file stem, or its
 * position when two inputs share a stem. */
static void image_parts(const cam_options *o, char (*part)[64])
{
    int clash = 0;
    for (int i = 0; i < o->nimages; i++) {
        const char *s = strrchr(o->images[i], '/');
        s = s ? s + 1 : o->images[i];
        const char *dot = strrchr(s, '.');
        int n = dot && dot != s ? (int)(dot - s) : (int)strlen(s);
        snprintf(part[i], 64, "%.*s", n > 63 ? 63 : n, s);
    }
    for (int i = 0; i < o->nimages; i++)
        for (int j = i + 1; j < o->nimages; j++)
            clash |= !strcmp(part[i], part[j]);
    if (clash)
        for (int i = 0; i < o->nimages; i++)
            snprintf(part[i], 64, "%d", i);
}

typedef struct {
    int is_tensor;   /* a .npy input: no photo */
    cc_image rgb;    /* the photo as the network sees it (a 1-channel model's luminance as gray RGB) */
    float *x;        /* C x H x W, normalised */
    int H, W;
    char err[600];
} input;

static int has_npy_magic(const char *path)
{
    unsigned char magic[6] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return n == 6 && !memcmp(magic, "\x93NUMPY", 6);
}

/* torchvision's Resize(S) with PIL's filter, then CenterCrop, on the photo itself
 * (the library's one recipe: cnncam_resize_crop), so the overlay shows what the
 * network saw. */
static int transform_photo(cc_image *img, int resize, int crop_h, int crop_w, const char *filter,
                           cc_error *err)
{
    if (!resize && !crop_h)
        return 1;
    unsigned char *out;
    int W, H;
    if (cnncam_resize_crop(img->rgb, img->width, img->height, resize, crop_w, crop_h, filter, &out, &W, &H,
                           err->msg, sizeof err->msg))
        return 0;
    cnncam_image_free(img->rgb);
    img->rgb = out, img->width = W, img->height = H;
    return 1;
}

/* A model with a fixed input size takes that size only: say so before the
 * forward, with the fix. */
static int fits_model(const cam_options *o, const cnncam_model *m, const char *path, input *in)
{
    int h, w;
    if (!cnncam_model_input_size(m, &h, &w) || (in->H == h && in->W == w))
        return 1;
    snprintf(in->err, sizeof in->err, "%s: %s works at one input size, %dx%d (height x width: its flatten feeds a "
             "linear layer), and this %s is %dx%d; %s", path, o->model, h, w, in->is_tensor ? "tensor" : "image",
             in->H, in->W, in->is_tensor ? "give a tensor of that size" : "");
    if (!in->is_tensor) {
        size_t used = strlen(in->err);
        snprintf(in->err + used, sizeof in->err - used, "resize and crop it to that size: --resize %d --crop %dx%d",
                 h < w ? h : w, h, w);
    }
    return 0;
}

/* Each RGB pixel becomes its luminance L (Pillow's convert("L")) as L, L, L:
 * what a 1-channel model sees, and the gray picture overlays are drawn on. */
static void gray_in_place(unsigned char *rgb, size_t n)
{
    for (size_t i = 0; i < n; i++, rgb += 3) {
        unsigned char l;
        cc_channels_convert(&l, 1, rgb, 3, 1);
        rgb[0] = rgb[1] = rgb[2] = l;
    }
}

static int load_input(const cam_options *o, const cnncam_model *m, const char *path, input *in)
{
    cc_error err;
    memset(in, 0, sizeof *in);
    if (has_npy_magic(path)) {
        int shape[4], rank;
        if (cc_npy_read(path, &in->x, shape, &rank, &err)) {
            snprintf(in->err, sizeof in->err, "%s", err.msg);
            return 0;
        }
        int off = rank - 3, C = cnncam_model_channels(m);
        if ((rank != 3 && rank != 4) || (rank == 4 && shape[0] != 1) || shape[off] != C) {
            char got[96] = "";
            for (int d = 0; d < rank; d++) {
                size_t used = strlen(got);
                snprintf(got + used, sizeof got - used, "%s%d", d ? "x" : "", shape[d]);
            }
            snprintf(in->err, sizeof in->err, "%s: the array is %s; a .npy input for %s must be %dxHxW or "
                     "1x%dxHxW (the model takes %d channel%s)", path, got, o->model, C, C, C, C == 1 ? "" : "s");
            return 0;
        }
        in->is_tensor = 1;
        in->H = shape[off + 1], in->W = shape[off + 2];
        if ((size_t)in->H * (size_t)in->W > o->max_pixels) {
            snprintf(in->err, sizeof in->err, "%s: the tensor is %dx%d = %zu pixels, more than the limit of %zu; "
                     "raise it with --max-pixels", path, in->W, in->H, (size_t)in->H * (size_t)in->W,
                     o->max_pixels);
            return 0;
        }
        return fits_model(o, m, path, in);
    }
    const int C = cnncam_model_channels(m);
    unsigned char *alpha = NULL;
    if (C != 1 && C != 3 && C != 4) {
        snprintf(in->err, sizeof in->err, "%s: %s takes %d input channels, and an image gives gray, RGB or RGBA; "
                 "give it a .npy tensor of %dxHxW", path, o->model, C, C);
        return 0;
    }
    if (C == 4 && (o->resize || o->crop_h || o->torchvision_eval)) {
        snprintf(in->err, sizeof in->err, "%s: --resize, --crop and --torchvision-eval do not resample alpha yet, "
                 "and %s takes RGBA: resize the image beforehand", path, o->model);
        return 0;
    }
    if (cc_image_read_alpha(path, o->max_pixels, &in->rgb, C == 4 ? &alpha : NULL, &err) ||
        (!o->keep_stored_orientation && cc_image_apply_orientation(&in->rgb, C == 4 ? &alpha : NULL, &err))) {
        snprintf(in->err, sizeof in->err, "%s", err.msg);
        free(alpha);
        return 0;
    }
    if (C == 1)  /* Pillow's convert("L") first, as a gray model's Python pipeline does */
        gray_in_place(in->rgb.rgb, (size_t)in->rgb.width * in->rgb.height);
    int resize = o->resize, crop_h = o->crop_h, crop_w = o->crop_w;
    const char *filter = "bilinear";
    if (o->torchvision_eval) {
        if (!cnncam_model_eval_recipe(m, &resize, &crop_h, &filter)) {
            snprintf(in->err, sizeof in->err, "%s stores no evaluation recipe; use --resize and --crop", o->model);
            return 0;
        }
        crop_w = crop_h;
    }
    if (!transform_photo(&in->rgb, resize, crop_h, crop_w, filter, &err)) {
        snprintf(in->err, sizeof in->err, "%s: %s", path, err.msg);
        return 0;
    }
    in->H = in->rgb.height, in->W = in->rgb.width;
    const size_t n = (size_t)in->H * in->W;
    in->x = malloc((size_t)C * n * sizeof(float));
    unsigned char *rgba = alpha ? malloc(4 * n) : NULL;
    if (rgba)
        cc_channels_join_alpha(rgba, in->rgb.rgb, alpha, n);
    int ok = in->x && (!alpha || rgba) &&
             !cnncam_preprocess_pixels(m, rgba ? rgba : in->rgb.rgb, rgba ? 4 : 3, in->W, in->H, in->x);
    free(rgba);
    free(alpha);
    if (!ok) {
        snprintf(in->err, sizeof in->err, "%s: out of memory for a %dx%d image", path, in->W, in->H);
        return 0;
    }
    return fits_model(o, m, path, in);
}

static void free_input(input *in)
{
    cc_image_free(&in->rgb);
    free(in->x);
}

/* Classes of one image, best first (the lowest index first among equal logits). */
static void rank_classes(const float *logits, int n, int *order)
{
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 1; i < n; i++) {  /* insertion sort: stable, so ties keep index order */
        int c = order[i], j = i;
        while (j > 0 && logits[order[j - 1]] < logits[c]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = c;
    }
}

/* Each class's probability from the model's output values, as its metadata
 * 'output' says: the softmax over them (logits), each one's own sigmoid
 * (multi-label), the values as they are (the model ends in a softmax), or
 * exp of them (it ends in a log-softmax). */
static void probabilities(const cnncam_model *m, const float *logits, int n, double *p)
{
    const char *output = cnncam_model_output(m);
    const int sigmoid = !strcmp(output, "sigmoid"), as_is = !strcmp(output, "probabilities"),
              log_p = !strcmp(output, "log_probabilities");
    if (sigmoid || as_is || log_p) {
        for (int i = 0; i < n; i++)
            p[i] = sigmoid ? 1 / (1 + exp(-(double)logits[i])) : log_p ? exp((double)logits[i]) : logits[i];
        return;
    }
    double mx = logits[0], sum = 0;
    for (int i = 1; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < n; i++)
        sum += (p[i] = exp((double)logits[i] - mx));
    for (int i = 0; i < n; i++)
        p[i] /= sum;
}

static int write_npy(const char *path, const float *data, const int *shape, int rank, char *err, size_t len)
{
    cc_error e;
    if (cc_npy_write(path, data, shape, rank, &e)) {
        snprintf(err, len, "%s", e.msg);
        return 0;
    }
    return 1;
}

/* The files written for one image, in order, for --json's "files". */
typedef struct {
    char **name;
    int n, cap;
} file_list;

static int file_list_add(file_list *f, const char *name, char *err, size_t len)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 8;
        char **grown = realloc(f->name, sizeof *grown * (size_t)cap);
        if (!grown)
            return snprintf(err, len, "out of memory"), 0;
        f->name = grown, f->cap = cap;
    }
    if (!(f->name[f->n] = strdup(name)))
        return snprintf(err, len, "out of memory"), 0;
    f->n++;
    return 1;
}

static void file_list_free(file_list *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->name[i]);
    free(f->name);
}

/* Everything one explained class of one image writes; each file written is
 * added to files. */
static int write_outputs(const cam_options *o, cnncam_ctx *ctx, const input *in, const float *map,
                         const char *image_part, int cls, file_list *files, char *err, size_t len)
{
    char name[4096];
    int C, h, w;
    cnncam_layer_shape(ctx, 0, &C, &h, &w);
    if (o->out) {
        cc_image pic = {in->W, in->H, malloc((size_t)3 * in->W * in->H), 0};
        if (!pic.rgb) {
            snprintf(err, len, "out of memory for the overlay");
            return 0;
        }
        if (in->is_tensor)  /* no photo: the heatmap alone */
            memset(pic.rgb, 0, (size_t)3 * in->W * in->H);
        cnncam_overlay(in->is_tensor ? pic.rgb : in->rgb.rgb, in->W, in->H, map,
                       in->is_tensor ? CNNCAM_OVERLAY_CLEAN : o->overlay, in->is_tensor ? 1.0f : o->alpha,
                       pic.rgb);
        output_name(name, sizeof name, o->out, image_part, cls);
        cc_error e;
        int ok = !cc_image_write(name, &pic, o->jpeg_quality, &e);
        free(pic.rgb);
        if (!ok) {
            snprintf(err, len, "%s", e.msg);
            return 0;
        }
        if (!file_list_add(files, name, err, len))
            return 0;
    }
    const int hw_shape[2] = {in->H, in->W}, chw[3] = {C, h, w}, small[2] = {h, w};
    const struct { const char *base; const float *data; const int *shape; int rank; } outs[] = {
        {o->cam_out, map, hw_shape, 2},
        {o->act_out, cnncam_activation(ctx, 0, 0), chw, 3},
        {o->grad_out, cnncam_gradient(ctx, 0, 0), chw, 3},
        {o->weights_out, cnncam_channel_weights(ctx, 0, 0), chw, 1},
        {o->raw_out, cnncam_raw_map(ctx, 0, 0), small, 2},
    };
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
        if (!outs[k].base)
            continue;
        if (!outs[k].data) {
            snprintf(err, len, "%s: the 'input' layer has no channel weights or raw map", outs[k].base);
            return 0;
        }
        output_name(name, sizeof name, outs[k].base, image_part, cls);
        if (!write_npy(name, outs[k].data, outs[k].shape, outs[k].rank, err, len) ||
            !file_list_add(files, name, err, len))
            return 0;
    }
    return 1;
}

static void json_image(const cam_options *o, const cnncam_model *m, const char *path, const input *in,
                       const float *logits, const int *order, const double *p, const int *explained,
                       int nexplained, const file_list *files, const double *ms)
{
    const int classes = cnncam_model_classes(m), want = o->top ? o->top : 5, k = classes < want ? classes : want;
    printf("{\"image\":");
    cli_json_string(stdout, path);
    printf(",\"width\":%d,\"height\":%d,\"output\":\"%s\",\"top\":[", in->W, in->H,
           cnncam_model_output(m));
    for (int i = 0; i < k; i++) {
        const char *label = cnncam_model_label(m, order[i]);
        printf("%s{\"index\":%d,\"label\":", i ? "," : "", order[i]);
        cli_json_string(stdout, label ? label : "");
        printf(",\"logit\":%.9g,\"probability\":%.9g}", logits[order[i]], p[order[i]]);
    }
    printf("]");
    if (nexplained) {
        printf(",\"explained\":[");
        for (int i = 0; i < nexplained; i++) {
            const char *label = cnncam_model_label(m, explained[i]);
            printf("%s{\"index\":%d,\"label\":", i ? "," : "", explained[i]);
            cli_json_string(stdout, label ? label : "");
            printf("}");
        }
        printf("],\"layers\":[");
        for (int l = 0; l < o->nlayers; l++) {
            printf("%s", l ? "," : "");
            cli_json_string(stdout, o->layers[l]);
        }
        printf("],\"method\":\"gradcam\"");
    }
    printf(",\"files\":[");
    for (int i = 0; i < files->n; i++) {
        printf("%s", i ? "," : "");
        cli_json_string(stdout, files->name[i]);
    }
    printf("]");
    printf(",\"threads\":%d", o->threads);
    printf(",\"ms\":{\"load\":%.3f,\"forward\":%.3f,\"gradcam\":%.3f,\"write\":%.3f}}\n", ms[0], ms[1], ms[2],
           ms[3]);
}

static size_t count_nonfinite(const float *x, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !isfinite(x[i]);
    return bad;
}

/* NaN or infinite logits (PyTorch propagates a NaN input to NaN logits, and
 * so does the engine) rank and explain nothing: the image fails, and the
 * message says whether the input or the model made them. */
static int finite_scores(const char *path, const float *logits, int classes, const float *x, size_t nx, char *err,
                         size_t len)
{
    const size_t bad = count_nonfinite(logits, (size_t)classes), bad_in = count_nonfinite(x, nx);
    if (!bad)
        return 1;
    if (bad_in)
        snprintf(err, len, "%s: the input produced NaN scores: %zu of %d logits are NaN or infinite, from an input "
                 "holding %zu NaN or infinite values (of %zu); nothing is written for this image", path, bad, classes, bad_in, nx);
    else
        snprintf(err, len, "%s: the input produced NaN scores: %zu of %d logits are NaN or infinite although the "
                 "input is finite (the model overflows on it); nothing is written for this image", path, bad,
                 classes);
    return 0;
}

/* One image: forward, predictions, the explained classes and their outputs.
 * Returns 1 on success; on failure err says why. */
static int run_image(const cam_options *o, const cnncam_model *m, cnncam_ctx *ctx, int idx,
                     const char *image_part, float *logits_rows, char *err, size_t len)
{
    const char *path = o->images[idx];
    const int classes = cnncam_model_classes(m), multi_label = cnncam_model_multi_label(m),
              explain = !o->top || o->out || o->cam_out || o->act_out || o->grad_out || o->weights_out ||
                        o->raw_out;
    double ms[4] = {0}, t = now_ms();
    input in;
    memset(&in, 0, sizeof in);
    int ok = 0;
    float *map = NULL;
    int *order = malloc(sizeof(int) * (size_t)(classes > 0 ? classes : 1));
    double *p = malloc(sizeof(double) * (size_t)(classes > 0 ? classes : 1));
    int chosen = -1, nexplained = 0;
    const int *explained = &chosen;  /* the named class, or the first of order */
    file_list files = {NULL, 0, 0};
    if (!order || !p) {
        snprintf(err, len, "out of memory");
        goto done;
    }
    if (!load_input(o, m, path, &in)) {
        snprintf(err, len, "%s", in.err);
        goto done;
    }
    ms[0] = now_ms() - t, t = now_ms();
    cnncam_status st = cnncam_forward(ctx, in.x, 1, in.H, in.W);
    if (st) {
        snprintf(err, len, "%s: %s%s", path, cnncam_ctx_error(ctx),
                 st == CNNCAM_ENOMEM && !in.is_tensor ? "; --resize S (e.g. 256) runs the network on a smaller copy" : "");
        goto done;
    }
    ms[1] = now_ms() - t, t = now_ms();
    const float *logits = cnncam_logits(ctx, 0);
    if (!finite_scores(path, logits, classes, in.x, (size_t)cnncam_model_channels(m) * in.H * in.W, err, len))
        goto done;  /* its --logits-out row stays NaN, as for any failed image */
    if (logits_rows)
        memcpy(logits_rows + (size_t)idx * classes, logits, sizeof(float) * (size_t)classes);
    rank_classes(logits, classes, order);
    probabilities(m, logits, classes, p);

    if (!o->predict && explain) {
        if (o->class_name) {
            char why[512];
            if ((chosen = cnncam_model_find_class(m, o->class_name, why, sizeof why)) < 0) {
                snprintf(err, len, "%s", why);
                goto done;
            }
            nexplained = 1;
        } else {
            explained = order;
            nexplained = o->top ? (o->top < classes ? o->top : classes) : 1;
        }
        map = malloc(sizeof(float) * (size_t)in.H * in.W);
        if (!map) {
            snprintf(err, len, "out of memory for a %dx%d map", in.W, in.H);
            goto done;
        }
        for (int i = 0; i < nexplained; i++) {
            double tc = now_ms();
            if (cnncam_gradcam(ctx, &explained[i], map)) {
                snprintf(err, len, "%s: %s", path, cnncam_ctx_error(ctx));
                goto done;
            }
            ms[2] += now_ms() - tc, tc = now_ms();
            if (!write_outputs(o, ctx, &in, map, o->nimages > 1 ? image_part : NULL,
                               nexplained > 1 ? explained[i] : -1, &files, err, len))
                goto done;
            ms[3] += now_ms() - tc;
        }
    }
    if (o->json) {
        json_image(o, m, path, &in, logits, order, p, explained, nexplained, &files, ms);
    } else if (o->predict || !nexplained) {
        printf("%s:\n", path);
        for (int i = 0; i < o->top && i < classes; i++) {
            const char *label = cnncam_model_label(m, order[i]);
            printf("  %5d  %-40s %s %9.4f  %s %.4f\n", order[i], label ? label : "",
                   !strcmp(cnncam_model_output(m), "probabilities") ? "output" :
                   !strcmp(cnncam_model_output(m), "log_probabilities") ? "log p" : "logit",
                   logits[order[i]], multi_label ? "sigmoid p" : "p", p[order[i]]);
        }
    } else {
        for (int i = 0; i < nexplained; i++) {
            const char *label = cnncam_model_label(m, explained[i]);
            printf("%s: class %d '%s' (%s %.4f)\n", path, explained[i], label ? label : "",
                   multi_label ? "sigmoid p" : "p", p[explained[i]]);
        }
    }
    ok = 1;
done:
    file_list_free(&files);
    free_input(&in);
    free(map);
    free(order);
    free(p);
    return ok;
}

int cmd_cam(int argc, char **argv, int predict_only)
{
    cam_options o;
    int rc = cam_parse_options(argc, argv, predict_only, &o);
    if (rc) {
        free(o.images);
        return rc < 0 ? EXIT_OK : rc;
    }
    char err[1024];
    cnncam_model *m = NULL;
    cnncam_ctx *ctx = NULL;
    float *logits_rows = NULL;
    char (*parts)[64] = calloc((size_t)o.nimages, sizeof *parts);
    if (!parts) {
        fprintf(stderr, "cnncam: out of memory\n");
        rc = EXIT_INTERNAL;
        goto done;
    }
    /* One image and one class read the weights in one forward and one
     * backward: dropping the big ones costs one more mapping of them (about
     * 60 ms for VGG-16) and saves most of the memory. Each further image or
     * class would add a mapping. */
    const int one_pass = o.nimages == 1 && (predict_only || o.top <= 1);
    cnncam_set_low_memory(o.low_memory < 0 ? one_pass : o.low_memory);
    if (cnncam_model_load(o.model, &m, err, sizeof err)) {
        fprintf(stderr, "cnncam: %s\n", err);
        rc = EXIT_INPUT;
        goto done;
    }
    if (!(ctx = cnncam_ctx_create(m))) {
        fprintf(stderr, "cnncam: out of memory\n");
        rc = EXIT_INTERNAL;
        goto done;
    }
    if (!o.nlayers && !predict_only) {
        o.layers[0] = cnncam_model_default_layer(m);
        if (!o.layers[0]) {
            fprintf(stderr, "cnncam: %s recommends no Grad-CAM layer; choose one with -l (see cnncam info)\n",
                    o.model);
            rc = EXIT_USAGE;
            goto done;
        }
        o.nlayers = 1;
    }
    if ((o.nlayers && cnncam_ctx_set_layers(ctx, o.layers, o.nlayers)) || cnncam_ctx_set_threads(ctx, o.threads)) {
        fprintf(stderr, "cnncam: %s: %s\n", o.model, cnncam_ctx_error(ctx));
        rc = EXIT_INPUT;
        goto done;
    }
    if (o.class_name) {  /* a bad class is the caller's mistake once, not once per image */
        if (cnncam_model_find_class(m, o.class_name, err, sizeof err) < 0) {
            fprintf(stderr, "cnncam: %s\n", err);
            rc = EXIT_INPUT;
            goto done;
        }
    }
    const int classes = cnncam_model_classes(m);
    if (o.logits_out) {
        logits_rows = malloc(sizeof(float) * (size_t)o.nimages * (size_t)classes);
        if (!logits_rows) {
            fprintf(stderr, "cnncam: out of memory\n");
            rc = EXIT_INTERNAL;
            goto done;
        }
        for (size_t i = 0; i < (size_t)o.nimages * classes; i++)
            logits_rows[i] = NAN;
    }
    image_parts(&o, parts);
    const int progress = o.nimages > 1 && isatty(STDERR_FILENO);
    int failed = 0;
    for (int i = 0; i < o.nimages; i++) {
        if (progress)
            fprintf(stderr, "\r[%d/%d] %s\033[K", i + 1, o.nimages, o.images[i]);
        if (!run_image(&o, m, ctx, i, parts[i], logits_rows, err, sizeof err)) {
            fprintf(stderr, "%scnncam: %s\n", progress ? "\n" : "", err);
            if (o.json) {  /* one line per image, failed ones too */
                printf("{\"image\":");
                cli_json_string(stdout, o.images[i]);
                printf(",\"error\":");
                cli_json_string(stdout, err);
                printf("}\n");
            }
            failed++;
        }
        fflush(stdout);
    }
    if (progress)
        fprintf(stderr, "\r\033[K");
    if (o.logits_out && failed < o.nimages) {  /* all NaN rows would say nothing */
        const int shape[2] = {o.nimages, classes};
        if (!write_npy(o.logits_out, logits_rows, shape, 2, err, sizeof err)) {
            fprintf(stderr, "cnncam: %s\n", err);
            failed++;
        }
    }
    if (failed && o.nimages > 1)
        fprintf(stderr, "cnncam: %d of %d images failed\n", failed, o.nimages);
    rc = failed ? EXIT_INPUT : EXIT_OK;
done:
    free(logits_rows);
    free(parts);
    cnncam_ctx_free(ctx);
    cnncam_model_free(m);
    free(o.images);
    return rc;
}
