/* io/png.c — PNG through libpng 1.6, to and from 8-bit RGB.
 *
 * libpng's transforms do the conversion Pillow's convert('RGB') does
 * (image.h): palette -> RGB, gray 1/2/4 -> 8 bits by bit replication (x255/(2^d-1)),
 * 16 -> 8 bits by keeping the high byte (png_set_strip_16, Pillow's "RGB;16B"),
 * alpha dropped (png_set_strip_alpha, which also cancels the tRNS expansion
 * png_set_palette_to_rgb asks for), gray -> R=G=B, Adam7 deinterlaced.
 * Asked for alpha, it keeps the alpha channel and expands tRNS into one
 * (png_set_tRNS_to_alpha: a palette's alpha entries; 0 where a gray or RGB
 * pixel equals the tRNS colour), as Pillow's convert('RGBA') does, and
 * hands it over as a separate plane.
 *
 * libpng reports a fatal error through our on_error, which must not return:
 * it longjmps to the setjmp in run_decode/run_encode, and everything that
 * changes after that setjmp lives in a struct owned by the caller, which
 * frees it on every path (see io/jpeg.c). Warnings (ancillary chunks with bad
 * CRCs, odd profiles) leave the pixels alone and are ignored, never printed.
 * Reading stops only at IEND, so a PNG cut anywhere is an error even when
 * all pixels arrived. */
#include "codec.h"
#include "exif.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    jmp_buf jmp;
    char msg[200];
    /* the bytes: a FILE, or memory */
    FILE *fp;
    const unsigned char *data;
    size_t size, pos;
} png_state;

static void on_error(png_structp png, png_const_charp msg)
{
    png_state *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    longjmp(s->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;  /* the library never prints */
}

static void read_bytes(png_structp png, png_bytep dst, size_t n)
{
    png_state *s = png_get_io_ptr(png);
    size_t got;
    if (s->fp) {
        got = fread(dst, 1, n, s->fp);
        if (got < n && ferror(s->fp))
            png_error(png, "read error");
    } else {
        got = n <= s->size - s->pos ? n : s->size - s->pos;
        memcpy(dst, s->data + s->pos, got);
    }
    s->pos += got;
    if (got < n) {
        char msg[96];
        snprintf(msg, sizeof msg, "the file ends after %zu bytes, in the middle of a chunk (truncated)", s->pos);
        png_error(png, msg);
    }
}

/* ---- decoding ---- */

/* The eXIf chunk libpng read before IDAT (raw TIFF, no "Exif\0\0"), as Pillow
 * reads it; one after IDAT is not looked for. */
static int exif_orientation(png_structp png, png_infop info)
{
#ifdef PNG_eXIf_SUPPORTED
    png_uint_32 n = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(png, info, &n, &exif) && exif)
        return cc_exif_orientation(exif, n);
#else
    (void)png, (void)info;
#endif
    return 1;
}

typedef struct {
    png_state state;
    png_structp png;
    png_infop info;
    unsigned char *rgb;
    unsigned char *alpha;  /* when asked for: width*height */
    png_bytep *rows;
} png_reader;

/* Splits n RGBA pixels in place: rgba keeps the RGB (3n bytes), alpha the rest. */
static void split_alpha(unsigned char *rgba, unsigned char *alpha, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        alpha[i] = rgba[4 * i + 3];
        memmove(rgba + 3 * i, rgba + 4 * i, 3);  /* 3i <= 4i: never ahead of the reads */
    }
}

