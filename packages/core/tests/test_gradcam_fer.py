"""Tests of core/gradcam_fer: the paper's CNN, the FER-2013 loader, the cue faces, the recipe."""

from __future__ import annotations

import json
import math

import pytest
import torch

from patrec.core.config import apply_overrides
from patrec.core.errors import ConfigError, DataError, InputError
from patrec.core.explain import gradcam
from patrec.core.gradcam_fer import (
    FERCNN,
    cue_patterns,
    load_fer2013_csv,
    planted_cue_faces,
    recipe,
    smoke_config,
)
from patrec.core.metrics import per_class_scores


def test_fercnn_matches_table2_parameter_counts() -> None:
    net = FERCNN(in_channels=3, num_classes=7)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    dense = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert [count(convs[0]), count(convs[1])] == [2432, 25632]  # Table 2
    assert [count(d) for d in dense] == [295040, 8256, 455]
    assert dense[0].in_features == 2304  # the flatten of Table 2
    acts: list[torch.Size] = []
    h = net.get_submodule(net.cam_layer).register_forward_hook(lambda m, i, o: acts.append(o.shape))
    assert net(torch.rand(2, 3, 48, 48)).shape == (2, 7)
    h.remove()
    assert tuple(acts[0][2:]) == (6, 6)  # Sec. 3.4: the last conv layer is 6x6


def test_fercnn_rejects_bad_shapes_and_configs() -> None:
    net = FERCNN(1, 4, (4, 4, 4, 4), 3, (8, 8), 0.0, 32)
    with pytest.raises(InputError, match=r"\(N, 1, 32, 32\), a size 1 where it has 3"):
        net(torch.rand(2, 3, 32, 32))
    with pytest.raises(InputError, match="a size 32 where it has 48"):
        net(torch.rand(2, 1, 48, 48))
    with pytest.raises(InputError, match="float dtype"):
        net(torch.ones(2, 1, 32, 32, dtype=torch.long))
    with pytest.raises(ConfigError, match="divisible"):
        FERCNN(image_size=40)
    with pytest.raises(ConfigError, match="odd"):
        FERCNN(kernel_size=4)


def _write_csv(path, rows) -> None:
    path.write_text("emotion,pixels,Usage\n" + "".join(f"{r}\n" for r in rows))


def test_fer2013_loader(tmp_path) -> None:
    px = [str(i % 256) for i in range(48 * 48)]
    p = tmp_path / "fer.csv"
    _write_csv(p, [f"3,{' '.join(px)},Training", f"6,{' '.join(reversed(px))},PublicTest"])
    fer = load_fer2013_csv(p)
    assert fer.images.shape == (2, 1, 48, 48) and fer.labels.tolist() == [3, 6]
    assert fer.usage == ["Training", "PublicTest"]
    assert math.isclose(float(fer.images[0, 0, 0, 5]), 5 / 255, rel_tol=1e-6)
    assert math.isclose(float(fer.images[0, 0, 5, 3]), (5 * 48 + 3) % 256 / 255, rel_tol=1e-6)
    with pytest.raises(DataError, match="does not exist"):
        load_fer2013_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    _write_csv(bad, [f"3,{' '.join(px[:100])},Training"])
    with pytest.raises(InputError, match="line 2.*2304"):
        load_fer2013_csv(bad)
    _write_csv(bad, [f"9,{' '.join(px)},Training"])
    with pytest.raises(InputError, match="0..6"):
        load_fer2013_csv(bad)
    _write_csv(bad, [f"x,{' '.join(px)},Training"])
    with pytest.raises(InputError, match="line 2"):
        load_fer2013_csv(bad)
    bad.write_text("label,image\n1,2\n")
    with pytest.raises(InputError, match="columns"):
        load_fer2013_csv(bad)


def test_planted_cue_faces() -> None:
    d = planted_cue_faces(3, copies=3, seed=0)
    assert d.images.shape == (300, 1, 48, 48)
    assert bool((d.images >= 0).all()) and bool((d.images <= 1).all())
    assert d.labels.bincount().tolist() == [100, 100, 100]
    # split by identity: no face in two splits, shares 56/24/20
    for f in range(100):
        assert d.split[d.face_ids == f].unique().numel() == 1
    assert d.split.bincount().tolist() == [168, 72, 60]
    # the cue really is inside its box: the clean face differs there
    clean = planted_cue_faces(3, copies=3, seed=0, distractor=False)
    r0, c0, r1, c1 = clean.boxes[0].tolist()
    diff = (clean.images[0, 0] - d.images[0, 0]).abs()
    assert float(diff[r0:r1, c0:c1].max()) == 0.0  # cue drawn last, same in both
    m = clean.masks[0]
    assert bool(m[r0:r1, c0:c1].all())  # the hit region holds the cue box, grown by 3 px
    assert (r1 - r0) * (c1 - c0) < int(m.sum()) <= (r1 - r0 + 6) * (c1 - c0 + 6)
    pats = cue_patterns(12)
    assert pats.shape == (8, 12, 12)
    flat = pats.flatten(1)
    assert len({tuple(v.tolist()) for v in flat}) == 8  # all strokes differ
    with pytest.raises(InputError, match="2..7"):
        planted_cue_faces(8)


