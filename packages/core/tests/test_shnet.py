"""Tests of the SHNet parts (patrec.core.shnet): PHM layer (eq. 2), SE/SH blocks (eq. 3),
RCN-SqueezeNext backbone, cost counters and the embedded leaf-lesion data.

Reference values are computed independently of the implementation: the Hamilton product from
its textbook formula, eq. 2's printed matrix, ``torch.kron`` and complex multiplication.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from patrec.core.errors import ConfigError, InputError
from patrec.core.shnet import (
    BLOCK_MULTIPLIERS,
    PHMLinear,
    RCNSqueezeNextBlock,
    SEBlock,
    SHBlock,
    SHNet,
    algebra_matrices,
    count_flops,
    count_params,
    leaf_lesions,
    shnet,
    shnet_small,
)


def _hamilton(p: list[float], q: list[float]) -> list[float]:
    """Quaternion product p q of (r, i, j, k) 4-tuples (textbook formula)."""
    a1, b1, c1, d1 = p
    a2, b2, c2, d2 = q
    return [
        a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2,
        a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
        a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2,
        a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2,
    ]


# ---------------------------------------------------------------------------------------
# PHM layer
# ---------------------------------------------------------------------------------------


def test_phm_with_n1_is_a_linear_layer():
    torch.manual_seed(0)
    phm = PHMLinear(7, 5, n=1)
    lin = nn.Linear(7, 5)
    assert count_params(phm) == count_params(lin) == 7 * 5 + 5
    with torch.no_grad():
        lin.weight.copy_(phm.S[0])
        phm.bias.copy_(torch.randn(5))
        lin.bias.copy_(phm.bias)
    x = torch.randn(3, 2, 7)
    torch.testing.assert_close(phm(x), lin(x))


@pytest.mark.parametrize(
    ("n", "a_mode"), [(2, "fixed"), (4, "fixed"), (4, "learned"), (8, "learned")]
)
def test_phm_holds_one_nth_of_the_dense_weights(n, a_mode):
    d, k = 16, 24
    phm = PHMLinear(d, k, n, a_mode=a_mode)
    dense = d * k
    assert phm.S.numel() == dense // n
    extra = n**3 if a_mode == "learned" else 0  # the learned A_i
    assert count_params(phm) == dense // n + extra + k
    assert phm.weight.shape == (k, d)


def test_quaternion_matrices_sum_to_eq2():
    pr, px, py, pz = 1.5, -2.0, 3.0, 0.5
    h = sum(c * a for c, a in zip((pr, px, py, pz), algebra_matrices(4), strict=True))
    eq2 = torch.tensor(
        [[pr, -px, -py, -pz], [px, pr, pz, -py], [py, -pz, pr, px], [pz, py, -px, pr]]
    )
    torch.testing.assert_close(h, eq2)


def test_quaternion_phm_computes_the_hamilton_product():
    torch.manual_seed(1)
    phm = PHMLinear(4, 4, n=4, bias=False)  # S_i are 1x1: the weight is one quaternion
    s = phm.S.detach().flatten().tolist()
    x = torch.randn(6, 4)
    y = phm(x)
    for row, out in zip(x.tolist(), y.tolist(), strict=True):
        assert out == pytest.approx(_hamilton(row, s), abs=1e-6)
    # |x s| = |x| |s| (the quaternion norm is multiplicative)
    torch.testing.assert_close(y.norm(dim=1), x.norm(dim=1) * phm.S.detach().norm())


def test_phm_weight_is_the_sum_of_kronecker_products():
    torch.manual_seed(2)
    for a_mode in ("fixed", "learned"):
        phm = PHMLinear(12, 8, n=4, a_mode=a_mode)
        ref = sum(torch.kron(phm.A[i], phm.S[i]) for i in range(4))
        torch.testing.assert_close(phm.weight, ref)


def test_block_quaternion_layer_follows_eq2_blockwise():
    torch.manual_seed(3)
    phm = PHMLinear(8, 12, n=4)
    x = torch.randn(5, 8)
    s1, s2, s3, s4 = phm.S.detach()
    xr, xi, xj, xk = x.split(2, dim=1)  # four components of in/N = 2 features

    def mm(s, v):
        return v @ s.T

    expect = torch.cat(
        [
            mm(s1, xr) - mm(s2, xi) - mm(s3, xj) - mm(s4, xk),
            mm(s2, xr) + mm(s1, xi) + mm(s4, xj) - mm(s3, xk),
            mm(s3, xr) - mm(s4, xi) + mm(s1, xj) + mm(s2, xk),
            mm(s4, xr) + mm(s3, xi) - mm(s2, xj) + mm(s1, xk),
        ],
        dim=1,
    )
    torch.testing.assert_close(phm(x), expect + phm.bias)


def test_complex_phm_is_complex_multiplication():
    torch.manual_seed(4)
    phm = PHMLinear(2, 2, n=2, bias=False)
    x = torch.randn(5, 2)
    w = torch.complex(phm.S[0, 0, 0], phm.S[1, 0, 0]).detach()
    z = torch.complex(x[:, 0], x[:, 1]) * w
    torch.testing.assert_close(phm(x), torch.stack([z.real, z.imag], dim=1))


def test_learned_a_trains_and_matches_fixed_when_set_to_quaternions():
    torch.manual_seed(5)
    fixed = PHMLinear(8, 4, n=4)
    learned = PHMLinear(8, 4, n=4, a_mode="learned")
    assert isinstance(learned.A, nn.Parameter) and not isinstance(fixed.A, nn.Parameter)
    assert "A" not in dict(fixed.named_parameters())
    x = torch.randn(3, 8)
    learned(x).sum().backward()
    assert learned.A.grad is not None and learned.A.grad.abs().sum() > 0
    with torch.no_grad():
        learned.A.copy_(algebra_matrices(4))
        learned.S.copy_(fixed.S)
        learned.bias.copy_(fixed.bias)
    torch.testing.assert_close(learned(x), fixed(x))


def test_phm_gradcheck():
    torch.manual_seed(6)
    phm = PHMLinear(4, 8, n=4).double()
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(phm, (x,))


def test_phm_bad_input():
    with pytest.raises(InputError, match="divisible by n=4"):
        PHMLinear(6, 8, n=4)
    with pytest.raises(InputError, match="out_features divisible"):
        PHMLinear(8, 6, n=4)
    with pytest.raises(InputError, match="a_mode='learned'"):
        PHMLinear(6, 6, n=3)
    PHMLinear(6, 6, n=3, a_mode="learned")  # any n when learned
    with pytest.raises(ConfigError, match="a_mode"):
        PHMLinear(8, 8, a_mode="octonion")
    with pytest.raises(InputError, match=">= 1"):
        PHMLinear(0, 8)
    phm = PHMLinear(8, 4)
    with pytest.raises(InputError, match=r"\(\*, 8\)"):
        phm(torch.randn(2, 6))
    with pytest.raises(InputError, match="float dtype"):
        phm(torch.ones(2, 8, dtype=torch.long))


# ---------------------------------------------------------------------------------------
# SE and SH blocks
# ---------------------------------------------------------------------------------------

BLOCKS = {
    "se": lambda c: SEBlock(c, 4),
    "sh": lambda c: SHBlock(c),
    "sh_learned": lambda c: SHBlock(c, a_mode="learned"),
    "sh_bottleneck": lambda c: SHBlock(c, 2),
    "sh_n2": lambda c: SHBlock(c, n=2),
}


@pytest.mark.parametrize("kind", list(BLOCKS))
@pytest.mark.parametrize("shape", [(3, 16, 5, 4), (2, 16, 7), (2, 16, 3, 2, 2)])
def test_blocks_rescale_each_channel_by_a_gate_in_0_1(kind, shape):
    torch.manual_seed(7)
    block = BLOCKS[kind](16)
    x = torch.randn(*shape) * 3
    y = block(x)
    assert y.shape == x.shape
    s = block.gate(x)
    assert s.shape == shape[:2]
    assert bool((s > 0).all()) and bool((s < 1).all())
    torch.testing.assert_close(y, x * s.reshape(*shape[:2], *([1] * (len(shape) - 2))))


def test_gate_depends_on_channel_means_only():
    torch.manual_seed(8)
    block = SHBlock(8)
    x = torch.randn(2, 8, 4, 4)
    shuffled = x.flatten(2)[:, :, torch.randperm(16)].reshape_as(x)  # eq. 3: only the mean counts
    torch.testing.assert_close(block.gate(x), block.gate(shuffled))
    const = x.mean(dim=(2, 3), keepdim=True).expand_as(x)
    torch.testing.assert_close(block.gate(x), block.gate(const))
    # and it is the sigmoid of the PHM layer applied to those means (Sec. 4)
    torch.testing.assert_close(block.gate(x), torch.sigmoid(block.phm1(x.mean(dim=(2, 3)))))


def test_sh_replaces_two_fc_layers_by_one_phm_layer():
    c = 64
    se, sh, shb = SEBlock(c, 16), SHBlock(c, 1, 4), SHBlock(c, 16, 4)
    assert count_params(se) == 2 * c * (c // 16) + c // 16 + c
    assert count_params(sh) == c * c // 4 + c  # one PHM C -> C, 1/4 of a dense C x C
    assert sh.phm2 is None and isinstance(sh.phm1, PHMLinear)
    # with SE's bottleneck, each FC layer keeps 1/N of SE's weights
    assert shb.phm1.S.numel() * 4 == se.fc1.weight.numel()
    assert shb.phm2 is not None and shb.phm2.S.numel() * 4 == se.fc2.weight.numel()


def test_sh_block_is_a_drop_in_module():
    torch.manual_seed(9)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), SHBlock(8), nn.AdaptiveAvgPool2d(1))
    net(torch.randn(2, 3, 6, 6)).sum().backward()
    assert net[1].phm1.S.grad is not None and net[1].phm1.S.grad.abs().sum() > 0


def test_block_bad_input():
    with pytest.raises(InputError, match="divisible by n=4"):
        SHBlock(30)
    with pytest.raises(InputError, match="divisible by n=2"):
        SHBlock(5, n=2)
    with pytest.raises(InputError, match=">= 1"):
        SEBlock(0)
    with pytest.raises(InputError, match=">= 1"):
        SHBlock(8, reduction=0)
    with pytest.raises(ConfigError, match="a_mode"):
        SHBlock(8, a_mode="free")
    for block in (SEBlock(8, 2), SHBlock(8)):
        with pytest.raises(InputError, match="feature map"):
            block(torch.randn(2, 8))  # rank 2: no spatial axis
        with pytest.raises(InputError, match="built for 8 channels"):
            block(torch.randn(2, 6, 3, 3))
        with pytest.raises(InputError, match="float dtype"):
            block(torch.ones(2, 8, 3, 3, dtype=torch.int64))
        with pytest.raises(InputError, match="non-empty"):
            block(torch.randn(2, 8, 0, 3))


# ---------------------------------------------------------------------------------------
# backbone and cost
# ---------------------------------------------------------------------------------------


def _blocks_per_stage(net: SHNet) -> list[int]:
    return [sum(isinstance(m, RCNSqueezeNextBlock) for m in s.modules()) for s in net.stages]


@pytest.mark.parametrize("arch", ["23-1", "44-2"])
def test_paper_architectures_use_the_block_multipliers(arch):
    net = shnet(arch, num_classes=5, attention="sh")
    depth, widen = (int(v) for v in arch.split("-"))
    assert _blocks_per_stage(net) == list(BLOCK_MULTIPLIERS[depth])
    assert net.stage_channels == tuple(c * widen for c in (32, 64, 128, 128))
    assert sum(1 for _ in net.attention_blocks()) == sum(BLOCK_MULTIPLIERS[depth])


def test_small_shnet_forward_and_stages():
    torch.manual_seed(10)
    net = shnet_small(num_classes=4)
    x = torch.randn(2, 3, 16, 16)
    assert net(x).shape == (2, 4)
    feats = net.forward_features(x)
    assert [f.shape[1] for f in feats] == [16, 32, 64, 64]
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]
    assert all(isinstance(b, SHBlock) for b in net.attention_blocks())
    only4 = shnet_small(attention="se", attention_stages=(4,))
    assert [type(b) for b in only4.attention_blocks()] == [SEBlock]
    assert list(shnet_small(attention="none").attention_blocks()) == []
    # SqueezeNext's ImageNet stem (7x7/2 conv, 3x3/2 max-pool) and the stride-2 CIFAR stem
    big = torch.randn(2, 3, 32, 32)
    assert [f.shape[-1] for f in shnet_small(stem="imagenet").forward_features(big)] == [8, 4, 2, 1]
    assert [f.shape[-1] for f in shnet_small(stem_stride=2).forward_features(big)] == [16, 8, 4, 2]


def test_attention_costs_parameters_in_the_expected_order():
    nets = {k: shnet_small(attention=k) for k in ("none", "se", "sh", "sh_bottleneck")}
    p = {k: count_params(v) for k, v in nets.items()}
    att = {k: sum(count_params(b) for b in v.attention_blocks()) for k, v in nets.items()}
    for k in ("se", "sh", "sh_bottleneck"):
        assert p[k] == p["none"] + att[k]
    # SE's bottleneck made hypercomplex holds fewer weights than SE; one C x C PHM layer more
    assert att["sh_bottleneck"] < att["se"] < att["sh"]


def test_count_flops_counts_multiply_adds_twice():
    assert count_flops(nn.Linear(10, 20), (3, 10)) == 2 * 3 * 10 * 20
    conv = nn.Conv2d(2, 4, 3, padding=1, bias=False)
    assert count_flops(conv, (1, 2, 5, 5)) == 2 * 4 * 2 * 9 * 25
    net = shnet_small(attention="none")
    net.train()
    f = count_flops(net, (1, 3, 16, 16))
    assert net.training  # mode restored
    assert count_flops(net, (2, 3, 16, 16)) == 2 * f
    with pytest.raises(InputError, match="input_shape"):
        count_flops(net, (0, 3, 16, 16))


def test_backbone_bad_config():
    with pytest.raises(ConfigError, match="arch"):
        shnet("23-3")
    with pytest.raises(ConfigError, match="four stages"):
        SHNet(4, blocks=(1, 1, 1))
    with pytest.raises(ConfigError, match="attention"):
        shnet_small(attention="cbam")
    with pytest.raises(ConfigError, match="attention_stages"):
        shnet_small(attention_stages=(0, 5))
    with pytest.raises(InputError, match="divisible by n=4"):
        shnet_small(attention="sh", base_widths=(34, 64, 128, 256), width=1.0)
    with pytest.raises(InputError, match="expected images"):
        shnet_small()(torch.randn(2, 1, 16, 16))


# ---------------------------------------------------------------------------------------
# embedded data
# ---------------------------------------------------------------------------------------


def test_leaf_lesions_data():
    d = leaf_lesions(per_class=12, image_size=16, test_fraction=0.25, seed=3)
    assert d.x_train.shape == (36, 3, 16, 16) and d.x_test.shape == (12, 3, 16, 16)
    assert d.num_classes == 4 and torch.bincount(d.y_test).tolist() == [3, 3, 3, 3]
    assert float(d.x_train.min()) >= 0.0 and float(d.x_train.max()) <= 1.0
    again = leaf_lesions(per_class=12, image_size=16, test_fraction=0.25, seed=3)
    assert torch.equal(d.x_train, again.x_train)
    other = leaf_lesions(per_class=12, image_size=16, test_fraction=0.25, seed=4)
    assert not torch.equal(d.x_train, other.x_train)
    # lesions are brown/orange/tan on green: red minus green is largest where there are lesions
    x = torch.cat([d.x_train, d.x_test])
    y = torch.cat([d.y_train, d.y_test])
    redness = (x[:, 0] - x[:, 1]).amax(dim=(1, 2))
    healthy = redness[y == 0].mean()
    for c in (1, 2, 3):
        assert redness[y == c].mean() > healthy + 0.1
    with pytest.raises(InputError, match="image_size"):
        leaf_lesions(image_size=4)