static cc_status run_decode(png_reader *r, const char *name, size_t max_pixels, int want_alpha, cc_image *out,
                            cc_error *err)
{
    if (setjmp(r->state.jmp))
        return cc_fail(err, CC_EFORMAT, "%s: invalid or damaged PNG: %s", name, r->state.msg);
    png_structp png = r->png;
    png_infop info = r->info;
    png_set_read_fn(png, &r->state, read_bytes);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);  /* max_pixels is the limit */
    png_read_info(png, info);
    png_uint_32 width, height;
    int depth, type, interlace;
    png_get_IHDR(png, info, &width, &height, &depth, &type, &interlace, NULL, NULL);
    cc_status st = cc_image_check_size(name, "PNG", width, height, max_pixels, err);
    if (st)
        return st;
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16)
        png_set_strip_16(png);
    if (!want_alpha)
        png_set_strip_alpha(png);
    else if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);  /* Pillow's convert("RGBA"): the palette's alpha, or 0 for the tRNS colour */
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t w = width, h = height, nc = png_get_channels(png, info);
    if ((nc != 3 && !(want_alpha && nc == 4)) || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != w * nc)
        return cc_fail(err, CC_EFORMAT, "%s: libpng converts this PNG (colour type %d, %d bits) to %d channels "
                       "of %d bits, not 8-bit RGB%s",
                       name, type, depth, png_get_channels(png, info), png_get_bit_depth(png, info),
                       want_alpha ? " or RGBA" : "");
    if (!(r->rgb = malloc(w * h * nc)) || !(r->rows = malloc(h * sizeof *r->rows)) ||
        (want_alpha && !(r->alpha = malloc(w * h))))
        return cc_fail(err, CC_ENOMEM, "%s: out of memory for a %zux%zu image", name, w, h);
    for (size_t y = 0; y < h; y++)
        r->rows[y] = r->rgb + y * w * nc;
    png_read_image(png, r->rows);
    png_read_end(png, NULL);
    if (nc == 4) {
        split_alpha(r->rgb, r->alpha, w * h);
        unsigned char *smaller = realloc(r->rgb, w * h * 3);
        if (smaller)
            r->rgb = smaller;
    }
    else if (want_alpha)
        memset(r->alpha, 255, w * h);
    out->width = (int)w;
    out->height = (int)h;
    out->orientation = exif_orientation(png, info);
    out->rgb = r->rgb;
    r->rgb = NULL;
    return CC_OK;
}

cc_status cc_png_decode(const cc_image_source *src, size_t max_pixels, cc_image *out, unsigned char **alpha,
                        cc_error *err)
{
    png_reader *r = calloc(1, sizeof *r);
    if (!r)
        return cc_fail(err, CC_ENOMEM, "%s: out of memory", src->name);
    r->state.fp = src->fp;
    r->state.data = src->data;
    r->state.size = src->size;
    cc_status st;
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r->state, on_error, on_warning);
    if (!r->png || !(r->info = png_create_info_struct(r->png)))
        st = cc_fail(err, CC_ENOMEM, "%s: out of memory starting libpng", src->name);
    else
        st = run_decode(r, src->name, max_pixels, alpha != NULL, out, err);
    if (!st && alpha) {
        *alpha = r->alpha;
        r->alpha = NULL;
    }
    png_destroy_read_struct(&r->png, &r->info, NULL);
    free(r->rows);
    free(r->rgb);
    free(r->alpha);
    free(r);
    return st;
}

/* ---- encoding ---- */

typedef struct {
    png_state state;
    png_structp png;
    png_infop info;
} png_writer;

static cc_status run_encode(png_writer *w, FILE *fp, const char *name, const cc_image *img, cc_error *err)
{
    if (setjmp(w->state.jmp))
        return cc_fail(err, CC_EIO, "%s: cannot write PNG: %s", name, w->state.msg);
    png_init_io(w->png, fp);  /* fwrite; a short write is png_error "Write Error" */
    png_set_user_limits(w->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_IHDR(w->png, w->info, (png_uint_32)img->width, (png_uint_32)img->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* zlib's fastest level: a 224x224 overlay took 17 ms at the default (6)
     * and takes 5 at 1, for 12% more bytes; it is a picture to look at. */
    png_set_compression_level(w->png, 1);
    png_write_info(w->png, w->info);
    size_t stride = (size_t)img->width * 3;
    for (int y = 0; y < img->height; y++)
        png_write_row(w->png, img->rgb + (size_t)y * stride);
    png_write_end(w->png, NULL);
    return CC_OK;
}

cc_status cc_png_encode(FILE *fp, const char *name, const cc_image *img, cc_error *err)
{
    png_writer *w = calloc(1, sizeof *w);
    if (!w)
        return cc_fail(err, CC_ENOMEM, "%s: out of memory", name);
    cc_status st;
    w->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w->state, on_error, on_warning);
    if (!w->png || !(w->info = png_create_info_struct(w->png)))
        st = cc_fail(err, CC_ENOMEM, "%s: out of memory starting libpng", name);
    else
        st = run_encode(w, fp, name, img, err);
    png_destroy_write_struct(&w->png, &w->info);
    free(w);
    return st;
}
