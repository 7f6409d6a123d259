"""Gradient explanations of any image classifier: Grad-CAM, Guided Backprop, Guided Grad-CAM.

Generic tools for every domain (a leaf-disease, a chest X-ray or a face classifier is
explained the same way): each function takes any ``nn.Module`` that maps images
``(N, C, H, W)`` to logits ``(N, K)`` and, for Grad-CAM, one of its layers (the module itself
or its dotted name, e.g. ``"features.7"``) whose output is a ``(N, k, h, w)`` feature map.
The attributions are computed by captum (``LayerGradCam``, ``GuidedBackprop``,
``GuidedGradCam``, ``Saliency``, ``LayerAttribution.interpolate``); this module adds input
checks, target handling, upsampling and normalisation, per-class aggregation and figures.

Grad-CAM (Selvaraju et al. 2017; eqs. 1-4 of Gebele et al. 2024, "Interpreting Emotions
Through the Grad-CAM Lens")::

    w_k^c = 1/Z sum_i sum_j d y^c / d A^k_ij          (eqs. 2-3: pooled gradients, y^c the
                                                       pre-softmax score of class c)
    L^c   = ReLU(sum_k w_k^c A^k)                      (eqs. 1, 4)

then bilinear upsampling of ``L^c`` (``h x w``) to the input's ``H x W``. Guided Grad-CAM is
the element-wise product of Guided Backpropagation (gradients with negative values zeroed at
every ``nn.ReLU`` on the way back) and the upsampled Grad-CAM map (Sec. 3.4).

Guided Backprop modifies the backward pass of ``nn.ReLU`` *modules* only; a ReLU applied as a
function (``F.relu``) inside ``forward`` is backpropagated as a plain gradient.

Typical use::

    cams = gradcam(model, "features.7", images)              # (N, H, W) in [0, 1]
    mean, std, counts = class_mean_std_maps(cams, labels, num_classes)
    save_cam_figure(images, {"Grad-CAM": cams}, "cams.png")
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from patrec.core.checks import check_tensor, describe
from patrec.core.errors import InputError

__all__ = [
    "class_mean_std_maps",
    "cue_hit_rate",
    "gradcam",
    "guided_backprop",
    "guided_gradcam",
    "last_conv_layer",
    "normalize_maps",
    "peak_positions",
    "resolve_layer",
    "save_cam_figure",
    "saliency",
]

LayerRef = nn.Module | str | None
TargetRef = int | Sequence[int] | Tensor | None


# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise InputError(f"model must be a torch nn.Module classifier, got {type(model).__name__}")
    return model


def _check_images(images: object) -> Tensor:
    check_tensor(images, "N C H W", name="images", dtype="float", nonempty=True, finite=True)
    t: Tensor = images  # type: ignore[assignment]
    return t


def last_conv_layer(model: nn.Module) -> str:
    """Dotted name of the last ``nn.Conv2d`` registered in ``model`` (Grad-CAM's usual layer).

    Raises:
        InputError: ``model`` holds no ``nn.Conv2d``.
    """
    _check_model(model)
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not names:
        raise InputError(
            f"{type(model).__name__} holds no nn.Conv2d; pass the Grad-CAM layer explicitly"
        )
    return names[-1]


def resolve_layer(model: nn.Module, layer: LayerRef) -> nn.Module:
    """The sub-module ``layer`` of ``model``: a module of it, a dotted name, or None (last conv).

    Raises:
        InputError: the name does not exist in ``model`` or the module is not part of it.
    """
    _check_model(model)
    if layer is None:
        layer = last_conv_layer(model)
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer)
        except AttributeError:
            names = [n for n, _ in model.named_modules() if n][:8]
            raise InputError(
                f"layer {layer!r} is not in {type(model).__name__}; "
                f"give a dotted module name such as {', '.join(map(repr, names))}"
            ) from None
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise InputError(
                f"layer {type(layer).__name__} is not a sub-module of {type(model).__name__}; "
                "pass a module of the model or its dotted name"
            )
        return layer
    raise InputError(f"layer must be an nn.Module, a dotted name or None, got {describe(layer)}")


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Evaluation mode (dropout off, BN running stats) for the duration; restores afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def _forward_checked(
    model: nn.Module, images: Tensor, layer_mod: nn.Module | None
) -> tuple[Tensor, tuple[int, ...] | None]:
    """Logits ``(N, K)`` (no grad) and the layer's output shape; clear errors otherwise."""
    seen: list[tuple[int, ...]] = []

    def hook(_m: nn.Module, _i: object, out: object) -> None:
        if isinstance(out, Tensor):
            seen.append(tuple(out.shape))
        else:
            seen.append(())

    handle = layer_mod.register_forward_hook(hook) if layer_mod is not None else None
    try:
        with torch.no_grad():
            logits = model(images)
    except (RuntimeError, ValueError, TypeError) as e:  # shape mismatch inside the model
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(
            f"{type(model).__name__} cannot take images of shape {tuple(images.shape)}: {first}"
        ) from e
    finally:
        if handle is not None:
            handle.remove()
    if not isinstance(logits, Tensor) or logits.ndim != 2 or logits.shape[0] != images.shape[0]:
        raise InputError(
            f"model must return logits (N, K) = ({images.shape[0]}, K), got {describe(logits)}"
        )
    shape: tuple[int, ...] | None = None
    if layer_mod is not None:
        if not seen:
            raise InputError(
                f"layer {type(layer_mod).__name__} is not used in the model's forward pass"
            )
        shape = seen[-1]
        if len(shape) != 4:
            raise InputError(
                f"Grad-CAM layer must output a (N, k, h, w) feature map, got output {shape}"
            )
    return logits, shape


def _targets(target: TargetRef, logits: Tensor) -> Tensor:
    """``(N,)`` int64 class indices; None means the predicted class (argmax of the logits)."""
    n, k = logits.shape
    if target is None:
        return logits.argmax(dim=1)
    if isinstance(target, bool):
        raise InputError(f"target must be a class index or (N,) indices, got {target!r}")
    if isinstance(target, int):
        t = torch.full((n,), target, dtype=torch.long)
    else:
        t = torch.as_tensor(target)
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise InputError(f"target must hold integer class indices, got {describe(t)}")
        if t.ndim == 0:
            t = t.expand(n)
        if t.ndim != 1 or t.shape[0] != n:
            raise InputError(f"target must be an int or ({n},) indices, got {describe(t)}")
        t = t.long()
    if bool(((t < 0) | (t >= k)).any()):
        raise InputError(f"target must lie in [0, {k}) (the model has {k} classes), got {t}")
    return t.to(logits.device)


def _prepare(images: Tensor) -> Tensor:
    return images.detach().clone().requires_grad_(True)


# ---------------------------------------------------------------------------------------
# attributions (captum)
# ---------------------------------------------------------------------------------------


def normalize_maps(maps: Tensor) -> Tensor:
    """Scale each map of ``(N, ...)`` to ``[0, 1]`` by its maximum (all-zero maps stay 0).

    Grad-CAM maps are non-negative (ReLU, eq. 4), so dividing by the per-map maximum puts them
    in ``[0, 1]`` as Sec. 3.4 describes.
    """
    if not isinstance(maps, Tensor) or maps.ndim < 2 or not maps.is_floating_point():
        raise InputError(f"maps must be a floating (N, ...) tensor, got {describe(maps)}")
    peak = maps.flatten(1).amax(dim=1).clamp_min(0)
    scale = torch.where(peak > 0, peak, torch.ones_like(peak))
    return maps / scale.view(-1, *([1] * (maps.ndim - 1)))


def gradcam(
    model: nn.Module,
    layer: LayerRef,
    images: Tensor,
    target: TargetRef = None,
    *,
    normalize: bool = True,
    upsample: bool = True,
) -> Tensor:
    """Grad-CAM maps (eqs. 1-4) of ``model`` at ``layer``, upsampled bilinearly to the input.

    Uses captum's ``LayerGradCam`` (pooled gradients of the pre-softmax score ``y^c`` times the
    layer's activations, summed over channels, ReLU) and ``LayerAttribution.interpolate``
    (bilinear). The model runs in eval mode; its train/eval state is restored afterwards.

    Args:
        model: classifier ``(N, C, H, W) -> (N, K)`` logits.
        layer: a sub-module of ``model``, its dotted name, or None for the last ``nn.Conv2d``
            (the paper uses the last convolutional layer, after its ReLU).
        images: ``(N, C, H, W)`` floating tensor.
        target: class to explain: an int for all images, ``(N,)`` indices, or None for each
            image's predicted class.
        normalize: divide each map by its maximum so it lies in ``[0, 1]``.
        upsample: bilinear upsampling to ``H x W``; False returns the layer's ``h x w`` maps.

    Returns:
        ``(N, H, W)`` (or ``(N, h, w)``) non-negative maps on the images' device.

    Raises:
        InputError: images not ``(N, C, H, W)`` or not accepted by the model, a layer not in
            the model or without a 4-D output, a target out of ``[0, K)``.
    """
    from captum.attr import LayerAttribution, LayerGradCam

    _check_model(model)
    images = _check_images(images)
    layer_mod = resolve_layer(model, layer)
    with _eval_mode(model):
        logits, _ = _forward_checked(model, images, layer_mod)
        t = _targets(target, logits)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            cam = LayerGradCam(model, layer_mod).attribute(
                _prepare(images), target=t, relu_attributions=True
            )
    cam = cam.detach()
    if cam.ndim != 4:
        raise InputError(f"Grad-CAM layer must output a (N, k, h, w) map, got {describe(cam)}")
    cam = cam.sum(dim=1, keepdim=True).clamp_min(0)  # (N, 1, h, w); one channel already
    if upsample:
        cam = LayerAttribution.interpolate(cam, tuple(images.shape[2:]), "bilinear")
        cam = cam.clamp_min(0)
    cam = cam[:, 0]
    return normalize_maps(cam) if normalize else cam


def guided_backprop(model: nn.Module, images: Tensor, target: TargetRef = None) -> Tensor:
    """Guided Backpropagation (Springenberg et al. 2015) via captum's ``GuidedBackprop``.

    The gradient of the pre-softmax score ``y^c`` w.r.t. the input, where every ``nn.ReLU``
    module passes back only positive gradients (and only where its input was positive).

    Args:
        model, images, target: as in :func:`gradcam`.

    Returns:
        ``(N, C, H, W)`` signed attributions.
    """
    from captum.attr import GuidedBackprop

    return _input_attribution(GuidedBackprop, model, images, target)


def _input_attribution(
    attribution: Any, model: nn.Module, images: Tensor, target: TargetRef, **kwargs: Any
) -> Tensor:
    """A captum input attribution (``attribution(model).attribute``), target resolved once."""
    _check_model(model)
    images = _check_images(images)
    with _eval_mode(model):
        logits, _ = _forward_checked(model, images, None)
        t = _targets(target, logits)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out: Tensor = attribution(model).attribute(_prepare(images), target=t, **kwargs)
    return out.detach()


def guided_gradcam(
    model: nn.Module, layer: LayerRef, images: Tensor, target: TargetRef = None
) -> Tensor:
    """Guided Grad-CAM (Sec. 3.4): Guided Backprop ``⊙`` the bilinearly upsampled Grad-CAM.

    ``GGC = guided_backprop(model, images, t) * gradcam(model, layer, images, t,
    normalize=False)[:, None]``, the same as captum's ``GuidedGradCam(model, layer)
    .attribute(images, t, interpolate_mode="bilinear")``. The target is resolved once so both
    factors explain the same class.

    Returns:
        ``(N, C, H, W)`` signed attributions.
    """
    _check_model(model)
    images = _check_images(images)
    layer_mod = resolve_layer(model, layer)
    with _eval_mode(model):
        logits, _ = _forward_checked(model, images, layer_mod)
        t = _targets(target, logits)
    cam = gradcam(model, layer_mod, images, t, normalize=False)
    gb = guided_backprop(model, images, t)
    return gb * cam[:, None]


def saliency(model: nn.Module, images: Tensor, target: TargetRef = None) -> Tensor:
    """Plain gradient saliency (Simonyan et al. 2014; captum ``Saliency``), max ``|grad|`` over C.

    The "Vanilla Gradient" of the paper's Sec. 2.1, used here as a baseline explanation.

    Returns:
        ``(N, H, W)`` non-negative maps.
    """
    from captum.attr import Saliency

    return _input_attribution(Saliency, model, images, target, abs=True).amax(dim=1)


# ---------------------------------------------------------------------------------------
# aggregation and checks
# ---------------------------------------------------------------------------------------


def class_mean_std_maps(
    maps: Tensor, labels: Tensor, num_classes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-class mean and standard deviation of maps (the paper's aggregated Grad-CAM, Sec. 3.4).

    ``mean_c = 1/n_c sum_{i: y_i = c} M_i`` and ``std_c = sqrt(1/n_c sum (M_i - mean_c)^2)``
    (population std, ``ddof = 0``), pixel by pixel. Pool maps of several models (stack them with
    repeated labels) for the paper's "all models collectively" view.

    Args:
        maps: ``(N, H, W)`` floating maps.
        labels: ``(N,)`` integer labels in ``[0, num_classes)``.
        num_classes: number of classes ``K >= 1``.

    Returns:
        ``mean (K, H, W)``, ``std (K, H, W)`` and ``counts (K,)``; a class without maps has
        NaN mean and std (no evidence is not zero evidence).
    """
    if not isinstance(maps, Tensor) or maps.ndim != 3 or not maps.is_floating_point():
        raise InputError(f"maps must be a floating (N, H, W) tensor, got {describe(maps)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise InputError(f"num_classes must be an int >= 1, got {num_classes!r}")
    if (
        not isinstance(labels, Tensor)
        or labels.ndim != 1
        or labels.is_floating_point()
        or labels.dtype == torch.bool
        or labels.shape[0] != maps.shape[0]
    ):
        raise InputError(
            f"labels must be integer ({maps.shape[0]},) (one per map), got {describe(labels)}"
        )
    if labels.numel() and bool(((labels < 0) | (labels >= num_classes)).any()):
        raise InputError(f"labels must lie in [0, {num_classes}), got {labels.unique().tolist()}")
    y = labels.to(maps.device).long()
    onehot = torch.nn.functional.one_hot(y, num_classes).to(maps.dtype)  # (N, K)
    counts = onehot.sum(0)  # (K,)
    denom = counts.clamp_min(1).view(-1, 1, 1)
    mean = torch.einsum("nk,nhw->khw", onehot, maps) / denom
    centred = maps - mean[y]  # (N, H, W): each map minus its class mean
    var = torch.einsum("nk,nhw->khw", onehot, centred.pow(2)) / denom
    empty = (counts == 0).view(-1, 1, 1)
    nan = torch.full_like(mean, float("nan"))
    return torch.where(empty, nan, mean), torch.where(empty, nan, var.sqrt()), counts.long()


def peak_positions(maps: Tensor) -> Tensor:
    """Row and column of each map's maximum: ``(N, H, W) -> (N, 2)`` int64 (first on ties)."""
    if not isinstance(maps, Tensor) or maps.ndim != 3:
        raise InputError(f"maps must be an (N, H, W) tensor, got {describe(maps)}")
    w = maps.shape[2]
    flat = maps.flatten(1).argmax(dim=1)
    return torch.stack([flat // w, flat % w], dim=1)


def cue_hit_rate(maps: Tensor, masks: Tensor) -> float:
    """Share of maps whose peak pixel lies inside its mask (the "pointing game").

    Args:
        maps: ``(N, H, W)`` explanation maps; ``masks``: ``(N, H, W)`` bool, where the evidence is.

    Returns:
        A float in ``[0, 1]``.
    """
    if not isinstance(masks, Tensor) or masks.shape != getattr(maps, "shape", None):
        raise InputError(
            f"masks must match maps {describe(maps)} as a bool (N, H, W) tensor, "
            f"got {describe(masks)}"
        )
    pk = peak_positions(maps)
    n = torch.arange(maps.shape[0], device=maps.device)
    hits = masks.to(maps.device).bool()[n, pk[:, 0], pk[:, 1]]
    return float(hits.float().mean()) if hits.numel() else float("nan")


# ---------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------


def _as_gray(images: Tensor) -> Tensor:
    x = images.detach().float().cpu()
    if x.ndim == 4:
        x = x.mean(dim=1) if x.shape[1] != 3 else x.permute(0, 2, 3, 1)
    lo = x.flatten(1).amin(1).view(-1, *([1] * (x.ndim - 1)))
    hi = x.flatten(1).amax(1).view(-1, *([1] * (x.ndim - 1)))
    return (x - lo) / (hi - lo).clamp_min(1e-12)


def _signed_view(a: Tensor) -> Tensor:
    """Signed ``(N, C, H, W)`` attributions shown as ``0.5 + 0.5 a / max|a|`` (grey = 0)."""
    a = a.detach().float().cpu()
    a = a.mean(dim=1) if a.shape[1] != 3 else a.permute(0, 2, 3, 1)
    m = a.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, *([1] * (a.ndim - 1)))
    return 0.5 + 0.5 * a / m


def save_cam_figure(
    images: Tensor,
    maps: Tensor | Mapping[str, Tensor],
    path: str | Path,
    *,
    titles: Sequence[str] | None = None,
    boxes: Tensor | None = None,
    alpha: float = 0.5,
) -> Path:
    """A PNG grid: a column per image, the image on top, then a row per map kind.

    ``(N, H, W)`` maps (Grad-CAM, saliency) are drawn as a jet heat map over the grey image;
    ``(N, C, H, W)`` attributions (Guided Backprop, Guided Grad-CAM) alone, grey = 0.

    Args:
        images: ``(N, C, H, W)`` or ``(N, H, W)``.
        maps: one ``(N, H, W)`` tensor, or ``{row name: maps}``.
        path: where to write the PNG.
        titles: ``N`` column titles (e.g. "true/predicted").
        boxes: ``(N, 4)`` ``(row0, col0, row1, col1)`` rectangles (e.g. where the evidence is),
            drawn on every panel.
        alpha: opacity of the heat map overlay.

    Returns:
        The written path.
    """
    from patrec.core.report import pyplot as _plt
    from patrec.core.report import save_figure as _save

    if not isinstance(images, Tensor) or images.ndim not in (3, 4):
        raise InputError(f"images must be (N, C, H, W) or (N, H, W), got {describe(images)}")
    rows = {"Grad-CAM": maps} if isinstance(maps, Tensor) else dict(maps)
    n = images.shape[0]
    size = tuple(images.shape[-2:])
    for name, m in rows.items():
        if not isinstance(m, Tensor) or m.shape[0] != n or tuple(m.shape[-2:]) != size:
            raise InputError(
                f"maps[{name!r}] must be (N={n}, ..., {size[0]}, {size[1]}), got {describe(m)}"
            )
    if titles is not None and len(titles) != n:
        raise InputError(f"titles must hold {n} entries (one per image), got {len(titles)}")
    if boxes is not None and (not isinstance(boxes, Tensor) or tuple(boxes.shape) != (n, 4)):
        raise InputError(f"boxes must be an ({n}, 4) tensor, got {describe(boxes)}")
    plt = _plt()
    gray = _as_gray(images if images.ndim == 4 else images[:, None])
    nrow = 1 + len(rows)
    fig, axes = plt.subplots(nrow, n, figsize=(1.5 * n, 1.6 * nrow), squeeze=False)
    panels: list[tuple[str, Tensor | None, bool]] = [("image", None, False)]
    panels += [(k, v, v.ndim == 3) for k, v in rows.items()]
    for r, (name, pm, overlay) in enumerate(panels):
        view: Tensor | None = None
        if pm is not None:
            view = pm.detach().float().cpu() if overlay else _signed_view(pm)
        for i in range(n):
            ax = axes[r][i]
            if pm is None or overlay:
                ax.imshow(gray[i].numpy(), cmap="gray", vmin=0, vmax=1)
            if pm is not None and view is not None:
                if overlay:
                    ax.imshow(view[i].numpy(), cmap="jet", alpha=alpha)
                else:
                    ax.imshow(view[i].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            if boxes is not None:
                r0, c0, r1, c1 = (float(v) for v in boxes[i])
                ax.add_patch(
                    plt.Rectangle(
                        (c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, ec="lime", lw=1
                    )
                )
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(name, fontsize=8)
            if r == 0 and titles is not None:
                ax.set_title(titles[i], fontsize=7)
    fig.tight_layout()
    return _save(fig, Path(path))
