#!/usr/bin/python3
"""Every CAM method of `cnncam cam --method` against tests/reference_cams.py,
the PyTorch restatement of pytorch-grad-cam 1.5.

For each of the five article models (converted with random weights, seed 7;
the torch module gets the same tensors, read back by tools/cnncam_convert/ccm.py) on one
real photo, resized to 160 x 120 so that the perturbation methods' hundreds
of forwards stay quick, at the recommended layer, for torch's top-1 class,
each case of CASES (a method with some options) runs once through the CLI on
the normalised tensor (.npy: the same input bits for both engines) and once
through the restatement. Compared:
  the final map (--cam-out):        max|d| <= 1e-3
  channel weights (--weights-out):  max|d| / max|ref| <= 1e-4 (ScoreCAM's
      3e-4: a softmax over the scores of two engines' forwards)
  the rectified raw map (--raw-out): max|d| / max|ref| <= 1e-3 (a sum of K
      weighted channels of mixed sign, whose cancellation amplifies the
      weights' float32 differences; an SVD's projection likewise)
Eigen methods run with --eigen-sign lapack against the restatement's numpy
(the same LAPACK), and with cnncam's default rule against the restatement
with that rule imposed (cam/projection.h: docs/METHODS.md says which).

Also: `cnncam methods` lists every method of the restatement, and each has a
case here (a method without a reference case fails); an unknown method,
an option a method does not take and --batch-size 0 are refused (exit 1 or
2, the message, no file written).

Prints one line per check, the time of each cnncam run and of the
restatement (for information: bench/ measures speed), then
"methods: N passed, N failed".

Usage: tests/test_methods.py [MODEL ...] [--only METHOD,METHOD]
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_cams as ref  # noqa: E402
from tally import check, run  # noqa: E402
from test_gradcam import torch_model  # noqa: E402

ROOT = os.path.dirname(HERE)
BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))
CNNCAM = os.path.join(BUILD, "cnncam")
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
MODELS = ["resnet34", "mobilenet_v3_large", "vgg16", "regnet_y_800mf", "efficientnet_b0"]
PHOTO = os.path.join(ROOT, "assets", "images", "chelsea.png")
SIZE = (160, 120)   # W x H
TOL_MAP, TOL_REL, TOL_RAW = 1e-3, 1e-4, 1e-3
# ScoreCAM's weights are a softmax over channels of the target's score on each
# masked input: a score's float32 difference moves its weight by that much
# relative, and the forwards of two engines differ by up to 1e-4 of a score
# (RegNetY-800MF's on a CPU without AVX-512, where OpenBLAS takes every product).
TOL_REL_METHOD = {"scorecam": 3e-4}



def max_abs_sign(proj, M, vt0):
    """cnncam's default sign of a principal component (cam/projection.h,
    CC_PROJECTION_SIGN_MAX_ABS): its entry of largest magnitude positive."""
    flat = np.asarray(proj).ravel()
    return 1 if flat[int(np.argmax(np.abs(flat)))] >= 0 else -1


# method -> cases: (label, CLI options, restatement keyword arguments). CASES
# run on every model; VARIANTS (targets, smoothing, batch sizes, parameters)
# on the first model only, to keep the suite's time reasonable.
CASES = {
    "gradcam": [("", [], {})],
    "hirescam": [("", [], {})],
    "gradcamelementwise": [("", [], {})],
    "gradcam++": [("", [], {})],
    "xgradcam": [("", [], {})],
    "layercam": [("", [], {})],
    "eigencam": [("LAPACK's sign", ["--eigen-sign", "lapack"], {}), ("", [], {"eigen_sign": max_abs_sign})],
    "eigengradcam": [("", [], {"eigen_sign": max_abs_sign})],
    "kpcacam": [("", [], {})],
    "scorecam": [("", [], {})],
    "ablationcam": [("", [], {})],
    "fullgrad": [("", [], {})],
    "fem": [("", [], {})],
    "finercam": [("top class", [], {"targets": None})],
    "segeigencam": [("", [], {})],
    "randomcam": [("seed 5", ["--seed", "5"], {"seed": 5})],
}
VARIANTS = {
    "gradcam": [("target softmax", ["--target", "softmax"], {"target": "softmax"}),
                ("target rest", ["--target", "rest"], {"target": "rest"}),
                ("aug-smooth", ["--aug-smooth"], {"aug_smooth": True}),
                ("eigen-smooth, LAPACK's sign", ["--eigen-smooth", "--eigen-sign", "lapack"], {"eigen_smooth": True}),
                ("eigen-smooth", ["--eigen-smooth"], {"eigen_smooth": True, "eigen_sign": max_abs_sign})],
    "gradcam++": [("target softmax, aug-smooth", ["--target", "softmax", "--aug-smooth"],
                   {"target": "softmax", "aug_smooth": True})],
    "layercam": [("eigen-smooth", ["--eigen-smooth"], {"eigen_smooth": True, "eigen_sign": max_abs_sign})],
    "eigengradcam": [("LAPACK's sign", ["--eigen-sign", "lapack"], {})],
    "kpcacam": [("poly, gamma 0.01", ["--kpca-kernel", "poly", "--kpca-gamma", "0.01"],
                 {"kpca_kernel": "poly", "kpca_gamma": 0.01})],
    "scorecam": [("batch 7", ["--batch-size", "7"], {"batch_size": 7})],
    "ablationcam": [("batch 5", ["--batch-size", "5"], {"batch_size": 5}),
                    # one copy per chunk: its ablated value then does not hang on the
                    # order of two scores float noise can swap (tests/test_python_compat.py)
                    ("ratio 0.1, ties by channel, batch 1", ["--ablation-ratio", "0.1", "--batch-size", "1"],
                     {"ratio_channels_to_ablate": 0.1, "ablation_sort": "stable", "batch_size": 1})],
    "fullgrad": [("target rest", ["--target", "rest"], {"target": "rest"})],
    "randomcam": [("seed 0 (default), aug-smooth", ["--aug-smooth"], {"seed": 0, "aug_smooth": True})],
}


def load_x(mean, std):
    rgb = np.asarray(Image.open(PHOTO).convert("RGB").resize(SIZE, Image.BILINEAR))
    t = torch.from_numpy((np.float32(rgb) / 255).transpose(2, 0, 1).copy())
    t = (t - torch.tensor(mean, dtype=torch.float32)[:, None, None]) / torch.tensor(std, dtype=torch.float32)[:, None, None]
    return t[None]


from test_gradcam import rel_err as rel  # noqa: E402  max|got - want| / max|want|


def run_cli(model_path, x_npy, out, method, cls, options, want):
    """want: the restatement's result, which says what the method gives
    (weights, per-layer maps) and so which outputs to ask for."""
    layer = want["layers"][0] if want.get("layers") else None
    kinds = ["map"] + (["w"] if layer is not None and layer.get("weights") is not None else []) + \
        (["raw"] if layer is not None else [])
    files = {k: os.path.join(out, k + ".npy") for k in ("map", "w", "raw")}
    for f in files.values():
        if os.path.exists(f):
            os.remove(f)
    flags = {"map": "--cam-out", "w": "--weights-out", "raw": "--raw-out"}
    args = [CNNCAM, "cam", "-m", model_path, "--method", method, "--threads", "2"]
    for k in kinds:
        args += [flags[k], files[k]]
    if cls is not None:
        args += ["-c", str(cls)]
    t0 = time.time()
    p = subprocess.run(args + options + [x_npy], capture_output=True, text=True)
    seconds = time.time() - t0
    if p.returncode:
        raise RuntimeError(f"exit {p.returncode}: {' '.join(args + options)}\n{p.stderr}")
    got = {k: np.load(f) if os.path.exists(f) else None for k, f in files.items()}
    return got, seconds


def compare(label, got, want, tol_map=TOL_MAP, tol_rel=TOL_REL):
    layer = want["layers"][0] if want.get("layers") else None
    d_map = float(np.abs(got["map"].astype(np.float64) - want["map"][0]).max()) \
        if got["map"].shape == want["map"][0].shape else float("inf")
    parts, ok = [f"map {d_map:.2g}" + (f" (tol {tol_map:.2g})" if tol_map != TOL_MAP else "")], d_map <= tol_map
    if layer is not None and layer.get("weights") is not None:
        e = rel(got["w"], layer["weights"][0])
        parts.append(f"weights {e:.2g} (rel" + (f", tol {tol_rel:.2g})" if tol_rel != TOL_REL else ")"))
        ok &= e <= tol_rel
    if layer is not None:
        e = rel(got["raw"], np.maximum(layer["cam"][0], 0))
        parts.append(f"raw {e:.2g} (rel)")
        ok &= e <= TOL_RAW
    return check(f"{label}: {'  '.join(parts)}", ok)


def check_model(name, workdir, only, variants):
    path = os.path.join(workdir, name + ".ccm")
    subprocess.run([CONVERT, "--arch", name, "--random-init", "--seed", "7", "-o", path],
                   check=True, stdout=subprocess.DEVNULL)
    model, meta = torch_model(name, path)
    layer = meta["gradcam.layer"]
    x = load_x(meta["input.mean"], meta["input.std"])
    x_npy = os.path.join(workdir, "x.npy")
    np.save(x_npy, x[0].numpy())
    with torch.no_grad():
        order = torch.argsort(model(x)[0], descending=True)
    cls, runner_up = int(order[0]), int(order[1])
    out = os.path.join(workdir, "out")
    os.makedirs(out, exist_ok=True)
    for method, cases in CASES.items():
        if only and method not in only:
            continue
        for label, options, kw in cases + (VARIANTS.get(method, []) if variants else []):
            kw = dict(kw)
            target = kw.pop("target", "logit")
            targets = kw.pop("targets") if "targets" in kw else [ref.make_target(target, cls)]
            t0 = time.time()
            want = ref.run_cam(model, [layer], x, method, targets=targets, **kw)
            ref_s = time.time() - t0
            got, our_s = run_cli(path, x_npy, out, method, None if targets is None else cls, options, want)
            tol = max(TOL_MAP, 2 * rounding_sensitivity(model, layer, x, method, targets, kw, want)) \
                if method == "fullgrad" else TOL_MAP
            compare(f"{name} {layer} {method}{' ' + label if label else ''}: cnncam {our_s:.2f}s, "
                    f"restatement {ref_s:.2f}s", got, want, tol, TOL_REL_METHOD.get(method, TOL_REL))
    if not only or "guided" in only:
        check_guided(name, model, path, x, x_npy, runner_up, out)
    if variants and not only:
        check_aug_smooth_is_the_mean(path, x, workdir)
    os.remove(path)


def rounding_sensitivity(model, layer, x, method, targets, kw, want):
    """How far the restatement's own map moves when the input moves by float32
    rounding (x times 1 + 2e-5 u, u uniform in [-1, 1], two draws): FullGrad
    normalises every channel of every bias layer on its own, so a ReLU whose
    input two engines round to either side of 0 (|x| ~ 1e-5) can move a weak
    channel's peak, and the map by more than 1e-3. The tolerance is then twice
    this measured sensitivity: the reference is not determined more finely."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(2):
        xp = x * (1 + 2e-5 * torch.from_numpy(rng.uniform(-1, 1, x.shape).astype(np.float32)))
        other = ref.run_cam(model, [layer], xp, method, targets=targets, **kw)
        worst = max(worst, float(np.abs(other["map"][0] - want["map"][0]).max()))
    return worst


