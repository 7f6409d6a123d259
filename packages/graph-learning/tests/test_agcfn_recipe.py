"""The gait-cycle generator and the AGCFN recipe end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from patrec.core import get_method
from patrec.core.errors import ConfigError, DataError, InputError
from patrec.graph_learning.agcfn import build_model, load_data, recipe
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
    "data.n_subjects=6",
    "data.test_subjects=2",
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
    assert {"stgcn", "agcfn_c0", "agcfn"} <= set(smoke.variants)
    # Table 3: 0.774M parameters; the ST-GCN widths we chose land within 1 %
    n = sum(p.numel() for p in build_model(paper, "agcfn", 7).parameters())
    assert abs(n - 774_000) / 774_000 < 0.01


def test_recipe_writes_metrics_plots_and_compares(tmp_path):
    cfg = _cfg("seeds=0,1", "variants=stgcn,bone,agcfn_c1,agcfn")
    metrics = recipe(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "agcfn" and set(saved["compare"]) == {"stgcn", "bone", "agcfn_c1"}
    for name in (
        "accuracy.png",
        "macro_f1.png",
        "gait_samples.png",
        "fusion_adjacency.png",
        "test_accuracy_curves.png",
    ):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name
    for v, row in metrics["variants"].items():
        assert row["accuracy"]["n"] == 2, v
        for key in ("accuracy", "macro_f1"):
            assert 0.0 <= row[key]["mean"] <= 1.0 and math.isfinite(row[key]["std"])
    conf = np.asarray(saved["confusion_seed0"]["agcfn"])
    assert conf.shape == (7, 7) and conf.sum() == saved["test_cycles"] == 2 * 7 * 2
    result = json.loads((tmp_path / "runs/agcfn/seed0/result.json").read_text())
    assert np.asarray(result["adjacency"]).shape == (3, 13, 13)
    # the cross blocks started at 0 and were learned
    assert np.abs(np.asarray(result["adjacency"])[:, :7, 7:]).max() > 0
    # a finished run is read back, not retrained
    stamp = (tmp_path / "runs/agcfn/seed0/result.json").stat().st_mtime_ns
    again = recipe(cfg, tmp_path)
    assert (tmp_path / "runs/agcfn/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"] == metrics["variants"]


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
    with pytest.raises(ConfigError, match="variants"):
        recipe(_cfg("variants=stgcn,gcn"), tmp_path)
    with pytest.raises(ConfigError, match="model.skeleton"):
        recipe(_cfg("model.skeleton=body25"), tmp_path)
    with pytest.raises(ConfigError, match="model.widths"):
        recipe(_cfg("model.strides=1,2"), tmp_path)
    with pytest.raises(DataError, match="no path given"):
        recipe(_cfg("data.name=npz"), tmp_path)
    with pytest.raises(InputError, match="GaitData"):
        recipe(_cfg(), tmp_path, data="gait.npz")
