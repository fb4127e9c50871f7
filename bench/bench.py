#!/usr/bin/python3
"""bench/bench.py — cnncam against PyTorch and ONNX Runtime on this machine, in
the same run, alternating (`make bench`; writes bench/RESULTS.md).

For each model (random weights with calibrated batchnorm, saved as .pth and
converted: speed does not depend on the values, as long as they stay normal
floats) and for 1 and 2 threads, the same 224 x 224 photo:
  forward    one forward pass; PyTorch under no_grad
  gradcam    forward + backward to the recommended layer + the map. PyTorch two
             ways: the pytorch-grad-cam call (bench/pytorch_gradcam.py: hooks,
             backward through the whole network with parameter gradients,
             numpy/OpenCV maps), and the best PyTorch can do (parameters frozen,
             the graph recorded from the layer on, autograd.grad to the layer
             only, the map in torch)
  top5       one forward, Grad-CAM of each of the 5 best classes (PyTorch best:
             one forward, five autograd.grad with retain_graph)
  batch8     8 images: forward + Grad-CAM of each one's top class, per image
  process    a whole process for one image: `cnncam cam -o` against
             bench/torch_gradcam.py (import torch, load, GradCAM, overlay, write),
             wall time and peak RSS
ONNX Runtime (make bench-deps: npm onnxruntime-node into build/ort, run by a
long-lived bench/bench_ort.js process; --no-ort leaves it out) runs the same
weights exported by torch.onnx.export at opset 13, its logits checked against
PyTorch's: forward and batch8 (forwards only: it has no backward), against
issue 17's targets, beside the share of the measured FMA peak each reaches.
Each measurement alternates cnncam, PyTorch and ONNX Runtime run by run
(cnncam in a long-lived bench/bench_cnncam process), each run after SETTLE
seconds idle; medians and ratios cnncam / PyTorch (or / ONNX Runtime).

  profile    (the article's CNNs) one thread: cnncam's plan profiler (each
             node's wall time) beside ONNX Runtime's profiler (each kernel),
             by kind of layer and the slowest layers, cnncam's nodes grouped
             as ONNX Runtime fused them

Then cnncam alone (--only threads,subnormal runs just these):
  threads    ResNet-18 forward at 1, 2, 4 and 8 threads (the pool runs no more
             than the CPUs the process may use), then at 1 and 2 threads beside
             a competing busy process (a spinning child), against 1 thread alone
  subnormal  EfficientNet-B0's forward on a scaled photo against the photo:
             with torchvision's own initialisation (no batchnorm shift lifts
             small values) on the photo x 1e-30, whose activations decay through
             the subnormal range, and the calibrated model on the photo x 1e-39
             (its stem sees only subnormals); ratio <= 1.3 is the target (runs
             flush subnormals to zero)

And every explanation method against the restatement of pytorch-grad-cam
(--only methods runs just it; bench/bench_methods.py): ResNet-34 and
MobileNetV3-Large, each method of `cnncam methods` and guided backprop, one
explanation of the top class at 1 and 2 threads, ratios and targets per row.

And the Python package (--only python): the pytorch-grad-cam drop-in's
GradCAM call after the first against the reference's call, with the first
call's conversion apart (bench/bench_compat.py), and cnncam.dask's images per
second with two workers against one (bench/bench_dask.py).
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnncam_convert import ccm  # noqa: E402  (the Python reader of the format)
from cnncam_convert import models as cc_models  # noqa: E402
from pytorch_gradcam import GradCAM, reshape_transform_for  # noqa: E402
import bench_methods  # noqa: E402
import bench_compat  # noqa: E402
import bench_dask  # noqa: E402

MODELS = ("mobilenet_v3_large", "resnet34", "vgg16", "regnet_y_800mf", "efficientnet_b0",
          "vit_b_16", "swin_t", "convnext_tiny")
MODES = ("forward", "gradcam", "top5", "batch8")
PROFILED = MODELS[:5]   # the article's CNNs
# Idle time before each timed run: the other engine's worker threads spin
# after their work (OpenBLAS for ~0.1 s, OpenMP briefly) and would otherwise
# take a core from this run (measured: cnncam's 2-thread MobileNet forward is
# 11.7 ms alone and 17 ms right after a PyTorch run).
SETTLE = 0.15


class Cnncam:
    """The long-lived bench_cnncam process of one model."""

    def __init__(self, model, image):
        self.p = subprocess.Popen([os.path.join(BUILD, "bench_cnncam"), model, image], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)
        ready = self.p.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise RuntimeError("bench_cnncam %s: %s" % (model, " ".join(ready) or "exited"))

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        reply = self.p.stdout.readline().strip()
        if reply.startswith("error") or not reply:
            raise RuntimeError("bench_cnncam: %s -> %s" % (cmd, reply or "exited"))
        return reply

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.close()
        self.p.wait()


class Ort:
    """ONNX Runtime on the same model exported to ONNX: the long-lived
    bench/bench_ort.js process (Node.js and the onnxruntime-node package of
    `make bench-deps`)."""

    def __init__(self, onnx, x, work):
        raw = os.path.join(work, "input-%d.f32" % os.getpid())
        x.numpy().astype("<f4").tofile(raw)
        self.p = subprocess.Popen(["node", os.path.join(ROOT, "bench", "bench_ort.js"), onnx, raw],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        ready = self.p.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError("bench_ort.js %s: %s" % (onnx, ready or "exited"))

    ask = Cnncam.ask
    close = Cnncam.close


def export_onnx(arch, weights, work, note):
    """The bench's model as ONNX (torch.onnx.export, opset 13, batch dimension
    dynamic), from the same weights as the .ccm."""
    path = os.path.join(work, arch + "-seed0.onnx")
    if not os.path.exists(path):
        note("exporting %s to ONNX" % arch)
        net = getattr(torchvision.models, arch)(weights=None)
        net.load_state_dict(torch.load(weights))
        net.eval()
        torch.onnx.export(net, torch.zeros(1, 3, 224, 224), path, opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return path


def ort_info():
    path = os.path.join(BUILD, "ort", "node_modules", "onnxruntime-node", "package.json")
    try:
        import json
        with open(path) as f:
            version = json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return "ONNX Runtime: not run (--no-ort)."
    return ("ONNX Runtime %s CPU (npm onnxruntime-node, its own libonnxruntime), all graph optimisations, "
            "intra-op threads = threads, sequential; models exported by torch.onnx.export at opset 13 from the "
            "same weights, their logits checked against PyTorch's. cnncam's Grad-CAM is forward + backward "
            "to the recommended layer + the map; its batch 8 is 8 images' forward and each one's Grad-CAM, "
            "ONNX Runtime's a forward of 8." % version)


def ort_available():
    """Whether `make bench-deps` installed ONNX Runtime (and Node.js runs)."""
    js = os.path.join(BUILD, "ort", "node_modules", "onnxruntime-node", "package.json")
    return os.path.exists(js) and subprocess.run(["node", "--version"], capture_output=True).returncode == 0


class Torch:
    """The same model in PyTorch: each method returns its wall time in ms."""

    def __init__(self, arch, weights, layer, x):
        self.net = getattr(torchvision.models, arch)(weights=None)
        self.net.load_state_dict(torch.load(weights))
        self.net.eval()
        self.layer = dict(self.net.named_modules())[layer]
        self.reshape = reshape_transform_for(arch) or (lambda t: t)
        self.x, self.x8 = x, x.repeat(8, 1, 1, 1)
        self.cam = GradCAM(self.net, [self.layer], reshape_transform_for(arch))
        self.gflop = self._count_gflop()

    def _count_gflop(self):
        """2 x the multiply-adds of one forward at this input, as torch.profiler counts
        them (convolutions and every matrix product: a transformer's attention and
        the linears that nn.MultiheadAttention and Swin's attention call as functions,
        which module hooks would miss)."""
        with torch.no_grad(), torch.profiler.profile(with_flops=True) as prof:
            self.net(self.x)
        return sum(e.flops for e in prof.key_averages()) / 1e9

    def _grad(self, on):
        for q in self.net.parameters():
            q.requires_grad_(on)

    def _done(self, t):
        self.cam.activations, self.cam.gradients = [], []   # its hooks saw this run too
        return 1e3 * (time.perf_counter() - t)

    def forward(self):
        t = time.perf_counter()
        with torch.no_grad():
            self.net(self.x)
        return self._done(t)

    def pgc(self):
        self._grad(True)
        t = time.perf_counter()
        self.cam(self.x)
        return 1e3 * (time.perf_counter() - t)

    def _best(self, x, k):
        """Frozen parameters; the layer's output is made a leaf that requires
        grad, so autograd records and runs only the part above it."""
        keep = {}

        def hook(module, inputs, output):
            keep["A"] = output.detach().requires_grad_(True)
            return keep["A"]
        h = self.layer.register_forward_hook(hook)
        try:
            out = self.net(x)
        finally:
            h.remove()
        A = keep["A"]
        As = self.reshape(A)
        if k == 1:
            targets = [out.gather(1, out.argmax(1, keepdim=True)).sum()]
        else:
            targets = [out[0, c] for c in out[0].topk(k).indices]
        for i, y in enumerate(targets):
            g, = torch.autograd.grad(y, A, retain_graph=i + 1 < len(targets))
            g = self.reshape(g)
            cam = F.relu((g.mean((2, 3), keepdim=True) * As).sum(1, keepdim=True)).detach()
            lo = cam.amin((2, 3), keepdim=True)
            cam = (cam - lo) / (cam.amax((2, 3), keepdim=True) - lo + 1e-7)
            F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def best(self, mode):
        self._grad(False)
        x, k = (self.x8, 1) if mode == "batch8" else (self.x, 5 if mode == "top5" else 1)
        t = time.perf_counter()
        self._best(x, k)
        return self._done(t)


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def deb(pkg):
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True)
        return r.stdout or "?"
    # Dirty means code that differs from the commit; the file this run rewrites does not count.
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    changed = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--", ".",
                              ":!bench/RESULTS.md"], capture_output=True, text=True).stdout.strip()
    commit += "-dirty" if commit and changed else ""
    cc = subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    flags = subprocess.run(["make", "-s", "-C", ROOT, "--no-print-directory", "print-flags"], capture_output=True,
                           text=True).stdout.strip()
    return [("CPU", "%s, %d cores" % (cpu, os.cpu_count())), ("kernel", platform.release()),
            ("cnncam", "commit %s, %s, %s" % (commit or "?", cc, flags or "?")),
            ("OpenBLAS", "%s (OPENBLAS_CORETYPE=%s)" % (deb("libopenblas0-pthread"),
                                                        os.environ.get("OPENBLAS_CORETYPE", "unset"))),
            ("PyTorch", "%s, torchvision %s, numpy %s" % (torch.__version__, torchvision.__version__,
                                                          np.__version__))]


def process(cmd):
    """Wall ms and peak RSS MiB of one command. GNU time measures the RSS: a
    child forked from this process (torch loaded) would report our own peak."""
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    wall = 1e3 * (time.perf_counter() - t)
    if r.returncode:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), r.stderr))
    return wall, int(r.stderr.strip().splitlines()[-1]) / 1024


def prepare(arch, work, note):
    """Random weights with batchnorm statistics calibrated on real photos, as
    `cnncam-convert --random-init` makes them: plain random init lets the
    activations shrink layer by layer into subnormal floats, which both engines
    would then run at a crawl, and pretrained weights do not."""
    weights, model = os.path.join(work, arch + "-seed0.pth"), os.path.join(work, arch + "-seed0.ccm")
    if not os.path.exists(model):
        note("converting %s" % arch)
        torch.save(cc_models.random_model(arch, 0).state_dict(), weights)
        subprocess.run([os.path.join(ROOT, "tools", "cnncam-convert"), "--arch", arch, "--weights", weights,
                        "-o", model], check=True, stdout=subprocess.DEVNULL)
    return weights, model, ccm.read(model).metadata["gradcam.layer"]


def median(v):
    return statistics.median(v) if v else float("nan")


def bench_model(arch, image, work, reps, process_reps, threads_list, use_ort, note):
    weights, model, layer = prepare(arch, work, note)
    x = cc_models.to_tensor(Image.open(image).convert("RGB"))[None]
    rows = []
    cn = Cnncam(model, image)
    th = Torch(arch, weights, layer, x)
    ort = None
    if use_ort:
        try:
            onnx = export_onnx(arch, weights, work, note)
        except Exception as e:   # the exporter's failures are many kinds; the rest of the bench still runs
            note("%s: torch.onnx.export failed (%s): no ONNX Runtime row" % (arch, str(e).splitlines()[0]))
        else:
            ort = Ort(onnx, x, work)
    try:
        if ort:   # the export runs the same model: its logits are PyTorch's
            with torch.no_grad():
                want = th.net(x)[0].numpy()
            got = np.array([float(v) for v in ort.ask("logits").split()])
            if got.shape != want.shape or np.abs(got - want).max() > 1e-3 * max(1, np.abs(want).max()):
                raise RuntimeError("%s: ONNX Runtime's logits differ from PyTorch's by %g" % (
                    arch, np.abs(got - want).max() if got.shape == want.shape else float("inf")))
        for threads in threads_list:
            torch.set_num_threads(threads)
            cn.ask("threads %d" % threads)
            if ort:
                ort.ask("threads %d" % threads)
            runs = {"sgemm": [float(cn.ask("sgemm 1024"))], "gemm": [float(cn.ask("gemm 1024"))],
                    "peak": [float(cn.ask("peak"))]}
            for rep in range(reps + 1):          # rep 0 warms up and is dropped
                for mode in MODES:
                    pairs = [("cnncam " + mode, lambda m=mode: float(cn.ask(m)))]
                    pairs.append(("torch " + mode, th.forward if mode == "forward" else
                                  lambda m=mode: th.best(m)))
                    if mode == "gradcam":
                        pairs.append(("pgc gradcam", th.pgc))
                    if ort and mode in ("forward", "batch8"):
                        pairs.append(("ort " + mode, lambda m=mode: float(ort.ask(m))))
                    for key, fn in (pairs if rep % 2 else pairs[::-1]):
                        time.sleep(SETTLE)
                        v = fn()
                        if rep:
                            runs.setdefault(key, []).append(v)
            out = os.path.join(work, "overlay.png")
            for rep in range(process_reps):
                for key, cmd in (("cnncam process", [os.path.join(BUILD, "cnncam"), "cam", "-m", model, "-l",
                                                       layer, "--threads", str(threads), "-o", out, image]),
                                 ("torch process", ["/usr/bin/python3", os.path.join(ROOT, "bench", "torch_gradcam.py"),
                                                    arch, weights, layer, image, out, str(threads)])):
                    wall, rss = process(cmd)
                    runs.setdefault(key, []).append(wall)
                    runs.setdefault(key + " rss", []).append(rss)
            med = {k: median(v) for k, v in runs.items()}
            rows.append((arch, threads, med, th.gflop))
            note("%s, %d thread(s): %s" % (arch, threads, ", ".join("%s %.1f" % kv for kv in sorted(med.items()))))
    finally:
        cn.close()
        if ort:
            ort.close()
    return rows


def table(rows):
    def r(a, b):
        return "%.2f" % (a / b) if b else "-"
    head = ["| model | threads | forward ms: cnncam / torch (ratio) | Grad-CAM ms: cnncam / pytorch-grad-cam "
            "(ratio) / torch best (ratio) | top-5 Grad-CAM ms: cnncam / torch best (ratio) | batch 8 img/s: cnncam "
            "/ torch best (ratio) | process for one image: cnncam / Python, wall ms (ratio), peak RSS MiB (ratio) |",
            "|---|---|---|---|---|---|---|"]
    for arch, threads, m, _ in rows:
        c8, t8 = 8000 / m["cnncam batch8"], 8000 / m["torch batch8"]
        head.append("| %s | %d | %.1f / %.1f (%s) | %.1f / %.1f (%s) / %.1f (%s) | %.1f / %.1f (%s) | %.1f / %.1f (%s) "
                    "| %.0f / %.0f (%s), %.0f / %.0f (%s) |" % (
                        arch, threads, m["cnncam forward"], m["torch forward"], r(m["cnncam forward"], m["torch forward"]),
                        m["cnncam gradcam"], m["pgc gradcam"], r(m["cnncam gradcam"], m["pgc gradcam"]),
                        m["torch gradcam"], r(m["cnncam gradcam"], m["torch gradcam"]),
                        m["cnncam top5"], m["torch top5"], r(m["cnncam top5"], m["torch top5"]),
                        c8, t8, r(c8, t8),
                        m["cnncam process"], m["torch process"], r(m["cnncam process"], m["torch process"]),
                        m["cnncam process rss"], m["torch process rss"],
                        r(m["cnncam process rss"], m["torch process rss"])))
    return "\n".join(head)


def ort_table(rows):
    """cnncam against ONNX Runtime's forward, with issue 17's targets."""
    lines = ["| model | threads | forward ms: cnncam / ONNX Runtime (ratio, target <= 1.0) | Grad-CAM ms: cnncam / "
             "ONNX Runtime's forward (ratio, target <= 1.1) | batch 8 img/s: cnncam explanations / ONNX Runtime "
             "forwards (ratio, target >= 1.0) |", "|---|---|---|---|---|"]
    for arch, threads, m, _ in rows:
        if "ort forward" not in m:
            continue
        c8, o8 = 8000 / m["cnncam batch8"], 8000 / m["ort batch8"]
        lines.append("| %s | %d | %.1f / %.1f (%.2f) | %.1f / %.1f (%.2f) | %.1f / %.1f (%.2f) |" % (
            arch, threads, m["cnncam forward"], m["ort forward"], m["cnncam forward"] / m["ort forward"],
            m["cnncam gradcam"], m["ort forward"], m["cnncam gradcam"] / m["ort forward"], c8, o8, c8 / o8))
    return "\n".join(lines) if len(lines) > 2 else ""


def ceiling_table(rows):
    lines = ["| model | threads | GFLOP per forward (torch.profiler) | cnncam forward GFLOP/s | OpenBLAS sgemm "
             "1024³ GFLOP/s | share of the sgemm ceiling | cnncam's own gemm 1024³ GFLOP/s | share of it | "
             "FMA peak GFLOP/s (measured) | share of the peak | ONNX Runtime's share of the peak |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for arch, threads, m, gflop in rows:
        rate = gflop / (m["cnncam forward"] / 1e3)
        ort = "%.0f%%" % (100 * gflop / (m["ort forward"] / 1e3) / m["peak"]) if "ort forward" in m else "-"
        lines.append("| %s | %d | %.2f | %.1f | %.1f | %.0f%% | %.1f | %.0f%% | %.1f | %.0f%% | %s |" % (
            arch, threads, gflop, rate, m["sgemm"], 100 * rate / m["sgemm"], m["gemm"], 100 * rate / m["gemm"],
            m["peak"], 100 * rate / m["peak"], ort))
    return "\n".join(lines)


def forward_ms(cn, reps):
    """Median of reps forwards of one bench_cnncam process (after one warm-up)."""
    cn.ask("forward")
    return median([float(cn.ask("forward")) for _ in range(reps)])


def module_of_ort(name):
    """The module path in an ONNX node name torch.onnx.export wrote
    (/features/features.2/block/block.2/block.2.0/Conv -> features.2.block.2.0):
    each scope is an attribute, or its parent's name and an index."""
    scopes = name.split("/")[1:-1]
    return ".".join(sc.rsplit(".", 1)[-1] for sc in scopes)


