"""Tests of patrec.core.explain: Grad-CAM, Guided Backprop, Guided Grad-CAM, aggregation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from patrec.core.errors import InputError
from patrec.core.explain import (
    class_mean_std_maps,
    cue_hit_rate,
    gradcam,
    guided_backprop,
    guided_gradcam,
    last_conv_layer,
    peak_positions,
    resolve_layer,
    saliency,
    save_cam_figure,
)


def tiny_cnn(in_ch: int = 1, k: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(in_ch, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, k),
    )


def test_gradcam_shape_range_and_hand_computation() -> None:
    model = tiny_cnn()
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    cams = gradcam(model, "4", x, target=1)
    assert cams.shape == (3, 8, 8)
    assert bool((cams >= 0).all()) and bool((cams <= 1 + 1e-6).all())
    assert torch.allclose(cams.flatten(1).amax(1), torch.ones(3))
    # eqs. 2-4 by hand: pooled gradients of y^c w.r.t. A (after the last ReLU)
    acts: list[torch.Tensor] = []
    h = model[4].register_forward_hook(lambda m, i, o: acts.append(o))
    y = model(x)
    h.remove()
    a = acts[0]
    (g,) = torch.autograd.grad(y[:, 1].sum(), a)
    w = g.mean(dim=(2, 3), keepdim=True)  # eq. 3
    cam = F.relu((w * a).sum(1, keepdim=True))  # eq. 4
    cam = F.interpolate(cam, size=(8, 8), mode="bilinear")[:, 0].detach()
    raw = gradcam(model, model[4], x, target=1, normalize=False)
    assert torch.allclose(raw, cam, atol=1e-6)
    small = gradcam(model, "4", x, target=1, normalize=False, upsample=False)
    assert small.shape == (3, 4, 4)


def test_gradcam_default_target_is_prediction_and_mode_restored() -> None:
    model = tiny_cnn()
    model.train()
    x = torch.rand(4, 1, 8, 8)
    pred = model.eval()(x).argmax(1)
    model.train()
    assert torch.allclose(gradcam(model, None, x), gradcam(model, "3", x, pred))
    assert model.training and model[0].training


def test_guided_backprop_matches_hand_rule() -> None:
    torch.manual_seed(3)
    lin1, lin2 = nn.Linear(4, 5), nn.Linear(5, 2)
    model = nn.Sequential(nn.Flatten(), lin1, nn.ReLU(), lin2)
    x = torch.randn(2, 1, 2, 2)
    gb = guided_backprop(model, x, target=0)
    pre = lin1(x.flatten(1))
    g = lin2.weight[0].expand(2, 5)
    g = g * (pre > 0) * (g > 0)  # guided rule at the ReLU: both masks
    want = (g @ lin1.weight).view(2, 1, 2, 2)
    assert torch.allclose(gb, want.detach(), atol=1e-6)
    xr = x.clone().requires_grad_()
    plain = torch.autograd.grad(model(xr)[:, 0].sum(), xr)[0]
    assert not torch.allclose(gb, plain)  # it is not the plain gradient


def test_guided_gradcam_is_product_and_matches_captum() -> None:
    from captum.attr import GuidedGradCam

    model = tiny_cnn(in_ch=2).eval()
    x = torch.rand(3, 2, 8, 8, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([0, 2, 1])
    ggc = guided_gradcam(model, "4", x, t)
    want = guided_backprop(model, x, t) * gradcam(model, "4", x, t, normalize=False)[:, None]
    assert ggc.shape == x.shape
    assert torch.allclose(ggc, want, atol=1e-7)
    ref = GuidedGradCam(model, model[4]).attribute(
        x.clone().requires_grad_(), t, interpolate_mode="bilinear"
    )
    assert torch.allclose(ggc, ref.detach(), atol=1e-6)


def test_class_mean_std_against_hand_values() -> None:
    maps = torch.tensor([[[1.0, 0.0]], [[3.0, 2.0]], [[5.0, 5.0]], [[0.0, 1.0]]])  # (4, 1, 2)
    labels = torch.tensor([0, 0, 2, 0])
    mean, std, counts = class_mean_std_maps(maps, labels, 3)
    assert counts.tolist() == [3, 0, 1]
    assert torch.allclose(mean[0], torch.tensor([[4 / 3, 1.0]]))
    v0 = ((1 - 4 / 3) ** 2 + (3 - 4 / 3) ** 2 + (0 - 4 / 3) ** 2) / 3
    v1 = (1 + 1 + 0) / 3
    assert torch.allclose(std[0], torch.tensor([[math.sqrt(v0), math.sqrt(v1)]]))
    assert torch.allclose(mean[2], torch.tensor([[5.0, 5.0]])) and float(std[2].abs().max()) == 0
    assert bool(torch.isnan(mean[1]).all()) and bool(torch.isnan(std[1]).all())


def test_peak_and_hit_rate() -> None:
    maps = torch.zeros(2, 4, 4)
    maps[0, 1, 2] = 1.0
    maps[1, 3, 0] = 1.0
    assert peak_positions(maps).tolist() == [[1, 2], [3, 0]]
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, 1, 2] = True
    masks[1, 0, 0] = True
    assert cue_hit_rate(maps, masks) == 0.5


def test_gradcam_peak_inside_planted_patch_on_trained_model() -> None:
    """A small CNN trained to find a bright patch: Grad-CAM's peak lies on the patch."""
    g = torch.Generator().manual_seed(0)
    n, s, p = 256, 24, 6
    x = 0.3 * torch.rand(n, 1, s, s, generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    pos = torch.randint(0, s - p, (n, 2), generator=g)
    masks = torch.zeros(n, s, s, dtype=torch.bool)
    for i in range(n):
        r, c = pos[i].tolist()
        if y[i] == 1:
            x[i, 0, r : r + p, c : c + p] += 0.7
        masks[i, r : r + p, c : c + p] = True
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        idx = torch.randint(0, 192, (64,), generator=g)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    te = torch.arange(192, n)[y[192:] == 1]
    assert (model(x[te]).argmax(1) == 1).float().mean() > 0.9
    cams = gradcam(model, "4", x[te], target=1)
    hit = cue_hit_rate(cams, masks[te])
    rand = cue_hit_rate(torch.rand(cams.shape, generator=g), masks[te])
    assert hit >= 0.8 and hit > rand + 0.4


def test_saliency_and_figure(tmp_path) -> None:
    model = tiny_cnn()
    x = torch.rand(2, 1, 8, 8)
    sal = saliency(model, x, 0)
    assert sal.shape == (2, 8, 8) and bool((sal >= 0).all())
    path = save_cam_figure(
        x,
        {"Grad-CAM": gradcam(model, "4", x), "GB": guided_backprop(model, x)},
        tmp_path / "f.png",
        titles=["a", "b"],
        boxes=torch.tensor([[0, 0, 2, 2], [1, 1, 3, 3]]),
    )
    assert path.is_file() and path.stat().st_size > 1000
    with pytest.raises(InputError, match="titles"):
        save_cam_figure(x, gradcam(model, "4", x), tmp_path / "g.png", titles=["a"])


def test_works_on_shnet_with_inplace_relu() -> None:
    from patrec.core.shnet import shnet_small

    torch.manual_seed(0)
    model = shnet_small(num_classes=3, in_channels=3).eval()
    x = torch.rand(2, 3, 32, 32)
    layer = last_conv_layer(model)
    assert gradcam(model, layer, x).shape == (2, 32, 32)
    assert guided_gradcam(model, layer, x, 1).shape == x.shape


def test_bad_inputs_raise_input_error() -> None:
    model = tiny_cnn()
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(InputError, match=r"\(N, C, H, W\)"):
        gradcam(model, "4", torch.rand(1, 8, 8))
    with pytest.raises(InputError, match="float dtype"):
        gradcam(model, "4", torch.ones(2, 1, 8, 8, dtype=torch.long))
    with pytest.raises(InputError, match=r"\[0, 3\)"):
        gradcam(model, "4", x, target=3)
    with pytest.raises(InputError, match=r"\[0, 3\)"):
        guided_backprop(model, x, target=torch.tensor([0, -1]))
    with pytest.raises(InputError, match="not in"):
        gradcam(model, "features.9", x)
    with pytest.raises(InputError, match="not a sub-module"):
        gradcam(model, nn.Conv2d(1, 1, 1), x)
    with pytest.raises(InputError, match=r"\(N, k, h, w\)"):
        gradcam(model, "6", x)  # the Linear layer
    with pytest.raises(InputError, match="cannot take images"):
        gradcam(model, "4", torch.rand(2, 3, 8, 8))
    with pytest.raises(InputError, match="no nn.Conv2d"):
        resolve_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), None)
    with pytest.raises(InputError, match="labels"):
        class_mean_std_maps(torch.rand(3, 2, 2), torch.tensor([0, 1]), 2)
    with pytest.raises(InputError, match=r"\[0, 2\)"):
        class_mean_std_maps(torch.rand(2, 2, 2), torch.tensor([0, 2]), 2)
    with pytest.raises(InputError, match="model must be"):
        gradcam(lambda t: t, "4", x)  # type: ignore[arg-type]
