"""examples/train/metrics.py — held-out metrics of a multi-label classifier,
from its logits (numpy only, so the C engine's logits can be scored the same
way as PyTorch's in train.py)."""
import numpy as np


def average_precision(scores, labels):
    """AP of one class: mean precision at the rank of each positive (ties by order)."""
    order = np.argsort(-scores, kind="stable")
    hits = labels[order] > 0
    if not hits.any():
        return float("nan")
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def multilabel(z, t):
    """Logits z and 0/1 targets t, both N x K: exact-match accuracy (the set of
    logits > 0 is the scene's set of classes), top-n accuracy (the n best logits
    are the scene's n classes), and per class F1 (logit > 0), recall and AP."""
    pred, truth = z > 0, t > 0
    exact = float((pred == truth).all(1).mean())
    n = truth.sum(1).astype(int)
    rank = np.argsort(-z, axis=1, kind="stable")
    topn = float(np.mean([set(rank[i, :n[i]]) == set(np.flatnonzero(truth[i])) for i in range(len(z))]))
    tp = (pred & truth).sum(0)
    f1 = 2 * tp / np.maximum(1, pred.sum(0) + truth.sum(0))
    recall = tp / np.maximum(1, truth.sum(0))
    ap = np.array([average_precision(z[:, k], t[:, k]) for k in range(t.shape[1])])
    return {"exact": exact, "topn": topn, "f1": f1, "recall": recall, "ap": ap}
