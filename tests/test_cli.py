#!/usr/bin/python3
"""tests/test_cli.py — the cnncam command as a user meets it.

Usage: /usr/bin/python3 tests/test_cli.py   (from any directory; after `make all`;
       CNNCAM=/path/to/cnncam tests the binary there instead of build/cnncam)

Converts small models into a temporary directory (tools/cnncam-convert: a
random-init mobilenet_v3_small, and the article's two worked examples from
tests/models/worked_examples.py), runs build/cnncam on photos from
assets/images and on .npy tensors, and checks:
  1. the article's worked examples through the whole tool (converter, .npy
     input, -l, -c, --act-out/--grad-out/--logits-out/--weights-out/--raw-out/
     --cam-out) to 1e-6: conv out [[4,7],[5,6]], logits [13,15], the gradients
     of logit 0, alpha [1/3,-2/3] and the map ReLU(alpha . A);
  2. bad inputs (damaged, truncated, empty, missing, mislabelled images, a
     .npy of the wrong shape, unknown layer, class out of range or ambiguous,
     conflicting or unknown options, images over --max-pixels, unwritable
     outputs, damaged and non-model files as -m): the documented exit code
     (1 usage, 2 input or model error), a message on stderr that names the
     problem, and nothing written (the output directory is compared before
     and after, so temporary files count too); with several images one bad
     image fails alone;
  3. outputs: JPEG and PNG overlays (magic bytes, size), both overlay modes
     against cv2's JET table, --cam-out/--logits-out as numpy reads them,
     output names for several images and --top K as `cnncam cam --help`
     documents them, --json, predict --top, --resize/--crop,
     --torchvision-eval, --version/--help, and that `cnncam cam --help`
     names every option tools/cam_options.c accepts (and no other);
  4. a multi-label model (--multi-label): predict, --json and cam give each
     class 1/(1+exp(-logit)) of its --logits-out logit, say "sigmoid", and
     cnncam info says output sigmoid; the softmax model says softmax.
  5. the low-memory mode, on a model with a 62.5 MiB linear layer
     (tests/models/zoo.py:wide_head): one image peaks at least 40 MiB lower
     than with --no-low-memory (peak RSS of the process, by GNU time), with the
     same map to 1e-5; two images keep the weight (as --no-low-memory), and
     --low-memory streams it for them too.
Prints one line per check and "cli: N passed, N failed"; exits 1 on any failure.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tally import check, run as run_suite  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))   # make test passes its $(BUILD)
CNNCAM = os.environ.get("CNNCAM", os.path.join(BUILD, "cnncam"))   # or an installed one
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
EXAMPLES = os.path.join(ROOT, "tests", "models", "worked_examples.py")
ZOO = os.path.join(ROOT, "tests", "models", "zoo.py")
PHOTOS = os.path.join(ROOT, "assets", "images")
KITE, CHELSEA = os.path.join(PHOTOS, "kite.png"), os.path.join(PHOTOS, "chelsea.png")  # 320x213, 451x300
TRUNCATED_JPG = os.path.join(ROOT, "tests", "data", "img", "truncated.jpg")
CAM_OPTIONS_C = os.path.join(ROOT, "tools", "cam_options.c")   # the option parser of cam and predict

# The article's numbers (docs/NUMERICS.md, the worked examples).
X = np.array([[1, 2, 3], [1, 1, 2], [2, 1, 2]], np.float32)
CONV_OUT = np.array([[4, 7], [5, 6]], np.float32)
LOGITS = np.array([13, 15], np.float32)
DCONV_0 = np.array([[0, 1], [0, 1]], np.float32)
DX_0 = np.array([[0, 1, 0], [0, 2, 2], [0, 1, 2]], np.float32)
A1 = np.array([[1, 0, 2], [3, 5, 0], [1, 1, 1]], np.float32)
A2 = np.array([[0, 1, 0], [3, 1, 0], [1, 0, 1]], np.float32)
ALPHA = np.array([1 / 3, -2 / 3], np.float32)
RAW = np.array([[1 / 3, 0, 2 / 3], [0, 1, 0], [0, 1 / 3, 0]], np.float32)
EXACT = 1e-6

W = tempfile.mkdtemp(prefix="cnncam-test-cli.")


def run(args, cwd=None):
    return subprocess.run([CNNCAM, *args], cwd=cwd or W, capture_output=True, text=True, timeout=120)


def path(*parts):
    return os.path.join(W, *parts)


def fresh_dir(name):
    d = path(name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def listing(d):
    return sorted(os.listdir(d))


def maxdiff(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    return float(np.abs(got - want).max()) if got.size else 0.0


def close(name, got, want, tol=EXACT):
    d = maxdiff(got, want)
    return check(name, d <= tol, f"shape {np.shape(got)} vs {np.shape(want)}, max|d| {d:.3g} > {tol:g}\n"
                 f"  got  {np.asarray(got).tolist()}\n  want {np.asarray(want).tolist()}")


def ran_ok(name, r):
    return check(name + " (exit 0)", r.returncode == 0, f"exit {r.returncode}; stderr: {r.stderr.strip()}")


def load(name, f):
    try:
        return np.load(f)
    except Exception as e:  # a missing or unreadable output fails its check
        check(f"{name}: numpy.load({os.path.basename(f)})", False, f"{type(e).__name__}: {e}")
        return np.full((0,), np.nan, np.float32)


def minmax(a):
    """docs/NUMERICS.md step 3 in float32."""
    a = a.astype(np.float32)
    a = a - a.min()
    return a / (a.max() + np.float32(1e-7))


def convert(out, *args):
    r = subprocess.run([CONVERT, *args, "-o", out], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"cnncam-convert {' '.join(args)} failed: {r.stderr}")


# ---- 1. the article's worked examples, through the whole tool -------------------------------------

def worked_examples():
    # Example 1 as the article writes it: X is the 1 x 1 x 3 x 3 input (tests/test_inputs.py has more).
    np.save(path("x1.npy"), X[None, None])
    r = run(["cam", "-m", "e1.ccm", "-c", "0", "-l", "conv", "--grad-out", "g.npy", "--act-out", "a.npy",
             "--logits-out", "l.npy", "x1.npy"])
    if ran_ok("example 1: cam -c 0 -l conv", r):
        close("example 1: conv out (--act-out) = [[4,7],[5,6]]", load("ex1", path("a.npy")), CONV_OUT[None])
        close("example 1: logits (--logits-out) = [13,15]", load("ex1", path("l.npy")), LOGITS[None])
        close("example 1: d logit0 / d conv out (--grad-out) = [[0,1],[0,1]]", load("ex1", path("g.npy")),
              DCONV_0[None])
    r = run(["cam", "-m", "e1.ccm", "-c", "1", "-l", "conv", "--grad-out", "g1.npy", "x1.npy"])
    if ran_ok("example 1: cam -c 1 -l conv", r):
        close("example 1: d logit1 / d conv out = the second linear row [[1,0],[1,1]]",
              load("ex1", path("g1.npy")), np.array([[[1, 0], [1, 1]]], np.float32))
    r = run(["cam", "-m", "e1.ccm", "-c", "0", "-l", "input", "--grad-out", "gx.npy", "--cam-out", "sx.npy",
             "x1.npy"])
    if ran_ok("example 1: cam -c 0 -l input", r):
        gx = load("ex1", path("gx.npy"))
        close("example 1: dX (-l input --grad-out) = [[0,1,0],[0,2,2],[0,1,2]]", gx, DX_0[None])
        # Saliency: max over channels of |dX|, min-max, resize 3x3 -> 3x3 (identity), min-max again.
        close("example 1: -l input --cam-out = min-max(max_c |dX|), twice", load("ex1", path("sx.npy")),
              minmax(minmax(np.abs(DX_0))))
        check("example 1: stdout names the explained class 0 'crane, wading bird'",
              "class 0 'crane, wading bird'" in r.stdout, r.stdout)

    # Example 2: A1 and A2 are the two channels of the input (2 x 3 x 3); 'features' passes A on.
    np.save(path("x2.npy"), np.stack([A1, A2]))
    r = run(["cam", "-m", "e2.ccm", "-l", "features", "--weights-out", "w.npy", "--raw-out", "r.npy",
             "--cam-out", "c.npy", "--act-out", "a2.npy", "--grad-out", "g2.npy", "--json", "x2.npy"])
    if ran_ok("example 2: cam -l features", r):
        close("example 2: A (--act-out) = [A1, A2]", load("ex2", path("a2.npy")), np.stack([A1, A2]))
        close("example 2: dy/dA (--grad-out) = [3, -6] / 9 per channel", load("ex2", path("g2.npy")),
              np.stack([np.full((3, 3), 3 / 9), np.full((3, 3), -6 / 9)]))
        close("example 2: channel weights (--weights-out) = [1/3, -2/3]", load("ex2", path("w.npy")), ALPHA)
        close("example 2: raw map (--raw-out) = [[1/3,0,2/3],[0,1,0],[0,1/3,0]]", load("ex2", path("r.npy")),
              RAW)
        cam = load("ex2", path("c.npy"))
        close("example 2: --cam-out = the raw map min-maxed (per layer, then once more)", cam,
              minmax(minmax(RAW)))
        check("example 2: --cam-out is float32", cam.dtype == np.float32, str(cam.dtype))
        try:
            j = json.loads(r.stdout)
            check("example 2: --json logit = 3 mean(A1) - 6 mean(A2) = 0",
                  abs(j["top"][0]["logit"]) <= 1e-5 and j["top"][0]["probability"] == 1, r.stdout)
        except (ValueError, KeyError, IndexError) as e:
            check("example 2: --json", False, f"{e}: {r.stdout!r}")
    # A .npy input has no photo: -o draws the heatmap alone, at the tensor's size.
    r = run(["cam", "-m", "e2.ccm", "-o", "heat.png", "x2.npy"])
    if ran_ok("example 2: -o with a .npy input", r):
        with Image.open(path("heat.png")) as im:
            check("example 2: -o with a .npy input is a 3x3 PNG", (im.format, im.size) == ("PNG", (3, 3)),
                  f"{im.format} {im.size}")


# ---- 2. bad inputs ---------------------------------------------------------------------------

def make_bad_files():
    src = open(KITE, "rb").read()
    i = src.index(b"IDAT") + 4
    b = bytearray(src)
    for k in range(i + 100, i + 140):   # flip 40 bytes of compressed image data
        b[k] ^= 0xFF
    open(path("corrupt.png"), "wb").write(bytes(b))
    open(path("truncated.png"), "wb").write(src[:len(src) // 2])
    open(path("text.jpg"), "w").write("hello, I am not a JPEG\n")
    open(path("empty.jpg"), "wb").close()
    np.save(path("wrong.npy"), np.zeros((1, 4, 8, 8), np.float32))
    model = open(path("m.ccm"), "rb").read()
    open(path("truncated.ccm"), "wb").write(model[:len(model) // 3])
    b = bytearray(model)
    b[len(b) // 2] ^= 0x55
    open(path("flipped.ccm"), "wb").write(bytes(b))
    open(path("labels.ccm"), "w").write("tench\ngoldfish\n")


def bad_inputs():
    make_bad_files()
    outs = ["-o", "cam.png", "--cam-out", "cam.npy", "--grad-out", "g.npy"]
    m = ["-m", path("m.ccm")]
    # (name, arguments, exit code, what stderr must say)
    cases = [
        ("corrupt PNG (IDAT bytes flipped)", m + outs + [path("corrupt.png")], 2,
         ["corrupt.png", "damaged PNG"]),
        ("truncated PNG", m + outs + [path("truncated.png")], 2, ["truncated.png", "truncated"]),
        ("truncated JPEG (tests/data/img)", m + outs + [TRUNCATED_JPG], 2, ["truncated.jpg", "truncated"]),
        ("a text file named .jpg", m + outs + [path("text.jpg")], 2, ["text.jpg", "not a JPEG or PNG"]),
        ("an empty file", m + outs + [path("empty.jpg")], 2, ["empty.jpg", "empty"]),
        ("a nonexistent image", m + outs + [path("nonesuch.png")], 2, ["nonesuch.png", "No such file"]),
        ("a directory as the image", m + outs + [W], 2, [W]),
        ("a .npy of the wrong shape", m + outs + [path("wrong.npy")], 2, ["wrong.npy", "1x4x8x8", "3xHxW"]),
        ("an unknown layer", m + outs + ["-l", "features.99", KITE], 2,
         ["no layer 'features.99'", "nearest: features.9"]),
        ("a misspelt layer", m + outs + ["-l", "featurs.12", KITE], 2, ["nearest: features.12"]),
        ("the logits as the layer", m + outs + ["-l", "classifier.3", KITE], 2, ["logits"]),
        ("a class out of range (-c 5000)", m + outs + ["-c", "5000", KITE], 2,
         ["5000", "out of range", "1000 classes"]),
        ("a negative class (-c -1)", m + outs + ["-c", "-1", KITE], 2, ["-1", "out of range"]),
        ("an unknown class label", m + outs + ["-c", "hippogriff", KITE], 2, ["hippogriff"]),
        ("an ambiguous ImageNet label (-c crane: 134 and 517)", m + outs + ["-c", "crane", KITE], 2,
         ["ambiguous", "134", "517"]),
        ("an ambiguous label of a --labels model", ["-m", path("e1.ccm")] + outs + ["-c", "crane", "x1.npy"], 2,
         ["ambiguous", "0 'crane, wading bird'", "1 'crane, lifting machine'"]),
        ("-c and --top together", m + outs + ["-c", "3", "--top", "2", KITE], 1, ["-c and --top"]),
        ("an unknown option", m + outs + ["--bogus", KITE], 1, ["unknown option '--bogus'"]),
        ("an option without its value", m + [KITE, "--top"], 1, ["--top", "needs a value"]),
        ("a bad --top", m + outs + ["--top", "0", KITE], 1, ["--top"]),
        ("a bad --alpha", m + outs + ["--alpha", "1.5", KITE], 1, ["--alpha", "1.5"]),
        ("-o with an extension that is no picture format", m + ["-o", "cam.gif", KITE], 1, ["cam.gif", ".png"]),
        ("--torchvision-eval with --resize", m + outs + ["--torchvision-eval", "--resize", "256", KITE], 1,
         ["--torchvision-eval"]),
        ("missing -m", outs + [KITE], 1, ["-m"]),
        ("no image", m + outs, 1, ["no image"]),
        ("an image over --max-pixels", m + outs + ["--max-pixels", "68159", KITE], 2,
         ["320x213", "68160", "--max-pixels"]),
        ("an unwritable output directory (-o /sys/cam.png)", m + ["-o", "/sys/cam.png", KITE], 2,
         ["/sys/cam.png"]),
        ("a missing output directory (-o /nonexistent/dir/cam.png)", m + ["-o", "/nonexistent/dir/cam.png", KITE],
         2, ["/nonexistent/dir/cam.png", "No such file"]),
        ("a missing output directory (--cam-out)", m + ["--cam-out", "/nonexistent/dir/cam.npy", KITE], 2,
         ["/nonexistent/dir/cam.npy"]),
        ("a missing output directory (--logits-out)", m + ["--logits-out", "/nonexistent/l.npy", KITE], 2,
         ["/nonexistent/l.npy"]),
        ("a model file cut to a third", ["-m", path("truncated.ccm")] + outs + [KITE], 2,
         ["truncated.ccm", "truncated"]),
        ("a model file with one byte flipped", ["-m", path("flipped.ccm")] + outs + [KITE], 2,
         ["flipped.ccm", "corrupt"]),
        ("a PNG as the model", ["-m", KITE] + outs + [KITE], 2, ["kite.png", "not a .ccm model file"]),
        ("a text file as the model", ["-m", path("labels.ccm")] + outs + [KITE], 2, ["labels.ccm"]),
        ("a nonexistent model", ["-m", path("nonesuch.ccm")] + outs + [KITE], 2,
         ["nonesuch.ccm", "No such file"]),
        ("a model without an evaluation recipe and --torchvision-eval",
         ["-m", path("e1.ccm"), "--torchvision-eval"] + outs + [KITE], 2, ["evaluation recipe"]),
        ("predict with -c", ["predict"] + m + ["-c", "3", KITE], 1, ["'-c'"]),
        ("-l input with --weights-out (saliency has no channel weights)",
         m + outs + ["-l", "input", "--weights-out", "w.npy", KITE], 1, ["--weights-out", "-l input"]),
        ("a .npy over --max-pixels", ["-m", path("e1.ccm"), "--max-pixels", "8"] + outs + ["x1.npy"], 2,
         ["x1.npy", "3x3 = 9 pixels", "--max-pixels"]),
    ]
    for name, args, code, says in cases:
        d = fresh_dir("bad")
        shutil.copy(path("x1.npy"), d)
        before = listing(d)
        cmd = args if args and args[0] == "predict" else ["cam", *args]
        r = run(cmd, cwd=d)
        missing = [s for s in says if s not in r.stderr]
        after = listing(d)
        good = r.returncode == code and not missing and after == before
        check(f"bad input: {name} -> exit {code}, says {says}, writes nothing", good,
              f"exit {r.returncode}; stderr {r.stderr.strip()!r}" + (f"; missing {missing}" if missing else "") +
              (f"; files {sorted(set(after) - set(before))}" if after != before else ""))

    # An existing directory where the picture should go: the write fails at the rename, and
    # the temporary file next to it must be gone.
    d = fresh_dir("bad")
    os.mkdir(os.path.join(d, "cam.png"))
    r = run(["cam", "-m", path("m.ccm"), "-o", "cam.png", KITE], cwd=d)
    check("bad output: -o names a directory -> exit 2, says so, no temporary file left",
          r.returncode == 2 and "cam.png" in r.stderr and listing(d) == ["cam.png"] and
          not os.listdir(os.path.join(d, "cam.png")),
          f"exit {r.returncode}; stderr {r.stderr.strip()!r}; files {listing(d)}")

    # Several images, one bad: the others still run and are written; exit 2; the failed
    # image's --logits-out row is NaN (as --help documents).
    d = fresh_dir("several")
    r = run(["cam", "-m", path("m.ccm"), "-o", "cam.png", "--logits-out", "l.npy", KITE, path("text.jpg"), CHELSEA],
            cwd=d)
    check("several images, one bad: exit 2", r.returncode == 2, f"exit {r.returncode}; {r.stderr}")
    check("several images, one bad: the good ones are written, nothing else",
          listing(d) == ["cam.chelsea.png", "cam.kite.png", "l.npy"], str(listing(d)))
    check("several images, one bad: stderr names the bad image and counts the failures",
          "text.jpg" in r.stderr and "1 of 3 images failed" in r.stderr and "kite.png" not in r.stderr, r.stderr)
    check("several images, one bad: stdout reports the good ones",
          "kite.png: class" in r.stdout and "chelsea.png: class" in r.stdout, r.stdout)
    if os.path.exists(os.path.join(d, "l.npy")):
        lg = np.load(os.path.join(d, "l.npy"))
        check("several images, one bad: --logits-out has a NaN row for it, finite rows for the others",
              lg.shape == (3, 1000) and np.isnan(lg[1]).all() and np.isfinite(lg[[0, 2]]).all(),
              f"shape {lg.shape}, NaN per row {np.isnan(lg).sum(axis=1).tolist()}")


# ---- 3. outputs -------------------------------------------------------------------------------

def jet_rgb(mask):
    """The reference's colour: OpenCV's COLORMAP_JET at trunc(255 * mask), as RGB."""
    m8 = (255 * mask.astype(np.float32)).astype(np.uint8)
    return cv2.applyColorMap(m8, cv2.COLORMAP_JET)[..., ::-1].astype(np.float32)


def pixels(f):
    with Image.open(f) as im:
        return np.asarray(im.convert("RGB"), np.float32)


def pictures():
    d = fresh_dir("pictures")
    r = run(["cam", "-m", path("m.ccm"), "-o", "x.jpg", "--cam-out", "cam.npy", KITE], cwd=d)
    if ran_ok("-o x.jpg", r):
        head = open(os.path.join(d, "x.jpg"), "rb").read(3)
        with Image.open(os.path.join(d, "x.jpg")) as im:
            check("-o x.jpg writes a JPEG (FF D8 FF) of the image's size (320x213)",
                  head == b"\xff\xd8\xff" and (im.format, im.size) == ("JPEG", (320, 213)),
                  f"{head!r} {im.format} {im.size}")
        cam = load("--cam-out", os.path.join(d, "cam.npy"))
        check("--cam-out is float32 H x W (213x320)", cam.dtype == np.float32 and cam.shape == (213, 320),
              f"{cam.dtype} {cam.shape}")
        if cam.size:
            check("--cam-out lies in [0, 1], min 0, max 1 - ~1.2e-7 (the reference's last min-max)",
                  cam.min() == 0 and 1 - 2.5e-7 < cam.max() < 1, f"min {cam.min()!r} max {cam.max()!r}")
    r = run(["cam", "-m", path("m.ccm"), "-o", "x.png", "--cam-out", "cam.npy", KITE], cwd=d)
    if ran_ok("-o x.png", r):
        head = open(os.path.join(d, "x.png"), "rb").read(8)
        with Image.open(os.path.join(d, "x.png")) as im:
            check("-o x.png writes a PNG (89 'PNG' 0D 0A 1A 0A) of the image's size (320x213)",
                  head == b"\x89PNG\r\n\x1a\n" and (im.format, im.size, im.mode) == ("PNG", (320, 213), "RGB"),
                  f"{head!r} {im.format} {im.size} {im.mode}")
        # The default overlay is the reference's show_cam_on_image (docs/NUMERICS.md), to +-1.
        cam, img = load("--cam-out", os.path.join(d, "cam.npy")), pixels(KITE)
        want = 0.5 * jet_rgb(cam) / 255 + 0.5 * img / 255
        want = np.floor(255 * (want / want.max()))
        close("-o x.png: the reference overlay (JET, image weight 0.5, brightened) to +-1",
              pixels(os.path.join(d, "x.png")), want, 1)
        r = run(["cam", "-m", path("m.ccm"), "-o", "clean.png", "--overlay", "clean", "--alpha", "0.3", KITE],
                cwd=d)
        if ran_ok("--overlay clean --alpha 0.3", r):
            clean, ref = pixels(os.path.join(d, "clean.png")), pixels(os.path.join(d, "x.png"))
            check("--overlay clean --alpha 0.3 changes the picture",
                  clean.shape == ref.shape and np.abs(clean - ref).max() > 20,
                  f"max |d| {np.abs(clean - ref).max() if clean.shape == ref.shape else 'shape'}")
            close("--overlay clean --alpha 0.3 = round(0.7 image + 0.3 JET) to +-1", clean,
                  np.round(0.7 * img + 0.3 * jet_rgb(cam)), 1)
    r = run(["cam", "-m", path("m.ccm"), "-o", "q.jpg", "--jpeg-quality", "20", KITE], cwd=d)
    if ran_ok("--jpeg-quality 20", r):
        check("--jpeg-quality 20 gives a smaller JPEG than the default 95",
              os.path.getsize(os.path.join(d, "q.jpg")) < os.path.getsize(os.path.join(d, "x.jpg")),
              f"{os.path.getsize(os.path.join(d, 'q.jpg'))} vs {os.path.getsize(os.path.join(d, 'x.jpg'))}")
    r = run(["cam", "-m", path("m.ccm"), "--threads", "2", "--cam-out", "cam2.npy", KITE], cwd=d)
    if ran_ok("--threads 2", r):
        close("--threads 2 gives the same map as 1 (1e-5)", load("--threads", os.path.join(d, "cam2.npy")),
              load("--cam-out", os.path.join(d, "cam.npy")), 1e-5)


def every_image_kind():
    """Every PNG colour type and bit depth and every JPEG kind of tests/data/img in one run."""
    src = os.path.join(ROOT, "tests", "data", "img")
    imgs = sorted(f for f in os.listdir(src) if f.endswith((".png", ".jpg")) and f != "truncated.jpg")
    imgs = [f for f in imgs if not (f.endswith(".png") and f[:-4] + ".jpg" in imgs)]  # one per stem: no numbering
    d = fresh_dir("kinds")
    r = run(["cam", "-m", path("m.ccm"), "--cam-out", "cam.npy", *[os.path.join(src, f) for f in imgs]], cwd=d)
    want = sorted(f"cam.{os.path.splitext(f)[0]}.npy" for f in imgs)
    check(f"{len(imgs)} test images of every PNG/JPEG kind: exit 0, one map each",
          r.returncode == 0 and len(imgs) >= 30 and listing(d) == want, f"exit {r.returncode}; {r.stderr}")
    bad = []
    for f in imgs:
        out = os.path.join(d, f"cam.{os.path.splitext(f)[0]}.npy")
        if os.path.exists(out):
            with Image.open(os.path.join(src, f)) as im:
                im = ImageOps.exif_transpose(im)  # cam turns EXIF-rotated photos upright
                if np.load(out).shape != (im.height, im.width):
                    bad.append(f)
    check("every test image: the map has the size Pillow reads (turned upright as its EXIF says)", not bad,
          str(bad))


def names_and_json():
    d = fresh_dir("names")
    r = run(["cam", "-m", path("m.ccm"), "-o", "cam.png", "--cam-out", "cam.npy", "--logits-out", "l.npy",
             "--json", CHELSEA, KITE], cwd=d)
    ran_ok("two images -o cam.png --cam-out cam.npy --json", r)
    check("two images: outputs named cam.chelsea.png, cam.kite.png (and .npy), nothing else",
          listing(d) == ["cam.chelsea.npy", "cam.chelsea.png", "cam.kite.npy", "cam.kite.png", "l.npy"],
          str(listing(d)))
    lines = r.stdout.splitlines()
    check("--json: one line per image", len(lines) == 2, repr(r.stdout))
    logits = load("--logits-out", os.path.join(d, "l.npy"))
    for k, (img, size) in enumerate([(CHELSEA, (451, 300)), (KITE, (320, 213))]):
        tag = f"--json {os.path.basename(img)}"
        try:
            j = json.loads(lines[k])
        except (ValueError, IndexError) as e:
            check(f"{tag}: valid JSON", False, f"{e}: {r.stdout!r}")
            continue
        fields = {"image", "width", "height", "output", "top", "explained", "layers", "method", "files", "ms"}
        check(f"{tag}: has the documented fields", fields <= set(j), str(sorted(j)))
        check(f"{tag}: image, width, height", (j.get("image"), j.get("width"), j.get("height")) == (img, *size),
              str((j.get("image"), j.get("width"), j.get("height"))))
        check(f"{tag}: output softmax (not a multi-label model)", j.get("output") == "softmax", str(j.get("output")))
        check(f"{tag}: no \"top5\" (renamed \"top\": it lists --top K entries)", "top5" not in j, str(sorted(j)))
        stem = os.path.splitext(os.path.basename(img))[0]
        check(f"{tag}: files = the overlay and the map written for it", j.get("files") ==
              [f"cam.{stem}.png", f"cam.{stem}.npy"], str(j.get("files")))
        top5 = j.get("top", [])
        good = len(top5) == 5 and all({"index", "label", "logit", "probability"} <= set(t) for t in top5)
        check(f"{tag}: top has 5 entries (the default) of index, label, logit, probability", good, str(top5))
        if not good:
            continue
        p = [t["probability"] for t in top5]
        lg = [t["logit"] for t in top5]
        check(f"{tag}: probabilities in (0, 1], decreasing, summing to <= 1",
              all(0 < v <= 1 for v in p) and p == sorted(p, reverse=True) and sum(p) <= 1 + 1e-6, str(p))
        if logits.shape == (2, 1000):
            want = np.argsort(-logits[k], kind="stable")[:5]
            check(f"{tag}: top = the 5 best of --logits-out, with their logits",
                  [t["index"] for t in top5] == want.tolist() and np.array_equal(np.float32(lg), logits[k][want]),
                  f"{[t['index'] for t in top5]} {lg} vs {want.tolist()} {logits[k][want].tolist()}")
            e = np.exp(logits[k].astype(np.float64) - logits[k].max())
            close(f"{tag}: probabilities = softmax of the logits", p, (e / e.sum())[want], 1e-7)
        check(f"{tag}: explained = the top class, layers = the recommended one, method gradcam",
              [c.get("index") for c in j.get("explained", [])] == [top5[0]["index"]] and
              j.get("layers") == ["features.12"] and j.get("method") == "gradcam",
              str((j.get("explained"), j.get("layers"), j.get("method"))))
        ms = j.get("ms", {})
        check(f"{tag}: ms has load, forward, explain, write >= 0",
              set(ms) == {"load", "forward", "explain", "write"} and all(v >= 0 for v in ms.values()), str(ms))
        cam = load(tag, os.path.join(d, f"cam.{os.path.splitext(os.path.basename(img))[0]}.npy"))
        check(f"{tag}: its --cam-out has the image's size", cam.shape == (size[1], size[0]), str(cam.shape))

    # A file name JSON must escape; two layers.
    odd = os.path.join(d, 'odd "name"\\with\ttab.png')
    shutil.copy(KITE, odd)
    r = run(["cam", "-m", path("m.ccm"), "-l", "features.11", "-l", "features.12", "--json", odd], cwd=d)
    try:
        j = json.loads(r.stdout)
        check("--json escapes quotes, backslashes and control characters in the image name; lists both layers",
              r.returncode == 0 and j["image"] == odd and j["layers"] == ["features.11", "features.12"],
              repr(r.stdout))
    except (ValueError, KeyError) as e:
        check("--json with an odd file name", False, f"{e}: {r.stdout!r}")

    # --top 2 with two images: cam.<image>.c<class>.<ext>, for each image's two best classes.
    d = fresh_dir("top")
    r = run(["cam", "-m", path("m.ccm"), "--top", "2", "-o", "cam.png", "--cam-out", "cam.npy", "--json",
             CHELSEA, KITE], cwd=d)
    if ran_ok("--top 2 with two images", r):
        try:
            js = [json.loads(s) for s in r.stdout.splitlines()]
            want = sorted(f"cam.{stem}.c{c['index']}.{ext}" for stem, j in zip(["chelsea", "kite"], js)
                          for c in j["explained"] for ext in ("npy", "png"))
            check("--top 2 with two images: names cam.<image>.c<class>.png/.npy, 8 files",
                  listing(d) == want and len(want) == 8 and all(len(j["explained"]) == 2 for j in js) and
                  [c["index"] for c in js[0]["explained"]] == [t["index"] for t in js[0]["top"][:2]],
                  f"{listing(d)} vs {want}")
            c2 = js[0]["explained"][1]["index"]
            r = run(["cam", "-m", path("m.ccm"), "-c", str(c2), "--cam-out", "one.npy", CHELSEA], cwd=d)
            close(f"--top 2: the second class's map = the map of -c {c2}", load("-c", os.path.join(d, "one.npy")),
                  load("--top", os.path.join(d, f"cam.chelsea.c{c2}.npy")), 0)
        except (ValueError, KeyError, IndexError) as e:
            check("--top 2 with two images: --json", False, f"{e}: {r.stdout!r}")
    # --top 2 with one image: the class alone; --top with only tensor outputs still explains.
    d = fresh_dir("top1")
    r = run(["cam", "-m", path("m.ccm"), "--top", "2", "-o", "cam.png", "--grad-out", "g.npy", "--json", KITE],
            cwd=d)
    if ran_ok("--top 2 with one image", r):
        try:
            c = [e["index"] for e in json.loads(r.stdout)["explained"]]
            want = sorted([f"cam.c{c[0]}.png", f"cam.c{c[1]}.png", f"g.c{c[0]}.npy", f"g.c{c[1]}.npy"])
            check("--top 2 with one image: cam.c<class>.png, g.c<class>.npy", listing(d) == want,
                  f"{listing(d)} vs {want}")
        except (ValueError, KeyError, IndexError) as e:
            check("--top 2 with one image: --json", False, f"{e}: {r.stdout!r}")
    d = fresh_dir("top2")
    r = run(["cam", "-m", path("m.ccm"), "--top", "2", "--raw-out", "r.npy", KITE], cwd=d)
    check("--top 2 with only --raw-out writes the two raw maps", r.returncode == 0 and len(listing(d)) == 2 and
          all(re.fullmatch(r"r\.c\d+\.npy", f) for f in listing(d)), f"exit {r.returncode}; files {listing(d)}")
    # The same stem twice: numbered instead.
    d = fresh_dir("same")
    for sub in ("a", "b"):
        os.makedirs(os.path.join(d, sub))
        shutil.copy(KITE, os.path.join(d, sub, "kite.png"))
    r = run(["cam", "-m", path("m.ccm"), "-o", "cam.png", "a/kite.png", "b/kite.png"], cwd=d)
    check("the same image name twice: cam.0.png and cam.1.png", r.returncode == 0 and
          listing(d) == ["a", "b", "cam.0.png", "cam.1.png"], f"exit {r.returncode}; {listing(d)}; {r.stderr}")
    # --logits-out with three images: three rows; the same photo twice gives the same row.
    r = run(["cam", "-m", path("m.ccm"), "--logits-out", "l3.npy", KITE, CHELSEA, "b/kite.png"], cwd=d)
    lg = load("--logits-out", os.path.join(d, "l3.npy"))
    check("--logits-out with 3 images: float32 3 x 1000, finite, rows 0 and 2 (same photo) equal",
          r.returncode == 0 and lg.dtype == np.float32 and lg.shape == (3, 1000) and np.isfinite(lg).all() and
          np.array_equal(lg[0], lg[2]) and not np.array_equal(lg[0], lg[1]), f"exit {r.returncode}; {lg.shape}")


def json_with_a_failure():
    d = fresh_dir("json-failure")
    missing = os.path.join(d, "missing.png")
    r = run(["cam", "-m", path("m.ccm"), "--json", CHELSEA, missing], cwd=d)
    lines = r.stdout.splitlines()
    try:
        objs = [json.loads(line) for line in lines]
    except ValueError as e:
        objs = []
        check("--json with a failing image: valid JSON lines", False, f"{e}: {r.stdout!r}")
    check("--json with a failing image: exit 2, one line per image, the failure as {image, error}",
          r.returncode == 2 and len(objs) == 2 and "top" in objs[0] and objs[1].get("image") == missing
          and "missing.png" in objs[1].get("error", ""), f"exit {r.returncode}: {r.stdout!r}")


def predict_and_sizes():
    d = fresh_dir("predict")
    r = run(["predict", "-m", path("m.ccm"), "--top", "3", "--logits-out", "l.npy", KITE], cwd=d)
    if ran_ok("predict --top 3", r):
        rows = re.findall(r"^\s+(\d+)\s+.*logit\s+(-?[\d.]+)\s+p\s+([\d.]+)$", r.stdout, re.M)
        lg = load("predict --logits-out", os.path.join(d, "l.npy"))
        want = np.argsort(-lg[0], kind="stable")[:3].tolist() if lg.shape == (1, 1000) else None
        check("predict --top 3 lists the 3 best classes of --logits-out, best first",
              [int(i) for i, _, _ in rows] == want, f"{rows} vs {want}\n{r.stdout}")
        check("predict writes no picture", listing(d) == ["l.npy"], str(listing(d)))
    r = run(["predict", "-m", path("m.ccm"), KITE], cwd=d)
    check("predict lists 5 classes by default", r.returncode == 0 and
          len(re.findall(r"^\s+\d+\s+", r.stdout, re.M)) == 5, r.stdout)

    r = run(["cam", "-m", path("m.ccm"), "--resize", "256", "--crop", "224", "--cam-out", "rc.npy", "-o", "rc.png",
             KITE], cwd=d)
    if ran_ok("--resize 256 --crop 224", r):
        with Image.open(os.path.join(d, "rc.png")) as im:
            size = im.size
        check("--resize 256 --crop 224: a 224x224 map and picture",
              load("--resize", os.path.join(d, "rc.npy")).shape == (224, 224) and size == (224, 224), str(size))
    r = run(["cam", "-m", path("m.ccm"), "--crop", "100x150", "--cam-out", "crop.npy", KITE], cwd=d)
    check("--crop 100x150 alone: a 100 (high) x 150 (wide) map", r.returncode == 0 and
          load("--crop", os.path.join(d, "crop.npy")).shape == (100, 150), r.stderr)
    r = run(["cam", "-m", path("m.ccm"), "--torchvision-eval", "--cam-out", "tv.npy", KITE], cwd=d)
    if ran_ok("--torchvision-eval (mobilenet_v3_small: resize 256, crop 224)", r):
        tv = load("--torchvision-eval", os.path.join(d, "tv.npy"))
        check("--torchvision-eval: a 224x224 map", tv.shape == (224, 224), str(tv.shape))
        close("--torchvision-eval = --resize 256 --crop 224 for this model", tv,
              load("--resize", os.path.join(d, "rc.npy")), 0)
    r = run(["cam", "-m", path("e2_recipe.ccm"), "-l", "conv", "--torchvision-eval", "--cam-out", "tv2.npy",
             KITE], cwd=d)
    check("--torchvision-eval reads the recipe from the model (resize 40, crop 32 -> 32x32)",
          r.returncode == 0 and load("--torchvision-eval", os.path.join(d, "tv2.npy")).shape == (32, 32),
          f"exit {r.returncode}; {r.stderr}")


def recipe_against_torchvision():
    """--resize/--crop/--torchvision-eval through the CLI against torchvision's transforms on the PIL
    image: the network's input (-l input --act-out: the layer 'input' is the tensor fed to the
    model), bilinear and bicubic, shrinking and enlarging, a non-square crop; the overlay is
    drawn on the transformed photo; the logits equal those of torchvision's tensor as a .npy."""
    import torch
    import torchvision.transforms as T
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    d = fresh_dir("recipe")
    convert(path("eb0.ccm"), "--arch", "efficientnet_b0", "--random-init", "--seed", "1")   # its recipe: bicubic
    cases = [  # (name, model, CLI options, resize, crop (h, w), PIL filter)
        ("--resize 256 --crop 224 (bilinear, shrinking)", "m.ccm", ["--resize", "256", "--crop", "224"],
         256, (224, 224), T.InterpolationMode.BILINEAR),
        ("--resize 300 --crop 200x250 (bilinear, enlarging, non-square crop)", "m.ccm",
         ["--resize", "300", "--crop", "200x250"], 300, (200, 250), T.InterpolationMode.BILINEAR),
        ("--resize 180 alone (bilinear)", "m.ccm", ["--resize", "180"], 180, None, T.InterpolationMode.BILINEAR),
        ("--torchvision-eval of efficientnet_b0 (resize 256, crop 224, bicubic)", "eb0.ccm", ["--torchvision-eval"],
         256, (224, 224), T.InterpolationMode.BICUBIC),
    ]
    for k, (name, model, opts, size, crop, interp) in enumerate(cases):
        steps = [T.Resize(size, interpolation=interp)] + ([T.CenterCrop(crop)] if crop else [])
        with Image.open(CHELSEA) as im:
            photo = T.Compose(steps)(im.convert("RGB"))
        want = T.Normalize(mean, std)(T.ToTensor()(photo)).numpy()
        act, cam, pic, lg = (f"x{k}.npy", f"cam{k}.npy", f"o{k}.png", f"l{k}.npy")
        r = run(["cam", "-m", path(model), "-l", "input", "--act-out", act, "--cam-out", cam, "-o", pic,
                 "--logits-out", lg, *opts, CHELSEA], cwd=d)
        if not ran_ok(name, r):
            continue
        got = load(name, os.path.join(d, act))
        close(f"{name}: the network input = torchvision's Resize/CenterCrop/ToTensor/Normalize on the PIL image "
              f"({want.shape[1]}x{want.shape[2]}), bit for bit", got, want, 0)
        m = load(name, os.path.join(d, cam))
        img = np.asarray(photo, np.float32)
        ov = 0.5 * jet_rgb(m) / 255 + 0.5 * img / 255 if m.shape == img.shape[:2] else np.zeros(0)
        close(f"{name}: -o is the reference overlay on the transformed photo, to +-1", pixels(os.path.join(d, pic)),
              np.floor(255 * (ov / ov.max())) if ov.size else ov, 1)
        # The same tensor given as a .npy gives the same logits: nothing else differs between the two paths.
        np.save(os.path.join(d, f"tv{k}.npy"), want)
        r = run(["predict", "-m", path(model), "--logits-out", f"ltv{k}.npy", f"tv{k}.npy"], cwd=d)
        if ran_ok(f"{name}: predict on torchvision's tensor", r):
            close(f"{name}: --logits-out = the logits of torchvision's tensor", load(name, os.path.join(d, lg)),
                  load(name, os.path.join(d, f"ltv{k}.npy")), 0)
    with torch.no_grad():  # the bicubic case must differ from bilinear, or it proves nothing
        with Image.open(CHELSEA) as im:
            bil = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])(im.convert("RGB"))
            bic = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),
                             T.ToTensor()])(im.convert("RGB"))
    check("the bicubic recipe's input differs from the bilinear one (the case can tell them apart)",
          float((bil - bic).abs().max()) > 0.05, str(float((bil - bic).abs().max())))


