"""Tests of FedRewind's parts (patrec.core.fedrewind): the rewind schedule (eq. 2),
topologies, the Dirichlet partitioner (Sec. 4.1), FA / FF / PFA (eqs. 5-7), FedAvg (eq. 3)
and the exchanges. Expected values are computed by hand from the paper's definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from patrec.core.data import ImageClassificationData
from patrec.core.errors import ConfigError, InputError
from patrec.core.fedrewind import (
    CyclicTopology,
    FileExchange,
    InProcessExchange,
    IsolatedTopology,
    RandomTopology,
    accuracy_matrix,
    dirichlet_partition,
    dirichlet_proportions,
    fedavg,
    federated_split,
    federation_metrics,
    label_skew,
    make_topology,
    phase_seed,
    rewind_schedule,
    rewind_targets,
    split_by_proportions,
)

# ---------------------------------------------------------------------------------------
# eq. 2: the schedule
# ---------------------------------------------------------------------------------------


def test_schedule_of_the_paper_is_8_1_1():
    s = rewind_schedule(10, 0.1)  # Sec. 4.1: "8 epochs ... one epoch ... a final epoch"
    assert (s.local, s.rewind, s.final) == (8, 1, 1) and s.total == 10


@pytest.mark.parametrize("epochs", range(1, 21))
def test_schedule_splits_exactly_e_epochs(epochs):
    for lam in (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 1 / 3, 0.4, 0.45, 0.5):
        if lam > 0 and (lam * epochs < 0.5 or epochs < 2):
            with pytest.raises(ConfigError, match="rounds to 0|E >= 2"):
                rewind_schedule(epochs, lam)
            continue
        s = rewind_schedule(epochs, lam)
        assert s.local + s.rewind + s.final == epochs
        assert s.rewind == s.final and s.local >= 0
        if lam * epochs <= epochs // 2:  # rounding of lambda E, half up, off by at most 1/2
            assert abs(s.rewind - lam * epochs) <= 0.5 + 1e-9
        if lam == 0.0:
            assert (s.local, s.rewind, s.final) == (epochs, 0, 0)


def test_schedule_rounding_examples_of_the_docs():
    assert tuple(rewind_schedule(3, 0.2)) == (1, 1, 1)  # lambda E = 0.6 -> 1
    assert tuple(rewind_schedule(5, 0.3)) == (1, 2, 2)  # 1.5 rounds half up to 2
    assert tuple(rewind_schedule(3, 0.5)) == (1, 1, 1)  # 1.5 -> 2, capped at E // 2 = 1
    assert tuple(rewind_schedule(4, 0.5)) == (0, 2, 2)
    assert tuple(rewind_schedule(4, 0.25)) == (2, 1, 1)


@pytest.mark.parametrize("lam", [-0.1, 0.51, 1.0, float("nan"), float("inf")])
def test_schedule_rejects_lambda_outside_0_half(lam):
    with pytest.raises(ConfigError, match=r"rewind_fraction \(lambda\) must be (>=|<=|finite)"):
        rewind_schedule(10, lam)


def test_schedule_rejects_bad_epochs_and_types():
    with pytest.raises(ConfigError, match="E"):
        rewind_schedule(0, 0.1)
    with pytest.raises(ConfigError, match="lambda"):
        rewind_schedule(10, "0.1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="rounds to 0"):
        rewind_schedule(4, 0.1)  # 0.4 epochs of rewind would silently vanish


# ---------------------------------------------------------------------------------------
# topologies
# ---------------------------------------------------------------------------------------


def _is_derangement(p: np.ndarray) -> bool:
    n = len(p)
    return sorted(p.tolist()) == list(range(n)) and not bool((p == np.arange(n)).any())


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_cyclic_topology_is_a_fixed_permutation_without_fixed_points(n):
    topo = CyclicTopology(n)
    d1 = topo.destinations(1)
    assert _is_derangement(d1)
    for t in (2, 7):
        assert np.array_equal(topo.destinations(t), d1)  # the same ring every round
    src = topo.sources(1)
    assert np.array_equal(d1[src], np.arange(n))  # sources invert destinations
    assert np.array_equal(src, (np.arange(n) - 1) % n)
    # one model visits every node in N rounds (a single cycle)
    j, seen = 0, set()
    for _ in range(n):
        seen.add(j)
        j = int(d1[j])
    assert seen == set(range(n))


def test_random_topology_is_seeded_and_changes_every_round():
    a, b, c = RandomTopology(6, seed=3), RandomTopology(6, seed=3), RandomTopology(6, seed=4)
    rounds = range(1, 11)
    pa = [a.destinations(t) for t in rounds]
    for p in pa:
        assert _is_derangement(p)
    # same seed: same permutations, in any order of asking
    assert all(np.array_equal(b.destinations(t), pa[t - 1]) for t in reversed(rounds))
    assert len({tuple(p) for p in pa}) > 1  # changes across rounds
    assert any(not np.array_equal(c.destinations(t), pa[t - 1]) for t in rounds)
    for p, t in zip(pa, rounds, strict=True):
        assert np.array_equal(p[a.sources(t)], np.arange(6))


def test_two_node_topologies_swap():
    for topo in (CyclicTopology(2), RandomTopology(2, seed=1)):
        assert topo.destinations(1).tolist() == [1, 0]


def test_topologies_need_two_nodes():
    for make in (CyclicTopology, RandomTopology, IsolatedTopology):
        with pytest.raises(InputError, match="num_nodes must be >= 2"):
            make(1)
    with pytest.raises(InputError, match="shift"):
        CyclicTopology(4, shift=4)
    with pytest.raises(InputError, match="round must be >= 1"):
        CyclicTopology(3).destinations(0)
    with pytest.raises(ConfigError, match="topology"):
        make_topology("ring", 3)


def test_rewind_targets():
    topo = RandomTopology(5, seed=2)
    for t in (1, 2, 3):
        assert np.array_equal(rewind_targets(topo, t, "source"), topo.sources(t))
        r = rewind_targets(topo, t, "random", seed=9)
        assert not bool((r == np.arange(5)).any()) and r.min() >= 0 and r.max() < 5
        assert np.array_equal(r, rewind_targets(topo, t, "random", seed=9))
    draws = np.stack([rewind_targets(topo, t, "random", seed=9) for t in range(1, 60)])
    assert set(draws[:, 0].tolist()) == {1, 2, 3, 4}  # every other node can be drawn
    with pytest.raises(ConfigError, match="source node"):
        rewind_targets(IsolatedTopology(3), 1, "source")
    with pytest.raises(ConfigError, match="rewind_to"):
        rewind_targets(topo, 1, "previous")


# ---------------------------------------------------------------------------------------
# Sec. 4.1: the Dirichlet partition
# ---------------------------------------------------------------------------------------


def _labels(n: int = 600, c: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, c, size=n)


@pytest.mark.parametrize("alpha", [0.05, 0.25, 1.0, 100.0])
def test_partition_covers_every_sample_exactly_once(alpha):
    y = _labels()
    for seed in (0, 1):
        parts = dirichlet_partition(y, 5, alpha, seed=seed)
        assert len(parts) == 5
        joined = np.concatenate(parts)
        assert len(joined) == len(y)
        assert np.array_equal(np.sort(joined), np.arange(len(y)))


def test_partition_skew_grows_as_concentration_falls():
    y = _labels(1000)
    alphas = [100.0, 1.0, 0.1, 0.01]
    skew = [
        np.mean([label_skew(y, dirichlet_partition(y, 5, a, seed=s)) for s in range(5)])
        for a in alphas
    ]
    assert all(a < b for a, b in zip(skew, skew[1:], strict=False)), skew
    assert skew[0] < 0.1  # nearly IID
    assert skew[-1] > 0.6  # each node holds about one class (max 1 - 1/C = 0.9)


def test_dirichlet_proportions_rows_sum_to_one_and_are_seeded():
    p = dirichlet_proportions(10, 4, 0.25, seed=5)
    assert p.shape == (10, 4) and np.allclose(p.sum(1), 1.0) and (p >= 0).all()
    assert np.array_equal(p, dirichlet_proportions(10, 4, 0.25, seed=5))
    assert not np.array_equal(p, dirichlet_proportions(10, 4, 0.25, seed=6))


def test_split_by_proportions_follows_the_shares():
    y = np.repeat([0, 1], 100)
    p = np.array([[1.0, 0.0], [0.25, 0.75]])
    a, b = split_by_proportions(y, p, seed=0)
    assert np.bincount(y[a], minlength=2).tolist() == [100, 25]
    assert np.bincount(y[b], minlength=2).tolist() == [0, 75]


def test_partition_min_size_and_errors():
    y = _labels(300)
    parts = dirichlet_partition(y, 6, 0.1, seed=0, min_size=20)
    assert min(len(q) for q in parts) >= 20
    with pytest.raises(InputError, match="cannot give"):
        dirichlet_partition(y, 6, 0.1, min_size=100)
    with pytest.raises(InputError, match="num_nodes must be >= 2"):
        dirichlet_partition(y, 1, 0.5)
    with pytest.raises(ConfigError, match="alpha"):
        dirichlet_partition(y, 3, 0.0)
    with pytest.raises(InputError, match="labels"):
        dirichlet_partition(np.array([0.5, 1.5]), 2, 1.0)
    with pytest.raises(InputError, match="row summing to 1"):
        split_by_proportions(np.array([0, 1]), np.array([[0.5, 0.6], [1.0, 0.0]]))


def test_federated_split_gives_each_node_matching_train_and_test_shares():
    g = torch.Generator().manual_seed(0)
    ytr, yte = torch.randint(0, 10, (1000,), generator=g), torch.randint(0, 10, (500,), generator=g)
    data = ImageClassificationData(
        torch.rand(1000, 1, 8, 8, generator=g), ytr, torch.rand(500, 1, 8, 8), yte, 10, "toy"
    )
    sp = federated_split(data, 4, 0.25, seed=1, min_train=32, min_test=5)
    assert sp.num_nodes == 4
    assert np.array_equal(np.sort(np.concatenate(sp.train_indices)), np.arange(1000))
    assert np.array_equal(np.sort(np.concatenate(sp.test_indices)), np.arange(500))
    assert all(len(d) >= 32 for d in sp.train) and all(len(d) >= 5 for d in sp.test)
    x, y = sp.train[0][0]
    assert x.shape == (1, 8, 8) and y.dtype == torch.int64
    glob = np.bincount(ytr.numpy(), minlength=10) / 1000
    same, other = [], []
    for tr, te in zip(sp.train, sp.test, strict=True):
        htr = np.bincount(tr.tensors[1].numpy(), minlength=10) / len(tr)
        hte = np.bincount(te.tensors[1].numpy(), minlength=10) / len(te)
        same.append(0.5 * np.abs(htr - hte).sum())
        other.append(0.5 * np.abs(htr - glob).sum())
    assert np.mean(same) < 0.5 * np.mean(other)  # D_j^test follows D_j, not the global mix
    assert sp.class_counts().sum() == 1000


# ---------------------------------------------------------------------------------------
# eqs. 5-7: FA, FF, PFA
# ---------------------------------------------------------------------------------------


def test_federation_metrics_on_a_hand_made_matrix():
    acc = [[0.9, 0.5, 0.1], [0.4, 0.8, 0.3], [0.2, 0.6, 0.7]]
    m = federation_metrics(acc)
    # eq. 5: (0.9 + 0.5 + 0.1 + 0.4 + 0.8 + 0.3 + 0.2 + 0.6 + 0.7) / 9 = 4.5 / 9
    assert m["FA"] == pytest.approx(0.5)
    # eq. 6: deviations .4 0 -.4 -.1 .3 -.2 -.3 .1 .2, squares sum to 0.6, over N^2 - 1 = 8
    assert m["FF"] == pytest.approx(math.sqrt(0.6 / 8))
    # eq. 7: the diagonal, (0.9 + 0.8 + 0.7) / 3
    assert m["PFA"] == pytest.approx(0.8)
    assert federation_metrics(torch.tensor(acc)) == pytest.approx(m)


def test_federation_metrics_limits():
    perfect = federation_metrics(np.ones((4, 4)))
    assert perfect == {"FA": 1.0, "FF": 0.0, "PFA": 1.0}
    # models that only know their own node: PFA 1, FA 1/N
    m = federation_metrics(np.eye(4))
    assert m["PFA"] == 1.0 and m["FA"] == pytest.approx(0.25)
    assert m["FF"] == pytest.approx(math.sqrt((4 * 0.75**2 + 12 * 0.25**2) / 15))


def test_federation_metrics_reject_bad_matrices():
    with pytest.raises(InputError, match=r"must have N = 2 .* got N = 3"):
        federation_metrics(np.ones((2, 3)))
    with pytest.raises(InputError, match=r"N \(nodes of the accuracy matrix\) must be >= 2"):
        federation_metrics(np.ones((1, 1)))
    with pytest.raises(InputError, match="finite"):
        federation_metrics([[1.0, float("nan")], [0.0, 1.0]])


class _Constant(nn.Module):
    """Always predicts class ``c`` (logits one-hot), whatever the input."""

    def __init__(self, c: int, k: int = 3) -> None:
        super().__init__()
        self.c, self.k = c, k
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(x.shape[0], self.k) + self.dummy
        out[:, self.c] = 1.0
        return out


def test_accuracy_matrix_rows_are_models_and_columns_test_sets():
    x = torch.zeros(4, 2)
    sets = [
        TensorDataset(x, torch.tensor([0, 0, 0, 1])),  # node 0: 3/4 class 0
        TensorDataset(x, torch.tensor([1, 1, 2, 2])),  # node 1: 1/2 class 1
    ]
    acc = accuracy_matrix([_Constant(0), _Constant(1)], sets, batch_size=3)
    assert acc.tolist() == [[0.75, 0.0], [0.25, 0.5]]
    with pytest.raises(InputError, match="one test set per model"):
        accuracy_matrix([_Constant(0)], sets)


# ---------------------------------------------------------------------------------------
# eq. 3: FedAvg
# ---------------------------------------------------------------------------------------


def test_fedavg_weights_by_sample_counts():
    s1 = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    s2 = {"w": torch.tensor([3.0, 4.0]), "n": torch.tensor(5)}
    out = fedavg([s1, s2], [1, 3])
    assert torch.allclose(out["w"], torch.tensor([2.5, 3.5]))  # (1*[1,2] + 3*[3,4]) / 4
    assert out["w"].dtype == torch.float32 and int(out["n"]) == 5
    assert torch.allclose(fedavg([s1, s2])["w"], torch.tensor([2.0, 3.0]))
    with pytest.raises(InputError, match="different keys"):
        fedavg([s1, {"v": torch.zeros(2), "n": torch.tensor(1)}])
    with pytest.raises(InputError, match="weights"):
        fedavg([s1, s2], [0, 0])
    with pytest.raises(InputError, match="at least one"):
        fedavg([])


# ---------------------------------------------------------------------------------------
# exchanges and seeds
# ---------------------------------------------------------------------------------------


def test_in_process_exchange_copies_and_checks():
    ex = InProcessExchange()
    st = {"w": torch.ones(3)}
    ex.send(0, 1, "r00001.model", st)
    st["w"].add_(1.0)  # the sender changes its model after sending
    got = ex.receive(1, 0, "r00001.model")
    assert torch.equal(got["w"], torch.ones(3)) and ex.messages == 1 and ex.bytes == 12
    with pytest.raises(InputError, match="no message"):
        ex.receive(1, 0, "r00001.model")  # received once only
    ex.send(0, 1, "t", st)
    with pytest.raises(InputError, match="twice"):
        ex.send(0, 1, "t", st)
    assert ex.pending() == [(0, 1, "t")]


def test_file_exchange_round_trip(tmp_path):
    ex = FileExchange(tmp_path, timeout=0.2, poll=0.01)
    st = {"w": torch.arange(6.0).reshape(2, 3), "n": torch.tensor(7)}
    ex.send(2, -1, "r00003.update", st)
    got = ex.receive(-1, 2, "r00003.update")
    assert torch.equal(got["w"], st["w"]) and int(got["n"]) == 7
    assert not list(tmp_path.rglob("*.safetensors"))  # consumed
    with pytest.raises(TimeoutError, match="no message"):
        ex.receive(0, 1, "r00001.model")
    with pytest.raises(InputError, match="tag"):
        ex.send(0, 1, "../x", st)


def test_phase_seeds_differ_across_round_node_and_phase():
    seeds = {phase_seed(0, t, j, p) for t in (1, 2) for j in (0, 1, 2) for p in (0, 1, 2)}
    assert len(seeds) == 18
    assert phase_seed(5, 3, 1, 2) == phase_seed(5, 3, 1, 2)
