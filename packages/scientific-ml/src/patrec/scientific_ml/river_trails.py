"""Connecting the Dots: isolated trails of narrow rivers as Bézier curves (inventory 001/23).

J. Mukherjee, J.-B. Courbot. *Connecting the Dots: Isolated Trails of Detected Narrow Rivers
in Multispectral Images*. ICPR 2024.

In: an NDWI image ``y0`` (H, W) of a region where a narrow river trail is missing, and the two
endpoints ``p0``, ``pK`` of the gap (pixel coordinates ``(row, col)``). Out: a continuous,
off-the-grid curve -- a Bézier curve with a Gaussian cross-profile -- that bridges the gap,
its weight ``w`` and width ``sigma``, and the pixel mask ``x(theta) > w / 10``.

Implemented (numpy / scipy / scikit-image; no learning, nothing is trained):

- Sec. 2.1: the NDWI ``(G - NIR) / (G + NIR)`` (:func:`ndwi`) and the pre-processing of
  Alg. 1, "low frequencies suppressed, directional features enhanced through Gabor filtering"
  (:func:`preprocess`: minus a Gaussian blur, then the strongest real Gabor response over
  orientations, re-centred on its median).
- Eq. (1): ``b(t) = sum_k b_{k,K}(t) p_k`` with the Bernstein basis (:func:`bernstein`,
  :func:`bezier`).
- Eq. (2): ``x_s = w exp(-||s - b||^2 / (2 sigma^2))`` with ``||s - b|| = min_t ||s - b(t)||``
  over a dense t-grid (:func:`render_curve`); the criterion of (P_K) ``||y - x(theta)||^2``
  with its exact gradient at the minimising t of each pixel (:func:`curve_loss`).
- Alg. 1 (:func:`fit_curve`): grid search on ``p1`` for (P_3) (Fig. 2), then Metropolis-
  Hastings (coarse, global) and L-BFGS-B (scipy, refine); for k = 4..K the closest k-knot
  curve to the (k-1)-knot solution by least squares, then MH + L-BFGS-B again. ``use_mh=False``
  gives the paper's ablation "Alg. 1 with L-BFGS-B" (Table 1, Fig. 5).
- Sec. 3.1: synthetic scenes -- a random curve of varying width plus a fractional Gaussian
  field background, ``y = x + sigma_b b`` (Eq. 3) at a set SNR (Eq. 4)
  (:func:`fractional_gaussian_field`, :func:`synthetic_scene`).
- The scores of Table 1 / Fig. 5 (:func:`detection_scores`): pixel error, precision, recall,
  false-positive and false-negative rates (%), and the KL divergence between the ground
  truth and detected masks, each continuous image thresholded at ``w / 10``.

Choices where the paper is silent (each marked "not stated; our choice" in the config):
K counts *control points*: (P_k) has ``p_0 .. p_{k-1}``, so (P_3) has the single free knot
``p_1`` of the grid search of Fig. 2 (Eq. 1 indexes to ``p_K``, which would give K+1 points;
Alg. 1 and Fig. 2 only fit the count-of-points reading). The MH target is
``exp(-L(theta) / T)`` with ``T = mh_temperature * L(theta_start)``, Gaussian random-walk
proposals on the free knots and on ``log sigma``, ``w`` profiled out in closed form
(``w = <y, e> / <e, e>``); the best visited state goes to L-BFGS-B. The KL divergence treats
each mask (plus ``kl_eps`` per pixel) as a probability mass over pixels: KL(truth || detected).
The fractional-field exponent, the curve-width variation and the Gabor frequency are ours.

The paper's baseline RORPO (path-opening ranking) is not in scikit-image; the stand-ins are
scikit-image's Sato and Frangi ridge filters on the same pre-processed image, thresholded --
as the paper does for RORPO ("selected to best match the result of Alg. 1") -- to keep as
many pixels as Alg. 1 with MH detects on that scene. The 20 real Landsat crops with manual
ground truth are not public; :func:`load_scenes` reads the user's own scenes from a folder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from patrec.core.checks import check_choice, check_int, check_scalar, check_tensor
from patrec.core.config import param, validate_config
from patrec.core.errors import ConfigError, DataError, InputError
from patrec.core.registry import Method

__all__ = [
    "METHOD",
    "CurveFit",
    "RiverTrailsConfig",
    "Scene",
    "bernstein",
    "bezier",
    "curve_loss",
    "detection_scores",
    "elevate_knots",
    "fit_curve",
    "fractional_gaussian_field",
    "load_scenes",
    "metropolis_hastings",
    "ndwi",
    "paper_config",
    "preprocess",
    "recipe",
    "render_curve",
    "ridge_baseline",
    "smoke_config",
    "synthetic_scene",
]

VARIANTS = ("alg1_mh", "alg1", "sato", "frangi")


# --------------------------------------------------------------------------- Sec. 2.1
def ndwi(green: np.ndarray, nir: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """NDWI = (lambda_Green - lambda_NIR) / (lambda_Green + lambda_NIR) (Sec. 2.1, [11]).

    Args:
        green, nir: reflectances (H, W), the same shape. eps: guards a zero denominator.
    Returns:
        (H, W) float array in [-1, 1] for non-negative reflectances.
    """
    dims: dict[str, int] = {}
    check_tensor(green, "H W", name="green", dims=dims, finite=True, array=True)
    check_tensor(nir, "H W", name="nir", dims=dims, finite=True, array=True)
    check_scalar(eps, "eps", gt=0)
    g, n = np.asarray(green, float), np.asarray(nir, float)
    den = g + n
    return (g - n) / np.where(np.abs(den) < eps, eps, den)


def preprocess(
    y0: np.ndarray,
    *,
    lowpass_sigma: float = 4.0,
    gabor_frequency: float = 0.15,
    n_orientations: int = 8,
) -> np.ndarray:
    """Pre-processing of Alg. 1: suppress low frequencies, enhance directions by Gabor filters.

    ``y_hp = y0 - G_{lowpass_sigma} * y0``; ``y = max_theta Re(Gabor_{f, theta} * y_hp)`` over
    ``n_orientations`` angles in [0, pi), minus its median (so the background is near 0 as
    in the model of Eq. 2).

    Args:
        y0: NDWI image (H, W).
    Returns:
        (H, W) float array.
    """
    from scipy.ndimage import gaussian_filter
    from skimage.filters import gabor

    check_tensor(y0, "H W", name="y0", finite=True, array=True)
    check_scalar(lowpass_sigma, "lowpass_sigma", gt=0)
    check_scalar(gabor_frequency, "gabor_frequency", gt=0, le=0.5)
    check_int(n_orientations, "n_orientations", ge=1)
    img = np.asarray(y0, float)
    hp = img - gaussian_filter(img, lowpass_sigma, mode="reflect")
    resp = np.stack(
        [
            gabor(hp, frequency=gabor_frequency, theta=math.pi * i / n_orientations)[0]
            for i in range(n_orientations)
        ]
    ).max(0)
    out: np.ndarray = resp - np.median(resp)
    return out


# --------------------------------------------------------------------------- Eqs. (1)-(2)
def bernstein(n_points: int, t: np.ndarray) -> np.ndarray:
    """Bernstein basis of degree ``n_points - 1`` at ``t``: (T, n_points) (Eq. 1).

    ``b_{k,n}(t) = C(n, k) t^k (1 - t)^(n - k)``, n = n_points - 1.
    """
    check_int(n_points, "n_points", ge=2)
    check_tensor(t, "T", name="t", range=(0.0, 1.0), array=True)
    n = n_points - 1
    k = np.arange(n_points)
    tt = np.asarray(t, float)[:, None]
    coef = np.array([math.comb(n, int(i)) for i in k], float)
    out: np.ndarray = coef * tt**k * (1.0 - tt) ** (n - k)
    return out


def bezier(knots: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Eq. (1): ``b(t) = sum_k b_{k,K}(t) p_k``; knots (K, 2) -> points (T, 2)."""
    check_tensor(knots, "K 2", name="knots", finite=True, array=True)
    out: np.ndarray = bernstein(len(knots), t) @ np.asarray(knots, float)
    return out


