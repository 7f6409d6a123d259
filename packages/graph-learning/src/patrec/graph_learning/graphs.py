"""Graph utilities shared by the graph-learning methods.

- :class:`GraphData`: an undirected graph with vertices ``0..n-1``, positive float edge
  weights under ``"weight"``, optional integer vertex labels and the original vertex names.
- Loaders by name: the networkx graphs that ship with the install (:func:`load_networkx`:
  ``karate``, ``les_miserables``, ``florentine``, ``davis``) and torch-geometric's Cora,
  CiteSeer (``Planetoid``) and Wiki (``AttributedGraphDataset``) from a local folder
  (:func:`load_pyg`, never downloads). :func:`load_graph` dispatches on the name.
- :func:`check_graph`: validation that raises :class:`~patrec.core.errors.InputError`.
- :func:`to_indexed`: any valid networkx graph -> :class:`GraphData`.
- :class:`CSRGraph` / :func:`random_walks`: vectorised first-order (DeepWalk) and
  second-order node2vec ``(p, q)`` walks; :func:`hop_distances`: BFS hop counts.
- :func:`edge_split`: link-prediction split (held-out edges, as many seeded non-edges).
- :func:`link_prediction_scores` (AUC, AP) and :func:`clustering_scores` (k-means, NMI, ARI).

Conventions: self-loops are rejected (a relation of a vertex with itself carries no
structure for embeddings; :func:`load_pyg` drops the few that raw files contain and counts
them), directed graphs and multigraphs are rejected, weights must be finite and ``> 0``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from patrec.core.errors import ConfigError, DataError, InputError

__all__ = [
    "NETWORKX_GRAPHS",
    "PYG_GRAPHS",
    "CSRGraph",
    "EdgeSplit",
    "GraphData",
    "check_graph",
    "check_pairs",
    "clustering_scores",
    "edge_split",
    "hop_distances",
    "link_prediction_scores",
    "load_graph",
    "load_networkx",
    "load_pyg",
    "random_walks",
    "to_indexed",
]

NETWORKX_GRAPHS = ("karate", "les_miserables", "florentine", "davis")
PYG_GRAPHS = ("cora", "citeseer", "wiki")


# ---------------------------------------------------------------------------------------
# the graph record and its validation
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphData:
    """An undirected graph ready for embedding.

    Attributes:
        name: short name (``"karate"``, ``"cora"``, ...).
        graph: ``networkx.Graph`` on vertices ``0..n-1``; every edge has a float
            ``"weight" > 0`` (1.0 on unweighted graphs).
        weighted: whether the weights carry information (``False``: all 1).
        labels: ``(n,)`` int64 class of each vertex, or ``None``.
        label_names: name of each class (``labels`` indexes it).
        node_names: the original vertex of each index (``str`` of the networkx node).
        info: free-form notes (e.g. self-loops dropped by a loader).
    """

    name: str
    graph: nx.Graph
    weighted: bool = False
    labels: np.ndarray | None = None
    label_names: tuple[str, ...] = ()
    node_names: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return int(self.graph.number_of_nodes())

    @property
    def num_edges(self) -> int:
        return int(self.graph.number_of_edges())

    @property
    def num_classes(self) -> int:
        return 0 if self.labels is None else int(self.labels.max()) + 1

    def with_graph(self, graph: nx.Graph) -> GraphData:
        """The same record (labels, names) on another graph over the same vertices."""
        if graph.number_of_nodes() != self.num_nodes:
            raise InputError(
                f"with_graph: the new graph must keep the {self.num_nodes} vertices, "
                f"got {graph.number_of_nodes()}"
            )
        return GraphData(
            self.name,
            graph,
            self.weighted,
            self.labels,
            self.label_names,
            self.node_names,
            dict(self.info),
        )


def check_graph(graph: object, *, name: str = "graph", weight: str = "weight") -> nx.Graph:
    """Validate a graph for embedding; return it unchanged.

    Accepted: an undirected ``networkx.Graph`` (not a multigraph) with at least 2 vertices
    and 1 edge, no self-loops, and edge weights (attribute ``weight``, default 1 when
    absent) that are finite and ``> 0`` (the paper's setting, Sec. 3.1: non-negative weights;
    a zero weight means "no edge" there, so it is rejected as an edge).

    Raises:
        InputError: naming what was wrong and what is accepted.
    """
    if not isinstance(graph, nx.Graph):
        raise InputError(f"{name} must be a networkx.Graph, got {type(graph).__name__}")
    if graph.is_directed():
        raise InputError(
            f"{name} must be undirected, got a {type(graph).__name__}; "
            "use graph.to_undirected() if the relation is symmetric"
        )
    if graph.is_multigraph():
        raise InputError(
            f"{name} must be a simple graph, got a {type(graph).__name__}; "
            "merge parallel edges (e.g. sum their weights) into a networkx.Graph"
        )
    if graph.number_of_nodes() < 2:
        raise InputError(f"{name} must have at least 2 vertices, got {graph.number_of_nodes()}")
    if graph.number_of_edges() == 0:
        raise InputError(f"{name} has no edges; embeddings need at least one edge")
    loops = nx.number_of_selfloops(graph)
    if loops:
        raise InputError(
            f"{name} has {loops} self-loop(s); they are not accepted, remove them with "
            "graph.remove_edges_from(list(networkx.selfloop_edges(graph)))"
        )
    for u, v, w in graph.edges(data=weight, default=1.0):
        if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)):
            raise InputError(f"{name}: weight of edge ({u!r}, {v!r}) must be a number, got {w!r}")
        if not math.isfinite(float(w)) or float(w) <= 0:
            raise InputError(
                f"{name}: weight of edge ({u!r}, {v!r}) must be finite and > 0 "
                f"(non-negative weights only, Sec. 3.1), got {w!r}"
            )
    return graph


def to_indexed(
    graph: nx.Graph,
    *,
    name: str = "graph",
    weighted: bool | None = None,
    labels: Sequence[Hashable] | Mapping[Any, Any] | None = None,
) -> GraphData:
    """Any valid networkx graph as a :class:`GraphData` on vertices ``0..n-1``.

    Vertices keep networkx's order (``list(graph)``). ``weighted=None`` reads the
    ``weight`` attribute when any edge has one; ``False`` sets every weight to 1.
    ``labels`` maps each vertex (dict) or gives one label per vertex in order (sequence);
    classes are numbered in sorted order of their names.

    Raises:
        InputError: invalid graph (see :func:`check_graph`), labels of the wrong length or
            for unknown vertices.
    """
    check_graph(graph, name=name)
    nodes = list(graph)
    index = {v: i for i, v in enumerate(nodes)}
    has_w = any("weight" in d for _, _, d in graph.edges(data=True))
    use_w = has_w if weighted is None else bool(weighted)
    h = nx.Graph()
    h.add_nodes_from(range(len(nodes)))
    for u, v, d in graph.edges(data=True):
        w = float(d.get("weight", 1.0)) if use_w else 1.0
        h.add_edge(index[u], index[v], weight=w)
    lab: np.ndarray | None = None
    names: tuple[str, ...] = ()
    if labels is not None:
        if isinstance(labels, Mapping):
            unknown = [k for k in labels if k not in index]
            if unknown:
                raise InputError(f"labels name vertices not in the graph: {unknown[:5]}")
            missing = [v for v in nodes if v not in labels]
            if missing:
                raise InputError(f"labels miss {len(missing)} vertices, e.g. {missing[:5]}")
            seq = [labels[v] for v in nodes]
        else:
            seq = list(labels)
            if len(seq) != len(nodes):
                raise InputError(
                    f"labels must give one label per vertex ({len(nodes)}), got {len(seq)}"
                )
        classes = sorted({str(c) for c in seq})
        cid = {c: i for i, c in enumerate(classes)}
        lab = np.array([cid[str(c)] for c in seq], dtype=np.int64)
        names = tuple(classes)
    return GraphData(name, h, use_w, lab, names, tuple(str(v) for v in nodes))


def check_pairs(pairs: object, num_nodes: int, *, name: str = "pairs") -> np.ndarray:
    """Vertex pairs as an ``(m, 2)`` int64 array with every id in ``0..num_nodes-1``.

    Raises:
        InputError: wrong shape or dtype, or an unknown vertex id.
    """
    arr = np.asarray(pairs.cpu() if hasattr(pairs, "cpu") else pairs)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{name} must be an (m, 2) array of vertex ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} must hold integer vertex ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    bad = (arr < 0) | (arr >= num_nodes)
    if bad.any():
        raise InputError(
            f"{name} name unknown vertices {sorted(set(arr[bad].tolist()))[:5]}; "
            f"ids must be in 0..{num_nodes - 1}"
        )
    return arr


# ---------------------------------------------------------------------------------------
# loaders
# ---------------------------------------------------------------------------------------


def load_networkx(name: str, *, weighted: bool | None = None) -> GraphData:
    """One of networkx's embedded graphs (offline).

    - ``karate``: Zachary's karate club, 34 vertices, 78 edges, labels = ``club``
      (``Mr. Hi`` / ``Officer``). Default unweighted (the classic benchmark); its
      interaction counts 1-7 are used with ``weighted=True``.
    - ``les_miserables``: 77 characters, 254 edges weighted by co-appearances (1-31),
      weighted by default; no labels.
    - ``florentine``: 15 Florentine families, 20 marriage ties, unweighted; no labels.
    - ``davis``: Davis southern women, bipartite, 18 women + 14 events, 89 attendance
      edges, unweighted; labels = the bipartite side (``event`` / ``woman``), the only
      ground-truth partition the graph carries (every 2-hop pair is same-side).

    Raises:
        ConfigError: unknown name.
    """
    key = name.lower()
    if key == "karate":
        g = nx.karate_club_graph()
        return to_indexed(
            g,
            name=key,
            weighted=bool(weighted),
            labels={v: g.nodes[v]["club"] for v in g},
        )
    if key == "les_miserables":
        g = nx.les_miserables_graph()
        return to_indexed(g, name=key, weighted=True if weighted is None else weighted)
    if key == "florentine":
        return to_indexed(nx.florentine_families_graph(), name=key, weighted=False)
    if key == "davis":
        g = nx.davis_southern_women_graph()
        side = {v: ("woman" if g.nodes[v]["bipartite"] == 0 else "event") for v in g}
        return to_indexed(g, name=key, weighted=False, labels=side)
    raise ConfigError(
        f"unknown networkx graph {name!r}; expected one of {', '.join(NETWORKX_GRAPHS)}"
    )


def _pyg_raw_files(name: str, root: Path) -> tuple[Path, list[str]]:
    if name in ("cora", "citeseer"):
        folder = root / ("Cora" if name == "cora" else "CiteSeer") / "raw"
        parts = ["x", "tx", "allx", "y", "ty", "ally", "graph", "test.index"]
        return folder, [f"ind.{name}.{p}" for p in parts]
    folder = root / "wiki" / "raw"
    return folder, ["attrs.npz", "edgelist.txt", "labels.txt"]


def _read_attributed_raw(folder: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Edges and labels of an AttributedGraphDataset raw folder, read as PyG's process does.

    ``edgelist.txt``: one ``src dst`` pair per line (any whitespace or comma separator);
    ``labels.txt``: ``vertex label [label ...]`` per line, labels 1-based.
    Used when pandas (which PyG's own ``process`` needs) is not installed.
    """
    import re

    rows = [r for r in (folder / "edgelist.txt").read_text().splitlines() if r.strip()]
    edges = np.array([[int(t) for t in re.split(r"[\s,]+", r.strip())[:2]] for r in rows])
    lab_rows = [r for r in (folder / "labels.txt").read_text().split("\n")[:-1]]
    ys = [[int(t) - 1 for t in r.split()[1:]] for r in lab_rows]
    if max(len(y) for y in ys) > 1:
        raise DataError(f"{folder / 'labels.txt'}: multi-label rows are not supported here")
    y = np.array([r[0] for r in ys], dtype=np.int64)
    return edges.reshape(-1, 2), y, len(ys)


