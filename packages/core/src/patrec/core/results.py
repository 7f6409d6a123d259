"""The layout of ``metrics.json``, written down once and enforced before every write.

Every recipe's result is one JSON object::

    {
      "method": "core/ncds",                  # the registered name
      "primary": "accuracy",                  # the metric that decides the comparison
      "higher_is_better": true,
      "ours": "ncds",                         # the variant that is the paper's method
      "baselines": ["ce", "cds"],             # variants it is compared with
      "variants": {                           # variant -> metric -> value
        "ncds": {
          "accuracy": {"mean": 0.98, "std": 0.01, "min": ..., "max": ..., "n": 3,
                       "values": [0.97, 0.99, 0.98]},   # a summary over seeds
          "params": 12345,                    # a number (or null for NaN, or a string)
          "dice": {"source": {"mean": ...}, "dark": {"mean": ...}}  # per test group
        }, ...
      },
      "compare": {"ce": {"ours": 0.98, "baseline": 0.97, "delta": 0.01, "ours_better": true}},
      "plots": ["accuracy.png", ...],         # file names in the run folder
      ...                                     # any other key: the recipe's own JSON extras
    }

A metric value is one of:

- a **number**, ``null`` (a NaN), a **bool** or a **string** (a note such as a schedule);
- a **summary**: a dict with ``mean`` and ``std`` (numbers or null) and optionally ``min``,
  ``max``, ``n`` and ``values`` (the per-seed numbers), as :func:`~patrec.core.report.
  summarize_seeds` makes;
- a **group**: a dict of group name (test domain, benchmark, class) -> number, null or
  summary; one level only.

The primary metric of ``ours`` and of every baseline is a number or a summary (not a group).
:func:`validate_metrics` checks all of this and raises
:class:`~patrec.core.errors.MetricsError` naming the method and the offending key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from patrec.core.errors import MetricsError

__all__ = [
    "REQUIRED_KEYS",
    "SUMMARY_KEYS",
    "is_group",
    "is_summary",
    "metric_kind",
    "scalar",
    "validate_metrics",
]

REQUIRED_KEYS = ("method", "primary", "higher_is_better", "ours", "baselines", "variants")
SUMMARY_KEYS = frozenset({"mean", "std", "min", "max", "n", "values"})


def _is_num(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def is_summary(v: Any) -> bool:
    """A ``{mean, std, ...}`` summary over seeds."""
    return isinstance(v, Mapping) and "mean" in v and "std" in v and set(v) <= SUMMARY_KEYS


def is_group(v: Any) -> bool:
    """A dict of group -> number or summary (a metric per test domain, benchmark, ...)."""
    return (
        isinstance(v, Mapping)
        and len(v) > 0
        and not is_summary(v)
        and all(isinstance(k, str) and (_is_num(x) or is_summary(x)) for k, x in v.items())
    )


def metric_kind(v: Any) -> str:
    """``"number"``, ``"summary"``, ``"group"``, ``"text"`` or ``"invalid"``."""
    if _is_num(v) or isinstance(v, bool):
        return "number"
    if isinstance(v, str):
        return "text"
    if is_summary(v):
        return "summary"
    if is_group(v):
        return "group"
    return "invalid"


def scalar(v: Any) -> float:
    """The number a metric stands for: a number itself or a summary's mean (NaN for null)."""
    if isinstance(v, Mapping):
        v = v.get("mean")
    return float("nan") if v is None else float(v)


def _check_summary(where: str, v: Mapping[str, Any]) -> None:
    for k in ("mean", "std", "min", "max", "n"):
        if k in v and not _is_num(v[k]):
            raise MetricsError(f"{where}.{k}: expected a number or null, got {v[k]!r}")
    vals = v.get("values")
    if vals is not None and (
        not isinstance(vals, Sequence) or isinstance(vals, str) or not all(_is_num(x) for x in vals)
    ):
        raise MetricsError(f"{where}.values: expected a list of numbers, got {vals!r}")