def _pixels(shape: tuple[int, int]) -> np.ndarray:
    r, c = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    return np.stack([r.ravel(), c.ravel()], 1).astype(float)


def _nearest(pix: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance from each pixel to its nearest curve sample, and that sample's index."""
    d2_min = np.empty(len(pix))
    idx = np.empty(len(pix), dtype=np.int64)
    sq_p = (pts**2).sum(1)
    step = max(1, 2_000_000 // max(len(pts), 1))
    for a in range(0, len(pix), step):
        s = pix[a : a + step]
        d2 = (s**2).sum(1)[:, None] - 2.0 * s @ pts.T + sq_p[None, :]
        j = d2.argmin(1)
        idx[a : a + step] = j
        d2_min[a : a + step] = np.maximum(d2[np.arange(len(s)), j], 0.0)
    return d2_min, idx


def render_curve(
    knots: np.ndarray,
    w: float,
    sigma: float | np.ndarray,
    shape: tuple[int, int],
    *,
    t_samples: int = 200,
) -> np.ndarray:
    """Eq. (2): ``x_s = w exp(-||s - b||^2 / (2 sigma^2))``, ``||s - b|| = min_t ||s - b(t)||``.

    Args:
        knots: control points (K, 2) in (row, col) pixel coordinates.
        w: weight (> 0). sigma: width (> 0), or one width per t-sample (T,) for a curve of
            varying width (the synthetic truth of Sec. 3.1), taken at the nearest t.
        shape: (H, W). t_samples: the dense t-grid of the min over t.
    Returns:
        (H, W) image.
    """
    check_scalar(w, "w", gt=0)
    check_int(t_samples, "t_samples", ge=2)
    h, wd = check_int(shape[0], "shape[0]", ge=1), check_int(shape[1], "shape[1]", ge=1)
    if np.ndim(sigma) == 0:
        check_scalar(float(sigma), "sigma", gt=0)
    else:
        check_tensor(sigma, (t_samples,), name="sigma", finite=True, array=True)
        if float(np.min(sigma)) <= 0:
            raise InputError("sigma must be > 0 everywhere")
    pts = bezier(knots, np.linspace(0.0, 1.0, t_samples))
    d2, idx = _nearest(_pixels((h, wd)), pts)
    sig = np.asarray(sigma, float)
    s2 = sig**2 if sig.ndim == 0 else sig[idx] ** 2
    out: np.ndarray = (w * np.exp(-d2 / (2.0 * s2))).reshape(h, wd)
    return out


def curve_loss(
    theta: np.ndarray,
    y: np.ndarray,
    p0: np.ndarray,
    p_end: np.ndarray,
    *,
    t_samples: int = 200,
) -> tuple[float, np.ndarray]:
    """The criterion of (P_K), ``||y - x(theta)||^2``, and its gradient in theta.

    ``theta = [w, sigma, p_1 (row, col), ..., p_{K-2}]`` (2 + 2 (K - 2) numbers) with the
    endpoints ``p0``, ``p_end`` fixed. The gradient is exact for the discretised min over t
    (envelope theorem: the minimising t of each pixel is held): with ``r = y - x``,
    ``dL/dw = -2 sum r e``, ``dL/dsigma = -2 sum r x d^2 / sigma^3`` and
    ``dL/dp_k = -2 sum_s r_s x_s (s - b(t*_s)) / sigma^2 * b_{k,K}(t*_s)``.
    """
    check_tensor(theta, "P", name="theta", finite=True, array=True)
    check_tensor(y, "H W", name="y", finite=True, array=True)
    check_tensor(p0, (2,), name="p0", finite=True, array=True)
    check_tensor(p_end, (2,), name="p_end", finite=True, array=True)
    if len(theta) < 2 or len(theta) % 2:
        raise InputError(f"theta must hold w, sigma and (row, col) pairs, got {len(theta)}")
    w, sigma = float(theta[0]), float(theta[1])
    if w <= 0 or sigma <= 0:
        raise InputError(f"w and sigma must be > 0, got {w}, {sigma}")
    knots = np.vstack([p0, np.reshape(theta[2:], (-1, 2)), p_end]).astype(float)
    t = np.linspace(0.0, 1.0, t_samples)
    basis = bernstein(len(knots), t)
    pts = basis @ knots
    pix = _pixels(y.shape)
    d2, idx = _nearest(pix, pts)
    e = np.exp(-d2 / (2.0 * sigma**2))
    x = w * e
    r = np.asarray(y, float).ravel() - x
    loss = float(r @ r)
    grad = np.empty_like(np.asarray(theta, float))
    grad[0] = -2.0 * float(r @ e)
    grad[1] = -2.0 * float(r @ (x * d2)) / sigma**3
    g_b = (-2.0 * r * x / sigma**2)[:, None] * (pix - pts[idx])  # dL/db(t*) per pixel
    g_knots = basis[idx].T @ g_b  # (K, 2)
    grad[2:] = g_knots[1:-1].ravel()
    return loss, grad


# --------------------------------------------------------------------------- Alg. 1
@dataclass
class CurveFit:
    """A fitted curve: control points (K, 2) incl. the endpoints, weight and width."""

    knots: np.ndarray
    w: float
    sigma: float
    loss: float
    history: list[dict[str, float]] = field(default_factory=list)

    def render(self, shape: tuple[int, int], t_samples: int = 200) -> np.ndarray:
        return render_curve(self.knots, self.w, self.sigma, shape, t_samples=t_samples)

    def mask(self, shape: tuple[int, int], t_samples: int = 200) -> np.ndarray:
        """The detection: the rendered curve thresholded at w / 10 (Sec. 3.1)."""
        return self.render(shape, t_samples) > self.w / 10.0

    def to_json(self) -> dict[str, Any]:
        return {"knots": self.knots.tolist(), "w": self.w, "sigma": self.sigma, "loss": self.loss}


def _theta(w: float, sigma: float, inner: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.concatenate([[w, sigma], np.asarray(inner, float).ravel()])


def _profile_w(y: np.ndarray, knots: np.ndarray, sigma: float, t_samples: int) -> float:
    e = render_curve(knots, 1.0, sigma, y.shape, t_samples=t_samples).ravel()
    return max(float(y.ravel() @ e) / max(float(e @ e), 1e-12), 1e-6)


def metropolis_hastings(
    y: np.ndarray,
    p0: np.ndarray,
    p_end: np.ndarray,
    theta: np.ndarray,
    *,
    n_iter: int,
    step: float,
    sigma_step: float = 0.1,
    temperature: float = 0.01,
    t_samples: int = 200,
    rng: np.random.Generator,
) -> tuple[np.ndarray, float, float]:
    """The coarse step of Alg. 1: random-walk Metropolis-Hastings on (P_k) [24].

    Target ``pi(theta) ∝ exp(-L(theta) / T)``, ``T = temperature * L(theta_start)``;
    proposals ``p_k' = p_k + N(0, step^2)`` for every free knot and
    ``log sigma' = log sigma + N(0, sigma_step^2)``, ``w`` profiled in closed form. Symmetric
    proposals, so the acceptance is ``min(1, exp(-(L' - L) / T))``.

    Returns:
        the best visited theta, its loss, and the acceptance rate.
    """
    check_int(n_iter, "n_iter", ge=0)
    check_scalar(step, "step", gt=0)
    check_scalar(sigma_step, "sigma_step", ge=0)
    check_scalar(temperature, "temperature", gt=0)
    cur = np.asarray(theta, float).copy()
    cur_l, _ = curve_loss(cur, y, p0, p_end, t_samples=t_samples)
    temp = temperature * max(cur_l, 1e-12)
    best, best_l, acc = cur.copy(), cur_l, 0
    for _ in range(n_iter):
        prop = cur.copy()
        prop[2:] += rng.normal(0.0, step, size=len(prop) - 2)
        prop[1] = float(np.clip(cur[1] * math.exp(rng.normal(0.0, sigma_step)), 0.3, 1e3))
        knots = np.vstack([p0, prop[2:].reshape(-1, 2), p_end])
        prop[0] = _profile_w(y, knots, prop[1], t_samples)
        pl, _ = curve_loss(prop, y, p0, p_end, t_samples=t_samples)
        if pl <= cur_l or rng.random() < math.exp(-(pl - cur_l) / temp):
            cur, cur_l = prop, pl
            acc += 1
            if cur_l < best_l:
                best, best_l = cur.copy(), cur_l
    return best, best_l, acc / max(n_iter, 1)


def _lbfgsb(
    y: np.ndarray,
    p0: np.ndarray,
    p_end: np.ndarray,
    theta: np.ndarray,
    *,
    max_iter: int,
    t_samples: int,
    sigma_max: float,
) -> tuple[np.ndarray, float]:
    from scipy.optimize import minimize

    h, wd = y.shape
    span = max(h, wd)
    bounds = [(1e-6, None), (0.3, sigma_max)] + [(-0.5 * span, 1.5 * span)] * (len(theta) - 2)
    res = minimize(
        lambda th: curve_loss(th, y, p0, p_end, t_samples=t_samples),
        theta,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter},
    )
    return np.asarray(res.x, float), float(res.fun)


def elevate_knots(knots: np.ndarray, n_points: int, *, t_samples: int = 200) -> np.ndarray:
    """Alg. 1: the closest curve with ``n_points`` control points, via least squares.

    Minimises ``sum_t ||b_new(t) - b_old(t)||^2`` over the free knots, the endpoints held.
    """
    check_tensor(knots, "K 2", name="knots", finite=True, array=True)
    check_int(n_points, "n_points", ge=2)
    t = np.linspace(0.0, 1.0, t_samples)
    target = bezier(knots, t)
    basis = bernstein(n_points, t)
    ends = np.asarray(knots, float)[[0, -1]]
    rhs = target - basis[:, [0, -1]] @ ends
    inner = np.linalg.lstsq(basis[:, 1:-1], rhs, rcond=None)[0]
    return np.vstack([ends[0], inner, ends[1]])


def fit_curve(
    y: np.ndarray,
    p0: Sequence[float] | np.ndarray,
    p_end: Sequence[float] | np.ndarray,
    *,
    n_knots: int = 15,
    use_mh: bool = True,
    grid: int = 9,
    sigma_init: float = 1.5,
    mh_iter: int = 200,
    mh_step: float = 0.05,
    mh_temperature: float = 0.01,
    lbfgs_iter: int = 100,
    t_samples: int = 200,
    seed: int = 0,
) -> CurveFit:
    """Alg. 1, the greedy curve optimisation, on a pre-processed image ``y`` (H, W).

    (P_3): grid search of ``p_1`` over ``grid x grid`` positions covering the image (w
    profiled, sigma = sigma_init; Fig. 2), then MH (if ``use_mh``) and L-BFGS-B. For
    k = 4..n_knots: :func:`elevate_knots` from the (P_{k-1}) solution, then MH + L-BFGS-B.

    Args:
        p0, p_end: the fixed endpoints (row, col). n_knots: target K (control points).
        mh_step: MH knot step as a fraction of the image size.
    """
    check_tensor(y, "H W", name="y", finite=True, array=True)
    a = check_tensor(np.asarray(p0, float), (2,), name="p0", finite=True, array=True)
    b = check_tensor(np.asarray(p_end, float), (2,), name="p_end", finite=True, array=True)
    check_int(n_knots, "n_knots", ge=3)
    check_int(grid, "grid", ge=1)
    check_scalar(sigma_init, "sigma_init", gt=0)
    check_int(mh_iter, "mh_iter", ge=0)
    check_scalar(mh_step, "mh_step", gt=0)
    check_int(lbfgs_iter, "lbfgs_iter", ge=1)
    y = np.asarray(y, float)
    h, wd = y.shape
    span = float(max(h, wd))
    rng = np.random.default_rng(seed)
    history: list[dict[str, float]] = []
    # (P_3) initialisation: grid search on p_1 (Fig. 2)
    best: tuple[float, np.ndarray, float] | None = None
    for r in np.linspace(0.0, h - 1.0, grid):
        for c in np.linspace(0.0, wd - 1.0, grid):
            knots = np.vstack([a, [r, c], b])
            w = _profile_w(y, knots, sigma_init, t_samples)
            th = _theta(w, sigma_init, [r, c])
            loss, _ = curve_loss(th, y, a, b, t_samples=t_samples)
            if best is None or loss < best[0]:
                best = (loss, th, w)
    assert best is not None
    theta = best[1]
    loss = best[0]
    history.append({"k": 3.0, "stage": 0.0, "loss": loss})
    for k in range(3, n_knots + 1):
        if k > 3:
            prev = np.vstack([a, theta[2:].reshape(-1, 2), b])
            new = elevate_knots(prev, k, t_samples=t_samples)
            theta = _theta(theta[0], theta[1], new[1:-1])
        if use_mh and mh_iter > 0:
            theta, loss, rate = metropolis_hastings(
                y,
                a,
                b,
                theta,
                n_iter=mh_iter,
                step=mh_step * span,
                temperature=mh_temperature,
                t_samples=t_samples,
                rng=rng,
            )
            history.append({"k": float(k), "stage": 1.0, "loss": loss, "accept": rate})
        theta, loss = _lbfgsb(
            y, a, b, theta, max_iter=lbfgs_iter, t_samples=t_samples, sigma_max=span / 4
        )
        history.append({"k": float(k), "stage": 2.0, "loss": loss})
    knots = np.vstack([a, theta[2:].reshape(-1, 2), b])
    return CurveFit(knots, float(theta[0]), float(theta[1]), float(loss), history)


# --------------------------------------------------------------------------- Sec. 3.1 data
def fractional_gaussian_field(
    shape: tuple[int, int], exponent: float, rng: np.random.Generator
) -> np.ndarray:
    """A fractional Gaussian field [26] by spectral synthesis: white noise filtered by |xi|^-s.

    ``b = F^-1[ |xi|^-exponent F[white] ]`` (DC removed), scaled to unit std; exponent 0 is
    white noise, larger exponents weigh low frequencies more.
    """
    h, w = check_int(shape[0], "shape[0]", ge=2), check_int(shape[1], "shape[1]", ge=2)
    check_scalar(exponent, "exponent", ge=0)
    fr = np.fft.fftfreq(h)[:, None]
    fc = np.fft.fftfreq(w)[None, :]
    rad = np.sqrt(fr**2 + fc**2)
    filt = np.zeros_like(rad)
    filt[rad > 0] = rad[rad > 0] ** (-exponent)
    field = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((h, w))) * filt))
    field -= field.mean()
    out: np.ndarray = field / max(float(field.std()), 1e-12)
    return out


