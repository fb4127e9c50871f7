"""cnncam/compat/_cache.py — a torch module as a loaded cnncam.Model,
converted once.

    model_for(module, x) -> cnncam.Model      x: the first input (N, C, H, W)

The key of a module is the SHA-256 of what its conversion depends on: the
format and cnncam versions, each submodule's path and class, the code of
each class's forward, and the state_dict (names, dtypes, shapes, bytes).
Models are kept
  * in memory for the process (the last MEMORY_KEEP keys), and
  * on disk as <key>.ccm under $XDG_CACHE_HOME/cnncam (else ~/.cache/cnncam),
    written by cnncam_convert.cli.convert_module (temporary file in the same
    directory, fsync, self-check, rename) and renamed to its final name, so
    no reader sees a half-written file; DISK_KEEP files at most, the least
    recently used removed first. A graph that works at one input size only
    (a flatten feeding a Linear) is stored as <key>-<H>x<W>.ccm.

Hashing a state_dict costs ~0.7 ms per MB (65 ms for ResNet-34), too much for
every call, so each call first compares a cheap fingerprint of the module
(~0.1 ms): per parameter and buffer its identity, storage address and
PyTorch's version counter (bumped by every in-place change: load_state_dict,
optimizer steps, `with torch.no_grad(): p.mul_(2)`), and each module's
children. The hash is taken again only when the fingerprint changes. Writes
through `p.data` bypass the version counter (PyTorch does not record them):
after such a change call cnncam.compat.forget(module), so that the next call
hashes the weights afresh.
"""
import hashlib
import os
import tempfile
import threading
import weakref

import numpy as np
import torch

MEMORY_KEEP = 8
DISK_KEEP = 32
_FORMAT = "cnncam.compat cache 1"

_lock = threading.RLock()
_loaded = {}                        # key -> cnncam.Model, in use order (oldest first)
_known = weakref.WeakKeyDictionary()   # module -> (fingerprint, key, its submodules)
stats = {"conversions": 0, "disk_hits": 0, "memory_hits": 0, "hashes": 0, "last_conversion_s": None}


class UnsupportedError(NotImplementedError):
    """Something pytorch-grad-cam supports that cnncam cannot do; the message
    says what and why."""


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cnncam")


def fingerprint(module, submodules):
    """What changes when the weights or the structure of module change
    (cheap: ~0.15 ms for MobileNetV3's 255 modules): per module (module, then
    submodules: list(module.modules())[1:], kept without the module itself so
    that the cache holds no reference to it) its children, and per parameter
    and buffer its identity, storage address and version counter."""
    fp = []
    add = fp.append
    for m in [module] + submodules:
        add(tuple(map(id, m._modules.values())))
        for d in (m._parameters, m._buffers):
            for t in d.values():
                if t is not None:
                    add((id(t), t.data_ptr(), t._version))
    return fp


def _code_of(cls):
    fn = getattr(cls, "forward", None)
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn).encode()
    return code.co_code + repr((code.co_consts, code.co_names, code.co_varnames)).encode()


def module_key(module, channels):
    """(key, state_dict SHA-256) of module for inputs of `channels` channels."""
    import cnncam
    from cnncam_convert import models, writer
    stats["hashes"] += 1
    h = hashlib.sha256()
    h.update(("%s\n%s\nformat %d\ntorch %s\nchannels %d\n" % (_FORMAT, cnncam.__version__, writer.VERSION,
                                                             torch.__version__, channels)).encode())
    classes = {}
    for name, m in module.named_modules():
        cls = type(m)
        h.update(("%s %s.%s\n" % (name, cls.__module__, cls.__qualname__)).encode())
        classes.setdefault(cls, None)
    for cls in classes:
        h.update(_code_of(cls))
    state = models.state_dict_sha256(module.state_dict())
    h.update(state.encode())
    return h.hexdigest(), state


def forget(module):
    """Drops what is known about module: its next call hashes its weights again."""
    with _lock:
        _known.pop(module, None)


def _remember(key, model):
    _loaded.pop(key, None)
    _loaded[key] = model
    while len(_loaded) > MEMORY_KEEP:
        _loaded.pop(next(iter(_loaded)))       # closed when the last CAM object lets go of it


def _prune(directory):
    try:
        files = [os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".ccm")
                 and not f.startswith(".")]
        files.sort(key=lambda p: os.stat(p).st_mtime)
        for p in files[:max(0, len(files) - DISK_KEEP)]:
            os.unlink(p)
    except OSError:
        pass


