"""Functional tensor decompositions for PINNs (Vemuri et al., ICPR 2024).

A PINN whose solution is separated along its ``d`` input axes: one small MLP per axis,
``g_i(x_i; theta_i)`` (eq. 4), whose outputs on the ``n_i`` collocation coordinates of that
axis are the components of a tensor decomposition of the solution on the tensor grid
``x_1 x ... x x_d``:

- **CP-PINN** (eq. 17): ``u = [[A_1, ..., A_d]]``, ``A_i = g_i(x_i) in R^{n_i x R}``,
  ``u[i_1..i_d] = sum_r prod_k A_k[i_k, r]``;
- **TT-PINN** (eq. 18): ``A_1 in R^{n_1 x R}``, ``A_k in R^{n_k x R x R}`` (the network
  outputs ``R*R`` numbers per point), ``A_d in R^{n_d x R}`` (``R_0 = R_d = 1``),
  ``u[i_1..i_d] = A_1[i_1] A_2[i_2] ... A_d[i_d]`` (a chain of matrix products);
- **Tucker-PINN** (eq. 19): ``u = [[C; A_1, ..., A_d]]`` with a trainable core
  ``C in R^{R x ... x R}`` initialised orthogonal.

So ``n * d`` network evaluations stand for the ``n^d`` grid points. Derivatives are taken per
axis: each ``g_i`` is differentiated with respect to its scalar input in forward mode, as the
paper does with SPINN's forward gradients (``hvp_fwdfwd``): :class:`FactorMLP` carries
``(g, g', g'')`` through its layers in one pass (:meth:`FactorMLP.forward_with_derivatives`),
any other factor module goes through nested ``torch.func.jvp`` (:func:`factor_derivatives`;
both agree to rounding). This gives ``A_i', A_i''``; since the decomposition is multilinear,
``d^k u / dx_i^k = [[A_1, .., A_i^{(k)}, .., A_d]]``, so a Laplacian is ``d`` contractions of
the same cheap factors. The loss is eq. 16, ``L = L_data + lambda L_physics`` with the data
MSE (eq. 14) on the initial/boundary faces and the residual MSE (eq. 15) on the ``n^d`` grid.

The baseline, :class:`VanillaPINN` (Raissi et al.), is one MLP of all ``d`` inputs
evaluated at every point of the full grid, with derivatives by reverse-mode autograd.

Typical use::

    from patrec.scientific_ml.pdes import make_problem
    problem = make_problem("helmholtz")
    model = make_tensor_pinn("cp", problem.dim, rank=16)
    coords = problem.sample_collocation(32)            # 3 x (32,) -> a 32^3 grid
    faces = problem.data_faces(coords)
    terms = pinn_loss(model, problem, coords, faces)   # {"loss", "data", "physics"}
    terms["loss"].backward()

The problems with analytic solutions live in :mod:`patrec.scientific_ml.pdes`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from patrec.core.config import param
from patrec.core.errors import ConfigError, InputError
from patrec.core.registry import Method
from patrec.core.train import TrainConfig
from patrec.scientific_ml.pdes import (
    PROBLEMS,
    GridDerivatives,
    PDEProblem,
    check_coords,
    grid_shape,
    make_problem,
    relative_l2,
)

__all__ = [
    "KINDS",
    "METHOD",
    "VARIANTS",
    "BenchConfig",
    "CPPINN",
    "FactorFunction",
    "FactorMLP",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "ProblemSetup",
    "TTPINN",
    "TensorPINN",
    "TensorPINNConfig",
    "TrainedRun",
    "TuckerPINN",
    "VanillaPINN",
    "autograd_derivatives",
    "cp_contract",
    "factor_derivatives",
    "make_model",
    "make_tensor_pinn",
    "paper_config",
    "pinn_loss",
    "recipe",
    "smoke_config",
    "train_run",
    "tt_contract",
    "tucker_contract",
]

Kind = Literal["cp", "tt", "tucker"]
KINDS: tuple[str, ...] = ("cp", "tt", "tucker")
VARIANTS: tuple[str, ...] = ("cp", "tt", "tucker", "vanilla")


# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------


def _check_int(name: str, v: object, lo: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise InputError(f"{name} must be an int >= {lo}, got {v!r}")
    return v


def _check_orders(orders: object, dim: int) -> tuple[int, ...]:
    if isinstance(orders, int) and not isinstance(orders, bool):
        orders = (orders,) * dim
    if not isinstance(orders, Sequence) or len(orders) != dim:
        raise InputError(f"orders must be {dim} ints in 0..2 (one per axis), got {orders!r}")
    out = tuple(orders)
    if any(isinstance(o, bool) or not isinstance(o, int) or not 0 <= o <= 2 for o in out):
        raise InputError(f"orders must be ints in 0..2 (derivative order per axis), got {out}")
    return out


def _check_points(x: object, dim: int) -> Tensor:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != dim or not x.is_floating_point():
        got = f"shape {tuple(x.shape)} {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
        raise InputError(f"x must be floating (N, {dim}) points, got {got}")
    if not bool(torch.isfinite(x).all()):
        raise InputError("x must hold finite values, got NaN or inf")
    return x


def _shape_str(t: object) -> str:
    return str(tuple(t.shape)) if isinstance(t, Tensor) else type(t).__name__


# ---------------------------------------------------------------------------------------
# contractions (eqs. 17-19)
# ---------------------------------------------------------------------------------------


def cp_contract(factors: Sequence[Tensor]) -> Tensor:
    """CP decomposition ``[[A_1, ..., A_d]]`` (eq. 17) on the tensor grid.

    Args:
        factors: ``d >= 1`` factor matrices ``A_i (n_i, R)`` of one rank ``R``.

    Returns:
        ``(n_1, ..., n_d)`` with ``u[i_1..i_d] = sum_r prod_k A_k[i_k, r]``.

    Raises:
        InputError: a factor that is not 2-D, or ranks that differ.
    """
    if isinstance(factors, Tensor) or not isinstance(factors, Sequence) or not factors:
        raise InputError("factors must be a non-empty sequence of (n_i, R) tensors")
    for i, a in enumerate(factors):
        if not isinstance(a, Tensor) or a.ndim != 2:
            raise InputError(f"factors[{i}] must be an (n_i, R) matrix, got {_shape_str(a)}")
        if a.shape[1] != factors[0].shape[1]:
            raise InputError(
                f"CP factors must share one rank R, got {factors[0].shape[1]} (factor 0) and "
                f"{a.shape[1]} (factor {i})"
            )
    shape = [int(a.shape[0]) for a in factors]
    if len(factors) == 1:
        return factors[0].sum(-1)
    rows = factors[0]  # (n_1 ... n_k, R): the Khatri-Rao product of the first k factors
    for a in factors[1:-1]:
        rows = (rows[:, None, :] * a[None, :, :]).reshape(-1, a.shape[1])
    return (rows @ factors[-1].T).reshape(shape)


def tt_contract(cores: Sequence[Tensor]) -> Tensor:
    """Tensor-train ``[[A_1, ..., A_d]]`` (eq. 18) on the tensor grid.

    Args:
        cores: ``d >= 2`` cores: ``A_1 (n_1, R_1)``, ``A_k (n_k, R_{k-1}, R_k)`` for
            ``1 < k < d``, ``A_d (n_d, R_{d-1})`` (the boundary ranks ``R_0 = R_d = 1`` dropped).

    Returns:
        ``(n_1, ..., n_d)`` with ``u[i_1..i_d] = A_1[i_1] A_2[i_2] ... A_d[i_d]``.

    Raises:
        InputError: fewer than two cores, wrong core ranks (ndim) or chained ranks that differ.
    """
    if isinstance(cores, Tensor) or not isinstance(cores, Sequence) or len(cores) < 2:
        raise InputError("cores must be a sequence of d >= 2 tensor-train cores")
    d = len(cores)
    for i, a in enumerate(cores):
        want = 2 if i in (0, d - 1) else 3
        if not isinstance(a, Tensor) or a.ndim != want:
            what = "(n, R)" if want == 2 else "(n, R, R)"
            raise InputError(f"cores[{i}] must be {what}, got {_shape_str(a)}")
    for i in range(1, d):
        left = cores[i - 1].shape[-1]
        if cores[i].shape[1] != left:
            raise InputError(
                f"tensor-train ranks must chain: cores[{i - 1}] ends with rank {left} but "
                f"cores[{i}] starts with rank {cores[i].shape[1]}"
            )
    shape = [int(a.shape[0]) for a in cores]
    left_part = cores[0]  # (n_1 ... n_k, R_k)
    for a in cores[1:-1]:
        n, r0, r1 = a.shape
        left_part = (left_part @ a.permute(1, 0, 2).reshape(r0, n * r1)).reshape(-1, r1)
    return (left_part @ cores[-1].T).reshape(shape)


def tucker_contract(core: Tensor, factors: Sequence[Tensor]) -> Tensor:
    """Tucker ``[[C; A_1, ..., A_d]]`` (eq. 19) on the tensor grid.

    Args:
        core: ``C (R_1, ..., R_d)``.
        factors: ``A_i (n_i, R_i)``.

    Returns:
        ``(n_1, ..., n_d)``: ``C x_1 A_1 x_2 ... x_d A_d`` (mode products).

    Raises:
        InputError: a core whose order is not ``d`` or factor ranks that do not match it.
    """
    if isinstance(factors, Tensor) or not isinstance(factors, Sequence) or not factors:
        raise InputError("factors must be a non-empty sequence of (n_i, R_i) tensors")
    if not isinstance(core, Tensor) or core.ndim != len(factors):
        raise InputError(
            f"core must be a tensor with one axis per factor ({len(factors)}), got "
            f"{_shape_str(core)}"
        )
    for i, a in enumerate(factors):
        if not isinstance(a, Tensor) or a.ndim != 2 or a.shape[1] != core.shape[i]:
            raise InputError(
                f"factors[{i}] must be (n_{i + 1}, {core.shape[i]}) to match the core, got "
                f"{_shape_str(a)}"
            )
    out = core
    for a in factors:  # contract the leading rank axis; the new n-axis goes last
        out = torch.tensordot(out, a, dims=([0], [1]))
    return out


# ---------------------------------------------------------------------------------------
# per-axis networks and their derivatives
# ---------------------------------------------------------------------------------------


def _init_linear(layer: nn.Linear, init: str) -> None:
    if init == "xavier_normal":
        nn.init.xavier_normal_(layer.weight)
    elif init == "xavier_uniform":
        nn.init.xavier_uniform_(layer.weight)
    elif init == "default":
        layer.reset_parameters()
        return
    else:
        raise ConfigError(f"init: expected xavier_normal, xavier_uniform or default, got {init!r}")
    nn.init.zeros_(layer.bias)


class FactorMLP(nn.Module):
    """``g_i(x_i; theta_i)``: a univariate MLP, ``(n,) -> (n, out_features)`` (eq. 4).

    ``layers`` linear layers with ``tanh`` between them (Sec. 3: a four-layer
    feed-forward network with tanh activations, width = rank unless specified otherwise).
    Each output row depends on its own input only, which is what lets
    :func:`factor_derivatives` take per-point derivatives with one forward-mode pass.
    """

    def __init__(
        self, out_features: int, width: int, layers: int = 4, init: str = "xavier_normal"
    ) -> None:
        super().__init__()
        _check_int("out_features", out_features)
        _check_int("width", width)
        _check_int("layers", layers)
        self.init = init
        sizes = [1] + [width] * (layers - 1) + [out_features]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.layers:
            _init_linear(lin, self.init)

    @property
    def layers(self) -> list[nn.Linear]:
        """The linear layers, first to last."""
        return [cast(nn.Linear, m) for m in self.linears]

    @property
    def out_features(self) -> int:
        return int(self.layers[-1].out_features)

    def forward(self, x: Tensor) -> Tensor:
        """``x (n,)`` -> ``(n, out_features)``."""
        h = x[:, None]
        for lin in self.linears[:-1]:
            h = torch.tanh(lin(h))
        out: Tensor = self.linears[-1](h)
        return out

    def forward_with_derivatives(self, x: Tensor, order: int) -> list[Tensor]:
        """``[g, g', g''][: order + 1]`` per point, by forward-mode propagation.

        The derivative with respect to the scalar input is carried through the layers
        alongside the value (forward-mode AD written out for ``Linear`` and ``tanh``)::

            z = W h + b,  z' = W h',  z'' = W h''
            a = tanh z,   a' = (1 - a^2) z',  a'' = (1 - a^2) z'' - 2 a (1 - a^2) z'^2

        starting from ``h = x, h' = 1, h'' = 0``. It equals :func:`factor_derivatives`
        (nested ``torch.func.jvp``) and costs about ``order + 1`` plain forward passes.

        Args:
            x: ``(n,)`` coordinates.
            order: 0, 1 or 2.

        Returns:
            ``order + 1`` tensors ``(n, out_features)``.
        """
        _check_int("order", order, 0)
        if order > 2:
            raise InputError(f"order must be 0, 1 or 2, got {order}")
        if order == 0:
            return [self(x)]
        h = x[:, None]
        dh = torch.ones_like(h)
        d2h = torch.zeros_like(h) if order == 2 else None
        layers = self.layers
        last = len(layers) - 1
        for k, lin in enumerate(layers):
            z = lin(h)
            dz = dh @ lin.weight.T
            d2z = d2h @ lin.weight.T if d2h is not None else None
            if k == last:
                return [z, dz] if d2z is None else [z, dz, d2z]
            a = torch.tanh(z)
            s = 1 - a * a
            h, dh = a, s * dz
            if d2z is not None:
                d2h = s * d2z - 2 * a * s * dz * dz
        raise AssertionError("unreachable: a FactorMLP has at least one layer")

    def __repr__(self) -> str:
        widths = [self.linears[0].in_features] + [lin.out_features for lin in self.linears]
        return f"FactorMLP({' -> '.join(map(str, widths))}, tanh)"


class FactorFunction(nn.Module):
    """A fixed univariate map ``(n,) -> (n, k)`` used as a factor (e.g. an exact solution's)."""

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        out = self.fn(x)
        return out if out.ndim == 2 else out[:, None]


def factor_derivatives(fn: Callable[[Tensor], Tensor], x: Tensor, order: int) -> list[Tensor]:
    """``[g(x), g'(x), g''(x)][: order + 1]`` of a univariate, row-wise map, per point.

    ``g`` maps ``x (n,)`` to ``(n, ...)`` with row ``j`` depending on ``x[j]`` only (an MLP
    applied point-wise), so a forward-mode directional derivative along ``ones(n)`` is the
    per-point derivative; the second derivative nests two of them (SPINN's ``hvp_fwdfwd``,
    which the paper adopts). Gradients flow to ``g``'s parameters by ordinary autograd.

    Args:
        fn: the map, e.g. a :class:`FactorMLP`.
        x: ``(n,)`` coordinates.
        order: 0, 1 or 2.
    """
    _check_int("order", order, 0)
    if order > 2:
        raise InputError(f"order must be 0, 1 or 2, got {order}")
    if order == 0:
        return [fn(x)]
    v = torch.ones_like(x)
    if order == 1:
        u, du = cast(tuple[Tensor, Tensor], torch.func.jvp(fn, (x,), (v,)))
        return [u, du]

    def first(z: Tensor) -> tuple[Tensor, Tensor]:
        return cast(tuple[Tensor, Tensor], torch.func.jvp(fn, (z,), (v,)))

    primal, tangent = cast(
        tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]], torch.func.jvp(first, (x,), (v,))
    )
    return [primal[0], primal[1], tangent[1]]


