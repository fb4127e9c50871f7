"""tools/cnncam_convert/mappers.py — one traced fx node to one cnncam op.

_map_module (a leaf module call) and _map_function (a function or method
call) give (op, params or inputs, attrs) as weights/FORMAT.md stores them, from
the node and the real shapes ShapeProp found, or raise _NotHere with what
qualifies the call and why it is refused. Sizes used as values (x.size(0),
x.shape[2:]) are evaluated here and never become nodes; views that flatten,
spatial means, channel slices, channel shuffles and resampling are recognised
here too. trace.py names the nodes and assembles the graph.
"""
import math
import operator

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
import torchvision.ops
import torchvision.ops.misc


# ---- what a node calls ---------------------------------------------------------

_RENAME = {"iadd": "add", "imul": "mul", "concat": "cat"}


def _function_name(node):
    """'add' for operator.add/iadd and Tensor.add_, 'max_pool2d' for F._max_pool2d."""
    base = node.target if node.op == "call_method" else getattr(node.target, "__name__", str(node.target))
    if node.op == "get_attr":
        base = node.target.rsplit(".", 1)[-1]
    base = base.strip("_") or base
    return _RENAME.get(base, base)


def _is_tuple_producer(n):
    """x.chunk / torch.split ...: a node whose value is a tuple of tensors, read by getitem."""
    return (n.op == "call_method" and n.target in ("chunk", "split")) or \
        (n.op == "call_function" and n.target in (torch.chunk, torch.split))


class _NotHere(Exception):
    """Raised by the mappers: this node is not supported. The text is what
    qualifies the call ('with alpha=2') and, in parentheses, why or what would
    be: 'with alpha=2 (only 1)'; or empty."""


# ---- the mappers: fx node -> (op, params, attrs) ------------------------------

def _pair(v):
    return [int(v), int(v)] if isinstance(v, int) else [int(v[0]), int(v[1])]


def _arg(node, i, name, default=None):
    if name in node.kwargs:
        return node.kwargs[name]
    return node.args[i] if len(node.args) > i else default


def _const(v, what):
    """A constant argument (not a traced value)."""
    if isinstance(v, fx.Node) or (isinstance(v, (list, tuple)) and any(isinstance(x, fx.Node) for x in v)):
        raise _NotHere("with a computed %s (only constants are supported)" % what)
    return v


def _conv(m, shape):
    if m.padding_mode != "zeros":
        raise _NotHere("with padding_mode='%s' (only 'zeros')" % m.padding_mode)
    k, s, d = _pair(m.kernel_size), _pair(m.stride), _pair(m.dilation)
    if isinstance(m.padding, str):                   # 'valid' or 'same', as ATen resolves them
        pad = [0, 0]
        if m.padding == "same":
            total = [d[i] * (k[i] - 1) for i in range(2)]
            pad = [total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2]
            if pad[:2] == pad[2:]:
                pad = pad[:2]
    else:
        pad = _pair(m.padding)
    if len(shape) != 4:
        raise _NotHere("on a rank-%d input (cnncam's conv2d takes N x C x H x W)" % len(shape))
    params = ["weight"] + (["bias"] if m.bias is not None else [])
    return "conv2d", params, [("kernel_size", k), ("stride", s), ("padding", pad), ("dilation", d),
                              ("groups", [m.groups])]


def _batchnorm(m, shape):
    """BatchNorm2d (and torchvision's FrozenBatchNorm2d) on N x C x H x W,
    BatchNorm1d on N x C or N x C x L: eval mode, running statistics."""
    torch_bn = isinstance(m, nn.modules.batchnorm._BatchNorm)
    if torch_bn and (not m.track_running_stats or m.running_mean is None):
        raise _NotHere("with track_running_stats=False (it normalises with batch statistics)")
    one_d = type(m) is nn.BatchNorm1d
    if len(shape) not in ((2, 3) if one_d else (4,)):
        raise _NotHere("on a rank-%d input" % len(shape))
    affine = not torch_bn or m.affine
    params = (["weight", "bias"] if affine else []) + ["running_mean", "running_var"]
    return "batchnorm1d" if one_d else "batchnorm2d", params, [("eps", [float(m.eps)])]


