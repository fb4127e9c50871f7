/* api/api_transform.c — cnncam_resize_crop of include/cnncam.h:
 * torchvision's Resize + CenterCrop on the photo itself, through the one
 * recipe the library has (preprocess.h: cc_preprocess_plan_make and
 * cc_preprocess_transform, the steps cc_preprocess_run normalises after,
 * pinned to torchvision and Pillow by tests/test_preprocess.c). */
#include "cnncam.h"
#include "image/preprocess.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cnncam_status refuse(char *err, size_t errlen, cnncam_status st, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return st;
}

cnncam_status cnncam_resize_crop(const unsigned char *rgb, int width, int height, int resize, int crop_width,
                                 int crop_height, const char *interpolation, unsigned char **out, int *out_width,
                                 int *out_height, char *err, size_t errlen)
{
    char msg[CC_ERROR_LEN];
    if (!out || !out_width || !out_height)
        return refuse(err, errlen, CNNCAM_EINVAL, "cnncam_resize_crop: out, out_width and out_height are needed");
    *out = NULL;
    if (!rgb)
        return refuse(err, errlen, CNNCAM_EINVAL, "cnncam_resize_crop: no image (rgb is NULL)");
    cc_preprocess_opts opts = {resize, crop_height, crop_width, CC_RESAMPLE_BILINEAR, {0, 0, 0}, {1, 1, 1}};
    if (interpolation && !strcmp(interpolation, "bicubic")) {
        opts.filter = CC_RESAMPLE_BICUBIC;
    } else if (interpolation && strcmp(interpolation, "bilinear")) {
        snprintf(msg, sizeof msg, "resize: interpolation '%.64s' is not 'bilinear' or 'bicubic' (the two "
                 "torchvision evaluation recipes use)", interpolation);
        return refuse(err, errlen, CNNCAM_EINVAL, msg);
    }
    if (resize < 0) {
        snprintf(msg, sizeof msg, "resize: shorter side %d; give at least 1, or 0 for no resize", resize);
        return refuse(err, errlen, CNNCAM_EINVAL, msg);
    }
    cc_preprocess_plan plan;
    cc_error e;
    if (cc_preprocess_plan_make(&plan, &opts, height, width, &e))
        return refuse(err, errlen, CNNCAM_EINVAL, e.msg);
    const size_t bytes = (size_t)plan.out_h * plan.out_w * 3;
    unsigned char *pic = malloc(bytes);
    void *scratch = plan.scratch_bytes ? malloc(plan.scratch_bytes) : NULL;
    if (!pic || (plan.scratch_bytes && !scratch)) {
        free(pic);
        free(scratch);
        snprintf(msg, sizeof msg, "out of memory resizing and cropping a %dx%d image to %dx%d", width, height,
                 plan.out_w, plan.out_h);
        return refuse(err, errlen, CNNCAM_ENOMEM, msg);
    }
    memcpy(pic, cc_preprocess_transform(rgb, height, width, &opts, &plan, scratch), bytes);
    free(scratch);
    *out = pic;
    *out_width = plan.out_w;
    *out_height = plan.out_h;
    return CNNCAM_OK;
}
