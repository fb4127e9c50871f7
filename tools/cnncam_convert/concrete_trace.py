"""tools/cnncam_convert/concrete_trace.py — a shape-specialising torch.fx tracer for
transformers, and the two passes that reduce its graph to what an inference engine runs.

concrete_trace(model, example) traces model (in eval mode) on one sample input. Every
Proxy carries the real value its node has on that input, so:
  * metadata is plain Python: x.shape, x.ndim, x.dtype, x.device, x.size(), x.dim(),
    x.numel(), len(x), tuple unpacking (`B, N, C = x.shape`, `q, k, v = qkv.unbind(0)`);
    asserts, `if pad_input:`, np.ceil(H / 7) and loops over sizes run as ordinary Python,
    and no shape-arithmetic node enters the graph. The graph is valid for that input
    size only (re-trace for another);
  * tensors built from metadata alone (torch.zeros(...) + slice assignment, x.new_zeros,
    torch.zeros_like) are real tensors and enter the graph as get_attr constants;
  * torchvision's fx.wrap-ed functions named in `unwrap` are traced into
    (shifted_window_attention, _get_relative_position_bias, _patch_merging_pad,
    stochastic_depth by default), and nn.MultiheadAttention is expanded into
    primitives (linear, chunk, view, transpose, div, bmm, softmax) when expand_mha:
    F.has_torch_function is False while its forward runs, so F.multi_head_attention_forward
    runs its Python body on the proxies instead of becoming one opaque node. With
    expand_mha="batch_first", plain batch-first self-attention (x, x, x, no masks) is
    expanded instead into primitives that keep the batch in dim 0 (linear, reshape,
    select, permute, matmul, softmax; equal to the module up to rounding);
  * a Python decision on a tensor's *values* (bool(t), int(t), t.item(), t.tolist()) is
    baked in as well; each one is listed in gm.value_dependent (empty for the models
    this was written for), so a caller can refuse such a model.
Tuple unpacking never reaches torch 1.13's Proxy.__iter__ (whose f_lasti // 2 lookup is
wrong on Python 3.11): CProxy.__iter__ knows the real length.

Nodes carry meta['shape'] (a tuple, for tensor values), meta['cc_scope'] (the path of the
module whose forward made them), meta['cc_name'] on leaf module calls (the module path,
':2', ':3', ... on later calls) and, with keep_values, meta['val'] (the value on the
sample input, as the model left it: an in-place op later in forward shows in it).

fold_constants(gm) replaces every node that does not depend on the placeholder by one
get_attr constant (relative-position-bias gathers, class-token expand, Swin masks);
drop_noops(gm) removes what is the identity at eval (Dropout, F.dropout with p = 0 or
training False, Identity, contiguous, stochastic_depth at eval, all-zero F.pad,
full-range slices), turning a `view` that read a dropped `contiguous` into `reshape`.
gm.containers lists (path, node) for what each non-leaf module call returned (a node
drop_noops removes is replaced by its input there too). Both work in place and return gm.
Nothing here prints.
"""
import contextlib
import math
import operator
from collections import Counter

import torch
import torch.fx as fx
import torch.fx._symbolic_trace as _st
import torch.nn as nn
import torch.nn.functional as F

# (module, function) pairs of torchvision's fx.wrap-ed functions that are traced into.
TORCHVISION_WRAPPED = (
    ("torchvision.models.swin_transformer", "shifted_window_attention"),
    ("torchvision.models.swin_transformer", "_get_relative_position_bias"),
    ("torchvision.models.swin_transformer", "_patch_merging_pad"),
    ("torchvision.ops.stochastic_depth", "stochastic_depth"),
)

# Calls whose non-tensor result depends on shapes only (anything else is value-dependent).
_METADATA_METHODS = {"size", "dim", "ndimension", "numel", "nelement", "element_size", "is_contiguous",
                     "is_floating_point", "is_complex", "is_signed", "stride", "storage_offset", "get_device",
                     "has_names", "type"}
_METADATA_FUNCTIONS = {torch.numel, torch.is_tensor, torch.is_floating_point, torch.is_complex, len,
                       operator.getitem}
