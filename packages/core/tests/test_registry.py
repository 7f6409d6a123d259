from __future__ import annotations

import pytest

from patrec.core import get_method, list_methods, list_packages
from patrec.core.errors import ConfigError
from patrec.core.registry import Method


def test_core_registers_ncds_through_its_entry_point():
    pkgs = {p.name: p for p in list_packages()}
    assert "core" in pkgs and pkgs["core"].distribution == "patrec-core"
    names = [m.name for m in list_methods("core")]
    assert "core/ncds" in names


def test_get_method_by_name_and_slug():
    assert get_method("core/ncds").slug == "ncds"
    assert get_method("ncds").name == "core/ncds"


def test_unknown_method_suggests_close_names():
    with pytest.raises(ConfigError, match="did you mean core/ncds"):
        get_method("core/ncdss")


def test_unknown_package():
    with pytest.raises(ConfigError, match="no installed patrec package"):
        list_methods("nope")


def test_method_requires_paper_and_smoke_presets():
    with pytest.raises(ConfigError, match="presets"):
        Method(
            name="x/y",
            title="t",
            paper="0/0",
            citation="c",
            task="t",
            config=object,
            presets={"paper": dict},
            recipe=print,
        )
    with pytest.raises(ConfigError, match="<package>/<slug>"):
        Method(
            name="xy",
            title="t",
            paper="0/0",
            citation="c",
            task="t",
            config=object,
            presets={"paper": dict, "smoke": dict},
            recipe=print,
        )


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset"):
        get_method("core/ncds").make_config("huge")


def test_test_config_applies_test_overrides_then_the_callers() -> None:
    from patrec.core import get_method

    m = get_method("core/tsak")
    assert m.test_overrides, "tsak states its test overrides"
    cfg = m.test_config()
    assert cfg.train.epochs == 1 and cfg.seeds == (0,)  # from test_overrides
    assert m.test_config("seeds=0,1", "train.epochs=2").seeds == (0, 1)
    assert m.test_config("train.epochs=2").train.epochs == 2  # the caller's come last
