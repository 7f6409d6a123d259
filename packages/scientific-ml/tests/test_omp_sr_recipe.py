"""The OMP-SR benchmark recipe end to end, its data and its config checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from patrec.core import get_method
from patrec.core.errors import ConfigError, InputError
from patrec.scientific_ml.omp_sr import (
    graph_problem,
    haar2d,
    ihaar2d,
    image_problem,
    make_problem,
    recipe,
)

TINY = [
    "seeds=0,1",
    "data.phantom_size=16",
    "data.digits_size=12",
    "data.tree_height=5",
    "data.grid_side=8",
    "solver.repeats=1",
    "solver.warmup=0",
    "solver.block_sizes=2,3",
    "data.phantom_k_sparsities=0.05,0.1",
]


def _cfg(*extra):
    return get_method("scientific-ml/omp_sr").make_config("smoke", TINY + list(extra))


def test_presets_are_consistent():
    m = get_method("scientific-ml/omp_sr")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.solver.block_sizes == (2, 3, 4, 8)  # Sec. 4.1
    assert paper.data.measure_ratio == smoke.data.measure_ratio == 0.5  # N = d/2
    assert paper.data.phantom_size**2 > 9000 and len(paper.data.snr_db) == 4  # Tables 3, 5
    assert paper.data.digit_classes == (3, 5, 8, 9)  # Table 3: MNIST 3, 5, 8, 9
    assert "phantom_k" in paper.data.benchmarks and len(paper.data.phantom_k_sparsities) >= 4
    assert len(smoke.seeds) >= 3 and smoke.data.phantom_size < paper.data.phantom_size


def test_recipe_writes_metrics_plots_and_ratios(tmp_path, capsys):
    metrics = recipe(_cfg(), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "omp_sr" and saved["primary"] == "time_ratio_vs_omp"
    assert not saved["higher_is_better"]
    for name in (
        "time_ratio_vs_omp.png", "time_ratios.png", "nmse.png", "iterations.png",
        "time_vs_k.png", "phantom_reconstruction.png",
    ):  # fmt: skip
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    table = (tmp_path / "comparison.md").read_text()
    assert "omp_sr" in table and "bsr (c=" in table and table in capsys.readouterr().out
    problems = {
        "phantom", "digits", "tree", "grid", "phantom_snr20", "phantom_k0.05", "phantom_k0.1"
    }  # fmt: skip
    assert set(metrics["pairs"]) == problems
    for bench, p in metrics["pairs"].items():
        # the paper's claim of identity: same atoms and coefficients on every seed
        assert p["same_atoms"] == {"omp_sr@k": 2, "omp_sr": 2, "bsr": 2}, bench
        for key in ("omp_sr/omp", "bsr/gomp", "gomp/omp"):
            assert math.isfinite(p[key]["mean"]) and p[key]["mean"] > 0
    v = metrics["variants"]
    # the primary metric is the geometric mean over problems of time / OMP time, per seed
    for run in ("omp_sr", "bsr"):
        for k in range(2):
            logs = [
                math.log(v[run]["time_s"][b]["values"][k] / v["omp"]["time_s"][b]["values"][k])
                for b in problems
            ]
            want = math.exp(sum(logs) / len(logs))
            assert v[run]["time_ratio_vs_omp"]["values"][k] == pytest.approx(want)
        assert v[run]["same_as_baseline"]["phantom"]["mean"] == 1.0
    # same atoms, so the same iterations and NMSE as the baseline
    for b in problems:
        assert v["omp_sr"]["ite"][b] == v["omp"]["ite"][b]
        assert v["bsr"]["ite"][b] == v["gomp"]["ite"][b]
        assert v["bsr"]["nmse"][b]["mean"] == pytest.approx(v["gomp"]["nmse"][b]["mean"], abs=1e-8)
        assert v["bsr"]["block_size"][b] == v["gomp"]["block_size"][b]
        # fewer flops than QR-based OMP (Tables 1-2) for the same iterations
        assert v["omp_sr"]["flops_vs_qr_omp"][b]["mean"] < 1.0
    # the noiseless phantom is recovered; the blocked runs need fewer iterations
    assert v["omp"]["nmse"]["phantom"]["max"] < 1e-12
    assert v["gomp"]["ite"]["phantom"]["mean"] < v["omp"]["ite"]["phantom"]["mean"]
    # Fig. 2: more non-zeros, more iterations
    assert v["omp"]["ite"]["phantom_k0.1"]["mean"] > v["omp"]["ite"]["phantom_k0.05"]["mean"]


def test_a_resumed_recipe_compares_with_the_baseline_read_back(tmp_path):
    cfg = _cfg("data.benchmarks=tree,grid", "seeds=0")
    first = recipe(cfg, tmp_path)
    (tmp_path / "runs/omp_sr/seed0/result.json").unlink()
    again = recipe(cfg, tmp_path)  # omp_sr reruns; OMP's result comes back from disk
    for key in ("same_as_baseline", "ite"):
        assert again["variants"]["omp_sr"][key] == first["variants"]["omp_sr"][key]
    t = again["variants"]["omp_sr"]["time_s"]["tree"]["mean"]
    t_omp = again["variants"]["omp"]["time_s"]["tree"]["mean"]
    ratio = again["variants"]["omp_sr"]["time_ratio_vs_baseline"]["tree"]["mean"]
    assert ratio == pytest.approx(t / t_omp)


def test_torch_backend_runs(tmp_path):
    metrics = recipe(_cfg("data.benchmarks=tree", "seeds=0", "solver.backend=torch"), tmp_path)
    assert metrics["backend"] == "torch"
    assert metrics["pairs"]["tree"]["same_atoms"] == {"omp_sr@k": 1, "omp_sr": 1, "bsr": 1}
    assert metrics["variants"]["bsr"]["same_as_baseline"]["tree"]["mean"] == 1.0


def test_bad_config_values():
    with pytest.raises(ConfigError, match="data.benchmarks"):
        recipe(_cfg("data.benchmarks=phantom,xyz"), "unused")
    with pytest.raises(ConfigError, match="solver.backend"):
        recipe(_cfg("solver.backend=jax"), "unused")
    with pytest.raises(ConfigError, match="solver.block_sizes"):
        recipe(_cfg("solver.block_sizes=0"), "unused")
    with pytest.raises(ConfigError, match="data.tree_sparsity"):
        recipe(_cfg("data.tree_sparsity=0.6"), "unused")
    with pytest.raises(ConfigError, match="measure_ratio"):
        recipe(_cfg("data.measure_ratio=0"), "unused")
    with pytest.raises(ConfigError, match="phantom_k_sparsities"):
        recipe(_cfg("data.phantom_k_sparsities=0.05,0.7"), "unused")
    with pytest.raises(ConfigError, match="seeds must be distinct"):
        recipe(_cfg("seeds=1,1"), "unused")


def test_haar_is_orthonormal_and_invertible():
    rng = np.random.default_rng(0)
    img = rng.standard_normal((16, 24))
    c = haar2d(img, 3)
    assert np.linalg.norm(c) == pytest.approx(np.linalg.norm(img))
    np.testing.assert_allclose(ihaar2d(c, 3), img, atol=1e-12)
    flat = haar2d(np.full((8, 8), 2.0), 3)  # a constant image is one coefficient
    assert np.count_nonzero(np.abs(flat) > 1e-12) == 1 and flat[0, 0] == pytest.approx(16.0)
    with pytest.raises(InputError, match="divisible by 2\\*\\*levels = 8"):
        haar2d(np.zeros((12, 12)), 3)


def test_image_problem_is_k_sparse_and_noise_has_the_stated_snr():
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    img = resize(shepp_logan_phantom(), (32, 32), anti_aliasing=True)
    p = image_problem(img, name="p", sparsity=0.07, basis="haar", measure_ratio=0.5, seed=0)
    assert p.k == round(0.07 * 1024) and np.count_nonzero(p.x) == p.k
    assert p.phi.shape == (512, 1024)
    np.testing.assert_allclose(np.linalg.norm(p.phi, axis=0), 1.0)
    np.testing.assert_allclose(p.y, p.phi @ p.x)
    # 7% of the Haar coefficients hold over 85% of the phantom's energy (they sparsify it)
    err = np.linalg.norm(p.to_image(p.x) - img) ** 2
    assert err < 0.15 * np.linalg.norm(img) ** 2
    q = image_problem(
        img, name="q", sparsity=0.07, basis="haar", measure_ratio=0.5, seed=0, snr_db=15.0
    )
    clean = q.phi @ q.x
    snr = 20 * np.log10(np.linalg.norm(clean) / np.linalg.norm(q.y - clean))
    assert snr == pytest.approx(15.0) and q.noise_norm == pytest.approx(np.linalg.norm(q.y - clean))
    with pytest.raises(ConfigError, match="basis"):
        image_problem(img, name="x", sparsity=0.1, basis="fourier", measure_ratio=0.5, seed=0)


def test_graph_signals_sit_on_a_connected_region():
    import networkx as nx

    for g in (nx.balanced_tree(2, 6), nx.grid_2d_graph(10, 10)):
        p = graph_problem(g, name="g", sparsity=0.15, measure_ratio=0.5, seed=3)
        h = nx.convert_node_labels_to_integers(g)
        assert p.k == round(0.15 * h.number_of_nodes())
        assert nx.is_connected(h.subgraph(p.support.tolist()))
        assert np.all(p.x[p.support] != 0) and np.count_nonzero(p.x) == p.k
    cfg = _cfg()
    assert len(make_problem(cfg, "phantom_noisy", 0)) == len(cfg.data.snr_db)
