"""The gait-cycle generator and the AGCFN recipe end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from patrec.core import get_method
from patrec.core.errors import ConfigError, DataError, InputError
from patrec.graph_learning.agcfn import (
    AGCFN,
    VARIANTS,
    build_model,
    load_data,
    make_folds,
    recipe,
    train_variant,
)
from patrec.graph_learning.gait import (
    GAIT_CLASSES,
    GaitSubject,
    gait_cycle,
    joint_angles,
    make_gait_dataset,
    sample_subject,
)

C = {n: i for i, n in enumerate(GAIT_CLASSES)}


def _subject(affected: int = 0, severity: float = 1.0) -> GaitSubject:
    return GaitSubject(
        leg=0.9,
        thigh_share=0.52,
        hip_width=0.2,
        hip_amp=1.0,
        knee_amp=1.0,
        asym=(0.0, 0.0),
        yaw_deg=0.0,
        offset=(0.0, 0.0, 0.0),
        affected=affected,
        severity=severity,
    )


def _clean(label: str, affected: int = 0, frames: int = 64) -> np.ndarray:
    """A noise-free cycle, (3, T, 7)."""
    rng = np.random.default_rng(0)
    return gait_cycle(
        _subject(affected), C[label], rng, frames=frames, noise=0, phase_jitter=0, angle_jitter=0
    )


# --- the generator -----------------------------------------------------------------------


def test_dataset_shapes_balance_determinism_and_subject_split():
    kw = dict(n_subjects=5, test_subjects=2, cycles_per_class=2, frames=16, seed=3)
    d = make_gait_dataset(**kw)
    assert d.x_train.shape == (3 * 7 * 2, 3, 16, 7) and d.x_test.shape == (2 * 7 * 2, 3, 16, 7)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert torch.equal(d.y_train.bincount(), torch.full((7,), 6))
    assert not set(d.subject_train.tolist()) & set(d.subject_test.tolist())
    again = make_gait_dataset(**kw)
    assert torch.equal(d.x_train, again.x_train) and torch.equal(d.y_test, again.y_test)
    other = make_gait_dataset(**{**kw, "seed": 4})
    assert not torch.equal(d.x_train, other.x_train)
    assert d.class_names == GAIT_CLASSES and bool(torch.isfinite(d.x_train).all())


def test_segments_are_rigid_and_angles_plausible():
    x = _clean("steppage")
    for p, c in ((1, 2), (2, 3), (4, 5), (5, 6)):
        length = np.linalg.norm(x[:, :, c] - x[:, :, p], axis=0)
        assert length.std() < 1e-5, (p, c)  # thigh and shank keep their length
    rng = np.random.default_rng(1)
    phase = np.linspace(0, 1, 200, endpoint=False)
    for label in range(len(GAIT_CLASSES)):
        sub = sample_subject(rng, severity_min=1.0)
        for side in (0, 1):
            theta, kappa, beta = joint_angles(phase, label, sub, side)
            assert theta.min() > -25 and theta.max() < 60  # hip flexion, degrees
            assert kappa.min() > 0 and kappa.max() < 100  # the knee never hyper-extends
            assert beta.min() > -10 and beta.max() < 25


def test_angles_are_cyclic():
    phase = np.linspace(0, 1, 50, endpoint=False)
    for label in range(len(GAIT_CLASSES)):
        a = joint_angles(phase, label, _subject(), 0)
        b = joint_angles(phase + 1.0, label, _subject(), 0)
        for u, v in zip(a, b, strict=True):
            assert np.allclose(u, v)
        # the end of the cycle meets its start (antalgic's time warp included)
        end = joint_angles(np.array([1.0 - 1e-6]), label, _subject(), 0)
        start = joint_angles(np.array([0.0]), label, _subject(), 0)
        assert all(abs(float(e[0] - s[0])) < 1e-2 for e, s in zip(end, start, strict=True))


def test_normal_gait_is_left_right_symmetric():
    x = _clean("normal")
    half = x.shape[1] // 2
    left = x[:, :, 3]
    right_shifted = np.roll(x[:, :, 6], -half, axis=1)  # right leg half a cycle later
    right_shifted[1] *= -1  # mirror y
    left_rel = left - x[:, :, 0]
    right_rel = right_shifted - np.roll(x[:, :, 0] * [[1], [-1], [1]], -half, axis=1)
    assert np.abs(left_rel - right_rel).max() < 0.01


def _knee_peak(x: np.ndarray, side: int) -> float:
    h, k, a = (1, 2, 3) if side == 0 else (4, 5, 6)
    u, v = x[:, :, k] - x[:, :, h], x[:, :, a] - x[:, :, k]
    cos = (u * v).sum(0) / np.linalg.norm(u, axis=0) / np.linalg.norm(v, axis=0)
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max())


def test_abnormalities_show_where_they_should():
    normal = _clean("normal")
    stiff = _clean("stiff_knee", affected=1)
    assert _knee_peak(stiff, 1) < _knee_peak(normal, 1) - 20  # affected knee barely bends
    assert abs(_knee_peak(stiff, 0) - _knee_peak(normal, 0)) < 1  # the other one as usual
    circ = _clean("circumduction", affected=0)
    assert circ[1, :, 3].max() > normal[1, :, 3].max() + 0.05  # left ankle swings outward
    step = _clean("steppage", affected=0)
    assert step[2, :, 3].max() > normal[2, :, 3].max() + 0.05  # high stepping
    short = _clean("short_step")
    assert np.ptp(short[0, :, 3]) < 0.8 * np.ptp(normal[0, :, 3])  # shorter strides
    wad = _clean("waddling")
    assert np.ptp(wad[1, :, 0]) > 2 * np.ptp(normal[1, :, 0])  # pelvic sway
    ant = _clean("antalgic", affected=0)
    assert not np.allclose(ant[:, :, 3], normal[:, :, 3], atol=0.02)


def test_generator_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="test_subjects"):
        make_gait_dataset(n_subjects=3, test_subjects=3)
    with pytest.raises(ConfigError, match="classes"):
        make_gait_dataset(classes=("normal", "hopping"))
    with pytest.raises(InputError, match="label"):
        gait_cycle(_subject(), 9, np.random.default_rng(0))
    with pytest.raises(InputError, match="frames"):
        gait_cycle(_subject(), 0, np.random.default_rng(0), frames=1)


# --- recipe ------------------------------------------------------------------------------

TINY = [
    "train.epochs=1",
    "train.batch_size=16",
    "train.progress=false",
    "model.widths=4,4,8",
    "stgcn.widths=4,4,4,4,4,4,8,8,8",
    "data.n_subjects=6",
    "data.test_subjects=2",
    "data.val_subjects=1",
    "data.cycles_per_class=2",
    "data.frames=12",
]


def _cfg(*extra: str):
    return get_method("graph-learning/agcfn").make_config("smoke", TINY + list(extra))


def test_presets_follow_the_paper():
    m = get_method("graph-learning/agcfn")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.optim.lr == 1e-3 and paper.optim.momentum == 0.9 and paper.optim.gamma == 0.1
    assert paper.optim.milestones == (20,) and paper.train.epochs == 200
    assert paper.train.batch_size == 256 and paper.model.temporal_kernel == 7
    assert len(paper.model.widths) == 3 and paper.data.n_subjects == 57
    # Sec. 4.1-4.2: leave-one-subject-out over every subject, early stopping
    assert paper.data.protocol == "loso" and paper.data.loso_folds == 0
    assert paper.data.val_subjects > 0 and paper.optim.patience > 0
    assert set(smoke.variants) == set(VARIANTS) and set(paper.variants) == set(VARIANTS)
    # Table 3: 0.774M parameters; the ST-GCN widths we chose land within 1 %
    n = sum(p.numel() for p in build_model(paper, "agcfn", 7).parameters())
    assert abs(n - 774_000) / 774_000 < 0.01


def test_folds_of_both_protocols():
    d = _cfg("data.protocol=loso", "data.val_subjects=2").data
    subjects = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]  # 7 distinct ids
    folds = make_folds(subjects, d)
    assert sorted(f.test[0] for f in folds) == [1, 2, 3, 4, 5, 6, 9]  # each held out once
    for f in folds:
        assert len(f.test) == 1 and len(f.val) == 2 and not set(f.val) & set(f.test)
    assert len({f.val for f in folds}) > 1  # validation subjects drawn per fold
    assert make_folds(subjects, d) == folds  # seeded
    part = make_folds(subjects, _cfg("data.protocol=loso", "data.loso_folds=3").data)
    assert [f.test for f in part] == [f.test for f in folds[:3]]
    (one,) = make_folds(subjects, _cfg("data.test_subjects=3").data)
    assert len(one.test) == 3 and len(one.val) == 1 and not set(one.val) & set(one.test)
    with pytest.raises(ConfigError, match="no training subject"):
        make_folds([0, 1], _cfg("data.protocol=loso").data)


def test_early_stopping_keeps_the_best_validation_epoch(tmp_path, monkeypatch):
    """A validation loss that rises every epoch: epoch 1 is kept, training ends at 1 + patience."""
    import patrec.graph_learning.agcfn as agcfn

    calls = {"n": 0}
    real = agcfn._training_loss

    def rising(model, x, y):
        loss, scores = real(model, x, y)
        if not torch.is_grad_enabled():  # the validation pass
            calls["n"] += 1
            loss = loss + 100.0 * calls["n"]
        return loss, scores

    monkeypatch.setattr(agcfn, "_training_loss", rising)
    cfg = _cfg("train.epochs=6", "optim.patience=2")
    data = load_data(cfg)
    val = [int(data.subject_train[0])]
    tv = train_variant(cfg, "joint", 0, data, tmp_path, val_subjects=val)
    assert len(tv.history) == 3 and tv.best_epoch == 1  # stopped after epochs 2 and 3
    assert [h["val_loss"] > 100 for h in tv.history] == [True] * 3
    from safetensors.torch import load_file

    best = load_file(str(tmp_path / "best.safetensors"))
    assert int(best["_epoch"]) == 1
    state = tv.model.state_dict()
    w = "blocks.0.gcn.conv.weight"
    assert torch.equal(state[w], best[w])  # the epoch-1 weights are the ones returned
    last = load_file(str(next((tmp_path / "checkpoints").glob("step-*")) / "model.safetensors"))
    assert not torch.equal(last[f"model.{w}"], best[w])  # not the last epoch's
    # a resumed run reads both back: no training, the same best epoch and predictions
    again = train_variant(cfg, "joint", 0, data, tmp_path, val_subjects=val)
    assert again.best_epoch == 1 and torch.equal(again.scores, tv.scores)


def test_recipe_writes_metrics_plots_and_the_model(tmp_path):
    from patrec.core.hub import verify_saved_model

    cfg = _cfg("seeds=0", "variants=two_stream,agcfn")
    metrics = recipe(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "agcfn" and set(saved["compare"]) == {"two_stream"}
    for name in (
        "accuracy.png",
        "macro_f1.png",
        "gait_samples.png",
        "fusion_adjacency.png",
        "confusion.png",
        "test_accuracy_curves.png",
    ):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name
    for v, row in metrics["variants"].items():  # the four metrics of Table 1
        for key in ("accuracy", "macro_precision", "macro_recall", "macro_f1"):
            assert 0.0 <= row[key]["mean"] <= 1.0 and row[key]["n"] == 1, (v, key)
        assert 1 <= row["best_epoch"]["mean"] <= 1
    conf = np.asarray(saved["confusion_seed0"]["agcfn"])
    assert conf.shape == (7, 7) and conf.sum() == saved["test_cycles_first_fold"] == 2 * 7 * 2
    assert np.trace(conf) / conf.sum() == pytest.approx(
        metrics["variants"]["agcfn"]["accuracy"]["mean"]
    )
    rows = metrics["variants"]
    streams = [build_model(cfg, v, 7) for v in ("joint", "bone")]  # two independent streams
    assert rows["two_stream"]["params"] == sum(p.numel() for n in streams for p in n.parameters())
    result = json.loads((tmp_path / "runs/agcfn/seed0/result.json").read_text())
    assert np.asarray(result["adjacency"]).shape == (3, 13, 13)
    assert np.abs(np.asarray(result["adjacency"])[:, :7, 7:]).max() > 0  # C learned from 0
    # <out>/model is AGCFN of the first seed and reproduces its saved outputs
    loaded = get_method("graph-learning/agcfn").load_model(tmp_path / "model")
    assert isinstance(loaded, AGCFN) and loaded.streams == "fusion"
    assert verify_saved_model(tmp_path / "model") < 1e-5


def test_recipe_with_leave_one_subject_out(tmp_path):
    cfg = _cfg(
        "seeds=0", "variants=joint", "data.protocol=loso", "data.loso_folds=2",
        "train.batch_size=8", "data.n_subjects=4", "data.cycles_per_class=1",
    )  # fmt: skip
    metrics = recipe(cfg, tmp_path)
    assert metrics["folds"] == 2 and metrics["protocol"] == "loso"
    run = tmp_path / "runs/joint/seed0"
    assert (run / "fold00" / "best.safetensors").is_file() and (run / "fold01").is_dir()
    conf = np.asarray(metrics["confusion_seed0"]["joint"])
    assert conf.sum() == 2 * 7  # pooled over both held-out subjects, one cycle per class
    acc = metrics["variants"]["joint"]["accuracy"]["mean"]
    assert np.trace(conf) / conf.sum() == pytest.approx(acc)


def test_npz_data_is_split_by_subject(tmp_path):
    d = make_gait_dataset(n_subjects=4, test_subjects=1, cycles_per_class=1, frames=8)
    x = torch.cat([d.x_train, d.x_test]).numpy()
    y = torch.cat([d.y_train, d.y_test]).numpy()
    s = torch.cat([d.subject_train, d.subject_test]).numpy()
    path = tmp_path / "gait.npz"
    np.savez(path, x=x, y=y, subject=s, class_names=np.array(GAIT_CLASSES))
    loaded = load_data(_cfg("data.name=npz", f"data.root={path}", "data.test_subjects=2"))
    assert len(torch.unique(loaded.subject_test)) == 2
    assert not set(loaded.subject_train.tolist()) & set(loaded.subject_test.tolist())
    assert len(loaded.x_train) + len(loaded.x_test) == len(x)
    assert loaded.class_names == GAIT_CLASSES


def test_bad_config_values(tmp_path):
    m = get_method("graph-learning/agcfn")
    with pytest.raises(ConfigError, match="variants"):
        m.run(_cfg("variants=stgcn,gcn"), tmp_path)
    with pytest.raises(ConfigError, match="model.skeleton"):
        m.make_config("smoke", TINY + ["model.skeleton=body25"])
    with pytest.raises(ConfigError, match="model.widths"):
        m.make_config("smoke", TINY + ["model.strides=1,2"])
    with pytest.raises(ConfigError, match="temporal_kernel must be odd"):
        m.make_config("smoke", TINY + ["stgcn.temporal_kernel=4"])
    with pytest.raises(ConfigError, match="leave none of the data.n_subjects"):
        m.make_config("smoke", TINY + ["data.test_subjects=5"])
    with pytest.raises(ConfigError, match="data.protocol"):
        m.make_config("smoke", TINY + ["data.protocol=kfold"])
    with pytest.raises(DataError, match="no path given"):
        recipe(_cfg("data.name=npz"), tmp_path)
    with pytest.raises(InputError, match="GaitData"):
        recipe(_cfg(), tmp_path, data="gait.npz")
