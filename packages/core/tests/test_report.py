from __future__ import annotations

import json
import os

import pytest

from patrec.core.report import (
    atomic_write_text,
    plot_bars,
    plot_curves,
    summarize_seeds,
    write_metrics,
    write_reproduce_report,
)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    p = atomic_write_text(tmp_path / "a" / "x.txt", "hello")
    assert p.read_text() == "hello"
    atomic_write_text(p, "world")
    assert p.read_text() == "world"
    assert os.listdir(p.parent) == ["x.txt"]


def test_metrics_compare_and_report(tmp_path):
    variants = {
        "ours": {"accuracy": summarize_seeds([0.9, 0.8])},
        "base": {"accuracy": summarize_seeds([0.7, 0.7])},
    }
    png = plot_bars({k: v["accuracy"] for k, v in variants.items()}, tmp_path / "bars.png")
    curve = plot_curves({"ours": [[1, 2, 3], [2, 3, 4]], "base": [1, 1, 1]}, tmp_path / "c.png")
    assert png.read_bytes()[:4] == b"\x89PNG" and curve.stat().st_size > 1000
    m = write_metrics(
        tmp_path,
        method="x/y",
        variants=variants,
        primary="accuracy",
        ours="ours",
        baselines=["base"],
        plots=[png, curve],
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(m))
    assert saved["compare"]["base"]["delta"] == pytest.approx(0.85 - 0.7)
    assert saved["compare"]["base"]["ours_better"] is True
    rep = write_reproduce_report(
        tmp_path,
        [
            {"name": "x/y", "dir": tmp_path, "metrics": saved, "seconds": 1.0},
            {"name": "x/z", "dir": tmp_path, "error": "boom"},
        ],
    )
    text = rep.read_text()
    assert "`x/y`" in text and "+0.1500" in text and "failed: boom" in text and "bars.png" in text


def test_run_once_computes_once_and_reads_back_tensors(tmp_path):
    import torch

    from patrec.core.report import run_once

    calls = []

    def compute():
        calls.append(1)
        return {"seed": 3, "metrics": {"acc": 0.5}, "tensors": {"pred": torch.arange(4)}}

    first = run_once(tmp_path / "r", compute)
    again = run_once(tmp_path / "r", compute)
    assert len(calls) == 1
    assert again["metrics"] == {"acc": 0.5} and again["seed"] == 3
    assert torch.equal(again["tensors"]["pred"], first["tensors"]["pred"])
    assert (tmp_path / "r" / "result.safetensors").is_file()
    # a non-writing process computes but leaves no trace
    run_once(tmp_path / "s", compute, write=False)
    assert len(calls) == 2 and not (tmp_path / "s").exists()
