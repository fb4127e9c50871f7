#!/usr/bin/python3
"""tools/cnncam_convert/ccm.py — an independent reader of the cnncam model file (.ccm, weights/FORMAT.md)
and a PyTorch reference interpreter of the graph it holds.

Command line (exit 0: the file is valid; 2: it is not, with one message naming
the field and the value; 1: usage):
    /usr/bin/python3 tools/cnncam_convert/ccm.py --dump FILE.ccm    header, metadata, graph and tensors
    /usr/bin/python3 tools/cnncam_convert/ccm.py --check FILE.ccm   validate only, print a one-line summary

As a module (numpy only; run() also needs torch):
    m = ccm.read("resnet34.ccm")       # rejects everything FORMAT.md says a reader rejects
    m.metadata["labels"], m.nodes, m.aliases, m.tensors, m.tensor("fc.weight")
    m.node_module                      # per node its module's class ("ReLU"), or None
    logits = ccm.run(m, x)             # the graph on x (N x C x H x W), with torch.nn.functional

The reader shares no code with the converter's writer (tools/cnncam_convert/writer.py),
so each checks the other. It enforces FORMAT.md's "Clarifications" too (exact
placement, zero padding, UTF-8 without NUL, name lengths, the output is a
node, required parameters), and two things the engine refuses at load time
anyway (labels that do not match classes, a gradcam.layer that names nothing),
so a converted file that passes here fails the C reader only where the two
disagree about the spec.

run() is the semantic reference: every op as torch.nn.functional computes it
in eval mode, so comparing its logits with the PyTorch model's proves the
graph (names, wiring, attributes, tensors) means the same thing.
"""
import struct
import sys
import zlib
from collections import namedtuple

import numpy as np

MAGIC = b"\x89CCM\r\n\x1a\n"
VERSION = 1
BYTE_ORDER_MARK = 0x01020304
HEADER_SIZE = 128
MAX_STR = 4096
MAX_NAME = 255               # node, graph-input and alias names (the engine's limit)
MAX_NUMEL = 1 << 30          # CC_MAX_NUMEL in layers/op.h
ALIGN = 64
MAX_RANK = 6   # core/base.h CC_MAX_RANK
DTYPES = {1: ("f32", np.dtype("<f4")), 2: ("f16", np.dtype("<f2"))}
META_TYPES = {1: "string", 2: "int", 3: "float", 4: "string list", 5: "float list"}
# metadata 'output'; absent means softmax. probabilities / log_probabilities:
# the graph ends in softmax / log_softmax, so its output is already one.
OUTPUTS = ("softmax", "sigmoid", "probabilities", "log_probabilities")
# metadata 'node.module': the module classes the engine acts on (guided backprop,
# FullGrad) and the only op each may sit on (weights/reader.c ACTED_ON).
ACTED_ON = {"ReLU": "relu", "Conv2d": "conv2d", "BatchNorm2d": "batchnorm2d"}

# layers/registry.c and each op's descriptor: op -> (min inputs, max inputs,
# parameter roles in param_names order, roles that must be present).
OPS = {
    "conv2d": (1, 1, ("weight", "bias"), ("weight",)),
    "batchnorm2d": (1, 1, ("weight", "bias", "running_mean", "running_var"),
                    ("running_mean", "running_var")),
    "linear": (1, 1, ("weight", "bias"), ("weight",)),
    "relu": (1, 1, (), ()), "relu6": (1, 1, (), ()), "hardswish": (1, 1, (), ()),
    "hardsigmoid": (1, 1, (), ()), "sigmoid": (1, 1, (), ()), "silu": (1, 1, (), ()),
    "maxpool2d": (1, 1, (), ()), "avgpool2d": (1, 1, (), ()), "adaptive_avgpool2d": (1, 1, (), ()),
    "add": (2, 2, (), ()), "mul": (2, 2, (), ()), "flatten": (1, 1, (), ()),
    "identity": (1, 1, (), ()), "concat": (2, 64, (), ()),       # 64: CC_MAX_INPUTS
    "spatial_mean": (1, 1, (), ()), "slice": (1, 1, (), ()), "channel_shuffle": (1, 1, (), ()),
    "upsample_nearest": (1, 1, (), ()), "upsample_bilinear": (1, 1, (), ()),
    "leaky_relu": (1, 1, (), ()), "elu": (1, 1, (), ()),
    "batchnorm1d": (1, 1, ("weight", "bias", "running_mean", "running_var"),
                    ("running_mean", "running_var")),
    "softmax": (1, 1, (), ()), "log_softmax": (1, 1, (), ()),
    "layer_norm": (1, 1, ("weight", "bias"), ()), "gelu": (1, 1, (), ()), "gelu_tanh": (1, 1, (), ()),
    "permute": (1, 1, (), ()), "reshape": (1, 1, (), ()), "roll": (1, 1, (), ()), "pad": (1, 1, (), ()),
    "matmul": (2, 2, (), ()),                                       # alpha * A @ B (B^T with trans_b)
    "add_const": (1, 1, ("value",), ("value",)), "mul_const": (1, 1, ("value",), ("value",)),
}