def _open(path, size):
    """The cached file at path as a Model, or None (absent, unreadable, or
    made for another fixed input size)."""
    import cnncam
    if not os.path.exists(path):
        return None
    try:
        m = cnncam.Model(path)
    except (OSError, ValueError):        # damaged: convert again
        try:
            os.unlink(path)
        except OSError:
            pass
        return None
    if m.input_size is not None and tuple(m.input_size) != tuple(size):
        m.close()
        return None
    try:
        os.utime(path)
    except OSError:
        pass
    return m


def _convert(module, key, state, x_shape, layer, directory):
    """Converts module into directory; returns the loaded Model."""
    import cnncam
    from cnncam_convert import ConvertError, cli
    c, h, w = x_shape
    mean, std = (None, None) if c == 3 else ([0.0] * c, [1.0] * c)   # the tensors come normalised
    target = module
    if any(t.device.type != "cpu" for t in list(module.parameters()) + list(module.buffers())):
        import copy
        target = copy.deepcopy(module).cpu()
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + key[:16] + ".", suffix=".ccm", dir=directory)
    os.close(fd)
    name = type(module).__name__
    try:
        try:
            r = cli.convert_module(target, tmp, input_size=(c, h, w), mean=mean, std=std, layer=layer,
                                   sha256=state)
        except ConvertError as e:
            msg = str(e)
            if msg.startswith("gradcam layer"):
                raise ValueError("target layer '%s' is not a layer of cnncam's graph of %s: %s"
                                 % (layer, name, msg)) from None
            raise UnsupportedError("cnncam cannot convert %s (cnncam_convert refuses it): %s" % (name, msg)) from None
        except cli.SelfCheckError as e:
            raise RuntimeError("cnncam's conversion of %s failed its self-check: %s" % (name, e)) from None
        final = os.path.join(directory, key + ("-%dx%d" % (h, w) if r.graph.fixed_size else "") + ".ccm")
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    stats["conversions"] += 1
    stats["last_conversion_s"] = r.seconds
    _prune(directory)
    return cnncam.Model(final)


def model_for(module, x_shape, layer=None):
    """The cnncam.Model of module (converting it if needed). x_shape: the
    input's (C, H, W); layer: the target layer's path, stored as the file's
    recommended layer when it is converted (checked by the conversion)."""
    with _lock:
        known = _known.get(module)
        if known is not None and fingerprint(module, known[2]) == known[0]:
            key = known[1]
            m = _loaded.get(key)
            if m is not None and not m.closed and (m.input_size is None or tuple(m.input_size) == x_shape[1:]):
                stats["memory_hits"] += 1
                return m
        submodules = list(module.modules())[1:]
        fp = fingerprint(module, submodules)
        key, state = module_key(module, x_shape[0])
        _known[module] = (fp, key, submodules)
        m = _loaded.get(key)
        if m is not None and not m.closed and (m.input_size is None or tuple(m.input_size) == x_shape[1:]):
            stats["memory_hits"] += 1
            _remember(key, m)
            return m
        directory = cache_dir()
        for name in (key + ".ccm", "%s-%dx%d.ccm" % (key, x_shape[1], x_shape[2])):
            m = _open(os.path.join(directory, name), x_shape[1:])
            if m is not None:
                stats["disk_hits"] += 1
                _remember(key, m)
                return m
        try:
            m = _convert(module, key, state, x_shape, layer, directory)
        except PermissionError:
            # an unwritable cache directory: convert into one of this process's own
            m = _convert(module, key, state, x_shape, layer, _private_dir())
        _remember(key, m)
        return m


_private = []


def _private_dir():
    if not _private:
        _private.append(tempfile.mkdtemp(prefix="cnncam-compat-"))
    return _private[0]


def as_batch(input_tensor):
    """float32 (N, C, H, W) numpy of a torch tensor (or array), without a copy
    when it is already float32, contiguous and on the CPU."""
    if isinstance(input_tensor, torch.Tensor):
        t = input_tensor.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if t.dtype != torch.float32:
            t = t.float()
        if not t.is_contiguous():
            t = t.contiguous()
        a = t.numpy()
    elif isinstance(input_tensor, np.ndarray):
        a = np.ascontiguousarray(input_tensor, dtype=np.float32)
    else:
        raise ValueError("input_tensor must be a torch tensor (N, C, H, W), not %s" % type(input_tensor).__name__)
    if a.ndim != 4:
        raise ValueError("input_tensor must be N x C x H x W (2-D images; cnncam has no 3-D convolutions), "
                         "not shape %s" % (tuple(a.shape),))
    return a
