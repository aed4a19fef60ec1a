"""The errors of a refused client call (mirrors ``temporalio.service``).

Temporal's module also holds the gRPC service client and its connection settings (TLS,
keep-alive, retries, proxies). Stalwart has no server to connect to, only a store URL, so only
the errors are here, for code that catches them as ``temporalio.service.RPCError``, and the
payload size warnings a client is given.
"""

from __future__ import annotations

from ._client_payloads import PayloadLimitsConfig
from .exceptions import RPCError, RPCStatusCode

__all__ = ["PayloadLimitsConfig", "RPCError", "RPCStatusCode"]
