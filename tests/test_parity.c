/* tests/test_parity.c — every op's forward and backward against PyTorch.
 *
 * Replays the cases of tests/fixtures/ops.ccfx (written by tests/gen_fixtures.py,
 * `make fixtures`) through each op's descriptor: attributes via cc_attrs_set,
 * shape inference (must give the fixture's output shape), forward (compared
 * with "out"), and backward with dout = r, the loss weights of L = sum(r * y),
 * into zeroed buffers for every input and every differentiable parameter
 * (buffer_params such as running_mean get NULL), compared with the "d_*"
 * tensors PyTorch's autograd produced. An op that declares scratch_bytes
 * gets that much working memory, 64-byte aligned.
 *
 * Tolerance, forward and gradients alike: |got - want| <= 1e-5 + 1e-4*|want|;
 * where PyTorch gives NaN (the NaN-input cases) the op must give NaN, and
 * nowhere else.
 * The reference is PyTorch's result for the stored float32 values computed in
 * float64 and rounded to float32; our kernels run in float (conv accumulates in
 * double), so small differences are expected. PyTorch's own float32 kernels
 * pass this tolerance against the same reference (gen_fixtures.py checks it).
 * Each case prints its largest forward and backward |got - want| and the
 * largest fraction of the tolerance any element used.
 *
 * File format (little-endian; see tests/gen_fixtures.py):
 *   "CCFX", u32 version = 1, u32 ncases, then per case:
 *   str op, str label, u32 nattrs, nattrs x {str key, u32 n, f64 v[n]},
 *   u32 ntensors, ntensors x {str name, u32 rank, u32 dims[rank], f32 data[prod(dims)]}
 *   where str = u16 length + bytes (no NUL).
 * Tensor names: in0.., the op's param_names, out, r, d_in0.., d_<param>.
 * The file is untrusted input: every count, length and size is checked
 * against the bytes that remain, and a bad file fails with a message naming
 * the offset, not a crash.
 *
 * Usage: test_parity [FILE]   (default tests/fixtures/ops.ccfx, run from the repo root) */
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A case holds every input and its gradient, every parameter and its gradient, out and r. */
enum { MAX_ATTRS = 16, MAX_ATTR_VALUES = 2 * CC_MAX_RANK, MAX_TENSORS = 2 * CC_MAX_INPUTS + 2 * CC_MAX_PARAMS + 2,
       MAX_NAME = 64, MAX_LABEL = 256 };
#define MAX_FILE_BYTES ((size_t)64 << 20)
#define MAX_SCRATCH_BYTES ((size_t)1 << 30)
#define ATOL 1e-5
#define RTOL 1e-4

typedef struct {
    char name[MAX_NAME];
    cc_shape shape;
    size_t n;
    float *data;
} fx_tensor;

typedef struct {
    char op[MAX_NAME];
    char label[MAX_LABEL];
    int nattrs;
    char attr_key[MAX_ATTRS][MAX_NAME];
    int attr_n[MAX_ATTRS];
    double attr_v[MAX_ATTRS][MAX_ATTR_VALUES];
    int ntensors;
    fx_tensor t[MAX_TENSORS];
} fx_case;

/* A bounds-checked cursor over the file; the first error sticks. */
typedef struct {
    const unsigned char *p;
    size_t len, pos;
    const char *path;
    char where[160];  /* "case 3 'conv2d' tensor 'weight'": what is being read */
    char err[768];
} reader;

static int fail_at(reader *r, const char *what, size_t need)
{
    if (!r->err[0])
        snprintf(r->err, sizeof r->err,
                 "%s: %s%s%s needs %zu bytes at offset %zu, but the file has %zu bytes (truncated or corrupt; "
                 "regenerate with `make fixtures`)", r->path, r->where, r->where[0] ? ": " : "", what, need,
                 r->pos, r->len);
    return 0;
}

