"""Tests of the NCDS model and losses (patrec.core.ncds, eqs. 1-12 of Ye et al. 2024).

References below are plain-Python loops over anchors written from the equations, not from
the vectorised implementation.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from patrec.core.errors import ConfigError, InputError
from patrec.core.ncds import (
    ContrastiveModule,
    ContrastiveOutput,
    FeatureQueue,
    NCDSNet,
    NCDSOutput,
    cat_views,
    cds_loss,
    class_loss,
    make_queues,
    ncds_loss,
    simclr_loss,
    source_loss,
    supcon_loss,
    update_queues,
)
from patrec.core.nn import SmallCNN

# ---------------------------------------------------------------------------------------
# independent references (plain Python)
# ---------------------------------------------------------------------------------------


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _anchor_loss(
    anchor: list[float],
    cands: list[tuple[list[float], int]],
    label: int,
    tau: float,
) -> float | None:
    """-1/|P| sum_p log(exp(a.p/tau) / sum_d exp(a.d/tau)); None when P is empty."""
    denom = sum(math.exp(_dot(anchor, c) / tau) for c, _ in cands)
    pos = [c for c, y in cands if y == label]
    if not pos:
        return None
    return -sum(math.log(math.exp(_dot(anchor, p) / tau) / denom) for p in pos) / len(pos)


def ref_supcon(q: torch.Tensor, labels: torch.Tensor, tau: float) -> list[float | None]:
    """Eq. 2: P(i) = same label except i, D(i) = all except i."""
    rows, ys = q.tolist(), labels.tolist()
    out: list[float | None] = []
    for i in range(len(rows)):
        cands = [(rows[k], ys[k]) for k in range(len(rows)) if k != i]
        out.append(_anchor_loss(rows[i], cands, ys[i], tau))
    return out


def ref_class(
    q: torch.Tensor,
    labels: torch.Tensor,
    tau: float,
    queue_feats: torch.Tensor | None = None,
    queue_labels: torch.Tensor | None = None,
) -> list[float | None]:
    """Eq. 9: like eq. 2 with the same-source view N+i removed from P(i) and D(i)."""
    rows, ys = q.tolist(), labels.tolist()
    b = len(rows)
    n = b // 2
    extra: list[tuple[list[float], int]] = []
    if queue_feats is not None and queue_labels is not None:
        extra = list(zip(queue_feats.tolist(), queue_labels.tolist(), strict=True))
    out: list[float | None] = []
    for i in range(b):
        partner = i + n if i < n else i - n
        cands = [(rows[k], ys[k]) for k in range(b) if k not in (i, partner)] + extra
        out.append(_anchor_loss(rows[i], cands, ys[i], tau))
    return out


def _as_tensor(vals: list[float | None]) -> torch.Tensor:
    return torch.tensor([0.0 if v is None else v for v in vals], dtype=torch.float64)


def _mean_valid(vals: list[float | None]) -> float:
    valid = [v for v in vals if v is not None]
    return sum(valid) / len(valid) if valid else 0.0


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


# ---------------------------------------------------------------------------------------
# SupCon (eq. 2)
# ---------------------------------------------------------------------------------------


def test_supcon_matches_loop_reference() -> None:
    q = _unit(10, 6, seed=1)
    y_img = torch.tensor([0, 1, 0, 2, 1])
    labels = torch.cat([y_img, y_img])
    tau = 0.3
    ref = ref_supcon(q, labels, tau)
    assert all(v is not None for v in ref)  # two views: every anchor has a positive
    per = supcon_loss(q, labels, tau, reduction="none")
    assert torch.allclose(per, _as_tensor(ref), atol=1e-10)
    assert supcon_loss(q, labels, tau).item() == pytest.approx(_mean_valid(ref), abs=1e-10)
    assert supcon_loss(q, labels, tau, "sum").item() == pytest.approx(
        sum(v for v in ref if v is not None), abs=1e-9
    )


def test_supcon_anchor_without_positive_is_zero() -> None:
    q = _unit(5, 4, seed=2)
    labels = torch.tensor([0, 0, 1, 2, 2])
    ref = ref_supcon(q, labels, 0.5)
    per = supcon_loss(q, labels, 0.5, reduction="none")
    assert per[2].item() == 0.0 and ref[2] is None
    assert torch.allclose(per, _as_tensor(ref), atol=1e-10)
    assert supcon_loss(q, labels, 0.5).item() == pytest.approx(_mean_valid(ref), abs=1e-10)


def test_simclr_is_supcon_with_instance_labels() -> None:
    q = _unit(8, 5, seed=3)
    ref = ref_supcon(q, torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]), 0.2)
    assert simclr_loss(q, 0.2).item() == pytest.approx(_mean_valid(ref), abs=1e-10)


# ---------------------------------------------------------------------------------------
# L_class (eq. 9)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_class_loss_matches_loop_reference(seed: int) -> None:
    q = _unit(12, 5, seed=seed)
    y_img = torch.tensor([0, 1, 0, 2, 1, 3])  # class 2 and 3 have one image only
    labels = torch.cat([y_img, y_img])
    tau = 0.25
    ref = ref_class(q, labels, tau)
    per = class_loss(q, labels, tau, reduction="none")
    assert torch.allclose(per, _as_tensor(ref), atol=1e-10)
    assert class_loss(q, labels, tau, reduction="sum").item() == pytest.approx(
        sum(v for v in ref if v is not None), abs=1e-9
    )
    assert class_loss(q, labels, tau).item() == pytest.approx(_mean_valid(ref), abs=1e-10)
    # and it is not SupCon: removing the same-source view changes the value
    assert not torch.allclose(per, supcon_loss(q, labels, tau, reduction="none"))


def test_class_loss_with_queue_matches_loop_reference() -> None:
    q = _unit(8, 4, seed=5)
    y_img = torch.tensor([0, 1, 2, 0])
    labels = torch.cat([y_img, y_img])
    qf = _unit(6, 4, seed=6)
    ql = torch.tensor([2, 3, 1, 1, 0, 3])
    tau = 0.4
    ref = ref_class(q, labels, tau, qf, ql)
    assert all(v is not None for v in ref)  # every class of the batch is in the queue
    per = class_loss(q, labels, tau, queue_feats=qf, queue_labels=ql, reduction="none")
    assert torch.allclose(per, _as_tensor(ref), atol=1e-10)
    got = class_loss(q, labels, tau, queue_feats=qf, queue_labels=ql)
    assert got.item() == pytest.approx(_mean_valid(ref), abs=1e-10)
    # an empty queue changes nothing
    empty = class_loss(q, labels, tau, queue_feats=qf[:0], queue_labels=ql[:0], reduction="none")
    assert torch.allclose(empty, class_loss(q, labels, tau, reduction="none"), atol=1e-12)


def test_class_loss_is_supcon_with_partner_removed() -> None:
    """Per anchor, L_class equals eq. 2 on the batch without the anchor's same-source view."""
    q = _unit(10, 3, seed=7)
    y_img = torch.tensor([0, 0, 1, 1, 0])
    labels = torch.cat([y_img, y_img])
    n = 5
    per = class_loss(q, labels, 0.5, reduction="none")
    for i in range(2 * n):
        partner = (i + n) % (2 * n)
        keep = [k for k in range(2 * n) if k != partner]
        sup = supcon_loss(q[keep], labels[keep], 0.5, reduction="none")
        assert per[i].item() == pytest.approx(sup[keep.index(i)].item(), abs=1e-10)


