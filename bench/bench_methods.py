"""bench/bench_methods.py — the "methods" part of bench/bench.py (`--only
methods`): every explanation method of `cnncam methods`, plus guided
backpropagation, in cnncam and in tests/reference_cams.py (the PyTorch
restatement of pytorch-grad-cam 1.5), side by side.

For ResNet-34 and MobileNetV3-Large (the bench's random weights, calibrated
batchnorm), the usual 224 x 224 photo normalised once and kept in memory,
the recommended layer, and 1 and 2 threads (torch.set_num_threads for the
restatement, the context's threads for cnncam), each timed run is one
explanation of the top class:
  cnncam       `method NAME` of bench_cnncam: forward + cnncam_cam (default
               options); "guided": options.guided = 1, forward + Grad-CAM +
               cnncam_guided_backprop
  restatement  run_cam(model, [layer], x, NAME), its own forward and hooks,
               the model's parameters requiring grad as the library's models
               do; "guided": run_cam gradcam + guided_backprop (cam.py's pair)
Runs alternate cnncam and the restatement, each after SETTLE s idle; rep 0
warms up and is dropped, except for scorecam and ablationcam (K forwards per
run: few runs, no warm-up). Medians; ratio = cnncam / restatement, and every
cnncam method against cnncam's own Grad-CAM. The targets are checked per row.
"""
import copy
import os
import statistics
import sys
import time

import torch
import torchvision
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from cnncam_convert import models as cc_models  # noqa: E402
from reference_cams import guided_backprop, run_cam  # noqa: E402

MODELS = {"resnet34": "ResNet-34", "mobilenet_v3_large": "MobileNetV3-Large"}
METHODS = ("gradcam", "hirescam", "gradcamelementwise", "gradcam++", "xgradcam", "layercam", "eigencam",
           "eigengradcam", "kpcacam", "scorecam", "ablationcam", "fullgrad", "fem", "finercam", "segeigencam",
           "randomcam", "guided")
SLOW = ("scorecam", "ablationcam")
# One forward and one backward to the layer in the reference (uses_gradients):
# targets against cnncam's own Grad-CAM.
GRADIENT = ("hirescam", "gradcamelementwise", "gradcam++", "xgradcam", "layercam", "eigengradcam", "finercam",
            "segeigencam", "randomcam")
GRADIENT_LIMIT = 1.1
# Targets against the restatement: cnncam / restatement at most this.
RATIO_LIMIT = {"ablationcam": 1 / 50, "scorecam": 0.5, "fullgrad": 0.3, "eigencam": 0.3, "guided": 0.3}


def add_arguments(p):
    g = p.add_argument_group("methods part")
    g.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), metavar="METHOD",
                   help="methods to time (default all: %s)" % ", ".join(METHODS))
    g.add_argument("--slow-reps", type=int, default=2,
                   help="timed runs of %s, no warm-up (default 2)" % " and ".join(SLOW))
    g.add_argument("--skip-slow-restatement", action="store_true",
                   help="time %s in cnncam only (smoke runs: the restatement takes ~70 s per run at 224)"
                   % " and ".join(SLOW))


class Restatement:
    """The model in PyTorch and one timed run_cam call per method."""

    def __init__(self, arch, weights, layer, x):
        self.net = getattr(torchvision.models, arch)(weights=None)
        self.net.load_state_dict(torch.load(weights))
        self.net.eval()
        self.layer, self.x = layer, x

    def __call__(self, method):
        t = time.perf_counter()
        if method == "guided":
            run_cam(self.net, [self.layer], self.x, "gradcam")
            guided_backprop(self.net, self.x)
        else:
            run_cam(self.net, [self.layer], self.x, method)
        return 1e3 * (time.perf_counter() - t)

    def deepcopy_ms(self, reps=3):
        """guided_backprop deep-copies the model (the library patches it in place)."""
        v = []
        for _ in range(reps):
            t = time.perf_counter()
            copy.deepcopy(self.net)
            v.append(1e3 * (time.perf_counter() - t))
        return statistics.median(v)


def bench_model(arch, image, a, env, note):
    """{threads: {method: (cnncam ms, restatement ms or None, runs)}}, {threads: deepcopy ms}, layer."""
    weights, model, layer = env.prepare(arch, a.work, note)
    cn = env.Cnncam(model, image)
    x = cc_models.to_tensor(Image.open(image).convert("RGB"))[None]
    rs = Restatement(arch, weights, layer, x)
    out, copies = {}, {}
    try:
        for threads in a.threads:
            torch.set_num_threads(threads)
            cn.ask("threads %d" % threads)
            out[threads] = {}
            for method in a.methods:
                slow = method in SLOW
                warm, reps = (0, a.slow_reps) if slow else (1, a.reps)
                pairs = [("cnncam", lambda m=method: float(cn.ask("method " + m)))]
                if not (slow and a.skip_slow_restatement):
                    pairs.append(("restatement", lambda m=method: rs(m)))
                runs = {k: [] for k, _ in pairs}
                for rep in range(warm + reps):
                    for key, fn in (pairs if rep % 2 else pairs[::-1]):
                        time.sleep(env.SETTLE)
                        v = fn()
                        if rep >= warm:
                            runs[key].append(v)
                c = statistics.median(runs["cnncam"])
                r = statistics.median(runs["restatement"]) if runs.get("restatement") else None
                out[threads][method] = (c, r, reps)
                note("methods: %s, %d thread(s), %s: cnncam %.1f ms, restatement %s" % (
                    arch, threads, method, c, "%.1f ms (ratio %.3f)" % (r, c / r) if r else "not run"))
            if "guided" in a.methods:
                copies[threads] = rs.deepcopy_ms()
    finally:
        cn.close()
    return out, copies, layer


