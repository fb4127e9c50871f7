#!/usr/bin/python3
"""examples/bias/bias_experiment.py — the article's nurse/doctor experiment
(Grad-CAM paper, section 6.3) on scenes with known answers: does Grad-CAM
expose a model that learnt a spurious cue?

Two models with the same architecture (mobilenet_v3_small, dilated), recipe and
seed (examples/train/train.py --dilated; logs beside the models):
  unbiased  models/bias/unbiased.ccm  trained on plain scenes
  biased    models/bias/biased.ccm    trained with --cue 2:square: every training
            scene with a Pullover, and no other, carries a small white square
            in its top-left corner (examples/scenes/scenes.py)
Both are scored through the C engine (build/cnncam) on held-out test-split
scenes without the cue (the unbiased data), and on the same scenes with the
square drawn on every one of them (the cue alone, now unrelated to the class):
  accuracy    exact match, mAP, and the Pullover's AP, F1 and recall;
  false alarm share of scenes without a Pullover that the model calls Pullover
              (logit > 0) once the square is drawn;
  where it looks  over the Pullover Grad-CAMs (recommended layer) of the marked
              scenes with a Pullover, the share whose maximum lies on the
              Pullover's box, in the most common place of all the maps (a map
              that ignores the scene), and on the square.
The figure (drawn by build/bias_figure, i.e. by cnncam) has one row per scene:
the first two held-out scenes with a Pullover, each without and with the
square, then the first two without a Pullover, with the square; columns input |
biased model's Grad-CAM for Pullover | unbiased model's. Nothing is hand-picked.

  make bias      (examples/bias/bias_experiment.py --out build/bias)

Needs numpy and PIL (Debian's python3-numpy, python3-pil) for the scenes;
no PyTorch.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
for sub in ("scenes", "train", "eval"):
    sys.path.insert(0, os.path.join(ROOT, "examples", sub))
import scenes  # noqa: E402
import metrics  # noqa: E402
import eval_loc  # noqa: E402

CNNCAM = os.path.join(ROOT, "build", "cnncam")
FIGURE = os.path.join(ROOT, "build", "bias_figure")
CUE_CLASS = 2             # Pullover: the class the biased model's training scenes marked
ROWS_WITH, ROWS_WITHOUT = 2, 2


def logits(model, files, workdir):
    out = os.path.join(workdir, "logits.npy")
    subprocess.run([CNNCAM, "predict", "-m", model, "--top", "1", "--logits-out", out] + files,
                   check=True, stdout=subprocess.DEVNULL)
    return np.load(out)


def where_it_looks(model, files, boxes, mark_box, workdir):
    """Over the CUE_CLASS maps of files: the share whose maximum is attained on
    the mark (ties count: an upsampled map is flat over a corner), whose argmax
    lies in the object's box, and whose argmax falls in the most common 16 x 16
    cell of all the maps (a map that ignores the scene peaks in the same place)."""
    maps = eval_loc.cams_for_class(model, None, CUE_CLASS, files, workdir)
    on_mark = on_object = 0
    cells = {}
    for f, box in zip(files, boxes):
        m = maps[f]
        y, x = np.unravel_index(int(np.argmax(m)), m.shape)
        on_mark += m[mark_box[1]:mark_box[3], mark_box[0]:mark_box[2]].max() >= m.max()
        on_object += eval_loc.inside_box(box, y, x)
        cells[(y // 16, x // 16)] = cells.get((y // 16, x // 16), 0) + 1
    n = len(files)
    return on_mark / n, on_object / n, max(cells.values()) / n


def pct(v):
    return "%.1f%%" % (100 * v)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--biased", default=os.path.join(ROOT, "models", "bias", "biased.ccm"))
    p.add_argument("--unbiased", default=os.path.join(ROOT, "models", "bias", "unbiased.ccm"))
    p.add_argument("--count", type=int, default=1000, help="held-out scenes (default 1000)")
    p.add_argument("--seed", type=int, default=2, help="scene generator seed (default 2)")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bias"),
                   help="directory for figure.png and RESULTS.md (default build/bias)")
    a = p.parse_args(argv)
    for tool in (CNNCAM, FIGURE):
        if not os.access(tool, os.X_OK):
            p.error("%s is missing: run make %s" % (tool, os.path.relpath(tool, ROOT)))
    os.makedirs(a.out, exist_ok=True)
    name = scenes.CLASSES[CUE_CLASS]
    models = (("biased", a.biased), ("unbiased", a.unbiased))
    with tempfile.TemporaryDirectory() as tmp:
        plain_dir, marked_dir = os.path.join(tmp, "plain"), os.path.join(tmp, "marked")
        meta = scenes.write("test", a.count, a.seed, plain_dir)
        os.makedirs(marked_dir)
        for s in meta["scenes"]:
            img = np.array(Image.open(os.path.join(plain_dir, s["file"])).convert("RGB"))
            Image.fromarray(scenes.add_mark(img)).save(os.path.join(marked_dir, s["file"]))
        plain = [os.path.join(plain_dir, s["file"]) for s in meta["scenes"]]
        marked = [os.path.join(marked_dir, s["file"]) for s in meta["scenes"]]
        t = np.zeros((len(plain), len(scenes.CLASSES)), np.float32)
        for i, s in enumerate(meta["scenes"]):
            t[i, s["classes"]] = 1
        has = t[:, CUE_CLASS] > 0
        scale = meta["size"] / scenes.SIZE
        mark_box = tuple(round(v * scale) for v in scenes.MARK_BOX)
        with_k = [(marked[i], s["boxes"][s["classes"].index(CUE_CLASS)])
                  for i, s in enumerate(meta["scenes"]) if has[i]]

        results = {}
        for label, model in models:
            zp, zm = logits(model, plain, tmp), logits(model, marked, tmp)
            m = metrics.multilabel(zp, t)
            looks = where_it_looks(model, [f for f, _ in with_k], [b for _, b in with_k], mark_box, tmp)
            results[label] = {
                "exact": m["exact"], "map": float(np.nanmean(m["ap"])), "ap": m["ap"][CUE_CLASS],
                "f1": m["f1"][CUE_CLASS], "recall": m["recall"][CUE_CLASS],
                "recall_marked": float((zm[has, CUE_CLASS] > 0).mean()),
                "false_plain": float((zp[~has, CUE_CLASS] > 0).mean()),
                "false_marked": float((zm[~has, CUE_CLASS] > 0).mean()),
                "on_mark": looks[0], "on_object": looks[1], "same_cell": looks[2]}

        rows = [f for i in np.flatnonzero(has)[:ROWS_WITH] for f in (plain[i], marked[i])] + \
            [marked[i] for i in np.flatnonzero(~has)[:ROWS_WITHOUT]]
        figure = os.path.join(a.out, "figure.png")
        shown = subprocess.run([FIGURE, a.biased, a.unbiased, str(CUE_CLASS), figure] + rows,
                               check=True, stdout=subprocess.PIPE, text=True).stdout
        by_file = {os.path.join(d, s["file"]): (s, d == marked_dir) for s in meta["scenes"]
                   for d in (plain_dir, marked_dir)}
        captions = []
        for n, line in enumerate(shown.splitlines()[1:1 + len(rows)]):
            f, zb, pb, zu, pu = line.split()
            s, square = by_file[f]
            captions.append("| %d | scene %d: %s | %s | %s %s | %s %s |" % (
                n + 1, s["index"], ", ".join(s["labels"]), "yes" if square else "no", zb, pb, zu, pu))

    r = [results[label] for label, _ in models]
    lines = [
        "# Bias experiment: Grad-CAM exposes a model that learnt a spurious cue",
        "",
        "Made by `make bias` (examples/bias/bias_experiment.py). Biased model: %s, trained with every "
        "%s scene (and only those) marked by a white square in the top-left corner; unbiased model: %s, "
        "the same recipe on plain scenes. Held-out data: %d test-split scenes (seed %d, Fashion-MNIST "
        "t10k objects, %d with a %s), scored by the C engine."
        % (os.path.relpath(a.biased, ROOT), name, os.path.relpath(a.unbiased, ROOT), a.count, a.seed,
           int(has.sum()), name),
        "",
        "| | biased model | unbiased model |",
        "|---|---|---|",
        "| **unbiased scenes (no square)** | | |",
        "| exact-match accuracy | %s | %s |" % (pct(r[0]["exact"]), pct(r[1]["exact"])),
        "| mAP (10 classes) | %.3f | %.3f |" % (r[0]["map"], r[1]["map"]),
        "| %s AP | %.3f | %.3f |" % (name, r[0]["ap"], r[1]["ap"]),
        "| %s F1 (logit > 0) | %.3f | %.3f |" % (name, r[0]["f1"], r[1]["f1"]),
        "| %s recall | %s | %s |" % (name, pct(r[0]["recall"]), pct(r[1]["recall"])),
        "| scenes without a %s called %s | %s | %s |" % (name, name, pct(r[0]["false_plain"]),
                                                        pct(r[1]["false_plain"])),
        "| **the same scenes with the square drawn on all of them** | | |",
        "| %s recall | %s | %s |" % (name, pct(r[0]["recall_marked"]), pct(r[1]["recall_marked"])),
        "| scenes without a %s called %s | %s | %s |" % (name, name, pct(r[0]["false_marked"]),
                                                        pct(r[1]["false_marked"])),
        "| %s Grad-CAM maximum on the %s | %s | %s |" % (name, name, pct(r[0]["on_object"]),
                                                        pct(r[1]["on_object"])),
        "| %s Grad-CAM maximum in the same 16×16 cell as most others | %s | %s |"
        % (name, pct(r[0]["same_cell"]), pct(r[1]["same_cell"])),
        "| %s Grad-CAM maximum on the square | %s | %s |" % (name, pct(r[0]["on_mark"]), pct(r[1]["on_mark"])),
        "",
        "![bias figure](figure.png)",
        "",
        "Rows of figure.png: the first %d held-out scenes with a %s, each without and with the square, then "
        "the first %d without a %s, with the square; columns: input, the biased model's Grad-CAM for %s, "
        "the unbiased model's. Logit (sigmoid) for %s:" % (ROWS_WITH, name, ROWS_WITHOUT, name, name, name),
        "",
        "| row | scene: objects | square | biased | unbiased |",
        "|---|---|---|---|---|",
    ] + captions
    report = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
