"""The experiment runner: variants x seeds, run once each, summarised, compared, plotted.

A recipe states what is specific to its paper -- the variants (the method, its ablations,
the baselines of the paper's table), the seeds, and a function that trains and evaluates
one (variant, seed) -- and :func:`run_experiment` does the rest::

    def recipe(cfg, out_dir, *, data=None):
        def run_one(variant, seed, run_dir):
            model, history, metrics = train_and_test(cfg, variant, seed, run_dir)
            return {"metrics": metrics, "history": history, "model": model,
                    "example": x_test[:4]}

        return run_experiment(
            out_dir, method="core/ncds", variants=cfg.variants, seeds=cfg.seeds,
            run_one=run_one, primary="accuracy", ours="ncds",
            curves={"test_accuracy": "test accuracy per epoch"},
        ).metrics

``run_one(variant, seed, run_dir)`` returns a dict with:

- ``"metrics"``: metric -> number, or metric -> {group: number} for a metric measured per
  test group (test domain, benchmark, class); every metric is summarised over seeds;
- ``"history"`` (optional): one dict per epoch, drawn as training curves for the keys
  named in ``curves``;
- ``"model"`` / ``"example"`` (optional): the trained model (a
  :class:`~patrec.core.hub.PretrainedModel`) and example inputs for it; it is saved to
  ``run_dir/model/`` and the model of the ``model_variant`` (default ``ours``), first seed,
  is copied to ``<out>/model/``, loadable with ``get_method(name).load_model``;
- ``"tensors"`` (optional) and any other JSON-able entry: kept with the run's result.

Each (variant, seed) runs in ``<out>/runs/<variant>/seed<k>/`` at most once
(:func:`~patrec.core.report.run_once`): an interrupted recipe redoes only what did not
finish. The runner then writes ``metrics.json`` in the layout of
:mod:`patrec.core.results` (checked before it is written), a bar plot with error bars for
each metric in ``bars`` (default: the primary one), a grouped bar plot for every per-group
metric, and a curve plot (mean ± std over seeds) for each entry of ``curves``.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patrec.core.errors import ConfigError, MetricsError

__all__ = ["Experiment", "run_experiment", "summarize_runs"]

RunOne = Callable[[str, int, Path], Mapping[str, Any]]


@dataclass
class Experiment:
    """What :func:`run_experiment` produced.

    Attributes:
        metrics: the content of ``metrics.json`` (what a recipe returns).
        results: variant -> the per-seed results of ``run_one`` (in seed order).
        out_dir: the run folder.
        plots: the plot files written.
    """

    metrics: dict[str, Any]
    results: dict[str, list[dict[str, Any]]]
    out_dir: Path
    plots: list[Path] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "metric"


def summarize_runs(
    runs: Sequence[Mapping[str, Any]], *, fixed: Sequence[str] = (), method: str = ""
) -> dict[str, Any]:
    """One variant's metrics over its seeds: numbers and groups summarised, text kept.

    Args:
        runs: the per-seed results, each with a ``"metrics"`` dict.
        fixed: metrics that do not depend on the seed (parameter counts): the first
            seed's value is kept as a plain number.
    """
    from patrec.core.report import summarize_seeds

    if not runs:
        raise MetricsError(f"{method}: a variant has no finished run")
    first = runs[0].get("metrics")
    if not isinstance(first, Mapping):
        raise MetricsError(f"{method}: run_one must return {{'metrics': {{...}}}}, got {first!r}")
    out: dict[str, Any] = {}
    for k, v in first.items():
        if k in fixed or isinstance(v, (str, bool)) or v is None:
            out[k] = v
        elif isinstance(v, Mapping):
            out[k] = {g: summarize_seeds([_num(r["metrics"][k].get(g)) for r in runs]) for g in v}
        elif isinstance(v, (int, float)) or hasattr(v, "item"):
            out[k] = summarize_seeds([_num(r["metrics"].get(k)) for r in runs])
        else:
            raise MetricsError(
                f"{method}: metric {k!r}: expected a number, a string or a dict of "
                f"group -> number, got {type(v).__name__}"
            )
    return out


def _num(v: Any) -> float:
    if v is None:
        return float("nan")
    return float(v.item() if hasattr(v, "item") else v)


def run_experiment(
    out_dir: str | Path,
    *,
    method: str,
    variants: Sequence[str],
    seeds: Sequence[int],
    run_one: RunOne,
    primary: str,
    ours: str | None = None,
    baselines: Sequence[str] | None = None,
    higher_is_better: bool = True,
    fixed: Sequence[str] = (),
    bars: Sequence[str] | None = None,
    curves: Mapping[str, str] | None = None,
    grouped: bool = True,
    labels: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    plots: Callable[[Experiment], Sequence[Path]] | None = None,
    model_variant: str | None = None,
    accelerator: Any = None,
    seed_major: bool = True,
) -> Experiment:
    """Run every (variant, seed) once, summarise, compare, plot, write ``metrics.json``.

    Args:
        method: the registered name, e.g. ``"core/ncds"``.
        variants, seeds: what to run; ``run_one(variant, seed, run_dir)`` runs one.
        primary: the metric compared; ``ours``: the paper's variant (default: the last);
            ``baselines``: the variants compared with it (default: all others).
        fixed: metrics kept from the first seed (they do not depend on it).
        bars: metrics drawn as per-variant bars with std error bars (default ``[primary]``).
        curves: history key -> plot title, one mean ± std curve per variant.
        grouped: draw a grouped bar plot for every per-group metric.
        labels: metric -> axis label.
        extra: further JSON entries of ``metrics.json`` (dataset, epochs, ...).
        plots: ``plots(experiment) -> [paths]``: the method's own figures, drawn before
            ``metrics.json`` is written (``experiment.metrics`` holds the summaries).
        model_variant: whose first-seed model becomes ``<out>/model/`` (default ``ours``).
        accelerator: under a distributed launch, every process runs; only the main one
            writes, the others wait and read ``metrics.json`` back.
        seed_major: loop seeds outside variants (all variants of seed 0 first).

    Raises:
        ConfigError: no variants or seeds, or ``ours``/``baselines`` not among the variants.
        MetricsError: a result outside the layout of :mod:`patrec.core.results`.
    """
    import functools
    import json

    from patrec.core.hub import copy_model_dir, save_model
    from patrec.core.report import (
        plot_bars,
        plot_curves,
        plot_grouped_bars,
        run_once,
        write_metrics,
    )

    variants = list(variants)
    seeds = list(seeds)
    if not variants:
        raise ConfigError(f"{method}: no variant to run")
    if not seeds:
        raise ConfigError(f"{method}: no seed to run")
    ours = ours if ours is not None else variants[-1]
    if ours not in variants:
        raise ConfigError(f"{method}: the method's variant {ours!r} is not among {variants}")
    baselines = [v for v in variants if v != ours] if baselines is None else list(baselines)
    unknown = [b for b in baselines if b not in variants]
    if unknown:
        raise ConfigError(f"{method}: baselines {unknown} are not among the variants {variants}")
    out = Path(out_dir)
    main = accelerator is None or bool(accelerator.is_main_process)

    def wait() -> None:
        if accelerator is not None:
            accelerator.wait_for_everyone()

    def compute(variant: str, seed: int, run_dir: Path) -> dict[str, Any]:
        res = dict(run_one(variant, seed, run_dir))
        model = res.pop("model", None)
        example = res.pop("example", None)
        if model is not None and main:
            save_model(model, run_dir / "model", example)
        return res

    results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    order = (
        [(v, s) for s in seeds for v in variants]
        if seed_major
        else [(v, s) for v in variants for s in seeds]
    )
    t0 = time.perf_counter()
    for i, (variant, seed) in enumerate(order, 1):
        run_dir = out / "runs" / variant / f"seed{seed}"
        cached = (run_dir / "result.json").is_file()
        res = run_once(run_dir, functools.partial(compute, variant, seed, run_dir), write=main)
        wait()
        results[variant].append(res)
        if main and len(order) > 1:
            took = time.perf_counter() - t0
            eta = took / i * (len(order) - i)
            state = "cached" if cached else "done"
            print(
                f"{method}: run {i}/{len(order)} {variant} seed {seed} {state}"
                f" ({took:.0f} s, ~{eta:.0f} s left)",
                file=sys.stderr,
                flush=True,
            )

    summary = {v: summarize_runs(results[v], fixed=fixed, method=method) for v in variants}
    if not main:
        wait()
        loaded: dict[str, Any] = json.loads((out / "metrics.json").read_text())
        return Experiment(loaded, results, out)
    exp = Experiment(
        {"method": method, "primary": primary, "ours": ours, "variants": summary},
        results,
        out,
    )
    labels = dict(labels or {})
    written: list[Path] = []
    for metric in bars if bars is not None else [primary]:
        vals = {
            v: summary[v][metric] for v in variants if isinstance(summary[v].get(metric), Mapping)
        }
        flat = {v: x for v, x in vals.items() if "mean" in x}
        if flat:
            written.append(
                plot_bars(
                    flat,
                    out / f"{_slug(metric)}.png",
                    title=f"{metric} per variant ({len(seeds)} seed(s), mean ± std)",
                    ylabel=labels.get(metric, metric),
                    highlight=ours,
                )
            )
    if grouped:
        group_metrics = dict.fromkeys(
            k
            for v in variants
            for k, x in summary[v].items()
            if isinstance(x, Mapping) and "mean" not in x
        )
        for metric in group_metrics:
            written.append(
                plot_grouped_bars(
                    {v: summary[v][metric] for v in variants if metric in summary[v]},
                    out / f"{_slug(metric)}_by_group.png",
                    title=f"{metric} per test group ({len(seeds)} seed(s), mean ± std)",
                    ylabel=labels.get(metric, metric),
                    highlight=ours,
                )
            )
    for key, title in (curves or {}).items():
        per_variant = {
            v: [[h[key] for h in r.get("history", []) if key in h] for r in results[v]]
            for v in variants
        }
        per_variant = {v: c for v, c in per_variant.items() if c and all(c) and _rect(c)}
        if per_variant:
            written.append(
                plot_curves(
                    per_variant,
                    out / f"{_slug(key)}_curves.png",
                    title=title,
                    ylabel=labels.get(key, key),
                )
            )
    exp.plots = written
    if plots is not None:
        exp.plots = written + [Path(p) for p in plots(exp)]
    model_variant = model_variant if model_variant is not None else ours
    saved = out / "runs" / model_variant / f"seed{seeds[0]}" / "model"
    if saved.is_dir():
        copy_model_dir(saved, out / "model")
    exp.metrics = write_metrics(
        out,
        method=method,
        variants=summary,
        primary=primary,
        ours=ours,
        baselines=baselines,
        higher_is_better=higher_is_better,
        extra={"seeds": seeds, **dict(extra or {})},
        plots=exp.plots,
    )
    wait()
    return exp


def _rect(curves: Sequence[Sequence[float]]) -> bool:
    return len({len(c) for c in curves}) == 1
