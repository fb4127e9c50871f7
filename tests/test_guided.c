/* tests/test_guided.c — the guided backward of every op that has one (layers/op.h:
 * dinp += max(0, f'(x) * max(0, dout)), NaN contributing 0), through the
 * descriptors the tape calls:
 *   - hand-derived slopes at each kink and one float step to either side (relu
 *     at 0 and -0; relu6 at 0 and 6; hardswish at -3, -3/2 and 3; hardsigmoid
 *     at -3 and 3; silu on both sides of its minimum; sigmoid, from its output,
 *     saturated and not) and at NaN, each with dout negative, -0, 0, positive
 *     and NaN;
 *   - the rule against the op's own backward, bit for bit: guided(x, dout) =
 *     max(0, backward(x, max(0, dout))) on 40 000 random finite inputs with the
 *     kinks planted (the work split over 2 threads), accumulating (+=) into
 *     buffers that start at 0.5, and a NULL din left alone;
 *   - relu against pytorch-grad-cam's GuidedBackpropReLU, bit for bit
 *     (tests/fixtures/guided.ccgf, tests/gen_guided_fixtures.py);
 *   - the registry: exactly these six ops can be guided.
 * Only a NULL pointer stands where saves_for_dinput says nothing is kept.
 *
 * Usage: test_guided [FIXTURE]   (default tests/fixtures/guided.ccgf, from the repo root) */
#include "layers/kernels.h"
#include "tensorfile.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float x;      /* the saved value the kernel reads: the input, sigmoid's output */
    double slope; /* f' there, as the op's backward has it; NaN contributes nothing */
} point;

typedef struct {
    const char *op;
    const point *pts;
    int n;
    float kinks[3];  /* planted in the comparison with the backward */
    int nkinks;
} guided_case;

#define PTS(...) (const point[]){__VA_ARGS__}, (int)(sizeof((const point[]){__VA_ARGS__}) / sizeof(point))

/* Float neighbours of the kinks, as hex literals: 6 - ulp, 6 + ulp, 3 - ulp, -3 - ulp, -3 + ulp. */
#define BELOW6 0x1.7ffffep+2f
#define ABOVE6 0x1.800002p+2f
#define BELOW3 0x1.7ffffep+1f
#define BELOW_M3 -0x1.800002p+1f
#define ABOVE_M3 -0x1.7ffffep+1f

static const guided_case CASES[] = {
    {"relu", PTS({-1, 0}, {-1e-30f, 0}, {0.0f, 0}, {-0.0f, 0}, {1e-30f, 1}, {1, 1}, {NAN, NAN}), {0}, 1},
    {"relu6", PTS({-1, 0}, {0, 0}, {1e-30f, 1}, {3, 1}, {BELOW6, 1}, {6, 0}, {ABOVE6, 0}, {7, 0}, {NAN, 0}),
     {0, 6}, 2},
    {"hardswish", PTS({-4, 0}, {BELOW_M3, 0}, {-3, -0.5}, {ABOVE_M3, -0.5}, {-2, -1.0 / 6}, {-1.5f, 0},
                      {-1, 1.0 / 6}, {0, 0.5}, {1.5f, 1}, {BELOW3, 1.5}, {3, 1}, {4, 1}, {NAN, NAN}),
     {-3, 3, -1.5f}, 3},
    {"hardsigmoid", PTS({-4, 0}, {-3, 0}, {ABOVE_M3, 1.0 / 6}, {0, 1.0 / 6}, {BELOW3, 1.0 / 6}, {3, 0},
                        {4, 0}, {NAN, 0}),
     {-3, 3}, 2},
    /* s (1 + x (1 - s)), s = 1 / (1 + e^-x): negative left of the minimum near -1.28 */
    {"silu", PTS({-5, -0.02654743242966592}, {-2, -0.09078424878489547}, {-1, 0.07232948812851325},
                 {0, 0.5}, {1, 0.9276705118714869}, {5, 1.0265474324296655}, {NAN, NAN}),
     {0}, 0},
    /* y (1 - y) of the output y */
    {"sigmoid", PTS({0, 0}, {0.25f, 0.1875}, {0.5f, 0.25}, {0.75f, 0.1875}, {1, 0}, {NAN, NAN}), {0}, 0},
};
enum { NCASES = sizeof CASES / sizeof *CASES };

static const float DOUTS[] = {-1, -0.0f, 0.0f, 2, NAN};
enum { NDOUTS = sizeof DOUTS / sizeof *DOUTS };

/* The args of one call: the saved values where the op keeps them, NULL elsewhere. */
static cc_op_args args_for(const cc_op *op, const cc_attrs *attrs, const float *saved, const float *dout,
                           float *din, size_t n)
{
    cc_op_args a;
    memset(&a, 0, sizeof a);
    a.attrs = attrs;
    a.ninputs = 1;
    a.in_shape[0] = a.out_shape = (cc_shape){1, {(int)n}};
    if (op->saves_for_dinput & CC_SAVES_INPUTS)
        a.in[0] = saved;
    if (op->saves_for_dinput & CC_SAVES_OUTPUT)
        a.out = (float *)saved;
    a.dout = dout;
    a.din[0] = din;
    return a;
}

