"""TSAK: two-stage semantic-aware knowledge distillation (Bello et al., 2024).

A multimodal, multi-position teacher (20 channels: IMU + capacitive sensors of both hands)
is distilled into a tiny student that sees only 3 channels (one wrist's accelerometer):

- Stage 1, :class:`TSAKTeacher` (Table 2): an attention branch (TA: 3x Conv1d-MaxPool-
  Dropout, two self-attention layers) gives the hidden vector **Attn-Rep**, an LSTM branch
  (TC) gives **Causal-Rep**; their concatenation is merged into **Combi-Rep**, then a
  linear output layer gives the teacher's logits.
- Stage 2, :class:`SemanticClassifier`: a shallow classifier trained with cross-entropy on
  the three hidden vectors of the *frozen* teacher; it is then frozen too and its logits
  are the soft targets of the student (**SC-Logit KD**).
- :class:`WearableStudent` (Table 2, 2.69K parameters): 3x Conv1d-MaxPool-Dropout,
  ``Linear(5, 10)``, ``Linear(10, C)``.

Losses (functions on plain tensors, usable with any teacher and student)::

    L_SC(x; W) = alpha * CE(y, softmax(z_s))
                 + (1 - alpha) * KL(softmax(z_t / tau) || softmax(z_s / tau))   (Eq. 1)
    L_F(x; W)  = alpha * CE(y, z_s) + (1 - alpha) * L_CSKD(h_t, h_s)            (Eq. 2)

:func:`logit_kd_loss` is Eq. (1) with teacher logits (logit KD), :func:`sc_kd_loss` the same
with the semantic classifier's logits (SC-Logit KD), :func:`feature_kd_loss` Eq. (2) with
the cosine-similarity loss :func:`cosine_kd_loss`. The paper's best setting is
``alpha = 0.99, tau = 4`` (Sec. 5, Fig. 4B).

:func:`distill` trains any student ``nn.Module`` that returns logits (a wearable CNN, an
image CNN, ...) with one of these losses on :class:`~patrec.core.train.Trainer`::

    teacher.eval()
    res = distill(student, teacher, TensorDataset(x, y), TrainConfig(epochs=10), mode="logit")

Data: :func:`make_wearable_data` generates 2-s, 50-Hz windows of a 20-channel glove
layout (acc/gyro/capacitive of both hands, 4 activities as in the paper's factory dataset)
where part of the class evidence lies in channels the 3-channel student never sees.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patrec.core.config import param
from patrec.core.errors import ConfigError, InputError
from patrec.core.registry import Method
from patrec.core.train import TrainConfig

__all__ = [
    "CHANNEL_NAMES",
    "CLASS_NAMES",
    "DEFAULT_ALPHA",
    "DEFAULT_TAU",
    "METHOD",
    "MODES",
    "STUDENT_CHANNELS",
    "DistillResult",
    "SelfAttention1d",
    "SemanticClassifier",
    "TSAKConfig",
    "TSAKTeacher",
    "TeacherOutput",
    "WearableData",
    "WearableStudent",
    "cosine_kd_loss",
    "count_flops",
    "count_params",
    "distill",
    "feature_kd_loss",
    "kd_kl_divergence",
    "logit_kd_loss",
    "make_wearable_data",
    "paper_config",
    "recipe",
    "sc_kd_loss",
    "smoke_config",
    "train_semantic_classifier",
]

DEFAULT_ALPHA = 0.99  # Sec. 5 / Fig. 4: best alpha (grid 0.1, 0.5, 0.99)
DEFAULT_TAU = 4.0  # Sec. 5 / Fig. 4B: best temperature (grid 1, 4, 20)
MODES = ("none", "logit", "sc", "feature")

# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------


def _shape(x: object) -> str:
    if isinstance(x, Tensor):
        return f"shape {tuple(x.shape)} {x.dtype}"
    return type(x).__name__


def _check_logits(name: str, x: object) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or not x.is_floating_point():
        raise InputError(f"{name} must be a floating (B, C) tensor of logits, got {_shape(x)}")
    if x.shape[0] == 0 or x.shape[1] < 2:
        raise InputError(f"{name} must have B >= 1 rows and C >= 2 classes, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise InputError(f"{name} must hold finite values, got NaN or inf")
    return x


def _check_pair(s: Tensor, t: Tensor, s_name: str, t_name: str) -> None:
    if s.shape != t.shape:
        raise InputError(
            f"{t_name} {tuple(t.shape)} must match {s_name} {tuple(s.shape)} "
            "(same batch size and number of classes)"
        )


def _check_target(target: object, n: int, num_classes: int) -> Tensor:
    if (
        not isinstance(target, Tensor)
        or target.ndim != 1
        or target.is_floating_point()
        or target.is_complex()
        or target.dtype == torch.bool
    ):
        raise InputError(f"target must be an integer (B,) tensor of labels, got {_shape(target)}")
    if target.shape[0] != n:
        raise InputError(f"target must have {n} labels (one per row), got {target.shape[0]}")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= num_classes):
        raise InputError(
            f"target labels must lie in [0, {num_classes - 1}] for {num_classes} classes, "
            f"got range [{int(target.min())}, {int(target.max())}]"
        )
    return target


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise InputError(f"alpha must be a float in [0, 1], got {alpha!r}")
    if not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
        raise InputError(f"alpha must be a float in [0, 1], got {alpha!r}")
    return float(alpha)


def _check_tau(tau: float) -> float:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)):
        raise InputError(f"tau must be a positive finite float, got {tau!r}")
    if not (math.isfinite(tau) and tau > 0):
        raise InputError(f"tau must be a positive finite float, got {tau!r}")
    return float(tau)


def _check_features(name: str, x: object) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or not x.is_floating_point():
        raise InputError(f"{name} must be a floating (B, D) tensor, got {_shape(x)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(f"{name} must have B >= 1 rows and D >= 1 features, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise InputError(f"{name} must hold finite values, got NaN or inf")
    return x


def _up(x: Tensor) -> Tensor:
    """Half precision is too coarse for softmax at a temperature; compute in float32."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


# ---------------------------------------------------------------------------------------
# losses (Eqs. 1-2)
# ---------------------------------------------------------------------------------------


def kd_kl_divergence(
    student_logits: Tensor, teacher_logits: Tensor, tau: float = DEFAULT_TAU
) -> Tensor:
    """The soft-target term of Eq. (1): ``KL(softmax(z_t / tau) || softmax(z_s / tau))``.

    ``sum_c p_t,c (log p_t,c - log p_s,c)`` with ``p = softmax(z / tau)``, averaged over the
    batch (``batchmean``). The teacher side is a constant (detached).

    Args:
        student_logits: ``(B, C)`` student logits ``z_s``.
        teacher_logits: ``(B, C)`` teacher (or semantic classifier) logits ``z_t``.
        tau: temperature ``> 0``.

    Returns:
        A scalar ``>= 0``, 0 when the two softened distributions agree.

    Raises:
        InputError: wrong shapes/dtypes, non-finite values, ``tau <= 0``.
    """
    _check_logits("student_logits", student_logits)
    _check_logits("teacher_logits", teacher_logits)
    _check_pair(student_logits, teacher_logits, "student_logits", "teacher_logits")
    tau = _check_tau(tau)
    log_ps = F.log_softmax(_up(student_logits) / tau, dim=1)
    log_pt = F.log_softmax(_up(teacher_logits).detach().to(student_logits.device) / tau, dim=1)
    return F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True)


