"""TSAK: two-stage semantic-aware knowledge distillation (Bello et al., ICPR 2024, 000/14).

A multimodal, multi-position teacher (20 channels: IMU + capacitive sensors of both hands)
is distilled into a tiny student that sees only 3 channels (one wrist's accelerometer):

- Stage 1, :class:`TSAKTeacher` (Table 2): an attention branch (TASmart: 3x Conv1d-MaxPool-
  Dropout, two self-attention layers, ``Linear(120, 10)``) gives the hidden vector
  **Attn-Rep**, an LSTM branch (TCSmart) gives **Causal-Rep**; "both networks are then
  concatenated (Combi-Rep) and fed into a classifier layer" (Sec. 4): ``Linear(30, 10)``,
  then the output layer ``Linear(10, 4)``.
- Stage 2, :class:`SemanticClassifier`: a shallow classifier trained with cross-entropy on
  the three hidden vectors of the *frozen* teacher; it is then frozen too and its logits
  are the soft targets of the student (**SC-Logit KD**).
- :class:`WearableStudent` (Table 2, 2.69K parameters): 3x Conv1d-MaxPool-Dropout,
  ``Linear(5, 10)``, ``Linear(10, C)``.

Reading Table 2. Its classifier row gives ``Linear(120, 10); Linear(30, 10); Linear(10, 4)``:
120 = 12 time steps x 10 channels after the three max-pools (``padding=1`` convolutions:
100 -> 50 -> 25 -> 12) is the attention branch's projection to Attn-Rep (10 wide), and the
classifier layer takes the 30-wide Combi-Rep. For Attn-Rep (10) + Causal-Rep to be 30,
Causal-Rep must be 20 wide. We read the LSTM entry "(10, 10)" as (input, hidden) size:
the one-layer LSTM runs over the 10 channels of each glove (the OpenPack teacher's
"(6, 6)" is likewise 6 channels per wrist IMU), with the same weights for both hands, and
Causal-Rep is the two final hidden states side by side (2 x 10 = 20).

Parameter count. Table 3 gives the factory teacher 12.65K parameters; the three
convolutions of Table 2 alone hold 12,730 (20*100*3+100 + 100*20*3+20 + 20*10*3+10), so no
reading of Table 2 reaches 12.65K. Ours has 15,746 (convolutions 12,730, attention 572,
``Linear(120, 10)`` 1,210, LSTM 880, ``Linear(30, 10)`` 310, ``Linear(10, 4)`` 44). The
student matches exactly (2,689 = Table 2's 2.69K), so "79% fewer parameters" becomes 83%.

Losses (functions on plain tensors, usable with any teacher and student)::

    L_SC(x; W) = alpha * CE(y, softmax(z_s))
                 + (1 - alpha) * KL(softmax(z_t / tau) || softmax(z_s / tau))   (Eq. 1)
    L_F(x; W)  = alpha * CE(y, z_s) + (1 - alpha) * L_CSKD(h_t, h_s)            (Eq. 2)
    L_M(x; W)  = alpha * CE(y, z_s) + sum_k (1 - alpha) * L_CSKD(h_t^k, h_s)    (Merged-Loss)

:func:`logit_kd_loss` is Eq. (1) with teacher logits (logit KD), :func:`sc_kd_loss` the same
with the semantic classifier's logits (SC-Logit KD), :func:`feature_kd_loss` Eq. (2) with
the cosine-similarity loss :func:`cosine_kd_loss`, :func:`merged_kd_loss` the Merged-Loss
of Sec. 5 (the paper writes the weight of each of its three cosine terms as 0.01 next to
``alpha = 0.99``; we write it ``1 - alpha``, the same number there). The paper's best
setting is ``alpha = 0.99, tau = 4`` (Sec. 5, Fig. 4B).

Feature KD across widths. Eq. (2) compares a teacher vector ``h_t`` with the student's
10-wide hidden vector ``h_s``; Causal-Rep (20) and Combi-Rep (30) are wider. The paper does
not say how it matched them; we learn a bias-free linear map ``P h_s`` to the teacher's
width with the student (a FitNets-style regressor) and drop it after training, so the
deployed student keeps its 2,689 parameters. Attn-Rep and the semantic classifier's hidden
vector (SC-Feature) are 10 wide and are compared with ``h_s`` directly.

:func:`distill` trains any student ``nn.Module`` that returns logits (a wearable CNN, an
image CNN, ...) with one of these losses on :class:`~patrec.core.train.Trainer`::

    teacher.eval()
    res = distill(student, teacher, TensorDataset(x, y), TrainConfig(epochs=10), mode="logit")

Data: :func:`make_wearable_data` generates 2-s, 50-Hz windows of a 20-channel glove
layout (acc/gyro/capacitive of both hands, 4 activities as in the paper's factory dataset)
where part of the class evidence lies in channels the 3-channel student never sees. The
recipe (:func:`recipe`) trains the two teachers of Table 4 (ATTN and ATTN+LSTM), the
semantic classifier and the student eight ways (Table 4's rows) and reports precision,
recall and macro-F1 as Table 4 does, plus the parameters, FLOPs and latency of Table 3.

At smoke scale (:data:`METHOD` ``measured``) the teachers reach macro-F1 ~0.94 and every
student ~0.48-0.54 within one seed-std of each other: the paper's ordering (SC-Logit best,
+5.4 F1 points over the baseline) does not reproduce on the generated data, and the semantic
classifier does not beat its teacher. The OpenPack experiment (Table 5) and the left-hand
student need the real recordings and are not run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patrec.core.checks import check_choice, check_int, check_scalar, check_tensor
from patrec.core.config import param, validate_config
from patrec.core.errors import ConfigError, InputError
from patrec.core.hub import PretrainedModel
from patrec.core.registry import Method
from patrec.core.train import TrainConfig, predict

__all__ = [
    "CHANNEL_NAMES",
    "CLASS_NAMES",
    "DEFAULT_ALPHA",
    "DEFAULT_TAU",
    "METHOD",
    "MODES",
    "STUDENT_CHANNELS",
    "STUDENT_VARIANTS",
    "TEACHER_VARIANTS",
    "VARIANTS",
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
    "merged_kd_loss",
    "paper_config",
    "recipe",
    "sc_kd_loss",
    "smoke_config",
    "train_semantic_classifier",
]

DEFAULT_ALPHA = 0.99  # Sec. 5 / Fig. 4: best alpha (grid 0.1, 0.5, 0.99)
DEFAULT_TAU = 4.0  # Sec. 5 / Fig. 4B: best temperature (grid 1, 4, 20)
MODES = ("none", "logit", "sc", "feature", "merged")


def _up(x: Tensor) -> Tensor:
    """Half precision is too coarse for softmax at a temperature; compute in float32."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _check_logits_target(
    student_logits: Tensor, target: Tensor, dims: dict[str, int]
) -> tuple[Tensor, Tensor]:
    """``(B, C)`` float logits (``C >= 2``) and ``(B,)`` integer labels in ``[0, C)``."""
    check_tensor(student_logits, "B C", name="student_logits", dims=dims, dtype="float",
                 finite=True, nonempty=True)  # fmt: skip
    check_int(dims["C"], "the number of classes C of student_logits", ge=2)
    check_tensor(target, "B", name="target", dims=dims, dtype="int", range=(0, dims["C"] - 1))
    return student_logits, target


