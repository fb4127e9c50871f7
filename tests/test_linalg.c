/* tests/test_linalg.c — the eigen, KPCA and random CAM building blocks
 * against numpy, replaying tests/fixtures/linalg.ccgf
 * (tests/gen_linalg_fixtures.py, `make fixtures`; numpy 1.24 on OpenBLAS 0.3.21):
 *   - cam/projection.h: the float32 centring bit for bit (numpy's pairwise
 *     channel means); get_2d_projection within 1e-5 of the largest |value|
 *     with LAPACK's sign equal to numpy's, on every dgesdd path (hw < K via
 *     LQ or not, hw == K, hw > K via QR or not), one channel, one pixel,
 *     NaNs; each deterministic sign rule as numpy evaluates it on numpy's
 *     projection; the caller's scratch misaligned by 4 bytes and sized
 *     exactly (AddressSanitizer catches an overrun); the input untouched;
 *   - cam/kernel_pca.h: every kernel, default and explicit gamma, within
 *     1e-5 of the largest |value| of a float64 numpy restatement; one pixel
 *     gives 0;
 *   - cam/numpy_random.h: RandomState(s).uniform(-1, 1, 2000) bit for bit
 *     for s = 0, 1, 42, 2^32 - 1;
 *   - bad shapes, sign rules, kernels and gammas fail with a message.
 * Prints the largest differences and how many values are bit-identical.
 * Usage: test_linalg [FIXTURE]   (default tests/fixtures/linalg.ccgf) */
#include "cam/kernel_pca.h"
#include "cam/numpy_random.h"
#include "cam/projection.h"
#include "tensorfile.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NUM_RULES = 4 };
static const cc_projection_sign RULES[NUM_RULES] = {CC_PROJECTION_SIGN_SEG_EIGEN, CC_PROJECTION_SIGN_MAX_ABS,
                                                    CC_PROJECTION_SIGN_SKEW, CC_PROJECTION_SIGN_MEAN_ACTIVATION};
static const char *const RULE_NAMES[NUM_RULES] = {"seg_eigen", "max_abs", "skew", "mean_activation"};
static const uint32_t RNG_SEEDS[] = {0, 1, 42, 4294967295u};

/* Exactly `bytes` of heap at a 4-byte offset from malloc's alignment: the
 * callee must align it itself and stay inside. Free with free(block - 4). */
static unsigned char *misaligned_scratch(size_t bytes)
{
    return (unsigned char *)tu_alloc(bytes + 4) + 4;
}

/* Whether the fixture holds case c of a kind ("proj/3/act"): the cases run until one is missing. */
static int has_case(const tf_file *f, const char *kind, int c)
{
    char name[64];
    snprintf(name, sizeof name, "%s/%d/act", kind, c);
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->t[i].name, name))
            return 1;
    return 0;
}

static size_t bit_identical(const float *got, const float *want, size_t n)
{
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += memcmp(&got[i], &want[i], sizeof(float)) == 0;
    return same;
}

static float max_abs(const float *x, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

/* got within 1e-5 of max |want| of sign * want; returns the worst |diff|
 * relative to max |want|. */
static double close_to(const char *what, const float *got, const float *want, float sign, size_t n)
{
    double *w = tu_alloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++)
        w[i] = (double)sign * want[i];
    const double scale = max_abs(want, n);
    const double worst = tu_close(what, got, w, n, 1e-5 * scale + 1e-30, 0);
    free(w);
    return scale > 0 ? worst / scale : worst;
}

