#!/usr/bin/python3
"""examples/transformers/maps.py — Grad-CAM of the article's ViT-B/16 and Swin-B on a
photo, cnncam's map beside the reference's, as pictures.

No pretrained weights can be downloaded here, so each model gets seeded random
weights that keep every path alive (tests/models/vit_like.py's randomise, as
tests/test_transformers.py does): the maps show where such a network looks, not
where a trained one would. What the pictures prove is the engine: the token maps
cnncam computes from a .ccm file equal, to float rounding, the ones pytorch-grad-cam
1.5 (restated in tests/reference_cams.py) computes from the PyTorch module with the
reshape_transform the seed's main_vit.py and main_swin.py use.

For each model: build it (tests/models/vit_like.py:vit_base_patch16_224 or
swin_like.py:swin_base_patch4_window7_224, the seed's structure and state_dict
keys), save its state_dict, convert it with tools/cnncam-convert --module ...
--weights (the ViT normalised with mean = std = 0.5, as the seed's script does),
explain the photo resized to 224 x 224 with `cnncam cam` (the file's recommended
layer: the last block's norm1 for the ViT, the final norm for the Swin; the top
class), and the same pixels with the restatement. Written to --out-dir:
MODEL.png, photo | cnncam's overlay | the reference's overlay | |difference|
(the last panel scaled so that 1e-5 is white); printed: the class, the layer,
the largest map difference and both timings. Exit status 1 if a map differs
by more than 1e-3 (the tests' tolerance).

  examples/transformers/maps.py [--photo assets/images/chelsea.png] [--models vit,swin]
      [--out-dir examples/transformers] [--seed 0] [--threads 2] [--cnncam build/cnncam]

Needs torch, torchvision, numpy, PIL and OpenCV (the restatement's overlay), as
the tests do; two to three minutes on two cores (most of it the conversion and
PyTorch's backward of two 86M-parameter models).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for p in (os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "models"), os.path.join(ROOT, "tools")):
    sys.path.insert(0, p)
import reference_cams as ref  # noqa: E402
import reference_gradcam  # noqa: E402
import swin_like  # noqa: E402
import vit_like  # noqa: E402
from cnncam_convert import ccm  # noqa: E402
from test_transformers import tokens_to_maps  # noqa: E402

MODELS = {
    "vit": dict(title="ViT-B/16 (the seed's vit_base_patch16_224)", make=vit_like.vit_base_patch16_224,
                module="vit_like.py:vit_base_patch16_224", norm=["--mean", "0.5", "0.5", "0.5",
                                                                   "--std", "0.5", "0.5", "0.5"],
                reshape=tokens_to_maps(1)),
    "swin": dict(title="Swin-B (the seed's swin_base_patch4_window7_224)", make=swin_like.swin_base_patch4_window7_224,
                 module="swin_like.py:swin_base_patch4_window7_224", norm=[], reshape=tokens_to_maps(0)),
}
SIDE = 224
DIFF_WHITE = 1e-5


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.exit("maps.py: exit %d from %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-3000:]))
    return p


def label(img, text):
    """The panel with its caption on a black band above it."""
    out = Image.new("RGB", (img.width, img.height + 18), "black")
    out.paste(img, (0, 18))
    ImageDraw.Draw(out).text((4, 3), text, fill="white")
    return out


def explain(name, spec, rgb, args, work):
    torch.manual_seed(args.seed)
    model = spec["make"]().eval()
    vit_like.randomise(model)
    weights, path = os.path.join(work, name + ".pth"), os.path.join(work, name + ".ccm")
    torch.save(model.state_dict(), weights)
    print(f"{name}: converting {spec['module']}", flush=True)
    run([sys.executable, os.path.join(ROOT, "tools", "cnncam-convert"), "--module",
         os.path.join(ROOT, "tests", "models", spec["module"])] + spec["norm"] + ["--weights", weights, "-o", path])
    meta = ccm.read(path).metadata
    layer, mean, std = meta["gradcam.layer"], meta["input.mean"], meta["input.std"]

    # the reference: the same pixels, normalised as the file says
    x = torch.from_numpy(((np.float32(rgb) / 255 - np.float32(mean)) / np.float32(std)).transpose(2, 0, 1).copy())
    t0 = time.time()
    want = ref.run_cam(model, [layer], x[None], "gradcam", reshape_transform=spec["reshape"])
    t_ref = time.time() - t0
    category = int(np.argmax(want["logits"][0]))

    photo, cam, over = (os.path.join(work, f) for f in ("photo.png", "map.npy", name + "_cnncam.png"))
    Image.fromarray(rgb).save(photo)
    t0 = time.time()
    run([args.cnncam, "cam", "-m", path, "-c", str(category), "--threads", str(args.threads), "--cam-out", cam,
         "-o", over, photo])
    t_ours = time.time() - t0
    got, ref_map = np.load(cam), want["map"][0]
    d = float(np.abs(got - ref_map).max())

    ref_over = reference_gradcam.show_cam_on_image(np.float32(rgb) / 255, ref_map, use_rgb=True)
    diff = np.uint8(np.clip(np.abs(got - ref_map) / DIFF_WHITE, 0, 1) * 255)
    panels = [label(Image.fromarray(rgb), "photo"), label(Image.open(over).convert("RGB"), "cnncam"),
              label(Image.fromarray(ref_over), "pytorch-grad-cam (restated)"),
              label(Image.fromarray(diff).convert("RGB"), f"|d| (white: 1e-5), max {d:.1e}")]
    fig = Image.new("RGB", (sum(p.width for p in panels), panels[0].height + 20), "black")
    for i, p in enumerate(panels):
        fig.paste(p, (i * SIDE, 20))
    ImageDraw.Draw(fig).text((4, 4), f"{spec['title']}, random weights (seed {args.seed}): Grad-CAM of class "
                             f"{category} at {layer}", fill="white")
    fig.save(os.path.join(args.out_dir, name + ".png"))
    print(f"{name}: class {category} at {layer}: map max|d| {d:.2g} (cnncam {t_ours:.2f} s, "
          f"reference {t_ref:.2f} s) -> {os.path.join(args.out_dir, name + '.png')}", flush=True)
    return d


def main():
    ap = argparse.ArgumentParser(description="Grad-CAM of the article's ViT and Swin (seeded random weights) "
                                 "on a photo: cnncam beside pytorch-grad-cam's restatement, as pictures.")
    ap.add_argument("--photo", default=os.path.join(ROOT, "assets", "images", "chelsea.png"),
                    help="the photo, resized to 224 x 224 (default assets/images/chelsea.png)")
    ap.add_argument("--models", default="vit,swin", help="comma-separated: vit, swin (default both)")
    ap.add_argument("--out-dir", default=HERE, help="where MODEL.png goes (default this folder)")
    ap.add_argument("--seed", type=int, default=0, help="torch.manual_seed of the random weights (default 0)")
    ap.add_argument("--threads", type=int, default=2, help="cnncam's threads (default 2)")
    ap.add_argument("--cnncam", default=os.path.join(ROOT, "build", "cnncam"), help="the CLI (default build/cnncam)")
    args = ap.parse_args()
    names = args.models.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error("unknown model %s: choose from %s" % (", ".join(unknown), ", ".join(MODELS)))
    if not os.access(args.cnncam, os.X_OK):
        ap.error(f"{args.cnncam} is not an executable: run make first, or name it with --cnncam")
    rgb = np.asarray(Image.open(args.photo).convert("RGB").resize((SIDE, SIDE), Image.BILINEAR))
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cnncam-transformer-maps.") as work:
        worst = max(explain(n, MODELS[n], rgb, args, work) for n in names)
    return 0 if worst <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