def autograd_derivatives(
    fn: Callable[[Tensor], Tensor], x: Tensor, orders: Sequence[int]
) -> tuple[Tensor, dict[int, Tensor], dict[int, Tensor]]:
    """Point-wise derivatives of ``u = fn(x)`` by reverse-mode autograd (the vanilla PINN way).

    Args:
        fn: ``(N, d) -> (N,)``, each output depending on its own row only.
        x: ``(N, d)`` points.
        orders: per axis, the highest derivative needed (0, 1 or 2).

    Returns:
        ``u (N,)``, ``{axis: du/dx_axis (N,)}``, ``{axis: d2u/dx_axis^2 (N,)}``; the graph is
        kept (``create_graph``) so a loss of them can be back-propagated.
    """
    d = x.shape[1]
    orders = _check_orders(orders, d)
    need = any(o > 0 for o in orders)
    xg = x.detach().requires_grad_(True) if need else x
    with torch.enable_grad():
        u = fn(xg)
        first: dict[int, Tensor] = {}
        second: dict[int, Tensor] = {}
        if need:
            (g,) = torch.autograd.grad(u.sum(), xg, create_graph=True)
            for i, o in enumerate(orders):
                if o >= 1:
                    first[i] = g[:, i]
                if o == 2:
                    (h,) = torch.autograd.grad(g[:, i].sum(), xg, create_graph=True)
                    second[i] = h[:, i]
    return u, first, second


