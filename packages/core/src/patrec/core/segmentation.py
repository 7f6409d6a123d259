"""Segmentation for every patrec domain: a U-Net family, losses, metrics, mask plots, data.

Networks: :class:`UNet` (plain or residual blocks) with two plug points a method uses to put
its own parts into the standard encoder-decoder without copying it:

* ``block(in_ch, out_ch) -> nn.Module``: the conv block of every encoder and decoder level
  (default :class:`DoubleConv`; :class:`ResidualDoubleConv` with ``residual=True``);
* ``fusion(level, skip_ch, up_ch) -> nn.Module``: how a skip connection meets the upsampled
  decoder feature; the module is called as ``fusion(skip, up)`` and must expose
  ``out_channels`` (default :class:`ConcatFusion`, the U-Net's concatenation).

:meth:`UNet.forward_features` also returns every encoder and decoder feature map, for
methods that regularise features (sensitivity maps, deep supervision).

Losses (:func:`soft_dice_loss`, :func:`dice_bce_loss`) work on probabilities/logits of shape
``(N, C, H, W)`` against binary one-hot targets of the same shape. Metrics
(:func:`dice_score`, :func:`iou_score`, :func:`hd95`, :func:`segmentation_metrics`) take
binary masks ``(N, C, H, W)`` (or ``(N, H, W)`` for one class) and return one value per
sample and class; Dice and IoU come from torchmetrics, HD95 from torchmetrics' surface
distances. :func:`plot_segmentation` draws images with true and predicted contours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from patrec.core.checks import describe
from patrec.core.errors import DataError, InputError
from patrec.core.hub import PretrainedModel

__all__ = [
    "ConcatFusion",
    "DoubleConv",
    "ResidualDoubleConv",
    "SegmentationData",
    "UNet",
    "check_binary_mask",
    "check_image_mask_pair",
    "dice_bce_loss",
    "dice_score",
    "hd95",
    "iou_score",
    "load_segmentation_folder",
    "one_hot_masks",
    "pixel_scores",
    "plot_segmentation",
    "segmentation_metrics",
    "soft_dice_loss",
]

BlockFactory = Callable[[int, int], nn.Module]
FusionFactory = Callable[[int, int, int], nn.Module]


# -- input checks ---------------------------------------------------------------------------


def check_binary_mask(mask: object, name: str = "mask") -> Tensor:
    """Return ``mask`` as a bool tensor; raise :class:`InputError` unless it holds only 0/1."""
    if not isinstance(mask, Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype == torch.bool:
        return mask
    if mask.is_floating_point() and not bool(torch.isfinite(mask).all()):
        raise InputError(f"{name} contains NaN or inf")
    if not bool(((mask == 0) | (mask == 1)).all()):
        vals = torch.unique(mask)[:5].tolist()
        raise InputError(f"{name} must be binary (0/1 or bool); found values such as {vals}")
    return mask.bool()


def check_image_mask_pair(image: object, mask: object) -> None:
    """Images ``(N, C, H, W)`` and masks ``(N, H, W)`` or ``(N, K, H, W)`` of one size."""
    if not isinstance(image, Tensor) or image.dim() != 4:
        raise InputError(f"images must be a (N, C, H, W) tensor, got {describe(image)}")
    if not isinstance(mask, Tensor) or mask.dim() not in (3, 4):
        raise InputError(f"masks must be (N, H, W) or (N, K, H, W), got {describe(mask)}")
    if mask.shape[0] != image.shape[0] or mask.shape[-2:] != image.shape[-2:]:
        raise InputError(
            f"images {tuple(image.shape)} and masks {tuple(mask.shape)} differ in number or size"
        )


def _as_nchw(mask: Tensor, name: str) -> Tensor:
    m = check_binary_mask(mask, name)
    if m.dim() == 3:
        m = m.unsqueeze(1)
    if m.dim() != 4:
        raise InputError(f"{name} must be (N, H, W) or (N, C, H, W), got {tuple(mask.shape)}")
    return m


def one_hot_masks(labels: Tensor, num_classes: int) -> Tensor:
    """Index masks ``(N, H, W)`` with values in ``[0, num_classes)`` -> bool ``(N, K, H, W)``."""
    if labels.dim() != 3 or labels.is_floating_point():
        raise InputError(f"labels must be an integer (N, H, W) tensor, got {labels.dtype}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise InputError(f"label values must lie in [0, {num_classes}), got {labels.unique()}")
    return F.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).bool()


# -- networks -------------------------------------------------------------------------------
def _two_convs(in_ch: int, out_ch: int, *, last_relu: bool) -> nn.Sequential:
    """(3x3 conv, BN, ReLU), (3x3 conv, BN[, ReLU])."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if last_relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DoubleConv(nn.Module):
    """(3x3 conv, BN, ReLU) x 2, the U-Net level: ``(N, in, H, W) -> (N, out, H, W)``."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_ch, out_ch
        self.body = _two_convs(in_ch, out_ch, last_relu=True)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.body(x)
        return out


class ResidualDoubleConv(nn.Module):
    """A :class:`DoubleConv` with an identity (or 1x1-projected) shortcut: the ResUNet block."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_ch, out_ch
        self.body = _two_convs(in_ch, out_ch, last_relu=False)  # ReLU after the shortcut
        self.shortcut: nn.Module = (
            nn.Identity()
            if in_ch == out_ch
            else nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch))
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class ConcatFusion(nn.Module):
    """The U-Net skip: ``cat([skip, up], dim=1)``, ``out_channels = skip_ch + up_ch``."""

    def __init__(self, level: int, skip_ch: int, up_ch: int) -> None:
        super().__init__()
        self.level = level
        self.out_channels = skip_ch + up_ch

    def forward(self, skip: Tensor, up: Tensor) -> Tensor:
        return torch.cat([skip, up], dim=1)


