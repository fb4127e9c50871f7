#!/usr/bin/python3
"""Forward parity of whole converted models against PyTorch.

For each model: convert it with tools/cnncam-convert (random weights, seeded,
batchnorm statistics calibrated on real photos), load the SAME tensors back
into the torchvision module through tools/cnncam_convert/ccm.py (an independent reader of the
file), run both on crops of real photos at 224x224 and at 227x301, and compare
the logits (max |d| <= 1e-4 * max(1, max|logit|), same top-1) and the
recommended Grad-CAM layer's activations (max |d| <= 1e-4 * max(1, max|A|)).
An all-NaN input must give all-NaN logits, as PyTorch's do.
The same run with 2 and with 3 threads must give the 1-thread logits and
activations to within float rounding, max |d| <= 5e-5 * max(1, max|v|), half
the PyTorch tolerance: work is split along independent outputs, but OpenBLAS
picks a different kernel (another summation order) for a product cut in two,
and those roundings compound over the layers: up to 1e-5 measured where
cnncam's own AVX-512 kernels take the products (they sum in one order at
any thread count), 3.5e-5 on ResNet-50 on a CPU without AVX-512, where
OpenBLAS takes them all (a 2-core AMD EPYC Zen 3).
The C side is build/tests/tools/run_model, which runs the shipped path only
(include/cnncam.h: cnncam_model_load, a context with the layer chosen,
cnncam_forward's planned forward with its tape, cnncam_logits and
cnncam_activation), as `cnncam cam` does. Prints one line per model and size
and a closing "models: N passed, N failed"; exits non-zero on any failure.

Usage: tests/test_models.py [ARCH ...]   (default: all)
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from cnncam_convert import ccm  # noqa: E402  (the Python reader of the format)

RUN_MODEL = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"), "tests", "tools", "run_model")
BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))   # make test passes its $(BUILD)
CNNCAM = os.path.join(BUILD, "cnncam")
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SIZES = [(224, 224), (227, 301)]
THREADS_TOL = 5e-5

sys.path.insert(0, os.path.join(ROOT, "tests", "models"))


def nurse_doctor():
    import nurse_doctor as nd  # noqa: E402
    return nd.build()

# name -> (how to build the torch module, converter arguments)
MODELS = {
    name: (lambda name=name: getattr(torchvision.models, name)(), ["--arch", name])
    for name in ["mobilenet_v3_large", "resnet34", "vgg16", "regnet_y_800mf", "efficientnet_b0",
                 "mobilenet_v3_small", "resnet18", "resnet50",
                 "densenet121", "shufflenet_v2_x1_0", "mnasnet1_0", "googlenet"]
}
# tests/models/shape_ops.py: views and means, resampling by size and scale, channel pieces and shuffles.
for _name, _layer in (("views", "features"), ("resampling", "decoder"), ("fixed_size", "features"),
                      ("shuffles", "head")):
    MODELS["shape_ops." + _name] = (
        lambda _name=_name: getattr(__import__("shape_ops"), _name)(),
        ["--module", os.path.join(ROOT, "tests", "models", "shape_ops.py") + ":" + _name, "--layer", _layer,
         "--labels", os.path.join(ROOT, "tests", "models", "shape_ops.labels")])
# State the converted graph never reads: googlenet's auxiliary heads (training only).
UNUSED = {"googlenet": ("aux1.", "aux2.")}
MODELS["nurse_doctor"] = (nurse_doctor, [
    "--module", os.path.join(ROOT, "tests", "models", "nurse_doctor.py") + ":build",
    "--labels", os.path.join(ROOT, "tests", "models", "nurse_doctor.labels")])


def photo_crop(path, h, w):
    """A real photo, resized so it covers h x w, centre-cropped, normalised, 1x3xhxw."""
    img = Image.open(path).convert("RGB")
    scale = max(h / img.height, w / img.width)
    img = img.resize((max(w, round(img.width * scale)), max(h, round(img.height * scale))),
                     Image.BILINEAR)
    top, left = (img.height - h) // 2, (img.width - w) // 2
    x = np.asarray(img, dtype=np.float32)[top:top + h, left:left + w] / 255.0
    x = (x - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def module_at(model, path):
    m = model
    for part in path.split("."):
        m = getattr(m, part) if not part.isdigit() else m[int(part)]
    return m


def check(name, workdir, photos):
    build, conv_args = MODELS[name]
    path = os.path.join(workdir, name + ".ccm")
    t0 = time.time()
    subprocess.run([CONVERT, *conv_args, "--random-init", "--seed", "7", "-o", path], check=True)
    convert_s = time.time() - t0
    f = ccm.read(path)
    layer = f.metadata["gradcam.layer"]
    torch.manual_seed(0)
    model = build().eval()
    state = {k: torch.from_numpy(np.array(f.tensor(k), dtype=np.float32)) for k in f.tensors}
    # Copied into the module's own tensors (load_state_dict would want the
    # state_dict's version metadata, which mnasnet checks).
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")
               and not k.startswith(UNUSED.get(name, ()))]
    unexpected = [k for k in state if k not in own]
    assert not missing and not unexpected, (missing, unexpected)
    with torch.no_grad():
        for k, v in state.items():
            own[k].copy_(v)
    captured = {}
    # A copy: densenet's forward overwrites `features` with an in-place ReLU.
    module_at(model, layer).register_forward_hook(lambda m, i, o: captured.__setitem__("a", o.clone()))

    ok = True
    for (h, w), photo in zip(SIZES, photos):
        x = photo_crop(photo, h, w)
        with torch.no_grad():
            want_logits = model(torch.from_numpy(x)).numpy()[0]
        want_act = captured["a"].numpy()[0]
        xin = os.path.join(workdir, "x.f32")
        x.tofile(xin)
        out_l, out_a = os.path.join(workdir, "logits.f32"), os.path.join(workdir, "act.f32")
        t0 = time.time()
        subprocess.run([RUN_MODEL, path, xin, str(h), str(w), layer, out_l, out_a], check=True)
        run_s = time.time() - t0
        got_logits = np.fromfile(out_l, dtype=np.float32)
        got_act = np.fromfile(out_a, dtype=np.float32)
        threads_d = 0.0
        for threads in (2, 3):
            subprocess.run([RUN_MODEL, path, xin, str(h), str(w), layer, out_l, out_a, str(threads)], check=True)
            for got, again in ((got_logits, np.fromfile(out_l, dtype=np.float32)),
                               (got_act, np.fromfile(out_a, dtype=np.float32))):
                d = float(np.abs(got - again).max()) / max(1.0, float(np.abs(got).max()))
                threads_d = max(threads_d, d)
        if got_logits.size != want_logits.size or got_act.size != want_act.size:
            print(f"FAIL {name} {h}x{w}: sizes {got_logits.size}/{got_act.size}, "
                  f"expected {want_logits.size}/{want_act.size}")
            ok = False
            continue
        # `cnncam info` reports the layer's shape as PyTorch computes it.
        info = subprocess.run([CNNCAM, "info", "--size", f"{h}x{w}", "--layer", layer, path],
                              capture_output=True, text=True)
        want_shape = "x".join(map(str, captured["a"].shape))
        if info.returncode != 0 or f"output {want_shape} " not in info.stdout:
            print(f"FAIL {name} {h}x{w}: cnncam info does not report {layer} as {want_shape}:\n"
                  f"{info.stdout}{info.stderr}")
            ok = False
        dl = float(np.abs(got_logits - want_logits).max())
        da = float(np.abs(got_act - want_act.ravel()).max())
        tol_l = 1e-4 * max(1.0, float(np.abs(want_logits).max()))
        tol_a = 1e-4 * max(1.0, float(np.abs(want_act).max()))
        same_top1 = int(got_logits.argmax()) == int(want_logits.argmax())
        good = dl <= tol_l and da <= tol_a and same_top1 and threads_d <= THREADS_TOL
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {name:20s} {h}x{w}  logits max|d| {dl:.3g} (tol {tol_l:.3g})  "
              f"{layer} max|d| {da:.3g} (tol {tol_a:.3g})  top-1 {'same' if same_top1 else 'DIFFERS'}  "
              f"2-3 threads vs 1: rel max|d| {threads_d:.3g} (tol {THREADS_TOL:g})  "
              f"convert {convert_s:.1f}s  cnncam {run_s:.2f}s  file {os.path.getsize(path) / 1e6:.1f} MB")
    # An all-NaN image (a corrupt input): PyTorch's logits are all NaN, and so must cnncam's be,
    # not a confident class (ReLU once mapped NaN to 0). At the first size, through the same path.
    (h, w) = SIZES[0]
    x = np.full((1, 3, h, w), np.nan, dtype=np.float32)
    with torch.no_grad():
        want_nan = np.isnan(model(torch.from_numpy(x)).numpy()[0])
    x.tofile(xin)
    subprocess.run([RUN_MODEL, path, xin, str(h), str(w), layer, out_l, out_a], check=True)
    got_nan = np.isnan(np.fromfile(out_l, dtype=np.float32))
    good = bool(want_nan.all()) and got_nan.shape == want_nan.shape and bool((got_nan == want_nan).all())
    ok &= good
    print(f"{'ok  ' if good else 'FAIL'} {name:20s} all-NaN {h}x{w} input: NaN logits {int(got_nan.sum())} of "
          f"{got_nan.size} (PyTorch {int(want_nan.sum())} of {want_nan.size})")
    # An unknown layer is an input error (exit 2) that names the nearest ones.
    bad = subprocess.run([CNNCAM, "info", "--layer", layer + "x9", path], capture_output=True, text=True)
    if bad.returncode != 2 or "nearest: " + layer not in bad.stderr:
        print(f"FAIL {name}: unknown layer {layer}x9 gave exit {bad.returncode}: {bad.stderr}")
        ok = False
    return ok


def main():
    torch.set_num_threads(2)
    names = sys.argv[1:] or list(MODELS)
    photos = [os.path.join(ROOT, "assets", "images", p) for p in ("chelsea.png", "astronaut.png")]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            try:
                good = check(name, workdir, photos)
            except Exception as e:  # report and go on with the next model
                print(f"FAIL {name}: {type(e).__name__}: {e}")
                good = False
            passed += good
            failed += not good
    print(f"models: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0   # nothing checked: a failure


if __name__ == "__main__":
    sys.exit(main())
