"""The determinism guard: non-deterministic calls made from workflow code fail loudly.

No import sandbox. Three cheap layers instead:

* While an activation runs on a thread, the wall clock (``time.time`` and friends), the
  ``random`` module's functions, ``uuid.uuid1/uuid4``, ``os.urandom`` and ``time.sleep`` raise
  :class:`RestrictedWorkflowAccessError` naming the safe alternative. Other threads (activities,
  the store) are untouched: the check is one thread-local lookup.
* An audit hook refuses file, network, subprocess and thread creation during an activation.
* ``datetime.now()``/``utcnow()``/``date.today()`` are C functions that no Python patch can see,
  so workflow classes are checked once, when a worker registers them, for direct calls.

``workflow.unsafe.sandbox_unrestricted()`` lifts the guard inside a ``with`` block.
"""

from __future__ import annotations

import dis
import functools
import inspect
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..exceptions import RestrictedWorkflowAccessError

_state = threading.local()

# Callers from these modules are the runtime and the standard library working for it
# (logging stamps records with time.time_ns(), imports open files), not workflow code.
_TRUSTED_CALLERS: tuple[str, ...] = (
    "logging", "asyncio", "stalwart.", "importlib", "threading", "traceback", "linecache",
    "concurrent", "weakref", "_weakrefset", "contextlib", "typing", "inspect", "tokenize",
    "encodings", "codecs", "zipimport")

_ALTERNATIVES = {
    "time": "workflow.now() or workflow.time()",
    "random": "workflow.random()",
    "uuid": "workflow.uuid4()",
    "os.urandom": "workflow.random()",
    "time.sleep": "await workflow.sleep(...) (a durable timer)",
}

_installed = False
_install_lock = threading.Lock()


def is_active() -> bool:
    return bool(getattr(_state, "active", False)) and not getattr(_state, "unrestricted", 0)


class _Activation:
    """A class rather than ``@contextmanager``: entered once per activation, and a generator
    frame plus ``_GeneratorContextManager`` cost several times the two attribute writes."""

    __slots__ = ("_previous",)

    def __enter__(self) -> None:
        self._previous = getattr(_state, "active", False)
        _state.active = True

    def __exit__(self, *exc_info: object) -> None:
        _state.active = self._previous


def activation() -> _Activation:
    """Guard the current thread while workflow code runs."""
    return _Activation()


@contextmanager
def unrestricted() -> Iterator[None]:
    _state.unrestricted = getattr(_state, "unrestricted", 0) + 1
    try:
        yield
    finally:
        _state.unrestricted -= 1


def trust_callers(*prefixes: str) -> None:
    """Let code from modules starting with ``prefixes`` read the clock, draw random numbers
    and ids while workflow code runs: for a library whose bookkeeping (timestamps, item ids)
    never decides which commands the workflow issues. Only the library's own frames are
    trusted, not the workflow code that calls it."""
    global _TRUSTED_CALLERS
    _TRUSTED_CALLERS = (*_TRUSTED_CALLERS,
                        *(prefix for prefix in prefixes if prefix not in _TRUSTED_CALLERS))


# Standard-library helpers that call a guarded function on someone else's behalf (a
# ``uuid4`` captured by ``from uuid import uuid4`` before the guard was installed calls the
# guarded ``os.urandom``): the one who called them decides.
_TRANSPARENT_CALLERS = ("uuid",)


def _caller_is_trusted(depth: int) -> bool:
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return True
    module = str(frame.f_globals.get("__name__", ""))
    while module in _TRANSPARENT_CALLERS and frame.f_back is not None:
        frame = frame.f_back
        module = str(frame.f_globals.get("__name__", ""))
    return module.startswith(_TRUSTED_CALLERS) or module == "stalwart"


