/* tests/test_preprocess.c — input preprocessing against torchvision 0.14 and
 * Pillow 9.4, replaying tests/fixtures/gradcam.ccgf (tests/gen_gradcam_fixtures.py):
 *   - ToTensor + Normalize (ImageNet mean/std) on all 256 values of every
 *     channel: bit-identical;
 *   - Pillow's antialiased Image.resize, BILINEAR and BICUBIC, on a crop of a
 *     photo: shrinking (torchvision's Resize(72), a strong 200x150 -> 13x11),
 *     enlarging, barely shrinking, one axis only: within ±1 per value and at
 *     most 1% of values off by 1 (it is exact here: the counts are printed);
 *   - torchvision's Resize(S) size rule and CenterCrop origin, padding
 *     included: exact;
 *   - the whole recipe Resize -> CenterCrop -> ToTensor -> Normalize: within
 *     1 ulp (exact: printed);
 *   - the argument checks of the plan.
 * Usage: test_preprocess [FIXTURE]   (default tests/fixtures/gradcam.ccgf) */
#include "image/preprocess.h"
#include "image/resample.h"
#include "tensorfile.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const float MEAN[3] = {0.485f, 0.456f, 0.406f}, STD[3] = {0.229f, 0.224f, 0.225f};

/* Largest distance in units in the last place between two floats. */
static long ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if (ia < 0)
        ia = INT32_MIN - ia;
    if (ib < 0)
        ib = INT32_MIN - ib;
    return labs((long)ia - (long)ib);
}

static void compare_ulp(const char *what, const float *got, const float *want, size_t n, long max_ulp)
{
    long worst = 0;
    size_t differ = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        long u = ulps(got[i], want[i]);
        differ += u != 0;
        if (u > worst) {
            worst = u;
            at = i;
        }
    }
    printf("%-58s max %ld ulp, %zu/%zu bit-identical\n", what, worst, n - differ, n);
    if (worst > max_ulp)
        fprintf(stderr, "  %s: [%zu] got %.9g, want %.9g\n", what, at, (double)got[at], (double)want[at]);
    tu_check(worst <= max_ulp, "%s: %ld ulp apart (limit %ld), %zu values differ", what, worst,
             max_ulp, differ);
}

static void test_normalize(const tf_file *f)
{
    const tf_tensor *in = tf_get(f, 'B', "pre/norm/in"), *want = tf_get(f, 'f', "pre/norm/out");
    if (!in || !want || in->rank != 3 || want->n != in->n)
        return;
    int H = in->dims[0], W = in->dims[1];
    float *got = tu_alloc(want->n * sizeof(float));
    cc_preprocess_normalize(got, in->data, H, W, MEAN, STD);
    compare_ulp("ToTensor + Normalize, all 256 values per channel", got, want->data, want->n, 0);
    free(got);
}

