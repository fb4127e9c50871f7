#!/usr/bin/python3
"""Grad-CAM of `cnncam cam` against the reference numerics (docs/NUMERICS.md).

pytorch-grad-cam is not a dependency, so the reference is written here from
docs/NUMERICS.md, the way pytorch-grad-cam 1.5 computes it: the model in eval
mode; a forward hook on each target module keeps its output and puts a tensor
hook on it for the gradient (its ActivationsAndGradients); the score is the
pre-softmax logit y^c, backward from y^c only; alpha = mean of the gradient
over (h, w); cam = ReLU(sum_k alpha_k A_k); scale_cam_image (minus min,
/ (max + 1e-7), cv2.resize to (W, H)) per layer; then max(., 0), the mean over
layers and scale_cam_image once more (with one layer too). The overlay is
show_cam_on_image(np.float32(rgb) / 255, map, use_rgb=True) with
cv2.applyColorMap(COLORMAP_JET).

For each of the five article models (converted with random weights, seed 7;
the torch module gets the SAME tensors, read back from the .ccm by
tools/cnncam_convert/ccm.py), on two real photos at their own size, at the recommended layer,
for the top-1 class and for class 281, it compares what `cnncam cam` writes
(--act-out, --grad-out, --weights-out, --raw-out, --cam-out, -o) with the
reference:
  activations, gradients, channel weights, raw CAM:  max|d| / max|ref| <= 1e-4
  the normalised map at input resolution:            max|d| <= 1e-3
  the overlay PNG:                                   +-1 per channel
An overlay pixel may differ by more only where the two maps (1e-6 to 1e-5
apart in float32) fall on the two sides of a trunc(255 * m) boundary, one JET
step (up to 4 levels, 2-3 after the blend and brightening): the test then
requires that at every such pixel, and that cnncam's PNG equals (+-1) the
reference overlay of cnncam's own map; it prints how many pixels. Since that
rule would excuse a peak coloured JET[255], the hottest pixel must stay below
1 (the reference's last min-max leaves 1 - ~1.2e-7) with the same m8 index.
mobilenet_v3_large also at features.12 and features.14 and the two-layer
aggregate (-l features.12 -l features.14); --top 3 against three -c runs; two
images in one call against one-by-one runs (byte-identical outputs).

The reference runs one forward per photo and one backward per class
(retain_graph): the same numbers as one reference call per class; the time
printed for "one reference call" is the forward + first backward + maps.

Random-init logits are small and nearly tied: the top-1 class must be torch's
argmax; where the best two logits are within 1e-5 the top-1 run names the
class with -c (printed), since either engine may then rank them differently.

Prints one line per check, per-model timings (for information, never asserted)
and a closing "gradcam: N passed, N failed"; exits non-zero on any failure.

Models ending in Softmax / LogSoftmax (tests/models/common_ops.py, the
pseudo-name softmax_heads): the target stays the model's output, as in the
reference, and the probabilities shown are that output as is / exp of it.

Usage: tests/test_gradcam.py [ARCH ... | softmax_heads]   (default: all five, then softmax_heads)
"""
import json
import os
import shutil
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
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_gradcam import aggregate, scale_cam_image, show_cam_on_image  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))   # make test passes its $(BUILD)
CNNCAM = os.path.join(BUILD, "cnncam")
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
MODELS = ["mobilenet_v3_large", "resnet34", "vgg16", "regnet_y_800mf", "efficientnet_b0"]
PHOTOS = [os.path.join(ROOT, "assets", "images", p) for p in ("chelsea.png", "kite.png")]
OTHER_CLASS = 281          # "tabby, tabby cat": a fixed class that is not the top-1
TIE = 1e-5                 # best two logits closer than this: name the class explicitly
TOL_REL = 1e-4             # activations, gradients, alpha, raw CAM: max|d| / max|ref|
TOL_MAP = 1e-3             # the normalised map: max|d|
EXTRA_LAYERS = ["features.12", "features.14"]   # of mobilenet_v3_large

results = {"passed": 0, "failed": 0}


def report(ok, line):
    print(f"{'ok  ' if ok else 'FAIL'} {line}", flush=True)
    results["passed" if ok else "failed"] += 1
    return ok


# ---- the reference (pytorch-grad-cam 1.5's numerics, docs/NUMERICS.md) ----------------

def module_at(model, path):
    m = model
    for part in path.split("."):
        m = m[int(part)] if part.isdigit() else getattr(m, part)
    return m


