"""Invariants of the Spectral Correlation Coefficient (eq. 2) and the harmonized loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patrec.core.errors import InputError
from patrec.core.segmentation import soft_dice_loss
from patrec.medical_imaging.scc_loss import (
    SpectralCorrelationLoss,
    harmonized_loss,
    scc_loss,
    spatial_loss,
    spectral_correlation_coefficient,
)


def _masks(seed: int, shape: tuple[int, ...] = (3, 2, 8, 10)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = (torch.rand(shape, generator=g) > 0.6).float()
    probs = torch.rand(shape, generator=g, dtype=torch.float64)
    return probs, target


def _numpy_scc(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Eq. 2 per (sample, class) from numpy's FFT, written with Re/Im explicitly."""
    y, yh = np.fft.fft2(target), np.fft.fft2(pred)
    num = 2 * (y.real * yh.real + y.imag * yh.imag).sum(axis=(-2, -1))
    den = (np.abs(y) ** 2 + np.abs(yh) ** 2).sum(axis=(-2, -1))
    return num / den


def test_one_iff_masks_match() -> None:
    _, t = _masks(0)
    assert spectral_correlation_coefficient(t, t).item() == pytest.approx(1.0, abs=1e-6)
    other = t.clone()
    other[0, 0, 0, 0] = 1 - other[0, 0, 0, 0]
    assert spectral_correlation_coefficient(other, t).item() < 1.0 - 1e-4
    per = spectral_correlation_coefficient(other, t, reduction="none")
    assert per[0, 0] < 1.0 - 1e-4 and torch.allclose(per.flatten()[1:], torch.ones(5))
    probs, _ = _masks(1)
    assert spectral_correlation_coefficient(probs, t).item() < 0.9
    assert scc_loss(t, t).item() == pytest.approx(0.0, abs=1e-6)


