"""Building blocks shared by patrec methods.

- :func:`l2_normalize`: unit-length rows.
- :class:`MLPHead`: ``Linear-BN-ReLU-...-Linear``, the SimSiam-style projection / prediction MLP.
- :class:`StagedBackbone`: a CNN split into stages whose feature maps a method can tap
  (deep supervision, feature distillation, ...), with a classifier ``head`` on the last one.
- :class:`SmallCNN` (tiny images such as scikit-learn digits) and :func:`cifar_resnet`
  (torchvision ResNet-18/34/50 with the usual CIFAR stem), both :class:`StagedBackbone`.
- Channel-attention blocks for any ``(B, C, *spatial)`` feature map: :class:`SEBlock`
  (squeeze-and-excitation), :class:`SHBlock` (squeeze-and-hypercomplex, SHNet) and the
  layer under it, :class:`PHMLinear` (parameterized hypercomplex multiplication), with
  :func:`algebra_matrices`. Method modules import blocks from here, never the reverse.

Invalid constructor arguments raise :class:`~patrec.core.errors.ConfigError`; tensors of the
wrong shape raise :class:`~patrec.core.errors.InputError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patrec.core.checks import check_int, check_tensor
from patrec.core.errors import ConfigError, InputError
from patrec.core.hub import PretrainedModel

__all__ = [
    "AMode",
    "CBAM",
    "ChannelAttention",
    "ClassifierHead",
    "MLPHead",
    "PHMLinear",
    "SEBlock",
    "SHBlock",
    "SmallCNN",
    "SpatialAttention",
    "StagedBackbone",
    "algebra_matrices",
    "cifar_resnet",
    "l2_normalize",
]


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


AMode = Literal["fixed", "learned"]


def _check_a_mode(a_mode: str) -> None:
    if a_mode not in ("fixed", "learned"):
        raise ConfigError(f"a_mode must be 'fixed' or 'learned', got {a_mode!r}")


def _check_feature_map(name: str, x: object, channels: int) -> Tensor:
    """``(B, channels, *spatial)`` floating, at least one non-empty spatial axis."""
    check_tensor(x, "B C _ *", name=f"{name} feature map", dtype="float")
    t: Tensor = x  # type: ignore[assignment]
    if t.shape[1] != channels:
        raise InputError(
            f"{name} was built for {channels} channels, got a feature map with "
            f"{t.shape[1]} channels (shape {tuple(t.shape)})"
        )
    if any(s == 0 for s in t.shape[2:]):
        raise InputError(f"{name} needs a non-empty spatial extent, got shape {tuple(t.shape)}")
    return t


# ---------------------------------------------------------------------------------------
# PHM layer (Sec. 3.3, eq. 2)
# ---------------------------------------------------------------------------------------


def algebra_matrices(n: int) -> Tensor:
    """The multiplication matrices ``A_1..A_N`` of the real, complex or quaternion algebra.

    ``M(h) = sum_i A_i h_i`` is the matrix of multiplication by ``h = (h_1, ..., h_N)``, so
    ``(sum_i A_i (x) S_i) x`` is the hypercomplex product of the input, split into ``N``
    components, with the weight ``(S_1, ..., S_N)``. For ``N = 4`` these are eq. 2's matrices,
    ``A_1 = I`` and the signed permutations of the quaternion units ``i, j, k``, whose sum is
    eq. 2's ``H``::

        M(P) = [[P_r, -P_x, -P_y, -P_z],
                [P_x,  P_r,  P_z, -P_y],
                [P_y, -P_z,  P_r,  P_x],
                [P_z,  P_y, -P_x,  P_r]]

    ``M(P) c`` is the Hamilton product ``c P`` of the input quaternion ``c`` with the weight
    ``P`` (input on the left, as eq. 6 expands ``C^1 H^1``). Eq. 9 prints the other order,
    ``P c`` (signs of the ``j, k`` cross terms swapped); both are quaternion layers with the
    same weight sharing, and we follow eq. 2, which defines the ``A_i``.

    Args:
        n: 1, 2 or 4.

    Returns:
        ``(N, N, N)`` float32 tensor, ``[i]`` being ``A_{i+1}``.

    Raises:
        InputError: any other ``n`` (use ``a_mode="learned"`` for other dimensions).
    """
    if n == 1:
        return torch.ones(1, 1, 1)
    if n == 2:  # complex: M(a + ib) = [[a, -b], [b, a]]
        return torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, -1.0], [1.0, 0.0]]])
    if n == 4:  # eq. 2: coefficients of P_r, P_x, P_y, P_z in H
        a_r = torch.eye(4)
        a_x = torch.tensor([[0.0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, -1, 0]])
        a_y = torch.tensor([[0.0, 0, -1, 0], [0, 0, 0, -1], [1, 0, 0, 0], [0, 1, 0, 0]])
        a_z = torch.tensor([[0.0, 0, 0, -1], [0, 0, 1, 0], [0, -1, 0, 0], [1, 0, 0, 0]])
        return torch.stack([a_r, a_x, a_y, a_z])
    raise InputError(
        f"fixed algebra matrices exist for n = 1 (real), 2 (complex) or 4 (quaternion), got "
        f"n={n!r}; use a_mode='learned' for other n"
    )


class PHMLinear(nn.Module):
    """Parameterized hypercomplex multiplication layer ``y = H x + b`` (Sec. 3.3, eq. 2).

    ``H = sum_{i=1}^{N} A_i (x) S_i`` (Kronecker products) with ``A_i`` of shape ``N x N`` and
    ``S_i`` of shape ``out/N x in/N``; ``H`` is ``out x in``. The input is read as ``N``
    consecutive components of ``in/N`` features (block column ``b`` of ``H`` meets features
    ``b*in/N .. (b+1)*in/N - 1``), the output likewise.

    Parameters: ``S`` holds ``out*in/N`` weights, ``1/N`` of ``nn.Linear(in, out)``'s; a learned
    ``A`` adds ``N^3``; the bias ``out``.

    - ``a_mode="fixed"`` (the paper, Sec. 3.3: "For A_i we use the hypercomplex matrix"):
      ``A`` is the buffer :func:`algebra_matrices` ``(n)``; ``n = 4`` is the quaternion layer
      whose output is the Hamilton product of the input's four components with the weight
      quaternion ``(S_1, S_2, S_3, S_4)`` (eqs. 2, 5-8); ``n = 1`` is exactly ``nn.Linear``.
    - ``a_mode="learned"`` (Zhang et al. 2021): ``A`` is a parameter learned with ``S``, for
      any ``n`` dividing both sizes.

    Initialisation: ``S`` uniform in ``+-1/sqrt(in)`` (as ``nn.Linear``); with a fixed algebra
    every row of ``H`` holds ``in`` entries of ``S`` up to sign, so ``H`` has ``nn.Linear``'s
    scale; a learned ``A`` starts uniform with variance ``1/N``, which keeps that scale in
    expectation. The bias starts at 0.

    Shapes:
        ``(..., in_features)`` -> ``(..., out_features)``.

    Args:
        in_features: ``d``, divisible by ``n``.
        out_features: ``k``, divisible by ``n``.
        n: the hypercomplex dimension ``N`` (``D_phm``); the paper uses 4.
        bias: add ``b``.
        a_mode: ``"fixed"`` or ``"learned"`` (see above).

    Raises:
        InputError: non-positive sizes, sizes not divisible by ``n``, a fixed ``a_mode`` with
            ``n`` not in (1, 2, 4); in ``forward``, an input whose last dimension is not
            ``in_features``.
        ConfigError: an unknown ``a_mode``.
    """

    A: Tensor

    def __init__(
        self,
        in_features: int,
        out_features: int,
        n: int = 4,
        *,
        bias: bool = True,
        a_mode: AMode = "fixed",
    ) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", ge=1)
        self.out_features = check_int(out_features, "out_features", ge=1)
        self.n = check_int(n, "n", ge=1)
        _check_a_mode(a_mode)
        for name, size in (("in_features", in_features), ("out_features", out_features)):
            if size % n != 0:
                raise InputError(
                    f"PHMLinear needs {name} divisible by n={n} (Sec. 3.3: d and k must be "
                    f"divisible by N), got {name}={size}"
                )
        self.a_mode = a_mode
        if a_mode == "fixed":
            self.register_buffer("A", algebra_matrices(n), persistent=False)
        else:
            self.A = nn.Parameter(torch.empty(n, n, n))
        self.S = nn.Parameter(torch.empty(n, out_features // n, in_features // n))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw ``S`` (and a learned ``A``) and zero the bias (see the class docstring)."""
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.S, -bound, bound)
        if self.a_mode == "learned":
            a = math.sqrt(3.0 / self.n)  # variance 1/N
            nn.init.uniform_(self.A, -a, a)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    @property
    def weight(self) -> Tensor:
        """``H = sum_i A_i (x) S_i`` (eq. 2), shape ``(out_features, in_features)``."""
        n, p, q = self.S.shape
        a = self.A.to(self.S.dtype)
        # sum_i kron(A_i, S_i): block (r, c) of H is sum_i A_i[r, c] * S_i
        h = (a[:, :, None, :, None] * self.S[:, None, :, None, :]).sum(0)
        return h.reshape(n * p, n * q)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_features)`` -> ``(..., out_features)``: ``y = H x + b``."""
        check_tensor(x, ["*", self.in_features], name="PHMLinear input", dtype="float")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, n={self.n}, "
            f"a_mode={self.a_mode!r}, bias={self.bias is not None}"
        )


# ---------------------------------------------------------------------------------------
# SE and SH blocks (Sec. 3.4, Sec. 4, eq. 3)
# ---------------------------------------------------------------------------------------


def _squeeze(x: Tensor) -> Tensor:
    """Eq. 3: ``z_c = 1/(H W) sum_{i,j} x_ijc`` (mean over every spatial axis), ``(B, C)``."""
    return x.flatten(2).mean(dim=2)


def _rescale(x: Tensor, s: Tensor) -> Tensor:
    return x * s.reshape(*s.shape, *([1] * (x.ndim - 2)))


class SEBlock(nn.Module):
    """Squeeze-and-excitation block (Hu et al. 2018; the paper's baseline, Sec. 3.4).

    ``z = squeeze(x)`` (eq. 3), ``s = sigmoid(W_2 relu(W_1 z + b_1) + b_2)`` with
    ``W_1: C -> max(1, C // r)`` and ``W_2`` back to ``C``, output ``x_c * s_c``.

    Shapes:
        ``(B, C, *spatial)`` -> same shape; :meth:`gate` gives ``s``, ``(B, C)`` in ``(0, 1)``.

    Args:
        channels: ``C``.
        reduction: ``r`` (SENet's default 16; the paper does not state its value).

    Raises:
        InputError: non-positive sizes; in ``forward``, a tensor that is not
            ``(B, channels, *spatial)``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", ge=1)
        self.reduction = check_int(reduction, "reduction", ge=1)
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def gate(self, x: Tensor) -> Tensor:
        """Channel weights ``s`` in ``(0, 1)``, shape ``(B, C)``."""
        _check_feature_map("SEBlock", x, self.channels)
        z = _squeeze(x)
        return torch.sigmoid(self.fc2(F.relu(self.fc1(z))))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, *spatial)`` -> ``x * s`` (per-channel rescale), same shape."""
        return _rescale(x, self.gate(x))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}"


class SHBlock(nn.Module):
    """Squeeze-and-hypercomplex block (Sec. 4, Fig. 1): SE with a PHM excitation.

    ``z = squeeze(x)`` (eq. 3); with ``reduction == 1`` (the paper: "the SHNet uses a
    hypercomplex FC layer [instead of] the two FC layers in SENet") the excitation is one
    :class:`PHMLinear` ``C -> C``: ``s = sigmoid(PHM(z))``; with ``reduction = r > 1`` it keeps
    SE's bottleneck with both FC layers hypercomplex, ``s = sigmoid(PHM_2(relu(PHM_1(z))))``
    with ``PHM_1: C -> C/r`` (``C/r`` rounded up to a multiple of ``N``; an option, not the
    paper's block). Output ``x_c * s_c``.

    The channel vector is read as ``N`` components of ``C/N`` channels (``N = 4``: real,
    ``i``, ``j``, ``k`` parts of a quaternion), so every gate mixes all four parts through the
    Hamilton product (eqs. 5-9).

    Shapes:
        ``(B, C, *spatial)`` -> same shape; :meth:`gate` gives ``s``, ``(B, C)`` in ``(0, 1)``.

    Args:
        channels: ``C``, divisible by ``n``.
        reduction: 1 (the paper's single PHM layer) or a bottleneck ratio ``r``.
        n: the PHM dimension ``N`` (Sec. 3.3: 4).
        a_mode: ``"fixed"`` algebra matrices (the paper) or ``"learned"`` (see
            :class:`PHMLinear`).

    Raises:
        InputError: ``channels`` not divisible by ``n``, non-positive sizes; in ``forward``,
            a tensor that is not ``(B, C, *spatial)``.
        ConfigError: an unknown ``a_mode``.
    """

    def __init__(
        self, channels: int, reduction: int = 1, n: int = 4, *, a_mode: AMode = "fixed"
    ) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", ge=1)
        self.reduction = check_int(reduction, "reduction", ge=1)
        self.n = check_int(n, "n", ge=1)
        _check_a_mode(a_mode)
        if channels % n != 0:
            raise InputError(
                f"SHBlock needs channels divisible by n={n} (the PHM layer splits them into "
                f"{n} components), got channels={channels}"
            )
        self.a_mode = a_mode
        self.phm1: PHMLinear
        self.phm2: PHMLinear | None
        if reduction == 1:
            self.phm1 = PHMLinear(channels, channels, n, a_mode=a_mode)
            self.phm2 = None
        else:
            # C/r rounded up to a multiple of n (at least n), so that PHM can split it
            hidden = n * max(1, math.ceil(channels / (reduction * n)))
            self.phm1 = PHMLinear(channels, hidden, n, a_mode=a_mode)
            self.phm2 = PHMLinear(hidden, channels, n, a_mode=a_mode)

    def gate(self, x: Tensor) -> Tensor:
        """Channel weights ``s`` in ``(0, 1)``, shape ``(B, C)``."""
        _check_feature_map("SHBlock", x, self.channels)
        z = self.phm1(_squeeze(x))
        if self.phm2 is not None:
            z = self.phm2(F.relu(z))
        return torch.sigmoid(z)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, *spatial)`` -> ``x * s`` (per-channel rescale), same shape."""
        return _rescale(x, self.gate(x))

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, reduction={self.reduction}, n={self.n}, "
            f"a_mode={self.a_mode!r}"
        )


# ---------------------------------------------------------------------------------------
# CBAM (Woo et al., ECCV 2018): LungSSFNet's LungCBAM ablation and eq. 8, MSDNet's module
# ---------------------------------------------------------------------------------------


class ChannelAttention(nn.Module):
    """CBAM's channel attention: ``M_c = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F)))``.

    The MLP is shared, ``W_1 ReLU(W_0 .)`` with ``C -> max(1, C // r) -> C`` (CBAM's eq. 2,
    without biases); output ``M_c * F``. ``(N, C, H, W) -> same``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", ge=1)
        hidden = max(1, channels // check_int(reduction, "reduction", ge=1))
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),  # W_0
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),  # W_1
        )

    def attention(self, x: Tensor) -> Tensor:
        """The channel weights ``(N, C)`` in (0, 1)."""
        check_tensor(x, "N C H W", name="F", dims={"C": self.channels}, dtype="float")
        return torch.sigmoid(self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3))))

    def forward(self, x: Tensor) -> Tensor:
        return self.attention(x)[:, :, None, None] * x


class SpatialAttention(nn.Module):
    """CBAM's spatial attention (CBAM's eq. 3): ``sigmoid(conv_k([mean_c Y; max_c Y])) * Y``.

    ``(N, C, H, W) -> (N, C, H, W)``; :meth:`attention` gives the ``(N, 1, H, W)`` map.
    ``kernel_size`` is odd (7 in CBAM).
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        check_int(kernel_size, "spatial attention kernel", ge=1)
        if kernel_size % 2 == 0:
            raise InputError(f"spatial attention kernel must be odd, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def attention(self, y: Tensor) -> Tensor:
        check_tensor(y, "N C H W", name="Y", dtype="float")
        s = torch.cat([y.mean(dim=1, keepdim=True), y.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(s))

    def forward(self, y: Tensor) -> Tensor:
        return self.attention(y) * y


class CBAM(nn.Module):
    """Convolutional Block Attention Module: channel attention, then spatial attention.

    ``F' = M_c(F) * F``, ``F'' = M_s(F') * F'`` (CBAM's eq. 1, sequential, channel first),
    with :class:`ChannelAttention` (avg + max pooled shared MLP, ratio ``r``) and
    :class:`SpatialAttention` (``k x k`` conv over the channel-wise mean and max).
    ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.spatial(self.channel(x))
