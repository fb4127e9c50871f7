"""cnncam.compat — a drop-in for pytorch-grad-cam 1.5 scripts, computed in C.

Change the imports and nothing else:

    from cnncam.compat import GradCAM                                  # was: from pytorch_grad_cam import GradCAM
    from cnncam.compat.utils.model_targets import ClassifierOutputTarget
    from cnncam.compat.utils.image import show_cam_on_image, preprocess_image

    with GradCAM(model=net, target_layers=[net.layer4]) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(281)])   # float32 N x H x W

The module is converted once (at its first call, cached by a hash of its
weights in memory and under ~/.cache/cnncam); later calls run in C. Every
method of the CAM issue is here by the reference's class name; ShapleyCAM,
DeepFeatureFactorization and the transformer/detector pieces raise
NotImplementedError saying why. base_cam.py lists the deliberate
differences (LAPACK's sign by default; eigen_sign="default" for cnncam's).
"""
from ._cache import UnsupportedError, forget
from .base_cam import (AblationCAM, AblationLayer, AblationLayerFasterRCNN, AblationLayerVit,
                       ActivationsAndGradients, BaseCAM, DeepFeatureFactorization, EigenCAM, EigenGradCAM, FEM,
                       FinerCAM, FullGrad, GradCAM, GradCAMElementWise, GradCAMPlusPlus, HiResCAM, KPCA_CAM,
                       LayerCAM, RandomCAM, RefineCAM, ScoreCAM, SegEigenCAM, ShapleyCAM, XGradCAM,
                       run_dff_on_image)
from .guided_backprop import GuidedBackpropReLUModel
from . import utils  # noqa: F401  (pytorch_grad_cam.utils)
from .utils import model_targets  # noqa: F401

__all__ = ["GradCAM", "HiResCAM", "GradCAMElementWise", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "EigenCAM",
           "EigenGradCAM", "SegEigenCAM", "KPCA_CAM", "ScoreCAM", "AblationCAM", "AblationLayer",
           "AblationLayerVit", "AblationLayerFasterRCNN", "FullGrad", "FEM", "FinerCAM", "RandomCAM", "RefineCAM",
           "ShapleyCAM", "DeepFeatureFactorization", "run_dff_on_image", "ActivationsAndGradients",
           "GuidedBackpropReLUModel", "BaseCAM", "UnsupportedError", "forget"]
