"""The ConDGAD recipe end to end: presets, variant forms, Table 1 baselines, CSV data, resume."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from patrec.core import get_method
from patrec.core.errors import ConfigError, DataError
from patrec.graph_learning.condgad import (
    BASELINES,
    LSTMVAE,
    VARIANTS,
    ConDGADNet,
    WindowAutoencoder,
    load_series,
    make_model,
    prepare_windows,
    recipe,
    run_baseline,
    train_variant,
)

TINY = [
    "data.train_length=1600",
    "data.test_length=1400",
    "data.anomalies_per_kind=1",
    "train.epochs=2",
    "train.batch_size=16",
    "model.layers=1",
    "model.hidden=16",
    "model.mlp_dim=16",
    "baselines.ae_hidden=16,4",
    "baselines.lstm_hidden=8",
]


def _cfg(*extra: str):
    return get_method("graph-learning/condgad").make_config("smoke", TINY + list(extra))


def test_registered_with_consistent_presets():
    m = get_method("graph-learning/condgad")
    assert m.paper == "000/28" and m.status == "done"
    paper, smoke = m.make_config("paper"), m.make_config("smoke")
    assert paper.graph.alpha == 5 and paper.detect.n_std == 2.0  # Table 3, Sec. 3.3
    assert paper.data.name == "csv" and paper.data.downsample == 10
    assert paper.data.drop_first == 21600  # SWaT: first 6 h of 1 s ticks
    assert smoke.data.name == "synthetic" and len(smoke.seeds) >= 3
    # the paper's form and ours both run by default, with both forms' ablations and Table 1
    for cfg in (paper, smoke):
        assert set(cfg.variants) == set(VARIANTS)
    assert {"condgad", "condgad_unit", "no_cont", "no_trans", "only_gcn"} <= set(VARIANTS)
    assert set(BASELINES) == {"pca", "knn", "ae", "lstm_vae"}


def test_the_paper_variant_is_the_printed_equations(monkeypatch):
    """condgad: raw dot products, tau = 1, no positions; condgad_unit: our three changes."""
    import patrec.graph_learning.condgad as cg

    cfg = _cfg("train.epochs=1", "data.train_length=800")
    paper, unit = make_model(cfg, "condgad", 20), make_model(cfg, "condgad_unit", 20)
    assert not paper.normalize and paper.summarizer.position is None
    assert unit.normalize and unit.summarizer.position is not None
    assert make_model(cfg, "no_trans", 20).summarizer_kind == "mlp"
    assert make_model(cfg, "only_gcn_unit", 20).normalize
    seen: list[tuple[str, float, bool]] = []
    real = cg.condgad_loss

    def spy(z1, p1, z2=None, p2=None, *, temperature=1.0):
        seen.append((variant, temperature, z2 is not None))
        return real(z1, p1, z2, p2, temperature=temperature)

    monkeypatch.setattr(cg, "condgad_loss", spy)
    prep = prepare_windows(load_series(cfg), cfg)
    for variant in ("condgad", "no_cont_unit"):  # both forms, both view modes
        tv = train_variant(cfg, variant, 0, prep)
        assert isinstance(tv.model, ConDGADNet)
    used = {v: (t, two) for v, t, two in seen}
    assert used == {"condgad": (1.0, True), "no_cont_unit": (cfg.loss.temperature, False)}


def test_pca_and_knn_scores_by_hand():
    from sklearn.decomposition import PCA

    cfg = _cfg("baselines.knn_k=3", "model.context=4")
    prep = prepare_windows(load_series(cfg), cfg)
    fit = prep.train_x.flatten(1)[: prep.n_fit].double()
    val = prep.train_x.flatten(1)[prep.n_fit :].double()
    test = prep.test_x.flatten(1).double()
    pca = run_baseline(cfg, "pca", 0, prep)
    ref = PCA(n_components=0.95, svd_solver="full").fit(fit.numpy())
    recon = ref.inverse_transform(ref.transform(val.numpy()))
    assert np.allclose(pca.val_scores.numpy(), ((val.numpy() - recon) ** 2).mean(1), rtol=1e-4)
    knn = run_baseline(cfg, "knn", 0, prep)
    d = torch.cdist(test, fit).topk(3, largest=False).values.mean(1).float()
    assert torch.allclose(knn.test_scores[4:], d[4:], rtol=1e-4)
    for tv in (pca, knn):  # the first T test windows are left out, as ConDGAD's
        assert bool(tv.test_scores[:4].isnan().all()) and bool(tv.test_scores[4:].isfinite().all())
        assert tv.model is None and tv.metrics["threshold"] == pytest.approx(
            float(tv.val_scores.double().mean() + 2 * tv.val_scores.double().std(unbiased=False))
        )
    # the planted spikes and stuck sensors lie far from every normal window
    assert knn.metrics["auroc"] > 0.6


def test_autoencoders():
    torch.manual_seed(0)
    ae = WindowAutoencoder(12, (6, 3))
    assert [m.out_features for m in ae.encoder if hasattr(m, "out_features")] == [6, 3]
    assert [m.out_features for m in ae.decoder if hasattr(m, "out_features")] == [6, 12]
    assert isinstance(ae.decoder[-1], torch.nn.Linear)  # no ReLU on the reconstruction
    vae = LSTMVAE(5, hidden=8, latent=3)
    x = torch.randn(4, 10, 5)
    vae.eval()
    recon, mu, logvar = vae(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == (4, 3)
    assert torch.equal(vae(x)[0], recon)  # eval: z = mu, deterministic
    vae.train()
    assert not torch.equal(vae(x)[0], recon)  # training: z sampled
    # the loss by hand, with the sampling noise fixed
    torch.manual_seed(1)
    got = vae.loss(x, kl_weight=0.5)
    torch.manual_seed(1)
    r, m, lv = vae(x)
    kl = 0.5 * (m.pow(2) + lv.exp() - 1 - lv).sum(-1)
    assert got.item() == pytest.approx(((r - x).pow(2).sum(-1).mean(-1) + 0.5 * kl).mean().item())


def test_recipe_writes_metrics_plots_and_the_model(tmp_path):
    from patrec.core.hub import verify_saved_model

    variants = "variants=condgad,condgad_unit,only_gcn,pca,lstm_vae"
    metrics = recipe(_cfg("seeds=0", variants), tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "condgad" and saved["primary"] == "f1"
    assert set(saved["compare"]) == {"condgad_unit", "only_gcn", "pca", "lstm_vae"}
    for name in ("scores.png", "prf.png", "f1.png", "auroc.png", "train_loss_curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name
    for v, row in metrics["variants"].items():
        for key in ("precision", "recall", "f1"):
            assert 0.0 <= row[key]["mean"] <= 1.0, (v, key)
        assert math.isfinite(row["threshold"]["mean"]) and row["threshold"]["mean"] > 0
    res = json.loads((tmp_path / "runs/condgad/seed0/result.json").read_text())
    assert res["metrics"]["threshold"] == res["threshold"]
    assert len(res["history"]) == 2 and "train/max" in res["history"][0]
    w = saved["windows"]
    assert len(res["test_scores"]) == w["test"] and 0 < w["test_anomalous"] < w["test"]
    pca = json.loads((tmp_path / "runs/pca/seed0/result.json").read_text())
    assert pca["test_scores"][:6] == [None] * 6 and None not in pca["test_scores"][6:]
    # <out>/model is condgad's network and reproduces its saved outputs
    loaded = get_method("graph-learning/condgad").load_model(tmp_path / "model")
    assert isinstance(loaded, ConDGADNet) and not loaded.normalize
    assert verify_saved_model(tmp_path / "model") < 1e-5
    assert (tmp_path / "runs/lstm_vae/seed0/model").is_dir()
    # the run is read back, not retrained
    stamp = (tmp_path / "runs/condgad/seed0/result.json").stat().st_mtime_ns
    again = recipe(_cfg("seeds=0", variants), tmp_path)
    assert (tmp_path / "runs/condgad/seed0/result.json").stat().st_mtime_ns == stamp
    assert again["variants"] == metrics["variants"]


def test_recipe_on_a_swat_layout_folder(tmp_path):
    from patrec.graph_learning.sensors import make_sensor_series

    s = make_sensor_series(6, 2, 1000, 900, anomalies_per_kind=1, seed=1, normalize=False)
    root = tmp_path / "swat"
    root.mkdir()
    for fname, x, lab in (("train.csv", s.train, None), ("test.csv", s.test, s.test_labels)):
        lines = [" Timestamp," + ",".join(s.names) + ",Normal/Attack"]
        for t in range(x.shape[0]):
            word = "Attack" if lab is not None and int(lab[t]) else "Normal"
            lines.append(f"{t}," + ",".join(f"{float(v):.4f}" for v in x[t]) + f",{word}")
        (root / fname).write_text("\n".join(lines) + "\n")
    cfg = _cfg(
        "data.name=csv",
        f"data.root={root}",
        "data.downsample=2",
        "data.window=10",
        "graph.alpha=3",
        "seeds=0",
        "variants=no_trans,knn",
    )
    out = recipe(cfg, tmp_path / "out")
    assert out["dataset"] == "csv" and out["sensors"] == 6
    assert (tmp_path / "out" / "scores.png").is_file()
    with pytest.raises(DataError, match="does not exist"):
        recipe(_cfg("data.name=csv", f"data.root={tmp_path / 'nowhere'}"), tmp_path / "x")


def test_bad_config_values(tmp_path):
    m = get_method("graph-learning/condgad")
    with pytest.raises(ConfigError, match="variants"):
        m.make_config("smoke", TINY + ["variants=condgad,gdn"])
    with pytest.raises(ConfigError, match="val_fraction"):
        m.make_config("smoke", TINY + ["data.val_fraction=1.0"])
    with pytest.raises(ConfigError, match="data.name"):
        m.make_config("smoke", TINY + ["data.name=kdd"])
    with pytest.raises(ConfigError, match="divisible"):
        m.make_config("smoke", TINY + ["model.hidden=10", "model.heads=4"])
    with pytest.raises(ConfigError, match="multiple of data.n_slices"):
        m.make_config("smoke", TINY + ["data.n_slices=3"])
    with pytest.raises(ConfigError, match="graph.alpha"):
        m.make_config("smoke", TINY + ["graph.alpha=20"])
    with pytest.raises(ConfigError, match="batch_size must be >= 2"):
        m.make_config("smoke", TINY + ["train.batch_size=1"])
    with pytest.raises(ConfigError, match="edge_drop"):
        m.make_config("smoke", TINY + ["graph.edge_drop=1.0"])
