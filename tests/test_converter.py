#!/usr/bin/python3
"""tests/test_converter.py — tools/cnncam-convert and tools/cnncam_convert/ccm.py against PyTorch.

Usage: /usr/bin/python3 tests/test_converter.py [-k SUBSTRING]...   (from any directory)

Runs the converter (in this process through cnncam_convert.cli.run, the
command's own entry point, so each model is built and calibrated once; and as
a subprocess where the executable itself is the subject) into a temporary
directory, then reads each file with tools/cnncam_convert/ccm.py and checks:
  * the nine article models (--random-init --seed 0: seeded init, batchnorm
    statistics calibrated on assets/images): every tensor equals the
    converted model's state_dict entry, the metadata, and the logits of
    ccm.run (the graph executed with torch.nn.functional) against the model's
    on real photos at 224x224 and 227x301 (H x W):
    max |diff| <= 1e-4 * max(1, max |logit|);
  * names and aliases (BasicBlock's 'layer1.0.relu' / 'layer1.0.relu:2', the
    alias 'layer4' -> 'layer4.2.relu:2', 'features' -> 'features.16.2');
  * every functional spelling the converter maps (tests/models/zoo.py), and
    LeakyReLU, ELU, BatchNorm1d and final Softmax/LogSoftmax in each of their
    spellings (tests/models/common_ops.py);
  * metadata node.module: nn.ReLU modules told from F.relu and torch.relu calls,
    FullGrad's Conv2d/BatchNorm2d bias layers (tests/models/guided_net.py), and
    ccm.py's refusals of a bad list;
  * f16 storage; metadata 'output' (softmax, or sigmoid with --multi-label;
    probabilities / log_probabilities for a model ending in a softmax, which
    refuses --multi-label);
    the weight-file variants; what must fail, fails with exit 2,
    a message that names the problem, and no file (unsupported ops, --pretrained
    offline, bad --module paths, missing/unexpected state_dict keys, bad
    --layer/--labels); ccm.py rejects corrupted files.
Prints one line per check and "converter: N passed, N failed"; exits 1 on any
failure. Needs /usr/bin/python3 with Debian's torch and torchvision; no network.
"""
import contextlib
import io
import os
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

import numpy as np
import torch
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
CCM = os.path.join(ROOT, "tools", "cnncam_convert", "ccm.py")
MODELS = os.path.join(ROOT, "tests", "models")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, MODELS)

from cnncam_convert import ccm  # noqa: E402
from tally import registry, require, run_cases  # noqa: E402
from cnncam_convert import cli, models, writer  # noqa: E402
from PIL import Image  # noqa: E402

torch.set_num_threads(2)
warnings.filterwarnings("ignore", message="Using padding='same'")   # zoo.py's even kernel, on purpose
warnings.filterwarnings("ignore", message="Implicit dimension choice")  # common_ops.py's nn.Softmax(), on purpose
TOLERANCE = 1e-4

# The seed article's models: arch -> Grad-CAM layer, eval resize, crop, interpolation.
ARTICLE = {
    "mobilenet_v3_large": ("features.16", 232, 224, "bilinear"),
    "resnet34": ("layer4", 256, 224, "bilinear"),
    "vgg16": ("features", 256, 224, "bilinear"),
    "regnet_y_800mf": ("trunk_output", 232, 224, "bilinear"),
    "efficientnet_b0": ("features", 256, 224, "bicubic"),
    "mobilenet_v3_small": ("features.12", 256, 224, "bilinear"),
    "resnet18": ("layer4", 256, 224, "bilinear"),
    "resnet50": ("layer4", 232, 224, "bilinear"),
}
# Issue 13's: DenseNet's wide concats, ShuffleNetV2's channel pieces and shuffles,
# MnasNet's and ShuffleNetV2's x.mean((2, 3)), GoogLeNet's inception cats and ceil-mode pools.
MORE = {
    "densenet121": ("features", 256, 224, "bilinear"),
    "shufflenet_v2_x1_0": ("conv5", 256, 224, "bilinear"),
    "mnasnet1_0": ("layers", 256, 224, "bilinear"),
    "googlenet": ("inception5b", 256, 224, "bilinear"),
}

TMP = tempfile.mkdtemp(prefix="cnncam-test-converter.")
ENV = dict(os.environ, TORCH_HOME=os.path.join(TMP, "torch-home"))
CASES, case = registry()
check = require
RESULTS, REPORT = [], []


def out(name):
    return os.path.join(TMP, name)


def convert(*args, expect=0, process=False):
    """Runs cnncam-convert in this process (cli.run) or as a subprocess;
    returns (Result or None, stdout, stderr). Checks the exit status."""
    argv = [str(a) for a in args]
    result = None
    if process:
        p = subprocess.run([CONVERT] + argv, capture_output=True, text=True, env=ENV)
        code, stdout, stderr = p.returncode, p.stdout, p.stderr
    else:
        o, e = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
            try:
                code, result = cli.run(argv)
            except SystemExit as x:        # argparse: usage error or --help
                code = x.code
        stdout, stderr = o.getvalue(), e.getvalue()
    check(code == expect, "cnncam-convert %s: exit %s, expected %d\nstderr: %s"
          % (" ".join(argv), code, expect, stderr.strip()[-2000:]))
    if expect:
        check("Traceback" not in stderr, "a traceback instead of a message:\n" + stderr[-2000:])
    return result, stdout, stderr


def no_output(directory):
    left = os.listdir(directory)
    check(not left, "files left behind after a failure: %s" % left)


def fail_case(args, phrases, process=False):
    """The conversion must exit 2, name every phrase, and write nothing."""
    d = tempfile.mkdtemp(dir=TMP)
    _, _, err = convert(*args, "-o", os.path.join(d, "x.ccm"), expect=2, process=process)
    for ph in phrases:
        check(ph in err, "message lacks %r:\n%s" % (ph, err))
    no_output(d)
    return err