static void test_resample(const tf_file *f)
{
    const tf_tensor *img = tf_get(f, 'B', "pre/img");
    if (!img || img->rank != 3)
        return;
    int IH = img->dims[0], IW = img->dims[1];
    const unsigned char *base = img->data;
    int cases = 0;
    for (int k = 0;; k++) {
        char name[96];
        snprintf(name, sizeof name, "pre/rs/%d/meta", k);
        int found = 0;
        for (int i = 0; i < f->count; i++)
            found |= !strcmp(f->t[i].name, name);
        if (!found)
            break;
        const tf_tensor *meta = tf_get(f, 'i', "pre/rs/%d/meta", k);
        const tf_tensor *want = tf_get(f, 'B', "pre/rs/%d/out", k);
        if (!meta || !want || meta->n != 7)
            continue;
        const int32_t *m = meta->data;
        int y0 = m[0], x0 = m[1], h = m[2], w = m[3], H = m[4], W = m[5];
        cc_resample_filter filt = (cc_resample_filter)m[6];
        if (y0 + h > IH || x0 + w > IW || want->n != (size_t)H * W * 3) {
            tu_check(0, "resample case %d: inconsistent fixture", k);
            continue;
        }
        unsigned char *src = tu_alloc((size_t)h * w * 3);
        for (int y = 0; y < h; y++)
            memcpy(src + (size_t)y * w * 3, base + ((size_t)(y0 + y) * IW + x0) * 3, (size_t)w * 3);
        size_t sb = cc_resample_scratch_bytes(h, w, H, W, filt);
        void *scratch = tu_alloc(sb);
        unsigned char *out = tu_alloc((size_t)H * W * 3);
        cc_resample_rgb(out, H, W, src, h, w, filt, scratch);
        const unsigned char *ref = want->data;
        int worst = 0;
        size_t differ = 0;
        for (size_t i = 0; i < want->n; i++) {
            int d = abs(out[i] - ref[i]);
            worst = d > worst ? d : worst;
            differ += d != 0;
        }
        snprintf(name, sizeof name, "PIL %s %dx%d -> %dx%d", filt == CC_RESAMPLE_BICUBIC ?
                 "bicubic " : "bilinear", w, h, W, H);
        printf("%-58s max |diff| %d, %zu of %zu values differ\n", name, worst, differ, want->n);
        tu_check(worst <= 1 && differ * 100 <= want->n, "%s: max |diff| %d (limit 1), %zu values "
                 "differ (limit 1%%)", name, worst, differ);
        free(out);
        free(scratch);
        free(src);
        cases++;
    }
    tu_check(cases >= 10, "resample: only %d cases in the fixture", cases);
}

static void test_sizes(const tf_file *f)
{
    const tf_tensor *t = tf_get(f, 'i', "pre/size");
    if (t && t->rank == 2 && t->dims[1] == 5) {
        const int32_t *r = t->data;
        for (int i = 0; i < t->dims[0]; i++, r += 5) {
            int H = -1, W = -1;
            cc_error err;
            cc_status st = cc_preprocess_resize_size(r[0], r[1], r[2], &H, &W, &err);
            tu_check(st == CC_OK && H == r[3] && W == r[4],
                     "Resize(%d) of %dx%d (w x h): got %dx%d, torchvision %dx%d", r[2], r[1], r[0],
                     W, H, r[4], r[3]);
        }
    }
    t = tf_get(f, 'i', "pre/crop");
    if (t && t->rank == 2 && t->dims[1] == 6) {
        const int32_t *r = t->data;
        for (int i = 0; i < t->dims[0]; i++, r += 6) {
            int top, left;
            cc_preprocess_crop_origin(r[0], r[1], r[2], r[3], &top, &left);
            tu_check(top == r[4] && left == r[5],
                     "CenterCrop(%d, %d) of %dx%d (h x w): origin (%d, %d), torchvision (%d, %d)",
                     r[2], r[3], r[0], r[1], top, left, r[4], r[5]);
            /* the crop itself, on an image of coordinates */
            int h = r[0], w = r[1], ch = r[2], cw = r[3];
            unsigned char *img = tu_alloc((size_t)h * w * 3), *out = tu_alloc((size_t)ch * cw * 3);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    img[((size_t)y * w + x) * 3 + 0] = (unsigned char)(y + 1);
                    img[((size_t)y * w + x) * 3 + 1] = (unsigned char)(x + 1);
                    img[((size_t)y * w + x) * 3 + 2] = 7;
                }
            cc_preprocess_center_crop(out, ch, cw, img, h, w);
            int bad = 0;
            for (int y = 0; y < ch; y++)
                for (int x = 0; x < cw; x++) {
                    int sy = y + r[4], sx = x + r[5], in = sy >= 0 && sy < h && sx >= 0 && sx < w;
                    const unsigned char *p = out + ((size_t)y * cw + x) * 3;
                    bad += in ? (p[0] != (sy + 1) % 256 || p[1] != (sx + 1) % 256 || p[2] != 7)
                              : (p[0] || p[1] || p[2]);
                }
            tu_check(!bad, "CenterCrop(%d, %d) of %dx%d: %d pixels wrong", ch, cw, h, w, bad);
            free(out);
            free(img);
        }
    }
}

