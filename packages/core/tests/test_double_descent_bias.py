"""core/double_descent_bias: label noise, bias estimator, phases, correlations, recipe."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from patrec.core import get_method
from patrec.core.double_descent_bias import (
    DoubleDescentNet,
    factor_scores,
    flip_labels,
    load_data,
    load_stimuli,
    make_stimuli,
    model_bias,
    moving_average,
    neuron_correlations,
    pearson,
    phase_correlations,
    recipe,
    shape_texture_bias,
    split_phases,
    stage_biases,
    sync_score,
)
from patrec.core.errors import ConfigError, InputError
from patrec.core.hub import verify_saved_model

# ---------------------------------------------------------------------------- label noise


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.6])
def test_flip_labels_flips_exact_share_never_to_same_class(rate):
    y = torch.arange(10).repeat(50)  # 500 labels
    noisy = flip_labels(y, rate, 10, seed=3)
    changed = noisy != y
    assert int(changed.sum()) == round(rate * 500)  # exact share, and no flip is a no-op
    assert int(noisy.min()) >= 0 and int(noisy.max()) < 10
    assert torch.equal(noisy, flip_labels(y, rate, 10, seed=3))  # seeded
    if rate > 0:
        assert not torch.equal(noisy, flip_labels(y, rate, 10, seed=4))
        # new labels spread over the other classes (not a fixed permutation)
        assert len(set(noisy[changed].tolist())) > 5


def test_flip_labels_two_classes_swaps():
    y = torch.tensor([0, 1] * 20)
    noisy = flip_labels(y, 0.5, 2, seed=0)
    changed = noisy != y
    assert int(changed.sum()) == 20
    assert torch.equal(noisy[changed], 1 - y[changed])


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_flip_labels_rejects_bad_rates(rate):
    with pytest.raises(InputError, match=r"rate must be (>= 0|< 1|finite)"):
        flip_labels(torch.tensor([0, 1, 2]), rate, 3, seed=0)


def test_flip_labels_rejects_out_of_range_labels():
    with pytest.raises(InputError, match=r"labels must hold values in \[0, 2\]"):
        flip_labels(torch.tensor([0, 5]), 0.2, 3, seed=0)
    with pytest.raises(InputError, match="labels must have a int dtype"):
        flip_labels(torch.tensor([0.0, 1.0]), 0.2, 3, seed=0)


# ---------------------------------------------------------------------- bias estimator


def _hand_scores(za, zb, factor):
    """Islam et al.'s estimate written out with loops, independent of the implementation."""
    p, d = za.shape
    allz = np.concatenate([za, zb])
    total = 0.0
    for i in range(d):
        m = allz[:, i].mean()
        total += ((allz[:, i] - m) ** 2).mean()
    out = []
    for k in (0, 1):
        rows = [j for j in range(p) if factor[j] == k]
        s = 0.0
        for i in range(d):
            a = np.array([za[j, i] for j in rows])
            b = np.array([zb[j, i] for j in rows])
            m = 0.5 * (a.mean() + b.mean())
            s += ((a - m) * (b - m)).mean()
        out.append(s / total)
    return np.array(out)


def test_factor_scores_match_hand_computation():
    rng = np.random.default_rng(0)
    za, zb = rng.normal(size=(12, 4)), rng.normal(size=(12, 4))
    zb[:6] += za[:6]  # shape pairs correlated
    factor = np.array([0] * 6 + [1] * 6)
    np.testing.assert_allclose(factor_scores(za, zb, factor), _hand_scores(za, zb, factor))


def _factor_world(copy: str, n_shapes=4, n_textures=4, d=8, noise=0.0, seed=0):
    """Pairs of (shape, texture) images and features that copy only one factor."""
    rng = np.random.default_rng(seed)
    emb_s, emb_t = rng.normal(size=(n_shapes, d)), rng.normal(size=(n_textures, d))
    rows, factor = [], []
    for _ in range(40):  # shape pairs: same shape, different textures
        s = rng.integers(n_shapes)
        ta, tb = rng.choice(n_textures, 2, replace=False)
        rows.append((s, s, ta, tb))
        factor.append(0)
    for _ in range(40):  # texture pairs
        t = rng.integers(n_textures)
        sa, sb = rng.choice(n_shapes, 2, replace=False)
        rows.append((sa, sb, t, t))
        factor.append(1)
    rows = np.array(rows)
    emb = emb_s if copy == "shape" else emb_t
    col_a, col_b = (0, 1) if copy == "shape" else (2, 3)
    za = emb[rows[:, col_a]] + noise * rng.normal(size=(80, d))
    zb = emb[rows[:, col_b]] + noise * rng.normal(size=(80, d))
    return za, zb, np.array(factor)


