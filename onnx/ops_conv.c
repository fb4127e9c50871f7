/* onnx/ops_conv.c — Conv and BatchNormalization, and the sliding-window
 * attributes (kernel_shape, strides, pads, dilations, auto_pad) that Conv,
 * MaxPool and AveragePool share. */
#include "onnx/import.h"

#include <string.h>

cc_status cc_ox_window(cc_ox *x, const Onnx__NodeProto *n, const cc_shape *in, const int kernel[2], cc_ox_attr *out)
{
    cc_status st = CC_OK;
    int64_t v[4];
    int stride[2] = {1, 1}, dil[2] = {1, 1}, pad[4] = {0, 0, 0, 0};
    int k = cc_ox_attr_ints(x, n, "strides", v, 2, &st);
    if (k && k != 2)
        return cc_ox_fail(x, n, CC_EFORMAT, "strides has %d values; a 2-D window needs 2", k);
    for (int i = 0; i < k; i++)
        stride[i] = v[i] >= 1 && v[i] <= 1024 ? (int)v[i] : 0;
    k = cc_ox_attr_ints(x, n, "dilations", v, 2, &st);
    if (k && k != 2)
        return cc_ox_fail(x, n, CC_EFORMAT, "dilations has %d values; a 2-D window needs 2", k);
    for (int i = 0; i < k; i++)
        dil[i] = v[i] >= 1 && v[i] <= 1024 ? (int)v[i] : 0;
    k = cc_ox_attr_ints(x, n, "pads", v, 4, &st);
    if (k && k != 4)
        return cc_ox_fail(x, n, CC_EFORMAT, "pads has %d values; a 2-D window needs 4", k);
    for (int i = 0; i < k; i++)
        pad[i] = v[i] >= 0 && v[i] <= 65536 ? (int)v[i] : -1;
    const char *auto_pad = cc_ox_attr_string(x, n, "auto_pad", "NOTSET", &st);
    if (st)
        return st;
    if (!stride[0] || !stride[1] || !dil[0] || !dil[1] || pad[0] < 0 || pad[1] < 0 || pad[2] < 0 || pad[3] < 0)
        return cc_ox_fail(x, n, CC_EFORMAT, "strides and dilations must be 1 to 1024, pads 0 to 65536");
    if (!strcmp(auto_pad, "VALID")) {
        memset(pad, 0, sizeof pad);
    } else if (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER")) {
        for (int i = 0; i < 2; i++) {
            const int size = in->d[2 + i];
            if ((i ? x->input_w_free : x->input_h_free) && stride[i] > 1)
                return cc_ox_fail(x, n, CC_EFORMAT, "auto_pad %s with stride %d pads by the input's size, which "
                                  "the file leaves symbolic; export with a fixed height and width", auto_pad,
                                  stride[i]);
            const int o = (size + stride[i] - 1) / stride[i];
            int total = (o - 1) * stride[i] + (kernel[i] - 1) * dil[i] + 1 - size;
            total = total > 0 ? total : 0;
            const int small = total / 2, big = total - small;
            pad[i] = auto_pad[5] == 'U' ? small : big;      /* begin */
            pad[2 + i] = auto_pad[5] == 'U' ? big : small;  /* end */
        }
    } else if (strcmp(auto_pad, "NOTSET")) {
        return cc_ox_fail(x, n, CC_EFORMAT, "auto_pad '%s' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", auto_pad);
    }
    /* ONNX's pads are (top, left, bottom, right), as the engine's padding of four. */
    out[0] = cc_ox_attr2("kernel_size", kernel[0], kernel[1]);
    out[1] = cc_ox_attr2("stride", stride[0], stride[1]);
    out[2] = (cc_ox_attr){"padding", {pad[0], pad[1], pad[2], pad[3]}, 4};
    out[3] = cc_ox_attr2("dilation", dil[0], dil[1]);
    return CC_OK;
}

