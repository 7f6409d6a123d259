"""The ``patrec`` command line.

::

    patrec list [--planned]
    patrec info NAME
    patrec run NAME [--preset smoke|paper] [--set key=value ...] [--data PATH]
               [--out DIR] [--seed N]
    patrec reproduce [--flagship] [--domain D] [--method NAME ...] [--out DIR] [--preset smoke]

Bad input (an unknown method, preset or key, an ill-typed value, a missing data path)
prints one line saying what was wrong and what is accepted, and exits with code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from patrec.core.errors import ConfigError, DataError, PatrecError

__all__ = ["ensure_writable", "main", "run_method"]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"patrec: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="patrec", description="patrec: research methods of pattern recognition.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    ls = sub.add_parser("list", help="every installed method, by package, with its status")
    ls.add_argument("--planned", action="store_true", help="also list methods not yet implemented")

    info = sub.add_parser("info", help="a method's paper, citation, presets and baselines")
    info.add_argument("name", help="<package>/<slug>, e.g. core/ncds")

    run = sub.add_parser("run", help="run a method's recipe (the method and its baselines)")
    run.add_argument("name", help="<package>/<slug>, e.g. core/ncds")
    run.add_argument("--preset", default="smoke", help="smoke (CPU, seconds) or paper")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.lr=0.01 (repeatable)",
    )
    run.add_argument("--data", type=Path, default=None, help="local dataset folder (data.root)")
    run.add_argument("--out", type=Path, default=None, help="run folder (default runs/<name>)")
    run.add_argument("--seed", type=int, default=None, help="seed (sets train.seed / seeds)")

    rep = sub.add_parser("reproduce", help="run every installed method's recipe into one report")
    rep.add_argument(
        "--flagship",
        action="store_true",
        help="only each installed package's flagship method (a few minutes in all)",
    )
    rep.add_argument("--domain", default=None, help="only this package, e.g. core")
    rep.add_argument(
        "--method",
        action="append",
        default=None,
        help="only this method, e.g. core/ncds (repeatable)",
    )
    rep.add_argument("--out", type=Path, default=Path("runs/reproduce"), help="report folder")
    rep.add_argument("--preset", default="smoke", help="preset of every run (default smoke)")
    return p


def _seed_overrides(cfg: Any, seed: int) -> dict[str, Any]:
    from patrec.core.config import flat_keys

    keys = flat_keys(cfg)
    if seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {seed}")
    if "seeds" in keys:
        return {"seeds": (seed,)}
    if "train.seed" in keys:
        return {"train.seed": seed}
    if "seed" in keys:
        return {"seed": seed}
    raise ConfigError("this method's config has no seed to set")


def ensure_writable(out_dir: Path) -> Path:
    """Create ``out_dir`` and check a file can be written there, or raise ConfigError."""
    import tempfile

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".patrec-write-check"):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ConfigError(
            f"--out {out_dir}: cannot create or write this folder ({reason})"
        ) from None
    return out_dir


def run_method(
    name: str,
    *,
    preset: str = "smoke",
    overrides: Sequence[str] = (),
    data: Path | None = None,
    out: Path | None = None,
    seed: int | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Resolve a method's config and run its recipe; return the run folder and metrics."""
    from patrec.core.config import apply_overrides, flat_keys, save_config
    from patrec.core.registry import get_method

    method = get_method(name)
    cfg = method.make_config(preset, list(overrides))
    if seed is not None:
        cfg = apply_overrides(cfg, _seed_overrides(cfg, seed))
    if data is not None:
        if "data.root" not in flat_keys(cfg):
            raise ConfigError(f"{method.name} reads no dataset from a path; drop --data")
        if not data.exists():
            raise DataError(f"--data {data}: no such file or folder")
        cfg = apply_overrides(cfg, {"data.root": str(data)})
    out_dir = out if out is not None else Path("runs") / method.package / method.slug
    ensure_writable(out_dir)
    save_config(cfg, out_dir / "config.json")
    metrics = method.run(cfg, out_dir, data=data)
    return out_dir, metrics


def _print_metrics(out_dir: Path, metrics: dict[str, Any]) -> None:
    primary = metrics.get("primary", "")
    print(f"results ({primary}), written to {out_dir}:")
    for variant, vm in metrics.get("variants", {}).items():
        v = vm.get(primary)
        shown = f"{v['mean']:.4f} ± {v['std']:.4f}" if isinstance(v, dict) else f"{v}"
        mark = "  <- ours" if variant == metrics.get("ours") else ""
        print(f"  {variant:<16} {shown}{mark}")
    for b, c in metrics.get("compare", {}).items():
        print(f"  ours - {b}: {c['delta']:+.4f}")


