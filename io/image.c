/* io/image.c — see image.h. The front door: recognise the format from the
 * signature (naming the format of a file we cannot read), check sizes, hand
 * over to io/jpeg.c or io/png.c, and write through io/atomic.c. */
#include "atomic.h"
#include "codec.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum { FORMAT_JPEG = 1, FORMAT_PNG = 2, SNIFF_LEN = 16 };

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

/* What the first bytes say a file is, for the formats people try to feed an
 * image tool; NULL when nothing matches. *is_image tells which fix to suggest. */
static const char *other_format(const unsigned char *p, size_t n, int *is_image)
{
    static const struct { const char *sig; size_t len, at; int image; const char *what; } known[] = {
        {"GIF87a", 6, 0, 1, "a GIF image"},
        {"GIF89a", 6, 0, 1, "a GIF image"},
        {"II*\0", 4, 0, 1, "a TIFF image"},
        {"MM\0*", 4, 0, 1, "a TIFF image"},
        {"WEBP", 4, 8, 1, "a WebP image"},
        {"ftypavif", 8, 4, 1, "an AVIF image"},
        {"ftypheic", 8, 4, 1, "a HEIC image"},
        {"ftypheix", 8, 4, 1, "a HEIC image"},
        {"ftypmif1", 8, 4, 1, "a HEIF image"},
        {"\0\0\0\x0cjP  \r\n\x87\n", 12, 0, 1, "a JPEG 2000 image"},
        {"\xff\x4f\xff\x51", 4, 0, 1, "a JPEG 2000 codestream"},
        {"\0\0\0\x0cJXL \r\n\x87\n", 12, 0, 1, "a JPEG XL image"},
        {"\xff\x0a", 2, 0, 1, "a JPEG XL image"},
        {"qoif", 4, 0, 1, "a QOI image"},
        {"8BPS", 4, 0, 1, "a Photoshop document"},
        {"\0\0\1\0", 4, 0, 1, "a Windows icon"},
        {"%PDF", 4, 0, 0, "a PDF document"},
        {"\x93NUMPY", 6, 0, 0, "a NumPy .npy array"},
        {"\x89" "CCM\r\n\x1a\n", 8, 0, 0, "a cnncam model file (.ccm)"},
        {"PK\3\4", 4, 0, 0, "a ZIP archive"},
        {"\x1f\x8b", 2, 0, 0, "a gzip file"},
    };
    *is_image = 1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (n >= known[i].at + known[i].len && !memcmp(p + known[i].at, known[i].sig, known[i].len)) {
            *is_image = known[i].image;
            return known[i].what;
        }
    /* BMP: "BM", then at byte 14 the size of a known info header (12, 40, 52, 56, 64, 108, 124). */
    if (n >= 15 && p[0] == 'B' && p[1] == 'M' && p[14] && strchr("\x0c\x28\x34\x38\x40\x6c\x7c", p[14]))
        return "a BMP image";
    if (n >= 3 && p[0] == 'P' && p[1] >= '1' && p[1] <= '7' && isspace(p[2]))
        return "a Netpbm (PBM/PGM/PPM/PAM) image";
    size_t text = 0;
    for (size_t i = 0; i < n; i++)
        text += (p[i] >= 0x20 && p[i] < 0x7F) || p[i] == '\n' || p[i] == '\r' || p[i] == '\t';
    *is_image = 0;
    return n && text == n ? "text" : NULL;
}

