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

Baselines in the same recipe, the five of the paper's Tables 2-3 (Sec. 5.2, settings of
Sec. 5.3) and one stand-in of ours:

- ``deepwalk``: uniform walks, skip-gram with hierarchical softmax; ``node2vec``: ``p, q``
  biased walks, skip-gram with negative sampling (both gensim ``Word2Vec`` on walks made
  here; 10 walks of 80 steps, window 10, ``p = q = 1``);
- ``line``: first- and second-order LINE, ``d/2`` each, concatenated; lr 0.025, 5 negatives,
  10,000 edge samples per order (the paper's "training samples of 10,000", read literally);
- ``sdne``: SDNE's autoencoder with LEARN's layer sizes, ``alpha = 0.2``, ``beta = 10``;
- ``danmf``: deep autoencoder-like NMF with LEARN's layer sizes (ranks capped at ``n``),
  layer-wise NMF pretraining and multiplicative updates of its loss;
- ``spectral`` (not in the paper): Laplacian eigenmaps (scikit-learn).

Not run: BlogCatalog (its 10,312-vertex graph is not in torch-geometric), the parameter
sensitivity study of Sec. 5.7 / Fig. 3 (a figure only; ``--set`` reruns it by hand). The
baselines' embeddings are scored for link prediction by cosine similarity, LEARN by its
own ``R_hat``; the paper says only that it "follows [4]" (node2vec's 50%-hidden protocol,
which ``edge_split`` keeps: the residual graph stays connected).

At smoke scale (``Method.measured``) LEARN has the best mean link-prediction AUC, within the
seed spread of node2vec and DeepWalk; LINE clusters karate better than LEARN (Table 3 has
LEARN ahead of LINE), and SDNE stays near chance on these tiny graphs.
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

from patrec.core.checks import check_choice, check_int, check_scalar, check_tensor
from patrec.core.config import param, validate_config
from patrec.core.errors import ConfigError, InputError
from patrec.core.hub import PretrainedModel
from patrec.core.registry import Method
from patrec.core.train import TrainConfig
from patrec.graph_learning.graphs import (
    NETWORKX_GRAPHS,
    PYG_GRAPHS,
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

# LEARN, the five baselines of Tables 2-3 (Sec. 5.2) and one stand-in (spectral)
VARIANTS = ("learn", "deepwalk", "line", "sdne", "node2vec", "danmf", "spectral")


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
    check_choice(mode, "weight_norm", ("max", "none"))
    if mode == "max":
        top = max(ws)
    elif mode == "none":
        if max(ws) > 1.0:
            raise InputError(
                f"weight_norm='none' needs weights <= 1, the largest is {max(ws)}; use 'max'"
            )
        top = 1.0
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
    a = float(check_scalar(alpha, "alpha", gt=0, lt=1))  # eq. 1: alpha in (0, 1)
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
    a = float(check_scalar(alpha, "alpha", gt=0, lt=1))  # eq. 1: alpha in (0, 1)
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
        check_scalar(val_fraction, "val_fraction", ge=0, lt=1)
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
    a = float(check_scalar(alpha, "alpha", gt=0, lt=1))  # eq. 1: alpha in (0, 1)
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
    check_tensor(src_ids, "S", name="sources", array=True, dtype="int", range=(0, n - 1))
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
    if check_choice(kind, "vertex input", ("adjacency", "onehot")) == "onehot":
        return torch.eye(n)
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
        if len(hidden) == 0:
            raise InputError("hidden must name at least one layer size")
        for h in hidden:
            check_int(h, "hidden layer size", ge=1)
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

    def embed(self, x: Tensor) -> Tensor:
        """Vertex inputs ``(B, in_dim)`` -> embeddings ``(B, d)``."""
        check_tensor(x, f"B {self.in_dim}", name="x", dtype="float")
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
        dims: dict[str, int] = {}
        check_tensor(x_v, f"B {self.in_dim}", name="x_v", dims=dims, dtype="float")
        check_tensor(x_u, f"B {self.in_dim}", name="x_u", dims=dims, dtype="float")
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
        check_tensor(features, "N D", name="features", dtype="float", nonempty=True)
        check_int(features.shape[0], "number of vertices (features rows)", ge=2)
        self.register_buffer("features", features.float(), persistent=False)
        self.siamese = SiameseNet(features.shape[1], hidden, negative_slope)

    @property
    def num_nodes(self) -> int:
        return int(self.features.shape[0])

    def forward(self, src: Tensor, dst: Tensor) -> Tensor:
        """Relation logits ``(B,)`` of vertex pairs ``(src[i], dst[i])``.

        The tower runs once per distinct vertex of the batch (not once per pair side).
        """
        dims: dict[str, int] = {}
        ids = (0, self.num_nodes - 1)  # vertex ids
        check_tensor(src, "B", name="src", dims=dims, dtype="int", range=ids)
        check_tensor(dst, "B", name="dst", dims=dims, dtype="int", range=ids)
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
    dims: dict[str, int] = {}
    check_tensor(logits, "B", name="logits", dims=dims, dtype="float")
    check_tensor(target, "B", name="target", dims=dims, range=(0, 1))  # weights: weight_norm
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
        "graphs for link prediction",
        source="Sec. 5.4: Wiki and BlogCatalog (BlogCatalog's 10,312-vertex graph not supported)",
        choices=NETWORKX_GRAPHS + PYG_GRAPHS,
    )
    cluster_graphs: tuple[str, ...] = param(
        ("karate", "davis"),
        "labelled graphs for clustering (karate, davis, cora, citeseer, wiki)",
        source="Sec. 5.5: Cora, CiteSeer, Wiki",
        choices=NETWORKX_GRAPHS + PYG_GRAPHS,
    )


@dataclass
class LEARNSamplerConfig:
    """Vertex-domination sampling (Alg. 1) and the target relation (eqs. 1-2)."""

    walks_per_vertex: int = param(20, "r: walks per vertex", source="Sec. 5.3: r = 20", ge=1)
    walk_length: int = param(6, "l: steps per walk", source="Sec. 5.3: l = 6", ge=1)
    alpha_link: float = param(
        0.6, "alpha for link prediction (eq. 1, in (0, 1))", source="Sec. 5.3: 0.6", gt=0, lt=1
    )
    alpha_cluster: float = param(
        0.8, "alpha for clustering (eq. 1, in (0, 1))", source="Sec. 5.3: 0.8", gt=0, lt=1
    )
    neg_ratio: float = param(
        1.0,
        "negatives per positive of each source, from V - RW_v",
        source="not stated; our choice: balanced",
        ge=0,
    )
    weight_norm: str = param(
        "max",
        "max: w / max w; none: weights must be <= 1",
        source="not stated; our choice",
        choices=("max", "none"),
    )


@dataclass
class LEARNModelConfig:
    """The Siamese network."""

    hidden: tuple[int, ...] = param(
        (1000, 512, 128),
        "tower layer sizes; the last is d",
        source="Sec. 5.3: [1000-512-128], d = 128",
        ge=1,
        min_len=1,
    )
    input: str = param(
        "adjacency",
        "vertex input: adjacency (row of A + I) or onehot",
        source="not stated; our choice: adjacency rows (SDNE-style)",
        choices=("adjacency", "onehot"),
    )
    negative_slope: float = param(
        0.01,
        "leaky ReLU slope",
        source="Sec. 4.2: leaky ReLU; slope not stated (0.01)",
        ge=0,
        lt=1,
    )


@dataclass
class LEARNLossConfig:
    """eqs. 4-5."""

    lam: float = param(1e-5, "lambda of eq. 5", source="not stated; our choice", ge=0)
    negative_term: bool = param(
        True,
        "full binary cross-entropy (True) or eq. 4 as printed, -R log R_hat (False)",
        source="Sec. 4.1 names binary cross-entropy; eq. 4 prints only the positive term",
    )


@dataclass
class LEARNOptimConfig:
    """Mini-batch Adam with early stopping."""

    lr: float = param(1e-3, "Adam learning rate", source="Sec. 4.2: Adam; lr not stated", gt=0)
    val_fraction: float = param(
        0.1, "validation share of the pairs", source="Sec. 5.3: 90/10", ge=0, lt=1
    )
    patience: int = param(
        10, "early stopping: epochs without a better validation loss", source="not stated", ge=1
    )


@dataclass
class BaselineConfig:
    """The paper's baselines (Sec. 5.2-5.3), embedding dimension d as LEARN's.

    DeepWalk / node2vec: walks + skip-gram (gensim); LINE: first- and second-order
    proximity, concatenated; SDNE: a deep autoencoder of the adjacency rows with the tower's
    layer sizes; DANMF: deep autoencoder-like NMF with the tower's layer sizes.
    """

    num_walks: int = param(10, "walks per vertex", source="Sec. 5.3: 10", ge=1)
    walk_length: int = param(80, "walk length", source="Sec. 5.3: 80", ge=1)
    window: int = param(10, "skip-gram window", source="Sec. 5.3: 10", ge=1)
    p: float = param(1.0, "node2vec return parameter", source="Sec. 5.3: p = 1", gt=0)
    q: float = param(1.0, "node2vec in-out parameter", source="Sec. 5.3: q = 1", gt=0)
    epochs: int = param(
        5, "word2vec epochs", source="not stated; gensim's default", ge=1, le=100_000
    )
    negative: int = param(5, "node2vec negative samples", source="not stated; node2vec's 5", ge=1)
    line_lr: float = param(
        0.025, "LINE starting learning rate (linear decay)", source="Sec. 5.3: 0.025", gt=0
    )
    line_negative: int = param(5, "LINE negative samples", source="Sec. 5.3: 5", ge=1)
    line_samples: int = param(
        10_000, "LINE edge samples per order", source="Sec. 5.3: 'training samples of 10,000'", ge=1
    )
    line_batch: int = param(
        64, "LINE edges per SGD step", source="not stated; LINE itself: one edge a step", ge=1
    )
    sdne_alpha: float = param(0.2, "SDNE weight of the first-order term", source="Sec. 5.3", ge=0)
    sdne_beta: float = param(
        10.0, "SDNE reconstruction weight of non-zero entries", source="Sec. 5.3: 10", ge=1
    )
    sdne_nu: float = param(1e-5, "SDNE L2 weight decay", source="not stated; our choice", ge=0)
    sdne_epochs: int = param(
        500, "SDNE passes over the vertices", source="not stated; our choice", ge=1
    )
    sdne_lr: float = param(
        1e-3, "SDNE Adam learning rate", source="not stated; 1e-2 collapsed the codes", gt=0
    )
    sdne_batch: int = param(256, "SDNE vertices per step", source="not stated", ge=2)
    danmf_lambda: float = param(
        1.0, "DANMF graph-regularisation weight", source="not stated; our choice", ge=0
    )
    danmf_iters: int = param(
        100, "DANMF multiplicative-update iterations after pretraining", source="not stated", ge=1
    )
    danmf_pretrain_iters: int = param(
        200, "NMF iterations of each layer's pretraining", source="not stated", ge=1
    )


@dataclass
class LEARNEvalConfig:
    """Link prediction and clustering protocols (Sec. 5.4-5.5)."""

    test_fraction: float = param(0.5, "share of edges hidden", source="Sec. 5.4: 50%", gt=0, lt=1)
    keep_connected: bool = param(
        True, "never hide a random spanning forest's edges", source="node2vec [4]'s protocol"
    )
    kmeans_runs: int = param(10, "k-means runs averaged", source="Sec. 5.5: 10 runs", ge=1)
    kmeans_n_init: int = param(1, "restarts inside each k-means run", source="not stated", ge=1)


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
    variants: tuple[str, ...] = param(
        VARIANTS,
        "learn and the baselines of Tables 2-3 (deepwalk, line, sdne, node2vec, danmf), plus "
        "spectral (Laplacian eigenmaps, not in the paper)",
        source="Sec. 5.2",
        choices=VARIANTS,
        min_len=1,
    )
    seeds: tuple[int, ...] = param(
        (0, 1, 2), "one run of every variant per seed", source="Sec. 5.3: 10 repeats", min_len=1
    )
    checkpoints: bool = param(
        False, "write Trainer checkpoints of LEARN (resume mid-run); off: runs take seconds"
    )

    def validate(self) -> None:
        if not self.data.link_graphs and not self.data.cluster_graphs:
            raise ConfigError("data.link_graphs and data.cluster_graphs are both empty")


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
    karate NMI within the seed spread); LINE, SDNE, DANMF: the paper's settings with the
    [256-128-16] layers.
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


