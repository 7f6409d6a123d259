"""SAPM: "A Single Source Generalization Model via Spatial Amplitude Perturbation and
Sensitivity Guidance for Colored Medical Image Segmentation" (Z. Yang, C. Yu; ICPR 2024;
inventory 002/01).

Single-source domain generalisation for colour (fundus) segmentation: a U-Net is trained on
one domain and tested on unseen ones. Two parts:

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

The recipe runs the rows of the paper's ablation (Table 3) under its names, plus one
stand-in of our own:

=================  ======================================================================
``unet``           Table 3 row 1 (Table 1's "w/o SDG"): the U-Net on the source images only
``sapm``           row 2: SAPM images beside the originals, L_seg only
``normaug``        row 3: "common augmentation methods ... color jittering and Gaussian
                   blurring" (:func:`normaug`) beside the originals, L_seg only
``normaug_sens``   row 4: NormAug with the sensitivity guidance (SE head, eq. 12)
``sapm_sens``      row 5, the paper's method: SAPM with the sensitivity guidance (eq. 12)
``amp_noise``      not in the tables: Sec. 1's "intuitive" Gaussian perturbation of the
                   whole amplitude map with one variance (:func:`plain_amplitude_noise`)
=================  ======================================================================

**Evaluation** (Sec. 4.1-4.2): Dice per class (disc, cup) on every unseen domain, "the
average of the test results of the last 10 epochs" (``eval_last``; smoke: fewer epochs, so
fewer); ``dice_<class>_unseen_epoch_std`` is the standard deviation over those epochs, the
stability the paper reports beside each Dice. HD95 is not in the paper; it is reported for
the final model only (one evaluation per run: it is slow) and can be turned off (``hd95``).

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
- NormAug's strengths are not given: torchvision-style colour jitter (brightness, contrast,
  saturation 0.3, hue 0.05 of the colour circle, fixed order) and, with probability 0.5, a
  Gaussian blur of sigma in [0.1, 2] (torchvision's default range), 5 x 5 kernel.
- "Low-level features": the output of the first U-Net encoder level; the SE head sits there
  and ``f_out`` continues into the network. ``S`` is min-max normalised over the channels of
  each sample and treated as a target (no gradient). ``oplus`` of eq. 9 is read as the SENet
  channel-wise product (``combine="add"`` gives the literal sum). ``L_g`` is the L2 norm over
  channels, averaged over samples and over the two inputs (original, augmented).
- ``L_seg`` = BCE + soft Dice on the outputs of both the original and the augmented image.
- The paper's encoder is a modified ResNet-34; ours is the plain core U-Net.

At smoke scale (``Method.measured``) every augmentation beats the plain U-Net and the
guidance lowers NormAug, as in Table 3, but the gain of the guidance over SAPM alone (the
paper's last row) does not reproduce.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patrec.core.checks import check_choice, check_int, check_scalar, check_tensor, describe
from patrec.core.config import param, validate_config
from patrec.core.errors import ConfigError, DataError, InputError
from patrec.core.hub import PretrainedModel
from patrec.core.registry import Method
from patrec.core.segmentation import (
    SegmentationData,
    UNet,
    check_binary_mask,
    check_image_mask_pair,
    soft_dice_loss,
)
from patrec.core.train import TrainConfig
from patrec.medical_imaging.data import FUNDUS_DOMAINS

__all__ = [
    "METHOD",
    "PAPER_ALPHA",
    "PAPER_BETA",
    "PAPER_LAMBDAS",
    "VARIANTS",
    "NormAugConfig",
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
    "make_augment",
    "normaug",
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
# variant -> (augmentation, sensitivity guidance); Table 3's rows and one stand-in
VARIANTS: dict[str, tuple[str | None, bool]] = {
    "unet": (None, False),  # row 1, "w/o SDG" of Table 1
    "amp_noise": ("amp_noise", False),  # not in Table 3: Sec. 1's one-variance noise
    "normaug": ("normaug", False),  # row 3
    "normaug_sens": ("normaug", True),  # row 4
    "sapm": ("sapm", False),  # row 2
    "sapm_sens": ("sapm", True),  # row 5, the paper's method
}
Combine = Literal["mul", "add"]


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
    h, w = check_int(height, "height", ge=1), check_int(width, "width", ge=1)
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
    a = float(check_scalar(alpha, "alpha", ge=0))
    b = float(check_scalar(beta, "beta", ge=0))
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
    check_tensor(variance, "H W", name="variance", dtype="float", finite=True, nonneg=True)
    if tuple(shape[-2:]) != tuple(variance.shape):
        raise InputError(
            f"shape {tuple(shape)} must end with the variance map's {tuple(variance.shape)}"
        )
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
    dims: dict[str, int] = {}
    x = check_tensor(
        images, "N C H W", name="images", dims=dims, dtype="float", finite=True, nonempty=True
    )
    check_tensor(variance, "H W", name="variance", dims=dims)
    n, c, h, w = x.shape
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
    x = check_tensor(images, "N C H W", name="images", dtype="float", finite=True, nonempty=True)
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
    """Sec. 1's "intuitive" perturbation: one Gaussian ``N(1, sigma^2)`` for every frequency.

    Not a row of the paper's tables (the recipe's ``amp_noise`` stand-in). ``variance=None``
    uses the mean of SAPM's ``alpha D + beta`` over the spectrum, so both augmentations
    inject the same average perturbation power and differ only in its distribution over the
    radius.
    """
    x = check_tensor(images, "N C H W", name="images", dtype="float", finite=True, nonempty=True)
    h, w = x.shape[-2:]
    if variance is None:
        v = float(sapm_variance(h, w, alpha, beta).mean())
    else:
        v = float(check_scalar(variance, "variance", ge=0))
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
        self.alpha = float(check_scalar(alpha, "alpha", ge=0))
        self.beta = float(check_scalar(beta, "beta", ge=0))
        self.share_channels = share_channels

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return sapm(
            x, self.alpha, self.beta, generator=generator, share_channels=self.share_channels
        )

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, share_channels={self.share_channels}"


# -- NormAug: the "common augmentation" of Table 3 -----------------------------------------
def _uniform(n: int, lo: float, hi: float, g: torch.Generator | None) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)


def normaug(
    images: Tensor,
    *,
    brightness: float = 0.3,
    contrast: float = 0.3,
    saturation: float = 0.3,
    hue: float = 0.05,
    blur_p: float = 0.5,
    blur_sigma: tuple[float, float] = (0.1, 2.0),
    blur_kernel: int = 5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """NormAug of Table 3 rows 3-4: colour jittering, then Gaussian blurring (Sec. 4.4).

    Per image, with factors drawn uniformly (torchvision ``ColorJitter`` semantics, fixed
    order): brightness ``x b``, ``b in [1 - brightness, 1 + brightness]``; contrast: blend
    with the image's mean grey level by ``c in [1 - contrast, 1 + contrast]``; saturation:
    blend with its grey image by ``s in [1 - saturation, 1 + saturation]``; hue: a rotation
    by ``h in [-hue, hue]`` of the colour circle (``kornia.enhance.adjust_hue``); each step
    clipped to [0, 1]. Saturation and hue apply to 3-channel images only. Then, with
    probability ``blur_p``, a Gaussian blur of ``sigma in blur_sigma`` with a
    ``blur_kernel x blur_kernel`` kernel (``kornia.filters.gaussian_blur2d``).

    Args:
        images: ``(N, C, H, W)`` float images in [0, 1].
        generator: CPU generator for every random draw (reproducible).

    Returns:
        ``(N, C, H, W)`` images in [0, 1] (same dtype).
    """
    import kornia

    x = check_tensor(images, "N C H W", name="images", dtype="float", range=(0.0, 1.0))
    for name, v, top in (
        ("brightness", brightness, 1.0), ("contrast", contrast, 1.0),
        ("saturation", saturation, 1.0), ("hue", hue, 0.5), ("blur_p", blur_p, 1.0),
    ):  # fmt: skip
        check_scalar(v, name, ge=0, le=top)
    lo_s, hi_s = (float(check_scalar(s, "blur_sigma", gt=0)) for s in blur_sigma)
    if lo_s > hi_s:
        raise InputError(f"blur_sigma must be (low, high) with low <= high, got {blur_sigma}")
    k = check_int(blur_kernel, "blur_kernel", ge=1)
    if k % 2 == 0:
        raise InputError(f"blur_kernel must be odd, got {k}")
    n, c = x.shape[:2]

    def per_image(lo: float, hi: float) -> Tensor:
        return _uniform(n, lo, hi, generator).to(device=x.device, dtype=x.dtype)[
            :, None, None, None
        ]

    def grey(t: Tensor) -> Tensor:
        if c != 3:
            return t.mean(dim=1, keepdim=True)
        w = t.new_tensor([0.299, 0.587, 0.114])[None, :, None, None]
        return (t * w).sum(dim=1, keepdim=True)

    out = (x * per_image(1 - brightness, 1 + brightness)).clamp(0, 1)
    m = grey(out).mean(dim=(2, 3), keepdim=True)
    out = (m + per_image(1 - contrast, 1 + contrast) * (out - m)).clamp(0, 1)
    if c == 3:
        g = grey(out)
        out = (g + per_image(1 - saturation, 1 + saturation) * (out - g)).clamp(0, 1)
        shift = per_image(-hue, hue).flatten() * (2 * torch.pi)  # fraction of the circle
        out = kornia.enhance.adjust_hue(out, shift).clamp(0, 1)
    if blur_p > 0 and k > 1:
        sigma = _uniform(n, lo_s, hi_s, generator).to(device=x.device, dtype=x.dtype)
        blurred = kornia.filters.gaussian_blur2d(out, (k, k), sigma[:, None].expand(n, 2))
        pick = torch.rand(n, generator=generator, dtype=torch.float64) < blur_p
        out = torch.where(pick.to(x.device)[:, None, None, None], blurred, out)
    return out


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
    dims: dict[str, int] = {}
    check_tensor(f_ori, "B C H W", name="f_ori", dims=dims, dtype="float")
    check_tensor(f_aug, "B C H W", name="f_aug", dims=dims, dtype="float")
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
        self.channels = check_int(channels, "channels", ge=1)
        self.combine: Combine = check_choice(combine, "combine", ("mul", "add"))
        self.conv = nn.Conv2d(channels, channels, 1)

    def attention_logits(self, f_in: Tensor) -> Tensor:
        """``Conv1x1(GAP(f_in))`` ``(B, C, 1, 1)``: the attention before the sigmoid."""
        check_tensor(f_in, f"B {self.channels} H W", name="f_in", dtype="float")
        out: Tensor = self.conv(f_in.mean(dim=(2, 3), keepdim=True))
        return out

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
        ca: channel attention ``(B, C, 1, 1)`` (or ``(B, C)``) in [0, 1]; clamped to
            ``[eps, 1]`` inside the logarithm (a sigmoid can underflow to 0).
        s: sensitivity of the same shape in [0, 1] (:func:`feature_sensitivity`); clamped to
            ``[eps, 1]`` so ``log S`` is finite. Used as a constant target (detached).
        eps: lower clamp of ``S`` and ``CA`` inside the logarithms.

    Returns:
        A scalar.
    """
    spec = "B C 1 1" if getattr(ca, "ndim", 0) == 4 else "B C"
    dims: dict[str, int] = {}
    check_tensor(ca, spec, name="ca", dims=dims, dtype="float", probs=True)
    check_tensor(s, spec, name="s", dims=dims, dtype="float", probs=True)
    e = float(check_scalar(eps, "eps", gt=0, lt=1))
    log_s = s.detach().clamp(min=e, max=1.0).log()
    log_ca = ca.clamp(min=e).log()
    r = (log_ca * log_s - 1.0).flatten(1)
    return r.norm(dim=1).mean()


