/* tests/test_image_io.c — io/image.h: JPEG and PNG reading against an
 * independent decoder, writing, and robustness.
 *
 *  - every image in tests/fixtures/image_pixels.txt (the photos in
 *    assets/images and the tiny images in tests/data/img covering every PNG
 *    colour type, bit depth, tRNS and interlacing, and gray, CMYK, YCCK,
 *    progressive, subsampled and EXIF-rotated JPEGs) decodes to exactly the
 *    pixels Pillow's convert('RGB') gives (tests/gen_image_fixtures.py): size,
 *    byte sum, FNV-1a hash of all bytes, and listed pixels; from a file and
 *    from memory. Exactness for JPEG holds because Pillow and cnncam use the
 *    same libjpeg-turbo (Debian's libjpeg62-turbo) with the same settings;
 *  - PNG write -> read is exact, JPEG write -> read is close; files are
 *    replaced atomically, get the usual permissions, and no temporary file
 *    survives any outcome, including a write that fails half way (a file size
 *    limit, RLIMIT_FSIZE) and a destination that is a directory;
 *  - a real truncated JPEG, every truncation of small PNGs and JPEGs, a few
 *    hundred truncations of real photos, every single-byte change (for PNG
 *    also with the chunk CRC recomputed, so libpng's checks beyond the CRC
 *    run), images over the pixel limit (real ones and forged headers claiming
 *    huge sizes), zero-sized images and other formats: an error with a
 *    message, never a crash or a leak (`make asan`). */
#include "io/exif.h"
#include "io/image.h"
#include "testutil.h"
#include "tu_files.h"
#include "weights/crc32.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXTURE "tests/fixtures/image_pixels.txt"
#define DATA "tests/data/img/"

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

static size_t nbytes(const cc_image *img)
{
    return (size_t)img->width * (size_t)img->height * 3;
}


static unsigned char *load(const char *path, size_t *n)
{
    unsigned char *p = tu_read_file(path, n);
    if (!p) {
        fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
        exit(3);
    }
    return p;
}

/* ---- against Pillow ---- */

static void test_fixture(void)
{
    FILE *f = fopen(FIXTURE, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s (run from the repository root): %s\n", FIXTURE, strerror(errno));
        exit(3);
    }
    char line[1024];
    int images = 0;
    while (fgets(line, sizeof line, f)) {
        char path[512], rule[16], hash_hex[32];
        int w, h, npts;
        unsigned long long sum;
        if (line[0] == '#')
            continue;
        if (sscanf(line, "image %511s %d %d %llu %31s %15s %d", path, &w, &h, &sum, hash_hex, rule, &npts) != 7) {
            fprintf(stderr, "%s: malformed line: %s", FIXTURE, line);
            exit(3);
        }
        images++;
        cc_image img = {0, 0, NULL, 0};
        cc_error err = {""};
        cc_status st = cc_image_read(path, CC_IMAGE_DEFAULT_MAX_PIXELS, &img, &err);
        tu_check(st == CC_OK, "%s: read failed: %s", path, err.msg);
        const int upright = !strcmp(rule, "upright");  /* Pillow's ImageOps.exif_transpose */
        tu_check(st || upright || img.orientation <= 1 || strstr(path, "exif"),
                 "%s: orientation %d read from a file that stores none", path, img.orientation);
        if (!st && upright) {
            tu_check(img.orientation >= 2, "%s: no EXIF orientation found (Pillow turns it)", path);
            st = cc_image_apply_orientation(&img, NULL, &err);
            tu_check(!st && img.orientation == 1, "%s: turning it upright: %s", path, st ? err.msg : "ok");
        }
        tu_check(img.width == w && img.height == h, "%s: %dx%d, Pillow says %dx%d", path, img.width, img.height, w,
                 h);
        int same_size = !st && img.width == w && img.height == h;
        if (same_size) {
            unsigned long long got_sum = 0;
            for (size_t i = 0; i < nbytes(&img); i++)
                got_sum += img.rgb[i];
            char got_hash[32];
            snprintf(got_hash, sizeof got_hash, "%016llx", (unsigned long long)fnv1a64(img.rgb, nbytes(&img)));
            tu_check(got_sum == sum, "%s: byte sum %llu, Pillow's %llu (rule %s)", path, got_sum, sum, rule);
            tu_check(!strcmp(got_hash, hash_hex), "%s: FNV-1a %s, Pillow's %s (rule %s)", path, got_hash, hash_hex,
                     rule);
        }
        int bad = 0;
        for (int i = 0; i < npts; i++) {
            int x, y, r, g, b;
            if (!fgets(line, sizeof line, f) || sscanf(line, "%d %d %d %d %d", &x, &y, &r, &g, &b) != 5) {
                fprintf(stderr, "%s: malformed pixel line for %s\n", FIXTURE, path);
                exit(3);
            }
            if (!same_size)
                continue;
            const unsigned char *p = img.rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
            if (p[0] != r || p[1] != g || p[2] != b) {
                if (bad < 5)
                    fprintf(stderr, "  %s (%d,%d): got %d %d %d, Pillow %d %d %d\n", path, x, y, p[0], p[1], p[2], r,
                            g, b);
                bad++;
            }
        }
        tu_check(same_size && !bad, "%s: %d of %d listed pixels differ from Pillow's", path, bad, npts);
        /* The same bytes decoded from memory. */
        size_t n;
        unsigned char *bytes = load(path, &n);
        cc_image mem = {0, 0, NULL, 0};
        st = cc_image_decode(bytes, n, path, CC_IMAGE_DEFAULT_MAX_PIXELS, &mem, &err);
        if (!st && upright)
            st = cc_image_apply_orientation(&mem, NULL, &err);
        tu_check(!st && mem.width == img.width && mem.height == img.height && img.rgb &&
                     !memcmp(mem.rgb, img.rgb, nbytes(&img)),
                 "%s: decoding from memory differs from the file (%s)", path, st ? err.msg : "ok");
        free(bytes);
        cc_image_free(&mem);
        cc_image_free(&img);
    }
    fclose(f);
    tu_check(images >= 40, "%s lists %d images, expected at least 40", FIXTURE, images);
}

