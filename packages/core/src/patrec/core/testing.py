"""Checks every patrec package runs on itself in its own test suite.

A package's ``tests/test_package.py`` runs them all::

    import pytest
    from patrec.core.testing import PACKAGE_CHECKS, run_package_check

    @pytest.mark.parametrize("check", PACKAGE_CHECKS)
    def test_package(check: str) -> None:
        run_package_check(check, "graph-learning", "patrec.graph_learning")

They assert that the package imports, registers its entry point in ``patrec.methods``
under its own name, returns :class:`~patrec.core.registry.Method` records of its own
package, and that every method of the inventory for it is registered or planned.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

from patrec.core.inventory import inventory_for
from patrec.core.registry import Method, list_packages

__all__ = ["PACKAGE_CHECKS", "run_package_check"]


def _imports(package: str, module: str) -> None:
    mod = importlib.import_module(module)
    assert isinstance(getattr(mod, "__version__", None), str), f"{module} has no __version__"


def _entry_point(package: str, module: str) -> None:
    infos = {p.name: p for p in list_packages()}
    assert package in infos, f"entry point {package!r} missing; found {sorted(infos)}"
    info = infos[package]
    assert re.sub(r"[-_.]+", "-", info.distribution).lower() == f"patrec-{package}"
    assert info.version == importlib.import_module(module).__version__


def _registered(package: str, module: str) -> list[Method]:
    methods = importlib.import_module(f"{module}._methods").methods()
    assert isinstance(methods, list), f"{module}._methods.methods() must return a list"
    return methods


def _methods(package: str, module: str) -> None:
    for m in _registered(package, module):
        assert isinstance(m, Method), f"{m!r} is not a Method"
        assert m.package == package, f"{m.name} registered by {package}"


def _inventory(package: str, module: str) -> None:
    inventory = {e.name: e for e in inventory_for(package)}
    assert inventory, f"the inventory lists no method for {package}"
    registered = {m.name: m for m in _registered(package, module)}
    unknown = sorted(set(registered) - set(inventory))
    assert not unknown, f"registered methods missing from the inventory: {unknown}"
    for name, method in registered.items():
        assert method.status in ("done", "partial", "planned"), name
        assert method.paper == inventory[name].paper, f"{name}: paper id differs"


_CHECKS: dict[str, Callable[[str, str], None]] = {
    "imports": _imports,
    "entry_point": _entry_point,
    "methods": _methods,
    "inventory": _inventory,
}
PACKAGE_CHECKS = tuple(_CHECKS)


def run_package_check(check: str, package: str, module: str) -> None:
    """Run one of :data:`PACKAGE_CHECKS` on ``package`` (e.g. ``"core"``, ``"patrec.core"``)."""
    _CHECKS[check](package, module)
