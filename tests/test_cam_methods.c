/* tests/test_cam_methods.c — the CAM methods of cam/methods/ driven alone
 * (cam/method.h), against numbers derived by hand.
 *
 * The layer: A (K = 3 channels of 2 x 3) under a global-average-pool +
 * linear head, y_c = sum_k W_ck mean(A_k) + b_c. Then dy_c/dA_k is the
 * constant g_k = W_ck / hw over the channel, and with S_k = sum_ij A_kij:
 *   Grad-CAM     w_k = g_k
 *   Grad-CAM++   a = g^2 / (2 g^2 + S_k g^3 + 1e-6), w_k = hw max(g_k, 0) a
 *   XGrad-CAM    w_k = g_k S_k / (S_k + 1e-7)
 *   HiResCAM     cam = sum_k g_k A_k (= Grad-CAM's map)
 *   LayerCAM     cam = sum_k max(g_k, 0) A_k
 *   ElementWise  cam = sum_k max(g_k A_k, 0)
 * FEM on a channel built to have a known number of pixels above mean + 2 std;
 * ScoreCAM and AblationCAM with fake services whose scores are a hand-made
 * function of what they are given (so the test sees exactly which inputs and
 * substituted values the methods build); the targets' seeds against their
 * closed forms and FinerCAM's against a central difference of its value. */
#include "cam/channel_map.h"
#include "cam/method.h"
#include "cam/target.h"
#include "testutil.h"

#include <math.h>
#include <string.h>

enum { K = 3, H = 2, W = 3, HW = H * W };

/* Channel 0 mixed signs, channel 1 all positive, channel 2 with a zero. */
static const float A[K * HW] = {1, -2, 3, 0.5f, -1, 2,   2, 1, 4, 3, 1, 1,   0, 5, -1, 2, 0, 1};
static const double Wc[K] = {0.6, -0.9, 0.3};  /* the class's row of the linear layer */

static cc_cam_params params(void)
{
    return (cc_cam_params){.target = CC_TARGET_LOGIT, .batch_size = 2, .ablation_ratio = 1, .finer_alpha = 1};
}

static void gradient(float *G)
{
    for (int k = 0; k < K; k++)
        for (int i = 0; i < HW; i++)
            G[k * HW + i] = (float)(Wc[k] / HW);
}

static const cc_cam_method *method(const char *name)
{
    const cc_cam_method *m = cc_cam_method_find(name);
    tu_check(m != NULL, "the registry has %s", name);
    return m;
}

/* Runs a layer method; returns 0 when it failed. */
static int run(const cc_cam_method *m, const float *G, const cc_cam_services *svc, float *w, float *cam)
{
    static float scratch[1 << 16];
    const cc_cam_params p = params();
    tu_check(!m->scratch_floats || m->scratch_floats(K, H, W, &p, p.batch_size, 1, H, W) <= sizeof scratch / sizeof *scratch,
             "%s: scratch fits the test's", m->name);
    const cc_cam_layer_call c = {.layer = 0, .K = K, .h = H, .w = W, .A = A, .G = G, .params = &p, .svc = svc,
                                 .scratch = scratch};
    cc_error err = {{0}};
    const cc_status st = m->layer_map(&c, w, cam, &err);
    tu_check(st == CC_OK, "%s runs: %s", m->name, err.msg);
    return st == CC_OK;
}

static void weighted_map(const double *w, double *cam)
{
    for (int i = 0; i < HW; i++) {
        cam[i] = 0;
        for (int k = 0; k < K; k++)
            cam[i] += w[k] * A[k * HW + i];
    }
}

