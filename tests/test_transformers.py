#!/usr/bin/python3
"""The transformers of issue 16 through the converter and the engine, against PyTorch.

Models: torchvision's vit_b_16, swin_t and convnext_tiny (--arch), and the article's
ViT-B/16 and Swin-B configurations (--module tests/models/vit_like.py and swin_like.py,
which have the seed's structure and state_dict keys; the ViT normalised with mean = std =
0.5 as the seed's main_vit.py does). Each gets random weights (seeded) that keep every
path alive, the traps of ../shared/TRANSFORMERS.md avoided: vit_b_16's zero head and
convnext's 1e-6 layer scale are re-drawn (vit_like.randomise), then is saved as a
state_dict and converted with --weights, which specialises the graph to 224 x 224.

On one real photo (resized to 224 x 224, normalised as the file says; the same .npy
bits go to both engines), checked:
  * logits: max|d| <= 1e-4 * max(1, max|logit|), the same top-1;
  * Grad-CAM at the file's recommended layer (the last block's first norm for the ViTs,
    the final norm for the Swins, the last stage for ConvNeXt) for the top class,
    against tests/reference_cams.py (pytorch-grad-cam 1.5 restated) with the reshape
    transform its tutorials and the seed's scripts use: the map within 1e-3, the layer's
    activation and gradient as C x h x w (--act-out, --grad-out) within 1e-4 relative;
  * one other method per model at that layer (map within 1e-3), and Grad-CAM at an
    inner layer named with -l;
  * cnncam info shows the recommended layer's C x h x w map, and for the ViTs warns that
    the final norm's maps are blank; a 160 x 120 tensor is refused with the fix named.

Usage: tests/test_transformers.py [MODEL ...]
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "models"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import reference_cams as ref  # noqa: E402
import swin_like  # noqa: E402
import vit_like  # noqa: E402
from tally import check, run  # noqa: E402
from cnncam_convert import ccm  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("CNNCAM_BUILD", "build"))
CNNCAM = os.path.join(BUILD, "cnncam")
CONVERT = os.path.join(ROOT, "tools", "cnncam-convert")
PHOTO = os.path.join(ROOT, "assets", "images", "chelsea.png")
TOL_LOGITS, TOL_MAP, TOL_REL = 1e-4, 1e-3, 1e-4


def tokens_to_maps(prefix):
    """B x (prefix + h w) x C tokens -> B x C x h x w on a square grid: drop the prefix
    (class) tokens, fold the patch tokens into the grid, channels first."""
    def transform(t):
        side = int(round((t.size(1) - prefix) ** 0.5))
        return t[:, prefix:, :].reshape(t.size(0), side, side, t.size(2)).permute(0, 3, 1, 2)
    return transform


def channels_first(t):
    """B x h x w x C (torchvision's Swin) -> B x C x h x w."""
    return t.permute(0, 3, 1, 2)


# name -> how to build it, how to convert it, its reshape transform, an inner layer, another method
MODELS = {
    "vit_b_16": dict(make=lambda: torchvision.models.vit_b_16(), convert=["--arch", "vit_b_16"],
                     reshape=tokens_to_maps(1), inner="encoder.layers.encoder_layer_6.ln_1",
                     method="gradcam++", blank="encoder.ln"),
    "swin_t": dict(make=lambda: torchvision.models.swin_t(), convert=["--arch", "swin_t"],
                   reshape=channels_first, inner="features.5.3.norm1", method="xgradcam"),
    "convnext_tiny": dict(make=lambda: torchvision.models.convnext_tiny(), convert=["--arch", "convnext_tiny"],
                          reshape=None, inner="features.5", method="hirescam"),
    "seed_vit": dict(make=vit_like.vit_base_patch16_224,
                     convert=["--module", os.path.join(HERE, "models", "vit_like.py") + ":vit_base_patch16_224",
                              "--mean", "0.5", "0.5", "0.5", "--std", "0.5", "0.5", "0.5"],
                     reshape=tokens_to_maps(1), inner="blocks.5.norm1", method="layercam", blank="norm"),
    "seed_swin": dict(make=swin_like.swin_base_patch4_window7_224,
                      convert=["--module", os.path.join(HERE, "models", "swin_like.py") + ":swin_base_patch4_window7_224"],
                      reshape=tokens_to_maps(0), inner="layers.2.blocks.17.norm1", method="gradcam++"),
}


def rel(a, b):
    return float(np.abs(np.float64(a) - b).max() / max(np.abs(b).max(), 1e-30))


def photo_tensor(mean, std):
    rgb = np.asarray(Image.open(PHOTO).convert("RGB").resize((224, 224), Image.BILINEAR))
    t = torch.from_numpy((np.float32(rgb) / 255).transpose(2, 0, 1).copy())
    m = torch.tensor(mean, dtype=torch.float32)[:, None, None]
    s = torch.tensor(std, dtype=torch.float32)[:, None, None]
    return ((t - m) / s)[None]


def cnncam(path, x_npy, out, args):
    files = {k: os.path.join(out, k + ".npy") for k in ("logits", "map", "act", "grad")}
    for f in files.values():
        if os.path.exists(f):
            os.remove(f)
    cmd = [CNNCAM, "cam", "-m", path, "--threads", "2", "--logits-out", files["logits"], "--cam-out", files["map"],
           "--act-out", files["act"], "--grad-out", files["grad"]] + args + [x_npy]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("exit %d: %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
    return {k: np.load(f) if os.path.exists(f) else None for k, f in files.items()}, time.time() - t0, p.stderr


def check_model(name, spec, workdir, seed):
    torch.manual_seed(seed)
    model = spec["make"]().eval()
    vit_like.randomise(model)
    weights, path = os.path.join(workdir, name + ".pth"), os.path.join(workdir, name + ".ccm")
    torch.save(model.state_dict(), weights)
    t0 = time.time()
    p = subprocess.run([CONVERT] + spec["convert"] + ["--weights", weights, "-o", path], capture_output=True, text=True)
    if not check(f"{name}: converts ({time.time() - t0:.0f} s)", p.returncode == 0, p.stderr[-2000:]):
        return
    os.remove(weights)
    meta = ccm.read(path).metadata
    layer = meta["gradcam.layer"]
    x = photo_tensor(meta["input.mean"], meta["input.std"])
    x_npy = os.path.join(workdir, "x.npy")
    np.save(x_npy, x[0].numpy())
    out = os.path.join(workdir, "out")
    os.makedirs(out, exist_ok=True)

    want = ref.run_cam(model, [layer], x, "gradcam", reshape_transform=spec["reshape"])
    z = want["logits"][0]
    cls = int(np.argmax(z))
    got, seconds, _ = cnncam(path, x_npy, out, ["-c", str(cls)])
    d = float(np.abs(got["logits"][0] - z).max())
    tol = TOL_LOGITS * max(1.0, float(np.abs(z).max()))
    check(f"{name}: logits max|d| {d:.2g} (tol {tol:.2g}), top-1 {int(np.argmax(got['logits'][0]))} vs {cls}",
          d <= tol and int(np.argmax(got["logits"][0])) == cls)
    A, G = want["layers"][0]["A"][0], want["layers"][0]["G"][0]
    check(f"{name} {layer}: activation as {'x'.join(map(str, A.shape))}, rel {rel(got['act'], A):.2g}",
          got["act"].shape == A.shape and rel(got["act"], A) <= TOL_REL)
    check(f"{name} {layer}: gradient rel {rel(got['grad'], G):.2g}",
          got["grad"].shape == G.shape and rel(got["grad"], G) <= TOL_REL)
    d = float(np.abs(got["map"] - want["map"][0]).max())
    check(f"{name} {layer} gradcam: map max|d| {d:.2g} ({seconds:.1f} s)", d <= TOL_MAP)

    for label, layers, method in ((spec["method"], layer, spec["method"]), ("gradcam -l", spec["inner"], "gradcam")):
        w = ref.run_cam(model, [layers], x, method, targets=[ref.make_target("logit", cls)],
                        reshape_transform=spec["reshape"])
        g, seconds, _ = cnncam(path, x_npy, out, ["-c", str(cls), "--method", method, "-l", layers])
        d = float(np.abs(g["map"] - w["map"][0]).max())
        check(f"{name} {layers} {method}: map max|d| {d:.2g} ({seconds:.1f} s)", d <= TOL_MAP)

    info = subprocess.run([CNNCAM, "info", path], capture_output=True, text=True).stdout
    row = next((line for line in info.splitlines() if line.split()[:1] == [layer] or
                line.strip().startswith(layer + " ")), "")
    shape = "x".join(map(str, A.shape))
    check(f"{name}: cnncam info shows {layer}'s {shape} map", spec["reshape"] is None or f"map {shape}" in row
          or f"map {shape}" in info, row)
    if "blank" in spec:
        lines = info.splitlines()
        i = next((k for k, line in enumerate(lines) if line.split()[:1] == [spec["blank"]]), None)
        check(f"{name}: cnncam info warns that {spec['blank']}'s maps are blank",
              i is not None and "blank" in lines[i + 1])
        _, _, err = cnncam(path, x_npy, out, ["-l", spec["blank"]])
        check(f"{name}: cam -l {spec['blank']} warns", "blank" in err, err)
    np.save(x_npy, x[0, :, :120, :160].numpy())
    p = subprocess.run([CNNCAM, "cam", "-m", path, "--cam-out", os.path.join(out, "no.npy"), x_npy],
                       capture_output=True, text=True)
    check(f"{name}: a 160x120 tensor is refused (exit {p.returncode})", p.returncode != 0 and
          "224x224" in p.stderr and not os.path.exists(os.path.join(out, "no.npy")), p.stderr)
    os.remove(path)


def main():
    names = sys.argv[1:] or list(MODELS)
    workdir = tempfile.mkdtemp(prefix="cnncam-transformers-")

    def body():
        for seed, name in enumerate(names):
            check_model(name, MODELS[name], workdir, seed)
    return run("transformers", body, workdir)


if __name__ == "__main__":
    sys.exit(main())
