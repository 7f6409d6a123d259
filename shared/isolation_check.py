#!/usr/bin/env python3
"""Check that one patrec domain package stands alone: it needs patrec-core, no other domain.

Installed mode (run inside an environment where only patrec-core and the domain are
installed, as the ``isolation(<domain>)`` nox sessions do)::

    python shared/isolation_check.py medical-imaging

1. the installed ``patrec-*`` distributions are exactly patrec-core and patrec-<domain>;
2. every module under ``patrec.<domain>`` imports (``pkgutil.walk_packages``): an import of
   another domain fails here, because no other domain is installed;
3. no ``.py`` file of the installed domain imports another domain, even lazily: ``import
   patrec.<other>``, ``from patrec.<other> import ...``, ``from patrec import <other>``,
   relative imports that reach another domain, ``importlib.import_module("patrec.<other>...")``
   and ``__import__("patrec.<other>...")``.

Source mode (static check 3 only, on any directory, e.g. a package's source and tests)::

    python shared/isolation_check.py medical-imaging --src packages/medical-imaging

Exit status 0 when the domain is isolated, 1 with one line per violation otherwise (2 for a
usage error). Standard library only, so it runs in any environment.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata
import pkgutil
import re
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

#: Names under ``patrec.`` that every domain may import.
ALLOWED_SHARED = frozenset({"core"})


def module_name(domain: str) -> str:
    """``"medical-imaging"`` or ``"medical_imaging"`` -> ``"medical_imaging"``."""
    return domain.strip().replace("-", "_")


def dist_name(domain: str) -> str:
    return "patrec-" + module_name(domain).replace("_", "-")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- static scan


def _forbidden(target: str, own: str) -> str | None:
    """The patrec sub-package that ``target`` (a dotted module name) reaches, if forbidden."""
    parts = target.split(".")
    if len(parts) < 2 or parts[0] != "patrec" or not parts[1]:
        return None
    if parts[1] in ALLOWED_SHARED or parts[1] == own:
        return None
    return parts[1]


def _module_parts(path: Path) -> list[str] | None:
    """The dotted module of ``path`` when it lies in a ``patrec/<pkg>/`` tree, else None."""
    parts = list(path.with_suffix("").parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "patrec":
            mod = parts[i:]
            return mod[:-1] if mod[-1] == "__init__" else mod
    return None


def _resolve_relative(path: Path, level: int, module: str | None) -> str | None:
    """The absolute module of ``from <level dots><module> import ...`` in ``path``."""
    parts = _module_parts(path)
    if parts is None:
        return None
    package = parts if path.name == "__init__.py" else parts[:-1]
    if level - 1 > len(package):
        return None
    base = package[: len(package) - (level - 1)]
    return ".".join(base + (module.split(".") if module else []))


def _string_arg(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    for kw in call.keywords:
        if kw.arg == "name" and isinstance(kw.value, ast.Constant):
            return kw.value.value if isinstance(kw.value.value, str) else None
    return None


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def scan_source(text: str, path: Path, own: str) -> Iterator[tuple[int, str]]:
    """(line, message) for every import of another patrec domain in ``text``."""
    tree = ast.parse(text, filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                other = _forbidden(alias.name, own)
                if other:
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(path, node.level, node.module)
                shown = "." * node.level + (node.module or "")
            else:
                base = node.module
                shown = node.module or ""
            if base is None:
                continue
            other = _forbidden(base, own)
            if other:
                yield node.lineno, f"from {shown} import ..."
            elif base == "patrec":
                for alias in node.names:
                    if _forbidden(f"patrec.{alias.name}", own):
                        yield node.lineno, f"from {shown} import {alias.name}"
        elif isinstance(node, ast.Call) and _call_name(node.func) in (
            "import_module",
            "__import__",
        ):
            target = _string_arg(node)
            if target and _forbidden(target, own):
                yield node.lineno, f"{_call_name(node.func)}({target!r})"


SKIP_DIRS = frozenset({".venv", ".nox", "__pycache__", "build", "dist", ".git"})


def python_files(root: Path) -> list[Path]:
    """``root`` itself if a file, else its ``.py`` files, skipping build and venv folders."""
    if root.is_file():
        return [root]
    return [
        path
        for path in root.rglob("*.py")
        if not SKIP_DIRS.intersection(path.relative_to(root).parts[:-1])
    ]


def static_check(roots: list[Path], own: str) -> list[str]:
    """Violations (``file:line: ...``) in every ``.py`` file under ``roots``."""
    problems: list[str] = []
    for path in sorted({p for root in roots for p in python_files(root)}):
        try:
            text = path.read_text(encoding="utf-8")
            hits = list(scan_source(text, path, own))
        except (SyntaxError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot be parsed: {exc}")
            continue
        for line, what in hits:
            problems.append(f"{path}:{line}: {what} (another patrec domain)")
    return problems


# --------------------------------------------------------------------------- installed checks


def installed_distributions() -> dict[str, str]:
    """Normalized name -> version of every installed ``patrec-*`` distribution."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if _normalize(name).startswith("patrec-"):
            found[_normalize(name)] = dist.version
    return found