def _softmax(op, shape, dim, dtype=None):
    """Softmax / LogSoftmax along the classes of N x classes. dim None is
    PyTorch's implicit choice, 1 for a 2-D input (it warns)."""
    if dtype is not None:
        raise _NotHere("with dtype=%s (only the input's float32)" % (dtype,))
    if len(shape) != 2:
        raise _NotHere("on a %s input (cnncam normalises along dim 1 of N x classes)"
                       % "x".join(map(str, shape)))
    if dim not in (None, 1, -1):
        raise _NotHere("along dim=%s (only dim=1 of N x classes)" % (dim,))
    return op, [], [("axis", [1])]


def _pool(op, shape, kernel, stride, padding, ceil_mode, dilation=1, count_include_pad=None,
          divisor_override=None, return_indices=False):
    if len(shape) != 4:
        raise _NotHere("on a rank-%d input (N x C x H x W only)" % len(shape))
    k = _pair(kernel)
    s = k if stride is None or stride == [] or stride == () else _pair(stride)
    if _pair(dilation) != [1, 1]:
        raise _NotHere("with dilation=%s (only 1)" % (dilation,))
    if divisor_override is not None:
        raise _NotHere("with divisor_override=%s" % divisor_override)
    if return_indices:
        raise _NotHere("with return_indices=True")
    attrs = [("kernel_size", k), ("stride", s), ("padding", _pair(padding)),
             ("ceil_mode", [int(bool(ceil_mode))])]
    if op == "avgpool2d":
        attrs.append(("count_include_pad", [int(bool(count_include_pad))]))
    return op, [], attrs


def _adaptive(output_size, shape):
    if len(shape) != 4:
        raise _NotHere("on a rank-%d input (N x C x H x W only)" % len(shape))
    size = [output_size] * 2 if isinstance(output_size, int) else list(output_size)
    if any(v is None for v in size):
        raise _NotHere("with output_size=%s (None, keeping an input size, is not supported)" % (output_size,))
    return "adaptive_avgpool2d", [], [("output_size", [int(v) for v in size])]


def _flatten(shape, start_dim, end_dim):
    r = len(shape)
    start = start_dim + r if start_dim < 0 else start_dim
    end = end_dim + r if end_dim < 0 else end_dim
    if end != r - 1:
        raise _NotHere("with end_dim=%d (only the last dimension, -1)" % end_dim)
    if not 1 <= start <= r - 1:
        raise _NotHere("with start_dim=%d on a rank-%d input (the batch dimension must stay; use 1)"
                       % (start_dim, r))
    return "flatten", [], [("start_dim", [start])]


# ---- sizes as values, views, means, slices, resampling ------------------------

MAX_INPUTS = 64          # CC_MAX_INPUTS in layers/op.h: the most tensors one concat takes


class _Batch:
    """The batch size as a view argument (x.size(0), x.shape[0]): whatever N the engine runs."""

    def __repr__(self):
        return "N"


BATCH = _Batch()
_ARITH = (operator.mul, operator.floordiv, operator.add, operator.sub)


def _is_shape_node(n):
    """A node whose value is a size, not a tensor: x.size(), x.shape, x.dim(),
    their items, and integer arithmetic on them. Never a node of the model:
    the view that reads it is resolved with ShapeProp's real sizes."""
    if n.op == "call_method":
        return n.target in ("size", "dim")
    if n.op != "call_function":
        return False
    if n.target is getattr:
        return len(n.args) == 2 and n.args[1] in ("shape", "ndim")
    if n.target is operator.getitem:
        return isinstance(n.args[0], fx.Node) and _is_shape_node(n.args[0])
    if n.target in _ARITH:
        nodes = [a for a in n.args if isinstance(a, fx.Node)]
        return bool(nodes) and all(_is_shape_node(a) for a in nodes)
    return False


