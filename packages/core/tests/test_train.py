from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from patrec.core.errors import ConfigError, InputError
from patrec.core.train import (
    TrainConfig,
    Trainer,
    epoch_batches,
    load_checkpoint,
    seed_everything,
    state_digest,
)


def test_epoch_batches_is_deterministic_and_shards_disjointly():
    a = epoch_batches(50, 4, seed=1, epoch=2)
    b = epoch_batches(50, 4, seed=1, epoch=2)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(torch.cat(a), torch.cat(epoch_batches(50, 4, seed=1, epoch=3)))
    r0 = torch.cat(epoch_batches(50, 4, seed=1, epoch=2, rank=0, world_size=2))
    r1 = torch.cat(epoch_batches(50, 4, seed=1, epoch=2, rank=1, world_size=2))
    assert len(r0) == len(r1) == 24
    assert not set(r0.tolist()) & set(r1.tolist())
    assert all(len(x) == 4 for x in a) and len(a) == 12  # drop_last


def test_epoch_batches_errors():
    with pytest.raises(InputError):
        epoch_batches(0, 4, seed=0, epoch=0)
    with pytest.raises(ConfigError, match="exceeds"):
        epoch_batches(5, 8, seed=0, epoch=0)


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=g)
    y = (x[:, 0] > 0).long()
    return TensorDataset(x, y)


class Boom(Exception):
    pass


def _make(out, epochs=3, fail_at=None, **kw):
    seed_everything(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.3), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    calls = {"n": 0}

    def step(tr, batch):
        calls["n"] += 1
        if fail_at is not None and calls["n"] == fail_at:
            raise Boom()
        x, y = batch
        x = x + 0.1 * torch.randn_like(x)  # a random augmentation: must replay on resume
        loss = nn.functional.cross_entropy(tr.model(x), y)
        return {"loss": loss, "acc": (tr.model(x).argmax(1) == y).float().mean()}

    def ev(tr):
        x, y = _data().tensors
        return {"val_acc": float((tr.unwrapped_model(x).argmax(1) == y).float().mean())}

    cfg = TrainConfig(epochs=epochs, batch_size=8, seed=3, progress=False, cpu=True, **kw)
    return Trainer(model, opt, _data(), step, cfg, out_dir=out, scheduler=sched, eval_fn=ev)


def test_resume_mid_epoch_gives_identical_weights(tmp_path):
    ref = _make(tmp_path / "ref")
    hist_ref = ref.fit()
    assert len(hist_ref) == 3 and "train/loss" in hist_ref[0] and "val_acc" in hist_ref[0]

    # 5 steps per epoch; fail at the 8th step call (mid-epoch 2), checkpoints every 2 steps
    broken = _make(tmp_path / "run", fail_at=8, checkpoint_every=2)
    with pytest.raises(Boom):
        broken.fit()
    ckpt = load_checkpoint(tmp_path / "run")
    st = json.loads((ckpt / "state.json").read_text())
    assert st["global_step"] == 6 and st["epoch"] == 1 and st["batch_in_epoch"] == 1

    resumed = _make(tmp_path / "run", checkpoint_every=2)
    hist = resumed.fit()
    assert state_digest(resumed.unwrapped_model) == state_digest(ref.unwrapped_model)
    assert hist == hist_ref
    assert resumed.scheduler.get_last_lr() == ref.scheduler.get_last_lr()


def test_checkpoint_files_are_safe_to_load(tmp_path):
    from safetensors.torch import load_file

    tr = _make(tmp_path, epochs=2, keep_checkpoints=1)
    tr.fit()
    root = tmp_path / "checkpoints"
    dirs = sorted(p.name for p in root.glob("step-*"))
    assert dirs == ["step-00000010"]  # older ones pruned
    assert (root / "latest").read_text().strip() == "step-00000010"
    tensors = load_file(str(root / dirs[0] / "model.safetensors"))
    assert set(tensors) == {"model." + k for k in tr.unwrapped_model.state_dict()}
    torch.load(root / dirs[0] / "optimizer.pt", weights_only=True)
    assert not list(root.rglob("*.tmp"))


def test_finished_run_resumes_to_nothing(tmp_path):
    a = _make(tmp_path)
    a.fit()
    b = _make(tmp_path)
    calls = []
    b.step_fn = lambda tr, batch: calls.append(1)  # would fail if called
    b.fit()
    assert not calls
    assert state_digest(a.unwrapped_model) == state_digest(b.unwrapped_model)


def test_keyboard_interrupt_saves_a_checkpoint(tmp_path):
    tr = _make(tmp_path)
    original = tr.step_fn

    def step(t, batch):
        if t.state.global_step == 3:
            raise KeyboardInterrupt
        return original(t, batch)

    tr.step_fn = step
    with pytest.raises(KeyboardInterrupt):
        tr.fit()
    st = json.loads((load_checkpoint(tmp_path) / "state.json").read_text())
    assert st["global_step"] == 3


