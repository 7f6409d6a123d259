"""LungSSFNet parts: SimAM (eq. 4, 6), fusion unit (eqs. 1-2), DCT attention (eq. 7), SA (eq. 8),
SSF block (eqs. 5-10), CBAM, the variants' block counts, pixel metrics, bad input, and the
recipe end to end (saved model included)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from torch import nn

from patrec.core import get_method
from patrec.core.errors import ConfigError, InputError
from patrec.core.hub import verify_saved_model
from patrec.core.segmentation import DoubleConv, SegmentationData, UNet
from patrec.medical_imaging.lungssfnet import (
    CBAM,
    SIMAM_LAMBDA,
    VARIANTS,
    FrequencyChannelAttention,
    LungSSFNet,
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
    make_model,
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
    with pytest.raises(InputError, match="up must have H = 6"):
        u(torch.randn(1, 4, 6, 6), torch.randn(1, 4, 4, 4))
    with pytest.raises(InputError, match="fusion attention"):
        SkipFusionUnit(0, 4, 4, attention="se")


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
    with pytest.raises(InputError, match="C = 4"):
        ssf(torch.randn(1, 3, 8, 8))
    with pytest.raises(InputError, match="even"):
        ssf(torch.randn(1, 4, 7, 8))
    with pytest.raises(InputError, match="K=4"):
        ssf(torch.randn(1, 4, 2, 2))  # the pooled branch is 1x1: one DCT component
    with pytest.raises(InputError, match="4 dimensions"):
        ssf(torch.randn(4, 8, 8))
    with pytest.raises(InputError, match="float"):
        ssf(torch.ones(1, 4, 8, 8, dtype=torch.long))


# -- CBAM (the LungCBAM ablation) ---------------------------------------------------------------
def test_cbam_channel_then_spatial_by_its_definition():
    torch.manual_seed(0)
    cbam = CBAM(8, reduction=2)
    x = torch.randn(2, 8, 6, 5)
    mlp = cbam.channel.mlp
    # M_c = sigmoid(MLP(avg) + MLP(max)) with one shared MLP, W_1 ReLU(W_0 .), no biases
    assert [type(m) for m in mlp] == [nn.Linear, nn.ReLU, nn.Linear]
    assert mlp[0].weight.shape == (4, 8) and mlp[0].bias is None and mlp[2].bias is None
    mc = torch.sigmoid(mlp(x.mean((2, 3))) + mlp(x.amax((2, 3))))
    f1 = mc[:, :, None, None] * x
    # M_s = sigmoid(conv7x7([mean_c F'; max_c F'])), applied to F' (channel first)
    assert cbam.spatial.conv.kernel_size == (7, 7)
    ms = torch.sigmoid(cbam.spatial.conv(torch.cat([f1.mean(1, keepdim=True),
                                                    f1.amax(1, keepdim=True)], 1)))  # fmt: skip
    assert torch.allclose(cbam(x), ms * f1, atol=1e-6)
    # the order matters: spatial-then-channel gives another answer
    assert not torch.allclose(cbam(x), cbam.channel(cbam.spatial(x)), atol=1e-4)
    with pytest.raises(InputError, match="C = 8"):
        cbam(torch.randn(1, 3, 4, 4))


def test_fusion_unit_with_cbam_replaces_simam_in_eq2():
    torch.manual_seed(0)
    u = SkipFusionUnit(0, 4, 4, attention="cbam", reduction=2)
    assert isinstance(u.attend, CBAM) and not any(isinstance(m, SimAM) for m in u.modules())
    skip, up = torch.randn(2, 4, 6, 6), torch.randn(2, 4, 6, 6)
    assert torch.allclose(u(skip, up), u.cat_conv(torch.cat([u.attend(up), skip], 1)), atol=1e-6)


# -- SSF block and networks ---------------------------------------------------------------------
def test_lungssfnet_network_structure_and_forward():
    torch.manual_seed(0)
    net = build_lungssfnet(3, (4, 8, 16), k=4, reduction=2)
    assert isinstance(net, UNet) and isinstance(net, LungSSFNet)
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
    with pytest.raises(InputError, match="ssf_where"):
        LungSSFNet(3, (4, 8), ssf_where="middle")


def test_variants_have_the_papers_block_counts_and_attention():
    m = get_method("medical-imaging/lungssfnet")
    paper = m.make_config("paper")
    # the counts depend on the depth only: the paper preset's depth with narrow levels
    narrow = tuple(4 * 2**i for i in range(len(paper.model.widths)))
    cfg = dataclasses.replace(paper, model=dataclasses.replace(paper.model, widths=narrow, k=4))
    counts = {}
    for v in VARIANTS:
        net = make_model(cfg, v, 3)
        counts[v] = sum(isinstance(b, SSFBlock) for b in net.modules())
        cbams = sum(isinstance(b, CBAM) for b in net.modules())
        fusions = sum(isinstance(b, SkipFusionUnit) for b in net.modules())
        assert cbams == (3 if v == "lung_cbam" else 0), v
        assert fusions == (0 if v == "unet" else 3), v
    # Sec. 4.5: LungSSFNet has 4 SSF blocks, LungSSF1 has 7 (Table 3)
    assert counts == {"unet": 0, "lung_cbam": 0, "lung_simam": 0, "lungssf1": 7, "lungssfnet": 4}
    params = {v: sum(p.numel() for p in make_model(cfg, v, 3).parameters()) for v in VARIANTS}
    assert params["lungssf1"] > params["lungssfnet"] > params["lung_cbam"] > params["unet"]
    assert params["lung_cbam"] > params["lung_simam"]  # CBAM has weights, SimAM has none
    smoke = m.make_config("smoke")
    assert make_model(smoke, "lungssfnet", 3).num_ssf_blocks == 4
    assert make_model(smoke, "lungssf1", 3).num_ssf_blocks == 7


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
    with pytest.raises(InputError, match="one class"):
        two = torch.cat([y, y], 1)
        train_variant(cfg, "unet", 0, Raw(x, two, x, two))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="variant"):
        train_variant(cfg, "bogus", 0, data)


def test_bad_configs():
    m = get_method("medical-imaging/lungssfnet")
    with pytest.raises(ConfigError, match="variants"):
        m.make_config("smoke", ["variants=unet,foo"])
    with pytest.raises(ConfigError, match="multiple of 8"):
        m.make_config("smoke", ["data.size=36"])
    with pytest.raises(ConfigError, match="multiple of 16"):
        m.make_config("smoke", ["data.size=40"])  # the deepest SSF level is pooled once
    m.make_config("smoke", ["data.size=40", "variants=unet,lung_simam"])  # no SSF: fine
    with pytest.raises(ConfigError, match="model.k"):
        m.make_config("smoke", ["model.k=64"])
    with pytest.raises(ConfigError, match="data.name"):
        m.make_config("smoke", ["data.name=foo"])
    with pytest.raises(ConfigError, match="momentum"):
        m.make_config("smoke", ["optim.momentum=1.5"])
    with pytest.raises(ConfigError, match="widths"):
        m.make_config("smoke", ["model.widths=[8]"])


def test_presets():
    m = get_method("medical-imaging/lungssfnet")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.optim.name == "sgd" and paper.optim.lr == 0.01 and paper.optim.momentum == 0.99
    assert paper.optim.weight_decay == 3e-5 and paper.train.batch_size == 7
    assert paper.train.epochs == 500 and len(paper.model.widths) == 4
    assert "not stated" in type(paper.model).__dataclass_fields__["k"].metadata["source"]
    assert smoke.data.name == "lesion" and smoke.variants == VARIANTS


def test_recipe_end_to_end(tmp_path):
    m = get_method("medical-imaging/lungssfnet")
    extra = ["seeds=0,1", "variants=unet,lungssfnet"]
    cfg = m.make_config("smoke", [*m.test_overrides, *extra])
    metrics = recipe(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "lungssfnet" and set(saved["compare"]) == {"unet"}
    for name in ("dice.png", "iou.png", "hd95.png", "train_loss_curves.png",
                 "examples_unet.png", "examples_lungssfnet.png"):  # fmt: skip
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    v = metrics["variants"]
    for var in ("unet", "lungssfnet"):
        assert v[var]["dice"]["n"] == 2
        for key in ("dice", "iou", "accuracy", "precision", "recall", "f1"):
            assert 0.0 <= v[var][key]["mean"] <= 1.0, (var, key)
        assert 0.0 <= v[var]["hd95"]["mean"] <= math.hypot(16, 16)
    assert v["lungssfnet"]["params"] > v["unet"]["params"]
    assert v["lungssfnet"]["ssf_blocks"] == 2 and v["unet"]["ssf_blocks"] == 0
    # <out>/model/ is LungSSFNet (first seed) and reproduces its saved outputs
    loaded = m.load_model(tmp_path / "model")
    assert isinstance(loaded, LungSSFNet) and loaded.num_ssf_blocks == 2
    assert verify_saved_model(tmp_path / "model", m.model) < 1e-5
    # a finished run is read back, not retrained
    stamp = (tmp_path / "runs/unet/seed0/result.json").stat().st_mtime_ns
    again = recipe(cfg, tmp_path)
    assert (tmp_path / "runs/unet/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"] == metrics["variants"]
