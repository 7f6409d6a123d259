"""PEEL-AND-POOL: "Peel and Pool: The Path to Mandala Perfection" (T. Sarkar, M. Sar,
P. Bhowmick; inventory 001/24).

A geometric algorithm: it trains no model. A binary image of a "Class I" mandala (motifs are
connected components arranged in psi-fold rotational symmetry around one central motif)
goes in; its hull layers, pseudo-regular layers, order of symmetry ``psi_M`` and a rectified
(structurally symmetric) image come out.

**The paper's parts.**

- Motifs (Sec. 2): connected components of the binary image (``scipy.ndimage.label``,
  8-connectivity); the central motif is the component whose centroid is nearest the mean of
  all centroids (Fact 1); ``S`` = the other centroids.
- Motif features (Sec. 3.1): alpha = area (pixels), beta = compactness perimeter^2 / area
  (perimeter: length of the 0.5 iso-contour of the mask smoothed by a 1 px Gaussian, a
  rotation-stable estimate; choice), gamma = solidity (area
  / convex-hull area), phi = interior angle of the hull layer at the motif's centroid.
- Peel (Sec. 2.2, Def. 1; Alg. 1 line 1): onion peeling, repeated
  ``scipy.spatial.ConvexHull`` of the remaining centroids, vertices in angular order.
- Pool (Alg. 1 line 4): a partition of each hull layer's vertices into groups with
  ``(max f - min f) / (max f + min f) <= eps`` for f in {alpha, beta, gamma, phi}.
- Pseudo-regular layers (Alg. 1 line 6): each group split into parts whose polygon (in
  angular order) has normalised edge-length std (std / mean) ``<= eps``, twin motifs (mirror
  images) in different parts.
- ``g_i = gcd{|V|}`` per hull layer (line 10, Theorem 2), ``psi_M = gcd_i g_i`` (line 11,
  Theorem 4).
- Rectification (Sec. 3.2, lines 7-9): every centroid of a pseudo-regular layer is put at the
  layer's mean polar radius r-bar; the centroid ``u`` whose radius is closest to r-bar is
  aligned with its nearest symmetry axis and the others follow at 360 deg / |V|; each motif's
  pixels are moved (translated and rotated about the mandala's centre) to the new centroid.
- Circular layers (Sec. 3): centroids whose polar radii differ pairwise by a relative
  difference ``<= eps`` share one circular layer; counted before and after rectification.
- sigma_min / sigma_max / sigma_avg (Sec. 4, Table 1): normalised edge-length std over the
  pseudo-regular layers; the time split T_prim, T_hull, T_regu, T_rect of Table 1.

**Choices where the paper is silent (each marked where made).**

- "Minimum partition" (lines 4 and 6) is combinatorial; ours is greedy. Line 4: vertices
  sorted by area, each unassigned one opens a group that takes, in that order, every
  unassigned vertex that keeps all four spreads within eps. Line 6: the group in angular
  order is split into ``t`` interleaved parts (every t-th vertex), ``t`` the smallest
  divisor of the group size for which every part is pseudo-regular and holds no twin pair.
- Twins: the paper compares a motif with the other's reflection. Ours compares an odd
  moment: in a frame whose y axis points away from the centre (the motif's radial axis), the
  tangential-radial correlation ``c = E[x y] / sqrt(E[x^2] E[y^2])`` flips sign under the
  reflection; a motif is asymmetric when ``|c| > chiral_min`` and two asymmetric motifs are
  twins when ``|c1 + c2| <= eps (|c1| + |c2|)``.
- Symmetry axes for the alignment: angles ``theta0 + k pi / psi_M`` with ``theta0`` the
  ``2 psi_M``-fold circular mean of the centroids of the achiral pseudo-regular layers (a
  centroid of an achiral motif in a perfect mandala lies on an axis). A part of asymmetric
  (twin) motifs lies off the axes by construction, so it keeps its own least-squares phase
  instead of being snapped (snapping would put both twins of a pair on one axis).
- Layers of one or two points count as pseudo-regular (their edge spread is 0); a hull layer
  of fewer than three points has phi = 180 deg.

**Data.** :func:`draw_mandala` renders a mandala with known truth: several rings of psi-fold
motifs (discs, squares, triangles, petals, tilted "twin" ellipses in mirrored pairs; rings of
one motif, of two motif types interleaved, of twins, or staggered at two radii), then
perturbs every motif's polar radius by ``noise`` of the radius and its angle by ``noise`` of
the angular spacing (uniform). :func:`load_mandala_images` reads the user's own images (a
file or a folder) and binarises them (Otsu, ink = the minority class).

**The recipe** runs on random mandalas (each seed draws ``mandalas`` of them at every noise
level): the paper's pipeline (``peel_and_pool``), two ablations (``peel_no_pool``: the hull
layers alone, psi from their sizes (Theorem 3) and only pseudo-regular hull layers
rectified; ``peel_no_twins``: line 6 without the twin rule), and a naive stand-in baseline
(``angular_fft``: psi = the strongest angular harmonic of the polar-resampled image; no
layers, no rectification). The paper has no baseline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from patrec.core.checks import check_int, check_scalar, check_tensor
from patrec.core.config import param, validate_config
from patrec.core.errors import ConfigError, DataError, InputError
from patrec.core.registry import Method
from patrec.core.report import pyplot, save_figure

__all__ = [
    "METHOD",
    "Analysis",
    "Motifs",
    "PeelAndPoolConfig",
    "analyze",
    "angular_fft_symmetry",
    "circular_layers",
    "draw_mandala",
    "edge_spread",
    "extract_motifs",
    "group_by_features",
    "hull_interior_angles",
    "load_mandala_images",
    "onion_peel",
    "paper_config",
    "pseudo_regular_parts",
    "random_mandala",
    "recipe",
    "rectify",
    "relative_spread",
    "smoke_config",
    "symmetry_order",
]

VARIANTS = ("angular_fft", "peel_no_pool", "peel_no_twins", "peel_and_pool")
RING_KINDS = ("single", "double", "twin", "staggered")
SHAPES = ("disc", "square", "triangle", "petal", "chiral")


# ---------------------------------------------------------------------------------------
# drawing mandalas with known truth
# ---------------------------------------------------------------------------------------
def _shape_polygon(shape: str, h: float, sign: int = 1) -> np.ndarray:
    """Outline of a motif in its local frame (column 0 tangential, column 1 radial)."""
    if shape == "disc":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        return 0.8 * h * np.stack([np.cos(t), np.sin(t)], 1)
    if shape == "square":  # a diamond: corners on the radial and tangential axes
        return h * np.array([[0.0, 1.0], [0.8, 0.0], [0.0, -1.0], [-0.8, 0.0]])
    if shape == "triangle":  # pointing away from the centre
        return h * np.array([[0.0, 1.0], [0.85, -0.7], [-0.85, -0.7]])
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    if shape == "petal":
        return h * np.stack([0.45 * np.cos(t), np.sin(t)], 1)
    # chiral: an ellipse tilted by 35 deg from the radial axis (sign = handedness)
    e = h * np.stack([0.35 * np.cos(t), np.sin(t)], 1)
    a = sign * math.radians(35.0)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    out: np.ndarray = e @ rot.T
    return out


@dataclass
class MotifSpec:
    """One motif to draw: polar position (pixels, radians), shape, half-size, handedness."""

    r: float
    theta: float
    shape: str
    h: float
    sign: int = 1


def draw_mandala(
    motifs: Sequence[MotifSpec], size: int, *, center_radius: float = 0.0
) -> np.ndarray:
    """Render motifs (and a central disc of ``center_radius`` px) into a boolean image.

    Row/column convention: the centre is ``((size-1)/2, (size-1)/2)``; ``theta`` is measured
    counter-clockwise from the +x (column) axis with y pointing up (row decreasing).
    """
    from skimage.draw import disk, polygon

    size = check_int(size, "size", ge=16)
    check_scalar(center_radius, "center_radius", ge=0)
    img = np.zeros((size, size), dtype=bool)
    c = (size - 1) / 2.0
    if center_radius > 0:
        rr, cc = disk((c, c), center_radius, shape=img.shape)
        img[rr, cc] = True
    for m in motifs:
        if m.shape not in SHAPES:
            raise InputError(f"motif shape must be one of {SHAPES}, got {m.shape!r}")
        loc = _shape_polygon(m.shape, m.h, m.sign)
        er = np.array([math.cos(m.theta), math.sin(m.theta)])  # radial (x right, y up)
        et = np.array([math.sin(m.theta), -math.cos(m.theta)])  # tangential (clockwise)
        xy = m.r * er + loc[:, :1] * et + loc[:, 1:] * er
        rr, cc = polygon(c - xy[:, 1], c + xy[:, 0], shape=img.shape)
        img[rr, cc] = True
    return img


def random_mandala(
    seed: int,
    *,
    size: int = 600,
    psis: Sequence[int] = (4, 6, 8),
    rings: tuple[int, int] = (3, 5),
    noise: float = 0.02,
    min_half: float = 9.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """A random mandala image and its truth (``psi``, rings, motif count).

    Rings run inwards from 0.9 R (R = 0.47 size), each 0.72-0.8 of the previous radius; each
    ring is ``single`` (psi copies of one motif), ``double`` (two motif types interleaved at
    half a step), ``twin`` (psi mirrored pairs of chiral ellipses at +-delta around the
    sector axis) or ``staggered`` (psi copies at r and psi at 0.9 r, half a step apart).
    Rings whose motifs would be smaller than ``min_half`` px (half-size) are not drawn.
    ``noise`` perturbs each motif's polar radius by ``U(-noise, noise) r`` and its angle by
    ``U(-noise, noise)`` of the ring's angular spacing.
    """
    check_scalar(noise, "noise", ge=0, lt=0.2)
    rng = np.random.default_rng(seed)
    psi = int(rng.choice(list(psis)))
    n_rings = int(rng.integers(rings[0], rings[1] + 1))
    big = 0.47 * size
    r = 0.9 * big
    phase = float(rng.uniform(0, 2 * np.pi))
    specs: list[MotifSpec] = []
    ring_info = []
    symmetric = ("disc", "square", "triangle", "petal")
    for _ in range(n_rings):
        kind = str(rng.choice(RING_KINDS))
        ratio = float(rng.uniform(0.72, 0.8))
        step = 2 * np.pi / psi
        count = psi if kind == "single" else 2 * psi
        spacing = 2 * np.pi / count
        h = min(0.4 * (1 - ratio) * r, 0.32 * r * spacing)
        if kind == "staggered":
            h = min(h, 0.45 * 0.1 * r / 0.9)
        if h < min_half and specs:  # motifs too small to measure: stop (choice)
            break
        placed: list[tuple[float, float, str, float, int]] = []
        if kind == "single":
            s = str(rng.choice(symmetric))
            placed = [(r, phase + k * step, s, h, 1) for k in range(psi)]
        elif kind == "double":
            a, b = rng.choice(symmetric, size=2, replace=False)
            placed = [(r, phase + k * step, str(a), h, 1) for k in range(psi)]
            placed += [(r, phase + (k + 0.5) * step, str(b), 0.8 * h, 1) for k in range(psi)]
        elif kind == "twin":
            d = float(rng.uniform(0.3, 0.5)) * step / 2
            placed = [(r, phase + k * step - d, "chiral", h, 1) for k in range(psi)]
            placed += [(r, phase + k * step + d, "chiral", h, -1) for k in range(psi)]
        else:
            s = str(rng.choice(symmetric))
            placed = [(r, phase + k * step, s, h, 1) for k in range(psi)]
            placed += [(0.9 * r, phase + (k + 0.5) * step, s, h, 1) for k in range(psi)]
        for pr, pt, s, ph, sg in placed:
            pr2 = pr * (1 + noise * rng.uniform(-1, 1))
            pt2 = pt + noise * spacing * rng.uniform(-1, 1)
            specs.append(MotifSpec(pr2, pt2, s, ph, sg))
        ring_info.append({"kind": kind, "radius": r, "count": len(placed)})
        r *= ratio
        if r < 0.22 * big:
            break
    img = draw_mandala(specs, size, center_radius=0.12 * big)
    truth = {"psi": psi, "rings": ring_info, "motifs": len(specs), "noise": noise}
    return img, truth


# ---------------------------------------------------------------------------------------
# motifs and their features (Sec. 2, Sec. 3.1 features alpha, beta, gamma)
# ---------------------------------------------------------------------------------------
@dataclass
class Motifs:
    """The motifs of a binary image (the central one excluded from the arrays).

    Attributes:
        labels: the component label image (0 = background).
        ids: label of each motif (``n``), ``center_id`` the central motif's label.
        centroids: ``(n, 2)`` in (x, y) with y up, relative to the image; ``center`` (x, y).
        area, compactness, solidity: features alpha, beta, gamma (``n``).
        chirality: the tangential-radial correlation c of each motif (twin test).
    """

    labels: np.ndarray
    ids: np.ndarray
    center_id: int
    center: np.ndarray
    centroids: np.ndarray
    area: np.ndarray
    compactness: np.ndarray
    solidity: np.ndarray
    chirality: np.ndarray

    @property
    def polar(self) -> tuple[np.ndarray, np.ndarray]:
        d = self.centroids - self.center
        return np.hypot(d[:, 0], d[:, 1]), np.arctan2(d[:, 1], d[:, 0])


def _perimeter(mask: np.ndarray) -> float:
    """Length of the 0.5 iso-contour of the mask smoothed by a Gaussian of 1 px (choice: the
    pixel-count perimeters of regionprops vary by ~6 % with a square's rotation, this by
    ~1 %, below eps)."""
    from scipy import ndimage
    from skimage.measure import find_contours

    sm = ndimage.gaussian_filter(np.pad(mask.astype(float), 3), 1.0)
    length = sum(float(np.linalg.norm(np.diff(c, axis=0), axis=1).sum())
                 for c in find_contours(sm, 0.5))  # fmt: skip
    return max(length, 1.0)


def extract_motifs(image: np.ndarray) -> Motifs:
    """Connected components (8-connectivity), their centroids and features (Sec. 3.1).

    ``image``: a 2-D boolean array (True = ink). Needs at least two components.
    """
    from scipy import ndimage
    from skimage.measure import regionprops

    check_tensor(image, "H W", name="image", dtype="bool", array=True, nonempty=True)
    labels, n = ndimage.label(image, structure=np.ones((3, 3), dtype=int))
    if n < 2:
        raise InputError(f"image must hold a central motif and at least one other, got {n}")
    props = regionprops(labels)
    ids = np.array([p.label for p in props])
    rc = np.array([p.centroid for p in props])  # (row, col)
    xy = np.stack([rc[:, 1], -rc[:, 0]], 1)  # x right, y up
    ci = int(np.argmin(np.linalg.norm(xy - xy.mean(0), axis=1)))  # Fact 1: the central motif
    center = xy[ci]
    keep = np.array([i for i in range(len(props)) if i != ci])
    area = np.array([float(props[i].area) for i in keep])
    perim = np.array([_perimeter(props[i].image) for i in keep])
    solidity = np.array([float(props[i].solidity) for i in keep])
    chir = np.zeros(len(keep))
    for j, i in enumerate(keep):  # choice: odd moment in the motif's radial frame (twins)
        pts = props[i].coords
        p = np.stack([pts[:, 1], -pts[:, 0]], 1).astype(float) - xy[i]
        d = xy[i] - center
        nd = float(np.hypot(*d))
        er = d / nd if nd > 0 else np.array([0.0, 1.0])
        et = np.array([er[1], -er[0]])
        x, y = p @ et, p @ er
        den = math.sqrt(float((x * x).mean() * (y * y).mean()))
        chir[j] = float((x * y).mean()) / den if den > 0 else 0.0
    return Motifs(
        labels=labels,
        ids=ids[keep],
        center_id=int(ids[ci]),
        center=center,
        centroids=xy[keep],
        area=area,
        compactness=perim**2 / area,  # beta = perimeter^2 / area (Sec. 3.1, [8])
        solidity=solidity,
        chirality=chir,
    )


# ---------------------------------------------------------------------------------------
# peel (Alg. 1 line 1) and the hull features phi
# ---------------------------------------------------------------------------------------
def onion_peel(points: np.ndarray) -> list[np.ndarray]:
    """Hull layers by onion peeling (Def. 1): index arrays, outermost first, each in
    counter-clockwise hull order. Fewer than three points, or collinear ones, end the peel
    as one last layer (in angular order about their mean)."""
    from scipy.spatial import ConvexHull, QhullError

    check_tensor(points, "N 2", name="points", dtype="float", array=True, finite=True)
    rest = np.arange(len(points))
    layers: list[np.ndarray] = []
    while len(rest):
        if len(rest) >= 3:
            try:
                hull = ConvexHull(points[rest])
                layers.append(rest[hull.vertices])
                rest = np.delete(rest, hull.vertices)
                continue
            except QhullError:
                pass
        d = points[rest] - points[rest].mean(0)
        layers.append(rest[np.argsort(np.arctan2(d[:, 1], d[:, 0]))])
        break
    return layers


def hull_interior_angles(polygon: np.ndarray) -> np.ndarray:
    """Feature phi (Sec. 3.1): interior angle (radians) at each vertex of a polygon given in
    order; a polygon of fewer than three vertices gets pi (choice)."""
    check_tensor(polygon, "N 2", name="polygon", dtype="float", array=True, finite=True)
    n = len(polygon)
    if n < 3:
        return np.full(n, np.pi)
    a = np.roll(polygon, 1, 0) - polygon
    b = np.roll(polygon, -1, 0) - polygon
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    out: np.ndarray = np.arccos(np.clip(cos, -1.0, 1.0))
    return out


# ---------------------------------------------------------------------------------------
# pool (Alg. 1 lines 4, 6, 10, 11)
# ---------------------------------------------------------------------------------------
def relative_spread(values: np.ndarray) -> float:
    """``(max - min) / (max + min)`` (Alg. 1 line 4) of positive values."""
    check_tensor(values, "N", name="values", dtype="number", array=True, nonempty=True)
    v = np.asarray(values, dtype=float)
    lo, hi = float(v.min()), float(v.max())
    if lo < 0:
        raise InputError(f"values must be >= 0, got min {lo:.4g}")
    return 0.0 if hi + lo == 0 else (hi - lo) / (hi + lo)


def group_by_features(features: np.ndarray, eps: float) -> list[np.ndarray]:
    """Alg. 1 line 4: groups of rows with ``relative_spread <= eps`` in every column.

    Greedy (choice; the paper asks for a minimum partition): rows sorted by the first
    column, each unassigned row opens a group that takes, in that order, every unassigned
    row keeping all spreads within ``eps``.
    """
    check_tensor(features, "N F", name="features", dtype="float", array=True, finite=True)
    check_scalar(eps, "eps", ge=0, lt=1)
    order = np.argsort(features[:, 0], kind="stable")
    free = list(order)
    groups: list[np.ndarray] = []
    ratio = (1 + eps) / (1 - eps)  # spread <= eps  <=>  max <= ratio * min (positive f)
    while free:
        g = [free.pop(0)]
        lo = features[g[0]].copy()
        hi = features[g[0]].copy()
        keep = []
        for i in free:
            nlo, nhi = np.minimum(lo, features[i]), np.maximum(hi, features[i])
            if np.all(nhi <= ratio * nlo + 1e-12):
                g.append(i)
                lo, hi = nlo, nhi
            else:
                keep.append(i)
        free = keep
        groups.append(np.array(sorted(g)))
    return groups


def edge_spread(points: np.ndarray, center: np.ndarray | None = None) -> float:
    """Normalised std (std / mean) of the edge lengths of the polygon through ``points`` in
    angular order about ``center`` (default: their mean); 0 for fewer than three points
    (Sec. 3.1; Table 1's sigma)."""
    check_tensor(points, "N 2", name="points", dtype="float", array=True, finite=True)
    if len(points) < 3:
        return 0.0
    c = points.mean(0) if center is None else np.asarray(center, dtype=float)
    d = points - c
    p = points[np.argsort(np.arctan2(d[:, 1], d[:, 0]))]
    e = np.linalg.norm(np.roll(p, -1, 0) - p, axis=1)
    return float(e.std() / e.mean())


def _divisors(n: int) -> list[int]:
    return [t for t in range(1, n + 1) if n % t == 0]


def _are_twins(c1: float, c2: float, eps: float, chiral_min: float) -> bool:
    return (
        abs(c1) > chiral_min and abs(c2) > chiral_min and abs(c1 + c2) <= eps * (abs(c1) + abs(c2))
    )


def pseudo_regular_parts(
    points: np.ndarray,
    center: np.ndarray,
    eps: float,
    *,
    chirality: np.ndarray | None = None,
    chiral_min: float = 0.1,
) -> list[np.ndarray]:
    """Alg. 1 line 6: split one feature group into pseudo-regular parts (index arrays).

    Points in angular order about ``center`` are split into ``t`` interleaved parts (every
    t-th point), ``t`` the smallest divisor of their number for which every part has edge
    spread ``<= eps`` and (with ``chirality``) no two twins share a part (choice).
    """
    check_tensor(points, "N 2", name="points", dtype="float", array=True, finite=True)
    check_scalar(eps, "eps", ge=0, lt=1)
    d = points - center
    order = np.argsort(np.arctan2(d[:, 1], d[:, 0]))
    n = len(points)
    for t in _divisors(n):
        parts = [order[k::t] for k in range(t)]
        if any(edge_spread(points[p], center) > eps for p in parts):
            continue
        if chirality is not None and any(
            _are_twins(chirality[a], chirality[b], eps, chiral_min)
            for p in parts
            for i, a in enumerate(p)
            for b in p[i + 1 :]
        ):
            continue
        return parts
    return [order[k : k + 1] for k in range(n)]  # pragma: no cover - t = n always passes


def symmetry_order(part_sizes: Sequence[Sequence[int]]) -> int:
    """``g_i = gcd{|V|}`` per hull layer (Alg. 1 line 10), ``psi_M = gcd_i g_i`` (line 11)."""
    g_all = 0
    for sizes in part_sizes:
        g = 0
        for s in sizes:
            g = math.gcd(g, check_int(s, "part size", ge=1))
        g_all = math.gcd(g_all, g)
    if g_all == 0:
        raise InputError("part_sizes must hold at least one layer with one part")
    return g_all


def circular_layers(radii: np.ndarray, eps: float) -> int:
    """Number of circular layers (Sec. 3): radii sorted, a new layer whenever the relative
    difference to the layer's first radius exceeds ``eps``."""
    check_tensor(radii, "N", name="radii", dtype="float", array=True, nonempty=True)
    r = np.sort(np.asarray(radii, dtype=float))
    count, first = 1, r[0]
    for v in r[1:]:
        if (v - first) / (v + first) > eps:
            count, first = count + 1, v
    return count


# ---------------------------------------------------------------------------------------
# the whole analysis (Alg. 1) and the rectification (Sec. 3.2)
# ---------------------------------------------------------------------------------------
@dataclass
class Analysis:
    """What Alg. 1 found on one image."""

    motifs: Motifs
    hull_layers: list[np.ndarray]
    parts: list[list[np.ndarray]]  # per hull layer: its pseudo-regular parts (motif indices)
    psi: int
    sigmas: list[float]  # edge spread of each pseudo-regular part of >= 3 points
    times: dict[str, float] = field(default_factory=dict)

    @property
    def regular_layers(self) -> list[np.ndarray]:
        return [p for layer in self.parts for p in layer]


def analyze(
    image: np.ndarray,
    *,
    eps: float = 0.05,
    chiral_min: float = 0.1,
    pool: bool = True,
    twins: bool = True,
) -> Analysis:
    """Alg. 1 on a binary image: motifs, hull layers, pseudo-regular layers, psi_M.

    ``pool=False`` (ablation): each hull layer is one part (psi from the hull layer sizes,
    Theorem 3). ``twins=False`` (ablation): line 6 without the twin rule.
    """
    check_scalar(eps, "eps", gt=0, lt=1)
    t0 = time.perf_counter()
    m = extract_motifs(image)
    t1 = time.perf_counter()
    layers = onion_peel(m.centroids)
    t2 = time.perf_counter()
    parts: list[list[np.ndarray]] = []
    for layer in layers:
        if not pool:
            parts.append([layer])
            continue
        phi = hull_interior_angles(m.centroids[layer])
        feats = np.stack([m.area[layer], m.compactness[layer], m.solidity[layer], phi], 1)
        layer_parts = []
        for g in group_by_features(feats, eps):
            idx = layer[g]
            sub = pseudo_regular_parts(
                m.centroids[idx],
                m.center,
                eps,
                chirality=m.chirality[idx] if twins else None,
                chiral_min=chiral_min,
            )
            layer_parts += [idx[p] for p in sub]
        parts.append(layer_parts)
    psi = symmetry_order([[len(p) for p in layer] for layer in parts])
    t3 = time.perf_counter()
    sigmas = [
        edge_spread(m.centroids[p], m.center)
        for layer in parts
        for p in layer
        if len(p) >= 3 and edge_spread(m.centroids[p], m.center) <= eps
    ]
    # Table 1's split: T_hull = hull layers + psi, T_regu = pooling; ours times the peel as
    # T_hull and the grouping + gcd as T_regu
    times = {"t_prim": t1 - t0, "t_hull": t2 - t1, "t_regu": t3 - t2}
    return Analysis(m, layers, parts, psi, sigmas, times)


def rectify(an: Analysis, *, eps: float = 0.05, chiral_min: float = 0.1) -> np.ndarray:
    """Sec. 3.2 (Alg. 1 lines 7-9): a rectified boolean image.

    Each pseudo-regular part (a polygon: >= 3 points, edge spread <= eps) goes onto its mean polar
    radius r-bar at spacing 360 deg / |V|; the centroid closest to r-bar is aligned with its
    nearest symmetry axis (achiral parts) or the part keeps its least-squares phase
    (asymmetric / twin parts; choice). Motif pixels are moved by inverse mapping: rotation
    about the centre by the centroid's angle change, then the radial shift.
    """
    m = an.motifs
    r, th = m.polar
    psi = max(an.psi, 1)
    new_r, new_th = r.copy(), th.copy()
    good = [p for p in an.regular_layers if len(p) >= 3 and edge_spread(m.centroids[p]) <= eps]
    achiral = [p for p in good if np.mean(np.abs(m.chirality[p])) <= chiral_min]
    ang = np.concatenate([th[p] for p in achiral]) if achiral else th
    theta0 = float(np.angle(np.exp(1j * 2 * psi * ang).sum())) / (2 * psi)
    axis = np.pi / psi
    for p in good:
        rbar = float(r[p].mean())  # line 8
        order = p[np.argsort(th[p])]
        n = len(order)
        step = 2 * np.pi / n
        base = th[order] - step * np.arange(n)
        if np.mean(np.abs(m.chirality[p])) <= chiral_min:
            u = int(np.argmin(np.abs(r[order] - rbar)))
            snapped = theta0 + axis * np.round((th[order[u]] - theta0) / axis)
            start = snapped - step * u
        else:
            start = float(np.angle(np.exp(1j * base).sum()))
        new_r[order] = rbar  # line 9: uniformly on the circle of radius r-bar
        new_th[order] = start + step * np.arange(n)
    out = m.labels == m.center_id
    h, w = m.labels.shape
    cx, cy = m.center
    for j, lab in enumerate(m.ids):
        rows, cols = np.nonzero(m.labels == lab)
        dth = new_th[j] - th[j]
        x, y = cols - cx, -rows - cy
        # forward box of the moved motif, then inverse-map each candidate pixel
        cth, sth = math.cos(dth), math.sin(dth)
        scale = new_r[j] - r[j]
        er_new = np.array([math.cos(new_th[j]), math.sin(new_th[j])])
        xn = cth * x - sth * y + scale * er_new[0]
        yn = sth * x + cth * y + scale * er_new[1]
        c0, c1 = int(np.floor(xn.min() + cx)) - 1, int(np.ceil(xn.max() + cx)) + 2
        r0, r1 = int(np.floor(-yn.max() - cy)) - 1, int(np.ceil(-yn.min() - cy)) + 2
        c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, w), min(r1, h)
        if c0 >= c1 or r0 >= r1:
            continue
        gr, gc = np.mgrid[r0:r1, c0:c1]
        px, py = gc - cx - scale * er_new[0], -gr - cy - scale * er_new[1]
        ox, oy = cth * px + sth * py, -sth * px + cth * py
        sr, sc = np.rint(-oy - cy).astype(int), np.rint(ox + cx).astype(int)
        ok = (sr >= 0) & (sr < h) & (sc >= 0) & (sc < w)
        hit = np.zeros(gr.shape, dtype=bool)
        hit[ok] = m.labels[sr[ok], sc[ok]] == lab
        out[r0:r1, c0:c1] |= hit
    return out