# ---------------------------------------------------------------------------------------
# the models
# ---------------------------------------------------------------------------------------


class TensorPINN(nn.Module):
    """Base of the functional tensor decomposition PINNs: one factor network per axis.

    Subclasses fix the factor shapes (:meth:`factor_shape`) and the contraction
    (:meth:`contract` on a grid, :meth:`contract_points` at scattered points).

    Args:
        factors: ``d`` modules ``g_i: (n,) -> (n, prod(factor_shape(i)))``.
        rank: the decomposition rank ``R >= 1`` (equal for every component, Sec. 2.3).
    """

    kind: str = ""

    def __init__(self, factors: Sequence[nn.Module], rank: int) -> None:
        super().__init__()
        if isinstance(factors, nn.Module) or not isinstance(factors, Sequence) or not factors:
            raise InputError("factors must be a non-empty sequence of modules, one per axis")
        self.rank = _check_int("rank", rank)
        self.factor_nets = nn.ModuleList(factors)

    @property
    def dim(self) -> int:
        """Number of input axes ``d``."""
        return len(self.factor_nets)

    def factor_shape(self, axis: int) -> tuple[int, ...]:
        """Trailing shape of axis ``axis``'s component, e.g. ``(R,)`` or ``(R, R)``."""
        return (self.rank,)

    def _reshape(self, axis: int, out: Tensor) -> Tensor:
        shape = self.factor_shape(axis)
        if out.ndim != 2 or out.shape[1] != math.prod(shape):
            raise InputError(
                f"factor network {axis} must output (n, {math.prod(shape)}) for rank "
                f"{self.rank}, got {_shape_str(out)}"
            )
        return out.reshape(out.shape[0], *shape)

    def factor(self, axis: int, x: Tensor, order: int = 0) -> list[Tensor]:
        """Component ``axis`` and its derivatives on ``x (n,)``: ``order + 1`` tensors."""
        net = self.factor_nets[axis]
        if isinstance(net, FactorMLP):
            outs = net.forward_with_derivatives(x, order)
        else:
            outs = factor_derivatives(net, x, order)
        return [self._reshape(axis, o) for o in outs]

    def contract(self, factors: Sequence[Tensor]) -> Tensor:
        """Components ``(n_i, *factor_shape(i))`` -> the grid tensor ``(n_1, ..., n_d)``."""
        raise NotImplementedError

    def contract_points(self, factors: Sequence[Tensor]) -> Tensor:
        """Components at ``N`` scattered points ``(N, *factor_shape(i))`` -> ``(N,)``."""
        raise NotImplementedError

    def forward(self, coords: Sequence[Tensor]) -> Tensor:
        """``u`` on the tensor grid of ``coords`` (``d`` tensors ``(n_i,)``): ``(n_1..n_d)``."""
        coords = check_coords(coords, self.dim)
        return self.contract([self.factor(i, c)[0] for i, c in enumerate(coords)])

    def at_points(self, x: Tensor) -> Tensor:
        """``u`` at scattered points ``x (N, d)`` -> ``(N,)`` (same function as on a grid)."""
        x = _check_points(x, self.dim)
        return self.contract_points([self.factor(i, x[:, i])[0] for i in range(self.dim)])

    def derivatives_from_factors(self, factors: Sequence[Sequence[Tensor]]) -> GridDerivatives:
        """Contract per-axis components and their derivatives into grid derivatives.

        ``factors[i] = [A_i, A_i', A_i''][: order_i + 1]``; since the decomposition is
        multilinear, ``d^k u/dx_i^k = [[A_1, .., A_i^{(k)}, .., A_d]]``.
        """
        base = [f[0] for f in factors]
        u = self.contract(base)
        first: dict[int, Tensor] = {}
        second: dict[int, Tensor] = {}
        for i, f in enumerate(factors):
            for k, store in ((1, first), (2, second)):
                if len(f) > k:
                    store[i] = self.contract(base[:i] + [f[k]] + base[i + 1 :])
        return GridDerivatives(u, first, second)

    def grid_derivatives(self, coords: Sequence[Tensor], orders: Sequence[int]) -> GridDerivatives:
        """``u`` and its per-axis derivatives up to ``orders[i]`` on the grid of ``coords``."""
        coords = check_coords(coords, self.dim)
        orders = _check_orders(orders, self.dim)
        fac = [self.factor(i, c, o) for i, (c, o) in enumerate(zip(coords, orders, strict=True))]
        return self.derivatives_from_factors(fac)

    def fields(
        self,
        coords: Sequence[Tensor],
        orders: Sequence[int],
        face_coords: Sequence[Sequence[Tensor]] = (),
        *,
        check_finite: bool = True,
    ) -> tuple[GridDerivatives, list[Tensor]]:
        """Grid derivatives on ``coords`` and the values on each grid of ``face_coords``.

        An axis of a face that is the very tensor of ``coords`` reuses the component already
        computed, so a face costs one extra evaluation of one network (at one point).
        """
        coords = check_coords(coords, self.dim, finite=check_finite)
        orders = _check_orders(orders, self.dim)
        fac = [self.factor(i, c, o) for i, (c, o) in enumerate(zip(coords, orders, strict=True))]
        derivs = self.derivatives_from_factors(fac)
        values = []
        for fc in face_coords:
            fc = check_coords(fc, self.dim, "face coords", finite=check_finite)
            parts = [
                fac[i][0] if fc[i] is coords[i] else self.factor(i, fc[i])[0]
                for i in range(self.dim)
            ]
            values.append(self.contract(parts))
        return derivs, values

    def extra_repr(self) -> str:
        return f"kind={self.kind}, dim={self.dim}, rank={self.rank}"


class CPPINN(TensorPINN):
    """CP-PINN (eq. 17): ``u = sum_r prod_i g_i(x_i)[r]``; factors ``(n_i, R)``."""

    kind = "cp"

    def contract(self, factors: Sequence[Tensor]) -> Tensor:
        return cp_contract(factors)

    def contract_points(self, factors: Sequence[Tensor]) -> Tensor:
        out = factors[0]
        for a in factors[1:]:
            out = out * a
        return out.sum(-1)


class TTPINN(TensorPINN):
    """TT-PINN (eq. 18): first/last networks output ``(n, R)``, middle ones ``(n, R, R)``."""

    kind = "tt"

    def __init__(self, factors: Sequence[nn.Module], rank: int) -> None:
        super().__init__(factors, rank)
        if self.dim < 2:
            raise InputError(f"a tensor train needs d >= 2 axes, got {self.dim}")

    def factor_shape(self, axis: int) -> tuple[int, ...]:
        if axis in (0, self.dim - 1):
            return (self.rank,)
        return (self.rank, self.rank)

    def contract(self, factors: Sequence[Tensor]) -> Tensor:
        return tt_contract(factors)

    def contract_points(self, factors: Sequence[Tensor]) -> Tensor:
        v = factors[0]  # (N, R)
        for a in factors[1:-1]:
            v = torch.einsum("nr,nrs->ns", v, a)
        return (v * factors[-1]).sum(-1)


