"""A run of store failures is logged once, summarised per interval, and its end said."""

from __future__ import annotations

import logging

import pytest

from eventd.store.failures import FailureLog


class Ticks:
    """A monotonic clock the test moves by hand, in seconds."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_run_of_failures_writes_a_few_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Ticks()
    failures = FailureLog(logging.getLogger("test.failures"), "store request", clock=clock)
    failures.succeeded()  # nothing to say while all is well
    for second in range(25):  # a failure a second for 25 s
        clock.now = 100.0 + second
        failures.failed(f"redis: no answer within 1 s ({second})")
    assert failures.failing
    clock.now = 130.0
    failures.succeeded()
    assert not failures.failing
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "store request failed: redis: no answer within 1 s (0)"),
        ("WARNING", "10 more store requests failed: redis: no answer within 1 s (10)"),
        ("WARNING", "10 more store requests failed: redis: no answer within 1 s (20)"),
        ("INFO", "store requests succeed again after 25 failed in 30.0 s"),
    ]