class ActivationsAndGradients:
    """A forward hook on each target module keeps its output and registers a
    tensor hook on it that keeps the gradient arriving there. Hooking a
    container keeps the value its forward returns."""

    def __init__(self, modules):
        self.activations = [None] * len(modules)
        self.gradients = [None] * len(modules)
        self.handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(modules)]

    def _hook(self, i):
        def forward_hook(module, inputs, output):
            # As the reference: output.cpu().detach() shares storage with output.
            self.activations[i] = output.cpu().detach()
            if not output.requires_grad:
                return

            def store_grad(grad):
                self.gradients[i] = grad.cpu().detach()
            output.register_hook(store_grad)
        return forward_hook

    def remove(self):
        for h in self.handles:
            h.remove()


def reference_gradcam(model, layers, x, classes):
    """Grad-CAM for the 1x3xHxW tensor x at the given layers, for each class in
    classes (None: the argmax). One forward, then per class a backward from
    y^c (retain_graph, as the reference): the same numbers as one reference
    call per class, without repeating the forward. Returns one dict per class:
    logits, class, per layer A, G, alpha, raw CAM (before scaling), scaled
    (1 x H x W), the final H x W map; and the seconds the first class took
    (forward + backward + maps: one reference call)."""
    hooks = ActivationsAndGradients([module_at(model, l) for l in layers])
    target_size = (x.size(-1), x.size(-2))  # (W, H)
    results = []
    try:
        t0 = time.time()
        out = model(x)
        logits = out.detach().numpy()[0].copy()
        for cls in classes:
            if cls is None:
                cls = int(np.argmax(out.cpu().data.numpy(), axis=-1)[0])
            model.zero_grad()
            loss = sum([out[0][cls]])          # ClassifierOutputTarget, summed over the batch
            loss.backward(retain_graph=True)
            r = {"logits": logits, "class": cls, "A": [], "G": [], "alpha": [], "raw": [], "scaled": []}
            for a, g in zip(hooks.activations, hooks.gradients):
                a, g = a.numpy(), g.numpy()
                weights = np.mean(g, axis=(2, 3))
                cam = (weights[:, :, None, None] * a).sum(axis=1)
                cam = np.maximum(cam, 0)
                r["scaled"].append(scale_cam_image(cam, target_size))
                r["A"].append(a[0].copy()), r["G"].append(g[0].copy())
                r["alpha"].append(weights[0]), r["raw"].append(cam[0])
            r["map"] = aggregate(r["scaled"])
            results.append(r)
            if len(results) == 1:
                seconds = time.time() - t0
    finally:
        hooks.remove()
    return results, seconds


def load_photo(path, mean, std):
    """The reference demo: the photo as 8-bit RGB (it uses cv2.imread(path)[:, :, ::-1],
    the same pixels for these PNGs; PIL's reader spares us libpng's iCCP
    warnings), np.float32(rgb) / 255, then ToTensor + Normalize (preprocess_image)."""
    rgb = np.asarray(Image.open(path).convert("RGB"))
    rgbf = np.float32(rgb) / 255
    t = torch.from_numpy(rgbf.transpose(2, 0, 1).copy())
    t = (t - torch.as_tensor(mean, dtype=torch.float32)[:, None, None]) / \
        torch.as_tensor(std, dtype=torch.float32)[:, None, None]
    return rgbf, t[None]


# ---- cnncam -------------------------------------------------------------------------

OUTPUTS = {"cam": "--cam-out", "act": "--act-out", "grad": "--grad-out", "w": "--weights-out",
           "raw": "--raw-out", "logits": "--logits-out"}


def run_cnncam(model_path, images, outdir, cls=None, layers=(), top=None, threads=None):
    """One `cnncam cam` call writing every output into outdir (fresh). Returns
    the JSON records (one per image) and the wall time in seconds."""
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    args = [CNNCAM, "cam", "-m", model_path, "--json", "-o", os.path.join(outdir, "overlay.png")]
    for key, opt in OUTPUTS.items():
        args += [opt, os.path.join(outdir, key + ".npy")]
    for l in layers:
        args += ["-l", l]
    if cls is not None:
        args += ["-c", str(cls)]
    if top is not None:
        args += ["--top", str(top)]
    if threads is not None:
        args += ["--threads", str(threads)]
    t0 = time.time()
    p = subprocess.run(args + list(images), capture_output=True, text=True)
    wall = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError(f"cnncam cam exited {p.returncode}: {' '.join(args)}\n{p.stderr}")
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()], wall


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    scale = float(np.abs(want).max())
    d = float(np.abs(got - want).max())
    return d / scale if scale > 0 else (0.0 if d == 0 else float("inf"))