def consistency_loss(p_ori: Tensor, p_aug: Tensor) -> Tensor:
    """Eq. 11: ``L_con = MSE(y_ori, y_aug)``, mean over all elements.

    ``p_ori``, ``p_aug``: sigmoid outputs ``(N, K, H, W)`` in [0, 1] of the original and the
    augmented images; gradients reach both.
    """
    dims: dict[str, int] = {}
    check_tensor(p_ori, "N K H W", name="p_ori", dims=dims, dtype="float", probs=True)
    check_tensor(p_aug, "N K H W", name="p_aug", dims=dims, dtype="float", probs=True)
    return F.mse_loss(p_ori, p_aug)


def segmentation_loss(logits: Tensor, masks: Tensor) -> Tensor:
    """``L_seg`` = BCE (on logits, mean over pixels) + soft Dice (on sigmoids) (Sec. 3.3).

    ``logits`` float ``(N, K, H, W)``; ``masks`` binary of the same shape (else InputError).
    """
    dims: dict[str, int] = {}
    check_tensor(logits, "N K H W", name="logits", dims=dims, dtype="float")
    check_tensor(masks, "N K H W", name="masks", dims=dims, binary=True)
    t = masks.to(logits.dtype)
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
    l1, l2, l3 = (float(check_scalar(v, f"lambda{k + 1}", ge=0)) for k, v in enumerate(lambdas))
    for name, t in (("seg", seg), ("con", con), ("guide", guide)):
        if not isinstance(t, Tensor) or t.numel() != 1:
            raise InputError(f"{name} must be a scalar tensor, got {describe(t)}")
    return l1 * seg + l2 * con + l3 * guide


