"""External storage of large payloads, as ``temporalio.converter``'s (``ExternalStorage``,
``StorageDriver`` and its context types); re-exported by :mod:`stalwart.converter`.

A payload at least ``payload_size_threshold`` bytes large, after the payload codec has encoded
it, is handed to a driver, and the store keeps a small reference payload in its place: encoding
``json/protobuf``, message type ``temporal.api.sdk.v1.ExternalStorageReference``, data
``{"claimData": {...}, "driverName": "..."}`` — the form Temporal's SDKs write, so a history
exported in Temporal's JSON names its externally stored payloads the way Temporal's does.
Reading reverses it: references are retrieved, then the codec decodes.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import dataclasses
import hashlib
import json
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._converter_types import Payload, PayloadCodec

REFERENCE_ENCODING = b"json/protobuf"
REFERENCE_MESSAGE_TYPE = b"temporal.api.sdk.v1.ExternalStorageReference"


@dataclass(frozen=True)
class StorageDriverClaim:
    """A driver's reference to a payload it stored, enough for it to retrieve it."""

    claim_data: Mapping[str, str]


@dataclass(frozen=True, kw_only=True)
class StorageDriverWorkflowInfo:
    """The workflow a payload is stored for."""

    namespace: str
    id: str | None = None
    run_id: str | None = None
    type: str | None = None


@dataclass(frozen=True, kw_only=True)
class StorageDriverActivityInfo:
    """The activity a payload is stored for."""

    namespace: str
    id: str | None = None
    run_id: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class StorageDriverStoreContext:
    """What :meth:`StorageDriver.store` is told: the workflow or activity stored for, if
    known."""

    target: StorageDriverActivityInfo | StorageDriverWorkflowInfo | None = None


@dataclass(frozen=True)
class StorageDriverSelectContext:
    """What :attr:`ExternalStorage.driver_selector` is told."""

    target: StorageDriverActivityInfo | StorageDriverWorkflowInfo | None = None


@dataclass(frozen=True)
class StorageDriverRetrieveContext:
    """What :meth:`StorageDriver.retrieve` is told (nothing yet, as in temporalio)."""


class StorageDriver(ABC):
    """Stores payloads somewhere else than the history and gets them back by claim."""

    @abstractmethod
    def name(self) -> str:
        """This driver instance's name, unique among :attr:`ExternalStorage.drivers`; it is
        recorded in every reference, so it must not change while references exist."""
        raise NotImplementedError

    def type(self) -> str:
        """The kind of driver, the same for every instance of the class."""
        return type(self).__name__

    @abstractmethod
    async def store(self, context: StorageDriverStoreContext,
                    payloads: Sequence[Payload]) -> list[StorageDriverClaim]:
        """Store the payloads; one claim per payload, in order."""
        raise NotImplementedError

    @abstractmethod
    async def retrieve(self, context: StorageDriverRetrieveContext,
                       claims: Sequence[StorageDriverClaim]) -> list[Payload]:
        """The payloads of the claims, in order."""
        raise NotImplementedError


class StorageWarning(RuntimeWarning):
    """A problem with external storage that does not stop the work."""


def payload_size(payload: Payload) -> int:
    """A payload's size as Temporal counts it (its data and metadata, near enough)."""
    return len(payload.data) + sum(len(k) + len(v) for k, v in payload.metadata.items())


