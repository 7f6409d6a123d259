"""patrec.medical_imaging: medical image analysis methods of patrec.

Segmentation, classification, registration and out-of-distribution detection on medical images:
histology and pathology, fundus, ultrasound, mammography, chest X-ray, hyperspectral and MRI
data; lightweight attention networks, boundary and spectral losses, Fourier-neural-operator
registration, ensembles and knowledge distillation.

Each method is a module named by its slug; see the package README for the list and status.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