class TuckerPINN(TensorPINN):
    """Tucker-PINN (eq. 19): ``u = C x_1 g_1(x_1) ... x_d g_d(x_d)``, ``C`` trainable.

    The core ``C (R, ..., R)`` is initialised orthogonal (Sec. 2.3): its mode-1 unfolding
    ``C_(1) (R, R^{d-1})`` has orthonormal rows (``torch.nn.init.orthogonal_``).
    """

    kind = "tucker"

    def __init__(self, factors: Sequence[nn.Module], rank: int) -> None:
        super().__init__(factors, rank)
        self.core = nn.Parameter(torch.empty((rank,) * self.dim))
        self.reset_core()

    def reset_core(self) -> None:
        """Orthogonal initialisation of the core (Sec. 2.3)."""
        if self.dim == 1:
            with torch.no_grad():
                self.core.copy_(nn.functional.normalize(torch.randn(self.rank), dim=0))
            return
        nn.init.orthogonal_(self.core)

    def contract(self, factors: Sequence[Tensor]) -> Tensor:
        return tucker_contract(self.core, factors)

    def contract_points(self, factors: Sequence[Tensor]) -> Tensor:
        w = torch.tensordot(factors[0], self.core, dims=([1], [0]))  # (N, R, .., R)
        for a in factors[1:]:
            w = torch.einsum("nr,nr...->n...", a, w)
        return w


def make_tensor_pinn(
    kind: str,
    dim: int,
    rank: int,
    *,
    width: int | None = None,
    layers: int = 4,
    init: str = "xavier_normal",
) -> TensorPINN:
    """A CP-, TT- or Tucker-PINN with one :class:`FactorMLP` per axis.

    Args:
        kind: ``"cp"``, ``"tt"`` or ``"tucker"``.
        dim: number of input axes ``d``.
        rank: ``R`` (Sec. 2.3: one rank for all components).
        width: hidden width of each network (None: ``R``, Sec. 3).
        layers: linear layers per network (Sec. 3: four).
        init: ``xavier_normal`` (default), ``xavier_uniform`` or ``default`` (PyTorch's).
    """
    _check_int("dim", dim)
    _check_int("rank", rank)
    w = rank if width is None or width == 0 else _check_int("width", width)
    if kind == "cp":
        return CPPINN([FactorMLP(rank, w, layers, init) for _ in range(dim)], rank)
    if kind == "tucker":
        return TuckerPINN([FactorMLP(rank, w, layers, init) for _ in range(dim)], rank)
    if kind == "tt":
        if dim < 2:
            raise InputError(f"a tensor train needs d >= 2 axes, got {dim}")
        outs = [rank if i in (0, dim - 1) else rank * rank for i in range(dim)]
        return TTPINN([FactorMLP(o, w, layers, init) for o in outs], rank)
    raise InputError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


class VanillaPINN(nn.Module):
    """The baseline PINN: one MLP ``u(x_1, ..., x_d)`` evaluated on every grid point.

    ``hidden_layers`` tanh layers of ``width`` units (the authors' PINA baseline uses four
    of 64). Derivatives by reverse-mode autograd at all ``n^d`` points.
    """

    def __init__(
        self, dim: int, width: int = 64, hidden_layers: int = 4, init: str = "xavier_normal"
    ) -> None:
        super().__init__()
        _check_int("dim", dim)
        _check_int("width", width)
        _check_int("hidden_layers", hidden_layers)
        self.dim, self.init = dim, init
        sizes = [dim] + [width] * hidden_layers + [1]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        for m in self.linears:
            _init_linear(cast(nn.Linear, m), init)

    def _net(self, x: Tensor) -> Tensor:
        h = x
        for lin in self.linears[:-1]:
            h = torch.tanh(lin(h))
        out: Tensor = self.linears[-1](h)[:, 0]
        return out

    def at_points(self, x: Tensor) -> Tensor:
        """``u`` at points ``x (N, d)`` -> ``(N,)``."""
        return self._net(_check_points(x, self.dim))

    @staticmethod
    def grid_points(coords: Sequence[Tensor]) -> Tensor:
        """The ``(prod n_i, d)`` points of the tensor grid, in ``ij`` (C) order."""
        grids = torch.meshgrid(*coords, indexing="ij")
        return torch.stack([g.reshape(-1) for g in grids], dim=1)

    def forward(self, coords: Sequence[Tensor], chunk: int | None = None) -> Tensor:
        """``u`` on the full grid ``(n_1, ..., n_d)``; ``chunk``: points per pass (eval)."""
        coords = check_coords(coords, self.dim)
        x = self.grid_points(coords)
        if chunk is None:
            u = self._net(x)
        else:
            u = torch.cat([self._net(xb) for xb in torch.split(x, _check_int("chunk", chunk))])
        return u.reshape(grid_shape(coords))

    def grid_derivatives(
        self, coords: Sequence[Tensor], orders: Sequence[int], *, check_finite: bool = True
    ) -> GridDerivatives:
        """``u`` and its per-axis derivatives on the grid, by autograd at every point."""
        coords = check_coords(coords, self.dim, finite=check_finite)
        shape = grid_shape(coords)
        u, first, second = autograd_derivatives(self._net, self.grid_points(coords), orders)
        return GridDerivatives(
            u.reshape(shape),
            {a: t.reshape(shape) for a, t in first.items()},
            {a: t.reshape(shape) for a, t in second.items()},
        )

    def fields(
        self,
        coords: Sequence[Tensor],
        orders: Sequence[int],
        face_coords: Sequence[Sequence[Tensor]] = (),
        *,
        check_finite: bool = True,
    ) -> tuple[GridDerivatives, list[Tensor]]:
        """Grid derivatives on ``coords`` and the values on each grid of ``face_coords``."""
        derivs = self.grid_derivatives(coords, orders, check_finite=check_finite)
        values = []
        for fc in face_coords:
            fc = check_coords(fc, self.dim, "face coords", finite=check_finite)
            values.append(self._net(self.grid_points(fc)).reshape(grid_shape(fc)))
        return derivs, values

    def extra_repr(self) -> str:
        return f"dim={self.dim}, layers={[lin.out_features for lin in self.linears]}"


PINNModel = TensorPINN | VanillaPINN


# ---------------------------------------------------------------------------------------
# the loss (eqs. 14-16)
# ---------------------------------------------------------------------------------------


def pinn_loss(
    model: PINNModel,
    problem: PDEProblem,
    coords: Sequence[Tensor],
    faces: Sequence[Any],
    lam: float = 1.0,
    *,
    check_finite: bool = True,
) -> dict[str, Tensor]:
    """``L = L_data + lambda L_physics`` (eq. 16) on a tensor grid of collocation points.

    ``L_physics`` (eq. 15) is the mean squared PDE residual over the ``n^d`` grid points;
    ``L_data`` (eq. 14) the mean squared error over all initial/boundary data points
    (every face's points pooled into one mean).

    Args:
        model: a :class:`TensorPINN` or :class:`VanillaPINN` with ``d = problem.dim`` axes.
        problem: the PDE.
        coords: ``d`` tensors ``(n_i,)``, the collocation grid.
        faces: the data, :meth:`PDEProblem.data_faces` of ``coords``.
        lam: the weight ``lambda >= 0`` (the paper: 1).
        check_finite: check the coordinates for NaN/inf (a training loop that validated
            its fixed collocation grid once may skip it).

    Returns:
        ``{"loss", "data", "physics"}`` scalars.
    """
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam):
        raise InputError(f"lam must be a finite float >= 0, got {lam!r}")
    if lam < 0:
        raise InputError(f"lam must be >= 0, got {lam}")
    if model.dim != problem.dim:
        raise InputError(
            f"the model has {model.dim} input axes but {problem.name} needs {problem.dim}"
        )
    derivs, values = model.fields(
        coords, problem.orders, [f.coords for f in faces], check_finite=check_finite
    )
    physics = problem.residual(coords, derivs, check_finite=check_finite).pow(2).mean()
    if faces:
        sq = torch.cat([(v - f.target).pow(2).reshape(-1) for v, f in zip(values, faces)])
        data = sq.mean()
    else:
        data = physics * 0.0
    return {"loss": data + lam * physics, "data": data, "physics": physics}


