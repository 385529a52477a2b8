"""Text line and character sources: files, globs, gzip, UTF-8 policy, bad input."""

import gzip

import pytest
import tensorflow as tf

from seqkeras.data import DataError, text_characters, text_lines
from seqkeras.data.paths import resolve_data_dir, resolve_path


def lines_of(dataset):
    return [x.decode("utf-8") for x in dataset.as_numpy_iterator()]


def test_many_files_globs_and_gzip_in_order(tmp_path):
    (tmp_path / "a.txt").write_text("one\ntwo\r\n", encoding="utf-8")
    with gzip.open(tmp_path / "b.txt.gz", "wt", encoding="utf-8") as f:
        f.write("três\nfour")  # no final newline
    assert lines_of(text_lines(str(tmp_path / "*.txt*"))) == ["one", "two", "três", "four"]
    assert lines_of(text_lines([tmp_path / "b.txt.gz", tmp_path / "a.txt"])) == ["três", "four", "one", "two"]


def test_invalid_utf8_replace_and_strict(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine\nal\xffso\nok\n")
    assert lines_of(text_lines(path)) == ["fine", "al\ufffdso", "ok"]
    with pytest.raises(DataError) as info:
        text_lines(path, encoding_errors="strict")
    assert (info.value.path, info.value.line) == (str(path), 2)
    assert str(info.value).startswith(f"{path}:2: invalid UTF-8")


def test_missing_empty_and_unmatched_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        text_lines(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="no file matches"):
        text_lines(str(tmp_path / "*.nothing"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="empty.txt: file is empty"):
        text_lines(tmp_path / "empty.txt")
    with gzip.open(tmp_path / "empty.gz", "wb"):
        pass
    with pytest.raises(DataError, match="file is empty"):
        text_lines(tmp_path / "empty.gz")


def test_characters_stream_keeps_unicode_and_newlines(tmp_path):
    (tmp_path / "c.txt").write_text("hé\nx\n", encoding="utf-8")
    chars = [c.decode() for c in text_characters(tmp_path / "c.txt").unbatch().as_numpy_iterator()]
    assert chars == list("hé\nx\n")


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKERAS_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(str(tmp_path / "cli")) == tmp_path / "cli"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("SEQKERAS_DATA")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir() == tmp_path / "data"
    assert resolve_path("ptb/*.txt", tmp_path) == tmp_path / "ptb" / "*.txt"
    assert resolve_path("/abs/x", tmp_path).as_posix() == "/abs/x"


def test_ptb_train_counts(shared_data):
    lines = text_lines(shared_data / "ptb" / "ptb.train.txt.gz")
    count = lines.batch(4096).map(lambda b: tf.stack([tf.size(b, tf.int64), tf.size(tf.strings.split(b).flat_values, tf.int64)]))
    n_lines, n_tokens = count.reduce(tf.zeros([2], tf.int64), lambda a, b: a + b).numpy().tolist()
    assert (n_lines, n_tokens, n_tokens + n_lines) == (42_068, 887_521, 929_589)