def _shape_eval(n, shape_of):
    """The value of a shape node: an int, BATCH, or a tuple of them (x.size())."""
    if n.op == "call_method" and n.target == "dim" or n.target is getattr and n.args[1] == "ndim":
        return len(shape_of(n.args[0]))
    if n.op == "call_method" or n.target is getattr:           # x.size(), x.size(d), x.shape
        dims = (BATCH,) + tuple(shape_of(n.args[0])[1:])
        d = _arg(n, 1, "dim") if n.op == "call_method" else None
        return dims if d is None else dims[_const(d, "dim")]
    vals = [_shape_eval(a, shape_of) if isinstance(a, fx.Node) else a for a in n.args]
    if n.target is operator.getitem:
        if not isinstance(vals[1], int):
            raise _NotHere("with a size indexed by %r" % (vals[1],))
        return vals[0][vals[1]]
    if any(v is BATCH or not isinstance(v, int) for v in vals):
        raise _NotHere("with arithmetic on the batch size (only x.size(0) itself can stand for it)")
    return n.target(*vals)


def _view(node, shape_of):
    """x.view(x.size(0), -1), x.reshape(N, -1), x.view(-1, F), torch.reshape(x, (N, C)):
    flatten, when ShapeProp's shapes show N x ... x prod(rest) and the batch is
    x.size(0)/x.shape[0] or -1. Anything else (views that split dims) is refused."""
    x = node.args[0]
    spec = list(node.args[1:]) or list(node.kwargs.get("shape", node.kwargs.get("size", ())))
    if len(spec) == 1 and isinstance(spec[0], (list, tuple)):
        spec = list(spec[0])
    vals = []
    for v in spec:
        if isinstance(v, fx.Node) and _is_shape_node(v):
            v = _shape_eval(v, shape_of)
        if not (v is BATCH or isinstance(v, int) and not isinstance(v, bool)):
            raise _NotHere("with a computed size %s (only constants and x.size(...)/x.shape[...])" % (v,))
        vals.append(v)
    sx, sy = shape_of(x), shape_of(node)
    k = len(sy) - 1
    shown = "to [%s]" % ", ".join(map(str, vals))
    if not (k >= 1 and sy[:k] == sx[:k] and sy[k] == math.prod(sx[k:])):
        raise _NotHere("%s, %s -> %s (only views that flatten the trailing dims, N x C x H x W "
                       "to N x CHW)" % (shown, "x".join(map(str, sx)), "x".join(map(str, sy))))
    if vals[0] is not BATCH and vals[0] != -1:
        raise _NotHere("%s with the constant batch size %d (write x.size(0) or -1 so that any batch "
                       "works)" % (shown, vals[0]))
    if any(v is BATCH for v in vals[1:]):
        raise _NotHere("%s (the batch size only as the first dimension)" % shown)
    return "flatten", [x], [("start_dim", [k])]


def _mean(node, shape_of):
    """x.mean((2, 3)) -> spatial_mean (N x C); with keepdim=True the global
    average pool itself (adaptive_avgpool2d to 1x1, N x C x 1 x 1)."""
    x = node.args[0]
    dims = _const(_arg(node, 1, "dim"), "dim")
    keep = _const(_arg(node, 2, "keepdim", False), "keepdim")
    if node.kwargs.get("dtype") is not None:
        raise _NotHere("with dtype=%s" % node.kwargs["dtype"])
    s = shape_of(x)
    norm = None if dims is None else sorted(d % len(s) for d in ([dims] if isinstance(dims, int) else dims))
    if len(s) != 4 or norm != [2, 3]:
        raise _NotHere("over dims %s of a %s tensor (only the spatial dims (2, 3) of N x C x H x W)"
                       % ("all" if dims is None else tuple(dims) if not isinstance(dims, int) else dims,
                          "x".join(map(str, s))))
    if keep:
        return "adaptive_avgpool2d", [x], [("output_size", [1, 1])]
    return "spatial_mean", [x], []


def _int_of(v, what, shape_of):
    """A constant, or a size computed from shapes (x.shape[1] // 2), as an int."""
    if isinstance(v, fx.Node) and _is_shape_node(v):
        v = _shape_eval(v, shape_of)
        if not isinstance(v, int):
            raise _NotHere("with the batch size as its %s" % what)
        return v
    return _const(v, what)


def _channel_slice(x, start, end, shape_of):
    s = shape_of(x)
    if len(s) < 2 or not 0 <= start < end <= s[1]:
        raise _NotHere("of channels %d..%d of %s" % (start, end, "x".join(map(str, s))))
    return "slice", [x], [("start", [start]), ("end", [end])]


