"""LungSSFNet: "Cystic Adenocarcinoma Segmentation Based on Multi-frequency and Multi-scale
SimAM Attention" (Zhang et al., ICPR 2024).

A U-Net (the paper uses nnU-Net's auto-configured 2D U-Net; here
:class:`patrec.core.segmentation.UNet`) with three additions:

* ``S``, :func:`simam` / :class:`SimAM`: parameter-free 3D attention. Each neuron ``t`` of
  a channel gets the minimal energy ``e_t* = 4 (sigma^2 + lambda) / ((t - mu)^2 + 2 sigma^2
  + 2 lambda)`` (eq. 4, from the energy of eq. 3) and the output is
  ``sigmoid(1 / E) * X`` (eq. 6).
* ``U``, :class:`SkipFusionUnit`: the skip connection. The deep feature ``X_DF`` (already
  upsampled to the skip's size) goes through SimAM, is concatenated with the shallow feature
  ``X_SF`` (eq. 2) and combined with their absolute difference:
  ``Y = alpha Conv(Cat(SimAM(X_DF), X_SF)) + beta Conv(|X_DF - X_SF|)`` (eq. 1), with
  learnable scalars ``alpha``, ``beta``.
* ``SSF``, :class:`SSFBlock`: multi-frequency in multi-scale SimAM attention after a level
  block. Three scale branches ``Y^s`` (eq. 5: avg-pool ``2^(s-1)``, two 3x3 convs, SimAM;
  the third branch is SimAM of ``Y`` alone); on each branch a DCT frequency channel
  attention (eq. 7, :class:`FrequencyChannelAttention`: top-K 2D DCT bases, global
  avg/max/min pooling, two shared FC layers) and a CBAM-style spatial attention (eq. 8,
  :class:`SpatialAttention`); ``F^s = Conv(alpha^s D^s + beta^s A^s)`` (eq. 9), and
  ``Y_out = Y + mean_s Up_s(F^s)`` (eq. 10).

:func:`build_lungssfnet` puts them into the U-Net through its plug points (``block=`` wraps
the encoder level blocks with an SSF block, ``fusion=`` is the skip fusion unit);
:func:`build_unet` is the same U-Net without them, the baseline. Loss: BCE + soft Dice
(Sec. 4.3, :func:`patrec.core.segmentation.dice_bce_loss`).

Where the text is silent (initial alpha/beta, SimAM's lambda, which K frequencies, the FC
reduction ratio, where the four SSF blocks sit) the choice is ours and is named in the
docstrings and in each config field's ``source``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from patrec.core.config import param
from patrec.core.errors import ConfigError, InputError
from patrec.core.registry import Method
from patrec.core.segmentation import (
    DoubleConv,
    SegmentationData,
    UNet,
    check_binary_mask,
    check_image_mask_pair,
    dice_bce_loss,
)
from patrec.core.train import TrainConfig

__all__ = [
    "METHOD",
    "FrequencyChannelAttention",
    "LungSSFConfig",
    "SSFBlock",
    "SSFLevel",
    "SimAM",
    "SkipFusionUnit",
    "SpatialAttention",
    "build_lungssfnet",
    "build_unet",
    "dct_basis",
    "dct_pool",
    "lowest_frequencies",
    "paper_config",
    "recipe",
    "simam",
    "smoke_config",
]

SIMAM_LAMBDA = 1e-4
"""SimAM's regulariser ``lambda`` (eq. 3-4); not stated in the paper, SimAM's own default."""


def _shape(x: object) -> str:
    return str(tuple(x.shape)) if isinstance(x, Tensor) else type(x).__name__


def _check_map(x: object, name: str = "x", channels: int | None = None) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise InputError(f"{name} must be a float (N, C, H, W) tensor, got {_shape(x)}")
    if channels is not None and x.shape[1] != channels:
        raise InputError(f"{name} must have {channels} channels, got {_shape(x)}")
    return x


# -- S: SimAM (eqs. 3, 4, 6) -------------------------------------------------------------------
def simam(x: Tensor, lam: float = SIMAM_LAMBDA) -> Tensor:
    """Parameter-free SimAM attention, ``(N, C, H, W) -> (N, C, H, W)``.

    Per channel, with ``M = H W``, ``mu`` the mean and ``sigma^2 = sum (x - mu)^2 / (M - 1)``:
    ``1 / e_t* = ((t - mu)^2 + 2 sigma^2 + 2 lambda) / (4 (sigma^2 + lambda))`` (eq. 4
    inverted) and the output is ``sigmoid(1 / E) * x`` (eq. 6). Needs ``H W >= 2``.
    """
    _check_map(x)
    if lam <= 0:
        raise InputError(f"SimAM lambda must be > 0, got {lam}")
    m = x.shape[-2] * x.shape[-1]
    if m < 2:
        raise InputError(f"SimAM needs at least 2 positions per channel, got {_shape(x)}")
    d2 = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
    var = d2.sum(dim=(2, 3), keepdim=True) / (m - 1)
    inv_energy = (d2 + 2 * var + 2 * lam) / (4 * (var + lam))  # 1 / e_t*, eq. 4
    return torch.sigmoid(inv_energy) * x  # eq. 6


class SimAM(nn.Module):
    """:func:`simam` as a module; it has no parameters."""

    def __init__(self, lam: float = SIMAM_LAMBDA) -> None:
        super().__init__()
        if lam <= 0:
            raise InputError(f"SimAM lambda must be > 0, got {lam}")
        self.lam = float(lam)

    def forward(self, x: Tensor) -> Tensor:
        return simam(x, self.lam)

    def extra_repr(self) -> str:
        return f"lambda={self.lam:g}"


# -- U: skip fusion unit (eqs. 1, 2) -----------------------------------------------------------
class SkipFusionUnit(nn.Module):
    """``Y = alpha Conv(Cat(SimAM(X_DF), X_SF)) + beta Conv(|X_DF - X_SF|)`` (eqs. 1-2).

    Called as ``unit(skip, up)`` by :class:`~patrec.core.segmentation.UNet`: ``skip`` is the
    shallow feature ``X_SF`` ``(N, C, H, W)``, ``up`` the deep feature ``X_DF`` already
    upsampled (bilinear + 1x1 conv) to the same shape, so ``Up`` of eq. 2 is the U-Net's own
    upsampling and SimAM acts on its output. Both convs are 3x3 (Sec. 3.2) and map to
    ``out_channels = skip_ch`` (our choice: the paper keeps the concatenation for context but
    its motivation is to spend less on shallow features; the decoder block then reads
    ``C`` instead of ``2C`` channels).

    ``alpha`` and ``beta`` are learnable scalars; their initial values are not stated; ours
    are ``alpha = 1, beta = 0``, so an untrained unit is the U-Net concatenation followed by
    a 3x3 conv and the subtraction path is learned in.
    """

    def __init__(
        self,
        level: int,
        skip_ch: int,
        up_ch: int,
        *,
        alpha: float = 1.0,
        beta: float = 0.0,
        lam: float = SIMAM_LAMBDA,
    ) -> None:
        super().__init__()
        if skip_ch != up_ch or skip_ch < 1:
            raise InputError(
                f"the subtraction |X_DF - X_SF| needs equal positive channels, got skip "
                f"{skip_ch} and up {up_ch}"
            )
        self.level = level
        self.out_channels = skip_ch
        self.simam = SimAM(lam)
        self.cat_conv = nn.Conv2d(skip_ch + up_ch, skip_ch, 3, padding=1)  # Conv(X_i), eq. 1
        self.sub_conv = nn.Conv2d(skip_ch, skip_ch, 3, padding=1)  # Conv(|X_DF - X_SF|)
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))
        self.beta = nn.Parameter(torch.tensor(float(beta)))

    def forward(self, skip: Tensor, up: Tensor) -> Tensor:
        _check_map(skip, "skip")
        _check_map(up, "up")
        if skip.shape != up.shape:
            raise InputError(f"skip {_shape(skip)} and up {_shape(up)} must have one shape")
        x_i = torch.cat([self.simam(up), skip], dim=1)  # eq. 2
        return self.alpha * self.cat_conv(x_i) + self.beta * self.sub_conv((up - skip).abs())


# -- SSF parts: DCT frequency channel attention (eq. 7), spatial attention (eq. 8) -----------
def dct_basis(u: int, v: int, height: int, width: int) -> Tensor:
    """The 2D DCT-II basis image ``B[h, w] = cos(pi u (h + 1/2) / H) cos(pi v (w + 1/2) / W)``.

    Returns ``(H, W)`` float32. The paper prints the ``+1/2`` on the frequency index; we use
    the DCT-II form of FcaNet/MADGNet, its source, in which ``(0, 0)`` is the constant 1.
    """
    if not (0 <= u < height and 0 <= v < width):
        raise InputError(f"frequency ({u}, {v}) must lie in [0, {height}) x [0, {width})")
    h = torch.arange(height, dtype=torch.float64)
    w = torch.arange(width, dtype=torch.float64)
    bh = torch.cos(math.pi * u * (h + 0.5) / height)
    bw = torch.cos(math.pi * v * (w + 0.5) / width)
    return (bh[:, None] * bw[None, :]).float()


def lowest_frequencies(k: int, height: int, width: int) -> list[tuple[int, int]]:
    """The ``k`` lowest 2D frequencies ``(u, v)`` in zig-zag order (``u + v``, then ``u``).

    Raises :class:`InputError` when ``k`` exceeds the ``H W`` components available.
    """
    if k < 1:
        raise InputError(f"the number of DCT frequencies K must be >= 1, got {k}")
    if k > height * width:
        raise InputError(
            f"K={k} DCT frequencies requested but a {height}x{width} map has only "
            f"{height * width}; lower K or use larger feature maps"
        )
    pairs = [(u, v) for u in range(height) for v in range(width)]
    pairs.sort(key=lambda p: (p[0] + p[1], p[0]))
    return pairs[:k]


def dct_pool(x: Tensor, freqs: list[tuple[int, int]]) -> Tensor:
    """Eq. 7: ``D^k[n, c] = sum_{h, w} x[n, c, h, w] B^{u_k, v_k}[h, w]``, ``-> (N, C, K)``."""
    _check_map(x)
    basis = torch.stack([dct_basis(u, v, x.shape[-2], x.shape[-1]) for u, v in freqs])
    return torch.einsum("nchw,khw->nck", x, basis.to(x))


@functools.lru_cache(maxsize=64)
def _basis_stack(k: int, height: int, width: int) -> Tensor:
    """The ``(K, H, W)`` bases of :func:`lowest_frequencies` (cached; do not modify)."""
    freqs = lowest_frequencies(k, height, width)
    return torch.stack([dct_basis(u, v, height, width) for u, v in freqs])


class FrequencyChannelAttention(nn.Module):
    """Multi-frequency channel attention of a scale branch (eq. 7, after MADGNet/FcaNet).

    For each of the ``K`` selected DCT bases ``B_k``, the map ``Y * B_k`` is pooled to
    ``Z_avg``, ``Z_max``, ``Z_min`` (global average, max and min pooling; ``Z_avg`` is eq. 7's
    ``D^{s,k} / (H W)``); each statistic is averaged over the ``K`` frequencies, passed
    through the shared FC pair ``W_2 ReLU(W_1 .)`` (``C -> C/r -> C``), summed and squashed:
    ``att = sigmoid(sum_z W_2 ReLU(W_1 Z))``; output ``att * Y``. ``(N, C, H, W) -> same``.

    Frequencies: the ``K`` lowest (zig-zag) of the branch's own ``H x W`` grid (our choice of
    "top-K": FcaNet's ranking is for 7x7 ImageNet maps). With ``K = 1`` only ``(0, 0)``, the
    constant basis, is used and the attention is CBAM's channel attention plus a min-pool
    term.
    """

    def __init__(self, channels: int, k: int = 16, reduction: int = 16) -> None:
        super().__init__()
        if channels < 1 or k < 1 or reduction < 1:
            raise InputError(
                f"channels, K and reduction must be >= 1, got {channels}, {k}, {reduction}"
            )
        self.channels, self.k = channels, k
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),  # W_1
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),  # W_2
        )

    def attention(self, y: Tensor) -> Tensor:
        """The channel weights ``(N, C)`` in (0, 1)."""
        _check_map(y, "Y^s", self.channels)
        h, w = y.shape[-2:]
        basis = _basis_stack(self.k, h, w).to(y)  # (K, H, W)
        z_avg = torch.einsum("nchw,khw->nc", y, basis) / (h * w * self.k)  # eq. 7 / HW
        z = (y.unsqueeze(2) * basis).flatten(3)  # (N, C, K, H W)
        z_max = z.max(dim=-1).values.mean(2)
        z_min = z.min(dim=-1).values.mean(2)
        return torch.sigmoid(self.fc(z_avg) + self.fc(z_max) + self.fc(z_min))

    def forward(self, y: Tensor) -> Tensor:
        return self.attention(y)[:, :, None, None] * y


class SpatialAttention(nn.Module):
    """CBAM spatial attention (eq. 8): ``sigmoid(conv7x7([mean_c Y; max_c Y])) * Y``.

    ``(N, C, H, W) -> (N, C, H, W)``; :meth:`attention` gives the ``(N, 1, H, W)`` map.
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise InputError(f"spatial attention kernel must be odd and >= 1, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def attention(self, y: Tensor) -> Tensor:
        _check_map(y, "Y^s")
        s = torch.cat([y.mean(dim=1, keepdim=True), y.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(s))

    def forward(self, y: Tensor) -> Tensor:
        return self.attention(y) * y


class SSFBlock(nn.Module):
    """Multi-frequency in multi-scale SimAM attention (Sec. 3.3, eqs. 5-10).

    Branches ``s = 1, 2, 3``: ``Y^s = SimAM(Conv2D x2(avgPool_{2^(s-1)}(Y)))`` for
    ``s = 1, 2`` (eqs. 5-6; ``Conv2D x2`` is two 3x3 conv-BN-ReLU) and ``Y^3 = SimAM(Y)``
    ("for s = 3 we bypass the avgPool and directly apply SimAM"). Each branch:
    ``D^s = FCA(Y^s)`` (eq. 7), ``A^s = SA(Y^s)`` (eq. 8),
    ``F^s = Conv3x3(alpha^s D^s + beta^s A^s)`` (eq. 9), upsampled (bilinear) to ``Y``'s size;
    ``Y_out = Y + (1/S) sum_s Up_s(F^s)`` (eq. 10). ``alpha^s = beta^s = 1`` initially (not
    stated). ``(N, C, H, W) -> (N, C, H, W)``; ``H, W`` even, and ``H W / 4 >= K``.
    """

    def __init__(
        self,
        channels: int,
        *,
        k: int = 16,
        reduction: int = 16,
        lam: float = SIMAM_LAMBDA,
        sa_kernel: int = 7,
    ) -> None:
        super().__init__()
        if channels < 1:
            raise InputError(f"SSF channels must be >= 1, got {channels}")
        self.channels = channels
        self.simam = SimAM(lam)
        self.pools = [1, 2]  # avgPool kernel = stride = 2^(s-1), s = 1, 2
        self.convs = nn.ModuleList([DoubleConv(channels, channels) for _ in self.pools])
        self.fca = nn.ModuleList(
            [FrequencyChannelAttention(channels, k, reduction) for _ in range(3)]
        )
        self.sa = nn.ModuleList([SpatialAttention(sa_kernel) for _ in range(3)])
        self.fuse = nn.ModuleList([nn.Conv2d(channels, channels, 3, padding=1) for _ in range(3)])
        self.alpha = nn.Parameter(torch.ones(3))
        self.beta = nn.Parameter(torch.ones(3))

    @property
    def num_scales(self) -> int:
        return 3

    def branches(self, y: Tensor) -> list[Tensor]:
        """The scale features ``Y^s`` (eqs. 5-6), shallowest pooling first."""
        out = []
        for p, conv in zip(self.pools, self.convs, strict=True):
            z = F.avg_pool2d(y, p) if p > 1 else y
            out.append(self.simam(conv(z)))
        out.append(self.simam(y))  # s = 3: no pooling, SimAM directly
        return out

    def forward(self, y: Tensor) -> Tensor:
        _check_map(y, "SSF input", self.channels)
        h, w = y.shape[-2:]
        if h % 2 or w % 2:
            raise InputError(f"SSF input size {h}x{w} must be even (2x average pooling)")
        first: FrequencyChannelAttention = self.fca[0]  # type: ignore[assignment]
        k = first.k
        lowest_frequencies(k, h // 2, w // 2)  # K fits the pooled branch
        total = torch.zeros_like(y)
        for s, ys in enumerate(self.branches(y)):
            d = self.fca[s](ys)  # eq. 7
            a = self.sa[s](ys)  # eq. 8
            f = self.fuse[s](self.alpha[s] * d + self.beta[s] * a)  # eq. 9
            if f.shape[-2:] != (h, w):
                f = F.interpolate(f, size=(h, w), mode="bilinear", align_corners=False)
            total = total + f
        return y + total / self.num_scales  # eq. 10


class SSFLevel(nn.Module):
    """A U-Net level block followed by an :class:`SSFBlock`: ``(N, in, H, W) -> (N, out, H, W)``."""

    def __init__(self, in_ch: int, out_ch: int, **ssf: Any) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_ch, out_ch
        self.block = DoubleConv(in_ch, out_ch)
        self.ssf = SSFBlock(out_ch, **ssf)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.ssf(self.block(x))
        return out


# -- the networks -----------------------------------------------------------------------------
def build_unet(in_channels: int = 3, widths: tuple[int, ...] = (16, 32, 64, 128)) -> UNet:
    """The baseline: the same U-Net with plain level blocks and concatenation skips."""
    return UNet(in_channels, 1, widths)


def build_lungssfnet(
    in_channels: int = 3,
    widths: tuple[int, ...] = (16, 32, 64, 128),
    *,
    ssf_where: str = "encoder",
    use_ssf: bool = True,
    use_fusion: bool = True,
    k: int = 16,
    reduction: int = 16,
    lam: float = SIMAM_LAMBDA,
) -> UNet:
    """LungSSFNet on :class:`~patrec.core.segmentation.UNet`: ``(N, in, H, W) -> (N, 1, H, W)``.

    ``ssf_where``: ``"encoder"`` puts an SSF block after each encoder level (``len(widths)``
    blocks: 4 for the default widths, the paper's optimum of Sec. 4.5), ``"all"`` also after
    every decoder level (7 for 4 widths, the LungSSF1 ablation). ``use_fusion`` switches the
    skip fusion unit ``U`` (with SimAM ``S``) on; ``use_ssf=False`` leaves only ``S`` + ``U``.
    """
    if ssf_where not in ("encoder", "all"):
        raise ConfigError(f"ssf_where must be 'encoder' or 'all', got {ssf_where!r}")
    n_enc = len(widths)
    calls = [0]

    def block(in_ch: int, out_ch: int) -> nn.Module:
        # UNet builds the encoder levels first, then the decoder levels
        i = calls[0]
        calls[0] += 1
        if use_ssf and (i < n_enc or ssf_where == "all"):
            return SSFLevel(in_ch, out_ch, k=k, reduction=reduction, lam=lam)
        return DoubleConv(in_ch, out_ch)

    def fusion(level: int, skip_ch: int, up_ch: int) -> nn.Module:
        return SkipFusionUnit(level, skip_ch, up_ch, lam=lam)

    return UNet(in_channels, 1, widths, block=block, fusion=fusion if use_fusion else None)


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


# -- config -----------------------------------------------------------------------------------
@dataclass
class LungSSFDataConfig:
    """Which images and masks."""

    name: str = param("lesion", "lesion (embedded lesion_task), kvasir or isic (need data.root)")
    root: str | None = param(None, "local dataset folder (--data) for kvasir / isic")
    background: str = param("ihc", "lesion_task background: ihc, cell, retina, microaneurysms")
    size: int = param(64, "images are size x size (a multiple of 2^(levels-1))")
    n_train: int = param(32, "training images (embedded task)")
    n_test: int = param(16, "test images (embedded task)")
    test_fraction: float = param(0.2, "held-out share for kvasir / isic")
    limit: int | None = param(None, "read at most this many images of kvasir / isic")


@dataclass
class LungSSFModelConfig:
    """The U-Net and the parts added to it."""

    widths: tuple[int, ...] = param(
        (32, 64, 128, 256, 512),
        "U-Net channels per level",
        source="not stated (nnU-Net auto-configures); our choice: nnU-Net-like 32..512",
    )
    ssf_where: str = param(
        "encoder",
        "encoder (one SSF block per encoder level) or all (also decoder levels)",
        source="Sec. 4.5: 4 SSF blocks optimal, positions not stated; our choice: encoder",
    )
    k: int = param(16, "DCT frequencies per branch (top-K)", source="Sec. 3.3 via [50]: top-16")
    reduction: int = param(
        16, "FC reduction ratio r", source="not stated; our choice: SE/FcaNet's 16"
    )
    simam_lambda: float = param(
        SIMAM_LAMBDA, "SimAM lambda (eq. 3-4)", source="not stated; SimAM [20] default 1e-4"
    )


@dataclass
class LungSSFOptimConfig:
    """Optimiser and loss."""

    name: str = param("sgd", "sgd (Nesterov, poly decay) or adam", source="Sec. 4.3: SGD")
    lr: float = param(0.01, "initial learning rate", source="Sec. 4.3: 0.01", gt=0)
    momentum: float = param(0.99, "SGD Nesterov momentum", source="Sec. 4.3: 0.99", ge=0, le=1)
    weight_decay: float = param(3e-5, "weight decay", source="Sec. 4.3: 3e-5", ge=0)
    poly_power: float = param(
        0.9, "poly LR decay exponent", source="Sec. 4.3: poly decay; exponent nnU-Net's 0.9"
    )
    dice_weight: float = param(1.0, "weight of soft Dice beside BCE", source="not stated: 1")


@dataclass
class LungSSFConfig:
    """Config of the LungSSFNet recipe (:func:`recipe`)."""

    data: LungSSFDataConfig = field(default_factory=LungSSFDataConfig)
    model: LungSSFModelConfig = field(default_factory=LungSSFModelConfig)
    optim: LungSSFOptimConfig = field(default_factory=LungSSFOptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = param(
        ("unet", "lungssfnet"),
        "what to train: unet (baseline), su (U-Net + SimAM fusion unit), lungssfnet",
    )
    seeds: tuple[int, ...] = param((0, 1, 2), "one run of every variant per seed")
    threshold: float = param(0.5, "sigmoid threshold of the predicted mask")


VARIANTS = ("unet", "su", "lungssfnet")


def paper_config() -> LungSSFConfig:
    """The paper's training setting (Sec. 4.3) on Kvasir-SEG at 256 (its CT set is private).

    SGD Nesterov, lr 0.01, momentum 0.99, weight decay 3e-5, poly decay, batch 7, 500 epochs,
    BCE + soft Dice.
    """
    return LungSSFConfig(
        data=LungSSFDataConfig(name="kvasir", size=256),
        model=LungSSFModelConfig(),
        optim=LungSSFOptimConfig(),
        train=TrainConfig(epochs=500, batch_size=7, checkpoint_every=0),
        seeds=(0,),
    )


def smoke_config() -> LungSSFConfig:
    """CPU scale: 24 + 12 lesion images 32x32 on the IHC crop, a 3-level U-Net (3 SSF
    blocks), K = 4 frequencies, Adam (lr 5e-3), 24 epochs, 3 seeds."""
    return LungSSFConfig(
        data=LungSSFDataConfig(name="lesion", background="ihc", size=32, n_train=24, n_test=12),
        model=LungSSFModelConfig(widths=(8, 16, 32), k=4, reduction=4),
        optim=LungSSFOptimConfig(name="adam", lr=5e-3, weight_decay=0.0),
        train=TrainConfig(epochs=24, batch_size=8, cpu=True, progress=False),
        seeds=(0, 1, 2),
    )


def _check_config(cfg: LungSSFConfig) -> None:
    bad = [v for v in cfg.variants if v not in VARIANTS]
    if bad or not cfg.variants:
        raise ConfigError(f"variants: expected a non-empty subset of {VARIANTS}, got {bad}")
    if not cfg.seeds:
        raise ConfigError("seeds must not be empty")
    if cfg.data.name not in ("lesion", "kvasir", "isic"):
        raise ConfigError(f"data.name: expected lesion, kvasir or isic, got {cfg.data.name!r}")
    div = 2 ** (len(cfg.model.widths) - 1)
    if cfg.data.size % div:
        raise ConfigError(f"data.size {cfg.data.size} must be a multiple of {div}")
    if cfg.optim.name not in ("sgd", "adam"):
        raise ConfigError(f"optim.name: expected sgd or adam, got {cfg.optim.name!r}")
    # the smallest SSF branch is the deepest level pooled once
    smallest = (cfg.data.size // div // 2) ** 2
    if cfg.model.k > smallest:
        raise ConfigError(
            f"model.k={cfg.model.k} exceeds the {smallest} DCT components of the smallest SSF "
            f"branch ({cfg.data.size // div // 2}x{cfg.data.size // div // 2})"
        )


def load_data(cfg: LungSSFConfig) -> SegmentationData:
    """The embedded lesion task, or Kvasir-SEG / ISIC from ``data.root`` (split with seed 0)."""
    d = cfg.data
    if d.name == "lesion":
        from patrec.medical_imaging.data import lesion_task

        return lesion_task(d.n_train, d.n_test, size=d.size, background=d.background, seed=0)
    from patrec.core.errors import DataError
    from patrec.medical_imaging.data import load_isic, load_kvasir_seg

    if d.root is None:
        raise DataError(f"data.name={d.name} reads a local folder: pass --data PATH")
    loader = load_kvasir_seg if d.name == "kvasir" else load_isic
    x, y = loader(d.root, size=d.size, limit=d.limit)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=g)
    n_test = max(1, int(round(d.test_fraction * len(x))))
    te, tr = perm[:n_test], perm[n_test:]
    return SegmentationData(x[tr], y[tr], x[te], y[te], ("lesion",), name=d.name)


def make_model(cfg: LungSSFConfig, variant: str, in_channels: int) -> UNet:
    """The network of one variant (``unet``, ``su`` or ``lungssfnet``)."""
    m = cfg.model
    if variant == "unet":
        return build_unet(in_channels, tuple(m.widths))
    if variant not in VARIANTS:
        raise ConfigError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    return build_lungssfnet(
        in_channels,
        tuple(m.widths),
        ssf_where=m.ssf_where,
        use_ssf=variant == "lungssfnet",
        k=m.k,
        reduction=m.reduction,
        lam=m.simam_lambda,
    )


def predict_masks(model: nn.Module, images: Tensor, threshold: float = 0.5) -> Tensor:
    """Binary masks ``(N, 1, H, W)`` of a trained model on images ``(N, C, H, W)``."""
    _check_map(images, "images")
    model.eval()
    dev = next(model.parameters()).device
    with torch.no_grad():
        probs = torch.cat([torch.sigmoid(model(b.to(dev))).cpu() for b in images.split(16)])
    return probs > threshold


@dataclass
class TrainedModel:
    """One trained (variant, seed): the network, its history and its test metrics."""

    variant: str
    seed: int
    model: nn.Module
    history: list[dict[str, float]]
    metrics: dict[str, float]


def train_variant(
    cfg: LungSSFConfig,
    variant: str,
    seed: int,
    data: SegmentationData,
    out_dir: str | Path | None = None,
) -> TrainedModel:
    """Train one variant with one seed (BCE + soft Dice) and measure Dice, IoU, HD95."""
    from torch.utils.data import TensorDataset

    from patrec.core.segmentation import segmentation_metrics
    from patrec.core.train import Trainer, seed_everything

    check_image_mask_pair(data.x_train, data.y_train)
    check_binary_mask(data.y_train, "training masks")
    if data.y_train.dim() != 4 or data.y_train.shape[1] != 1:
        raise InputError(f"LungSSFNet segments one class: masks (N, 1, H, W), got "
                         f"{tuple(data.y_train.shape)}")  # fmt: skip
    tcfg = dataclasses.replace(cfg.train, seed=seed)
    seed_everything(seed, tcfg.deterministic)
    model = make_model(cfg, variant, data.x_train.shape[1])
    o = cfg.optim
    opt: torch.optim.Optimizer
    if o.name == "sgd":
        opt = torch.optim.SGD(
            model.parameters(), lr=o.lr, momentum=o.momentum, nesterov=True,
            weight_decay=o.weight_decay,
        )  # fmt: skip
    else:
        opt = torch.optim.Adam(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    epochs = max(tcfg.epochs, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: max(1.0 - e / epochs, 0.0) ** o.poly_power
    )

    def step(tr: Trainer, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        x, y = batch
        loss = dice_bce_loss(tr.model(x), y.float(), dice_weight=o.dice_weight)
        return {"loss": loss}

    trainer = Trainer(
        model,
        opt,
        TensorDataset(data.x_train, data.y_train),
        step,
        tcfg,
        out_dir=out_dir,
        scheduler=sched,
        desc=f"{variant} seed {seed}",
    )
    history = trainer.fit()
    net = trainer.unwrapped_model
    pred = predict_masks(net, data.x_test, cfg.threshold)
    metrics = segmentation_metrics(pred, data.y_test)
    metrics["params"] = float(count_parameters(net))
    return TrainedModel(variant, seed, net, history, metrics)


def recipe(cfg: LungSSFConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """Train every variant with every seed, compare, write metrics and plots.

    ``data``: an optional :class:`~patrec.core.segmentation.SegmentationData` to use instead
    of ``cfg.data``. A (variant, seed) run with ``result.json`` in its folder is read back.

    Writes ``metrics.json`` (Dice, IoU, HD95 as mean ± std over seeds, parameter counts),
    ``dice.png``, ``hd95.png``, ``train_loss_curves.png``, ``examples_<variant>.png`` (test
    predictions of seed ``seeds[0]``) and ``runs/<variant>/seed<k>/``.
    """

    from patrec.core.report import (
        plot_bars,
        plot_curves,
        run_once,
        summarize_seeds,
        write_metrics,
    )
    from patrec.core.segmentation import plot_segmentation

    _check_config(cfg)
    if data is not None and not isinstance(data, SegmentationData):
        raise InputError(f"data must be a SegmentationData, got {type(data).__name__}")
    ds = data if isinstance(data, SegmentationData) else load_data(cfg)
    out = Path(out_dir)
    n_show = min(6, len(ds.x_test))
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in cfg.variants}
    examples: dict[str, Tensor] = {}

    def run(variant: str, seed: int) -> dict[str, Any]:
        tm = train_variant(cfg, variant, seed, ds, out / "runs" / variant / f"seed{seed}")
        pred = predict_masks(tm.model, ds.x_test[:n_show], cfg.threshold)
        return {
            "seed": seed,
            "metrics": tm.metrics,
            "history": tm.history,
            "tensors": {"pred": pred.to(torch.uint8)},
        }

    for seed in cfg.seeds:
        for variant in cfg.variants:
            res = run_once(
                out / "runs" / variant / f"seed{seed}", functools.partial(run, variant, seed)
            )
            results[variant].append(res)
            if seed == cfg.seeds[0]:
                examples[variant] = res["tensors"]["pred"].bool()

    variants: dict[str, dict[str, Any]] = {}
    for v, runs in results.items():
        variants[v] = {
            k: summarize_seeds([r["metrics"][k] for r in runs]) for k in ("dice", "iou", "hd95")
        }
        variants[v]["params"] = runs[0]["metrics"]["params"]
    ours = "lungssfnet" if "lungssfnet" in cfg.variants else cfg.variants[-1]
    tag = f"{ds.name}, {len(cfg.seeds)} seed(s)"
    plots = [
        plot_bars({v: variants[v]["dice"] for v in cfg.variants}, out / "dice.png",
                  title=f"test Dice ({tag})", ylabel="Dice", highlight=ours),
        plot_bars({v: variants[v]["hd95"] for v in cfg.variants}, out / "hd95.png",
                  title=f"test HD95 in pixels, lower is better ({tag})", ylabel="HD95",
                  highlight=ours),
        plot_curves({v: [[h["train/loss"] for h in r["history"]] for r in results[v]]
                     for v in cfg.variants}, out / "train_loss_curves.png",
                    title="training loss (BCE + soft Dice)", xlabel="epoch", ylabel="loss"),
    ]  # fmt: skip
    for v, pred in examples.items():
        plots.append(
            plot_segmentation(
                ds.x_test[:n_show],
                ds.y_test[:n_show],
                pred,
                out / f"examples_{v}.png",
                suptitle=f"{v}, seed {cfg.seeds[0]}",
            )  # fmt: skip
        )
    return write_metrics(
        out,
        method="medical-imaging/lungssfnet",
        variants=variants,
        primary="dice",
        ours=ours,
        baselines=[v for v in cfg.variants if v != ours],
        plots=plots,
        extra={"dataset": ds.name, "seeds": list(cfg.seeds), "epochs": cfg.train.epochs},
    )


METHOD = Method(
    name="medical-imaging/lungssfnet",
    title=(
        "Cystic Adenocarcinoma Segmentation Based on Multi-frequency and Multi-scale SimAM "
        "Attention"
    ),
    paper="000/08",
    citation=(
        "X. Zhang, J. Tan, B. Zhang, G. Xu, Z. Hu, R. Wang, J. Q. Yang, C. Pang. Cystic "
        "Adenocarcinoma Segmentation Based on Multi-frequency and Multi-scale SimAM Attention. "
        "ICPR 2024, LNCS 15325, pp. 110-125. doi:10.1007/978-3-031-78389-0_8"
    ),
    task="binary lesion segmentation: image (N, C, H, W) -> mask logits (N, 1, H, W)",
    config=LungSSFConfig,
    presets={"paper": paper_config, "smoke": smoke_config},
    recipe=recipe,
    baselines=("unet: the same U-Net without SSF blocks, SimAM and fusion unit",),
    status="done",
    summary=(
        "U-Net with parameter-free SimAM, a skip fusion unit alpha Conv(Cat) + beta "
        "Conv(|X_DF - X_SF|), and SSF blocks (multi-scale SimAM branches with DCT frequency "
        "channel attention and spatial attention); BCE + soft Dice."
    ),
    paper_numbers={
        "private CT set, malignant IoU / DSC (Table 1)": (
            "LungSSFNet 81.05 / 75.15 vs nnU-Net 79.91 / 73.54 vs U-Net 76.04 / 70.59"
        ),
        "benign IoU / DSC (Table 1)": "LungSSFNet 93.03 / 92.04 vs nnU-Net 92.61 / 91.30",
    },
    measured={
        "smoke (lesion-ihc 32x32, 24/12 images, 3-level U-Net, 24 epochs, 3 seeds), Dice": (
            "LungSSFNet 0.933 ± 0.014 vs U-Net 0.932 ± 0.019 (a tie at this scale)"
        ),
        "smoke IoU / HD95 (pixels)": (
            "LungSSFNet 0.876 / 1.13 ± 0.11 vs U-Net 0.875 / 1.44 ± 0.73; params 121,721 vs 27,705"
        ),
    },
)