# ---------------------------------------------------------------------------------------
# the stand-in baseline: a naive angular-FFT symmetry estimate
# ---------------------------------------------------------------------------------------
def angular_fft_symmetry(image: np.ndarray, *, k_max: int = 32, n_angles: int = 720) -> int:
    """psi = the strongest angular harmonic k in [2, k_max] of the image resampled on 64
    annuli x ``n_angles`` angles about the ink's centroid (power summed over annuli)."""
    from scipy import ndimage

    check_tensor(image, "H W", name="image", dtype="bool", array=True, nonempty=True)
    k_max = check_int(k_max, "k_max", ge=2)
    n_angles = check_int(n_angles, "n_angles", ge=2 * k_max + 2)
    rows, cols = np.nonzero(image)
    if len(rows) == 0:
        raise InputError("image must hold ink")
    cr, cc = rows.mean(), cols.mean()
    rmax = min(cr, cc, image.shape[0] - 1 - cr, image.shape[1] - 1 - cc)
    rad = np.linspace(0.05 * rmax, rmax, 64)
    ang = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    rr = cr - rad[:, None] * np.sin(ang)[None]
    cc2 = cc + rad[:, None] * np.cos(ang)[None]
    prof = ndimage.map_coordinates(image.astype(float), [rr, cc2], order=1)
    power = (np.abs(np.fft.rfft(prof, axis=1)) ** 2).sum(0)
    return int(2 + np.argmax(power[2 : k_max + 1]))


