"""tests/reference_classes.py — pytorch-grad-cam 1.5's public classes, as a
script meets them, over tests/reference_cams.py (the PyTorch restatement of
the library's arithmetic): a thin layer of names and signatures, no
arithmetic of its own, so that one pytorch-grad-cam-style script can run
against this restatement and against cnncam.compat.

    from reference_classes import GradCAM, model_targets, image
    cam = GradCAM(model=net, target_layers=[net.layer4])
    maps = cam(input_tensor=x, targets=[model_targets.ClassifierOutputTarget(281)])

Each class keeps the library's constructor and call signatures:
  BaseCAM subclasses (model, target_layers, reshape_transform=None, ...)
      __call__(input_tensor, targets, aug_smooth=False, eigen_smooth=False);
      only aug_smooth=True itself augments, as the library's `is True`
  ScoreCAM: the attribute batch_size (unset: 16); AblationCAM(...,
      batch_size=32, ratio_channels_to_ablate=1.0); KPCA_CAM(..., kernel,
      gamma); FEM(..., k=2: the restatement's only k); FinerCAM.forward(
      input_tensor, targets=None, eigen_smooth=False, alpha=1,
      comparison_categories=[1, 2, 3]); GuidedBackpropReLUModel(model,
      device=None)(input_img, target_category=None)
and two keywords of the restatement the library does not have:
  eigen_sign (run_cam's: None is LAPACK's sign, the library's) and
  ablation_sort (AblationCAM's tie order for ratio < 1: None is numpy's
  quicksort, the library's; "stable" is cnncam's).
reshape_transform goes to run_cam, which applies it to each target layer's
output and gradient, as the library's ActivationsAndGradients does.

model_targets: the four classifier targets (run_cam's make_target).
image: show_cam_on_image, deprocess_image, scale_cam_image
(tests/reference_gradcam.py, OpenCV's calls) and preprocess_image
(torchvision's ToTensor + Normalize, as utils/image.py composes them).
"""
import os
import sys
import types

from torchvision.transforms import Compose, Normalize, ToTensor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_cams as ref  # noqa: E402
import reference_gradcam  # noqa: E402


class _CAM:
    method = None

    def __init__(self, model, target_layers, reshape_transform=None, eigen_sign=None, **options):
        self.reshape_transform = reshape_transform
        self.model = model.eval()
        self.target_layers = list(target_layers)
        self.eigen_sign = eigen_sign
        self.options = options

    def _run(self, input_tensor, targets, aug_smooth, eigen_smooth, **more):
        opts = dict(self.options, **more)
        return ref.run_cam(self.model, self.target_layers, input_tensor, self.method, targets=targets,
                           aug_smooth=aug_smooth is True, eigen_smooth=bool(eigen_smooth),
                           eigen_sign=self.eigen_sign, reshape_transform=self.reshape_transform, **opts)["map"]

    def __call__(self, input_tensor, targets=None, aug_smooth=False, eigen_smooth=False):
        return self._run(input_tensor, targets, aug_smooth, eigen_smooth)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        return None


def _method(name, cls_name):
    return type(cls_name, (_CAM,), {"method": name, "__doc__": "pytorch-grad-cam's %s (run_cam %r)" % (cls_name, name)})


GradCAM = _method("gradcam", "GradCAM")
HiResCAM = _method("hirescam", "HiResCAM")
GradCAMElementWise = _method("gradcamelementwise", "GradCAMElementWise")
GradCAMPlusPlus = _method("gradcam++", "GradCAMPlusPlus")
XGradCAM = _method("xgradcam", "XGradCAM")
LayerCAM = _method("layercam", "LayerCAM")
EigenCAM = _method("eigencam", "EigenCAM")
EigenGradCAM = _method("eigengradcam", "EigenGradCAM")
SegEigenCAM = _method("segeigencam", "SegEigenCAM")
RandomCAM = _method("randomcam", "RandomCAM")


class ScoreCAM(_CAM):
    method = "scorecam"

    def __call__(self, input_tensor, targets=None, aug_smooth=False, eigen_smooth=False):
        return self._run(input_tensor, targets, aug_smooth, eigen_smooth, batch_size=getattr(self, "batch_size", None))


