#!/usr/bin/python3
"""tests/gen_gradcam_fixtures.py — reference values for Grad-CAM post-processing and input
preprocessing, from numpy, OpenCV, Pillow and torchvision.

Usage: /usr/bin/python3 tests/gen_gradcam_fixtures.py tests/fixtures/gradcam.ccgf
       (`make fixtures`; run from the repository root; needs python3-numpy,
       python3-opencv, python3-pil, python3-torch, python3-torchvision)

The reference (docs/NUMERICS.md) is jacobgil/pytorch-grad-cam 1.5: its scale_cam_image,
per-layer aggregation and show_cam_on_image are restated below in the same numpy/OpenCV
calls (the package itself is not installed here), on float32 arrays as the package
receives them. tests/test_postprocess.c and tests/test_preprocess.c replay every case.

Contents (names as stored):
  norm/K/in, norm/K/out          scale_cam_image(cam) without resize, several maps
  resize/K/src, resize/K/meta, resize/K/sample
                                 cv2.resize(src, (W, H)) INTER_LINEAR on float32;
                                 meta = [H, W, stride], sample = out.flat[::stride]
  combine/multi/cam0..2, combine/multi/out; combine/single/cam0, combine/single/out
                                 per-layer scale_cam_image(relu(cam), (W, H)), max(., 0),
                                 mean over layers, scale_cam_image again
  jet                            cv2.applyColorMap(0..255, COLORMAP_JET), BGR -> RGB
  overlay/K/rgb, overlay/K/cam, overlay/K/meta, overlay/K/mask_sample, overlay/K/out
                                 a photo (assets/images), a 7x7 CAM upsampled to the photo
                                 as above, show_cam_on_image(rgb / 255, mask, use_rgb=True,
                                 image_weight=meta[3] / 100); meta = [H, W, stride, weight%]
  pre/norm/in, pre/norm/out      torchvision ToTensor + Normalize (ImageNet mean/std)
  pre/img                        a crop of assets/images/coffee.png, the source below
  pre/rs/K/meta, pre/rs/K/out    PIL Image.resize: meta = [y0, x0, h, w, H, W, filter]
                                 (source = pre/img[y0:y0+h, x0:x0+w]; filter 2 bilinear,
                                 3 bicubic)
  pre/size                       rows [h, w, S, H, W] of torchvision's Resize(S) rule
  pre/crop                       rows [h, w, ch, cw, top, left] of torchvision's
                                 CenterCrop (negative: zero padding), read off crops of
                                 coordinate images
  pre/eval/K/meta, pre/eval/K/out
                                 Compose([Resize(S, filter), CenterCrop((ch, cw)),
                                 ToTensor(), Normalize]) on pre/img; meta = [S, ch, cw, filter]

File format, little-endian:
    magic b"CCGF", u32 version = 1, u32 count, then per tensor:
    u16 name length, name (ASCII), u8 type (b"f" float32, b"B" uint8, b"i" int32),
    u8 rank (1..4), u32 dims[rank], data.
"""
import os
import struct
import sys

import cv2
import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_gradcam import cams_to_mask, scale_cam_image, show_cam_on_image  # noqa: E402

VERSION = 1
SEED = 20261130
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
IMAGES = "assets/images/"




# ---- writer ----

class Writer:
    def __init__(self):
        self.items = []
        self.names = set()

    def add(self, name, arr, kind):
        assert name not in self.names, name
        self.names.add(name)
        dtype = {"f": "<f4", "B": "u1", "i": "<i4"}[kind]
        arr = np.ascontiguousarray(np.asarray(arr).astype(dtype))
        if arr.ndim == 0:
            arr = arr.reshape(1)
        assert 1 <= arr.ndim <= 4, (name, arr.shape)
        b = name.encode("ascii")
        head = struct.pack("<H", len(b)) + b + kind.encode() + struct.pack("<B", arr.ndim)
        head += struct.pack("<%dI" % arr.ndim, *arr.shape)
        self.items.append(head + arr.tobytes())

    def f(self, name, arr):
        self.add(name, np.asarray(arr, np.float32), "f")

    def u8(self, name, arr):
        arr = np.asarray(arr)
        assert arr.dtype == np.uint8, (name, arr.dtype)
        self.add(name, arr, "B")

    def i32(self, name, arr):
        self.add(name, np.asarray(arr, np.int64), "i")

    def write(self, path):
        with open(path, "wb") as fh:
            fh.write(b"CCGF" + struct.pack("<II", VERSION, len(self.items)))
            for it in self.items:
                fh.write(it)