# layers/op.c cc_attrs_set: key -> (value counts it takes, smallest value).
# Values are integers in [smallest, 1e6]; eps is one number in (0, 1);
# negative_slope (leaky_relu) and alpha (elu) one number in [-1e6, 1e6].
ATTRS = {
    "kernel_size": ((1, 2), 1), "stride": ((1, 2), 1), "dilation": ((1, 2), 1),
    "padding": ((1, 2, 4), 0), "groups": ((1,), 1), "ceil_mode": ((1,), 0),
    "count_include_pad": ((1,), 0), "output_size": ((1, 2), 1), "start_dim": ((1,), 0),
    "axis": ((1,), 0), "start": ((1,), 0), "end": ((1,), 1), "align_corners": ((1,), 0),
    "recompute_scale_factor": ((1,), 0), "scale_factor": ((1, 2), None), "eps": ((1,), None), "negative_slope": ((1,), None), "alpha": ((1,), None),
    "step": ((1,), 1), "perm": (tuple(range(1, MAX_RANK + 1)), 0), "shape": (tuple(range(1, MAX_RANK + 1)), 1),
    "shifts": (tuple(range(1, MAX_RANK + 1)), -1000000), "dims": (tuple(range(1, MAX_RANK + 1)), 1),
    "pads": (tuple(range(2, 2 * MAX_RANK + 1, 2)), 0),
    "trans_b": ((1,), 0),
}

Node = namedtuple("Node", "name op inputs params attrs")   # params: {role: tensor}, attrs: {key: [f64]}
TensorInfo = namedtuple("TensorInfo", "name dtype dims offset nbytes")


class FormatError(Exception):
    """The file breaks weights/FORMAT.md; the message names the field and the value."""


class _Cursor:
    """Reads one section, never past its end."""

    def __init__(self, buf, start, end, section):
        self.buf, self.pos, self.end, self.section = buf, start, end, section

    def take(self, n, what):
        if n > self.end - self.pos:
            raise FormatError("%s: %s needs %d bytes at offset %d, but the section ends at %d"
                              % (self.section, what, n, self.pos, self.end))
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def u32(self, what):
        return struct.unpack("<I", self.take(4, what))[0]

    def u64(self, what):
        return struct.unpack("<Q", self.take(8, what))[0]

    def i64(self, what):
        return struct.unpack("<q", self.take(8, what))[0]

    def f64(self, what):
        return struct.unpack("<d", self.take(8, what))[0]

    def str(self, what):
        n = self.u32(what + " length")
        if n > MAX_STR:
            raise FormatError("%s: %s at offset %d is %d bytes long; at most %d are allowed"
                              % (self.section, what, self.pos - 4, n, MAX_STR))
        raw = self.take(n, what)
        try:
            text = raw.decode("utf-8")      # strict: rejects overlong forms and surrogates
        except UnicodeDecodeError as e:
            raise FormatError("%s: %s at offset %d is not UTF-8 (%s)"
                              % (self.section, what, self.pos - n, e)) from None
        if "\0" in text:
            raise FormatError("%s: %s at offset %d contains a NUL byte" % (self.section, what, self.pos - n))
        return text

    def name(self, what, limit=MAX_NAME):
        """A string that names something: 1 to limit bytes."""
        start = self.pos
        text = self.str(what)
        n = self.pos - start - 4
        if not 1 <= n <= limit:
            raise FormatError("%s: %s at offset %d is %d bytes; names have 1 to %d"
                              % (self.section, what, start, n, limit))
        return text

    def done(self):
        if self.pos != self.end:
            raise FormatError("%s: %d leftover bytes at offset %d, after the last entry"
                              % (self.section, self.end - self.pos, self.pos))


