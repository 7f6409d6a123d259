"""Dataclass configs, cited presets and dotted overrides.

A method's config is a (possibly nested) dataclass. Each field may carry where its value
comes from with :func:`param`::

    @dataclass
    class OptimConfig:
        lr: float = param(0.1, "SGD learning rate", source="not in the text; CDS default", gt=0)

A method has at least two presets, ``paper`` (the paper's hyperparameters, cited) and
``smoke`` (CPU scale, seconds). Overrides use dotted keys, as on the command line
(``--set optim.lr=3e-4``); each value is parsed to the field's declared type, and an
unknown key or an ill-typed value raises :class:`~patrec.core.errors.ConfigError` naming
what is accepted.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from patrec.core.errors import ConfigError

__all__ = [
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "describe_config",
    "declares_bounds",
    "flat_keys",
    "numeric_fields",
    "param",
    "parse_override",
    "save_config",
    "validate_config",
]

T = TypeVar("T")


def param(
    default: Any,
    doc: str = "",
    *,
    source: str = "",
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Iterable[Any] | None = None,
    min_len: int | None = None,
    allow_inf: bool = False,
    unbounded: bool = False,
) -> Any:
    """A dataclass field with a description, the source of its value and its bounds.

    Args:
        default: the default value (lists/dicts/dataclasses are copied per instance).
        doc: what the field means.
        source: where the value comes from (``"Sec. 3.3, eq. 9"``, ``"not stated; our choice"``).
        ge, gt, le, lt: bounds of a number (of every element of a tuple of numbers),
            checked by :func:`validate_config` before a recipe starts.
        choices: the accepted values (of every element, for a tuple field).
        min_len: the fewest elements of a tuple/list field (``1``: not empty).
        allow_inf: accept +-infinity in a float field (NaN is never accepted).
        unbounded: say that a numeric field has no bound on purpose (every numeric field of
            a registered method declares bounds or this; a test checks it).
    """
    metadata: dict[str, Any] = {"doc": doc, "source": source}
    bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt}
    metadata.update({k: v for k, v in bounds.items() if v is not None})
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if min_len is not None:
        metadata["min_len"] = min_len
    if allow_inf:
        metadata["allow_inf"] = True
    if unbounded:
        metadata["unbounded"] = True
    if isinstance(default, (list, dict, set)) or dataclasses.is_dataclass(default):
        import copy

        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


_BOUND_KEYS = ("ge", "gt", "le", "lt", "choices")
_SEED_NAMES = ("seed", "seeds")
_SEED_MAX = 2**32 - 1


def _check_number(key: str, v: Any, meta: Mapping[str, Any]) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return
    if isinstance(v, float) and math.isnan(v):
        raise ConfigError(f"{key} must be a number, got nan")
    if isinstance(v, float) and math.isinf(v) and not meta.get("allow_inf"):
        raise ConfigError(f"{key} must be finite, got {v}")
    for name, sym, ok in (
        ("ge", ">=", lambda a, b: a >= b),
        ("gt", ">", lambda a, b: a > b),
        ("le", "<=", lambda a, b: a <= b),
        ("lt", "<", lambda a, b: a < b),
    ):
        b = meta.get(name)
        if b is not None and not ok(v, b):
            raise ConfigError(f"{key} must be {sym} {b}, got {v}")


def validate_config(cfg: Any, prefix: str = "") -> Any:
    """Check every field of ``cfg`` against its declared bounds; return ``cfg``.

    Rules, for each leaf field (and each element of a tuple/list field):

    - a float is never NaN, and infinite only where the field says ``allow_inf``;
    - ``ge``/``gt``/``le``/``lt`` and ``choices`` declared with :func:`param` hold;
    - a field called ``seed`` or ``seeds`` holds integers in [0, 2**32 - 1];
    - ``min_len`` holds for tuples and lists.

    Then a nested config class may add rules between its fields in a ``validate(self)``
    method, which raises :class:`ConfigError`; it is called after its fields passed.

    Raises:
        ConfigError: naming the dotted key, what it must be and what it is.
    """
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise ConfigError(f"expected a dataclass config instance, got {type(cfg).__name__}")
    for f in dataclasses.fields(cfg):
        key = f"{prefix}{f.name}"
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            validate_config(v, key + ".")
            continue
        meta = dict(f.metadata)
        if f.name in _SEED_NAMES:
            meta.setdefault("ge", 0)
            meta.setdefault("le", _SEED_MAX)
        items = list(v) if isinstance(v, (tuple, list)) else [v]
        if isinstance(v, (tuple, list)) and "min_len" in meta and len(v) < meta["min_len"]:
            what = "not be empty" if meta["min_len"] == 1 else f"have >= {meta['min_len']} items"
            raise ConfigError(f"{key} must {what}, got {v!r}")
        for item in items:
            _check_number(key, item, meta)
            choices = meta.get("choices")
            if choices is not None and item not in choices:
                shown = ", ".join(str(c) for c in choices)
                raise ConfigError(f"{key}: expected one of {shown}, got {item!r}")
    check = getattr(cfg, "validate", None)
    if callable(check):
        try:
            check()
        except ConfigError as e:
            raise ConfigError(
                f"{prefix}{e}" if prefix and not str(e).startswith(prefix) else str(e)
            ) from None
    return cfg


def numeric_fields(cfg_or_cls: Any, prefix: str = "") -> dict[str, dataclasses.Field[Any]]:
    """Every dotted key whose declared type is numeric (int, float, or a tuple of them)."""
    cls = cfg_or_cls if isinstance(cfg_or_cls, type) else type(cfg_or_cls)
    hints = _hints(cls)
    out: dict[str, dataclasses.Field[Any]] = {}
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name, f.type)
        key = f"{prefix}{f.name}"
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out.update(numeric_fields(tp, key + "."))
        elif _is_numeric(tp):
            out[key] = f
    return out


def _is_numeric(tp: Any) -> bool:
    if tp in (int, float):
        return True
    origin = get_origin(tp)
    if origin in (Union, types.UnionType, tuple, list):
        return any(_is_numeric(a) for a in get_args(tp) if a is not Ellipsis)
    return False


def declares_bounds(f: dataclasses.Field[Any]) -> bool:
    """Whether a field states its range (bounds, choices, a seed, or ``unbounded``)."""
    return f.name in _SEED_NAMES or any(k in f.metadata for k in (*_BOUND_KEYS, "unbounded"))


def _hints(cls: type) -> dict[str, Any]:
    try:
        return get_type_hints(cls)
    except Exception:  # pragma: no cover - unresolved forward refs
        return {f.name: f.type for f in dataclasses.fields(cls)}


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain JSON-able data (tuples become lists)."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise ConfigError(f"expected a dataclass config instance, got {type(cfg).__name__}")

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    out = conv(cfg)
    assert isinstance(out, dict)
    return out


def flat_keys(cfg_or_cls: Any, prefix: str = "") -> dict[str, Any]:
    """Every dotted key of a config (class or instance) mapped to its declared type."""
    cls = cfg_or_cls if isinstance(cfg_or_cls, type) else type(cfg_or_cls)
    hints = _hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name, f.type)
        key = f"{prefix}{f.name}"
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out.update(flat_keys(tp, key + "."))
        else:
            out[key] = tp
    return out


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin in (tuple, list):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        inner = _type_name(args[0]) if args else "value"
        return f"comma-separated {inner}s"
    if tp is type(None):
        return "none"
    return getattr(tp, "__name__", str(tp))


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse(text: str, tp: Any, key: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return _parse_literal(text)
    if origin is Literal:
        for choice in get_args(tp):
            if str(choice) == text:
                return choice
        raise ConfigError(f"{key}: expected one of {_type_name(tp)}, got {text!r}")
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if type(None) in args and text.lower() in {"none", "null", ""}:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _parse(text, a, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {text!r}")
    if origin in (tuple, list):
        elems = [a for a in get_args(tp) if a is not Ellipsis]
        inner = elems[0] if elems else Any
        parts = [p.strip() for p in text.strip("()[]").split(",") if p.strip()]
        vals = [_parse(p, inner, key) for p in parts]
        return tuple(vals) if origin is tuple else vals
    if tp is bool:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"{key}: expected a bool (true/false), got {text!r}")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{key}: expected an int, got {text!r}") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key}: expected a float, got {text!r}") from None
    if tp is str:
        return text
    if tp is Path:
        return Path(text)
    raise ConfigError(f"{key}: cannot set a field of type {_type_name(tp)} from the command line")


def _parse_literal(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_override(item: str) -> tuple[str, str]:
    """Split ``"a.b=value"`` into ``("a.b", "value")``."""
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected key=value, e.g. optim.lr=0.01")
    key, value = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {item!r}: the key before '=' is empty")
    return key, value.strip()


def _check_value(value: Any, tp: Any, key: str) -> Any:
    """Check (and lightly coerce) a Python value given in a dict override."""
    if isinstance(value, str) and tp is not str and get_origin(tp) is not Literal:
        return _parse(value, tp, key)
    origin = get_origin(tp)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (tuple, list) and isinstance(value, (list, tuple)):
        elems = [a for a in get_args(tp) if a is not Ellipsis]
        inner = elems[0] if elems else Any
        vals = [_check_value(v, inner, key) for v in value]
        return tuple(vals) if origin is tuple else vals
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{key}: expected one of {_type_name(tp)}, got {value!r}")
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _check_value(value, a, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if isinstance(tp, type) and tp is not Any:
        if tp is int and isinstance(value, bool):
            raise ConfigError(f"{key}: expected an int, got {value!r}")
        if not isinstance(value, tp):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    return value


def apply_overrides(cfg: T, overrides: Iterable[str] | Mapping[str, Any]) -> T:
    """A copy of ``cfg`` with dotted overrides applied.

    Args:
        cfg: a dataclass config instance (not modified).
        overrides: ``["optim.lr=3e-4", ...]`` as on the command line, or a mapping
            ``{"optim.lr": 3e-4}``. String values are parsed to the field's type.

    Raises:
        ConfigError: unknown key (the message lists the accepted keys) or ill-typed value.
    """
    import copy

    new = copy.deepcopy(cfg)
    keys = flat_keys(new)
    items: list[tuple[str, Any]]
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = [parse_override(o) for o in overrides]
    for key, raw in items:
        if key not in keys:
            close = [k for k in keys if key.split(".")[-1] in k]
            hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
            raise ConfigError(
                f"unknown config key {key!r}{hint}; accepted keys: {', '.join(sorted(keys))}"
            )
        tp = keys[key]
        value = _parse(raw, tp, key) if isinstance(raw, str) else _check_value(raw, tp, key)
        *path, leaf = key.split(".")
        obj: Any = new
        for p in path:
            obj = getattr(obj, p)
        setattr(obj, leaf, value)
    return validate_config(new)


def config_from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Rebuild a config of class ``cls`` from :func:`config_to_dict` output."""
    flat: dict[str, Any] = {}

    def walk(d: Mapping[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, Mapping):
                walk(v, f"{prefix}{k}.")
            else:
                flat[f"{prefix}{k}"] = v

    walk(data, "")
    return apply_overrides(cls(), flat)


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config as JSON (atomically) and return the path."""
    from patrec.core.report import atomic_write_text

    path = Path(path)
    atomic_write_text(path, json.dumps(config_to_dict(cfg), indent=2, sort_keys=False) + "\n")
    return path


def describe_config(cfg: Any) -> list[tuple[str, Any, str, str]]:
    """``(key, value, doc, source)`` for every leaf field, for ``patrec info``."""
    rows: list[tuple[str, Any, str, str]] = []

    def walk(obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if dataclasses.is_dataclass(v) and not isinstance(v, type):
                walk(v, f"{prefix}{f.name}.")
            else:
                rows.append(
                    (
                        f"{prefix}{f.name}",
                        v,
                        f.metadata.get("doc", ""),
                        f.metadata.get("source", ""),
                    )
                )

    walk(cfg, "")
    return rows
