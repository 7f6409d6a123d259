"""TSAK's generic distillation on the core Trainer, the semantic-classifier stage and the data.

:func:`patrec.core.tsak.distill` must work for any student returning logits: here an image
CNN (:class:`patrec.core.nn.SmallCNN`) on scikit-learn digits as well as the wearable models.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from patrec.core.errors import InputError
from patrec.core.nn import SmallCNN
from patrec.core.train import TrainConfig, state_digest
from patrec.core.tsak import (
    CHANNEL_NAMES,
    STUDENT_CHANNELS,
    SemanticClassifier,
    TSAKTeacher,
    WearableStudent,
    distill,
    make_wearable_data,
    train_semantic_classifier,
)

CFG = TrainConfig(epochs=1, batch_size=32, cpu=True, progress=False)


@pytest.fixture(scope="module")
def digits_small() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from patrec.core.data import digits

    d = digits()
    return d.x_train[:128], d.y_train[:128], d.x_test[:64], d.y_test[:64]


def _teacher() -> SmallCNN:
    torch.manual_seed(1)
    return SmallCNN(1, 10, widths=(8, 16)).eval()


def _student() -> SmallCNN:
    torch.manual_seed(0)
    return SmallCNN(1, 10, widths=(4, 8))


class FeatureStudent(nn.Module):
    """An image student returning (logits, 16-d features) for feature KD."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 16))
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.head(torch.relu(h)), h


def test_distill_an_image_cnn_with_sc_logit_kd(digits_small):
    x, y, xt, yt = digits_small
    teacher = _teacher()
    before = state_digest(teacher)
    student = _student()
    s_before = state_digest(student)
    res = distill(student, teacher, TensorDataset(x, y), CFG, mode="sc", eval_data=(xt, yt))
    row = res.metrics
    assert {"train/loss", "train/ce", "train/kd", "test_macro_f1", "test_accuracy"} <= set(row)
    # the logged loss is Eq. (1): alpha * CE + (1 - alpha) * tau^2 KL (means are linear)
    assert row["train/loss"] == pytest.approx(0.99 * row["train/ce"] + 0.01 * row["train/kd"])
    assert row["train/kd"] > 0
    # the teacher stays frozen and untouched; the student trained
    assert state_digest(teacher) == before
    assert all(not p.requires_grad for p in teacher.parameters()) and not teacher.training
    assert state_digest(res.model) != s_before


def test_alpha_one_distillation_equals_plain_training(digits_small):
    x, y, _, _ = digits_small
    ds = TensorDataset(x, y)
    a = distill(_student(), _teacher(), ds, CFG, mode="logit", alpha=1.0)
    b = distill(_student(), None, ds, CFG, mode="none")
    assert state_digest(a.model) == state_digest(b.model)
    c = distill(_student(), _teacher(), ds, CFG, mode="logit", alpha=0.5)
    assert state_digest(c.model) != state_digest(b.model)
    assert "train/kd" not in b.metrics


def test_teacher_input_can_differ_from_the_student_input(digits_small):
    x, y, _, _ = digits_small
    teacher = _teacher()
    seen: list[tuple[int, ...]] = []

    def teacher_fn(t: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(t.shape[1:]))
        return teacher(t[:, :1])  # the teacher sees a 2-channel view, the student 1 channel

    x2 = torch.cat([x, 1 - x], dim=1)
    distill(_student(), teacher_fn, TensorDataset(x, y, x2), CFG, mode="logit")
    assert seen and all(s == (2, 8, 8) for s in seen)
    # precomputed teacher logits through an identity teacher_fn give the same student
    with torch.no_grad():
        logits = teacher(x)
    a = distill(_student(), lambda t: t, TensorDataset(x, y, logits), CFG, mode="sc")
    b = distill(_student(), _teacher(), TensorDataset(x, y), CFG, mode="sc")
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5)


def test_feature_mode(digits_small):
    x, y, _, _ = digits_small
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(len(y), 16, generator=g)
    res = distill(FeatureStudent(), lambda t: t, TensorDataset(x, y, feats), CFG,
                  mode="feature", alpha=0.5)  # fmt: skip
    row = res.metrics
    assert 0.0 < row["train/kd"] <= 2.0  # a cosine loss
    assert row["train/loss"] == pytest.approx(0.5 * row["train/ce"] + 0.5 * row["train/kd"])
    with pytest.raises(InputError, match=r"needs the student to return \(logits, features\)"):
        distill(_student(), lambda t: t, TensorDataset(x, y, feats), CFG, mode="feature")
    with pytest.raises(InputError, match="pass projectors="):
        distill(FeatureStudent(), lambda t: t, TensorDataset(x, y, feats[:, :8]), CFG,
                mode="feature")  # fmt: skip


