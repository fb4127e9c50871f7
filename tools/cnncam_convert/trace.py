"""tools/cnncam_convert/trace.py — a PyTorch module as a cnncam graph (weights/FORMAT.md).

torch.fx traces the model (in eval mode) with a Tracer that
  * stops at every torch.nn module that is not a Sequential (fx's default), and at
    torchvision's StochasticDepth and FrozenBatchNorm2d: each becomes one node, so
    an unsupported module is reported by its path, not by its insides;
  * names a leaf call by its module path (named_modules()), with ':2', ':3', ...
    on later calls of the same module (BasicBlock's relu: 'layer1.0.relu',
    'layer1.0.relu:2');
  * names a function or method call '<enclosing module path>.<function>'
    ('layer1.0.add'; at top level just 'flatten'), with ':2', ... on repeats.
    In-place spellings take the plain name (`x += y` is traced as operator.add,
    relu_ is 'relu');
  * remembers what every container module call returned: its path becomes an
    alias of that node ('layer4' and 'layer4.2' -> 'layer4.2.relu:2'), unless a
    node already has that name.
ShapeProp then runs the traced graph once, so checks that need shapes (linear
takes N x F, mul only scales channels, flatten's dims) are made on real shapes.
Nodes that do not reach the output are dropped. Every remaining node is mapped
to an op; all that cannot be are collected and reported together.
"""
import operator
from collections import Counter

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata
import torchvision.ops
import torchvision.ops.misc

from . import ConvertError


