#!/usr/bin/python3
"""tests/test_onnx.py — ONNX files read by cnncam in C (onnx/), against PyTorch.

Usage: /usr/bin/python3 tests/test_onnx.py [-k SUBSTRING]...   (from any directory; after `make all`)

Each model is torchvision's with the converter's seeded random weights and
batchnorm statistics calibrated on photos (cnncam_convert.models.random_model,
as `cnncam-convert --random-init --seed 0` makes them), saved, converted to its
.ccm twin by tools/cnncam-convert, and exported by torch.onnx.export at opsets
13 and 17: as PyTorch exports by default (batchnorm folded into the convs) and
with training=PRESERVE (batchnorm kept). Then, through build/cnncam on two
photos (centre-cropped, normalised, given as .npy so every model sees the same
tensor):
  * logits of the default export against the PyTorch model's:
    max |diff| <= 1e-4 * max(1, max |logit|), the same top-1;
  * Grad-CAM of the batchnorm-keeping export against the .ccm twin's, at the
    recommended layer (chosen by the importer, as the converter chooses) and at
    one inner layer named by its module path: max |diff| <= 1e-5; the default
    export's maps at the recommended layer are compared too, to 1e-3: folding
    rounds the weights differently, which moves a map by 1e-6 to 1e-4, and an
    inner layer of a random-weight net by up to 1e-3 (RegNet's block3);
  * every explanation method (cnncam methods) on a small batchnorm-keeping
    export gives its .ccm twin's map bit for bit;
  * the names: cnncam info lists module paths and ONNX names, and -l with the
    ONNX node name or its output's name gives the module path's map exactly;
  * cnncam convert writes a .ccm whose maps equal the .onnx file's bit for bit;
    its options and metadata_props give labels and normalisation;
  * external data (onnx.save_model(..., save_as_external_data=True)) gives the
    inline file's logits exactly; locations outside the model's folder, a
    missing file and a short one are refused;
  * ops on constants (Range, Mod, Equal, Cast, Sqrt, Neg, Where, Reshape,
    Transpose, Slice with a negative step, ScatterND, Expand, Pow,
    ConstantOfShape, Add) fold to NumPy's values exactly;
  * an unsupported op is refused with the node's name, op type and opset, and a
    truncated or corrupted file with a message: exit 2, no traceback-like crash.
Prints one line per check and "onnx: N passed, N failed"; exits 1 on any
failure. Needs /usr/bin/python3 with Debian's torch, torchvision and onnx.
"""
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CNNCAM_BUILD", os.path.join(ROOT, "build"))
CNNCAM = os.path.join(BUILD, "cnncam")
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
sys.path.insert(0, os.path.join(ROOT, "tools"))

from cnncam_convert import models  # noqa: E402
from PIL import Image  # noqa: E402
from tally import registry, require, run_cases  # noqa: E402

torch.set_num_threads(2)
warnings.filterwarnings("ignore")
TOLERANCE = 1e-4
CAM_TOLERANCE = 1e-5
FOLDED_CAM_TOLERANCE = 1e-3

# The converter test's article models and issue 13's, each with an inner layer
# named by module path (a block's output: a value both graphs have).
INNER = {
    "mobilenet_v3_large": "features.10", "resnet34": "layer3", "vgg16": "features.22",
    "regnet_y_800mf": "trunk_output.block3", "efficientnet_b0": "features.5",
    "mobilenet_v3_small": "features.6", "resnet18": "layer2", "resnet50": "layer3.2",
    "densenet121": "features.denseblock3", "shufflenet_v2_x1_0": "stage3", "mnasnet1_0": "layers.10",
    "googlenet": "inception4c", "convnext_tiny": "features.5",
}

# Where the converter's recommended layer is not the last conv-like map (the
# importer's rule, which is the converter's for models it has no entry for).
OWN_CHOICE = {"densenet121": "features"}

TMP = tempfile.mkdtemp(prefix="cnncam-test-onnx.")
CASES, case = registry()
check = require


def run(*args, expect=0):
    p = subprocess.run([CNNCAM] + [str(a) for a in args], capture_output=True, text=True, errors="replace")
    check(p.returncode == expect, "cnncam %s: exit %d, expected %d\n%s" % (" ".join(map(str, args)), p.returncode,
                                                                          expect, p.stderr.strip()[-1500:]))
    return p