# ---- 4. multi-label models ------------------------------------------------------------------

def multi_label():
    d = fresh_dir("multi")
    x = np.random.default_rng(11).normal(0, 0.5, (1, 3, 3)).astype(np.float32)   # logits of either sign, near 0
    np.save(os.path.join(d, "x.npy"), x)
    m = ["-m", path("e1_ml.ccm")]
    r = run(["predict", *m, "--json", "--logits-out", "l.npy", "x.npy"], cwd=d)
    if not ran_ok("multi-label: predict --json --logits-out", r):
        return
    lg = load("--logits-out", os.path.join(d, "l.npy")).astype(np.float64)
    if not check("multi-label: --logits-out is 1 x 2", lg.shape == (1, 2), str(lg.shape)):
        return
    sig = 1 / (1 + np.exp(-lg[0]))
    check("multi-label: the sigmoids differ from the softmax (the test can tell them apart)",
          abs(sig.sum() - 1) > 0.1, str(sig))
    try:
        j = json.loads(r.stdout)
        check('multi-label: --json says "output":"sigmoid"', j["output"] == "sigmoid", r.stdout)
        p = {t["index"]: t["probability"] for t in j["top"]}
        close("multi-label: --json probability = 1/(1+exp(-logit)) of --logits-out", [p.get(0), p.get(1)], sig,
              1e-8)
    except (ValueError, KeyError, TypeError) as e:
        check("multi-label: --json", False, f"{e}: {r.stdout!r}")
    r = run(["predict", *m, "x.npy"], cwd=d)
    rows = re.findall(r"^\s+(\d+)\s+.*logit\s+(-?[\d.]+)\s+sigmoid p\s+([\d.]+)$", r.stdout, re.M)
    got = {int(i): float(v) for i, _, v in rows}
    close("multi-label: predict prints 'sigmoid p' = 1/(1+exp(-logit)) to 4 decimals",
          [got.get(0, np.nan), got.get(1, np.nan)], sig, 5e-5 + 1e-9)
    r = run(["cam", *m, "-c", "1", "-l", "conv", "--cam-out", "c.npy", "x.npy"], cwd=d)
    said = re.findall(r"class 1 '.*' \(sigmoid p ([\d.]+)\)", r.stdout)
    close("multi-label: cam prints the explained class's 'sigmoid p'", [float(v) for v in said] or [np.nan],
          sig[1:], 5e-5 + 1e-9)
    r = run(["info", path("e1_ml.ccm")])
    check("multi-label: cnncam info says output sigmoid", r.returncode == 0 and
          re.search(r"^output\s+sigmoid \(multi-label", r.stdout, re.M), r.stdout)
    r = run(["info", path("m.ccm")])
    check("softmax model: cnncam info says output softmax", r.returncode == 0 and
          re.search(r"^output\s+softmax \(one class per image: probabilities are the softmax of the logits\)$",
                    r.stdout, re.M), r.stdout)


