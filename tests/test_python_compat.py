#!/usr/bin/python3
"""tests/test_python_compat.py — cnncam.compat, the pytorch-grad-cam drop-in,
against tests/reference_classes.py (the library's classes over the PyTorch
restatement tests/reference_cams.py).

One pytorch-grad-cam-style script (`script`, written once, taking the names
it imported) runs twice on each of two article models (torchvision's
resnet34 and mobilenet_v3_large, random weights with batchnorm calibrated on
photos, seed 7: what `cnncam-convert --random-init --seed 7` converts) and
the photo assets/images/chelsea.png at 160 x 120: once with the restatement's
classes, once with `cnncam.compat`'s. Every map must agree within the CAM
issue's tolerance, max|d| <= 1e-3 (GradCAM, GradCAMPlusPlus, ScoreCAM,
AblationCAM, EigenCAM and the other methods; the top class, aug_smooth,
eigen_smooth, a softmax target, two targets of different kinds in one
batch); guided backpropagation's gradient max|d| / max|ref| <= 1e-4, and the
deprocess_image pictures +-1 (they truncate to uint8). EigenCAM and
eigen_smooth use LAPACK's sign on both sides, cnncam.compat's default.

Then the drop-in's own promises:
  * the module is converted once: every CAM object and call of a script
    reuses it; a change of the weights (in place, no_grad) converts again and
    the map follows; load_state_dict back to the old weights reuses the old
    conversion; a new process (the in-memory cache emptied) reads the disk
    cache ($XDG_CACHE_HOME/cnncam; here a temporary directory), which holds
    no half-written file;
  * a target layer that is not in the model, an empty target list, the
    model itself: ValueError; a reshape_transform that is not how cnncam reads
    the layer, a non-classifier target, a model the converter refuses,
    ShapleyCAM: an exception saying what and why; the wrong number of
    targets: ValueError;
  * a ViT (tests/models/vit_like.py) with pytorch-grad-cam's tutorial
    reshape_transform: GradCAM, GradCAMPlusPlus and EigenCAM maps as the
    restatement's with the same transform (1e-3);
  * constructor and call options (AblationCAM's batch_size and
    ratio_channels_to_ablate, KPCA_CAM's kernel and gamma, FinerCAM's alpha
    and given targets, cnncam's own eigen sign, a ReST target) agree with the
    restatement (on the last model); RandomCAM follows np.random.seed;
  * input tensors reach cnncam without a copy when float32 and contiguous;
    non-contiguous and float64 tensors give the same maps; cam.outputs holds
    the model's outputs;
  * show_cam_on_image, preprocess_image, deprocess_image and scale_cam_image
    equal the reference's formulas (OpenCV, torchvision and numpy calls of
    tests/reference_gradcam.py and reference_classes.py), bit for bit; the
    colour table equals cv2.applyColorMap's JET; scale_cam_image's fallback
    without OpenCV stays within 1e-6 of cv2.resize.

Prints one line per check, then "python compat: N passed, N failed".
Usage: tests/test_python_compat.py [--threads N] [--models resnet34,mobilenet_v3_large]
"""
import os
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = tempfile.mkdtemp(prefix="cnncam-test-compat.")
os.environ["XDG_CACHE_HOME"] = WORK          # the drop-in's disk cache goes here, not to ~/.cache
for p in (os.path.join(ROOT, "python"), os.path.join(ROOT, "tools"), HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import reference_classes  # noqa: E402
from cnncam_convert import models as cc_models  # noqa: E402
from tally import check, run  # noqa: E402
from test_gradcam import rel_err as rel  # noqa: E402  max|got - want| / max|want|

PHOTO = os.path.join(ROOT, "assets", "images", "chelsea.png")
SIZE = (160, 120)     # W x H, as tests/test_methods.py
MODELS = {"resnet34": lambda m: [m.layer4], "mobilenet_v3_large": lambda m: [m.features[-1]]}
TOL_MAP, TOL_REL = 1e-3, 1e-4
TIE = 1e-5
METHODS = ["GradCAM", "GradCAMPlusPlus", "ScoreCAM", "AblationCAM", "EigenCAM", "HiResCAM", "GradCAMElementWise",
           "XGradCAM", "LayerCAM", "EigenGradCAM", "SegEigenCAM", "KPCA_CAM", "FEM", "FullGrad"]


# ---- the two imports ------------------------------------------------------------------------

def import_reference():
    """What `from pytorch_grad_cam import ...` gives, restated."""
    R = reference_classes
    names = {n: getattr(R, n) for n in R.__all__ if n not in ("model_targets", "image")}
    names.update(vars(R.model_targets))
    names.update(vars(R.image))
    return types.SimpleNamespace(**names)


def import_compat():
    """The same names from cnncam.compat: only these import lines change."""
    from cnncam.compat import (AblationCAM, EigenCAM, EigenGradCAM, FEM, FinerCAM, FullGrad, GradCAM,
                               GradCAMElementWise, GradCAMPlusPlus, GuidedBackpropReLUModel, HiResCAM, KPCA_CAM,
                               LayerCAM, RandomCAM, ScoreCAM, SegEigenCAM, XGradCAM)
    from cnncam.compat.utils.model_targets import (BinaryClassifierOutputTarget, ClassifierOutputReST,
                                                   ClassifierOutputSoftmaxTarget, ClassifierOutputTarget)
    from cnncam.compat.utils.image import deprocess_image, preprocess_image, scale_cam_image, show_cam_on_image
    return types.SimpleNamespace(**locals())


# ---- the script -----------------------------------------------------------------------------

def script(api, model, target_layers, rgb, category, mean, std, times):
    """A pytorch-grad-cam user's script (the library's README usage), written
    once for the names `api` holds. rgb: float32 H x W x 3 in [0, 1]."""
    input_tensor = api.preprocess_image(rgb, mean=mean, std=std)
    targets = [api.ClassifierOutputTarget(category)]
    out = {}

    def timed(key, fn):
        t = time.perf_counter()
        out[key] = fn()
        times[key] = time.perf_counter() - t

    for name in METHODS:
        with getattr(api, name)(model=model, target_layers=target_layers) as cam:
            if name == "ScoreCAM":
                cam.batch_size = 32          # as the library's cam.py
            timed(name, lambda: cam(input_tensor=input_tensor, targets=targets))
    with api.GradCAM(model=model, target_layers=target_layers) as cam:
        timed("GradCAM again", lambda: cam(input_tensor=input_tensor, targets=targets))
        timed("GradCAM top class", lambda: cam(input_tensor=input_tensor, targets=None))
        timed("GradCAM aug_smooth", lambda: cam(input_tensor=input_tensor, targets=targets, aug_smooth=True))
        timed("GradCAM eigen_smooth", lambda: cam(input_tensor=input_tensor, targets=targets, eigen_smooth=True))
        two = torch.cat([input_tensor, input_tensor.flip(3)])
        timed("GradCAM two images, logit and softmax targets",
              lambda: cam(input_tensor=two, targets=[api.ClassifierOutputTarget(category),
                                                      api.ClassifierOutputSoftmaxTarget(281)]))
    with api.GradCAMPlusPlus(model=model, target_layers=target_layers) as cam:
        timed("GradCAMPlusPlus softmax target",
              lambda: cam(input_tensor=input_tensor, targets=[api.ClassifierOutputSoftmaxTarget(category)]))
    timed("FinerCAM", lambda: api.FinerCAM(model=model, target_layers=target_layers)(input_tensor=input_tensor))
    grayscale_cam = out["GradCAM"][0, :]
    out["visualization"] = api.show_cam_on_image(rgb, grayscale_cam, use_rgb=True)
    gb_model = api.GuidedBackpropReLUModel(model=model, device=None)
    timed("guided backprop", lambda: gb_model(input_tensor, target_category=category))
    gb = out["guided backprop"]
    out["gb picture"] = api.deprocess_image(gb)
    out["cam_gb picture"] = api.deprocess_image(cv2.merge([grayscale_cam, grayscale_cam, grayscale_cam]) * gb)
    return out


# ---- comparing --------------------------------------------------------------------------------

def photo():
    return np.float32(Image.open(PHOTO).convert("RGB").resize(SIZE, Image.BILINEAR)) / 255




def max_abs(got, want):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return float("inf")
    return float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max())


