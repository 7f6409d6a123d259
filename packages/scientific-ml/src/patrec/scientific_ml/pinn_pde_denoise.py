"""PINN-PDE image denoising: "Physics-Informed Neural Network for Denoising Images Using
Nonlinear PDE" (Osorio Quero & Crespo, Electronics 2025).

An encoder-decoder ``f_theta`` maps a noisy image ``Y`` to ``u_hat = f_theta(Y)`` and is fitted to
that one image (Algorithm 1) under the total loss of eq. 10::

    L_total = lambda_PDE L_PDE + lambda1 L_perc + lambda2 L_data + lambda3 L_IC + lambda4 L_BC

with Algorithm 1's weights ``1, 0.1, 1, 0.03, 0.02`` (line 24), where

- ``L_PDE = mean(r(u_hat)^2)`` (eqs. 11 and 17) is the squared residual of one of four PDE priors
  (Sec. 3), all evaluated with fixed finite-difference convolution kernels (Alg. 1, line 14):

  ========== ================================================= ==========
  prior      right-hand side ``F(u)`` of ``du/dt = F(u)``       paper
  ========== ================================================= ==========
  heat       ``Laplace(u)``                                     eq. 3
  diffusion  ``div(D grad u)``, ``D = g(|grad G_s * u|)``       eq. 5
  mpmc       ``div(g(|k|) grad u)``, ``k`` level-line curvature eq. 1
  zg         ``lam1 div(g1(|grad u|) grad u) - lam2 Laplace^2 u`` eq. 2
  ========== ================================================= ==========

  The residual is either Algorithm 1's literal ``r = kappa F(u_hat) - f_theta(u_hat)``
  (``residual="alg1"``, line 16) or, by default, eq. 4's ``R = du/dt - F(u)`` with the time
  derivative taken as one implicit Euler step from the observed image ``X0``:
  ``r = kappa F(u_hat) - (u_hat - X0)`` (``residual="euler"``): the output is asked to be one
  diffusion step of the prior away from the noisy input.
- ``L_perc`` (eq. 12) is the L1 distance of Algorithm 1 (line 23), ``L_data`` the MSE of eq. 13,
  ``L_IC = mean(w_IC (u_hat - X0)^2)`` (eq. 14, ``X0`` = the observed input, as Sec. 4 says
  when no ``t = 0`` ground truth exists) and ``L_BC`` the Dirichlet term of eq. 15 on the
  one-pixel border with ``g = 0`` (Alg. 1, line 21).

Two protocols:

- ``paper``: the reference of ``L_data`` and ``L_perc`` is the clean image ``X`` (Alg. 1 takes
  ``(X, Y)`` and reports ``f_theta(Y)`` after fitting it to ``X``: a per-image supervised fit);
- ``blind``: the reference is the noisy image ``Y`` itself (the PDE prior is the only denoiser,
  like a deep image prior); the clean image is used only to score.

Noise models (Sec. 3 and 7): AWGN ``sigma in {15, 25, 50}`` (8-bit units), Poisson-Gaussian
``lambda in {1, 4, 8}`` and speckle with ``L in {1, 4, 8}`` looks: Gamma intensity speckle
(eq. 7, mean 1, variance ``1/L``) or Nakagami amplitude speckle (eq. 9; Rayleigh for ``L = 1``).
Backbones: U-Net (Sec. 5, Case 1) and ResUNet (Case 2) from :class:`patrec.core.segmentation.UNet`
with a sigmoid output (Case 3's ``X_R = sigma(d0)``); U2Net and ResU2Net are not implemented.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patrec.core.config import param
from patrec.core.errors import ConfigError, InputError
from patrec.core.registry import Method
from patrec.core.train import TrainConfig

__all__ = [
    "BACKBONES",
    "CLASSICAL",
    "METHOD",
    "NOISES",
    "PRIORS",
    "PROTOCOLS",
    "FitResult",
    "LossConfig",
    "PinnDenoiseConfig",
    "PriorConfig",
    "add_noise",
    "biharmonic",
    "build_backbone",
    "classical_denoise",
    "curvature",
    "diffusion_flux_div",
    "edge_stop",
    "estimate_noise_sigma",
    "fit_pinn",
    "laplacian",
    "load_images",
    "paper_config",
    "pde_residual",
    "pde_rhs",
    "pinn_residual",
    "recipe",
    "score",
    "smoke_config",
    "total_loss",
]

PRIORS = ("heat", "diffusion", "mpmc", "zg")
BACKBONES = ("unet", "resunet")
PROTOCOLS = ("paper", "blind")
NOISES = ("awgn", "poisson_gaussian", "speckle")
CLASSICAL = ("gaussian", "tv", "nlm")
RESIDUALS = ("euler", "alg1")


# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------


def _shape(x: object) -> str:
    if isinstance(x, (Tensor, np.ndarray)):
        return f"{type(x).__name__} of shape {tuple(x.shape)} ({x.dtype})"
    return type(x).__name__


def _check_field(u: object, name: str = "u", *, min_size: int = 3, finite: bool = True) -> Tensor:
    """``u`` must be a floating tensor ``(N, C, H, W)`` with ``H, W >= min_size``."""
    if not isinstance(u, Tensor) or u.dim() != 4 or not u.is_floating_point():
        raise InputError(f"{name}: expected a floating tensor (N, C, H, W), got {_shape(u)}")
    if min(u.shape[-2:]) < min_size:
        raise InputError(f"{name}: H and W must be >= {min_size}, got {tuple(u.shape[-2:])}")
    if finite and not bool(torch.isfinite(u).all()):
        raise InputError(f"{name}: contains NaN or inf")
    return u


def _check_choice(value: str, choices: Sequence[str], what: str) -> str:
    if value not in choices:
        raise InputError(f"{what}: expected one of {', '.join(choices)}, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------
# finite-difference operators (fixed convolution kernels, unit pixel spacing)
# ---------------------------------------------------------------------------------------

_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def _pad(u: Tensor, k: int = 1) -> Tensor:
    # replicate padding: zero normal derivative (Neumann) at the image border
    return F.pad(u, (k, k, k, k), mode="replicate")


def laplacian(u: Tensor) -> Tensor:
    """Five-point Laplacian ``u_xx + u_yy`` (Alg. 1, line 14), Neumann border.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``. Exact on cubic polynomials away from the border.
    """
    _check_field(u, finite=False)
    c = u.shape[1]
    k = _LAPLACE.to(u).expand(c, 1, 3, 3)
    return F.conv2d(_pad(u), k, groups=c)


def biharmonic(u: Tensor) -> Tensor:
    """``Laplace^2 u`` (the fourth-order term of eq. 2): the five-point Laplacian twice.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``; exact on quartics two pixels from the border.
    """
    return laplacian(laplacian(u))


def _central(u: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Central differences ``u_x, u_y, u_xx, u_yy, u_xy`` (x: columns, y: rows)."""
    p = _pad(u)
    c, n, s = p[..., 1:-1, 1:-1], p[..., :-2, 1:-1], p[..., 2:, 1:-1]
    w, e = p[..., 1:-1, :-2], p[..., 1:-1, 2:]
    ux, uy = (e - w) / 2, (s - n) / 2
    uxx, uyy = e - 2 * c + w, s - 2 * c + n
    uxy = (p[..., 2:, 2:] - p[..., 2:, :-2] - p[..., :-2, 2:] + p[..., :-2, :-2]) / 4
    return ux, uy, uxx, uyy, uxy


