"""Workflow streams outside workflow code: publishing from activities and clients, and
following a stream from an offset (the store side is ``_store/ops/streams.py``).

A reader subscribes to the stream's wake-up key before each read, so an item committed
between its read and its wait still wakes it: in-process directly, across processes through
PostgreSQL's LISTEN/NOTIFY or SQLite's change counter (looked at every few milliseconds by the
store's writer thread). ``poll_interval`` only bounds how long a lost wake-up could delay it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from . import exceptions as exc
from ._engine.codec import decode_value, encode_value
from ._store.base import StreamPublish
from ._store.ops.streams import ATTEMPT_FAILED
from .converter import DataConverter, _payload_from_json, _payload_to_json

T = TypeVar("T")

READ_BATCH = 256


@dataclass(frozen=True)
class WorkflowStreamItem(Generic[T]):
    """One item of a workflow stream, as a reader sees it.

    ``offset`` is its place in the stream: pass ``offset + 1`` as ``from_offset`` to resume
    after it. Offsets count up across continue-as-new (the stream belongs to the chain of
    runs), so they are unique per stream, but a reader filtering on topics sees gaps.

    An item an activity published carries the attempt that published it. ``failed`` is true
    when that attempt had failed by the time the item was read; a reader following live sees
    the item first and then, once the attempt fails, an item of ``kind == "attempt_failed"``
    (``data`` None) with the same ``activity_id`` and ``attempt``: drop what it showed of that
    attempt.
    """

    topic: str
    data: T
    offset: int = 0
    run_id: str = ""
    producer: str = ""  # "workflow", "activity" or "client"
    activity_id: str | None = None
    attempt: int | None = None
    failed: bool = False
    kind: str = "item"  # "item" or "attempt_failed"
    published_at: datetime | None = None


def check_topics(topics: Sequence[str] | str | None) -> list[str] | None:
    if topics is None:
        return None
    if isinstance(topics, str):
        topics = [topics]
    names = list(topics)
    for name in names:
        check_topic(name)
    return names or None


def check_topic(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > 200:
        raise ValueError(f"stream topic {name!r} is not valid: give a non-empty string of at "
                         "most 200 characters")
    return name


async def encode_item(value: Any, converter: DataConverter) -> str:
    payload = _payload_to_json(converter.payload_converter.to_payload(value))
    payload = await encode_value(payload, converter.payload_codec)
    return json.dumps(payload)


async def decode_row(row: Sequence[Any], converter: DataConverter,
                     result_type: Any) -> WorkflowStreamItem[Any]:
    (offset, topic, data, _workflow_id, run_id, producer, activity_id, attempt, kind, failed,
     published_at) = row
    value: Any = None
    if data is not None:
        payload = await decode_value(json.loads(data), converter.payload_codec)
        value = converter.payload_converter.from_payload(_payload_from_json(payload),
                                                         result_type)
    return WorkflowStreamItem(
        topic=topic, data=value, offset=int(offset), run_id=run_id, producer=producer,
        activity_id=activity_id, attempt=int(attempt) if attempt is not None else None,
        failed=bool(failed), kind=kind,
        published_at=datetime.fromtimestamp(float(published_at), UTC))


async def follow_rows(store: Any, workflow_id: str, run_id: str | None,
                      topics: list[str] | None, *, from_offset: int, from_end: bool,
                      follow_continue_as_new: bool, poll_interval: float,
                      wait_for_start: float) -> AsyncIterator[Sequence[Any]]:
    """The stream's rows from ``from_offset`` (or from its end) in offset order, waiting for
    new ones, until the runs that can add to it have closed and all is read."""
    if from_offset < 0:
        raise ValueError(f"from_offset={from_offset} is negative: give 0 for the start of the "
                         "stream, or an item's offset + 1 to resume after it")
    deadline = time.monotonic() + wait_for_start
    while True:
        target = await store.resolve_stream(workflow_id, run_id)
        if target is not None:
            break
        if time.monotonic() >= deadline:
            raise exc.WorkflowNotFoundError(
                f"workflow {workflow_id!r}" + (f" run {run_id!r}" if run_id else "")
                + " not found: its stream cannot be read")
        await asyncio.sleep(min(0.05, wait_for_start))
    chain_id = target.chain_id
    only_run = None if follow_continue_as_new or run_id is None else run_id
    offset = await store.stream_head(chain_id) if from_end else from_offset
    while True:
        # Subscribed before the read: a commit between the read and the wait still wakes us.
        subscription = store.subscribe(("stream", chain_id))
        try:
            rows = await store.read_stream(chain_id, offset, topics, only_run, READ_BATCH)
            for row in rows:
                offset = int(row[0]) + 1
                yield row
            if rows:
                continue
            if only_run is not None:
                still_open = await store.stream_run_open(only_run)
            else:
                latest = await store.resolve_stream(workflow_id, run_id)
                # A newer chain under the same id means ours has closed (one open run per id).
                still_open = (latest is not None and latest.chain_id == chain_id
                              and latest.open)
            if not still_open:
                # Closed: what committed before the close is read, unless it committed
                # between the read and the look at the status.
                if not await store.read_stream(chain_id, offset, topics, only_run, 1):
                    return
                continue
            await subscription.wait(poll_interval)
        finally:
            subscription.close()


async def subscribe(store: Any, converter: DataConverter, workflow_id: str,
                    run_id: str | None, topics: list[str] | None, *, from_offset: int,
                    from_end: bool, result_type: Any, follow_continue_as_new: bool,
                    include_failed: bool, poll_interval: float,
                    wait_for_start: float) -> AsyncIterator[WorkflowStreamItem[Any]]:
    """:func:`follow_rows`, decoded into items."""
    async for row in follow_rows(
            store, workflow_id, run_id, topics, from_offset=from_offset, from_end=from_end,
            follow_continue_as_new=follow_continue_as_new, poll_interval=poll_interval,
            wait_for_start=wait_for_start):
        item = await decode_row(row, converter, result_type)
        if not include_failed and (item.failed or item.kind == ATTEMPT_FAILED):
            continue
        yield item


class Publisher:
    """Buffers items and appends them in batches (one transaction per batch)."""

    def __init__(self, store: Any, converter: DataConverter, workflow_id: str,
                 run_id: str | None, *, producer: str, activity_id: str | None = None,
                 activity_seq: int | None = None, attempt: int | None = None,
                 batch_interval: float, max_batch_size: int | None) -> None:
        if batch_interval < 0:
            raise ValueError(f"batch_interval={batch_interval} is negative: give 0 to append "
                             "every item at once, or the seconds to gather items for")
        self._store = store
        self._converter = converter
        self._workflow_id = workflow_id
        self._run_id = run_id
        self._producer = producer
        self._activity_id = activity_id
        self._activity_seq = activity_seq
        self._attempt = attempt
        self._interval = batch_interval
        self._max = max_batch_size
        self._buffer: list[tuple[str, Any]] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._error: Exception | None = None
        self.offsets: list[int] = []

    def publish(self, topic: str, value: Any, *, force_flush: bool = False) -> None:
        self._buffer.append((check_topic(topic), value))
        loop = asyncio.get_running_loop()
        if force_flush or self._interval == 0 or (
                self._max is not None and len(self._buffer) >= self._max):
            task = loop.create_task(self._flush_in_background(0.0))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif self._timer is None or self._timer.done():
            self._timer = loop.create_task(self._flush_in_background(self._interval))

    async def _flush_in_background(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            # Shielded: close() cancels a waiting timer, never an append under way.
            await asyncio.shield(self.flush())
        except Exception as error:  # kept for close() / the next flush() to raise
            self._error = error

    async def flush(self) -> list[int]:
        """Append everything buffered; the offsets it got."""
        async with self._lock:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            batch, self._buffer = self._buffer, []
            if not batch:
                return []
            run_id = self._run_id
            if run_id is None:
                target = await self._store.resolve_stream(self._workflow_id, None)
                if target is None:
                    raise exc.WorkflowNotFoundError(
                        f"workflow {self._workflow_id!r} not found: cannot publish to its "
                        "stream")
                run_id = target.run_id
            items = [StreamPublish(topic=topic, data=await encode_item(value, self._converter),
                                   producer=self._producer, activity_id=self._activity_id,
                                   activity_seq=self._activity_seq, attempt=self._attempt)
                     for topic, value in batch]
            try:
                offsets: list[int] = await self._store.publish_stream(run_id, items,
                                                                      time.time())
            except KeyError:
                raise exc.WorkflowNotFoundError(
                    f"workflow {self._workflow_id!r} run {run_id!r} not found: cannot "
                    "publish to its stream") from None
            self.offsets.extend(offsets)
            return offsets

    async def close(self) -> None:
        """Append what is buffered and wait for background appends; raise their error."""
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.flush()


def _seconds(value: timedelta | float, name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        raise ValueError(f"{name}={value!r} is negative: give a duration of zero or more")
    return seconds


class WorkflowStreamClient:
    """Publish to and follow the stream of a workflow (mirrors
    ``temporalio.contrib.workflow_streams.WorkflowStreamClient``).

    Create with :meth:`create` (a client and a workflow id) or, inside an activity,
    :meth:`from_within_activity`. Publishing buffers items and appends them in batches every
    ``batch_interval`` (use the client as an async context manager, or call :meth:`flush`, to
    be sure they are written)::

        stream = WorkflowStreamClient.create(client, "chat-42")
        async for item in stream.subscribe(["tokens"], from_offset=0):
            print(item.offset, item.data)
    """

    def __init__(self, handle: Any, *, client: Any = None,
                 batch_interval: timedelta | float = timedelta(milliseconds=50),
                 max_batch_size: int | None = None, max_retry_duration: Any = None,
                 _producer: str = "client",
                 _activity: tuple[str, int | None, int] | None = None) -> None:
        """The stream of the workflow behind ``handle`` (its run if the handle names one).

        ``max_retry_duration`` is accepted for temporalio's signature; a batch is one store
        transaction, which the store retries itself.
        """
        client = client if client is not None else getattr(handle, "_client", None)
        if client is None:
            raise ValueError("WorkflowStreamClient needs a client: pass client=..., or a "
                             "handle from client.get_workflow_handle(...)")
        workflow_id = handle.id
        if not isinstance(workflow_id, str) or not workflow_id:
            raise ValueError(f"workflow_id={workflow_id!r} is not valid: give the id of the "
                             "workflow whose stream to use")
        if max_batch_size is not None and max_batch_size < 1:
            raise ValueError(f"max_batch_size={max_batch_size} must be at least 1 (or None)")
        run_id: str | None = getattr(handle, "run_id", None)
        self._client = client
        self.workflow_id = workflow_id
        self.run_id = run_id
        activity_id, activity_seq, attempt = _activity or (None, None, None)
        self._publisher = Publisher(
            client.store, client.data_converter, workflow_id, run_id, producer=_producer,
            activity_id=activity_id, activity_seq=activity_seq, attempt=attempt,
            batch_interval=_seconds(batch_interval, "batch_interval"),
            max_batch_size=max_batch_size)
        self._topic_types: dict[str, Any] = {}

    @classmethod
    def create(cls, client: Any, workflow_id: str, *, run_id: str | None = None,
               batch_interval: timedelta | float = timedelta(milliseconds=50),
               max_batch_size: int | None = None, max_retry_duration: Any = None
               ) -> WorkflowStreamClient:
        """The stream of workflow ``workflow_id`` (its latest run, or ``run_id``)."""
        if not isinstance(workflow_id, str) or not workflow_id:
            raise ValueError(f"workflow_id={workflow_id!r} is not valid: give the id of the "
                             "workflow whose stream to use")
        return cls(client.get_workflow_handle(workflow_id, run_id=run_id), client=client,
                   batch_interval=batch_interval, max_batch_size=max_batch_size)

    @classmethod
    def from_within_activity(cls, *, batch_interval: timedelta | float = timedelta(
            milliseconds=50), max_batch_size: int | None = None) -> WorkflowStreamClient:
        """The stream of the workflow run that scheduled the running activity; what it
        publishes is marked with this activity and attempt."""
        from . import activity

        info = activity.info()
        if not info.workflow_id or not info.workflow_run_id:
            raise RuntimeError("from_within_activity needs an activity scheduled by a "
                               "workflow; use WorkflowStreamClient.create(client, "
                               "workflow_id) elsewhere")
        seq: int | None = None
        parts = info.task_token.decode(errors="replace").split("/")
        if len(parts) == 3 and parts[1].isdigit():
            seq = int(parts[1])
        client = activity.client()
        return cls(client.get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id),
                   client=client, batch_interval=batch_interval,
                   max_batch_size=max_batch_size, _producer="activity",
                   _activity=(info.activity_id, seq, info.attempt))

    async def __aenter__(self) -> WorkflowStreamClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._publisher.close()

    def topic(self, name: str, *, type: Any = None) -> TopicHandle[Any]:
        """A handle that publishes to and reads topic ``name``, decoding items as ``type``.

        Raises:
            RuntimeError: ``name`` is already bound to another type on this client.
        """
        check_topic(name)
        existing = self._topic_types.get(name)
        if existing is not None and type is not None and existing != type:
            raise RuntimeError(f"topic {name!r} is already bound to {existing!r} on this "
                               f"client; refusing to rebind it to {type!r}")
        if type is not None:
            self._topic_types[name] = type
        return TopicHandle(self, name, type)

    def publish(self, topic: str, value: Any, *, force_flush: bool = False) -> None:
        """Buffer ``value`` for ``topic``; appended within ``batch_interval``."""
        self._publisher.publish(topic, value, force_flush=force_flush)

    async def flush(self) -> list[int]:
        """Append everything buffered now; the offsets the items got."""
        await asyncio.gather(*self._publisher._tasks, return_exceptions=True)
        return await self._publisher.flush()

    async def get_offset(self) -> int:
        """The offset the next item published to the stream will get."""
        target = await self._client.store.resolve_stream(self.workflow_id, self.run_id)
        if target is None:
            raise exc.WorkflowNotFoundError(f"workflow {self.workflow_id!r} not found")
        head: int = await self._client.store.stream_head(target.chain_id)
        return head

    async def subscribe(self, topics: Sequence[str] | str | None = None,
                        from_offset: int = 0, *, result_type: Any = None,
                        from_end: bool = False, follow_continue_as_new: bool = True,
                        include_failed: bool = True,
                        poll_cooldown: timedelta | float = timedelta(seconds=1),
                        wait_for_start: timedelta | float = timedelta(seconds=10)
                        ) -> AsyncIterator[WorkflowStreamItem[Any]]:
        """Follow the stream: items at or after ``from_offset`` (or, with ``from_end``, only
        new ones) on ``topics`` (all when None), waiting for new items, until every run that
        could add to it has closed and everything was read.

        Args:
            follow_continue_as_new: Read the stream of the whole continue-as-new chain (the
                default); False with a ``run_id``: only what that run published.
            include_failed: False drops items of attempts known to have failed, and the
                ``attempt_failed`` markers.
            poll_cooldown: The longest wait without a wake-up before looking again (wake-ups
                normally come first).
            wait_for_start: How long to wait for a workflow that does not exist yet.
        """
        async for item in subscribe(
                self._client.store, self._client.data_converter, self.workflow_id,
                self.run_id, check_topics(topics), from_offset=from_offset,
                from_end=from_end, result_type=result_type,
                follow_continue_as_new=follow_continue_as_new, include_failed=include_failed,
                poll_interval=_seconds(poll_cooldown, "poll_cooldown"),
                wait_for_start=_seconds(wait_for_start, "wait_for_start")):
            yield item


class TopicNaming:
    """The name and item type a topic handle is bound to, shared by the client's and the
    workflow's handles."""

    def __init__(self, name: str, type: Any) -> None:
        self._name = name
        self._type = type

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> Any:
        return self._type


class TopicHandle(TopicNaming, Generic[T]):
    """One topic of a :class:`WorkflowStreamClient`: publish to it, read it."""

    def __init__(self, client: WorkflowStreamClient, name: str, type: Any) -> None:
        super().__init__(name, type)
        self._client = client

    def publish(self, value: T, *, force_flush: bool = False) -> None:
        self._client.publish(self._name, value, force_flush=force_flush)

    async def subscribe(self, from_offset: int = 0, **options: Any
                        ) -> AsyncIterator[WorkflowStreamItem[T]]:
        async for item in self._client.subscribe([self._name], from_offset,
                                                 result_type=self._type, **options):
            yield item
