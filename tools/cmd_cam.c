/* tools/cmd_cam.c — `cnncam cam` and `cnncam predict`: images in, predictions,
 * Grad-CAM maps, overlays and tensors out. Every output is written atomically
 * (temporary file + rename), so a failure never leaves a half-written file.
 * A failing image is reported and the others still run; the exit code then
 * says something failed. */
#include "cam_options.h"
#include "cli.h"
#include "cnncam.h"

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
    int is_tensor;        /* a .npy input: no photo */
    unsigned char *rgb;   /* H x W x 3: the photo as the network sees it (a 1-channel model's
                           * luminance as gray RGB), what overlays are drawn on */
    float *x;             /* C x H x W, normalised */
    int x_from_npy;       /* x is cnncam_npy_read's (cnncam_npy_free), else malloc's */
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
static int transform_photo(input *in, int resize, int crop_h, int crop_w, const char *filter, char *err,
                           size_t len)
{
    if (!resize && !crop_h)
        return 1;
    unsigned char *out;
    int W, H;
    if (cnncam_resize_crop(in->rgb, in->W, in->H, resize, crop_w, crop_h, filter, &out, &W, &H, err, len))
        return 0;
    cnncam_image_free(in->rgb);
    in->rgb = out, in->W = W, in->H = H;
    return 1;
}

/* A model with a fixed input size takes that size only: say so before the
 * forward, with the fix. */
static int fits_model(const cam_options *o, const cnncam_model *m, const char *path, input *in)
{
    int h, w;
    if (!cnncam_model_input_size(m, &h, &w) || (in->H == h && in->W == w))
        return 1;
    snprintf(in->err, sizeof in->err, "%s: %s works at one input size, %dx%d (height x width: a flatten feeding a "
             "linear layer, or a transformer's position embedding), and this %s is %dx%d; %s", path, o->model, h, w,
             in->is_tensor ? "tensor" : "image",
             in->H, in->W, in->is_tensor ? "give a tensor of that size" : "");
    int resize, crop;
    const char *filter;
    if (!in->is_tensor) {
        size_t used = strlen(in->err);
        snprintf(in->err + used, sizeof in->err - used, "resize and crop it to that size: --resize %d --crop %dx%d",
                 h < w ? h : w, h, w);
        used = strlen(in->err);
        if (cnncam_model_eval_recipe(m, &resize, &crop, &filter) && crop == h && crop == w)
            snprintf(in->err + used, sizeof in->err - used, ", or --torchvision-eval (its recipe: resize %d, "
                     "centre crop %d)", resize, crop);
    }
    return 0;
}

/* dst (n x 3 bytes) from src's first channels: a gray pixel L as L, L, L (what
 * a 1-channel model sees, and the gray picture overlays are drawn on), RGBA's
 * alpha dropped. */
static void to_rgb(unsigned char *dst, const unsigned char *src, int channels, size_t n)
{
    for (size_t i = 0; i < n; i++, dst += 3, src += channels) {
        dst[0] = src[0];
        dst[1] = src[channels >= 3 ? 1 : 0];
        dst[2] = src[channels >= 3 ? 2 : 0];
    }
}

