"""Building blocks shared by patrec methods.

- :func:`l2_normalize`: unit-length rows.
- :class:`MLPHead`: ``Linear-BN-ReLU-...-Linear``, the SimSiam-style projection / prediction MLP.
- :class:`StagedBackbone`: a CNN split into stages whose feature maps a method can tap
  (deep supervision, feature distillation, ...), with a classifier ``head`` on the last one.
- :class:`SmallCNN` (tiny images such as scikit-learn digits) and :func:`cifar_resnet`
  (torchvision ResNet-18/34/50 with the usual CIFAR stem), both :class:`StagedBackbone`.
- Attention blocks for any ``(B, C, H, W)`` feature map, defined with the method that
  introduced them and re-exported here: ``SEBlock``, ``SHBlock`` and ``PHMLinear``
  (:mod:`patrec.core.shnet`). ``from patrec.core.nn import SHBlock`` works.

Invalid constructor arguments raise :class:`~patrec.core.errors.ConfigError`; tensors of the
wrong shape raise :class:`~patrec.core.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patrec.core.errors import ConfigError, InputError
from patrec.core.hub import PretrainedModel

if TYPE_CHECKING:
    from patrec.core.shnet import PHMLinear, SEBlock, SHBlock

__all__ = [
    "ClassifierHead",
    "MLPHead",
    "PHMLinear",
    "SEBlock",
    "SHBlock",
    "SmallCNN",
    "StagedBackbone",
    "cifar_resnet",
    "l2_normalize",
]

_REEXPORTS = {"SEBlock": "shnet", "SHBlock": "shnet", "PHMLinear": "shnet"}


def __getattr__(name: str) -> object:
    """Re-exported blocks, imported on first use (their modules import this one)."""
    if name in _REEXPORTS:
        import importlib

        return getattr(importlib.import_module(f"patrec.core.{_REEXPORTS[name]}"), name)
    raise AttributeError(f"module 'patrec.core.nn' has no attribute {name!r}")


def l2_normalize(x: Tensor, dim: int = -1, eps: float = 1e-12) -> Tensor:
    """Scale ``x`` to unit L2 norm along ``dim``.

    Args:
        x: a tensor of any shape, e.g. ``(B, D)`` embeddings.
        dim: the dimension normalised.
        eps: lower bound on the norm, so that a zero vector stays zero instead of NaN.

    Returns:
        A tensor of the shape of ``x`` whose slices along ``dim`` have norm 1 (or are 0).
    """
    return F.normalize(x, p=2.0, dim=dim, eps=eps)


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return value


class MLPHead(nn.Module):
    """A multi-layer perceptron ``Linear-BN-ReLU-...-Linear`` (SimSiam's projector/predictor).

    ``num_layers`` Linear layers in all; every one but the last is followed by
    ``BatchNorm1d`` (when ``bn``) and ReLU. ``last_bn=True`` adds a BatchNorm1d (without
    affine parameters) after the last Linear, as SimSiam's projection MLP does.

    Shapes:
        input ``(B, in_dim)`` -> output ``(B, out_dim)``. With ``bn`` in training mode, ``B``
        must be at least 2 (a BatchNorm1d requirement).

    Args:
        in_dim: input features.
        hidden_dim: width of the hidden layers (the bottleneck of a prediction MLP).
        out_dim: output features.
        num_layers: number of Linear layers, at least 1 (1 gives a single Linear).
        bn: BatchNorm1d after each hidden Linear (whose bias is then dropped).
        last_bn: BatchNorm1d (affine=False) after the output Linear.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        bn: bool = True,
        last_bn: bool = False,
    ) -> None:
        super().__init__()
        self.in_dim = _positive_int("in_dim", in_dim)
        self.hidden_dim = _positive_int("hidden_dim", hidden_dim)
        self.out_dim = _positive_int("out_dim", out_dim)
        self.num_layers = _positive_int("num_layers", num_layers)
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(d, hidden_dim, bias=not bn))
            if bn:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(nn.ReLU(inplace=True))
            d = hidden_dim
        layers.append(nn.Linear(d, out_dim, bias=not last_bn))
        if last_bn:
            layers.append(nn.BatchNorm1d(out_dim, affine=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in_dim)`` -> ``(B, out_dim)``."""
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise InputError(
                f"MLPHead expected a (B, {self.in_dim}) tensor, got shape {tuple(x.shape)}"
            )
        out: Tensor = self.net(x)
        return out

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, hidden_dim={self.hidden_dim}, out_dim={self.out_dim}, "
            f"num_layers={self.num_layers}"
        )


class ClassifierHead(nn.Module):
    """Global average pooling followed by a Linear classifier.

    Shapes:
        ``(B, C, H, W)`` -> ``(B, num_classes)`` logits.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(_positive_int("in_channels", in_channels), num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, H, W)`` -> ``(B, num_classes)``."""
        out: Tensor = self.fc(torch.flatten(self.pool(x), 1))
        return out


class StagedBackbone(nn.Module):
    """A classifier made of ``K`` sequential stages plus a classifier head.

    ``forward_features(x)`` returns the output feature map of every stage;
    ``forward(x) = head(forward_features(x)[-1])`` gives the logits. Methods that supervise
    intermediate layers (e.g. :mod:`patrec.core.ncds`) tap the stage outputs and drop their
    own modules at inference, leaving this backbone unchanged.

    Attributes:
        stages: the ``K`` stages, applied in order.
        stage_channels: channels of each stage's output, length ``K``.
        head: the classifier on the last stage's feature map (:class:`ClassifierHead`).
        in_channels: channels of the input images.
        num_classes: number of logits.

    Args:
        stages: the stage modules, each ``(B, C_{k-1}, H, W) -> (B, C_k, H', W')``.
        stage_channels: ``C_1 .. C_K``.
        in_channels: channels of the input images (``C_0``).
        num_classes: number of classes.
    """

    stages: nn.ModuleList
    stage_channels: tuple[int, ...]
    head: nn.Module

    def __init__(
        self,
        stages: Sequence[nn.Module],
        stage_channels: Sequence[int],
        in_channels: int,
        num_classes: int,
    ) -> None:
        super().__init__()
        if len(stages) == 0 or len(stages) != len(stage_channels):
            raise ConfigError(
                "expected one output channel count per stage and at least one stage, got "
                f"{len(stages)} stages and stage_channels={tuple(stage_channels)}"
            )
        self.in_channels = _positive_int("in_channels", in_channels)
        self.num_classes = _positive_int("num_classes", num_classes)
        self.stages = nn.ModuleList(stages)
        self.stage_channels = tuple(int(c) for c in stage_channels)
        self.head = ClassifierHead(self.stage_channels[-1], num_classes)

    @property
    def num_stages(self) -> int:
        """``K``, the number of stages."""
        return len(self.stages)

    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != self.in_channels:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise InputError(
                f"{type(self).__name__} expected images of shape (B, {self.in_channels}, H, W), "
                f"got {got}"
            )

    def forward_features(self, x: Tensor) -> list[Tensor]:
        """The feature map after each stage.

        Args:
            x: images ``(B, C_0, H, W)``.

        Returns:
            ``K`` tensors, the k-th of shape ``(B, stage_channels[k], H_k, W_k)``.
        """
        self._check_input(x)
        feats: list[Tensor] = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` of images ``(B, C_0, H, W)``."""
        out: Tensor = self.head(self.forward_features(x)[-1])
        return out


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class SmallCNN(StagedBackbone, PretrainedModel):
    """A tiny staged CNN for small images (scikit-learn digits 8x8, 16x16 glyphs, ...).

    Stage ``k`` is ``conv3x3-BN-ReLU, conv3x3-BN-ReLU`` with ``widths[k]`` channels; every
    stage after the first starts with a stride-2 convolution, so an ``H x W`` input gives
    maps of ``H x W``, ``H/2 x W/2``, ``H/4 x W/4``, ... (rounded up). Intended inputs are
    8x8 to 32x32; with the default three stages an 8x8 image ends at 2x2.

    Shapes:
        ``(B, in_channels, H, W)`` -> logits ``(B, num_classes)``.

    Args:
        in_channels: image channels (1 for digits).
        num_classes: number of classes.
        widths: channels of each stage; its length is the number of stages ``K``.
    """

    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, widths: Sequence[int] = (16, 32, 64)
    ) -> None:
        widths = tuple(widths)
        if len(widths) == 0:
            raise ConfigError("SmallCNN needs at least one stage width, got widths=()")
        for w in widths:
            _positive_int("each of widths", w)
        stages: list[nn.Module] = []
        c_in = _positive_int("in_channels", in_channels)
        for k, w in enumerate(widths):
            stride = 1 if k == 0 else 2
            stages.append(nn.Sequential(*_conv_bn_relu(c_in, w, stride), *_conv_bn_relu(w, w)))
            c_in = w
        super().__init__(stages, widths, in_channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


_RESNET_DEPTHS = (18, 34, 50)


class CifarResNet(StagedBackbone):
    """A torchvision ResNet with the CIFAR stem, as a :class:`StagedBackbone`.

    See :func:`cifar_resnet`.
    """


def cifar_resnet(depth: int = 18, num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    """ResNet-18/34/50 from ``torchvision.models`` adapted to 32x32 images (CIFAR).

    The ImageNet stem (7x7 stride-2 convolution and max-pooling) is replaced by a 3x3
    stride-1 convolution without max-pooling, as is standard for CIFAR. The four stages are
    ``stem + layer1`` (32x32), ``layer2`` (16x16), ``layer3`` (8x8) and ``layer4`` (4x4),
    with ``(64, 128, 256, 512)`` channels, times 4 for the bottleneck ResNet-50. Randomly
    initialised (no pretrained weights). Any input of at least 8x8 works; 32x32 is intended.

    Shapes:
        ``(B, in_channels, 32, 32)`` -> logits ``(B, num_classes)``.

    Args:
        depth: 18, 34 or 50.
        num_classes: number of classes.
        in_channels: image channels.
    """
    from torchvision.models import resnet

    if depth not in _RESNET_DEPTHS:
        raise ConfigError(f"cifar_resnet depth must be one of {_RESNET_DEPTHS}, got {depth!r}")
    _positive_int("num_classes", num_classes)
    _positive_int("in_channels", in_channels)
    builder = {18: resnet.resnet18, 34: resnet.resnet34, 50: resnet.resnet50}[depth]
    tv = builder(weights=None, num_classes=num_classes)
    conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(conv1.weight, mode="fan_out", nonlinearity="relu")
    stages: list[nn.Module] = [
        nn.Sequential(conv1, tv.bn1, tv.relu, tv.layer1),
        tv.layer2,
        tv.layer3,
        tv.layer4,
    ]
    expansion = 4 if depth == 50 else 1
    channels = tuple(c * expansion for c in (64, 128, 256, 512))
    return CifarResNet(stages, channels, in_channels, num_classes)
