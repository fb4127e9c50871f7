/* cam/combine.c — per-layer normalise + resize, mean over layers, final
 * normalise; see combine.h. */
#include "cam/combine.h"

#include "cam/normalize.h"
#include "cam/resize.h"

#include <assert.h>

size_t cc_cam_combine_scratch_floats(const int *h, const int *w, int L, int H, int W)
{
    size_t big = 0;
    for (int l = 0; l < L; l++)
        if ((size_t)h[l] * w[l] > big)
            big = (size_t)h[l] * w[l];
    return big + (size_t)H * W;
}

void cc_cam_layer_upsample(float *out, int H, int W, const float *cam, int h, int w,
                           float *scratch)
{
    cc_cam_normalize(scratch, cam, (size_t)h * w);
    cc_cam_resize(out, H, W, scratch, h, w);
}

void cc_cam_combine(float *out, const float *const *cams, const int *h, const int *w, int L,
                    int H, int W, float *scratch)
{
    assert(L >= 1);
    size_t n = (size_t)H * W;
    float *layer = scratch;                /* H×W */
    float *small = scratch + n;            /* largest h*w */
    for (int l = 0; l < L; l++) {
        cc_cam_layer_upsample(l == 0 ? out : layer, H, W, cams[l], h[l], w[l], small);
        if (l == 0) {
            for (size_t i = 0; i < n; i++)
                out[i] = out[i] > 0.0f ? out[i] : 0.0f;
        } else {
            for (size_t i = 0; i < n; i++)
                out[i] += layer[i] > 0.0f ? layer[i] : 0.0f;
        }
    }
    float count = (float)L;
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] / count;
    cc_cam_normalize(out, out, n);
}