def check_guided(name, model, path, x, x_npy, cls, out):
    """--guided-npy for class cls (not the top class: -c must reach guided
    backprop too) against the restatement's GuidedBackpropReLUModel (and,
    where the model has other activations, --guided-extended against its
    extension), and cam.py's two pictures from cnncam's own map and gradient
    (deprocess_image truncates to uint8: +-1 where float rounding straddles a
    level)."""
    extended = [False] + ([True] if name in ("mobilenet_v3_large", "efficientnet_b0") else [])
    for ext in extended:
        files = {k: os.path.join(out, k) for k in ("gb.npy", "gb.png", "cam_gb.png", "map.npy")}
        args = [CNNCAM, "cam", "-m", path, "-c", str(cls), "--guided-npy", files["gb.npy"], "--guided-out",
                files["gb.png"], "--guided-cam-out", files["cam_gb.png"], "--cam-out", files["map.npy"], x_npy]
        if ext:
            args.insert(2, "--guided-extended")
        t0 = time.time()
        p = subprocess.run(args, capture_output=True, text=True)
        our_s = time.time() - t0
        if not check(f"{name} guided{' extended' if ext else ''}: cnncam exits 0", p.returncode == 0, p.stderr):
            continue
        t0 = time.time()
        want = ref.guided_backprop(model, x, cls, extended=ext)
        ref_s = time.time() - t0
        got = np.load(files["gb.npy"])
        e = rel(got, want)
        check(f"{name} guided{' extended' if ext else ''} gradient: {e:.2g} (rel); cnncam {our_s:.2f}s "
              f"(with Grad-CAM), restatement {ref_s:.2f}s", e <= TOL_REL)
        gb, cam_gb = ref.guided_cam_images(np.load(files["map.npy"]), got)
        for label, png, want_png in (("gb", files["gb.png"], gb), ("cam_gb", files["cam_gb.png"], cam_gb)):
            img = np.asarray(Image.open(png).convert("RGB")).astype(int)
            d = np.abs(img - want_png.astype(int))
            check(f"{name} guided{' extended' if ext else ''} {label} picture: max|d| {d.max()}, "
                  f"{int((d > 0).sum())} values differ", d.max() <= 1)


