"""Embedded datasets and loaders for the papers' real datasets from a local path.

Nothing here downloads. Embedded data ships with the install (scikit-learn's digits,
scikit-image's images, ...); a paper's real dataset is read from a folder the user already
has, and a missing or malformed folder raises :class:`~patrec.core.errors.DataError` that
says what was looked for, where, and how to get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from patrec.core.errors import ConfigError, DataError

__all__ = [
    "ImageClassificationData",
    "digits",
    "load_image_classification",
    "require_path",
    "stratified_split",
]


@dataclass
class ImageClassificationData:
    """Images and labels split into train and test.

    Attributes:
        x_train, x_test: float32 images ``(N, C, H, W)`` in ``[0, 1]``.
        y_train, y_test: int64 labels ``(N,)`` in ``[0, num_classes)``.
        num_classes: number of classes; ``name``: where the data came from.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    name: str

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[-1])


def require_path(path: str | Path | None, what: str, hint: str = "") -> Path:
    """``path`` as a :class:`Path` if it exists, else a :class:`DataError` saying so."""
    if path is None or str(path) == "":
        raise DataError(f"{what}: no path given; pass --data PATH{'. ' + hint if hint else ''}")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{what}: {p} does not exist{'; ' + hint if hint else ''}")
    return p


def stratified_split(
    y: np.ndarray | torch.Tensor, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with the class proportions kept (scikit-learn)."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    y = np.asarray(y)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=y)
    return np.sort(tr), np.sort(te)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return torch.nn.functional.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False
    )


def digits(
    image_size: int = 8, test_fraction: float = 0.3, seed: int = 0
) -> ImageClassificationData:
    """scikit-learn's handwritten digits (1,797 images of 8x8, 10 classes), embedded.

    Pixel values 0..16 are scaled to ``[0, 1]``; ``image_size`` other than 8 resizes
    bilinearly. The split is stratified with ``seed``.
    """
    from sklearn.datasets import load_digits

    if image_size < 4:
        raise ConfigError(f"image_size must be >= 4, got {image_size}")
    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)
    x = _resize(x, image_size).clamp(0, 1)
    y = torch.from_numpy(d.target.astype(np.int64))
    tr, te = stratified_split(y.numpy(), test_fraction, seed)
    return ImageClassificationData(x[tr], y[tr], x[te], y[te], 10, "sklearn-digits")


def _torchvision_cifar(root: Path, name: str, image_size: int) -> ImageClassificationData:
    from torchvision.datasets import CIFAR10, CIFAR100

    cls = CIFAR10 if name == "cifar10" else CIFAR100
    folder = "cifar-10-batches-py" if name == "cifar10" else "cifar-100-python"
    if not (root / folder).is_dir():
        raise DataError(
            f"{name}: expected the python-format folder {root / folder}; download "
            f"'{folder}' (CIFAR, python version) yourself and pass its parent as --data"
        )
    try:
        train = cls(str(root), train=True, download=False)
        test = cls(str(root), train=False, download=False)
    except RuntimeError as e:
        raise DataError(f"{name}: {root / folder} is incomplete or corrupt ({e})") from None

    def conv(ds: object) -> tuple[torch.Tensor, torch.Tensor]:
        data = torch.from_numpy(ds.data).permute(0, 3, 1, 2).float() / 255.0  # type: ignore[attr-defined]
        return _resize(data, image_size), torch.tensor(ds.targets, dtype=torch.int64)  # type: ignore[attr-defined]

    xtr, ytr = conv(train)
    xte, yte = conv(test)
    return ImageClassificationData(xtr, ytr, xte, yte, 10 if name == "cifar10" else 100, name)


def _image_folder(
    root: Path, image_size: int, test_fraction: float, seed: int
) -> ImageClassificationData:
    from torchvision.datasets import ImageFolder
    from torchvision.transforms.functional import pil_to_tensor

    try:
        ds = ImageFolder(str(root))
    except (FileNotFoundError, RuntimeError) as e:
        raise DataError(
            f"imagefolder: {root} must hold one sub-folder of images per class ({e})"
        ) from None
    xs = []
    for img, _ in ds:
        t = pil_to_tensor(img.convert("RGB")).float().unsqueeze(0) / 255.0
        xs.append(_resize(t, image_size))
    x = torch.cat(xs)
    y = torch.tensor(ds.targets, dtype=torch.int64)
    tr, te = stratified_split(y.numpy(), test_fraction, seed)
    return ImageClassificationData(
        x[tr], y[tr], x[te], y[te], len(ds.classes), f"imagefolder:{root}"
    )


def load_image_classification(
    name: str,
    root: str | Path | None = None,
    *,
    image_size: int = 8,
    test_fraction: float = 0.3,
    seed: int = 0,
) -> ImageClassificationData:
    """An image-classification dataset by name.

    Args:
        name: ``"digits"`` (embedded), ``"cifar10"`` / ``"cifar100"`` (the python-format
            CIFAR folders under ``root``) or ``"imagefolder"`` (``root/<class>/<image>``).
        root: the local folder for the non-embedded datasets.
    """
    if name == "digits":
        return digits(image_size, test_fraction, seed)
    if name in {"cifar10", "cifar100"}:
        return _torchvision_cifar(
            require_path(root, name, "CIFAR is not embedded"), name, image_size
        )
    if name == "imagefolder":
        return _image_folder(require_path(root, name), image_size, test_fraction, seed)
    raise ConfigError(f"unknown dataset {name!r}; accepted: digits, cifar10, cifar100, imagefolder")