/* ---- writing ---- */

static double mean_abs_diff(const cc_image *a, const cc_image *b)
{
    double s = 0;
    for (size_t i = 0; i < nbytes(a); i++)
        s += abs(a->rgb[i] - b->rgb[i]);
    return s / (double)nbytes(a);
}

static void test_round_trips(const char *dir)
{
    cc_error err;
    cc_image src = {0, 0, NULL, 0}, back = {0, 0, NULL, 0};
    if (cc_image_read("assets/images/chelsea.png", CC_IMAGE_DEFAULT_MAX_PIXELS, &src, &err)) {
        fprintf(stderr, "cannot read chelsea.png: %s\n", err.msg);
        exit(3);
    }
    static const char *const png_names[] = {"out.png", "OUT2.PNG", "three.Png"};
    for (int i = 0; i < 3; i++) {
        const char *p = tu_path(dir, png_names[i]);
        cc_status st = cc_image_write(p, &src, 0, &err);
        tu_check(!st, "write %s: %s", png_names[i], st ? err.msg : "");
        st = cc_image_read(tu_path(dir, png_names[i]), CC_IMAGE_DEFAULT_MAX_PIXELS, &back, &err);
        tu_check(!st && back.width == src.width && back.height == src.height &&
                     !memcmp(back.rgb, src.rgb, nbytes(&src)),
                 "PNG round trip through %s is not exact (%s)", png_names[i], st ? err.msg : "pixels differ");
        cc_image_free(&back);
    }
    /* A file of the usual permissions: 0666 minus the umask, like fopen's. */
    mode_t mask = umask(022);
    umask(mask);
    struct stat sb;
    tu_check(!stat(tu_path(dir, "out.png"), &sb) && (sb.st_mode & 0777) == (0666 & ~mask),
             "out.png has mode %03o, want %03o (0666 minus umask %03o)", (unsigned)(sb.st_mode & 0777),
             (unsigned)(0666 & ~mask), (unsigned)mask);

    size_t q95_size = 0, q10_size = 0;
    static const struct { const char *name; int quality; double max_mad; } jpegs[] = {
        {"out.jpg", 0, 1.5}, {"out95.JPEG", 95, 1.5}, {"out10.jpeg", 10, 8.0}, {"out100.jpg", 100, 0.6}};
    for (int i = 0; i < 4; i++) {
        cc_status st = cc_image_write(tu_path(dir, jpegs[i].name), &src, jpegs[i].quality, &err);
        tu_check(!st, "write %s: %s", jpegs[i].name, st ? err.msg : "");
        st = cc_image_read(tu_path(dir, jpegs[i].name), CC_IMAGE_DEFAULT_MAX_PIXELS, &back, &err);
        int ok = !st && back.width == src.width && back.height == src.height;
        double mad = ok ? mean_abs_diff(&src, &back) : -1;
        tu_check(ok && mad <= jpegs[i].max_mad, "JPEG round trip %s (quality %d): mean |diff| %.3f > %.2f (%s)",
                 jpegs[i].name, jpegs[i].quality, mad, jpegs[i].max_mad, st ? err.msg : "ok");
        printf("JPEG quality %3d (%s): mean |diff| %.3f\n", jpegs[i].quality ? jpegs[i].quality : 95,
               jpegs[i].name, mad);
        cc_image_free(&back);
        if (!stat(tu_path(dir, jpegs[i].name), &sb)) {
            if (jpegs[i].quality == 0)
                q95_size = (size_t)sb.st_size;
            if (jpegs[i].quality == 10)
                q10_size = (size_t)sb.st_size;
        }
    }
    tu_check(q10_size > 0 && q10_size < q95_size / 2, "quality 10 gives %zu bytes, quality 95 %zu", q10_size,
             q95_size);

    /* Tiny and odd images, both formats; replacing an existing file. */
    tu_rng rng = {7};
    static const int sizes[][2] = {{1, 1}, {3, 2}, {1, 17}, {17, 1}, {33, 9}};
    for (int s = 0; s < 5; s++) {
        cc_image im = {sizes[s][0], sizes[s][1], NULL, 0};
        im.rgb = tu_alloc(nbytes(&im));
        for (size_t i = 0; i < nbytes(&im); i++)
            im.rgb[i] = (unsigned char)tu_next(&rng);
        cc_status st = cc_image_write(tu_path(dir, "tiny.png"), &im, 0, &err);
        st = st ? st : cc_image_read(tu_path(dir, "tiny.png"), 1000, &back, &err);
        tu_check(!st && back.width == im.width && back.height == im.height && !memcmp(back.rgb, im.rgb, nbytes(&im)),
                 "PNG round trip of a %dx%d image (%s)", im.width, im.height, st ? err.msg : "pixels differ");
        cc_image_free(&back);
        st = cc_image_write(tu_path(dir, "tiny.jpg"), &im, 100, &err);
        st = st ? st : cc_image_read(tu_path(dir, "tiny.jpg"), 1000, &back, &err);
        tu_check(!st && back.width == im.width && back.height == im.height,
                 "JPEG round trip of a %dx%d image (%s)", im.width, im.height, st ? err.msg : "wrong size");
        cc_image_free(&back);
        free(im.rgb);
    }
    cc_image_free(&src);
    tu_check(!strcmp(tu_dir_listing(dir), "OUT2.PNG out.jpg out.png out10.jpeg out100.jpg out95.JPEG three.Png "
                                          "tiny.jpg tiny.png"),
             "after the writes the directory holds: %s", tu_dir_listing(dir));
}

