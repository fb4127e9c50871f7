#!/usr/bin/python3
"""bench/torch_gradcam.py — what a Python user runs today for one Grad-CAM
overlay, used by `make bench` as the whole-process comparison for
`cnncam cam -o`: start Python, import torch, build the torchvision model and
load its weights, read the image, one pytorch-grad-cam GradCAM call (restated
in bench/pytorch_gradcam.py; the package is not in Debian), show_cam_on_image,
write the PNG.

  bench/torch_gradcam.py ARCH WEIGHTS.pth LAYER IMAGE OUT.png THREADS
"""
import os
import sys

import cv2
import numpy as np
import torch
import torchvision
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from pytorch_gradcam import GradCAM, reshape_transform_for  # noqa: E402
from reference_gradcam import show_cam_on_image  # noqa: E402

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def main(arch, weights, layer, image, out, threads):
    torch.set_num_threads(int(threads))
    net = getattr(torchvision.models, arch)(weights=None)
    net.load_state_dict(torch.load(weights))
    net.eval()
    rgb = np.float32(np.asarray(Image.open(image).convert("RGB"))) / 255
    x = torch.from_numpy(((rgb - MEAN) / STD).astype(np.float32).transpose(2, 0, 1)[None].copy())
    cam = GradCAM(net, [dict(net.named_modules())[layer]], reshape_transform_for(arch))(x)[0]
    overlay = show_cam_on_image(rgb, cam, use_rgb=True)
    cv2.imwrite(out, cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    sys.exit(main(*sys.argv[1:]))
