"""The TSAK recipe end to end: registration, presets, metrics and plots, skipping finished runs."""

from __future__ import annotations

import json
import math

import pytest

from patrec.core import get_method
from patrec.core.errors import ConfigError
from patrec.core.tsak import recipe

TINY = [
    "data.users=4",
    "data.test_users=2",
    "data.windows_per_class=3",
    "train.epochs=2",
    "train.batch_size=8",
    "optim.teacher_epochs=2",
    "optim.sc_epochs=2",
    "bench.repeats=2",
    "bench.warmup=1",
]


def _cfg(*extra: str):
    return get_method("core/tsak").make_config("smoke", TINY + list(extra))


def test_presets_follow_the_paper():
    m = get_method("core/tsak")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.loss.alpha == 0.99 and paper.loss.tau == 4.0  # Sec. 5, Fig. 4B
    assert paper.optim.name == "adadelta" and paper.optim.lr == 0.9  # Sec. 4
    assert paper.train.batch_size == 64 and paper.train.epochs == 100
    assert paper.data.length == 100 and paper.data.fs == 50.0 and paper.data.normalize == "minmax"
    assert paper.model.student_widths == (100, 5, 5) and paper.model.teacher_widths == (100, 20, 10)
    assert set(smoke.variants) == {"none", "logit", "feature", "sc"} and len(smoke.seeds) >= 3
    assert smoke.loss.alpha == 0.99 and smoke.loss.tau == 4.0


def test_recipe_writes_metrics_and_plots(tmp_path):
    metrics = recipe(_cfg("seeds=0,1"), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["method"] == "core/tsak" and saved["primary"] == "macro_f1"
    assert saved["ours"] == "sc" and set(saved["compare"]) == {"none", "logit", "feature"}
    for name in ("f1.png", "params_vs_time.png", "test_f1_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    v = metrics["variants"]
    for name in ("none", "logit", "feature", "sc", "teacher", "semantic"):
        f1 = v[name]["macro_f1"]
        assert f1["n"] == 2 and 0.0 <= f1["mean"] <= 1.0
        assert v[name]["latency_ms"]["mean"] > 0 and math.isfinite(v[name]["flops"])
    assert v["sc"]["params"] == v["none"]["params"] == 2689  # Table 2's 2.69K student
    assert v["teacher"]["params"] > 5 * v["sc"]["params"]
    assert v["semantic"]["params"] > v["teacher"]["params"]
    eff = metrics["efficiency"]
    assert (
        0 < eff["student_params_smaller_pct"] < 100 and 0 < eff["student_flops_smaller_pct"] < 100
    )
    assert metrics["student_channels"] == ["R_acc_x", "R_acc_y", "R_acc_z"]


def test_finished_runs_are_not_retrained_and_resume_writes_checkpoints(tmp_path):
    cfg = _cfg("seeds=0", "variants=none,sc", "train.resume=true")
    first = recipe(cfg, tmp_path)
    assert (tmp_path / "runs/sc/seed0/checkpoints/latest").is_file()
    stamp = (tmp_path / "runs/sc/seed0/result.json").stat().st_mtime_ns
    again = recipe(cfg, tmp_path)
    assert (tmp_path / "runs/sc/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"]["sc"]["macro_f1"] == first["variants"]["sc"]["macro_f1"]
    assert set(again["compare"]) == {"none"}


def test_bad_config_values():
    with pytest.raises(ConfigError, match="variants"):
        recipe(_cfg("variants=none,hint"), "unused")
    with pytest.raises(ConfigError, match="feature_rep"):
        recipe(_cfg("loss.feature_rep=logits"), "unused")
    with pytest.raises(ConfigError, match="alpha"):
        recipe(_cfg("loss.alpha=1.5"), "unused")
    with pytest.raises(ConfigError, match="tau"):
        recipe(_cfg("loss.tau=0"), "unused")
    with pytest.raises(ConfigError, match="optim.name"):
        recipe(_cfg("optim.name=sgd"), "unused")