def check_aug_smooth_is_the_mean(path, x, workdir):
    """--aug-smooth equals the float32 mean, in ttach's order, of six single
    cnncam runs on the augmented inputs (flip of the width, times 0.9, 1, 1.1),
    each map flipped back: the same numbers, not a similar map."""
    out = os.path.join(workdir, "aug")
    os.makedirs(out, exist_ok=True)
    maps = []
    for flip in (False, True):
        for factor in (0.9, 1.0, 1.1):
            xa = x[0].flip(2) if flip else x[0]
            xa = xa * factor if factor != 1 else xa
            np.save(os.path.join(out, "xa.npy"), xa.numpy())
            subprocess.run([CNNCAM, "cam", "-m", path, "-c", "281", "--cam-out", os.path.join(out, "m.npy"),
                            os.path.join(out, "xa.npy")], check=True, capture_output=True)
            m = np.load(os.path.join(out, "m.npy"))
            maps.append(m[:, ::-1] if flip else m)
    want = np.mean(np.float32(maps), axis=0)
    np.save(os.path.join(out, "x.npy"), x[0].numpy())
    subprocess.run([CNNCAM, "cam", "-m", path, "-c", "281", "--aug-smooth", "--cam-out", os.path.join(out, "m.npy"),
                    os.path.join(out, "x.npy")], check=True, capture_output=True)
    got = np.load(os.path.join(out, "m.npy"))
    d = float(np.abs(got - want).max())
    check(f"--aug-smooth is the mean of the six de-augmented single runs: max|d| {d:.2g} (peak {got.max():.4f}, "
          f"not normalised again)", d <= 1e-6 and got.max() < 1)