def peak_rss_mib(args):
    """Runs cnncam under GNU time (make deps installs it); returns (exit code,
    its peak resident set in MiB). Not wait4 from here: a child forked from
    this process (numpy, cv2 and torch loaded) would report our own peak."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M", CNNCAM, *args], cwd=W, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    return r.returncode, (int(lines[-1]) / 1024 if lines and lines[-1].isdigit() else float("nan"))


def low_memory():
    convert(path("wide.ccm"), "--module", ZOO + ":wide_head", "--layer", "features")
    base = ["cam", "-m", "wide.ccm", "-o", "wide.png"]
    rc1, low = peak_rss_mib(base + ["--cam-out", "low.npy", KITE])
    rc2, keep = peak_rss_mib(base + ["--no-low-memory", "--cam-out", "keep.npy", KITE])
    check("one image: low memory by default (exit 0 twice)", rc1 == 0 and rc2 == 0, f"exits {rc1}, {rc2}")
    check(f"one image peaks at {low:.0f} MiB, --no-low-memory at {keep:.0f}: 40 MiB or more lower",
          keep - low >= 40)
    close("the low-memory map equals the kept-weights one", load("low", path("low.npy")),
          load("keep", path("keep.npy")), 1e-5)
    rc3, two = peak_rss_mib(base + [KITE, CHELSEA])
    rc4, two_low = peak_rss_mib(base + ["--low-memory", KITE, CHELSEA])
    check(f"two images keep the weight by default ({two:.0f} MiB) and --low-memory streams it "
          f"({two_low:.0f} MiB)", rc3 == 0 and rc4 == 0 and two - two_low >= 40, f"exits {rc3}, {rc4}")


def refused(name, args, code, says, files=("x1.npy",)):
    """`cnncam cam ARGS` (or predict) in a fresh directory: exit code, stderr naming each of says, nothing written."""
    d = fresh_dir("refused")
    for f in files:
        shutil.copy(path(f), d)
    before = listing(d)
    r = run(args if args[0] in ("predict", "info") else ["cam", *args], cwd=d)
    missing = [s for s in says if s not in r.stderr]
    after = listing(d)
    check(f"{name} -> exit {code}, says {says}, writes nothing",
          r.returncode == code and not missing and after == before,
          f"exit {r.returncode}; stderr {r.stderr.strip()!r}" + (f"; missing {missing}" if missing else "") +
          (f"; files {sorted(set(after) - set(before))}" if after != before else ""))
    return r


def new_user_fixes():
    """Issue 13, 'found by trying it as a new user would'."""
    m = ["-m", path("m.ccm")]
    # NaN and infinite inputs: PyTorch gives NaN logits; the image fails (exit 2), nothing written.
    x1 = np.load(path("x1.npy"))
    np.save(path("nan.npy"), np.full_like(x1, np.nan))
    inf = x1.copy()
    inf.flat[4] = np.inf
    np.save(path("inf.npy"), inf)
    np.save(path("nan64.npy"), np.full((1, 3, 64, 64), np.nan, np.float32))
    outs = ["--cam-out", "c.npy", "-o", "c.png", "--logits-out", "l.npy"]
    refused("an all-NaN .npy (conv, flatten, linear)", ["-m", path("e1.ccm"), "-l", "conv", *outs, "nan.npy"], 2,
            ["nan.npy", "the input produced NaN scores", "2 of 2 logits", f"{x1.size} NaN or infinite values"],
            files=("x1.npy", "nan.npy"))
    refused("one +inf in a .npy", ["-m", path("e1.ccm"), "-l", "conv", *outs, "inf.npy"], 2,
            ["inf.npy", "NaN scores", "1 NaN or infinite values"], files=("x1.npy", "inf.npy"))
    refused("an all-NaN .npy through mobilenet's ReLUs and hardswishes", m + outs + ["nan64.npy"], 2,
            ["NaN scores"], files=("x1.npy", "nan64.npy"))
    d = fresh_dir("nan-json")
    r = run(["predict", "-m", path("e1.ccm"), "--json", "--logits-out", "l.npy", path("nan.npy"), path("x1.npy")],
            cwd=d)
    lines = r.stdout.splitlines()
    lg = load("NaN --logits-out", os.path.join(d, "l.npy"))
    check("predict on a NaN .npy and a good one: exit 2, an error line, then the good image; NaN row, finite row",
          r.returncode == 2 and len(lines) == 2 and "NaN scores" in json.loads(lines[0]).get("error", "") and
          "top" in json.loads(lines[1]) and lg.shape == (2, 2) and np.isnan(lg[0]).all() and np.isfinite(lg[1]).all(),
          f"exit {r.returncode}; {r.stdout!r}; {lg.tolist()}")

    # cam without an output: a usage error that lists the outputs.
    refused("cam with no output option", m + [KITE], 1, ["-o", "--cam-out", "--logits-out", "--json", "predict"])
    # A single-valued option given twice: which one was meant? Every such option.
    once = [("-m", path("m.ccm")), ("-c", "3"), ("--top", "2"), ("-o", "a.png"), ("--cam-out", "a.npy"),
            ("--logits-out", "a.npy"), ("--act-out", "a.npy"), ("--grad-out", "a.npy"), ("--weights-out", "a.npy"),
            ("--raw-out", "a.npy"), ("--overlay", "clean"), ("--alpha", "0.3"), ("--resize", "64"),
            ("--crop", "32"), ("--max-pixels", "100000"), ("--jpeg-quality", "50"), ("--threads", "2")]
    for opt, v in once:
        args = ([] if opt == "-m" else m) + ["--json", opt, v, opt, v, KITE]
        refused(f"{opt} given twice", args, 1, [f"is given twice ('{v}' and '{v}')"])
    refused("-m and --model", ["--json", "-m", path("m.ccm"), "--model", path("e1.ccm"), KITE], 1,
            ["--model is given twice", "e1.ccm"])
    refused("-o and --out", m + ["-o", "a.png", "--out", "b.png", KITE], 1, ["--out is given twice ('a.png' and 'b.png')"])
    refused("--low-memory and --no-low-memory", m + ["--json", "--low-memory", "--no-low-memory", KITE], 1,
            ["--low-memory and --no-low-memory"])
    r = run(["cam", *m, "-l", "features.11", "-l", "features.12", "--cam-out", "two.npy", KITE], cwd=fresh_dir("ll"))
    ran_ok("-l twice is still two layers", r)
    # .npy outputs under another extension: refused before anything runs.
    for opt in ("--cam-out", "--logits-out", "--act-out", "--grad-out", "--weights-out", "--raw-out"):
        refused(f"{opt} cam.txt", m + [opt, "cam.txt", KITE], 1, [f"{opt} 'cam.txt'", "end the name in .npy"])
    refused("--cam-out without an extension", m + ["--cam-out", "cam", KITE], 1, ["'cam'", ".npy"])

    # --json lists --top K classes under "top" (predict and cam), and the files written.
    d = fresh_dir("json-top")
    r = run(["predict", *m, "--top", "7", "--json", "--logits-out", "l.npy", KITE], cwd=d)
    try:
        j = json.loads(r.stdout)
        lg = np.load(os.path.join(d, "l.npy"))[0]
        want = np.argsort(-lg, kind="stable")[:7].tolist()
        check("predict --top 7 --json: 7 entries under \"top\", the 7 best of --logits-out; files []",
              [t["index"] for t in j["top"]] == want and "top5" not in j and j["files"] == [], r.stdout)
    except (ValueError, KeyError, OSError) as e:
        check("predict --top 7 --json", False, f"{e}: {r.stdout!r}")
    r = run(["cam", *m, "--top", "3", "--json", "-o", "o.jpg", "--grad-out", "g.npy", KITE], cwd=d)
    try:
        j = json.loads(r.stdout)
        c = [t["index"] for t in j["top"]]
        check("cam --top 3 --json: 3 entries under \"top\", the explained classes; files in the order written",
              len(c) == 3 and [e["index"] for e in j["explained"]] == c and
              j["files"] == [f for k in c for f in (f"o.c{k}.jpg", f"g.c{k}.npy")] and
              all(os.path.exists(os.path.join(d, f)) for f in j["files"]), r.stdout)
    except (ValueError, KeyError) as e:
        check("cam --top 3 --json", False, f"{e}: {r.stdout!r}")
    r = run(["cam", "-m", path("e1.ccm"), "-l", "conv", "--top", "9", "--json", "--cam-out", "c9.npy", "x1.npy"])
    try:
        j = json.loads(r.stdout)
        check("--top 9 on a 2-class model: 2 entries", len(j["top"]) == 2 and len(j["explained"]) == 2, r.stdout)
    except (ValueError, KeyError) as e:
        check("--top 9 on a 2-class model", False, f"{e}: {r.stdout!r}")

    # EXIF orientation: applied by default, as cv2.imread and Pillow's exif_transpose; --no-exif-orientation
    # takes the pixels as stored. The overlay of the phone-style JPEG equals that of its upright PNG.
    d = fresh_dir("exif")
    src = os.path.join(ROOT, "tests", "data", "img")
    for k in (3, 6, 8):
        jpg = os.path.join(src, f"exif_orient{k}.jpg")
        with Image.open(jpg) as im:
            ImageOps.exif_transpose(im).convert("RGB").save(os.path.join(d, f"up{k}.png"))
            im.convert("RGB").save(os.path.join(d, f"stored{k}.png"))
        runs = [run(["cam", *m, "-c", "5", "-o", f"{name}.png", "--cam-out", f"{name}.npy", *extra, img], cwd=d)
                for name, extra, img in [(f"a{k}", [], jpg), (f"b{k}", [], f"up{k}.png"),
                                         (f"c{k}", ["--no-exif-orientation"], jpg), (f"e{k}", [], f"stored{k}.png")]]
        okay = all(r.returncode == 0 for r in runs)
        same = okay and all(open(os.path.join(d, f"{x}{k}.png"), "rb").read() == open(os.path.join(d, f"{y}{k}.png"),
                                                                                      "rb").read()
                            for x, y in (("a", "b"), ("c", "e")))
        shape = load("exif", os.path.join(d, f"a{k}.npy")).shape if okay else None
        check(f"EXIF orientation {k}: the overlay equals the one of Pillow's exif_transpose (map {shape}); with "
              f"--no-exif-orientation, the one of the stored pixels", same and
              shape == ((17, 11) if k in (6, 8) else (11, 17)), "; ".join(r.stderr for r in runs))

    # info --help; the pixel limit suggests --resize.
    r = run(["info", "--help"])
    check("info --help: exit 0, its usage on stdout", r.returncode == 0 and "usage: cnncam info" in r.stdout and
          "--size" in r.stdout and "--layer" in r.stdout, f"exit {r.returncode}; {r.stdout!r} {r.stderr!r}")
    refused("an image over --max-pixels suggests --resize", m + ["--json", "--max-pixels", "68159", KITE], 2,
            ["--max-pixels", "--resize"])


def help_and_version():
    r = run(["--version"])
    check("--version: exit 0, prints 'cnncam <version>'", r.returncode == 0 and
          re.fullmatch(r"cnncam \d+\.\d+\.\d+\n", r.stdout), f"exit {r.returncode}; {r.stdout!r}")
    r = run(["--help"])
    check("--help: exit 0, names the commands and the exit codes", r.returncode == 0 and
          all(s in r.stdout for s in ("cam", "predict", "info", "exit codes")), f"exit {r.returncode}")
    r = run([])
    check("no command: usage on stderr, exit 1", r.returncode == 1 and "usage" in r.stderr, f"exit {r.returncode}")
    r = run(["frobnicate"])
    check("an unknown command: exit 1, named", r.returncode == 1 and "'frobnicate'" in r.stderr,
          f"exit {r.returncode}; {r.stderr!r}")
    r = run(["predict", "--help"])
    check("predict --help: exit 0", r.returncode == 0 and "cnncam predict" in r.stdout, f"exit {r.returncode}")
    r = run(["cam", "--help"])
    if not check("cam --help: exit 0, usage on stdout", r.returncode == 0 and "usage: cnncam cam" in r.stdout,
                 f"exit {r.returncode}"):
        return
    text = r.stdout
    code = open(CAM_OPTIONS_C).read()
    accepted = set(re.findall(r'strcmp\(a, "(-[-a-z]*)"\)', code))
    mentioned = set(re.findall(r"(?<![\w-])(--?[a-z][-a-z]*)", text))
    check("cam_options.c accepts options (the parse found them)", len(accepted) >= 25, str(sorted(accepted)))
    check("cam --help mentions every option tools/cam_options.c accepts", accepted <= mentioned,
          f"not in the help: {sorted(accepted - mentioned)}")
    check("cam --help mentions no option tools/cam_options.c rejects", mentioned <= accepted,
          f"not accepted: {sorted(mentioned - accepted)}")
    check("cam --help documents the exit codes and the output names",
          all(s in text for s in ("exit codes: 0 ok, 1 usage error, 2 input", "cam.cat.png", "cam.cat.c281.png",
                                  "cam.0.png")), text)


def all_parts():
    convert(path("m.ccm"), "--arch", "mobilenet_v3_small", "--random-init", "--seed", "1")
    open(path("crane.txt"), "w").write("crane, wading bird\ncrane, lifting machine\n")
    open(path("one.txt"), "w").write("the only class\n")
    ex1 = ["--module", EXAMPLES + ":example1", "--input-size", "1,3,3", "--mean", "0", "--std", "1"]
    convert(path("e1.ccm"), *ex1, "--labels", path("crane.txt"), "--layer", "conv")
    convert(path("e2.ccm"), "--module", EXAMPLES + ":example2", "--input-size", "2,3,3", "--mean", "0", "0",
            "--std", "1", "1", "--labels", path("one.txt"), "--layer", "features")
    convert(path("e1_ml.ccm"), *ex1, "--labels", path("crane.txt"), "--layer", "conv", "--multi-label")
    open(path("two.txt"), "w").write("a\nb\n")
    convert(path("e2_recipe.ccm"), "--module", os.path.join(ROOT, "tests", "models", "inputs.py:identity3"),
            "--labels", path("two.txt"), "--resize", "40", "--crop", "32")
    for part in (worked_examples, bad_inputs, pictures, every_image_kind, names_and_json, json_with_a_failure,
                 predict_and_sizes, recipe_against_torchvision, multi_label, low_memory, help_and_version,
                 new_user_fixes):
        part()


def main():
    if not os.access(CNNCAM, os.X_OK):
        print(f"FAIL {CNNCAM} is missing: run make all")
        return 1
    return run_suite("cli", all_parts, W)


if __name__ == "__main__":
    sys.exit(main())
