"""The NCDS recipe end to end: registration, semi-supervised path, kill-and-resume, DDP."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from patrec.core import get_method
from patrec.core.ncds import load_data, recipe, train_variant
from patrec.core.train import load_checkpoint

TINY = [
    "train.epochs=1",
    "train.batch_size=32",
    "model.widths=8,16",
    "model.hidden_dim=32",
    "loss.queue_size=64",
]


def _cfg(*extra):
    return get_method("core/ncds").make_config("smoke", TINY + list(extra))


def test_presets_are_consistent():
    m = get_method("core/ncds")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.data.name == "cifar100" and paper.model.backbone == "resnet18"
    assert paper.train.epochs == 300 and paper.model.proj_dim == 128
    assert smoke.data.name == "digits" and set(smoke.variants) == {"ce", "dsn", "cds", "ncds"}
    table4 = m.make_config("ablation")  # Table 4's auxiliary losses, CIFAR-100 ResNet-18
    assert table4.variants == ("simclr", "source", "cds", "simclr_class", "ncds")
    assert table4.data.name == "cifar100" and table4.model.backbone == "resnet18"


def test_recipe_writes_metrics_plots_and_compares(tmp_path):
    metrics = recipe(_cfg("seeds=0,1", "variants=ce,cds,ncds"), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "ncds" and set(saved["compare"]) == {"ce", "cds"}
    assert saved["variants"]["ncds"]["accuracy"]["n"] == 2
    for name in ("accuracy.png", "test_accuracy_curves.png", "train_loss_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    # the deployed model is the plain backbone: same parameter count for every variant
    v = metrics["variants"]
    assert v["ce"]["params_deployed"] == v["ncds"]["params_deployed"] == v["cds"]["params_deployed"]
    assert v["ncds"]["params_training"] > v["ncds"]["params_deployed"]
    # chance level on 10 digit classes is 0.1: one epoch must do clearly better
    assert v["ncds"]["accuracy"]["mean"] > 0.3
    # <out>/model is the deployed NCDS backbone of seed 0: it gives the reported accuracy
    from patrec.core.hub import verify_saved_model
    from patrec.core.metrics import accuracy
    from patrec.core.nn import SmallCNN

    net = get_method("core/ncds").load_model(tmp_path / "model")
    assert isinstance(net, SmallCNN) and verify_saved_model(tmp_path / "model") < 1e-5
    data = load_data(_cfg())
    with torch.no_grad():
        acc = accuracy(net(data.x_test), data.y_test)
    assert acc == pytest.approx(v["ncds"]["accuracy"]["values"][0], abs=1e-6)


def test_finished_runs_are_not_retrained(tmp_path):
    cfg = _cfg("seeds=0", "variants=ncds", "data.test_fraction=0.8")
    first = recipe(cfg, tmp_path)
    stamp = (tmp_path / "runs/ncds/seed0/result.json").stat().st_mtime_ns
    again = recipe(cfg, tmp_path)
    assert (tmp_path / "runs/ncds/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"] == first["variants"]
    # <out>/model is the deployed NCDS backbone: it loads, reproduces its saved outputs and
    # gives the accuracy the recipe reported
    from patrec.core.hub import verify_saved_model
    from patrec.core.metrics import accuracy
    from patrec.core.nn import SmallCNN

    net = get_method("core/ncds").load_model(tmp_path / "model")
    assert isinstance(net, SmallCNN) and verify_saved_model(tmp_path / "model") < 1e-5
    data = load_data(cfg)
    with torch.no_grad():
        acc = accuracy(net(data.x_test), data.y_test)
    assert acc == pytest.approx(first["variants"]["ncds"]["accuracy"]["values"][0], abs=1e-6)


def test_semi_supervised_path_uses_unlabelled_images(tmp_path):
    cfg = _cfg("data.labelled_fraction=0.3", "seeds=0")
    data = load_data(cfg, seed=0)
    unl = int((data.y_train < 0).sum())
    assert abs(unl / len(data.y_train) - 0.7) < 0.02
    tv = train_variant(cfg, "ncds", 0, data)
    last = tv.history[-1]
    assert last["train/source_unlabelled"] < 0  # eq. 12's L_source(U) was optimised
    # queues only ever hold labelled samples
    for q in tv.queues:
        _, labels = q.get()
        assert len(labels) > 0 and bool((labels >= 0).all())


def test_bad_config_values():
    from patrec.core.errors import ConfigError

    with pytest.raises(ConfigError, match="variants"):
        recipe(_cfg("variants=ce,xyz"), "unused")
    with pytest.raises(ConfigError, match="labelled_fraction"):
        recipe(_cfg("data.labelled_fraction=0"), "unused")
    with pytest.raises(ConfigError, match="model.backbone"):
        recipe(_cfg("model.backbone=vgg"), "unused")
    with pytest.raises(ConfigError, match="queue_size"):
        _cfg("loss.queue_size=-1")
    with pytest.raises(ConfigError, match="DSN needs at least two stages"):
        _cfg("model.widths=8", "variants=ce,dsn")


CLI = [sys.executable, "-m", "patrec.core.cli", "run", "core/ncds", "--preset", "smoke"]
RESUME_SET = [
    "--set", "variants=ncds", "--set", "seeds=0", "--set", "train.epochs=3",
    "--set", "train.checkpoint_every=3", "--set", "train.keep_checkpoints=50",
    "--set", "model.widths=8,16", "--set", "model.hidden_dim=32",
]  # fmt: skip


def _final_weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(out / "runs/ncds/seed0/backbone.safetensors"))


@pytest.mark.slow
def test_killed_run_resumes_to_identical_weights(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ref, run = tmp_path / "ref", tmp_path / "run"
    subprocess.run([*CLI, *RESUME_SET, "--out", str(ref)], check=True, env=env,
                   capture_output=True, timeout=300)  # fmt: skip

    proc = subprocess.Popen([*CLI, *RESUME_SET, "--out", str(run)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    ckdir = run / "runs/ncds/seed0"
    deadline = time.time() + 240
    state = None
    try:
        while time.time() < deadline and proc.poll() is None:
            ck = load_checkpoint(ckdir)
            if ck is not None:
                st = json.loads((ck / "state.json").read_text())
                if st["epoch"] >= 1 and st["batch_in_epoch"] > 0:
                    proc.send_signal(signal.SIGSTOP)  # freeze, read where it is, then kill
                    state = json.loads((load_checkpoint(ckdir) / "state.json").read_text())
                    proc.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert state is not None, "the run finished or never checkpointed before it could be killed"
    assert proc.returncode == -signal.SIGKILL
    assert not (ckdir / "result.json").exists()
    assert state["epoch"] < 3

    subprocess.run([*CLI, *RESUME_SET, "--out", str(run)], check=True, env=env,
                   capture_output=True, timeout=300)  # fmt: skip
    a, b = _final_weights(ref), _final_weights(run)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ra = json.loads((ref / "runs/ncds/seed0/result.json").read_text())
    rb = json.loads((run / "runs/ncds/seed0/result.json").read_text())
    assert ra["history"] == rb["history"]


DDP_SCRIPT = r"""
import json, sys
from pathlib import Path
from patrec.core import get_method
from patrec.core.ncds import load_data, train_variant
from patrec.core.train import get_accelerator, state_digest

