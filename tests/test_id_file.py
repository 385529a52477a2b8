"""Token ids on disk (`seqkeras.data.id_file`): the same windows as from an array, a
file reused only when its inputs are unchanged, and the language model reading it."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.data import language_model_windows
from seqkeras.data.id_file import fingerprint, open_id_file, write_id_file
from seqkeras.language_model.data import TRAIN_IDS_FILE, build_data
from seqkeras.pipeline import load_spec


def _as_stream(ids: np.ndarray) -> tf.data.Dataset:
    """Ids as ragged line batches of uneven lines, the way `token_stream` gives them."""
    cuts = np.cumsum(np.random.default_rng(1).integers(1, 9, size=len(ids)))
    cuts = np.concatenate([[0], cuts[cuts < len(ids)], [len(ids)]])
    lines = tf.RaggedTensor.from_row_splits(ids.astype(np.int64), cuts)
    return tf.data.Dataset.from_tensor_slices(lines).ragged_batch(16)


def _windows(dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.copy(), y.copy()) for x, y in dataset.as_numpy_iterator()]


@pytest.mark.parametrize("vocabulary_size,dtype", [(1000, "uint16"), (70_000, "int32")])
@pytest.mark.parametrize("batch_size,bptt_length", [(1, 7), (4, 5), (3, 1)])
def test_windows_equal_those_cut_from_the_array(tmp_path, vocabulary_size, dtype, batch_size, bptt_length):
    ids = np.random.default_rng(0).integers(0, vocabulary_size, size=503).astype(np.int32)
    written = write_id_file(_as_stream(ids), tmp_path / "ids.bin", vocabulary_size, "x")
    assert (written.dtype, written.count, len(written)) == (dtype, 503, 503)
    ours = _windows(written.windows(batch_size, bptt_length))
    expected = _windows(language_model_windows(ids, batch_size, bptt_length))
    assert len(ours) == len(expected) == written.windows(batch_size, bptt_length).cardinality()
    for (x, y), (ex, ey) in zip(ours, expected):
        assert x.dtype == np.int32
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


def test_a_file_is_reused_only_when_its_inputs_are_unchanged(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c\n")
    digest = fingerprint([corpus], {"lowercase": False}, ["<pad>", "a", "b", "c"])
    path = tmp_path / "ids.bin"
    assert open_id_file(path, digest) is None
    write_id_file(_as_stream(np.arange(40, dtype=np.int32)), path, 100, digest)
    assert open_id_file(path, digest).count == 40
    assert fingerprint([corpus], {"lowercase": True}, ["<pad>", "a", "b", "c"]) != digest
    assert fingerprint([corpus], {"lowercase": False}, ["<pad>", "a", "b"]) != digest
    corpus.write_text("a b c d\n")
    assert fingerprint([corpus], {"lowercase": False}, ["<pad>", "a", "b", "c"]) != digest
    with open(path, "r+b") as stream:          # a file cut short is not trusted
        stream.truncate(10)
    assert open_id_file(path, digest) is None


SPEC = """
application = "language_model"
name = "ids_lm"
[data]
train = "{corpus}"
validation_fraction = 0.2
level = "word"
tokenizer = "whitespace"
train_ids = "{train_ids}"
[model]
units = 4
[training]
batch_size = 3
bptt_length = 4
"""


@pytest.mark.parametrize("train_ids", ["disk", "auto"])
def test_the_language_model_reads_its_training_ids_from_disk(tmp_path, train_ids, monkeypatch):
    rng = np.random.default_rng(0)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(" ".join(rng.choice(list("abcdefgh"), rng.integers(1, 9))) + "\n"
                              for _ in range(200)))
    if train_ids == "auto":   # a corpus "larger than memory": over the threshold
        monkeypatch.setattr("seqkeras.language_model.data.DISK_IDS_ABOVE_BYTES", corpus.stat().st_size - 1)
    specs = {}
    for where in (train_ids, "memory"):
        path = tmp_path / f"{where}.toml"
        path.write_text(SPEC.format(corpus=corpus, train_ids=where))
        specs[where] = load_spec(path)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    on_disk = build_data(specs[train_ids], run_dir=run_dir)
    in_memory = build_data(specs["memory"])
    assert (run_dir / TRAIN_IDS_FILE).is_file() and on_disk.train_tokens == in_memory.train_tokens > 0
    for (x, y), (ex, ey) in zip(_windows(on_disk.train), _windows(in_memory.train), strict=True):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)
    written = (run_dir / TRAIN_IDS_FILE).stat().st_mtime_ns
    again = build_data(specs[train_ids], run_dir=run_dir)        # resume, evaluate, export: reused
    assert (run_dir / TRAIN_IDS_FILE).stat().st_mtime_ns == written and again.train_tokens == on_disk.train_tokens
