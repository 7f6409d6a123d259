"""patrec.graph_learning: graph learning methods of patrec.

Learning on graphs: network embedding by similarity learning, dynamic-graph anomaly detection
with contrastive learning, and spatial-temporal graph convolution on skeletons and facial
landmarks (gait, engagement, group emotion).

Each method is a module named by its slug; see the package README for the list and status.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