# ---------------------------------------------------------------------------------------
# the user's own images
# ---------------------------------------------------------------------------------------
def load_mandala_images(path: str | Path) -> dict[str, np.ndarray]:
    """Binary mandala images from an image file or a folder of them (png, jpg, bmp, tif).

    Grey levels are thresholded by Otsu's method; ink is the minority class.

    Raises:
        DataError: the path is missing, holds no image, or an image is unreadable or
            has no ink.
    """
    from patrec.core.data import require_path

    p = require_path(path, "peel_and_pool images", "an image file or a folder of mandala images")
    exts = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in exts) if p.is_dir() else [p]
    if not files:
        raise DataError(f"peel_and_pool images: no image ({', '.join(sorted(exts))}) in {p}")
    from skimage import io
    from skimage.color import rgb2gray, rgba2rgb
    from skimage.filters import threshold_otsu

    out = {}
    for f in files:
        try:
            a = np.asarray(io.imread(f))
        except Exception as exc:  # noqa: BLE001 - any reader failure is a data problem
            raise DataError(f"peel_and_pool images: cannot read {f}: {exc}") from exc
        if a.ndim == 3 and a.shape[2] == 4:
            a = rgba2rgb(a)
        if a.ndim == 3:
            a = rgb2gray(a)
        if a.ndim != 2:
            raise DataError(f"peel_and_pool images: {f} is not a 2-D image (shape {a.shape})")
        a = a.astype(float)
        if np.ptp(a) == 0:
            raise DataError(f"peel_and_pool images: {f} is blank (one grey level)")
        fg = a > threshold_otsu(a)
        if fg.mean() > 0.5:
            fg = ~fg
        out[f.stem] = fg
    return out


