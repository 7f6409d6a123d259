"""The methods that patrec-medical-imaging registers in the ``patrec.methods`` group."""

from __future__ import annotations

from patrec.core.registry import Method

__all__ = ["methods"]


def methods() -> list[Method]:
    """Every method of patrec-medical-imaging, as :class:`~patrec.core.Method` records.

    Modules are imported here, when the registry asks, not when the package is imported.
    The inventory's other methods are planned (see the package README's method table).
    """
    from patrec.medical_imaging.lungssfnet import METHOD as lungssfnet
    from patrec.medical_imaging.point_boundary_loss import METHOD as point_boundary_loss
    from patrec.medical_imaging.sapm import METHOD as sapm
    from patrec.medical_imaging.scc_loss import METHOD as scc_loss

    return [lungssfnet, point_boundary_loss, sapm, scc_loss]