class Model:
    """A validated .ccm file. Tensor data stays in a read-only memory map."""

    def __init__(self, path):
        self.path = path
        self.header = {}
        self.metadata, self.metadata_types = {}, {}
        self.inputs, self.nodes, self.output, self.aliases = [], [], 0, {}
        self.tensors = {}
        self._data = None        # np.memmap of the data section

    @property
    def names(self):
        """Value names by node index: the inputs, then the nodes."""
        return self.inputs + [n.name for n in self.nodes]

    def find(self, name):
        """Node index of a node, input or alias name; None if there is none."""
        if name in self.aliases:
            return self.aliases[name]
        names = self.names
        return names.index(name) if name in names else None

    @property
    def node_module(self):
        """Per node (not the graph inputs), the class name of the module it calls,
        '' for a function call; None for a file without metadata 'node.module'
        (weights/FORMAT.md, Module types, gives the fallback)."""
        return self.metadata.get("node.module")

    def tensor(self, name):
        """The stored array (f32 or f16), read-only."""
        t = self.tensors[name]
        dt = DTYPES[t.dtype][1]
        count = t.nbytes // dt.itemsize
        return np.frombuffer(self._data, dt, count, t.offset).reshape(t.dims)


def _check_attr(where, key, vals):
    if key not in ATTRS:
        raise FormatError("%s: unknown attribute '%s' (known: %s)" % (where, key, ", ".join(ATTRS)))
    counts, lo = ATTRS[key]
    if len(vals) not in counts:
        raise FormatError("%s: attribute '%s' has %d values; expected %s"
                          % (where, key, len(vals), " or ".join(map(str, counts))))
    for v in vals:
        if key == "eps":
            ok = 0 < v < 1
        elif key == "scale_factor":
            ok = 0 < v <= 1e4
        elif ATTRS[key][1] is None:
            ok = abs(v) <= 1e6              # False for NaN
        else:
            ok = v == int(v) if np.isfinite(v) else False
            ok = ok and lo <= v <= 1e6
        if not ok:
            raise FormatError("%s: attribute '%s' value %r is out of range (%s)"
                              % (where, key, v, "(0, 1)" if key == "eps" else "(0, 10000]"
                                 if key == "scale_factor" else "[-1000000, 1000000]"
                                 if lo is None else "an integer in [%d, 1000000]" % lo))


def _sections(buf, size):
    """Parses and checks the 128-byte header; returns it as a dict."""
    if size < HEADER_SIZE:
        raise FormatError("file is %d bytes, shorter than the %d-byte header" % (size, HEADER_SIZE))
    h = buf[:HEADER_SIZE]
    if h[:8] != MAGIC:
        raise FormatError("bad magic %s; expected %s (a .ccm file)" % (h[:8].hex(" "), MAGIC.hex(" ")))
    version, bom, hsize, flags = struct.unpack_from("<4I", h, 8)
    if version > VERSION:
        raise FormatError("version %d is newer than this reader's %d" % (version, VERSION))
    if version != VERSION:
        raise FormatError("version %d is unknown; expected %d" % (version, VERSION))
    if bom != BYTE_ORDER_MARK:
        raise FormatError("byte-order mark 0x%08x; expected 0x%08x (written big-endian?)"
                          % (bom, BYTE_ORDER_MARK))
    if hsize != HEADER_SIZE:
        raise FormatError("header size %d; expected %d" % (hsize, HEADER_SIZE))
    if flags:
        raise FormatError("flags 0x%08x has bits set; version 1 defines none" % flags)
    fields = struct.unpack_from("<9Q3I", h, 24)
    hdr = {"version": version, "flags": flags,
           "metadata": fields[0:2], "graph": fields[2:4], "tensors": fields[4:6], "data": fields[6:8],
           "file_size": fields[8], "crc_sections": fields[9], "crc_data": fields[10],
           "crc_header": fields[11]}
    crc = zlib.crc32(h[:104])
    if crc != hdr["crc_header"]:
        raise FormatError("header CRC 0x%08x does not match its bytes 0..103 (0x%08x)"
                          % (hdr["crc_header"], crc))
    if any(h[108:128]):
        raise FormatError("reserved header bytes 108..127 are not zero")
    if hdr["file_size"] != size:
        raise FormatError("header says the file is %d bytes; it is %d (truncated or appended?)"
                          % (hdr["file_size"], size))
    prev_end, prev = HEADER_SIZE, "the header"
    for sec in ("metadata", "graph", "tensors", "data"):
        off, n = hdr[sec]
        if off < prev_end:
            raise FormatError("%s section at offset %d overlaps %s, which ends at %d"
                              % (sec, off, prev, prev_end))
        if off + n > size:
            raise FormatError("%s section (offset %d, %d bytes) ends past the end of the file (%d bytes)"
                              % (sec, off, n, size))
        if sec != "data" and off != prev_end:     # Clarifications: no gaps before the data
            raise FormatError("%s section starts at %d; it must follow %s at %d"
                              % (sec, off, prev, prev_end))
        prev_end, prev = off + n, "the %s section" % sec
    if hdr["data"][0] % ALIGN:
        raise FormatError("data offset %d is not a multiple of %d" % (hdr["data"][0], ALIGN))
    if sum(hdr["data"]) != size:
        raise FormatError("data section ends at %d, not at the end of the file (%d bytes)"
                          % (sum(hdr["data"]), size))
    return hdr


