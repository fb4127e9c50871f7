"""What guided backpropagation and FullGrad take from a model, restated from
pytorch-grad-cam 1.5 (pytorch_grad_cam/guided_backprop.py, fullgrad_cam.py,
utils/find_layers.py; /work/shared/CAM_METHODS.md sections 2.15 and 2.20), so
the tests compare cnncam with what users get in Python. The package itself is
not installed here. Used by tests/gen_guided_fixtures.py."""
import torch
import torch.nn as nn


class GuidedReLU(torch.autograd.Function):
    """GuidedBackpropReLU: forward x [x > 0]; backward dy [x > 0] [dy > 0]."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * (x > 0).type_as(x)

    @staticmethod
    def backward(ctx, dy):
        x, = ctx.saved_tensors
        return dy * (x > 0).type_as(dy) * (dy > 0).type_as(dy)


class GuidedReLUModule(nn.Module):
    def forward(self, x):
        return GuidedReLU.apply(x)


def replace_modules(model, old_type, make_new):
    """replace_all_layer_type_recursive: every submodule that isinstance(old_type)."""
    for name, child in model._modules.items():
        if isinstance(child, old_type):
            model._modules[name] = make_new()
        else:
            replace_modules(child, old_type, make_new)


def guided_backprop(model, x, category):
    """GuidedBackpropReLUModel(model)(x, category): every nn.ReLU module
    instance patched (F.relu and torch.relu calls in forward are not), one
    forward, out[0, category].backward(), x.grad[0] (C x H x W here, not the
    reference's H x W x C transpose); then fresh nn.ReLU modules, as the
    reference puts back."""
    replace_modules(model, nn.ReLU, GuidedReLUModule)
    try:
        x = x.detach().clone().requires_grad_(True)
        model(x)[0, category].backward()
    finally:
        replace_modules(model, GuidedReLUModule, nn.ReLU)
    return x.grad[0]


def bias_layers(model):
    """FullGrad's bias layers: a pre-order walk of the modules in registration
    order, exact type Conv2d or BatchNorm2d, with a bias (find_layer_types_recursive)."""
    found = []
    for child in model._modules.values():
        if type(child) in (nn.Conv2d, nn.BatchNorm2d) and child.bias is not None:
            found.append(child)
        found.extend(bias_layers(child))
    return found


def output_gradients(model, modules, x, category):
    """d out[0, category] / d (each module's output), captured as
    ActivationsAndGradients does (a tensor hook on the output, so a later
    in-place op such as ReLU(inplace=True) does not change what is captured),
    and d out[0, category] / d x."""
    grads = {}

    def hook(module, _, out):
        out.register_hook(lambda g, m=module: grads.__setitem__(m, g.detach().clone()))

    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        x = x.detach().clone().requires_grad_(True)
        model(x)[0, category].backward()
    finally:
        for h in handles:
            h.remove()
    return [grads[m] for m in modules], x.grad
