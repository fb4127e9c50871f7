#!/usr/bin/python3
"""tests/gen_fixtures.py — PyTorch parity fixtures for every cnncam op.

Usage: /usr/bin/python3 tests/gen_fixtures.py tests/fixtures/ops.ccfx   (`make fixtures`)

Each case runs the real torch.nn module (or torch function) in eval mode, in
float32, from a seeded generator, and records the inputs, the parameters, the
output y, random loss weights r (uniform in [-1, 1)), and the gradients of
L = sum(r * y) from torch.autograd with respect to every input and every
differentiable parameter (never the batchnorm running statistics).
tests/test_parity.c replays each case through the op's C descriptor.

The stored output and gradients are PyTorch's answer for those float32 inputs
and parameters computed in float64, then rounded to float32: the closest
float32 values to the exact result, so the reference is not itself a source of
error. (PyTorch's float32 kernels sum in float32: a bias gradient summed over a
few hundred terms drifts by up to ~1e-5 from the exact value, which is the
whole absolute tolerance.) The same case is also run in float32, and PyTorch's
float32 result must pass the C test's tolerance |got - want| <= 1e-5 +
1e-4*|want| against the stored reference; the script prints the largest
fraction of that tolerance PyTorch float32 itself uses. A case marked
beyond_float32 (layer_norm on rows far from zero, where cnncam computes in
double) asks more than PyTorch's float32 kernel achieves: its ratio is
printed with the reason instead.

File format, little-endian throughout (tests/test_parity.c reads it):
    magic   b"CCFX"
    u32     version = 1
    u32     ncases
    per case:
        str     op            registry name ("conv2d")
        str     label         human description
        u32     nattrs
        per attribute:  str key, u32 n, f64 values[n]
                        (keys as cc_attrs_set takes them: kernel_size, stride,
                        padding (2 values, or 4 = top,left,bottom,right),
                        dilation, groups, ceil_mode, count_include_pad,
                        output_size, start_dim, axis, eps)
        u32     ntensors
        per tensor:     str name, u32 rank, u32 dims[rank], f32 data[prod(dims)]
    str = u16 byte length + that many bytes (no NUL)
Tensor names: "in0", "in1", ... inputs; parameters by the op's param_names
(conv2d/linear: weight, bias; batchnorm2d: weight, bias, running_mean,
running_var; an absent optional parameter is simply not stored); "out"; "r";
"d_in0", "d_in1", ... and "d_<param>" for the gradients.
"""
import copy
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

VERSION = 1
ATOL, RTOL = 1e-5, 1e-4  # tests/test_parity.c's tolerance
SEED = 20261129


def pack_str(s):
    b = s.encode("ascii")  # the reader takes printable ASCII only
    assert len(b) < 256 and all(0x20 <= c <= 0x7E for c in b), s
    return struct.pack("<H", len(b)) + b


def pack_tensor(name, t):
    t = t.detach().to(torch.float32).contiguous()
    assert 1 <= t.dim() <= 6, (name, t.shape)  # CC_MAX_RANK
    out = pack_str(name) + struct.pack("<I", t.dim()) + struct.pack("<%dI" % t.dim(), *t.shape)
    return out + struct.pack("<%df" % t.numel(), *t.flatten().tolist())


def run(module, fn, inputs, dtype):
    """A copy of module and the inputs in dtype (leaves that want gradients), and y."""
    m = copy.deepcopy(module).to(dtype) if module is not None else None
    xs = [x.detach().to(dtype).requires_grad_(True) for x in inputs]
    params = [(n, p) for n, p in m.named_parameters()] if m is not None else []
    y = fn(m, *xs)
    return m, xs, params, y


class Writer:
    def __init__(self):
        self.cases = []
        self.ops = set()
        self.worst_ratio = 0.0

    def case(self, op, label, attrs, inputs, fn, module=None, beyond_float32=None):
        """fn(module, *inputs) -> y; module (eval mode) holds the parameters.
        Returns r and the (float64) gradients stored. beyond_float32: why this
        case asks more than PyTorch's float32 kernels achieve (cnncam's kernel
        computes in double there); PyTorch's ratio is then printed, not asserted."""
        if module is not None:
            module.eval()
        results = {}
        for dtype in (torch.float32, torch.float64):
            m, xs, params, y = run(module, fn, inputs, dtype)
            if dtype == torch.float32:
                r = torch.rand(y.shape, dtype=torch.float32) * 2 - 1
            wrt = xs + [p for _, p in params]
            grads = torch.autograd.grad((r.to(dtype) * y).sum(), wrt, allow_unused=True)
            results[dtype] = (m, xs, params, y, grads)

        m, xs, params, y32, grads32 = results[torch.float32]
        y, grads = results[torch.float64][3], results[torch.float64][4]
        worst = 0.0
        for a, b in zip([y32] + list(grads32), [y] + list(grads)):
            assert a is not None and b is not None, (op, label, "a gradient is missing")
            # NaN cases: float32 and float64 must agree on where NaN is; the rest is compared.
            nan = b.isnan()
            assert torch.equal(a.isnan(), nan), (op, label, "float32 and float64 put NaN in different places")
            a, b = a.double()[~nan], b[~nan]
            ratio = float(((a - b).abs() / (ATOL + RTOL * b.abs())).max()) if b.numel() else 0.0
            worst = max(worst, ratio)
        if not beyond_float32:
            assert worst <= 1, (op, label, "PyTorch's own float32 result misses the tolerance", worst)
            self.worst_ratio = max(self.worst_ratio, worst)

        tensors = [("in%d" % i, x) for i, x in enumerate(xs)]
        if m is not None:
            tensors += [(n, p) for n, p in m.named_parameters()]
            tensors += [(n, b) for n, b in m.named_buffers() if n in ("running_mean", "running_var", "value")]
        tensors += [("out", y), ("r", r)]
        names = ["d_in%d" % i for i in range(len(xs))] + ["d_" + n for n, _ in params]
        tensors += list(zip(names, grads))

        blob = pack_str(op) + pack_str(label) + struct.pack("<I", len(attrs))
        for key, vals in attrs:
            vals = list(vals) if isinstance(vals, (list, tuple)) else [vals]
            blob += pack_str(key) + struct.pack("<I", len(vals)) + struct.pack("<%dd" % len(vals), *vals)
        blob += struct.pack("<I", len(tensors))
        for name, t in tensors:
            blob += pack_tensor(name, t)
        self.cases.append(blob)
        self.ops.add(op)
        print("%-20s %-56s out %s" % (op, label, "x".join(map(str, y.shape))))
        if beyond_float32:
            print("    PyTorch float32 uses %.3g times the tolerance here (%s)" % (worst, beyond_float32))
        return r, grads

    def write(self, path):
        data = b"CCFX" + struct.pack("<II", VERSION, len(self.cases)) + b"".join(self.cases)
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        print("%s: %d cases, %d ops, %d bytes; PyTorch float32 uses at most %.2f of the tolerance"
              % (path, len(self.cases), len(self.ops), len(data), self.worst_ratio))


