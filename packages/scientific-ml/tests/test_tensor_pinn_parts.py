"""Tensor PINNs: contractions (eqs. 17-19), per-axis derivatives, PDE residuals, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from patrec.core.errors import InputError
from patrec.scientific_ml.pdes import (
    PROBLEMS,
    FlowMixing,
    GridDerivatives,
    Helmholtz,
    KleinGordon,
    Poisson,
    make_problem,
    relative_l2,
)
from patrec.scientific_ml.tensor_pinn import (
    CPPINN,
    KINDS,
    TTPINN,
    FactorFunction,
    FactorMLP,
    SelfAdaptiveWeights,
    TensorPINN,
    TuckerPINN,
    VanillaPINN,
    autograd_derivatives,
    causal_pinn_loss,
    causal_residual_loss,
    causal_weights,
    cp_contract,
    factor_derivatives,
    gpinn_loss,
    make_tensor_pinn,
    pinn_loss,
    sa_pinn_loss,
    tt_contract,
    tucker_contract,
)

D64 = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny tensors: one intra-op thread is faster, and several times faster on a busy CPU
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _coords(*ns: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(n, generator=g, dtype=D64) * 2 - 1 for n in ns]


def _model(kind: str, dim: int, rank: int, seed: int = 0, **kw: object) -> torch.nn.Module:
    torch.manual_seed(seed)
    return make_tensor_pinn(kind, dim, rank, **kw).double()  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# contractions
# ---------------------------------------------------------------------------------------


def test_contractions_match_einsum_references():
    g = torch.Generator().manual_seed(1)
    a, b, c = (torch.randn(n, 4, generator=g, dtype=D64) for n in (3, 5, 2))
    torch.testing.assert_close(cp_contract([a, b, c]), torch.einsum("ar,br,cr->abc", a, b, c))
    mid = torch.randn(5, 4, 3, generator=g, dtype=D64)
    end = torch.randn(2, 3, generator=g, dtype=D64)
    torch.testing.assert_close(
        tt_contract([a, mid, end]), torch.einsum("ar,brs,cs->abc", a, mid, end)
    )
    core = torch.randn(4, 4, 4, generator=g, dtype=D64)
    torch.testing.assert_close(
        tucker_contract(core, [a, b, c]), torch.einsum("pqr,ap,bq,cr->abc", core, a, b, c)
    )
    # five axes, unequal ranks in the Tucker core
    fs = [
        torch.randn(n, r, generator=g, dtype=D64) for n, r in zip((2, 3, 2, 4, 3), (2, 3, 1, 2, 2))
    ]
    core5 = torch.randn(2, 3, 1, 2, 2, generator=g, dtype=D64)
    torch.testing.assert_close(
        tucker_contract(core5, fs), torch.einsum("pqrst,ap,bq,cr,ds,et->abcde", core5, *fs)
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ns", [(4, 3), (3, 4, 5), (2, 3, 2, 3, 2)])
def test_n_points_per_axis_give_the_full_grid(kind, ns):
    model = _model(kind, len(ns), 3)
    coords = _coords(*ns)
    u = model(coords)
    assert u.shape == ns
    # the grid value at (i_1..i_d) is the function at that point
    x = torch.stack([c[1] for c in coords])[None]
    torch.testing.assert_close(model.at_points(x)[0], u[(1,) * len(ns)])
    # n*d network inputs for n^d outputs
    fac = [model.factor(i, c)[0] for i, c in enumerate(coords)]
    assert sum(f.shape[0] for f in fac) == sum(ns) and u.numel() == math.prod(ns)


def test_vanilla_grid_shape_and_order():
    torch.manual_seed(0)
    net = VanillaPINN(3, width=8, hidden_layers=2).double()
    coords = _coords(2, 3, 4)
    u = net(coords)
    assert u.shape == (2, 3, 4)
    x = torch.stack([coords[0][1], coords[1][2], coords[2][3]])[None]
    torch.testing.assert_close(net.at_points(x)[0], u[1, 2, 3])
    torch.testing.assert_close(net(coords, chunk=5), u)


def test_tt_with_rank_one_equals_cp_with_rank_one():
    cp = _model("cp", 4, 1, seed=3)
    tt = _model("tt", 4, 1, seed=4)
    coords = _coords(3, 2, 4, 3)
    assert not torch.allclose(cp(coords), tt(coords))  # different weights differ
    tt.load_state_dict(cp.state_dict())
    torch.testing.assert_close(tt(coords), cp(coords))
    a, b = tt.grid_derivatives(coords, 2), cp.grid_derivatives(coords, 2)
    for i in range(4):
        torch.testing.assert_close(a.d2(i), b.d2(i))


def test_tt_with_rank_above_one_is_not_cp():
    # same per-axis networks would not even fit: middle TT nets output R*R numbers
    cp, tt = _model("cp", 3, 2), _model("tt", 3, 2)
    assert tt.factor_nets[1].out_features == 4 and cp.factor_nets[1].out_features == 2


def test_tucker_with_identity_core_equals_cp():
    r = 3
    cp = _model("cp", 3, r, seed=5)
    tucker = _model("tucker", 3, r, seed=6)
    coords = _coords(4, 3, 5)
    tucker.factor_nets.load_state_dict(cp.factor_nets.state_dict())
    # an orthogonal core is not the identity: the two differ
    assert not torch.allclose(tucker(coords), cp(coords), atol=1e-6)
    with torch.no_grad():
        tucker.core.zero_()
        for k in range(r):
            tucker.core[k, k, k] = 1.0  # superdiagonal identity core
    torch.testing.assert_close(tucker(coords), cp(coords))
    a, b = tucker.grid_derivatives(coords, 2), cp.grid_derivatives(coords, 2)
    torch.testing.assert_close(a.laplacian(range(3)), b.laplacian(range(3)))
    x = torch.rand(6, 3, dtype=D64)
    torch.testing.assert_close(tucker.at_points(x), cp.at_points(x))


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_tucker_core_is_orthogonally_initialised(dim):
    r = 4
    m = _model("tucker", dim, r, seed=dim)
    unfold = m.core.detach().reshape(r, -1)  # mode-1 unfolding (R, R^{d-1})
    torch.testing.assert_close(unfold @ unfold.T, torch.eye(r, dtype=D64), atol=1e-6, rtol=0)
    assert m.core.requires_grad
    m2 = _model("tucker", dim, r, seed=dim + 10)
    assert not torch.allclose(m.core, m2.core)  # random, not a fixed pattern


# ---------------------------------------------------------------------------------------
# derivatives
# ---------------------------------------------------------------------------------------


def test_factor_mlp_forward_mode_matches_jvp_and_autograd():
    torch.manual_seed(0)
    net = FactorMLP(5, 7, layers=4, init="default").double()
    x = torch.linspace(-2, 2, 9, dtype=D64)
    fast = net.forward_with_derivatives(x, 2)
    ref = factor_derivatives(net, x, 2)  # nested torch.func.jvp
    for a, b in zip(fast, ref, strict=True):
        torch.testing.assert_close(a, b)
    # reverse-mode, column by column
    xg = x.clone().requires_grad_(True)
    y = net(xg)
    for r in range(5):
        (g,) = torch.autograd.grad(y[:, r].sum(), xg, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), xg, retain_graph=True)
        torch.testing.assert_close(fast[1][:, r], g)
        torch.testing.assert_close(fast[2][:, r], h)
    assert len(net.forward_with_derivatives(x, 1)) == 2
    assert len(net.forward_with_derivatives(x, 0)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_per_axis_laplacian_matches_autograd_on_the_assembled_grid(kind):
    model = _model(kind, 3, 3, seed=7)
    coords = _coords(3, 4, 2, seed=2)
    per_axis = model.grid_derivatives(coords, (2, 2, 1))
    x = VanillaPINN.grid_points(coords)
    u, first, second = autograd_derivatives(model.at_points, x, (2, 2, 1))
    shape = (3, 4, 2)
    torch.testing.assert_close(per_axis.u, u.reshape(shape))
    for i in range(3):
        torch.testing.assert_close(per_axis.d1(i), first[i].reshape(shape))
    for i in range(2):
        torch.testing.assert_close(per_axis.d2(i), second[i].reshape(shape))
    assert 2 not in per_axis.second  # order 1 asked on the last axis
    lap = per_axis.d2(0) + per_axis.d2(1)
    assert float(lap.detach().abs().max()) > 1e-6  # not trivially zero


def test_per_axis_laplacian_matches_the_analytic_one():
    # u = sin(a1 pi x) sin(a2 pi y) sin(a3 pi z): Delta u = -pi^2 (a1^2+a2^2+a3^2) u
    a = (1.0, 2.0, 0.5)
    fac = [FactorFunction(lambda v, k=k: torch.sin(k * math.pi * v)[:, None]) for k in a]
    model = CPPINN(fac, 1)
    coords = _coords(5, 4, 3)
    d = model.grid_derivatives(coords, 2)
    want = -(math.pi**2) * sum(k * k for k in a) * d.u
    torch.testing.assert_close(d.laplacian(range(3)), want)
    # a TT with the same rank-1 components agrees
    tt = TTPINN([FactorFunction(f.fn) for f in fac], 1)
    torch.testing.assert_close(tt.grid_derivatives(coords, 2).laplacian(range(3)), want)


# ---------------------------------------------------------------------------------------
# the PDEs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["klein_gordon", "helmholtz", "poisson"])
def test_residual_vanishes_on_the_exact_solution_per_axis(name):
    problem = make_problem(name)
    coords = problem.sample_collocation(5, generator=torch.Generator().manual_seed(0), dtype=D64)
    fac = problem.analytic_cp_factors()
    rank = fac[0](coords[0]).shape[1]
    exact_cp = CPPINN([FactorFunction(f) for f in fac], rank)
    d = exact_cp.grid_derivatives(coords, problem.orders)
    torch.testing.assert_close(d.u, problem.exact(coords))
    res = problem.residual(coords, d)
    scale = float(problem.exact(coords).abs().max()) * 100
    assert float(res.abs().max()) < 1e-10 * scale
    # slightly wrong derivatives do not satisfy the PDE
    assert float(problem.residual(coords, _bumped(d)).abs().max()) > 1e-4


def _bumped(d: GridDerivatives) -> GridDerivatives:
    return GridDerivatives(
        d.u * 1.01 + 0.01,
        {a: t + 0.01 for a, t in d.first.items()},
        {a: t + 0.01 for a, t in d.second.items()},
    )


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_residual_vanishes_on_the_exact_solution_by_autograd(name):
    problem = make_problem(name)
    if name == "flow_mixing":
        coords = problem.test_grid(5, dtype=D64)  # includes the vortex centre r = 0
    else:
        g = torch.Generator().manual_seed(0)
        coords = problem.sample_collocation(5, generator=g, dtype=D64)
    x = VanillaPINN.grid_points(coords)
    u, first, second = autograd_derivatives(problem.exact_points, x, problem.orders)
    shape = tuple(len(c) for c in coords)
    d = GridDerivatives(
        u.reshape(shape),
        {a: t.reshape(shape) for a, t in first.items()},
        {a: t.reshape(shape) for a, t in second.items()},
    )
    res = problem.residual(coords, d)
    assert torch.isfinite(res).all()
    assert float(res.abs().max()) < 1e-9
    assert float(problem.residual(coords, _bumped(d)).abs().max()) > 1e-4


def test_flow_mixing_is_finite_at_the_vortex_centre_and_rotates():
    p = FlowMixing()
    z = torch.zeros(1, dtype=D64)
    w0 = p.omega(z, z)
    torch.testing.assert_close(w0, torch.tensor([1 / 0.385], dtype=D64))
    # at t = 0 the solution is -tanh(y / 2)
    y = torch.linspace(-4, 4, 7, dtype=D64)
    torch.testing.assert_close(p.solution(z, torch.zeros_like(y), y), -torch.tanh(y / 2))


def test_data_faces_hold_the_exact_boundary_values():
    kg = KleinGordon()
    coords = kg.sample_collocation(4, generator=torch.Generator().manual_seed(1))
    faces = kg.data_faces(coords)
    assert [(f.axis, f.value) for f in faces] == [
        (0, 0.0),
        (1, -1.0),
        (1, 1.0),
        (2, -1.0),
        (2, 1.0),
    ]
    t0 = faces[0]
    assert t0.target.shape == (1, 4, 4)
    torch.testing.assert_close(t0.target[0], coords[1][:, None] + coords[2][None, :])  # x + y
    assert t0.coords[1] is coords[1]  # the collocation axes are reused
    hz = Helmholtz()
    hf = hz.data_faces(hz.sample_collocation(3))
    assert len(hf) == 6 and all(float(f.target.abs().max()) == 0.0 for f in hf)
    assert len(Poisson().data_faces(Poisson().sample_collocation(2))) == 10


def test_collocation_is_inside_the_box_and_seeded():
    p = KleinGordon()
    a = p.sample_collocation((3, 4, 5), generator=torch.Generator().manual_seed(0))
    b = p.sample_collocation((3, 4, 5), generator=torch.Generator().manual_seed(0))
    assert [len(c) for c in a] == [3, 4, 5]
    for c, d, (lo, hi) in zip(a, b, p.bounds, strict=True):
        assert torch.equal(c, d) and float(c.min()) >= lo and float(c.max()) <= hi
    grid = p.test_grid(3)
    assert grid[0].tolist() == [0.0, 5.0, 10.0]


def test_loss_is_zero_for_the_exact_solution_and_positive_otherwise():
    problem = Helmholtz(a=(1.0, 1.0, 1.0))
    coords = problem.sample_collocation(6, generator=torch.Generator().manual_seed(0), dtype=D64)
    faces = problem.data_faces(coords)
    exact = CPPINN([FactorFunction(f) for f in problem.analytic_cp_factors()], 1)
    terms = pinn_loss(exact, problem, coords, faces)
    assert float(terms["loss"]) < 1e-20
    model = _model("cp", 3, 4)
    terms = pinn_loss(model, problem, coords, faces, lam=0.5)
    torch.testing.assert_close(terms["loss"], terms["data"] + 0.5 * terms["physics"])
    assert float(terms["physics"]) > 0 and float(terms["data"]) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_loss_gradients_reach_every_parameter(kind):
    problem = KleinGordon()
    coords = problem.sample_collocation(4, generator=torch.Generator().manual_seed(0), dtype=D64)
    model = _model(kind, 3, 3)
    pinn_loss(model, problem, coords, problem.data_faces(coords))["loss"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


@pytest.mark.parametrize("kind", KINDS)
def test_fitting_a_separable_function(kind):
    # a known separable function on a 12^3 grid: data fit only, a few hundred Adam steps
    torch.manual_seed(0)
    coords = [torch.linspace(-1, 1, 12)] * 3
    target = Helmholtz(a=(0.5, 0.5, 0.5)).exact(coords)
    model = make_tensor_pinn(kind, 3, 4, width=16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        opt.zero_grad()
        loss = (model(coords) - target).pow(2).mean()
        loss.backward()
        opt.step()
    assert relative_l2(model(coords).detach(), target) < 0.05


def test_a_cp_pinn_solves_a_poisson_problem_from_the_pde_and_its_boundary():
    # 3d Poisson (the 5d benchmark's family), 8^3 collocation grid, eq. 16 with lambda = 1
    problem = Poisson(dim=3)
    torch.manual_seed(0)
    model = make_tensor_pinn("cp", 3, 4, width=16)
    coords = problem.sample_collocation(8, generator=torch.Generator().manual_seed(0))
    faces = problem.data_faces(coords)
    test = problem.test_grid(7)
    before = relative_l2(model(test).detach(), problem.exact(test))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        terms = pinn_loss(model, problem, coords, faces, check_finite=False)
        terms["loss"].backward()
        opt.step()
    after = relative_l2(model(test).detach(), problem.exact(test))
    assert before > 0.9 and after < 0.3  # measured 0.12


def test_tensor_pinn_iteration_is_faster_than_vanilla_on_the_same_grid():
    # Table 2's speed claim (n*d network inputs for n^d points): one training iteration on
    # a 12^3 Klein-Gordon grid, best of 3 (measured about 10x on 2 busy cores)
    import time

    problem = KleinGordon()
    coords = problem.sample_collocation(12, generator=torch.Generator().manual_seed(0))
    faces = problem.data_faces(coords)
    torch.manual_seed(0)
    models = {"cp": make_tensor_pinn("cp", 3, 16), "vanilla": VanillaPINN(3)}
    best = {}
    for name, m in models.items():
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        times = []
        for _ in range(4):
            t0 = time.perf_counter()
            for _ in range(3):
                opt.zero_grad()
                pinn_loss(m, problem, coords, faces, check_finite=False)["loss"].backward()
                opt.step()
            times.append(time.perf_counter() - t0)
        best[name] = min(times[1:])
    assert best["vanilla"] / best["cp"] > 2.0, best


def test_saved_tensor_pinns_load_back_with_their_kind(tmp_path):
    from patrec.core.hub import load_model, save_model, verify_saved_model

    coords = tuple(c.float() for c in _coords(3, 4, 2))
    for kind in KINDS:
        torch.manual_seed(1)
        model = make_tensor_pinn(kind, 3, 3, width=5, layers=3)
        save_model(model, tmp_path / kind, coords)
        back = load_model(tmp_path / kind, TensorPINN)
        assert isinstance(back, TensorPINN) and back.kind == kind and back.rank == 3
        assert verify_saved_model(tmp_path / kind, TensorPINN) < 1e-6
        # both call forms: d tensors, or one sequence of them
        torch.testing.assert_close(back(*coords), model(list(coords)).detach())
    net = VanillaPINN(3, width=8, hidden_layers=2)
    save_model(net, tmp_path / "vanilla", coords)
    assert verify_saved_model(tmp_path / "vanilla", VanillaPINN) < 1e-6


# ---------------------------------------------------------------------------------------
# the baselines' losses (Table 2: G-PINN, SA-PINN, Causal-PINN)
# ---------------------------------------------------------------------------------------


class _Exact(VanillaPINN):
    """A "network" that is the exact Poisson solution plus c * x_1^3."""

    def __init__(self, problem: Poisson, c: float) -> None:
        super().__init__(problem.dim, width=2, hidden_layers=1)
        self.problem, self.c = problem, c

    def point_fn(self, x: torch.Tensor) -> torch.Tensor:
        return self.problem.exact_points(x) + self.c * x[:, 0] ** 3


def test_gpinn_residual_gradient_matches_the_hand_computed_one():
    # u = u* + c x_1^3 gives F = Delta u + f = 6 c x_1, so dF/dx_1 = 6c, dF/dx_i = 0 else
    problem = Poisson(dim=3)
    coords = problem.sample_collocation(4, generator=torch.Generator().manual_seed(0), dtype=D64)
    faces = problem.data_faces(coords)
    exact = gpinn_loss(_Exact(problem, 0.0).double(), problem, coords, faces)
    assert float(exact["physics"]) < 1e-20 and float(exact["physics_grad"]) < 1e-20
    c = 0.3
    t = gpinn_loss(_Exact(problem, c).double(), problem, coords, faces, lam=1.0, weight=0.5)
    torch.testing.assert_close(t["physics_grad"], torch.tensor(36 * c * c, dtype=D64))
    x1 = coords[0][:, None, None].expand(4, 4, 4)
    torch.testing.assert_close(t["physics"], (6 * c * x1).pow(2).mean())
    torch.testing.assert_close(t["loss"], t["data"] + t["physics"] + 0.5 * t["physics_grad"])
    # w_g = 0 is the plain PINN loss
    net = VanillaPINN(3, width=8, hidden_layers=2).double()
    a, b = (
        gpinn_loss(net, problem, coords, faces, weight=0.0),
        pinn_loss(net, problem, coords, faces),
    )
    torch.testing.assert_close(a["loss"], b["loss"])
    with pytest.raises(InputError, match="VanillaPINN"):
        gpinn_loss(_model("cp", 3, 2), problem, coords, faces)


def test_causal_weights_by_hand():
    w = causal_weights(torch.tensor([1.0, 2.0, 3.0]), eps=0.5)
    torch.testing.assert_close(w, torch.tensor([1.0, math.exp(-0.5), math.exp(-1.5)]))
    torch.testing.assert_close(causal_weights(torch.tensor([4.0, 5.0]), 0.0), torch.ones(2))
    loss = torch.tensor([1.0, 2.0], requires_grad=True)
    assert not causal_weights(loss, 1.0).requires_grad  # no gradient through the weights
    # the slices are sorted by time: time 0.9 holds residual 1, time 0.1 residual 2
    res = torch.tensor([[1.0, 1.0], [2.0, 2.0]])  # axis 0 is time
    got = causal_residual_loss(res, torch.tensor([0.9, 0.1]), 0, eps=0.1)
    want = (4.0 * 1.0 + 1.0 * math.exp(-0.1 * 4.0)) / 2  # L = (4, 1) in time order
    assert float(got) == pytest.approx(want)
    with pytest.raises(InputError, match=">= 0"):
        causal_weights(torch.tensor([-1.0]), 1.0)
    with pytest.raises(InputError, match="eps"):
        causal_weights(torch.tensor([1.0]), -1.0)


def test_causal_pinn_loss_with_eps_zero_is_the_pinn_loss():
    problem = KleinGordon()
    coords = problem.sample_collocation(4, generator=torch.Generator().manual_seed(2), dtype=D64)
    faces = problem.data_faces(coords)
    net = VanillaPINN(3, width=8, hidden_layers=2).double()
    a = causal_pinn_loss(net, problem, coords, faces, eps=0.0)
    b = pinn_loss(net, problem, coords, faces)
    torch.testing.assert_close(a["loss"], b["loss"])
    c = causal_pinn_loss(net, problem, coords, faces, eps=10.0)
    assert float(c["physics_causal"]) < float(c["physics"])  # later slices down-weighted


def test_sa_pinn_weights_rise_where_the_errors_are():
    problem = KleinGordon()
    coords = problem.sample_collocation(3, generator=torch.Generator().manual_seed(3))
    faces = problem.data_faces(coords)
    torch.manual_seed(0)
    net = VanillaPINN(3, width=8, hidden_layers=2)
    n_data = sum(f.target.numel() for f in faces)
    w = SelfAdaptiveWeights(27, n_data, generator=torch.Generator().manual_seed(0))
    t = sa_pinn_loss(net, problem, coords, faces, w, lam=2.0)
    derivs, values = net.fields(coords, problem.orders, [f.coords for f in faces])
    r2 = problem.residual(coords, derivs).pow(2).reshape(-1)
    e2 = torch.cat([(v - f.target).pow(2).reshape(-1) for v, f in zip(values, faces)])
    want = (torch.sigmoid(w.data) * e2).mean() + 2.0 * (torch.sigmoid(w.residual) * r2).mean()
    torch.testing.assert_close(t["loss"], want)
    opt = torch.optim.Adam(
        [{"params": net.parameters()}, {"params": w.parameters(), "maximize": True}], lr=1e-2
    )
    before = [p.detach().clone() for p in (w.residual, w.data)]
    opt.zero_grad()
    t["loss"].backward()
    opt.step()
    for new, old in zip((w.residual, w.data), before):
        assert bool((new.detach() > old).all())  # ascent: every weight with an error rises
    with pytest.raises(InputError, match="weights.residual holds 27"):
        sa_pinn_loss(net, problem, problem.sample_collocation(4), faces, w)


def test_problem_constants_follow_the_paper():
    assert Helmholtz().a == (4.0, 4.0, 3.0) and Helmholtz().k == 1.0
    assert Poisson().dim == 5 and Poisson().bounds[0] == (0.0, 1.0)
    assert KleinGordon().bounds == ((0.0, 10.0), (-1.0, 1.0), (-1.0, 1.0))
    assert FlowMixing().v_max == 0.385 and FlowMixing().bounds[0] == (0.0, 4.0)


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------


def test_bad_input_raises_clear_errors():
    model = _model("cp", 3, 2)
    good = _coords(3, 3, 3)
    with pytest.raises(InputError, match="3 axes"):
        model(good[:2])
    with pytest.raises(InputError, match="1-D floating"):
        model([good[0][:, None], good[1], good[2]])
    with pytest.raises(InputError, match="3 axes"):
        model(torch.zeros(3, 3))
    bad = [good[0].clone(), good[1], good[2]]
    bad[0][1] = float("nan")
    with pytest.raises(InputError, match="finite"):
        model(bad)
    with pytest.raises(InputError, match="empty"):
        model([torch.zeros(0, dtype=D64), good[1], good[2]])
    with pytest.raises(InputError, match="dtype"):
        model([good[0].float(), good[1], good[2]])
    with pytest.raises(InputError, match=r"\(N, 3\)"):
        model.at_points(torch.zeros(4, 2, dtype=D64))
    with pytest.raises(InputError, match="orders"):
        model.grid_derivatives(good, (2, 3, 2))
    with pytest.raises(InputError, match="orders"):
        model.grid_derivatives(good, (2, 2))


@pytest.mark.parametrize("kind", KINDS)
def test_rank_below_one_is_rejected(kind):
    with pytest.raises(InputError, match="rank"):
        make_tensor_pinn(kind, 3, 0)
    with pytest.raises(InputError, match="kind"):
        make_tensor_pinn("parafac2", 3, 2)


def test_models_reject_bad_construction():
    with pytest.raises(InputError, match="rank"):
        CPPINN([FactorMLP(2, 2)], 0)
    with pytest.raises(InputError, match="d >= 2"):
        TTPINN([FactorMLP(2, 2)], 2)
    with pytest.raises(InputError, match="one per axis"):
        TuckerPINN([], 2)
    wrong = CPPINN([FactorMLP(3, 4), FactorMLP(2, 4)], 2)  # first net outputs 3 != R
    with pytest.raises(InputError, match="factor network 0"):
        wrong([torch.rand(2), torch.rand(2)])


def test_mismatched_grids_are_rejected():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(InputError, match="R = 2"):
        cp_contract([torch.randn(3, 2, generator=g), torch.randn(3, 3, generator=g)])
    with pytest.raises(InputError, match="R1 = 2"):
        tt_contract([torch.randn(3, 2), torch.randn(3, 3, 2), torch.randn(3, 2)])
    with pytest.raises(InputError, match="cores\\[1\\] must have 3 dimensions"):
        tt_contract([torch.randn(3, 2), torch.randn(3, 2), torch.randn(3, 2)])
    with pytest.raises(InputError, match="R2 = 2"):
        tucker_contract(torch.randn(2, 2), [torch.randn(3, 2), torch.randn(3, 3)])
    with pytest.raises(InputError, match="core must have 2 dimensions"):
        tucker_contract(torch.randn(2, 2, 2), [torch.randn(3, 2), torch.randn(3, 2)])
    p = KleinGordon()
    coords = p.sample_collocation(3)
    d = GridDerivatives(torch.zeros(3, 3, 4), {}, {0: torch.zeros(3, 3, 4)})
    with pytest.raises(InputError, match="mismatched grids"):
        p.residual(coords, d)
    d_ok = GridDerivatives(torch.zeros(3, 3, 3), {}, {0: torch.zeros(3, 3, 3)})
    with pytest.raises(InputError, match="axis 1 was not computed"):
        p.residual(coords, d_ok)
    with pytest.raises(InputError, match="same grid"):
        relative_l2(torch.zeros(3, 3), torch.ones(3, 4))
    with pytest.raises(InputError, match="zero"):
        relative_l2(torch.zeros(3), torch.zeros(3))
    with pytest.raises(InputError, match="needs 5"):
        pinn_loss(_model("cp", 3, 2), Poisson(), _coords(2, 2, 2), [])
    with pytest.raises(InputError, match="lam"):
        pinn_loss(_model("cp", 3, 2), p, coords, [], lam=-1.0)
    with pytest.raises(InputError, match="int >= 1"):
        p.sample_collocation(0)
    with pytest.raises(InputError, match="unknown problem"):
        make_problem("burgers")
    with pytest.raises(InputError, match=r"\(N, 3\)"):
        p.exact_points(torch.zeros(4, 2))
