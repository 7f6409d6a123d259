"""Tests of patrec.core.nn: l2_normalize, MLPHead, StagedBackbone, SmallCNN, cifar_resnet."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from patrec.core.errors import ConfigError, InputError
from patrec.core.nn import MLPHead, SmallCNN, StagedBackbone, cifar_resnet, l2_normalize


def test_l2_normalize_unit_rows_and_zero_row() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 7) * 10
    x[2] = 0.0
    y = l2_normalize(x)
    norms = y.norm(dim=1)
    assert torch.allclose(norms[[0, 1, 3, 4]], torch.ones(4), atol=1e-6)
    assert torch.equal(y[2], torch.zeros(7))  # no NaN for a zero vector
    # direction preserved
    assert torch.allclose(y[0] * x[0].norm(), x[0], atol=1e-5)
    # other dimension
    z = l2_normalize(x[[0, 1, 3, 4]], dim=0)
    assert torch.allclose(z.norm(dim=0), torch.ones(7), atol=1e-6)


def test_mlp_head_structure_and_shapes() -> None:
    torch.manual_seed(0)
    head = MLPHead(8, 16, 4, num_layers=3, bn=True)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    bns = [m for m in head.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(8, 16), (16, 16), (16, 4)]
    assert len(bns) == 2
    assert linears[0].bias is None and linears[-1].bias is not None
    assert head(torch.randn(5, 8)).shape == (5, 4)

    single = MLPHead(8, 16, 4, num_layers=1)
    assert [type(m) for m in single.net] == [nn.Linear]

    no_bn = MLPHead(8, 16, 4, num_layers=2, bn=False)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in no_bn.modules())
    assert no_bn(torch.randn(1, 8)).shape == (1, 4)  # no BN: batch of one is fine

    last = MLPHead(8, 16, 4, last_bn=True)
    assert isinstance(last.net[-1], nn.BatchNorm1d) and not last.net[-1].affine


def test_mlp_head_bad_input() -> None:
    head = MLPHead(8, 16, 4)
    with pytest.raises(InputError, match=r"\(B, 8\)"):
        head(torch.randn(3, 9))
    with pytest.raises(InputError):
        head(torch.randn(3, 8, 1))
    with pytest.raises(ConfigError):
        MLPHead(8, 16, 4, num_layers=0)


@pytest.mark.parametrize("size", [8, 16])
def test_small_cnn_stages(size: int) -> None:
    torch.manual_seed(0)
    net = SmallCNN(in_channels=1, num_classes=10, widths=(4, 8, 16))
    assert isinstance(net, StagedBackbone)
    assert net.stage_channels == (4, 8, 16) and net.num_stages == 3
    x = torch.randn(3, 1, size, size)
    feats = net.forward_features(x)
    assert [tuple(f.shape) for f in feats] == [
        (3, 4, size, size),
        (3, 8, size // 2, size // 2),
        (3, 16, size // 4, size // 4),
    ]
    net.eval()
    assert torch.allclose(net(x), net.head(net.forward_features(x)[-1]), atol=1e-6)
    assert net(x).shape == (3, 10)


def test_small_cnn_bad_input_and_config() -> None:
    net = SmallCNN(in_channels=1)
    with pytest.raises(InputError, match=r"\(B, 1, H, W\)"):
        net(torch.randn(2, 3, 8, 8))
    with pytest.raises(InputError):
        net(torch.randn(1, 8, 8))
    with pytest.raises(ConfigError):
        SmallCNN(widths=())
    with pytest.raises(ConfigError):
        SmallCNN(widths=(4, 0))


@pytest.mark.parametrize(
    ("depth", "channels"),
    [(18, (64, 128, 256, 512)), (34, (64, 128, 256, 512)), (50, (256, 512, 1024, 2048))],
)
def test_cifar_resnet_stages(depth: int, channels: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    net = cifar_resnet(depth, num_classes=7, in_channels=3)
    assert net.stage_channels == channels
    stem = net.stages[0]
    assert isinstance(stem, nn.Sequential)
    first = stem[0]
    assert isinstance(first, nn.Conv2d)
    assert first.kernel_size == (3, 3) and first.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())
    x = torch.randn(2, 3, 32, 32)
    feats = net.forward_features(x)
    sizes = (32, 16, 8, 4)
    assert [tuple(f.shape) for f in feats] == [
        (2, c, s, s) for c, s in zip(channels, sizes, strict=True)
    ]
    assert net(x).shape == (2, 7)


def test_cifar_resnet_grayscale_and_bad_depth() -> None:
    net = cifar_resnet(18, num_classes=3, in_channels=1)
    assert net(torch.randn(2, 1, 16, 16)).shape == (2, 3)
    with pytest.raises(ConfigError, match="18, 34, 50"):
        cifar_resnet(20)
    with pytest.raises(InputError):
        net(torch.randn(2, 3, 16, 16))


def test_shared_blocks_live_in_core_nn_which_imports_no_method_module():
    """Method modules import blocks from ``patrec.core.nn``, never the reverse."""
    import subprocess
    import sys

    code = (
        "import sys, patrec.core.nn as m; "
        "bad = sorted(k for k in sys.modules if k.startswith('patrec.') and k.split('.')[-1] "
        "in {'shnet', 'ncds', 'tsak', 'fedrewind', 'gradcam_fer', 'double_descent_bias'}); "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    import patrec.core.nn as cnn
    from patrec.core import shnet

    assert shnet.SHBlock is cnn.SHBlock and shnet.SEBlock is cnn.SEBlock
    assert shnet.PHMLinear is cnn.PHMLinear and cnn.SHBlock.__module__ == "patrec.core.nn"


def test_cbam_channel_then_spatial_attention_by_hand() -> None:
    from patrec.core.nn import CBAM

    torch.manual_seed(0)
    block = CBAM(8, reduction=4, kernel_size=3)
    x = torch.randn(2, 8, 5, 6)
    w0, w1 = block.channel.mlp[0].weight, block.channel.mlp[2].weight

    def mlp(z: torch.Tensor) -> torch.Tensor:
        return torch.relu(z @ w0.T) @ w1.T

    mc = torch.sigmoid(mlp(x.mean((2, 3))) + mlp(x.amax((2, 3))))  # CBAM eq. 2
    f1 = mc[:, :, None, None] * x
    s = torch.cat([f1.mean(1, keepdim=True), f1.amax(1, keepdim=True)], 1)
    ms = torch.sigmoid(torch.nn.functional.conv2d(s, block.spatial.conv.weight, padding=1))
    assert torch.allclose(block(x), ms * f1, atol=1e-6)  # eq. 1: channel first, then spatial
    assert block.channel.mlp[0].out_features == 2
    with pytest.raises(InputError, match="odd"):
        CBAM(8, kernel_size=4)
    with pytest.raises(InputError):
        block(torch.randn(2, 7, 5, 6))