# ---- photos ---------------------------------------------------------------------

def photo_batches():
    imgs = [Image.open(os.path.join(models.IMAGES_DIR, p)).convert("RGB") for p in ("chelsea.png", "rocket.jpg")]
    a = torch.stack([models.to_tensor(models.center_crop(i)) for i in imgs])
    b = torch.stack([models.to_tensor(i.resize((301, 227), Image.BILINEAR)) for i in imgs])
    return {"224x224": a, "227x301": b}


PHOTOS = photo_batches()


def logit_diffs(m, model):
    """max |ccm.run - model| per photo batch; checks the tolerance."""
    diffs = {}
    for size, x in PHOTOS.items():
        with torch.no_grad():
            ref = model(x)
        got = ccm.run(m, x)
        check(got.shape == ref.shape, "%s: logits %s, expected %s" % (size, tuple(got.shape), tuple(ref.shape)))
        d = float((got - ref).abs().max())
        tol = TOLERANCE * max(1.0, float(ref.abs().max()))
        check(d <= tol, "%s: logits differ by %.3g > tolerance %.3g" % (size, d, tol))
        diffs[size] = d
    return diffs


def check_tensors(m, model, dtype=np.float32):
    state = model.state_dict()
    check(all(not k.endswith("num_batches_tracked") for k in m.tensors), "num_batches_tracked stored")
    for name in m.tensors:
        check(name in state, "tensor %s is not a state_dict key" % name)
        want = state[name].numpy().astype(dtype)
        got = m.tensor(name)
        check(got.shape == want.shape and np.array_equal(got, want), "tensor %s differs" % name)
    bound = {t for n in m.nodes for t in n.params.values()}
    check(bound == set(m.tensors), "the tensor table is not exactly the bound tensors")


# ---- the article's models -----------------------------------------------------------

def article_case(arch):
    def run():
        path = out(arch + ".ccm")
        r, _, _ = convert("--arch", arch, "--random-init", "--seed", 0, "-o", path)
        dt, model = r.seconds, r.model
        m = ccm.read(path)
        check_tensors(m, model)
        layer, resize, crop, interp = ARTICLE[arch] if arch in ARTICLE else MORE[arch]
        md = m.metadata
        check(md["arch"] == arch and md["classes"] == 1000 and len(md["labels"]) == 1000, "arch/classes/labels")
        check(md["labels"][281] == "tabby, tabby cat", "labels[281] is %r" % md["labels"][281])
        check(md["gradcam.layer"] == layer, "gradcam.layer %r, expected %r" % (md["gradcam.layer"], layer))
        check((md["eval.resize"], md["eval.crop"], md["eval.interpolation"]) == (resize, crop, interp),
              "eval recipe %r" % ((md["eval.resize"], md["eval.crop"], md["eval.interpolation"]),))
        check(md["source.sha256"] == "random-init seed 0", "source.sha256")
        check(md["input.mean"] == models.IMAGENET_MEAN and md["input.std"] == models.IMAGENET_STD, "mean/std")
        diffs = logit_diffs(m, model)
        size = os.path.getsize(path)
        REPORT.append((arch, dt, size, diffs))
        if arch not in ("resnet34", "mobilenet_v3_large", "mobilenet_v3_small"):
            os.unlink(path)       # kept ones are used by later cases
        return "%.1f s, %.1f MB, max diff %s" % (dt, size / 1e6, ", ".join(
            "%.2g at %s" % (d, s) for s, d in diffs.items()))
    run.__name__ = ("article model " if arch in ARTICLE else "model ") + arch
    return run


for _arch in list(ARTICLE) + list(MORE):
    case(article_case(_arch))


@case
def nurse_doctor_random_init():
    path = out("nurse_doctor.ccm")
    r, _, _ = convert("--module", os.path.join(MODELS, "nurse_doctor.py:build"), "--labels",
                      os.path.join(MODELS, "nurse_doctor.labels"), "--random-init", "--seed", 0, "-o", path)
    dt, model = r.seconds, r.model
    m = ccm.read(path)
    check_tensors(m, model)
    md = m.metadata
    check(md["classes"] == 2 and md["labels"] == ["nurse", "doctor"], "classes/labels %r" % md["labels"])
    check(md["gradcam.layer"] == "layer4", "automatic gradcam.layer %r" % md["gradcam.layer"])
    check(md["arch"] == "nurse_doctor:build", "arch %r" % md["arch"])
    check("eval.resize" not in md, "a recipe for a user module")
    diffs = logit_diffs(m, model)
    REPORT.append(("nurse_doctor", dt, os.path.getsize(path), diffs))
    os.unlink(path)
    return "max diff " + ", ".join("%.2g" % d for d in diffs.values())


@case
def nurse_doctor_own_parameters():
    """The brief's command, run as a program: --module without --weights
    converts the module's own parameters."""
    path = out("nd_own.ccm")
    mod = os.path.join(MODELS, "nurse_doctor.py")
    _, stdout, _ = convert("--module", mod + ":build", "--labels",
                           os.path.join(MODELS, "nurse_doctor.labels"), "-o", path, process=True)
    m = ccm.read(path)
    check(m.metadata["source.file"] == "nurse_doctor.py", "source.file %r" % m.metadata["source.file"])
    check(m.metadata["source.sha256"] == models.sha256_of(mod), "source.sha256")
    check("self-check: logits match" in stdout, "no self-check line: " + stdout)
    os.unlink(path)


# ---- names and aliases --------------------------------------------------------------