static void test_projections(const tf_file *f)
{
    double worst = 0;
    size_t same = 0, total = 0;
    int cases = 0;
    for (int c = 0;; c++, cases++) {
        if (!has_case(f, "proj", c))
            break;
        const tf_tensor *act = tf_get(f, 'f', "proj/%d/act", c), *mean = tf_get(f, 'f', "proj/%d/mean", c),
                        *want = tf_get(f, 'f', "proj/%d/out", c), *flip = tf_get(f, 'i', "proj/%d/flip", c);
        if (!act || !mean || !want || !flip)
            return;
        const int K = act->dims[0], hw = (int)(act->n / (size_t)K);
        const float *A = act->data, *W = want->data, *means = mean->data;
        const int32_t *flips = flip->data;

        /* the centring, against numpy's means: fl32(a - mean), NaN -> 0 */
        float *m = tu_alloc(act->n * sizeof *m);
        float *expect = tu_alloc(act->n * sizeof *expect);
        cc_projection_centre(m, A, K, hw);
        for (size_t i = 0; i < act->n; i++)
            expect[i] = (isnan(A[i]) ? 0.0f : A[i]) - means[i / (size_t)hw];
        tu_check(bit_identical(m, expect, act->n) == act->n, "proj %d (%d x %d): centring not bit-identical "
                 "to numpy's float32 means", c, K, hw);
        free(expect);
        free(m);

        cc_projection_plan plan;
        cc_error err;
        cc_status st = cc_projection_plan_init(&plan, K, hw, &err);
        tu_check(st == CC_OK, "proj %d: plan: %s", c, st ? err.msg : "");
        if (st)
            continue;
        tu_check(plan.jobz == 'S', "proj %d: JOBZ '%c'", c, plan.jobz);
        unsigned char *scratch = misaligned_scratch(plan.scratch_bytes);
        float *copy = tu_alloc(act->n * sizeof *copy), *proj = tu_alloc((size_t)hw * sizeof *proj);
        memcpy(copy, A, act->n * sizeof *copy);

        char what[96];
        st = cc_projection_2d(&plan, A, CC_PROJECTION_SIGN_LAPACK, proj, scratch, &err);
        tu_check(st == CC_OK, "proj %d: %s", c, st ? err.msg : "");
        snprintf(what, sizeof what, "proj %d (K %d, hw %d, JOBZ %c) LAPACK sign", c, K, hw, plan.jobz);
        const double rel = close_to(what, proj, W, 1, (size_t)hw);
        double dot = 0;
        for (int i = 0; i < hw; i++)
            dot += (double)proj[i] * W[i];
        tu_check(max_abs(W, (size_t)hw) == 0 || dot > 0, "%s: the sign differs from numpy's", what);
        const size_t s = bit_identical(proj, W, (size_t)hw);
        printf("%-52s max |diff| / max |want| %.2g, %zu/%d bit-identical\n", what, rel, s, hw);
        worst = rel > worst ? rel : worst;
        same += s;
        total += (size_t)hw;
        tu_check(memcmp(copy, A, act->n * sizeof *copy) == 0, "proj %d: the input was modified", c);

        for (int r = 0; r < NUM_RULES; r++) {
            st = cc_projection_2d(&plan, A, RULES[r], proj, scratch, &err);
            tu_check(st == CC_OK, "proj %d %s: %s", c, RULE_NAMES[r], st ? err.msg : "");
            snprintf(what, sizeof what, "proj %d sign %s (numpy's %+d)", c, RULE_NAMES[r], (int)flips[r]);
            close_to(what, proj, W, (float)flips[r], (size_t)hw);
        }
        free(scratch - 4);
        free(copy);
        free(proj);
    }
    tu_check(cases >= 10, "only %d projection cases in the fixture", cases);
    printf("projections: %d cases, worst max |diff| / max |want| %.2g, %zu/%zu values bit-identical\n", cases,
           worst, same, total);
}

static void test_kpca(const tf_file *f)
{
    double worst = 0;
    int cases = 0;
    for (int c = 0;; c++, cases++) {
        if (!has_case(f, "kpca", c))
            break;
        const tf_tensor *act = tf_get(f, 'f', "kpca/%d/act", c), *meta = tf_get(f, 'f', "kpca/%d/meta", c),
                        *want = tf_get(f, 'f', "kpca/%d/out", c);
        if (!act || !meta || !want)
            return;
        const int K = act->dims[0], hw = (int)(act->n / (size_t)K);
        const float *M = meta->data;
        const cc_kpca_kernel kernel = (cc_kpca_kernel)M[0];
        cc_kpca_plan plan;
        cc_error err;
        cc_status st = cc_kpca_plan_init(&plan, K, hw, &err);
        tu_check(st == CC_OK, "kpca %d: plan: %s", c, st ? err.msg : "");
        if (st)
            continue;
        unsigned char *scratch = misaligned_scratch(plan.scratch_bytes);
        float *proj = tu_alloc((size_t)hw * sizeof *proj);
        st = cc_kpca_projection(&plan, act->data, kernel, M[1], proj, scratch, &err);
        tu_check(st == CC_OK, "kpca %d: %s", c, st ? err.msg : "");
        char what[96];
        snprintf(what, sizeof what, "kpca %d (kernel %d, gamma %g, K %d, hw %d)", c, (int)kernel, M[1], K, hw);
        const double rel = close_to(what, proj, want->data, 1, (size_t)hw);
        printf("%-52s max |diff| / max |want| %.2g\n", what, rel);
        worst = rel > worst ? rel : worst;
        free(scratch - 4);
        free(proj);
    }
    tu_check(cases >= 10, "only %d KPCA cases in the fixture", cases);
    printf("kpca: %d cases, worst max |diff| / max |want| %.2g\n", cases, worst);
}

