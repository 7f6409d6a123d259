"""The SCC-loss recipe end to end (shrunk smoke preset), its config checks and evaluation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from patrec.core.config import apply_overrides
from patrec.core.errors import ConfigError, InputError
from patrec.core.segmentation import UNet
from patrec.medical_imaging.scc_loss import (
    METHOD,
    evaluate_domains,
    paper_config,
    recipe,
    smoke_config,
)


def test_presets_follow_the_paper() -> None:
    cfg = paper_config()
    assert cfg.loss.lam == 0.2 and cfg.data.size == 224 and cfg.train.batch_size == 8
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.momentum) == ("sgd", 0.01, 0.9)
    assert cfg.optim.weight_decay == 1e-4
    assert smoke_config().variants == ("unet", "unet_scc")
    assert METHOD.name == "medical-imaging/scc_loss"


def test_recipe_end_to_end(tmp_path: Path) -> None:
    cfg = apply_overrides(
        smoke_config(),
        [
            "data.n_train=8",
            "data.n_test=4",
            "data.size=16",
            "data.domains=[noisy]",
            "train.epochs=1",
            "seeds=[0,1]",
        ],
    )
    metrics = recipe(cfg, tmp_path)
    for name in ("metrics.json", "dice_per_domain.png", "hd95_per_domain.png",
                 "train_loss_curves.png", "examples_unet_noisy.png",
                 "examples_unet_scc_noisy.png"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "unet_scc" and saved["baselines"] == ["unet"]
    for v in ("unet", "unet_scc"):
        row = saved["variants"][v]
        for key in ("dice", "dice@noisy", "hd95", "hd95@noisy", "dice_shifted"):
            m = row[key]["mean"]
            assert math.isfinite(m) and m >= 0 and row[key]["n"] == 2
        assert row["dice"]["mean"] <= 1.0
    assert metrics["compare"]["unet"]["baseline"] == saved["variants"]["unet"]["dice"]["mean"]
    # finished runs are read back, not retrained
    again = recipe(cfg, tmp_path)
    assert again["variants"] == saved["variants"]


def test_config_errors(tmp_path: Path) -> None:
    for override in ("loss.lam=-0.2", "variants=[unet,transunet]", "data.name=acdc",
                     "data.size=30"):  # fmt: skip
        with pytest.raises(ConfigError):
            recipe(apply_overrides(smoke_config(), [override]), tmp_path)
    bad_shift = apply_overrides(smoke_config(), ["data.name=lesion", "data.domains=[fog:0.5]"])
    with pytest.raises(ConfigError, match="noise:0.5"):
        recipe(bad_shift, tmp_path)


def test_evaluate_domains_checks_sizes() -> None:
    net = UNet(3, 2, (4, 8))
    x = torch.rand(2, 3, 8, 8)
    y = torch.rand(2, 2, 8, 8) > 0.5
    res = evaluate_domains(net, {"a": (x, y)})
    assert set(res["a"]) >= {"dice", "iou", "hd95", "dice_0", "dice_1"}
    with pytest.raises(InputError, match="differ"):
        evaluate_domains(net, {"a": (x, torch.rand(2, 2, 16, 16) > 0.5)})
    with pytest.raises(InputError, match="binary"):
        evaluate_domains(net, {"a": (x, torch.rand(2, 2, 8, 8))})
