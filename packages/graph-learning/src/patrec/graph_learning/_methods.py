"""The methods that patrec-graph-learning registers in the ``patrec.methods`` group."""

from __future__ import annotations

from patrec.core.registry import Method

__all__ = ["methods"]


def methods() -> list[Method]:
    """Every method of patrec-graph-learning, as :class:`~patrec.core.Method` records.

    Modules are imported here, when the registry asks, not when the package is imported.
    The inventory's other methods are planned (see the package README's method table).
    """
    from patrec.graph_learning.agcfn import METHOD as agcfn
    from patrec.graph_learning.condgad import METHOD as condgad
    from patrec.graph_learning.learn import METHOD as learn

    return [agcfn, condgad, learn]
