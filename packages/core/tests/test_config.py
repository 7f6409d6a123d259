from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from patrec.core.config import (
    apply_overrides,
    config_from_dict,
    config_to_dict,
    describe_config,
    flat_keys,
    param,
)
from patrec.core.errors import ConfigError


@dataclass
class Optim:
    lr: float = param(0.1, "learning rate", source="Sec. 4")
    steps: int = param(10, "steps")
    nesterov: bool = param(False, "nesterov")


@dataclass
class Cfg:
    optim: Optim = field(default_factory=Optim)
    name: str = "digits"
    mode: Literal["a", "b"] = "a"
    widths: tuple[int, ...] = (16, 32)
    root: str | None = None


def test_overrides_parse_to_declared_types():
    cfg = apply_overrides(
        Cfg(),
        ["optim.lr=3e-4", "optim.steps=7", "optim.nesterov=true", "mode=b", "widths=8,16,32"],
    )
    assert cfg.optim.lr == pytest.approx(3e-4) and isinstance(cfg.optim.lr, float)
    assert cfg.optim.steps == 7 and cfg.optim.nesterov is True
    assert cfg.mode == "b" and cfg.widths == (8, 16, 32)
    assert apply_overrides(Cfg(), ["root=none"]).root is None
    assert apply_overrides(Cfg(), ["root=/x"]).root == "/x"


def test_overrides_do_not_mutate_the_input():
    base = Cfg()
    apply_overrides(base, ["optim.lr=1.0"])
    assert base.optim.lr == 0.1


@pytest.mark.parametrize(
    "item, fragment",
    [
        ("optim.lr=abc", "expected a float"),
        ("optim.steps=1.5", "expected an int"),
        ("optim.nesterov=maybe", "expected a bool"),
        ("mode=c", "expected one of"),
        ("optim.lrr=1", "unknown config key"),
        ("nokey", "expected key=value"),
    ],
)
def test_bad_overrides_raise_config_error(item, fragment):
    with pytest.raises(ConfigError, match=fragment):
        apply_overrides(Cfg(), [item])


def test_unknown_key_lists_accepted_keys():
    with pytest.raises(ConfigError) as e:
        apply_overrides(Cfg(), ["optim.momentum=0.9"])
    assert "optim.lr" in str(e.value)


def test_dict_overrides_are_type_checked():
    assert apply_overrides(Cfg(), {"optim.lr": 1}).optim.lr == 1.0
    with pytest.raises(ConfigError):
        apply_overrides(Cfg(), {"optim.steps": "x"})
    with pytest.raises(ConfigError):
        apply_overrides(Cfg(), {"optim.steps": True})


def test_roundtrip_and_description():
    cfg = apply_overrides(Cfg(), ["optim.lr=0.5", "widths=1,2"])
    d = config_to_dict(cfg)
    assert d["optim"]["lr"] == 0.5 and d["widths"] == [1, 2]
    again = config_from_dict(Cfg, d)
    assert again == cfg
    rows = {k: (v, doc, src) for k, v, doc, src in describe_config(cfg)}
    assert rows["optim.lr"] == (0.5, "learning rate", "Sec. 4")
    assert set(flat_keys(Cfg)) == {
        "optim.lr",
        "optim.steps",
        "optim.nesterov",
        "name",
        "mode",
        "widths",
        "root",
    }
