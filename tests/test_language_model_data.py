"""Language-model data: corpus → vocabulary → BPTT windows with state continuity."""

import numpy as np
import pytest

from seqkeras.data import DataError
from seqkeras.language_model import Spec, build_data, resolve_corpus, stream_windows
from seqkeras.pipeline.spec import with_overrides

WORDS = "the cat sat on the mat\na dog ate the bone\n" * 30


def tiny_spec(tmp_path, **overrides):
    train = tmp_path / "train.txt"
    train.write_text(WORDS)
    valid = tmp_path / "valid.txt"
    valid.write_text("the dog sat on the mat\n" * 8)
    base = {"data.train": str(train), "data.validation": str(valid), "data.level": "word",
            "data.tokenizer": "whitespace", "data.newline": "eos",
            "training.batch_size": 2, "training.bptt_length": 5}
    base.update(overrides)
    return with_overrides(Spec(), base)


def test_word_data(tmp_path):
    data = build_data(tiny_spec(tmp_path), None, tmp_path)
    vocab = data.tokenizer.vocabulary
    assert vocab.tokens[:3] == ["<pad>", "<unk>", "<eos>"]
    assert data.vocabulary_size == 3 + 9
    assert data.train_tokens == 30 * (6 + 1 + 5 + 1)   # words + one <eos> per line
    assert (tmp_path / "vocabulary.txt").is_file()
    assert data.summary() == {"vocabulary_size": 12, "train_tokens": 390, "validation_tokens": 56, "level": "word"}
    windows = list(data.train.as_numpy_iterator())
    # Row b of window i+1 continues row b of window i; targets are inputs shifted by one.
    for (x0, y0), (x1, _) in zip(windows, windows[1:]):
        assert x0.shape == (2, 5)
        np.testing.assert_array_equal(y0[:, :-1], x0[:, 1:])
        np.testing.assert_array_equal(y0[:, -1], x1[:, 0])
    # Reloading uses the saved vocabulary.
    again = build_data(tiny_spec(tmp_path), None, tmp_path)
    assert again.tokenizer.vocabulary == vocab


def test_character_data_with_validation_fraction(tmp_path):
    spec = tiny_spec(tmp_path, **{"data.validation": "", "data.validation_fraction": 0.25,
                                  "data.level": "char", "data.tokenizer": "character", "data.newline": "char"})
    data = build_data(spec)
    tokens = data.tokenizer.vocabulary.tokens
    assert "\n" in tokens and "<eos>" not in tokens
    last_lines = WORDS.splitlines()[-15:]                      # 25 % of 60 lines
    assert data.validation_tokens == sum(len(line) + 1 for line in last_lines)
    assert data.train_tokens + data.validation_tokens == len(WORDS)


def test_stream_windows_score_every_token():
    ids = np.arange(23)
    windows = list(stream_windows(ids, batch_size=2, bptt_length=4))
    assert [x.shape[1] for x, _ in windows] == [4, 4, 2]       # 11 per stream → 10 targets
    targets = np.concatenate([y for _, y in windows], axis=1)
    np.testing.assert_array_equal(targets[0], np.arange(1, 11))
    np.testing.assert_array_equal(targets[1], np.arange(12, 22))


def test_packaged_corpus():
    assert resolve_corpus("package:tinyshakespeare.txt.gz").endswith("tinyshakespeare.txt.gz")
    with pytest.raises(DataError):
        resolve_corpus("package:nothing.gz")


def test_ptb_word_counts(shared_data):
    spec = with_overrides(Spec(), {"data.train": "ptb/ptb.valid.txt", "data.validation": "ptb/ptb.valid.txt",
                                   "data.level": "word", "data.tokenizer": "whitespace",
                                   "data.newline": "eos", "training.batch_size": 20})
    data = build_data(spec, shared_data)
    assert data.train_tokens == 73_760            # DATA.md: tokens incl. one <eos> per line
    assert data.tokenizer.vocabulary.unk_id == data.tokenizer.vocabulary.id("<unk>")