out = Path(sys.argv[1])
cfg = get_method("core/ncds").make_config("smoke", [
    "train.epochs=2", "train.batch_size=32", "model.widths=8,16", "model.hidden_dim=32",
    "loss.queue_size=128", "train.progress=false"])
acc = get_accelerator(True)
rank = acc.process_index
res = {"world": acc.num_processes, "backend": str(acc.state.backend)}
for variant in ("cds", "ncds"):  # cds: frozen G_k/H_k must not break DDP
    tv = train_variant(cfg, variant, 0, load_data(cfg, 0), out / variant)
    res[variant] = {"model": state_digest(tv.model), "history": tv.history,
                    "queues": state_digest(tv.queues) if tv.queues is not None else None}
(out / f"rank{rank}.json").write_text(json.dumps(res))
"""


@pytest.mark.slow
@pytest.mark.distributed
def test_two_process_gloo_training_keeps_ranks_identical(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--standalone", str(script), str(tmp_path)]  # fmt: skip
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["world"] == r1["world"] == 2 and r0["backend"] == "gloo"
    for variant in ("cds", "ncds"):
        a, b = r0[variant], r1[variant]
        assert a["model"] == b["model"], variant
        assert a["queues"] == b["queues"], variant
        assert a["history"] == b["history"], variant
        assert a["history"][-1]["test_accuracy"] > 0.2, variant  # it trained (chance 0.1)
    assert r0["ncds"]["queues"] is not None


@pytest.mark.parametrize("variant", ["dsn", "cds", "simclr_class", "source"])
def test_every_variant_trains_and_deploys_the_bare_backbone(variant):
    """Each baseline / Table 4 loss trains its auxiliary modules and drops them at the end."""
    from patrec.core.ncds import make_backbone

    cfg = _cfg("seeds=0", "data.test_fraction=0.8", "train.epochs=2")
    data = load_data(cfg, 0)
    tv = train_variant(cfg, variant, 0, data)
    bare = make_backbone(cfg.model, data.in_channels, data.num_classes)
    assert type(tv.model) is type(bare) and set(tv.model.state_dict()) == set(bare.state_dict())
    assert tv.metrics["params_deployed"] == sum(p.numel() for p in bare.parameters())
    assert tv.metrics["params_training"] > tv.metrics["params_deployed"]  # auxiliary modules
    last = tv.history[-1]
    logged = {"dsn": "train/companions", "cds": "train/supcon", "source": "train/source",
              "simclr_class": "train/class"}[variant]  # fmt: skip
    assert math.isfinite(last[logged]) and last[logged] != 0.0  # its own loss was optimised
    assert last["train/loss"] < tv.history[0]["train/loss"]  # its objective went down
    assert (tv.queues is not None) == (variant == "simclr_class")  # L_class uses the queue