# Calls whose tensor result depends on the input's metadata only: they become constants.
_FACTORY_METHODS = {"new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"}
_FACTORY_FUNCTIONS = {torch.zeros_like, torch.ones_like, torch.empty_like, torch.full_like}


def _map(a, fn):
    """a with fn applied to every leaf, keeping tuples, lists, dicts and slices."""
    if isinstance(a, tuple) and hasattr(a, "_fields"):
        return type(a)(*(_map(v, fn) for v in a))
    if isinstance(a, (tuple, list)):
        return type(a)(_map(v, fn) for v in a)
    if isinstance(a, dict):
        return {k: _map(v, fn) for k, v in a.items()}
    if isinstance(a, slice):
        return slice(_map(a.start, fn), _map(a.stop, fn), _map(a.step, fn))
    return fn(a)


def _has_tensor(v):
    found = []
    _map(v, lambda x: found.append(x) if isinstance(x, torch.Tensor) else None)
    return bool(found)


@contextlib.contextmanager
def unwrapped(functions):
    """While active, fx traces into the fx.wrap-ed functions named by (module, name) pairs."""
    table = _st._wrapped_fns_to_patch
    saved = list(table)
    table[:] = [(g, n) for g, n in table if (g.get("__name__"), n) not in set(functions)]
    try:
        yield
    finally:
        table[:] = saved


@contextlib.contextmanager
def _functional_without_torch_function():
    """F.has_torch_function answers False, so F.multi_head_attention_forward runs its body."""
    saved = F.has_torch_function
    F.has_torch_function = lambda *args, **kwargs: False
    try:
        yield
    finally:
        F.has_torch_function = saved


def _plain_self_attention(m, args, kwargs):
    """m is an nn.MultiheadAttention called as self-attention on one batch-first
    input, x, x, x, with no masks and no extras (torchvision's ViT encoder block)."""
    if not isinstance(m, nn.MultiheadAttention) or not m.batch_first or not m._qkv_same_embed_dim:
        return False
    if m.bias_k is not None or m.add_zero_attn or m.in_proj_weight is None:
        return False
    given = dict(zip(("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask"), args))
    given.update(kwargs)
    q = given.get("query")
    return len(args) <= 6 and all(given.get(k) is q for k in ("key", "value")) and \
        given.get("key_padding_mask") is None and given.get("attn_mask") is None and \
        given.get("average_attn_weights", True) is True and set(given) <= {
            "query", "key", "value", "key_padding_mask", "need_weights", "attn_mask", "average_attn_weights"}