def _getitem(node, shape_of):
    """x[:, a:b] (channels, step 1), or one piece of x.chunk(k, dim=1) /
    torch.split(x, s, dim=1), whose channel range ShapeProp's shapes give."""
    src, idx = node.args[0], node.args[1]
    if _is_tuple_producer(src):
        dim = _const(_arg(src, 2, "dim", 0), "dim")
        metas = src.meta.get("tensor_meta")
        rank = len(shape_of(src.args[0]))
        if dim % rank != 1 or not isinstance(metas, (tuple, list)) or not isinstance(idx, int):
            raise _NotHere("of %s along dim %d (only channel pieces, dim=1)" % (_function_name(src), dim))
        sizes = [m.shape[1] for m in metas]
        i = idx % len(sizes)
        return _channel_slice(src.args[0], sum(sizes[:i]), sum(sizes[:i + 1]), shape_of)
    idx = idx if isinstance(idx, tuple) else (idx,)
    whole = slice(None)
    if len(idx) >= 2 and idx[0] == whole and isinstance(idx[1], slice) and \
            all(i is Ellipsis or i == whole for i in idx[2:]):
        bounds = [None if v is None else _int_of(v, "slice bound", shape_of)
                  for v in (idx[1].start, idx[1].stop, idx[1].step)]
        start, end, step = slice(*bounds).indices(shape_of(src)[1])
        if step == 1:
            return _channel_slice(src, start, end, shape_of)
    raise _NotHere("[%s] (only x[:, a:b], a channel range with step 1)"
                   % ", ".join("..." if i is Ellipsis else ":" if i == whole else str(i) for i in idx))


