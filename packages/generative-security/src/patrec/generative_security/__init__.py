"""patrec.generative_security: generative models and media security methods of patrec.

Generative models and what guards against them: GANs (mode collapse, continual few-shot,
morphological PDEs), VAEs, diffusion-based editing, sketch-to-image, person insertion, style,
clothing and makeup transfer, talking faces and 3D-aware faces; and deepfake detection,
coverless steganography and quality assessment of generated images.

Each method is a module named by its slug; see the package README for the list and status.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