def relu_cam(rng, h, w, peak_at=None, noise=0.35):
    """A plausible rectified CAM: a smooth blob plus noise, some of it clipped to zero."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = peak_at if peak_at else (rng.uniform(0, h - 1), rng.uniform(0, w - 1))
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.22 * max(h, w)) ** 2))
    cam = blob + noise * rng.standard_normal((h, w)) - 0.15
    return np.maximum(cam, 0).astype(np.float32) * np.float32(rng.uniform(0.01, 3.0))


def load_rgb(name):
    return Image.open(IMAGES + name).convert("RGB")


# ---- cases ----

def gen_norm(w, rng):
    maps = []
    for scale in (1e-3, 1.0, 37.5, 1e4):
        maps.append(relu_cam(rng, 7, 7) * np.float32(scale))
    maps.append(np.zeros((7, 7), np.float32))                     # all zero stays zero
    maps.append(np.full((5, 5), 0.3, np.float32))                 # constant -> zero
    maps.append((rng.random((6, 4)) * 3e-8).astype(np.float32))   # max far below 1e-7
    maps.append(np.array([[0.25]], np.float32))                   # one element
    m = rng.random((7, 7)).astype(np.float32)                     # max exactly 1 - 2^-23
    m = m / np.float32(m.max()) * np.float32(1 - 2 ** -23)
    maps.append(m)
    maps.append(rng.standard_normal((1, 13)).astype(np.float32))  # negative values too
    # max' + 1e-7 where the float64 sum rounded to float32 differs from a float32 sum
    # (fl32(m + fl32(1e-7)) != fl32(double(m) + 1e-7) for this m): pins the promotion
    m = rng.random((5, 6)).astype(np.float32) * np.float32(1.1455835e-07)
    m[0, 0], m[4, 5] = 0, np.float32(1.1455835e-07)
    hi = np.max(m - np.min(m))
    assert np.float32(1e-7 + hi) != hi + np.float32(1e-7)
    maps.append(m)
    for k, m in enumerate(maps):
        out = scale_cam_image(m[None])[0]
        w.f("norm/%d/in" % k, m)
        w.f("norm/%d/out" % k, out)
    return len(maps)


RESIZE_CASES = [((7, 7), (224, 224)), ((7, 10), (227, 301)), ((14, 14), (300, 451)),
                ((2, 3), (5, 4)), ((1, 9), (4, 17)), ((9, 1), (17, 4)), ((1, 1), (5, 6)),
                ((1, 12), (1, 5)), ((20, 20), (7, 7)), ((21, 21), (7, 7)), ((14, 18), (7, 9)),
                ((16, 16), (8, 8)), ((28, 40), (14, 20)), ((48, 70), (24, 35)), ((7, 7), (7, 7)), ((5, 9), (5, 23)),
                ((13, 17), (100, 37)), ((3, 8), (1, 3))]


def gen_resize(w, rng):
    for k, ((h, wd), (H, W)) in enumerate(RESIZE_CASES):
        src = (rng.random((h, wd)) * rng.uniform(0.5, 20)).astype(np.float32)
        out = cv2.resize(src, (W, H)).reshape(H, W)
        assert out.dtype == np.float32
        stride = max(1, (H * W) // 4000) | 1          # odd: walks across columns
        w.f("resize/%d/src" % k, src)
        w.i32("resize/%d/meta" % k, [H, W, stride])
        w.f("resize/%d/sample" % k, out.reshape(-1)[::stride])
    return len(RESIZE_CASES)


def gen_combine(w, rng):
    H, W = 48, 64
    cams = [relu_cam(rng, 6, 8), relu_cam(rng, 12, 16), relu_cam(rng, 24, 32)]
    for l, c in enumerate(cams):
        w.f("combine/multi/cam%d" % l, c)
    w.f("combine/multi/out", cams_to_mask(cams, (W, H)))
    cam = relu_cam(rng, 7, 7)
    out = cams_to_mask([cam], (72, 56))
    assert out.max() == np.float32(1 - 2 ** -23), out.max()
    w.f("combine/single/cam0", cam)
    w.f("combine/single/out", out)


def gen_jet(w):
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(256, 1), cv2.COLORMAP_JET)
    w.u8("jet", cv2.cvtColor(lut, cv2.COLOR_BGR2RGB).reshape(256, 3))


def gen_overlay(w, rng):
    cases = [("chelsea.png", (180, 120), None, (2.2, 3.5), 50),   # the cat's face, left
             ("kite.png", None, (40, 30, 70, 100), None, 30)]
    for k, (name, size, box, peak, weight) in enumerate(cases):
        im = load_rgb(name)
        if size:
            im = im.resize(size, Image.BILINEAR)
        if box:
            im = im.crop(box)
        rgb = np.asarray(im, np.uint8)
        H, W = rgb.shape[:2]
        cam = relu_cam(rng, 7, 7, peak_at=peak, noise=0.2)
        mask = cams_to_mask([cam], (W, H))
        out = show_cam_on_image(np.float32(rgb) / 255, mask, use_rgb=True,
                                image_weight=weight / 100)
        stride = max(1, (H * W) // 3000) | 1
        w.u8("overlay/%d/rgb" % k, rgb)
        w.f("overlay/%d/cam" % k, cam)
        w.i32("overlay/%d/meta" % k, [H, W, stride, weight])
        w.f("overlay/%d/mask_sample" % k, mask.reshape(-1)[::stride])
        w.u8("overlay/%d/out" % k, out)
    return len(cases)


def to_tensor_normalize(pil_or_array):
    return T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])(pil_or_array)


def gen_preprocess(w, rng):
    # every 8-bit value in every channel
    i = np.arange(256)
    norm_in = np.stack([i, 255 - i, (i * 7 + 3) % 256], axis=1).reshape(16, 16, 3).astype(np.uint8)
    out = to_tensor_normalize(norm_in)
    # the same through the weights' eval preset path, and in numpy float32
    preset = TF.normalize(TF.convert_image_dtype(torch.from_numpy(norm_in).permute(2, 0, 1),
                                                 torch.float), MEAN, STD)
    assert torch.equal(out, preset)
    x = norm_in.astype(np.float32) / np.float32(255)
    emul = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    assert np.array_equal(emul.transpose(2, 0, 1), out.numpy())
    w.u8("pre/norm/in", norm_in)
    w.f("pre/norm/out", out.numpy())

    src = load_rgb("coffee.png").crop((180, 60, 380, 210))       # 200 x 150 (w x h)
    img = np.asarray(src, np.uint8)
    w.u8("pre/img", img)
    rs_cases = []
    for filt in (Image.BILINEAR, Image.BICUBIC):
        S = 72                                                   # Resize(72): 2.08x shrink
        resized = T.Resize(S, interpolation=T.InterpolationMode(
            {Image.BILINEAR: "bilinear", Image.BICUBIC: "bicubic"}[filt]))(src)
        rs_cases.append(((0, 0, 150, 200), resized.size[::-1], filt, np.asarray(resized)))
        for (y0, x0, h, wd), (H, W) in [((40, 60, 23, 31), (50, 67)),   # enlarge
                                        ((30, 40, 60, 80), (59, 79)),    # barely shrink
                                        ((10, 20, 60, 150), (60, 61)),   # horizontal only
                                        ((10, 20, 120, 50), (37, 50)),   # vertical only
                                        ((5, 5, 9, 7), (3, 20)),         # mixed
                                        ((0, 0, 150, 200), (11, 13))]:   # strong shrink
            part = src.crop((x0, y0, x0 + wd, y0 + h))
            rs_cases.append(((y0, x0, h, wd), (H, W), filt, np.asarray(part.resize((W, H), filt))))
    for k, ((y0, x0, h, wd), (H, W), filt, out) in enumerate(rs_cases):
        assert out.shape == (H, W, 3), (out.shape, H, W)
        w.i32("pre/rs/%d/meta" % k, [y0, x0, h, wd, H, W, int(filt)])
        w.u8("pre/rs/%d/out" % k, out)

    sizes = []
    for h, wd, S in [(300, 451, 256), (451, 300, 256), (150, 200, 72), (224, 224, 256),
                     (333, 500, 224), (500, 333, 224), (1, 7, 5), (7, 1, 5), (480, 640, 256),
                     (427, 640, 232), (299, 299, 299), (100, 301, 3)]:
        oh, ow = TF._compute_resized_output_size((h, wd), [S])
        if h * wd <= 500 * 500:  # and what Resize really does to a PIL image of that size
            got = T.Resize(S)(Image.new("RGB", (wd, h))).size
            assert got == (ow, oh), (got, ow, oh)
        sizes.append([h, wd, S, oh, ow])
    w.i32("pre/size", sizes)

    crops = []
    for h, wd, ch, cw in [(256, 341, 224, 224), (73, 96, 64, 64), (10, 10, 7, 7),
                          (11, 11, 8, 8), (9, 13, 4, 6), (13, 9, 6, 4), (8, 8, 8, 8),
                          (5, 6, 8, 9), (5, 6, 10, 11), (7, 20, 9, 5), (20, 7, 3, 12),
                          (100, 100, 97, 95)]:
        ys, xs = np.mgrid[0:h, 0:wd]
        coords = torch.from_numpy(np.stack([ys + 1, xs + 1]).astype(np.int64))
        c = TF.center_crop(coords, [ch, cw]).numpy()
        assert c.shape == (2, ch, cw)
        r, q = np.argwhere(c[0] > 0)[0]
        top = int(c[0, r, q]) - 1 - int(r)
        left = int(c[1, r, q]) - 1 - int(q)
        exp = np.zeros((2, ch, cw), np.int64)
        for y in range(ch):
            for x in range(cw):
                sy, sx = y + top, x + left
                if 0 <= sy < h and 0 <= sx < wd:
                    exp[:, y, x] = (sy + 1, sx + 1)
        assert np.array_equal(exp, c), (h, wd, ch, cw)  # the whole crop agrees
        crops.append([h, wd, ch, cw, top, left])
    w.i32("pre/crop", crops)

    evals = [(64, 56, 56, Image.BILINEAR), (60, 50, 45, Image.BICUBIC), (40, 44, 50, Image.BILINEAR)]
    for k, (S, ch, cw, filt) in enumerate(evals):
        mode = T.InterpolationMode({Image.BILINEAR: "bilinear", Image.BICUBIC: "bicubic"}[filt])
        t = T.Compose([T.Resize(S, interpolation=mode), T.CenterCrop((ch, cw)), T.ToTensor(),
                       T.Normalize(MEAN, STD)])(src)
        w.i32("pre/eval/%d/meta" % k, [S, ch, cw, int(filt)])
        w.f("pre/eval/%d/out" % k, t.numpy())
    return len(rs_cases), len(evals)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_gradcam_fixtures.py OUT.ccgf")
    print("numpy %s, OpenCV %s, Pillow %s, torch %s, torchvision %s" % (
        np.__version__, cv2.__version__, Image.__version__, torch.__version__,
        torchvision.__version__))
    rng = np.random.default_rng(SEED)
    w = Writer()
    nn = gen_norm(w, rng)
    nr = gen_resize(w, rng)
    gen_combine(w, rng)
    gen_jet(w)
    no = gen_overlay(w, rng)
    nrs, nev = gen_preprocess(w, rng)
    w.write(sys.argv[1])
    print("%s: %d tensors (%d normalisations, %d resizes, %d overlays, %d PIL resizes, "
          "%d eval recipes)" % (sys.argv[1], len(w.items), nn, nr, no, nrs, nev))


if __name__ == "__main__":
    main()
