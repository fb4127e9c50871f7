#!/usr/bin/python3
"""The bias experiment's pieces (examples/bias/, examples/train/metrics.py):
the figure drawn by build/bias_figure holds, tile for tile, the input and what
`cnncam cam` draws for each model; its printed logits are `cnncam predict`'s;
bad input leaves no figure; the metrics match hand-derived values;
examples/eval/eigen_sign.py runs on a few scenes. Prints one
line per check and "examples: N passed, N failed"."""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "train"))
import metrics  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))   # make test passes its $(BUILD)
CNNCAM = os.path.join(BUILD, "cnncam")
FIGURE = os.path.join(BUILD, "bias_figure")
BIASED = os.path.join(ROOT, "models", "bias", "biased.ccm")
UNBIASED = os.path.join(ROOT, "models", "bias", "unbiased.ccm")
GAP = 6
results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_metrics():
    # Scores 0.9 0.8 0.7 0.6 with positives at ranks 1 and 3: precisions 1/1 and 2/3.
    ap = metrics.average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0]))
    check("average precision of a hand-worked ranking is (1 + 2/3) / 2", abs(ap - 5 / 6) < 1e-12, str(ap))
    check("average precision without positives is NaN",
          np.isnan(metrics.average_precision(np.array([0.5, 0.1]), np.array([0, 0]))))
    z = np.array([[2.0, -1.0, 0.5], [1.0, 3.0, -2.0], [-1.0, -2.0, 4.0]])
    t = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1]], np.float32)
    m = metrics.multilabel(z, t)
    # Scene 0 exact; scene 1 predicts {0, 1} for {0}; scene 2 exact. Top-n: scene 1's best is class 1.
    check("exact match and top-n of a hand-worked example", m["exact"] == 2 / 3 and m["topn"] == 2 / 3,
          "%r %r" % (m["exact"], m["topn"]))
    # Class 0: tp 2, predicted 2, true 2 -> F1 1; class 1: tp 0 -> 0; class 2: tp 2 of 2 -> 1.
    check("per-class F1 and recall of a hand-worked example",
          np.allclose(m["f1"], [1, 0, 1]) and np.allclose(m["recall"], [1, 0, 1]), "%r %r" % (m["f1"], m["recall"]))


def tile(fig, row, col, w, h):
    x0, y0 = GAP + col * (w + GAP), GAP + row * (h + GAP)
    return fig[y0:y0 + h, x0:x0 + w]


def check_figure(tmp):
    demo = os.path.join(ROOT, "assets", "demo", "trouser_and_tshirt.png")
    images = [demo, os.path.join(tmp, "flipped.png")]
    Image.open(demo).convert("RGB").transpose(Image.FLIP_TOP_BOTTOM).save(images[1])
    out = os.path.join(tmp, "figure.png")
    r = run([FIGURE, BIASED, UNBIASED, "Pullover", out] + images)
    check("bias_figure runs", r.returncode == 0, r.stderr.strip())
    if r.returncode:
        return
    fig = np.asarray(Image.open(out).convert("RGB"))
    w, h = Image.open(images[0]).size
    check("figure size: 3 columns and 2 rows of tiles with gaps",
          fig.shape == (GAP + 2 * (h + GAP), GAP + 3 * (w + GAP), 3), str(fig.shape))
    same, logits = [], []
    for row, img in enumerate(images):
        same.append(np.array_equal(tile(fig, row, 0, w, h), np.asarray(Image.open(img).convert("RGB"))))
        for col, model in ((1, BIASED), (2, UNBIASED)):
            cam = os.path.join(tmp, "cam.png")
            c = run([CNNCAM, "cam", "-m", model, "-c", "Pullover", "-o", cam, img])
            same.append(c.returncode == 0 and np.array_equal(tile(fig, row, col, w, h),
                                                             np.asarray(Image.open(cam).convert("RGB"))))
    check("every tile is the input or `cnncam cam -c Pullover -o` of that model", all(same), str(same))
    for model in (BIASED, UNBIASED):
        lo = os.path.join(tmp, "logits.npy")
        run([CNNCAM, "predict", "-m", model, "--logits-out", lo] + images)
        logits.append(np.load(lo)[:, 2])
    printed = [[float(v) for v in line.split()[1::2]] for line in r.stdout.splitlines()[1:3]]
    expect = np.stack(logits, 1)
    check("printed logits are cnncam predict's for class 2 (Pullover)",
          np.allclose(printed, expect, atol=1e-3), "%r vs %r" % (printed, expect.tolist()))

    bad = os.path.join(tmp, "bad.png")
    Image.new("RGB", (w + 1, h)).save(bad)
    for name, args in (("an image of another size", [images[0], bad]),
                       ("a missing image", [images[0], os.path.join(tmp, "missing.png")]),
                       ("an unknown class", None)):
        target = os.path.join(tmp, "no.png")
        cmd = [FIGURE, BIASED, UNBIASED, "Pullover", target] + args if args else \
            [FIGURE, BIASED, UNBIASED, "Parka", target, images[0]]
        e = run(cmd)
        check("%s: exit 2, a message, no figure" % name,
              e.returncode == 2 and e.stderr.strip() and not os.path.exists(target), e.stderr.strip())


def check_eigen_sign():
    """examples/eval/eigen_sign.py on 4 scenes: runs, and its numpy maps are the CLI's
    (LAPACK's sign and the default rule's: "0 signs differ" twice per case)."""
    r = run([sys.executable, os.path.join(ROOT, "examples", "eval", "eigen_sign.py"), "--count", "4",
             "--layer", "features.6", "--method", "eigencam", "--method", "eigengradcam", "--cnncam", CNNCAM])
    agree = r.stdout.count("0 signs differ")
    check("eigen_sign.py on 4 scenes: exit 0, the tables, its maps the CLI's (%d of 4 sign checks)" % agree,
          r.returncode == 0 and agree == 4 and "**pointing game (%)**" in r.stdout, r.stderr.strip()[-300:])


def main():
    check_metrics()
    for tool in (CNNCAM, FIGURE):
        if not os.access(tool, os.X_OK):
            check("%s is built (make %s)" % (tool, os.path.relpath(tool, ROOT)), False)
            break
    else:
        with tempfile.TemporaryDirectory() as tmp:
            check_figure(tmp)
        check_eigen_sign()
    failed = results.count(False)
    print("examples: %d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed or not results else 0   # nothing checked: a failure


if __name__ == "__main__":
    sys.exit(main())