def compare_overlay(png, rgbf, ref_map, got_map):
    """cnncam's overlay PNG against the reference overlay of the reference map.
    Returns (ok, text)."""
    got = np.asarray(Image.open(png).convert("RGB")).astype(np.int32)
    want = show_cam_on_image(rgbf, ref_map, use_rgb=True).astype(np.int32)
    d = np.abs(got - want).max(axis=2)
    text = f"overlay max|d| {d.max()} ({int((d > 0).sum())} px differ, {int((d > 1).sum())} by >1)"
    if d.max() <= 1:
        return True, text
    # Beyond +-1: acceptable only where the maps fall on two sides of an m8 boundary.
    own = np.abs(got - show_cam_on_image(rgbf, got_map, use_rgb=True).astype(np.int32)).max()
    big = d > 1
    m8_ref, m8_got = np.uint8(255 * ref_map)[big], np.uint8(255 * got_map)[big]
    dmap = float(np.abs(ref_map[big] - got_map[big]).max())
    straddle = bool(np.all(m8_ref != m8_got)) and int(np.abs(m8_ref.astype(int) - m8_got).max()) <= 1
    ok = own <= 1 and straddle and dmap <= TOL_MAP
    text += (f"; those px: trunc(255*m) {'straddles a boundary at all' if straddle else 'does NOT explain all'}"
             f" of them (|dmap| there <= {dmap:.2g}); vs reference overlay of cnncam's own map: max|d| {own}")
    return ok, text


def compare_case(label, outdir, ref, rgbf, layer_index=0, ref_map=None):
    """Every output of one cnncam run against the reference. layer_index: which
    reference layer the --act/--grad/--weights/--raw outputs belong to (the first
    -l); ref_map: the reference map to compare with (default: ref["map"])."""
    ref_map = ref["map"] if ref_map is None else ref_map
    load = lambda k: np.load(os.path.join(outdir, k + ".npy"))  # noqa: E731
    e = {
        "act": rel_err(load("act"), ref["A"][layer_index]),
        "grad": rel_err(load("grad"), ref["G"][layer_index]),
        "alpha": rel_err(load("w"), ref["alpha"][layer_index]),
        "raw": rel_err(load("raw"), ref["raw"][layer_index]),
    }
    got_map = load("cam")
    e["map"] = float(np.abs(got_map.astype(np.float64) - ref_map).max()) \
        if got_map.shape == ref_map.shape else float("inf")
    ov_ok, ov_text = compare_overlay(os.path.join(outdir, "overlay.png"), rgbf, ref_map, got_map)
    # The last min-max leaves the hottest pixel just below 1, so its colour is
    # JET[254]: an error the overlay's boundary rule above would excuse.
    peak, m8_peak, ref_m8_peak = float(got_map.max()), int(np.uint8(255 * got_map).max()), \
        int(np.uint8(255 * ref_map).max())
    peak_ok = peak < 1.0 and m8_peak == ref_m8_peak
    ov_text += f"; peak 1-{1 - peak:.2g} -> m8 {m8_peak} (ref {ref_m8_peak})"
    ok = max(e["act"], e["grad"], e["alpha"], e["raw"]) <= TOL_REL and e["map"] <= TOL_MAP and ov_ok and peak_ok
    # A reference that is all zero would make a relative comparison say little: say so.
    zero = [k for k, v in (("A", ref["A"]), ("dy/dA", ref["G"]), ("alpha", ref["alpha"]), ("raw", ref["raw"]))
            if not np.any(v[layer_index])]
    report(ok, f"{label}: A {e['act']:.2g}  dy/dA {e['grad']:.2g}  alpha {e['alpha']:.2g}  "
               f"raw {e['raw']:.2g} (rel)  map {e['map']:.2g} (abs)  {ov_text}"
               f"{'  [reference all zero: ' + ', '.join(zero) + ']' if zero else ''}")
    return e


def torch_model(name, path):
    f = ccm.read(path)
    model = getattr(torchvision.models, name)().eval()
    state = {k: torch.from_numpy(np.array(f.tensor(k), dtype=np.float32)) for k in f.tensors}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    return model, f.metadata