static int take(reader *r, size_t n, const char *what, const unsigned char **out)
{
    if (r->err[0])
        return 0;
    if (n > r->len - r->pos)
        return fail_at(r, what, n);
    *out = r->p + r->pos;
    r->pos += n;
    return 1;
}

static int rd_u16(reader *r, const char *what, unsigned *v)
{
    const unsigned char *b;
    if (!take(r, 2, what, &b))
        return 0;
    *v = (unsigned)b[0] | (unsigned)b[1] << 8;
    return 1;
}

static int rd_u32(reader *r, const char *what, uint32_t *v)
{
    const unsigned char *b;
    if (!take(r, 4, what, &b))
        return 0;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 1;
}

static float le_f32(const unsigned char *b)
{
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double le_f64(const unsigned char *b)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | b[i];
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* A bad value in the file: records "path: case 3 'conv2d' tensor 'weight', field ending at byte N: <message>". */
static int bad(reader *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int bad(reader *r, const char *fmt, ...)
{
    snprintf(r->err, sizeof r->err, "%s: %s, field ending at byte %zu: ", r->path, r->where, r->pos);
    size_t used = strlen(r->err);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + used, sizeof r->err - used, fmt, ap);
    va_end(ap);
    return 0;
}

/* A string into a NUL-terminated buffer of cap bytes; longer ones are an error. */
static int rd_str(reader *r, const char *what, char *dst, size_t cap)
{
    unsigned n;
    const unsigned char *b;
    if (!rd_u16(r, what, &n) || !take(r, n, what, &b))
        return 0;
    if (n >= cap) {
        return bad(r, "%s is %u bytes long; at most %zu allowed", what, n, cap - 1);
    }
    for (unsigned i = 0; i < n; i++)
        if (b[i] < 0x20 || b[i] > 0x7e) {
            return bad(r, "%s has byte 0x%02x; names and labels are printable ASCII", what, b[i]);
        }
    memcpy(dst, b, n);
    dst[n] = '\0';
    return 1;
}

static int rd_tensor(reader *r, fx_tensor *t)
{
    uint32_t rank;
    if (!rd_str(r, "tensor name", t->name, sizeof t->name))
        return 0;
    const size_t len = strlen(r->where);
    snprintf(r->where + len, sizeof r->where - len, " tensor '%s'", t->name);
    if (!rd_u32(r, "tensor rank", &rank))
        return 0;
    if (rank < 1 || rank > CC_MAX_RANK)
        return bad(r, "rank %u; expected 1 to %d", (unsigned)rank, CC_MAX_RANK);
    t->shape.rank = (int)rank;
    t->n = 1;
    for (uint32_t i = 0; i < rank; i++) {
        uint32_t d;
        if (!rd_u32(r, "tensor dimension", &d))
            return 0;
        if (d < 1 || d > CC_MAX_NUMEL || t->n * d > CC_MAX_NUMEL)  /* t->n <= 2^30, so no overflow */
            return bad(r, "dimension %u makes the tensor empty or larger than %zu elements", (unsigned)d,
                       CC_MAX_NUMEL);
        t->shape.d[i] = (int)d;
        t->n *= d;
    }
    const unsigned char *b;
    if (!take(r, t->n * 4, "tensor data", &b))
        return 0;
    t->data = tu_alloc(t->n * sizeof(float));
    for (size_t i = 0; i < t->n; i++) {
        t->data[i] = le_f32(b + 4 * i);
        if (isinf(t->data[i]))  /* NaN is a value the NaN cases expect; infinity is not */
            return bad(r, "element %zu is infinite", i);
    }
    return 1;
}

static int rd_case(reader *r, fx_case *c, int index)
{
    uint32_t nattrs, ntensors;
    snprintf(r->where, sizeof r->where, "case %d", index);
    if (!rd_str(r, "op name", c->op, sizeof c->op))
        return 0;
    snprintf(r->where, sizeof r->where, "case %d '%s'", index, c->op);
    const size_t len = strlen(r->where);
    if (!rd_str(r, "case label", c->label, sizeof c->label) || !rd_u32(r, "attribute count", &nattrs))
        return 0;
    if (nattrs > MAX_ATTRS)
        return bad(r, "%u attributes; at most %d", (unsigned)nattrs, MAX_ATTRS);
    for (c->nattrs = 0; c->nattrs < (int)nattrs; c->nattrs++) {
        const int k = c->nattrs;
        uint32_t n;
        const unsigned char *b;
        if (!rd_str(r, "attribute key", c->attr_key[k], sizeof c->attr_key[k]) ||
            !rd_u32(r, "attribute value count", &n))
            return 0;
        if (n < 1 || n > MAX_ATTR_VALUES)
            return bad(r, "attribute '%s' has %u values; expected 1 to %d", c->attr_key[k], (unsigned)n,
                       MAX_ATTR_VALUES);
        if (!take(r, (size_t)n * 8, "attribute values", &b))
            return 0;
        c->attr_n[k] = (int)n;
        for (uint32_t i = 0; i < n; i++)
            c->attr_v[k][i] = le_f64(b + 8 * i);
    }
    if (!rd_u32(r, "tensor count", &ntensors))
        return 0;
    if (ntensors > MAX_TENSORS)
        return bad(r, "%u tensors; at most %d", (unsigned)ntensors, MAX_TENSORS);
    for (c->ntensors = 0; c->ntensors < (int)ntensors; c->ntensors++) {
        r->where[len] = '\0';
        if (!rd_tensor(r, &c->t[c->ntensors])) {
            c->ntensors++;  /* its data (if any) is freed with the case */
            return 0;
        }
        for (int j = 0; j < c->ntensors; j++)
            if (!strcmp(c->t[j].name, c->t[c->ntensors].name))
                return c->ntensors++, bad(r, "a second tensor of this name");
    }
    return 1;
}

static void free_case(fx_case *c)
{
    for (int i = 0; i < c->ntensors; i++)
        free(c->t[i].data);
}

/* Reads the whole file; on any error prints it, counts a failure, returns NULL. */
static fx_case *load(const char *path, int *ncases)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tu_check(0, "%s: cannot open (run from the repository root, or `make fixtures`)", path);
        return NULL;
    }
    long size = -1;
    if (!fseek(f, 0, SEEK_END))
        size = ftell(f);
    if (size < 0 || (unsigned long)size > MAX_FILE_BYTES || fseek(f, 0, SEEK_SET)) {
        tu_check(0, "%s: cannot size the file, or it is larger than %zu bytes", path, MAX_FILE_BYTES);
        fclose(f);
        return NULL;
    }
    const size_t len = (size_t)size;
    unsigned char *buf = tu_alloc(len);
    const size_t got = fread(buf, 1, len, f);
    fclose(f);
    if (got != len) {
        tu_check(0, "%s: read %zu of %zu bytes", path, got, len);
        free(buf);
        return NULL;
    }
    reader r = {.p = buf, .len = len, .pos = 0, .path = path, .err = ""};
    const unsigned char *magic;
    uint32_t version = 0, n = 0;
    fx_case *cases = NULL;
    int loaded = 0, complete = 0;
    if (take(&r, 4, "magic", &magic) && memcmp(magic, "CCFX", 4))
        snprintf(r.err, sizeof r.err, "%s: not a fixture file (magic is not \"CCFX\")", path);
    if (rd_u32(&r, "version", &version) && version != 1)
        snprintf(r.err, sizeof r.err, "%s: version %u; this test reads version 1", path, (unsigned)version);
    /* Every case takes at least 12 bytes, which bounds a corrupt count. */
    if (rd_u32(&r, "case count", &n) && (n < 1 || n > (r.len - r.pos) / 12))
        snprintf(r.err, sizeof r.err, "%s: %u cases, but %zu bytes remain and a case takes at least 12",
                 path, (unsigned)n, r.len - r.pos);
    size_t cap = 0;
    while (!r.err[0] && loaded < (int)n) {
        if ((size_t)loaded == cap) {
            cap = cap ? 2 * cap : 64;
            fx_case *grown = realloc(cases, cap * sizeof *cases);
            if (!grown) {
                snprintf(r.err, sizeof r.err, "%s: out of memory for %zu cases", path, cap);
                break;
            }
            cases = grown;
        }
        memset(&cases[loaded], 0, sizeof *cases);
        complete += rd_case(&r, &cases[loaded], loaded);
        loaded++;  /* a half-read case still owns the tensors it read */
    }
    if (!r.err[0] && r.pos != r.len)
        snprintf(r.err, sizeof r.err, "%s: %zu bytes left over after the last case ends at offset %zu", path,
                 r.len - r.pos, r.pos);
    free(buf);
    if (r.err[0]) {
        if (n)
            tu_check(0, "%s (%d of %u cases read)", r.err, complete, (unsigned)n);
        else
            tu_check(0, "%s", r.err);
        for (int i = 0; i < loaded; i++)
            free_case(&cases[i]);
        free(cases);
        return NULL;
    }
    *ncases = (int)n;
    return cases;
}