def randn(*shape, scale=1.0):
    return torch.randn(*shape, dtype=torch.float32) * scale


def uniform(lo, hi, *shape):
    return torch.rand(*shape, dtype=torch.float32) * (hi - lo) + lo


# PyTorch's derivative at each kink, which the fixture pins (and this script
# asserts, so a PyTorch upgrade that changes one is noticed): 1.13's CPU
# kernels. hardswish is inconsistent there: its vectorised loop gives 1 at
# x = 3, its scalar tail loop (the last < 2 vector widths of a contiguous
# run, at most 32 floats) gives 3/2; kinks are planted away from the tail so
# the fixture holds what every element of a real activation map gets.
KINK_SLOPE = {
    "relu": {0.0: 0.0},
    "relu6": {0.0: 0.0, 6.0: 0.0},
    "hardswish": {-3.0: -0.5, 3.0: 1.0},
    "hardsigmoid": {-3.0: 0.0, 3.0: 0.0},
}
TAIL = 32


def with_kinks(x, kinks):
    """x with each kink value planted exactly at 4 random positions outside
    the last TAIL elements; returns (x, [(position, kink)])."""
    flat = x.clone().flatten()
    assert flat.numel() >= TAIL + 4 * len(kinks)
    pos = torch.randperm(flat.numel() - TAIL)[: 4 * len(kinks)].tolist()
    planted = [(p, kinks[i % len(kinks)]) for i, p in enumerate(pos)]
    for p, k in planted:
        flat[p] = k
    return flat.view_as(x), planted


def check_kinks(op, planted, r, grads, slopes=None):
    for p, k in planted:
        got = float(grads[0].flatten()[p]) / float(r.flatten()[p])
        want = (slopes or KINK_SLOPE[op])[k]
        assert abs(got - want) < 1e-5, (op, "PyTorch's slope at", k, "is", got, "not", want)


def call(m, *xs):
    return m(*xs)


def conv_cases(w):
    # (label, N C H W, OC, kernel, stride, padding (PH,PW), dilation, groups, bias)
    specs = [
        ("3x3 pad 1, bias", (2, 3, 7, 9), 4, 3, 1, 1, 1, 1, True),
        ("3x3 stride 2 pad 1", (2, 3, 11, 9), 5, 3, 2, 1, 1, 1, True),
        ("3x3 dilation 2 pad 2", (2, 3, 11, 13), 4, 3, 1, 2, 2, 1, True),
        ("groups 3 (6 -> 9 channels), 3x3 pad 1", (2, 6, 7, 9), 9, 3, 1, 1, 1, 3, True),
        ("groups 3, 1x5 stride 2x1 pad 0,2, no bias", (2, 6, 7, 11), 9, (1, 5), (2, 1), (0, 2), 1, 3, False),
        ("depthwise 3x3 stride 2 pad 1 (G=C=OC=5)", (2, 5, 9, 7), 5, 3, 2, 1, 1, 5, True),
        ("depthwise 5x5 dilation 2 pad 4, no bias", (2, 4, 13, 11), 4, 5, 1, 4, 2, 4, False),
        ("channel multiplier 2 (G=C=3, OC=6)", (2, 3, 7, 7), 6, 3, 1, 1, 1, 3, True),
        ("1x1 pointwise", (2, 7, 5, 3), 11, 1, 1, 0, 1, 1, True),
        ("3x3 no bias", (2, 3, 7, 5), 4, 3, 1, 1, 1, 1, False),
        ("7x7 stride 2 pad 3 (ResNet stem shape)", (2, 3, 15, 13), 4, 7, 2, 3, 1, 1, True),
    ]
    for label, shape, oc, k, s, p, d, g, bias in specs:
        m = nn.Conv2d(shape[1], oc, k, stride=s, padding=p, dilation=d, groups=g, bias=bias)
        kk = k if isinstance(k, tuple) else (k, k)
        attrs = [("kernel_size", kk), ("stride", s), ("padding", p), ("dilation", d), ("groups", g)]
        w.case("conv2d", label, attrs, [randn(*shape)], call, m)

    # Asymmetric padding (top, left, bottom, right): F.pad then an unpadded conv.
    for label, shape, oc, k, s, d, g, (t, l, b, r), bias in [
        ("asymmetric pad 1,2,0,3, stride 2, dilation 2", (2, 3, 11, 13), 5, 3, 2, 2, 1, (1, 2, 0, 3), True),
        ("asymmetric pad 0,0,1,1, 3x3 stride 2 (TF 'same')", (2, 4, 9, 7), 3, 3, 2, 1, 1, (0, 0, 1, 1), True),
        ("depthwise asymmetric pad 2,1,1,2, no bias", (2, 4, 7, 9), 4, 3, 1, 1, 4, (2, 1, 1, 2), False),
    ]:
        m = nn.Conv2d(shape[1], oc, k, stride=s, padding=0, dilation=d, groups=g, bias=bias)
        attrs = [("kernel_size", (k, k)), ("stride", s), ("padding", (t, l, b, r)),
                 ("dilation", d), ("groups", g)]
        w.case("conv2d", label, attrs, [randn(*shape)],
               lambda m_, x, pads=(l, r, t, b): m_(F.pad(x, pads)), m)


def with_statistics(m, affine):
    """m (a BatchNorm1d/2d) with random running statistics, and weight and bias if affine."""
    c = m.num_features
    with torch.no_grad():
        m.running_mean.copy_(randn(c, scale=0.5))
        m.running_var.copy_(uniform(0.25, 2.0, c))
        if affine:
            m.weight.copy_(uniform(-1.5, 1.5, c))
            m.bias.copy_(randn(c, scale=0.5))
    return m


