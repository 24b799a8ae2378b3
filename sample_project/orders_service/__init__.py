"""The orders provider: an HTTP API (Starlette) serving /v1 and /v2 side by side behind a service token."""

from .app import create_app
from .store import Order, OrderStore
from .tokens import TokenIssuer

__all__ = ["Order", "OrderStore", "TokenIssuer", "create_app"]
