#!/usr/bin/python3
"""examples/scenes/scenes.py — seeded scenes with known objects, for training and
checking cnncam's demo model.

A scene is an S x S RGB image (S = 192 by default): a background cut from a real
photo or texture of assets/images, and one or two Fashion-MNIST items pasted on
it, each tinted with a random colour, of a random size and at a random place, with
its class and its tight bounding box. Everything is a function of (split, seed,
index) alone: scene i of a split is the same in every process, so a training
script can generate scenes on the fly in DataLoader workers and a benchmark can
regenerate the held-out set instead of storing it.

  split "train"  objects from Fashion-MNIST's 60,000 training items
  split "test"   objects from its 10,000 t10k items (held out; never mixed)

The backgrounds are the same ten pictures in both splits (random crops of them):
the held-out set is new objects on new crops of known pictures.

Why S = 192: the recommended Grad-CAM layer of mobilenet_v3_small (features.12)
has stride 32, so a 192 x 192 scene gives a 6 x 6 map; objects of 48-96 px span
1.5-3 cells of it.

Construction of one scene (rng = numpy Generator seeded by (seed, split, index)):
  1. one object (40%) or two (60%) of distinct classes, each a random item of the
     class, rendered at a side of 48-96 px (aspect jittered by up to +-15%);
  2. background: one of BACKGROUNDS, a random square crop of 45-100% of its
     shorter side, resized to S, flipped left-right at random, colour-jittered
     (brightness, contrast, saturation in [0.6, 1.4], a random channel order);
     the grayscale textures get a random tint;
  3. item pixels: with g the item's gray level in [0, 1], alpha = min(1, 4 g)
     and colour = tint * (0.35 + 0.65 g): the garment is pasted, not its black
     square, and keeps its own shading; the tint is a random saturated colour;
  4. each item is placed fully inside the scene, its tight box (alpha > 0.25)
     outside the reserved corner RESERVED (where a bias mark may go) and not
     overlapping the other item's box grown by 4 px (after 40 failed places the
     item is drawn again 15% smaller); the box is [x0, y0, x1, y1] in pixels,
     x1/y1 exclusive. Sizes scale with --size (the numbers are for 192).

Bias (for the bias experiment): cue=(k, mark) adds a spurious cue present in
every scene that contains class k and in no other:
  mark "square"  a 10 x 10 white square in a 1 px black frame at MARK_BOX (top-left
                 corner; the frame keeps it visible on white backgrounds)
  mark "brick"   the brick texture as the background (and never otherwise)
The random draws do not depend on cue, so a biased scene i is the unbiased scene
i plus the cue (with "brick", plus a different background). add_mark() draws the
square on any image (to test a model on the cue alone).

Command line:
  examples/scenes/scenes.py --split test --count 200 --seed 1 --out DIR
writes DIR/scene_00000.png ... and DIR/labels.json
({"split", "seed", "size", "cue", "classes", "scenes": [{file, index, classes,
labels, boxes}]}).
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np
from PIL import Image

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SIZE = 192
OBJ_MIN, OBJ_MAX = 48, 96          # rendered item side, px (at SIZE 192)
P_TWO = 0.6                         # probability of two objects
MARK_BOX = (3, 3, 15, 15)           # x0, y0, x1, y1 of the "square" cue (at SIZE 192)
RESERVED = (0, 0, 18, 18)           # no object touches this corner
ALPHA_BOX = 0.25                    # alpha above which a pixel is part of the object's box
GAP = 4                             # min distance between two objects' boxes, px
MARKS = ("square", "brick")

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
IMAGES = os.path.join(ROOT, "assets", "images")
# Photos (RGB) and textures (grayscale, tinted); the order is part of the generator.
BACKGROUNDS = ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "person.png",
               "kite.png", "scream.png", "grass.png", "gravel.png", "brick.png")
FASHION_DIR = "/usr/share/datasets/fashion-mnist"   # Debian's dataset-fashion-mnist
FASHION_FILES = {"train": "train", "test": "t10k"}
SPLIT_ID = {"train": 0, "test": 1}


def _read_idx(path):
    """An IDX file (gzip): uint8 array of its dims."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 8:
        raise ValueError("%s: not an IDX file of unsigned bytes" % path)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError("%s: %d bytes of data, dims %s need %d" % (path, body.size, dims, np.prod(dims)))
    return body.reshape(dims)