@case
def imagenet_labels_in_torchvision_order():
    """The stored full names ("tabby, tabby cat") line up with torchvision's
    categories: each of torchvision's names is one of the synonyms of the same
    line, but for the two it renamed to tell them apart."""
    m = ccm.read(out("resnet34.ccm"))
    labels = m.metadata["labels"]
    cats = torchvision.models.ResNet34_Weights.IMAGENET1K_V1.meta["categories"]
    check(len(labels) == 1000 and labels[281] == "tabby, tabby cat", "labels[281] = %r" % labels[281])
    odd = [(i, c, l) for i, (c, l) in enumerate(zip(cats, labels))
           if c.lower() not in [n.strip().lower() for n in l.split(",")]]
    check([i for i, _, _ in odd] == [134, 639], "labels out of torchvision's order: %s" % odd[:5])
    return "1000 full names, aligned with torchvision's categories"


@case
def basicblock_names_and_aliases():
    m = ccm.read(out("resnet34.ccm"))
    names = m.names
    for n in ("input", "conv1", "layer1.0.relu", "layer1.0.relu:2", "layer1.0.add", "layer4.2.relu:2",
              "layer2.0.downsample.0", "avgpool", "flatten", "fc"):
        check(n in names, "no node %r" % n)
    check(names[m.output] == "fc", "output is %r" % names[m.output])
    check(names[m.aliases["layer4"]] == "layer4.2.relu:2", "layer4 -> %r" % names[m.aliases.get("layer4", 0)])
    check(names[m.aliases["layer4.2"]] == "layer4.2.relu:2", "layer4.2 alias")
    check(not set(m.aliases) & set(names), "an alias shares a node's name")
    relu2 = m.nodes[names.index("layer1.0.relu:2") - 1]
    add = m.nodes[names.index("layer1.0.add") - 1]
    check(relu2.op == "relu" and [names[i] for i in relu2.inputs] == ["layer1.0.add"], "relu:2 input")
    check(add.op == "add" and [names[i] for i in add.inputs] == ["layer1.0.bn2", "maxpool"], "add inputs")
    conv1 = m.nodes[0]
    check(conv1.params == {"weight": "conv1.weight"}, "conv1 params %r" % conv1.params)
    check(conv1.attrs == {"kernel_size": [7, 7], "stride": [2, 2], "padding": [3, 3], "dilation": [1, 1],
                          "groups": [1]}, "conv1 attrs %r" % conv1.attrs)
    mp = m.nodes[names.index("maxpool") - 1]
    check(mp.attrs["stride"] == [2, 2] and mp.attrs["kernel_size"] == [3, 3], "maxpool attrs %r" % mp.attrs)
    m = ccm.read(out("mobilenet_v3_large.ccm"))
    names = m.names
    check(names[m.aliases["features"]] == "features.16.2", "features -> %r" % names[m.aliases["features"]])
    check(names[m.aliases["features.16"]] == "features.16.2", "features.16 alias")
    bn = m.nodes[names.index("features.0.1") - 1]
    check(bn.op == "batchnorm2d" and bn.attrs["eps"] == [0.001], "MobileNetV3 batchnorm eps %r" % bn.attrs)
    se = m.nodes[names.index("features.4.block.2.mul") - 1]
    check(se.op == "mul", "squeeze-excitation mul")


@case
def every_functional_spelling():
    labels = out("five.labels")
    with open(labels, "w") as f:
        f.write("a\nb\nc\nd\ne\n")
    path = out("zoo.ccm")
    r, _, _ = convert("--module", os.path.join(MODELS, "zoo.py:functional"), "--random-init", "--seed", 3,
                      "--labels", labels, "-o", path)
    m, model = ccm.read(path), r.model
    check_tensors(m, model)
    ops = {n.name: n for n in m.nodes}
    check(ops["same"].attrs["padding"] == [1, 1, 2, 2], "padding='same' %r" % ops["same"].attrs)
    check(ops["hardtanh"].op == "relu6" and ops["act"].op == "relu6", "hardtanh(0, 6) -> relu6")
    check(ops["shared:2"].params == ops["shared"].params, "a module called twice binds the same tensors")
    check(ops["cat"].op == "concat" and ops["mul"].op == "mul" and ops["add"].op == "add", "cat/mul/add")
    check(ops["dropout"].op == "identity" and ops["head.1"].op == "identity" and ops["head.2"].op == "identity",
          "dropout and Identity -> identity")
    check(ops["flatten"].op == "flatten" and ops["head.0"].attrs == {"start_dim": [1]}, "flatten")
    check(ops["relu"].op == "relu" and ops["relu6"].op == "relu6" and ops["sigmoid:2"].op == "sigmoid",
          "functional activations")
    check(ops["mul:2"].op == "mul", "x * s")
    check("weight" not in ops["bn_plain"].params and ops["bn_plain"].attrs["eps"] == [0.001], "affine=False bn")
    check(ops["pool"].attrs["count_include_pad"] == [0] and ops["pool"].attrs["ceil_mode"] == [1], "avgpool")
    check(ops["avg_pool2d"].attrs["stride"] == [2, 2], "F.avg_pool2d stride defaults to the kernel")
    check(m.metadata["gradcam.layer"] == "hardsigmoid", "automatic layer %r" % m.metadata["gradcam.layer"])
    diffs = logit_diffs(m, model)
    return "max diff " + ", ".join("%.2g" % d for d in diffs.values())


