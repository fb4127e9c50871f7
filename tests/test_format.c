/* tests/test_format.c — the .ccm model file (weights/FORMAT.md): CRC-32,
 * binary16, a writer -> reader round trip checked field by field and by a
 * forward pass against the same net built directly, and robustness: every
 * header/metadata/graph/table byte mutated (with and without recomputed
 * CRCs), every truncation, and each malformation FORMAT.md lists, whose
 * message must name the offending field. */
#include "engine/plan.h"
#include "testutil.h"
#include "weights/crc32.h"
#include "weights/model.h"
#include "weights/writer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- CRC-32 and binary16 ---- */

static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void test_crc32(void)
{
    tu_check(cc_crc32(0, "123456789", 9) == 0xCBF43926u, "crc32(\"123456789\") = 0x%08x, want 0xcbf43926",
             cc_crc32(0, "123456789", 9));
    tu_check(cc_crc32(0, "", 0) == 0, "crc32 of nothing is 0");
    tu_check(cc_crc32(cc_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u, "crc32 continues across calls");
    /* Lengths from 0 to 5000 at every offset mod 16: the slice-by-8 tail, the
     * 128-bit carry-less path (64 to 255 bytes) and, where the CPU has
     * VPCLMULQDQ, the 512-bit one (256 bytes and more), with every remainder. */
    static unsigned char buf[5016];
    tu_rng rng = {42};
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)tu_next(&rng);
    int bad = 0, cases = 0;
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += n < 300 ? 1 : 1 + n / 16, cases++)
            bad += cc_crc32(0, buf + off, n) != crc_bitwise(buf + off, n);
    tu_check(!bad, "crc32 differs from the bitwise definition in %d of %d cases", bad, cases);
    /* a running CRC continued through the carry-less path */
    tu_check(cc_crc32(cc_crc32(0, buf, 777), buf + 777, 4000) == crc_bitwise(buf, 4777),
             "crc32 continued across calls of carry-less length");
}

/* The value of binary16 bits, by the definition. */
static double half_reference(uint16_t h)
{
    int s = h >> 15, e = h >> 10 & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static void test_half(void)
{
    int bad = 0, bad_nan = 0, bad_round_trip = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = cc_half_to_float((uint16_t)h);
        double want = half_reference((uint16_t)h);
        uint32_t bits;
        memcpy(&bits, &f, 4);
        if (isnan(want)) {
            bad_nan += !isnan(f) || (bits >> 13 & 1023) != (h & 1023) || (bits >> 31) != (h >> 15);
            bad_round_trip += !(cc_float_to_half(f) & 0x200) || (cc_float_to_half(f) & 0x7C00) != 0x7C00;
            continue;
        }
        bad += (double)f != want || !signbit(f) != !signbit(want);
        bad_round_trip += cc_float_to_half(f) != h;
    }
    tu_check(!bad, "half -> float differs from the definition for %d finite values", bad);
    tu_check(!bad_nan, "half -> float loses NaN-ness, payload or sign for %d NaNs", bad_nan);
    tu_check(!bad_round_trip, "float -> half -> float does not round-trip %d halves", bad_round_trip);
    /* Rounding: exactly between two halves goes to the even one; a hair either side goes nearest. */
    int bad_round = 0;
    for (uint32_t h = 0; h < 0x7BFF; h++) {
        double lo = half_reference((uint16_t)h), hi = half_reference((uint16_t)(h + 1));
        float mid = (float)((lo + hi) / 2);
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        bad_round += cc_float_to_half(mid) != even;
        bad_round += cc_float_to_half(nextafterf(mid, 0)) != h;
        bad_round += cc_float_to_half(nextafterf(mid, INFINITY)) != h + 1;
        bad_round += cc_float_to_half(-mid) != (0x8000 | even);
    }
    tu_check(!bad_round, "float -> half rounds %d midpoint cases wrongly", bad_round);
    tu_check(cc_float_to_half(65520.0f) == 0x7C00 && cc_float_to_half(65519.0f) == 0x7BFF &&
             cc_float_to_half(-1e10f) == 0xFC00 && cc_float_to_half(1e-10f) == 0,
             "float -> half overflow and underflow");
}

/* ---- the round-trip model ---- */

enum { C = 3, OC = 4, H = 8, NCLS = 5, FEAT = OC * (H / 2) * (H / 2) };

typedef struct {
    float conv_w[OC * C * 9], conv_b[OC], bn_w[OC], bn_b[OC], bn_mean[OC], fc_w[NCLS * FEAT];
    uint16_t bn_var[OC], fc_b[NCLS], halves[10];
    float bn_var_f[OC], fc_b_f[NCLS];  /* what the f16 bits decode to */
} net_params;

static const uint16_t BN_VAR[OC] = {0x3C01, 0x3555, 0x4100, 0x3A00};  /* 1+2^-10, 0.33325..., 2.5, 0.75 */
static const uint16_t FC_B[NCLS] = {0x3C00, 0x8000, 0x0001, 0x03FF, 0xC500};  /* 1, -0, 2^-24, subnormal, -5 */
static const uint16_t HALVES[10] = {0x7C00, 0xFC00, 0x7E01, 0x7BFF, 0x0400, 0x8001, 0xBC00, 0x3800, 0, 0x0200};
static const char *const LABELS[NCLS] = {"cat", "dog", "caf\xc3\xa9", "", "zebra crossing"};
static const double MEAN[3] = {0.485, 0.456, 0.406}, STD[3] = {0.229, 0.224, 0.225};

static void fill(float *p, size_t n, tu_rng *rng, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)tu_uniform(rng, lo, hi);
}

static void make_params(net_params *p)
{
    tu_rng rng = {7};
    fill(p->conv_w, OC * C * 9, &rng, -0.5, 0.5);
    fill(p->conv_b, OC, &rng, -0.5, 0.5);
    fill(p->bn_w, OC, &rng, 0.5, 1.5);
    fill(p->bn_b, OC, &rng, -0.5, 0.5);
    fill(p->bn_mean, OC, &rng, -0.5, 0.5);
    fill(p->fc_w, NCLS * FEAT, &rng, -0.2, 0.2);
    memcpy(p->bn_var, BN_VAR, sizeof BN_VAR);
    memcpy(p->fc_b, FC_B, sizeof FC_B);
    memcpy(p->halves, HALVES, sizeof HALVES);
    for (int i = 0; i < OC; i++)
        p->bn_var_f[i] = (float)half_reference(BN_VAR[i]);
    for (int i = 0; i < NCLS; i++)
        p->fc_b_f[i] = (float)half_reference(FC_B[i]);
}

