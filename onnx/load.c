/* onnx/load.c — see onnx.h. The decoder's allocations are 64-byte aligned
 * (so float raw data can be used in place) and counted against a budget
 * proportional to the file, so no length field can make it allocate more
 * than the file could describe. */
#include "onnx/onnx.h"
#include "onnx/import.h"
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- decoding ---- */

typedef struct {
    size_t used, budget;
} decode_budget;

static void *budget_alloc(void *data, size_t size)
{
    decode_budget *b = data;
    if (size > b->budget - b->used)
        return NULL;
    void *p = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    if (!p)
        return NULL;
    b->used += size;
    return p;
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

static cc_status decode(const unsigned char *bytes, size_t size, const char *file, decode_budget *budget,
                        ProtobufCAllocator *alloc, Onnx__ModelProto **out, cc_error *err)
{
    budget->used = 0;
    budget->budget = size * 4 + ((size_t)64 << 20);
    *alloc = (ProtobufCAllocator){budget_alloc, budget_free, budget};
    *out = onnx__model_proto__unpack(alloc, size, bytes);
    if (!*out)
        return cc_fail(err, CC_EFORMAT, "%s: not a valid ONNX model: the protobuf does not decode as a ModelProto "
                       "(truncated, corrupted, or not an ONNX file)", file);
    if (!(*out)->graph) {
        onnx__model_proto__free_unpacked(*out, alloc);
        *out = NULL;
        return cc_fail(err, CC_EFORMAT, "%s: the ONNX model has no graph", file);
    }
    return CC_OK;
}

/* ---- metadata ---- */

static const char *prop(const Onnx__ModelProto *m, const char *key)
{
    for (size_t i = 0; i < m->n_metadata_props; i++)
        if (m->metadata_props[i]->key && !strcmp(m->metadata_props[i]->key, key))
            return m->metadata_props[i]->value ? m->metadata_props[i]->value : "";
    return NULL;
}

/* "0.485,0.456,0.406" into v (up to max); count, or -1 when malformed. */
static int parse_floats(const char *s, double *v, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        v[n] = strtod(s, &end);
        if (end == s || !isfinite(v[n]))
            return -1;
        n++;
        s = end;
        while (*s == ' ')
            s++;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return *s ? -1 : n;
}

static int parse_int(const char *s, int *v)
{
    char *end;
    long r = strtol(s, &end, 10);
    if (end == s || *end || r < 1 || r > 16384)
        return 0;
    *v = (int)r;
    return 1;
}

static cc_status write_meta(cc_ox *x, cc_model_writer *w, const cc_onnx_options *opt, int output)
{
    const Onnx__ModelProto *m = x->model;
    const cc_shape *in = &x->nodes[0].shape, *out = &x->nodes[output].shape;
    const char *base = strrchr(x->file, '/');
    base = base ? base + 1 : x->file;
    char arch[260];   /* strings from the file, made valid UTF-8 for the format */
    cc_qname(m->graph->name && *m->graph->name ? m->graph->name : "onnx", arch, sizeof arch);
    cc_writer_meta_string(w, "arch", arch);
    cc_writer_meta_string(w, "source.file", base);
    cc_writer_meta_string(w, "source.format", "onnx");
    if (m->producer_name && *m->producer_name) {
        char producer[300], safe[300];
        snprintf(producer, sizeof producer, "%s %s", m->producer_name, m->producer_version ? m->producer_version : "");
        cc_writer_meta_string(w, "source.producer", cc_qname(producer, safe, sizeof safe));
    }
    cc_writer_meta_int(w, "source.opset", x->opset);
    if (out->rank == 2)
        cc_writer_meta_int(w, "classes", out->d[1]);
    cc_writer_meta_int(w, "input.channels", in->d[1]);
    if (!x->input_h_free && !x->input_w_free) {
        cc_writer_meta_int(w, "input.height", in->d[2]);
        cc_writer_meta_int(w, "input.width", in->d[3]);
    }
    /* Labels: the options', else metadata_props "labels", one per line. */
    const char *labels = prop(m, "labels");
    if (opt && opt->labels) {
        cc_writer_meta_strings(w, "labels", opt->labels, opt->nlabels);
    } else if (labels) {
        int n = 1;
        for (const char *p = labels; *p; p++)
            n += *p == '\n';
        char *copy = cc_ox_alloc(x, strlen(labels) + 1);
        const char **list = cc_ox_alloc(x, (size_t)n * sizeof *list);
        if (!copy || !list)
            return cc_ox_nomem(x);
        strcpy(copy, labels);
        int k = 0;
        for (char *p = copy, *nl; p; p = nl) {
            nl = strchr(p, '\n');
            if (nl)
                *nl++ = 0;
            if (*p || nl)
                list[k++] = p;
        }
        cc_writer_meta_strings(w, "labels", list, k);
    }
    /* Normalisation. */
    double mean[CC_MODEL_MAX_CHANNELS], std[CC_MODEL_MAX_CHANNELS];
    int nm = -2, ns = -2;
    if (opt && opt->mean) {
        nm = ns = opt->nnorm;
        memcpy(mean, opt->mean, (size_t)nm * sizeof *mean);
        memcpy(std, opt->std, (size_t)ns * sizeof *std);
    } else if (prop(m, "input.mean") || prop(m, "input.std")) {
        nm = prop(m, "input.mean") ? parse_floats(prop(m, "input.mean"), mean, CC_MODEL_MAX_CHANNELS) : -1;
        ns = prop(m, "input.std") ? parse_floats(prop(m, "input.std"), std, CC_MODEL_MAX_CHANNELS) : -1;
        if (nm < 0 || ns < 0)
            return cc_ox_fail(x, NULL, CC_EFORMAT, "metadata_props input.mean and input.std must both be lists "
                              "of numbers separated by commas (\"0.485,0.456,0.406\")");
    }
    if (nm >= 0) {
        cc_writer_meta_floats(w, "input.mean", mean, nm);
        cc_writer_meta_floats(w, "input.std", std, ns);
    }
    /* The evaluation recipe. */
    int resize = opt ? opt->resize : 0, crop = opt ? opt->crop : 0;
    const char *s;
    if (!resize && (s = prop(m, "eval.resize")) && !parse_int(s, &resize))
        return cc_ox_fail(x, NULL, CC_EFORMAT, "metadata_props eval.resize '%s' is not a size of 1 to 16384", s);
    if (!crop && (s = prop(m, "eval.crop")) && !parse_int(s, &crop))
        return cc_ox_fail(x, NULL, CC_EFORMAT, "metadata_props eval.crop '%s' is not a size of 1 to 16384", s);
    if (resize)
        cc_writer_meta_int(w, "eval.resize", resize);
    if (crop)
        cc_writer_meta_int(w, "eval.crop", crop);
    const char *interp = opt && opt->interpolation ? opt->interpolation : prop(m, "eval.interpolation");
    if (interp)
        cc_writer_meta_string(w, "eval.interpolation", interp);
    const char *output_kind = prop(m, "output");
    const char *last = x->nodes[output].op->name;
    if (!output_kind && (!strcmp(last, "softmax") || !strcmp(last, "log_softmax")))
        output_kind = !strcmp(last, "softmax") ? "probabilities" : "log_probabilities";
    if (output_kind)
        cc_writer_meta_string(w, "output", output_kind);
    return CC_OK;
}

/* ---- entry points ---- */

/* The tensors the live nodes bind, into w by reference (f32, as the engine
 * computes): they stay in the decoded message and the import's memory until
 * the file is made. */
static cc_status write_tensors(cc_ox *x, cc_model_writer *w)
{
    unsigned char *used = cc_ox_alloc(x, (size_t)x->ntensors + 1);
    if (!used)
        return cc_ox_nomem(x);
    memset(used, 0, (size_t)x->ntensors + 1);
    for (int j = 1; j < x->nnodes; j++)
        for (int p = 0; p < x->nodes[j].nparams && x->nodes[j].live; p++)
            used[x->nodes[j].param[p].tensor] = 1;
    for (int k = 0; k < x->ntensors; k++)
        if (used[k])
            cc_writer_tensor_ref(w, x->tensors[k].name, x->tensors[k].shape, x->tensors[k].data);
    return CC_OK;
}

/* An import in progress: the decoded message, the import, the writer. */
typedef struct {
    decode_budget budget;
    ProtobufCAllocator alloc;
    Onnx__ModelProto *m;
    cc_ox_raw *raw;           /* initializers' raw_data, in the file's bytes */
    cc_ox x;
    cc_model_writer *w;
} imported;

static void imported_free(imported *im)
{
    cc_writer_free(im->w);
    free(im->raw);
    cc_ox_free(&im->x);
    if (im->m)
        onnx__model_proto__free_unpacked(im->m, &im->alloc);
}

/* The whole import of bytes into im->w, the .ccm model; im is freed by the caller. */
static cc_status import(const unsigned char *bytes, size_t size, const char *file, const char *dir,
                        const cc_onnx_options *opt, imported *im, cc_error *err)
{
    memset(im, 0, sizeof *im);
    /* The weights stay in bytes: the decoder sees the rest (onnx/wire.c). */
    unsigned char *rest = NULL;
    size_t rest_size = 0;
    int nraw = 0;
    const int stripped = cc_ox_strip_raw(bytes, size, &rest, &rest_size, &im->raw, &nraw);
    cc_status st = decode(stripped ? rest : bytes, stripped ? rest_size : size, file, &im->budget, &im->alloc,
                          &im->m, err);
    free(rest);
    if (st)
        return st;
    cc_ox *x = &im->x;
    x->model = im->m, x->graph = im->m->graph, x->file = file, x->dir = dir, x->err = err;
    if (stripped && nraw == (int)im->m->graph->n_initializer)
        x->raw = im->raw, x->nraw = nraw;
    int output = 0;
    if (!(im->w = cc_writer_create()))
        return cc_ox_nomem(x);
    CC_TRY(cc_ox_walk(x, &output));
    CC_TRY(cc_ox_write_graph(x, im->w, output, opt && opt->layer ? opt->layer : prop(im->m, "gradcam.layer")));
    CC_TRY(write_meta(x, im->w, opt, output));
    return write_tensors(x, im->w);
}

/* The reader refused what the import made: say so under the file's name. */
static cc_status refused(cc_error *err, cc_status st, const char *file, const char *msg)
{
    const size_t n = strlen(file);
    if (!strncmp(msg, file, n) && !strncmp(msg + n, ": ", 2))
        msg += n + 2;
    return cc_fail(err, st, "%s: the imported model is not valid: %s", file, msg);
}

static cc_status load_bytes(const unsigned char *bytes, size_t size, const char *file, const char *dir,
                            const cc_onnx_options *opt, cc_model **out, cc_error *err)
{
    imported im;
    unsigned char *ccm = NULL;
    size_t n = 0;
    cc_status st = import(bytes, size, file, dir, opt, &im, err);
    if (!st) {
        cc_writer_for_adopt(im.w);
        st = cc_writer_to_memory(im.w, &ccm, &n, err);
    }
    imported_free(&im);
    if (!st) {
        cc_error e;
        if ((st = cc_model_adopt(ccm, n, file, out, &e)))
            refused(err, st, file, e.msg);
    }
    return st;
}

int cc_onnx_is_onnx(const char *path)
{
    const size_t n = path ? strlen(path) : 0;
    if (n >= 5 && !strcasecmp(path + n - 5, ".onnx"))
        return 1;
    unsigned char b[8] = {0};
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return 0;
    const size_t got = fread(b, 1, sizeof b, f);
    fclose(f);
    return got >= 2 && b[0] == 0x08 && b[1] >= 1 && b[1] <= 20;   /* ir_version, 1 to 20 */
}

/* Maps path; its folder into dir. */
static cc_status map_file(const char *path, void **map, size_t *size, char *dir, size_t dirlen, cc_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cc_fail(err, CC_EIO, "cannot open model file '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return cc_fail(err, CC_EIO, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return cc_fail(err, CC_EFORMAT, "%s: the file is empty (0 bytes); expected an ONNX model", path);
    }
    *size = (size_t)st.st_size;
    *map = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (*map == MAP_FAILED)
        return cc_fail(err, CC_EIO, "cannot map '%s': %s", path, strerror(errno));
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, dirlen, ".");
    else
        snprintf(dir, dirlen, "%.*s", (int)(slash - path) > 0 ? (int)(slash - path) : 1, path);
    return CC_OK;
}