static int load_input(const cam_options *o, const cnncam_model *m, const char *path, input *in)
{
    memset(in, 0, sizeof *in);
    if (has_npy_magic(path)) {
        int shape[CNNCAM_MAX_RANK], rank;
        if (cnncam_npy_read(path, &in->x, shape, &rank, in->err, sizeof in->err))
            return 0;
        in->x_from_npy = 1;
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
    /* Pillow's convert("L") or convert("RGBA") first, as the model's Python pipeline does. */
    unsigned char *pixels;
    const int flags = o->keep_stored_orientation ? CNNCAM_IMAGE_STORED_ORIENTATION : 0;
    if (cnncam_image_read_pixels(path, o->max_pixels, C, flags, &pixels, &in->W, &in->H, in->err, sizeof in->err))
        return 0;
    size_t n = (size_t)in->H * in->W;
    if (!(in->rgb = C == 3 ? pixels : malloc(3 * n))) {
        cnncam_image_free(pixels);
        snprintf(in->err, sizeof in->err, "%s: out of memory for a %dx%d image", path, in->W, in->H);
        return 0;
    }
    if (C != 3)
        to_rgb(in->rgb, pixels, C, n);
    if (C != 4) {  /* the network sees the RGB picture (gray as L, L, L): resized, if asked, as it */
        if (in->rgb != pixels)
            cnncam_image_free(pixels);
        pixels = NULL;
    }
    int resize = o->resize, crop_h = o->crop_h, crop_w = o->crop_w;
    const char *filter = "bilinear";
    if (o->torchvision_eval) {
        if (!cnncam_model_eval_recipe(m, &resize, &crop_h, &filter)) {
            snprintf(in->err, sizeof in->err, "%s stores no evaluation recipe; use --resize and --crop", o->model);
            return 0;
        }
        crop_w = crop_h;
    }
    char why[512];
    if (!transform_photo(in, resize, crop_h, crop_w, filter, why, sizeof why)) {
        snprintf(in->err, sizeof in->err, "%s: %s", path, why);
        return 0;
    }
    n = (size_t)in->H * in->W;
    in->x = malloc((size_t)C * n * sizeof(float));
    int ok = in->x && !cnncam_preprocess_pixels(m, pixels ? pixels : in->rgb, pixels ? 4 : 3, in->W, in->H, in->x);
    cnncam_image_free(pixels);
    if (!ok) {
        snprintf(in->err, sizeof in->err, "%s: out of memory for a %dx%d image", path, in->W, in->H);
        return 0;
    }
    return fits_model(o, m, path, in);
}

static void free_input(input *in)
{
    cnncam_image_free(in->rgb);
    if (in->x_from_npy)
        cnncam_npy_free(in->x);
    else
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

/* -c's class: by index or name; with --target binary on a one-output model
 * also 1 (the output) and 0 (its negation), which the target takes. */
static cnncam_status class_index(const cnncam_model *m, const cam_options *o, int *cls, char *err, size_t len)
{
    if (o->cam.target == CNNCAM_TARGET_BINARY && cnncam_model_classes(m) == 1 &&
        (!strcmp(o->class_name, "0") || !strcmp(o->class_name, "1"))) {
        *cls = o->class_name[0] - '0';
        return CNNCAM_OK;
    }
    return cnncam_model_class_index(m, o->class_name, cls, err, len);
}

static int write_npy(const char *path, const float *data, const int *shape, int rank, char *err, size_t len)
{
    return !cnncam_npy_write(path, data, shape, rank, err, len);
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

static const char *method_name(const cam_options *o)
{
    return o->cam.method ? o->cam.method : "gradcam";
}

/* Writes an RGB picture as -o, --guided-out and --guided-cam-out do. */
static int write_picture(const cam_options *o, const char *name, const unsigned char *rgb, int W, int H,
                         file_list *files, char *err, size_t len)
{
    return !cnncam_image_write_quality(name, rgb, W, H, o->jpeg_quality, err, len) &&
           file_list_add(files, name, err, len);
}

/* Guided backpropagation for class cls: its gradient (H x W x C) and cam.py's
 * two pictures of it, the second weighted by the map; files named for
 * name_cls (-1: no class part). Runs after the map's own outputs are
 * written: its backward may overwrite the layer's gradient. */
static int write_guided(const cam_options *o, const cnncam_model *m, cnncam_ctx *ctx, const input *in,
                        const float *map, const char *image_part, int name_cls, int cls, file_list *files,
                        char *err, size_t len)
{
    const int C = cnncam_model_channels(m);
    const size_t n = (size_t)in->H * in->W;
    float *gb = malloc(n * (size_t)C * sizeof *gb);
    unsigned char *pic = malloc(n * (size_t)(C > 3 ? C : 3)), *rgb = malloc(n * 3);
    char name[4096];
    int ok = gb && pic && rgb;
    if (!ok)
        snprintf(err, len, "out of memory for guided backpropagation of a %dx%d image", in->W, in->H);
    if (ok && cnncam_guided_backprop(ctx, 0, cls, gb)) {
        snprintf(err, len, "%s", cnncam_ctx_error(ctx));
        ok = 0;
    }
    if (ok && o->guided_npy) {
        const int shape[3] = {in->H, in->W, C};
        output_name(name, sizeof name, o->guided_npy, image_part, name_cls);
        ok = write_npy(name, gb, shape, 3, err, len) && file_list_add(files, name, err, len);
    }
    const struct { const char *base; const float *mask; } pictures[] = {{o->guided_out, NULL},
                                                                         {o->guided_cam_out, map}};
    for (size_t k = 0; ok && k < sizeof pictures / sizeof pictures[0]; k++) {
        if (!pictures[k].base)
            continue;
        if ((ok = !cnncam_deprocess_image(gb, pictures[k].mask, in->W, in->H, C, pic, err, len))) {
            to_rgb(rgb, pic, C, n);  /* C is 1 or 3 (checked before the first image) */
            output_name(name, sizeof name, pictures[k].base, image_part, name_cls);
            ok = write_picture(o, name, rgb, in->W, in->H, files, err, len);
        }
    }
    free(gb), free(pic), free(rgb);
    return ok;
}

/* Everything one explained class of one image writes (cls: the class
 * explained; name_cls: the class the file names carry, -1: none); each file
 * written is added to files. */
static int write_outputs(const cam_options *o, const cnncam_model *m, cnncam_ctx *ctx, const input *in,
                         const float *map, const char *image_part, int name_cls, int cls, file_list *files,
                         char *err, size_t len)
{
    char name[4096];
    int C, h, w;
    cnncam_layer_shape(ctx, 0, &C, &h, &w);
    if (o->out) {
        unsigned char *pic = malloc((size_t)3 * in->W * in->H);
        if (!pic) {
            snprintf(err, len, "out of memory for the overlay");
            return 0;
        }
        if (in->is_tensor)  /* no photo: the heatmap alone */
            memset(pic, 0, (size_t)3 * in->W * in->H);
        cnncam_overlay(in->is_tensor ? pic : in->rgb, in->W, in->H, map,
                       in->is_tensor ? CNNCAM_OVERLAY_CLEAN : o->overlay, in->is_tensor ? 1.0f : o->alpha, pic);
        output_name(name, sizeof name, o->out, image_part, name_cls);
        int ok = write_picture(o, name, pic, in->W, in->H, files, err, len);
        free(pic);
        if (!ok)
            return 0;
    }
    const int hw_shape[2] = {in->H, in->W}, chw[3] = {C, h, w}, small[2] = {h, w};
    const struct { const char *base, *what; const float *data; const int *shape; int rank; } outs[] = {
        {o->cam_out, "map", map, hw_shape, 2},
        {o->act_out, "activations", cnncam_activation(ctx, 0, 0), chw, 3},
        {o->grad_out, "gradient", cnncam_gradient(ctx, 0, 0), chw, 3},
        {o->weights_out, "channel weights", cnncam_channel_weights(ctx, 0, 0), chw, 1},
        {o->raw_out, "raw map", cnncam_raw_map(ctx, 0, 0), small, 2},
    };
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++) {
        if (!outs[k].base)
            continue;
        if (!outs[k].data) {
            if (!strcmp(o->layers[0], "input"))
                snprintf(err, len, "%s: the 'input' layer has no channel weights or raw map", outs[k].base);
            else
                snprintf(err, len, "%s: %s gives no %s (cnncam methods says what each method computes)",
                         outs[k].base, method_name(o), outs[k].what);
            return 0;
        }
        output_name(name, sizeof name, outs[k].base, image_part, name_cls);
        if (!write_npy(name, outs[k].data, outs[k].shape, outs[k].rank, err, len) ||
            !file_list_add(files, name, err, len))
            return 0;
    }
    return !o->cam.guided || write_guided(o, m, ctx, in, map, image_part, name_cls, cls, files, err, len);
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
        printf("],\"method\":");
        cli_json_string(stdout, method_name(o));
        printf(",\"target\":\"%s\"", cam_target_name(o->cam.target));
    }
    printf(",\"files\":[");
    for (int i = 0; i < files->n; i++) {
        printf("%s", i ? "," : "");
        cli_json_string(stdout, files->name[i]);
    }
    printf("]");
    printf(",\"threads\":%d", o->threads);
    printf(",\"ms\":{\"load\":%.3f,\"forward\":%.3f,\"explain\":%.3f,\"write\":%.3f}}\n", ms[0], ms[1], ms[2],
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

/* The progress of a method that runs many forwards (cnncam_progress_fn): on a
 * terminal one line rewritten in place, elsewhere (--progress) a line per
 * tenth of the work, so a log stays short. */
typedef struct {
    const char *method;
    char prefix[96];  /* "[2/5] cat.jpg: " with several images */
    int tty, last_tenth, shown;
} progress_line;

static void show_progress(void *user, int done, int total)
{
    progress_line *p = user;
    if (p->tty) {
        fprintf(stderr, "\r%s%s: %d/%d forwards\033[K", p->prefix, p->method, done, total);
        p->shown = 1;
        return;
    }
    const int tenth = total > 0 ? (int)(10LL * done / total) : 10;
    if (tenth > p->last_tenth) {
        fprintf(stderr, "%s%s: %d/%d forwards\n", p->prefix, p->method, done, total);
        p->last_tenth = tenth;
    }
}

/* After a run: the terminal's line cleared, the count ready for the next run. */
static void end_progress(progress_line *p)
{
    if (!p)
        return;
    if (p->tty && p->shown)
        fprintf(stderr, "\r\033[K");
    p->shown = 0;
    p->last_tenth = 0;
}

/* One image: forward, predictions, the explained classes and their outputs.
 * Returns 1 on success; on failure err says why. */
static int run_image(const cam_options *o, const cnncam_model *m, cnncam_ctx *ctx, int idx,
                     const char *image_part, float *logits_rows, progress_line *progress, char *err, size_t len)
{
    const char *path = o->images[idx];
    const int classes = cnncam_model_classes(m), multi_label = cnncam_model_multi_label(m),
              explain = !o->top || o->out || o->cam_out || o->act_out || o->grad_out || o->weights_out ||
                        o->raw_out || o->cam.guided;
    double ms[4] = {0}, t = now_ms();
    input in;
    memset(&in, 0, sizeof in);
    int ok = 0;
    float *map = NULL;
    int *order = malloc(sizeof(int) * (size_t)(classes > 0 ? classes : 1));
    double *p = malloc(sizeof(double) * (size_t)(classes > 0 ? classes : 1));
    float *logits = malloc(sizeof(float) * (size_t)(classes > 0 ? classes : 1));
    int chosen = -1, nexplained = 0;
    const int *explained = &chosen;  /* the named class, or the first of order */
    file_list files = {NULL, 0, 0};
    if (!order || !p || !logits) {
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
    /* A copy: a method that runs more forwards (scorecam, aug_smooth) may plan them anew. */
    memcpy(logits, cnncam_logits(ctx, 0), sizeof(float) * (size_t)classes);
    if (!finite_scores(path, logits, classes, in.x, (size_t)cnncam_model_channels(m) * in.H * in.W, err, len))
        goto done;  /* its --logits-out row stays NaN, as for any failed image */
    if (logits_rows)
        memcpy(logits_rows + (size_t)idx * classes, logits, sizeof(float) * (size_t)classes);
    rank_classes(logits, classes, order);
    if (cnncam_probabilities(m, logits, classes, p, err, len))
        goto done;

    if (!o->predict && explain) {
        if (o->class_name) {
            if (class_index(m, o, &chosen, err, len))
                goto done;
            nexplained = 1;
        } else if (o->cam.target == CNNCAM_TARGET_BINARY && classes == 1) {
            chosen = logits[0] > 0;  /* the likelier side: the output (1) or its negation (0) */
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
            const int failed = cnncam_cam(ctx, &explained[i], map);
            end_progress(progress);
            if (failed) {
                snprintf(err, len, "%s: %s", path, cnncam_ctx_error(ctx));
                goto done;
            }
            ms[2] += now_ms() - tc, tc = now_ms();
            if (!write_outputs(o, m, ctx, &in, map, o->nimages > 1 ? image_part : NULL,
                               nexplained > 1 ? explained[i] : -1, explained[i], &files, err, len))
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
            if (o->cam.target == CNNCAM_TARGET_BINARY && classes == 1) {  /* 1: the output, 0: its negation */
                const char *label = cnncam_model_label(m, 0);
                printf("%s: class %d (%s '%s', output %.4f)\n", path, explained[i],
                       explained[i] ? "the output" : "the negation of", label ? label : "", logits[0]);
                continue;
            }
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
    free(logits);
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
     * class would add a mapping, and so does every forward of a method
     * that runs many. */
    const int many_forwards = o.cam.aug_smooth || (o.cam.method && (!strcmp(o.cam.method, "scorecam") ||
                                                                     !strcmp(o.cam.method, "ablationcam")));
    const int one_pass = o.nimages == 1 && (predict_only || (o.top <= 1 && !many_forwards));
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
    for (int l = 0; l < o.nlayers && !predict_only; l++) {
        const char *warning = cnncam_model_layer_warning(m, cnncam_model_find_node(m, o.layers[l]));
        if (warning)
            fprintf(stderr, "cnncam: warning: layer '%s': %s\n", o.layers[l], warning);
    }
    progress_line progress = {method_name(&o), "", isatty(STDERR_FILENO), 0, 0};
    if (!predict_only) {  /* the library knows which method takes which option */
        if (progress.tty || o.progress)
            o.cam.progress = show_progress, o.cam.progress_user = &progress;
        if (cnncam_ctx_set_cam_options(ctx, &o.cam)) {
            fprintf(stderr, "cnncam: %s\n(see cnncam methods and cnncam cam --help)\n", cnncam_ctx_error(ctx));
            rc = EXIT_USAGE;
            goto done;
        }
        const int C = cnncam_model_channels(m);
        if ((o.guided_out || o.guided_cam_out) && C != 1 && C != 3) {
            fprintf(stderr, "cnncam: --guided-out and --guided-cam-out draw gray or RGB, and %s takes %d channels; "
                    "--guided-npy writes the gradient itself\n", o.model, C);
            rc = EXIT_USAGE;
            goto done;
        }
    }
    if (o.class_name) {  /* a bad class is the caller's mistake once, not once per image */
        int cls;
        if (class_index(m, &o, &cls, err, sizeof err)) {
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
    const int show_images = o.nimages > 1 && progress.tty;
    int failed = 0;
    for (int i = 0; i < o.nimages; i++) {
        if (show_images)
            fprintf(stderr, "\r[%d/%d] %s\033[K", i + 1, o.nimages, o.images[i]);
        if (o.nimages > 1)
            snprintf(progress.prefix, sizeof progress.prefix, "[%d/%d] %.60s: ", i + 1, o.nimages, o.images[i]);
        if (!run_image(&o, m, ctx, i, parts[i], logits_rows, predict_only ? NULL : &progress, err, sizeof err)) {
            fprintf(stderr, "%scnncam: %s\n", show_images ? "\n" : "", err);
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
    if (show_images)
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