/* Array literals with their lengths, for the writer's (pointer, count) arguments. */
#define COUNT(type, ...) (int)(sizeof((type[]){__VA_ARGS__}) / sizeof(type))
#define ATTR(k, ...) {k, (const double[]){__VA_ARGS__}, COUNT(const double, __VA_ARGS__)}
#define PARAMS(...) (const cc_writer_param[]){__VA_ARGS__}, COUNT(const cc_writer_param, __VA_ARGS__)
#define ATTRS(...) (const cc_writer_attr[]){__VA_ARGS__}, COUNT(const cc_writer_attr, __VA_ARGS__)

/* conv(3->4, k3, p1) -> bn(eps 1e-3) -> relu -> maxpool(2, 2) -> flatten -> linear(64 -> 5). */
static cc_model_writer *write_net(const net_params *p)
{
    cc_model_writer *w = cc_writer_create();
    cc_writer_meta_string(w, "arch", "tinynet");
    cc_writer_meta_int(w, "classes", NCLS);
    cc_writer_meta_strings(w, "labels", LABELS, NCLS);
    cc_writer_meta_string(w, "output", "sigmoid");
    cc_writer_meta_floats(w, "input.mean", MEAN, 3);
    cc_writer_meta_floats(w, "input.std", STD, 3);
    cc_writer_meta_string(w, "gradcam.layer", "layer4");
    cc_writer_meta_int(w, "offset", -7);
    cc_writer_meta_float(w, "pi", 3.141592653589793);
    cc_writer_meta_floats(w, "empty", NULL, 0);
    cc_writer_tensor(w, "features.0.weight", CC_DTYPE_F32, cc_shape4(OC, C, 3, 3), p->conv_w);
    cc_writer_tensor(w, "features.0.bias", CC_DTYPE_F32, (cc_shape){1, {OC}}, p->conv_b);
    cc_writer_tensor(w, "features.1.weight", CC_DTYPE_F32, (cc_shape){1, {OC}}, p->bn_w);
    cc_writer_tensor(w, "features.1.bias", CC_DTYPE_F32, (cc_shape){1, {OC}}, p->bn_b);
    cc_writer_tensor(w, "features.1.running_mean", CC_DTYPE_F32, (cc_shape){1, {OC}}, p->bn_mean);
    cc_writer_tensor_f16(w, "features.1.running_var", (cc_shape){1, {OC}}, p->bn_var);
    cc_writer_tensor(w, "classifier.weight", CC_DTYPE_F32, cc_shape2(NCLS, FEAT), p->fc_w);
    cc_writer_tensor_f16(w, "classifier.bias", (cc_shape){1, {NCLS}}, p->fc_b);
    cc_writer_tensor_f16(w, "unused.halves", (cc_shape){2, {2, 5}}, p->halves);
    int x = cc_writer_input(w, "x");
    int conv = cc_writer_node(w, "features.0", "conv2d", &x, 1,
                              PARAMS({"weight", "features.0.weight"}, {"bias", "features.0.bias"}),
                              ATTRS(ATTR("kernel_size", 3, 3), ATTR("stride", 1), ATTR("padding", 1, 1)));
    int bn = cc_writer_node(w, "features.1", "batchnorm2d", &conv, 1,
                            PARAMS({"running_var", "features.1.running_var"}, {"weight", "features.1.weight"},
                                   {"bias", "features.1.bias"}, {"running_mean", "features.1.running_mean"}),
                            ATTRS(ATTR("eps", 1e-3)));
    int relu = cc_writer_node(w, "features.2", "relu", &bn, 1, NULL, 0, NULL, 0);
    int pool = cc_writer_node(w, "features.3", "maxpool2d", &relu, 1, NULL, 0,
                              ATTRS(ATTR("kernel_size", 2), ATTR("stride", 2)));
    int flat = cc_writer_node(w, "flatten", "flatten", &pool, 1, NULL, 0, ATTRS(ATTR("start_dim", 1)));
    int fc = cc_writer_node(w, "classifier", "linear", &flat, 1,
                            PARAMS({"weight", "classifier.weight"}, {"bias", "classifier.bias"}), NULL, 0);
    cc_writer_output(w, fc);
    cc_writer_alias(w, "features", pool);
    cc_writer_alias(w, "layer4", pool);
    cc_writer_alias(w, "layer4.2", relu);
    return w;
}

/* The same net through cc_graph_add_*, with the f16 tensors as the floats they decode to. */
static cc_graph *direct_net(const net_params *p)
{
    cc_error err;
    cc_graph *g = cc_graph_create();
    const cc_shape vec = {1, {OC}};
    int x = cc_graph_add_input(g, "x", &err);
    int cp[2] = {cc_graph_add_param(g, "cw", cc_shape4(OC, C, 3, 3), p->conv_w, &err),
                 cc_graph_add_param(g, "cb", vec, p->conv_b, &err)};
    int bp[4] = {cc_graph_add_param(g, "bw", vec, p->bn_w, &err), cc_graph_add_param(g, "bb", vec, p->bn_b, &err),
                 cc_graph_add_param(g, "bm", vec, p->bn_mean, &err),
                 cc_graph_add_param(g, "bv", vec, p->bn_var_f, &err)};
    int fp[2] = {cc_graph_add_param(g, "fw", cc_shape2(NCLS, FEAT), p->fc_w, &err),
                 cc_graph_add_param(g, "fb", (cc_shape){1, {NCLS}}, p->fc_b_f, &err)};
    cc_attrs ca = tu_attrs("kernel_size=3 padding=1"), ba = tu_attrs("eps=0.001");
    cc_attrs pa = tu_attrs("kernel_size=2 stride=2"), fa = tu_attrs("start_dim=1");
    int n = cc_graph_add_node(g, "conv", "conv2d", &x, 1, cp, 2, &ca, &err);
    n = cc_graph_add_node(g, "bn", "batchnorm2d", &n, 1, bp, 4, &ba, &err);
    n = cc_graph_add_node(g, "relu", "relu", &n, 1, NULL, 0, NULL, &err);
    n = cc_graph_add_node(g, "pool", "maxpool2d", &n, 1, NULL, 0, &pa, &err);
    n = cc_graph_add_node(g, "flat", "flatten", &n, 1, NULL, 0, &fa, &err);
    n = cc_graph_add_node(g, "fc", "linear", &n, 1, fp, 2, NULL, &err);
    tu_check(n == 6, "building the direct net: %s", err.msg);
    return g;
}

/* Runs g on input, copies node `out` (NCLS values) to logits; 0 on failure. */
static int run(const cc_graph *g, int out, const float *input, float *logits)
{
    cc_error err;
    const cc_shape in = cc_shape4(1, C, H, H);
    cc_plan *p = cc_plan_create(g, &in, &(cc_plan_opts){.keep = &out, .nkeep = 1}, &err);
    tu_check(p != NULL, "planning: %s", p ? "" : err.msg);
    if (!p)
        return 0;
    const cc_real *inputs[1] = {input};
    cc_plan_forward(p, inputs);
    memcpy(logits, cc_plan_value(p, out), NCLS * sizeof *logits);
    cc_plan_free(p);
    return 1;
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return !memcmp(a, b, n * sizeof *a);
}