def gradient_norm(u: Tensor) -> Tensor:
    """``|grad u|`` by central differences: ``(N, C, H, W) -> (N, C, H, W)``."""
    _check_field(u, finite=False)
    ux, uy, *_ = _central(u)
    return torch.sqrt(ux * ux + uy * uy + 1e-12)


def curvature(u: Tensor, eps: float = 1e-2) -> Tensor:
    """Level-line curvature ``k = div(grad u / |grad u|)`` (eq. 1), regularised by ``eps``::

        k = (u_xx u_y^2 - 2 u_x u_y u_xy + u_yy u_x^2) / (u_x^2 + u_y^2 + eps^2)^(3/2)

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``. Zero on constants and linear ramps.
    """
    _check_field(u, finite=False)
    ux, uy, uxx, uyy, uxy = _central(u)
    num = uxx * uy * uy - 2 * ux * uy * uxy + uyy * ux * ux
    return num / (ux * ux + uy * uy + eps * eps) ** 1.5


def edge_stop(s: Tensor, contrast: float) -> Tensor:
    """Perona-Malik edge-stopping function ``g(s) = 1 / (1 + (s / K)^2)`` (``g``, ``g1`` of
    eqs. 1-2); ``g(0) = 1``, decreasing in ``|s|``."""
    if not contrast > 0:
        raise InputError(f"edge_stop: the contrast K must be > 0, got {contrast}")
    return 1.0 / (1.0 + (s / contrast) ** 2)


def diffusion_flux_div(u: Tensor, conductivity: Tensor | float) -> Tensor:
    """``div(c grad u)`` on a staggered grid (eqs. 1, 2 and 5), zero flux through the border.

    The flux between pixels ``i`` and ``i+1`` is ``c_{i+1/2} (u_{i+1} - u_i)`` with
    ``c_{i+1/2} = (c_i + c_{i+1}) / 2``, so a constant ``c`` gives exactly ``c * laplacian(u)``.

    Args:
        u: ``(N, C, H, W)``.
        conductivity: a number, or a tensor broadcastable to ``u`` (``(N, 1|C, H, W)``).
    """
    _check_field(u, finite=False)
    cond = torch.as_tensor(conductivity, dtype=u.dtype, device=u.device)
    if cond.dim() == 0:
        cond = cond.expand_as(u)
    else:
        if cond.dim() != 4:
            raise InputError(f"conductivity: expected a number or (N, C, H, W), got {_shape(cond)}")
        cond = cond.expand_as(u)
    p, cp = _pad(u), _pad(cond)
    cc = cp[..., 1:-1, 1:-1]
    out = torch.zeros_like(u)
    for nb_u, nb_c in (
        (p[..., 1:-1, 2:], cp[..., 1:-1, 2:]),
        (p[..., 1:-1, :-2], cp[..., 1:-1, :-2]),
        (p[..., 2:, 1:-1], cp[..., 2:, 1:-1]),
        (p[..., :-2, 1:-1], cp[..., :-2, 1:-1]),
    ):
        out = out + 0.5 * (cc + nb_c) * (nb_u - u)
    return out


# ---------------------------------------------------------------------------------------
# PDE priors and residuals
# ---------------------------------------------------------------------------------------


@dataclass
class PriorConfig:
    """A PDE prior of Sec. 3 and its constants."""

    name: str = param("zg", "heat (eq. 3), diffusion (eq. 5), mpmc (eq. 1) or zg (eq. 2)")
    kappa: float = param(
        0.25,
        "kappa of Alg. 1's residual (diffusivity x time step)",
        source="Alg. 1 line 16 names kappa; value not stated; our choice: 0.25",
    )
    contrast: float = param(
        0.1,
        "K of g(s) = 1/(1+(s/K)^2) on |grad u| (diffusion D, ZG g1)",
        source="not stated; our choice: Perona-Malik g with K = 0.1 for [0, 1] images",
    )
    curvature_scale: float = param(
        1.0, "K of MPMC's g(|k|)", source="not stated; our choice: 1 (curvature in 1/pixel)"
    )
    curvature_eps: float = param(
        1e-2, "eps regularising |grad u| in the curvature", source="not stated; our choice"
    )
    smoothing: float = param(
        1.0,
        "Gaussian sigma (pixels) of the image D is computed from (diffusion)",
        source="eq. 5 leaves D open; our choice: Catte et al. D = g(|grad G_sigma * u|)",
    )
    lambda1: float = param(1.0, "ZG second-order weight (eq. 2)", source="not stated; ours: 1")
    lambda2: float = param(
        0.05, "ZG biharmonic weight (eq. 2)", source="not stated; our choice: 0.05"
    )


