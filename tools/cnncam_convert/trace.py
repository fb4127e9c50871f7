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
to an op (mappers.py); all that cannot be are collected and reported together.
"""
import contextlib
import dis
import inspect
import io
import operator
from collections import Counter

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata
import torchvision.models.shufflenetv2
import torchvision.ops
import torchvision.ops.misc

from . import ConvertError, outputs
from .mappers import (_NotHere, _arg, _function_name, _is_shape_node, _is_tuple_producer, _map_function,
                      _map_module, _shuffle_patterns)


class Unsupported(ConvertError):
    """Every part of the model cnncam cannot run, one line each."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__("the model uses %d thing%s cnncam cannot run:\n  %s"
                         % (len(problems), "" if len(problems) == 1 else "s", "\n  ".join(problems)))


class Node:
    """One graph node as FORMAT.md stores it. inputs are node indices; params
    are (role, state_dict key); attrs are (cc_attrs_set key, [numbers]);
    module is the class name of the module it calls ('ReLU'), '' for a
    function or method call (metadata node.module)."""

    def __init__(self, name, op, inputs, params=(), attrs=(), module=""):
        self.name, self.op, self.inputs = name, op, list(inputs)
        self.params, self.attrs, self.module = list(params), list(attrs), module


class Graph:
    def __init__(self):
        self.inputs = ["input"]
        self.nodes = []          # Node, indices len(inputs)..
        self.output = 0
        self.aliases = []        # (name, node index)
        self.tensors = {}        # state_dict key -> float32 numpy array, in first-use order
        self.shapes = {}         # node or input name -> shape on the probe input
        self.dropped = []        # names of traced nodes that do not reach the output
        self.output_path = ()    # keys and indices to the logits in forward's result (outputs.py)
        self.fixed_size = None   # (H, W) when the graph works at that size only (inputs.fixed_size)
        self.layouts = None      # per node: "nchw", "nhwc", "tokens:P:h:w" or "" (concrete_convert.py)
        self.folded = set()      # state_dict keys read only by constants folded into others

    def names(self):
        return self.inputs + [n.name for n in self.nodes]

    def index_of(self, name):
        """Node index of a node, input or alias name, or None."""
        for alias, i in self.aliases:
            if alias == name:
                return i
        names = self.names()
        return names.index(name) if name in names else None


class _Proxy(fx.Proxy):
    """fx.Proxy whose tuple unpacking works on Python 3.11 (`x1, x2 = x.chunk(2, dim=1)`,
    `n, c, h, w = x.size()`). torch 1.13's Proxy.__iter__ looks for the
    UNPACK_SEQUENCE it serves at index f_lasti // 2 of the caller's instructions;
    3.11's inline caches (which dis hides) make that another instruction, so every
    unpacking raised "Proxy object cannot be iterated". Here the instruction is
    found by its byte offset, which is what f_lasti is."""

    def __iter__(self):
        caller = inspect.currentframe().f_back
        for inst in dis.get_instructions(caller.f_code):
            if inst.offset == caller.f_lasti:
                if inst.opname == "UNPACK_SEQUENCE":
                    return (self[i] for i in range(inst.argval))
                break
        return self.tracer.iter(self)


# Functions traced as one call (their insides reshape to rank 5, which the engine has not).
_AUTOWRAP = (torchvision.models.shufflenetv2.channel_shuffle,)


class _Tracer(fx.Tracer):
    """fx.Tracer that records module paths, call counts and container results."""

    EXTRA_LEAVES = (torchvision.ops.StochasticDepth, torchvision.ops.misc.FrozenBatchNorm2d)

    def __init__(self):
        super().__init__(autowrap_functions=_AUTOWRAP)
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

    def proxy(self, node):
        return _Proxy(node, self)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        node.meta["cc_scope"] = self.scope[-1] if self.scope else ""
        return node


# ---- naming ----------------------------------------------------------------

