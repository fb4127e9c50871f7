"""tools/cnncam_convert/concrete_convert.py — a model traced at one input size as a cnncam
graph: vision transformers (ViT, Swin), ConvNeXt, and models built from the same pieces.

concrete_trace.py traces the model on the probe input (batch 1, the size the file is
specialised to), folds what does not depend on the input and drops eval no-ops. Each
remaining fx node then becomes one or a few engine ops (weights/FORMAT.md):
  * leaf modules: Linear and LayerNorm over the last dimension, GELU, Softmax, and every
    CNN module mappers.py maps (Conv2d, pools, activations, ...);
  * F.linear, F.layer_norm, F.gelu, softmax, matmul / bmm / @ (a transposed second
    operand becomes trans_b), permute and transpose, every view (reshape: the shape for
    a batch of one, dim 0 scaling with the batch), indexing (slice with a step; an
    integer index is a slice and a reshape), chunk / split / unbind pieces, torch.cat,
    torch.roll, F.pad, residual adds and channel-scale muls of two tensors, and a
    tensor plus / times / minus / over a constant (add_const, mul_const: position
    embeddings, relative position biases, Swin's masks, layer scale, q's scale);
  * the class token: cat([constant, x], 1) is pad(x) + constant, so the batch need
    not be known when the file is written;
  * a permute that moves the batch away from dim 0 and is only indexed along its new dim 0
    (qkv.permute(2, 0, 3, 1, 4) then qkv[0], qkv[1], qkv[2]) is, per index, a select
    along the source dimension and a permute that keeps the batch first.
Dim 0 is always the batch (or batch-major merged with windows, B*nW): the converter's
self-check runs the graph at batch 2 against the model, which catches any view that
would mix images.
Every node also gets a layout (metadata node.layout): "nchw", "nhwc" (channels last), or
"tokens:P:h:w" (P prefix tokens such as the class token, then an h x w grid of patch
tokens), found by following the patch embedding's grid through the graph; "" where a
tensor is no image-shaped map (attention scores, windows). Grad-CAM explains the first
three as a C x h x w map.
"""
import operator

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from . import ConvertError, outputs
from . import concrete_trace as ct
from .mappers import _NotHere, _map_module
from .trace import Graph, Node, Unsupported, _describe, _name_nodes


def _arg(n, i, name, default=None):
    if name in n.kwargs:
        return n.kwargs[name]
    return n.args[i] if len(n.args) > i else default


def _fname(n):
    return n.target if n.op == "call_method" else getattr(n.target, "__name__", str(n.target))


def _is(n, functions=(), methods=()):
    return (n.op == "call_function" and n.target in functions) or (n.op == "call_method" and n.target in methods)


_ADD = (operator.add, operator.iadd, torch.add)
_SUB = (operator.sub, operator.isub, torch.sub)
_MUL = (operator.mul, operator.imul, torch.mul)
_DIV = (operator.truediv, operator.itruediv, torch.div, torch.true_divide)
_MATMUL = (operator.matmul, torch.matmul, torch.bmm)
_SOFTMAX = {F.softmax: "softmax", torch.softmax: "softmax", F.log_softmax: "log_softmax",
            torch.log_softmax: "log_softmax", "softmax": "softmax", "log_softmax": "log_softmax"}
_VIEWS = ("view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as", "reshape_as")
_PIECES = ("chunk", "split", "unbind", "tensor_split", "split_with_sizes")
_CAT = (torch.cat, torch.concat)


def _dim(d, rank):
    return d + rank if d < 0 else d


def _perm_of(n, rank):
    """The permutation of a permute / transpose node (normalised), or None."""
    if _is(n, (torch.permute,), ("permute",)):
        dims = n.args[1:] if n.op == "call_method" else (_arg(n, 1, "dims"),)
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = dims[0]
        return [_dim(int(d), rank) for d in dims]
    if _is(n, (torch.transpose,), ("transpose",)):
        a, b = _dim(int(_arg(n, 1, "dim0")), rank), _dim(int(_arg(n, 2, "dim1")), rank)
        p = list(range(rank))
        p[a], p[b] = p[b], p[a]
        return p
    return None


def _select_users(n):
    """For a permute moving the batch: every user is x[k] (an int index of dim 0) or
    x.unbind(0) (read by such indices)."""
    def select(u):
        return u.op == "call_function" and u.target is operator.getitem and isinstance(u.args[1], int)
    def unbind0(u):
        return _is(u, (torch.unbind,), ("unbind",)) and _arg(u, 1, "dim", 0) == 0 and all(map(select, u.users))
    return bool(n.users) and all(select(u) or unbind0(u) for u in n.users)