@dataclass
class Scene:
    """One test image: observation ``y0`` (NDWI), true curve image ``x``, mask, endpoints."""

    y0: np.ndarray
    x: np.ndarray
    mask: np.ndarray
    p0: np.ndarray
    p_end: np.ndarray
    knots: np.ndarray | None = None
    name: str = ""


def synthetic_scene(
    size: int,
    n_knots: int,
    snr_db: float,
    *,
    seed: int,
    w: float = 1.0,
    sigma: float = 1.2,
    width_variation: float = 0.3,
    exponent: float = 1.0,
    t_samples: int = 200,
) -> Scene:
    """Sec. 3.1: a random Bézier curve of varying width plus a fractional Gaussian field.

    Endpoints on two opposite sides of the image, inner knots uniform in its central part;
    width ``sigma (1 + width_variation sin(2 pi f t + phi))`` along t. ``y = x + sigma_b b``
    (Eq. 3) with ``sigma_b = ||x|| / (||b|| 10^(SNR / 20))`` (Eq. 4). The curve and the field
    depend on ``seed`` only, so scenes of one seed differ only by the SNR. The mask is
    ``x > w / 10``.
    """
    check_int(size, "size", ge=8)
    check_int(n_knots, "n_knots", ge=2)
    check_scalar(snr_db, "snr_db")
    check_scalar(width_variation, "width_variation", ge=0, lt=1)
    rng = np.random.default_rng(seed)
    m = 0.12 * (size - 1)
    lo, hi = m, size - 1 - m
    if rng.random() < 0.5:  # left -> right
        p0 = np.array([rng.uniform(lo, hi), rng.uniform(0, m)])
        pe = np.array([rng.uniform(lo, hi), rng.uniform(size - 1 - m, size - 1)])
    else:  # top -> bottom
        p0 = np.array([rng.uniform(0, m), rng.uniform(lo, hi)])
        pe = np.array([rng.uniform(size - 1 - m, size - 1), rng.uniform(lo, hi)])
    inner = rng.uniform(lo, hi, size=(n_knots - 2, 2))
    knots = np.vstack([p0, inner, pe])
    t = np.linspace(0.0, 1.0, t_samples)
    widths = sigma * (
        1.0
        + width_variation
        * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t + rng.uniform(0, 2 * np.pi))
    )
    x = render_curve(knots, w, widths, (size, size), t_samples=t_samples)
    b = fractional_gaussian_field((size, size), exponent, rng)
    sigma_b = np.linalg.norm(x) / (np.linalg.norm(b) * 10.0 ** (snr_db / 20.0))
    return Scene(x + sigma_b * b, x, x > w / 10.0, p0, pe, knots, f"synthetic{seed}@{snr_db:g}dB")