def compare(label, got, want, t_ours, t_ref, results):
    times = f"cnncam {t_ours * 1e3:.0f} ms, restatement {t_ref * 1e3:.0f} ms" if t_ours is not None else ""
    if got.dtype == np.uint8:
        d = max_abs(got, want)
        return check(f"{label}: max|d| {d:g} of 255 ({int((np.abs(got.astype(int) - want.astype(int)) > 0).sum())} "
                     f"values differ)", d <= 1)
    if got.ndim == 3 and got.shape[-1] == 3 and label.endswith("guided backprop"):
        e = rel(got, want)
        return check(f"{label}: gradient {e:.2g} (rel; {times})", e <= TOL_REL)
    d = max_abs(got, want)
    results[label] = d
    return check(f"{label}: map max|d| {d:.2g}, shape {got.shape} {got.dtype} ({times})",
                 d <= TOL_MAP and got.dtype == np.float32 and got.shape == want.shape)


def check_overlay(label, got, want):
    """show_cam_on_image of the two GradCAM maps: +-1 per channel, except where
    the maps (~1e-6 apart) fall on the two sides of a trunc(255 m) step of
    the colour table (tests/test_gradcam.py's rule); those pixels must be few."""
    d = np.abs(got["visualization"].astype(int) - want["visualization"].astype(int)).max(axis=2)
    m_got, m_want = got["GradCAM"][0], want["GradCAM"][0]
    step = np.uint8(255 * m_got) != np.uint8(255 * m_want)
    return check(f"{label}: max|d| {d.max()} of 255; {int(step.sum())} pixels on a colour-table step, elsewhere "
                 f"max|d| {int(d[~step].max())}", d[~step].max() <= 1 and step.sum() <= 0.001 * step.size)


