"""bench/pytorch_gradcam.py — the cost structure of pytorch-grad-cam 1.5's
`GradCAM(model, target_layers)(input)` restated (the package is on PyPI only,
which these machines cannot reach), for the benchmark's "what Python users run"
column: a forward hook on each target layer keeps its output (on the CPU,
detached) and hooks its gradient; the call runs the forward, takes the top
class, zeroes the model's parameter gradients, runs loss.backward(retain_graph
=True) through the whole network (parameter gradients included, as the
package's models require grad), then computes the maps in numpy and resizes
them with OpenCV (tests/reference_gradcam.py, checked against cnncam by the
tests). For a transformer the layer's tokens go through the reshape transform
of pytorch-grad-cam's tutorials first (reshape_transform_for)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from reference_gradcam import aggregate, scale_cam_image  # noqa: E402


def reshape_transform_for(arch):
    """The reshape transform a pytorch-grad-cam user passes for a torchvision
    transformer (its ViT tutorial's, and channels first for Swin's N x H x W x C
    norm), or None for a CNN."""
    if arch.startswith("vit_"):
        def tokens(t):
            side = int(round((t.size(1) - 1) ** 0.5))
            return t[:, 1:, :].reshape(t.size(0), side, side, t.size(2)).permute(0, 3, 1, 2)
        return tokens
    if arch.startswith("swin_"):
        return lambda t: t.permute(0, 3, 1, 2)
    return None


class GradCAM:
    def __init__(self, model, target_layers, reshape_transform=None):
        self.model = model.eval()
        self.reshape = reshape_transform or (lambda t: t)
        self.activations, self.gradients = [], []
        for layer in target_layers:
            layer.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.activations.append(self.reshape(output).cpu().detach())
        if output.requires_grad:
            output.register_hook(lambda g: self.gradients.insert(0, self.reshape(g).cpu().detach()))

    def __call__(self, x, classes=None):
        """Maps (N x H x W, float32 in [0, 1]) of classes (default: each image's top class)."""
        self.activations, self.gradients = [], []
        out = self.model(x)
        if classes is None:
            classes = np.argmax(out.cpu().data.numpy(), axis=-1)
        self.model.zero_grad()
        loss = sum(out[i, c] for i, c in enumerate(classes))
        loss.backward(retain_graph=True)
        size = (x.shape[-1], x.shape[-2])
        per_layer = []
        for a, g in zip(self.activations, self.gradients):
            a, g = a.numpy(), g.numpy()
            cam = np.maximum((np.mean(g, axis=(2, 3))[:, :, None, None] * a).sum(axis=1), 0)
            per_layer.append(scale_cam_image(cam, size))
        return np.stack([aggregate([m[i:i + 1] for m in per_layer]) for i in range(len(x))])