def _batch_first_attention(m, x):
    """What nn.MultiheadAttention(batch_first=True) computes for x, x, x in eval mode,
    as primitives that keep the batch in dim 0: F.multi_head_attention_forward turns
    the input sequence-first and merges the batch with the heads in dim 1, which an
    engine that batches along dim 0 cannot follow."""
    B, L, E = x.shape
    h = m.num_heads
    qkv = F.linear(x, m.in_proj_weight, m.in_proj_bias).reshape(B, L, 3, h, E // h)
    q, k, v = (qkv[:, :, i].permute(0, 2, 1, 3) for i in range(3))    # B x h x L x E/h
    attn = torch.matmul(q / math.sqrt(E // h), k.transpose(-2, -1)).softmax(-1)
    out = torch.matmul(attn, v).permute(0, 2, 1, 3).reshape(B, L, E)
    return F.linear(out, m.out_proj.weight, m.out_proj.bias)


class _Method:
    """x.name, not yet called: calling it records a call_method node."""

    def __init__(self, proxy, name):
        self.proxy, self.name = proxy, name

    def __call__(self, *args, **kwargs):
        return self.proxy.tracer.create_proxy("call_method", self.name, (self.proxy,) + args, kwargs)


class CProxy(fx.Proxy):
    """An fx.Proxy that knows its node's value on the sample input (self.value)."""

    def __getattr__(self, k):
        if k.startswith("__") or k in ("value", "node", "tracer"):
            raise AttributeError(k)
        attr = getattr(self.value, k)
        if isinstance(attr, torch.Tensor):            # x.T, x.mT: a node
            return self.tracer.create_proxy("call_function", getattr, (self, k), {})
        if callable(attr):
            return _Method(self, k)
        return attr                                   # shape, ndim, dtype, device, ...

    def __iter__(self):
        return iter([self[i] for i in range(len(self.value))])

    def __len__(self):
        return len(self.value)

    def _concrete(self, convert, what):
        if isinstance(self.value, torch.Tensor):
            self.tracer.note_value_dependent("%s(%s)" % (what, self.node.name))
        return convert(self.value)

    def __bool__(self):
        return self._concrete(bool, "bool")

    def __int__(self):
        return self._concrete(int, "int")

    def __float__(self):
        return self._concrete(float, "float")

    def __index__(self):
        return self._concrete(operator.index, "index")

    def __setitem__(self, index, v):
        self.tracer.create_proxy("call_function", operator.setitem, (self, index, v), {})

    def keys(self):
        return self.value.keys()


class ConcreteTracer(fx.Tracer):
    """fx.Tracer that runs every node on the sample inputs as it records it."""

    proxy_buffer_attributes = True     # buffer reads are nodes, so folding sees them

    def __init__(self, inputs, *, expand_mha=True, leaf_types=(), nonleaf_types=(), keep_values=True):
        super().__init__()
        self.inputs = list(inputs)
        self.expand_mha = expand_mha
        self.leaf_types = tuple(leaf_types)
        self.nonleaf_types = tuple(nonleaf_types) + ((nn.MultiheadAttention,) if expand_mha else ())
        self.keep_values = keep_values
        self.value_dependent = []      # descriptions of value-dependent Python decisions
        self.calls = Counter()         # module path -> calls so far
        self.containers = []           # (path[:k], what a non-leaf module call returned)
        self.scope = []                # module paths of the calls in progress
        self._eager = 0                # > 0 while computing real values: no tracing
        self._placeholders = 0

    def note_value_dependent(self, what):
        self.value_dependent.append(what)

    # ---- what is a leaf --------------------------------------------------------
    def is_leaf_module(self, m, qualname):
        if isinstance(m, self.nonleaf_types):
            return False
        return isinstance(m, self.leaf_types) or super().is_leaf_module(m, qualname)

    def call_module(self, m, forward, args, kwargs):
        if self._eager:
            return forward(*args, **kwargs)
        path = self.path_of_module(m)
        self.calls[path] += 1
        name = path if self.calls[path] == 1 else "%s:%d" % (path, self.calls[path])
        self.scope.append(path)
        try:
            if self.expand_mha == "batch_first" and _plain_self_attention(m, args, kwargs):
                out = _batch_first_attention(m, args[0] if args else kwargs["query"]), None
            elif self.expand_mha and isinstance(m, nn.MultiheadAttention):
                with _functional_without_torch_function():
                    out = super().call_module(m, forward, args, kwargs)
            else:
                out = super().call_module(m, forward, args, kwargs)
        finally:
            self.scope.pop()
        if isinstance(out, CProxy) and out.node.op == "call_module" and out.node.target == path:
            out.node.meta["cc_name"] = name            # a leaf call: one call_module node
        else:
            self.containers.append((name, out))
        return out

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self._eager:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    # ---- values ------------------------------------------------------------------
    def _evaluate(self, kind, target, args, kwargs):
        if kind == "placeholder":
            i = self._placeholders
            self._placeholders += 1
            if i < len(self.inputs):
                return self.inputs[i]
            if args:
                return args[0]         # the parameter's default
            raise TypeError("forward takes more inputs than the %d given" % len(self.inputs))
        a, kw = _map((args, kwargs), lambda v: v.value if isinstance(v, CProxy) else v)
        self._eager += 1
        try:
            with torch.no_grad():
                if kind == "get_attr":
                    v = self.root
                    for atom in target.split("."):
                        v = getattr(v, atom)
                    return v
                if kind == "call_module":
                    return self.root.get_submodule(target)(*a, **kw)
                if kind == "call_method":
                    return getattr(a[0], target)(*a[1:], **kw)
                return target(*a, **kw)
        finally:
            self._eager -= 1

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        value = self._evaluate(kind, target, args, kwargs)
        if kind in ("call_function", "call_method") and target is not operator.setitem:
            if not _has_tensor(value):
                if (kind == "call_method" and target not in _METADATA_METHODS) or \
                        (kind == "call_function" and target not in _METADATA_FUNCTIONS):
                    self.note_value_dependent("%s %s" % (kind, getattr(target, "__name__", target)))
                return value
            if (kind == "call_method" and target in _FACTORY_METHODS) or \
                    (kind == "call_function" and target in _FACTORY_FUNCTIONS):
                return value           # depends on sizes only: a constant
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        proxy.value = value
        if isinstance(value, torch.Tensor):
            proxy.node.meta["shape"] = tuple(value.shape)
        if self.keep_values:
            proxy.node.meta["val"] = value
        return proxy

    def proxy(self, node):
        return CProxy(node, self)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        node.meta["cc_scope"] = self.scope[-1] if self.scope else ""
        return node


def concrete_trace(model, *inputs, unwrap=TORCHVISION_WRAPPED, expand_mha=True, leaf_types=(),
                   nonleaf_types=(), keep_values=True):
    """The fx.GraphModule of model (put in eval mode) specialised to inputs (usually one
    1 x 3 x H x W tensor). It shares the model's submodules and parameters; the constants
    the trace creates live in the GraphModule only. gm.value_dependent lists any Python
    decision taken on a tensor's values (see the file header)."""
    model.eval()
    before = set(vars(model))
    tracer = ConcreteTracer(inputs, expand_mha=expand_mha, leaf_types=leaf_types,
                            nonleaf_types=nonleaf_types, keep_values=keep_values)
    with unwrapped(unwrap):
        graph = tracer.trace(model)
    gm = fx.GraphModule(tracer.root, graph, type(model).__name__)
    for k in set(vars(model)) - before:       # fx stows constants on the root: take them back
        delattr(model, k)
    gm.value_dependent = tracer.value_dependent
    gm.containers = [(name, out.node) for name, out in tracer.containers if isinstance(out, CProxy)]
    return gm


# ---- passes ----------------------------------------------------------------------

def _depends_on_input(graph):
    dep = set()
    for n in graph.nodes:
        if n.op == "placeholder" or any(a in dep for a in n.all_input_nodes):
            dep.add(n)
    return dep


def _fetch(gm, target):
    v = gm
    for atom in target.split("."):
        v = getattr(v, atom)
    return v


def _is_impure(n, gm):
    """An op whose effect is not (only) its result: kept even when nothing reads it."""
    if n.op in ("placeholder", "output"):
        return True
    if n.op == "call_function":
        return n.target in (operator.setitem, torch._assert) or n.kwargs.get("inplace") is True
    if n.op == "call_method":
        return n.target.endswith("_") and not n.target.startswith("_")
    if n.op == "call_module":
        return getattr(gm.get_submodule(n.target), "inplace", False) is True
    return False


def _dead_code(gm):
    for n in reversed(list(gm.graph.nodes)):
        if not n.users and not _is_impure(n, gm):
            gm.graph.erase_node(n)


def independent_nodes(gm):
    """Compute nodes (not placeholder, get_attr or output) that do not depend on the input."""
    dep = _depends_on_input(gm.graph)
    return [n for n in gm.graph.nodes if n not in dep and n.op not in ("get_attr", "output")]


def fold_constants(gm):
    """Evaluates every node that does not depend on the placeholder and replaces each one
    the rest of the graph reads by a get_attr constant '_folded_<node name>'."""
    graph = gm.graph
    dep = _depends_on_input(graph)
    env = {}
    with torch.no_grad():
        for n in graph.nodes:
            if n in dep or n.op == "output":
                continue
            if n.op == "get_attr":
                env[n] = _fetch(gm, n.target)
                continue
            a, kw = _map((n.args, n.kwargs), lambda v: env[v] if isinstance(v, fx.Node) else v)
            if n.op == "call_module":
                env[n] = gm.get_submodule(n.target)(*a, **kw)
            elif n.op == "call_method":
                env[n] = getattr(a[0], n.target)(*a[1:], **kw)
            else:
                env[n] = n.target(*a, **kw)
    for n in list(graph.nodes):
        if n in dep or n.op in ("get_attr", "output") or not isinstance(env[n], torch.Tensor):
            continue
        if not any(u in dep for u in n.users):
            continue
        name = "_folded_" + n.name
        gm.register_buffer(name, env[n].detach().clone(), persistent=False)
        with graph.inserting_before(n):
            c = graph.get_attr(name)
        c.meta["shape"] = tuple(env[n].shape)
        c.meta["cc_scope"] = n.meta.get("cc_scope", "")
        if "val" in n.meta:
            c.meta["val"] = getattr(gm, name)
        n.replace_all_uses_with(c)
    for n in reversed(list(graph.nodes)):        # the folded subgraphs, in-place ops included
        if n not in dep and n.op != "output" and not n.users:
            graph.erase_node(n)
    _dead_code(gm)
    graph.lint()
    gm.recompile()
    return gm


def _arg(n, i, name, default):
    if len(n.args) > i:
        return n.args[i]
    return n.kwargs.get(name, default)


def _is_full_slice(index, shape):
    """index (a slice, Ellipsis or a tuple of them) selects all of a tensor of shape."""
    items = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, slice) or i is Ellipsis for i in items) or sum(i is Ellipsis for i in items) > 1:
        return False
    if Ellipsis in items:
        k = items.index(Ellipsis)
        items = items[:k] + (slice(None),) * (len(shape) - len(items) + 1) + items[k + 1:]
    if len(items) > len(shape):
        return False
    for s, d in zip(items, shape):
        if not all(v is None or isinstance(v, int) for v in (s.start, s.stop, s.step)):
            return False
        if range(*s.indices(d)) != range(d):
            return False
    return True


def _noop_input(n, gm):
    """The node n passes through unchanged at eval, or None."""
    if n.op == "call_module":
        m = gm.get_submodule(n.target)
        dropout = isinstance(m, nn.modules.dropout._DropoutNd) and (m.p == 0 or not m.training)
        if isinstance(m, nn.Identity) or dropout:
            return n.args[0] if n.args else n.kwargs.get("input")
        return None
    if n.op == "call_method":
        return n.args[0] if n.target == "contiguous" and len(n.args) == 1 and not n.kwargs else None
    if n.op != "call_function":
        return None
    t = n.target
    x = _arg(n, 0, "input", None)
    if t is F.dropout:
        return x if _arg(n, 1, "p", 0.5) == 0 or _arg(n, 2, "training", True) is False else None
    if getattr(t, "__name__", "") == "stochastic_depth" and "torchvision" in getattr(t, "__module__", ""):
        return x if _arg(n, 1, "p", None) == 0 or _arg(n, 3, "training", True) is False else None
    if t is F.pad or t is getattr(torch._C._nn, "pad", None):
        pad = _arg(n, 1, "pad", None)
        return x if isinstance(pad, (tuple, list)) and all(p == 0 for p in pad) else None
    if t is operator.getitem and isinstance(x, fx.Node) and "shape" in x.meta:
        return x if _is_full_slice(n.args[1], x.meta["shape"]) else None
    if t is torch.Tensor.contiguous and len(n.args) == 1:
        return x
    return None


def noop_nodes(gm):
    """The nodes drop_noops would remove."""
    return [n for n in gm.graph.nodes if isinstance(_noop_input(n, gm), fx.Node)]


def drop_noops(gm):
    """Removes the nodes that are the identity at eval (see the file header)."""
    for n in list(gm.graph.nodes):
        x = _noop_input(n, gm)
        if not isinstance(x, fx.Node):
            continue
        if n.op == "call_method" and n.target == "contiguous" or n.target is torch.Tensor.contiguous:
            for u in list(n.users):            # a view needs the copy that contiguous made
                if u.op == "call_method" and u.target == "view":
                    u.target = "reshape"
        n.replace_all_uses_with(x)
        gm.graph.erase_node(n)
        if hasattr(gm, "containers"):
            gm.containers = [(name, x if v is n else v) for name, v in gm.containers]
    _dead_code(gm)
    gm.graph.lint()
    gm.recompile()
    return gm


def reduce(gm):
    """fold_constants then drop_noops (a no-op can hide an input-independent node's use)."""
    return drop_noops(fold_constants(gm))
