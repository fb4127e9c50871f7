/* api/api_image.c — the public image functions of include/cnncam.h: files
 * (over io/image.h) and guided-backpropagation pictures (image/deprocess.h). */
#include "cnncam.h"
#include "image/channels.h"
#include "image/deprocess.h"
#include "io/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cnncam_status report(cc_status st, const cc_error *e, char *err, size_t errlen)
{
    if (st && err && errlen)
        snprintf(err, errlen, "%s", e->msg);
    return (cnncam_status)st;
}

cnncam_status cnncam_image_read(const char *path, size_t max_pixels, unsigned char **rgb, int *width,
                                int *height, char *err, size_t errlen)
{
    cc_image img = {0, 0, NULL, 0};
    cc_error e;
    if (!rgb || !width || !height) {
        snprintf(e.msg, sizeof e.msg, "cnncam_image_read: rgb, width and height must point somewhere");
        return report(CC_EINVAL, &e, err, errlen);
    }
    *rgb = NULL;
    cc_status st = cc_image_read(path, max_pixels ? max_pixels : 64000000, &img, &e);
    if (!st && (st = cc_image_apply_orientation(&img, NULL, &e)))
        cc_image_free(&img);
    if (!st)
        *rgb = img.rgb, *width = img.width, *height = img.height;
    return report(st, &e, err, errlen);
}

cnncam_status cnncam_image_read_channels(const char *path, size_t max_pixels, int channels, unsigned char **pixels,
                                         int *width, int *height, char *err, size_t errlen)
{
    return cnncam_image_read_pixels(path, max_pixels, channels, 0, pixels, width, height, err, errlen);
}

cnncam_status cnncam_image_read_pixels(const char *path, size_t max_pixels, int channels, int flags,
                                       unsigned char **pixels, int *width, int *height, char *err, size_t errlen)
{
    cc_image img = {0};
    cc_error e;
    unsigned char *alpha = NULL;
    if (!pixels || !width || !height) {
        snprintf(e.msg, sizeof e.msg, "cnncam_image_read_pixels: pixels, width and height must point somewhere");
        return report(CC_EINVAL, &e, err, errlen);
    }
    const int upright = !(flags & CNNCAM_IMAGE_STORED_ORIENTATION);
    *pixels = NULL;
    if (channels != 1 && channels != 3 && channels != 4) {
        snprintf(e.msg, sizeof e.msg, "an image file gives 1 (gray), 3 (RGB) or 4 (RGBA) channels, not %d",
                 channels);
        return report(CC_EINVAL, &e, err, errlen);
    }
    cc_status st = cc_image_read_alpha(path, max_pixels ? max_pixels : 64000000, &img,
                                       channels == 4 ? &alpha : NULL, &e);
    if (!st && upright && (st = cc_image_apply_orientation(&img, channels == 4 ? &alpha : NULL, &e)))
        cc_image_free(&img), free(alpha);
    if (st)
        return report(st, &e, err, errlen);
    const size_t n = (size_t)img.width * (size_t)img.height;
    unsigned char *px = channels == 3 ? img.rgb : malloc(n * (size_t)channels);
    if (!px) {
        cc_image_free(&img);
        free(alpha);
        snprintf(e.msg, sizeof e.msg, "%s: out of memory for a %dx%d image", path, img.width, img.height);
        return report(CC_ENOMEM, &e, err, errlen);
    }
    if (channels == 1)
        cc_channels_convert(px, 1, img.rgb, 3, n);
    if (channels == 4)
        cc_channels_join_alpha(px, img.rgb, alpha, n);
    *pixels = px, *width = img.width, *height = img.height;
    if (px != img.rgb)
        cc_image_free(&img);
    free(alpha);
    return CNNCAM_OK;
}

void cnncam_image_free(unsigned char *rgb)
{
    free(rgb);
}

cnncam_status cnncam_image_write(const char *path, const unsigned char *rgb, int width, int height,
                                 char *err, size_t errlen)
{
    return cnncam_image_write_quality(path, rgb, width, height, 0, err, errlen);
}

cnncam_status cnncam_image_write_quality(const char *path, const unsigned char *rgb, int width, int height,
                                         int quality, char *err, size_t errlen)
{
    const cc_image img = {width, height, (unsigned char *)rgb, 0};
    cc_error e;
    return report(cc_image_write(path, &img, quality, &e), &e, err, errlen);
}

cnncam_status cnncam_deprocess_image(const float *gb, const float *mask, int width, int height, int channels,
                                     unsigned char *out, char *err, size_t errlen)
{
    cc_error e;
    if (!gb || !out || width < 1 || height < 1 || channels < 1 || channels > CNNCAM_MAX_CHANNELS ||
        (size_t)width * (size_t)height > CC_MAX_NUMEL) {
        snprintf(e.msg, sizeof e.msg, "cnncam_deprocess_image: %s", !gb || !out ? "gb and out are needed"
                 : "the gradient must be 1 to 2^30 pixels of 1 to 64 channels");
        return report(CC_EINVAL, &e, err, errlen);
    }
    cc_deprocess(out, gb, mask, (size_t)width * (size_t)height, channels);
    return CNNCAM_OK;
}
