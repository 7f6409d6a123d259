"""The PINN-PDE denoising comparison end to end, and its config checks."""

from __future__ import annotations

import json
import math

import pytest

from patrec.core import get_method
from patrec.core.errors import ConfigError
from patrec.scientific_ml.pinn_pde_denoise import recipe

TINY = [
    "seeds=0,1",
    "data.images=camera",
    "data.size=16",
    "model.widths=4,8",
    "model.steps_per_epoch=5",
    "train.epochs=2",
    "timing_repeats=1",
    "variants=resunet-zg-paper,unet-mpmc-blind",
    "baselines=gaussian,tv,nlm",
]


def _cfg(*extra):
    return get_method("scientific-ml/pinn_pde_denoise").make_config("smoke", TINY + list(extra))


def test_presets_are_consistent():
    m = get_method("scientific-ml/pinn_pde_denoise")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.model.widths == (32, 64, 128, 256)  # Sec. 5, Case 1
    assert paper.train.epochs * paper.model.steps_per_epoch == 500  # Alg. 1: E = 500
    assert len(paper.variants) == 16 and paper.data.noise == "speckle"
    assert len(smoke.seeds) >= 3 and smoke.data.size < paper.data.size
    assert {v.split("-")[2] for v in smoke.variants} == {"paper", "blind"}


def test_recipe_writes_metrics_plots_and_ratios(tmp_path, capsys):
    metrics = recipe(_cfg(), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "resunet-zg-paper" and saved["primary"] == "psnr"
    for name in ("psnr.png", "ssim.png", "examples.png", "psnr_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert "time / resunet-zg-paper" in capsys.readouterr().out
    v = metrics["variants"]
    assert set(v) == {"noisy", "resunet-zg-paper", "unet-mpmc-blind", "gaussian", "tv", "nlm"}
    for name, m in v.items():
        assert m["psnr"]["n"] == 2 and math.isfinite(m["psnr"]["mean"]), name
        assert 0 < m["ssim"]["mean"] <= 1 and 5 < m["psnr"]["mean"] < 60
    assert v["resunet-zg-paper"]["time_ratio_vs_resunet-zg-paper"] == pytest.approx(1.0)
    assert 0 < v["tv"]["time_ratio_vs_resunet-zg-paper"] < 1  # a filter beats a per-image fit
    assert v["tv"]["psnr"]["mean"] > v["noisy"]["psnr"]["mean"]


def test_bad_configs_raise_config_error(tmp_path):
    for bad in (
        ["variants=resunet-zg"],
        ["variants=resu2net-zg-paper"],
        ["variants=unet-perona-paper"],
        ["baselines=bm3d"],
        ["data.noise=salt"],
        ["data.size=17"],
        ["loss.residual=explicit"],
    ):
        with pytest.raises(ConfigError):
            recipe(_cfg(*bad), tmp_path)
