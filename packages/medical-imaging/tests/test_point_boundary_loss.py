"""Distance maps, signed maps and losses of the point-supervised boundary loss (eqs. 1-5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.ndimage import label

from patrec.core.errors import InputError
from patrec.medical_imaging.data import IGNORE_INDEX, points_to_label_map
from patrec.medical_imaging.point_boundary_loss import (
    boundary_loss,
    boundary_of,
    dense_crf_loss,
    euclidean_distance,
    geodesic_distance,
    intensity_image,
    minimum_barrier_distance,
    partial_cross_entropy,
    point_distance_maps,
    point_supervised_loss,
    signed_distance_map,
)


def _two_regions(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """A bright disk (200) on a dark background (40); the disk mask."""
    yy, xx = np.mgrid[:n, :n]
    disk = (yy - n / 2) ** 2 + (xx - n / 2) ** 2 <= (n / 4) ** 2
    return np.where(disk, 200.0, 40.0), disk


def _seed(shape: tuple[int, int], y: int, x: int) -> np.ndarray:
    s = np.zeros(shape, dtype=bool)
    s[y, x] = True
    return s


def test_mbd_is_zero_on_the_homogeneous_region_and_jumps_at_its_edge() -> None:
    img, disk = _two_regions()
    d = minimum_barrier_distance(img, _seed(img.shape, 8, 8))
    assert np.all(d[disk] == 0.0)
    assert np.allclose(d[~disk], 160.0)  # the barrier is the intensity step


def test_intensity_distance_is_zero_inside_and_adds_the_step_outside() -> None:
    img, disk = _two_regions()
    d = geodesic_distance(img, _seed(img.shape, 8, 8), lam=0.0)  # D_int: lambda = 0
    assert np.all(d[disk] == 0.0) and np.allclose(d[~disk], 160.0)


def test_geodesic_is_half_chamfer_plus_half_intensity_step() -> None:
    img, disk = _two_regions()
    s = _seed(img.shape, 8, 8)
    geo = geodesic_distance(img, s, lam=0.5)
    cham = geodesic_distance(np.zeros_like(img), s, lam=1.0)
    assert np.allclose(geo[disk], 0.5 * cham[disk])
    # outside, every path crosses the edge once: at least half the step + half the chamfer
    assert np.all(geo[~disk] >= 0.5 * 160.0 + 0.5 * cham[~disk] - 1e-9)


def test_euclidean_map_from_one_point_is_the_analytic_distance() -> None:
    d = euclidean_distance(_seed((9, 12), 3, 5))
    yy, xx = np.mgrid[:9, :12]
    assert np.allclose(d, np.hypot(yy - 3, xx - 5))


def test_geodesic_on_a_constant_image_is_chamfer_close_to_euclidean() -> None:
    s = _seed((20, 20), 4, 13)
    geo = geodesic_distance(np.full((20, 20), 7.0), s, lam=1.0)
    euc = euclidean_distance(s)
    yy, xx = np.mgrid[:20, :20]
    dy, dx = np.abs(yy - 4), np.abs(xx - 13)
    chamfer = np.maximum(dy, dx) + (math.sqrt(2) - 1) * np.minimum(dy, dx)
    assert np.allclose(geo, chamfer)
    assert np.all(geo >= euc - 1e-9) and np.all(geo <= 1.0824 * euc + 1e-9)


def _exact_mbd(img: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Brute force over all intensity windows [lo, hi]: 8-connected components."""
    levels = np.unique(img)
    best = np.full(img.shape, np.inf)
    for i, lo in enumerate(levels):
        for hi in levels[i:]:
            lab, _ = label((img >= lo) & (img <= hi), structure=np.ones((3, 3)))
            ids = np.unique(lab[seeds & (lab > 0)])
            reach = np.isin(lab, ids[ids > 0])
            best = np.where(reach, np.minimum(best, hi - lo), best)
    return best


def test_mbd_matches_brute_force_within_the_approximation_bound() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 6, size=(7, 7)).astype(float)
    seeds = _seed(img.shape, 3, 3)
    approx, exact = minimum_barrier_distance(img, seeds), _exact_mbd(img, seeds)
    assert np.all(approx >= exact - 1e-9)  # every computed value is a real path's barrier
    pad = np.pad(img, 1, mode="edge")
    eps = max(np.abs(pad[1:-1, 1:-1] - pad[a : a + 7, b : b + 7]).max()
              for a in range(3) for b in range(3))  # fmt: skip
    assert np.all(approx <= exact + 2 * eps)
    smooth = np.add.outer(np.arange(7.0), np.arange(7.0))  # monotone ramp: exact
    assert np.allclose(minimum_barrier_distance(smooth, seeds), _exact_mbd(smooth, seeds))


