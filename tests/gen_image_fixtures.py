#!/usr/bin/python3
"""tests/gen_image_fixtures.py — test images and what an independent decoder reads from them.

Usage: /usr/bin/python3 tests/gen_image_fixtures.py   (`make fixtures`; run from the repository root)

Writes
  tests/data/img/*.png   tiny PNGs of every colour type and bit depth (gray 1/2/4/8/16,
                         gray+alpha 8/16, RGB 8/16, RGBA 8/16, palette 1/2/4/8), with tRNS,
                         Adam7-interlaced, 1x1 and 3x2 (interlace passes left empty). Pillow
                         cannot write most of these, so a small PNG encoder below writes the
                         raw samples; Pillow only decodes them.
  tests/data/img/*.jpg   tiny JPEGs written by Pillow: 4:4:4, 4:2:0 and 4:2:2 at odd sizes,
                         progressive, grayscale, CMYK (Adobe marker, as Photoshop writes
                         it), the same relabelled YCCK (Adobe transform 2), CMYK without the
                         Adobe marker, an EXIF orientation 6 photo, 1x1; exif_orient1..8.jpg and
                         .png: each EXIF orientation, in a JPEG APP1 and a PNG eXIf chunk.
  tests/data/img/truncated.jpg   a real truncated JPEG (python3-skimage data, CC0), committed
                         as it is (not generated)
  tests/fixtures/image_pixels.txt   per image: size, byte sum and FNV-1a-64 of all RGB bytes,
                         and pixels: every pixel of the tiny images, a 16x16 grid plus 64
                         seeded random points of the photos in assets/images; for a file that
                         stores an EXIF orientation other than 1, a second entry: the picture
                         after Pillow's ImageOps.exif_transpose.

The reference is Pillow's Image.open(path).convert('RGB') with one documented exception:
16-bit grayscale. Pillow opens it as mode "I" and convert('RGB') CLIPS the 16-bit value to
255 (so 256..65535 all become white); cnncam keeps the high byte, as Pillow itself does for
16-bit RGB, RGBA and gray+alpha ("RGB;16B" etc.). For those images the reference is Pillow's
mode-"I" array >> 8, and this script asserts that convert('RGB') really is min(v, 255).
Every other image is also checked here against the value the PNG spec gives for the raw
samples (palette lookup, alpha dropped, low bit depths scaled by 255/(2^d-1), high byte of
16-bit samples), so the fixture does not depend on Pillow alone.
"""
import io
import os
import struct
import sys
import warnings
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps

DATA = "tests/data/img"
FIXTURE = "tests/fixtures/image_pixels.txt"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "kite.png", "person.png", "scream.png",
          "rocket.jpg"]

# ---- a minimal PNG encoder: any colour type, bit depth, PLTE, tRNS, Adam7 ----

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """samples: 1-D ints; returns the row bytes (MSB first below 8 bits, big-endian 16)."""
    if depth == 16:
        return b"".join(struct.pack(">H", int(v)) for v in samples)
    if depth == 8:
        return bytes(int(v) for v in samples)
    out, acc, nbits = bytearray(), 0, 0
    for v in samples:
        acc = (acc << depth) | int(v)
        nbits += depth
        if nbits == 8:
            out.append(acc)
            acc, nbits = 0, 0
    if nbits:
        out.append(acc << (8 - nbits))
    return bytes(out)


def png_encode(samples, color_type, depth, palette=None, trns=None, interlace=False):
    """samples: (h, w, channels) array of raw sample values."""
    h, w, _ = samples.shape
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue  # an empty pass has no rows at all, not even filter bytes
        for row in sub:
            raw += b"\x00" + pack_row(row.reshape(-1), depth)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        out += chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    out += chunk(b"IEND", b"")
    return out


def spec_rgb(samples, color_type, depth, palette):
    """What the PNG spec says the RGB is, alpha dropped, 16-bit -> high byte."""
    s = samples.astype(np.int64)
    if color_type == 3:
        return np.asarray(palette, dtype=np.int64)[s[..., 0]]
    if depth == 16:
        s = s >> 8
    elif depth < 8:
        s = s * 255 // ((1 << depth) - 1)
    if color_type in (0, 4):
        return np.repeat(s[..., :1], 3, axis=2)
    return s[..., :3]


