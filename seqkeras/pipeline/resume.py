"""Resumable training whose every file write is atomic.

A run killed at any moment (mid-epoch, while a checkpoint or the backup is written,
during evaluation) must resume at its last finished epoch and never load a half-written
file. Keras's own `BackupAndRestore` writes the weights and then the epoch number in
place: a kill inside the weights write leaves a corrupt file, and a kill between the two
writes resumes an epoch on weights that already trained on it. Here:

* `atomic_write`: a file is written under a hidden temporary name in the same directory
  and renamed over its target (`os.replace` is atomic on one file system), so a reader
  sees the old file or the new one, never a part;
* `ResumableBackup`: after each epoch, the weights (optimizer slots included) go to
  ``backup/epoch_<n>.weights.h5`` and only then does ``backup/state.json`` (written
  atomically) point at them; at the start of training the state's epoch is resumed
  from its weights. Files the state does not name are leftovers and are deleted;
* `EpochCheckpoint`: ``checkpoints/epoch_<NNN>.weights.h5`` after each epoch, atomically.

The runner also trims ``history.csv`` to the epochs the backup holds (`resumed_epoch`,
`trim_history`), so a repeated epoch is logged once.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import uuid
from typing import Callable

import keras

TEMP_PREFIX = ".tmp-"
STATE_FILE = "state.json"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> pathlib.Path:
    """Call ``write(temporary_path)`` then rename the result to `path` (atomic).

    The temporary name keeps `path`'s suffixes (Keras wants ``.weights.h5``); on any
    exception it is removed and the exception re-raised, leaving `path` untouched.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex[:8]}-{path.name}"
    try:
        write(str(temporary))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    return atomic_write(path, lambda name: pathlib.Path(name).write_text(text, encoding="utf-8"))


def save_weights_atomically(model: keras.Model, path: str | os.PathLike) -> pathlib.Path:
    """`model.save_weights(path)` (a ``.weights.h5`` file, optimizer slots included), atomically.

    The HDF5 file is built in memory and only its bytes are written to disk: when a disk
    write fails (disk full, file size or quota limit), HDF5 crashes the process with a
    segmentation fault while closing the file, whereas Python's write raises an `OSError`
    that the caller can report. Uses Keras's own writer (`saving_lib`), so the file is
    exactly what `save_weights` writes and `load_weights` reads.
    """
    from keras.src.saving import saving_lib

    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set())
    store.close()
    return atomic_write(path, lambda name: pathlib.Path(name).write_bytes(buffer.getvalue()))


def remove_temporaries(*directories: str | os.PathLike) -> None:
    """Delete the hidden temporaries that a process killed inside `atomic_write` left in
    `directories` (not recursive). Call it only where no other process is writing."""
    for directory in map(pathlib.Path, directories):
        if directory.is_dir():
            for path in directory.glob(f"{TEMP_PREFIX}*"):
                path.unlink(missing_ok=True)


def resumed_epoch(backup_dir: str | os.PathLike) -> int:
    """The number of finished epochs the backup holds (0: none, start afresh)."""
    state = pathlib.Path(backup_dir) / STATE_FILE
    if not state.is_file():
        return 0
    return int(json.loads(state.read_text(encoding="utf-8"))["epoch"])


def trim_history(history_csv: str | os.PathLike, epochs: int) -> None:
    """Keep the header and the rows of epochs 0 … `epochs` − 1 of a CSVLogger file
    (the rows of an epoch that was logged but not backed up are dropped: it reruns)."""
    path = pathlib.Path(history_csv)
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    if not rows:
        return
    column = rows[0].index("epoch") if "epoch" in rows[0] else 0
    kept = [rows[0]] + [row for row in rows[1:] if row and row[column].isdigit() and int(row[column]) < epochs]

    def write(name):
        with open(name, "w", newline="", encoding="utf-8") as stream:
            csv.writer(stream).writerows(kept)

    atomic_write(path, write)


class ResumableBackup(keras.callbacks.Callback):
    """Back up the model after every epoch and resume from the last backup (atomic).

    Args:
        backup_dir: the run's ``backup/``; deleted when training ends normally (like
            Keras's `BackupAndRestore`: a finished run starts afresh when trained again).
    """

    def __init__(self, backup_dir: str | os.PathLike, delete_on_end: bool = True):
        super().__init__()
        self.backup_dir = pathlib.Path(backup_dir)
        self.delete_on_end = delete_on_end

    def on_train_begin(self, logs=None):
        state = self.backup_dir / STATE_FILE
        if not state.is_file():
            return
        saved = json.loads(state.read_text(encoding="utf-8"))
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)  # so its slots load too
        self.model.load_weights(str(self.backup_dir / saved["weights"]))
        self.model._initial_epoch = int(saved["epoch"])
        self._remove_leftovers(keep=saved["weights"])

    def on_epoch_end(self, epoch, logs=None):
        weights = f"epoch_{epoch + 1}.weights.h5"
        save_weights_atomically(self.model, self.backup_dir / weights)
        atomic_write_text(self.backup_dir / STATE_FILE, json.dumps({"epoch": epoch + 1, "weights": weights}))
        self._remove_leftovers(keep=weights)

    def on_train_end(self, logs=None):
        if self.delete_on_end and self.backup_dir.is_dir():
            for path in self.backup_dir.iterdir():
                path.unlink()
            self.backup_dir.rmdir()

    def _remove_leftovers(self, keep: str) -> None:
        for path in self.backup_dir.iterdir():
            if path.name not in (keep, STATE_FILE):
                path.unlink(missing_ok=True)


class EpochCheckpoint(keras.callbacks.Callback):
    """``<directory>/epoch_<NNN>.weights.h5`` after every epoch, written atomically."""

    def __init__(self, directory: str | os.PathLike):
        super().__init__()
        self.directory = pathlib.Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        save_weights_atomically(self.model, self.directory / f"epoch_{epoch + 1:03d}.weights.h5")
