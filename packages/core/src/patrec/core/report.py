"""Run reports: ``metrics.json``, the resolved config, PNG plots, and the reproduce report.

A recipe writes into its run directory::

    <out>/config.json       the resolved config (after preset and overrides)
    <out>/metrics.json      {"method": ..., "primary": "accuracy", "higher_is_better": true,
                             "variants": {"ncds": {...}, "ce": {...}}, "compare": {...}, ...}
    <out>/*.png             loss curves, bar charts, example outputs

:func:`write_metrics` fills the ``compare`` block: for the method's own variant against
each baseline, the difference on the primary metric. :func:`write_reproduce_report`
gathers several runs into one markdown file with their plots.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "plot_bars",
    "plot_curves",
    "run_once",
    "summarize_seeds",
    "write_metrics",
    "write_reproduce_report",
]


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename.

    A reader (or a run killed mid-write) never sees a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def run_once(
    run_dir: str | Path, compute: Callable[[], Mapping[str, Any]], *, write: bool = True
) -> dict[str, Any]:
    """The result of one (variant, seed) run of a recipe, computed at most once per folder.

    If ``run_dir/result.json`` exists (a previous call finished), it is read back; otherwise
    ``compute()`` runs and its result is written there atomically, so an interrupted recipe
    redoes only unfinished runs. JSON-able values go to ``result.json``; a ``"tensors"`` entry
    (name -> tensor, e.g. example predictions) goes to ``result.safetensors``, written first,
    and comes back under the same key. ``write=False`` (a non-main process under DDP)
    computes without writing.
    """
    run_dir = Path(run_dir)
    done, tens = run_dir / "result.json", run_dir / "result.safetensors"
    if done.is_file():
        res: dict[str, Any] = json.loads(done.read_text())
        if tens.is_file():
            from safetensors.torch import load_file

            res["tensors"] = load_file(str(tens))
        return res
    res = dict(compute())
    if write:
        run_dir.mkdir(parents=True, exist_ok=True)
        tensors = res.pop("tensors", None)
        if tensors:
            from safetensors.torch import save as save_bytes

            state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
            atomic_write_bytes(tens, save_bytes(state))
        atomic_write_text(done, json.dumps(res, indent=1, allow_nan=True))
        if tensors is not None:
            res["tensors"] = tensors
    return res


def _clean(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "item") and callable(v.item):
        try:
            return _clean(v.item())
        except (ValueError, RuntimeError):
            return _clean(v.tolist())
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Path):
        return str(v)
    return v


def summarize_seeds(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample std, min and max over seeds."""
    import statistics

    vals = [float(v) for v in values]
    return {
        "mean": statistics.fmean(vals),
        "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
        "min": min(vals),
        "max": max(vals),
        "n": float(len(vals)),
    }


