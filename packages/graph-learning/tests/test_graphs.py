"""Graph utilities: loaders, validation, walks, hop counts, edge split, embedding metrics."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from patrec.core.errors import ConfigError, DataError, InputError
from patrec.graph_learning.graphs import (
    CSRGraph,
    check_graph,
    check_pairs,
    clustering_scores,
    edge_split,
    hop_distances,
    link_prediction_scores,
    load_graph,
    load_pyg,
    random_walks,
    to_indexed,
)

# ---------------------------------------------------------------------------------------
# loaders
# ---------------------------------------------------------------------------------------


def test_karate_has_club_labels_and_optional_weights():
    g = load_graph("karate")
    assert (g.num_nodes, g.num_edges) == (34, 78)
    assert g.label_names == ("Mr. Hi", "Officer")
    assert np.bincount(g.labels).tolist() == [17, 17]
    assert g.labels[0] == 0 and g.labels[33] == 1  # the instructor and the administrator
    assert not g.weighted and {w for *_, w in g.graph.edges(data="weight")} == {1.0}
    gw = load_graph("karate", weighted=True)
    assert gw.weighted and max(w for *_, w in gw.graph.edges(data="weight")) == 7.0


def test_les_miserables_is_weighted_florentine_unlabelled():
    g = load_graph("les_miserables")
    assert (g.num_nodes, g.num_edges) == (77, 254) and g.weighted and g.labels is None
    assert max(w for *_, w in g.graph.edges(data="weight")) == 31.0
    f = load_graph("florentine")
    assert (f.num_nodes, f.num_edges) == (15, 20) and f.labels is None


def test_davis_labels_are_the_bipartite_sides():
    g = load_graph("davis")
    assert (g.num_nodes, g.num_edges) == (32, 89)
    assert g.label_names == ("event", "woman")
    assert np.bincount(g.labels).tolist() == [14, 18]
    for u, v in g.graph.edges():
        assert g.labels[u] != g.labels[v]


def test_unknown_graph_name():
    with pytest.raises(ConfigError, match="unknown graph"):
        load_graph("blogcatalog")


def test_pyg_loader_needs_a_path_and_its_raw_files(tmp_path):
    with pytest.raises(DataError, match="no path given"):
        load_pyg("cora", None)
    with pytest.raises(DataError, match="does not exist"):
        load_pyg("cora", tmp_path / "missing")
    with pytest.raises(DataError, match=r"ind\.cora\.x.*nothing is downloaded"):
        load_pyg("cora", tmp_path)
    (tmp_path / "wiki" / "raw").mkdir(parents=True)
    (tmp_path / "wiki" / "raw" / "edgelist.txt").write_text("0 1\n")
    with pytest.raises(DataError, match="attrs.npz, labels.txt"):
        load_pyg("wiki", tmp_path)


def test_pyg_wiki_loader_reads_local_raw_files_without_download(tmp_path, monkeypatch):
    import scipy.sparse as sp
    import torch_geometric.data.dataset as pyg_dataset

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(pyg_dataset.Dataset, "download", no_download, raising=False)
    raw = tmp_path / "wiki" / "raw"
    raw.mkdir(parents=True)
    sp.save_npz(raw / "attrs.npz", sp.csr_matrix(np.eye(5, dtype=np.float32)))
    # directed rows, a duplicate in the other direction and one self-loop
    (raw / "edgelist.txt").write_text("0\t1\n1\t0\n1\t2\n2\t2\n3\t4\n")
    (raw / "labels.txt").write_text("0 1\n1 1\n2 2\n3 3\n4 3\n")
    g = load_pyg("wiki", tmp_path)
    assert g.num_nodes == 5
    assert sorted(tuple(sorted(e)) for e in g.graph.edges()) == [(0, 1), (1, 2), (3, 4)]
    assert g.info["self_loops_dropped"] == 1 and g.info["components"] == 2
    assert g.labels.tolist() == [0, 0, 1, 2, 2]
    check_graph(g.graph)


# ---------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------


def _bad(graph, match):
    with pytest.raises(InputError, match=match):
        check_graph(graph)


def test_check_graph_rejects_bad_graphs():
    _bad([(0, 1)], "networkx.Graph")
    _bad(nx.Graph(), "at least 2 vertices")
    g = nx.Graph()
    g.add_nodes_from([0, 1, 2])
    _bad(g, "no edges")
    _bad(nx.DiGraph([(0, 1)]), "undirected")
    _bad(nx.MultiGraph([(0, 1), (0, 1)]), "simple graph")
    loop = nx.Graph([(0, 1), (1, 1)])
    _bad(loop, "self-loop")
    for w in (-1.0, 0.0, float("nan"), float("inf"), "heavy"):
        h = nx.Graph()
        h.add_edge(0, 1, weight=1.0)
        h.add_edge(1, 2, weight=w)
        _bad(h, "weight of edge")
    ok = nx.path_graph(3)
    assert check_graph(ok) is ok


def test_to_indexed_relabels_and_checks_labels():
    g = nx.Graph([("a", "b"), ("b", "c")])
    d = to_indexed(g, labels={"a": "x", "b": "y", "c": "x"})
    assert d.node_names == ("a", "b", "c") and sorted(d.graph.edges()) == [(0, 1), (1, 2)]
    assert d.labels.tolist() == [0, 1, 0] and not d.weighted
    with pytest.raises(InputError, match="not in the graph"):
        to_indexed(g, labels={"a": 0, "b": 1, "c": 0, "zz": 1})
    with pytest.raises(InputError, match="one label per vertex"):
        to_indexed(g, labels=[0, 1])


def test_check_pairs_shapes_dtypes_and_unknown_vertices():
    assert check_pairs([[0, 1], [2, 3]], 4).dtype == np.int64
    with pytest.raises(InputError, match=r"\(m, 2\)"):
        check_pairs(np.zeros((3, 3), dtype=int), 4)
    with pytest.raises(InputError, match="integer"):
        check_pairs(np.zeros((3, 2)), 4)
    with pytest.raises(InputError, match="unknown vertices"):
        check_pairs([[0, 4]], 4)


# ---------------------------------------------------------------------------------------
# hops and walks
# ---------------------------------------------------------------------------------------


def test_hop_distances_equal_networkx_bfs():
    g = load_graph("les_miserables").graph
    d = hop_distances(g, range(g.number_of_nodes()))
    for s in (0, 11, 48):
        ref = nx.single_source_shortest_path_length(g, s)
        assert {v: int(d[s, v]) for v in ref} == ref
    cut = hop_distances(g, [0], limit=2)[0]
    assert np.isinf(cut[d[0] > 2]).all() and (cut[d[0] <= 2] == d[0][d[0] <= 2]).all()


def test_walks_follow_edges_and_are_seeded():
    g = load_graph("karate").graph
    starts = np.repeat(np.arange(34), 3)
    for kw in ({}, {"p": 0.5, "q": 2.0}, {"weighted": True}):
        w = random_walks(g, starts, 10, seed=3, **kw)
        assert w.shape == (102, 11) and (w[:, 0] == starts).all()
        assert all(g.has_edge(a, b) for row in w.tolist() for a, b in zip(row, row[1:]))
        assert (w == random_walks(g, starts, 10, seed=3, **kw)).all()
    assert not (random_walks(g, starts, 10, seed=3) == random_walks(g, starts, 10, seed=4)).all()


def test_weighted_walk_steps_in_proportion_to_weight():
    g = nx.Graph()
    g.add_edge(0, 1, weight=1.0)
    g.add_edge(0, 2, weight=9.0)
    w = random_walks(g, np.zeros(4000, dtype=int), 1, seed=0, weighted=True)
    share = float((w[:, 1] == 2).mean())
    assert abs(share - 0.9) < 0.02
    u = random_walks(g, np.zeros(4000, dtype=int), 1, seed=0, weighted=False)
    assert abs(float((u[:, 1] == 2).mean()) - 0.5) < 0.03


def test_node2vec_return_parameter_biases_backtracking():
    g = nx.cycle_graph(30)  # on a cycle each step either goes back or goes on
    starts = np.arange(30).repeat(20)

    def back_rate(p: float) -> float:
        w = random_walks(g, starts, 8, seed=1, p=p, q=1.0)
        return float((w[:, 2:] == w[:, :-2]).mean())

    # exact rates: back with probability (1/p) / (1/p + 1/q) (q = 1, no triangles)
    assert abs(back_rate(0.25) - 0.8) < 0.03
    assert abs(back_rate(4.0) - 0.2) < 0.03
    assert abs(back_rate(1.0) - 0.5) < 0.03


def test_isolated_vertex_walk_stays_put():
    g = nx.Graph([(0, 1)])
    g.add_node(2)
    csr = CSRGraph.from_graph(g)
    w, pos = random_walks(csr, [2, 0], 3, seed=0, return_positions=True)
    assert w[0].tolist() == [2, 2, 2, 2] and (pos[0] == -1).all()
    assert w[1].tolist() == [0, 1, 0, 1]
    with pytest.raises(InputError, match="walk starts"):
        random_walks(csr, [3], 2, seed=0)
    with pytest.raises(InputError, match="p must be"):
        random_walks(csr, [0], 2, seed=0, p=0.0)


# ---------------------------------------------------------------------------------------
# link-prediction split
# ---------------------------------------------------------------------------------------


def test_edge_split_hides_edges_keeps_components_and_draws_non_edges():
    g = load_graph("karate").graph
    s = edge_split(g, 0.5, seed=0)
    m = len(s.pos)
    assert m == 39 and s.neg.shape == (39, 2)
    assert all(g.has_edge(u, v) and not s.train.has_edge(u, v) for u, v in s.pos.tolist())
    assert s.train.number_of_edges() == 78 - 39 and nx.is_connected(s.train)
    keys = {tuple(sorted(e)) for e in s.neg.tolist()}
    assert len(keys) == m and all(u != v and not g.has_edge(u, v) for u, v in keys)
    again = edge_split(g, 0.5, seed=0)
    assert (again.pos == s.pos).all() and (again.neg == s.neg).all()
    assert not (edge_split(g, 0.5, seed=1).pos == s.pos).all()


def test_edge_split_never_cuts_a_tree_like_graph():
    g = load_graph("florentine").graph
    s = edge_split(g, 0.5, seed=0)
    assert len(s.pos) == 20 - 14  # only the edges outside a spanning tree can go
    assert nx.is_connected(s.train)
    loose = edge_split(g, 0.5, seed=0, keep_connected=False)
    assert len(loose.pos) == 10
    with pytest.raises(InputError, match="test_fraction"):
        edge_split(g, 1.0, seed=0)


# ---------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------


def test_link_prediction_scores_hand_case():
    # pairs (pos > neg): 0.9>0.5, 0.9>0.1, 0.4>0.1, but 0.4<0.5 -> AUC 3/4
    r = link_prediction_scores(np.array([0.9, 0.4]), np.array([0.5, 0.1]))
    assert r["auc"] == pytest.approx(0.75)
    # ranking 0.9(+) 0.5(-) 0.4(+) 0.1(-): AP = (1/1 + 2/3) / 2
    assert r["ap"] == pytest.approx((1 + 2 / 3) / 2)
    assert link_prediction_scores(np.ones(3), np.zeros(3))["auc"] == 1.0
    with pytest.raises(InputError, match="finite"):
        link_prediction_scores(np.array([math.nan]), np.zeros(1))


def test_clustering_scores_perfect_and_bad_input():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    x = rng.normal(size=(30, 4)) * 0.01 + np.eye(4)[y] * 10
    r = clustering_scores(x, y, runs=3, seed=0, n_init=5)
    assert r["nmi"] == pytest.approx(1.0) and r["ari"] == pytest.approx(1.0)
    with pytest.raises(InputError, match="must match"):
        clustering_scores(x[:5], y)
    with pytest.raises(InputError, match="2 classes"):
        clustering_scores(x, np.zeros(30, dtype=int))