def _as_prior(prior: PriorConfig | str) -> PriorConfig:
    if isinstance(prior, str):
        prior = PriorConfig(name=prior)
    if not isinstance(prior, PriorConfig):
        raise InputError(f"prior: expected a name or PriorConfig, got {_shape(prior)}")
    _check_choice(prior.name, PRIORS, "prior")
    return prior


def pde_rhs(u: Tensor, prior: PriorConfig | str = "heat") -> Tensor:
    """The right-hand side ``F(u)`` of the prior's ``du/dt = F(u)`` (eqs. 1, 2, 3, 5).

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``; differentiable in ``u``.
    """
    p = _as_prior(prior)
    _check_field(u, finite=False)
    if p.name == "heat":  # eq. 3
        return laplacian(u)
    if p.name == "diffusion":  # eq. 5, D from the Gaussian-smoothed image
        from kornia.filters import gaussian_blur2d

        smooth = u
        if p.smoothing > 0:
            k = 2 * math.ceil(3 * p.smoothing) + 1
            smooth = gaussian_blur2d(u, (k, k), (p.smoothing, p.smoothing), border_type="replicate")
        return diffusion_flux_div(u, edge_stop(gradient_norm(smooth), p.contrast))
    if p.name == "mpmc":  # eq. 1
        kappa = curvature(u, p.curvature_eps)
        return diffusion_flux_div(u, edge_stop(kappa.abs(), p.curvature_scale))
    # zg, eq. 2
    second = diffusion_flux_div(u, edge_stop(gradient_norm(u), p.contrast))
    return p.lambda1 * second - p.lambda2 * biharmonic(u)


def pde_residual(u: Tensor, u_t: Tensor, prior: PriorConfig | str = "heat") -> Tensor:
    """Eq. 4's residual ``R = du/dt - F(u)`` for a field and its known time derivative.

    Shapes: ``u``, ``u_t`` ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    _check_field(u_t, "u_t", finite=False)
    if u_t.shape != u.shape:
        raise InputError(f"u_t: expected shape {tuple(u.shape)}, got {tuple(u_t.shape)}")
    return u_t - pde_rhs(u, prior)


def pinn_residual(
    u_hat: Tensor,
    x0: Tensor,
    prior: PriorConfig | str = "heat",
    *,
    mode: str = "euler",
    model: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """The residual whose mean square is ``L_PDE`` (eqs. 11, 17).

    - ``mode="euler"``: ``r = kappa F(u_hat) - (u_hat - x0)``, eq. 4 with ``du/dt`` as one
      implicit Euler step of length ``kappa`` from the observed image ``x0``.
    - ``mode="alg1"``: Algorithm 1, line 16: ``r = kappa F(u_hat) - model(u_hat)``
      (the network applied to its own output; needs ``model``).

    Shapes: ``u_hat``, ``x0`` ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    p = _as_prior(prior)
    _check_choice(mode, RESIDUALS, "residual mode")
    rhs = p.kappa * pde_rhs(u_hat, p)
    if mode == "alg1":
        if model is None:
            raise InputError("pinn_residual: mode 'alg1' needs the model (r = kappa F(u) - f(u))")
        return rhs - model(u_hat)
    if x0.shape != u_hat.shape:
        raise InputError(f"x0: expected shape {tuple(u_hat.shape)}, got {tuple(x0.shape)}")
    return rhs - (u_hat - x0)


# ---------------------------------------------------------------------------------------
# total loss (eq. 10, Algorithm 1)
# ---------------------------------------------------------------------------------------


@dataclass
class LossConfig:
    """Weights of eq. 10 / 16 and the PDE residual form."""

    pde: float = param(1.0, "lambda_PDE (eq. 16)", source="Alg. 1 line 24: 1")
    perc: float = param(0.1, "lambda1, L1 'perceptual' term (eq. 12)", source="Alg. 1 line 24")
    data: float = param(1.0, "lambda2, MSE data term (eq. 13)", source="Alg. 1 line 24: 1")
    ic: float = param(0.03, "lambda3, initial-condition term (eq. 14)", source="Alg. 1 line 24")
    bc: float = param(0.02, "lambda4, Dirichlet boundary term (eq. 15)", source="Alg. 1 line 24")
    bc_value: float = param(0.0, "Dirichlet value g on the border", source="Alg. 1 line 21: 0")
    residual: str = param(
        "euler",
        "euler (eq. 4, implicit step from the input) or alg1 (kappa F(u) - f(u), Alg. 1)",
        source="not fixed by the paper (eq. 4 vs Alg. 1 line 16 differ); our choice: euler",
    )


def _border(u: Tensor) -> Tensor:
    """The one-pixel border of ``(N, C, H, W)`` as ``(N, C, 2W + 2H - 4)``."""
    top, bottom = u[..., 0, :], u[..., -1, :]
    left, right = u[..., 1:-1, 0], u[..., 1:-1, -1]
    return torch.cat([top, bottom, left, right], dim=-1)


