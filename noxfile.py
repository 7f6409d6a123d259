"""The one test matrix of the patrec monorepo.

``nox`` runs every session below; ``nox --list`` shows them; ``nox -s NAME`` runs one. The
exact session names (quote the parentheses in a shell):

    tests(core)  tests(medical-imaging)  tests(document-biometrics)  tests(video-coding)
    tests(scientific-ml)  tests(generative-security)  tests(autonomous-perception)
    tests(graph-learning)
        one package's tests but those marked ``slow``, with that package (and patrec-core)
        installed from its wheel; ``nox -s tests`` runs all eight. Each prints its 15
        slowest tests (``--durations``): a method's tests stay near 10 s on 2 cores.
    slow          every package's tests marked ``slow`` (longer recipes), all wheels installed
    isolation(medical-imaging)  ...  isolation(graph-learning)
        only patrec-core and one domain installed: shared/isolation_check.py (the domain's
        tests run in tests(<domain>), the same two wheels); ``nox -s isolation`` runs all seven.
    integration   all eight wheels together: integration_tests/
    lint          ruff check and ruff format --check
    typecheck     mypy on patrec-core (mypy.ini)
    docs          scripts/method_table.py --check (``nox -s docs -- --write`` rewrites)

Arguments after ``--`` go to pytest in the test sessions, e.g.
``nox -s "tests(core)" -- -k ncds -x``.

Every session installs the packages from wheels built once per nox invocation into
``.nox/_wheels/`` (never the source tree, never editable), and every install is constrained by
``shared/constraints.txt``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

# Let Python cache bytecode in the session environments even where the machine sets
# PYTHONDONTWRITEBYTECODE (as these CI machines do): otherwise every test process, and every
# `patrec` subprocess a test starts, compiles torch, sympy and friends from source again,
# ~10 s of CPU each time.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# uv creates the session environments and installs into them. Its shared cache (~/.cache/uv)
# hardlinks each wheel's files (torch and its CUDA libraries are several GB) into every venv
# instead of downloading or copying them again, so twenty fresh environments cost seconds, not
# gigabytes. Keep the cache on the same filesystem as the repository for hardlinks to work.
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["tests", "slow", "isolation", "integration", "lint", "typecheck", "docs"]
nox.needs_version = ">=2024.3.2"

PYTHON = "3.11"
ROOT = Path(__file__).resolve().parent
CONSTRAINTS = "shared/constraints.txt"
WHEEL_DIR = ROOT / ".nox" / "_wheels"
DOMAINS = [
    "medical-imaging",
    "document-biometrics",
    "video-coding",
    "scientific-ml",
    "generative-security",
    "autonomous-perception",
    "graph-learning",
]
PACKAGES = ["core", *DOMAINS]
# Domains type-checked by `nox -s typecheck` (those with methods; add a domain as it gains one,
# together with its src folder in mypy.ini's mypy_path).
TYPED_DOMAINS = ["graph-learning", "medical-imaging", "scientific-ml"]
PYTEST = ["pytest", "-c", "tox.ini", "--rootdir", "."]
XDIST = ["-n", "auto", "--dist", "loadfile"]

_wheels: dict[str, Path] = {}


def wheels(session: nox.Session) -> dict[str, Path]:
    """Package name -> its wheel, all eight built once per nox invocation (cached here)."""
    if not _wheels:
        shutil.rmtree(WHEEL_DIR, ignore_errors=True)
        WHEEL_DIR.mkdir(parents=True)
        for package in PACKAGES:
            session.run(
                "uv",
                "build",
                "--wheel",
                "--quiet",
                "--build-constraint",
                CONSTRAINTS,
                f"packages/{package}",
                "-o",
                str(WHEEL_DIR),
                external=True,
            )
            found = sorted(WHEEL_DIR.glob(f"patrec_{package.replace('-', '_')}-*.whl"))
            if len(found) != 1:
                session.error(f"expected one wheel of patrec-{package} in {WHEEL_DIR}: {found}")
            _wheels[package] = found[0]
    return dict(_wheels)


def install(session: nox.Session, *requirements: str | Path) -> None:
    """Install ``requirements`` (wheel paths or names), always under the shared constraints."""
    session.install("-c", CONSTRAINTS, *(str(r) for r in requirements))


def install_wheels(session: nox.Session, packages: list[str], *extra: str) -> None:
    built = wheels(session)
    install(session, *(built[p] for p in packages), *extra)


def pytest(session: nox.Session, *paths: str, marks: str | None = None) -> None:
    """Run pytest on ``paths`` with the shared settings; no test collected is not a failure.

    The tests run on every core (pytest-xdist, ``-n auto``), a test file's tests on one
    worker (``--dist loadfile``: module fixtures such as a trained smoke model are built once),
    each worker with one BLAS/torch thread so that the workers do not oversubscribe the cores.
    """
    select = ["-m", marks] if marks else []
    session.run(
        *PYTEST,
        *XDIST,
        "--durations=15",
        *select,
        *paths,
        *session.posargs,
        success_codes=[0, 5],
        env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )


@nox.session(python=PYTHON)
@nox.parametrize("package", PACKAGES, ids=PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests (not the slow ones), installed from its wheel with patrec-core."""
    install_wheels(session, list(dict.fromkeys(["core", package])), "pytest", "pytest-xdist")
    pytest(session, f"packages/{package}/tests", marks="not slow")


@nox.session(python=PYTHON)
def slow(session: nox.Session) -> None:
    """The tests marked ``slow`` of every package, all eight wheels installed."""
    install_wheels(session, PACKAGES, "pytest", "pytest-xdist")
    pytest(session, *(f"packages/{p}/tests" for p in PACKAGES), marks="slow")


@nox.session(python=PYTHON)
@nox.parametrize("domain", DOMAINS, ids=DOMAINS)
def isolation(session: nox.Session, domain: str) -> None:
    """Only patrec-core and one domain installed: it imports and stands alone.

    Its tests already run in ``tests(<domain>)``, which installs exactly the same two wheels,
    so they are not run a second time here.
    """
    install_wheels(session, ["core", domain])
    session.run("python", "shared/isolation_check.py", domain)
    session.run("python", "shared/isolation_check.py", domain, "--src", f"packages/{domain}")


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """All eight packages installed together: the cross-package tests."""
    install_wheels(session, PACKAGES, "pytest", "pytest-xdist")
    pytest(session, "integration_tests")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (ruff.toml): lint and formatting of the whole repository."""
    install(session, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy (mypy.ini) on the source of patrec-core and of every domain with methods."""
    install_wheels(session, ["core", *TYPED_DOMAINS], "mypy")
    paths = [f"packages/{p}/src/patrec" for p in ["core", *TYPED_DOMAINS]]
    session.run("mypy", "--config-file", "mypy.ini", *paths)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The READMEs' method tables match the registry and the inventory."""
    install_wheels(session, PACKAGES)
    session.run("python", "scripts/method_table.py", *(session.posargs or ["--check"]))