def batchnorm_cases(w):
    for label, shape, eps, affine in [
        ("eps 1e-3 (MobileNetV3)", (2, 5, 7, 3), 1e-3, True),
        ("affine=False, eps 1e-5", (2, 3, 5, 5), 1e-5, False),
        ("eps 1e-5 default", (2, 4, 3, 5), 1e-5, True),
    ]:
        m = with_statistics(nn.BatchNorm2d(shape[1], eps=eps, affine=affine), affine)
        w.case("batchnorm2d", label, [("eps", eps)], [randn(*shape)], call, m)


def linear_cases(w):
    for label, n, fin, fout, bias in [("bias", 2, 17, 13, True), ("no bias", 3, 7, 5, False)]:
        w.case("linear", label, [], [randn(n, fin)], call, nn.Linear(fin, fout, bias=bias))


def activation_cases(w):
    shape = (2, 3, 5, 7)
    specs = [
        ("relu", nn.ReLU(), [0.0], (-3, 3)),
        ("relu6", nn.ReLU6(), [0.0, 6.0], (-2, 8)),
        ("hardswish", nn.Hardswish(), [-3.0, 3.0], (-5, 5)),
        ("hardsigmoid", nn.Hardsigmoid(), [-3.0, 3.0], (-5, 5)),
        ("sigmoid", nn.Sigmoid(), [0.0, -12.0, 12.0], (-6, 6)),
        ("silu", nn.SiLU(), [0.0, -12.0, 12.0], (-6, 6)),
    ]
    for op, m, kinks, (lo, hi) in specs:
        x, planted = with_kinks(uniform(lo, hi, *shape), kinks)
        what = "kinks" if op in KINK_SLOPE else "values"
        label = "%s %s planted, random in [%g, %g)" % (what, ",".join("%g" % k for k in kinks), lo, hi)
        r, grads = w.case(op, label, [], [x], call, m)
        if op in KINK_SLOPE:
            check_kinks(op, planted, r, grads)
    # Rank 2: activations follow linear layers too.
    w.case("silu", "rank 2 (3x11)", [], [uniform(-6, 6, 3, 11)], call, nn.SiLU())
    x, planted = with_kinks(uniform(-3, 3, 3, 29), [0.0])
    r, grads = w.case("relu", "rank 2 (3x29), kink 0 planted", [], [x], call, nn.ReLU())
    check_kinks("relu", planted, r, grads)


def slope_activation_cases(w):
    """leaky_relu and elu, whose kink at 0 takes the slope of the x <= 0 side
    (negative_slope, alpha), planted and asserted as the other kinks."""
    for op, key, value, m in [
        ("leaky_relu", "negative_slope", 0.01, nn.LeakyReLU()),
        ("leaky_relu", "negative_slope", 0.2, nn.LeakyReLU(0.2)),
        ("leaky_relu", "negative_slope", -0.5, nn.LeakyReLU(-0.5)),
        ("elu", "alpha", 1.0, nn.ELU()),
        ("elu", "alpha", 0.5, nn.ELU(0.5)),
    ]:
        slopes = {0.0: value}
        x, planted = with_kinks(uniform(-5, 5, 2, 3, 5, 7), [0.0])
        r, grads = w.case(op, "%s %g, kink 0 planted, random in [-5, 5)" % (key, value), [(key, value)],
                          [x], call, m)
        check_kinks(op, planted, r, grads, slopes)
    # Near 0, where exp(x) - 1 would lose digits: elu's values there must hold to rtol.
    w.case("elu", "alpha 1, small |x| (expm1 accuracy)", [("alpha", 1.0)], [uniform(-1e-3, 1e-3, 3, 41)],
           lambda m, x: F.elu(x), None)
    w.case("leaky_relu", "F.leaky_relu rank 2", [("negative_slope", 0.1)], [uniform(-3, 3, 3, 11)],
           lambda m, x: F.leaky_relu(x, 0.1), None)


def batchnorm1d_cases(w):
    for label, shape, eps, affine in [
        ("N x F (after a linear), eps 1e-5", (3, 7), 1e-5, True),
        ("N x F, affine=False, eps 1e-3", (4, 5), 1e-3, False),
        ("N x C x L, eps 1e-5", (2, 5, 3), 1e-5, True),
    ]:
        m = with_statistics(nn.BatchNorm1d(shape[1], eps=eps, affine=affine), affine)
        w.case("batchnorm1d", label, [("eps", eps)], [randn(*shape)], call, m)


def softmax_cases(w):
    """Along dim 1 of N x classes; logits near 800 test the subtracted maximum
    (exp(800) overflows even double), a 1000-class row the sums."""
    for op, m in (("softmax", nn.Softmax(dim=1)), ("log_softmax", nn.LogSoftmax(dim=1))):
        w.case(op, "3 x 11", [("axis", 1)], [randn(3, 11, scale=2)], call, m)
        w.case(op, "logits near 800 (stability)", [("axis", 1)], [uniform(790, 810, 2, 7)], call, m)
        w.case(op, "2 x 1000 (ImageNet head)", [("axis", 1)], [randn(2, 1000, scale=3)], call, m)
    w.case("log_softmax", "one class far behind (probability below float's range)", [("axis", 1)],
           [torch.tensor([[0.0, -150.0, 1.0, -3.0]])], call, nn.LogSoftmax(dim=1))


NAN = float("nan")


