"""LungSSFNet: "Cystic Adenocarcinoma Segmentation Based on Multi-frequency and Multi-scale
SimAM Attention" (Zhang et al., ICPR 2024; inventory 000/08).

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
  attention (eq. 7, :class:`FrequencyChannelAttention`: K 2D DCT bases, global
  avg/max/min pooling, two shared FC layers) and a CBAM-style spatial attention (eq. 8,
  :class:`SpatialAttention`); ``F^s = Conv(alpha^s D^s + beta^s A^s)`` (eq. 9), and
  ``Y_out = Y + mean_s Up_s(F^s)`` (eq. 10).

:class:`LungSSFNet` puts them into the U-Net through its plug points (``block=`` wraps level
blocks with an SSF block, ``fusion=`` is the skip fusion unit); the plain
:class:`~patrec.core.segmentation.UNet` is the baseline. Loss: BCE + soft Dice (Sec. 4.3,
:func:`patrec.core.segmentation.dice_bce_loss`).

The recipe runs the paper's Table 1 baseline and its Table 3 ablations under their names:
``unet`` (Table 1 "Unet"; it is also our stand-in for the "Lung" nnU-Net framework),
``lung_cbam`` (LungCBAM: the fusion unit with :class:`CBAM` in place of SimAM),
``lung_simam`` (LungSimAM: the SimAM fusion unit, ``S`` + ``U``), ``lungssf1`` (LungSSF1:
LungSimAM with an SSF block after every level block, 7 blocks in a 4-level U-Net) and
``lungssfnet`` (the final network: an SSF block after each of the 4 encoder levels, the
"4 SSF modules" Sec. 4.5 finds optimal). It reports the paper's metrics: IoU and DSC
(Table 1) and accuracy, precision, recall and F1 (Table 2), plus HD95.

Not run here: nnU-Net itself (its self-configuring pipeline), M^2SNet, TANet and MADGNet
(separate architectures of Table 1), and LungSSF2 (Table 3: 4 SSF blocks like LungSSFNet;
the paper does not say what else differs, so it cannot be rebuilt). The paper's CT set is
private; the embedded lesion task and Kvasir-SEG / ISIC from a local folder stand in.

Where the text is silent the choice is ours and is named in the docstrings and in each config
field's ``source``: initial alpha/beta, SimAM's lambda, the number K of DCT frequencies and
which ones ("top-K selection as per [50]"; K is not stated, we take FcaNet's 16 lowest), the
FC reduction ratio, where LungCBAM puts CBAM, and the depth of the U-Net. On the depth: the
paper's counts -- 4 SSF blocks for LungSSFNet, 7 for LungSSF1 -- are those of a 4-level
U-Net with SSF after each encoder level (4) or after every level block (4 + 3 = 7), so the
presets use 4 levels. Table 2's accuracy/precision/recall/F1 are fractions of about 31-33
test cases (96.15 = 25/26), i.e. case-level, by a rule the paper does not state; we report
the pixel-level forms, pooled over the test set.
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

from patrec.core.checks import check_choice, check_int, check_scalar, check_tensor
from patrec.core.config import param
from patrec.core.errors import ConfigError, InputError
from patrec.core.nn import CBAM, ChannelAttention, SpatialAttention
from patrec.core.registry import Method
from patrec.core.segmentation import (
    DoubleConv,
    SegmentationData,
    UNet,
    check_binary_mask,
    check_image_mask_pair,
    dice_bce_loss,
    pixel_scores,
)
from patrec.core.train import TrainConfig

__all__ = [
    "CBAM",
    "METHOD",
    "VARIANTS",
    "ChannelAttention",
    "FrequencyChannelAttention",
    "LungSSFConfig",
    "LungSSFNet",
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

SKIP_ATTENTIONS = ("none", "simam", "cbam")
SSF_PLACES = ("none", "encoder", "all")

VARIANTS = ("unet", "lung_cbam", "lung_simam", "lungssf1", "lungssfnet")
"""The recipe's variants: Table 1's U-Net and Table 3's ablations, in the paper's order."""

_ARCH = {  # variant -> (attention in the fusion unit, where the SSF blocks go)
    "lung_cbam": ("cbam", "none"),
    "lung_simam": ("simam", "none"),
    "lungssf1": ("simam", "all"),
    "lungssfnet": ("simam", "encoder"),
}


def _map(x: Any, name: str, channels: int | None = None) -> Tensor:
    dims = {} if channels is None else {"C": channels}
    out: Tensor = check_tensor(x, "N C H W", name=name, dims=dims, dtype="float")
    return out


# -- S: SimAM (eqs. 3, 4, 6) -------------------------------------------------------------------
def simam(x: Tensor, lam: float = SIMAM_LAMBDA) -> Tensor:
    """Parameter-free SimAM attention, ``(N, C, H, W) -> (N, C, H, W)``.

    Per channel, with ``M = H W``, ``mu`` the mean and ``sigma^2 = sum (x - mu)^2 / (M - 1)``:
    ``1 / e_t* = ((t - mu)^2 + 2 sigma^2 + 2 lambda) / (4 (sigma^2 + lambda))`` (eq. 4
    inverted) and the output is ``sigmoid(1 / E) * x`` (eq. 6). Needs ``H W >= 2``.
    """
    _map(x, "x")
    check_scalar(lam, "SimAM lambda", gt=0)
    m = x.shape[-2] * x.shape[-1]
    if m < 2:
        raise InputError(f"SimAM needs at least 2 positions per channel, got {tuple(x.shape)}")
    d2 = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
    var = d2.sum(dim=(2, 3), keepdim=True) / (m - 1)
    inv_energy = (d2 + 2 * var + 2 * lam) / (4 * (var + lam))  # 1 / e_t*, eq. 4
    return torch.sigmoid(inv_energy) * x  # eq. 6


class SimAM(nn.Module):
    """:func:`simam` as a module; it has no parameters."""

    def __init__(self, lam: float = SIMAM_LAMBDA) -> None:
        super().__init__()
        self.lam = float(check_scalar(lam, "SimAM lambda", gt=0))

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

    ``attention="cbam"`` puts :class:`CBAM` where eq. 2 has SimAM (the LungCBAM ablation,
    Table 3; where the paper puts CBAM is not stated, this is our reading of "the same
    framework"). ``alpha`` and ``beta`` are learnable scalars; their initial values are not
    stated; ours are ``alpha = 1, beta = 0``, so an untrained unit is the U-Net concatenation
    followed by a 3x3 conv and the subtraction path is learned in.
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
        attention: str = "simam",
        reduction: int = 16,
    ) -> None:
        super().__init__()
        check_int(skip_ch, "skip_ch", ge=1)
        if skip_ch != up_ch:
            raise InputError(
                f"the subtraction |X_DF - X_SF| needs equal positive channels, got skip "
                f"{skip_ch} and up {up_ch}"
            )
        check_choice(attention, "fusion attention", ("simam", "cbam"))
        self.level = level
        self.out_channels = skip_ch
        self.attend: nn.Module = (
            SimAM(lam) if attention == "simam" else CBAM(up_ch, reduction)
        )  # SimAM(X_DF) of eq. 2, or CBAM(X_DF)
        self.cat_conv = nn.Conv2d(skip_ch + up_ch, skip_ch, 3, padding=1)  # Conv(X_i), eq. 1
        self.sub_conv = nn.Conv2d(skip_ch, skip_ch, 3, padding=1)  # Conv(|X_DF - X_SF|)
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))
        self.beta = nn.Parameter(torch.tensor(float(beta)))

    def forward(self, skip: Tensor, up: Tensor) -> Tensor:
        dims: dict[str, int] = {}
        check_tensor(skip, "N C H W", name="skip", dims=dims, dtype="float")
        check_tensor(up, "N C H W", name="up", dims=dims, dtype="float")
        x_i = torch.cat([self.attend(up), skip], dim=1)  # eq. 2
        return self.alpha * self.cat_conv(x_i) + self.beta * self.sub_conv((up - skip).abs())


# -- SSF parts: DCT frequency channel attention (eq. 7), spatial attention (eq. 8) -----------
def dct_basis(u: int, v: int, height: int, width: int) -> Tensor:
    """The 2D DCT-II basis image ``B[h, w] = cos(pi u (h + 1/2) / H) cos(pi v (w + 1/2) / W)``.

    Returns ``(H, W)`` float32. The paper prints the ``+1/2`` on the frequency index; we use
    the DCT-II form of FcaNet/MADGNet, its source, in which ``(0, 0)`` is the constant 1.
    """
    check_int(height, "height", ge=1)
    check_int(width, "width", ge=1)
    check_int(u, "frequency u", ge=0, le=height - 1)
    check_int(v, "frequency v", ge=0, le=width - 1)
    h = torch.arange(height, dtype=torch.float64)
    w = torch.arange(width, dtype=torch.float64)
    bh = torch.cos(math.pi * u * (h + 0.5) / height)
    bw = torch.cos(math.pi * v * (w + 0.5) / width)
    return (bh[:, None] * bw[None, :]).float()


def lowest_frequencies(k: int, height: int, width: int) -> list[tuple[int, int]]:
    """The ``k`` lowest 2D frequencies ``(u, v)`` in zig-zag order (``u + v``, then ``u``).

    Raises :class:`InputError` when ``k`` exceeds the ``H W`` components available.
    """
    check_int(k, "the number of DCT frequencies K", ge=1)
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
    _map(x, "x")
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

    Frequencies: the ``K`` lowest (zig-zag) of the branch's own ``H x W`` grid. The paper
    says only "a top-K selection strategy as per [50]" (FcaNet) and states no K; FcaNet's
    "top-k" ranks frequencies measured on 7x7 ImageNet maps, so we take the K lowest, and
    K = 16 (FcaNet's best setting) by default. With ``K = 1`` only ``(0, 0)``, the
    constant basis, is used and the attention is CBAM's channel attention plus a min-pool
    term.
    """

    def __init__(self, channels: int, k: int = 16, reduction: int = 16) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", ge=1)
        self.k = check_int(k, "K", ge=1)
        hidden = max(1, channels // check_int(reduction, "reduction", ge=1))
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),  # W_1
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),  # W_2
        )

    def attention(self, y: Tensor) -> Tensor:
        """The channel weights ``(N, C)`` in (0, 1)."""
        _map(y, "Y^s", self.channels)
        h, w = y.shape[-2:]
        basis = _basis_stack(self.k, h, w).to(y)  # (K, H, W)
        z_avg = torch.einsum("nchw,khw->nc", y, basis) / (h * w * self.k)  # eq. 7 / HW
        z = (y.unsqueeze(2) * basis).flatten(3)  # (N, C, K, H W)
        z_max = z.max(dim=-1).values.mean(2)
        z_min = z.min(dim=-1).values.mean(2)
        return torch.sigmoid(self.fc(z_avg) + self.fc(z_max) + self.fc(z_min))

    def forward(self, y: Tensor) -> Tensor:
        return self.attention(y)[:, :, None, None] * y


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
        self.channels = check_int(channels, "SSF channels", ge=1)
        self.k = check_int(k, "K", ge=1)
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
        _map(y, "SSF input", self.channels)
        h, w = y.shape[-2:]
        if h % 2 or w % 2:
            raise InputError(f"SSF input size {h}x{w} must be even (2x average pooling)")
        lowest_frequencies(self.k, h // 2, w // 2)  # K fits the pooled branch
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
class LungSSFNet(UNet):
    """LungSSFNet and its ablations on the core U-Net: ``(N, in, H, W) -> (N, 1, H, W)`` logits.

    Args:
        in_channels: image channels.
        widths: channels per U-Net level, shallowest first (4 levels in the presets).
        skip_attention: the skip fusion unit ``U`` with ``"simam"`` (eqs. 1-2), with
            ``"cbam"`` in SimAM's place (LungCBAM), or ``"none"`` (plain concatenation).
        ssf_where: ``"encoder"``: an SSF block after each encoder level (``len(widths)``
            blocks; 4 for 4 levels, LungSSFNet, Sec. 4.5); ``"all"``: after every level block,
            encoder and decoder (``2 len(widths) - 1``; 7 for 4 levels, LungSSF1);
            ``"none"``: no SSF block.
        k, reduction, lam: DCT frequencies per branch, FC reduction ratio, SimAM lambda.

    The arguments are JSON-able: the model saves and loads with
    :class:`~patrec.core.hub.PretrainedModel` (``save_pretrained`` / ``from_pretrained``).
    """

    def __init__(
        self,
        in_channels: int = 3,
        widths: tuple[int, ...] | list[int] = (32, 64, 128, 256),
        *,
        skip_attention: str = "simam",
        ssf_where: str = "encoder",
        k: int = 16,
        reduction: int = 16,
        lam: float = SIMAM_LAMBDA,
    ) -> None:
        check_choice(skip_attention, "skip_attention", SKIP_ATTENTIONS)
        check_choice(ssf_where, "ssf_where", SSF_PLACES)
        n_enc = len(widths)
        calls = [0]

        def block(in_ch: int, out_ch: int) -> nn.Module:
            # UNet builds the encoder levels first, then the decoder levels
            i = calls[0]
            calls[0] += 1
            if ssf_where == "all" or (ssf_where == "encoder" and i < n_enc):
                return SSFLevel(in_ch, out_ch, k=k, reduction=reduction, lam=lam)
            return DoubleConv(in_ch, out_ch)

        def fusion(level: int, skip_ch: int, up_ch: int) -> nn.Module:
            return SkipFusionUnit(
                level, skip_ch, up_ch, lam=lam, attention=skip_attention, reduction=reduction
            )

        super().__init__(
            in_channels,
            1,
            widths,
            block=block,
            fusion=None if skip_attention == "none" else fusion,
        )
        self.skip_attention, self.ssf_where = skip_attention, ssf_where

    @property
    def num_ssf_blocks(self) -> int:
        """How many SSF blocks the network holds."""
        return sum(isinstance(m, SSFBlock) for m in self.modules())


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
    skip_attention: str = "simam",
    k: int = 16,
    reduction: int = 16,
    lam: float = SIMAM_LAMBDA,
) -> LungSSFNet:
    """:class:`LungSSFNet` from switches: ``use_ssf=False`` leaves only ``S`` + ``U``
    (LungSimAM), ``use_fusion=False`` drops the fusion unit; ``ssf_where`` as the class.

    Raises:
        ConfigError: ``ssf_where`` not ``"encoder"`` or ``"all"``.
    """
    if ssf_where not in ("encoder", "all"):
        raise ConfigError(f"ssf_where must be 'encoder' or 'all', got {ssf_where!r}")
    return LungSSFNet(
        in_channels,
        widths,
        skip_attention=skip_attention if use_fusion else "none",
        ssf_where=ssf_where if use_ssf else "none",
        k=k,
        reduction=reduction,
        lam=lam,
    )


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


