"""FedRewind's federation end to end: lambda = 0 is plain exchange bit for bit, the rewind
routing of Alg. 1 / Fig. 1, FedAvg (eq. 3), resume, separate nodes over a real transport,
any classifier on any map-style dataset, bad input, and the recipe."""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from patrec.core.config import validate_config
from patrec.core.errors import ConfigError, InputError
from patrec.core.fedrewind import (
    ALL_VARIANTS,
    METHOD,
    CyclicTopology,
    Federation,
    FederationConfig,
    FedNode,
    FedServer,
    FileExchange,
    InProcessExchange,
    LocalTraining,
    Phase,
    accuracy_matrix,
    fedavg,
    initial_state,
    load_data,
    phase_seed,
    recipe,
    rewind_schedule,
    rewind_targets,
    run_node,
    run_server,
    split_data,
)
from patrec.core.hub import verify_saved_model
from patrec.core.nn import SmallCNN
from patrec.core.train import TrainConfig, state_digest

N = 3


def _sets(n_nodes: int = N, per_node: int = 24, seed: int = 0) -> list[TensorDataset]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for j in range(n_nodes):
        y = torch.randint(0, 3, (per_node + 4 * j,), generator=g)
        x = torch.rand(len(y), 1, 8, 8, generator=g) * 0.3 + y.view(-1, 1, 1, 1) * 0.3
        out.append(TensorDataset(x, y))
    return out


def _model_fn() -> nn.Module:
    return SmallCNN(1, 3, (4, 8))  # with BatchNorm: running statistics must travel too


def _local(epochs: int, seed: int = 7) -> LocalTraining:
    return LocalTraining(
        train=TrainConfig(epochs=epochs, batch_size=8, seed=seed, cpu=True, progress=False),
        optimizer_fn=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    )


def _digests(states) -> list[str]:
    out = []
    for s in states:
        m = _model_fn()
        m.load_state_dict(s)
        out.append(state_digest(m))
    return out


def _plain_exchange(sets, local: LocalTraining, rounds: int) -> list[dict[str, torch.Tensor]]:
    """Eq. 1 with cyclic transfer, written directly: receive, train E epochs, pass on."""
    seed = local.train.seed
    topo = CyclicTopology(len(sets))
    states = [initial_state(_model_fn, seed)] * len(sets)
    for t in range(1, rounds + 1):
        dst = topo.destinations(t)
        received = [None] * len(sets)
        for j, s in enumerate(states):
            received[int(dst[j])] = s
        states = [
            local.fit(_model_fn, received[j], sets[j], local.epochs,
                      seed=phase_seed(seed, t, j, Phase.LOCAL))
            for j in range(len(sets))
        ]  # fmt: skip
    return states


def test_lambda_zero_reproduces_plain_exchange_bit_for_bit():
    sets, local = _sets(), _local(epochs=2)
    cfg = FederationConfig(rounds=3, rewind_fraction=0.0, topology="cyclic")
    res = Federation(_model_fn, sets, cfg, local=local).run(progress=False)
    plain = _plain_exchange(sets, local, rounds=3)
    assert _digests(res.states) == _digests(plain)
    assert all(r.phase == "local" for r in res.log)
    # and rewinding changes the weights (the comparison above can fail)
    rew = Federation(
        _model_fn, sets, FederationConfig(rounds=3, rewind_fraction=0.5, topology="cyclic"),
        local=local,
    ).run(progress=False)  # fmt: skip
    assert not set(_digests(rew.states)) & set(_digests(plain))


class _Recording(InProcessExchange):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[int, int, str]] = []

    def send(self, src, dst, tag, state):
        self.sent.append((int(src), int(dst), tag))
        super().send(src, dst, tag, state)


