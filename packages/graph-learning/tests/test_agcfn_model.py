"""AGCFN's parts: bones, fusion adjacency (eq. 1), partitions, eqs. 4-5, blocks, input checks."""

from __future__ import annotations

import pytest
import torch

from patrec.core.errors import InputError
from patrec.graph_learning.agcfn import (
    AGCFN,
    AGCFBlock,
    AGCFLayer,
    FusionAdjacency,
    STGCNAdjacency,
    TwoStreamGCN,
    bone_vectors,
    build_model,
    classification_metrics,
    fuse_streams,
    fusion_graph,
    normalize_adjacency,
    paper_config,
    spatial_partitions,
)
from patrec.graph_learning.gait import LOWER_LIMB_7, Skeleton, get_skeleton

J = {n: i for i, n in enumerate(LOWER_LIMB_7.joint_names)}
MIRROR_J = [0, 4, 5, 6, 1, 2, 3]  # left <-> right joints
MIRROR_B = [3, 4, 5, 0, 1, 2]  # left <-> right bones


def _x(n: int = 2, t: int = 5, v: int = 7, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, t, v, generator=torch.Generator().manual_seed(seed))


# --- bones (Sec. 3.2) -------------------------------------------------------------------


def test_bone_vectors_are_child_minus_parent():
    x = _x()
    b = bone_vectors(x)
    assert b.shape == (2, 3, 5, 6)
    expect = [
        ("pelvis", "left_hip"),
        ("left_hip", "left_knee"),
        ("left_knee", "left_ankle"),
        ("pelvis", "right_hip"),
        ("right_hip", "right_knee"),
        ("right_knee", "right_ankle"),
    ]
    for k, (src, dst) in enumerate(expect):
        assert torch.equal(b[..., k], x[..., J[dst]] - x[..., J[src]]), k
    # the root has no bone: no bone ends at the pelvis
    assert all(c != LOWER_LIMB_7.root for _, c in LOWER_LIMB_7.bones)


def test_bones_ignore_translation_and_chain_back_to_the_joints():
    x = _x()
    shift = torch.tensor([0.3, -1.0, 2.0]).view(1, 3, 1, 1)
    assert torch.allclose(bone_vectors(x + shift), bone_vectors(x), atol=1e-6)
    # the ankle is the pelvis plus the sum of the bones along its chain
    b = bone_vectors(x)
    assert torch.allclose(x[..., J["right_ankle"]], x[..., 0] + b[..., 3:6].sum(-1), atol=1e-5)


# --- graphs and the fusion adjacency (eq. 1) ---------------------------------------------


