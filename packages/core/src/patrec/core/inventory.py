"""The inventory: every paper patrec implements or plans, with its package and name.

The table ships with patrec-core as ``inventory.json`` (generated from ``INVENTORY.md`` by
``scripts/update_inventory.py``), so installed code knows every method, registered or not:
the method tables of the READMEs, and each package's test that its inventory methods are
either registered or planned.

Example::

    >>> from patrec.core.inventory import inventory_for
    >>> [e.name for e in inventory_for("core")][:1]
    ['core/ncds']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from patrec.core.errors import ConfigError

__all__ = ["InventoryEntry", "inventory_for", "load_inventory", "packages"]


@dataclass(frozen=True)
class InventoryEntry:
    """One paper of the inventory.

    Attributes:
        name: ``"<package>/<slug>"``, e.g. ``"core/ncds"``.
        package: the patrec package that holds it, e.g. ``"core"``, ``"medical-imaging"``.
        slug: the method's module name inside its package, e.g. ``"ncds"``.
        paper: ``"seed/number"``, e.g. ``"000/01"``.
        line: the line where the paper starts in its seed file.
        title: the paper's title.
    """

    name: str
    package: str
    slug: str
    paper: str
    line: int
    title: str


@lru_cache(maxsize=1)
def _load() -> tuple[InventoryEntry, ...]:
    raw = files("patrec.core").joinpath("inventory.json").read_text(encoding="utf-8")
    return tuple(InventoryEntry(**row) for row in json.loads(raw))


def load_inventory() -> list[InventoryEntry]:
    """Every inventory entry, in the order of ``INVENTORY.md`` (grouped by package)."""
    return list(_load())


def packages() -> list[str]:
    """The package names of the inventory, in order of first appearance (core first)."""
    return list(dict.fromkeys(e.package for e in _load()))


def inventory_for(package: str) -> list[InventoryEntry]:
    """The inventory entries of ``package`` (e.g. ``"medical-imaging"``).

    Raises:
        ConfigError: ``package`` is not a package of the inventory.
    """
    known = packages()
    if package not in known:
        raise ConfigError(
            f"unknown patrec package {package!r}; the inventory has: {', '.join(known)}"
        )
    return [e for e in _load() if e.package == package]
