from __future__ import annotations

import time

import pytest

from patrec.core.bench import ratios, time_call
from patrec.core.errors import ConfigError


def test_time_call_counts_calls_and_measures_sleep():
    calls = []

    def fn():
        calls.append(1)
        time.sleep(0.01)
        return len(calls)

    t = time_call(fn, repeats=3, warmup=2)
    assert len(calls) == 5 and t.result == 5 and len(t.seconds) == 3
    assert 0.009 < t.best <= t.median < 1.0
    assert t.as_dict()["repeats"] == 3.0


def test_ratios_are_relative_to_the_reference():
    assert ratios({"a": 2.0, "b": 1.0, "c": 6.0}, "a") == {"a": 1.0, "b": 0.5, "c": 3.0}
    with pytest.raises(ConfigError, match="reference"):
        ratios({"a": 1.0}, "z")
    with pytest.raises(ConfigError, match="> 0"):
        ratios({"a": 0.0}, "a")
    with pytest.raises(ConfigError):
        time_call(lambda: None, repeats=0)


def test_torch_threads_limits_and_restores() -> None:
    import torch

    from patrec.core.bench import torch_threads

    old = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == old
    with torch_threads(0):
        assert torch.get_num_threads() == old
