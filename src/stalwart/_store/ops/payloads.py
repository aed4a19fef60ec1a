"""Large payloads of history events, stored once per run by content hash, and as the
difference from an earlier payload where that is smaller.

An agent sends the whole conversation to every model call, so the inputs recorded in its
history grow with the square of the conversation's length when each is stored in full. Here a
history row keeps, in place of a large payload's bytes, a reference to a row of
``payload_blobs`` (same run) named by the bytes' BLAKE2b-128 hash:

* the same bytes recorded twice in a run are stored once (``ON CONFLICT DO NOTHING``);
* bytes that share a long prefix and/or suffix with the run's previous large payload (the
  conversation so far, plus the new turns) are stored as that payload's hash, the lengths of
  the shared prefix and suffix, and the bytes in between. A JSON list that extends an earlier
  list is exactly this case: ``[a,b,c]`` then ``[a,b,c,d]`` shares ``[a,b,c`` and ``]``.

Reading puts the exact bytes back (``unpack``), so everything above the store — the runtime's
replay, ``fetch_history()``, exports, the server and UI — sees full payloads. Blobs belong to
their run, so deleting a run's history deletes them without reference counting.

Finding the previous payload must not cost the hot path a read: a process keeps the bytes it
has recently written or read (content-addressed, so never stale) and, per run, the hash of
the last large payload. A delta is written only if its base row exists in the database at
that moment (checked in the same statement), so a base from a rolled-back transaction or
another store falls back to storing the bytes whole.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from ..tx import Tx, dumps, loads

# Payloads with fewer bytes than this stay inline in their history row.
BLOB_THRESHOLD = 1024
# A delta is written only if it saves at least this many bytes.
_MIN_SAVING = 256
_MARKER = '"@blob'
_TEXT = "@blob"      # the payload's ``data`` (UTF-8 text, a JSON payload)
_BINARY = "@blob64"  # the payload's ``data_b64`` (any bytes)


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class _Recent:
    """Bytes recently written or read, by (run, hash), bounded by total size; and per run
    the hash of its last large payload (the base the next one is compared with)."""

    def __init__(self, max_bytes: int = 64 << 20, max_runs: int = 8192) -> None:
        self._lock = threading.Lock()
        self._bytes: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._size = 0
        self._last: OrderedDict[str, str] = OrderedDict()
        self.max_bytes = max_bytes
        self.max_runs = max_runs

    def get(self, run_id: str, digest: str) -> bytes | None:
        with self._lock:
            data = self._bytes.get((run_id, digest))
            if data is not None:
                self._bytes.move_to_end((run_id, digest))
            return data

    def put(self, run_id: str, digest: str, data: bytes, last: bool) -> None:
        with self._lock:
            key = (run_id, digest)
            if key not in self._bytes and len(data) <= self.max_bytes // 4:
                self._bytes[key] = data
                self._size += len(data)
                while self._size > self.max_bytes:
                    _, dropped = self._bytes.popitem(last=False)
                    self._size -= len(dropped)
            if last:
                self._last[run_id] = digest
                self._last.move_to_end(run_id)
                while len(self._last) > self.max_runs:
                    self._last.popitem(last=False)

    def base(self, run_id: str) -> tuple[str, bytes] | None:
        with self._lock:
            digest = self._last.get(run_id)
            if digest is None:
                return None
            data = self._bytes.get((run_id, digest))
            return None if data is None else (digest, data)

    def clear(self) -> None:
        with self._lock:
            self._bytes.clear()
            self._last.clear()
            self._size = 0


RECENT = _Recent()


def shared_ends(base: bytes, data: bytes) -> tuple[int, int]:
    """Lengths of the longest common prefix and then suffix of ``base`` and ``data`` (they
    never overlap in either). Binary search over slice comparisons, so the work is done by
    ``memcmp``, not by a Python loop over bytes."""
    limit = min(len(base), len(data))
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if base[:middle] == data[:middle]:
            low = middle
        else:
            high = middle - 1
    prefix = low
    limit -= prefix
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if base[len(base) - middle:] == data[len(data) - middle:]:
            low = middle
        else:
            high = middle - 1
    return prefix, low


def apply_delta(base: bytes, prefix: int, suffix: int, middle: bytes) -> bytes:
    return base[:prefix] + middle + (base[len(base) - suffix:] if suffix else b"")


# -- writing -----------------------------------------------------------------------------

_INSERT = ("INSERT INTO payload_blobs (run_id, hash, size, base, prefix_len, suffix_len, data) "
           "VALUES (?, ?, ?, NULL, 0, 0, ?) ON CONFLICT (run_id, hash) DO NOTHING")
_INSERT_DELTA = (
    "INSERT INTO payload_blobs (run_id, hash, size, base, prefix_len, suffix_len, data) "
    "SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM payload_blobs "
    "WHERE run_id = ? AND hash = ?) ON CONFLICT (run_id, hash) DO NOTHING")


def store_blob(tx: Tx, run_id: str, data: bytes) -> str:
    """Record ``data`` for the run (once; as a delta where smaller) and return its hash."""
    digest = content_hash(data)
    base = RECENT.base(run_id)
    written = False
    if base is not None and base[0] != digest:
        base_digest, base_data = base
        prefix, suffix = shared_ends(base_data, data)
        if prefix + suffix >= _MIN_SAVING:
            middle = data[prefix:len(data) - suffix]
            written = tx.count(_INSERT_DELTA, (
                run_id, digest, len(data), base_digest, prefix, suffix, middle,
                run_id, base_digest)) > 0
    if not written:
        # Already there (no-op), or no usable base: the bytes whole.
        tx.run(_INSERT, (run_id, digest, len(data), data))
    RECENT.put(run_id, digest, data, last=True)
    return digest


def _pack_value(tx: Tx, run_id: str, value: Any) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        if keys == ["metadata", "data"] and isinstance(value["data"], str) \
                and len(value["data"]) >= BLOB_THRESHOLD:
            digest = store_blob(tx, run_id, value["data"].encode())
            return {"metadata": value["metadata"], _TEXT: digest}
        if keys == ["metadata", "data_b64"] and isinstance(value["data_b64"], str) \
                and len(value["data_b64"]) >= BLOB_THRESHOLD:
            digest = store_blob(tx, run_id, base64.b64decode(value["data_b64"]))
            return {"metadata": value["metadata"], _BINARY: digest}
        return {key: _pack_value(tx, run_id, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_pack_value(tx, run_id, item) for item in value]
    return value


def pack(tx: Tx, run_id: str, attributes: Any) -> str:
    """The text a row stores for ``attributes`` (a history event's, or an activity task's
    input): large payloads become references."""
    text = dumps(attributes)
    if len(text) < BLOB_THRESHOLD or not _has_large(attributes):
        return text
    return dumps(_pack_value(tx, run_id, attributes))


def _has_large(value: Any) -> bool:
    """Whether a payload large enough for a blob is in ``value`` (a walk that allocates
    nothing: most events that are long have no large payload, only many small fields)."""
    if isinstance(value, dict):
        data = value.get("data")
        if data is None:
            data = value.get("data_b64")
        if isinstance(data, str) and len(data) >= BLOB_THRESHOLD and "metadata" in value:
            return True
        return any(_has_large(item) for item in value.values()
                   if isinstance(item, (dict, list)))
    if isinstance(value, list):
        return any(_has_large(item) for item in value if isinstance(item, (dict, list)))
    return False


# -- reading -----------------------------------------------------------------------------

def _refs(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        digest = value.get(_TEXT) or value.get(_BINARY)
        if isinstance(digest, str) and "metadata" in value and len(value) == 2:
            found.add(digest)
            return
        for item in value.values():
            _refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _refs(item, found)


def _unpack_value(value: Any, blobs: dict[str, bytes]) -> Any:
    if isinstance(value, dict):
        if len(value) == 2 and "metadata" in value:
            if _TEXT in value:
                return {"metadata": value["metadata"], "data": blobs[value[_TEXT]].decode()}
            if _BINARY in value:
                return {"metadata": value["metadata"],
                        "data_b64": base64.b64encode(blobs[value[_BINARY]]).decode()}
        return {key: _unpack_value(item, blobs) for key, item in value.items()}
    if isinstance(value, list):
        return [_unpack_value(item, blobs) for item in value]
    return value


def _fetch(tx: Tx, run_id: str, wanted: Iterable[str]) -> dict[str, bytes]:
    """The bytes of the wanted hashes of one run, rebuilding deltas from their bases."""
    found: dict[str, bytes] = {}
    missing = []
    for digest in wanted:
        data = RECENT.get(run_id, digest)
        if data is None:
            missing.append(digest)
        else:
            found[digest] = data
    if not missing:
        return found
    among, params = tx.dialect.in_("hash", missing)
    rows = {r[0]: r for r in tx.all(
        "SELECT hash, base, prefix_len, suffix_len, data FROM payload_blobs "
        f"WHERE run_id = ? AND {among}", (run_id, *params))}
    if any(r[1] is not None and RECENT.get(run_id, r[1]) is None for r in rows.values()):
        # A chain of deltas not in memory: read the run's rows at once (linear in what the
        # run stores) rather than one round trip per link.
        rows = {r[0]: r for r in tx.all(
            "SELECT hash, base, prefix_len, suffix_len, data FROM payload_blobs "
            "WHERE run_id = ?", (run_id,))}
    for digest in missing:
        found[digest] = _rebuild(run_id, digest, rows)
    return found


def _rebuild(run_id: str, digest: str, rows: dict[str, Any]) -> bytes:
    # Walk down to a base that is whole or in memory, then build back up (no recursion: a
    # conversation of thousands of turns is a chain of thousands of deltas).
    chain: list[Any] = []
    current: str | None = digest
    data: bytes | None = None
    while current is not None:
        data = RECENT.get(run_id, current)
        if data is not None:
            break
        row = rows.get(current)
        if row is None:
            raise LookupError(f"payload {current} of run {run_id} is missing from the store")
        chain.append(row)
        current = row[1]
    for row in reversed(chain):
        stored = bytes(row[4])
        data = stored if row[1] is None else apply_delta(
            data or b"", int(row[2]), int(row[3]), stored)
        RECENT.put(run_id, row[0], data, last=False)
    assert data is not None
    return data


def unpack_rows(tx: Tx, run_id: str, texts: list[str]) -> list[Any]:
    """Parse history attribute texts of one run, putting referenced payloads back."""
    parsed = [loads(text) for text in texts]
    refs: list[tuple[int, set[str]]] = []
    for index, text in enumerate(texts):
        if _MARKER in text:
            found: set[str] = set()
            _refs(parsed[index], found)
            if found:
                refs.append((index, found))
    if not refs:
        return parsed
    blobs = _fetch(tx, run_id, set().union(*(found for _, found in refs)))
    for index, _ in refs:
        parsed[index] = _unpack_value(parsed[index], blobs)
    # The latest large payload read is the base the run's next one is compared with (a
    # worker that replays after a crash goes on writing deltas).
    last = max(refs[-1][1], key=lambda digest: len(blobs[digest]))
    RECENT.put(run_id, last, blobs[last], last=True)
    return parsed


def delete_runs(tx: Tx, run_ids: list[str]) -> None:
    among, params = tx.dialect.in_("run_id", run_ids)
    tx.run(f"DELETE FROM payload_blobs WHERE {among}", params)
