"""Training helpers on Hugging Face Accelerate: seeding, the epoch loop, checkpoints, resume.

The :class:`Trainer` runs a user ``step_fn`` over a dataset for a number of epochs on the
device Accelerate picks (CPU, one GPU, or several processes under ``accelerate launch`` /
``torchrun``, where the model is wrapped in DDP and the data sharded by rank).

Reproducibility and resume are built on two rules:

1. Data order is a pure function of ``(seed, epoch)``: the permutation of epoch ``e`` is
   drawn from a generator seeded with ``(seed, e)`` and sharded by rank, as
   ``DistributedSampler`` does.
2. The random state of every step (augmentations, dropout) is reseeded from
   ``(seed, epoch, step, rank)`` before the step runs.

So a run restarted from a checkpoint taken at any step, mid-epoch included, replays exactly
the batches and random draws the uninterrupted run would have made, and ends with the same
weights. Checkpoints hold the model (and any extra stateful modules, e.g. feature queues)
as safetensors, the optimizer and scheduler states as tensor-only ``torch.save`` files read
back with ``weights_only=True`` (nothing is unpickled), and the loop state as JSON. Each
checkpoint is written to a fresh folder and then published by atomically replacing the
``latest`` pointer file, so a run killed while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset, default_collate

from patrec.core.config import param
from patrec.core.errors import ConfigError, InputError
from patrec.core.report import atomic_write_bytes, atomic_write_text

__all__ = [
    "TrainConfig",
    "Trainer",
    "epoch_batches",
    "get_accelerator",
    "load_checkpoint",
    "predict",
    "seed_everything",
    "state_digest",
    "step_seed",
    "step_seeds",
]


@dataclass
class TrainConfig:
    """Loop settings shared by every recipe (embed it as the ``train`` field of a config)."""

    epochs: int = param(10, "number of passes over the training set", ge=0, le=100_000)
    batch_size: int = param(
        64, "images per process per step (before any two-view doubling)", ge=1, le=1_000_000
    )
    seed: int = param(0, "seed of initialisation, data order and augmentations")
    deterministic: bool = param(True, "torch deterministic algorithms (slower on GPU)")
    checkpoint_every: int = param(0, "save a checkpoint every N steps (0: end of epoch only)", ge=0)
    resume: bool = param(True, "continue from the run folder's latest checkpoint if present")
    keep_checkpoints: int = param(1, "how many checkpoint folders to keep", ge=1)
    progress: bool = param(True, "show a progress bar")
    cpu: bool = param(False, "force CPU even when a GPU is available")
    mixed_precision: str = param(
        "no", "Accelerate mixed precision: no, fp16, bf16", choices=("no", "fp16", "bf16")
    )
    grad_clip: float = param(0.0, "clip the gradient norm to this value (0: off)", ge=0)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices); optionally make torch deterministic."""
    if seed < 0:
        raise ConfigError(f"seed must be >= 0, got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        _deterministic_algorithms()
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def _deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)``, without its import cost.

    The public call imports ``torch._inductor`` (to set its ``deterministic`` flag), 10 s or
    more on a CPU machine in a fresh process; patrec does not compile models, so the flag is
    set on inductor only when inductor is already loaded.
    """
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        setter(True, warn_only=True)


def step_seed(seed: int, epoch: int, step: int, rank: int = 0) -> int:
    """The seed of one training step: a fixed mix of ``(seed, epoch, step, rank)``.

    It is ``np.random.SeedSequence([seed, epoch, step, rank]).generate_state(1)[0]``;
    :func:`step_seeds` computes the same numbers for a whole epoch at once.
    """
    return int(step_seeds(seed, epoch, np.array([step]), rank)[0])


# numpy's SeedSequence hash (numpy/random/bit_generator.pyx), for a 4-word entropy and
# a 4-word pool: the entropy of a step is [seed, epoch, step, rank], each below 2**32.
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R, _M32 = 0xCA01F9DD, 0x4973F715, 0xFFFFFFFF


def step_seeds(seed: int, epoch: int, steps: np.ndarray, rank: int = 0) -> np.ndarray:
    """:func:`step_seed` of many steps of one epoch, vectorised (``uint64`` array).

    Reseeding every step keeps resume exact; hashing each step through a fresh
    ``SeedSequence`` costs ~20 us of Python, this costs well under 1 us a step.
    """
    for name, v in (("seed", seed), ("epoch", epoch), ("rank", rank)):
        if not 0 <= int(v) <= _M32:
            raise ConfigError(f"step_seed: {name} must be in [0, 2**32 - 1], got {v}")
    steps = np.asarray(steps, dtype=np.uint64)
    if steps.size and int(steps.max()) > _M32:
        raise ConfigError("step_seed: step must be below 2**32")
    m = np.uint64(_M32)
    words = [np.full_like(steps, v) for v in (seed, epoch)] + [steps, np.full_like(steps, rank)]
    h = _INIT_A

    def hashmix(v: np.ndarray) -> np.ndarray:
        nonlocal h
        v = v ^ np.uint64(h)
        h = (h * _MULT_A) & _M32
        v = (v * np.uint64(h)) & m
        return v ^ (v >> np.uint64(16))

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = (np.uint64(_MIX_L) * x + (m + np.uint64(1) - ((np.uint64(_MIX_R) * y) & m))) & m
        return r ^ (r >> np.uint64(16))

    pool = [hashmix(w) for w in words]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    out: np.ndarray = pool[0] ^ np.uint64(_INIT_B)
    out = (out * np.uint64((_INIT_B * _MULT_B) & _M32)) & m
    return out ^ (out >> np.uint64(16))


def _reseed_step(s: int, device: torch.device) -> None:
    """Reseed Python, NumPy and torch for one step, cheaply.

    ``torch.manual_seed`` also queues a (lazy) seeding of every CUDA device and, on a CUDA
    build, records a stack trace for it, ~2 ms per call; only the generators the step can
    use are reseeded here: the CPU one always, the current accelerator's when training on it.
    """
    random.seed(s)
    np.random.seed(s)
    torch.default_generator.manual_seed(s)
    if device.type == "cuda":
        torch.cuda.manual_seed(s)
    elif device.type != "cpu":
        torch.manual_seed(s)


def epoch_batches(
    n: int,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    drop_last: bool = True,
    rank: int = 0,
    world_size: int = 1,
) -> list[torch.Tensor]:
    """The index batches of one epoch for one rank, a pure function of its arguments.

    Samples are shuffled with a generator seeded by ``(seed, epoch)``, split across
    ``world_size`` ranks by striding (rank ``r`` takes positions ``r, r + W, ...``) and cut
    into batches of ``batch_size``. With ``drop_last`` every rank gets the same number of
    full batches (a DDP requirement); otherwise the tail is kept.
    """
    if n <= 0:
        raise InputError(f"cannot train on an empty dataset (got {n} samples)")
    if batch_size <= 0:
        raise ConfigError(f"batch_size must be > 0, got {batch_size}")
    if not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} outside world of size {world_size}")
    if shuffle:
        g = torch.Generator().manual_seed(step_seed(seed, epoch, 0, 0x5EED))
        order = torch.randperm(n, generator=g)
    else:
        order = torch.arange(n)
    per_rank = n // world_size
    if drop_last:
        per_rank = (per_rank // batch_size) * batch_size
        if per_rank == 0:
            raise ConfigError(
                f"batch_size {batch_size} x {world_size} process(es) exceeds the "
                f"{n} training samples; lower train.batch_size"
            )
    mine = order[rank::world_size][:per_rank] if drop_last else order[rank::world_size]
    return list(torch.split(mine, batch_size))


_ACCELERATORS: dict[tuple[bool, str], Any] = {}


def get_accelerator(cpu: bool = False, mixed_precision: str = "no") -> Any:
    """One ``accelerate.Accelerator`` per (cpu, precision) for the whole process."""
    from accelerate import Accelerator

    if mixed_precision not in {"no", "fp16", "bf16"}:
        raise ConfigError(f"mixed_precision: expected no, fp16 or bf16, got {mixed_precision!r}")
    key = (cpu, mixed_precision)
    if key not in _ACCELERATORS:
        _ACCELERATORS[key] = Accelerator(cpu=cpu, mixed_precision=mixed_precision)
    return _ACCELERATORS[key]


def _state_tensors(modules: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for prefix, mod in modules.items():
        for k, v in mod.state_dict().items():
            out[f"{prefix}.{k}"] = v.detach().cpu().contiguous()
    return out


def _save_safetensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save

    atomic_write_bytes(path, save(tensors))


def _torch_save_bytes(obj: Any) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def load_checkpoint(run_dir: str | Path) -> Path | None:
    """The folder of the run's latest complete checkpoint, or ``None``."""
    pointer = Path(run_dir) / "checkpoints" / "latest"
    if not pointer.is_file():
        return None
    ckpt = pointer.parent / pointer.read_text().strip()
    return ckpt if (ckpt / "state.json").is_file() else None