# -- config -----------------------------------------------------------------------------------
@dataclass
class LungSSFDataConfig:
    """Which images and masks."""

    name: str = param(
        "lesion",
        "lesion (embedded lesion_task), kvasir or isic (need data.root)",
        source="Sec. 4.1: a private CT set; our stand-ins",
        choices=("lesion", "kvasir", "isic"),
    )
    root: str | None = param(None, "local dataset folder (--data) for kvasir / isic")
    background: str = param(
        "ihc",
        "lesion_task background",
        choices=("ihc", "cell", "retina", "microaneurysms"),
    )
    size: int = param(64, "images are size x size (a multiple of 2^(levels-1))", ge=8, le=4096)
    n_train: int = param(32, "training images (embedded task)", ge=1, le=100_000)
    n_test: int = param(16, "test images (embedded task)", ge=1, le=100_000)
    test_fraction: float = param(0.2, "held-out share for kvasir / isic", gt=0, lt=1)
    limit: int | None = param(None, "read at most this many images of kvasir / isic", ge=1)


@dataclass
class LungSSFModelConfig:
    """The U-Net and the parts added to it."""

    widths: tuple[int, ...] = param(
        (32, 64, 128, 256),
        "U-Net channels per level",
        source="not stated (nnU-Net auto-configures); ours: 4 levels, so that an SSF block "
        "per encoder level gives the 4 blocks of Sec. 4.5 and one per level block the 7 of "
        "LungSSF1 (Table 3)",
        ge=1,
        le=4096,
        min_len=2,
    )
    k: int = param(
        16,
        "DCT frequencies per branch (the K lowest)",
        source="not stated: Sec. 3.3 says 'a top-K selection strategy as per [50]'; ours: "
        "K = 16, FcaNet's [50] best setting",
        ge=1,
        le=4096,
    )
    reduction: int = param(
        16,
        "FC reduction ratio r (frequency attention and CBAM)",
        source="not stated; our choice: SE/FcaNet/CBAM's 16",
        ge=1,
        le=4096,
    )
    simam_lambda: float = param(
        SIMAM_LAMBDA, "SimAM lambda (eq. 3-4)", source="not stated; SimAM [20] default 1e-4",
        gt=0, le=1,
    )  # fmt: skip


