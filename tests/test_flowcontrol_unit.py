"""The one token bucket (client-go ``util/flowcontrol``) that the REST throttle,
the event spam filter and the work queue's ``BucketRateLimiter`` share."""

from __future__ import annotations

import math

import pytest

from bitcoin_controller.clientgo.util.flowcontrol import TokenBucketRateLimiter
from bitcoin_controller.utils.clock import FakeClock


def test_reserve_goes_into_debt_and_try_accept_sees_it_unit():
    clock = FakeClock()
    bucket = TokenBucketRateLimiter(qps=2, burst=1, clock=clock)
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.5)  # one caller ahead: 1/qps
    assert bucket.reserve() == pytest.approx(1.0)
    assert not bucket.try_accept()  # the debt must be paid off first
    clock.step(1.5)
    assert bucket.try_accept()
    assert not bucket.try_accept()


def test_accept_does_not_wait_while_tokens_last_unit():
    bucket = TokenBucketRateLimiter(qps=1, burst=3, clock=FakeClock())
    assert [bucket.accept() for _ in range(3)] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("qps", "burst", "delays"),
    [
        (math.inf, 0, [0.0, 0.0]),  # no limit
        (10, 0, [math.inf]),  # no token can ever be granted
        (0, 2, [0.0, 0.0, math.inf]),  # the burst, once
    ],
)
def test_reserve_edge_cases_follow_x_time_rate_unit(qps, burst, delays):
    bucket = TokenBucketRateLimiter(qps=qps, burst=burst, clock=FakeClock())
    assert [bucket.reserve() for _ in delays] == delays