StepFn = Callable[["Trainer", Any], Mapping[str, torch.Tensor]]
EvalFn = Callable[["Trainer"], Mapping[str, float]]


@dataclass
class TrainState:
    """Where the loop is: the next epoch and batch to run, and what it has logged."""

    epoch: int = 0
    batch_in_epoch: int = 0
    global_step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    running: dict[str, float] = field(default_factory=dict)
    running_count: int = 0
    stopped: bool = False


class Trainer:
    """An epoch loop with progress bar, evaluation, atomic checkpoints and exact resume.

    Args:
        model: the module trained (wrapped in DDP under a distributed launch).
        optimizer: its optimizer.
        dataset: a map-style dataset; a ``TensorDataset`` is indexed in one go per batch.
            ``None`` for methods without a dataset (a PINN sampling its own collocation
            points, a solver fitting one signal): every epoch is then ``steps_per_epoch``
            steps and ``step_fn`` receives ``batch=None`` (``trainer.state`` says which step
            it is; the step is reseeded, so its own random draws are reproducible).
        step_fn: ``step_fn(trainer, batch) -> {"loss": tensor, **logs}``; ``batch`` is the
            dataset items of one step, collated and moved to ``trainer.device``. The
            trainer does the backward pass and the optimizer step.
        cfg: a :class:`TrainConfig`.
        out_dir: the run folder; checkpoints go to ``out_dir/checkpoints``. ``None``: none.
        scheduler: an LR scheduler stepped once per epoch.
        eval_fn: ``eval_fn(trainer) -> {"metric": value}``, called after every epoch.
        extra_state: further modules whose state is checkpointed but which are not
            trained through DDP (e.g. NCDS's feature queues).
        steps_per_epoch: steps of one epoch when ``dataset`` is ``None`` (ignored otherwise).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        dataset: Any,
        step_fn: StepFn,
        cfg: TrainConfig,
        *,
        out_dir: str | Path | None = None,
        scheduler: Any = None,
        eval_fn: EvalFn | None = None,
        extra_state: Mapping[str, nn.Module] | None = None,
        desc: str = "train",
        steps_per_epoch: int = 1,
    ) -> None:
        if cfg.epochs < 0:
            raise ConfigError(f"train.epochs must be >= 0, got {cfg.epochs}")
        if dataset is None and steps_per_epoch < 1:
            raise ConfigError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        self.steps_per_epoch = steps_per_epoch
        self.cfg = cfg
        self.accelerator = get_accelerator(cfg.cpu, cfg.mixed_precision)
        acc = self.accelerator
        # One process in full precision: Accelerate's wrappers would only add per-step
        # Python overhead (the model just moves to the device); otherwise DDP / AMP wrap.
        self._plain = acc.num_processes == 1 and cfg.mixed_precision == "no"
        self.model: Any
        self.optimizer: Any
        if self._plain:
            self.model, self.optimizer = model.to(acc.device), optimizer
        else:
            self.model, self.optimizer = acc.prepare(model, optimizer)
        self._dev = acc.device
        self.dataset = dataset
        self.step_fn = step_fn
        self.eval_fn = eval_fn
        self.scheduler = scheduler
        self.extra_state = dict(extra_state or {})
        for m in self.extra_state.values():
            m.to(self.device)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.desc = desc
        self.state = TrainState()

    # -- properties ---------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        dev: torch.device = self.accelerator.device
        return dev

    @property
    def rank(self) -> int:
        return int(self.accelerator.process_index)

    @property
    def world_size(self) -> int:
        return int(self.accelerator.num_processes)

    @property
    def is_main(self) -> bool:
        return bool(self.accelerator.is_main_process)

    @property
    def unwrapped_model(self) -> nn.Module:
        m: nn.Module = self.accelerator.unwrap_model(self.model)
        return m

    # -- data ---------------------------------------------------------------------------
    def _fetch(self, idx: torch.Tensor | None) -> Any:
        if idx is None:
            return None
        if isinstance(self.dataset, TensorDataset):
            batch: Any = tuple(t[idx] for t in self.dataset.tensors)
        else:
            batch = default_collate([self.dataset[int(i)] for i in idx])
        return _to_device(batch, self.device)

    # -- checkpoints --------------------------------------------------------------------
    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of the current state (main process only) and return it."""
        if self.out_dir is None:
            return None
        self.accelerator.wait_for_everyone()
        path: Path | None = None
        if self.is_main:
            root = self.out_dir / "checkpoints"
            name = f"step-{self.state.global_step:08d}"
            path = root / name
            if path.exists():
                shutil.rmtree(path)
            path.mkdir(parents=True)
            modules = {"model": self.unwrapped_model, **self.extra_state}
            _save_safetensors(_state_tensors(modules), path / "model.safetensors")
            atomic_write_bytes(
                path / "optimizer.pt", _torch_save_bytes(self.optimizer.state_dict())
            )
            if self.scheduler is not None:
                atomic_write_bytes(
                    path / "scheduler.pt", _torch_save_bytes(self.scheduler.state_dict())
                )
            st = {
                "epoch": self.state.epoch,
                "batch_in_epoch": self.state.batch_in_epoch,
                "global_step": self.state.global_step,
                "history": self.state.history,
                "running": self.state.running,
                "running_count": self.state.running_count,
                "stopped": self.state.stopped,
                "world_size": self.world_size,
            }
            atomic_write_text(path / "state.json", json.dumps(st, indent=1))
            atomic_write_text(root / "latest", name + "\n")
            kept = sorted(p for p in root.glob("step-*") if p.is_dir())
            for old in kept[: -max(self.cfg.keep_checkpoints, 1)]:
                shutil.rmtree(old, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore model, extra modules, optimizer, scheduler and loop state."""
        from safetensors.torch import load_file

        path = Path(path)
        tensors = load_file(str(path / "model.safetensors"))
        modules = {"model": self.unwrapped_model, **self.extra_state}
        for prefix, mod in modules.items():
            sub = {
                k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")
            }
            mod.load_state_dict(sub, strict=True)
        opt = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
        self.optimizer.load_state_dict(opt)
        if self.scheduler is not None and (path / "scheduler.pt").is_file():
            self.scheduler.load_state_dict(
                torch.load(path / "scheduler.pt", map_location="cpu", weights_only=True)
            )
        st = json.loads((path / "state.json").read_text())
        if st.get("world_size", 1) != self.world_size:
            raise ConfigError(
                f"checkpoint {path} was written by {st.get('world_size')} process(es); "
                f"resuming with {self.world_size} would change the data order"
            )
        self.state = TrainState(
            epoch=st["epoch"],
            batch_in_epoch=st["batch_in_epoch"],
            global_step=st["global_step"],
            history=st["history"],
            running=st.get("running", {}),
            running_count=st.get("running_count", 0),
            stopped=st.get("stopped", False),
        )

    def close(self) -> None:
        """Drop the process-wide Accelerator's references to this run's model and optimizer.

        Accelerate keeps every prepared model and optimizer in lists on its Accelerator, which
        patrec shares across the process; a recipe that trains many models (variants x seeds,
        federated phases) should close each trainer when done so they can be freed.
        """
        acc = self.accelerator
        for name, obj in (("_models", self.model), ("_optimizers", self.optimizer)):
            held = getattr(acc, name, None)
            if isinstance(held, list):
                held[:] = [o for o in held if o is not obj]

    # -- the loop -----------------------------------------------------------------------
    def stop(self) -> None:
        """End training after the current epoch (early stopping); call it from ``eval_fn``.

        The decision is saved with the epoch's checkpoint, so a resumed run stops too.
        """
        self.state.stopped = True

    def fit(self) -> list[dict[str, float]]:
        """Train to ``cfg.epochs`` (resuming if a checkpoint exists) and return the history.

        The history has one dict per epoch: ``epoch``, the mean of every logged training
        term (``train/<name>``) and the evaluation metrics.
        """
        from tqdm.auto import tqdm

        cfg = self.cfg
        if cfg.resume and self.out_dir is not None:
            ckpt = load_checkpoint(self.out_dir)
            if ckpt is not None:
                self.load_checkpoint(ckpt)
        seed_everything(cfg.seed, cfg.deterministic)
        n = None if self.dataset is None else len(self.dataset)
        try:
            while self.state.epoch < cfg.epochs and not self.state.stopped:
                epoch = self.state.epoch
                batches: list[torch.Tensor | None]
                if n is None:
                    batches = [None] * self.steps_per_epoch
                else:
                    batches = list(
                        epoch_batches(
                            n,
                            cfg.batch_size,
                            seed=cfg.seed,
                            epoch=epoch,
                            rank=self.rank,
                            world_size=self.world_size,
                        )
                    )
                bar = tqdm(
                    total=len(batches),
                    initial=self.state.batch_in_epoch,
                    desc=f"{self.desc} {epoch + 1}/{cfg.epochs}",
                    disable=not (cfg.progress and self.is_main and _interactive()),
                    leave=False,
                    dynamic_ncols=True,
                )
                seeds = step_seeds(cfg.seed, epoch, np.arange(len(batches)), self.rank).tolist()
                # train mode once an epoch (eval_fn runs between epochs only); a step_fn
                # that switches a submodule to eval must switch it back itself
                self.model.train()
                while self.state.batch_in_epoch < len(batches):
                    k = self.state.batch_in_epoch
                    logs = self._train_step(batches[k], epoch, seeds[k])
                    if not bar.disable:
                        bar.update(1)
                        bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)
                    if cfg.checkpoint_every and self.state.global_step % cfg.checkpoint_every == 0:
                        self.save_checkpoint()
                bar.close()
                self._end_epoch()
                if cfg.progress and self.is_main and not _interactive():
                    row = self.state.history[-1]
                    shown = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch")
                    print(f"{self.desc} epoch {epoch + 1}/{cfg.epochs}  {shown}", file=sys.stderr)
        except KeyboardInterrupt:
            self.save_checkpoint()
            raise
        return self.state.history

    def _train_step(self, idx: torch.Tensor | None, epoch: int, seed: int) -> dict[str, float]:
        _reseed_step(seed, self._dev)
        batch = self._fetch(idx)
        self.optimizer.zero_grad(set_to_none=True)
        out = self.step_fn(self, batch)
        if "loss" not in out:
            raise ConfigError("step_fn must return a dict with a 'loss' tensor")
        loss = out["loss"]
        # one host read of the loss serves both the finiteness check and the log
        logs = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in out.items()}
        if not math.isfinite(logs["loss"]):
            raise InputError(
                f"loss became {logs['loss']} at epoch {epoch + 1}, step "
                f"{self.state.global_step + 1}; lower the learning rate or check the data"
            )
        if self._plain:
            loss.backward()
            if self.cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        else:
            self.accelerator.backward(loss)
            if self.cfg.grad_clip > 0:
                self.accelerator.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        st = self.state
        st.running_count += 1
        for k, v in logs.items():
            st.running[k] = st.running.get(k, 0.0) + (v - st.running.get(k, 0.0)) / st.running_count
        st.batch_in_epoch += 1
        st.global_step += 1
        return logs

    def _sync_across_processes(self) -> None:
        """Make every process hold rank 0's buffers and the all-rank mean of the logs.

        DDP keeps parameters in sync, but BatchNorm running statistics are updated by each
        process's own last forward pass; broadcasting them (as DDP itself does at the start
        of the next forward) makes evaluation and checkpoints the same on every rank.
        """
        if self.world_size == 1:
            return
        import torch.distributed as dist

        for buf in self.unwrapped_model.buffers():
            dist.broadcast(buf.data, src=0)
        st = self.state
        if st.running:
            keys = sorted(st.running)
            vals = torch.tensor([st.running[k] for k in keys], device=self.device)
            vals = self.accelerator.reduce(vals, reduction="mean")
            st.running = {k: float(v) for k, v in zip(keys, vals.tolist(), strict=True)}

    def _end_epoch(self) -> None:
        self._sync_across_processes()
        st = self.state
        row: dict[str, float] = {"epoch": float(st.epoch + 1)}
        row.update({f"train/{k}": v for k, v in st.running.items()})
        if self.scheduler is not None:
            self.scheduler.step()
        if self.eval_fn is not None:
            self.model.eval()
            with torch.no_grad():
                row.update({k: float(v) for k, v in self.eval_fn(self).items()})
        st.history.append(row)
        st.epoch += 1
        st.batch_in_epoch = 0
        st.running = {}
        st.running_count = 0
        self.save_checkpoint()


@torch.no_grad()
def predict(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``model`` over ``x`` in chunks of ``batch_size`` rows, without gradients.

    Each chunk goes to ``device`` (default: the device of the model's first parameter, or
    the CPU), the outputs come back to the CPU as float32 and are concatenated along the
    first axis. A module in training mode is switched to eval mode for the call and back.
    """
    from patrec.core.checks import check_int

    check_int(batch_size, "batch_size", ge=1)
    if device is None:
        first = next(model.parameters(), None) if isinstance(model, nn.Module) else None
        device = first.device if first is not None else torch.device("cpu")
    module = model if isinstance(model, nn.Module) else None
    was_training = module is not None and module.training
    if module is not None and was_training:
        module.eval()
    try:
        outs = [model(xb.to(device)).float().cpu() for xb in torch.split(x, batch_size)]
    finally:
        if module is not None and was_training:
            module.train()
    return torch.cat(outs) if outs else torch.empty(0)


def _interactive() -> bool:
    """A progress bar on a terminal; one line per epoch in logs and CI."""
    return sys.stderr.isatty()


def _to_device(batch: Any, device: torch.device) -> Any:
    if torch.is_tensor(batch):
        return batch if batch.device == device else batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def state_digest(model: nn.Module) -> str:
    """A SHA-256 of a module's state (names and exact bytes), to compare runs."""
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
