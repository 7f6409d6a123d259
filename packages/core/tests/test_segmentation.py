from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from patrec.core.errors import DataError, InputError
from patrec.core.segmentation import (
    ConcatFusion,
    SegmentationData,
    UNet,
    check_binary_mask,
    dice_bce_loss,
    dice_score,
    hd95,
    iou_score,
    load_segmentation_folder,
    one_hot_masks,
    plot_segmentation,
    segmentation_metrics,
    soft_dice_loss,
)


def _square(n=16, lo=4, hi=10):
    m = torch.zeros(n, n, dtype=torch.bool)
    m[lo:hi, lo:hi] = True
    return m


@pytest.mark.parametrize("residual", [False, True])
def test_unet_shapes_and_features(residual):
    net = UNet(3, 2, widths=(4, 8, 16), residual=residual)
    x = torch.randn(2, 3, 16, 24)
    y, feats = net.forward_features(x)
    assert y.shape == (2, 2, 16, 24)
    assert [f.shape[1] for f in feats.encoder] == [4, 8, 16]
    assert [f.shape[-1] for f in feats.decoder] == [12, 24]
    assert net.divisor == 4


def test_unet_plug_points_are_used():
    calls = []

    class AddFusion(nn.Module):
        def __init__(self, level, skip_ch, up_ch):
            super().__init__()
            calls.append((level, skip_ch, up_ch))
            self.out_channels = skip_ch

        def forward(self, skip, up):
            return skip + up

    net = UNet(1, 1, widths=(4, 8, 16), fusion=AddFusion)
    assert calls == [(1, 8, 8), (0, 4, 4)]
    assert net(torch.randn(1, 1, 8, 8)).shape == (1, 1, 8, 8)
    assert isinstance(UNet(1, 1, widths=(4, 8)).fusions[0], ConcatFusion)


def test_unet_rejects_bad_input():
    net = UNet(3, 1, widths=(4, 8, 16))
    with pytest.raises(InputError, match="multiple of 4"):
        net(torch.randn(1, 3, 10, 16))
    with pytest.raises(InputError, match=r"\(N, 3, H, W\)"):
        net(torch.randn(1, 1, 16, 16))
    with pytest.raises(InputError):
        UNet(3, 1, widths=(4,))


def test_dice_iou_hd95_on_hand_made_masks():
    a = _square()  # 6x6 = 36 px at rows/cols 4..9
    b = torch.zeros_like(a)
    b[4:10, 7:13] = True  # shifted 3 px right: overlap 6x3 = 18
    d = dice_score(a[None], b[None])
    assert d.shape == (1, 1)
    assert d.item() == pytest.approx(2 * 18 / 72)
    assert iou_score(a[None], b[None]).item() == pytest.approx(18 / 54)
    assert dice_score(a[None], a[None]).item() == 1.0
    # the edges are 3 px apart everywhere they differ: HD95 = 3
    assert hd95(a[None], b[None]).item() == pytest.approx(3.0)
    assert hd95(a[None], a[None]).item() == 0.0
    empty = torch.zeros_like(a)
    assert dice_score(empty[None], empty[None]).item() == 1.0
    assert hd95(empty[None], empty[None]).item() == 0.0
    assert hd95(empty[None], a[None]).item() == pytest.approx(math.hypot(16, 16))
    assert dice_score(empty[None], a[None]).item() == 0.0
    m = segmentation_metrics(a[None], b[None])
    assert set(m) == {"dice", "iou", "hd95"}


def test_hd95_ignores_a_few_outlier_pixels_unlike_hd100():
    a = torch.zeros(64, 64, dtype=torch.bool)
    a[10:50, 10:50] = True
    b = a.clone()
    b[60, 60] = True  # one far stray pixel
    assert hd95(b[None], a[None]).item() < 2.0


def test_metrics_reject_non_binary_and_mismatched():
    with pytest.raises(InputError, match="binary"):
        dice_score(torch.full((1, 4, 4), 0.5), torch.zeros(1, 4, 4))
    with pytest.raises(InputError, match="differ"):
        hd95(torch.zeros(1, 4, 4), torch.zeros(1, 5, 4))
    with pytest.raises(InputError):
        check_binary_mask(np.zeros((2, 2)))


def test_soft_dice_loss_values_and_gradient():
    t = _square().float()[None, None]
    assert soft_dice_loss(t, t, smooth=0.0).item() == pytest.approx(0.0)
    assert soft_dice_loss(1 - t, t, smooth=0.0).item() == pytest.approx(1.0)
    p = torch.full_like(t, 0.5, requires_grad=True)
    # plain: 1 - 2*0.5*36/(128+36); squared: 1 - 36/(64+36)
    assert soft_dice_loss(p, t, smooth=0.0).item() == pytest.approx(1 - 36 / 164)
    assert soft_dice_loss(p, t, squared=True, smooth=0.0).item() == pytest.approx(1 - 36 / 100)
    dice_bce_loss(p, t).backward()
    assert p.grad is not None and torch.isfinite(p.grad).all()
    with pytest.raises(InputError):
        soft_dice_loss(t[0], t[0])