def check_model(arch, ref_api, compat_api, results):
    from cnncam.compat import _cache
    t = time.perf_counter()
    model = cc_models.random_model(arch, 7)
    print(f"     {arch}: random weights, batchnorm calibrated ({time.perf_counter() - t:.1f} s)")
    layers = MODELS[arch](model)
    rgb = photo()
    mean, std = cc_models.IMAGENET_MEAN, cc_models.IMAGENET_STD
    x = reference_classes.preprocess_image(rgb, mean, std)
    with torch.no_grad():
        z = model(x)[0].numpy()
    order = np.argsort(-z, kind="stable")
    category, gap = int(order[0]), float(z[order[0]] - z[order[1]])
    tied = gap < TIE
    conversions = _cache.stats["conversions"]
    t_ref, t_ours = {}, {}
    want = script(ref_api, model, layers, rgb, category, mean, std, t_ref)
    got = script(compat_api, model, layers, rgb, category, mean, std, t_ours)
    check(f"{arch}: the script converted the model once for its {len(t_ours)} CAM calls "
          f"({_cache.stats['conversions'] - conversions} conversion, first call {t_ours[METHODS[0]]:.2f} s)",
          _cache.stats["conversions"] - conversions == 1)
    for key in want:
        if key == "GradCAM top class" and tied:
            print(f"     {arch}: the best two logits are {gap:.2g} apart: the top-class case is not compared")
        elif key == "visualization":
            check_overlay(f"{arch} {key}", got, want)
        else:
            compare(f"{arch} {key}", got[key], want[key], t_ours.get(key), t_ref.get(key), results)
    return model, layers, x, category