static void test_write_errors(const char *dir)
{
    cc_error err;
    unsigned char px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    cc_image im = {2, 2, px, 0};
    tu_expect_error("extension .bmp", cc_image_write(tu_path(dir, "x.bmp"), &im, 0, &err), CC_EINVAL, &err, "'.bmp'",
                 ".png", ".jpg", NULL);
    tu_expect_error("no extension", cc_image_write(tu_path(dir, "noext"), &im, 0, &err), CC_EINVAL, &err,
                 "no extension", NULL);
    tu_expect_error("extension .png.txt", cc_image_write(tu_path(dir, "x.png.txt"), &im, 0, &err), CC_EINVAL, &err,
                 "'.txt'", NULL);
    tu_expect_error("dot in a directory name", cc_image_write("some.png/noext", &im, 0, &err), CC_EINVAL, &err,
                 "no extension", NULL);
    tu_expect_error("quality 101", cc_image_write(tu_path(dir, "q.jpg"), &im, 101, &err), CC_EINVAL, &err, "101",
                 "1..100", NULL);
    tu_expect_error("quality -1", cc_image_write(tu_path(dir, "q.png"), &im, -1, &err), CC_EINVAL, &err, "-1", NULL);
    cc_image empty = {0, 2, px, 0}, nopix = {2, 2, NULL, 0};
    tu_expect_error("0-wide image", cc_image_write(tu_path(dir, "e.png"), &empty, 0, &err), CC_EINVAL, &err, "0x2",
                 NULL);
    tu_expect_error("no pixels", cc_image_write(tu_path(dir, "e.png"), &nopix, 0, &err), CC_EINVAL, &err, "no pixels",
                 NULL);
    tu_expect_error("NULL image", cc_image_write(tu_path(dir, "e.png"), NULL, 0, &err), CC_EINVAL, &err, NULL);
    cc_image wide = {70000, 1, px, 0};  /* never read: rejected before */
    tu_expect_error("JPEG wider than 65500", cc_image_write(tu_path(dir, "w.jpg"), &wide, 0, &err), CC_EINVAL, &err,
                 "70000", "65500", ".png", NULL);
    tu_expect_error("missing directory", cc_image_write(tu_path(dir, "nodir/x.png"), &im, 0, &err), CC_EIO, &err,
                 "nodir/x.png", strerror(ENOENT), NULL);
    tu_expect_error("trailing slash", cc_image_write("x.png/", &im, 0, &err), CC_EINVAL, &err, NULL);

    /* A directory that refuses new files: /sys (sysfs) refuses even root; a
     * mode 0555 directory refuses everyone else. */
    struct stat sb;
    if (!stat("/sys", &sb) && S_ISDIR(sb.st_mode))
        tu_expect_error("/sys", cc_image_write("/sys/cnncam_test.png", &im, 0, &err), CC_EIO, &err,
                     "/sys/cnncam_test.png", "temporary", NULL);
    tu_check(!tu_file_exists("/sys/cnncam_test.png"), "a file appeared in /sys");
    const char *ro = tu_path(dir, "readonly");
    char ro_dir[4096];
    snprintf(ro_dir, sizeof ro_dir, "%s", ro);
    if (mkdir(ro_dir, 0555)) {
        fprintf(stderr, "cannot create %s\n", ro_dir);
        exit(3);
    }
    char ro_file[4200];
    snprintf(ro_file, sizeof ro_file, "%s/x.png", ro_dir);
    if (geteuid() != 0) {
        tu_expect_error("read-only directory", cc_image_write(ro_file, &im, 0, &err), CC_EIO, &err, "x.png",
                     strerror(EACCES), NULL);
        tu_check(!strcmp(tu_dir_listing(ro_dir), ""), "files appeared in a read-only directory: %s",
                 tu_dir_listing(ro_dir));
    } else {
        printf("note: running as root, so a mode 0555 directory is writable; /sys stands in for it\n");
    }
    rmdir(ro_dir);

    /* The destination is a directory: the rename fails after a complete write. */
    char sub[4096];
    snprintf(sub, sizeof sub, "%s", tu_path(dir, "adir.png"));
    mkdir(sub, 0755);
    tu_expect_error("destination is a directory", cc_image_write(sub, &im, 0, &err), CC_EIO, &err, "adir.png", NULL);
    rmdir(sub);

    /* A write that fails half way (RLIMIT_FSIZE; SIGXFSZ ignored so write()
     * returns EFBIG): the old file stays as it was. */
    const char *keep = tu_path(dir, "keep.png");
    char keep_path[4096];
    snprintf(keep_path, sizeof keep_path, "%s", keep);
    cc_status st = cc_image_write(keep_path, &im, 0, &err);
    tu_check(!st, "write keep.png: %s", st ? err.msg : "");
    size_t before_n, after_n;
    unsigned char *before = load(keep_path, &before_n);
    cc_image big = {0, 0, NULL, 0};
    if (cc_image_read("assets/images/kite.png", CC_IMAGE_DEFAULT_MAX_PIXELS, &big, &err)) {
        fprintf(stderr, "cannot read kite.png: %s\n", err.msg);
        exit(3);
    }
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = {20000, old.rlim_max};
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
        tu_expect_error("PNG write past a 20000-byte file limit", cc_image_write(keep_path, &big, 0, &err), CC_EIO, &err,
                     "keep.png", NULL);
        tu_expect_error("JPEG write past a 20000-byte file limit", cc_image_write(tu_path(dir, "big.jpg"), &big, 100, &err),
                     CC_EIO, &err, "big.jpg", NULL);
        setrlimit(RLIMIT_FSIZE, &old);
    } else {
        tu_skip("setrlimit(RLIMIT_FSIZE) refused: the failing-write cases cannot run");
    }
    signal(SIGXFSZ, prev);
    unsigned char *after = load(keep_path, &after_n);
    tu_check(after_n == before_n && !memcmp(before, after, before_n), "a failed write changed keep.png");
    free(before);
    free(after);
    cc_image_free(&big);
    tu_check(!strcmp(tu_dir_listing(dir), "keep.png"), "after the failed writes the directory holds: %s",
             tu_dir_listing(dir));
    unlink(keep_path);
}