static void check_model(const cc_model *m, const net_params *p, const char *how)
{
    static const char *const names[] = {"features.0.weight", "features.0.bias", "features.1.weight",
                                        "features.1.bias", "features.1.running_mean", "features.1.running_var",
                                        "classifier.weight", "classifier.bias", "unused.halves"};
    const float *want[] = {p->conv_w, p->conv_b, p->bn_w, p->bn_b, p->bn_mean, p->bn_var_f, p->fc_w, p->fc_b_f};
    const size_t count[] = {OC * C * 9, OC, OC, OC, OC, OC, NCLS * FEAT, NCLS, 10};
    const int dtype[] = {1, 1, 1, 1, 1, 2, 1, 2, 2};
    tu_check(m->ntensors == 9 && m->graph->nparams == 9, "%s: %d tensors, %d params; want 9", how, m->ntensors,
             m->graph->nparams);
    for (int i = 0; i < 9 && i < m->ntensors; i++) {
        const cc_model_tensor *t = &m->tensors[i];
        tu_check(!strcmp(t->name, names[i]) && t->dtype == dtype[i] && cc_shape_numel(&t->shape) == count[i] &&
                 t->offset % 64 == 0 && t->nbytes == count[i] * (dtype[i] == 1 ? 4 : 2) &&
                 (uintptr_t)t->data % 64 == 0 && m->graph->params[i].data == t->data &&
                 !strcmp(m->graph->params[i].name, names[i]) &&
                 cc_shape_equal(&m->graph->params[i].shape, &t->shape),
                 "%s: tensor %d ('%s') entry or binding differs", how, i, t->name);
        const int in_file = (const unsigned char *)t->data >= m->bytes &&
                            (const unsigned char *)t->data < m->bytes + m->file_size;
        tu_check(in_file == (dtype[i] == 1), "%s: tensor '%s' is %s the file", how, t->name,
                 in_file ? "in" : "not in");
        if (i < 8)
            tu_check(same_floats(t->data, want[i], count[i]), "%s: tensor '%s' values differ", how, t->name);
    }
    if (m->ntensors == 9) {
        const float *hv = m->tensors[8].data;
        uint32_t nanbits;
        memcpy(&nanbits, &hv[2], 4);
        tu_check(isinf(hv[0]) && hv[0] > 0 && isinf(hv[1]) && hv[1] < 0 && nanbits == 0x7FC02000u &&
                 hv[3] == 65504.0f && hv[4] == ldexpf(1, -14) && hv[5] == -ldexpf(1, -24) && hv[6] == -1.0f &&
                 hv[7] == 0.5f && hv[8] == 0.0f && !signbit(hv[8]) && hv[9] == ldexpf(1, -15),
                 "%s: f16 specials decode wrongly", how);
    }
    /* Graph structure. */
    static const char *const nodes[] = {"x", "features.0", "features.1", "features.2", "features.3", "flatten",
                                        "classifier"};
    static const char *const ops[] = {NULL, "conv2d", "batchnorm2d", "relu", "maxpool2d", "flatten", "linear"};
    const cc_graph *g = m->graph;
    tu_check(g->nnodes == 7 && g->ninputs == 1 && m->output == 6, "%s: %d nodes, %d inputs, output %d", how,
             g->nnodes, g->ninputs, m->output);
    for (int i = 0; i < 7 && i < g->nnodes; i++) {
        const cc_node *n = &g->nodes[i];
        tu_check(!strcmp(n->name, nodes[i]) && (i ? n->op && !strcmp(n->op->name, ops[i]) : !n->op) &&
                 n->ninputs == (i > 0) && (i == 0 || n->input[0] == i - 1),
                 "%s: node %d ('%s') name, op or inputs differ", how, i, n->name);
    }
    if (g->nnodes == 7) {
        const cc_node *conv = &g->nodes[1], *bn = &g->nodes[2], *pool = &g->nodes[4], *fc = &g->nodes[6];
        tu_check(conv->param[0] == 0 && conv->param[1] == 1 && bn->param[0] == 2 && bn->param[1] == 3 &&
                 bn->param[2] == 4 && bn->param[3] == 5 && fc->param[0] == 6 && fc->param[1] == 7 &&
                 g->nodes[3].param[0] == -1, "%s: parameters bound to the wrong roles", how);
        tu_check(conv->attrs.kernel[0] == 3 && conv->attrs.kernel[1] == 3 && conv->attrs.pad[0] == 1 &&
                 conv->attrs.pad[3] == 1 && conv->attrs.stride[1] == 1 && bn->attrs.eps == 1e-3 &&
                 pool->attrs.kernel[1] == 2 && pool->attrs.stride[0] == 2 && g->nodes[5].attrs.start_dim == 1,
                 "%s: attributes differ", how);
    }
    tu_check(m->naliases == 3 && !strcmp(m->aliases[0].name, "features") && m->aliases[0].node == 4 &&
             m->aliases[2].node == 3, "%s: aliases differ", how);
    /* Metadata. */
    int64_t iv = 0;
    double fv = 0;
    const double *fl = NULL;
    const char *const *sl = NULL;
    int n = -1;
    tu_check(m->nmeta == 10, "%s: %d metadata entries; want 10", how, m->nmeta);
    tu_check(cc_model_multi_label(m), "%s: output 'sigmoid' must read as multi-label", how);
    tu_check(cc_model_meta_string(m, "arch") && !strcmp(cc_model_meta_string(m, "arch"), "tinynet"),
             "%s: meta arch", how);
    tu_check(cc_model_meta_int(m, "classes", &iv) && iv == NCLS, "%s: meta classes", how);
    tu_check(cc_model_meta_int(m, "offset", &iv) && iv == -7, "%s: meta negative int", how);
    tu_check(cc_model_meta_float(m, "pi", &fv) && fv == 3.141592653589793, "%s: meta float", how);
    tu_check(cc_model_meta_floats(m, "input.mean", &fl, &n) && n == 3 && !memcmp(fl, MEAN, sizeof MEAN),
             "%s: meta input.mean", how);
    tu_check(cc_model_meta_floats(m, "empty", &fl, &n) && n == 0, "%s: meta empty list", how);
    int labels_ok = cc_model_meta_strings(m, "labels", &sl, &n) && n == NCLS;
    for (int i = 0; labels_ok && i < NCLS; i++)
        labels_ok = !strcmp(sl[i], LABELS[i]);
    tu_check(labels_ok, "%s: meta labels", how);
    tu_check(!cc_model_meta_string(m, "classes") && !cc_model_meta_int(m, "arch", &iv) &&
             !cc_model_meta_floats(m, "labels", &fl, &n) && fl == NULL && n == 0 &&
             !cc_model_meta_strings(m, "nope", &sl, &n) && !cc_model_meta_string(m, "nope"),
             "%s: metadata of another type or absent must read as absent", how);
    /* Layers by name. */
    tu_check(cc_model_find_layer(m, "features.0") == 1 && cc_model_find_layer(m, "features") == 4 &&
             cc_model_find_layer(m, "layer4.2") == 3 && cc_model_find_layer(m, "x") == 0 &&
             cc_model_find_layer(m, "input") == 0 && cc_model_find_layer(m, "layer5") == -1 &&
             cc_model_find_layer(m, "") == -1, "%s: find_layer", how);
    char buf[200];
    cc_model_suggest(m, "layer5", buf, sizeof buf);
    tu_check(!strncmp(buf, "layer4, ", 8) && strstr(buf, "layer4.2") != NULL, "%s: suggest(layer5) gave '%s'",
             how, buf);
    int commas = 0;
    for (char *c = buf; *c; c++)
        commas += *c == ',';
    tu_check(commas == 4, "%s: suggest gives 5 names, got '%s'", how, buf);
    cc_model_suggest(m, "features.O", buf, sizeof buf);
    tu_check(!strncmp(buf, "features.0, ", 12), "%s: suggest(features.O) gave '%s'", how, buf);
    cc_model_suggest(m, "layer5", buf, 7);
    tu_check(!strcmp(buf, "layer4"), "%s: suggest into 7 bytes gave '%s'", how, buf);
    cc_model_suggest(m, "layer5", buf, 6);
    tu_check(!strcmp(buf, ""), "%s: suggest into 6 bytes gave '%s'", how, buf);
}