def test_class_loss_zero_when_labels_distinct() -> None:
    q = _unit(8, 4, seed=8).requires_grad_(True)
    labels = torch.arange(4).repeat(2)  # only same-source views share a label
    for reduction in ("mean", "sum"):
        assert reduction in ("mean", "sum")
        loss = class_loss(q, labels, 0.1, reduction=reduction)
        assert loss.item() == 0.0
    per = class_loss(q, labels, 0.1, reduction="none")
    assert torch.equal(per, torch.zeros(8, dtype=torch.float64))
    class_loss(q, labels, 0.1).backward()
    assert q.grad is not None and torch.equal(q.grad, torch.zeros_like(q))
    # a queue entry of the same class gives a positive again
    qf, ql = _unit(1, 4, seed=9), torch.tensor([2])
    per_q = class_loss(q, labels, 0.1, queue_feats=qf, queue_labels=ql, reduction="none")
    assert (per_q != 0).tolist() == [False, False, True, False, False, False, True, False]


def test_class_loss_anchors_without_positives_contribute_zero() -> None:
    q = _unit(6, 4, seed=10)
    labels = torch.tensor([0, 0, 1, 0, 0, 1])
    per = class_loss(q, labels, 0.2, reduction="none")
    assert per[2].item() == 0.0 and per[5].item() == 0.0
    assert (per[[0, 1, 3, 4]] > 0).all()
    mean = class_loss(q, labels, 0.2)
    assert mean.item() == pytest.approx(per[[0, 1, 3, 4]].mean().item(), abs=1e-12)
    # the lone class's rows still act as negatives for the others: moving them changes L
    q2 = q.clone()
    q2[[2, 5]] = q[[0, 0]]
    assert class_loss(q2, labels, 0.2).item() != pytest.approx(mean.item())


