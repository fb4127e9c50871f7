#!/usr/bin/python3
"""tests/test_inputs.py — models that take other than 3-channel images of any
size, and models that return more than the logits, through the converter and
`cnncam cam` as a user runs them.

Usage: /usr/bin/python3 tests/test_inputs.py   (after `make all`; CNNCAM_BUILD
       names the build directory, default build)

  1. The article's worked examples as the article writes them
     (tests/models/worked_examples.py), converted with --module and
     --input-size, run on .npy inputs: example 1 (1 x 3 x 3, conv, flatten,
     linear; fixed size 3x3) gives activations [[4,7],[5,6]], logits [13,15],
     dy/dA [[0,1],[0,1]] and, with -l input, dy/dX [[0,1,0],[0,2,2],[0,1,2]];
     example 2 (A1, A2 as a 2-channel input) gives A, dy/dA = [3,-6]/9, the
     weights [1/3,-2/3] and ReLU(alpha . A) = [[1/3,0,2/3],[0,1,0],[0,1/3,0]]:
     all hand-derived, compared exactly (to float32's rounding of 1/3).
  2. What an image becomes for a 1- and a 4-channel model
     (tests/models/inputs.py identity1/identity4: their 'conv' is the input):
     --act-out * 255 equals Pillow's convert("L") / convert("RGBA"), bit for
     bit, on the repository's photos, a PNG of 2^18 random colours, gray,
     gray+alpha, palette+tRNS, gray+tRNS, RGB+tRNS and RGBA PNGs and a JPEG.
     A 1-channel overlay is drawn on the gray picture (the reference
     show_cam_on_image of L, L, L, +-1).
  3. LeNet (1 x 28 x 28, fixed size) and a 4-channel CNN (--random-init,
     batchnorm calibrated on RGBA photos): logits (max|d| <= 1e-4 max|ref|)
     and Grad-CAM maps (max|d| <= 1e-3) against PyTorch on a gray PNG, an RGB
     PNG read as luminance, an RGB photo with --resize 28 --crop 28, and an
     RGBA PNG; cnncam info shows the channels and the fixed size.
  4. Refusals, each with exit 2, a message naming the problem and nothing
     written: a photo of another size for LeNet (the message names both sizes
     and --resize), .npy tensors of the wrong channel count or size, an image
     for a 2-channel model, --resize for an RGBA model; at conversion: a
     fixed-size model without --input-size, a gray model without --mean, a
     --mean of the wrong length, a bad --output-key.
  5. A model returning a dict ({"out", "aux"}) and one returning a tuple
     (aux, logits): the default entry (with the note naming it), --output-key
     by key, index and -1, and the C engine's logits against PyTorch's entry.
Prints one line per check and "inputs: N passed, N failed"; exits 1 on any failure.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
from cnncam_convert import ccm  # noqa: E402  (the Python reader of the format)
import inputs as nets  # noqa: E402  (tests/models/inputs.py)
import worked_examples  # noqa: E402
from reference_gradcam import show_cam_on_image  # noqa: E402
from test_gradcam import reference_gradcam  # noqa: E402
from tally import check, run as run_suite  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))
CNNCAM = os.path.join(BUILD, "cnncam")
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
MODELS = os.path.join(ROOT, "tests", "models")
PHOTOS = os.path.join(ROOT, "assets", "images")
KITE = os.path.join(PHOTOS, "kite.png")              # 320 x 213
CHELSEA = os.path.join(PHOTOS, "chelsea.png")
TOL_LOGITS, TOL_MAP = 1e-4, 1e-3

W = tempfile.mkdtemp(prefix="cnncam-test-inputs.")


def path(*parts):
    return os.path.join(W, *parts)


def run(args, cwd=None):
    return subprocess.run([CNNCAM, *args], cwd=cwd or W, capture_output=True, text=True, timeout=300)


def convert(out, *args):
    """(exit status, stderr) of one conversion into W."""
    r = subprocess.run([CONVERT, *args, "-o", path(out)], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stderr


def must_convert(out, *args):
    code, err = convert(out, *args)
    if code != 0:
        raise RuntimeError(f"cnncam-convert {' '.join(args)} failed: {err}")
    return err


def labels(n):
    f = path(f"labels{n}.txt")
    with open(f, "w") as fh:
        fh.write("".join(f"class {i}\n" for i in range(n)))
    return f


def exact(name, got, want):
    got, want = np.asarray(got, np.float32), np.asarray(want, np.float32)
    return check(name, got.shape == want.shape and np.array_equal(got, want),
                 f"got {got.tolist()}, want {want.tolist()}")


def cam(model, image, *opts, cwd=None):
    """cnncam cam with every output into a fresh directory; (result, outputs)."""
    d = path("out")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    outs = {k: os.path.join(d, k + ".npy") for k in ("act", "grad", "logits", "cam", "w", "raw")}
    args = ["cam", "-m", model, *opts, "--act-out", outs["act"], "--grad-out", outs["grad"],
            "--logits-out", outs["logits"], "--cam-out", outs["cam"], image]
    if "input" not in opts:
        args[1:1] = ["--weights-out", outs["w"], "--raw-out", outs["raw"]]
    r = run(args, cwd)
    got = {k: np.load(f) for k, f in outs.items() if os.path.exists(f)}
    if r.returncode:
        check(f"cnncam cam {os.path.basename(model)} {os.path.basename(image)} exits 0", False, r.stderr)
    return r, got


# ---- 1. the article's worked examples ------------------------------------------------------

def worked_examples_case():
    ex = os.path.join(MODELS, "worked_examples.py")
    code, err = convert("e1_nosize.ccm", "--module", ex + ":example1", "--mean", "0", "--std", "1",
                        "--labels", labels(2))
    check("example 1 without --input-size: exit 2, the 224x224 trace fails and the message says --input-size",
          code == 2 and "1x1x224x224" in err and "--input-size" in err and
          not os.path.exists(path("e1_nosize.ccm")), f"exit {code}: {err}")
    must_convert("e1.ccm", "--module", ex + ":example1", "--input-size", "1,3,3", "--mean", "0", "--std", "1",
                 "--labels", labels(2), "--layer", "conv")
    md = ccm.read(path("e1.ccm")).metadata
    check("example 1: the file records 1 channel and the fixed size 3x3",
          (md.get("input.channels"), md.get("input.height"), md.get("input.width")) == (1, 3, 3), str(md))
    np.save(path("x1.npy"), np.array(worked_examples.X, np.float32)[None, None])
    r, got = cam(path("e1.ccm"), path("x1.npy"), "-l", "conv", "-c", "0")
    if not r.returncode:
        exact("example 1: activations [[4,7],[5,6]]", got["act"], [[[4, 7], [5, 6]]])
        exact("example 1: logits [13,15]", got["logits"], [[13, 15]])
        exact("example 1: dy0/dA [[0,1],[0,1]]", got["grad"], [[[0, 1], [0, 1]]])
    r, got = cam(path("e1.ccm"), path("x1.npy"), "-l", "input", "-c", "0")
    if not r.returncode:
        exact("example 1: -l input: dy0/dX [[0,1,0],[0,2,2],[0,1,2]]", got["grad"],
              [[[0, 1, 0], [0, 2, 2], [0, 1, 2]]])

    must_convert("e2.ccm", "--module", ex + ":example2", "--input-size", "2,3,3", "--mean", "0", "0",
                 "--std", "1", "1", "--labels", labels(1), "--layer", "features")
    md = ccm.read(path("e2.ccm")).metadata
    check("example 2: the file records 2 channels and no fixed size (a global pool)",
          md.get("input.channels") == 2 and "input.height" not in md, str(md))
    np.save(path("x2.npy"), np.array([worked_examples.A1, worked_examples.A2], np.float32))
    r, got = cam(path("e2.ccm"), path("x2.npy"))
    if not r.returncode:
        third = np.float32(1) / np.float32(3)
        exact("example 2: A = [A1, A2]", got["act"], [worked_examples.A1, worked_examples.A2])
        close = lambda a, b: float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())
        d = close(got["grad"], np.stack([np.full((3, 3), 3 / 9), np.full((3, 3), -6 / 9)]))
        check("example 2: dy/dA = [3, -6] / 9 per channel", d <= 6e-8, f"max|d| {d:.3g}")
        d = close(got["w"], [1 / 3, -2 / 3])
        check("example 2: channel weights [1/3, -2/3]", d <= 6e-8, f"{got['w'].tolist()}")
        d = close(got["raw"], [[1 / 3, 0, 2 / 3], [0, 1, 0], [0, 1 / 3, 0]])
        check("example 2: ReLU(alpha . A) = [[1/3,0,2/3],[0,1,0],[0,1/3,0]]", d <= 6e-8,
              f"{got['raw'].tolist()} (float32 1/3 = {third})")
        check("example 2: the logit 3 mean(A1) - 6 mean(A2) = 0", abs(float(got["logits"][0, 0])) <= 1e-6,
              str(got["logits"]))


# ---- 2. what an image becomes for 1 and 4 channels -------------------------------------------

def test_images():
    """name -> path of images made here with Pillow from the repository's photos."""
    rng = np.random.default_rng(18)
    chelsea = Image.open(CHELSEA).convert("RGB").resize((120, 80), Image.BILINEAR)
    a = np.asarray(chelsea)
    alpha = (np.arange(a.shape[1])[None, :] * 255 // (a.shape[1] - 1) * np.ones((a.shape[0], 1))).astype(np.uint8)
    imgs = {
        "random.png": Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)),
        "gray.png": chelsea.convert("L"),
        "la.png": Image.merge("LA", (chelsea.convert("L"), Image.fromarray(alpha))),
        "rgba.png": Image.fromarray(np.dstack([a, alpha]), "RGBA"),
        "palette.png": chelsea.convert("P", palette=Image.ADAPTIVE, colors=32),
    }
    for name, im in imgs.items():
        im.save(path(name))
    # tRNS: a palette with transparent entries, a gray value and an RGB colour marked transparent.
    pal = imgs["palette.png"]
    pal.save(path("palette_trns.png"), transparency=bytes([0, 128] + [255] * 30))
    gray = imgs["gray.png"]
    gray.save(path("gray_trns.png"), transparency=int(np.asarray(gray)[40, 60]))
    chelsea.save(path("rgb_trns.png"), transparency=tuple(int(v) for v in a[40, 60]))
    names = list(imgs) + ["palette_trns.png", "gray_trns.png", "rgb_trns.png"]
    return [path(n) for n in names] + [os.path.join(PHOTOS, p) for p in sorted(os.listdir(PHOTOS))
                                       if p.endswith((".png", ".jpg"))]


