from __future__ import annotations

import numpy as np
import pytest
import torch

from patrec.core.errors import InputError
from patrec.core.metrics import accuracy, equal_error_rate, macro_f1


def test_accuracy_and_f1_hand_case():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 2.0]])
    y = torch.tensor([0, 1, 1, 1])
    assert accuracy(logits, y) == pytest.approx(0.75)
    # class 0: tp=1 fp=1 fn=0 -> f1 2/3; class 1: tp=2 fp=0 fn=1 -> f1 0.8
    assert macro_f1(logits, y) == pytest.approx((2 / 3 + 0.8) / 2)


def test_eer_hand_cases():
    # perfectly separated -> 0
    assert equal_error_rate([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == pytest.approx(0.0)
    # fully inverted -> 1
    assert equal_error_rate([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == pytest.approx(1.0)
    # one negative above one positive among 2+2: FAR = FRR = 0.5 at the crossing
    assert equal_error_rate([0.1, 0.6, 0.5, 0.9], [0, 0, 1, 1]) == pytest.approx(0.5)


def test_eer_random_scores_near_half():
    rng = np.random.default_rng(0)
    s = rng.random(4000)
    y = rng.integers(0, 2, 4000)
    assert abs(equal_error_rate(s, y) - 0.5) < 0.05


def test_metric_input_errors():
    with pytest.raises(InputError):
        accuracy(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(InputError):
        equal_error_rate([0.1, 0.2], [1, 1])


def test_per_class_scores_match_scikit_learn() -> None:
    from sklearn.metrics import precision_recall_fscore_support

    from patrec.core.metrics import per_class_scores

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(60, 5, generator=g)
    y = torch.randint(0, 5, (60,), generator=g)
    y[y == 4] = 3  # class 4 never true: its recall and F1 have a zero denominator
    logits[:, 2] -= 10  # class 2 never predicted: its precision has a zero denominator
    got = per_class_scores(logits, y)
    ref = precision_recall_fscore_support(
        y.numpy(), logits.argmax(1).numpy(), labels=range(5), zero_division=0
    )
    for name, r in zip(("precision", "recall", "f1", "support"), ref, strict=True):
        assert got[name].tolist() == pytest.approx(list(r), abs=1e-6), name  # float32
    assert got["precision"][2] == 0 and got["recall"][4] == 0
    with pytest.raises(InputError, match="target"):
        per_class_scores(logits, torch.full((60,), 5))
