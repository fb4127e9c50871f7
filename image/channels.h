/* image/channels.h — an image's pixels in the channel layout a model takes,
 * as Pillow's Image.convert gives them, and the normalisation of any number
 * of channels.
 *
 * Layouts are named by their channel count: 1 = "L" (gray), 3 = "RGB",
 * 4 = "RGBA"; pixels are interleaved, row-major. Conversions (Pillow 9.4,
 * libImaging/Convert.c):
 *   RGB or RGBA -> L:  L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16
 *                      (ITU-R 601-2 luma, 0.299 R + 0.587 G + 0.114 B, in
 *                      16-bit fixed point with rounding: Pillow's L24 macro
 *                      in rgb2l; alpha is ignored). Older Pillows computed
 *                      (299 R + 587 G + 114 B) / 1000, which differs for
 *                      9040 of the 2^24 colours;
 *   L -> RGB:          R = G = B = L;
 *   L or RGB -> RGBA:  alpha 255;   RGBA -> RGB: alpha dropped.
 * A layout converts to itself unchanged, whatever its channel count.
 *
 * Normalisation, per channel c (torchvision's ToTensor + Normalize, each
 * step one float32 operation, as preprocess.h's):
 *   out[c][i] = (fl32(px[i][c]) / 255 - mean[c]) / std[c] */
#ifndef CC_CHANNELS_H
#define CC_CHANNELS_H

#include <stddef.h>

/* 1 when pixels with `from` channels can be given to a model taking `to`
 * (equal counts, or both of 1, 3 and 4). */
int cc_channels_convertible(int from, int to);

/* dst (n x to bytes) = src (n x from bytes) converted; cc_channels_convertible
 * must hold. dst and src must not overlap unless from == to and dst == src. */
void cc_channels_convert(unsigned char *dst, int to, const unsigned char *src, int from, size_t n);

/* rgba (n x 4 bytes) = rgb (n x 3) with alpha (n) as the fourth channel: an
 * RGBA image as io/ reads it (RGB and its alpha plane apart). */
void cc_channels_join_alpha(unsigned char *rgba, const unsigned char *rgb, const unsigned char *alpha, size_t n);

/* out (C planes of n floats) from px (n x C bytes). */
void cc_channels_normalize(float *out, const unsigned char *px, int C, size_t n, const float *mean,
                           const float *std);

/* What a layout is called in messages: "gray", "RGB", "RGBA", or "C-channel". */
const char *cc_channels_name(int channels, char *buf, size_t len);

#endif