@case
def leaky_relu_elu_batchnorm1d():
    """tests/models/common_ops.py:everyday: LeakyReLU and ELU as modules and in
    each functional spelling, with their attributes; BatchNorm1d on N x C x L
    and N x F, affine and not; logits against PyTorch."""
    path = out("everyday.ccm")
    r, _, _ = convert("--module", os.path.join(MODELS, "common_ops.py:everyday"), "--random-init", "--seed", 2,
                      "--labels", four_labels(), "-o", path)
    m, model = ccm.read(path), r.model
    check_tensors(m, model)
    ops = {n.name: n for n in m.nodes}
    got = [(n.op, n.attrs) for n in m.nodes if n.op in ("leaky_relu", "elu")]
    want = [("leaky_relu", {"negative_slope": [0.1]}), ("leaky_relu", {"negative_slope": [0.2]}),
            ("elu", {"alpha": [0.7]}), ("elu", {"alpha": [1.0]}), ("leaky_relu", {"negative_slope": [-0.3]}),
            ("elu", {"alpha": [2.0]}), ("leaky_relu", {"negative_slope": [0.01]}), ("elu", {"alpha": [0.4]})]
    check(got == want, "activations and attributes %r" % got)
    for name, rank_in, affine, eps in (("bn_seq", 3, True, 1e-5), ("bn_fc", 2, True, 1e-3),
                                       ("bn_plain", 2, False, 1e-5)):
        n = ops[name]
        check(n.op == "batchnorm1d" and ("weight" in n.params) == affine and n.attrs["eps"] == [eps],
              "%s: %s %r %r" % (name, n.op, n.params, n.attrs))
        check(len(r.graph.shapes[m.names[n.inputs[0]]]) == rank_in, "%s input rank" % name)
    diffs = logit_diffs(m, model)
    return "8 activations, 3 batchnorm1d; max diff " + ", ".join("%.2g" % d for d in diffs.values())


def four_labels():
    path = out("four.labels")
    with open(path, "w") as f:
        f.write("a\nb\nc\nd\n")
    return path


@case
def transform_input_is_a_normalisation():
    """googlenet's released weights run with transform_input=True; the converter
    stores mean = std = 0.5 for them instead (models.TRANSFORM_INPUT_*). The
    torchvision model with the transform on ImageNet-normalised photos must
    equal the one without it on photos normalised that way."""
    net = models.random_init(lambda: torchvision.models.googlenet(weights=None, aux_logits=False,
                                                                  transform_input=True, init_weights=True), 0).eval()
    plain = torchvision.models.googlenet(weights=None, aux_logits=False, transform_input=False,
                                         init_weights=True).eval()
    plain.load_state_dict(net.state_dict())
    photos = [Image.open(os.path.join(models.IMAGES_DIR, p)).convert("RGB") for p in ("chelsea.png", "kite.png")]
    raw = torch.stack([models.to_tensor(models.center_crop(i), [0, 0, 0], [1, 1, 1]) for i in photos])
    norm = lambda m, s: (raw - torch.tensor(m).view(1, 3, 1, 1)) / torch.tensor(s).view(1, 3, 1, 1)
    with torch.no_grad():
        want = net(norm(models.IMAGENET_MEAN, models.IMAGENET_STD))
        got = plain(norm(models.TRANSFORM_INPUT_MEAN, models.TRANSFORM_INPUT_STD))
        imagenet = plain(norm(models.IMAGENET_MEAN, models.IMAGENET_STD))
    tol = TOLERANCE * max(1.0, float(want.abs().max()))
    diff, apart = float((got - want).abs().max()), float((imagenet - want).abs().max())
    check(diff <= tol, "max |diff| %.3g (tolerance %.3g)" % (diff, tol))
    check(apart > 100 * tol, "ImageNet's normalisation without the transform differs by only %.3g" % apart)
    return "max |logit diff| %.2g; ImageNet's normalisation without it: %.2g" % (diff, apart)


@case
def softmax_and_log_softmax_heads():
    """Each spelling of a final softmax / log-softmax over the classes
    converts to one softmax / log_softmax node (axis 1) at the output, the
    file says output probabilities / log_probabilities, and the graph's
    output matches PyTorch's; --multi-label and a softmax over the batch are
    refused with a message and no file."""
    spellings = ["softmax_module", "softmax_functional", "softmax_torch", "softmax_method", "softmax_implicit",
                 "log_softmax_module", "log_softmax_functional", "log_softmax_torch", "log_softmax_method"]
    worst = 0.0
    for fn in spellings:
        path = out(fn + ".ccm")
        r, stdout, _ = convert("--module", os.path.join(MODELS, "common_ops.py:" + fn), "--random-init",
                               "--labels", four_labels(), "-o", path)
        m = ccm.read(path)
        op = "log_softmax" if fn.startswith("log") else "softmax"
        last = m.nodes[m.output - len(m.inputs)]
        check(last.op == op and last.attrs == {"axis": [1]}, "%s: output node %s %r" % (fn, last.op, last.attrs))
        kind = "log_probabilities" if op == "log_softmax" else "probabilities"
        check(m.metadata["output"] == kind, "%s: output %r" % (fn, m.metadata["output"]))
        check("4 classes (%s)" % kind in stdout, "%s: summary %r" % (fn, stdout))
        with torch.no_grad():
            probs = r.model(PHOTOS["224x224"])
        p = probs.exp() if op == "log_softmax" else probs
        check(torch.allclose(p.sum(1), torch.ones(2)) and float(p.max()) > 0.5,
              "%s: not a peaked distribution over the classes: %s" % (fn, p))
        worst = max(worst, max(logit_diffs(m, r.model).values()))
        os.unlink(path)
    fail_case(["--module", os.path.join(MODELS, "common_ops.py:softmax_module"), "--labels", four_labels(),
               "--multi-label"], ["--multi-label, but the model ends in Softmax ('out')", "drop --multi-label"])
    fail_case(["--module", os.path.join(MODELS, "common_ops.py:log_softmax_method"), "--labels", four_labels(),
               "--multi-label"], ["ends in LogSoftmax"])
    fail_case(["--module", os.path.join(MODELS, "common_ops.py:softmax_dim0"), "--labels", four_labels()],
              ["softmax: torch.nn.functional.softmax along dim=0 is not supported (only dim=1 of N x classes)"])
    # A final sigmoid: each output is its class's own probability, with or without --multi-label.
    for extra in ([], ["--multi-label"]):
        path = out("sigmoid_head.ccm")
        convert("--module", os.path.join(MODELS, "common_ops.py:sigmoid_head"), "--random-init",
                "--labels", four_labels(), "-o", path, *extra)
        check(ccm.read(path).metadata["output"] == "probabilities", "sigmoid head %s: output %r"
              % (extra, ccm.read(path).metadata["output"]))
        os.unlink(path)
    _, stdout, _ = convert("--help", process=True)
    for word in ("BatchNorm1d", "LeakyReLU", "ELU", "Softmax or LogSoftmax", "log_probabilities"):
        check(word in stdout, "--help does not mention " + word)
    return "%d spellings; max |output diff| %.2g; --multi-label and dim=0 refused" % (len(spellings), worst)


