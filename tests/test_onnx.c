/* tests/test_onnx.c — ONNX files (onnx/) against PyTorch, and as untrusted input.
 *
 * tests/data/onnx holds two small nets exported by torch.onnx.export at
 * opsets 11, 13 (batchnorm kept) and 17, with PyTorch's logits for one input
 * (tests/gen_onnx_fixtures.py). Checks:
 *   - each file's logits, through cnncam_model_load and cnncam_forward, within
 *     1e-4 * max(1, max |logit|) of PyTorch's, the same top-1; the same file
 *     loaded from memory, and its cnncam_onnx_convert .ccm, give the same
 *     logits bit for bit, and a file named .bin is recognised by its bytes;
 *   - truncations of two files (every length through the graph's structure,
 *     every 7th through the weights) are refused with a message naming the
 *     input, never a crash (make asan runs this under ASan and UBSan);
 *   - every byte of one file (every 5th of another) XORed with 0xFF either
 *     loads (and then runs) or is refused with a message: nothing crashes,
 *     leaks or reads out of bounds. */
#include "cnncam.h"
#include "onnx/onnx.h"
#include "testutil.h"
#include "tu_files.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA "tests/data/onnx/"

enum { H = 20, W = 20 };

static float *read_f32(const char *path, size_t *n)
{
    size_t bytes;
    unsigned char *b = tu_read_file(path, &bytes);
    tu_check(b != NULL && bytes % 4 == 0, "%s reads", path);
    *n = b ? bytes / 4 : 0;
    return (float *)(void *)b;   /* malloc'ed: aligned for float; the fixtures are little-endian, as this host */
}

/* Forward of the input through m; logits (n of them) into out. 0 on failure. */
static int forward(const cnncam_model *m, const float *x, float *out, int n)
{
    cnncam_ctx *ctx = cnncam_ctx_create(m);
    int ok = ctx && !cnncam_forward(ctx, x, 1, H, W) && cnncam_model_classes(m) == n;
    if (ok)
        memcpy(out, cnncam_logits(ctx, 0), (size_t)n * sizeof *out);
    cnncam_ctx_free(ctx);
    return ok;
}

static void against_pytorch(const char *net, int opset, const float *x, char *dir)
{
    char path[256], want_path[256], err[512];
    snprintf(path, sizeof path, DATA "%s-%d.onnx", net, opset);
    snprintf(want_path, sizeof want_path, DATA "%s.logits.f32", net);
    size_t n;
    float *want = read_f32(want_path, &n), got[16], again[16];
    cnncam_model *m = NULL;
    tu_check(!cnncam_model_load(path, &m, err, sizeof err), "%s loads: %s", path, m ? "" : err);
    if (!m || n > 16) {
        free(want);
        return;
    }
    tu_check(forward(m, x, got, (int)n), "%s runs", path);
    double scale = 1, diff = 0;
    int top_got = 0, top_want = 0;
    for (size_t k = 0; k < n; k++) {
        scale = fmax(scale, fabs(want[k]));
        diff = fmax(diff, fabs((double)got[k] - want[k]));
        top_got = got[k] > got[top_got] ? (int)k : top_got;
        top_want = want[k] > want[top_want] ? (int)k : top_want;
    }
    tu_check(diff <= 1e-4 * scale && top_got == top_want, "%s: logits within %.3g of PyTorch's (tolerance %.3g), "
             "top-1 %d (PyTorch %d)", path, diff, 1e-4 * scale, top_got, top_want);
    cnncam_model_free(m);

    /* The .ccm it converts to, and the bytes from memory, are the same model. */
    char ccm[512], bin[512];   /* tu_path's buffer is static */
    snprintf(ccm, sizeof ccm, "%s", tu_path(dir, "converted.ccm"));
    snprintf(bin, sizeof bin, "%s", tu_path(dir, "model.bin"));
    tu_check(!cnncam_onnx_convert(path, ccm, NULL, err, sizeof err), "%s converts: %s", path, err);
    m = NULL;
    if (!cnncam_model_load(ccm, &m, err, sizeof err) && forward(m, x, again, (int)n))
        tu_check(!memcmp(got, again, n * sizeof *got), "%s: the converted .ccm gives the same logits", path);
    else
        tu_check(0, "%s: the converted .ccm loads and runs: %s", path, err);
    cnncam_model_free(m);
    size_t size;
    unsigned char *bytes = tu_read_file(path, &size);
    cc_model *cm = NULL;
    cc_error e;
    tu_check(bytes && !cc_onnx_load_memory(bytes, size, &cm, &e), "%s loads from memory", path);
    cc_model_free(cm);
    tu_write_file(bin, bytes, size);
    tu_check(cc_onnx_is_onnx(bin) && !cc_onnx_is_onnx(ccm), "ONNX bytes are recognised without the .onnx name");
    m = NULL;
    tu_check(!cnncam_model_load(bin, &m, err, sizeof err), "model.bin (ONNX bytes) loads: %s", err);
    cnncam_model_free(m);
    free(bytes);
    free(want);
}

