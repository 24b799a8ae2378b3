"""Real thriftpy2 clients under test: one item lookup (`Inventory.get_item`) through
`thriftpy2.rpc.make_client`, made resilient by hand, or fragile in exactly one respect so an
assertion has something to catch.

The resilient client: a socket timeout on every attempt, a fresh connection per attempt (a thriftpy2
client whose read timed out may later read the stale answer), tenacity retries with backoff of what
may pass (transport errors, TApplicationException INTERNAL_ERROR), never of `ItemNotFound` (the IDL
declares it: asking again cannot change the answer), and a fallback item while the service is down.
A pybreaker breaker around it all. `Policy` switches one property off at a time: `timeout=None`,
`retry_declared=True`, `fallback=NONE`, `breaker=False`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pybreaker
import tenacity
import thriftpy2
from thriftpy2.protocol import TBinaryProtocolFactory, TCompactProtocolFactory
from thriftpy2.rpc import make_client
from thriftpy2.thrift import TApplicationException
from thriftpy2.transport import TBufferedTransportFactory, TFramedTransportFactory, TTransportException

IDL = Path(__file__).with_name("inventory.thrift")
inventory: ModuleType = thriftpy2.load(str(IDL), module_name="inventory_thrift")
NONE = object()  # no fallback: errors reach the caller
FALLBACK = inventory.Item(sku="?", name="unavailable", tags=["fallback"])
PROTOCOLS = {"binary": TBinaryProtocolFactory, "compact": TCompactProtocolFactory}
TRANSPORTS = {"buffered": TBufferedTransportFactory, "framed": TFramedTransportFactory}


class Unavailable(Exception):
    """The inventory service failed in a way another attempt may not: worth retrying."""


@dataclass(frozen=True)
class Policy:
    timeout: float | None = 0.3  # seconds, per attempt (thriftpy2 takes milliseconds)
    attempts: int = 3
    backoff: float = 0.05  # tenacity wait_exponential multiplier: 0.05, 0.1, ...
    retry_declared: bool = False  # broken: retries ItemNotFound too
    fallback: object = FALLBACK
    breaker: bool = True  # pybreaker: opens after 3 failed calls for 0.2 s; ItemNotFound does not count


class InventoryClient:
    """`item(sku)`: the item, the fallback while the service is down, or `ItemNotFound` raised."""

    def __init__(self, host: str, port: int, protocol: str = "binary", transport: str = "buffered", policy: Policy = Policy()) -> None:
        self.host, self.port, self.policy = host, port, policy
        self.protocol, self.transport = PROTOCOLS[protocol](), TRANSPORTS[transport]()
        retried: tuple[type[BaseException], ...] = (Unavailable, inventory.ItemNotFound) if policy.retry_declared else (Unavailable,)
        self.retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.attempts),
            wait=tenacity.wait_exponential(multiplier=policy.backoff),
            retry=tenacity.retry_if_exception_type(retried),
            reraise=True,
        )
        # a predicate: pybreaker takes a class whose type is not `type` (thriftpy2's metaclass) for one
        not_counted = [lambda error: isinstance(error, inventory.ItemNotFound)]
        self.breaker = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=0.2, exclude=not_counted) if policy.breaker else None

    def item(self, sku: str) -> Any:
        try:
            if self.breaker is not None:
                return self.breaker.call(self.retrying, self._get, sku)
            return self.retrying(self._get, sku)
        except inventory.ItemNotFound:
            raise  # an answer, not an outage: no fallback hides it
        except Exception:
            if self.policy.fallback is NONE:
                raise
            return self.policy.fallback

    def _get(self, sku: str) -> Any:
        timeout = None if self.policy.timeout is None else round(self.policy.timeout * 1000)
        try:
            client = make_client(
                inventory.Inventory, self.host, self.port, proto_factory=self.protocol, trans_factory=self.transport, timeout=timeout
            )
        except TTransportException as error:
            raise Unavailable(f"cannot connect: {error}") from error
        try:
            return client.get_item(sku)
        except (TTransportException, OSError) as error:  # a timeout, a reset, a closed connection
            raise Unavailable(f"{type(error).__name__}: {error}") from error
        except TApplicationException as error:
            if error.type == TApplicationException.INTERNAL_ERROR:
                raise Unavailable(f"internal error: {error}") from error
            raise
        finally:
            client.close()