static void test_round_trip(const char *dir, unsigned char **file, size_t *file_size)
{
    net_params *p = tu_alloc(sizeof *p);
    make_params(p);
    cc_model_writer *w = write_net(p);
    cc_error err;
    cc_status st = cc_writer_to_memory(w, file, file_size, &err);
    tu_check(st == CC_OK, "writing the net: %s", st ? err.msg : "");
    char path[512];
    snprintf(path, sizeof path, "%s/net.ccm", dir);
    st = cc_writer_to_file(w, path, &err);
    tu_check(st == CC_OK, "writing the net to %s: %s", path, st ? err.msg : "");
    cc_writer_free(w);
    if (!*file) {
        free(p);
        return;
    }

    float input[C * H * H], want[NCLS], got[NCLS];
    tu_rng rng = {99};
    fill(input, C * H * H, &rng, -1, 1);
    cc_graph *g = direct_net(p);
    int ran = run(g, 6, input, want);
    cc_graph_free(g);

    cc_model *m = NULL;
    st = cc_model_load_memory(*file, *file_size, &m, &err);
    tu_check(st == CC_OK && m, "loading the net from memory: %s", st ? err.msg : "");
    if (m) {
        check_model(m, p, "memory");
        tu_check(ran && run(m->graph, m->output, input, got) && same_floats(got, want, NCLS),
                 "memory: forward differs from the directly built net");
        cc_model_free(m);
    }
    m = NULL;
    st = cc_model_load(path, &m, &err);
    tu_check(st == CC_OK && m && m->map, "loading %s (mapped): %s", path, st ? err.msg : "");
    if (m) {
        check_model(m, p, "file");
        tu_check(ran && run(m->graph, m->output, input, got) && same_floats(got, want, NCLS),
                 "file: forward differs from the directly built net");
        cc_model_free(m);
    }
    unlink(path);
    free(p);
}

/* ---- loading failures: paths ---- */

static void expect_load_fail(const char *path, cc_status want, const char *needle)
{
    cc_error err = {"(unset)"};
    cc_model *m = (cc_model *)&err;  /* must be reset to NULL */
    cc_status st = cc_model_load(path, &m, &err);
    if (getenv("FORMAT_VERBOSE"))
        printf("%-32s %s\n", path, err.msg);
    tu_check(st == want && m == NULL && strstr(err.msg, needle), "loading %s: status %d, message '%s'; want %d "
             "and '%s'", path, st, err.msg, want, needle);
}

static void test_paths(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/missing.ccm", dir);
    expect_load_fail(path, CC_EIO, "No such file");
    expect_load_fail(dir, CC_EIO, "is a directory");
    snprintf(path, sizeof path, "%s/empty.ccm", dir);
    FILE *f = fopen(path, "wb");
    if (f)
        fclose(f);
    expect_load_fail(path, CC_EFORMAT, "empty");
    f = fopen(path, "wb");
    if (f) {
        fputs("hello, this is text\n", f);
        fclose(f);
    }
    expect_load_fail(path, CC_EFORMAT, "shorter than the 128-byte");
    unlink(path);
    cc_error err;
    cc_model *m = NULL;
    tu_check(cc_model_load_memory(NULL, 5, &m, &err) == CC_EINVAL && !m &&
             cc_model_load(NULL, &m, &err) == CC_EINVAL, "NULL data or path is the caller's mistake");
    cc_model_free(NULL);
}

/* ---- robustness ---- */

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> 8 * i);
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* What the reader promises about a model it accepted; then plan and run it. */
static int check_loaded(const cc_model *m)
{
    const cc_graph *g = m->graph;
    int ok = g && g->ninputs >= 1 && m->output >= g->ninputs && m->output < g->nnodes;
    for (int i = 0; ok && i < g->nnodes; i++) {
        const cc_node *n = &g->nodes[i];
        ok = (i < g->ninputs) == !n->op;
        for (int k = 0; ok && k < n->ninputs; k++)
            ok = n->input[k] >= 0 && n->input[k] < i;
        for (int k = 0; ok && k < CC_MAX_PARAMS; k++)
            ok = n->param[k] >= -1 && n->param[k] < g->nparams;
    }
    for (int k = 0; ok && k < m->naliases; k++)
        ok = m->aliases[k].node >= 0 && m->aliases[k].node < g->nnodes;
    if (!ok)
        return 0;
    cc_shape in[4] = {cc_shape4(1, C, H, H), cc_shape4(1, C, H, H), cc_shape4(1, C, H, H), cc_shape4(1, C, H, H)};
    if (g->ninputs > 4)
        return 1;
    cc_error err;
    cc_plan *p = cc_plan_create(g, in, NULL, &err);
    if (p) {
        static float x[4][C * H * H];
        const cc_real *inputs[4] = {x[0], x[1], x[2], x[3]};
        cc_plan_forward(p, inputs);
        cc_plan_free(p);
    }
    return 1;
}

