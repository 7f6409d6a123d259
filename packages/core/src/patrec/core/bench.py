"""Timing and speed-up ratios, for methods whose claim is speed (solvers, fast PINNs).

A comparison of speed is only meaningful on one machine in one run, so recipes time every
variant with :func:`time_call` and report ratios against a reference with :func:`ratios`::

    t_omp = time_call(lambda: omp(A, y, k), repeats=5)
    t_sr = time_call(lambda: omp_sr(A, y, k), repeats=5)
    ratios({"omp": t_omp.median, "omp_sr": t_sr.median}, reference="omp")
    # {"omp": 1.0, "omp_sr": 0.31}   (omp_sr takes 0.31x the time of omp)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from patrec.core.errors import ConfigError

__all__ = ["Timing", "ratios", "time_call", "torch_threads"]


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated calls, and the last call's return value."""

    seconds: tuple[float, ...]
    result: Any = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    def as_dict(self) -> dict[str, float]:
        """``{"median_s", "best_s", "repeats"}`` for metrics.json."""
        return {"median_s": self.median, "best_s": self.best, "repeats": float(len(self.seconds))}


def time_call(fn: Callable[[], Any], *, repeats: int = 3, warmup: int = 1) -> Timing:
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls (``perf_counter``).

    Torch work on a GPU is synchronised before each clock read, so queued kernels count.
    """
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    sync = _cuda_sync()
    result: Any = None
    for _ in range(warmup):
        result = fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return Timing(tuple(times), result)


def ratios(values: Mapping[str, float], reference: str) -> dict[str, float]:
    """Each value divided by ``values[reference]`` (so the reference is 1.0)."""
    if reference not in values:
        raise ConfigError(f"reference {reference!r} not among {sorted(values)}")
    ref = float(values[reference])
    if not ref > 0:
        raise ConfigError(f"reference value must be > 0, got {ref}")
    return {k: float(v) / ref for k, v in values.items()}


def _cuda_sync() -> Callable[[], None]:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.synchronize
    return lambda: None


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """PyTorch's intra-op threads limited to ``n`` inside the block (``0``: unchanged).

    A timing compares methods under one thread budget; the old count is restored after.
    """
    import torch

    from patrec.core.checks import check_int

    check_int(n, "threads", ge=0)
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