@dataclass(frozen=True)
class ExternalStorage:
    """Which payloads go to which driver.

    Args:
        drivers: The drivers; names unique. With more than one, ``driver_selector`` is
            required. Retrieval finds a reference's driver by name, so keep every driver that
            stored anything still referenced.
        driver_selector: Picks the driver for a payload (or None: keep it inline).
        payload_size_threshold: Payloads smaller than this many bytes stay inline (default
            256 KiB, as in temporalio).
    """

    drivers: Sequence[StorageDriver]
    driver_selector: (Callable[[StorageDriverSelectContext, Payload], StorageDriver | None]
                      | None) = None
    payload_size_threshold: int = 256 * 1024
    _driver_map: dict[str, StorageDriver] = dataclasses.field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.drivers:
            raise ValueError("ExternalStorage.drivers is empty: give at least one "
                             "StorageDriver (e.g. LocalDirectoryStorageDriver)")
        if self.payload_size_threshold < 0:
            raise ValueError(f"ExternalStorage.payload_size_threshold is "
                             f"{self.payload_size_threshold}; it must be 0 or more bytes")
        if len(self.drivers) > 1 and self.driver_selector is None:
            raise ValueError(f"ExternalStorage has {len(self.drivers)} drivers and no "
                             "driver_selector; pass driver_selector to choose between them")
        by_name: dict[str, StorageDriver] = {}
        for driver in self.drivers:
            name = driver.name()
            if name in by_name:
                raise ValueError(f"ExternalStorage.drivers has two drivers named {name!r}; "
                                 "each driver needs a unique name")
            by_name[name] = driver
        object.__setattr__(self, "_driver_map", by_name)

    def _select(self, context: StorageDriverSelectContext,
                payload: Payload) -> StorageDriver | None:
        if payload_size(payload) < self.payload_size_threshold or is_reference(payload):
            return None
        if self.driver_selector is None:
            return self.drivers[0]
        driver = self.driver_selector(context, payload)
        if driver is not None and self._driver_map.get(driver.name()) is not driver:
            raise ValueError(f"driver_selector returned driver {driver.name()!r}, which is not "
                             "one of ExternalStorage.drivers")
        return driver

    def _driver(self, name: str) -> StorageDriver:
        driver = self._driver_map.get(name)
        if driver is None:
            raise ValueError(f"a payload is stored externally by driver {name!r}, which is not "
                             f"among ExternalStorage.drivers ({', '.join(self._driver_map)}); "
                             "configure that driver to read it")
        return driver

    async def store_payloads(self, payloads: Sequence[Payload],
                             context: StorageDriverStoreContext | None = None) -> list[Payload]:
        """Payloads with the large ones replaced by references."""
        context = context or StorageDriverStoreContext()
        select = StorageDriverSelectContext(target=context.target)
        groups: dict[str, list[int]] = {}
        for index, payload in enumerate(payloads):
            driver = self._select(select, payload)
            if driver is not None:
                groups.setdefault(driver.name(), []).append(index)
        result = list(payloads)
        if not groups:
            return result
        names = list(groups)
        claim_lists = await asyncio.gather(*(
            self._driver_map[name].store(context, [payloads[i] for i in groups[name]])
            for name in names))
        for name, claims in zip(names, claim_lists, strict=True):
            if len(claims) != len(groups[name]):
                raise ValueError(f"storage driver {name!r} returned {len(claims)} claims for "
                                 f"{len(groups[name])} payloads; it must return one each")
            for index, claim in zip(groups[name], claims, strict=True):
                result[index] = reference_payload(name, claim)
        return result

    async def retrieve_payloads(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Payloads with references replaced by what they refer to."""
        groups: dict[str, list[tuple[int, StorageDriverClaim]]] = {}
        for index, payload in enumerate(payloads):
            reference = read_reference(payload)
            if reference is not None:
                name, claim = reference
                groups.setdefault(name, []).append((index, claim))
        result = list(payloads)
        if not groups:
            return result
        names = list(groups)
        context = StorageDriverRetrieveContext()
        fetched = await asyncio.gather(*(
            self._driver(name).retrieve(context, [claim for _, claim in groups[name]])
            for name in names))
        for name, stored in zip(names, fetched, strict=True):
            if len(stored) != len(groups[name]):
                raise ValueError(f"storage driver {name!r} returned {len(stored)} payloads "
                                 f"for {len(groups[name])} claims; it must return one each")
            for (index, _), payload in zip(groups[name], stored, strict=True):
                result[index] = payload
        return result


def reference_payload(driver_name: str, claim: StorageDriverClaim) -> Payload:
    data = json.dumps({"claimData": dict(claim.claim_data), "driverName": driver_name},
                      separators=(",", ":"), sort_keys=True).encode()
    return Payload({"encoding": REFERENCE_ENCODING, "messageType": REFERENCE_MESSAGE_TYPE},
                   data)


def is_reference(payload: Payload) -> bool:
    return (payload.metadata.get("encoding") == REFERENCE_ENCODING
            and payload.metadata.get("messageType") == REFERENCE_MESSAGE_TYPE)


def read_reference(payload: Payload) -> tuple[str, StorageDriverClaim] | None:
    if not is_reference(payload):
        return None
    data = json.loads(payload.data)
    return str(data["driverName"]), StorageDriverClaim(
        {str(k): str(v) for k, v in data.get("claimData", {}).items()})


class StorageCodec(PayloadCodec):
    """The transform between payloads and what the store keeps when external storage is on:
    the user's codec, then external storage (reading: the other way round), as temporalio
    orders them. Applied wherever the codec alone would be."""

    def __init__(self, codec: PayloadCodec | None, storage: ExternalStorage) -> None:
        self.codec = codec
        self.storage = storage

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        encoded = list(payloads) if self.codec is None else await self.codec.encode(payloads)
        return await self.storage.store_payloads(encoded, STORE_TARGET.get())

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if any(is_reference(p) for p in payloads):
            payloads = await self.storage.retrieve_payloads(payloads)
        return list(payloads) if self.codec is None else await self.codec.decode(payloads)


# The workflow or activity payloads are being stored for, where the engine knows it.
STORE_TARGET: contextvars.ContextVar[StorageDriverStoreContext | None] = \
    contextvars.ContextVar("stalwart_storage_target", default=None)


class LocalDirectoryStorageDriver(StorageDriver):
    """A driver that keeps payloads as files in a directory every worker and client can read
    (a local disk for one machine; a shared mount for several).

    Files are named by the SHA-256 of their content, so the same payload is written once, a
    retried write is harmless and a damaged file is detected on read. Nothing is deleted
    automatically: a file may be referenced by any run's history (identical payloads share
    it), so remove files only older than your history retention (``find DIR -mtime +N``).

    Args:
        directory: Where the files go (created if missing).
        name: The name recorded in references; keep it stable.
    """

    _MAGIC = b"stalwart-payload 1\n"

    def __init__(self, directory: str | os.PathLike[str], name: str = "local") -> None:
        self.directory = Path(directory)
        self._name = name
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"LocalDirectoryStorageDriver directory {str(directory)!r} is a "
                             "file; give it a directory")

    def name(self) -> str:
        return self._name

    def _path(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"storage claim key {key!r} is not a SHA-256 hex digest")
        return self.directory / key[:2] / key

    def _write(self, payload: Payload) -> StorageDriverClaim:
        header = json.dumps({k: base64.b64encode(v).decode()
                             for k, v in sorted(payload.metadata.items())}).encode()
        content = self._MAGIC + header + b"\n" + payload.data
        key = hashlib.sha256(content).hexdigest()
        path = self._path(key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}")
            with open(temporary, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)  # whole or not at all, whoever writes it too
        return StorageDriverClaim({"key": key, "size": str(len(payload.data))})

    def _read(self, claim: StorageDriverClaim) -> Payload:
        key = claim.claim_data.get("key", "")
        path = self._path(key)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"externally stored payload {key} is missing from {str(self.directory)!r} "
                "(deleted, or this process is pointed at another directory)") from None
        if hashlib.sha256(content).hexdigest() != key or not content.startswith(self._MAGIC):
            raise ValueError(f"externally stored payload file {str(path)!r} is damaged "
                             "(its content does not match its name)")
        header, _, data = content[len(self._MAGIC):].partition(b"\n")
        metadata = {k: base64.b64decode(v) for k, v in json.loads(header).items()}
        return Payload(metadata, data)

    async def store(self, context: StorageDriverStoreContext,
                    payloads: Sequence[Payload]) -> list[StorageDriverClaim]:
        return await asyncio.to_thread(lambda: [self._write(p) for p in payloads])

    async def retrieve(self, context: StorageDriverRetrieveContext,
                       claims: Sequence[StorageDriverClaim]) -> list[Payload]:
        return await asyncio.to_thread(lambda: [self._read(c) for c in claims])