def nan_cases(w):
    """NaN inputs, as an all-NaN or corrupt image gives them: PyTorch's
    answer, NaN or not per element of the output and of every gradient, is
    the reference. NaN is planted outside the last TAIL elements, as the
    kinks are: PyTorch's vectorised loops and its scalar tail disagree on
    some NaN gradients (relu6: 0 and 1, hardswish and elu: NaN and 1); the
    fixture holds what every element of a real activation map gets."""
    acts = [("relu", nn.ReLU(), []), ("relu6", nn.ReLU6(), []), ("hardswish", nn.Hardswish(), []),
            ("hardsigmoid", nn.Hardsigmoid(), []), ("sigmoid", nn.Sigmoid(), []), ("silu", nn.SiLU(), []),
            ("leaky_relu", nn.LeakyReLU(0.1), [("negative_slope", 0.1)]),
            ("elu", nn.ELU(0.5), [("alpha", 0.5)])]
    for op, m, attrs in acts:
        x, _ = with_kinks(uniform(-5, 5, 2, 3, 5, 7), [NAN])
        w.case(op, "NaN at 4 places, random in [-5, 5)", attrs, [x], call, m)
    x, _ = with_kinks(randn(2, 3, 6, 7), [NAN])
    w.case("batchnorm2d", "NaN at 4 places", [("eps", 1e-5)], [x], call, with_statistics(nn.BatchNorm2d(3), True))
    bn1 = with_statistics(nn.BatchNorm1d(13), True)
    x = randn(3, 13)
    x[1, 4] = NAN
    w.case("batchnorm1d", "NaN at one place", [("eps", 1e-5)], [x], call, bn1)
    x = randn(3, 17)
    x[1, 5] = NAN
    w.case("linear", "NaN in one row", [], [x], call, nn.Linear(17, 5))
    x = randn(1, 17)
    x[0, 3] = NAN
    w.case("linear", "batch 1 (matrix-vector product), NaN at one place", [], [x], call, nn.Linear(17, 5))
    for op, m in (("softmax", nn.Softmax(dim=1)), ("log_softmax", nn.LogSoftmax(dim=1))):
        x = randn(3, 11)
        x[1, 7] = NAN
        w.case(op, "NaN in one row (that row is NaN)", [("axis", 1)], [x], call, m)
    # Each of conv2d's paths (conv2d.c picks one by shape; the last three where the CPU has AVX-512).
    for label, shape, oc, k, stride, pad, groups in [
        ("3x3 pad 1 (im2col), NaN at 4 pixels", (2, 3, 9, 7), 6, 3, 1, 1, 1),
        ("depthwise 3x3, NaN at 4 pixels", (2, 4, 9, 7), 4, 3, 1, 1, 4),
        ("1x1, NaN at 4 pixels", (2, 5, 7, 5), 6, 1, 1, 0, 1),
        ("3x3 16 -> 16 on 16x16 (Winograd), NaN at 4 pixels", (1, 16, 16, 16), 16, 3, 1, 1, 1),
        ("1x1 64 -> 16 (AVX-512 product), NaN at 4 pixels", (1, 64, 7, 7), 16, 1, 1, 0, 1),
        ("stem 3x3 stride 2, 3 -> 16 (direct kernel), NaN at 4 pixels", (1, 3, 15, 13), 16, 3, 2, 1, 1),
        ("groups 2 of 16 (direct kernel), NaN at 4 pixels", (1, 32, 9, 9), 32, 3, 1, 1, 2),
    ]:
        x, _ = with_kinks(randn(*shape), [NAN])
        m = nn.Conv2d(shape[1], oc, k, stride=stride, padding=pad, groups=groups)
        attrs = [("kernel_size", (k, k)), ("stride", stride), ("padding", pad), ("dilation", 1),
                 ("groups", groups)]
        w.case("conv2d", label, attrs, [x], call, m)
    x, _ = with_kinks(randn(2, 3, 11, 9), [NAN])
    w.case("maxpool2d", "3x3 stride 2 pad 1, NaN at 4 places", pool_attrs(3, 2, 1, False), [x], call,
           nn.MaxPool2d(3, 2, 1))
    w.case("avgpool2d", "3x3 stride 2 pad 1, NaN at 4 places", pool_attrs(3, 2, 1, False, True), [x], call,
           nn.AvgPool2d(3, 2, 1))
    w.case("adaptive_avgpool2d", "3x5 from 11x9, NaN at 4 places", [("output_size", (3, 5))], [x], call,
           nn.AdaptiveAvgPool2d((3, 5)))
    y, _ = with_kinks(randn(2, 3, 11, 9), [NAN])
    w.case("add", "NaN at 4 places in each", [], [x, y], lambda m, a, b: a + b)
    w.case("concat", "NaN at 4 places in each", [("axis", 1)], [x, y], lambda m, *xs: torch.cat(xs, 1))
    s = uniform(0, 1, 2, 3, 1, 1)
    s[1, 2] = NAN
    w.case("mul", "NaN in the scale and in x", [], [s, x], lambda m, a, b: a * b)
    w.case("flatten", "NaN at 4 places", [("start_dim", 1)], [x], call, nn.Flatten(1))
    w.case("identity", "NaN at 4 places", [], [x], call, nn.Identity())


def pool_attrs(k, s, p, ceil, cip=None):
    a = [("kernel_size", k), ("stride", s), ("padding", p), ("ceil_mode", int(ceil))]
    if cip is not None:
        a.append(("count_include_pad", int(cip)))
    return a


def pool_cases(w):
    for label, shape, k, s, p, ceil, x in [
        ("3x3 stride 2 pad 1 (ResNet stem)", (2, 3, 11, 9), 3, 2, 1, False, None),
        ("2x2 stride 2 (VGG), odd size", (2, 3, 9, 7), 2, 2, 0, False, None),
        ("3x3 stride 2 ceil_mode", (2, 2, 10, 7), 3, 2, 0, True, None),
        ("3x3 stride 3 pad 1 ceil_mode (last window dropped)", (2, 2, 5, 11), 3, 3, 1, True, None),
        ("3x3 stride 1 pad 1, ties (values in {-1,0,1})", (2, 2, 7, 9), 3, 1, 1, False, "ties"),
        ("2x2 stride 2 ceil_mode, ties (values in {0,1})", (2, 2, 7, 9), 2, 2, 0, True, "ties01"),
    ]:
        if x == "ties":
            x = torch.randint(-1, 2, shape).to(torch.float32)
        elif x == "ties01":
            x = torch.randint(0, 2, shape).to(torch.float32)
        else:
            x = randn(*shape)
        m = nn.MaxPool2d(k, stride=s, padding=p, ceil_mode=ceil)
        w.case("maxpool2d", label, pool_attrs(k, s, p, ceil), [x], call, m)

    for label, shape, k, s, p, ceil, cip in [
        ("3x3 stride 2 pad 1, count_include_pad", (2, 3, 11, 9), 3, 2, 1, False, True),
        ("3x3 stride 2 pad 1, exclude pad", (2, 3, 11, 9), 3, 2, 1, False, False),
        ("3x3 stride 2 pad 1 ceil_mode, count_include_pad", (2, 2, 10, 7), 3, 2, 1, True, True),
        ("3x3 stride 2 pad 1 ceil_mode, exclude pad", (2, 2, 10, 7), 3, 2, 1, True, False),
        ("3x3 stride 3 pad 1 ceil_mode (window dropped), incl pad", (2, 2, 5, 11), 3, 3, 1, True, True),
        ("2x2 stride 2 ceil_mode, odd size", (2, 3, 9, 7), 2, 2, 0, True, True),
    ]:
        m = nn.AvgPool2d(k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip)
        w.case("avgpool2d", label, pool_attrs(k, s, p, ceil, cip), [randn(*shape)], call, m)

    for label, shape, out in [
        ("global 1x1", (2, 3, 7, 7), 1),
        ("7x7 from 13x11 (uneven cells)", (2, 2, 13, 11), 7),
        ("7x7 from 5x3 (cells repeat)", (2, 2, 5, 3), 7),
        ("3x5 from 9x7", (2, 2, 9, 7), (3, 5)),
    ]:
        m = nn.AdaptiveAvgPool2d(out)
        w.case("adaptive_avgpool2d", label, [("output_size", out)], [randn(*shape)], call, m)


