/* tests/fuzz/fuzz_image.c — libFuzzer target for the image and .npy readers.
 *
 * Every input goes to cc_image_decode (JPEG through libjpeg-turbo, PNG
 * through libpng) with a limit of 4 megapixels, so a header that forges a
 * huge size is refused before pixel memory is allocated and each run stays
 * quick. A PNG is decoded twice: as given (a mutated chunk almost always
 * fails its CRC), and with every chunk's CRC recomputed so that mutations
 * reach the checks behind it (IHDR sizes, palettes, chunk order). An input
 * that starts with the .npy magic also goes to cc_npy_decode. libjpeg and
 * libpng themselves are not instrumented: coverage guides through io/ only.
 * Beyond what the sanitizers catch, each result is held to the headers'
 * promises: a success has a size within the limit and every pixel or element
 * readable; a failure has a message and leaves nothing behind. Built and run
 * by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined); the seeds are
 * tests/data/img and tests/data/npy as they are. */
#include "io/image.h"
#include "io/npy.h"
#include "weights/crc32.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_PIXELS = 4 * 1000 * 1000 };

static void image(const uint8_t *data, size_t size)
{
    cc_image img;
    cc_error err = {""};
    if (cc_image_decode(data, size, "fuzz", MAX_PIXELS, &img, &err)) {
        if (img.rgb || img.width || img.height || !err.msg[0])
            abort();
        return;
    }
    if (!img.rgb || img.width < 1 || img.height < 1 || (size_t)img.width * (size_t)img.height > MAX_PIXELS)
        abort();
    size_t n = (size_t)img.width * (size_t)img.height * 3;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i += 4096)
        sum += img.rgb[i];
    volatile unsigned sink = sum + img.rgb[n - 1];  /* the last byte too: ASan checks the buffer's length */
    (void)sink;
    cc_image_free(&img);
}

/* Recomputes the CRC of every whole chunk of the PNG in p; 1 if one changed. */
static int png_reseal(unsigned char *p, size_t n)
{
    int changed = 0;
    size_t at = 8;  /* after the signature */
    while (n - at >= 12) {
        size_t len = (size_t)p[at] << 24 | (size_t)p[at + 1] << 16 | (size_t)p[at + 2] << 8 | p[at + 3];
        if (len > n - at - 12)
            break;
        uint32_t crc = cc_crc32(0, p + at + 4, 4 + len);
        unsigned char *c = p + at + 8 + len;
        unsigned char want[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16), (unsigned char)(crc >> 8),
                                 (unsigned char)crc};
        changed |= memcmp(c, want, 4) != 0;
        memcpy(c, want, 4);
        at += 12 + len;
    }
    return changed;
}

static void npy(const uint8_t *data, size_t size)
{
    float *x = (float *)&x;
    int shape[CC_MAX_RANK], rank = -1;
    cc_error err = {""};
    if (cc_npy_decode(data, size, "fuzz.npy", &x, shape, &rank, &err)) {
        if (x || rank || !err.msg[0])
            abort();
        return;
    }
    if (!x || rank < 1 || rank > CC_MAX_RANK)
        abort();
    size_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 1)
            abort();
        numel *= (size_t)shape[i];
    }
    if (numel > CC_MAX_NUMEL || numel * 4 >= size)  /* the elements come from the input's bytes */
        abort();
    volatile float sink = x[0] + x[numel - 1];
    (void)sink;
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    image(data, size);
    if (size >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) {
        unsigned char *copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        if (png_reseal(copy, size))
            image(copy, size);
        free(copy);
    }
    if (size >= 6 && !memcmp(data, "\x93NUMPY", 6))
        npy(data, size);
    return 0;
}
