"""The SAPM recipe end to end (shrunk smoke preset), the last-epochs averaging of Sec. 4.2,
the saved model, and the config checks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from patrec.core.config import apply_overrides
from patrec.core.errors import ConfigError
from patrec.core.hub import verify_saved_model
from patrec.core.segmentation import UNet
from patrec.medical_imaging.data import fundus_task
from patrec.medical_imaging.sapm import (
    METHOD,
    VARIANTS,
    SAPMNet,
    paper_config,
    recipe,
    smoke_config,
    train_variant,
)

TINY = ["data.n_train=8", "data.n_test=3", "data.size=16", "data.domains=[noisy]",
        "model.widths=[4,8]", "train.epochs=1"]  # fmt: skip


def test_presets_follow_the_paper() -> None:
    cfg = paper_config()
    assert (cfg.aug.alpha, cfg.aug.beta) == (6.0, 0.5)
    assert (cfg.loss.lambda_seg, cfg.loss.lambda_con, cfg.loss.lambda_g) == (1.0, 0.5, 0.5)
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.momentum) == ("sgd", 0.01, 0.99)
    assert (cfg.data.size, cfg.train.batch_size, cfg.train.epochs) == (512, 8, 200)
    assert cfg.eval_last == 10  # Sec. 4.2: the mean of the last 10 epochs' test results
    # Table 3's five rows under their names, plus the amplitude-noise stand-in
    assert set(smoke_config().variants) == {
        "unet", "sapm", "normaug", "normaug_sens", "sapm_sens", "amp_noise"
    }  # fmt: skip
    assert VARIANTS["normaug_sens"] == ("normaug", True) and VARIANTS["sapm"] == ("sapm", False)
    assert METHOD.name == "medical-imaging/sapm"


def test_dice_is_the_mean_of_the_last_epochs() -> None:
    cfg = apply_overrides(smoke_config(), [*TINY[4:5], "train.epochs=3", "eval_last=2"])
    ds = fundus_task(8, 3, size=16, domains=("noisy",), seed=0)
    tm = train_variant(cfg, "sapm_sens", 0, ds)
    assert isinstance(tm.model, SAPMNet)
    rows = [h for h in tm.history if "test/dice_unseen" in h]
    assert [h["epoch"] for h in rows] == [2.0, 3.0]  # only the last two epochs are tested
    for dom in ("source", "noisy"):
        for c in ("disc", "cup"):
            mean = sum(h[f"test/dice_{c}@{dom}"] for h in rows) / 2
            assert tm.metrics[dom][f"dice_{c}"] == pytest.approx(mean)
    assert math.isfinite(tm.metrics["noisy"]["hd95_cup"])  # HD95: the final model
    plain = train_variant(cfg, "normaug", 0, ds)
    assert type(plain.model) is UNet


def test_recipe_end_to_end(tmp_path: Path) -> None:
    cfg = apply_overrides(smoke_config(), [*TINY, "seeds=[0,1]"])
    recipe(cfg, tmp_path)
    for name in (
        "metrics.json",
        "sapm_examples.png",
        "dice_disc_by_group.png",
        "hd95_cup_by_group.png",
        "dice_unseen.png",
        "train_loss_curves.png",
        "test_dice_unseen_curves.png",
        "examples_sapm_sens_noisy.png",
        "examples_normaug_noisy.png",
    ):
        assert (tmp_path / name).is_file(), name  # fmt: skip
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "sapm_sens"
    assert saved["baselines"] == ["unet", "amp_noise", "normaug", "normaug_sens", "sapm"]
    for v in VARIANTS:
        row = saved["variants"][v]
        for m in (
            row["dice_disc"]["noisy"],
            row["dice_cup"]["noisy"],
            row["hd95_cup"]["noisy"],
            row["dice_disc"]["source"],
            row["dice_unseen"],
            row["dice_cup_unseen_epoch_std"],
        ):
            assert math.isfinite(m["mean"]) and m["mean"] >= 0 and m["n"] == 2
        assert row["dice_unseen"]["mean"] <= 1.0
    # <out>/model: the sapm_sens net of seed 0, reloads and gives the saved outputs
    loaded = METHOD.load_model(tmp_path / "model")
    assert isinstance(loaded, SAPMNet)
    assert verify_saved_model(tmp_path / "model", METHOD.model) < 1e-5
    x = torch.rand(1, 3, 16, 16)
    assert loaded(x).shape == (1, 2, 16, 16)
    stamp = (tmp_path / "runs/sapm_sens/seed0/result.json").stat().st_mtime_ns
    again = recipe(cfg, tmp_path)  # finished runs are read back, not retrained
    assert (tmp_path / "runs/sapm_sens/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"]["sapm_sens"] == saved["variants"]["sapm_sens"]


@pytest.mark.parametrize(
    "override",
    ["variants=[mixup]", "aug.alpha=-1", "data.size=18", "data.name=cityscapes",
     "normaug.blur_kernel=4", "eval_last=0", "data.domains=[foggy]"],
)  # fmt: skip
def test_bad_config_raises(tmp_path: Path, override: str) -> None:
    with pytest.raises(ConfigError):
        recipe(apply_overrides(smoke_config(), [override]), tmp_path)