static cc_status unsupported(const char *name, const unsigned char *p, size_t n, cc_error *err)
{
    if (n == 0)
        return cc_fail(err, CC_EFORMAT, "%s: the file is empty (0 bytes); expected a JPEG or PNG image", name);
    int is_image;
    const char *what = other_format(p, n, &is_image);
    char hex[3 * 8 + 1] = "";
    for (size_t i = 0, len = 0; i < n && i < 8; i++)
        len += (size_t)snprintf(hex + len, sizeof hex - len, "%s%02X", i ? " " : "", p[i]);
    if (what)
        return cc_fail(err, CC_EFORMAT, "%s: this is %s (it starts with %s), not a JPEG or PNG image; %s", name,
                       what, hex, is_image ? "convert it to PNG first" : "give the path of a JPEG or PNG image");
    return cc_fail(err, CC_EFORMAT,
                   "%s: not a JPEG or PNG image: it starts with %s, where a JPEG starts with FF D8 FF and a "
                   "PNG with 89 50 4E 47 0D 0A 1A 0A",
                   name, hex);
}

static int detect(const unsigned char *p, size_t n)
{
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return FORMAT_JPEG;
    if (n >= 8 && !memcmp(p, png_sig, 8))
        return FORMAT_PNG;
    return 0;
}

cc_status cc_image_check_size(const char *name, const char *format, unsigned long width,
                              unsigned long height, size_t max_pixels, cc_error *err)
{
    if (width == 0 || height == 0)
        return cc_fail(err, CC_EFORMAT, "%s: the %s header says %lux%lu pixels; an image needs at least one",
                       name, format, width, height);
    /* width, height < 2^32 each (both formats store 32 bits at most): no overflow in 64 bits. */
    unsigned long long pixels = (unsigned long long)width * height;
    if (pixels > max_pixels)
        return cc_fail(err, CC_EFORMAT,
                       "%s: the %s is %lux%lu = %llu pixels, more than the limit of %zu pixels that guards "
                       "against decompression bombs; raise it with --max-pixels if you trust this file, and add "
                       "--resize S (e.g. 256) so that the network does not run at its full size",
                       name, format, width, height, pixels, max_pixels);
    if (width > INT_MAX || height > INT_MAX || pixels > SIZE_MAX / 4)
        return cc_fail(err, CC_ENOMEM, "%s: the %s is %lux%lu pixels, too large to hold in memory here", name,
                       format, width, height);
    return CC_OK;
}

/* alpha: NULL, or where the alpha plane goes (255 for a format without). */
static cc_status decode(const cc_image_source *src, const unsigned char *head, size_t n, size_t max_pixels,
                        cc_image *out, unsigned char **alpha, cc_error *err)
{
    cc_status st;
    switch (detect(head, n)) {
    case FORMAT_JPEG:
        st = cc_jpeg_decode(src, max_pixels, out, err);
        if (!st && alpha) {
            const size_t npx = (size_t)out->width * (size_t)out->height;
            if (!(*alpha = malloc(npx)))
                return cc_fail(err, CC_ENOMEM, "%s: out of memory for the alpha of a %dx%d image", src->name,
                               out->width, out->height);
            memset(*alpha, 255, npx);  /* JPEG has no transparency */
        }
        return st;
    case FORMAT_PNG:
        return cc_png_decode(src, max_pixels, out, alpha, err);
    default:
        return unsupported(src->name, head, n, err);
    }
}

static void clear(cc_image *img)
{
    img->width = img->height = 0;
    img->rgb = NULL;
    img->orientation = 0;
}

cc_status cc_image_decode(const void *data, size_t size, const char *name, size_t max_pixels,
                          cc_image *out, cc_error *err)
{
    return cc_image_decode_alpha(data, size, name, max_pixels, out, NULL, err);
}

cc_status cc_image_decode_alpha(const void *data, size_t size, const char *name, size_t max_pixels,
                                cc_image *out, unsigned char **alpha, cc_error *err)
{
    if (alpha)
        *alpha = NULL;
    if (!out)
        return cc_fail(err, CC_EINVAL, "cc_image_decode: out is NULL");
    clear(out);
    if (!name)
        name = "image";
    if (!data && size)
        return cc_fail(err, CC_EINVAL, "%s: cc_image_decode got %zu bytes at NULL", name, size);
    cc_image_source src = {NULL, data, size, name};
    cc_status st = decode(&src, data, size < SNIFF_LEN ? size : SNIFF_LEN, max_pixels, out, alpha, err);
    if (st)
        cc_image_free(out);
    return st;
}

