"""Point-supervised segmentation with boundary loss on intensity-aware distance maps:
"Leveraging Point Annotations in Segmentation Learning with Boundary Loss" (Breznik, Kervadec,
Malmberg, Kullberg, Ahlström, de Bruijne, Strand; ICPR 2024; inventory 002/13).

Each foreground class ``k`` of an image gets a *signed* distance map from the boundary of its
weak label ``Y~(k)`` (the annotated points), and the network's softmax probabilities are
weighted by it::

    phi(k)(i) = -D(k)(i) if i in Y(k), +D(k)(i) otherwise (0 on the boundary dY(k))     (eq. 1)
    L_B       = sum_k sum_i s(i, k) phi(k)(i)   (here: the mean over N, k, i)              (eq. 2)
    D_geo     = min over paths sum (1 - lam)|dI| + lam c,  lam = 0.5                      (eq. 3,
                weighted-L1 form, Sec. 3.2); D_int: the same with lam = 0
    D_mbd     = min over paths (max I - min I along the path)                               (eq. 4)
    objective = sum_k sum_{i in Y~(k)} -log s(i, k) + alpha L_B                             (eq. 5)

with ``D_euc`` the Euclidean distance from ``dY(k)``. Distances run over full (8-)connectivity
(``c = 1`` or ``sqrt(2)``) on intensities rescaled to 0-255 (Sec. 4.2); both terms of eq. 5 see
the foreground classes only (Sec. 4.3); a class with no point in an image gets a map of ones
(Sec. 4.2, "the absent-class rule"). Baselines (Sec. 4.3, Tables 1-3): partial CE alone (lower
bound), CE on full labels (upper bound) and partial CE + the dense CRF loss of Tang et al.
(ECCV 2018, the paper's [29]; :func:`dense_crf_loss`)::

    R_CRF(S) = sum_k S^k' W (1 - S^k),
    W_ij     = exp(-|I_i - I_j|^2 / (2 sigma_rgb^2) - |p_i - p_j|^2 / (2 sigma_xy^2))

with the paper's w = 2e-9, sigma_rgb = 15, sigma_xy = 100 and scale factor 0.5. The metrics
are those of the paper: Dice and HD95 per foreground class and their mean (2-D slices here;
the paper evaluates 3-D volumes).

Implementation notes.

* Geodesic and intensity distances: :func:`scipy.sparse.csgraph.dijkstra` on the 8-connected
  pixel graph with edge weights ``(1 - lam)|I_p - I_q| + lam c_pq`` (zero-weight edges are kept
  as explicit entries), multi-source from the boundary pixels, ``min_only=True``.
* Euclidean distance: :func:`scipy.ndimage.distance_transform_edt` (exact). The paper used the
  ``lam = 1`` chamfer approximation of FastGeodis; ``geodesic_distance(..., lam=1)`` gives
  that one (within 8.3 % of the exact distance on a constant image).
* Minimum barrier distance: no installed library computes it, so :func:`minimum_barrier_distance`
  is the Dijkstra-like propagation of the path maximum and minimum (each pixel is fixed when it
  leaves the heap with its current ``max - min``). This is the standard approximation; it is
  exact when the image is piecewise constant with one region per path step and errs by at most
  twice the largest neighbour intensity difference otherwise (Ciesielski et al., 2014). The
  paper's own implementation (built on F. Malmberg's DistanceTransforms) was not available here.
* CRF loss: the dense Gaussian kernel is computed exactly (in row blocks), where Tang et al.
  filter with a permutohedral lattice; the diagonal ``W_ii = 1`` is kept. The paper's weight
  and ``sigma_xy`` are tuned for 256 x 256 slices; on an ``S x S`` image we scale ``sigma_xy``
  by ``S / 256`` and the weight by ``(256 / S)^4`` (the energy grows with the square of the
  pixel count), so the CRF term keeps its relative size (our choice; at 256 both are the
  paper's). Intensities are 0-255 (``sigma_rgb`` is in those units), all channels.
* Not run: E-Net (the paper's lightweight network; a core U-Net stands in for both E-Net and
  nnU-Net), POEM (a private cohort) and 3-D distance maps (Table 3).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patrec.core.checks import check_choice, check_int, check_scalar, check_tensor
from patrec.core.config import param
from patrec.core.errors import ConfigError, DataError, InputError
from patrec.core.registry import Method
from patrec.core.segmentation import SegmentationData, UNet
from patrec.core.train import TrainConfig

__all__ = [
    "DISTANCES",
    "METHOD",
    "PAPER_GEODESIC_LAMBDA",
    "PointBoundaryConfig",
    "PointTask",
    "VARIANTS",
    "boundary_loss",
    "boundary_of",
    "dense_crf_loss",
    "distance_from_seeds",
    "euclidean_distance",
    "evaluate",
    "geodesic_distance",
    "intensity_image",
    "load_task",
    "minimum_barrier_distance",
    "paper_config",
    "plot_distance_maps",
    "partial_cross_entropy",
    "point_distance_maps",
    "point_supervised_loss",
    "predict",
    "recipe",
    "signed_distance_map",
    "smoke_config",
    "train_variant",
]

Distance = Literal["euc", "geo", "int", "mbd"]
DISTANCES: tuple[str, ...] = ("euc", "geo", "int", "mbd")
PAPER_GEODESIC_LAMBDA = 0.5  # Sec. 3.2: "Geodesic distance ... the setting of lambda = 0.5"
_OFFSETS = ((0, 1, 1.0), (1, 0, 1.0), (1, 1, math.sqrt(2.0)), (1, -1, math.sqrt(2.0)))
_FULL = np.ones((3, 3), dtype=bool)  # full (8-)connectivity, Sec. 4.2


# -- inputs as NumPy ------------------------------------------------------------------------
def _image(x: Any, name: str, dims: dict[str, int] | None = None) -> np.ndarray:
    """A checked 2-D ``(H, W)`` tensor/array of finite numbers, as float64 NumPy."""
    check_tensor(
        x, "H W", name=name, dims=dims, dtype="number", finite=True, nonempty=True, array=True
    )
    a = x.detach().cpu().numpy() if isinstance(x, Tensor) else x
    return np.asarray(a, dtype=np.float64)


def _mask(x: Any, name: str, dims: dict[str, int] | None = None) -> np.ndarray:
    """A checked 2-D ``(H, W)`` binary tensor/array (bool or 0/1), as a bool NumPy array."""
    check_tensor(x, "H W", name=name, dims=dims, binary=True, array=True)
    a = x.detach().cpu().numpy() if isinstance(x, Tensor) else x
    return np.asarray(a).astype(bool)


# -- intensities and boundaries -------------------------------------------------------------
def intensity_image(image: Tensor | np.ndarray) -> np.ndarray:
    """One image ``(C, H, W)`` or ``(H, W)`` -> ``(H, W)`` float64 intensities in 0-255.

    Channels are averaged (our choice; the paper uses its single/fat channel), then the image
    is min-max rescaled to 0-255 "to ensure that the spatial distances and intensity
    differences between voxels are comparable" (Sec. 4.2). A constant image maps to zeros.
    """
    check_tensor(image, "* H W", name="image", dtype="number", nonempty=True, array=True)
    a = image.detach().cpu().numpy() if isinstance(image, Tensor) else image
    if a.ndim not in (2, 3):
        raise InputError(f"image must be (C, H, W) or (H, W), got shape {tuple(a.shape)}")
    g = _image(a.mean(axis=0) if a.ndim == 3 else a, "image")
    lo, hi = float(g.min()), float(g.max())
    return np.zeros_like(g) if hi - lo <= 0 else (g - lo) * (255.0 / (hi - lo))


def boundary_of(mask: Tensor | np.ndarray) -> np.ndarray:
    """``dY``: the pixels of a binary ``(H, W)`` mask with a (full-connectivity) neighbour
    outside the mask (Sec. 3.1). The image border does not count as outside; a mask that fills
    the whole image is its own boundary. Returns a bool ``(H, W)`` array."""
    from scipy.ndimage import binary_erosion

    m = _mask(mask, "mask")
    b = m & ~binary_erosion(m, structure=_FULL, border_value=1)
    return b if b.any() else m.copy()


# -- distance transforms (eqs. 3 and 4, Euclidean) ------------------------------------------
def _pixel_graph(intensity: np.ndarray, lam: float) -> Any:
    """Undirected 8-connected grid graph with weights ``(1 - lam)|dI| + lam c`` (eq. 3, L1)."""
    from scipy.sparse import coo_matrix

    h, w = intensity.shape
    idx = np.arange(h * w).reshape(h, w)
    rows, cols, vals = [], [], []
    for dy, dx, c in _OFFSETS:
        ys, ye = 0, h - dy
        xs, xe = max(0, -dx), w - max(0, dx)
        a = idx[ys:ye, xs:xe]
        b = idx[ys + dy : ye + dy, xs + dx : xe + dx]
        di = np.abs(intensity[ys:ye, xs:xe] - intensity[ys + dy : ye + dy, xs + dx : xe + dx])
        wt = (1.0 - lam) * di + lam * c
        rows += [a.ravel(), b.ravel()]
        cols += [b.ravel(), a.ravel()]
        vals += [wt.ravel(), wt.ravel()]
    g = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))))
    return g.tocsr()  # explicit zero weights stay edges in scipy.sparse.csgraph


def geodesic_distance(
    intensity: Tensor | np.ndarray, seeds: Tensor | np.ndarray, lam: float = 0.5
) -> np.ndarray:
    """Geodesic distance of eq. 3 in its weighted-L1 form (Sec. 3.2) from a seed set.

    ``D(x) = min over 8-connected paths from a seed to x of sum (1 - lam)|I_n - I_n+1| +
    lam c_n,n+1`` with ``c`` = 1 (edge neighbour) or sqrt(2) (corner neighbour). ``lam = 0.5``
    is the paper's ``D_geo``, ``lam = 0`` its ``D_int`` (intensity distance) and ``lam = 1`` the
    chamfer approximation of the Euclidean distance.

    Args:
        intensity: ``(H, W)`` intensities (0-255 in the paper; see :func:`intensity_image`).
        seeds: bool/0-1 ``(H, W)`` mask of the source pixels, the same size, not empty.
        lam: the spatial weight in [0, 1].

    Returns:
        ``(H, W)`` float64 distances, 0 on the seeds.
    """
    from scipy.sparse.csgraph import dijkstra

    dims: dict[str, int] = {}
    img = _image(intensity, "intensity", dims)
    s = _mask(seeds, "seeds", dims)
    lam = float(check_scalar(lam, "lam", ge=0, le=1))
    if not s.any():
        raise InputError("seeds must contain at least one pixel")
    d = dijkstra(_pixel_graph(img, lam), directed=True, indices=np.flatnonzero(s), min_only=True)
    return np.asarray(d, dtype=np.float64).reshape(img.shape)


def minimum_barrier_distance(
    intensity: Tensor | np.ndarray, seeds: Tensor | np.ndarray
) -> np.ndarray:
    """Minimum barrier distance of eq. 4 from a seed set (Dijkstra-like approximation).

    ``D(x) = min over 8-connected paths from a seed to x of (max I - min I) along the path``.
    Every pixel keeps the running maximum and minimum of its best path; the heap pops the
    pixel with the smallest ``max - min`` and fixes it. See the module docstring for the
    approximation bound. Shapes and checks as :func:`geodesic_distance`.
    """
    dims: dict[str, int] = {}
    img = _image(intensity, "intensity", dims)
    s = _mask(seeds, "seeds", dims)
    if not s.any():
        raise InputError("seeds must contain at least one pixel")
    h, w = img.shape
    flat = img.ravel().tolist()
    dist = [math.inf] * (h * w)
    hi = flat[:]
    lo = flat[:]
    done = [False] * (h * w)
    heap: list[tuple[float, int]] = []
    for p in np.flatnonzero(s).tolist():
        dist[p] = 0.0
        heap.append((0.0, p))
    heapq.heapify(heap)
    nbr = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    while heap:
        d, p = heapq.heappop(heap)
        if done[p]:
            continue
        done[p] = True
        y, x = divmod(p, w)
        hp, lp = hi[p], lo[p]
        for dy, dx in nbr:
            yy, xx = y + dy, x + dx
            if 0 <= yy < h and 0 <= xx < w:
                q = yy * w + xx
                if done[q]:
                    continue
                iq = flat[q]
                nh = hp if hp >= iq else iq
                nl = lp if lp <= iq else iq
                nd = nh - nl
                if nd < dist[q]:
                    dist[q], hi[q], lo[q] = nd, nh, nl
                    heapq.heappush(heap, (nd, q))
    return np.asarray(dist, dtype=np.float64).reshape(h, w)


def euclidean_distance(seeds: Tensor | np.ndarray) -> np.ndarray:
    """Exact Euclidean distance ``(H, W)`` of every pixel to the nearest seed pixel
    (:func:`scipy.ndimage.distance_transform_edt`)."""
    from scipy.ndimage import distance_transform_edt

    s = _mask(seeds, "seeds")
    if not s.any():
        raise InputError("seeds must contain at least one pixel")
    return np.asarray(distance_transform_edt(~s), dtype=np.float64)


def distance_from_seeds(
    intensity: Tensor | np.ndarray,
    seeds: Tensor | np.ndarray,
    kind: str,
    *,
    lam: float = PAPER_GEODESIC_LAMBDA,
) -> np.ndarray:
    """``D_kind`` of every pixel from the seeds: ``euc`` (exact Euclidean), ``geo`` (eq. 3,
    weighted L1 with ``lam``), ``int`` (eq. 3 with lam = 0) or ``mbd`` (eq. 4)."""
    check_choice(kind, "distance kind", DISTANCES)
    if kind == "euc":
        dims: dict[str, int] = {}
        _image(intensity, "intensity", dims)
        return euclidean_distance(_mask(seeds, "seeds", dims))
    if kind == "geo":
        return geodesic_distance(intensity, seeds, lam)
    if kind == "int":
        return geodesic_distance(intensity, seeds, 0.0)
    return minimum_barrier_distance(intensity, seeds)


def signed_distance_map(
    intensity: Tensor | np.ndarray,
    mask: Tensor | np.ndarray,
    kind: str,
    *,
    lam: float = PAPER_GEODESIC_LAMBDA,
    absent_value: float = 1.0,
) -> np.ndarray:
    """The signed map ``phi`` of eq. 1 for one class, with ``D_kind`` measured from ``dY``.

    ``phi = -D`` inside the (weak) label ``Y``, ``+D`` outside, 0 on the boundary ``dY``. An
    empty ``mask`` (the class has no point in this image) gives a constant map of
    ``absent_value`` (1: "we use a simple map of ones for every absent class", Sec. 4.2).

    Args:
        intensity: ``(H, W)`` intensities (0-255).
        mask: binary ``(H, W)`` weak label of the class, the same size.
        kind: ``euc``, ``geo``, ``int`` or ``mbd``.
        lam: the spatial weight of ``geo``.
        absent_value: the map's value for an absent class.

    Returns:
        ``(H, W)`` float64.
    """
    dims: dict[str, int] = {}
    img = _image(intensity, "intensity", dims)
    m = _mask(mask, "mask", dims)
    check_choice(kind, "distance kind", DISTANCES)
    check_scalar(absent_value, "absent_value")
    if not m.any():
        return np.full(img.shape, float(absent_value))
    d = distance_from_seeds(img, boundary_of(m), kind, lam=lam)
    return np.where(m, -d, d)


def point_distance_maps(
    images: Tensor,
    point_labels: Tensor,
    num_classes: int,
    kind: str,
    *,
    lam: float = PAPER_GEODESIC_LAMBDA,
    absent_value: float = 1.0,
) -> Tensor:
    """Signed maps (eq. 1) of every foreground class from point labels, for a batch.

    Args:
        images: ``(N, C, H, W)`` float images.
        point_labels: ``(N, H, W)`` integer labels, ``IGNORE_INDEX`` (-1) off the points, ``k``
            on a point of class ``k`` (0 background).
        num_classes: ``K`` including background.
        kind, lam, absent_value: as :func:`signed_distance_map`.

    Returns:
        ``(N, K - 1, H, W)`` float32 maps of the classes ``1 .. K-1`` (the background gets no
        map: both loss terms see the foreground only, Sec. 4.3).
    """
    dims: dict[str, int] = {}
    check_tensor(images, "N C H W", name="images", dims=dims, dtype="float", finite=True)
    _points(point_labels, num_classes, dims)
    check_choice(kind, "distance kind", DISTANCES)
    n, _, h, w = images.shape
    out = np.zeros((n, num_classes - 1, h, w), dtype=np.float32)
    pts = point_labels.cpu().numpy()
    for i in range(n):
        img = intensity_image(images[i])
        for k in range(1, num_classes):
            out[i, k - 1] = signed_distance_map(
                img, pts[i] == k, kind, lam=lam, absent_value=absent_value
            )
    return torch.from_numpy(out)


def _points(point_labels: Any, num_classes: int, dims: dict[str, int]) -> Tensor:
    """Point labels ``(N, H, W)``: integers, -1 (unlabelled) or a class in ``[0, K - 1]``."""
    check_int(num_classes, "num_classes (background + classes)", ge=2)
    out: Tensor = check_tensor(
        point_labels, "N H W", name="point labels", dims=dims, dtype="int",
        range=(-1, num_classes - 1),
    )  # fmt: skip
    return out


# -- losses (eqs. 2 and 5) ------------------------------------------------------------------
def boundary_loss(probs: Tensor, signed_maps: Tensor) -> Tensor:
    """``L_B`` of eq. 2 on the foreground: ``mean(probs[:, 1:] * signed_maps)``.

    Args:
        probs: softmax probabilities ``(N, K, H, W)`` (channel 0 background).
        signed_maps: ``(N, K - 1, H, W)`` from :func:`point_distance_maps`.

    Returns:
        A scalar: the sum of eq. 2 divided by ``N (K - 1) H W`` (mean instead of sum, so the
        weight ``alpha`` does not depend on the image size).
    """
    dims: dict[str, int] = {}
    check_tensor(probs, "N K H W", name="probs", dims=dims, dtype="float")
    dims["J"] = dims["K"] - 1  # the foreground classes
    check_tensor(signed_maps, "N J H W", name="signed maps (N, K-1, H, W)", dims=dims)
    return (probs[:, 1:] * signed_maps.to(probs.dtype)).mean()


def partial_cross_entropy(
    logits: Tensor, point_labels: Tensor, *, foreground_only: bool = True
) -> Tensor:
    """The first term of eq. 5: ``-log s(i, k)`` averaged over the annotated pixels.

    Pixels labelled ``IGNORE_INDEX`` (-1) contribute nothing; with ``foreground_only`` (the
    paper, Sec. 4.3) background points are ignored too. No annotated pixel -> 0 (still
    attached to the graph).

    Args:
        logits: ``(N, K, H, W)``.
        point_labels: ``(N, H, W)`` integers in ``{-1, 0, .., K-1}``.
    """
    dims: dict[str, int] = {}
    check_tensor(logits, "N K H W", name="logits", dims=dims, dtype="float")
    lab = _points(point_labels, dims["K"], dims)
    lab = lab.to(logits.device).long()
    if foreground_only:
        lab = torch.where(lab == 0, torch.full_like(lab, -1), lab)
    if not bool((lab >= 0).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits, lab, ignore_index=-1)


def point_supervised_loss(
    logits: Tensor, point_labels: Tensor, signed_maps: Tensor | None, alpha: float
) -> dict[str, Tensor]:
    """Eq. 5: ``partial CE + alpha L_B``. ``signed_maps=None`` or ``alpha = 0``: partial CE
    alone (the paper's lower bound). Returns ``{"loss", "pce", "lb"}`` (the last two
    detached)."""
    alpha = float(check_scalar(alpha, "alpha", ge=0))
    pce = partial_cross_entropy(logits, point_labels)
    if signed_maps is None or alpha == 0.0:
        return {"loss": pce, "pce": pce.detach(), "lb": torch.zeros((), device=logits.device)}
    lb = boundary_loss(torch.softmax(logits, dim=1), signed_maps)
    return {"loss": pce + alpha * lb, "pce": pce.detach(), "lb": lb.detach()}


def dense_crf_loss(
    probs: Tensor,
    images: Tensor,
    *,
    sigma_rgb: float = 15.0,
    sigma_xy: float = 100.0,
    scale: float = 0.5,
    chunk: int = 4096,
) -> Tensor:
    """The dense CRF loss of Tang et al. (ECCV 2018), the paper's CRF-loss baseline [29].

    ``R(S) = sum_k S^k' W (1 - S^k)``, the relaxed Potts energy of the soft segmentation
    ``S`` over a fully connected Gaussian kernel
    ``W_ij = exp(-|I_i - I_j|^2 / (2 sigma_rgb^2) - |p_i - p_j|^2 / (2 sigma_xy^2))``
    (``I``: the image's channels, ``p``: pixel coordinates), averaged over the ``N`` images.
    Both ``probs`` and ``images`` are first resized by ``scale`` (bilinear), and
    ``sigma_xy`` is given in pixels of the input, so it is multiplied by ``scale`` too.
    The kernel is exact (row blocks of ``chunk`` pixels), diagonal included.

    Args:
        probs: softmax probabilities ``(N, K, H, W)`` (every class, background included).
        images: ``(N, C, H, W)`` intensities in the units of ``sigma_rgb`` (0-255 in [29]).

    Returns:
        A scalar >= 0 (0 when every pixel is hard-assigned and similar pixels share a
        label is the minimum; the weight ``w`` is applied by the caller).
    """
    dims: dict[str, int] = {}
    check_tensor(probs, "N K H W", name="probs", dims=dims, dtype="float")
    check_tensor(images, "N C H W", name="images", dims=dims, dtype="float", finite=True)
    check_scalar(sigma_rgb, "sigma_rgb", gt=0)
    check_scalar(sigma_xy, "sigma_xy", gt=0)
    check_scalar(scale, "scale", gt=0, le=1)
    check_int(chunk, "chunk", ge=1)
    img = images.detach().to(probs.dtype)
    if scale != 1.0:
        probs = F.interpolate(probs, scale_factor=scale, mode="bilinear", align_corners=False)
        img = F.interpolate(img, scale_factor=scale, mode="bilinear", align_corners=False)
    n, k, h, w = probs.shape
    yy, xx = torch.meshgrid(
        torch.arange(h, dtype=probs.dtype, device=probs.device),
        torch.arange(w, dtype=probs.dtype, device=probs.device),
        indexing="ij",
    )
    xy = torch.stack([yy, xx]).flatten(1) / (sigma_xy * scale)  # (2, P)
    feats = torch.cat([img.flatten(2) / sigma_rgb, xy.expand(n, 2, h * w)], dim=1)
    feats = feats.transpose(1, 2)  # (N, P, C + 2): W_ij = exp(-|f_i - f_j|^2 / 2)
    s = probs.flatten(2)  # (N, K, P)
    total = probs.new_zeros(())
    for i in range(0, h * w, chunk):
        blk = torch.exp(-0.5 * torch.cdist(feats[:, i : i + chunk], feats).square())  # (N, B, P)
        ws = torch.einsum("nbp,nkp->nkb", blk, s)  # (W S^k) on the block's rows
        w1 = blk.sum(dim=2)[:, None, :]  # (W 1) on the block's rows
        total = total + (s[:, :, i : i + chunk] * (w1 - ws)).sum()  # S^k' W (1 - S^k)
    return total / n


# -- config ---------------------------------------------------------------------------------
@dataclass
class PBLDataConfig:
    """Images, full masks for evaluation, and the synthetic point labels."""

    name: str = param(
        "fundus",
        "fundus (embedded: disc rim + cup, 3 classes), lesion (embedded, 2 classes) or acdc "
        "(local NIfTI folder in data.root: RV, myocardium, LV + background)",
        source="Sec. 4.1: ACDC / POEM (multi-class MR); our embedded stand-in: fundus_task",
        choices=("fundus", "lesion", "acdc"),
    )
    root: str | None = param(None, "local dataset folder (--data) for data.name=acdc")
    size: int = param(
        256, "images are size x size", source="Sec. 4.1: 2-D slices 256 x 256", ge=8, le=4096
    )
    n_train: int = param(48, "training images (point labels only)", ge=1, le=100_000)
    n_val: int = param(8, "fully annotated validation images for model selection", ge=1,
                       le=100_000)  # fmt: skip
    n_test: int = param(24, "test images", ge=1, le=100_000)
    background: str = param(
        "retina",
        "lesion_task background (data.name=lesion)",
        choices=("ihc", "cell", "retina", "microaneurysms"),
    )
    points_per_class: int = param(
        3,
        "annotated pixels per class and image, drawn uniformly inside the class",
        source="Sec. 4.1 / Suppl. A: random synthetic points per object; count not stated in "
        "the main text, ours: 3",
        ge=1,
        le=10_000,
    )
    point_seed: int = param(
        0, "seed of the point sampling (fixed, so the maps are computed once for all seeds)",
        ge=0, le=2**32 - 1,
    )  # fmt: skip


@dataclass
class PBLDistanceConfig:
    """The distance maps (precomputed once per dataset)."""

    lam: float = param(
        PAPER_GEODESIC_LAMBDA, "lambda of D_geo (eq. 3)", source="Sec. 3.2: 0.5", ge=0, le=1
    )
    absent_value: float = param(
        1.0, "map value of a class without points in the image", source="Sec. 4.2: ones",
        ge=-1e6, le=1e6,
    )  # fmt: skip


@dataclass
class PBLLossConfig:
    """Eq. 5: partial CE + alpha L_B."""

    alpha: float = param(
        0.7,
        "weight of the boundary loss (constant, no schedule)",
        source="Sec. 4.3: 0.7 for the U-Net (nnU-Net), 1 for E-Net; ours is a U-Net",
        ge=0,
        le=1e6,
    )


@dataclass
class PBLCRFConfig:
    """The CRF-loss baseline [29]: partial CE + weight x dense CRF loss."""

    weight: float = param(
        2e-9,
        "CRF loss weight w at 256 x 256 (scaled by (256 / size)^4 on other sizes)",
        source="Sec. 4.3: w = 2e-9 (confirmed by a grid search); the size scaling is ours",
        ge=0,
        le=1.0,
    )
    sigma_rgb: float = param(15.0, "kernel width in intensity (0-255)",
                             source="Sec. 4.3: 15", gt=0, le=1e4)  # fmt: skip
    sigma_xy: float = param(
        100.0,
        "kernel width in pixels at 256 x 256 (scaled by size / 256)",
        source="Sec. 4.3: 100; the size scaling is ours",
        gt=0,
        le=1e5,
    )
    scale: float = param(0.5, "resize factor of image and prediction",
                         source="Sec. 4.3: scale factor 0.5", gt=0, le=1)  # fmt: skip


@dataclass
class PBLModelConfig:
    """The U-Net."""

    widths: tuple[int, ...] = param(
        (32, 64, 128, 256, 512),
        "U-Net channels per level",
        source="Sec. 4.3: E-Net and an nnU-Net U-Net; ours: the plain core U-Net",
        ge=1,
        le=4096,
        min_len=2,
    )


@dataclass
class PBLOptimConfig:
    """Optimiser."""

    lr: float = param(1e-3, "Adam learning rate", source="Sec. 4.3: Adam; lr not stated",
                      gt=0, le=10)  # fmt: skip
    weight_decay: float = param(0.0, "Adam weight decay", source="not stated; our choice: 0",
                                ge=0, le=1)  # fmt: skip


VARIANTS = ("full_ce", "partial_ce", "crf_loss", "lb_euc", "lb_geo", "lb_int", "lb_mbd")
"""full CE (upper bound), partial CE (lower bound), the CRF loss, and L_B per distance."""


@dataclass
class PointBoundaryConfig:
    """Config of the point-supervised boundary-loss recipe (:func:`recipe`)."""

    data: PBLDataConfig = field(default_factory=PBLDataConfig)
    distance: PBLDistanceConfig = field(default_factory=PBLDistanceConfig)
    loss: PBLLossConfig = field(default_factory=PBLLossConfig)
    crf: PBLCRFConfig = field(default_factory=PBLCRFConfig)
    model: PBLModelConfig = field(default_factory=PBLModelConfig)
    optim: PBLOptimConfig = field(default_factory=PBLOptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = param(
        VARIANTS,
        "full_ce: CE on full masks (upper bound); partial_ce: eq. 5 with alpha 0 (lower "
        "bound); crf_loss: partial CE + the dense CRF loss [29]; lb_<d>: partial CE + alpha "
        "L_B^d, d in euc, geo, int, mbd",
        source="Sec. 4.3 / Tables 1-3",
        choices=VARIANTS,
        min_len=1,
    )
    seeds: tuple[int, ...] = param(
        (0, 1, 2), "one run of every variant per seed",
        source="Sec. 4.3: 3 runs averaged (Tables 1-2 say five)", min_len=1,
    )  # fmt: skip
    select_best: bool = param(
        True,
        "evaluate on the fully annotated validation set every epoch and keep the best model",
        source="Sec. 4.3: model selection by validation batch Dice",
    )

    def validate(self) -> None:
        """The image size fits the U-Net depth."""
        div = 2 ** (len(self.model.widths) - 1)
        if self.data.size % div:
            raise ConfigError(f"data.size {self.data.size} must be a multiple of {div}")


def paper_config() -> PointBoundaryConfig:
    """The paper's setting: 256 x 256, alpha 0.7 (U-Net), lambda 0.5, maps of ones for absent
    classes, CRF loss w 2e-9 / sigma_rgb 15 / sigma_xy 100 / scale 0.5, Adam,
    best-validation-Dice selection, 3 seeds; epochs and batch not stated (ours: 100 and 8)."""
    return PointBoundaryConfig(train=TrainConfig(epochs=100, batch_size=8))


def smoke_config() -> PointBoundaryConfig:
    """CPU scale: fundus 48 x 48, 24 training (points only) + 6 validation + 12 test images,
    a 3-level U-Net (8, 16, 32), Adam 3e-3, batch 4, 15 epochs, 3 seeds, all seven variants."""
    return PointBoundaryConfig(
        data=PBLDataConfig(size=48, n_train=24, n_val=6, n_test=12),
        model=PBLModelConfig(widths=(8, 16, 32)),
        optim=PBLOptimConfig(lr=3e-3),
        train=TrainConfig(epochs=15, batch_size=4, cpu=True, progress=False),
    )


# -- data, training, evaluation -------------------------------------------------------------
@dataclass
class PointTask:
    """Images with full index labels (``(N, H, W)``, 0 background) and training points."""

    x_train: Tensor
    y_train: Tensor
    points: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor
    class_names: tuple[str, ...]
    name: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names) + 1


def load_task(cfg: PointBoundaryConfig, data: SegmentationData | None = None) -> PointTask:
    """The configured embedded task (or ``data``) as index labels, with point labels
    (:func:`~patrec.medical_imaging.data.sample_point_labels`) on the training images. The
    last ``n_val`` training images become the fully annotated validation set."""
    from patrec.medical_imaging.data import (
        fundus_task,
        lesion_task,
        load_acdc,
        masks_to_index,
        sample_point_labels,
    )

    d = cfg.data
    if data is None:
        n = d.n_train + d.n_val
        if d.name == "fundus":
            data = fundus_task(n, d.n_test, size=d.size, domains=(), seed=0)
        elif d.name == "lesion":
            data = lesion_task(n, d.n_test, size=d.size, background=d.background, seed=0)
        elif d.name == "acdc":
            if d.root is None:
                raise DataError("data.name=acdc needs the ACDC folder: --data PATH")
            x, m = load_acdc(d.root, size=d.size, limit=n + d.n_test)
            if len(x) < n + d.n_test:
                raise DataError(f"ACDC under {d.root} has {len(x)} slices, need {n + d.n_test}")
            # slices in file order: the first n train/validate, the last n_test test
            data = SegmentationData(
                x[:n], m[:n], x[n : n + d.n_test], m[n : n + d.n_test],
                class_names=("RV", "myocardium", "LV"), name="acdc",
            )  # fmt: skip
        else:
            raise DataError(f"data.name={d.name!r}: expected fundus, lesion or acdc")
    if len(data.x_train) <= d.n_val:
        raise InputError(f"need more than n_val={d.n_val} training images, got {len(data.x_train)}")
    k = len(data.class_names) + 1
    y = masks_to_index(data.y_train)
    ntr = len(y) - d.n_val
    pts = sample_point_labels(y[:ntr], d.points_per_class, num_classes=k, seed=d.point_seed)
    return PointTask(
        data.x_train[:ntr], y[:ntr], pts, data.x_train[ntr:], y[ntr:],
        data.x_test, masks_to_index(data.y_test), tuple(data.class_names), data.name,
    )  # fmt: skip


def evaluate(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    class_names: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Dice, IoU and HD95 (pixels) of argmax predictions on the foreground classes.

    ``dice``, ``iou``, ``hd95``: means over images and classes ``1 .. K-1``;
    ``dice_per_class`` / ``hd95_per_class``: class name -> mean over images (the per-class
    columns of the paper's Tables 1-3). ``class_names`` default ``class1 ..``.
    """
    from patrec.core.segmentation import dice_score, hd95, one_hot_masks, segmentation_metrics

    names = class_names or tuple(f"class{k}" for k in range(1, num_classes))
    if len(names) != num_classes - 1:
        raise InputError(f"{num_classes - 1} foreground classes but class names {names}")
    pred = predict(model, images)
    p = one_hot_masks(pred, num_classes)[:, 1:]
    t = one_hot_masks(labels, num_classes)[:, 1:]
    m: dict[str, Any] = dict(segmentation_metrics(p, t))
    m["dice_per_class"] = dict(zip(names, dice_score(p, t).mean(dim=0).tolist(), strict=True))
    m["hd95_per_class"] = dict(zip(names, hd95(p, t).mean(dim=0).tolist(), strict=True))
    return m


def predict(model: nn.Module, images: Tensor) -> Tensor:
    """Argmax labels ``(N, H, W)`` of a model on ``(N, C, H, W)`` images."""
    check_tensor(images, "N C H W", name="images", dtype="float")
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    with torch.no_grad():
        out = torch.cat([model(b.to(dev)).argmax(1).cpu() for b in images.split(32)])
    model.train(was)
    return out


def train_variant(
    cfg: PointBoundaryConfig,
    variant: str,
    seed: int,
    task: PointTask,
    maps: Tensor | None,
    out_dir: str | Path | None = None,
) -> tuple[nn.Module, list[dict[str, float]], dict[str, Any]]:
    """Train one variant with one seed; returns (model, history, test metrics).

    ``maps``: the ``(N, K-1, H, W)`` signed maps of the variant's distance (``lb_*``), else
    ``None``. With ``cfg.select_best`` the weights of the epoch with the best validation Dice
    are restored before testing (Sec. 4.3).
    """
    import copy

    from torch.utils.data import TensorDataset

    from patrec.core.train import Trainer, seed_everything

    if variant not in VARIANTS:
        raise ConfigError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    if variant.startswith("lb_") and maps is None:
        raise InputError(f"variant {variant} needs its signed distance maps")
    tcfg = dataclasses.replace(cfg.train, seed=seed)
    seed_everything(seed, tcfg.deterministic)
    k = task.num_classes
    model = UNet(task.x_train.shape[1], k, tuple(cfg.model.widths))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    m = maps if maps is not None else torch.zeros(len(task.x_train), k - 1, 1, 1)
    ds = TensorDataset(task.x_train, task.points, task.y_train, m)
    alpha = cfg.loss.alpha if variant.startswith("lb_") else 0.0
    c = cfg.crf
    size = task.x_train.shape[-1]
    crf_weight = c.weight * (256.0 / size) ** 4  # the paper's w is for 256 x 256
    crf_sigma_xy = c.sigma_xy * size / 256.0

    def step(tr: Trainer, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        x, pts, full, phi = batch
        logits = tr.model(x)
        if variant == "full_ce":
            ce = F.cross_entropy(logits, full)
            return {"loss": ce}
        out = point_supervised_loss(logits, pts, phi if alpha > 0 else None, alpha)
        if variant == "crf_loss":
            crf = dense_crf_loss(torch.softmax(logits, 1), 255.0 * x, sigma_rgb=c.sigma_rgb,
                                 sigma_xy=crf_sigma_xy, scale=c.scale)  # fmt: skip
            out = {**out, "loss": out["loss"] + crf_weight * crf, "crf": crf.detach()}
        return out

    best: dict[str, Any] = {"dice": -1.0, "state": None}

    def eval_fn(tr: Trainer) -> dict[str, float]:
        net = tr.unwrapped_model
        dice = float(evaluate(net, task.x_val, task.y_val, k)["dice"])
        if dice > best["dice"]:
            best["dice"], best["state"] = dice, copy.deepcopy(net.state_dict())
        return {"val/dice": dice}

    trainer = Trainer(
        model, opt, ds, step, tcfg, out_dir=out_dir, eval_fn=eval_fn if cfg.select_best else None,
        desc=f"{variant} seed {seed}",
    )  # fmt: skip
    history = trainer.fit()
    net = trainer.unwrapped_model
    if cfg.select_best and best["state"] is not None:
        net.load_state_dict(best["state"])
    return net, history, evaluate(net, task.x_test, task.y_test, k, task.class_names)


def plot_distance_maps(
    image: Tensor, points: Tensor, maps: dict[str, Tensor], class_names: tuple[str, ...],
    path: str | Path,
) -> Path:  # fmt: skip
    """One row per foreground class: the image with its points, then the signed map of each
    distance (``maps[kind]``: ``(K-1, H, W)``)."""
    from patrec.core.report import pyplot as _plt
    from patrec.core.report import save_figure as _save

    plt = _plt()
    rows, kinds = len(class_names), list(maps)
    fig, axes = plt.subplots(rows, 1 + len(kinds), figsize=(2.3 * (1 + len(kinds)), 2.3 * rows),
                             squeeze=False)  # fmt: skip
    img = image.permute(1, 2, 0).numpy() if image.shape[0] == 3 else image[0].numpy()
    for r, cname in enumerate(class_names):
        ax = axes[r, 0]
        ax.imshow(img, cmap="gray")
        ys, xs = np.nonzero(points.numpy() == r + 1)
        ax.scatter(xs, ys, c="red", s=14, marker="x")
        ax.set_title(f"{cname}: points")
        for c, kd in enumerate(kinds):
            ax = axes[r, c + 1]
            im = ax.imshow(maps[kd][r].numpy(), cmap="viridis")
            ax.scatter(xs, ys, c="red", s=8, marker="x")
            ax.set_title(f"phi {kd}")
            fig.colorbar(im, ax=ax, fraction=0.046)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.tight_layout()
    return _save(fig, Path(path))


def recipe(cfg: PointBoundaryConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """Train every variant over the seeds on point labels; compare test Dice / HD95.

    The signed maps of each distance are computed once (points use ``data.point_seed``).
    ``data``: an optional :class:`~patrec.core.segmentation.SegmentationData` instead of the
    embedded task. A (variant, seed) run with ``result.json`` is read back, not retrained.

    Writes ``metrics.json`` (per variant: ``dice``, ``iou``, ``hd95`` and their per-class
    groups, mean ± std over seeds; ``map_seconds`` per distance), ``distance_maps.png``,
    ``dice.png``, ``hd95.png``, ``dice_per_class_by_group.png``,
    ``hd95_per_class_by_group.png``, ``val_dice_curves.png``, ``examples_<variant>.png``,
    ``runs/<variant>/seed<k>/`` and ``model/`` (the L_B^mbd U-Net, first seed).
    """
    import time

    from patrec.core.config import validate_config
    from patrec.core.experiment import Experiment, run_experiment
    from patrec.core.segmentation import one_hot_masks, plot_segmentation

    validate_config(cfg)
    if data is not None and not isinstance(data, SegmentationData):
        raise InputError(f"data must be a SegmentationData, got {type(data).__name__}")
    task = load_task(cfg, data)
    out = Path(out_dir)
    k = task.num_classes
    kinds = list(DISTANCES)  # all four: the maps figure shows every distance
    maps: dict[str, Tensor] = {}
    map_seconds: dict[str, float] = {}
    for kd in kinds:
        t0 = time.perf_counter()
        maps[kd] = point_distance_maps(task.x_train, task.points, k, kd, lam=cfg.distance.lam,
                                       absent_value=cfg.distance.absent_value)  # fmt: skip
        map_seconds[kd] = time.perf_counter() - t0
    n_show = min(6, len(task.x_test))
    ours = "lb_mbd" if "lb_mbd" in cfg.variants else cfg.variants[-1]

    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        vm = maps[variant[3:]] if variant.startswith("lb_") else None
        net, hist, met = train_variant(cfg, variant, seed, task, vm, run_dir)
        pred = predict(net, task.x_test[:n_show])
        return {
            "metrics": met,
            "history": hist,
            "tensors": {"pred": pred},
            "model": net,  # core's UNet
            "example": task.x_test[:2].cpu(),
        }

    def plots(exp: Experiment) -> list[Path]:
        written = [plot_distance_maps(task.x_train[0], task.points[0],
                                      {kd: maps[kd][0] for kd in kinds}, task.class_names,
                                      out / "distance_maps.png")]  # fmt: skip
        truth = one_hot_masks(task.y_test[:n_show], k)[:, 1:]
        for v in cfg.variants:
            pred = exp.results[v][0]["tensors"]["pred"].long()
            written.append(plot_segmentation(task.x_test[:n_show], truth,
                                             one_hot_masks(pred, k)[:, 1:],
                                             out / f"examples_{v}.png",
                                             suptitle=f"{v}, seed {cfg.seeds[0]}"))  # fmt: skip
        return written

    return run_experiment(
        out,
        method="medical-imaging/point_boundary_loss",
        variants=cfg.variants,
        seeds=cfg.seeds,
        run_one=run_one,
        primary="dice",
        ours=ours,
        bars=("dice", "hd95"),
        curves={"val/dice": "validation Dice per epoch (model selection)"}
        if cfg.select_best
        else None,
        labels={
            "dice": "Dice (foreground mean)",
            "hd95": "HD95 (pixels, lower is better)",
            "val/dice": "Dice",
            "dice_per_class": "Dice",
            "hd95_per_class": "HD95 (pixels)",
        },  # fmt: skip
        extra={
            "dataset": task.name,
            "classes": list(task.class_names),
            "alpha": cfg.loss.alpha,
            "points_per_class": cfg.data.points_per_class,
            "epochs": cfg.train.epochs,
            "map_seconds": map_seconds,
        },
        plots=plots,
    ).metrics


METHOD = Method(
    name="medical-imaging/point_boundary_loss",
    title="Leveraging Point Annotations in Segmentation Learning with Boundary Loss",
    paper="002/13",
    citation=(
        "E. Breznik, H. Kervadec, F. Malmberg, J. Kullberg, H. Ahlström, M. de Bruijne, "
        "R. Strand. Leveraging Point Annotations in Segmentation Learning with Boundary Loss. "
        "ICPR 2024, LNCS 15313, pp. 194-210."
    ),
    task=(
        "point-supervised multi-class segmentation: image (N, C, H, W) + point labels (N, H, W) "
        "-> class logits (N, K, H, W), trained with partial CE + alpha L_B on signed "
        "Euclidean / geodesic / intensity / minimum-barrier distance maps"
    ),
    config=PointBoundaryConfig,
    presets={"paper": paper_config, "smoke": smoke_config},
    recipe=recipe,
    model="patrec.core.segmentation:UNet",
    baselines=(
        "partial_ce: partial cross-entropy on the points alone (lower bound)",
        "full_ce: cross-entropy on the full masks (upper bound)",
        "crf_loss: partial CE + the dense CRF loss of Tang et al. [29] (w 2e-9, sigma_rgb 15, "
        "sigma_xy 100, scale 0.5)",
        "lb_euc: partial CE + alpha L_B with the Euclidean map (the original boundary loss)",
    ),
    status="done",
    summary=(
        "Signed distance maps from point labels (eq. 1) with Euclidean, geodesic (eq. 3, "
        "lambda 0.5), intensity (lambda 0) and minimum-barrier (eq. 4) distances; boundary loss "
        "mean(softmax x map) (eq. 2) beside partial CE on foreground points (eq. 5); maps of "
        "ones for absent classes. Compared with full CE, partial CE and the dense CRF loss."
    ),
    paper_numbers={
        "ACDC E-Net, mean 3-D DSC / HD95 (Table 1)": (
            "L_B^mbd 0.7936 / 5.272, L_B^int 0.7834 / 4.926, L_B^geo 0.782 / 4.705, "
            "L_B^euc 0.7742 / 4.069; CRF-loss 0.4558 / 26.781; partial CE 0.2137 / 65.528; "
            "full CE 0.8748 / 1.754"
        ),
        "ACDC nnU-Net, mean DSC (Table 2)": (
            "L_B^mbd 0.687, L_B^geo 0.679, L_B^int 0.575, L_B^euc 0.338; CRF-loss 0.300; "
            "partial CE 0.100; full CE 0.911"
        ),
    },
    measured={
        "smoke (fundus 48x48, disc rim + cup, 3 points/class, 3-level U-Net, 15 epochs, "
        "3 seeds), test Dice / HD95 (px)": (
            "full CE 0.785 ± 0.151 / 2.45; partial CE 0.756 ± 0.129 / 16.0; CRF-loss 0.793 ± "
            "0.098 / 11.9; L_B^euc 0.898 ± 0.009 / 1.47; L_B^geo 0.517 ± 0.215 / 25.0; "
            "L_B^int 0.452 ± 0.019 / 34.6; L_B^mbd 0.653 ± 0.198 / 14.1"
        ),
        "reading": (
            "the paper's ordering (mbd > int/geo > euc > CRF-loss) does not reproduce at this "
            "scale: the Euclidean map wins, the CRF loss is only a little above partial CE, "
            "and the intensity-aware maps lose the thin disc-rim class (Dice 0 on every seed "
            "for int, on 1 of 3 seeds for geo and mbd); the cup is found by every L_B variant "
            "but geo"
        ),
    },
    test_overrides=(
        "data.n_train=3",
        "data.n_val=1",
        "data.n_test=2",
        "data.size=16",
        "model.widths=[4,8]",
        "train.epochs=1",
        "train.batch_size=3",
        "seeds=[0]",
    ),
)
