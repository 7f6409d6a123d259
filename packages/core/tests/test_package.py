"""patrec-core: installs, registers its entry point, accounts for its inventory."""

from __future__ import annotations

import pytest

from patrec.core.errors import ConfigError
from patrec.core.testing import PACKAGE_CHECKS, run_package_check


@pytest.mark.parametrize("check", PACKAGE_CHECKS)
def test_package(check: str) -> None:
    run_package_check(check, "core", "patrec.core")


def test_checks_can_fail() -> None:
    with pytest.raises(AssertionError, match="entry point 'no-such-domain' missing"):
        run_package_check("entry_point", "no-such-domain", "patrec.core")
    with pytest.raises(ConfigError, match="no-such-domain"):
        run_package_check("inventory", "no-such-domain", "patrec.core")
