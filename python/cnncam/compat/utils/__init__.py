"""cnncam/compat/utils — pytorch_grad_cam.utils: model_targets and image."""
from . import image, model_targets  # noqa: F401
from .image import deprocess_image  # noqa: F401
