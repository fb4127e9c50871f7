/* examples/bias/bias_figure.c — the bias experiment's figure, drawn by cnncam:
 * one row per image, columns input | Grad-CAM of the biased model | Grad-CAM
 * of the unbiased model, both for the same class at each model's recommended
 * layer. Uses the public API only (include/cnncam.h).
 *
 *   bias_figure BIASED.ccm UNBIASED.ccm CLASS OUT.png IMAGE...
 *
 * All images must have the same size. Prints one line per image with each
 * model's logit for CLASS and its sigmoid (the models are multi-label). */
#include <cnncam.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GAP = 6, COLUMNS = 3 };

typedef struct {
    cnncam_model *model;
    cnncam_ctx *ctx;
} net;

static int load_net(const char *path, net *n)
{
    char err[512];
    if (cnncam_model_load(path, &n->model, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 0;
    }
    if (!(n->ctx = cnncam_ctx_create(n->model))) {
        fprintf(stderr, "%s: out of memory\n", path);
        return 0;
    }
    return 1;
}

/* Grad-CAM of class c on rgb (w x h), overlaid, into tile (rows of stride bytes). */
static int explain(net *n, const unsigned char *rgb, int w, int h, int c, float *x, float *map,
                   unsigned char *tile, float *logit)
{
    cnncam_preprocess(n->model, rgb, w, h, x);
    if (cnncam_forward(n->ctx, x, 1, h, w) || cnncam_gradcam(n->ctx, &c, map)) {
        fprintf(stderr, "%s\n", cnncam_ctx_error(n->ctx));
        return 0;
    }
    *logit = cnncam_logits(n->ctx, 0)[c];
    return !cnncam_overlay(rgb, w, h, map, CNNCAM_OVERLAY_REFERENCE, 0.5f, tile);
}

/* Copies a w x h RGB tile into the figure at column col, row row. */
static void paste(unsigned char *fig, int fig_w, const unsigned char *tile, int w, int h, int col, int row)
{
    const int x0 = GAP + col * (w + GAP), y0 = GAP + row * (h + GAP);
    for (int y = 0; y < h; y++)
        memcpy(fig + ((size_t)(y0 + y) * fig_w + x0) * 3, tile + (size_t)y * w * 3, (size_t)w * 3);
}

static double sigmoid(double z)
{
    return 1 / (1 + exp(-z));
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s BIASED.ccm UNBIASED.ccm CLASS OUT.png IMAGE...\n", argv[0]);
        return 1;
    }
    const int rows = argc - 5;
    char err[512];
    net nets[2] = {{0}};
    unsigned char *fig = NULL, *tile = NULL;
    float *x = NULL, *map = NULL;
    int rc = 2, w = 0, h = 0, fig_w = 0, c = -1;
    if (!load_net(argv[1], &nets[0]) || !load_net(argv[2], &nets[1]))
        goto done;
    for (int m = 0; m < 2; m++) {
        int k = cnncam_model_find_class(nets[m].model, argv[3], err, sizeof err);
        if (k < 0 || (m && k != c)) {
            fprintf(stderr, "%s: %s\n", argv[1 + m], k < 0 ? err : "the two models number their classes differently");
            goto done;
        }
        c = k;
    }
    printf("%-40s %22s %22s\n", "image", "biased logit (sigmoid)", "unbiased logit (sigmoid)");
    for (int r = 0; r < rows; r++) {
        const char *path = argv[5 + r];
        unsigned char *rgb;
        int iw, ih;
        if (cnncam_image_read(path, 0, &rgb, &iw, &ih, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            goto done;
        }
        if (!fig) {  /* the first image fixes the tile size */
            w = iw, h = ih, fig_w = GAP + COLUMNS * (w + GAP);
            const size_t fig_h = GAP + (size_t)rows * (h + GAP);
            fig = malloc((size_t)fig_w * fig_h * 3);
            tile = malloc((size_t)w * h * 3);
            x = malloc(sizeof(float) * 3 * (size_t)w * h);
            map = malloc(sizeof(float) * (size_t)w * h);
            if (!fig || !tile || !x || !map) {
                fprintf(stderr, "out of memory\n");
                cnncam_image_free(rgb);
                goto done;
            }
            memset(fig, 255, (size_t)fig_w * fig_h * 3);
        }
        if (iw != w || ih != h) {
            fprintf(stderr, "%s: %dx%d, but the first image is %dx%d\n", path, iw, ih, w, h);
            cnncam_image_free(rgb);
            goto done;
        }
        paste(fig, fig_w, rgb, w, h, 0, r);
        float logit[2];
        int ok = 1;
        for (int m = 0; m < 2 && ok; m++)
            if ((ok = explain(&nets[m], rgb, w, h, c, x, map, tile, &logit[m])))
                paste(fig, fig_w, tile, w, h, 1 + m, r);
        cnncam_image_free(rgb);
        if (!ok)
            goto done;
        printf("%-40s %11.3f (%.3f)    %11.3f (%.3f)\n", path, logit[0], sigmoid(logit[0]), logit[1],
               sigmoid(logit[1]));
    }
    if (cnncam_image_write(argv[4], fig, fig_w, GAP + rows * (h + GAP), err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    printf("wrote %s (%d rows: input | biased model | unbiased model, class %d '%s')\n", argv[4], rows, c,
           cnncam_model_label(nets[0].model, c));
    rc = 0;
done:
    free(fig), free(tile), free(x), free(map);
    for (int m = 0; m < 2; m++) {
        cnncam_ctx_free(nets[m].ctx);
        cnncam_model_free(nets[m].model);
    }
    return rc;
}
