"""LEARN: "Enhanced Network Embedding via Similarity Learning" (Fathy & Li, ICONIP 2019).

Unsupervised network embedding ``Phi: V -> R^d`` learned by a Siamese network that predicts
how related two vertices are:

- **Sampling by vertex domination** (Sec. 3.2, 4.2, Alg. 1): for every vertex ``v``, ``r``
  random walks of length ``l``. A vertex ``u`` the walk passes through is sampled with its
  exact hop count ``k`` = BFS distance from ``v``; "whenever the random walk passes through
  a vertex at k-hop, all vertices at (k-1)-hop are dominated and removed from sampling", so
  a walk samples only vertices on its current frontier (``k`` = the largest hop it has
  reached); each ``u`` is sampled at most once per ``v`` (without replacement). Negatives
  are drawn from ``V - RW_v`` (vertices no walk of ``v`` visited).
- **Target relation** (eqs. 1-2): ``R(v, u) = alpha^(k-1) * prod_{edges of the walk path
  v -> u} w`` on weighted graphs, ``R(v, u) = alpha^(k-1)`` on unweighted ones, ``0`` for
  negatives.
- **Siamese network** (eq. 3, Fig. 1, Sec. 5.3): one tower ``[1000-512-128]`` with leaky
  ReLU embeds both vertices; the component-wise L1 distance ``|x_v - x_u|`` goes through a
  linear output unit with a sigmoid: ``R_hat(v, u) = sigmoid(w^T |x_v - x_u| + b)``.
- **Loss** (eqs. 4-5): cross-entropy between ``R`` and ``R_hat`` plus
  ``lambda * sum_l ||W^(l)||^2``, minimised with mini-batch Adam, 90/10 train/validation
  split of the pairs, early stopping, at most 200 epochs.

Choices where the paper is silent (each also beside its code and in the config sources):

- vertex input: the row of ``A + I`` (weights scaled as below) of the training graph,
  SDNE-style, since the paper's baselines SDNE/DANMF "use the same number of neurons";
  ``"onehot"`` (an embedding table) is the alternative.
- eq. 4 as printed has only the positive term ``-R log R_hat``, under which negatives
  (``R = 0``) contribute nothing; we use the binary cross-entropy the text names
  (``-R log R_hat - (1 - R) log(1 - R_hat)``); ``negative_term=False`` gives eq. 4 as printed.
- weights: scaled by the largest weight (``w / max w``) so ``R`` stays in ``(0, 1]``.
- "the walk path between v and u" of eq. 1: the walk's route from ``v`` to ``u`` with its
  loops erased (a simple path); when the walk steps to ``u`` at once, ``R = w_vu``, as the
  paper's ``k = 1`` remark says.
- walks move to a neighbour with probability proportional to the edge weight (uniform on
  unweighted graphs); negatives: as many as positives per source (fewer if ``V - RW_v`` is
  smaller); layers: leaky ReLU (slope 0.01) on all three tower layers, the 128-d output of
  the last one is the embedding.
- link-prediction score: LEARN's own ``R_hat(v, u)``; the baselines' embeddings are
  scored by cosine similarity.

Baselines in the same recipe: DeepWalk (uniform walks, skip-gram with hierarchical softmax),
node2vec (``p, q`` biased walks, skip-gram with negative sampling), both via gensim's
``Word2Vec`` on walks generated here, and a spectral embedding (Laplacian eigenmaps,
scikit-learn).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patrec.core.checks import check_int, check_scalar, check_tensor
from patrec.core.config import param
from patrec.core.errors import ConfigError, InputError
from patrec.core.hub import PretrainedModel
from patrec.core.registry import Method
from patrec.core.train import TrainConfig
from patrec.graph_learning.graphs import (
    CSRGraph,
    GraphData,
    check_graph,
    check_pairs,
    clustering_scores,
    edge_split,
    hop_distances,
    link_prediction_scores,
    load_graph,
    random_walks,
)

__all__ = [
    "METHOD",
    "VARIANTS",
    "LEARNConfig",
    "LEARNNet",
    "PairSample",
    "SiameseNet",
    "TrainedLEARN",
    "cosine_scores",
    "deepwalk_embedding",
    "domination_samples",
    "fit_learn",
    "learn_loss",
    "node2vec_embedding",
    "normalize_weights",
    "paper_config",
    "recipe",
    "relation_target",
    "sample_pairs",
    "smoke_config",
    "spectral_embedding",
    "vertex_features",
]

VARIANTS = ("learn", "deepwalk", "node2vec", "spectral")


# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------


def _as_graph(graph: GraphData | nx.Graph) -> nx.Graph:
    """The networkx graph of ``graph``, validated, on vertices ``0..n-1``."""
    g = graph.graph if isinstance(graph, GraphData) else graph
    check_graph(g)
    n = g.number_of_nodes()
    if set(g) != set(range(n)):
        raise InputError(
            "graph vertices must be 0..n-1; convert the graph with "
            "patrec.graph_learning.graphs.to_indexed()"
        )
    return g


def _check_alpha(alpha: float) -> float:
    """``alpha`` of eq. 1, in the open interval ``(0, 1)``."""
    a = float(check_scalar(alpha, "alpha"))
    if not 0.0 < a < 1.0:
        raise InputError(f"alpha must lie in the open interval (0, 1) (eq. 1), got {alpha!r}")
    return a


# ---------------------------------------------------------------------------------------
# target relation (eqs. 1-2) and sampling by vertex domination (Alg. 1)
# ---------------------------------------------------------------------------------------


def normalize_weights(graph: GraphData | nx.Graph, mode: str = "max") -> nx.Graph:
    """A copy of the graph with weights in ``(0, 1]`` for eq. 1.

    eq. 1 multiplies edge weights into ``R``, which must stay in ``[0, 1]`` for the
    cross-entropy of eq. 4; the paper does not say how. ``mode="max"`` (our choice) divides
    every weight by the largest one (relative strengths are kept, the strongest edge gets
    1); ``"none"`` keeps them and requires them to be ``<= 1`` already.

    Raises:
        InputError: invalid graph, unknown mode, or ``"none"`` with a weight above 1.
    """
    g = _as_graph(graph)
    ws = [float(w) for _, _, w in g.edges(data="weight", default=1.0)]
    if mode == "max":
        top = max(ws)
    elif mode == "none":
        if max(ws) > 1.0:
            raise InputError(
                f"weight_norm='none' needs weights <= 1, the largest is {max(ws)}; use 'max'"
            )
        top = 1.0
    else:
        raise InputError(f"weight_norm must be 'max' or 'none', got {mode!r}")
    h = nx.Graph()
    h.add_nodes_from(g)
    h.add_weighted_edges_from(
        (u, v, float(w) / top) for u, v, w in g.edges(data="weight", default=1.0)
    )
    return h


def relation_target(k: int, alpha: float, path_weights: Sequence[float] = ()) -> float:
    """``R(v, u) = alpha^(k-1) * prod(path_weights)`` (eq. 1; eq. 2 without weights).

    Args:
        k: hop count ``>= 1`` of ``u`` from ``v``.
        alpha: weight factor in ``(0, 1)``.
        path_weights: the (normalised) weights of the walk path ``v -> u``; empty on
            unweighted graphs (eq. 2).
    """
    check_int(k, "k", ge=1)
    a = _check_alpha(alpha)
    return float(a ** (k - 1) * math.prod(float(w) for w in path_weights))


def domination_samples(
    walk: Sequence[int],
    hops: np.ndarray | Sequence[float],
    alpha: float,
    step_weights: Sequence[float] | None = None,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> list[tuple[int, int, float]]:
    """The vertices one walk samples by vertex domination (Sec. 4.2, Alg. 1).

    The walk starts at ``walk[0] = v``. Let ``K`` be the largest hop the walk has reached so
    far: reaching hop ``K`` dominates every vertex at hop ``< K``, so a visited vertex ``u``
    is sampled iff ``hop(u) == K >= 1`` and ``u`` was not sampled before (``exclude`` or
    earlier in this walk). Its target is ``R = alpha^(k-1) * prod(w)`` over the
    loop-erased walk route ``v -> u`` (eq. 1); with ``step_weights=None``,
    ``R = alpha^(k-1)`` (eq. 2).

    Args:
        walk: ``(l + 1,)`` vertex ids, ``walk[0]`` the source.
        hops: ``(n,)`` BFS hop counts from the source (``inf`` where unreachable).
        alpha: weight factor in ``(0, 1)``.
        step_weights: ``(l,)`` weight of each step's edge (normalised to ``(0, 1]``).
        exclude: vertices already sampled for this source.

    Returns:
        ``[(u, k, R), ...]`` in the order the walk sampled them (``k`` non-decreasing).
    """
    a = _check_alpha(alpha)
    w = list(walk)
    if step_weights is not None and len(step_weights) != len(w) - 1:
        raise InputError(
            f"step_weights must have one weight per step ({len(w) - 1}), got {len(step_weights)}"
        )
    path = [w[0]]  # loop-erased route from the source
    prod = [1.0]  # product of weights along `path` up to each position
    where = {w[0]: 0}
    frontier = 0.0
    taken = set(exclude)
    out: list[tuple[int, int, float]] = []
    for t in range(1, len(w)):
        u = w[t]
        if u in where:  # a loop closed: erase it
            i = where[u]
            for x in path[i + 1 :]:
                del where[x]
            del path[i + 1 :]
            del prod[i + 1 :]
        else:
            step = 1.0 if step_weights is None else float(step_weights[t - 1])
            where[u] = len(path)
            path.append(u)
            prod.append(prod[-1] * step)
        k = float(hops[u])
        if k > frontier:
            frontier = k  # vertices at hop < k are now dominated
        if k == frontier and k >= 1 and u not in taken:
            taken.add(u)
            ki = int(k)
            out.append((u, ki, a ** (ki - 1) * prod[where[u]]))
    return out


@dataclass(frozen=True)
class PairSample:
    """Vertex pairs with their target relation.

    Attributes:
        src, dst: ``(m,)`` int64 vertex ids (``src`` is the walk source ``v``).
        hop: ``(m,)`` int64 exact hop count ``k`` of positives, ``-1`` for negatives.
        target: ``(m,)`` float32 ``R(v, u)`` (eqs. 1-2), ``0`` for negatives.
    """

    src: np.ndarray
    dst: np.ndarray
    hop: np.ndarray
    target: np.ndarray

    def __len__(self) -> int:
        return int(self.src.shape[0])

    @property
    def num_positive(self) -> int:
        return int((self.hop > 0).sum())

    @property
    def num_negative(self) -> int:
        return int((self.hop < 0).sum())

    def subset(self, idx: np.ndarray) -> PairSample:
        return PairSample(self.src[idx], self.dst[idx], self.hop[idx], self.target[idx])

    def split(self, val_fraction: float, seed: int) -> tuple[PairSample, PairSample]:
        """Random train / validation split of the pairs (Sec. 5.3: 90% / 10%)."""
        if not 0.0 <= val_fraction < 1.0:
            raise InputError(f"val_fraction must be in [0, 1), got {val_fraction}")
        order = np.random.default_rng(seed).permutation(len(self))
        n_val = int(round(val_fraction * len(self)))
        if len(self) - n_val < 1:
            raise InputError(f"{len(self)} pairs leave nothing to train on")
        return self.subset(np.sort(order[n_val:])), self.subset(np.sort(order[:n_val]))


def sample_pairs(
    graph: GraphData | nx.Graph,
    *,
    walks_per_vertex: int,
    walk_length: int,
    alpha: float,
    seed: int,
    weighted: bool | None = None,
    neg_ratio: float = 1.0,
    weight_norm: str = "max",
    sources: Sequence[int] | None = None,
) -> PairSample:
    """Positive and negative pairs of every source vertex (Alg. 1's sampling stage).

    For each source ``v``: ``walks_per_vertex`` walks of ``walk_length`` steps (transition
    proportional to the edge weight), each sampled by :func:`domination_samples` with the
    source's BFS hop counts; a vertex is sampled at most once per source. Then
    ``round(neg_ratio * #positives)`` negatives (``R = 0``, hop ``-1``) drawn uniformly
    without replacement from ``V - RW_v - {v}`` (fewer if that set is smaller).
    Complexity ``O(n l r)`` plus the BFS of each source, cut at ``l`` hops.

    Args:
        graph: a graph on ``0..n-1`` or a :class:`GraphData`.
        walks_per_vertex: ``r`` (paper: 20); walk_length: ``l`` (paper: 6).
        alpha: weight factor in ``(0, 1)`` (paper: 0.8 clustering, 0.6 link prediction).
        seed: seed of walks and negatives.
        weighted: use eq. 1 with the edge weights; ``None``: ``graph.weighted`` for a
            :class:`GraphData`, else whether any weight differs from 1.
        neg_ratio: negatives per positive for each source (``>= 0``; our choice 1).
        weight_norm: see :func:`normalize_weights`.
        sources: the source vertices (default: all).

    Raises:
        InputError: invalid graph or arguments, unknown source vertices.
    """
    g = _as_graph(graph)
    r = check_int(walks_per_vertex, "walks_per_vertex", ge=1)
    length = check_int(walk_length, "walk_length", ge=1)
    a = _check_alpha(alpha)
    check_scalar(neg_ratio, "neg_ratio", ge=0.0)
    if weighted is None:
        if isinstance(graph, GraphData):
            weighted = graph.weighted
        else:
            weighted = any(float(w) != 1.0 for *_, w in g.edges(data="weight", default=1.0))
    gn = normalize_weights(g, weight_norm) if weighted else g
    csr = CSRGraph.from_graph(gn)
    n = csr.num_nodes
    src_ids = np.arange(n) if sources is None else np.asarray(sources, dtype=np.int64)
    if src_ids.ndim != 1 or (src_ids.size and (src_ids.min() < 0 or src_ids.max() >= n)):
        raise InputError(f"sources must be vertex ids in 0..{n - 1}")
    rng = np.random.default_rng(seed)
    starts = np.repeat(src_ids, r)
    walks, pos = random_walks(
        csr, starts, length, seed=int(rng.integers(2**31)), weighted=bool(weighted),
        return_positions=True,
    )  # fmt: skip
    step_w = np.where(pos >= 0, csr.weights[np.maximum(pos, 0)], 1.0)
    srcs: list[int] = []
    dsts: list[int] = []
    hops_out: list[int] = []
    targets: list[float] = []
    chunk = 256
    for c0 in range(0, src_ids.size, chunk):
        block = src_ids[c0 : c0 + chunk]
        dist = hop_distances(csr, block, limit=length)
        for j, v in enumerate(block.tolist()):
            taken: set[int] = set()
            visited = {v}
            found: list[tuple[int, int, float]] = []
            for i in range((c0 + j) * r, (c0 + j + 1) * r):
                wk = walks[i].tolist()
                visited.update(wk)
                sw = step_w[i].tolist() if weighted else None
                new = domination_samples(wk, dist[j], a, sw, taken)
                taken.update(u for u, _, _ in new)
                found.extend(new)
            for u, k, rel in found:
                srcs.append(v)
                dsts.append(u)
                hops_out.append(k)
                targets.append(rel)
            n_neg = int(round(neg_ratio * len(found)))
            if n_neg:
                mask = np.ones(n, dtype=bool)
                mask[list(visited)] = False
                cand = np.flatnonzero(mask)
                pick = rng.permutation(cand)[: min(n_neg, cand.size)]
                srcs.extend([v] * pick.size)
                dsts.extend(pick.tolist())
                hops_out.extend([-1] * pick.size)
                targets.extend([0.0] * pick.size)
    return PairSample(
        np.asarray(srcs, dtype=np.int64),
        np.asarray(dsts, dtype=np.int64),
        np.asarray(hops_out, dtype=np.int64),
        np.asarray(targets, dtype=np.float32),
    )


# ---------------------------------------------------------------------------------------
# the Siamese network (eq. 3) and the loss (eqs. 4-5)
# ---------------------------------------------------------------------------------------


def vertex_features(graph: GraphData | nx.Graph, kind: str = "adjacency") -> Tensor:
    """The input vector of every vertex: ``(n, n)`` float32.

    ``"adjacency"`` (our choice; the paper does not state the input): row ``v`` of
    ``A + I`` with the weights scaled by the largest one (SDNE-style; the identity keeps
    vertices with equal neighbourhoods apart and gives isolated vertices an input).
    ``"onehot"``: the identity (the first layer is then an embedding table).
    """
    g = _as_graph(graph)
    n = g.number_of_nodes()
    if kind == "onehot":
        return torch.eye(n)
    if kind != "adjacency":
        raise InputError(f"vertex input must be 'adjacency' or 'onehot', got {kind!r}")
    a = nx.to_numpy_array(g, nodelist=range(n), weight="weight", dtype=np.float32)
    a /= a.max()
    return torch.from_numpy(a + np.eye(n, dtype=np.float32))


class SiameseNet(nn.Module, PretrainedModel):
    """LEARN's Siamese network: a shared tower and an L1-distance sigmoid unit (Fig. 1).

    The trained network of the method (``METHOD.model``): the recipe leaves the one of the
    ``learn`` variant, first seed, first graph in ``<out>/model/``
    (``SiameseNet.from_pretrained(folder)``); it takes vertex inputs, not vertex ids.

    Tower (eq. 3): ``h^(l) = LeakyReLU(W^(l) h^(l-1) + b^(l))`` for the layer sizes
    ``hidden`` (paper: ``[1000, 512, 128]``); the last ``h`` is the embedding ``x``.
    Output: ``R_hat(v, u) = sigmoid(w^T |x_v - x_u| + b)``, symmetric in ``v, u``.

    Args:
        in_dim: input size (``n`` for adjacency rows).
        hidden: tower layer sizes; ``hidden[-1]`` is the embedding dimension ``d``.
        negative_slope: leaky ReLU slope (not stated; 0.01, PyTorch's default).
    """

    def __init__(
        self, in_dim: int, hidden: Sequence[int] = (1000, 512, 128), negative_slope: float = 0.01
    ) -> None:
        super().__init__()
        check_int(in_dim, "in_dim", ge=1)
        if not hidden or any(isinstance(h, bool) or int(h) < 1 for h in hidden):
            raise InputError(f"hidden must be positive layer sizes, got {tuple(hidden)}")
        self.in_dim = int(in_dim)
        self.hidden = tuple(int(h) for h in hidden)
        self.negative_slope = float(negative_slope)
        layers: list[nn.Module] = []
        prev = self.in_dim
        for h in self.hidden:
            layers += [nn.Linear(prev, h), nn.LeakyReLU(self.negative_slope)]
            prev = h
        self.tower = nn.Sequential(*layers)
        self.out = nn.Linear(prev, 1)

    @property
    def dim(self) -> int:
        return self.hidden[-1]

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()

    def _check_x(self, name: str, x: Tensor) -> None:
        check_tensor(x, f"B {self.in_dim}", name=name)

    def embed(self, x: Tensor) -> Tensor:
        """Vertex inputs ``(B, in_dim)`` -> embeddings ``(B, d)``."""
        self._check_x("x", x)
        out: Tensor = self.tower(x)
        return out

    def logits_from_embeddings(self, x_v: Tensor, x_u: Tensor) -> Tensor:
        """``w^T |x_v - x_u| + b`` for embeddings ``(B, d)`` -> ``(B,)``."""
        dims: dict[str, int] = {}
        check_tensor(x_v, f"B {self.dim}", name="x_v", dims=dims)
        check_tensor(x_u, f"B {self.dim}", name="x_u", dims=dims)
        out: Tensor = self.out(torch.abs(x_v - x_u)).squeeze(-1)
        return out

    def forward(self, x_v: Tensor, x_u: Tensor) -> Tensor:
        """Pre-sigmoid relation logits ``(B,)`` for input pairs ``(B, in_dim)`` each."""
        self._check_x("x_v", x_v)
        self._check_x("x_u", x_u)
        if x_v.shape[0] != x_u.shape[0]:
            raise InputError(f"x_v and x_u need as many rows, got {x_v.shape[0]}, {x_u.shape[0]}")
        return self.logits_from_embeddings(self.tower(x_v), self.tower(x_u))

    def relation(self, x_v: Tensor, x_u: Tensor) -> Tensor:
        """``R_hat(v, u)`` in ``(0, 1)``: ``(B,)``."""
        return torch.sigmoid(self(x_v, x_u))

    def weight_matrices(self) -> list[Tensor]:
        """The ``W^(l)`` that eq. 5 regularises (tower and output layer; not the biases)."""
        return [m.weight for m in self.modules() if isinstance(m, nn.Linear)]


class LEARNNet(nn.Module):
    """A :class:`SiameseNet` over a fixed vertex-input table, addressed by vertex id.

    Args:
        features: ``(n, in_dim)`` vertex inputs (:func:`vertex_features`), kept as a
            non-persistent buffer (rebuilt from the graph, not checkpointed).
        hidden, negative_slope: as :class:`SiameseNet`.
    """

    features: Tensor

    def __init__(
        self,
        features: Tensor,
        hidden: Sequence[int] = (1000, 512, 128),
        negative_slope: float = 0.01,
    ) -> None:
        super().__init__()
        if not isinstance(features, Tensor) or features.ndim != 2 or features.shape[0] < 2:
            raise InputError(f"features must be an (n >= 2, in_dim) tensor, got {features!r}")
        self.register_buffer("features", features.float(), persistent=False)
        self.siamese = SiameseNet(features.shape[1], hidden, negative_slope)

    @property
    def num_nodes(self) -> int:
        return int(self.features.shape[0])

    def _ids(self, name: str, ids: Tensor) -> Tensor:
        if not isinstance(ids, Tensor) or ids.ndim != 1 or ids.is_floating_point():
            raise InputError(f"{name} must be a (B,) integer tensor of vertex ids")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.num_nodes):
            raise InputError(
                f"{name} names unknown vertices; ids must be in 0..{self.num_nodes - 1}"
            )
        return ids

    def forward(self, src: Tensor, dst: Tensor) -> Tensor:
        """Relation logits ``(B,)`` of vertex pairs ``(src[i], dst[i])``.

        The tower runs once per distinct vertex of the batch (not once per pair side).
        """
        src, dst = self._ids("src", src), self._ids("dst", dst)
        if src.shape != dst.shape:
            raise InputError(f"src and dst must match, got {tuple(src.shape)}, {tuple(dst.shape)}")
        uniq, inv = torch.unique(torch.cat([src, dst]), return_inverse=True)
        x = self.siamese.embed(self.features[uniq])
        b = src.shape[0]
        return self.siamese.logits_from_embeddings(x[inv[:b]], x[inv[b:]])

    def embeddings(self) -> Tensor:
        """Every vertex's embedding ``(n, d)``."""
        return self.siamese.embed(self.features)


def learn_loss(
    logits: Tensor,
    target: Tensor,
    weights: Sequence[Tensor] = (),
    lam: float = 0.0,
    *,
    negative_term: bool = True,
) -> dict[str, Tensor]:
    """LEARN's loss ``L1 + L2`` (eqs. 4-5), from logits (``R_hat = sigmoid(logits)``).

    ``L1 = mean_i [-R_i log R_hat_i - (1 - R_i) log(1 - R_hat_i)]`` (binary cross-entropy,
    Sec. 4.1; ``negative_term=False`` keeps only ``-R log R_hat``, eq. 4 as printed), and
    ``L2 = lam * sum_l ||W^(l)||_F^2`` (eq. 5). Computed stably from the logits.

    Args:
        logits: ``(B,)`` pre-sigmoid predictions; target: ``(B,)`` ``R`` in ``[0, 1]``.
        weights: the regularised matrices; lam: ``lambda >= 0``.

    Returns:
        ``{"loss": L1 + L2, "l1": L1, "l2": L2}`` scalars.
    """
    check_tensor(logits, "B", name="logits", dtype="float")
    check_tensor(target, None, name="target")
    if target.shape != logits.shape:
        raise InputError(
            f"target must match logits {tuple(logits.shape)}, got {tuple(target.shape)}"
        )
    check_tensor(target, None, name="target", range=(0, 1))  # scale weights: weight_norm
    check_scalar(lam, "lam", ge=0.0)
    t = target.to(logits.dtype)
    if negative_term:
        l1 = F.binary_cross_entropy_with_logits(logits, t)
    else:
        l1 = (t * F.softplus(-logits)).mean()  # -R log sigmoid(z) = R softplus(-z)
    l2 = logits.new_zeros(())
    for w in weights:
        l2 = l2 + w.pow(2).sum()
    l2 = float(lam) * l2
    return {"loss": l1 + l2, "l1": l1, "l2": l2}


# ---------------------------------------------------------------------------------------
# config
# ---------------------------------------------------------------------------------------


@dataclass
class LEARNDataConfig:
    """Which graphs each task uses."""

    root: str | None = param(None, "folder of torch-geometric's Cora/CiteSeer/Wiki raw files")
    link_graphs: tuple[str, ...] = param(
        ("karate", "les_miserables", "florentine", "davis"),
        "graphs for link prediction (karate, les_miserables, florentine, davis, cora, "
        "citeseer, wiki)",
    )
    cluster_graphs: tuple[str, ...] = param(
        ("karate", "davis"), "labelled graphs for clustering (karate, davis, cora, citeseer, wiki)"
    )


@dataclass
class LEARNSamplerConfig:
    """Vertex-domination sampling (Alg. 1) and the target relation (eqs. 1-2)."""

    walks_per_vertex: int = param(20, "r: walks per vertex", source="Sec. 5.3: r = 20")
    walk_length: int = param(6, "l: steps per walk", source="Sec. 5.3: l = 6")
    alpha_link: float = param(0.6, "alpha for link prediction", source="Sec. 5.3: 0.6")
    alpha_cluster: float = param(0.8, "alpha for clustering", source="Sec. 5.3: 0.8")
    neg_ratio: float = param(
        1.0,
        "negatives per positive of each source, from V - RW_v",
        source="not stated; our choice: balanced",
    )
    weight_norm: str = param(
        "max", "max: w / max w; none: weights must be <= 1", source="not stated; our choice"
    )


@dataclass
class LEARNModelConfig:
    """The Siamese network."""

    hidden: tuple[int, ...] = param(
        (1000, 512, 128), "tower layer sizes; the last is d", source="Sec. 5.3: [1000-512-128]"
    )
    input: str = param(
        "adjacency",
        "vertex input: adjacency (row of A + I) or onehot",
        source="not stated; our choice: adjacency rows (SDNE-style)",
    )
    negative_slope: float = param(
        0.01, "leaky ReLU slope", source="Sec. 4.2: leaky ReLU; slope not stated (0.01)"
    )


@dataclass
class LEARNLossConfig:
    """eqs. 4-5."""

    lam: float = param(1e-5, "lambda of eq. 5", source="not stated; our choice")
    negative_term: bool = param(
        True,
        "full binary cross-entropy (True) or eq. 4 as printed, -R log R_hat (False)",
        source="Sec. 4.1 names binary cross-entropy; eq. 4 prints only the positive term",
    )


@dataclass
class LEARNOptimConfig:
    """Mini-batch Adam with early stopping."""

    lr: float = param(1e-3, "Adam learning rate", source="Sec. 4.2: Adam; lr not stated", gt=0)
    val_fraction: float = param(0.1, "validation share of the pairs", source="Sec. 5.3: 90/10")
    patience: int = param(
        10, "early stopping: epochs without a better validation loss", source="not stated"
    )


@dataclass
class BaselineConfig:
    """DeepWalk, node2vec and the spectral embedding (same dimension d as LEARN)."""

    num_walks: int = param(10, "walks per vertex", source="Sec. 5.3: 10")
    walk_length: int = param(80, "walk length", source="Sec. 5.3: 80")
    window: int = param(10, "skip-gram window", source="Sec. 5.3: 10")
    p: float = param(1.0, "node2vec return parameter", source="Sec. 5.3: p = 1")
    q: float = param(1.0, "node2vec in-out parameter", source="Sec. 5.3: q = 1")
    epochs: int = param(
        5, "word2vec epochs", source="not stated; gensim's default", ge=0, le=100_000
    )
    negative: int = param(5, "node2vec negative samples", source="not stated; node2vec's 5")


@dataclass
class LEARNEvalConfig:
    """Link prediction and clustering protocols (Sec. 5.4-5.5)."""

    test_fraction: float = param(0.5, "share of edges hidden", source="Sec. 5.4: 50%")
    keep_connected: bool = param(
        True, "never hide a random spanning forest's edges", source="node2vec [4]'s protocol"
    )
    kmeans_runs: int = param(10, "k-means runs averaged", source="Sec. 5.5: 10 runs")
    kmeans_n_init: int = param(1, "restarts inside each k-means run", source="not stated")


@dataclass
class LEARNConfig:
    """Config of the LEARN recipe (:func:`recipe`)."""

    data: LEARNDataConfig = field(default_factory=LEARNDataConfig)
    sampler: LEARNSamplerConfig = field(default_factory=LEARNSamplerConfig)
    model: LEARNModelConfig = field(default_factory=LEARNModelConfig)
    loss: LEARNLossConfig = field(default_factory=LEARNLossConfig)
    optim: LEARNOptimConfig = field(default_factory=LEARNOptimConfig)
    baselines: BaselineConfig = field(default_factory=BaselineConfig)
    eval: LEARNEvalConfig = field(default_factory=LEARNEvalConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=200, batch_size=256, progress=False)
    )
    variants: tuple[str, ...] = param(VARIANTS, "learn, deepwalk, node2vec, spectral")
    seeds: tuple[int, ...] = param((0, 1, 2), "one run of every variant per seed")
    checkpoints: bool = param(
        False, "write Trainer checkpoints of LEARN (resume mid-run); off: runs take seconds"
    )


def paper_config() -> LEARNConfig:
    """The paper's setting (Sec. 5.3): [1000-512-128], l = 6, r = 20, <= 200 epochs.

    Link prediction on Wiki (50% hidden), clustering on Cora, CiteSeer and Wiki, 10 repeats;
    needs torch-geometric's raw files under ``--data`` (BlogCatalog's 10,312-vertex graph
    is not in torch-geometric and is not supported).
    """
    return LEARNConfig(
        data=LEARNDataConfig(link_graphs=("wiki",), cluster_graphs=("cora", "citeseer", "wiki")),
        train=TrainConfig(epochs=200, batch_size=256, progress=True),
        seeds=tuple(range(10)),
    )


def smoke_config() -> LEARNConfig:
    """CPU scale: the four networkx graphs, d = 16, a [256-128-16] tower, 3 seeds.

    LEARN: <= 40 epochs (early stopping, patience 10), batches of 512 pairs, Adam lr 3e-3 so
    that the few steps per epoch of a tiny graph converge in that budget; DeepWalk and
    node2vec: the paper's 10 walks of 80 steps, one word2vec epoch (5 epochs gave the same
    karate NMI within the seed spread).
    """
    return LEARNConfig(
        data=LEARNDataConfig(
            link_graphs=("karate", "les_miserables", "florentine", "davis"),
            cluster_graphs=("karate", "davis"),
        ),
        model=LEARNModelConfig(hidden=(256, 128, 16)),
        optim=LEARNOptimConfig(lr=3e-3),
        baselines=BaselineConfig(epochs=1),
        train=TrainConfig(epochs=40, batch_size=512, cpu=True, progress=False),
        seeds=(0, 1, 2),
    )


# ---------------------------------------------------------------------------------------
# training LEARN
# ---------------------------------------------------------------------------------------


@dataclass
class TrainedLEARN:
    """A trained LEARN model: embeddings, the net, its history and its training pairs."""

    net: LEARNNet
    embeddings: np.ndarray
    history: list[dict[str, float]]
    pairs: PairSample
    best_epoch: int

    @torch.no_grad()
    def score(self, pairs: np.ndarray) -> np.ndarray:
        """``R_hat(v, u)`` of ``(m, 2)`` vertex pairs (the link-prediction score)."""
        p = check_pairs(pairs, self.net.num_nodes)
        self.net.eval()
        dev = self.net.features.device
        t = torch.from_numpy(p).to(dev)
        return torch.sigmoid(self.net(t[:, 0], t[:, 1])).float().cpu().numpy()


def fit_learn(
    graph: GraphData | nx.Graph,
    cfg: LEARNConfig,
    *,
    alpha: float,
    seed: int,
    weighted: bool | None = None,
    out_dir: str | Path | None = None,
) -> TrainedLEARN:
    """Sample pairs (Alg. 1), train the Siamese net with the core Trainer, embed every vertex.

    Mini-batch Adam on ``L1 + L2`` (eqs. 4-5); the pairs are split 90/10 and training stops
    once the validation ``L1`` has not improved for ``cfg.optim.patience`` epochs (at most
    ``cfg.train.epochs``); the weights of the best validation epoch are kept. The batch
    size is capped at the number of training pairs (tiny graphs).
    """
    from torch.utils.data import TensorDataset

    from patrec.core.train import Trainer, seed_everything

    g = _as_graph(graph)
    if weighted is None and isinstance(graph, GraphData):
        weighted = graph.weighted
    sc = cfg.sampler
    pairs = sample_pairs(
        g,
        walks_per_vertex=sc.walks_per_vertex,
        walk_length=sc.walk_length,
        alpha=alpha,
        seed=seed,
        weighted=weighted,
        neg_ratio=sc.neg_ratio,
        weight_norm=sc.weight_norm,
    )
    if len(pairs) < 2:
        raise InputError(f"the graph yields {len(pairs)} vertex pairs; LEARN needs more edges")
    train_p, val_p = pairs.split(cfg.optim.val_fraction, seed)
    feats = vertex_features(g, cfg.model.input)
    tcfg = dataclasses.replace(
        cfg.train, seed=seed, batch_size=min(cfg.train.batch_size, len(train_p))
    )
    seed_everything(seed, tcfg.deterministic)
    net = LEARNNet(feats, cfg.model.hidden, cfg.model.negative_slope)
    best = copy.deepcopy(net.siamese)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.optim.lr)
    lam, neg_term, patience = cfg.loss.lam, cfg.loss.negative_term, cfg.optim.patience
    if patience < 1:
        raise ConfigError(f"optim.patience must be >= 1, got {patience}")

    reg = net.siamese.weight_matrices()  # the W^(l) of eq. 5 (the same tensors once prepared)

    def step(tr: Trainer, batch: tuple[Tensor, Tensor, Tensor]) -> dict[str, Tensor]:
        s, d, r = batch
        terms = learn_loss(tr.model(s, d), r, reg, lam, negative_term=neg_term)
        return {"loss": terms["loss"], "l1": terms["l1"].detach(), "l2": terms["l2"].detach()}

    val_t = [torch.from_numpy(a) for a in (val_p.src, val_p.dst, val_p.target)]

    def evaluate(tr: Trainer) -> dict[str, float]:
        m = tr.unwrapped_model
        assert isinstance(m, LEARNNet)
        dev = tr.device
        if len(val_p) == 0:
            return {}
        s, d, r = (t.to(dev) for t in val_t)
        val = float(learn_loss(m(s, d), r, negative_term=neg_term)["l1"])
        past = [h["val/l1"] for h in tr.state.history if "val/l1" in h]
        if not past or val < min(past) - 1e-6:
            best.load_state_dict(m.siamese.state_dict())
            since = 0
        else:
            since = len(past) - int(np.argmin(past))
        if since >= patience:  # early stopping: end the run after this epoch (kept on resume)
            tr.stop()
        return {"val/l1": val}

    trainer = Trainer(
        net,
        opt,
        TensorDataset(
            torch.from_numpy(train_p.src),
            torch.from_numpy(train_p.dst),
            torch.from_numpy(train_p.target),
        ),  # fmt: skip
        step,
        tcfg,
        out_dir=out_dir if cfg.checkpoints else None,
        eval_fn=evaluate,
        extra_state={"best": best},
        desc="LEARN",
    )
    history = trainer.fit()
    model = trainer.unwrapped_model
    assert isinstance(model, LEARNNet)
    best_epoch = len(history)
    if len(val_p) and history:
        vals = [h["val/l1"] for h in history]
        best_epoch = int(np.argmin(vals)) + 1
        model.siamese.load_state_dict(best.state_dict())
    model.eval()
    with torch.no_grad():
        emb = model.embeddings().float().cpu().numpy()
    return TrainedLEARN(model, emb, history, pairs, best_epoch)


# ---------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------


def _stable_hash(token: str) -> int:
    """A hash that does not change with PYTHONHASHSEED (gensim's per-word init uses it)."""
    return zlib.crc32(token.encode())


def _skipgram(
    walks: np.ndarray,
    n: int,
    dim: int,
    *,
    window: int,
    epochs: int,
    seed: int,
    hs: bool,
    negative: int,
) -> np.ndarray:
    import importlib

    word2vec = importlib.import_module("gensim.models").Word2Vec  # gensim ships no type stubs

    sentences = [[str(v) for v in w] for w in walks.tolist()]
    model = word2vec(
        sentences,
        vector_size=dim,
        window=window,
        min_count=0,
        sg=1,
        hs=1 if hs else 0,
        negative=0 if hs else negative,
        sample=0,  # no frequent-token down-sampling: hubs are informative vertices here
        workers=1,  # one thread: deterministic for a fixed seed
        seed=seed,
        epochs=epochs,
        hashfxn=_stable_hash,
    )
    out = np.zeros((n, dim), dtype=np.float32)
    for v in range(n):
        key = str(v)
        if key in model.wv.key_to_index:
            out[v] = model.wv[key]
    return out


def deepwalk_embedding(
    graph: GraphData | nx.Graph,
    dim: int,
    *,
    num_walks: int = 10,
    walk_length: int = 80,
    window: int = 10,
    epochs: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """DeepWalk (Perozzi et al. 2014): uniform walks + skip-gram, hierarchical softmax.

    Returns ``(n, dim)`` float32 embeddings (gensim ``Word2Vec``, one worker, fixed seed).
    """
    g = _as_graph(graph)
    csr = CSRGraph.from_graph(g)
    starts = np.tile(np.arange(csr.num_nodes), check_int(num_walks, "num_walks", ge=1))
    walks = random_walks(csr, starts, check_int(walk_length, "walk_length", ge=1), seed=seed)
    assert isinstance(walks, np.ndarray)
    return _skipgram(
        walks, csr.num_nodes, check_int(dim, "dim", ge=1), window=window, epochs=epochs, seed=seed,
        hs=True, negative=0,
    )  # fmt: skip


def node2vec_embedding(
    graph: GraphData | nx.Graph,
    dim: int,
    *,
    p: float = 1.0,
    q: float = 1.0,
    num_walks: int = 10,
    walk_length: int = 80,
    window: int = 10,
    epochs: int = 5,
    negative: int = 5,
    seed: int = 0,
    weighted: bool | None = None,
) -> np.ndarray:
    """node2vec (Grover & Leskovec 2016): ``(p, q)``-biased walks + skip-gram with negatives.

    Walks follow the edge weights on weighted graphs. Returns ``(n, dim)`` float32.
    """
    g = _as_graph(graph)
    if weighted is None:
        weighted = graph.weighted if isinstance(graph, GraphData) else False
    csr = CSRGraph.from_graph(g)
    starts = np.tile(np.arange(csr.num_nodes), check_int(num_walks, "num_walks", ge=1))
    walks = random_walks(
        csr, starts, check_int(walk_length, "walk_length", ge=1), seed=seed,
        weighted=bool(weighted), p=p, q=q,
    )  # fmt: skip
    assert isinstance(walks, np.ndarray)
    return _skipgram(
        walks, csr.num_nodes, check_int(dim, "dim", ge=1), window=window, epochs=epochs, seed=seed,
        hs=False, negative=check_int(negative, "negative", ge=1),
    )  # fmt: skip


def spectral_embedding(graph: GraphData | nx.Graph, dim: int, *, seed: int = 0) -> np.ndarray:
    """Laplacian eigenmaps of the weighted adjacency (scikit-learn's ``spectral_embedding``).

    ``dim`` is capped at ``n - 2`` (the trivial eigenvector is dropped). Returns ``(n, d')``.
    """
    import warnings

    from sklearn.manifold import spectral_embedding as sk_spectral

    g = _as_graph(graph)
    n = g.number_of_nodes()
    k = min(check_int(dim, "dim", ge=1), n - 2)
    if k < 1:
        raise InputError(f"a spectral embedding needs at least 3 vertices, got {n}")
    adj = nx.to_scipy_sparse_array(g, nodelist=range(n), weight="weight", format="csr")
    adj.indices = adj.indices.astype(np.int32)  # scikit-learn takes 32-bit sparse indices only
    adj.indptr = adj.indptr.astype(np.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "graph is not fully connected"
        emb = sk_spectral(adj, n_components=k, drop_first=True, random_state=seed)
    return np.asarray(emb, dtype=np.float32)


def cosine_scores(embeddings: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Cosine similarity of the embeddings of each vertex pair: ``(m,)``."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"embeddings must be (n, d), got shape {x.shape}")
    p = check_pairs(pairs, x.shape[0])
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    out: np.ndarray = (xn[p[:, 0]] * xn[p[:, 1]]).sum(1)
    return out


# ---------------------------------------------------------------------------------------
# recipe
# ---------------------------------------------------------------------------------------


def _check_config(cfg: LEARNConfig) -> None:
    bad = [v for v in cfg.variants if v not in VARIANTS]
    if bad or not cfg.variants:
        raise ConfigError(f"variants: expected some of {', '.join(VARIANTS)}, got {cfg.variants}")
    if not cfg.seeds:
        raise ConfigError("seeds: give at least one seed")
    if not cfg.data.link_graphs and not cfg.data.cluster_graphs:
        raise ConfigError("data.link_graphs and data.cluster_graphs are both empty")
    for a in (cfg.sampler.alpha_link, cfg.sampler.alpha_cluster):
        if not 0.0 < a < 1.0:
            raise ConfigError(f"sampler.alpha_*: must be in (0, 1) (eq. 1), got {a}")
    if not 0.0 < cfg.eval.test_fraction < 1.0:
        raise ConfigError(f"eval.test_fraction must be in (0, 1), got {cfg.eval.test_fraction}")
    if not cfg.model.hidden:
        raise ConfigError("model.hidden: give the tower layer sizes")


def _embed(
    variant: str,
    graph: GraphData,
    cfg: LEARNConfig,
    seed: int,
    alpha: float,
    run_dir: Path,
) -> tuple[np.ndarray, TrainedLEARN | None]:
    b = cfg.baselines
    d = cfg.model.hidden[-1]
    if variant == "learn":
        tl = fit_learn(graph, cfg, alpha=alpha, seed=seed, out_dir=run_dir)
        return tl.embeddings, tl
    if variant == "deepwalk":
        emb = deepwalk_embedding(
            graph, d, num_walks=b.num_walks, walk_length=b.walk_length, window=b.window,
            epochs=b.epochs, seed=seed,
        )  # fmt: skip
    elif variant == "node2vec":
        emb = node2vec_embedding(
            graph, d, p=b.p, q=b.q, num_walks=b.num_walks, walk_length=b.walk_length,
            window=b.window, epochs=b.epochs, negative=b.negative, seed=seed,
        )  # fmt: skip
    else:
        emb = spectral_embedding(graph, d, seed=seed)
    return emb, None


def _run_one(
    task: str,
    variant: str,
    data: GraphData,
    split: Any,
    cfg: LEARNConfig,
    seed: int,
    run_dir: Path,
) -> dict[str, Any]:
    """Embed (and score) one graph with one variant and seed, once per ``run_dir``."""
    from patrec.core.report import run_once

    job = functools.partial(_compute_one, task, variant, data, split, cfg, seed, run_dir)
    return run_once(run_dir, job)


def _compute_one(
    task: str,
    variant: str,
    data: GraphData,
    split: Any,
    cfg: LEARNConfig,
    seed: int,
    run_dir: Path,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    if task == "link":
        g = data.with_graph(split.train)
        emb, tl = _embed(variant, g, cfg, seed, cfg.sampler.alpha_link, run_dir)
        if tl is not None:
            sp, sn = tl.score(split.pos), tl.score(split.neg)
        else:
            sp, sn = cosine_scores(emb, split.pos), cosine_scores(emb, split.neg)
        metrics = link_prediction_scores(sp, sn)
        metrics["test_edges"] = float(len(split.pos))
    else:
        emb, tl = _embed(variant, data, cfg, seed, cfg.sampler.alpha_cluster, run_dir)
        assert data.labels is not None
        metrics = clustering_scores(
            emb, data.labels, runs=cfg.eval.kmeans_runs, seed=seed, n_init=cfg.eval.kmeans_n_init
        )
    metrics["seconds"] = time.perf_counter() - t0
    res: dict[str, Any] = {
        "task": task,
        "variant": variant,
        "graph": data.name,
        "seed": seed,
        "metrics": metrics,
    }
    if tl is not None:
        from patrec.core.hub import save_model

        # the trained Siamese net, with the inputs of four training pairs as its example
        feats, m = tl.net.features.detach().cpu(), min(4, len(tl.pairs))
        example = (feats[tl.pairs.src[:m]], feats[tl.pairs.dst[:m]])
        save_model(tl.net.siamese, run_dir / "model", example=example)
        res["history"] = tl.history
        res["best_epoch"] = tl.best_epoch
        res["pairs"] = {"positive": tl.pairs.num_positive, "negative": tl.pairs.num_negative}
    run_dir.mkdir(parents=True, exist_ok=True)
    np.save(run_dir / "embedding.npy", emb)
    return res


def _plot_groups(
    results: dict[str, dict[str, dict[str, list[float]]]],
    metrics: Sequence[str],
    graphs: Sequence[str],
    variants: Sequence[str],
    path: Path,
    title: str,
) -> Path:
    """Grouped bars (mean ± std over seeds): one panel per metric, a group per graph."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from patrec.core.report import atomic_write_bytes

    fig, axes = plt.subplots(1, len(metrics), figsize=(1.2 + 1.9 * len(graphs) * len(metrics), 3.8))
    axes = np.atleast_1d(axes)
    width = 0.8 / len(variants)
    colors = {"learn": "tab:orange", "deepwalk": "tab:blue", "node2vec": "tab:green",
              "spectral": "tab:purple"}  # fmt: skip
    for ax, met in zip(axes, metrics, strict=True):
        for j, v in enumerate(variants):
            means = [float(np.mean(results[v][g][met])) for g in graphs]
            stds = [float(np.std(results[v][g][met], ddof=1)) if len(results[v][g][met]) > 1
                    else 0.0 for g in graphs]  # fmt: skip
            x = np.arange(len(graphs)) + (j - (len(variants) - 1) / 2) * width
            ax.bar(x, means, width, yerr=stds, capsize=3, label=v, color=colors.get(v))
        ax.set_xticks(np.arange(len(graphs)))
        ax.set_xticklabels(graphs, rotation=15)
        ax.set_title(met.upper())
        ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.05)
        ax.grid(axis="y", alpha=0.3)
    axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title, y=1.02)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _plot_projection(embs: dict[str, np.ndarray], data: GraphData, path: Path, seed: int) -> Path:
    """t-SNE (as the paper's Fig. 2) of each method's embeddings, coloured by class."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    from patrec.core.report import atomic_write_bytes

    fig, axes = plt.subplots(1, len(embs), figsize=(3.2 * len(embs), 3.3))
    axes = np.atleast_1d(axes)
    assert data.labels is not None
    for ax, (name, e) in zip(axes, embs.items(), strict=True):
        perp = float(min(10.0, (e.shape[0] - 1) / 3))
        xy = TSNE(2, perplexity=perp, init="pca", random_state=seed).fit_transform(
            e.astype(np.float64)
        )
        for c, cname in enumerate(data.label_names):
            m = data.labels == c
            ax.scatter(xy[m, 0], xy[m, 1], s=18, label=cname)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{data.name}: t-SNE of the embeddings (seed {seed}), coloured by class", y=1.04)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def recipe(cfg: LEARNConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """LEARN and its baselines on link prediction and clustering, over every seed.

    Link prediction (Sec. 5.4): for each graph of ``data.link_graphs`` and seed, hide
    ``eval.test_fraction`` of the edges (:func:`~patrec.graph_learning.graphs.edge_split`,
    the same split for every variant), embed the residual graph, score held-out edges
    against as many non-edges: AUC and AP. Clustering (Sec. 5.5): embed each graph of
    ``data.cluster_graphs``, k-means with k = #classes, NMI and ARI averaged over
    ``eval.kmeans_runs`` runs. LEARN uses ``alpha_link`` / ``alpha_cluster``.

    Writes ``metrics.json`` (per variant: ``lp/<graph>/auc|ap``, ``cl/<graph>/nmi|ari`` and
    their means over graphs ``auc``, ``ap``, ``nmi``, ``ari``, each mean ± std over seeds),
    ``link_prediction.png``, ``clustering.png``, ``<graph>_tsne.png`` (first clustering
    graph), ``learn_loss_curves.png``, and ``runs/<task>/<graph>/<variant>/seed<k>/``
    (``result.json``, ``embedding.npy``); finished runs are read back, not redone.
    """
    from patrec.core.report import plot_curves, summarize_seeds, write_metrics

    _check_config(cfg)
    root = cfg.data.root if cfg.data.root is not None else (str(data) if data else None)
    out = Path(out_dir)
    tasks = [("link", g) for g in cfg.data.link_graphs] + [
        ("cluster", g) for g in cfg.data.cluster_graphs
    ]
    loaded: dict[str, GraphData] = {}
    for _, gname in tasks:
        if gname not in loaded:
            loaded[gname] = load_graph(gname, root)
    for gname in cfg.data.cluster_graphs:
        if loaded[gname].labels is None:
            raise ConfigError(f"data.cluster_graphs: {gname} has no vertex labels to cluster by")
    # per[variant][task/graph][metric] = [value per seed]
    per: dict[str, dict[str, dict[str, list[float]]]] = {v: {} for v in cfg.variants}
    histories: dict[str, list[float]] = {}
    first_embs: dict[str, np.ndarray] = {}
    for task, gname in tasks:
        gd = loaded[gname]
        key = f"{'lp' if task == 'link' else 'cl'}/{gname}"
        for seed in cfg.seeds:
            split = (
                edge_split(
                    gd.graph, cfg.eval.test_fraction, seed, keep_connected=cfg.eval.keep_connected
                )
                if task == "link"
                else None
            )
            for v in cfg.variants:
                rd = out / "runs" / task / gname / v / f"seed{seed}"
                res = _run_one(task, v, gd, split, cfg, seed, rd)
                slot = per[v].setdefault(key, {})
                for mk, mv in res["metrics"].items():
                    slot.setdefault(mk, []).append(float(mv))
                if v == "learn" and "history" in res and len(histories) < 6:
                    histories[f"{key} seed{seed} train"] = [h["train/l1"] for h in res["history"]]
                    histories[f"{key} seed{seed} val"] = [
                        h["val/l1"] for h in res["history"] if "val/l1" in h
                    ]
                if (
                    task == "cluster"
                    and gname == cfg.data.cluster_graphs[0]
                    and seed == cfg.seeds[0]
                ):
                    first_embs[v] = np.load(rd / "embedding.npy")

    if "learn" in cfg.variants and tasks:  # <out>/model: learn, first seed, first graph
        from patrec.core.hub import copy_model_dir

        task0, g0name = tasks[0]
        saved = out / "runs" / task0 / g0name / "learn" / f"seed{cfg.seeds[0]}" / "model"
        if saved.is_dir():
            copy_model_dir(saved, out / "model")

    variants_out: dict[str, dict[str, Any]] = {}
    for v in cfg.variants:
        vo: dict[str, Any] = {}
        for key, mets in per[v].items():
            for mk, vals in mets.items():
                if mk in ("test_edges",):
                    vo[f"{key}/{mk}"] = vals[0]
                    continue
                vo[f"{key}/{mk}"] = summarize_seeds(vals)
        for prefix, names in (("lp", ("auc", "ap")), ("cl", ("nmi", "ari"))):
            keys = [k for k in per[v] if k.startswith(prefix + "/")]
            if not keys:
                continue
            for mk in names:
                by_seed = np.mean([per[v][k][mk] for k in keys], axis=0)
                vo[mk] = summarize_seeds(by_seed.tolist())
        vo["seconds"] = float(np.mean([t for m in per[v].values() for t in m["seconds"]]))
        variants_out[v] = vo

    plots: list[Path] = []
    lg, cg = list(cfg.data.link_graphs), list(cfg.data.cluster_graphs)
    if lg:
        res_lp = {v: {g: per[v][f"lp/{g}"] for g in lg} for v in cfg.variants}
        plots.append(
            _plot_groups(
                res_lp,
                ("auc", "ap"),
                lg,
                cfg.variants,
                out / "link_prediction.png",
                f"link prediction, {cfg.eval.test_fraction:.0%} of edges hidden, "
                f"{len(cfg.seeds)} seed(s)",
            )  # fmt: skip
        )
    if cg:
        res_cl = {v: {g: per[v][f"cl/{g}"] for g in cg} for v in cfg.variants}
        plots.append(
            _plot_groups(
                res_cl,
                ("nmi", "ari"),
                cg,
                cfg.variants,
                out / "clustering.png",
                f"k-means clustering of the embeddings, {len(cfg.seeds)} seed(s)",
            )  # fmt: skip
        )
        if first_embs:
            g0 = loaded[cg[0]]
            plots.append(
                _plot_projection(first_embs, g0, out / f"{g0.name}_tsne.png", cfg.seeds[0])
            )
    if histories:
        plots.append(
            plot_curves(
                histories,
                out / "learn_loss_curves.png",
                title="LEARN cross-entropy L1 (eq. 4) per epoch",
                ylabel="L1",
            )  # fmt: skip
        )
    primary = "auc" if lg else "nmi"
    ours = "learn" if "learn" in cfg.variants else cfg.variants[0]
    return write_metrics(
        out,
        method="graph-learning/learn",
        variants=variants_out,
        primary=primary,
        ours=ours,
        baselines=[v for v in cfg.variants if v != ours],
        plots=plots,
        extra={
            "link_graphs": lg,
            "cluster_graphs": cg,
            "seeds": list(cfg.seeds),
            "graphs": {
                g: {"nodes": d.num_nodes, "edges": d.num_edges, "weighted": d.weighted}
                for g, d in loaded.items()
            },
        },
    )


METHOD = Method(
    name="graph-learning/learn",
    title="LEARN: Enhanced Network Embedding via Similarity Learning",
    paper="004/01",
    citation=(
        "A. Fathy, K. Li. LEARN: Enhanced Network Embedding via Similarity Learning. "
        "ICONIP 2019 Proceedings, Australian Journal of Intelligent Information Processing "
        "Systems 16(2)."
    ),
    task="unsupervised network embedding: graph -> vertex vectors (link prediction, clustering)",
    config=LEARNConfig,
    presets={"paper": paper_config, "smoke": smoke_config},
    recipe=recipe,
    model="patrec.graph_learning.learn:SiameseNet",
    baselines=(
        "deepwalk: uniform walks + skip-gram (hierarchical softmax)",
        "node2vec: (p, q) walks + skip-gram (negative sampling)",
        "spectral: Laplacian eigenmaps",
    ),
    flagship=True,  # stands for its package in `patrec reproduce --flagship`
    status="done",
    summary=(
        "Vertex pairs sampled by random walks with vertex domination at exact k hops, target "
        "R = alpha^(k-1) (x path weights), learned by a Siamese MLP whose L1-distance sigmoid "
        "output predicts R under cross-entropy plus L2 weight decay."
    ),
    paper_numbers={
        "link prediction, 50% of edges hidden, AUC / AP (Table 2)": (
            "Wiki: LEARN 0.95/0.95 vs node2vec 0.94/0.94, DeepWalk 0.91/0.92; BlogCatalog: "
            "LEARN 0.94/0.94 vs SDNE 0.90/0.91, node2vec 0.71/0.72, DeepWalk 0.59/0.54"
        ),
        "clustering, k-means, NMI / ARI (Table 3)": (
            "Cora: LEARN 0.47/0.41 vs node2vec 0.44/0.36, DeepWalk 0.40/0.30; CiteSeer: "
            "0.21/0.20 vs 0.20/0.16, 0.14/0.14; Wiki: 0.36/0.21 vs 0.36/0.21, 0.36/0.18"
        ),
    },
    measured={
        "smoke link prediction (karate, les_miserables, florentine, davis; 50% hidden; "
        "3 seeds), AUC / AP averaged over the graphs": (
            "LEARN 0.641 ± 0.011 / 0.648 ± 0.028 vs node2vec 0.629 / 0.638, DeepWalk "
            "0.616 / 0.633, spectral 0.447 / 0.531; LEARN leads on karate (AUC 0.68 vs 0.65) "
            "and davis (0.69 vs 0.62) and trails on les_miserables (0.75 vs 0.82 DeepWalk) "
            "and florentine (0.44 vs 0.45, 6 test edges); seed spreads overlap"
        ),
        "smoke clustering (3 seeds), NMI / ARI": (
            "karate clubs: LEARN 0.75/0.77 vs node2vec 0.74/0.76, DeepWalk 0.66/0.67, "
            "spectral 0.06/0.00; davis sides: LEARN 0.30/0.26 (± 0.36: one seed of three "
            "separates the sides) vs about 0 for every baseline"
        ),
    },
)