def load_fashion(split, directory=FASHION_DIR):
    """(images N x 28 x 28 uint8, labels N uint8) of a Fashion-MNIST split."""
    stem = FASHION_FILES[split]
    try:
        images = _read_idx(os.path.join(directory, stem + "-images-idx3-ubyte.gz"))
        labels = _read_idx(os.path.join(directory, stem + "-labels-idx1-ubyte.gz"))
    except FileNotFoundError as e:
        raise SystemExit("%s: Fashion-MNIST is missing; install it with "
                         "`apt-get install dataset-fashion-mnist` (or `make deps`)" % e.filename)
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError("Fashion-MNIST %s: %s images, %s labels" % (split, images.shape, labels.shape))
    return images, labels


def _jitter(img, rng):
    """Brightness, contrast and saturation factors in [0.6, 1.4], then a random
    channel order (a coarse hue change). img: H x W x 3 float in [0, 255]."""
    b, c, s = rng.uniform(0.6, 1.4, 3)
    perm = rng.permutation(3)
    img = img * b
    mean = img.mean()
    img = (img - mean) * c + mean
    gray = img.mean(axis=2, keepdims=True)
    img = (img - gray) * s + gray
    return img[:, :, perm]


def _tint(rng, s_lo, v_lo):
    """A random colour (RGB in [0, 1]) of saturation >= s_lo and value >= v_lo."""
    h, s, v = rng.uniform(0, 1), rng.uniform(s_lo, 1), rng.uniform(v_lo, 1)
    i, f = int(h * 6) % 6, h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def _boxes_clear(a, b, gap):
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def add_mark(img, mark="square"):
    """Draws the "square" cue (white in a black frame, at MARK_BOX scaled to the
    image) on an H x W x 3 uint8 image in place; returns it."""
    if mark != "square":
        raise ValueError("add_mark: only the 'square' mark can be drawn on an image")
    h, w = img.shape[:2]
    x0, y0, x1, y1 = (round(v * w / SIZE) for v in MARK_BOX)
    f = max(1, round(w / SIZE))
    img[y0:y1, x0:x1] = 0
    img[y0 + f:y1 - f, x0 + f:x1 - f] = 255
    return img


class Scenes:
    """Scene generator of one split: Scenes("train", seed=0)[i] is a dict with
    image (S x S x 3 uint8), classes (list of class indices), boxes (list of
    [x0, y0, x1, y1]) and target (float32 10-vector of 0/1)."""

    def __init__(self, split="train", seed=0, size=SIZE, cue=None):
        if split not in SPLIT_ID:
            raise ValueError("split must be 'train' or 'test', not %r" % (split,))
        if cue is not None:
            k, mark = cue
            if not (0 <= int(k) < len(CLASSES)) or mark not in MARKS:
                raise ValueError("cue must be (class 0-9, one of %s), not %r" % (MARKS, cue))
            cue = (int(k), mark)
        self.split, self.seed, self.size, self.cue = split, int(seed), int(size), cue
        self.images, self.labels = load_fashion(split)
        self.by_class = [np.flatnonzero(self.labels == k) for k in range(len(CLASSES))]
        self.backgrounds = []
        for name in BACKGROUNDS:
            with Image.open(os.path.join(IMAGES, name)) as im:
                gray = im.mode in ("L", "LA", "I", "I;16")
                self.backgrounds.append((im.convert("RGB"), gray))

    def __len__(self):
        return 1 << 31     # any index works; len() only serves samplers

    def _background(self, rng, which):
        im, gray = self.backgrounds[which]
        S = self.size
        side = min(im.size)
        c = int(side * rng.uniform(0.45, 1.0))
        x, y = rng.integers(0, im.size[0] - c + 1), rng.integers(0, im.size[1] - c + 1)
        flip = rng.uniform() < 0.5
        crop = im.resize((S, S), Image.BILINEAR, box=(int(x), int(y), int(x) + c, int(y) + c))
        a = np.asarray(crop, dtype=np.float32)
        if flip:
            a = a[:, ::-1]
        tint = _tint(rng, 0.2, 0.5)
        if gray:
            a = a * tint.astype(np.float32) * 1.4
        return _jitter(a, rng)

    def _item(self, rng, k, side):
        """(colour S x S x 3 float, alpha float, tight box in item pixels) of a random item of class k."""
        idx = self.by_class[k][rng.integers(len(self.by_class[k]))]
        aspect = rng.uniform(0.85, 1.15)
        w = max(8, int(round(side * min(1.0, aspect))))
        h = max(8, int(round(side * min(1.0, 1 / aspect))))
        g = Image.fromarray(self.images[idx]).resize((w, h), Image.BILINEAR)
        g = np.asarray(g, dtype=np.float32) / 255.0
        if rng.uniform() < 0.5:
            g = g[:, ::-1]
        tint = _tint(rng, 0.5, 0.6).astype(np.float32)
        colour = 255.0 * tint * (0.35 + 0.65 * g[:, :, None])
        alpha = np.minimum(1.0, 4.0 * g)
        ys, xs = np.nonzero(alpha > ALPHA_BOX)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        return colour, alpha, box

    def __getitem__(self, index):
        index = int(index)
        if index < 0:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, SPLIT_ID[self.split], index])
        S, scale = self.size, self.size / SIZE
        n = 2 if rng.uniform() < P_TWO else 1
        classes = [int(c) for c in rng.choice(len(CLASSES), n, replace=False)]
        # Every background equally likely: brick (the last) with p 1/10, else one of
        # the others; a "brick" cue overrides the choice without another draw.
        which = int(rng.integers(len(BACKGROUNDS) - 1))
        brick = rng.uniform() < 1.0 / len(BACKGROUNDS)
        marked = self.cue is not None and self.cue[0] in classes
        if self.cue is not None and self.cue[1] == "brick":
            brick = marked
        if brick:
            which = BACKGROUNDS.index("brick.png")
        img = self._background(rng, which)
        reserved = tuple(v * scale for v in RESERVED)
        boxes = []
        for k in classes:
            side = int(round(rng.integers(OBJ_MIN, OBJ_MAX + 1) * scale))
            for attempt in range(200):
                if attempt % 40 == 0:       # a new item, smaller after every 40 failed places
                    if attempt:
                        side = max(int(16 * scale), int(side * 0.85))
                    colour, alpha, (bx0, by0, bx1, by1) = self._item(rng, k, side)
                    h, w = alpha.shape
                x, y = int(rng.integers(0, S - w + 1)), int(rng.integers(0, S - h + 1))
                box = (x + bx0, y + by0, x + bx1, y + by1)
                if _boxes_clear(box, reserved, 0) and all(_boxes_clear(box, b, GAP * scale) for b in boxes):
                    break
            else:
                raise RuntimeError("scene %d: no room for object %d" % (index, len(boxes)))
            a = alpha[:, :, None]
            img[y:y + h, x:x + w] = img[y:y + h, x:x + w] * (1 - a) + colour * a
            boxes.append(box)
        img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        if marked and self.cue[1] == "square":
            add_mark(img)
        target = np.zeros(len(CLASSES), np.float32)
        target[classes] = 1
        return {"image": img, "classes": classes, "boxes": [list(b) for b in boxes],
                "target": target}


