"""tools/cnncam_convert/outputs.py — which value of a forward's result is the logits.

A forward may return one tensor, or a dict, tuple, list or namedtuple of them
(auxiliary heads, {"out": ...}, HF-style outputs). In the traced graph the
output node holds that structure with fx nodes inside; the logits are the
entry --output-key names (a key, a namedtuple field, or an index counting
entries in order: 0, 1, ..., -1 the last), or by default the first tensor
(depth first), with a note naming it. A path of keys and indices leads there,
and pick() follows the same path through the model's real output, so the
self-check compares like with like.
"""
import torch.fx as fx
from torch.fx.passes.shape_prop import TensorMetadata

from . import ConvertError


def _entries(v):
    """(key, value) of a container, in order; keys are what v[key] takes."""
    if isinstance(v, dict):
        return list(v.items())
    if isinstance(v, (tuple, list)):
        return list(enumerate(v))
    return None


def _label(v, key):
    fields = getattr(v, "_fields", None)
    if fields:
        return "%s (field '%s')" % (key, fields[key])
    return repr(key)


def _is_tensor(n):
    return isinstance(n, fx.Node) and isinstance(n.meta.get("tensor_meta"), TensorMetadata)


def _first_tensor(v, path=()):
    entries = _entries(v)
    if entries is None:
        return (v, path) if _is_tensor(v) else None
    for k, x in entries:
        found = _first_tensor(x, path + (k,))
        if found:
            return found
    return None


def _kind(v):
    if hasattr(v, "_fields"):
        return "namedtuple %s" % type(v).__name__
    return type(v).__name__


def _by_key(v, key):
    """The entry of container v that --output-key KEY names, and its key."""
    entries = _entries(v)
    names = {str(k): k for k, _ in entries} if isinstance(v, dict) else {}
    for i, f in enumerate(getattr(v, "_fields", ())):
        names[f] = i
    if key in names:
        return v[names[key]], names[key]
    try:
        i = int(key)
    except ValueError:
        i = None
    if i is not None and -len(entries) <= i < len(entries):
        k, x = entries[i]
        return x, k
    shown = ", ".join(str(k) for k in names) if names else "0 to %d" % (len(entries) - 1)
    raise ConvertError("--output-key %s: the model returns a %s of %d entries (%s); name one of them, or "
                       "an index from 0 to %d" % (key, _kind(v), len(entries), shown, len(entries) - 1))


def choose(result, key, note):
    """(the fx node of the logits, the path to it) in the output node's value."""
    if isinstance(result, fx.Node):
        if key is not None:
            raise ConvertError("--output-key %s: the model returns one tensor, not a dict or tuple; drop "
                               "--output-key" % key)
        return result, ()
    if _entries(result) is None:
        raise ConvertError("the model returns a %s; cnncam needs a tensor of logits (or a dict or tuple "
                           "holding one: --output-key)" % type(result).__name__)
    if key is None:
        found = _first_tensor(result)
        if not found:
            raise ConvertError("the model returns a %s without any tensor; cnncam needs the logits"
                               % _kind(result))
        node, path = found
        keys = [str(k) for k, _ in _entries(result)]
        note("the model returns a %s of %d entries (%s); the logits are entry %s, its first tensor "
             "(--output-key KEY|INDEX chooses another)"
             % (_kind(result), len(keys), ", ".join(keys),
                " -> ".join(_label(v, k) for v, k in zip(_walk(result, path), path))))
        return node, path
    node, k = _by_key(result, key)
    path = (k,)
    if not _is_tensor(node):
        found = _first_tensor(node) if _entries(node) is not None else None
        if not found:
            raise ConvertError("--output-key %s: that entry is not a tensor" % key)
        node, rest = found
        path += rest
    return node, path


def _walk(v, path):
    """The containers along path, outermost first."""
    out = []
    for k in path:
        out.append(v)
        v = v[k]
    return out


def pick(value, path):
    """The entry of a real forward's output that path leads to."""
    for k in path:
        value = value[k]
    return value
