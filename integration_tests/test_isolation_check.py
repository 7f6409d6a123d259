"""shared/isolation_check.py catches a domain that imports another domain (static mode)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHECKER = Path(__file__).resolve().parent.parent / "shared" / "isolation_check.py"

CLEAN = {
    "__init__.py": '"""A clean domain."""\n__version__ = "0.1.0"\n',
    "model.py": """
        import importlib

        import torch
        from patrec.core.registry import Method
        from patrec.core import nn as core_nn
        from . import helpers
        from .helpers import block
        from patrec import core

        def load():
            return importlib.import_module("patrec.core.registry")
    """,
    "helpers.py": "block = 1\n",
    "sub/__init__.py": "from .. import helpers\nfrom ..model import load\n",
}

VIOLATIONS = {
    "a.py": "import patrec.medical_imaging\n",
    "b.py": "from patrec.video_coding.nn import Block\n",
    "c.py": "from patrec import graph_learning\n",
    "d.py": """
        import importlib

        def lazy():
            return importlib.import_module("patrec.scientific_ml.tensor_pinn")
    """,
    "e.py": "x = __import__('patrec.generative_security')\n",
    "sub/__init__.py": "from ... import autonomous_perception\n",
    "sub/f.py": "from ...document_biometrics import thing\n",
}


def make_domain(root: Path, files: dict[str, str], module: str = "fake_domain") -> Path:
    """A source tree ``root/src/patrec/<module>/`` holding ``files``; returns ``root``."""
    pkg = root / "src" / "patrec" / module
    for rel, text in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECKER), *args], capture_output=True, text=True, check=False
    )


def test_clean_domain_passes(tmp_path: Path) -> None:
    root = make_domain(tmp_path / "clean", CLEAN)
    result = check("fake-domain", "--src", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout


def test_own_domain_imports_are_allowed(tmp_path: Path) -> None:
    files = {"x.py": "import patrec.medical_imaging.nn\nfrom patrec import medical_imaging\n"}
    root = make_domain(tmp_path / "own", files, module="medical_imaging")
    result = check("medical-imaging", "--src", str(root))
    assert result.returncode == 0, result.stdout + result.stderr


def test_domain_importing_another_domain_fails(tmp_path: Path) -> None:
    root = make_domain(tmp_path / "dirty", {**CLEAN, **VIOLATIONS})
    result = check("fake-domain", "--src", str(root))
    assert result.returncode == 1
    err = result.stderr
    assert "FAILED" in err
    pkg = root / "src" / "patrec" / "fake_domain"
    expected = [
        ("a.py", 1, "import patrec.medical_imaging"),
        ("b.py", 1, "from patrec.video_coding.nn import"),
        ("c.py", 1, "from patrec import graph_learning"),
        ("d.py", 4, "import_module('patrec.scientific_ml.tensor_pinn')"),
        ("e.py", 1, "__import__('patrec.generative_security')"),
        ("sub/__init__.py", 1, "from ... import autonomous_perception"),
        ("sub/f.py", 1, "from ...document_biometrics import"),
    ]
    lines = err.splitlines()
    for rel, lineno, what in expected:
        where = f"{pkg / rel}:{lineno}:"
        assert any(where in ln and what in ln for ln in lines), (where, what, err)
    assert sum("another patrec domain" in ln for ln in lines) == len(expected), err
    # The clean files are not reported.
    assert "model.py" not in err and "helpers.py" not in err


def test_trees_under_venv_folders_are_scanned(tmp_path: Path) -> None:
    """An installed domain lives under .nox/.../site-packages: it must still be scanned."""
    root = make_domain(tmp_path / ".nox" / "env" / "site-packages", VIOLATIONS)
    result = check("fake-domain", "--src", str(root))
    assert result.returncode == 1
    assert "import patrec.medical_imaging" in result.stderr


def test_installed_mode_fails_with_other_domains_installed() -> None:
    """Here (integration: every package installed) no domain is alone, so the check fails."""
    pytest.importorskip("patrec.graph_learning")
    pytest.importorskip("patrec.medical_imaging")
    result = check("graph-learning")
    assert result.returncode == 1
    assert any(
        ln.strip().startswith("patrec-medical-imaging ") and "is installed: only" in ln
        for ln in result.stderr.splitlines()
    ), result.stderr


@pytest.mark.parametrize("domain", ["core", "Not A Domain"])
def test_bad_domain_is_a_usage_error(tmp_path: Path, domain: str) -> None:
    result = check(domain, "--src", str(tmp_path))
    assert result.returncode == 2
    assert "not a patrec domain" in result.stderr


def test_missing_source_dir_is_a_usage_error(tmp_path: Path) -> None:
    result = check("graph-learning", "--src", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "no such path" in result.stderr
