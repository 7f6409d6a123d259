"""The patrec exception family.

Every error patrec raises on purpose is a :class:`PatrecError`. Messages say what was
expected and what came, so that the CLI can print them as one line and exit with code 2.

- :class:`ConfigError`: an unknown method, preset or config key, or an ill-typed value.
- :class:`DataError`: a dataset path that is missing or does not hold what it should.
- :class:`InputError`: a tensor or array of the wrong shape, dtype, range or content.
- :class:`MetricsError`: a recipe's result that is not in the ``metrics.json`` layout
  (:mod:`patrec.core.results`); a bug of the method, reported with its name and the key.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "InputError", "PatrecError"]


class PatrecError(Exception):
    """Base class of every error patrec raises on purpose."""


class ConfigError(PatrecError, ValueError):
    """Unknown method, preset or config key, or a value of the wrong type."""


class DataError(PatrecError, FileNotFoundError):
    """A dataset path is missing or does not hold the expected files."""


class InputError(PatrecError, ValueError):
    """An input tensor/array has the wrong shape, dtype, range or content."""


class MetricsError(PatrecError, ValueError):
    """A recipe's result does not follow the ``metrics.json`` layout."""