def test_config_rules() -> None:
    from patrec.core import get_method

    m = get_method("core/gradcam_fer")
    paper = m.make_config("paper")  # Sec. 3.2-3.3 on FER-2013
    assert paper.data.name == "fer2013" and paper.data.image_size == 48
    assert paper.model.widths == (32, 64, 128, 256) and paper.model.kernel_size == 5
    assert paper.optim.lr == 1e-4 and paper.train.epochs == 50 and len(paper.seeds) == 5
    assert m.make_config("paper_cue_faces").data.num_classes == 7
    with pytest.raises(ConfigError, match="kernel_size"):
        m.make_config("smoke", ["model.kernel_size=4"])
    with pytest.raises(ConfigError, match="divisible by 16"):
        m.make_config("smoke", ["data.image_size=40"])
    with pytest.raises(ConfigError, match="cue_size"):
        m.make_config("smoke", ["data.image_size=32", "data.cue_size=20"])
    with pytest.raises(ConfigError, match="explainers"):
        m.make_config("smoke", ["explainers=gradcam,lime"])
    with pytest.raises(ConfigError, match="data.name"):
        m.make_config("smoke", ["data.name=affectnet"])


TINY = {
    "seeds": (0, 1),
    "train.epochs": 1,
    "data.copies": 2,
    "model.widths": (4, 4, 8, 8),
    "model.dense": (16, 16),
    "explain.max_images": 24,
    "explain.figure_images": 3,
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradcam_fer")
    return out, recipe(apply_overrides(smoke_config(), TINY), out)


def test_recipe_metrics_and_plots(tiny_run) -> None:
    out, m = tiny_run
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["primary"] == "cue_hit_rate" and saved["ours"] == "gradcam"
    assert set(saved["baselines"]) == {"saliency", "random", "guided_gradcam"}
    v = saved["variants"]
    for name in ("gradcam", "guided_gradcam", "saliency", "random"):
        assert v[name]["cue_hit_rate"]["n"] == 2
    c = v["classifier"]
    assert set(c["f1"]) == {"happy", "sad", "surprise", "anger"}  # one entry per class
    assert c["accuracy"]["n"] == 2
    for name in saved["plots"]:
        assert (out / name).is_file()
    assert {"cue_hit_rate.png", "class_mean_std_gradcam.png", "examples_best.png",
            "f1_by_group.png", "precision_by_group.png"} <= set(saved["plots"])  # fmt: skip
    assert saved["best_seed"] in (0, 1)


def test_reported_numbers_come_from_the_saved_model(tiny_run) -> None:
    """The classifier in <out>/model gives the reported accuracy, per-class F1 and hit rate."""
    from patrec.core import get_method
    from patrec.core.explain import cue_hit_rate
    from patrec.core.gradcam_fer import explain_set
    from patrec.core.hub import verify_saved_model

    out, m = tiny_run
    net = get_method("core/gradcam_fer").load_model(out / "model")
    assert isinstance(net, FERCNN) and verify_saved_model(out / "model", FERCNN) < 1e-5
    cues = planted_cue_faces(4, copies=2, seed=0).subset(2)
    with torch.no_grad():
        logits = net(cues.images)
    c = m["variants"]["classifier"]
    assert float((logits.argmax(1) == cues.labels).float().mean()) == pytest.approx(
        c["accuracy"]["values"][0], abs=1e-6
    )
    f1 = per_class_scores(logits, cues.labels)["f1"]
    assert [c["f1"][n]["values"][0] for n in ("happy", "sad", "surprise", "anger")] == (
        pytest.approx(f1.tolist(), abs=1e-6)
    )
    maps = explain_set(net, net.cam_layer, cues.images[:24], cues.labels[:24])
    hit = cue_hit_rate(maps["gradcam"], cues.masks[:24])
    assert m["variants"]["gradcam"]["cue_hit_rate"]["values"][0] == pytest.approx(hit)
    # Guided Grad-CAM is Guided Backprop times the (upsampled, unnormalised) Grad-CAM (Sec.
    # 3.4); the Grad-CAM row is that map scaled to a peak of 1
    raw = gradcam(net, net.cam_layer, cues.images[:24], cues.labels[:24], normalize=False)
    torch.testing.assert_close(maps["guided_gradcam"], maps["guided_backprop"] * raw[:, None])
    peak = raw.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    torch.testing.assert_close(maps["gradcam"], raw / peak)


def test_finished_runs_are_read_back(tiny_run) -> None:
    out, first = tiny_run
    stamp = (out / "runs/classifier/seed0/result.json").stat().st_mtime_ns
    again = recipe(apply_overrides(smoke_config(), TINY), out)
    assert (out / "runs/classifier/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"] == first["variants"]


def test_one_seed_recipe_leaves_a_model_that_reproduces(tmp_path) -> None:
    from patrec.core import get_method
    from patrec.core.hub import verify_saved_model

    cfg = apply_overrides(
        smoke_config(),
        {**TINY, "seeds": (0,), "explainers": ("random", "gradcam"), "data.copies": 1},
    )
    m = recipe(cfg, tmp_path)
    assert m["ours"] == "gradcam" and m["baselines"] == ["random"]
    assert set(m["variants"]) == {"classifier", "random", "gradcam"}
    assert isinstance(get_method("core/gradcam_fer").load_model(tmp_path / "model"), FERCNN)
    assert verify_saved_model(tmp_path / "model", FERCNN) < 1e-5


def test_grad_cam_maps_have_input_size() -> None:
    d = planted_cue_faces(2, copies=2)
    net = FERCNN(1, 2, (4, 4, 4, 4), 3, (8, 8), 0.0, 48)
    cams = gradcam(net, net.cam_layer, d.images[:3], d.labels[:3])
    assert cams.shape == (3, 48, 48) and bool((cams >= 0).all())
