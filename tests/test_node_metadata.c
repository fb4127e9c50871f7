/* tests/test_node_metadata.c — the per-node metadata of weights/FORMAT.md as
 * the loader reads it:
 *   node.module into cc_model.node_module: one class per node, graph inputs
 *   read as "", NULL for a file without the key; refused, with a message naming
 *   the key and the counts or the node: another type, another length (short,
 *   long, empty), and ReLU, Conv2d or BatchNorm2d on a node of another op.
 *   Other class names may sit on any node.
 *   node.layout into cc_model.node_layout ("", nchw, nhwc, tokens:P:h:w;
 *   graph inputs nchw), and cc_model_layout's fallback without it (rank 4 is
 *   N x C x H x W); refused: another type or length, and every malformed entry. */
#include "testutil.h"
#include "weights/model.h"
#include "weights/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST(...) (const char *const[]){__VA_ARGS__}, (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

/* x, y -> conv(x) (1x1, 3 -> 2, bias) -> bn -> relu -> add(relu, y): two
 * graph inputs, four nodes, with metadata `key` (node.module or node.layout)
 * set to the n strings. n < 0 leaves the key out; as_string stores the first
 * string as a string instead of a list. */
static cc_status load_key(const char *key, const char *const *strs, int n, int as_string, cc_model **out,
                          cc_error *err)
{
    static const float values[6] = {1, -1, 0.5f, 0.25f, 2, -2};
    cc_model_writer *w = cc_writer_create();
    if (as_string)
        cc_writer_meta_string(w, key, strs[0]);
    else if (n >= 0)
        cc_writer_meta_strings(w, key, strs, n);
    cc_writer_tensor(w, "conv.weight", CC_DTYPE_F32, cc_shape4(2, 3, 1, 1), values);
    cc_writer_tensor(w, "conv.bias", CC_DTYPE_F32, (cc_shape){1, {2}}, values);
    cc_writer_tensor(w, "bn.mean", CC_DTYPE_F32, (cc_shape){1, {2}}, values);
    cc_writer_tensor(w, "bn.var", CC_DTYPE_F32, (cc_shape){1, {2}}, values + 4);
    const int x = cc_writer_input(w, "x"), y = cc_writer_input(w, "y");
    const double one[] = {1};
    const cc_writer_attr k1[] = {{"kernel_size", one, 1}};
    const cc_writer_param cp[] = {{"weight", "conv.weight"}, {"bias", "conv.bias"}};
    const cc_writer_param bp[] = {{"running_mean", "bn.mean"}, {"running_var", "bn.var"}};
    int v = cc_writer_node(w, "conv", "conv2d", &x, 1, cp, 2, k1, 1);
    v = cc_writer_node(w, "bn", "batchnorm2d", &v, 1, bp, 2, NULL, 0);
    v = cc_writer_node(w, "relu", "relu", &v, 1, NULL, 0, NULL, 0);
    const int sum[2] = {v, y};
    cc_writer_node(w, "add", "add", sum, 2, NULL, 0, NULL, 0);
    unsigned char *buf = NULL;
    size_t size = 0;
    cc_status st = cc_writer_to_memory(w, &buf, &size, err);
    cc_writer_free(w);
    *out = NULL;
    if (!st)
        st = cc_model_load_memory(buf, size, out, err);
    free(buf);
    return st;
}

static cc_status load(const char *const *classes, int n, int as_string, cc_model **out, cc_error *err)
{
    return load_key("node.module", classes, n, as_string, out, err);
}

static void expect_refused_key(const char *key, const char *what, const char *const *strs, int n, int as_string,
                               const char *w1, const char *w2)
{
    cc_model *m;
    cc_error err;
    cc_status st = load_key(key, strs, n, as_string, &m, &err);
    tu_expect_error(what, st, CC_EFORMAT, &err, "<memory>", w1, w2, NULL);
    cc_model_free(m);
}

static void expect_refused(const char *what, const char *const *classes, int n, int as_string,
                           const char *w1, const char *w2)
{
    expect_refused_key("node.module", what, classes, n, as_string, w1, w2);
}