# ---- shape and resampling ops (tests/models/shape_ops.py) ----------------------------------

def shape_ops_model(name, seed=4):
    path = out(name + ".ccm")
    r, _, _ = convert("--module", os.path.join(MODELS, "shape_ops.py:" + name), "--random-init", "--seed", seed,
                      "--labels", os.path.join(MODELS, "shape_ops.labels"), "-o", path)
    m = ccm.read(path)
    check_tensors(m, r.model)
    return m, r.model, {n.name: n for n in m.nodes}


@case
def flattening_views_and_spatial_means():
    m, model, ops = shape_ops_model("views")
    flat = [n for n in m.nodes if n.op == "flatten"]
    check(len(flat) == 5 and all(n.attrs == {"start_dim": [1]} for n in flat), "views: %s" % [
        (n.name, n.op, n.attrs) for n in m.nodes if n.name.startswith(("view", "reshape"))])
    check(ops["mean"].op == "spatial_mean" and ops["mean:2"].op == "adaptive_avgpool2d" and
          ops["mean:2"].attrs["output_size"] == [1, 1] and ops["mean:3"].op == "adaptive_avgpool2d",
          "means: %s" % [(n.name, n.op) for n in m.nodes if n.name.startswith("mean")])
    check(not any(n.name.startswith(("size", "getattr", "getitem")) for n in m.nodes), "a size became a node")
    diffs = logit_diffs(m, model)
    return "max diff " + ", ".join("%.2g" % d for d in diffs.values())


@case
def interpolate_and_upsample():
    m, model, ops = shape_ops_model("resampling")
    got = [(n.op, n.attrs) for n in m.nodes if n.op.startswith("upsample")]
    want = [("upsample_nearest", {"scale_factor": [2, 2]}),
            ("upsample_bilinear", {"scale_factor": [2, 2], "align_corners": [0]}),
            ("upsample_nearest", {"scale_factor": [2, 2]}),
            ("upsample_bilinear", {"scale_factor": [0.5, 0.5], "recompute_scale_factor": [1], "align_corners": [1]}),
            ("upsample_nearest", {"scale_factor": [1.7, 1.7]}),
            ("upsample_nearest", {"scale_factor": [0.45, 0.45]}),
            ("upsample_bilinear", {"scale_factor": [2, 2], "align_corners": [1]})]
    check(got == want, "upsample nodes %s" % got)
    diffs = logit_diffs(m, model)
    m2, model2, _ = shape_ops_model("fixed_size")
    sizes = [n.attrs.get("output_size") for n in m2.nodes if n.op.startswith("upsample")]
    check(sizes == [[20, 30]] * 3, "size= nodes %s" % sizes)
    diffs2 = logit_diffs(m2, model2)
    return "max diff %s; fixed size %s" % (", ".join("%.2g" % d for d in diffs.values()),
                                           ", ".join("%.2g" % d for d in diffs2.values()))


@case
def channel_pieces_and_shuffles():
    m, model, ops = shape_ops_model("shuffles")
    names = m.names
    for unit in ("stage.0", "stage.1", "stage.2", "stage.3"):
        pieces = [n for n in m.nodes if n.name.startswith(unit + ".") and n.op == "slice"]
        check([(n.attrs["start"][0], n.attrs["end"][0]) for n in pieces] == [(0, 6), (6, 12)],
              "%s slices %s" % (unit, [(n.name, n.attrs) for n in pieces]))
        shuffle = [n for n in m.nodes if n.name.startswith(unit + ".") and n.op == "channel_shuffle"]
        check(len(shuffle) == 1 and shuffle[0].attrs["groups"] == [2], "%s shuffle %s" % (unit, shuffle))
    check(ops["stage.0.chunk"].op == "slice" and ops["stage.0.chunk:2"].op == "slice", "chunk names")
    check(ops["stage.0.channel_shuffle"].op == "channel_shuffle", "torchvision's channel_shuffle as one node")
    check(ops["stage.1.view:2"].op == "channel_shuffle" and "stage.1.view" not in ops and
          "stage.1.transpose" not in ops, "the written-out shuffle: %s" % [n for n in names if "stage.1" in n])
    split = [(n.attrs["start"][0], n.attrs["end"][0]) for n in m.nodes if n.name.startswith("split")]
    check(split == [(0, 5), (5, 11), (11, 16)], "uneven torch.split %s" % split)
    diffs = logit_diffs(m, model)
    return "max diff " + ", ".join("%.2g" % d for d in diffs.values())


@case
def shape_ops_refused_clearly():
    err = fail_case(["--module", os.path.join(MODELS, "shape_ops.py:bad_views"), "--labels",
                     os.path.join(MODELS, "shape_ops.labels")],
                    ["uses 5 things", "view: Tensor.view to [1, -1] with the constant batch size 1",
                     "view:2: Tensor.view to [N, 2, -1], 1x8x112x112 -> 1x2x50176 is not supported",
                     "mean: Tensor.mean over dims 1", "interpolate: torch.nn.functional.interpolate with "
                     "mode='bicubic' is not supported (only 'nearest' and 'bilinear')"])
    return "; ".join(line.strip() for line in err.splitlines()[1:3])


# ---- f16 -----------------------------------------------------------------------------

