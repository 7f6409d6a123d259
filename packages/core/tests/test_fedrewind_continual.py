"""FedRewind's Joint reference (Tables 1-3) and its continual-learning part (Sec. 4.2):
class-incremental tasks per node, the PASS objective, FedAvg + PASS with and without
rewind. Expected values are computed by hand from the definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from patrec.core.data import ImageClassificationData
from patrec.core.errors import ConfigError, InputError
from patrec.core.fedrewind import (
    FederationConfig,
    LocalTraining,
    PassMemory,
    PassTraining,
    Phase,
    RotationNet,
    accuracy_matrix,
    class_incremental_tasks,
    continual_split,
    initial_state,
    phase_seed,
    run_continual_federation,
    train_joint,
)
from patrec.core.nn import SmallCNN
from patrec.core.train import TrainConfig, state_digest


def _data(n_train: int = 240, n_test: int = 60, classes: int = 6) -> ImageClassificationData:
    g = torch.Generator().manual_seed(0)
    ytr = torch.arange(n_train) % classes
    yte = torch.arange(n_test) % classes
    x = torch.rand(n_train, 1, 8, 8, generator=g) * 0.3 + ytr.view(-1, 1, 1, 1) / classes
    xt = torch.rand(n_test, 1, 8, 8, generator=g) * 0.3 + yte.view(-1, 1, 1, 1) / classes
    return ImageClassificationData(x, ytr, xt, yte, classes, "toy")


def _rot_fn(classes: int = 6):
    return lambda: RotationNet(SmallCNN(1, 4 * classes, (4, 8)))


def _train(epochs: int, batch: int = 16, seed: int = 3) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=batch, seed=seed, cpu=True, progress=False)


# ---------------------------------------------------------------------------------------
# Joint
# ---------------------------------------------------------------------------------------


def test_joint_trains_one_model_on_the_union_for_rounds_times_e_epochs():
    data = _data()
    sets = [TensorDataset(data.x_train[i::3], data.y_train[i::3]) for i in range(3)]
    tests = [TensorDataset(data.x_test[i::3], data.y_test[i::3]) for i in range(3)]
    local = LocalTraining(train=_train(2), optimizer_fn=lambda p: torch.optim.SGD(p, lr=0.05))

    def model_fn():
        return SmallCNN(1, 6, (4, 8))

    state, history = train_joint(model_fn, sets, local, 2, test_sets=tests)
    # the same as training by hand on the concatenation, block by block, from M_0
    union = TensorDataset(torch.cat([s.tensors[0] for s in sets]),
                          torch.cat([s.tensors[1] for s in sets]))  # fmt: skip
    ref = initial_state(model_fn, 3)
    for t in (1, 2):
        ref = local.fit(model_fn, ref, union, 2, seed=phase_seed(3, t, -1, Phase.LOCAL))
    a, b = model_fn(), model_fn()
    a.load_state_dict(state)
    b.load_state_dict(ref)
    assert state_digest(a) == state_digest(b)
    assert [h["round"] for h in history] == [1.0, 2.0]
    per_node = [accuracy_matrix([a], [ts])[0, 0] for ts in tests]
    assert history[-1]["FA"] == pytest.approx(np.mean(per_node))  # eq. 5, one model everywhere
    assert history[-1]["PFA"] == history[-1]["FA"]
    with pytest.raises(InputError, match="rounds must be >= 1"):
        train_joint(model_fn, sets, local, 0)


# ---------------------------------------------------------------------------------------
# Sec. 4.2: tasks, split
# ---------------------------------------------------------------------------------------


def test_class_incremental_tasks_cut_the_classes_in_order():
    assert class_incremental_tasks(100, 10)[3] == tuple(range(30, 40))  # CIFAR-100, Sec. 4.2
    assert class_incremental_tasks(10, 5) == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert [len(t) for t in class_incremental_tasks(10, 3)] == [4, 3, 3]
    with pytest.raises(InputError, match="num_tasks"):
        class_incremental_tasks(4, 5)


def test_continual_split_deals_every_sample_once_in_per_node_task_orders():
    data = _data()
    sp = continual_split(data, 3, 3, seed=1)
    assert sp.num_nodes == 3 and sp.num_tasks == 3 and sp.tasks == [(0, 1), (2, 3), (4, 5)]
    for row in sp.orders:
        assert sorted(row.tolist()) == [0, 1, 2]
    assert len({tuple(r) for r in sp.orders.tolist()}) > 1  # the nodes are not in step
    seen = []
    for j in range(3):
        for k in range(3):
            ds = sp.train[j][k]
            classes = set(ds.tensors[1].tolist())
            assert classes == set(sp.tasks[int(sp.orders[j, k])])  # only that task's classes
            seen.append(ds.tensors[0])
    x = torch.cat(seen)
    assert len(x) == len(data.x_train)  # every training sample exactly once
    assert torch.equal(x.flatten(1).sum(1).sort().values,
                       data.x_train.flatten(1).sum(1).sort().values)  # fmt: skip
    # every class is dealt evenly: 40 samples per class, 3 nodes -> 13 or 14 each
    counts = [int((sp.train[j][k].tensors[1] == 0).sum()) for j in range(3) for k in range(3)]
    assert sorted(c for c in counts if c) == [13, 13, 14]
    assert len(sp.test) == len(data.x_test)
    again = continual_split(data, 3, 3, seed=1)
    assert np.array_equal(again.orders, sp.orders)
    with pytest.raises(InputError, match="no training sample"):
        continual_split(_data(n_train=12), 6, 3)


# ---------------------------------------------------------------------------------------
# PASS: rotation head, loss, memory
# ---------------------------------------------------------------------------------------


def test_rotation_net_predicts_the_unrotated_classes():
    torch.manual_seed(0)
    net = RotationNet(SmallCNN(1, 12, (4, 8))).eval()
    x = torch.rand(5, 1, 8, 8)
    feats = net.features(x)
    assert feats.shape == (5, 8) and net.num_classes == 3
    full = net.classify(feats)
    assert full.shape == (5, 12)
    assert torch.equal(net(x), full[:, [0, 4, 8]])
    with pytest.raises(InputError, match="4 K outputs"):
        RotationNet(SmallCNN(1, 6, (4,)))
    with pytest.raises(InputError, match="StagedBackbone"):
        RotationNet(torch.nn.Linear(3, 12))


def test_pass_loss_terms_match_their_definitions():
    torch.manual_seed(0)
    net = RotationNet(SmallCNN(1, 12, (4, 8))).eval()  # eval: BatchNorm is deterministic
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 1])
    local = PassTraining(temperature=0.5)
    # first task: only the self-supervised label augmentation, CE over 4 K at temperature tau
    xr = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(4)])
    yr = torch.cat([y * 4 + k for k in range(4)])
    want = F.cross_entropy(net.classify(net.features(xr)) / 0.5, yr)
    assert torch.allclose(local.loss(net, x, y), want)
    # prototype augmentation with r = 0: the classifier on the stored prototype itself
    proto = torch.randn(8)
    local.memory = PassMemory(prototypes={2: proto}, radius=0.0)
    extra = F.cross_entropy(net.classify(proto.expand(4, 8)) / 0.5, torch.full((4,), 8))
    got = local.loss(net, x, y)
    assert torch.allclose(got, want + 10.0 * extra)
    # distillation: zero against itself, the L2 distance of the features otherwise
    local = PassTraining(temperature=0.5, proto_weight=0.0)
    local._old = net
    assert torch.allclose(local.loss(net, x, y), want)
    other = RotationNet(SmallCNN(1, 12, (4, 8))).eval()
    local._old = other
    dist = torch.dist(net.features(xr), other.features(xr), 2)
    assert float(dist.detach()) > 0
    assert torch.allclose(local.loss(net, x, y), want + 10.0 * dist)
    with pytest.raises(InputError, match="RotationNet"):
        PassTraining().loss(SmallCNN(1, 12, (4,)), x, y)
    with pytest.raises(InputError, match="temperature"):
        PassTraining(temperature=0.0)


def test_end_task_stores_class_means_radius_once_and_the_teacher():
    torch.manual_seed(0)
    model_fn = _rot_fn(3)
    state = initial_state(model_fn, 0)
    x, y = torch.rand(12, 1, 8, 8), torch.tensor([0, 1] * 6)
    local = PassTraining()
    local.end_task(model_fn, state, TensorDataset(x, y))
    net = model_fn()
    net.load_state_dict(state)
    f = net.eval().features(x).detach().double()
    for c in (0, 1):
        assert torch.allclose(local.memory.prototypes[c], f[y == c].mean(0).float(), atol=1e-6)
    # PASS: r = sqrt(mean_c tr(Sigma_c) / D)
    spread = [float(torch.cov(f[y == c].T).trace()) / f.shape[1] for c in (0, 1)]
    assert local.memory.radius == pytest.approx(math.sqrt(np.mean(spread)))
    assert local.memory.old_state is not None
    assert all(torch.equal(local.memory.old_state[k], state[k]) for k in state)
    r = local.memory.radius
    local.end_task(model_fn, state, TensorDataset(x * 3, torch.full((12,), 2)))
    assert local.memory.radius == r and set(local.memory.prototypes) == {0, 1, 2}


# ---------------------------------------------------------------------------------------
# FedAvg + PASS with rewind on asynchronous tasks
# ---------------------------------------------------------------------------------------


def test_continual_federation_rewinds_on_the_previous_nodes_current_task():
    data = _data()
    sp = continual_split(data, 3, 2, seed=0)
    local = PassTraining(train=_train(3, batch=8),
                         optimizer_fn=lambda p: torch.optim.Adam(p, lr=1e-3))  # fmt: skip
    cfg = FederationConfig(rewind_fraction=1 / 3, topology="cyclic", aggregation="fedavg")
    res = run_continual_federation(_rot_fn(), sp, cfg, local, rounds_per_task=2)
    assert [h["round"] for h in res.history] == [1.0, 2.0, 3.0, 4.0]
    assert [h["task"] for h in res.history] == [1.0, 1.0, 2.0, 2.0]
    assert all(0.0 <= h["accuracy"] <= 1.0 for h in res.history)
    assert res.server_state is not None
    net = _rot_fn()()
    net.load_state_dict(res.server_state)
    want = accuracy_matrix([net], [sp.test])[0, 0]
    assert res.history[-1]["accuracy"] == pytest.approx(want)  # the final M_s on all classes
    for t in (1, 2, 3, 4):
        for j in range(3):
            phases = [(r.phase, r.data, r.epochs) for r in res.log if r.round == t and r.model == j]
            # eq. 4 with the cyclic predecessor as "previous node"
            assert phases == [("local", j, 1), ("rewind", (j - 1) % 3, 1), ("final", j, 1)]
    plain = run_continual_federation(
        _rot_fn(), sp, FederationConfig(rewind_fraction=0.0, aggregation="fedavg"), local, 1
    )
    assert {r.phase for r in plain.log} == {"local"} and len(plain.history) == 2
    with pytest.raises(ConfigError, match="fedavg"):
        run_continual_federation(_rot_fn(), sp, FederationConfig(rewind_fraction=0.0), local, 1)
