"""The methods that patrec-autonomous-perception registers in the ``patrec.methods`` group."""

from __future__ import annotations

from patrec.core.registry import Method

__all__ = ["methods"]


def methods() -> list[Method]:
    """Every method of patrec-autonomous-perception, as :class:`~patrec.core.Method` records.

    None is implemented yet: all the inventory's methods of this package are planned (see the
    package README's method table). Each one is added here when its module lands.
    """
    return []
