"""OMP-SR (Alg. 1) and BSR (Alg. 2) against least-squares OMP/gOMP, and the paper's invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patrec.core.errors import InputError
from patrec.scientific_ml.omp_sr import (
    bsr,
    coherence,
    cumulative_coherence,
    gaussian_dictionary,
    gomp,
    omp,
    omp_sr,
    omp_sr_flops,
    qr_omp_flops,
    strong_recovery_condition,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # many small BLAS calls: one thread is faster, and far faster on a busy CPU
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(n)


def planted(n=64, d=128, k=8, seed=0, noise=0.0):
    """Gaussian unit-norm dictionary, a k-sparse x with |x_j| in [1, 2], y = Phi x + eps."""
    rng = np.random.default_rng(seed)
    phi = gaussian_dictionary(n, d, seed)
    x = np.zeros(d)
    support = rng.choice(d, k, replace=False)
    x[support] = rng.choice([-1.0, 1.0], k) * rng.uniform(1.0, 2.0, k)
    y = phi @ x + noise * rng.standard_normal(n)
    return phi, y, x, np.sort(support)


def assert_same(a, b, *, atol=1e-10):
    """Same atoms in the same order, same coefficients, residuals and residual norms."""
    np.testing.assert_array_equal(np.asarray(a.support), np.asarray(b.support))
    assert a.n_iter == b.n_iter
    scale = max(1.0, float(np.abs(np.asarray(b.coef)).max()))
    np.testing.assert_allclose(np.asarray(a.coef), np.asarray(b.coef), rtol=0, atol=atol * scale)
    np.testing.assert_allclose(np.asarray(a.residual), np.asarray(b.residual), rtol=0, atol=atol)
    np.testing.assert_allclose(
        np.asarray(a.residual_norms), np.asarray(b.residual_norms), rtol=0, atol=atol
    )


# --- same atoms, same residuals (Sec. 2.1, 2.3, 3.1) ---------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_omp_sr_equals_lstsq_omp(seed, noise):
    phi, y, _, _ = planted(seed=seed, noise=noise)
    for k in (1, 8, 20):
        assert_same(omp_sr(phi, y, k), omp(phi, y, k))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("noise", [0.0, 0.05])
@pytest.mark.parametrize("c", [2, 3])
def test_bsr_equals_lstsq_gomp(seed, noise, c):
    phi, y, _, _ = planted(seed=seed, noise=noise)
    for k in (c, 8, 20):
        assert_same(bsr(phi, y, k, block_size=c), gomp(phi, y, k, block_size=c))


def test_equal_with_residual_tolerance_and_intercept():
    phi, y, _, _ = planted(seed=3, noise=0.05)
    y = y + 0.7  # an offset for the intercept to fit
    delta = 0.5
    for icpt in (False, True):
        a, b = omp_sr(phi, y, tol=delta, intercept=icpt), omp(phi, y, tol=delta, intercept=icpt)
        assert_same(a, b)
        if icpt:
            assert abs(float(a.intercept) - float(b.intercept)) < 1e-10
        else:
            assert a.intercept is None and b.intercept is None
        c, g = (
            bsr(phi, y, tol=delta, block_size=3, intercept=icpt),
            gomp(phi, y, tol=delta, block_size=3, intercept=icpt),
        )
        assert_same(c, g)
    # the intercept changes the fit: the two runs are not the same problem
    assert not np.array_equal(
        omp_sr(phi, y, 10).support, omp_sr(phi, y, 10, intercept=True).support
    )


def test_bsr_with_block_size_one_is_omp_sr():
    phi, y, _, _ = planted(seed=4, noise=0.02)
    assert_same(bsr(phi, y, 15, block_size=1), omp_sr(phi, y, 15))


def test_matches_scikit_learn():
    from sklearn.linear_model import OrthogonalMatchingPursuit, orthogonal_mp

    phi, y, _, _ = planted(seed=5, noise=0.05)
    k = 12
    path = orthogonal_mp(phi, y, n_nonzero_coefs=k, return_path=True)  # (d, k)
    order: list[int] = []
    for t in range(path.shape[1]):  # the atom that enters at each step
        new = set(np.flatnonzero(path[:, t])) - set(order)
        assert len(new) == 1
        order.append(int(new.pop()))
    res = omp_sr(phi, y, k)
    assert res.support.tolist() == order
    np.testing.assert_allclose(res.coef, path[:, -1], atol=1e-10)
    # Alg. 1's z_0 = 1 (intercept) is scikit-learn's fit_intercept=True
    sk = OrthogonalMatchingPursuit(n_nonzero_coefs=k, fit_intercept=True).fit(phi, y + 0.3)
    ours = omp_sr(phi, y + 0.3, k, intercept=True)
    np.testing.assert_allclose(ours.coef, sk.coef_, atol=1e-10)
    assert abs(float(ours.intercept) - sk.intercept_) < 1e-10


# --- recovery, orthogonality, stopping rules -----------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_exact_recovery_noiseless(seed):
    phi, y, x, support = planted(n=80, d=160, k=6, seed=seed)
    res = omp_sr(phi, y, 6)
    assert sorted(res.support.tolist()) == support.tolist() and res.n_iter == 6
    np.testing.assert_allclose(res.coef, x, atol=1e-10)
    # BSR reaches the same signal within k iterations (Theorem 2's bound), some extra atoms
    b = bsr(phi, y, block_size=3, tol=1e-9 * np.linalg.norm(y))
    assert set(support.tolist()) <= set(b.support.tolist()) and b.n_iter <= 6
    np.testing.assert_allclose(b.coef, x, atol=1e-9)


def test_residual_orthogonal_to_selected_atoms_after_every_iteration():
    phi, y, _, _ = planted(seed=6, noise=0.1)
    full = omp_sr(phi, y, 25)
    for t in range(1, 26):
        r = omp_sr(phi, y, t)
        assert r.support.tolist() == full.support[:t].tolist()  # greedy: a prefix
        sel = phi[:, r.support]
        assert np.abs(sel.T @ r.residual).max() < 1e-11 * np.linalg.norm(y)
        assert abs(full.residual_norms[t] - np.linalg.norm(r.residual)) < 1e-12
    blk = bsr(phi, y, 24, block_size=4)
    for t in range(1, blk.n_iter + 1):
        r = bsr(phi, y, 24, block_size=4, max_iter=t)
        assert r.support.tolist() == blk.support[: 4 * t].tolist()
        assert np.abs(phi[:, r.support].T @ r.residual).max() < 1e-11 * np.linalg.norm(y)
    # the residual norm never grows
    assert np.all(np.diff(full.residual_norms) <= 1e-12)
    assert np.all(np.diff(blk.residual_norms) <= 1e-12)


def test_stopping_rules():
    phi, y, _, _ = planted(seed=7, noise=0.1)
    # sparsity kappa reached
    r = omp_sr(phi, y, 5)
    assert r.n_iter == 5 and r.n_atoms == 5
    # residual tolerance delta: stops at the first iteration with ||r|| <= delta
    delta = 0.3 * np.linalg.norm(y)
    for res in (omp_sr(phi, y, tol=delta), bsr(phi, y, tol=delta, block_size=2)):
        norms = res.residual_norms
        assert norms[-1] <= delta < norms[-2]
        assert np.all(norms[:-1] > delta)
    # kappa iterations of BSR (Alg. 2's loop bound)
    b = bsr(phi, y, block_size=3, max_iter=4)
    assert b.n_iter == 4 and b.n_atoms == 12
    # the atom budget cuts the last block: 7 atoms in blocks 3, 3, 1
    b = bsr(phi, y, 7, block_size=3)
    assert b.n_iter == 3 and b.n_atoms == 7
    # nothing to fit: y = 0 selects no atom
    z = omp_sr(phi, np.zeros_like(y), 5)
    assert z.n_atoms == 0 and z.n_iter == 0 and not z.coef.any()
    # noiseless: once the residual is at rounding level, no junk atoms are added
    phi, y, _, support = planted(n=80, d=160, k=6, seed=8)
    for fn in (omp, omp_sr):
        res = fn(phi, y, 20)
        assert res.n_iter == 6 and sorted(res.support.tolist()) == support.tolist()


def test_strong_recovery_condition_and_a_limit_of_theorem_3():
    from scipy.fft import dct

    n = 64
    phi = np.concatenate([np.eye(n), dct(np.eye(n), norm="ortho", axis=0)], 1)  # mu ~ 0.177
    assert strong_recovery_condition(phi, 3) and not strong_recovery_condition(phi, 4)
    rng = np.random.default_rng(0)
    for _ in range(5):  # mu(2k-1) < 1: OMP-SR recovers in k iterations (Tropp 2004)
        x = np.zeros(2 * n)
        x[rng.choice(2 * n, 3, replace=False)] = rng.standard_normal(3)
        res = omp_sr(phi, phi @ x, 3)
        np.testing.assert_allclose(res.coef, x, atol=1e-12)
    # Theorem 3 claims ceil(k / c) iterations for BSR under the same condition; with very
    # unequal coefficients the first block takes a wrong atom (mu(3) = 0.53 < 1, k = c = 2)
    x = np.zeros(2 * n)
    x[1], x[2] = 10.0, 0.01
    one = bsr(phi, phi @ x, block_size=2, max_iter=1)
    assert set(one.support.tolist()) != {1, 2} and np.linalg.norm(one.residual) > 1e-3
    two = omp_sr(phi, phi @ x, 2)
    assert sorted(two.support.tolist()) == [1, 2]


def test_coherence_hand_computed():
    s = 1 / np.sqrt(2)
    phi = np.array([[1.0, 0.0, s], [0.0, 1.0, s]])
    assert coherence(phi) == pytest.approx(s)  # eq. 4
    assert cumulative_coherence(phi, 1) == pytest.approx(s)
    assert cumulative_coherence(phi, 2) == pytest.approx(2 * s)  # psi = phi_3 (eq. 5)
    assert coherence(np.eye(4)) == 0.0
    g = gaussian_dictionary(30, 60, 0)
    mus = [cumulative_coherence(g, m) for m in range(1, 6)]
    assert all(a <= b for a, b in zip(mus, mus[1:], strict=False))
    assert all(mu <= m * coherence(g) + 1e-12 for m, mu in enumerate(mus, 1))


# --- numpy vs torch, batching ---------------------------------------------------------


def test_numpy_and_torch_give_the_same_result():
    phi, y, _, _ = planted(seed=9, noise=0.05)
    pt, yt = torch.from_numpy(phi), torch.from_numpy(y)
    for fn, kw in ((omp_sr, {}), (bsr, {"block_size": 3}), (omp, {}), (gomp, {"block_size": 3})):
        a, b = fn(phi, y, 18, **kw), fn(pt, yt, 18, **kw)
        assert isinstance(b.coef, torch.Tensor) and isinstance(a.coef, np.ndarray)
        assert b.coef.dtype == torch.float64
        assert_same(a, b)
    # float32 tensors: same atoms, coefficients to single precision
    a32 = omp_sr(pt.float(), yt.float(), 10)
    assert a32.coef.dtype == torch.float32
    ref = omp_sr(phi, y, 10)
    np.testing.assert_array_equal(a32.support.numpy(), ref.support)
    np.testing.assert_allclose(a32.coef.numpy(), ref.coef, atol=1e-4)


@pytest.mark.parametrize("intercept", [False, True])
def test_batched_torch_equals_per_column_calls(intercept):
    phi, y0, _, _ = planted(seed=10)
    _, y1, _, _ = planted(seed=11, noise=0.1)
    ys = np.stack([y0, y1, np.zeros_like(y0), phi[:, 5] * 3.0], 1)  # stop at different times
    pt, yt = torch.from_numpy(phi), torch.from_numpy(ys)
    delta = 0.2
    for fn, kw in ((omp_sr, {}), (bsr, {"block_size": 3})):
        batch = fn(pt, yt, 30, tol=delta, intercept=intercept, **kw)
        assert batch.coef.shape == (128, 4) and batch.residual.shape == (64, 4)
        assert batch.n_iter.shape == (4,)
        for i in range(4):
            one = fn(pt, yt[:, i], 30, tol=delta, intercept=intercept, **kw)
            sup = batch.support[:, i]
            assert sup[sup >= 0].tolist() == one.support.tolist()
            assert int(batch.n_iter[i]) == one.n_iter
            torch.testing.assert_close(batch.coef[:, i], one.coef, rtol=0, atol=1e-10)
            torch.testing.assert_close(batch.residual[:, i], one.residual, rtol=0, atol=1e-10)
            n = one.residual_norms.shape[0]
            torch.testing.assert_close(batch.residual_norms[:n, i], one.residual_norms)
            if intercept:
                assert abs(float(batch.intercept[i]) - float(one.intercept)) < 1e-10
        # the numpy path takes (N, B) too (the same batched core, in float64)
        nb = fn(phi, ys, 30, tol=delta, intercept=intercept, **kw)
        np.testing.assert_array_equal(nb.support, batch.support.numpy())
        np.testing.assert_allclose(nb.coef, batch.coef.numpy(), atol=1e-10)
    assert int(batch.n_iter[2]) == 0  # y = 0


# --- bad input ------------------------------------------------------------------------


def test_bad_input_raises_clear_errors():
    phi, y, _, _ = planted()
    bad_nan = phi.copy()
    bad_nan[3, 4] = np.nan
    cases = [
        (lambda: omp_sr(phi[0], y, 3), "phi must have 2 dimensions"),
        (lambda: omp_sr(phi, y[:10], 3), "y must have N = 64"),
        (lambda: omp_sr(phi, y[:, None, None], 3), "y must have 2 dimensions"),
        (lambda: omp_sr(bad_nan, y, 3), "finite"),
        (lambda: bsr(phi, y * np.inf, 3), "finite"),
        (lambda: omp_sr(phi, y, 129), "larger than the dictionary \\(d = 128"),
        (lambda: omp_sr(phi[:, :40], y, 41), "larger than the dictionary"),
        (lambda: omp_sr(phi, y, 65), "min\\(N, d\\) = 64"),
        (lambda: omp_sr(phi, y, 0), "n_nonzero must be >= 1"),
        (lambda: omp_sr(phi, y, 2.5), "n_nonzero must be an int"),
        (lambda: omp_sr(phi, y), "give a stopping rule"),
        (lambda: omp_sr(phi, y, tol=-1.0), "tol must be >= 0"),
        (lambda: omp_sr(phi, torch.from_numpy(y), 3), "both be numpy arrays or both torch"),
        (lambda: omp_sr(phi.astype(complex), y, 3), "real numbers"),
        (lambda: omp_sr(torch.from_numpy(phi).to(torch.complex128), torch.from_numpy(y), 3),
         "real"),
        (lambda: bsr(phi, y, 4, block_size=0), "block_size must be >= 1"),
        (lambda: bsr(phi, y, 4, block_size=200), "block_size must be <= 128"),
        (lambda: gomp(phi, y, 4, max_iter=0), "max_iter must be >= 1"),
        (lambda: omp(phi, y, 3, intercept=1), "intercept must be a bool"),
        (lambda: coherence(np.ones(3)), "d >= 2"),
        (lambda: cumulative_coherence(phi, 128), "m must be <= 127"),
        (lambda: strong_recovery_condition(phi, 0), "k must be >= 1"),
    ]  # fmt: skip
    for fn, pattern in cases:
        with pytest.raises(InputError, match=pattern):
            fn()


def test_integer_inputs_are_accepted():
    phi = np.eye(5, dtype=np.int64)
    y = np.array([0, 3, 0, 0, 1])
    res = omp_sr(phi, y, 2)
    assert res.support.tolist() == [1, 4] and res.coef.dtype == np.float64
    np.testing.assert_allclose(res.coef, y)


# --- the paper's cost claims (Sec. 2.2, Tables 1-2) -------------------------------------


def test_flop_counts_of_tables_1_and_2():
    # hand-computed: N = 10, d = 30, two iterations
    # OMP-SR (Table 2): t(2N - 1) + 4N - 1 + t^2 = 19 + 39 + 1, then 38 + 39 + 4
    assert omp_sr_flops(2, 10, 30) == 59 + 81
    # QR-OMP (Table 1): (d - t)(4N - 1) + 5N + 1 + t^2 = 29*39 + 51 + 1, then 28*39 + 51 + 4
    assert qr_omp_flops(2, 10, 30) == (29 * 39 + 52) + (28 * 39 + 55)
    assert omp_sr_flops(0, 10, 30) == qr_omp_flops(0, 10, 30) == 0
    # Sec. 2.2: where t(2N - 1) < (d - t)(4N - 1), OMP-SR saves at least N + 2 per iteration
    n, d = 64, 256
    for t in range(1, 120):
        if t * (2 * n - 1) < (d - t) * (4 * n - 1):
            step_sr = omp_sr_flops(t, n, d) - omp_sr_flops(t - 1, n, d)
            step_qr = qr_omp_flops(t, n, d) - qr_omp_flops(t - 1, n, d)
            assert step_qr - step_sr > n + 2
    with pytest.raises(InputError, match="iterations must be >= 0"):
        omp_sr_flops(-1, 10, 30)


def test_omp_sr_is_faster_than_lstsq_omp_for_many_atoms():
    # the paper's claim, where it is large: k = 80 atoms of a 200 x 400 dictionary (OMP
    # re-solves a growing least-squares problem; measured OMP-SR / OMP about 0.1)
    import time

    phi, y, _, _ = planted(n=200, d=400, k=80, seed=12)
    best = {}
    for name, fn in (("omp", omp), ("omp_sr", omp_sr)):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            res = fn(phi, y, 80)
            times.append(time.perf_counter() - t0)
        best[name] = (min(times), res)
    assert_same(best["omp_sr"][1], best["omp"][1], atol=1e-8)
    assert best["omp_sr"][0] < 0.7 * best["omp"][0], best


def _sklearn_order(path):
    """Atoms in the order they enter scikit-learn's OMP path (d, k)."""
    order: list[int] = []
    for t in range(path.shape[1]):
        new = set(np.flatnonzero(path[:, t])) - set(order)
        assert len(new) == 1
        order.append(int(new.pop()))
    return order


def test_batched_supports_match_scikit_learn():
    # the benchmark's two cases, smaller: random Gaussian column-normalised dictionaries
    from sklearn.linear_model import orthogonal_mp

    rng = np.random.default_rng(21)
    phi = gaussian_dictionary(64, 128, 21)
    ys = phi[:, :10] @ rng.standard_normal((10, 6)) + 0.01 * rng.standard_normal((64, 6))
    k = 8
    for fn_in in (lambda a: a, torch.from_numpy):
        ours = omp_sr(fn_in(phi), fn_in(ys), k)
        for i in range(ys.shape[1]):
            path = orthogonal_mp(phi, ys[:, i], n_nonzero_coefs=k, return_path=True)
            assert np.asarray(ours.support[:, i]).tolist() == _sklearn_order(path)
            np.testing.assert_allclose(np.asarray(ours.coef[:, i]), path[:, -1], rtol=1e-6,
                                       atol=1e-12)  # fmt: skip
    sk = orthogonal_mp(phi, ys, n_nonzero_coefs=k, precompute=True)
    np.testing.assert_allclose(omp_sr(phi, ys, k).coef, sk, rtol=1e-6, atol=1e-12)