def photos():
    """Two photos centre-cropped to 224 and normalised, as one batch and as .npy files."""
    imgs = [Image.open(os.path.join(ROOT, "assets", "images", p)).convert("RGB") for p in ("chelsea.png", "kite.png")]
    x = torch.stack([models.to_tensor(models.center_crop(i)) for i in imgs])
    paths = []
    for k in range(len(imgs)):
        paths.append(os.path.join(TMP, "photo%d.npy" % k))
        np.save(paths[-1], x[k].numpy())
    return x, paths


X, NPY = photos()


def export(net, path, opset, **kw):
    torch.onnx.export(net, X[:1], path, opset_version=opset, **kw)
    return path


def logits(model):
    out = os.path.join(TMP, "logits.npy")
    run("predict", "-m", model, "--logits-out", out, *NPY)
    return np.load(out)


def cam(model, layer=None, image=0, extra=()):
    out = os.path.join(TMP, "cam.npy")
    args = ["cam", "-m", model, "--cam-out", out, "-c", "0"] + (["-l", layer] if layer else []) + list(extra)
    run(*args, NPY[image])
    return np.load(out)


def twin(arch, net):
    """The .ccm of the same weights, by the PyTorch converter."""
    pth, ccm = os.path.join(TMP, arch + ".pth"), os.path.join(TMP, arch + ".ccm")
    torch.save(net.state_dict(), pth)
    subprocess.run([CONVERT, "--arch", arch, "--weights", pth, "-o", ccm], check=True, capture_output=True)
    return ccm


REPORT = []


def model_case(arch):
    def body():
        net = models.random_model(arch, 0).eval()
        with torch.no_grad():
            ref = net(X).numpy()
        ccm = twin(arch, net)
        twin_maps = {layer: [cam(ccm, layer, k) for k in range(2)] for layer in (None, INNER[arch])}
        if arch in OWN_CHOICE:   # compare at the converter's choice, named
            twin_maps[OWN_CHOICE[arch]] = twin_maps.pop(None)
        worst = {"logits": 0.0, "cam": 0.0, "folded cam": 0.0}
        for opset in (13, 17):
            folded = export(net, os.path.join(TMP, "%s-%d.onnx" % (arch, opset)), opset)
            kept = export(net, os.path.join(TMP, "%s-%d-bn.onnx" % (arch, opset)), opset,
                          training=torch.onnx.TrainingMode.PRESERVE)
            got = logits(folded)
            d = float(np.abs(got - ref).max())
            tol = TOLERANCE * max(1.0, float(np.abs(ref).max()))
            check(d <= tol, "opset %d: logits differ by %.3g > %.3g" % (opset, d, tol))
            check((got.argmax(1) == ref.argmax(1)).all(), "opset %d: top-1 differs" % opset)
            worst["logits"] = max(worst["logits"], d)
            for layer, maps in twin_maps.items():
                for k in range(2):
                    a = cam(kept, layer, k)
                    check(a.shape == maps[k].shape, "map shape %s vs %s" % (a.shape, maps[k].shape))
                    e = float(np.abs(a - maps[k]).max())
                    check(e <= CAM_TOLERANCE, "opset %d, layer %s: Grad-CAM differs from the .ccm twin's by %.3g"
                          % (opset, layer or "(recommended)", e))
                    worst["cam"] = max(worst["cam"], e)
                    if layer is None or layer == OWN_CHOICE.get(arch):
                        f = float(np.abs(cam(folded, layer, k) - maps[k]).max())
                        check(f <= FOLDED_CAM_TOLERANCE, "opset %d: the folded export's Grad-CAM differs by %.3g"
                              % (opset, f))
                        worst["folded cam"] = max(worst["folded cam"], f)
            os.remove(folded), os.remove(kept)
        os.remove(ccm)
        REPORT.append((arch, worst))
        return "logits %.2g, Grad-CAM %.2g (batchnorm kept), %.2g (folded)" % (
            worst["logits"], worst["cam"], worst["folded cam"])
    body.__name__ = "parity " + arch
    return body


for _arch in INNER:
    case(model_case(_arch))


def resnet18():
    net = models.random_model("resnet18", 0).eval()
    path = os.path.join(TMP, "resnet18.onnx")
    if not os.path.exists(path):
        export(net, path, 13)
    return net, path