def test_joint_and_bone_adjacency_of_the_lower_limb():
    g = fusion_graph("lower_limb7")
    aj = torch.eye(7)
    for a, b in [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (1, 4), (2, 5), (3, 6)]:
        aj[a, b] = aj[b, a] = 1
    assert torch.equal(g.a_joint, aj)
    ab = torch.eye(6)  # 0 p-lhip, 1 lthigh, 2 lshank, 3 p-rhip, 4 rthigh, 5 rshank
    for a, b in [(0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (1, 4), (2, 5)]:
        ab[a, b] = ab[b, a] = 1
    assert torch.equal(g.a_bone, ab)
    assert g.depth.tolist() == [0, 1, 2, 3, 1, 2, 3, 0.5, 1.5, 2.5, 0.5, 1.5, 2.5]
    assert len(g.node_names) == 13 and g.node_names[7] == "pelvis->left_hip"


def test_graph_is_left_right_symmetric():
    g = fusion_graph()
    assert torch.equal(g.a_joint[MIRROR_J][:, MIRROR_J], g.a_joint)
    assert torch.equal(g.a_bone[MIRROR_B][:, MIRROR_B], g.a_bone)
    perm = MIRROR_J + [7 + i for i in MIRROR_B]
    p = spatial_partitions(g.depth)
    assert torch.equal(p[:, perm][:, :, perm], p)


def test_fusion_adjacency_block_structure():
    g = fusion_graph()
    adj = FusionAdjacency(g, "fusion", "learn")
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for prm in adj.parameters():
            prm.copy_(torch.randn(prm.shape, generator=gen))
    f = adj.fused()
    assert f.shape == (13, 13)
    assert torch.equal(f[:7, :7], g.a_joint * adj.mask_joint)
    assert torch.equal(f[7:, 7:], g.a_bone * adj.mask_bone)
    assert torch.equal(f[:7, 7:], adj.cross_joint)  # C^j: joint -> bone
    assert torch.equal(f[7:, :7], adj.cross_bone)  # C^b: bone -> joint
    # the masks only scale existing edges: no entry where A is 0, although M is dense
    assert bool((f[:7, :7][g.a_joint == 0] == 0).all())
    assert bool((f[7:, 7:][g.a_bone == 0] == 0).all())
    assert bool((adj.cross_joint != 0).all())


@pytest.mark.parametrize(("cross", "value"), [("zero", 0.0), ("one", 1.0)])
def test_fixed_cross_blocks_are_buffers(cross, value):
    adj = FusionAdjacency(fusion_graph(), "fusion", cross)
    names = {n for n, _ in adj.named_parameters()}
    assert names == {"mask_joint", "mask_bone"}
    f = adj.fused()
    assert bool((f[:7, 7:] == value).all()) and bool((f[7:, :7] == value).all())
    assert "cross_joint" in dict(adj.named_buffers())


def test_single_stream_adjacencies():
    g = fusion_graph()
    joint = FusionAdjacency(g, "joint")
    bone = FusionAdjacency(g, "bone")
    assert torch.equal(joint.fused(), g.a_joint) and joint().shape == (3, 7, 7)
    assert torch.equal(bone.fused(), g.a_bone) and bone().shape == (3, 6, 6)
    assert {n for n, _ in joint.named_parameters()} == {"mask_joint"}


# --- partitions and normalisation (eqs. 3, 5) --------------------------------------------


def test_partitions_sum_to_the_full_adjacency():
    g = fusion_graph()
    p = spatial_partitions(g.depth)
    assert p.shape == (3, 13, 13)
    assert torch.equal(p.sum(0), torch.ones(13, 13))  # disjoint and covering
    adj = FusionAdjacency(g, "fusion", "one")
    f = adj.fused()
    assert torch.equal((f[None] * p).sum(0), f)
    assert torch.equal(torch.diagonal(p[0]), torch.ones(13))  # the root itself


def test_partition_of_known_neighbours():
    p = spatial_partitions(fusion_graph().depth)
    lh, lk, rh, pel = J["left_hip"], J["left_knee"], J["right_hip"], J["pelvis"]
    # column = receiving (root) node; row = neighbour
    assert p[1, pel, lh] == 1  # the pelvis is closer to the centre than the hip: centripetal
    assert p[2, lk, lh] == 1  # the knee is farther: centrifugal
    assert p[0, rh, lh] == 1  # symmetric hip, same distance: root subset, as in ST-GCN
    thigh = 7 + 1  # bone left_hip -> left_knee, depth 1.5
    assert p[2, thigh, lh] == 1 and p[1, thigh, lk] == 1


def test_normalisation_matches_eq5():
    gen = torch.Generator().manual_seed(0)
    f = torch.rand(3, 6, 6, generator=gen)
    f[1, 2] = 0.0  # an empty row
    alpha = 0.01
    out = normalize_adjacency(f, alpha)
    for k in range(3):
        d = torch.diag((f[k].sum(1) + alpha) ** -0.5)
        assert torch.allclose(out[k], d @ f[k] @ d, atol=1e-6)
    assert torch.equal(out[1, 2], torch.zeros(6)) and bool(torch.isfinite(out).all())


def test_normalised_symmetric_graph_has_spectral_radius_one():
    a = fusion_graph().a_joint
    eig = torch.linalg.eigvalsh(normalize_adjacency(a.double(), 1e-9))
    assert abs(float(eig.max()) - 1.0) < 1e-6 and float(eig.min()) > -1.0 - 1e-6
    # alpha shrinks it below one
    assert float(torch.linalg.eigvalsh(normalize_adjacency(a.double(), 1.0)).max()) < 0.9


def test_negative_learned_rows_stay_finite():
    f = torch.tensor([[1.0, -3.0], [0.5, 1.0]])
    out = normalize_adjacency(f, 1e-3)
    assert bool(torch.isfinite(out).all())


# --- eq. 4, blocks, network --------------------------------------------------------------


def test_layer_is_sum_of_partition_convolutions():
    torch.manual_seed(0)
    adj = FusionAdjacency(fusion_graph(), "fusion", "learn", cross_init=0.3)
    layer = AGCFLayer(3, 4, adj)
    x = torch.randn(2, 3, 5, 13)
    a = adj()
    w = layer.conv.weight[:, :, 0, 0].view(3, 4, 3)
    bias = layer.conv.bias.view(3, 4)
    expect = torch.zeros(2, 4, 5, 13)
    for k in range(3):  # X' = sum_k W_k X F~_k
        wx = torch.einsum("oc,nctv->notv", w[k], x) + bias[k].view(1, 4, 1, 1)
        expect += wx @ a[k]
    assert torch.allclose(layer(x), expect, atol=1e-5)


def test_shapes_through_the_three_blocks():
    model = AGCFN(5, widths=(4, 6, 8), strides=(1, 2, 2))
    x = _x(3, 9)
    h = model.node_inputs(x)
    assert h.shape == (3, 3, 9, 13)
    shapes = []
    for blk in model.blocks:
        h = blk(h)
        shapes.append(tuple(h.shape))
    assert shapes == [(3, 4, 9, 13), (3, 6, 5, 13), (3, 8, 3, 13)]
    assert model(x).shape == (3, 5)
    assert AGCFN(5, widths=(4,), strides=(1,), streams="bone")(x).shape == (3, 5)


def test_residual_projection_when_channels_or_stride_change():
    adj = FusionAdjacency(fusion_graph(), "joint")
    same = AGCFBlock(4, 4, adj, stride=1)
    wider = AGCFBlock(4, 6, adj, stride=1)
    strided = AGCFBlock(4, 4, adj, stride=2)
    assert isinstance(same.residual, torch.nn.Identity)
    for blk, stride in ((wider, 1), (strided, 2)):
        assert isinstance(blk.residual, torch.nn.Sequential)
        assert blk.residual[0].stride == (stride, 1)
    # the residual path is what the block adds: silence the main path, the residual remains
    x = torch.randn(2, 4, 8, 7)
    for blk in (same, wider, strided):
        blk.eval()
        with torch.no_grad():
            blk.bn2.weight.zero_()
            blk.bn2.bias.zero_()
            assert torch.allclose(blk(x), torch.relu(blk.residual(x)), atol=1e-6)


def _block_stack(cross: str, seed: int = 0) -> AGCFN:
    torch.manual_seed(seed)
    model = AGCFN(4, widths=(4, 4), strides=(1, 2), cross=cross)
    model.eval()  # BatchNorm in training mode pools statistics over all nodes
    return model


@pytest.mark.parametrize("cross", ["zero", "learn"])
def test_zero_cross_blocks_separate_the_streams(cross):
    model = _block_stack(cross)  # "learn" starts at cross_init = 0
    nodes = torch.randn(2, 3, 6, 13, requires_grad=True)
    out = model.forward_nodes(nodes)
    (g_joint_in,) = torch.autograd.grad(out[..., 7:].sum(), nodes, retain_graph=True)
    assert torch.count_nonzero(g_joint_in[..., :7]) == 0  # bone outputs ignore joint inputs
    assert torch.count_nonzero(g_joint_in[..., 7:]) > 0
    (g_bone_in,) = torch.autograd.grad(out[..., :7].sum(), nodes)
    assert torch.count_nonzero(g_bone_in[..., 7:]) == 0  # and joint outputs ignore bones
    assert torch.count_nonzero(g_bone_in[..., :7]) > 0


def test_nonzero_cross_blocks_couple_the_streams():
    model = _block_stack("one")
    nodes = torch.randn(2, 3, 6, 13, requires_grad=True)
    (g,) = torch.autograd.grad(model.forward_nodes(nodes)[..., 7:].sum(), nodes)
    assert torch.count_nonzero(g[..., :7]) > 0


def test_zero_initialised_cross_blocks_still_learn():
    model = _block_stack("learn")
    model.train()
    logits = model(_x(4, 6))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    cj = model.blocks[0].gcn.adjacency.cross_joint
    assert cj.grad is not None and float(cj.grad.abs().max()) > 0


def test_learned_adjacency_has_one_matrix_per_block():
    model = AGCFN(3, widths=(4, 4, 4), strides=(1, 1, 1))
    adj = model.learned_adjacency()
    assert adj.shape == (3, 13, 13) and not adj.requires_grad


# --- the baselines: ST-GCN as published, the two-stream model --------------------------


def test_stgcn_graph_is_the_column_normalised_skeleton_with_edge_importance():
    g = fusion_graph()
    adj = STGCNAdjacency(g)
    a = torch.eye(7)
    for p, c in LOWER_LIMB_7.bones:  # bones only: ST-GCN has no symmetry edges
        a[p, c] = a[c, p] = 1
    assert a[1, 4] == 0 and g.a_joint[1, 4] == 1
    parts = spatial_partitions(g.depth[:7])
    expect = parts * (a @ torch.diag(1 / a.sum(0)))  # normalize_digraph: A D^-1
    assert torch.allclose(adj(), expect)
    assert torch.allclose(adj().sum(0).sum(0), torch.ones(7))  # every column sums to 1
    assert adj.importance.shape == (3, 7, 7)  # one weight per partition and edge
    with torch.no_grad():
        adj.importance.mul_(2.0)
    assert torch.allclose(adj(), 2 * expect)  # applied after the normalisation


def test_stgcn_baseline_has_the_published_configuration():
    net = build_model(paper_config(), "stgcn", 7)
    assert isinstance(net, AGCFN) and len(net.blocks) == 9
    assert [b.gcn.out_channels for b in net.blocks] == [64, 64, 64, 128, 128, 128, 256, 256, 256]
    assert [b.tcn.stride[0] for b in net.blocks] == [1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert all(b.tcn.kernel_size == (9, 1) and b.dropout.p == 0.5 for b in net.blocks)
    assert net.blocks[0].residual is None and net.blocks[1].residual is not None
    assert all(isinstance(b.gcn.adjacency, STGCNAdjacency) for b in net.blocks)
    with pytest.raises(InputError, match="streams must be joint"):
        AGCFN(3, widths=(4,), strides=(1,), graph="stgcn")


def test_two_stream_scores_add_the_softmaxes_and_streams_learn_independently():
    torch.manual_seed(0)
    net = TwoStreamGCN(4, widths=(4, 4), strides=(1, 2))
    net.eval()
    x = _x(3, 6)
    lj, lb = net.stream_logits(x)
    assert torch.allclose(net(x), lj.softmax(1) + lb.softmax(1))
    assert net.joint.streams == "joint" and net.bone.streams == "bone"
    # training on the summed losses gives every stream the gradient of its own loss
    from patrec.graph_learning.agcfn import _training_loss

    net.train()
    y = torch.tensor([0, 1, 2])
    loss, _ = _training_loss(net, x, y)
    g_both = torch.autograd.grad(loss, list(net.joint.parameters()))
    g_own = torch.autograd.grad(
        torch.nn.functional.cross_entropy(net.joint(x), y), list(net.joint.parameters())
    )
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g_both, g_own, strict=True))