static const fx_tensor *find(const fx_case *c, const char *name)
{
    for (int i = 0; i < c->ntensors; i++)
        if (!strcmp(c->t[i].name, name))
            return &c->t[i];
    return NULL;
}

static cc_real *to_real(const fx_tensor *t)
{
    cc_real *x = tu_alloc(t->n * sizeof(cc_real));
    for (size_t i = 0; i < t->n; i++)
        x[i] = (cc_real)t->data[i];
    return x;
}

/* Compares got with a fixture tensor; returns max |got - want| and raises
 *used to the largest fraction of the tolerance any element needed. */
static double compare(const fx_case *c, const char *what, const cc_real *got, const fx_tensor *want,
                      double *used)
{
    double *w = tu_alloc(want->n * sizeof(double));
    for (size_t i = 0; i < want->n; i++) {
        w[i] = want->data[i];
        if (w[i] != w[i] && got[i] != got[i])
            continue;  /* NaN where PyTorch gives NaN */
        const double u = fabs((double)got[i] - w[i]) / (ATOL + RTOL * fabs(w[i]));
        *used = u > *used || u != u ? u : *used;
    }
    char name[MAX_NAME + MAX_LABEL + 64];
    snprintf(name, sizeof name, "%s (%s) %s", c->op, c->label, what);
    double e = tu_close(name, got, w, want->n, ATOL, RTOL);
    free(w);
    return e;
}

