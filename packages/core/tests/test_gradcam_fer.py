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
    with pytest.raises(InputError, match=r"\(N, 1, H, W\)"):
        net(torch.rand(2, 3, 32, 32))
    with pytest.raises(InputError, match="32x32"):
        net(torch.rand(2, 1, 48, 48))
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


@pytest.mark.slow
def test_recipe_end_to_end(tmp_path) -> None:
    cfg = apply_overrides(
        smoke_config(),
        {
            "seeds": (0,),
            "train.epochs": 1,
            "data.copies": 4,
            "model.widths": (4, 4, 8, 8),
            "model.dense": (16, 16),
            "explain.max_images": 40,
            "explain.figure_images": 4,
        },
    )
    m = recipe(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["primary"] == "cue_hit_rate" and saved["ours"] == "gradcam"
    for v in ("gradcam", "guided_gradcam", "saliency", "random"):
        hr = m["variants"][v]["cue_hit_rate"]["mean"]
        assert 0.0 <= hr <= 1.0
    assert 0.0 <= m["accuracy"]["mean"] <= 1.0
    for name in saved["plots"]:
        assert (tmp_path / name).is_file()
    assert {"cue_hit_rate.png", "class_mean_std_gradcam.png", "examples_seed0.png"} <= set(
        saved["plots"]
    )


def test_recipe_trained_model_maps_have_input_size(tmp_path) -> None:
    d = planted_cue_faces(2, copies=2)
    net = FERCNN(1, 2, (4, 4, 4, 4), 3, (8, 8), 0.0, 48)
    cams = gradcam(net, net.cam_layer, d.images[:3], d.labels[:3])
    assert cams.shape == (3, 48, 48) and bool((cams >= 0).all())