def test_class_loss_queue_gets_no_gradient() -> None:
    q = _unit(4, 3, seed=11).requires_grad_(True)
    qf = _unit(3, 3, seed=12).requires_grad_(True)
    labels = torch.tensor([0, 1, 0, 1])
    loss = class_loss(q, labels, 0.3, queue_feats=qf, queue_labels=torch.tensor([0, 1, 1]))
    loss.backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    assert qf.grad is None


def test_class_loss_gradcheck() -> None:
    q = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(13))
    q.requires_grad_(True)
    labels = torch.tensor([0, 1, 0, 0, 1, 0])
    qf = _unit(2, 3, seed=14)
    ql = torch.tensor([1, 0])

    def fn(x: torch.Tensor) -> torch.Tensor:
        return class_loss(F.normalize(x, dim=1), labels, 0.5, queue_feats=qf, queue_labels=ql)

    assert torch.autograd.gradcheck(fn, (q,), eps=1e-6, atol=1e-5)

    def fn_sup(x: torch.Tensor) -> torch.Tensor:
        return supcon_loss(F.normalize(x, dim=1), labels, 0.5)

    assert torch.autograd.gradcheck(fn_sup, (q,), eps=1e-6, atol=1e-5)


def test_class_loss_stable_at_small_tau_and_half_precision() -> None:
    q = _unit(8, 4, seed=15).float()
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    tiny = class_loss(q, labels, 1e-3)
    assert torch.isfinite(tiny)
    half = class_loss(q.half(), labels, 0.1)
    assert half.dtype == torch.float32
    assert half.item() == pytest.approx(class_loss(q, labels, 0.1).item(), rel=1e-2)


# ---------------------------------------------------------------------------------------
# L_source (eq. 10)
# ---------------------------------------------------------------------------------------


def test_source_loss_minus_one_when_h_equals_g() -> None:
    g = _unit(6, 5, seed=16)
    h = torch.cat([g[3:], g[:3]])  # each h_i equals its partner's g
    assert source_loss(h, g).item() == pytest.approx(-1.0, abs=1e-12)
    assert source_loss(h, g, "sum").item() == pytest.approx(-3.0, abs=1e-12)
    # h == g with both views identical (x_i == x_{N+i}) is also the minimum
    same = _unit(3, 5, seed=17).repeat(2, 1)
    assert source_loss(same, same).item() == pytest.approx(-1.0, abs=1e-12)


def test_source_loss_matches_loop() -> None:
    h, g = _unit(8, 3, seed=18), _unit(8, 3, seed=19)
    n = 4
    hl, gl = h.tolist(), g.tolist()
    per = [-0.5 * (_dot(hl[i], gl[n + i]) + _dot(hl[n + i], gl[i])) for i in range(n)]
    assert torch.allclose(source_loss(h, g, "none"), torch.tensor(per, dtype=torch.float64))
    assert source_loss(h, g, "sum").item() == pytest.approx(sum(per), abs=1e-12)
    assert source_loss(h, g).item() == pytest.approx(sum(per) / n, abs=1e-12)


def test_source_loss_stop_gradient() -> None:
    h = _unit(6, 4, seed=20).requires_grad_(True)
    g = _unit(6, 4, seed=21).requires_grad_(True)
    source_loss(h, g).backward()
    assert g.grad is None  # sg(g): no gradient into the projection branch
    assert h.grad is not None
    n = 3
    expected = -0.5 * torch.cat([g[n:], g[:n]]).detach() / n
    assert torch.allclose(h.grad, expected, atol=1e-12)

    # only g requires grad: the loss has no graph at all
    g2 = _unit(6, 4, seed=22).requires_grad_(True)
    loss = source_loss(_unit(6, 4, seed=23), g2)
    assert not loss.requires_grad


# ---------------------------------------------------------------------------------------
# FeatureQueue
# ---------------------------------------------------------------------------------------


def _rows(vals: list[float], dim: int = 2) -> torch.Tensor:
    return torch.tensor(vals, dtype=torch.float32).unsqueeze(1).repeat(1, dim)


def test_queue_order_eviction_and_wraparound() -> None:
    qu = FeatureQueue(dim=2, size=5)
    assert len(qu) == 0
    f, y = qu.get()
    assert f.shape == (0, 2) and y.shape == (0,)

    qu.enqueue(_rows([0, 1, 2]), torch.tensor([10, 11, 12]))
    f, y = qu.get()
    assert len(qu) == 3 and y.tolist() == [10, 11, 12] and f[:, 0].tolist() == [0, 1, 2]

    qu.enqueue(_rows([3, 4, 5, 6]), torch.tensor([13, 14, 15, 16]))  # wraps, evicts 0, 1
    f, y = qu.get()
    assert len(qu) == 5
    assert f[:, 0].tolist() == [2, 3, 4, 5, 6]  # oldest -> newest
    assert y.tolist() == [12, 13, 14, 15, 16]

    qu.enqueue(_rows([7]), torch.tensor([17]))
    assert qu.get()[1].tolist() == [13, 14, 15, 16, 17]


