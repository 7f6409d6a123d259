"""The method registry and its discovery through entry points.

Every patrec package declares one entry point in the group ``patrec.methods``; it points
to a callable that returns that package's :class:`Method` records (an empty list for a
domain with no method yet)::

    [project.entry-points."patrec.methods"]
    medical-imaging = "patrec.medical_imaging._methods:methods"

A :class:`Method` is light: its recipe and config class are ``"module:attr"`` strings
imported only when used, so ``patrec list`` stays fast however many methods are installed.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

from patrec.core.errors import ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "Method",
    "PackageInfo",
    "get_method",
    "list_methods",
    "list_packages",
    "resolve",
]

ENTRY_POINT_GROUP = "patrec.methods"

Status = Literal["done", "partial", "planned"]


def resolve(ref: str | Callable[..., Any] | type) -> Any:
    """Import ``"package.module:attr"`` (or return the object itself)."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Method:
    """One paper's method as patrec exposes it.

    Attributes:
        name: ``"<package>/<slug>"`` as in the inventory, e.g. ``"core/ncds"``.
        title: the paper's title.
        paper: ``"seed/number"`` of the paper in the inventory, e.g. ``"000/01"``.
        citation: how to cite it.
        task: what goes in and what comes out.
        config: the config dataclass (or ``"module:Class"``).
        presets: preset name -> zero-argument callable returning a config; must contain
            ``"paper"`` and ``"smoke"``.
        recipe: ``recipe(cfg, out_dir, *, data=None) -> dict`` (or ``"module:func"``): trains
            and evaluates the method and its baselines, writes ``metrics.json`` and plots,
            and returns the metrics (see :mod:`patrec.core.report` for the layout).
        baselines: what the recipe compares the method against.
        status: ``"done"``, ``"partial"`` or ``"planned"``.
        summary: one paragraph on what the method does.
        paper_numbers: the paper's headline numbers, for reports and READMEs.
        measured: what this implementation's recipe measured (which run, which numbers),
            recorded from a real run and shown beside ``paper_numbers``.
        model: the main model class (``"module:Class"``, a
            :class:`~patrec.core.hub.PretrainedModel`) whose trained instance the recipe
            leaves in ``<out>/model/``; ``None`` for a method that trains no model (a solver).
        flagship: this method stands for its package in ``patrec reproduce --flagship``
            (the README's first command): one per package, a quick smoke recipe.
        test_overrides: overrides of the smoke preset that make the recipe run in a few
            seconds, for the contract test every method passes (metrics layout, report,
            saved model).
    """

    name: str
    title: str
    paper: str
    citation: str
    task: str
    config: Any
    presets: Mapping[str, Callable[[], Any]]
    recipe: Any
    baselines: tuple[str, ...] = ()
    status: Status = "done"
    summary: str = ""
    paper_numbers: Mapping[str, str] = field(default_factory=dict)
    measured: Mapping[str, str] = field(default_factory=dict)
    model: Any = None
    flagship: bool = False
    test_overrides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if "/" not in self.name:
            raise ConfigError(f"method name must be '<package>/<slug>', got {self.name!r}")
        missing = {"paper", "smoke"} - set(self.presets)
        if missing:
            raise ConfigError(f"method {self.name}: presets {sorted(missing)} are required")

    @property
    def package(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def slug(self) -> str:
        return self.name.split("/", 1)[1]

    def config_class(self) -> type:
        cls = resolve(self.config)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise ConfigError(f"method {self.name}: config must be a dataclass, got {cls!r}")
        return cls

    def make_config(self, preset: str = "smoke", overrides: Any = ()) -> Any:
        """The config of ``preset`` with dotted ``overrides`` applied, checked.

        Raises:
            ConfigError: unknown preset or key, ill-typed value, or a value outside the
                field's declared bounds (:func:`~patrec.core.config.validate_config`).
        """
        from patrec.core.config import apply_overrides, validate_config

        if preset not in self.presets:
            raise ConfigError(
                f"unknown preset {preset!r} for {self.name}; accepted: {', '.join(self.presets)}"
            )
        cfg = self.presets[preset]()
        return apply_overrides(cfg, overrides) if overrides else validate_config(cfg)

    def test_config(self, *overrides: str) -> Any:
        """The smoke preset under :attr:`test_overrides`, then ``overrides`` (for tests).

        One place states how small a method's tests run it: a test file asks for
        ``METHOD.test_config("seeds=0,1")`` instead of repeating the list.
        """
        return self.make_config("smoke", [*self.test_overrides, *overrides])

    def run(self, cfg: Any, out_dir: Any, *, data: Any = None) -> dict[str, Any]:
        """Check the config, run the recipe (the method and its baselines), return its metrics."""
        from patrec.core.config import validate_config

        validate_config(cfg)
        fn = resolve(self.recipe)
        result: dict[str, Any] = fn(cfg, out_dir, data=data)
        return result

    def load_model(self, path: Any) -> Any:
        """The trained model a recipe left in ``path`` (``<out>/model``), ready for inference.

        Raises:
            ConfigError: the method trains no model.
            DataError: no saved model in ``path``.
        """
        from patrec.core.hub import load_model

        if self.model is None:
            raise ConfigError(f"{self.name} trains no model to load")
        return load_model(path, self.model)


@dataclass(frozen=True)
class PackageInfo:
    """An installed patrec package and the methods it registers."""

    name: str  # entry-point name, e.g. "medical-imaging"
    distribution: str  # e.g. "patrec-medical-imaging"
    version: str
    methods: tuple[Method, ...]


@functools.cache
def _load_packages() -> tuple[PackageInfo, ...]:
    """Load every entry point once per process (installing a package needs a new process)."""
    pkgs: list[PackageInfo] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        loaded = ep.load()
        methods = loaded() if callable(loaded) else loaded
        methods = tuple(methods)
        for m in methods:
            if not isinstance(m, Method):
                raise ConfigError(f"entry point {ep.name} returned {m!r}, not a Method")
            if m.package != ep.name:
                raise ConfigError(f"method {m.name} registered by package {ep.name!r}")
        dist = ep.dist
        pkgs.append(
            PackageInfo(
                name=ep.name,
                distribution=dist.name if dist else f"patrec-{ep.name}",
                version=dist.version if dist else "?",
                methods=methods,
            )
        )
    return tuple(sorted(pkgs, key=lambda p: (p.name != "core", p.name)))


def list_packages() -> list[PackageInfo]:
    """Every installed patrec package (core first), each with its methods."""
    return list(_load_packages())


def list_methods(package: str | None = None) -> list[Method]:
    """Every installed method, optionally of one package only."""
    pkgs = _load_packages()
    if package is not None:
        names = [p.name for p in pkgs]
        if package not in names:
            raise ConfigError(
                f"no installed patrec package named {package!r}; installed: {', '.join(names)}"
            )
    return [m for p in pkgs if package in (None, p.name) for m in p.methods]


def get_method(name: str) -> Method:
    """The installed method called ``name`` (``"<package>/<slug>"``)."""
    methods = {m.name: m for m in list_methods()}
    if name in methods:
        return methods[name]
    by_slug = [m for m in methods.values() if m.slug == name]
    if len(by_slug) == 1:
        return by_slug[0]
    slugs = {m.slug: m.name for m in methods.values()}
    close = difflib.get_close_matches(name, list(methods), n=3) or [
        slugs[s] for s in difflib.get_close_matches(name, list(slugs), n=3)
    ]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(
        f"unknown method {name!r}{hint} (installed: {', '.join(sorted(methods)) or 'none'})"
    )