/* Every length below 4096 (the graph's structure), every 7th after (inside the weights). */
static void truncations(const char *path)
{
    size_t size;
    unsigned char *bytes = tu_read_file(path, &size);
    if (!bytes) {
        tu_check(0, "%s reads", path);
        return;
    }
    int refused = 0, named = 0, tried = 0;
    for (size_t n = 0; n < size; n += n < 4096 ? 1 : 7, tried++) {
        unsigned char *copy = malloc(n ? n : 1);   /* exactly n bytes, so ASan sees any read past them */
        memcpy(copy, bytes, n);
        cc_model *m = NULL;
        cc_error e = {{0}};
        const cc_status st = cc_onnx_load_memory(copy, n, &m, &e);
        refused += st != CC_OK && !m;
        named += strstr(e.msg, "<memory>") != NULL;
        cc_model_free(m);
        free(copy);
    }
    tu_check(refused == tried && named == tried, "%s (%zu bytes): each of %d truncations is refused (%d) with a "
             "message naming the input (%d)", path, size, tried, refused, named);
    free(bytes);
}

/* Every stride-th byte flipped. */
static void byte_flips(const char *path, const float *x, size_t stride)
{
    size_t size;
    unsigned char *bytes = tu_read_file(path, &size);
    if (!bytes) {
        tu_check(0, "%s reads", path);
        return;
    }
    int loaded = 0, refused = 0, silent = 0, tried = 0;
    for (size_t k = 0; k < size; k += stride, tried++) {
        unsigned char *copy = malloc(size);
        memcpy(copy, bytes, size);
        copy[k] ^= 0xFF;
        cc_model *m = NULL;
        cc_error e = {{0}};
        if (!cc_onnx_load_memory(copy, size, &m, &e)) {
            loaded++;
            cnncam_model *pm = NULL;   /* run what loaded, through the public API, from a file */
            char err[512];
            tu_write_file("/tmp/cnncam-test-onnx-flip.onnx", copy, size);
            if (!cnncam_model_load("/tmp/cnncam-test-onnx-flip.onnx", &pm, err, sizeof err)) {
                cnncam_ctx *ctx = cnncam_ctx_create(pm);
                if (ctx)
                    (void)cnncam_forward(ctx, x, 1, H, W);
                cnncam_ctx_free(ctx);
            }
            cnncam_model_free(pm);
        } else {
            refused++;
            silent += !e.msg[0];
        }
        cc_model_free(m);
        free(copy);
    }
    remove("/tmp/cnncam-test-onnx-flip.onnx");
    tu_check(loaded + refused == tried && refused > 0 && !silent, "%s: %d single-byte flips: %d load and run, "
             "%d are refused, each with a message (%d without)", path, tried, loaded, refused, silent);
    free(bytes);
}

int main(void)
{
    size_t n;
    float *x = read_f32(DATA "input.f32", &n);
    tu_check(n == 3 * H * W, "input.f32 holds a 3x%dx%d image", H, W);
    char *dir = tu_tmpdir_create("onnx");
    static const char *const nets[] = {"mobile", "plain"};
    static const int opsets[] = {11, 13, 17};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++)
            against_pytorch(nets[i], opsets[k], x, dir);
    truncations(DATA "mobile-17.onnx");
    truncations(DATA "plain-13.onnx");
    byte_flips(DATA "mobile-17.onnx", x, 1);
    byte_flips(DATA "plain-11.onnx", x, 5);
    tu_tmpdir_remove(dir);
    free(x);
    return tu_finish("onnx");
}
