"""river_trails: Eqs. (1)-(4), Alg. 1's parts, the scores of Table 1, and the recipe."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from patrec.core.errors import ConfigError, DataError, InputError
from patrec.scientific_ml.river_trails import (
    METHOD,
    bernstein,
    bezier,
    curve_loss,
    detection_scores,
    elevate_knots,
    fit_curve,
    fractional_gaussian_field,
    load_scenes,
    metropolis_hastings,
    ndwi,
    preprocess,
    recipe,
    render_curve,
    ridge_baseline,
    synthetic_scene,
)


def test_ndwi_by_hand():
    g, n = np.array([[0.3, 0.2]]), np.array([[0.1, 0.2]])
    np.testing.assert_allclose(ndwi(g, n), [[0.2 / 0.4, 0.0]])


def test_bernstein_and_bezier_eq1_by_hand():
    b = bernstein(3, np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(b, [[1, 0, 0], [0.25, 0.5, 0.25], [0, 0, 1]])
    t = np.linspace(0, 1, 7)
    np.testing.assert_allclose(bernstein(6, t).sum(1), 1.0)  # partition of unity
    knots = np.array([[0.0, 0.0], [4.0, 2.0], [0.0, 8.0]])
    # quadratic: b(1/2) = p0/4 + p1/2 + p2/4 = (0 + 2 + 0, 0 + 1 + 2)
    np.testing.assert_allclose(bezier(knots, np.array([0.5])), [[2.0, 3.0]])


def test_render_eq2_straight_line_by_hand():
    knots = np.array([[5.0, 0.0], [5.0, 9.0]])
    x = render_curve(knots, 2.0, 1.5, (10, 10), t_samples=10)  # samples on every column
    assert x[5, 3] == pytest.approx(2.0)
    assert x[7, 3] == pytest.approx(2.0 * math.exp(-4.0 / (2 * 1.5**2)))
    assert x[0, 3] == pytest.approx(2.0 * math.exp(-25.0 / (2 * 1.5**2)))


def test_curve_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(12, 14))
    p0, pe = np.array([1.0, 0.5]), np.array([10.0, 12.5])
    theta = np.array([1.3, 1.7, 3.2, 7.1, 8.4, 4.3])
    loss, grad = curve_loss(theta, y, p0, pe, t_samples=400)
    knots = np.vstack([p0, theta[2:].reshape(-1, 2), pe])
    x = render_curve(knots, theta[0], theta[1], y.shape, t_samples=400)
    assert loss == pytest.approx(float(((y - x) ** 2).sum()))
    h = 1e-6
    fd = [
        (curve_loss(theta + h * e, y, p0, pe, t_samples=400)[0]
         - curve_loss(theta - h * e, y, p0, pe, t_samples=400)[0]) / (2 * h)
        for e in np.eye(len(theta))
    ]  # fmt: skip
    np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-4)


def test_elevation_keeps_the_curve():
    knots = np.array([[0.0, 0.0], [9.0, 3.0], [2.0, 11.0], [8.0, 15.0]])
    up = elevate_knots(knots, 6)
    assert up.shape == (6, 2)
    np.testing.assert_allclose(up[[0, -1]], knots[[0, -1]])
    t = np.linspace(0, 1, 50)
    np.testing.assert_allclose(bezier(up, t), bezier(knots, t), atol=1e-8)
    # degree elevation by one has the known closed form p'_i = i/n p_{i-1} + (1 - i/n) p_i
    n = 4
    closed = [knots[0]] + [
        i / n * knots[i - 1] + (1 - i / n) * knots[i] for i in range(1, n)
    ] + [knots[-1]]  # fmt: skip
    np.testing.assert_allclose(elevate_knots(knots, 5), np.array(closed), atol=1e-8)


def test_fractional_field_and_snr_eq3_eq4():
    rng = np.random.default_rng(1)
    b = fractional_gaussian_field((64, 64), 1.0, rng)
    assert abs(b.mean()) < 1e-10 and b.std() == pytest.approx(1.0)

    def low_share(field):
        p = np.abs(np.fft.fft2(field)) ** 2
        f = np.sqrt(np.fft.fftfreq(64)[:, None] ** 2 + np.fft.fftfreq(64)[None, :] ** 2)
        return p[f < 0.1].sum() / p.sum()

    white = fractional_gaussian_field((64, 64), 0.0, np.random.default_rng(1))
    assert low_share(b) > 3 * low_share(white)
    for snr in (-10.0, 0.0, 7.0):
        s = synthetic_scene(32, 4, snr, seed=3)
        assert 20 * math.log10(np.linalg.norm(s.x) / np.linalg.norm(s.y0 - s.x)) == (
            pytest.approx(snr)
        )
        np.testing.assert_array_equal(s.mask, s.x > 0.1)  # threshold at w / 10
        np.testing.assert_allclose(s.knots[0], s.p0)


def test_detection_scores_by_hand():
    t = np.zeros((4, 5), bool)
    t[1, :4] = True  # 4 true pixels
    d = np.zeros((4, 5), bool)
    d[1, :2] = True
    d[3, 0] = True  # TP 2, FP 1, FN 2, TN 15
    s = detection_scores(t, d, kl_eps=1e-3)
    assert s["error"] == pytest.approx(100 * 3 / 20)
    assert s["precision"] == pytest.approx(100 * 2 / 3)
    assert s["recall"] == pytest.approx(50.0) and s["fn"] == pytest.approx(50.0)
    assert s["fp"] == pytest.approx(100 / 16)
    p = (t + 1e-3) / (t + 1e-3).sum()
    q = (d + 1e-3) / (d + 1e-3).sum()
    assert s["kl"] == pytest.approx(float((p * np.log(p / q)).sum()))
    assert detection_scores(t, t)["kl"] == pytest.approx(0.0, abs=1e-12)


def test_mh_never_returns_worse_than_its_start():
    s = synthetic_scene(24, 3, 5.0, seed=0)
    th = np.array([1.0, 1.5, 12.0, 12.0])
    start, _ = curve_loss(th, s.y0, s.p0, s.p_end, t_samples=60)
    best, best_l, rate = metropolis_hastings(
        s.y0, s.p0, s.p_end, th, n_iter=30, step=1.0, t_samples=60,
        rng=np.random.default_rng(0),
    )  # fmt: skip
    assert best_l <= start and 0 <= rate <= 1
    assert best_l == pytest.approx(curve_loss(best, s.y0, s.p0, s.p_end, t_samples=60)[0])


def test_fit_recovers_a_clean_curve():
    s = synthetic_scene(32, 3, 30.0, seed=2, width_variation=0.0)
    fit = fit_curve(s.x, s.p0, s.p_end, n_knots=4, grid=5, mh_iter=30, lbfgs_iter=60,
                    t_samples=100)  # fmt: skip
    sc = detection_scores(s.mask, fit.mask(s.x.shape, 100))
    assert sc["precision"] > 90 and sc["recall"] > 90
    assert fit.sigma == pytest.approx(1.2, rel=0.1) and fit.w == pytest.approx(1.0, rel=0.1)
    assert fit.knots.shape == (4, 2)


def test_ridge_baseline_keeps_the_asked_pixel_count():
    s = synthetic_scene(32, 3, 0.0, seed=1)
    y = preprocess(s.y0)
    for kind in ("sato", "frangi"):
        m = ridge_baseline(y, kind, (1.0, 2.0), n_pixels=40)
        assert 35 <= m.sum() <= 45
    with pytest.raises(InputError):
        ridge_baseline(y, "rorpo", (1.0,))


def test_bad_inputs_are_clear():
    with pytest.raises(InputError):
        ndwi(np.ones((3, 3)), np.ones((3, 4)))
    with pytest.raises(InputError):
        bernstein(3, np.array([0.0, 1.5]))
    with pytest.raises(InputError):
        render_curve(np.ones((3, 2)), -1.0, 1.0, (8, 8))
    with pytest.raises(InputError):
        curve_loss(np.array([1.0, 1.0, 2.0]), np.zeros((5, 5)), np.zeros(2), np.ones(2))
    with pytest.raises(InputError):
        fit_curve(np.full((8, 8), np.nan), (0, 0), (7, 7), n_knots=3)
    with pytest.raises(InputError):
        fit_curve(np.zeros((8, 8)), (0, 0), (7, 7), n_knots=2)


def test_load_scenes_errors_and_reads(tmp_path):
    with pytest.raises(DataError):
        load_scenes(tmp_path / "missing")
    np.savez(tmp_path / "a.npz", green=np.ones((8, 8)), nir=np.ones((8, 8)))
    with pytest.raises(DataError, match="mask"):
        load_scenes(tmp_path)
    m = np.zeros((8, 8))
    m[4] = 1
    np.savez(tmp_path / "a.npz", green=np.full((8, 8), 0.3), nir=np.full((8, 8), 0.1),
             mask=m, p0=[4, 0], p_end=[4, 7])  # fmt: skip
    (sc,) = load_scenes(tmp_path)
    np.testing.assert_allclose(sc.y0, 0.5)
    assert sc.mask.sum() == 8


def test_config_rules():
    m = METHOD
    paper = m.make_config("paper")
    assert paper.n_knots == 15 and len(paper.seeds) == 50  # Sec. 3.1, Fig. 5
    with pytest.raises(ConfigError):
        m.make_config("smoke", ["variants=alg1,sato"])
    with pytest.raises(ConfigError, match="mh_step"):
        m.make_config("smoke", ["mh_step=0"])
    with pytest.raises(ConfigError):
        m.make_config("smoke", ["snr_db=0,0"])


def test_recipe_at_test_scale(tmp_path):
    metrics = recipe(METHOD.test_config(), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "alg1_mh" and saved["primary"] == "recall"
    assert set(saved["variants"]) == {"alg1_mh", "alg1", "sato", "frangi"}
    for v in saved["variants"].values():
        for k in ("error", "precision", "recall", "fp", "fn", "kl", "recall_by_snr"):
            assert k in v
    assert (tmp_path / "example_scene.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "scores_vs_snr.png").read_bytes()[:4] == b"\x89PNG"
    assert metrics["compare"]["sato"]["ours"] == pytest.approx(
        saved["variants"]["alg1_mh"]["recall"]["mean"]
    )
    assert METHOD.model is None and not (tmp_path / "model").exists()  # a solver


@pytest.mark.slow
def test_cpu_feasibility_check_of_the_catalog(tmp_path):
    """Catalog: a random K = 5 curve in a fractional field at 0 dB; from the true endpoints
    Alg. 1 (MH + L-BFGS-B) detects the curve with precision and recall above the thresholded
    ridge-filter baselines. (Alg. 1 without MH is run too; at this scale it ties with MH, so
    no order between the two is asserted -- see METHOD.measured.)"""
    cfg = METHOD.make_config(
        "smoke", ["true_knots=5", "snr_db=0", "seeds=0,1", "n_knots=6", "image_size=40"]
    )
    recipe(cfg, tmp_path)
    v = json.loads((tmp_path / "metrics.json").read_text())["variants"]
    for base in ("sato", "frangi"):
        assert v["alg1_mh"]["precision"]["mean"] > v[base]["precision"]["mean"]
        assert v["alg1_mh"]["recall"]["mean"] > v[base]["recall"]["mean"]
    assert v["alg1_mh"]["fp"]["mean"] < 1.0  # "very low false-positive rate" (Sec. 3.1)
