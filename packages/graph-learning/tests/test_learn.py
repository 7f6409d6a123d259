"""LEARN's parts: domination sampling, eqs. 1-2, the Siamese net, eqs. 4-5, baselines."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
import pytest
import torch

from patrec.core.errors import InputError
from patrec.graph_learning.graphs import load_graph
from patrec.graph_learning.learn import (
    LEARNNet,
    SiameseNet,
    cosine_scores,
    danmf_embedding,
    danmf_objective,
    deepwalk_embedding,
    domination_samples,
    fit_learn,
    learn_loss,
    line_embedding,
    node2vec_embedding,
    normalize_weights,
    relation_target,
    sample_pairs,
    sdne_embedding,
    sdne_loss,
    smoke_config,
    spectral_embedding,
    vertex_features,
)

# ---------------------------------------------------------------------------------------
# eqs. 1-2 and Alg. 1's sampling
# ---------------------------------------------------------------------------------------


def test_relation_target_is_alpha_power_times_path_weights():
    assert relation_target(1, 0.6) == 1.0
    assert relation_target(3, 0.6) == pytest.approx(0.36)
    assert relation_target(2, 0.8, [0.5, 0.25]) == pytest.approx(0.8 * 0.125)
    with pytest.raises(InputError, match="alpha must be < 1"):
        relation_target(2, 1.0)
    with pytest.raises(InputError, match="k must be"):
        relation_target(0, 0.5)


def test_domination_removes_lower_hops_from_sampling():
    # 0 - 1 - 3 and 0 - 2: hops from 0 are [0, 1, 1, 2]
    hops = np.array([0, 1, 1, 2], dtype=float)
    # the walk reaches hop 2 (vertex 3), so hop-1 vertex 2, met afterwards, is dominated
    got = domination_samples([0, 1, 3, 1, 0, 2], hops, alpha=0.5)
    assert got == [(1, 1, 1.0), (3, 2, 0.5)]
    # without reaching hop 2, both hop-1 vertices are on the frontier and are sampled
    assert domination_samples([0, 2, 0, 1], hops, alpha=0.5) == [(2, 1, 1.0), (1, 1, 1.0)]
    # vertices sampled by an earlier walk of the same source are not sampled again
    assert domination_samples([0, 1, 3], hops, alpha=0.5, exclude={1}) == [(3, 2, 0.5)]


def test_weighted_target_uses_the_loop_erased_walk_path():
    hops = np.array([0, 1, 1, 2], dtype=float)
    # walk 0 -> 1 -> 0 -> 2: the loop 0-1-0 is erased, the path to 2 is the edge 0-2
    w = {(0, 1): 0.5, (1, 3): 0.4, (0, 2): 0.9}

    def step_w(walk):
        return [w[tuple(sorted(e))] for e in zip(walk, walk[1:])]

    walk = [0, 1, 0, 2, 0, 1, 3]
    got = domination_samples(walk, hops, alpha=0.5, step_weights=step_w(walk))
    assert got == [(1, 1, 0.5), (2, 1, 0.9), (3, 2, pytest.approx(0.5 * 0.5 * 0.4))]


def _check_sample_invariants(graph, pairs, alpha, length, weighted):
    n = graph.number_of_nodes()
    pos = pairs.hop > 0
    # hop counts are exact BFS distances and at most l
    for v in np.unique(pairs.src):
        ref = nx.single_source_shortest_path_length(graph, int(v))
        sel = pos & (pairs.src == v)
        assert all(ref[int(u)] == int(k) for u, k in zip(pairs.dst[sel], pairs.hop[sel]))
    assert pairs.hop[pos].max() <= length
    # no vertex sampled twice per source, positives and negatives disjoint, never the source
    keys = pairs.src * n + pairs.dst
    assert np.unique(keys).size == keys.size
    assert not (pairs.src == pairs.dst).any()
    # R = alpha^(k-1) (eq. 2), or below it once weights in (0, 1] multiply in (eq. 1)
    expect = alpha ** (pairs.hop[pos] - 1.0)
    if weighted:
        assert (pairs.target[pos] <= expect + 1e-6).all() and (pairs.target[pos] > 0).all()
    else:
        np.testing.assert_allclose(pairs.target[pos], expect, rtol=1e-6)
    assert (pairs.target[~pos] == 0).all() and (pairs.hop[~pos] == -1).all()


def test_sample_pairs_invariants_on_karate_and_les_miserables():
    g = load_graph("karate")
    p = sample_pairs(g, walks_per_vertex=20, walk_length=6, alpha=0.8, seed=0)
    assert p.num_positive > 500 and p.num_negative > 0
    _check_sample_invariants(g.graph, p, 0.8, 6, weighted=False)
    lm = load_graph("les_miserables")
    q = sample_pairs(lm, walks_per_vertex=5, walk_length=4, alpha=0.6, seed=1)
    _check_sample_invariants(lm.graph, q, 0.6, 4, weighted=True)
    assert q.num_negative == q.num_positive  # neg_ratio 1 when V - RW_v is large enough
    again = sample_pairs(g, walks_per_vertex=20, walk_length=6, alpha=0.8, seed=0)
    assert (again.dst == p.dst).all() and (again.target == p.target).all()


def test_weighted_target_on_a_tree_is_the_product_along_the_unique_path():
    rng = np.random.default_rng(0)
    t = nx.balanced_tree(2, 3)
    for u, v in t.edges():
        t[u][v]["weight"] = float(rng.uniform(0.5, 4.0))
    top = max(w for *_, w in t.edges(data="weight"))
    p = sample_pairs(t, walks_per_vertex=10, walk_length=5, alpha=0.7, seed=0, neg_ratio=0)
    assert p.num_negative == 0 and p.num_positive > 50
    for v, u, k, r in zip(p.src, p.dst, p.hop, p.target):
        path = nx.shortest_path(t, int(v), int(u))
        prod = math.prod(t[a][b]["weight"] / top for a, b in zip(path, path[1:]))
        assert r == pytest.approx(0.7 ** (k - 1) * prod, rel=1e-5)


def test_davis_two_hop_pairs_are_same_side():
    g = load_graph("davis")
    p = sample_pairs(g, walks_per_vertex=10, walk_length=6, alpha=0.8, seed=0)
    pos = p.hop > 0
    same = g.labels[p.src[pos]] == g.labels[p.dst[pos]]
    assert (same == (p.hop[pos] % 2 == 0)).all()
    assert (p.hop[pos] == 2).sum() > 100


def test_negatives_come_from_outside_the_walks():
    # four disjoint edges: every walk of v visits its partner, nothing else
    g = nx.Graph([(0, 1), (2, 3), (4, 5), (6, 7)])
    p = sample_pairs(g, walks_per_vertex=3, walk_length=3, alpha=0.5, seed=0, neg_ratio=3)
    pos = p.hop > 0
    assert sorted(zip(p.src[pos].tolist(), p.dst[pos].tolist())) == [
        (0, 1),
        (1, 0),
        (2, 3),
        (3, 2),
        (4, 5),
        (5, 4),
        (6, 7),
        (7, 6),
    ]
    comp = np.arange(8) // 2
    assert (~pos).sum() == 8 * 3  # three negatives per positive, drawn from V - RW_v
    assert (comp[p.src[~pos]] != comp[p.dst[~pos]]).all()


def test_sample_pairs_rejects_bad_graphs_and_arguments():
    with pytest.raises(InputError, match="at least 2 vertices"):
        sample_pairs(nx.Graph(), walks_per_vertex=2, walk_length=2, alpha=0.5, seed=0)
    neg = nx.Graph()
    neg.add_edge(0, 1, weight=-2.0)
    with pytest.raises(InputError, match="non-negative"):
        sample_pairs(neg, walks_per_vertex=2, walk_length=2, alpha=0.5, seed=0)
    with pytest.raises(InputError, match="self-loop"):
        sample_pairs(
            nx.Graph([(0, 1), (0, 0)]), walks_per_vertex=2, walk_length=2, alpha=0.5, seed=0
        )
    with pytest.raises(InputError, match="to_indexed"):
        sample_pairs(nx.Graph([("a", "b")]), walks_per_vertex=2, walk_length=2, alpha=0.5, seed=0)
    g = nx.path_graph(4)
    with pytest.raises(InputError, match="alpha"):
        sample_pairs(g, walks_per_vertex=2, walk_length=2, alpha=1.5, seed=0)
    with pytest.raises(InputError, match="walk_length"):
        sample_pairs(g, walks_per_vertex=2, walk_length=0, alpha=0.5, seed=0)
    with pytest.raises(InputError, match="sources"):
        sample_pairs(g, walks_per_vertex=2, walk_length=2, alpha=0.5, seed=0, sources=[9])


def test_weight_normalisation_and_vertex_features():
    g = load_graph("les_miserables").graph
    h = normalize_weights(g)
    ws = np.array([w for *_, w in h.edges(data="weight")])
    assert ws.max() == 1.0 and ws.min() == pytest.approx(1 / 31)
    with pytest.raises(InputError, match="weights <= 1"):
        normalize_weights(g, "none")
    small = nx.Graph()
    small.add_edge(0, 1, weight=2.0)
    small.add_edge(1, 2, weight=4.0)
    f = vertex_features(small)
    expect = np.array([[1, 0.5, 0], [0.5, 1, 1], [0, 1, 1]], dtype=np.float32)
    np.testing.assert_allclose(f.numpy(), expect)
    assert torch.equal(vertex_features(small, "onehot"), torch.eye(3))
    with pytest.raises(InputError, match="adjacency"):
        vertex_features(small, "degree")


# ---------------------------------------------------------------------------------------
# Siamese network (eq. 3) and loss (eqs. 4-5)
# ---------------------------------------------------------------------------------------


def test_siamese_relation_is_symmetric_and_one_at_zero_distance():
    torch.manual_seed(0)
    net = SiameseNet(7, hidden=(12, 8, 5))
    assert net.dim == 5 and len(net.weight_matrices()) == 4
    a, b = torch.randn(6, 7), torch.randn(6, 7)
    torch.testing.assert_close(net(a, b), net(b, a))
    # |x_v - x_v| = 0: the output is sigmoid of the bias alone
    torch.testing.assert_close(net.relation(a, a), torch.sigmoid(net.out.bias).expand(6))
    # the embedding passes through leaky ReLU (eq. 3): negatives are scaled by the slope
    x = net.embed(a)
    pre = net.tower[:-1](a)
    torch.testing.assert_close(x, torch.where(pre > 0, pre, 0.01 * pre))
    with pytest.raises(InputError, match=r"\(B, 7\)"):
        net(a[:, :3], b)
    with pytest.raises(InputError, match="B = 6"):
        net(a, b[:2])


def test_learn_net_matches_the_siamese_net_and_checks_ids():
    torch.manual_seed(0)
    feats = torch.randn(5, 5)
    net = LEARNNet(feats, hidden=(6, 4))
    src, dst = torch.tensor([0, 3, 3, 4]), torch.tensor([1, 1, 3, 0])
    torch.testing.assert_close(net(src, dst), net.siamese(feats[src], feats[dst]))
    assert net.embeddings().shape == (5, 4)
    with pytest.raises(InputError, match=r"dst must hold values in \[0, 4\]"):
        net(torch.tensor([0]), torch.tensor([5]))
    with pytest.raises(InputError, match="int dtype"):
        net(torch.tensor([0.0]), torch.tensor([1.0]))


def test_loss_matches_a_hand_computation():
    z = torch.tensor([0.0, 2.0, -1.0])
    r = torch.tensor([1.0, 0.6, 0.0])
    w = [torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0]])]

    def sig(x):
        return 1 / (1 + math.exp(-x))

    bce = [
        -(ri * math.log(sig(zi)) + (1 - ri) * math.log(1 - sig(zi)))
        for zi, ri in zip(z.tolist(), r.tolist())
    ]
    out = learn_loss(z, r, w, lam=0.1)
    assert float(out["l1"]) == pytest.approx(sum(bce) / 3, rel=1e-6)
    assert float(out["l2"]) == pytest.approx(0.1 * (1 + 4 + 9))
    assert float(out["loss"]) == pytest.approx(sum(bce) / 3 + 1.4, rel=1e-6)
    # eq. 4 as printed: only -R log R_hat, so the R = 0 pair contributes nothing
    pos_only = [-(ri * math.log(sig(zi))) for zi, ri in zip(z.tolist(), r.tolist())]
    out4 = learn_loss(z, r, negative_term=False)
    assert float(out4["l1"]) == pytest.approx(sum(pos_only) / 3, rel=1e-6)
    assert float(out4["l2"]) == 0.0


def test_loss_rejects_bad_input():
    z = torch.zeros(3)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        learn_loss(z, torch.tensor([0.0, 1.5, 0.2]))
    with pytest.raises(InputError, match="B = 3"):
        learn_loss(z, torch.zeros(2))
    with pytest.raises(InputError, match="lam"):
        learn_loss(z, torch.zeros(3), lam=-1.0)


def _tiny_cfg(**train):
    cfg = smoke_config()
    return dataclasses.replace(
        cfg,
        model=dataclasses.replace(cfg.model, hidden=(32, 8)),
        sampler=dataclasses.replace(cfg.sampler, walks_per_vertex=5),
        optim=dataclasses.replace(cfg.optim, patience=2, lr=0.05),
        train=dataclasses.replace(cfg.train, **train),
    )


def test_fit_learn_stops_early_and_keeps_the_best_weights():
    g = load_graph("florentine")
    tl = fit_learn(g, _tiny_cfg(epochs=60, batch_size=64), alpha=0.8, seed=0)
    vals = [h["val/l1"] for h in tl.history]
    assert len(vals) < 60  # patience 2 with a large step size: it stops early
    assert tl.best_epoch == int(np.argmin(vals)) + 1
    assert len(vals) == tl.best_epoch + 2
    assert tl.embeddings.shape == (15, 8) and np.isfinite(tl.embeddings).all()
    # the returned weights are those of the best validation epoch
    _, val = tl.pairs.split(0.1, 0)
    with torch.no_grad():
        s, d = torch.from_numpy(val.src), torch.from_numpy(val.dst)
        now = float(learn_loss(tl.net(s, d), torch.from_numpy(val.target))["l1"])
    assert now == pytest.approx(min(vals), rel=1e-5)
    scores = tl.score(np.array([[0, 1], [1, 0]]))
    assert scores[0] == pytest.approx(scores[1]) and 0 < scores[0] < 1


# ---------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------


def test_baselines_shapes_and_determinism():
    g = load_graph("karate")
    a = deepwalk_embedding(g, 8, num_walks=2, walk_length=10, epochs=1, seed=3)
    b = deepwalk_embedding(g, 8, num_walks=2, walk_length=10, epochs=1, seed=3)
    assert a.shape == (34, 8) and np.array_equal(a, b)
    c = node2vec_embedding(g, 8, p=0.5, q=2.0, num_walks=2, walk_length=10, epochs=1, seed=3)
    assert c.shape == (34, 8) and np.isfinite(c).all() and not np.array_equal(a, c)
    s = spectral_embedding(load_graph("florentine"), 32, seed=0)
    assert s.shape == (15, 13)  # capped at n - 2
    with pytest.raises(InputError, match="dim"):
        deepwalk_embedding(g, 0)


def _two_cliques() -> nx.Graph:
    g = nx.disjoint_union(nx.complete_graph(5), nx.complete_graph(5))
    g.add_edge(0, 5)  # one bridge
    return g


def _within_minus_across(emb: np.ndarray) -> float:
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sim = x @ x.T
    side = np.arange(10) // 5
    same = side[:, None] == side[None, :]
    off = ~np.eye(10, dtype=bool)
    return float(sim[same & off].mean() - sim[~same].mean())


def test_line_embeds_the_two_cliques_apart():
    g = _two_cliques()
    e = line_embedding(g, 8, samples=3000, seed=0)
    assert e.shape == (10, 8) and np.isfinite(e).all()
    # each order's half is L2-normalised per vertex, as LINE concatenates them
    np.testing.assert_allclose(np.linalg.norm(e[:, :4], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(e[:, 4:], axis=1), 1.0, rtol=1e-5)
    assert _within_minus_across(e) > 0.3
    assert np.array_equal(e, line_embedding(g, 8, samples=3000, seed=0))
    with pytest.raises(InputError, match="dim"):
        line_embedding(g, 1)


def test_sdne_loss_by_hand_and_its_embedding():
    s = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    s_hat = torch.tensor([[0.5, 0.5], [0.0, 0.0]])
    y = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    # L_2nd: row 0: 0.5^2 + (10 * 0.5)^2; row 1: (10 * 1)^2 + 0; L_1st: 2 * 1 * 25
    expect = 0.25 + 25.0 + 100.0 + 0.2 * 50.0
    got = sdne_loss(s, s_hat, y, s, alpha=0.2, beta=10.0)
    assert float(got) == pytest.approx(expect, rel=1e-6)
    with pytest.raises(InputError, match="s_batch"):
        sdne_loss(s, s_hat, y, torch.zeros(3, 3), alpha=0.2, beta=10.0)
    e = sdne_embedding(_two_cliques(), (16, 4), epochs=300, lr=1e-2, batch_size=16, seed=0)
    assert e.shape == (10, 4) and np.isfinite(e).all()
    assert _within_minus_across(e - e.mean(0)) > 0.3


def test_danmf_updates_decrease_its_loss_and_stay_nonnegative():
    g = _two_cliques()
    emb, hist = danmf_embedding(g, (6, 2), iters=30, seed=0, return_history=True)
    assert emb.shape == (10, 2) and (emb >= 0).all()
    assert all(b <= a * (1 + 1e-9) for a, b in zip(hist, hist[1:]))  # multiplicative updates
    assert hist[-1] < hist[0]
    # the two communities load on different factors (DANMF reads communities off V_p)
    comm = emb.argmax(1)
    assert len(set(comm[:5])) == 1 and len(set(comm[5:])) == 1 and comm[0] != comm[5]
    # the loss by hand on a 2-vertex graph: ||A - Z V||^2 + ||V - Z^T A||^2 + lam tr(V L V^T)
    a = np.array([[0.0, 1.0], [1.0, 0.0]])
    z, v = [np.array([[1.0], [0.0]])], np.array([[0.5, 2.0]])
    rec = np.square(a - z[0] @ v).sum()  # [[0.5, 2], [0, 0]] vs A
    enc = np.square(v - z[0].T @ a).sum()  # [0.5, 2] vs [0, 1]
    lap = np.array([[1.0, -1.0], [-1.0, 1.0]])
    expect = rec + enc + 0.5 * float((v @ lap @ v.T).item())
    assert danmf_objective(a, z, v, 0.5) == pytest.approx(expect)
    assert rec == pytest.approx(0.25 + 1.0 + 1.0) and enc == pytest.approx(0.25 + 1.0)


def test_cosine_scores_hand_case():
    x = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    got = cosine_scores(x, np.array([[0, 1], [0, 2], [2, 2]]))
    np.testing.assert_allclose(got, [0.0, 1 / math.sqrt(2), 1.0])
    with pytest.raises(InputError, match="unknown vertices"):
        cosine_scores(x, np.array([[0, 3]]))