def test_shape_copying_features_are_shape_biased():
    za, zb, f = _factor_world("shape")
    b = shape_texture_bias(za, zb, f)
    # a shape pair has identical features, so its covariance is its variance: score ~ 1;
    # a texture pair's two shapes are independent draws: score ~ 0 or below
    assert b.score_shape > 0.8 and b.score_texture < 0.2
    assert b.shape > b.texture
    assert math.isclose(b.shape + b.texture + b.residual, 100.0)
    # eq. B2 by hand: softmax(score_shape, score_texture, 1)
    e = np.exp([b.score_shape, b.score_texture, 1.0])
    assert math.isclose(b.shape, 100 * e[0] / e.sum(), rel_tol=1e-9)
    assert sum(b.dims) == 8


def test_texture_copying_features_are_texture_biased():
    za, zb, f = _factor_world("texture", noise=0.1)
    b = shape_texture_bias(za, zb, f)
    assert b.texture > b.shape and b.score_texture > 0.7


def test_text_estimator_is_the_papers_wording_and_saturates():
    """Sec. 3.3 read literally: softmax(sum rho_shape, sum rho_texture, |z|)."""
    za, zb, f = _factor_world("shape", d=64, noise=0.5)
    text = shape_texture_bias(za, zb, f, estimator="text")
    rho_s = neuron_correlations(za[f == 0], zb[f == 0]).sum()
    rho_t = neuron_correlations(za[f == 1], zb[f == 1]).sum()
    e = np.exp(np.array([rho_s, rho_t, 64.0]) - max(rho_s, rho_t, 64.0))
    assert text.shape == pytest.approx(100 * e[0] / e.sum(), rel=1e-9)
    # the released estimator gives graded shares; the literal one is all-or-nothing here
    rel = shape_texture_bias(za, zb, f)
    assert 5 < rel.shape < 95 and 5 < rel.residual < 95
    assert max(text.shape, text.texture, text.residual) > 99.0
    assert (text.score_shape, text.score_texture) == (rel.score_shape, rel.score_texture)
    with pytest.raises(InputError, match="estimator"):
        shape_texture_bias(za, zb, f, estimator="paper")


def test_neuron_correlations_one_for_identical_responses():
    z = np.random.default_rng(1).normal(size=(20, 3))
    np.testing.assert_allclose(neuron_correlations(z, z), 1.0)
    np.testing.assert_allclose(neuron_correlations(z, -z + 2 * z.mean(0)), -1.0, atol=1e-12)


def test_bias_estimator_rejects_bad_input():
    z = np.ones((4, 3))
    with pytest.raises(InputError, match="do not vary"):
        factor_scores(z, z, np.array([0, 0, 1, 1]))
    with pytest.raises(InputError, match="z_b must have D = 3"):
        factor_scores(np.zeros((4, 3)), np.zeros((4, 2)), np.array([0, 0, 1, 1]))
    with pytest.raises(InputError, match="factor must have a int dtype"):
        factor_scores(np.eye(4), np.eye(4), np.array([0.0, 0.0, 1.0, 1.0]))
    with pytest.raises(InputError, match="no pair shares factor 1"):
        factor_scores(np.eye(4), np.eye(4), np.array([0, 0, 0, 0]))


def test_stimuli_have_known_factors_and_model_bias_runs():
    st = make_stimuli(16, channels=3, pairs_per_factor=6, render_size=32, crop=64, seed=0)
    assert st.x_a.shape == (12, 3, 16, 16) and st.x_b.shape == st.x_a.shape
    assert float(st.x_a.min()) >= 0 and float(st.x_a.max()) <= 1
    sp, tp = st.factor == 0, st.factor == 1
    assert torch.equal(st.shape_a[sp], st.shape_b[sp])
    assert bool((st.texture_a[sp] != st.texture_b[sp]).all())
    assert torch.equal(st.texture_a[tp], st.texture_b[tp])
    assert bool((st.shape_a[tp] != st.shape_b[tp]).all())
    # the same texture crop is not reused: texture pairs are different images
    assert not torch.equal(st.x_a[tp], st.x_b[tp])
    # a "network" that sees only the low-pass silhouette is shape-biased on real stimuli
    blur = torch.nn.AvgPool2d(4)
    b = model_bias(lambda x: blur(x).flatten(1), st)
    assert b.shape > b.texture
    with pytest.raises(InputError, match="unknown shape"):
        make_stimuli(16, shapes=("horse", "blob"))


