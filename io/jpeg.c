/* io/jpeg.c — JPEG through libjpeg-turbo's libjpeg API, to and from RGB.
 *
 * libjpeg reports a fatal error by calling error_exit, which must not return:
 * ours longjmps back to the single setjmp in run_decode/run_encode. So that
 * nothing is "modified between setjmp and longjmp" (whose value C leaves
 * indeterminate), every object that changes after setjmp lives in a struct
 * owned by the CALLER of that function, which then frees it on every path.
 *
 * Warnings: on damaged entropy data libjpeg warns ("Premature end of JPEG
 * file", "Corrupt JPEG data: ...") and carries on, filling the rest with gray
 * or garbage. For Grad-CAM a silently wrong image is worse than none, so our
 * emit_message turns every such warning into an error; only warnings about
 * metadata that does not touch pixels pass. Nothing is ever printed:
 * output_message does nothing.
 *
 * CMYK: libjpeg hands CMYK and YCCK data over as stored; Adobe's files store
 * inverted CMYK (255 = no ink), and Pillow assumes that for every CMYK JPEG
 * (JpegImagePlugin: rawmode "CMYK;I"). RGB then follows Pillow's cmyk2rgb:
 * nk = 255 - K, R = nk - MULDIV255(C, nk), exactly, with Pillow's rounding
 * MULDIV255(a, b) = ((t >> 8) + t) >> 8 for t = a*b + 128.
 *
 * EXIF: libjpeg keeps the APP1 segments for us; the first that starts with
 * "Exif\0" (the one Pillow reads) gives cc_image.orientation. */
#include "codec.h"
#include "exif.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
/* jpeglib.h needs stdio.h and stddef.h first (codec.h has them). */
#include <jerror.h>
#include <jpeglib.h>

/* TurboJPEG's default scan limit (TJPARAM_SCANLIMIT): a progressive file with
 * thousands of tiny scans costs minutes of CPU for a few kilobytes of input. */
enum { MAX_SCANS = 500 };

typedef struct {
    struct jpeg_error_mgr pub;  /* first: libjpeg sees only this part */
    jmp_buf jmp;
    int corrupt;                /* the failure was a warning about damaged data */
    char msg[JMSG_LENGTH_MAX];
} jpeg_errors;

static void on_error(j_common_ptr cinfo)
{
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jmp, 1);
}

static void on_message(j_common_ptr cinfo, int msg_level)
{
    if (msg_level >= 0)
        return;  /* trace messages */
    switch (cinfo->err->msg_code) {
    case JWRN_JFIF_MAJOR:   /* unknown JFIF version: the pixels do not depend on it */
    case JWRN_ADOBE_XFORM:  /* unknown Adobe transform: libjpeg picks one, as Pillow's does */
    case JWRN_BOGUS_ICC:    /* a bad ICC chunk: profiles are ignored anyway */
        cinfo->err->num_warnings++;
        return;
    default:
        ((jpeg_errors *)cinfo->err)->corrupt = 1;
        on_error(cinfo);
    }
}

static void on_output(j_common_ptr cinfo)
{
    (void)cinfo;  /* the library never prints; messages reach the caller via cc_error */
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (cinfo->is_decompressor && d->input_scan_number > MAX_SCANS) {
        jpeg_errors *e = (jpeg_errors *)cinfo->err;
        snprintf(e->msg, sizeof e->msg, "more than %d progressive scans (a CPU exhaustion attack, or damage)",
                 MAX_SCANS);
        longjmp(e->jmp, 1);
    }
}

static void init_errors(jpeg_errors *e)
{
    memset(e, 0, sizeof *e);
    jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error;
    e->pub.emit_message = on_message;
    e->pub.output_message = on_output;
}

/* ---- decoding ---- */

typedef struct {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    jpeg_errors errors;
    unsigned char *rgb;  /* the result, width*height*3 */
    unsigned char *row;  /* one CMYK row */
} jpeg_reader;

static unsigned char muldiv255(unsigned a, unsigned b)
{
    unsigned t = a * b + 128;
    return (unsigned char)(((t >> 8) + t) >> 8);
}

static void cmyk_to_rgb(unsigned char *rgb, const unsigned char *cmyk, size_t width)
{
    for (size_t x = 0; x < width; x++, rgb += 3, cmyk += 4) {
        unsigned nk = cmyk[3];  /* stored inverted: 255 - K */
        for (int c = 0; c < 3; c++)
            rgb[c] = (unsigned char)(nk - muldiv255(255u - cmyk[c], nk));
    }
}

static int exif_orientation(j_decompress_ptr c)
{
    for (jpeg_saved_marker_ptr m = c->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && !memcmp(m->data, "Exif\0", 5))
            return cc_exif_orientation(m->data + 6, m->data_length - 6);
    return 1;
}