class AblationCAM(_CAM):
    method = "ablationcam"

    def __init__(self, model, target_layers, reshape_transform=None, ablation_layer=None, batch_size=32,
                 ratio_channels_to_ablate=1.0, eigen_sign=None, ablation_sort=None):
        super().__init__(model, target_layers, reshape_transform, eigen_sign)
        self.batch_size, self.ratio_channels_to_ablate, self.ablation_sort = \
            batch_size, ratio_channels_to_ablate, ablation_sort

    def __call__(self, input_tensor, targets=None, aug_smooth=False, eigen_smooth=False):
        return self._run(input_tensor, targets, aug_smooth, eigen_smooth, batch_size=self.batch_size,
                         ratio_channels_to_ablate=self.ratio_channels_to_ablate, ablation_sort=self.ablation_sort)


class KPCA_CAM(_CAM):
    method = "kpcacam"

    def __init__(self, model, target_layers, reshape_transform=None, kernel="sigmoid", gamma=None, eigen_sign=None):
        super().__init__(model, target_layers, reshape_transform, eigen_sign, kpca_kernel=kernel, kpca_gamma=gamma)


class FEM(_CAM):
    method = "fem"

    def __init__(self, model, target_layers, reshape_transform=None, k=2, eigen_sign=None):
        if k != 2:
            raise NotImplementedError("reference_classes: FEM is restated for k = 2 only")
        super().__init__(model, target_layers, reshape_transform, eigen_sign)


class FullGrad(_CAM):
    method = "fullgrad"

    def __init__(self, model, target_layers, reshape_transform=None, eigen_sign=None):
        super().__init__(model, [], reshape_transform, eigen_sign)


class FinerCAM:
    def __init__(self, model, target_layers, reshape_transform=None, base_method=None, eigen_sign=None):
        if base_method not in (None, GradCAM):
            raise NotImplementedError("reference_classes: FinerCAM is restated over GradCAM only")
        self.base_cam = GradCAM(model, target_layers, reshape_transform, eigen_sign)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, input_tensor, targets=None, eigen_smooth=False, alpha=1, comparison_categories=[1, 2, 3]):
        b = self.base_cam
        if targets is not None:          # the library then runs the base method's call with these targets
            return b(input_tensor, targets, eigen_smooth=eigen_smooth)
        return ref.run_cam(b.model, b.target_layers, input_tensor, "finercam", eigen_smooth=bool(eigen_smooth),
                           finer_alpha=alpha, finer_comparison=tuple(comparison_categories),
                           eigen_sign=b.eigen_sign)["map"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


class GuidedBackpropReLUModel:
    def __init__(self, model, device=None):
        self.model = model.eval()

    def __call__(self, input_img, target_category=None):
        return ref.guided_backprop(self.model, input_img, target_category)


model_targets = types.SimpleNamespace(
    ClassifierOutputTarget=lambda category: ref.make_target("logit", category),
    ClassifierOutputSoftmaxTarget=lambda category: ref.make_target("softmax", category),
    ClassifierOutputReST=lambda category: ref.make_target("rest", category),
    BinaryClassifierOutputTarget=lambda category: ref.make_target("binary", category))


def preprocess_image(img, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]):
    """utils/image.py's: torchvision's ToTensor then Normalize, a batch axis in front."""
    return Compose([ToTensor(), Normalize(mean=mean, std=std)])(img.copy()).unsqueeze(0)


image = types.SimpleNamespace(show_cam_on_image=reference_gradcam.show_cam_on_image,
                              deprocess_image=reference_gradcam.deprocess_image,
                              scale_cam_image=reference_gradcam.scale_cam_image,
                              preprocess_image=preprocess_image)

__all__ = ["GradCAM", "HiResCAM", "GradCAMElementWise", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "EigenCAM",
           "EigenGradCAM", "SegEigenCAM", "KPCA_CAM", "ScoreCAM", "AblationCAM", "FullGrad", "FEM", "FinerCAM",
           "RandomCAM", "GuidedBackpropReLUModel", "model_targets", "image"]