# ---------------------------------------------------------------------------------------
# config and presets
# ---------------------------------------------------------------------------------------


@dataclass
class ProblemSetup:
    """Grid sizes and rank for one PDE."""

    points: int = param(64, "collocation points per axis n (the grid holds n^d)")
    rank: int = param(32, "decomposition rank R of the tensor PINNs")
    vanilla_points: int = param(0, "points per axis of the vanilla PINN's grid (0: = points)")
    test_points: int = param(32, "points per axis of the evaluation grid (linspace)")


@dataclass
class ModelConfig:
    """The per-axis networks and the vanilla baseline."""

    layers: int = param(4, "linear layers per axis network", source="Sec. 3: four-layer, tanh")
    width: int = param(
        0, "hidden width of the axis networks (0: = rank)", source="Sec. 3: width = rank"
    )
    vanilla_width: int = param(
        64, "vanilla PINN width", source="not stated; our choice: the authors' PINA notebook"
    )
    vanilla_layers: int = param(
        4, "vanilla PINN hidden layers", source="not stated; our choice: the authors' notebook"
    )
    init: str = param(
        "xavier_normal",
        "weight init: xavier_normal, xavier_uniform, default",
        source="not stated (cites Glorot [9]); authors' code: Xavier, zero biases",
    )


@dataclass
class LossConfig:
    """Eq. 16."""

    lam: float = param(1.0, "lambda of eq. 16", source="Sec. 3: lambda = 1, no weighting")


@dataclass
class OptimConfig:
    """Adam on every variant."""

    lr: float = param(1e-3, "Adam learning rate", source="Sec. 3: Adam, lr 1e-3", gt=0)
    resample_every: int = param(
        0,
        "draw new collocation points every N iterations (0: once per run)",
        source="not stated; our choice: once, as the authors' code",
    )


@dataclass
class BenchConfig:
    """Timing of the training iterations (patrec.core.bench.time_call)."""

    iterations: int = param(10, "training iterations per timed call")
    repeats: int = param(3, "timed calls (the median is reported)")
    warmup: int = param(1, "untimed calls first")
    same_grid: bool = param(
        True, "also time the vanilla PINN on the tensor PINNs' grid (first seed only)"
    )


@dataclass
class TensorPINNConfig:
    """Config of the tensor-PINN recipe (:func:`recipe`)."""

    problems: tuple[str, ...] = param(
        ("klein_gordon", "helmholtz", "poisson", "flow_mixing"), "which PDEs (Table 1)"
    )
    klein_gordon: ProblemSetup = field(default_factory=ProblemSetup)
    helmholtz: ProblemSetup = field(default_factory=ProblemSetup)
    poisson: ProblemSetup = field(default_factory=ProblemSetup)
    flow_mixing: ProblemSetup = field(default_factory=ProblemSetup)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    steps_per_epoch: int = param(1000, "iterations per epoch (an evaluation after each)")
    variants: tuple[str, ...] = param(VARIANTS, "what to train: cp, tt, tucker, vanilla")
    seeds: tuple[int, ...] = param((0, 1, 2), "one run of every variant per seed and problem")


def paper_config() -> TensorPINNConfig:
    """Sec. 3: 50,000 Adam iterations at lr 1e-3, lambda = 1, four-layer tanh nets of width R.

    Best settings of Tables 2-3: Klein-Gordon and Helmholtz R = 32 with 64 points per axis,
    5d Poisson R = 12 with 24, flow mixing R = 64 with 128. The vanilla baseline runs on
    32^3 grids (Table 2); the paper omits it on the 5d Poisson and flow problems (too slow),
    where we run it on 8^5 and 32^3 grids. Ten runs per setting in the paper; we use three.
    """
    return TensorPINNConfig(
        klein_gordon=ProblemSetup(points=64, rank=32, vanilla_points=32, test_points=32),
        helmholtz=ProblemSetup(points=64, rank=32, vanilla_points=32, test_points=32),
        poisson=ProblemSetup(points=24, rank=12, vanilla_points=8, test_points=16),
        flow_mixing=ProblemSetup(points=128, rank=64, vanilla_points=32, test_points=32),
        train=TrainConfig(epochs=50, seed=0, deterministic=False, progress=True),
        steps_per_epoch=1000,
        seeds=(0, 1, 2),
    )


def smoke_config() -> TensorPINNConfig:
    """CPU scale: all four PDEs, 100 Adam iterations (the paper: 50,000), 2 seeds.

    Tensor PINNs (rank 16) on 16^3 grids, 5d Poisson (rank 6) on 5^5; the vanilla PINN on
    8^3 and 4^5 grids, as the paper's Table 2 gives the vanilla PINN a coarser grid (32^3
    vs 64 x 3); the vanilla iteration is also timed on the tensor PINNs' grid.
    """
    return TensorPINNConfig(
        klein_gordon=ProblemSetup(points=16, rank=16, vanilla_points=8, test_points=24),
        helmholtz=ProblemSetup(points=16, rank=16, vanilla_points=8, test_points=16),
        poisson=ProblemSetup(points=5, rank=6, vanilla_points=4, test_points=6),
        flow_mixing=ProblemSetup(points=16, rank=16, vanilla_points=8, test_points=16),
        bench=BenchConfig(iterations=5, repeats=2, warmup=1),
        train=TrainConfig(epochs=2, cpu=True, deterministic=False),
        steps_per_epoch=50,
        seeds=(0, 1),
    )


def _setup(cfg: TensorPINNConfig, problem: str) -> ProblemSetup:
    s: ProblemSetup = getattr(cfg, problem)
    return s


def _check_config(cfg: TensorPINNConfig) -> None:
    bad = [v for v in cfg.variants if v not in VARIANTS]
    if bad or not cfg.variants or len(set(cfg.variants)) != len(cfg.variants):
        raise ConfigError(
            f"variants: expected distinct names among {', '.join(VARIANTS)}, got {cfg.variants}"
        )
    badp = [p for p in cfg.problems if p not in PROBLEMS]
    if badp or not cfg.problems or len(set(cfg.problems)) != len(cfg.problems):
        raise ConfigError(
            f"problems: expected distinct names among {', '.join(PROBLEMS)}, got {cfg.problems}"
        )
    if not cfg.seeds:
        raise ConfigError("seeds: give at least one seed")
    for p in cfg.problems:
        s = _setup(cfg, p)
        for k in ("points", "rank", "test_points"):
            if getattr(s, k) < 1:
                raise ConfigError(f"{p}.{k} must be >= 1, got {getattr(s, k)}")
        if s.vanilla_points < 0:
            raise ConfigError(f"{p}.vanilla_points must be >= 0, got {s.vanilla_points}")
    if cfg.steps_per_epoch < 1:
        raise ConfigError(f"steps_per_epoch must be >= 1, got {cfg.steps_per_epoch}")
    if cfg.optim.resample_every < 0:
        raise ConfigError(f"optim.resample_every must be >= 0, got {cfg.optim.resample_every}")
    if cfg.loss.lam < 0 or not math.isfinite(cfg.loss.lam):
        raise ConfigError(f"loss.lam must be a finite float >= 0, got {cfg.loss.lam}")
    if cfg.model.layers < 1 or cfg.model.width < 0:
        raise ConfigError(
            f"model.layers must be >= 1 and model.width >= 0, got {cfg.model.layers}, "
            f"{cfg.model.width}"
        )
    b = cfg.bench
    if b.iterations < 1 or b.repeats < 1 or b.warmup < 0:
        raise ConfigError(
            f"bench: iterations and repeats must be >= 1 and warmup >= 0, got {b.iterations}, "
            f"{b.repeats}, {b.warmup}"
        )