def check_conversion_cache(model, layers, x, category, compat_api, ref_api):
    """Once per weights: changed weights convert again, old weights come back
    from memory, a new process reads the disk."""
    from cnncam.compat import _cache
    C, R = compat_api, ref_api
    cam = C.GradCAM(model=model, target_layers=layers)
    before = dict(_cache.stats)
    first = cam(input_tensor=x, targets=[C.ClassifierOutputTarget(category)])
    check("a second CAM object on the same model converts nothing", _cache.stats["conversions"] ==
          before["conversions"] and _cache.stats["hashes"] == before["hashes"])
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(1)
    head = [p for n, p in model.named_parameters() if p.ndim == 2][-1]     # the last linear layer
    with torch.no_grad():
        head.add_(torch.randn(head.shape, generator=gen) * float(head.std()))
    changed = cam(input_tensor=x, targets=[C.ClassifierOutputTarget(category)])
    want = R.GradCAM(model=model, target_layers=layers)(input_tensor=x, targets=[R.ClassifierOutputTarget(category)])
    d_new, d_old = max_abs(changed, want), max_abs(changed, first)
    check(f"weights changed in place: converted again ({_cache.stats['conversions'] - before['conversions']}), "
          f"the map follows the new weights (max|d| {d_new:.2g} to the restatement, {d_old:.2g} to the old map)",
          _cache.stats["conversions"] == before["conversions"] + 1 and d_new <= TOL_MAP and d_old > 10 * TOL_MAP)
    model.load_state_dict(saved)
    n = _cache.stats["conversions"]
    back = cam(input_tensor=x, targets=[C.ClassifierOutputTarget(category)])
    check(f"load_state_dict of the old weights: no conversion, the old map (max|d| {max_abs(back, first):.2g})",
          _cache.stats["conversions"] == n and max_abs(back, first) == 0)
    _cache._loaded.clear()            # what a new process starts with
    _cache._known.clear()
    hits = _cache.stats["disk_hits"]
    again = C.GradCAM(model=model, target_layers=layers)(input_tensor=x, targets=[C.ClassifierOutputTarget(category)])
    check(f"a new process reads the disk cache: no conversion, the same map (max|d| {max_abs(again, first):.2g})",
          _cache.stats["conversions"] == n and _cache.stats["disk_hits"] == hits + 1 and max_abs(again, first) == 0)
    d = _cache.cache_dir()
    files = sorted(os.listdir(d))
    check(f"the disk cache {d} holds whole .ccm files only ({len(files)} files, none temporary)",
          files and all(f.endswith(".ccm") and not f.startswith(".") for f in files), ", ".join(files))
    check("the disk cache is under $XDG_CACHE_HOME/cnncam", d == os.path.join(WORK, "cnncam"))


def check_inputs(model, layers, x, category, compat_api):
    from cnncam.compat import _cache
    C = compat_api
    a = _cache.as_batch(x)
    check("a float32 contiguous tensor reaches cnncam without a copy", np.shares_memory(a, x.numpy()))
    cam = C.GradCAM(model=model, target_layers=layers)
    t = [C.ClassifierOutputTarget(category)]
    base = cam(input_tensor=x, targets=t)
    with torch.no_grad():
        z = model(x).numpy()
    e = rel(cam.outputs.numpy(), z) if isinstance(cam.outputs, torch.Tensor) else float("inf")
    check(f"cam.outputs holds the model's outputs, as the reference's README reads them ({e:.2g} rel)", e <= TOL_REL)
    strided = x.permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2)
    check("a non-contiguous tensor gives the same map", not strided.is_contiguous() and
          max_abs(cam(input_tensor=strided, targets=t), base) == 0)
    check("a float64 tensor gives the same map", max_abs(cam(input_tensor=x.double(), targets=t), base) == 0)
    check("a tensor that requires grad gives the same map",
          max_abs(cam(input_tensor=x.clone().requires_grad_(True), targets=t), base) == 0)


def expect(label, fn, kinds, needles):
    try:
        fn()
    except kinds as e:
        msg = str(e)
        return check(f"{label}: {type(e).__name__}: {' '.join(msg.split())[:150]}", all(n in msg for n in needles),
                     msg)
    except Exception as e:
        return check(f"{label}: {type(e).__name__}", False, f"{type(e).__name__}: {e}")
    return check(f"{label}: raises", False, "nothing raised")


