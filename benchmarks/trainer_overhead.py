"""Time of core's Trainer over a plain PyTorch loop on the same batches (issue: <= 1.15x).

An MLP 64-256-10, batches of 64, 384 steps (6 epochs of 4,096 samples), CPU, one process;
both loops see the same index batches (core's ``epoch_batches``) and do the same work
(forward, cross-entropy, backward, SGD step). The Trainer adds what it guarantees: per-step
reseeding for exact resume, the finiteness check of the loss, running means of the logs,
the epoch bookkeeping. Checkpoints are off (``out_dir=None``), as is the progress bar's
output. Repeats alternate the two loops; the median of the paired ratios is printed.

    python benchmarks/trainer_overhead.py [--repeats 15] [--steps 384]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from patrec.core.train import TrainConfig, Trainer, epoch_batches


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))


def plain(x: torch.Tensor, y: torch.Tensor, epochs: int, batch: int) -> float:
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for idx in epoch_batches(len(x), batch, seed=0, epoch=epoch):
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def trainer(x: torch.Tensor, y: torch.Tensor, epochs: int, batch: int) -> float:
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)

    def step(tr: Trainer, b: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        xb, yb = b
        return {"loss": F.cross_entropy(tr.model(xb), yb)}

    cfg = TrainConfig(
        epochs=epochs, batch_size=batch, cpu=True, progress=False, deterministic=False
    )
    tr = Trainer(model, opt, TensorDataset(x, y), step, cfg)
    t0 = time.perf_counter()
    tr.fit()
    took = time.perf_counter() - t0
    tr.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--steps", type=int, default=384)
    args = ap.parse_args()
    torch.set_num_threads(1)
    batch, n = 64, 4096
    epochs = max(args.steps * batch // n, 1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 64, generator=g), torch.randint(0, 10, (n,), generator=g)
    plain(x, y, 1, batch)  # warm-up of both paths (allocator, Accelerate's first call)
    trainer(x, y, 1, batch)
    ratios, tp, tt = [], [], []
    for _ in range(args.repeats):
        a = plain(x, y, epochs, batch)
        b = trainer(x, y, epochs, batch)
        tp.append(a)
        tt.append(b)
        ratios.append(b / a)
    steps = epochs * (n // batch)
    print(
        f"steps {steps}, plain loop {statistics.median(tp) * 1e3 / steps:.3f} ms/step, "
        f"Trainer {statistics.median(tt) * 1e3 / steps:.3f} ms/step"
    )
    # Paired runs (plain, then Trainer) see the same load on a shared machine; the median
    # of their ratios is the figure, the ratio of the fastest runs is printed beside it.
    print(
        f"Trainer / plain loop: {statistics.median(ratios):.3f} (median of {args.repeats} "
        f"paired runs); fastest runs {min(tt) / min(tp):.3f}"
    )


if __name__ == "__main__":
    main()
