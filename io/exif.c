/* io/exif.c — the EXIF Orientation tag (io/exif.h) and the eight turns it
 * names (io/image.h: cc_image_apply_orientation).
 *
 * A TIFF block: byte order "II" (little-endian) or "MM" (big), 42, the
 * offset of IFD0; IFD0 is a 16-bit count of 12-byte entries: tag, type,
 * count, and a 4-byte field that holds the value itself when it fits (a
 * SHORT in its first two bytes). Orientation is never an offset, so nothing
 * beyond IFD0's entries is read.
 *
 * The turns, as output pixel (x, y) reads stored pixel (sx, sy) of a W x H
 * grid (Pillow's Image.transpose names in ImageOps.exif_transpose):
 *   1 (x, y)  2 mirror (W-1-x, y)  3 rotate 180 (W-1-x, H-1-y)  4 flip (x, H-1-y)
 *   5 transpose (y, x)  6 rotate 270 (y, H-1-x)  7 transverse (W-1-y, H-1-x)
 *   8 rotate 90 (W-1-y, x)
 * so each is a start pixel and two strides: one along an output row, one
 * from row to row. */
#include "exif.h"
#include "image.h"

#include <stdint.h>
#include <stdlib.h>

static unsigned get16(const unsigned char *p, int big)
{
    return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t get32(const unsigned char *p, int big)
{
    return big ? (uint32_t)get16(p, 1) << 16 | get16(p + 2, 1) : (uint32_t)get16(p + 2, 0) << 16 | get16(p, 0);
}

int cc_exif_orientation(const unsigned char *p, size_t n)
{
    enum { TAG_ORIENTATION = 0x0112, TYPE_SHORT = 3, TYPE_LONG = 4, ENTRY = 12 };
    if (!p || n < 8)
        return 1;
    int big;
    if (p[0] == 'I' && p[1] == 'I')
        big = 0;
    else if (p[0] == 'M' && p[1] == 'M')
        big = 1;
    else
        return 1;
    if (get16(p + 2, big) != 42)
        return 1;
    const uint32_t ifd = get32(p + 4, big);
    if (ifd > n || n - ifd < 2)
        return 1;
    const size_t count = get16(p + ifd, big), room = (n - ifd - 2) / ENTRY;
    int found = 1;
    for (size_t i = 0; i < count && i < room; i++) {  /* entries cut off by the block's end are not read */
        const unsigned char *e = p + ifd + 2 + i * ENTRY;
        if (get16(e, big) != TAG_ORIENTATION || get32(e + 4, big) != 1)
            continue;
        const unsigned type = get16(e + 2, big);
        const uint32_t v = type == TYPE_SHORT ? get16(e + 8, big) : type == TYPE_LONG ? get32(e + 8, big) : 0;
        found = v >= 1 && v <= 8 ? (int)v : 1;
    }
    return found;
}

void cc_orient_pixels(unsigned char *dst, const unsigned char *src, int width, int height, int channels,
                      int orientation)
{
    const ptrdiff_t W = width, H = height, last = W - 1, bottom = (H - 1) * W;
    /* start pixel, stride along an output row, stride to the next output row (in stored pixels) */
    ptrdiff_t start = 0, along = 1, down = W;
    switch (orientation) {
    case 2: start = last, along = -1, down = W; break;
    case 3: start = bottom + last, along = -1, down = -W; break;
    case 4: start = bottom, along = 1, down = -W; break;
    case 5: start = 0, along = W, down = 1; break;
    case 6: start = bottom, along = -W, down = 1; break;
    case 7: start = bottom + last, along = -W, down = -1; break;
    case 8: start = last, along = W, down = -1; break;
    default: break;
    }
    const int swap = orientation >= 5 && orientation <= 8;
    const ptrdiff_t ow = swap ? H : W, oh = swap ? W : H, c = channels;
    for (ptrdiff_t y = 0; y < oh; y++)
        for (ptrdiff_t x = 0, at = start + y * down; x < ow; x++, at += along)
            for (ptrdiff_t k = 0; k < c; k++)
                *dst++ = src[at * c + k];
}

cc_status cc_image_apply_orientation(cc_image *img, unsigned char **alpha, cc_error *err)
{
    const int o = img->orientation;
    if (o < 2 || o > 8 || !img->rgb) {
        img->orientation = 1;
        return CC_OK;
    }
    const size_t n = (size_t)img->width * (size_t)img->height;
    unsigned char *rgb = malloc(n * 3), *a = alpha && *alpha ? malloc(n) : NULL;
    if (!rgb || (alpha && *alpha && !a)) {
        free(rgb), free(a);
        return cc_fail(err, CC_ENOMEM, "out of memory turning a %dx%d image upright (EXIF orientation %d)",
                       img->width, img->height, o);
    }
    cc_orient_pixels(rgb, img->rgb, img->width, img->height, 3, o);
    if (a) {
        cc_orient_pixels(a, *alpha, img->width, img->height, 1, o);
        free(*alpha);
        *alpha = a;
    }
    free(img->rgb);
    img->rgb = rgb;
    if (o >= 5) {
        const int w = img->width;
        img->width = img->height, img->height = w;
    }
    img->orientation = 1;
    return CC_OK;
}