def total_loss(
    u_hat: Tensor,
    reference: Tensor,
    x0: Tensor,
    prior: PriorConfig | str = "zg",
    weights: LossConfig | None = None,
    *,
    model: Callable[[Tensor], Tensor] | None = None,
    ic_weight: Tensor | None = None,
) -> dict[str, Tensor]:
    """Eq. 10 with Algorithm 1's terms; returns ``{"loss", "pde", "perc", "data", "ic", "bc"}``.

    ``L = w.pde L_PDE + w.perc L1(u_hat, ref) + w.data MSE(u_hat, ref)
    + w.ic mean(w_IC (u_hat - x0)^2) + w.bc MSE(u_hat|border, g)``.

    Args:
        u_hat: the network output ``(N, C, H, W)``.
        reference: ``X_ref`` of eqs. 12-13: the clean image (paper protocol) or the noisy
            one (blind protocol), same shape.
        x0: the initial image ``X0`` of eq. 14 (the observed input), same shape.
        ic_weight: optional ``w_IC(p) >= 0`` broadcastable to ``u_hat`` (eq. 14).
    """
    w = weights or LossConfig()
    _check_field(u_hat, "u_hat")
    for name, t in (("reference", reference), ("x0", x0)):
        _check_field(t, name)
        if t.shape != u_hat.shape:
            raise InputError(f"{name}: expected shape {tuple(u_hat.shape)}, got {tuple(t.shape)}")
    r = pinn_residual(u_hat, x0, prior, mode=w.residual, model=model)
    pde = (r * r).mean()  # eq. 17
    perc = (u_hat - reference).abs().mean()  # eq. 12 with phi = identity (Alg. 1 line 23)
    data = F.mse_loss(u_hat, reference)  # eq. 13
    sq = (u_hat - x0) ** 2
    if ic_weight is not None:
        if not isinstance(ic_weight, Tensor) or bool((ic_weight < 0).any()):
            raise InputError("ic_weight: expected a non-negative tensor")
        sq = sq * ic_weight
    ic = sq.mean()  # eq. 14
    bc = ((_border(u_hat) - w.bc_value) ** 2).mean()  # eq. 15, Dirichlet
    loss = w.pde * pde + w.perc * perc + w.data * data + w.ic * ic + w.bc * bc
    return {"loss": loss, "pde": pde, "perc": perc, "data": data, "ic": ic, "bc": bc}


# ---------------------------------------------------------------------------------------
# noise models (Sec. 3, eqs. 6-9)
# ---------------------------------------------------------------------------------------


def add_noise(
    x: Tensor, kind: str, level: float, *, seed: int = 0, domain: str = "intensity"
) -> Tensor:
    """Corrupt an image in ``[0, 1]`` with one of the paper's noise models (seeded).

    - ``awgn``: ``Y = X + (level/255) N(0, 1)`` (``level`` = sigma in 8-bit units);
    - ``poisson_gaussian``: ``Y = a Poisson(X / a) + (level/255) N(0, 1)`` with gain
      ``a = level / 255`` (mean ``X``, variance ``a X + (level/255)^2``);
    - ``speckle``: ``Y = N X`` (eq. 6) with ``N ~ Gamma(L, 1/L)`` (eq. 7, ``L = level`` looks,
      mean 1, variance ``1/L``) in the intensity domain, or ``y = n x`` with Nakagami
      ``n = sqrt(Gamma(L, 1/L))`` (eqs. 8-9; Rayleigh for ``L = 1``) in the amplitude domain.

    Shapes: any; returns a float tensor of ``x``'s shape (not clipped).
    """
    _check_choice(kind, NOISES, "noise kind")
    _check_choice(domain, ("intensity", "amplitude"), "speckle domain")
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.numel() == 0:
        raise InputError(f"add_noise: expected a non-empty floating tensor, got {_shape(x)}")
    if not bool(torch.isfinite(x).all()):
        raise InputError("add_noise: the image contains NaN or inf")
    if not (isinstance(level, (int, float)) and math.isfinite(level) and level > 0):
        raise InputError(f"add_noise: level must be a positive number, got {level!r}")
    if kind != "awgn" and bool((x < 0).any()):
        raise InputError(f"add_noise: {kind} needs a non-negative image")
    rng = np.random.default_rng(seed)
    xn = x.detach().cpu().double().numpy()
    if kind == "awgn":
        y = xn + (level / 255.0) * rng.standard_normal(xn.shape)
    elif kind == "poisson_gaussian":
        a = level / 255.0
        y = a * rng.poisson(xn / a) + (level / 255.0) * rng.standard_normal(xn.shape)
    else:
        looks = float(level)
        gamma = rng.gamma(looks, 1.0 / looks, xn.shape)
        y = xn * (gamma if domain == "intensity" else np.sqrt(gamma))
    return torch.from_numpy(y).to(dtype=x.dtype, device=x.device)


# ---------------------------------------------------------------------------------------
# backbones, fitting
# ---------------------------------------------------------------------------------------


def build_backbone(name: str, channels: int, widths: Sequence[int]) -> nn.Module:
    """UNet (Sec. 5, Case 1) or ResUNet (Case 2: residual blocks, transposed-conv upsampling)
    from :class:`patrec.core.segmentation.UNet`; ``(N, C, H, W) -> (N, C, H, W)`` raw outputs."""
    from patrec.core.segmentation import UNet

    if name in ("u2net", "resu2net"):
        raise InputError(f"backbone {name!r} is not implemented; use one of {BACKBONES}")
    _check_choice(name, BACKBONES, "backbone")
    if name == "unet":
        return UNet(channels, channels, widths)
    return UNet(channels, channels, widths, residual=True, upsample="transpose")


@dataclass
class FitResult:
    """One per-image fit: the denoised image ``(C, H, W)``, the epoch history, the model."""

    denoised: Tensor
    history: list[dict[str, float]]
    model: nn.Module