cc_status cc_onnx_load(const char *path, const cc_onnx_options *opt, cc_model **out, cc_error *err)
{
    if (!out)
        return cc_fail(err, CC_EINVAL, "cc_onnx_load: out is NULL");
    *out = NULL;
    void *map = NULL;
    size_t size = 0;
    char dir[4096];
    CC_TRY(map_file(path, &map, &size, dir, sizeof dir, err));
    cc_status st = load_bytes(map, size, path, dir, opt, out, err);
    munmap(map, size);
    return st;
}

cc_status cc_onnx_load_memory(const void *data, size_t size, cc_model **out, cc_error *err)
{
    if (!out)
        return cc_fail(err, CC_EINVAL, "cc_onnx_load_memory: out is NULL");
    *out = NULL;
    if (!data || !size)
        return cc_fail(err, CC_EFORMAT, "<memory>: no bytes: expected an ONNX model");
    return load_bytes(data, size, "<memory>", NULL, NULL, out, err);
}

static cc_status write_file(const char *path, const unsigned char *bytes, size_t n, cc_error *err)
{
    cc_atomic_file f;
    CC_TRY(cc_atomic_open(&f, path, err));
    if (fwrite(bytes, 1, n, f.fp) != n) {
        cc_atomic_abort(&f);
        return cc_fail(err, CC_EIO, "cannot write '%s': %s", path, strerror(errno));
    }
    return cc_atomic_commit(&f, err);
}

cc_status cc_onnx_convert(const char *path, const cc_onnx_options *opt, const char *out_path, cc_error *err)
{
    void *map = NULL;
    size_t size = 0;
    char dir[4096];
    CC_TRY(map_file(path, &map, &size, dir, sizeof dir, err));
    imported im;
    unsigned char *ccm = NULL;
    size_t n = 0;
    cc_status st = import(map, size, path, dir, opt, &im, err);
    if (!st)
        st = cc_writer_to_memory(im.w, &ccm, &n, err);
    imported_free(&im);
    munmap(map, size);
    /* Load the bytes before writing them, so a model the reader would refuse is never written. */
    cc_model *m = NULL;
    cc_error e;
    if (!st && (st = cc_model_load_memory(ccm, n, &m, &e)))
        refused(err, st, path, e.msg);
    cc_model_free(m);
    if (!st)
        st = write_file(out_path, ccm, n, err);
    free(ccm);
    return st;
}