def load_pyg(name: str, root: str | Path | None) -> GraphData:
    """Cora / CiteSeer (``Planetoid``) or Wiki (``AttributedGraphDataset``) from ``root``.

    Expected files (torch-geometric's layout; nothing is downloaded):

    - ``root/Cora/raw/ind.cora.{x,tx,allx,y,ty,ally,graph,test.index}``
    - ``root/CiteSeer/raw/ind.citeseer.{...}``
    - ``root/wiki/raw/{attrs.npz,edgelist.txt,labels.txt}``

    The raw files are checked before the dataset is built (its constructor would download
    them otherwise). Edges are made undirected, duplicates merged, self-loops dropped (their
    count is in ``info["self_loops_dropped"]``); vertices keep PyG's numbering, labels its
    classes. Unweighted (every weight 1).

    Raises:
        ConfigError: unknown name. DataError: ``root`` or a raw file is missing.
    """
    from patrec.core.data import require_path

    key = name.lower()
    if key not in PYG_GRAPHS:
        raise ConfigError(f"unknown torch-geometric graph {name!r}; expected one of {PYG_GRAPHS}")
    hint = (
        "put torch-geometric's raw files there (Planetoid: <root>/Cora/raw/ind.cora.*, "
        "AttributedGraphDataset: <root>/wiki/raw/{attrs.npz,edgelist.txt,labels.txt}); "
        "nothing is downloaded"
    )
    base = require_path(root, f"{key} dataset folder", hint)
    folder, files = _pyg_raw_files(key, base)
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{key}: {folder} lacks {', '.join(missing)}; {hint}")
    edge_index: np.ndarray
    if key in ("cora", "citeseer"):
        from torch_geometric.datasets import Planetoid

        ds = Planetoid(str(base), "Cora" if key == "cora" else "CiteSeer")
        d = ds[0]
        edge_index = d.edge_index.numpy().T
        y = d.y.numpy().astype(np.int64)
        n = int(d.num_nodes)
    else:
        processed = base / "wiki" / "processed" / "data.pt"
        import importlib.util

        # PyG's AttributedGraphDataset.process reads the raw files with pandas
        have_pandas = importlib.util.find_spec("pandas") is not None
        if have_pandas or processed.is_file():
            from torch_geometric.datasets import AttributedGraphDataset

            d = AttributedGraphDataset(str(base), "wiki")[0]
            edge_index = d.edge_index.numpy().T
            y = d.y.numpy().astype(np.int64)
            n = int(d.num_nodes)
        else:
            edge_index, y, n = _read_attributed_raw(folder)
    if edge_index.size and (edge_index.min() < 0 or edge_index.max() >= n):
        raise DataError(f"{key}: edge list names vertices outside 0..{n - 1}")
    g = nx.Graph()
    g.add_nodes_from(range(n))
    loops = int((edge_index[:, 0] == edge_index[:, 1]).sum())
    g.add_edges_from(
        ((int(a), int(b)) for a, b in edge_index if a != b),
        weight=1.0,
    )
    classes = tuple(str(c) for c in range(int(y.max()) + 1))
    return GraphData(
        key,
        g,
        False,
        y,
        classes,
        tuple(str(i) for i in range(n)),
        {"self_loops_dropped": loops, "components": nx.number_connected_components(g)},
    )