def score(denoised: np.ndarray | Tensor, clean: np.ndarray | Tensor) -> dict[str, float]:
    """PSNR (dB) and SSIM of an image against the clean one (both clipped to ``[0, 1]``).

    Images ``(H, W)``, ``(H, W, C)`` (numpy) or ``(C, H, W)`` (torch); scikit-image metrics with
    ``data_range = 1``. A non-finite clean image scores NaN.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a, b = (_to_hwc(v) for v in (denoised, clean))
    if a.shape != b.shape:
        raise InputError(f"score: shapes differ: {a.shape} vs {b.shape}")
    if not np.isfinite(b).all():
        return {"psnr": float("nan"), "ssim": float("nan")}
    a = np.clip(a, 0, 1)
    b = np.clip(b, 0, 1)
    ch = -1 if a.ndim == 3 else None
    return {
        "psnr": float(peak_signal_noise_ratio(b, a, data_range=1.0)),
        "ssim": float(structural_similarity(b, a, data_range=1.0, channel_axis=ch)),
    }


def _to_hwc(x: np.ndarray | Tensor) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu().double().numpy()
        if x.ndim == 3:
            x = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (2, 3):
        raise InputError(f"expected an image (H, W) or (H, W, C), got shape {x.shape}")
    return x


def _check_image(x: object, name: str, *, finite: bool = True) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 3 or not x.is_floating_point():
        raise InputError(f"{name}: expected a floating tensor (C, H, W), got {_shape(x)}")
    if finite and not bool(torch.isfinite(x).all()):
        raise InputError(f"{name}: contains NaN or inf")
    return x


def fit_pinn(
    noisy: Tensor,
    clean: Tensor | None = None,
    *,
    protocol: str = "blind",
    backbone: str = "resunet",
    widths: Sequence[int] = (32, 64, 128, 256),
    prior: PriorConfig | str = "zg",
    loss: LossConfig | None = None,
    lr: float = 1e-3,
    steps_per_epoch: int = 100,
    train: TrainConfig | None = None,
    out_dir: str | Path | None = None,
) -> FitResult:
    """Algorithm 1 (TRAINPINN): fit a fresh backbone to one noisy image with eq. 10's loss.

    Args:
        noisy: ``Y``, ``(C, H, W)``, ``H`` and ``W`` multiples of ``2 ** (len(widths) - 1)``.
        clean: ``X``, same shape. Protocol ``paper``: required, and it is the reference of
            ``L_data`` and ``L_perc``. Protocol ``blind``: optional, used only to score each
            epoch (``psnr``, ``ssim`` in the history); the reference is ``noisy`` itself.
        train: loop settings; ``epochs * steps_per_epoch`` Adam steps in all.

    Returns:
        :class:`FitResult` with ``denoised = sigmoid(f_theta(Y))`` ``(C, H, W)``.
    """
    from patrec.core.train import Trainer, seed_everything

    _check_choice(protocol, PROTOCOLS, "protocol")
    y = _check_image(noisy, "noisy")
    if clean is not None:
        _check_image(clean, "clean", finite=protocol == "paper")
        if clean.shape != y.shape:
            raise InputError(f"clean: expected shape {tuple(y.shape)}, got {tuple(clean.shape)}")
    elif protocol == "paper":
        raise InputError("protocol 'paper' fits to the clean image: pass clean=")
    p = _as_prior(prior)
    lcfg = loss or LossConfig()
    _check_choice(lcfg.residual, RESIDUALS, "loss.residual")
    tcfg = train or TrainConfig(epochs=5, progress=False)
    seed_everything(tcfg.seed, tcfg.deterministic)
    model = build_backbone(backbone, y.shape[0], widths)
    div = 2 ** (len(tuple(widths)) - 1)
    if y.shape[-1] % div or y.shape[-2] % div:
        raise InputError(f"noisy: H and W must be multiples of {div}, got {tuple(y.shape[-2:])}")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    y4 = y.unsqueeze(0).float()
    ref_cpu = (clean if protocol == "paper" else y).unsqueeze(0).float()  # type: ignore[union-attr]

    def net(tr: Trainer, inp: Tensor) -> Tensor:
        return torch.sigmoid(tr.model(inp))  # Sec. 5, Case 3: X_R = sigma(d0)

    def step(tr: Trainer, batch: None) -> dict[str, Tensor]:
        dev = tr.device
        yy, ref = y4.to(dev), ref_cpu.to(dev)
        u_hat = net(tr, yy)
        terms = total_loss(
            u_hat,
            ref,
            yy,
            p,
            lcfg,
            model=(lambda u: net(tr, u)) if lcfg.residual == "alg1" else None,
        )
        return {k: v if k == "loss" else v.detach() for k, v in terms.items()}

    def evaluate(tr: Trainer) -> dict[str, float]:
        if clean is None:
            return {}
        out = _predict(tr.unwrapped_model, y4.to(tr.device))
        return score(out[0], clean)

    trainer = Trainer(
        model,
        opt,
        None,
        step,
        tcfg,
        out_dir=out_dir,
        eval_fn=evaluate,
        desc=f"{backbone}-{p.name}-{protocol}",
        steps_per_epoch=steps_per_epoch,
    )
    history = trainer.fit()
    net_final = trainer.unwrapped_model
    denoised = _predict(net_final, y4.to(trainer.device))[0].cpu()
    return FitResult(denoised, history, net_final)


@torch.no_grad()
def _predict(model: nn.Module, y: Tensor) -> Tensor:
    """``sigmoid(model(y))`` with BatchNorm on the image's own statistics, as in training
    (Alg. 1, line 39 returns ``model(Y)`` after the fit; one image is the whole batch)."""
    was = model.training
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.running_mean, m.running_var, m.num_batches_tracked) for m in bns]
    for m in bns:
        m.track_running_stats, m.running_mean, m.running_var = False, None, None
    model.train()
    try:
        out = torch.sigmoid(model(y))
    finally:
        for m, (rm, rv, nb) in zip(bns, saved, strict=True):
            m.running_mean, m.running_var, m.num_batches_tracked = rm, rv, nb
            m.track_running_stats = True
        model.train(was)
    return out


# ---------------------------------------------------------------------------------------
# classical baselines, data
# ---------------------------------------------------------------------------------------


def classical_denoise(noisy: np.ndarray, name: str, **kw: float) -> np.ndarray:
    """A scikit-image baseline on ``(H, W)`` or ``(H, W, C)`` images.

    ``gaussian`` (``skimage.filters.gaussian``, ``sigma`` = 1 px), ``tv``
    (``denoise_tv_chambolle``, ``weight`` = 0.1) or ``nlm`` (``denoise_nl_means`` with
    ``sigma`` from ``estimate_sigma``, ``h = 0.8 sigma``, 5x5 patches, distance 6).
    """
    from skimage.filters import gaussian
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

    _check_choice(name, CLASSICAL, "classical baseline")
    x = _to_hwc(noisy)
    if not np.isfinite(x).all():
        raise InputError("classical_denoise: the image contains NaN or inf")
    ch = -1 if x.ndim == 3 else None
    if name == "gaussian":
        return np.asarray(gaussian(x, sigma=kw.get("sigma", 1.0), channel_axis=ch))
    if name == "tv":
        return np.asarray(denoise_tv_chambolle(x, weight=kw.get("weight", 0.1), channel_axis=ch))
    sig = estimate_noise_sigma(x)
    return np.asarray(
        denoise_nl_means(
            x,
            h=kw.get("h_factor", 0.8) * sig,
            sigma=sig,
            patch_size=5,
            patch_distance=6,
            fast_mode=True,
            channel_axis=ch,
        )
    )


def estimate_noise_sigma(image: np.ndarray) -> float:
    """Donoho's robust noise estimate ``median(|HH|) / 0.6745`` on the finest Haar diagonal
    detail ``HH = (a - b - c + d) / 2`` of 2x2 blocks (what ``skimage.restoration.estimate_sigma``
    does with a Daubechies wavelet; that one needs PyWavelets, which is not installed).

    ``(H, W)`` or ``(H, W, C)`` (channels averaged) -> sigma.
    """
    x = _to_hwc(image)
    x = x if x.ndim == 3 else x[..., None]
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    if h < 2 or w < 2:
        raise InputError(f"estimate_noise_sigma: image too small, got {x.shape[:2]}")
    x = x[:h, :w]
    hh = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2
    return float(np.mean(np.median(np.abs(hh), axis=(0, 1)) / 0.6745))


_IMAGES = ("camera", "astronaut", "coffee", "moon", "chelsea", "coins", "brick")


def load_images(names: Sequence[str], size: int = 64, gray: bool = True) -> list[np.ndarray]:
    """Real scikit-image images: centre square crop, resized to ``size``, floats in ``[0, 1]``.

    Returns ``(size, size)`` arrays (``gray``) or ``(size, size, 3)``.
    """
    from skimage import data as skdata
    from skimage.color import gray2rgb, rgb2gray
    from skimage.transform import resize

    if size < 8:
        raise InputError(f"image size must be >= 8, got {size}")
    out = []
    for n in names:
        _check_choice(n, _IMAGES, "image")
        img = np.asarray(getattr(skdata, n)(), dtype=np.float64)
        img = img / 255.0 if img.max() > 1.0 else img
        if img.ndim == 3:
            img = img[..., :3]
        h, w = img.shape[:2]
        s = min(h, w)
        img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        if gray and img.ndim == 3:
            img = rgb2gray(img)
        if not gray and img.ndim == 2:
            img = gray2rgb(img)
        img = resize(img, (size, size) + img.shape[2:], anti_aliasing=True)
        out.append(np.clip(img, 0.0, 1.0))
    return out


# ---------------------------------------------------------------------------------------
# config, recipe
# ---------------------------------------------------------------------------------------


@dataclass
class DataConfig:
    """Images and noise."""

    images: tuple[str, ...] = param(
        ("camera", "moon", "astronaut", "coffee"),
        "scikit-image images (camera, astronaut, coffee, moon, chelsea, coins, brick)",
        source="the paper's RESISC/AID/BSD68 are not embedded; our choice: skimage.data",
    )
    size: int = param(256, "centre crop resized to size x size", source="Table 3: 256x256")
    gray: bool = param(True, "grey-level images (False: RGB)")
    noise: str = param("speckle", "awgn, poisson_gaussian or speckle", source="Sec. 7, Table 4")
    level: float = param(
        1.0,
        "sigma (awgn, 8-bit), lambda (poisson_gaussian) or looks L (speckle)",
        source="Sec. 3: sigma 15/25/50, lambda 1/4/8, L 1/4/8",
    )
    speckle_domain: str = param(
        "amplitude", "intensity (Gamma) or amplitude (Nakagami/Rayleigh)", source="Sec. 7"
    )
    root: str | None = param(None, "unused: the recipe runs on embedded images only")


@dataclass
class ModelConfig:
    """Backbone widths and the optimiser."""

    widths: tuple[int, ...] = param(
        (32, 64, 128, 256), "encoder channels per level", source="Sec. 5, Case 1: 32/64/128/256"
    )
    lr: float = param(1e-3, "Adam learning rate", source="Sec. 5: Adam; lr not stated; ours", gt=0)
    steps_per_epoch: int = param(
        100,
        "Adam steps per Trainer epoch (PSNR/SSIM logged per epoch)",
        source="Alg. 1 line 35: log every 100 epochs (one step per epoch)",
    )


@dataclass
class PinnDenoiseConfig:
    """Config of the PINN-PDE denoising comparison (:func:`recipe`)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=5, checkpoint_every=0, progress=True)
    )
    variants: tuple[str, ...] = param(
        tuple(f"{b}-{p}-{q}" for b in BACKBONES for p in PRIORS for q in PROTOCOLS),
        "PINN runs as backbone-prior-protocol (e.g. resunet-zg-blind)",
        source="Table 4: every backbone x prior",
    )
    baselines: tuple[str, ...] = param(CLASSICAL, "classical filters: gaussian, tv, nlm")
    seeds: tuple[int, ...] = param((0, 1, 2), "noise draw and network initialisation seeds")
    timing_repeats: int = param(3, "repeats of each classical filter's timing")


