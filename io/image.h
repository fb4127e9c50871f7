/* io/image.h — JPEG and PNG files to and from 8-bit RGB.
 *
 * Reading gives what Pillow's Image.open(path).convert('RGB') gives, so a model
 * sees the same pixels here as in Python (tests/test_image_io.c checks this
 * against Pillow's own decode, tests/fixtures/image_pixels.txt):
 *  - the format comes from the first bytes, never from the extension;
 *  - JPEG: libjpeg-turbo with its defaults (islow IDCT, fancy upsampling), as
 *    Pillow uses it; grayscale is replicated to R=G=B; CMYK and YCCK are taken
 *    as Adobe (inverted) CMYK, as Photoshop writes them and Pillow assumes
 *    with or without the Adobe marker, and turned into RGB by Pillow's formula
 *    R = (255-K) - round(C*(255-K)/255);
 *  - the EXIF orientation tag is NOT applied (neither does Pillow unless asked
 *    with ImageOps.exif_transpose) but reported in cc_image.orientation;
 *    cc_image_apply_orientation then turns the picture upright, as
 *    exif_transpose and cv2.imread do;
 *  - PNG: every colour type and bit depth, palettes, Adam7 interlacing; alpha
 *    and tRNS transparency are dropped, not composited over a background
 *    (Pillow's convert('RGB') drops them too); bit depths 1, 2, 4 are scaled to
 *    0..255; 16-bit samples keep their high byte, as Pillow does for 16-bit
 *    RGB, RGBA and gray+alpha. 16-bit GRAY is the one difference: Pillow opens
 *    it as mode "I" and convert('RGB') clips the value to 255, so almost every
 *    pixel is white; here it keeps the high byte like the other 16-bit types.
 *    Gamma, sBIT and ICC profiles are ignored, as Pillow ignores them;
 *  - damaged data is an error, never a guess: a JPEG that libjpeg would patch
 *    with gray after "Premature end of JPEG file" (or any warning about corrupt
 *    entropy data, including extraneous bytes before a marker) and a PNG with
 *    a CRC error in a critical chunk, missing image data or a missing IEND are
 *    rejected. Warnings about metadata only (an unknown JFIF version, a bad ICC
 *    marker, an ancillary PNG chunk) are not.
 *
 * Nothing here prints, exits or keeps state between calls. */
#ifndef CC_IMAGE_H
#define CC_IMAGE_H

#include "core/base.h"

#include <stddef.h>

/* 8-bit RGB, row-major, 3 bytes per pixel, no padding; rgb is owned (malloc)
 * and released by cc_image_free. orientation is the EXIF Orientation tag the
 * file stores (io/exif.h: a JPEG's APP1 Exif, a PNG's eXIf before IDAT), 2..8;
 * 0 or 1 when the pixels are upright as stored. */
typedef struct {
    int width, height;
    unsigned char *rgb;
    int orientation;
} cc_image;

/* Pillow's Image.MAX_IMAGE_PIXELS (about 89.5 megapixels): a default for
 * --max-pixels that any real photo passes and a decompression bomb does not. */
#define CC_IMAGE_DEFAULT_MAX_PIXELS ((size_t)89478485)

/* What cc_image_write uses for JPEG when given jpeg_quality 0. */
#define CC_JPEG_DEFAULT_QUALITY 95

/* Reads a JPEG or PNG file. Width times height is checked against max_pixels
 * from the header, before any pixel memory is allocated; a larger image is a
 * CC_EFORMAT error that names both numbers and --max-pixels. On any error *out
 * is {0, 0, NULL} and nothing is left allocated. */
cc_status cc_image_read(const char *path, size_t max_pixels, cc_image *out, cc_error *err);

/* The same from size bytes in memory; name only labels messages. */
cc_status cc_image_decode(const void *data, size_t size, const char *name, size_t max_pixels,
                          cc_image *out, cc_error *err);

/* The same, and *alpha (NULL: not wanted) receives the alpha channel, width x
 * height bytes (malloc'ed), as Pillow's convert('RGBA') gives it: a PNG's
 * alpha channel, its palette's tRNS entries, 0 where a gray or RGB pixel
 * equals its tRNS colour; 255 everywhere for files without transparency
 * (every JPEG). On error *alpha is NULL. */
cc_status cc_image_read_alpha(const char *path, size_t max_pixels, cc_image *out, unsigned char **alpha,
                              cc_error *err);
cc_status cc_image_decode_alpha(const void *data, size_t size, const char *name, size_t max_pixels,
                                cc_image *out, unsigned char **alpha, cc_error *err);

/* Frees img->rgb and zeroes *img; NULL and a zeroed image are fine. */
void cc_image_free(cc_image *img);

/* Turns img upright as img->orientation says, exactly as Pillow's
 * ImageOps.exif_transpose (2 mirror, 3 rotate 180, 4 flip, 5 transpose,
 * 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 anticlockwise; 5 to 8 swap
 * width and height), and sets orientation to 1. alpha (NULL: none) is a
 * width x height plane turned with it. On failure (CC_ENOMEM) img and alpha
 * are unchanged. */
cc_status cc_image_apply_orientation(cc_image *img, unsigned char **alpha, cc_error *err);

/* The pixel turn itself: dst (w x h, swapped for 5..8) from src (width x
 * height, `channels` bytes per pixel). */
void cc_orient_pixels(unsigned char *dst, const unsigned char *src, int width, int height, int channels,
                      int orientation);

/* Writes img as PNG (8-bit RGB, zlib's default compression) or JPEG (baseline,
 * 4:4:4 — no chroma subsampling, so the sharp colour edges of a heatmap
 * overlay survive — optimised Huffman tables, JFIF header), chosen by the
 * extension: .png, .jpg or .jpeg in any case; anything else is CC_EINVAL.
 * jpeg_quality is 1..100, or 0 for CC_JPEG_DEFAULT_QUALITY; it is checked for
 * PNG too. The file appears atomically (io/atomic.h): a temporary file next
 * to it, renamed over path when complete; on any error path is untouched and
 * no temporary file remains. */
cc_status cc_image_write(const char *path, const cc_image *img, int jpeg_quality, cc_error *err);

#endif
