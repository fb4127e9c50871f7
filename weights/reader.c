/* weights/reader.c — loading and validating a .ccm file (weights/FORMAT.md).
 *
 * The file is untrusted. Order of work: header fields and the header CRC;
 * section bounds; the CRC of the metadata, graph and tensor table and the
 * CRC of the data; then the sections are parsed — metadata, the tensor table
 * (so parameters can be bound by name), the graph, and the metadata that
 * refers to it (labels per class, the recommended layer). Every read is checked
 * against the end of its section, every count against the bytes that remain
 * before anything is allocated, and every size sum against overflow. All
 * memory a load allocates hangs off the model, so a failure at any point is
 * cleaned up by cc_model_free. */
#include "reader_internal.h"
#include "crc32.h"
#include "runtime/pages.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(cc_real) == sizeof(float), "f32 tensors are bound in place as cc_real");

static const unsigned char MAGIC[8] = {0x89, 'C', 'C', 'M', '\r', '\n', 0x1A, '\n'};

typedef cc_ull ull;

cc_status cc_rd_fail(cc_reader *r, cc_status st, const char *fmt, ...)
{
    char msg[CC_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cc_fail(r->err, st, "%s: %s", r->file, msg);
}

cc_status cc_rd_nomem(cc_reader *r, size_t bytes)
{
    return cc_rd_fail(r, CC_ENOMEM, "out of memory (%zu bytes) reading the %s section", bytes,
                      r->section ? r->section : "header");
}


/* ---- section cursor ---- */

void *cc_rd_alloc(cc_reader *r, size_t bytes)
{
    return cc_model_pool_alloc(&r->m->pool, bytes);
}

void cc_rd_begin(cc_reader *r, const char *section, uint64_t off, uint64_t size)
{
    r->section = section;
    r->pos = off;
    r->end = off + size;
    r->item[0] = '\0';
}

uint64_t cc_rd_left(const cc_reader *r)
{
    return r->end - r->pos;
}

static cc_status need(cc_reader *r, uint64_t n, const char *field)
{
    if (n <= cc_rd_left(r))
        return CC_OK;
    return cc_rd_fail(r, CC_EFORMAT, "%s%s%s (%llu bytes at byte %llu) runs past the end of the %s section "
                      "at byte %llu", r->item, *r->item ? ": " : "", field, (ull)n, (ull)r->pos, r->section,
                      (ull)r->end);
}

cc_status cc_rd_u32(cc_reader *r, uint32_t *v, const char *field)
{
    CC_TRY(need(r, 4, field));
    *v = cc_le32(r->b + r->pos);
    r->pos += 4;
    return CC_OK;
}

cc_status cc_rd_u64(cc_reader *r, uint64_t *v, const char *field)
{
    CC_TRY(need(r, 8, field));
    *v = cc_le64(r->b + r->pos);
    r->pos += 8;
    return CC_OK;
}

cc_status cc_rd_f64(cc_reader *r, double *v, const char *field)
{
    uint64_t u;
    CC_TRY(cc_rd_u64(r, &u, field));
    memcpy(v, &u, sizeof *v);
    return CC_OK;
}

cc_status cc_rd_str(cc_reader *r, const char **out, const char *field)
{
    uint32_t n;
    CC_TRY(cc_rd_u32(r, &n, field));
    if (n > CC_MODEL_MAX_STR)
        return cc_rd_fail(r, CC_EFORMAT, "%s%s%s is %u bytes long (length at byte %llu), over the limit of %d",
                          r->item, *r->item ? ": " : "", field, n, (ull)(r->pos - 4), CC_MODEL_MAX_STR);
    CC_TRY(need(r, n, field));
    size_t bad = cc_utf8_check(r->b + r->pos, n);
    if (bad < n)
        return cc_rd_fail(r, CC_EFORMAT, "%s%s%s has a NUL or invalid UTF-8 byte 0x%02x at byte %llu",
                          r->item, *r->item ? ": " : "", field, r->b[r->pos + bad], (ull)(r->pos + bad));
    char *s = cc_rd_alloc(r, (size_t)n + 1);
    if (!s)
        return cc_rd_nomem(r, (size_t)n + 1);
    memcpy(s, r->b + r->pos, n);
    s[n] = '\0';
    r->pos += n;
    *out = s;
    return CC_OK;
}

cc_status cc_rd_count(cc_reader *r, uint32_t count, uint64_t min_bytes, const char *field)
{
    if (count <= cc_rd_left(r) / min_bytes && count <= INT_MAX / 4)
        return CC_OK;
    return cc_rd_fail(r, CC_EFORMAT, "%s%s%s %u needs at least %llu bytes but only %llu remain in the %s "
                      "section", r->item, *r->item ? ": " : "", field, count, (ull)count * min_bytes,
                      (ull)cc_rd_left(r), r->section);
}

cc_status cc_rd_finish(cc_reader *r)
{
    if (r->pos == r->end)
        return CC_OK;
    return cc_rd_fail(r, CC_EFORMAT, "%llu bytes left over at the end of the %s section (bytes %llu..%llu)",
                      (ull)(r->end - r->pos), r->section, (ull)r->pos, (ull)(r->end - 1));
}

/* ---- header ---- */

static cc_status check_section(cc_reader *r, const char *what, uint64_t off, uint64_t size, uint64_t want_off,
                               const char *after)
{
    if (off != want_off)
        return cc_rd_fail(r, CC_EFORMAT, "header: %s offset is %llu; expected %llu, right after %s", what,
                          (ull)off, (ull)want_off, after);
    if (off > r->size || size > r->size - off)
        return cc_rd_fail(r, CC_EFORMAT, "header: %s section (offset %llu, size %llu) ends past the end of "
                          "the file (%llu bytes)", what, (ull)off, (ull)size, (ull)r->size);
    return CC_OK;
}

static cc_status check_ids(cc_reader *r)
{
    const unsigned char *h = r->b;
    if (r->size == 0)
        return cc_rd_fail(r, CC_EFORMAT, "the file is empty (0 bytes); expected a .ccm model file");
    if (r->size < CC_MODEL_HEADER_SIZE)
        return cc_rd_fail(r, CC_EFORMAT, "the file is %llu bytes, shorter than the %d-byte .ccm header "
                          "(truncated?)", (ull)r->size, CC_MODEL_HEADER_SIZE);
    if (memcmp(h, MAGIC, sizeof MAGIC)) {
        const char *hint =
            !memcmp(h, MAGIC, 4) ? " (line endings were altered: transfer the file in binary mode)"
            : h[0] == 'P' && h[1] == 'K' ? " (a zip archive: a PyTorch checkpoint? convert it with cnncam-convert)"
            : "";
        return cc_rd_fail(r, CC_EFORMAT, "bad magic %02x %02x %02x %02x %02x %02x %02x %02x; expected 89 43 43 "
                          "4d 0d 0a 1a 0a: not a .ccm model file%s", h[0], h[1], h[2], h[3], h[4], h[5], h[6],
                          h[7], hint);
    }
    /* Version and byte order before the CRC: a newer or big-endian file may
     * keep its CRC elsewhere or in another byte order. */
    uint32_t version = cc_le32(h + 8), bom = cc_le32(h + 12), hsize = cc_le32(h + 16);
    if (version > CC_MODEL_VERSION)
        return cc_rd_fail(r, CC_EFORMAT, "format version %u is newer than this reader's (%d): update cnncam",
                          version, CC_MODEL_VERSION);
    if (version != CC_MODEL_VERSION)
        return cc_rd_fail(r, CC_EFORMAT, "format version %u is not a version of the .ccm format (expected %d)",
                          version, CC_MODEL_VERSION);
    if (bom != 0x01020304u)
        return cc_rd_fail(r, CC_EFORMAT, "byte-order mark is 0x%08x; expected 0x01020304 (bytes 04 03 02 01)%s",
                          bom, bom == 0x04030201u ? ": the file was written big-endian" : "");
    if (hsize != CC_MODEL_HEADER_SIZE)
        return cc_rd_fail(r, CC_EFORMAT, "header size is %u; expected %d", hsize, CC_MODEL_HEADER_SIZE);
    uint32_t crc = cc_crc32(0, h, 104), stored = cc_le32(h + 104);
    if (crc != stored)
        return cc_rd_fail(r, CC_EFORMAT, "header CRC is 0x%08x but header bytes 0..103 give 0x%08x: the file "
                          "is corrupt", stored, crc);
    return CC_OK;
}

/* Header fields, section bounds and the two content CRCs. */
static cc_status check_header(cc_reader *r)
{
    const unsigned char *h = r->b;
    CC_TRY(check_ids(r));
    uint32_t flags = cc_le32(h + 20);
    if (flags)
        return cc_rd_fail(r, CC_EFORMAT, "header flags are 0x%08x; this reader supports no flags", flags);
    for (int i = 108; i < CC_MODEL_HEADER_SIZE; i++)
        if (h[i])
            return cc_rd_fail(r, CC_EFORMAT, "header reserved byte %d is 0x%02x; expected 0", i, h[i]);
    uint64_t file_size = cc_le64(h + 88);
    if (file_size != r->size)
        return cc_rd_fail(r, CC_EFORMAT, "header file size is %llu bytes but the file has %llu bytes%s",
                          (ull)file_size, (ull)r->size, file_size > r->size ? " (truncated?)" : "");
    for (int s = 0; s < 3; s++) {
        r->sec_off[s] = cc_le64(h + 24 + 16 * s);
        r->sec_size[s] = cc_le64(h + 32 + 16 * s);
    }
    r->data_off = cc_le64(h + 72);
    r->data_size = cc_le64(h + 80);
    static const char *const name[3] = {"metadata", "graph", "tensor table"};
    static const char *const after[3] = {"the header", "the metadata section", "the graph section"};
    uint64_t at = CC_MODEL_HEADER_SIZE;
    for (int s = 0; s < 3; s++) {
        CC_TRY(check_section(r, name[s], r->sec_off[s], r->sec_size[s], at, after[s]));
        at = r->sec_off[s] + r->sec_size[s];
    }
    const uint64_t table_end = at;
    if (r->data_off % CC_MODEL_ALIGN)
        return cc_rd_fail(r, CC_EFORMAT, "header: data offset %llu is not a multiple of %d", (ull)r->data_off,
                          CC_MODEL_ALIGN);
    if (r->data_off < table_end)
        return cc_rd_fail(r, CC_EFORMAT, "header: data offset %llu overlaps the tensor table section, which "
                          "ends at byte %llu", (ull)r->data_off, (ull)table_end);
    if (r->data_off > r->size || r->data_size > r->size - r->data_off)
        return cc_rd_fail(r, CC_EFORMAT, "header: data section (offset %llu, size %llu) ends past the end of "
                          "the file (%llu bytes)", (ull)r->data_off, (ull)r->data_size, (ull)r->size);
    if (r->data_off + r->data_size != r->size)
        return cc_rd_fail(r, CC_EFORMAT, "header: data section ends at byte %llu but the file has %llu bytes; "
                          "nothing may follow the data", (ull)(r->data_off + r->data_size), (ull)r->size);
    for (uint64_t i = table_end; i < r->data_off; i++)
        if (h[i])
            return cc_rd_fail(r, CC_EFORMAT, "padding byte %llu before the data section is 0x%02x; expected 0",
                              (ull)i, h[i]);
    uint32_t crc = cc_crc32(0, h + CC_MODEL_HEADER_SIZE, (size_t)(table_end - CC_MODEL_HEADER_SIZE));
    uint32_t stored = cc_le32(h + 96);
    if (crc != stored)
        return cc_rd_fail(r, CC_EFORMAT, "metadata/graph/tensor table CRC is 0x%08x but bytes %d..%llu give "
                          "0x%08x: the file is corrupt", stored, CC_MODEL_HEADER_SIZE, (ull)table_end - 1, crc);
    return CC_OK;
}

/* The data section's CRC, a chunk at a time. In the low-memory mode, the
 * pages of tensors of CC_PAGES_STREAM_BYTES or more are dropped as each chunk
 * is checked (the layers that read them stream them: pages.h), so checking a
 * 553 MB VGG-16 does not leave its 494 MB classifier resident; the rest
 * stays, as the first forward reads it all. */
static cc_status check_data(cc_reader *r)
{
    enum { CHUNK = 8 << 20 };
    const unsigned char *data = r->b + r->data_off;
    uint32_t crc = 0;
    for (uint64_t at = 0; at < r->data_size; at += CHUNK) {
        const uint64_t end = r->data_size - at < CHUNK ? r->data_size : at + CHUNK;
        crc = cc_crc32(crc, data + at, (size_t)(end - at));
        for (int i = 0; i < r->m->ntensors; i++) {
            const cc_model_tensor *t = &r->m->tensors[i];
            const uint64_t lo = t->offset > at ? t->offset : at;
            const uint64_t hi = t->offset + t->nbytes < end ? t->offset + t->nbytes : end;
            if (t->nbytes >= CC_PAGES_STREAM_BYTES && lo < hi)
                cc_pages_release(data + lo, (size_t)(hi - lo));
        }
    }
    const uint32_t stored = cc_le32(r->b + 100);
    if (crc != stored)
        return cc_rd_fail(r, CC_EFORMAT, "data CRC is 0x%08x but the data section gives 0x%08x: the file is "
                          "corrupt", stored, crc);
    return CC_OK;
}

/* ---- metadata that refers to the graph ---- */

/* What the format allows but the engine cannot use: labels that do not match
 * the class count (a class would get another's name), and a recommended
 * layer that names nothing (the default of every run would fail). Checked
 * after the graph, which the layer must name. */
static cc_status check_references(cc_reader *r)
{
    const cc_model *m = r->m;
    char q[72], near[300];
    int64_t classes;
    const char *const *labels;
    int nlabels;
    if (cc_model_meta_int(m, "classes", &classes) && cc_model_meta_strings(m, "labels", &labels, &nlabels) &&
        classes != nlabels)
        return cc_rd_fail(r, CC_EFORMAT, "metadata 'labels' has %d names but 'classes' is %lld; a model needs one "
                          "label per class (or no labels)", nlabels, (long long)classes);
    const cc_meta *e = cc_model_meta(m, "gradcam.layer");
    if (!e)
        return CC_OK;
    if (e->type != CC_META_STRING)
        return cc_rd_fail(r, CC_EFORMAT, "metadata 'gradcam.layer' has type %d; expected 1 (string): a node name "
                          "or alias", (int)e->type);
    if (cc_model_find_layer(m, e->str) < 0) {
        cc_model_suggest(m, e->str, near, sizeof near);
        return cc_rd_fail(r, CC_EFORMAT, "metadata 'gradcam.layer' is '%s', which is neither a node nor an alias "
                          "of the graph (nearest: %s)", cc_qname(e->str, q, sizeof q), near);
    }
    return CC_OK;
}

/* The classes the engine acts on by module type, and the op the converter
 * maps each to: guided backprop patches nn.ReLU modules, FullGrad takes
 * Conv2d and BatchNorm2d modules with a bias. A file claiming one of them
 * for another op would have the engine run, e.g., a guided backward that
 * op has not. */
static const struct { const char *module, *op; } ACTED_ON[] = {
    {"ReLU", "relu"}, {"Conv2d", "conv2d"}, {"BatchNorm2d", "batchnorm2d"},
};

/* A per-node string list (node.module, node.layout): absent (*e NULL), or
 * one string per node (not the graph inputs), in node order; read after the
 * graph, whose node count it must match. */
static cc_status per_node_strings(cc_reader *r, const char *key, const char *what, const cc_meta **e)
{
    const cc_graph *g = r->m->graph;
    const int nodes = g->nnodes - g->ninputs;
    *e = cc_model_meta(r->m, key);
    if (*e && (*e)->type != CC_META_STRINGS)
        return cc_rd_fail(r, CC_EFORMAT, "metadata '%s' has type %d; expected 4 (string list): %s", key,
                          (int)(*e)->type, what);
    if (*e && (*e)->n != nodes)
        return cc_rd_fail(r, CC_EFORMAT, "metadata '%s' has %d entries but the graph has %d nodes; it needs one "
                          "per node, in node order", key, (*e)->n, nodes);
    return CC_OK;
}

/* Metadata node.module: one class name per node. */
static cc_status read_node_modules(cc_reader *r)
{
    cc_model *m = r->m;
    const cc_meta *e;
    CC_TRY(per_node_strings(r, "node.module", "the module class of each node", &e));
    if (!e)
        return CC_OK;
    const cc_graph *g = m->graph;
    const char **module = cc_rd_alloc(r, (size_t)g->nnodes * sizeof *module);
    if (!module)
        return cc_rd_nomem(r, (size_t)g->nnodes * sizeof *module);
    char q[72], qn[72];
    for (int i = 0; i < g->nnodes; i++) {
        module[i] = i < g->ninputs ? "" : e->strs[i - g->ninputs];
        for (size_t k = 0; k < sizeof ACTED_ON / sizeof *ACTED_ON && i >= g->ninputs; k++)
            if (!strcmp(module[i], ACTED_ON[k].module) && strcmp(g->nodes[i].op->name, ACTED_ON[k].op))
                return cc_rd_fail(r, CC_EFORMAT, "metadata 'node.module' entry %d says node '%s' calls a %s module, "
                                  "but its op is %s, not %s", i - g->ninputs,
                                  cc_qname(g->nodes[i].name, qn, sizeof qn), cc_qname(module[i], q, sizeof q),
                                  g->nodes[i].op->name, ACTED_ON[k].op);
    }
    m->node_module = module;
    return CC_OK;
}

/* One node.layout entry: "", "nchw", "nhwc" or "tokens:P:h:w" (decimal, no
 * signs or spaces; h, w >= 1, P + h w within a tensor's bounds). */
static int parse_layout(const char *s, cc_layout *out)
{
    *out = (cc_layout){CC_LAYOUT_NONE, 0, 0, 0};
    if (!*s)
        return 1;
    if (!strcmp(s, "nchw") || !strcmp(s, "nhwc")) {
        out->kind = s[1] == 'c' ? CC_LAYOUT_NCHW : CC_LAYOUT_NHWC;
        return 1;
    }
    if (strncmp(s, "tokens:", 7))
        return 0;
    long v[3];
    const char *p = s + 7;
    for (int k = 0; k < 3; k++) {
        if (*p < '0' || *p > '9')
            return 0;
        v[k] = 0;
        while (*p >= '0' && *p <= '9' && v[k] <= CC_MODEL_MAX_SIDE)
            v[k] = 10 * v[k] + (*p++ - '0');
        if (*p != (k < 2 ? ':' : '\0') || v[k] > CC_MODEL_MAX_SIDE)
            return 0;
        p++;
    }
    if (v[1] < 1 || v[2] < 1 || (size_t)(v[0] + v[1] * v[2]) > CC_MAX_NUMEL)
        return 0;
    *out = (cc_layout){CC_LAYOUT_TOKENS, (int)v[0], (int)v[1], (int)v[2]};
    return 1;
}

/* Metadata node.layout: one layout per node (the graph inputs are N x C x H x W). */
static cc_status read_node_layouts(cc_reader *r)
{
    cc_model *m = r->m;
    const cc_meta *e;
    CC_TRY(per_node_strings(r, "node.layout", "the layout of each node's value", &e));
    if (!e)
        return CC_OK;
    const cc_graph *g = m->graph;
    cc_layout *layout = cc_rd_alloc(r, (size_t)g->nnodes * sizeof *layout);
    if (!layout)
        return cc_rd_nomem(r, (size_t)g->nnodes * sizeof *layout);
    char q[72], qn[72];
    for (int i = 0; i < g->nnodes; i++) {
        if (i < g->ninputs) {
            layout[i] = (cc_layout){CC_LAYOUT_NCHW, 0, 0, 0};
            continue;
        }
        if (!parse_layout(e->strs[i - g->ninputs], &layout[i]))
            return cc_rd_fail(r, CC_EFORMAT, "metadata 'node.layout' entry %d (node '%s') is '%s'; expected \"\", "
                              "\"nchw\", \"nhwc\" or \"tokens:P:h:w\" with h, w >= 1", i - g->ninputs,
                              cc_qname(g->nodes[i].name, qn, sizeof qn),
                              cc_qname(e->strs[i - g->ninputs], q, sizeof q));
    }
    m->node_layout = layout;
    return CC_OK;
}

cc_layout cc_model_layout(const cc_model *m, int i, int rank)
{
    if (m->node_layout)
        return m->node_layout[i];
    return (cc_layout){rank == 4 ? CC_LAYOUT_NCHW : CC_LAYOUT_NONE, 0, 0, 0};
}

/* ---- entry points ---- */

static cc_status parse(cc_reader *r)
{
    CC_TRY(check_header(r));
    cc_rd_begin(r, "metadata", r->sec_off[0], r->sec_size[0]);
    CC_TRY(cc_read_metadata(r));
    cc_error e;
    if (cc_model_read_input(r->m, &r->m->input, &e))
        return cc_rd_fail(r, CC_EFORMAT, "%s", e.msg);
    cc_rd_begin(r, "tensor table", r->sec_off[2], r->sec_size[2]);
    CC_TRY(cc_read_tensors(r));
    if (!r->made_here)
        CC_TRY(check_data(r));  /* after the table: it knows which tensors are big */
    cc_rd_begin(r, "graph", r->sec_off[1], r->sec_size[1]);
    CC_TRY(cc_read_graph(r));
    CC_TRY(check_references(r));
    CC_TRY(read_node_modules(r));
    return read_node_layouts(r);
}

/* Validates m->bytes; hands m to *out, or frees it. made_here: bytes this
 * process made (cc_model_adopt), whose data CRC is not checked. */
static cc_status finish_load(cc_model *m, const char *file, int made_here, cc_model **out, cc_error *err)
{
    cc_reader r;
    memset(&r, 0, sizeof r);
    r.made_here = made_here;
    r.b = m->bytes;
    r.size = m->file_size;
    r.file = file;
    r.err = err;
    r.m = m;
    cc_status st = parse(&r);
    cc_map_free(&r.tensors);
    cc_map_free(&r.names);
    if (st) {
        cc_model_free(m);
        return st;
    }
    *out = m;
    return CC_OK;
}

static void *copy_aligned(const void *data, size_t size)
{
    size_t bytes = (size / CC_MODEL_ALIGN + 1) * CC_MODEL_ALIGN;  /* a multiple of the alignment, never 0 */
    void *p = aligned_alloc(CC_MODEL_ALIGN, bytes);
    if (p && data && size)
        memcpy(p, data, size);
    return p;
}

cc_status cc_model_load_memory(const void *data, size_t size, cc_model **out, cc_error *err)
{
    if (!out)
        return cc_fail(err, CC_EINVAL, "cc_model_load_memory: out is NULL");
    *out = NULL;
    if (!data && size)
        return cc_fail(err, CC_EINVAL, "cc_model_load_memory: data is NULL but size is %zu", size);
    if (size > SIZE_MAX - 2 * CC_MODEL_ALIGN)
        return cc_fail(err, CC_EINVAL, "cc_model_load_memory: size %zu is too large", size);
    cc_model *m = calloc(1, sizeof *m);
    if (!m || !(m->buffer = copy_aligned(data, size))) {
        free(m);
        return cc_fail(err, CC_ENOMEM, "out of memory copying a %zu-byte model", size);
    }
    m->bytes = m->buffer;
    m->file_size = size;
    return finish_load(m, "<memory>", 0, out, err);
}

cc_status cc_model_adopt(void *buffer, size_t size, const char *name, cc_model **out, cc_error *err)
{
    *out = NULL;
    cc_model *m = calloc(1, sizeof *m);
    if (!m) {
        free(buffer);
        return cc_fail(err, CC_ENOMEM, "out of memory loading a %zu-byte model", size);
    }
    m->buffer = buffer;
    m->bytes = buffer;
    m->file_size = size;
    return finish_load(m, name, 1, out, err);
}

/* read() fallback where mmap is refused; fd is at offset 0. */
static cc_status read_all(int fd, const char *path, size_t size, cc_model *m, cc_error *err)
{
    if (size > SIZE_MAX - 2 * CC_MODEL_ALIGN || !(m->buffer = copy_aligned(NULL, size)))
        return cc_fail(err, CC_ENOMEM, "out of memory reading '%s' (%zu bytes)", path, size);
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, (char *)m->buffer + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return cc_fail(err, CC_EIO, "cannot read '%s' at byte %zu of %zu: %s", path, got, size,
                           k < 0 ? strerror(errno) : "the file shrank while reading");
        got += (size_t)k;
    }
    m->bytes = m->buffer;
    return CC_OK;
}

