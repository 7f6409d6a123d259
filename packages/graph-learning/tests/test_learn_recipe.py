"""The LEARN recipe end to end: registration, presets, metrics and plots, the runner's cached
runs, the saved model, bad configs."""

from __future__ import annotations

import json
import math

import pytest

from patrec.core import get_method
from patrec.core.errors import ConfigError, DataError
from patrec.core.hub import verify_saved_model
from patrec.graph_learning.learn import SiameseNet, recipe

TINY = [
    "data.link_graphs=florentine,karate",
    "data.cluster_graphs=karate",
    "model.hidden=32,8",
    "sampler.walks_per_vertex=5",
    "train.epochs=3",
    "baselines.num_walks=2",
    "baselines.walk_length=10",
    "baselines.line_samples=500",
    "baselines.sdne_epochs=20",
    "baselines.danmf_iters=10",
    "baselines.danmf_pretrain_iters=20",
    "eval.kmeans_runs=2",
]


def _cfg(*extra):
    return get_method("graph-learning/learn").make_config("smoke", TINY + list(extra))


def test_presets_follow_the_paper():
    m = get_method("graph-learning/learn")
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.model.hidden == (1000, 512, 128)
    assert (paper.sampler.walk_length, paper.sampler.walks_per_vertex) == (6, 20)
    assert (paper.sampler.alpha_link, paper.sampler.alpha_cluster) == (0.6, 0.8)
    assert paper.train.epochs == 200 and paper.optim.val_fraction == 0.1
    assert paper.eval.test_fraction == 0.5 and paper.eval.kmeans_runs == 10
    assert (paper.baselines.num_walks, paper.baselines.walk_length) == (10, 80)
    assert paper.data.cluster_graphs == ("cora", "citeseer", "wiki")
    assert len(paper.seeds) == 10  # Sec. 5.3: every experiment repeated 10 times
    b = paper.baselines  # Sec. 5.3's baseline settings
    assert (b.window, b.p, b.q, b.line_lr, b.line_negative) == (10, 1.0, 1.0, 0.025, 5)
    assert (b.line_samples, b.sdne_alpha, b.sdne_beta) == (10_000, 0.2, 10.0)
    assert set(smoke.data.link_graphs) == {"karate", "les_miserables", "florentine", "davis"}
    # LEARN, the five baselines of Tables 2-3 and the spectral stand-in
    assert len(smoke.seeds) >= 3 and set(smoke.variants) == {
        "learn", "deepwalk", "line", "sdne", "node2vec", "danmf", "spectral"
    }  # fmt: skip


# every variant runs in the contract test (integration_tests); here three keep it quick
FEW = ("seeds=0,1", "variants=learn,danmf,spectral")


def test_recipe_writes_metrics_and_plots_side_by_side(tmp_path):
    metrics = recipe(_cfg(*FEW), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "learn" and saved["primary"] == "auc"
    assert set(saved["compare"]) == {"danmf", "spectral"}
    for name in (
        "auc.png",
        "nmi.png",
        "lp_auc_by_group.png",
        "cl_ari_by_group.png",
        "karate_tsne.png",
        "learn_loss_curves.png",
    ):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    for v, vm in metrics["variants"].items():
        for group, graph in (("lp_auc", "karate"), ("lp_ap", "florentine"),
                             ("cl_nmi", "karate"), ("cl_ari", "karate")):  # fmt: skip
            s = vm[group][graph]
            assert s["n"] == 2 and math.isfinite(s["mean"]), (v, group)
            assert -1.0 <= s["mean"] <= 1.0
        assert 0.0 <= vm["auc"]["mean"] <= 1.0
        lp = [vm["lp_auc"][g]["values"] for g in ("florentine", "karate")]
        assert vm["auc"]["values"] == pytest.approx([(a + b) / 2 for a, b in zip(*lp)])
    # the same held-out edges for every variant
    assert metrics["test_edges"]["karate"] == 39
    # one runner run per (variant, seed); inside it one cached run per task and graph
    sub = tmp_path / "runs/learn/seed0/link/karate/result.json"
    res = json.loads(sub.read_text())
    assert len(res["history"]) <= 3 and res["pairs"]["positive"] > 0
    # <out>/model: LEARN's Siamese net, seed 0, first link graph; it reloads and reproduces
    assert isinstance(SiameseNet.from_pretrained(tmp_path / "model"), SiameseNet)
    assert verify_saved_model(tmp_path / "model", SiameseNet) < 1e-5
    # finished runs are read back, not redone; a lost (variant, seed) result redoes only
    # its summary, reading every finished task/graph run back
    outer = tmp_path / "runs/learn/seed0/result.json"
    stamps = {p: p.stat().st_mtime_ns for p in (sub, outer)}
    again = recipe(_cfg(*FEW), tmp_path)
    assert {p: p.stat().st_mtime_ns for p in (sub, outer)} == stamps
    assert again["variants"] == metrics["variants"]
    outer.unlink()
    third = recipe(_cfg(*FEW), tmp_path)
    assert outer.is_file() and sub.stat().st_mtime_ns == stamps[sub]
    assert third["variants"]["learn"]["lp_auc"] == metrics["variants"]["learn"]["lp_auc"]


def test_bad_configs_and_missing_data(tmp_path):
    with pytest.raises(ConfigError, match="variants"):
        recipe(_cfg("variants=learn,gcn"), tmp_path)
    with pytest.raises(ConfigError, match="no vertex labels"):
        recipe(_cfg("data.cluster_graphs=les_miserables"), tmp_path)
    with pytest.raises(ConfigError, match="alpha"):
        recipe(_cfg("sampler.alpha_link=1.0"), tmp_path)
    paper = get_method("graph-learning/learn").make_config("paper")
    with pytest.raises(DataError, match="no path given"):
        recipe(paper, tmp_path)
