"""Input checks for tensors, arrays and scalars: one module, one message style.

Every public function of a method checks what it is given with these helpers, in the spirit
of kornia's ``KORNIA_CHECK_SHAPE``; a failed check raises
:class:`~patrec.core.errors.InputError` saying what was expected and what came::

    from patrec.core.checks import check_tensor, check_scalar

    def dice_loss(pred, target, eps=1e-6):
        dims = {}
        check_tensor(pred, "B C H W", name="pred", dims=dims, dtype="float", probs=True)
        check_tensor(target, "B C H W", name="target", dims=dims, binary=True)
        check_scalar(eps, "eps", gt=0)

A shape spec is a space-separated list of dimensions:

- a name (``B``, ``C``, ``H``) binds that size; the same name must have the same size
  everywhere in one call and, through a shared ``dims`` dict, across calls;
- an integer (``3``) requires exactly that size; ``_`` accepts any size;
- one ``*`` stands for any number (zero included) of leading or inner dimensions,
  e.g. ``"* C"`` accepts ``(C,)``, ``(B, C)`` and ``(B, T, C)``.

**Value checks and the device.** Shape and dtype checks read only metadata and cost
nothing. Checks of values (``finite``, ``range``, ``binary``, ``probs``, ``nonneg``) need
the tensor's values on the host; on a GPU that is a synchronisation per call. They follow
one process-wide switch, :func:`set_value_checks` (or the environment variable
``PATREC_VALUE_CHECKS``, read at import):

- ``"cpu"`` (the default): values are checked for tensors on the CPU (free: no device to
  wait for) and skipped for tensors on an accelerator;
- ``"all"``: checked everywhere (debugging a GPU run);
- ``"off"``: never checked (the shape and dtype checks still run).

:func:`value_checks` is the same switch as a context manager.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any, Literal

from patrec.core.errors import InputError

__all__ = [
    "as_float_array",
    "check_choice",
    "check_dataset",
    "check_int",
    "check_same_device",
    "check_scalar",
    "check_shape",
    "check_tensor",
    "describe",
    "set_value_checks",
    "value_checks",
]

ValueMode = Literal["cpu", "all", "off"]
DType = Literal["float", "int", "bool", "complex", "number"]

_MODE: ValueMode = "cpu"


def set_value_checks(mode: ValueMode) -> ValueMode:
    """Set when value checks run (``"cpu"``, ``"all"`` or ``"off"``); return the old mode."""
    global _MODE
    if mode not in ("cpu", "all", "off"):
        raise InputError(f"value-check mode must be 'cpu', 'all' or 'off', got {mode!r}")
    old, _MODE = _MODE, mode
    return old


@contextlib.contextmanager
def value_checks(mode: ValueMode) -> Iterator[None]:
    """Run a block with value checks in ``mode`` (see :func:`set_value_checks`)."""
    old = set_value_checks(mode)
    try:
        yield
    finally:
        set_value_checks(old)


_env = os.environ.get("PATREC_VALUE_CHECKS", "").strip().lower()
if _env in ("cpu", "all", "off"):
    _MODE = _env  # type: ignore[assignment]


def describe(x: object) -> str:
    """How a value is shown in an error: a tensor's shape and dtype, else its type."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is not None and dtype is not None:
        dev = getattr(x, "device", None)
        where = f" on {dev}" if dev is not None and str(dev) != "cpu" else ""
        return f"shape {tuple(shape)} {dtype}{where}"
    if isinstance(x, (int, float, str, bool)) or x is None:
        return repr(x)
    return type(x).__name__


def _parse_spec(spec: str | Sequence[str | int]) -> list[str]:
    tokens = spec.split() if isinstance(spec, str) else [str(t) for t in spec]
    if tokens.count("*") > 1:
        raise InputError(f"shape spec {spec!r}: at most one '*'")
    return tokens


