"""tools/cnncam_convert/writer.py — the bytes of a .ccm file (weights/FORMAT.md, version 1).

    [header 128][metadata][graph][tensor table][zeros to a multiple of 64][data]

The three middle sections are contiguous; the data section starts at the next
multiple of 64 and every tensor inside it at a multiple of 64 (zero padding
between tensors), and it ends with the last tensor's last byte. The header is
written last, once every CRC is known; the data is streamed (VGG16 is 0.5 GB).
tools/cnncam_convert/ccm.py reads the result back independently.
"""
import struct
import zlib

import numpy as np

MAGIC = b"\x89CCM\r\n\x1a\n"
VERSION = 1
HEADER_SIZE = 128
ALIGN = 64
MAX_STR = 4096
MAX_NAME = 255          # node, graph-input and alias names (FORMAT.md, Clarifications)
DTYPES = {"f32": (1, np.dtype("<f4")), "f16": (2, np.dtype("<f2"))}
STRING, INT, FLOAT, STRING_LIST, FLOAT_LIST = 1, 2, 3, 4, 5


class WriteError(ValueError):
    """Something the format cannot hold (a string too long, a value f16 cannot store)."""


def _str(s, what):
    b = s.encode("utf-8")
    if len(b) > MAX_STR:
        raise WriteError("%s is %d bytes in UTF-8; the format allows %d: '%s...'" % (what, len(b), MAX_STR, s[:40]))
    return struct.pack("<I", len(b)) + b


def _name(s, what):
    b = s.encode("utf-8")
    if not 1 <= len(b) <= MAX_NAME or "\0" in s:
        raise WriteError("%s '%s' is %d bytes; the engine takes names of 1 to %d bytes without NUL"
                         % (what, s[:60], len(b), MAX_NAME))
    return _str(s, what)


def _align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def metadata_bytes(entries):
    """entries: (key, type, value) in file order."""
    out = [struct.pack("<I", len(entries))]
    for key, t, v in entries:
        out.append(_str(key, "metadata key") + struct.pack("<I", t))
        if t == STRING:
            out.append(_str(v, "metadata '%s'" % key))
        elif t == INT:
            out.append(struct.pack("<q", v))
        elif t == FLOAT:
            out.append(struct.pack("<d", v))
        elif t == STRING_LIST:
            out.append(struct.pack("<I", len(v)) + b"".join(_str(s, "an item of '%s'" % key) for s in v))
        elif t == FLOAT_LIST:
            out.append(struct.pack("<I%dd" % len(v), len(v), *v))
        else:
            raise AssertionError("metadata type %r" % t)
    return b"".join(out)


def graph_bytes(g):
    out = [struct.pack("<I", len(g.inputs))] + [_name(n, "input name") for n in g.inputs]
    out.append(struct.pack("<I", len(g.nodes)))
    for n in g.nodes:
        out.append(_name(n.name, "node name") + _str(n.op, "op"))
        out.append(struct.pack("<I%dI" % len(n.inputs), len(n.inputs), *n.inputs))
        out.append(struct.pack("<I", len(n.params)))
        for role, tensor in n.params:
            out.append(_str(role, "parameter role") + _str(tensor, "tensor name"))
        out.append(struct.pack("<I", len(n.attrs)))
        for key, vals in n.attrs:
            out.append(_str(key, "attribute key") + struct.pack("<I%dd" % len(vals), len(vals), *vals))
    out.append(struct.pack("<I", g.output))
    out.append(struct.pack("<I", len(g.aliases)))
    for name, i in g.aliases:
        out.append(_name(name, "alias") + struct.pack("<I", i))
    return b"".join(out)


def stored_arrays(tensors, dtype):
    """name -> contiguous little-endian array in the storage dtype. f16 must
    hold every value: an overflow to infinity is an error, not a silent change."""
    np_dtype = DTYPES[dtype][1]
    out = {}
    for name, a in tensors.items():
        s = np.ascontiguousarray(a, dtype=np_dtype)
        if dtype == "f16" and not np.array_equal(np.isfinite(s), np.isfinite(a)):
            raise WriteError("tensor '%s' has values up to %g, beyond float16's range (65504); use --dtype f32"
                             % (name, float(np.abs(a[np.isfinite(a)]).max())))
        out[name] = s
    return out


def write(f, metadata, g, arrays, dtype):
    """Writes the whole file to the binary file object f (at position 0).
    arrays: stored_arrays(g.tensors, dtype). Returns the file size."""
    code = DTYPES[dtype][0]
    offsets, pos = {}, 0
    for name, a in arrays.items():
        offsets[name] = pos
        pos = _align(pos + a.nbytes)
    data_size = max((offsets[n] + a.nbytes for n, a in arrays.items()), default=0)

    table = [struct.pack("<I", len(arrays))]
    for name, a in arrays.items():
        table.append(_str(name, "tensor name") + struct.pack("<II", code, a.ndim))
        table.append(struct.pack("<%dQQQ" % a.ndim, *a.shape, offsets[name], a.nbytes))
    sections = [metadata_bytes(metadata), graph_bytes(g), b"".join(table)]
    spans, pos = [], HEADER_SIZE
    for s in sections:
        spans.append((pos, len(s)))
        pos += len(s)
    data_off = _align(pos)

    f.write(bytes(HEADER_SIZE))
    crc_sections = 0
    for s in sections:
        f.write(s)
        crc_sections = zlib.crc32(s, crc_sections)
    f.write(bytes(data_off - pos))
    crc_data, written = 0, 0
    for name, a in arrays.items():
        gap = bytes(offsets[name] - written)
        raw = memoryview(a.reshape(-1)).cast("B") if a.size else b""
        for chunk in (gap, raw):
            f.write(chunk)
            crc_data = zlib.crc32(chunk, crc_data)
        written = offsets[name] + a.nbytes
    file_size = data_off + data_size

    head = MAGIC + struct.pack("<4I", VERSION, 0x01020304, HEADER_SIZE, 0)
    for off, n in spans + [(data_off, data_size)]:
        head += struct.pack("<QQ", off, n)
    head += struct.pack("<QII", file_size, crc_sections, crc_data)
    head += struct.pack("<I", zlib.crc32(head)) + bytes(20)
    assert len(head) == HEADER_SIZE
    f.seek(0)
    f.write(head)
    return file_size
