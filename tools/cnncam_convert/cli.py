"""tools/cnncam_convert/cli.py — the cnncam-convert command.

One conversion: get the model (models.py), trace it into a graph (trace.py),
choose metadata, write a temporary file next to the output (writer.py), read
it back with the independent reader (ccm.py) and check that
  * metadata, graph and aliases round-trip exactly,
  * every stored tensor equals the model's state_dict entry (f16: equals it
    rounded to float16),
  * the graph, run by ccm.run with torch.nn.functional, gives the model's
    logits on a seeded 2 x C x H x W input at the traced size (max |diff| <=
    1e-4 * max(1, max |logit|); in f16 mode against the model with its
    weights rounded the same way),
and only then rename it over the output. Nothing is written on any error.

convert(args) converts what the command line names; convert_module(model,
output, ...) a module already in memory (cnncam.compat's drop-in). Both end
in _convert, the one conversion.
"""
import argparse
import collections
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

from . import ConvertError, concrete_convert, inputs, models, outputs, trace, writer
from .writer import FLOAT_LIST, INT, STRING, STRING_LIST

from . import ccm

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2
TOLERANCE = 1e-4          # relative to max(1, max |logit|)
                                   # unless --input-size gives another


class SelfCheckError(Exception):
    """The written file does not read back as written, or its graph does not
    compute what the model's forward does: a converter bug, or a forward whose
    meaning torch.fx did not capture (an in-place update it could not see)."""


DESCRIPTION = """\
Convert a PyTorch classification CNN or vision transformer to a cnncam model file
(.ccm, weights/FORMAT.md).

The model is traced with torch.fx; module paths become node names (layer4.2.conv1),
containers become aliases (layer4). Supported: Conv2d, BatchNorm2d and BatchNorm1d
(running statistics), Linear, ReLU, ReLU6, Hardswish, Hardsigmoid, Sigmoid, SiLU,
LeakyReLU, ELU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, residual add, channel-scale
mul (squeeze-excitation), flatten, torch.cat along channels (up to 64 tensors), a
Softmax or LogSoftmax over the classes (dim 1), and Dropout/Identity/StochasticDepth
(identity in eval); each also in its functional spelling (F.leaky_relu, F.elu,
F.softmax, torch.softmax, x.softmax(1), F.log_softmax, ...). Also: flattening views
(x.view(x.size(0), -1), x.reshape(N, -1), x.view(-1, F)), spatial means
(x.mean((2, 3)), keepdim or not), F.interpolate/nn.Upsample (nearest, bilinear with
either align_corners, by size or scale_factor), channel pieces (x.chunk(2, dim=1),
torch.split, x[:, a:b], x.narrow) and ShuffleNet's channel shuffle.

Transformers (a model with LayerNorm, GELU, MultiheadAttention, or torchvision's ViT,
Swin or ConvNeXt): traced by running the model on the probe input, so the file is
specialised to that size (224x224, or --input-size) and records it. Supported as well:
Linear and LayerNorm over the last dimension, GELU (erf or tanh), batch-first
MultiheadAttention, matmul/bmm/@ (a transposed operand, a scale), softmax over the last
dimension, permute/transpose, every view and reshape, indexing with steps, chunk/split/
unbind, torch.cat along any dimension but the batch, torch.roll, zero F.pad, and a tensor
plus/minus/times/over a constant (position embeddings, relative position biases, masks,
layer scale); a class token concatenated in front is stored as padding plus a constant.
Anything else is listed with its module path and nothing is written."""