def make_model(cfg: TensorPINNConfig, variant: str, problem: PDEProblem) -> PINNModel:
    """The model of ``variant`` for ``problem`` as configured."""
    m = cfg.model
    rank = _setup(cfg, problem.name).rank
    if variant == "vanilla":
        return VanillaPINN(problem.dim, m.vanilla_width, m.vanilla_layers, m.init)
    if variant in KINDS:
        return make_tensor_pinn(
            variant, problem.dim, rank, width=m.width or None, layers=m.layers, init=m.init
        )
    raise ConfigError(f"variant: expected one of {', '.join(VARIANTS)}, got {variant!r}")


# ---------------------------------------------------------------------------------------
# training one run
# ---------------------------------------------------------------------------------------


@dataclass
class TrainedRun:
    """One trained (problem, variant, seed): the model, its history and metrics."""

    problem: str
    variant: str
    seed: int
    model: PINNModel
    history: list[dict[str, float]]
    metrics: dict[str, float]
    slice: dict[str, Any] | None = None


def _collocation(
    problem: PDEProblem, n: int, seed: int, block: int, device: torch.device
) -> list[Tensor]:
    g = torch.Generator().manual_seed(seed * 1_000_003 + block)
    return problem.sample_collocation(n, generator=g, device=device)


def _predict(model: PINNModel, coords: Sequence[Tensor]) -> Tensor:
    if isinstance(model, VanillaPINN):
        return model(coords, chunk=65536)
    return model(coords)


def train_run(
    cfg: TensorPINNConfig,
    problem_name: str,
    variant: str,
    seed: int,
    out_dir: str | Path | None = None,
    *,
    time_same_grid: bool = False,
) -> TrainedRun:
    """Train one variant on one PDE with one seed through :class:`~patrec.core.train.Trainer`.

    An epoch is ``cfg.steps_per_epoch`` Adam iterations on the full collocation grid
    (``dataset=None``); after each, the relative L2 error against the exact solution on the
    test grid is logged. Then ``cfg.bench.iterations`` iterations of a copy of the trained
    model are timed (:func:`patrec.core.bench.time_call`) for the iterations per second.
    With ``time_same_grid``, a vanilla PINN trained on a coarser grid (``vanilla_points``)
    is also timed on the tensor PINNs' ``points^d`` grid (``sec_per_it_same_grid``).
    """
    from patrec.core.bench import time_call
    from patrec.core.train import Trainer, seed_everything

    problem = make_problem(problem_name)
    setup = _setup(cfg, problem_name)
    tcfg = dataclasses.replace(cfg.train, seed=seed)
    seed_everything(seed, tcfg.deterministic)
    model = make_model(cfg, variant, problem)
    n = setup.points if variant != "vanilla" else (setup.vanilla_points or setup.points)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, foreach=True)
    every = cfg.optim.resample_every
    cache: dict[int, tuple[list[Tensor], list[Any]]] = {}

    def data_at(step: int, device: torch.device) -> tuple[list[Tensor], list[Any]]:
        block = step // every if every else 0
        if block not in cache:
            cache.clear()
            coords = _collocation(problem, n, seed, block, device)  # finite by construction
            cache[block] = (coords, problem.data_faces(coords))
        return cache[block]

    def step(tr: Trainer, batch: None) -> dict[str, Tensor]:
        coords, faces = data_at(tr.state.global_step, tr.device)
        terms = pinn_loss(tr.model, problem, coords, faces, cfg.loss.lam, check_finite=False)
        return {
            "loss": terms["loss"],
            "data": terms["data"].detach(),
            "physics": terms["physics"].detach(),
        }

    test_coords: list[Tensor] = []
    exact: list[Tensor] = []

    def evaluate(tr: Trainer) -> dict[str, float]:
        if not test_coords:
            test_coords.extend(problem.test_grid(setup.test_points, device=tr.device))
            exact.append(problem.exact(test_coords))
        pred = _predict(tr.unwrapped_model, test_coords)  # type: ignore[arg-type]
        return {"rel_l2": relative_l2(pred, exact[0])}

    trainer = Trainer(
        model,
        opt,
        None,
        step,
        tcfg,
        out_dir=out_dir,
        eval_fn=evaluate,
        desc=f"{problem_name} {variant} seed {seed}",
        steps_per_epoch=cfg.steps_per_epoch,
    )
    history = trainer.fit()
    net: PINNModel = trainer.unwrapped_model  # type: ignore[assignment]
    device = trainer.device

    # iterations per second of the same training iteration, on a copy
    bench_model = copy.deepcopy(net)
    bench_opt = torch.optim.Adam(bench_model.parameters(), lr=cfg.optim.lr, foreach=True)

    def iterations(coords: list[Tensor], faces: list[Any]) -> float:
        last = 0.0
        for _ in range(cfg.bench.iterations):
            bench_opt.zero_grad(set_to_none=True)
            loss = pinn_loss(bench_model, problem, coords, faces, cfg.loss.lam, check_finite=False)[
                "loss"
            ]
            loss.backward()
            bench_opt.step()
            last = float(loss.detach())
        return last

    train_data = data_at(0, device)
    timing = time_call(
        lambda: iterations(*train_data), repeats=cfg.bench.repeats, warmup=cfg.bench.warmup
    )
    sec_per_it = timing.median / cfg.bench.iterations
    same_grid = float("nan")
    if variant == "vanilla" and n == setup.points:
        same_grid = sec_per_it
    elif variant == "vanilla" and time_same_grid:
        # the vanilla iteration on the tensor PINNs' own n^d grid (timing only)
        big = _collocation(problem, setup.points, seed, 0, device)
        big_data = (big, problem.data_faces(big))
        t2 = time_call(lambda: iterations(*big_data), repeats=1, warmup=0)
        same_grid = t2.median / cfg.bench.iterations
    last = history[-1] if history else {}
    if not test_coords:
        test_coords.extend(problem.test_grid(setup.test_points, device=device))
        exact.append(problem.exact(test_coords))
    with torch.no_grad():
        pred = _predict(net, test_coords)
    metrics = {
        "rel_l2": relative_l2(pred, exact[0]),
        "it_per_s": 1.0 / sec_per_it,
        "sec_per_it": sec_per_it,
        "sec_per_it_same_grid": same_grid if variant == "vanilla" else sec_per_it,
        "params": float(sum(p.numel() for p in net.parameters())),
        "grid_points": float(n**problem.dim),
        "network_inputs": float(n * problem.dim if variant != "vanilla" else n**problem.dim),
        "final_loss": float(last.get("train/loss", float("nan"))),
    }
    sl = None
    if problem_name == "klein_gordon":
        sl = _kg_slice(test_coords, pred, exact[0])
    return TrainedRun(problem_name, variant, seed, net, history, metrics, sl)


def _kg_slice(coords: Sequence[Tensor], pred: Tensor, exact: Tensor) -> dict[str, Any]:
    """A (t, x) slice of the Klein-Gordon prediction at the y nearest 0.5."""
    j = int(torch.argmin((coords[2] - 0.5).abs()))
    return {
        "y": float(coords[2][j]),
        "t": coords[0].tolist(),
        "x": coords[1].tolist(),
        "pred": pred[:, :, j].cpu().tolist(),
        "exact": exact[:, :, j].cpu().tolist(),
    }


# ---------------------------------------------------------------------------------------
# the recipe
# ---------------------------------------------------------------------------------------


_COLORS = {"cp": "tab:orange", "tt": "tab:green", "tucker": "tab:purple", "vanilla": "tab:gray"}


