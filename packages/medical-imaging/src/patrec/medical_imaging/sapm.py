"""SAPM: "A Single Source Generalization Model via Spatial Amplitude Perturbation and
Sensitivity Guidance for Colored Medical Image Segmentation" (Z. Yang, C. Yu; ICPR 2024).

Single-source domain generalisation for colour (fundus) segmentation, two parts:

- **SAPM** (Sec. 3.2, eqs. 1-5): FFT each image channel into amplitude ``A`` and phase;
  multiply the amplitude by ``mu(i, j) ~ N(1, sigma^2_ij)`` whose variance grows with the
  normalised distance from the spectrum centre, ``sigma^2_ij = alpha D(i, j) + beta``,
  ``D = (i^2 + j^2) / max(i^2 + j^2)``; recombine with the raw phase by the inverse FFT.
  Paper values ``alpha = 6``, ``beta = 0.5``.
- **Feature sensitivity guidance** (Sec. 3.3, eqs. 6-12): low-level features of the original
  and the augmented image give ``FD = GAP(|f_ori - f_aug|)`` (eq. 6), min-max normalised to
  the sensitivity ``S`` (eq. 7); an SE head gives channel attention ``CA = sigmoid(Conv1x1(
  GAP(f_in)))`` (eq. 8) applied to the features (eq. 9); the guidance loss
  ``L_g = || log(CA) log(S) - 1 ||_2`` (eq. 10) pushes ``CA -> 0`` where ``S -> 1``. With the
  consistency loss ``L_con = MSE(sigmoid(y_ori), sigmoid(y_aug))`` (eq. 11) the objective is
  ``L = lambda1 L_seg + lambda2 L_con + lambda3 L_g``, ``lambda = (1, 0.5, 0.5)`` (eq. 12).

Choices where the paper is silent (all also in the config ``source=`` notes):

- The perturbation ``mu`` is drawn Hermitian-symmetric (``mu(k) = mu(-k)``), so the inverse
  FFT is real without discarding an imaginary part, and the perturbed amplitude is
  ``P = A |mu|`` (an amplitude is non-negative; a negative ``mu`` would flip the phase by pi,
  against eq. 5's "raw phase"). The variance of ``mu`` itself is exactly eq. 3's. The phase of
  ``x_aug`` therefore equals the phase of ``x`` (wherever ``P != 0``).
- ``mu`` is drawn independently per image and per colour channel (colour shifts), no
  clipping of ``x_aug`` to [0, 1] (eq. 5 has none).
- The FFT grid coordinates of eq. 2 are the integer frequencies ``i in [-H/2, H/2)`` (the
  ``fftshift`` layout, centre ``(0, 0)`` = DC).
- "Low-level features": the output of the first U-Net encoder level; the SE head sits there
  and ``f_out`` continues into the network. ``S`` is min-max normalised over the channels of
  each sample and treated as a target (no gradient). ``oplus`` of eq. 9 is read as the SENet
  channel-wise product (``combine="add"`` gives the literal sum). ``L_g`` is the L2 norm over
  channels, averaged over samples and over the two inputs (original, augmented).
- ``L_seg`` = BCE + soft Dice on the outputs of both the original and the augmented image.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patrec.core.config import param
from patrec.core.errors import ConfigError, DataError, InputError
from patrec.core.registry import Method
from patrec.core.segmentation import (
    SegmentationData,
    UNet,
    check_binary_mask,
    check_image_mask_pair,
    soft_dice_loss,
)
from patrec.core.train import TrainConfig

__all__ = [
    "METHOD",
    "PAPER_ALPHA",
    "PAPER_BETA",
    "PAPER_LAMBDAS",
    "VARIANTS",
    "SAPMConfig",
    "SAPMNet",
    "SEHead",
    "SpatialAmplitudePerturbation",
    "TrainedModel",
    "amplitude_perturbation",
    "consistency_loss",
    "evaluate_domains",
    "feature_sensitivity",
    "guidance_loss",
    "load_data",
    "normalized_distance",
    "paper_config",
    "plain_amplitude_noise",
    "recipe",
    "sample_scaling",
    "sapm",
    "sapm_objective",
    "sapm_variance",
    "segmentation_loss",
    "smoke_config",
    "total_loss",
    "train_variant",
]

PAPER_ALPHA = 6.0  # Sec. 3.2 / eq. 3: "alpha is the distance coefficient and is set as 6"
PAPER_BETA = 0.5  # Sec. 3.2 / eq. 1: "beta usually is set as 0.5"
PAPER_LAMBDAS = (1.0, 0.5, 0.5)  # eq. 12: "set to 1, 0.5, and 0.5"
VARIANTS = ("none", "plain", "sapm", "full")
Combine = Literal["mul", "add"]


# -- input checks ---------------------------------------------------------------------------
def _shape(x: object) -> str:
    if isinstance(x, Tensor):
        return f"shape {tuple(x.shape)} {x.dtype}"
    return type(x).__name__


def _check_images(images: object, name: str = "images") -> Tensor:
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        raise InputError(f"{name} must be a floating (N, C, H, W) tensor, got {_shape(images)}")
    if images.numel() == 0:
        raise InputError(f"{name} must not be empty, got shape {tuple(images.shape)}")
    if not bool(torch.isfinite(images).all()):
        raise InputError(f"{name} contain NaN or inf")
    return images


def _check_nonneg(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise InputError(f"{name} must be a finite float >= 0, got {v!r}")
    return float(v)


def _check_size(h: object, w: object) -> tuple[int, int]:
    ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (h, w))
    if not ok:
        raise InputError(f"height and width must be integers >= 1, got {h!r} x {w!r}")
    assert isinstance(h, int) and isinstance(w, int)
    return h, w


def _check_feature(name: str, f: object) -> Tensor:
    if not isinstance(f, Tensor) or f.dim() != 4 or not f.is_floating_point():
        raise InputError(f"{name} must be a floating (B, C, H, W) feature map, got {_shape(f)}")
    return f


# -- SAPM (Sec. 3.2, eqs. 1-5) --------------------------------------------------------------
def _freq_coords(n: int, device: torch.device | None, dtype: torch.dtype) -> Tensor:
    """Integer frequencies of an ``n``-point FFT in FFT order: ``0, 1, ..., -n/2, ..., -1``."""
    return torch.fft.fftfreq(n, d=1.0 / n, device=device, dtype=dtype).round()


def normalized_distance(
    height: int,
    width: int,
    *,
    centered: bool = False,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Eq. 2: ``D(i, j) = (i^2 + j^2) / max(i^2 + j^2)`` on the FFT grid, ``(H, W)``.

    ``(i, j)`` are the integer frequencies (``i in [-H/2, H/2)``, ``(0, 0)`` = DC), so
    ``D = 0`` at DC and ``D = 1`` at the farthest corner frequency. ``centered=False`` returns
    the map in ``torch.fft.fft2`` order, ``centered=True`` in ``fftshift`` order (DC in the
    middle, as the paper's Fig. 2 shows it).
    """
    h, w = _check_size(height, width)
    i = _freq_coords(h, device, dtype)[:, None]
    j = _freq_coords(w, device, dtype)[None, :]
    r2 = i.square() + j.square()
    top = r2.max()
    d = r2 / top if float(top) > 0 else torch.zeros_like(r2)
    return torch.fft.fftshift(d) if centered else d