/* Loads from memory: 1 loaded (and checked), 0 failed with a message, -1 broke a promise. */
static int try_load(const unsigned char *buf, size_t size, cc_error *err)
{
    cc_model *m = NULL;
    err->msg[0] = '\0';
    cc_status st = cc_model_load_memory(buf, size, &m, err);
    if (st)
        return m == NULL && err->msg[0] ? 0 : -1;
    int ok = m && check_loaded(m);
    cc_model_free(m);
    return ok ? 1 : -1;
}

/* Each byte of the header, metadata, graph, tensor table and padding, XORed
 * or zeroed: as stored it must fail (CRCs, reserved and padding bytes); with
 * the CRCs recomputed it must load into a valid graph or fail with a message. */
static void test_mutations(const unsigned char *file, size_t size)
{
    const size_t data_off = (size_t)get64(file + 72);
    unsigned char *buf = tu_alloc(size);
    cc_error err;
    int undetected = 0, broken = 0, loaded = 0, rejected = 0, tried = 0;
    for (size_t pos = 0; pos < size; pos++) {
        for (int v = 0; v < 5; v++) {
            static const unsigned char flips[4] = {0xFF, 0x01, 0x80, 0x2A};
            memcpy(buf, file, size);
            buf[pos] = v < 4 ? buf[pos] ^ flips[v] : 0;
            if (buf[pos] == file[pos] || (pos >= data_off && v))
                continue;  /* no change; data bytes once each */
            tried++;
            int r = try_load(buf, size, &err);
            if (r != 0 && undetected++ < 5)
                fprintf(stderr, "  byte %zu set to 0x%02x: %s\n", pos, buf[pos], r ? "promise broken" : "loaded");
            if (pos >= data_off || (pos >= 96 && pos < 108))
                continue;  /* data changes load once resealed; resealing overwrites the CRC fields */
            cc_model_reseal(buf, size);
            r = try_load(buf, size, &err);
            loaded += r == 1, rejected += r == 0, broken += r < 0;
            if (r < 0 && broken <= 5)
                fprintf(stderr, "  resealed, byte %zu set to 0x%02x: a promise is broken\n", pos, buf[pos]);
        }
    }
    tu_check(!undetected, "%d of %d single-byte corruptions were not rejected", undetected, tried);
    tu_check(!broken, "%d resealed corruptions broke a promise", broken);
    tu_check(loaded + rejected > 0 && rejected > loaded, "resealed corruptions: %d loaded, %d rejected", loaded,
             rejected);
    printf("mutations: %d corruptions all rejected; resealed: %d rejected with a message, %d loaded valid\n",
           tried, rejected, loaded);
    free(buf);
}

/* Every proper prefix fails, as stored and with its header claiming that size. */
static void test_truncations(const unsigned char *file, size_t size)
{
    unsigned char *buf = tu_alloc(size);
    cc_error err;
    int bad = 0;
    for (size_t n = 0; n < size; n++) {
        memcpy(buf, file, n);
        bad += try_load(n ? buf : NULL, n, &err) != 0;
        if (n >= 128) {
            put64(buf + 88, n);
            cc_model_reseal(buf, n);
            bad += try_load(buf, n, &err) != 0;
        }
    }
    tu_check(!bad, "%d truncated files were not rejected", bad);
    free(buf);
}

typedef struct { size_t dtype, rank, dims, offset, nbytes; } tensor_pos;

/* Where the fields of tensor table entry `index` lie. */
static tensor_pos tensor_at(const unsigned char *b, int index)
{
    size_t p = (size_t)get64(b + 56) + 4;
    tensor_pos t;
    for (int i = 0;; i++) {
        p += 4 + get32(b + p);
        t.dtype = p;
        t.rank = p + 4;
        t.dims = p + 8;
        t.offset = t.dims + 8 * get32(b + t.rank);
        t.nbytes = t.offset + 8;
        p = t.nbytes + 8;
        if (i == index)
            return t;
    }
}

typedef struct { const char *what, *needle, *needle2; int reseal; } bad_case;

static const bad_case PATCHES[] = {
    {"bad magic", "bad magic", "not a .ccm", 0},
    {"text-mode line endings", "magic", "line endings", 0},
    {"version 2", "version 2", "newer", 1},
    {"version 0", "version 0", NULL, 1},
    {"swapped byte-order mark", "byte-order mark", "big-endian", 1},
    {"header size 64", "header size is 64", NULL, 1},
    {"header CRC", "header CRC", NULL, 0},
    {"nonzero flag", "flags are 0x00000004", NULL, 1},
    {"reserved byte", "reserved byte 120", NULL, 0},
    {"file size", "header file size", NULL, 1},
    {"metadata offset", "metadata offset is 136", NULL, 1},
    {"graph past the file", "graph section", "past the end of the file", 1},
    {"graph overlaps metadata", "graph offset", "right after the metadata section", 1},
    {"gap before the tensor table", "tensor table offset", NULL, 1},
    {"misaligned data offset", "data offset", "multiple of 64", 1},
    {"data overlaps the table", "data offset", "overlaps the tensor table", 1},
    {"bytes after the data", "data section ends", "nothing may follow", 1},
    {"nonzero padding", "padding byte", NULL, 1},
    {"metadata CRC", "metadata/graph/tensor table CRC", NULL, 0},
    {"data CRC", "data CRC", NULL, 0},
    {"overlapping tensors", "'features.0.weight'", "overlap", 1},
    {"tensor past the end", "tensor 'classifier.weight' ends at byte", "past the end of the data section", 1},
    {"tensor starts past the end", "tensor 'unused.halves' starts at byte", "past the end of the data", 1},
    {"misaligned tensor offset", "offset 452", "multiple of 64", 1},
    {"nbytes mismatch", "nbytes is 20", "take 16 bytes", 1},
    {"dims overflow 2^40 x 2^40", "dims 1099511627776x1099511627776x3x3", "limit", 1},
    {"zero dim", "dims[2] is 0", NULL, 1},
    {"rank 0", "rank 0", NULL, 1},
    {"rank 7", "rank 7", "expected 1 to 6", 1},
    {"dtype 3", "dtype 3", NULL, 1},
    {"metadata type 9", "metadata 'arch' has type 9", NULL, 1},
    {"metadata count", "metadata count 4294967295", "needs at least", 1},
    {"metadata leftover", "left over at the end of the metadata section", NULL, 1},
    {"string over 4096", "key is 5000 bytes long", "4096", 1},
    {"string past its section", "key (4000 bytes", "runs past the end of the metadata section", 1},
    {"invalid UTF-8", "key has a NUL or invalid UTF-8 byte 0xff", NULL, 1},
    {"NUL in a string", "key has a NUL", NULL, 1},
    {"tensor count", "tensor count 268435456", "needs at least", 1},
    {"graph ninputs 0", "ninputs is 0", NULL, 1},
};