def read(path, check_data_crc=True):
    """Reads and validates path; raises FormatError (or OSError)."""
    m = Model(path)
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(0)
        head = f.read(min(size, HEADER_SIZE))
        hdr = _sections(head, size)
        m.header = hdr
        f.seek(0)
        meta_buf = f.read(hdr["data"][0])       # header .. the data offset
    table_end = sum(hdr["tensors"])
    if any(meta_buf[table_end:]):
        raise FormatError("padding between the tensor table (ends at %d) and the data (at %d) is not zero"
                          % (table_end, hdr["data"][0]))

    crc = 0
    for sec in ("metadata", "graph", "tensors"):
        off, n = hdr[sec]
        crc = zlib.crc32(meta_buf[off:off + n], crc)
    if crc != hdr["crc_sections"]:
        raise FormatError("CRC of metadata, graph and tensor table is 0x%08x; the header says 0x%08x"
                          % (crc, hdr["crc_sections"]))
    data_off, data_size = hdr["data"]
    m._data = (np.memmap(path, np.uint8, "r", data_off, (data_size,)) if data_size
               else np.zeros(0, np.uint8))
    if check_data_crc:
        crc = 0
        for i in range(0, data_size, 1 << 24):
            crc = zlib.crc32(m._data[i:i + (1 << 24)], crc)
        if crc != hdr["crc_data"]:
            raise FormatError("CRC of the data section is 0x%08x; the header says 0x%08x"
                              % (crc, hdr["crc_data"]))

    _read_metadata(m, _Cursor(meta_buf, *_span(hdr["metadata"]), "metadata"))
    _read_tensors(m, _Cursor(meta_buf, *_span(hdr["tensors"]), "tensor table"), data_size)
    _read_graph(m, _Cursor(meta_buf, *_span(hdr["graph"]), "graph"))
    _check_model(m)
    return m


def _span(off_size):
    return off_size[0], off_size[0] + off_size[1]


def _read_metadata(m, c):
    for i in range(c.u32("metadata count")):
        key = c.name("metadata key %d" % i, MAX_STR)
        if key in m.metadata:
            raise FormatError("metadata: duplicate key '%s'" % key)
        t = c.u32("type of '%s'" % key)
        if t == 1:
            v = c.str("value of '%s'" % key)
        elif t == 2:
            v = c.i64("value of '%s'" % key)
        elif t == 3:
            v = c.f64("value of '%s'" % key)
        elif t == 4:
            v = [c.str("item %d of '%s'" % (j, key)) for j in range(c.u32("length of '%s'" % key))]
        elif t == 5:
            v = [c.f64("item %d of '%s'" % (j, key)) for j in range(c.u32("length of '%s'" % key))]
        else:
            raise FormatError("metadata: key '%s' has unknown type %d (known: 1..5)" % (key, t))
        m.metadata[key], m.metadata_types[key] = v, t
    c.done()
    # 'output' says what the probabilities are: an unknown value must not read as softmax.
    if "output" in m.metadata and (m.metadata_types["output"] != 1 or m.metadata["output"] not in OUTPUTS):
        raise FormatError("metadata: 'output' is %r (%s); expected the string 'softmax', 'sigmoid', "
                          "'probabilities' or 'log_probabilities'"
                          % (m.metadata["output"], META_TYPES[m.metadata_types["output"]]))