@dataclass
class LungSSFOptimConfig:
    """Optimiser and loss."""

    name: str = param(
        "sgd", "sgd (Nesterov, poly decay) or adam", source="Sec. 4.3: SGD", choices=("sgd", "adam")
    )
    lr: float = param(0.01, "initial learning rate", source="Sec. 4.3: 0.01", gt=0, le=10)
    momentum: float = param(0.99, "SGD Nesterov momentum", source="Sec. 4.3: 0.99", ge=0, lt=1)
    weight_decay: float = param(3e-5, "weight decay", source="Sec. 4.3: 3e-5", ge=0, le=1)
    poly_power: float = param(
        0.9, "poly LR decay exponent", source="Sec. 4.3: poly decay; exponent nnU-Net's 0.9",
        ge=0, le=10,
    )  # fmt: skip
    dice_weight: float = param(
        1.0, "weight of soft Dice beside BCE", source="not stated: 1", ge=0, le=100
    )


@dataclass
class LungSSFConfig:
    """Config of the LungSSFNet recipe (:func:`recipe`)."""

    data: LungSSFDataConfig = field(default_factory=LungSSFDataConfig)
    model: LungSSFModelConfig = field(default_factory=LungSSFModelConfig)
    optim: LungSSFOptimConfig = field(default_factory=LungSSFOptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = param(
        VARIANTS,
        "what to train: unet (Table 1), lung_cbam, lung_simam, lungssf1 (Table 3 ablations), "
        "lungssfnet (the method)",
        source="Tables 1 and 3",
        choices=VARIANTS,
        min_len=1,
    )
    seeds: tuple[int, ...] = param((0, 1, 2), "one run of every variant per seed", min_len=1)
    threshold: float = param(0.5, "sigmoid threshold of the predicted mask", gt=0, lt=1)

    def validate(self) -> None:
        """The image size fits the U-Net depth, and K fits the smallest SSF branch."""
        div = 2 ** (len(self.model.widths) - 1)
        size = self.data.size
        if size % div:
            raise ConfigError(f"data.size {size} must be a multiple of {div}")
        if any(_ARCH[v][1] != "none" for v in self.variants if v in _ARCH):
            if size % (2 * div):
                raise ConfigError(
                    f"data.size {size} must be a multiple of {2 * div}: the deepest SSF level "
                    "is average-pooled by 2"
                )
            side = size // div // 2  # the deepest level pooled once
            if self.model.k > side * side:
                raise ConfigError(
                    f"model.k={self.model.k} exceeds the {side * side} DCT components of the "
                    f"smallest SSF branch ({side}x{side})"
                )


def paper_config() -> LungSSFConfig:
    """The paper's training setting (Sec. 4.3) on Kvasir-SEG at 256 (its CT set is private).

    SGD Nesterov, lr 0.01, momentum 0.99, weight decay 3e-5, poly decay, batch 7, 500 epochs,
    BCE + soft Dice; a 4-level U-Net (32..256), K = 16; every variant of Tables 1 and 3.
    """
    return LungSSFConfig(
        data=LungSSFDataConfig(name="kvasir", size=256),
        model=LungSSFModelConfig(),
        optim=LungSSFOptimConfig(),
        train=TrainConfig(epochs=500, batch_size=7, checkpoint_every=0),
        seeds=(0,),
    )


def smoke_config() -> LungSSFConfig:
    """CPU scale: 24 + 12 lesion images 32x32 on the IHC crop, a 4-level U-Net (8..64: 4 SSF
    blocks in LungSSFNet, 7 in LungSSF1), K = 4 frequencies, Adam (lr 5e-3), batch 4,
    20 epochs, 3 seeds, all five variants."""
    return LungSSFConfig(
        data=LungSSFDataConfig(name="lesion", background="ihc", size=32, n_train=24, n_test=12),
        model=LungSSFModelConfig(widths=(8, 16, 32, 64), k=4, reduction=4),
        optim=LungSSFOptimConfig(name="adam", lr=5e-3, weight_decay=0.0),
        train=TrainConfig(epochs=20, batch_size=4, cpu=True, progress=False),
        seeds=(0, 1, 2),
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
    """The network of one variant (see :data:`VARIANTS`)."""
    m = cfg.model
    if variant == "unet":
        return build_unet(in_channels, tuple(m.widths))
    if variant not in _ARCH:
        raise ConfigError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    attention, where = _ARCH[variant]
    return LungSSFNet(
        in_channels,
        tuple(m.widths),
        skip_attention=attention,
        ssf_where=where,
        k=m.k,
        reduction=m.reduction,
        lam=m.simam_lambda,
    )


def predict_masks(model: nn.Module, images: Tensor, threshold: float = 0.5) -> Tensor:
    """Binary masks ``(N, 1, H, W)`` of a trained model on images ``(N, C, H, W)``."""
    _map(images, "images")
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
    """Train one variant with one seed (BCE + soft Dice); measure Dice, IoU, HD95 and the
    pixel accuracy / precision / recall / F1 (core's :func:`~patrec.core.segmentation.pixel_scores`,
    pooled over every pixel of the test set)."""
    from torch.utils.data import TensorDataset

    from patrec.core.segmentation import segmentation_metrics
    from patrec.core.train import Trainer, seed_everything

    if variant not in VARIANTS:
        raise ConfigError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    check_image_mask_pair(data.x_train, data.y_train)
    check_binary_mask(data.y_train, "training masks")
    check_tensor(data.y_train, "N 1 H W", name="training masks (LungSSFNet segments one class)")
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
    pooled = pixel_scores(pred, data.y_test)
    metrics.update({k: pooled[k] for k in ("accuracy", "precision", "recall", "f1")})
    metrics["params"] = float(count_parameters(net))
    metrics["ssf_blocks"] = float(sum(isinstance(m, SSFBlock) for m in net.modules()))
    return TrainedModel(variant, seed, net, history, metrics)


def recipe(cfg: LungSSFConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """Train every variant with every seed, compare, write metrics and plots.

    ``data``: an optional :class:`~patrec.core.segmentation.SegmentationData` to use instead
    of ``cfg.data``. A (variant, seed) run with ``result.json`` in its folder is read back.

    Writes ``metrics.json`` (Dice, IoU, HD95, pixel accuracy / precision / recall / F1 as
    mean ± std over seeds; parameter and SSF-block counts), ``dice.png``, ``iou.png``,
    ``hd95.png``, ``train_loss_curves.png``, ``examples_<variant>.png`` (test predictions of
    seed ``seeds[0]``), ``runs/<variant>/seed<k>/`` and ``model/`` (LungSSFNet, first seed).
    """
    from patrec.core.config import validate_config
    from patrec.core.experiment import Experiment, run_experiment
    from patrec.core.segmentation import plot_segmentation

    validate_config(cfg)
    if data is not None and not isinstance(data, SegmentationData):
        raise InputError(f"data must be a SegmentationData, got {type(data).__name__}")
    ds = data if isinstance(data, SegmentationData) else load_data(cfg)
    out = Path(out_dir)
    n_show = min(6, len(ds.x_test))
    ours = "lungssfnet" if "lungssfnet" in cfg.variants else cfg.variants[-1]

    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        tm = train_variant(cfg, variant, seed, ds, run_dir)
        pred = predict_masks(tm.model, ds.x_test[:n_show], cfg.threshold)
        return {
            "metrics": tm.metrics,
            "history": tm.history,
            "tensors": {"pred": pred.to(torch.uint8)},
            "model": tm.model,
            "example": ds.x_test[:2].cpu(),
        }

    def plots(exp: Experiment) -> list[Path]:
        return [
            plot_segmentation(
                ds.x_test[:n_show],
                ds.y_test[:n_show],
                exp.results[v][0]["tensors"]["pred"].bool(),
                out / f"examples_{v}.png",
                suptitle=f"{v}, seed {cfg.seeds[0]}",
            )
            for v in cfg.variants
        ]

    return run_experiment(
        out,
        method="medical-imaging/lungssfnet",
        variants=cfg.variants,
        seeds=cfg.seeds,
        run_one=run_one,
        primary="dice",
        ours=ours,
        fixed=("params", "ssf_blocks"),
        bars=("dice", "iou", "hd95"),
        curves={"train/loss": "training loss (BCE + soft Dice)"},
        labels={"hd95": "HD95 (pixels, lower is better)", "train/loss": "loss"},
        extra={"dataset": ds.name, "epochs": cfg.train.epochs},
        plots=plots,
    ).metrics


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
    model="patrec.medical_imaging.lungssfnet:LungSSFNet",
    baselines=(
        "unet: the same U-Net without SSF blocks, SimAM and fusion unit (Table 1 'Unet')",
        "lung_cbam: U-Net + fusion unit with CBAM in place of SimAM (Table 3 'LungCBAM')",
        "lung_simam: U-Net + SimAM fusion unit, no SSF (Table 3 'LungSimAM')",
        "lungssf1: LungSimAM + an SSF block after every level block, 7 blocks (Table 3)",
    ),
    status="done",
    summary=(
        "U-Net with parameter-free SimAM, a skip fusion unit alpha Conv(Cat) + beta "
        "Conv(|X_DF - X_SF|), and 4 SSF blocks (multi-scale SimAM branches with DCT frequency "
        "channel attention and spatial attention) on the encoder levels; BCE + soft Dice. "
        "Run against U-Net and the LungCBAM / LungSimAM / LungSSF1 ablations; nnU-Net, "
        "M2SNet, TANet, MADGNet and LungSSF2 are not run (see the module docstring)."
    ),
    paper_numbers={
        "private CT set, malignant IoU / DSC (Table 1)": (
            "LungSSFNet 81.05 / 75.15 vs nnU-Net 79.91 / 73.54 vs U-Net 76.04 / 70.59"
        ),
        "benign IoU / DSC (Table 1)": "LungSSFNet 93.03 / 92.04 vs nnU-Net 92.61 / 91.30",
        "clinical Acc / Pre / Rec / F1 (Table 2, case level)": (
            "LungSSFNet 96.77 / 100.00 / 96.15 / 98.03 vs U-Net 93.93 / 96.15 / 96.15 / 96.15"
        ),
        "ablation, malignant IoU / DSC (Table 3)": (
            "LungCBAM 78.42 / 71.79, LungSimAM 79.72 / 72.29, LungSSF1 71.48 / 66.66, "
            "LungSSF2 78.99 / 72.12, LungSSFNet 81.05 / 75.15"
        ),
    },
    measured={
        "smoke (lesion-ihc 32x32, 24/12 images, 4-level U-Net, 20 epochs, batch 4, 3 seeds), "
        "Dice / HD95 (px)": (
            "LungSSFNet 0.954 ± 0.007 / 1.01; U-Net 0.955 ± 0.007 / 1.05; LungCBAM 0.951 ± "
            "0.014 / 1.15; LungSimAM 0.944 ± 0.009 / 1.30; LungSSF1 0.947 ± 0.010 / 1.34"
        ),
        "smoke pixel accuracy / precision / recall / F1": (
            "LungSSFNet 0.987 / 0.952 / 0.957 / 0.954 vs U-Net 0.987 / 0.935 / 0.977 / 0.956; "
            "params 490,823 (4 SSF blocks) vs 113,113"
        ),
        "reading": (
            "a tie within seed spread: the paper's 1-2 point gain over U-Net does not show on "
            "this easy task; LungSSFNet has the lowest HD95 and, as in Table 3, 4 SSF blocks "
            "do better than 7 (LungSSF1), but LungCBAM is not below LungSimAM here"
        ),
    },
    test_overrides=(
        "train.epochs=1",
        "train.batch_size=2",
        "data.n_train=4",
        "data.n_test=2",
        "data.size=16",
        "model.widths=[4,8]",
        "model.k=4",
        "model.reduction=2",
        "seeds=[0]",
    ),
)