# ---------------------------------------------------------------------------------------
# config, presets, recipe
# ---------------------------------------------------------------------------------------
@dataclass
class PeelAndPoolConfig:
    """The benchmark: random mandalas at several noise levels, every variant on each."""

    eps: float = param(
        0.05,
        "tolerance of the relative spreads (features, edge lengths, radii)",
        source="Sec. 3: eps = 0.05 (justified by Table 1's sigma_max <= 0.027)",
        gt=0,
        lt=0.5,
    )
    chiral_min: float = param(
        0.1,
        "|tangential-radial correlation| above which a motif is asymmetric (twin test)",
        source="our choice (the paper compares reflected motifs, Sec. 3.1)",
        gt=0,
        lt=1,
    )
    size: int = param(
        600,
        "image side (px)",
        source="Table 1: 536-1500 px; ours 600 (smoke) and 1000 (paper preset)",
        ge=200,
        le=4000,
    )
    psis: tuple[int, ...] = param(
        (4, 6, 8), "orders of symmetry drawn", source="Table 1: psi in {4, 6, 8}", ge=2, le=24,
        min_len=1,
    )  # fmt: skip
    min_rings: int = param(3, "fewest rings per mandala", source="our choice", ge=1, le=12)
    max_rings: int = param(5, "most rings per mandala", source="our choice", ge=1, le=12)
    noises: tuple[float, ...] = param(
        (0.0, 0.02, 0.03),
        "perturbation levels (fraction of polar radius / angular spacing)",
        source="issue: 2-3 %; 0 as the perfect reference",
        ge=0,
        lt=0.2,
        min_len=1,
    )
    mandalas: int = param(
        10, "random mandalas per seed and noise level", source="our choice", ge=1, le=10000
    )
    k_max: int = param(
        32, "highest harmonic the angular-FFT baseline considers", source="our choice", ge=2,
        le=256,
    )  # fmt: skip
    variants: tuple[str, ...] = param(VARIANTS, "what to run", choices=VARIANTS, min_len=1)
    seeds: tuple[int, ...] = param((0, 1, 2), "one batch of random mandalas per seed", min_len=1)
    plot_example: bool = param(True, "draw one mandala with its layers and rectification")

    def validate(self) -> None:
        if self.min_rings > self.max_rings:
            raise ConfigError(
                f"min_rings ({self.min_rings}) must be <= max_rings ({self.max_rings})"
            )
        if "peel_and_pool" not in self.variants:
            raise ConfigError("variants must include 'peel_and_pool' (the paper's method)")


