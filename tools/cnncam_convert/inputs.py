"""tools/cnncam_convert/inputs.py — the image a model takes.

  parse_size("1,28,28" or "1x28x28")  --input-size as (C, H, W)
  first_channels(gm)                  C as the first layer that reads the input says it
  shape_for(size, gm)                 --input-size, or (that C, 224, 224)
  fixed_size(gm, shape, path, out)    (H, W) when the graph works at that size only
  normalization(mean, std, C)         --mean/--std checked against C

The channel count comes from the modules that consume the traced input
(Conv2d.in_channels, BatchNorm2d.num_features, GroupNorm.num_channels),
followed through the calls that keep channels as they are (activations,
pooling, padding, dropout, arithmetic such as (x - m) / s). A graph works at
one size when it fails, or gives another output shape, at a second size
(H + 32, W + 32): a flatten feeding a Linear, LeNet's or VGG's without the
adaptive pool.
"""
import re

import torch
import torch.nn as nn
import torchvision.ops.misc

from . import ConvertError, models, outputs
from .mappers import _function_name

DEFAULT_SIZE = 224

# Calls that keep the channel count of their first argument (mappers._function_name spellings).
_KEEPS_CHANNELS = {"relu", "relu6", "leaky_relu", "elu", "hardswish", "hardsigmoid", "sigmoid", "silu",
                   "hardtanh", "tanh", "gelu", "dropout", "dropout2d", "add", "sub", "mul", "truediv", "div",
                   "neg", "abs", "clamp", "pad", "interpolate", "max_pool2d", "avg_pool2d",
                   "adaptive_avg_pool2d", "contiguous", "float", "to"}
_KEEPS_MODULES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.SiLU,
                  nn.Hardtanh, nn.Tanh, nn.GELU, nn.Identity, nn.modules.dropout._DropoutNd, nn.MaxPool2d,
                  nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d,
                  nn.ReplicationPad2d, nn.Upsample)


def parse_size(text):
    """'C,H,W' or 'CxHxW' -> (C, H, W); raises ValueError with the reason."""
    parts = re.split(r"[,x]", text.strip())
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ValueError("--input-size takes C,H,W or CxHxW (e.g. 1,28,28), not '%s'" % text)
    c, h, w = (int(p) for p in parts)
    if not 1 <= c <= 64 or not 1 <= h <= 16384 or not 1 <= w <= 16384:
        raise ValueError("--input-size %s: channels must be 1 to 64 and each side 1 to 16384" % text)
    return c, h, w


def _channels_of(m):
    if isinstance(m, nn.Conv2d):
        return m.in_channels
    if isinstance(m, (nn.BatchNorm2d, torchvision.ops.misc.FrozenBatchNorm2d)):
        return m.weight.shape[0] if m.weight is not None else m.running_mean.shape[0]
    if isinstance(m, nn.GroupNorm):
        return m.num_channels
    return None


def first_channels(gm):
    """The input channel count the first consuming layers agree on, or None."""
    start = [n for n in gm.graph.nodes if n.op == "placeholder"][:1]
    found, seen, todo = {}, set(), list(start)
    while todo:
        n = todo.pop(0)
        for u in n.users:
            if u in seen:
                continue
            seen.add(u)
            if u.op == "call_module":
                m = gm.get_submodule(u.target)
                c = _channels_of(m)
                if c is not None:
                    found.setdefault(c, u.target)
                elif isinstance(m, _KEEPS_MODULES):
                    todo.append(u)
            elif u.op in ("call_function", "call_method") and u.args and u.args[0] is n and \
                    _function_name(u) in _KEEPS_CHANNELS:
                todo.append(u)
    if len(found) > 1:
        raise ConvertError("the layers that read the input disagree on its channels (%s); pass --input-size "
                           "C,H,W" % ", ".join("%s takes %d" % (p, c) for c, p in found.items()))
    return next(iter(found), None)


def shape_for(size, gm):
    """(C, H, W) to trace at: --input-size as given, else the consumers' C at 224 x 224."""
    if size:
        return size
    c = first_channels(gm)
    if c is None:
        raise ConvertError("cannot tell how many channels the model takes: no Conv2d or BatchNorm2d reads "
                           "its input directly; pass --input-size C,H,W (e.g. 1,28,28 for a grayscale 28x28 "
                           "model)")
    return c, DEFAULT_SIZE, DEFAULT_SIZE


def fixed_size(gm, shape, path, out_shape):
    """(H, W) when the graph works at shape's size only, else None: it fails,
    or its logits change shape, at (H + 32, W + 32)."""
    c, h, w = shape
    try:
        with torch.no_grad():
            y = outputs.pick(gm(torch.zeros(1, c, h + 32, w + 32)), path)
        same = tuple(y.shape) == tuple(out_shape)
    except Exception:      # a shape error inside the model's own code
        same = False
    return None if same else (h, w)


def normalization(mean, std, channels):
    """--mean/--std as lists of one value per channel. ImageNet's are the
    default for 3 channels only: there is no convention for other counts that
    would not silently mis-normalise, so they must be given."""
    if mean is None and std is None and channels == 3:
        return list(models.IMAGENET_MEAN), list(models.IMAGENET_STD)
    if mean is None or std is None:
        raise ConvertError("the model takes %d input channel%s: pass --mean and --std with %d value%s each, the "
                           "normalisation it was trained with (ImageNet's are the default for 3 channels only; "
                           "e.g. MNIST's --mean 0.1307 --std 0.3081, ToTensor + Normalize(0.5, 0.5)'s "
                           "--mean 0.5 --std 0.5, none: --mean 0 --std 1)"
                           % (channels, "" if channels == 1 else "s", channels, "" if channels == 1 else "s"))
    for opt, v in (("--mean", mean), ("--std", std)):
        if len(v) != channels:
            raise ConvertError("%s has %d value%s; the model takes %d input channel%s: give one per channel"
                               % (opt, len(v), "" if len(v) == 1 else "s", channels,
                                  "" if channels == 1 else "s"))
    return [float(v) for v in mean], [float(v) for v in std]