EPILOG = """\
examples:
  cnncam-convert --arch resnet34 --weights resnet34-b627a593.pth -o resnet34.ccm
  cnncam-convert --arch mobilenet_v3_large --pretrained -o mnv3.ccm
  cnncam-convert --arch vgg16 --random-init --seed 1 --dtype f16 -o vgg16.ccm
  cnncam-convert --module tests/models/nurse_doctor.py:build --weights nd.pth \\
                 --labels tests/models/nurse_doctor.labels -o nurse_doctor.ccm
  cnncam-convert --module lenet.py:build --weights lenet.pth --input-size 1,28,28 \\
                 --mean 0.1307 --std 0.3081 --labels digits.txt -o lenet.ccm
  cnncam-convert --module aux_net.py:build --weights a.pth --output-key out --labels L.txt -o a.ccm
  cnncam-convert --arch vit_b_16 --weights vit_b_16-c867db91.pth -o vit_b_16.ccm
  cnncam-convert --module vit_model.py:vit_base_patch16_224 --weights vit.pth \\
                 --mean 0.5 0.5 0.5 --std 0.5 0.5 0.5 -o vit.ccm

The weights file may hold a state_dict, a whole pickled module, or a dict with a
"state_dict" or "model" entry; it is loaded with torch.load (which unpickles:
convert only files you trust) and load_state_dict(strict=True).

--pretrained reads torch.hub's cache ($TORCH_HOME/hub/checkpoints) and downloads
only what is missing. --weights files that are torchvision releases (their SHA-256
starts with the hash in the release's file name) are recognised.

Metadata: labels (1000-class models get the ImageNet class names; others need
--labels), the output (softmax, or sigmoid with --multi-label; probabilities or
log_probabilities when the model ends in Softmax or LogSoftmax), input mean/std,
torchvision's evaluation recipe (resize, crop, interpolation) where known, the
source file and its SHA-256, and the Grad-CAM layer: the seed article's choice
for mobilenet_v3_large/small, vgg16, resnet18/34/50, regnet_y_800mf and
efficientnet_b0; otherwise the output of the last conv-like layer (not an
average pool, dropout or flatten) that still has a spatial map at 224x224, named
by its outermost container (ResNets: "layer4"). And per node, the class of the
module it calls ("ReLU"; "" for F.relu and other calls in forward), which guided
backpropagation and FullGrad choose their layers by.

After writing, the file is read back with ccm.py and checked: metadata and
graph round-trip, every tensor equals the model's, and the graph (run with
torch.nn.functional) reproduces the model's logits. Only then is OUT.ccm
replaced; on any error nothing is written.

exit status: 0 written; 1 the self-check failed (a converter bug, or a forward
that torch.fx does not capture faithfully); 2 usage or input error (bad
arguments, unreadable or mismatched weights, an unsupported model, no network
for --pretrained)."""


def parse_args(argv):
    p = argparse.ArgumentParser(prog="cnncam-convert", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--arch", metavar="NAME",
                     help="a torchvision classification model (resnet34, mobilenet_v3_large, ...)")
    src.add_argument("--module", metavar="FILE.py:FUNC",
                     help="FUNC() in FILE.py returns the nn.Module; without --weights (or "
                          "--random-init) its own parameters are converted")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--weights", metavar="FILE.pth", help="the weights to load into the model")
    w.add_argument("--pretrained", action="store_true",
                   help="torchvision's default weights for --arch (downloads them: needs the network)")
    w.add_argument("--random-init", action="store_true",
                   help="for tests: seeded initialisation, then batchnorm statistics calibrated on "
                        "the photos in the repository's assets/images")
    p.add_argument("--seed", type=int, metavar="S", help="seed of --random-init (default 0)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.ccm", help="the model file to write")
    p.add_argument("--labels", metavar="FILE",
                   help="class names, one per line (required when the model has not 1000 classes)")
    p.add_argument("--dtype", choices=("f32", "f16"), default="f32",
                   help="storage type of the tensors (default f32); the engine computes in f32")
    p.add_argument("--multi-label", action="store_true",
                   help="the classes do not exclude each other (one sigmoid per class, trained with "
                        "BCEWithLogitsLoss): store output=sigmoid, so cnncam gives each class its own "
                        "probability; default: output=softmax (one class per image). A model that ends "
                        "in Softmax, LogSoftmax or Sigmoid stores output=probabilities, log_probabilities "
                        "or probabilities instead (its outputs are shown as they are, or exp of them); "
                        "Softmax and LogSoftmax refuse --multi-label")
    p.add_argument("--layer", metavar="NAME",
                   help="the recommended Grad-CAM layer stored in the file (a node or alias name)")
    p.add_argument("--input-size", metavar="C,H,W", type=_input_size,
                   help="the input the model is traced with: channels, height, width (1,28,28 or 1x28x28); "
                        "default: as many channels as the first Conv2d/BatchNorm2d that reads the input "
                        "takes, at 224x224. A model that works at this size only (a flatten feeding a "
                        "Linear) has it stored as its fixed size (input.height/input.width), and cnncam "
                        "refuses other sizes")
    p.add_argument("--mean", type=float, nargs="+", metavar="M",
                   help="the input mean, one value per channel, for pixels / 255 (default ImageNet's %s "
                        "for 3 channels; required for other channel counts, since no default would fit "
                        "a gray or RGBA model without silently mis-normalising it)"
                        % " ".join(map(str, models.IMAGENET_MEAN)))
    p.add_argument("--std", type=float, nargs="+", metavar="S",
                   help="the input std, one value per channel (default ImageNet's %s for 3 channels)"
                        % " ".join(map(str, models.IMAGENET_STD)))
    p.add_argument("--output-key", metavar="KEY|INDEX",
                   help="for a forward that returns a dict, tuple or namedtuple (auxiliary heads, "
                        "{'out': ...}): the entry that holds the logits, by key or field name, or by "
                        "index (0 the first, -1 the last); default: its first tensor, with a note "
                        "naming it. Values that only the other entries use are left out")
    p.add_argument("--num-classes", type=int, metavar="N",
                   help="with --arch: build the model with N outputs (a fine-tuned classifier)")
    p.add_argument("--resize", type=int, metavar="N",
                   help="evaluation resize (shorter side) to store; default: torchvision's recipe when known")
    p.add_argument("--crop", type=int, metavar="N",
                   help="evaluation centre crop to store; default: torchvision's recipe when known")
    args = p.parse_args(argv)
    if args.arch and not (args.weights or args.pretrained or args.random_init):
        p.error("--arch %s needs --weights FILE.pth, --pretrained or --random-init" % args.arch)
    if args.module and args.pretrained:
        p.error("--pretrained goes with --arch; a --module model takes --weights FILE.pth")
    if args.module and args.num_classes is not None:
        p.error("--num-classes goes with --arch; a --module factory builds its own classifier")
    if args.seed is not None and not args.random_init:
        p.error("--seed goes with --random-init")
    if args.seed is not None and not 0 <= args.seed < 2 ** 63:
        p.error("--seed must be a non-negative integer below 2**63")
    if args.std is not None and any(s <= 0 for s in args.std):
        p.error("--std values must be positive")
    for opt in ("num_classes", "resize", "crop"):
        if getattr(args, opt) is not None and getattr(args, opt) < 1:
            p.error("--%s must be at least 1" % opt.replace("_", "-"))
    return args