def _swaps_last_two(n):
    """k.transpose(-2, -1) read only as the second operand of matmuls: the gemm transposes."""
    shape = n.meta.get("shape")
    if not shape or len(shape) < 3:
        return False
    r = len(shape)
    return _perm_of(n, r) == list(range(r - 2)) + [r - 1, r - 2] and all(
        _is(u, _MATMUL, ("matmul", "bmm")) and len(u.args) > 1 and u.args[1] is n and u.args[0] is not n
        for u in n.users)


# ---- layouts -------------------------------------------------------------------

_POINTWISE = {"relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "silu", "leaky_relu", "elu",
              "gelu", "gelu_tanh", "identity", "add_const", "mul_const"}
_LAST_DIM = {"linear", "layer_norm"}        # act over the channels of a channels-last layout
_CNN = {"conv2d", "batchnorm2d", "maxpool2d", "avgpool2d", "channel_shuffle", "upsample_nearest",
        "upsample_bilinear", "mul"}


def _layout(op, attrs, ins, in_shapes, shape):
    """What the output of op means spatially, from its inputs' layouts: ('nchw',),
    ('nhwc',), ('ncl', h, w) (a flattened NCHW map), ('tokens', P, h, w) or None."""
    a = dict(attrs)
    first = ins[0] if ins else None
    if op in _POINTWISE:
        return first
    if op in _LAST_DIM and first and first[0] in ("nhwc", "tokens"):
        return first if tuple(in_shapes[0][:-1]) == tuple(shape[:-1]) else None
    if op in ("add", "mul"):        # a residual keeps its known side's layout (Swin's windows are not one)
        known = [v for v, s in zip(ins, in_shapes) if v and tuple(s) == tuple(shape)]
        return known[0] if known and all(v == known[0] for v in known) else None
    if first is None:
        return None
    kind = first[0]
    if kind == "nchw" and len(shape) == 4 and op in _CNN | {"adaptive_avgpool2d"}:
        return first
    if op == "concat":
        axis = a["axis"][0]
        if all(v == first for v in ins) and (kind == "nchw" and axis == 1 or
                                             kind in ("nhwc", "tokens") and axis == len(shape) - 1):
            return first
        return None
    if op == "permute":
        p = [int(v) for v in a["perm"]]
        if kind == "nchw" and p == [0, 2, 3, 1]:
            return ("nhwc",)
        if kind == "nhwc" and p == [0, 3, 1, 2]:
            return ("nchw",)
        if kind == "ncl" and p == [0, 2, 1]:
            return ("tokens", 0, first[1], first[2])
        return None
    if op == "reshape":
        s = in_shapes[0]
        if kind == "nchw" and len(shape) == 3 and shape[:2] == s[:2] and shape[2] == s[2] * s[3]:
            return ("ncl", s[2], s[3])
        if kind == "nhwc" and len(shape) == 3 and shape[2] == s[3] and shape[1] == s[1] * s[2]:
            return ("tokens", 0, s[1], s[2])
        if kind == "tokens" and first[1] == 0 and len(shape) == 4 and shape[1:3] == (first[2], first[3]):
            return ("nhwc",)
        return None
    if op == "pad":
        p = [int(v) for v in a["pads"]]
        if kind == "tokens" and len(shape) == 3 and not any(p[:2] + p[3:]):
            return ("tokens", first[1] + p[2], first[2], first[3])
        return None
    if op == "slice" and kind == "nhwc" and a["axis"][0] in (1, 2):
        return first
    return None


def layout_string(v):
    if not v or v[0] == "ncl":
        return ""
    return v[0] if v[0] != "tokens" else "tokens:%d:%d:%d" % v[1:]


# ---- the conversion ------------------------------------------------------------