def validate_metrics(content: Mapping[str, Any], method: str | None = None) -> None:
    """Check a ``metrics.json`` content against the layout; raise on the first mismatch.

    Args:
        content: what a recipe is about to write (already JSON-clean: NaN as ``None``).
        method: the method's registered name, for the message (else ``content["method"]``).

    Raises:
        MetricsError: ``"<method>: metrics.json <key>: expected ..., got ..."``.
    """
    name = method or str(content.get("method", "?"))

    def fail(key: str, msg: str) -> MetricsError:
        return MetricsError(f"{name}: metrics.json {key}: {msg}")

    if not isinstance(content, Mapping):
        raise fail("(top level)", f"expected an object, got {type(content).__name__}")
    for k in REQUIRED_KEYS:
        if k not in content:
            raise fail(k, "missing")
    if not isinstance(content["method"], str) or "/" not in content["method"]:
        raise fail("method", f"expected '<package>/<slug>', got {content['method']!r}")
    if method is not None and content["method"] != method:
        raise fail("method", f"expected {method!r}, got {content['method']!r}")
    if not isinstance(content["primary"], str):
        raise fail("primary", f"expected a metric name, got {content['primary']!r}")
    if not isinstance(content["higher_is_better"], bool):
        raise fail(
            "higher_is_better", f"expected true or false, got {content['higher_is_better']!r}"
        )
    variants = content["variants"]
    if not isinstance(variants, Mapping) or not variants:
        raise fail("variants", "expected a non-empty object of variant -> metrics")
    for v, vm in variants.items():
        if not isinstance(vm, Mapping):
            raise fail(f"variants.{v}", f"expected an object of metrics, got {vm!r}")
        for k, x in vm.items():
            where = f"variants.{v}.{k}"
            kind = metric_kind(x)
            if kind == "invalid":
                raise fail(
                    where,
                    "expected a number, null, string, {mean, std, ...} summary or a dict of "
                    f"group -> number/summary, got {_short(x)}",
                )
            if kind == "summary":
                _check_summary(f"{name}: metrics.json {where}", x)
            if kind == "group":
                for g, gx in x.items():
                    if is_summary(gx):
                        _check_summary(f"{name}: metrics.json {where}.{g}", gx)
    ours, baselines = content["ours"], content["baselines"]
    if ours not in variants:
        raise fail("ours", f"{ours!r} is not a variant (variants: {', '.join(variants)})")
    if not isinstance(baselines, Sequence) or isinstance(baselines, str):
        raise fail("baselines", f"expected a list of variant names, got {baselines!r}")
    primary = content["primary"]
    for v in [ours, *baselines]:
        if v not in variants:
            raise fail("baselines", f"{v!r} is not a variant (variants: {', '.join(variants)})")
        if primary not in variants[v]:
            raise fail(f"variants.{v}.{primary}", "the primary metric is missing")
        if metric_kind(variants[v][primary]) not in ("number", "summary") or isinstance(
            variants[v][primary], bool
        ):
            raise fail(
                f"variants.{v}.{primary}",
                f"the primary metric must be a number or a summary, got "
                f"{_short(variants[v][primary])}",
            )
    compare = content.get("compare", {})
    if not isinstance(compare, Mapping):
        raise fail("compare", "expected an object of baseline -> comparison")
    for b, c in compare.items():
        if not isinstance(c, Mapping) or not {"ours", "baseline", "delta"} <= set(c):
            raise fail(f"compare.{b}", f"expected {{ours, baseline, delta, ...}}, got {c!r}")
        for k in ("ours", "baseline", "delta"):
            if not _is_num(c[k]):
                raise fail(f"compare.{b}.{k}", f"expected a number or null, got {c[k]!r}")
    plots = content.get("plots", [])
    if not isinstance(plots, Sequence) or isinstance(plots, str):
        raise fail("plots", f"expected a list of file names, got {plots!r}")
    for p in plots:
        if not isinstance(p, str) or Path(p).name != p:
            raise fail("plots", f"expected file names in the run folder, got {p!r}")


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def finite_or_none(x: float) -> float | None:
    """``x``, or ``None`` when it is NaN or infinite (JSON has no NaN)."""
    return x if math.isfinite(x) else None