def test_rewind_goes_back_to_the_source_node_with_the_eq2_budget():
    sets, local = _sets(4), _local(epochs=4)
    cfg = FederationConfig(rounds=3, rewind_fraction=0.25, topology="random")
    ex = _Recording()
    fed = Federation(_model_fn, sets, cfg, local=local, exchange=ex)
    res = fed.run(progress=False)
    sched = rewind_schedule(4, 0.25)
    assert tuple(sched) == (2, 1, 1)
    topo = fed.nodes[0].topology
    for t in (1, 2, 3):
        src = topo.sources(t)
        for j in range(4):
            phases = [(r.phase, r.data, r.epochs) for r in res.log if r.round == t and r.model == j]
            # eq. 2: (1 - 2 lam) E on D_j, lam E on D_i (where it came from), lam E on D_j
            assert phases == [("local", j, 2), ("rewind", int(src[j]), 1), ("final", j, 1)]
            sent = {(s, d) for s, d, tag in ex.sent if tag == f"r{t:05d}.rewind"}
            assert (j, int(src[j])) in sent
            assert (int(src[j]), j) in {(s, d) for s, d, tg in ex.sent if tg == f"r{t:05d}.model"}
    assert ex.pending() == []  # every message was received
    assert res.history[-1]["messages"] == 3 * 4  # model, rewind, rewound per node


def test_standalone_nodes_train_alone_and_randrewind_follows_its_draw():
    sets, local = _sets(), _local(epochs=2)
    ex = _Recording()
    cfg = FederationConfig(rounds=2, rewind_fraction=0.0, topology="none")
    res = Federation(_model_fn, sets, cfg, local=local, exchange=ex).run(progress=False)
    assert ex.sent == []  # nothing ever leaves a standalone node
    seed = local.train.seed
    for j in range(N):
        s = initial_state(_model_fn, seed)
        for t in (1, 2):
            s = local.fit(_model_fn, s, sets[j], 2, seed=phase_seed(seed, t, j, Phase.LOCAL))
        assert _digests([s]) == _digests([res.states[j]])

    cfg = FederationConfig(rounds=2, rewind_fraction=0.5, topology="cyclic", rewind_to="random")
    fed = Federation(_model_fn, sets, cfg, local=local)
    res = fed.run(progress=False)
    for t in (1, 2):
        tgt = rewind_targets(fed.nodes[0].topology, t, "random", seed)
        got = [r.data for r in res.log if r.round == t and r.phase == "rewind"]
        assert got == tgt.tolist()  # ordered by model j: model j rewound on node tgt[j]


def test_fedavg_server_model_is_the_sample_weighted_mean_of_the_nodes():
    sets, local = _sets(), _local(epochs=2)
    cfg = FederationConfig(rounds=2, rewind_fraction=0.5, topology="cyclic", aggregation="fedavg")
    res = Federation(_model_fn, sets, cfg, local=local, test_sets=sets).run(progress=False)
    expect = fedavg(res.states, [len(s) for s in sets])  # eq. 3 over M_j^(T)
    assert res.server_state is not None
    for k, v in expect.items():
        assert torch.equal(res.server_state[k], v), k
    srv = res.server_model()
    assert srv is not None
    want = np.mean([accuracy_matrix([srv], [ts])[0, 0] for ts in sets])
    assert res.history[-1]["server_accuracy"] == pytest.approx(want)  # M_s on every test set
    # with the cyclic predecessor as "previous node", every node's data served one rewind
    assert {r.data for r in res.log if r.phase == "rewind" and r.round == 1} == {0, 1, 2}


def test_resume_continues_to_identical_weights(tmp_path):
    sets, local = _sets(), _local(epochs=2)
    cfg3 = FederationConfig(rounds=3, rewind_fraction=0.5, topology="random")
    ref = Federation(_model_fn, sets, cfg3, local=local, test_sets=sets).run(progress=False)
    cfg2 = FederationConfig(rounds=2, rewind_fraction=0.5, topology="random")
    first = Federation(_model_fn, sets, cfg2, local=local, test_sets=sets).run(
        tmp_path, progress=False
    )
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "round-00002"
    again = Federation(_model_fn, sets, cfg3, local=local, test_sets=sets).run(
        tmp_path, progress=False
    )
    assert _digests(again.states) == _digests(ref.states)
    assert [h["FA"] for h in again.history] == [h["FA"] for h in ref.history]
    assert again.history[:2] == first.history
    assert len(again.log) == len(ref.log)
    other = FederationConfig(rounds=3, rewind_fraction=0.0, topology="random")
    with pytest.raises(ConfigError, match="different federation"):
        Federation(_model_fn, sets, other, local=local).run(tmp_path, progress=False)