class _Builder:
    """The Graph under construction: node names kept unique, shapes and layouts."""

    def __init__(self, state, reserved):
        self.g = Graph()
        self.state = state
        self.reserved = reserved   # the fx nodes' names: each is its own node's only
        self.current = None        # the fx node's name being mapped
        self.used = set()
        self.layouts = {}          # node index -> layout tuple or None

    def unique(self, name):
        if name == self.current and name not in self.used:
            self.used.add(name)
            return name
        base, k = name, 1
        while name in self.used or name in self.reserved:
            k += 1
            name = "%s:%d" % (base, k)
        self.used.add(name)
        return name

    def const(self, name, value):
        """A constant (a folded tensor, a scale) stored under a fresh tensor name."""
        key = name
        k = 1
        while key in self.g.tensors or key in self.state:
            k += 1
            key = "%s:%d" % (name, k)
        self.g.tensors[key] = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
        return key

    def param(self, key):
        if key not in self.g.tensors:
            self.g.tensors[key] = self.state[key].detach().to("cpu", torch.float32).contiguous().numpy()
        return key

    def shape(self, i):
        return tuple(self.g.shapes[self.g.names()[i]])

    def emit(self, name, op, inputs, shape, params=(), attrs=(), module=""):
        name = self.unique(name)
        i = len(self.g.inputs) + len(self.g.nodes)
        self.g.nodes.append(Node(name, op, list(inputs), list(params), list(attrs), module))
        self.g.shapes[name] = tuple(int(v) for v in shape)
        self.layouts[i] = _layout(op, attrs, [self.layouts.get(j) for j in inputs],
                                  [self.shape(j) for j in inputs], tuple(shape))
        return i


class _Const:
    """A value that does not depend on the input: a folded tensor, a parameter, a number."""

    def __init__(self, value, key=None):
        self.value = value.detach().float() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
        self.key = key             # the state_dict key, for a parameter or buffer


class _Pieces:
    """x.chunk / split / unbind: (input index, axis, [(start, end)], squeeze)."""

    def __init__(self, x, axis, bounds, squeeze):
        self.x, self.axis, self.bounds, self.squeeze = x, axis, bounds, squeeze


class _Transposed:
    """k.transpose(-2, -1), absorbed by the matmuls that read it (trans_b)."""

    def __init__(self, x):
        self.x = x


class _BatchMoved:
    """x.permute(p) with p[0] != 0, read only as y[k]: resolved at each index."""

    def __init__(self, x, perm):
        self.x, self.perm = x, perm


def _slice(b, name, x, axis, start, end, step=1):
    s = list(b.shape(x))
    s[axis] = len(range(start, end, step))
    return b.emit(name, "slice", [x], s, attrs=[("axis", [axis]), ("start", [start]), ("end", [end]),
                                                ("step", [step])])


def _reshape(b, name, x, shape):
    if tuple(shape) == b.shape(x):
        return x
    return b.emit(name, "reshape", [x], shape, attrs=[("shape", [int(v) for v in shape])])


def _permute(b, name, x, perm):
    if perm == list(range(len(perm))):
        return x
    if perm[0] != 0:
        raise _NotHere("that moves the batch dimension (dim 0 stays first in cnncam)")
    s = b.shape(x)
    return b.emit(name, "permute", [x], [s[p] for p in perm], attrs=[("perm", perm)])