def _input_size(text):
    try:
        return inputs.parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def read_labels(path):
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f.read().splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise ConvertError("--labels %s: %s" % (path, e)) from None
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise ConvertError("--labels %s: no labels (one per line expected)" % path)
    if "" in lines:
        raise ConvertError("--labels %s: line %d is empty" % (path, lines.index("") + 1))
    return lines


def load_model(args, note):
    """The model in eval mode, its arch name, source (file, sha256), the
    torchvision release whose recipe applies, and whether it is that release."""
    if args.arch:
        arch = args.arch
        make = lambda: models.build_arch(arch, args.num_classes)
        make_file = None
    else:
        make, make_file, arch = models.load_factory(args.module)
    tv = models.releases(arch) if args.arch else []
    release, exact = (tv[0] if tv else None), False
    if args.random_init:
        seed = 0 if args.seed is None else args.seed
        torch.manual_seed(seed)      # models.random_init's weights; convert() calibrates them
        model = make()
        source = ("random-init seed %d" % seed,) * 2
    elif args.pretrained or args.weights:
        model = make()
        if args.pretrained:
            path, release = models.download_pretrained(arch)
            exact = True
        else:
            path = args.weights
        sd, how = models.read_state_dict(path)
        if how:
            note(how)
        models.load_state(model, sd, path)
        source = (os.path.basename(path), models.sha256_of(path))
        if args.weights and args.arch:
            found = models.release_of(arch, source[1])
            if found:
                release, exact = found, True
            elif release is not None and (args.resize is None or args.crop is None):
                note("%s is not a torchvision release of %s; storing the evaluation recipe of %s "
                     "(--resize/--crop override it)" % (os.path.basename(path), arch, release))
    else:
        model = make()
        source = (os.path.basename(make_file), models.sha256_of(make_file))
    return model.eval(), arch, source, release, exact


