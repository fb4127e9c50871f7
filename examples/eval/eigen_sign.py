#!/usr/bin/python3
"""examples/eval/eigen_sign.py — which sign of a principal component localises:
LAPACK's, its flip, cnncam's candidate rules, measured on held-out scenes.

EigenCAM, EigenGradCAM and every --eigen-smooth map are the first principal
component proj of a layer's (weighted) activations over the pixels
(cam/projection.h). proj sums to zero, so the ReLU that follows keeps one of
its two halves, and which one is the sign of the singular vector: arbitrary.
The reference keeps what LAPACK's dgesdd returns; cnncam's default is a rule
(cam/channel_map.h, CC_CAM_DEFAULT_SIGN). This script measures, per method and
layer, the localisation of the map under each sign:

  lapack           as dgesdd returns it (the reference; `--eigen-sign lapack`)
  flip             its negation
  max_abs          the entry of largest |proj| positive (CC_PROJECTION_SIGN_MAX_ABS)
  skew             sum proj^3 >= 0 (CC_PROJECTION_SIGN_SKEW)
  mean_activation  sum_k VT[0][k] >= 0 (CC_PROJECTION_SIGN_MEAN_ACTIVATION)
  oracle           per object, the better of lapack and flip (the ceiling of
                   any sign rule; per score: pointing and energy separately)

Scores per object, as examples/eval/eval_loc.py defines them (its score()):
the pointing game (the map's maximum inside the box of the explained class)
and the energy in the box (the fraction of the map's sum inside it).

How the maps are made. For every method, layer and class, cnncam (the C tool)
runs once over the scenes that contain the class with --eigen-sign lapack and
writes the activations (--act-out), the gradient (--grad-out, eigengradcam) or
the channel weights (--weights-out, gradcam --eigen-smooth), the rectified
layer map (--raw-out) and the final map (--cam-out). The product the method
projects (A; G * A; w_k A_k, in float32 as the C code forms it) then goes
through the restatement's get_2d_projection (tests/reference_cams.py,
_projection: numpy's SVD, the same LAPACK) with each rule imposed, and through
the reference's ReLU, min-max and resize (tests/reference_gradcam.py). The
numpy rules restate cam/projection.c's flips() exactly: the same float32
proj, cubes summed in double, VT[0] summed in double, a score of exactly 0
settled by max_abs, whose ties go to the first maximum. Two checks that these
maps are cnncam's: the LAPACK map against the CLI's --cam-out and its sign
against --raw-out, and a second CLI run with the default sign against the
numpy map of CC_CAM_DEFAULT_SIGN's rule (read from cam/channel_map.h). Their
largest differences are printed; a sign that disagrees is counted (expected:
0; any makes the exit status 1).

Printed (and written to --out): the pointing game and the energy per method,
layer and rule; how often each rule keeps LAPACK's sign; and, over all
objects, paired counts of the pointing game (hits of one rule that another
misses, and the reverse), which say whether a difference between two rules
is more than noise.

  examples/eval/eigen_sign.py [--count 500] [--seed 1] [--layer features --layer features.9 ...]
      [--method eigencam --method eigengradcam --method gradcam] [--cnncam build/cnncam]
      [--out FILE.md]

`make eval-eigen-sign` runs it on 500 scenes at the recommended layer
(features: 576 channels of 6 x 6) and two earlier ones (features.9: 96 x 6 x 6,
a batchnorm output; features.6: 40 x 12 x 12, an add), the defaults, and
writes $(BUILD)/eval-eigen-sign.md; docs/METHODS.md ("The sign of a principal
component") holds a copy. Five to eight minutes on two cores (dgesdd's
K x K VT at 576 channels, in the CLI and in numpy, is most of it). Needs
numpy, PIL, OpenCV and torch (the restatement imports it), as the tests do.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import eval_loc  # noqa: E402  (also puts examples/scenes on the path)
import scenes  # noqa: E402
from reference_cams import _projection  # noqa: E402
from reference_gradcam import cams_to_mask  # noqa: E402

# method name -> (CLI options, the outputs its product needs)
METHODS = {
    "eigencam": (["--method", "eigencam"], ("act",)),
    "eigengradcam": (["--method", "eigengradcam"], ("act", "grad")),
    "gradcam": (["--method", "gradcam", "--eigen-smooth"], ("act", "weights")),
}
LABELS = {"eigencam": "eigencam", "eigengradcam": "eigengradcam", "gradcam": "gradcam --eigen-smooth"}
FLAGS = {"act": "--act-out", "grad": "--grad-out", "weights": "--weights-out", "raw": "--raw-out",
         "cam": "--cam-out"}


# ---- the sign rules: f(proj h x w float32, M hw x K, vt0 K) -> +1 / -1 (cam/projection.c) ----

def rule_max_abs(proj, M=None, vt0=None):
    """The entry of largest |proj| positive; ties: the first (C's max_abs_index)."""
    flat = np.asarray(proj, np.float32).ravel()
    return -1 if flat[int(np.argmax(np.abs(flat)))] < 0 else 1


def _by_score(score, proj):
    return 1 if score > 0 else -1 if score < 0 else rule_max_abs(proj)


def rule_skew(proj, M=None, vt0=None):
    """sum proj^3 (each cube and the sum in double) >= 0; exactly 0: max_abs."""
    p = np.asarray(proj, np.float32).ravel().astype(np.float64)
    return _by_score(float(np.sum(p * p * p)), proj)


def rule_mean_activation(proj, M, vt0):
    """sum_k VT[0][k] (the float32 vector, summed in double) >= 0; exactly 0: max_abs."""
    return _by_score(float(np.sum(np.asarray(vt0, np.float32).astype(np.float64))), proj)


RULES = {
    "lapack": lambda proj, M, vt0: 1,
    "flip": lambda proj, M, vt0: -1,
    "max_abs": rule_max_abs,
    "skew": rule_skew,
    "mean_activation": rule_mean_activation,
}
COLUMNS = list(RULES) + ["oracle"]
C_NAMES = {"max_abs": "MAX_ABS", "skew": "SKEW", "mean_activation": "MEAN_ACTIVATION"}


def default_rule():
    """The rule CC_CAM_DEFAULT_SIGN names in cam/channel_map.h, as a RULES key."""
    with open(os.path.join(ROOT, "cam", "channel_map.h")) as f:
        m = re.search(r"#define\s+CC_CAM_DEFAULT_SIGN\s+CC_PROJECTION_SIGN_(\w+)", f.read())
    if not m or m.group(1).lower() not in C_NAMES:
        raise SystemExit("cam/channel_map.h: no CC_CAM_DEFAULT_SIGN of a known rule")
    return m.group(1).lower()


def product(method, t):
    """What the method projects, float32 K x h x w, as cam/ forms it."""
    if method == "eigencam":
        return t["act"]
    if method == "eigengradcam":
        return t["grad"] * t["act"]
    return t["weights"][:, None, None] * t["act"]


def run_cnncam(cnncam, model, layer, method, k, files, workdir, sign, outs):
    """One CLI run over files; returns [{output: array}] in the order of files."""
    cmd = [cnncam, "cam", "-m", model, "-c", str(k), "-l", layer, "--eigen-sign", sign] + METHODS[method][0]
    names = {o: os.path.join(workdir, o + ".npy") for o in outs}
    for o in outs:
        cmd += [FLAGS[o], names[o]]
    subprocess.run(cmd + files, check=True, stdout=subprocess.DEVNULL)
    result = []
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0]
        got = {}
        for o, name in names.items():
            path = name if len(files) == 1 else name[:-4] + "." + stem + ".npy"
            got[o] = np.load(path)
            os.remove(path)
        result.append(got)
    return result