def check_model(name, workdir):
    path = os.path.join(workdir, name + ".ccm")
    t0 = time.time()
    subprocess.run([CONVERT, "--arch", name, "--random-init", "--seed", "7", "-o", path],
                   check=True, stdout=subprocess.DEVNULL)
    convert_s = time.time() - t0
    model, meta = torch_model(name, path)
    layer = meta["gradcam.layer"]
    mean, std = meta["input.mean"], meta["input.std"]
    out = os.path.join(workdir, "out")
    timing = []
    for photo in PHOTOS:
        image = os.path.basename(photo)
        rgbf, x = load_photo(photo, mean, std)
        H, W = rgbf.shape[:2]
        other = OTHER_CLASS
        (ref, ref2), ref_s = reference_gradcam(model, [layer], x, [None, OTHER_CLASS])
        logits = ref["logits"]
        order = np.argsort(-logits, kind="stable")
        gap = float(logits[order[0]] - logits[order[1]])
        tied = gap < TIE
        top1 = int(order[0])
        if top1 == OTHER_CLASS:  # the "other" class must be another one
            other = OTHER_CLASS + 1
            (ref2,), _ = reference_gradcam(model, [layer], x, [other])
        if tied:
            print(f"     {name} {image}: torch's best two logits {order[0]} and {order[1]} are {gap:.2g} "
                  f"apart (< {TIE}): the top-1 run names class {top1} with -c")
        recs, wall = run_cnncam(path, [photo], out, cls=top1 if tied else None)
        rec = recs[0]
        ours = rec["top"][0]["index"]
        dl = float(np.abs(np.load(os.path.join(out, "logits.npy"))[0] - logits).max())
        tol_l = 1e-4 * max(1.0, float(np.abs(logits).max()))
        report((tied or ours == top1) and rec["explained"][0]["index"] == top1 and dl <= tol_l,
               f"{name} {image} {W}x{H}: cnncam top-1 {ours}, torch argmax {top1} "
               f"(gap to 2nd {gap:.3g}{', tied: not compared' if tied and ours != top1 else ''}); "
               f"explained {rec['explained'][0]['index']}; logits max|d| {dl:.2g} (tol {tol_l:.2g})")
        compare_case(f"{name} {image} {layer} class {top1} (top-1)", out, ref, rgbf)
        timing.append((image, W, H, wall, rec["ms"], ref_s))

        run_cnncam(path, [photo], out, cls=other)
        compare_case(f"{name} {image} {layer} class {other}", out, ref2, rgbf)

    # Timing of the same call with two threads, for information.
    _, wall2 = run_cnncam(path, [PHOTOS[0]], out, threads=2)
    print(f"time {name:20s} convert {convert_s:.1f}s; layer {layer}")
    for image, W, H, wall, ms, ref_s in timing:
        print(f"     {image} {W}x{H}: cnncam cam {wall:.2f}s wall (1 thread; forward {ms['forward']:.0f} ms, "
              f"explain {ms['explain']:.0f} ms, write {ms['write']:.0f} ms) | reference Python call "
              f"{ref_s:.2f}s (forward + backward + maps; torch, 2 threads)")
    print(f"     {os.path.basename(PHOTOS[0])}: cnncam cam --threads 2 {wall2:.2f}s wall")

    if name == "mobilenet_v3_large":
        check_mobilenet_extras(path, model, meta, workdir)


