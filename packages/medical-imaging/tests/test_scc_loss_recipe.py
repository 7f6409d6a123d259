"""The SCC-loss recipe end to end (shrunk smoke preset), its config checks, the TransUNet
model, the noise of Table 5 and the evaluation metrics (SE, SP, ACC, ECE, MCE)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from patrec.core.config import apply_overrides
from patrec.core.errors import ConfigError, InputError
from patrec.core.hub import verify_saved_model
from patrec.core.segmentation import UNet
from patrec.medical_imaging.scc_loss import (
    METHOD,
    TransformerBottleneck,
    TransUNet,
    add_noise,
    evaluate_domains,
    paper_config,
    recipe,
    smoke_config,
    variant_lambda,
)


def test_presets_follow_the_paper() -> None:
    cfg = paper_config()
    assert cfg.loss.lam == 0.2 and cfg.data.size == 224 and cfg.train.batch_size == 8
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.momentum) == ("sgd", 0.01, 0.9)
    assert cfg.optim.weight_decay == 1e-4 and cfg.model.heads == 8
    assert cfg.data.noise == ("gaussian", "bernoulli") and cfg.data.noise_level == 0.01
    assert {"unet_scc_lam0.1", "unet_scc_lam0.9"} <= set(cfg.variants)
    assert smoke_config().variants == ("unet", "unet_scc", "transunet", "transunet_scc")
    assert METHOD.name == "medical-imaging/scc_loss"


def test_variant_lambda() -> None:
    assert variant_lambda("unet", 0.2) == 0.0 and variant_lambda("transunet", 0.2) == 0.0
    assert variant_lambda("unet_scc", 0.2) == 0.2 and variant_lambda("transunet_scc", 0.3) == 0.3
    assert variant_lambda("unet_scc_lam0.9", 0.2) == 0.9
    with pytest.raises(ConfigError, match="variant"):
        variant_lambda("unet_scc_lam7", 0.2)


def test_recipe_end_to_end(tmp_path: Path) -> None:
    cfg = apply_overrides(smoke_config(), [*METHOD.test_overrides, "seeds=[0,1]"])
    metrics = recipe(cfg, tmp_path)
    for name in ("metrics.json", "dice.png", "hd95.png", "ece.png",
                 "dice_per_domain_by_group.png", "hd95_per_domain_by_group.png",
                 "train_loss_curves.png", "examples_unet_noisy.png",
                 "examples_transunet_scc_noisy.png"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ours"] == "unet_scc"
    assert set(saved["baselines"]) == {"unet", "transunet", "transunet_scc"}
    for v in ("unet", "unet_scc", "transunet", "transunet_scc"):
        row = saved["variants"][v]
        for key in ("dice", "iou", "hd95", "sensitivity", "specificity", "accuracy", "ece",
                    "mce", "dice_shifted"):  # fmt: skip
            m = row[key]["mean"]
            assert math.isfinite(m) and m >= 0 and row[key]["n"] == 2, (v, key)
        for key in ("dice", "iou", "sensitivity", "specificity", "accuracy", "ece", "mce"):
            assert row[key]["mean"] <= 1.0, (v, key)
        assert set(row["dice_per_domain"]) == {"source", "noisy", "gaussian", "bernoulli"}
    pairs = saved["extra"]["pairs"] if "extra" in saved else saved["pairs"]
    assert set(pairs) == {"unet", "transunet"}
    d = pairs["unet"]["dice"]
    assert d["delta"] == pytest.approx(d["scc"] - d["baseline"])
    assert d["scc"] == saved["variants"]["unet_scc"]["dice"]["mean"]
    assert metrics["compare"]["unet"]["baseline"] == saved["variants"]["unet"]["dice"]["mean"]
    # <out>/model/ is UNet (ours), first seed, and reproduces its saved outputs
    assert type(METHOD.load_model(tmp_path / "model")) is UNet
    assert verify_saved_model(tmp_path / "model", METHOD.model) < 1e-5
    # finished runs are read back, not retrained
    again = recipe(cfg, tmp_path)
    assert again["variants"] == saved["variants"]


def test_config_errors(tmp_path: Path) -> None:
    for override in ("loss.lam=-0.2", "variants=[unet,transunet_xl]", "data.name=acdc",
                     "data.size=30", "data.domains=[foggy]", "model.heads=3"):  # fmt: skip
        with pytest.raises(ConfigError):
            recipe(apply_overrides(smoke_config(), [override]), tmp_path)
    bad_shift = ["data.name=lesion", "data.domains=[fog:0.5]"]
    with pytest.raises(ConfigError, match="noise:0.5"):
        apply_overrides(smoke_config(), bad_shift)
    with pytest.raises(ConfigError, match="heads"):
        apply_overrides(smoke_config(), ["model.heads=3"])
    apply_overrides(smoke_config(), ["model.heads=3", "variants=[unet,unet_scc]"])  # no TransUNet


def test_transunet_puts_an_8_head_transformer_on_the_bottleneck() -> None:
    torch.manual_seed(0)
    net = TransUNet(3, 2, (8, 16, 32), heads=8, layers=2, image_size=32)
    assert isinstance(net, UNet)
    tb = [m for m in net.modules() if isinstance(m, TransformerBottleneck)]
    assert len(tb) == 1 and tb[0] is net.encoder[-1][1]  # the deepest encoder level only
    layers = tb[0].encoder.layers
    assert len(layers) == 2 and layers[0].self_attn.num_heads == 8
    assert tb[0].pos.shape == (1, 32, 8, 8)  # 32 / 2^2 positions per side
    x = torch.rand(2, 3, 32, 32)
    assert net(x).shape == (2, 2, 32, 32)
    # the transformer mixes positions: changing one corner changes the far corner's token
    h = torch.randn(1, 32, 8, 8)
    h2 = h.clone()
    h2[0, :, 0, 0] += 5.0 * torch.randn(32)  # not a constant: LayerNorm would remove it
    assert not torch.allclose(tb[0](h)[..., 7, 7], tb[0](h2)[..., 7, 7])
    assert net(torch.rand(1, 3, 64, 64)).shape == (1, 2, 64, 64)  # position grid resized
    with pytest.raises(InputError, match="divisible"):
        TransformerBottleneck(12, heads=8)


def test_noise_of_table_5() -> None:
    x = torch.full((4, 3, 32, 32), 0.5)
    g = add_noise(x, "gaussian", 0.01, seed=1)
    assert (g - x).var().item() == pytest.approx(0.01, rel=0.1)  # level = variance
    b = add_noise(x, "bernoulli", 0.01, seed=1)
    hit = (b != x).any(dim=1)
    assert hit.float().mean().item() == pytest.approx(0.01, abs=0.005)
    assert set(b[hit.unsqueeze(1).expand_as(b)].unique().tolist()) <= {0.0, 1.0}
    assert bool((b[~hit.unsqueeze(1).expand_as(b)] == 0.5).all())
    assert torch.equal(add_noise(x, "gaussian", 0.01, seed=1), g)  # seeded
    assert add_noise(x, "gaussian", 0.0).equal(x) and g.min() >= 0 and g.max() <= 1
    with pytest.raises(InputError, match="noise kind"):
        add_noise(x, "poisson")


def test_evaluate_domains_checks_sizes() -> None:
    net = UNet(3, 2, (4, 8))
    x = torch.rand(2, 3, 8, 8)
    y = torch.rand(2, 2, 8, 8) > 0.5
    res = evaluate_domains(net, {"a": (x, y)})
    assert set(res["a"]) >= {"dice", "iou", "hd95", "dice_0", "dice_1", "sensitivity",
                             "specificity", "accuracy", "ece", "mce"}  # fmt: skip
    with pytest.raises(InputError, match="differ"):
        evaluate_domains(net, {"a": (x, torch.rand(2, 2, 16, 16) > 0.5)})
    with pytest.raises(InputError, match="binary"):
        evaluate_domains(net, {"a": (x, torch.rand(2, 2, 8, 8))})