def check_binary(workdir):
    """BinaryClassifierOutputTarget on a one-output model: class 1 explains
    the output, class 0 its negation."""
    path = os.path.join(workdir, "binary.ccm")
    subprocess.run([CONVERT, "--module", os.path.join(HERE, "models", "binary_head.py:build"), "--labels",
                    os.path.join(HERE, "models", "binary_head.labels"), "--random-init",
                    "--seed", "3", "-o", path], check=True, stdout=subprocess.DEVNULL)
    sys.path.insert(0, os.path.join(HERE, "models"))
    import binary_head
    from cnncam_convert import ccm
    f = ccm.read(path)
    model = binary_head.build().eval()
    model.load_state_dict({k: torch.from_numpy(np.array(f.tensor(k), dtype=np.float32)) for k in f.tensors},
                          strict=False)
    x = load_x([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    x_npy = os.path.join(workdir, "xb.npy")
    np.save(x_npy, x[0].numpy())
    out = os.path.join(workdir, "out")
    os.makedirs(out, exist_ok=True)
    for cls in (1, 0):
        for method in ("gradcam", "scorecam"):
            want = ref.run_cam(model, ["layer4"], x, method, targets=[ref.make_target("binary", cls)])
            got, _ = run_cli(path, x_npy, out, method, cls, ["--target", "binary"], want)
            compare(f"binary target, class {cls}, {method} (one-output ResNet-18)", got, want)


def check_registry():
    p = subprocess.run([CNNCAM, "methods"], capture_output=True, text=True)
    listed = [ln.split()[0] for ln in p.stdout.splitlines() if ln.strip()]
    check("cnncam methods exits 0", p.returncode == 0, p.stderr)
    missing = [m for m in listed if m not in CASES]
    check("every method cnncam lists has a reference case here", listed and not missing,
          f"no case for {', '.join(missing)}" if missing else "nothing listed")
    unknown = [m for m in listed if m not in ref.METHODS]
    check("every method cnncam lists is one of pytorch-grad-cam's", not unknown, ", ".join(unknown))


def check_refusals(workdir):
    model = os.path.join(ROOT, "models", "fashion_scenes.ccm")
    scene = os.path.join(ROOT, "assets", "demo", "trouser_and_tshirt.png")
    out = os.path.join(workdir, "refused.png")
    for label, args, needle in [
            ("an unknown method", ["--method", "gradcamm"], "unknown method"),
            ("an option the method does not take", ["--method", "gradcam", "--batch-size", "4"], "batch"),
            ("--batch-size 0", ["--method", "scorecam", "--batch-size", "0"], "batch")]:
        p = subprocess.run([CNNCAM, "cam", "-m", model, "-o", out] + args + [scene], capture_output=True, text=True)
        check(f"{label} is refused: exit {p.returncode}, nothing written",
              p.returncode in (1, 2) and needle in p.stderr.lower() and not os.path.exists(out), p.stderr.strip())


def main():
    torch.set_num_threads(2)
    argv = sys.argv[1:]
    only = set()
    if "--only" in argv:
        i = argv.index("--only")
        only = set(argv[i + 1].split(","))
        del argv[i:i + 2]
    workdir = tempfile.mkdtemp()

    def body():
        check_registry()
        check_refusals(workdir)
        for i, name in enumerate(argv or MODELS):
            check_model(name, workdir, only, variants=i == 0)
        if not only:
            check_binary(workdir)
    return run("methods", body, workdir)


if __name__ == "__main__":
    sys.exit(main())
