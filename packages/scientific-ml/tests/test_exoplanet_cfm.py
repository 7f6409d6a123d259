"""Tests of scientific-ml/exoplanet_cfm: the preparation chain, t-SNE eqs. 1-3, the forest
flow, the VGG block, bad input and the recipe at test scale."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from patrec.core.config import validate_config
from patrec.core.errors import ConfigError, DataError, InputError
from patrec.core.hub import verify_saved_model
from patrec.scientific_ml import exoplanet_cfm as ex

# ---------------------------------------------------------------- preparation (Sec. 3.1.3)


def test_stitch_normalises_by_global_median_and_sorts() -> None:
    t, f = ex.stitch_segments([([3.0, 4.0], [4.0, 6.0]), ([1.0, 2.0], [2.0, 2.0])])
    # all fluxes 4, 6, 2, 2: median 3
    assert np.allclose(t, [1, 2, 3, 4])
    assert np.allclose(f, np.array([2, 2, 4, 6]) / 3.0)


def test_phase_fold_and_transit_mask_by_hand() -> None:
    t = np.array([10.0, 10.05, 10.5, 11.9, 12.0])
    ph = ex.phase_fold(t, period=2.0, epoch=10.0)
    assert np.allclose(ph, [0.0, 0.025, 0.25, -0.05, 0.0])
    # duration 0.1 d, factor 1.5 -> |dt| < 0.075 d in transit
    m = ex.transit_mask(t, 2.0, 10.0, 0.1, factor=1.5)
    assert m.tolist() == [True, True, False, False, True]


def test_sigma_clip_removes_outliers_nans_but_keeps_masked_points() -> None:
    rng = np.random.default_rng(0)
    f = 1 + 1e-3 * rng.standard_normal(500)
    f[10], f[20], f[30] = 1.1, 0.9, np.nan
    t = np.arange(500.0)
    keep = np.zeros(500, bool)
    keep[20] = True
    tt, ff, idx = ex.sigma_clip(t, f, 3.0, keep=keep)
    assert 10 not in idx and 30 not in idx and 20 in idx
    assert np.all(np.isfinite(ff)) and tt.shape == ff.shape


def test_detrend_removes_smooth_trend_and_keeps_masked_transit() -> None:
    t = np.linspace(0, 10, 480)
    trend = 1 + 0.01 * np.sin(2 * np.pi * t / 7)
    dip = np.where(np.abs(t - 5) < 0.1, 0.005, 0.0)
    mask = np.abs(t - 5) < 0.15
    out = ex.detrend_savgol(trend * (1 - dip), mask, 11, 3)
    assert np.max(np.abs(out[~mask] - 1)) < 1e-3  # trend amplitude 1e-2 is removed
    assert abs(out[np.argmin(np.abs(t - 5))] - (1 - 0.005)) < 1e-4  # depth survives
    # without the mask the filter eats most of the transit
    unmasked = ex.detrend_savgol(trend * (1 - dip), np.zeros_like(mask), 11, 3)
    assert 1 - unmasked.min() < 0.5 * 0.005


def test_binning_medians_and_interpolates_empty_bins() -> None:
    # period 1 d, 360-min bins -> 4 bins with centres -0.375, -0.125, 0.125, 0.375
    phase = np.array([-0.4, -0.35, 0.1, 0.15, 0.2, 0.3])
    flux = np.array([1.0, 3.0, 5.0, 7.0, 100.0, 9.0])
    v = ex.bin_global_view(phase, flux, 1.0, bin_minutes=360, n_bins=4)
    # bins: [-0.5,-0.25): median 2; [-0.25,0): empty -> interp(2, 7) = 4.5;
    # [0, 0.25): median 7; [0.25, 0.5): 9
    assert np.allclose(v, [2.0, 4.5, 7.0, 9.0])


def test_normalize_view_median_zero_depth_minus_one() -> None:
    v = ex.normalize_view(np.array([1.0, 1.0, 0.5, 1.0, 1.2]))
    assert np.median(v) == 0 and v.min() == -1.0
    assert np.allclose(v, [0, 0, -1, 0, 0.4])


def test_flip_augment_appends_mirrored_class() -> None:
    x = torch.arange(12.0).reshape(3, 4)
    y = torch.tensor([0, 1, 1])
    xa, ya = ex.flip_augment(x, y, cls=1)
    assert xa.shape == (5, 4) and ya.tolist() == [0, 1, 1, 1, 1]
    assert torch.equal(xa[3], x[1].flip(0))


def test_prepared_views_have_the_papers_normalisation_and_shape() -> None:
    views, _ = ex.make_synthetic_tces(4, seed=3)
    assert views.x.shape == (12, 201)
    assert torch.allclose(views.x.median(1).values, torch.zeros(12), atol=1e-6)
    assert torch.allclose(views.x.min(1).values, -torch.ones(12))
    # planets and binaries dip at the centre (the transit at phase 0)
    for c in (0, 1):
        assert views.x[views.y == c][:, 95:106].min(1).values.max() < -0.8


def test_eclipsing_binary_is_v_shaped_planet_u_shaped() -> None:
    rng = np.random.default_rng(1)
    t, f, p, e, d = ex.synthetic_light_curve("AFP", rng)
    vb = ex.prepare_global_view(t, f, p, e, d)
    rng = np.random.default_rng(1)
    t, f, p, e, d = ex.synthetic_light_curve("PC", rng)
    vp = ex.prepare_global_view(t, f, p, e, d)
    # at half the in-transit width, a V has risen to ~half depth, a U is still near -1
    half = max(1, int(round(d / p * 201 / 4)))
    assert vp[100 - half] < vb[100 - half]


# ---------------------------------------------------------------- t-SNE (eqs. 1-3)


def test_conditional_affinities_match_hand_computation_and_perplexity() -> None:
    d2 = np.array([[np.inf, 1.0, 4.0, 9.0]])
    p = ex.conditional_affinities(d2, perplexity=2.0)
    # eq. 1 for the found sigma, recomputed independently
    assert p[0, 0] == 0 and math.isclose(p.sum(), 1.0)
    h = -np.sum(p[0, 1:] * np.log(p[0, 1:]))
    assert math.isclose(math.exp(h), 2.0, rel_tol=1e-4)
    beta = -np.log(p[0, 2] / p[0, 1]) / 3.0  # ratio exp(-beta (4 - 1))
    assert math.isclose(p[0, 3] / p[0, 1], math.exp(-beta * 8), rel_tol=1e-6)


def test_joint_affinities_symmetric_and_sum_to_one() -> None:
    x = np.random.default_rng(0).normal(size=(12, 3))
    p = ex.joint_affinities(x, 3.0)
    assert np.allclose(p, p.T) and math.isclose(p.sum(), 1.0) and np.all(np.diag(p) == 0)


def test_student_t_and_kl_by_hand() -> None:
    y = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    q = ex.student_t_affinities(y)
    w = {(0, 1): 1 / 2, (0, 2): 1 / 5, (1, 2): 1 / 6}
    z = 2 * sum(w.values())
    assert math.isclose(q[0, 1], w[(0, 1)] / z) and math.isclose(q[1, 2], w[(1, 2)] / z)
    p = np.full((3, 3), 1 / 6)
    np.fill_diagonal(p, 0)
    kl = sum(1 / 6 * math.log((1 / 6) / (w[tuple(sorted((i, j)))] / z))  # type: ignore[index]
             for i in range(3) for j in range(3) if i != j)  # fmt: skip
    assert math.isclose(ex.tsne_kl(p, y), kl, rel_tol=1e-12)


def test_kl_gradient_against_finite_differences() -> None:
    # the t-SNE gradient dC/dy_i = 4 sum_j (p_ij - q_ij)(y_i - y_j)(1 + |y_i - y_j|^2)^-1
    rng = np.random.default_rng(2)
    p = ex.joint_affinities(rng.normal(size=(6, 4)), 2.0)
    y = rng.normal(size=(6, 2))
    q = ex.student_t_affinities(y)
    diff = y[:, None] - y[None]
    inv = 1 / (1 + (diff**2).sum(-1))
    grad = 4 * (((p - q) * inv)[..., None] * diff).sum(1)
    eps = 1e-6
    for i, k in [(0, 0), (3, 1), (5, 0)]:
        yp, ym = y.copy(), y.copy()
        yp[i, k] += eps
        ym[i, k] -= eps
        fd = (ex.tsne_kl(p, yp) - ex.tsne_kl(p, ym)) / (2 * eps)
        assert math.isclose(fd, grad[i, k], rel_tol=1e-5, abs_tol=1e-8)


def test_out_of_sample_places_a_copy_near_its_twin() -> None:
    rng = np.random.default_rng(0)
    f = np.concatenate([rng.normal(0, 0.1, (10, 5)), rng.normal(5, 0.1, (10, 5))])
    z = np.concatenate([np.zeros((10, 2)), np.full((10, 2), 10.0)])
    zq = ex.tsne_out_of_sample(f, z, f[[0, 15]] + 0.01, perplexity=3)
    assert np.allclose(zq[0], 0, atol=1e-3) and np.allclose(zq[1], 10, atol=1e-3)


# ---------------------------------------------------------------- forest flow (Step 3)


def test_forest_flow_generates_each_class_near_its_data_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-3, 0.3, (40, 2)), rng.normal(3, 0.3, (40, 2))])
    y = np.repeat([0, 1], 40)
    ff = ex.ForestFlow(n_t=8, n_estimators=30, max_depth=2, duplicate_k=10, seed=0).fit(x, y)
    assert len(ff.models) == 16  # n_t x classes regressors
    g0, g1 = ff.generate(50, 0, seed=1), ff.generate(50, 1, seed=1)
    assert np.linalg.norm(g0.mean(0) - [-3, -3]) < 1.0
    assert np.linalg.norm(g1.mean(0) - [3, 3]) < 1.0
    err = ff.flow_matching_error(np.array([[-3.0, -3.0], [3.0, 3.0]]), n_z=8)
    assert err[0, 0] < err[0, 1] and err[1, 1] < err[1, 0]
    back = ex.ForestFlow.load(ff.save(tmp_path / "flow"))
    assert np.allclose(back.generate(5, 1, seed=4), ff.generate(5, 1, seed=4))
    clf = ex.fit_cfm_classifier(ff, x, y, n_estimators=10, seed=0)
    assert np.mean(clf.predict(x) == y) == 1.0


def test_forest_flow_level_target_is_the_straight_path() -> None:
    # one level (t = 0): x_t = x_0 (noise), the regressor fits E[x_1 - x_0 | x_0]
    x = np.full((30, 2), 2.0)
    y = np.zeros(30, dtype=int)
    ff = ex.ForestFlow(n_t=1, n_estimators=50, max_depth=2, duplicate_k=20, seed=0).fit(x, y)
    # data scale to [-1, 1] with lo == hi: the scaled data are -1; one Euler step lands there
    g = ff.scale(ff.generate(200, 0, seed=0))
    assert abs(g.mean() - (-1.0)) < 0.2


# ---------------------------------------------------------------- VGG (Step 1)


def test_vgg19_gives_the_papers_2560_features() -> None:
    net = ex.VGG1D()  # VGG19 defaults
    convs = sum(isinstance(m, torch.nn.Conv1d) for m in net.modules())
    assert convs == 16 and net.feature_dim == 2560
    out = net.features(torch.zeros(2, 201))
    assert out.shape == (2, 2560)


def test_class_weights_inverse_frequency() -> None:
    w = ex.class_weights(torch.tensor([0, 0, 0, 1]), 3)
    assert torch.allclose(w, torch.tensor([4 / 9, 4 / 3, 0.0]))


# ---------------------------------------------------------------- bad input, loader, config


def test_bad_inputs_raise_input_error() -> None:
    with pytest.raises(InputError, match="period"):
        ex.phase_fold([1.0, 2.0], period=0.0, epoch=0.0)
    with pytest.raises(InputError, match="odd"):
        ex.detrend_savgol(np.ones(50), np.zeros(50, bool), window=10)
    with pytest.raises(InputError, match="x"):
        ex.VGG1D(in_len=201, channels=(2,) * 5, convs=(1,) * 5, fc=4).features(torch.zeros(2, 100))
    with pytest.raises(InputError, match="perplexity"):
        ex.conditional_affinities(np.array([[np.inf, 1.0, 2.0]]), perplexity=5)
    with pytest.raises(InputError):
        ex.synthetic_light_curve("planet", np.random.default_rng(0))


def test_loader_reads_csv_catalog_and_reports_problems(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = ["file,period,epoch,duration,label"]
    for k, kind in enumerate(("PC", "AFP")):
        t, f, p, e, d = ex.synthetic_light_curve(kind, rng)
        half = t.size // 2
        for s, sl in enumerate((slice(0, half), slice(half, None))):
            lines = ["time,flux"] + [f"{a},{b}" for a, b in zip(t[sl], f[sl], strict=True)]
            (tmp_path / f"lc{k}_{s}.csv").write_text("\n".join(lines))
        rows.append(f"lc{k}_0.csv;lc{k}_1.csv,{p},{e},{d},{kind}")
    (tmp_path / "tces.csv").write_text("\n".join(rows))
    views = ex.load_tce_catalog(tmp_path)
    assert views.x.shape == (2, 201) and views.y.tolist() == [1, 0]
    with pytest.raises(DataError, match="tces.csv"):
        ex.load_tce_catalog(tmp_path / "missing")
    (tmp_path / "x.fits").write_bytes(b"")
    try:
        import astropy  # noqa: F401
    except ImportError:
        with pytest.raises(DataError, match="astropy"):
            ex.read_light_curve(tmp_path / "x.fits")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="time and a flux"):
        ex.read_light_curve(tmp_path / "bad.csv")


def test_config_bounds_and_cross_field_rules() -> None:
    validate_config(ex.paper_config())
    validate_config(ex.smoke_config())
    cfg = ex.smoke_config()
    cfg.prep.savgol_window = 10
    with pytest.raises(ConfigError, match="savgol_window"):
        validate_config(cfg)
    cfg = ex.smoke_config()
    cfg.vgg.convs = (1, 1)
    with pytest.raises(ConfigError, match="vgg"):
        validate_config(cfg)


# ---------------------------------------------------------------- recipe


def test_recipe_runs_every_variant_and_saves_the_vgg(tmp_path: Path) -> None:
    method = ex.METHOD
    cfg = method.test_config()
    out = tmp_path / "run"
    metrics = method.run(cfg, out)
    assert set(metrics["variants"]) == set(ex.VARIANTS)
    for v in ex.VARIANTS:
        assert set(metrics["variants"][v]["f1"]) == {"AFP", "PC", "NTP"}
    assert "silhouette_tsne_test" in metrics["variants"]["cfm_xgb"]
    written = json.loads((out / "metrics.json").read_text())
    assert "embeddings.png" in written["plots"] and "global_views.png" in written["plots"]
    model = method.load_model(out / "model")
    assert isinstance(model, ex.VGG1D)
    assert verify_saved_model(out / "model", ex.VGG1D) < 1e-5
    xgb_dir = out / "runs" / "cfm_xgb" / "seed0" / "xgboost"
    flow = ex.ForestFlow.load(xgb_dir)
    clf = ex.load_final_classifier(xgb_dir)
    assert clf.predict(flow.generate(3, flow.classes[0])).shape == (3,)


@pytest.mark.slow
def test_cpu_feasibility_pipeline_learns_the_synthetic_classes(tmp_path: Path) -> None:
    # catalog check: synthetic TCEs -> prep -> VGG -> t-SNE -> forest flow, well above
    # chance (1/3) at smoke scale, one seed
    cfg = ex.smoke_config()
    cfg.seeds = (0,)
    cfg.variants = ("vgg19", "cfm_xgb_inductive", "cfm_xgb_joint", "cfm_xgb")
    metrics = ex.METHOD.run(cfg, tmp_path / "run")
    for v in ("vgg19", "cfm_xgb_inductive", "cfm_xgb_joint"):
        assert metrics["variants"][v]["accuracy"]["mean"] > 0.8, v