static void gradient_methods(void)
{
    float G[K * HW], w[K], cam[HW];
    gradient(G);
    double S[K], g[K], want_w[K], want_cam[HW];
    for (int k = 0; k < K; k++) {
        S[k] = 0;
        for (int i = 0; i < HW; i++)
            S[k] += A[k * HW + i];
        g[k] = (float)(Wc[k] / HW);
    }

    if (run(method("gradcam"), G, NULL, w, cam)) {
        weighted_map(g, want_cam);
        tu_close("gradcam weights = W_ck / hw", w, g, K, 1e-7, 1e-6);
        tu_close("gradcam map", cam, want_cam, HW, 1e-7, 1e-6);
    }
    if (run(method("gradcam++"), G, NULL, w, cam)) {
        for (int k = 0; k < K; k++) {
            const double a = g[k] * g[k] / (2 * g[k] * g[k] + S[k] * g[k] * g[k] * g[k] + 1e-6);
            want_w[k] = HW * (g[k] > 0 ? g[k] : 0) * a;
        }
        weighted_map(want_w, want_cam);
        tu_close("gradcam++ weights = hw relu(g) g^2 / (2 g^2 + S g^3 + 1e-6)", w, want_w, K, 1e-7, 1e-5);
        tu_close("gradcam++ map", cam, want_cam, HW, 1e-6, 1e-5);
        tu_check(w[1] == 0, "gradcam++: a channel with a negative gradient weighs 0 (got %g)", w[1]);
    }
    if (run(method("xgradcam"), G, NULL, w, cam)) {
        for (int k = 0; k < K; k++)
            want_w[k] = g[k] * S[k] / (S[k] + 1e-7);
        tu_close("xgradcam weights = g S / (S + 1e-7)", w, want_w, K, 1e-7, 1e-6);
    }
    if (run(method("hirescam"), G, NULL, w, cam)) {
        weighted_map(g, want_cam);
        tu_close("hirescam map = Grad-CAM's under a GAP head", cam, want_cam, HW, 1e-7, 1e-6);
    }
    if (run(method("layercam"), G, NULL, w, cam)) {
        for (int k = 0; k < K; k++)
            want_w[k] = g[k] > 0 ? g[k] : 0;
        weighted_map(want_w, want_cam);
        tu_close("layercam map = sum relu(g) A", cam, want_cam, HW, 1e-7, 1e-6);
    }
    if (run(method("gradcamelementwise"), G, NULL, w, cam)) {
        for (int i = 0; i < HW; i++) {
            want_cam[i] = 0;
            for (int k = 0; k < K; k++)
                want_cam[i] += g[k] * A[k * HW + i] > 0 ? g[k] * A[k * HW + i] : 0;
        }
        tu_close("gradcamelementwise map = sum relu(g A)", cam, want_cam, HW, 1e-7, 1e-6);
    }
}

static void fem(void)
{
    float w[K], cam[HW];
    if (!run(method("fem"), NULL, NULL, w, cam))
        return;
    /* thresholds mean + 2 std: channel 0 0.583 + 2 * 1.694 = 3.97 (max 3), channel 1 2 + 2 * 1.155 =
     * 4.31 (max 4), channel 2 1.167 + 2 * 1.951 = 5.07 (max 5): no pixel above any */
    const double none[K] = {0, 0, 0};
    tu_close("fem: no pixel above mean + 2 std in these channels", w, none, K, 0, 0);
}

extern const cc_cam_method cc_cam_fem;

/* A channel with one outlier: 35 pixels of 0 and one of 1 has mean 1/36,
 * std sqrt(35)/36 = 0.164, threshold 0.356: that one pixel. */
static void fem_outlier(void)
{
    enum { N = 36 };
    static float a[N], cam[N], w[1], scratch[64];
    a[17] = 1;
    const cc_cam_params p = params();
    const cc_cam_layer_call c = {.K = 1, .h = 6, .w = 6, .A = a, .params = &p, .scratch = scratch};
    cc_error err = {{0}};
    tu_check(cc_cam_fem.layer_map(&c, w, cam, &err) == CC_OK, "fem on one channel runs");
    const double want = 1.0 / N;
    tu_close("fem weight = fraction above the threshold (1 of 36)", w, &want, 1, 0, 1e-7);
}

/* Fake services: an input's score is the sum of its first channel, a
 * substituted activation's the sum of all its values; both record what they
 * were given. */
typedef struct {
    cc_cam_services svc;
    float got[64][K * HW];
    int calls, seen;
} fake;

static cc_status fake_inputs(void *self, const float *x, int n, float *scores, cc_error *err)
{
    (void)err;
    fake *f = self;
    for (int r = 0; r < n; r++) {
        double s = 0;
        for (int i = 0; i < f->svc.H * f->svc.W; i++)
            s += x[(size_t)r * f->svc.C * f->svc.H * f->svc.W + i];
        scores[r] = (float)s;
    }
    f->calls++;
    return CC_OK;
}

static cc_status fake_acts(void *self, int layer, const float *acts, int n, float *scores, cc_error *err)
{
    (void)err, (void)layer;
    fake *f = self;
    for (int r = 0; r < n; r++) {
        double s = 0;
        for (int i = 0; i < K * HW; i++)
            s += acts[(size_t)r * K * HW + i];
        scores[r] = (float)s;
        memcpy(f->got[f->seen++], acts + (size_t)r * K * HW, sizeof f->got[0]);
    }
    f->calls++;
    return CC_OK;
}

