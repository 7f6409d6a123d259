"""The methods that patrec-scientific-ml registers in the ``patrec.methods`` group."""

from __future__ import annotations

from patrec.core.registry import Method

__all__ = ["methods"]


def methods() -> list[Method]:
    """Every method of patrec-scientific-ml, as :class:`~patrec.core.Method` records.

    Modules are imported here, when the registry asks, not when the package is imported.
    The inventory's other methods are planned (see the package README's method table).
    """
    from patrec.scientific_ml.cuboidization import METHOD as cuboidization
    from patrec.scientific_ml.exoplanet_cfm import METHOD as exoplanet_cfm
    from patrec.scientific_ml.omp_sr import METHOD as omp_sr
    from patrec.scientific_ml.peel_and_pool import METHOD as peel_and_pool
    from patrec.scientific_ml.pinn_pde_denoise import METHOD as pinn_pde_denoise
    from patrec.scientific_ml.river_trails import METHOD as river_trails
    from patrec.scientific_ml.tensor_pinn import METHOD as tensor_pinn
    from patrec.scientific_ml.welllog_augment import METHOD as welllog_augment

    return [
        omp_sr,
        tensor_pinn,
        pinn_pde_denoise,
        cuboidization,
        exoplanet_cfm,
        river_trails,
        welllog_augment,
        peel_and_pool,
    ]