static cc_status conv(cc_ox *x, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", NULL};
    CC_TRY(cc_ox_attr_only(x, n, known));
    int in;
    const cc_ox_const *w, *b = NULL;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    CC_TRY(cc_ox_const_input(x, n, 1, &w));
    if (cc_ox_input(x, n, 2))
        CC_TRY(cc_ox_const_input(x, n, 2, &b));
    const cc_shape *s = cc_ox_shape(x, in);
    if (w->rank != 4 || s->rank != 4)
        return cc_ox_fail(x, n, CC_EFORMAT, "cnncam reads 2-D convolutions (a rank-4 input and weight); this one "
                          "has a rank-%d input and a rank-%d weight", s->rank, w->rank);
    cc_status st = CC_OK;
    int64_t ks[2];
    int nk = cc_ox_attr_ints(x, n, "kernel_shape", ks, 2, &st);
    const int64_t group = cc_ox_attr_int(x, n, "group", 1, &st);
    if (st)
        return st;
    if (nk && (nk != 2 || ks[0] != w->d[2] || ks[1] != w->d[3]))
        return cc_ox_fail(x, n, CC_EFORMAT, "kernel_shape does not match the weight's %lld x %lld",
                          (long long)w->d[2], (long long)w->d[3]);
    if (group < 1 || group > 1 << 20)
        return cc_ox_fail(x, n, CC_EFORMAT, "group is %lld", (long long)group);
    if (w->d[2] < 1 || w->d[3] < 1 || w->d[2] > 65536 || w->d[3] > 65536)
        return cc_ox_fail(x, n, CC_EFORMAT, "the kernel is %lld x %lld; cnncam reads 1 to 65536 a side",
                          (long long)w->d[2], (long long)w->d[3]);
    const int kernel[2] = {(int)w->d[2], (int)w->d[3]};
    cc_ox_attr a[5];
    CC_TRY(cc_ox_window(x, n, s, kernel, a));
    a[4] = cc_ox_attr1("groups", (double)group);
    cc_ox_param p[2];
    int np = 0;
    p[np].role = "weight";
    CC_TRY(cc_ox_param_tensor(x, n, w, NULL, &p[np++].tensor));
    if (b) {
        p[np].role = "bias";
        CC_TRY(cc_ox_param_tensor(x, n, b, NULL, &p[np++].tensor));
    }
    return cc_ox_emit(x, n, 0, "conv2d", &in, 1, p, np, a, 5, NULL);
}

static cc_status batchnorm(cc_ox *x, const Onnx__NodeProto *n)
{
    static const char *const known[] = {"epsilon", "momentum", "spatial", "training_mode", NULL};
    static const char *const roles[] = {"weight", "bias", "running_mean", "running_var"};
    CC_TRY(cc_ox_attr_only(x, n, known));
    cc_status st = CC_OK;
    const double eps = cc_ox_attr_float(x, n, "epsilon", 1e-5, &st);
    const int64_t training = cc_ox_attr_int(x, n, "training_mode", 0, &st);
    const int64_t spatial = cc_ox_attr_int(x, n, "spatial", 1, &st);
    if (st)
        return st;
    if (training || spatial != 1)
        return cc_ox_fail(x, n, CC_EFORMAT, "only inference batch normalisation (training_mode 0, spatial 1) is "
                          "supported");
    for (int o = 1; o < (int)n->n_output; o++)
        if (cc_ox_uses(x, n, o))
            return cc_ox_fail(x, n, CC_EFORMAT, "output %d (running statistics) is used; only inference batch "
                              "normalisation is supported", o);
    int in;
    CC_TRY(cc_ox_act(x, n, 0, &in));
    cc_ox_param p[4];
    for (int i = 0; i < 4; i++) {
        const cc_ox_const *c;
        CC_TRY(cc_ox_const_input(x, n, 1 + i, &c));
        p[i].role = roles[i];
        CC_TRY(cc_ox_param_tensor(x, n, c, NULL, &p[i].tensor));
    }
    const cc_ox_attr a = cc_ox_attr1("eps", eps);
    const int rank = cc_ox_shape(x, in)->rank;
    return cc_ox_emit(x, n, 0, rank == 4 ? "batchnorm2d" : "batchnorm1d", &in, 1, p, 4, &a, 1, NULL);
}

const cc_ox_op cc_ox_conv_ops[] = {
    {"Conv", conv},
    {"BatchNormalization", batchnorm},
    {NULL, NULL},
};