def choose_layer(args, arch, g, option="--layer"):
    if args.layer:
        layer, how = args.layer, option
    elif args.arch and arch in models.GRADCAM_LAYERS:
        layer, how = models.GRADCAM_LAYERS[arch], "the seed article's choice"
    else:
        layer, how = (concrete_convert.auto_layer(g) if g.layouts is not None else trace.auto_gradcam_layer(g),
                      "automatic")
        if layer is None:
            raise ConvertError("the model has no layer with a spatial map to use for Grad-CAM")
    i = g.index_of(layer)
    if i is None:
        import difflib
        names = g.names() + [a for a, _ in g.aliases]
        close = difflib.get_close_matches(layer, names, 4)
        raise ConvertError("gradcam layer '%s' (%s) is neither a node nor an alias of the graph%s"
                           % (layer, how, "; close: " + ", ".join(close) if close else ""))
    shape = g.shapes[g.names()[i]]
    spatial = len(shape) == 4 if g.layouts is None else i >= len(g.inputs) and g.layouts[i - len(g.inputs)]
    if i < len(g.inputs) or not spatial:
        raise ConvertError("gradcam layer '%s' (%s) is %s; Grad-CAM needs a layer output of "
                           "N x C x H x W, channels-last N x H x W x C or tokens on a grid"
                           % (layer, how, "the input" if i < len(g.inputs) else "x".join(map(str, shape))))
    return layer