def write_metrics(
    out_dir: str | Path,
    *,
    method: str,
    variants: Mapping[str, Mapping[str, Any]],
    primary: str,
    ours: str,
    baselines: Sequence[str],
    higher_is_better: bool = True,
    extra: Mapping[str, Any] | None = None,
    plots: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Write ``metrics.json`` and return its content.

    Args:
        variants: variant name -> metrics; the primary metric may be a number or a
            :func:`summarize_seeds` dict (its ``mean`` is compared).
        primary: the metric that decides the comparison, e.g. ``"accuracy"``.
        ours: the variant that is the paper's method; ``baselines``: the others compared.
    """

    def val(name: str) -> float:
        v = variants[name][primary]
        return float(v["mean"] if isinstance(v, Mapping) else v)

    compare = {}
    for b in baselines:
        delta = val(ours) - val(b)
        compare[b] = {
            "ours": val(ours),
            "baseline": val(b),
            "delta": delta,
            "ours_better": delta > 0 if higher_is_better else delta < 0,
        }
    content = {
        "method": method,
        "primary": primary,
        "higher_is_better": higher_is_better,
        "ours": ours,
        "baselines": list(baselines),
        "variants": _clean(variants),
        "compare": compare,
        "plots": [Path(p).name for p in plots],
    }
    if extra:
        content.update(_clean(dict(extra)))
    atomic_write_text(Path(out_dir) / "metrics.json", json.dumps(content, indent=2) + "\n")
    return content


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def plot_curves(
    curves: Mapping[str, Sequence[float] | Sequence[Sequence[float]]],
    path: str | Path,
    *,
    title: str = "",
    xlabel: str = "epoch",
    ylabel: str = "",
) -> Path:
    """One line per curve; a list of lists (one per seed) is drawn as mean ± std band."""
    import numpy as np

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, ys in curves.items():
        arr = np.asarray(ys, dtype=float)
        if arr.ndim == 2:
            m, s = arr.mean(0), arr.std(0)
            x = np.arange(1, m.size + 1)
            ax.plot(x, m, label=name)
            ax.fill_between(x, m - s, m + s, alpha=0.2)
        else:
            ax.plot(np.arange(1, arr.size + 1), arr, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, Path(path))


def plot_bars(
    values: Mapping[str, float | Mapping[str, float]],
    path: str | Path,
    *,
    title: str = "",
    ylabel: str = "",
    highlight: str | None = None,
) -> Path:
    """A bar per entry; a :func:`summarize_seeds` dict gets a std error bar."""
    plt = _plt()
    names = list(values)
    means = [float(v["mean"]) if isinstance(v, Mapping) else float(v) for v in values.values()]
    stds = [float(v.get("std", 0.0)) if isinstance(v, Mapping) else 0.0 for v in values.values()]
    colors = ["tab:orange" if n == highlight else "tab:blue" for n in names]
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 4))
    bars = ax.bar(names, means, yerr=stds, color=colors, capsize=4)
    for b, m in zip(bars, means, strict=True):
        ax.annotate(f"{m:.3f}", (b.get_x() + b.get_width() / 2, m), ha="center", va="bottom")
    lo = min(m - s for m, s in zip(means, stds, strict=True))
    hi = max(m + s for m, s in zip(means, stds, strict=True))
    pad = max((hi - lo) * 0.5, 1e-3)
    ax.set_ylim(max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, Path(path))


def write_reproduce_report(
    out_dir: str | Path, runs: Sequence[Mapping[str, Any]], *, title: str = "patrec reproduce"
) -> Path:
    """Gather runs (each: ``name``, ``dir``, ``metrics`` or ``error``) into ``report.md``."""
    out = Path(out_dir)
    lines = [f"# {title}", ""]
    lines += [
        "Each method's smoke recipe, run on embedded data against the baseline(s) the paper",
        "compares with, with the same seeds and budget. Smoke scale is far below the paper's:",
        "these numbers check that the pipeline works, they do not reproduce the paper's tables.",
        "",
        "| method | primary metric | ours | baseline | ours − baseline | wall time (s) |",
        "|---|---|---|---|---|---|",
    ]
    details: list[str] = []
    for run in runs:
        name = run["name"]
        if "error" in run:
            lines.append(f"| `{name}` | failed: {run['error']} | | | | |")
            continue
        m = run["metrics"]
        for b, c in m.get("compare", {}).items():
            lines.append(
                f"| `{name}` | {m['primary']} | {m['ours']}: {c['ours']:.4f} | "
                f"{b}: {c['baseline']:.4f} | {c['delta']:+.4f} | {run.get('seconds', 0):.1f} |"
            )
        rel = os.path.relpath(run["dir"], out)
        details += [f"## `{name}`", "", f"Run folder: `{rel}`", ""]
        for v, vm in m.get("variants", {}).items():
            shown = ", ".join(
                f"{k} {x['mean']:.4f} ± {x['std']:.4f}"
                if isinstance(x, Mapping)
                else f"{k} {x:.4g}"
                for k, x in vm.items()
                if isinstance(x, (int, float, Mapping))
            )
            details.append(f"- **{v}**: {shown}")
        details.append("")
        for p in m.get("plots", []):
            details.append(f"![{p}]({rel}/{p})")
        details.append("")
    text = "\n".join(lines + [""] + details) + "\n"
    return atomic_write_text(out / "report.md", text)