# -- network --------------------------------------------------------------------------------
class SAPMNet(nn.Module, PretrainedModel):
    """The core :class:`~patrec.core.segmentation.UNet` with the SE head of eqs. 8-9 after its
    first encoder level (the "low-level features"): the network of the paper's method.

    ``forward(x) -> logits``; :meth:`forward_guided` also returns the pre-SE features
    ``f_in`` ``(N, widths[0], H, W)`` and the attention ``CA`` ``(N, widths[0], 1, 1)``.
    The recipe leaves the trained ``sapm_sens`` net in ``<out>/model/``
    (``SAPMNet.from_pretrained(folder)``).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 2,
        widths: tuple[int, ...] | list[int] = (16, 32, 64, 128),
        combine: Combine = "mul",
    ) -> None:
        super().__init__()
        self.unet = UNet(in_channels, out_channels, tuple(widths))
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
    *,
    augment: Callable[[Tensor], Tensor] | None = None,
    guided: bool = False,
    lambdas: tuple[float, float, float] = PAPER_LAMBDAS,
    eps: float = 1e-6,
) -> dict[str, Tensor]:
    """One training objective on a batch (the rows of Table 3).

    - ``augment=None``: ``L_seg`` on the original images (the plain U-Net, "w/o SDG").
    - ``augment`` given, ``guided=False``: ``L_seg`` on originals and on ``augment(images)``
      (SAPM, NormAug or amplitude noise alone).
    - ``guided=True``: :class:`SAPMNet` with eq. 12 ``lambda1 L_seg + lambda2 L_con +
      lambda3 L_g`` (``sapm_sens``: the paper's method; ``normaug_sens``: Table 3 row 4).

    Original and augmented images go through ``net`` in one batch (shared BatchNorm).

    Returns:
        ``{"loss", "seg", "con", "guide"}`` (the last three detached; 0 where unused).

    Raises:
        InputError: images/masks of wrong shapes or sizes, non-binary masks, ``guided``
            without an augmentation or without an :class:`SAPMNet`.
    """
    x = check_tensor(images, "N C H W", name="images", dtype="float", finite=True, nonempty=True)
    check_image_mask_pair(x, masks)
    y = check_binary_mask(masks, "masks")
    if y.dim() == 3:
        y = y.unsqueeze(1)
    y = y.to(x.dtype)
    if augment is not None and not callable(augment):
        raise InputError(f"augment must be a function of the images, got {describe(augment)}")
    if guided and augment is None:
        raise InputError("guided=True needs an augmentation (the sensitivity compares two views)")
    zero = x.new_zeros(())
    if augment is None:
        seg = segmentation_loss(net(x), y)
        return {"loss": seg, "seg": seg.detach(), "con": zero, "guide": zero}
    xa = check_tensor(augment(x), tuple(x.shape), name="augment(images)", dtype="float")
    both = torch.cat([x, xa])
    yy = torch.cat([y, y])
    if not guided:
        seg = segmentation_loss(net(both), yy)
        return {"loss": seg, "seg": seg.detach(), "con": zero, "guide": zero}
    base = getattr(net, "module", net)  # DDP-wrapped or not
    if not isinstance(base, SAPMNet):
        raise InputError(f"the sensitivity guidance needs an SAPMNet, got {type(base).__name__}")
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
        choices=("fundus", "riga"),
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
        choices=tuple(FUNDUS_DOMAINS),
    )
    size: int = param(512, "images are size x size", source="Sec. 4.2: 512 x 512", ge=1)
    n_train: int = param(48, "training images (fundus)", ge=1)
    n_test: int = param(24, "test images per domain (fundus)", ge=1)
    source_test_fraction: float = param(
        0.2,
        "share of the RIGA+ source held out as in-domain test set",
        source="not stated",
        gt=0,
        lt=1,
    )
    limit: int | None = param(None, "read at most this many RIGA+ images per domain", ge=1)


@dataclass
class SAPMModelConfig:
    """The segmentation network."""

    widths: tuple[int, ...] = param(
        (64, 128, 256, 512, 1024),
        "U-Net channels per level",
        source="Sec. 4.2: U-Net with a modified ResNet-34 encoder; ours: the plain core U-Net",
        ge=1,
        min_len=2,
    )
    combine: str = param(
        "mul",
        "how CA meets f_in (eq. 9): mul (SENet scaling) or add (the literal oplus)",
        source="eq. 9 writes oplus; not defined; our choice: SENet's channel-wise product",
        choices=("mul", "add"),
    )


@dataclass
class SAPMAugConfig:
    """SAPM and the one-variance amplitude noise (``amp_noise``)."""

    alpha: float = param(PAPER_ALPHA, "distance coefficient of eq. 3", source="Sec. 3.2: 6", ge=0)
    beta: float = param(PAPER_BETA, "variance offset of eqs. 1, 3", source="Sec. 3.2: 0.5", ge=0)
    plain_variance: float | None = param(
        None,
        "variance of the amp_noise stand-in; None = mean of alpha D + beta",
        source="not in the paper (Sec. 1 names the idea only); our choice: equal mean power",
        ge=0,
    )
    share_channels: bool = param(
        False,
        "one mu per image for all colour channels",
        source="not stated; our choice: one mu per channel",
    )


@dataclass
class NormAugConfig:
    """NormAug of Table 3 ("color jittering and Gaussian blurring"); strengths not stated."""

    brightness: float = param(
        0.3, "brightness factor in [1 - b, 1 + b]", source="not stated; our choice", ge=0, le=1
    )
    contrast: float = param(
        0.3, "contrast factor in [1 - c, 1 + c]", source="not stated; our choice", ge=0, le=1
    )
    saturation: float = param(
        0.3, "saturation factor in [1 - s, 1 + s]", source="not stated; our choice", ge=0, le=1
    )
    hue: float = param(
        0.05, "hue shift in [-h, h] of the colour circle", source="not stated", ge=0, le=0.5
    )
    blur_p: float = param(
        0.5, "probability of the Gaussian blur", source="not stated; our choice", ge=0, le=1
    )
    blur_sigma: tuple[float, ...] = param(
        (0.1, 2.0),
        "blur sigma range (low, high)",
        source="not stated; torchvision GaussianBlur's default",
        gt=0,
        min_len=2,
    )
    blur_kernel: int = param(5, "blur kernel size (odd)", source="not stated; our choice", ge=1)

    def validate(self) -> None:
        if len(self.blur_sigma) != 2 or self.blur_sigma[0] > self.blur_sigma[1]:
            raise ConfigError(f"blur_sigma must be (low, high), low <= high, got {self.blur_sigma}")
        if self.blur_kernel % 2 == 0:
            raise ConfigError(f"blur_kernel must be odd, got {self.blur_kernel}")


@dataclass
class SAPMLossConfig:
    """Eq. 12 weights."""

    lambda_seg: float = param(1.0, "lambda1 of L_seg", source="eq. 12: 1", ge=0)
    lambda_con: float = param(0.5, "lambda2 of L_con", source="eq. 12: 0.5", ge=0)
    lambda_g: float = param(0.5, "lambda3 of L_g", source="eq. 12: 0.5", ge=0)
    eps: float = param(
        1e-6, "clamp of S and CA inside log (eq. 10)", source="not stated", gt=0, lt=1
    )


@dataclass
class SAPMOptimConfig:
    """Optimiser."""

    name: str = param("sgd", "sgd or adam", source="Sec. 4.2: SGD", choices=("sgd", "adam"))
    lr: float = param(0.01, "learning rate", source="Sec. 4.2: 0.01", gt=0)
    momentum: float = param(0.99, "SGD momentum", source="Sec. 4.2: 0.99", ge=0, le=1)
    weight_decay: float = param(0.0, "weight decay", source="not stated; ours: 0", ge=0)


@dataclass
class SAPMConfig:
    """Config of the SAPM recipe (:func:`recipe`)."""

    data: SAPMDataConfig = field(default_factory=SAPMDataConfig)
    model: SAPMModelConfig = field(default_factory=SAPMModelConfig)
    aug: SAPMAugConfig = field(default_factory=SAPMAugConfig)
    normaug: NormAugConfig = field(default_factory=NormAugConfig)
    loss: SAPMLossConfig = field(default_factory=SAPMLossConfig)
    optim: SAPMOptimConfig = field(default_factory=SAPMOptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = param(
        tuple(VARIANTS),
        "unet, sapm, normaug, normaug_sens, sapm_sens (Table 3 rows 1, 2, 3, 4, 5) and the "
        "amp_noise stand-in (one-variance amplitude noise, not in the paper)",
        source="Table 3 ablation",
        choices=tuple(VARIANTS),
        min_len=1,
    )
    seeds: tuple[int, ...] = param((0, 1, 2), "one run of every variant per seed", min_len=1)
    threshold: float = param(0.5, "sigmoid threshold of the predicted masks", gt=0, lt=1)
    eval_last: int = param(
        10,
        "Dice = the mean of the test results of the last k epochs (fewer if fewer epochs)",
        source="Sec. 4.2: 'the average of the test results of the last 10 epochs'",
        ge=1,
    )
    hd95: bool = param(True, "also HD95 (not in the paper; final model only, slow)")

    def validate(self) -> None:
        div = 2 ** (len(self.model.widths) - 1)
        if self.data.size % div:
            raise ConfigError(
                f"data.size {self.data.size} must be a multiple of {div} (a U-Net of "
                f"{len(self.model.widths)} levels)"
            )


def paper_config() -> SAPMConfig:
    """Sec. 4.2: 512 x 512, batch 8, SGD lr 0.01 momentum 0.99, 200 epochs, Dice averaged
    over the last 10, alpha 6, beta 0.5, lambdas 1 / 0.5 / 0.5."""
    return SAPMConfig(train=TrainConfig(epochs=200, batch_size=8))


def smoke_config() -> SAPMConfig:
    """CPU scale: fundus disc/cup 32x32, 32 training and 12 test images per domain, a
    3-level U-Net (8, 16, 32), Adam 3e-3, 12 epochs (Dice averaged over the last 4), 3
    seeds."""
    return SAPMConfig(
        data=SAPMDataConfig(size=32, n_train=32, n_test=12),
        model=SAPMModelConfig(widths=(8, 16, 32)),
        optim=SAPMOptimConfig(name="adam", lr=3e-3, momentum=0.0),
        train=TrainConfig(epochs=12, batch_size=8, cpu=True, progress=False),
        seeds=(0, 1, 2),
        eval_last=4,
    )


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
    *,
    hd95: bool = True,
) -> dict[str, dict[str, float]]:
    """Dice (and HD95, pixels) per class for every named test set ``name -> (x, masks)``.

    Returns ``name -> {"dice", "dice_<class>", ("hd95", "hd95_<class>")}`` (means over
    images; ``dice``/``hd95`` also over classes).
    """
    from patrec.core.segmentation import dice_score
    from patrec.core.segmentation import hd95 as hd95_fn

    out: dict[str, dict[str, float]] = {}
    for name, (x, y) in sets.items():
        check_image_mask_pair(x, y)
        t = check_binary_mask(y, f"masks of {name}")
        if len(class_names) != t.shape[1]:
            raise InputError(f"{len(class_names)} class names for {t.shape[1]} mask channels")
        pred = _predict(model, x, threshold)
        d = dice_score(pred, t).mean(dim=0)
        m = {"dice": float(d.mean())}
        for k, c in enumerate(class_names):
            m[f"dice_{c}"] = float(d[k])
        if hd95:
            h = hd95_fn(pred, t).mean(dim=0)
            m["hd95"] = float(h.mean())
            for k, c in enumerate(class_names):
                m[f"hd95_{c}"] = float(h[k])
        out[name] = m
    return out


@dataclass
class TrainedModel:
    """One trained (variant, seed): the network, its history and its metrics per domain
    (Dice: mean over the last ``eval_last`` epochs; HD95: the final model)."""

    variant: str
    seed: int
    model: nn.Module
    history: list[dict[str, float]]
    metrics: dict[str, dict[str, float]]


def make_augment(
    kind: str | None, cfg: SAPMConfig, generator: torch.Generator
) -> Callable[[Tensor], Tensor] | None:
    """The augmentation of a variant (``VARIANTS[v][0]``) with the config's settings."""
    if kind is None:
        return None
    a, na = cfg.aug, cfg.normaug
    if kind == "sapm":
        return lambda x: sapm(
            x, a.alpha, a.beta, generator=generator, share_channels=a.share_channels
        )
    if kind == "amp_noise":
        return lambda x: plain_amplitude_noise(
            x, a.plain_variance, alpha=a.alpha, beta=a.beta, generator=generator,
            share_channels=a.share_channels,
        )  # fmt: skip
    if kind == "normaug":
        lo, hi = na.blur_sigma
        return lambda x: normaug(
            x, brightness=na.brightness, contrast=na.contrast, saturation=na.saturation,
            hue=na.hue, blur_p=na.blur_p, blur_sigma=(lo, hi), blur_kernel=na.blur_kernel,
            generator=generator,
        )  # fmt: skip
    raise InputError(f"augmentation must be sapm, amp_noise or normaug, got {kind!r}")


def train_variant(
    cfg: SAPMConfig,
    variant: str,
    seed: int,
    data: SegmentationData,
    out_dir: str | Path | None = None,
) -> TrainedModel:
    """Train one variant with one seed through the core Trainer; metrics on ``x_test``
    (``"source"``) and every ``data.domains[name]``.

    Dice is evaluated after each of the last ``cfg.eval_last`` epochs and averaged (Sec. 4.2);
    its per-epoch values are in the history (``test/...``). HD95 is of the final model.
    """
    from torch.utils.data import TensorDataset

    from patrec.core.train import Trainer, seed_everything

    kind, guided = VARIANTS[check_choice(variant, "variant", tuple(VARIANTS))]
    check_image_mask_pair(data.x_train, data.y_train)
    check_binary_mask(data.y_train, "training masks")
    tcfg = dataclasses.replace(cfg.train, seed=seed)
    seed_everything(seed, tcfg.deterministic)
    c_in, k = data.x_train.shape[1], data.y_train.shape[1]
    widths = tuple(cfg.model.widths)
    model: nn.Module
    if guided:
        combine: Combine = "add" if cfg.model.combine == "add" else "mul"
        model = SAPMNet(c_in, k, widths, combine)
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
    augment = make_augment(kind, cfg, torch.Generator().manual_seed(seed + 7919))
    lam = (cfg.loss.lambda_seg, cfg.loss.lambda_con, cfg.loss.lambda_g)
    classes = tuple(data.class_names)
    sets = {"source": (data.x_test, data.y_test), **data.domains}
    unseen = [d for d in sets if d != "source"]
    last = min(cfg.eval_last, tcfg.epochs)

    def step(tr: Trainer, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        x, y = batch
        return sapm_objective(
            tr.model, x, y, augment=augment, guided=guided, lambdas=lam, eps=cfg.loss.eps
        )

    def evaluate(tr: Trainer) -> dict[str, float]:
        if tr.state.epoch < tcfg.epochs - last:  # only the last `eval_last` epochs
            return {}
        m = evaluate_domains(tr.unwrapped_model, sets, classes, cfg.threshold, hd95=False)
        row = {f"test/dice_{c}@{d}": m[d][f"dice_{c}"] for d in sets for c in classes}
        if unseen:
            row["test/dice_unseen"] = sum(m[d]["dice"] for d in unseen) / len(unseen)
        return row

    trainer = Trainer(
        model,
        opt,
        TensorDataset(data.x_train, data.y_train.float()),
        step,
        tcfg,
        out_dir=out_dir,
        eval_fn=evaluate,
        desc=f"{variant} seed {seed}",
    )
    history = trainer.fit()
    net = trainer.unwrapped_model
    final = evaluate_domains(net, sets, classes, cfg.threshold, hd95=cfg.hd95)
    rows = [h for h in history if any(key.startswith("test/dice_") for key in h)]
    metrics: dict[str, dict[str, float]] = {}
    for d in sets:
        m = dict(final[d])
        if rows:  # Sec. 4.2: the mean over the last epochs replaces the final model's Dice
            for c in classes:
                m[f"dice_{c}"] = sum(h[f"test/dice_{c}@{d}"] for h in rows) / len(rows)
            m["dice"] = sum(m[f"dice_{c}"] for c in classes) / len(classes)
        metrics[d] = m
    return TrainedModel(variant, seed, net, history, metrics)


# -- plots ----------------------------------------------------------------------------------
def plot_sapm_examples(
    image: Tensor, path: str | Path, *, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA,
    n: int = 3, seed: int = 0,
) -> Path:  # fmt: skip
    """An image, ``n`` SAPM perturbations, one amplitude-noise and one NormAug image (top)
    with their centred log-amplitude spectra (channel mean, bottom). ``image`` ``(C, H, W)``."""
    from patrec.core.report import pyplot as _plt
    from patrec.core.report import save_figure as _save

    x = check_tensor(image[None] if isinstance(image, Tensor) else image, "N C H W", name="image",
                     dtype="float", finite=True)  # fmt: skip
    g = torch.Generator().manual_seed(seed)
    views = [("original", x[0])]
    for i in range(n):
        views.append((f"SAPM #{i + 1}", sapm(x, alpha, beta, generator=g)[0]))
    views.append(("amp. noise", plain_amplitude_noise(x, alpha=alpha, beta=beta, generator=g)[0]))
    views.append(("NormAug", normaug(x.clamp(0, 1), generator=g)[0]))
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


# -- recipe ---------------------------------------------------------------------------------
def recipe(cfg: SAPMConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """Train every variant (Table 3's rows, :data:`VARIANTS`) with every seed on the source
    domain; Dice (mean of the last ``eval_last`` epochs) and HD95 (final model) per class on
    the source test set and on every unseen domain.

    ``data``: a :class:`~patrec.core.segmentation.SegmentationData` (with ``domains``) instead
    of ``cfg.data``, or a path (the RIGA+ folder, as ``--data`` gives it).

    Writes ``metrics.json`` (per variant: ``dice_unseen`` = mean over unseen domains and
    classes, the primary metric; ``dice_<class>_unseen``, ``hd95_<class>_unseen``,
    ``hd95_unseen``, ``dice_<class>_unseen_epoch_std`` (std over the averaged epochs), and the
    groups ``dice_<class>`` / ``hd95_<class>``: domain -> value; each mean ± std over seeds),
    ``dice_unseen.png``, ``<metric>_by_group.png``, ``train_loss_curves.png``,
    ``test_dice_unseen_curves.png``, ``sapm_examples.png``, ``examples_<variant>_<domain>.png``
    and ``runs/<variant>/seed<k>/`` with ``model/`` (a finished run is read back, not
    retrained); ``model/``: the ``sapm_sens`` net of the first seed.
    """
    from patrec.core.experiment import Experiment, run_experiment
    from patrec.core.segmentation import plot_segmentation

    validate_config(cfg)
    if isinstance(data, (str, Path)):
        if cfg.data.root is None:
            cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, root=str(data)))
        data = None
    if data is not None and not isinstance(data, SegmentationData):
        raise InputError(f"data must be a SegmentationData or a path, got {describe(data)}")
    ds = data if isinstance(data, SegmentationData) else load_data(cfg)
    if not ds.domains:
        raise ConfigError("no unseen domains to test on (data.domains / data.targets is empty)")
    out = Path(out_dir)
    classes = tuple(ds.class_names)
    unseen = list(ds.domains)
    show = unseen[0]
    show_x, show_y = ds.domains[show]
    n_show = min(6, len(show_x))
    ours = "sapm_sens" if "sapm_sens" in cfg.variants else cfg.variants[-1]
    last = min(cfg.eval_last, cfg.train.epochs)

    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        tm = train_variant(cfg, variant, seed, ds, run_dir)
        rows = [h for h in tm.history if "test/dice_unseen" in h]
        metrics: dict[str, Any] = {}
        keys = ["dice", *(["hd95"] if cfg.hd95 else [])]
        for key in keys:
            metrics[f"{key}_unseen"] = sum(tm.metrics[d][key] for d in unseen) / len(unseen)
            for c in classes:
                metrics[f"{key}_{c}_unseen"] = sum(
                    tm.metrics[d][f"{key}_{c}"] for d in unseen
                ) / len(unseen)
        for c in classes:  # the paper's std: over the averaged epochs (of the unseen mean)
            per_epoch = [sum(h[f"test/dice_{c}@{d}"] for d in unseen) / len(unseen) for h in rows]
            metrics[f"dice_{c}_unseen_epoch_std"] = (
                float(torch.tensor(per_epoch).std(unbiased=False)) if per_epoch else 0.0
            )
        for key in keys:
            for c in classes:
                metrics[f"{key}_{c}"] = {d: m[f"{key}_{c}"] for d, m in tm.metrics.items()}
        pred = _predict(tm.model, show_x[:n_show], cfg.threshold)
        return {
            "metrics": metrics,
            "history": tm.history,
            "tensors": {"pred": pred.to(torch.uint8)},
            "model": tm.model,  # SAPMNet (guided variants) or core UNet
            "example": show_x[:2].cpu(),
        }

    def plots(exp: Experiment) -> list[Path]:
        written = [
            plot_sapm_examples(
                ds.x_train[0], out / "sapm_examples.png", alpha=cfg.aug.alpha, beta=cfg.aug.beta
            )
        ]
        for v in cfg.variants:
            written.append(
                plot_segmentation(
                    show_x[:n_show], show_y[:n_show], exp.results[v][0]["tensors"]["pred"].bool(),
                    out / f"examples_{v}_{show}.png",
                    suptitle=f"{v}, seed {cfg.seeds[0]}, unseen domain {show}",
                )
            )  # fmt: skip
        return written

    labels = {f"dice_{c}": f"Dice ({c})" for c in classes}
    labels.update({f"hd95_{c}": f"HD95 ({c}, px, final model)" for c in classes})
    labels.update({"dice_unseen": "Dice, mean over unseen domains and classes"})
    return run_experiment(
        out,
        method="medical-imaging/sapm",
        variants=cfg.variants,
        seeds=cfg.seeds,
        run_one=run_one,
        primary="dice_unseen",
        ours=ours,
        curves={
            "train/loss": "training loss (each variant's own objective)",
            "test/dice_unseen": f"unseen-domain Dice over the last {last} epochs (averaged)",
        },
        labels={**labels, "train/loss": "loss", "test/dice_unseen": "Dice"},
        extra={
            "dataset": ds.name,
            "classes": list(classes),
            "unseen_domains": unseen,
            "alpha": cfg.aug.alpha,
            "beta": cfg.aug.beta,
            "lambdas": [cfg.loss.lambda_seg, cfg.loss.lambda_con, cfg.loss.lambda_g],
            "epochs": cfg.train.epochs,
            "dice_averaged_over_last_epochs": last,
        },
        plots=plots,
    ).metrics


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
    model="patrec.medical_imaging.sapm:SAPMNet",
    baselines=(
        "unet: the same U-Net without augmentation (Table 3 row 1, Table 1's 'w/o SDG')",
        "sapm: SAPM only, no SE head / L_con / L_g (Table 3 row 2)",
        "normaug: colour jittering + Gaussian blurring, no guidance (Table 3 row 3)",
        "normaug_sens: NormAug with the sensitivity guidance (Table 3 row 4)",
        "amp_noise: one-variance amplitude noise (Sec. 1's idea; not in the paper's tables)",
    ),
    status="done",
    summary=(
        "Fourier amplitude scaled by N(1, alpha D + beta) noise growing with the frequency "
        "radius, phase kept (eqs. 1-5); SE channel attention guided by the feature "
        "sensitivity to the perturbation (eqs. 6-10); L = L_seg + 0.5 L_con + 0.5 L_g (eq. 12). "
        "The recipe runs Table 3's five rows (U-Net, SAPM, NormAug, NormAug + sensitivity, "
        "SAPM + sensitivity) and scores the mean Dice of the last epochs (Sec. 4.2)."
    ),
    paper_numbers={
        "RIGA+ BinRushed -> Base1-3, mean Dice OD / OC (Table 1)": (
            "full 95.96 / 86.22 vs w/o SDG 85.37 / 73.46"
        ),
        "Table 3 ablation (BinRushed), Dice OD / OC": (
            "U-Net 85.37 / 73.46; +SAPM 94.98 / 84.41; +NormAug 90.67 / 80.12; NormAug + "
            "sensitivity 89.07 / 78.62; SAPM + sensitivity 95.96 / 86.22"
        ),
    },
    measured={
        "smoke (fundus disc/cup 32x32, U-Net (8,16,32), Adam 3e-3, 12 epochs, Dice = mean of "
        "the last 4 epochs, 3 seeds), mean Dice over 4 unseen domains (disc / cup)": (
            "sapm_sens 0.609 ± 0.018 (0.721 / 0.497) vs sapm 0.650 ± 0.106 (0.672 / 0.628), "
            "normaug 0.625 ± 0.011 (0.701 / 0.550), normaug_sens 0.514 ± 0.100 (0.595 / "
            "0.432), amp_noise 0.585 ± 0.041 (0.721 / 0.448), unet 0.405 ± 0.079 (0.538 / "
            "0.271). Every augmentation beats the plain U-Net by far and, as in Table 3, the "
            "guidance lowers NormAug (0.514 vs 0.625) and SAPM beats NormAug (within the "
            "seed spread); the gain of the guidance over SAPM alone (Table 3's last row) does "
            "not show at this scale. 12 epochs do not converge (the unseen Dice still rises "
            "over the averaged epochs), so the mean of the last epochs is below the final "
            "model's"
        ),
        "same, HD95 (px, final model, not in the paper), mean over unseen domains and classes": (
            "sapm_sens 4.45 vs sapm 4.79, amp_noise 5.55, normaug 9.00, normaug_sens 14.57, "
            "unet 18.61"
        ),
    },
    test_overrides=(
        "data.n_train=8",
        "data.n_test=3",
        "data.size=16",
        "data.domains=[noisy]",
        "model.widths=[4,8]",
        "train.epochs=1",
        "seeds=[0]",
    ),
)