def kind_of(op, weight):
    """A node's row in the profile: convolutions by their shape, the rest by op."""
    if op in ("conv2d", "Conv"):
        oc, cg, kh, kw = (int(v) for v in weight.split("x"))
        return "conv depthwise" if cg == 1 and oc > 1 else "conv 1x1" if kh == kw == 1 else "conv %dx%d" % (kh, kw)
    return op


def profiles(arch, image, work, reps, note):
    """cnncam's and ONNX Runtime's per-layer profiles of one forward at 1 thread:
    time by kind of layer, and the slowest layers side by side (ONNX Runtime fuses
    batchnorm and activations into its convs)."""
    import collections
    import json
    weights, model, _ = prepare(arch, work, note)
    x = cc_models.to_tensor(Image.open(image).convert("RGB"))[None]
    cn, ort = Cnncam(model, image), Ort(export_onnx(arch, weights, work, note), x, work)
    ours, theirs = os.path.join(work, arch + "-profile.txt"), os.path.join(work, arch + "-ort-profile.json")
    try:
        cn.ask("threads 1")
        ort.ask("threads 1")
        wall = float(cn.ask("profile %d %s" % (reps, ours)).split()[1])
        ort.ask("profile %s" % theirs)
    finally:
        cn.close()
        ort.close()
    c_kind, c_nodes = collections.Counter(), []
    with open(ours) as f:
        for line in f:
            name, op, ms, _, _, w = line.split()
            c_kind[kind_of(op, w)] += float(ms)
            c_nodes.append((name, kind_of(op, w), float(ms)))
    o_kind, o_node = collections.Counter(), collections.Counter()
    events = [e for e in json.load(open(theirs)) if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    for e in events:   # 10 runs
        op = e["args"]["op_name"]
        shapes = e["args"].get("input_type_shape", [])
        w = "x".join(str(v) for v in list(shapes[1].values())[0]) if op == "Conv" and len(shapes) > 1 else "-"
        ms = e["dur"] / 1e3 / 10
        o_kind[kind_of(op, w) if op == "Conv" else op] += ms
        o_node[module_of_ort(e["name"][:-len("_kernel_time")])] += ms
    # ONNX Runtime names a fused node after its last op (a conv + batchnorm +
    # ReLU after the ReLU): cnncam's nodes up to the one of that name are its group.
    groups, run = [], []
    for name, kind, ms in c_nodes:
        run.append((name, kind, ms))
        if name in o_node:
            groups.append((" + ".join(k for _, k, _ in run), run[0][0], sum(m for _, _, m in run), o_node[name]))
            run = []
    lines = ["### %s, 1 thread: %.2f ms (cnncam, sum of nodes; %.2f ms a forward) against %.2f ms (ONNX Runtime, "
             "sum of kernels)" % (arch, sum(c_kind.values()), wall, sum(o_kind.values())), "",
             "| cnncam: kind | ms | share | ONNX Runtime: kind | ms | share |", "|---|---|---|---|---|---|"]
    ck, ok = c_kind.most_common(), o_kind.most_common()
    for i in range(max(len(ck), len(ok))):
        left = ("%s | %.3f | %.0f%%" % (ck[i][0], ck[i][1], 100 * ck[i][1] / sum(c_kind.values()))
                if i < len(ck) else " | | ")
        right = ("%s | %.3f | %.0f%%" % (ok[i][0], ok[i][1], 100 * ok[i][1] / sum(o_kind.values()))
                 if i < len(ok) else " | | ")
        lines.append("| %s | %s |" % (left, right))
    lines += ["", "Where cnncam loses most: its nodes up to each node ONNX Runtime also has (a fused group), "
              "by cnncam ms minus ONNX Runtime's.", "",
              "| first layer | cnncam nodes | cnncam ms | ONNX Runtime ms | ratio |", "|---|---|---|---|---|"]
    for kinds, first, ms, o in sorted(groups, key=lambda g: g[3] - g[2])[:12]:
        lines.append("| %s | %s | %.3f | %.3f | %.2f |" % (first, kinds, ms, o, ms / o if o else float("inf")))
    note("profile %s: cnncam %.2f ms, ONNX Runtime %.2f ms" % (arch, sum(c_kind.values()), sum(o_kind.values())))
    return "\n".join(lines)


def bench_threads(image, work, reps, note):
    _, model, _ = prepare("resnet18", work, note)
    cn = Cnncam(model, image)
    rows = []
    try:
        for threads in (1, 2, 4, 8):
            cn.ask("threads %d" % threads)
            rows.append(("%d" % threads, forward_ms(cn, reps)))
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(0.5)   # the hog is running
            for threads in (1, 2):
                cn.ask("threads %d" % threads)
                rows.append(("%d, beside a busy process" % threads, forward_ms(cn, reps)))
        finally:
            hog.kill()
            hog.wait()
    finally:
        cn.close()
    alone = rows[0][1]
    lines = ["| threads | ResNet-18 forward ms, 224x224 | vs 1 thread alone |", "|---|---|---|"]
    lines += ["| %s | %.1f | %.2f |" % (t, ms, ms / alone) for t, ms in rows]
    note("threads: " + ", ".join("%s: %.1f ms" % r for r in rows))
    return "\n".join(lines)


def bench_subnormal(image, work, reps, note):
    """EfficientNet-B0 twice: with torchvision's own initialisation (batchnorm
    as initialised, mean 0 and variance 1, so no layer adds a shift that would
    lift small values: a photo scaled by 1e-30 decays through the subnormal
    range, a quarter of PyTorch's activations subnormal), and the bench's
    calibrated model (a photo scaled by 1e-39: only its stem conv sees
    subnormals). Each input in its own bench_cnncam process, asked in turn."""
    _, calibrated, _ = prepare("efficientnet_b0", work, note)
    plain = os.path.join(work, "efficientnet_b0-torchvision-init.ccm")
    if not os.path.exists(plain):
        note("converting efficientnet_b0 with torchvision's initialisation")
        torch.manual_seed(0)
        weights = os.path.join(work, "efficientnet_b0-torchvision-init.pth")
        torch.save(torchvision.models.efficientnet_b0(weights=None).state_dict(), weights)
        subprocess.run([os.path.join(ROOT, "tools", "cnncam-convert"), "--arch", "efficientnet_b0", "--weights",
                        weights, "-o", plain], check=True, stdout=subprocess.DEVNULL)
    x = cc_models.to_tensor(Image.open(image).convert("RGB")).numpy().astype(np.float32)
    lines = ["| EfficientNet-B0 forward, 224x224, 1 thread | photo ms | scaled photo ms | ratio (target <= 1.3) |",
             "|---|---|---|---|"]
    for name, model, scale in (("torchvision's initialisation, photo x 1e-30", plain, 1e-30),
                               ("batchnorm calibrated (the bench's model), photo x 1e-39", calibrated, 1e-39)):
        procs = {}
        try:
            for key, v in (("photo", x), ("scaled", x * np.float32(scale))):
                path = os.path.join(work, "subnormal-%s-%g.npy" % (key, scale))
                np.save(path, v)
                procs[key] = Cnncam(model, path)
                procs[key].ask("threads 1")
                procs[key].ask("forward")
            runs = {k: [] for k in procs}
            for rep in range(reps):
                for k in (list(procs) if rep % 2 else list(procs)[::-1]):
                    runs[k].append(float(procs[k].ask("forward")))
        finally:
            for c in procs.values():
                c.close()
        a, b = median(runs["photo"]), median(runs["scaled"])
        lines.append("| %s | %.1f | %.1f | %.2f |" % (name, a, b, b / a))
        note("subnormal: %s: photo %.1f ms, scaled %.1f ms (ratio %.2f)" % (name, a, b, b / a))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--reps", type=int, default=11, help="timed runs per measurement (default 11)")
    p.add_argument("--process-reps", type=int, default=5, help="whole-process runs (default 5)")
    p.add_argument("--image", default=os.path.join(ROOT, "assets", "images", "chelsea.png"))
    p.add_argument("--work", default=os.path.join(BUILD, "bench"), help="models and weights (default build/bench)")
    p.add_argument("--out", default=None, help="the report (default bench/RESULTS.md; with --only: none)")
    p.add_argument("--only", default="models,profile,methods,python,threads,subnormal",
                   help="comma-separated parts to run: models (cnncam vs PyTorch and ONNX Runtime), profile "
                   "(per-layer profiles of the CNNs beside ONNX Runtime's), methods (every explanation "
                   "method vs the restatement; with --models, those of resnet34 and mobilenet_v3_large), "
                   "python (the drop-in and cnncam.dask), threads, subnormal")
    p.add_argument("--no-ort", action="store_true", help="leave ONNX Runtime out (by default it is required: "
                   "make bench-deps installs it)")
    bench_methods.add_arguments(p)
    bench_dask.add_arguments(p)
    a = p.parse_args(argv)
    use_ort = not a.no_ort
    if use_ort and {"models", "profile"} & set(a.only.split(",")) and not ort_available():
        p.error("ONNX Runtime is missing (build/ort/node_modules/onnxruntime-node, and Node.js): run make "
                "bench-deps, or pass --no-ort")
    parts = a.only.split(",")
    if set(parts) - {"models", "profile", "methods", "python", "threads", "subnormal"}:
        p.error("--only takes models, profile, methods, python, threads and subnormal, not %s" % a.only)
    if a.out is None and a.only == p.get_default("only"):
        a.out = os.path.join(ROOT, "bench", "RESULTS.md")
    for tool in ("bench_cnncam", "cnncam"):
        if not os.access(os.path.join(BUILD, tool), os.X_OK):
            p.error("build/%s is missing: run make bench" % tool)
    os.makedirs(a.work, exist_ok=True)

    def note(msg):
        print(msg, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        im = Image.open(a.image).convert("RGB")
        s = min(im.size)
        image = os.path.join(tmp, "image224.png")
        im.crop(((im.size[0] - s) // 2, (im.size[1] - s) // 2, (im.size[0] + s) // 2, (im.size[1] + s) // 2)) \
          .resize((224, 224), Image.BILINEAR).save(image)
        t0 = time.time()
        rows = []
        if "models" in parts:
            for arch in a.models:
                rows += bench_model(arch, image, a.work, a.reps, a.process_reps, a.threads, use_ort, note)
        extra = []
        if "methods" in parts:
            extra += bench_methods.run(a, image, sys.modules[__name__], note)
        if "python" in parts:
            extra += bench_compat.run(a, image, sys.modules[__name__], note)
            extra += bench_dask.run(a, image, sys.modules[__name__], note)
        if "profile" in parts:
            extra += ["## Per-layer profiles against ONNX Runtime", "",
                      "bench_cnncam's plan profiler (each node's wall time, mean of %d forwards) beside ONNX "
                      "Runtime's profiler (each kernel, mean of 10), one thread, batch 1." % a.reps, ""]
            for arch in [m for m in a.models if m in PROFILED]:
                extra += [profiles(arch, image, a.work, a.reps, note), ""]
        if "threads" in parts:
            extra += ["## Threads", "", "Medians of %d forwards; the machine has %d CPUs (this process may use %d)."
                      % (a.reps, os.cpu_count(), len(os.sched_getaffinity(0))), "",
                      bench_threads(image, a.work, a.reps, note), ""]
        if "subnormal" in parts:
            extra += ["## Subnormal inputs", "", "Medians of %d alternating forwards." % a.reps, "",
                      bench_subnormal(image, a.work, a.reps, note), ""]
    info = machine()
    text = "\n".join(
        ["# cnncam vs PyTorch, measured side by side", "",
         "Made by `make bench` (bench/bench.py%s) in %.0f s on %s. Medians of %d alternating runs "
         "(whole processes: %d), each run after %.2f s idle; ratio = cnncam / PyTorch (below 1: cnncam is "
         "faster; for img/s above 1)." % ("" if a.only == p.get_default("only") else " --only " + a.only,
                                          time.time() - t0, time.strftime("%Y-%m-%d"), a.reps, a.process_reps,
                                          SETTLE), ""]
        + ["- %s: %s" % kv for kv in info] + [""]
        + ([table(rows), "", "## Against ONNX Runtime", "", ort_info(), "", ort_table(rows), "",
             ceiling_table(rows), ""] if rows else []) + extra)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