def load_scenes(path: str | Path) -> list[Scene]:
    """The user's real scenes: ``*.npz`` files with ``green``, ``nir`` (H, W) reflectances,
    ``mask`` (H, W) manual ground truth, ``p0`` and ``p_end`` (row, col) endpoints.

    The observation is the NDWI of the two bands (Sec. 2.1). Raises DataError when the folder
    or a key is missing.
    """
    root = Path(path)
    files = sorted(root.glob("*.npz")) if root.is_dir() else []
    if not files:
        raise DataError(
            f"no scene in {root}: expected a folder of .npz files with green, nir, mask, "
            "p0, p_end (the paper's 20 Landsat crops are not public)"
        )
    scenes = []
    for f in files:
        with np.load(f) as z:
            missing = {"green", "nir", "mask", "p0", "p_end"} - set(z.files)
            if missing:
                raise DataError(f"{f}: missing {sorted(missing)}")
            mask = np.asarray(z["mask"]) > 0
            scenes.append(
                Scene(
                    ndwi(z["green"], z["nir"]),
                    mask.astype(float),
                    mask,
                    np.asarray(z["p0"], float),
                    np.asarray(z["p_end"], float),
                    None,
                    f.stem,
                )
            )
    return scenes


# --------------------------------------------------------------------------- scores, baselines
def detection_scores(truth: np.ndarray, detected: np.ndarray, kl_eps: float = 1e-3) -> dict:
    """Table 1's scores, in % except KL: error, precision, recall, FP and FN rates, KL.

    error = (FP + FN) / S; precision = TP / (TP + FP); recall = TP / (TP + FN);
    FP rate = FP / (FP + TN); FN rate = FN / (TP + FN); KL(P || Q) with P, Q the masks plus
    ``kl_eps`` per pixel, normalised to sum 1 (our reading of Sec. 3.1).
    """
    dims: dict[str, int] = {}
    check_tensor(truth, "H W", name="truth", dims=dims, array=True)
    check_tensor(detected, "H W", name="detected", dims=dims, array=True)
    check_scalar(kl_eps, "kl_eps", gt=0)
    t, d = np.asarray(truth, bool), np.asarray(detected, bool)
    tp, fp = float((t & d).sum()), float((~t & d).sum())
    fn, tn = float((t & ~d).sum()), float((~t & ~d).sum())
    p = t + kl_eps
    q = d + kl_eps
    p, q = p / p.sum(), q / q.sum()
    return {
        "error": 100.0 * (fp + fn) / t.size,
        "precision": 100.0 * tp / (tp + fp) if tp + fp else 0.0,
        "recall": 100.0 * tp / (tp + fn) if tp + fn else 0.0,
        "fp": 100.0 * fp / (fp + tn) if fp + tn else 0.0,
        "fn": 100.0 * fn / (tp + fn) if tp + fn else 0.0,
        "kl": float((p * np.log(p / q)).sum()),
    }


