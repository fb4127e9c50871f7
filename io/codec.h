/* io/codec.h — what io/image.c shares with the format files io/jpeg.c and
 * io/png.c. A codec gets bytes from a FILE or from memory, checks the size
 * its header declares with cc_image_check_size before allocating, and turns
 * every libjpeg/libpng error into a status and a message. */
#ifndef CC_CODEC_H
#define CC_CODEC_H

#include "image.h"

#include <stdio.h>

typedef struct {
    FILE *fp;                   /* read from here when not NULL (positioned at byte 0), */
    const unsigned char *data;  /* else from these size bytes */
    size_t size;
    const char *name;           /* the path or label that starts every message */
} cc_image_source;

cc_status cc_jpeg_decode(const cc_image_source *src, size_t max_pixels, cc_image *out, cc_error *err);
/* alpha: NULL drops it; else *alpha receives width*height bytes (malloc). */
cc_status cc_png_decode(const cc_image_source *src, size_t max_pixels, cc_image *out, unsigned char **alpha,
                        cc_error *err);

/* Write the whole file to fp; the caller opened it and commits or aborts it. */
cc_status cc_jpeg_encode(FILE *fp, const char *name, const cc_image *img, int quality, cc_error *err);
cc_status cc_png_encode(FILE *fp, const char *name, const cc_image *img, cc_error *err);

/* A declared width x height is usable: at least one pixel, at most
 * max_pixels, and 3*width*height bytes fit in memory arithmetic. */
cc_status cc_image_check_size(const char *name, const char *format, unsigned long width,
                              unsigned long height, size_t max_pixels, cc_error *err);

#endif
