"""The inventory shipped with patrec-core."""

from __future__ import annotations

import dataclasses
import re

import pytest

from patrec.core.errors import ConfigError
from patrec.core.inventory import InventoryEntry, inventory_for, load_inventory, packages

DOMAINS = [
    "medical-imaging",
    "document-biometrics",
    "video-coding",
    "scientific-ml",
    "generative-security",
    "autonomous-perception",
    "graph-learning",
]


def test_inventory_has_106_entries_in_8_packages() -> None:
    entries = load_inventory()
    assert len(entries) == 106
    assert packages() == ["core", *DOMAINS]
    assert sum(len(inventory_for(p)) for p in packages()) == 106


def test_names_are_unique_and_consistent() -> None:
    entries = load_inventory()
    names = [e.name for e in entries]
    assert len(set(names)) == len(names)
    papers = [e.paper for e in entries]
    assert len(set(papers)) == len(papers)
    for e in entries:
        assert e.name == f"{e.package}/{e.slug}"
        assert re.fullmatch(r"[a-z][a-z0-9_]*", e.slug), e.slug
        assert re.fullmatch(r"\d{3}/\d{2}", e.paper), e.paper
        assert e.line > 0 and e.title


def test_core_has_six_including_ncds() -> None:
    core = inventory_for("core")
    assert len(core) == 6
    assert "core/ncds" in {e.name for e in core}
    ncds = next(e for e in core if e.slug == "ncds")
    assert ncds.paper == "000/01"
    assert ncds.title == "A Novel Loss for Contrastive Deep Supervision"


def test_entries_are_frozen() -> None:
    entry = load_inventory()[0]
    assert isinstance(entry, InventoryEntry)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.slug = "other"  # type: ignore[misc]


def test_unknown_package_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="medical-imaging"):
        inventory_for("medical_imaging")
