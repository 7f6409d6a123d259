"""patrec.scientific_ml: scientific machine learning methods of patrec.

Methods for science and engineering data: physics-informed neural networks with tensor
decompositions, PDE-based image denoising, sparse recovery (orthogonal matching pursuit),
well-log augmentation, river detection in multispectral images, exoplanet transits with
conditional flow matching, and combinatorial geometry (cuboidization, mandala patterns).

Each method is a module named by its slug; see the package README for the list and status.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
