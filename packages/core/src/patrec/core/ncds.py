"""NCDS: "A Novel Loss for Contrastive Deep Supervision" (Ye et al., ICPR 2024).

Contrastive deep supervision of a CNN ``F = F_K o ... o F_1``: after every stage ``k`` a
contrastive module (projection ``Q_k``, projection MLP ``G_k``, prediction MLP ``H_k``,
eq. 1) produces three L2-normalised embeddings ``q, g, h`` of each augmented image. The
paper separates what supervised contrastive learning (SupCon, eq. 2) mixes:

- same-class loss ``L_class`` (eq. 9): SupCon on ``q`` with each sample's same-source view
  removed from both its positives and its denominator, helped by per-stage FIFO queues of
  ``q`` from previous iterations;
- same-source loss ``L_source`` (eq. 10): SimSiam-style prediction of one view's ``g`` from
  the other view's ``h``, with a stop-gradient on ``g``.

``L_NCDS = CE + sum_k (lambda1 L_class(q_k) + lambda2 L_source(h_k, g_k))`` (eq. 11) and, with
unlabelled images, ``L_semi = L_NCDS(labelled) + L_source(unlabelled)`` (eq. 12). All
contrastive modules are dropped at inference (:meth:`NCDSNet.deploy`).

Batch convention (as in the paper): a batch holds ``2N`` augmented views; rows ``0..N-1``
are the first view of images ``0..N-1`` and rows ``N..2N-1`` the second view of the same
images, so rows ``i`` and ``N+i`` are a same-source pair. Feed the network
``torch.cat([x1, x2])`` (one forward, shared BatchNorm statistics), or join two outputs with
:func:`cat_views`.

Typical training step::

    out = net(torch.cat([x1, x2]))                     # NCDSOutput over 2N views
    terms = ncds_loss(out, y, lambda1=..., lambda2=..., tau=..., queues=queues)
    terms["loss"].backward()
    update_queues(queues, out, y)                      # after the loss, detached

Hyperparameters: ``tau``, ``lambda1``, ``lambda2`` and the queue length are given in the
paper's supplementary material, not in its text; the defaults below are ours.

The recipe compares, on one backbone with the same views and budget, NCDS with the
baselines of the paper's Tables 1-2 that are feasible here -- cross-entropy only ("Base"),
DSN (:class:`DSNNet`, companion classifiers) and CDS (:func:`cds_loss`) -- and, with the
``ablation`` preset, with Table 4's other auxiliary losses (:func:`ablation_loss`:
``L_SimCLR``, ``L_source``, ``L_SimCLR + L_class``); the metric is top-1 accuracy of the
deployed backbone, as in the paper. Not here: DKS and DHM (their branch designs and losses
are in their own papers, not described in this one), ImageNet (Table 3) and the t-SNE /
WCSS study (Fig. 4). The semi-supervised setting of Fig. 2 is ``data.labelled_fraction``,
the queue-length study of Fig. 3 is ``loss.queue_size``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patrec.core.checks import check_choice, check_scalar, check_tensor, describe
from patrec.core.config import param
from patrec.core.data import ImageClassificationData
from patrec.core.errors import ConfigError, InputError
from patrec.core.nn import ClassifierHead, MLPHead, StagedBackbone, l2_normalize
from patrec.core.registry import Method
from patrec.core.train import TrainConfig, predict

__all__ = [
    "METHOD",
    "NCDSConfig",
    "TrainedVariant",
    "paper_config",
    "recipe",
    "smoke_config",
    "train_variant",
    "DEFAULT_LAMBDA1",
    "DEFAULT_LAMBDA2",
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_TAU",
    "ABLATION_PARTS",
    "TABLE4_VARIANTS",
    "VARIANTS",
    "ContrastiveModule",
    "ContrastiveOutput",
    "FeatureQueue",
    "NCDSNet",
    "NCDSOutput",
    "DSNNet",
    "QueueBank",
    "Reduction",
    "ablation_config",
    "ablation_loss",
    "cat_views",
    "cds_loss",
    "class_loss",
    "dsn_loss",
    "make_queues",
    "ncds_loss",
    "simclr_loss",
    "source_loss",
    "supcon_loss",
    "update_queues",
]

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS = ("mean", "sum", "none")

# Not stated in the paper's text (they are in its supplementary material): our defaults.
DEFAULT_TAU = 0.1  # not stated; SupCon's usual temperature
DEFAULT_LAMBDA1 = 1.0  # not stated; weight of L_class per stage (eq. 11)
DEFAULT_LAMBDA2 = 1.0  # not stated; weight of L_source per stage (eq. 11)
DEFAULT_QUEUE_SIZE = 4096  # not stated; Fig. 3 only says longer is better, above #classes


# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------


def _check_even(name: str, x: Tensor) -> int:
    """The paper's batch convention (not a generic check): ``2N`` rows, two views each."""
    b = x.shape[0]
    if b % 2 != 0 or b == 0:
        raise InputError(
            f"{name} must hold 2N rows (N first views, then N second views), got {b} rows"
        )
    return b // 2


