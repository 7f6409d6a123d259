"""Tests of graph-learning/stgat_group_emotion (inventory 002/22)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patrec.core.config import apply_overrides
from patrec.core.errors import DataError, InputError
from patrec.graph_learning import stgat_group_emotion as sg

# eq. 6 written out by hand for N = 2 (A^t = 1_{2x2}), nodes x1 x2 g^1 x1 x2 g^2 x1 x2 g^3;
# rows receive, columns send.
SERIAL_N2_T3 = torch.tensor(
    [
        [1, 1, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0, 0, 0],  # g^1 <- x^1, g^1 (eq. 3)
        [0, 0, 1, 1, 1, 0, 0, 0, 0],  # x^2 <- g^1, x^2 (eq. 4)
        [0, 0, 1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 1, 1, 0, 0, 0],  # g^2 <- x^2, g^2
        [0, 0, 0, 0, 0, 1, 1, 1, 0],
        [0, 0, 0, 0, 0, 1, 1, 1, 0],
        [0, 0, 0, 0, 0, 0, 1, 1, 1],  # g^3: the read-out node
    ],
    dtype=torch.float,
)


def test_blocks_eq3_eq4() -> None:
    assert torch.equal(sg.individual_to_group_block(2),
                       torch.tensor([[1.0, 1, 0], [1, 1, 0], [1, 1, 1]]))  # fmt: skip
    assert torch.equal(sg.group_to_individual_block(2),
                       torch.tensor([[1.0, 0, 0], [1, 1, 1], [1, 1, 1]]))  # fmt: skip


def test_serial_and_parallel_n2_t3() -> None:
    a = sg.serial_adjacency(2, 3)
    assert torch.equal(a, SERIAL_N2_T3)
    # eq. 6 for T = 2 is the top-left block of T = 3 (merging is associative)
    assert torch.equal(sg.serial_adjacency(2, 2), SERIAL_N2_T3[:6, :6])
    p = sg.parallel_adjacency(2, 3)
    expect = SERIAL_N2_T3.clone()
    for i in range(9):
        for j in range(i + 1):
            expect[i, j] = 1.0  # phi: every lower-triangle zero -> 1
    assert torch.equal(p, expect)
    assert p[0, 1] == 1 and p[2, 3] == 0  # same-frame block kept; no edge from the future
    w = sg.parallel_adjacency_without_pseudo(2, 3)
    assert w.shape == (6, 6)
    assert torch.equal(w, torch.tensor([[1.0, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0],
                                        [1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0],
                                        [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]))  # fmt: skip


def test_holistic_eq10_convention() -> None:
    a = sg.holistic_adjacency(3)
    printed = torch.tensor([[1.0 if i <= j else 0.0 for j in range(3)] for i in range(3)])
    assert torch.equal(a.T, printed)  # eq. 10 as printed, in the transposed convention
    ei = sg.adjacency_to_edge_index(a)
    edges = {(int(s), int(t)) for s, t in ei.T}
    # frame 0 sends to frames 0, 1, 2; frame 2 sends only to itself
    assert edges == {(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)}


def test_edge_index_direction_and_group_node_eq8() -> None:
    ei = sg.adjacency_to_edge_index(SERIAL_N2_T3)
    edges = {(int(s), int(t)) for s, t in ei.T}
    assert (0, 2) in edges and (2, 0) not in edges  # x -> g, not g -> x at the same t
    assert (2, 3) in edges and (3, 2) not in edges  # g^1 -> x^2
    x = torch.arange(6, dtype=torch.float).reshape(1, 3, 2, 1)
    nodes = sg.facial_node_features(x)
    assert nodes.shape == (1, 9, 1)
    assert torch.allclose(nodes[0, :, 0], torch.tensor([0.0, 1, 0.5, 2, 3, 2.5, 4, 5, 4.5]))


def test_receptive_field_serial_vs_parallel() -> None:
    """With two GAT layers the serial read-out g'^3 sees only x^3, g^3 and g^2 (frames 2, 3):
    changing frame 1 leaves it unchanged, while the parallel graph's g'^3 sees frame 1
    directly (eq. 9). GAT_h is causal: h'^1 ignores later frames."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 2, 4)
    x1, x2 = x.clone(), x.clone()
    x1[:, 0] += 1.0  # frame 1
    x2[:, 1] += 1.0  # frame 2
    ser = sg.FacialGAT(2, 3, 4, 3, 8, 8, 1, "serial").eval()
    par = sg.FacialGAT(2, 3, 4, 3, 8, 8, 1, "parallel").eval()
    with torch.no_grad():
        assert torch.allclose(ser(x), ser(x1))
        assert not torch.allclose(ser(x), ser(x2))
        assert not torch.allclose(par(x), par(x1))
    h = sg.HolisticGAT(3, 4, 3, 8, 8).eval()
    hh = torch.randn(2, 3, 4)
    hh2 = hh.clone()
    hh2[:, 2] += 5.0

    def nodes(v: torch.Tensor) -> torch.Tensor:
        ei = h.gat.edge_index
        z = torch.nn.functional.elu(h.gat.conv1(v, ei))
        return h.gat.conv2(z, ei)

    with torch.no_grad():
        z, z2 = nodes(hh[0]), nodes(hh2[0])
        assert torch.allclose(z[:2], z2[:2]) and not torch.allclose(z[2], z2[2])
        assert torch.allclose(h.gat.embed(hh)[0], z[2], atol=1e-6)  # read-out = h'^T