/* ---- reading errors ---- */

static void test_read_errors(const char *dir)
{
    cc_error err;
    cc_image img = {0, 0, NULL, 0};
    tu_expect_error("missing file", cc_image_read(tu_path(dir, "missing.png"), 1000, &img, &err), CC_EIO, &err,
                 "missing.png", strerror(ENOENT), NULL);
    tu_check(img.width == 0 && img.height == 0 && img.rgb == NULL, "a failed read leaves the image zeroed");
    tu_expect_error("a directory", cc_image_read(dir, 1000, &img, &err), CC_EIO, &err, "directory", NULL);
    tu_expect_error("NULL path", cc_image_read(NULL, 1000, &img, &err), CC_EINVAL, &err, NULL);
    tu_expect_error("NULL out", cc_image_read("x.png", 1000, NULL, &err), CC_EINVAL, &err, NULL);
    tu_expect_error("empty memory", cc_image_decode("", 0, "empty", 1000, &img, &err), CC_EFORMAT, &err, "empty",
                 "0 bytes", NULL);

    static const struct { const char *name; const char *bytes; size_t n; const char *says; } others[] = {
        {"a.gif", "GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14, "GIF"},
        {"a.bmp", "BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0", 18, "BMP"},
        {"a.webp", "RIFF\x24\0\0\0WEBPVP8 ", 16, "WebP"},
        {"a.tif", "II*\0\x08\0\0\0", 8, "TIFF"},
        {"a.txt", "hello, world\n", 13, "text"},
        {"a.npy", "\x93NUMPY\x01\0v\0{'descr'", 17, "NumPy"},
        {"a.ccm", "\x89" "CCM\r\n\x1a\n\0\0", 10, "model"},
        {"a.png", "\x89PNX\r\n\x1a\n", 8, "89 50 4E 58"},  /* almost PNG: listed in hex */
        {"a.jpg", "\xff\xd8", 2, "FF D8"},                  /* too short to be a JPEG */
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        const char *p = tu_path(dir, others[i].name);
        char path[4096];
        snprintf(path, sizeof path, "%s", p);
        tu_write_file(path, others[i].bytes, others[i].n);
        tu_expect_error(others[i].name, cc_image_read(path, 1000, &img, &err), CC_EFORMAT, &err, others[i].says,
                     "PNG", NULL);
        unlink(path);
    }
    tu_expect_error("truncated.jpg (a real truncated JPEG)", cc_image_read(DATA "truncated.jpg", 1000000, &img, &err),
                 CC_EFORMAT, &err, "truncated.jpg", NULL);
    printf("truncated.jpg: %s\n", err.msg);

    /* The pixel limit, on real files: exactly at the limit passes, one below fails. */
    tu_expect_error("chelsea.png over the limit", cc_image_read("assets/images/chelsea.png", 451 * 300 - 1, &img, &err),
                 CC_EFORMAT, &err, "451x300", "135300", "135299", "--max-pixels", NULL);
    tu_check(!cc_image_read("assets/images/chelsea.png", 451 * 300, &img, &err), "chelsea.png at the limit: %s",
             err.msg);
    cc_image_free(&img);
    tu_expect_error("rocket.jpg over the limit", cc_image_read("assets/images/rocket.jpg", 1000, &img, &err), CC_EFORMAT,
                 &err, "640x427", "--max-pixels", NULL);
    tu_check(!cc_image_read("assets/images/rocket.jpg", 640 * 427, &img, &err), "rocket.jpg at the limit: %s",
             err.msg);
    cc_image_free(&img);
}

/* ---- forged headers ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Recomputes the CRC of every chunk (after a deliberate change). */
static void reseal_png(unsigned char *p, size_t n)
{
    for (size_t at = 8; at + 12 <= n;) {
        uint32_t len = get_be32(p + at);
        if (len > n - at - 12)
            break;
        put_be32(p + at + 8 + len, cc_crc32(0, p + at + 4, 4 + len));
        at += 12 + len;
    }
}

static size_t find_sof(const unsigned char *p, size_t n)
{
    for (size_t i = 2; i + 9 < n; i++)
        if (p[i] == 0xFF && (p[i + 1] == 0xC0 || p[i + 1] == 0xC2))
            return i;
    fprintf(stderr, "no SOF marker\n");
    exit(3);
}

static void test_forged_sizes(void)
{
    cc_error err;
    cc_image img = {0, 0, NULL, 0};
    size_t n;
    unsigned char *png = load(DATA "rgb8.png", &n);
    static const uint32_t dims[][2] = {{100000, 100000}, {0x7FFFFFFF, 0x7FFFFFFF}, {9459, 9460}};
    for (int i = 0; i < 3; i++) {
        put_be32(png + 16, dims[i][0]);
        put_be32(png + 20, dims[i][1]);
        reseal_png(png, n);
        char want[64];
        snprintf(want, sizeof want, "%ux%u", dims[i][0], dims[i][1]);
        tu_expect_error("forged PNG size", cc_image_decode(png, n, "forged.png", CC_IMAGE_DEFAULT_MAX_PIXELS, &img, &err),
                     CC_EFORMAT, &err, want, "--max-pixels", "89478485", NULL);
    }
    /* Within the limit but the data is missing: an error, after allocating. */
    put_be32(png + 16, 2000);
    put_be32(png + 20, 1000);
    reseal_png(png, n);
    tu_expect_error("PNG claiming 2000x1000 with 9x7 of data", cc_image_decode(png, n, "short.png", 1u << 24, &img, &err),
                 CC_EFORMAT, &err, "short.png", NULL);
    put_be32(png + 16, 0);
    reseal_png(png, n);
    tu_expect_error("PNG of width 0", cc_image_decode(png, n, "zero.png", 1000, &img, &err), CC_EFORMAT, &err,
                 "zero.png", NULL);
    free(png);

    unsigned char *jpg = load(DATA "rgb444.jpg", &n);
    size_t sof = find_sof(jpg, n);
    jpg[sof + 5] = 0xEA, jpg[sof + 6] = 0x60;  /* height 60000 */
    jpg[sof + 7] = 0xEA, jpg[sof + 8] = 0x60;  /* width 60000 */
    tu_expect_error("forged JPEG size", cc_image_decode(jpg, n, "forged.jpg", CC_IMAGE_DEFAULT_MAX_PIXELS, &img, &err),
                 CC_EFORMAT, &err, "60000x60000", "3600000000", "--max-pixels", NULL);
    jpg[sof + 5] = 0x17, jpg[sof + 6] = 0x70;  /* 6000x6000: within a limit of 36M, 17x11 of data */
    jpg[sof + 7] = 0x17, jpg[sof + 8] = 0x70;
    tu_expect_error("JPEG claiming 6000x6000 with 17x11 of data",
                 cc_image_decode(jpg, n, "short.jpg", (size_t)6000 * 6000, &img, &err), CC_EFORMAT, &err,
                 "short.jpg", NULL);
    jpg[sof + 5] = 0, jpg[sof + 6] = 0;  /* height 0 */
    tu_expect_error("JPEG of height 0", cc_image_decode(jpg, n, "zero.jpg", 1000, &img, &err), CC_EFORMAT, &err,
                 "zero.jpg", NULL);
    free(jpg);
}

/* ---- what counts as damage ---- */

static int same_pixels(const char *label, const unsigned char *p, size_t n, const char *ref_path)
{
    cc_error err;
    cc_image a = {0, 0, NULL, 0}, b = {0, 0, NULL, 0};
    cc_status st = cc_image_decode(p, n, label, 1u << 20, &a, &err);
    if (st)
        printf("  %s: %s\n", label, err.msg);
    int same = !st && !cc_image_read(ref_path, 1u << 20, &b, &err) && a.width == b.width &&
               a.height == b.height && !memcmp(a.rgb, b.rgb, nbytes(&a));
    cc_image_free(&a);
    cc_image_free(&b);
    return same;
}

static void test_warnings(void)
{
    cc_error err;
    cc_image img = {0, 0, NULL, 0};
    size_t n;
    unsigned char *jpg = load(DATA "rgb444.jpg", &n);
    unsigned char *buf = malloc(n + 64);

    /* JFIF 2.01: libjpeg warns "unknown JFIF revision", the pixels do not change: accepted. */
    memcpy(buf, jpg, n);
    tu_check(!memcmp(buf + 6, "JFIF", 5) && buf[11] == 1, "rgb444.jpg starts with a JFIF 1.x APP0");
    buf[11] = 2;
    tu_check(same_pixels("JFIF 2.01", buf, n, DATA "rgb444.jpg"), "a JPEG with JFIF version 2.01 is read as usual");
    /* Bytes after EOI are not the image's business: accepted. */
    memcpy(buf, jpg, n);
    memcpy(buf + n, "trailing junk", 13);
    tu_check(same_pixels("JPEG + junk after EOI", buf, n + 13, DATA "rgb444.jpg"),
             "a JPEG followed by junk after EOI is read as usual");
    /* Junk between two markers: libjpeg warns "Corrupt JPEG data: 3 extraneous
     * bytes before marker 0xc0" and skips it; we refuse (image.h). */
    size_t sof = find_sof(jpg, n);
    memcpy(buf, jpg, sof);
    memcpy(buf + sof, "\x01\x02\x03", 3);
    memcpy(buf + sof + 3, jpg + sof, n - sof);
    tu_expect_error("junk before SOF", cc_image_decode(buf, n + 3, "junk.jpg", 1u << 20, &img, &err), CC_EFORMAT, &err,
                 "junk.jpg", "damaged", "extraneous bytes", NULL);
    /* The last two bytes (EOI) missing: "Premature end of JPEG file". */
    tu_expect_error("JPEG without EOI", cc_image_decode(jpg, n - 2, "noeoi.jpg", 1u << 20, &img, &err), CC_EFORMAT, &err,
                 "Premature end", NULL);
    free(jpg);
    free(buf);

    unsigned char *png = load(DATA "rgb8.png", &n);
    buf = malloc(n + 64);
    /* A tEXt chunk with a wrong CRC after IHDR: ancillary, dropped with a warning: accepted. */
    static const unsigned char text[] = {0, 0, 0, 5, 't', 'E', 'X', 't', 'a', 0, 'b', 'c', 'd', 1, 2, 3, 4};
    memcpy(buf, png, 33);
    memcpy(buf + 33, text, sizeof text);
    memcpy(buf + 33 + sizeof text, png + 33, n - 33);
    tu_check(same_pixels("tEXt with a bad CRC", buf, n + sizeof text, DATA "rgb8.png"),
             "a PNG with a damaged text chunk is read as usual");
    /* The same damage in a critical chunk (IHDR's CRC): refused. */
    memcpy(buf, png, n);
    buf[29] ^= 1;
    tu_expect_error("IHDR CRC", cc_image_decode(buf, n, "crc.png", 1u << 20, &img, &err), CC_EFORMAT, &err, "crc.png",
                 "CRC", NULL);
    /* Junk after IEND: accepted, as every PNG reader does. */
    memcpy(buf, png, n);
    memcpy(buf + n, "junk", 4);
    tu_check(same_pixels("PNG + junk after IEND", buf, n + 4, DATA "rgb8.png"),
             "a PNG followed by junk after IEND is read as usual");
    /* IEND missing: all pixels arrived, still refused (a cut file). */
    tu_expect_error("PNG without IEND", cc_image_decode(png, n - 12, "noiend.png", 1u << 20, &img, &err), CC_EFORMAT,
                 &err, "noiend.png", "truncated", NULL);
    free(png);
    free(buf);
}

/* ---- damage ---- */

/* Decodes; an error must leave out zeroed, a success must be a sane image. */
static int decode_checked(const unsigned char *p, size_t n, const char *what, size_t at, int *insane)
{
    cc_error err;
    cc_image img = {0, 0, NULL, 0};
    cc_status st = cc_image_decode(p, n, what, 1u << 22, &img, &err);
    if (st ? img.rgb || img.width || img.height || !err.msg[0]
           : !img.rgb || img.width < 1 || img.height < 1) {
        if (*insane < 5)
            fprintf(stderr, "  %s at %zu: status %d, %dx%d, rgb %p\n", what, at, st, img.width, img.height,
                    (void *)img.rgb);
        ++*insane;
    }
    cc_image_free(&img);
    return st != CC_OK;
}

static void truncations(const char *path, size_t step)
{
    size_t n;
    unsigned char *full = load(path, &n);
    int accepted = 0, insane = 0, tried = 0;
    size_t first_accepted = 0;
    for (size_t len = 0; len < n; len += step > 1 && len + step < n ? step : 1) {
        unsigned char *p = malloc(len ? len : 1);  /* exactly len bytes: ASan sees any over-read */
        memcpy(p, full, len);
        if (!decode_checked(p, len, path, len, &insane) && !accepted++)
            first_accepted = len;
        tried++;
        free(p);
    }
    tu_check(!accepted && !insane, "%s: %d of %d truncations accepted (first at %zu bytes of %zu), %d insane", path,
             accepted, tried, first_accepted, n, insane);
    free(full);
}

/* Every byte changed to 0xFF - byte and to byte ^ 0x10; for PNG also with the
 * CRCs recomputed. Some changes leave a valid image (pixel data in a JPEG); the
 * test is that nothing crashes, leaks or returns a half-made image. */
static void byte_changes(const char *path, int reseal)
{
    size_t n;
    unsigned char *full = load(path, &n);
    unsigned char *p = malloc(n);
    int rejected = 0, insane = 0, tried = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            memcpy(p, full, n);
            p[i] = k ? (unsigned char)(p[i] ^ 0x10) : (unsigned char)(0xFF - p[i]);
            if (reseal)
                reseal_png(p, n);
            rejected += decode_checked(p, n, path, i, &insane);
            tried++;
        }
    tu_check(!insane, "%s: %d of %d byte changes gave a half-made result", path, insane, tried);
    printf("%s%s: %d of %d single-byte changes rejected\n", path, reseal ? " (CRCs recomputed)" : "", rejected,
           tried);
    free(p);
    free(full);
}