class _Mapper:
    def __init__(self, gm, names, b):
        self.gm, self.names, self.b = gm, names, b
        self.env = {}

    def value(self, a):
        if isinstance(a, fx.Node):
            return self.env[a]
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            return _Const(a)
        raise _NotHere("with an argument %r" % (a,))

    def node_input(self, a, what="its input"):
        v = self.value(a)
        if not isinstance(v, int):
            raise _NotHere("on %s, which is %s" % (what, "a constant" if isinstance(v, _Const) else
                                                   "not one tensor"))
        return v

    # -- one fx node ------------------------------------------------------------
    def map(self, n):
        b, name = self.b, self.names[n]
        shape = n.meta.get("shape")
        if n.op == "get_attr":
            target = n.target
            return _Const(ct._fetch(self.gm, target), target if target in b.state else None)
        if n.op == "call_module":
            return self.module(n, self.gm.get_submodule(n.target), name, shape)
        t = n.target
        if _is(n, _ADD, ("add", "add_")) or _is(n, _SUB, ("sub", "sub_")):
            return self.add(n, name, shape, subtract=_is(n, _SUB, ("sub", "sub_")))
        if _is(n, _MUL, ("mul", "mul_")):
            return self.mul(n, name, shape)
        if _is(n, _DIV, ("div", "div_", "true_divide")):
            x, c = self.value(n.args[0]), self.value(n.args[1])
            if not isinstance(x, int) or not isinstance(c, _Const) or n.kwargs.get("rounding_mode"):
                raise _NotHere("of these operands (only a tensor over a constant)")
            return self.const_op(name, "mul_const", x, 1.0 / c.value.double(), shape)
        if _is(n, _MATMUL, ("matmul", "bmm")):
            return self.matmul(n, name, shape)
        if (n.op == "call_function" and t in _SOFTMAX) or (n.op == "call_method" and t in _SOFTMAX):
            x = self.node_input(n.args[0])
            dim, dtype = _arg(n, 1, "dim"), _arg(n, 3 if n.op == "call_function" else 2, "dtype")
            if dtype is not None or dim is None or _dim(dim, len(shape)) != len(shape) - 1:
                raise _NotHere("along dim=%s (only the last dimension)" % (dim,))
            return b.emit(name, _SOFTMAX[t], [x], shape, attrs=[("axis", [len(shape) - 1])])
        if _is(n, (F.linear,)):
            x = self.node_input(n.args[0])
            w, bias = self.value(_arg(n, 1, "weight")), self.value(_arg(n, 2, "bias"))
            return self.linear(name, x, w, bias if bias is not None else None, shape)
        if _is(n, (F.layer_norm,)):
            x = self.node_input(n.args[0])
            ns = _arg(n, 1, "normalized_shape")
            w, bias = _arg(n, 2, "weight"), _arg(n, 3, "bias")
            return self.layer_norm(name, x, ns, w and self.value(w), bias and self.value(bias),
                                   _arg(n, 4, "eps", 1e-5), shape)
        if _is(n, (F.gelu,), ("gelu",)):
            approx = _arg(n, 1, "approximate", "none")
            return b.emit(name, "gelu" if approx == "none" else "gelu_tanh", [self.node_input(n.args[0])], shape)
        perm = _perm_of(n, len(shape)) if shape else None
        if perm is not None:
            x = self.node_input(n.args[0])
            if perm[0] != 0 and _select_users(n):
                return _BatchMoved(x, perm)
            if _swaps_last_two(n):
                return _Transposed(x)
            return _permute(b, name, x, perm)
        if _is(n, (torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze), _VIEWS):
            return _reshape(b, name, self.node_input(n.args[0]), shape)
        if n.op == "call_function" and t is operator.getitem:
            return self.getitem(n, name, shape)
        if _is(n, (torch.chunk, torch.split, torch.unbind, torch.tensor_split), _PIECES):
            return self.pieces(n)
        if _is(n, _CAT):
            return self.cat(n, name, shape)
        if _is(n, (torch.roll,), ("roll",)):
            x = self.node_input(n.args[0])
            shifts, dims = _arg(n, 1, "shifts"), _arg(n, 2, "dims")
            shifts = [shifts] if isinstance(shifts, int) else list(shifts)
            if dims is None:
                raise _NotHere("without dims (a flattened roll)")
            dims = [_dim(d, len(shape)) for d in ([dims] if isinstance(dims, int) else dims)]
            if 0 in dims:
                raise _NotHere("along the batch dimension")
            return b.emit(name, "roll", [x], shape, attrs=[("shifts", shifts), ("dims", dims)])
        if _is(n, (F.pad, getattr(torch._C._nn, "pad", F.pad))):
            x = self.node_input(n.args[0])
            pad, mode, value = _arg(n, 1, "pad"), _arg(n, 2, "mode", "constant"), _arg(n, 3, "value", None)
            if mode != "constant" or value not in (None, 0, 0.0) or any(p < 0 for p in pad):
                raise _NotHere("with mode=%s, value=%s (only zero padding)" % (mode, value))
            r = len(shape)
            pads = [0] * (2 * r)
            for k in range(len(pad) // 2):          # F.pad lists the last dimension first
                d = r - 1 - k
                pads[2 * d], pads[2 * d + 1] = int(pad[2 * k]), int(pad[2 * k + 1])
            if pads[:2] != [0, 0]:
                raise _NotHere("of the batch dimension")
            return b.emit(name, "pad", [x], shape, attrs=[("pads", pads)])
        raise _NotHere("")

    def module(self, n, m, name, shape):
        b = self.b
        ins = [a for a in n.args if isinstance(a, fx.Node)]
        if len(ins) != 1 or len(n.args) != 1 or n.kwargs:
            raise _NotHere("called with %d arguments (cnncam ops take one tensor)" % (len(n.args) + len(n.kwargs)))
        x = self.node_input(ins[0])
        kind = type(m).__name__
        key = lambda role: b.param("%s.%s" % (n.target, role))
        if type(m) is nn.Linear:
            params = [("weight", key("weight"))] + ([("bias", key("bias"))] if m.bias is not None else [])
            return b.emit(name, "linear", [x], shape, params, module=kind)
        if isinstance(m, nn.LayerNorm):
            if len(m.normalized_shape) != 1:
                raise _NotHere("over %d dimensions (only the last)" % len(m.normalized_shape))
            params = [("weight", key("weight")), ("bias", key("bias"))] if m.elementwise_affine else []
            return b.emit(name, "layer_norm", [x], shape, params, [("eps", [float(m.eps)])], module=kind)
        if type(m) is nn.GELU:
            return b.emit(name, "gelu" if m.approximate == "none" else "gelu_tanh", [x], shape, module=kind)
        if type(m) in (nn.Softmax, nn.LogSoftmax):
            if m.dim is None or _dim(m.dim, len(shape)) != len(shape) - 1:
                raise _NotHere("along dim=%s (only the last dimension)" % (m.dim,))
            op = "softmax" if type(m) is nn.Softmax else "log_softmax"
            return b.emit(name, op, [x], shape, attrs=[("axis", [len(shape) - 1])], module=kind)
        if type(m) is nn.Flatten:
            return _reshape(b, name, x, shape)
        if type(m) is nn.AdaptiveAvgPool1d:             # the seed Swin's pool over tokens
            s = b.shape(x)
            if len(s) != 3 or m.output_size not in (1, (1,)):
                raise _NotHere("with output_size=%s (only 1, on N x C x L)" % (m.output_size,))
            y = _reshape(b, name + ".reshape", x, [1, s[1], s[2], 1])
            y = b.emit(name + ".pool", "adaptive_avgpool2d", [y], [1, s[1], 1, 1],
                       attrs=[("output_size", [1, 1])], module=kind)
            return _reshape(b, name, y, shape)
        op, roles, attrs = _map_module(m, [b.shape(x)])
        state = self.b.state
        for role in roles:
            if "%s.%s" % (n.target, role) not in state:
                raise _NotHere("whose %s is not the state_dict entry '%s.%s'" % (role, n.target, role))
        return b.emit(name, op, [x], shape, [(r, key(r)) for r in roles], attrs, module=kind)

    def const_op(self, name, op, x, value, shape):
        """add_const / mul_const of node x and a constant broadcast against it."""
        v = torch.as_tensor(value).float()
        xs = self.b.shape(x)
        if v.dim() > len(xs) or tuple(torch.broadcast_shapes(v.shape, xs)) != xs:
            raise _NotHere("with a constant of shape %s that does not broadcast to %s"
                           % ("x".join(map(str, v.shape)), "x".join(map(str, xs))))
        if v.dim() == 0:
            v = v.reshape(1)
        key = self.b.const(name + ".value", v.numpy())
        return self.b.emit(name, op, [x], shape, [("value", key)])

    def _operands(self, n):
        a = self.value(n.args[0])
        other = n.args[1] if len(n.args) > 1 else n.kwargs.get("other")
        return a, self.value(other)

    def add(self, n, name, shape, subtract):
        a, c = self._operands(n)
        if _arg(n, 2, "alpha", 1) != 1:
            raise _NotHere("with alpha=%r" % (_arg(n, 2, "alpha", 1),))
        if isinstance(a, int) and isinstance(c, int):
            if subtract:
                raise _NotHere("of two computed tensors (only a tensor minus a constant)")
            if self.b.shape(a) != self.b.shape(c):
                raise _NotHere("of %s and %s (two tensors of one shape, or a constant)"
                               % ("x".join(map(str, self.b.shape(a))), "x".join(map(str, self.b.shape(c)))))
            return self.b.emit(name, "add", [a, c], shape)
        if isinstance(c, int) and isinstance(a, _Const) and not subtract:
            a, c = c, a
        if not isinstance(a, int) or not isinstance(c, _Const):
            raise _NotHere("of these operands")
        return self.const_op(name, "add_const", a, -c.value if subtract else c.value, shape)

    def mul(self, n, name, shape):
        a, c = self._operands(n)
        if isinstance(a, int) and isinstance(c, int):
            sa, sc = self.b.shape(a), self.b.shape(c)
            scale = lambda s: len(s) == 4 and s[2:] == (1, 1)
            if not (len(sa) == 4 and len(sc) == 4 and sa[:2] == sc[:2] and (scale(sa) or scale(sc))):
                raise _NotHere("of %s and %s (only a channel scale, or a constant)"
                               % ("x".join(map(str, sa)), "x".join(map(str, sc))))
            return self.b.emit(name, "mul", [a, c], shape)
        if isinstance(c, int):
            a, c = c, a
        if not isinstance(a, int) or not isinstance(c, _Const):
            raise _NotHere("of these operands")
        return self.const_op(name, "mul_const", a, c.value, shape)

    def matmul(self, n, name, shape):
        a_node, b_node = n.args[0], n.args[1] if len(n.args) > 1 else n.kwargs.get("mat2", n.kwargs.get("other"))
        a = self.node_input(a_node, "its first operand")
        t = self.env.get(b_node) if isinstance(b_node, fx.Node) else None
        trans_b = int(isinstance(t, _Transposed))
        bb = t.x if trans_b else self.node_input(b_node, "its second operand")
        sa, sb = self.b.shape(a), self.b.shape(bb)
        if len(sa) < 3 or sa[:-2] != sb[:-2]:
            raise _NotHere("of %s and %s (only batched matrices with equal leading dimensions)"
                           % ("x".join(map(str, sa)), "x".join(map(str, sb))))
        return self.b.emit(name, "matmul", [a, bb], shape, attrs=[("trans_b", [trans_b])])

    def linear(self, name, x, w, bias, shape):
        if not isinstance(w, _Const) or (bias is not None and not isinstance(bias, _Const)):
            raise _NotHere("with a computed weight")
        params = [("weight", self.b.param(w.key) if w.key else self.b.const(name + ".weight", w.value.numpy()))]
        if bias is not None:
            params.append(("bias", self.b.param(bias.key) if bias.key else
                           self.b.const(name + ".bias", bias.value.numpy())))
        return self.b.emit(name, "linear", [x], shape, params)

    def layer_norm(self, name, x, ns, w, bias, eps, shape):
        ns = [ns] if isinstance(ns, int) else list(ns)
        if len(ns) != 1 or ns[0] != shape[-1]:
            raise _NotHere("over %s (only the last dimension)" % (ns,))
        params = []
        for role, v in (("weight", w), ("bias", bias)):
            if v is not None:
                if not isinstance(v, _Const):
                    raise _NotHere("with a computed %s" % role)
                params.append((role, self.b.param(v.key) if v.key else self.b.const(name + "." + role,
                                                                                      v.value.numpy())))
        return self.b.emit(name, "layer_norm", [x], shape, params, [("eps", [float(eps)])])

    def getitem(self, n, name, shape):
        b = self.b
        src, index = n.args
        v = self.env.get(src)
        if isinstance(v, _Pieces) and isinstance(v.x, _BatchMoved):     # qkv.permute(2, 0, ...).unbind(0)
            v = v.x
        if isinstance(v, _Pieces):
            lo, hi = v.bounds[index]
            y = _slice(b, name + ".slice" if v.squeeze else name, v.x, v.axis, lo, hi)
            return _reshape(b, name, y, shape) if v.squeeze else y
        if isinstance(v, _BatchMoved):            # x.permute(p)[k]: select along p[0], keep the rest in order
            p = v.perm
            y = _slice(b, name + ".select", v.x, p[0], index, index + 1)
            s = list(b.shape(y))
            del s[p[0]]
            y = _reshape(b, name + ".reshape", y, s)
            rest = [d - (d > p[0]) for d in p[1:]]
            return _permute(b, name, y, rest)
        x = self.node_input(src)
        xs = b.shape(x)
        items = index if isinstance(index, tuple) else (index,)
        if sum(i is Ellipsis for i in items) > 1:
            raise _NotHere("with two Ellipses")
        if Ellipsis in items:
            k = items.index(Ellipsis)
            fill = len(xs) - (len(items) - 1 - sum(i is None for i in items))
            items = items[:k] + (slice(None),) * fill + items[k + 1:]
        y, d = x, 0
        for it in items:
            if it is None:
                continue
            if isinstance(it, slice):
                if not all(s is None or isinstance(s, int) for s in (it.start, it.stop, it.step)):
                    raise _NotHere("with a computed index")
                start, stop, step = it.indices(xs[d])
                if step < 1:
                    raise _NotHere("with step %d (only positive)" % step)
                if (start, stop, step) != (0, xs[d], 1):
                    if d == 0:
                        raise _NotHere("of the batch dimension")
                    if stop <= start:
                        raise _NotHere("that selects nothing")
                    y = _slice(b, name + ".slice", y, d, start, stop, step)
            elif isinstance(it, int):
                if d == 0:
                    raise _NotHere("of the batch dimension")
                k = it + xs[d] if it < 0 else it
                y = _slice(b, name + ".select", y, d, k, k + 1)
            else:
                raise _NotHere("with an index %r (only ints, slices, None and ...)" % (it,))
            d += 1
        return _reshape(b, name, y, shape) if y != x or tuple(shape) != xs else x

    def pieces(self, n):
        vals = n.meta.get("val")
        if not isinstance(vals, (tuple, list)) or not vals:
            raise _NotHere("with a result that is not a tuple of tensors")
        unbind = _fname(n) == "unbind"
        moved = self.env.get(n.args[0])
        if isinstance(moved, _BatchMoved):        # read by x[k] only (_select_users)
            return _Pieces(moved, 0, None, True)
        x = self.node_input(n.args[0])
        rank = len(self.b.shape(x))
        axis = _dim(_arg(n, 1, "dim", 0) if unbind else _arg(n, 2, "dim", 0), rank)
        if axis == 0:
            raise _NotHere("along the batch dimension")
        bounds, lo = [], 0
        for v in vals:
            size = 1 if unbind else v.shape[axis]
            bounds.append((lo, lo + size))
            lo += size
        return _Pieces(x, axis, bounds, unbind)

    def cat(self, n, name, shape):
        b = self.b
        xs = [self.value(a) for a in _arg(n, 0, "tensors")]
        axis = _dim(_arg(n, 1, "dim", 0), len(shape))
        if axis == 0:
            raise _NotHere("along the batch dimension")
        consts = [isinstance(v, _Const) for v in xs]
        if any(not isinstance(v, (int, _Const)) for v in xs):
            raise _NotHere("of these tensors")
        if not any(consts):
            if len(xs) > 64:
                raise _NotHere("of %d tensors (at most 64)" % len(xs))
            return b.emit(name, "concat", xs, shape, attrs=[("axis", [axis])])
        # cat([c, x], 1): x padded with zeros where the constants go, plus the constants
        k = consts.index(False) if False in consts else len(xs)
        tail = len(xs) - list(reversed(consts)).index(False) if False in consts else len(xs)
        if not k < tail or any(consts[k:tail]) or any(v.value.shape[0] != 1 for v in xs if isinstance(v, _Const)):
            raise _NotHere("of computed tensors between constants, or of a constant with a batch")
        inner = xs[k:tail]
        y = inner[0] if len(inner) == 1 else b.emit(name + ".concat", "concat", inner,
                                                     self._cat_shape(inner, axis), attrs=[("axis", [axis])])
        before = sum(v.value.shape[axis] for v in xs[:k])
        after = sum(v.value.shape[axis] for v in xs[tail:])
        pads = [0] * (2 * len(shape))
        pads[2 * axis], pads[2 * axis + 1] = before, after
        y = b.emit(name + ".pad", "pad", [y], shape, attrs=[("pads", pads)])
        zero = torch.zeros(tuple(1 if d == 0 else s for d, s in enumerate(b.shape(inner[0])))
                           if len(inner) == 1 else (1,) + tuple(self._cat_shape(inner, axis)[1:]))
        value = torch.cat([v.value.expand(*((1,) + tuple(v.value.shape[1:]))) for v in xs[:k]] + [zero] +
                          [v.value for v in xs[tail:]], axis)
        return self.const_op(name, "add_const", y, value, shape)

    def _cat_shape(self, ins, axis):
        s = list(self.b.shape(ins[0]))
        s[axis] = sum(self.b.shape(i)[axis] for i in ins)
        return s


def convert(model, example, output_key=None, note=lambda msg: None):
    """The Graph of model at example's size (a 1 x C x H x W tensor) and the tensors it
    binds; g.layouts lists each node's layout string. Raises ConvertError."""
    model.eval()
    try:
        gm = ct.concrete_trace(model, example, expand_mha="batch_first")
    except Exception as e:       # the model's own forward failed on the probe input
        raise ConvertError("tracing %s on a %s input failed: %s: %s (if it takes another size or channel "
                           "count, pass --input-size C,H,W)" % (type(model).__name__,
                                                              "x".join(map(str, example.shape)),
                                                              type(e).__name__, e)) from None
    if gm.value_dependent:
        raise ConvertError("the forward of %s decides on tensor values (%s): a graph traced on one input "
                           "would not hold for others" % (type(model).__name__, ", ".join(gm.value_dependent[:4])))
    read = {n.target for n in gm.graph.nodes if n.op == "get_attr"}     # folding may leave them out
    ct.reduce(gm)
    graph = gm.graph
    for n in graph.nodes:          # _name_nodes names leaf module calls by meta cc_name
        if n.op == "call_module" and "cc_name" not in n.meta:
            n.meta["cc_name"] = n.target
    names = _name_nodes(graph)
    state = model.state_dict()
    b = _Builder(state, set(names.values()))
    out_node = next(n for n in graph.nodes if n.op == "output")
    result, output_path = outputs.choose(out_node.args[0], output_key, note)
    keep = set()
    todo = [result]
    while todo:
        v = todo.pop()
        if v not in keep:
            keep.add(v)
            todo.extend(v.all_input_nodes)
    mapper = _Mapper(gm, names, b)
    problems = []
    for n in graph.nodes:
        if n.op == "output" or n not in keep:
            continue
        if n.op == "placeholder":
            if n.meta.get("shape") is None or any(isinstance(v, int) for v in mapper.env.values()):
                problems.append("%s: a second input to forward (cnncam feeds one image tensor)" % names[n])
                continue
            b.g.inputs = [names[n] if names[n] == "input" else "input"]
            b.used.add(b.g.inputs[0])
            b.g.shapes[names[n]] = tuple(n.meta["shape"])
            b.layouts[0] = ("nchw",)
            mapper.env[n] = 0
            continue
        if any(a not in mapper.env for a in n.all_input_nodes):
            continue                # an input is already reported
        b.current = names[n]
        try:
            mapper.env[n] = mapper.map(n)
        except _NotHere as e:
            qual, _, why = str(e).partition("(")
            qual = qual.strip()
            problems.append("%s: %s%s is not supported%s" % (names[n], _describe(n, gm), " " + qual if qual else "",
                                                             " (" + why if why else ""))
    if problems:
        raise Unsupported(problems)
    out = mapper.env[result]
    g = b.g
    if not isinstance(out, int) or out < len(g.inputs):
        raise Unsupported(["%s: the model's output is not computed from the image" % names[result]])
    out_shape = b.shape(out)
    if len(out_shape) != 2:
        raise Unsupported(["%s: the model's output is %s; cnncam needs N x classes logits"
                           % (names[result], "x".join(map(str, out_shape)))])
    g.output = out
    g.output_path = output_path
    g.fixed_size = tuple(int(v) for v in example.shape[2:])
    g.folded = {k for k in state if k in read or k.rsplit(".", 1)[0] in read}
    g.layouts = [layout_string(b.layouts.get(i)) for i in range(len(g.inputs), len(g.inputs) + len(g.nodes))]
    live = set(graph.nodes)
    node_names = set(g.names())
    g.aliases = sorted({(name, mapper.env[v]) for name, v in gm.containers
                        if v in live and isinstance(mapper.env.get(v), int) and mapper.env[v] >= len(g.inputs)
                        and name not in node_names},
                       key=lambda a: (a[1], a[0].count("."), a[0]))
    return g


def input_shape(size, model):
    """(C, H, W) to trace at: --input-size as given, else the first Conv2d's channels at
    224 x 224 (the patch embedding of every ViT and Swin)."""
    if size:
        return size
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ConvertError("cannot tell how many channels the model takes: it has no Conv2d; pass "
                           "--input-size C,H,W")
    return conv.in_channels, 224, 224


def is_transformer(model):
    """Models that need this path: they have a module the fx tracer of trace.py cannot
    follow or map (attention, LayerNorm, GELU), or a torchvision transformer class."""
    kinds = (nn.MultiheadAttention, nn.LayerNorm, nn.GELU)
    return any(isinstance(m, kinds) or type(m).__module__.startswith(("torchvision.models.vision_transformer",
                                                                        "torchvision.models.swin_transformer",
                                                                        "torchvision.models.convnext"))
               for m in model.modules())


def auto_layer(g):
    """The recommended Grad-CAM layer of a graph with layouts: with a class token, the
    last LayerNorm before the last softmax (ViT's last block's first norm: the final
    norm's patch tokens get no gradient); otherwise the last node with an h x w > 1
    layout (Swin's final norm, ConvNeXt's last stage). Its outermost alias if any."""
    first = len(g.inputs)
    lay = g.layouts
    spatial = [i for i, s in enumerate(lay, first) if s and _grid(s, g.shapes[g.names()[i]])[0] *
               _grid(s, g.shapes[g.names()[i]])[1] > 1 and g.nodes[i - first].op not in
               ("avgpool2d", "adaptive_avgpool2d", "identity", "flatten")]
    if not spatial:
        return None
    best = spatial[-1]
    if any(s.startswith("tokens:") and int(s.split(":")[1]) > 0 for s in lay):
        soft = [i for i, n in enumerate(g.nodes, first) if n.op == "softmax"]
        norms = [i for i in spatial if g.nodes[i - first].op == "layer_norm" and soft and i < soft[-1]]
        if norms:
            best = norms[-1]
    names = [a for a, i in g.aliases if i == best] + [g.names()[best]]
    return min(names, key=lambda a: (a.count("."), len(a)))


def _grid(layout, shape):
    if layout == "nchw":
        return shape[2], shape[3]
    if layout == "nhwc":
        return shape[1], shape[2]
    _, p, h, w = layout.split(":")
    return int(h), int(w)
