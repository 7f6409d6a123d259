"""LungSSFNet parts: SimAM (eq. 4, 6), fusion unit (eqs. 1-2), DCT attention (eq. 7), SA (eq. 8),
SSF block (eqs. 5-10), the networks, bad input, and the recipe end to end."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from patrec.core import get_method
from patrec.core.errors import ConfigError, InputError
from patrec.core.segmentation import DoubleConv, SegmentationData, UNet
from patrec.medical_imaging.lungssfnet import (
    SIMAM_LAMBDA,
    FrequencyChannelAttention,
    SimAM,
    SkipFusionUnit,
    SpatialAttention,
    SSFBlock,
    SSFLevel,
    build_lungssfnet,
    build_unet,
    dct_basis,
    dct_pool,
    lowest_frequencies,
    recipe,
    simam,
    train_variant,
)


# -- SimAM ------------------------------------------------------------------------------------
def test_simam_has_no_parameters_and_keeps_shape():
    m = SimAM()
    assert sum(p.numel() for p in m.parameters()) == 0 and len(list(m.buffers())) == 0
    x = torch.randn(2, 3, 5, 4)
    assert m(x).shape == x.shape


def test_simam_matches_hand_computed_energy():
    # one channel, values 1, 2, 3, 6: mu = 3, sum (x - mu)^2 = 4 + 1 + 0 + 9 = 14, M - 1 = 3
    vals = [1.0, 2.0, 3.0, 6.0]
    x = torch.tensor(vals, dtype=torch.float64).reshape(1, 1, 2, 2)
    lam = SIMAM_LAMBDA
    mu, var = 3.0, 14.0 / 3.0
    expected = []
    for t in vals:
        e_t = 4 * (var + lam) / ((t - mu) ** 2 + 2 * var + 2 * lam)  # eq. 4
        expected.append(t / (1 + math.exp(-1 / e_t)))  # eq. 6: sigmoid(1 / e) * t
    got = simam(x, lam).flatten().tolist()
    assert got == pytest.approx(expected, rel=1e-12)
    assert lam == 1e-4


def test_simam_weights_the_outlier_most():
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 5.0
    x[0, 0, 0, 0] = 1.0
    w = simam(x) / x.where(x != 0, torch.ones_like(x))
    assert w[0, 0, 1, 1] > w[0, 0, 0, 0]  # the more separable neuron matters more


# -- skip fusion unit -------------------------------------------------------------------------
def test_fusion_unit_initial_alpha_beta_is_concat_then_conv():
    torch.manual_seed(0)
    u = SkipFusionUnit(0, 4, 4)
    assert u.alpha.item() == 1.0 and u.beta.item() == 0.0 and u.out_channels == 4
    skip, up = torch.randn(2, 4, 6, 6), torch.randn(2, 4, 6, 6)
    expected = u.cat_conv(torch.cat([simam(up), skip], dim=1))  # eq. 2 then Conv (eq. 1)
    assert torch.allclose(u(skip, up), expected, atol=1e-6)


def test_fusion_unit_subtraction_branch_and_sum():
    torch.manual_seed(0)
    u = SkipFusionUnit(1, 3, 3, alpha=0.0, beta=1.0)
    skip, up = torch.randn(1, 3, 4, 4), torch.randn(1, 3, 4, 4)
    assert torch.allclose(u(skip, up), u.sub_conv((up - skip).abs()), atol=1e-6)
    # the difference path is symmetric in its two inputs: |a - b| = |b - a|
    assert torch.allclose(u.sub_conv((up - skip).abs()), u.sub_conv((skip - up).abs()))
    with torch.no_grad():
        u.alpha.fill_(0.5)
        u.beta.fill_(2.0)
    full = 0.5 * u.cat_conv(torch.cat([simam(up), skip], 1)) + 2.0 * u.sub_conv((up - skip).abs())
    assert torch.allclose(u(skip, up), full, atol=1e-6)
    # alpha and beta learn
    u(skip, up).sum().backward()
    assert u.alpha.grad is not None and u.beta.grad is not None and float(u.beta.grad) != 0.0


def test_fusion_unit_bad_input():
    with pytest.raises(InputError, match="equal positive channels"):
        SkipFusionUnit(0, 4, 8)
    u = SkipFusionUnit(0, 4, 4)
    with pytest.raises(InputError, match="one shape"):
        u(torch.randn(1, 4, 6, 6), torch.randn(1, 4, 4, 4))


# -- DCT ----------------------------------------------------------------------------------------
def test_dct_basis_00_is_global_average_pooling_times_hw():
    x = torch.randn(2, 3, 5, 7)
    assert torch.equal(dct_basis(0, 0, 5, 7), torch.ones(5, 7))
    d = dct_pool(x, [(0, 0)])[..., 0]
    assert torch.allclose(d, x.mean(dim=(2, 3)) * 5 * 7, atol=1e-5)


def test_dct_bases_are_orthogonal():
    h, w = 4, 6
    b = torch.stack([dct_basis(u, v, h, w) for u in range(h) for v in range(w)]).double()
    gram = b.flatten(1) @ b.flatten(1).T
    off = gram - torch.diag(torch.diag(gram))
    assert off.abs().max() < 1e-5
    # norms: H W / 4 for u, v > 0, H W / 2 with one zero index, H W for (0, 0)
    assert gram[0, 0] == pytest.approx(h * w, abs=1e-5)
    assert gram[w + 1, w + 1] == pytest.approx(h * w / 4, abs=1e-5)


def test_lowest_frequencies_and_k_too_large():
    assert lowest_frequencies(4, 3, 3) == [(0, 0), (0, 1), (1, 0), (0, 2)]
    with pytest.raises(InputError, match="only 4"):
        lowest_frequencies(5, 2, 2)
    fca = FrequencyChannelAttention(4, k=20)
    with pytest.raises(InputError, match="K=20"):
        fca(torch.randn(1, 4, 4, 4))


def test_frequency_attention_with_only_00_is_pooled_channel_attention():
    torch.manual_seed(0)
    fca = FrequencyChannelAttention(8, k=1, reduction=2)
    y = torch.randn(3, 8, 5, 5)
    z_avg, z_max, z_min = y.mean((2, 3)), y.amax((2, 3)), y.amin((2, 3))
    expected = torch.sigmoid(fca.fc(z_avg) + fca.fc(z_max) + fca.fc(z_min))
    assert torch.allclose(fca.attention(y), expected, atol=1e-6)
    assert torch.allclose(fca(y), expected[:, :, None, None] * y, atol=1e-6)
    # with more frequencies the attention differs (the extra bases carry information)
    fca.k = 4
    assert not torch.allclose(fca.attention(y), expected, atol=1e-4)


def test_spatial_attention_in_unit_interval_and_shapes():
    torch.manual_seed(0)
    sa = SpatialAttention()
    y = 10 * torch.randn(2, 5, 6, 6)
    a = sa.attention(y)
    assert a.shape == (2, 1, 6, 6) and bool((a > 0).all()) and bool((a < 1).all())
    assert sa(y).shape == y.shape
    with pytest.raises(InputError, match="odd"):
        SpatialAttention(4)


# -- SSF block and networks ---------------------------------------------------------------------
def test_ssf_block_shapes_and_residual():
    torch.manual_seed(0)
    ssf = SSFBlock(6, k=4, reduction=2)
    y = torch.randn(2, 6, 8, 8)
    br = ssf.branches(y)
    assert [tuple(b.shape) for b in br] == [(2, 6, 8, 8), (2, 6, 4, 4), (2, 6, 8, 8)]
    out = ssf(y)
    assert out.shape == y.shape
    # eq. 10: with every fusion conv zeroed the block is the identity
    for conv in ssf.fuse:
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    assert torch.equal(ssf(y), y)


def test_ssf_block_bad_input():
    ssf = SSFBlock(4, k=4)
    with pytest.raises(InputError, match="4 channels"):
        ssf(torch.randn(1, 3, 8, 8))
    with pytest.raises(InputError, match="even"):
        ssf(torch.randn(1, 4, 7, 8))
    with pytest.raises(InputError, match="K=4"):
        ssf(torch.randn(1, 4, 2, 2))  # the pooled branch is 1x1: one DCT component
    with pytest.raises(InputError, match="float"):
        ssf(torch.randn(4, 8, 8))


def test_lungssfnet_network_structure_and_forward():
    torch.manual_seed(0)
    net = build_lungssfnet(3, (4, 8, 16), k=4, reduction=2)
    assert isinstance(net, UNet)
    assert all(isinstance(b, SSFLevel) for b in net.encoder)  # one SSF per encoder level
    assert all(isinstance(b, DoubleConv) for b in net.decoder)
    assert all(isinstance(f, SkipFusionUnit) for f in net.fusions)
    assert net(torch.rand(2, 3, 16, 16)).shape == (2, 1, 16, 16)
    every = build_lungssfnet(3, (4, 8, 16), ssf_where="all", k=4, reduction=2)
    assert sum(isinstance(m, SSFBlock) for m in every.modules()) == 5  # 3 encoder + 2 decoder
    base = build_unet(3, (4, 8, 16))
    assert not any(isinstance(m, (SSFBlock, SkipFusionUnit, SimAM)) for m in base.modules())
    su = build_lungssfnet(3, (4, 8, 16), use_ssf=False)
    assert not any(isinstance(m, SSFBlock) for m in su.modules())
    with pytest.raises(ConfigError):
        build_lungssfnet(3, (4, 8), ssf_where="middle")
    with pytest.raises(InputError):
        net(torch.rand(2, 1, 16, 16))


def _tiny_data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 16, 16, generator=g)
    y = torch.zeros(4, 1, 16, 16, dtype=torch.bool)
    y[:, :, 4:10, 5:11] = True
    return x, y


def test_training_rejects_non_binary_and_mismatched_masks():
    from dataclasses import dataclass

    cfg = get_method("medical-imaging/lungssfnet").make_config("smoke")
    x, y = _tiny_data()
    data = SegmentationData(x, y, x, y, ("lesion",))

    @dataclass
    class Raw:  # bypasses SegmentationData's own checks to reach train_variant's
        x_train: torch.Tensor
        y_train: torch.Tensor
        x_test: torch.Tensor
        y_test: torch.Tensor

    with pytest.raises(InputError, match="binary"):
        train_variant(cfg, "unet", 0, Raw(x, y.float() * 0.5, x, y))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="differ"):
        train_variant(cfg, "unet", 0, Raw(x, y[..., :8], x, y))  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"\(N, C, H, W\)"):
        train_variant(cfg, "unet", 0, Raw(x[0], y[0], x, y))  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        train_variant(cfg, "bogus", 0, data)


def test_bad_configs():
    m = get_method("medical-imaging/lungssfnet")
    with pytest.raises(ConfigError, match="variants"):
        recipe(m.make_config("smoke", ["variants=unet,foo"]), "/tmp/never")
    with pytest.raises(ConfigError, match="multiple"):
        recipe(m.make_config("smoke", ["data.size=30"]), "/tmp/never")
    with pytest.raises(ConfigError, match="model.k"):
        recipe(m.make_config("smoke", ["model.k=64"]), "/tmp/never")
    with pytest.raises(ConfigError, match="data.name"):
        recipe(m.make_config("smoke", ["data.name=foo"]), "/tmp/never")


def test_presets():
    m = get_method("medical-imaging/lungssfnet")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.optim.name == "sgd" and paper.optim.lr == 0.01 and paper.optim.momentum == 0.99
    assert paper.optim.weight_decay == 3e-5 and paper.train.batch_size == 7
    assert paper.train.epochs == 500 and paper.model.k == 16
    assert smoke.data.name == "lesion" and set(smoke.variants) == {"unet", "lungssfnet"}


def test_recipe_end_to_end(tmp_path):
    m = get_method("medical-imaging/lungssfnet")
    cfg = m.make_config(
        "smoke",
        ["train.epochs=2", "seeds=0,1", "data.n_train=8", "data.n_test=4", "data.size=16",
         "model.widths=4,8", "model.k=4", "model.reduction=2"],
    )  # fmt: skip
    metrics = recipe(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "lungssfnet" and set(saved["compare"]) == {"unet"}
    for name in ("dice.png", "hd95.png", "train_loss_curves.png", "examples_unet.png",
                 "examples_lungssfnet.png"):  # fmt: skip
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    v = metrics["variants"]
    for var in ("unet", "lungssfnet"):
        assert v[var]["dice"]["n"] == 2
        assert 0.0 <= v[var]["dice"]["mean"] <= 1.0 and 0.0 <= v[var]["iou"]["mean"] <= 1.0
        assert 0.0 <= v[var]["hd95"]["mean"] <= math.hypot(16, 16)
    assert v["lungssfnet"]["params"] > v["unet"]["params"]
    # a finished run is read back, not retrained
    stamp = (tmp_path / "runs/unet/seed0/result.json").stat().st_mtime_ns
    again = recipe(cfg, tmp_path)
    assert (tmp_path / "runs/unet/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"] == metrics["variants"]