@case
def f16_storage():
    path = out("mnv3s_f16.ccm")
    r, _, _ = convert("--arch", "mobilenet_v3_small", "--random-init", "--dtype", "f16", "-o", path)
    m = ccm.read(path)
    model = models.random_model("mobilenet_v3_small", 0)     # the same seed: the f32 weights
    check(all(t.dtype == 2 for t in m.tensors.values()), "not every tensor is f16")
    check_tensors(m, model, np.float16)
    f32 = os.path.getsize(out("mobilenet_v3_small.ccm"))
    check(os.path.getsize(path) < 0.52 * f32, "f16 file %d bytes vs f32 %d" % (os.path.getsize(path), f32))
    with torch.no_grad():
        ref32 = model(PHOTOS["224x224"])
    diffs = logit_diffs(m, r.model)     # the converted model holds the stored (rounded) weights
    vs32 = float((ccm.run(m, PHOTOS["224x224"]) - ref32).abs().max())
    return "max diff %s; vs the f32 model %.3g (max |logit| %.3g)" % (
        ", ".join("%.2g" % d for d in diffs.values()), vs32, float(ref32.abs().max()))


# ---- output: softmax or sigmoid -----------------------------------------------------------

@case
def output_softmax_by_default_sigmoid_with_multi_label():
    labels = out("two.labels")
    with open(labels, "w") as f:
        f.write("a\nb\n")
    ex1 = ["--module", os.path.join(MODELS, "worked_examples.py:example1"), "--input-size", "1,3,3", "--mean", "0",
           "--std", "1", "--labels", labels, "--layer", "conv"]
    path = out("ex1.ccm")
    convert(*ex1, "-o", path)
    m = ccm.read(path)
    check(m.metadata.get("output") == "softmax" and m.metadata_types["output"] == 1,
          "default output %r" % m.metadata.get("output"))
    _, stdout, _ = convert(*ex1, "--multi-label", "-o", path, process=True)
    m = ccm.read(path)
    check(m.metadata.get("output") == "sigmoid", "--multi-label stored output %r" % m.metadata.get("output"))
    check("2 classes (sigmoid)" in stdout, "the summary does not say sigmoid: " + stdout)
    # Another value, with the CRCs recomputed so that only the value is wrong.
    b = bytearray(open(path, "rb").read())
    entry = struct.pack("<I", 6) + b"output" + struct.pack("<II", 1, 7) + b"sigmoid"
    i = b.index(entry) + len(entry) - 7
    b[i:i + 7] = b"sigmoxd"
    struct.pack_into("<I", b, 96, zlib.crc32(b[128:sum(m.header["tensors"])]))
    struct.pack_into("<I", b, 104, zlib.crc32(b[:104]))
    with open(path, "wb") as f:
        f.write(b)
    try:
        ccm.read(path)
    except ccm.FormatError as e:
        check("'output' is 'sigmoxd'" in str(e) and "'softmax', 'sigmoid', 'probabilities' or "
              "'log_probabilities'" in str(e), "message %r" % str(e))
    else:
        raise AssertionError("ccm.py accepts output 'sigmoxd'")
    os.unlink(path)
    return "softmax by default, sigmoid with --multi-label, 'sigmoxd' rejected"


# ---- weight files ---------------------------------------------------------------------

def small_state():
    torch.manual_seed(5)
    model = models.build_arch("mobilenet_v3_small").eval()
    return model, model.state_dict()


@case
def random_init_is_reproducible():
    a = models.random_model("mobilenet_v3_small", 7).state_dict()
    b = models.random_model("mobilenet_v3_small", 7).state_dict()
    c = models.random_model("mobilenet_v3_small", 8).state_dict()
    check(all(torch.equal(a[k], b[k]) for k in a), "the same seed gave different weights or statistics")
    check(not torch.equal(a["features.0.0.weight"], c["features.0.0.weight"]), "the seed is ignored")
    check(not torch.equal(a["features.0.1.running_var"], torch.ones(16)), "batchnorm not calibrated")


@case
def weight_file_variants():
    model, sd = small_state()
    variants = {"plain": sd, "state_dict": {"state_dict": sd, "epoch": 3}, "model": {"model": sd},
                "module": model, "dataparallel": {"module." + k: v for k, v in sd.items()}}
    for label, obj in variants.items():
        pth = out("w_%s.pth" % label)
        torch.save(obj, pth)
        path = out("w_%s.ccm" % label)
        convert("--arch", "mobilenet_v3_small", "--weights", pth, "-o", path)
        m = ccm.read(path)
        check_tensors(m, model)
        check(m.metadata["source.file"] == os.path.basename(pth), "source.file")
        check(m.metadata["source.sha256"] == models.sha256_of(pth), "source.sha256")
        check("source.release" not in m.metadata, "a random file taken for a torchvision release")
        os.unlink(path)
    return ", ".join(variants)


@case
def missing_and_unexpected_keys():
    _, sd = small_state()
    bad = dict(sd)
    del bad["classifier.3.bias"]
    bad["extra.weight"] = torch.zeros(3)
    torch.save(bad, out("bad_keys.pth"))
    fail_case(["--arch", "mobilenet_v3_small", "--weights", out("bad_keys.pth")],
              ["missing keys (1): classifier.3.bias", "unexpected keys (1): extra.weight"], process=True)
    bad = dict(sd)
    bad["classifier.3.weight"] = torch.zeros(2, 1024)
    bad["classifier.3.bias"] = torch.zeros(2)
    torch.save(bad, out("bad_shape.pth"))
    fail_case(["--arch", "mobilenet_v3_small", "--weights", out("bad_shape.pth")],
              ["shape mismatches (2)", "classifier.3.weight is 2x1024 in the file, 1000x1024 in the model",
               "--num-classes"])
    torch.save({"epoch": 3, "lr": 0.1}, out("not_weights.pth"))
    fail_case(["--arch", "mobilenet_v3_small", "--weights", out("not_weights.pth")], ["are not tensors"])
    fail_case(["--arch", "mobilenet_v3_small", "--weights", out("nonexistent.pth")], ["no such file"])
    with open(out("garbage.pth"), "wb") as f:
        f.write(b"not a pickle at all")
    fail_case(["--arch", "mobilenet_v3_small", "--weights", out("garbage.pth")], ["torch.load failed"])


