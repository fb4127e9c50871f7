#!/usr/bin/python3
"""tests/gen_guided_fixtures.py — guided backpropagation and FullGrad references from PyTorch.

Usage: /usr/bin/python3 tests/gen_guided_fixtures.py tests/fixtures   (`make fixtures`;
       run from the repository root; needs python3-torch and python3-torchvision)

Writes into the directory:
  guided_net.ccm   tests/models/guided_net.py:build (its own seeded parameters) converted
                   by tools/cnncam-convert at 3 x 12 x 12, Grad-CAM layer 'hs'; it
                   carries metadata node.module
  guided.ccgf      tensors in tests/gen_gradcam_fixtures.py's CCGF format (tests/tensorfile.c):
    relu/x, relu/dout, relu/dx   pytorch-grad-cam's GuidedBackpropReLU backward (restated in
                                 tests/reference_cams.py) on x with zeros planted, dout
                                 with zeros and both signs: tests/test_guided.c
    net/input        1 x 3 x 12 x 12, seeded normal
    net/category     the explained class: the argmax of the logits, as the reference picks it
    net/guided       GuidedBackpropReLUModel(model)(input, category): d out[0, c] / d input
                     with every nn.ReLU module patched (not F.relu, torch.relu, ReLU6)
    net/input_grad   the same without patching
    net/layer_grad   d out[0, c] / d hs, Grad-CAM's layer gradient
    net/bias/K       d out[0, c] / d (output of FullGrad's K-th bias layer), in the
                     reference's order (guided_net.BIAS_LAYERS)
  read by tests/test_tape_pass.c.
Every net/ gradient is PyTorch's float32 result, the numbers users get; the script
checks it against the same computation in float64 within the C test's tolerance,
|got - want| <= 1e-5 * max|want| + 1e-4 * |want|, and that no activation's input lies
within 1e-5 of a kink (0 for the ReLUs, 0 and 6, -3 and 3) but for exact zeros of
clamped values, so float32 noise cannot flip a mask or a slope.
"""
import copy
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import guided_net  # noqa: E402
from cnncam_convert import cli  # noqa: E402
from gen_gradcam_fixtures import Writer  # noqa: E402
from reference_cams import GuidedFunction, bias_layers, guided_backprop, output_gradients  # noqa: E402

SEED = 20261203
SIZE = (3, 12, 12)
ATOL, RTOL = 1e-5, 1e-4      # tests/test_tape_pass.c's, ATOL relative to max |want|
KINK_MARGIN = 1e-5          # float32 noise on these O(1) values is about 1e-7


def relu_rule(w, gen):
    """The guided ReLU backward on kinks and signs: x and dout each hold exact zeros."""
    x = torch.randn(4, 7, 11, generator=gen)
    dout = torch.randn(4, 7, 11, generator=gen)
    x.view(-1)[::9] = 0.0
    x.view(-1)[4::13] = -0.0
    dout.view(-1)[2::7] = 0.0
    x.requires_grad_(True)
    y = GuidedFunction.apply(x, nn.ReLU())
    dx, = torch.autograd.grad(y, x, dout)
    w.f("relu/x", x.detach().numpy())
    w.f("relu/dout", dout.numpy())
    w.f("relu/dx", dx.numpy())


def convert(out_dir):
    with tempfile.TemporaryDirectory() as tmp:
        labels = os.path.join(tmp, "labels.txt")
        with open(labels, "w") as f:
            f.write("".join("class%d\n" % c for c in range(guided_net.CLASSES)))
        code, _ = cli.run(["--module", os.path.join(ROOT, "tests", "models", "guided_net.py") + ":build",
                           "--labels", labels, "--input-size", ",".join(map(str, SIZE)),
                           "--layer", guided_net.LAYER, "-o", os.path.join(out_dir, "guided_net.ccm")])
    assert code == 0, "cnncam-convert failed"


# Each activation's input and its kinks: modules by their input (pre-hook: act
# overwrites it in place), the F.relu and torch.relu calls by the module feeding them.
KINKS_IN = {"act": (0,), "act6": (0, 6), "hs": (-3, 3)}
KINKS_OUT = {"bn2": (0,), "conv4": (0,)}


def kink_margin(model, x):
    """The least nonzero distance of any activation input to one of its kinks.
    Inputs exactly at a kink are sums of clamped zeros (relu6 after pool(relu) +
    relu), exact in every implementation."""
    dist = []

    def record(t, kinks):
        d = torch.stack([(t - k).abs() for k in kinks]).min(0).values
        dist.append(float(d[d > 0].min()))
    hooks = [getattr(model, n).register_forward_pre_hook(lambda m, i, k=k: record(i[0], k))
             for n, k in KINKS_IN.items()]
    hooks += [getattr(model, n).register_forward_hook(lambda m, i, o, k=k: record(o, k))
              for n, k in KINKS_OUT.items()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return min(dist)


def gradients(model, x, category):
    """net/ gradients of model in its dtype: guided, input, layer, bias layers."""
    guided = torch.from_numpy(guided_backprop(model, x, category).transpose(2, 0, 1))   # C x H x W
    (layer,), input_grad = output_gradients(model, [model.hs], x, category)
    bias, _ = output_gradients(model, bias_layers(model)[1], x, category)
    return [("net/guided", guided), ("net/input_grad", input_grad), ("net/layer_grad", layer)] + \
        [("net/bias/%d" % k, g) for k, g in enumerate(bias)]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_guided_fixtures.py OUT_DIR")
    out_dir = sys.argv[1]
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    w = Writer()
    relu_rule(w, gen)
    convert(out_dir)

    model = guided_net.build()
    names, _ = bias_layers(model)
    assert names == guided_net.BIAS_LAYERS, names
    x = torch.randn(1, *SIZE, generator=gen)
    with torch.no_grad():
        category = int(np.argmax(model(x).numpy()))
    margin = kink_margin(model, x)
    assert margin > KINK_MARGIN, "an activation input lies %g from a kink: choose another SEED" % margin

    w.f("net/input", x.numpy())
    w.i32("net/category", [category])
    got = gradients(model, x, category)
    want = gradients(copy.deepcopy(model).double(), x.double(), category)
    worst = 0.0
    for (name, g32), (_, g64) in zip(got, want):
        tol = ATOL * float(g64.abs().max()) + RTOL * g64.abs()
        ratio = float(((g32.double() - g64).abs() / tol).max())
        assert ratio <= 1, (name, "float32 misses the tolerance", ratio)
        worst = max(worst, ratio)
        w.f(name, g32.numpy())
    assert not torch.equal(got[0][1], got[1][1]), "guided and plain input gradients agree: nothing was guided"
    path = os.path.join(out_dir, "guided.ccgf")
    w.write(path)
    print("%s: %d tensors, category %d, %d bias layers, activation inputs at least %.3g from a kink; PyTorch float32 "
          "uses at most %.2f of the tolerance" % (path, len(w.items), category, len(got) - 3, margin, worst))


if __name__ == "__main__":
    main()