# ----------------------------------------------------------------- phases and correlations


def test_split_phases_hand_made_curve_lag1():
    # fall, flat minimum, rise, flat peak, second fall
    e = [10, 8, 6, 4, 4, 4, 6, 8, 9, 9, 9, 7, 5, 3]
    # |e_i - e_{i+1}|: 2 2 2 0 0 2 2 1 0 0 2 2 2 -> theta = 0.5: stable at 3,4 and 8,9
    sp = split_phases(e, theta=0.5, lag=1)
    assert (sp.phase1_end, sp.phase2_end, sp.detected) == (3, 8, True)
    p1, p2, p3 = sp.ranges()
    assert (
        list(p1) == [0, 1, 2, 3] and list(p2) == [4, 5, 6, 7, 8] and list(p3) == [9, 10, 11, 12, 13]
    )
    # a larger theta calls the slow top of the rise stable sooner
    sp = split_phases(e, theta=1.0, lag=1)
    assert (sp.phase1_end, sp.phase2_end) == (3, 7)


def test_split_phases_lag5_and_no_double_descent():
    t = np.arange(60, dtype=float)
    e = np.where(t < 15, 40 - 2 * t, np.where(t < 35, 10 + (t - 15), 30 - 0.5 * (t - 35)))
    e = np.where((t >= 15) & (t < 20), 10.0, e)  # a flat minimum 15..19
    e = np.where((t >= 20) & (t < 35), 10 + (t - 20), e)
    e = np.where((t >= 35) & (t < 42), 24.0, e)  # flat top 35..41
    e = np.where(t >= 42, 24 - 0.5 * (t - 42), e)
    sp = split_phases(e, theta=0.1, lag=5)
    # |e_i - e_{i+5}| first <= 0.1 at i = 15; rises from i = 16; next <= 0.1 at 34 (34..39 flat)
    assert (sp.phase1_end, sp.phase2_end, sp.detected) == (15, 34, True)
    mono = np.maximum(40 - 2 * t, 5.0)  # single descent then flat: no Phase 3
    sp = split_phases(mono, theta=0.1, lag=5)
    assert sp.phase1_end == 18 and sp.phase2_end == 59 and not sp.detected
    sp = split_phases(40 - t, theta=0.1, lag=5)  # never stable: all Phase 1
    assert sp.phase1_end == 59 and not sp.detected


def test_split_phases_rejects_bad_input():
    with pytest.raises(InputError, match="theta must be >= 0"):
        split_phases([3, 2, 1], theta=-0.1)
    with pytest.raises(InputError, match="lag"):
        split_phases([3, 2, 1], theta=0.1, lag=0)
    with pytest.raises(InputError, match=r"test_error must have 1 dimensions"):
        split_phases([[1, 2]], theta=0.1)
    with pytest.raises(InputError, match="finite"):
        split_phases([1.0, float("nan"), 2.0], theta=0.1)


def test_pearson_matches_scipy():
    rng = np.random.default_rng(0)
    for n in (3, 7, 50):
        x, y = rng.normal(size=n), rng.normal(size=n)
        assert math.isclose(pearson(x, y), stats.pearsonr(x, y)[0], abs_tol=1e-12)
        assert math.isclose(pearson(x, 3 * x + 1), 1.0) and math.isclose(pearson(x, -x), -1.0)
    assert math.isnan(pearson([1, 2], [2, 1])) and math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    with pytest.raises(InputError, match="y must have T = 3"):
        pearson([1, 2, 3], [1, 2])


def test_sync_score_definition():
    x = np.linspace(0, 1, 20)
    assert sync_score(pearson(x, 2 * x), pearson(x, 5 - x)) == 1.0  # perfect sync
    assert sync_score(1.0, 1.0) == 1.0 and sync_score(-1.0, -1.0) == 1.0
    assert sync_score(0.898, -0.829) == pytest.approx(0.8635)  # Table 1, Phase 1
    assert sync_score(-0.026, 0.118) == pytest.approx(0.072)  # Table 1, Phase 3
    assert sync_score(0.0, 0.0) == 0.0
    with pytest.raises(InputError, match=r"r_shape \(a correlation\) must be <="):
        sync_score(1.5, 0.0)
    assert math.isnan(sync_score(float("nan"), 0.5))  # undefined stays undefined


