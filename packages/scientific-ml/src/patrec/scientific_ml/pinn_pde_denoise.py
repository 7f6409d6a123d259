"""PINN-PDE image denoising: "Physics-Informed Neural Network for Denoising Images Using
Nonlinear PDE" (Osorio Quero & Crespo, Electronics 2025; inventory 003/04).

A network ``f_theta`` maps a noisy image ``Y`` to ``u_hat = f_theta(Y)`` and is fitted to that
one image (Algorithm 1, TRAINPINN) under the total loss of eq. 10 / 16::

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

  The residual is, by default, Algorithm 1's ``r = kappa F(u_hat) - f_theta(u_hat)``
  (``residual="alg1"``, line 16: the network applied to its own output), or eq. 4's
  ``R = du/dt - F(u)`` with the time derivative taken as one implicit Euler step from the
  observed image ``X0``: ``r = kappa F(u_hat) - (u_hat - X0)`` (``residual="euler"``, our
  reading of eq. 4, kept as an ablation: a variant name may end in ``-euler``).
- ``L_perc`` (eq. 12) is the L1 distance of Algorithm 1 (line 23), ``L_data`` the MSE of eq. 13,
  ``L_IC = mean(w_IC (u_hat - X0)^2)`` (eq. 14, ``X0`` = the observed input, as Sec. 4 says
  when no ``t = 0`` ground truth exists) and ``L_BC`` the Dirichlet term of eq. 15 on the
  one-pixel border with ``g = 0`` (Alg. 1, line 21).
- Training (Sec. 5): Adam, one step per epoch (Alg. 1, lines 30-34), at most ``E = 500``
  epochs, stopped early once the total loss is below ``1e-4``.

Backbones (Sec. 5; :class:`PinnDenoiser` wraps each, output ``sigmoid(d0)`` as in Case 3):

- ``unet`` (Case 1) and ``resunet`` (Case 2: residual blocks, transposed-conv upsampling), from
  :class:`patrec.core.segmentation.UNet`, widths 32-64-128-256;
- ``u2net`` (Case 3): U^2-Net (Qin et al. 2020), six stages of nested residual U-blocks
  (:class:`RSU`: RSU-7, -6, -5, -4, -4F, -4F), a mirrored decoder of RSU blocks on
  concatenated skips, side outputs ``d1..d6`` (3x3 convs, upsampled) fused by a 1x1 conv into
  ``d0``; widths of U^2-Net (64..512, mid 32..256);
- ``resu2net`` (Case 4): "a lightweight variant of U2Net" with "element-wise summation between
  encoder and decoder outputs": the same six RSU stages at U^2-Net-lite widths (64 everywhere,
  mid 16), each decoder stage's output summed with its encoder stage's output.
  Both U^2 backbones get deep supervision (Case 4, item 4): the data term of eq. 13 on every
  side output ``sigmoid(d_k)``, weight 1 each (U^2-Net's equal side weights).

Two protocols:

- ``paper``: the reference of ``L_data`` and ``L_perc`` is the clean image ``X`` (Alg. 1 takes
  ``(X, Y)`` and reports ``f_theta(Y)`` after fitting it to ``X``: a per-image supervised fit);
- ``blind``: the reference is the noisy image ``Y`` itself (the PDE prior is the only denoiser,
  like a deep image prior); the clean image is used only to score.

Metrics: PSNR and SSIM (Table 4), ENL and CNR (Table 5; formulas and the choice of regions at
:func:`speckle_regions`). Baselines run in the same recipe on the same noisy draws: Gaussian,
TV (Chambolle) and NLM filters (scikit-image), BM3D (the ``bm3d`` package of Tampere
University, free for non-commercial use only; Table 6) and
DnCNN-S (Table 6; 17 layers with residual learning, trained in the run on other embedded
images at the same noise level). WNNM, EPLL, TNRD, MemNet and the deep baselines of Table 7
are not run (no maintained offline implementation, or training sets not embedded).

At smoke scale (32x32, 80 steps) the headline does not reproduce: with Algorithm 1's residual
(the network asked to map its own output to ``kappa F(u)``) the ResU2Net-ZG fit stays below
BM3D and DnCNN-S, while the Euler residual lifts the same fit above them; see ``METHOD.measured``.

Noise models (Sec. 3 and 7): AWGN ``sigma in {15, 25, 50}`` (8-bit units), Poisson-Gaussian
``lambda in {1, 4, 8}`` and speckle with ``L in {1, 4, 8}`` looks: Gamma intensity speckle
(eq. 7, mean 1, variance ``1/L``) or Nakagami amplitude speckle (eq. 9; Rayleigh for ``L = 1``).
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

from patrec.core.checks import check_choice, check_int, check_scalar, check_tensor, describe
from patrec.core.config import param, validate_config
from patrec.core.errors import ConfigError, InputError
from patrec.core.hub import PretrainedModel
from patrec.core.registry import Method
from patrec.core.train import TrainConfig

__all__ = [
    "BACKBONES",
    "BASELINES",
    "CLASSICAL",
    "METHOD",
    "NOISES",
    "PRIORS",
    "PROTOCOLS",
    "RSU",
    "DnCNN",
    "DnCNNConfig",
    "FitResult",
    "LossConfig",
    "ModelConfig",
    "PinnDenoiseConfig",
    "PinnDenoiser",
    "PriorConfig",
    "SpeckleRegions",
    "U2Net",
    "add_noise",
    "biharmonic",
    "classical_denoise",
    "cnr",
    "curvature",
    "diffusion_flux_div",
    "edge_stop",
    "enl",
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
    "speckle_metrics",
    "speckle_regions",
    "total_loss",
    "train_dncnn",
]

PRIORS = ("heat", "diffusion", "mpmc", "zg")
BACKBONES = ("unet", "resunet", "u2net", "resu2net")
PROTOCOLS = ("paper", "blind")
NOISES = ("awgn", "poisson_gaussian", "speckle")
CLASSICAL = ("gaussian", "tv", "nlm", "bm3d")
BASELINES = (*CLASSICAL, "dncnn-s")
RESIDUALS = ("alg1", "euler")


# ---------------------------------------------------------------------------------------
# finite-difference operators (fixed convolution kernels, unit pixel spacing)
# ---------------------------------------------------------------------------------------

_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def _field(u: Any, name: str = "u", *, finite: bool = False) -> Tensor:
    out: Tensor = check_tensor(u, "N C H W", name=name, dtype="float", finite=finite)
    return out


def _pad(u: Tensor, k: int = 1) -> Tensor:
    # replicate padding: zero normal derivative (Neumann) at the image border
    return F.pad(u, (k, k, k, k), mode="replicate")


def laplacian(u: Tensor) -> Tensor:
    """Five-point Laplacian ``u_xx + u_yy`` (Alg. 1, line 14), Neumann border.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``. Exact on cubic polynomials away from the border.
    """
    _field(u)
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
    _field(u)
    ux, uy, *_ = _central(u)
    return torch.sqrt(ux * ux + uy * uy + 1e-12)


def curvature(u: Tensor, eps: float = 1e-2) -> Tensor:
    """Level-line curvature ``k = div(grad u / |grad u|)`` (eq. 1), regularised by ``eps``::

        k = (u_xx u_y^2 - 2 u_x u_y u_xy + u_yy u_x^2) / (u_x^2 + u_y^2 + eps^2)^(3/2)

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``. Zero on constants and linear ramps.
    """
    _field(u)
    check_scalar(eps, "eps", gt=0)
    ux, uy, uxx, uyy, uxy = _central(u)
    num = uxx * uy * uy - 2 * ux * uy * uxy + uyy * ux * ux
    return num / (ux * ux + uy * uy + eps * eps) ** 1.5


def edge_stop(s: Tensor, contrast: float) -> Tensor:
    """Perona-Malik edge-stopping function ``g(s) = 1 / (1 + (s / K)^2)`` (``g``, ``g1`` of
    eqs. 1-2); ``g(0) = 1``, decreasing in ``|s|``."""
    check_scalar(contrast, "edge_stop: the contrast K", gt=0)
    return 1.0 / (1.0 + (s / contrast) ** 2)


def diffusion_flux_div(u: Tensor, conductivity: Tensor | float) -> Tensor:
    """``div(c grad u)`` on a staggered grid (eqs. 1, 2 and 5), zero flux through the border.

    The flux between pixels ``i`` and ``i+1`` is ``c_{i+1/2} (u_{i+1} - u_i)`` with
    ``c_{i+1/2} = (c_i + c_{i+1}) / 2``, so a constant ``c`` gives exactly ``c * laplacian(u)``.

    Args:
        u: ``(N, C, H, W)``.
        conductivity: a number, or a tensor broadcastable to ``u`` (``(N, 1|C, H, W)``).
    """
    _field(u)
    cond = torch.as_tensor(conductivity, dtype=u.dtype, device=u.device)
    if cond.dim() != 0:
        check_tensor(cond, "_ _ _ _", name="conductivity")
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

    name: str = param(
        "zg", "heat (eq. 3), diffusion (eq. 5), mpmc (eq. 1) or zg (eq. 2)", choices=PRIORS
    )
    kappa: float = param(
        0.25,
        "kappa of Alg. 1's residual (diffusivity x time step)",
        source="Alg. 1 line 16 names kappa; value not stated; our choice: 0.25",
        gt=0,
    )
    contrast: float = param(
        0.1,
        "K of g(s) = 1/(1+(s/K)^2) on |grad u| (diffusion D, ZG g1)",
        source="not stated; our choice: Perona-Malik g with K = 0.1 for [0, 1] images",
        gt=0,
    )
    curvature_scale: float = param(
        1.0, "K of MPMC's g(|k|)", source="not stated; our choice: 1 (curvature in 1/pixel)", gt=0
    )
    curvature_eps: float = param(
        1e-2, "eps regularising |grad u| in the curvature", source="not stated; our choice", gt=0
    )
    smoothing: float = param(
        1.0,
        "Gaussian sigma (pixels) of the image D is computed from (diffusion; 0: none)",
        source="eq. 5 leaves D open; our choice: Catte et al. D = g(|grad G_sigma * u|)",
        ge=0,
    )
    lambda1: float = param(
        1.0, "ZG second-order weight (eq. 2)", source="not stated; ours: 1", ge=0
    )
    lambda2: float = param(
        0.05, "ZG biharmonic weight (eq. 2)", source="not stated; our choice: 0.05", ge=0
    )


def _as_prior(prior: PriorConfig | str) -> PriorConfig:
    if isinstance(prior, str):
        prior = PriorConfig(name=prior)
    if not isinstance(prior, PriorConfig):
        raise InputError(f"prior must be a name or a PriorConfig, got {describe(prior)}")
    check_choice(prior.name, "prior", PRIORS)
    return prior


def pde_rhs(u: Tensor, prior: PriorConfig | str = "heat") -> Tensor:
    """The right-hand side ``F(u)`` of the prior's ``du/dt = F(u)`` (eqs. 1, 2, 3, 5).

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``; differentiable in ``u``.
    """
    p = _as_prior(prior)
    _field(u)
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
    dims: dict[str, int] = {}
    check_tensor(u, "N C H W", name="u", dims=dims, dtype="float")
    check_tensor(u_t, "N C H W", name="u_t", dims=dims, dtype="float")
    return u_t - pde_rhs(u, prior)


def pinn_residual(
    u_hat: Tensor,
    x0: Tensor,
    prior: PriorConfig | str = "heat",
    *,
    mode: str = "alg1",
    model: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """The residual whose mean square is ``L_PDE`` (eqs. 11, 17).

    - ``mode="alg1"``: Algorithm 1, line 16: ``r = kappa F(u_hat) - model(u_hat)``
      (the network applied to its own output; needs ``model``).
    - ``mode="euler"``: ``r = kappa F(u_hat) - (u_hat - x0)``, eq. 4 with ``du/dt`` as one
      implicit Euler step of length ``kappa`` from the observed image ``x0``.

    Shapes: ``u_hat``, ``x0`` ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    p = _as_prior(prior)
    check_choice(mode, "residual mode", RESIDUALS)
    rhs = p.kappa * pde_rhs(u_hat, p)
    if mode == "alg1":
        if model is None:
            raise InputError("pinn_residual: mode 'alg1' needs the model (r = kappa F(u) - f(u))")
        return rhs - model(u_hat)
    dims: dict[str, int] = {}
    check_tensor(u_hat, "N C H W", name="u_hat", dims=dims)
    check_tensor(x0, "N C H W", name="x0", dims=dims)
    return rhs - (u_hat - x0)


