"""ConDGAD parts: Top-alpha graphs (eqs. 1-2), augmentations, networks, eqs. 3-9, threshold."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from patrec.core.errors import InputError
from patrec.graph_learning.condgad import (
    ConDGADNet,
    ContextTransformer,
    GCNEncoder,
    LogBilinearPredictor,
    batch_edge_index,
    condgad_loss,
    cosine_similarity_matrix,
    cross_augmentation_loss,
    detect,
    drop_edges,
    fit_threshold,
    mask_attributes,
    node_attributes,
    prediction_errors,
    score_windows,
    sliding_windows,
    temporal_ce,
    topalpha_adjacency,
    topalpha_neighbors,
    window_labels,
)

# ---------------------------------------------------------------------------------------
# Sec. 3.1: windows, attributes, Top-alpha graphs
# ---------------------------------------------------------------------------------------


def test_sliding_windows_and_labels():
    series = torch.arange(20.0).view(10, 2)  # tick t holds (2t, 2t + 1)
    w = sliding_windows(series, 4)  # non-overlapping by default: starts 0, 4
    assert w.shape == (2, 4, 2)
    assert torch.equal(w[1], series[4:8])
    w2 = sliding_windows(series, 4, 3)  # starts 0, 3, 6
    assert w2.shape == (3, 4, 2) and torch.equal(w2[2], series[6:10])
    labels = torch.tensor([0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    assert window_labels(labels, 4).tolist() == [0, 1]
    assert window_labels(labels, 4, 3).tolist() == [0, 1, 0]  # ticks 3-6 hold tick 5


def test_node_attributes_are_slice_means():
    win = torch.tensor([[1.0, 10.0], [3.0, 20.0], [5.0, 30.0], [7.0, 40.0], [9.0, 50.0],
                        [11.0, 60.0]])  # fmt: skip  # omega = 6 ticks, N = 2 sensors
    v = node_attributes(win, 3)
    assert v.shape == (2, 3)
    assert torch.allclose(v, torch.tensor([[2.0, 6.0, 10.0], [15.0, 35.0, 55.0]]))
    batched = node_attributes(torch.stack([win, 2 * win]), 2)
    assert batched.shape == (2, 2, 2) and torch.allclose(batched[1], 2 * node_attributes(win, 2))


def test_cosine_matrix_is_eq1():
    v = torch.randn(7, 4, generator=torch.Generator().manual_seed(0))
    e = cosine_similarity_matrix(v)
    ref = F.cosine_similarity(v[:, None, :], v[None, :, :], dim=-1)
    assert torch.allclose(e, ref, atol=1e-6)


def test_topalpha_exact_in_degree_no_self_loops_and_hand_case():
    # 4 sensors: 0 and 1 point the same way, 2 is close to them, 3 is orthogonal to 0/1
    v = torch.tensor([[1.0, 0.0], [2.0, 0.1], [1.0, 0.5], [0.0, 1.0]])
    nbr = topalpha_neighbors(v, 2)
    assert nbr.shape == (4, 2)
    assert nbr[0].tolist() == [1, 2]  # most similar first
    assert nbr[3].tolist() == [2, 1]
    a = topalpha_adjacency(nbr)  # a[j, i] = 1 iff j -> i
    assert a.sum(dim=0).tolist() == [2, 2, 2, 2]  # exactly alpha in-edges per node
    assert not bool(a.diagonal().any())  # no self-loops
    # against brute force on random attributes, batched
    x = torch.rand(3, 9, 5, generator=torch.Generator().manual_seed(1))
    nb = topalpha_neighbors(x, 4)
    for g in range(3):
        e = cosine_similarity_matrix(x[g])
        for i in range(9):
            cand = [k for k in range(9) if k != i]
            best = sorted(cand, key=lambda k: -float(e[k, i]))[:4]
            assert set(nb[g, i].tolist()) == set(best)
            assert i not in nb[g, i].tolist()


def test_batch_edge_index_layout():
    nbr = torch.tensor([[[1], [0], [0]], [[2], [2], [1]]])  # G=2, N=3, alpha=1
    ei = batch_edge_index(nbr)
    assert ei.tolist() == [[1, 0, 0, 5, 5, 4], [0, 1, 2, 3, 4, 5]]
    assert torch.bincount(ei[1], minlength=6).tolist() == [1] * 6


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: topalpha_neighbors(torch.rand(4, 3), 4), "alpha .4. must be smaller"),
        (lambda: topalpha_neighbors(torch.rand(4, 3), 0), "alpha must be >= 1"),
        (lambda: topalpha_neighbors(torch.tensor([[1.0, math.nan], [1.0, 1.0]]), 1), "finite"),
        (lambda: topalpha_neighbors(torch.rand(5), 1), r"v must have at least 2 dimensions"),
        (lambda: sliding_windows(torch.rand(5, 3), 6), "longer than the series"),
        (lambda: sliding_windows(torch.rand(5, 3, 1), 2), r"\(T, N\)"),
        (lambda: sliding_windows(torch.rand(5, 3), 2, 0), "stride"),
        (lambda: node_attributes(torch.rand(10, 3), 3), "multiple of n_slices"),
        (lambda: window_labels(torch.zeros(3), 4), "longer than the series"),
        (lambda: batch_edge_index(torch.rand(2, 3, 1)), "neighbors must have a int dtype"),
    ],
)
def test_graph_construction_rejects_bad_input(call, match):
    with pytest.raises(InputError, match=match):
        call()


# ---------------------------------------------------------------------------------------
# Sec. 3.2: augmentations
# ---------------------------------------------------------------------------------------


def _edges(g: int = 3, n: int = 10, alpha: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(g, n, 5, generator=torch.Generator().manual_seed(2))
    ei = batch_edge_index(topalpha_neighbors(x, alpha))
    return ei, torch.arange(g).repeat_interleave(n * alpha)


def test_drop_edges_keeps_a_seeded_subset_at_the_rate():
    ei, eg = _edges()
    kept, keep = drop_edges(ei, 0.25, edge_graph=eg, generator=torch.Generator().manual_seed(0))
    # per graph: 40 edges, round(0.25 * 40) = 10 dropped
    assert torch.bincount(eg[keep], minlength=3).tolist() == [30, 30, 30]
    assert torch.equal(kept, ei[:, keep])  # a subset, in the original order
    again, _ = drop_edges(ei, 0.25, edge_graph=eg, generator=torch.Generator().manual_seed(0))
    other, _ = drop_edges(ei, 0.25, edge_graph=eg, generator=torch.Generator().manual_seed(1))
    assert torch.equal(kept, again) and not torch.equal(kept, other)
    whole, _ = drop_edges(ei, 0.0)
    assert torch.equal(whole, ei)
    # one group: round(0.1 * 120) = 12 dropped; 0.125 * 4 = 0.5 rounds up to 1
    assert drop_edges(ei, 0.1)[0].shape[1] == 108
    assert drop_edges(ei[:, :4], 0.125)[0].shape[1] == 3
    # the general (unsorted groups) path gives the same counts
    perm = torch.randperm(ei.shape[1], generator=torch.Generator().manual_seed(3))
    _, keep_p = drop_edges(ei[:, perm], 0.25, edge_graph=eg[perm])
    assert torch.bincount(eg[perm][keep_p], minlength=3).tolist() == [30, 30, 30]


def test_mask_attributes_zeroes_the_stated_share():
    x = torch.rand(30, 5) + 0.5  # 3 graphs of 10 nodes, no zero entries
    ng = torch.arange(3).repeat_interleave(10)
    xm, masked = mask_attributes(x, 0.3, node_graph=ng, generator=torch.Generator().manual_seed(0))
    assert torch.bincount(ng[masked], minlength=3).tolist() == [3, 3, 3]
    assert bool((xm[masked] == 0).all())
    assert torch.equal(xm[~masked], x[~masked])
    assert float((xm == 0).float().mean()) == pytest.approx(0.3)  # share of features zeroed
    xm2, _ = mask_attributes(x, 0.3, node_graph=ng, generator=torch.Generator().manual_seed(0))
    assert torch.equal(xm, xm2)


@pytest.mark.parametrize("rate", [-0.1, 1.0, math.nan, "0.2"])
def test_augmentations_reject_bad_rates(rate):
    ei, _ = _edges()
    with pytest.raises(InputError, match="rate"):
        drop_edges(ei, rate)
    with pytest.raises(InputError, match="rate"):
        mask_attributes(torch.rand(4, 2), rate)


def test_augmentations_reject_bad_shapes():
    with pytest.raises(InputError, match=r"\(2, E\)"):
        drop_edges(torch.zeros(3, 4, dtype=torch.long), 0.1)
    with pytest.raises(InputError, match="edge_graph"):
        drop_edges(torch.zeros(2, 4, dtype=torch.long), 0.1, edge_graph=torch.zeros(3).long())
    with pytest.raises(InputError, match="finite"):
        mask_attributes(torch.tensor([[math.nan, 1.0]]), 0.1)


# ---------------------------------------------------------------------------------------
# networks
# ---------------------------------------------------------------------------------------


def _net(**kw) -> ConDGADNet:
    torch.manual_seed(0)
    args = dict(gcn_dims=(6,), hidden=8, heads=2, layers=1, mlp_dim=16, dropout=0.0)
    args.update(kw)
    return ConDGADNet(5, 4, 3, 2, **args)


def _run(b: int = 4, n: int = 5, f: int = 4, length: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(b, length, n, f, generator=torch.Generator().manual_seed(4))
    return x, topalpha_neighbors(x, 2)


def test_gcn_encoder_is_gcnconv_with_flatten_readout():
    from torch_geometric.nn import GCNConv

    enc = GCNEncoder(5, 4, (6,))
    assert isinstance(enc.convs[0], GCNConv) and enc.out_dim == 30
    x, nbr = _run(b=1, length=2)
    xs, ei = x.reshape(10, 4), batch_edge_index(nbr.reshape(2, 5, 2))
    z = enc(xs, ei, 2)
    assert z.shape == (2, 30)
    assert torch.allclose(z[0], enc.convs[0](xs[:5], ei[:, :10]).flatten())  # per snapshot
    assert GCNEncoder(5, 4, (6,), readout="mean").out_dim == 6


def test_net_shapes_normalisation_and_variants():
    x, nbr = _run()
    for summ in ("transformer", "mlp", "mean"):
        net = _net(summarizer=summ, normalize=True, positional=summ == "transformer")
        zf, p = net(x, nbr)
        assert zf.shape == p.shape == (4, 2, 30)
        assert torch.allclose(p.norm(dim=-1), torch.ones(4, 2), atol=1e-5)
        assert torch.allclose(zf.norm(dim=-1), torch.ones(4, 2), atol=1e-5)
    mean = _net(summarizer="mean")
    z = mean.encode(x, nbr)
    assert torch.allclose(mean.predict(z[:, :3])[:, 1], z[:, :3].mean(1))  # only_gcn
    zf, p = _net()(x, nbr, edge_drop=0.3, attr_mask=0.3)
    assert torch.isfinite(p).all()


def test_transformer_output_is_the_context_token():
    torch.manual_seed(0)
    tr = ContextTransformer(6, 8, 2, 2, 16, 0.0).eval()
    z = torch.randn(3, 4, 6)
    psi = torch.cat([tr.context_token.expand(3, 1, 8), tr.proj(z)], dim=1)
    assert torch.allclose(tr(z), tr.blocks(psi)[:, 0], atol=1e-6)
    assert tr.blocks.layers[0].norm_first  # pre-norm, eqs. 7-8
    # without positions the context is a set; with them, order matters
    perm = z[:, [2, 0, 3, 1]]
    assert torch.allclose(tr(z), tr(perm), atol=1e-5)
    trp = ContextTransformer(6, 8, 2, 2, 16, 0.0, max_len=4).eval()
    with torch.no_grad():
        trp.position.normal_()
    assert not torch.allclose(trp(z), trp(perm), atol=1e-4)


def test_log_bilinear_score_by_hand():
    pred = LogBilinearPredictor(2, 3, 2)
    with torch.no_grad():
        pred.maps[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        pred.maps[0].bias.zero_()
        pred.maps[1].weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 0.0], [0.0, -1.0]]))
        pred.maps[1].bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    h = torch.tensor([[0.5, -1.0]])
    z = torch.tensor([[[1.0, 2.0, 0.0], [0.5, 0.0, 2.0]]])
    # W_1 h = (0.5, -1, -0.5) . (1, 2, 0) = -1.5 ; W_2 h = (1, 1, 1) . (0.5, 0, 2) = 2.5
    assert torch.allclose(pred.log_score(h, z), torch.tensor([[-1.5, 2.5]]))
    assert torch.allclose(pred.score(h, z), torch.tensor([[math.exp(-1.5), math.exp(2.5)]]))


def test_net_rejects_bad_shapes():
    net = _net()
    x, nbr = _run()
    with pytest.raises(InputError, match=r"x must have shape \(B, 5, N, F\)"):
        net(x[:, :4], nbr[:, :4])
    with pytest.raises(InputError, match="neighbors"):
        net.encode(x, nbr[:, :3])
    with pytest.raises(InputError, match="z_context"):
        net.predict(torch.rand(2, 4, 30))
    with pytest.raises(InputError, match=r"x must have shape \(\*, 5, 4\)"):
        net.encode(torch.rand(2, 5, 6, 4), nbr[:2])


# ---------------------------------------------------------------------------------------
# losses (eqs. 3-6) by hand
# ---------------------------------------------------------------------------------------


def _lse(*xs: float) -> float:
    return math.log(sum(math.exp(v) for v in xs))


def test_temporal_ce_by_hand():
    z = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # B=2, K=1, d=2
    p = torch.tensor([[[2.0, 1.0]], [[0.0, 3.0]]])
    # row b=0: logits Z_0.P_c = (2, 0); row b=1: (1, 3)
    ref = -((2 - _lse(2, 0)) + (3 - _lse(1, 3))) / 2
    assert temporal_ce(z, p).item() == pytest.approx(ref, rel=1e-6)
    assert temporal_ce(z, p, 0.5).item() == pytest.approx(
        -((4 - _lse(4, 0)) + (6 - _lse(2, 6))) / 2, abs=1e-6
    )
    assert temporal_ce(torch.zeros(5, 2, 3), torch.zeros(5, 2, 3)).item() == pytest.approx(
        math.log(5)
    )


def test_cross_augmentation_loss_by_hand():
    pa = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]]])  # P'
    pb = torch.tensor([[[2.0, 0.0]], [[0.0, 0.5]], [[0.0, 1.0]]])  # P''
    zb = torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]], [[1.0, 1.0]]])  # Z''
    # b: positive P'_b.P''_b, negatives P'_b.Z''_n for n != b
    l0 = -(2 - _lse(2, 1, 1))  # pos 2; negs (1, 0).(1, 0)=1, (1, 0).(1, 1)=1
    l1 = -(0.5 - _lse(0.5, 1, 1))  # pos 0.5; negs (0, 1).(0, 1)=1, (0, 1).(1, 1)=1
    l2 = -(1 - _lse(1, 1, 1))  # pos 1; negs (1, 1).(0, 1)=1, (1, 1).(1, 0)=1
    got = cross_augmentation_loss(pa, pb, zb)
    assert got.item() == pytest.approx((l0 + l1 + l2) / 3, rel=1e-6)
    assert got.item() >= 0
    zeros = torch.zeros(4, 1, 2)
    assert cross_augmentation_loss(zeros, zeros, zeros).item() == pytest.approx(math.log(4))
    with pytest.raises(InputError, match="B >= 2"):
        cross_augmentation_loss(pa[:1], pb[:1], zb[:1])


def test_condgad_loss_is_the_sum_of_eqs_3_to_6():
    g = torch.Generator().manual_seed(5)
    z1, p1, z2, p2 = (torch.randn(4, 2, 3, generator=g) for _ in range(4))
    t = condgad_loss(z1, p1, z2, p2, temperature=0.5)
    l_min = temporal_ce(z1, p1, 0.5) + temporal_ce(z2, p2, 0.5)
    a1 = cross_augmentation_loss(p1, p2, z2, 0.5)
    a2 = cross_augmentation_loss(p2, p1, z1, 0.5)
    assert torch.allclose(t["min"], l_min) and torch.allclose(t["max"], a1 + a2)
    assert torch.allclose(t["loss"], l_min + a1 + a2)
    single = condgad_loss(z1, p1)
    assert set(single) == {"loss", "min"} and torch.allclose(single["loss"], temporal_ce(z1, p1))
    with pytest.raises(InputError, match="together"):
        condgad_loss(z1, p1, z2)


def test_losses_reject_bad_input():
    a = torch.rand(3, 2, 4)
    with pytest.raises(InputError, match="pred must have d = 4"):
        temporal_ce(a, torch.rand(3, 2, 5))
    with pytest.raises(InputError, match="finite"):
        temporal_ce(a, a.clone().fill_(math.nan))
    with pytest.raises(InputError, match=r"\(B, K, d\)"):
        temporal_ce(torch.rand(3, 4), torch.rand(3, 4))
    with pytest.raises(InputError, match="temperature"):
        temporal_ce(a, a, 0.0)


def test_losses_train_the_forecaster():
    """A few Adam steps of eqs. 3-6 on a fixed batch lower the loss (gradients reach all parts)."""
    net = _net(normalize=True, positional=True)
    x, nbr = _run(b=6)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        torch.manual_seed(0)  # same augmentations every step
        z1, p1 = net(x, nbr, edge_drop=0.2)
        z2, p2 = net(x, nbr, attr_mask=0.2)
        loss = condgad_loss(z1, p1, z2, p2, temperature=0.1)["loss"]
        opt.zero_grad()
        loss.backward()
        if not losses:
            for name, prm in net.named_parameters():
                assert prm.grad is not None and bool(prm.grad.abs().sum() > 0), name
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


# ---------------------------------------------------------------------------------------
# Sec. 3.3: scores and threshold
# ---------------------------------------------------------------------------------------


def test_prediction_error_threshold_and_detect():
    p = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    z = torch.tensor([[0.0, 0.0], [0.0, 3.0]])
    assert prediction_errors(p, z).tolist() == [2.5, 4.5]  # eq. 9: mean squared difference
    s = torch.tensor([1.0, 2.0, 3.0, 6.0, math.nan])
    mean, var = 3.0, ((2**2) + 1 + 0 + 3**2) / 4  # population variance of 1, 2, 3, 6
    assert fit_threshold(s) == pytest.approx(mean + 2 * math.sqrt(var))
    assert fit_threshold(s, 1.0) == pytest.approx(mean + math.sqrt(var))
    assert detect(torch.tensor([1.0, 7.0, math.nan]), 6.5).tolist() == [False, True, False]
    with pytest.raises(InputError, match="no finite value"):
        fit_threshold(torch.tensor([math.nan]))
    with pytest.raises(InputError, match=r"scores must have 1 dimensions \(M\)"):
        fit_threshold(torch.ones(2, 2))
    with pytest.raises(InputError, match=r"z_future must have shape \(2, 2\)"):
        prediction_errors(p, z[:1])


def test_score_windows_matches_manual_predictions():
    net = _net(normalize=True).eval()  # T = 3, K = 2
    x = torch.rand(8, 5, 4, generator=torch.Generator().manual_seed(6))
    nbr = topalpha_neighbors(x, 2)
    s = score_windows(net, x, nbr, batch_size=3)
    assert s.shape == (8,) and bool(s[:3].isnan().all()) and bool(s[3:].isfinite().all())
    with torch.no_grad():
        z = net.encode(x, nbr)
        p_a = net.predict(z[None, 2:5])[0]  # context ending at 4 predicts windows 5, 6
        p_b = net.predict(z[None, 3:6])[0]  # context ending at 5 predicts windows 6, 7
        p_c = net.predict(z[None, 0:3])[0]  # context ending at 2 predicts windows 3, 4
    e6 = (prediction_errors(p_a[1], z[6]) + prediction_errors(p_b[0], z[6])) / 2
    assert s[6].item() == pytest.approx(e6.item(), rel=1e-5)
    assert s[3].item() == pytest.approx(prediction_errors(p_c[0], z[3]).item(), rel=1e-5)