/* Applies patch k; 0 when this file has nothing to patch. */
static int apply_patch(int k, unsigned char *b, size_t size)
{
    const uint64_t table_end = get64(b + 56) + get64(b + 64), data_off = get64(b + 72), data = get64(b + 80);
    switch (k) {
    case 0: b[1] = 'X'; break;
    case 1: b[4] = '\n'; break;
    case 2: put32(b + 8, 2); break;
    case 3: put32(b + 8, 0); break;
    case 4: put32(b + 12, 0x04030201u); break;
    case 5: put32(b + 16, 64); break;
    case 6: b[104] ^= 1; break;
    case 7: put32(b + 20, 4); break;
    case 8: b[120] = 1; break;
    case 9: put64(b + 88, size + 64); break;
    case 10: put64(b + 24, 136); break;
    case 11: put64(b + 48, 1ull << 62); break;
    case 12: put64(b + 40, get64(b + 40) - 8); break;
    case 13: put64(b + 56, get64(b + 56) + 8); break;
    case 14: put64(b + 72, data_off + 8); break;
    case 15: put64(b + 72, data_off - 64); break;
    case 16: put64(b + 80, data - 4); break;
    case 17:
        if (data_off == table_end)
            return 0;
        b[table_end] = 1;
        break;
    case 18: b[136] ^= 1; break;
    case 19: b[data_off] ^= 1; break;
    case 20: put64(b + tensor_at(b, 1).offset, 0); break;
    case 21: put64(b + tensor_at(b, 6).offset, data / 64 * 64 - 64); break;
    case 22: put64(b + tensor_at(b, 8).offset, (data + 63) / 64 * 64); break;
    case 23: put64(b + tensor_at(b, 1).offset, get64(b + tensor_at(b, 1).offset) + 4); break;
    case 24: put64(b + tensor_at(b, 1).nbytes, 20); break;
    case 25: put64(b + tensor_at(b, 0).dims, 1ull << 40), put64(b + tensor_at(b, 0).dims + 8, 1ull << 40); break;
    case 26: put64(b + tensor_at(b, 0).dims + 16, 0); break;
    case 27: put32(b + tensor_at(b, 0).rank, 0); break;
    case 28: put32(b + tensor_at(b, 0).rank, CC_MAX_RANK + 1); break;
    case 29: put32(b + tensor_at(b, 0).dtype, 3); break;
    case 30: put32(b + 140, 9); break;                /* count, key length, "arch", then the type */
    case 31: put32(b + 128, 0xFFFFFFFFu); break;
    case 32: put32(b + 128, get32(b + 128) - 1); break;
    case 33: put32(b + 132, 5000); break;
    case 34: put32(b + 132, 4000); break;
    case 35: b[137] = 0xFF; break;
    case 36: b[137] = 0; break;
    case 37: put32(b + get64(b + 56), 1u << 28); break;
    case 38: put32(b + get64(b + 40), 0); break;
    }
    return 1;
}

static void expect_fail(const char *what, const unsigned char *buf, size_t size, const char *needle,
                        const char *needle2)
{
    cc_model *m = NULL;
    cc_error err = {""};
    cc_status st = cc_model_load_memory(buf, size, &m, &err);
    if (getenv("FORMAT_VERBOSE"))  /* to read every message */
        printf("%-32s %s\n", what, err.msg);
    tu_check(st == CC_EFORMAT && !m && strstr(err.msg, needle) && (!needle2 || strstr(err.msg, needle2)),
             "%s: status %d, message '%s'; want '%s'%s%s%s", what, st, err.msg, needle, needle2 ? " and '" : "",
             needle2 ? needle2 : "", needle2 ? "'" : "");
    cc_model_free(m);
}

static void test_malformed(const unsigned char *file, size_t size)
{
    unsigned char *buf = tu_alloc(size);
    for (int k = 0; k < (int)(sizeof PATCHES / sizeof *PATCHES); k++) {
        memcpy(buf, file, size);
        if (!apply_patch(k, buf, size)) {
            tu_check(0, "%s: the round-trip file has no place to apply it", PATCHES[k].what);
            continue;
        }
        if (PATCHES[k].reseal)
            cc_model_reseal(buf, size);
        expect_fail(PATCHES[k].what, buf, size, PATCHES[k].needle, PATCHES[k].needle2);
    }
    free(buf);
}

/* ---- malformed graphs and metadata, written by the writer ---- */

static const float ZERO[16];

static const bad_case GRAPHS[] = {
    {"valid tiny model", NULL, NULL, 0},
    {"duplicate tensor name", "duplicate tensor name", "'conv.weight'", 0},
    {"duplicate node name", "duplicate name 'relu'", NULL, 0},
    {"alias named like a node", "alias 0: duplicate name 'conv'", NULL, 0},
    {"duplicate alias", "alias 1: duplicate name 'a'", NULL, 0},
    {"duplicate metadata key", "duplicate key", "'k'", 0},
    {"empty metadata key", "empty key", NULL, 0},
    {"unknown op", "op 'conv3d'", "does not know", 0},
    {"unknown attribute", "unknown attribute 'kernel'", NULL, 0},
    {"bad attribute value", "attribute 'stride'", NULL, 0},
    {"attribute with 5 values", "attribute 'padding' has 5 values", NULL, 0},
    {"NaN attribute", "attribute 'dilation'", NULL, 0},
    {"duplicate attribute", "duplicate attribute", "'stride'", 0},
    {"dangling input index", "input 0 is node 99", "not an earlier node", 0},
    {"node reading itself", "(node 1) input 0 is node 1", "not an earlier node", 0},
    {"dangling tensor name", "tensor 'nope'", "not in the tensor table", 0},
    {"bad parameter role", "role 'gamma'", "weight, bias", 0},
    {"parameter on a relu", "nparams 1", "relu takes 0", 0},
    {"duplicate role", "role 'weight' twice", NULL, 0},
    {"missing required parameter", "no parameter with role 'weight'", NULL, 0},
    {"wrong input count", "ninputs 1", "add takes 2 to 2", 0},
    {"output out of range", "output is node 99", NULL, 0},
    {"output is the input", "output is node 0 ('x'), a graph input", NULL, 0},
    {"dangling alias", "alias 'a' points at node 99", NULL, 0},
    {"node name too long", "node 1: name", "1 to 255", 0},
    {"empty node name", "node 1: name '' is 0 bytes", NULL, 0},
    {"long metadata string", "value is 5000 bytes long", NULL, 0},
    {"invalid UTF-8 tensor name", "name has a NUL or invalid UTF-8 byte 0xc3", NULL, 0},
    {"empty tensor name", "tensor 0 has an empty name", NULL, 0},
    {"bad eps", "attribute 'eps'", NULL, 0},
    {"unknown output", "metadata 'output' is 'multilabel'",
     "'probabilities' (the model ends in a softmax) or 'log_probabilities'", 0},
    {"output not a string", "metadata 'output' has type 2", "'softmax', 'sigmoid', 'probabilities' or", 0},
    {"output softmax", NULL, NULL, 0},
    {"output probabilities", NULL, NULL, 0},
    {"output log_probabilities", NULL, NULL, 0},
};

