/* examples/gradcam_example.c — Grad-CAM of one photo with the installed library.
 *
 *   cc $(pkg-config --cflags cnncam) gradcam_example.c $(pkg-config --libs cnncam) -o gradcam_example
 *   ./gradcam_example resnet34.ccm cat.jpg overlay.png
 *
 * Explains the top class at the model's recommended layer, as `cnncam cam` does. */
#include <cnncam.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL.ccm IMAGE OUT.png\n", argv[0]);
        return 1;
    }
    char err[512];
    cnncam_model *model;
    if (cnncam_model_load(argv[1], &model, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    unsigned char *rgb;
    int w, h;
    if (cnncam_image_read(argv[2], 0, &rgb, &w, &h, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        cnncam_model_free(model);
        return 2;
    }
    cnncam_ctx *ctx = cnncam_ctx_create(model);
    float *x = malloc(sizeof(float) * 3 * (size_t)w * h), *map = malloc(sizeof(float) * (size_t)w * h);
    unsigned char *out = malloc((size_t)3 * w * h);
    int rc = 2;
    if (!ctx || !x || !map || !out) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    cnncam_preprocess(model, rgb, w, h, x);
    if (cnncam_forward(ctx, x, 1, h, w)) {
        fprintf(stderr, "%s\n", cnncam_ctx_error(ctx));
        goto done;
    }
    int c = cnncam_top_class(ctx, 0);
    const char *label = cnncam_model_label(model, c);
    if (cnncam_gradcam(ctx, &c, map)) {
        fprintf(stderr, "%s\n", cnncam_ctx_error(ctx));
        goto done;
    }
    cnncam_overlay(rgb, w, h, map, CNNCAM_OVERLAY_REFERENCE, 0.5f, out);
    if (cnncam_image_write(argv[3], out, w, h, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    printf("class %d '%s', logit %.4f, layer %s -> %s\n", c, label ? label : "", cnncam_logits(ctx, 0)[c],
           cnncam_model_default_layer(model), argv[3]);
    rc = 0;
done:
    free(x), free(map), free(out);
    cnncam_image_free(rgb);
    cnncam_ctx_free(ctx);
    cnncam_model_free(model);
    return rc;
}