def load_graph(
    name: str, root: str | Path | None = None, *, weighted: bool | None = None
) -> GraphData:
    """A graph by name: :data:`NETWORKX_GRAPHS` (embedded) or :data:`PYG_GRAPHS` (``root``)."""
    key = name.lower()
    if key in NETWORKX_GRAPHS:
        return load_networkx(key, weighted=weighted)
    if key in PYG_GRAPHS:
        return load_pyg(key, root)
    raise ConfigError(
        f"unknown graph {name!r}; expected one of {', '.join(NETWORKX_GRAPHS + PYG_GRAPHS)}"
    )


# ---------------------------------------------------------------------------------------
# adjacency, hops and random walks
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CSRGraph:
    """Compressed adjacency of an undirected graph on ``0..n-1`` (both directions stored).

    ``indices[indptr[v]:indptr[v+1]]`` are the neighbours of ``v`` (sorted) and ``weights``
    the matching edge weights.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray

    @property
    def num_nodes(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    @classmethod
    def from_graph(cls, graph: nx.Graph) -> CSRGraph:
        """From a graph on vertices ``0..n-1`` (validated)."""
        check_graph(graph)
        n = graph.number_of_nodes()
        if set(graph) != set(range(n)):
            raise InputError("graph vertices must be 0..n-1; convert it with to_indexed()")
        a = nx.to_scipy_sparse_array(graph, nodelist=range(n), weight="weight", format="csr")
        a.sort_indices()
        return cls(
            a.indptr.astype(np.int64),
            a.indices.astype(np.int64),
            a.data.astype(np.float64),
        )

    def scipy(self) -> Any:
        import scipy.sparse as sp

        n = self.num_nodes
        return sp.csr_array((self.weights, self.indices, self.indptr), shape=(n, n))

    @cached_property
    def _edge_keys(self) -> np.ndarray:
        n = self.num_nodes
        keys: np.ndarray = np.repeat(np.arange(n, dtype=np.int64), self.degree) * n + self.indices
        return keys  # sorted: rows in order, neighbours sorted within a row

    def has_edge(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Vectorised edge test: ``(m,)`` bool for arrays ``u, v`` of vertex ids."""
        keys = self._edge_keys
        q = np.asarray(u, dtype=np.int64) * self.num_nodes + np.asarray(v, dtype=np.int64)
        if keys.size == 0:
            return np.zeros(q.shape, dtype=bool)
        pos = np.clip(np.searchsorted(keys, q), 0, keys.size - 1)
        found: np.ndarray = keys[pos] == q
        return found


