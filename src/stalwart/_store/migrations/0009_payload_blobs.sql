-- Large payloads of history events, stored once per run by content hash, and, where it is
-- smaller, as the difference from an earlier payload of the same run (see docs/storage.md).
-- A history row holds a reference {"metadata": ..., "@blob": hash} in place of the bytes.
-- `data` is the whole payload when `base` is NULL; otherwise the bytes between the first
-- `prefix_len` and the last `suffix_len` bytes of the payload `base` (same run).
-- Kept with its run: deleting a run's history deletes its rows (they are the run's alone).
CREATE TABLE IF NOT EXISTS payload_blobs (
    run_id      TEXT NOT NULL,
    hash        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    base        TEXT,
    prefix_len  BIGINT NOT NULL,
    suffix_len  BIGINT NOT NULL,
    data        {bytes} NOT NULL,
    PRIMARY KEY (run_id, hash)
);
