"""A corpus's token ids on disk, for corpora larger than memory.

One streaming pass writes the ids of a token stream to a flat binary file (``uint16``
when the vocabulary fits, else ``int32``), chunk by chunk, so memory stays one chunk
whatever the corpus size. BPTT windows are then read back with positioned reads
(``os.pread``): memory stays one window, and every window costs B small reads instead
of re-tokenizing the corpus (what `language_model_windows` does with a dataset).

A sidecar JSON records the dtype, the count and a fingerprint of what produced the ids
(the corpus files' sizes and modification times, the data options, the vocabulary), so
a later command on the same run (resume, evaluate, export) reuses the file, and a
changed corpus or vocabulary rebuilds it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib

import numpy as np
import tensorflow as tf

from seqkeras.data.builders.language_model import check_stream_length, id_chunks


@dataclasses.dataclass(frozen=True)
class IdFile:
    """Ids ``[count]`` of one token stream in `path`, stored as `dtype`."""

    path: pathlib.Path
    dtype: str
    count: int

    def __len__(self) -> int:
        return self.count

    def windows(self, batch_size: int, bptt_length: int) -> tf.data.Dataset:
        """Zaremba's BPTT windows over `batch_size` parallel streams, as
        `seqkeras.data.language_model_windows` cuts them from an array (same ids,
        same order): ``(inputs int32[B, T], targets int32[B, T])``, known cardinality."""
        stream_length, num_batches = check_stream_length(self.count, batch_size, bptt_length)
        itemsize = np.dtype(self.dtype).itemsize
        stream_offsets = np.arange(batch_size, dtype=np.int64) * stream_length
        path, dtype = str(self.path), np.dtype(self.dtype)

        def read(i):
            # Opened per window: a dataset iterator has no close hook, and the open is
            # negligible beside B reads.
            fd = os.open(path, os.O_RDONLY)
            try:
                rows = [np.frombuffer(os.pread(fd, (bptt_length + 1) * itemsize,
                                               int(offset + i * bptt_length) * itemsize), dtype)
                        for offset in stream_offsets]
            finally:
                os.close(fd)
            return np.stack(rows).astype(np.int32)

        def window(i):
            ids = tf.numpy_function(read, [i], tf.int32, stateful=False)
            ids = tf.ensure_shape(ids, [batch_size, bptt_length + 1])
            return ids[:, :-1], ids[:, 1:]

        return (tf.data.Dataset.range(num_batches).map(window, num_parallel_calls=tf.data.AUTOTUNE,
                                                       deterministic=True)
                .apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(tf.data.AUTOTUNE))


def fingerprint(files, options: dict, vocabulary_tokens) -> str:
    """A digest of what determines a stream's ids: each file's path, size and
    modification time, the data options and the vocabulary."""
    digest = hashlib.sha256()
    for path in files:
        status = os.stat(path)
        digest.update(f"{os.path.abspath(path)}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    digest.update("\n".join(vocabulary_tokens).encode())
    return digest.hexdigest()


def _metadata_path(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(path.name + ".json")


def open_id_file(path: str | os.PathLike, expected_fingerprint: str) -> IdFile | None:
    """The id file at `path` if it was written from inputs with `expected_fingerprint`, else None."""
    path = pathlib.Path(path)
    metadata = _metadata_path(path)
    if not (path.is_file() and metadata.is_file()):
        return None
    saved = json.loads(metadata.read_text(encoding="utf-8"))
    if saved.get("fingerprint") != expected_fingerprint or \
            path.stat().st_size != saved["count"] * np.dtype(saved["dtype"]).itemsize:
        return None
    return IdFile(path, saved["dtype"], int(saved["count"]))


def write_id_file(token_id_stream: tf.data.Dataset, path: str | os.PathLike, vocabulary_size: int,
                  fingerprint_digest: str) -> IdFile:
    """Stream the ids of `token_id_stream` (ragged line batches, e.g. `token_stream`) to
    `path`, atomically (a temporary renamed into place, then the sidecar JSON, so a file
    without a matching sidecar is never trusted)."""
    from seqkeras.pipeline.resume import atomic_write, atomic_write_text

    path = pathlib.Path(path)
    dtype = np.dtype(np.uint16 if vocabulary_size <= np.iinfo(np.uint16).max + 1 else np.int32)
    count = 0

    def write(name):
        nonlocal count
        with open(name, "wb") as stream:
            for chunk in id_chunks(token_id_stream).as_numpy_iterator():
                stream.write(chunk.astype(dtype).tobytes())
                count += len(chunk)

    _metadata_path(path).unlink(missing_ok=True)
    atomic_write(path, write)
    atomic_write_text(_metadata_path(path), json.dumps({"dtype": dtype.name, "count": count,
                                                        "fingerprint": fingerprint_digest}))
    return IdFile(path, dtype.name, count)
