"""patrec.autonomous_perception: perception for robots, vehicles and inspection methods of patrec.

Perception for autonomous systems and visual inspection: radar-camera BEV fusion, point-cloud
classification and generation, camera calibration, visual loop closure, tracking, pose
estimation, action segmentation, video anomaly and highlight detection, road extraction, snow
removal, defect segmentation, and agricultural and solar-panel inspection.

Each method is a module named by its slug; see the package README for the list and status.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