def test_classification_metrics_match_scikit_learn():
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 5, (60,), generator=gen)
    scores = torch.randn(60, 5, generator=gen)
    scores[:, 3] -= 10  # class 3 is never predicted: precision 0 there
    y[y == 4] = 0  # class 4 never occurs but may be predicted
    m = classification_metrics(scores, y, 5)
    pred = scores.argmax(1).numpy()
    p, r, f, _ = precision_recall_fscore_support(y.numpy(), pred, average="macro", zero_division=0)
    assert m["macro_precision"] == pytest.approx(p) and m["macro_recall"] == pytest.approx(r)
    assert m["macro_f1"] == pytest.approx(f)
    assert m["accuracy"] == pytest.approx(accuracy_score(y.numpy(), pred))
    conf = torch.tensor(m["confusion"])
    assert conf.sum() == 60 and conf[:, 3].sum() == 0 and conf[4].sum() == 0


@pytest.mark.parametrize("variant", ["agcfn", "stgcn", "two_stream"])
def test_models_save_and_load_with_the_same_outputs(tmp_path, variant):
    from patrec.core.hub import load_model, save_model, verify_saved_model

    cfg = paper_config()
    cfg.model.widths, cfg.stgcn.widths = (4, 4, 8), (4,) * 9
    torch.manual_seed(0)
    net = build_model(cfg, variant, 7)
    x = _x(2, 8)
    save_model(net, tmp_path / "m", x)
    back = load_model(tmp_path / "m")
    assert type(back) is type(net)
    assert verify_saved_model(tmp_path / "m") < 1e-6
    assert torch.allclose(back(x), net.eval()(x), atol=1e-6)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.randn(2, 2, 5, 7), r"joints must have shape \(N, 3, T, 7\)"),
        (torch.randn(2, 3, 5, 6), r"joints must have shape \(N, 3, T, 7\)"),
        (torch.randn(3, 5, 7), "4 dimensions"),
        (torch.ones(2, 3, 5, 7, dtype=torch.int64), "float dtype"),
        (torch.full((2, 3, 5, 7), float("nan")), "finite"),
        (torch.zeros(0, 3, 5, 7), "must not be empty"),
    ],
)
def test_model_rejects_bad_joints(x, match):
    with pytest.raises(InputError, match=match):
        AGCFN(3, widths=(4,), strides=(1,))(x)


