/* image/channels.c — channel layouts and normalisation; see channels.h. */
#include "image/channels.h"

#include <stdio.h>
#include <string.h>

static int known(int c)
{
    return c == 1 || c == 3 || c == 4;
}

int cc_channels_convertible(int from, int to)
{
    return from >= 1 && (from == to || (known(from) && known(to)));
}

/* Pillow's L24 (Convert.c), shifted down as rgb2l does. */
static unsigned char luma(const unsigned char *rgb)
{
    return (unsigned char)((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
}

void cc_channels_convert(unsigned char *dst, int to, const unsigned char *src, int from, size_t n)
{
    if (from == to) {
        if (dst != src)
            memcpy(dst, src, n * (size_t)to);
        return;
    }
    for (size_t i = 0; i < n; i++, dst += to, src += from) {
        if (to == 1) {
            dst[0] = luma(src);  /* from RGB or RGBA */
            continue;
        }
        for (int c = 0; c < 3; c++)
            dst[c] = src[from == 1 ? 0 : c];
        if (to == 4)
            dst[3] = 255;  /* from L or RGB: nothing is transparent */
    }
}

void cc_channels_join_alpha(unsigned char *rgba, const unsigned char *rgb, const unsigned char *alpha, size_t n)
{
    for (size_t i = 0; i < n; i++)
        memcpy(rgba + 4 * i, rgb + 3 * i, 3), rgba[4 * i + 3] = alpha[i];
}

void cc_channels_normalize(float *out, const unsigned char *px, int C, size_t n, const float *mean,
                           const float *std)
{
    for (int c = 0; c < C; c++) {
        float *o = out + (size_t)c * n;
        for (size_t i = 0; i < n; i++)
            o[i] = ((float)px[(size_t)C * i + c] / 255.0f - mean[c]) / std[c];
    }
}

const char *cc_channels_name(int channels, char *buf, size_t len)
{
    static const char *const names[5] = {NULL, "gray", NULL, "RGB", "RGBA"};
    if (channels >= 1 && channels <= 4 && names[channels])
        snprintf(buf, len, "%s", names[channels]);
    else
        snprintf(buf, len, "%d-channel", channels);
    return buf;
}