def _verdict(method, c, r, grad):
    """'met', 'not met' or '-' (no target, or not measured)."""
    if method in GRADIENT:
        return "-" if grad is None else ("met" if c <= GRADIENT_LIMIT * grad else "not met")
    if method in RATIO_LIMIT:
        return "-" if r is None else ("met" if c <= RATIO_LIMIT[method] * r else "not met")
    return "-"


def _target(method):
    if method in GRADIENT:
        return "cnncam <= %.1fx its Grad-CAM" % GRADIENT_LIMIT
    if method == "ablationcam":
        return "restatement / cnncam >= 50"
    if method in RATIO_LIMIT:
        return "ratio <= %g" % RATIO_LIMIT[method]
    return "-"


def table(arch, res, copies, layer, a):
    threads = sorted(res)
    name = {"guided": "guided backprop (+ Grad-CAM)"}
    grad = {t: res[t]["gradcam"][0] if "gradcam" in res[t] else None for t in threads}
    lines = ["### %s, 224x224, layer %s (recommended)" % (MODELS[arch], layer), ""]
    if any(g is not None for g in grad.values()):
        lines += ["cnncam's own Grad-CAM (forward + cnncam_cam, method gradcam): %s." % ", ".join(
            "%.1f ms at %d thread%s" % (grad[t], t, "s" * (t > 1)) for t in threads if grad[t] is not None), ""]
    head = "| method | timed runs |"
    rule = "|---|---|"
    for t in threads:
        head += " %d thread%s: cnncam / restatement ms (ratio) | %d: cnncam / its Grad-CAM |" % (
            t, "s" * (t > 1), t)
        rule += "---|---|"
    lines += [head + " target | met (%s) |" % ", ".join("%d thr" % t for t in threads), rule + "---|---|"]
    for method in a.methods:
        row = "| %s | %d%s |" % (name.get(method, method), res[threads[0]][method][2],
                                 " (no warm-up)" if method in SLOW else "")
        verdicts = []
        for t in threads:
            c, r, _ = res[t][method]
            row += " %.1f / %s |" % (c, "%.1f (%.3f)" % (r, c / r) if r else "not run")
            row += " %s |" % ("%.2f" % (c / grad[t]) if grad[t] else "-")
            verdicts.append(_verdict(method, c, r, grad[t]))
        lines.append(row + " %s | %s |" % (_target(method), ", ".join(verdicts)))
    if copies:
        lines += ["", "The restatement's guided_backprop deep-copies the model before patching its ReLUs "
                  "(pytorch-grad-cam patches the model in place): %s of its guided time." % ", ".join(
                      "%.1f ms at %d thread%s" % (copies[t], t, "s" * (t > 1)) for t in sorted(copies))]
    return "\n".join(lines)


def run(a, image, env, note):
    """The section's lines (markdown). a: bench.py's arguments (models,
    threads, reps, work and add_arguments'); env: bench.py's module (prepare,
    Cnncam, SETTLE)."""
    archs = [m for m in MODELS if m in a.models] or list(MODELS)
    parts = ["## Explanation methods", "",
             "One explanation of the top class from the normalised photo in memory: cnncam's forward + "
             "cnncam_cam (bench_cnncam `method NAME`) against tests/reference_cams.py's run_cam (pytorch-grad-cam "
             "1.5 restated in PyTorch, its own forward; guided: run_cam gradcam + guided_backprop against forward "
             "+ Grad-CAM + cnncam_guided_backprop). Medians of %d alternating runs after one warm-up (%s: the runs "
             "the table says, no warm-up); ratio = cnncam / restatement. Threads: torch.set_num_threads for the "
             "restatement (its numpy and OpenCV steps keep their own pools), the context's for cnncam. Targets: "
             "the gradient methods within %.1fx of cnncam's Grad-CAM; AblationCAM at least 50x faster than the "
             "restatement; ScoreCAM at most 0.5x; FullGrad, EigenCAM and guided backprop at most 0.3x."
             % (a.reps, " and ".join(SLOW), GRADIENT_LIMIT), ""]
    for arch in archs:
        res, copies, layer = bench_model(arch, image, a, env, note)
        parts += [table(arch, res, copies, layer, a), ""]
    return parts
