"""PDE benchmarks with analytic solutions, for physics-informed networks on tensor grids.

The four problems of Vemuri et al., "Functional Tensor Decompositions for Physics-Informed
Neural Networks" (ICPR 2024), Table 1, with the constants of the authors' public code:

========================  =====================================  ==============================
problem                   PDE (residual ``F = 0``, eq. 13)       domain, exact solution
========================  =====================================  ==============================
``klein_gordon`` (2+1)d   ``u_tt - (u_xx + u_yy) + u^2 - f``     ``t in [0,10], x,y in [-1,1]``;
                                                                 ``u = (x+y)cos 2t + xy sin 2t``
``helmholtz`` 3d          ``u_xx + u_yy + u_zz + k^2 u - q``     ``[-1,1]^3``, ``k = 1``;
                                                                 ``u = prod_i sin(a_i pi x_i)``,
                                                                 ``a = (4, 4, 3)``
``poisson`` 5d            ``sum_i u_{x_i x_i}``                  ``[0,1]^5``;
                          ``+ pi^2/4 sum_i sin(pi x_i / 2)``     ``u = sum_i sin(pi x_i / 2)``
``flow_mixing`` (2+1)d    ``u_t + a u_x + b u_y``                ``t in [0,4], x,y in [-4,4]``;
                                                                 ``u = -tanh(y/2 cos(wt)``
                                                                 ``- x/2 sin(wt))``
========================  =====================================  ==============================

with the Klein-Gordon source ``f = u*^2 - 4 u*`` and the Helmholtz source
``q = (k^2 - pi^2 sum_i a_i^2) u*`` (``u*`` the exact solution), and for the flow
``r = sqrt(x^2 + y^2)``, ``v_t = sech^2(r) tanh(r)``, ``w = v_t / (r v_max)``,
``a = -w y``, ``b = w x``, ``v_max = 0.385`` (Table 1's ``a = -v_t y / (v_max r)``,
``b = v_t x / (v_max r)``; ``v_t / r`` is evaluated stably so that ``r = 0`` is finite).

A network's output on a tensor grid ``x_1 (n_1,) x ... x x_d (n_d,)`` is a tensor of shape
``(n_1, ..., n_d)``; its derivatives come in a :class:`GridDerivatives`, and
:meth:`PDEProblem.residual` evaluates ``F`` on the grid from them, whatever computed them
(per-axis derivatives of a separated network, or autograd on the full grid).
The data term (eq. 14) uses the initial and boundary values on the faces of the domain that
the authors' code uses (:meth:`PDEProblem.data_faces`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from patrec.core.errors import InputError

__all__ = [
    "PROBLEMS",
    "Face",
    "FlowMixing",
    "GridDerivatives",
    "Helmholtz",
    "KleinGordon",
    "PDEProblem",
    "Poisson",
    "check_coords",
    "grid_shape",
    "make_problem",
    "mesh",
    "relative_l2",
]


# ---------------------------------------------------------------------------------------
# grids
# ---------------------------------------------------------------------------------------


def check_coords(
    coords: object, dim: int | None = None, name: str = "coords", *, finite: bool = True
) -> list[Tensor]:
    """Validate per-axis grid coordinates and return them as a list.

    Args:
        coords: a sequence of ``d`` one-dimensional floating tensors ``(n_i,)``, ``n_i >= 1``,
            finite, of one dtype and device.
        dim: the expected ``d`` (None: any ``d >= 1``).
        finite: also check that every value is finite (a device sync; training loops that
            validated their fixed coordinates once pass False).

    Raises:
        InputError: a wrong count of axes, a tensor that is not 1-D floating, an empty axis,
            NaN or inf, or mixed dtypes/devices.
    """
    if isinstance(coords, Tensor) or not isinstance(coords, Sequence):
        raise InputError(
            f"{name} must be a sequence of d one-dimensional tensors (one per axis), "
            f"got {type(coords).__name__}"
        )
    out = list(coords)
    if dim is not None and len(out) != dim:
        raise InputError(f"{name} must hold {dim} axes (one 1-D tensor each), got {len(out)}")
    if not out:
        raise InputError(f"{name} must hold at least one axis, got none")
    for i, c in enumerate(out):
        if not isinstance(c, Tensor) or c.ndim != 1 or not c.is_floating_point():
            got = f"shape {tuple(c.shape)} {c.dtype}" if isinstance(c, Tensor) else type(c)
            raise InputError(f"{name}[{i}] must be a 1-D floating tensor (n,), got {got}")
        if c.numel() == 0:
            raise InputError(f"{name}[{i}] must hold at least one point, got an empty axis")
        if finite and not bool(torch.isfinite(c).all()):
            raise InputError(f"{name}[{i}] must hold finite values, got NaN or inf")
        if c.dtype != out[0].dtype or c.device != out[0].device:
            raise InputError(
                f"{name}: every axis must share one dtype and device, got {out[0].dtype} on "
                f"{out[0].device} and {c.dtype} on {c.device} (axis {i})"
            )
    return out


def mesh(coords: Sequence[Tensor]) -> list[Tensor]:
    """Broadcastable views of a tensor grid: axis ``i`` gets shape ``(1, .., n_i, .., 1)``.

    Any pointwise formula of these views broadcasts to the full ``(n_1, ..., n_d)`` grid
    without materialising ``d`` meshgrids.
    """
    d = len(coords)
    return [c.reshape([-1 if j == i else 1 for j in range(d)]) for i, c in enumerate(coords)]


def grid_shape(coords: Sequence[Tensor]) -> tuple[int, ...]:
    """``(n_1, ..., n_d)`` of a tensor grid."""
    return tuple(int(c.numel()) for c in coords)


def relative_l2(pred: Tensor, exact: Tensor) -> float:
    """Relative L2 error ``||pred - exact||_2 / ||exact||_2`` (the paper's metric, Sec. 3).

    Args:
        pred, exact: tensors of one shape (e.g. the ``(n_1, ..., n_d)`` test grid).

    Raises:
        InputError: mismatched shapes, non-finite values or an all-zero ``exact``.
    """
    if not isinstance(pred, Tensor) or not isinstance(exact, Tensor):
        raise InputError(
            f"pred and exact must be tensors, got {type(pred).__name__}, {type(exact).__name__}"
        )
    if pred.shape != exact.shape:
        raise InputError(
            f"pred and exact must be on the same grid, got {tuple(pred.shape)} and "
            f"{tuple(exact.shape)}"
        )
    if not bool(torch.isfinite(exact).all()):
        raise InputError("exact must hold finite values, got NaN or inf")
    p, e = pred.detach().double(), exact.detach().double()
    den = torch.linalg.vector_norm(e)
    if float(den) == 0.0:
        raise InputError("exact is identically zero; the relative L2 error is undefined")
    return float(torch.linalg.vector_norm(p - e) / den)


@dataclass(frozen=True)
class GridDerivatives:
    """A field on a tensor grid and the per-axis derivatives a residual needs.

    Attributes:
        u: ``(n_1, ..., n_d)`` values.
        first: axis -> ``du/dx_axis`` on the grid, same shape as ``u``.
        second: axis -> ``d^2u/dx_axis^2`` on the grid, same shape as ``u``.
    """

    u: Tensor
    first: Mapping[int, Tensor] = field(default_factory=dict)
    second: Mapping[int, Tensor] = field(default_factory=dict)

    def d1(self, axis: int) -> Tensor:
        """``du/dx_axis``; InputError if it was not computed."""
        if axis not in self.first:
            raise InputError(
                f"first derivative along axis {axis} was not computed (have {sorted(self.first)})"
            )
        return self.first[axis]

    def d2(self, axis: int) -> Tensor:
        """``d^2u/dx_axis^2``; InputError if it was not computed."""
        if axis not in self.second:
            raise InputError(
                f"second derivative along axis {axis} was not computed (have {sorted(self.second)})"
            )
        return self.second[axis]

    def laplacian(self, axes: Sequence[int]) -> Tensor:
        """``sum_{i in axes} d^2u/dx_i^2``."""
        out = torch.zeros_like(self.u)
        for a in axes:
            out = out + self.d2(a)
        return out


@dataclass(frozen=True)
class Face:
    """Data points of eq. 14 on one face of the domain: axis ``axis`` fixed at ``value``.

    ``coords`` is the collocation grid with axis ``axis`` replaced by the single point
    ``value``; ``target`` holds the known solution there, shape ``grid_shape(coords)``.
    """

    axis: int
    value: float
    coords: tuple[Tensor, ...]
    target: Tensor


# ---------------------------------------------------------------------------------------
# problems
# ---------------------------------------------------------------------------------------


class PDEProblem(ABC):
    """A PDE with an analytic solution on a box, in the form the recipes need.

    Subclasses give ``name``, ``axes`` (names), ``bounds`` (``(lo, hi)`` per axis),
    ``orders`` (the highest derivative order the residual needs along each axis),
    ``data_faces_spec`` (the ``(axis, value)`` faces with known values), :meth:`solution`
    and :meth:`residual_from`.
    """

    name: str = ""
    title: str = ""
    axes: tuple[str, ...] = ()
    bounds: tuple[tuple[float, float], ...] = ()
    orders: tuple[int, ...] = ()
    data_faces_spec: tuple[tuple[int, float], ...] = ()

    @property
    def dim(self) -> int:
        """Number of independent variables ``d``."""
        return len(self.axes)

    # -- the analytic solution ------------------------------------------------------------
    @abstractmethod
    def solution(self, *x: Tensor) -> Tensor:
        """The exact ``u(x_1, ..., x_d)``, pointwise; the ``x_i`` broadcast together."""

    def boundary_value(self, *x: Tensor) -> Tensor:
        """The data values on a face (default: the exact solution)."""
        return self.solution(*x)

    def exact(self, coords: Sequence[Tensor]) -> Tensor:
        """The exact solution on a tensor grid: ``(n_1, ..., n_d)``."""
        coords = check_coords(coords, self.dim)
        return self.solution(*mesh(coords)).expand(grid_shape(coords)).contiguous()

    def exact_points(self, x: Tensor) -> Tensor:
        """The exact solution at scattered points ``x (N, d)`` -> ``(N,)``."""
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self.dim:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise InputError(f"x must be (N, {self.dim}) points, got {got}")
        return self.solution(*x.unbind(1))

    def analytic_cp_factors(self) -> list[Callable[[Tensor], Tensor]] | None:
        """The exact solution as a CP form (eq. 2): one ``(n,) -> (n, R)`` map per axis.

        ``u(x) = sum_r prod_i g_i(x_i)[r]``; ``None`` when no finite form is known.
        """
        return None

    # -- the residual (eq. 13) -------------------------------------------------------------
    @abstractmethod
    def residual_from(self, x: Sequence[Tensor], d: GridDerivatives) -> Tensor:
        """``F(x, u, grad u, ...)`` from broadcastable coordinates and derivatives."""

    def residual(
        self, coords: Sequence[Tensor], derivs: GridDerivatives, *, check_finite: bool = True
    ) -> Tensor:
        """The PDE residual ``F`` (eq. 13) on a tensor grid, shape ``(n_1, ..., n_d)``.

        Args:
            coords: the grid, ``d`` tensors ``(n_i,)``.
            derivs: the field and its derivatives on that grid (every tensor
                ``(n_1, ..., n_d)``; at least the orders in :attr:`orders`).
            check_finite: check the coordinates for NaN/inf.

        Raises:
            InputError: wrong coordinates, or derivatives on another grid.
        """
        coords = check_coords(coords, self.dim, finite=check_finite)
        shape = grid_shape(coords)
        for what, t in [("u", derivs.u)] + [
            (f"{k}[{a}]", v)
            for k, m in (("first", derivs.first), ("second", derivs.second))
            for a, v in m.items()
        ]:
            if not isinstance(t, Tensor) or tuple(t.shape) != shape:
                got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
                raise InputError(
                    f"derivs.{what} must be on the coords grid {shape}, got {got} "
                    "(mismatched grids)"
                )
        return self.residual_from(mesh(coords), derivs)

    # -- sampling --------------------------------------------------------------------------
    def _counts(self, n: int | Sequence[int], what: str) -> list[int]:
        counts = [n] * self.dim if isinstance(n, int) else list(n)
        if len(counts) != self.dim or any(
            isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in counts
        ):
            raise InputError(
                f"{what} must be an int >= 1 or {self.dim} ints >= 1 (one per axis), got {n!r}"
            )
        return counts

    def sample_collocation(
        self,
        n: int | Sequence[int],
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> list[Tensor]:
        """``n`` uniform random points per axis inside the box (the authors' sampling).

        The tensor grid of these ``n * d`` coordinates holds ``n^d`` collocation points.
        """
        out = []
        for (lo, hi), k in zip(self.bounds, self._counts(n, "n"), strict=True):
            u = torch.rand(k, generator=generator, dtype=torch.float64)
            out.append((lo + (hi - lo) * u).to(device=device, dtype=dtype))
        return out

    def test_grid(
        self,
        n: int | Sequence[int],
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> list[Tensor]:
        """``n`` evenly spaced points per axis, ends included (the evaluation grid)."""
        return [
            torch.linspace(lo, hi, k, dtype=torch.float64).to(device=device, dtype=dtype)
            for (lo, hi), k in zip(self.bounds, self._counts(n, "n"), strict=True)
        ]

    def data_faces(self, coords: Sequence[Tensor]) -> list[Face]:
        """The initial/boundary data of eq. 14 on the faces of the collocation grid.

        Each face keeps the collocation coordinates of every other axis, so a separated
        network evaluates it from the same ``n * d`` inputs plus one point.
        """
        coords = check_coords(coords, self.dim)
        faces = []
        for axis, value in self.data_faces_spec:
            c = list(coords)
            c[axis] = torch.full((1,), float(value), dtype=coords[0].dtype, device=coords[0].device)
            target = self.boundary_value(*mesh(c)).expand(grid_shape(c)).contiguous()
            faces.append(Face(axis, float(value), tuple(c), target))
        return faces

    def __repr__(self) -> str:
        box = " x ".join(f"{a} in [{lo:g}, {hi:g}]" for a, (lo, hi) in zip(self.axes, self.bounds))
        return f"{type(self).__name__}({box})"


class KleinGordon(PDEProblem):
    """(2+1)d Klein-Gordon ``u_tt - Delta u + u^2 = f`` (Table 1; SPINN's benchmark).

    Axes ``(t, x, y)``, ``t in [0, 10]``, ``x, y in [-1, 1]``,
    ``u = (x + y) cos(2t) + x y sin(2t)``, ``f = u^2 - 4u`` (so that ``u`` solves it).
    Data: ``u(0, x, y) = x + y`` and ``u`` on the four spatial faces ``x, y = +-1``.
    """

    name = "klein_gordon"
    title = "(2+1)d Klein-Gordon"
    axes = ("t", "x", "y")
    bounds = ((0.0, 10.0), (-1.0, 1.0), (-1.0, 1.0))
    orders = (2, 2, 2)
    data_faces_spec = ((0, 0.0), (1, -1.0), (1, 1.0), (2, -1.0), (2, 1.0))

    def solution(self, *x: Tensor) -> Tensor:
        t, xx, yy = x
        return (xx + yy) * torch.cos(2 * t) + xx * yy * torch.sin(2 * t)

    def source(self, *x: Tensor) -> Tensor:
        """``f = u*^2 - 4 u*``."""
        u = self.solution(*x)
        return u * u - 4 * u

    def residual_from(self, x: Sequence[Tensor], d: GridDerivatives) -> Tensor:
        return d.d2(0) - (d.d2(1) + d.d2(2)) + d.u * d.u - self.source(*x)

    def analytic_cp_factors(self) -> list[Callable[[Tensor], Tensor]]:
        # u = x*1*cos2t + 1*y*cos2t + x*y*sin2t: rank 3
        return [
            lambda t: torch.stack([torch.cos(2 * t), torch.cos(2 * t), torch.sin(2 * t)], -1),
            lambda x: torch.stack([x, torch.ones_like(x), x], -1),
            lambda y: torch.stack([torch.ones_like(y), y, y], -1),
        ]


class Helmholtz(PDEProblem):
    """3d Helmholtz ``Delta u + k^2 u = q`` with ``u = 0`` on the boundary (Table 1).

    ``x in [-1, 1]^3``, ``u = prod_i sin(a_i pi x_i)``,
    ``q = (k^2 - pi^2 sum_i a_i^2) u``; ``a = (4, 4, 3)``, ``k = 1`` as in the authors' code.
    """

    name = "helmholtz"
    title = "3d Helmholtz"
    axes = ("x", "y", "z")
    bounds = ((-1.0, 1.0),) * 3
    orders = (2, 2, 2)
    data_faces_spec = ((0, -1.0), (0, 1.0), (1, -1.0), (1, 1.0), (2, -1.0), (2, 1.0))

    def __init__(self, a: Sequence[float] = (4.0, 4.0, 3.0), k: float = 1.0) -> None:
        if len(a) != 3 or not all(math.isfinite(float(v)) for v in a) or not math.isfinite(k):
            raise InputError(f"Helmholtz needs three finite a_i and a finite k, got {a!r}, {k!r}")
        self.a = tuple(float(v) for v in a)
        self.k = float(k)

    def solution(self, *x: Tensor) -> Tensor:
        out = torch.sin(self.a[0] * math.pi * x[0])
        for ai, xi in zip(self.a[1:], x[1:], strict=True):
            out = out * torch.sin(ai * math.pi * xi)
        return out

    def boundary_value(self, *x: Tensor) -> Tensor:
        """``u = 0`` on the boundary (Table 1)."""
        return torch.zeros_like(self.solution(*x))

    def source(self, *x: Tensor) -> Tensor:
        """``q = -(a_1 pi)^2 u - (a_2 pi)^2 u - (a_3 pi)^2 u + k^2 u``."""
        lam = self.k**2 - math.pi**2 * sum(v * v for v in self.a)
        return lam * self.solution(*x)

    def residual_from(self, x: Sequence[Tensor], d: GridDerivatives) -> Tensor:
        return d.laplacian(range(3)) + self.k**2 * d.u - self.source(*x)

    def analytic_cp_factors(self) -> list[Callable[[Tensor], Tensor]]:
        def factor(ai: float) -> Callable[[Tensor], Tensor]:
            return lambda v: torch.sin(ai * math.pi * v)[:, None]

        return [factor(ai) for ai in self.a]  # rank 1


class Poisson(PDEProblem):
    """``d``-dimensional Poisson ``Delta u = -pi^2/4 sum_i sin(pi x_i / 2)`` (Table 1, d = 5).

    ``x in [0, 1]^d``, ``u = sum_i sin(pi x_i / 2)``; data: ``u`` on all ``2d`` faces.
    """

    name = "poisson"
    title = "5d Poisson"

    def __init__(self, dim: int = 5) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise InputError(f"Poisson dim must be an int >= 1, got {dim!r}")
        self.axes = tuple(f"x{i + 1}" for i in range(dim))
        self.bounds = ((0.0, 1.0),) * dim
        self.orders = (2,) * dim
        self.data_faces_spec = tuple((i, v) for i in range(dim) for v in (0.0, 1.0))
        self.title = f"{dim}d Poisson"

    def solution(self, *x: Tensor) -> Tensor:
        out = torch.sin(0.5 * math.pi * x[0])
        for xi in x[1:]:
            out = out + torch.sin(0.5 * math.pi * xi)
        return out

    def residual_from(self, x: Sequence[Tensor], d: GridDerivatives) -> Tensor:
        # Delta u = -pi^2/4 sum_i sin(pi x_i / 2)  ->  F = Delta u + pi^2/4 sum_i sin(...)
        return d.laplacian(range(self.dim)) + (math.pi**2 / 4) * self.solution(*x)

    def analytic_cp_factors(self) -> list[Callable[[Tensor], Tensor]]:
        dim = self.dim

        def factor(i: int) -> Callable[[Tensor], Tensor]:
            def g(v: Tensor) -> Tensor:
                cols = [
                    torch.sin(0.5 * math.pi * v) if j == i else torch.ones_like(v)
                    for j in range(dim)
                ]
                return torch.stack(cols, -1)

            return g

        return [factor(i) for i in range(dim)]  # rank d


def _sech2_tanh_over_r(x: Tensor, y: Tensor) -> Tensor:
    """``sech^2(r) tanh(r) / r`` with ``r = sqrt(x^2 + y^2)``, smooth through ``r = 0``.

    Near the centre the series ``1 - 4 r^2 / 3`` is used (in ``r^2``, no square root), so the
    value is 1 at ``r = 0`` and autograd derivatives stay finite there.
    """
    s = x * x + y * y
    small = s < 1e-8
    r = torch.sqrt(torch.where(small, torch.ones_like(s), s))
    return torch.where(small, 1 - 4 * s / 3, torch.tanh(r) / (r * torch.cosh(r) ** 2))


class FlowMixing(PDEProblem):
    """(2+1)d flow mixing ``u_t + a u_x + b u_y = 0`` (Table 1; CAN-PINN's benchmark).

    Axes ``(t, x, y)``, ``t in [0, 4]``, ``x, y in [-4, 4]``; a rotating vortex with angular
    velocity ``w(r) = v_t / (r v_max)``, ``v_t = sech^2(r) tanh(r)``, ``a = -w y``, ``b = w x``;
    ``u = -tanh(y/2 cos(w t) - x/2 sin(w t))``. Data: ``u`` at ``t = 0`` and on ``x, y = +-4``.
    """

    name = "flow_mixing"
    title = "(2+1)d flow mixing"
    axes = ("t", "x", "y")
    bounds = ((0.0, 4.0), (-4.0, 4.0), (-4.0, 4.0))
    orders = (1, 1, 1)
    data_faces_spec = ((0, 0.0), (1, -4.0), (1, 4.0), (2, -4.0), (2, 4.0))

    def __init__(self, v_max: float = 0.385) -> None:
        if not math.isfinite(v_max) or v_max <= 0:
            raise InputError(f"v_max must be a positive finite float, got {v_max!r}")
        self.v_max = float(v_max)

    def omega(self, x: Tensor, y: Tensor) -> Tensor:
        """Angular velocity ``w = v_t / (r v_max) = sech^2(r) (tanh(r)/r) / v_max``."""
        return _sech2_tanh_over_r(x, y) / self.v_max

    def velocity(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(a, b) = (-w y, w x)``."""
        w = self.omega(x, y)
        return -w * y, w * x

    def solution(self, *x: Tensor) -> Tensor:
        t, xx, yy = x
        wt = self.omega(xx, yy) * t
        return -torch.tanh(0.5 * yy * torch.cos(wt) - 0.5 * xx * torch.sin(wt))

    def residual_from(self, x: Sequence[Tensor], d: GridDerivatives) -> Tensor:
        a, b = self.velocity(x[1], x[2])
        return d.d1(0) + a * d.d1(1) + b * d.d1(2)


PROBLEMS: dict[str, Callable[[], PDEProblem]] = {
    "klein_gordon": KleinGordon,
    "helmholtz": Helmholtz,
    "poisson": Poisson,
    "flow_mixing": FlowMixing,
}


def make_problem(name: str) -> PDEProblem:
    """The problem called ``name`` (one of :data:`PROBLEMS`), with the paper's constants."""
    if name not in PROBLEMS:
        raise InputError(f"unknown problem {name!r}; accepted: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]()