static void test_numpy_random(const tf_file *f)
{
    for (size_t s = 0; s < sizeof RNG_SEEDS / sizeof *RNG_SEEDS; s++) {
        const tf_tensor *t = tf_get(f, 'i', "rng/%u", RNG_SEEDS[s]);
        if (!t)
            continue;
        const int32_t *words = t->data;
        const size_t n = t->n / 2;
        double *got = tu_alloc(n * sizeof *got);
        cc_numpy_random rs;
        cc_numpy_random_seed(&rs, RNG_SEEDS[s]);
        cc_numpy_random_uniform(&rs, -1, 1, got, n);
        size_t same = 0;
        for (size_t i = 0; i < n; i++) {
            const uint64_t bits = (uint64_t)(uint32_t)words[2 * i] | (uint64_t)(uint32_t)words[2 * i + 1] << 32;
            double want;
            memcpy(&want, &bits, sizeof want);
            same += memcmp(&got[i], &want, sizeof want) == 0;
        }
        printf("RandomState(%u).uniform(-1, 1, %zu): %zu/%zu bit-identical\n", RNG_SEEDS[s], n, same, n);
        tu_check(n == 2000 && same == n, "seed %u: %zu of %zu uniforms bit-identical", RNG_SEEDS[s], same, n);
        free(got);
    }
}

static void test_errors(void)
{
    cc_error err;
    cc_projection_plan plan;
    tu_expect_error("projection of 0 channels", cc_projection_plan_init(&plan, 0, 49, &err), CC_EINVAL, &err,
                    "0 channels", NULL);
    tu_expect_error("projection of 0 pixels", cc_projection_plan_init(&plan, 8, 0, &err), CC_EINVAL, &err,
                    "0 pixels", NULL);
    tu_expect_error("projection of 50000 channels", cc_projection_plan_init(&plan, 50000, 1, &err), CC_EINVAL,
                    &err, "50000 channels", "46340", NULL);
    float act[6] = {1, 2, 3, 4, 5, 7}, proj[3];
    cc_status st = cc_projection_plan_init(&plan, 2, 3, &err);
    tu_check(st == CC_OK, "plan 2 x 3: %s", st ? err.msg : "");
    unsigned char *scratch = misaligned_scratch(plan.scratch_bytes);
    tu_expect_error("unknown sign rule", cc_projection_2d(&plan, act, (cc_projection_sign)9, proj, scratch, &err),
                    CC_EINVAL, &err, "sign rule 9", NULL);
    free(scratch - 4);

    cc_kpca_plan kp;
    tu_expect_error("kpca of 0 channels", cc_kpca_plan_init(&kp, 0, 9, &err), CC_EINVAL, &err, "0 channels",
                    NULL);
    tu_expect_error("kpca of 50000 pixels", cc_kpca_plan_init(&kp, 4, 50000, &err), CC_EINVAL, &err,
                    "50000 pixels", "46340", NULL);
    st = cc_kpca_plan_init(&kp, 2, 3, &err);
    tu_check(st == CC_OK, "kpca plan 2 x 3: %s", st ? err.msg : "");
    scratch = misaligned_scratch(kp.scratch_bytes);
    tu_expect_error("kpca gamma < 0", cc_kpca_projection(&kp, act, CC_KPCA_RBF, -1, proj, scratch, &err),
                    CC_EINVAL, &err, "gamma -1", NULL);
    tu_expect_error("kpca gamma NaN", cc_kpca_projection(&kp, act, CC_KPCA_RBF, NAN, proj, scratch, &err),
                    CC_EINVAL, &err, "gamma nan", NULL);
    tu_expect_error("unknown kernel", cc_kpca_projection(&kp, act, (cc_kpca_kernel)7, 0, proj, scratch, &err),
                    CC_EINVAL, &err, "kernel 7", NULL);
    free(scratch - 4);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "tests/fixtures/linalg.ccgf";
    tf_file f;
    if (tf_load(&f, path) == 0) {
        test_projections(&f);
        test_kpca(&f);
        test_numpy_random(&f);
        tf_free(&f);
    } else {
        tu_check(0, "cannot load %s", path);
    }
    test_errors();
    return tu_finish("test_linalg");
}