def test_non_finite_loss_is_reported(tmp_path):
    tr = _make(None)
    tr.step_fn = lambda t, b: {"loss": torch.tensor(float("nan"), requires_grad=True)}
    with pytest.raises(InputError, match="loss became nan"):
        tr.fit()


def _make_datafree(out, fail_at=None, **kw):
    """A PINN-like fit: no dataset, each step draws its own random points."""
    seed_everything(0)
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=5e-2)
    seen = []

    def step(tr, batch):
        assert batch is None
        seen.append(tr.state.global_step)
        if fail_at is not None and len(seen) == fail_at:
            raise Boom()
        x = torch.rand(32, 1)  # collocation points drawn inside the reseeded step
        return {"loss": ((tr.model(x) - torch.sin(3 * x)) ** 2).mean()}

    cfg = TrainConfig(epochs=3, seed=1, progress=False, cpu=True, **kw)
    tr = Trainer(model, opt, None, step, cfg, out_dir=out, steps_per_epoch=4)
    return tr, seen


def test_datafree_mode_runs_steps_per_epoch_and_resumes_exactly(tmp_path):
    ref, seen = _make_datafree(tmp_path / "ref")
    hist = ref.fit()
    assert seen == list(range(12)) and len(hist) == 3
    assert hist[-1]["train/loss"] < hist[0]["train/loss"]

    broken, _ = _make_datafree(tmp_path / "run", fail_at=7, checkpoint_every=3)
    with pytest.raises(Boom):
        broken.fit()
    resumed, seen2 = _make_datafree(tmp_path / "run", checkpoint_every=3)
    assert resumed.fit() == hist
    assert seen2 == list(range(6, 12))
    assert state_digest(resumed.unwrapped_model) == state_digest(ref.unwrapped_model)


def test_datafree_mode_rejects_zero_steps():
    model = nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ConfigError, match="steps_per_epoch"):
        Trainer(model, opt, None, lambda tr, b: {}, TrainConfig(cpu=True), steps_per_epoch=0)


def test_early_stop_from_eval_fn_survives_resume(tmp_path):
    def make():
        seed_everything(0)
        model = nn.Linear(5, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)

        def step(tr, batch):
            x, y = batch
            return {"loss": nn.functional.cross_entropy(tr.model(x), y)}

        def ev(tr):
            if tr.state.epoch == 1:  # the second epoch decides to stop
                tr.stop()
            return {}

        cfg = TrainConfig(epochs=5, batch_size=8, progress=False, cpu=True)
        return Trainer(model, opt, _data(), step, cfg, out_dir=tmp_path, eval_fn=ev)

    tr = make()
    assert len(tr.fit()) == 2 and tr.state.stopped
    again = make()  # resumes from the checkpoint written at the stop: nothing more to train
    assert len(again.fit()) == 2
    assert state_digest(again.unwrapped_model) == state_digest(tr.unwrapped_model)


def test_close_releases_the_shared_accelerators_references():
    model = nn.Linear(5, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tr = Trainer(model, opt, _data(), lambda t, b: {}, TrainConfig(cpu=True, progress=False))
    acc = tr.accelerator
    # one full-precision process: the model is not wrapped, so nothing is held from the start
    assert tr._plain and not any(m is tr.model for m in acc._models)
    tr.close()
    assert not any(m is tr.model for m in acc._models)
    assert not any(o is tr.optimizer for o in acc._optimizers)


def test_step_seeds_equal_numpy_seed_sequence_for_every_step():
    """The vectorised per-epoch seeds are numpy's SeedSequence hash, word for word."""
    import numpy as np

    from patrec.core.train import step_seed, step_seeds

    rng = np.random.default_rng(0)
    cases = [(0, 0, 0), (2**32 - 1, 2**32 - 1, 2**32 - 1), (7, 3, 1)]
    cases += [tuple(int(v) for v in rng.integers(0, 2**32, 3)) for _ in range(20)]
    for seed, epoch, rank in cases:
        steps = np.array([0, 1, 2, 63, 2**32 - 1, *rng.integers(0, 2**32, 3)])
        got = step_seeds(seed, epoch, steps, rank)
        want = [
            int(np.random.SeedSequence([seed, epoch, int(k), rank]).generate_state(1)[0])
            for k in steps
        ]
        assert got.tolist() == want
        assert step_seed(seed, epoch, int(steps[3]), rank) == want[3]
    with pytest.raises(ConfigError, match="seed"):
        step_seeds(-1, 0, np.arange(3))


def test_predict_chunks_without_grad_and_restores_train_mode() -> None:
    from patrec.core.train import predict

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5))
    x = torch.randn(10, 3)
    out = predict(net, x, batch_size=3)  # chunks of 3, 3, 3, 1
    net.eval()
    assert torch.equal(out, net(x).detach())  # dropout off during predict
    net.train()
    predict(net, x)
    assert net.training and not out.requires_grad and out.dtype == torch.float32
    assert predict(lambda t: t.sum(1, keepdim=True), x.double()).dtype == torch.float32
    with pytest.raises(InputError, match="batch_size"):
        predict(net, x, batch_size=0)