def paper_config() -> PeelAndPoolConfig:
    """1000 px images (Table 1's usual size), 3-6 rings, 3 seeds x 20 mandalas per level."""
    return PeelAndPoolConfig(size=1000, max_rings=6, mandalas=20)


def smoke_config() -> PeelAndPoolConfig:
    """600 px, 4 mandalas per level, 2 seeds: seconds on a CPU."""
    return PeelAndPoolConfig(size=600, mandalas=4, seeds=(0, 1))


def _run_image(variant: str, img: np.ndarray, cfg: PeelAndPoolConfig) -> dict[str, Any]:
    """One variant on one image: psi, sigmas before/after, layer counts, times."""
    if variant == "angular_fft":
        t0 = time.perf_counter()
        psi = angular_fft_symmetry(img, k_max=cfg.k_max)
        return {"psi": psi, "t_total": time.perf_counter() - t0}
    kw = {"eps": cfg.eps, "chiral_min": cfg.chiral_min}
    an = analyze(img, pool=variant != "peel_no_pool", twins=variant != "peel_no_twins", **kw)
    t0 = time.perf_counter()
    rect = rectify(an, **kw)
    t_rect = time.perf_counter() - t0
    after = analyze(rect, pool=variant != "peel_no_pool", twins=variant != "peel_no_twins", **kw)
    r_before, _ = an.motifs.polar
    r_after, _ = after.motifs.polar
    n = len(an.motifs.ids)
    covered = sum(len(p) for p in an.regular_layers if len(p) >= 3)
    # before: every part of >= 3 points of the partition (its sigma, even above eps);
    # after: the same on the re-analysed rectified image
    sb = [edge_spread(an.motifs.centroids[p], an.motifs.center) for p in an.regular_layers
          if len(p) >= 3]  # fmt: skip
    sa = [edge_spread(after.motifs.centroids[p], after.motifs.center)
          for p in after.regular_layers if len(p) >= 3]  # fmt: skip
    return {
        "psi": an.psi,
        "psi_after": after.psi,
        "hull_layers": len(an.hull_layers),
        "regular_layers": len(an.regular_layers),
        "coverage": covered / max(n, 1),
        "sigma_before_max": max(sb) if sb else float("nan"),
        "sigma_before_avg": float(np.mean(sb)) if sb else float("nan"),
        "sigma_before_min": min(sb) if sb else float("nan"),
        "sigma_after_max": max(sa) if sa else float("nan"),
        "sigma_after_avg": float(np.mean(sa)) if sa else float("nan"),
        "circ_before": circular_layers(r_before, cfg.eps),
        "circ_after": circular_layers(r_after, cfg.eps),
        "motifs_kept": float(len(after.motifs.ids) == n),
        **an.times,
        "t_rect": t_rect,
        "t_total": sum(an.times.values()) + t_rect,
        "_analysis": an,
        "_rect": rect,
    }


