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
    from patrec.graph_learning.landmark_stgcn_engagement import METHOD as landmark_stgcn_engagement
    from patrec.graph_learning.learn import METHOD as learn
    from patrec.graph_learning.stgat_group_emotion import METHOD as stgat_group_emotion

    return [agcfn, condgad, learn, landmark_stgcn_engagement, stgat_group_emotion]
