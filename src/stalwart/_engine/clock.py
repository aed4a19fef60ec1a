"""Engine time. Every deadline the engine computes comes from a Clock, so the test
environment can skip ahead by swapping in a clock that jumps."""

from __future__ import annotations

import time


class Clock:
    """Wall-clock time in seconds since the epoch."""

    def now(self) -> float:
        return time.time()

    @property
    def skips(self) -> bool:
        return False


class SkippingClock(Clock):
    """Wall-clock time plus an offset that the time-skipping environment advances."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance_to(self, when: float) -> None:
        current = self.now()
        if when > current:
            self.offset += when - current

    @property
    def skips(self) -> bool:
        return True
