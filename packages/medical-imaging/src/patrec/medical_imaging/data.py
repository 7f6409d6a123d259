"""Segmentation data for patrec-medical-imaging: embedded tasks with known masks, and loaders.

Embedded tasks are built on real images that ship with scikit-image, with regions planted at
known places, so every pixel's label is known exactly:

* :func:`lesion_task`: lesion-like blobs (irregular outline, changed colour and texture)
  planted on crops of the pathology image ``immunohistochemistry()``, ``cell()``, the
  fundus ``retina()`` or ``microaneurysms()``; one class ``"lesion"``.
* :func:`fundus_task`: an optic disc and cup (two nested soft-edged ellipses, bright and
  yellowish, with the vessels of the background running through them) planted on crops of
  ``retina()`` away from its real disc; classes ``("disc", "cup")`` as in RIGA+.
  ``domains=`` adds test sets from :data:`FUNDUS_DOMAINS`: the same task seen through other
  "cameras" (colour, gamma, contrast, blur and noise shifts), for domain-generalisation.

:func:`apply_shift` applies one such shift to any image batch; :func:`sample_point_labels`
turns masks into sparse point annotations. Loaders for the papers' datasets read a local
path and never download: :func:`load_kvasir_seg`, :func:`load_isic`, :func:`load_riga_plus`,
:func:`load_acdc`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from patrec.core.data import require_path
from patrec.core.errors import DataError, InputError
from patrec.core.segmentation import (
    SegmentationData,
    check_binary_mask,
    load_segmentation_folder,
    one_hot_masks,
)

__all__ = [
    "FUNDUS_DOMAINS",
    "IGNORE_INDEX",
    "LESION_BACKGROUNDS",
    "apply_shift",
    "fundus_task",
    "lesion_task",
    "load_acdc",
    "load_isic",
    "load_kvasir_seg",
    "load_riga_plus",
    "masks_to_index",
    "points_to_label_map",
    "sample_point_labels",
]

IGNORE_INDEX = -1
"""Label of unannotated pixels in point-label maps (use as ``ignore_index`` of the CE)."""

LESION_BACKGROUNDS = ("ihc", "cell", "retina", "microaneurysms")


# -- embedded images ------------------------------------------------------------------------
@functools.cache
def _background(name: str) -> np.ndarray:
    """A float32 ``(H, W, 3)`` image in [0, 1] from ``skimage.data``."""
    from skimage import data

    loaders: dict[str, Callable[[], np.ndarray]] = {
        "ihc": data.immunohistochemistry,
        "cell": data.cell,
        "retina": data.retina,
        "microaneurysms": data.microaneurysms,
    }
    if name not in loaders:
        raise InputError(f"unknown background {name!r}; accepted: {', '.join(loaders)}")
    img = np.asarray(loaders[name](), dtype=np.float32)
    img = img / 255.0 if img.max() > 1.0 else img
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if name == "retina":  # 1411 px: halve once, the crops are small anyway
        from skimage.transform import rescale

        img = rescale(img, 0.5, channel_axis=-1, anti_aliasing=True).astype(np.float32)
    return np.ascontiguousarray(img[..., :3])


@functools.cache
def _retina_geometry() -> tuple[np.ndarray, tuple[int, int]]:
    """Field-of-view mask of the half-size retina and the centre of its real optic disc."""
    from scipy import ndimage

    img = _background("retina")
    lum = img.mean(-1)
    fov = ndimage.binary_erosion(lum > 0.08, iterations=8)
    smooth = ndimage.gaussian_filter(lum * fov, 12)
    cy, cx = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    return fov, (int(cy), int(cx))


def _crop(img: np.ndarray, y: int, x: int, side: int, size: int) -> np.ndarray:
    from skimage.transform import resize

    patch = img[y : y + side, x : x + side]
    return np.asarray(resize(patch, (size, size), anti_aliasing=True), dtype=np.float32)


def _random_crops(
    name: str, n: int, size: int, side: int, rng: np.random.Generator
) -> list[np.ndarray]:
    img = _background(name)
    h, w = img.shape[:2]
    side = min(side, h, w)
    out: list[np.ndarray] = []
    if name == "retina":
        fov, (dy, dx) = _retina_geometry()
        tries = 0
        while len(out) < n:
            tries += 1
            y, x = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
            cy, cx = y + side / 2, x + side / 2
            inside = fov[y, x] and fov[y + side - 1, x + side - 1]
            inside = inside and fov[y, x + side - 1] and fov[y + side - 1, x]
            far = np.hypot(cy - dy, cx - dx) > side * 1.2
            if (inside and far) or tries > 200 * n:
                out.append(_crop(img, y, x, side, size))
    else:
        for _ in range(n):
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            out.append(_crop(img, y, x, side, size))
    return out


def _check_task_args(n_train: int, n_test: int, size: int) -> None:
    if n_train < 1 or n_test < 1:
        raise InputError(f"n_train and n_test must be >= 1, got {n_train}, {n_test}")
    if size < 16:
        raise InputError(f"size must be >= 16 pixels, got {size}")


def _to_tensor(images: list[np.ndarray], masks: list[np.ndarray]) -> tuple[Tensor, Tensor]:
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous().clamp(0, 1)
    y = torch.from_numpy(np.stack(masks)).bool()
    return x.float(), y


# -- lesions --------------------------------------------------------------------------------
def _blob(size: int, rng: np.random.Generator) -> np.ndarray:
    """An irregular blob: a smoothed random field thresholded inside a random ellipse."""
    from scipy import ndimage

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = rng.uniform(0.25, 0.75, 2) * size
    ry, rx = rng.uniform(0.10, 0.22, 2) * size
    th = rng.uniform(0, np.pi)
    dy, dx = yy - cy, xx - cx
    u = (dx * np.cos(th) + dy * np.sin(th)) / rx
    v = (-dx * np.sin(th) + dy * np.cos(th)) / ry
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 12)
    field = field / (np.abs(field).max() + 1e-8)
    blob = (u**2 + v**2) < 1.0 + 0.6 * field
    lab, n = ndimage.label(blob)
    if n > 1:  # keep the largest component: one lesion per blob
        sizes = ndimage.sum(blob, lab, range(1, n + 1))
        blob = lab == (int(np.argmax(sizes)) + 1)
    return np.asarray(blob)


def lesion_task(
    n_train: int = 48,
    n_test: int = 24,
    *,
    size: int = 64,
    background: str = "ihc",
    max_lesions: int = 2,
    contrast: float = 0.5,
    seed: int = 0,
) -> SegmentationData:
    """Lesion-like regions planted on crops of a real image; one class ``"lesion"``.

    Each image gets 1..``max_lesions`` blobs (:func:`_blob`). Inside a blob the background
    is smoothed (its texture weakens) and tinted darker and redder by ``contrast`` (0: the
    lesion is invisible, 1: strong); its edge is softened over ~1 pixel, as real lesion
    borders are. Train and test images come from disjoint random streams.
    """
    from scipy import ndimage

    _check_task_args(n_train, n_test, size)
    if background not in LESION_BACKGROUNDS:
        raise InputError(
            f"unknown background {background!r}; accepted: {', '.join(LESION_BACKGROUNDS)}"
        )
    if not 0.0 <= contrast <= 1.0 or max_lesions < 1:
        raise InputError(f"contrast must be in [0, 1] and max_lesions >= 1, got {contrast}")
    side = max(size, min(_background(background).shape[:2]) // 4)

    def make(n: int, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        images, masks = [], []
        for crop in _random_crops(background, n, size, side, rng):
            mask = np.zeros((size, size), bool)
            for _ in range(int(rng.integers(1, max_lesions + 1))):
                mask |= _blob(size, rng)
            soft = ndimage.gaussian_filter(mask.astype(np.float32), 1.0)[..., None]
            smooth = ndimage.gaussian_filter(crop, (1.5, 1.5, 0))
            tint = np.array([0.95, 0.55, 0.6], np.float32) * rng.uniform(0.8, 1.0)
            lesion = smooth * (1 - contrast) + contrast * tint * smooth.mean(-1, keepdims=True)
            images.append(crop * (1 - soft) + lesion * soft)
            masks.append(mask[None])
        return _to_tensor(images, masks)

    ss = np.random.SeedSequence([seed, 0x1E5])
    r_train, r_test = (np.random.default_rng(s) for s in ss.spawn(2))
    x_tr, y_tr = make(n_train, r_train)
    x_te, y_te = make(n_test, r_test)
    return SegmentationData(
        x_tr, y_tr, x_te, y_te, class_names=("lesion",), name=f"lesion-{background}"
    )


# -- fundus ---------------------------------------------------------------------------------
def _ellipse(size: int, cy: float, cx: float, ry: float, rx: float, th: float) -> np.ndarray:
    """Normalised radius ``r`` of an ellipse (r < 1 inside) on a ``size x size`` grid."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    u = (dx * np.cos(th) + dy * np.sin(th)) / rx
    v = (-dx * np.sin(th) + dy * np.cos(th)) / ry
    return np.asarray(np.sqrt(u**2 + v**2))


