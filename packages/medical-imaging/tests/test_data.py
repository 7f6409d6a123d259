from __future__ import annotations

import numpy as np
import pytest
import torch

from patrec.core.errors import DataError, InputError
from patrec.medical_imaging.data import (
    IGNORE_INDEX,
    apply_shift,
    fundus_task,
    lesion_task,
    load_acdc,
    load_isic,
    load_riga_plus,
    masks_to_index,
    points_to_label_map,
    sample_point_labels,
)


def test_lesion_task_is_seeded_and_the_lesion_changes_the_image():
    a = lesion_task(4, 2, size=32, seed=3)
    b = lesion_task(4, 2, size=32, seed=3)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)
    assert a.x_train.shape == (4, 3, 32, 32) and a.y_train.shape == (4, 1, 32, 32)
    assert not torch.equal(a.x_train, lesion_task(4, 2, size=32, seed=4).x_train)
    # every image has a lesion, and it differs in colour from its surroundings
    m = a.y_train[:, 0]
    assert bool(m.flatten(1).any(1).all())
    red_minus_green = a.x_train[:, 0] - a.x_train[:, 1]
    assert red_minus_green[m].mean() > red_minus_green[~m].mean()
    invisible = lesion_task(4, 2, size=32, seed=3, contrast=0.0)
    assert torch.equal(invisible.y_train, a.y_train)


def test_fundus_task_cup_inside_disc_and_domains_shift_appearance_only():
    f = fundus_task(4, 3, size=32, domains=("dark", "colour"), seed=0)
    disc, cup = f.y_train[:, 0], f.y_train[:, 1]
    assert bool((cup & ~disc).sum() == 0) and cup.sum() > 0 and disc.sum() > cup.sum()
    assert set(f.domains) == {"dark", "colour"}
    x_dark, y_dark = f.domains["dark"]
    assert y_dark.shape == (3, 2, 32, 32)
    assert x_dark.mean() < f.x_test.mean()  # the dark camera is darker
    # inside the disc the planted region is brighter than the surrounding retina
    lum = f.x_train.mean(1)
    assert lum[disc].mean() > lum[~disc].mean() + 0.1
    with pytest.raises(InputError, match="unknown domains"):
        fundus_task(2, 2, domains=("mars",))


def test_apply_shift():
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(apply_shift(x, "contrast", 0.0), x)
    low = apply_shift(x, "contrast", 1.0)
    assert low.std() < x.std()
    assert apply_shift(x, "noise", 1.0, seed=1).equal(apply_shift(x, "noise", 1.0, seed=1))
    with pytest.raises(InputError, match="unknown shift"):
        apply_shift(x, "rain")
    with pytest.raises(InputError):
        apply_shift(x, "gamma", 2.0)


def test_points_come_from_their_class_and_the_rest_is_ignored():
    f = fundus_task(3, 2, size=32, domains=(), seed=1)
    idx = masks_to_index(f.y_train)
    assert set(idx.unique().tolist()) == {0, 1, 2}
    pts = sample_point_labels(idx, points_per_class=2, seed=0)
    labelled = pts != IGNORE_INDEX
    assert labelled.sum().item() == 3 * 3 * 2
    assert torch.equal(pts[labelled], idx[labelled])
    with pytest.raises(InputError):
        sample_point_labels(idx.float())


def test_points_to_label_map_rejects_points_outside():
    lm = points_to_label_map(torch.tensor([[0, 0], [3, 2]]), torch.tensor([1, 0]), (4, 4))
    assert lm[0, 0] == 1 and lm[3, 2] == 0 and (lm == IGNORE_INDEX).sum() == 14
    with pytest.raises(InputError, match="outside"):
        points_to_label_map(torch.tensor([[4, 0]]), torch.tensor([1]), (4, 4))


def test_masks_to_index_rejects_non_binary():
    with pytest.raises(InputError, match="binary"):
        masks_to_index(torch.full((1, 1, 2, 2), 0.3))


def test_loaders_read_local_paths(tmp_path):
    from skimage import io

    with pytest.raises(DataError):
        load_isic(tmp_path / "nope")
    with pytest.raises(DataError, match="domain"):
        load_riga_plus(tmp_path, "BinRushed")
    d = tmp_path / "BinRushed"
    (d / "images").mkdir(parents=True)
    (d / "masks").mkdir()
    img = (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)
    m = np.zeros((40, 40), np.uint8)
    m[10:30, 10:30] = 128
    m[15:25, 15:25] = 255
    io.imsave(d / "images" / "a.png", img, check_contrast=False)
    io.imsave(d / "masks" / "a.png", m, check_contrast=False)
    x, y = load_riga_plus(tmp_path, "BinRushed", size=20)
    assert x.shape == (1, 3, 20, 20) and y.shape == (1, 2, 20, 20)
    assert y[0, 1].sum() < y[0, 0].sum() and not bool((y[0, 1] & ~y[0, 0]).any())
    with pytest.raises(DataError, match="patient"):
        load_acdc(tmp_path)


def test_acdc_loader_reads_nifti(tmp_path):
    import nibabel as nib

    p = tmp_path / "patient001"
    p.mkdir()
    vol = np.random.default_rng(0).random((16, 16, 2)).astype(np.float32)
    lab = np.zeros((16, 16, 2), np.int16)
    lab[4:8, 4:8, :] = 1
    lab[8:12, 8:12, 1] = 3
    nib.save(nib.Nifti1Image(vol, np.eye(4)), p / "patient001_frame01.nii.gz")
    nib.save(nib.Nifti1Image(lab, np.eye(4)), p / "patient001_frame01_gt.nii.gz")
    x, y = load_acdc(tmp_path, size=16)
    assert x.shape == (2, 1, 16, 16) and y.shape == (2, 3, 16, 16)
    assert y[:, 0].sum() == 32 and y[1, 2].sum() == 16 and y[:, 1].sum() == 0
