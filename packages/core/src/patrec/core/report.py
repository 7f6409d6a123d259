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
    "plot_grouped_bars",
    "pyplot",
    "run_once",
    "save_figure",
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


def summarize_seeds(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample std, min, max, count and the values themselves, over seeds.

    NaN values (a diverged run) are left out of the statistics but kept in ``values``
    (as ``null`` once written); all NaN gives NaN statistics.
    """
    import statistics

    vals = [float(v) for v in values]
    ok = [v for v in vals if math.isfinite(v)]
    nan = float("nan")
    return {
        "mean": statistics.fmean(ok) if ok else nan,
        "std": statistics.stdev(ok) if len(ok) > 1 else (0.0 if ok else nan),
        "min": min(ok) if ok else nan,
        "max": max(ok) if ok else nan,
        "n": float(len(ok)),
        "values": vals,
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
    """Check the result against the layout of :mod:`patrec.core.results`, write
    ``metrics.json`` and return its content.

    Args:
        variants: variant name -> metrics; the primary metric may be a number or a
            :func:`summarize_seeds` dict (its ``mean`` is compared).

    Raises:
        MetricsError: the result does not follow the layout (the method and key named).
        primary: the metric that decides the comparison, e.g. ``"accuracy"``.
        ours: the variant that is the paper's method; ``baselines``: the others compared.
    """

    from patrec.core.results import scalar, validate_metrics

    content: dict[str, Any] = {
        "method": method,
        "primary": primary,
        "higher_is_better": higher_is_better,
        "ours": ours,
        "baselines": list(baselines),
        "variants": _clean(variants),
        "compare": {},
        "plots": [Path(p).name for p in plots],
    }
    validate_metrics(content, method)  # before the comparison reads the primary metric
    compare: dict[str, Any] = {}
    for b in baselines:
        o, bv = scalar(content["variants"][ours][primary]), scalar(content["variants"][b][primary])
        delta = o - bv
        compare[b] = {
            "ours": o,
            "baseline": bv,
            "delta": delta,
            "ours_better": bool(delta > 0 if higher_is_better else delta < 0),
        }
    content["compare"] = _clean(compare)
    if extra:
        clash = sorted(set(extra) & set(content))
        if clash:
            from patrec.core.errors import MetricsError

            raise MetricsError(f"{method}: metrics.json extra keys {clash} are reserved")
        content.update(_clean(dict(extra)))
    validate_metrics(content, method)
    missing = [p for p in content["plots"] if not (Path(out_dir) / p).is_file()]
    if missing:
        from patrec.core.errors import MetricsError

        raise MetricsError(f"{method}: metrics.json plots: {missing} not in {out_dir}")
    atomic_write_text(Path(out_dir) / "metrics.json", json.dumps(content, indent=2) + "\n")
    return content


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, *, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG atomically (a killed run leaves no half file) and close it."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


_plt = pyplot
_save = save_figure


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


def plot_grouped_bars(
    values: Mapping[str, Mapping[str, float | Mapping[str, float]]],
    path: str | Path,
    *,
    title: str = "",
    ylabel: str = "",
    highlight: str | None = None,
) -> Path:
    """Bars grouped by test group (domain, benchmark, class), one colour per variant.

    ``values``: variant -> group -> number or :func:`summarize_seeds` dict (std error bar).
    """
    import numpy as np

    plt = _plt()
    variants = list(values)
    groups = list(dict.fromkeys(g for vm in values.values() for g in vm))
    width = 0.8 / max(len(variants), 1)
    fig, ax = plt.subplots(figsize=(max(1.2 * len(groups) * max(len(variants), 1) * 0.5, 5), 4))
    x = np.arange(len(groups))
    for i, v in enumerate(variants):
        ms, ss = [], []
        for g in groups:
            e = values[v].get(g, float("nan"))
            ms.append(_num(e["mean"] if isinstance(e, Mapping) else e))
            ss.append(_num(e.get("std", 0.0)) if isinstance(e, Mapping) else 0.0)
        ax.bar(
            x + (i - (len(variants) - 1) / 2) * width,
            ms,
            width,
            yerr=ss,
            capsize=3,
            label=v,
            edgecolor="black" if v == highlight else None,
            linewidth=1.5 if v == highlight else 0.0,
        )
    ax.set_xticks(x, groups, rotation=20 if len(groups) > 4 else 0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, Path(path))


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _fmt(x: Any) -> str:
    """A metric value for a table cell: ``m ± s`` for a summary, ``-`` for null."""
    from patrec.core.results import is_summary

    if x is None:
        return "–"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, str):
        return x
    if is_summary(x):
        m, s = x.get("mean"), x.get("std")
        if m is None:
            return "–"
        return f"{m:.4g} ± {s:.2g}" if s is not None else f"{m:.4g}"
    if isinstance(x, (int, float)):
        return f"{x:.4g}"
    return str(x)


def _variant_tables(variants: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Markdown tables of every variant's metrics: one for plain metrics, one per group."""
    from patrec.core.results import metric_kind

    plain: list[str] = []
    grouped: list[str] = []
    for vm in variants.values():
        for k, x in vm.items():
            kind = metric_kind(x)
            target = grouped if kind == "group" else plain
            if k not in target:
                target.append(k)
    out: list[str] = []
    if plain:
        out += ["| variant | " + " | ".join(plain) + " |", "|---" * (len(plain) + 1) + "|"]
        for v, vm in variants.items():
            out.append(f"| {v} | " + " | ".join(_fmt(vm.get(k)) for k in plain) + " |")
        out.append("")
    for k in grouped:
        groups = list(
            dict.fromkeys(
                g for vm in variants.values() if isinstance(vm.get(k), Mapping) for g in vm[k]
            )
        )
        out += [f"{k} per group:", ""]
        out += ["| variant | " + " | ".join(groups) + " |", "|---" * (len(groups) + 1) + "|"]
        for v, vm in variants.items():
            raw = vm.get(k)
            cell: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            out.append(f"| {v} | " + " | ".join(_fmt(cell.get(g)) for g in groups) + " |")
        out.append("")
    return out


def write_reproduce_report(
    out_dir: str | Path, runs: Sequence[Mapping[str, Any]], *, title: str = "patrec reproduce"
) -> Path:
    """Gather runs (each: ``name``, ``dir``, ``metrics`` or ``error``) into ``report.md``.

    Renders everything the :mod:`patrec.core.results` layout allows (numbers, summaries,
    groups, text, nulls); a run whose metrics break the layout is reported as failed
    with the reason instead of stopping the report.
    """
    from patrec.core.errors import MetricsError
    from patrec.core.results import validate_metrics

    out = Path(out_dir)
    lines = [f"# {title}", ""]
    lines += [
        "Each method's recipe, run on embedded data against the baseline(s) the paper",
        "compares with, with the same seeds and budget. Smoke scale is far below the paper's:",
        "these numbers check that the pipeline works, they do not reproduce the paper's tables.",
        "",
        "| method | primary metric | ours | baseline | ours − baseline | wall time (s) |",
        "|---|---|---|---|---|---|",
    ]
    details: list[str] = []
    for run in runs:
        name = run["name"]
        m = run.get("metrics")
        err = run.get("error")
        if err is None and m is not None:
            try:
                validate_metrics(m, name)
            except MetricsError as e:
                err = str(e)
        if err is not None or m is None:
            msg = " ".join(str(err).split()).replace("|", "\\|")
            lines.append(f"| `{name}` | failed: {msg} | | | | |")
            continue
        secs = f"{run.get('seconds', 0):.1f}" + (" (cached)" if run.get("cached") else "")
        compare = m.get("compare") or {}
        if not compare:
            lines.append(f"| `{name}` | {m['primary']} | {m['ours']} | – | – | {secs} |")
        for b, c in compare.items():
            lines.append(
                f"| `{name}` | {m['primary']} | {m['ours']}: {_fixed(c['ours'])} | "
                f"{b}: {_fixed(c['baseline'])} | {_signed(c['delta'])} | {secs} |"
            )
        rel = os.path.relpath(run["dir"], out)
        details += [f"## `{name}`", "", f"Run folder: `{rel}`", ""]
        details += _variant_tables(m.get("variants", {}))
        for p in m.get("plots", []):
            details.append(f"![{p}]({rel}/{p})")
        details.append("")
    text = "\n".join(lines + [""] + details) + "\n"
    return atomic_write_text(out / "report.md", text)


def _signed(x: Any) -> str:
    return "–" if x is None else f"{x:+.4f}"


def _fixed(x: Any) -> str:
    return "–" if x is None else f"{x:.4f}"
