"""The SAPM recipe end to end (shrunk smoke preset) and its config checks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from patrec.core.config import apply_overrides
from patrec.core.errors import ConfigError
from patrec.medical_imaging.sapm import METHOD, paper_config, recipe, smoke_config


def test_presets_follow_the_paper() -> None:
    cfg = paper_config()
    assert (cfg.aug.alpha, cfg.aug.beta) == (6.0, 0.5)
    assert (cfg.loss.lambda_seg, cfg.loss.lambda_con, cfg.loss.lambda_g) == (1.0, 0.5, 0.5)
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.momentum) == ("sgd", 0.01, 0.99)
    assert (cfg.data.size, cfg.train.batch_size, cfg.train.epochs) == (512, 8, 200)
    assert smoke_config().variants == ("none", "plain", "sapm", "full")
    assert METHOD.name == "medical-imaging/sapm"


def test_recipe_end_to_end(tmp_path: Path) -> None:
    cfg = apply_overrides(
        smoke_config(),
        ["data.n_train=8", "data.n_test=3", "data.size=16", "data.domains=[noisy]",
         "train.epochs=1", "seeds=[0,1]"],
    )  # fmt: skip
    recipe(cfg, tmp_path)
    for name in (
        "metrics.json",
        "sapm_examples.png",
        "dice_per_domain.png",
        "train_loss_curves.png",
        "examples_full_noisy.png",
        "examples_none_noisy.png",
    ):
        assert (tmp_path / name).is_file(), name  # fmt: skip
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "full" and saved["baselines"] == ["none", "plain", "sapm"]
    for v in ("none", "plain", "sapm", "full"):
        row = saved["variants"][v]
        for key in (
            "dice_disc@noisy",
            "dice_cup@noisy",
            "hd95_cup@noisy",
            "dice_unseen",
            "dice_disc@source",
        ):
            m = row[key]["mean"]
            assert math.isfinite(m) and m >= 0 and row[key]["n"] == 2  # fmt: skip
        assert row["dice_unseen"]["mean"] <= 1.0
    again = recipe(cfg, tmp_path)  # finished runs are read back
    assert again["variants"]["full"] == saved["variants"]["full"]


@pytest.mark.parametrize(
    "override", ["variants=[mixup]", "aug.alpha=-1", "data.size=18", "data.name=cityscapes"]
)
def test_bad_config_raises(tmp_path: Path, override: str) -> None:
    with pytest.raises(ConfigError):
        recipe(apply_overrides(smoke_config(), [override]), tmp_path)