def imagenet_labels():
    """The 1000 ImageNet-1k class names in full WordNet form ("tabby, tabby cat"), as
    the article's class list and Caffe's synset_words have them, so a user can name a
    class by any of its synonyms. The file is OpenCV's sample data
    (classification_classes_ILSVRC2012.txt, Debian's opencv-doc); its order is
    torchvision's (checked by tests/test_converter.py)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imagenet_classes.txt")
    with open(path, encoding="utf-8") as f:
        labels = f.read().splitlines()
    assert len(labels) == 1000, path
    return labels


# The graph's last op -> metadata 'output': the model already gives probabilities.
# A final Sigmoid gives one probability per class: shown as is too, with or without --multi-label.
ENDS_IN = {"softmax": ("probabilities", "Softmax"), "log_softmax": ("log_probabilities", "LogSoftmax"),
           "sigmoid": ("probabilities", "Sigmoid")}


def output_kind(args, g):
    """metadata 'output' (weights/FORMAT.md): 'probabilities' or 'log_probabilities'
    when the output node (past any identity, e.g. a dropout) is softmax or
    log_softmax ('probabilities' for a final sigmoid too: its outputs are each class's
    own probability, not logits); otherwise 'sigmoid' with --multi-label, else 'softmax'.
    --multi-label on a model that ends in a softmax is refused: its classes
    exclude each other by construction."""
    first = len(g.inputs)
    node = g.nodes[g.output - first]
    while node.op == "identity" and node.inputs[0] >= first:
        node = g.nodes[node.inputs[0] - first]
    if node.op not in ENDS_IN:
        return "sigmoid" if args.multi_label else "softmax"
    kind, module = ENDS_IN[node.op]
    if args.multi_label and node.op != "sigmoid":
        raise ConvertError("--multi-label, but the model ends in %s ('%s'): its outputs are probabilities "
                           "that sum to 1 over the classes, not one independent probability per class; drop "
                           "--multi-label, or end the model in its logits" % (module, node.name))
    return kind


def build_metadata(args, labels, arch, source, release, exact, g, layer, note, numbered=False):
    """labels: the class names given (read_labels), or None: ImageNet's for
    1000 classes, else "0", "1", ... when numbered, else an error."""
    classes = g.shapes[g.names()[g.output]][1]
    rec = models.recipe(release) if release is not None else None
    given = "--labels %s" % args.labels if args.labels else "labels"
    if labels is not None:
        if len(labels) != classes:
            raise ConvertError("%s has %d labels; the model has %d classes" % (given, len(labels), classes))
    elif classes == 1000:
        if not (rec and len(rec["categories"]) == classes):
            note("1000 classes and no --labels: storing the ImageNet class names")
        labels = imagenet_labels()
    elif numbered:
        labels = [str(i) for i in range(classes)]
    else:
        raise ConvertError("the model has %d classes: pass --labels FILE with one name per line" % classes)
    meta = [("arch", STRING, arch), ("source.file", STRING, source[0]),
            ("source.sha256", STRING, source[1]),
            ("torch.version", STRING, torch.__version__),
            ("torchvision.version", STRING, torchvision.__version__),
            ("classes", INT, classes), ("labels", STRING_LIST, labels),
            ("output", STRING, output_kind(args, g)),
            ("input.mean", FLOAT_LIST, [float(v) for v in args.mean]),
            ("input.std", FLOAT_LIST, [float(v) for v in args.std]),
            ("input.channels", INT, g.shapes[g.inputs[0]][1])]
    if g.fixed_size:
        meta += [("input.height", INT, g.fixed_size[0]), ("input.width", INT, g.fixed_size[1])]
    meta.append(("gradcam.layer", STRING, layer))
    meta.append(("node.module", STRING_LIST, [n.module for n in g.nodes]))
    if g.layouts is not None:
        meta.append(("node.layout", STRING_LIST, list(g.layouts)))
    resize = args.resize if args.resize is not None else rec and rec["resize"]
    crop = args.crop if args.crop is not None else rec and rec["crop"]
    if resize:
        meta.append(("eval.resize", INT, resize))
    if crop:
        meta.append(("eval.crop", INT, crop))
    if rec:
        meta.append(("eval.interpolation", STRING, rec["interpolation"]))
        meta.append(("eval.recipe", STRING, "torchvision " + rec["name"]))
    if exact:
        meta.append(("source.release", STRING, "torchvision " + rec["name"]))
    if args.random_init:
        meta.append(("source.seed", INT, 0 if args.seed is None else args.seed))
    meta.append(("converter", STRING, "cnncam-convert (format %d)" % writer.VERSION))
    return meta, classes


def self_check(path, meta, g, arrays, model, dtype):
    """Reads path back and compares everything; returns the max logit difference."""
    try:
        m = ccm.read(path)
    except ccm.FormatError as e:
        raise SelfCheckError("ccm.py rejects the file: %s" % e) from None
    got = [(k, m.metadata_types[k], m.metadata[k]) for k in m.metadata]
    want = [(k, t, list(v) if isinstance(v, (list, tuple)) else v) for k, t, v in meta]
    if got != want:
        i = next(i for i in range(max(len(got), len(want))) if got[i:i + 1] != want[i:i + 1])
        raise SelfCheckError("metadata does not round-trip: first difference at entry %d (%s)"
                             % (i, (want[i:i + 1] or got[i:i + 1])[0][0]))
    if m.inputs != g.inputs or m.output != g.output or list(m.aliases.items()) != g.aliases:
        raise SelfCheckError("graph inputs, output or aliases do not round-trip")
    if len(m.nodes) != len(g.nodes):
        raise SelfCheckError("%d nodes read back, %d written" % (len(m.nodes), len(g.nodes)))
    for a, b in zip(m.nodes, g.nodes):
        if (a.name, a.op, a.inputs, list(a.params.items()), list(a.attrs.items())) != \
                (b.name, b.op, b.inputs, b.params, [(k, [float(x) for x in v]) for k, v in b.attrs]):
            raise SelfCheckError("node '%s' does not round-trip" % b.name)
    if list(m.tensors) != list(arrays):
        raise SelfCheckError("the tensor table does not list the tensors the graph binds")
    state = model.state_dict()
    np_dtype = writer.DTYPES[dtype][1]
    for name, info in m.tensors.items():      # a folded constant is no state_dict entry
        src = (state[name].detach().float().numpy() if name in state else g.tensors[name]).astype(np_dtype)
        back = m.tensor(name)
        if info.dims != src.shape or back.dtype != np_dtype or \
                not np.array_equal(back.view(np.uint8), src.view(np.uint8)):
            raise SelfCheckError("tensor '%s' differs from the model's state_dict entry" % name)
    if dtype == "f16":          # compare against the model with the stored weights
        with torch.no_grad():
            for name in filter(state.__contains__, m.tensors):
                state[name].copy_(torch.from_numpy(np.array(m.tensor(name), dtype=np.float32)))
    gen = torch.Generator().manual_seed(0)
    c, h, w = g.shapes[g.inputs[0]][1:]
    md = dict((k, v) for k, _, v in meta)
    mean = torch.tensor(md["input.mean"], dtype=torch.float32).view(1, c, 1, 1)
    std = torch.tensor(md["input.std"], dtype=torch.float32).view(1, c, 1, 1)
    x = (torch.rand(2, c, h, w, generator=gen) - mean) / std
    with torch.no_grad():
        ref = outputs.pick(model(x), g.output_path)
    try:
        out = ccm.run(m, x)
    except Exception as e:          # a shape mismatch inside torch.nn.functional
        raise SelfCheckError("running the graph with ccm.py failed: %s: %s" % (type(e).__name__, e)) from None
    diff = float((out - ref).abs().max())
    tol = TOLERANCE * max(1.0, float(ref.abs().max()))
    if not diff <= tol:
        raise SelfCheckError("the graph's logits differ from the model's by %.3g (tolerance %.3g): the "
                             "graph does not compute what forward does (an in-place op on a tensor "
                             "used again?)" % (diff, tol))
    return diff


def write_file(out, meta, g, arrays, model, dtype):
    """Temporary file in out's directory, self-check, rename. Returns (size, diff)."""
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out) + ".", suffix=".tmp",
                               dir=os.path.dirname(out))
    try:
        with os.fdopen(fd, "wb") as f:
            size = writer.write(f, meta, g, arrays, dtype)
            f.flush()
            os.fsync(f.fileno())
        diff = self_check(tmp, meta, g, arrays, model, dtype)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return size, diff