def _plant_disc(crop: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    size = crop.shape[0]
    cy, cx = size / 2 + rng.uniform(-0.12, 0.12, 2) * size
    rd = rng.uniform(0.20, 0.30) * size
    ry, rx = rd * rng.uniform(0.9, 1.1), rd * rng.uniform(0.85, 1.0)
    th = rng.uniform(0, np.pi)
    ratio = rng.uniform(0.35, 0.65)  # cup-to-disc ratio
    r_disc = _ellipse(size, cy, cx, ry, rx, th)
    r_cup = _ellipse(size, cy, cx, ry * ratio, rx * ratio, th)
    edge = 1.5 / rd  # ~1.5 px soft edge
    a_disc = 1.0 / (1.0 + np.exp((r_disc - 1.0) / edge))
    a_cup = 1.0 / (1.0 + np.exp((r_cup - 1.0) / (edge / ratio)))
    disc_col = np.array([0.98, 0.78, 0.45], np.float32) * rng.uniform(0.85, 1.0)
    cup_col = np.array([1.0, 0.93, 0.75], np.float32)
    vessels = crop.mean(-1, keepdims=True) - crop.mean()  # keep the background's vessels
    out = crop * (1 - 0.75 * a_disc[..., None]) + 0.75 * a_disc[..., None] * disc_col
    out = out * (1 - 0.6 * a_cup[..., None]) + 0.6 * a_cup[..., None] * cup_col
    out = out + 0.5 * vessels * a_disc[..., None]
    masks = np.stack([r_disc < 1.0, r_cup < 1.0])
    return np.clip(out, 0, 1).astype(np.float32), masks


def _shift_fn(kind: str) -> Callable[[Tensor, float, torch.Generator], Tensor]:
    def contrast(x: Tensor, s: float, g: torch.Generator) -> Tensor:
        m = x.mean(dim=(1, 2, 3), keepdim=True)
        return m + (x - m) * (1.0 - 0.6 * s)

    def gamma(x: Tensor, s: float, g: torch.Generator) -> Tensor:
        return x.clamp_min(0).pow(1.0 + 1.2 * s) * (1.0 - 0.25 * s)

    def hue(x: Tensor, s: float, g: torch.Generator) -> Tensor:
        if x.shape[1] != 3:
            return x
        mix = torch.tensor(
            [[1 - 0.5 * s, 0.4 * s, 0.1 * s], [0.1 * s, 1 - 0.3 * s, 0.2 * s], [0.3 * s, 0.0, 1]],
            dtype=x.dtype,
        )
        return torch.einsum("oc,nchw->nohw", mix, x)

    def noise(x: Tensor, s: float, g: torch.Generator) -> Tensor:
        return x + 0.12 * s * torch.randn(x.shape, generator=g, dtype=x.dtype)

    def blur(x: Tensor, s: float, g: torch.Generator) -> Tensor:
        import kornia

        sigma = 0.3 + 1.5 * s
        k = 2 * int(3 * sigma) + 1
        return kornia.filters.gaussian_blur2d(x, (k, k), (sigma, sigma))

    fns = {"contrast": contrast, "gamma": gamma, "hue": hue, "noise": noise, "blur": blur}
    if kind not in fns:
        raise InputError(f"unknown shift {kind!r}; accepted: {', '.join(fns)}")
    return fns[kind]


def apply_shift(images: Tensor, kind: str, strength: float = 1.0, *, seed: int = 0) -> Tensor:
    """A test-time appearance shift of ``(N, C, H, W)`` images in [0, 1].

    ``kind``: ``contrast`` (towards the mean), ``gamma`` (darker, less contrast in shadows),
    ``hue`` (a fixed colour-mixing matrix, another camera's colour response), ``noise``
    (Gaussian, sd 0.12 x strength) or ``blur`` (Gaussian, sigma 0.3 + 1.5 x strength).
    ``strength`` in [0, 1]; 0 leaves the images unchanged (except noise/blur's minimum).
    """
    if not isinstance(images, Tensor) or images.dim() != 4:
        raise InputError(f"images must be (N, C, H, W), got {getattr(images, 'shape', images)}")
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"strength must be in [0, 1], got {strength}")
    g = torch.Generator().manual_seed(seed)
    return _shift_fn(kind)(images.float(), strength, g).clamp(0, 1)


