"""SAPM's parts against the paper's equations: phase kept, radius-dependent variance,
NormAug (colour jitter + blur), sensitivity map, SE head, L_g, L_con, total loss, bad input."""

from __future__ import annotations

import math

import kornia
import pytest
import torch

from patrec.core.errors import InputError
from patrec.core.segmentation import UNet
from patrec.medical_imaging.sapm import (
    PAPER_ALPHA,
    PAPER_BETA,
    SAPMNet,
    SEHead,
    SpatialAmplitudePerturbation,
    amplitude_perturbation,
    consistency_loss,
    feature_sensitivity,
    guidance_loss,
    make_augment,
    normalized_distance,
    normaug,
    plain_amplitude_noise,
    sample_scaling,
    sapm,
    sapm_objective,
    sapm_variance,
    segmentation_loss,
    smoke_config,
    total_loss,
)


def _phase_unit(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(1j * torch.fft.fft2(x).angle())


@pytest.mark.parametrize("size", [(16, 16), (15, 12)])
def test_sapm_keeps_the_phase_exactly(size: tuple[int, int]) -> None:
    x = torch.rand(3, 3, *size, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    xa = sapm(x, PAPER_ALPHA, PAPER_BETA, generator=torch.Generator().manual_seed(2))
    assert xa.shape == x.shape and xa.dtype == x.dtype and not torch.allclose(xa, x)
    amp = torch.fft.fft2(xa).abs()
    keep = amp > 1e-9  # the phase of a zero coefficient is undefined
    diff = (_phase_unit(xa) - _phase_unit(x)).abs()[keep]
    assert float(diff.max()) < 1e-9


def test_normalized_distance_is_eq2() -> None:
    d = normalized_distance(8, 6, centered=True, dtype=torch.float64)
    # centred layout: row index r <-> i = r - 4, column c <-> j = c - 3; max i^2 + j^2 = 16 + 9
    for r, c in [(4, 3), (0, 0), (5, 1), (7, 5)]:
        i, j = r - 4, c - 3
        assert float(d[r, c]) == pytest.approx((i * i + j * j) / 25.0)
    assert float(d[4, 3]) == 0.0 and float(d.max()) == 1.0
    var = sapm_variance(8, 6, 6.0, 0.5, centered=True, dtype=torch.float64)
    torch.testing.assert_close(var, 6.0 * d + 0.5)
    assert float(var[4, 3]) == 0.5  # eq. 1: beta at the centre


def test_amplitude_perturbation_variance_grows_with_radius_as_alpha_d_plus_beta() -> None:
    h = w = 8
    n = 3000
    x = torch.rand(1, 1, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = x.expand(n, 1, h, w).contiguous()
    xa, mu = amplitude_perturbation(
        x,
        sapm_variance(h, w, dtype=torch.float64),
        generator=torch.Generator().manual_seed(3),
        return_scaling=True,
    )
    # the sampled scaling: mean 1, variance alpha D + beta per frequency (eqs. 3-4)
    expect = sapm_variance(h, w, dtype=torch.float64)
    emp_var = mu[:, 0].var(dim=0)
    tol = 4 * math.sqrt(2 / n) * expect + 4 * math.sqrt(float(expect.max()) / n)
    assert bool(((emp_var - expect).abs() < tol).all())
    assert bool(((mu[:, 0].mean(dim=0) - 1).abs() < 4 * (expect / n).sqrt()).all())
    # the applied amplitude ratio |FFT(x_aug)| / |FFT(x)| = |mu|: E ratio^2 = 1 + alpha D + beta
    ratio = torch.fft.fft2(xa[:, 0]).abs() / torch.fft.fft2(x[:, 0]).abs()
    second = ratio.square().mean(dim=0)
    rel = (second - (1 + expect)).abs() / (1 + expect)
    assert float(rel.max()) < 0.2
    # binned by radius the empirical variance increases
    d = normalized_distance(h, w, dtype=torch.float64)
    edges = torch.tensor([0.0, 0.05, 0.3, 0.6, 1.01], dtype=torch.float64)
    means = [float(emp_var[(d >= lo) & (d < hi)].mean()) for lo, hi in zip(edges, edges[1:])]
    assert all(a < b for a, b in zip(means, means[1:])), means


def test_plain_noise_has_no_radius_dependence() -> None:
    n, h = 2000, 8
    var = torch.full((h, h), 2.0, dtype=torch.float64)
    mu = sample_scaling((n, 1, h, h), var, generator=torch.Generator().manual_seed(0))
    v = mu[:, 0].var(dim=0)
    d = normalized_distance(h, h, dtype=torch.float64)
    assert abs(float(v[d < 0.2].mean()) - float(v[d > 0.6].mean())) < 0.3
    x = torch.rand(2, 3, h, h)
    assert plain_amplitude_noise(x, generator=torch.Generator().manual_seed(1)).shape == x.shape


def test_sapm_is_seeded_and_hermitian() -> None:
    x = torch.rand(2, 3, 12, 12)
    a = sapm(x, generator=torch.Generator().manual_seed(5))
    b = SpatialAmplitudePerturbation()(x, torch.Generator().manual_seed(5))
    c = sapm(x, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    mu = sample_scaling((1, 1, 5, 6), torch.ones(5, 6), generator=torch.Generator().manual_seed(0))
    flipped = torch.roll(torch.flip(mu, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))
    torch.testing.assert_close(mu, flipped)  # mu(k) == mu(-k)
    # alpha = beta = 0: mu = 1, the image comes back unchanged
    torch.testing.assert_close(sapm(x, 0.0, 0.0), x, atol=1e-5, rtol=0)


def test_feature_sensitivity_by_hand() -> None:
    f_ori = torch.tensor([[[[1.0, 2.0]], [[0.0, 0.0]], [[5.0, 5.0]]]])  # (1, 3, 1, 2)
    f_aug = torch.tensor([[[[2.0, 1.0]], [[3.0, -3.0]], [[3.0, 3.0]]]])
    # |diff| GAP per channel: 1, 3, 2 -> min-max: 0, 1, 0.5
    s = feature_sensitivity(f_ori, f_aug)
    assert s.shape == (1, 3, 1, 1)
    torch.testing.assert_close(s.flatten(), torch.tensor([0.0, 1.0, 0.5]))
    # equal change on every channel: S = 0, not NaN
    assert float(feature_sensitivity(f_ori, f_ori + 1).abs().max()) == 0.0


def test_se_head_shape_range_and_hand_value() -> None:
    se = SEHead(3)
    f = torch.randn(4, 3, 5, 5) * 10
    out, ca = se(f)
    assert out.shape == f.shape and ca.shape == (4, 3, 1, 1)
    assert bool((ca > 0).all() & (ca < 1).all())
    with torch.no_grad():
        se.conv.weight.copy_(torch.eye(3).reshape(3, 3, 1, 1) * 2.0)
        se.conv.bias.fill_(-1.0)
    g = torch.ones(1, 3, 2, 2) * torch.tensor([0.0, 0.5, 1.0]).reshape(1, 3, 1, 1)
    out, ca = se(g)
    expect = torch.sigmoid(2.0 * torch.tensor([0.0, 0.5, 1.0]) - 1.0)
    torch.testing.assert_close(ca.flatten(), expect)
    torch.testing.assert_close(out, g * ca)  # eq. 9, channel-wise product
    _, ca2 = SEHead(3, "add")(g)
    assert ca2.shape == (1, 3, 1, 1)


def test_guidance_loss_by_hand_and_its_minimum() -> None:
    ca = torch.tensor([[0.5, 0.25]])
    s = torch.tensor([[0.5, 1.0]])
    r1 = math.log(0.5) * math.log(0.5) - 1.0
    r2 = math.log(0.25) * 0.0 - 1.0
    assert float(guidance_loss(ca, s)) == pytest.approx(math.hypot(r1, r2), rel=1e-6)
    # zero at CA = exp(1 / log S) for S in (0, 1)
    s2 = torch.tensor([[0.1, 0.5, 0.9]]).reshape(1, 3, 1, 1)
    assert float(guidance_loss(torch.exp(1.0 / s2.log()), s2)) == pytest.approx(0.0, abs=1e-5)


def test_guidance_suppresses_the_sensitive_channel() -> None:
    torch.manual_seed(0)
    se = SEHead(2)
    f = torch.rand(4, 2, 4, 4)
    s = torch.tensor([0.95, 0.05]).reshape(1, 2, 1, 1).expand(4, 2, 1, 1)
    opt = torch.optim.Adam(se.parameters(), lr=0.1)
    for _ in range(60):
        opt.zero_grad()
        _, ca = se(f)
        guidance_loss(ca, s).backward()
        opt.step()
    with torch.no_grad():
        _, ca = se(f)
    # the sensitive channel is suppressed; the other goes to its optimum exp(1 / log 0.05)
    assert float(ca[:, 0].mean()) < 0.2
    assert float(ca[:, 1].mean()) == pytest.approx(math.exp(1 / math.log(0.05)), abs=0.05)


def test_consistency_segmentation_and_total_loss() -> None:
    p = torch.tensor([[[[0.2, 0.8]]]])
    q = torch.tensor([[[[0.5, 0.4]]]])
    assert float(consistency_loss(p, q)) == pytest.approx((0.3**2 + 0.4**2) / 2)
    logits = torch.zeros(1, 1, 2, 2)
    m = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    dice = 1 - (2 * 0.5 + 1) / (2.0 + 1.0 + 1)
    assert float(segmentation_loss(logits, m)) == pytest.approx(math.log(2) + dice, rel=1e-6)
    one = torch.tensor(1.0)
    assert float(total_loss(one, 2 * one, 4 * one)) == pytest.approx(1 + 0.5 * 2 + 0.5 * 4)
    assert float(total_loss(one, one, one, (2.0, 0.0, 1.0))) == pytest.approx(3.0)


def test_objective_total_is_eq12_and_net_shapes() -> None:
    torch.manual_seed(0)
    net = SAPMNet(3, 2, (4, 8))
    x = torch.rand(2, 3, 8, 8)
    y = torch.rand(2, 2, 8, 8) > 0.5
    logits, f_in, ca = net.forward_guided(x)
    assert logits.shape == (2, 2, 8, 8) and f_in.shape == (2, 4, 8, 8) and ca.shape == (2, 4, 1, 1)
    cfg, g = smoke_config(), torch.Generator().manual_seed(0)
    for kind in ("sapm", "normaug"):  # Table 3 rows 5 and 4: eq. 12 with either augmentation
        net.zero_grad()
        aug = make_augment(kind, cfg, g)
        t = sapm_objective(net, x, y, augment=aug, guided=True)
        expect = t["seg"] + 0.5 * t["con"] + 0.5 * t["guide"]
        assert float(t["loss"].detach()) == pytest.approx(float(expect), rel=1e-5)
        assert float(t["con"]) > 0 and float(t["guide"]) > 0
        t["loss"].backward()
        grad = net.se.conv.weight.grad
        assert grad is not None and float(grad.abs().sum()) > 0
    for kind in (None, "amp_noise", "normaug", "sapm"):
        r = sapm_objective(UNet(3, 2, (4, 8)), x, y, augment=make_augment(kind, cfg, g))
        assert math.isfinite(float(r["loss"].detach())) and float(r["guide"]) == 0.0
    # without augmentation the loss is L_seg of the originals alone
    unet = UNet(3, 2, (4, 8))
    plain = sapm_objective(unet, x, y)
    expect_seg = segmentation_loss(unet(x), y.float()).detach()
    assert float(plain["loss"].detach()) == pytest.approx(float(expect_seg))


def test_normaug_is_colour_jitter_then_blur() -> None:
    g = torch.Generator().manual_seed(0)
    x = 0.4 + 0.2 * torch.rand(4, 3, 12, 12, generator=g)  # no clipping at these strengths
    none = {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0, "blur_p": 0.0}
    torch.testing.assert_close(normaug(x, **none), x)
    # brightness alone: one factor per image in [1 - b, 1 + b]
    out = normaug(x, **{**none, "brightness": 0.3}, generator=torch.Generator().manual_seed(1))
    ratio = (out / x).flatten(1)
    assert float((ratio.max(1).values - ratio.min(1).values).max()) < 1e-5
    assert bool(((ratio[:, 0] >= 0.7) & (ratio[:, 0] <= 1.3)).all())
    assert float(ratio[:, 0].std()) > 1e-3  # the factors differ between images

    def grey(t: torch.Tensor) -> torch.Tensor:
        return (t * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1)

    # contrast alone keeps the mean grey level; saturation alone keeps the grey image
    out = normaug(x, **{**none, "contrast": 0.3}, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(grey(out).mean((1, 2)), grey(x).mean((1, 2)))
    assert not torch.allclose(out, x)
    out = normaug(x, **{**none, "saturation": 0.3}, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(grey(out), grey(x))
    assert not torch.allclose(out, x)
    # hue alone rotates the colour: HSV value max(R, G, B) is kept
    out = normaug(x, **{**none, "hue": 0.1}, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(out.amax(1), x.amax(1), atol=1e-5, rtol=0)
    assert not torch.allclose(out, x)
    # blur with probability 1 and a fixed sigma is kornia's Gaussian blur
    out = normaug(x, **{**none, "blur_p": 1.0}, blur_sigma=(1.5, 1.5), blur_kernel=5)
    torch.testing.assert_close(out, kornia.filters.gaussian_blur2d(x, (5, 5), (1.5, 1.5)))
    # the full augmentation: seeded, in [0, 1]
    a = normaug(x, generator=torch.Generator().manual_seed(5))
    b = normaug(x, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)
    assert float(a.min()) >= 0 and float(a.max()) <= 1 and a.shape == x.shape
    with pytest.raises(InputError, match=r"in \[0.0, 1.0\]"):
        normaug(x + 1.0)
    with pytest.raises(InputError, match="odd"):
        normaug(x, blur_kernel=4)
    with pytest.raises(InputError, match="hue"):
        normaug(x, hue=0.7)


def test_bad_input_raises_input_error() -> None:
    x = torch.rand(2, 3, 8, 8)
    net = SAPMNet(3, 2, (4, 8))
    aug = make_augment("sapm", smoke_config(), torch.Generator())
    with pytest.raises(InputError, match="alpha"):
        sapm(x, -1.0)
    with pytest.raises(InputError, match="beta"):
        sapm_variance(8, 8, 6.0, -0.1)
    with pytest.raises(InputError, match=r"\(N, C, H, W\)"):
        sapm(torch.rand(3, 8, 8))
    with pytest.raises(InputError, match="NaN"):
        sapm(torch.full((1, 1, 4, 4), float("nan")))
    with pytest.raises(InputError, match="binary"):
        sapm_objective(net, x, torch.rand(2, 2, 8, 8), augment=aug, guided=True)
    with pytest.raises(InputError, match="differ"):
        sapm_objective(net, x, torch.ones(2, 2, 4, 4), augment=aug, guided=True)
    with pytest.raises(InputError, match="augment"):
        sapm_objective(net, x, torch.ones(2, 2, 8, 8), augment="mixup")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="needs an augmentation"):
        sapm_objective(net, x, torch.ones(2, 2, 8, 8), guided=True)
    with pytest.raises(InputError, match="SAPMNet"):
        sapm_objective(UNet(3, 2, (4, 8)), x, torch.ones(2, 2, 8, 8), augment=aug, guided=True)
    with pytest.raises(InputError, match="augmentation must be"):
        make_augment("mixup", smoke_config(), torch.Generator())
    with pytest.raises(InputError, match="f_aug"):
        feature_sensitivity(torch.rand(1, 3, 2, 2), torch.rand(1, 4, 2, 2))
    # a sigmoid may underflow to 0 (accepted, clamped); outside [0, 1] is an error
    assert math.isfinite(float(guidance_loss(torch.zeros(1, 2), torch.ones(1, 2))))
    with pytest.raises(InputError, match="ca must hold values probabilities"):
        guidance_loss(torch.full((1, 2), 1.5), torch.ones(1, 2))
    with pytest.raises(InputError, match="s must hold values probabilities"):
        guidance_loss(torch.full((1, 2), 0.5), torch.full((1, 2), -0.1))
    with pytest.raises(InputError, match="s must have"):
        guidance_loss(torch.full((1, 2), 0.5), torch.full((1, 3), 0.5))
    with pytest.raises(InputError, match="probabilities"):
        consistency_loss(torch.full((1, 1, 2, 2), 2.0), torch.zeros(1, 1, 2, 2))
    with pytest.raises(InputError, match="masks must have"):
        segmentation_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 1, 4, 4))
    with pytest.raises(InputError, match="f_in must have shape"):
        SEHead(4)(torch.rand(1, 3, 2, 2))
    with pytest.raises(InputError, match="combine"):
        SEHead(4, "max")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="lambda2"):
        total_loss(torch.tensor(1.0), torch.tensor(1.0), torch.tensor(1.0), (1.0, -0.5, 0.5))