def _eq1_terms(
    student_logits: Tensor,
    teacher_logits: Tensor,
    target: Tensor,
    alpha: float,
    tau: float,
    tau_squared: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(loss, ce, kd)`` of Eq. (1); ``kd`` already carries the ``tau**2`` factor if asked."""
    _check_logits("student_logits", student_logits)
    _check_logits("teacher_logits", teacher_logits)
    _check_pair(student_logits, teacher_logits, "student_logits", "teacher_logits")
    tgt = _check_target(target, student_logits.shape[0], student_logits.shape[1])
    alpha = _check_alpha(alpha)
    tau = _check_tau(tau)
    ce = F.cross_entropy(_up(student_logits), tgt.to(student_logits.device))  # T = 1
    kd = kd_kl_divergence(student_logits, teacher_logits, tau)
    if tau_squared:
        kd = kd * (tau * tau)
    return alpha * ce + (1.0 - alpha) * kd, ce, kd


def logit_kd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    target: Tensor,
    alpha: float = DEFAULT_ALPHA,
    tau: float = DEFAULT_TAU,
    *,
    tau_squared: bool = True,
) -> Tensor:
    """Logit-based KD, Eq. (1) of the paper (Hinton et al.'s soft targets)::

        L = alpha * CE(y, softmax(z_s; T=1))
            + (1 - alpha) * [tau**2] * KL(softmax(z_t; T=tau) || softmax(z_s; T=tau))

    ``alpha = 1`` is plain cross-entropy; ``alpha = 0`` pure soft-target distillation.
    Eq. (1) as printed has no ``tau**2``; the paper takes its setting from Cho & Hariharan
    (its ref. [10]), whose KD follows Hinton et al. (ref. [16]) in multiplying the soft term
    by ``tau**2`` so that its gradients keep their size as ``tau`` grows. ``tau_squared=True``
    (default) does that; ``tau_squared=False`` is Eq. (1) literally.

    Args:
        student_logits: ``(B, C)`` student logits ``z_s`` (gradients flow into them).
        teacher_logits: ``(B, C)`` teacher logits ``z_t`` (treated as constants).
        target: ``(B,)`` integer labels in ``[0, C)``.
        alpha: weight of the cross-entropy, in ``[0, 1]`` (paper: 0.99).
        tau: softmax temperature of the KD term, ``> 0`` (paper: 4).
        tau_squared: multiply the KL term by ``tau**2`` (see above).

    Returns:
        A scalar loss.

    Raises:
        InputError: logits of different shapes or classes, labels out of range,
            ``alpha`` outside ``[0, 1]``, ``tau <= 0``, non-finite values.
    """
    return _eq1_terms(student_logits, teacher_logits, target, alpha, tau, tau_squared)[0]


def sc_kd_loss(
    student_logits: Tensor,
    semantic_logits: Tensor,
    target: Tensor,
    alpha: float = DEFAULT_ALPHA,
    tau: float = DEFAULT_TAU,
    *,
    tau_squared: bool = True,
) -> Tensor:
    """TSAK's SC-Logit loss ``L_SC``, Eq. (1) with the semantic classifier's logits as ``z_t``.

    The same formula as :func:`logit_kd_loss`; the soft targets come from the frozen
    second-stage :class:`SemanticClassifier` (or any other frozen model's logits).

    Args:
        student_logits: ``(B, C)`` student logits.
        semantic_logits: ``(B, C)`` logits of the semantic classifier (constants).
        target: ``(B,)`` integer labels in ``[0, C)``.
        alpha: weight of the cross-entropy in ``[0, 1]`` (paper: 0.99).
        tau: temperature ``> 0`` (paper: 4).
        tau_squared: multiply the KL term by ``tau**2`` (see :func:`logit_kd_loss`).

    Returns:
        A scalar loss.

    Raises:
        InputError: as :func:`logit_kd_loss`.
    """
    return _eq1_terms(student_logits, semantic_logits, target, alpha, tau, tau_squared)[0]


def cosine_kd_loss(student_features: Tensor, teacher_features: Tensor) -> Tensor:
    """The cosine-similarity distillation loss ``L_CSKD(h_t, h_s)`` of Eq. (2).

    ``mean_i (1 - cos(h_t,i, h_s,i))``: 0 when every student vector points the same way as
    its teacher vector (whatever their lengths), 2 when opposite. The teacher side is a
    constant (detached).

    Args:
        student_features: ``(B, D)`` student hidden vectors ``h_s``.
        teacher_features: ``(B, D)`` teacher hidden vectors ``h_t`` (same ``D``).

    Returns:
        A scalar in ``[0, 2]``.

    Raises:
        InputError: wrong shapes, different ``B`` or ``D``, non-finite values.
    """
    _check_features("student_features", student_features)
    _check_features("teacher_features", teacher_features)
    if student_features.shape != teacher_features.shape:
        raise InputError(
            f"teacher_features {tuple(teacher_features.shape)} must match student_features "
            f"{tuple(student_features.shape)}; give the student a hidden layer of the teacher's "
            "width (or project one side) for feature KD"
        )
    hs = _up(student_features)
    ht = _up(teacher_features).detach().to(hs.device)
    return (1.0 - F.cosine_similarity(hs, ht, dim=1, eps=1e-8)).mean()


def _eq2_terms(
    student_logits: Tensor,
    student_features: Tensor,
    teacher_features: Tensor,
    target: Tensor,
    alpha: float,
) -> tuple[Tensor, Tensor, Tensor]:
    _check_logits("student_logits", student_logits)
    tgt = _check_target(target, student_logits.shape[0], student_logits.shape[1])
    alpha = _check_alpha(alpha)
    cs = cosine_kd_loss(student_features, teacher_features)
    if student_features.shape[0] != student_logits.shape[0]:
        raise InputError(
            f"student_features has {student_features.shape[0]} rows, "
            f"student_logits {student_logits.shape[0]}"
        )
    ce = F.cross_entropy(_up(student_logits), tgt.to(student_logits.device))
    return alpha * ce + (1.0 - alpha) * cs, ce, cs


def feature_kd_loss(
    student_logits: Tensor,
    student_features: Tensor,
    teacher_features: Tensor,
    target: Tensor,
    alpha: float = DEFAULT_ALPHA,
) -> Tensor:
    """Feature-based KD, Eq. (2): ``alpha * CE(y, z_s) + (1 - alpha) * L_CSKD(h_t, h_s)``.

    The paper distils one teacher hidden vector at a time (Attn-Rep, Causal-Rep or
    Combi-Rep; SC-Feature uses the semantic classifier's hidden layer) into the student's
    hidden vector ``h_s`` of the same width.

    Args:
        student_logits: ``(B, C)`` student logits.
        student_features: ``(B, D)`` student hidden vectors ``h_s``.
        teacher_features: ``(B, D)`` teacher hidden vectors ``h_t`` (constants).
        target: ``(B,)`` integer labels in ``[0, C)``.
        alpha: weight of the cross-entropy in ``[0, 1]`` (paper: 0.99).

    Returns:
        A scalar loss; with ``alpha = 0`` it is 0 exactly when ``h_s`` is parallel to ``h_t``.

    Raises:
        InputError: mismatched shapes, labels out of range, ``alpha`` outside ``[0, 1]``.
    """
    return _eq2_terms(student_logits, student_features, teacher_features, target, alpha)[0]


# ---------------------------------------------------------------------------------------
# models (Table 2)
# ---------------------------------------------------------------------------------------


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_dropout(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ConfigError(f"dropout must be a float in [0, 1), got {p!r}")
    return float(p)


def _conv_stack(in_channels: int, widths: Sequence[int], dropout: float) -> nn.Sequential:
    """``[Conv1d(k=3, s=1) - ReLU - MaxPool1d(2, 2) - Dropout] x len(widths)`` (Table 2)."""
    layers: list[nn.Module] = []
    c = in_channels
    for w in widths:
        # padding 1 ("same"): Table 2 does not say; with it 100 samples -> 50 -> 25 -> 12,
        # and 12 steps x 10 channels = the 120 inputs of the printed Linear(120, 10).
        layers += [nn.Conv1d(c, w, 3, 1, padding=1), nn.ReLU(), nn.MaxPool1d(2, 2)]
        layers.append(nn.Dropout(dropout))
        c = w
    return nn.Sequential(*layers)


def _check_windows(name: str, x: object, channels: int, length: int | None = None) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 3 or not x.is_floating_point():
        raise InputError(
            f"{name} must be a floating (B, {channels}, L) tensor of windows, got {_shape(x)}"
        )
    if x.shape[1] != channels:
        raise InputError(f"{name} must have {channels} channels, got {x.shape[1]} ({_shape(x)})")
    if length is not None and x.shape[2] != length:
        raise InputError(f"{name} must have {length} samples per window, got {x.shape[2]}")
    return x


class SelfAttention1d(nn.Module):
    """Single-head scaled dot-product self-attention over time steps.

    ``softmax(Q K^T / sqrt(d_a)) V`` with ``Q = x W_q``, ``K = x W_k`` (width ``attn_dim``)
    and ``V = x W_v`` (width ``dim``), so the output keeps the input's shape. Table 2 gives
    the two layers of the teacher as "(10, 10)" and "(6, 6)"; we read the second number as
    the query/key width (``attn_dim``).

    Shapes: ``(B, T, dim) -> (B, T, dim)``.
    """

    def __init__(self, dim: int, attn_dim: int) -> None:
        super().__init__()
        self.dim = _positive_int("dim", dim)
        self.attn_dim = _positive_int("attn_dim", attn_dim)
        self.q = nn.Linear(dim, attn_dim)
        self.k = nn.Linear(dim, attn_dim)
        self.v = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[2] != self.dim:
            raise InputError(f"SelfAttention1d expects (B, T, {self.dim}), got {_shape(x)}")
        return F.scaled_dot_product_attention(self.q(x), self.k(x), self.v(x))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, attn_dim={self.attn_dim}"


class TeacherOutput(NamedTuple):
    """The teacher's logits and its three hidden vectors (each ``(B, rep_dim)``)."""

    logits: Tensor
    attn: Tensor
    causal: Tensor
    combi: Tensor


class TSAKTeacher(nn.Module):
    """The first-stage teacher (Table 2, "TASmart" + "TCSmart" + classifier).

    - TA branch: ``[Conv1d(k=3) - ReLU - MaxPool(2) - Dropout] x 3`` with widths
      ``conv_widths`` (paper: 100/20/10, dropout 0.2), two :class:`SelfAttention1d` layers
      over the remaining time steps, flatten, ``Linear(T' * 10, rep_dim)`` -> **Attn-Rep**
      (the printed ``Linear(120, 10)``).
    - TC branch: one LSTM layer (hidden ``lstm_hidden``, paper 10) over the raw input
      sequence, its last hidden state (after dropout) -> **Causal-Rep**.
    - ``Linear(ReLU([Attn-Rep; Causal-Rep]), rep_dim)`` -> **Combi-Rep**, then
      ``Linear(ReLU(Combi-Rep), C)`` -> logits (softmax in the loss).

    The three hidden vectors are pre-activation vectors of width 10, like the student's
    hidden layer, so each can be distilled with the cosine loss of Eq. (2).

    Shapes: ``forward: (B, in_channels, length) -> (B, C)``;
    :meth:`encode` returns a :class:`TeacherOutput`.
    """

    def __init__(
        self,
        in_channels: int = 20,
        num_classes: int = 4,
        length: int = 100,
        *,
        conv_widths: Sequence[int] = (100, 20, 10),
        attn_dims: Sequence[int] = (10, 6),
        lstm_hidden: int = 10,
        rep_dim: int = 10,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.in_channels = _positive_int("in_channels", in_channels)
        self.num_classes = _positive_int("num_classes", num_classes)
        self.length = _positive_int("length", length)
        widths = [_positive_int("conv_widths", w) for w in conv_widths]
        if not widths:
            raise ConfigError("conv_widths must name at least one convolution")
        steps = length
        for _ in widths:
            steps //= 2
        if steps < 1:
            raise ConfigError(
                f"length {length} is too short for {len(widths)} max-pool layers (halving each)"
            )
        self.rep_dim = _positive_int("rep_dim", rep_dim)
        p = _check_dropout(dropout)
        self.features = _conv_stack(in_channels, widths, p)
        self.attention = nn.ModuleList(
            SelfAttention1d(widths[-1], _positive_int("attn_dims", a)) for a in attn_dims
        )
        self.attn_proj = nn.Linear(steps * widths[-1], rep_dim)
        self.lstm = nn.LSTM(
            in_channels, _positive_int("lstm_hidden", lstm_hidden), batch_first=True
        )
        self.lstm_dropout = nn.Dropout(p)
        self.combine = nn.Linear(rep_dim + lstm_hidden, rep_dim)
        self.out = nn.Linear(rep_dim, num_classes)

    def encode(self, x: Tensor) -> TeacherOutput:
        """Logits and the three hidden vectors Attn-Rep, Causal-Rep, Combi-Rep."""
        _check_windows("x", x, self.in_channels, self.length)
        h = self.features(x).transpose(1, 2)  # (B, T', C')
        for layer in self.attention:
            h = layer(h)
        attn = self.attn_proj(h.flatten(1))  # Attn-Rep
        _, (hn, _) = self.lstm(x.transpose(1, 2))
        causal = self.lstm_dropout(hn[-1])  # Causal-Rep
        combi = self.combine(F.relu(torch.cat([attn, causal], dim=1)))  # Combi-Rep
        return TeacherOutput(self.out(F.relu(combi)), attn, causal, combi)

    def forward(self, x: Tensor) -> Tensor:
        return self.encode(x).logits


class SemanticClassifier(nn.Module):
    """The second-stage semantic classifier (Sec. 4, Fig. 1): a shallow MLP on exactly the
    teacher's three hidden vectors.

    ``[Attn-Rep; Causal-Rep; Combi-Rep] -> Linear(sum(rep_dims), hidden) -> ReLU ->
    Linear(hidden, C)``. The paper calls it "shallow" and does not give its layers; one
    hidden layer of width 10 (so its last hidden vector can feed SC-Feature KD into a 10-wide
    student) is our choice.

    Shapes: ``forward(attn (B, d1), causal (B, d2), combi (B, d3)) -> (B, C)``;
    :meth:`forward_with_hidden` also returns the ``(B, hidden)`` pre-activation hidden vector.
    """

    def __init__(
        self,
        num_classes: int = 4,
        rep_dims: Sequence[int] = (10, 10, 10),
        hidden: int = 10,
    ) -> None:
        super().__init__()
        dims = tuple(_positive_int("rep_dims", d) for d in rep_dims)
        if len(dims) != 3:
            raise ConfigError(
                f"rep_dims must give the widths of the three hidden vectors "
                f"(Attn-Rep, Causal-Rep, Combi-Rep), got {len(dims)}: {dims}"
            )
        self.rep_dims = dims
        self.hidden = nn.Linear(sum(dims), _positive_int("hidden", hidden))
        self.out = nn.Linear(hidden, _positive_int("num_classes", num_classes))

    def forward_with_hidden(
        self, attn: Tensor, causal: Tensor, combi: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``(logits, hidden)`` of the three hidden vectors."""
        reps = (attn, causal, combi)
        names = ("attn", "causal", "combi")
        b = attn.shape[0] if isinstance(attn, Tensor) and attn.ndim == 2 else None
        for name, r, d in zip(names, reps, self.rep_dims, strict=True):
            if not isinstance(r, Tensor) or r.ndim != 2 or r.shape[1] != d or r.shape[0] != b:
                raise InputError(
                    f"{name} must be a (B, {d}) hidden vector with the batch of attn, "
                    f"got {_shape(r)}"
                )
        h = self.hidden(torch.cat(reps, dim=1))
        return self.out(F.relu(h)), h

    def forward(self, attn: Tensor, causal: Tensor, combi: Tensor) -> Tensor:
        return self.forward_with_hidden(attn, causal, combi)[0]


class WearableStudent(nn.Module):
    """The student / target model (Table 2, 2.69K parameters with 3 channels, 4 classes).

    ``[Conv1d(k=3) - ReLU - MaxPool(2) - Dropout(0.1)] x 3`` (widths 100/5/5), global
    average pooling over time (Table 2's ``Linear(5, 10)`` takes 5 inputs: one per channel),
    ``Linear(5, 10)`` -> hidden vector ``h_s`` -> ReLU -> ``Linear(10, C)``.

    Shapes: ``(B, in_channels, L) -> (B, C)``, or ``((B, C), (B, hidden))`` when
    ``with_features`` is set (the form :func:`distill` needs for feature KD).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        *,
        widths: Sequence[int] = (100, 5, 5),
        hidden: int = 10,
        dropout: float = 0.1,
        with_features: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = _positive_int("in_channels", in_channels)
        ws = [_positive_int("widths", w) for w in widths]
        if not ws:
            raise ConfigError("widths must name at least one convolution")
        self.features = _conv_stack(in_channels, ws, _check_dropout(dropout))
        self.hidden = nn.Linear(ws[-1], _positive_int("hidden", hidden))
        self.out = nn.Linear(hidden, _positive_int("num_classes", num_classes))
        self.with_features = with_features

    def forward_with_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(logits, h_s)``."""
        _check_windows("x", x, self.in_channels)
        if x.shape[2] < 2 ** (len(self.features) // 4):
            raise InputError(f"x has {x.shape[2]} samples, too few for the pooling layers")
        h = self.hidden(self.features(x).mean(dim=2))
        return self.out(F.relu(h)), h

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        logits, h = self.forward_with_features(x)
        return (logits, h) if self.with_features else logits


def count_params(model: nn.Module) -> int:
    """Number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, *inputs: Tensor) -> int:
    """Floating-point operations of one call ``model(*inputs)`` (multiply-add = 2 FLOPs).

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` (convolutions, matmuls,
    attention), plus the LSTM's gate matmuls, which that counter does not see:
    ``2 * 4 * H * (I + H)`` per step and sample for each ``nn.LSTM`` layer.
    """
    from torch.utils.flop_counter import FlopCounterMode

    lstm_flops = 0
    hooks = []

    def on_lstm(mod: nn.Module, inputs: tuple[Tensor, ...], _out: Any) -> None:
        nonlocal lstm_flops
        assert isinstance(mod, nn.LSTM)
        seq = inputs[0]
        b, t = (seq.shape[0], seq.shape[1]) if mod.batch_first else (seq.shape[1], seq.shape[0])
        i, h = mod.input_size, mod.hidden_size
        for layer in range(mod.num_layers):
            lstm_flops += 2 * 4 * h * ((i if layer == 0 else h) + h) * t * b

    if not isinstance(model, nn.Module):
        raise InputError(f"model must be an nn.Module, got {type(model).__name__}")
    for m in model.modules():
        if isinstance(m, nn.LSTM):
            hooks.append(m.register_forward_hook(on_lstm))
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(*inputs)
    finally:
        for hk in hooks:
            hk.remove()
    return int(fc.get_total_flops()) + lstm_flops


# ---------------------------------------------------------------------------------------
# generic distillation on the core Trainer
# ---------------------------------------------------------------------------------------


@dataclass
class DistillResult:
    """What :func:`distill` returns: the trained student and the per-epoch history."""

    model: nn.Module
    history: list[dict[str, float]]

    @property
    def metrics(self) -> dict[str, float]:
        """The last epoch's row of the history (empty before any epoch)."""
        return dict(self.history[-1]) if self.history else {}


def _split_student(out: Any, need_features: bool) -> tuple[Tensor, Tensor | None]:
    if isinstance(out, Tensor):
        if need_features:
            raise InputError(
                "mode='feature' needs the student to return (logits, features); "
                "it returned a single tensor (set WearableStudent(with_features=True) or "
                "make forward return a tuple)"
            )
        return out, None
    if isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(o, Tensor) for o in out):
        return out[0], out[1]
    raise InputError(
        f"the student must return logits (B, C) or (logits, features), got {type(out).__name__}"
    )


def _logits_of(out: Any) -> Tensor:
    return out if isinstance(out, Tensor) else _split_student(out, False)[0]


def distill(
    student: nn.Module,
    teacher_fn: Callable[[Tensor], Tensor] | None,
    dataset: Any,
    cfg: TrainConfig,
    *,
    mode: str = "sc",
    alpha: float = DEFAULT_ALPHA,
    tau: float = DEFAULT_TAU,
    tau_squared: bool = True,
    optimizer: torch.optim.Optimizer | None = None,
    eval_data: tuple[Tensor, Tensor] | None = None,
    out_dir: str | Path | None = None,
    desc: str | None = None,
) -> DistillResult:
    """Train ``student`` with a frozen teacher through :class:`~patrec.core.train.Trainer`.

    Works for any student ``nn.Module`` that maps a batch to ``(B, C)`` logits (an image CNN,
    :class:`WearableStudent`, ...). Each step::

        mode="none":    CE(y, z_s)                                        (no KD)
        mode="logit":   Eq. (1) with z_t = teacher_fn(t)                  (logit KD)
        mode="sc":      Eq. (1) with z_t = teacher_fn(t)                  (SC-Logit KD: pass
                        the frozen semantic classifier on the frozen teacher's hidden vectors)
        mode="feature": Eq. (2) with h_t = teacher_fn(t)                  (feature KD; the
                        student must return (logits, h_s), h_s of h_t's width)

    ``"logit"`` and ``"sc"`` compute the same loss; they differ in what ``teacher_fn`` returns.

    Args:
        student: the model trained; returns logits, or ``(logits, features)``.
        teacher_fn: frozen teacher: ``teacher_fn(t) -> (B, C)`` logits (``"logit"``,
            ``"sc"``) or ``(B, D)`` features (``"feature"``); called under ``no_grad``. An
            ``nn.Module`` is put in eval mode, frozen and moved to the training device.
            ``None`` only for ``mode="none"``.
        dataset: a map-style dataset of ``(x, y)`` items, or ``(x, y, t)`` where ``t`` is
            what ``teacher_fn`` gets instead of ``x`` (a richer view of the same sample,
            e.g. all 20 sensor channels while the student sees 3, or precomputed teacher
            outputs with ``teacher_fn = lambda t: t``).
        cfg: epochs, batch size, seed, ... (:class:`~patrec.core.train.TrainConfig`).
        mode: ``"none"``, ``"logit"``, ``"sc"`` or ``"feature"``.
        alpha: cross-entropy weight of Eqs. (1)-(2), in ``[0, 1]`` (paper: 0.99).
        tau: temperature of Eq. (1), ``> 0`` (paper: 4).
        tau_squared: scale the KL term by ``tau**2`` (see :func:`logit_kd_loss`).
        optimizer: an optimizer over ``student.parameters()``; default Adadelta with
            ``lr = 0.9`` (the paper's, Sec. 4).
        eval_data: optional ``(x_test, y_test)``; every epoch logs ``test_macro_f1`` and
            ``test_accuracy`` of the student on it.
        out_dir: run folder for checkpoints and exact resume (``None``: no checkpoints).
        desc: progress-bar label (default ``"distill <mode>"``).

    Returns:
        A :class:`DistillResult`: the trained (unwrapped) student and the Trainer history
        (``train/loss``, ``train/ce``, ``train/kd`` and the eval metrics per epoch).

    Raises:
        InputError: unknown ``mode``, ``alpha`` outside ``[0, 1]``, ``tau <= 0``, a missing
            teacher, dataset items that are not ``(x, y)`` / ``(x, y, t)``, teacher outputs
            whose shape does not match the student's.
    """
    from patrec.core.metrics import accuracy, macro_f1
    from patrec.core.train import Trainer

    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not isinstance(student, nn.Module):
        raise InputError(f"student must be a torch nn.Module, got {type(student).__name__}")
    alpha = _check_alpha(alpha)
    tau = _check_tau(tau)
    if mode != "none" and not callable(teacher_fn):
        raise InputError(f"mode={mode!r} needs a teacher_fn (a callable or nn.Module), got None")
    if not isinstance(cfg, TrainConfig):
        raise InputError(f"cfg must be a patrec.core.train.TrainConfig, got {type(cfg).__name__}")
    if eval_data is not None:
        ok = (
            isinstance(eval_data, (tuple, list))
            and len(eval_data) == 2
            and all(isinstance(t, Tensor) for t in eval_data)
            and eval_data[0].shape[0] == eval_data[1].shape[0]
        )
        if not ok:
            raise InputError("eval_data must be a pair (x_test, y_test) of tensors with equal N")
    if isinstance(teacher_fn, nn.Module):
        teacher_fn.eval()
        teacher_fn.requires_grad_(False)
    opt = optimizer if optimizer is not None else torch.optim.Adadelta(student.parameters(), lr=0.9)

    def step(tr: Trainer, batch: Any) -> dict[str, Tensor]:
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            n = len(batch) if isinstance(batch, (tuple, list)) else type(batch).__name__
            raise InputError(f"dataset items must be (x, y) or (x, y, t), got {n} item(s)")
        x, y = batch[0], batch[1]
        logits, feats = _split_student(tr.model(x), mode == "feature")
        if mode == "none":
            _check_logits("student logits", logits)
            tgt = _check_target(y, logits.shape[0], logits.shape[1])
            ce = F.cross_entropy(_up(logits), tgt)
            return {"loss": ce, "ce": ce.detach()}
        assert teacher_fn is not None
        with torch.no_grad():
            t_out = teacher_fn(batch[2] if len(batch) == 3 else x)
        if not isinstance(t_out, Tensor):
            raise InputError(f"teacher_fn must return a tensor, got {type(t_out).__name__}")
        if mode == "feature":
            assert feats is not None
            loss, ce, kd = _eq2_terms(logits, feats, t_out, y, alpha)
        else:
            loss, ce, kd = _eq1_terms(logits, t_out, y, alpha, tau, tau_squared)
        return {"loss": loss, "ce": ce.detach(), "kd": kd.detach()}

    def evaluate(tr: Trainer) -> dict[str, float]:
        assert eval_data is not None
        net = tr.unwrapped_model
        xs, ys = eval_data
        logits = torch.cat(
            [_logits_of(net(xb.to(tr.device))).float().cpu() for xb in torch.split(xs, 512)]
        )
        return {"test_macro_f1": macro_f1(logits, ys), "test_accuracy": accuracy(logits, ys)}

    trainer = Trainer(
        student,
        opt,
        dataset,
        step,
        cfg,
        out_dir=out_dir,
        eval_fn=evaluate if eval_data is not None else None,
        desc=desc or f"distill {mode}",
    )
    if isinstance(teacher_fn, nn.Module):
        teacher_fn.to(trainer.device)
    history = trainer.fit()
    return DistillResult(trainer.unwrapped_model, history)


def train_semantic_classifier(
    sc: SemanticClassifier,
    teacher: TSAKTeacher,
    x: Tensor,
    y: Tensor,
    cfg: TrainConfig,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    eval_data: tuple[Tensor, Tensor] | None = None,
    out_dir: str | Path | None = None,
) -> DistillResult:
    """Stage 2: train ``sc`` with cross-entropy on the frozen teacher's three hidden vectors.

    The teacher is put in eval mode and frozen (no gradients, no dropout); its hidden vectors
    of ``x`` are computed once. ``eval_data = (x_test, y_test)`` are teacher inputs.

    Args:
        sc: the :class:`SemanticClassifier` trained.
        teacher: the trained first-stage teacher (left frozen).
        x: ``(N, C_in, L)`` teacher inputs; ``y``: ``(N,)`` labels.
        cfg: loop settings; ``optimizer``: default Adadelta ``lr = 0.9``.

    Returns:
        A :class:`DistillResult` with the trained classifier.
    """
    from torch.utils.data import TensorDataset

    from patrec.core.metrics import accuracy, macro_f1
    from patrec.core.train import Trainer

    if not isinstance(teacher, TSAKTeacher) or not isinstance(sc, SemanticClassifier):
        raise InputError("train_semantic_classifier needs a TSAKTeacher and a SemanticClassifier")
    teacher.eval()
    teacher.requires_grad_(False)
    reps = _teacher_reps(teacher, x)
    test_reps = _teacher_reps(teacher, eval_data[0]) if eval_data is not None else None
    opt = optimizer if optimizer is not None else torch.optim.Adadelta(sc.parameters(), lr=0.9)

    def step(tr: Trainer, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        a, c, m, yy = batch
        ce = F.cross_entropy(tr.model(a, c, m), yy)
        return {"loss": ce, "ce": ce.detach()}

    def evaluate(tr: Trainer) -> dict[str, float]:
        assert test_reps is not None and eval_data is not None
        dev = tr.device
        logits = tr.unwrapped_model(*(r.to(dev) for r in test_reps)).float().cpu()
        return {
            "test_macro_f1": macro_f1(logits, eval_data[1]),
            "test_accuracy": accuracy(logits, eval_data[1]),
        }

    trainer = Trainer(
        sc,
        opt,
        TensorDataset(*reps, y),
        step,
        cfg,
        out_dir=out_dir,
        eval_fn=evaluate if eval_data is not None else None,
        desc="semantic classifier",
    )
    return DistillResult(trainer.unwrapped_model, trainer.fit())


@torch.no_grad()
def _teacher_reps(
    teacher: TSAKTeacher, x: Tensor, chunk: int = 1024
) -> tuple[Tensor, Tensor, Tensor]:
    """``(attn, causal, combi)`` of the teacher in eval mode, on the CPU."""
    was = teacher.training
    teacher.eval()
    dev = next(teacher.parameters()).device
    outs = [teacher.encode(xb.to(dev)) for xb in torch.split(x, chunk)]
    teacher.train(was)
    return tuple(
        torch.cat([getattr(o, k) for o in outs]).cpu() for k in ("attn", "causal", "combi")
    )  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# wearable-like data with planted cross-channel evidence
# ---------------------------------------------------------------------------------------

CLASS_NAMES = ("walk", "button", "door", "check")  # Fig. 1: Walk, Btn, Door, Check
_HAND = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z", "cap_index", "cap_thumb",
         "cap_little", "cap_wrist")  # fmt: skip
CHANNEL_NAMES = tuple(f"R_{c}" for c in _HAND) + tuple(f"L_{c}" for c in _HAND)
STUDENT_CHANNELS = (0, 1, 2)  # right-hand accelerometer, as the paper's right-hand student
_ACC = [0, 1, 2, 10, 11, 12]
_GYR = [3, 4, 5, 13, 14, 15]
_CAP = [6, 7, 8, 9, 16, 17, 18, 19]


@dataclass
class WearableData:
    """Windows ``(N, 20, L)`` with labels, split by user (train users / held-out users).

    Channels follow :data:`CHANNEL_NAMES` (right hand 0-9, left hand 10-19: acc xyz, gyro
    xyz, 4 capacitive); :data:`STUDENT_CHANNELS` are the student's 3.
    """

    x_train: Tensor
    y_train: Tensor
    users_train: Tensor
    x_test: Tensor
    y_test: Tensor
    users_test: Tensor
    fs: float
    student_channels: tuple[int, ...] = STUDENT_CHANNELS
    channel_names: tuple[str, ...] = CHANNEL_NAMES
    class_names: tuple[str, ...] = CLASS_NAMES

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def student_view(self, x: Tensor) -> Tensor:
        """The student's channels of ``x`` ``(N, 20, L) -> (N, 3, L)``."""
        return x[:, list(self.student_channels)].contiguous()


def _smooth_box(t: np.ndarray, a: float, b: float, edge: float = 0.04) -> np.ndarray:
    """~1 on ``[a, b]``, ~0 outside, with logistic edges of ``edge`` seconds."""
    return 1.0 / (1.0 + np.exp(-(t - a) / edge)) / (1.0 + np.exp(-(b - t) / edge))


def _push(t: np.ndarray, c: float, w: float) -> np.ndarray:
    """Acceleration of a smooth push-and-stop: derivative of a Gaussian, peak 1 at ``c +- w``."""
    z = (t - c) / w
    return -z * np.exp(0.5 - 0.5 * z * z)


def _window(
    rng: np.random.Generator, label: int, user: dict[str, Any], t: np.ndarray
) -> np.ndarray:
    """One raw window ``(20, L)``: acc in m/s^2, gyro in deg/s, capacitive in [0, 1]-ish."""
    length = t.size
    x = np.zeros((20, length))
    g = user["gain"]
    for hand in (0, 1):  # gravity with per-user and per-window tilt (class-independent)
        d = user["tilt"][hand] + rng.normal(0.0, 0.25, 3)
        x[hand * 10 : hand * 10 + 3] = 9.81 * (d / np.linalg.norm(d))[:, None]
        x[hand * 10 + 6 : hand * 10 + 10] = user["cap_base"][hand][:, None]
    r, left = 0, 10
    if label == 0:  # walk: arm swing at the step frequency, hands in anti-phase
        f, ph = user["step_hz"] * rng.uniform(0.9, 1.1), rng.uniform(0, 2 * np.pi)
        for hand, sgn in ((r, 1.0), (left, -1.0)):
            s = np.sin(2 * np.pi * f * t + ph)
            x[hand + 0] += sgn * g * rng.uniform(2.5, 4.5) * s
            x[hand + 2] += g * rng.uniform(1.0, 2.0) * np.sin(4 * np.pi * f * t + ph)
            x[hand + 4] += sgn * g * rng.uniform(40, 80) * np.cos(2 * np.pi * f * t + ph)
    elif label == 1:  # button: short taps (acc y spikes) with index-finger touches
        for c in rng.uniform(0.2, 1.8, rng.integers(1, 4)):
            x[r + 1] += g * rng.uniform(2.0, 4.0) * np.exp(-0.5 * ((t - c) / 0.03) ** 2)
            x[r + 6] += rng.uniform(0.4, 0.7) * _smooth_box(t, c - 0.08, c + 0.12)
            x[r + 3] += rng.uniform(5, 15) * np.exp(-0.5 * ((t - c) / 0.05) ** 2)
    elif label == 2:  # door: one push/pull; most of the hand grips (fingers + wrist)
        c, w = rng.uniform(0.6, 1.4), user["tempo"] * rng.uniform(0.12, 0.28)
        amp = g * rng.uniform(1.5, 3.5)
        x[r + 0] += amp * _push(t, c, w)
        x[r + 2] += 0.3 * amp * _push(t, c, w)
        grip = _smooth_box(t, c - 2.5 * w, c + 2.5 * w)
        touched = rng.random(4) < 0.75
        touched[rng.integers(0, 4)] = True
        for k in np.flatnonzero(touched):
            x[r + 6 + k] += rng.uniform(0.4, 0.8) * grip
        if rng.random() < 0.7:  # turning the handle
            x[r + 5] += rng.uniform(10, 25) * np.exp(-0.5 * ((t - c) / (1.5 * w)) ** 2)
        if rng.random() < 0.5:  # sometimes both hands push
            x[left + 0] += 0.6 * amp * _push(t, c, w)
            x[left + 9] += rng.uniform(0.3, 0.6) * grip
    else:  # check: 1-3 smaller reaches inside a module, finger touches, wrist twists
        for c in rng.uniform(0.4, 1.6, rng.integers(1, 4)):
            w = user["tempo"] * rng.uniform(0.1, 0.24)
            amp = g * rng.uniform(1.0, 3.0)
            x[r + 0] += amp * _push(t, c, w)
            x[r + 2] += 0.3 * amp * _push(t, c, w)
            fingers = rng.choice(3, size=1 + int(rng.random() < 0.3), replace=False)
            for k in fingers:
                x[r + 6 + k] += rng.uniform(0.4, 0.7) * _smooth_box(t, c - w, c + 2 * w)
            if rng.random() < 0.7:
                env = np.exp(-0.5 * ((t - c) / (2 * w)) ** 2)
                x[r + 3] += rng.uniform(30, 60) * env * np.sin(2 * np.pi * rng.uniform(2, 4) * t)
        if rng.random() < 0.7:  # the other hand holds the module
            x[left + 9] += rng.uniform(0.3, 0.6)
            x[left + 3 : left + 6] += rng.normal(0, 5.0, (3, 1))
    # sensor noise
    x[_ACC] += rng.normal(0.0, 0.3 * user["noise"], (6, length))
    x[_GYR] += rng.normal(0.0, 3.0 * user["noise"], (6, length))
    x[_CAP] += rng.normal(0.0, 0.03 * user["noise"], (8, length))
    return x


def make_wearable_data(
    *,
    users: int = 12,
    test_users: int = 4,
    windows_per_class: int = 15,
    length: int = 100,
    fs: float = 50.0,
    noise: float = 1.0,
    normalize: str = "minmax",
    seed: int = 0,
) -> WearableData:
    """Glove-like windows of 4 factory activities with evidence spread over 20 channels.

    Each window is 2 s (``length`` samples at ``fs`` Hz, paper Sec. 4: 100 samples at 50 Hz)
    of 20 channels: per hand a 3-axis accelerometer (m/s^2, with gravity), a 3-axis
    gyroscope (deg/s) and 4 capacitive touch channels (index, thumb, little finger, wrist).
    Activities (Fig. 1): ``walk`` (periodic arm swing), ``button`` (short taps with the
    index finger), ``door`` (one push/pull with the whole hand gripping), ``check`` (1-3
    reaches inside a module with single-finger touches and wrist twists, the other hand
    holding). ``door`` and ``check`` overlap in the right-hand accelerometer that the
    student sees; the capacitive, gyroscope and left-hand channels separate them. Users
    differ in gain, tempo, step frequency, sensor tilt and capacitive baseline; the last
    ``test_users`` users are held out (cross-user evaluation, as the paper's
    leave-one-session-out scheme).

    Pre-processing (statistics of the training users only): ``normalize="minmax"`` is the
    paper's (Sec. 4): accelerometer and capacitive channels min-max normalised to ``[0, 1]``
    per channel, gyroscopes kept in deg/s. ``normalize="zscore"`` standardises every
    channel to zero mean and unit variance instead. The paper's 30-Hz Butterworth low-pass
    is above the 25-Hz Nyquist frequency of 50-Hz data, so it is not applied.

    Returns:
        A :class:`WearableData` (float32 windows, int64 labels).

    Raises:
        InputError: non-positive sizes, ``test_users`` not below ``users``, ``noise < 0``,
            an unknown ``normalize``.
    """
    if normalize not in ("minmax", "zscore"):
        raise InputError(f"normalize must be 'minmax' or 'zscore', got {normalize!r}")
    for name, v in (("users", users), ("windows_per_class", windows_per_class), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise InputError(f"{name} must be a positive int, got {v!r}")
    if (
        isinstance(test_users, bool)
        or not isinstance(test_users, int)
        or not 0 < test_users < users
    ):
        raise InputError(
            f"test_users must be an int in [1, users - 1] = [1, {users - 1}], got {test_users!r}"
        )
    if not (isinstance(fs, (int, float)) and fs > 0):
        raise InputError(f"fs must be a positive float, got {fs!r}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise InputError(f"noise must be a finite float >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    t = np.arange(length) / float(fs)
    xs, ys, us = [], [], []
    for u in range(users):
        user = {
            "gain": rng.uniform(0.75, 1.25),
            "tempo": rng.uniform(0.8, 1.25),
            "step_hz": rng.uniform(1.6, 2.2),
            "tilt": [np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.3, 3) for _ in range(2)],
            "cap_base": [rng.uniform(0.05, 0.3, 4) for _ in range(2)],
            "noise": noise * rng.uniform(0.8, 1.2),
        }
        for label in range(len(CLASS_NAMES)):
            for _ in range(windows_per_class):
                xs.append(_window(rng, label, user, t))
                ys.append(label)
                us.append(u)
    x = np.stack(xs).astype(np.float64)
    y = np.asarray(ys, dtype=np.int64)
    uid = np.asarray(us, dtype=np.int64)
    train = uid < users - test_users
    if normalize == "minmax":  # Sec. 4: acc and capacitive to [0, 1], gyroscopes raw
        sel = _ACC + _CAP
        lo = x[train][:, sel].min(axis=(0, 2))[None, :, None]
        hi = x[train][:, sel].max(axis=(0, 2))[None, :, None]
        x[:, sel] = (x[:, sel] - lo) / np.maximum(hi - lo, 1e-8)
    else:  # zscore: every channel to zero mean, unit variance
        mu = x[train].mean(axis=(0, 2))[None, :, None]
        sd = x[train].std(axis=(0, 2))[None, :, None]
        x = (x - mu) / np.maximum(sd, 1e-8)
    xt = torch.from_numpy(x.astype(np.float32))
    yt, ut = torch.from_numpy(y), torch.from_numpy(uid)
    tr, te = torch.from_numpy(train), torch.from_numpy(~train)
    return WearableData(xt[tr], yt[tr], ut[tr], xt[te], yt[te], ut[te], float(fs))


# --- recipe (config, training, registration) below ---

# The recipe, for every seed: trains the teacher (CE, 20 channels), freezes it, trains the
# semantic classifier on its three hidden vectors (CE), freezes it, then trains the same
# 3-channel student four ways with the same seed, data and budget:
#   "none":    CE only (the paper's "Baseline" target model),
#   "logit":   Eq. (1) with the teacher's logits ("Logit"),
#   "feature": Eq. (2) with one teacher hidden vector (default Combi-Rep, the paper's best
#              feature KD),
#   "sc":      Eq. (1) with the semantic classifier's logits ("SC-Logit", TSAK).
# and compares macro-F1 on held-out users, parameters, FLOPs and single-window latency.

VARIANTS = ("none", "logit", "feature", "sc")
_LABELS = {
    "none": "no KD",
    "logit": "logit KD",
    "feature": "feature KD",
    "sc": "SC-logit KD (TSAK)",
    "teacher": "teacher (20 ch)",
    "semantic": "semantic clf.",
}
FEATURE_REPS = ("attn", "causal", "combi", "sc")


@dataclass
class TSAKDataConfig:
    """The generated glove windows (:func:`make_wearable_data`)."""

    users: int = param(12, "participants", source="Sec. 3: 12 participants (factory dataset)")
    test_users: int = param(
        4, "held-out users", source="not stated as such (5-fold leave-one-session-out); ours"
    )
    windows_per_class: int = param(15, "windows per user and activity", source="our choice")
    length: int = param(100, "samples per window", source="Sec. 4: 2 s resampled to 100 @ 50 Hz")
    fs: float = param(50.0, "sampling rate (Hz)", source="Sec. 4: 50 Hz")
    noise: float = param(1.0, "sensor-noise multiplier", source="our choice")
    normalize: str = param(
        "minmax", "minmax (acc/cap to [0, 1], gyro raw) or zscore (every channel)",
        source="Sec. 4: min-max to [0, 1], gyroscopes kept in deg/s",
    )  # fmt: skip
    seed: int = param(0, "seed of the generated data (fixed across model seeds)")


@dataclass
class TSAKModelConfig:
    """Teacher, semantic classifier and student sizes (Table 2)."""

    teacher_widths: tuple[int, ...] = param(
        (100, 20, 10), "TA conv widths", source="Table 2: TASmart O=100/20/10"
    )
    attn_dims: tuple[int, ...] = param(
        (10, 6), "query/key width of the self-attention layers",
        source="Table 2: Self Attention (10,10), (6,6); reading as q/k width is ours",
    )  # fmt: skip
    lstm_hidden: int = param(10, "LSTM hidden size (Causal-Rep)", source="Table 2: LSTM (10,10)")
    rep_dim: int = param(10, "width of Attn-Rep / Combi-Rep", source="Table 2: Linear(120,10)")
    teacher_dropout: float = param(0.2, "teacher dropout", source="Table 2: 0.2")
    sc_hidden: int = param(
        10, "semantic classifier hidden width", source="not stated ('shallow'); our choice"
    )
    student_widths: tuple[int, ...] = param(
        (100, 5, 5), "student conv widths", source="Table 2: Student O=100/5/5"
    )
    student_hidden: int = param(10, "student hidden width", source="Table 2: Linear(5,10)")
    student_dropout: float = param(0.1, "student dropout", source="Table 2: 0.1")


@dataclass
class TSAKLossConfig:
    """Eqs. (1)-(2)."""

    alpha: float = param(DEFAULT_ALPHA, "CE weight of Eqs. 1-2", source="Sec. 5, Fig. 4: 0.99")
    tau: float = param(DEFAULT_TAU, "KD temperature of Eq. 1", source="Sec. 5, Fig. 4B: 4", gt=0)
    tau_squared: bool = param(
        True, "scale the KL term by tau^2",
        source="not in Eq. 1 as printed; Hinton/Cho-Hariharan (refs. 10, 16) use it; ours",
    )  # fmt: skip
    feature_rep: str = param(
        "combi", "teacher vector of feature KD: attn, causal, combi or sc",
        source="Table 4: Combi-Rep is the best feature KD",
    )  # fmt: skip


@dataclass
class TSAKOptimConfig:
    """Optimiser and stage budgets."""

    name: str = param("adadelta", "adadelta or adam", source="Sec. 4: Adadelta")
    lr: float = param(0.9, "learning rate", source="Sec. 4: Adadelta, lr 0.9", gt=0)
    teacher_epochs: int = param(100, "teacher epochs", source="Sec. 4: 100 (early stopping 10)")
    sc_epochs: int = param(100, "semantic classifier epochs", source="Sec. 4: 100")


@dataclass
class TSAKBenchConfig:
    """Single-window inference timing (``patrec.core.bench.time_call``)."""

    repeats: int = param(30, "timed calls per model", source="our choice")
    warmup: int = param(5, "untimed calls first", source="our choice")


@dataclass
class TSAKConfig:
    """Config of the TSAK recipe (:func:`recipe`); ``train`` is the student stage's loop."""

    data: TSAKDataConfig = field(default_factory=TSAKDataConfig)
    model: TSAKModelConfig = field(default_factory=TSAKModelConfig)
    loss: TSAKLossConfig = field(default_factory=TSAKLossConfig)
    optim: TSAKOptimConfig = field(default_factory=TSAKOptimConfig)
    bench: TSAKBenchConfig = field(default_factory=TSAKBenchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = param(VARIANTS, "students trained: none, logit, feature, sc")
    seeds: tuple[int, ...] = param((0, 1, 2), "one full two-stage run per seed")


def paper_config() -> TSAKConfig:
    """The paper's setting (Sec. 4): Adadelta lr 0.9, batch 64, 100 epochs, alpha 0.99, tau 4.

    The data are generated (the factory and OpenPack recordings are not public here);
    early stopping (patience 10) is not applied: every stage runs its full epoch budget.
    """
    return TSAKConfig(
        data=TSAKDataConfig(windows_per_class=60),
        train=TrainConfig(epochs=100, batch_size=64),
        seeds=(0, 1, 2, 3, 4),
    )


def smoke_config() -> TSAKConfig:
    """CPU scale: 8 windows per user and class, 15-20 epochs, 3 seeds, no checkpoints.

    Two departures from the paper so that the tiny student learns within ~200 steps:
    z-scored channels (with min-max ``[0, 1]`` inputs it sits at chance for ~30 epochs)
    and Adam (lr 0.01; Adadelta's first steps are ~1e-3 wide), batch 32.
    """
    return TSAKConfig(
        data=TSAKDataConfig(windows_per_class=8, normalize="zscore"),
        optim=TSAKOptimConfig(name="adam", lr=0.01, teacher_epochs=15, sc_epochs=15),
        bench=TSAKBenchConfig(repeats=20, warmup=3),
        train=TrainConfig(epochs=20, batch_size=32, cpu=True, resume=False),
        seeds=(0, 1, 2),
    )


def _check_config(cfg: TSAKConfig) -> None:
    bad = [v for v in cfg.variants if v not in VARIANTS]
    if bad or not cfg.variants:
        raise ConfigError(f"variants: expected some of {', '.join(VARIANTS)}, got {cfg.variants}")
    if not cfg.seeds:
        raise ConfigError("seeds: give at least one seed")
    if cfg.loss.feature_rep not in FEATURE_REPS:
        raise ConfigError(
            f"loss.feature_rep: expected one of {', '.join(FEATURE_REPS)}, "
            f"got {cfg.loss.feature_rep!r}"
        )
    if not 0.0 <= cfg.loss.alpha <= 1.0:
        raise ConfigError(f"loss.alpha must be in [0, 1], got {cfg.loss.alpha}")
    if not cfg.loss.tau > 0:
        raise ConfigError(f"loss.tau must be > 0, got {cfg.loss.tau}")
    if cfg.optim.teacher_epochs < 1 or cfg.optim.sc_epochs < 1:
        raise ConfigError("optim.teacher_epochs and optim.sc_epochs must be >= 1")
    if cfg.optim.name not in ("adadelta", "adam"):
        raise ConfigError(f"optim.name: expected adadelta or adam, got {cfg.optim.name!r}")
    if cfg.data.normalize not in ("minmax", "zscore"):
        raise ConfigError(f"data.normalize: expected minmax or zscore, got {cfg.data.normalize!r}")
    if cfg.bench.repeats < 1:
        raise ConfigError(f"bench.repeats must be >= 1, got {cfg.bench.repeats}")


def make_optimizer(cfg: TSAKConfig, model: nn.Module) -> torch.optim.Optimizer:
    """The configured optimiser over ``model``'s parameters."""
    if cfg.optim.name == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    return torch.optim.Adadelta(model.parameters(), lr=cfg.optim.lr)


def load_data(cfg: TSAKConfig) -> WearableData:
    """The generated windows of ``cfg.data``."""
    d = cfg.data
    return make_wearable_data(
        users=d.users,
        test_users=d.test_users,
        windows_per_class=d.windows_per_class,
        length=d.length,
        fs=d.fs,
        noise=d.noise,
        normalize=d.normalize,
        seed=d.seed,
    )


def make_teacher(cfg: TSAKConfig, data: WearableData) -> TSAKTeacher:
    """The configured teacher on all 20 channels."""
    m = cfg.model
    return TSAKTeacher(
        data.x_train.shape[1],
        data.num_classes,
        data.x_train.shape[2],
        conv_widths=m.teacher_widths,
        attn_dims=m.attn_dims,
        lstm_hidden=m.lstm_hidden,
        rep_dim=m.rep_dim,
        dropout=m.teacher_dropout,
    )


def make_student(
    cfg: TSAKConfig, data: WearableData, *, with_features: bool = False
) -> WearableStudent:
    """The configured 3-channel student."""
    m = cfg.model
    return WearableStudent(
        len(data.student_channels),
        data.num_classes,
        widths=m.student_widths,
        hidden=m.student_hidden,
        dropout=m.student_dropout,
        with_features=with_features,
    )


def _bench(model: Callable[[Tensor], Any], x1: Tensor, cfg: TSAKConfig) -> float:
    """Median seconds of one single-window forward pass (inference mode)."""
    from patrec.core.bench import time_call

    with torch.inference_mode():
        return time_call(
            lambda: model(x1), repeats=cfg.bench.repeats, warmup=cfg.bench.warmup
        ).median


@dataclass
class _SeedRun:
    teacher: dict[str, Any]
    semantic: dict[str, Any]
    students: dict[str, dict[str, Any]]


def _run_seed(cfg: TSAKConfig, seed: int, data: WearableData, out: Path) -> _SeedRun:
    """One seed: both stages, then every student variant (finished runs are read back)."""
    import json

    from torch.utils.data import TensorDataset

    from patrec.core.metrics import accuracy, macro_f1
    from patrec.core.report import atomic_write_text
    from patrec.core.train import seed_everything

    def done(path: Path) -> dict[str, Any] | None:
        f = path / "result.json"
        return json.loads(f.read_text()) if f.is_file() else None

    def ck(path: Path) -> Path | None:  # checkpoints only when they can be resumed
        return path if cfg.train.resume else None

    def save(path: Path, res: dict[str, Any]) -> dict[str, Any]:
        atomic_write_text(path / "result.json", json.dumps(res, indent=1))
        return res

    student_dirs = {v: out / "runs" / v / f"seed{seed}" for v in cfg.variants}
    finished = {v: done(p) for v, p in student_dirs.items()}
    t_dir, s_dir = (
        out / "runs" / "teacher" / f"seed{seed}",
        out / "runs" / "semantic" / f"seed{seed}",
    )
    t_done, s_done = done(t_dir), done(s_dir)
    if t_done is not None and s_done is not None and all(r is not None for r in finished.values()):
        return _SeedRun(t_done, s_done, {v: r for v, r in finished.items() if r is not None})

    x_tr, x_te = data.x_train, data.x_test
    xs_tr, xs_te = data.student_view(x_tr), data.student_view(x_te)
    y_tr, y_te = data.y_train, data.y_test
    x1_t, x1_s = x_te[:1], xs_te[:1]

    # stage 1: the teacher (CE on 20 channels); the Trainer resumes a finished run instantly
    seed_everything(seed)
    teacher = make_teacher(cfg, data)
    t_cfg = dataclasses.replace(cfg.train, seed=seed, epochs=cfg.optim.teacher_epochs)
    t_opt = make_optimizer(cfg, teacher)
    tr = distill(
        teacher,
        None,
        TensorDataset(x_tr, y_tr),
        t_cfg,
        mode="none",
        optimizer=t_opt,
        eval_data=(x_te, y_te),
        out_dir=ck(t_dir),
        desc=f"teacher seed {seed}",
    )
    teacher = tr.model  # type: ignore[assignment]
    assert isinstance(teacher, TSAKTeacher)
    teacher.cpu().eval().requires_grad_(False)

    # stage 2: the semantic classifier on the frozen teacher's three hidden vectors
    seed_everything(seed)
    m = cfg.model
    sc = SemanticClassifier(data.num_classes, (m.rep_dim, m.lstm_hidden, m.rep_dim), m.sc_hidden)
    s_cfg = dataclasses.replace(cfg.train, seed=seed, epochs=cfg.optim.sc_epochs)
    s_opt = make_optimizer(cfg, sc)
    sr = train_semantic_classifier(sc, teacher, x_tr, y_tr, s_cfg, optimizer=s_opt,
                                   eval_data=(x_te, y_te), out_dir=ck(s_dir))  # fmt: skip
    sc = sr.model  # type: ignore[assignment]
    assert isinstance(sc, SemanticClassifier)
    sc.cpu().eval().requires_grad_(False)

    def semantic_pipeline(x: Tensor) -> Tensor:
        o = teacher.encode(x)
        return sc(o.attn, o.causal, o.combi)

    with torch.no_grad():
        t_logits = teacher(x_te)
        sc_logits = semantic_pipeline(x_te)
    t_params = count_params(teacher)
    t_res = save(t_dir, {
        "seed": seed, "history": tr.history,
        "metrics": {"macro_f1": macro_f1(t_logits, y_te), "accuracy": accuracy(t_logits, y_te),
                    "params": t_params, "flops": count_flops(teacher, x1_t),
                    "latency_s": _bench(teacher, x1_t, cfg)},
    })  # fmt: skip
    sc_flops = count_flops(sc, *teacher.encode(x1_t)[1:])
    s_res = save(s_dir, {
        "seed": seed, "history": sr.history,
        "metrics": {"macro_f1": macro_f1(sc_logits, y_te), "accuracy": accuracy(sc_logits, y_te),
                    "params": t_params + count_params(sc),
                    "flops": count_flops(teacher, x1_t) + sc_flops,
                    "latency_s": _bench(semantic_pipeline, x1_t, cfg)},
    })  # fmt: skip

    # the teacher outputs each student variant learns from, computed once (eval mode)
    with torch.no_grad():
        targets: dict[str, Tensor] = {"none": torch.zeros(len(y_tr), 1)}
        o = teacher.encode(x_tr)
        targets["logit"] = o.logits
        sc_logits_tr, sc_hidden_tr = sc.forward_with_hidden(o.attn, o.causal, o.combi)
        targets["sc"] = sc_logits_tr
        rep = cfg.loss.feature_rep
        targets["feature"] = sc_hidden_tr if rep == "sc" else getattr(o, rep)

    students: dict[str, dict[str, Any]] = {}
    lc = cfg.loss
    for v in cfg.variants:
        prev = finished[v]
        if prev is not None:
            students[v] = prev
            continue
        seed_everything(seed)  # every variant starts from the same initial student
        student = make_student(cfg, data, with_features=v == "feature")
        st_cfg = dataclasses.replace(cfg.train, seed=seed)
        opt = make_optimizer(cfg, student)
        res = distill(
            student,
            (lambda t: t) if v != "none" else None,
            TensorDataset(xs_tr, y_tr, targets[v]),
            st_cfg,
            mode=v,
            alpha=lc.alpha,
            tau=lc.tau,
            tau_squared=lc.tau_squared,
            optimizer=opt,
            eval_data=(xs_te, y_te),
            out_dir=ck(student_dirs[v]),
            desc=f"{v} seed {seed}",
        )
        net = res.model
        assert isinstance(net, WearableStudent)
        net.cpu().eval()
        net.with_features = False
        with torch.no_grad():
            logits = net(xs_te)
        assert isinstance(logits, Tensor)
        students[v] = save(student_dirs[v], {
            "seed": seed, "history": res.history,
            "metrics": {"macro_f1": macro_f1(logits, y_te), "accuracy": accuracy(logits, y_te),
                        "params": count_params(net), "flops": count_flops(net, x1_s),
                        "latency_s": _bench(net, x1_s, cfg)},
        })  # fmt: skip
    return _SeedRun(t_res, s_res, students)


def _plot_params_vs_time(points: Mapping[str, tuple[float, float, float]], path: Path) -> Path:
    """Parameters (x, thousands) against single-window latency in ms (y, with std bars)."""
    from patrec.core.report import _plt, _save

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    colors = ("tab:orange", "tab:blue", "tab:green", "tab:red")
    offsets = ((10, 8), (-10, 14), (10, -22), (10, 8))
    for k, (name, (params, ms, sd)) in enumerate(points.items()):
        c = colors[k % len(colors)]
        ax.errorbar([params / 1e3], [ms], yerr=[sd], fmt="o", ms=9, capsize=4, color=c, label=name)
        ax.annotate(
            f"{name}: {params / 1e3:.2f}K, {ms:.2f} ms",
            (params / 1e3, ms),
            xytext=offsets[k % len(offsets)],
            textcoords="offset points",
            ha="right" if offsets[k % len(offsets)][0] < 0 else "left",
            fontsize=9,
        )
    ax.set_xlabel("parameters (thousands)")
    ax.set_ylabel("single-window inference time (ms, median)")
    ax.set_title("model size vs CPU inference time (mean ± std over seeds)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.margins(x=0.25, y=0.3)
    return _save(fig, path)


def recipe(cfg: TSAKConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """Run both TSAK stages and every student variant per seed; compare; write plots.

    Writes ``metrics.json`` (macro-F1 and accuracy on held-out users as mean ± std over
    seeds, parameters, FLOPs and single-window latency of teacher, teacher + semantic
    classifier and student), ``f1.png`` (F1 per variant), ``params_vs_time.png``,
    ``test_f1_curves.png`` (student F1 per epoch) and ``runs/<variant>/seed<k>/``
    (``result.json``, and with ``train.resume`` the checkpoints a killed run resumes from;
    finished runs are read back, not retrained).

    ``data``: an optional :class:`WearableData` used instead of the generated windows.
    """
    from patrec.core.bench import ratios
    from patrec.core.report import plot_bars, plot_curves, summarize_seeds, write_metrics

    _check_config(cfg)
    if data is not None and not isinstance(data, WearableData):
        raise ConfigError(f"data must be a WearableData (or None), got {type(data).__name__}")
    wd = data if isinstance(data, WearableData) else load_data(cfg)
    out = Path(out_dir)
    runs = [_run_seed(cfg, s, wd, out) for s in cfg.seeds]

    def summary(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
        ms = [r["metrics"] for r in results]
        lat = [1000.0 * m["latency_s"] for m in ms]
        return {
            "macro_f1": summarize_seeds([m["macro_f1"] for m in ms]),
            "accuracy": summarize_seeds([m["accuracy"] for m in ms]),
            "params": float(ms[0]["params"]),
            "flops": float(ms[0]["flops"]),
            "latency_ms": summarize_seeds(lat),
        }

    variants: dict[str, dict[str, Any]] = {
        v: summary([r.students[v] for r in runs]) for v in cfg.variants
    }
    variants["teacher"] = summary([r.teacher for r in runs])
    variants["semantic"] = summary([r.semantic for r in runs])
    student_ref = cfg.variants[0]
    st, te = variants[student_ref], variants["teacher"]
    efficiency = {
        "student_params_smaller_pct": 100.0 * (1.0 - st["params"] / te["params"]),
        "student_flops_smaller_pct": 100.0 * (1.0 - st["flops"] / te["flops"]),
        "teacher_over_student_latency": ratios(
            {"teacher": te["latency_ms"]["mean"], "student": st["latency_ms"]["mean"]},
            reference="student",
        )["teacher"],
    }
    plots = [
        plot_bars(
            {_LABELS[k]: variants[k]["macro_f1"] for k in ("teacher", "semantic", *cfg.variants)},
            out / "f1.png",
            title=f"macro-F1 on {cfg.data.test_users} held-out users ({len(cfg.seeds)} seeds)",
            ylabel="macro-F1",
            highlight=_LABELS["sc"],
        ),
        _plot_params_vs_time(
            {
                "student (3 ch)": (st["params"], st["latency_ms"]["mean"], st["latency_ms"]["std"]),
                "teacher (20 ch)": (
                    te["params"],
                    te["latency_ms"]["mean"],
                    te["latency_ms"]["std"],
                ),
                "teacher + semantic clf.": (
                    variants["semantic"]["params"],
                    variants["semantic"]["latency_ms"]["mean"],
                    variants["semantic"]["latency_ms"]["std"],
                ),
            },
            out / "params_vs_time.png",
        ),
        plot_curves(
            {
                _LABELS[v]: [[h["test_macro_f1"] for h in r.students[v]["history"]] for r in runs]
                for v in cfg.variants
            },
            out / "test_f1_curves.png",
            title="student macro-F1 on held-out users per epoch (mean ± std)",
            ylabel="macro-F1",
        ),  # fmt: skip
    ]
    ours = "sc" if "sc" in cfg.variants else cfg.variants[-1]
    return write_metrics(
        out,
        method="core/tsak",
        variants=variants,
        primary="macro_f1",
        ours=ours,
        baselines=[v for v in cfg.variants if v != ours],
        plots=plots,
        extra={
            "efficiency": efficiency,
            "seeds": list(cfg.seeds),
            "student_channels": [wd.channel_names[c] for c in wd.student_channels],
            "n_train": len(wd.y_train),
            "n_test": len(wd.y_test),
            "epochs": {"teacher": cfg.optim.teacher_epochs, "semantic": cfg.optim.sc_epochs,
                       "student": cfg.train.epochs},
            "timing_note": "single-window CPU latency, median of bench.repeats calls",
        },
    )  # fmt: skip


METHOD = Method(
    name="core/tsak",
    title=(
        "TSAK: Two-Stage Semantic-Aware Knowledge Distillation for Efficient Wearable "
        "Modality and Model Optimization in Manufacturing Lines"
    ),
    paper="000/14",
    citation=(
        "H. Bello, D. Geissler, S. Suh, B. Zhou, P. Lukowicz. TSAK: Two-Stage Semantic-Aware "
        "Knowledge Distillation for Efficient Wearable Modality and Model Optimization in "
        "Manufacturing Lines. ICPR 2024."
    ),
    task="wearable activity recognition: (channels, time) sensor window -> activity class",
    config=TSAKConfig,
    presets={"paper": paper_config, "smoke": smoke_config},
    recipe=recipe,
    baselines=(
        "none: the 3-channel student trained with CE only",
        "logit: Eq. 1 with the teacher's logits",
        "feature: Eq. 2, cosine KD of the teacher's Combi-Rep",
    ),
    status="done",
    summary=(
        "Two-stage KD: a 20-channel attention + LSTM teacher, then a shallow semantic "
        "classifier on its three hidden vectors (Attn/Causal/Combi-Rep) whose logits distil "
        "a 2.69K-parameter 3-channel CNN student with L_SC (Eq. 1, alpha 0.99, tau 4)."
    ),
    paper_numbers={
        "factory, right-hand student F1 (Table 4)": (
            "SC-Logit 0.8134 vs no-KD 0.7594, logit KD 0.7616, Combi-Rep 0.7887 "
            "(teacher 0.8591, semantic classifier 0.9058)"
        ),
        "OpenPack F1 (Table 5)": "SC-Logit 0.7656 vs no-KD 0.6606, Combi-Rep 0.7571",
        "efficiency (Table 3)": "student 79% fewer parameters, 8.88x faster, 96.6% fewer FLOPs",
    },
    measured={
        "smoke (generated 20-ch glove windows, 8 train / 4 held-out users, 20 student "
        "epochs, 3 seeds), macro-F1": (
            "SC-Logit 0.538 ± 0.082 vs no-KD 0.501 ± 0.118, logit KD 0.513 ± 0.116, feature "
            "KD (Combi-Rep) 0.510 ± 0.096; teacher 0.882 ± 0.123, semantic classifier "
            "0.969 ± 0.016 (the paper's order, but every student gap is inside one std)"
        ),
        "longer (15 windows per user and class, 60 student epochs, 5 seeds), macro-F1": (
            "SC-Logit 0.632 ± 0.066 vs no-KD 0.642 ± 0.035, logit 0.626 ± 0.105, feature "
            "0.624 ± 0.056: no KD gain at this scale"
        ),
        "efficiency (smoke)": (
            "student 2,689 vs teacher 16,046 parameters (83% fewer), 0.33 vs 2.09 MFLOPs per "
            "window (84% fewer), single-window CPU latency about 3x lower (shared 2-core CPU)"
        ),
    },
)
