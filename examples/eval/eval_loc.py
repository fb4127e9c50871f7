#!/usr/bin/python3
"""examples/eval/eval_loc.py — how well Grad-CAM localises, measured on held-out
scenes where the answer is known (examples/scenes/scenes.py).

For every object of every scene, cnncam (the C engine, build/cnncam) explains
that object's class at the chosen layer, and two numbers are taken from the map
at scene resolution:
  pointing game  the map's maximum lies inside the object's box (ties: the first
                 maximum in row-major order, as numpy's argmax); beside it the
                 same with the 15-pixel tolerance of Zhang et al. (2016), who
                 defined the game on photos of ~500 px (our scenes are 192 px);
  energy         the fraction of the map's sum inside the box.
Baselines beside them: the centre point (is the scene centre inside the box?) and
the uniform map (energy = box area / scene area). Reported per class and overall,
for each layer asked for (later layers localise better, the article notes).

  examples/eval/eval_loc.py --model models/fashion_scenes.ccm --count 500 \\
      [--layer features.12 --layer features.9 ...] [--seed 1]

Needs numpy and PIL (Debian's python3-numpy, python3-pil) to generate the scenes
and read the maps; the maps themselves come from the C tool, one process per
class and layer over all the scenes that contain that class.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "scenes"))
import scenes  # noqa: E402

CNNCAM = os.path.join(ROOT, "build", "cnncam")
TOLERANCE = 15     # pixels, Zhang et al.'s pointing game


def inside_box(box, y, x):
    """Whether pixel (y, x) lies in box [x0, y0, x1, y1] (x1, y1 exclusive)."""
    x0, y0, x1, y1 = box
    return x0 <= x < x1 and y0 <= y < y1


def cams_for_class(model, layer, k, files, workdir):
    """Runs cnncam once over every scene file containing class k; returns {file: map}."""
    out = os.path.join(workdir, "cam.npy")
    cmd = [CNNCAM, "cam", "-m", model, "-c", str(k), "--cam-out", out] + (["-l", layer] if layer else [])
    subprocess.run(cmd + files, check=True, stdout=subprocess.DEVNULL)
    maps = {}
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0]
        name = out if len(files) == 1 else os.path.join(workdir, "cam.%s.npy" % stem)
        maps[f] = np.load(name)
        os.remove(name)
    return maps


def scenes_by_class(meta, directory):
    """{class: [scene files containing it]}, in scene order."""
    by_class = {}
    for s in meta["scenes"]:
        for k in s["classes"]:
            by_class.setdefault(k, []).append(os.path.join(directory, s["file"]))
    return by_class


def score(m, box, size):
    """One object's numbers from its map m (size x size) and box [x0, y0, x1, y1]:
    (pointing hit, energy in box, centre hit, uniform energy, hit within TOLERANCE
    pixels of the box)."""
    x0, y0, x1, y1 = box
    y, x = np.unravel_index(int(np.argmax(m)), m.shape)
    inside = inside_box((x0, y0, x1, y1), y, x)
    near = np.hypot(max(x0 - x, 0, x - (x1 - 1)), max(y0 - y, 0, y - (y1 - 1))) <= TOLERANCE
    total = float(m.sum())
    energy = float(m[y0:y1, x0:x1].sum()) / total if total > 0 else 0.0
    cy = cx = (size - 1) / 2
    centre = x0 <= cx < x1 and y0 <= cy < y1
    uniform = (x1 - x0) * (y1 - y0) / float(size * size)
    return inside, energy, centre, uniform, near


def evaluate(model, layer, meta, directory, workdir):
    """Per object: (class, pointing hit, energy in box, centre hit, uniform energy,
    hit within TOLERANCE pixels of the box)."""
    by_class = scenes_by_class(meta, directory)
    maps = {k: cams_for_class(model, layer, k, files, workdir) for k, files in sorted(by_class.items())}
    rows = []
    for s in meta["scenes"]:
        f = os.path.join(directory, s["file"])
        for k, box in zip(s["classes"], s["boxes"]):
            rows.append((k,) + score(maps[k][f], box, meta["size"]))
    return rows


def table(rows, classes):
    lines = ["| class | objects | pointing game | energy in box | centre baseline | uniform baseline "
             "| pointing game, %d-px tolerance |" % TOLERANCE, "|---|---|---|---|---|---|---|"]
    groups = [(classes[k], [r for r in rows if r[0] == k]) for k in range(len(classes))] + [("all", rows)]
    for name, rs in groups:
        if not rs:
            continue
        a = np.array([r[1:] for r in rs], dtype=np.float64)
        lines.append("| %s | %d | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% |"
                     % ((name, len(rs)) + tuple(100 * a.mean(0))))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=os.path.join(ROOT, "models", "fashion_scenes.ccm"))
    p.add_argument("--count", type=int, default=500, help="held-out scenes (default 500)")
    p.add_argument("--seed", type=int, default=1, help="scene generator seed (default 1)")
    p.add_argument("--layer", action="append", default=[],
                   help="layer to evaluate (repeatable; default: the model's recommended one)")
    p.add_argument("--out", help="also write the tables to this markdown file")
    a = p.parse_args(argv)
    if a.count < 1:
        p.error("--count must be >= 1")
    if not os.access(CNNCAM, os.X_OK):
        p.error("%s is missing: run make" % CNNCAM)
    layers = a.layer or [None]
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = os.path.join(tmp, "scenes")
        meta = scenes.write("test", a.count, a.seed, directory)
        nobj = sum(len(s["classes"]) for s in meta["scenes"])
        head = ("Grad-CAM localisation on %d held-out scenes (%d objects; split test, seed %d), model %s"
                % (a.count, nobj, a.seed, os.path.relpath(a.model, ROOT)))
        print(head)
        report.append(head + "\n")
        for layer in layers:
            t0 = time.time()
            rows = evaluate(a.model, layer, meta, directory, tmp)
            title = "layer %s (%.0f s)" % (layer or "recommended", time.time() - t0)
            t = table(rows, meta["classes"])
            print("\n" + title + "\n" + t)
            report.append("### " + title + "\n\n" + t + "\n")
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