Result = collections.namedtuple("Result", "path arch model graph metadata size seconds diff")


def _output_path(output, option="-o"):
    out = os.path.abspath(output)
    if os.path.isdir(out):
        raise ConvertError("%s %s is a directory; name the file to write" % (option, output))
    if not os.path.isdir(os.path.dirname(out)):
        raise ConvertError("%s %s: directory %s does not exist" % (option, output, os.path.dirname(out)))
    return out


def _print_note(msg):
    print("cnncam-convert: note: %s" % msg, file=sys.stderr)


def convert(args):
    """Converts as args (from parse_args) say; returns a Result whose model is
    the converted module (in f16 mode with its weights rounded as stored).
    Raises ConvertError or SelfCheckError; writes nothing then."""
    t0 = time.time()
    out = _output_path(args.output)
    labels = read_labels(args.labels) if args.labels else None     # fail before the slow part
    model, arch, source, release, exact = load_model(args, _print_note)
    return _convert(args, out, model, arch, source, release, exact, labels, _print_note, t0)


def convert_module(model, output, *, input_size=None, mean=None, std=None, labels=None, layer=None, arch=None,
                   sha256=None, note=None):
    """Converts an nn.Module already in memory (put in eval mode) to a .ccm at
    output, as `cnncam-convert --module` would convert it with its own
    parameters, and returns the Result. input_size: (C, H, W) to trace at
    (default: the first layer's channels at 224 x 224); mean/std: one value
    per channel (default ImageNet's for 3 channels); labels: the class names
    (default ImageNet's for 1000 classes, else "0", "1", ...); layer: the
    recommended Grad-CAM layer to store (default: the seed article's for a
    known arch, else automatic); arch: a name for the metadata (default the
    class name; a torchvision name also chooses its article layer).
    source.file is "in-memory <ClassName>" and source.sha256 the hash of the
    state_dict (models.state_dict_sha256; sha256: that hash if the caller has
    it). note(msg) receives the converter's notes (default: none shown).
    Raises ConvertError or SelfCheckError; writes nothing then."""
    import torch.nn as nn
    t0 = time.time()
    if not isinstance(model, nn.Module):
        raise ConvertError("convert_module takes a torch.nn.Module, not a %s" % type(model).__name__)
    out = _output_path(os.fspath(output), "output")
    if input_size is not None:
        try:
            input_size = inputs.parse_size(",".join(str(int(v)) for v in input_size))
        except (TypeError, ValueError) as e:
            raise ConvertError("input_size=%r: %s" % (input_size, str(e).replace("--input-size", "input_size")
                                                      if isinstance(e, ValueError) else "not (C, H, W)")) from None
    if labels is not None:
        labels = [str(v) for v in labels]
        if not labels or "" in labels:
            raise ConvertError("labels: %s" % ("no labels" if not labels else "label %d is empty" % labels.index("")))
    args = argparse.Namespace(arch=arch, module=None, weights=None, pretrained=False, random_init=False, seed=None,
                              output=os.fspath(output), labels=None, dtype="f32", multi_label=False, layer=layer,
                              input_size=input_size, mean=None if mean is None else list(mean),
                              std=None if std is None else list(std), output_key=None, num_classes=None,
                              resize=None, crop=None)
    model.eval()
    name = type(model).__name__
    source = ("in-memory " + name, sha256 or models.state_dict_sha256(model.state_dict()))
    return _convert(args, out, model, arch or name, source, None, False, labels, note or (lambda msg: None), t0,
                    numbered=True, layer_option="layer=")