def test_queue_more_items_than_size_keeps_newest() -> None:
    qu = FeatureQueue(dim=2, size=3)
    qu.enqueue(_rows([0]), torch.tensor([0]))
    qu.enqueue(_rows([1, 2, 3, 4, 5]), torch.tensor([1, 2, 3, 4, 5]))
    f, y = qu.get()
    assert y.tolist() == [3, 4, 5] and f[:, 0].tolist() == [3, 4, 5]
    qu.enqueue(_rows([6]), torch.tensor([6]))
    assert qu.get()[1].tolist() == [4, 5, 6]
    qu.enqueue(_rows([7, 8, 9]), torch.tensor([7, 8, 9]))  # exactly size
    assert qu.get()[1].tolist() == [7, 8, 9]


def test_queue_never_leaks_empty_slots_and_resets() -> None:
    qu = FeatureQueue(dim=3, size=4)
    qu.enqueue(torch.ones(2, 3), torch.tensor([0, 0]))
    f, y = qu.get()
    assert y.tolist() == [0, 0] and f.shape == (2, 3)  # label -1 / zero rows never returned
    qu.reset()
    assert len(qu) == 0 and qu.get()[0].shape == (0, 3)
    assert qu.labels.tolist() == [-1, -1, -1, -1]
    qu.enqueue(torch.ones(1, 3), torch.tensor([2]))
    assert qu.get()[1].tolist() == [2]


def test_queue_detaches_and_copies_and_state_dict() -> None:
    qu = FeatureQueue(dim=2, size=4)
    x = torch.randn(3, 2, requires_grad=True)
    qu.enqueue(x, torch.tensor([1, 2, 3]))
    f, _ = qu.get()
    assert not f.requires_grad
    f.zero_()  # a copy: the queue is unchanged
    assert torch.allclose(qu.get()[0], x.detach())
    clone = FeatureQueue(dim=2, size=4)
    clone.load_state_dict(qu.state_dict())
    assert len(clone) == 3 and torch.equal(clone.get()[1], torch.tensor([1, 2, 3]))


def test_queue_bad_input() -> None:
    qu = FeatureQueue(dim=2, size=4)
    with pytest.raises(InputError, match=r"D = 2 .*\(B, D\)"):
        qu.enqueue(torch.randn(3, 5), torch.tensor([0, 1, 2]))
    with pytest.raises(InputError):
        qu.enqueue(torch.randn(3, 2), torch.tensor([0, 1]))
    with pytest.raises(InputError):
        qu.enqueue(torch.randn(2, 2), torch.tensor([0, -1]))
    with pytest.raises(InputError):
        qu.enqueue(torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]))
    with pytest.raises(ConfigError):
        FeatureQueue(dim=2, size=0)
    assert len(qu) == 0


def test_queue_bank() -> None:
    bank = make_queues(3, dim=2, size=4)
    assert len(bank) == 3 and all(isinstance(qu, FeatureQueue) for qu in bank)
    bank[1].enqueue(_rows([1, 2]), torch.tensor([5, 6]))
    assert [len(qu) for qu in bank] == [0, 2, 0]
    state = bank.state_dict()
    assert "queues.1.labels" in state
    other = make_queues(3, dim=2, size=4)
    other.load_state_dict(state)
    assert other[1].get()[1].tolist() == [5, 6]
    bank.reset()
    assert [len(qu) for qu in bank] == [0, 0, 0]
    with pytest.raises(ConfigError):
        make_queues(0)


# ---------------------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------------------


def _tiny_net(stages: tuple[int, ...] | None = None) -> NCDSNet:
    torch.manual_seed(0)
    backbone = SmallCNN(in_channels=1, num_classes=3, widths=(4, 8, 8))
    return NCDSNet(backbone, proj_dim=16, stages=stages, hidden_dim=32)