def test_one_hot_and_data_container():
    labels = torch.tensor([[[0, 1], [2, 1]]])
    oh = one_hot_masks(labels, 3)
    assert oh.shape == (1, 3, 2, 2) and oh.sum().item() == 4 and oh[0, 2, 1, 0]
    with pytest.raises(InputError):
        one_hot_masks(labels, 2)
    x = torch.rand(3, 1, 8, 8)
    y = torch.zeros(3, 1, 8, 8, dtype=torch.bool)
    data = SegmentationData(x, y, x, y, class_names=("lesion",))
    assert data.num_classes == 1
    with pytest.raises(InputError, match="differ"):
        SegmentationData(x, y[:, :, :4], x, y, class_names=("lesion",))
    with pytest.raises(InputError, match="classes"):
        SegmentationData(x, y, x, y, class_names=("a", "b"))


def test_folder_loader(tmp_path):
    from skimage import io

    with pytest.raises(DataError):
        load_segmentation_folder(tmp_path / "missing")
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_segmentation_folder(tmp_path)
    img = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    msk = np.zeros((20, 30), np.uint8)
    msk[5:15, 5:20] = 255
    io.imsave(tmp_path / "images" / "a.png", img, check_contrast=False)
    io.imsave(tmp_path / "masks" / "a_segmentation.png", msk, check_contrast=False)
    with pytest.raises(DataError, match="no mask"):
        load_segmentation_folder(tmp_path)
    x, y = load_segmentation_folder(tmp_path, mask_suffix="_segmentation", size=16)
    assert x.shape == (1, 3, 16, 16) and y.shape == (1, 1, 16, 16) and y.dtype == torch.bool
    assert 0 < y.float().mean() < 1 and x.min() >= 0 and x.max() <= 1


def test_plot_segmentation_writes_png(tmp_path):
    x = torch.rand(2, 3, 16, 16)
    t = torch.stack([_square(), _square(lo=2, hi=6)])
    path = plot_segmentation(x, t, t.roll(1, -1), tmp_path / "seg.png", titles=["a", "b"])
    assert path.is_file() and path.stat().st_size > 1000


def test_encoder_hook_sees_every_level_and_replaces_its_output():
    torch.manual_seed(0)
    net = UNet(1, 1, widths=(4, 8, 16)).eval()
    x = torch.randn(2, 1, 16, 16)
    levels = []

    def identity(level, h):
        levels.append((level, h.shape[1]))
        return h

    y, _ = net.forward_features(x, encoder_hook=identity)
    assert levels == [(0, 4), (1, 8), (2, 16)] and torch.equal(y, net(x))
    zero0 = net.forward_features(x, encoder_hook=lambda i, h: h * 0 if i == 0 else h)
    assert not torch.allclose(zero0[0], y) and zero0[1].encoder[0].abs().sum() == 0


def test_pixel_scores_pool_every_pixel_of_binary_masks() -> None:
    from patrec.core.segmentation import pixel_scores

    pred = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    target = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    pred[0, 0, 0, :] = True  # 2 predicted in image 0
    target[0, 0, 0, 0] = True  # 1 of them right
    target[1, 0, 1, 1] = True  # missed in image 1
    # pooled over 8 pixels: TP 1, FP 1, FN 1, TN 5 (per image, image 1 would have F1 0)
    got = pixel_scores(pred, target)
    assert got == pytest.approx(
        {"accuracy": 6 / 8, "precision": 0.5, "recall": 0.5, "specificity": 5 / 6, "f1": 0.5}
    )
    assert pixel_scores(target, target)["f1"] == 1.0
    with pytest.raises(InputError, match="binary"):
        pixel_scores(pred, target.float() * 0.5)
    with pytest.raises(InputError, match="probab"):
        pixel_scores(pred.float() * 2, target)


def test_pixel_scores_calibration_of_probabilities_by_hand() -> None:
    from patrec.core.segmentation import pixel_scores

    probs = torch.tensor([0.9, 0.8, 0.3, 0.1, 0.6, 0.2]).reshape(1, 1, 2, 3)
    target = torch.tensor([1, 0, 1, 0, 1, 0]).reshape(1, 1, 2, 3).bool()
    # predicted 1 1 0 0 1 0 at 0.5 against 1 0 1 0 1 0: TP 2, FP 1, FN 1, TN 2
    got = pixel_scores(probs, target, bins=2)
    assert got["recall"] == pytest.approx(2 / 3) and got["specificity"] == pytest.approx(2 / 3)
    assert got["accuracy"] == pytest.approx(4 / 6)
    # two bins: [0, .5] holds .3 .1 .2 (mean .2, positives 1/3); (.5, 1] holds .9 .8 .6
    # (mean .7667, positives 2/3)
    ece = 0.5 * abs(1 / 3 - 0.2) + 0.5 * abs(2 / 3 - 2.3 / 3)
    mce = max(abs(1 / 3 - 0.2), abs(2 / 3 - 2.3 / 3))
    assert got["ece"] == pytest.approx(ece, abs=1e-6) and got["mce"] == pytest.approx(mce, abs=1e-6)
    perfect = pixel_scores(target.float(), target)
    assert perfect["ece"] == pytest.approx(0.0) and perfect["specificity"] == 1.0
    # two classes are averaged (macro): class 1 all right, class 0 as above
    two = pixel_scores(torch.cat([probs, target.float()], 1), torch.cat([target, target], 1))
    assert two["accuracy"] == pytest.approx((4 / 6 + 1) / 2)
    assert "ece" not in pixel_scores(target, target)  # calibration needs probabilities
