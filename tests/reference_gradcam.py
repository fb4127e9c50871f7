"""The reference Grad-CAM post-processing, restated from pytorch-grad-cam 1.5
(pytorch_grad_cam/utils/image.py and base_cam.py) with the same numpy and
OpenCV calls, so the tests compare cnncam with what users get in Python.
Shared by tests/gen_gradcam_fixtures.py and tests/test_gradcam.py."""
import cv2
import numpy as np


def scale_cam_image(cam, target_size=None):
    """Per map: minus its min, over (1e-7 + its max), then cv2.resize to (W, H)."""
    result = []
    for img in cam:
        img = img - np.min(img)
        img = img / (1e-7 + np.max(img))
        if target_size is not None:
            img = cv2.resize(img, target_size)
        result.append(img)
    return np.float32(result)


def aggregate(scaled):
    """aggregate_multi_layers: scaled is a list of per-layer 1 x H x W maps
    (scale_cam_image's output); max(., 0), mean over layers, scale_cam_image
    again (with one layer too). Returns H x W."""
    cams = np.concatenate([m[:, None, :] for m in scaled], axis=1)
    cams = np.maximum(cams, 0)
    return scale_cam_image(np.mean(cams, axis=1))[0]


def cams_to_mask(cams, target_size):
    """compute_cam_per_layer's tail and aggregate_multi_layers for one image:
    cams are the rectified per-layer maps at feature resolution."""
    return aggregate([scale_cam_image(np.maximum(cam[None], 0), target_size) for cam in cams])


def show_cam_on_image(img, mask, use_rgb=False, colormap=cv2.COLORMAP_JET, image_weight=0.5):
    heatmap = cv2.applyColorMap(np.uint8(255 * mask), colormap)
    if use_rgb:
        heatmap = cv2.cvtColor(heatmap, cv2.COLOR_BGR2RGB)
    heatmap = np.float32(heatmap) / 255
    if np.max(img) > 1:
        raise Exception("The input image should np.float32 in the range [0, 1]")
    cam = (1 - image_weight) * heatmap + image_weight * img
    cam = cam / np.max(cam)
    return np.uint8(255 * cam)


def deprocess_image(img):
    """utils/image.py's deprocess_image (for guided backprop pictures): minus the
    mean, over (population std + 1e-5), * 0.1 + 0.5, clipped to [0, 1], then
    np.uint8(255 * img), which truncates."""
    img = img - np.mean(img)
    img = img / (np.std(img) + 1e-5)
    img = img * 0.1
    img = img + 0.5
    img = np.clip(img, 0, 1)
    return np.uint8(img * 255)