def sapm_variance(
    height: int,
    width: int,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    *,
    centered: bool = False,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Eq. 3: ``sigma^2(i, j) = alpha D(i, j) + beta``, ``(H, W)`` (``beta`` at DC, eq. 1).

    Raises:
        InputError: ``alpha < 0`` or ``beta < 0`` (a variance is non-negative) or bad sizes.
    """
    a = _check_nonneg("alpha", alpha)
    b = _check_nonneg("beta", beta)
    d = normalized_distance(height, width, centered=centered, device=device, dtype=dtype)
    return a * d + b


def _hermitian_index(h: int, w: int, device: torch.device | None) -> Tensor:
    """Flat index ``min(k, -k mod (H, W))`` per FFT bin: one draw per conjugate pair."""
    ki = torch.arange(h, device=device)[:, None]
    kj = torch.arange(w, device=device)[None, :]
    flat = ki * w + kj
    mirror = ((-ki) % h) * w + (-kj) % w
    return torch.minimum(flat, mirror).reshape(-1)


def sample_scaling(
    shape: tuple[int, ...],
    variance: Tensor,
    *,
    generator: torch.Generator | None = None,
    hermitian: bool = True,
) -> Tensor:
    """Eqs. 1 and 4: ``mu(i, j) ~ N(1, sigma^2(i, j))`` of a given ``shape = (..., H, W)``.

    Args:
        shape: output shape, the last two dims equal to ``variance.shape``.
        variance: ``(H, W)`` map of ``sigma^2 >= 0`` in FFT order (:func:`sapm_variance`).
        generator: CPU random generator (the draws are made on the CPU, then moved to
            ``variance.device``), for reproducible perturbations.
        hermitian: draw one value per conjugate frequency pair ``(k, -k)`` and use it for
            both, so the perturbed spectrum stays Hermitian and its inverse FFT real.

    Returns:
        ``mu`` of ``shape``, dtype of ``variance``; each entry has mean 1 and variance
        ``variance[i, j]``.
    """
    if not isinstance(variance, Tensor) or variance.dim() != 2:
        raise InputError(f"variance must be an (H, W) tensor, got {_shape(variance)}")
    if tuple(shape[-2:]) != tuple(variance.shape):
        raise InputError(
            f"shape {tuple(shape)} must end with the variance map's {tuple(variance.shape)}"
        )
    if bool((variance < 0).any()) or not bool(torch.isfinite(variance).all()):
        raise InputError("variance must hold finite values >= 0")
    h, w = variance.shape
    z = torch.randn(shape, generator=generator, dtype=torch.float64).to(
        device=variance.device, dtype=variance.dtype
    )
    if hermitian:
        idx = _hermitian_index(h, w, variance.device)
        z = z.flatten(-2)[..., idx].reshape(shape)
    return 1.0 + variance.sqrt() * z


def amplitude_perturbation(
    images: Tensor,
    variance: Tensor,
    *,
    generator: torch.Generator | None = None,
    share_channels: bool = False,
    return_scaling: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Multiply the Fourier amplitude of each channel by ``|mu|``, keep the phase (eqs. 4-5).

    ``A, phi = |FFT(x)|, angle(FFT(x))``; ``P = A |mu|`` with ``mu ~ N(1, variance)``
    (Hermitian-symmetric, :func:`sample_scaling`); ``x_aug = IFFT(P e^{i phi})``, real.

    Args:
        images: ``(N, C, H, W)`` float images.
        variance: ``(H, W)`` variance map in FFT order.
        generator: CPU generator for the draws.
        share_channels: one ``mu`` per image for all channels (else one per channel).
        return_scaling: also return ``mu`` ``(N, C or 1, H, W)``.

    Returns:
        ``x_aug`` ``(N, C, H, W)`` (same dtype; not clipped), and ``mu`` if asked.
    """
    x = _check_images(images)
    n, c, h, w = x.shape
    if not isinstance(variance, Tensor) or tuple(variance.shape) != (h, w):
        raise InputError(f"variance must be an ({h}, {w}) tensor like the images, got "
                         f"{_shape(variance)}")  # fmt: skip
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    spec = torch.fft.fft2(x.to(work))
    amp, phase = spec.abs(), spec.angle()
    mu = sample_scaling(
        (n, 1 if share_channels else c, h, w),
        variance.to(device=x.device, dtype=work),
        generator=generator,
    )
    perturbed = amp * mu.abs()  # eq. 4 with a non-negative amplitude (see module docs)
    out = torch.fft.ifft2(torch.polar(perturbed, phase)).real.to(x.dtype)  # eq. 5
    return (out, mu) if return_scaling else out


def sapm(
    images: Tensor,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    *,
    generator: torch.Generator | None = None,
    share_channels: bool = False,
) -> Tensor:
    """Spatial amplitude perturbation (eqs. 1-5): ``(N, C, H, W) -> (N, C, H, W)``.

    The amplitude at frequency ``(i, j)`` is scaled by ``|mu|``, ``mu ~ N(1, alpha D + beta)``:
    little change of the large low-frequency amplitudes, strong change of the small
    high-frequency ones. The phase is kept exactly.

    Raises:
        InputError: images not a finite float ``(N, C, H, W)`` tensor, ``alpha < 0``,
            ``beta < 0``.
    """
    x = _check_images(images)
    var = sapm_variance(x.shape[-2], x.shape[-1], alpha, beta, device=x.device)
    out = amplitude_perturbation(x, var, generator=generator, share_channels=share_channels)
    assert isinstance(out, Tensor)
    return out


def plain_amplitude_noise(
    images: Tensor,
    variance: float | None = None,
    *,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    generator: torch.Generator | None = None,
    share_channels: bool = False,
) -> Tensor:
    """The "intuitive" baseline of Sec. 1: one Gaussian ``N(1, sigma^2)`` for every frequency.

    ``variance=None`` uses the mean of SAPM's ``alpha D + beta`` over the spectrum, so both
    augmentations inject the same average perturbation power and differ only in its
    distribution over the radius.
    """
    x = _check_images(images)
    h, w = x.shape[-2:]
    if variance is None:
        v = float(sapm_variance(h, w, alpha, beta).mean())
    else:
        v = _check_nonneg("variance", variance)
    var = torch.full((h, w), v, device=x.device)
    out = amplitude_perturbation(x, var, generator=generator, share_channels=share_channels)
    assert isinstance(out, Tensor)
    return out


class SpatialAmplitudePerturbation(nn.Module):
    """Module form of :func:`sapm` (eqs. 1-5); ``forward(x, generator=None)``."""

    def __init__(
        self, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, *, share_channels: bool = False
    ) -> None:
        super().__init__()
        self.alpha = _check_nonneg("alpha", alpha)
        self.beta = _check_nonneg("beta", beta)
        self.share_channels = share_channels

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return sapm(
            x, self.alpha, self.beta, generator=generator, share_channels=self.share_channels
        )

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, share_channels={self.share_channels}"


# -- feature sensitivity guidance (Sec. 3.3, eqs. 6-10) -------------------------------------
def feature_sensitivity(f_ori: Tensor, f_aug: Tensor) -> Tensor:
    """Eqs. 6-7: ``FD = GAP(|f_ori - f_aug|)``, ``S = (FD - min FD) / (max FD - min FD)``.

    Args:
        f_ori, f_aug: ``(B, C, H, W)`` features of the original and augmented images.

    Returns:
        ``S`` ``(B, C, 1, 1)`` in [0, 1], min-max normalised over the channels of each sample
        (1: the channel most changed by the augmentation). Where all channels change equally
        (``max = min``) ``S = 0``.
    """
    _check_feature("f_ori", f_ori)
    _check_feature("f_aug", f_aug)
    if f_ori.shape != f_aug.shape:
        raise InputError(
            f"f_ori {tuple(f_ori.shape)} and f_aug {tuple(f_aug.shape)} must have one shape"
        )
    fd = (f_ori - f_aug).abs().mean(dim=(2, 3), keepdim=True)  # eq. 6
    lo = fd.amin(dim=1, keepdim=True)
    hi = fd.amax(dim=1, keepdim=True)
    span = hi - lo
    flat = span <= torch.finfo(fd.dtype).tiny
    return torch.where(flat, torch.zeros_like(fd), (fd - lo) / torch.where(flat, 1.0, span))


class SEHead(nn.Module):
    """SE channel attention of eqs. 8-9: ``CA = sigmoid(Conv1x1(GAP(f_in)))``, ``f_out = CA
    (*) f_in``.

    Args:
        channels: ``C`` of the features.
        combine: ``"mul"`` (SENet's channel-wise scaling, default) or ``"add"`` (eq. 9's
            ``oplus`` read literally, ``f_out = f_in + CA``).

    Shapes: ``forward(f_in (B, C, H, W)) -> (f_out (B, C, H, W), CA (B, C, 1, 1))``,
    ``CA`` in (0, 1).
    """

    def __init__(self, channels: int, combine: Combine = "mul") -> None:
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise InputError(f"channels must be an integer >= 1, got {channels!r}")
        if combine not in ("mul", "add"):
            raise InputError(f"combine must be 'mul' or 'add', got {combine!r}")
        self.channels = channels
        self.combine: Combine = combine
        self.conv = nn.Conv2d(channels, channels, 1)

    def attention_logits(self, f_in: Tensor) -> Tensor:
        """``Conv1x1(GAP(f_in))`` ``(B, C, 1, 1)``: the attention before the sigmoid."""
        _check_feature("f_in", f_in)
        if f_in.shape[1] != self.channels:
            raise InputError(f"SEHead expects {self.channels} channels, got {tuple(f_in.shape)}")
        return self.conv(f_in.mean(dim=(2, 3), keepdim=True))

    def forward(self, f_in: Tensor) -> tuple[Tensor, Tensor]:
        ca = torch.sigmoid(self.attention_logits(f_in))  # eq. 8
        f_out = f_in * ca if self.combine == "mul" else f_in + ca  # eq. 9
        return f_out, ca

    def extra_repr(self) -> str:
        return f"channels={self.channels}, combine={self.combine!r}"


def guidance_loss(ca: Tensor, s: Tensor, *, eps: float = 1e-6) -> Tensor:
    """Eq. 10: ``L_g = || log(CA) log(S) - 1 ||_2``, the L2 norm over channels, mean over B.

    Minimised per channel at ``CA = exp(1 / log S)``: ``CA -> 0`` as ``S -> 1`` (a channel
    sensitive to the domain shift is suppressed) and ``CA -> 1`` as ``S -> 0``.

    Args:
        ca: channel attention ``(B, C, 1, 1)`` (or ``(B, C)``) in (0, 1].
        s: sensitivity of the same shape in [0, 1] (:func:`feature_sensitivity`); clamped to
            ``[eps, 1]`` so ``log S`` is finite. Used as a constant target (detached).
        eps: lower clamp of ``S`` and ``CA`` inside the logarithms.

    Returns:
        A scalar.
    """
    if not isinstance(ca, Tensor) or not isinstance(s, Tensor) or ca.shape != s.shape:
        raise InputError(f"ca and s must be tensors of one shape, got {_shape(ca)} and {_shape(s)}")
    if ca.dim() not in (2, 4) or ca.dim() == 4 and ca.shape[2:] != (1, 1):
        raise InputError(f"ca must be (B, C, 1, 1) or (B, C), got {tuple(ca.shape)}")
    if bool((ca <= 0).any() | (ca > 1).any()) or bool((s < 0).any() | (s > 1).any()):
        raise InputError("ca must lie in (0, 1] and s in [0, 1]")
    e = _check_nonneg("eps", eps)
    log_s = s.detach().clamp(min=e, max=1.0).log()
    log_ca = ca.clamp(min=e).log()
    r = (log_ca * log_s - 1.0).flatten(1)
    return r.norm(dim=1).mean()


def consistency_loss(p_ori: Tensor, p_aug: Tensor) -> Tensor:
    """Eq. 11: ``L_con = MSE(y_ori, y_aug)``, mean over all elements.

    ``p_ori``, ``p_aug``: sigmoid outputs ``(N, K, H, W)`` in [0, 1] of the original and the
    augmented images; gradients reach both.
    """
    for name, p in (("p_ori", p_ori), ("p_aug", p_aug)):
        if not isinstance(p, Tensor) or p.dim() != 4 or not p.is_floating_point():
            raise InputError(f"{name} must be a floating (N, K, H, W) tensor, got {_shape(p)}")
        if bool((p < 0).any() | (p > 1).any()):
            raise InputError(f"{name} must hold probabilities in [0, 1] (apply the sigmoid)")
    if p_ori.shape != p_aug.shape:
        raise InputError(f"p_ori {tuple(p_ori.shape)} and p_aug {tuple(p_aug.shape)} differ")
    return F.mse_loss(p_ori, p_aug)


def segmentation_loss(logits: Tensor, masks: Tensor) -> Tensor:
    """``L_seg`` = BCE (on logits, mean over pixels) + soft Dice (on sigmoids) (Sec. 3.3).

    ``logits`` float ``(N, K, H, W)``; ``masks`` binary of the same shape (else InputError).
    """
    if not isinstance(logits, Tensor) or logits.dim() != 4 or not logits.is_floating_point():
        raise InputError(f"logits must be a floating (N, K, H, W) tensor, got {_shape(logits)}")
    if not isinstance(masks, Tensor) or masks.shape != logits.shape:
        raise InputError(
            f"masks must be binary with the logits' shape {tuple(logits.shape)}, got "
            f"{_shape(masks)}"
        )
    t = check_binary_mask(masks, "masks").to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, t) + soft_dice_loss(torch.sigmoid(logits), t)