def test_contrastive_module_outputs_unit_vectors() -> None:
    torch.manual_seed(0)
    m = ContrastiveModule(in_channels=4, proj_dim=8, hidden_dim=16)
    out = m(torch.randn(5, 4, 6, 6))
    assert isinstance(out, ContrastiveOutput)
    for t in out:
        assert t.shape == (5, 8)
        assert torch.allclose(t.norm(dim=1), torch.ones(5), atol=1e-5)
    # g = G(u), h = H(G(u)) with u the un-normalised projection
    m.eval()
    x = torch.randn(3, 4, 6, 6)
    u = m.projection(x)
    out = m(x)
    assert torch.allclose(out.q, F.normalize(u, dim=1), atol=1e-6)
    assert torch.allclose(out.g, F.normalize(m.projector(u), dim=1), atol=1e-6)
    assert torch.allclose(out.h, F.normalize(m.predictor(m.projector(u)), dim=1), atol=1e-6)
    with pytest.raises(InputError):
        m(torch.randn(5, 3, 6, 6))


def test_ncds_net_deploy_drops_auxiliary_modules() -> None:
    net = _tiny_net()
    bare = SmallCNN(in_channels=1, num_classes=3, widths=(4, 8, 8))
    deployed = net.deploy()
    assert deployed is net.backbone
    n_deployed = sum(p.numel() for p in deployed.parameters())
    assert n_deployed == sum(p.numel() for p in bare.parameters())
    assert sum(p.numel() for p in net.parameters()) > n_deployed
    assert set(deployed.state_dict()) == set(bare.state_dict())
    net.eval()
    x = torch.randn(4, 1, 8, 8)
    out = net(x)
    assert torch.equal(out.logits, deployed(x))
    assert len(out.aux) == 3 and out.stage_indices == (0, 1, 2)
    assert all(o.q.shape == (4, 16) for o in out.aux)


def test_ncds_net_stage_choice() -> None:
    net = _tiny_net(stages=(2, 1))
    assert net.stage_indices == (1, 2) and len(net.contrastive) == 2
    out = net(torch.randn(4, 1, 8, 8))
    assert out.stage_indices == (1, 2) and len(out.aux) == 2
    with pytest.raises(ConfigError):
        _tiny_net(stages=(3,))
    with pytest.raises(ConfigError):
        _tiny_net(stages=(1, 1))
    with pytest.raises(InputError):
        NCDSNet(torch.nn.Linear(2, 2))  # type: ignore[arg-type]


def test_ncds_loss_backward_reaches_every_parameter() -> None:
    net = _tiny_net()
    x = torch.randn(4, 1, 8, 8)
    views = torch.cat([x, x + 0.1 * torch.randn_like(x)])
    out = net(views)
    terms = ncds_loss(out, torch.tensor([0, 1, 0, 2]), lambda1=1.0, lambda2=1.0, tau=0.2)
    terms["loss"].backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None]
    assert missing == []


def test_cat_views() -> None:
    net = _tiny_net()
    net.eval()
    x1, x2 = torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
    joined = cat_views(net(x1), net(x2))
    both = net(torch.cat([x1, x2]))
    assert torch.allclose(joined.logits, both.logits, atol=1e-5)
    assert torch.allclose(joined.aux[1].h, both.aux[1].h, atol=1e-5)
    with pytest.raises(InputError):
        cat_views(net(x1), net(torch.randn(2, 1, 8, 8)))


# ---------------------------------------------------------------------------------------
# total losses (eqs. 11, 12)
# ---------------------------------------------------------------------------------------


def _fake_output(
    n: int, num_stages: int = 2, dim: int = 4, classes: int = 3, seed: int = 0
) -> NCDSOutput:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2 * n, classes, generator=gen, dtype=torch.float64)
    aux = []
    for _ in range(num_stages):
        q, g, h = (
            F.normalize(torch.randn(2 * n, dim, generator=gen, dtype=torch.float64), dim=1)
            for _ in range(3)
        )
        aux.append(ContrastiveOutput(q, g, h))
    return NCDSOutput(logits, aux, tuple(range(num_stages)))


def _subset(out: NCDSOutput, idx: list[int]) -> NCDSOutput:
    n = out.logits.shape[0] // 2
    rows = idx + [n + i for i in idx]
    aux = [ContrastiveOutput(o.q[rows], o.g[rows], o.h[rows]) for o in out.aux]
    return NCDSOutput(out.logits[rows], aux, out.stage_indices)