def structural_cases(w):
    w.case("add", "same shapes", [], [randn(2, 3, 5, 7), randn(2, 3, 5, 7)], lambda m, a, b: a + b)
    w.case("add", "rank 2", [], [randn(3, 11), randn(3, 11)], lambda m, a, b: torch.add(a, b))
    w.case("mul", "N x C x 1 x 1 scale first (SE)", [], [uniform(0, 1, 2, 5, 1, 1), randn(2, 5, 7, 3)],
           lambda m, s, x: s * x)
    w.case("mul", "N x C x 1 x 1 scale second", [], [randn(2, 5, 7, 3), uniform(0, 1, 2, 5, 1, 1)],
           lambda m, x, s: x * s)
    w.case("flatten", "start_dim 1", [("start_dim", 1)], [randn(2, 3, 5, 7)], call, nn.Flatten(1))
    w.case("flatten", "start_dim 1 after global pool", [("start_dim", 1)], [randn(2, 7, 1, 1)], call,
           nn.Flatten(1))
    w.case("identity", "", [], [randn(2, 3, 5, 7)], call, nn.Identity())
    w.case("concat", "three inputs, axis 1", [("axis", 1)],
           [randn(2, 3, 5, 7), randn(2, 4, 5, 7), randn(2, 1, 5, 7)], lambda m, *xs: torch.cat(xs, 1))
    w.case("concat", "two inputs, axis 1", [("axis", 1)], [randn(2, 2, 3, 3), randn(2, 5, 3, 3)],
           lambda m, *xs: torch.cat(xs, 1))


def shape_cases(w):
    """The shape and resampling ops of DenseNet, ShuffleNetV2, MnasNet and
    U-Net-style heads, each through the PyTorch call a model writes."""
    xs = [randn(2, 1 + i % 3, 3, 2) for i in range(25)]
    w.case("concat", "25 inputs (densenet121's widest)", [("axis", 1)], xs, lambda m, *v: torch.cat(v, 1))
    w.case("spatial_mean", "x.mean((2, 3))", [], [randn(2, 5, 7, 3)], lambda m, x: x.mean((2, 3)))
    w.case("spatial_mean", "torch.mean(x, dim=[-2, -1]) of 1x1", [], [randn(3, 4, 1, 1)],
           lambda m, x: torch.mean(x, dim=[-2, -1]))
    w.case("slice", "x[:, 2:6]", [("start", 2), ("end", 6)], [randn(2, 7, 3, 5)], lambda m, x: x[:, 2:6])
    w.case("slice", "second half of x.chunk(2, dim=1)", [("start", 4), ("end", 8)], [randn(2, 8, 3, 3)],
           lambda m, x: x.chunk(2, dim=1)[1])
    w.case("slice", "x[:, :4] of N x F", [("start", 0), ("end", 4)], [randn(3, 11)], lambda m, x: x[:, :4])
    shuffle = torchvision.models.shufflenetv2.channel_shuffle
    w.case("channel_shuffle", "torchvision channel_shuffle(x, 2)", [("groups", 2)], [randn(2, 6, 3, 5)],
           lambda m, x: shuffle(x, 2))
    w.case("channel_shuffle", "groups 3", [("groups", 3)], [randn(2, 12, 2, 3)], lambda m, x: shuffle(x, 3))
    # Nearest and bilinear through F.interpolate and nn.Upsample: sizes that do
    # not divide (the source index rounds), shrinking, and scale factors that are
    # not 1/in*out (the index uses 1/scale_factor unless it is recomputed).
    for label, shape, kw, attrs in [
        ("size 7x11 from 5x7", (2, 3, 5, 7), dict(size=(7, 11)), [("output_size", (7, 11))]),
        ("size 4x5 from 7x9 (shrinks)", (2, 2, 7, 9), dict(size=(4, 5)), [("output_size", (4, 5))]),
        ("scale_factor 2", (2, 3, 4, 5), dict(scale_factor=2), [("scale_factor", 2.0)]),
        ("scale_factor 1.7, 2.3", (2, 2, 5, 4), dict(scale_factor=(1.7, 2.3)), [("scale_factor", (1.7, 2.3))]),
        ("scale_factor 0.45 (shrinks)", (2, 2, 9, 11), dict(scale_factor=0.45), [("scale_factor", 0.45)]),
        ("scale_factor 1.7, recompute_scale_factor", (2, 2, 5, 7),
         dict(scale_factor=1.7, recompute_scale_factor=True),
         [("scale_factor", 1.7), ("recompute_scale_factor", 1)]),
    ]:
        w.case("upsample_nearest", "F.interpolate nearest, " + label, attrs, [randn(*shape)],
               lambda m, x, kw=kw: F.interpolate(x, mode="nearest", **kw))
        for ac in (False, True):
            w.case("upsample_bilinear", "F.interpolate bilinear, align_corners=%s, %s" % (ac, label),
                   attrs + [("align_corners", int(ac))], [randn(*shape)],
                   lambda m, x, kw=kw, ac=ac: F.interpolate(x, mode="bilinear", align_corners=ac, **kw))
    w.case("upsample_nearest", "nn.Upsample(scale_factor=2)", [("scale_factor", 2.0)], [randn(2, 3, 3, 4)],
           call, nn.Upsample(scale_factor=2))
    w.case("upsample_bilinear", "nn.UpsamplingBilinear2d(size=(6, 9)) (align_corners)",
           [("output_size", (6, 9)), ("align_corners", 1)], [randn(2, 3, 4, 4)], call,
           nn.UpsamplingBilinear2d(size=(6, 9)))