static void test_damage(void)
{
    static const char *const small[] = {
        DATA "rgb444.jpg", DATA "rgb420_progressive.jpg", DATA "gray.jpg", DATA "cmyk_adobe.jpg",
        DATA "rgb8_interlaced.png", DATA "palette4_trns_interlaced.png", DATA "rgba16.png", DATA "gray1.png"};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        truncations(small[i], 1);
    truncations("assets/images/rocket.jpg", 397);   /* ~280 lengths */
    truncations("assets/images/kite.png", 331);     /* ~310 lengths */
    byte_changes(DATA "rgb420_progressive.jpg", 0);
    byte_changes(DATA "cmyk_adobe.jpg", 0);
    byte_changes(DATA "rgb8_interlaced.png", 0);
    byte_changes(DATA "rgb8_interlaced.png", 1);
    byte_changes(DATA "palette2_trns.png", 1);
    byte_changes(DATA "rgba16.png", 1);
    byte_changes(DATA "exif_orient6.jpg", 0);  /* the EXIF parser behind APP1 and eXIf */
    byte_changes(DATA "exif_orient5.png", 1);
    truncations(DATA "exif_orient8.jpg", 1);
}

/* ---- the EXIF Orientation parser on hand-made blocks (io/exif.h) ---- */

/* Writes the low `len` bytes of v at q in the block's byte order. */
static void put_uint(unsigned char *q, unsigned v, int len, int big)
{
    for (int b = 0; b < len; b++)
        q[big ? len - 1 - b : b] = (unsigned char)(v >> (8 * b));
}