def check_mobilenet_extras(path, model, meta, workdir):
    name = "mobilenet_v3_large"
    mean, std = meta["input.mean"], meta["input.std"]
    out = os.path.join(workdir, "out")
    # Two other layers, alone and aggregated.
    for photo in PHOTOS:
        image = os.path.basename(photo)
        rgbf, x = load_photo(photo, mean, std)
        # Both layers hooked at once: per layer A, G, alpha, raw and the scaled
        # map are what a one-layer reference call computes, and aggregate() of
        # that one scaled map is its final map.
        refs, _ = reference_gradcam(model, EXTRA_LAYERS, x, [None, OTHER_CLASS])
        if refs[0]["class"] == OTHER_CLASS:
            refs[1:], _ = reference_gradcam(model, EXTRA_LAYERS, x, [OTHER_CLASS + 1])
        for ref in refs:
            cls = ref["class"]
            for l, layer in enumerate(EXTRA_LAYERS):
                run_cnncam(path, [photo], out, cls=cls, layers=[layer])
                compare_case(f"{name} {image} {layer} class {cls}", out, ref, rgbf, layer_index=l,
                             ref_map=aggregate([ref["scaled"][l]]))
            run_cnncam(path, [photo], out, cls=cls, layers=EXTRA_LAYERS)
            compare_case(f"{name} {image} -l {' -l '.join(EXTRA_LAYERS)} class {cls} (aggregate; "
                         f"A..raw of {EXTRA_LAYERS[0]})", out, ref, rgbf)

    # --top 3: the three best classes from one call, each equal to its -c run.
    photo = PHOTOS[0]
    rgbf, x = load_photo(photo, mean, std)
    top_dir = os.path.join(workdir, "top")
    recs, _ = run_cnncam(path, [photo], top_dir, top=3)
    explained = [c["index"] for c in recs[0]["explained"]]
    best3 = [c["index"] for c in recs[0]["top"][:3]]
    refs, _ = reference_gradcam(model, [meta["gradcam.layer"]], x, explained)
    logits = refs[0]["logits"]
    torch3 = [int(c) for c in np.argsort(-logits, kind="stable")[:3]]
    top4 = np.sort(logits)[::-1][:4]
    tied = bool(np.any(top4[:-1] - top4[1:] < TIE))  # then the two engines may order them differently
    report(explained == best3 and (explained == torch3 or tied),
           f"{name} --top 3 explains {explained}: cnncam's best three {best3}, torch's {torch3}"
           f"{' (ties within 1e-5 among the best four)' if tied else ''}")
    for cls, ref in zip(explained, refs):
        single = os.path.join(workdir, "single")
        run_cnncam(path, [photo], single, cls=cls)
        same = []
        for key in ("cam", "act", "grad", "w", "raw"):
            with open(os.path.join(top_dir, f"{key}.c{cls}.npy"), "rb") as a, \
                 open(os.path.join(single, key + ".npy"), "rb") as b:
                same.append(a.read() == b.read())
        with open(os.path.join(top_dir, f"overlay.c{cls}.png"), "rb") as a, \
             open(os.path.join(single, "overlay.png"), "rb") as b:
            same.append(a.read() == b.read())
        d = float(np.abs(np.load(os.path.join(top_dir, f"cam.c{cls}.npy")) - ref["map"]).max())
        report(all(same) and d <= TOL_MAP,
               f"{name} --top 3 class {cls}: cam/act/grad/weights/raw .npy and overlay "
               f"{'byte-identical to' if all(same) else 'DIFFER from'} the -c {cls} run "
               f"({sum(same)}/6 files); map vs reference max|d| {d:.2g}")

    # Two images in one call == one-by-one runs, byte for byte.
    for cls in (None, OTHER_CLASS):
        both = os.path.join(workdir, "both")
        run_cnncam(path, PHOTOS, both, cls=cls)
        same, total = 0, 0
        logits_both = np.load(os.path.join(both, "logits.npy"))
        for i, photo in enumerate(PHOTOS):
            stem = os.path.splitext(os.path.basename(photo))[0]
            single = os.path.join(workdir, "single")
            run_cnncam(path, [photo], single, cls=cls)
            for key in ("cam", "act", "grad", "w", "raw"):
                with open(os.path.join(both, f"{key}.{stem}.npy"), "rb") as a, \
                     open(os.path.join(single, key + ".npy"), "rb") as b:
                    same += a.read() == b.read()
                total += 1
            with open(os.path.join(both, f"overlay.{stem}.png"), "rb") as a, \
                 open(os.path.join(single, "overlay.png"), "rb") as b:
                same += a.read() == b.read()
            total += 1
            same += np.array_equal(logits_both[i], np.load(os.path.join(single, "logits.npy"))[0])
            total += 1
        report(same == total, f"{name} two images in one call ({'top-1' if cls is None else '-c ' + str(cls)}): "
                              f"{same}/{total} outputs identical to one-by-one runs")


SOFTMAX_HEADS = {"softmax_module": ("probabilities", "output"), "log_softmax_module": ("log_probabilities", "log p")}