cc_status cc_image_read(const char *path, size_t max_pixels, cc_image *out, cc_error *err)
{
    return cc_image_read_alpha(path, max_pixels, out, NULL, err);
}

cc_status cc_image_read_alpha(const char *path, size_t max_pixels, cc_image *out, unsigned char **alpha,
                              cc_error *err)
{
    if (alpha)
        *alpha = NULL;
    if (!out)
        return cc_fail(err, CC_EINVAL, "cc_image_read: out is NULL");
    clear(out);
    if (!path || !*path)
        return cc_fail(err, CC_EINVAL, "no image path given");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cc_fail(err, CC_EIO, "cannot open image '%s': %s", path, strerror(errno));
    struct stat st;
    cc_status status = CC_OK;
    if (fstat(fileno(fp), &st))
        status = cc_fail(err, CC_EIO, "cannot stat image '%s': %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        status = cc_fail(err, CC_EIO, "'%s' is %s, not an image file", path,
                         S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
    if (!status) {
        unsigned char head[SNIFF_LEN];
        size_t n = fread(head, 1, sizeof head, fp);
        if (ferror(fp))
            status = cc_fail(err, CC_EIO, "cannot read image '%s': %s", path, strerror(errno));
        else if (fseek(fp, 0, SEEK_SET))
            status = cc_fail(err, CC_EIO, "cannot rewind image '%s': %s", path, strerror(errno));
        else {
            cc_image_source src = {fp, NULL, 0, path};
            status = decode(&src, head, n, max_pixels, out, alpha, err);
        }
    }
    fclose(fp);
    if (status)
        cc_image_free(out);
    return status;
}

void cc_image_free(cc_image *img)
{
    if (!img)
        return;
    free(img->rgb);
    clear(img);
}

/* ---- writing ---- */

static int format_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot)
        return 0;
    if (!strcasecmp(dot, ".png"))
        return FORMAT_PNG;
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))
        return FORMAT_JPEG;
    return 0;
}

cc_status cc_image_write(const char *path, const cc_image *img, int jpeg_quality, cc_error *err)
{
    if (!path || !*path)
        return cc_fail(err, CC_EINVAL, "no output image path given");
    int format = format_of(path);
    if (!format) {
        const char *slash = strrchr(path, '/');
        const char *dot = strrchr(slash ? slash + 1 : path, '.');
        return cc_fail(err, CC_EINVAL,
                       "cannot tell which format to write '%s' in from its %s%s%s; end the name in .png, "
                       ".jpg or .jpeg",
                       path, dot ? "extension '" : "name (no extension)", dot ? dot : "", dot ? "'" : "");
    }
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return cc_fail(err, CC_EINVAL, "%s: nothing to write: the image is %dx%d%s", path, img ? img->width : 0,
                       img ? img->height : 0, img && !img->rgb ? " with no pixels" : "");
    if (jpeg_quality < 0 || jpeg_quality > 100)
        return cc_fail(err, CC_EINVAL, "%s: JPEG quality %d is outside 1..100 (0 means the default, %d)", path,
                       jpeg_quality, CC_JPEG_DEFAULT_QUALITY);
    if ((size_t)img->width * (size_t)img->height > SIZE_MAX / 4)
        return cc_fail(err, CC_EINVAL, "%s: a %dx%d image is too large to write", path, img->width, img->height);
    cc_atomic_file f;
    cc_status st = cc_atomic_open(&f, path, err);
    if (st)
        return st;
    if (format == FORMAT_PNG)
        st = cc_png_encode(f.fp, path, img, err);
    else
        st = cc_jpeg_encode(f.fp, path, img, jpeg_quality ? jpeg_quality : CC_JPEG_DEFAULT_QUALITY, err);
    if (st) {
        cc_atomic_abort(&f);
        return st;
    }
    return cc_atomic_commit(&f, err);
}