def test_ncds_loss_is_eq11() -> None:
    out = _fake_output(5)
    y = torch.tensor([0, 1, 0, 2, 1])
    y2 = torch.cat([y, y])
    queues = make_queues(2, dim=4, size=8)
    queues[0].enqueue(_unit(3, 4, seed=30), torch.tensor([2, 2, 1]))
    terms = ncds_loss(out, y, lambda1=0.5, lambda2=2.0, tau=0.3, queues=queues)
    ce = F.cross_entropy(out.logits, y2)
    qf, ql = queues[0].get()
    c0 = class_loss(out.aux[0].q, y2, 0.3, queue_feats=qf, queue_labels=ql)
    c1 = class_loss(out.aux[1].q, y2, 0.3)
    s0, s1 = (source_loss(o.h, o.g) for o in out.aux)
    expected = ce + 0.5 * (c0 + c1) + 2.0 * (s0 + s1)
    assert terms["loss"].item() == pytest.approx(expected.item(), abs=1e-12)
    assert terms["ce"].item() == pytest.approx(ce.item(), abs=1e-12)
    assert terms["class/stage0"].item() == pytest.approx(c0.item(), abs=1e-12)
    assert terms["source/stage1"].item() == pytest.approx(s1.item(), abs=1e-12)
    assert terms["class"].item() == pytest.approx((c0 + c1).item(), abs=1e-12)
    assert terms["source_unlabelled"].item() == 0.0
    # per-view labels give the same result; "sum" gives eqs. 9-10 as written
    again = ncds_loss(out, y2, lambda1=0.5, lambda2=2.0, tau=0.3, queues=queues)
    assert again["loss"].item() == pytest.approx(terms["loss"].item(), abs=1e-12)
    summed = ncds_loss(out, y, lambda1=1.0, lambda2=1.0, tau=0.3, reduction="sum")
    exp_sum = ce + sum(
        class_loss(o.q, y2, 0.3, reduction="sum") + source_loss(o.h, o.g, "sum") for o in out.aux
    )
    assert summed["loss"].item() == pytest.approx(float(exp_sum), abs=1e-10)


def test_semi_supervised_unlabelled_only_add_source() -> None:
    out = _fake_output(6, seed=1)
    y = torch.tensor([0, 1, -1, 0, -1, 1])
    lab, unl = [0, 1, 3, 5], [2, 4]
    kw = {"lambda1": 0.7, "lambda2": 1.3, "tau": 0.2, "lambda_unlabelled": 0.9}
    semi = ncds_loss(out, y, **kw)  # type: ignore[arg-type]
    sup = ncds_loss(_subset(out, lab), y[lab], **kw)  # type: ignore[arg-type]
    # CE and L_class unchanged by the unlabelled images' logits and features
    for key in ("ce", "class", "class/stage0", "source"):
        assert semi[key].item() == pytest.approx(sup[key].item(), abs=1e-12)
    unl_out = _subset(out, unl)
    src_u = [source_loss(o.h, o.g) for o in unl_out.aux]
    assert semi["source_unlabelled/stage1"].item() == pytest.approx(src_u[1].item(), abs=1e-12)
    expected = sup["loss"] + 0.9 * (src_u[0] + src_u[1])
    assert semi["loss"].item() == pytest.approx(expected.item(), abs=1e-12)
    # labelled_mask is the same as the -1 convention, whatever the unlabelled labels say
    mask = y >= 0
    y_any = torch.where(mask, y, torch.tensor(2))
    masked = ncds_loss(out, y_any, labelled_mask=mask, **kw)  # type: ignore[arg-type]
    assert masked["loss"].item() == pytest.approx(semi["loss"].item(), abs=1e-12)


def test_semi_supervised_gradients_of_unlabelled_rows() -> None:
    out = _fake_output(4, num_stages=1, seed=2)
    q = out.aux[0].q.clone().requires_grad_(True)
    h = out.aux[0].h.clone().requires_grad_(True)
    logits = out.logits.clone().requires_grad_(True)
    out = NCDSOutput(logits, [ContrastiveOutput(q, out.aux[0].g, h)], (0,))
    y = torch.tensor([0, -1, 0, 1])
    ncds_loss(out, y, lambda1=1.0, lambda2=1.0, tau=0.5)["loss"].backward()
    assert q.grad is not None and h.grad is not None and logits.grad is not None
    unl_rows = [1, 5]
    lab_rows = [0, 2, 3, 4, 6, 7]
    assert torch.equal(q.grad[unl_rows], torch.zeros(2, 4, dtype=torch.float64))
    assert torch.equal(logits.grad[unl_rows], torch.zeros(2, 3, dtype=torch.float64))
    assert q.grad[lab_rows].abs().sum() > 0
    assert h.grad[unl_rows].abs().sum() > 0  # L_source still trains them


def test_all_unlabelled_batch() -> None:
    out = _fake_output(3, seed=3)
    terms = ncds_loss(out, torch.tensor([-1, -1, -1]), lambda1=1.0, lambda2=1.0, tau=0.1)
    assert terms["ce"].item() == 0.0 and terms["class"].item() == 0.0
    src = sum(source_loss(o.h, o.g) for o in out.aux)
    assert terms["loss"].item() == pytest.approx(float(src), abs=1e-12)