def test_symmetric_and_bounded() -> None:
    a = (torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    b = (torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(3)) > 0.5).float()
    for red in ("batch", "mean"):
        ab = spectral_correlation_coefficient(a, b, reduction=red)
        ba = spectral_correlation_coefficient(b, a, reduction=red)
        assert ab.item() == pytest.approx(ba.item(), abs=1e-6)
        assert 0.0 <= ab.item() <= 1.0
    disjoint = torch.zeros(1, 1, 4, 4)
    disjoint[..., :2, :] = 1
    assert spectral_correlation_coefficient(1 - disjoint, disjoint).item() == pytest.approx(
        0.0, abs=1e-6
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parseval_equals_squared_soft_dice(seed: int) -> None:
    probs, t = _masks(seed)
    coef = spectral_correlation_coefficient(probs, t, reduction="mean")
    dice = 1.0 - soft_dice_loss(probs, t, squared=True, smooth=0)
    assert coef.item() == pytest.approx(dice.item(), abs=1e-10)
    # eq. 2's batch sums: the pooled squared soft Dice, per class, mean over classes
    inter = (probs * t).sum(dim=(0, 2, 3))
    pooled = (2 * inter / ((probs**2).sum(dim=(0, 2, 3)) + (t**2).sum(dim=(0, 2, 3)))).mean()
    assert spectral_correlation_coefficient(probs, t).item() == pytest.approx(
        pooled.item(), abs=1e-10
    )


def test_matches_independent_numpy_fft_real_imag() -> None:
    probs, t = _masks(4)
    ours = spectral_correlation_coefficient(probs, t, reduction="none").numpy()
    ref = _numpy_scc(probs.numpy(), t.double().numpy())
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_phase_enters_through_real_and_imaginary_parts() -> None:
    t = torch.zeros(1, 1, 16, 16)
    t[..., 3:8, 4:10] = 1
    shifted = torch.roll(t, shifts=(5, 3), dims=(-2, -1))
    # equal amplitude spectra: a magnitude-only coefficient would be 1
    assert torch.allclose(torch.fft.fft2(t).abs(), torch.fft.fft2(shifted).abs(), atol=1e-4)
    coef = spectral_correlation_coefficient(shifted, t).item()
    assert coef < 0.5
    # and it is the spatial overlap (Parseval), not a spectral-magnitude similarity
    spatial = 1 - soft_dice_loss(shifted, t, squared=True, smooth=0).item()
    assert coef == pytest.approx(spatial, abs=1e-6)
    partial = torch.roll(t, shifts=(1, 0), dims=(-2, -1))  # overlaps 4 of 5 rows
    assert spectral_correlation_coefficient(partial, t).item() == pytest.approx(0.8, abs=1e-6)


def test_rfft_half_spectrum_differs_unless_hermitian_weights() -> None:
    probs, t = _masks(5, (2, 1, 8, 10))
    full = spectral_correlation_coefficient(probs, t, reduction="none")
    half = spectral_correlation_coefficient(probs, t, spectrum="rfft", reduction="none")
    weighted = spectral_correlation_coefficient(
        probs, t, spectrum="rfft", reduction="none", hermitian_weights=True
    )
    assert (full - half).abs().max().item() > 1e-4
    assert torch.allclose(full, weighted, atol=1e-10)
    odd_p, odd_t = _masks(6, (2, 1, 7, 9))
    assert torch.allclose(
        spectral_correlation_coefficient(odd_p, odd_t, reduction="none"),
        spectral_correlation_coefficient(
            odd_p, odd_t, spectrum="rfft", reduction="none", hermitian_weights=True
        ),
        atol=1e-10,
    )
    # what the half spectrum keeps: still 1 iff equal, still symmetric
    assert spectral_correlation_coefficient(t, t, spectrum="rfft").item() == pytest.approx(1.0)
    other = (probs > 0.5).float()
    assert spectral_correlation_coefficient(t, other, spectrum="rfft").item() == pytest.approx(
        spectral_correlation_coefficient(other, t, spectrum="rfft").item()
    )
    assert spectral_correlation_coefficient(other, t, spectrum="rfft").item() < 1 - 1e-4


def test_empty_masks_give_one_and_finite_gradient() -> None:
    z = torch.zeros(1, 1, 4, 4, requires_grad=True)
    coef = spectral_correlation_coefficient(z, torch.zeros(1, 1, 4, 4))
    assert coef.item() == 1.0
    coef.backward()
    assert z.grad is not None and bool(torch.isfinite(z.grad).all())


def test_gradient_flows_through_fft_gradcheck() -> None:
    g = torch.Generator().manual_seed(7)
    t = (torch.rand(2, 1, 6, 5, generator=g) > 0.5).double()
    p = (0.1 + 0.8 * torch.rand(2, 1, 6, 5, generator=g, dtype=torch.float64)).requires_grad_()
    for spectrum in ("full", "rfft"):
        assert torch.autograd.gradcheck(
            lambda x, s=spectrum: scc_loss(x, t, spectrum=s), (p,), eps=1e-6, atol=1e-6
        )


def test_harmonized_loss_terms_and_gradient() -> None:
    g = torch.Generator().manual_seed(8)
    logits = torch.randn(2, 2, 8, 8, generator=g, requires_grad=True)
    t = torch.rand(2, 2, 8, 8, generator=g) > 0.5
    out = harmonized_loss(logits, t, 0.2)
    expect = spatial_loss(logits, t) + 0.2 * scc_loss(torch.sigmoid(logits), t)
    assert out["loss"].item() == pytest.approx(expect.item(), rel=1e-6)
    assert out["scc"].item() == pytest.approx(1 - out["spectral"].item())
    base = harmonized_loss(logits, t, 0.0)
    assert base["loss"].item() == pytest.approx(out["spatial"].item(), rel=1e-6)
    out["loss"].backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) > 0
    # the spectral term alone moves the logits too
    l2 = logits.detach().clone().requires_grad_()
    scc_loss(torch.sigmoid(l2), t).backward()
    assert l2.grad is not None and float(l2.grad.abs().sum()) > 0
    mod = SpectralCorrelationLoss(reduction="mean")
    assert "mean" in repr(mod)
    assert mod(torch.sigmoid(logits), t).item() == pytest.approx(
        soft_dice_loss(torch.sigmoid(logits), t.float(), squared=True, smooth=0).item(), rel=1e-5
    )


def test_bad_inputs_raise_input_error() -> None:
    p = torch.rand(1, 1, 4, 4)
    t = torch.rand(1, 1, 4, 4) > 0.5
    with pytest.raises(InputError, match="binary"):
        spectral_correlation_coefficient(p, torch.full((1, 1, 4, 4), 0.5))
    with pytest.raises(InputError, match="target must have W = 4"):
        spectral_correlation_coefficient(p, torch.zeros(1, 1, 4, 5, dtype=torch.bool))
    with pytest.raises(InputError, match="N, C, H, W"):
        spectral_correlation_coefficient(p[0], t[0])
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        spectral_correlation_coefficient(p * 3 - 1, t)
    with pytest.raises(InputError, match="NaN"):
        spectral_correlation_coefficient(torch.full((1, 1, 4, 4), float("nan")), t)
    with pytest.raises(InputError, match="spectrum"):
        spectral_correlation_coefficient(p, t, spectrum="dct")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="reduction"):
        scc_loss(p, t, reduction="sum")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="lambda"):
        harmonized_loss(torch.randn(1, 1, 4, 4), t, -0.2)
    with pytest.raises(InputError, match="lambda"):
        harmonized_loss(torch.randn(1, 1, 4, 4), t, float("nan"))
    with pytest.raises(InputError, match="logits"):
        spatial_loss(torch.randn(4, 4), t)
    with pytest.raises(InputError, match="binary"):
        spatial_loss(torch.randn(1, 1, 4, 4), t.float() * 2)