def _read_tensors(m, c, data_size):
    spans = []
    for i in range(c.u32("tensor count")):
        name = c.name("tensor %d name" % i, MAX_STR)
        where = "tensor '%s'" % name
        if name in m.tensors:
            raise FormatError("tensor table: duplicate tensor name '%s'" % name)
        dtype = c.u32(where + " dtype")
        if dtype not in DTYPES:
            raise FormatError("%s: dtype %d is unknown (1 = f32, 2 = f16)" % (where, dtype))
        rank = c.u32(where + " rank")
        if not 1 <= rank <= MAX_RANK:
            raise FormatError("%s: rank %d; expected 1 to %d" % (where, rank, MAX_RANK))
        dims = tuple(c.u64(where + " dimension %d" % k) for k in range(rank))
        numel = 1
        for k, d in enumerate(dims):
            if d < 1:
                raise FormatError("%s: dimension %d is 0" % (where, k))
            numel *= d
            if numel > MAX_NUMEL:
                raise FormatError("%s: shape %s has more than %d elements"
                                  % (where, "x".join(map(str, dims)), MAX_NUMEL))
        offset, nbytes = c.u64(where + " offset"), c.u64(where + " nbytes")
        want = numel * DTYPES[dtype][1].itemsize
        if nbytes != want:
            raise FormatError("%s: nbytes %d; shape %s in %s needs %d"
                              % (where, nbytes, "x".join(map(str, dims)), DTYPES[dtype][0], want))
        if offset % ALIGN:
            raise FormatError("%s: offset %d is not a multiple of %d" % (where, offset, ALIGN))
        if offset + nbytes > data_size:
            raise FormatError("%s: bytes %d..%d lie past the end of the data section (%d bytes)"
                              % (where, offset, offset + nbytes, data_size))
        m.tensors[name] = TensorInfo(name, dtype, dims, offset, nbytes)
        spans.append((offset, offset + nbytes, name))
    c.done()
    spans.sort()
    for a, b in zip(spans, spans[1:]):
        if b[0] < a[1]:
            raise FormatError("tensor '%s' (bytes %d..%d) overlaps tensor '%s' (bytes %d..%d)"
                              % (b[2], b[0], b[1], a[2], a[0], a[1]))


def _read_graph(m, c):
    seen = set()

    def new_name(name, what):
        if name in seen:
            raise FormatError("graph: duplicate name '%s' (%s)" % (name, what))
        seen.add(name)

    for i in range(c.u32("input count")):
        name = c.name("input %d name" % i)
        new_name(name, "input %d" % i)
        m.inputs.append(name)
    if not m.inputs:
        raise FormatError("graph: no inputs; at least one is needed")
    nnodes = c.u32("node count")
    for i in range(nnodes):
        index = len(m.inputs) + i
        name = c.name("node %d name" % index)
        where = "node %d '%s'" % (index, name)
        new_name(name, where)
        op = c.str(where + " op")
        if op not in OPS:
            raise FormatError("%s: unknown op '%s' (known: %s)" % (where, op, ", ".join(OPS)))
        lo, hi, roles, required = OPS[op]
        nin = c.u32(where + " input count")
        if not lo <= nin <= hi:
            raise FormatError("%s: %s takes %d to %d inputs, got %d" % (where, op, lo, hi, nin))
        inputs = []
        for k in range(nin):
            j = c.u32(where + " input %d" % k)
            if j >= index:
                raise FormatError("%s: input %d is node %d, not an earlier node" % (where, k, j))
            inputs.append(j)
        params = {}
        for k in range(c.u32(where + " parameter count")):
            role, tname = c.str(where + " parameter role"), c.str(where + " parameter tensor")
            if role not in roles:
                raise FormatError("%s: %s has no parameter '%s' (it has: %s)"
                                  % (where, op, role, ", ".join(roles) or "none"))
            if role in params:
                raise FormatError("%s: parameter '%s' given twice" % (where, role))
            if tname not in m.tensors:
                raise FormatError("%s: parameter '%s' names tensor '%s', which is not in the tensor table"
                                  % (where, role, tname))
            params[role] = tname
        for role in required:
            if role not in params:
                raise FormatError("%s: %s needs parameter '%s'" % (where, op, role))
        attrs = {}
        for k in range(c.u32(where + " attribute count")):
            key = c.str(where + " attribute key")
            vals = [c.f64(where + " attribute '%s'" % key) for _ in range(c.u32(where + " attribute length"))]
            if key in attrs:
                raise FormatError("%s: attribute '%s' given twice" % (where, key))
            _check_attr(where, key, vals)
            attrs[key] = vals
        m.nodes.append(Node(name, op, inputs, params, attrs))
    total = len(m.inputs) + nnodes
    m.output = c.u32("output")
    if m.output >= total:
        raise FormatError("graph: output is node %d; there are %d" % (m.output, total))
    if m.output < len(m.inputs):
        raise FormatError("graph: output is node %d, a graph input; it must be a node with an op"
                          % m.output)
    for i in range(c.u32("alias count")):
        name = c.name("alias %d name" % i)
        new_name(name, "alias %d" % i)
        j = c.u32("alias '%s' node" % name)
        if j >= total:
            raise FormatError("graph: alias '%s' points at node %d; there are %d" % (name, j, total))
        m.aliases[name] = j
    c.done()