class Unsupported(ConvertError):
    """Every part of the model cnncam cannot run, one line each."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__("the model uses %d thing%s cnncam cannot run:\n  %s"
                         % (len(problems), "" if len(problems) == 1 else "s", "\n  ".join(problems)))


class Node:
    """One graph node as FORMAT.md stores it. inputs are node indices; params
    are (role, state_dict key); attrs are (cc_attrs_set key, [numbers])."""

    def __init__(self, name, op, inputs, params=(), attrs=()):
        self.name, self.op, self.inputs = name, op, list(inputs)
        self.params, self.attrs = list(params), list(attrs)


class Graph:
    def __init__(self):
        self.inputs = ["input"]
        self.nodes = []          # Node, indices len(inputs)..
        self.output = 0
        self.aliases = []        # (name, node index)
        self.tensors = {}        # state_dict key -> float32 numpy array, in first-use order
        self.shapes = {}         # node or input name -> shape on the probe input
        self.dropped = []        # names of traced nodes that do not reach the output

    def names(self):
        return self.inputs + [n.name for n in self.nodes]

    def index_of(self, name):
        """Node index of a node, input or alias name, or None."""
        for alias, i in self.aliases:
            if alias == name:
                return i
        names = self.names()
        return names.index(name) if name in names else None


class _Tracer(fx.Tracer):
    """fx.Tracer that records module paths, call counts and container results."""

    EXTRA_LEAVES = (torchvision.ops.StochasticDepth, torchvision.ops.misc.FrozenBatchNorm2d)

    def __init__(self):
        super().__init__()
        self.scope = []            # paths of the module calls in progress, innermost last
        self.calls = Counter()     # module path -> calls so far
        self.containers = []       # (alias name, what the container's forward returned)

    def is_leaf_module(self, m, qualname):
        return isinstance(m, self.EXTRA_LEAVES) or super().is_leaf_module(m, qualname)

    def call_module(self, m, forward, args, kwargs):
        path = self.path_of_module(m)
        self.calls[path] += 1
        name = path if self.calls[path] == 1 else "%s:%d" % (path, self.calls[path])
        self.scope.append(path)
        try:
            out = super().call_module(m, forward, args, kwargs)
        finally:
            self.scope.pop()
        if self.is_leaf_module(m, path):
            out.node.meta["cc_name"] = name      # a leaf call is one call_module node
        else:
            self.containers.append((name, out))
        return out

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        node.meta["cc_scope"] = self.scope[-1] if self.scope else ""
        return node


# ---- naming ----------------------------------------------------------------

_RENAME = {"iadd": "add", "imul": "mul", "concat": "cat"}


def _function_name(node):
    """'add' for operator.add/iadd and Tensor.add_, 'max_pool2d' for F._max_pool2d."""
    base = node.target if node.op == "call_method" else getattr(node.target, "__name__", str(node.target))
    if node.op == "get_attr":
        base = node.target.rsplit(".", 1)[-1]
    base = base.strip("_") or base
    return _RENAME.get(base, base)


def _name_nodes(graph):
    """fx node -> FORMAT.md name, for every node of the traced graph."""
    names, used, count = {}, set(), Counter()
    for n in graph.nodes:
        if n.op == "call_module" and "cc_name" in n.meta:
            names[n] = n.meta["cc_name"]
            used.add(names[n])
    for n in graph.nodes:
        if n in names or n.op == "output":
            continue
        if n.op == "placeholder":      # FORMAT.md names the image input "input"
            base = "input" if not any(v.op == "placeholder" for v in names) else n.target
        else:
            scope = n.meta.get("cc_scope", "")
            base = (scope + "." if scope else "") + _function_name(n)
        while True:
            count[base] += 1
            name = base if count[base] == 1 else "%s:%d" % (base, count[base])
            if name not in used:
                break
        names[n] = name
        used.add(name)
    return names


# ---- describing what is not supported ---------------------------------------

def _describe(node, root):
    if node.op == "call_module":
        t = type(root.get_submodule(node.target))
        return "%s.%s" % (t.__module__, t.__qualname__)
    if node.op == "call_method":
        return "Tensor.%s" % node.target
    if node.op == "get_attr":
        return "the tensor attribute '%s' (a parameter or buffer used directly in forward)" % node.target
    t = node.target
    if t is getattr and len(node.args) == 2 and isinstance(node.args[1], str):
        return "Tensor.%s" % node.args[1]          # x.shape, x.dtype, ...
    name = getattr(t, "__name__", str(t))
    module = getattr(t, "__module__", None) or ""
    if module in ("_operator", "operator"):
        return "operator." + name
    if module.startswith("torch._C._nn") or module == "torch.nn.functional":
        return "torch.nn.functional." + name
    if module in ("", "torch", "torch.functional") or module.startswith("torch._C"):
        return "torch." + name
    return "%s.%s" % (module, name)


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
    if isinstance(m, nn.BatchNorm2d) and (not m.track_running_stats or m.running_mean is None):
        raise _NotHere("with track_running_stats=False (it normalises with batch statistics)")
    if len(shape) != 4:
        raise _NotHere("on a rank-%d input" % len(shape))
    affine = not isinstance(m, nn.BatchNorm2d) or m.affine
    params = (["weight", "bias"] if affine else []) + ["running_mean", "running_var"]
    return "batchnorm2d", params, [("eps", [float(m.eps)])]


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
    if type(m) is nn.Conv2d:
        return _conv(m, shape)
    if type(m) in (nn.BatchNorm2d, torchvision.ops.misc.FrozenBatchNorm2d):
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
    if (not meth and t in _ACT_FUNCS) or (meth and t in _ACT_METHODS):
        return (_ACT_METHODS[t] if meth else _ACT_FUNCS[t]), [x], []
    if not meth and t in _HARDTANH:
        lo, hi = _const(_arg(node, 1, "min_val", -1.0), "min_val"), _const(_arg(node, 2, "max_val", 1.0), "max_val")
        if (lo, hi) != (0, 6):
            raise _NotHere("with min_val=%g, max_val=%g (only 0 and 6, as relu6)" % (lo, hi))
        return "relu6", [x], []
    if (not meth and t is torch.flatten) or (meth and t == "flatten"):
        start = _const(_arg(node, 1, "start_dim", 0), "start_dim")
        end = _const(_arg(node, 2, "end_dim", -1), "end_dim")
        op, _, attrs = _flatten(shape_of(x), start, end)
        return op, [x], attrs
    if not meth and t in (torch.cat, torch.concat):
        xs, dim = list(x), _const(_arg(node, 1, "dim", 0), "dim")
        if not all(isinstance(v, fx.Node) for v in xs):
            raise _NotHere("of a constant tensor")
        shapes = [shape_of(v) for v in xs]
        if any(len(s) != 4 for s in shapes) or dim not in (1, -3):
            raise _NotHere("along dim=%d of %s (only dim=1 of N x C x H x W tensors)"
                           % (dim, ", ".join("x".join(map(str, s)) for s in shapes)))
        if len(xs) == 1:
            return "identity", xs, []
        if len(xs) > 8:
            raise _NotHere("of %d tensors (the engine concatenates at most 8)" % len(xs))
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
_HINTS = {"view": "(torch.flatten(x, 1) is supported)", "reshape": "(torch.flatten(x, 1) is supported)",
          "mean": "(F.adaptive_avg_pool2d(x, 1) then torch.flatten(x, 1) is supported)"}


# ---- the whole conversion ----------------------------------------------------

# Where F.<activation> takes `inplace` positionally.
_INPLACE_ARG = {F.relu: 1, F.relu6: 1, F.hardswish: 1, F.hardsigmoid: 1, F.silu: 1, F.hardtanh: 3}


def _read_after_overwrite(n, gm, keep):
    """For an op that overwrites its input in place (nn.ReLU(inplace=True),
    x.relu_(), F.relu(x, inplace=True)): a later node that still reads that
    input, or None. fx records values, not memory: the converted graph would
    give that reader the value before the overwrite, PyTorch the value after."""
    if n.op == "call_module":
        inplace = getattr(gm.get_submodule(n.target), "inplace", False) is True
    elif n.op == "call_method":
        inplace = n.target.endswith("_") and not n.target.startswith("_")
    else:
        name = getattr(n.target, "__name__", "")
        inplace = name.endswith("_") and not name.startswith("_") or \
            _arg(n, _INPLACE_ARG.get(n.target, 99), "inplace", False) is True
    if not inplace or not n.args or not isinstance(n.args[0], fx.Node):
        return None
    order = {v: i for i, v in enumerate(n.graph.nodes)}
    later = [u for u in n.args[0].users if u is not n and u in keep and order[u] > order[n]]
    return min(later, key=order.get) if later else None


def _reachable(output):
    seen, todo = set(), [output]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(n.all_input_nodes)
    return seen


def convert(model, example):
    """The Graph of model (in eval mode) and the state_dict tensors it binds.
    example: a 1 x 3 x H x W input for shape propagation. Raises ConvertError."""
    model.eval()
    tracer = _Tracer()
    try:
        fxg = tracer.trace(model)
    except Exception as e:  # fx raises TraceError, NameError, TypeError, ... from user code
        raise ConvertError("torch.fx cannot trace %s: %s: %s (data-dependent control flow, or a "
                           "module called that is not a submodule?)"
                           % (type(model).__name__, type(e).__name__, e)) from None
    gm = fx.GraphModule(tracer.root, fxg)
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(example)
    except Exception as e:
        raise ConvertError("running the traced model on a %s input failed: %s: %s"
                           % ("x".join(map(str, example.shape)), type(e).__name__, e)) from None

    names = _name_nodes(fxg)
    state = model.state_dict()
    problems = []

    def shape_of(n):
        meta = n.meta.get("tensor_meta")
        if not isinstance(meta, TensorMetadata):
            raise _NotHere("on a value that is not one tensor")
        return tuple(meta.shape)

    out_node = next(n for n in fxg.nodes if n.op == "output")
    result = out_node.args[0]
    if not isinstance(result, fx.Node):
        raise Unsupported(["the model returns a %s; cnncam needs one tensor of logits"
                           % type(result).__name__])
    keep = _reachable(result)
    g = Graph()
    index = {}
    for n in fxg.nodes:
        if n.op == "output":
            continue
        if n not in keep:
            g.dropped.append(names[n])
            continue
        if n.op == "placeholder":
            if index:
                problems.append("%s: a second input to forward (cnncam feeds one image tensor)" % names[n])
                continue
            g.inputs = [names[n]]
            index[n] = 0
            g.shapes[names[n]] = shape_of(n)
            continue
        try:
            if n.op == "call_module":
                ins = [a for a in n.args if isinstance(a, fx.Node)]
                if len(ins) != 1 or len(n.args) != 1 or n.kwargs:
                    raise _NotHere("called with %d arguments (cnncam ops take one tensor)"
                                   % (len(n.args) + len(n.kwargs)))
                op, roles, attrs = _map_module(gm.get_submodule(n.target), [shape_of(ins[0])])
                params = []
                for role in roles:
                    key = "%s.%s" % (n.target, role)
                    if key not in state:
                        raise _NotHere("whose %s is not the state_dict entry '%s' (a parametrization?)"
                                       % (role, key))
                    params.append((role, key))
            elif n.op in ("call_function", "call_method"):
                op, ins, attrs = _map_function(n, shape_of)
                params = []
            else:
                raise _NotHere("")
            if any(a not in index for a in ins):
                continue        # an input is already reported
            shape = shape_of(n)
        except _NotHere as e:
            qual, _, why = str(e).partition("(")
            qual = qual.strip()
            problems.append("%s: %s%s is not supported%s" % (names[n], _describe(n, gm),
                                                             " " + qual if qual else "",
                                                             " (" + why if why else ""))
            continue
        late = _read_after_overwrite(n, gm, keep) if op != "identity" else None
        if late is not None:
            problems.append("%s: %s overwrites its input in place, and %s reads that input afterwards "
                            "(fx sees the value before the overwrite; use inplace=False)"
                            % (names[n], _describe(n, gm), names[late]))
            continue
        index[n] = len(g.inputs) + len(g.nodes)
        g.nodes.append(Node(names[n], op, [index[a] for a in ins], params, attrs))
        g.shapes[names[n]] = shape
        for _, key in params:
            if key not in g.tensors:
                g.tensors[key] = state[key].detach().to("cpu", torch.float32).contiguous().numpy()
    if problems:
        raise Unsupported(problems)
    out_shape = g.shapes[names[result]]
    if len(out_shape) != 2:
        raise Unsupported(["%s: the model's output is %s; cnncam needs N x classes logits"
                           % (names[result], "x".join(map(str, out_shape)))])
    g.output = index[result]
    node_names = set(g.names())
    g.aliases = sorted(((name, index[out.node]) for name, out in tracer.containers
                        if isinstance(out, fx.Proxy) and out.node in index and name not in node_names),
                       key=lambda a: (a[1], a[0].count("."), a[0]))   # by node, outermost first
    return g


def auto_gradcam_layer(g):
    """The output of the last conv-like layer that still has a spatial map (4-D,
    more than 1x1 on the probe input): average pools (the global pool, VGG's 7x7
    adaptive pool), identities (dropout) and flatten do not count, max pooling
    does. Named by its outermost alias if it has one: resnet18 -> 'layer4',
    vgg16 -> 'features'. None if there is no such layer."""
    best = None
    for i, n in enumerate(g.nodes, len(g.inputs)):
        s = g.shapes[n.name]
        if len(s) == 4 and s[2] * s[3] > 1 and \
                n.op not in ("avgpool2d", "adaptive_avgpool2d", "identity", "flatten"):
            best = i
    if best is None:
        return None
    names = [a for a, i in g.aliases if i == best] + [g.names()[best]]
    return min(names, key=lambda a: (a.count("."), len(a)))