class LayerNormLast(nn.Module):
    """F.layer_norm over the last dimension with any of weight and bias
    absent (nn.LayerNorm has both or neither)."""

    def __init__(self, c, eps, weight, bias):
        super().__init__()
        self.c, self.eps = c, eps
        self.weight = nn.Parameter(randn(c, scale=0.5) + 1) if weight else None
        self.bias = nn.Parameter(randn(c, scale=0.5)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, (self.c,), self.weight, self.bias, self.eps)


def layer_norm_cases(w):
    """LayerNorm over the last dim (TRANSFORMERS.md 2.3): eps 1e-6 (ViT,
    ConvNeXt) and 1e-5 (Swin), ranks 1 to 4, random weight and bias (the
    init's 1 and 0 would hide a swapped gamma), a row far from zero (a
    one-pass float variance cancels there), ViT's width 768 and NaN."""
    beyond = "its float rows lose the deviations from 50 to cancellation"
    for label, shape, eps, x in [
        ("tokens 2x9x48, eps 1e-6 (ViT)", (2, 9, 48), 1e-6, None),
        ("rank 2 5x32, eps 1e-5 (Swin)", (5, 32), 1e-5, None),
        ("NHWC 2x3x4x16, eps 1e-6 (ConvNeXt LayerNorm2d)", (2, 3, 4, 16), 1e-6, None),
        ("rank 1 (24), eps 1e-5", (24,), 1e-5, None),
        ("width 768 (ViT-B), 2x3x768, eps 1e-6", (2, 3, 768), 1e-6, None),
        ("rows near 50 with spread 0.01 (cancellation), eps 1e-6", (3, 4, 40), 1e-6, "offset"),
        ("rows spread 1e-3, eps 1e-5 comparable to the variance", (4, 24), 1e-5, "small"),
    ]:
        if x == "offset":
            x = randn(*shape, scale=0.01) + 50
        elif x == "small":
            x = randn(*shape, scale=1e-3)
        else:
            x = randn(*shape, scale=2) + 0.5
        m = nn.LayerNorm(shape[-1], eps=eps)
        with torch.no_grad():
            m.weight.copy_(randn(shape[-1], scale=0.5) + 1)
            m.bias.copy_(randn(shape[-1], scale=0.5))
        w.case("layer_norm", "nn.LayerNorm, " + label, [("eps", eps)], [x], call, m,
               beyond_float32=beyond if "cancellation" in label else None)
    w.case("layer_norm", "elementwise_affine=False 3x4x20, eps 1e-5", [("eps", 1e-5)], [randn(3, 4, 20)], call,
           nn.LayerNorm(20, eps=1e-5, elementwise_affine=False))
    w.case("layer_norm", "F.layer_norm weight only, 3x17, eps 1e-6", [("eps", 1e-6)], [randn(3, 17)], call,
           LayerNormLast(17, 1e-6, True, False))
    w.case("layer_norm", "F.layer_norm bias only, 2x2x11, eps 1e-5", [("eps", 1e-5)], [randn(2, 2, 11)], call,
           LayerNormLast(11, 1e-5, False, True))
    x = randn(3, 13)
    x[1, 4] = NAN
    w.case("layer_norm", "NaN at one place (its row is NaN)", [("eps", 1e-5)], [x], call,
           LayerNormLast(13, 1e-5, True, True))


def gelu_cases(w):
    """GELU, exact (erf) and tanh: the ranks transformers use, the tails
    where 1 + erf(x / sqrt 2) cancels (x down to -20) and large |x|."""
    tails = torch.tensor([[-20.0, -12.0, -10.0, -8.0, -6.5, -5.5, -4.0, -3.0, -2.0, -1.5],
                          [-1.0, -0.75, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.0, 3.0],
                          [4.0, 5.5, 8.0, 12.0, 20.0, 100.0, -100.0, 1e4, -1e4, 3e4]])
    for op, m in (("gelu", nn.GELU()), ("gelu_tanh", nn.GELU(approximate="tanh"))):
        what = "erf" if op == "gelu" else "approximate='tanh'"
        w.case(op, "%s, random in [-6, 6), 2x3x5x7" % what, [], [uniform(-6, 6, 2, 3, 5, 7)], call, m)
        w.case(op, "%s, tokens 2x9x48" % what, [], [randn(2, 9, 48, scale=2)], call, m)
        w.case(op, "%s, rank 2 3x41 in [-12, 12)" % what, [], [uniform(-12, 12, 3, 41)], call, m)
        w.case(op, "%s, tails and large |x|" % what, [], [tails], call, m)
        x, _ = with_kinks(uniform(-5, 5, 2, 3, 5, 7), [NAN])
        w.case(op, "%s, NaN at 4 places" % what, [], [x], call, m)