def png_cases(rng):
    cases = []
    w, h = 9, 7

    def add(name, ct, depth, interlace=False, trns=None, size=(w, h), npal=None):
        ww, hh = size
        ch = CHANNELS[ct]
        palette = None
        if ct == 3:
            npal = npal or (1 << depth)
            palette = rng.integers(0, 256, (npal, 3))
            samples = rng.integers(0, npal, (hh, ww, 1))
        else:
            samples = rng.integers(0, 1 << depth, (hh, ww, ch))
        if trns == "gray":
            trns = struct.pack(">H", int(samples[0, 0, 0]))
        elif trns == "rgb":
            trns = struct.pack(">HHH", *[int(v) for v in samples[0, 0, :3]])
        elif trns == "palette":
            trns = bytes(int(v) for v in rng.integers(0, 256, max(1, npal // 2)))
        data = png_encode(samples, ct, depth, palette, trns, interlace)
        cases.append((name + ".png", data, spec_rgb(samples, ct, depth, palette), ct == 0 and depth == 16))

    for d in (1, 2, 4, 8, 16):
        add("gray%d" % d, 0, d)
    add("gray_alpha8", 4, 8)
    add("gray_alpha16", 4, 16)
    add("rgb8", 2, 8)
    add("rgb16", 2, 16)
    add("rgba8", 6, 8)
    add("rgba16", 6, 16)
    for d in (1, 2, 4, 8):
        add("palette%d" % d, 3, d)
    add("palette8_short", 3, 8, npal=5)  # fewer entries than 2^depth
    add("palette8_trns", 3, 8, trns="palette", npal=40)
    add("palette2_trns", 3, 2, trns="palette")
    add("gray8_trns", 0, 8, trns="gray")
    add("gray16_trns", 0, 16, trns="gray")
    add("rgb8_trns", 2, 8, trns="rgb")
    add("rgb16_trns", 2, 16, trns="rgb")
    add("gray1_interlaced", 0, 1, interlace=True)
    add("gray16_interlaced", 0, 16, interlace=True)
    add("rgb8_interlaced", 2, 8, interlace=True, size=(11, 9))
    add("rgba16_interlaced", 6, 16, interlace=True)
    add("palette4_trns_interlaced", 3, 4, interlace=True, trns="palette")
    add("rgb8_interlaced_3x2", 2, 8, interlace=True, size=(3, 2))
    add("rgb8_1x1", 2, 8, size=(1, 1))
    add("gray8_1x31", 0, 8, size=(1, 31))
    return cases


# ---- JPEGs written by Pillow ----

def smooth_rgb(rng, w, h):
    """A gradient with mild noise: compresses to a few hundred bytes, still has colour edges."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), (x + y) * 127 // max(1, w + h - 2)],
                   axis=2)
    img = img + rng.integers(-20, 21, img.shape)
    img[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = [250, 30, 40]  # a red block: chroma edges
    return np.clip(img, 0, 255).astype(np.uint8)


def jpeg_bytes(im, **kw):
    b = io.BytesIO()
    im.save(b, "JPEG", optimize=True, **kw)  # optimised Huffman tables: smaller files
    return b.getvalue()


def adobe_segment(data):
    """(offset, length) of the APP14 'Adobe' segment, marker included."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker, seglen = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker == 0xEE and data[i + 4:i + 9] == b"Adobe":
            return i, 2 + seglen
        if marker == 0xDA:
            break
        i += 2 + seglen
    raise SystemExit("no Adobe APP14 segment in Pillow's CMYK JPEG")


def jpeg_cases(rng):
    cases = []
    rgb = Image.fromarray(smooth_rgb(rng, 17, 11))
    cases.append(("rgb444.jpg", jpeg_bytes(rgb, quality=90, subsampling=0)))
    cases.append(("rgb420.jpg", jpeg_bytes(rgb, quality=90, subsampling=2)))
    cases.append(("rgb422.jpg", jpeg_bytes(rgb, quality=90, subsampling=1)))
    cases.append(("rgb420_progressive.jpg", jpeg_bytes(rgb, quality=90, subsampling=2, progressive=True)))
    cases.append(("gray.jpg", jpeg_bytes(rgb.convert("L"), quality=90)))
    cases.append(("rgb_1x1.jpg", jpeg_bytes(Image.fromarray(smooth_rgb(rng, 1, 1)), quality=90)))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display; nobody applies it by default
    cases.append(("rgb_exif_orientation6.jpg", jpeg_bytes(rgb, quality=90, exif=exif.tobytes())))
    for k in range(1, 9):  # every EXIF orientation, JPEG (APP1) and PNG (eXIf before IDAT)
        exif = Image.Exif()
        exif[0x0112] = k
        cases.append(("exif_orient%d.jpg" % k, jpeg_bytes(rgb, quality=90, exif=exif.tobytes())))
        b = io.BytesIO()
        rgb.save(b, "PNG", exif=exif.tobytes())
        cases.append(("exif_orient%d.png" % k, b.getvalue()))
    cmyk = Image.fromarray(rng.integers(0, 256, (7, 9, 4)).astype(np.uint8), "CMYK")
    data = jpeg_bytes(cmyk, quality=90)
    off, n = adobe_segment(data)
    cases.append(("cmyk_adobe.jpg", data))
    ycck = bytearray(data)
    ycck[off + 15] = 2  # Adobe transform byte: 0 = CMYK, 2 = YCCK
    cases.append(("ycck_adobe.jpg", bytes(ycck)))
    cases.append(("cmyk_no_adobe.jpg", data[:off] + data[off + n:]))
    return cases


# ---- the fixture ----

def fnv1a64(b):
    h = 0xCBF29CE484222325
    for byte in b:  # a few seconds for all photos, once per regeneration
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def pil_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")), im.mode


def pil_upright(path):
    """ImageOps.exif_transpose(...).convert('RGB'), or None when the file stores no turn."""
    with Image.open(path) as im:
        if im.getexif().get(0x0112, 1) == 1:
            return None
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def record(out, path, rgb, rule, points):
    h, w, _ = rgb.shape
    out.append("image %s %d %d %d %016x %s %d" % (path, w, h, int(rgb.astype(np.int64).sum()),
                                                  fnv1a64(np.ascontiguousarray(rgb).tobytes()), rule, len(points)))
    for x, y in points:
        out.append("%d %d %d %d %d" % (x, y, *[int(v) for v in rgb[y, x]]))


def main():
    # Pillow suggests converting palette+tRNS images to RGBA; the fixture is convert('RGB').
    warnings.filterwarnings("ignore", "Palette images with Transparency")
    os.makedirs(DATA, exist_ok=True)
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    rng = np.random.default_rng(20240601)
    out = ["# tests/fixtures/image_pixels.txt: generated by tests/gen_image_fixtures.py with Pillow %s,"
           " NumPy %s; do not edit." % (PIL.__version__, np.__version__),
           "# image <path> <width> <height> <sum of all RGB bytes> <FNV-1a-64 of the RGB bytes, row-major>"
           " <rule> <npoints>, then npoints lines 'x y r g b'.",
           "# rule 'pil': Image.open(path).convert('RGB'); 'msb16': 16-bit gray, high byte of each sample"
           " (Pillow's convert('RGB') clips these to 255 instead); 'upright': ImageOps.exif_transpose(Image.open(path))"
           ".convert('RGB'), the picture turned as its EXIF Orientation says."]
    total, nfiles = 0, 0
    for name, data, want, gray16 in png_cases(rng):
        path = os.path.join(DATA, name)
        with open(path, "wb") as f:
            f.write(data)
        total += len(data)
        nfiles += 1
        got, mode = pil_rgb(path)
        if gray16:
            with Image.open(path) as im:
                assert im.mode == "I", (name, im.mode)
                v = np.asarray(im).astype(np.int64)
            assert (got == np.repeat(np.minimum(v, 255)[..., None], 3, axis=2)).all(), name
            ref, rule = (v >> 8).astype(np.uint8)[..., None].repeat(3, axis=2), "msb16"
        else:
            ref, rule = got, "pil"
        if not (ref.astype(np.int64) == want).all():
            raise SystemExit("%s: Pillow (mode %s) disagrees with the PNG spec's samples" % (name, mode))
        h, w, _ = ref.shape
        record(out, path, ref, rule, [(x, y) for y in range(h) for x in range(w)])
    for name, data in jpeg_cases(rng):
        path = os.path.join(DATA, name)
        with open(path, "wb") as f:
            f.write(data)
        total += len(data)
        nfiles += 1
        ref, _ = pil_rgb(path)
        h, w, _ = ref.shape
        record(out, path, ref, "pil", [(x, y) for y in range(h) for x in range(w)])
        up = pil_upright(path)
        if up is not None:
            h, w, _ = up.shape
            record(out, path, up, "upright", [(x, y) for y in range(h) for x in range(w)])
    if not os.path.exists(os.path.join(DATA, "truncated.jpg")):   # committed data, not generated
        raise SystemExit("%s/truncated.jpg is missing (git checkout it)" % DATA)
    for name in PHOTOS:
        path = "assets/images/" + name
        ref, _ = pil_rgb(path)
        h, w, _ = ref.shape
        pts = [((i * (w - 1)) // 15, (j * (h - 1)) // 15) for j in range(16) for i in range(16)]
        prng = np.random.default_rng(len(pts) + w * 1000 + h)
        pts += [(int(prng.integers(0, w)), int(prng.integers(0, h))) for _ in range(64)]
        record(out, path, ref, "pil", pts)
    with open(FIXTURE, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote %s and %d test images (%d bytes) in %s" % (FIXTURE, nfiles, total, DATA))


if __name__ == "__main__":
    sys.exit(main())
