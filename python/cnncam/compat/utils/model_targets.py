"""cnncam/compat/utils/model_targets.py — pytorch-grad-cam's targets.

The four classifier targets are what cnncam explains (docs/METHODS.md,
"Targets"): a CAM call turns each into (kind, class) with kind_of.
    ClassifierOutputTarget(c)         z_c                    "logit"
    ClassifierOutputSoftmaxTarget(c)  softmax(z)_c           "softmax"
    ClassifierOutputReST(c)           2 z_c - logsumexp(z)   "rest"
    BinaryClassifierOutputTarget(c)   z_0 (c = 1) or -z_0    "binary"
Each is also callable on a torch output, as the reference's (for metrics
and scripts that call them). The reference's other targets exist so that
imports work; a CAM call given one raises UnsupportedError, as does any
other callable: cnncam computes the target itself, in C, and cannot run a
Python function inside its backward.
"""
import numbers

import torch

from .._cache import UnsupportedError


def _category(c):
    if isinstance(c, bool) or not isinstance(c, numbers.Integral):
        try:
            if int(c) == c and not isinstance(c, bool):
                return int(c)
        except (TypeError, ValueError):
            pass
        raise ValueError("a target's category must be an int class index, not %r" % (c,))
    return int(c)


class ClassifierOutputTarget:
    def __init__(self, category):
        self.category = category

    def __call__(self, model_output):
        return model_output[..., self.category]


class ClassifierOutputSoftmaxTarget:
    def __init__(self, category):
        self.category = category

    def __call__(self, model_output):
        return torch.softmax(model_output, dim=-1)[..., self.category]


class ClassifierOutputReST:
    """z_c - cross_entropy(z, c): for one sample 2 z_c - logsumexp(z)
    (arXiv 2501.06261); for a batch the cross entropy is the batch mean."""

    def __init__(self, category):
        self.category = category

    def __call__(self, model_output):
        rows = model_output if model_output.ndim == 2 else model_output[None]
        labels = torch.full((rows.shape[0],), self.category, dtype=torch.long, device=model_output.device)
        return model_output[..., self.category] - torch.nn.functional.cross_entropy(rows, labels)


class BinaryClassifierOutputTarget:
    def __init__(self, category):
        self.category = category

    def __call__(self, model_output):
        return model_output * (1 if self.category == 1 else -1)


class SoftmaxOutputTarget:
    """softmax(z), a vector: not a scalar cnncam can explain."""

    def __init__(self):
        pass

    def __call__(self, model_output):
        return torch.softmax(model_output, dim=-1)


class RawScoresOutputTarget:
    """z itself, a vector: not a scalar cnncam can explain."""

    def __init__(self):
        pass

    def __call__(self, model_output):
        return model_output


class SemanticSegmentationTarget:
    """Segmentation: cnncam converts classifiers only."""

    def __init__(self, category, mask):
        self.category = category
        self.mask = torch.from_numpy(mask)

    def __call__(self, model_output):
        return (model_output[self.category, :, :] * self.mask.to(model_output.device)).sum()


class FasterRCNNBoxScoreTarget:
    """Detection: cnncam converts classifiers only."""

    def __init__(self, labels, bounding_boxes, iou_threshold=0.5):
        self.labels, self.bounding_boxes, self.iou_threshold = labels, bounding_boxes, iou_threshold

    def __call__(self, model_outputs):
        raise UnsupportedError("FasterRCNNBoxScoreTarget is not supported by cnncam.compat: cnncam converts "
                               "classifiers only")


class FinerWeightedTarget:
    """sum_i p_i (z_main - alpha z_i) / (sum_i p_i + 1e-9), p = softmax(z): what
    FinerCAM explains; a FinerCAM call accepts it when its comparisons are
    the classes nearest the main one (cnncam's finercam)."""

    def __init__(self, main_category, comparison_categories, alpha):
        self.main_category = main_category
        self.comparison_categories = comparison_categories
        self.alpha = alpha

    def __call__(self, model_output):
        p = torch.softmax(model_output, dim=-1)
        w = [p[..., c] for c in self.comparison_categories]
        z = model_output[..., self.main_category]
        num = sum(wi * (z - self.alpha * model_output[..., c]) for wi, c in zip(w, self.comparison_categories))
        return num / (sum(w) + 1e-9)


# By class name, so that targets imported from pytorch_grad_cam itself work too.
KINDS = {"ClassifierOutputTarget": "logit", "ClassifierOutputSoftmaxTarget": "softmax",
         "ClassifierOutputReST": "rest", "BinaryClassifierOutputTarget": "binary"}


def kind_of(target):
    """(cnncam target kind, class index) of a target object."""
    name = type(target).__name__
    kind = KINDS.get(name)
    if kind is None:
        what = {"SoftmaxOutputTarget": "it is the whole softmax vector, not one class's score",
                "RawScoresOutputTarget": "it is the whole output vector, not one class's score",
                "SemanticSegmentationTarget": "cnncam converts classifiers, not segmentation models",
                "FasterRCNNBoxScoreTarget": "cnncam converts classifiers, not detectors",
                "FinerWeightedTarget": "only FinerCAM takes it"}.get(
            name, "cnncam computes the target in C and cannot call a Python function inside its backward")
        raise UnsupportedError("target %s is not supported by cnncam.compat: %s; use ClassifierOutputTarget, "
                               "ClassifierOutputSoftmaxTarget, ClassifierOutputReST or "
                               "BinaryClassifierOutputTarget" % (name, what))
    cls = _category(target.category)
    if kind == "binary":
        cls = 1 if cls == 1 else 0          # the reference: +output for category 1, -output otherwise
    return kind, cls