# ---------------------------------------------------------------------------------------
# losses (Eqs. 1-2, Merged-Loss)
# ---------------------------------------------------------------------------------------


def _kl(student_logits: Tensor, teacher_logits: Tensor, tau: float) -> Tensor:
    log_ps = F.log_softmax(_up(student_logits) / tau, dim=1)
    log_pt = F.log_softmax(_up(teacher_logits).detach().to(student_logits.device) / tau, dim=1)
    return F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True)


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
    dims: dict[str, int] = {}
    check_tensor(student_logits, "B C", name="student_logits", dims=dims, dtype="float",
                 finite=True, nonempty=True)  # fmt: skip
    check_tensor(teacher_logits, "B C", name="teacher_logits", dims=dims, dtype="float",
                 finite=True)  # fmt: skip
    return _kl(student_logits, teacher_logits, check_scalar(tau, "tau", gt=0))


def _eq1_terms(
    student_logits: Tensor,
    teacher_logits: Tensor,
    target: Tensor,
    alpha: float,
    tau: float,
    tau_squared: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(loss, ce, kd)`` of Eq. (1); ``kd`` already carries the ``tau**2`` factor if asked."""
    dims: dict[str, int] = {}
    _check_logits_target(student_logits, target, dims)
    check_tensor(teacher_logits, "B C", name="teacher_logits", dims=dims, dtype="float",
                 finite=True)  # fmt: skip
    alpha = check_scalar(alpha, "alpha", ge=0, le=1)
    tau = check_scalar(tau, "tau", gt=0)
    ce = F.cross_entropy(_up(student_logits), target.to(student_logits.device))  # T = 1
    kd = _kl(student_logits, teacher_logits, tau)
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


def _cosine(hs: Tensor, ht: Tensor) -> Tensor:
    ht = _up(ht).detach().to(hs.device)
    return (1.0 - F.cosine_similarity(_up(hs), ht, dim=1, eps=1e-8)).mean()


def cosine_kd_loss(student_features: Tensor, teacher_features: Tensor) -> Tensor:
    """The cosine-similarity distillation loss ``L_CSKD(h_t, h_s)`` of Eq. (2).

    ``mean_i (1 - cos(h_t,i, h_s,i))``: 0 when every student vector points the same way as
    its teacher vector (whatever their lengths), 2 when opposite. The teacher side is a
    constant (detached).

    Args:
        student_features: ``(B, D)`` student hidden vectors ``h_s``.
        teacher_features: ``(B, D)`` teacher hidden vectors ``h_t`` (same ``D``; project one
            side first when the widths differ, see :func:`distill`'s ``projectors``).

    Returns:
        A scalar in ``[0, 2]``.

    Raises:
        InputError: wrong shapes, different ``B`` or ``D``, non-finite values.
    """
    dims: dict[str, int] = {}
    check_tensor(student_features, "B D", name="student_features", dims=dims, dtype="float",
                 finite=True, nonempty=True)  # fmt: skip
    check_tensor(teacher_features, "B D", name="teacher_features", dims=dims, dtype="float",
                 finite=True)  # fmt: skip
    return _cosine(student_features, teacher_features)


def _eq2_terms(
    student_logits: Tensor,
    student_features: Sequence[Tensor],
    teacher_features: Sequence[Tensor],
    target: Tensor,
    alpha: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(loss, ce, sum_k L_CSKD_k)`` of Eq. (2) (one pair) or the Merged-Loss (several)."""
    dims: dict[str, int] = {}
    _check_logits_target(student_logits, target, dims)
    alpha = check_scalar(alpha, "alpha", ge=0, le=1)
    if len(student_features) != len(teacher_features) or not student_features:
        raise InputError(
            f"give one student vector per teacher vector, got {len(student_features)} and "
            f"{len(teacher_features)}"
        )
    cs = student_logits.new_zeros(()).float()
    for k, (hs, ht) in enumerate(zip(student_features, teacher_features, strict=True)):
        d = {"B": dims["B"]}
        check_tensor(hs, "B D", name=f"student_features[{k}]", dims=d, dtype="float",
                     finite=True)  # fmt: skip
        check_tensor(ht, "B D", name=f"teacher_features[{k}]", dims=d, dtype="float",
                     finite=True)  # fmt: skip
        cs = cs + _cosine(hs, ht)
    ce = F.cross_entropy(_up(student_logits), target.to(student_logits.device))
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
    hidden vector ``h_s`` (projected to the teacher's width where they differ).

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
    return _eq2_terms(student_logits, [student_features], [teacher_features], target, alpha)[0]


def merged_kd_loss(
    student_logits: Tensor,
    student_features: Sequence[Tensor],
    teacher_features: Sequence[Tensor],
    target: Tensor,
    alpha: float = DEFAULT_ALPHA,
) -> Tensor:
    """The Merged-Loss of Sec. 5 (Table 4): cross-entropy plus a cosine term per vector::

        L = alpha * CE(y, z_s) + (1 - alpha) * sum_k L_CSKD(h_t^k, h_s^k)

    with ``k`` over Attn-Rep, Causal-Rep and Combi-Rep and ``h_s^k`` the student's hidden
    vector (projected to the width of ``h_t^k``). The paper prints the weight of each cosine
    term as 0.01 with ``alpha = 0.99``; ``1 - alpha`` is that number there.

    Args:
        student_logits: ``(B, C)`` student logits.
        student_features: ``K`` student vectors, the ``k``-th ``(B, D_k)``.
        teacher_features: ``K`` teacher vectors, the ``k``-th ``(B, D_k)`` (constants).
        target: ``(B,)`` integer labels in ``[0, C)``.
        alpha: weight of the cross-entropy in ``[0, 1]`` (paper: 0.99).

    Returns:
        A scalar loss; with one pair it equals :func:`feature_kd_loss`.

    Raises:
        InputError: a different number of student and teacher vectors, mismatched shapes,
            labels out of range, ``alpha`` outside ``[0, 1]``.
    """
    return _eq2_terms(
        student_logits, list(student_features), list(teacher_features), target, alpha
    )[0]


# ---------------------------------------------------------------------------------------
# models (Table 2)
# ---------------------------------------------------------------------------------------


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
        self.dim = check_int(dim, "dim", ge=1)
        self.attn_dim = check_int(attn_dim, "attn_dim", ge=1)
        self.q = nn.Linear(dim, attn_dim)
        self.k = nn.Linear(dim, attn_dim)
        self.v = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        check_tensor(x, f"B T {self.dim}", name="x", dtype="float")
        return F.scaled_dot_product_attention(self.q(x), self.k(x), self.v(x))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, attn_dim={self.attn_dim}"


class TeacherOutput(NamedTuple):
    """The teacher's logits and its three hidden vectors.

    ``attn`` ``(B, rep_dim)``, ``causal`` ``(B, lstm_groups * lstm_hidden)`` (``(B, 0)`` for
    the attention-only teacher) and ``combi = [attn; causal]``.
    """

    logits: Tensor
    attn: Tensor
    causal: Tensor
    combi: Tensor


BRANCHES = ("attn_lstm", "attn")


class TSAKTeacher(nn.Module, PretrainedModel):
    """The first-stage teacher (Table 2, "TASmart" + "TCSmart" + classifier).

    - TA branch: ``[Conv1d(k=3) - ReLU - MaxPool(2) - Dropout] x 3`` with widths
      ``conv_widths`` (paper: 100/20/10, dropout 0.2), two :class:`SelfAttention1d` layers
      over the remaining time steps, flatten, ``Linear(T' * 10, rep_dim)`` -> **Attn-Rep**
      (the printed ``Linear(120, 10)``).
    - TC branch: one LSTM layer (``LSTM(10, 10)``: input = the channels of one sensor
      position, hidden ``lstm_hidden``) run over each of the ``lstm_groups`` positions (the
      two gloves: channels 0-9 and 10-19) with shared weights; the final hidden states,
      side by side and after dropout -> **Causal-Rep** (``2 x 10 = 20``).
    - **Combi-Rep** ``= [Attn-Rep; Causal-Rep]`` (30 wide), then the classifier layer
      ``Linear(30, 10)`` -> ReLU -> output layer ``Linear(10, C)`` (softmax in the loss).
      A ReLU also precedes the classifier layer; Table 2 gives no activations (ours).

    ``branches="attn"`` is Table 4's single-branch teacher "ATTN": no LSTM, Combi-Rep is
    Attn-Rep and the classifier layer is ``Linear(rep_dim, rep_dim)``.

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
        lstm_groups: int = 2,
        rep_dim: int = 10,
        dropout: float = 0.2,
        branches: str = "attn_lstm",
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", ge=1)
        self.num_classes = check_int(num_classes, "num_classes", ge=2)
        self.length = check_int(length, "length", ge=1)
        widths = [check_int(w, "conv_widths", ge=1) for w in conv_widths]
        if not widths:
            raise InputError("conv_widths must name at least one convolution, got ()")
        steps = length // 2 ** len(widths)
        if steps < 1:
            raise InputError(
                f"length {length} is too short for {len(widths)} max-pool layers (halving each)"
            )
        self.rep_dim = check_int(rep_dim, "rep_dim", ge=1)
        self.branches = check_choice(branches, "branches", BRANCHES)
        p = check_scalar(dropout, "dropout", ge=0, lt=1)
        self.features = _conv_stack(in_channels, widths, p)
        self.attention = nn.ModuleList(
            SelfAttention1d(widths[-1], check_int(a, "attn_dims", ge=1)) for a in attn_dims
        )
        self.attn_proj = nn.Linear(steps * widths[-1], rep_dim)
        causal = 0
        self.lstm: nn.LSTM | None = None
        self.lstm_groups = check_int(lstm_groups, "lstm_groups", ge=1)
        if self.branches == "attn_lstm":
            if in_channels % lstm_groups:
                raise InputError(
                    f"in_channels {in_channels} must split into lstm_groups = {lstm_groups} "
                    "sensor positions of equal size"
                )
            hidden = check_int(lstm_hidden, "lstm_hidden", ge=1)
            self.lstm = nn.LSTM(in_channels // lstm_groups, hidden, batch_first=True)
            causal = lstm_groups * hidden
        self.causal_dim = causal
        self.lstm_dropout = nn.Dropout(p)
        self.classifier = nn.Linear(rep_dim + causal, rep_dim)
        self.out = nn.Linear(rep_dim, num_classes)

    @property
    def rep_dims(self) -> tuple[int, int, int]:
        """Widths of Attn-Rep, Causal-Rep and Combi-Rep."""
        return self.rep_dim, self.causal_dim, self.rep_dim + self.causal_dim

    def encode(self, x: Tensor) -> TeacherOutput:
        """Logits and the three hidden vectors Attn-Rep, Causal-Rep, Combi-Rep."""
        check_tensor(x, f"B {self.in_channels} {self.length}", name="x", dtype="float")
        h = self.features(x).transpose(1, 2)  # (B, T', C')
        for layer in self.attention:
            h = layer(h)
        attn = self.attn_proj(h.flatten(1))  # Attn-Rep
        b = x.shape[0]
        if self.lstm is not None:
            g = self.lstm_groups
            per = x.reshape(b, g, self.in_channels // g, self.length).reshape(
                b * g, -1, self.length
            )
            _, (hn, _) = self.lstm(per.transpose(1, 2))  # one sequence per sensor position
            causal = self.lstm_dropout(hn[-1].reshape(b, -1))  # Causal-Rep
        else:
            causal = attn.new_zeros(b, 0)
        combi = torch.cat([attn, causal], dim=1)  # Combi-Rep: the concatenation (Sec. 4)
        logits = self.out(F.relu(self.classifier(F.relu(combi))))
        return TeacherOutput(logits, attn, causal, combi)

    def forward(self, x: Tensor) -> Tensor:
        return self.encode(x).logits


class SemanticClassifier(nn.Module, PretrainedModel):
    """The second-stage semantic classifier (Sec. 4, Fig. 1): a shallow MLP on exactly the
    teacher's three hidden vectors.

    ``[Attn-Rep; Causal-Rep; Combi-Rep] -> Linear(sum(rep_dims), hidden) -> ReLU ->
    Linear(hidden, C)``. The paper calls it "shallow" and does not give its layers; one
    hidden layer of width 10 (so its last hidden vector can feed SC-Feature KD into a 10-wide
    student) is our choice. With Combi-Rep the concatenation of the other two, the input
    repeats Attn-Rep and Causal-Rep; we feed the three vectors as the text says.

    Shapes: ``forward(attn (B, d1), causal (B, d2), combi (B, d3)) -> (B, C)``;
    :meth:`forward_with_hidden` also returns the ``(B, hidden)`` pre-activation hidden vector.
    """

    def __init__(
        self,
        num_classes: int = 4,
        rep_dims: Sequence[int] = (10, 20, 30),
        hidden: int = 10,
    ) -> None:
        super().__init__()
        dims = tuple(check_int(d, "rep_dims", ge=1) for d in rep_dims)
        if len(dims) != 3:
            raise InputError(
                f"rep_dims must give the widths of the three hidden vectors "
                f"(Attn-Rep, Causal-Rep, Combi-Rep), got {len(dims)}: {dims}"
            )
        self.rep_dims = dims
        self.hidden = nn.Linear(sum(dims), check_int(hidden, "hidden", ge=1))
        self.out = nn.Linear(hidden, check_int(num_classes, "num_classes", ge=2))

    def forward_with_hidden(
        self, attn: Tensor, causal: Tensor, combi: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``(logits, hidden)`` of the three hidden vectors."""
        reps = (attn, causal, combi)
        dims: dict[str, int] = {}
        for name, r, d in zip(("attn", "causal", "combi"), reps, self.rep_dims, strict=True):
            check_tensor(r, f"B {d}", name=name, dims=dims, dtype="float")
        h = self.hidden(torch.cat(reps, dim=1))
        return self.out(F.relu(h)), h

    def forward(self, attn: Tensor, causal: Tensor, combi: Tensor) -> Tensor:
        return self.forward_with_hidden(attn, causal, combi)[0]


class WearableStudent(nn.Module, PretrainedModel):
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
        self.in_channels = check_int(in_channels, "in_channels", ge=1)
        ws = [check_int(w, "widths", ge=1) for w in widths]
        if not ws:
            raise InputError("widths must name at least one convolution, got ()")
        self.features = _conv_stack(in_channels, ws, check_scalar(dropout, "dropout", ge=0, lt=1))
        self.hidden = nn.Linear(ws[-1], check_int(hidden, "hidden", ge=1))
        self.out = nn.Linear(hidden, check_int(num_classes, "num_classes", ge=2))
        self.with_features = with_features
        self._min_length = 2 ** len(ws)

    def forward_with_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(logits, h_s)``."""
        check_tensor(x, f"B {self.in_channels} L", name="x", dtype="float")
        if x.shape[2] < self._min_length:
            raise InputError(
                f"x has {x.shape[2]} samples, fewer than the {self._min_length} the "
                "max-pool layers need"
            )
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
    ``2 * 4 * H * (I + H)`` per step and sequence for each ``nn.LSTM`` layer.
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
                "feature KD needs the student to return (logits, features); "
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


class _ProjectedStudent(nn.Module):
    """The student with the maps ``P_k`` of its hidden vector used by feature KD only."""

    def __init__(self, student: nn.Module, projectors: Sequence[nn.Module | None]) -> None:
        super().__init__()
        self.student = student
        self.projectors = nn.ModuleList(p if p is not None else nn.Identity() for p in projectors)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        logits, h = _split_student(self.student(x), True)
        assert h is not None
        return logits, [p(h) for p in self.projectors]


def distill(
    student: nn.Module,
    teacher_fn: Callable[[Tensor], Any] | None,
    dataset: Any,
    cfg: TrainConfig,
    *,
    mode: str = "sc",
    alpha: float = DEFAULT_ALPHA,
    tau: float = DEFAULT_TAU,
    tau_squared: bool = True,
    projectors: nn.Module | Sequence[nn.Module | None] | None = None,
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
                        student returns (logits, h_s))
        mode="merged":  Merged-Loss with (h_t^1, .., h_t^K) = teacher_fn(t)

    ``"logit"`` and ``"sc"`` compute the same loss; they differ in what ``teacher_fn`` returns.

    Args:
        student: the model trained; returns logits, or ``(logits, features)``.
        teacher_fn: frozen teacher: ``teacher_fn(t) -> (B, C)`` logits (``"logit"``,
            ``"sc"``), ``(B, D)`` features (``"feature"``) or a tuple of ``K`` such features
            (``"merged"``); called under ``no_grad``. An ``nn.Module`` is put in eval mode,
            frozen and moved to the training device. ``None`` only for ``mode="none"``.
        dataset: a map-style dataset of ``(x, y)`` items, or ``(x, y, t)`` where ``t`` is
            what ``teacher_fn`` gets instead of ``x`` (a richer view of the same sample,
            e.g. all 20 sensor channels while the student sees 3, or precomputed teacher
            outputs with ``teacher_fn = lambda t: t``).
        cfg: epochs, batch size, seed, ... (:class:`~patrec.core.train.TrainConfig`).
        mode: one of :data:`MODES`.
        alpha: cross-entropy weight of Eqs. (1)-(2), in ``[0, 1]`` (paper: 0.99).
        tau: temperature of Eq. (1), ``> 0`` (paper: 4).
        tau_squared: scale the KL term by ``tau**2`` (see :func:`logit_kd_loss`).
        projectors: feature modes only: a module mapping ``h_s`` to the width of ``h_t``
            (``"feature"``), or one module (or ``None`` for none) per teacher vector
            (``"merged"``); trained with the student, not part of the returned model.
        optimizer: an optimizer over ``student.parameters()`` (and the projectors'); default
            Adadelta with ``lr = 0.9`` (the paper's, Sec. 4).
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
            whose shape does not match the student's, an optimizer without the projectors.
    """
    from patrec.core.metrics import accuracy, macro_f1
    from patrec.core.train import Trainer

    check_choice(mode, "mode", MODES)
    if not isinstance(student, nn.Module):
        raise InputError(f"student must be a torch nn.Module, got {type(student).__name__}")
    alpha = check_scalar(alpha, "alpha", ge=0, le=1)
    tau = check_scalar(tau, "tau", gt=0)
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
    featured = mode in ("feature", "merged")
    if projectors is not None and not featured:
        raise InputError(f"projectors are for mode='feature' or 'merged', got mode={mode!r}")
    projs: list[nn.Module | None] = []
    if featured:
        if projectors is None or isinstance(projectors, nn.Module):
            projs = [projectors]  # merged without projectors: h_s against every h_t
        else:
            projs = list(projectors)
            if mode == "feature" and len(projs) != 1:
                raise InputError(f"mode='feature' takes one projector, got {len(projs)}")
    model: nn.Module = student
    if featured:  # the student and its projectors train as one module
        model = _ProjectedStudent(student, projs)
    if isinstance(teacher_fn, nn.Module):
        teacher_fn.eval()
        teacher_fn.requires_grad_(False)
    opt: torch.optim.Optimizer
    if optimizer is None:
        opt = torch.optim.Adadelta(model.parameters(), lr=0.9)
    else:
        opt = optimizer
        held = {id(p) for g in opt.param_groups for p in g["params"]}
        if any(id(p) not in held for p in model.parameters() if p.requires_grad):
            raise InputError(
                "optimizer must hold every trainable parameter of the student and of the "
                "projectors (e.g. optimizer(nn.ModuleList([student, *projectors]).parameters()))"
            )

    def step(tr: Trainer, batch: Any) -> dict[str, Tensor]:
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            n = len(batch) if isinstance(batch, (tuple, list)) else type(batch).__name__
            raise InputError(f"dataset items must be (x, y) or (x, y, t), got {n} item(s)")
        x, y = batch[0], batch[1]
        if mode == "none":
            logits = _split_student(tr.model(x), False)[0]
            dims: dict[str, int] = {}
            _check_logits_target(logits, y, dims)
            ce = F.cross_entropy(_up(logits), y)
            return {"loss": ce, "ce": ce.detach()}
        assert teacher_fn is not None
        with torch.no_grad():
            t_out = teacher_fn(batch[2] if len(batch) == 3 else x)
        if mode == "merged":
            if not isinstance(t_out, (tuple, list)) or not all(
                isinstance(t, Tensor) for t in t_out
            ):
                raise InputError("mode='merged' needs teacher_fn to return a tuple of tensors")
            targets = list(t_out)
        elif not isinstance(t_out, Tensor):
            raise InputError(f"teacher_fn must return a tensor, got {type(t_out).__name__}")
        else:
            targets = [t_out]
        if not featured:
            logits = _split_student(tr.model(x), False)[0]
            loss, ce, kd = _eq1_terms(logits, t_out, y, alpha, tau, tau_squared)
            return {"loss": loss, "ce": ce.detach(), "kd": kd.detach()}
        logits, feats = tr.model(x)
        if len(feats) == 1 and len(targets) > 1:  # no projectors: h_s against every h_t
            feats = feats * len(targets)
        if len(feats) != len(targets):
            raise InputError(
                f"teacher_fn returned {len(targets)} vector(s) for {len(feats)} projector(s)"
            )
        for k, (hs, ht) in enumerate(zip(feats, targets, strict=True)):
            if hs.ndim == 2 and ht.ndim == 2 and hs.shape[1] != ht.shape[1]:
                raise InputError(
                    f"teacher vector {k} is {ht.shape[1]} wide, the student's "
                    f"{hs.shape[1]}: pass projectors= (e.g. nn.Linear({hs.shape[1]}, "
                    f"{ht.shape[1]}, bias=False)) to compare them (Eq. 2)"
                )
        loss, ce, kd = _eq2_terms(logits, feats, targets, y, alpha)
        return {"loss": loss, "ce": ce.detach(), "kd": kd.detach()}

    def evaluate(tr: Trainer) -> dict[str, float]:
        assert eval_data is not None
        net = tr.unwrapped_model
        net = net.student if isinstance(net, _ProjectedStudent) else net
        xs, ys = eval_data
        logits = predict(lambda xb: _logits_of(net(xb)), xs, device=tr.device)
        return {"test_macro_f1": macro_f1(logits, ys), "test_accuracy": accuracy(logits, ys)}

    trainer = Trainer(
        model,
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
    net = trainer.unwrapped_model
    return DistillResult(net.student if isinstance(net, _ProjectedStudent) else net, history)


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
    check_choice(normalize, "normalize", ("minmax", "zscore"))
    check_int(users, "users", ge=2)
    check_int(test_users, "test_users", ge=1, le=users - 1)
    check_int(windows_per_class, "windows_per_class", ge=1)
    check_int(length, "length", ge=1)
    check_scalar(fs, "fs", gt=0)
    check_scalar(noise, "noise", ge=0)
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
# 3-channel student eight ways (Table 4's rows) with the same seed, data and budget, and the
# single-branch ATTN teacher of Table 4. It reports precision, recall and macro-F1 on
# held-out users (Table 4), and parameters, FLOPs and single-window latency (Table 3).

TEACHER_VARIANTS = ("teacher", "teacher_attn", "semantic")
STUDENT_VARIANTS = (
    "baseline",  # CE only (Table 4 "Baseline")
    "logit",  # Eq. 1 with the teacher's logits ("Logit")
    "attn_rep",  # Eq. 2 with Attn-Rep ("Attn-Rep")
    "causal_rep",  # Eq. 2 with Causal-Rep ("Causal-Rep")
    "combi_rep",  # Eq. 2 with Combi-Rep ("Combi-Rep")
    "merged_loss",  # the Merged-Loss of Sec. 5 ("Merged Loss")
    "sc_logit",  # Eq. 1 with the semantic classifier's logits ("SC-Logit", TSAK)
    "sc_feature",  # Eq. 2 with the semantic classifier's hidden vector ("SC-Feature")
)
VARIANTS = TEACHER_VARIANTS + STUDENT_VARIANTS
_MODE = {
    "baseline": "none",
    "logit": "logit",
    "sc_logit": "sc",
    "attn_rep": "feature",
    "causal_rep": "feature",
    "combi_rep": "feature",
    "sc_feature": "feature",
    "merged_loss": "merged",
}


@dataclass
class TSAKDataConfig:
    """The generated glove windows (:func:`make_wearable_data`)."""

    users: int = param(
        12, "participants", source="Sec. 3: 12 participants (factory dataset)", ge=2, le=10_000
    )
    test_users: int = param(
        4, "held-out users", ge=1,
        source="not stated as such (5-fold leave-one-session-out); ours",
    )  # fmt: skip
    windows_per_class: int = param(
        15, "windows per user and activity", source="our choice", ge=1, le=100_000
    )
    length: int = param(
        100, "samples per window", source="Sec. 4: 2 s resampled to 100 @ 50 Hz", ge=1, le=100_000
    )
    fs: float = param(50.0, "sampling rate (Hz)", source="Sec. 4: 50 Hz", gt=0)
    noise: float = param(1.0, "sensor-noise multiplier", source="our choice", ge=0, le=100)
    normalize: str = param(
        "minmax", "minmax (acc/cap to [0, 1], gyro raw) or zscore (every channel)",
        source="Sec. 4: min-max to [0, 1], gyroscopes kept in deg/s",
        choices=("minmax", "zscore"),
    )  # fmt: skip
    seed: int = param(0, "seed of the generated data (fixed across model seeds)")

    def validate(self) -> None:
        if self.test_users >= self.users:
            raise ConfigError(
                f"data.test_users must be below data.users = {self.users}, got {self.test_users}"
            )


@dataclass
class TSAKModelConfig:
    """Teacher, semantic classifier and student sizes (Table 2)."""

    teacher_widths: tuple[int, ...] = param(
        (100, 20, 10), "TA conv widths", source="Table 2: TASmart O=100/20/10",
        ge=1, le=100_000, min_len=1,
    )  # fmt: skip
    attn_dims: tuple[int, ...] = param(
        (10, 6), "query/key width of the self-attention layers",
        source="Table 2: Self Attention (10,10), (6,6); reading as q/k width is ours",
        ge=1, le=100_000,
    )  # fmt: skip
    lstm_hidden: int = param(
        10, "LSTM hidden size per sensor position", source="Table 2: LSTM (10,10)",
        ge=1, le=100_000,
    )  # fmt: skip
    lstm_groups: int = param(
        2, "sensor positions the LSTM runs over (shared weights); Causal-Rep = groups x hidden",
        source="Table 2: LSTM (10,10) on the 10 channels of a glove; our reading", ge=1, le=20,
    )  # fmt: skip
    rep_dim: int = param(
        10, "width of Attn-Rep", source="Table 2: Linear(120,10)", ge=1, le=100_000
    )
    teacher_dropout: float = param(0.2, "teacher dropout", source="Table 2: 0.2", ge=0, lt=1)
    sc_hidden: int = param(
        10, "semantic classifier hidden width", source="not stated ('shallow'); our choice",
        ge=1, le=100_000,
    )  # fmt: skip
    student_widths: tuple[int, ...] = param(
        (100, 5, 5), "student conv widths", source="Table 2: Student O=100/5/5",
        ge=1, le=100_000, min_len=1,
    )  # fmt: skip
    student_hidden: int = param(
        10, "student hidden width", source="Table 2: Linear(5,10)", ge=1, le=100_000
    )
    student_dropout: float = param(0.1, "student dropout", source="Table 2: 0.1", ge=0, lt=1)


@dataclass
class TSAKLossConfig:
    """Eqs. (1)-(2) and the Merged-Loss."""

    alpha: float = param(
        DEFAULT_ALPHA, "CE weight of Eqs. 1-2", source="Sec. 5, Fig. 4: 0.99", ge=0, le=1
    )
    tau: float = param(
        DEFAULT_TAU, "KD temperature of Eq. 1", source="Sec. 5, Fig. 4B: 4", gt=0, le=1000
    )
    tau_squared: bool = param(
        True, "scale the KL term by tau^2",
        source="not in Eq. 1 as printed; Hinton/Cho-Hariharan (refs. 10, 16) use it; ours",
    )  # fmt: skip


@dataclass
class TSAKOptimConfig:
    """Optimiser and stage budgets."""

    name: str = param(
        "adadelta", "adadelta or adam", source="Sec. 4: Adadelta", choices=("adadelta", "adam")
    )
    lr: float = param(0.9, "learning rate", source="Sec. 4: Adadelta, lr 0.9", gt=0, le=100)
    teacher_epochs: int = param(
        100, "teacher epochs", source="Sec. 4: 100 (early stopping 10)", ge=1, le=100_000
    )
    sc_epochs: int = param(
        100, "semantic classifier epochs", source="Sec. 4: 100", ge=1, le=100_000
    )


@dataclass
class TSAKBenchConfig:
    """Single-window inference timing (``patrec.core.bench.time_call``)."""

    repeats: int = param(30, "timed calls per model", source="our choice", ge=1, le=100_000)
    warmup: int = param(5, "untimed calls first", source="our choice", ge=0, le=100_000)


@dataclass
class TSAKConfig:
    """Config of the TSAK recipe (:func:`recipe`); ``train`` is the student stage's loop."""

    data: TSAKDataConfig = field(default_factory=TSAKDataConfig)
    model: TSAKModelConfig = field(default_factory=TSAKModelConfig)
    loss: TSAKLossConfig = field(default_factory=TSAKLossConfig)
    optim: TSAKOptimConfig = field(default_factory=TSAKOptimConfig)
    bench: TSAKBenchConfig = field(default_factory=TSAKBenchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = param(
        VARIANTS, "what to train: the teachers and the students of Table 4",
        source="Table 4 rows", choices=VARIANTS, min_len=1,
    )  # fmt: skip
    seeds: tuple[int, ...] = param((0, 1, 2), "one full two-stage run per seed", min_len=1)

    def validate(self) -> None:
        if len(set(self.variants)) != len(self.variants):
            raise ConfigError(f"variants must not repeat, got {self.variants}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must not repeat, got {self.seeds}")
        m = self.model
        if len(CHANNEL_NAMES) % m.lstm_groups:
            raise ConfigError(
                f"model.lstm_groups must divide the {len(CHANNEL_NAMES)} teacher channels, "
                f"got {m.lstm_groups}"
            )
        need = 2 ** max(len(m.teacher_widths), len(m.student_widths))
        if self.data.length < need:
            raise ConfigError(
                f"data.length must be >= {need} for the max-pool layers, got {self.data.length}"
            )


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
        train=TrainConfig(epochs=20, batch_size=32, cpu=True, resume=False, progress=False),
        seeds=(0, 1, 2),
    )


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


def make_teacher(cfg: TSAKConfig, data: WearableData, branches: str = "attn_lstm") -> TSAKTeacher:
    """The configured teacher on all 20 channels (``branches="attn"``: Table 4's ATTN)."""
    m = cfg.model
    return TSAKTeacher(
        data.x_train.shape[1],
        data.num_classes,
        data.x_train.shape[2],
        conv_widths=list(m.teacher_widths),
        attn_dims=list(m.attn_dims),
        lstm_hidden=m.lstm_hidden,
        lstm_groups=m.lstm_groups,
        rep_dim=m.rep_dim,
        dropout=m.teacher_dropout,
        branches=branches,
    )


def make_student(cfg: TSAKConfig, data: WearableData) -> WearableStudent:
    """The configured 3-channel student."""
    m = cfg.model
    return WearableStudent(
        len(data.student_channels),
        data.num_classes,
        widths=list(m.student_widths),
        hidden=m.student_hidden,
        dropout=m.student_dropout,
    )


def _bench(model: Callable[[Tensor], Any], x1: Tensor, cfg: TSAKConfig) -> float:
    """Median milliseconds of one single-window forward pass (inference mode)."""
    from patrec.core.bench import time_call

    with torch.inference_mode():
        t = time_call(lambda: model(x1), repeats=cfg.bench.repeats, warmup=cfg.bench.warmup)
    return 1000.0 * t.median


def _scores(logits: Tensor, y: Tensor) -> dict[str, float]:
    """Table 4's precision, recall and F1 (macro over classes), and accuracy."""
    from sklearn.metrics import precision_recall_fscore_support

    from patrec.core.metrics import accuracy, macro_f1

    pred = logits.argmax(1).numpy()
    p, r, _, _ = precision_recall_fscore_support(
        y.numpy(), pred, labels=np.arange(logits.shape[1]), average="macro", zero_division=0
    )
    return {
        "macro_f1": macro_f1(logits, y),
        "precision": float(p),
        "recall": float(r),
        "accuracy": accuracy(logits, y),
    }


@dataclass
class _Stages:
    """One seed's frozen teacher and semantic classifier, and what the students learn from."""

    teacher: TSAKTeacher
    teacher_history: list[dict[str, float]]
    sc: SemanticClassifier
    sc_history: list[dict[str, float]]
    targets: dict[str, Tensor]


class _Split:
    """``t`` itself, or ``t`` split into columns of the given widths (Merged-Loss targets)."""

    def __init__(self, sizes: list[int] | None) -> None:
        self.sizes = sizes

    def __call__(self, t: Tensor) -> Any:
        return t if self.sizes is None else t.split(self.sizes, dim=1)


def _plot_params_vs_time(points: Mapping[str, tuple[float, float, float]], path: Path) -> Path:
    """Parameters (x, thousands) against single-window latency in ms (y, with std bars)."""
    from patrec.core.report import pyplot as _plt
    from patrec.core.report import save_figure as _save

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
    """Train the teachers, the semantic classifier and every student variant per seed.

    Runs through :func:`~patrec.core.experiment.run_experiment`: each (variant, seed) once
    in ``runs/<variant>/seed<k>/`` (finished runs are read back; the frozen teacher and
    semantic classifier of a seed are reloaded from ``runs/teacher|semantic/seed<k>/model``).
    Writes ``metrics.json`` (per variant macro-F1, precision, recall, accuracy on held-out
    users as mean ± std over seeds, parameters, FLOPs, single-window latency; SC-Logit
    compared with every other student), ``macro_f1.png``, ``test_macro_f1_curves.png``,
    ``params_vs_time.png`` and ``model/`` (the SC-Logit student of the first seed).

    ``data``: an optional :class:`WearableData` used instead of the generated windows.
    """
    from torch.utils.data import TensorDataset

    from patrec.core.experiment import Experiment, run_experiment
    from patrec.core.train import seed_everything

    validate_config(cfg)
    if data is not None and not isinstance(data, WearableData):
        raise ConfigError(f"data must be a WearableData (or None), got {type(data).__name__}")
    wd = data if isinstance(data, WearableData) else load_data(cfg)
    out = Path(out_dir)
    x_tr, x_te, y_tr, y_te = wd.x_train, wd.x_test, wd.y_train, wd.y_test
    xs_tr, xs_te = wd.student_view(x_tr), wd.student_view(x_te)
    x1_t, x1_s = x_te[:1], xs_te[:1]
    lc = cfg.loss
    memo: dict[int, _Stages] = {}

    def ck(path: Path) -> Path | None:  # checkpoints only when they can be resumed
        return path if cfg.train.resume else None

    def saved(variant: str, seed: int) -> Path | None:
        d = out / "runs" / variant / f"seed{seed}"
        ok = (d / "result.json").is_file() and (d / "model" / "config.json").is_file()
        return d if ok else None

    def train_teacher(seed: int, branches: str, run_dir: Path) -> tuple[TSAKTeacher, Any]:
        seed_everything(seed)
        teacher = make_teacher(cfg, wd, branches)
        tr = distill(
            teacher, None, TensorDataset(x_tr, y_tr),
            dataclasses.replace(cfg.train, seed=seed, epochs=cfg.optim.teacher_epochs),
            mode="none", optimizer=make_optimizer(cfg, teacher), eval_data=(x_te, y_te),
            out_dir=ck(run_dir), desc=f"{branches} teacher seed {seed}",
        )  # fmt: skip
        assert isinstance(tr.model, TSAKTeacher)
        return tr.model.cpu().eval().requires_grad_(False), tr.history

    def stages(seed: int) -> _Stages:
        if seed in memo:
            return memo[seed]
        import json

        t_dir, s_dir = saved("teacher", seed), saved("semantic", seed)
        if t_dir is not None:  # stage 1 finished earlier: reload the frozen teacher
            teacher = TSAKTeacher.from_pretrained(t_dir / "model").requires_grad_(False)
            t_hist = json.loads((t_dir / "result.json").read_text())["history"]
        else:
            teacher, t_hist = train_teacher(seed, "attn_lstm", out / "runs/teacher" / f"seed{seed}")
        if s_dir is not None:  # stage 2 likewise
            sc = SemanticClassifier.from_pretrained(s_dir / "model").requires_grad_(False)
            s_hist = json.loads((s_dir / "result.json").read_text())["history"]
        else:
            seed_everything(seed)
            sc = SemanticClassifier(wd.num_classes, list(teacher.rep_dims), cfg.model.sc_hidden)
            sr = train_semantic_classifier(
                sc, teacher, x_tr, y_tr,
                dataclasses.replace(cfg.train, seed=seed, epochs=cfg.optim.sc_epochs),
                optimizer=make_optimizer(cfg, sc), eval_data=(x_te, y_te),
                out_dir=ck(out / "runs/semantic" / f"seed{seed}"),
            )  # fmt: skip
            assert isinstance(sr.model, SemanticClassifier)
            sc, s_hist = sr.model.cpu().eval().requires_grad_(False), sr.history
        with torch.no_grad():  # what each student learns from, once (eval mode)
            o = teacher.encode(x_tr)
            sc_logits, sc_hidden = sc.forward_with_hidden(o.attn, o.causal, o.combi)
        targets = {
            "logit": o.logits,
            "sc_logit": sc_logits,
            "attn_rep": o.attn,
            "causal_rep": o.causal,
            "combi_rep": o.combi,
            "sc_feature": sc_hidden,
            "merged_loss": torch.cat([o.attn, o.causal, o.combi], dim=1),
        }
        memo[seed] = _Stages(teacher, t_hist, sc, s_hist, targets)
        return memo[seed]

    def evaluate(net: Callable[[Tensor], Tensor], x: Tensor) -> dict[str, float]:
        with torch.no_grad():
            return _scores(net(x), y_te)

    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        if variant in ("teacher", "teacher_attn"):
            if variant == "teacher":
                st = stages(seed)
                teacher, hist = st.teacher, st.teacher_history
            else:
                teacher, hist = train_teacher(seed, "attn", run_dir)
            metrics = {**evaluate(teacher, x_te), "params": count_params(teacher),
                       "flops": count_flops(teacher, x1_t),
                       "latency_ms": _bench(teacher, x1_t, cfg)}  # fmt: skip
            return {"seed": seed, "metrics": metrics, "history": hist, "model": teacher,
                    "example": x_te[:2]}  # fmt: skip
        st = stages(seed)
        if variant == "semantic":
            teacher, sc = st.teacher, st.sc

            def pipeline(x: Tensor) -> Tensor:
                o = teacher.encode(x)
                return sc(o.attn, o.causal, o.combi)

            reps1 = tuple(teacher.encode(x1_t)[1:])
            metrics = {**evaluate(pipeline, x_te),
                       "params": count_params(teacher) + count_params(sc),
                       "flops": count_flops(teacher, x1_t) + count_flops(sc, *reps1),
                       "latency_ms": _bench(pipeline, x1_t, cfg)}  # fmt: skip
            with torch.no_grad():
                example = tuple(teacher.encode(x_te[:2])[1:])
            return {"seed": seed, "metrics": metrics, "history": st.sc_history, "model": sc,
                    "example": example}  # fmt: skip
        # a student: every variant starts from the same initial student (same seed)
        seed_everything(seed)
        student = make_student(cfg, wd)
        mode = _MODE[variant]
        d_s = cfg.model.student_hidden
        projs: list[nn.Module | None] = []
        widths = {"attn_rep": [st.teacher.rep_dims[0]], "causal_rep": [st.teacher.rep_dims[1]],
                  "combi_rep": [st.teacher.rep_dims[2]], "sc_feature": [cfg.model.sc_hidden],
                  "merged_loss": list(st.teacher.rep_dims)}.get(variant, [])  # fmt: skip
        for d_t in widths:  # P h_s where the widths differ (see the module docstring)
            projs.append(nn.Linear(d_s, d_t, bias=False) if d_t != d_s else None)
        # the teacher outputs were computed once: teacher_fn only hands them over
        teacher_fn: Callable[[Tensor], Any] | None = None
        ds = TensorDataset(xs_tr, y_tr)
        if variant != "baseline":
            ds = TensorDataset(xs_tr, y_tr, st.targets[variant])
            sizes = list(st.teacher.rep_dims)
            teacher_fn = _Split(sizes) if variant == "merged_loss" else _Split(None)
        student.with_features = mode in ("feature", "merged")
        trainable = nn.ModuleList([student, *(p for p in projs if p is not None)])
        res = distill(
            student, teacher_fn, ds, dataclasses.replace(cfg.train, seed=seed), mode=mode,
            alpha=lc.alpha, tau=lc.tau, tau_squared=lc.tau_squared,
            projectors=projs if mode in ("feature", "merged") else None,
            optimizer=make_optimizer(cfg, trainable), eval_data=(xs_te, y_te),
            out_dir=ck(run_dir), desc=f"{variant} seed {seed}",
        )  # fmt: skip
        net = res.model
        assert isinstance(net, WearableStudent)
        net.cpu().eval()
        net.with_features = False  # the deployed student returns logits only
        metrics = {**evaluate(net, xs_te), "params": count_params(net),
                   "flops": count_flops(net, x1_s),
                   "latency_ms": _bench(net, x1_s, cfg)}  # fmt: skip
        return {"seed": seed, "metrics": metrics, "history": res.history, "model": net,
                "example": xs_te[:2]}  # fmt: skip

    ours = "sc_logit" if "sc_logit" in cfg.variants else cfg.variants[-1]
    students = [v for v in cfg.variants if v in STUDENT_VARIANTS]
    extra: dict[str, Any] = {
        "student_channels": [wd.channel_names[c] for c in wd.student_channels],
        "n_train": len(y_tr),
        "n_test": len(y_te),
        "epochs": {"teacher": cfg.optim.teacher_epochs, "semantic": cfg.optim.sc_epochs,
                   "student": cfg.train.epochs},
        "timing_note": "single-window CPU latency, median of bench.repeats calls",
    }  # fmt: skip

    def plots(exp: Experiment) -> list[Path]:
        rows = exp.metrics["variants"]
        points: dict[str, tuple[float, float, float]] = {}
        student_row = rows[ours] if ours in students else (rows[students[0]] if students else None)
        if student_row is not None:
            lat = student_row["latency_ms"]
            points["student (3 ch)"] = (student_row["params"], lat["mean"], lat["std"])
        for name, label in (("teacher", "teacher (20 ch)"), ("teacher_attn", "ATTN teacher"),
                            ("semantic", "teacher + semantic clf.")):  # fmt: skip
            if name in rows:
                r = rows[name]
                points[label] = (r["params"], r["latency_ms"]["mean"], r["latency_ms"]["std"])
        if student_row is not None and "teacher" in rows:  # Table 3's comparison
            te = rows["teacher"]
            extra["efficiency"] = {
                "student_params_smaller_pct": 100.0 * (1 - student_row["params"] / te["params"]),
                "student_flops_smaller_pct": 100.0 * (1 - student_row["flops"] / te["flops"]),
                "teacher_over_student_latency": te["latency_ms"]["mean"]
                / max(student_row["latency_ms"]["mean"], 1e-12),
            }
        return [_plot_params_vs_time(points, out / "params_vs_time.png")] if points else []

    return run_experiment(
        out,
        method="core/tsak",
        variants=cfg.variants,
        seeds=cfg.seeds,
        run_one=run_one,
        primary="macro_f1",
        ours=ours,
        baselines=[v for v in students if v != ours],
        fixed=["params", "flops"],
        curves={"test_macro_f1": "macro-F1 on held-out users per epoch (mean ± std)"},
        labels={"macro_f1": "macro-F1", "test_macro_f1": "macro-F1"},
        extra=extra,
        plots=plots,
    ).metrics


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
    model="patrec.core.tsak:WearableStudent",
    baselines=(
        "baseline: the 3-channel student trained with CE only",
        "logit: Eq. 1 with the teacher's logits",
        "attn_rep / causal_rep / combi_rep: Eq. 2, cosine KD of one teacher vector",
        "merged_loss: CE plus the three cosine terms (Sec. 5)",
        "sc_feature: Eq. 2 with the semantic classifier's hidden vector",
        "teacher, teacher_attn, semantic: the 20-channel references of Table 4",
    ),
    status="done",
    summary=(
        "Two-stage KD: a 20-channel attention + LSTM teacher, then a shallow semantic "
        "classifier on its three hidden vectors (Attn/Causal/Combi-Rep) whose logits distil "
        "a 2.69K-parameter 3-channel CNN student with L_SC (Eq. 1, alpha 0.99, tau 4); "
        "compared with the feature, merged and logit KD students of Table 4."
    ),
    paper_numbers={
        "factory, right-hand student F1 (Table 4)": (
            "SC-Logit 0.8134 vs Baseline 0.7594, Logit 0.7616, Combi-Rep 0.7887, Causal-Rep "
            "0.7826, Attn-Rep 0.7528, Merged Loss 0.7676, SC-Feature 0.7817 (teachers: ATTN "
            "0.7840, ATTN+LSTM 0.8591, semantic classifier 0.9058)"
        ),
        "OpenPack F1 (Table 5)": "SC-Logit 0.7656 vs Baseline 0.6606, Combi-Rep 0.7571",
        "efficiency (Table 3)": (
            "student 2.69K vs teacher 12.65K parameters (79% fewer), 8.88x faster, 96.6% fewer "
            "FLOPs"
        ),
    },
    measured={
        "smoke (generated 20-ch glove windows, 8 train / 4 held-out users, 8 windows per "
        "user and class, 20 student epochs, 3 seeds), student macro-F1": (
            "SC-Logit 0.482 ± 0.135 vs Baseline 0.501 ± 0.118, Logit 0.533 ± 0.109, Attn-Rep "
            "0.525 ± 0.081, Causal-Rep 0.515 ± 0.127, Combi-Rep 0.510 ± 0.122, Merged Loss "
            "0.518 ± 0.066, SC-Feature 0.544 ± 0.113: every gap is inside one std and SC-Logit "
            "is last; the paper's KD gains do not reproduce at this scale"
        ),
        "smoke, teachers macro-F1": (
            "ATTN+LSTM 0.942 ± 0.041, ATTN 0.940 ± 0.039, semantic classifier 0.932 ± 0.031 "
            "(below its teacher, unlike Table 4's +4.67 points)"
        ),
        "smoke, efficiency": (
            "student 2,689 vs teacher 15,746 parameters (83% fewer; Table 3: 12.65K, 79%), "
            "0.33 vs 2.17 MFLOPs per window (85% fewer), single-window CPU latency 0.21 vs "
            "1.09 ms (about 5x; shared, loaded 2-core CPU)"
        ),
    },
    test_overrides=(
        "data.users=3",
        "data.test_users=1",
        "data.windows_per_class=2",
        "train.epochs=1",
        "train.batch_size=16",
        "optim.teacher_epochs=1",
        "optim.sc_epochs=1",
        "bench.repeats=1",
        "bench.warmup=0",
        "seeds=[0]",
    ),
)