cc_status cc_model_load(const char *path, cc_model **out, cc_error *err)
{
    if (!out)
        return cc_fail(err, CC_EINVAL, "cc_model_load: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return cc_fail(err, CC_EINVAL, "cc_model_load: no model path given");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cc_fail(err, CC_EIO, "cannot open model file '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return cc_fail(err, CC_EIO, "cannot stat model file '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode)) {
        close(fd);
        return cc_fail(err, CC_EIO, "'%s' is %s, not a .ccm model file", path,
                       S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return cc_fail(err, CC_EFORMAT, "%s: the file is empty (0 bytes); expected a .ccm model file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX / 2) {
        close(fd);
        return cc_fail(err, CC_EIO, "'%s' is too large to load (%lld bytes)", path, (long long)st.st_size);
    }
    cc_model *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        return cc_fail(err, CC_ENOMEM, "out of memory loading '%s'", path);
    }
    m->file_size = (uint64_t)st.st_size;
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
        m->map = map;
        m->map_len = (size_t)st.st_size;
        m->bytes = map;
        (void)cc_pages_register(map, m->map_len);  /* clean pages: can be dropped (pages.h) */
    } else {
        cc_status rs = read_all(fd, path, (size_t)st.st_size, m, err);
        if (rs) {
            close(fd);
            cc_model_free(m);
            return rs;
        }
    }
    close(fd);
    return finish_load(m, path, 0, out, err);
}
