"""The ordinal ST-GCN engagement method: graph, eq. 1, eq. 2, Grad-CAM, data, recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from patrec.core import get_method
from patrec.core.config import apply_overrides
from patrec.core.errors import DataError, InputError
from patrec.core.hub import verify_saved_model
from patrec.graph_learning.landmark_stgcn_engagement import (
    METHOD,
    NUM_LANDMARKS,
    EngagementSTGCN,
    LSTMBaseline,
    OrdinalSTGCN,
    STGCNLayer,
    TCNBaseline,
    delaunay_edges,
    face_adjacency,
    face_template,
    load_landmark_sequences,
    make_engagement_dataset,
    mean_absolute_class_error,
    node_frame_gradcam,
    normalized_adjacency,
    ordinal_probabilities,
    ordinal_targets,
    recipe,
    render_sequence,
    smoke_config,
    spatiotemporal_edge_index,
)

# --- the graph (Sec. 3.1) ----------------------------------------------------------------


def test_delaunay_of_a_square_with_centre_by_hand():
    # the 4 corners of a square and its centre: 4 triangles, 8 edges (4 sides, 4 spokes)
    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]], dtype=float)
    ei = delaunay_edges(pts)
    got = {tuple(e) for e in ei.T.tolist()}
    want = {(0, 1), (1, 2), (2, 3), (3, 0), (0, 4), (1, 4), (2, 4), (3, 4)}
    assert got == want | {(j, i) for i, j in want}


def test_face_graph_is_planar_symmetric_connected():
    import networkx as nx

    a = face_adjacency()
    assert a.shape == (NUM_LANDMARKS, NUM_LANDMARKS)
    assert torch.equal(a, a.T) and a.diagonal().sum() == 0
    e = int(a.sum()) // 2
    assert e <= 3 * NUM_LANDMARKS - 6  # a triangulation of V points: planar bound
    g = nx.from_numpy_array(a.numpy())
    assert nx.is_connected(g)
    assert g.has_edge(68, 69)  # the left iris centre joins its rim


def test_spatiotemporal_edges_count_and_temporal_links():
    ei = delaunay_edges(np.array([[0, 0], [1, 0], [0, 1.0]]))  # a triangle, 6 directed edges
    st = spatiotemporal_edge_index(ei, 3, 4)
    assert st.shape[1] == 4 * 6 + 2 * 3 * 3
    pairs = {tuple(p) for p in st.T.tolist()}
    assert (0, 3) in pairs and (3, 0) in pairs and (5, 8) in pairs  # v_t,i -- v_t+1,i
    assert (0, 4) not in pairs  # no diagonal (other landmark, next frame)
    assert (9 + 1, 9 + 2) in pairs  # the spatial edges of the last frame


# --- eq. 1 ---------------------------------------------------------------------------


def test_normalized_adjacency_by_hand():
    a = torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]])
    m = torch.tensor([[1.0, 2, 1], [1, 1, 1], [1, 1, 3]])
    deg = torch.tensor([2.0, 3, 2])  # row sums of A + I
    want = (a + torch.eye(3)) * m / torch.sqrt(deg[:, None] * deg[None, :])
    torch.testing.assert_close(normalized_adjacency(a, m), want)
    # unmasked, the degrees don't change with M
    torch.testing.assert_close(normalized_adjacency(a)[0, 1], torch.tensor(1 / 6**0.5))


def test_stgcn_layer_matches_eq1_by_hand():
    torch.manual_seed(0)
    a = torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]])
    layer = STGCNLayer(a, 2, 3, temporal_kernel=3, dropout=0.0, residual=False).eval()
    with torch.no_grad():
        layer.mask.copy_(torch.rand(3, 3) + 0.5)
    x = torch.randn(2, 2, 5, 3)
    # hand: W_spatial per node and frame, then sum_v x_v Ahat[v, w], BN, ReLU, W_temporal
    w, b = layer.spatial.weight[:, :, 0, 0], layer.spatial.bias
    h = torch.einsum("oc,nctv->notv", w, x) + b[None, :, None, None]
    ahat = normalized_adjacency(a, layer.mask)
    h = torch.stack([sum(h[..., v] * ahat[v, u] for v in range(3)) for u in range(3)], -1)
    bn1, bn2 = layer.bn1, layer.bn2
    h = torch.relu((h - bn1.running_mean[None, :, None, None]) / torch.sqrt(
        bn1.running_var[None, :, None, None] + bn1.eps))  # fmt: skip
    wt, bt = layer.temporal.weight[:, :, :, 0], layer.temporal.bias  # (O, C, Gamma)
    hp = torch.nn.functional.pad(h, (0, 0, 1, 1))
    out = (
        torch.stack([torch.einsum("ocg,ncgv->nov", wt, hp[:, :, t : t + 3]) for t in range(5)], 2)
        + bt[None, :, None, None]
    )
    out = torch.relu((out - bn2.running_mean[None, :, None, None]) / torch.sqrt(
        bn2.running_var[None, :, None, None] + bn2.eps))  # fmt: skip
    torch.testing.assert_close(layer(x), out, atol=1e-5, rtol=1e-5)


def test_mask_is_learned_and_only_on_graph_edges_matters():
    a = face_adjacency()
    layer = STGCNLayer(a, 3, 4, dropout=0.0)
    x = torch.randn(2, 3, 9, NUM_LANDMARKS)
    layer(x).sum().backward()
    g = layer.mask.grad
    assert g is not None and g[(a + torch.eye(len(a))) > 0].abs().sum() > 0
    assert g[(a + torch.eye(len(a))) == 0].abs().max() == 0  # (A + I) * M: off-graph dead


def test_network_shapes_and_paper_parameter_gap():
    m, o = EngagementSTGCN(), OrdinalSTGCN()
    n_m = sum(p.numel() for p in m.parameters())
    n_o = sum(p.numel() for p in o.parameters())
    assert n_m - n_o == 257  # Sec. 4.3: 861,688 - 861,431 (4 x 257 head vs 3 x 257 heads)
    assert abs(n_m - 861_688) / 861_688 < 0.03
    x = torch.randn(2, 3, 12, NUM_LANDMARKS)
    assert m(x).shape == (2, 4) and o(x).shape == (2, 4)
    assert LSTMBaseline(hidden=8, layers=2)(x).shape == (2, 4)
    assert TCNBaseline(filters=8, layers=3, kernel=3)(x).shape == (2, 4)
    assert EngagementSTGCN(in_channels=2, widths=(4, 4, 4))(x[:, :2]).shape == (2, 4)


def test_tcn_is_causal():
    torch.manual_seed(0)
    net = TCNBaseline(filters=4, layers=2, kernel=2, dropout=0.0).eval()
    x = torch.randn(1, 3, 10, NUM_LANDMARKS)
    y = x.clone()
    y[:, :, -1] += 1.0  # change the last frame only
    assert not torch.allclose(net(x), net(y))
    z = x.clone()
    z[:, :, 0] += 1.0  # kernel 2, dilations 1, 2, 2 convs each: receptive field 7 frames
    assert torch.allclose(net(x), net(z))


def test_bad_inputs_are_clear():
    m = EngagementSTGCN(widths=(4, 4, 4))
    with pytest.raises(InputError):
        m(torch.randn(2, 3, 8, 77))
    with pytest.raises(InputError):
        m(torch.randn(2, 2, 8, NUM_LANDMARKS))
    with pytest.raises(InputError):
        STGCNLayer(face_adjacency(), 3, 4, temporal_kernel=4)
    with pytest.raises(InputError):
        ordinal_probabilities(torch.tensor([[0.5, 1.5]]))
    with pytest.raises(InputError):
        ordinal_targets(torch.tensor([0, 4]), 4)
    with pytest.raises(InputError):
        delaunay_edges(np.zeros((2, 2)))


# --- Sec. 3.3 and eq. 2 ------------------------------------------------------------------


def test_ordinal_targets_by_hand():
    y = torch.tensor([0, 1, 2, 3])
    want = torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]])
    assert torch.equal(ordinal_targets(y, 4), want)


def test_eq2_monotone_by_hand_and_sums_to_one():
    p = torch.tensor([[0.9, 0.6, 0.2]])  # p(y > 0), p(y > 1), p(y > 2)
    want = torch.tensor([[0.1, 0.3, 0.4, 0.2]])
    torch.testing.assert_close(ordinal_probabilities(p, "raw"), want)
    torch.testing.assert_close(ordinal_probabilities(p, "clip"), want)  # nothing to fix


def test_eq2_non_monotone_heads():
    p = torch.tensor([[0.3, 0.7, 0.1]])  # p(y > 1) > p(y > 0): inconsistent heads
    raw = ordinal_probabilities(p, "raw")
    torch.testing.assert_close(raw, torch.tensor([[0.7, -0.4, 0.6, 0.1]]))
    assert abs(float(raw.sum()) - 1) < 1e-6  # telescopes to 1 but is no distribution
    fixed = ordinal_probabilities(p, "clip")
    torch.testing.assert_close(fixed, torch.tensor([[0.7, 0.0, 0.6, 0.1]]) / 1.4)
    assert float(fixed.min()) >= 0


def test_ordinal_transfer_freezes_the_body():
    m = EngagementSTGCN(widths=(4, 4, 4))
    o = OrdinalSTGCN.from_trained(m)
    assert not any(p.requires_grad for p in o.backbone.parameters())
    assert all(p.requires_grad for p in o.heads.parameters()) and len(o.heads) == 3
    x = torch.randn(3, 3, 8, NUM_LANDMARKS)
    m.eval(), o.eval()
    torch.testing.assert_close(o.backbone.features(x), m.features(x))


# --- Grad-CAM ----------------------------------------------------------------------------


def test_gradcam_over_frames_and_nodes():
    torch.manual_seed(0)
    for model in (EngagementSTGCN(widths=(4, 4, 4)), OrdinalSTGCN(widths=(4, 4, 4))):
        x = torch.randn(2, 3, 10, NUM_LANDMARKS)
        cam = node_frame_gradcam(model, x, 0)
        assert cam.shape == (2, 10, NUM_LANDMARKS)
        assert float(cam.min()) >= 0 and float(cam.amax((1, 2)).max()) <= 1 + 1e-6
    with pytest.raises(InputError):
        node_frame_gradcam(LSTMBaseline(), x)  # type: ignore[arg-type]


# --- data ----------------------------------------------------------------------------------


def test_generator_cues_grow_with_disengagement():
    rng = np.random.default_rng(0)
    frac = {}
    for level in (0, 3):
        frac[level] = np.mean([render_sequence(level, 4, 40, rng, jitter=0.0)[1].mean()
                               for _ in range(20)])  # fmt: skip
    assert frac[3] == 0 and frac[0] > 0.6  # engaged: no cue; not engaged: ~75 % of frames
    d = make_engagement_dataset(8, 8, frames=6, seed=1)
    assert d.x_train.shape == (8, 3, 6, NUM_LANDMARKS) and torch.isfinite(d.x_train).all()
    assert torch.equal(torch.bincount(d.y_test), torch.full((4,), 2))
    assert torch.equal(make_engagement_dataset(8, 8, frames=6, seed=1).x_test, d.x_test)


def test_template_is_mirror_symmetric():
    base = face_template()
    assert base.shape == (NUM_LANDMARKS, 3)
    # Dlib's mirror pairs: jaw 0 <-> 16, eye corners 36 <-> 45, iris centres 68 <-> 73
    for i, j in ((0, 16), (36, 45), (39, 42), (68, 73), (17, 26)):
        np.testing.assert_allclose(base[i] * [-1, 1, 1], base[j], atol=1e-9)


def test_loader_reads_npy_and_rejects_bad_folders(tmp_path):
    for split in ("train", "test"):
        for level in (0, 1):
            (tmp_path / split / str(level)).mkdir(parents=True)
            a = np.random.default_rng(level).normal(size=(13, 78, 3)).astype(np.float32)
            a[0, 0, 0] = np.nan
            np.save(tmp_path / split / str(level) / "a.npy", a)
    d = load_landmark_sequences(tmp_path, 5, 2)
    assert d.x_train.shape == (2, 3, 5, 78) and d.y_train.tolist() == [0, 1]
    assert torch.isfinite(d.x_train).all()
    with pytest.raises(DataError):
        load_landmark_sequences(tmp_path / "missing", 5, 2)
    np.save(tmp_path / "train" / "1" / "b.npy", np.zeros((4, 77, 3)))
    with pytest.raises(DataError, match="78"):
        load_landmark_sequences(tmp_path, 5, 2)
    with pytest.raises(DataError):
        load_landmark_sequences(tmp_path, 5, 1)  # level 1 out of range for K = 1 ... 2


def test_mae():
    assert mean_absolute_class_error(torch.tensor([0, 3, 1]), torch.tensor([1, 1, 1])) == 1.0


# --- the recipe ------------------------------------------------------------------------------


def test_recipe_at_smoke_scale(tmp_path):
    cfg = apply_overrides(smoke_config(), list(METHOD.test_overrides))
    m = recipe(cfg, tmp_path)
    assert set(m["variants"]) == {"lstm", "tcn", "stgcn_xy", "stgcn", "ordinal_stgcn"}
    for v in m["variants"].values():
        assert {"accuracy", "mae", "params"} <= set(v)
    assert json.loads((tmp_path / "metrics.json").read_text())["ours"] == "ordinal_stgcn"
    assert (tmp_path / "gradcam.png").is_file() and (tmp_path / "confusion.png").is_file()
    model = get_method(METHOD.name).load_model(tmp_path / "model")
    assert isinstance(model, OrdinalSTGCN)
    assert verify_saved_model(tmp_path / "model") < 1e-5