def _check_model(m):
    """What the engine refuses at load time although the format allows it."""
    labels, classes = m.metadata.get("labels"), m.metadata.get("classes")
    if labels is not None and classes is not None and len(labels) != classes:
        raise FormatError("metadata: %d labels for %d classes" % (len(labels), classes))
    layer = m.metadata.get("gradcam.layer")
    if layer is not None and m.find(layer) is None and layer != "input":   # "input": the first graph input
        raise FormatError("metadata: gradcam.layer '%s' is neither a node nor an alias" % layer)
    _check_input(m.metadata, m.metadata_types)
    _check_node_module(m)


def _check_node_module(m):
    """node.module: a string list of one class per node, ReLU/Conv2d/BatchNorm2d
    only on relu/conv2d/batchnorm2d nodes (weights/reader.c read_node_modules)."""
    if "node.module" not in m.metadata:
        return
    classes, t = m.metadata["node.module"], m.metadata_types["node.module"]
    if t != 4:
        raise FormatError("metadata: 'node.module' is a %s; expected a string list" % META_TYPES[t])
    if len(classes) != len(m.nodes):
        raise FormatError("metadata: 'node.module' has %d entries for %d nodes; it needs one per node"
                          % (len(classes), len(m.nodes)))
    for i, (cls, node) in enumerate(zip(classes, m.nodes)):
        if cls in ACTED_ON and node.op != ACTED_ON[cls]:
            raise FormatError("metadata: 'node.module' entry %d says node '%s' calls a %s module, but its op "
                              "is %s, not %s" % (i, node.name, cls, node.op, ACTED_ON[cls]))


def _check_input(md, types):
    """input.channels 1..64 (3 when absent), input.height/width both or neither
    (1..16384), input.mean/std one finite value per channel (std > 0), absent
    only for 3 channels: weights/model.c cc_model_read_input."""
    for key in ("input.channels", "input.height", "input.width"):
        if key in md and types[key] != 2:
            raise FormatError("metadata: '%s' is a %s; expected an int" % (key, META_TYPES[types[key]]))
    c = md.get("input.channels", 3)
    if not 1 <= c <= 64:
        raise FormatError("metadata: 'input.channels' is %d; the engine takes 1 to 64 channels" % c)
    if ("input.height" in md) != ("input.width" in md):
        raise FormatError("metadata: a fixed input size needs both input.height and input.width")
    for key in ("input.height", "input.width"):
        if key in md and not 1 <= md[key] <= 16384:
            raise FormatError("metadata: '%s' is %d; an input side is 1 to 16384 pixels" % (key, md[key]))
    for key in ("input.mean", "input.std"):
        if key not in md:
            if c != 3:
                raise FormatError("metadata: '%s' is absent; a %d-channel model must give one value per "
                                  "channel" % (key, c))
            continue
        v = md[key]
        if types[key] != 5 or len(v) != c:
            raise FormatError("metadata: '%s' must be a float list of %d values (input.channels), not %r"
                              % (key, c, v))
        if not all(np.isfinite(x) and (key == "input.mean" or x > 0) for x in v):
            raise FormatError("metadata: '%s' is %r; its values must be finite%s"
                              % (key, v, "" if key == "input.mean" else " and positive"))


# ---- the reference interpreter ---------------------------------------------

def _pair(attrs, key, default):
    v = attrs.get(key)
    if v is None:
        return default
    return (int(v[0]), int(v[0])) if len(v) == 1 else (int(v[0]), int(v[1]))


def _pad4(attrs):
    """top, left, bottom, right, as cc_attrs_set reads 'padding'."""
    v = [int(x) for x in attrs.get("padding", [0])]
    if len(v) == 4:
        return tuple(v)
    t, l = (v[0], v[0]) if len(v) == 1 else v
    return t, l, t, l


def _int(attrs, key, default):
    return int(attrs[key][0]) if key in attrs else default


