"""OMP-SR (patrec.scientific_ml.omp_sr) against scikit-learn's ``orthogonal_mp``, one process.

Two cases on random Gaussian dictionaries with unit-norm columns:

- one signal, N=1024, d=2048, k=100 (scikit-learn: Cholesky updates, ``precompute=False``);
- 256 signals, N=256, d=512, k=20 (scikit-learn's best: ``precompute=True``, the Gram matrix
  ``Phi^T Phi`` once; ours: the batched Alg. 1, numpy and torch float64 input).

Both run in this process with the same thread settings (printed); warm-up, then the median
over ``--repeats``, alternating the two. The supports are checked to be identical.

    python benchmarks/omp_vs_sklearn.py [--repeats 7] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.linear_model import orthogonal_mp
from threadpoolctl import threadpool_info, threadpool_limits

from patrec.scientific_ml.omp_sr import gaussian_dictionary, omp_sr


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _case(name: str, runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    for fn in runs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for k, fn in runs.items():
            times[k].append(_time(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["scikit-learn"]
    print(f"{name}")
    for k, v in med.items():
        print(f"  {k:<28s} {v:8.4f} s  (min {min(times[k]):.4f})  sklearn/this {base / v:5.2f}x")
    return med


def _same_support(ours: np.ndarray, sk_coef: np.ndarray) -> bool:
    ours = np.atleast_2d(ours.T).T if ours.ndim == 1 else ours
    sk = sk_coef[:, None] if sk_coef.ndim == 1 else sk_coef
    return all(
        set(ours[:, i][ours[:, i] >= 0].tolist()) == set(np.flatnonzero(sk[:, i]).tolist())
        for i in range(sk.shape[1])
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None, help="limit BLAS and torch threads")
    args = ap.parse_args()
    limit = threadpool_limits(limits=args.threads) if args.threads else None
    if args.threads:
        torch.set_num_threads(args.threads)
    blas = ", ".join(f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info())
    print(f"threads: torch={torch.get_num_threads()}, BLAS {blas}")
    rng = np.random.default_rng(0)

    phi = gaussian_dictionary(1024, 2048, 0)
    y = phi[:, :100] @ rng.standard_normal(100) + 0.01 * rng.standard_normal(1024)
    _case(
        "one signal, N=1024, d=2048, k=100",
        {
            "scikit-learn": lambda: orthogonal_mp(phi, y, n_nonzero_coefs=100),
            "omp_sr (numpy)": lambda: omp_sr(phi, y, 100),
        },
        args.repeats,
    )
    same1 = _same_support(omp_sr(phi, y, 100).support, orthogonal_mp(phi, y, n_nonzero_coefs=100))

    phi2 = gaussian_dictionary(256, 512, 1)
    ys = phi2[:, :40] @ rng.standard_normal((40, 256)) + 0.01 * rng.standard_normal((256, 256))
    pt, yt = torch.from_numpy(phi2), torch.from_numpy(ys)
    _case(
        "256 signals, N=256, d=512, k=20",
        {
            "scikit-learn": lambda: orthogonal_mp(phi2, ys, n_nonzero_coefs=20, precompute=True),
            "omp_sr (numpy, batched)": lambda: omp_sr(phi2, ys, 20),
            "omp_sr (torch, batched)": lambda: omp_sr(pt, yt, 20),
        },
        args.repeats,
    )
    sk2 = orthogonal_mp(phi2, ys, n_nonzero_coefs=20, precompute=True)
    same2 = _same_support(omp_sr(phi2, ys, 20).support, sk2)
    print(f"supports identical to scikit-learn's: one signal {same1}, 256 signals {same2}")
    if limit is not None:
        limit.unregister()


if __name__ == "__main__":
    main()