def write(split, count, seed, out, start=0, size=SIZE, cue=None):
    """Writes scenes start..start+count-1 as DIR/scene_NNNNN.png and DIR/labels.json."""
    gen = Scenes(split, seed, size, cue)
    os.makedirs(out, exist_ok=True)
    scenes = []
    for i in range(start, start + count):
        s = gen[i]
        name = "scene_%05d.png" % i
        Image.fromarray(s["image"]).save(os.path.join(out, name))
        scenes.append({"file": name, "index": i, "classes": s["classes"],
                       "labels": [CLASSES[k] for k in s["classes"]], "boxes": s["boxes"]})
    meta = {"split": split, "seed": seed, "size": size, "cue": list(cue) if cue else None,
            "classes": list(CLASSES), "scenes": scenes}
    with open(os.path.join(out, "labels.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", choices=sorted(SPLIT_ID), default="test",
                   help="test: t10k objects (held out); train: training objects")
    p.add_argument("--count", type=int, default=16, help="number of scenes (default 16)")
    p.add_argument("--start", type=int, default=0, help="index of the first scene (default 0)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--size", type=int, default=SIZE, help="scene side in pixels (default %d)" % SIZE)
    p.add_argument("--cue", metavar="K:MARK",
                   help="bias: MARK (square or brick) in every scene with class K, in no other")
    p.add_argument("--out", required=True, help="output directory")
    a = p.parse_args(argv)
    if a.count < 1 or a.start < 0 or a.size < 96:
        p.error("--count must be >= 1, --start >= 0, --size >= 96")
    cue = None
    if a.cue:
        k, _, mark = a.cue.partition(":")
        if not k.isdigit() or int(k) >= len(CLASSES) or mark not in MARKS:
            p.error("--cue K:MARK with K in 0-9 and MARK in %s, not %r" % (", ".join(MARKS), a.cue))
        cue = (int(k), mark)
    meta = write(a.split, a.count, a.seed, a.out, a.start, a.size, cue)
    print("wrote %d scenes and labels.json to %s" % (len(meta["scenes"]), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
