"""patrec-video-coding: installs, registers its entry point, accounts for its inventory."""

from __future__ import annotations

import pytest

from patrec.core.testing import PACKAGE_CHECKS, run_package_check


@pytest.mark.parametrize("check", PACKAGE_CHECKS)
def test_package(check: str) -> None:
    run_package_check(check, "video-coding", "patrec.video_coding")