# ---- what must fail -----------------------------------------------------------------

@case
def unsupported_ops_are_all_reported():
    err = fail_case(["--module", os.path.join(MODELS, "zoo.py:unsupported")],
                    ["features.3.foo: torch.nn.modules.activation.Mish is not supported",
                     "uses 1 thing cnncam cannot run"], process=True)
    check("view" not in err and "size" not in err, "x.view(x.size(0), -1) refused:\n" + err)
    fail_case(["--module", os.path.join(MODELS, "zoo.py:unsupported_tokens")],      # the transformers' tracer
              ["act: torch.nn.modules.activation.Mish is not supported", "cumsum: Tensor.cumsum is not supported",
               "uses 2 things cnncam cannot run"], process=True)
    # A tuple result converts (its first tensor, with a note); a result with no tensor does not.
    d = tempfile.mkdtemp(dir=TMP)
    _, _, note = convert("--module", os.path.join(MODELS, "zoo.py:tuple_out"), "-o", os.path.join(d, "x.ccm"))
    check("the logits are entry 0" in note, "tuple_out: no note naming the entry taken:\n" + note)
    fail_case(["--module", os.path.join(MODELS, "zoo.py:no_tensor_out"), "--input-size", "3,8,8"],
              ["returns a tuple without any tensor"])
    fail_case(["--module", os.path.join(MODELS, "zoo.py:inplace_shared")],
              ["relu: torch.nn.modules.activation.ReLU overwrites its input in place, and add reads"])
    return "; ".join(line.strip() for line in err.splitlines()[1:4])


@case
def pretrained_fails_cleanly_offline():
    d = tempfile.mkdtemp(dir=TMP)
    p = subprocess.run([CONVERT, "--arch", "resnet34", "--pretrained", "-o", os.path.join(d, "x.ccm")],
                       capture_output=True, text=True, env=ENV)
    if p.returncode == 0:
        return "SKIPPED: the network is reachable"
    check(p.returncode == 2, "exit %d" % p.returncode)
    lines = p.stderr.strip().splitlines()
    check(len(lines) == 1, "not one line:\n" + p.stderr)
    check("cannot download the pretrained weights for resnet34" in lines[0] and "--weights FILE.pth" in lines[0],
          lines[0])
    no_output(d)
    return lines[0]


@case
def pretrained_from_the_hub_cache():
    """--pretrained takes a file already in torch.hub's cache (no network needed)."""
    w = models.releases("mobilenet_v3_small")[0]
    home = os.path.join(TMP, "torch-home-cached")
    ckpt = os.path.join(home, "hub", "checkpoints", os.path.basename(w.url))
    os.makedirs(os.path.dirname(ckpt))
    model, sd = small_state()
    torch.save(sd, ckpt)
    path = out("pretrained.ccm")
    p = subprocess.run([CONVERT, "--arch", "mobilenet_v3_small", "--pretrained", "-o", path],
                       capture_output=True, text=True, env=dict(ENV, TORCH_HOME=home))
    check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
    m = ccm.read(path)
    check_tensors(m, model)
    check(m.metadata["source.file"] == os.path.basename(w.url), "source.file %r" % m.metadata["source.file"])
    check(m.metadata["source.release"] == "torchvision " + str(w), "source.release")
    os.unlink(path)


@case
def bad_module_paths():
    zoo = os.path.join(MODELS, "zoo.py")
    fail_case(["--module", zoo], ["--module wants FILE.py:FUNC"])
    fail_case(["--module", out("missing.py") + ":build"], ["no such file"])
    fail_case(["--module", zoo + ":nothing"], ["defines no 'nothing'", "functional"])
    fail_case(["--module", zoo + ":not_a_module"], ["returned a int, not a torch.nn.Module"])
    fail_case(["--module", zoo + ":raises"], ["raises() raised RuntimeError: the factory failed on purpose"])
    broken = out("broken.py")
    with open(broken, "w") as f:
        f.write("def build(:\n")
    fail_case(["--module", broken + ":build"], ["importing", "SyntaxError"])


@case
def bad_layer_and_labels():
    nd = ["--module", os.path.join(MODELS, "nurse_doctor.py:build")]
    labels = os.path.join(MODELS, "nurse_doctor.labels")
    fail_case(nd + ["--labels", labels, "--layer", "layer9"], ["gradcam layer 'layer9'", "neither a node nor an alias"])
    fail_case(nd + ["--labels", labels, "--layer", "fc"], ["gradcam layer 'fc'", "1x2"])
    fail_case(nd, ["2 classes: pass --labels"])
    three = out("three.labels")
    with open(three, "w") as f:
        f.write("nurse\ndoctor\nsurgeon\n")
    fail_case(nd + ["--labels", three], ["has 3 labels; the model has 2 classes"])
    path = out("nd_layer.ccm")
    convert(*nd, "--labels", labels, "--layer", "layer3.1", "-o", path)
    check(ccm.read(path).metadata["gradcam.layer"] == "layer3.1", "--layer not stored")
    os.unlink(path)


@case
def usage_errors():
    for args, phrase in ((["--arch", "resnet18", "-o", out("x.ccm")], "needs --weights"),
                         (["--arch", "resnet18", "--random-init"], "required: -o"),
                         (["--arch", "resnet18", "--weights", "a", "--random-init", "-o", out("x.ccm")],
                          "not allowed with"),
                         (["--arch", "resnet18", "--random-init", "-o", out("no/such/dir/x.ccm")],
                          "does not exist"),
                         (["--arch", "resnet_999", "--random-init", "-o", out("x.ccm")],
                          "no such classification model")):
        _, _, err = convert(*args, expect=2, process=args[-1] == out("x.ccm"))
        check(phrase in err, "%s: message lacks %r:\n%s" % (args, phrase, err))
    _, stdout, _ = convert("--help", process=True)
    for opt in ("--arch", "--module", "--weights", "--pretrained", "--random-init", "--labels", "--dtype",
                "--layer", "--multi-label", "--mean", "--std", "exit status"):
        check(opt in stdout, "--help does not mention " + opt)