def test_cds_loss() -> None:
    out = _fake_output(4, seed=4)
    y = torch.tensor([0, 1, 1, -1])
    terms = cds_loss(out, y, lambda1=0.5, tau=0.2, lambda_unlabelled=2.0)
    lab = _subset(out, [0, 1, 2])
    unl = _subset(out, [3])
    y2 = torch.tensor([0, 1, 1, 0, 1, 1])
    ce = F.cross_entropy(lab.logits, y2)
    sup = sum(supcon_loss(o.q, y2, 0.2) for o in lab.aux)
    simclr = sum(simclr_loss(o.q, 0.2) for o in unl.aux)
    assert terms["loss"].item() == pytest.approx(float(ce + 0.5 * sup + 2.0 * simclr), abs=1e-12)
    assert terms["supcon"].item() == pytest.approx(float(sup), abs=1e-12)


def test_update_queues_labelled_both_views_and_gather() -> None:
    out = _fake_output(3, num_stages=2, seed=5)
    y = torch.tensor([2, -1, 0])
    queues = make_queues(2, dim=4, size=16)
    update_queues([queues[0], None], out, y)
    f, lab = queues[0].get()
    assert lab.tolist() == [2, 0, 2, 0]  # view 1 of images 0, 2, then view 2
    q = out.aux[0].q
    assert torch.allclose(f, q[[0, 2, 3, 5]].float())
    assert len(queues[1]) == 0

    def fake_gather(t: torch.Tensor) -> torch.Tensor:  # two processes with the same batch
        return torch.cat([t, t])

    update_queues(queues, out, y, gather=fake_gather)
    assert len(queues[1]) == 8
    assert queues[1].get()[1].tolist() == [2, 0, 2, 0] * 2


def test_queue_loss_step_matches_reference() -> None:
    """One step with queues: the loss reads the queue before this batch is enqueued."""
    out1, out2 = _fake_output(3, 1, seed=6), _fake_output(3, 1, seed=7)
    y1, y2 = torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0])
    queues = make_queues(1, dim=4, size=32)
    first = ncds_loss(out1, y1, tau=0.3, queues=queues)
    assert first["class"].item() == 0.0  # distinct labels and an empty queue
    update_queues(queues, out1, y1)
    second = ncds_loss(out2, y2, tau=0.3, queues=queues)
    qy = torch.cat([y1, y1])
    ref = ref_class(out2.aux[0].q, torch.cat([y2, y2]), 0.3, out1.aux[0].q, qy)
    assert second["class"].item() == pytest.approx(_mean_valid(ref), rel=1e-6)


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------


def test_bad_input_raises_input_error() -> None:
    q = _unit(6, 4, seed=40)
    y = torch.tensor([0, 1, 0, 0, 1, 0])
    with pytest.raises(InputError, match="2N rows"):
        class_loss(q[:5], y[:5], 0.1)
    with pytest.raises(InputError, match="tau"):
        class_loss(q, y, 0.0)
    with pytest.raises(InputError, match="tau"):
        supcon_loss(q, y, -1.0)
    with pytest.raises(InputError, match="tau"):
        class_loss(q, y, float("nan"))
    with pytest.raises(InputError, match="labels"):
        class_loss(q, torch.tensor([0, 1, 0, 1, 0, 0]), 0.1)  # views disagree
    with pytest.raises(InputError, match="labels"):
        class_loss(q, y.float(), 0.1)
    with pytest.raises(InputError, match="labels"):
        class_loss(q, y[:4], 0.1)
    with pytest.raises(InputError, match="finite"):
        bad = q.clone()
        bad[0, 0] = float("inf")
        class_loss(bad, y, 0.1)
    with pytest.raises(InputError, match=r"\(B, D\)"):
        supcon_loss(q[None], y, 0.1)
    with pytest.raises(InputError, match="queue"):
        class_loss(q, y, 0.1, queue_feats=_unit(2, 3), queue_labels=torch.tensor([0, 1]))
    with pytest.raises(InputError, match="together"):
        class_loss(q, y, 0.1, queue_feats=_unit(2, 4))
    with pytest.raises(InputError, match="reduction"):
        class_loss(q, y, 0.1, reduction="max")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="same"):
        source_loss(q, q[:4])
    with pytest.raises(InputError, match="2N rows"):
        source_loss(q[:5], q[:5])
    with pytest.raises(InputError, match="2N rows"):
        simclr_loss(q[:3], 0.1)


