"""PINN-PDE denoising: PDE operators and residuals, noise models, eq. 10, blind protocol."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from patrec.core.errors import InputError
from patrec.core.train import TrainConfig
from patrec.scientific_ml.pinn_pde_denoise import (
    LossConfig,
    PriorConfig,
    add_noise,
    biharmonic,
    classical_denoise,
    curvature,
    diffusion_flux_div,
    estimate_noise_sigma,
    fit_pinn,
    laplacian,
    load_images,
    pde_residual,
    pde_rhs,
    pinn_residual,
    score,
    total_loss,
)

torch.set_default_dtype(torch.float32)


def _grid(n: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    y, x = torch.meshgrid(
        torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij"
    )
    return x, y


def _inner(t: torch.Tensor, k: int = 2) -> torch.Tensor:
    return t[..., k:-k, k:-k]


def _f(t: torch.Tensor) -> torch.Tensor:
    return t[None, None]


# -- operators -----------------------------------------------------------------------------


def test_heat_residual_vanishes_on_an_analytic_heat_solution():
    # u = exp(-(a^2 + b^2) t) sin(a x) cos(b y) solves u_t = Laplace u
    x, y = _grid(32)
    a, b, t = 0.15, 0.1, 3.0
    u = math.exp(-(a * a + b * b) * t) * torch.sin(a * x) * torch.cos(b * y)
    u_t = -(a * a + b * b) * u
    r = _inner(pde_residual(_f(u), _f(u_t), "heat"), 1)
    # the 5-point stencil errs by O(h^2 k^4 / 12): ~1e-3 relative
    assert float(r.abs().max()) < 2e-3 * float(u_t.abs().max())
    # and it does not vanish for a wrong time derivative
    bad = _inner(pde_residual(_f(u), _f(-u_t), "heat"), 1)
    assert float(bad.abs().max()) > 1.0 * float(u_t.abs().max())


def test_finite_differences_match_analytic_derivatives():
    x, y = _grid(32)
    u = torch.sin(0.2 * x) * torch.exp(0.05 * y)
    lap = (-0.04 + 0.0025) * u
    # 5-point error ~ k^2 / 12 relative (k = 0.2): 0.33%
    assert torch.allclose(_inner(laplacian(_f(u)))[0, 0], _inner(lap), rtol=5e-3, atol=1e-6)
    assert not torch.allclose(_inner(laplacian(_f(u)))[0, 0], _inner(lap), rtol=1e-4, atol=1e-6)
    # exact on cubics, and Laplace^2 exact on quartics, away from the border
    p = x**3 - 2 * x * y**2 + y**3
    assert torch.allclose(_inner(laplacian(_f(p)))[0, 0], _inner(6 * x - 4 * x + 6 * y), atol=1e-9)
    q = x**4 + 0.5 * (x * y) ** 2
    # Laplace(q) = 12 x^2 + y^2 + x^2; Laplace^2(q) = 24 + 2 + 2
    assert torch.allclose(_inner(biharmonic(_f(q)), 3), torch.full_like(_inner(q, 3), 28.0))


def test_biharmonic_of_low_order_polynomial_is_zero():
    x, y = _grid(20)
    p = 1.0 + 2 * x - y + 0.3 * x * y + x**2 - y**3 / 7 + x**2 * y
    assert float(_inner(biharmonic(_f(p)), 3).abs().max()) < 1e-8
    assert float(_inner(biharmonic(_f(x**4)), 3).abs().max()) > 1.0  # quartic: 24


def test_diffusion_with_constant_conductivity_is_heat():
    u = torch.rand(2, 3, 9, 11, dtype=torch.float64)
    assert torch.allclose(diffusion_flux_div(u, 0.7), 0.7 * laplacian(u), atol=1e-12)
    field = torch.full((2, 1, 9, 11), 0.7, dtype=torch.float64)
    assert torch.allclose(diffusion_flux_div(u, field), 0.7 * laplacian(u), atol=1e-12)
    # the diffusion prior with K -> inf (g = 1) is the heat prior
    wide = PriorConfig(name="diffusion", contrast=1e9)
    assert torch.allclose(pde_rhs(u, wide), pde_rhs(u, "heat"), atol=1e-9)
    zg = PriorConfig(name="zg", contrast=1e9, lambda1=1.0, lambda2=0.0)
    assert torch.allclose(pde_rhs(u, zg), laplacian(u), atol=1e-9)
    # a non-constant conductivity differs
    assert not torch.allclose(pde_rhs(u, "diffusion"), pde_rhs(u, "heat"), atol=1e-3)


@pytest.mark.parametrize("prior", ["heat", "diffusion", "mpmc", "zg"])
def test_every_prior_vanishes_on_constants_and_linear_ramps(prior):
    x, y = _grid(16)
    for u in (torch.full_like(x, 0.4), 0.01 * x - 0.02 * y + 0.3):
        rhs = pde_rhs(_f(u), prior)
        # 5 px from the border: the diffusion prior's Gaussian (sigma 1, radius 3) sees the edge
        assert float(_inner(rhs, 5).abs().max()) < 1e-10, prior
    noise = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    assert float(pde_rhs(noise, prior).abs().max()) > 1e-3


def test_curvature_of_circles_is_one_over_radius():
    x, y = _grid(64)
    r = torch.sqrt((x - 31.5) ** 2 + (y - 31.5) ** 2)
    k = curvature(_f(r), eps=1e-6)[0, 0]
    ring = (r > 10) & (r < 20)
    assert torch.allclose(k[ring], 1.0 / r[ring], rtol=0.05)


def test_pinn_residual_forms():
    u = torch.rand(1, 1, 8, 8)
    x0 = torch.rand(1, 1, 8, 8)
    p = PriorConfig(name="heat", kappa=0.3)
    r = pinn_residual(u, x0, p, mode="euler")
    assert torch.allclose(r, 0.3 * laplacian(u) - (u - x0))
    r1 = pinn_residual(u, x0, p, mode="alg1", model=lambda v: 2 * v)  # Alg. 1, line 16
    assert torch.allclose(r1, 0.3 * laplacian(u) - 2 * u)
    with pytest.raises(InputError, match="alg1"):
        pinn_residual(u, x0, p, mode="alg1")


# -- eq. 10 --------------------------------------------------------------------------------


def test_total_loss_matches_hand_computation():
    g = torch.Generator().manual_seed(0)
    u, ref, x0 = (torch.rand(1, 1, 6, 5, generator=g, dtype=torch.float64) for _ in range(3))
    w = LossConfig(pde=0.7, perc=0.1, data=1.3, ic=0.03, bc=0.02, bc_value=0.25)
    p = PriorConfig(name="heat", kappa=0.5)
    terms = total_loss(u, ref, x0, p, w)
    a = u[0, 0].numpy()
    # hand: 5-point Laplacian with replicated border
    pad = np.pad(a, 1, mode="edge")
    lap = pad[:-2, 1:-1] + pad[2:, 1:-1] + pad[1:-1, :-2] + pad[1:-1, 2:] - 4 * a
    res = 0.5 * lap - (a - x0[0, 0].numpy())
    border = np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])
    hand = {
        "pde": np.mean(res**2),
        "perc": np.mean(np.abs(a - ref[0, 0].numpy())),
        "data": np.mean((a - ref[0, 0].numpy()) ** 2),
        "ic": np.mean((a - x0[0, 0].numpy()) ** 2),
        "bc": np.mean((border - 0.25) ** 2),
    }
    assert border.size == 2 * 5 + 2 * 6 - 4
    for k, v in hand.items():
        assert float(terms[k]) == pytest.approx(v, rel=1e-10), k
    total = 0.7 * hand["pde"] + 0.1 * hand["perc"] + 1.3 * hand["data"]
    total += 0.03 * hand["ic"] + 0.02 * hand["bc"]
    assert float(terms["loss"]) == pytest.approx(total, rel=1e-10)
    # Algorithm 1's weights are the defaults
    d = LossConfig()
    assert (d.pde, d.perc, d.data, d.ic, d.bc, d.bc_value) == (1.0, 0.1, 1.0, 0.03, 0.02, 0.0)
    # eq. 14's spatial weight masks pixels out of L_IC
    mask = torch.zeros_like(u)
    assert float(total_loss(u, ref, x0, p, w, ic_weight=mask)["ic"]) == 0.0


# -- noise models --------------------------------------------------------------------------


def test_noise_models_have_the_stated_statistics():
    x = torch.full((200, 200), 0.5, dtype=torch.float64)
    a = add_noise(x, "awgn", 25, seed=1) - x
    assert float(a.mean()) == pytest.approx(0.0, abs=3e-3)
    assert float(a.var()) == pytest.approx((25 / 255) ** 2, rel=0.03)
    pg = add_noise(x, "poisson_gaussian", 4, seed=2)
    alpha = 4 / 255
    assert float(pg.mean()) == pytest.approx(0.5, abs=3e-3)
    assert float(pg.var()) == pytest.approx(alpha * 0.5 + alpha**2, rel=0.04)
    for looks in (1, 4, 8):
        n = add_noise(torch.ones(200, 200, dtype=torch.float64), "speckle", looks, seed=looks)
        assert float(n.mean()) == pytest.approx(1.0, abs=0.02)  # eq. 7: unit mean
        assert float(n.var()) == pytest.approx(1 / looks, rel=0.05)  # variance 1/L
        amp = add_noise(
            torch.ones(200, 200, dtype=torch.float64), "speckle", looks, seed=9, domain="amplitude"
        )
        assert float((amp**2).mean()) == pytest.approx(1.0, abs=0.02)  # Nakagami, Omega = 1
    ray = add_noise(torch.ones(300, 300, dtype=torch.float64), "speckle", 1, domain="amplitude")
    assert float(ray.mean()) == pytest.approx(math.sqrt(math.pi) / 2, abs=0.01)  # Rayleigh
    # seeded: same seed same draw, another seed another
    assert torch.equal(add_noise(x, "awgn", 15, seed=3), add_noise(x, "awgn", 15, seed=3))
    assert not torch.equal(add_noise(x, "awgn", 15, seed=3), add_noise(x, "awgn", 15, seed=4))


def test_noise_sigma_estimate_and_scores():
    rng = np.random.default_rng(0)
    img = load_images(["camera"], 32)[0]
    assert img.shape == (32, 32) and img.min() >= 0 and img.max() <= 1
    flat = 0.5 + 0.08 * rng.standard_normal((64, 64))
    assert estimate_noise_sigma(flat) == pytest.approx(0.08, rel=0.1)
    s = score(img + 0.1, img)
    assert s["psnr"] == pytest.approx(20.0, abs=0.5) and s["ssim"] < 1
    assert score(img, img)["ssim"] == pytest.approx(1.0)
    noisy = img + 0.1 * rng.standard_normal(img.shape)
    for name in ("gaussian", "tv", "nlm"):
        assert score(classical_denoise(noisy, name), img)["psnr"] > score(noisy, img)["psnr"]


# -- fitting and protocols -----------------------------------------------------------------

FIT = {
    "widths": (4, 8),
    "steps_per_epoch": 5,
    "lr": 1e-2,
    "train": TrainConfig(epochs=2, cpu=True, progress=False, seed=0),
}


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    clean = torch.from_numpy(load_images(["camera"], 16)[0]).float()[None]
    return add_noise(clean, "awgn", 25, seed=0), clean


def test_blind_protocol_never_reads_the_clean_image():
    noisy, clean = _pair()
    ref = fit_pinn(noisy, None, protocol="blind", prior="zg", **FIT)
    garbage = torch.rand_like(clean) * 100
    nan = torch.full_like(clean, float("nan"))
    for other in (garbage, nan):
        res = fit_pinn(noisy, other, protocol="blind", prior="zg", **FIT)
        assert torch.equal(res.denoised, ref.denoised)
    scored = fit_pinn(noisy, clean, protocol="blind", prior="zg", **FIT)
    assert torch.equal(scored.denoised, ref.denoised)
    assert math.isfinite(scored.history[-1]["psnr"]) and "psnr" not in ref.history[-1]
    # the paper's protocol does use it
    paper = fit_pinn(noisy, clean, protocol="paper", prior="zg", **FIT)
    paper_g = fit_pinn(noisy, garbage.clamp(0, 1), protocol="paper", prior="zg", **FIT)
    assert not torch.equal(paper.denoised, paper_g.denoised)
    assert paper.denoised.shape == noisy.shape
    assert float(paper.denoised.min()) >= 0 and float(paper.denoised.max()) <= 1  # sigmoid


def test_paper_protocol_fit_gains_psnr_and_alg1_residual_trains():
    noisy, clean = _pair()
    fit = dict(FIT, train=TrainConfig(epochs=3, cpu=True, progress=False))
    res = fit_pinn(noisy, clean, protocol="paper", backbone="resunet", prior="heat", **fit)
    assert res.history[-1]["psnr"] > res.history[0]["psnr"]
    assert {"train/pde", "train/perc", "train/data", "train/ic", "train/bc"} <= set(res.history[0])
    # Algorithm 1's literal residual kappa Laplace(u) - f(u) also trains (its L_PDE falls)
    alg1 = fit_pinn(
        noisy,
        clean,
        protocol="paper",
        backbone="unet",
        prior="heat",
        loss=LossConfig(residual="alg1"),
        **fit,
    )
    assert alg1.history[-1]["train/pde"] < alg1.history[0]["train/pde"]


# -- bad input -----------------------------------------------------------------------------


def test_bad_input_raises_input_error():
    u = torch.rand(1, 1, 8, 8)
    with pytest.raises(InputError, match="N, C, H, W"):
        laplacian(torch.rand(8, 8))
    with pytest.raises(InputError, match="prior"):
        pde_rhs(u, "perona")
    with pytest.raises(InputError, match="NaN"):
        total_loss(u.clone().fill_(float("nan")), u, u)
    with pytest.raises(InputError, match="shape"):
        total_loss(u, torch.rand(1, 1, 8, 9), u)
    with pytest.raises(InputError, match="noise kind"):
        add_noise(u, "salt", 1.0)
    with pytest.raises(InputError, match="NaN"):
        add_noise(torch.tensor([float("inf")]), "awgn", 1.0)
    with pytest.raises(InputError, match="positive"):
        add_noise(u, "awgn", -1.0)
    with pytest.raises(InputError, match="non-negative"):
        add_noise(u - 1, "speckle", 1.0)
    noisy, clean = _pair()
    with pytest.raises(InputError, match="C, H, W"):
        fit_pinn(noisy[0], clean, **FIT)
    with pytest.raises(InputError, match="clean="):
        fit_pinn(noisy, None, protocol="paper", **FIT)
    with pytest.raises(InputError, match="NaN"):
        fit_pinn(noisy, torch.full_like(clean, float("nan")), protocol="paper", **FIT)
    with pytest.raises(InputError, match="NaN"):
        fit_pinn(noisy.clone().fill_(float("inf")), clean, **FIT)
    with pytest.raises(InputError, match="not implemented"):
        fit_pinn(noisy, clean, backbone="u2net", **FIT)
    with pytest.raises(InputError, match="protocol"):
        fit_pinn(noisy, clean, protocol="oracle", **FIT)
    with pytest.raises(InputError, match="baseline"):
        classical_denoise(np.zeros((8, 8)), "bm3d")
