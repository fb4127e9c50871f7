/* tests/test_eigen_sign.c — the sign rules of cam/projection.h on inputs
 * where the answer is known without LAPACK:
 *   - invariance: permuting the channels of A (A's rows) leaves the first
 *     principal component's map the same up to sign (M P = U S (VT P)), and
 *     so does negating one channel (M D, D = diag(+-1)); for seeded random A
 *     of both dgesdd paths (hw >= K and hw < K) the test searches,
 *     deterministically, a permutation and a negated channel for which
 *     LAPACK's projection comes out negated, and checks that the default rule
 *     (CC_CAM_DEFAULT_SIGN, through cc_cam_projection_sign) and every
 *     candidate that the transformation leaves invariant give the same map
 *     for both inputs while LAPACK's differs (MEAN_ACTIVATION is not
 *     invariant under a negated channel: the channel mean changes);
 *   - pixels permuted: each candidate's map is permuted with them;
 *   - decisions by construction: a rank-1 A[k, p] = a_k x_p has proj =
 *     +-|a| (x - mean x) for either LAPACK sign, so each rule's answer is
 *     known: MAX_ABS the entry of largest |x - mean| positive, SKEW the long
 *     tail positive, MEAN_ACTIVATION sign(sum a) (x - mean x), and negating A
 *     keeps the first two maps and negates the third; a case where the rules
 *     disagree with each other; exact ties (sum proj^3 = 0, sum VT[0] = 0,
 *     two entries of the largest |proj|) settled by MAX_ABS's first maximum;
 *   - cnncam's default is a deterministic rule, and --eigen-sign lapack maps
 *     to LAPACK's.
 * Usage: test_eigen_sign */
#include "cam/channel_map.h"
#include "cam/projection.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_TRIES = 200 };
static const char *const NAMES[] = {"lapack", "seg_eigen", "max_abs", "skew", "mean_activation"};

/* proj (hw) of act (K x hw) under a rule; a failure is a failed check. */
static void project(const float *act, int K, int hw, cc_projection_sign sign, float *proj)
{
    cc_projection_plan plan;
    cc_error err = {0};
    cc_status st = cc_projection_plan_init(&plan, K, hw, &err);
    if (st == CC_OK) {
        void *scratch = tu_alloc(plan.scratch_bytes);
        st = cc_projection_2d(&plan, act, sign, proj, scratch, &err);
        free(scratch);
    }
    tu_check(st == CC_OK, "projection of %d x %d (%s): %s", K, hw, NAMES[sign], err.msg);
    if (st != CC_OK)
        memset(proj, 0, (size_t)hw * sizeof(float));
}

static float max_abs(const float *x, int n)
{
    float m = 0;
    for (int i = 0; i < n; i++)
        m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

/* max |got - s want| / max |want|: s = +1 for the same map, -1 for the negated one. */
static double rel_diff(const float *got, const float *want, float s, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++)
        d = fmax(d, fabs((double)got[i] - (double)s * want[i]));
    const float m = max_abs(want, n);
    return m > 0 ? d / m : d;
}

static const double TOL = 1e-5;  /* float32 rounding of two different dgesdd runs */

static float *random_act(int K, int hw, uint64_t seed)
{
    tu_rng rng = {seed};
    float *a = tu_alloc((size_t)K * hw * sizeof(float));
    for (size_t i = 0; i < (size_t)K * hw; i++)
        a[i] = (float)tu_uniform(&rng, -1, 1);
    /* a few strong pixels in some channels, as real activations have: a
     * skewed map, so the rules have something to decide on */
    for (int k = 0; k < K; k += 3)
        a[(size_t)k * hw + (k * 7) % hw] += 4.0f;
    return a;
}

/* out = act with its rows (channels) permuted: out[k] = act[perm[k]]. */
static void permute_channels(float *out, const float *act, const int *perm, int K, int hw)
{
    for (int k = 0; k < K; k++)
        memcpy(out + (size_t)k * hw, act + (size_t)perm[k] * hw, (size_t)hw * sizeof(float));
}

