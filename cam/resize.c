/* cam/resize.c — OpenCV INTER_LINEAR on float32; see resize.h.
 * Every product and sum below is a separate float operation, as in OpenCV's
 * float path: no fused multiply-add (GCC's -std=c11 keeps contraction off;
 * clang is told by the pragma). */
#include "cam/resize.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Source index and fractional weight of output index d on an axis whose
 * source/destination ratio is scale, before any border handling. */
static void axis_coef(int d, double scale, int *s, float *f)
{
    float fx = (float)((d + 0.5) * scale - 0.5);
    float fl = floorf(fx);
    *s = (int)fl;
    *f = fx - fl;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* OpenCV's INTER_AREA fast path for an exact 2× shrink; see resize.h. */
static void resize_half(float *out, int H, int W, const float *src, int w)
{
    int vec = W / 4 * 4;
    for (int y = 0; y < H; y++) {
        const float *r0 = src + (size_t)2 * y * w, *r1 = r0 + w;
        float *o = out + (size_t)y * W;
        for (int x = 0; x < W; x++) {
            float a = r0[2 * x], b = r0[2 * x + 1], c = r1[2 * x], d = r1[2 * x + 1];
            o[x] = x < vec ? ((a + b) + (c + d)) * 0.25f : (((a + b) + c) + d) * 0.25f;
        }
    }
}

void cc_cam_resize(float *out, int H, int W, const float *src, int h, int w)
{
    assert(H >= 1 && W >= 1 && h >= 1 && w >= 1);
    if (H == h && W == w) {
        memcpy(out, src, (size_t)H * W * sizeof *out);
        return;
    }
    if (h == 2 * H && w == 2 * W) {
        resize_half(out, H, W, src, w);
        return;
    }
    double scale_x = 1.0 / ((double)W / w), scale_y = 1.0 / ((double)H / h);
    for (int dy = 0; dy < H; dy++) {
        int sy;
        float fy;
        axis_coef(dy, scale_y, &sy, &fy);
        float b0 = 1.0f - fy, b1 = fy;
        const float *r0 = src + (size_t)clampi(sy, 0, h - 1) * w;
        const float *r1 = src + (size_t)clampi(sy + 1, 0, h - 1) * w;
        float *o = out + (size_t)dy * W;
        for (int dx = 0; dx < W; dx++) {
            int sx;
            float fx, t0, t1;
            axis_coef(dx, scale_x, &sx, &fx);
            if (sx < 0) {
                sx = 0;
                fx = 0.0f;
            }
            if (sx >= w - 1) {        /* right border: the last source column */
                t0 = r0[w - 1];
                t1 = r1[w - 1];
            } else {
                float a0 = 1.0f - fx, a1 = fx;
                t0 = r0[sx] * a0 + r0[sx + 1] * a1;
                t1 = r1[sx] * a0 + r1[sx + 1] * a1;
            }
            o[dx] = b0 * t0 + b1 * t1;
        }
    }
}