def pixels_case(images):
    must_convert("id1.ccm", "--module", os.path.join(MODELS, "inputs.py:identity1"), "--mean", "0", "--std", "1",
                 "--labels", labels(2), "--layer", "conv")
    must_convert("id4.ccm", "--module", os.path.join(MODELS, "inputs.py:identity4"), "--mean", "0", "0", "0", "0",
                 "--std", "1", "1", "1", "1", "--labels", labels(2), "--layer", "conv")
    for mode, model in (("L", "id1.ccm"), ("RGBA", "id4.ccm")):
        bad = []
        for img in images:
            r, got = cam(path(model), img, "-l", "conv")
            if r.returncode:
                bad.append(os.path.basename(img))
                continue
            want = np.asarray(Image.open(img).convert(mode), np.float32)
            want = want[None] if want.ndim == 2 else want.transpose(2, 0, 1)
            if not np.array_equal(got["act"], want / np.float32(255)):
                n = int((np.round(got["act"] * 255) != want).sum()) if got["act"].shape == want.shape else -1
                bad.append(f"{os.path.basename(img)} ({n} values differ)")
        check(f"a {1 if mode == 'L' else 4}-channel model sees Pillow's convert(\"{mode}\") / 255 exactly, on "
              f"{len(images)} images", not bad, ", ".join(bad))
    # A 1-channel overlay: the heatmap on the gray picture.
    d = path("ovl")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    r = run(["cam", "-m", path("id1.ccm"), "-l", "conv", "-o", "o.png", "--cam-out", "c.npy", KITE], cwd=d)
    if check("overlay of a 1-channel model: exit 0", r.returncode == 0, r.stderr):
        L = np.asarray(Image.open(KITE).convert("L"), np.float32) / 255
        want = show_cam_on_image(np.dstack([L] * 3), np.load(os.path.join(d, "c.npy")), use_rgb=True)
        got = np.asarray(Image.open(os.path.join(d, "o.png")).convert("RGB"))
        diff = int(np.abs(got.astype(int) - want).max())
        check("overlay of a 1-channel model is drawn on the gray picture (reference show_cam_on_image, +-1)",
              diff <= 1, f"max|d| {diff}")


