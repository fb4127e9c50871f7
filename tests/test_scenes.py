#!/usr/bin/python3
"""The scene generator behind the demo model and the localisation benchmark
(examples/scenes/scenes.py): scenes are a function of (split, seed, index)
alone, boxes are valid, and a bias cue is
present exactly in the scenes that contain its class. Prints one line per
check and "scenes: N passed, N failed"."""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "scenes"))
import scenes  # noqa: E402

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")


def overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def main():
    train, test = scenes.Scenes("train", seed=5), scenes.Scenes("test", seed=5)
    a, b = train[17], scenes.Scenes("train", seed=5)[17]
    check("scene i is the same from two generators", np.array_equal(a["image"], b["image"])
          and a["classes"] == b["classes"] and a["boxes"] == b["boxes"])
    check("another index, seed or split gives another scene",
          not np.array_equal(a["image"], train[18]["image"])
          and not np.array_equal(a["image"], scenes.Scenes("train", seed=6)[17]["image"])
          and not np.array_equal(a["image"], test[17]["image"]))
    check("train and test draw objects from disjoint Fashion-MNIST splits",
          len(train.images) == 60000 and len(test.images) == 10000)

    bad, counts, cls_seen = [], {1: 0, 2: 0}, set()
    S = scenes.SIZE
    for i in range(300):
        s = test[i]
        img, cl, boxes = s["image"], s["classes"], s["boxes"]
        counts[len(cl)] = counts.get(len(cl), 0) + 1
        cls_seen.update(cl)
        if img.shape != (S, S, 3) or img.dtype != np.uint8:
            bad.append((i, "image shape"))
        if len(set(cl)) != len(cl) or len(boxes) != len(cl):
            bad.append((i, "classes/boxes"))
        for (x0, y0, x1, y1) in boxes:
            if not (0 <= x0 < x1 <= S and 0 <= y0 < y1 <= S) or overlap((x0, y0, x1, y1), scenes.RESERVED):
                bad.append((i, "box outside the scene or in the reserved corner"))
        if len(boxes) == 2 and overlap(boxes[0], boxes[1]):
            bad.append((i, "boxes overlap"))
        if list(np.flatnonzero(s["target"])) != sorted(cl):
            bad.append((i, "target"))
    check("300 held-out scenes: valid images, distinct classes, boxes inside, apart, off the corner",
          not bad, str(bad[:5]))
    check("one and two objects both occur, every class occurs",
          counts[1] > 60 and counts[2] > 120 and cls_seen == set(range(10)), f"{counts}, {sorted(cls_seen)}")

    cue = scenes.Scenes("test", seed=5, cue=(3, "square"))
    wrong = []
    for i in range(200):
        s, plain = cue[i], test[i]
        x0, y0, x1, y1 = scenes.MARK_BOX
        patch = s["image"][y0:y1, x0:x1]  # the mark: a black frame around white
        marked = bool((patch[1:-1, 1:-1] == 255).all() and (patch[0] == 0).all() and (patch[-1] == 0).all())
        if marked != (3 in s["classes"]):
            wrong.append(i)
        if s["classes"] != plain["classes"] or s["boxes"] != plain["boxes"]:
            wrong.append(("draws differ", i))
    check("square cue: present exactly in the scenes with class 3; the rest of the scene unchanged",
          not wrong, str(wrong[:5]))
    brick = scenes.Scenes("test", seed=5, cue=(3, "brick"))
    same = all(brick[i]["classes"] == test[i]["classes"] and brick[i]["boxes"] == test[i]["boxes"]
               for i in range(50))
    check("brick cue: the same classes and boxes as the unbiased scenes", same)
    passed = sum(results)
    print(f"scenes: {passed} passed, {len(results) - passed} failed")
    return 0 if results and all(results) else 1   # nothing checked: a failure


if __name__ == "__main__":
    sys.exit(main())
