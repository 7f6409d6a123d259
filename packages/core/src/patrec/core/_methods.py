"""The methods patrec-core registers (entry point ``patrec.methods``: ``core``)."""

from __future__ import annotations

from patrec.core.registry import Method


def methods() -> list[Method]:
    """patrec-core's methods; recipes and configs are imported only when used."""
    from patrec.core.double_descent_bias import METHOD as double_descent_bias
    from patrec.core.fedrewind import METHOD as fedrewind
    from patrec.core.gradcam_fer import METHOD as gradcam_fer
    from patrec.core.ncds import METHOD as ncds
    from patrec.core.shnet import METHOD as shnet
    from patrec.core.tsak import METHOD as tsak

    return [ncds, shnet, fedrewind, tsak, gradcam_fer, double_descent_bias]