def _cmd_list(args: argparse.Namespace) -> int:
    from patrec.core.registry import list_packages

    pkgs = list_packages()
    from patrec.core.inventory import inventory_for

    for pkg in pkgs:
        have = {m.name for m in pkg.methods}
        planned = [e for e in inventory_for(pkg.name) if e.name not in have]
        print(
            f"{pkg.distribution} {pkg.version}: "
            f"{len(pkg.methods)} method(s), {len(planned)} planned"
        )
        for m in pkg.methods:
            print(f"  {m.name:<40} {m.status:<8} {m.title}")
        if args.planned:
            for e in planned:
                print(f"  {e.name:<40} {'planned':<8} {e.title}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from patrec.core.config import describe_config
    from patrec.core.registry import get_method

    m = get_method(args.name)
    print(f"{m.name}  [{m.status}]")
    print(f"  title:     {m.title}")
    print(f"  paper:     {m.paper}")
    print(f"  citation:  {m.citation}")
    print(f"  task:      {m.task}")
    if m.summary:
        print(f"  summary:   {m.summary}")
    print(f"  compares against: {', '.join(m.baselines) or '-'}")
    for k, v in m.paper_numbers.items():
        print(f"  paper reports: {k}: {v}")
    for preset in m.presets:
        print(f"  preset {preset}:")
        for key, value, doc, source in describe_config(m.make_config(preset)):
            src = f"  [{source}]" if source else ""
            print(f"    {key} = {value!r}  # {doc}{src}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    out_dir, metrics = run_method(
        args.name,
        preset=args.preset,
        overrides=args.overrides,
        data=args.data,
        out=args.out,
        seed=args.seed,
    )
    if os.environ.get("RANK", "0") == "0":  # one summary under torchrun / accelerate launch
        _print_metrics(out_dir, metrics)
        print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    import json
    import traceback

    from patrec.core.registry import list_methods
    from patrec.core.report import atomic_write_text, write_reproduce_report

    methods = list_methods(args.domain)
    if args.method:
        known = {m.name for m in methods}
        unknown = [n for n in args.method if n not in known]
        if unknown:
            raise ConfigError(
                f"unknown method(s) {', '.join(unknown)}"
                f"{' in ' + args.domain if args.domain else ''}; see `patrec list`"
            )
        methods = [m for m in methods if m.name in args.method]
    if args.flagship:
        methods = [m for m in methods if m.flagship]
    if not methods:
        raise ConfigError(
            f"no installed {'flagship ' if args.flagship else ''}method"
            f"{' in ' + args.domain if args.domain else ''} to run"
        )
    ensure_writable(args.out)
    runs: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    computed = 0.0
    n_computed = 0
    for i, m in enumerate(methods, 1):
        out_dir = args.out / m.package / m.slug
        done_file = out_dir / "reproduce.json"
        left = len(methods) - i + 1
        eta = f", ~{computed / n_computed * left / 60:.1f} min left" if n_computed else ""
        print(f"[{i}/{len(methods)}] {m.name} ({args.preset}){eta}", flush=True)
        if done_file.is_file() and (out_dir / "metrics.json").is_file():
            prev = json.loads(done_file.read_text())
            if prev.get("preset") == args.preset:
                metrics = json.loads((out_dir / "metrics.json").read_text())
                runs.append(
                    {
                        "name": m.name,
                        "dir": out_dir,
                        "metrics": metrics,
                        "seconds": prev.get("seconds", 0.0),
                        "cached": True,
                    }
                )
                print("  finished earlier: reused", flush=True)
                continue
        t0 = time.perf_counter()
        try:
            _, metrics = run_method(m.name, preset=args.preset, out=out_dir)
        except PatrecError as e:
            runs.append({"name": m.name, "dir": out_dir, "error": str(e)})
            print(f"  failed: {' '.join(str(e).split())}", file=sys.stderr)
            continue
        except Exception as e:  # a bug in one method must not cost the whole report
            out_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out_dir / "error.txt", traceback.format_exc())
            runs.append(
                {
                    "name": m.name,
                    "dir": out_dir,
                    "error": f"{type(e).__name__}: {e} (traceback in {out_dir / 'error.txt'})",
                }
            )
            print(f"  failed: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        took = time.perf_counter() - t0
        computed += took
        n_computed += 1
        atomic_write_text(done_file, json.dumps({"preset": args.preset, "seconds": took}) + "\n")
        runs.append({"name": m.name, "dir": out_dir, "metrics": metrics, "seconds": took})
        print(f"  done in {took:.1f} s", flush=True)
    title = "patrec reproduce --flagship" if args.flagship else "patrec reproduce"
    path = write_reproduce_report(args.out, runs, title=title)
    total = time.perf_counter() - t_start
    print(f"report: {path} ({len(runs)} method(s), {total / 60:.1f} min)")
    return 1 if any("error" in r for r in runs) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``patrec`` command; returns the exit code."""
    args = _build_parser().parse_args(argv)
    commands = {
        "list": _cmd_list,
        "info": _cmd_info,
        "run": _cmd_run,
        "reproduce": _cmd_reproduce,
    }
    try:
        return commands[args.command](args)
    except PatrecError as e:
        msg = " ".join(str(e).split())
        sys.stderr.write(f"patrec: error: {msg}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("patrec: interrupted; the last checkpoint is kept, run again to resume\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
