/* tests/test_fpenv.c — runs flush subnormals to zero and give the caller its
 * floating-point mode back (runtime/fpenv.h, include/cnncam.h).
 *
 * A model written here: features.0 conv 3->16 k3 p1 without bias,
 * features.1 relu ("features"), global average pool, flatten, classifier
 * linear 16->4. Its input is subnormal (1e-39 scale, on 64x64 so the conv's
 * product is split over two threads): in IEEE arithmetic every conv output
 * is a nonzero subnormal (a sum of 27 positive products times positive
 * weights); with DAZ the input reads as 0, so the activations are exactly 0
 * and the logits exactly the classifier's bias. After cnncam_forward and
 * cnncam_gradcam the caller's MXCSR control bits (rounding, masks, FTZ, DAZ)
 * are what it set: the default, round-toward-zero, and FTZ+DAZ already on. */
#include "cnncam.h"
#include "runtime/fpenv.h"
#include "testutil.h"
#include "weights/model.h"
#include "weights/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { C = 16, NCLS = 4, H = 64, W = 64 };

static float conv_w[C * 3 * 9], fc_w[NCLS * C], fc_b[NCLS];

static void write_model(const char *path)
{
    tu_rng rng = {5};
    for (int i = 0; i < C * 3 * 9; i++)
        conv_w[i] = (float)tu_uniform(&rng, 0.1, 0.5);  /* positive: no sum cancels to 0 */
    for (int i = 0; i < NCLS * C; i++)
        fc_w[i] = (float)tu_uniform(&rng, -0.5, 0.5);
    for (int i = 0; i < NCLS; i++)
        fc_b[i] = (float)tu_uniform(&rng, -1, 1);
    cc_model_writer *w = cc_writer_create();
    cc_writer_meta_string(w, "arch", "fpenv-test");
    cc_writer_meta_int(w, "classes", NCLS);
    cc_writer_meta_string(w, "gradcam.layer", "features");
    cc_writer_tensor(w, "features.0.weight", CC_DTYPE_F32, cc_shape4(C, 3, 3, 3), conv_w);
    cc_writer_tensor(w, "classifier.weight", CC_DTYPE_F32, cc_shape2(NCLS, C), fc_w);
    cc_writer_tensor(w, "classifier.bias", CC_DTYPE_F32, (cc_shape){1, {NCLS}}, fc_b);
    const double k3[] = {3}, p1[] = {1}, one[] = {1};
    const cc_writer_attr conv_attrs[] = {{"kernel_size", k3, 1}, {"padding", p1, 1}};
    const cc_writer_attr pool_attrs[] = {{"output_size", one, 1}};
    const cc_writer_attr flat_attrs[] = {{"start_dim", one, 1}};
    const cc_writer_param conv_p[] = {{"weight", "features.0.weight"}};
    const cc_writer_param fc_p[] = {{"weight", "classifier.weight"}, {"bias", "classifier.bias"}};
    int x = cc_writer_input(w, "input");
    int c1 = cc_writer_node(w, "features.0", "conv2d", &x, 1, conv_p, 1, conv_attrs, 2);
    int r1 = cc_writer_node(w, "features.1", "relu", &c1, 1, NULL, 0, NULL, 0);
    int pool = cc_writer_node(w, "avgpool", "adaptive_avgpool2d", &r1, 1, NULL, 0, pool_attrs, 1);
    int flat = cc_writer_node(w, "flatten", "flatten", &pool, 1, NULL, 0, flat_attrs, 1);
    int fc = cc_writer_node(w, "classifier", "linear", &flat, 1, fc_p, 2, NULL, 0);
    cc_writer_output(w, fc);
    cc_writer_alias(w, "features", r1);
    cc_error err;
    if (cc_writer_to_file(w, path, &err)) {
        fprintf(stderr, "cannot write the test model: %s\n", err.msg);
        exit(3);
    }
    cc_writer_free(w);
}

int main(void)
{
#ifndef CC_FPENV_X86
    tu_skip("FTZ/DAZ exist on x86 only: elsewhere runs compute subnormals as IEEE 754 says");
    return tu_finish("fpenv");
#else
    char path[64];
    snprintf(path, sizeof path, "/tmp/cnncam-test-fpenv-%d.ccm", (int)getpid());
    write_model(path);
    cnncam_model *m;
    char err[256];
    if (cnncam_model_load(path, &m, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 3;
    }
    unlink(path);
    cnncam_ctx *ctx = cnncam_ctx_create(m);
    cnncam_ctx_set_threads(ctx, 2);
    float *x = tu_alloc(sizeof(float) * 3 * H * W), *map = tu_alloc(sizeof(float) * H * W);
    tu_rng rng = {9};
    for (int i = 0; i < 3 * H * W; i++)
        x[i] = (float)tu_uniform(&rng, 0.5, 1) * 1e-39f;  /* subnormal */

    /* The IEEE value of the first output, to show the flush has something to flush. */
    volatile float product = x[0] * conv_w[13];
    tu_check(product != 0, "an input times a weight is %g in IEEE arithmetic (subnormal, not 0)", (double)product);

    const unsigned control = ~0x3fu;  /* MXCSR without the status flags */
    const unsigned base = cc_fpenv_get() & control;
    const unsigned modes[] = {base, (base & ~0x6000u) | 0x6000u /* round toward zero */,
                              base | CC_MXCSR_FTZ | CC_MXCSR_DAZ};
    for (int k = 0; k < 3; k++) {
        cc_fpenv_set(modes[k]);
        const int fwd = cnncam_forward(ctx, x, 1, H, W) == CNNCAM_OK;
        const unsigned after_forward = cc_fpenv_get() & control;
        const int cls = 1, cam = fwd && cnncam_gradcam(ctx, &cls, map) == CNNCAM_OK;
        const unsigned after_gradcam = cc_fpenv_get() & control;
        cc_fpenv_set(base);
        tu_check(fwd && cam, "mode %#x: forward and gradcam ran: %s", modes[k], cnncam_ctx_error(ctx));
        tu_check(after_forward == modes[k], "cnncam_forward left MXCSR %#x; the caller had %#x", after_forward,
                 modes[k]);
        tu_check(after_gradcam == modes[k], "cnncam_gradcam left MXCSR %#x; the caller had %#x", after_gradcam,
                 modes[k]);
        const float *a = cnncam_activation(ctx, 0, 0), *logits = cnncam_logits(ctx, 0);
        size_t nonzero = 0;
        for (int i = 0; a && i < C * H * W; i++)
            nonzero += a[i] != 0;
        tu_check(a && !nonzero, "mode %#x: %zu of %d activations of a subnormal input are not 0 (DAZ reads it "
                 "as 0)", modes[k], nonzero, C * H * W);
        int exact = logits != NULL;
        for (int c = 0; exact && c < NCLS; c++)
            exact = logits[c] == fc_b[c];
        tu_check(exact, "mode %#x: logits are exactly the classifier's bias", modes[k]);
    }
    free(x), free(map);
    cnncam_ctx_free(ctx);
    cnncam_model_free(m);
    printf("fpenv: forward and gradcam flush a subnormal input to 0 and restore the caller's MXCSR "
           "(default, round toward zero, FTZ+DAZ)\n");
    return tu_finish("fpenv");
#endif
}
