"""The methods patrec-core registers (entry point ``patrec.methods``: ``core``)."""

from __future__ import annotations

from patrec.core.registry import Method


def methods() -> list[Method]:
    """patrec-core's methods; recipes and configs are imported only when used."""
    from patrec.core.ncds import METHOD as ncds

    return [ncds]