/* What cc_model_output gives for each loadable case of GRAPHS: the stored value, "softmax" when absent. */
static const char *expected_output(int k)
{
    return k == 33 ? "probabilities" : k == 34 ? "log_probabilities" : "softmax";
}

static void tiny_tensor(cc_model_writer *w, const char *name)
{
    cc_writer_tensor(w, name, CC_DTYPE_F32, cc_shape4(2, 3, 1, 1), ZERO);
}

/* Case k: a tiny model (x -> conv(3->2, 1x1) -> relu) with one thing wrong. */
static cc_model_writer *tiny(int k)
{
    static char longname[301], longstr[5001];
    memset(longname, 'n', 300);
    memset(longstr, 's', 5000);
    cc_model_writer *w = cc_writer_create();
    cc_writer_meta_string(w, "k", k == 26 ? longstr : "v");
    if (k == 5)
        cc_writer_meta_int(w, "k", 1);
    if (k == 6)
        cc_writer_meta_int(w, "", 1);
    if (k == 30 || k >= 32)
        cc_writer_meta_string(w, "output", k == 30 ? "multilabel" : expected_output(k));
    if (k == 31)
        cc_writer_meta_int(w, "output", 1);
    tiny_tensor(w, k == 27 ? "caf\xc3" : k == 28 ? "" : "conv.weight");
    if (k == 1)
        tiny_tensor(w, "conv.weight");
    cc_writer_tensor(w, "conv.bias", CC_DTYPE_F16, (cc_shape){1, {2}}, ZERO);
    int x = cc_writer_input(w, "x");
    const cc_writer_param conv_p[] = {{"weight", "conv.weight"}, {"bias", "conv.bias"}};
    const cc_writer_param bad_p[] = {{k == 16 ? "gamma" : "weight", k == 15 ? "nope" : "conv.weight"},
                                     {k == 18 ? "weight" : "bias", "conv.bias"}};
    static const double one[] = {1}, zero[] = {0}, two[] = {2}, five[] = {0, 0, 0, 0, 0}, nan[] = {NAN};
    cc_writer_attr attrs[2] = {{"kernel_size", one, 1}, {"stride", one, 1}};
    if (k == 8)
        attrs[1] = (cc_writer_attr){"kernel", one, 1};
    if (k == 9)
        attrs[1] = (cc_writer_attr){"stride", zero, 1};
    if (k == 10)
        attrs[1] = (cc_writer_attr){"padding", five, 5};
    if (k == 11)
        attrs[1] = (cc_writer_attr){"dilation", nan, 1};
    if (k == 12)
        attrs[0] = (cc_writer_attr){"stride", two, 1};
    if (k == 29)
        attrs[1] = (cc_writer_attr){"eps", two, 1};
    const int bad_in = k == 13 ? 99 : 1;  /* 1: the conv itself */
    const char *conv_name = k == 24 ? longname : k == 25 ? "" : "conv";
    int conv = cc_writer_node(w, conv_name, k == 7 ? "conv3d" : "conv2d", k == 13 || k == 14 ? &bad_in : &x, 1,
                              k >= 15 && k <= 18 ? bad_p : k == 19 ? conv_p + 1 : conv_p,
                              k == 19 ? 1 : 2, attrs, 2);
    int relu = cc_writer_node(w, "relu", k == 20 ? "add" : "relu", &conv, 1, k == 17 ? conv_p : NULL,
                              k == 17, NULL, 0);
    if (k == 2)
        cc_writer_node(w, "relu", "relu", &relu, 1, NULL, 0, NULL, 0);
    cc_writer_output(w, k == 21 ? 99 : k == 22 ? 0 : relu);
    cc_writer_alias(w, k == 3 ? "conv" : "a", k == 23 ? 99 : relu);
    if (k == 4)
        cc_writer_alias(w, "a", conv);
    return w;
}

static void test_malformed_graphs(void)
{
    for (int k = 0; k < (int)(sizeof GRAPHS / sizeof *GRAPHS); k++) {
        cc_model_writer *w = tiny(k);
        unsigned char *buf = NULL;
        size_t size = 0;
        cc_error err;
        cc_status st = cc_writer_to_memory(w, &buf, &size, &err);
        cc_writer_free(w);
        tu_check(st == CC_OK, "%s: writing: %s", GRAPHS[k].what, st ? err.msg : "");
        if (st)
            continue;
        if (!GRAPHS[k].needle) {
            cc_model *m = NULL;
            st = cc_model_load_memory(buf, size, &m, &err);
            /* None has output 'sigmoid': absent and 'softmax' both mean one class per image. */
            tu_check(st == CC_OK && check_loaded(m) && !cc_model_multi_label(m) &&
                     !strcmp(cc_model_output(m), expected_output(k)), "%s: %s", GRAPHS[k].what,
                     st ? err.msg : "invalid, read as multi-label, or the wrong cc_model_output");
            cc_model_free(m);
        } else {
            expect_fail(GRAPHS[k].what, buf, size, GRAPHS[k].needle, GRAPHS[k].needle2);
        }
        free(buf);
    }
}

/* ---- metadata that refers to the graph: labels per class, the recommended layer ---- */

/* x -> conv (1x1, 3->2) -> relu, alias "features" -> relu; classes and labels
 * written when >= 0; the layer as a string, or as an int when layer is NULL
 * and layer_int is set. */
static cc_status load_refs(int classes, int nlabels, const char *layer, int layer_int, cc_error *err)
{
    static const char *const names[4] = {"cat", "dog", "fox", "owl"};
    cc_model_writer *w = cc_writer_create();
    if (classes >= 0)
        cc_writer_meta_int(w, "classes", classes);
    if (nlabels >= 0)
        cc_writer_meta_strings(w, "labels", names, nlabels);
    if (layer)
        cc_writer_meta_string(w, "gradcam.layer", layer);
    else if (layer_int)
        cc_writer_meta_int(w, "gradcam.layer", 4);
    tiny_tensor(w, "conv.weight");
    int x = cc_writer_input(w, "x");
    const cc_writer_param p[] = {{"weight", "conv.weight"}};
    const double one[] = {1};
    const cc_writer_attr a[] = {{"kernel_size", one, 1}};
    int conv = cc_writer_node(w, "conv", "conv2d", &x, 1, p, 1, a, 1);
    int relu = cc_writer_node(w, "relu", "relu", &conv, 1, NULL, 0, NULL, 0);
    cc_writer_output(w, relu);
    cc_writer_alias(w, "features", relu);
    unsigned char *buf = NULL;
    size_t size = 0;
    cc_status st = cc_writer_to_memory(w, &buf, &size, err);
    cc_writer_free(w);
    tu_check(st == CC_OK, "writing a metadata-reference model: %s", st ? err->msg : "");
    if (st)
        return CC_EINVAL;  /* not what any case expects */
    cc_model *m = NULL;
    st = cc_model_load_memory(buf, size, &m, err);
    tu_check(!st == !!m, "load status %d with model %p", st, (void *)m);
    cc_model_free(m);
    free(buf);
    return st;
}

