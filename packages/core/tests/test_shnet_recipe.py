"""The SHNet recipe end to end: registration, presets, metrics and plots, schedule, errors."""

from __future__ import annotations

import json
import math

import pytest

from patrec.core import get_method
from patrec.core.errors import ConfigError
from patrec.core.shnet import PAPER_TABLE1, load_data, recipe, warmup_cosine

TINY = [
    "train.epochs=2",
    "train.batch_size=16",
    "data.per_class=20",
    "data.image_size=16",
    "cost.archs=23-1",
    "cost.kinds=none,se,sh",
]


def _cfg(*extra):
    return get_method("core/shnet").make_config("smoke", TINY + list(extra))


def test_presets_follow_the_paper():
    m = get_method("core/shnet")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.model.blocks == (12, 12, 16, 2) and paper.model.width == 2.0  # 44-2
    assert paper.train.epochs == 150 and paper.train.batch_size == 64
    assert paper.optim.lr == 0.1 and paper.optim.warmup_epochs == 10
    assert paper.model.n == 4 and paper.model.sh_reduction == 1
    assert paper.data.test_fraction == 0.2 and paper.data.name == "imagefolder"
    assert smoke.data.name == "leaf_lesions" and set(smoke.variants) == {"none", "se", "sh"}
    assert len(smoke.seeds) >= 3 and smoke.train.cpu


def test_warmup_then_cosine_schedule():
    f = warmup_cosine(150, 10)
    assert [f(e) for e in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])  # linear 0 -> peak
    assert f(10) == pytest.approx(1.0)
    vals = [f(e) for e in range(10, 150)]
    assert all(a >= b for a, b in zip(vals, vals[1:], strict=False))  # cosine decay
    assert f(80) == pytest.approx(0.5 * (1 + math.cos(math.pi * 70 / 140)))
    assert f(149) < 0.001


def test_recipe_writes_metrics_plots_and_costs(tmp_path):
    metrics = recipe(_cfg("seeds=0,1"), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "sh" and set(saved["compare"]) == {"none", "se"}
    v = saved["variants"]
    for name in ("none", "se", "sh"):
        acc = v[name]["accuracy"]
        assert acc["n"] == 2 and 0.0 <= acc["min"] <= acc["max"] <= 1.0
        assert v[name]["flops"] > 0
    # chance is 0.25 on four balanced classes; two epochs on 60 images need not be much better,
    # but the numbers must be real accuracies of trained models
    assert max(v[k]["accuracy"]["mean"] for k in v) > 0.25
    assert v["none"]["attention_params"] == 0 < v["se"]["attention_params"]
    assert v["sh"]["params"] == v["none"]["params"] + v["sh"]["attention_params"]
    for name in ("accuracy.png", "test_accuracy_curves.png", "train_loss_curves.png", "cost.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    table = saved["cost_table"]["archs"]
    assert set(table) == {"23-1"} and set(table["23-1"]) == {"none", "se", "sh"}
    assert table["23-1"]["none"]["params"] < table["23-1"]["se"]["params"]
    assert saved["paper_table1"] == json.loads(json.dumps(PAPER_TABLE1))
    assert metrics["variants"] == saved["variants"]
    # finished runs are read back, not retrained
    stamp = (tmp_path / "runs/sh/seed0/result.json").stat().st_mtime_ns
    again = recipe(_cfg("seeds=0,1", "cost.archs=", "cost.kinds="), tmp_path)
    assert (tmp_path / "runs/sh/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"] == saved["variants"]


def test_recipe_on_digits_with_learned_a(tmp_path):
    cfg = _cfg(
        "data.name=digits", "data.image_size=8", "data.test_fraction=0.9",
        "variants=sh_learned", "seeds=0", "train.epochs=1", "cost.archs=",
    )  # fmt: skip
    data = load_data(cfg)
    assert data.in_channels == 1 and data.num_classes == 10
    m = recipe(cfg, tmp_path)
    assert m["ours"] == "sh_learned" and m["baselines"] == []
    assert "cost.png" not in m["plots"]


def test_bad_config_values():
    with pytest.raises(ConfigError, match="variants"):
        recipe(_cfg("variants=none,cbam"), "unused")
    with pytest.raises(ConfigError, match="data.name"):
        recipe(_cfg("data.name=plantvillage"), "unused")
    with pytest.raises(ConfigError, match="arch"):
        recipe(_cfg("cost.archs=99-1"), "unused")
    with pytest.raises(ConfigError, match="cost.kinds"):
        recipe(_cfg("cost.kinds=se,xyz"), "unused")
    with pytest.raises(ConfigError, match="warmup"):
        recipe(_cfg("optim.warmup_epochs=-1"), "unused")