extern const cc_cam_method cc_cam_scorecam, cc_cam_ablationcam;

static void scorecam(void)
{
    /* the input is all ones at the layer's own size: upsampling (align_corners) is the identity, and the
     * score of channel k is the sum of its min-max normalised activations */
    static fake f;
    float ones[HW], w[K], cam[HW];
    for (int i = 0; i < HW; i++)
        ones[i] = 1;
    f.svc = (cc_cam_services){.self = &f, .score_inputs = fake_inputs, .input = ones, .C = 1, .H = H, .W = W,
                              .batch = 2};
    if (!run(&cc_cam_scorecam, NULL, &f.svc, w, cam))
        return;
    double s[K], top = -1e30, sum = 0, want[K];
    for (int k = 0; k < K; k++) {
        double lo = 1e30, hi = -1e30;
        for (int i = 0; i < HW; i++)
            lo = fmin(lo, A[k * HW + i]), hi = fmax(hi, A[k * HW + i]);
        s[k] = 0;
        for (int i = 0; i < HW; i++)
            s[k] += (A[k * HW + i] - lo) / (hi - lo + 1e-8);
        top = fmax(top, s[k]);
    }
    for (int k = 0; k < K; k++)
        sum += exp(s[k] - top);
    for (int k = 0; k < K; k++)
        want[k] = exp(s[k] - top) / sum;
    tu_close("scorecam weights = softmax over channels of the masked scores", w, want, K, 1e-7, 1e-5);
    tu_check(f.calls == 2, "scorecam: 3 channels in batches of 2 take 2 forwards (took %d)", f.calls);
}

static void ablationcam(void)
{
    static fake f;
    float w[K], cam[HW];
    double total = 0;
    for (int i = 0; i < K * HW; i++)
        total += A[i];
    f.svc = (cc_cam_services){.self = &f, .score_activations = fake_acts, .score = total, .batch = 2};
    if (!run(&cc_cam_ablationcam, NULL, &f.svc, w, cam))
        return;
    /* min(A) = -2 != 0: chunk [0, 1] ablates to -2 - 1e7 then -2 - 2e7; chunk [2] afresh to -2 - 1e7 */
    const float v[K] = {-2.0f - 1e7f, -2.0f - 1e7f - 1e7f, -2.0f - 1e7f};
    int ok = f.seen == K;
    for (int k = 0; k < K && ok; k++)
        for (int i = 0; i < K * HW; i++)
            ok &= f.got[k][i] == (i / HW == k ? v[k] : A[i]);
    tu_check(ok, "ablationcam: copy k has channel k at min - (position in chunk + 1) * 1e7, the rest as A");
    double want[K];
    for (int k = 0; k < K; k++) {
        double ablated = total;
        for (int i = 0; i < HW; i++)
            ablated += v[k] - A[k * HW + i];
        want[k] = (total - (float)ablated) / total;
    }
    tu_close("ablationcam weights = (s - s_k) / s", w, want, K, 1e-6, 1e-4);
}

static void ablation_zero_min(void)
{
    /* after a ReLU (min exactly 0) every ablated channel is 0 */
    static fake f;
    static float relu_a[K * HW], w[K], cam[HW], scratch[1 << 12];
    for (int i = 0; i < K * HW; i++)
        relu_a[i] = A[i] > 0 ? A[i] : 0;
    f.svc = (cc_cam_services){.self = &f, .score_activations = fake_acts, .score = 10, .batch = 32};
    const cc_cam_params p = params();
    cc_cam_params p32 = p;
    p32.batch_size = 32;
    const cc_cam_layer_call c = {.K = K, .h = H, .w = W, .A = relu_a, .params = &p32, .svc = &f.svc, .scratch = scratch};
    cc_error err = {{0}};
    tu_check(cc_cam_ablationcam.layer_map(&c, w, cam, &err) == CC_OK, "ablationcam on rectified values runs");
    int ok = f.seen == K;
    for (int k = 0; k < K && ok; k++)
        for (int i = 0; i < K * HW; i++)
            ok &= f.got[k][i] == (i / HW == k ? 0.0f : relu_a[i]);
    tu_check(ok, "ablationcam: with min 0 the ablated channel is 0");
}

