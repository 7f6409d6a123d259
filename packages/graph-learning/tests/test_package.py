"""patrec-graph-learning: installs, registers its entry point, accounts for its inventory."""

from __future__ import annotations

import importlib
import re

from patrec.core.inventory import inventory_for
from patrec.core.registry import Method, list_packages

PACKAGE = "graph-learning"
MODULE = "patrec.graph_learning"


def test_package_imports() -> None:
    module = importlib.import_module(MODULE)
    assert module.__version__ == "0.1.0"


def test_entry_point_is_registered() -> None:
    infos = {p.name: p for p in list_packages()}
    assert PACKAGE in infos, f"entry point {PACKAGE!r} missing; found {sorted(infos)}"
    info = infos[PACKAGE]
    assert re.sub(r"[-_.]+", "-", info.distribution).lower() == f"patrec-{PACKAGE}"
    assert info.version == importlib.import_module(MODULE).__version__


def test_methods_returns_method_records() -> None:
    from patrec.graph_learning._methods import methods

    registered = methods()
    assert isinstance(registered, list)
    assert all(isinstance(m, Method) for m in registered)
    assert all(m.package == PACKAGE for m in registered)


def test_inventory_methods_are_registered_or_planned() -> None:
    from patrec.graph_learning._methods import methods

    inventory = {e.name: e for e in inventory_for(PACKAGE)}
    assert inventory, f"the inventory lists no method for {PACKAGE}"
    registered = {m.name: m for m in methods()}
    unknown = sorted(set(registered) - set(inventory))
    assert not unknown, f"registered methods missing from the inventory: {unknown}"
    for name, method in registered.items():
        assert method.status in ("done", "partial", "planned"), name
        assert method.paper == inventory[name].paper, name
    planned = set(inventory) - set(registered)
    assert len(planned) + len(registered) == len(inventory)
