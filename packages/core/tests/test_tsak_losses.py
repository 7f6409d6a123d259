"""Tests of the TSAK losses and models (patrec.core.tsak, Eqs. 1-2 and Table 2 of Bello et al.).

References are plain-Python computations written from the equations (softmax with a
temperature, KL, cross-entropy, cosine), not from the vectorised implementation.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from patrec.core.errors import InputError
from patrec.core.tsak import (
    SemanticClassifier,
    TSAKTeacher,
    WearableStudent,
    cosine_kd_loss,
    count_flops,
    count_params,
    feature_kd_loss,
    kd_kl_divergence,
    logit_kd_loss,
    merged_kd_loss,
    sc_kd_loss,
)

# ---------------------------------------------------------------------------------------
# plain-Python references
# ---------------------------------------------------------------------------------------


def _softmax(z: list[float], tau: float) -> list[float]:
    e = [math.exp(v / tau) for v in z]
    s = sum(e)
    return [v / s for v in e]


def ref_kl(zs: list[list[float]], zt: list[list[float]], tau: float) -> float:
    """mean_i sum_c p_t log(p_t / p_s), p = softmax(z / tau)."""
    tot = 0.0
    for s_row, t_row in zip(zs, zt, strict=True):
        ps, pt = _softmax(s_row, tau), _softmax(t_row, tau)
        tot += sum(b * math.log(b / a) for a, b in zip(ps, pt, strict=True))
    return tot / len(zs)


def ref_ce(zs: list[list[float]], y: list[int]) -> float:
    return -sum(math.log(_softmax(r, 1.0)[k]) for r, k in zip(zs, y, strict=True)) / len(zs)


ZS = [[1.0, -0.5, 0.25], [0.0, 2.0, -1.0]]
ZT = [[0.5, 0.5, -1.0], [-1.0, 3.0, 0.5]]
Y = [0, 2]


def _t(rows: list[list[float]], grad: bool = False) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64, requires_grad=grad)


def _y() -> torch.Tensor:
    return torch.tensor(Y)


# ---------------------------------------------------------------------------------------
# Eq. (1)
# ---------------------------------------------------------------------------------------


def test_kl_matches_hand_computation_on_tiny_logits():
    for tau in (1.0, 4.0, 20.0):
        got = kd_kl_divergence(_t(ZS), _t(ZT), tau)
        assert got.item() == pytest.approx(ref_kl(ZS, ZT, tau), rel=1e-10, abs=1e-12)
    # KL is 0 exactly when student and teacher logits agree (up to a per-row shift)
    z = _t(ZS)
    assert kd_kl_divergence(z, z.clone(), 4.0).item() == pytest.approx(0.0, abs=1e-12)
    assert kd_kl_divergence(z, z + 3.0, 4.0).item() == pytest.approx(0.0, abs=1e-12)
    assert kd_kl_divergence(z, _t(ZT), 4.0).item() > 1e-4


def test_alpha_one_is_plain_cross_entropy():
    zs = _t(ZS, grad=True)
    loss = logit_kd_loss(zs, _t(ZT), _y(), alpha=1.0, tau=4.0)
    ce = F.cross_entropy(zs, _y())
    assert loss.item() == pytest.approx(ref_ce(ZS, Y), rel=1e-12)
    assert torch.equal(loss.detach(), ce.detach())
    (g_loss,) = torch.autograd.grad(loss, zs)
    (g_ce,) = torch.autograd.grad(F.cross_entropy(zs, _y()), zs)
    assert torch.equal(g_loss, g_ce)
    # the teacher plays no part at alpha = 1
    other = logit_kd_loss(zs, _t(ZT) * -5.0, _y(), alpha=1.0, tau=4.0)
    assert torch.equal(loss.detach(), other.detach())


@pytest.mark.parametrize("tau", [1.0, 4.0, 20.0])
def test_alpha_zero_is_pure_soft_target_kd_with_tau_squared(tau):
    kl = ref_kl(ZS, ZT, tau)
    scaled = logit_kd_loss(_t(ZS), _t(ZT), _y(), alpha=0.0, tau=tau)
    literal = logit_kd_loss(_t(ZS), _t(ZT), _y(), alpha=0.0, tau=tau, tau_squared=False)
    assert scaled.item() == pytest.approx(tau * tau * kl, rel=1e-10)
    assert literal.item() == pytest.approx(kl, rel=1e-10)
    # labels play no part at alpha = 0
    other = logit_kd_loss(_t(ZS), _t(ZT), torch.tensor([1, 1]), alpha=0.0, tau=tau)
    assert other.item() == pytest.approx(scaled.item(), rel=1e-12)


def test_mixed_alpha_is_the_weighted_sum_of_eq1():
    alpha, tau = 0.99, 4.0
    want = alpha * ref_ce(ZS, Y) + (1 - alpha) * tau**2 * ref_kl(ZS, ZT, tau)
    got = logit_kd_loss(_t(ZS), _t(ZT), _y(), alpha, tau)
    assert got.item() == pytest.approx(want, rel=1e-10)
    # SC-Logit KD is the same formula with the semantic classifier's logits as z_t
    assert sc_kd_loss(_t(ZS), _t(ZT), _y(), alpha, tau).item() == pytest.approx(want, rel=1e-10)
    # and the defaults are the paper's alpha = 0.99, tau = 4
    assert sc_kd_loss(_t(ZS), _t(ZT), _y()).item() == pytest.approx(want, rel=1e-10)


def test_gradients_reach_the_student_only():
    zs, zt = _t(ZS, grad=True), _t(ZT, grad=True)
    sc_kd_loss(zs, zt, _y(), alpha=0.5, tau=4.0).backward()
    assert zs.grad is not None and float(zs.grad.abs().sum()) > 0
    assert zt.grad is None
    # gradcheck on the student logits (double precision)
    zs2 = _t(ZS, grad=True)
    assert torch.autograd.gradcheck(lambda z: logit_kd_loss(z, _t(ZT), _y(), 0.3, 4.0), (zs2,))


def test_soft_term_pulls_student_towards_teacher():
    zs = _t(ZS, grad=True)
    opt = torch.optim.SGD([zs], lr=0.5)
    before = ref_kl(ZS, ZT, 4.0)
    for _ in range(50):
        opt.zero_grad()
        logit_kd_loss(zs, _t(ZT), _y(), alpha=0.0, tau=4.0).backward()
        opt.step()
    assert ref_kl(zs.detach().tolist(), ZT, 4.0) < 0.05 * before


# ---------------------------------------------------------------------------------------
# Eq. (2)
# ---------------------------------------------------------------------------------------


def test_cosine_loss_values():
    h = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])
    assert cosine_kd_loss(h, h.clone()).item() == pytest.approx(0.0, abs=1e-6)
    assert cosine_kd_loss(h, 7.0 * h).item() == pytest.approx(0.0, abs=1e-6)  # scale-free
    assert cosine_kd_loss(h, -h).item() == pytest.approx(2.0, abs=1e-6)
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[0.0, 1.0]])
    assert cosine_kd_loss(a, b).item() == pytest.approx(1.0, abs=1e-6)
    # hand value: cos([1,1],[1,0]) = 1/sqrt(2)
    got = cosine_kd_loss(torch.tensor([[1.0, 1.0]]), a).item()
    assert got == pytest.approx(1 - 1 / math.sqrt(2), abs=1e-6)


def test_feature_kd_zero_when_features_match_and_ce_at_alpha_one():
    zs = _t(ZS)
    h = torch.randn(2, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert feature_kd_loss(zs, h, h.clone(), _y(), alpha=0.0).item() == pytest.approx(0, abs=1e-7)
    assert feature_kd_loss(zs, h, -h, _y(), alpha=0.0).item() == pytest.approx(2.0, abs=1e-7)
    ce = feature_kd_loss(zs, h, -h, _y(), alpha=1.0).item()
    assert ce == pytest.approx(ref_ce(ZS, Y), rel=1e-12)
    mixed = feature_kd_loss(zs, h, -h, _y(), alpha=0.99).item()
    assert mixed == pytest.approx(0.99 * ref_ce(ZS, Y) + 0.01 * 2.0, rel=1e-7)
    hs = h.clone().requires_grad_(True)
    ht = torch.randn(2, 10, dtype=torch.float64, requires_grad=True)
    feature_kd_loss(zs, hs, ht, _y(), alpha=0.5).backward()
    assert hs.grad is not None and ht.grad is None


def test_merged_loss_is_ce_plus_one_cosine_term_per_vector():
    """Sec. 5: alpha CE + 0.01 CS(Attn) + 0.01 CS(Causal) + 0.01 CS(Combi) at alpha 0.99."""
    zs = _t(ZS)
    g = torch.Generator().manual_seed(1)
    hs = [torch.randn(2, d, dtype=torch.float64, generator=g) for d in (10, 20, 30)]
    ht = [torch.randn(2, d, dtype=torch.float64, generator=g) for d in (10, 20, 30)]

    def cos_ref(a: torch.Tensor, b: torch.Tensor) -> float:  # plain Python, row by row
        tot = 0.0
        for u, v in zip(a.tolist(), b.tolist(), strict=True):
            dot = sum(p * q for p, q in zip(u, v, strict=True))
            nu, nv = math.sqrt(sum(p * p for p in u)), math.sqrt(sum(q * q for q in v))
            tot += 1 - dot / (nu * nv)
        return tot / len(a)

    want = 0.99 * ref_ce(ZS, Y) + sum(0.01 * cos_ref(a, b) for a, b in zip(hs, ht, strict=True))
    assert merged_kd_loss(zs, hs, ht, _y()).item() == pytest.approx(want, rel=1e-10)
    # one pair: the Merged-Loss is Eq. (2)
    one = merged_kd_loss(zs, hs[:1], ht[:1], _y(), alpha=0.3).item()
    assert one == pytest.approx(feature_kd_loss(zs, hs[0], ht[0], _y(), alpha=0.3).item())
    # each vector counts: matching one pair lowers the loss by exactly its cosine term
    matched = merged_kd_loss(zs, [ht[0], hs[1], hs[2]], ht, _y(), alpha=0.0).item()
    full = merged_kd_loss(zs, hs, ht, _y(), alpha=0.0).item()
    assert full - matched == pytest.approx(cos_ref(hs[0], ht[0]), rel=1e-10)


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------


def test_bad_inputs_raise_input_error():
    zs, zt, y = _t(ZS), _t(ZT), _y()
    with pytest.raises(InputError, match="teacher_logits must have C = 3"):
        logit_kd_loss(zs, torch.zeros(2, 4, dtype=torch.float64), y)  # classes differ
    with pytest.raises(InputError, match="teacher_logits must have B = 2"):
        sc_kd_loss(zs, torch.zeros(3, 3, dtype=torch.float64), y)  # batch differs
    with pytest.raises(InputError, match=r"target must hold values in \[0, 2\]"):
        logit_kd_loss(zs, zt, torch.tensor([0, 3]))
    with pytest.raises(InputError, match="target must have a int dtype"):
        logit_kd_loss(zs, zt, torch.tensor([0.0, 1.0]))
    with pytest.raises(InputError, match="target must have B = 2"):
        logit_kd_loss(zs, zt, torch.tensor([0, 1, 1]))
    with pytest.raises(InputError, match="classes C"):
        logit_kd_loss(zs[:, :1], zt[:, :1], torch.tensor([0, 0]))  # one class
    with pytest.raises(InputError, match="logits"):
        logit_kd_loss(zs[0], zt[0], y)
    with pytest.raises(InputError, match="finite"):
        logit_kd_loss(zs, zt * float("nan"), y)
    for alpha in (-0.1, 1.01, float("nan"), True, "0.5"):
        with pytest.raises(InputError, match=r"alpha must be (>= 0|<= 1|a number|finite)"):
            logit_kd_loss(zs, zt, y, alpha=alpha)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="alpha"):
            feature_kd_loss(zs, zs, zs, y, alpha=alpha)  # type: ignore[arg-type]
    for tau in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(InputError, match="tau must be (> 0|finite)"):
            sc_kd_loss(zs, zt, y, tau=tau)
        with pytest.raises(InputError, match="tau"):
            kd_kl_divergence(zs, zt, tau)
    with pytest.raises(InputError, match="teacher_features must have D = 10"):
        cosine_kd_loss(torch.zeros(2, 10), torch.zeros(2, 5))
    with pytest.raises(InputError, match=r"student_features\[0\] must have B = 2"):
        feature_kd_loss(zs, torch.ones(3, 4), torch.ones(3, 4), y)
    with pytest.raises(InputError, match="one student vector per teacher vector"):
        merged_kd_loss(zs, [torch.ones(2, 4)], [torch.ones(2, 4)] * 2, y)


# ---------------------------------------------------------------------------------------
# models (Table 2)
# ---------------------------------------------------------------------------------------


def test_student_has_the_papers_2_69k_parameters_and_features():
    s = WearableStudent(3, 4)
    # Conv(3->100) 1000 + Conv(100->5) 1505 + Conv(5->5) 80 + Linear(5,10) 60 + Linear(10,4) 44
    assert count_params(s) == 2689
    x = torch.randn(5, 3, 100)
    assert s(x).shape == (5, 4)
    s.with_features = True
    logits, h = s(x)
    assert logits.shape == (5, 4) and h.shape == (5, 10)
    with pytest.raises(InputError, match=r"x must have shape \(B, 3, L\)"):
        s(torch.randn(5, 20, 100))
    with pytest.raises(InputError, match="fewer than the 8"):
        s(torch.randn(5, 3, 4))
    with pytest.raises(InputError, match="dropout"):
        WearableStudent(dropout=1.5)


def test_teacher_follows_table_2():
    t = TSAKTeacher(20, 4, 100)
    # Table 2's classifier row: Linear(120, 10); Linear(30, 10); Linear(10, 4)
    assert (t.attn_proj.in_features, t.attn_proj.out_features) == (120, 10)
    assert (t.classifier.in_features, t.classifier.out_features) == (30, 10)
    assert (t.out.in_features, t.out.out_features) == (10, 4)
    # LSTM (10, 10): 10 channels of one glove in, 10 hidden, run over both gloves
    assert t.lstm is not None and (t.lstm.input_size, t.lstm.hidden_size) == (10, 10)
    # by layer: convs 6100 + 6020 + 610, attention 330 + 242, Linear(120,10) 1210,
    # LSTM 4*10*(10+10) + 80 = 880, Linear(30,10) 310, Linear(10,4) 44
    assert count_params(t) == 12730 + 572 + 1210 + 880 + 310 + 44 == 15746
    t.eval()
    x = torch.randn(3, 20, 100)
    out = t.encode(x)
    assert out.logits.shape == (3, 4) and t.rep_dims == (10, 20, 30)
    assert (out.attn.shape, out.causal.shape) == ((3, 10), (3, 20))
    # Combi-Rep is the concatenation of Attn-Rep and Causal-Rep (Sec. 4)
    assert torch.equal(out.combi, torch.cat([out.attn, out.causal], dim=1))
    assert torch.equal(t(x), out.logits)
    # Causal-Rep: the final LSTM state of each glove, right hand first
    with torch.no_grad():
        _, (h_right, _) = t.lstm(x[:, :10].transpose(1, 2))
        _, (h_left, _) = t.lstm(x[:, 10:].transpose(1, 2))
    assert torch.allclose(out.causal, torch.cat([h_right[-1], h_left[-1]], dim=1), atol=1e-6)
    # the left glove's channels reach only the second half of Causal-Rep
    x2 = x.clone()
    x2[:, 10:] += 1.0
    o2 = t.encode(x2)
    assert torch.equal(o2.causal[:, :10], out.causal[:, :10])
    assert not torch.allclose(o2.causal[:, 10:], out.causal[:, 10:])
    with pytest.raises(InputError, match=r"x must have shape \(B, 20, 100\)"):
        t(torch.randn(3, 20, 64))
    with pytest.raises(InputError, match="too short"):
        TSAKTeacher(20, 4, 6)
    with pytest.raises(InputError, match="lstm_groups"):
        TSAKTeacher(20, 4, 100, lstm_groups=3)


def test_attention_only_teacher_is_table_4s_attn():
    t = TSAKTeacher(20, 4, 100, branches="attn").eval()
    assert t.lstm is None and t.rep_dims == (10, 0, 10)
    out = t.encode(torch.randn(2, 20, 100))
    assert out.causal.shape == (2, 0) and torch.equal(out.combi, out.attn)
    assert count_params(t) == 15746 - 880 - 310 + (10 * 10 + 10)


def test_semantic_classifier_takes_exactly_the_three_hidden_vectors():
    sc = SemanticClassifier(4, (10, 20, 30), hidden=10)
    assert sc.hidden.in_features == 60
    g = torch.Generator().manual_seed(0)
    a, c, m = (torch.randn(4, d, generator=g) for d in (10, 20, 30))
    base = sc(a, c, m)
    assert base.shape == (4, 4)
    # each of the three vectors reaches the output
    for k in range(3):
        reps = [a, c, m]
        reps[k] = reps[k] + 1.0
        assert not torch.allclose(sc(*reps), base)
    logits, hidden = sc.forward_with_hidden(a, c, m)
    assert torch.equal(logits, base) and hidden.shape == (4, 10)
    with pytest.raises(TypeError):
        sc(a, c)  # type: ignore[call-arg]
    with pytest.raises(InputError, match=r"combi must have shape \(B, 30\)"):
        sc(a, c, torch.randn(4, 11))
    with pytest.raises(InputError, match="causal must have B = 4"):
        sc(a, torch.randn(3, 20), m)  # batch differs
    with pytest.raises(InputError, match="three hidden vectors"):
        SemanticClassifier(4, (10, 10))


def test_flop_count_matches_hand_count():
    s = WearableStudent(3, 4)
    # conv1 100*100*9, conv2 5*50*300, conv3 5*25*15, linears 50 + 40 MACs; 2 FLOPs per MAC
    macs = 100 * 100 * 9 + 5 * 50 * 300 + 5 * 25 * 15 + 50 + 40
    assert count_flops(s, torch.randn(1, 3, 100)) == 2 * macs
    lstm = torch.nn.LSTM(20, 10, batch_first=True)
    assert count_flops(lstm, torch.randn(2, 100, 20)) == 2 * 4 * 10 * 30 * 100 * 2
    t = TSAKTeacher()
    assert count_flops(t, torch.randn(1, 20, 100)) > 5 * count_flops(s, torch.randn(1, 3, 100))
