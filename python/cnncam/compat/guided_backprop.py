"""cnncam/compat/guided_backprop.py — pytorch-grad-cam's GuidedBackpropReLUModel,
computed by cnncam (cnncam.Model.guided_backprop).

    gb = GuidedBackpropReLUModel(model=net, device=None)(x, target_category=None)   # H x W x C float32

The gradient of out[0, c] with respect to the input for the first image,
every nn.ReLU module passing only positive gradients to positive inputs
(F.relu calls and other activations are not guided, as in the reference;
extended=True guides ReLU6, Hardswish, Hardsigmoid, SiLU and Sigmoid
modules too). target_category None: the first image's top class (the
reference's argmax over the flattened output, the same for a batch of one).
Unlike the reference, the model is not patched and the caller's tensor gets
no requires_grad or .grad (which the reference accumulates over calls).
"""
import torch

from . import _cache


class GuidedBackpropReLUModel:
    def __init__(self, model, device=None, *, extended=False, threads=None):
        self.model = model
        self.model.eval()
        self.device = torch.device(device) if device is not None else None
        self.extended = extended
        self.threads = threads

    def forward(self, input_img):
        return self.model(input_img)

    def __call__(self, input_img, target_category=None):
        x = _cache.as_batch(input_img)[:1]
        m = _cache.model_for(self.model, x.shape[1:])
        threads = self.threads if self.threads is not None else max(1, min(256, torch.get_num_threads()))
        classes = None if target_category is None else int(target_category)
        return m.guided_backprop(x, classes=classes, extended=self.extended, threads=threads)[0]
