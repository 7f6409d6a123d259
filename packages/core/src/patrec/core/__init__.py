"""patrec.core: what every patrec domain package builds on.

Services: :mod:`~patrec.core.registry` (methods and their discovery),
:mod:`~patrec.core.config` (dataclass configs, presets, dotted overrides),
:mod:`~patrec.core.train` (Accelerate-based training loop, checkpoints, resume),
:mod:`~patrec.core.data` (embedded datasets, local-path loaders),
:mod:`~patrec.core.metrics`, :mod:`~patrec.core.nn` (shared blocks),
:mod:`~patrec.core.segmentation` (U-Net family, segmentation losses, metrics, mask plots),
:mod:`~patrec.core.explain` (Grad-CAM and friends), :mod:`~patrec.core.bench` (timing),
:mod:`~patrec.core.report` (metrics.json, plots, reports) and :mod:`~patrec.core.cli`.

Methods of this package (generic tools any domain can use): :mod:`patrec.core.ncds`,
:mod:`patrec.core.shnet`, :mod:`patrec.core.fedrewind`, :mod:`patrec.core.double_descent_bias`,
:mod:`patrec.core.tsak`, :mod:`patrec.core.gradcam_fer`.
"""

from __future__ import annotations

from patrec.core.errors import ConfigError, DataError, InputError, PatrecError
from patrec.core.registry import Method, get_method, list_methods, list_packages

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "InputError",
    "Method",
    "PatrecError",
    "__version__",
    "get_method",
    "list_methods",
    "list_packages",
]