def check_refusals(model, layers, x, category, compat_api):
    import cnncam.compat as compat
    from cnncam.compat.utils import model_targets
    C = compat_api
    t = [C.ClassifierOutputTarget(category)]
    expect("a target layer that is not in the model", lambda: C.GradCAM(model=model, target_layers=[
        torch.nn.Conv2d(3, 3, 3)]), ValueError, ["not a module of the model"])
    expect("an empty target layer list", lambda: C.GradCAM(model=model, target_layers=[]), ValueError, ["empty"])
    expect("the model itself as target layer", lambda: C.GradCAM(model=model, target_layers=[model]), ValueError,
           ["model itself"])
    expect("a reshape_transform that is not the layer's reading", lambda: C.GradCAM(
        model=model, target_layers=layers, reshape_transform=lambda a: a.transpose(2, 3))(input_tensor=x, targets=t),
        NotImplementedError, ["reshape_transform turns layer", "not how cnncam reads it"])
    cam = C.ScoreCAM(model=model, target_layers=layers)
    expect("a segmentation target", lambda: cam(input_tensor=x, targets=[
        model_targets.SemanticSegmentationTarget(1, np.ones((4, 4), np.float32))]), NotImplementedError,
        ["SemanticSegmentationTarget", "classifiers"])
    expect("a Python function as target", lambda: C.GradCAM(model=model, target_layers=layers)(
        input_tensor=x, targets=[lambda out: out[3]]), NotImplementedError, ["not supported"])
    expect("two targets for one image", lambda: C.GradCAM(model=model, target_layers=layers)(
        input_tensor=x, targets=t * 2), ValueError, ["2 targets for a batch of 1"])
    expect("a class index out of range (cnncam's message)", lambda: C.GradCAM(model=model, target_layers=layers)(
        input_tensor=x, targets=[C.ClassifierOutputTarget(5000)]), ValueError, ["5000"])
    expect("ShapleyCAM", lambda: compat.ShapleyCAM(model=model, target_layers=layers), NotImplementedError,
           ["docs/METHODS.md"])
    expect("FullGrad with eigen_smooth", lambda: C.FullGrad(model=model, target_layers=[])(
        input_tensor=x, targets=t, eigen_smooth=True), NotImplementedError, ["eigen_smooth"])
    expect("FEM with k=3", lambda: C.FEM(model=model, target_layers=layers, k=3)(input_tensor=x, targets=t),
           NotImplementedError, ["k=3"])
    tanh_net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Tanh(), torch.nn.AdaptiveAvgPool2d(1),
                                   torch.nn.Flatten(), torch.nn.Linear(4, 10))
    expect("a model the converter refuses (Tanh)", lambda: C.GradCAM(model=tanh_net, target_layers=[tanh_net[0]])(
        input_tensor=x, targets=None), NotImplementedError, ["cannot convert", "Tanh"])
    small = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(4, 10))
    m = C.GradCAM(model=small, target_layers=[small[1]])(input_tensor=x, targets=None)
    from cnncam.compat import _cache
    labels = _cache._loaded[_cache._known[small][1]].classes
    check(f"a 10-class model without labels converts with labels 0..9 (map {m.shape})",
          labels == [str(i) for i in range(10)] and m.shape == (1,) + tuple(x.shape[2:]))


def vit_tokens(t, side=8):
    """pytorch-grad-cam's ViT tutorial transform: drop the class token, fold the
    patches into the grid, channels first."""
    return t[:, 1:, :].reshape(t.size(0), side, side, t.size(2)).transpose(2, 3).transpose(1, 2)


def check_transformer(compat_api, ref_api):
    """A ViT (tests/models/vit_like.py's small one) with the tutorial's
    reshape_transform: maps as the restatement's with the same transform; a
    transform that keeps the class token is refused, naming the reading."""
    sys.path.insert(0, os.path.join(HERE, "models"))
    import vit_like
    torch.manual_seed(3)
    model = vit_like.build().eval()
    vit_like.randomise(model)
    x = torch.randn(1, 3, 64, 64)
    for name in ("GradCAM", "GradCAMPlusPlus", "EigenCAM"):
        got = getattr(compat_api, name)(model=model, target_layers=[model.blocks[-1].norm1],
                                        reshape_transform=vit_tokens)(input_tensor=x, targets=None)
        want = getattr(ref_api, name)(model=model, target_layers=[model.blocks[-1].norm1],
                                      reshape_transform=vit_tokens)(input_tensor=x, targets=None)
        d = max_abs(got, want)
        check(f"ViT {name} with the tutorial's reshape_transform: map max|d| {d:.2g}", d <= TOL_MAP)
    expect("a ViT reshape_transform that keeps the class token", lambda: compat_api.GradCAM(
        model=model, target_layers=[model.blocks[-1].norm1],
        reshape_transform=lambda t: t.reshape(t.size(0), 5, 13, t.size(2)).permute(0, 3, 1, 2))(input_tensor=x),
        NotImplementedError, ["drop 1 prefix token(s), fold the rest into 8x8"])