def ridge_baseline(
    y: np.ndarray, kind: str, sigmas: Sequence[float], n_pixels: int | None = None
) -> np.ndarray:
    """A pixel-based stand-in for RORPO: scikit-image's Sato or Frangi ridge filter, thresholded.

    Bright ridges; the ``n_pixels`` strongest responses are kept (the paper: the threshold is
    "selected to best match the result of Alg. 1"), or Otsu's threshold when not given.
    """
    from skimage.filters import frangi, sato, threshold_otsu

    check_tensor(y, "H W", name="y", finite=True, array=True)
    check_choice(kind, "kind", ("sato", "frangi"))
    fn = sato if kind == "sato" else frangi
    resp = fn(np.asarray(y, float), sigmas=list(sigmas), black_ridges=False)
    if n_pixels is None:
        return np.asarray(resp > threshold_otsu(resp))
    check_int(n_pixels, "n_pixels", ge=0)
    if n_pixels == 0:
        return np.zeros(resp.shape, bool)
    thr = np.sort(resp.ravel())[::-1][min(n_pixels, resp.size) - 1]
    return np.asarray(resp >= thr) & (resp > 0)


# --------------------------------------------------------------------------- config
@dataclass
class RiverTrailsConfig:
    """Config of the synthetic benchmark of Sec. 3.1 / Fig. 5 and of Algorithm 1."""

    image_size: int = param(
        64, "side of the synthetic images (px)", source="not stated; our choice", ge=16, le=512
    )
    true_knots: int = param(
        6,
        "control points of the random true curves",
        source="not stated (Fig. 4a); our choice",
        ge=2,
        le=30,
    )
    true_sigma: float = param(
        1.2, "mean width of the true curves (px)", source="not stated; our choice", gt=0, le=10
    )
    width_variation: float = param(
        0.3,
        "relative width variation along the true curve",
        source="Sec. 3.1: 'random curves with varying width'; amount our choice",
        ge=0,
        lt=1,
    )
    field_exponent: float = param(
        1.0,
        "fractional Gaussian field exponent s (|xi|^-s)",
        source="Sec. 3.1 [26]; value not stated, our choice",
        ge=0,
        le=3,
    )
    snr_db: tuple[float, ...] = param(
        (-10.0, -5.0, 0.0, 5.0, 10.0),
        "SNR levels (Eq. 4), one scene per seed and level",
        source="Fig. 5 / Sec. 3.1: -10 to 0 dB discussed; grid our choice",
        ge=-40,
        le=60,
        min_len=1,
    )
    n_knots: int = param(
        15, "target K (control points) of Alg. 1", source="Sec. 3.1: target K = 15", ge=3, le=30
    )
    grid: int = param(
        9,
        "grid-search positions per axis for p_1 of (P_3)",
        source="Alg. 1 / Fig. 2; size not stated, our choice",
        ge=1,
        le=64,
    )
    sigma_init: float = param(
        1.5,
        "sigma during the grid search (px)",
        source="Fig. 2: fixed w, sigma; value our choice",
        gt=0,
        le=10,
    )
    mh_iter: int = param(
        200, "MH proposals per (P_k)", source="not stated; our choice", ge=1, le=100000
    )
    mh_step: float = param(
        0.05,
        "MH knot step, fraction of the image size",
        source="not stated; our choice",
        gt=0,
        le=1,
    )
    mh_temperature: float = param(
        0.01,
        "MH temperature, fraction of the starting loss",
        source="not stated; our choice",
        gt=0,
        le=10,
    )
    lbfgs_iter: int = param(
        100, "L-BFGS-B iterations per (P_k)", source="not stated; our choice", ge=1, le=10000
    )
    t_samples: int = param(
        200, "t-grid of the min over t in Eq. 2", source="not stated; our choice", ge=10, le=5000
    )
    lowpass_sigma: float = param(
        4.0,
        "Gaussian blur removed in pre-processing (px)",
        source="Alg. 1 'low frequency suppressed'; value ours",
        gt=0,
        le=100,
    )
    gabor_frequency: float = param(
        0.15, "Gabor frequency (cycles / px)", source="Sec. 2.1 [2]; value our choice", gt=0, le=0.5
    )
    gabor_orientations: int = param(
        8, "Gabor orientations in [0, pi)", source="not stated; our choice", ge=1, le=64
    )
    ridge_sigmas: tuple[float, ...] = param(
        (1.0, 1.5, 2.0),
        "scales of the Sato/Frangi filters",
        source="our choice (near the curve widths)",
        gt=0,
        le=20,
        min_len=1,
    )
    kl_eps: float = param(
        1e-3, "per-pixel mass added before the KL", source="our choice", gt=0, le=1
    )
    variants: tuple[str, ...] = param(
        VARIANTS, "what to run (alg1_mh is the paper's method)", choices=VARIANTS, min_len=1
    )
    seeds: tuple[int, ...] = param(
        tuple(range(50)),
        "one random scene per seed",
        source="Fig. 5: 50 trials per SNR",
        ge=0,
        min_len=1,
    )

    def validate(self) -> None:
        if "alg1_mh" not in self.variants:
            raise ConfigError("variants must include alg1_mh (the paper's method)")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be distinct, got {self.seeds}")
        if len(set(self.snr_db)) != len(self.snr_db):
            raise ConfigError(f"snr_db must be distinct, got {self.snr_db}")