def _shuffle_patterns(fxg, shape_of):
    """The generic channel shuffle, written out: view(N, G, C/G, H, W) ->
    transpose(1, 2) -> [contiguous ->] view(N, C, H, W). Returns {last view:
    (x, G)} and the nodes inside (the rank-5 view and its transpose, which
    the one channel_shuffle node stands for) that the pattern replaces."""
    views = ("view", "reshape")

    def is_view(n):
        return n.op == "call_method" and n.target in views or n.op == "call_function" and n.target is torch.reshape

    def shape(n):
        try:
            return shape_of(n)
        except _NotHere:
            return None

    found, inside = {}, set()
    for v4 in fxg.nodes:
        if not is_view(v4) or not isinstance(v4.args[0], fx.Node):
            continue
        chain, y = [], v4.args[0]
        if y.op == "call_method" and y.target == "contiguous":
            chain.append(y)
            y = y.args[0]
        t = y
        dims = t.args[1:] if t.target in ("transpose", torch.transpose) else ()
        swap = len(dims) == 2 and all(isinstance(a, int) for a in dims) and sorted(a % 5 for a in dims) == [1, 2]
        if not swap or not isinstance(t.args[0], fx.Node) or not is_view(t.args[0]):
            continue
        v5 = t.args[0]
        x = v5.args[0]
        sx, s5, s4 = shape(x), shape(v5), shape(v4)
        if sx is None or len(sx) != 4 or s5 is None or len(s5) != 5 or s4 != sx:
            continue
        n_, c, h, w = sx
        g = s5[1]
        if s5 != (n_, g, c // g, h, w) or c % g:
            continue
        chain += [t, v5]
        if any(len(u.users) != 1 for u in chain):
            continue            # an intermediate value read elsewhere: leave it to be reported
        found[v4] = (x, g)
        inside.update(chain)
    return found, inside


def _interpolate(shape, size, scale_factor, mode, align_corners, recompute, antialias=False):
    """F.interpolate / nn.Upsample: upsample_nearest or upsample_bilinear, by a
    fixed output size or by a scale factor (the output size then follows the input's)."""
    if len(shape) != 4:
        raise _NotHere("on a rank-%d input (N x C x H x W only)" % len(shape))
    if mode not in ("nearest", "bilinear"):
        raise _NotHere("with mode='%s' (only 'nearest' and 'bilinear')" % mode)
    if antialias:
        raise _NotHere("with antialias=True")
    if size is not None:
        sz = [size] * 2 if isinstance(size, int) else list(size)
        if len(sz) != 2 or any(not isinstance(v, int) for v in sz):
            raise _NotHere("with size=%s (two integers)" % (size,))
        attrs = [("output_size", sz)]
    elif scale_factor is not None:
        sf = [scale_factor] * 2 if isinstance(scale_factor, (int, float)) else list(scale_factor)
        attrs = [("scale_factor", [float(v) for v in sf])]
        if recompute:
            attrs.append(("recompute_scale_factor", [1]))
    else:
        raise _NotHere("without size or scale_factor")
    if mode == "bilinear":
        attrs.append(("align_corners", [int(bool(align_corners))]))
    return "upsample_" + mode, [], attrs


_ACT_MODULES = [(nn.ReLU, "relu"), (nn.ReLU6, "relu6"), (nn.Hardswish, "hardswish"),
                (nn.Hardsigmoid, "hardsigmoid"), (nn.Sigmoid, "sigmoid"), (nn.SiLU, "silu")]


def _map_module(m, shapes):
    shape = shapes[0]
    for cls, op in _ACT_MODULES:
        if type(m) is cls:
            return op, [], []
    if isinstance(m, nn.Hardtanh):
        if (m.min_val, m.max_val) == (0.0, 6.0):
            return "relu6", [], []
        raise _NotHere("with min_val=%g, max_val=%g (only 0 and 6, as ReLU6)" % (m.min_val, m.max_val))
    if type(m) is nn.LeakyReLU:
        return "leaky_relu", [], [("negative_slope", [float(m.negative_slope)])]
    if type(m) is nn.ELU:
        return "elu", [], [("alpha", [float(m.alpha)])]
    if type(m) in (nn.Softmax, nn.LogSoftmax):
        return _softmax("softmax" if type(m) is nn.Softmax else "log_softmax", shape, m.dim)
    if type(m) is nn.Conv2d:
        return _conv(m, shape)
    if type(m) in (nn.BatchNorm2d, nn.BatchNorm1d, torchvision.ops.misc.FrozenBatchNorm2d):
        return _batchnorm(m, shape)
    if type(m) is nn.Linear:
        if len(shape) != 2:
            raise _NotHere("on a %s input (cnncam's linear takes N x features: flatten first)"
                           % "x".join(map(str, shape)))
        return "linear", ["weight"] + (["bias"] if m.bias is not None else []), []
    if type(m) is nn.MaxPool2d:
        return _pool("maxpool2d", shape, m.kernel_size, m.stride, m.padding, m.ceil_mode,
                     dilation=m.dilation, return_indices=m.return_indices)
    if type(m) is nn.AvgPool2d:
        return _pool("avgpool2d", shape, m.kernel_size, m.stride, m.padding, m.ceil_mode,
                     count_include_pad=m.count_include_pad, divisor_override=m.divisor_override)
    if type(m) is nn.AdaptiveAvgPool2d:
        return _adaptive(m.output_size, shape)
    if type(m) is nn.Flatten:
        return _flatten(shape, m.start_dim, m.end_dim)
    if isinstance(m, nn.Upsample):          # and its UpsamplingNearest2d/UpsamplingBilinear2d
        return _interpolate(shape, m.size, m.scale_factor, m.mode, m.align_corners, m.recompute_scale_factor)
    if isinstance(m, (nn.modules.dropout._DropoutNd, nn.Identity, torchvision.ops.StochasticDepth)):
        return "identity", [], []         # eval mode: dropout and stochastic depth pass through
    raise _NotHere("")


# Function targets by what they compute. F.max_pool2d is a boolean_dispatch
# wrapper; fx may record it or the function it dispatches to.
_ACT_FUNCS = {F.relu: "relu", F.relu_: "relu", torch.relu: "relu", torch.relu_: "relu",
              F.relu6: "relu6", F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid",
              torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", F.silu: "silu"}
_ACT_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid"}
_HARDTANH = (F.hardtanh, F.hardtanh_)
_LEAKY_RELU = (F.leaky_relu, F.leaky_relu_)
_ELU = (F.elu, F.elu_)
_SOFTMAX = {F.softmax: "softmax", torch.softmax: "softmax", F.log_softmax: "log_softmax",
            torch.log_softmax: "log_softmax"}
_ADD = (operator.add, operator.iadd, torch.add)
_MUL = (operator.mul, operator.imul, torch.mul)
_MAXPOOL = (F.max_pool2d, F._max_pool2d)
_DROPOUT = (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.feature_alpha_dropout)


def _binary(node, what, shape_of):
    a, b = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
    if not isinstance(a, fx.Node) or not isinstance(b, fx.Node):
        raise _NotHere("with a constant operand (only two computed tensors)")
    alpha = _arg(node, 2, "alpha", 1)
    if alpha != 1:
        raise _NotHere("with alpha=%r" % (alpha,))
    sa, sb = shape_of(a), shape_of(b)
    if what == "add":
        if sa != sb:
            raise _NotHere("of %s and %s (cnncam adds tensors of the same shape, no broadcasting)"
                           % ("x".join(map(str, sa)), "x".join(map(str, sb))))
        return "add", [a, b]
    scale = lambda s: len(s) == 4 and s[2:] == (1, 1)
    ok = len(sa) == 4 and len(sb) == 4 and sa[:2] == sb[:2] and (scale(sa) or scale(sb))
    if not ok:
        raise _NotHere("of %s and %s (only a channel scale: N x C x 1 x 1 times N x C x H x W)"
                       % ("x".join(map(str, sa)), "x".join(map(str, sb))))
    return "mul", [a, b]


def _map_function(node, shape_of):
    """(op, input fx nodes, attrs) for a call_function or call_method node."""
    t, meth = node.target, node.op == "call_method"
    x = node.args[0] if node.args else None
    if (not meth and t in _ADD) or (meth and t in ("add", "add_")):
        op, ins = _binary(node, "add", shape_of)
        return op, ins, []
    if (not meth and t in _MUL) or (meth and t in ("mul", "mul_")):
        op, ins = _binary(node, "mul", shape_of)
        return op, ins, []
    if not isinstance(x, (fx.Node, list, tuple)):
        raise _NotHere("")
    if (not meth and t is torch.reshape) or (meth and t in ("view", "reshape")):
        return _view(node, shape_of)
    if (not meth and t is torch.mean) or (meth and t == "mean"):
        return _mean(node, shape_of)
    if not meth and t is operator.getitem:
        return _getitem(node, shape_of)
    if meth and t == "contiguous":
        return "identity", [x], []
    if (not meth and t is torch.narrow) or (meth and t == "narrow"):
        dim, start, length = (_int_of(_arg(node, i, k), k, shape_of)
                              for i, k in ((1, "dim"), (2, "start"), (3, "length")))
        if dim % len(shape_of(x)) != 1:
            raise _NotHere("along dim %d (only channels, dim=1)" % dim)
        return _channel_slice(x, start, start + length, shape_of)
    if not meth and t is torchvision.models.shufflenetv2.channel_shuffle:
        g, s = _const(_arg(node, 1, "groups"), "groups"), shape_of(x)
        if len(s) != 4 or s[1] % g:
            raise _NotHere("of %s in %d groups" % ("x".join(map(str, s)), g))
        return "channel_shuffle", [x], [("groups", [g])]
    if not meth and t is F.interpolate:
        a = [_const(_arg(node, i, k, None), k) for i, k in enumerate(
            ["size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"], 1)]
        op, _, attrs = _interpolate(shape_of(x), a[0], a[1], a[2] or "nearest", a[3], a[4], a[5])
        return op, [x], attrs
    if (not meth and t in _ACT_FUNCS) or (meth and t in _ACT_METHODS):
        return (_ACT_METHODS[t] if meth else _ACT_FUNCS[t]), [x], []
    if not meth and t in _HARDTANH:
        lo, hi = _const(_arg(node, 1, "min_val", -1.0), "min_val"), _const(_arg(node, 2, "max_val", 1.0), "max_val")
        if (lo, hi) != (0, 6):
            raise _NotHere("with min_val=%g, max_val=%g (only 0 and 6, as relu6)" % (lo, hi))
        return "relu6", [x], []
    if not meth and t in _LEAKY_RELU:
        slope = _const(_arg(node, 1, "negative_slope", 0.01), "negative_slope")
        return "leaky_relu", [x], [("negative_slope", [float(slope)])]
    if not meth and t in _ELU:
        alpha = _const(_arg(node, 1, "alpha", 1.0), "alpha")
        return "elu", [x], [("alpha", [float(alpha)])]
    if (not meth and t in _SOFTMAX) or (meth and t in ("softmax", "log_softmax")):
        # F.softmax(x, dim, _stacklevel, dtype); torch.softmax(x, dim, dtype); x.softmax(dim, dtype)
        dtype_at = 3 if t in (F.softmax, F.log_softmax) else 2
        op, _, attrs = _softmax(t if meth else _SOFTMAX[t], shape_of(x), _const(_arg(node, 1, "dim"), "dim"),
                                _const(_arg(node, dtype_at, "dtype"), "dtype"))
        return op, [x], attrs
    if (not meth and t is torch.flatten) or (meth and t == "flatten"):
        start = _const(_arg(node, 1, "start_dim", 0), "start_dim")
        end = _const(_arg(node, 2, "end_dim", -1), "end_dim")
        op, _, attrs = _flatten(shape_of(x), start, end)
        return op, [x], attrs
    if not meth and t in (torch.cat, torch.concat):
        if isinstance(x, fx.Node):
            raise _NotHere("of a computed sequence (only a list of tensors)")
        xs, dim = list(x), _const(_arg(node, 1, "dim", 0), "dim")
        if not all(isinstance(v, fx.Node) for v in xs):
            raise _NotHere("of a constant tensor")
        shapes = [shape_of(v) for v in xs]
        if any(len(s) != 4 for s in shapes) or dim not in (1, -3):
            raise _NotHere("along dim=%d of %s (only dim=1 of N x C x H x W tensors)"
                           % (dim, ", ".join("x".join(map(str, s)) for s in shapes)))
        if len(xs) == 1:
            return "identity", xs, []
        if len(xs) > MAX_INPUTS:
            raise _NotHere("of %d tensors (the engine concatenates at most %d: concatenate in two steps)"
                           % (len(xs), MAX_INPUTS))
        return "concat", xs, [("axis", [1])]
    if not meth and t is F.adaptive_avg_pool2d:
        op, _, attrs = _adaptive(_const(_arg(node, 1, "output_size"), "output_size"), shape_of(x))
        return op, [x], attrs
    if not meth and t in _MAXPOOL:
        a = [_const(_arg(node, i, k, d), k) for i, (k, d) in enumerate(
            [("kernel_size", None), ("stride", None), ("padding", 0), ("dilation", 1),
             ("ceil_mode", False), ("return_indices", False)], 1)]
        op, _, attrs = _pool("maxpool2d", shape_of(x), a[0], a[1], a[2], a[4], dilation=a[3],
                             return_indices=a[5])
        return op, [x], attrs
    if not meth and t is F.avg_pool2d:
        a = [_const(_arg(node, i, k, d), k) for i, (k, d) in enumerate(
            [("kernel_size", None), ("stride", None), ("padding", 0), ("ceil_mode", False),
             ("count_include_pad", True), ("divisor_override", None)], 1)]
        op, _, attrs = _pool("avgpool2d", shape_of(x), a[0], a[1], a[2], a[3],
                             count_include_pad=a[4], divisor_override=a[5])
        return op, [x], attrs
    if not meth and t in _DROPOUT:
        if _const(_arg(node, 2, "training", True), "training"):
            raise _NotHere("with training=True (random in eval mode too)")
        return "identity", [x], []
    if not meth and t is torchvision.ops.stochastic_depth:
        if _const(_arg(node, 3, "training", True), "training"):
            raise _NotHere("with training=True (random in eval mode too)")
        return "identity", [x], []
    raise _NotHere(_HINTS.get(t if meth else getattr(t, "__name__", ""), ""))


# What to write instead, for common unsupported spellings.
_HINTS = {"squeeze": "(torch.flatten(x, 1) is supported)", "permute": "(only channel shuffles and flattening views)",
          "transpose": "(only channel shuffles and flattening views)"}