def _mean(xs: Sequence[float]) -> float:
    ok = [x for x in xs if math.isfinite(x)]
    return float(np.mean(ok)) if ok else float("nan")


def recipe(cfg: PeelAndPoolConfig, out_dir: str | Path, *, data: Any = None) -> dict[str, Any]:
    """Every variant on the same random mandalas (or on the user's images, ``data`` = a file
    or folder path).

    Per (variant, seed): ``psi_accuracy`` (primary: psi_M equals the drawn psi) overall and
    per noise level; for the peeling variants also sigma_max / sigma_avg of the
    pseudo-regular parts before (``sigma_before_*``) and after rectification, re-measured on
    the re-analysed rectified image (``sigma_after_*``), ``psi_after_accuracy``, hull and
    regular layer counts, circular layers in excess of the drawn rings before/after, the
    coverage (share of motifs in parts of >= 3), and the time split ``t_prim``, ``t_hull``,
    ``t_regu``, ``t_rect`` (s per image; Table 1). With ``data``: per image ``psi`` and the
    sigmas (no truth; primary ``sigma_after_max``, lower is better; angular_fft reports psi
    only). Plot: ``mandala_layers.png`` (one mandala, its hull layers, its pseudo-regular
    parts and the rectified image). No model is trained (a solver).
    """
    from patrec.core.experiment import Experiment, run_experiment

    validate_config(cfg)
    out = Path(out_dir)
    user = load_mandala_images(data) if data is not None else None
    cache: dict[tuple[int, float, int], tuple[np.ndarray, dict[str, Any]]] = {}
    example: dict[str, Any] = {}

    def mandala(seed: int, noise: float, k: int) -> tuple[np.ndarray, dict[str, Any]]:
        key = (seed, noise, k)
        if key not in cache:  # the same drawing for every variant (the noise-free one too)
            cache[key] = random_mandala(
                100_000 * seed + k, size=cfg.size, psis=cfg.psis,
                rings=(cfg.min_rings, cfg.max_rings), noise=noise,
            )  # fmt: skip
        return cache[key]

    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        if user is not None:
            rows = {name: _run_image(variant, img, cfg) for name, img in user.items()}
            met: dict[str, Any] = {"psi": {k: float(v["psi"]) for k, v in rows.items()}}
            if variant != "angular_fft":
                for key in ("sigma_before_max", "sigma_after_max", "t_rect"):
                    met[key] = _mean([v[key] for v in rows.values()])
                met["per_image_sigma_before_max"] = {
                    k: v["sigma_before_max"] for k, v in rows.items()
                }
            return {"metrics": met}
        acc: dict[str, float] = {}
        rows_all = []
        for noise in cfg.noises:
            hits = []
            for k in range(cfg.mandalas):
                img, truth = mandala(seed, noise, k)
                row = _run_image(variant, img, cfg)
                hits.append(float(row["psi"] == truth["psi"]))
                row["truth_psi"] = truth["psi"]
                row["rings"] = len(truth["rings"])
                row["circ_truth"] = sum(2 if r["kind"] == "staggered" else 1
                                        for r in truth["rings"])  # fmt: skip
                row["noise"] = noise
                if variant == "peel_and_pool" and not example and noise == max(cfg.noises):
                    example.update(img=img, row=row, truth=truth)
                rows_all.append({k2: v for k2, v in row.items() if not k2.startswith("_")})
            acc[f"noise{noise:g}"] = _mean(hits)
        met = {
            "psi_accuracy": _mean([float(r["psi"] == r["truth_psi"]) for r in rows_all]),
            "psi_accuracy_by_noise": acc,
            "t_total": _mean([r["t_total"] for r in rows_all]),
        }
        if variant != "angular_fft":
            noisy = [r for r in rows_all if r["noise"] > 0] or rows_all
            met.update(
                psi_after_accuracy=_mean(
                    [float(r["psi_after"] == r["truth_psi"]) for r in rows_all]
                ),  # fmt: skip
                sigma_before_max=_mean([r["sigma_before_max"] for r in noisy]),
                sigma_before_avg=_mean([r["sigma_before_avg"] for r in noisy]),
                sigma_after_max=_mean([r["sigma_after_max"] for r in noisy]),
                sigma_after_avg=_mean([r["sigma_after_avg"] for r in noisy]),
                hull_layers=_mean([r["hull_layers"] for r in rows_all]),
                regular_layers=_mean([r["regular_layers"] for r in rows_all]),
                coverage=_mean([r["coverage"] for r in rows_all]),
                circ_excess_before=_mean([r["circ_before"] - r["circ_truth"] for r in noisy]),
                circ_excess_after=_mean([r["circ_after"] - r["circ_truth"] for r in noisy]),
                motifs_kept=_mean([r["motifs_kept"] for r in rows_all]),
                **{
                    t: _mean([r[t] for r in rows_all])
                    for t in ("t_prim", "t_hull", "t_regu", "t_rect")
                },  # fmt: skip
            )
        return {"metrics": met, "rows": rows_all}

    def plots(exp: Experiment) -> list[Path]:
        if not cfg.plot_example or not example:
            return []
        plt = pyplot()
        row, img = example["row"], example["img"]
        an: Analysis = row["_analysis"]
        m = an.motifs
        h = img.shape[0]
        fig, axes = plt.subplots(1, 3, figsize=(15, 5))
        ext = (0, h, -h, 0)  # x right, y up: pixel (row, col) -> (col, -row)
        cmap = plt.get_cmap("tab20")
        axes[0].imshow(img, cmap="gray_r", extent=ext)
        for i, layer in enumerate(an.hull_layers):
            p = m.centroids[np.r_[layer, layer[:1]]]
            axes[0].plot(p[:, 0], p[:, 1], "-", color=cmap(i % 20), lw=1.2)
        axes[0].set_title(f"hull layers |K_h| = {len(an.hull_layers)} (noise {row['noise']:g})")
        axes[1].imshow(img, cmap="gray_r", extent=ext, alpha=0.35)
        for i, part in enumerate(an.regular_layers):
            if len(part) < 2:
                continue
            d = m.centroids[part] - m.center
            p = m.centroids[part][np.argsort(np.arctan2(d[:, 1], d[:, 0]))]
            p = np.r_[p, p[:1]]
            axes[1].plot(p[:, 0], p[:, 1], "-o", color=cmap(i % 20), lw=1, ms=2)
        axes[1].set_title(
            f"pseudo-regular layers |K_r| = {len(an.regular_layers)}, psi_M = {an.psi} "
            f"(truth {example['truth']['psi']})"
        )
        rect = row["_rect"]
        both = np.zeros((*img.shape, 3))
        both[img & rect] = (0.1, 0.1, 0.1)
        both[rect & ~img] = (0.95, 0.8, 0.1)  # Fig. 9(i): yellow = only in the rectified
        both[img & ~rect] = (0.2, 0.4, 0.95)  # blue = only in the original
        both[~img & ~rect] = (1, 1, 1)
        axes[2].imshow(both, extent=ext)
        axes[2].set_title(
            f"rectified: sigma_max {row['sigma_before_max']:.3f} -> {row['sigma_after_max']:.3f}"
        )
        for ax in axes:
            ax.set_axis_off()
        return [save_figure(fig, out / "mandala_layers.png")]

    ours = "peel_and_pool"
    base = [v for v in cfg.variants if v != ours]
    if user is not None:
        variants = [v for v in cfg.variants if v != "angular_fft"]
        return run_experiment(
            out, method="scientific-ml/peel_and_pool", variants=variants, seeds=cfg.seeds[:1],
            run_one=run_one, primary="sigma_after_max", ours=ours,
            baselines=[v for v in variants if v != ours], higher_is_better=False,
            extra={"images": sorted(user), "eps": cfg.eps, "note": "user images; no truth"},
        ).metrics  # fmt: skip
    return run_experiment(
        out,
        method="scientific-ml/peel_and_pool",
        variants=cfg.variants,
        seeds=list(cfg.seeds),
        run_one=run_one,
        primary="psi_accuracy",
        ours=ours,
        baselines=base,
        bars=["psi_accuracy"],
        labels={"psi_accuracy": "share of mandalas with psi_M = drawn psi"},
        extra={
            "size": cfg.size,
            "noises": list(cfg.noises),
            "mandalas_per_seed_and_noise": cfg.mandalas,
            "eps": cfg.eps,
            "note": "geometric algorithm, no model; sigmas over noisy mandalas only",
        },
        plots=plots,
    ).metrics