def run(m, x, keep=False):
    """Executes the graph on x (a float32 torch tensor, N x C x H x W) with
    torch.nn.functional in eval mode; f16 tensors are widened to f32. Returns
    the output value, or with keep=True the list of every node's value."""
    import torch
    import torch.nn.functional as F

    weights = {}

    def w(name):
        if name not in weights:
            weights[name] = torch.from_numpy(np.array(m.tensor(name), dtype=np.float32))
        return weights[name]

    vals = [x]
    with torch.no_grad():
        for node in m.nodes:
            a, op = node.attrs, node.op
            xs = [vals[i] for i in node.inputs]
            p = {role: w(t) for role, t in node.params.items()}
            if op == "conv2d":
                t, l, b, r = _pad4(a)
                inp, pad = xs[0], (t, l)
                if (t, l) != (b, r):            # asymmetric ('same' with an even kernel)
                    inp, pad = F.pad(inp, (l, r, t, b)), (0, 0)
                y = F.conv2d(inp, p["weight"], p.get("bias"), _pair(a, "stride", (1, 1)), pad,
                             _pair(a, "dilation", (1, 1)), _int(a, "groups", 1))
            elif op in ("batchnorm2d", "batchnorm1d"):
                y = F.batch_norm(xs[0], p["running_mean"], p["running_var"], p.get("weight"),
                                 p.get("bias"), False, 0.0, a.get("eps", [1e-5])[0])
            elif op == "linear":
                y = F.linear(xs[0], p["weight"], p.get("bias"))
            elif op in ("maxpool2d", "avgpool2d"):
                t, l, b, r = _pad4(a)
                if (t, l) != (b, r):
                    raise NotImplementedError("%s: asymmetric pooling padding" % node.name)
                k, s = _pair(a, "kernel_size", (1, 1)), _pair(a, "stride", (1, 1))
                ceil = bool(_int(a, "ceil_mode", 0))
                if op == "maxpool2d":
                    y = F.max_pool2d(xs[0], k, s, (t, l), _pair(a, "dilation", (1, 1)), ceil)
                else:
                    y = F.avg_pool2d(xs[0], k, s, (t, l), ceil, bool(_int(a, "count_include_pad", 1)))
            elif op == "adaptive_avgpool2d":
                y = F.adaptive_avg_pool2d(xs[0], _pair(a, "output_size", (1, 1)))
            elif op == "add":
                y = xs[0] + xs[1]
            elif op == "mul":
                y = xs[0] * xs[1]
            elif op == "flatten":
                y = torch.flatten(xs[0], _int(a, "start_dim", 1))
            elif op == "concat":
                y = torch.cat(xs, _int(a, "axis", 1))
            elif op == "identity":
                y = xs[0]
            elif op == "spatial_mean":
                y = xs[0].mean((2, 3))
            elif op == "slice":                  # x[:, ..., start:end:step] along axis >= 1
                ax = _int(a, "axis", 1)
                y = xs[0][(slice(None),) * ax + (slice(_int(a, "start", 0), _int(a, "end", 1), _int(a, "step", 1)),)]
            elif op == "permute":
                y = xs[0].permute(*[int(v) for v in a["perm"]])
            elif op == "reshape":                # shape is for a batch of one; dim 0 scales
                y = xs[0].reshape(-1, *[int(v) for v in a["shape"][1:]])
            elif op == "roll":
                y = torch.roll(xs[0], [int(v) for v in a["shifts"]], [int(v) for v in a["dims"]])
            elif op == "pad":                    # (before, after) per dim in dim order; F.pad: last dim first
                pads = [int(v) for v in a["pads"]]
                y = F.pad(xs[0], [pads[2 * d + e] for d in reversed(range(len(pads) // 2)) for e in (0, 1)])
            elif op == "channel_shuffle":
                shape, g = xs[0].shape, _int(a, "groups", 1)
                y = xs[0].unflatten(1, (g, shape[1] // g)).transpose(1, 2).reshape(shape)
            elif op in ("upsample_nearest", "upsample_bilinear"):
                sf = a.get("scale_factor")
                size = None if sf else _pair(a, "output_size", (1, 1))
                sf = None if sf is None else (sf[0], sf[0]) if len(sf) == 1 else tuple(sf)
                mode = op[len("upsample_"):]
                y = F.interpolate(xs[0], size, sf, mode, bool(_int(a, "align_corners", 0))
                                  if mode == "bilinear" else None, bool(_int(a, "recompute_scale_factor", 0)))
            elif op == "leaky_relu":
                y = F.leaky_relu(xs[0], a.get("negative_slope", [0.01])[0])
            elif op == "elu":
                y = F.elu(xs[0], a.get("alpha", [1.0])[0])
            elif op == "matmul":                 # equal leading dims; alpha scales the product
                y = torch.matmul(xs[0], xs[1].transpose(-2, -1) if _int(a, "trans_b", 0) else xs[1])
                alpha = a.get("alpha", [1.0])[0]
                y = y * alpha if alpha != 1 else y
            elif op == "add_const":              # value broadcasts from the right (a model constant)
                y = xs[0] + p["value"]
            elif op == "mul_const":
                y = xs[0] * p["value"]
            elif op in ("softmax", "log_softmax"):
                y = getattr(torch, op)(xs[0], _int(a, "axis", 1))
            elif op == "layer_norm":      # over the last dimension, weight and bias optional
                y = F.layer_norm(xs[0], xs[0].shape[-1:], p.get("weight"), p.get("bias"), a.get("eps", [1e-5])[0])
            elif op in ("gelu", "gelu_tanh"):
                y = F.gelu(xs[0], approximate="none" if op == "gelu" else "tanh")
            else:
                y = {"relu": F.relu, "relu6": F.relu6, "hardswish": F.hardswish,
                     "hardsigmoid": F.hardsigmoid, "sigmoid": torch.sigmoid, "silu": F.silu}[op](xs[0])
            vals.append(y)
    return vals if keep else vals[m.output]


# ---- command line ------------------------------------------------------------

def _fmt_bytes(n):
    return "%.1f MB" % (n / 1e6) if n >= 1e5 else "%d bytes" % n


def _fmt_value(v, t):
    if t == 1:
        return '"%s"' % v
    if t == 4:
        shown = ", ".join('"%s"' % s for s in v[:4]) + (", ..." if len(v) > 4 else "")
        return "[%d] %s" % (len(v), shown)
    if t == 5:
        return "[%s]" % ", ".join("%.6g" % x for x in v)
    return "%r" % v


def dump(m, out=sys.stdout):
    h = m.header
    p = lambda *a: print(*a, file=out)
    p("%s" % m.path)
    p("header")
    p("  version %d, flags %d, file size %d" % (h["version"], h["flags"], h["file_size"]))
    for sec in ("metadata", "graph", "tensors", "data"):
        p("  %-9s offset %10d  size %10d" % (sec, h[sec][0], h[sec][1]))
    p("  crc: sections 0x%08x, data 0x%08x, header 0x%08x"
      % (h["crc_sections"], h["crc_data"], h["crc_header"]))
    p("metadata (%d keys)" % len(m.metadata))
    for k, v in m.metadata.items():
        t = m.metadata_types[k]
        p("  %-22s %-11s %s" % (k, META_TYPES[t], _fmt_value(v, t)))
    names = m.names
    p("graph: %d input(s), %d nodes, output [%d] %s, %d aliases"
      % (len(m.inputs), len(m.nodes), m.output, names[m.output], len(m.aliases)))
    for i, name in enumerate(m.inputs):
        p("  [%d] %s  (input)" % (i, name))
    for i, n in enumerate(m.nodes, len(m.inputs)):
        ins = ", ".join(names[j] for j in n.inputs)
        extra = ["%s=%s" % kv for kv in n.params.items()]
        extra += ["%s=%s" % (k, ",".join("%g" % x for x in v)) for k, v in n.attrs.items()]
        if m.node_module and m.node_module[i - len(m.inputs)]:
            extra.append("module=" + m.node_module[i - len(m.inputs)])
        p("  [%d] %s  %s(%s)%s" % (i, n.name, n.op, ins, "".join("  " + e for e in extra)))
    p("aliases")
    for name, j in m.aliases.items():
        p("  %s -> [%d] %s" % (name, j, names[j]))
    total = sum(int(np.prod(t.dims)) for t in m.tensors.values())
    p("tensors (%d, %d elements, %s)" % (len(m.tensors), total, _fmt_bytes(h["data"][1])))
    for t in m.tensors.values():
        p("  %-40s %s %-14s offset %10d  nbytes %10d" % (t.name, DTYPES[t.dtype][0],
                                                          "x".join(map(str, t.dims)), t.offset, t.nbytes))


def main(argv):
    usage = "usage: ccm.py --dump FILE.ccm | --check FILE.ccm"
    if len(argv) != 2 or argv[0] not in ("--dump", "--check"):
        print(usage, file=sys.stderr if argv[:1] not in (["-h"], ["--help"]) else sys.stdout)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 1
    try:
        m = read(argv[1])
    except (FormatError, OSError) as e:
        print("ccm.py: %s: %s" % (argv[1], e), file=sys.stderr)
        return 2
    if argv[0] == "--dump":
        try:
            dump(m)
        except BrokenPipeError:          # `ccm.py --dump f.ccm | head`
            sys.stderr.close()
            return 0
    else:
        print("%s: valid: %d nodes, %d aliases, %d tensors, arch %s"
              % (argv[1], len(m.nodes), len(m.aliases), len(m.tensors), m.metadata.get("arch", "?")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