def test_signed_map_is_negative_inside_positive_outside_zero_on_the_boundary() -> None:
    img = np.full((11, 11), 50.0)
    mask = np.zeros((11, 11), dtype=bool)
    mask[3:8, 3:8] = True
    phi = signed_distance_map(img, mask, "euc")
    border = boundary_of(mask)
    assert border.sum() == 16 and np.all(phi[border] == 0)
    assert phi[5, 5] == -2.0 and np.all(phi[mask & ~border] < 0)
    assert np.all(phi[~mask] > 0) and phi[5, 0] == 3.0
    for kind in ("geo", "int", "mbd"):
        p = signed_distance_map(img, mask, kind)
        assert np.all(p[border] == 0) and np.all(p[mask] <= 0) and np.all(p[~mask] >= 0)


def test_absent_class_gets_a_map_of_ones() -> None:
    img = torch.rand(1, 3, 8, 8)
    pts = points_to_label_map(torch.tensor([[2, 2]]), torch.tensor([1]), (8, 8))[None]
    for kind in ("euc", "geo", "int", "mbd"):
        maps = point_distance_maps(img, pts, 3, kind)  # class 2 has no point
        assert maps.shape == (1, 2, 8, 8)
        assert torch.all(maps[0, 1] == 1.0) and maps[0, 0, 2, 2] == 0 and maps[0, 0].max() > 1
    assert np.all(signed_distance_map(np.zeros((4, 4)), np.zeros((4, 4)), "mbd",
                                      absent_value=2.5) == 2.5)  # fmt: skip


def test_intensity_image_rescales_to_0_255() -> None:
    x = torch.tensor([[[0.2, 0.4], [0.6, 0.3]]]).repeat(3, 1, 1)
    g = intensity_image(x)
    assert g.min() == 0 and g.max() == 255 and np.isclose(g[0, 1], 255 * 0.2 / 0.4)


def test_boundary_loss_is_the_mean_of_probs_times_map_by_hand() -> None:
    probs = torch.tensor([[[[0.5, 0.2]], [[0.3, 0.6]], [[0.2, 0.2]]]])  # (1, 3, 1, 2)
    maps = torch.tensor([[[[-1.0, 4.0]], [[2.0, 0.0]]]])  # (1, 2, 1, 2): classes 1, 2
    hand = (0.3 * -1.0 + 0.6 * 4.0 + 0.2 * 2.0 + 0.2 * 0.0) / 4
    assert torch.isclose(boundary_loss(probs, maps), torch.tensor(hand))
    with pytest.raises(InputError, match="signed maps"):
        boundary_loss(probs, maps[:, :1])


def test_partial_ce_ignores_unlabelled_and_background_pixels() -> None:
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 4, 4)
    pts = torch.full((1, 4, 4), IGNORE_INDEX)
    pts[0, 1, 1], pts[0, 2, 3], pts[0, 0, 0] = 1, 2, 0
    hand = (
        -(torch.log_softmax(logits, 1)[0, 1, 1, 1] + torch.log_softmax(logits, 1)[0, 2, 2, 3]) / 2
    )
    assert torch.isclose(partial_cross_entropy(logits, pts), hand)
    changed = logits.clone()
    changed[0, :, 3, 0] += 5.0  # an unlabelled pixel
    changed[0, :, 0, 0] -= 3.0  # a background point (foreground-only CE, Sec. 4.3)
    assert torch.isclose(partial_cross_entropy(changed, pts), hand)
    both = partial_cross_entropy(logits, pts, foreground_only=False)
    assert torch.isclose(both, F.cross_entropy(logits, pts, ignore_index=IGNORE_INDEX))


def test_eq5_adds_alpha_times_lb_and_gradients_flow() -> None:
    logits = torch.randn(2, 3, 5, 5, requires_grad=True)
    pts = torch.full((2, 5, 5), IGNORE_INDEX)
    pts[:, 2, 2] = 1
    maps = torch.rand(2, 2, 5, 5)
    out = point_supervised_loss(logits, pts, maps, 0.7)
    lb = boundary_loss(torch.softmax(logits, 1), maps)
    assert torch.isclose(out["loss"], partial_cross_entropy(logits, pts) + 0.7 * lb)
    out["loss"].backward()
    assert logits.grad is not None and bool(logits.grad[:, :, 0, 0].abs().sum() > 0)
    assert point_supervised_loss(logits, pts, None, 1.0)["lb"] == 0