# ---- 3. LeNet and a 4-channel CNN against PyTorch ---------------------------------------------

def load_from_ccm(model, ccm_path):
    """The torch module with the tensors the file stores."""
    m = ccm.read(ccm_path)
    state = model.state_dict()
    with torch.no_grad():
        for name in m.tensors:
            state[name].copy_(torch.from_numpy(np.array(m.tensor(name), np.float32)))
    return model.eval()


def normalised(img, mean, std):
    a = np.asarray(img, np.float32) / np.float32(255)
    a = a[:, :, None] if a.ndim == 2 else a
    a = (a - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def against_torch(label, model, ccm_path, image, pil, layer, mean, std, *opts):
    r, got = cam(ccm_path, image, "-l", layer, *opts)
    if r.returncode:
        return
    ref, _ = reference_gradcam(model, [layer], normalised(pil, mean, std), [int(np.argmax(got["logits"][0]))])
    ref = ref[0]
    scale = float(np.abs(ref["logits"]).max())
    d = float(np.abs(got["logits"][0] - ref["logits"]).max())
    check(f"{label}: logits match PyTorch (max|d| {d:.2g})", d <= TOL_LOGITS * max(scale, 1.0),
          f"tolerance {TOL_LOGITS * max(scale, 1.0):.3g}")
    d = float(np.abs(got["cam"] - ref["map"]).max()) if got["cam"].shape == ref["map"].shape else float("inf")
    check(f"{label}: the Grad-CAM map at {layer} matches PyTorch's (max|d| {d:.2g})", d <= TOL_MAP,
          f"max|d| {d:.3g}, shapes {got['cam'].shape} {ref['map'].shape}")


def lenet_case():
    lenet = os.path.join(MODELS, "inputs.py:lenet")
    mean, std = [0.1307], [0.3081]
    code, err = convert("lenet_224.ccm", "--module", lenet, "--mean", "0.1307", "--std", "0.3081",
                        "--labels", labels(10))
    check("LeNet without --input-size: 1 channel found, but 224x224 fails: exit 2, says --input-size",
          code == 2 and "1x1x224x224" in err and "--input-size" in err, f"exit {code}: {err}")
    code, err = convert("lenet_nomean.ccm", "--module", lenet, "--input-size", "1x28x28", "--labels", labels(10))
    check("a gray model without --mean/--std: exit 2, asks for one value each",
          code == 2 and "--mean and --std with 1 value each" in err, f"exit {code}: {err}")
    code, err = convert("lenet_mean3.ccm", "--module", lenet, "--input-size", "1x28x28", "--mean", "0.5", "0.5",
                        "0.5", "--std", "0.5", "--labels", labels(10))
    check("--mean of 3 values for a 1-channel model: exit 2", code == 2 and "--mean has 3 values" in err, err)
    must_convert("lenet.ccm", "--module", lenet, "--input-size", "1,28,28", "--mean", "0.1307", "--std", "0.3081",
                 "--labels", labels(10))
    r = run(["info", path("lenet.ccm")])
    check("cnncam info: 1 channel, gray, fixed size 28x28, layers for 1x1x28x28",
          r.returncode == 0 and "input         1 channel (gray" in r.stdout and "28x28 only" in r.stdout and
          "1x1x28x28" in r.stdout, r.stdout + r.stderr)
    r = run(["info", "--size", "32x32", path("lenet.ccm")])
    check("cnncam info --size 32x32 on a 28x28 model: exit 2, names both sizes",
          r.returncode == 2 and "28x28" in r.stderr and "32x32" in r.stderr, r.stderr)
    model = load_from_ccm(nets.lenet(), path("lenet.ccm"))
    small = Image.open(KITE).convert("RGB").resize((28, 28), Image.BILINEAR)
    small.convert("L").save(path("gray28.png"))
    small.save(path("rgb28.png"))
    against_torch("LeNet, gray PNG", model, path("lenet.ccm"), path("gray28.png"),
                  Image.open(path("gray28.png")).convert("L"), "features.4", mean, std)
    against_torch("LeNet, RGB PNG read as luminance", model, path("lenet.ccm"), path("rgb28.png"),
                  Image.open(path("rgb28.png")).convert("L"), "features.4", mean, std)
    # torchvision's Resize(28) + CenterCrop(28) on the PIL gray image.
    import torchvision.transforms as T
    pil = T.CenterCrop(28)(T.Resize(28)(Image.open(KITE).convert("L")))
    against_torch("LeNet, an RGB photo with --resize 28 --crop 28 (gray, then resized)", model, path("lenet.ccm"),
                  KITE, pil, "features.4", mean, std, "--resize", "28", "--crop", "28")


def rgba_case():
    mean, std = ["0.5"] * 4, ["0.25"] * 4
    must_convert("rgba.ccm", "--module", os.path.join(MODELS, "inputs.py:rgba_net"), "--random-init", "--seed", "3",
                 "--mean", *mean, "--std", *std, "--labels", labels(5))
    md = ccm.read(path("rgba.ccm")).metadata
    check("the RGBA model: 4 channels, no fixed size, features chosen",
          md.get("input.channels") == 4 and "input.height" not in md and md["gradcam.layer"] == "features", str(md))
    model = load_from_ccm(nets.rgba_net(), path("rgba.ccm"))
    against_torch("4-channel CNN, RGBA PNG", model, path("rgba.ccm"), path("rgba.png"),
                  Image.open(path("rgba.png")).convert("RGBA"), "features", [0.5] * 4, [0.25] * 4)
    against_torch("4-channel CNN, JPEG (alpha 255)", model, path("rgba.ccm"), os.path.join(PHOTOS, "rocket.jpg"),
                  Image.open(os.path.join(PHOTOS, "rocket.jpg")).convert("RGBA"), "features", [0.5] * 4, [0.25] * 4)


# ---- 4. refusals ---------------------------------------------------------------------------------

def refusals():
    np.save(path("rgb28.npy"), np.zeros((1, 3, 28, 28), np.float32))
    np.save(path("gray20.npy"), np.zeros((1, 20, 20), np.float32))
    np.save(path("three.npy"), np.zeros((3, 5, 5), np.float32))
    outs = ["-o", "cam.png", "--cam-out", "cam.npy", "--logits-out", "l.npy"]
    cases = [
        ("a 320x213 photo for LeNet (28x28 only)", ["-m", path("lenet.ccm"), KITE],
         ["kite.png", "28x28", "213x320", "--resize 28 --crop 28x28"]),
        ("a 1x3x28x28 .npy for LeNet (1 channel)", ["-m", path("lenet.ccm"), path("rgb28.npy")],
         ["rgb28.npy", "1x3x28x28", "1xHxW", "1 channel"]),
        ("a 1x20x20 .npy for LeNet (28x28 only)", ["-m", path("lenet.ccm"), path("gray20.npy")],
         ["gray20.npy", "28x28", "20x20", "tensor of that size"]),
        ("a 3-channel .npy for the RGBA model", ["-m", path("rgba.ccm"), path("three.npy")],
         ["three.npy", "4xHxW", "4 channels"]),
        ("a PNG for the 2-channel example 2", ["-m", path("e2.ccm"), KITE], ["kite.png", "2 input channels", ".npy"]),
        ("--resize for the RGBA model", ["-m", path("rgba.ccm"), "--resize", "64", path("rgba.png")],
         ["rgba.png", "--resize", "RGBA"]),
    ]
    for name, args, says in cases:
        d = path("refused")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        r = run(["cam", *outs, *args], cwd=d)
        missing = [s for s in says if s not in r.stderr]
        check(f"refused: {name} -> exit 2, says {says}, writes nothing",
              r.returncode == 2 and not missing and not os.listdir(d),
              f"exit {r.returncode}; stderr {r.stderr.strip()!r}; missing {missing}; files {os.listdir(d)}")


# ---- 5. dict and tuple outputs ---------------------------------------------------------------------

def heads_case():
    x_img = Image.open(KITE).convert("RGB")
    x = normalised(x_img, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    for factory, entries in (("dict_head", [(None, "out", "'out'"), ("aux", "aux", "'aux'"), ("1", "aux", "aux")]),
                             ("tuple_head", [(None, 0, "0"), ("1", 1, "1"), ("-1", 1, "-1")])):
        spec = os.path.join(MODELS, "inputs.py:" + factory)
        model = getattr(nets, factory)().eval()
        with torch.no_grad():
            ref_all = model(x)
        for key, entry, shown in entries:
            ref = ref_all[entry].numpy()[0]
            out = f"{factory}_{shown.strip(chr(39)).replace('-', 'm')}.ccm"
            err = must_convert(out, "--module", spec, "--labels", labels(ref.size),
                               *(["--output-key", key] if key else []))
            if key is None:
                check(f"{factory}: the default takes the first tensor and the note names it ({shown})",
                      "note: the model returns" in err and f"the logits are entry {shown}" in err, err)
            r = run(["predict", "-m", path(out), "--logits-out", path("hl.npy"), KITE])
            if check(f"{factory} --output-key {key}: predict exits 0", r.returncode == 0, r.stderr):
                got = np.load(path("hl.npy"))[0]
                d = float(np.abs(got - ref).max()) if got.shape == ref.shape else float("inf")
                check(f"{factory} --output-key {key}: the C engine's {ref.size} logits match PyTorch's entry "
                      f"{shown} (max|d| {d:.2g})", d <= TOL_LOGITS * max(1.0, float(np.abs(ref).max())), f"max|d| {d:.3g}")
    code, err = convert("bad_key.ccm", "--module", os.path.join(MODELS, "inputs.py:dict_head"), "--labels",
                        labels(6), "--output-key", "logits")
    check("--output-key naming no entry: exit 2, lists the keys", code == 2 and "out, aux" in err and
          not os.path.exists(path("bad_key.ccm")), err)
    code, err = convert("bad_index.ccm", "--module", os.path.join(MODELS, "inputs.py:tuple_head"), "--labels",
                        labels(6), "--output-key", "2")
    check("--output-key 2 of a 2-tuple: exit 2", code == 2 and "0 to 1" in err, err)
    code, err = convert("one.ccm", "--module", os.path.join(MODELS, "inputs.py:lenet"), "--input-size", "1,28,28",
                        "--mean", "0", "--std", "1", "--labels", labels(10), "--output-key", "0")
    check("--output-key for a model returning one tensor: exit 2", code == 2 and "one tensor" in err, err)


def main():
    if not os.access(CNNCAM, os.X_OK):
        print(f"FAIL {CNNCAM} is missing: run make all")
        return 1
    return run_suite("inputs", all_parts, W)


def all_parts():
    images = test_images()
    for part in (worked_examples_case, lambda: pixels_case(images), lenet_case, rgba_case, refusals, heads_case):
        part()


if __name__ == "__main__":
    sys.exit(main())
