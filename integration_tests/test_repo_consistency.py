"""The repository's lists agree: packages/, noxfile.py, the CI matrix, .ci/run and README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _noxfile_list(name: str) -> list[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return [e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant)]
    raise AssertionError(f"noxfile.py defines no {name}")


def test_noxfile_covers_every_package() -> None:
    on_disk = {p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml")}
    domains = _noxfile_list("DOMAINS")
    assert set(domains) | {"core"} == on_disk
    assert "core" not in domains


def test_ci_matrix_lists_every_nox_session() -> None:
    domains = _noxfile_list("DOMAINS")
    expected = (
        [f"tests({p})" for p in ["core", *domains]]
        + ["slow"]
        + [f"isolation({d})" for d in domains]
        + ["integration", "lint", "typecheck", "docs"]
    )
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    block = text.split("session:\n", 1)[1].split("steps:", 1)[0]
    listed = re.findall(r"^\s+- (\S+)\s*$", block, flags=re.M)
    assert listed == expected


def test_ci_run_is_the_readme_test_command() -> None:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    command = commands[-1].strip()
    assert "nox" in command
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("README.md not written yet")
    assert command in readme.read_text(encoding="utf-8"), (
        f".ci/run runs {command!r}, which README.md does not show"
    )


def test_contributing_worked_example_runs() -> None:
    """CONTRIBUTING.md's worked example, run as written (it asserts its own results)."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    code = re.search(r"## A worked example.*?```python\n(.*?)\n```", text, flags=re.S)
    assert code, "CONTRIBUTING.md has no worked example"
    import sys
    import types

    module = types.ModuleType("contributing_example")  # dataclasses look their module up
    sys.modules[module.__name__] = module
    try:
        exec(compile(code.group(1), "CONTRIBUTING.md", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