def _guarded(name: str, kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if is_active() and not _caller_is_trusted(2):
            raise RestrictedWorkflowAccessError(name, override_message=(
                f"{name}() is not allowed in workflow code: it is not deterministic and "
                f"would differ on replay. Use {_ALTERNATIVES[kind]} instead, or do it in an "
                "activity. (Escape hatch: with workflow.unsafe.sandbox_unrestricted(): ...)"))
        return original(*args, **kwargs)

    guarded.__stalwart_guarded__ = True  # type: ignore[attr-defined]
    return guarded


_RANDOM_FUNCTIONS = ("random", "randint", "randrange", "choice", "choices", "shuffle",
                     "sample", "uniform", "gauss", "getrandbits", "randbytes", "triangular",
                     "normalvariate", "expovariate", "betavariate")
_TIME_FUNCTIONS = ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter",
                   "perf_counter_ns", "localtime", "gmtime", "ctime", "asctime")

_AUDIT_EVENTS = {
    "open": "opening files",
    "socket.connect": "network access",
    "socket.getaddrinfo": "network access",
    "socket.bind": "network access",
    "subprocess.Popen": "starting subprocesses",
    "os.system": "starting subprocesses",
    "os.posix_spawn": "starting subprocesses",
    "os.fork": "forking",
    "_thread.start_new_thread": "starting threads",
}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    what = _AUDIT_EVENTS.get(event)
    if what is None or not is_active():
        return
    if event == "open" and args and isinstance(args[0], str | bytes) and str(
            args[0]).endswith((".py", ".pyc", ".so", ".pth")):
        return  # imports inside workflow code read modules; that is deterministic
    if _caller_is_trusted(2):
        return
    raise RestrictedWorkflowAccessError(what, override_message=(
        f"{what} ({event}) is not allowed in workflow code: it is I/O and would not replay. "
        "Do it in an activity (workflow.execute_activity). (Escape hatch: with "
        "workflow.unsafe.sandbox_unrestricted(): ...)"))


def install() -> None:
    """Patch the guarded functions (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
        for name in _TIME_FUNCTIONS:
            original = getattr(time, name)
            if not getattr(original, "__stalwart_guarded__", False):
                setattr(time, name, _guarded(f"time.{name}", "time", original))
        time.sleep = _guarded("time.sleep", "time.sleep", time.sleep)
        for name in _RANDOM_FUNCTIONS:
            original = getattr(random, name, None)
            if original is not None:
                setattr(random, name, _guarded(f"random.{name}", "random", original))
        uuid.uuid4 = _guarded("uuid.uuid4", "uuid", uuid.uuid4)
        uuid.uuid1 = _guarded("uuid.uuid1", "uuid", uuid.uuid1)
        os.urandom = _guarded("os.urandom", "os.urandom", os.urandom)
        sys.addaudithook(_audit)


_CLOCK_METHODS = {"now", "utcnow", "today"}
_CLOCK_OWNERS = {"datetime", "date", "dt"}


def check_workflow_class(cls: type) -> None:
    """Refuse a workflow class whose methods call ``datetime.now()`` and friends directly."""
    for _, member in inspect.getmembers(cls, inspect.isfunction):
        code = getattr(member, "__code__", None)
        if code is None:
            continue
        for owner, method, line in _clock_calls(code):
            raise RestrictedWorkflowAccessError(f"{owner}.{method}", override_message=(
                f"workflow {cls.__qualname__} calls {owner}.{method}() in "
                f"{member.__qualname__} (line {line} of {code.co_filename}): the wall clock "
                "differs on replay. Use workflow.now() instead."))


def _clock_calls(code: Any) -> Iterator[tuple[str, str, int]]:
    previous: str | None = None
    line = code.co_firstlineno
    for instruction in dis.get_instructions(code):
        if instruction.starts_line is not None:
            line = instruction.starts_line
        if instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and previous in _CLOCK_OWNERS \
                and instruction.argval in _CLOCK_METHODS:
            yield previous, str(instruction.argval), line
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_ATTR", "LOAD_METHOD"):
            previous = str(instruction.argval)
        else:
            previous = None
    for const in code.co_consts:
        if inspect.iscode(const):
            yield from _clock_calls(const)
