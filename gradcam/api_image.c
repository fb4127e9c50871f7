/* gradcam/api_image.c — the public image-file functions of include/cnncam.h,
 * over io/image.h. */
#include "cnncam.h"
#include "io/image.h"

#include <stdio.h>
#include <stdlib.h>

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

void cnncam_image_free(unsigned char *rgb)
{
    free(rgb);
}

cnncam_status cnncam_image_write(const char *path, const unsigned char *rgb, int width, int height,
                                 char *err, size_t errlen)
{
    const cc_image img = {width, height, (unsigned char *)rgb, 0};
    cc_error e;
    return report(cc_image_write(path, &img, 0, &e), &e, err, errlen);
}
