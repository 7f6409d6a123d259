"""The tensor-PINN recipe end to end: registration, presets, metrics, plots, resume, model."""

from __future__ import annotations

import json
import math

import pytest
import torch

from patrec.core import get_method
from patrec.core.errors import ConfigError
from patrec.core.hub import verify_saved_model
from patrec.scientific_ml.tensor_pinn import VARIANTS, TensorPINN, recipe, train_run


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny tensors: one intra-op thread is faster, and several times faster on a busy CPU
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _cfg(*extra: str):
    """The smoke preset under the method's own test_overrides, then ``extra``."""
    return get_method("scientific-ml/tensor_pinn").test_config(*extra)


def test_presets_follow_the_paper():
    m = get_method("scientific-ml/tensor_pinn")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.optim.lr == 1e-3 and paper.loss.lam == 1.0 and paper.model.layers == 4
    assert paper.train.epochs * paper.steps_per_epoch == 50_000
    assert (paper.klein_gordon.points, paper.klein_gordon.rank) == (64, 32)
    assert paper.klein_gordon.vanilla_points == 32  # Table 2: the baselines on 32^3
    assert (paper.poisson.points, paper.poisson.rank) == (24, 12)
    assert (paper.flow_mixing.points, paper.flow_mixing.rank) == (128, 64)
    assert set(smoke.problems) == {"klein_gordon", "helmholtz", "poisson", "flow_mixing"}
    # every model of Table 2: the four MLP baselines and the three decompositions
    assert set(smoke.variants) == set(paper.variants) == {
        "vanilla", "g_pinn", "sa_pinn", "causal_pinn", "cp", "tt", "tucker"
    }  # fmt: skip
    assert len(smoke.seeds) >= 2


def test_recipe_writes_metrics_plots_ratios_and_the_model(tmp_path):
    metrics = recipe(_cfg("problems=klein_gordon,poisson", "seeds=0,1", "train.epochs=1"), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "cp" and saved["higher_is_better"] is False
    assert saved["primary"] == "rel_l2_gmean"
    assert set(saved["compare"]) == set(VARIANTS) - {"cp"}
    for name in (
        "rel_l2_gmean.png", "rel_l2.png", "rel_l2_curves.png", "speedup.png",
        "klein_gordon_slice.png",
    ):  # fmt: skip
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    rows = metrics["variants"]
    for v in VARIANTS:
        for problem in ("klein_gordon", "poisson"):
            r = rows[v]["rel_l2"][problem]
            assert r["n"] == 2 and math.isfinite(r["mean"]) and r["mean"] > 0
        # the primary metric is the geometric mean of the per-problem errors, per seed
        for k in range(2):
            per = [rows[v]["rel_l2"][p]["values"][k] for p in ("klein_gordon", "poisson")]
            gm = math.sqrt(per[0] * per[1])
            assert rows[v]["rel_l2_gmean"]["values"][k] == pytest.approx(gm)
    # the speed ratios are the vanilla PINN's seconds per iteration over the variant's,
    # per seed, as recorded by the runs themselves
    runs = {
        (v, k): json.loads((tmp_path / f"runs/{v}/seed{k}/result.json").read_text())["metrics"]
        for v in VARIANTS
        for k in (0, 1)
    }
    for v in VARIANTS[1:]:
        for k in (0, 1):
            want = runs["vanilla", k]["sec_per_it"]["poisson"] / runs[v, k]["sec_per_it"]["poisson"]
            assert rows[v]["speedup_vs_vanilla"]["poisson"]["values"][k] == pytest.approx(want)
    assert "speedup_vs_vanilla" not in rows["vanilla"]
    assert "speedup_vs_vanilla_same_grid" in rows["tt"]
    assert "speedup_vs_vanilla_same_grid" not in rows["g_pinn"]
    # n*d network inputs stand for n^d grid points
    assert rows["cp"]["network_inputs"]["poisson"] == 15
    assert rows["cp"]["grid_points"]["poisson"] == 243
    assert rows["sa_pinn"]["network_inputs"]["klein_gordon"] == 64  # 4^3 points
    # <out>/model is CP's first-seed Klein-Gordon model, and it reproduces its outputs
    loaded = get_method("scientific-ml/tensor_pinn").load_model(tmp_path / "model")
    assert isinstance(loaded, TensorPINN) and loaded.kind == "cp" and loaded.dim == 3
    assert verify_saved_model(tmp_path / "model", TensorPINN) < 1e-6
    assert (tmp_path / "runs/tucker/seed1/poisson/model/config.json").is_file()


def test_finished_runs_are_not_retrained_and_ratios_survive_a_resume(tmp_path):
    cfg = _cfg("problems=helmholtz", "variants=cp,vanilla", "seeds=0")
    first = recipe(cfg, tmp_path)
    done = tmp_path / "runs/vanilla/seed0/result.json"
    stamp = done.stat().st_mtime_ns
    # redo only CP: its speed ratio then comes from the vanilla run read back from disk
    (tmp_path / "runs/cp/seed0/result.json").unlink()
    again = recipe(cfg, tmp_path)
    assert done.stat().st_mtime_ns == stamp
    assert again["variants"]["vanilla"]["rel_l2"] == first["variants"]["vanilla"]["rel_l2"]
    ref = json.loads(done.read_text())["metrics"]["sec_per_it"]["helmholtz"]
    cp = json.loads((tmp_path / "runs/cp/seed0/result.json").read_text())["metrics"]
    assert cp["speedup_vs_vanilla"]["helmholtz"] == pytest.approx(
        ref / cp["sec_per_it"]["helmholtz"]
    )


def test_training_lowers_the_loss_and_logs_the_error():
    cfg = _cfg("train.epochs=3", "steps_per_epoch=15", "optim.lr=0.01", "seeds=0")
    runs = {v: train_run(cfg, "flow_mixing", v, 0) for v in ("tt", "causal_pinn")}
    for tr in runs.values():
        h = tr.history
        assert len(h) == 3 and all("rel_l2" in row for row in h)
        assert h[-1]["train/loss"] < h[0]["train/loss"]
    assert runs["causal_pinn"].metrics["network_inputs"] == 64  # the MLP on 4^3 points
    assert runs["tt"].metrics["network_inputs"] == 15 and runs["tt"].metrics["grid_points"] == 125


def test_bad_config_values():
    with pytest.raises(ConfigError, match="variants"):
        recipe(_cfg("variants=cp,pinnsformer"), "/nonexistent")
    with pytest.raises(ConfigError, match="variants must be distinct"):
        recipe(_cfg("variants=cp,cp"), "/nonexistent")
    with pytest.raises(ConfigError, match="problems"):
        recipe(_cfg("problems=burgers"), "/nonexistent")
    with pytest.raises(ConfigError, match="rank"):
        recipe(_cfg("helmholtz.rank=0"), "/nonexistent")
    with pytest.raises(ConfigError, match="seeds"):
        recipe(_cfg("seeds="), "/nonexistent")
    with pytest.raises(ConfigError, match="causal_eps"):
        recipe(_cfg("loss.causal_eps=-1"), "/nonexistent")
