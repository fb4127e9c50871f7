"""bench/bench_compat.py — the pytorch-grad-cam drop-in (cnncam.compat) against
the pytorch-grad-cam call it replaces, for bench/bench.py.

For ResNet-34 and MobileNetV3-Large (the bench's random weights with
calibrated batchnorm, bench.prepare), the usual 224 x 224 photo normalised
once and kept in memory, and each thread count (torch.set_num_threads; the
drop-in follows torch's count), each timed run is one Grad-CAM of the top
class:
  drop-in      cnncam.compat.GradCAM(model=net, target_layers=[layer])
               (input_tensor=x, targets=None), after its first call
  reference    bench/pytorch_gradcam.py's GradCAM(net, [layer])(x): the
               library's hooks, backward through the whole network with
               parameter gradients, numpy/OpenCV maps (a second copy of the
               module, so that neither sees the other's hooks)
  C call       bench_cnncam `gradcam` (forward + cnncam_cam from the same
               memory), for what the Python layer adds
alternating run by run, each after bench.SETTLE s idle; rep 0 warms up and
is dropped; medians; ratio = drop-in / reference, target <= 0.3. The first
call is timed apart, from an empty cache directory: the conversion
(cnncam_convert's convert_module: trace, write, self-check) and the whole
first call; then the first call of a new process, from the disk cache.
"""
import os
import shutil
import statistics
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
for p in (os.path.join(ROOT, "python"), os.path.join(ROOT, "tools"), os.path.join(ROOT, "bench")):
    if p not in sys.path:
        sys.path.insert(0, p)
from cnncam_convert import models as cc_models  # noqa: E402
from pytorch_gradcam import GradCAM as ReferenceGradCAM  # noqa: E402

MODELS = {"resnet34": "ResNet-34", "mobilenet_v3_large": "MobileNetV3-Large"}
RATIO_LIMIT = 0.3


def _net(arch, weights):
    net = getattr(torchvision.models, arch)(weights=None)
    net.load_state_dict(torch.load(weights))
    return net.eval()


def bench_model(arch, image, a, env, note):
    """{threads: {...medians and first-call times...}}, layer."""
    from cnncam.compat import GradCAM, _cache
    weights, model_path, layer = env.prepare(arch, a.work, note)
    x = cc_models.to_tensor(Image.open(image).convert("RGB"))[None]
    ours_net, ref_net = _net(arch, weights), _net(arch, weights)
    ref = ReferenceGradCAM(ref_net, [dict(ref_net.named_modules())[layer]])
    cache = os.path.join(a.work, "compat-cache")
    saved_env = os.environ.get("XDG_CACHE_HOME")
    cn = env.Cnncam(model_path, image)
    out = {}
    try:
        for threads in a.threads:
            torch.set_num_threads(threads)
            cn.ask("threads %d" % threads)
            shutil.rmtree(cache, ignore_errors=True)
            os.environ["XDG_CACHE_HOME"] = cache
            _cache._loaded.clear()
            _cache._known.clear()
            cam = GradCAM(model=ours_net, target_layers=[dict(ours_net.named_modules())[layer]])
            time.sleep(env.SETTLE)
            t = time.perf_counter()
            ours_map = cam(input_tensor=x, targets=None)
            first = time.perf_counter() - t
            conversion = _cache.stats["last_conversion_s"]
            _cache._loaded.clear()          # a new process: the disk cache only
            _cache._known.clear()
            cam = GradCAM(model=ours_net, target_layers=[dict(ours_net.named_modules())[layer]])
            time.sleep(env.SETTLE)
            t = time.perf_counter()
            cam(input_tensor=x, targets=None)
            from_disk = time.perf_counter() - t
            agree = float(np.abs(ours_map - ref(x)).max())

            def dropin():
                t = time.perf_counter()
                cam(input_tensor=x, targets=None)
                return 1e3 * (time.perf_counter() - t)

            def reference():
                t = time.perf_counter()
                ref(x)
                return 1e3 * (time.perf_counter() - t)

            pairs = [("dropin", dropin), ("reference", reference), ("c", lambda: float(cn.ask("gradcam")))]
            runs = {k: [] for k, _ in pairs}
            for rep in range(a.reps + 1):
                for key, fn in (pairs if rep % 2 else pairs[::-1]):
                    time.sleep(env.SETTLE)
                    v = fn()
                    if rep:
                        runs[key].append(v)
            med = {k: statistics.median(v) for k, v in runs.items()}
            out[threads] = dict(med, first=first, conversion=conversion, from_disk=from_disk, agree=agree)
            note("compat: %s, %d thread(s): drop-in %.1f ms, reference %.1f ms (ratio %.3f), C %.1f ms; first call "
                 "%.2f s (conversion %.2f s), from the disk cache %.2f s; maps max|d| %.2g"
                 % (arch, threads, med["dropin"], med["reference"], med["dropin"] / med["reference"], med["c"],
                    first, conversion, from_disk, agree))
    finally:
        cn.close()
        if saved_env is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = saved_env
        shutil.rmtree(cache, ignore_errors=True)
    return out, layer


def run(a, image, env, note):
    """The section's lines (markdown). a: bench.py's arguments (models,
    threads, reps, work); env: bench.py's module (prepare, Cnncam, SETTLE)."""
    archs = [m for m in MODELS if m in a.models] or list(MODELS)
    lines = ["## The pytorch-grad-cam drop-in (cnncam.compat)", "",
             "`cnncam.compat.GradCAM(model=net, target_layers=[layer])(input_tensor=x, targets=None)` after its first "
             "call, against the pytorch-grad-cam call it replaces (bench/pytorch_gradcam.py) on the same torch "
             "module's weights and the same 224 x 224 tensor, and against the C call (bench_cnncam `gradcam`). "
             "Medians of %d alternating runs after one warm-up; ratio = drop-in / reference, target <= %.1f. "
             "First call: from an empty cache, the conversion (convert_module: trace, write, self-check) and the "
             "whole call; then a new process's first call, from the disk cache." % (a.reps, RATIO_LIMIT), "",
             "| model | threads | drop-in ms | pytorch-grad-cam ms | ratio | met | C call ms | first call s "
             "(conversion s) | first call from the disk cache s | maps max abs d |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for arch in archs:
        res, layer = bench_model(arch, image, a, env, note)
        for threads in sorted(res):
            r = res[threads]
            ratio = r["dropin"] / r["reference"]
            lines.append("| %s (%s) | %d | %.1f | %.1f | %.3f | %s | %.1f | %.2f (%.2f) | %.2f | %.1g |" % (
                MODELS[arch], layer, threads, r["dropin"], r["reference"], ratio,
                "met" if ratio <= RATIO_LIMIT else "not met", r["c"], r["first"], r["conversion"], r["from_disk"],
                r["agree"]))
    return lines + [""]