def distribution_check(domain: str) -> list[str]:
    expected = {"patrec-core", dist_name(domain)}
    found = installed_distributions()
    problems = [
        f"{name} {found[name]} is installed: only {' and '.join(sorted(expected))} may be"
        for name in sorted(set(found) - expected)
    ]
    problems += [f"{name} is not installed" for name in sorted(expected - set(found))]
    return problems


def import_check(domain: str) -> tuple[list[str], list[Path]]:
    """(problems, the package's directories) after importing every module of the domain."""
    top = f"patrec.{module_name(domain)}"
    try:
        package = importlib.import_module(top)
    except Exception as exc:
        return [f"{top} does not import: {type(exc).__name__}: {exc}"], []
    problems: list[str] = []

    def onerror(name: str) -> None:
        """A sub-package that fails while walking: reported by the import below."""

    names = [top]
    for info in pkgutil.walk_packages(package.__path__, prefix=top + ".", onerror=onerror):
        names.append(info.name)
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            last = traceback.extract_tb(exc.__traceback__)[-1]
            problems.append(
                f"{info.name} does not import: {type(exc).__name__}: {exc} "
                f"({last.filename}:{last.lineno})"
            )
    print(f"imported {len(names)} module(s) of {top}")
    return problems, [Path(p) for p in package.__path__]


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check that a patrec domain package depends on patrec-core only."
    )
    parser.add_argument("domain", help="the domain, e.g. medical-imaging")
    parser.add_argument(
        "--src",
        type=Path,
        action="append",
        metavar="DIR",
        help="scan this directory (or file) statically only; may be repeated",
    )
    args = parser.parse_args(argv)
    own = module_name(args.domain)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", own) or own in ALLOWED_SHARED:
        parser.error(f"not a patrec domain: {args.domain!r}")

    problems: list[str] = []
    if args.src:
        missing = [str(d) for d in args.src if not d.exists()]
        if missing:
            parser.error(f"no such path: {', '.join(missing)}")
        problems += static_check(args.src, own)
        what = "source " + ", ".join(str(d) for d in args.src)
    else:
        problems += distribution_check(args.domain)
        import_problems, dirs = import_check(args.domain)
        problems += import_problems
        problems += static_check(dirs, own)
        what = f"installed {dist_name(args.domain)} ({', '.join(str(d) for d in dirs)})"

    if problems:
        print(f"isolation check FAILED for {dist_name(args.domain)} in {what}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print(
            "A domain package may import patrec.core and third-party libraries only; move what "
            "two domains share into patrec-core.",
            file=sys.stderr,
        )
        return 1
    print(f"isolation check passed for {dist_name(args.domain)} in {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
