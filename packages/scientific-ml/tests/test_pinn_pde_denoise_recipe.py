"""The PINN-PDE denoising comparison end to end, its presets and its config checks."""

from __future__ import annotations

import json
import math

import pytest
import torch

from patrec.core import get_method
from patrec.core.errors import ConfigError
from patrec.core.hub import verify_saved_model
from patrec.scientific_ml.pinn_pde_denoise import (
    BACKBONES,
    PRIORS,
    PinnDenoiser,
    add_noise,
    load_images,
    recipe,
)

NAME = "scientific-ml/pinn_pde_denoise"
TINY = [
    "seeds=0,1",
    "data.images=camera",
    "train.epochs=3",
    "model.log_every=3",
    "variants=resu2net-zg-paper,unet-mpmc-blind",
    "baselines=tv,bm3d,dncnn-s",
    "dncnn.epochs=1",
    "dncnn.patches=64",
]


def _cfg(*extra):
    return get_method(NAME).make_config("smoke", TINY + list(extra))


def test_presets_follow_the_paper():
    m = get_method(NAME)
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    # the reference variant is the method: Alg. 1's main procedure, ResU2Net with ZG
    assert paper.variants[0] == "resu2net-zg-paper"
    table4 = {f"{b}-{p}-paper" for b in BACKBONES for p in PRIORS}
    assert table4 <= set(paper.variants) and len(paper.variants) == 17
    assert paper.loss.residual == "alg1"  # Alg. 1 line 16
    assert paper.train.epochs == 500 and paper.model.stop_loss == 1e-4  # Sec. 5
    assert paper.model.widths == (32, 64, 128, 256)  # Sec. 5, Case 1
    assert paper.dncnn.depth == 17 and paper.data.noise == "speckle"
    assert {"bm3d", "dncnn-s"} <= set(paper.baselines)
    assert smoke.variants[0] == paper.variants[0] and smoke.loss.residual == "alg1"
    assert {v.split("-")[0] for v in smoke.variants} == set(BACKBONES)
    assert {v.split("-")[2] for v in smoke.variants} == {"paper", "blind"}
    assert smoke.data.size < paper.data.size
    # the contract test's overrides still run every smoke variant
    fast = m.make_config("smoke", list(m.test_overrides))
    assert fast.variants == smoke.variants and fast.baselines == smoke.baselines


def test_recipe_writes_metrics_plots_model_and_ratios(tmp_path):
    metrics = recipe(_cfg(), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "resu2net-zg-paper" and saved["primary"] == "psnr"
    for name in saved["plots"]:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert {"psnr.png", "enl.png", "cnr.png", "psnr_curves.png", "examples.png"} <= set(
        saved["plots"]
    )
    assert "| dncnn-s |" in (tmp_path / "comparison.md").read_text()
    v = metrics["variants"]
    assert set(v) == {"noisy", "resu2net-zg-paper", "unet-mpmc-blind", "tv", "bm3d", "dncnn-s"}
    for name, m in v.items():
        assert m["psnr"]["n"] == 2 and math.isfinite(m["psnr"]["mean"]), name
        assert 0 < m["ssim"]["mean"] <= 1 and 5 < m["psnr"]["mean"] < 60
        assert m["enl"]["mean"] > 0 and math.isfinite(m["cnr"]["mean"]), name
    # time ratios are each variant's time over the method's (not a value over itself)
    ratios, t_ours = saved["time_ratio_vs_ours"], v["resu2net-zg-paper"]["time_s"]["mean"]
    for name in ("tv", "bm3d", "unet-mpmc-blind"):
        assert ratios[name] == pytest.approx(v[name]["time_s"]["mean"] / t_ours)
    assert 0 < ratios["tv"] < 1  # a filter beats a per-image fit
    assert v["bm3d"]["psnr"]["mean"] > v["noisy"]["psnr"]["mean"] + 2
    assert v["dncnn-s"]["train_time_s"]["mean"] > 0 and v["resu2net-zg-paper"]["steps"]["mean"] == 3
    assert saved["compare"]["noisy"]["delta"] == pytest.approx(
        v["resu2net-zg-paper"]["psnr"]["mean"] - v["noisy"]["psnr"]["mean"]
    )
    assert saved["clean_speckle"]["cnr"] > v["noisy"]["cnr"]["mean"]  # noise lowers CNR
    # <out>/model/ is the method's fitted network: it reloads and denoises as in the run
    model = get_method(NAME).load_model(tmp_path / "model")
    assert isinstance(model, PinnDenoiser) and model.backbone_name == "resu2net"
    assert verify_saved_model(tmp_path / "model", PinnDenoiser) < 1e-5
    clean = torch.from_numpy(load_images(["camera"], 32)[0]).float()[None]
    noisy = add_noise(clean, "awgn", 25.0, seed=0)
    from safetensors.torch import load_file

    first = load_file(str(tmp_path / "runs/resu2net-zg-paper/seed0/result.safetensors"))["first"]
    with torch.no_grad():
        assert torch.allclose(model(noisy[None])[0], first, atol=1e-5)


def test_bad_configs_raise_config_error(tmp_path):
    for bad in (
        ["variants=resunet-zg"],
        ["variants=transunet-zg-paper"],
        ["variants=unet-perona-paper"],
        ["variants=unet-zg-paper-explicit"],
        ["variants=unet-zg-paper,unet-zg-paper"],
        ["baselines=wnnm"],
        ["data.noise=salt"],
        ["data.size=34", "variants=unet-zg-paper"],  # not a multiple of 4
        ["data.size=16"],  # below the U^2 net's deepest level
        ["data.window=17"],
        ["data.train_images=camera,coins"],  # DnCNN-S would train on a test image
        ["loss.residual=explicit"],
        ["model.u2_mid=4,4"],  # one per stage
        ["model.stop_loss=-1"],
        ["dncnn.patch=80"],
    ):
        with pytest.raises(ConfigError):
            recipe(_cfg(*bad), tmp_path)
