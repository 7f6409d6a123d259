"""The tensor-PINN recipe end to end: registration, presets, metrics, plots, resume."""

from __future__ import annotations

import json
import math

import pytest

from patrec.core import get_method
from patrec.core.errors import ConfigError
from patrec.scientific_ml.tensor_pinn import recipe, train_run

TINY = [
    "train.epochs=2",
    "steps_per_epoch=4",
    "bench.iterations=2",
    "bench.repeats=1",
    "bench.warmup=0",
    "klein_gordon.points=6",
    "klein_gordon.vanilla_points=4",
    "klein_gordon.rank=3",
    "klein_gordon.test_points=5",
    "poisson.points=3",
    "poisson.vanilla_points=3",
    "poisson.rank=2",
    "poisson.test_points=3",
    "flow_mixing.points=5",
    "flow_mixing.vanilla_points=4",
    "flow_mixing.rank=3",
    "flow_mixing.test_points=5",
    "helmholtz.points=5",
    "helmholtz.vanilla_points=4",
    "helmholtz.rank=3",
    "helmholtz.test_points=5",
]


def _cfg(*extra: str):
    return get_method("scientific-ml/tensor_pinn").make_config("smoke", TINY + list(extra))


def test_presets_follow_the_paper():
    m = get_method("scientific-ml/tensor_pinn")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.optim.lr == 1e-3 and paper.loss.lam == 1.0 and paper.model.layers == 4
    assert paper.train.epochs * paper.steps_per_epoch == 50_000
    assert (paper.klein_gordon.points, paper.klein_gordon.rank) == (64, 32)
    assert (paper.poisson.points, paper.poisson.rank) == (24, 12)
    assert (paper.flow_mixing.points, paper.flow_mixing.rank) == (128, 64)
    assert set(smoke.problems) == {"klein_gordon", "helmholtz", "poisson", "flow_mixing"}
    assert set(smoke.variants) == {"cp", "tt", "tucker", "vanilla"} and len(smoke.seeds) >= 2


def test_recipe_writes_metrics_plots_and_ratios(tmp_path):
    metrics = recipe(_cfg("problems=klein_gordon,poisson", "seeds=0,1"), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "cp" and saved["higher_is_better"] is False
    assert set(saved["compare"]) == {"vanilla", "tt", "tucker"}
    for name in ("rel_l2.png", "rel_l2_curves.png", "speedup.png", "klein_gordon_slice.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    pp = metrics["per_problem"]
    for problem in ("klein_gordon", "poisson"):
        for v in ("cp", "tt", "tucker", "vanilla"):
            e = pp[problem][v]
            assert e["rel_l2"]["n"] == 2 and math.isfinite(e["rel_l2"]["mean"])
            assert 0 < e["rel_l2"]["mean"] < 100
            assert e["it_per_s"]["mean"] > 0 and e["speedup_vs_vanilla"]["mean"] > 0
            assert e["speedup_vs_vanilla_same_grid"] > 0
        assert pp[problem]["vanilla"]["speedup_vs_vanilla"]["mean"] == pytest.approx(1.0)
    # n*d network inputs stand for n^d grid points
    assert pp["poisson"]["cp"]["network_inputs"] == 15 and pp["poisson"]["cp"]["grid_points"] == 243
    assert pp["klein_gordon"]["vanilla"]["network_inputs"] == 64  # 4^3 points
    assert metrics["variants"]["tucker"]["rel_l2_gmean"] > 0


def test_finished_runs_are_not_retrained(tmp_path):
    cfg = _cfg("problems=helmholtz", "variants=cp,vanilla", "seeds=0")
    first = recipe(cfg, tmp_path)
    done = tmp_path / "runs/helmholtz/cp/seed0/result.json"
    stamp = done.stat().st_mtime_ns
    again = recipe(cfg, tmp_path)
    assert done.stat().st_mtime_ns == stamp
    assert (
        again["per_problem"]["helmholtz"]["cp"]["rel_l2"]
        == (first["per_problem"]["helmholtz"]["cp"]["rel_l2"])
    )


def test_training_lowers_the_loss_and_logs_the_error():
    cfg = _cfg("train.epochs=3", "steps_per_epoch=15", "optim.lr=0.01", "seeds=0")
    tr = train_run(cfg, "flow_mixing", "tt", 0)
    h = tr.history
    assert len(h) == 3 and all("rel_l2" in row for row in h)
    assert h[-1]["train/loss"] < h[0]["train/loss"]
    assert tr.metrics["network_inputs"] == 15 and tr.metrics["grid_points"] == 125


def test_bad_config_values():
    with pytest.raises(ConfigError, match="variants"):
        recipe(_cfg("variants=cp,pinnsformer"), "/nonexistent")
    with pytest.raises(ConfigError, match="problems"):
        recipe(_cfg("problems=burgers"), "/nonexistent")
    with pytest.raises(ConfigError, match="rank"):
        recipe(_cfg("helmholtz.rank=0"), "/nonexistent")
    with pytest.raises(ConfigError, match="seeds"):
        recipe(_cfg("seeds="), "/nonexistent")
