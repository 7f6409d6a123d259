"""Tests of scientific-ml/welllog_augment: each equation by hand, errors, loader, recipe."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pywt
import torch

from patrec.core.config import apply_overrides, validate_config
from patrec.core.errors import ConfigError, DataError, InputError
from patrec.scientific_ml import welllog_augment as W


def test_smooth_conv_eq1_by_hand_and_copy_fill():
    x = torch.tensor([[[1.0, 2.0, 4.0, 8.0]]])
    y = W.smooth_conv(x, [1.0, 2.0, 1.0])
    # y_n = (x_n + 2 x_{n+1} + x_{n+2}) / 4, past the end copies of x_3 = 8
    want = [(1 + 4 + 4) / 4, (2 + 8 + 8) / 4, (4 + 16 + 8) / 4, (8 + 16 + 8) / 4]
    assert torch.allclose(y[0, 0], torch.tensor(want))
    # a delta kernel is the identity
    z = torch.randn(2, 3, 17)
    assert torch.allclose(W.smooth_conv(z, [1.0, 0.0, 0.0]), z)
    with pytest.raises(InputError):
        W.smooth_conv(z, [1.0, -1.0])
    with pytest.raises(InputError):
        W.smooth_conv(z[0], [1.0])


def test_fluctuation_enhance_eq2_only_on_qualifying_slices():
    m = 6
    big = torch.tensor([0.0, 1.0, 3.0, 0.0])  # range 3 > mean 1
    flat = torch.tensor([10.0, 10.5, 11.0, 10.5])  # range 1 < mean 10.5
    x = torch.stack([big, flat])[:, None]  # (2, 1, 4)
    y = W.fluctuation_enhance(x, m)
    want_big = torch.tensor([0.0, 1.0 * (m - 1) / m, 3.0 * (m + 1) / m, 0.0])  # 1 <= mean
    assert torch.allclose(y[0, 0], want_big)
    assert torch.equal(y[1, 0], flat)
    assert y.shape == x.shape
    # default m is the number of curves
    x6 = torch.rand(3, 6, 20)
    assert torch.allclose(W.fluctuation_enhance(x6), W.fluctuation_enhance(x6, 6))


def test_fourier_amplitude_eqs3_4():
    x = torch.randn(2, 3, 16, dtype=torch.float64)
    y = W.fourier_amplitude(x)
    n = torch.arange(16.0, dtype=torch.float64)
    k = 3
    xk = (x[1, 2] * torch.exp(-2j * math.pi * k * n / 16)).sum()
    assert torch.allclose(y[1, 2, k], xk.abs())
    assert torch.allclose(y[..., :9], torch.fft.rfft(x, dim=-1).abs())
    assert y.shape == x.shape


def test_wavelet_approx_haar_by_hand():
    x = torch.arange(8.0).view(1, 1, 8)
    y = W.wavelet_approx(x, "haar", 2)
    # Haar cA_2 of 0..7: sums of 4 over 2 -> [6, 22] / 2 = [3, 11]; linear back to 8 points
    want = torch.linspace(3.0, 11.0, 8)
    assert torch.allclose(y[0, 0], want)
    with pytest.raises(InputError):
        W.wavelet_approx(x, "nope", 2)
    with pytest.raises(InputError):
        W.wavelet_approx(x[..., :3], "haar", 2)


def test_wavelet_threshold_eq5_and_soft_eq6():
    cd1 = np.array([[1.0, -3.0, 2.0, 0.5]])
    lam = W.wavelet_threshold(cd1, 96, 2)
    want = 1.5 * math.sqrt(2 * math.log(96)) / (0.6745 * math.log2(3))
    assert lam.shape == (1,)
    assert lam[0] == pytest.approx(want)
    x = torch.tensor([-3.0, -1.0, 0.5, 2.0, 1.0])
    y = W.soft_threshold(x, 1.0)
    assert torch.equal(y, torch.tensor([-2.0, 0.0, 0.0, 1.0, 0.0]))
    assert torch.allclose(y, torch.from_numpy(pywt.threshold(x.numpy(), 1.0, mode="soft")).float())
    with pytest.raises(InputError):
        W.soft_threshold(x, -1.0)


def test_wavelet_denoise_raises_snr_on_layered_log():
    rng = np.random.default_rng(0)
    clean = np.repeat(rng.uniform(0, 1, 8), 32)  # piecewise-constant "layers", N = 256
    noisy = clean + 0.1 * rng.standard_normal(clean.shape)
    x = torch.tensor(noisy, dtype=torch.float64).view(1, 1, -1)
    y = W.wavelet_denoise(x, "haar", 2)[0, 0].numpy()

    def snr(z):
        return 10 * np.log10((clean**2).sum() / ((z - clean) ** 2).sum())

    assert snr(y) > snr(noisy) + 1.0
    # zero noise in the details: a constant curve is reproduced
    c = torch.full((1, 2, 64), 3.0, dtype=torch.float64)
    assert torch.allclose(W.wavelet_denoise(c, "db4", 2), c)


def test_fusion_strategies_sizes_and_content():
    cfg = W.AugmentConfig(kernel_size=3, wavelet="haar")
    x = torch.rand(5, 6, 32)
    y = torch.arange(5)
    xa, ya = W.augment_set(x, y, "TFS-A+C", cfg)
    assert xa.shape == (15, 6, 32) and torch.equal(ya, y.repeat(3))
    assert torch.allclose(xa[10:], W.fourier_amplitude(x))
    xs, _ = W.augment_set(x, y, "T+F-B+D", cfg)
    want = W.wavelet_approx(W.fluctuation_enhance(x), "haar", 2)
    assert xs.shape == (10, 6, 32) and torch.allclose(xs[5:], want)
    xc, yc = W.augment_set(x, y, "TFC-A+E", cfg)
    assert xc.shape == (5, 12, 32) and torch.equal(yc, y)
    assert torch.equal(W.augment_set(x, y, "baseline", cfg)[0], x)
    for bad in ("TD-C", "FD-A", "TFS-C+A", "XYZ-A+C"):
        with pytest.raises(ConfigError):
            W.augment_set(x, y, bad, cfg)


def test_models_shapes_and_se():
    x = torch.randn(3, 6, 96)
    r = W.WellLogResNet1d(6, 4, width=4)
    s = W.WellLogResNet1d(6, 4, width=4, se_reduction=2)
    assert r(x).shape == (3, 4) and s(x).shape == (3, 4)
    assert sum(p.numel() for p in s.parameters()) > sum(p.numel() for p in r.parameters())
    assert len(list(r.layers)) == 8  # ResNet18: 4 stages x 2 basic blocks
    with pytest.raises(InputError):
        r(torch.randn(3, 5, 96))


def test_slices_and_synthetic_block():
    wells = W.synthetic_block(2, n_strata=3, depth_points=600, seed=0)
    w = wells[0]
    assert w.curves.shape == (6, 600) and set(np.unique(w.labels)) == {0, 1, 2}
    assert np.all(np.diff(w.labels) >= 0)  # ordered strata, known boundaries
    x, y = W.make_slices(W.normalize_well(w), w.labels, 96, 96, 47)
    assert x.shape == (6, 6, 96)
    assert torch.equal(y, torch.as_tensor(w.labels[np.arange(6) * 96 + 47]))
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    with pytest.raises(InputError):
        W.make_slices(w.curves[:, :50], w.labels[:50], 96)


def test_loader_csv_las_and_errors(tmp_path):
    with pytest.raises(DataError):
        W.load_well_logs(tmp_path / "missing")
    with pytest.raises(DataError):
        W.load_well_logs(tmp_path)
    rows = "\n".join(f"{1000 + i},{i},{2 * i},{-i},{1 + i},{2 + i},{i // 5}" for i in range(10))
    (tmp_path / "a.csv").write_text("DEPTH,GR,AC,SP,RT1,RT2,LABEL\n" + rows + "\n")
    las = [
        "~Version",
        "VERS. 2.0",
        "~Curve",
        "DEPT.M : depth",
        "GR.API :",
        "AC.US/M :",
        "SP.MV :",
        "RT1.OHMM :",
        "RT2.OHMM :",
        "LABEL. :",
        "~A",
    ]
    las += [f"{1000 + i} {i} {2 * i} {-i} {1 + i} {2 + i} {i // 5}" for i in range(10)]
    las[3] = "DEPTH.M : depth"
    las.append("1010 -999.25 1 1 1 1 1")
    (tmp_path / "b.las").write_text("\n".join(las) + "\n")
    wells = W.load_well_logs(tmp_path)
    assert [w.name for w in wells] == ["a", "b"]
    assert wells[1].curves.shape == (6, 10)  # the null row is dropped
    assert np.array_equal(wells[0].curves, wells[1].curves)
    assert list(wells[0].labels) == [0] * 5 + [1] * 5
    (tmp_path / "c.csv").write_text("DEPTH,GR\n1,2\n")
    with pytest.raises(DataError, match="missing columns"):
        W.load_well_logs(tmp_path)


def test_config_rules():
    validate_config(W.paper_config())
    with pytest.raises(ConfigError):
        validate_config(apply_overrides(W.smoke_config(), {"variants": ("vgg/baseline",)}))
    with pytest.raises(ConfigError):
        validate_config(apply_overrides(W.smoke_config(), {"ours": "senet18/TD-A"}))
    with pytest.raises(ConfigError):
        validate_config(apply_overrides(W.smoke_config(), {"lr": -1.0}))


@pytest.mark.slow
def test_cpu_feasibility_augmentation_helps_two_wells(tmp_path):
    """Catalog check: on synthetic 3-strata logs, TFS-A+C beats no augmentation, 2 wells."""
    cfg = apply_overrides(
        W.smoke_config(),
        {
            "variants": ("resnet18/baseline", "resnet18/TFS-A+C"),
            "seeds": (0, 1, 2),
            "data.n_strata": 3,
            "data.train_wells": (2,),
        },
    )
    m = W.recipe(cfg, tmp_path)
    acc = {v: m["variants"][v]["accuracy"]["mean"] for v in cfg.variants}
    assert acc["resnet18/TFS-A+C"] > acc["resnet18/baseline"]


def test_recipe_smoke_overrides(tmp_path):
    from patrec.core.hub import verify_saved_model
    from patrec.core.registry import get_method

    cfg = apply_overrides(W.smoke_config(), list(W.METHOD.test_overrides))
    m = W.recipe(cfg, tmp_path)
    for v in cfg.variants:
        assert 0.0 <= m["variants"][v]["accuracy"]["mean"] <= 1.0
        assert "2 wells" in m["variants"][v]["accuracy_by_wells"]
    assert (tmp_path / "augmentations.png").exists()
    model = get_method("scientific-ml/welllog_augment").load_model(tmp_path / "model")
    assert isinstance(model, W.WellLogResNet1d)
    assert verify_saved_model(tmp_path / "model") < 1e-5