def max_abs_sign(proj, M, vt0):
    """cnncam's default sign of a principal component (tests/test_methods.py's
    rule): its entry of largest magnitude positive."""
    flat = np.asarray(proj).ravel()
    return 1 if flat[int(np.argmax(np.abs(flat)))] >= 0 else -1


def check_variants(model, layers, x, category, compat_api, ref_api):
    """The constructors' and calls' options, as the reference spells them."""
    C, R = compat_api, ref_api
    t_c, t_r = [C.ClassifierOutputTarget(category)], [R.ClassifierOutputTarget(category)]
    cases = [
        # One copy per chunk: a copy's ablated value (chunk min - 1e7 j) then does
        # not depend on the channel order, which float noise may swap where two
        # scores are 1e-7 apart (it did: 0.12 on mobilenet_v3_large).
        ("AblationCAM(batch_size=1, ratio_channels_to_ablate=0.1)",
         lambda: C.AblationCAM(model=model, target_layers=layers, batch_size=1, ratio_channels_to_ablate=0.1)(
             input_tensor=x, targets=t_c),
         lambda: R.AblationCAM(model=model, target_layers=layers, batch_size=1, ratio_channels_to_ablate=0.1,
                               ablation_sort="stable")(input_tensor=x, targets=t_r)),
        ("KPCA_CAM(kernel='poly', gamma=0.01)",
         lambda: C.KPCA_CAM(model=model, target_layers=layers, kernel="poly", gamma=0.01)(input_tensor=x, targets=t_c),
         lambda: R.KPCA_CAM(model=model, target_layers=layers, kernel="poly", gamma=0.01)(input_tensor=x, targets=t_r)),
        ("FinerCAM alpha=2",
         lambda: C.FinerCAM(model=model, target_layers=layers)(input_tensor=x, alpha=2),
         lambda: R.FinerCAM(model=model, target_layers=layers)(input_tensor=x, alpha=2)),
        ("FinerCAM with a ClassifierOutputTarget (the base GradCAM's map)",
         lambda: C.FinerCAM(model=model, target_layers=layers)(input_tensor=x, targets=t_c),
         lambda: R.FinerCAM(model=model, target_layers=layers)(input_tensor=x, targets=t_r)),
        ("EigenCAM(eigen_sign='default'), cnncam's sign rule",
         lambda: C.EigenCAM(model=model, target_layers=layers, eigen_sign="default")(input_tensor=x, targets=None),
         lambda: R.EigenCAM(model=model, target_layers=layers, eigen_sign=max_abs_sign)(input_tensor=x, targets=None)),
        ("ScoreCAM, ClassifierOutputReST target",
         lambda: C.ScoreCAM(model=model, target_layers=layers)(input_tensor=x, targets=[C.ClassifierOutputReST(category)]),
         lambda: R.ScoreCAM(model=model, target_layers=layers)(input_tensor=x, targets=[R.ClassifierOutputReST(category)])),
    ]
    for label, ours, theirs in cases:
        got, want = ours(), theirs()
        d = max_abs(got, want)
        check(f"{label}: map max|d| {d:.2g}", d <= TOL_MAP)
    cam = C.RandomCAM(model=model, target_layers=layers)
    np.random.seed(5)
    a = cam(input_tensor=x, targets=None)
    np.random.seed(5)
    b = cam(input_tensor=x, targets=None)
    c = cam(input_tensor=x, targets=None)
    check("RandomCAM: np.random.seed makes it reproducible, the next call draws again",
          max_abs(a, b) == 0 and max_abs(a, c) > 0 and a.shape == b.shape)