def total_loss(
    seg: Tensor,
    con: Tensor,
    guide: Tensor,
    lambdas: tuple[float, float, float] = PAPER_LAMBDAS,
) -> Tensor:
    """Eq. 12: ``L_total = lambda1 L_seg + lambda2 L_con + lambda3 L_g`` (paper: 1, 0.5, 0.5)."""
    if len(lambdas) != 3:
        raise InputError(f"lambdas must be three weights (seg, con, g), got {lambdas!r}")
    l1, l2, l3 = (_check_nonneg(f"lambda{k + 1}", v) for k, v in enumerate(lambdas))
    for name, t in (("seg", seg), ("con", con), ("guide", guide)):
        if not isinstance(t, Tensor) or t.numel() != 1:
            raise InputError(f"{name} must be a scalar tensor, got {_shape(t)}")
    return l1 * seg + l2 * con + l3 * guide


# -- network --------------------------------------------------------------------------------
class SAPMNet(nn.Module):
    """The core :class:`~patrec.core.segmentation.UNet` with the SE head of eqs. 8-9 after its
    first encoder level (the "low-level features").

    ``forward(x) -> logits``; :meth:`forward_guided` also returns the pre-SE features
    ``f_in`` ``(N, widths[0], H, W)`` and the attention ``CA`` ``(N, widths[0], 1, 1)``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 2,
        widths: tuple[int, ...] = (16, 32, 64, 128),
        *,
        combine: Combine = "mul",
    ) -> None:
        super().__init__()
        self.unet = UNet(in_channels, out_channels, widths)
        self.se = SEHead(self.unet.widths[0], combine)

    @property
    def divisor(self) -> int:
        return self.unet.divisor

    def forward_guided(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(logits (N, K, H, W), f_in (N, C0, H, W), CA (N, C0, 1, 1))``."""
        seen: dict[str, Tensor] = {}

        def se_after_level0(level: int, h: Tensor) -> Tensor:
            if level > 0:
                return h
            seen["f_in"] = h
            weighted, seen["ca"] = self.se(h)
            return weighted

        logits, _ = self.unet.forward_features(x, encoder_hook=se_after_level0)
        return logits, seen["f_in"], seen["ca"]

    def forward(self, x: Tensor, guided: bool = False) -> Any:
        """Logits ``(N, K, H, W)``; with ``guided=True`` the triple of :meth:`forward_guided`
        (so a DDP-wrapped net can be called for it)."""
        out = self.forward_guided(x)
        return out if guided else out[0]