def _upcast(x: Tensor) -> Tensor:
    """Half precision is too coarse for exp(s / tau); compute in float32 then."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _zero(like: Tensor) -> Tensor:
    """A scalar 0 still connected to ``like``'s graph (keeps DDP's parameter set stable)."""
    return like.sum() * 0.0


# ---------------------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------------------


def _masked_supcon(
    q: Tensor, keys: Tensor, pos_mask: Tensor, denom_mask: Tensor, tau: float
) -> tuple[Tensor, Tensor]:
    """Per-anchor ``-1/|P(i)| sum_{p in P(i)} log(exp(s_ip) / sum_{d in D(i)} exp(s_id))``.

    Args:
        q: anchors ``(B, D)``.
        keys: candidates ``(M, D)``; ``s = q keys^T / tau``.
        pos_mask: ``(B, M)`` bool, ``P(i)``; must be a subset of ``denom_mask``.
        denom_mask: ``(B, M)`` bool, ``D(i)``.
        tau: temperature.

    Returns:
        ``(B,)`` per-anchor losses (exactly 0 where ``P(i)`` is empty) and the ``(B,)`` bool
        mask of anchors with ``|P(i)| > 0``.
    """
    logits = q @ keys.T / tau
    masked = logits.masked_fill(~denom_mask, float("-inf"))
    # rows with an empty D(i) have no positives either; give them a finite denominator so no
    # NaN appears anywhere (not even in gradients multiplied by zero).
    has_denom = denom_mask.any(dim=1, keepdim=True)
    masked = torch.where(has_denom, masked, torch.zeros_like(masked))
    log_denom = torch.logsumexp(masked, dim=1, keepdim=True)
    log_prob = logits - log_denom
    n_pos = pos_mask.sum(dim=1)
    pos_sum = torch.where(pos_mask, log_prob, torch.zeros_like(log_prob)).sum(dim=1)
    valid = n_pos > 0
    per_anchor = -pos_sum / n_pos.clamp(min=1).to(log_prob.dtype)
    return per_anchor, valid


def _reduce_anchors(per_anchor: Tensor, valid: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "none":
        return per_anchor
    if reduction == "sum":
        return per_anchor.sum()
    n_valid = int(valid.sum())
    if n_valid == 0:
        return _zero(per_anchor)
    return per_anchor.sum() / n_valid


def supcon_loss(q: Tensor, labels: Tensor, tau: float, reduction: Reduction = "mean") -> Tensor:
    """Supervised contrastive loss ``L_SupCon`` (eq. 2; Khosla et al. 2020).

    For anchor ``i``, ``P(i)`` holds every other row with the same label (the same-source
    view included) and ``D(i)`` every row but ``i``::

        L_i = -1/|P(i)| sum_{p in P(i)} log( exp(q_i.q_p/tau) / sum_{d in D(i)} exp(q_i.q_d/tau) )

    Anchors with ``|P(i)| = 0`` contribute 0. No view pairing is needed, so any number of
    rows is accepted (the paper uses the ``2N`` views of ``N`` images).

    Args:
        q: ``(B, D)`` L2-normalised embeddings (``B = 2N`` in the paper).
        labels: ``(B,)`` integer class labels, ``>= 0``.
        tau: temperature ``> 0``.
        reduction: ``"mean"`` over anchors with ``|P(i)| > 0`` (eq. 2's ``1/2N`` when
            every anchor has one, as with two views), ``"sum"`` over anchors, ``"none"`` for
            the ``(B,)`` per-anchor losses.

    Returns:
        A scalar, or ``(B,)`` for ``reduction="none"``.

    Raises:
        InputError: wrong shapes or dtypes, non-finite values, ``tau <= 0``.
    """
    dims: dict[str, int] = {}
    check_tensor(q, "B D", name="q", dims=dims, dtype="float", finite=True, nonempty=True)
    check_tensor(labels, "B", name="labels", dims=dims, dtype="int", nonneg=True)
    labels = labels.to(q.device)
    tau = float(check_scalar(tau, "tau", gt=0))
    check_choice(reduction, "reduction", REDUCTIONS)
    b = q.shape[0]
    q = _upcast(q)
    not_self = ~torch.eye(b, dtype=torch.bool, device=q.device)
    same = labels[:, None] == labels[None, :]
    per_anchor, valid = _masked_supcon(q, q, same & not_self, not_self, tau)
    return _reduce_anchors(per_anchor, valid, reduction)


def simclr_loss(q: Tensor, tau: float, reduction: Reduction = "mean") -> Tensor:
    """SimCLR's NT-Xent loss: SupCon where each image is its own class.

    The positive of row ``i`` is its same-source view ``N+i`` (and vice versa); every other
    row is a negative. CDS (the paper's baseline) uses it on unlabelled images.

    Args:
        q: ``(2N, D)`` L2-normalised embeddings, views ordered as in the module docstring.
        tau: temperature ``> 0``.
        reduction: as in :func:`supcon_loss`.

    Returns:
        A scalar, or ``(2N,)`` for ``reduction="none"``.
    """
    check_tensor(q, "B D", name="q", dtype="float", finite=True, nonempty=True)
    n = _check_even("q", q)
    ids = torch.arange(n, device=q.device)
    return supcon_loss(q, torch.cat([ids, ids]), tau, reduction)


def class_loss(
    q: Tensor,
    labels: Tensor,
    tau: float,
    *,
    queue_feats: Tensor | None = None,
    queue_labels: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Same-class loss ``L_class`` (eq. 9).

    SupCon without the same-source view. For anchor ``i`` of the ``2N`` views, with ``j`` its
    same-source partner (``N+i`` for ``i < N``, ``i-N`` otherwise)::

        P^(i) = {p != i, j : y_p = y_i} (+ queue entries with label y_i)
        D^(i) = D(i) \\ {j} = every row but i and j (+ every queue entry)
        L_i   = -1/|P^(i)| sum_{p in P^(i)} log( exp(q_i.q_p / tau)
                                               / sum_{d in D^(i)} exp(q_i.q_d / tau) )

    and ``L_i = 0`` when ``|P^(i)| = 0``. Queue entries (``q`` of labelled samples from previous
    iterations, Sec. 3.3) are constants: they join ``P^(i)`` when their label matches and
    ``D^(i)`` always, and receive no gradient.

    Reduction: eq. 9 sums over anchors (``reduction="sum"``). The default ``"mean"`` divides
    by the number of anchors with ``|P^(i)| > 0``, so the loss does not grow with the batch
    size or the number of labelled images and stays comparable across batches; for a fixed
    batch it is eq. 9 rescaled, i.e. the same objective with a rescaled ``lambda1``. It is
    also what SupCon implementations do.

    Args:
        q: ``(2N, D)`` L2-normalised embeddings; rows ``i`` and ``N+i`` are the two views of
            image ``i``.
        labels: ``(2N,)`` integer labels ``>= 0``; ``labels[:N]`` must equal ``labels[N:]``.
        tau: temperature ``> 0``.
        queue_feats: ``(M, D)`` stored embeddings (may be ``M = 0``), or None.
        queue_labels: ``(M,)`` their labels; given together with ``queue_feats``.
        reduction: ``"mean"`` (default, see above), ``"sum"`` (eq. 9 as written) or ``"none"``
            for the ``(2N,)`` per-anchor losses (0 for anchors without positives).

    Returns:
        A scalar, or ``(2N,)`` for ``reduction="none"``.

    Raises:
        InputError: odd number of rows, views whose labels disagree, wrong shapes/dtypes,
            non-finite values, ``tau <= 0``, a queue given without its labels.
    """
    dims: dict[str, int] = {}
    check_tensor(q, "B D", name="q", dims=dims, dtype="float", finite=True, nonempty=True)
    n = _check_even("q", q)
    check_tensor(labels, "B", name="labels", dims=dims, dtype="int", nonneg=True)
    labels = labels.to(q.device)
    if not torch.equal(labels[:n], labels[n:]):
        raise InputError(
            "labels[:N] must equal labels[N:] (rows i and N+i are two views of one image), "
            f"got {labels[:n].tolist()} and {labels[n:].tolist()}"
        )
    tau = float(check_scalar(tau, "tau", gt=0))
    check_choice(reduction, "reduction", REDUCTIONS)
    if (queue_feats is None) != (queue_labels is None):
        raise InputError("queue_feats and queue_labels must be given together, got only one")

    b = 2 * n
    q = _upcast(q)
    idx = torch.arange(b, device=q.device)
    partner = (idx + n) % b
    not_self = idx[:, None] != idx[None, :]
    not_partner = partner[:, None] != idx[None, :]
    denom = not_self & not_partner  # D^(i)
    pos = denom & (labels[:, None] == labels[None, :])  # P^(i)
    keys = q
    if queue_feats is not None and queue_labels is not None:
        qdims = {"D": q.shape[1]}
        check_tensor(queue_feats, "M D", name="queue_feats", dims=qdims, dtype="float", finite=True)
        check_tensor(queue_labels, "M", name="queue_labels", dims=qdims, dtype="int", nonneg=True)
        m = queue_feats.shape[0]
        qf = queue_feats.detach().to(device=q.device, dtype=q.dtype)
        ql = queue_labels.to(q.device)
        keys = torch.cat([q, qf], dim=0)
        denom = torch.cat([denom, torch.ones(b, m, dtype=torch.bool, device=q.device)], dim=1)
        pos = torch.cat([pos, labels[:, None] == ql[None, :]], dim=1)
    per_anchor, valid = _masked_supcon(q, keys, pos, denom, tau)
    return _reduce_anchors(per_anchor, valid, reduction)


def source_loss(h: Tensor, g: Tensor, reduction: Reduction = "mean") -> Tensor:
    """Same-source loss ``L_source`` (eq. 10), SimSiam's symmetric negative cosine.

    ``L = sum_{i=1..N} -1/2 ( h_i . sg(g_{N+i}) + h_{N+i} . sg(g_i) )`` where ``sg`` is the
    stop-gradient (``.detach()``): gradients reach ``h`` only. With unit vectors each term
    lies in ``[-1, 1]``; ``-1`` per pair when every ``h`` equals its partner's ``g``.

    Args:
        h: ``(2N, D)`` L2-normalised predictions ``h_k`` (eq. 1).
        g: ``(2N, D)`` L2-normalised projections ``g_k`` (eq. 1).
        reduction: ``"sum"`` (eq. 10 as written), ``"mean"`` (divided by ``N``; minimum -1)
            or ``"none"`` for the ``(N,)`` per-pair terms.

    Returns:
        A scalar, or ``(N,)`` for ``reduction="none"``.

    Raises:
        InputError: shapes differ, an odd number of rows, non-finite values.
    """
    check_tensor(h, "B D", name="h", dtype="float", finite=True, nonempty=True)
    check_tensor(g, "B D", name="g", dtype="float", finite=True, nonempty=True)
    if h.shape != g.shape:
        raise InputError(
            f"h and g must have the same (2N, D) shape, got {describe(h)} and {describe(g)}"
        )
    n = _check_even("h", h)
    check_choice(reduction, "reduction", REDUCTIONS)
    h = _upcast(h)
    g = _upcast(g).detach()  # sg(.) of eq. 10
    g_partner = torch.cat([g[n:], g[:n]], dim=0)
    sim = (h * g_partner).sum(dim=1)  # h_i . g_{N+i} and h_{N+i} . g_i
    per_pair = -0.5 * (sim[:n] + sim[n:])
    if reduction == "none":
        return per_pair
    if reduction == "sum":
        return per_pair.sum()
    return per_pair.mean()


# ---------------------------------------------------------------------------------------
# dynamic queues (Sec. 3.3)
# ---------------------------------------------------------------------------------------


class FeatureQueue(nn.Module):
    """A FIFO queue of embeddings and labels for one stage's ``L_class`` (Sec. 3.3).

    Holds the ``size`` most recently enqueued (detached) embeddings. State is kept in
    buffers (``feats``, ``labels``, ``ptr``, ``count``), so it moves with ``.to(device)`` and
    is saved in ``state_dict()`` for resuming. Empty slots hold label ``-1`` and are never
    returned by :meth:`get`.

    Note: ``len(queue)`` is the number of stored entries, so an empty queue is falsy; test
    ``queue is not None`` rather than ``if queue``.

    Args:
        dim: embedding dimension ``D`` (128 in the paper).
        size: capacity ``M`` (the paper's queue length; not stated in the text).
    """

    feats: Tensor
    labels: Tensor
    ptr: Tensor
    count: Tensor

    def __init__(self, dim: int = 128, size: int = DEFAULT_QUEUE_SIZE) -> None:
        super().__init__()
        for name, v in (("dim", dim), ("size", size)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"FeatureQueue {name} must be a positive int, got {v!r}")
        self.dim = dim
        self.size = size
        self.register_buffer("feats", torch.zeros(size, dim))
        self.register_buffer("labels", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.count)

    @torch.no_grad()
    def reset(self) -> None:
        """Empty the queue."""
        self.feats.zero_()
        self.labels.fill_(-1)
        self.ptr.zero_()
        self.count.zero_()

    @torch.no_grad()
    def enqueue(self, feats: Tensor, labels: Tensor) -> None:
        """Append ``feats`` (detached) and ``labels``, evicting the oldest entries when full.

        Rows are taken in order, so the last row is the newest. When more than ``size`` rows
        come at once only the newest ``size`` are kept.

        Args:
            feats: ``(B, dim)`` embeddings (cast to the queue's dtype and device).
            labels: ``(B,)`` integer labels ``>= 0``.

        Raises:
            InputError: wrong shapes or dtypes, negative labels, non-finite values.
        """
        dims = {"D": self.dim}
        check_tensor(feats, "B D", name="feats", dims=dims, dtype="float", finite=True)
        check_tensor(labels, "B", name="labels", dims=dims, dtype="int", nonneg=True)
        b = feats.shape[0]
        if b == 0:
            return
        x = feats.detach().to(device=self.feats.device, dtype=self.feats.dtype)
        y = labels.detach().to(device=self.labels.device, dtype=torch.long)
        if b >= self.size:
            self.feats.copy_(x[-self.size :])
            self.labels.copy_(y[-self.size :])
            self.ptr.zero_()
            self.count.fill_(self.size)
            return
        slots = (int(self.ptr) + torch.arange(b, device=self.feats.device)) % self.size
        self.feats[slots] = x
        self.labels[slots] = y
        self.ptr.fill_((int(self.ptr) + b) % self.size)
        self.count.fill_(min(int(self.count) + b, self.size))

    def get(self) -> tuple[Tensor, Tensor]:
        """The stored entries, oldest first.

        Returns:
            ``feats`` ``(M, dim)`` and ``labels`` ``(M,)`` with ``M = len(self)``; new
            tensors, detached from the queue's buffers.
        """
        count = int(self.count)
        if count < self.size:  # never wrapped: slots 0..count-1 in insertion order
            return self.feats[:count].clone(), self.labels[:count].clone()
        order = (int(self.ptr) + torch.arange(self.size, device=self.feats.device)) % self.size
        return self.feats[order], self.labels[order]

    def extra_repr(self) -> str:
        return f"dim={self.dim}, size={self.size}"


class QueueBank(nn.Module):
    """One :class:`FeatureQueue` per supervised stage, as one module.

    Indexing and iteration give the :class:`FeatureQueue` objects, so a bank can be passed
    wherever a sequence of queues is expected (:func:`ncds_loss`, :func:`update_queues`).
    Its buffers follow ``.to(device)`` and its ``state_dict()`` holds every queue.

    Args:
        num: number of queues (supervised stages).
        dim: embedding dimension of each queue.
        size: capacity of each queue.
    """

    def __init__(self, num: int, dim: int = 128, size: int = DEFAULT_QUEUE_SIZE) -> None:
        super().__init__()
        if isinstance(num, bool) or not isinstance(num, int) or num <= 0:
            raise ConfigError(f"QueueBank num must be a positive int, got {num!r}")
        self.queues = nn.ModuleList(FeatureQueue(dim, size) for _ in range(num))

    def __len__(self) -> int:
        """The number of queues (not of stored entries)."""
        return len(self.queues)

    def __getitem__(self, index: int) -> FeatureQueue:
        queue = self.queues[index]
        assert isinstance(queue, FeatureQueue)
        return queue

    def __iter__(self) -> Iterator[FeatureQueue]:
        return (self[i] for i in range(len(self)))

    def reset(self) -> None:
        """Empty every queue."""
        for queue in self:
            queue.reset()


def make_queues(num: int, dim: int = 128, size: int = DEFAULT_QUEUE_SIZE) -> QueueBank:
    """One :class:`FeatureQueue` per supervised stage (move it to the model's device)."""
    return QueueBank(num, dim, size)


# ---------------------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------------------


class ContrastiveOutput(NamedTuple):
    """The three L2-normalised embeddings of one contrastive module (eq. 1), each ``(B, D)``."""

    q: Tensor
    g: Tensor
    h: Tensor


class ContrastiveModule(nn.Module):
    """The contrastive module after stage ``k`` (eq. 1, Fig. 1).

    - ``Q_k`` (projection): ``conv3x3-BN-ReLU`` on the stage's feature map, global average
      pooling, Linear to ``proj_dim``;
    - ``G_k`` (projection MLP): :class:`~patrec.core.nn.MLPHead`
      ``proj_dim -> hidden_dim -> proj_dim``;
    - ``H_k`` (prediction MLP): bottleneck :class:`~patrec.core.nn.MLPHead`
      ``proj_dim -> pred_hidden_dim -> proj_dim``.

    ``q = norm(Q(f))``, ``g = norm(G(Q(f)))``, ``h = norm(H(G(Q(f))))``. Eq. 1 writes
    ``g = G o Q`` and ``h = H o G o Q`` without saying whether ``G`` sees the normalised ``q``;
    we apply ``G`` to the un-normalised output of ``Q`` (and ``H`` to the un-normalised
    output of ``G``), as SimSiam feeds its MLPs un-normalised features and normalises only
    inside the loss. The widths are not stated in the text; ``pred_hidden_dim`` defaults to
    SimSiam's 4x bottleneck of ``hidden_dim``.

    Shapes:
        feature map ``(B, in_channels, H, W)`` -> ``q, g, h`` each ``(B, proj_dim)``.

    Args:
        in_channels: channels of the stage's feature map.
        proj_dim: embedding dimension (128 in the paper, Sec. 3.3).
        hidden_dim: hidden width of ``G_k``.
        pred_hidden_dim: hidden width of ``H_k``; default ``max(hidden_dim // 4, 1)``.
        conv_channels: channels of ``Q_k``'s convolution; default ``in_channels``.
    """

    def __init__(
        self,
        in_channels: int,
        proj_dim: int = 128,
        hidden_dim: int = 512,
        pred_hidden_dim: int | None = None,
        conv_channels: int | None = None,
    ) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("proj_dim", proj_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"ContrastiveModule {name} must be a positive int, got {v!r}")
        c = in_channels if conv_channels is None else conv_channels
        p = max(hidden_dim // 4, 1) if pred_hidden_dim is None else pred_hidden_dim
        self.in_channels = in_channels
        self.proj_dim = proj_dim
        self.projection = nn.Sequential(  # Q_k
            nn.Conv2d(in_channels, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(1),
            nn.Linear(c, proj_dim),
        )
        self.projector = MLPHead(proj_dim, hidden_dim, proj_dim, num_layers=2)  # G_k
        self.predictor = MLPHead(proj_dim, p, proj_dim, num_layers=2)  # H_k

    def forward(self, feature_map: Tensor) -> ContrastiveOutput:
        """``(B, in_channels, H, W)`` -> ``ContrastiveOutput(q, g, h)``, each ``(B, proj_dim)``."""
        spec = f"B {self.in_channels} H W"
        check_tensor(feature_map, spec, name="ContrastiveModule feature map", dtype="float")
        u = self.projection(feature_map)
        z = self.projector(u)
        p = self.predictor(z)
        return ContrastiveOutput(l2_normalize(u), l2_normalize(z), l2_normalize(p))


class NCDSOutput(NamedTuple):
    """What :class:`NCDSNet` returns for a batch of ``B`` images.

    Attributes:
        logits: ``(B, num_classes)`` final-layer logits ``c_i``.
        aux: one :class:`ContrastiveOutput` per supervised stage, in stage order.
        stage_indices: the (0-based) backbone stage of each entry of ``aux``.
    """

    logits: Tensor
    aux: list[ContrastiveOutput]
    stage_indices: tuple[int, ...]


def cat_views(view1: NCDSOutput, view2: NCDSOutput) -> NCDSOutput:
    """Join the outputs of two forward passes (first views, second views) into one ``2N`` batch.

    Prefer one forward pass on ``torch.cat([x1, x2])``; this is for loops that run the two
    views separately.

    Raises:
        InputError: the two outputs differ in batch size or stages.
    """
    if view1.stage_indices != view2.stage_indices or view1.logits.shape != view2.logits.shape:
        raise InputError(
            "cat_views expected two outputs of the same batch size and stages, got "
            f"logits {describe(view1.logits)} / {describe(view2.logits)} and stages "
            f"{view1.stage_indices} / {view2.stage_indices}"
        )
    aux = [
        ContrastiveOutput(*(torch.cat([a, b]) for a, b in zip(o1, o2, strict=True)))
        for o1, o2 in zip(view1.aux, view2.aux, strict=True)
    ]
    return NCDSOutput(torch.cat([view1.logits, view2.logits]), aux, view1.stage_indices)


class NCDSNet(nn.Module):
    """A :class:`~patrec.core.nn.StagedBackbone` with a contrastive module after chosen stages.

    Training: ``forward(x)`` returns :class:`NCDSOutput` (logits and ``(q, g, h)`` per
    supervised stage). Inference: :meth:`deploy` returns the bare backbone, whose parameters
    are exactly those of the backbone given here (the contrastive modules are dropped, Fig. 1).

    Args:
        backbone: the classifier to train.
        proj_dim: embedding dimension (128 in the paper).
        stages: 0-based indices of the backbone stages to supervise; default all ``K``
            (eq. 11 sums over ``k = 1..K``).
        hidden_dim: hidden width of each projection MLP ``G_k``.
        pred_hidden_dim: hidden width of each prediction MLP ``H_k`` (default hidden_dim/4).
    """

    def __init__(
        self,
        backbone: StagedBackbone,
        proj_dim: int = 128,
        stages: Sequence[int] | None = None,
        hidden_dim: int = 512,
        pred_hidden_dim: int | None = None,
    ) -> None:
        super().__init__()
        for attr in ("stages", "stage_channels", "forward_features", "head"):
            if not hasattr(backbone, attr):
                raise InputError(
                    "NCDSNet expected a StagedBackbone (with stages, stage_channels, "
                    f"forward_features and head), got {type(backbone).__name__} without {attr}"
                )
        k = len(backbone.stage_channels)
        chosen = tuple(range(k)) if stages is None else tuple(stages)
        if (
            not chosen
            or len(set(chosen)) != len(chosen)
            or any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < k for s in chosen)
        ):
            raise ConfigError(f"stages must be distinct indices in 0..{k - 1}, got {stages!r}")
        self.backbone = backbone
        self.stage_indices: tuple[int, ...] = tuple(sorted(chosen))
        self.contrastive = nn.ModuleList(
            ContrastiveModule(backbone.stage_channels[s], proj_dim, hidden_dim, pred_hidden_dim)
            for s in self.stage_indices
        )
        self.proj_dim = proj_dim

    def forward(self, x: Tensor) -> NCDSOutput:
        """Images ``(B, C, H, W)`` -> :class:`NCDSOutput` (``B = 2N`` views for the losses)."""
        feats = self.backbone.forward_features(x)
        logits = self.backbone.head(feats[-1])
        aux = [m(feats[s]) for s, m in zip(self.stage_indices, self.contrastive, strict=True)]
        return NCDSOutput(logits, aux, self.stage_indices)

    def deploy(self) -> StagedBackbone:
        """The bare backbone for inference (same object; its parameters are shared)."""
        return self.backbone


# ---------------------------------------------------------------------------------------
# total losses (eqs. 11, 12) and the queue update
# ---------------------------------------------------------------------------------------


def _split_labelled(
    out: NCDSOutput, labels: Tensor, labelled_mask: Tensor | None
) -> tuple[int, Tensor, Tensor]:
    """Check ``out``/``labels``; return ``N``, image labels ``(N,)`` and labelled mask ``(N,)``."""
    if not isinstance(out, NCDSOutput):
        raise InputError(f"expected an NCDSOutput (from NCDSNet), got {type(out).__name__}")
    logits = out.logits
    if not isinstance(logits, Tensor) or logits.ndim != 2:
        raise InputError(f"out.logits must be (2N, num_classes), got {describe(logits)}")
    n = _check_even("out.logits", logits)
    if not isinstance(labels, Tensor) or labels.ndim != 1 or labels.shape[0] not in (n, 2 * n):
        raise InputError(
            f"labels must be (N,) = ({n},) per image or (2N,) = ({2 * n},) per view, "
            f"got {describe(labels)}"
        )
    check_tensor(labels, "_", name="labels", dtype="int")
    labels = labels.to(logits.device)
    if labels.shape[0] == 2 * n:
        if not torch.equal(labels[:n], labels[n:]):
            raise InputError(
                "per-view labels must satisfy labels[:N] == labels[N:] (two views of one "
                f"image), got {labels[:n].tolist()} and {labels[n:].tolist()}"
            )
        labels = labels[:n]
    if labelled_mask is None:
        mask = labels >= 0
    else:
        if (
            not isinstance(labelled_mask, Tensor)
            or labelled_mask.dtype != torch.bool
            or labelled_mask.shape not in ((n,), (2 * n,))
        ):
            raise InputError(
                f"labelled_mask must be a bool ({n},) or ({2 * n},) tensor, got "
                f"{describe(labelled_mask)}"
            )
        if labelled_mask.shape[0] == 2 * n:
            if not torch.equal(labelled_mask[:n], labelled_mask[n:]):
                raise InputError("labelled_mask[:N] must equal labelled_mask[N:]")
            labelled_mask = labelled_mask[:n]
        mask = labelled_mask.to(logits.device)
    num_classes = logits.shape[1]
    lab = labels[mask]
    if lab.numel() > 0 and (bool((lab < 0).any()) or bool((lab >= num_classes).any())):
        raise InputError(
            f"labels of labelled images must lie in 0..{num_classes - 1}, got {lab.tolist()}"
        )
    for j, o in enumerate(out.aux):
        for name, t in zip(("q", "g", "h"), o, strict=True):
            if not isinstance(t, Tensor) or t.ndim != 2 or t.shape[0] != 2 * n:
                raise InputError(f"out.aux[{j}].{name} must be ({2 * n}, D), got {describe(t)}")
    return n, labels, mask


def _views(x: Tensor, n: int, idx: Tensor) -> Tensor:
    """Rows of images ``idx`` in both views, kept in the (view 1, view 2) order."""
    return torch.cat([x[idx], x[n + idx]], dim=0)


def _ce(out: NCDSOutput, n: int, labels: Tensor, lab_idx: Tensor) -> Tensor:
    if lab_idx.numel() == 0:
        return _zero(out.logits)
    y = labels[lab_idx]
    return F.cross_entropy(_upcast(_views(out.logits, n, lab_idx)), torch.cat([y, y]))


def _check_queues(
    queues: Iterable[FeatureQueue | None] | None, num: int
) -> list[FeatureQueue | None]:
    if queues is None:
        return [None] * num
    if isinstance(queues, FeatureQueue):
        raise InputError("queues must be one FeatureQueue per stage (e.g. a QueueBank), got one")
    qs = list(queues)
    if len(qs) != num:
        raise InputError(
            f"expected one queue (or None) per supervised stage ({num}), got {len(qs)}"
        )
    for j, qu in enumerate(qs):
        if qu is not None and not isinstance(qu, FeatureQueue):
            raise InputError(f"queues[{j}] must be a FeatureQueue or None, got {type(qu).__name__}")
    return qs


def ncds_loss(
    out: NCDSOutput,
    labels: Tensor,
    *,
    lambda1: float = DEFAULT_LAMBDA1,
    lambda2: float = DEFAULT_LAMBDA2,
    tau: float = DEFAULT_TAU,
    queues: Iterable[FeatureQueue | None] | None = None,
    labelled_mask: Tensor | None = None,
    lambda_unlabelled: float = 1.0,
    reduction: Literal["mean", "sum"] = "mean",
) -> dict[str, Tensor]:
    """The NCDS objective ``L_NCDS`` (eq. 11), or ``L_semi`` (eq. 12) with unlabelled images.

    With ``W`` the labelled and ``U`` the unlabelled images of the batch::

        loss = CE(W) + sum_k [ lambda1 L_class(q_k[W]) + lambda2 L_source(h_k[W], g_k[W])
                               + lambda_unlabelled L_source(h_k[U], g_k[U]) ]

    - CE (eq. 11) is the mean cross-entropy of the final logits of both views of every
      labelled image. The paper writes it over ``{c_i}_{i=1..N}``, one logit per image; both
      views are labelled augmentations of the image, so using both is the average of two
      such terms, uses every forward pass, and adds no hyperparameter.
    - ``L_class`` (eq. 9, :func:`class_loss`) uses labelled images only, plus the stage's
      queue when given (read before this batch is enqueued).
    - ``L_source`` (eq. 10, :func:`source_loss`) needs no label: labelled images get weight
      ``lambda2`` (part of eq. 11); unlabelled images get ``lambda_unlabelled``, 1 by
      default as eq. 12 writes ``+ L_source(U)`` without a weight (pass ``lambda2`` to
      weight both alike). In the fully supervised case this is ``L_source`` on all images.

    Args:
        out: :class:`NCDSOutput` of the ``2N`` views (rows ``i`` and ``N+i`` from image
            ``i``); see :func:`cat_views`.
        labels: ``(N,)`` per-image or ``(2N,)`` per-view integer labels; ``-1`` (any value
            ``< 0``) marks an unlabelled image unless ``labelled_mask`` is given.
        lambda1: weight of ``L_class`` (not stated in the paper's text).
        lambda2: weight of ``L_source`` on labelled images (not stated in the text).
        tau: temperature of ``L_class`` (not stated in the text).
        queues: one :class:`FeatureQueue` (or None) per entry of ``out.aux`` (e.g. a
            :class:`QueueBank`), or None for no queue.
        labelled_mask: ``(N,)`` (or ``(2N,)``) bool, True for labelled images; overrides
            the ``-1`` convention. Labels of unlabelled images are then ignored.
        lambda_unlabelled: weight of ``L_source`` on unlabelled images (eq. 12).
        reduction: ``"mean"`` (default) or ``"sum"`` (eqs. 9, 10 as written) for
            ``L_class`` and ``L_source``; see :func:`class_loss`. CE is always a mean.

    Returns:
        A dict of scalars (with graph): ``"loss"`` (the total), ``"ce"``, ``"class"`` and
        ``"source"`` and ``"source_unlabelled"`` (unweighted sums over stages), and per stage
        ``"class/stage{s}"``, ``"source/stage{s}"``, ``"source_unlabelled/stage{s}"`` with
        ``s`` the 0-based backbone stage index.

    Raises:
        InputError: inconsistent shapes, labels out of range, bad weights or ``tau``.
    """
    n, labels, mask = _split_labelled(out, labels, labelled_mask)
    lambda1 = float(check_scalar(lambda1, "lambda1", ge=0))
    lambda2 = float(check_scalar(lambda2, "lambda2", ge=0))
    lambda_unlabelled = float(check_scalar(lambda_unlabelled, "lambda_unlabelled", ge=0))
    tau = float(check_scalar(tau, "tau", gt=0))
    if reduction not in ("mean", "sum"):
        raise InputError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    qs = _check_queues(queues, len(out.aux))
    lab_idx = torch.nonzero(mask, as_tuple=False).flatten()
    unl_idx = torch.nonzero(~mask, as_tuple=False).flatten()
    y = labels[lab_idx]
    y2 = torch.cat([y, y])

    terms: dict[str, Tensor] = {"ce": _ce(out, n, labels, lab_idx)}
    total = terms["ce"]
    sums = {"class": _zero(out.logits), "source": _zero(out.logits)}
    sums["source_unlabelled"] = _zero(out.logits)
    for s, o, qu in zip(out.stage_indices, out.aux, qs, strict=True):
        if lab_idx.numel() > 0:
            qf, ql = qu.get() if qu is not None else (None, None)
            l_class = class_loss(
                _views(o.q, n, lab_idx),
                y2,
                tau,
                queue_feats=qf,
                queue_labels=ql,
                reduction=reduction,
            )
            l_src = source_loss(_views(o.h, n, lab_idx), _views(o.g, n, lab_idx), reduction)
        else:
            l_class = _zero(o.q)
            l_src = _zero(o.h)
        if unl_idx.numel() > 0:
            l_unl = source_loss(_views(o.h, n, unl_idx), _views(o.g, n, unl_idx), reduction)
        else:
            l_unl = _zero(o.h)
        terms[f"class/stage{s}"] = l_class
        terms[f"source/stage{s}"] = l_src
        terms[f"source_unlabelled/stage{s}"] = l_unl
        sums["class"] = sums["class"] + l_class
        sums["source"] = sums["source"] + l_src
        sums["source_unlabelled"] = sums["source_unlabelled"] + l_unl
        total = total + lambda1 * l_class + lambda2 * l_src + lambda_unlabelled * l_unl
    terms.update(sums)
    terms["loss"] = total
    return terms


def cds_loss(
    out: NCDSOutput,
    labels: Tensor,
    *,
    lambda1: float = DEFAULT_LAMBDA1,
    tau: float = DEFAULT_TAU,
    labelled_mask: Tensor | None = None,
    lambda_unlabelled: float = 1.0,
) -> dict[str, Tensor]:
    """The CDS baseline (Zhang et al. 2022): ``CE + sum_k lambda1 L_SupCon(q_k)`` (eq. 2).

    SupCon on the ``2N`` views of the labelled images (same-source views are positives).
    Unlabelled images get SimCLR's loss (:func:`simclr_loss`), as the paper's semi-supervised
    CDS comparison does, weighted by ``lambda_unlabelled``. Only ``q`` of each
    :class:`ContrastiveOutput` is used (``g``, ``h`` are ignored), so an :class:`NCDSNet`
    serves both methods. CE is as in :func:`ncds_loss`; SupCon and SimCLR are means over
    anchors.

    Args:
        out: :class:`NCDSOutput` of the ``2N`` views.
        labels: ``(N,)`` or ``(2N,)`` labels, ``-1`` for unlabelled (see :func:`ncds_loss`).
        lambda1: weight of SupCon per stage (not stated; our default).
        tau: temperature (not stated; our default).
        labelled_mask: optional ``(N,)`` bool mask of labelled images.
        lambda_unlabelled: weight of SimCLR on unlabelled images.

    Returns:
        A dict of scalars: ``"loss"``, ``"ce"``, ``"supcon"``, ``"simclr_unlabelled"`` and per
        stage ``"supcon/stage{s}"``, ``"simclr_unlabelled/stage{s}"``.

    Raises:
        InputError: as :func:`ncds_loss`.
    """
    n, labels, mask = _split_labelled(out, labels, labelled_mask)
    lambda1 = float(check_scalar(lambda1, "lambda1", ge=0))
    lambda_unlabelled = float(check_scalar(lambda_unlabelled, "lambda_unlabelled", ge=0))
    tau = float(check_scalar(tau, "tau", gt=0))
    lab_idx = torch.nonzero(mask, as_tuple=False).flatten()
    unl_idx = torch.nonzero(~mask, as_tuple=False).flatten()
    y = labels[lab_idx]
    y2 = torch.cat([y, y])
    terms: dict[str, Tensor] = {"ce": _ce(out, n, labels, lab_idx)}
    total = terms["ce"]
    sup_sum = _zero(out.logits)
    unl_sum = _zero(out.logits)
    for s, o in zip(out.stage_indices, out.aux, strict=True):
        sup = supcon_loss(_views(o.q, n, lab_idx), y2, tau) if lab_idx.numel() else _zero(o.q)
        unl = simclr_loss(_views(o.q, n, unl_idx), tau) if unl_idx.numel() else _zero(o.q)
        terms[f"supcon/stage{s}"] = sup
        terms[f"simclr_unlabelled/stage{s}"] = unl
        sup_sum = sup_sum + sup
        unl_sum = unl_sum + unl
        total = total + lambda1 * sup + lambda_unlabelled * unl
    terms["supcon"] = sup_sum
    terms["simclr_unlabelled"] = unl_sum
    terms["loss"] = total
    return terms


@torch.no_grad()
def update_queues(
    queues: Iterable[FeatureQueue | None],
    out: NCDSOutput,
    labels: Tensor,
    *,
    labelled_mask: Tensor | None = None,
    gather: Callable[[Tensor], Tensor] | None = None,
) -> None:
    """Enqueue the current labelled ``q_k`` (both views, detached) into each stage's queue.

    Call it after computing the loss, so a batch never meets its own entries in the queue.
    For distributed training pass ``gather`` (e.g. ``accelerator.gather``): it is applied to
    all ``2N`` rows of ``q_k`` and to the per-view labels (``-1`` for unlabelled images), so
    every process sends tensors of the same shape; unlabelled rows are dropped after the
    gather, and every process then holds the same queues.

    Args:
        queues: one :class:`FeatureQueue` (or None to skip) per entry of ``out.aux``.
        out: the :class:`NCDSOutput` the loss was computed on.
        labels: ``(N,)`` or ``(2N,)`` labels, ``-1`` for unlabelled.
        labelled_mask: optional ``(N,)`` bool mask of labelled images.
        gather: optional ``Tensor -> Tensor`` collective that concatenates over processes.

    Raises:
        InputError: as :func:`ncds_loss`.
    """
    _, labels, mask = _split_labelled(out, labels, labelled_mask)
    qs = _check_queues(queues, len(out.aux))
    y = torch.where(mask, labels, torch.full_like(labels, -1))
    y2 = torch.cat([y, y])
    if gather is not None:
        y2 = gather(y2)
    keep = y2 >= 0
    for o, qu in zip(out.aux, qs, strict=True):
        if qu is None:
            continue
        feats = o.q.detach()
        if gather is not None:
            feats = gather(feats)
        if feats.shape[0] != keep.shape[0]:
            raise InputError(
                f"gather returned {feats.shape[0]} feature rows but {keep.shape[0]} labels"
            )
        qu.enqueue(feats[keep], y2[keep])


# ---------------------------------------------------------------------------------------
# baselines of Table 2 (DSN) and the auxiliary losses of Table 4
# ---------------------------------------------------------------------------------------


class DSNNet(nn.Module):
    """Deeply-supervised nets (DSN, Lee et al. 2015), a baseline of the paper's Tables 1-2.

    A companion classifier on every intermediate stage, trained with cross-entropy beside the
    final classifier (:func:`dsn_loss`) and dropped at inference (:meth:`deploy`), like the
    contrastive modules. The companions are :class:`~patrec.core.nn.ClassifierHead` (global
    average pooling + linear): the paper does not describe its DSN set-up; DSN's own
    companions were squared-hinge SVMs on the hidden layers, we use softmax + CE.

    Args:
        backbone: the classifier to train.
        stages: 0-based stages with a companion; default every stage but the last (whose
            classifier is the backbone's own head).
    """

    def __init__(self, backbone: StagedBackbone, stages: Sequence[int] | None = None) -> None:
        super().__init__()
        k = len(backbone.stage_channels)
        chosen = tuple(range(k - 1)) if stages is None else tuple(sorted(stages))
        if len(set(chosen)) != len(chosen) or any(not 0 <= s < k for s in chosen):
            raise ConfigError(f"stages must be distinct indices in 0..{k - 1}, got {stages!r}")
        self.backbone = backbone
        self.stage_indices = chosen
        self.companions = nn.ModuleList(
            ClassifierHead(backbone.stage_channels[s], backbone.num_classes) for s in chosen
        )

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Images ``(B, C, H, W)`` -> final logits ``(B, K)`` and one ``(B, K)`` per companion."""
        feats = self.backbone.forward_features(x)
        aux = [h(feats[s]) for s, h in zip(self.stage_indices, self.companions, strict=True)]
        return self.backbone.head(feats[-1]), aux

    def deploy(self) -> StagedBackbone:
        """The bare backbone for inference (same object)."""
        return self.backbone


def dsn_loss(
    logits: Tensor, aux_logits: Sequence[Tensor], labels: Tensor, *, weight: float = 1.0
) -> dict[str, Tensor]:
    """DSN's objective: ``CE(final) + weight * sum_k CE(companion_k)`` on the labelled rows.

    Args:
        logits: ``(B, K)`` final logits; aux_logits: one ``(B, K)`` per companion.
        labels: ``(B,)`` integer labels, ``-1`` for an unlabelled row (left out).
        weight: the companion weight (not stated in the paper; 1).

    Returns:
        ``{"loss", "ce", "companions"}`` (``companions``: the unweighted sum over stages).
    """
    dims: dict[str, int] = {}
    check_tensor(logits, "B K", name="logits", dims=dims, dtype="float")
    check_tensor(labels, "B", name="labels", dims=dims, dtype="int")
    for j, a in enumerate(aux_logits):
        check_tensor(a, "B K", name=f"aux_logits[{j}]", dims=dims, dtype="float")
    weight = float(check_scalar(weight, "weight", ge=0))
    keep = labels >= 0
    if not bool(keep.any()):
        zero = _zero(logits) + sum((_zero(a) for a in aux_logits), _zero(logits))
        return {"loss": zero, "ce": zero.detach(), "companions": zero.detach()}
    y = labels[keep]
    ce = F.cross_entropy(_upcast(logits[keep]), y)
    comp = sum((F.cross_entropy(_upcast(a[keep]), y) for a in aux_logits), _zero(logits))
    return {"loss": ce + weight * comp, "ce": ce, "companions": comp}


# Table 4's auxiliary losses: variant -> the terms summed at every stage
ABLATION_PARTS: dict[str, tuple[str, ...]] = {
    "simclr": ("simclr",),
    "source": ("source",),
    "simclr_class": ("simclr", "class"),
}


def ablation_loss(
    out: NCDSOutput,
    labels: Tensor,
    parts: Sequence[str],
    *,
    lambda1: float = DEFAULT_LAMBDA1,
    lambda2: float = DEFAULT_LAMBDA2,
    tau: float = DEFAULT_TAU,
    queues: Iterable[FeatureQueue | None] | None = None,
) -> dict[str, Tensor]:
    """The auxiliary losses of the paper's Table 4: ``CE + sum_k`` of the chosen ``parts``.

    - ``"simclr"``: ``lambda2 * L_SimCLR(q_k)`` (:func:`simclr_loss`) on every image, the
      self-supervised loss whose other-image same-class views are negatives;
    - ``"source"``: ``lambda2 * L_source(h_k, g_k)`` (eq. 10) on every image;
    - ``"class"``: ``lambda1 * L_class(q_k)`` (eq. 9, with the stage's queue) on the
      labelled images.

    Table 4's ``L_SupCon`` is :func:`cds_loss` and ``L_source + L_class`` is
    :func:`ncds_loss`; the weight of a self-supervised term is ``lambda2`` (eq. 11's weight
    of ``L_source``), the paper not stating the ablation's weights. CE is as in
    :func:`ncds_loss`.

    Returns:
        ``{"loss", "ce"}`` and one unweighted sum over stages per part.
    """
    bad = [p for p in parts if p not in ("simclr", "source", "class")]
    if bad or not parts:
        raise InputError(f"parts must be some of simclr, source, class, got {tuple(parts)}")
    n, labels, mask = _split_labelled(out, labels, None)
    lambda1 = float(check_scalar(lambda1, "lambda1", ge=0))
    lambda2 = float(check_scalar(lambda2, "lambda2", ge=0))
    tau = float(check_scalar(tau, "tau", gt=0))
    qs = _check_queues(queues, len(out.aux))
    lab_idx = torch.nonzero(mask, as_tuple=False).flatten()
    y = labels[lab_idx]
    terms: dict[str, Tensor] = {"ce": _ce(out, n, labels, lab_idx)}
    sums = {p: _zero(out.logits) for p in parts}
    total = terms["ce"]
    for o, qu in zip(out.aux, qs, strict=True):
        if "simclr" in parts:
            l_sim = simclr_loss(o.q, tau)
            sums["simclr"] = sums["simclr"] + l_sim
            total = total + lambda2 * l_sim
        if "source" in parts:
            l_src = source_loss(o.h, o.g)
            sums["source"] = sums["source"] + l_src
            total = total + lambda2 * l_src
        if "class" in parts and lab_idx.numel() > 0:
            qf, ql = qu.get() if qu is not None else (None, None)
            l_cls = class_loss(
                _views(o.q, n, lab_idx), torch.cat([y, y]), tau, queue_feats=qf, queue_labels=ql
            )
            sums["class"] = sums["class"] + l_cls
            total = total + lambda1 * l_cls
    terms.update(sums)
    terms["loss"] = total
    return terms


# --- recipe (config, training, registration) below ---

# The recipe trains, with the same seeds, data, augmentations and budget, variants of one
# backbone and compares their deployed (plain backbone) test accuracy (Table 2's baselines
# that are feasible here, and Table 4's auxiliary losses):
#   "ce":   cross-entropy only (Table 2's "Base"),
#   "dsn":  CE + sum_k CE of a companion classifier per intermediate stage (DSN),
#   "cds":  CE + sum_k lambda1 * SupCon(q_k)              (CDS baseline, eq. 2),
#   "ncds": CE + sum_k lambda1 L_class + lambda2 L_source (eq. 11; eq. 12 with unlabelled),
#   "simclr", "source", "simclr_class": Table 4's other auxiliary losses (ablation_loss).
# Table 2's DKS and DHM are not here: their branch designs and losses come from their own
# papers, which this one does not describe. All variants see the same two augmented views
# of every image (CE on both), so they differ only in the auxiliary losses.

VARIANTS = ("ce", "dsn", "cds", "ncds", *ABLATION_PARTS)
TABLE4_VARIANTS = ("simclr", "source", "cds", "simclr_class", "ncds")


@dataclass
class NCDSDataConfig:
    """Which images, and how many of them carry labels."""

    name: str = param(
        "digits",
        "digits (embedded), cifar10, cifar100 or imagefolder",
        choices=("digits", "cifar10", "cifar100", "imagefolder"),
    )
    root: str | None = param(None, "local dataset folder (--data) for non-embedded datasets")
    image_size: int = param(16, "images are resized to image_size x image_size", ge=4, le=1024)
    test_fraction: float = param(
        0.3, "held-out share for datasets without a test split", gt=0, lt=1
    )
    labelled_fraction: float = param(
        1.0,
        "share of training images with labels; < 1 runs the semi-supervised eq. 12",
        source="Fig. 2: 10%, 20%, 30%, 40% labels",
        gt=0,
        le=1,
    )


@dataclass
class NCDSModelConfig:
    """The backbone and its contrastive modules."""

    backbone: str = param(
        "small_cnn",
        "small_cnn, resnet18, resnet34 or resnet50",
        choices=("small_cnn", "resnet18", "resnet34", "resnet50"),
    )
    widths: tuple[int, ...] = param(
        (16, 32, 64), "small_cnn stage widths (K = len)", ge=1, le=4096, min_len=1
    )
    proj_dim: int = param(
        128, "dimension of q, g, h", source="Sec. 3.3: 128-d representations", ge=1, le=65536
    )
    hidden_dim: int = param(
        512, "hidden width of G_k (H_k: a quarter)", source="not stated", ge=1, le=65536
    )


@dataclass
class NCDSLossConfig:
    """Weights of eq. 11, temperature and queues."""

    tau: float = param(
        DEFAULT_TAU, "temperature of eqs. 2 and 9", source="not stated in text", gt=0
    )
    lambda1: float = param(DEFAULT_LAMBDA1, "weight of L_class (eq. 11)", source="not stated", ge=0)
    lambda2: float = param(
        DEFAULT_LAMBDA2, "weight of L_source (eq. 11)", source="not stated", ge=0
    )
    lambda_unlabelled: float = param(
        1.0, "weight of L_source(U) (eq. 12)", source="eq. 12: 1", ge=0
    )
    lambda_dsn: float = param(
        1.0, "weight of the DSN companion losses", source="not stated; our choice", ge=0
    )
    queue_size: int = param(
        DEFAULT_QUEUE_SIZE,
        "per-stage FIFO queue length, 0 = no queue",
        source="not stated (Fig. 3: longer is better, above the class count)",
        ge=0,
        le=10**7,
    )


@dataclass
class NCDSOptimConfig:
    """SGD with cosine decay."""

    lr: float = param(0.1, "initial learning rate", source="not stated; CIFAR SGD default", gt=0)
    momentum: float = param(0.9, "SGD momentum", source="not stated", ge=0, le=1)
    weight_decay: float = param(5e-4, "weight decay", source="not stated", ge=0)
    augment: str = param(
        "small",
        "small (affine jitter, no flip) or simclr (crop/flip/colour)",
        choices=("small", "simclr"),
    )


@dataclass
class NCDSConfig:
    """Config of the NCDS recipe (:func:`recipe`)."""

    data: NCDSDataConfig = field(default_factory=NCDSDataConfig)
    model: NCDSModelConfig = field(default_factory=NCDSModelConfig)
    loss: NCDSLossConfig = field(default_factory=NCDSLossConfig)
    optim: NCDSOptimConfig = field(default_factory=NCDSOptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = param(
        ("ce", "dsn", "cds", "ncds"),
        f"what to train: {', '.join(VARIANTS)}",
        choices=VARIANTS,
        min_len=1,
    )
    seeds: tuple[int, ...] = param((0, 1, 2), "one run of every variant per seed", min_len=1)

    def validate(self) -> None:
        """Rules between fields (core checks each field's own bounds first)."""
        m = self.model
        if "dsn" in self.variants and m.backbone == "small_cnn" and len(m.widths) < 2:
            raise ConfigError(
                "model.widths: DSN needs at least two stages (a companion classifier on "
                f"an intermediate one), got {m.widths}"
            )


def paper_config() -> NCDSConfig:
    """The paper's setting as far as its text states it (CIFAR-100, ResNet-18, 300 epochs).

    Stated: ResNet backbones on CIFAR-100/10 (Tables 1-2; ``--set data.name=cifar10`` for
    Table 2, the one whose numbers the text gives), 128-d projections (Sec. 3.3), 300
    training epochs (Fig. 4 caption), contrastive modules after every stage (eq. 11).
    Not stated in the text (supplementary): tau, lambda1, lambda2, queue length, batch size,
    optimiser; we use SupCon/CDS-style CIFAR values and say so in each field's source.
    """
    return NCDSConfig(
        data=NCDSDataConfig(name="cifar100", image_size=32),
        model=NCDSModelConfig(backbone="resnet18", hidden_dim=512),
        loss=NCDSLossConfig(queue_size=DEFAULT_QUEUE_SIZE),
        optim=NCDSOptimConfig(lr=0.1, momentum=0.9, weight_decay=5e-4, augment="simclr"),
        train=TrainConfig(epochs=300, batch_size=128, checkpoint_every=500),
        seeds=(0,),
    )


def ablation_config() -> NCDSConfig:
    """Table 4: the auxiliary losses L_SimCLR, L_source, L_SupCon (CDS), L_SimCLR + L_class
    and L_source + L_class (NCDS) at every stage, CIFAR-100, ResNet-18 (as :func:`paper_config`)."""
    cfg = paper_config()
    cfg.variants = TABLE4_VARIANTS
    return cfg


def smoke_config() -> NCDSConfig:
    """CPU scale: scikit-learn digits at their native 8x8, a 3-stage CNN, 5 epochs, 3 seeds."""
    return NCDSConfig(
        data=NCDSDataConfig(name="digits", image_size=8),
        model=NCDSModelConfig(backbone="small_cnn", widths=(16, 32, 64), hidden_dim=128),
        loss=NCDSLossConfig(queue_size=512),
        optim=NCDSOptimConfig(lr=0.05, augment="small"),
        train=TrainConfig(epochs=5, batch_size=64, cpu=True),
        seeds=(0, 1, 2),
    )


def make_augment(policy: str, image_size: int) -> nn.Module:
    """The stochastic view generator (kornia, per-sample random parameters).

    ``small``: affine jitter (rotation 12 deg, translation 10%, scale 0.85-1.15) and weak
    Gaussian noise, no flip (digits are not mirror-symmetric). ``simclr``: random resized
    crop (0.2-1), horizontal flip, colour jitter (p 0.8) and grayscale (p 0.2), as SupCon/CDS.
    """
    import kornia.augmentation as K

    if policy == "small":
        return nn.Sequential(
            K.RandomAffine(degrees=12.0, translate=(0.1, 0.1), scale=(0.85, 1.15), p=1.0),
            K.RandomGaussianNoise(mean=0.0, std=0.05, p=0.5),
        )
    if policy == "simclr":
        return nn.Sequential(
            K.RandomResizedCrop((image_size, image_size), scale=(0.2, 1.0)),
            K.RandomHorizontalFlip(),
            K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
            K.RandomGrayscale(p=0.2),
        )
    raise ConfigError(f"optim.augment: expected small or simclr, got {policy!r}")


def make_backbone(cfg: NCDSModelConfig, in_channels: int, num_classes: int) -> StagedBackbone:
    """The backbone named by ``cfg.backbone``."""
    from patrec.core.nn import SmallCNN, cifar_resnet

    if cfg.backbone == "small_cnn":
        return SmallCNN(in_channels, num_classes, cfg.widths)
    if cfg.backbone.startswith("resnet") and cfg.backbone[6:].isdigit():
        return cifar_resnet(int(cfg.backbone[6:]), num_classes, in_channels)
    raise ConfigError(
        f"model.backbone: expected small_cnn, resnet18, resnet34 or resnet50, got {cfg.backbone!r}"
    )


def load_data(cfg: NCDSConfig, seed: int = 0) -> ImageClassificationData:
    """The configured dataset; with ``labelled_fraction < 1`` the unlabelled train labels are -1.

    The labelled subset is stratified and drawn with ``seed``.
    """
    return _labelled_subset(_load_full(cfg), cfg.data.labelled_fraction, seed)


def _load_full(cfg: NCDSConfig) -> ImageClassificationData:
    from patrec.core.data import load_image_classification

    return load_image_classification(
        cfg.data.name,
        cfg.data.root,
        image_size=cfg.data.image_size,
        test_fraction=cfg.data.test_fraction,
        seed=0,
    )


def _labelled_subset(
    data: ImageClassificationData, fraction: float, seed: int
) -> ImageClassificationData:
    """A copy of ``data`` whose train labels outside a stratified ``fraction`` are -1."""
    from patrec.core.data import stratified_split

    if fraction >= 1.0:
        return data
    y = data.y_train.clone()
    _, unl = stratified_split(y.numpy(), 1.0 - fraction, seed)
    y[torch.from_numpy(unl)] = -1
    return dataclasses.replace(data, y_train=y)


@dataclass
class TrainedVariant:
    """A trained variant: the deployed backbone, its history and test metrics."""

    variant: str
    seed: int
    model: StagedBackbone
    history: list[dict[str, float]]
    metrics: dict[str, float]
    queues: QueueBank | None = None


def train_variant(
    cfg: NCDSConfig,
    variant: str,
    seed: int,
    data: ImageClassificationData,
    out_dir: str | Path | None = None,
) -> TrainedVariant:
    """Train one variant with one seed through :class:`~patrec.core.train.Trainer`.

    Checkpoints go to ``out_dir`` (resumed if present). Works unchanged under
    ``torchrun`` / ``accelerate launch``: the model is DDP-wrapped and the per-stage queues
    are filled with features gathered from every process, so all ranks hold the same queues.
    """
    from patrec.core.metrics import accuracy, macro_f1
    from patrec.core.train import Trainer, seed_everything

    if variant not in VARIANTS:
        raise ConfigError(f"variant: expected one of {', '.join(VARIANTS)}, got {variant!r}")
    tcfg = dataclasses.replace(cfg.train, seed=seed)
    seed_everything(seed, tcfg.deterministic)
    backbone = make_backbone(cfg.model, data.in_channels, data.num_classes)
    model: nn.Module
    if variant == "ce":
        model = backbone
    elif variant == "dsn":
        model = DSNNet(backbone)
    else:
        model = NCDSNet(backbone, cfg.model.proj_dim, hidden_dim=cfg.model.hidden_dim)
        if variant in ("cds", "simclr", "simclr_class"):
            # these use q only: freeze G_k, H_k so DDP sees no unused weights
            for cm in model.contrastive:
                cm.projector.requires_grad_(False)
                cm.predictor.requires_grad_(False)
    use_queue = variant in ("ncds", "simclr_class") and cfg.loss.queue_size > 0
    queues = (
        make_queues(backbone.num_stages, cfg.model.proj_dim, cfg.loss.queue_size)
        if use_queue
        else None
    )
    augment = make_augment(cfg.optim.augment, data.image_size)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=cfg.optim.lr,
        momentum=cfg.optim.momentum,
        weight_decay=cfg.optim.weight_decay,
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(tcfg.epochs, 1))
    lc = cfg.loss

    def step(tr: Trainer, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        x, y = batch
        views = augment(torch.cat([x, x]))  # rows i and N+i: two views of image i
        mask = y >= 0
        if variant == "ce":
            logits = tr.model(views)
            y2 = torch.cat([y, y])
            m2 = torch.cat([mask, mask])
            ce = F.cross_entropy(logits[m2], y2[m2]) if bool(m2.any()) else logits.sum() * 0
            return {"loss": ce, "ce": ce.detach()}
        if variant == "dsn":
            logits, aux = tr.model(views)
            terms = dsn_loss(logits, aux, torch.cat([y, y]), weight=lc.lambda_dsn)
            return {k: v if k == "loss" else v.detach() for k, v in terms.items()}
        out = tr.model(views)
        if variant in ABLATION_PARTS:
            terms = ablation_loss(
                out,
                y,
                ABLATION_PARTS[variant],
                lambda1=lc.lambda1,
                lambda2=lc.lambda2,
                tau=lc.tau,
                queues=queues,
            )
        elif variant == "cds":
            # semi-supervised CDS: SimCLR on unlabelled images, as the paper's Fig. 2 comparison
            terms = cds_loss(
                out, y, lambda1=lc.lambda1, tau=lc.tau, lambda_unlabelled=lc.lambda_unlabelled
            )
        else:  # ncds
            terms = ncds_loss(
                out,
                y,
                lambda1=lc.lambda1,
                lambda2=lc.lambda2,
                tau=lc.tau,
                queues=queues,
                lambda_unlabelled=lc.lambda_unlabelled,
            )
        if queues is not None:
            gather = tr.accelerator.gather if tr.world_size > 1 else None
            update_queues(queues, out, y, gather=gather)
        keep = ("loss", "ce", "class", "source", "supcon", "simclr", "source_unlabelled",
                "simclr_unlabelled")  # fmt: skip
        return {k: v if k == "loss" else v.detach() for k, v in terms.items() if k in keep}

    def evaluate(tr: Trainer) -> dict[str, float]:
        net = tr.unwrapped_model
        deployed = net.deploy() if isinstance(net, (NCDSNet, DSNNet)) else net
        logits = predict(deployed.eval(), data.x_test, device=tr.device)
        return {
            "test_accuracy": accuracy(logits, data.y_test),
            "test_macro_f1": macro_f1(logits, data.y_test),
        }

    from torch.utils.data import TensorDataset

    trainer = Trainer(
        model,
        opt,
        TensorDataset(data.x_train, data.y_train),
        step,
        tcfg,
        out_dir=out_dir,
        scheduler=sched,
        eval_fn=evaluate,
        extra_state={"queues": queues} if queues is not None else None,
        desc=f"{variant} seed {seed}",
    )
    history = trainer.fit()
    net = trainer.unwrapped_model
    deployed = net.deploy() if isinstance(net, (NCDSNet, DSNNet)) else backbone
    last = history[-1] if history else {}
    metrics = {
        "accuracy": float(last.get("test_accuracy", float("nan"))),
        "macro_f1": float(last.get("test_macro_f1", float("nan"))),
        "params_deployed": float(sum(p.numel() for p in deployed.parameters())),
        "params_training": float(sum(p.numel() for p in net.parameters() if p.requires_grad)),
    }
    return TrainedVariant(variant, seed, deployed, history, metrics, queues)


def recipe(cfg: NCDSConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """Train every variant with every seed, compare, and write metrics and plots.

    A (variant, seed) run that finished earlier in ``out_dir`` is read back, not retrained;
    one interrupted mid-way resumes from its last checkpoint.

    Writes ``metrics.json`` (accuracy and macro-F1 as mean ± std over seeds, parameter
    counts, NCDS minus each baseline), ``accuracy.png`` (final test accuracy per variant),
    ``test_accuracy_curves.png`` and ``train_loss_curves.png`` (per epoch, mean ± std),
    ``model/`` (the deployed NCDS backbone of the first seed, when it is a
    :class:`~patrec.core.nn.SmallCNN`) and ``runs/<variant>/seed<k>/`` with checkpoints,
    ``result.json`` and the deployed backbone as ``backbone.safetensors``.
    """
    from safetensors.torch import save as save_bytes

    from patrec.core.experiment import run_experiment
    from patrec.core.hub import PretrainedModel
    from patrec.core.report import atomic_write_bytes
    from patrec.core.train import get_accelerator

    # under torchrun / accelerate launch every process trains; only the main one writes
    acc = get_accelerator(cfg.train.cpu, cfg.train.mixed_precision)
    full = _load_full(cfg)  # once; only the labelled subset depends on the seed
    subsets: dict[int, ImageClassificationData] = {}

    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        if seed not in subsets:
            subsets[seed] = _labelled_subset(full, cfg.data.labelled_fraction, seed)
        tv = train_variant(cfg, variant, seed, subsets[seed], run_dir)
        if acc.is_main_process:  # the deployed backbone, beside result.json
            state = {k: v.detach().cpu().contiguous() for k, v in tv.model.state_dict().items()}
            atomic_write_bytes(run_dir / "backbone.safetensors", save_bytes(state))
        res: dict[str, Any] = {"seed": seed, "metrics": tv.metrics, "history": tv.history}
        if isinstance(tv.model, PretrainedModel):  # the ResNets have no JSON-able config
            res["model"] = tv.model
            res["example"] = full.x_test[:4]
        return res

    ours = "ncds" if "ncds" in cfg.variants else cfg.variants[-1]
    return run_experiment(
        out_dir,
        method="core/ncds",
        variants=cfg.variants,
        seeds=cfg.seeds,
        run_one=run_one,
        primary="accuracy",
        ours=ours,
        fixed=["params_deployed", "params_training"],
        curves={
            "test_accuracy": "test accuracy per epoch (mean ± std)",
            "train/loss": "training loss per epoch (each variant's own)",
        },
        extra={"dataset": cfg.data.name, "epochs": cfg.train.epochs},
        accelerator=acc,
    ).metrics


METHOD = Method(
    name="core/ncds",
    title="A Novel Loss for Contrastive Deep Supervision",
    paper="000/01",
    citation=(
        "Z. Ye, Y. Hua, W. Zhang, X. Song, Z. Feng, X.-J. Wu. A Novel Loss for Contrastive "
        "Deep Supervision. ICPR 2024, LNCS 15325, pp. 1-16. doi:10.1007/978-3-031-78389-0_1"
    ),
    task="image classification (supervised or semi-supervised): image -> class label",
    config=NCDSConfig,
    presets={"paper": paper_config, "ablation": ablation_config, "smoke": smoke_config},
    recipe=recipe,
    model="patrec.core.nn:SmallCNN",
    baselines=(
        "ce: cross-entropy only (Table 2's Base)",
        "dsn: deeply-supervised nets, a CE companion classifier per intermediate stage",
        "cds: CDS with SupCon (eq. 2)",
        "simclr / source / simclr_class: Table 4's other auxiliary losses (preset 'ablation')",
    ),
    status="done",
    summary=(
        "Contrastive deep supervision that separates same-class (L_class, eq. 9, with FIFO "
        "queues) from same-source (L_source, eq. 10, stop-gradient) learning at every stage; "
        "the auxiliary modules are dropped at inference."
    ),
    paper_numbers={
        "CIFAR-10 top-1, ResNet-18 (Table 2)": (
            "NCDS 97.01 vs CDS 96.49, DHM 95.61, DKS 95.72, DSN 95.31, base 94.96"
        ),
        "CIFAR-100": "+2.3 points over CDS on average (Table 1 body not in the text)",
        "Table 4 (CIFAR-100, ResNet-18)": (
            "L_source + L_class best; L_SimCLR or L_source alone not enough; "
            "L_SimCLR + L_class below L_SupCon (values not in the text)"
        ),
    },
    measured={
        "smoke (digits 8x8, 3-stage CNN, 5 epochs, 3 seeds), test accuracy %": (
            "NCDS 98.02 ± 1.07 vs CDS 98.64 ± 0.39 vs DSN 96.48 ± 0.37 vs CE 97.22 ± 0.85 "
            "(NCDS > CE and DSN as in Table 2; NCDS < CDS: the gain over CDS does not show "
            "at this scale)"
        ),
        "same, Table 4's auxiliary losses (--set variants=simclr,source,cds,simclr_class,"
        "ncds), test accuracy %": (
            "L_SimCLR 92.47 ± 0.77, L_source 96.60 ± 1.09, L_SupCon (CDS) 98.64 ± 0.39, "
            "L_SimCLR + L_class 96.54 ± 1.23, L_source + L_class (NCDS) 98.02 ± 1.07: as in "
            "the paper the self-supervised losses alone are weakest and L_SimCLR + L_class "
            "is below L_SupCon, but L_source + L_class is not the best (L_SupCon is)"
        ),
        "not run here": (
            "CIFAR-10/100 and ImageNet (not embedded; --data with the paper preset), Table "
            "2's DKS and DHM (not described in the paper), the t-SNE / WCSS study (Fig. 4); "
            "<out>/model is left for the small CNN only (core's CIFAR ResNets are not "
            "PretrainedModels)"
        ),
    },
    test_overrides=(
        "seeds=0",
        "train.epochs=1",
        "data.test_fraction=0.9",
        "model.widths=8,16",
        "model.proj_dim=16",
        "model.hidden_dim=16",
        "loss.queue_size=64",
    ),
)