def test_bad_inputs_of_the_parts():
    with pytest.raises(InputError, match="unknown skeleton 'body25'"):
        bone_vectors(_x(), "body25")
    with pytest.raises(InputError, match="unknown skeleton"):
        AGCFN(3, skeleton="body25")
    with pytest.raises(InputError, match="finite"):
        bone_vectors(_x().fill_(float("inf")))
    with pytest.raises(InputError, match="x_bone must have T = 5"):
        fuse_streams(_x(t=5), _x(t=4, v=6))
    with pytest.raises(InputError, match="alpha must be > 0"):
        normalize_adjacency(torch.eye(3), 0.0)
    with pytest.raises(InputError, match=r"adjacency must have V = 3"):
        normalize_adjacency(torch.ones(3, 4))
    with pytest.raises(InputError, match="streams"):
        FusionAdjacency(fusion_graph(), "both")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="temporal_kernel"):
        AGCFBlock(3, 4, FusionAdjacency(fusion_graph(), "joint"), temporal_kernel=4)
    with pytest.raises(InputError, match="widths and strides"):
        AGCFN(3, widths=(4, 8), strides=(1,))


def test_skeleton_must_be_a_tree():
    with pytest.raises(InputError, match="exactly one root"):
        Skeleton("two_roots", ("a", "b", "c"), (-1, -1, 0))
    with pytest.raises(InputError, match="cycle"):
        Skeleton("loop", ("a", "b", "c"), (-1, 2, 1))
    with pytest.raises(InputError, match="symmetry"):
        Skeleton("sym", ("a", "b"), (-1, 0), ((0, 5),))
    tri = Skeleton("tri", ("root", "l", "r"), (-1, 0, 0), ((1, 2),))
    assert get_skeleton(tri) is tri and tri.depth == (0, 1, 1)
    assert AGCFN(2, widths=(4,), strides=(1,), skeleton=tri)(torch.randn(1, 3, 4, 3)).shape == (
        1,
        2,
    )
