"""The experiment runner, the saved model, config bounds: the method kit in core."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from patrec.core.config import apply_overrides, param, validate_config
from patrec.core.errors import ConfigError, DataError, MetricsError
from patrec.core.experiment import run_experiment
from patrec.core.hub import PretrainedModel, load_model, save_model, verify_saved_model


class Tiny(nn.Module, PretrainedModel):
    def __init__(self, d: int = 3, k: int = 2) -> None:
        super().__init__()
        self.lin = nn.Linear(d, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


def _run_one(calls: list[tuple[str, int]]) -> Any:
    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        calls.append((variant, seed))
        torch.manual_seed(seed)
        base = 0.8 if variant == "ours" else 0.6
        return {
            "metrics": {
                "acc": base + 0.01 * seed,
                "params": 17,
                "dice": {"source": base, "dark": base - 0.1},
            },
            "history": [{"epoch": e, "loss": 1.0 / (e + 1 + seed)} for e in range(3)],
            "model": Tiny(),
            "example": torch.randn(4, 3),
        }

    return run_one


def test_runner_runs_once_summarises_plots_and_saves_the_model(tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []
    kw: dict[str, Any] = dict(
        method="core/tiny",
        variants=["base", "ours"],
        seeds=[0, 1],
        run_one=_run_one(calls),
        primary="acc",
        fixed=["params"],
        curves={"loss": "training loss"},
    )
    exp = run_experiment(tmp_path, **kw)
    m = exp.metrics
    assert calls == [("base", 0), ("ours", 0), ("base", 1), ("ours", 1)]
    assert m["ours"] == "ours" and m["baselines"] == ["base"]
    assert m["variants"]["ours"]["acc"]["mean"] == pytest.approx(0.805)
    assert m["variants"]["ours"]["acc"]["values"] == pytest.approx([0.8, 0.81])
    assert m["variants"]["ours"]["params"] == 17
    assert m["variants"]["base"]["dice"]["dark"]["mean"] == pytest.approx(0.5)
    assert m["compare"]["base"]["delta"] == pytest.approx(0.2)
    assert sorted(m["plots"]) == ["acc.png", "dice_by_group.png", "loss_curves.png"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == m
    # the model of `ours`, seed 0, is <out>/model and reloads with the same outputs
    assert verify_saved_model(tmp_path / "model") < 1e-6
    assert isinstance(load_model(tmp_path / "model"), Tiny)
    # a second call reads every run back
    again = run_experiment(tmp_path, **kw)
    assert len(calls) == 4 and again.metrics == m


def test_runner_rejects_bad_variants_and_results(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'x' is not among"):
        run_experiment(
            tmp_path,
            method="core/t",
            variants=["a"],
            seeds=[0],
            run_one=_run_one([]),
            primary="acc",
            ours="x",
        )

    def bad(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        return {"metrics": {"acc": [0.1, 0.2]}}

    with pytest.raises(MetricsError, match="core/t: metric 'acc'"):
        run_experiment(
            tmp_path / "b",
            method="core/t",
            variants=["a", "b"],
            seeds=[0],
            run_one=bad,
            primary="acc",
        )


def test_save_model_roundtrip_and_missing_folder(tmp_path: Path) -> None:
    m = Tiny(5, 4)
    save_model(m, tmp_path / "m", example=(torch.randn(2, 5),))
    back = load_model(tmp_path / "m")
    assert isinstance(back, Tiny) and back.lin.in_features == 5 and not back.training
    assert torch.equal(back.lin.weight, m.lin.weight)
    with pytest.raises(DataError, match="no saved"):
        Tiny.from_pretrained(tmp_path / "nothing")


@dataclass
class _Inner:
    lr: float = param(0.1, "lr", gt=0)
    ratio: float = param(0.5, "share", ge=0, le=1)
    mode: str = param("a", "mode", choices=("a", "b"))
    widths: tuple[int, ...] = param((4, 8), "widths", ge=1, min_len=1)
    bound: float = param(1.0, "may be infinite", allow_inf=True, unbounded=True)


@dataclass
class _Cfg:
    inner: _Inner = field(default_factory=_Inner)
    seeds: tuple[int, ...] = param((0,), "seeds")
    lo: int = param(1, "low", ge=0)
    hi: int = param(2, "high", ge=0)

    def validate(self) -> None:
        if self.lo >= self.hi:
            raise ConfigError(f"lo must be < hi, got {self.lo} >= {self.hi}")


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("inner.lr", -5.0, r"inner.lr must be > 0, got -5.0"),
        ("inner.lr", float("nan"), r"inner.lr must be a number, got nan"),
        ("inner.ratio", float("inf"), r"inner.ratio must be finite"),
        ("inner.ratio", 1.5, r"inner.ratio must be <= 1"),
        ("inner.mode", "c", r"inner.mode: expected one of a, b"),
        ("inner.widths", (), r"inner.widths must not be empty"),
        ("inner.widths", (4, 0), r"inner.widths must be >= 1, got 0"),
        ("seeds", (-1,), r"seeds must be >= 0"),
        ("lo", 5, r"lo must be < hi"),
    ],
)
def test_bounds_are_checked_where_declared(key: str, value: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        apply_overrides(_Cfg(), {key: value})


def test_valid_configs_pass() -> None:
    cfg = apply_overrides(_Cfg(), {"inner.bound": float("inf"), "inner.lr": 1e-4})
    assert validate_config(cfg) is cfg
