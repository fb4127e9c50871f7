/* onnx/ops_pool.c — MaxPool, AveragePool, GlobalAveragePool and ReduceMean
 * over the spatial axes.
 *
 * ONNX sizes a ceil_mode output as ceil((I + pads - K) / S) + 1; PyTorch
 * (and the engine, layers/pool_shape.c) drops a last window that would start
 * in the trailing padding. The two agree unless that happens, so the shape
 * the engine infers is compared with ONNX's and a disagreement refused. */
#include "onnx/import.h"

#include <string.h>

static int onnx_out(int in, int pa, int pb, int k, int s, int ceil_mode)
{
    const long long num = (long long)in + pa + pb - k;
    if (num < 0)
        return 0;
    return (int)((ceil_mode ? (num + s - 1) / s : num / s) + 1);
}

static cc_status pool(cc_ox *x, const Onnx__NodeProto *n, const char *op)
{
    static const char *const known[] = {"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape",
                                        "pads", "storage_order", "strides", NULL};
    CC_TRY(cc_ox_attr_only(x, n, known));
    if (cc_ox_uses(x, n, 1))
        return cc_ox_fail(x, n, CC_EFORMAT, "output 1 (the indices of the maxima) is used; cnncam does not make it");
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    const cc_shape s = *cc_ox_shape(x, in);
    if (s.rank != 4)
        return cc_ox_fail(x, n, CC_EFORMAT, "cnncam pools 2-D maps (a rank-4 input), not rank %d", s.rank);
    cc_status st = CC_OK;
    int64_t k[2];
    const int nk = cc_ox_attr_ints(x, n, "kernel_shape", k, 2, &st);
    const int64_t ceil_mode = cc_ox_attr_int(x, n, "ceil_mode", 0, &st);
    const int64_t include_pad = cc_ox_attr_int(x, n, "count_include_pad", 0, &st);
    if (st)
        return st;
    if (nk != 2 || k[0] < 1 || k[1] < 1 || k[0] > 65536 || k[1] > 65536)
        return cc_ox_fail(x, n, CC_EFORMAT, "kernel_shape must be two sizes of 1 to 65536");
    const int kernel[2] = {(int)k[0], (int)k[1]};
    cc_ox_attr a[6];
    CC_TRY(cc_ox_window(x, n, &s, kernel, a));
    if (!strcmp(op, "maxpool2d") && (a[3].v[0] != 1 || a[3].v[1] != 1))
        return cc_ox_fail(x, n, CC_EFORMAT, "dilated max pooling (dilations %g x %g) is not supported",
                          a[3].v[0], a[3].v[1]);
    int na = 3;   /* kernel_size, stride, padding; no dilation for pools */
    a[na++] = cc_ox_attr1("ceil_mode", ceil_mode != 0);
    if (!strcmp(op, "avgpool2d"))
        a[na++] = cc_ox_attr1("count_include_pad", include_pad != 0);
    int node;
    CC_TRY(cc_ox_emit(x, n, 0, op, &in, 1, NULL, 0, a, na, &node));
    const cc_shape *o = cc_ox_shape(x, node);
    for (int i = 0; i < 2; i++) {
        const int want = onnx_out(s.d[2 + i], (int)a[2].v[i], (int)a[2].v[2 + i], kernel[i], (int)a[1].v[i],
                                  ceil_mode != 0);
        if (want != o->d[2 + i])
            return cc_ox_fail(x, n, CC_EFORMAT, "with ceil_mode the last window starts in the padding: ONNX makes "
                              "%d %s, PyTorch and cnncam %d", want, i ? "columns" : "rows", o->d[2 + i]);
    }
    return CC_OK;
}

static cc_status maxpool(cc_ox *x, const Onnx__NodeProto *n)
{
    return pool(x, n, "maxpool2d");
}

static cc_status avgpool(cc_ox *x, const Onnx__NodeProto *n)
{
    return pool(x, n, "avgpool2d");
}

static cc_status global_avgpool(cc_ox *x, const Onnx__NodeProto *n)
{
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    const cc_ox_attr a = cc_ox_attr2("output_size", 1, 1);
    return cc_ox_emit(x, n, 0, "adaptive_avgpool2d", &in, 1, NULL, 0, &a, 1, NULL);
}

/* x.mean((2, 3)) and x.mean((2, 3), keepdim=True); axes are an attribute up
 * to opset 17. Over the last axis, the start of a layer norm (onnx/ops_norm.c). */
static cc_status reduce_mean(cc_ox *x, const Onnx__NodeProto *n)
{
    cc_status st = CC_OK;
    if (cc_ox_layer_norm_pattern(x, n, &st))   /* F.layer_norm before opset 17 */
        return st;
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    const int rank = cc_ox_shape(x, in)->rank;
    int64_t axes[CC_MAX_RANK];
    const int na = cc_ox_attr_ints(x, n, "axes", axes, CC_MAX_RANK, &st);
    const int64_t keep = cc_ox_attr_int(x, n, "keepdims", 1, &st);
    if (st)
        return st;
    int h = 0, w = 0;
    for (int i = 0; i < na; i++) {
        const int64_t ax = axes[i] < 0 ? axes[i] + rank : axes[i];
        h += ax == 2, w += ax == 3;
    }
    if (rank != 4 || na != 2 || h != 1 || w != 1)
        return cc_ox_fail(x, n, CC_EFORMAT, "cnncam reads ReduceMean over the two spatial axes of a rank-4 map "
                          "only (x.mean((2, 3)))");
    if (keep) {
        const cc_ox_attr a = cc_ox_attr2("output_size", 1, 1);
        return cc_ox_emit(x, n, 0, "adaptive_avgpool2d", &in, 1, NULL, 0, &a, 1, NULL);
    }
    return cc_ox_emit(x, n, 0, "spatial_mean", &in, 1, NULL, 0, NULL, 0, NULL);
}

const cc_ox_op cc_ox_pool_ops[] = {
    {"MaxPool", maxpool},
    {"AveragePool", avgpool},
    {"GlobalAveragePool", global_avgpool},
    {"ReduceMean", reduce_mean},
    {NULL, NULL},
};
