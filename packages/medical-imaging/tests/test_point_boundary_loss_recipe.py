"""The point-boundary-loss recipe end to end (shrunk smoke preset) and its config checks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from patrec.core.config import apply_overrides
from patrec.core.errors import ConfigError
from patrec.core.hub import verify_saved_model
from patrec.core.segmentation import UNet
from patrec.medical_imaging.point_boundary_loss import METHOD, paper_config, recipe, smoke_config


def test_presets_follow_the_paper() -> None:
    cfg = paper_config()
    assert cfg.loss.alpha == 0.7 and cfg.distance.lam == 0.5 and cfg.distance.absent_value == 1
    assert cfg.data.size == 256 and cfg.select_best and len(cfg.seeds) == 3
    assert (cfg.crf.weight, cfg.crf.sigma_rgb, cfg.crf.sigma_xy, cfg.crf.scale) == (
        2e-9,
        15.0,
        100.0,
        0.5,
    )
    assert set(smoke_config().variants) == {"full_ce", "partial_ce", "crf_loss", "lb_euc",
                                            "lb_geo", "lb_int", "lb_mbd"}  # fmt: skip
    assert METHOD.name == "medical-imaging/point_boundary_loss"


def test_recipe_end_to_end(tmp_path: Path) -> None:
    cfg = apply_overrides(
        smoke_config(),
        [*METHOD.test_overrides, "seeds=[0,1]", "variants=[full_ce,crf_loss,lb_mbd]"],
    )
    recipe(cfg, tmp_path)
    for name in ("metrics.json", "distance_maps.png", "dice.png", "hd95.png",
                 "dice_per_class_by_group.png", "val_dice_curves.png",
                 "examples_full_ce.png", "examples_lb_mbd.png"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "lb_mbd" and set(saved["baselines"]) == {"full_ce", "crf_loss"}
    for row in saved["variants"].values():
        assert 0 <= row["dice"]["mean"] <= 1 and row["dice"]["n"] == 2
        assert math.isfinite(row["hd95"]["mean"]) and row["hd95"]["mean"] >= 0
        assert set(row["dice_per_class"]) == {"disc", "cup"}
        assert set(row["hd95_per_class"]) == {"disc", "cup"}
    assert set(saved["map_seconds"]) == {"euc", "geo", "int", "mbd"}
    # <out>/model/ is the lb_mbd U-Net of the first seed and reproduces its saved outputs
    assert isinstance(METHOD.load_model(tmp_path / "model"), UNet)
    assert verify_saved_model(tmp_path / "model", METHOD.model) < 1e-5


def test_bad_config_raises_config_error(tmp_path: Path) -> None:
    for bad, key in ((["variants=[lb_cosine]"], "variants"), (["loss.alpha=-1"], "alpha"),
                     (["data.size=30"], "multiple of 4"), (["crf.scale=2"], "scale")):  # fmt: skip
        with pytest.raises(ConfigError, match=key):
            recipe(apply_overrides(smoke_config(), bad), tmp_path)


def test_acdc_from_a_local_nifti_folder(tmp_path):
    import nibabel as nib
    import numpy as np

    from patrec.core.errors import DataError
    from patrec.medical_imaging.point_boundary_loss import load_task, smoke_config

    cfg = smoke_config()
    cfg.data.name, cfg.data.size = "acdc", 16
    cfg.data.n_train, cfg.data.n_val, cfg.data.n_test = 3, 1, 2
    with pytest.raises(DataError, match="--data"):
        load_task(cfg)
    p = tmp_path / "patient001"
    p.mkdir()
    rng = np.random.default_rng(0)
    lab = np.zeros((16, 16, 6), np.int16)
    lab[2:6, 2:6] = 1
    lab[6:10, 6:10] = 2
    lab[10:14, 10:14] = 3
    nib.save(nib.Nifti1Image(rng.random((16, 16, 6)).astype(np.float32), np.eye(4)),
             p / "patient001_frame01.nii.gz")  # fmt: skip
    nib.save(nib.Nifti1Image(lab, np.eye(4)), p / "patient001_frame01_gt.nii.gz")
    cfg.data.root = str(tmp_path)
    task = load_task(cfg)
    assert task.class_names == ("RV", "myocardium", "LV")
    assert set(task.y_test.unique().tolist()) == {0, 1, 2, 3}