def test_projectors_match_widths_and_train_with_the_student(digits_small):
    """Feature KD into a wider teacher vector: P h_s is compared, P trains, P is dropped."""
    x, y, _, _ = digits_small
    g = torch.Generator().manual_seed(0)
    wide = torch.randn(len(y), 24, generator=g)
    torch.manual_seed(0)
    proj = nn.Linear(16, 24, bias=False)
    p_before = proj.weight.detach().clone()
    student = FeatureStudent()
    res = distill(student, lambda t: t, TensorDataset(x, y, wide), CFG, mode="feature",
                  alpha=0.5, projectors=proj)  # fmt: skip
    assert res.model is student  # the projector is not part of the returned student
    assert not torch.equal(proj.weight, p_before)  # it trained
    assert 0.0 < res.metrics["train/kd"] <= 2.0
    # the merged mode: one projector (or None) per teacher vector, the split done by teacher_fn
    both = torch.cat([wide, torch.randn(len(y), 16, generator=g)], dim=1)
    res = distill(FeatureStudent(), lambda t: t.split([24, 16], 1), TensorDataset(x, y, both),
                  CFG, mode="merged", alpha=0.5,
                  projectors=[nn.Linear(16, 24, bias=False), None])  # fmt: skip
    assert 0.0 < res.metrics["train/kd"] <= 4.0  # two cosine terms
    # an optimizer that misses the projector's weights is refused
    st = FeatureStudent()
    with pytest.raises(InputError, match="projectors"):
        sgd = torch.optim.SGD(st.parameters(), 0.1)
        distill(st, lambda t: t, TensorDataset(x, y, wide), CFG, mode="feature",
                projectors=nn.Linear(16, 24), optimizer=sgd)  # fmt: skip
    with pytest.raises(InputError, match="projectors are for"):
        distill(_student(), _teacher(), TensorDataset(x, y), CFG, mode="logit",
                projectors=nn.Linear(16, 24))  # fmt: skip


def test_distill_bad_input(digits_small):
    x, y, _, _ = digits_small
    ds = TensorDataset(x, y)
    with pytest.raises(InputError, match="mode must be one of"):
        distill(_student(), _teacher(), ds, CFG, mode="hint")
    with pytest.raises(InputError, match="alpha"):
        distill(_student(), _teacher(), ds, CFG, alpha=1.5)
    with pytest.raises(InputError, match="tau"):
        distill(_student(), _teacher(), ds, CFG, tau=0.0)
    with pytest.raises(InputError, match="needs a teacher_fn"):
        distill(_student(), None, ds, CFG, mode="sc")
    with pytest.raises(InputError, match="nn.Module"):
        distill(lambda z: z, _teacher(), ds, CFG)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="eval_data"):
        distill(_student(), _teacher(), ds, CFG, eval_data=(x, y[:3]))
    with pytest.raises(InputError, match="teacher_logits must have C = 10"):  # 5 classes
        distill(_student(), lambda t: torch.zeros(len(t), 5), ds, CFG, mode="logit")
    with pytest.raises(InputError, match=r"\(x, y\) or \(x, y, t\)"):
        distill(_student(), _teacher(), TensorDataset(x, y, x, x), CFG)


# ---------------------------------------------------------------------------------------
# stage 2 and the wearable data
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wearable():
    return make_wearable_data(users=4, test_users=1, windows_per_class=4, seed=3)


def test_semantic_classifier_trains_on_a_frozen_teacher(wearable):
    d = wearable
    torch.manual_seed(0)
    teacher = TSAKTeacher(20, 4, 100)
    teacher.train()
    before = state_digest(teacher)
    sc = SemanticClassifier(4)
    res = train_semantic_classifier(sc, teacher, d.x_train, d.y_train,
                                    TrainConfig(epochs=2, batch_size=16, cpu=True, progress=False),
                                    eval_data=(d.x_test, d.y_test))  # fmt: skip
    assert state_digest(teacher) == before and not teacher.training
    assert all(not p.requires_grad for p in teacher.parameters())
    assert len(res.history) == 2 and "test_macro_f1" in res.metrics
    with pytest.raises(InputError, match="TSAKTeacher"):
        train_semantic_classifier(sc, WearableStudent(), d.x_train, d.y_train, CFG)  # type: ignore[arg-type]