def test_bad_inputs_raise_input_error() -> None:
    img = np.zeros((6, 6))
    with pytest.raises(InputError, match="outside"):
        points_to_label_map(torch.tensor([[6, 1]]), torch.tensor([1]), (6, 6))
    with pytest.raises(InputError, match="seeds must have H = 6"):
        geodesic_distance(img, np.ones((5, 6), dtype=bool))
    with pytest.raises(InputError, match="mask must have W = 6"):
        signed_distance_map(img, np.zeros((6, 7)), "mbd")
    with pytest.raises(InputError, match="point labels must have H = 6"):
        point_distance_maps(torch.rand(1, 3, 6, 6), torch.zeros(1, 5, 6, dtype=torch.long), 2,
                            "euc")  # fmt: skip
    with pytest.raises(InputError, match="binary"):
        signed_distance_map(img, np.full((6, 6), 2), "euc")
    with pytest.raises(InputError, match="binary"):
        euclidean_distance(np.full((6, 6), 0.5))
    with pytest.raises(InputError, match="alpha"):
        point_supervised_loss(torch.randn(1, 2, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long),
                              torch.zeros(1, 1, 4, 4), -0.1)  # fmt: skip
    with pytest.raises(InputError, match="lam"):
        geodesic_distance(img, _seed((6, 6), 1, 1), lam=1.5)
    with pytest.raises(InputError, match="at least one"):
        minimum_barrier_distance(img, np.zeros((6, 6), dtype=bool))
    with pytest.raises(InputError, match="kind"):
        signed_distance_map(img, _seed((6, 6), 1, 1), "cosine")
    with pytest.raises(InputError, match="point labels"):
        partial_cross_entropy(torch.randn(1, 2, 4, 4), torch.full((1, 4, 4), 5))
    with pytest.raises(InputError, match="int dtype"):
        partial_cross_entropy(torch.randn(1, 2, 4, 4), torch.zeros(1, 4, 4))
    with pytest.raises(InputError, match="finite"):
        geodesic_distance(np.full((6, 6), np.nan), _seed((6, 6), 1, 1))
    with pytest.raises(InputError, match="number"):
        geodesic_distance(np.zeros((6, 6), dtype=bool), _seed((6, 6), 1, 1))


def _crf_by_hand(probs: torch.Tensor, img: torch.Tensor, s_rgb: float, s_xy: float) -> float:
    """sum_k sum_ij W_ij S_ik (1 - S_jk) over every pixel pair, written as loops."""
    n, k, h, w = probs.shape
    total = 0.0
    for b in range(n):
        pix = [(y, x) for y in range(h) for x in range(w)]
        for yi, xi in pix:
            for yj, xj in pix:
                di = float(((img[b, :, yi, xi] - img[b, :, yj, xj]) ** 2).sum())
                dp = (yi - yj) ** 2 + (xi - xj) ** 2
                wij = math.exp(-di / (2 * s_rgb**2) - dp / (2 * s_xy**2))
                for c in range(k):
                    total += wij * float(probs[b, c, yi, xi]) * (1 - float(probs[b, c, yj, xj]))
    return total / n


def test_dense_crf_loss_is_the_potts_relaxation_by_hand() -> None:
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(2, 3, 3, 4, generator=g, dtype=torch.float64), 1)
    img = 255 * torch.rand(2, 2, 3, 4, generator=g, dtype=torch.float64)
    got = dense_crf_loss(probs, img, sigma_rgb=40.0, sigma_xy=2.0, scale=1.0, chunk=5)
    assert got.item() == pytest.approx(_crf_by_hand(probs, img, 40.0, 2.0), rel=1e-10)
    # the row blocks do not change the value
    one = dense_crf_loss(probs, img, sigma_rgb=40.0, sigma_xy=2.0, scale=1.0, chunk=10_000)
    assert one.item() == pytest.approx(got.item(), rel=1e-12)


def test_dense_crf_loss_prefers_labels_that_follow_the_image() -> None:
    img = torch.zeros(1, 1, 8, 8)
    img[..., :, 4:] = 255.0  # two flat halves
    follow = torch.zeros(1, 2, 8, 8)
    follow[:, 0, :, :4], follow[:, 1, :, 4:] = 1, 1
    across = torch.zeros(1, 2, 8, 8)
    across[:, 0, :4], across[:, 1, 4:] = 1, 1  # the cut runs across the flat halves
    kw = {"sigma_rgb": 15.0, "sigma_xy": 100.0, "scale": 1.0}
    low, high = dense_crf_loss(follow, img, **kw), dense_crf_loss(across, img, **kw)
    assert low.item() < 1e-6 < high.item()  # no similar pair is cut when labels follow I
    soft = torch.full((1, 2, 8, 8), 0.5, requires_grad=True)
    dense_crf_loss(soft, img, **kw).backward()
    assert soft.grad is not None and bool(torch.isfinite(soft.grad).all())
    with pytest.raises(InputError, match="scale"):
        dense_crf_loss(follow, img, scale=0.0)
    with pytest.raises(InputError, match="images must have H = 8"):
        dense_crf_loss(follow, img[..., :4, :])
