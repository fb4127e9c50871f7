/* image/preprocess.c — normalisation, torchvision's resize rule and centre
 * crop, and the recipe that chains them; see preprocess.h. */
#include "image/preprocess.h"
#include "image/channels.h"

#include <math.h>
#include <string.h>

void cc_preprocess_normalize(float *out, const unsigned char *rgb, int H, int W,
                             const float mean[3], const float std[3])
{
    cc_channels_normalize(out, rgb, 3, (size_t)H * W, mean, std);
}

cc_status cc_preprocess_resize_size(int h, int w, int S, int *H, int *W, cc_error *err)
{
    if (h < 1 || w < 1)
        return cc_fail(err, CC_EINVAL, "resize: image is %dx%d; both sides must be at least 1", w, h);
    if (S < 1)
        return cc_fail(err, CC_EINVAL, "resize: shorter side %d must be at least 1 (0 disables the resize)", S);
    int shorter = w <= h ? w : h, longer = w <= h ? h : w;
    double l = (double)S * longer / shorter;
    if (l * S > (double)CC_MAX_NUMEL)
        return cc_fail(err, CC_EINVAL,
                       "resize: a %dx%d image with its shorter side at %d would be %.0f pixels, "
                       "past the limit of %zu; choose a smaller size or crop the image first",
                       w, h, S, l * S, (size_t)CC_MAX_NUMEL);
    int nl = (int)l;
    *W = w <= h ? S : nl;
    *H = w <= h ? nl : S;
    return CC_OK;
}

/* Python's int(round(d / 2.0)) for d >= 0: halves go to the even neighbour. */
static int half_even(int d)
{
    int q = d / 2;
    return (d % 2 && q % 2) ? q + 1 : q;
}

static int crop_start(int n, int c)
{
    return c > n ? -((c - n) / 2) : half_even(n - c);
}

void cc_preprocess_crop_origin(int h, int w, int ch, int cw, int *top, int *left)
{
    *top = crop_start(h, ch);
    *left = crop_start(w, cw);
}

void cc_preprocess_center_crop(unsigned char *out, int ch, int cw, const unsigned char *rgb,
                               int h, int w)
{
    int top, left;
    cc_preprocess_crop_origin(h, w, ch, cw, &top, &left);
    for (int y = 0; y < ch; y++) {
        unsigned char *o = out + (size_t)y * cw * 3;
        int sy = y + top;
        if (sy < 0 || sy >= h) {
            memset(o, 0, (size_t)cw * 3);
            continue;
        }
        for (int x = 0; x < cw; x++) {
            int sx = x + left;
            for (int c = 0; c < 3; c++)
                o[3 * x + c] = sx >= 0 && sx < w ? rgb[((size_t)sy * w + sx) * 3 + c] : 0;
        }
    }
}

cc_status cc_preprocess_plan_make(cc_preprocess_plan *plan, const cc_preprocess_opts *opts,
                                  int h, int w, cc_error *err)
{
    if (h < 1 || w < 1 || (size_t)h * w > CC_MAX_NUMEL)
        return cc_fail(err, CC_EINVAL, "preprocess: image is %dx%d; each side must be at least 1 "
                       "and the image at most %zu pixels", w, h, (size_t)CC_MAX_NUMEL);
    if (opts->filter != CC_RESAMPLE_BILINEAR && opts->filter != CC_RESAMPLE_BICUBIC)
        return cc_fail(err, CC_EINVAL, "preprocess: resampling filter %d is not bilinear (%d) "
                       "or bicubic (%d)", (int)opts->filter, CC_RESAMPLE_BILINEAR, CC_RESAMPLE_BICUBIC);
    if ((opts->crop_h == 0) != (opts->crop_w == 0) || opts->crop_h < 0 || opts->crop_w < 0 ||
        (size_t)opts->crop_h * opts->crop_w > CC_MAX_NUMEL)
        return cc_fail(err, CC_EINVAL, "preprocess: centre crop %dx%d; give both sides "
                       "(at least 1, at most %zu pixels in all) or neither",
                       opts->crop_w, opts->crop_h, (size_t)CC_MAX_NUMEL);
    for (int c = 0; c < 3; c++)
        if (!isfinite(opts->mean[c]) || !isfinite(opts->std[c]) || opts->std[c] == 0.0f)
            return cc_fail(err, CC_EINVAL, "preprocess: mean[%d] = %g, std[%d] = %g; both must be "
                           "finite and std non-zero", c, (double)opts->mean[c], c,
                           (double)opts->std[c]);
    plan->rh = h;
    plan->rw = w;
    if (opts->resize) {
        cc_status st = cc_preprocess_resize_size(h, w, opts->resize, &plan->rh, &plan->rw, err);
        if (st)
            return st;
    }
    plan->out_h = opts->crop_h ? opts->crop_h : plan->rh;
    plan->out_w = opts->crop_w ? opts->crop_w : plan->rw;
    size_t resized = opts->resize ? (size_t)plan->rh * plan->rw * 3 : 0;
    size_t cropped = opts->crop_h ? (size_t)plan->out_h * plan->out_w * 3 : 0;
    size_t resample = opts->resize
        ? cc_resample_scratch_bytes(h, w, plan->rh, plan->rw, opts->filter) : 0;
    /* resized image, cropped image, then the resampler's own scratch, each
     * rounded up to 8 bytes */
    plan->scratch_bytes = (resized + 7) / 8 * 8 + (cropped + 7) / 8 * 8 + resample;
    return CC_OK;
}

const unsigned char *cc_preprocess_transform(const unsigned char *rgb, int h, int w,
                                             const cc_preprocess_opts *opts,
                                             const cc_preprocess_plan *plan, void *scratch)
{
    unsigned char *base = scratch;
    size_t resized = opts->resize ? (size_t)plan->rh * plan->rw * 3 : 0;
    size_t cropped = opts->crop_h ? (size_t)plan->out_h * plan->out_w * 3 : 0;
    unsigned char *rbuf = base, *cbuf = base + (resized + 7) / 8 * 8;
    void *rscratch = cbuf + (cropped + 7) / 8 * 8;
    const unsigned char *img = rgb;
    if (opts->resize) {
        cc_resample_rgb(rbuf, plan->rh, plan->rw, rgb, h, w, opts->filter, rscratch);
        img = rbuf;
    }
    if (opts->crop_h) {
        cc_preprocess_center_crop(cbuf, plan->out_h, plan->out_w, img, plan->rh, plan->rw);
        img = cbuf;
    }
    return img;
}

void cc_preprocess_run(float *out, const unsigned char *rgb, int h, int w,
                       const cc_preprocess_opts *opts, const cc_preprocess_plan *plan,
                       void *scratch)
{
    const unsigned char *img = cc_preprocess_transform(rgb, h, w, opts, plan, scratch);
    cc_preprocess_normalize(out, img, plan->out_h, plan->out_w, opts->mean, opts->std);
}
