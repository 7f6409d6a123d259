"""The ConDGAD recipe end to end: registration, presets, synthetic and CSV data, resume."""

from __future__ import annotations

import json
import math

import pytest

from patrec.core import get_method
from patrec.core.errors import ConfigError, DataError
from patrec.graph_learning.condgad import recipe

TINY = [
    "data.train_length=1600",
    "data.test_length=1400",
    "data.anomalies_per_kind=1",
    "train.epochs=2",
    "train.batch_size=16",
    "model.layers=1",
    "model.hidden=16",
    "model.mlp_dim=16",
]


def _cfg(*extra: str):
    return get_method("graph-learning/condgad").make_config("smoke", TINY + list(extra))


def test_registered_with_consistent_presets():
    m = get_method("graph-learning/condgad")
    assert m.paper == "000/28" and m.status == "done"
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.graph.alpha == 5 and paper.detect.n_std == 2.0  # Table 3, Sec. 3.3
    assert paper.data.name == "csv" and paper.data.downsample == 10
    assert paper.data.drop_first == 21600  # SWaT: first 6 h of 1 s ticks
    assert smoke.data.name == "synthetic" and len(smoke.seeds) >= 3
    assert set(smoke.variants) == {"condgad", "no_cont", "no_trans", "only_gcn"}


def test_recipe_writes_metrics_and_plots(tmp_path):
    metrics = recipe(_cfg("seeds=0,1", "variants=condgad,no_cont,only_gcn"), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "condgad" and set(saved["compare"]) == {"no_cont", "only_gcn"}
    assert saved["primary"] == "f1"
    for name in ("scores.png", "prf.png", "train_loss_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    for v, row in metrics["variants"].items():
        assert row["f1"]["n"] == 2, v
        for key in ("precision", "recall", "f1"):
            assert 0.0 <= row[key]["mean"] <= 1.0, (v, key)
        assert math.isfinite(row["threshold"]["mean"]) and row["threshold"]["mean"] > 0
    res = json.loads((tmp_path / "runs/condgad/seed0/result.json").read_text())
    assert res["metrics"]["threshold"] == res["threshold"]
    assert len(res["history"]) == 2 and "train/max" in res["history"][0]
    w = saved["windows"]
    assert len(res["test_scores"]) == w["test"] and 0 < w["test_anomalous"] < w["test"]
    # the run is read back, not retrained
    stamp = (tmp_path / "runs/condgad/seed0/result.json").stat().st_mtime_ns
    again = recipe(_cfg("seeds=0,1", "variants=condgad,no_cont,only_gcn"), tmp_path)
    assert (tmp_path / "runs/condgad/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"] == metrics["variants"]


def test_recipe_on_a_swat_layout_folder(tmp_path):
    from patrec.graph_learning.sensors import make_sensor_series

    s = make_sensor_series(6, 2, 1000, 900, anomalies_per_kind=1, seed=1, normalize=False)
    root = tmp_path / "swat"
    root.mkdir()
    for fname, x, lab in (("train.csv", s.train, None), ("test.csv", s.test, s.test_labels)):
        lines = [" Timestamp," + ",".join(s.names) + ",Normal/Attack"]
        for t in range(x.shape[0]):
            word = "Attack" if lab is not None and int(lab[t]) else "Normal"
            lines.append(f"{t}," + ",".join(f"{float(v):.4f}" for v in x[t]) + f",{word}")
        (root / fname).write_text("\n".join(lines) + "\n")
    cfg = _cfg(
        "data.name=csv",
        f"data.root={root}",
        "data.downsample=2",
        "data.window=10",
        "graph.alpha=3",
        "seeds=0",
        "variants=no_trans",
    )
    out = recipe(cfg, tmp_path / "out")
    assert out["dataset"] == "csv" and out["sensors"] == 6
    assert (tmp_path / "out" / "scores.png").is_file()
    with pytest.raises(DataError, match="does not exist"):
        recipe(_cfg("data.name=csv", f"data.root={tmp_path / 'nowhere'}"), tmp_path / "x")


def test_bad_config_values(tmp_path):
    with pytest.raises(ConfigError, match="variants"):
        recipe(_cfg("variants=condgad,gdn"), tmp_path)
    with pytest.raises(ConfigError, match="val_fraction"):
        recipe(_cfg("data.val_fraction=1.0"), tmp_path)
    with pytest.raises(ConfigError, match="data.name"):
        recipe(_cfg("data.name=kdd"), tmp_path)
    with pytest.raises(ConfigError, match="divisible"):
        recipe(_cfg("model.hidden=10", "model.heads=4", "seeds=0", "variants=condgad"), tmp_path)