static void test_hand_values(const guided_case *c)
{
    const cc_op *op = cc_op_find(c->op);
    const cc_attrs attrs = cc_attrs_default();
    const size_t n = (size_t)c->n * NDOUTS;
    float *saved = tu_alloc(n * sizeof *saved), *dout = tu_alloc(n * sizeof *dout);
    float *din = tu_alloc(n * sizeof *din);
    double *want = tu_alloc(n * sizeof *want);
    for (int p = 0; p < c->n; p++)
        for (int d = 0; d < NDOUTS; d++) {
            const size_t i = (size_t)p * NDOUTS + d;
            const double g = DOUTS[d], s = c->pts[p].slope;
            saved[i] = c->pts[p].x;
            dout[i] = DOUTS[d];
            want[i] = g > 0 && s > 0 ? s * g : 0;
        }
    const cc_op_args a = args_for(op, &attrs, saved, dout, din, n);
    op->guided_backward(&a);
    char what[96];
    snprintf(what, sizeof what, "%s guided backward at its kinks (rows: x; columns: dout -1, -0, 0, 2, NaN)",
             c->op);
    tu_close(what, din, want, n, 0, 1e-6);
    free(saved), free(dout), free(din), free(want);
}

/* guided(x, dout) against max(0, backward(x, max(0, dout))), both through the descriptor. */
static void test_against_backward(const guided_case *c, tu_rng *rng)
{
    enum { N = 40000 };
    const cc_op *op = cc_op_find(c->op);
    const cc_attrs attrs = cc_attrs_default();
    float *x = tu_alloc(N * sizeof *x), *saved = tu_alloc(N * sizeof *saved);
    float *dout = tu_alloc(N * sizeof *dout), *positive = tu_alloc(N * sizeof *positive);
    float *back = tu_alloc(N * sizeof *back), *din = tu_alloc(N * sizeof *din);
    double *want = tu_alloc(N * sizeof *want);
    for (int i = 0; i < N; i++) {
        x[i] = i % 97 < c->nkinks ? c->kinks[i % 97] : (float)tu_uniform(rng, -8, 8);
        dout[i] = i % 11 == 0 ? 0 : (float)tu_uniform(rng, -1, 1);
        positive[i] = cc_positive_part(dout[i]);
        din[i] = 0.5f;
    }
    if (op->saves_for_dinput & CC_SAVES_OUTPUT) {
        const cc_op_args f = {.attrs = &attrs, .ninputs = 1, .in_shape = {{1, {N}}}, .in = {x},
                              .out_shape = {1, {N}}, .out = saved};
        op->forward(&f);
    } else {
        memcpy(saved, x, N * sizeof *x);
    }
    cc_op_args a = args_for(op, &attrs, saved, positive, back, N);
    op->backward(&a);
    for (int i = 0; i < N; i++)
        want[i] = (double)(0.5f + cc_positive_part(back[i]));
    a = args_for(op, &attrs, saved, dout, din, N);
    op->guided_backward(&a);
    char what[96];
    snprintf(what, sizeof what, "%s guided = 0.5 + max(0, backward(max(0, dout)))", c->op);
    tu_close(what, din, want, N, 0, 0);
    a.din[0] = NULL;
    op->guided_backward(&a);  /* must not touch anything */
    free(x), free(saved), free(dout), free(positive), free(back), free(din), free(want);
}

static void test_relu_reference(const char *path)
{
    tf_file f;
    if (tf_load(&f, path)) {
        tu_check(0, "cannot load %s (regenerate with `make fixtures`)", path);
        return;
    }
    const tf_tensor *x = tf_get(&f, 'f', "relu/x"), *dout = tf_get(&f, 'f', "relu/dout");
    const tf_tensor *dx = tf_get(&f, 'f', "relu/dx");
    if (x && dout && dx && x->n == dout->n && x->n == dx->n) {
        const cc_op *op = cc_op_find("relu");
        const cc_attrs attrs = cc_attrs_default();
        float *din = tu_alloc(x->n * sizeof *din);
        double *want = tu_alloc(x->n * sizeof *want);
        for (size_t i = 0; i < x->n; i++)
            want[i] = ((const float *)dx->data)[i];
        const cc_op_args a = args_for(op, &attrs, x->data, dout->data, din, x->n);
        op->guided_backward(&a);
        tu_close("relu guided backward against pytorch-grad-cam's GuidedBackpropReLU", din, want, x->n, 0, 0);
        free(din), free(want);
    }
    tf_free(&f);
}

static void test_registry(void)
{
    int guided = 0;
    for (const cc_op *const *op = cc_ops; *op; op++) {
        if (!(*op)->guided_backward)
            continue;
        int listed = 0;
        for (int k = 0; k < NCASES; k++)
            listed |= !strcmp(CASES[k].op, (*op)->name);
        tu_check(listed, "op '%s' has a guided backward but no case here", (*op)->name);
        guided++;
    }
    for (int k = 0; k < NCASES; k++) {
        const cc_op *op = cc_op_find(CASES[k].op);
        tu_check(op && op->guided_backward, "op '%s' has no guided backward", CASES[k].op);
    }
    tu_check(guided == NCASES, "%d ops can be guided; want %d", guided, (int)NCASES);
}

int main(int argc, char **argv)
{
    cc_set_threads(2);
    test_registry();
    tu_rng rng = {20261203};
    for (int k = 0; k < NCASES; k++) {
        const cc_op *op = cc_op_find(CASES[k].op);
        if (!op || !op->guided_backward)
            continue;  /* reported by test_registry */
        test_hand_values(&CASES[k]);
        test_against_backward(&CASES[k], &rng);
    }
    test_relu_reference(argc > 1 ? argv[1] : "tests/fixtures/guided.ccgf");
    return tu_finish("guided");
}