/* One Fisher-Yates shuffle of 0..K-1 from rng. */
static void shuffle(int *perm, int K, tu_rng *rng)
{
    for (int k = 0; k < K; k++)
        perm[k] = k;
    for (int k = K - 1; k > 0; k--) {
        int j = (int)(tu_next(rng) % (uint64_t)(k + 1)), t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
}

/* map p of B's pixel i is pixel pix[i] of A's (pix NULL: the same pixel):
 * max |b[i] - s a[pix[i]]| / max |a|. */
static double rel_diff_at(const float *b, const float *a, const int *pix, float s, int hw)
{
    double d = 0;
    for (int i = 0; i < hw; i++)
        d = fmax(d, fabs((double)b[i] - (double)s * a[pix ? pix[i] : i]));
    const float m = max_abs(a, hw);
    return m > 0 ? d / m : d;
}

/* Whether LAPACK's projection of B is the negation of A's (through pix). */
static int lapack_flips(const float *A, const float *B, const int *pix, int K, int hw)
{
    float *pa = tu_alloc((size_t)hw * sizeof(float)), *pb = tu_alloc((size_t)hw * sizeof(float));
    project(A, K, hw, CC_PROJECTION_SIGN_LAPACK, pa);
    project(B, K, hw, CC_PROJECTION_SIGN_LAPACK, pb);
    double s = 0;
    for (int i = 0; i < hw; i++)
        s += (double)pb[i] * pa[pix ? pix[i] : i];
    free(pa);
    free(pb);
    return s < 0;
}

/* A (K x hw) and its transformed B (pixels moved by pix, or not) have the
 * same map up to sign. flipped: the search found B such that LAPACK's map
 * is negated, which is checked; each rule of `rules` must give A's map. */
static void check_pair(const char *what, const float *A, const float *B, const int *pix, int K, int hw,
                       int flipped, const cc_projection_sign *rules, int nrules)
{
    float *pa = tu_alloc((size_t)hw * sizeof(float)), *pb = tu_alloc((size_t)hw * sizeof(float));
    double d;
    if (flipped) {
        project(A, K, hw, CC_PROJECTION_SIGN_LAPACK, pa);
        project(B, K, hw, CC_PROJECTION_SIGN_LAPACK, pb);
        d = rel_diff_at(pb, pa, pix, -1, hw);
        tu_check(d <= TOL, "%s, %d x %d: LAPACK's map is the negated one (max rel diff %.2g)", what, K, hw, d);
    }
    for (int r = 0; r < nrules; r++) {
        project(A, K, hw, rules[r], pa);
        project(B, K, hw, rules[r], pb);
        d = rel_diff_at(pb, pa, pix, 1, hw);
        tu_check(d <= TOL && max_abs(pa, hw) > 0, "%s, %d x %d: %s gives the same map (max rel diff %.2g)", what,
                 K, hw, NAMES[rules[r]], d);
    }
    free(pa);
    free(pb);
}

/* Searches, for A of seed `seed`, a channel permutation and a pixel
 * permutation under which LAPACK's sign flips, and checks the rules on them.
 * Returns whether a channel permutation flipped it. */
static int test_invariance(int K, int hw, uint64_t seed)
{
    cc_cam_params params = {.eigen_sign = CC_SIGN_DEFAULT};
    const cc_projection_sign dflt = cc_cam_projection_sign(&params);
    const cc_projection_sign all[] = {dflt, CC_PROJECTION_SIGN_MAX_ABS, CC_PROJECTION_SIGN_SKEW,
                                      CC_PROJECTION_SIGN_MEAN_ACTIVATION};
    const size_t n = (size_t)K * hw;
    float *A = random_act(K, hw, seed), *B = tu_alloc(n * sizeof(float));
    int *perm = tu_alloc((size_t)K * sizeof(int)), *pix = tu_alloc((size_t)hw * sizeof(int));
    tu_rng rng = {seed ^ 0x9e3779b97f4a7c15ull};
    char what[96];
    int channel_flip = 0;

    /* channels permuted (M P = U S (VT P)): every candidate is invariant.
     * On dgesdd's LQ path (hw < K) no permutation flips LAPACK's sign in
     * practice; the rules are checked there all the same. */
    int tries = 0, found = 0;
    while (!found && tries < MAX_TRIES) {
        tries++;
        shuffle(perm, K, &rng);
        permute_channels(B, A, perm, K, hw);
        found = lapack_flips(A, B, NULL, K, hw);
    }
    channel_flip = found;
    snprintf(what, sizeof what, "channels permuted (seed %llu, %s %d)", (unsigned long long)seed,
             found ? "flips LAPACK's sign at try" : "no flip of LAPACK's sign in", tries);
    check_pair(what, A, B, NULL, K, hw, found, all, 4);

    /* pixels permuted: B[:, i] = A[:, pix[i]], so each rule's map must follow
     * the pixels (proj_B[i] = proj_A[pix[i]]) */
    tries = found = 0;
    while (!found && tries < MAX_TRIES) {
        tries++;
        shuffle(pix, hw, &rng);
        for (int c = 0; c < K; c++)
            for (int i = 0; i < hw; i++)
                B[(size_t)c * hw + i] = A[(size_t)c * hw + pix[i]];
        found = lapack_flips(A, B, pix, K, hw);
    }
    tu_check(found, "%d x %d seed %llu: a pixel permutation that flips LAPACK's sign (%d tried)", K, hw,
             (unsigned long long)seed, tries);
    snprintf(what, sizeof what, "pixels permuted (seed %llu, try %d)", (unsigned long long)seed, tries);
    check_pair(what, A, B, pix, K, hw, found, all, 4);

    /* one channel negated (M D): the same subspace, so MAX_ABS and SKEW,
     * functions of proj alone, are invariant, and so must the default be
     * when it is one of them; MEAN_ACTIVATION is not (the channel mean
     * changes). LAPACK's sign does not flip here in practice. */
    memcpy(B, A, n * sizeof(float));
    const int k = (int)(seed % (uint64_t)K);
    for (int i = 0; i < hw; i++)
        B[(size_t)k * hw + i] = -B[(size_t)k * hw + i];
    snprintf(what, sizeof what, "channel %d negated (seed %llu)", k, (unsigned long long)seed);
    const cc_projection_sign proj_only[] = {CC_PROJECTION_SIGN_MAX_ABS, CC_PROJECTION_SIGN_SKEW, dflt};
    check_pair(what, A, B, NULL, K, hw, 0, proj_only, dflt == CC_PROJECTION_SIGN_MEAN_ACTIVATION ? 2 : 3);

    printf("%d x %d seed %llu: LAPACK's sign flipped by a channel permutation %s, by a pixel permutation %s\n", K,
           hw, (unsigned long long)seed, channel_flip ? "(found)" : "(none found)", found ? "(found)" : "(none found)");
    free(perm);
    free(pix);
    free(A);
    free(B);
    return channel_flip;
}

/* A[k, p] = a[k] x[p]: checks that rule gives proj = s |a| (x - mean x) (to
 * float rounding) with the sign s the construction says, and s_neg |a| (x -
 * mean x) for -A: the same subspace, whose LAPACK sign may differ. */
static void check_rank1(const char *what, const float *a, int K, const float *x, int hw,
                        cc_projection_sign rule, float s, float s_neg)
{
    float *A = tu_alloc((size_t)K * hw * sizeof(float)), *proj = tu_alloc((size_t)hw * sizeof(float));
    float *want = tu_alloc((size_t)hw * sizeof(float));
    double mean = 0, norm = 0;
    for (int p = 0; p < hw; p++)
        mean += x[p];
    mean /= hw;
    for (int k = 0; k < K; k++) {
        norm += (double)a[k] * a[k];
        for (int p = 0; p < hw; p++)
            A[(size_t)k * hw + p] = a[k] * x[p];
    }
    for (int p = 0; p < hw; p++)
        want[p] = (float)(sqrt(norm) * (x[p] - mean));
    project(A, K, hw, rule, proj);
    double d = rel_diff(proj, want, s, hw);
    tu_check(d <= 1e-5, "%s: %s gives %s(x - mean) |a| (max rel diff %.2g)", what, NAMES[rule],
             s > 0 ? "+" : "-", d);
    for (size_t i = 0; i < (size_t)K * hw; i++)
        A[i] = -A[i];
    project(A, K, hw, rule, proj);
    d = rel_diff(proj, want, s_neg, hw);
    tu_check(d <= 1e-5, "%s, A negated: %s gives %s(x - mean) |a| (max rel diff %.2g)", what, NAMES[rule],
             s_neg > 0 ? "+" : "-", d);
    free(A);
    free(proj);
    free(want);
}

static void test_constructed(void)
{
    /* x - mean x: one strong negative entry, two strong positive ones and a
     * weak negative rest: MAX_ABS's largest entry is x[0] (-5: the map is
     * -(x - mean)), while the positive tail carries sum x^3 > 0 (SKEW: +(x -
     * mean)). Sum 0, so mean x = 0. */
    const float x[10] = {-5.0f, 4.9f, 4.9f, -0.6f, -0.6f, -0.6f, -0.6f, -0.6f, -0.6f, -0.6f - 0.6f};
    const float a_pos[4] = {1.0f, 0.5f, -0.25f, 2.0f};  /* sum > 0 */
    const float a_neg[4] = {-1.0f, 0.5f, 0.25f, -2.0f}; /* sum < 0 */
    check_rank1("rank 1, largest entry negative, long positive tail", a_pos, 4, x, 10,
                CC_PROJECTION_SIGN_MAX_ABS, -1, -1);
    check_rank1("rank 1, largest entry negative, long positive tail", a_pos, 4, x, 10, CC_PROJECTION_SIGN_SKEW, 1,
                1);
    /* MEAN_ACTIVATION: -A negates the channel-mean map, and so the map */
    check_rank1("rank 1, channel weights of positive sum", a_pos, 4, x, 10, CC_PROJECTION_SIGN_MEAN_ACTIVATION, 1,
                -1);
    check_rank1("rank 1, channel weights of negative sum", a_neg, 4, x, 10, CC_PROJECTION_SIGN_MEAN_ACTIVATION, -1,
                1);
    /* one strong positive pixel on a weak negative rest: all three agree on + */
    const float spot[6] = {0.2f, 0.2f, 3.0f, 0.2f, 0.2f, 0.2f};
    check_rank1("rank 1, one bright pixel", a_pos, 4, spot, 6, CC_PROJECTION_SIGN_MAX_ABS, 1, 1);
    check_rank1("rank 1, one bright pixel", a_pos, 4, spot, 6, CC_PROJECTION_SIGN_SKEW, 1, 1);
    check_rank1("rank 1, one bright pixel", a_pos, 4, spot, 6, CC_PROJECTION_SIGN_MEAN_ACTIVATION, 1, -1);

    /* exact ties. One channel: VT[0] = +-1 exactly and proj = +-(x - mean)
     * bit for bit; x - mean = (-2, -1, 1, 2) has sum proj^3 = 0 exactly and
     * two entries of the largest |proj|: the first, x[0], is made positive. */
    const float sym[4] = {-2.0f, -1.0f, 1.0f, 2.0f}, one = 1.0f;
    check_rank1("one channel, sum proj^3 = 0, tied maxima", &one, 1, sym, 4, CC_PROJECTION_SIGN_MAX_ABS, -1, -1);
    check_rank1("one channel, sum proj^3 = 0, tied maxima", &one, 1, sym, 4, CC_PROJECTION_SIGN_SKEW, -1, -1);
    /* two channels x and -x: VT[0] = +-(1, -1) / sqrt 2, summing to 0
     * exactly: MEAN_ACTIVATION falls back to MAX_ABS (x[2] = 3 positive) */
    const float pm[2] = {1.0f, -1.0f};
    /* (and for -A too: the fallback sees the same proj up to sign) */
    check_rank1("channels x and -x, sum VT[0] = 0", pm, 2, spot, 6, CC_PROJECTION_SIGN_MEAN_ACTIVATION, 1, 1);
}

static void test_default(void)
{
    cc_cam_params p = {.eigen_sign = CC_SIGN_DEFAULT};
    const cc_projection_sign d = cc_cam_projection_sign(&p);
    tu_check(d == CC_CAM_DEFAULT_SIGN && (d == CC_PROJECTION_SIGN_MAX_ABS || d == CC_PROJECTION_SIGN_SKEW ||
                                          d == CC_PROJECTION_SIGN_MEAN_ACTIVATION),
             "the default sign is one of the deterministic candidates (%s)", NAMES[d]);
    p.eigen_sign = CC_SIGN_LAPACK;
    tu_check(cc_cam_projection_sign(&p) == CC_PROJECTION_SIGN_LAPACK, "--eigen-sign lapack is LAPACK's sign");
    printf("default sign rule: %s\n", NAMES[d]);
}

int main(void)
{
    test_default();
    test_constructed();
    /* both dgesdd paths: hw >= K (QR / 'S') and hw < K (LQ / 'A') */
    static const int shapes[][2] = {{8, 25}, {24, 49}, {40, 9}, {96, 16}};
    int channel_flips = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (uint64_t seed = 1; seed <= 3; seed++)
            channel_flips += test_invariance(shapes[s][0], shapes[s][1], seed);
    /* hw >= K: a channel permutation flipped LAPACK's sign for every seed */
    tu_check(channel_flips >= 6, "channel permutations flipped LAPACK's sign for %d of 12 inputs (want >= 6: "
             "every input of the QR path)", channel_flips);
    return tu_finish("test_eigen_sign");
}