static void layouts(void)
{
    cc_model *m;
    cc_error err;
    cc_status st = load_key("node.layout", LIST("nchw", "nhwc", "tokens:1:14:14", ""), 0, &m, &err);
    tu_check(!st, "node.layout of one layout per node refused: %s", st ? err.msg : "");
    if (!st) {
        const cc_layout *l = m->node_layout;
        tu_check(l && l[0].kind == CC_LAYOUT_NCHW && l[1].kind == CC_LAYOUT_NCHW && l[2].kind == CC_LAYOUT_NCHW &&
                     l[3].kind == CC_LAYOUT_NHWC && l[4].kind == CC_LAYOUT_TOKENS && l[4].prefix == 1 &&
                     l[4].h == 14 && l[4].w == 14 && l[5].kind == CC_LAYOUT_NONE,
                 "node_layout read as given, the two inputs as nchw");
        const cc_layout t = cc_model_layout(m, 4, 3), none = cc_model_layout(m, 5, 4);
        tu_check(t.kind == CC_LAYOUT_TOKENS && none.kind == CC_LAYOUT_NONE,
                 "cc_model_layout gives the file's entry whatever the rank");
        cc_model_free(m);
    }
    st = load_key("node.layout", NULL, -1, 0, &m, &err);
    tu_check(!st && !m->node_layout && cc_model_layout(m, 5, 4).kind == CC_LAYOUT_NCHW &&
                 cc_model_layout(m, 5, 2).kind == CC_LAYOUT_NONE,
             "without node.layout: rank 4 is N x C x H x W, rank 2 no map");
    cc_model_free(m);
    expect_refused_key("node.layout", "3 layouts for 4 nodes", LIST("nchw", "nchw", "nchw"), 0,
                       "'node.layout' has 3 entries", "the graph has 4 nodes");
    expect_refused_key("node.layout", "a string", LIST("nchw"), 1, "'node.layout' has type 1",
                       "expected 4 (string list)");
    static const char *const bad[] = {"NCHW", "nchw ", "tokens", "tokens:1:14", "tokens:1:0:14", "tokens:-1:2:2",
                                      "tokens:1:14:14:", "tokens: 1:2:2", "tokens:1:16385:1", "tokens:1:2:2x",
                                      "tokens:99999999999:2:2", "tokens:0:16384:16384:"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char what[64];
        snprintf(what, sizeof what, "layout '%s'", bad[i]);
        expect_refused_key("node.layout", what, (const char *const[]){"nchw", bad[i], "", ""}, 4, 0,
                           "'node.layout' entry 1 (node 'bn')", "expected \"\", \"nchw\", \"nhwc\" or \"tokens:P:h:w\"");
    }
}

int main(void)
{
    cc_model *m;
    cc_error err;
    cc_status st = load(LIST("Conv2d", "BatchNorm2d", "ReLU", ""), 0, &m, &err);
    tu_check(!st, "node.module of one class per node refused: %s", st ? err.msg : "");
    if (!st) {
        const char *const *c = m->node_module;
        tu_check(c && !strcmp(c[0], "") && !strcmp(c[1], "") && !strcmp(c[2], "Conv2d") && !strcmp(c[3], "BatchNorm2d") &&
                 !strcmp(c[4], "ReLU") && !strcmp(c[5], ""), "node_module read as given, the two inputs as \"\"");
        cc_model_free(m);
    }
    st = load(NULL, -1, 0, &m, &err);
    tu_check(!st && m->node_module == NULL, "a file without node.module: %s, node_module %s", st ? err.msg : "loads",
             st || m->node_module ? "set" : "NULL");
    cc_model_free(m);
    st = load(LIST("MyConv", "FrozenBatchNorm2d", "Hardtanh", "Add"), 0, &m, &err);
    tu_check(!st, "other class names on any op refused: %s", st ? err.msg : "");
    cc_model_free(m);

    expect_refused("3 classes for 4 nodes", LIST("Conv2d", "BatchNorm2d", "ReLU"), 0,
                   "'node.module' has 3 entries", "the graph has 4 nodes");
    expect_refused("6 classes: one per graph input too", LIST("", "", "Conv2d", "BatchNorm2d", "ReLU", ""), 0,
                   "'node.module' has 6 entries", "one per node");
    expect_refused("an empty list", (const char *const[]){""}, 0, 0, "'node.module' has 0 entries", "4 nodes");
    expect_refused("a string", LIST("ReLU"), 1, "'node.module' has type 1", "expected 4 (string list)");
    expect_refused("ReLU on a conv2d node", LIST("ReLU", "BatchNorm2d", "ReLU", ""), 0,
                   "entry 0 says node 'conv' calls a ReLU module", "its op is conv2d, not relu");
    expect_refused("Conv2d on a batchnorm2d node", LIST("Conv2d", "Conv2d", "ReLU", ""), 0,
                   "node 'bn' calls a Conv2d module", "not conv2d");
    expect_refused("BatchNorm2d on an add node", LIST("Conv2d", "BatchNorm2d", "ReLU", "BatchNorm2d"), 0,
                   "entry 3 says node 'add'", "its op is add, not batchnorm2d");
    layouts();
    return tu_finish("node_metadata");
}