def check_shape(
    x: Any,
    spec: str | Sequence[str | int],
    *,
    name: str = "input",
    dims: MutableMapping[str, int] | None = None,
) -> dict[str, int]:
    """Check ``x.shape`` against ``spec``; return (and record in ``dims``) the named sizes.

    Raises:
        InputError: ``x`` has no shape, the wrong number of dimensions, or a size that
            differs from the spec or from an earlier binding of the same name.
    """
    shape = getattr(x, "shape", None)
    if shape is None:
        raise InputError(f"{name} must be a tensor of shape ({_show(spec)}), got {describe(x)}")
    shape = tuple(int(s) for s in shape)
    tokens = _parse_spec(spec)
    bound: MutableMapping[str, int] = dims if dims is not None else {}
    if "*" in tokens:
        i = tokens.index("*")
        head, tail = tokens[:i], tokens[i + 1 :]
        if len(shape) < len(head) + len(tail):
            raise InputError(
                f"{name} must have at least {len(head) + len(tail)} dimensions "
                f"({_show(spec)}), got {describe(x)}"
            )
        pairs = list(zip(head, shape[: len(head)], strict=True))
        pairs += list(zip(tail, shape[len(shape) - len(tail) :], strict=True))
    else:
        if len(shape) != len(tokens):
            raise InputError(
                f"{name} must have {len(tokens)} dimensions ({_show(spec)}), got {describe(x)}"
            )
        pairs = list(zip(tokens, shape, strict=True))
    for tok, size in pairs:
        if tok == "_":
            continue
        if tok.lstrip("-").isdigit():
            if size != int(tok):
                raise InputError(
                    f"{name} must have shape ({_show(spec)}), a size {tok} where it has "
                    f"{size}: got {describe(x)}"
                )
            continue
        if tok in bound and bound[tok] != size:
            raise InputError(
                f"{name} must have {tok} = {bound[tok]} (as given before) in ({_show(spec)}), "
                f"got {tok} = {size}: {describe(x)}"
            )
        bound[tok] = size
    return dict(bound)


def _show(spec: str | Sequence[str | int]) -> str:
    return ", ".join(_parse_spec(spec))


def _dtype_ok(x: Any, family: DType) -> bool:
    import torch

    if isinstance(x, torch.Tensor):
        if family == "float":
            return x.is_floating_point()
        if family == "complex":
            return x.is_complex()
        if family == "bool":
            return x.dtype == torch.bool
        if family == "int":
            return not (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool)
        return x.dtype != torch.bool
    import numpy as np

    kind = np.asarray(x).dtype.kind
    return {
        "float": kind == "f",
        "complex": kind == "c",
        "bool": kind == "b",
        "int": kind in "iu",
        "number": kind in "iufc",
    }[family]


def _values_checked(x: Any) -> bool:
    if _MODE == "off":
        return False
    if _MODE == "all":
        return True
    dev = getattr(x, "device", None)
    return dev is None or getattr(dev, "type", "cpu") == "cpu"


def check_tensor(
    x: Any,
    spec: str | Sequence[str | int] | None = None,
    *,
    name: str = "input",
    dims: MutableMapping[str, int] | None = None,
    dtype: DType | None = None,
    finite: bool = False,
    range: tuple[float | None, float | None] | None = None,
    binary: bool = False,
    probs: bool = False,
    nonneg: bool = False,
    nonempty: bool = False,
    array: bool = False,
) -> Any:
    """Check a tensor (or, with ``array=True``, a NumPy array too) and return it.

    Args:
        spec: shape spec (see the module docstring); ``None`` checks no shape.
        dims: named sizes shared across calls (filled in by this call).
        dtype: ``"float"``, ``"int"``, ``"bool"``, ``"complex"`` or ``"number"``.
        finite: no NaN or infinity.
        range: ``(low, high)`` inclusive bounds, either ``None`` for open.
        binary: every value is 0 or 1 (a mask).
        probs: every value is in [0, 1] (probabilities).
        nonneg: every value is >= 0.
        nonempty: at least one element.

    Value checks (``finite`` ... ``nonneg``) follow :func:`set_value_checks`.
    """
    import torch

    is_tensor = isinstance(x, torch.Tensor)
    if not is_tensor:
        import numpy as np

        if not (array and isinstance(x, np.ndarray)):
            what = "a tensor or array" if array else "a tensor"
            shape = f" of shape ({_show(spec)})" if spec is not None else ""
            raise InputError(f"{name} must be {what}{shape}, got {describe(x)}")
    if spec is not None:
        check_shape(x, spec, name=name, dims=dims)
    if dtype is not None and not _dtype_ok(x, dtype):
        raise InputError(f"{name} must have a {dtype} dtype, got {describe(x)}")
    numel = x.numel() if is_tensor else x.size
    if nonempty and numel == 0:
        raise InputError(f"{name} must not be empty, got {describe(x)}")
    if numel == 0 or not (finite or range or binary or probs or nonneg):
        return x
    if not _values_checked(x):
        return x
    t = x if is_tensor else torch.as_tensor(x)
    if t.is_complex():
        if finite and not bool(torch.isfinite(t).all()):
            raise InputError(f"{name} must hold finite values, got NaN or infinity")
        return x
    tf = t.detach()
    if tf.dtype == torch.bool:
        tf = tf.to(torch.uint8)
    if finite and tf.is_floating_point() and not bool(torch.isfinite(tf).all()):
        raise InputError(f"{name} must hold finite values, got NaN or infinity ({describe(x)})")
    lo: float | None = None
    hi: float | None = None
    what = ""
    if range is not None:
        lo, hi, what = range[0], range[1], "in [{lo}, {hi}]"
    if probs:
        lo, hi, what = 0.0, 1.0, "probabilities in [0, 1]"
    if nonneg and lo is None:
        lo, what = 0.0, ">= 0"
    if lo is not None or hi is not None:
        tmin, tmax = float(tf.min()), float(tf.max())
        if math.isnan(tmin) or math.isnan(tmax):
            raise InputError(f"{name} must hold values {what.format(lo=lo, hi=hi)}, got NaN")
        if (lo is not None and tmin < lo) or (hi is not None and tmax > hi):
            raise InputError(
                f"{name} must hold values {what.format(lo=lo, hi=hi)}, "
                f"got values in [{tmin:.4g}, {tmax:.4g}]"
            )
    if binary and not bool(((tf == 0) | (tf == 1)).all()):
        bad = tf[(tf != 0) & (tf != 1)].flatten()[:3].tolist()
        raise InputError(f"{name} must be a binary mask (values 0 or 1), got values such as {bad}")
    return x


