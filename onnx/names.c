/* onnx/names.c — engine node names and aliases for an imported graph.
 *
 * torch.onnx.export (PyTorch 1.13 and later) names each node after the
 * modules it was called in: "/layer1/layer1.0/relu_1/Relu" is the Relu op
 * inside the second call of module layer1.0.relu, "/layer1/layer1.0/Add"
 * an addition in layer1.0's own forward. The module path is rebuilt from
 * those scopes (a scope that extends the previous one by ".k" is its child
 * k, any other is an attribute of it), a trailing "_N" on a module called
 * before becomes the converter's ":N+1", and then, as for a .ccm file:
 *   - a node alone in a leaf module's scope takes the module path
 *     (layer1.0.conv1); in a scope of several nodes, the one whose value
 *     leaves the scope does, the others add their op (features.0.2.mul);
 *   - a node in a container's own forward is the container's path and its
 *     op (layer1.0.add; at the top, flatten);
 *   - every container whose value leaves it through one node is an alias of
 *     that node (layer4 -> layer4.2.relu:2);
 *   - the ONNX node name and its output's name are aliases too, so any of
 *     the three names a layer.
 * A file from another exporter keeps its node names (or output names). */
#include "onnx/import.h"
#include "weights/model.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cc_ox *x;
    char **scope;            /* per engine node: module path of its source node, or NULL */
    char **name;             /* per engine node: its name */
    cc_namemap used;         /* names taken (nodes, aliases, the input) */
    int *first, *reader;     /* per node k: readers reader[first[k] .. first[k + 1]) */
    char **strings;          /* everything malloc'ed here */
    int nstrings, strings_cap;
} namer;

static char *keep(namer *nm, char *s)
{
    if (!s)
        return NULL;
    if (nm->nstrings == nm->strings_cap) {
        int cap = nm->strings_cap ? 2 * nm->strings_cap : 256;
        char **p = realloc(nm->strings, (size_t)cap * sizeof *p);
        if (!p) {
            free(s);
            return NULL;
        }
        nm->strings = p, nm->strings_cap = cap;
    }
    return nm->strings[nm->nstrings++] = s;
}