def hop_distances(
    graph: nx.Graph | CSRGraph, sources: Sequence[int] | np.ndarray, limit: int | None = None
) -> np.ndarray:
    """BFS hop counts from each source: ``(len(sources), n)`` float, ``inf`` if unreachable.

    With ``limit``, vertices more than ``limit`` hops away are reported as ``inf``.
    """
    from scipy.sparse.csgraph import dijkstra

    csr = graph if isinstance(graph, CSRGraph) else CSRGraph.from_graph(graph)
    src = np.asarray(sources, dtype=np.int64)
    if src.size and (src.min() < 0 or src.max() >= csr.num_nodes):
        raise InputError(f"sources must be vertex ids in 0..{csr.num_nodes - 1}")
    lim = np.inf if limit is None else float(limit)
    out: np.ndarray = dijkstra(csr.scipy(), directed=False, indices=src, unweighted=True, limit=lim)
    return out.reshape(len(src), csr.num_nodes)


def _first_order_step(
    csr: CSRGraph, cur: np.ndarray, u: np.ndarray, cumw: np.ndarray | None
) -> np.ndarray:
    """CSR position of the next edge of each walker (uniform, or proportional to weight)."""
    lo, hi = csr.indptr[cur], csr.indptr[cur + 1]
    if cumw is None:
        return lo + np.minimum((u * (hi - lo)).astype(np.int64), hi - lo - 1)
    base = np.where(lo > 0, cumw[np.maximum(lo - 1, 0)], 0.0)
    top = cumw[hi - 1]
    pos = np.searchsorted(cumw, base + u * (top - base), side="right")
    return np.clip(pos, lo, hi - 1)