def evaluate(cnncam, model, layer, method, meta, directory, workdir, rule_default):
    """Per object: {column: (pointing hit, energy)}; and the checks' numbers."""
    size = meta["size"]
    needs = METHODS[method][1]
    maps = {}          # (class, file) -> {rule: final map}
    checks = {"cam_lapack": 0.0, "cam_default": 0.0, "sign_lapack": 0, "sign_default": 0, "maps": 0}
    for k, files in sorted(eval_loc.scenes_by_class(meta, directory).items()):
        ref = run_cnncam(cnncam, model, layer, method, k, files, workdir, "lapack", needs + ("raw", "cam"))
        dflt = run_cnncam(cnncam, model, layer, method, k, files, workdir, "default", ("raw", "cam"))
        for f, t, d in zip(files, ref, dflt):
            E = product(method, t)[None]
            h, w = t["cam"].shape
            # one SVD: the restatement's projection with LAPACK's sign, and what
            # the rules see (proj, M, VT[0]); each rule's map is proj times its sign
            seen = {}
            lapack = _projection(E, eigen_sign=lambda pr, M, vt0: seen.update(args=(pr, M, vt0)) or 1)[0]
            out = {}
            for name, rule in RULES.items():
                proj = lapack * np.float32(rule(*seen["args"]))
                out[name] = cams_to_mask([proj], (w, h))
                if name == "lapack":
                    checks["sign_lapack"] += not np.allclose(np.maximum(proj, 0), t["raw"],
                                                             rtol=0, atol=1e-4 * np.abs(proj).max())
                    checks["cam_lapack"] = max(checks["cam_lapack"], float(np.abs(out[name] - t["cam"]).max()))
                if name == rule_default:
                    checks["sign_default"] += not np.allclose(np.maximum(proj, 0), d["raw"],
                                                              rtol=0, atol=1e-4 * np.abs(proj).max())
                    checks["cam_default"] = max(checks["cam_default"], float(np.abs(out[name] - d["cam"]).max()))
            checks["maps"] += 1
            maps[k, f] = out
    rows = []
    for s in meta["scenes"]:
        f = os.path.join(directory, s["file"])
        for k, box in zip(s["classes"], s["boxes"]):
            got = {name: eval_loc.score(m, box, size)[:2] for name, m in maps[k, f].items()}
            got["oracle"] = tuple(max(a, b) for a, b in zip(got["lapack"], got["flip"]))
            # whether each rule took LAPACK's sign (its map is LAPACK's, bit for bit)
            same = {name: bool(np.array_equal(maps[k, f][name], maps[k, f]["lapack"])) for name in RULES}
            rows.append((got, same))
    return rows, checks