static int usable(const char *s)
{
    const size_t n = strlen(s);
    if (!n || n > CC_MODEL_MAX_NAME || cc_utf8_check((const unsigned char *)s, n) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return 0;
    return 1;
}

/* The module path of a torch-style node name, or NULL. */
static char *module_path(const char *name)
{
    if (!name || name[0] != '/' || !strchr(name + 1, '/'))
        return NULL;
    const size_t len = strlen(name);
    char *path = malloc(len + 1), *last = malloc(len + 1);
    if (!path || !last) {
        free(path), free(last);
        return NULL;
    }
    path[0] = last[0] = 0;
    const char *p = name + 1;
    for (;;) {
        const char *q = strchr(p, '/');
        if (!q)
            break;   /* the op's own label */
        const size_t k = (size_t)(q - p), ll = strlen(last);
        if (!k) {
            free(path), free(last);
            return NULL;
        }
        if (ll && k > ll + 1 && !strncmp(p, last, ll) && p[ll] == '.') {
            strncat(path, p + ll, k - ll);   /* "layer2.0" after "layer2": its child */
        } else {
            if (*path)
                strcat(path, ".");
            strncat(path, p, k);
        }
        memcpy(last, p, k);
        last[k] = 0;
        p = q + 1;
    }
    free(last);
    if (!*path) {
        free(path);
        return NULL;
    }
    return path;
}

/* A path whose last part ends "_N" after a module seen without it: the N+1-th call. */
static char *call_suffix(namer *nm, char *path, const cc_namemap *paths)
{
    char *u = strrchr(path, '_');
    const char *dot = strrchr(path, '.');
    if (!u || (dot && u < dot) || !u[1])
        return path;
    for (const char *c = u + 1; *c; c++)
        if (!isdigit((unsigned char)*c))
            return path;
    const long k = strtol(u + 1, NULL, 10);
    *u = 0;
    const int seen = cc_map_get(paths, path) >= 0;
    if (!seen || k < 1 || k > 100000) {
        *u = '_';
        return path;
    }
    char *r = malloc(strlen(path) + 16);
    if (!r)
        return NULL;
    sprintf(r, "%s:%ld", path, k + 1);
    *u = '_';
    return keep(nm, r);
}

/* scope is s or lies inside it ("layer1.0.relu" is inside "layer1" and "layer1.0"). */
static int within(const char *scope, const char *s)
{
    if (!scope)
        return 0;
    const size_t n = strlen(s);
    return !strncmp(scope, s, n) && (scope[n] == 0 || scope[n] == '.');
}

static char *lower_op(const char *op)
{
    char *s = malloc(strlen(op) + 1);
    if (s) {
        size_t i = 0;
        for (; op[i]; i++)
            s[i] = (char)tolower((unsigned char)op[i]);
        s[i] = 0;
    }
    return s;
}

static char *join(const char *a, const char *b)
{
    char *s = malloc(strlen(a) + strlen(b) + 2);
    if (s)
        sprintf(s, "%s%s%s", a, *a ? "." : "", b);
    return s;
}

/* name, or name:2, name:3 ... whichever is free (node<k> for a name the
 * format cannot hold); taken. */
static const char *unique(namer *nm, const char *name, int k)
{
    const int ok = usable(name) && strlen(name) < CC_MODEL_MAX_NAME - 12;
    char *s = malloc((ok ? strlen(name) : 0) + 32);
    if (!s)
        return NULL;
    if (ok)
        strcpy(s, name);
    else
        sprintf(s, "node%d", k);
    for (int i = 2; cc_map_get(&nm->used, s) >= 0; i++) {
        if (ok)
            sprintf(s, "%s:%d", name, i);
        else
            sprintf(s, "node%d:%d", k, i);
    }
    if (!keep(nm, s) || !cc_map_put(&nm->used, s, k))
        return NULL;
    return s;
}

static int free_name(namer *nm, const char *s)
{
    return s && usable(s) && cc_map_get(&nm->used, s) < 0;
}

static cc_status alias(namer *nm, cc_model_writer *w, const char *name, int node)
{
    if (!free_name(nm, name))
        return CC_OK;
    if (!cc_map_put(&nm->used, name, node))
        return cc_ox_nomem(nm->x);
    cc_writer_alias(w, name, node);
    return CC_OK;
}

static void namer_free(namer *nm)
{
    for (int i = 0; i < nm->nstrings; i++)
        free(nm->strings[i]);
    free(nm->strings);
    free(nm->scope);
    free(nm->name);
    free(nm->first);
    free(nm->reader);
    cc_map_free(&nm->used);
}

/* Whether node k's value leaves scope s: the logits, or read by a node outside it. */
static int leaves(const namer *nm, int k, const char *s, int output)
{
    if (k == output)
        return 1;
    for (int e = nm->first[k]; e < nm->first[k + 1]; e++)
        if (!within(nm->scope[nm->reader[e]], s))
            return 1;
    return 0;
}

/* Per live node, the live nodes that read it (compressed rows). */
static int readers(namer *nm)
{
    const cc_ox *x = nm->x;
    nm->first = calloc((size_t)x->nnodes + 1, sizeof *nm->first);
    if (!nm->first)
        return 0;
    int edges = 0;
    for (int j = 1; j < x->nnodes; j++)
        for (int i = 0; i < x->nodes[j].ninputs && x->nodes[j].live; i++)
            nm->first[x->nodes[j].input[i] + 1]++, edges++;
    for (int k = 0; k < x->nnodes; k++)
        nm->first[k + 1] += nm->first[k];
    int *at = malloc(((size_t)x->nnodes + 1) * sizeof *at);
    nm->reader = malloc(((size_t)edges + 1) * sizeof *nm->reader);
    if (!at || !nm->reader) {
        free(at);
        return 0;
    }
    memcpy(at, nm->first, ((size_t)x->nnodes + 1) * sizeof *at);
    for (int j = 1; j < x->nnodes; j++)
        for (int i = 0; i < x->nodes[j].ninputs && x->nodes[j].live; i++)
            nm->reader[at[x->nodes[j].input[i]]++] = j;
    free(at);
    return 1;
}

/* Every scope of every ONNX node, and each of its prefixes (layer1, layer1.0, layer1.0.relu). */
static int collect_paths(namer *nm, cc_namemap *paths)
{
    for (size_t k = 0; k < nm->x->graph->n_node; k++) {
        const char *p = keep(nm, module_path(nm->x->graph->node[k]->name));
        for (size_t i = 0; p; i++) {
            if (p[i] == '.' || !p[i]) {
                char *prefix = keep(nm, strndup(p, i));
                if (!prefix || (cc_map_get(paths, prefix) < 0 && !cc_map_put(paths, prefix, 1)))
                    return 0;
            }
            if (!p[i])
                break;
        }
    }
    return 1;
}

/* The name of live node k in scope s (see the top of the file). */
static char *base_name(const namer *nm, int k, const char *s, int output)
{
    const cc_ox *x = nm->x;
    const Onnx__NodeProto *src = x->nodes[k].src;
    if (!s)
        return strdup(src->name && usable(src->name) ? src->name : x->nodes[k].value);
    int container = 0, peers = 0;
    for (int j = 1; j < x->nnodes; j++) {
        if (!x->nodes[j].live || !nm->scope[j])
            continue;
        container |= within(nm->scope[j], s) && strcmp(nm->scope[j], s);
        peers += !strcmp(nm->scope[j], s);
    }
    if (!container && (peers == 1 || leaves(nm, k, s, output)))
        return strdup(s);
    char *op = lower_op(src->op_type ? src->op_type : "op");
    char *r = op ? join(s, op) : NULL;
    free(op);
    return r;
}

/* The converter's choice (tools/cnncam_convert/trace.py auto_gradcam_layer):
 * the last node of a map larger than 1 x 1 (N x C x H x W, or channels last)
 * that is not an average pool, an identity or a flatten, by its outermost
 * name (fewest dots, then shortest). */
static int auto_layer(const cc_ox *x)
{
    int best = -1;
    for (int k = 1; k < x->nnodes; k++) {
        const cc_ox_node *d = &x->nodes[k];
        const char *op = d->op->name;
        const int hw = d->layout == CC_OX_NCHW ? d->shape.d[2] * d->shape.d[3]
                     : d->layout == CC_OX_NHWC ? d->shape.d[1] * d->shape.d[2] : 0;
        if (d->live && hw > 1 && strcmp(op, "avgpool2d") && strcmp(op, "adaptive_avgpool2d") &&
            strcmp(op, "identity") && strcmp(op, "flatten"))
            best = k;
    }
    return best;
}

static int outer(const char *a, const char *b)   /* a names a layer more plainly than b */
{
    int da = 0, db = 0;
    for (const char *p = a; *p; p++)
        da += *p == '.';
    for (const char *p = b; *p; p++)
        db += *p == '.';
    return da != db ? da < db : strlen(a) < strlen(b);
}

cc_status cc_ox_write_graph(cc_ox *x, cc_model_writer *w, int output, const char *layer)
{
    namer nm;
    memset(&nm, 0, sizeof nm);
    nm.x = x;
    cc_status st = CC_OK;
    cc_namemap paths = {0};
    int *index = malloc((size_t)x->nnodes * sizeof *index);
    nm.scope = calloc((size_t)x->nnodes, sizeof *nm.scope);
    nm.name = calloc((size_t)x->nnodes, sizeof *nm.name);
    if (!index || !nm.scope || !nm.name || !collect_paths(&nm, &paths))
        goto nomem;
    for (int k = 1; k < x->nnodes; k++)
        if (x->nodes[k].live) {
            char *p = keep(&nm, module_path(x->nodes[k].src->name));
            nm.scope[k] = p ? call_suffix(&nm, p, &paths) : NULL;
        }
    if (!readers(&nm))
        goto nomem;
    const char *input = x->nodes[0].value;
    if (!cc_map_put(&nm.used, input, 0))
        goto nomem;
    int nw = 0;
    index[0] = 0;
    for (int k = 1; k < x->nnodes; k++)
        index[k] = x->nodes[k].live ? ++nw : -1;
    for (int k = 1; k < x->nnodes; k++)
        if (x->nodes[k].live) {
            char *base = keep(&nm, base_name(&nm, k, nm.scope[k], output));
            if (!base || !(nm.name[k] = (char *)unique(&nm, base, index[k])))
                goto nomem;
        }
    /* The graph. */
    cc_writer_input(w, input);
    for (int k = 1; k < x->nnodes; k++) {
        const cc_ox_node *d = &x->nodes[k];
        if (!d->live)
            continue;
        int in[CC_MAX_INPUTS];
        cc_writer_param p[CC_MAX_PARAMS];
        cc_writer_attr a[CC_OX_MAX_ATTRS];
        for (int i = 0; i < d->ninputs; i++)
            in[i] = index[d->input[i]];
        for (int i = 0; i < d->nparams; i++)
            p[i] = (cc_writer_param){d->param[i].role, x->tensors[d->param[i].tensor].name};
        for (int i = 0; i < d->nattrs; i++)
            a[i] = (cc_writer_attr){d->attr[i].key, d->attr[i].v, d->attr[i].n};
        cc_writer_node(w, nm.name[k], d->op->name, in, d->ninputs, p, d->nparams, a, d->nattrs);
    }
    cc_writer_output(w, index[output]);
    /* node.layout, when some map is channels last; else every rank-4 value is N x C x H x W. */
    int nhwc = 0;
    for (int k = 1; k < x->nnodes; k++)
        nhwc |= x->nodes[k].live && x->nodes[k].layout == CC_OX_NHWC;
    if (nhwc) {
        const char **layouts = malloc((size_t)nw * sizeof *layouts);
        if (!layouts)
            goto nomem;
        for (int k = 1, j = 0; k < x->nnodes; k++)
            if (x->nodes[k].live)
                layouts[j++] = x->nodes[k].layout == CC_OX_NHWC ? "nhwc" : x->nodes[k].layout ? "nchw" : "";
        cc_writer_meta_strings(w, "node.layout", layouts, nw);
        free(layouts);
    }
    const int best = auto_layer(x);
    const char *chosen = best > 0 ? nm.name[best] : NULL;
    /* Aliases: containers first (the names people pass), then ONNX's own names. */
    for (size_t pi = 0; pi < paths.cap; pi++) {
        const char *s = paths.key[pi];
        if (!s || !free_name(&nm, s))
            continue;
        int exit = -1, exits = 0;
        for (int k = 1; k < x->nnodes && exits < 2; k++)
            if (x->nodes[k].live && within(nm.scope[k], s) && leaves(&nm, k, s, output))
                exit = k, exits++;
        if (exits == 1 && (st = alias(&nm, w, s, index[exit])))
            goto done;
        if (exits == 1 && exit == best && outer(s, chosen))
            chosen = s;
    }
    if (layer || chosen)
        cc_writer_meta_string(w, "gradcam.layer", layer ? layer : chosen);
    for (int k = 1; k < x->nnodes; k++)
        if (x->nodes[k].live && (st = alias(&nm, w, x->nodes[k].src->name, index[k])))
            goto done;
    /* Every value name of an activation, Identity's and Dropout's outputs included. */
    for (size_t i = 0; i < x->values.cap; i++) {
        const cc_ox_value *v = x->values.key[i] ? &x->vals[x->values.val[i]] : NULL;
        if (v && v->kind == CC_OX_ACT && v->node > 0 && x->nodes[v->node].live &&
            (st = alias(&nm, w, x->values.key[i], index[v->node])))
            goto done;
    }
    goto done;
nomem:
    st = cc_ox_nomem(x);
done:
    free(index);
    cc_map_free(&paths);
    namer_free(&nm);
    return st;
}