static void test_metadata_references(void)
{
    cc_error err;
    const struct { int classes, nlabels; const char *layer; } good[] = {
        {2, 2, "features"}, {4, 4, "relu"}, {2, -1, "conv"}, {-1, 3, "x"}, {2, 2, "input"}, {-1, -1, NULL},
    };
    for (size_t k = 0; k < sizeof good / sizeof *good; k++) {
        cc_status st = load_refs(good[k].classes, good[k].nlabels, good[k].layer, 0, &err);
        tu_check(st == CC_OK, "classes %d, %d labels, gradcam.layer '%s': refused: %s", good[k].classes,
                 good[k].nlabels, good[k].layer ? good[k].layer : "(none)", st ? err.msg : "");
    }
    cc_status st = load_refs(3, 2, "features", 0, &err);
    tu_expect_error("2 labels for 3 classes", st, CC_EFORMAT, &err, "<memory>", "'labels' has 2 names",
                    "'classes' is 3", NULL);
    st = load_refs(1, 4, NULL, 0, &err);
    tu_expect_error("4 labels for 1 class", st, CC_EFORMAT, &err, "'labels' has 4 names", "'classes' is 1", NULL);
    st = load_refs(2, 0, NULL, 0, &err);
    tu_expect_error("no labels for 2 classes (an empty list)", st, CC_EFORMAT, &err, "'labels' has 0 names",
                    "'classes' is 2", NULL);
    st = load_refs(2, 2, "featurs", 0, &err);
    tu_expect_error("gradcam.layer naming nothing", st, CC_EFORMAT, &err, "'gradcam.layer' is 'featurs'",
                    "neither a node nor an alias", "nearest: features", NULL);
    st = load_refs(2, 2, "", 0, &err);
    tu_expect_error("an empty gradcam.layer", st, CC_EFORMAT, &err, "'gradcam.layer' is ''", NULL);
    st = load_refs(2, 2, NULL, 1, &err);
    tu_expect_error("gradcam.layer as an int", st, CC_EFORMAT, &err, "'gradcam.layer' has type 2", NULL);
}

/* ---- a concat of CC_MAX_INPUTS inputs loads; one more is refused ---------- */

static cc_status load_concat(int n, cc_error *err)
{
    cc_model_writer *w = cc_writer_create();
    int ins[CC_MAX_INPUTS + 1];
    const int x = cc_writer_input(w, "x");
    for (int i = 0; i < n; i++)
        ins[i] = x;
    const double one[] = {1};
    const cc_writer_attr a[] = {{"axis", one, 1}};
    cc_writer_node(w, "cat", "concat", ins, n, NULL, 0, a, 1);
    unsigned char *buf = NULL;
    size_t size = 0;
    cc_status st = cc_writer_to_memory(w, &buf, &size, err);
    cc_writer_free(w);
    tu_check(st == CC_OK, "writing a %d-input concat: %s", n, st ? err->msg : "");
    cc_model *m = NULL;
    if (!st)
        st = cc_model_load_memory(buf, size, &m, err);
    cc_model_free(m);
    free(buf);
    return st;
}

static void test_wide_concat(void)
{
    cc_error err;
    /* torchvision's densenet201 concatenates 49 tensors in one torch.cat. */
    cc_status st = load_concat(CC_MAX_INPUTS, &err);
    tu_check(CC_MAX_INPUTS >= 49 && st == CC_OK, "a concat of %d inputs is refused: %s", CC_MAX_INPUTS,
             st ? err.msg : "");
    st = load_concat(CC_MAX_INPUTS + 1, &err);
    tu_expect_error("a concat of CC_MAX_INPUTS + 1 inputs", st, CC_EFORMAT, &err, "ninputs 65",
                    "concat takes 2 to 64 inputs", NULL);
}

/* ---- a tensor of rank CC_MAX_RANK (6: Swin's window partition) loads ------ */

static void test_rank6_tensor(void)
{
    static const float v[24] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12};
    const cc_shape six = {6, {2, 1, 3, 1, 2, 2}};
    cc_model_writer *w = cc_writer_create();
    cc_writer_tensor(w, "attn.relative_position_index", CC_DTYPE_F32, six, v);  /* used by no node */
    int x = cc_writer_input(w, "x");
    cc_writer_output(w, cc_writer_node(w, "relu", "relu", &x, 1, NULL, 0, NULL, 0));
    unsigned char *buf = NULL;
    size_t size = 0;
    cc_error err;
    cc_status st = cc_writer_to_memory(w, &buf, &size, &err);
    cc_writer_free(w);
    tu_check(CC_MAX_RANK == 6 && st == CC_OK, "writing a rank-6 tensor: %s", st ? err.msg : "");
    if (st)
        return;
    cc_model *m = NULL;
    st = cc_model_load_memory(buf, size, &m, &err);
    tu_check(st == CC_OK && m && m->ntensors == 1, "a rank-6 tensor loads: %s", st ? err.msg : "");
    if (!st && m && m->ntensors == 1) {
        const cc_model_tensor *t = &m->tensors[0];
        tu_check(cc_shape_equal(&t->shape, &six) && !memcmp(t->data, v, sizeof v),
                 "the rank-6 tensor reads back: rank %d, %dx%dx%dx%dx%dx%d", t->shape.rank, t->shape.d[0],
                 t->shape.d[1], t->shape.d[2], t->shape.d[3], t->shape.d[4], t->shape.d[5]);
    }
    cc_model_free(m);
    /* Rank 7 in the same entry is refused by name. */
    put32(buf + tensor_at(buf, 0).rank, 7);
    cc_model_reseal(buf, size);
    expect_fail("a rank-7 tensor", buf, size, "rank 7", "expected 1 to 6");
    free(buf);
}

int main(void)
{
    char dir[] = "/tmp/cnncam_test_format_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 3;
    }
    test_crc32();
    test_half();
    unsigned char *file = NULL;
    size_t size = 0;
    test_round_trip(dir, &file, &size);
    test_paths(dir);
    if (file) {
        test_mutations(file, size);
        test_truncations(file, size);
        test_malformed(file, size);
    }
    test_malformed_graphs();
    test_metadata_references();
    test_wide_concat();
    test_rank6_tensor();
    free(file);
    rmdir(dir);
    return tu_finish("format");
}