@pytest.mark.parametrize("aggregation", ["none", "fedavg"])
def test_separate_nodes_over_a_file_exchange_match_the_in_process_run(tmp_path, aggregation):
    """Every node (and the server) runs alone, talking only through a shared folder."""
    sets, local = _sets(), _local(epochs=3)
    cfg = FederationConfig(
        rounds=2, rewind_fraction=1 / 3, topology="random", aggregation=aggregation
    )
    ref = Federation(_model_fn, sets, cfg, local=local).run(progress=False)

    init = initial_state(_model_fn, local.train.seed)
    ex = FileExchange(tmp_path, timeout=120, poll=0.005)
    nodes = [FedNode(j, sets[j], _model_fn, cfg, local, N, init_state=init) for j in range(N)]
    errors: list[BaseException] = []

    def guard(fn, *args):
        try:
            fn(*args)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=guard, args=(run_node, n, ex)) for n in nodes]
    server = FedServer(N, init, [len(s) for s in sets]) if aggregation == "fedavg" else None
    if server is not None:
        threads.append(threading.Thread(target=guard, args=(run_server, server, ex, cfg.rounds)))
    for th in reversed(threads):  # start order must not matter
        th.start()
    for th in threads:
        th.join(timeout=300)
    assert not errors, errors
    assert _digests([n.state for n in nodes]) == _digests(ref.states)
    if server is not None:
        assert _digests([server.state]) == _digests([ref.server_state])


