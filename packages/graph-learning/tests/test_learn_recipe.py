"""The LEARN recipe end to end: registration, presets, metrics and plots, bad configs."""

from __future__ import annotations

import json
import math

import pytest

from patrec.core import get_method
from patrec.core.errors import ConfigError, DataError
from patrec.graph_learning.learn import recipe

TINY = [
    "data.link_graphs=florentine,karate",
    "data.cluster_graphs=karate",
    "model.hidden=32,8",
    "sampler.walks_per_vertex=5",
    "train.epochs=3",
    "baselines.num_walks=2",
    "baselines.walk_length=10",
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
    assert set(smoke.data.link_graphs) == {"karate", "les_miserables", "florentine", "davis"}
    assert len(smoke.seeds) >= 3 and set(smoke.variants) == {
        "learn", "deepwalk", "node2vec", "spectral"
    }  # fmt: skip


def test_recipe_writes_metrics_and_plots_side_by_side(tmp_path):
    metrics = recipe(_cfg("seeds=0,1"), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "learn" and saved["primary"] == "auc"
    assert set(saved["compare"]) == {"deepwalk", "node2vec", "spectral"}
    for name in (
        "link_prediction.png",
        "clustering.png",
        "karate_tsne.png",
        "learn_loss_curves.png",
    ):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    for v, vm in metrics["variants"].items():
        for key in ("lp/karate/auc", "lp/florentine/ap", "cl/karate/nmi", "cl/karate/ari"):
            s = vm[key]
            assert s["n"] == 2 and math.isfinite(s["mean"]), (v, key)
            assert -1.0 <= s["mean"] <= 1.0
        assert 0.0 <= vm["auc"]["mean"] <= 1.0
    # the same held-out edges for every variant and seed count
    assert metrics["variants"]["learn"]["lp/karate/test_edges"] == 39
    res = json.loads((tmp_path / "runs/link/karate/learn/seed0/result.json").read_text())
    assert len(res["history"]) <= 3 and res["pairs"]["positive"] > 0
    # finished runs are read back, not redone
    stamp = (tmp_path / "runs/link/karate/learn/seed0/result.json").stat().st_mtime_ns
    again = recipe(_cfg("seeds=0,1"), tmp_path)
    assert (tmp_path / "runs/link/karate/learn/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"] == metrics["variants"]


def test_bad_configs_and_missing_data(tmp_path):
    with pytest.raises(ConfigError, match="variants"):
        recipe(_cfg("variants=learn,line"), tmp_path)
    with pytest.raises(ConfigError, match="no vertex labels"):
        recipe(_cfg("data.cluster_graphs=les_miserables"), tmp_path)
    with pytest.raises(ConfigError, match="alpha"):
        recipe(_cfg("sampler.alpha_link=1.0"), tmp_path)
    paper = get_method("graph-learning/learn").make_config("paper")
    with pytest.raises(DataError, match="no path given"):
        recipe(paper, tmp_path)