def _convert(args, out, model, arch, source, release, exact, labels, note, t0, numbered=False,
             layer_option="--layer"):
    """Trace, metadata, write, self-check: the conversion once the model is in hand."""
    concrete = concrete_convert.is_transformer(model)
    traced = None if concrete else trace.trace_model(model)
    shape = concrete_convert.input_shape(args.input_size, model) if concrete else \
        inputs.shape_for(args.input_size, traced[2])
    if exact and arch in models.TRANSFORM_INPUT_ARCHS and args.mean is None and args.std is None:
        args.mean, args.std = models.TRANSFORM_INPUT_MEAN, models.TRANSFORM_INPUT_STD
        note("%s's released weights expect transform_input=True, which is normalising with mean = std = "
             "0.5: storing that (--mean/--std override it)" % arch)
    args.mean, args.std = inputs.normalization(args.mean, args.std, shape[0])
    if args.random_init:
        models.calibrate_batchnorm(model, models.calibration_batches(
            0 if args.seed is None else args.seed, args.mean, args.std, shape))
    example = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
    if concrete:            # specialised to the probe's size: g.fixed_size is set
        g = concrete_convert.convert(model, example, args.output_key, note)
    else:
        g = trace.convert(model, example, args.output_key, note, traced)
        g.fixed_size = inputs.fixed_size(traced[2], shape, g.output_path, g.shapes[g.names()[g.output]])
    if g.dropped:
        note("%d traced value(s) do not reach the output and are left out: %s"
             % (len(g.dropped), ", ".join(g.dropped[:8]) + (", ..." if len(g.dropped) > 8 else "")))
    unused = sorted({k.split(".")[0] for k in model.state_dict()
                     if k not in g.tensors and k not in g.folded and not k.endswith("num_batches_tracked")})
    if unused:              # googlenet's auxiliary heads: trained with, never run in eval mode
        note("state_dict entries under %s are not used by the eval-mode forward and are not stored"
             % ", ".join(unused))
    layer = choose_layer(args, arch, g, layer_option)
    meta, _ = build_metadata(args, labels, arch, source, release, exact, g, layer, note, numbered)
    try:
        arrays = writer.stored_arrays(g.tensors, args.dtype)
        size, diff = write_file(out, meta, g, arrays, model, args.dtype)
    except writer.WriteError as e:
        raise ConvertError(str(e)) from None
    except OSError as e:
        raise ConvertError("cannot write %s: %s" % (args.output, e)) from None
    return Result(out, arch, model, g, meta, size, time.time() - t0, diff)


def run(argv):
    """main without the exit: (exit status, Result or None). argparse still
    raises SystemExit(2) on a usage error and SystemExit(0) after --help."""
    args = parse_args(argv)
    try:
        r = convert(args)
    except ConvertError as e:
        print("cnncam-convert: %s" % e, file=sys.stderr)
        return EXIT_INPUT, None
    except SelfCheckError as e:
        print("cnncam-convert: internal error: self-check failed, nothing written: %s" % e, file=sys.stderr)
        return EXIT_INTERNAL, None
    meta = dict((k, v) for k, _, v in r.metadata)
    nvalues = sum(t.size for t in r.graph.tensors.values())
    c, h, w = r.graph.shapes[r.graph.inputs[0]][1:]
    size = "fixed size %dx%d" % (h, w) if r.graph.fixed_size else "any size"
    print("wrote %s: %s, %d nodes, %d aliases, %d tensors (%.2f M values, %s), %d classes (%s), input %d "
          "channel%s at %s, %.1f MB in %.1f s; gradcam.layer %s; self-check: logits match (max diff %.2g)"
          % (args.output, r.arch, len(r.graph.nodes), len(r.graph.aliases), len(r.graph.tensors),
             nvalues / 1e6, args.dtype, meta["classes"], meta["output"], c, "" if c == 1 else "s", size,
             r.size / 1e6, r.seconds, meta["gradcam.layer"], r.diff))
    return EXIT_OK, r


def main(argv=None):
    return run(sys.argv[1:] if argv is None else argv)[0]
