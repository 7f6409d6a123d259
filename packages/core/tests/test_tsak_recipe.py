"""The TSAK recipe end to end: registration, presets, metrics and plots, the saved student,
reloading the frozen stages, skipping finished runs."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from patrec.core import get_method
from patrec.core.errors import ConfigError
from patrec.core.hub import verify_saved_model
from patrec.core.tsak import STUDENT_VARIANTS, VARIANTS, WearableStudent, recipe

METHOD = get_method("core/tsak")


def _cfg(*extra: str):
    return METHOD.make_config("smoke", list(METHOD.test_overrides) + list(extra))


def test_presets_follow_the_paper():
    paper, smoke = METHOD.make_config("paper"), METHOD.make_config("smoke")
    assert paper.loss.alpha == 0.99 and paper.loss.tau == 4.0  # Sec. 5, Fig. 4B
    assert paper.optim.name == "adadelta" and paper.optim.lr == 0.9  # Sec. 4
    assert paper.train.batch_size == 64 and paper.train.epochs == 100
    assert paper.data.length == 100 and paper.data.fs == 50.0 and paper.data.normalize == "minmax"
    assert paper.model.student_widths == (100, 5, 5) and paper.model.teacher_widths == (100, 20, 10)
    # Table 4's rows: two teachers, the semantic classifier and eight students
    assert smoke.variants == VARIANTS and len(STUDENT_VARIANTS) == 8 and len(smoke.seeds) >= 3
    assert smoke.loss.alpha == 0.99 and smoke.loss.tau == 4.0


def test_recipe_writes_metrics_plots_and_the_deployable_student(tmp_path):
    """Every variant of Table 4 (the contract test runs the same configuration)."""
    metrics = recipe(_cfg(), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["method"] == "core/tsak" and saved["primary"] == "macro_f1"
    assert saved["ours"] == "sc_logit"
    assert set(saved["compare"]) == set(STUDENT_VARIANTS) - {"sc_logit"}
    for name in ("macro_f1.png", "params_vs_time.png", "test_macro_f1_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    v = metrics["variants"]
    assert set(v) == set(VARIANTS)
    for name in VARIANTS:
        for key in ("macro_f1", "precision", "recall", "accuracy"):  # Table 4's columns
            assert 0.0 <= v[name][key]["mean"] <= 1.0
        assert v[name]["latency_ms"]["mean"] > 0 and math.isfinite(v[name]["flops"])
    for name in STUDENT_VARIANTS:  # the projectors of feature KD are not deployed
        assert v[name]["params"] == 2689  # Table 2's 2.69K student
    assert v["teacher"]["params"] == 15746 and v["teacher_attn"]["params"] == 14666
    assert v["semantic"]["params"] == 15746 + 654  # teacher + Linear(60, 10) + Linear(10, 4)
    eff = metrics["efficiency"]
    assert eff["student_params_smaller_pct"] == pytest.approx(100 * (1 - 2689 / 15746))
    assert 0 < eff["student_flops_smaller_pct"] < 100
    assert metrics["student_channels"] == ["R_acc_x", "R_acc_y", "R_acc_z"]
    # <out>/model is the SC-Logit student of the first seed, and reproduces its outputs
    loaded = METHOD.load_model(tmp_path / "model")
    assert isinstance(loaded, WearableStudent) and not loaded.with_features
    assert verify_saved_model(tmp_path / "model", METHOD.model) < 1e-6
    same = verify_saved_model(tmp_path / "runs/sc_logit/seed0/model", METHOD.model)
    assert same < 1e-6


def test_frozen_stages_reload_and_finished_runs_are_not_retrained(tmp_path):
    cfg = _cfg("variants=teacher,semantic,baseline,sc_logit", "train.resume=true")
    first = recipe(cfg, tmp_path)
    assert (tmp_path / "runs/sc_logit/seed0/checkpoints/latest").is_file()
    stamp = (tmp_path / "runs/baseline/seed0/result.json").stat().st_mtime_ns
    # the SC-Logit student is redone from scratch: the teacher and the semantic classifier
    # it learns from are reloaded from runs/teacher|semantic/seed0/model, not retrained,
    # and give the same student
    shutil.rmtree(tmp_path / "runs/sc_logit")
    t_stamp = (tmp_path / "runs/teacher/seed0/result.json").stat().st_mtime_ns
    again = recipe(cfg, tmp_path)
    assert (tmp_path / "runs/baseline/seed0/result.json").stat().st_mtime_ns == stamp
    assert (tmp_path / "runs/teacher/seed0/result.json").stat().st_mtime_ns == t_stamp
    for key in ("macro_f1", "precision", "recall"):
        assert again["variants"]["sc_logit"][key] == first["variants"]["sc_logit"][key]
    assert set(again["compare"]) == {"baseline"}
    # <out>/model is the SC-Logit student of the first seed, and reproduces its outputs
    loaded = METHOD.load_model(tmp_path / "model")
    assert isinstance(loaded, WearableStudent) and not loaded.with_features
    assert verify_saved_model(tmp_path / "model", METHOD.model) < 1e-6
    assert again["variants"]["sc_logit"]["params"] == 2689


def test_bad_config_values():
    with pytest.raises(ConfigError, match="variants"):
        _cfg("variants=baseline,hint")
    with pytest.raises(ConfigError, match="alpha"):
        _cfg("loss.alpha=1.5")
    with pytest.raises(ConfigError, match="tau"):
        _cfg("loss.tau=0")
    with pytest.raises(ConfigError, match="optim.name"):
        _cfg("optim.name=sgd")
    with pytest.raises(ConfigError, match="test_users"):
        _cfg("data.users=3", "data.test_users=3")
    with pytest.raises(ConfigError, match="lstm_groups"):
        _cfg("model.lstm_groups=3")
    with pytest.raises(ConfigError, match="data"):
        recipe(_cfg(), "unused", data=[1, 2, 3])