def test_losses_and_fusion_eq13_15() -> None:
    lf = torch.tensor([[2.0, 0.0, 0.0]])
    lh = torch.tensor([[0.0, 0.0, 1.0]])
    y = torch.tensor([0])
    a, b = sg.stgat_losses(lf, lh, y)
    assert abs(float(a) - (-2.0 + np.log(np.exp(2) + 2))) < 1e-6
    assert abs(float(b) - (-0.0 + np.log(2 + np.e))) < 1e-6
    pf, ph = lf.softmax(1), lh.softmax(1)
    fused = sg.late_fusion(pf, ph, 0.3)
    assert torch.allclose(fused, 0.3 * pf + 0.7 * ph)
    assert torch.allclose(sg.late_fusion(pf, ph, 1.0), pf)
    with pytest.raises(InputError):
        sg.late_fusion(pf, ph, 1.5)


def test_model_shapes_and_bad_input() -> None:
    m = sg.GroupEmotionSTGAT(2, 3, 4, 5, 3, 8, 8, alpha=0.5).eval()
    x, h = torch.randn(2, 3, 2, 4), torch.randn(2, 3, 5)
    p = m(x, h)
    assert p.shape == (2, 3) and torch.allclose(p.sum(1), torch.ones(2))
    with pytest.raises(InputError):
        m(torch.randn(2, 4, 2, 4), h)  # wrong number of frames
    with pytest.raises(InputError):
        sg.FacialGAT(2, 3, 4, graph="star")
    with pytest.raises(InputError):
        sg.serial_adjacency(0, 3)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(InputError):
        m(x, h)


def test_generated_data_contagion() -> None:
    d = sg.make_group_videos(60, 30, frames=10, faces=4, face_dim=8, frame_dim=8,
                             bystanders=0.0, noise=0.0, seed=1)  # fmt: skip
    assert d.faces_train.shape == (60, 10, 4, 8) and d.frames_train.shape == (60, 10, 8)
    # the mean face moves toward the class valence: its spread across classes grows with t
    mean_face = d.faces_train.mean(2)  # (V, T, F)
    sep = []
    for t in (0, 9):
        mu = torch.stack([mean_face[d.y_train == c, t].mean(0) for c in range(3)])
        sep.append(float((mu[2] - mu[0]).norm()))
    assert sep[1] > 3 * sep[0]


def test_loader(tmp_path) -> None:
    with pytest.raises(DataError):
        sg.load_group_features(tmp_path / "none")
    rng = np.random.default_rng(0)
    for split, v in (("train", 5), ("test", 3)):
        np.savez(tmp_path / f"{split}.npz", faces=rng.normal(size=(v, 3, 2, 4)),
                 frames=rng.normal(size=(v, 3, 6)), labels=np.arange(v) % 3)  # fmt: skip
    d = sg.load_group_features(tmp_path)
    assert d.faces_test.shape == (3, 3, 2, 4) and d.num_classes == 3
    np.savez(tmp_path / "test.npz", faces=rng.normal(size=(3, 3, 2, 4)), labels=np.arange(3))
    with pytest.raises(DataError, match="frames"):
        sg.load_group_features(tmp_path)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at this scale: after 12 epochs the parallel GAT stays near chance "
    "(0.37) while mean pooling reaches 0.50 (measured 2026-12-03)",
)
def test_cpu_feasibility_parallel_beats_mean_pooling() -> None:
    """Catalog check: on contagion data, the parallel-graph GAT beats mean pooling over faces
    (N = 4, T = 5, 32-d features, trained in seconds)."""
    from patrec.core.train import TrainConfig

    ds = sg.make_group_videos(240, 120, frames=5, faces=4, face_dim=16, frame_dim=16, seed=3)
    cfg = sg.smoke_config()
    cfg.model.hidden = cfg.model.out_dim = 32
    cfg.train = TrainConfig(epochs=12, batch_size=32, cpu=True, progress=False)
    acc = {}
    for v in ("mean_pool", "parallel"):
        model, _ = sg.train_variant(cfg, v, 0, ds, None)
        pred = sg._scores(model, ds.faces_test, ds.frames_test).argmax(1)
        acc[v] = float((pred == ds.y_test).float().mean())
    assert acc["parallel"] > acc["mean_pool"], acc


def test_recipe_smoke(tmp_path) -> None:
    from patrec.core.hub import verify_saved_model
    from patrec.core.registry import get_method

    cfg = apply_overrides(
        sg.smoke_config(), dict(s.split("=", 1) for s in sg.METHOD.test_overrides)
    )
    metrics = sg.recipe(cfg, tmp_path)
    assert set(metrics["variants"]) == set(sg.VARIANTS)
    assert "accuracy" in metrics["variants"]["fusion"]
    assert len(metrics["alpha_grid"]["alpha"]) == 11
    model = get_method("graph-learning/stgat_group_emotion").load_model(tmp_path / "model")
    assert isinstance(model, sg.GroupEmotionSTGAT)
    assert verify_saved_model(tmp_path / "model") < 1e-5