@dataclass
class UNetFeatures:
    """What :meth:`UNet.forward_features` returns besides the logits."""

    encoder: list[Tensor] = field(default_factory=list)  # level 0 (full res) .. bottleneck
    decoder: list[Tensor] = field(default_factory=list)  # deepest decoder level .. level 0


class UNet(nn.Module, PretrainedModel):
    """U-Net (Ronneberger et al., 2015) with pluggable level blocks and skip fusions.

    Args:
        in_channels: image channels.
        out_channels: output maps (classes for segmentation, image channels for restoration).
        widths: channels per level, shallowest first; ``len(widths) - 1`` downsamplings, so
            ``H`` and ``W`` must be divisible by ``2 ** (len(widths) - 1)``.
        residual: residual level blocks (the ResUNet variant) when no ``block`` is given.
        block: ``block(in_ch, out_ch)`` for every level (overrides ``residual``).
        fusion: ``fusion(level, skip_ch, up_ch)``; its module is called ``fusion(skip, up)``
            and exposes ``out_channels``. Default: concatenation.
        upsample: ``"bilinear"`` (then a 1x1 conv halves the channels) or ``"transpose"``.

    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H, W)`` (logits; no activation).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        widths: Sequence[int] = (16, 32, 64, 128),
        *,
        residual: bool = False,
        block: BlockFactory | None = None,
        fusion: FusionFactory | None = None,
        upsample: str = "bilinear",
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2 or min(widths) < 1 or in_channels < 1 or out_channels < 1:
            raise InputError(
                f"UNet needs >= 2 positive widths and positive channels, got widths={widths}, "
                f"in={in_channels}, out={out_channels}"
            )
        if upsample not in ("bilinear", "transpose"):
            raise InputError(f"upsample must be 'bilinear' or 'transpose', got {upsample!r}")
        make_block: BlockFactory = block or (ResidualDoubleConv if residual else DoubleConv)
        make_fusion: FusionFactory = fusion or ConcatFusion
        self.widths = widths
        self.in_channels, self.out_channels = in_channels, out_channels
        self.encoder = nn.ModuleList()
        c = in_channels
        for w in widths:
            self.encoder.append(make_block(c, w))
            c = w
        self.pool = nn.MaxPool2d(2)
        self.ups = nn.ModuleList()
        self.fusions = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in range(len(widths) - 2, -1, -1):
            up_in, skip_ch = c, widths[level]
            if upsample == "transpose":
                self.ups.append(nn.ConvTranspose2d(up_in, skip_ch, 2, stride=2))
            else:
                self.ups.append(
                    nn.Sequential(
                        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                        nn.Conv2d(up_in, skip_ch, 1),
                    )
                )
            fuse = make_fusion(level, skip_ch, skip_ch)
            fused = getattr(fuse, "out_channels", None)
            if not isinstance(fused, int):
                raise InputError("a fusion module must expose an integer 'out_channels'")
            self.fusions.append(fuse)
            self.decoder.append(make_block(fused, skip_ch))
            c = skip_ch
        self.head = nn.Conv2d(c, out_channels, 1)

    @property
    def divisor(self) -> int:
        """``H`` and ``W`` must be multiples of this."""
        return int(2 ** (len(self.widths) - 1))

    def _check(self, x: Tensor) -> None:
        if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != self.in_channels:
            raise InputError(f"UNet expects (N, {self.in_channels}, H, W), got {describe(x)}")
        h, w = x.shape[-2:]
        if h % self.divisor or w % self.divisor:
            raise InputError(f"UNet input size {h}x{w} must be a multiple of {self.divisor}")

    def forward_features(
        self, x: Tensor, *, encoder_hook: Callable[[int, Tensor], Tensor] | None = None
    ) -> tuple[Tensor, UNetFeatures]:
        """Logits and every encoder/decoder feature map.

        ``encoder_hook(level, h)``, if given, replaces each encoder level's output before it
        goes down the encoder and across its skip (e.g. a channel re-weighting head after
        level 0); the returned features are the hooked ones.
        """
        self._check(x)
        feats = UNetFeatures()
        h = x
        for i, enc in enumerate(self.encoder):
            if i > 0:
                h = self.pool(h)
            h = enc(h)
            if encoder_hook is not None:
                h = encoder_hook(i, h)
            feats.encoder.append(h)
        for j, (up, fuse, dec) in enumerate(zip(self.ups, self.fusions, self.decoder, strict=True)):
            skip = feats.encoder[len(self.widths) - 2 - j]
            h = dec(fuse(skip, up(h)))
            feats.decoder.append(h)
        return self.head(h), feats

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)[0]


# -- losses ---------------------------------------------------------------------------------
def _check_pred_target(pred: Tensor, target: Tensor) -> None:
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise InputError("prediction and target must be tensors")
    if pred.dim() != 4 or pred.shape != target.shape:
        raise InputError(
            f"prediction and target must both be (N, C, H, W) of one shape, got "
            f"{tuple(pred.shape)} and {tuple(target.shape)}"
        )


def soft_dice_loss(
    probs: Tensor, target: Tensor, *, squared: bool = False, smooth: float = 1.0
) -> Tensor:
    """``1 - mean_{n,c} (2 sum p t + s) / (sum p + sum t + s)`` over pixels.

    ``squared=True`` uses ``sum p^2 + sum t^2`` in the denominator (the V-Net form).
    ``probs`` and ``target`` are ``(N, C, H, W)``; target values in ``[0, 1]``.
    """
    _check_pred_target(probs, target)
    t = target.to(probs.dtype)
    inter = (probs * t).sum(dim=(2, 3))
    if squared:
        denom = (probs * probs).sum(dim=(2, 3)) + (t * t).sum(dim=(2, 3))
    else:
        denom = probs.sum(dim=(2, 3)) + t.sum(dim=(2, 3))
    return 1.0 - ((2.0 * inter + smooth) / (denom + smooth)).mean()


def dice_bce_loss(logits: Tensor, target: Tensor, *, dice_weight: float = 1.0) -> Tensor:
    """Binary cross-entropy on logits plus ``dice_weight`` x :func:`soft_dice_loss` on sigmoids."""
    _check_pred_target(logits, target)
    t = target.to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, t)
    return bce + dice_weight * soft_dice_loss(torch.sigmoid(logits), t)


# -- metrics --------------------------------------------------------------------------------
def _pair(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    p, t = _as_nchw(pred, "prediction"), _as_nchw(target, "target")
    if p.shape != t.shape:
        raise InputError(f"prediction {tuple(p.shape)} and target {tuple(t.shape)} differ")
    return p, t


def dice_score(pred: Tensor, target: Tensor) -> Tensor:
    """Dice per sample and class, ``(N, C)``; 1 where both masks are empty (torchmetrics)."""
    from torchmetrics.functional.segmentation import dice_score as tm_dice

    p, t = _pair(pred, target)
    n, c = p.shape[:2]
    d = tm_dice(
        p.long(), t.long(), num_classes=c, include_background=True, average="none",
        input_format="one-hot", aggregation_level="samplewise",
    ).reshape(n, c)  # fmt: skip
    both_empty = (p.sum(dim=(2, 3)) == 0) & (t.sum(dim=(2, 3)) == 0)
    return torch.where(both_empty, torch.ones_like(d), torch.nan_to_num(d, nan=0.0)).float()


def iou_score(pred: Tensor, target: Tensor) -> Tensor:
    """Intersection over union per sample and class, ``(N, C)``; 1 where both are empty."""
    from torchmetrics.functional.segmentation import mean_iou

    p, t = _pair(pred, target)
    n, c = p.shape[:2]
    iou = mean_iou(p.long(), t.long(), num_classes=c, per_class=True, input_format="one-hot")
    iou = iou.reshape(n, c).float()
    both_empty = (p.sum(dim=(2, 3)) == 0) & (t.sum(dim=(2, 3)) == 0)
    return torch.where(both_empty, torch.ones_like(iou), torch.nan_to_num(iou, nan=0.0))


def hd95(pred: Tensor, target: Tensor, spacing: Sequence[float] | None = None) -> Tensor:
    """95th-percentile symmetric Hausdorff distance per sample and class, ``(N, C)``, in pixels.

    ``max(P95 d(pred edge -> target edge), P95 d(target edge -> pred edge))`` on the mask
    edges (torchmetrics' ``mask_edges`` and ``surface_distance``). Conventions: 0 when both
    masks are empty; the image diagonal (the largest possible distance) when exactly one is.
    """
    from torchmetrics.functional.segmentation.utils import mask_edges, surface_distance

    p, t = _pair(pred, target)
    n, c, h, w = p.shape
    sp = list(spacing) if spacing is not None else [1.0, 1.0]
    worst = math.hypot(h * sp[0], w * sp[1])
    out = torch.zeros(n, c)
    for i in range(n):
        for k in range(c):
            a, b = p[i, k], t[i, k]
            if not a.any() and not b.any():
                continue
            if not a.any() or not b.any():
                out[i, k] = worst
                continue
            ea, eb = (e.bool() for e in mask_edges(a, b, crop=False)[:2])
            d_ab = surface_distance(ea, eb, spacing=sp)
            d_ba = surface_distance(eb, ea, spacing=sp)
            out[i, k] = max(
                torch.quantile(d_ab.float(), 0.95).item(), torch.quantile(d_ba.float(), 0.95).item()
            )
    return out


def segmentation_metrics(pred: Tensor, target: Tensor) -> dict[str, float]:
    """Mean Dice, IoU and HD95 over samples and classes of binary masks."""
    return {
        "dice": float(dice_score(pred, target).mean()),
        "iou": float(iou_score(pred, target).mean()),
        "hd95": float(hd95(pred, target).mean()),
    }


def pixel_scores(
    pred: Tensor, target: Tensor, *, threshold: float = 0.5, bins: int = 15
) -> dict[str, float]:
    """Pixel-level scores of masks or probabilities ``(N, K, H, W)``, pooled per class.

    The pixels of the whole set are pooled per class (torchmetrics' binary metrics on the
    flattened class maps: one confusion table per class, not one per image), then the
    classes are averaged (macro). A ratio with a zero denominator is 0.

    Args:
        pred: binary masks, or probabilities in [0, 1] (thresholded at ``threshold``).
        target: binary masks of the same shape.
        threshold: the decision threshold on probabilities.
        bins: equal-width bins of the calibration errors.

    Returns:
        ``accuracy``, ``precision``, ``recall`` (= sensitivity), ``specificity``, ``f1``; for
        floating ``pred`` also ``ece`` = ``sum_b |B_b|/n |acc_b - conf_b|`` and ``mce`` =
        ``max_b |acc_b - conf_b|`` (the binary calibration errors of each class's
        probabilities).
    """
    from torchmetrics.functional.classification import (
        binary_accuracy,
        binary_calibration_error,
        binary_f1_score,
        binary_precision,
        binary_recall,
        binary_specificity,
    )

    from patrec.core.checks import check_int, check_scalar, check_tensor

    dims: dict[str, int] = {}
    probs = pred.is_floating_point() if isinstance(pred, Tensor) else False
    check_tensor(pred, "N K H W", name="prediction", dims=dims, probs=probs, binary=not probs)
    check_tensor(target, "N K H W", name="target", dims=dims, binary=True)
    check_scalar(threshold, "threshold", gt=0, lt=1)
    check_int(bins, "bins", ge=2)
    scores: dict[str, Callable[..., Tensor]] = {
        "accuracy": binary_accuracy,
        "precision": binary_precision,
        "recall": binary_recall,
        "specificity": binary_specificity,
        "f1": binary_f1_score,
    }
    per: dict[str, list[float]] = {k: [] for k in (*scores, *(("ece", "mce") if probs else ()))}
    for c in range(dims["K"]):
        p, y = pred[:, c].flatten().float(), target[:, c].flatten().long()
        for k, fn in scores.items():
            per[k].append(float(fn(p, y, threshold)))
        if probs:
            per["ece"].append(float(binary_calibration_error(p, y, n_bins=bins)))
            per["mce"].append(float(binary_calibration_error(p, y, n_bins=bins, norm="max")))
    return {k: sum(v) / len(v) for k, v in per.items()}


# -- data -----------------------------------------------------------------------------------
@dataclass
class SegmentationData:
    """Images ``(N, C, H, W)`` float in [0, 1] and binary masks ``(N, K, H, W)`` (bool).

    ``domains`` holds further test sets (e.g. unseen domains) as ``name -> (images, masks)``.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    class_names: tuple[str, ...]
    name: str = ""
    domains: dict[str, tuple[Tensor, Tensor]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for x, y in [(self.x_train, self.y_train), (self.x_test, self.y_test)] + list(
            self.domains.values()
        ):
            check_image_mask_pair(x, y)
            check_binary_mask(y, "masks")
            if y.dim() != 4 or y.shape[1] != len(self.class_names):
                raise InputError(
                    f"masks must be (N, {len(self.class_names)}, H, W) for classes "
                    f"{self.class_names}, got {tuple(y.shape)}"
                )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def load_segmentation_folder(
    root: str | Path,
    *,
    image_dir: str = "images",
    mask_dir: str = "masks",
    mask_suffix: str = "",
    size: int = 128,
    gray: bool = False,
    limit: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Read ``root/image_dir/<stem>.<ext>`` with ``root/mask_dir/<stem><mask_suffix>.<ext>``.

    The layout of Kvasir-SEG (``images/``, ``masks/``) and, with ``mask_suffix=
    "_segmentation"``, of ISIC. Images are resized to ``size x size`` (bilinear), masks
    (nearest) and thresholded at half their maximum. Returns ``(N, C, size, size)`` float
    images in [0, 1] and ``(N, 1, size, size)`` bool masks. Raises :class:`DataError` when
    the folders are missing, empty or unpaired.
    """
    from patrec.core.data import require_path

    base = require_path(root, "segmentation dataset folder")
    idir, mdir = base / image_dir, base / mask_dir
    if not idir.is_dir() or not mdir.is_dir():
        raise DataError(f"{base} must contain '{image_dir}/' and '{mask_dir}/' folders")
    masks = {p.stem: p for p in mdir.iterdir() if p.suffix.lower() in _IMAGE_EXT}
    pairs = []
    for p in sorted(idir.iterdir()):
        if p.suffix.lower() not in _IMAGE_EXT:
            continue
        m = masks.get(p.stem + mask_suffix)
        if m is None:
            raise DataError(f"no mask '{p.stem}{mask_suffix}.*' in {mdir} for image {p.name}")
        pairs.append((p, m))
        if limit is not None and len(pairs) >= limit:
            break
    if not pairs:
        raise DataError(f"no images ({', '.join(_IMAGE_EXT)}) in {idir}")
    from skimage import io

    xs, ys = [], []
    for ip, mp in pairs:
        img = np.asarray(io.imread(ip), dtype=np.float32)
        img = img[..., None] if img.ndim == 2 else img[..., :3]
        if gray and img.shape[-1] == 3:
            img = img.mean(-1, keepdims=True)
        img = img / max(float(img.max()), 1.0) if img.max() > 1 else img
        msk = np.asarray(io.imread(mp), dtype=np.float32)
        msk = msk[..., 0] if msk.ndim == 3 else msk
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]
        y = torch.from_numpy(msk)[None, None]
        xs.append(F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False))
        y = F.interpolate(y, size=(size, size), mode="nearest")
        ys.append(y > 0.5 * float(y.max()) if float(y.max()) > 0 else y > 0)
    return torch.cat(xs).clamp(0, 1), torch.cat(ys)


# -- plots ----------------------------------------------------------------------------------
def plot_segmentation(
    images: Tensor,
    targets: Tensor,
    preds: Tensor | None,
    path: str | Path,
    *,
    titles: Sequence[str] | None = None,
    max_items: int = 6,
    suptitle: str = "",
) -> Path:
    """Images with true (green) and predicted (red, dashed) mask contours, one per column.

    ``images`` ``(N, C, H, W)`` in [0, 1]; ``targets``/``preds`` binary ``(N, K, H, W)`` or
    ``(N, H, W)``; every class is outlined. Returns the PNG path.
    """
    from patrec.core.report import pyplot as _plt
    from patrec.core.report import save_figure as _save

    t = _as_nchw(targets, "targets")
    p = _as_nchw(preds, "predictions") if preds is not None else None
    check_image_mask_pair(images, t)
    n = min(images.shape[0], max_items)
    plt = _plt()
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.9), squeeze=False)
    for i in range(n):
        ax = axes[0, i]
        img = images[i].detach().float().cpu()
        shown: Any = img[0] if img.shape[0] == 1 else img[:3].permute(1, 2, 0)
        ax.imshow(shown.clamp(0, 1).numpy(), cmap="gray" if img.shape[0] == 1 else None)
        for k in range(t.shape[1]):
            if t[i, k].any():
                ax.contour(t[i, k].cpu().numpy().astype(float), levels=[0.5], colors="lime")
            if p is not None and p[i, k].any():
                ax.contour(
                    p[i, k].cpu().numpy().astype(float),
                    levels=[0.5],
                    colors="red",
                    linestyles="dashed",
                )
        ax.set_axis_off()
        if titles is not None and i < len(titles):
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle + "  (green: truth, red dashed: prediction)", fontsize=9)
    return _save(fig, Path(path))
