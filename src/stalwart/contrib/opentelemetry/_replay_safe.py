"""OpenTelemetry logger and meter providers that drop what workflow code emits while it replays
history (temporalio's ``ReplaySafeLoggerProvider`` and ``ReplaySafeMeterProvider``), so a
library that logs or counts from workflow code does not do it again on every replay.

Queries and update validators are live even when they run during a replay, so what they emit
is kept (the check is ``workflow.unsafe.is_replaying_history_events()``); observable
instruments pass through, since their callbacks run on the reader's thread, never inside
workflow code. Knows the OpenTelemetry API and the workflow's replay state, nothing else.
"""

from __future__ import annotations

from typing import Any

# The OpenTelemetry logs bridge API lives under the private ``_logs`` path in
# opentelemetry-python (there is no public ``opentelemetry.logs``); it is the path
# OpenTelemetry itself documents.
from opentelemetry._logs import Logger, LoggerProvider
from opentelemetry.metrics import Meter, MeterProvider

from ... import workflow

__all__ = ["ReplaySafeLoggerProvider", "ReplaySafeMeterProvider"]


def _replaying() -> bool:
    return workflow.in_workflow() and workflow.unsafe.is_replaying_history_events()


class _ReplaySafeLogger(Logger):
    def __init__(self, logger: Logger, name: str, version: str | None = None,
                 schema_url: str | None = None) -> None:
        super().__init__(name, version=version, schema_url=schema_url)
        self._logger = logger

    def __getattr__(self, name: str) -> object:
        return getattr(self._logger, name)

    def emit(self, *args: Any, **kwargs: Any) -> None:
        # emit's signature differs across opentelemetry-api versions: forward it verbatim.
        if not _replaying():
            self._logger.emit(*args, **kwargs)

    def enabled(self, *args: Any, **kwargs: Any) -> bool:
        if _replaying():
            return False
        enabled = getattr(self._logger, "enabled", None)
        return True if enabled is None else bool(enabled(*args, **kwargs))


class ReplaySafeLoggerProvider(LoggerProvider):
    """Wraps a ``LoggerProvider``: log records emitted from workflow code while it replays
    history are dropped. Install it as the global provider before libraries get loggers:
    ``opentelemetry._logs.set_logger_provider(ReplaySafeLoggerProvider(provider))``."""

    def __init__(self, logger_provider: LoggerProvider) -> None:
        self._logger_provider = logger_provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger_provider, name)

    def get_logger(self, name: str, version: str | None = None, schema_url: str | None = None,
                   attributes: Any = None) -> Logger:
        inner = self._logger_provider.get_logger(name, version, schema_url, attributes)
        return _ReplaySafeLogger(inner, name, version=version, schema_url=schema_url)


class _ReplaySafeInstrument:
    """A synchronous instrument whose recordings (``add``, ``record``, ``set``) are dropped
    while workflow code replays; everything else goes to the wrapped instrument."""

    def __init__(self, instrument: Any) -> None:
        self._instrument = instrument

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._instrument, name)
        if name not in ("add", "record", "set"):
            return attribute

        def recording(*args: Any, **kwargs: Any) -> None:
            if not _replaying():
                attribute(*args, **kwargs)

        return recording


class _ReplaySafeMeter(Meter):
    def __init__(self, meter: Meter) -> None:
        super().__init__(meter.name, meter.version, meter.schema_url)
        self._meter = meter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._meter, name)

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Any:
        return _ReplaySafeInstrument(self._meter.create_counter(name, unit, description))

    def create_up_down_counter(self, name: str, unit: str = "", description: str = ""
                               ) -> Any:
        return _ReplaySafeInstrument(
            self._meter.create_up_down_counter(name, unit, description))

    def create_histogram(self, name: str, unit: str = "", description: str = "",
                         **kwargs: Any) -> Any:
        return _ReplaySafeInstrument(
            self._meter.create_histogram(name, unit, description, **kwargs))

    def create_gauge(self, name: str, unit: str = "", description: str = "") -> Any:
        return _ReplaySafeInstrument(self._meter.create_gauge(name, unit, description))

    def create_observable_counter(self, name: str, callbacks: Any = None, unit: str = "",
                                  description: str = "") -> Any:
        return self._meter.create_observable_counter(name, callbacks, unit, description)

    def create_observable_gauge(self, name: str, callbacks: Any = None, unit: str = "",
                                description: str = "") -> Any:
        return self._meter.create_observable_gauge(name, callbacks, unit, description)

    def create_observable_up_down_counter(self, name: str, callbacks: Any = None,
                                          unit: str = "", description: str = "") -> Any:
        return self._meter.create_observable_up_down_counter(name, callbacks, unit,
                                                             description)


class ReplaySafeMeterProvider(MeterProvider):
    """Wraps a ``MeterProvider``: synchronous recordings (counter and up-down counter
    ``add``, histogram ``record``, gauge ``set``) made from workflow code while it replays
    history are dropped, as ``workflow.metric_meter()``'s are. Install it as the global
    provider: ``opentelemetry.metrics.set_meter_provider(ReplaySafeMeterProvider(provider))``."""

    def __init__(self, meter_provider: MeterProvider) -> None:
        self._meter_provider = meter_provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self._meter_provider, name)

    def get_meter(self, name: str, version: str | None = None, schema_url: str | None = None,
                  attributes: Any = None) -> Meter:
        return _ReplaySafeMeter(
            self._meter_provider.get_meter(name, version, schema_url, attributes))