def test_total_loss_bad_input() -> None:
    out = _fake_output(3, seed=41)
    with pytest.raises(InputError, match="0..2"):
        ncds_loss(out, torch.tensor([0, 1, 3]))
    with pytest.raises(InputError, match=r"\(N,\)"):
        ncds_loss(out, torch.tensor([0, 1]))
    with pytest.raises(InputError, match="one queue"):
        ncds_loss(out, torch.tensor([0, 1, 2]), queues=[FeatureQueue(4, 8)])
    with pytest.raises(InputError, match="per stage"):
        ncds_loss(out, torch.tensor([0, 1, 2]), queues=FeatureQueue(4, 8))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="lambda1"):
        ncds_loss(out, torch.tensor([0, 1, 2]), lambda1=-1.0)
    with pytest.raises(InputError, match="labelled_mask"):
        ncds_loss(out, torch.tensor([0, 1, 2]), labelled_mask=torch.tensor([1, 0, 1]))
    with pytest.raises(InputError, match="labels"):
        cds_loss(out, torch.tensor([0, 1, 2, 0, 1, 1]))  # per-view labels disagree
    odd = NCDSOutput(out.logits[:5], out.aux, out.stage_indices)
    with pytest.raises(InputError, match="2N rows"):
        ncds_loss(odd, torch.tensor([0, 1, 2]))


# ---------------------------------------------------------------------------------------
# DSN baseline (Table 2) and Table 4's auxiliary losses
# ---------------------------------------------------------------------------------------


def test_dsn_net_and_loss() -> None:
    from patrec.core.ncds import DSNNet, dsn_loss

    torch.manual_seed(0)
    backbone = SmallCNN(in_channels=1, num_classes=3, widths=(4, 8, 8))
    net = DSNNet(backbone).eval()
    assert net.stage_indices == (0, 1) and net.deploy() is backbone
    x = torch.randn(6, 1, 8, 8)
    logits, aux = net(x)
    assert torch.equal(logits, backbone(x)) and [a.shape for a in aux] == [(6, 3)] * 2
    y = torch.tensor([0, 1, 2, -1, 1, 0])  # row 3 unlabelled
    terms = dsn_loss(logits, aux, y, weight=0.5)
    keep = y >= 0
    ref_ce = F.cross_entropy(logits[keep], y[keep])
    ref_comp = sum(F.cross_entropy(a[keep], y[keep]) for a in aux)
    assert terms["loss"].item() == pytest.approx((ref_ce + 0.5 * ref_comp).item(), rel=1e-6)
    moved = [a.clone() for a in aux]
    moved[0][3] += 100.0  # the unlabelled row does not count
    assert dsn_loss(logits, moved, y, weight=0.5)["loss"].item() == pytest.approx(
        terms["loss"].item(), rel=1e-6
    )
    with pytest.raises(InputError, match="aux_logits"):
        dsn_loss(logits, [aux[0][:4]], y)
    with pytest.raises(ConfigError):
        DSNNet(backbone, stages=(3,))


def test_ablation_losses_are_table4s_combinations() -> None:
    from patrec.core.ncds import ablation_loss

    out = _fake_output(4, seed=50)
    y = torch.tensor([0, 1, 0, 2])
    ce = ncds_loss(out, y, lambda1=0.0, lambda2=0.0, lambda_unlabelled=0.0)["ce"]
    # L_source + L_class is NCDS (eq. 11)
    both = ablation_loss(out, y, ("source", "class"), lambda1=0.7, lambda2=0.3, tau=0.2)
    ref = ncds_loss(out, y, lambda1=0.7, lambda2=0.3, tau=0.2)
    assert both["loss"].item() == pytest.approx(ref["loss"].item(), rel=1e-9)
    # L_SimCLR alone: CE + lambda2 * sum_k SimCLR(q_k) over all 2N views
    sim = ablation_loss(out, y, ("simclr",), lambda2=0.3, tau=0.2)
    ref_sim = ce + 0.3 * sum(simclr_loss(o.q, 0.2) for o in out.aux)
    assert sim["loss"].item() == pytest.approx(ref_sim.item(), rel=1e-9)
    # L_SimCLR + L_class = the two above minus the shared CE
    mix = ablation_loss(out, y, ("simclr", "class"), lambda1=0.7, lambda2=0.3, tau=0.2)
    cls = sum(class_loss(o.q, torch.cat([y, y]), 0.2) for o in out.aux)
    assert mix["loss"].item() == pytest.approx((ref_sim + 0.7 * cls).item(), rel=1e-9)
    assert mix["class"].item() == pytest.approx(cls.item(), rel=1e-9)
    with pytest.raises(InputError, match="parts"):
        ablation_loss(out, y, ("supcon",))