@case
def module_types():
    """Metadata node.module (tests/models/guided_net.py): the class of the module
    each node calls, "" for F.relu, torch.relu and the other calls in forward,
    which guided backprop and FullGrad choose their layers by; tools/cnncam_convert/ccm.py
    reads it (None for a file without it) and refuses a list of another length,
    another type, or ReLU/Conv2d/BatchNorm2d on a node of another op."""
    import guided_net
    labels = out("guided.labels")
    with open(labels, "w") as f:
        f.write("".join("c%d\n" % k for k in range(guided_net.CLASSES)))
    path = out("guided_net.ccm")
    r, _, _ = convert("--module", os.path.join(MODELS, "guided_net.py:build"), "--labels", labels,
                      "--input-size", "3,12,12", "-o", path)
    m = ccm.read(path)
    check(m.node_module == guided_net.NODE_MODULES, "node.module %r" % m.node_module)
    relus = [n.name for n in m.nodes if n.op == "relu"]
    modules = [n.name for n, c in zip(m.nodes, m.node_module) if n.op == "relu" and c == "ReLU"]
    check(relus == ["act", "relu", "act:2", "relu:2"] and modules == guided_net.GUIDED,
          "relu nodes %s, of them nn.ReLU modules %s" % (relus, modules))
    bias = [n.name for n, c in zip(m.nodes, m.node_module) if c in ("Conv2d", "BatchNorm2d") and "bias" in n.params]
    check(bias == guided_net.BIAS_LAYERS, "bias layers %s" % bias)
    p = subprocess.run([sys.executable, CCM, "--dump", path], capture_output=True, text=True)
    check("act  relu(bn1)  module=ReLU" in p.stdout and "relu  relu(bn2)\n" in p.stdout, "--dump:\n" + p.stdout)

    def rewritten(module):
        """The file again with node.module as given: None leaves it out, a str stores a string."""
        meta = [e for e in r.metadata if e[0] != "node.module"]
        if module is not None:
            meta.append(("node.module", writer.STRING if isinstance(module, str) else writer.STRING_LIST, module))
        p = out("guided_net_edit.ccm")
        with open(p, "wb") as f:
            writer.write(f, meta, r.graph, writer.stored_arrays(r.graph.tensors, "f32"), "f32")
        return p
    check(ccm.read(rewritten(None)).node_module is None, "a file without node.module")
    names = guided_net.NODE_MODULES
    for module, phrase in ((names[:-1], "'node.module' has 16 entries for 17 nodes"),
                           (names + [""], "has 18 entries for 17 nodes"),
                           ("ReLU", "'node.module' is a string; expected a string list"),
                           (["ReLU"] + names[1:], "entry 0 says node 'conv1' calls a ReLU module, but its op is "
                                                  "conv2d, not relu"),
                           (names[:1] + ["Conv2d"] + names[2:], "node 'bn1' calls a Conv2d module"),
                           (names[:5] + ["BatchNorm2d"] + names[6:], "node 'relu' calls a BatchNorm2d module")):
        try:
            ccm.read(rewritten(module))
        except ccm.FormatError as e:
            check(phrase in str(e), "expected %r, got %r" % (phrase, str(e)))
        else:
            raise AssertionError("node.module %r accepted" % (module,))
    os.unlink(path)
    return "%d nodes, nn.ReLU modules %s, bias layers %s" % (len(names), ", ".join(modules), ", ".join(bias))


# ---- the reader ------------------------------------------------------------------------

@case
def reader_rejects_corruption():
    src = out("mobilenet_v3_small.ccm")
    good = open(src, "rb").read()
    m = ccm.read(src)
    g_off = m.header["graph"][0]
    d_off = m.header["data"][0]

    def mutate(fn, phrase):
        b = bytearray(good)
        b = fn(b)
        p = out("corrupt.ccm")
        with open(p, "wb") as f:
            f.write(b)
        try:
            ccm.read(p)
        except ccm.FormatError as e:
            check(phrase in str(e), "expected %r, got %r" % (phrase, str(e)))
        else:
            raise AssertionError("corruption not detected: " + phrase)

    def flip(pos):
        def fn(b):
            b[pos] ^= 0x40
            return b
        return fn
    mutate(flip(1), "bad magic")
    mutate(flip(30), "header CRC")
    mutate(flip(g_off + 10), "CRC of metadata, graph and tensor table")
    mutate(flip(d_off + 1000), "CRC of the data section")
    mutate(lambda b: b[:-7], "header says the file is")
    mutate(lambda b: b + b"\0", "header says the file is")
    p = subprocess.run([sys.executable, CCM, "--dump", src], capture_output=True, text=True)
    check(p.returncode == 0 and "features.0.0" in p.stdout and "tensors (" in p.stdout, "--dump failed")
    p = subprocess.run([sys.executable, CCM, "--check", out("corrupt.ccm")], capture_output=True, text=True)
    check(p.returncode == 2 and "header says the file is" in p.stderr, "--check of a bad file")


def report():
    if REPORT:
        print("model                 convert   file MB   max |diff| 224x224   227x301")
        for arch, dt, size, diffs in REPORT:
            print("%-20s %6.1f s %9.1f   %10.3g   %10.3g" % (arch, dt, size / 1e6, diffs["224x224"],
                                                             diffs["227x301"]))


def main(argv):
    return run_cases("converter", CASES, argv, TMP, report)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
