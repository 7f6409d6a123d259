"""Save a trained model to a local folder and load it back, ready for inference.

A method's main model class derives from :class:`PretrainedModel` (huggingface_hub's
``PyTorchModelHubMixin``: the ``__init__`` arguments go to ``config.json``, the weights to
``model.safetensors``), so a user can::

    model.save_pretrained("runs/ncds/model")
    model = SmallCNN.from_pretrained("runs/ncds/model")        # or, knowing only the method:
    model = get_method("core/ncds").load_model("runs/ncds/model")

Everything is local: :meth:`PretrainedModel.from_pretrained` reads a folder and never asks
a hub (a missing folder is a :class:`~patrec.core.errors.DataError`). The ``__init__``
arguments of such a class must be JSON-able (numbers, strings, lists, dicts).

:func:`save_model` writes the folder a recipe leaves as ``<out>/model/``: the mixin's files,
``patrec_model.json`` (which class to rebuild) and, given example inputs, ``example.safetensors``
with those inputs and the model's outputs on them, so that :func:`verify_saved_model` can
check that the loaded model gives the same predictions.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from patrec.core.errors import ConfigError, DataError

__all__ = [
    "PretrainedModel",
    "copy_model_dir",
    "load_example",
    "load_model",
    "save_model",
    "verify_saved_model",
]

MODEL_INFO = "patrec_model.json"
EXAMPLE = "example.safetensors"


class PretrainedModel(PyTorchModelHubMixin):
    """``save_pretrained(dir)`` / ``from_pretrained(dir)`` for a module, local folders only.

    Mix it in after ``nn.Module``: ``class SmallCNN(StagedBackbone, PretrainedModel)``.
    """

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs: Any) -> Any:  # type: ignore[override]
        """The model saved in the local folder ``path``, in eval mode."""
        folder = Path(path)
        if not (folder / "config.json").is_file() and not (folder / "model.safetensors").is_file():
            raise DataError(
                f"{folder}: no saved model here (expected config.json, model.safetensors)"
            )
        kwargs.setdefault("local_files_only", True)
        model: Any = super().from_pretrained(str(folder), **kwargs)
        model.eval()
        return model


def _flat(prefix: str, value: Any) -> dict[str, torch.Tensor]:
    if torch.is_tensor(value):
        return {prefix: value.detach().cpu().contiguous()}
    if isinstance(value, Mapping):
        out: dict[str, torch.Tensor] = {}
        for k, v in value.items():
            out.update(_flat(f"{prefix}.{k}", v))
        return out
    if isinstance(value, (tuple, list)):
        out = {}
        for i, v in enumerate(value):
            out.update(_flat(f"{prefix}.{i}", v))
        return out
    return {}


def _call(model: nn.Module, inputs: Any) -> Any:
    with torch.no_grad():
        if isinstance(inputs, Mapping):
            return model(**inputs)
        if isinstance(inputs, (tuple, list)):
            return model(*inputs)
        return model(inputs)


def save_model(model: nn.Module, path: str | Path, example: Any = None) -> Path:
    """Save ``model`` (a :class:`PretrainedModel`) to ``path`` atomically, with examples.

    Args:
        example: inputs of ``model`` (a tensor, a tuple of positional tensors or a dict of
            keyword tensors); the outputs of the model in eval mode on them are saved too.
    """
    if not hasattr(model, "save_pretrained"):
        raise ConfigError(
            f"{type(model).__name__} cannot be saved: "
            "derive it from patrec.core.hub.PretrainedModel"
        )
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        was_training = model.training
        model.eval()
        cast(Any, model).save_pretrained(str(tmp))
        info: dict[str, Any] = {"class": f"{type(model).__module__}:{type(model).__qualname__}"}
        if example is not None:
            dev = next((p.device for p in model.parameters()), torch.device("cpu"))
            ex = _to(example, dev)
            tensors = {**_flat("input", example), **_flat("output", _call(model, ex))}
            tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
            save_file(tensors, str(tmp / EXAMPLE))
            info["example_inputs"] = _layout(example)
        model.train(was_training)
        (tmp / MODEL_INFO).write_text(json.dumps(info, indent=1) + "\n")
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _layout(example: Any) -> Any:
    if isinstance(example, Mapping):
        return {"kind": "kwargs", "names": list(example)}
    if isinstance(example, (tuple, list)):
        return {"kind": "args", "count": len(example)}
    return {"kind": "tensor"}


def _to(x: Any, dev: torch.device) -> Any:
    if torch.is_tensor(x):
        return x.to(dev)
    if isinstance(x, Mapping):
        return {k: _to(v, dev) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(_to(v, dev) for v in x)
    return x


def load_model(path: str | Path, default_class: Any = None) -> nn.Module:
    """The model saved by :func:`save_model` in ``path``, in eval mode.

    ``default_class`` (a class or ``"module:Class"``) is used when given; otherwise the class
    recorded in ``patrec_model.json``.
    """
    from patrec.core.registry import resolve

    folder = Path(path)
    info_file = folder / MODEL_INFO
    if default_class is not None:  # the caller knows the class (e.g. the registered method)
        cls = resolve(default_class)
    elif info_file.is_file():
        cls = resolve(json.loads(info_file.read_text())["class"])
    else:
        raise DataError(f"{folder}: no saved patrec model here (expected {MODEL_INFO})")
    model: nn.Module = cls.from_pretrained(folder)
    model.eval()
    return model


def load_example(path: str | Path) -> tuple[Any, dict[str, torch.Tensor]]:
    """The example inputs (as the model takes them) and outputs saved beside a model."""
    from safetensors.torch import load_file

    folder = Path(path)
    if not (folder / EXAMPLE).is_file():
        raise DataError(f"{folder}: no {EXAMPLE} (the model was saved without examples)")
    tensors = load_file(str(folder / EXAMPLE))
    layout = json.loads((folder / MODEL_INFO).read_text())["example_inputs"]
    outputs = {k: v for k, v in tensors.items() if k.startswith("output")}
    if layout["kind"] == "kwargs":
        return {n: tensors[f"input.{n}"] for n in layout["names"]}, outputs
    if layout["kind"] == "args":
        return tuple(tensors[f"input.{i}"] for i in range(layout["count"])), outputs
    return tensors["input"], outputs


def verify_saved_model(path: str | Path, default_class: Any = None) -> float:
    """Load the model in ``path``, rerun its saved example inputs; the largest output change.

    Raises:
        DataError: no saved model or examples in ``path``, or outputs of another structure.
    """
    model = load_model(path, default_class)
    inputs, saved = load_example(path)
    got = {k: v.float() for k, v in _flat("output", _call(model, inputs)).items()}
    if set(got) != set(saved):
        raise DataError(f"{path}: outputs {sorted(got)} differ from the saved {sorted(saved)}")
    return max(
        (float((got[k] - saved[k].float()).abs().max()) for k in saved if saved[k].numel()),
        default=0.0,
    )


def copy_model_dir(src: str | Path, dst: str | Path) -> Path:
    """Copy a saved model folder to ``dst`` (replacing it) through a temporary folder."""
    src, dst = Path(src), Path(dst)
    tmp = dst.parent / f".{dst.name}.copy"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return dst