def test_wearable_distillation_loss_and_effect_on_a_fixed_problem(wearable):
    """The logged loss is Eq. (1) of the initial student exactly, and KD moves it to the teacher.

    One batch holding the whole set, no dropout: the first epoch's ``train/loss`` is the loss
    before the single step, which we recompute with :func:`logit_kd_loss`. Then, from the
    same initial student, pure soft-target KD (alpha 0) must end closer to the 20-channel
    teacher's softened outputs than training on the labels alone (alpha 1).
    """
    from patrec.core.tsak import kd_kl_divergence, logit_kd_loss

    d = wearable
    torch.manual_seed(5)
    teacher = TSAKTeacher(20, 4, 100, dropout=0.0).eval()
    xs = d.student_view(d.x_train)
    n = len(d.y_train)
    with torch.no_grad():
        z_t = teacher(d.x_train)

    def fresh() -> WearableStudent:
        torch.manual_seed(0)
        return WearableStudent(3, 4, dropout=0.0)

    one = TrainConfig(epochs=1, batch_size=n, cpu=True, progress=False)
    s0 = fresh()
    with torch.no_grad():
        want = logit_kd_loss(s0(xs), z_t, d.y_train, alpha=0.7, tau=4.0).item()
    sgd = torch.optim.SGD(s0.parameters(), lr=0.1)
    res = distill(s0, teacher, TensorDataset(xs, d.y_train, d.x_train), one, mode="logit",
                  alpha=0.7, tau=4.0, optimizer=sgd)  # fmt: skip
    assert res.metrics["train/loss"] == pytest.approx(want, rel=1e-5)

    # a confident target (the teacher's logits sharpened x10), handed over precomputed
    z_sharp = 10.0 * z_t
    many = TrainConfig(epochs=15, batch_size=n, cpu=True, progress=False)

    def kl_after(alpha: float) -> float:
        s = fresh()
        adam = torch.optim.Adam(s.parameters(), lr=0.03)
        distill(s, lambda t: t, TensorDataset(xs, d.y_train, z_sharp), many, mode="logit",
                alpha=alpha, tau=4.0, optimizer=adam)  # fmt: skip
        with torch.no_grad():
            return kd_kl_divergence(s.eval()(xs), z_sharp, 4.0).item()

    with torch.no_grad():
        start = kd_kl_divergence(fresh().eval()(xs), z_sharp, 4.0).item()
    kd, ce = kl_after(0.0), kl_after(1.0)
    assert kd < 0.5 * start and kd < 0.5 * ce


def test_wearable_data_layout_and_normalisation():
    d = make_wearable_data(users=5, test_users=2, windows_per_class=6, seed=1)
    assert d.x_train.shape == (3 * 4 * 6, 20, 100) and d.x_test.shape == (2 * 4 * 6, 20, 100)
    assert len(CHANNEL_NAMES) == 20 and [CHANNEL_NAMES[c] for c in STUDENT_CHANNELS] == [
        "R_acc_x", "R_acc_y", "R_acc_z"]  # fmt: skip
    assert torch.bincount(d.y_train).tolist() == [18] * 4
    assert set(d.users_train.tolist()).isdisjoint(d.users_test.tolist())
    acc_cap = [0, 1, 2, 6, 7, 8, 9, 10, 11, 12, 16, 17, 18, 19]
    sub = d.x_train[:, acc_cap]
    assert float(sub.min()) >= 0.0 and float(sub.max()) <= 1.0  # Sec. 4: [0, 1]
    assert float(d.x_train[:, [3, 4, 5]].abs().max()) > 10.0  # gyroscopes stay in deg/s
    assert d.student_view(d.x_train).shape == (72, 3, 100)
    z = make_wearable_data(users=5, test_users=2, windows_per_class=6, seed=1, normalize="zscore")
    assert z.x_train.mean(dim=(0, 2)).abs().max() < 1e-4
    assert (z.x_train.std(dim=(0, 2)) - 1).abs().max() < 1e-2
    again = make_wearable_data(users=5, test_users=2, windows_per_class=6, seed=1)
    assert torch.equal(again.x_train, d.x_train)
    other = make_wearable_data(users=5, test_users=2, windows_per_class=6, seed=2)
    assert not torch.equal(other.x_train, d.x_train)


def test_class_evidence_lies_partly_outside_the_students_channels():
    """door vs check: the 3 student channels confuse them more than all 20 channels do."""
    from sklearn.linear_model import LogisticRegression

    d = make_wearable_data(users=6, test_users=2, windows_per_class=20, seed=0)

    def feats(x: torch.Tensor) -> np.ndarray:
        a = x.numpy()
        return np.concatenate([a.std(2), a.max(2) - a.min(2), a.mean(2)], axis=1)

    def door_check_acc(channels: list[int]) -> float:
        tr, te = d.y_train >= 2, d.y_test >= 2
        clf = LogisticRegression(max_iter=2000).fit(
            feats(d.x_train[tr][:, channels]), d.y_train[tr].numpy()
        )
        return float(clf.score(feats(d.x_test[te][:, channels]), d.y_test[te].numpy()))

    student = door_check_acc(list(STUDENT_CHANNELS))
    everything = door_check_acc(list(range(20)))
    assert everything > 0.9 and everything > student + 0.15


def test_wearable_data_bad_arguments():
    with pytest.raises(InputError, match="test_users"):
        make_wearable_data(users=3, test_users=3)
    with pytest.raises(InputError, match="windows_per_class"):
        make_wearable_data(windows_per_class=0)
    with pytest.raises(InputError, match="noise"):
        make_wearable_data(noise=-1.0)
    with pytest.raises(InputError, match="normalize"):
        make_wearable_data(normalize="l2")
