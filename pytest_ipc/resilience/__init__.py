"""Library-agnostic resilience assertions, measured from the outside: clocks and the stub's journal.

They judge what a client *does* (how long a call takes, which requests reach the dependency), so the
same assertion holds for tenacity or stamina, pybreaker or a hand-written breaker, httpx or requests.
Failures say what was expected and what was measured.
"""

from .adapters import (
    STATES,
    BreakerStates,
    watch_circuitbreaker,
    watch_purgatory,
    watch_pybreaker,
)
from .breaker import assert_breaker
from .calls import CallOutcome
from .cap import assert_request_cap
from .fallback import assert_fallback
from .retries import assert_retries, constant, exponential, pauses
from .timeouts import assert_timeout_honoured

__all__ = [
    "STATES",
    "BreakerStates",
    "CallOutcome",
    "assert_breaker",
    "assert_fallback",
    "assert_request_cap",
    "assert_retries",
    "assert_timeout_honoured",
    "constant",
    "exponential",
    "pauses",
    "watch_circuitbreaker",
    "watch_purgatory",
    "watch_pybreaker",
]