# ---------------------------------------------------------------------------------------
# total loss (eq. 10, Algorithm 1)
# ---------------------------------------------------------------------------------------


@dataclass
class LossConfig:
    """Weights of eq. 10 / 16 and the PDE residual form."""

    pde: float = param(1.0, "lambda_PDE (eq. 16)", source="Alg. 1 line 24: 1", ge=0)
    perc: float = param(
        0.1, "lambda1, L1 'perceptual' term (eq. 12)", source="Alg. 1 line 24", ge=0
    )
    data: float = param(1.0, "lambda2, MSE data term (eq. 13)", source="Alg. 1 line 24: 1", ge=0)
    ic: float = param(
        0.03, "lambda3, initial-condition term (eq. 14)", source="Alg. 1 line 24", ge=0
    )
    bc: float = param(
        0.02, "lambda4, Dirichlet boundary term (eq. 15)", source="Alg. 1 line 24", ge=0
    )
    bc_value: float = param(
        0.0, "Dirichlet value g on the border", source="Alg. 1 line 21: 0", ge=0, le=1
    )
    side: float = param(
        1.0,
        "weight of each U^2 side output's data term (deep supervision)",
        source="Sec. 5 Case 4 item 4 (deep supervision); weight 1 as U^2-Net's side losses",
        ge=0,
    )
    residual: str = param(
        "alg1",
        "alg1 (kappa F(u) - f(u), Alg. 1 line 16) or euler (eq. 4, implicit step from X0)",
        source="Alg. 1 line 16 (the paper's algorithm); euler: our reading of eq. 4",
        choices=RESIDUALS,
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
        model: ``f_theta`` for Algorithm 1's residual (``weights.residual == "alg1"``).
        ic_weight: optional ``w_IC(p) >= 0`` broadcastable to ``u_hat`` (eq. 14).
    """
    w = weights or LossConfig()
    dims: dict[str, int] = {}
    for name, t in (("u_hat", u_hat), ("reference", reference), ("x0", x0)):
        check_tensor(t, "N C H W", name=name, dims=dims, dtype="float", finite=True)
    r = pinn_residual(u_hat, x0, prior, mode=w.residual, model=model)
    pde = (r * r).mean()  # eq. 17
    perc = (u_hat - reference).abs().mean()  # eq. 12 with phi = identity (Alg. 1 line 23)
    data = F.mse_loss(u_hat, reference)  # eq. 13
    sq = (u_hat - x0) ** 2
    if ic_weight is not None:
        check_tensor(ic_weight, name="ic_weight", nonneg=True)
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
    check_choice(kind, "noise kind", NOISES)
    check_choice(domain, "speckle domain", ("intensity", "amplitude"))
    check_tensor(x, name="image", dtype="float", finite=True, nonempty=True)
    check_scalar(level, "noise level", gt=0)
    if kind != "awgn":
        check_tensor(x, name=f"image ({kind} noise)", nonneg=True)
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
# backbones: U^2-Net and its residual U-blocks (Sec. 5, Cases 3-4), the PINN model, DnCNN-S
# ---------------------------------------------------------------------------------------


class ConvBNReLU(nn.Module):
    """3x3 conv (dilation ``d``, same size), BatchNorm, ReLU: U^2-Net's REBNCONV."""

    def __init__(self, in_ch: int, out_ch: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=dilation, dilation=dilation)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _resize_to(x: Tensor, ref: Tensor) -> Tensor:
    """Bilinear upsampling of ``x`` to ``ref``'s spatial size (U^2-Net's ``_upsample_like``)."""
    if x.shape[-2:] == ref.shape[-2:]:
        return x
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


class RSU(nn.Module):
    """The residual U-block RSU-L of U^2-Net (Qin et al. 2020), "nested U^2 blocks" (Alg. 1).

    ``h_in = conv(x)`` (``in -> out``); an encoder of ``L`` convs (``out -> mid``, then
    ``mid -> mid``) with a 2x max-pool before each of convs 2 .. L-1 and a dilation-2 conv at
    the bottom; a decoder of ``L - 1`` convs on ``cat(up(d), e_i)`` back to ``out`` channels;
    the block returns ``U(h_in) + h_in``. ``dilated=True`` is RSU-LF: no pooling, dilations
    ``1, 2, 4, ..., 2^(L-1)`` (encoder) and mirrored in the decoder, for the coarse stages.

    Shapes: ``(N, in_ch, H, W) -> (N, out_ch, H, W)``; pooling uses ``ceil_mode`` and the
    decoder upsamples to each skip's size, so any ``H, W`` works (see :attr:`pools`).
    """

    def __init__(
        self, height: int, in_ch: int, mid_ch: int, out_ch: int, *, dilated: bool = False
    ) -> None:
        super().__init__()
        check_int(height, "RSU height", ge=2)
        for v, n in ((in_ch, "in_ch"), (mid_ch, "mid_ch"), (out_ch, "out_ch")):
            check_int(v, n, ge=1)
        self.height, self.dilated = height, dilated
        self.in_channels, self.out_channels = in_ch, out_ch
        self.conv_in = ConvBNReLU(in_ch, out_ch)
        self.enc = nn.ModuleList()
        for i in range(height):
            dil = 2**i if dilated else (2 if i == height - 1 else 1)
            self.enc.append(ConvBNReLU(out_ch if i == 0 else mid_ch, mid_ch, dil))
        self.dec = nn.ModuleList()
        for i in range(height - 2, -1, -1):  # the skip level each decoder conv joins
            dil = 2**i if dilated else 1
            self.dec.append(ConvBNReLU(2 * mid_ch, out_ch if i == 0 else mid_ch, dil))
        self.pool = nn.MaxPool2d(2, ceil_mode=True)

    @property
    def pools(self) -> int:
        """2x downsamplings inside the block (``L - 2``; ``0`` for RSU-LF)."""
        return 0 if self.dilated else self.height - 2

    def forward(self, x: Tensor) -> Tensor:
        check_tensor(x, "N C H W", name="RSU input", dtype="float")
        h_in = self.conv_in(x)
        feats: list[Tensor] = []
        h = h_in
        for i, conv in enumerate(self.enc):
            if not self.dilated and 0 < i < self.height - 1:
                h = self.pool(h)
            h = conv(h)
            feats.append(h)
        d = feats[-1]
        for j, conv in enumerate(self.dec):
            skip = feats[self.height - 2 - j]
            d = conv(torch.cat([_resize_to(d, skip), skip], dim=1))
        return d + h_in


class U2Net(nn.Module):
    """U^2-Net (Case 3) and, with ``stage_sum``, the ResU^2-Net of Case 4.

    Encoder: stages ``RSU-h_1 .. RSU-h_k`` (``heights``) then ``dilated`` RSU-4F stages, a 2x
    max-pool between stages. Decoder: stage ``i`` (deepest first) is the same RSU type on
    ``cat(up(d_{i+1}), e_i)``, with ``widths[max(i - 1, 0)]`` output channels (U^2-Net's
    channel plan) and ``mid[i]`` middle channels (U^2-Net's first decoder stage uses half of
    ``mid[0]``; ours keeps ``mid[0]``: +1% parameters). ``stage_sum`` adds ``e_i``
    (1x1-projected if the widths differ) to the decoder output ``d_i``: Case 4's
    "element-wise summation between encoder and decoder outputs". Side outputs: a 3x3
    conv to ``out_channels`` on each ``d_i`` and on the deepest encoder stage, upsampled
    to the input; a 1x1 conv fuses them into ``d0``.

    Args:
        widths: output channels of each stage (``len(heights) + dilated`` of them).
        mid: middle channels of each stage's RSU.

    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H, W)`` (logits ``d0``);
    :meth:`forward_sides` returns ``[d0, d1, ..., d_n]``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        heights: Sequence[int] = (7, 6, 5, 4),
        dilated: int = 2,
        widths: Sequence[int] = (64, 128, 256, 512, 512, 512),
        mid: Sequence[int] = (32, 32, 64, 128, 256, 256),
        stage_sum: bool = False,
    ) -> None:
        super().__init__()
        heights, widths, mid = tuple(heights), tuple(widths), tuple(mid)
        check_int(dilated, "dilated stages", ge=0)
        n = len(heights) + dilated
        if n < 2 or len(widths) != n or len(mid) != n:
            raise InputError(
                f"U2Net needs >= 2 stages and one width and mid per stage: heights={heights}, "
                f"dilated={dilated}, widths={widths}, mid={mid}"
            )
        kinds = [(int(h), False) for h in heights] + [(4, True)] * dilated
        self.kinds = kinds
        self.in_channels, self.out_channels = in_channels, out_channels
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.encoder = nn.ModuleList()
        c = in_channels
        for (h, f), w, m in zip(kinds, widths, mid, strict=True):
            self.encoder.append(RSU(h, c, m, w, dilated=f))
            c = w
        self.decoder = nn.ModuleList()
        self.projections = nn.ModuleList()
        dec_out: list[int] = []
        below = widths[-1]
        for i in range(n - 2, -1, -1):
            h, f = kinds[i]
            out = widths[max(i - 1, 0)]
            self.decoder.append(RSU(h, below + widths[i], mid[i], out, dilated=f))
            proj: nn.Module = nn.Identity() if widths[i] == out else nn.Conv2d(widths[i], out, 1)
            self.projections.append(proj if stage_sum else nn.Identity())
            dec_out.append(out)
            below = out
        self.stage_sum = stage_sum
        # side outputs: decoder stages 1 .. n-1 (shallowest first), then the deepest encoder
        side_in = dec_out[::-1] + [widths[-1]]
        self.sides = nn.ModuleList(nn.Conv2d(ci, out_channels, 3, padding=1) for ci in side_in)
        self.fuse = nn.Conv2d(n * out_channels, out_channels, 1)

    @property
    def depth(self) -> int:
        """The most 2x downsamplings any path takes (stage pools + the RSU's own)."""
        return max(i + (0 if f else h - 2) for i, (h, f) in enumerate(self.kinds))

    def forward_sides(self, x: Tensor) -> list[Tensor]:
        """``[d0, d1, ..., d_n]``: the fused logits and every side output, at input size."""
        check_tensor(x, "N C H W", name="U2Net input", dtype="float")
        if x.shape[1] != self.in_channels:
            raise InputError(f"U2Net expects {self.in_channels} channels, got {describe(x)}")
        k = self.depth
        deepest = math.ceil(x.shape[-2] / 2**k) * math.ceil(x.shape[-1] / 2**k)
        if self.training and x.shape[0] * deepest < 2:
            raise InputError(
                f"U2Net: with batch {x.shape[0]} the input must exceed {2**k} px on a side "
                f"(its deepest level is {2**k}x smaller; BatchNorm needs 2 values), "
                f"got {describe(x)}"
            )
        enc: list[Tensor] = []
        h = x
        for i, stage in enumerate(self.encoder):
            if i > 0:
                h = self.pool(h)
            h = stage(h)
            enc.append(h)
        d = enc[-1]
        decoded: list[Tensor] = []
        for j, (stage, proj) in enumerate(zip(self.decoder, self.projections, strict=True)):
            e = enc[len(enc) - 2 - j]
            d = stage(torch.cat([_resize_to(d, e), e], dim=1))
            if self.stage_sum:
                d = d + proj(e)
            decoded.append(d)
        feats = decoded[::-1] + [enc[-1]]
        sides = [_resize_to(conv(f), x) for conv, f in zip(self.sides, feats, strict=True)]
        return [self.fuse(torch.cat(sides, dim=1)), *sides]

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_sides(x)[0]


class PinnDenoiser(nn.Module, PretrainedModel):
    """The denoising network ``f_theta`` of Algorithm 1: ``Y -> sigmoid(d0)`` (Case 3).

    ``backbone``: ``unet`` / ``resunet`` (``widths`` = the U-Net level widths, core's
    :class:`~patrec.core.segmentation.UNet`), ``u2net`` / ``resu2net`` (:class:`U2Net`;
    ``widths`` and ``mid`` per stage, ``heights`` and ``dilated`` the RSU stages).

    BatchNorm always normalises with the statistics of the batch at hand (no running
    averages): the network is fitted to one image and Algorithm 1 (line 39) returns
    ``model(Y)`` computed the same way as in training, so the saved model reproduces it.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)`` in ``(0, 1)``.
    """

    def __init__(
        self,
        backbone: str = "resu2net",
        channels: int = 1,
        widths: Sequence[int] = (64, 64, 64, 64, 64, 64),
        mid: Sequence[int] = (16, 16, 16, 16, 16, 16),
        heights: Sequence[int] = (7, 6, 5, 4),
        dilated: int = 2,
    ) -> None:
        super().__init__()
        check_choice(backbone, "backbone", BACKBONES)
        check_int(channels, "channels", ge=1)
        self.backbone_name = backbone
        self.channels = channels
        self.net: nn.Module
        if backbone in ("unet", "resunet"):
            from patrec.core.segmentation import UNet

            residual = backbone == "resunet"
            self.net = UNet(
                channels,
                channels,
                tuple(widths),
                residual=residual,
                upsample="transpose" if residual else "bilinear",
            )
        else:
            self.net = U2Net(
                channels,
                channels,
                heights=tuple(heights),
                dilated=dilated,
                widths=tuple(widths),
                mid=tuple(mid),
                stage_sum=backbone == "resu2net",
            )
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.track_running_stats = False
                m.running_mean, m.running_var, m.num_batches_tracked = None, None, None

    def forward_all(self, y: Tensor) -> list[Tensor]:
        """``[sigmoid(d0), sigmoid(d1), ...]`` (U^2 backbones) or ``[sigmoid(out)]``."""
        check_tensor(y, "N C H W", name="noisy", dtype="float")
        if isinstance(self.net, U2Net):
            return [torch.sigmoid(d) for d in self.net.forward_sides(y)]
        return [torch.sigmoid(self.net(y))]

    def forward(self, y: Tensor) -> Tensor:
        if isinstance(self.net, U2Net):
            return torch.sigmoid(self.net(y))
        return torch.sigmoid(self.net(check_tensor(y, "N C H W", name="noisy", dtype="float")))


class DnCNN(nn.Module, PretrainedModel):
    """DnCNN-S (Zhang et al., TIP 2017), the deep baseline of Table 6.

    ``depth`` 3x3 conv layers of ``features`` channels: conv + ReLU, ``depth - 2`` x
    (conv + BN + ReLU), conv. Residual learning: the body predicts the noise ``R(y)`` and
    the denoised image is ``y - R(y)``; trained with ``1/2 ||R(y) - (y - x)||^2``.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int = 1, depth: int = 17, features: int = 64) -> None:
        super().__init__()
        check_int(channels, "channels", ge=1)
        check_int(depth, "depth", ge=2)
        check_int(features, "features", ge=1)
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [
                nn.Conv2d(features, features, 3, padding=1, bias=False),
                nn.BatchNorm2d(features),
                nn.ReLU(),
            ]
        layers.append(nn.Conv2d(features, channels, 3, padding=1, bias=False))
        self.body = nn.Sequential(*layers)
        self.channels, self.depth = channels, depth

    def residual(self, y: Tensor) -> Tensor:
        """The predicted noise ``R(y)``."""
        check_tensor(y, "N C H W", name="noisy", dtype="float")
        if y.shape[1] != self.channels:
            raise InputError(f"DnCNN expects {self.channels} channels, got {describe(y)}")
        out: Tensor = self.body(y)
        return out

    def forward(self, y: Tensor) -> Tensor:
        return y - self.residual(y)


# ---------------------------------------------------------------------------------------
# metrics: PSNR / SSIM (Table 4), ENL / CNR (Table 5)
# ---------------------------------------------------------------------------------------


def _to_hwc(x: np.ndarray | Tensor) -> np.ndarray:
    """An image as a float64 ``(H, W)`` or ``(H, W, C)`` array (torch ``(C, H, W)`` moved)."""
    if isinstance(x, Tensor):
        x = x.detach().cpu().double().numpy()
        if x.ndim == 3:
            x = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (2, 3):
        raise InputError(f"image must be (H, W) or (H, W, C), got {describe(x)}")
    return x


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


# the variance of 8-bit quantisation, (1/255)^2 / 12: a flat region cannot be resolved below it
VAR_FLOOR = (1.0 / 255.0) ** 2 / 12.0


def enl(region: np.ndarray | Tensor) -> float:
    """Equivalent number of looks of a homogeneous region: ``ENL = mu^2 / sigma^2`` (Table 5).

    ``sigma^2`` is the population variance, floored at :data:`VAR_FLOOR` (8-bit
    quantisation) so that a perfectly flat output scores a large finite number.
    """
    r = _region(region, "region")
    return float(r.mean() ** 2 / max(float(r.var()), VAR_FLOOR))


def cnr(target: np.ndarray | Tensor, background: np.ndarray | Tensor) -> float:
    """Contrast-to-noise ratio in dB (Table 5):
    ``CNR = 20 log10(|mu_t - mu_b| / sqrt(sigma_t^2 + sigma_b^2))``.

    The paper gives CNR in dB without its formula; ours is the amplitude ratio in dB
    (as PSNR), variances floored as in :func:`enl`, a zero contrast floored at ``1e-12``.
    """
    t, b = _region(target, "target"), _region(background, "background")
    noise = math.sqrt(max(float(t.var()) + float(b.var()), VAR_FLOOR))
    return float(20.0 * math.log10(max(abs(float(t.mean()) - float(b.mean())), 1e-12) / noise))


def _region(x: np.ndarray | Tensor, name: str) -> np.ndarray:
    arr = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, float)
    check_tensor(arr, name=name, array=True, finite=True, nonempty=True)
    return arr


@dataclass(frozen=True)
class SpeckleRegions:
    """Windows (top-left row, col; side ``size``) where ENL and CNR are measured."""

    size: int
    flat: tuple[tuple[int, int], ...]
    target: tuple[int, int]
    background: tuple[int, int]


def _gray(image: np.ndarray | Tensor) -> np.ndarray:
    x = _to_hwc(image)
    return x.mean(axis=-1) if x.ndim == 3 else x


def speckle_regions(
    clean: np.ndarray | Tensor, size: int, *, n_flat: int = 3, fraction: float = 0.25
) -> SpeckleRegions:
    """Choose, on the clean image, where ENL and CNR are measured (the paper does not say).

    Windows of ``size x size`` on a grid of stride ``size // 2`` are ranked by their variance
    in the clean image (colour: the channel mean). ENL uses the ``n_flat`` flattest windows
    that do not overlap; CNR compares, among the flattest ``fraction`` of all windows, the
    brightest (target) with the darkest (background). The same windows score every method.
    """
    g = _gray(clean)
    check_int(size, "window size", ge=2)
    check_int(n_flat, "n_flat", ge=1)
    check_scalar(fraction, "fraction", gt=0, le=1)
    h, w = g.shape
    if size > min(h, w) // 2:
        raise InputError(f"window size {size} must be <= half the image side, got {g.shape}")
    step = max(size // 2, 1)
    cand = [  # variances rounded to 1e-12: float noise must not rank equally flat windows
        (round(float(g[r : r + size, c : c + size].var()), 12), r, c)
        for r in range(0, h - size + 1, step)
        for c in range(0, w - size + 1, step)
    ]
    cand.sort()
    flat: list[tuple[int, int]] = []
    for _, r, c in cand:
        if all(abs(r - r2) >= size or abs(c - c2) >= size for r2, c2 in flat):
            flat.append((r, c))
        if len(flat) == n_flat:
            break
    pool = cand[: max(2, math.ceil(fraction * len(cand)))]
    means = [(float(g[r : r + size, c : c + size].mean()), r, c) for _, r, c in pool]
    bright, dark = max(means), min(means)
    return SpeckleRegions(size, tuple(flat), bright[1:], dark[1:])


def speckle_metrics(image: np.ndarray | Tensor, regions: SpeckleRegions) -> dict[str, float]:
    """``{"enl": mean ENL over the flat windows, "cnr": CNR (dB) target vs background}``."""
    g = _gray(image)
    s = regions.size

    def win(rc: tuple[int, int]) -> np.ndarray:
        return g[rc[0] : rc[0] + s, rc[1] : rc[1] + s]

    return {
        "enl": float(np.mean([enl(win(rc)) for rc in regions.flat])),
        "cnr": cnr(win(regions.target), win(regions.background)),
    }


# ---------------------------------------------------------------------------------------
# fitting (Algorithm 1) and the DnCNN-S baseline
# ---------------------------------------------------------------------------------------


@dataclass
class ModelConfig:
    """Backbone sizes, the optimiser and Algorithm 1's loop."""

    widths: tuple[int, ...] = param(
        (32, 64, 128, 256),
        "UNet/ResUNet channels per level",
        source="Sec. 5, Case 1: 32/64/128/256",
        ge=1,
        min_len=2,
    )
    u2_heights: tuple[int, ...] = param(
        (7, 6, 5, 4),
        "RSU heights of the pooled U^2 stages (then u2_dilated RSU-4F stages)",
        source="U^2-Net (Qin et al. 2020): RSU-7, -6, -5, -4, -4F, -4F",
        ge=2,
        min_len=1,
    )
    u2_dilated: int = param(2, "RSU-4F stages after the pooled ones", source="U^2-Net: 2", ge=0)
    u2_widths: tuple[int, ...] = param(
        (64, 128, 256, 512, 512, 512),
        "U2Net stage output channels",
        source="U^2-Net (the paper gives none)",
        ge=1,
    )
    u2_mid: tuple[int, ...] = param(
        (32, 32, 64, 128, 256, 256),
        "U2Net stage middle channels",
        source="U^2-Net (the paper gives none)",
        ge=1,
    )
    resu2_widths: tuple[int, ...] = param(
        (64, 64, 64, 64, 64, 64),
        "ResU2Net stage output channels",
        source="Case 4: 'a lightweight variant of U2Net'; our choice: U^2-Net-lite's 64",
        ge=1,
    )
    resu2_mid: tuple[int, ...] = param(
        (16, 16, 16, 16, 16, 16),
        "ResU2Net stage middle channels",
        source="our choice: U^2-Net-lite's 16",
        ge=1,
    )
    lr: float = param(1e-3, "Adam learning rate", source="Sec. 5: Adam; lr not stated; ours", gt=0)
    log_every: int = param(
        100, "score the fit every this many epochs (steps)", source="Alg. 1 line 35: 100", ge=1
    )
    stop_loss: float = param(
        1e-4,
        "stop once the total loss is below this (0: never)",
        source="Sec. 5: early stopping at loss < 1e-4",
        ge=0,
    )

    def validate(self) -> None:
        n = len(self.u2_heights) + self.u2_dilated
        for name in ("u2_widths", "u2_mid", "resu2_widths", "resu2_mid"):
            if len(getattr(self, name)) != n:
                raise ConfigError(
                    f"{name}: expected {n} stages (len(u2_heights) + u2_dilated), "
                    f"got {getattr(self, name)}"
                )

    def arch(self, backbone: str, channels: int) -> dict[str, Any]:
        """The JSON-able :class:`PinnDenoiser` arguments of ``backbone``."""
        check_choice(backbone, "backbone", BACKBONES)
        kw: dict[str, Any] = {"backbone": backbone, "channels": channels}
        if backbone in ("unet", "resunet"):
            return {**kw, "widths": list(self.widths)}
        pre = "u2" if backbone == "u2net" else "resu2"
        return {
            **kw,
            "widths": list(getattr(self, f"{pre}_widths")),
            "mid": list(getattr(self, f"{pre}_mid")),
            "heights": list(self.u2_heights),
            "dilated": self.u2_dilated,
        }

    def min_size(self, backbone: str) -> tuple[int, int]:
        """``(divisor, smallest side)`` an image needs for ``backbone`` (batch of one)."""
        if backbone in ("unet", "resunet"):
            d = 2 ** (len(self.widths) - 1)
            return d, d
        kinds = [h - 2 for h in self.u2_heights] + [0] * self.u2_dilated
        return 1, 2 ** max(i + p for i, p in enumerate(kinds)) + 1


@dataclass
class FitResult:
    """One per-image fit: the denoised image ``(C, H, W)``, the epoch history, the model,
    the number of Adam steps taken and whether the early stop ended it."""

    denoised: Tensor
    history: list[dict[str, float]]
    model: PinnDenoiser
    steps: int
    stopped: bool


def fit_pinn(
    noisy: Tensor,
    clean: Tensor | None = None,
    *,
    protocol: str = "blind",
    backbone: str = "resu2net",
    model: ModelConfig | None = None,
    prior: PriorConfig | str = "zg",
    loss: LossConfig | None = None,
    train: TrainConfig | None = None,
) -> FitResult:
    """Algorithm 1 (TRAINPINN): fit a fresh :class:`PinnDenoiser` to one noisy image.

    One Adam step per epoch on eq. 10's loss (lines 30-34), ``train.epochs`` epochs at most
    (``E``), stopped after the step whose loss is below ``model.stop_loss`` (Sec. 5). With a
    U^2 backbone each side output adds ``loss.side * MSE(sigmoid(d_k), X_ref)``.

    Args:
        noisy: ``Y``, ``(C, H, W)`` (U-Nets: ``H``, ``W`` multiples of
            ``2 ** (len(widths) - 1)``; U^2-Nets: larger than ``2 ** depth``).
        clean: ``X``, same shape. Protocol ``paper``: required, and it is the reference of
            ``L_data`` and ``L_perc``. Protocol ``blind``: optional, used only to score the fit
            (``psnr``, ``ssim`` every ``model.log_every`` epochs); the reference is ``noisy``.
        train: loop settings (its ``progress`` is ignored: an epoch is one step).

    Returns:
        :class:`FitResult` with ``denoised = f_theta(Y)`` ``(C, H, W)`` (Alg. 1, line 39).
    """
    from patrec.core.train import Trainer, seed_everything

    check_choice(protocol, "protocol", PROTOCOLS)
    check_choice(backbone, "backbone", BACKBONES)
    dims: dict[str, int] = {}
    y = check_tensor(noisy, "C H W", name="noisy", dims=dims, dtype="float", finite=True)
    if clean is not None:
        check_tensor(
            clean, "C H W", name="clean", dims=dims, dtype="float", finite=protocol == "paper"
        )
    elif protocol == "paper":
        raise InputError("protocol 'paper' fits to the clean image: pass clean=")
    p = _as_prior(prior)
    lcfg = validate_config(loss or LossConfig())
    mcfg = validate_config(model or ModelConfig())
    tcfg = dataclasses.replace(train or TrainConfig(epochs=500), progress=False)
    div, least = mcfg.min_size(backbone)
    h, w = y.shape[-2:]
    if h % div or w % div or min(h, w) < least:
        raise InputError(
            f"noisy: {backbone} needs H, W multiples of {div} and >= {least}, got {describe(y)}"
        )
    seed_everything(tcfg.seed, tcfg.deterministic)
    net = PinnDenoiser(**mcfg.arch(backbone, int(y.shape[0])))
    opt = torch.optim.Adam(net.parameters(), lr=mcfg.lr)
    y4 = y.unsqueeze(0).float()
    ref_cpu = (clean if protocol == "paper" else y).unsqueeze(0).float()  # type: ignore[union-attr]

    def step(tr: Trainer, batch: None) -> dict[str, Tensor]:
        yy, ref = y4.to(tr.device), ref_cpu.to(tr.device)
        f: PinnDenoiser = tr.unwrapped_model  # type: ignore[assignment]
        outs = f.forward_all(yy)
        u_hat = outs[0]
        terms = total_loss(
            u_hat,
            ref,
            yy,
            p,
            lcfg,
            model=f if lcfg.residual == "alg1" else None,
        )
        loss_t = terms["loss"]
        if len(outs) > 1 and lcfg.side > 0:  # deep supervision of the side outputs (Case 4)
            side = sum((F.mse_loss(o, ref) for o in outs[1:]), torch.zeros((), device=yy.device))
            terms["side"] = side
            loss_t = loss_t + lcfg.side * side
        if float(loss_t.detach()) < mcfg.stop_loss:  # Sec. 5: early stop at loss < 1e-4
            tr.stop()
        return {"loss": loss_t, **{k: v.detach() for k, v in terms.items() if k != "loss"}}

    def evaluate(tr: Trainer) -> dict[str, float]:
        e = tr.state.epoch + 1
        if clean is None or not (e % mcfg.log_every == 0 or e == tcfg.epochs or tr.state.stopped):
            return {}
        return score(tr.model(y4.to(tr.device))[0], clean)

    trainer = Trainer(
        net, opt, None, step, tcfg, eval_fn=evaluate, desc=f"{backbone}-{p.name}-{protocol}"
    )
    history = trainer.fit()
    trainer.close()
    fitted: PinnDenoiser = trainer.unwrapped_model  # type: ignore[assignment]
    fitted.eval()
    with torch.no_grad():
        denoised = fitted(y4.to(trainer.device))[0].cpu()
    return FitResult(denoised, history, fitted, trainer.state.global_step, trainer.state.stopped)


@dataclass
class DnCNNConfig:
    """DnCNN-S (Table 6's deep baseline), trained in the run on other embedded images."""

    depth: int = param(17, "conv layers", source="DnCNN-S (Zhang et al. 2017): 17", ge=2)
    features: int = param(64, "channels of the hidden layers", source="DnCNN: 64", ge=1)
    patch: int = param(40, "training patch side", source="DnCNN-S: 40x40 patches", ge=4)
    patches: int = param(
        8192,
        "training patches (random crops, 8 flips/rotations)",
        source="DnCNN: 128 x 1600 patches from 400 images; ours: fewer (8 images)",
        ge=1,
    )
    image_size: int = param(
        256, "training images are resized to this side", source="our choice: as the test size", ge=8
    )
    batch_size: int = param(128, "patches per Adam step", source="DnCNN: 128", ge=1)
    epochs: int = param(20, "passes over the patches", source="our choice (DnCNN: 50)", ge=1)
    lr: float = param(
        1e-3, "Adam learning rate", source="our choice (DnCNN: SGD 0.1 -> 1e-4)", gt=0
    )


def _patches(images: Sequence[np.ndarray], size: int, count: int, seed: int) -> Tensor:
    """``count`` random ``size x size`` crops ``(count, C, size, size)``, each flipped/rotated
    by one of the 8 symmetries of the square (DnCNN's augmentation)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        img = images[k % len(images)]
        a = img if img.ndim == 3 else img[..., None]
        r = int(rng.integers(0, a.shape[0] - size + 1))
        c = int(rng.integers(0, a.shape[1] - size + 1))
        crop = np.rot90(a[r : r + size, c : c + size], int(rng.integers(0, 4)))
        if rng.integers(0, 2):
            crop = crop[:, ::-1]
        out.append(np.ascontiguousarray(np.moveaxis(crop, -1, 0)))
    return torch.from_numpy(np.stack(out)).float()


def train_dncnn(
    clean_images: Sequence[np.ndarray],
    noise: str,
    level: float,
    *,
    cfg: DnCNNConfig | None = None,
    train: TrainConfig | None = None,
    domain: str = "intensity",
) -> tuple[DnCNN, list[dict[str, float]]]:
    """Train DnCNN-S for one noise model and level (DnCNN-S: a model per sigma).

    Patches of ``clean_images`` (``(H, W)`` or ``(H, W, C)`` in ``[0, 1]``) get one noise draw
    each (:func:`add_noise`, seeded by ``train.seed``); loss ``1/2 MSE(R(y), y - x)``.
    """
    from torch.utils.data import TensorDataset

    from patrec.core.train import Trainer, seed_everything

    c = validate_config(cfg or DnCNNConfig())
    if not clean_images:
        raise InputError("train_dncnn: no training images")
    imgs = [_to_hwc(i) for i in clean_images]
    if min(min(i.shape[:2]) for i in imgs) < c.patch:
        raise InputError(f"train_dncnn: every image must be >= the patch side {c.patch}")
    base = train or TrainConfig()
    tcfg = dataclasses.replace(
        base, epochs=c.epochs, batch_size=c.batch_size, progress=False, checkpoint_every=0
    )
    x = _patches(imgs, c.patch, c.patches, tcfg.seed)
    y = add_noise(x, noise, level, seed=10**6 + tcfg.seed, domain=domain).float()
    seed_everything(tcfg.seed, tcfg.deterministic)
    model = DnCNN(int(x.shape[1]), c.depth, c.features)
    opt = torch.optim.Adam(model.parameters(), lr=c.lr)

    def step(tr: Trainer, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        yb, xb = batch
        r = yb - tr.model(yb)  # R(y), the predicted noise
        return {"loss": 0.5 * F.mse_loss(r, yb - xb)}  # DnCNN eq. 1

    trainer = Trainer(model, opt, TensorDataset(y, x), step, tcfg, desc="dncnn-s")
    history = trainer.fit()
    trainer.close()
    fitted: DnCNN = trainer.unwrapped_model  # type: ignore[assignment]
    fitted.eval()
    return fitted, history


# ---------------------------------------------------------------------------------------
# classical baselines, data
# ---------------------------------------------------------------------------------------


def classical_denoise(
    noisy: np.ndarray, name: str, *, sigma: float | None = None, **kw: float
) -> np.ndarray:
    """A classical baseline on ``(H, W)`` or ``(H, W, C)`` images.

    ``gaussian`` (``skimage.filters.gaussian``, ``sigma`` = 1 px), ``tv``
    (``denoise_tv_chambolle``, ``weight`` = 0.1), ``nlm`` (``denoise_nl_means``, ``h = 0.8
    sigma``, 5x5 patches, distance 6) or ``bm3d`` (the ``bm3d`` package, all stages, one
    thread). ``sigma``: the noise standard deviation (the known AWGN sigma); ``None``:
    estimated with :func:`estimate_noise_sigma`.
    """
    from skimage.filters import gaussian
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

    check_choice(name, "classical baseline", CLASSICAL)
    x = _to_hwc(noisy)
    check_tensor(x, name="noisy", array=True, finite=True)
    ch = -1 if x.ndim == 3 else None
    if name == "gaussian":
        return np.asarray(gaussian(x, sigma=kw.get("sigma_px", 1.0), channel_axis=ch))
    if name == "tv":
        return np.asarray(denoise_tv_chambolle(x, weight=kw.get("weight", 0.1), channel_axis=ch))
    sig = estimate_noise_sigma(x) if sigma is None else check_scalar(sigma, "sigma", gt=0)
    if name == "bm3d":
        import bm3d  # type: ignore[import-untyped]

        prof = bm3d.BM3DProfile()
        prof.num_threads = 1  # the package's outputs vary slightly with several threads
        fn = bm3d.bm3d_rgb if x.ndim == 3 else bm3d.bm3d
        return np.asarray(fn(x, sig, profile=prof), dtype=np.float64)
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
    does with a Daubechies wavelet, without PyWavelets).

    ``(H, W)`` or ``(H, W, C)`` (channels averaged) -> sigma.
    """
    x = _to_hwc(image)
    x = x if x.ndim == 3 else x[..., None]
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    if h < 2 or w < 2:
        raise InputError(f"estimate_noise_sigma: image too small, got {describe(x)}")
    x = x[:h, :w]
    hh = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2
    return float(np.mean(np.median(np.abs(hh), axis=(0, 1)) / 0.6745))


IMAGES = (
    "camera",
    "astronaut",
    "coffee",
    "moon",
    "chelsea",
    "coins",
    "brick",
    "grass",
    "gravel",
    "page",
    "text",
    "rocket",
    "clock",
    "immunohistochemistry",
)


@functools.lru_cache(maxsize=64)
def _load_image(name: str, size: int, gray: bool) -> np.ndarray:
    from skimage import data as skdata
    from skimage.color import gray2rgb, rgb2gray
    from skimage.transform import resize

    img = np.asarray(getattr(skdata, name)(), dtype=np.float64)
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
    out = np.clip(img, 0.0, 1.0)
    out.setflags(write=False)
    return out


def load_images(names: Sequence[str], size: int = 64, gray: bool = True) -> list[np.ndarray]:
    """Real scikit-image images: centre square crop, resized to ``size``, floats in ``[0, 1]``.

    Returns ``(size, size)`` arrays (``gray``) or ``(size, size, 3)``.
    """
    check_int(size, "image size", ge=8)
    for n in names:
        check_choice(n, "image", IMAGES)
    return [np.array(_load_image(n, size, gray)) for n in names]


# ---------------------------------------------------------------------------------------
# config, recipe
# ---------------------------------------------------------------------------------------


@dataclass
class DataConfig:
    """Images, noise and where ENL / CNR are measured."""

    images: tuple[str, ...] = param(
        ("camera", "moon", "astronaut", "coffee"),
        "scikit-image test images",
        source="the paper's RESISC/AID/BSD68 are not embedded; our choice: skimage.data",
        choices=IMAGES,
        min_len=1,
    )
    train_images: tuple[str, ...] = param(
        ("chelsea", "coins", "brick", "rocket", "clock", "grass", "gravel", "page"),
        "scikit-image images DnCNN-S is trained on (disjoint from images)",
        source="DnCNN trains on 400 BSD images; our choice: the other embedded images",
        choices=IMAGES,
        min_len=1,
    )
    size: int = param(256, "centre crop resized to size x size", source="Table 3: 256x256", ge=8)
    gray: bool = param(True, "grey-level images (False: RGB)")
    noise: str = param(
        "speckle", "awgn, poisson_gaussian or speckle", source="Sec. 7, Table 4", choices=NOISES
    )
    level: float = param(
        1.0,
        "sigma (awgn, 8-bit), lambda (poisson_gaussian) or looks L (speckle)",
        source="Sec. 3: sigma 15/25/50, lambda 1/4/8, L 1/4/8; Table 4: Rayleigh, L = 1",
        gt=0,
    )
    speckle_domain: str = param(
        "amplitude",
        "intensity (Gamma) or amplitude (Nakagami/Rayleigh)",
        source="Sec. 7",
        choices=("intensity", "amplitude"),
    )
    window: int = param(
        32,
        "side of the ENL / CNR windows (see speckle_regions)",
        source="not stated; our choice: 1/8 of the image side",
        ge=2,
    )


@dataclass
class PinnDenoiseConfig:
    """Config of the PINN-PDE denoising comparison (:func:`recipe`)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    dncnn: DnCNNConfig = field(default_factory=DnCNNConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=500, checkpoint_every=0, progress=False)
    )
    variants: tuple[str, ...] = param(
        ("resu2net-zg-paper",),
        "PINN runs as backbone-prior-protocol[-residual] (e.g. resunet-zg-blind-euler); "
        "the first is the method, the reference of every comparison",
        source="Table 4: every backbone x prior; Alg. 1's main procedure: ResU2Net (ZG)",
        min_len=1,
    )
    baselines: tuple[str, ...] = param(
        BASELINES, "gaussian, tv, nlm, bm3d (classical) and dncnn-s", choices=BASELINES
    )
    seeds: tuple[int, ...] = param(
        (0, 1, 2), "noise draw and network initialisation seeds", min_len=1
    )
    timing_repeats: int = param(1, "timed repeats of each classical filter and DnCNN pass", ge=1)

    def validate(self) -> None:
        parsed = [_parse_variant(v) for v in self.variants]
        for what, items in (("variants", self.variants), ("baselines", self.baselines)):
            if len(set(items)) != len(items):
                raise ConfigError(f"{what}: each name once, got {items}")
        if len(set(self.data.images)) != len(self.data.images):
            raise ConfigError(f"data.images: each image once, got {self.data.images}")
        s = self.data.size
        for b in sorted({p[0] for p in parsed}):
            div, least = self.model.min_size(b)
            if s % div or s < least:
                raise ConfigError(
                    f"data.size: {b} needs a multiple of {div} and >= {least} "
                    f"(model widths/heights), got {s}"
                )
        if self.data.window > s // 2:
            raise ConfigError(f"data.window must be <= data.size // 2 = {s // 2}")
        if "dncnn-s" in self.baselines:
            both = sorted(set(self.data.train_images) & set(self.data.images))
            if both:
                raise ConfigError(f"data.train_images: {both} are also test images")
            if self.dncnn.patch > self.dncnn.image_size:
                raise ConfigError("dncnn.patch must be <= dncnn.image_size")


def _parse_variant(v: str) -> tuple[str, str, str, str | None]:
    """``backbone-prior-protocol[-residual]`` -> its parts (``residual`` None: the config's)."""
    parts = v.split("-")
    if len(parts) not in (3, 4):
        raise ConfigError(
            f"variant {v!r}: expected backbone-prior-protocol[-residual], e.g. resu2net-zg-paper"
        )
    for val, choices, what in zip(
        parts,
        (BACKBONES, PRIORS, PROTOCOLS, RESIDUALS),
        ("backbone", "prior", "protocol", "residual"),
    ):
        if val not in choices:
            raise ConfigError(f"variant {v!r}: {what} must be one of {', '.join(choices)}")
    return parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else None


def paper_config() -> PinnDenoiseConfig:
    """Table 4's setting: 256x256 grey images, Rayleigh speckle (amplitude, ``L = 1``),
    Algorithm 1 (``E = 500`` one-step epochs, early stop at loss ``< 1e-4``, residual
    ``kappa F(u) - f(u)``), ResU2Net-ZG first (the method, Alg. 1's main procedure), then the
    other 15 backbone x prior cells of Table 4 and ResU2Net-ZG in the blind protocol;
    baselines Gaussian, TV, NLM, BM3D and DnCNN-S (17 layers)."""
    cells = [f"{b}-{p}-paper" for b in BACKBONES for p in PRIORS]
    cells.remove("resu2net-zg-paper")
    return PinnDenoiseConfig(
        variants=("resu2net-zg-paper", *cells, "resu2net-zg-blind"),
        loss=LossConfig(residual="alg1"),
        train=TrainConfig(epochs=500, checkpoint_every=0, progress=False),
    )


def smoke_config() -> PinnDenoiseConfig:
    """CPU scale: two 32x32 grey images, AWGN sigma 25 (Table 6), Alg. 1's residual, 80
    one-step epochs, two seeds; every backbone (U^2 nets with 5 stages RSU-6/5/4/4F/4F at
    widths 8-16, UNets 8-16-32), ResU2Net-ZG also blind and with the Euler residual;
    DnCNN-S at depth 7 and 16 channels, 2048 16x16 patches, 6 epochs, lr 3e-3 (our choice
    for seconds on a CPU, not DnCNN-S's 17 layers of 64)."""
    return PinnDenoiseConfig(
        data=DataConfig(images=("camera", "moon"), size=32, noise="awgn", level=25.0, window=8),
        model=ModelConfig(
            widths=(8, 16, 32),
            u2_heights=(6, 5, 4),
            u2_dilated=2,
            u2_widths=(8, 16, 16, 16, 16),
            u2_mid=(4, 8, 8, 8, 8),
            resu2_widths=(8, 8, 8, 8, 8),
            resu2_mid=(4, 4, 4, 4, 4),
            lr=1e-2,
            log_every=10,
        ),
        dncnn=DnCNNConfig(
            depth=7,
            features=16,
            patch=16,
            patches=2048,
            image_size=64,
            batch_size=32,
            epochs=6,
            lr=3e-3,
        ),
        train=TrainConfig(epochs=80, checkpoint_every=0, cpu=True, progress=False),
        variants=(
            "resu2net-zg-paper",
            "u2net-zg-paper",
            "resunet-zg-paper",
            "unet-heat-paper",
            "resu2net-zg-paper-euler",
            "resu2net-zg-blind",
        ),
        seeds=(0, 1),
    )


def _chw(img: np.ndarray) -> Tensor:
    t = torch.from_numpy(np.ascontiguousarray(img)).float()
    return t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


def _held_curve(
    histories: Sequence[Sequence[dict[str, float]]], epochs: int, every: int
) -> list[dict[str, float]]:
    """Mean PSNR over images at epochs ``every, 2 every, ..., epochs``; a fit that stopped
    early keeps its last score (its output no longer changes)."""
    grid = sorted({*range(every, epochs + 1, every), epochs})
    rows = []
    for g in grid:
        vals = []
        for hist in histories:
            logged = [h["psnr"] for h in hist if "psnr" in h and h["epoch"] <= g]
            if logged:
                vals.append(logged[-1])
        if len(vals) == len(histories):
            rows.append({"epoch": float(g), "psnr": float(np.mean(vals))})
    return rows


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
    """Denoise every test image (seeded noise draw per seed) with every PINN variant and
    baseline; compare with the method (``variants[0]``).

    Each (variant, seed) runs once through :func:`patrec.core.experiment.run_experiment`:
    a PINN variant fits every image (Algorithm 1), DnCNN-S is trained once on
    ``data.train_images`` and applied to every image, a filter runs on every image.
    Metrics per variant (mean over images, then mean ± std over seeds): ``psnr``, ``ssim``,
    ``enl``, ``cnr`` (dB), ``time_s`` (wall time per image: a whole fit for a PINN; one
    forward pass for DnCNN-S, with ``train_time_s`` apart), ``psnr_by_image``; PINNs also
    ``steps`` (Adam steps run) and ``stopped_early`` (fraction of fits the loss < 1e-4 rule
    ended). ``metrics.json`` adds ``time_ratio_vs_ours`` and the clean images' ENL / CNR.
    Plots: ``psnr.png``, ``ssim.png``, ``enl.png``, ``cnr.png``, ``psnr_by_image_by_group.png``,
    ``psnr_curves.png`` (PINN fits), ``examples.png``; ``comparison.md`` is the table.
    """
    import time

    from patrec.core.bench import time_call
    from patrec.core.experiment import Experiment, run_experiment
    from patrec.core.report import atomic_write_text

    validate_config(cfg)
    if data is not None:
        raise InputError("pinn_pde_denoise runs on embedded images (data.images); data= is unused")
    out = Path(out_dir)
    d = cfg.data
    images = load_images(d.images, d.size, d.gray)
    cleans = [_chw(img) for img in images]
    regions = [speckle_regions(img, d.window) for img in images]
    sigma = d.level / 255.0 if d.noise == "awgn" else None  # BM3D / NLM get the known sigma
    ours = cfg.variants[0]
    names = ["noisy", *cfg.variants, *cfg.baselines]

    @functools.cache
    def noisy(seed: int) -> tuple[Tensor, ...]:
        return tuple(
            add_noise(c, d.noise, d.level, seed=1000 * ii + seed, domain=d.speckle_domain)
            for ii, c in enumerate(cleans)
        )

    def measure(outs: Sequence[Tensor | np.ndarray]) -> dict[str, Any]:
        s = [score(o, img) | speckle_metrics(np.clip(_to_hwc(o), 0, 1), r)
             for o, img, r in zip(outs, images, regions, strict=True)]  # fmt: skip
        m: dict[str, Any] = {k: float(np.mean([x[k] for x in s])) for k in s[0]}
        m["psnr_by_image"] = {n: x["psnr"] for n, x in zip(d.images, s, strict=True)}
        return m

    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        ys = noisy(seed)
        res: dict[str, Any] = {}
        more: dict[str, float] = {}
        outs: list[Tensor | np.ndarray] = []
        times: list[float] = []
        if variant == "noisy":
            outs, times = list(ys), [0.0] * len(ys)
        elif variant in CLASSICAL:
            for ii, y in enumerate(ys):
                t = time_call(
                    functools.partial(classical_denoise, _to_hwc(y), variant, sigma=sigma),
                    repeats=cfg.timing_repeats,
                    warmup=1 if ii == 0 else 0,
                )
                outs.append(t.result)
                times.append(t.median)
        elif variant == "dncnn-s":
            t0 = time.perf_counter()
            net, hist = train_dncnn(
                load_images(d.train_images, cfg.dncnn.image_size, d.gray),
                d.noise,
                d.level,
                cfg=cfg.dncnn,
                train=dataclasses.replace(cfg.train, seed=seed),
                domain=d.speckle_domain,
            )
            more["train_time_s"] = time.perf_counter() - t0
            dev = next(net.parameters()).device

            def denoise(y: Tensor) -> Tensor:
                with torch.no_grad():
                    out: Tensor = net(y[None].to(dev))[0].cpu()
                return out

            for y in ys:
                t = time_call(functools.partial(denoise, y), repeats=cfg.timing_repeats)
                outs.append(t.result)
                times.append(t.median)
            res |= {"model": net, "example": ys[0][None], "history": hist}
        else:
            backbone, prior, protocol, residual = _parse_variant(variant)
            fits: list[FitResult] = []
            for y, c in zip(ys, cleans, strict=True):
                t = time_call(
                    functools.partial(
                        fit_pinn,
                        y,
                        c,
                        protocol=protocol,
                        backbone=backbone,
                        model=cfg.model,
                        prior=dataclasses.replace(cfg.prior, name=prior),
                        loss=dataclasses.replace(cfg.loss, residual=residual or cfg.loss.residual),
                        train=dataclasses.replace(cfg.train, seed=seed),
                    ),
                    repeats=1,
                    warmup=0,
                )
                fits.append(t.result)
                outs.append(t.result.denoised)
                times.append(t.median)
            more["steps"] = float(np.mean([f.steps for f in fits]))
            more["stopped_early"] = float(np.mean([f.stopped for f in fits]))
            res |= {
                "model": fits[0].model,
                "example": ys[0][None],
                "history": _held_curve(
                    [f.history for f in fits], cfg.train.epochs, cfg.model.log_every
                ),
            }
        metrics = measure(outs)
        metrics["time_s"] = float(np.mean(times))
        res["metrics"] = {**metrics, **more}
        first = outs[0] if isinstance(outs[0], Tensor) else _chw(np.asarray(outs[0]))
        res["tensors"] = {"first": first.float().contiguous()}
        return res

    clean_sp = [speckle_metrics(img, r) for img, r in zip(images, regions, strict=True)]
    extra: dict[str, Any] = {
        "images": list(d.images),
        "noise": {"kind": d.noise, "level": d.level, "domain": d.speckle_domain},
        "max_steps": cfg.train.epochs,
        "residual": cfg.loss.residual,
        "clean_speckle": {k: float(np.mean([c[k] for c in clean_sp])) for k in ("enl", "cnr")},
        "timing_note": "PINN: one whole per-image fit; filters and DnCNN-S: median of repeats",
    }

    def plots(exp: Experiment) -> list[Path]:
        rows = exp.metrics["variants"]
        t_ours = rows[ours]["time_s"]["mean"]
        extra["time_ratio_vs_ours"] = {n: rows[n]["time_s"]["mean"] / t_ours for n in names}
        lines = [
            f"| variant | PSNR (dB) | SSIM | ENL | CNR (dB) | time/image (s) | time / {ours} |",
            "|---|---|---|---|---|---|---|",
        ]
        for n in names:
            m = rows[n]
            lines.append(
                f"| {n} | {m['psnr']['mean']:.2f} ± {m['psnr']['std']:.2f} | "
                f"{m['ssim']['mean']:.3f} | {m['enl']['mean']:.3g} | {m['cnr']['mean']:.2f} | "
                f"{m['time_s']['mean']:.4g} | {extra['time_ratio_vs_ours'][n]:.3g} |"
            )
        atomic_write_text(out / "comparison.md", "\n".join(lines) + "\n")
        firsts = {n: _to_hwc(exp.results[n][0]["tensors"]["first"]) for n in names}
        classical = [b for b in cfg.baselines if b in CLASSICAL]
        best = max(classical, key=lambda n: rows[n]["psnr"]["mean"]) if classical else None
        blind = next((v for v in cfg.variants[1:] if "-blind" in v), None)
        show = [n for n in ("noisy", ours, blind, best, "dncnn-s") if n in firsts]
        grid = [(n, firsts[n], f"{score(firsts[n], images[0])['psnr']:.2f} dB") for n in show]
        grid.append(("clean", images[0], ""))
        title = f"{d.images[0]}, {d.noise} {d.level:g}, seed {cfg.seeds[0]}"
        return [_plot_grid(grid, out / "examples.png", title)]

    return run_experiment(
        out,
        method="scientific-ml/pinn_pde_denoise",
        variants=names,
        seeds=cfg.seeds,
        run_one=run_one,
        primary="psnr",
        ours=ours,
        bars=["psnr", "ssim", "enl", "cnr"],
        curves={
            "psnr": f"PINN fits: PSNR vs clean, scored every {cfg.model.log_every} epochs "
            "(x: score index; mean over images)"
        },
        labels={"psnr": "PSNR (dB)", "cnr": "CNR (dB)", "psnr_by_image": "PSNR (dB)"},
        extra=extra,
        plots=plots,
    ).metrics


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
    model="patrec.scientific_ml.pinn_pde_denoise:PinnDenoiser",
    baselines=(
        "noisy: the input itself",
        "gaussian: skimage.filters.gaussian",
        "tv: denoise_tv_chambolle",
        "nlm: denoise_nl_means",
        "bm3d: the bm3d package (Table 6)",
        "dncnn-s: DnCNN-S trained in the run on other embedded images (Table 6)",
        "the other backbone x prior cells of Table 4, the blind protocol, the Euler residual",
    ),
    status="done",
    summary=(
        "Per-image fit (Algorithm 1) of a UNet, ResUNet, U2Net or ResU2Net (nested residual "
        "U-blocks, side outputs fused, deep supervision) under eq. 10: the PDE residual of a "
        "heat, diffusion, MPMC or ZG prior (Alg. 1's kappa F(u) - f(u), or an implicit Euler "
        "step) + L1 + MSE + initial + Dirichlet boundary terms with Alg. 1's weights, early "
        "stop at loss < 1e-4; in the paper's protocol (clean image in the loss) and a blind "
        "one, against Gaussian/TV/NLM filters, BM3D and a DnCNN-S trained in the run; PSNR, "
        "SSIM, ENL, CNR and time ratios to the method (ResU2Net-ZG)."
    ),
    paper_numbers={
        "Table 4 (speckle, RESISC/AID), PSNR/SSIM": (
            "ResU2Net-ZG 42.24/0.98 (best); U2Net-ZG 30.82/0.89; ResUNet-ZG 29.90/0.87; "
            "UNet-heat 15.01/0.75"
        ),
        "Table 5, ENL/CNR (dB)": "ResU2Net-ZG 22.24/9.61; UNet-heat 8.01/2.55",
        "Table 6 (AWGN sigma 25, 10 test images), PSNR": (
            "ResU2Net-ZG 39.58 vs DnCNN-S 30.43, BM3D 29.98"
        ),
        "protocol": "Alg. 1 fits each image with its clean reference inside the loss",
    },
    measured={
        "smoke (camera+moon 32x32 grey, AWGN sigma 25, 80 one-step epochs, Alg. 1 residual, "
        "2 images x 2 seeds), PSNR dB / SSIM": (
            "noisy 20.54/0.42; ResU2Net-ZG (the method) 24.82 ± 1.42/0.73; U2Net-ZG 25.53/0.70; "
            "ResUNet-ZG 25.67/0.65; UNet-heat 22.39/0.68; ResU2Net-ZG with the Euler residual "
            "31.35 ± 0.30/0.85; ResU2Net-ZG blind 22.55/0.59; Gaussian 27.55/0.74; TV "
            "28.47/0.78; NLM 28.44/0.78; BM3D 29.01/0.81; DnCNN-S (depth 7, trained in the run) "
            "27.58/0.72"
        ),
        "what reproduces": (
            "ResU2Net-ZG beats UNet-heat (+2.4 dB, Table 4's corner cells) and Table 5's order "
            "holds (ENL 567 vs 446, CNR 14.2 vs 6.0 dB), but with Alg. 1's residual "
            "kappa F(u) - f(u) the method is 4.2 dB below BM3D and 2.8 dB below DnCNN-S, not "
            "9 dB above (Table 6), and not above U2Net/ResUNet; its fits are still rising at "
            "80 steps. With the Euler residual the same fit tops every baseline (+2.3 dB over "
            "BM3D), but only because the clean image is in its loss: blind, it gains 2 dB"
        ),
        "time per image (2 shared cores, 1 thread, load ~6-12)": (
            "ResU2Net fit 27 s, U2Net 22 s, ResUNet 6 s, UNet 4 s; BM3D 1.2 s (0.045 x the "
            "method), NLM 6 ms, DnCNN-S 4 ms per image after 36 s of training; the whole smoke "
            "run ~8 min (~2 min expected idle)"
        ),
    },
    test_overrides=(
        "seeds=0",
        "data.images=camera",
        "train.epochs=3",
        "model.log_every=3",
        "dncnn.epochs=1",
        "dncnn.patches=64",
    ),
)