/* A TIFF block: header, IFD0 at offset 8 with the given entries (tag, type,
 * count, value: a SHORT in the value field's first two bytes). */
static size_t tiff_block(unsigned char *p, int big, const unsigned (*e)[4], int n)
{
    memcpy(p, big ? "MM\0*" : "II*\0", 4);
    put_uint(p + 4, 8, 4, big);
    put_uint(p + 8, (unsigned)n, 2, big);
    for (int i = 0; i < n; i++) {
        unsigned char *q = p + 10 + 12 * i;
        memset(q, 0, 12);
        put_uint(q, e[i][0], 2, big);
        put_uint(q + 2, e[i][1], 2, big);
        put_uint(q + 4, e[i][2], 4, big);
        put_uint(q + 8, e[i][3], e[i][1] == 3 ? 2 : 4, big);
    }
    return 10 + 12 * (size_t)n;
}

static void test_exif_parser(void)
{
    unsigned char p[256];
    const unsigned six[][4] = {{0x010F, 2, 4, 0}, {0x0112, 3, 1, 6}, {0x8769, 4, 1, 0}};
    for (int big = 0; big < 2; big++) {
        size_t n = tiff_block(p, big, six, 3);
        tu_check(cc_exif_orientation(p, n) == 6, "%s IFD0 with Orientation 6 among other tags: got %d",
                 big ? "big-endian" : "little-endian", cc_exif_orientation(p, n));
        /* Every cut of the block: heap copies of exactly that length, so ASan sees any read past it. */
        int cut_ok = 1;
        for (size_t len = 0; len < n; len++) {
            unsigned char *c = tu_alloc(len ? len : 1);
            memcpy(c, p, len);
            const int o = cc_exif_orientation(c, len);
            cut_ok &= o == (len >= 10 + 24 ? 6 : 1);  /* the entry is whole from byte 34 on */
            free(c);
        }
        tu_check(cut_ok, "cut EXIF blocks give 1 until the Orientation entry is whole, then 6");
    }
    const struct { const char *what; unsigned e[4]; int want; } cases[] = {
        {"a LONG Orientation", {0x0112, 4, 1, 8}, 8},
        {"Orientation 0 (out of range)", {0x0112, 3, 1, 0}, 1},
        {"Orientation 9 (out of range)", {0x0112, 3, 1, 9}, 1},
        {"Orientation of count 2", {0x0112, 3, 2, 3}, 1},
        {"Orientation as ASCII", {0x0112, 2, 1, 3}, 1},
        {"no Orientation", {0x0110, 3, 1, 3}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = tiff_block(p, 0, &cases[i].e, 1);
        tu_check(cc_exif_orientation(p, n) == cases[i].want, "%s: got %d, want %d", cases[i].what,
                 cc_exif_orientation(p, n), cases[i].want);
    }
    size_t n = tiff_block(p, 0, six, 3);
    p[4] = p[5] = p[6] = p[7] = 0xFF;  /* IFD0 at 4 GiB: refused without arithmetic overflow */
    tu_check(cc_exif_orientation(p, n) == 1, "IFD0 offset 0xFFFFFFFF");
    n = tiff_block(p, 0, six, 3);
    p[8] = 0xFF, p[9] = 0xFF;  /* 65535 entries claimed, 3 present */
    tu_check(cc_exif_orientation(p, n) == 6, "an entry count past the block's end reads the whole entries only");
    memcpy(p, "IX*\0", 4);
    tu_check(cc_exif_orientation(p, n) == 1 && cc_exif_orientation(NULL, 0) == 1, "not a TIFF header");
    /* The turns on a 3x2 image of pixel values 10*y + x, against the definitions in io/exif.c. */
    const unsigned char src[6] = {0, 1, 2, 10, 11, 12};
    const unsigned char want[9][6] = {{0}, {0, 1, 2, 10, 11, 12}, {2, 1, 0, 12, 11, 10}, {12, 11, 10, 2, 1, 0},
                                      {10, 11, 12, 0, 1, 2}, {0, 10, 1, 11, 2, 12}, {10, 0, 11, 1, 12, 2},
                                      {12, 2, 11, 1, 10, 0}, {2, 12, 1, 11, 0, 10}};
    for (int o = 1; o <= 8; o++) {
        unsigned char got[6];
        cc_orient_pixels(got, src, 3, 2, 1, o);
        tu_check(!memcmp(got, want[o], 6), "orientation %d of a 3x2 image: got %d %d %d %d %d %d", o, got[0], got[1],
                 got[2], got[3], got[4], got[5]);
    }
}

static void test_free(void)
{
    cc_image_free(NULL);
    cc_image z = {0, 0, NULL, 0};
    cc_image_free(&z);
    tu_check(z.rgb == NULL && z.width == 0, "cc_image_free of an empty image");
}

int main(void)
{
    char *dir = tu_tmpdir_create("image_io");
    test_free();
    test_exif_parser();
    test_fixture();
    test_round_trips(dir);
    tu_tmpdir_remove(dir);
    dir = tu_tmpdir_create("image_io");
    test_write_errors(dir);
    test_read_errors(dir);
    test_forged_sizes();
    test_warnings();
    test_damage();
    tu_check(!strcmp(tu_dir_listing(dir), ""), "files left in the scratch directory: %s", tu_dir_listing(dir));
    tu_tmpdir_remove(dir);
    return tu_finish("image_io");
}