def check_scalar(
    value: Any,
    name: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    finite: bool = True,
    integer: bool = False,
) -> Any:
    """Check a Python (or 0-d tensor) number against bounds; return it as int or float.

    Raises:
        InputError: not a number (a bool is not), not finite, not an integer when
            ``integer``, or outside the bounds.
    """
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    kind = "an int" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name} must be {kind}, got {describe(value)}")
    if integer and not isinstance(value, int):
        if not (isinstance(value, float) and value.is_integer()):
            raise InputError(f"{name} must be an int, got {value!r}")
        value = int(value)
    if finite and isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{name} must be finite, got {value!r}")
    for bound, ok, sym in (
        (ge, lambda v, b: v >= b, ">="),
        (gt, lambda v, b: v > b, ">"),
        (le, lambda v, b: v <= b, "<="),
        (lt, lambda v, b: v < b, "<"),
    ):
        if bound is not None and not ok(value, bound):
            raise InputError(f"{name} must be {sym} {bound}, got {value!r}")
    return value


def check_int(value: Any, name: str, *, ge: int | None = None, le: int | None = None) -> int:
    """:func:`check_scalar` for an integer (``ge=1`` for a positive count)."""
    out: int = check_scalar(value, name, ge=ge, le=le, integer=True)
    return out


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise InputError(f"{name} must be one of {shown}, got {value!r}")
    return value


def as_float_array(x: Any, name: str) -> Any:
    """``x`` (a tensor, array, list or number) as a float64 NumPy array, for array checks.

    Lists of numbers are what a user of a curve-analysis function passes; a tensor is
    detached and moved to the CPU. Anything that is not numbers is an :class:`InputError`.
    """
    import numpy as np
    import torch

    try:
        src = x.detach().cpu() if isinstance(x, torch.Tensor) else x
        return np.asarray(src, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numbers, got {describe(x)}") from exc


def check_dataset(ds: Any, name: str = "dataset") -> int:
    """A map-style, non-empty dataset (``__len__`` and ``__getitem__``); returns its length."""
    try:
        n = len(ds)
    except TypeError:
        raise InputError(
            f"{name} must be a map-style dataset (with __len__ and __getitem__), "
            f"got {type(ds).__name__}"
        ) from None
    if n == 0 or not hasattr(ds, "__getitem__"):
        what = "is empty" if n == 0 else f"has no __getitem__ ({type(ds).__name__})"
        raise InputError(f"{name} {what}")
    return int(n)


def check_same_device(*tensors: Any, names: Sequence[str] = ()) -> None:
    """All tensors on one device."""
    devs = [getattr(t, "device", None) for t in tensors]
    if len({str(d) for d in devs}) > 1:
        shown = ", ".join(
            f"{n} on {d}"
            for n, d in zip(names or [f"arg{i}" for i in range(len(devs))], devs, strict=False)
        )
        raise InputError(f"inputs must be on one device, got {shown}")