static cc_status run_decode(jpeg_reader *r, const cc_image_source *src, size_t max_pixels, cc_image *out,
                            cc_error *err)
{
    if (setjmp(r->errors.jmp))
        return cc_fail(err, CC_EFORMAT, "%s: %s JPEG: %s", src->name,
                       r->errors.corrupt ? "damaged or truncated" : "invalid", r->errors.msg);
    struct jpeg_decompress_struct *c = &r->cinfo;
    jpeg_create_decompress(c);
    c->progress = &r->progress;
    r->progress.progress_monitor = on_progress;
    if (src->fp)
        jpeg_stdio_src(c, src->fp);
    else
        jpeg_mem_src(c, src->data, (unsigned long)src->size);
    jpeg_save_markers(c, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(c, TRUE);
    out->orientation = exif_orientation(c);
    cc_status st = cc_image_check_size(src->name, "JPEG", c->image_width, c->image_height, max_pixels, err);
    if (st)
        return st;
    int cmyk = 0;
    switch (c->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        c->out_color_space = JCS_RGB;  /* gray is replicated, as Pillow's "L" -> "RGB" */
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        c->out_color_space = JCS_CMYK;  /* libjpeg turns YCCK into (inverted) CMYK */
        cmyk = 1;
        break;
    default:
        return cc_fail(err, CC_EFORMAT,
                       "%s: a JPEG with %d colour components in no colour space libjpeg knows; only grayscale, "
                       "YCbCr, RGB, CMYK and YCCK JPEGs are read",
                       src->name, c->num_components);
    }
    size_t width = c->image_width, height = c->image_height;
    if (!(r->rgb = malloc(width * height * 3)) || (cmyk && !(r->row = malloc(width * 4))))
        return cc_fail(err, CC_ENOMEM, "%s: out of memory for a %zux%zu image", src->name, width, height);
    jpeg_start_decompress(c);
    if (c->output_width != width || c->output_height != height || c->output_components != (cmyk ? 4 : 3))
        return cc_fail(err, CC_EFORMAT, "%s: libjpeg decodes %ux%u pixels of %d components, not %zux%zu of %d",
                       src->name, c->output_width, c->output_height, c->output_components, width, height,
                       cmyk ? 4 : 3);
    while (c->output_scanline < height) {
        unsigned char *dst = r->rgb + (size_t)c->output_scanline * width * 3;
        JSAMPROW row = cmyk ? r->row : dst;
        if (jpeg_read_scanlines(c, &row, 1) != 1)
            return cc_fail(err, CC_EFORMAT, "%s: libjpeg stopped at row %u of %zu", src->name, c->output_scanline,
                           height);
        if (cmyk)
            cmyk_to_rgb(dst, r->row, width);
    }
    jpeg_finish_decompress(c);  /* reads up to EOI: a missing end is "Premature end" */
    out->width = (int)width;
    out->height = (int)height;
    out->rgb = r->rgb;
    r->rgb = NULL;
    return CC_OK;
}

cc_status cc_jpeg_decode(const cc_image_source *src, size_t max_pixels, cc_image *out, cc_error *err)
{
    jpeg_reader *r = calloc(1, sizeof *r);
    if (!r)
        return cc_fail(err, CC_ENOMEM, "%s: out of memory", src->name);
    init_errors(&r->errors);
    r->cinfo.err = &r->errors.pub;
    cc_status st = run_decode(r, src, max_pixels, out, err);
    jpeg_destroy_decompress(&r->cinfo);  /* safe before create: it checks cinfo->mem */
    free(r->rgb);
    free(r->row);
    free(r);
    return st;
}

/* ---- encoding ---- */

typedef struct {
    struct jpeg_compress_struct cinfo;
    jpeg_errors errors;
} jpeg_writer;

static cc_status run_encode(jpeg_writer *w, FILE *fp, const char *name, const cc_image *img, int quality,
                            cc_error *err)
{
    if (setjmp(w->errors.jmp))
        return cc_fail(err, CC_EIO, "%s: cannot write JPEG: %s", name, w->errors.msg);
    struct jpeg_compress_struct *c = &w->cinfo;
    jpeg_create_compress(c);
    jpeg_stdio_dest(c, fp);
    c->image_width = (JDIMENSION)img->width;
    c->image_height = (JDIMENSION)img->height;
    c->input_components = 3;
    c->in_color_space = JCS_RGB;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, quality, TRUE);
    c->comp_info[0].h_samp_factor = c->comp_info[0].v_samp_factor = 1;  /* 4:4:4 */
    c->optimize_coding = TRUE;
    jpeg_start_compress(c, TRUE);
    size_t stride = (size_t)img->width * 3;
    while (c->next_scanline < c->image_height) {
        JSAMPROW row = img->rgb + (size_t)c->next_scanline * stride;  /* libjpeg only reads it */
        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
    return CC_OK;
}

cc_status cc_jpeg_encode(FILE *fp, const char *name, const cc_image *img, int quality, cc_error *err)
{
    if (img->width > JPEG_MAX_DIMENSION || img->height > JPEG_MAX_DIMENSION)
        return cc_fail(err, CC_EINVAL, "%s: a %dx%d image is larger than JPEG allows (%d pixels a side); write a "
                       ".png instead", name, img->width, img->height, (int)JPEG_MAX_DIMENSION);
    jpeg_writer *w = calloc(1, sizeof *w);
    if (!w)
        return cc_fail(err, CC_ENOMEM, "%s: out of memory", name);
    init_errors(&w->errors);
    w->cinfo.err = &w->errors.pub;
    cc_status st = run_encode(w, fp, name, img, quality, err);
    jpeg_destroy_compress(&w->cinfo);
    free(w);
    return st;
}
