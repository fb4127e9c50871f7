#!/usr/bin/python3
"""tools/cnncam_convert/concrete_trace.py on the transformers of issue 16.

Models (random init, torch.manual_seed; the traps of ../shared/TRANSFORMERS.md avoided:
vit_b_16's zero-initialised head and convnext_tiny's 1e-6 layer scale are re-randomised):
torchvision vit_b_16, swin_t and convnext_tiny at 224 x 224; tests/models/vit_like.py at
64 x 64; tests/models/swin_like.py at 56 x 56 (the first stages need no padding) and
64 x 64 (every stage pads); with --full also the article's ViT-B/16 and Swin-B
configurations of those two files at 224 x 224.

For each, checked:
  * the trace takes no Python decision on tensor values (gm.value_dependent is empty)
    and leaves the model as it was (no attribute added);
  * max|graph - eager| == 0.0, bit for bit, on the trace input and on a fresh random
    input, before and after fold_constants + drop_noops. The graph runs the model's own
    ops in the model's order, and dropping an identity or folding a constant changes no
    arithmetic, so nothing but 0.0 is right. The eager reference runs with grad enabled,
    so nn.MultiheadAttention takes its unfused path, the one the graph records; against
    the fused eval fast path (torch._native_multi_head_attention, which may round
    differently; it gave 0.0 on this build) vit_b_16 is checked to 1e-5 * max(1, max|logit|);
  * after folding, no node that does not depend on the input is left, and after dropping
    no-ops none of the no-ops is left.
Also the tracer's switches on swin_t and vit_b_16 (run when no MODEL is named): with
unwrap=() torchvision's fx.wrap-ed functions stay single calls, fold_constants folds
_get_relative_position_bias and drop_noops drops stochastic_depth; with expand_mha=False
nn.MultiheadAttention stays a leaf module.
Prints the node counts (traced, folded, no-ops dropped) and the distinct node targets
left with their counts: the op inventory the engine must cover.

Usage: tests/test_concrete_trace.py [--full] [MODEL ...]
"""
import operator
import os
import sys
import tempfile
import time
from collections import Counter

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "models"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from tally import check, run  # noqa: E402
from cnncam_convert import concrete_trace as ct  # noqa: E402
import swin_like  # noqa: E402
import vit_like  # noqa: E402


def target_name(n, gm):
    """'Linear' for a module call, 'torch.roll' / 'F.softmax' / 'operator.add' for a
    function, 'Tensor.view' for a method, 'get_attr' for a constant or parameter."""
    if n.op == "call_module":
        return type(gm.get_submodule(n.target)).__name__
    if n.op == "call_method":
        return "Tensor." + n.target
    if n.op == "get_attr":
        return "get_attr"
    t = n.target
    name = getattr(t, "__name__", str(t))
    module = getattr(t, "__module__", None) or ""
    if t in vars(operator).values():
        return "operator." + name
    if module in ("torch.nn.functional", "torch._C._nn") or t is torch.nn.functional.linear:
        return "F." + name
    if module in ("torch", "torch.functional") or module.startswith("torch._C") or getattr(torch, name, None) is t:
        return "torch." + name
    return "%s.%s" % (module, name)


def max_diff(a, b):
    return (a - b).abs().max().item()


def tv_vit_b_16():
    m = torchvision.models.vit_b_16(weights=None)
    torch.nn.init.normal_(m.heads.head.weight, std=0.05)      # zero-initialised: blank logits
    torch.nn.init.normal_(m.heads.head.bias, std=0.05)
    return m


def tv_convnext_tiny():
    m = torchvision.models.convnext_tiny(weights=None)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("layer_scale"):                     # 1e-6: blocks nearly bypassed
                p.uniform_(0.1, 0.5)
    return m


# name -> (factory, input size, part of the default run)
MODELS = {
    "vit_b_16": (tv_vit_b_16, 224, True),
    "swin_t": (lambda: torchvision.models.swin_t(weights=None), 224, True),
    "convnext_tiny": (tv_convnext_tiny, 224, True),
    "vit_like": (vit_like.build, 64, True),
    "swin_like56": (swin_like.build, 56, True),
    "swin_like64": (swin_like.build, 64, True),
    "vit_like_base224": (vit_like.vit_base_patch16_224, 224, False),
    "swin_like_base224": (swin_like.swin_base_patch4_window7_224, 224, False),
}