def check_image_utils(compat_api, ref_api):
    C, R = compat_api, ref_api
    rng = np.random.default_rng(3)
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0, ::-1]
    from cnncam.compat.utils import image as cimage
    check("cnncam.compat's JET table is cv2.applyColorMap's", np.array_equal(cimage._jet_rgb(), lut))
    rgb8 = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    mask = rng.random((37, 53), dtype=np.float32)
    mask[0, 0], mask[0, 1] = 0, np.float32(1 - 1.2e-7)
    for label, img, kw in (("photo / 255, use_rgb", np.float32(rgb8) / 255, {"use_rgb": True}),
                           ("BGR (default)", np.float32(rgb8) / 255, {}),
                           ("image_weight 0.3", np.float32(rgb8) / 255, {"use_rgb": True, "image_weight": 0.3}),
                           ("a float64 image off the 1/255 grid", rng.random((37, 53, 3)), {"use_rgb": True})):
        got, want = C.show_cam_on_image(img, mask, **kw), R.show_cam_on_image(img, mask, **kw)
        check(f"show_cam_on_image, {label}: identical", got.dtype == np.uint8 and np.array_equal(got, want))
    hot = cv2.COLORMAP_HOT
    check("show_cam_on_image with another OpenCV colormap", np.array_equal(
        C.show_cam_on_image(np.float32(rgb8) / 255, mask, colormap=hot),
        R.show_cam_on_image(np.float32(rgb8) / 255, mask, colormap=hot)))
    for label, img in (("uint8", rgb8), ("float32 in [0, 1]", np.float32(rgb8) / 255),
                       ("float64", rng.random((37, 53, 3)))):
        got = C.preprocess_image(img, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
        want = R.preprocess_image(img, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
        check(f"preprocess_image of a {label} image: identical to torchvision's ToTensor + Normalize "
              f"({tuple(got.shape)} {got.dtype})", got.dtype == want.dtype and torch.equal(got, want))
    got, want = C.preprocess_image(rgb8), R.preprocess_image(rgb8)
    check("preprocess_image with the default mean and std", torch.equal(got, want))
    gb = rng.standard_normal((37, 53, 3)).astype(np.float32) * 1e-3
    check("deprocess_image: identical", np.array_equal(C.deprocess_image(gb), R.deprocess_image(gb)))
    check("deprocess_image of cam * gb: identical", np.array_equal(
        C.deprocess_image(cv2.merge([mask] * 3) * gb), R.deprocess_image(cv2.merge([mask] * 3) * gb)))
    cams = rng.standard_normal((3, 7, 5)).astype(np.float32)
    check("scale_cam_image without resize: identical", np.array_equal(C.scale_cam_image(cams),
                                                                        R.scale_cam_image(cams)))
    check("scale_cam_image to (W, H) = (50, 70): identical",
          np.array_equal(C.scale_cam_image(cams, (50, 70)), R.scale_cam_image(cams, (50, 70))))
    saved = sys.modules.get("cv2")
    sys.modules["cv2"] = None            # import cv2 now raises ImportError
    try:
        worst = 0.0
        for src, size in (((7, 5), (50, 70)), ((4, 6), (8, 12)), ((5, 5), (5, 5)), ((12, 9), (5, 4))):
            c = rng.standard_normal((2,) + src).astype(np.float32)
            worst = max(worst, max_abs(C.scale_cam_image(c, size), R.scale_cam_image(c, size)))
    finally:
        sys.modules["cv2"] = saved
    check(f"scale_cam_image without OpenCV: within {worst:.2g} of cv2.resize (tolerance 1e-6)", worst <= 1e-6)


def main():
    argv = sys.argv[1:]
    threads = 2
    archs = list(MODELS)
    if "--threads" in argv:
        threads = int(argv[argv.index("--threads") + 1])
    if "--models" in argv:
        archs = argv[argv.index("--models") + 1].split(",")
    torch.set_num_threads(threads)

    def body():
        ref_api, compat_api = import_reference(), import_compat()
        results = {}
        done = [check_model(arch, ref_api, compat_api, results) for arch in archs]
        check_variants(*done[-1], compat_api, ref_api)
        model, layers, x, category = done[0]
        check_conversion_cache(model, layers, x, category, compat_api, ref_api)
        check_inputs(model, layers, x, category, compat_api)
        check_refusals(model, layers, x, category, compat_api)
        check_image_utils(compat_api, ref_api)
        check_transformer(compat_api, ref_api)
        if results:
            worst = max(results, key=results.get)
            print(f"     largest map difference: {results[worst]:.2g} ({worst})")
    return run("python compat", body, WORK)


if __name__ == "__main__":
    sys.exit(main())