def test_phase_correlations_per_phase_against_numpy():
    rng = np.random.default_rng(0)
    e = np.array([10, 8, 6, 4, 4, 4, 6, 8, 9, 9, 9, 7, 5, 3], dtype=float)
    shape = e + rng.normal(0, 0.3, len(e))
    texture = rng.normal(size=len(e))
    split, rows = phase_correlations(e, shape, texture, theta=0.5, lag=1, smooth=1)
    by = {r.phase: r for r in rows}
    for name, idx in (("1", range(0, 4)), ("2", range(4, 9)), ("3", range(9, 14))):
        idx = list(idx)
        assert by[name].start == idx[0] and by[name].end == idx[-1]
        assert by[name].r_shape == pytest.approx(np.corrcoef(e[idx], shape[idx])[0, 1])
        assert by[name].r_texture == pytest.approx(np.corrcoef(e[idx], texture[idx])[0, 1])
        assert by[name].sync == pytest.approx(
            0.5 * (abs(by[name].r_shape) + abs(by[name].r_texture))
        )
    assert by["1+2"].start == 0 and by["1+2"].end == 8
    with pytest.raises(InputError, match="shape_bias must have T = 14"):
        phase_correlations(e, shape[:-1], texture, theta=0.5)


def test_moving_average():
    np.testing.assert_allclose(moving_average([1, 2, 3, 4, 5], 3), [1.5, 2, 3, 4, 4.5])
    np.testing.assert_allclose(moving_average([1, 2, 3], 1), [1, 2, 3])


# ------------------------------------------------------------------------------- recipe


def test_recipe_end_to_end_tiny(tmp_path):
    m = get_method("core/double_descent_bias")
    cfg = m.make_config("smoke", list(m.test_overrides) + ["train.epochs=4"])
    metrics = recipe(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "p20" and saved["baselines"] == ["p0", "p60"]
    for name in ("curves.png", "shape_bias_curves.png", "stimuli.png", "layer_bias.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    res = json.loads((tmp_path / "runs/p20/seed0/result.json").read_text())
    hist = res["history"]
    assert len(hist) == 4
    for h in hist:
        assert 0 <= h["test_error"] <= 100
        assert h["shape_bias"] + h["texture_bias"] + h["residual"] == pytest.approx(100)
        assert h["shape_bias@stage2"] == h["shape_bias"]  # the last stage is the paper's
    # the label noise the recipe trained with is the configured share, exactly
    n = len(load_data(cfg).y_train)
    v = metrics["variants"]
    for name, p in (("p20", 0.2), ("p0", 0.0), ("p60", 0.6)):
        assert v[name]["label_noise"]["mean"] == pytest.approx(100 * round(p * n) / n)
    # the per-phase numbers are those of phase_correlations on the recorded curves
    _, rows = phase_correlations(
        [h["test_error"] for h in hist], [h["shape_bias"] for h in hist],
        [h["texture_bias"] for h in hist], theta=cfg.analysis.theta, lag=1, smooth=1,
    )  # fmt: skip
    p12 = next(r for r in rows if r.phase == "1+2")
    assert res["metrics"]["sync_p12"] == pytest.approx(p12.sync, nan_ok=True)
    assert res["metrics"]["r_shape_p12"] == pytest.approx(p12.r_shape, nan_ok=True)
    # <out>/model is the p = 0.2 network: it reloads, and its last-epoch test error and
    # shape bias are the ones the run recorded
    net = m.load_model(tmp_path / "model")
    assert isinstance(net, DoubleDescentNet)
    assert verify_saved_model(tmp_path / "model", m.model) < 1e-5
    data = load_data(cfg)
    with torch.no_grad():
        err = 100 * float((net(data.x_test).argmax(1) != data.y_test).float().mean())
    assert err == pytest.approx(hist[-1]["test_error"], abs=1e-4)
    bias = stage_biases(net, load_stimuli(cfg, data))[-1]
    assert bias.shape == pytest.approx(hist[-1]["shape_bias"], abs=1e-3)


def test_bad_config_values():
    m = get_method("core/double_descent_bias")
    for bad in (["noise_rates=1.0"], ["analysis.theta=-1"], ["noise_rates=0.2,0.2"],
                ["model.backbone=vgg"], ["probe.estimator=paper"]):  # fmt: skip
        with pytest.raises(ConfigError):
            m.make_config("smoke", bad)


def test_presets_are_consistent():
    m = get_method("core/double_descent_bias")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.data.name == "cifar10" and paper.model.backbone == "resnet18"
    assert paper.train.epochs == 1000 and paper.train.batch_size == 128
    assert paper.optim.lr == 1e-4 and paper.analysis.theta == 0.1 and paper.analysis.lag == 5
    assert paper.noise_rates == (0.2, 0.0, 0.6)  # Sec. 4.1 and Table 3
    assert smoke.data.name == "digits" and len(smoke.seeds) >= 2