def paper_config() -> RiverTrailsConfig:
    """Sec. 3.1: target K = 15, 50 trials per SNR, SNR from -10 dB up (Fig. 5)."""
    return RiverTrailsConfig()


def smoke_config() -> RiverTrailsConfig:
    """CPU seconds: 40x40 images, true curves of 4 knots, K = 6, 3 SNRs, 3 seeds."""
    return RiverTrailsConfig(
        image_size=40,
        true_knots=4,
        snr_db=(-10.0, -5.0, 0.0),
        n_knots=6,
        grid=7,
        mh_iter=80,
        lbfgs_iter=50,
        t_samples=120,
        seeds=(0, 1, 2),
    )


# --------------------------------------------------------------------------- recipe
SCORES = ("error", "precision", "recall", "fp", "fn", "kl")


def _group(snr: float) -> str:
    return f"{snr:g}dB"


def _plot_example(
    scene: Scene,
    y: np.ndarray,
    fits: dict[str, dict[str, Any]],
    ridges: dict[str, np.ndarray],
    path: Path,
) -> Path:
    from patrec.core.report import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    axes[0].imshow(scene.y0, cmap="gray")
    axes[0].set_title(f"observation y0 ({scene.name})")
    axes[1].imshow(y, cmap="gray")
    axes[1].set_title("pre-processed y, true and fitted curves")
    t = np.linspace(0, 1, 200)
    if scene.knots is not None:
        b = bezier(scene.knots, t)
        axes[1].plot(b[:, 1], b[:, 0], "g-", lw=2, label="truth")
    for (name, fit), style in zip(fits.items(), ("r--", "c:")):
        b = bezier(np.asarray(fit["knots"]), t)
        axes[1].plot(b[:, 1], b[:, 0], style, lw=1.6, label=name)
    axes[1].plot(*scene.p0[::-1], "yo")
    axes[1].plot(*scene.p_end[::-1], "yo")
    axes[1].legend(loc="lower right", fontsize=7)
    overlay = np.zeros((*scene.mask.shape, 3))
    overlay[..., 1] = scene.mask
    for i, m in enumerate(ridges.values()):
        overlay[..., 0 if i == 0 else 2] = np.maximum(overlay[..., 0 if i == 0 else 2], m)
    axes[2].imshow(overlay)
    axes[2].set_title(
        "truth (green) vs " + " / ".join(f"{k} ({c})" for k, c in zip(ridges, ("red", "blue")))
    )
    for ax in axes:
        ax.set_axis_off()
    return save_figure(fig, path)