@case
def every_method_as_on_the_twin():
    """Every explanation method on a batchnorm-keeping export gives its .ccm
    twin's map bit for bit (a small net of depthwise and squeeze-excitation
    blocks from tests/gen_onnx_fixtures.py, 32 x 32 input). FullGrad too:
    with batchnorm kept, the bias layers are the same."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gen_onnx_fixtures as fx
    torch.manual_seed(3)
    net = fx.Mobile().eval()
    pth, ccm = os.path.join(TMP, "mobile.pth"), os.path.join(TMP, "mobile.ccm")
    torch.save(net.state_dict(), pth)
    labels = os.path.join(TMP, "five.txt")
    with open(labels, "w") as f:
        f.write("".join("class %d\n" % i for i in range(5)))
    module = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen_onnx_fixtures.py") + ":Mobile"
    subprocess.run([CONVERT, "--module", module, "--weights", pth, "--input-size", "3,32,32", "--labels", labels,
                    "-o", ccm], check=True, capture_output=True)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    path = os.path.join(TMP, "mobile.onnx")
    torch.onnx.export(net, x, path, opset_version=13, training=torch.onnx.TrainingMode.PRESERVE)
    npy = os.path.join(TMP, "mobile_x.npy")
    np.save(npy, x[0].numpy())
    methods = [line.split()[0] for line in run("methods").stdout.splitlines() if line.strip()]
    check(len(methods) >= 16, "cnncam methods lists %d methods" % len(methods))
    worst = 0.0
    for m in methods:
        maps = []
        for model in (ccm, path):
            out = os.path.join(TMP, "method.npy")
            run("cam", "-m", model, "--method", m, "-c", "1", "--cam-out", out, npy)
            maps.append(np.load(out))
        d = float(np.abs(maps[0] - maps[1]).max())
        check(d <= CAM_TOLERANCE, "%s: the ONNX file's map differs from the twin's by %.3g" % (m, d))
        worst = max(worst, d)
    return "%d methods, max |diff| %.2g" % (len(methods), worst)


@case
def names_from_module_paths_and_onnx():
    _, path = resnet18()
    info = run("info", path).stdout
    for name in ("layer4", "layer1.0.relu:2", "/layer1/layer1.0/relu_1/Relu", "layer1.0.add", "fc", "avgpool"):
        check(("  %s " % name) in info, "cnncam info does not list %r" % name)
    check("grad-cam      layer4 (recommended layer)" in info, "recommended layer:\n" + info[:600])
    want = cam(path, "layer1.0.relu:2")
    for alias in ("/layer1/layer1.0/relu_1/Relu", "/layer1/layer1.0/relu_1/Relu_output_0", "layer1.0"):
        check(np.array_equal(cam(path, alias), want), "-l %s is not layer1.0.relu:2" % alias)
    err = run("cam", "-m", path, "-l", "layer9", "--cam-out", os.path.join(TMP, "x.npy"), NPY[0], expect=2).stderr
    check("layer9" in err and "layer4" in err, "an unknown layer's message names it and suggests: " + err)


@case
def convert_writes_the_same_model():
    _, path = resnet18()
    ccm = os.path.join(TMP, "converted.ccm")
    out = run("convert", path, "-o", ccm, "--resize", "256", "--crop", "224").stdout
    check("layer4" in out, "convert's summary: " + out)
    for layer in (None, "layer3"):
        check(np.array_equal(cam(path, layer), cam(ccm, layer)), "the converted file's map differs")
    info = run("info", ccm).stdout
    check("resize 256, centre crop 224" in info, "eval recipe not stored:\n" + info[:800])
    # Refusals write nothing.
    d = tempfile.mkdtemp(dir=TMP)
    bad = os.path.join(d, "x.ccm")
    labels = os.path.join(TMP, "two.txt")
    with open(labels, "w") as f:
        f.write("a\nb\n")
    err = run("convert", path, "-o", bad, "--labels", labels, expect=2).stderr
    check("labels" in err and "1000" in err, "a label count mismatch names both counts: " + err)
    err = run("convert", path, "-o", bad, "--layer", "nowhere", expect=2).stderr
    check("nowhere" in err, "a bad --layer is named: " + err)
    run("convert", path, "-o", bad, "--mean", "0.5,0.5", expect=1)
    check(not os.listdir(d), "files left behind: %s" % os.listdir(d))


@case
def labels_and_normalisation_from_metadata_props():
    _, path = resnet18()
    m = onnx.load(path)
    names = ["class %d" % i for i in range(1000)]
    for k, v in (("labels", "\n".join(names)), ("input.mean", "0.5,0.5,0.5"), ("input.std", "0.25,0.25,0.25"),
                 ("gradcam.layer", "layer3")):
        p = m.metadata_props.add()
        p.key, p.value = k, v
    props = os.path.join(TMP, "props.onnx")
    onnx.save(m, props)
    info = run("info", props).stdout
    check("mean 0.5 0.5 0.5, std 0.25 0.25 0.25" in info, "normalisation from metadata_props:\n" + info[:800])
    check("grad-cam      layer3 (recommended layer)" in info, "layer from metadata_props")
    top = run("predict", "-m", props, "--top", "1", NPY[0]).stdout
    check("class " in top, "labels from metadata_props: " + top)
    img = os.path.join(ROOT, "assets", "images", "chelsea.png")
    crop = Image.open(img).convert("RGB")
    crop = models.center_crop(crop)
    png = os.path.join(TMP, "chelsea224.png")
    crop.save(png)
    out = os.path.join(TMP, "l.npy")
    run("predict", "-m", props, "--logits-out", out, png)
    net, _ = resnet18()
    x = (torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255).permute(2, 0, 1) - 0.5) / 0.25
    with torch.no_grad():
        ref = net(x[None]).numpy()
    d = float(np.abs(np.load(out) - ref).max())
    check(d <= TOLERANCE * max(1, float(np.abs(ref).max())), "logits with the file's normalisation differ by %.3g" % d)


@case
def external_data():
    _, path = resnet18()
    d = tempfile.mkdtemp(dir=TMP)
    ext = os.path.join(d, "ext.onnx")
    onnx.save_model(onnx.load(path), ext, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    check(os.path.getsize(ext) < 100000, "the weights did not go to the external file")
    check(np.array_equal(logits(ext), logits(path)), "external data gives other logits")
    m = onnx.load(ext, load_external_data=False)
    cases = {"../weights.bin": "leaves the model's folder", "/etc/passwd": "not a relative path",
             "missing.bin": "missing.bin"}
    for loc, phrase in cases.items():
        for t in m.graph.initializer:
            for e in t.external_data:
                if e.key == "location":
                    e.value = loc
        bad = os.path.join(d, "bad.onnx")
        onnx.save(m, bad)
        err = run("predict", "-m", bad, NPY[0], expect=2).stderr
        check(phrase in err, "location %s: %s" % (loc, err))
    with open(os.path.join(d, "weights.bin"), "r+b") as f:
        f.truncate(1000)
    err = run("predict", "-m", ext, NPY[0], expect=2).stderr
    check("too few" in err or "holds" in err, "a short external file: " + err)


class Unsupported(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.head(torch.tanh(self.conv(x)).mean((2, 3)))


@case
def unsupported_ops_are_named():
    path = export(Unsupported().eval(), os.path.join(TMP, "tanh.onnx"), 13)
    err = run("predict", "-m", path, NPY[0], expect=2).stderr
    for phrase in ("/Tanh", "Tanh", "opset 13", "nothing was loaded"):
        check(phrase in err, "the message lacks %r: %s" % (phrase, err))


@case
def constant_folding_against_numpy():
    """Ops on constants, folded at load: the model adds their result to its
    input, and its output (flattened) is compared with NumPy's arithmetic."""
    from onnx import TensorProto, helper, numpy_helper
    r = np.arange(48, dtype=np.int64)
    w = np.where(r % 5 == 0, np.sqrt(r.astype(np.float32)), -r.astype(np.float32)).reshape(1, 3, 4, 4)
    t = w.transpose(0, 1, 3, 2)[:, :, :, ::-1].copy()
    t[0, 1, 2] = [7, 8, 9, 10]
    want_c = t + np.float32(2) ** 2 + np.float32(0.5) + (np.int64(-7) % np.int64(3))
    consts = {"zero": np.array(0, np.int64), "n48": np.array(48, np.int64), "one": np.array(1, np.int64),
              "five": np.array(5, np.int64), "shape": np.array([1, 3, 4, 4], np.int64),
              "starts": np.array([-1], np.int64), "ends": np.array([-100], np.int64),
              "axes": np.array([3], np.int64), "steps": np.array([-1], np.int64),
              "idx": np.array([[0, 1, 2]], np.int64), "upd": np.array([[7, 8, 9, 10]], np.float32),
              "two": np.array([2.0], np.float32), "m7": np.array(-7, np.int64), "three": np.array(3, np.int64)}
    nodes = [helper.make_node("Constant", [], [k], value=numpy_helper.from_array(v, k)) for k, v in consts.items()]
    nodes += [
        helper.make_node("Range", ["zero", "n48", "one"], ["r"]),
        helper.make_node("Mod", ["r", "five"], ["m"]),
        helper.make_node("Equal", ["m", "zero"], ["e"]),
        helper.make_node("Cast", ["r"], ["rf"], to=TensorProto.FLOAT),
        helper.make_node("Sqrt", ["rf"], ["sq"]),
        helper.make_node("Neg", ["rf"], ["ng"]),
        helper.make_node("Where", ["e", "sq", "ng"], ["w"]),
        helper.make_node("Reshape", ["w", "shape"], ["w4"]),
        helper.make_node("Transpose", ["w4"], ["t"], perm=[0, 1, 3, 2]),
        helper.make_node("Slice", ["t", "starts", "ends", "axes", "steps"], ["ts"]),
        helper.make_node("ScatterND", ["ts", "idx", "upd"], ["sc"]),
        helper.make_node("Expand", ["two", "shape"], ["ex"]),
        helper.make_node("Pow", ["ex", "two"], ["pw"]),
        helper.make_node("ConstantOfShape", ["shape"], ["half"], value=numpy_helper.from_array(np.array([0.5], np.float32))),
        helper.make_node("Mod", ["m7", "three"], ["md"]),
        helper.make_node("Cast", ["md"], ["mdf"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["sc", "pw"], ["a1"]),
        helper.make_node("Add", ["a1", "half"], ["a2"]),
        helper.make_node("Add", ["a2", "mdf"], ["c"]),
        helper.make_node("Add", ["x", "c"], ["y"]),
        helper.make_node("Flatten", ["y"], ["logits"], axis=1),
    ]
    graph = helper.make_graph(nodes, "folding", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 48])])
    path = os.path.join(TMP, "folding.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = np.random.default_rng(5).standard_normal((3, 4, 4)).astype(np.float32)
    npy = os.path.join(TMP, "x4.npy")
    np.save(npy, x)
    out = os.path.join(TMP, "fold.npy")
    run("predict", "-m", path, "--logits-out", out, npy)
    got, want = np.load(out)[0], (x[None] + want_c).reshape(-1)
    check(np.array_equal(got, want.astype(np.float32)), "folded constants differ from NumPy's by %.3g"
          % float(np.abs(got - want).max()))


@case
def damaged_files_are_refused():
    _, path = resnet18()
    data = open(path, "rb").read()
    d = tempfile.mkdtemp(dir=TMP)
    bad = os.path.join(d, "bad.onnx")
    for n in (0, 1, 7, 100, len(data) // 2, len(data) - 1):
        with open(bad, "wb") as f:
            f.write(data[:n])
        p = run("predict", "-m", bad, NPY[0], expect=2)
        check("bad.onnx" in p.stderr, "truncated to %d bytes: %s" % (n, p.stderr))
    rng = np.random.default_rng(0)
    for k in rng.integers(0, 4000, 12):   # the graph's structure lies before the weights
        b = bytearray(data)
        b[k] ^= 0xFF
        with open(bad, "wb") as f:
            f.write(bytes(b))
        p = subprocess.run([CNNCAM, "predict", "-m", bad, NPY[0]], capture_output=True)
        check(p.returncode in (0, 2), "byte %d flipped: exit %d %s" % (k, p.returncode, p.stderr[-300:]))
        check(p.stderr.decode("ascii", "replace").isprintable() or b"\n" in p.stderr,
              "byte %d flipped: the message holds raw bytes: %r" % (k, p.stderr[-300:]))
        check(all(c >= 0x20 or c == 0x0a for c in p.stderr), "byte %d flipped: control bytes in %r"
              % (k, p.stderr[-300:]))


def main(argv):
    return run_cases("onnx", CASES, argv, TMP)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