def paper_config() -> PinnDenoiseConfig:
    """Table 4's setting as far as it is implemented: 256x256 grey images, Rayleigh speckle
    (amplitude, ``L = 1``), widths 32-256, 500 Adam steps (Alg. 1: ``E = 500``), every
    UNet/ResUNet x prior, both protocols."""
    return PinnDenoiseConfig(train=TrainConfig(epochs=5, checkpoint_every=0))


def smoke_config() -> PinnDenoiseConfig:
    """CPU scale: two 32x32 grey images, AWGN sigma 25 (Table 6), ResUNet 8-16-32,
    90 Adam steps, ZG in both protocols and heat blind, three seeds."""
    return PinnDenoiseConfig(
        data=DataConfig(images=("camera", "moon"), size=32, noise="awgn", level=25.0),
        model=ModelConfig(widths=(8, 16, 32), lr=1e-2, steps_per_epoch=30),
        train=TrainConfig(epochs=3, checkpoint_every=0, cpu=True, progress=False),
        variants=("resunet-zg-paper", "resunet-zg-blind", "resunet-heat-blind"),
        seeds=(0, 1, 2),
    )


def _parse_variant(v: str) -> tuple[str, str, str]:
    parts = v.split("-")
    if len(parts) != 3:
        raise ConfigError(f"variant {v!r}: expected backbone-prior-protocol, e.g. resunet-zg-blind")
    b, p, q = parts
    for val, choices, what in (
        (b, BACKBONES, "backbone"),
        (p, PRIORS, "prior"),
        (q, PROTOCOLS, "protocol"),
    ):
        if val not in choices:
            raise ConfigError(f"variant {v!r}: {what} must be one of {', '.join(choices)}")
    return b, p, q