class _Records(Dataset):
    """A map-style dataset of (feature vector, int label) records, as a clinic might hold."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 2, (n,), generator=g)
        self.x = torch.randn(n, 5, generator=g) + 2.0 * self.y.view(-1, 1).float()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], int(self.y[i])


def test_any_classifier_and_map_style_dataset_train_without_glue():
    train = [_Records(40, s) for s in range(3)]
    test = [_Records(30, 10 + s) for s in range(3)]

    def mlp() -> nn.Module:
        return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))

    local = LocalTraining(
        train=TrainConfig(epochs=4, batch_size=10, seed=1, cpu=True, progress=False),
        optimizer_fn=lambda p: torch.optim.SGD(p, lr=0.1),
    )
    cfg = FederationConfig(rounds=3, rewind_fraction=0.25, topology="cyclic")
    res = Federation(mlp, train, cfg, local=local, test_sets=test).run(progress=False)
    assert res.accuracy is not None and res.accuracy.shape == (3, 3)
    last = res.history[-1]
    assert all(math.isfinite(last[k]) for k in ("FA", "FF", "PFA"))
    assert last["FA"] > 0.7  # two well-separated classes (chance 0.5)
    assert isinstance(res.models()[0], nn.Sequential)


def test_bad_input_gives_clear_errors():
    sets, local = _sets(), _local(epochs=2)
    ok = FederationConfig(rounds=1, rewind_fraction=0.5)
    with pytest.raises(InputError, match="nodes .* must be >= 2"):
        Federation(_model_fn, sets[:1], ok, local=local)
    with pytest.raises(InputError, match="one test set per node"):
        Federation(_model_fn, sets, ok, local=local, test_sets=sets[:2])
    with pytest.raises(InputError, match="list of per-node datasets"):
        Federation(_model_fn, sets[0], ok, local=local)
    with pytest.raises(InputError, match="nn.Module"):
        Federation(lambda: "not a model", sets, ok, local=local)  # type: ignore[arg-type,return-value]
    with pytest.raises(InputError, match="empty"):
        Federation(_model_fn, [sets[0], TensorDataset(torch.zeros(0, 1, 8, 8))], ok, local=local)
    with pytest.raises(ConfigError, match="rounds to 0"):
        Federation(_model_fn, sets, FederationConfig(rewind_fraction=0.1), local=local)
    with pytest.raises(ConfigError, match=r"rewind_fraction must be <= 0.5, got 0.7"):
        Federation(_model_fn, sets, FederationConfig(rewind_fraction=0.7), local=local)
    with pytest.raises(ConfigError, match="no source node"):
        Federation(
            _model_fn, sets, FederationConfig(topology="none", rewind_fraction=0.5), local=local
        )
    with pytest.raises(ConfigError, match="fedavg needs a topology"):
        Federation(
            _model_fn, sets, FederationConfig(topology="none", aggregation="fedavg",
                                              rewind_fraction=0.0), local=local,
        )  # fmt: skip
    with pytest.raises(ConfigError, match="topology"):
        Federation(_model_fn, sets, FederationConfig(topology="star"), local=local)
    with pytest.raises(ConfigError, match="rounds"):
        Federation(_model_fn, sets, FederationConfig(rounds=0, rewind_fraction=0.5), local=local)
    triples = TensorDataset(torch.zeros(16, 1, 8, 8), torch.zeros(16).long(), torch.zeros(16))
    fed = Federation(
        _model_fn, [triples, triples], FederationConfig(rounds=1, rewind_fraction=0.0),
        local=local,
    )  # fmt: skip
    with pytest.raises(InputError, match=r"\(input, label\) pairs"):
        fed.run(progress=False)
    with pytest.raises(InputError, match="does not fit"):
        local.fit(_model_fn, {"w": torch.zeros(1)}, sets[0], 1, seed=0)


# ---------------------------------------------------------------------------------------
# the recipe
# ---------------------------------------------------------------------------------------

TINY = [
    "data.num_nodes=3",
    "fed.rounds=2",
    "train.epochs=3",
    "fed.rewind_fraction=0.34",
    "train.batch_size=32",
    "model.widths=8,16",
    "train.progress=false",
]


def _cfg(*extra: str):
    return METHOD.make_config("smoke", TINY + list(extra))


def test_presets_follow_the_paper():
    m = METHOD
    paper = m.make_config("paper")
    assert paper.data.name == "cifar10" and paper.data.num_nodes == 10
    assert paper.data.alpha == 0.25 and paper.fed.rounds == 50
    assert paper.train.epochs == 10 and paper.fed.rewind_fraction == 0.1
    assert paper.optim.lr == 0.001 and paper.model.backbone == "resnet18"
    assert tuple(rewind_schedule(paper.train.epochs, paper.fed.rewind_fraction)) == (8, 1, 1)
    assert paper.continual.dataset == "cifar100" and paper.continual.num_tasks == 10
    assert paper.continual.epochs == 3  # Sec. 4.2: E = 3 for the continual runs
    assert set(paper.variants) == set(ALL_VARIANTS)
    smoke = m.make_config("smoke")
    assert smoke.data.name == "digits" and len(smoke.seeds) >= 3
    assert set(smoke.variants) == set(ALL_VARIANTS)  # every table's rows, joint included


def test_recipe_with_the_test_overrides_leaves_the_server_model(tmp_path):
    """The contract path: ``<out>/model/`` reloads, reproduces its outputs, and is M_s^(T)."""
    cfg = METHOD.make_config(
        "smoke", [*METHOD.test_overrides, "variants=fedavg_rewind,joint", "train.progress=false"]
    )
    saved = recipe(cfg, tmp_path)
    assert saved["ours"] == "fedavg_rewind" and set(saved["compare"]) == {"joint"}
    assert verify_saved_model(tmp_path / "model", SmallCNN) < 1e-5
    model = METHOD.load_model(tmp_path / "model")
    assert isinstance(model, SmallCNN) and model.stage_channels == (4, 8)
    split = split_data(cfg, load_data(cfg), 0)
    got = np.mean([accuracy_matrix([model], [ts])[0, 0] for ts in split.test])
    want = saved["variants"]["fedavg_rewind"]["server_accuracy"]["values"][0]
    assert got == pytest.approx(want, abs=1e-6)  # the saved model is the server's M_s^(T)


@pytest.mark.slow
def test_recipe_writes_metrics_plots_and_the_server_model(tmp_path):
    cfg = _cfg(
        "seeds=0,1",
        "variants=cwt,cwt_rewind,fedavg_rewind,joint,fedavg_pass,fedavg_pass_rewind",
        "continual.num_tasks=2",
        "continual.rounds_per_task=1",
    )
    metrics = recipe(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "cwt_rewind" and saved["primary"] == "FA"
    # the continual runs have their own metric (Table 5); they are not FA baselines
    assert set(saved["compare"]) == {"cwt", "fedavg_rewind", "joint"}
    for v in ("cwt", "cwt_rewind", "fedavg_rewind"):
        for k in ("FA", "FF", "PFA"):
            s = saved["variants"][v][k]
            assert s["n"] == 2 and 0.0 <= s["min"] <= s["max"] <= 1.0
        # chance is 0.1; two short rounds on skewed nodes already do better
        assert saved["variants"][v]["PFA"]["mean"] > 0.3
        assert saved["variants"][v]["FA"]["mean"] > 0.15
    joint = saved["variants"]["joint"]
    assert joint["FF"] is None and joint["PFA"] == joint["FA"]  # Tables 2-3: FF N/A, PFA = FA
    assert joint["FA"]["mean"] > saved["variants"]["cwt"]["FA"]["mean"]  # the upper bound
    assert saved["variants"]["cwt_rewind"]["schedule"] == "1/1/1"
    assert saved["variants"]["cwt"]["schedule"] == "3/0/0"
    assert saved["variants"]["fedavg_pass_rewind"]["schedule"] == "1/1/1"
    for v in ("fedavg_pass", "fedavg_pass_rewind"):
        assert set(saved["variants"][v]) == {"accuracy", "schedule"}
        assert 0.0 <= saved["variants"][v]["accuracy"]["mean"] <= 1.0
    gain = saved["rewind_gain"]
    assert set(gain) == {"cwt_rewind", "fedavg_pass_rewind"}  # fedavg is not run: no pair
    assert gain["cwt_rewind"]["vs"] == "cwt" and gain["fedavg_pass_rewind"]["vs"] == "fedavg_pass"
    fa = saved["variants"]
    want = [a - b for a, b in zip(fa["cwt_rewind"]["FA"]["values"], fa["cwt"]["FA"]["values"],
                                  strict=True)]  # fmt: skip
    assert gain["cwt_rewind"]["FA"]["values"] == pytest.approx(want)
    for name in ("accuracy_matrix.png", "FA.png", "FF.png", "PFA.png", "accuracy.png",
                 "FA_curves.png", "accuracy_curves.png", "partition.png"):  # fmt: skip
        assert name in saved["plots"]
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    run = json.loads((tmp_path / "runs/cwt_rewind/seed1/result.json").read_text())
    assert np.asarray(run["accuracy_matrix"]).shape == (3, 3)
    assert len(run["history"]) == 2
    # <out>/model/ is the FedAvg + Rewind server model M_s^(T) of the first seed
    assert verify_saved_model(tmp_path / "model", SmallCNN) < 1e-5
    model = METHOD.load_model(tmp_path / "model")
    assert isinstance(model, SmallCNN)
    split = split_data(cfg, load_data(cfg), 0)
    got = np.mean([accuracy_matrix([model], [ts])[0, 0] for ts in split.test])
    assert got == pytest.approx(fa["fedavg_rewind"]["server_accuracy"]["values"][0], abs=1e-6)
    # a finished run is read back, not retrained
    stamp = (tmp_path / "runs/cwt/seed0/result.json").stat().st_mtime_ns
    again = recipe(cfg, tmp_path)
    assert (tmp_path / "runs/cwt/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"] == metrics["variants"]


def test_recipe_rejects_bad_config():
    with pytest.raises(ConfigError, match="variants"):
        recipe(_cfg("variants=cwt,fedprox"), "unused")
    with pytest.raises(ConfigError, match=r"fed.rewind_fraction must be <= 0.5"):
        recipe(_cfg("fed.rewind_fraction=0.6"), "unused")
    with pytest.raises(ConfigError, match="num_nodes"):
        recipe(_cfg("data.num_nodes=1"), "unused")
    with pytest.raises(ConfigError, match="alpha"):
        recipe(_cfg("data.alpha=0"), "unused")
    with pytest.raises(ConfigError, match="rounds to 0"):  # validate(): eq. 2 must fit E
        recipe(_cfg("train.epochs=4", "fed.rewind_fraction=0.1"), "unused")
    with pytest.raises(ConfigError, match="rounds to 0"):  # the same for the continual E
        recipe(_cfg("variants=fedavg_pass_rewind", "continual.rewind_fraction=0.1"), "unused")
    # a plain variant does not need the rewind to fit E
    cfg = validate_config(_cfg("variants=cwt", "train.epochs=4", "fed.rewind_fraction=0.1"))
    assert cfg.variants == ("cwt",)