def random_walks(
    graph: nx.Graph | CSRGraph,
    starts: Sequence[int] | np.ndarray,
    length: int,
    *,
    seed: int,
    weighted: bool = False,
    p: float = 1.0,
    q: float = 1.0,
    return_positions: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Random walks, one per entry of ``starts``: ``(len(starts), length + 1)`` vertex ids.

    Column 0 is the start; each further column one step. First-order walks (``p = q = 1``)
    move to a neighbour uniformly (``weighted=False``, DeepWalk) or with probability
    proportional to the edge weight (``weighted=True``). Otherwise node2vec's second-order
    walk (Grover & Leskovec 2016): from ``t`` to ``v``, the next vertex ``x`` has
    unnormalised probability ``w_vx * a(t, x)`` with ``a = 1/p`` if ``x = t``, ``1`` if ``x``
    is a neighbour of ``t``, ``1/q`` otherwise, drawn exactly by rejection from the
    first-order proposal. A walk from an isolated vertex stays there (``-1`` in
    ``positions``).

    Args:
        return_positions: also return ``(len(starts), length)`` CSR positions of the edges
            taken (``CSRGraph.weights[pos]`` is each step's weight).

    Raises:
        InputError: bad starts, ``length < 0``, ``p`` or ``q`` not finite and ``> 0``.
    """
    csr = graph if isinstance(graph, CSRGraph) else CSRGraph.from_graph(graph)
    n = csr.num_nodes
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    if starts.size and (starts.min() < 0 or starts.max() >= n):
        raise InputError(f"walk starts must be vertex ids in 0..{n - 1}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise InputError(f"walk length must be an int >= 0, got {length!r}")
    for nm, val in (("p", p), ("q", q)):
        if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
            raise InputError(f"node2vec {nm} must be finite and > 0, got {val!r}")
    rng = np.random.default_rng(seed)
    m = starts.size
    walks = np.empty((m, length + 1), dtype=np.int64)
    pos_out = np.full((m, length), -1, dtype=np.int64)
    walks[:, 0] = starts
    deg = csr.degree
    live = deg[starts] > 0
    cumw = np.cumsum(csr.weights) if weighted else None
    second_order = not (p == 1.0 and q == 1.0)
    amax = max(1.0 / p, 1.0, 1.0 / q)
    for t in range(length):
        cur = walks[:, t]
        nxt = cur.copy()
        idx = np.flatnonzero(live)
        if t == 0 or not second_order:
            pos = _first_order_step(csr, cur[idx], rng.random(idx.size), cumw)
        else:
            prev = walks[idx, t - 1]
            pos = np.empty(idx.size, dtype=np.int64)
            todo = np.arange(idx.size)
            while todo.size:
                c = cur[idx[todo]]
                cand = _first_order_step(csr, c, rng.random(todo.size), cumw)
                x = csr.indices[cand]
                pv = prev[todo]
                a = np.where(x == pv, 1.0 / p, np.where(csr.has_edge(pv, x), 1.0, 1.0 / q))
                ok = rng.random(todo.size) * amax < a
                pos[todo[ok]] = cand[ok]
                todo = todo[~ok]
        nxt[idx] = csr.indices[pos]
        pos_out[idx, t] = pos
        walks[:, t + 1] = nxt
    return (walks, pos_out) if return_positions else walks


# ---------------------------------------------------------------------------------------
# link prediction split
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeSplit:
    """A link-prediction split.

    Attributes:
        train: the residual graph (all vertices, the kept edges with their weights).
        pos: ``(m, 2)`` held-out edges.
        neg: ``(m, 2)`` vertex pairs that are not edges of the original graph.
    """

    train: nx.Graph
    pos: np.ndarray
    neg: np.ndarray


def edge_split(
    graph: nx.Graph, test_fraction: float, seed: int, *, keep_connected: bool = True
) -> EdgeSplit:
    """Hide a share of the edges and draw as many non-edges (node2vec's protocol, [4]).

    With ``keep_connected`` (node2vec's rule: the residual network stays connected), the
    edges of a random spanning forest are never hidden, so every component keeps its
    vertices connected; the held-out edges are drawn uniformly from the rest, up to
    ``round(test_fraction * |E|)`` (fewer when the graph has fewer non-forest edges; the
    split reports what it got). Non-edges are uniform vertex pairs ``u != v`` that are not
    edges of the original graph, without repeats.

    Args:
        graph: a graph on ``0..n-1`` (validated).
        test_fraction: share of edges to hide, in ``(0, 1)``.
        seed: seed of the forest, the held-out edges and the non-edges.

    Raises:
        InputError: invalid graph, ``test_fraction`` outside ``(0, 1)``, too few non-edges.
    """
    check_graph(graph)
    if not (isinstance(test_fraction, (int, float)) and 0.0 < test_fraction < 1.0):
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    n = graph.number_of_nodes()
    if set(graph) != set(range(n)):
        raise InputError("graph vertices must be 0..n-1; convert it with to_indexed()")
    rng = np.random.default_rng(seed)
    edges = np.array(sorted((min(u, v), max(u, v)) for u, v in graph.edges()), dtype=np.int64)
    e = len(edges)
    want = int(round(test_fraction * e))
    if keep_connected:
        keys = rng.random(e)
        tmp = nx.Graph()
        tmp.add_nodes_from(range(n))
        for (u, v), k in zip(edges.tolist(), keys.tolist(), strict=True):
            tmp.add_edge(u, v, key=k)
        forest = {
            (min(u, v), max(u, v))
            for u, v in nx.minimum_spanning_edges(tmp, weight="key", data=False)
        }
        free = np.array([i for i, (u, v) in enumerate(edges.tolist()) if (u, v) not in forest])
    else:
        free = np.arange(e)
    if want < 1 or free.size == 0:
        raise InputError(
            f"cannot hide {test_fraction:.0%} of {e} edges"
            + (" while keeping the graph connected" if keep_connected else "")
        )
    hide = np.sort(rng.permutation(free)[: min(want, free.size)])
    pos = edges[hide]
    train = graph.copy()
    train.remove_edges_from(pos.tolist())
    m = len(pos)
    max_non = n * (n - 1) // 2 - e
    if max_non < m:
        raise InputError(f"the graph has {max_non} non-edges, fewer than the {m} needed")
    existing = set(map(tuple, edges.tolist()))
    neg: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    while len(neg) < m:
        a = rng.integers(0, n, size=2 * (m - len(neg)) + 8)
        b = rng.integers(0, n, size=a.size)
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            k = (min(x, y), max(x, y))
            if x == y or k in existing or k in seen:
                continue
            seen.add(k)
            neg.append(k)
            if len(neg) == m:
                break
    return EdgeSplit(train, pos, np.array(neg, dtype=np.int64).reshape(-1, 2))


# ---------------------------------------------------------------------------------------
# evaluation of embeddings
# ---------------------------------------------------------------------------------------


def link_prediction_scores(pos_scores: np.ndarray, neg_scores: np.ndarray) -> dict[str, float]:
    """AUC of ROC and average precision of scores for held-out edges vs non-edges.

    Args:
        pos_scores: ``(m,)`` scores of true edges; neg_scores: ``(k,)`` of non-edges.

    Returns:
        ``{"auc": ..., "ap": ...}`` (scikit-learn's ``roc_auc_score`` and
        ``average_precision_score``).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    p = np.asarray(pos_scores, dtype=np.float64).reshape(-1)
    q = np.asarray(neg_scores, dtype=np.float64).reshape(-1)
    if p.size == 0 or q.size == 0:
        raise InputError("link prediction needs at least one edge and one non-edge score")
    if not (np.isfinite(p).all() and np.isfinite(q).all()):
        raise InputError("link prediction scores must be finite")
    y = np.r_[np.ones(p.size), np.zeros(q.size)]
    s = np.r_[p, q]
    return {"auc": float(roc_auc_score(y, s)), "ap": float(average_precision_score(y, s))}


def clustering_scores(
    embeddings: np.ndarray, labels: np.ndarray, *, runs: int = 10, seed: int = 0, n_init: int = 1
) -> dict[str, float]:
    """k-means (k = number of classes) on embeddings, NMI and ARI against the labels.

    As the paper (Sec. 5.5): k-means is run ``runs`` times (``random_state = seed*1000+i``,
    ``n_init`` restarts each) and the scores are averaged.

    Args:
        embeddings: ``(n, d)`` vertex embeddings; labels: ``(n,)`` int classes.

    Returns:
        ``{"nmi": ..., "ari": ...}`` (scikit-learn's normalized_mutual_info_score,
        adjusted_rand_score).

    Raises:
        InputError: shapes that do not match, non-finite embeddings, fewer than 2 classes.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise InputError(
            f"embeddings (n, d) and labels (n,) must match, got {x.shape} and {y.shape}"
        )
    if not np.isfinite(x).all():
        raise InputError("embeddings must be finite")
    k = int(np.unique(y).size)
    if k < 2:
        raise InputError(f"clustering needs labels with at least 2 classes, got {k}")
    if runs < 1:
        raise ConfigError(f"runs must be >= 1, got {runs}")
    nmi, ari = [], []
    for i in range(runs):
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed * 1000 + i)
        pred = km.fit_predict(x)
        nmi.append(normalized_mutual_info_score(y, pred))
        ari.append(adjusted_rand_score(y, pred))
    return {"nmi": float(np.mean(nmi)), "ari": float(np.mean(ari))}