def _plot_vs_snr(rows: dict[str, dict[str, Any]], snrs: Sequence[float], path: Path) -> Path:
    from patrec.core.report import pyplot, save_figure

    plt = pyplot()
    shown = ("precision", "recall", "fp", "kl")
    fig, axes = plt.subplots(1, len(shown), figsize=(4 * len(shown), 3.4))
    for ax, key in zip(axes, shown):
        for v, m in rows.items():
            g = m.get(f"{key}_by_snr", {})
            mean = [float(g[_group(s)]["mean"]) for s in snrs]
            std = [float(g[_group(s)]["std"] or 0.0) for s in snrs]
            ax.errorbar(list(snrs), mean, yerr=std, marker="o", capsize=3, label=v)
        ax.set_xlabel("SNR (dB)")
        ax.set_title(key + (" (%)" if key != "kl" else ""))
    axes[0].legend(fontsize=7)
    fig.suptitle("scores vs SNR (Fig. 5; mean ± std over seeds)", y=1.04)
    return save_figure(fig, path)


def recipe(cfg: RiverTrailsConfig, out_dir: str | Path, *, data: object = None) -> dict:
    """Fig. 5 / Table 1 on synthetic scenes: Alg. 1 with and without MH, Sato and Frangi.

    A seed is one random curve and background field; each seed is run at every SNR of
    ``cfg.snr_db`` (the grouped ``*_by_snr`` metrics); the plain metrics are the means over
    the SNR levels. No training: ``run_one`` fits every scene of its seed. ``data``: a folder
    of real scenes (:func:`load_scenes`) replaces the synthetic ones (the ``*_by_snr``
    groups are then the scene names).
    Writes ``metrics.json``, ``recall.png``, ``example_scene.png`` and ``scores_vs_snr.png``.
    """
    from patrec.core.experiment import Experiment, run_experiment

    validate_config(cfg)
    out = Path(out_dir)
    real = load_scenes(data) if data is not None else None  # type: ignore[arg-type]
    variants = [v for v in VARIANTS if v in cfg.variants]
    cache: dict[int, list[tuple[str, Scene, np.ndarray]]] = {}

    def scenes(seed: int) -> list[tuple[str, Scene, np.ndarray]]:
        if seed not in cache:
            cache.clear()
            made = (
                [(s.name, s) for s in real]
                if real is not None
                else [
                    (
                        _group(snr),
                        synthetic_scene(
                            cfg.image_size,
                            cfg.true_knots,
                            snr,
                            seed=seed,
                            sigma=cfg.true_sigma,
                            width_variation=cfg.width_variation,
                            exponent=cfg.field_exponent,
                            t_samples=cfg.t_samples,
                        ),
                    )
                    for snr in cfg.snr_db
                ]
            )
            cache[seed] = [
                (
                    g,
                    s,
                    preprocess(
                        s.y0,
                        lowpass_sigma=cfg.lowpass_sigma,
                        gabor_frequency=cfg.gabor_frequency,
                        n_orientations=cfg.gabor_orientations,
                    ),
                )
                for g, s in made
            ]
        return cache[seed]

    def run_one(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        per: dict[str, dict[str, float]] = {}
        fits: dict[str, Any] = {}
        counts: dict[str, int] = {}
        ref: dict[str, int] = {}
        if variant in ("sato", "frangi"):
            done = run_dir.parent.parent / "alg1_mh" / f"seed{seed}" / "result.json"
            ref = json.loads(done.read_text())["detected_px"] if done.is_file() else {}
        for g, scene, y in scenes(seed):
            if variant in ("alg1_mh", "alg1"):
                fit = fit_curve(
                    y,
                    scene.p0,
                    scene.p_end,
                    n_knots=cfg.n_knots,
                    use_mh=variant == "alg1_mh",
                    grid=cfg.grid,
                    sigma_init=cfg.sigma_init,
                    mh_iter=cfg.mh_iter,
                    mh_step=cfg.mh_step,
                    mh_temperature=cfg.mh_temperature,
                    lbfgs_iter=cfg.lbfgs_iter,
                    t_samples=cfg.t_samples,
                    seed=seed,
                )
                det = fit.mask(y.shape, cfg.t_samples)
                fits[g] = fit.to_json()
            else:
                det = ridge_baseline(y, variant, cfg.ridge_sigmas, ref.get(g))
            counts[g] = int(det.sum())
            per[g] = detection_scores(scene.mask, det, cfg.kl_eps)
        metrics: dict[str, Any] = {k: float(np.mean([per[g][k] for g in per])) for k in SCORES}
        for k in SCORES:
            metrics[f"{k}_by_snr"] = {g: per[g][k] for g in per}
        return {"metrics": metrics, "detected_px": counts, "fits": fits}

    def plots(exp: Experiment) -> list[Path]:
        seed0 = cfg.seeds[0]
        items = scenes(seed0)
        g, scene, y = items[len(items) // 2]
        fits: dict[str, dict[str, Any]] = {
            v: exp.results[v][0]["fits"][g] for v in ("alg1_mh", "alg1") if v in variants
        }
        ridges: dict[str, np.ndarray] = {
            v: ridge_baseline(
                y, v, cfg.ridge_sigmas, exp.results["alg1_mh"][0]["detected_px"].get(g)
            )
            for v in ("sato", "frangi")
            if v in variants
        }
        written = [_plot_example(scene, y, fits, ridges, out / "example_scene.png")]
        if real is None:
            written.append(
                _plot_vs_snr(exp.metrics["variants"], cfg.snr_db, out / "scores_vs_snr.png")
            )
        return written

    return run_experiment(
        out,
        method="scientific-ml/river_trails",
        variants=variants,
        seeds=list(cfg.seeds),
        run_one=run_one,
        primary="recall",
        ours="alg1_mh",
        baselines=[v for v in variants if v != "alg1_mh"],
        labels={k: f"{k} (%)" for k in SCORES if k != "kl"},
        extra={
            "data": "real scenes" if real is not None else "synthetic (Sec. 3.1)",
            "snr_db": list(cfg.snr_db),
            "n_knots": cfg.n_knots,
            "note": "scores in % except kl; plain metrics: mean over the SNR levels; sato and "
            "frangi keep as many pixels as alg1_mh detects on the same scene",
        },
        plots=plots,
    ).metrics


METHOD = Method(
    name="scientific-ml/river_trails",
    title="Connecting the Dots: Isolated Trails of Detected Narrow Rivers in Multispectral Images",
    paper="001/23",
    citation=(
        "J. Mukherjee, J.-B. Courbot. Connecting the Dots: Isolated Trails of Detected Narrow "
        "Rivers in Multispectral Images. ICPR 2024."
    ),
    task="narrow-river gap completion: NDWI image + two endpoints -> a Bézier curve with a "
    "Gaussian cross-profile (weight, width, control points) and its pixel mask",
    config=RiverTrailsConfig,
    presets={"paper": paper_config, "smoke": smoke_config},
    recipe=recipe,
    model=None,  # a curve fit per image: nothing trained (listed in the contract's SOLVERS)
    baselines=(
        "alg1: Alg. 1 with L-BFGS-B only, no MH step (Table 1 / Fig. 5 ablation)",
        "sato: scikit-image Sato ridge filter, thresholded to Alg. 1's pixel count "
        "(stand-in for RORPO, Table 1)",
        "frangi: scikit-image Frangi ridge filter, thresholded likewise (stand-in for RORPO)",
    ),
    status="done",
    summary=(
        "Pre-process the NDWI image (low frequencies removed, Gabor enhancement), then fit a "
        "Bézier curve with a Gaussian profile between two fixed endpoints by a greedy "
        "schedule: grid search on p1, Metropolis-Hastings and L-BFGS-B for 3 control points, "
        "then one more knot at a time (least-squares elevation, MH, L-BFGS-B) up to K."
    ),
    paper_numbers={
        "Table 1, 20 real crops (%: error / prec / recall / FP / FN; KL)": (
            "Alg. 1 + MH 1.9 / 64.2 / 54.2 / 0.6 / 45.8; 8.0 -- Alg. 1 without MH "
            "2.4 / 51.2 / 40.8 / 0.8 / 59.2; 10.3 -- RORPO 2.3 / 55.0 / 32.5 / 0.7 / 67.5; 11.8"
        ),
        "Fig. 5, synthetic (no numbers in the text)": (
            "MH helps, most at low SNR; very low FP rate; stable between -10 and 0 dB"
        ),
    },
    measured={
        "smoke (40x40, true curves of 4 knots, K = 6, 3 seeds x {-10, -5, 0} dB; %, mean over "
        "SNRs: error / prec / recall / FP / FN; KL)": (
            "Alg. 1 + MH 4.9 / 99.1 / 65.7 / 0.10 / 34.3; 1.94 -- Alg. 1 without MH "
            "4.9 / 98.8 / 65.8 / 0.13 / 34.2; 1.94 -- Sato 11.9 / 59.7 / 40.6 / 4.2 / 59.4; "
            "3.67 -- Frangi 14.5 / 46.0 / 31.1 / 5.7 / 68.9; 4.32 (48 s on a shared 2-core CPU)"
        ),
        "smoke, per SNR (recall of Alg. 1 + MH / without MH / Sato)": (
            "-10 dB 60.6 / 61.1 / 21.4, -5 dB 65.6 / 65.8 / 42.0, 0 dB 71.0 / 70.6 / 58.3; "
            "precision of Alg. 1 stays near 99 % at every SNR (the paper: 'very low false "
            "positive rate', 'stable between -10 and 0 dB' -- both reproduce)"
        ),
        "harder (48x48, true curves of 6 knots, K = 8, 3 seeds x {-10, -5, 0} dB)": (
            "Alg. 1 + MH 95.4 / 64.1 (prec / recall), without MH 97.3 / 65.7, Sato 59.8 / 40.5, "
            "Frangi 45.2 / 30.5: the curve fit beats the ridge filters by 20-35 points, but the "
            "MH step does NOT improve on L-BFGS-B alone at this scale (the paper: +13 points "
            "of precision and recall on real images); the grid search already lands in the "
            "right basin and the final criteria agree within 0.1 %"
        ),
        "not measured": "the 20 real Landsat crops of Table 1 (not public); RORPO itself",
    },
    test_overrides=(
        "seeds=0",
        "snr_db=0",
        "image_size=24",
        "true_knots=3",
        "n_knots=4",
        "grid=4",
        "mh_iter=20",
        "lbfgs_iter=15",
        "t_samples=60",
    ),
)
