"""The metrics.json layout: accepted shapes, rejected ones, and the report renders all."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from patrec.core.errors import MetricsError
from patrec.core.report import summarize_seeds, write_metrics, write_reproduce_report
from patrec.core.results import validate_metrics


def _good() -> dict[str, Any]:
    s = summarize_seeds([0.5, 0.7])
    return {
        "method": "core/x",
        "primary": "acc",
        "higher_is_better": True,
        "ours": "a",
        "baselines": ["b"],
        "variants": {
            "a": {
                "acc": {**s, "values": [0.5, 0.7]},
                "params": 10,
                "note": "ok",
                "nan": None,
                "time_s": {"phantom": s, "digits": 0.3},
            },
            "b": {"acc": 0.4, "time_s": {"phantom": s}},
        },
        "compare": {"b": {"ours": 0.6, "baseline": 0.4, "delta": 0.2, "ours_better": True}},
        "plots": [],
    }


def test_layout_accepts_numbers_summaries_groups_text_null() -> None:
    validate_metrics(_good(), "core/x")


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda m: m.pop("primary"), "core/x: metrics.json primary: missing"),
        (lambda m: m["variants"]["a"].update(acc={"x": {"y": 1}}), "variants.a.acc"),
        (lambda m: m["variants"]["b"].update(acc={"phantom": 0.1}), "primary metric must be"),
        (lambda m: m["variants"]["a"].update(hist=[1, 2]), "variants.a.hist"),
        (lambda m: m.update(ours="zzz"), "ours: 'zzz' is not a variant"),
        (lambda m: m.update(plots=["../x.png"]), "plots"),
    ],
)
def test_layout_rejects_with_method_and_key(mutate: Any, match: str) -> None:
    bad = copy.deepcopy(_good())
    mutate(bad)
    with pytest.raises(MetricsError, match=match):
        validate_metrics(bad, "core/x")


def test_write_metrics_fails_before_writing(tmp_path: Path) -> None:
    with pytest.raises(MetricsError, match="core/x: metrics.json variants.a.curve"):
        write_metrics(
            tmp_path,
            method="core/x",
            variants={"a": {"acc": 0.5, "curve": [[1, 2]]}, "b": {"acc": 0.4}},
            primary="acc",
            ours="a",
            baselines=["b"],
        )
    assert not (tmp_path / "metrics.json").exists()


def test_report_renders_groups_and_reports_broken_runs(tmp_path: Path) -> None:
    broken = _good()
    broken["variants"]["a"]["acc"] = {"phantom": {"mean": 1}}  # the omp_sr crash, as data
    runs = [
        {"name": "core/x", "dir": tmp_path / "x", "metrics": _good(), "seconds": 1.0},
        {"name": "core/y", "dir": tmp_path / "y", "metrics": {**broken, "method": "core/y"}},
        {"name": "core/z", "dir": tmp_path / "z", "error": "ConfigError: bad"},
    ]
    text = write_reproduce_report(tmp_path, runs).read_text()
    assert "| `core/x` | acc | a: 0.6000 | b: 0.4000 | +0.2000 |" in text
    assert "time_s per group" in text and "| a | 0.6 ± 0.14 | 0.3 |" in text
    assert "| `core/y` | failed: core/y: metrics.json variants.a.acc" in text
    assert "| `core/z` | failed: ConfigError: bad" in text