def _name_nodes(graph):
    """fx node -> FORMAT.md name, for every node of the traced graph. The pieces
    of `x1, x2 = x.chunk(2, dim=1)` are named after the call that made them
    ('chunk', 'chunk:2'); the tuple itself, never a node of the model, is named last."""
    names, used, count = {}, set(), Counter()
    for n in graph.nodes:
        if n.op == "call_module" and "cc_name" in n.meta:
            names[n] = n.meta["cc_name"]
            used.add(names[n])
    for n in sorted(graph.nodes, key=_is_tuple_producer):      # stable: the tuples go last
        if n in names or n.op == "output":
            continue
        if n.op == "placeholder":      # FORMAT.md names the image input "input"
            base = "input" if not any(v.op == "placeholder" for v in names) else n.target
        else:
            scope = n.meta.get("cc_scope", "")
            piece = n.target is operator.getitem and isinstance(n.args[0], fx.Node) and \
                _is_tuple_producer(n.args[0])
            base = (scope + "." if scope else "") + _function_name(n.args[0] if piece else n)
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


# ---- the whole conversion ----------------------------------------------------

# Where F.<activation> takes `inplace` positionally.
_INPLACE_ARG = {F.relu: 1, F.relu6: 1, F.hardswish: 1, F.hardsigmoid: 1, F.silu: 1, F.hardtanh: 3,
                F.leaky_relu: 2, F.elu: 2}


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


def trace_model(model):
    """(tracer, fx graph, GraphModule) of model in eval mode; the GraphModule
    shares the model's submodules. Raises ConvertError."""
    model.eval()
    tracer = _Tracer()
    try:
        fxg = tracer.trace(model)
    except Exception as e:  # fx raises TraceError, NameError, TypeError, ... from user code
        raise ConvertError("torch.fx cannot trace %s: %s: %s (data-dependent control flow, or a "
                           "module called that is not a submodule?)"
                           % (type(model).__name__, type(e).__name__, e)) from None
    return tracer, fxg, fx.GraphModule(tracer.root, fxg)


def convert(model, example, output_key=None, note=lambda msg: None, traced=None):
    """The Graph of model (in eval mode) and the state_dict tensors it binds.
    example: a 1 x C x H x W input for shape propagation; output_key: which
    entry of a dict or tuple result is the logits (outputs.py); traced: what
    trace_model(model) gave, if the caller has it. Raises ConvertError."""
    model.eval()
    tracer, fxg, gm = traced or trace_model(model)
    try:
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):   # ShapeProp prints a traceback
            ShapeProp(gm).propagate(example)
    except Exception as e:
        cause = e                        # ShapeProp's own error wraps the model's
        while cause.__cause__ or cause.__context__:
            cause = cause.__cause__ or cause.__context__
        raise ConvertError("running the traced model on a %s input failed: %s: %s (if it takes another "
                           "size or channel count, pass --input-size C,H,W)"
                           % ("x".join(map(str, example.shape)), type(cause).__name__, cause)) from None

    names = _name_nodes(fxg)
    state = model.state_dict()
    problems = []

    def shape_of(n):
        meta = n.meta.get("tensor_meta")
        if not isinstance(meta, TensorMetadata):
            raise _NotHere("on a value that is not one tensor")
        return tuple(meta.shape)

    out_node = next(n for n in fxg.nodes if n.op == "output")
    result, output_path = outputs.choose(out_node.args[0], output_key, note)
    keep = _reachable(result)
    shuffles, inside = _shuffle_patterns(fxg, shape_of)
    g = Graph()
    g.output_path = output_path
    index = {}
    skipped = set()          # sizes, tuples and the insides of shuffles: read by the nodes that use them
    for n in fxg.nodes:
        if n.op == "output":
            continue
        if n not in keep:
            if not _is_shape_node(n):       # `n, c, h, w = x.size()` leaves unused sizes: not worth a note
                g.dropped.append(names[n])
            continue
        if n in inside or _is_shape_node(n) or _is_tuple_producer(n):
            skipped.add(n)
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
            elif n in shuffles:
                op, ins, attrs = "channel_shuffle", [shuffles[n][0]], [("groups", [shuffles[n][1]])]
                params = []
            elif n.op in ("call_function", "call_method"):
                op, ins, attrs = _map_function(n, shape_of)
                params = []
            else:
                raise _NotHere("")
            if any(a in skipped for a in ins):
                raise _NotHere("on a size or a tuple of tensors (it takes one tensor)")
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
        module = type(gm.get_submodule(n.target)).__name__ if n.op == "call_module" else ""
        g.nodes.append(Node(names[n], op, [index[a] for a in ins], params, attrs, module))
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
