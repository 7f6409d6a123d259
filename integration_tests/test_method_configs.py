"""Every registered method's config: bad numbers are a ConfigError naming the field."""

from __future__ import annotations

import math
from typing import Any

import pytest

from patrec.core import ConfigError, list_methods
from patrec.core.config import apply_overrides, numeric_fields, validate_config

METHODS = list_methods()
BAD = [float("nan"), float("inf"), -1, 0, 1e12]


def _bad_values(default: Any) -> list[Any]:
    if isinstance(default, (tuple, list)):  # a tuple field: one bad element
        return [type(default)([v]) for v in BAD]
    if isinstance(default, int) and not isinstance(default, bool):
        return [v if isinstance(v, int) or not math.isfinite(v) else int(v) for v in BAD]
    return BAD


@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
def test_config_walk_bad_numbers_validate_or_config_error(method: Any) -> None:
    """Each numeric smoke field set in turn to nan, inf, -1, 0, 1e12: valid or ConfigError."""
    cfg = method.make_config("smoke")
    validate_config(cfg)  # the presets themselves are valid
    for key in numeric_fields(cfg):
        obj: Any = cfg
        for part in key.split("."):
            obj = getattr(obj, part)
        for value in _bad_values(obj):
            try:
                apply_overrides(cfg, {key: value})
            except ConfigError as e:
                assert key.split(".")[-1] in str(e), f"{method.name} {key}={value}: {e}"
            # anything else propagates and fails the test


def test_the_walk_catches_a_config_error_that_is_not_one() -> None:
    """A deliberately broken config: its own rule raises ValueError, and the walk fails."""
    from dataclasses import dataclass

    from patrec.core.config import param

    @dataclass
    class Broken:
        lr: float = param(0.1, "lr")

        def validate(self) -> None:
            if self.lr < 0:
                raise ValueError("negative")  # not a ConfigError: the walk must fail

    with pytest.raises(ValueError, match="negative"):
        apply_overrides(Broken(), {"lr": -1.0})


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("graph-learning/learn", "optim.lr", -5.0),
        ("graph-learning/learn", "optim.lr", float("nan")),
        ("core/double_descent_bias", "probe.seed", -1),
    ],
)
def test_reported_bad_values_are_rejected_before_the_recipe(
    name: str, key: str, value: Any
) -> None:
    from patrec.core import get_method

    with pytest.raises(ConfigError, match=key.split(".")[-1]):
        get_method(name).make_config("smoke", {key: value})


@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
def test_every_numeric_config_field_declares_its_range(method: Any) -> None:
    """Bounds live where a field is declared: ``param(..., ge=, gt=, le=, lt=, choices=)``.

    A field whose every value is meaningful says so with ``param(..., unbounded=True)``.
    """
    from patrec.core.config import declares_bounds

    cfg = method.make_config("smoke")
    missing = [k for k, f in numeric_fields(cfg).items() if not declares_bounds(f)]
    assert not missing, f"{method.name}: numeric fields without declared bounds: {missing}"