def check_model(name, seed):
    factory, size, _ = MODELS[name]
    torch.manual_seed(seed)
    model = factory().eval()
    x1, x2 = torch.randn(1, 3, size, size), torch.randn(1, 3, size, size)
    with torch.enable_grad():
        e1, e2 = model(x1).detach(), model(x2).detach()
    attrs = set(vars(model))

    t0 = time.time()
    gm = ct.concrete_trace(model, x1)
    traced_s = time.time() - t0
    traced = len(gm.graph.nodes)
    check(f"{name}: traced at {size}x{size} in {traced_s:.1f}s, no Python decision on tensor values",
          not gm.value_dependent, "; ".join(gm.value_dependent[:5]))
    check(f"{name}: the model is left as it was (no attribute added)", set(vars(model)) == attrs,
          ", ".join(sorted(set(vars(model)) - attrs)))
    with torch.no_grad():
        d1, d2 = max_diff(gm(x1), e1), max_diff(gm(x2), e2)
    check(f"{name}: traced graph vs eager: max|d| {d1:.3g} (trace input), {d2:.3g} (fresh input), "
          f"max|logit| {e1.abs().max().item():.3g}", d1 == 0.0 and d2 == 0.0)

    ct.fold_constants(gm)
    folded = len(gm.graph.nodes)
    left = ct.independent_nodes(gm)
    check(f"{name}: no input-independent compute left after folding",
          not left, ", ".join(n.name for n in left[:8]))
    ct.drop_noops(gm)
    reduced = len(gm.graph.nodes)
    noops = ct.noop_nodes(gm)
    check(f"{name}: no eval no-op left after dropping them", not noops, ", ".join(n.name for n in noops[:8]))
    with torch.no_grad():
        r1, r2 = gm(x1), gm(x2)
    d1, d2 = max_diff(r1, e1), max_diff(r2, e2)
    check(f"{name}: nodes {traced} traced -> {folded} folded -> {reduced} without no-ops; reduced graph vs "
          f"eager: max|d| {d1:.3g} (trace input), {d2:.3g} (fresh input)", d1 == 0.0 and d2 == 0.0)
    if name == "vit_b_16":
        with torch.no_grad():
            fused = model(x2)                                     # eval + no_grad: the fast path
        d, tol = max_diff(r2, fused), 1e-5 * max(1.0, fused.abs().max().item())
        check(f"{name}: reduced graph vs the fused MHA fast path: max|d| {d:.3g} <= {tol:.3g}", d <= tol)

    inventory = Counter(target_name(n, gm) for n in gm.graph.nodes if n.op not in ("placeholder", "output"))
    print(f"     {name} ops left: " + ", ".join(f"{k} x{v}" for k, v in sorted(inventory.items())))


def check_variants(seed):
    """The tracer's switches: torchvision's fx.wrap-ed functions kept as calls (then folded
    or dropped by the passes), and nn.MultiheadAttention kept as a leaf module."""
    torch.manual_seed(seed)
    model = torchvision.models.swin_t(weights=None).eval()
    x1, x2 = torch.randn(1, 3, 224, 224), torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        e2 = model(x2)
    gm = ct.concrete_trace(model, x1, unwrap=())
    count = Counter(target_name(n, gm) for n in gm.graph.nodes)
    wrapped = {k: v for k, v in count.items() if k.startswith("torchvision.")}
    check(f"swin_t, fx.wrap-ed functions kept: {len(gm.graph.nodes)} nodes, "
          + ", ".join(f"{k.rsplit('.', 1)[1]} x{v}" for k, v in sorted(wrapped.items())),
          len(wrapped) == 4 and wrapped.get("torchvision.ops.stochastic_depth.stochastic_depth") == 24)
    ct.reduce(gm)
    left = sorted(k for k in Counter(target_name(n, gm) for n in gm.graph.nodes) if k.startswith("torchvision."))
    with torch.no_grad():
        d = max_diff(gm(x2), e2)
    check(f"swin_t, fx.wrap-ed functions kept: after the passes {len(gm.graph.nodes)} nodes, max|d| {d:.3g}, "
          f"left: {', '.join(k.rsplit('.', 1)[1] for k in left)}",
          d == 0.0 and left == ["torchvision.models.swin_transformer._patch_merging_pad",
                                "torchvision.models.swin_transformer.shifted_window_attention"])

    model = tv_vit_b_16().eval()
    with torch.no_grad():
        e2 = model(x2)
    gm = ct.concrete_trace(model, x1, expand_mha=False)
    ct.reduce(gm)
    count = Counter(target_name(n, gm) for n in gm.graph.nodes)
    with torch.no_grad():
        d = max_diff(gm(x2), e2)
    check(f"vit_b_16, nn.MultiheadAttention a leaf: {len(gm.graph.nodes)} nodes after the passes, "
          f"MultiheadAttention x{count['MultiheadAttention']}, max|d| {d:.3g}",
          count["MultiheadAttention"] == 12 and d == 0.0)


class _ValueBranch(torch.nn.Module):
    """Branches on a tensor's value and reads one with .item(): both must be reported."""

    def forward(self, x):
        y = x * 2 if x.mean() > 0 else x - 1
        return y + x.max().item()


def check_value_dependent():
    x = torch.ones(1, 3, 4, 4)
    gm = ct.concrete_trace(_ValueBranch(), x)
    check(f"a Python decision on tensor values is reported: {'; '.join(gm.value_dependent)}",
          len(gm.value_dependent) == 2)


def main(argv):
    full = "--full" in argv
    names = [a for a in argv if not a.startswith("--")]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit("unknown model %s (known: %s)" % (", ".join(unknown), ", ".join(MODELS)))
    variants = not names
    names = names or [n for n, (_, _, default) in MODELS.items() if default or full]
    torch.set_num_threads(1)
    workdir = tempfile.mkdtemp(prefix="cnncam-ctrace-")

    def body():
        for i, name in enumerate(names):
            check_model(name, seed=7 + i)
        if variants:
            check_variants(seed=3)
            check_value_dependent()

    return run("concrete_trace", body, workdir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