METHOD = Method(
    name="scientific-ml/peel_and_pool",
    title="Peel and Pool: The Path to Mandala Perfection",
    paper="001/24",
    citation=(
        "T. Sarkar, M. Sar, P. Bhowmick. Peel and Pool: The Path to Mandala Perfection. ICPR 2024"
    ),
    task="binary mandala image -> hull layers, pseudo-regular layers, order of symmetry "
    "psi_M and a rectified (symmetric) image",
    config=PeelAndPoolConfig,
    presets={"paper": paper_config, "smoke": smoke_config},
    recipe=recipe,
    baselines=(
        "angular_fft: naive stand-in, psi = strongest angular harmonic of the polar-resampled "
        "image (the paper states that no prior work addresses the task)",
        "peel_no_pool: ablation, hull layers only (psi from their sizes, Theorem 3)",
        "peel_no_twins: ablation, Alg. 1 line 6 without the twin rule",
    ),
    status="done",
    summary=(
        "Motifs = connected components; onion peeling of their centroids (repeated convex "
        "hulls); Alg. 1 groups each hull layer by area, compactness, solidity and hull angle "
        "(relative spread <= eps = 0.05), splits the groups into pseudo-regular polygons "
        "(edge-length std / mean <= eps, twins apart), psi_M = gcd of their sizes; the "
        "rectification puts each layer on its mean radius at 360 deg/|V|, aligned to a "
        "symmetry axis, and moves the motif pixels. A solver: it trains no model."
    ),
    paper_numbers={
        "Table 1 (8 mandalas, 41-889 motifs)": (
            "psi_M = 4, 6, 6, 8, 8, 8, 6, 8 recovered; |K_h| 6-19, |K_r| 8-22; sigma_max of the "
            "pseudo-regular layers 0.0035-0.027 (hda9 0.027, mta802a2 0.008), sigma_avg "
            "0.002-0.015"
        ),
        "Table 1 time (i7-1165G7)": (
            "T = 1.449-10.681 s, dominated by T_rect (1.408-10.645 s); e.g. mta16j1 (889 "
            "motifs): T_prim 0.027, T_hull 0.295, T_regu 0.022, T_rect 3.225 s"
        ),
    },
    measured={
        "smoke (600 px, 2 seeds x 4 random mandalas x noise 0 / 2 / 3 %; shared 2-core CPU)": (
            "psi_M recovered on 100 % of the unperturbed, 75 % at 2 % and 12.5 % at 3 % "
            "(62.5 % overall; peel_no_twins the same, peel_no_pool 87.5 / 75 / 25 %, "
            "angular_fft 37.5 %): the gcd collapses to 1 as soon as one part of one layer "
            "splits (phi and beta of small or many-vertex layers pass eps = 0.05 at 3 %)"
        ),
        "edge-length spread (noisy mandalas)": (
            "sigma_max 0.020 / sigma_avg 0.015 before (Table 1: 0.0035-0.027), 0.005 / 0.003 "
            "after rectification, re-measured on the re-extracted rectified image (the rest is "
            "re-rasterisation); hull layers 3.4, pseudo-regular parts 10.0 per mandala"
        ),
        "time split (600 px, ~30-60 motifs)": (
            "T_prim 0.021, T_hull 0.0007, T_regu 0.002, T_rect 0.032 s per image: "
            "rectification dominates, as in Table 1"
        ),
        "failures": (
            "in 8 % of the images the rectification merges or splits motifs (motifs_kept "
            "0.92); the example figure shows a psi = 8 mandala at 3 % whose twin ring breaks "
            "into pairs (psi_M = 1). Not run: the paper preset (1000 px, 20 mandalas/level)"
        ),
    },
    test_overrides=("mandalas=1", "seeds=0", "noises=0.02", "size=400", "plot_example=false"),
)