def cell(rows, col, i):
    return 100.0 * np.mean([r[0][col][i] for r in rows])


def tables(results, rule_default):
    """Markdown: pointing game and energy in box per method x layer and rule; how often
    each rule keeps LAPACK's sign; rules ranked over all cases."""
    head = "| method | layer | objects | " + " | ".join(COLUMNS) + " |"
    sep = "|---|---|---|" + "---|" * len(COLUMNS)
    out = []
    for i, what in enumerate(("pointing game (%)", "energy in box (%)")):
        lines = ["**%s**" % what, "", head, sep]
        for (method, layer), rows in results:
            lines.append("| %s | %s | %d | " % (LABELS[method], layer, len(rows))
                         + " | ".join("%.1f" % cell(rows, c, i) for c in COLUMNS) + " |")
        allrows = [r for _, rows in results for r in rows]
        lines.append("| all | | %d | " % len(allrows) + " | ".join("%.1f" % cell(allrows, c, i) for c in COLUMNS)
                     + " |")
        out.append("\n".join(lines))
    lines = ["**objects whose map has LAPACK's sign (%)**", "",
             "| method | layer | " + " | ".join(C_NAMES) + " |", "|---|---|" + "---|" * len(C_NAMES)]
    for (method, layer), rows in results:
        lines.append("| %s | %s | " % (LABELS[method], layer)
                     + " | ".join("%.1f" % (100.0 * np.mean([r[1][c] for r in rows])) for c in C_NAMES) + " |")
    out.append("\n".join(lines))
    # paired: over every object of every case, where the row's rule hits and the
    # column's misses (the column's own count is where it hits and the row's misses)
    allrows = [r for _, rows in results for r in rows]
    paired = [c for c in RULES if c != "flip"]
    lines = ["**pointing game, paired over all %d objects: hits of the row's sign that the column's "
             "misses / the reverse**" % len(allrows), "",
             "| | " + " | ".join(paired) + " |", "|---|" + "---|" * len(paired)]
    for a in paired:
        cells = []
        for b in paired:
            wins = sum(r[0][a][0] and not r[0][b][0] for r in allrows)
            losses = sum(r[0][b][0] and not r[0][a][0] for r in allrows)
            cells.append("" if a == b else "%d / %d" % (wins, losses))
        lines.append("| %s | " % a + " | ".join(cells) + " |")
    out.append("\n".join(lines))
    return "\n\n".join(out) + "\n\n(default rule in cam/channel_map.h: %s)" % C_NAMES[rule_default]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=os.path.join(ROOT, "models", "fashion_scenes.ccm"))
    p.add_argument("--count", type=int, default=500, help="held-out scenes (default 500)")
    p.add_argument("--seed", type=int, default=1, help="scene generator seed (default 1)")
    p.add_argument("--layer", action="append", default=[],
                   help="layer (repeatable; default: features, the recommended one, features.9 and "
                   "features.6)")
    p.add_argument("--method", action="append", default=[], choices=sorted(METHODS),
                   help="repeatable; default all three (gradcam means gradcam --eigen-smooth)")
    p.add_argument("--cnncam", default=os.path.join(ROOT, "build", "cnncam"), help="the CLI (default build/cnncam)")
    p.add_argument("--out", help="also write the tables to this markdown file")
    a = p.parse_args(argv)
    if a.count < 1:
        p.error("--count must be >= 1")
    if not os.access(a.cnncam, os.X_OK):
        p.error("%s is missing: run make" % a.cnncam)
    layers = a.layer or ["features", "features.9", "features.6"]
    methods = a.method or list(METHODS)
    rule_default = default_rule()
    results, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        directory = os.path.join(tmp, "scenes")
        meta = scenes.write("test", a.count, a.seed, directory)
        nobj = sum(len(s["classes"]) for s in meta["scenes"])
        head = ("Sign of the principal component: localisation on %d held-out scenes (%d objects; split test, "
                "seed %d), model %s" % (a.count, nobj, a.seed, os.path.relpath(a.model, ROOT)))
        print(head, flush=True)
        for layer in layers:
            for method in methods:
                t0 = time.time()
                rows, ck = evaluate(a.cnncam, a.model, layer, method, meta, directory, tmp, rule_default)
                note = ("%s at %s: %d maps in %.0f s; against the CLI: LAPACK's map max|d| %.1e, %d signs differ; "
                        "the default's (%s) max|d| %.1e, %d signs differ"
                        % (LABELS[method], layer, ck["maps"], time.time() - t0, ck["cam_lapack"], ck["sign_lapack"],
                           C_NAMES[rule_default], ck["cam_default"], ck["sign_default"]))
                print(note, flush=True)
                notes.append(note)
                results.append(((method, layer), rows))
    t = tables(results, rule_default)
    print("\n" + t)
    if a.out:
        with open(a.out, "w") as f:
            f.write(head + "\n\n" + t + "\n\nChecks:\n\n" + "\n".join("- " + n for n in notes) + "\n")
    bad = sum(int(d) for n in notes for d in re.findall(r"(\d+) signs differ", n))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