def _check_config(cfg: PinnDenoiseConfig) -> None:
    if not cfg.variants:
        raise ConfigError("variants: give at least one backbone-prior-protocol")
    for v in cfg.variants:
        _parse_variant(v)
    bad = [b for b in cfg.baselines if b not in CLASSICAL]
    if bad:
        raise ConfigError(f"baselines: expected some of {', '.join(CLASSICAL)}, got {bad}")
    if not cfg.seeds:
        raise ConfigError("seeds: give at least one seed")
    if cfg.data.noise not in NOISES:
        raise ConfigError(
            f"data.noise: expected one of {', '.join(NOISES)}, got {cfg.data.noise!r}"
        )
    if cfg.loss.residual not in RESIDUALS:
        raise ConfigError(f"loss.residual: expected euler or alg1, got {cfg.loss.residual!r}")
    div = 2 ** (len(cfg.model.widths) - 1)
    if cfg.data.size % div:
        raise ConfigError(f"data.size must be a multiple of {div} for widths {cfg.model.widths}")


def _plot_grid(rows: list[tuple[str, np.ndarray, str]], path: Path, title: str) -> Path:
    import io

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from patrec.core.report import atomic_write_bytes

    fig, axes = plt.subplots(1, len(rows), figsize=(2.3 * len(rows), 2.7))
    for ax, (name, img, sub) in zip(np.atleast_1d(axes), rows, strict=True):
        ax.imshow(np.clip(img, 0, 1), cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(f"{name}\n{sub}", fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=9, y=1.08)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def recipe(cfg: PinnDenoiseConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """Denoise every (image, seed) with every PINN variant and classical filter; compare.

    Writes ``metrics.json`` (PSNR/SSIM mean ± std over images x seeds, wall time per image,
    time ratios and PSNR differences against the first PINN variant), ``comparison.md``,
    ``psnr.png``, ``ssim.png``, ``examples.png`` (noisy / PINN paper / PINN blind / best
    classical / clean) and ``psnr_curves.png`` (PSNR per epoch of the PINN fits).
    """
    from patrec.core.bench import time_call
    from patrec.core.report import (
        atomic_write_text,
        plot_bars,
        plot_curves,
        summarize_seeds,
        write_metrics,
    )

    _check_config(cfg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = load_images(cfg.data.images, cfg.data.size, cfg.data.gray)
    names = ["noisy", *cfg.variants, *cfg.baselines]
    rec: dict[str, dict[str, list[float]]] = {
        n: {"psnr": [], "ssim": [], "time_s": []} for n in names
    }
    curves: dict[str, list[list[float]]] = {v: [] for v in cfg.variants}
    example: dict[str, np.ndarray] = {}
    for ii, img in enumerate(images):
        clean_t = torch.from_numpy(img).float()
        clean_t = clean_t.unsqueeze(0) if clean_t.dim() == 2 else clean_t.permute(2, 0, 1)
        for seed in cfg.seeds:
            noisy_t = add_noise(
                clean_t,
                cfg.data.noise,
                cfg.data.level,
                seed=1000 * ii + seed,
                domain=cfg.data.speckle_domain,
            )
            noisy_np = _to_hwc(noisy_t)
            first = ii == 0 and seed == cfg.seeds[0]
            s = score(noisy_np, img)
            for k in ("psnr", "ssim"):
                rec["noisy"][k].append(s[k])
            rec["noisy"]["time_s"].append(0.0)
            if first:
                example["noisy"], example["clean"] = noisy_np, img
            for v in cfg.variants:
                b, p, q = _parse_variant(v)
                prior = dataclasses.replace(cfg.prior, name=p)
                tcfg = dataclasses.replace(cfg.train, seed=seed)
                t = time_call(
                    functools.partial(
                        fit_pinn,
                        noisy_t,
                        clean_t,
                        protocol=q,
                        backbone=b,
                        widths=cfg.model.widths,
                        prior=prior,
                        loss=cfg.loss,
                        lr=cfg.model.lr,
                        steps_per_epoch=cfg.model.steps_per_epoch,
                        train=tcfg,
                    ),
                    repeats=1,
                    warmup=0,
                )
                res: FitResult = t.result
                s = score(res.denoised, clean_t)
                for k in ("psnr", "ssim"):
                    rec[v][k].append(s[k])
                rec[v]["time_s"].append(t.median)
                curves[v].append([h.get("psnr", float("nan")) for h in res.history])
                if first:
                    example[v] = _to_hwc(res.denoised)
            for bname in cfg.baselines:
                t = time_call(
                    functools.partial(classical_denoise, noisy_np, bname),
                    repeats=cfg.timing_repeats,
                    warmup=1,
                )
                s = score(t.result, img)
                for k in ("psnr", "ssim"):
                    rec[bname][k].append(s[k])
                rec[bname]["time_s"].append(t.median)
                if first:
                    example[bname] = t.result

    ours = cfg.variants[0]
    t_ours = float(np.mean(rec[ours]["time_s"]))
    p_ours = np.asarray(rec[ours]["psnr"])
    variants: dict[str, dict[str, Any]] = {}
    for n in names:
        tm = float(np.mean(rec[n]["time_s"]))
        variants[n] = {
            "psnr": summarize_seeds(rec[n]["psnr"]),
            "ssim": summarize_seeds(rec[n]["ssim"]),
            "time_s": tm,
            f"time_ratio_vs_{ours}": tm / t_ours if t_ours > 0 else float("nan"),
            f"psnr_minus_{ours}": float(np.mean(np.asarray(rec[n]["psnr"]) - p_ours)),
        }
    bars = {n: variants[n]["psnr"] for n in names}
    plots = [
        plot_bars(
            bars,
            out / "psnr.png",
            title=f"PSNR (dB), {cfg.data.noise} {cfg.data.level:g}",
            ylabel="PSNR (dB)",
            highlight=ours,
        ),
        plot_bars(
            {n: variants[n]["ssim"] for n in names},
            out / "ssim.png",
            title="SSIM",
            ylabel="SSIM",
            highlight=ours,
        ),
    ]
    plots.append(
        plot_curves(
            curves,
            out / "psnr_curves.png",
            xlabel=f"epoch ({cfg.model.steps_per_epoch} steps)",
            ylabel="PSNR (dB)",
            title="PINN fits: PSNR vs clean per epoch",
        )
    )
    best_cls = (
        max(cfg.baselines, key=lambda n: variants[n]["psnr"]["mean"]) if cfg.baselines else None
    )
    paper_v = next((v for v in cfg.variants if v.endswith("-paper")), None)
    blind_v = next((v for v in cfg.variants if v.endswith("-blind")), None)
    row_names: list[str | None] = ["noisy", paper_v, blind_v, best_cls, "clean"]
    rows = []
    for rn in row_names:
        if rn is None or rn not in example:
            continue
        sub = "" if rn == "clean" else f"{score(example[rn], example['clean'])['psnr']:.2f} dB"
        label = {paper_v: f"PINN paper\n{paper_v}", blind_v: f"PINN blind\n{blind_v}"}.get(rn, rn)
        rows.append((label, example[rn], sub))
    plots.append(
        _plot_grid(rows, out / "examples.png", f"{cfg.data.images[0]}, seed {cfg.seeds[0]}")
    )

    lines = [
        f"| method | PSNR (dB) | SSIM | time/image (s) | time / {ours} | PSNR - {ours} |",
        "|---|---|---|---|---|---|",
    ]
    for n in names:
        m = variants[n]
        lines.append(
            f"| {n} | {m['psnr']['mean']:.2f} ± {m['psnr']['std']:.2f} | "
            f"{m['ssim']['mean']:.3f} ± {m['ssim']['std']:.3f} | {m['time_s']:.4f} | "
            f"{m[f'time_ratio_vs_{ours}']:.4g} | {m[f'psnr_minus_{ours}']:+.2f} |"
        )
    table = "\n".join(lines) + "\n"
    atomic_write_text(out / "comparison.md", table)
    print(table)
    return write_metrics(
        out,
        method="scientific-ml/pinn_pde_denoise",
        variants=variants,
        primary="psnr",
        ours=ours,
        baselines=[n for n in names if n != ours],
        plots=plots,
        extra={
            "images": list(cfg.data.images),
            "noise": {"kind": cfg.data.noise, "level": cfg.data.level},
            "seeds": list(cfg.seeds),
            "steps": cfg.train.epochs * cfg.model.steps_per_epoch,
            "time_reference": ours,
            "timing_note": "PINN: one full per-image fit; classical: median of repeats",
        },
    )


METHOD = Method(
    name="scientific-ml/pinn_pde_denoise",
    title="Physics-Informed Neural Network for Denoising Images Using Nonlinear PDE",
    paper="003/04",
    citation=(
        "C. Osorio Quero, M. L. Crespo. Physics-Informed Neural Network for Denoising Images "
        "Using Nonlinear PDE. Electronics (MDPI), reprinted in 'Image Processing Based on "
        "Convolution Neural Network: 2nd Edition'."
    ),
    task="image denoising (AWGN, Poisson-Gaussian, speckle): noisy image -> denoised image",
    config=PinnDenoiseConfig,
    presets={"paper": paper_config, "smoke": smoke_config},
    recipe=recipe,
    baselines=(
        "gaussian: skimage.filters.gaussian",
        "tv: denoise_tv_chambolle",
        "nlm: denoise_nl_means (estimate_sigma)",
        "noisy: the input itself",
    ),
    status="done",
    summary=(
        "Per-image fit of a UNet/ResUNet under eq. 10 (PDE residual of a heat, diffusion, MPMC "
        "or ZG prior + L1 + MSE + initial + Dirichlet boundary terms, Alg. 1 weights), in the "
        "paper's protocol (clean image in the loss) and a blind one (clean image only scores), "
        "beside scikit-image filters with time ratios. U2Net/ResU2Net are not implemented."
    ),
    paper_numbers={
        "Table 4 (speckle, RESISC/AID), PSNR/SSIM": (
            "ResU2Net-ZG 42.24/0.98 (best); ResUNet-ZG 29.90/0.87; UNet-heat 15.01/0.75"
        ),
        "Table 6 (AWGN sigma 25, 10 test images), PSNR": "ResU2Net-ZG 39.58 vs DnCNN-S 30.43",
        "protocol": "Alg. 1 fits each image with its clean reference inside the loss",
    },
    measured={
        "smoke (camera+moon 32x32 grey, AWGN sigma 25, ResUNet 8-16-32, 90 Adam steps, "
        "2 images x 3 seeds), PSNR dB / SSIM": (
            "noisy 20.48/0.42; PINN ZG paper protocol 29.35/0.75; PINN ZG blind 22.50/0.49; "
            "PINN heat blind 23.32/0.51; Gaussian 27.52/0.73; TV 28.66/0.79; NLM 28.39/0.77. "
            "With the clean image in the loss the PINN tops the filters (+0.7 dB over TV); "
            "blind, it gains only 2-3 dB over the input and stays 5-6 dB below TV/NLM"
        ),
        "time per image (2 cores, heavily shared)": (
            "a PINN fit takes ~4-7 s; TV is ~4e-4 x and NLM ~1.5e-3 x of the ZG fit's time"
        ),
    },
)