def check_softmax_heads(workdir):
    """Models that end in Softmax / LogSoftmax (tests/models/common_ops.py):
    Grad-CAM's target stays the model's output, as pytorch-grad-cam's
    ClassifierOutputTarget takes it (the softmax or log-softmax value of the
    class, not the logit before it), so dy/dA, the weights and the maps match
    the reference hooked on the same torch module; the reference for the
    logit itself must differ (else this would not tell the two apart). The
    probabilities shown are the output as is / exp of it, in --json (with
    "output") and in predict's text; cnncam info says the output already is one."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
    import common_ops  # noqa: E402
    labels = os.path.join(workdir, "four.labels")
    with open(labels, "w") as f:
        f.write("a\nb\nc\nd\n")
    photo = PHOTOS[0]
    for fn, (kind, shown) in SOFTMAX_HEADS.items():
        path = os.path.join(workdir, fn + ".ccm")
        subprocess.run([CONVERT, "--module", os.path.join(ROOT, "tests", "models", "common_ops.py:" + fn),
                        "--labels", labels, "--random-init", "--seed", "3", "-o", path],
                       check=True, stdout=subprocess.DEVNULL)
        f = ccm.read(path)
        state = {k: torch.from_numpy(np.array(f.tensor(k), dtype=np.float32)) for k in f.tensors}
        model, bare = getattr(common_ops, fn)().eval(), common_ops.Head("logits").eval()
        for m in (model, bare):
            missing, unexpected = m.load_state_dict(state, strict=False)
            assert not [k for k in missing if not k.endswith("num_batches_tracked")] and not unexpected
        layer = f.metadata["gradcam.layer"]
        rgbf, x = load_photo(photo, f.metadata["input.mean"], f.metadata["input.std"])
        refs, _ = reference_gradcam(model, [layer], x, [None, 2])
        logit_refs, _ = reference_gradcam(bare, [layer], x, [refs[0]["class"], 2])
        out = os.path.join(workdir, "out")
        for ref, logit_ref, cls in zip(refs, logit_refs, (None, 2)):
            recs, _ = run_cnncam(path, [photo], out, cls=cls)
            rec = recs[0]
            values = np.load(os.path.join(out, "logits.npy"))[0]
            p_ref = np.exp(ref["logits"]) if kind == "log_probabilities" else ref["logits"]
            got_p = {t["index"]: t["probability"] for t in rec["top"]}
            dp = max(abs(got_p[i] - float(p_ref[i])) for i in got_p)
            dv = float(np.abs(values - ref["logits"]).max())
            apart = rel_err(logit_ref["G"][0], ref["G"][0])
            report(rec["output"] == kind and dp <= 1e-5 and dv <= 1e-5 and apart > 100 * TOL_REL and
                   rec["explained"][0]["index"] == ref["class"],
                   f"{fn}: --json output {rec['output']!r} (want {kind!r}); probabilities max|d| {dp:.2g} vs "
                   f"torch's {'exp(output)' if kind == 'log_probabilities' else 'output'}; output values max|d| "
                   f"{dv:.2g}; explained {rec['explained'][0]['index']} (want {ref['class']}); dy/dA for the "
                   f"logit instead would differ by {apart:.2g} (rel)")
            compare_case(f"{fn} {os.path.basename(photo)} {layer} class {ref['class']} (target: the "
                         f"{'log-softmax' if kind == 'log_probabilities' else 'softmax'} output)", out, ref, rgbf)
        info = subprocess.run([CNNCAM, "info", path], capture_output=True, text=True).stdout
        pred = subprocess.run([CNNCAM, "predict", "-m", path, "--top", "4", photo], capture_output=True,
                              text=True).stdout
        p_ref = np.exp(refs[0]["logits"]) if kind == "log_probabilities" else refs[0]["logits"]
        top = int(np.argmax(p_ref))
        line = next((ln for ln in pred.splitlines() if ln.split()[:1] == [str(top)]), "")
        want = f"{shown} {refs[0]['logits'][top]:9.4f}  p {p_ref[top]:.4f}"
        report(f"output        {kind} (the model ends in a" in info and "is already the" in info and want in line,
               f"{fn}: cnncam info says output {kind}, already the probability; predict prints {line.strip()!r} "
               f"(want {want!r})")
        os.remove(path)


def main():
    torch.set_num_threads(2)
    names = sys.argv[1:] or MODELS + ["softmax_heads"]
    t_start = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            try:
                check_softmax_heads(workdir) if name == "softmax_heads" else check_model(name, workdir)
            except Exception as e:  # report and go on with the next model
                report(False, f"{name}: {type(e).__name__}: {e}")
            finally:
                ccm_file = os.path.join(workdir, name + ".ccm")
                if os.path.exists(ccm_file):
                    os.remove(ccm_file)  # vgg16 alone is 550 MB
    print(f"(total {time.time() - t_start:.0f}s)")
    print(f"gradcam: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] or not results["passed"] else 0   # nothing checked: a failure


if __name__ == "__main__":
    sys.exit(main())