def fpad_to_pads(p, rank):
    """F.pad's list (last dimension first) as the pad op's pads: (before,
    after) per dimension in dimension order, zeros for the unpadded ones."""
    pads = [0] * (2 * rank)
    for j in range(len(p) // 2):
        d = rank - 1 - j
        pads[2 * d], pads[2 * d + 1] = p[2 * j], p[2 * j + 1]
    return pads


def movement_cases(w):
    """The data-movement ops of ViT, Swin and ConvNeXt, through the PyTorch
    call a model writes: permute / transpose, reshape / view / flatten /
    unsqueeze (dim 0 scales with the batch: the shape attribute is for a
    batch of one), torch.roll, F.pad, strided slices and torch.cat on any
    axis >= 1. Every case has batch 2 (or more)."""
    for label, shape, perm, fn in [
        ("rank 6 Swin window partition x.permute(0, 1, 3, 2, 4, 5)", (2, 2, 3, 2, 3, 4), (0, 1, 3, 2, 4, 5),
         lambda m, x: x.permute(0, 1, 3, 2, 4, 5)),
        ("rank 5 ViT heads torch.permute(x, (0, 2, 3, 1, 4))", (2, 5, 3, 2, 4), (0, 2, 3, 1, 4),
         lambda m, x: torch.permute(x, (0, 2, 3, 1, 4))),
        ("rank 4 NCHW -> NHWC (ConvNeXt)", (2, 3, 4, 5), (0, 2, 3, 1), lambda m, x: x.permute(0, 2, 3, 1)),
        ("rank 3 x.transpose(1, 2) (k^T)", (2, 5, 7), (0, 2, 1), lambda m, x: x.transpose(1, 2)),
        ("rank 6 x.transpose(2, 5)", (2, 2, 3, 1, 2, 3), (0, 1, 5, 3, 4, 2), lambda m, x: x.transpose(2, 5)),
    ]:
        w.case("permute", label, [("perm", perm)], [randn(*shape)], fn)
    for label, shape, target, fn in [
        ("x.reshape(2, 3, 2, 5) of 2x6x5 (unflatten)", (2, 6, 5), (1, 3, 2, 5),
         lambda m, x: x.reshape(2, 3, 2, 5)),
        ("Swin x.view(B, 2, 2, 3, 2, C) of NHWC 2x4x6x3", (2, 4, 6, 3), (1, 2, 2, 3, 2, 3),
         lambda m, x: x.view(2, 2, 2, 3, 2, 3)),
        ("Swin windows x.reshape(-1, 2, 2, 3) (dim 0 becomes B*nW)", (2, 2, 3, 2, 2, 3), (6, 2, 2, 3),
         lambda m, x: x.reshape(-1, 2, 2, 3)),
        ("x.flatten(2) of 2x3x4x5 (ViT patch tokens)", (2, 3, 4, 5), (1, 3, 20), lambda m, x: x.flatten(2)),
        ("x.unsqueeze(1) of 3x4", (3, 4), (1, 1, 4), lambda m, x: x.unsqueeze(1)),
    ]:
        w.case("reshape", label, [("shape", target)], [randn(*shape)], fn)
    for label, shape, shifts, dims in [
        ("torch.roll(x, (-2, 7), (1, 2)) (negative, larger than the size)", (2, 5, 6, 3), (-2, 7), (1, 2)),
        ("Swin cyclic shift torch.roll(x, (-1, -1), (1, 2)) of NHWC", (2, 4, 4, 3), (-1, -1), (1, 2)),
        ("Swin reverse shift torch.roll(x, (1, 1), (1, 2))", (2, 4, 4, 3), (1, 1), (1, 2)),
        ("torch.roll(x, 10, 1) of 2x7x3", (2, 7, 3), (10,), (1,)),
        ("rank 6, torch.roll(x, (1, -1, 4), (1, 3, 4))", (2, 3, 2, 2, 3, 2), (1, -1, 4), (1, 3, 4)),
    ]:
        w.case("roll", label, [("shifts", shifts), ("dims", dims)], [randn(*shape)],
               lambda m, x, s=shifts, d=dims: torch.roll(x, s, d))
    for label, shape, p in [
        ("F.pad(x, (2, 1, 1, 2)) of 2x3x4x5", (2, 3, 4, 5), (2, 1, 1, 2)),
        ("Swin F.pad(x, (0, 0, 0, 1, 0, 3)) of NHWC 2x5x3x2", (2, 5, 3, 2), (0, 0, 0, 1, 0, 3)),
        ("F.pad(x, (0, 3, 2, 0)) of tokens 2x5x3", (2, 5, 3), (0, 3, 2, 0)),
        ("F.pad(x, (1, 1)) of 3x4", (3, 4), (1, 1)),
        ("rank 6, F.pad(x, (1, 0, 0, 0, 1, 1, 0, 2, 1, 0))", (2, 2, 1, 3, 2, 2), (1, 0, 0, 0, 1, 1, 0, 2, 1, 0)),
    ]:
        w.case("pad", label, [("pads", fpad_to_pads(p, len(shape)))], [randn(*shape)],
               lambda m, x, p=p: F.pad(x, p))
    for label, shape, axis, start, end, step in [
        ("x[:, :, 1:7:2] (axis 2, step 2)", (2, 3, 7, 5), 2, 1, 7, 2),
        ("x[..., 0:8:3] (axis 3, step 3)", (2, 3, 4, 8), 3, 0, 8, 3),
        ("Swin patch merging x[:, 1::2] of NHWC", (2, 6, 4, 3), 1, 1, 6, 2),
        ("ViT patch tokens x[:, 1:] (drop the class token)", (2, 10, 6), 1, 1, 10, 1),
        ("rank 6 x[:, :, :, :, :, 1:6:2]", (2, 2, 1, 3, 2, 6), 5, 1, 6, 2),
    ]:
        idx = tuple([slice(None)] * axis + [slice(start, end, step)])
        w.case("slice", label, [("axis", axis), ("start", start), ("end", end), ("step", step)], [randn(*shape)],
               lambda m, x, idx=idx: x[idx])
    cat = lambda ax: (lambda m, *xs: torch.cat(xs, ax))  # noqa: E731
    w.case("concat", "torch.cat(dim=2) of tokens 2x5x3, 2x5x4", [("axis", 2)], [randn(2, 5, 3), randn(2, 5, 4)],
           cat(2))
    w.case("concat", "Swin patch merging torch.cat(dim=-1) of four 2x3x4x2", [("axis", 3)],
           [randn(2, 3, 4, 2) for _ in range(4)], cat(-1))
    w.case("concat", "ViT class token torch.cat((cls, x), dim=1)", [("axis", 1)], [randn(2, 1, 6), randn(2, 9, 6)],
           cat(1))
    w.case("concat", "rank 2 torch.cat(dim=1)", [("axis", 1)], [randn(3, 2), randn(3, 5)], cat(1))
    w.case("concat", "rank 6 torch.cat(dim=4)", [("axis", 4)], [randn(2, 2, 1, 3, 2, 2), randn(2, 2, 1, 3, 3, 2)],
           cat(4))


class Const(nn.Module):
    """A model constant folded into add_const / mul_const: a buffer, never differentiated."""

    def __init__(self, value):
        super().__init__()
        self.register_buffer("value", value)


def attention_cases(w):
    """The transformer ops (TRANSFORMERS.md): nn.Linear on tokens (features
    last, any leading dims), torch.matmul of attention (q k^T * scale with
    trans_b, attn v) with equal leading dims, constants broadcast from the
    right (position embedding, relative position bias, Swin's shifted-window
    mask, ConvNeXt's layer scale, a scalar [1]), and softmax / log_softmax
    along the last dim of rank 3 to 5 (the axis stored as rank - 1)."""
    for label, shape, fout, bias in [("tokens 2x5x16 (ViT), bias", (2, 5, 16), 8, True),
                                     ("rank 4 2x3x4x6, no bias", (2, 3, 4, 6), 5, False),
                                     ("rank 5 2x2x3x2x7, bias", (2, 2, 3, 2, 7), 4, True)]:
        w.case("linear", "F.linear on " + label, [], [randn(*shape)], call, nn.Linear(shape[-1], fout, bias=bias))
    x = randn(2, 5, 16)
    x[1, 2, 3] = NAN
    w.case("linear", "F.linear on tokens, NaN in one token", [], [x], call, nn.Linear(16, 4))

    qkt = lambda alpha: (lambda m, q, k: torch.matmul(q, k.transpose(-2, -1)) * alpha)
    w.case("matmul", "q @ k.transpose(-2, -1) * 0.35, 2x3x5x8", [("trans_b", 1), ("alpha", 0.35)],
           [randn(2, 3, 5, 8), randn(2, 3, 6, 8)], qkt(0.35))
    w.case("matmul", "attn @ v, 2x3x5x6 by 2x3x6x8", [], [uniform(0, 1, 2, 3, 5, 6), randn(2, 3, 6, 8)],
           lambda m, a, b: torch.matmul(a, b))
    w.case("matmul", "rank 3 2x7x5 by 2x5x3", [], [randn(2, 7, 5), randn(2, 5, 3)], lambda m, a, b: a @ b)
    w.case("matmul", "Swin windows 2x2x3x4x8, q k^T * 8^-0.5 (rank 5)", [("trans_b", 1), ("alpha", 8 ** -0.5)],
           [randn(2, 2, 3, 4, 8), randn(2, 2, 3, 4, 8)], qkt(8 ** -0.5))
    w.case("matmul", "ViT-sized 1x2x197x64 q k^T * 0.125", [("trans_b", 1), ("alpha", 0.125)],
           [randn(1, 2, 197, 64), randn(1, 2, 197, 64)], qkt(0.125))
    q = randn(2, 2, 5, 4)
    q[1, 0, 2, 1] = NAN
    w.case("matmul", "NaN in q (its row of scores is NaN)", [("trans_b", 1)], [q, randn(2, 2, 5, 4)], qkt(1.0))

    mask = torch.zeros(1, 2, 1, 4, 4)
    mask[0, 1, 0, :2, 2:] = -100.0
    mask[0, 1, 0, 2:, :2] = -100.0
    for op, sym, cases in [
        ("add_const", "+", [("position embedding 1x5x8 on 2x5x8", (2, 5, 8), randn(1, 5, 8)),
                            ("relative position bias 1x3x4x4 on 2x3x4x4", (2, 3, 4, 4), randn(1, 3, 4, 4)),
                            ("Swin mask 1x2x1x4x4 (0 / -100) on 2x2x3x4x4", (2, 2, 3, 4, 4), mask),
                            ("scalar [1] on 2x3x5", (2, 3, 5), randn(1)),
                            ("per channel 3x1x1 on NCHW 2x3x4x5", (2, 3, 4, 5), randn(3, 1, 1))]),
        ("mul_const", "*", [("layer scale 3x1x1 on NCHW 2x3x4x5 (ConvNeXt)", (2, 3, 4, 5), randn(3, 1, 1)),
                            ("layer scale [5] on NHWC 2x3x4x5", (2, 3, 4, 5), randn(5)),
                            ("scalar [1] on 2x3x5x6 (attention scale)", (2, 3, 5, 6), torch.tensor([0.125])),
                            ("1x2x1x4x1 on 2x2x3x4x5 (rank 5)", (2, 2, 3, 4, 5), randn(1, 2, 1, 4, 1))]),
    ]:
        fn = (lambda m, x: x + m.value) if op == "add_const" else (lambda m, x: x * m.value)
        for label, shape, value in cases:
            w.case(op, "x %s const, %s" % (sym, label), [], [randn(*shape)], fn, Const(value))
        x = randn(2, 3, 4, 5)
        x[1, 2, 0, 3] = NAN
        w.case(op, "x %s const 3x1x1, NaN at one place" % sym, [], [x], fn, Const(randn(3, 1, 1)))

    for op, f in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
        last = lambda m, x, f=f: f(x, -1)
        w.case(op, "F.%s(x, -1) rank 4 2x3x5x7" % op, [("axis", 3)], [randn(2, 3, 5, 7, scale=2)], last)
        w.case(op, "F.%s(x, -1) rank 3 2x4x9" % op, [("axis", 2)], [randn(2, 4, 9, scale=2)], last)
        w.case(op, "F.%s(x, -1) rank 5 with a -100 mask" % op, [("axis", 4)],
               [randn(2, 2, 3, 4, 4, scale=2) + mask], last)
        w.case(op, "F.%s(x, -1) rows of 197 (ViT), 1x2x9x197" % op, [("axis", 3)],
               [randn(1, 2, 9, 197, scale=3)], last)
        x = randn(2, 3, 4, 6)
        x[1, 2, 1, 4] = NAN
        w.case(op, "F.%s(x, -1) rank 4, NaN in one row (that row is NaN)" % op, [("axis", 3)], [x], last)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: %s OUT.ccfx" % sys.argv[0])
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    w = Writer()
    conv_cases(w)
    batchnorm_cases(w)
    linear_cases(w)
    activation_cases(w)
    pool_cases(w)
    structural_cases(w)
    slope_activation_cases(w)
    batchnorm1d_cases(w)
    softmax_cases(w)
    nan_cases(w)
    shape_cases(w)
    layer_norm_cases(w)
    gelu_cases(w)
    movement_cases(w)
    attention_cases(w)
    w.write(sys.argv[1])


if __name__ == "__main__":
    main()