static void test_eval(const tf_file *f)
{
    const tf_tensor *img = tf_get(f, 'B', "pre/img");
    if (!img || img->rank != 3)
        return;
    for (int k = 0; k < 3; k++) {
        const tf_tensor *meta = tf_get(f, 'i', "pre/eval/%d/meta", k);
        const tf_tensor *want = tf_get(f, 'f', "pre/eval/%d/out", k);
        if (!meta || !want || meta->n != 4)
            continue;
        const int32_t *m = meta->data;
        cc_preprocess_opts o = {m[0], m[1], m[2], (cc_resample_filter)m[3],
                                {MEAN[0], MEAN[1], MEAN[2]}, {STD[0], STD[1], STD[2]}};
        cc_preprocess_plan plan;
        cc_error err;
        cc_status st = cc_preprocess_plan_make(&plan, &o, img->dims[0], img->dims[1], &err);
        tu_check(st == CC_OK, "eval recipe %d: plan failed: %s", k, st ? err.msg : "");
        if (st || want->n != (size_t)3 * plan.out_h * plan.out_w) {
            tu_check(0, "eval recipe %d: output %dx%d disagrees with the fixture", k, plan.out_w,
                     plan.out_h);
            continue;
        }
        void *scratch = tu_alloc(plan.scratch_bytes);
        float *out = tu_alloc(want->n * sizeof(float));
        cc_preprocess_run(out, img->data, img->dims[0], img->dims[1], &o, &plan, scratch);
        char name[128];
        snprintf(name, sizeof name, "Resize(%d, %s) + CenterCrop(%d, %d) + ToTensor + Normalize",
                 m[0], o.filter == CC_RESAMPLE_BICUBIC ? "bicubic" : "bilinear", m[1], m[2]);
        compare_ulp(name, out, want->data, want->n, 1);
        free(out);
        free(scratch);
    }
}

static void test_errors(void)
{
    cc_preprocess_opts o = {0, 0, 0, CC_RESAMPLE_BILINEAR, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}};
    cc_preprocess_plan p;
    cc_error err;
    tu_check(cc_preprocess_plan_make(&p, &o, 30, 40, &err) == CC_OK && p.out_h == 30 &&
             p.out_w == 40 && p.scratch_bytes == 0, "plan without resize or crop: the image as is");
    o.crop_h = 5;
    tu_check(cc_preprocess_plan_make(&p, &o, 30, 40, &err) == CC_EINVAL && strstr(err.msg, "crop"),
             "plan: a crop with one side given is refused");
    o.crop_h = 0;
    o.std[1] = 0;
    tu_check(cc_preprocess_plan_make(&p, &o, 30, 40, &err) == CC_EINVAL && strstr(err.msg, "std[1]"),
             "plan: std 0 is refused and named");
    o.std[1] = 0.5f;
    o.filter = (cc_resample_filter)7;
    tu_check(cc_preprocess_plan_make(&p, &o, 30, 40, &err) == CC_EINVAL && strstr(err.msg, "filter"),
             "plan: an unknown filter is refused");
    o.filter = CC_RESAMPLE_BICUBIC;
    tu_check(cc_preprocess_plan_make(&p, &o, 0, 40, &err) == CC_EINVAL, "plan: an empty image is refused");
    int H, W;
    tu_check(cc_preprocess_resize_size(30, 40, -2, &H, &W, &err) == CC_EINVAL && strstr(err.msg, "-2"),
             "resize size: a negative side is refused and named");
    tu_check(cc_preprocess_resize_size(1, 100000, 40000, &H, &W, &err) == CC_EINVAL &&
             strstr(err.msg, "limit"), "resize size: an oversize result is refused");
    tu_check(cc_resample_scratch_bytes(10, 12, 10, 12, CC_RESAMPLE_BILINEAR) == 0,
             "resample: equal sizes need no scratch");
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "tests/fixtures/gradcam.ccgf";
    tf_file f;
    if (tf_load(&f, path)) {
        tu_check(0, "%s: cannot load the fixture", path);
        return tu_finish("test_preprocess");
    }
    test_normalize(&f);
    test_resample(&f);
    test_sizes(&f);
    test_eval(&f);
    test_errors();
    tf_free(&f);
    return tu_finish("test_preprocess");
}