/* Every tensor must be one this op can have: a typo in the generator would
 * otherwise go unchecked. */
static int names_known(const fx_case *c, const cc_op *op, int nin)
{
    for (int i = 0; i < c->ntensors; i++) {
        const char *s = c->t[i].name;
        const char *base = !strncmp(s, "d_", 2) ? s + 2 : s;
        int ok = !strcmp(s, "out") || !strcmp(s, "r");
        for (int k = 0; k < nin && !ok; k++) {
            char in[16];
            snprintf(in, sizeof in, "in%d", k);
            ok = !strcmp(base, in);
        }
        for (int k = 0; k < op->nparams && !ok; k++)
            ok = !strcmp(base, op->param_names[k]) && (base == s || !(op->buffer_params >> k & 1));
        if (!ok) {
            tu_check(0, "%s (%s): tensor '%s' is not an input, parameter, out, r or gradient of this op",
                     c->op, c->label, s);
            return 0;
        }
    }
    return 1;
}

static void run_case(const fx_case *c)
{
    const cc_op *op = cc_op_find(c->op);
    if (!op) {
        tu_check(0, "%s (%s): op is not in the registry", c->op, c->label);
        return;
    }
    if (!op->infer || !op->forward || !op->backward) {
        tu_check(0, "%s (%s): op has no infer/forward/backward yet (placeholder); case skipped", c->op, c->label);
        return;
    }
    cc_error err;
    cc_attrs attrs = cc_attrs_default();
    for (int k = 0; k < c->nattrs; k++)
        if (cc_attrs_set(&attrs, c->attr_key[k], c->attr_v[k], c->attr_n[k], &err)) {
            tu_check(0, "%s (%s): %s", c->op, c->label, err.msg);
            return;
        }

    cc_op_args a;
    memset(&a, 0, sizeof a);
    a.attrs = &attrs;
    int nin = 0;
    const fx_tensor *in[CC_MAX_INPUTS + 1];
    for (char nm[16]; nin <= CC_MAX_INPUTS; nin++) {
        snprintf(nm, sizeof nm, "in%d", nin);
        if (!(in[nin] = find(c, nm)))
            break;
    }
    const fx_tensor *out = find(c, "out"), *r = find(c, "r");
    if (nin < op->min_inputs || nin > op->max_inputs || nin > CC_MAX_INPUTS || !out || !r) {
        tu_check(0, "%s (%s): fixture has %d inputs (op takes %d to %d)%s%s", c->op, c->label, nin,
                 op->min_inputs, op->max_inputs, out ? "" : ", no 'out'", r ? "" : ", no 'r'");
        return;
    }
    if (!names_known(c, op, nin))
        return;
    const fx_tensor *param[CC_MAX_PARAMS] = {0}, *dparam_want[CC_MAX_PARAMS] = {0};
    int has_param[CC_MAX_PARAMS] = {0};
    for (int k = 0; k < op->nparams; k++) {
        char dn[MAX_NAME + 2];
        snprintf(dn, sizeof dn, "d_%s", op->param_names[k]);
        param[k] = find(c, op->param_names[k]);
        dparam_want[k] = find(c, dn);
        has_param[k] = param[k] != NULL;
        if (!param[k] && (op->required_params >> k & 1)) {
            tu_check(0, "%s (%s): required parameter '%s' missing", c->op, c->label, op->param_names[k]);
            return;
        }
        if (param[k] && !(op->buffer_params >> k & 1) && !dparam_want[k]) {
            tu_check(0, "%s (%s): fixture has no gradient '%s'", c->op, c->label, dn);
            return;
        }
        if (param[k])
            a.param_shape[k] = param[k]->shape;
    }
    a.ninputs = nin;
    for (int i = 0; i < nin; i++)
        a.in_shape[i] = in[i]->shape;
    char got_s[64], want_s[64], r_s[64];
    if (op->infer(&attrs, a.in_shape, nin, a.param_shape, has_param, &a.out_shape, &err)) {
        tu_check(0, "%s (%s): shape inference refused: %s", c->op, c->label, err.msg);
        return;
    }
    if (!cc_shape_equal(&a.out_shape, &out->shape) || !cc_shape_equal(&r->shape, &out->shape)) {
        tu_check(0, "%s (%s): shape inference gives %s, PyTorch %s (r is %s)", c->op, c->label,
                 cc_shape_str(&a.out_shape, got_s, sizeof got_s), cc_shape_str(&out->shape, want_s, sizeof want_s),
                 cc_shape_str(&r->shape, r_s, sizeof r_s));
        return;
    }

    /* Working memory the op asks for, filled with NaN bytes (0xff) before
     * each call: a kernel that relies on its contents fails. */
    const size_t nscratch = op->scratch_bytes
        ? op->scratch_bytes(&attrs, a.in_shape, nin, a.param_shape, &a.out_shape) : 0;
    if (nscratch > MAX_SCRATCH_BYTES) {
        tu_check(0, "%s (%s): op asks for %zu bytes of scratch; this test allows %zu", c->op, c->label,
                 nscratch, MAX_SCRATCH_BYTES);
        return;
    }
    if (nscratch && !(a.scratch = aligned_alloc(64, (nscratch + 63) / 64 * 64))) {
        tu_check(0, "%s (%s): out of memory for %zu bytes of scratch", c->op, c->label, nscratch);
        return;
    }

    /* Forward into 1e30, so an element the op forgets to write fails (NaN
     * would pass where the NaN cases expect NaN). */
    if (a.scratch)
        memset(a.scratch, 0xff, nscratch);
    for (int i = 0; i < nin; i++)
        a.in[i] = to_real(in[i]);
    for (int k = 0; k < op->nparams; k++)
        a.param[k] = param[k] ? to_real(param[k]) : NULL;
    a.out = tu_alloc(out->n * sizeof(cc_real));
    for (size_t i = 0; i < out->n; i++)
        a.out[i] = (cc_real)1e30;
    op->forward(&a);
    double used = 0;
    const double efwd = compare(c, "forward", a.out, out, &used);

    /* Backward with dout = r into zeroed buffers; statistics get NULL. */
    cc_real *dout = to_real(r);
    a.dout = dout;
    for (int i = 0; i < nin; i++)
        a.din[i] = tu_alloc(in[i]->n * sizeof(cc_real));
    for (int k = 0; k < op->nparams; k++)
        if (param[k] && !(op->buffer_params >> k & 1))
            a.dparam[k] = tu_alloc(param[k]->n * sizeof(cc_real));
    if (a.scratch)
        memset(a.scratch, 0xff, nscratch);
    op->backward(&a);
    double ebwd = 0;
    char what[MAX_NAME + 16];
    for (int i = 0; i < nin; i++) {
        snprintf(what, sizeof what, "d_in%d", i);
        const fx_tensor *want = find(c, what);
        double e = INFINITY;
        if (!want)
            tu_check(0, "%s (%s): fixture has no gradient '%s'", c->op, c->label, what);
        else if (!cc_shape_equal(&want->shape, &in[i]->shape))
            tu_check(0, "%s (%s): '%s' shape differs from in%d", c->op, c->label, what, i);
        else
            e = compare(c, what, a.din[i], want, &used);
        ebwd = e > ebwd || e != e ? e : ebwd;
    }
    for (int k = 0; k < op->nparams; k++) {
        if (!a.dparam[k])
            continue;
        snprintf(what, sizeof what, "d_%s", op->param_names[k]);
        double e = INFINITY;
        if (!cc_shape_equal(&dparam_want[k]->shape, &param[k]->shape))
            tu_check(0, "%s (%s): '%s' shape differs from '%s'", c->op, c->label, what, op->param_names[k]);
        else
            e = compare(c, what, a.dparam[k], dparam_want[k], &used);
        ebwd = e > ebwd || e != e ? e : ebwd;
    }
    printf("%-18s %-56s max |err| forward %-9.3g backward %-9.3g (%.0f%% of tolerance)\n", c->op, c->label,
           efwd, ebwd, 100 * used);

    for (int i = 0; i < nin; i++)
        free((void *)a.in[i]), free(a.din[i]);
    for (int k = 0; k < op->nparams; k++)
        free((void *)a.param[k]), free(a.dparam[k]);
    free(a.out);
    free(dout);
    free(a.scratch);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "tests/fixtures/ops.ccfx";
    int ncases = 0;
    fx_case *cases = load(path, &ncases);
    if (!cases)
        return tu_finish("parity");
    printf("%s: %d cases, tolerance |got - want| <= %g + %g*|want|\n", path, ncases, ATOL, RTOL);
    for (int i = 0; i < ncases; i++)
        run_case(&cases[i]);
    for (int k = 0; cc_ops[k]; k++) {
        int found = 0;
        for (int i = 0; i < ncases && !found; i++)
            found = !strcmp(cases[i].op, cc_ops[k]->name);
        tu_check(found, "op '%s' is registered but has no PyTorch parity case in %s", cc_ops[k]->name, path);
    }
    for (int i = 0; i < ncases; i++)
        free_case(&cases[i]);
    free(cases);
    return tu_finish("parity");
}
