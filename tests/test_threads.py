#!/usr/bin/python3
"""Thread defaults of the CLI, and subnormal inputs against PyTorch.

Threads (through `cnncam predict --json` and `cnncam info`): without --threads a run
uses as many threads as the process has CPUs in its affinity mask
(os.sched_getaffinity), 1 under `taskset -c 0`; CNNCAM_NUM_THREADS=3 gives 3;
--threads 2 wins over the variable; an invalid CNNCAM_NUM_THREADS ("abc", "0") is
refused with exit 1 and a message naming it, and nothing is written.

Subnormals: cnncam flushes them to zero (FTZ/DAZ) where PyTorch computes them. The
logits must still match PyTorch within test_models.py's tolerance (max |d| <= 1e-4 *
max(1, max|logit|), same top-1) on inputs built to produce them:
  - tests/models/subnormal.py's convs without bias or batchnorm on a photo scaled by
    1e-39 (PyTorch's activations are then subnormal almost everywhere: counted), and on
    a photo whose right half is scaled by 1e-39 (the left half decides the logits);
  - EfficientNet-B0 (random init, batchnorm calibrated, as bench/bench.py converts it)
    on the photo scaled by 1e-39 (its stem conv sees only subnormals).
Prints one line per check and "threads: N passed, N failed"; exits 1 on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))   # make test passes its $(BUILD)
CNNCAM = os.path.join(BUILD, "cnncam")
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
PHOTO = os.path.join(ROOT, "assets", "images", "chelsea.png")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
from cnncam_convert import models as cc_models  # noqa: E402
import subnormal  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests"))
from tally import check, finish  # noqa: E402

FLT_MIN = np.float32(1.1754944e-38)
W = tempfile.mkdtemp(prefix="cnncam-test-threads.")


def run(args, env_extra=None, prefix=()):
    env = dict(os.environ)
    env.pop("CNNCAM_NUM_THREADS", None)
    env.update(env_extra or {})
    return subprocess.run([*prefix, CNNCAM, *args], capture_output=True, text=True, env=env, timeout=300)


def convert(out, *args):
    r = subprocess.run([CONVERT, *args, "-o", out], capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise RuntimeError(f"cnncam-convert {' '.join(args)}: {r.stderr}")


def photo(h=224, w=224):
    img = Image.open(PHOTO).convert("RGB").resize((w, h), Image.BILINEAR)
    return cc_models.to_tensor(img).numpy().astype(np.float32)   # 3 x h x w, ImageNet-normalised


def json_threads(r):
    try:
        return json.loads(r.stdout.splitlines()[0])["threads"]
    except (IndexError, KeyError, ValueError):
        return None


def threads(model, image):
    cpus = len(os.sched_getaffinity(0))
    args = ["predict", "--json", "-m", model, image]
    r = run(args)
    check(f"default threads = the affinity mask's {cpus} CPUs", json_threads(r) == cpus, r.stdout[:200] + r.stderr)
    r = run(args, prefix=("taskset", "-c", str(min(os.sched_getaffinity(0)))))
    check("under taskset -c <one CPU>: 1 thread", json_threads(r) == 1, r.stdout[:200] + r.stderr)
    r = run(args, {"CNNCAM_NUM_THREADS": "3"})
    check("CNNCAM_NUM_THREADS=3 gives 3", json_threads(r) == 3, r.stdout[:200] + r.stderr)
    r = run(args[:1] + ["--threads", "2"] + args[1:], {"CNNCAM_NUM_THREADS": "3"})
    check("--threads 2 wins over CNNCAM_NUM_THREADS=3", json_threads(r) == 2, r.stdout[:200] + r.stderr)
    for bad in ("abc", "0", "300"):
        out = os.path.join(W, "refused.npy")
        r = run(["predict", "-m", model, "--logits-out", out, image], {"CNNCAM_NUM_THREADS": bad})
        check(f"CNNCAM_NUM_THREADS={bad!r} refused: exit 1, named, nothing written",
              r.returncode == 1 and "CNNCAM_NUM_THREADS" in r.stderr and f"'{bad}'" in r.stderr
              and not os.path.exists(out), f"exit {r.returncode}: {r.stderr}")
    r = run(["info", model])
    line = [x for x in r.stdout.splitlines() if x.startswith("threads")]
    check(f"cnncam info: 'threads       {cpus} ...'", line and line[0].split()[1] == str(cpus), r.stdout[-400:])
    r = run(["info", model], {"CNNCAM_NUM_THREADS": "3"})
    line = [x for x in r.stdout.splitlines() if x.startswith("threads")]
    check("cnncam info with CNNCAM_NUM_THREADS=3: 3", line and line[0].split()[1] == "3" and
          "CNNCAM_NUM_THREADS" in line[0], r.stdout[-400:])


def cnncam_logits(model, x, name):
    xin, out = os.path.join(W, name + ".npy"), os.path.join(W, name + ".logits.npy")
    np.save(xin, x)
    r = run(["predict", "-m", model, "--logits-out", out, xin])
    if r.returncode:
        raise RuntimeError(f"cnncam predict {name}: {r.stderr}")
    return np.load(out)[0]


def parity(name, model, net, x, count_subnormal=False):
    with torch.no_grad():
        acts = []
        hooks = [m.register_forward_hook(lambda m, i, o: acts.append(o.detach().abs()))
                 for m in net.modules() if isinstance(m, torch.nn.Conv2d)] if count_subnormal else []
        want = net(torch.from_numpy(x[None])).numpy()[0]
        for h in hooks:
            h.remove()
    got = cnncam_logits(model, x, name.split()[0])
    d = float(np.abs(got - want).max())
    tol = 1e-4 * max(1.0, float(np.abs(want).max()))
    detail = ""
    if count_subnormal:
        total = sum(a.numel() for a in acts)
        sub = sum(int(((a > 0) & (a < torch.tensor(FLT_MIN))).sum()) for a in acts)
        detail = f", PyTorch's conv outputs {100 * sub / total:.0f}% subnormal"
        check(f"{name}: the input is subnormal-heavy (over half of PyTorch's conv outputs)", sub > total / 2,
              f"{sub} of {total}")
    check(f"{name}: logits match PyTorch (max |d| {d:.3g}, tol {tol:.3g}{detail})",
          d <= tol and int(got.argmax()) == int(want.argmax()), f"got {got[:4]}, want {want[:4]}")


def main():
    if not os.access(CNNCAM, os.X_OK):
        print(f"{CNNCAM} is missing: run make")
        return 1
    torch.set_num_threads(2)
    plain = os.path.join(W, "plain.ccm")
    labels = os.path.join(W, "ten.labels")
    with open(labels, "w") as f:
        f.write("".join(f"class {i}\n" for i in range(10)))
    convert(plain, "--module", os.path.join(ROOT, "tests", "models", "subnormal.py") + ":plain_convs",
            "--labels", labels)
    threads(plain, PHOTO)

    x = photo()
    net = subnormal.plain_convs().eval()
    parity("plain convs, photo x 1e-39", plain, net, x * np.float32(1e-39), count_subnormal=True)
    half = x.copy()
    half[:, :, 112:] *= np.float32(1e-39)
    parity("plain convs, right half x 1e-39", plain, net, half)
    parity("plain convs, photo", plain, net, x)

    weights, effnet = os.path.join(W, "effnet.pth"), os.path.join(W, "effnet.ccm")
    torch.save(cc_models.random_model("efficientnet_b0", 0).state_dict(), weights)
    convert(effnet, "--arch", "efficientnet_b0", "--weights", weights)
    net = cc_models.build_arch("efficientnet_b0", None)
    net.load_state_dict(torch.load(weights))
    net.eval()
    parity("EfficientNet-B0, photo x 1e-39", effnet, net, x * np.float32(1e-39))
    parity("EfficientNet-B0, photo", effnet, net, x)
    return finish("threads")


if __name__ == "__main__":
    sys.exit(main())
