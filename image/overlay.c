/* image/overlay.c — reference and clean overlays; see overlay.h. */
#include "image/overlay.h"

#include "image/colormap.h"

#include <assert.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF  /* a*heat + b*img: two products and a sum, as numpy */
#endif

/* The blended value of channel c of pixel i before the global division. */
static float blend(const unsigned char *rgb, const float *mask, size_t i, int c,
                   float wheat, float wimg)
{
    float heat = (float)cc_jet[cc_colormap_index(mask[i])][c] / 255.0f;
    float img = (float)rgb[3 * i + c] / 255.0f;
    return wheat * heat + wimg * img;
}

void cc_overlay_reference(unsigned char *out, const unsigned char *rgb, const float *mask,
                          int H, int W, float image_weight)
{
    assert(H >= 1 && W >= 1 && image_weight >= 0.0f && image_weight <= 1.0f);
    size_t n = (size_t)H * W;
    float wheat = (float)(1.0 - (double)image_weight), wimg = image_weight;
    float top = 0.0f;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            float v = blend(rgb, mask, i, c, wheat, wimg);
            if (v > top)
                top = v;
        }
    /* top > 0 unless image_weight = 1 on a black photo: all zero then */
    for (size_t i = 0; i < n; i++) {
        float v[3];
        for (int c = 0; c < 3; c++)
            v[c] = top > 0.0f ? 255.0f * (blend(rgb, mask, i, c, wheat, wimg) / top) : 0.0f;
        for (int c = 0; c < 3; c++)     /* after all three reads: out may be rgb */
            out[3 * i + c] = (unsigned char)v[c];
    }
}

void cc_overlay_clean(unsigned char *out, const unsigned char *rgb, const float *mask,
                      int H, int W, float alpha)
{
    assert(H >= 1 && W >= 1 && alpha >= 0.0f && alpha <= 1.0f);
    size_t n = (size_t)H * W;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *col = cc_jet[cc_colormap_index(mask[i])];
        for (int c = 0; c < 3; c++) {
            float v = (1.0f - alpha) * rgb[3 * i + c] + alpha * col[c];
            out[3 * i + c] = (unsigned char)(v + 0.5f);
        }
    }
}