static void targets(void)
{
    const float z[4] = {1.5f, -0.5f, 2.0f, 0.25f};
    double p[4], sum = 0;
    for (int j = 0; j < 4; j++)
        sum += exp(z[j]);
    for (int j = 0; j < 4; j++)
        p[j] = exp(z[j]) / sum;
    float dz[4];
    double want[4];
    cc_target_seed(CC_TARGET_SOFTMAX, z, 4, 2, dz);
    for (int j = 0; j < 4; j++)
        want[j] = p[2] * ((j == 2) - p[j]);
    tu_close("softmax target seed = p_c (delta - p)", dz, want, 4, 1e-7, 1e-6);
    cc_target_seed(CC_TARGET_REST, z, 4, 1, dz);
    for (int j = 0; j < 4; j++)
        want[j] = 2.0 * (j == 1) - p[j];
    tu_close("ReST target seed = 2 delta - p", dz, want, 4, 1e-7, 1e-6);
    const double rest = cc_target_value(CC_TARGET_REST, z, 4, 1);
    tu_check(fabs(rest - (2 * -0.5 - log(sum))) < 1e-9, "ReST value = 2 z_c - logsumexp z (got %g)", rest);
    const float one[1] = {-0.75f};
    cc_target_seed(CC_TARGET_BINARY, one, 1, 0, dz);
    tu_check(dz[0] == -1 && cc_target_value(CC_TARGET_BINARY, one, 1, 0) == 0.75,
             "binary target, class 0: -z, seed -1");
    cc_error err;
    tu_expect_error("binary target on 4 outputs", cc_target_check(CC_TARGET_BINARY, 4, 1, &err), CC_EINVAL, &err,
                    "one output", NULL);
    tu_expect_error("class out of range", cc_target_check(CC_TARGET_LOGIT, 4, 4, &err), CC_EINVAL, &err,
                    "out of range", NULL);
}

/* FinerCAM's seed against a central difference of its target's value,
 * written out here from finer_cam.py's FinerWeightedTarget. */
static double finer_value(const double *z, int n, int main_cls, const int *comp, double alpha)
{
    double sum = 0, num = 0, den = 1e-9;
    for (int j = 0; j < n; j++)
        sum += exp(z[j]);
    for (int i = 0; i < 3; i++) {
        const double pi = exp(z[comp[i]]) / sum;
        num += pi * (z[main_cls] - alpha * z[comp[i]]);
        den += pi;
    }
    return num / den;
}

extern const cc_cam_method cc_cam_finercam;

static void finer(void)
{
    /* class 2 (z = 1.0): the nearest are 4 (1.1), 0 (0.7), 5 (1.45); 1 and 3 are farther */
    const float z[6] = {0.7f, -1.0f, 1.0f, 2.5f, 1.1f, 1.45f};
    const int comp[3] = {4, 0, 5};
    cc_cam_params p = params();
    p.finer_alpha = 0.6;
    float dz[6];
    cc_cam_finercam.seed(z, 6, 2, &p, dz);
    double want[6], zd[6];
    for (int j = 0; j < 6; j++)
        zd[j] = z[j];
    for (int j = 0; j < 6; j++) {
        const double e = 1e-5, keep = zd[j];
        zd[j] = keep + e;
        const double up = finer_value(zd, 6, 2, comp, 0.6);
        zd[j] = keep - e;
        want[j] = (up - finer_value(zd, 6, 2, comp, 0.6)) / (2 * e);
        zd[j] = keep;
    }
    tu_close("finercam seed = d/dz of its target (central difference)", dz, want, 6, 1e-6, 1e-4);
}

static void registry(void)
{
    int n = 0, named = 1, one_kind = 1;
    for (; cc_cam_methods[n]; n++) {
        const cc_cam_method *m = cc_cam_methods[n];
        named &= m->name && m->summary && cc_cam_method_find(m->name) == m;
        one_kind &= !m->layer_map != !m->image_map;
    }
    tu_check(n >= 11, "the registry lists %d methods", n);
    tu_check(named, "every method has a name, a summary, and is found by it");
    tu_check(one_kind, "every method is exactly one of a layer method and an image method");
    tu_check(cc_cam_method_find("gradcamm") == NULL, "an unknown name finds nothing");
}

int main(void)
{
    registry();
    gradient_methods();
    fem();
    fem_outlier();
    scorecam();
    ablationcam();
    ablation_zero_min();
    targets();
    finer();
    return tu_finish("test_cam_methods");
}