def _adjacency(g: nx.Graph) -> np.ndarray:
    """``(n, n)`` float64 weighted adjacency of a graph on ``0..n-1``, scaled by its max."""
    n = g.number_of_nodes()
    a = nx.to_numpy_array(g, nodelist=range(n), weight="weight", dtype=np.float64)
    top = a.max()
    return a / top if top > 0 else a


def line_embedding(
    graph: GraphData | nx.Graph,
    dim: int,
    *,
    samples: int = 10_000,
    negative: int = 5,
    lr: float = 0.025,
    batch_size: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """LINE (Tang et al. 2015): first- and second-order proximity, concatenated (Sec. 5.2).

    Each order is trained on ``samples`` edges drawn with probability proportional to their
    weight (both directions), each with ``negative`` noise vertices drawn from
    ``P_n(v) ~ d_v^{3/4}``; loss ``-log s(u_j . u_i) - sum_n log s(-u_n . u_i)``, where ``u_j``
    is the vertex vector itself (first order) or a separate context vector (second order).
    SGD on the summed loss of ``batch_size`` edges, learning rate ``lr`` decayed linearly
    to 0 (LINE's schedule; LINE updates one edge at a time). Each half (``dim // 2`` and
    ``dim - dim // 2``) is L2-normalised per vertex before concatenation, as in LINE.

    Returns ``(n, dim)`` float32 embeddings.
    """
    g = _as_graph(graph)
    d = check_int(dim, "dim", ge=2)
    t_total = check_int(samples, "samples", ge=1)
    k = check_int(negative, "negative", ge=1)
    b = check_int(batch_size, "batch_size", ge=1)
    rate = float(check_scalar(lr, "lr", gt=0))
    n = g.number_of_nodes()
    ed = [(u, v, float(w)) for u, v, w in g.edges(data="weight", default=1.0)]
    if not ed:
        raise InputError("LINE needs at least one edge")
    src = torch.tensor([u for u, _, _ in ed] + [v for _, v, _ in ed])
    dst = torch.tensor([v for _, v, _ in ed] + [u for u, _, _ in ed])
    w = torch.tensor([x for *_, x in ed] * 2, dtype=torch.float64)
    deg = torch.zeros(n, dtype=torch.float64).index_add_(0, src, w)
    noise = deg.pow(0.75) + 1e-12  # isolated vertices are (almost) never drawn
    gen = torch.Generator().manual_seed(seed)
    steps = -(-t_total // b)
    parts = []
    for order, width in ((1, d // 2), (2, d - d // 2)):
        emb = ((torch.rand(n, width, generator=gen) - 0.5) / width).requires_grad_()
        ctx = emb if order == 1 else torch.zeros(n, width, requires_grad=True)
        params = [emb] if order == 1 else [emb, ctx]
        for t in range(steps):
            m = min(b, t_total - t * b)
            e = torch.multinomial(w, m, replacement=True, generator=gen)
            neg = torch.multinomial(noise, m * k, replacement=True, generator=gen).view(m, k)
            u = emb[src[e]]
            pos = (u * ctx[dst[e]]).sum(-1)
            ngs = (u[:, None, :] * ctx[neg]).sum(-1)
            loss = -(F.logsigmoid(pos) + F.logsigmoid(-ngs).sum(-1)).sum()
            grads = torch.autograd.grad(loss, params)
            step = rate * max(1.0 - t / steps, 1e-4)
            with torch.no_grad():
                for p_, g_ in zip(params, grads, strict=True):
                    p_.sub_(step * g_)
        parts.append(F.normalize(emb.detach(), dim=1))
    return torch.cat(parts, dim=1).numpy().astype(np.float32)


class SDNEAutoencoder(nn.Module):
    """SDNE's deep autoencoder (Wang et al. 2016): sigmoid layers ``n -> hidden -> n``.

    ``forward(s (B, n)) -> (y (B, d), s_hat (B, n))``; ``y`` is the embedding.
    """

    def __init__(self, n: int, hidden: Sequence[int]) -> None:
        super().__init__()
        sizes = [check_int(n, "n", ge=1), *(check_int(h, "hidden", ge=1) for h in hidden)]
        enc: list[nn.Module] = []
        dec: list[nn.Module] = []
        for a, b in zip(sizes, sizes[1:], strict=False):
            enc += [nn.Linear(a, b), nn.Sigmoid()]
        for a, b in zip(sizes[::-1], sizes[-2::-1], strict=False):
            dec += [nn.Linear(a, b), nn.Sigmoid()]
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def forward(self, s: Tensor) -> tuple[Tensor, Tensor]:
        y = self.encoder(s)
        return y, self.decoder(y)


def sdne_loss(
    s: Tensor, s_hat: Tensor, y: Tensor, s_batch: Tensor, *, alpha: float, beta: float
) -> Tensor:
    """SDNE's ``L_2nd + alpha L_1st`` on a batch of vertices (its eqs. 3-4).

    ``L_2nd = sum_i ||(s_hat_i - s_i) * b_i||^2`` with ``b_ij = beta`` where ``s_ij > 0``
    else 1; ``L_1st = sum_{i,j in batch} s_ij ||y_i - y_j||^2``. ``s``, ``s_hat``:
    ``(B, n)`` adjacency rows and reconstructions; ``y``: ``(B, d)``; ``s_batch``: ``(B, B)``
    adjacency among the batch's vertices. The L2 term is the optimiser's weight decay.
    """
    dims: dict[str, int] = {}
    check_tensor(s, "B N", name="s", dims=dims, dtype="float")
    check_tensor(s_hat, "B N", name="s_hat", dims=dims, dtype="float")
    check_tensor(y, "B D", name="y", dims=dims, dtype="float")
    check_tensor(s_batch, "B B", name="s_batch", dims=dims, dtype="float")
    a = float(check_scalar(alpha, "alpha", ge=0))
    bw = torch.where(s > 0, float(check_scalar(beta, "beta", ge=1)), 1.0)
    second = ((s_hat - s) * bw).pow(2).sum()
    first = (s_batch * torch.cdist(y, y).pow(2)).sum()
    return second + a * first


def sdne_embedding(
    graph: GraphData | nx.Graph,
    hidden: Sequence[int],
    *,
    alpha: float = 0.2,
    beta: float = 10.0,
    nu: float = 1e-5,
    epochs: int = 500,
    lr: float = 1e-3,
    batch_size: int = 256,
    seed: int = 0,
) -> np.ndarray:
    """SDNE: the autoencoder's code of each adjacency row (weights scaled by their max).

    Adam (weight decay ``nu``) on :func:`sdne_loss` over shuffled vertex batches, ``epochs``
    passes. Returns ``(n, hidden[-1])`` float32 embeddings.
    """
    g = _as_graph(graph)
    s_all = torch.from_numpy(_adjacency(g)).float()
    n = s_all.shape[0]
    torch.manual_seed(seed)
    net = SDNEAutoencoder(n, hidden)
    opt = torch.optim.Adam(net.parameters(), lr=float(check_scalar(lr, "lr", gt=0)),
                           weight_decay=float(check_scalar(nu, "nu", ge=0)))  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    b = check_int(batch_size, "batch_size", ge=2)
    for _ in range(check_int(epochs, "epochs", ge=1)):
        for idx in torch.randperm(n, generator=gen).split(b):
            s = s_all[idx]
            y, s_hat = net(s)
            loss = sdne_loss(s, s_hat, y, s[:, idx], alpha=alpha, beta=beta)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return net(s_all)[0].numpy().astype(np.float32)


def danmf_objective(a: np.ndarray, zs: Sequence[np.ndarray], v: np.ndarray, lam: float) -> float:
    """DANMF's loss (Ye et al. 2018): ``||A - Psi V||^2 + ||V - Psi^T A||^2 + lam tr(V L V^T)``.

    ``Psi = Z_1 ... Z_p`` (``(n, k_p)``), ``V`` ``(k_p, n)``, ``L = D - A``.
    """
    psi = functools.reduce(np.matmul, zs)
    lap = np.diag(a.sum(1)) - a
    return float(
        np.square(a - psi @ v).sum()
        + np.square(v - psi.T @ a).sum()
        + lam * np.trace(v @ lap @ v.T)
    )


def danmf_embedding(
    graph: GraphData | nx.Graph,
    hidden: Sequence[int],
    *,
    lam: float = 1.0,
    iters: int = 100,
    pretrain_iters: int = 200,
    seed: int = 0,
    return_history: bool = False,
) -> np.ndarray | tuple[np.ndarray, list[float]]:
    """DANMF: deep autoencoder-like NMF, ``A ~ Z_1 ... Z_p V_p``, ``V_p ~ Z_p^T ... Z_1^T A``.

    Layer ranks ``hidden`` (each capped at ``n``; the paper gives DANMF LEARN's layer sizes);
    each layer pretrained by a shallow NMF (scikit-learn) of the one before, then ``iters``
    multiplicative updates of :func:`danmf_objective` (its gradient split into positive and
    negative parts, so every factor stays non-negative and the loss does not increase):

    - ``Z_i <- Z_i * (2 P^T A H^T) / (P^T P Z_i H H^T + P^T A A P Z_i Q Q^T)``, with
      ``P = Z_1..Z_{i-1}``, ``Q = Z_{i+1}..Z_p``, ``H = Q V_p``;
    - ``V_p <- V_p * (2 Psi^T A + lam V_p A) / (Psi^T Psi V_p + V_p + lam V_p D)``.

    Returns ``V_p^T`` ``(n, k_p)`` float32 (and the loss per iteration if asked).
    """
    import warnings

    from sklearn.decomposition import NMF

    g = _as_graph(graph)
    a = _adjacency(g)
    n = a.shape[0]
    lam_ = float(check_scalar(lam, "lam", ge=0))
    ranks = [min(check_int(h, "hidden", ge=1), n) for h in hidden]
    if not ranks:
        raise InputError("hidden must name at least one layer rank")
    zs: list[np.ndarray] = []
    x = a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short pretraining
        for i, r in enumerate(ranks):
            nmf = NMF(r, init="random", max_iter=check_int(pretrain_iters, "pretrain_iters", ge=1),
                      random_state=seed + i)  # fmt: skip
            zs.append(nmf.fit_transform(x))
            x = nmf.components_
    v = x
    deg = np.diag(a.sum(1))
    tiny = 1e-10
    hist = [danmf_objective(a, zs, v, lam_)]
    eye = [np.eye(r) for r in ranks]
    for _ in range(check_int(iters, "iters", ge=1)):
        for i in range(len(zs)):
            p = functools.reduce(np.matmul, zs[:i], np.eye(n))
            q = functools.reduce(np.matmul, zs[i + 1 :], eye[i])
            h = q @ v
            pa = p.T @ a
            num = 2 * pa @ h.T
            den = p.T @ p @ zs[i] @ h @ h.T + pa @ pa.T @ zs[i] @ q @ q.T
            zs[i] = zs[i] * num / np.maximum(den, tiny)
        psi = functools.reduce(np.matmul, zs)
        num = 2 * psi.T @ a + lam_ * v @ a
        den = psi.T @ psi @ v + v + lam_ * v @ deg
        v = v * num / np.maximum(den, tiny)
        hist.append(danmf_objective(a, zs, v, lam_))
    emb = v.T.astype(np.float32)
    return (emb, hist) if return_history else emb


def cosine_scores(embeddings: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Cosine similarity of the embeddings of each vertex pair: ``(m,)``."""
    x = check_tensor(np.asarray(embeddings, dtype=np.float64), "N D", name="embeddings", array=True)
    p = check_pairs(pairs, x.shape[0])
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    out: np.ndarray = (xn[p[:, 0]] * xn[p[:, 1]]).sum(1)
    return out


# ---------------------------------------------------------------------------------------
# recipe
# ---------------------------------------------------------------------------------------


def _embed(
    variant: str,
    graph: GraphData,
    cfg: LEARNConfig,
    seed: int,
    alpha: float,
    run_dir: Path,
) -> tuple[np.ndarray, TrainedLEARN | None]:
    b = cfg.baselines
    hidden = cfg.model.hidden
    d = hidden[-1]
    if variant == "learn":
        tl = fit_learn(graph, cfg, alpha=alpha, seed=seed, out_dir=run_dir)
        return tl.embeddings, tl
    emb: np.ndarray
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
    elif variant == "line":
        emb = line_embedding(
            graph, d, samples=b.line_samples, negative=b.line_negative, lr=b.line_lr,
            batch_size=b.line_batch, seed=seed,
        )  # fmt: skip
    elif variant == "sdne":
        emb = sdne_embedding(
            graph, hidden, alpha=b.sdne_alpha, beta=b.sdne_beta, nu=b.sdne_nu,
            epochs=b.sdne_epochs, lr=b.sdne_lr, batch_size=b.sdne_batch, seed=seed,
        )  # fmt: skip
    elif variant == "danmf":
        out = danmf_embedding(
            graph, hidden, lam=b.danmf_lambda, iters=b.danmf_iters,
            pretrain_iters=b.danmf_pretrain_iters, seed=seed,
        )  # fmt: skip
        assert isinstance(out, np.ndarray)
        emb = out
    else:
        emb = spectral_embedding(graph, d, seed=seed)
    return emb, None


def _task_run(
    task: str,
    variant: str,
    data: GraphData,
    split: Any,
    cfg: LEARNConfig,
    seed: int,
    run_dir: Path,
) -> dict[str, Any]:
    """Embed (and score) one graph for one task with one variant and seed."""
    t0 = time.perf_counter()
    if task == "link":
        g = data.with_graph(split.train)
        emb, tl = _embed(variant, g, cfg, seed, cfg.sampler.alpha_link, run_dir)
        if tl is not None:
            sp, sn = tl.score(split.pos), tl.score(split.neg)
        else:
            sp, sn = cosine_scores(emb, split.pos), cosine_scores(emb, split.neg)
        metrics = link_prediction_scores(sp, sn)
    else:
        emb, tl = _embed(variant, data, cfg, seed, cfg.sampler.alpha_cluster, run_dir)
        assert data.labels is not None
        metrics = clustering_scores(
            emb, data.labels, runs=cfg.eval.kmeans_runs, seed=seed, n_init=cfg.eval.kmeans_n_init
        )
    metrics["seconds"] = time.perf_counter() - t0
    res: dict[str, Any] = {"task": task, "graph": data.name, "metrics": metrics}
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


def _plot_projection(embs: dict[str, np.ndarray], data: GraphData, path: Path, seed: int) -> Path:
    """t-SNE (as the paper's Fig. 2) of each method's embeddings, coloured by class."""
    from sklearn.manifold import TSNE

    from patrec.core.report import pyplot as _plt
    from patrec.core.report import save_figure as _save

    plt = _plt()
    fig, axes = plt.subplots(1, len(embs), figsize=(3.2 * len(embs), 3.3))
    axes = np.atleast_1d(axes)
    assert data.labels is not None
    for ax, (name, e) in zip(axes, embs.items(), strict=True):
        perp = float(min(10.0, (e.shape[0] - 1) / 3))
        method = "exact" if e.shape[0] <= 1000 else "barnes_hut"  # exact: fast on tiny graphs
        tsne = TSNE(2, perplexity=perp, init="pca", random_state=seed, method=method)
        xy = tsne.fit_transform(e.astype(np.float64))
        for c, cname in enumerate(data.label_names):
            m = data.labels == c
            ax.scatter(xy[m, 0], xy[m, 1], s=18, label=cname)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{data.name}: t-SNE of the embeddings (seed {seed}), coloured by class", y=1.04)
    return _save(fig, path)


def recipe(cfg: LEARNConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """LEARN and its baselines on link prediction and clustering, over every seed.

    Link prediction (Sec. 5.4): for each graph of ``data.link_graphs`` and seed, hide
    ``eval.test_fraction`` of the edges (:func:`~patrec.graph_learning.graphs.edge_split`,
    the same split for every variant), embed the residual graph, score held-out edges
    against as many non-edges: AUC and AP. Clustering (Sec. 5.5): embed each graph of
    ``data.cluster_graphs``, k-means with k = #classes, NMI and ARI averaged over
    ``eval.kmeans_runs`` runs. LEARN uses ``alpha_link`` / ``alpha_cluster``.

    One run of the experiment runner is one (variant, seed) over every task and graph, in
    ``runs/<variant>/seed<k>/``; inside it each task and graph is its own cached run,
    ``<task>/<graph>/`` (``result.json``, ``embedding.npy``, LEARN's ``model/``), so an
    interrupted recipe redoes only the graphs that did not finish.

    Writes ``metrics.json`` (per variant: the groups ``lp_auc``, ``lp_ap``, ``cl_nmi``,
    ``cl_ari`` (graph -> value) and their means over graphs ``auc``, ``ap``, ``nmi``, ``ari``,
    each mean ± std over seeds; ``test_edges`` per link graph), ``<metric>.png``,
    ``<group>_by_group.png``, ``<graph>_tsne.png`` (first clustering graph),
    ``learn_loss_curves.png`` and ``model/``: LEARN's Siamese net of the first seed on the
    first graph (the residual graph of the first link graph).
    """
    from patrec.core.experiment import Experiment, run_experiment
    from patrec.core.hub import load_example
    from patrec.core.report import plot_curves, run_once

    validate_config(cfg)
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
    splits: dict[tuple[str, int], Any] = {}

    def split_of(gname: str, seed: int) -> Any:
        if (gname, seed) not in splits:  # the same hidden edges for every variant
            splits[gname, seed] = edge_split(
                loaded[gname].graph, cfg.eval.test_fraction, seed,
                keep_connected=cfg.eval.keep_connected,
            )  # fmt: skip
        return splits[gname, seed]

    groups = [("lp", "link", ("auc", "ap")), ("cl", "cluster", ("nmi", "ari"))]

    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        sub: dict[str, dict[str, Any]] = {}
        for task, gname in tasks:
            d = run_dir / task / gname
            split = split_of(gname, seed) if task == "link" else None
            job = functools.partial(_task_run, task, variant, loaded[gname], split, cfg, seed, d)
            sub[f"{task}/{gname}"] = run_once(d, job)
        metrics: dict[str, Any] = {}
        for prefix, task, names in groups:
            graphs = [g for t, g in tasks if t == task]
            if not graphs:
                continue
            for m in names:
                per = {g: float(sub[f"{task}/{g}"]["metrics"][m]) for g in graphs}
                metrics[m] = float(np.mean(list(per.values())))
                metrics[f"{prefix}_{m}"] = per
        metrics["seconds"] = float(np.mean([r["metrics"]["seconds"] for r in sub.values()]))
        res: dict[str, Any] = {
            "metrics": metrics,
            "learn": {k: {key: r[key] for key in ("history", "best_epoch", "pairs") if key in r}
                      for k, r in sub.items()},
        }  # fmt: skip
        if variant == "learn":  # the net of the first task's graph is the run's model
            saved = run_dir / tasks[0][0] / tasks[0][1] / "model"
            res["model"] = SiameseNet.from_pretrained(saved)
            res["example"] = load_example(saved)[0]
        return res

    def plots(exp: Experiment) -> list[Path]:
        written: list[Path] = []
        if cfg.data.cluster_graphs:
            g0 = cfg.data.cluster_graphs[0]
            first = f"seed{cfg.seeds[0]}/cluster/{g0}/embedding.npy"
            embs = {v: np.load(out / "runs" / v / first) for v in cfg.variants}
            written.append(
                _plot_projection(embs, loaded[g0], out / f"{loaded[g0].name}_tsne.png",
                                 cfg.seeds[0])
            )  # fmt: skip
        if "learn" in exp.results:
            curves: dict[str, list[float]] = {}
            for seed, r in zip(cfg.seeds, exp.results["learn"], strict=True):
                for key, info in r["learn"].items():
                    if len(curves) < 6 and info.get("history"):
                        h = info["history"]
                        curves[f"{key} seed{seed} train"] = [e["train/l1"] for e in h]
                        curves[f"{key} seed{seed} val"] = [e["val/l1"] for e in h if "val/l1" in e]
            if curves:
                written.append(
                    plot_curves(
                        curves, out / "learn_loss_curves.png",
                        title="LEARN cross-entropy L1 (eq. 4) per epoch", ylabel="L1",
                    )
                )  # fmt: skip
        return written

    lg, cg = list(cfg.data.link_graphs), list(cfg.data.cluster_graphs)
    ours = "learn" if "learn" in cfg.variants else cfg.variants[0]
    return run_experiment(
        out,
        method="graph-learning/learn",
        variants=cfg.variants,
        seeds=cfg.seeds,
        run_one=run_one,
        primary="auc" if lg else "nmi",
        ours=ours,
        bars=[m for m in ("auc", "ap") if lg] + [m for m in ("nmi", "ari") if cg],
        labels={"lp_auc": "AUC", "lp_ap": "AP", "cl_nmi": "NMI", "cl_ari": "ARI"},
        extra={
            "link_graphs": lg,
            "cluster_graphs": cg,
            "test_fraction": cfg.eval.test_fraction,
            "test_edges": {g: len(split_of(g, cfg.seeds[0]).pos) for g in lg},
            "graphs": {
                g: {"nodes": d.num_nodes, "edges": d.num_edges, "weighted": d.weighted}
                for g, d in loaded.items()
            },
        },
        plots=plots,
    ).metrics


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
        "deepwalk: uniform walks + skip-gram (hierarchical softmax) (Tables 2-3)",
        "line: first- + second-order LINE, concatenated (Tables 2-3)",
        "sdne: SDNE's deep autoencoder, LEARN's layer sizes, alpha 0.2, beta 10 (Tables 2-3)",
        "node2vec: (p, q) walks + skip-gram (negative sampling) (Tables 2-3)",
        "danmf: deep autoencoder-like NMF, LEARN's layer sizes (Tables 2-3)",
        "spectral: Laplacian eigenmaps (not in the paper)",
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
            "0.616 / 0.633, DANMF 0.560 / 0.578, LINE 0.542 / 0.601, SDNE 0.483 / 0.505, "
            "spectral 0.447 / 0.531; LEARN leads on karate (AUC 0.68 vs 0.65 node2vec) and "
            "davis (0.69 vs 0.64 SDNE) and trails on les_miserables (0.75 vs 0.82 DeepWalk) "
            "and florentine (0.44 vs 0.61 spectral, 6 test edges); seed spreads overlap with "
            "node2vec and DeepWalk. SDNE is at chance at this scale (its sigmoid codes nearly "
            "collapse on graphs of 15-77 vertices), unlike its 0.90-0.93 in Table 2"
        ),
        "smoke clustering (3 seeds), NMI / ARI": (
            "karate clubs: LINE 0.84/0.88 vs LEARN 0.75/0.77, node2vec 0.74/0.76, DeepWalk "
            "0.66/0.67, DANMF 0.30/0.26, SDNE 0.24/0.24, spectral 0.06/0.00 (LEARN's lead "
            "of Table 3 over LINE does not show on karate); davis sides: LEARN 0.30/0.26 "
            "(± 0.36: one seed of three separates the sides) vs <= 0.03 for every baseline"
        ),
    },
    test_overrides=(
        "data.link_graphs=[florentine]",
        "data.cluster_graphs=[karate]",
        "model.hidden=[32,8]",
        "sampler.walks_per_vertex=5",
        "train.epochs=3",
        "baselines.num_walks=2",
        "baselines.walk_length=10",
        "baselines.line_samples=500",
        "baselines.sdne_epochs=20",
        "baselines.danmf_iters=10",
        "baselines.danmf_pretrain_iters=20",
        "eval.kmeans_runs=2",
        "seeds=[0]",
    ),
)
