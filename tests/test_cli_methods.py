#!/usr/bin/python3
"""tests/test_cli_methods.py — the explanation methods in the cnncam command.

Usage: /usr/bin/python3 tests/test_cli_methods.py   (after `make all` and the
       test tools: `make test-py` builds them; CNNCAM_BUILD picks the build)

On the demo model (models/fashion_scenes.ccm, no conversion needed) and its
scene, checks:
  1. `cnncam methods` lists every method of pytorch-grad-cam's cam.py but
     shapleycam (docs/METHODS.md says why), gradcam first, each with a summary;
  2. refusals, each with exit 1, a message naming the problem and nothing
     written: an unknown --method, an option the method does not take
     (the library's cnncam_ctx_set_cam_options says which), --batch-size 0 or
     junk, and every other new option's bad values;
  3. the default is Grad-CAM of the logit: --method gradcam --target logit
     writes the same bytes as no option; --json names "method" and "target";
  4. guided backpropagation: --guided-npy is H x W x 3 float32, --guided-out
     and --guided-cam-out are numpy's deprocess_image of it and of the map
     times it, byte for byte, and asking for them changes no other output;
  5. cnncam_deprocess_image itself against numpy's deprocess_image
     (tests/reference_gradcam.py) on arrays larger than numpy's 8192-element
     buffer, with and without a mask (build/tests/tools/deprocess_npy);
  6. progress on stderr: --progress prints "scorecam: done/total forwards"
     at most once per tenth; without it and without a terminal, nothing.
Prints one line per check and "cli_methods: N passed, N failed"; exits 1 on
any failure.
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
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_gradcam import deprocess_image  # noqa: E402
from tally import check, run as run_suite  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))
CNNCAM = os.environ.get("CNNCAM", os.path.join(BUILD, "cnncam"))
DEPROCESS = os.path.join(BUILD, "tests", "tools", "deprocess_npy")
MODEL = os.path.join(ROOT, "models", "fashion_scenes.ccm")
SCENE = os.path.join(ROOT, "assets", "demo", "trouser_and_tshirt.png")
W = tempfile.mkdtemp(prefix="cnncam-test-cli-methods.")


def run(args, cwd):
    return subprocess.run([CNNCAM, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def fresh_dir(name):
    d = os.path.join(W, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def cam(name, args):
    """`cnncam cam -m MODEL ARGS SCENE` in a fresh directory; (result, directory)."""
    d = fresh_dir(name)
    r = run(["cam", "-m", MODEL, *args, SCENE], d)
    check(f"{name}: exit 0", r.returncode == 0, f"exit {r.returncode}; {r.stderr.strip()}")
    return r, d


def refused(name, args, says, code=1):
    """cam (or predict) ARGS: exit code, stderr naming each of says, nothing written."""
    d = fresh_dir("refused")
    r = run(args if args[0] in ("predict", "methods") else ["cam", "-m", MODEL, *args, SCENE], d)
    missing = [s for s in says if s not in r.stderr]
    check(f"{name} -> exit {code}, says {says}, writes nothing",
          r.returncode == code and not missing and not os.listdir(d),
          f"exit {r.returncode}; stderr {r.stderr.strip()!r}; files {os.listdir(d)}")


def pixels(f):
    with Image.open(f) as im:
        return np.asarray(im.convert("RGB"))


def same_bytes(a, b):
    return os.path.exists(a) and os.path.exists(b) and open(a, "rb").read() == open(b, "rb").read()


def methods_listing():
    d = fresh_dir("methods")
    r = run(["methods"], d)
    rows = re.findall(r"^  (\S+) +(\S.*)$", r.stdout, re.M)
    names = [n for n, _ in rows]
    check("cnncam methods: exit 0, one '  name  summary' line per method",
          r.returncode == 0 and rows and len(rows) == len(r.stdout.splitlines()), f"exit {r.returncode}; {r.stdout!r}")
    check("cnncam methods: gradcam first", names[:1] == ["gradcam"], str(names))
    cam_py = {"gradcam", "hirescam", "gradcamelementwise", "gradcam++", "xgradcam", "layercam", "eigencam",
              "eigengradcam", "kpcacam", "scorecam", "ablationcam", "fullgrad", "fem", "finercam", "segeigencam",
              "randomcam"}
    check(f"cnncam methods lists cam.py's 16 methods but shapleycam ({len(names)})",
          cam_py <= set(names) and "shapleycam" not in names, str(sorted(cam_py - set(names))))
    check("cnncam methods: names are distinct", len(set(names)) == len(names), str(names))
    r = run(["methods", "--help"], d)
    check("cnncam methods --help: exit 0, its usage", r.returncode == 0 and "usage: cnncam methods" in r.stdout,
          r.stdout)
    refused("cnncam methods with an argument", ["methods", "gradcam"], ["'gradcam'"])
    r = run(["--help"], d)
    check("cnncam --help names the methods command", r.returncode == 0 and "methods" in r.stdout, r.stdout)


def refusals():
    j = ["--json", "-o", "o.png"]
    refused("an unknown method", ["--method", "nosuch", *j], ["unknown method 'nosuch'", "gradcam"])
    refused("--batch-size 0", ["--method", "scorecam", "--batch-size", "0", *j], ["--batch-size", "'0'"])
    refused("--batch-size junk", ["--method", "scorecam", "--batch-size", "16x", *j], ["--batch-size", "'16x'"])
    refused("--batch-size ''", ["--method", "scorecam", "--batch-size", "", *j], ["--batch-size", "''"])
    refused("gradcam with --batch-size (a method refuses what it does not take)",
            ["--method", "gradcam", "--batch-size", "4", *j], ["gradcam", "batch_size"])
    refused("gradcam with --seed", ["--seed", "3", *j], ["gradcam", "seed"])
    refused("--target bogus", ["--target", "bogus", *j], ["--target", "'bogus'"])
    refused("--eigen-sign sideways", ["--eigen-sign", "sideways", *j], ["--eigen-sign", "'sideways'"])
    for bad in ("0", "1.5", "nan"):
        refused(f"--ablation-ratio {bad}", ["--method", "ablationcam", "--ablation-ratio", bad, *j],
                ["--ablation-ratio", f"'{bad}'"])
    refused("--seed -1", ["--method", "randomcam", "--seed", "-1", *j], ["--seed", "'-1'"])
    refused("--kpca-gamma 0", ["--method", "kpcacam", "--kpca-gamma", "0", *j], ["--kpca-gamma", "'0'"])
    refused("--finer-alpha inf", ["--method", "finercam", "--finer-alpha", "inf", *j], ["--finer-alpha", "'inf'"])
    refused("an unknown --kpca-kernel", ["--method", "kpcacam", "--kpca-kernel", "cubic", *j], ["cubic"])
    refused("--guided-out that is not a picture", ["--guided-out", "g.npy"], ["--guided-out", "'g.npy'", ".png"])
    refused("--guided-npy that is not .npy", ["--guided-npy", "g.png"], ["--guided-npy", "'g.png'", ".npy"])
    refused("--guided-extended without a guided output", ["--guided-extended", *j],
            ["--guided-extended", "--guided-npy"])
    refused("--method given twice", ["--method", "gradcam", "--method", "hirescam", *j], ["--method is given twice"])
    refused("predict takes no --method", ["predict", "-m", MODEL, "--method", "gradcam", SCENE],
            ["unknown option '--method'"])


def defaults_and_json():
    r0, d0 = cam("no method options", ["-o", "o.png", "--cam-out", "c.npy"])
    r1, d1 = cam("--method gradcam --target logit", ["--method", "gradcam", "--target", "logit", "-o", "o.png",
                                                     "--cam-out", "c.npy", "--json"])
    check("--method gradcam --target logit writes the same bytes as the default",
          same_bytes(os.path.join(d0, "o.png"), os.path.join(d1, "o.png")) and
          same_bytes(os.path.join(d0, "c.npy"), os.path.join(d1, "c.npy")))
    try:
        j = json.loads(r1.stdout)
        check('--json: "method":"gradcam", "target":"logit"', (j["method"], j["target"]) == ("gradcam", "logit"),
              r1.stdout)
    except (ValueError, KeyError) as e:
        check("--json has method and target", False, f"{e}: {r1.stdout!r}")
    for args, key, want in ((["--method", "hirescam"], "method", "hirescam"),
                            (["--target", "softmax"], "target", "softmax"),
                            (["--method", "scorecam", "--batch-size", "64"], "method", "scorecam")):
        r, _ = cam(" ".join(args), [*args, "--json", "--cam-out", "c.npy"])
        try:
            check(f'{" ".join(args)}: --json "{key}":"{want}"', json.loads(r.stdout)[key] == want, r.stdout)
        except (ValueError, KeyError) as e:
            check(f"{' '.join(args)}: --json", False, f"{e}: {r.stdout!r}")


def guided():
    outs = ["--cam-out", "c.npy", "-o", "o.png"]
    _, plain = cam("cam without guided outputs", outs)
    r, d = cam("--guided-npy --guided-out --guided-cam-out", [*outs, "--guided-npy", "g.npy", "--guided-out", "g.png",
                                                              "--guided-cam-out", "gc.png", "--json"])
    try:
        files = json.loads(r.stdout)["files"]
        check('--json "files" lists the guided outputs after the map\'s, in order',
              files == ["o.png", "c.npy", "g.npy", "g.png", "gc.png"], str(files))
    except (ValueError, KeyError) as e:
        check("--json with guided outputs", False, f"{e}: {r.stdout!r}")
    check("guided outputs change no other output (the overlay and the map are the same bytes)",
          same_bytes(os.path.join(plain, "o.png"), os.path.join(d, "o.png")) and
          same_bytes(os.path.join(plain, "c.npy"), os.path.join(d, "c.npy")))
    if not all(os.path.exists(os.path.join(d, f)) for f in ("g.npy", "g.png", "gc.png", "c.npy")):
        check("the guided outputs exist", False, str(os.listdir(d)))
        return
    gb, cam_map = np.load(os.path.join(d, "g.npy")), np.load(os.path.join(d, "c.npy"))
    check("--guided-npy is float32 H x W x 3 at the scene's size",
          gb.dtype == np.float32 and gb.shape == (*cam_map.shape, 3), f"{gb.dtype} {gb.shape}")
    check("--guided-out is deprocess_image(gb), byte for byte", np.array_equal(pixels(os.path.join(d, "g.png")),
                                                                               deprocess_image(gb)))
    mask = cv2.merge([cam_map, cam_map, cam_map])
    check("--guided-cam-out is deprocess_image(merge([cam] * 3) * gb), byte for byte",
          np.array_equal(pixels(os.path.join(d, "gc.png")), deprocess_image(mask * gb)))
    r, d = cam("--guided-extended", ["--guided-npy", "g.npy", "--guided-extended"])
    check("--guided-extended writes the gradient", os.path.exists(os.path.join(d, "g.npy")))


def deprocess_parity():
    if not os.access(DEPROCESS, os.X_OK):
        check(f"{DEPROCESS} exists (make test-py builds the test tools)", False)
        return
    rng = np.random.default_rng(14)
    d = fresh_dir("deprocess")
    worst = 0
    for k, shape in enumerate([(1, 1, 3), (5, 7, 3), (300, 451, 3), (224, 224, 3), (61, 29, 1)] * 2):
        gb = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-4, 4)).astype(np.float32)
        gb[rng.random(shape) < 0.3] = 0  # guided gradients are mostly zero
        mask = rng.random(shape[:2]).astype(np.float32)
        np.save(os.path.join(d, "gb.npy"), gb)
        np.save(os.path.join(d, "mask.npy"), mask)
        for with_mask in (False, True):
            r = subprocess.run([DEPROCESS, "gb.npy", *(["mask.npy"] if with_mask else []), "out.npy"], cwd=d,
                               capture_output=True, text=True)
            want = deprocess_image(mask[:, :, None] * gb if with_mask else gb)
            got = np.load(os.path.join(d, "out.npy")) if r.returncode == 0 else np.full(shape, -1.0)
            worst = max(worst, int(np.abs(got - want).max()))
    check(f"cnncam_deprocess_image = numpy's deprocess_image on 20 arrays, byte for byte (worst {worst})", worst == 0)


def progress():
    r, _ = cam("scorecam --progress", ["--method", "scorecam", "--progress", "--cam-out", "c.npy"])
    lines = re.findall(r"^scorecam: (\d+)/(\d+) forwards$", r.stderr, re.M)
    check("--progress: 'scorecam: done/total forwards' lines on stderr, the last done = total, at most 11",
          lines and lines[-1][0] == lines[-1][1] and len(lines) <= 11, r.stderr)
    r, _ = cam("scorecam without --progress", ["--method", "scorecam", "--cam-out", "c.npy"])
    check("no --progress and stderr not a terminal: no progress", "forwards" not in r.stderr, r.stderr)


PARTS = (methods_listing, refusals, defaults_and_json, guided, deprocess_parity, progress)


def main():
    if os.access(CNNCAM, os.X_OK):
        return run_suite("cli_methods", lambda: [part() for part in PARTS], W)
    print(f"FAIL {CNNCAM} is missing: run make all")
    return 1


if __name__ == "__main__":
    sys.exit(main())