def _grouped_bars(
    ax: Any,
    values: dict[str, dict[str, dict[str, float]]],
    variants: Sequence[str],
    *,
    log: bool,
    ref_line: float | None = None,
) -> None:
    """Grouped bars on ``ax``: one group per problem, one bar per variant (mean ± std)."""
    problems = list(values)
    width = 0.8 / max(len(variants), 1)
    for k, v in enumerate(variants):
        xs, ms, ss = [], [], []
        for i, p in enumerate(problems):
            if v in values[p]:
                xs.append(i + (k - (len(variants) - 1) / 2) * width)
                ms.append(values[p][v]["mean"])
                ss.append(values[p][v].get("std", 0.0))
        if xs:
            ax.bar(xs, ms, width, yerr=ss, capsize=3, label=v, color=_COLORS.get(v))
    if ref_line is not None:
        ax.axhline(ref_line, color="k", lw=0.8, ls="--")
    ax.set_xticks(range(len(problems)), problems, fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3, which="both")
    ax.legend(fontsize=8)


def _save_fig(fig: Any, path: Path) -> Path:
    import io

    import matplotlib.pyplot as plt

    from patrec.core.report import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _plot_rel_l2(
    values: dict[str, dict[str, dict[str, float]]], variants: Sequence[str], path: Path, title: str
) -> Path:
    """Relative L2 error bars per problem and variant, log scale."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(2.2 * len(values) + 2, 4))
    _grouped_bars(ax, values, variants, log=True)
    ax.set_ylabel("relative L2 (log)")
    ax.set_title(title)
    return _save_fig(fig, path)


def _plot_speedup(
    panels: dict[str, dict[str, dict[str, dict[str, float]]]],
    variants: Sequence[str],
    path: Path,
) -> Path:
    """Iterations/s relative to the vanilla PINN, one panel per way of comparing."""
    plt = _plt()
    n_prob = max(len(v) for v in panels.values())
    fig, axes = plt.subplots(
        1, len(panels), figsize=((2.0 * n_prob + 1.5) * len(panels), 4), squeeze=False
    )
    for ax, (title, values) in zip(axes[0], panels.items(), strict=True):
        _grouped_bars(ax, values, variants, log=True, ref_line=1.0)
        ax.set_title(title, fontsize=9)
    axes[0, 0].set_ylabel("it/s ÷ vanilla it/s (log)")
    fig.suptitle("training iterations per second relative to the vanilla PINN (same run)")
    return _save_fig(fig, path)


def _plot_kg_slice(slices: dict[str, dict[str, Any]], path: Path) -> Path:
    """Exact vs predicted Klein-Gordon ``u(t, x)`` at one ``y`` (top), absolute errors (bottom)."""
    import numpy as np

    plt = _plt()
    names = list(slices)
    first = slices[names[0]]
    t, x = np.asarray(first["t"]), np.asarray(first["x"])
    ex = np.asarray(first["exact"])
    vmax = float(np.abs(ex).max())
    cols = len(names) + 1
    fig, axes = plt.subplots(
        2,
        cols,
        figsize=(2.4 * cols + 1, 5),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    ext = (float(x[0]), float(x[-1]), float(t[0]), float(t[-1]))
    kw: dict[str, Any] = {"aspect": "auto", "origin": "lower", "extent": ext}
    im_u = axes[0, 0].imshow(ex, vmin=-vmax, vmax=vmax, cmap="RdBu_r", **kw)
    axes[0, 0].set_title("exact", fontsize=9)
    axes[1, 0].axis("off")
    errs = {n: np.abs(np.asarray(slices[n]["pred"]) - ex) for n in names}
    err_max = max(float(e.max()) for e in errs.values()) or 1.0
    im_e = None
    for k, name in enumerate(names, start=1):
        axes[0, k].imshow(
            np.asarray(slices[name]["pred"]), vmin=-vmax, vmax=vmax, cmap="RdBu_r", **kw
        )
        axes[0, k].set_title(name, fontsize=9)
        im_e = axes[1, k].imshow(errs[name], vmin=0, vmax=err_max, cmap="magma", **kw)
        axes[1, k].set_title(f"|error| {name}", fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("t")
    for ax in axes[-1, :]:
        ax.set_xlabel("x")
    axes[1, 1].set_ylabel("t")
    fig.colorbar(im_u, ax=axes[0, :].tolist(), shrink=0.9, label="u")
    if im_e is not None:
        fig.colorbar(im_e, ax=axes[1, :].tolist(), shrink=0.9, label="|error|")
    fig.suptitle(f"Klein-Gordon u(t, x, y={first['y']:.2f}) on the test grid (first seed)")
    return _save_fig(fig, path)


def _plot_curves(curves: dict[str, dict[str, list[list[float]]]], steps: int, path: Path) -> Path:
    """Relative L2 per epoch, one panel per problem, mean over seeds."""
    import numpy as np

    plt = _plt()
    problems = list(curves)
    fig, axes = plt.subplots(1, len(problems), figsize=(3.6 * len(problems), 3.2), squeeze=False)
    for ax, p in zip(axes[0], problems, strict=True):
        for v, runs in curves[p].items():
            arr = np.asarray(runs, dtype=float)
            its = steps * np.arange(1, arr.shape[1] + 1)
            ax.plot(its, arr.mean(0), marker="o", ms=3, label=v, color=_COLORS.get(v))
        ax.set_yscale("log")
        ax.set_title(p)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel("relative L2 (test grid)")
    axes[0, -1].legend(fontsize=8)
    return _save_fig(fig, path)


def recipe(cfg: TensorPINNConfig, out_dir: str | Path, *, data: object = None) -> dict[str, Any]:
    """Train every variant on every PDE with every seed, side by side, and report.

    For each problem the tensor PINNs (CP, TT, Tucker) and the vanilla PINN are trained
    in the same run with the same optimiser and budget; ``metrics.json`` gets, per variant,
    the relative L2 error (mean ± std over seeds) and iterations per second per problem,
    the speed ratio against the vanilla PINN (``speedup_vs_vanilla = it/s / it/s_vanilla``,
    from :func:`patrec.core.bench.ratios`), and ``rel_l2_gmean``, the geometric mean of the
    per-problem errors (the primary metric, lower is better). Plots: ``rel_l2.png`` (log
    bars per problem and variant), ``speedup.png`` (iterations/s relative to vanilla),
    ``rel_l2_curves.png`` and ``klein_gordon_slice.png`` (exact vs predicted ``u(t, x)``).
    A finished (problem, variant, seed) run (``runs/<problem>/<variant>/seed<k>/result.json``)
    is read back, not retrained. ``data`` is unused: every problem is generated.
    """

    from safetensors.torch import save as save_bytes

    from patrec.core.bench import ratios
    from patrec.core.report import (
        atomic_write_bytes,
        run_once,
        summarize_seeds,
        write_metrics,
    )

    _check_config(cfg)
    out = Path(out_dir)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def run(problem: str, variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        tr = train_run(
            cfg,
            problem,
            variant,
            seed,
            run_dir,
            time_same_grid=cfg.bench.same_grid and seed == cfg.seeds[0],
        )
        state = {k: v.detach().cpu().contiguous() for k, v in tr.model.state_dict().items()}
        atomic_write_bytes(run_dir / "model.safetensors", save_bytes(state))
        return {
            "seed": seed,
            "metrics": tr.metrics,
            "history": tr.history,
            "slice": tr.slice if seed == cfg.seeds[0] else None,
        }

    for problem in cfg.problems:
        results[problem] = {v: [] for v in cfg.variants}
        for seed in cfg.seeds:
            for variant in cfg.variants:
                run_dir = out / "runs" / problem / variant / f"seed{seed}"
                job = functools.partial(run, problem, variant, seed, run_dir)
                results[problem][variant].append(run_once(run_dir, job))

    variants: dict[str, dict[str, Any]] = {v: {} for v in cfg.variants}
    per_problem: dict[str, dict[str, Any]] = {}
    rel: dict[str, dict[str, dict[str, float]]] = {}
    speed: dict[str, dict[str, dict[str, float]]] = {}
    speed_same: dict[str, dict[str, dict[str, float]]] = {}
    for problem, by_var in results.items():
        per_problem[problem], rel[problem] = {}, {}
        speed[problem], speed_same[problem] = {}, {}
        if "vanilla" in by_var:
            # per seed: every variant's seconds per iteration over the vanilla PINN's
            per_seed = [
                ratios(
                    {v: runs[k]["metrics"]["sec_per_it"] for v, runs in by_var.items()},
                    reference="vanilla",
                )
                for k in range(len(cfg.seeds))
            ]
            same_sec = [r["metrics"].get("sec_per_it_same_grid") for r in by_var["vanilla"]]
            same_ok = [x for x in same_sec if x is not None and math.isfinite(x)]
            for v in by_var:
                speed[problem][v] = summarize_seeds([1.0 / r[v] for r in per_seed])
            if same_ok:  # the vanilla PINN timed on the tensor PINNs' grid is the reference
                mean_sec = {
                    v: sum(r["metrics"]["sec_per_it"] for r in runs) / len(runs)
                    for v, runs in by_var.items()
                    if v != "vanilla"
                }
                t_same = ratios({**mean_sec, "vanilla": sum(same_ok) / len(same_ok)}, "vanilla")
                for v, t in t_same.items():
                    speed_same[problem][v] = {"mean": 1.0 / t, "std": 0.0}
        for v, runs in by_var.items():
            r2 = summarize_seeds([r["metrics"]["rel_l2"] for r in runs])
            its = summarize_seeds([r["metrics"]["it_per_s"] for r in runs])
            rel[problem][v] = r2
            entry: dict[str, Any] = {
                "rel_l2": r2,
                "it_per_s": its,
                "params": runs[0]["metrics"]["params"],
                "grid_points": runs[0]["metrics"]["grid_points"],
                "network_inputs": runs[0]["metrics"]["network_inputs"],
            }
            variants[v][f"{problem}/rel_l2"] = r2
            variants[v][f"{problem}/it_per_s"] = its["mean"]
            if v in speed[problem]:
                entry["speedup_vs_vanilla"] = speed[problem][v]
                variants[v][f"{problem}/speedup_vs_vanilla"] = speed[problem][v]["mean"]
            if v in speed_same[problem]:
                sg = speed_same[problem][v]["mean"]
                entry["speedup_vs_vanilla_same_grid"] = sg
                variants[v][f"{problem}/speedup_vs_vanilla_same_grid"] = sg
            per_problem[problem][v] = entry
    for v in cfg.variants:
        logs = [math.log(max(rel[p][v]["mean"], 1e-300)) for p in cfg.problems]
        variants[v]["rel_l2_gmean"] = math.exp(sum(logs) / len(logs))

    plots = [
        _plot_rel_l2(
            rel,
            cfg.variants,
            out / "rel_l2.png",
            f"relative L2 error on the test grid ({len(cfg.seeds)} seed(s), "
            f"{cfg.train.epochs * cfg.steps_per_epoch} iterations)",
        ),
        _plot_curves(
            {
                p: {
                    v: [[h["rel_l2"] for h in r["history"]] for r in runs] for v, runs in bv.items()
                }
                for p, bv in results.items()
            },
            cfg.steps_per_epoch,
            out / "rel_l2_curves.png",
        ),
    ]
    if any(speed.values()):
        panels = {"as trained (vanilla on its own grid)": speed}
        if any(speed_same.values()) and speed_same != speed:
            panels["vanilla timed on the tensor PINNs' n^d grid"] = speed_same
        plots.append(_plot_speedup(panels, cfg.variants, out / "speedup.png"))
    if "klein_gordon" in results:
        slices = {
            v: runs[0]["slice"]
            for v, runs in results["klein_gordon"].items()
            if runs and runs[0].get("slice")
        }
        if slices:
            plots.append(_plot_kg_slice(slices, out / "klein_gordon_slice.png"))

    tensor_variants = [v for v in cfg.variants if v in KINDS]
    ours = "cp" if "cp" in cfg.variants else (tensor_variants or list(cfg.variants))[0]
    baselines = ["vanilla"] if "vanilla" in cfg.variants and ours != "vanilla" else []
    baselines += [v for v in cfg.variants if v not in (ours, "vanilla")]
    return write_metrics(
        out,
        method="scientific-ml/tensor_pinn",
        variants=variants,
        primary="rel_l2_gmean",
        ours=ours,
        baselines=baselines,
        higher_is_better=False,
        plots=plots,
        extra={
            "per_problem": per_problem,
            "problems": list(cfg.problems),
            "seeds": list(cfg.seeds),
            "iterations": cfg.train.epochs * cfg.steps_per_epoch,
            "timing_note": (
                "iterations/s: median of time_call over bench.iterations training iterations "
                "(forward, loss, backward, Adam step) per run; speedup_vs_vanilla: the vanilla "
                "PINN's seconds per iteration over the variant's, per seed (mean ± std); "
                "speedup_vs_vanilla_same_grid: with the vanilla PINN timed on the tensor "
                "PINNs' points^d grid"
            ),
        },
    )


METHOD = Method(
    name="scientific-ml/tensor_pinn",
    title="Functional Tensor Decompositions for Physics-Informed Neural Networks",
    paper="000/03",
    citation=(
        "S. K. Vemuri, T. Büchner, J. Niebling, J. Denzler. Functional Tensor Decompositions "
        "for Physics-Informed Neural Networks. ICPR 2024, LNCS 15325, pp. 32-46. "
        "doi:10.1007/978-3-031-78389-0_3"
    ),
    task="PDE solving: per-axis collocation coordinates -> solution u on the tensor grid",
    config=TensorPINNConfig,
    presets={"paper": paper_config, "smoke": smoke_config},
    recipe=recipe,
    baselines=("vanilla: one MLP of all inputs on the full n^d grid (Raissi et al.)",),
    status="done",
    summary=(
        "One MLP per input axis, combined as a CP, tensor-train or Tucker (orthogonal core) "
        "decomposition over the collocation grid, so n*d network evaluations give n^d "
        "points; derivatives per axis by forward-mode AD on the factor networks, then "
        "contracted; loss L_data + lambda L_physics (eq. 16)."
    ),
    paper_numbers={
        "Klein-Gordon rel. L2 (Table 2)": (
            "CP 0.008, TT 0.010, Tucker 0.019 (R=32, 64x3 pts) vs vanilla PINN 0.092 (32^3)"
        ),
        "Helmholtz rel. L2 (Table 2)": "CP 0.040, TT 0.048, Tucker 0.057 vs vanilla 0.998",
        "5d Poisson rel. L2, R=12, 24x5 pts (Table 3)": "CP 0.033, TT 0.037, Tucker 0.026",
        "flow mixing rel. L2, R=64, 128x3 pts (Table 3)": "CP 0.013, TT 0.018, Tucker 0.028",
        "speed (Table 2, GTX 1080)": "CP 327 it/s vs vanilla 20 it/s (about 16x)",
    },
    measured={
        "smoke rel. L2 (100 Adam iterations, 2 seeds; tensor 16^3 / 5^5, vanilla 8^3 / 4^5)": (
            "Klein-Gordon CP 1.23, TT 1.25, Tucker 1.21, vanilla 1.29; Helmholtz CP 4.6, TT 7.0, "
            "Tucker 3.6, vanilla 8.3; 5d Poisson CP 0.54, TT 0.59, Tucker 0.55, vanilla 0.13; "
            "flow CP 0.22, TT 0.19, Tucker 0.20, vanilla 0.18 (nothing converged after 100 of "
            "the paper's 50,000 iterations: the accuracy claims are not testable at this scale)"
        ),
        "5d Poisson, 1,000 iterations, R 8, 8 x 5 points, 1 seed": (
            "CP 0.051, TT 0.082, Tucker 0.087 vs vanilla (4^5 grid) 0.035"
        ),
        "smoke speed, CP it/s / vanilla it/s (shared 2-core CPU)": (
            "2.9x / 3.0x / 3.8x / 1.7x (KG / Helmholtz / Poisson / flow) vs the vanilla PINN on "
            "its coarser grid; 17.5x / 17.0x / 16.0x / 5.1x on the same n^d grid; 171x on the "
            "8^5 Poisson grid"
        ),
    },
)
