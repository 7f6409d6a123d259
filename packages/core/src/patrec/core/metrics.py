"""Metrics: torchmetrics and scikit-learn where they have the metric, the rest by hand.

Hand-written metrics (here: the equal error rate) are each tested against a hand-computed
case in ``tests/test_metrics.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from patrec.core.checks import check_tensor
from patrec.core.errors import InputError

__all__ = ["accuracy", "equal_error_rate", "macro_f1", "per_class_scores"]


def _check_logits(logits: torch.Tensor, target: torch.Tensor) -> int:
    dims: dict[str, int] = {}
    check_tensor(logits, "N C", name="logits", dims=dims)
    check_tensor(target, "N", name="target", dims=dims, dtype="int", range=(0, dims["C"] - 1))
    return dims["C"]


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Top-1 accuracy of ``(N, C)`` logits against ``(N,)`` labels (torchmetrics)."""
    from torchmetrics.functional.classification import multiclass_accuracy

    _check_logits(logits, target)
    return float(multiclass_accuracy(logits, target, num_classes=logits.shape[1], average="micro"))


def macro_f1(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Macro-averaged F1 of ``(N, C)`` logits against ``(N,)`` labels (torchmetrics)."""
    from torchmetrics.functional.classification import multiclass_f1_score

    _check_logits(logits, target)
    return float(multiclass_f1_score(logits, target, num_classes=logits.shape[1], average="macro"))


def per_class_scores(logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Precision, recall, F1 and support of every class (torchmetrics, ``average=None``).

    ``precision_c = TP_c / (TP_c + FP_c)``, ``recall_c = TP_c / (TP_c + FN_c)``,
    ``F1_c = 2 P R / (P + R)``; a ratio with a zero denominator is 0 (scikit-learn's
    ``zero_division=0``). The prediction is the arg-max of ``(N, K)`` logits, the target
    ``(N,)`` labels in ``0..K-1``. Returns ``{"precision", "recall", "f1", "support"}``,
    each ``(K,)`` on the CPU.
    """
    from torchmetrics.functional.classification import (
        multiclass_f1_score,
        multiclass_precision,
        multiclass_recall,
    )

    k = _check_logits(logits, target)
    pred, y = logits.detach().argmax(1).cpu(), target.detach().cpu().long()
    kw: dict[str, Any] = {"num_classes": k, "average": "none"}
    return {
        "precision": multiclass_precision(pred, y, **kw).double(),
        "recall": multiclass_recall(pred, y, **kw).double(),
        "f1": multiclass_f1_score(pred, y, **kw).double(),
        "support": torch.bincount(y, minlength=k).double(),
    }


def equal_error_rate(scores: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> float:
    """The equal error rate: where false-accept and false-reject rates cross.

    Args:
        scores: ``(N,)`` higher means more likely positive (genuine).
        labels: ``(N,)`` 1 for positive, 0 for negative; both classes must occur.

    The ROC (scikit-learn) is scanned for the threshold where FPR - FNR changes sign and
    the two rates are interpolated linearly there.
    """
    from sklearn.metrics import roc_curve

    s = np.asarray(scores, dtype=float).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise InputError(f"scores {s.shape} and labels {y.shape} differ in shape")
    if not np.isin(y, (0, 1)).all() or len(np.unique(y)) < 2:
        raise InputError("labels must be 0/1 with both classes present")
    fpr, tpr, _ = roc_curve(y, s)
    fnr = 1.0 - tpr
    d = fpr - fnr
    i = int(np.argmax(d >= 0))
    if i == 0 or d[i] == 0:
        return float((fpr[i] + fnr[i]) / 2)
    t = d[i - 1] / (d[i - 1] - d[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))