def sapm_objective(
    net: nn.Module,
    images: Tensor,
    masks: Tensor,
    variant: str = "full",
    *,
    alpha: float = PAPER_ALPHA,
    beta: float = PAPER_BETA,
    lambdas: tuple[float, float, float] = PAPER_LAMBDAS,
    plain_variance: float | None = None,
    share_channels: bool = False,
    eps: float = 1e-6,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """One training objective of a variant on a batch.

    - ``none``: ``L_seg`` on the original images (the paper's "w/o SDG" U-Net).
    - ``plain``: ``L_seg`` on originals and on :func:`plain_amplitude_noise` images.
    - ``sapm``: ``L_seg`` on originals and on :func:`sapm` images (Table 3 row 2).
    - ``full``: :class:`SAPMNet` with SAPM, eq. 12 ``lambda1 L_seg + lambda2 L_con +
      lambda3 L_g`` (Table 3 last row).

    Original and augmented images go through ``net`` in one batch (shared BatchNorm).

    Returns:
        ``{"loss", "seg", "con", "guide"}`` (the last three detached; 0 where unused).

    Raises:
        InputError: images/masks of wrong shapes or sizes, non-binary masks, bad variant,
            ``alpha < 0``, ``full`` without an :class:`SAPMNet`.
    """
    x = _check_images(images)
    check_image_mask_pair(x, masks)
    y = check_binary_mask(masks, "masks")
    if y.dim() == 3:
        y = y.unsqueeze(1)
    y = y.to(x.dtype)
    if variant not in VARIANTS:
        raise InputError(f"variant must be one of {VARIANTS}, got {variant!r}")
    zero = x.new_zeros(())
    if variant == "none":
        seg = segmentation_loss(net(x), y)
        return {"loss": seg, "seg": seg.detach(), "con": zero, "guide": zero}
    if variant == "plain":
        xa = plain_amplitude_noise(
            x, plain_variance, alpha=alpha, beta=beta, generator=generator,
            share_channels=share_channels,
        )  # fmt: skip
    else:
        xa = sapm(x, alpha, beta, generator=generator, share_channels=share_channels)
    both = torch.cat([x, xa])
    yy = torch.cat([y, y])
    if variant in ("plain", "sapm"):
        seg = segmentation_loss(net(both), yy)
        return {"loss": seg, "seg": seg.detach(), "con": zero, "guide": zero}
    base = getattr(net, "module", net)  # DDP-wrapped or not
    if not isinstance(base, SAPMNet):
        raise InputError(f"variant 'full' needs an SAPMNet, got {type(base).__name__}")
    logits, f_in, ca = net(both, guided=True)
    n = x.shape[0]
    seg = segmentation_loss(logits, yy)
    probs = torch.sigmoid(logits)
    con = consistency_loss(probs[:n], probs[n:])  # eq. 11
    s = feature_sensitivity(f_in[:n].detach(), f_in[n:].detach())  # eqs. 6-7
    guide = 0.5 * (guidance_loss(ca[:n], s, eps=eps) + guidance_loss(ca[n:], s, eps=eps))
    loss = total_loss(seg, con, guide, lambdas)  # eq. 12
    return {"loss": loss, "seg": seg.detach(), "con": con.detach(), "guide": guide.detach()}


# -- config ---------------------------------------------------------------------------------
@dataclass
class SAPMDataConfig:
    """Source domain for training, unseen domains for testing."""

    name: str = param(
        "fundus",
        "fundus (embedded disc/cup with unseen camera-like domains) or riga (local RIGA+)",
        source="Sec. 4.1: RIGA+; our embedded stand-in: fundus_task",
    )
    root: str | None = param(None, "RIGA+ folder (--data) for data.name=riga")
    source: str = param(
        "BinRushed", "RIGA+ source domain (riga)", source="Sec. 4.1: BinRushed or Magrabia"
    )
    targets: tuple[str, ...] = param(
        ("MESSIDOR_Base1", "MESSIDOR_Base2", "MESSIDOR_Base3"),
        "RIGA+ unseen target domains (riga)",
        source="Sec. 4.1: Base1, Base2, Base3",
    )
    domains: tuple[str, ...] = param(
        ("dark", "colour", "lowcontrast", "noisy"),
        "unseen domains of fundus_task (FUNDUS_DOMAINS)",
        source="not stated; our choice: camera-like appearance shifts as unseen domains",
    )
    size: int = param(512, "images are size x size", source="Sec. 4.2: 512 x 512")
    n_train: int = param(48, "training images (fundus)")
    n_test: int = param(24, "test images per domain (fundus)")
    source_test_fraction: float = param(
        0.2, "share of the RIGA+ source held out as in-domain test set", source="not stated"
    )
    limit: int | None = param(None, "read at most this many RIGA+ images per domain")


@dataclass
class SAPMModelConfig:
    """The segmentation network."""

    widths: tuple[int, ...] = param(
        (64, 128, 256, 512, 1024),
        "U-Net channels per level",
        source="Sec. 4.2: U-Net with a modified ResNet-34 encoder; ours: the plain core U-Net",
    )
    combine: str = param(
        "mul",
        "how CA meets f_in (eq. 9): mul (SENet scaling) or add (the literal oplus)",
        source="eq. 9 writes oplus; not defined; our choice: SENet's channel-wise product",
    )


@dataclass
class SAPMAugConfig:
    """SAPM and the plain amplitude-noise baseline."""

    alpha: float = param(PAPER_ALPHA, "distance coefficient of eq. 3", source="Sec. 3.2: 6")
    beta: float = param(PAPER_BETA, "variance offset of eqs. 1, 3", source="Sec. 3.2: 0.5")
    plain_variance: float | None = param(
        None,
        "variance of the plain amplitude noise; None = mean of alpha D + beta",
        source="not stated (Sec. 1 names the idea only); our choice: equal mean power",
    )
    share_channels: bool = param(
        False,
        "one mu per image for all colour channels",
        source="not stated; our choice: one mu per channel",
    )


@dataclass
class SAPMLossConfig:
    """Eq. 12 weights."""

    lambda_seg: float = param(1.0, "lambda1 of L_seg", source="eq. 12: 1")
    lambda_con: float = param(0.5, "lambda2 of L_con", source="eq. 12: 0.5")
    lambda_g: float = param(0.5, "lambda3 of L_g", source="eq. 12: 0.5")
    eps: float = param(1e-6, "clamp of S and CA inside log (eq. 10)", source="not stated")


@dataclass
class SAPMOptimConfig:
    """Optimiser."""

    name: str = param("sgd", "sgd or adam", source="Sec. 4.2: SGD")
    lr: float = param(0.01, "learning rate", source="Sec. 4.2: 0.01", gt=0)
    momentum: float = param(0.99, "SGD momentum", source="Sec. 4.2: 0.99", ge=0, le=1)
    weight_decay: float = param(0.0, "weight decay", source="not stated; ours: 0", ge=0)


@dataclass
class SAPMConfig:
    """Config of the SAPM recipe (:func:`recipe`)."""

    data: SAPMDataConfig = field(default_factory=SAPMDataConfig)
    model: SAPMModelConfig = field(default_factory=SAPMModelConfig)
    aug: SAPMAugConfig = field(default_factory=SAPMAugConfig)
    loss: SAPMLossConfig = field(default_factory=SAPMLossConfig)
    optim: SAPMOptimConfig = field(default_factory=SAPMOptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = param(
        VARIANTS,
        "none (U-Net), plain (amplitude noise of one variance), sapm (SAPM only), full (SAPM + "
        "SE sensitivity guidance + L_con + L_g)",
        source="Table 3 ablation; plain stands for its NormAug row",
    )
    seeds: tuple[int, ...] = param((0, 1, 2), "one run of every variant per seed")
    threshold: float = param(0.5, "sigmoid threshold of the predicted masks")


def paper_config() -> SAPMConfig:
    """Sec. 4.2: 512 x 512, batch 8, SGD lr 0.01 momentum 0.99, 200 epochs, alpha 6, beta
    0.5, lambdas 1 / 0.5 / 0.5."""
    return SAPMConfig(train=TrainConfig(epochs=200, batch_size=8))


def smoke_config() -> SAPMConfig:
    """CPU scale: fundus disc/cup 32x32, 32 training and 12 test images per domain, a
    3-level U-Net (8, 16, 32), Adam 3e-3, 12 epochs, 3 seeds."""
    return SAPMConfig(
        data=SAPMDataConfig(size=32, n_train=32, n_test=12),
        model=SAPMModelConfig(widths=(8, 16, 32)),
        optim=SAPMOptimConfig(name="adam", lr=3e-3, momentum=0.0),
        train=TrainConfig(epochs=12, batch_size=8, cpu=True, progress=False),
        seeds=(0, 1, 2),
    )


def _check_config(cfg: SAPMConfig) -> None:
    bad = [v for v in cfg.variants if v not in VARIANTS]
    if bad or not cfg.variants:
        raise ConfigError(f"variants: expected a non-empty subset of {VARIANTS}, got {bad}")
    if not cfg.seeds:
        raise ConfigError("seeds must not be empty")
    if cfg.data.name not in ("fundus", "riga"):
        raise ConfigError(f"data.name: expected fundus or riga, got {cfg.data.name!r}")
    div = 2 ** (len(cfg.model.widths) - 1)
    if cfg.data.size % div:
        raise ConfigError(f"data.size {cfg.data.size} must be a multiple of {div}")
    if cfg.optim.name not in ("sgd", "adam"):
        raise ConfigError(f"optim.name: expected sgd or adam, got {cfg.optim.name!r}")
    if cfg.model.combine not in ("mul", "add"):
        raise ConfigError(f"model.combine: expected mul or add, got {cfg.model.combine!r}")
    for name in ("alpha", "beta"):
        v = getattr(cfg.aug, name)
        if not math.isfinite(v) or v < 0:
            raise ConfigError(f"aug.{name} must be a finite float >= 0, got {v}")


def load_data(cfg: SAPMConfig) -> SegmentationData:
    """``fundus``: :func:`~patrec.medical_imaging.data.fundus_task` (source domain for
    training and ``x_test``, ``data.domains`` unseen). ``riga``: the RIGA+ ``data.source``
    domain (a held-out share as in-domain test) and ``data.targets`` as unseen domains."""
    from patrec.medical_imaging.data import fundus_task, load_riga_plus

    d = cfg.data
    if d.name == "fundus":
        return fundus_task(d.n_train, d.n_test, size=d.size, domains=d.domains, seed=0)
    if d.root is None:
        raise DataError("data.name=riga reads a local RIGA+ folder: pass --data PATH")
    x, y = load_riga_plus(d.root, d.source, size=d.size, limit=d.limit)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    n_te = max(1, int(round(d.source_test_fraction * len(x))))
    te, tr = perm[:n_te], perm[n_te:]
    doms = {t: load_riga_plus(d.root, t, size=d.size, limit=d.limit) for t in d.targets}
    return SegmentationData(
        x[tr], y[tr], x[te], y[te], ("disc", "cup"), name=f"riga:{d.source}", domains=doms
    )


# -- training and evaluation ----------------------------------------------------------------
def _predict(model: nn.Module, images: Tensor, threshold: float) -> Tensor:
    model.eval()
    dev = next(model.parameters()).device
    with torch.no_grad():
        return torch.cat([torch.sigmoid(model(b.to(dev))).cpu() for b in images.split(32)]) > (
            threshold
        )


def evaluate_domains(
    model: nn.Module,
    sets: dict[str, tuple[Tensor, Tensor]],
    class_names: tuple[str, ...],
    threshold: float = 0.5,
) -> dict[str, dict[str, float]]:
    """Dice and HD95 (pixels) per class for every named test set ``name -> (x, masks)``.

    Returns ``name -> {"dice", "hd95", "dice_<class>", "hd95_<class>"}`` (means over images;
    ``dice``/``hd95`` also over classes).
    """
    from patrec.core.segmentation import dice_score, hd95

    out: dict[str, dict[str, float]] = {}
    for name, (x, y) in sets.items():
        check_image_mask_pair(x, y)
        t = check_binary_mask(y, f"masks of {name}")
        if len(class_names) != t.shape[1]:
            raise InputError(f"{len(class_names)} class names for {t.shape[1]} mask channels")
        pred = _predict(model, x, threshold)
        d, h = dice_score(pred, t).mean(dim=0), hd95(pred, t).mean(dim=0)
        m = {"dice": float(d.mean()), "hd95": float(h.mean())}
        for k, c in enumerate(class_names):
            m[f"dice_{c}"], m[f"hd95_{c}"] = float(d[k]), float(h[k])
        out[name] = m
    return out


@dataclass
class TrainedModel:
    """One trained (variant, seed): the network, its history and its metrics per domain."""

    variant: str
    seed: int
    model: nn.Module
    history: list[dict[str, float]]
    metrics: dict[str, dict[str, float]]


def train_variant(
    cfg: SAPMConfig,
    variant: str,
    seed: int,
    data: SegmentationData,
    out_dir: str | Path | None = None,
) -> TrainedModel:
    """Train one variant with one seed through the core Trainer; metrics on ``x_test``
    (``"source"``) and every ``data.domains[name]``."""
    from torch.utils.data import TensorDataset

    from patrec.core.train import Trainer, seed_everything

    if variant not in VARIANTS:
        raise ConfigError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    check_image_mask_pair(data.x_train, data.y_train)
    check_binary_mask(data.y_train, "training masks")
    tcfg = dataclasses.replace(cfg.train, seed=seed)
    seed_everything(seed, tcfg.deterministic)
    c_in, k = data.x_train.shape[1], data.y_train.shape[1]
    widths = tuple(cfg.model.widths)
    model: nn.Module
    if variant == "full":
        combine: Combine = "add" if cfg.model.combine == "add" else "mul"
        model = SAPMNet(c_in, k, widths, combine=combine)
    else:
        model = UNet(c_in, k, widths)
    o = cfg.optim
    opt: torch.optim.Optimizer
    if o.name == "sgd":
        opt = torch.optim.SGD(
            model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    gen = torch.Generator().manual_seed(seed + 7919)
    lam = (cfg.loss.lambda_seg, cfg.loss.lambda_con, cfg.loss.lambda_g)

    def step(tr: Trainer, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        x, y = batch
        return sapm_objective(
            tr.model, x, y, variant, alpha=cfg.aug.alpha, beta=cfg.aug.beta, lambdas=lam,
            plain_variance=cfg.aug.plain_variance, share_channels=cfg.aug.share_channels,
            eps=cfg.loss.eps, generator=gen,
        )  # fmt: skip

    trainer = Trainer(
        model,
        opt,
        TensorDataset(data.x_train, data.y_train.float()),
        step,
        tcfg,
        out_dir=out_dir,
        desc=f"{variant} seed {seed}",
    )
    history = trainer.fit()
    net = trainer.unwrapped_model
    sets = {"source": (data.x_test, data.y_test), **data.domains}
    metrics = evaluate_domains(net, sets, tuple(data.class_names), cfg.threshold)
    return TrainedModel(variant, seed, net, history, metrics)


# -- plots ----------------------------------------------------------------------------------
def plot_sapm_examples(
    image: Tensor, path: str | Path, *, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA,
    n: int = 3, seed: int = 0,
) -> Path:  # fmt: skip
    """An image, ``n`` SAPM perturbations and one plain amplitude-noise image (top) with
    their centred log-amplitude spectra (channel mean, bottom). ``image`` ``(C, H, W)``."""
    from patrec.core.report import _plt, _save

    x = _check_images(image[None] if isinstance(image, Tensor) else image, "image")
    g = torch.Generator().manual_seed(seed)
    views = [("original", x[0])]
    for i in range(n):
        views.append((f"SAPM #{i + 1}", sapm(x, alpha, beta, generator=g)[0]))
    views.append(("plain noise", plain_amplitude_noise(x, alpha=alpha, beta=beta, generator=g)[0]))
    plt = _plt()
    fig, axes = plt.subplots(2, len(views), figsize=(2.2 * len(views), 4.6), squeeze=False)
    for c, (title, v) in enumerate(views):
        img = v.detach().float().cpu()
        shown: Any = img[0] if img.shape[0] == 1 else img[:3].permute(1, 2, 0)
        axes[0, c].imshow(shown.clamp(0, 1).numpy(), cmap="gray" if img.shape[0] == 1 else None)
        amp = torch.fft.fftshift(torch.fft.fft2(img).abs().mean(0))
        axes[1, c].imshow(torch.log1p(amp).numpy(), cmap="magma")
        axes[0, c].set_title(title, fontsize=8)
        for r in range(2):
            axes[r, c].set_axis_off()
    fig.suptitle(f"SAPM (alpha={alpha:g}, beta={beta:g}): images (top, clipped for display), "
                 "log amplitude (bottom)", fontsize=9)  # fmt: skip
    return _save(fig, Path(path))


def _plot_dice_bars(
    values: dict[str, dict[str, dict[str, dict[str, float]]]],
    classes: tuple[str, ...],
    path: Path,
    title: str,
) -> Path:
    """One panel per class; groups = domains, bars = variants (mean ± std over seeds)."""
    import numpy as np

    from patrec.core.report import _plt, _save

    plt = _plt()
    variants = list(values)
    domains = list(values[variants[0]][classes[0]])
    xs = np.arange(len(domains))
    wid = 0.8 / len(variants)
    fig, axes = plt.subplots(1, len(classes), figsize=(2.0 * len(domains) * len(classes), 3.8))
    axes = np.atleast_1d(axes)
    for ax, c in zip(axes, classes, strict=True):
        for j, v in enumerate(variants):
            m = [values[v][c][d]["mean"] for d in domains]
            s = [values[v][c][d]["std"] for d in domains]
            ax.bar(xs + (j - (len(variants) - 1) / 2) * wid, m, wid, yerr=s, capsize=2, label=v)
        ax.set_xticks(xs, domains, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"Dice ({c})")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def recipe(cfg: SAPMConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """Train every variant with every seed on the source domain; Dice / HD95 per class on the
    source test set and on every unseen domain.

    Writes ``metrics.json`` (per variant: ``dice_<class>@<domain>``, ``hd95_<class>@<domain>``,
    ``dice_<class>_unseen`` / ``hd95_<class>_unseen`` = mean over the unseen domains, and
    ``dice_unseen`` over classes too, each mean ± std over seeds), ``sapm_examples.png``,
    ``dice_per_domain.png``, ``train_loss_curves.png``, ``examples_<variant>_<domain>.png``
    and ``runs/<variant>/seed<k>/`` (a run with ``result.json`` is read back, not retrained).
    """

    from patrec.core.report import (
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
    if not ds.domains:
        raise ConfigError("no unseen domains to test on (data.domains / data.targets is empty)")
    out = Path(out_dir)
    classes = tuple(ds.class_names)
    unseen = list(ds.domains)
    domains = ["source", *unseen]
    show = unseen[0]
    show_x, show_y = ds.domains[show]
    n_show = min(6, len(show_x))
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in cfg.variants}
    examples: dict[str, Tensor] = {}

    def run(variant: str, seed: int) -> dict[str, Any]:
        tm = train_variant(cfg, variant, seed, ds, out / "runs" / variant / f"seed{seed}")
        pred = _predict(tm.model, show_x[:n_show], cfg.threshold)
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
    bars: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for v, runs in results.items():
        row: dict[str, Any] = {}
        for dom in domains:
            for c in classes:
                for key in ("dice", "hd95"):
                    row[f"{key}_{c}@{dom}"] = summarize_seeds(
                        [r["metrics"][dom][f"{key}_{c}"] for r in runs]
                    )
        for key in ("dice", "hd95"):
            for c in classes:
                row[f"{key}_{c}_unseen"] = summarize_seeds(
                    [sum(r["metrics"][d][f"{key}_{c}"] for d in unseen) / len(unseen) for r in runs]
                )
            row[f"{key}_unseen"] = summarize_seeds(
                [sum(r["metrics"][d][key] for d in unseen) / len(unseen) for r in runs]
            )
        variants[v] = row
        bars[v] = {c: {d: row[f"dice_{c}@{d}"] for d in domains} for c in classes}
    tag = f"{ds.name}, {len(cfg.seeds)} seed(s), alpha={cfg.aug.alpha:g}, beta={cfg.aug.beta:g}"
    plots = [
        plot_sapm_examples(
            ds.x_train[0], out / "sapm_examples.png", alpha=cfg.aug.alpha, beta=cfg.aug.beta
        ),
        _plot_dice_bars(bars, classes, out / "dice_per_domain.png",
                        f"Dice per class and test domain (trained on source; {tag})"),
        plot_curves(
            {v: [[h["train/loss"] for h in r["history"]] for r in results[v]]
             for v in cfg.variants},
            out / "train_loss_curves.png",
            title="training loss (each variant's own objective)", xlabel="epoch", ylabel="loss",
        ),
    ]  # fmt: skip
    for v, pred in examples.items():
        plots.append(
            plot_segmentation(show_x[:n_show], show_y[:n_show], pred,
                              out / f"examples_{v}_{show}.png",
                              suptitle=f"{v}, seed {cfg.seeds[0]}, unseen domain {show}")
        )  # fmt: skip
    ours = "full" if "full" in cfg.variants else cfg.variants[-1]
    return write_metrics(
        out,
        method="medical-imaging/sapm",
        variants=variants,
        primary="dice_unseen",
        ours=ours,
        baselines=[v for v in cfg.variants if v != ours],
        plots=plots,
        extra={
            "dataset": ds.name,
            "classes": list(classes),
            "unseen_domains": unseen,
            "alpha": cfg.aug.alpha,
            "beta": cfg.aug.beta,
            "lambdas": [cfg.loss.lambda_seg, cfg.loss.lambda_con, cfg.loss.lambda_g],
            "seeds": list(cfg.seeds),
            "epochs": cfg.train.epochs,
        },
    )


METHOD = Method(
    name="medical-imaging/sapm",
    title=(
        "A Single Source Generalization Model via Spatial Amplitude Perturbation and "
        "Sensitivity Guidance for Colored Medical Image Segmentation"
    ),
    paper="002/01",
    citation=(
        "Z. Yang, C. Yu. A Single Source Generalization Model via Spatial Amplitude "
        "Perturbation and Sensitivity Guidance for Colored Medical Image Segmentation. "
        "ICPR 2024, LNCS."
    ),
    task=(
        "single-source domain-generalised segmentation: colour image (N, 3, H, W) -> "
        "disc/cup mask logits (N, 2, H, W), tested on unseen domains"
    ),
    config=SAPMConfig,
    presets={"paper": paper_config, "smoke": smoke_config},
    recipe=recipe,
    baselines=(
        "none: the same U-Net without augmentation (the paper's 'w/o SDG')",
        "plain: amplitude noise of one variance for all frequencies, no guidance",
        "sapm: SAPM only, no SE head / L_con / L_g (Table 3 row 2)",
    ),
    status="done",
    summary=(
        "Fourier amplitude scaled by N(1, alpha D + beta) noise growing with the frequency "
        "radius, phase kept (eqs. 1-5); SE channel attention guided by the feature "
        "sensitivity to the perturbation (eqs. 6-10); L = L_seg + 0.5 L_con + 0.5 L_g (eq. 12)."
    ),
    paper_numbers={
        "RIGA+ BinRushed -> Base1-3, mean Dice OD / OC (Table 1)": (
            "full 95.96 / 86.22 vs w/o SDG 85.37 / 73.46"
        ),
        "Table 3 ablation (BinRushed), Dice OD / OC": (
            "U-Net 85.37 / 73.46; +SAPM 94.98 / 84.41; +NormAug 90.67 / 80.12; "
            "SAPM + sensitivity 95.96 / 86.22"
        ),
    },
    measured={
        "smoke (fundus disc/cup 32x32, U-Net (8,16,32), Adam, 12 epochs, 3 seeds), mean Dice "
        "disc / cup over 4 unseen domains": (
            "full 0.735 / 0.537 vs sapm 0.707 / 0.666 vs plain 0.759 / 0.529 vs none "
            "0.503 / 0.396: both amplitude augmentations beat no augmentation by far; the "
            "gains of SAPM over plain noise (cup only) and of the guidance over SAPM alone "
            "(disc only) do not show consistently at this scale, within seed spread"
        ),
        "same, mean HD95 (px) over unseen domains and classes": (
            "full 5.78 vs sapm 4.23 vs plain 5.95 vs none 18.52"
        ),
    },
)
