"""patrec.video_coding: image and video restoration and coding methods of patrec.

Low-level vision and coding: fractional-pixel interpolation for video coding, neural video
representations, low-light, underwater and HDR enhancement, deraining, deblurring, denoising,
single-image and space-time super-resolution, and light-field reconstruction.

Each method is a module named by its slug; see the package README for the list and status.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