FUNDUS_DOMAINS: dict[str, tuple[tuple[str, float], ...]] = {
    "source": (),
    "dark": (("gamma", 0.8),),
    "colour": (("hue", 1.0),),
    "lowcontrast": (("contrast", 0.8), ("blur", 0.4)),
    "noisy": (("noise", 0.6), ("hue", 0.4)),
}
"""Unseen fundus "domains": sequences of :func:`apply_shift` steps applied to test images."""


def fundus_task(
    n_train: int = 48,
    n_test: int = 24,
    *,
    size: int = 64,
    domains: Sequence[str] = ("dark", "colour", "lowcontrast", "noisy"),
    seed: int = 0,
) -> SegmentationData:
    """Optic disc and cup planted on real fundus background; classes ``("disc", "cup")``.

    Masks are multi-label as in RIGA+: the cup lies inside the disc, so a cup pixel is also a
    disc pixel. The training set and ``x_test`` are the source domain; ``data.domains[name]``
    holds fresh images (another random stream) seen through :data:`FUNDUS_DOMAINS[name]`.
    """
    _check_task_args(n_train, n_test, size)
    unknown = [d for d in domains if d not in FUNDUS_DOMAINS]
    if unknown:
        raise InputError(f"unknown domains {unknown}; accepted: {', '.join(FUNDUS_DOMAINS)}")
    side = 3 * size if size <= 96 else 2 * size

    def make(n: int, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        images, masks = [], []
        for crop in _random_crops("retina", n, size, side, rng):
            img, m = _plant_disc(crop, rng)
            images.append(img)
            masks.append(m)
        return _to_tensor(images, masks)

    streams = np.random.SeedSequence([seed, 0xF0D]).spawn(2 + len(domains))
    x_tr, y_tr = make(n_train, np.random.default_rng(streams[0]))
    x_te, y_te = make(n_test, np.random.default_rng(streams[1]))
    extra = {}
    for i, name in enumerate(domains):
        x, y = make(n_test, np.random.default_rng(streams[2 + i]))
        for j, (kind, strength) in enumerate(FUNDUS_DOMAINS[name]):
            x = apply_shift(x, kind, strength, seed=seed * 1000 + 10 * i + j)
        extra[name] = (x, y)
    return SegmentationData(
        x_tr, y_tr, x_te, y_te, class_names=("disc", "cup"), name="fundus", domains=extra
    )


# -- point labels ---------------------------------------------------------------------------
def masks_to_index(masks: Tensor) -> Tensor:
    """Binary ``(N, K, H, W)`` masks -> ``(N, H, W)`` labels: 0 background, k+1 for class k.

    Where masks overlap (nested disc/cup), the later class wins: a cup pixel is label 2.
    """
    m = check_binary_mask(masks, "masks")
    if m.dim() != 4:
        raise InputError(f"masks must be (N, K, H, W), got {tuple(m.shape)}")
    idx = torch.zeros(m.shape[0], *m.shape[2:], dtype=torch.long)
    for k in range(m.shape[1]):
        idx[m[:, k]] = k + 1
    return idx


def sample_point_labels(
    labels: Tensor, points_per_class: int = 1, *, num_classes: int | None = None, seed: int = 0
) -> Tensor:
    """Sparse point annotations from dense labels ``(N, H, W)`` (0 = background).

    For each image and each class present in it (background included), ``points_per_class``
    pixels are drawn uniformly from the class region; every other pixel is
    :data:`IGNORE_INDEX`. Returns a ``(N, H, W)`` long tensor.
    """
    if not isinstance(labels, Tensor) or labels.dim() != 3 or labels.is_floating_point():
        raise InputError(f"labels must be an integer (N, H, W) tensor, got {labels!r:.60}")
    if points_per_class < 1:
        raise InputError(f"points_per_class must be >= 1, got {points_per_class}")
    k = int(labels.max()) + 1 if num_classes is None else num_classes
    one_hot_masks(labels, k)  # validates the value range
    g = torch.Generator().manual_seed(seed)
    out = torch.full_like(labels, IGNORE_INDEX, dtype=torch.long)
    for i in range(labels.shape[0]):
        flat = labels[i].reshape(-1)
        for c in range(k):
            where = torch.nonzero(flat == c).squeeze(1)
            if where.numel() == 0:
                continue
            pick = where[torch.randperm(where.numel(), generator=g)[:points_per_class]]
            out[i].view(-1)[pick] = c
    return out


def points_to_label_map(points: Tensor, point_classes: Tensor, shape: tuple[int, int]) -> Tensor:
    """``(P, 2)`` integer ``(row, col)`` points with classes ``(P,)`` -> ``(H, W)`` label map.

    Unannotated pixels are :data:`IGNORE_INDEX`. Raises :class:`InputError` for points
    outside the image or negative classes.
    """
    h, w = shape
    if points.dim() != 2 or points.shape[1] != 2 or points.shape[0] != point_classes.numel():
        raise InputError(
            f"points must be (P, 2) with P classes, got {tuple(points.shape)} and "
            f"{tuple(point_classes.shape)}"
        )
    p = points.long()
    outside = (p[:, 0] < 0) | (p[:, 0] >= h) | (p[:, 1] < 0) | (p[:, 1] >= w)
    if bool(outside.any()):
        raise InputError(f"points {p[outside][:3].tolist()} lie outside the {h}x{w} image")
    if point_classes.numel() and int(point_classes.min()) < 0:
        raise InputError("point classes must be >= 0")
    out = torch.full((h, w), IGNORE_INDEX, dtype=torch.long)
    out[p[:, 0], p[:, 1]] = point_classes.long()
    return out


# -- the papers' datasets, from a local path ------------------------------------------------
def load_kvasir_seg(
    root: str | Path, *, size: int = 128, limit: int | None = None
) -> tuple[Tensor, Tensor]:
    """Kvasir-SEG as distributed: ``root/images/*.jpg`` and ``root/masks/*.jpg``."""
    return load_segmentation_folder(root, size=size, limit=limit)


def load_isic(
    root: str | Path, *, size: int = 128, limit: int | None = None
) -> tuple[Tensor, Tensor]:
    """ISIC 2018 task 1: ``root/ISIC2018_Task1-2_Training_Input/ISIC_*.jpg`` with
    ``root/ISIC2018_Task1_Training_GroundTruth/ISIC_*_segmentation.png``."""
    return load_segmentation_folder(
        root,
        image_dir="ISIC2018_Task1-2_Training_Input",
        mask_dir="ISIC2018_Task1_Training_GroundTruth",
        mask_suffix="_segmentation",
        size=size,
        limit=limit,
    )


def load_riga_plus(
    root: str | Path, domain: str, *, size: int = 128, limit: int | None = None
) -> tuple[Tensor, Tensor]:
    """One RIGA+ domain (``BinRushed``, ``Magrabia``, ``MESSIDOR_Base1`` ...) from
    ``root/<domain>/images/*`` and ``root/<domain>/masks/*`` (same stems).

    Masks are grey-level label images: 0 background, a middle level (e.g. 128) for the disc
    rim, 255 for the cup. Returns images and ``(N, 2, size, size)`` disc/cup masks (the disc
    mask includes the cup).
    """
    base = require_path(root, "RIGA+ folder")
    if not (base / domain).is_dir():
        found = sorted(p.name for p in base.iterdir() if p.is_dir())
        raise DataError(f"RIGA+ domain {domain!r} not in {base}; found {found}")
    x, _ = load_segmentation_folder(base / domain, size=size, limit=limit)
    from skimage import io
    from skimage.transform import resize

    mdir = base / domain / "masks"
    stems = sorted(p.stem for p in (base / domain / "images").iterdir() if p.is_file())
    masks = []
    for stem in stems[: x.shape[0]]:
        mp = next(mdir.glob(stem + ".*"))
        m = np.asarray(io.imread(mp), dtype=np.float32)
        m = m[..., 0] if m.ndim == 3 else m
        m = resize(m, (size, size), order=0, preserve_range=True, anti_aliasing=False)
        top = float(m.max()) if m.max() > 0 else 1.0
        masks.append(np.stack([m > 0.25 * top, m > 0.75 * top]))
    return x, torch.from_numpy(np.stack(masks))


def load_acdc(
    root: str | Path, *, size: int = 128, limit: int | None = None
) -> tuple[Tensor, Tensor]:
    """ACDC cine-MRI slices: ``root/patientXXX/patientXXX_frameYY.nii.gz`` with ``..._gt.nii.gz``.

    Every annotated frame's slices become images ``(N, 1, size, size)`` (min-max scaled per
    volume) and masks ``(N, 3, size, size)`` for classes (RV, myocardium, LV) = labels 1, 2, 3.
    """
    import nibabel as nib
    import torch.nn.functional as F

    base = require_path(root, "ACDC folder")
    gts = sorted(base.glob("patient*/patient*_frame*_gt.nii*"))
    if not gts:
        raise DataError(f"no patient*/patient*_frame*_gt.nii.gz files under {base}")
    xs, ys = [], []
    for gt in gts:
        img_path = Path(str(gt).replace("_gt.nii", ".nii"))
        if not img_path.is_file():
            raise DataError(f"missing image {img_path.name} for {gt.name}")
        vol = np.asarray(nib.load(str(img_path)).get_fdata(), dtype=np.float32)  # type: ignore[attr-defined]
        lab = np.asarray(nib.load(str(gt)).get_fdata(), dtype=np.int64)  # type: ignore[attr-defined]
        vol = (vol - vol.min()) / max(float(vol.max() - vol.min()), 1e-6)
        for z in range(vol.shape[-1]):
            x = torch.from_numpy(vol[..., z])[None, None]
            y = torch.from_numpy(lab[..., z])[None, None].float()
            xs.append(F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False))
            ys.append(F.interpolate(y, size=(size, size), mode="nearest")[:, 0].long())
            if limit is not None and len(xs) >= limit:
                break
        if limit is not None and len(xs) >= limit:
            break
    labels = torch.cat(ys)
    return torch.cat(xs), one_hot_masks(labels.clamp(0, 3), 4)[:, 1:]
