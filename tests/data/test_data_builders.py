"""Dataset builders checked against plain-Python references on tiny inputs."""

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.data import (CharacterTokenizer, Vocabulary, WordTokenizer, classification_batches,
                           language_model_windows, leave_last_out, seq2seq_batches, session_sequences,
                           tagging_batches, text_lines, time_series_windows, token_stream)


def zaremba_reference(ids, batch_size, steps):
    """Zaremba et al.'s `ptb_producer`, written with Python lists."""
    n = len(ids) // batch_size
    streams = [ids[b * n:(b + 1) * n] for b in range(batch_size)]
    return [([s[i * steps:(i + 1) * steps] for s in streams], [s[i * steps + 1:(i + 1) * steps + 1] for s in streams])
            for i in range((n - 1) // steps)]


@pytest.mark.parametrize("n, batch_size, steps", [(103, 4, 5), (50, 3, 4), (21, 2, 9)])
def test_language_model_windows_match_zaremba(n, batch_size, steps):
    ids = list(range(1, n + 1))
    stream = tf.data.Dataset.from_tensor_slices(tf.ragged.constant([ids[:7], ids[7:30], ids[30:]]))
    got = [(x.tolist(), y.tolist()) for x, y in language_model_windows(stream, batch_size, steps).as_numpy_iterator()]
    assert got == zaremba_reference(ids, batch_size, steps)


@pytest.mark.parametrize("n, batch_size, steps", [(103, 4, 5), (1000, 7, 3), (997, 20, 5), (400, 1, 10)])
def test_streamed_language_model_windows_are_unchanged(n, batch_size, steps):
    """Streaming (bounded memory) gives the in-memory windows, for every kind of id stream."""
    ids = list(range(1, n + 1))
    cuts = sorted(np.random.default_rng(n).choice(np.arange(1, n), size=12, replace=False).tolist())
    lines = [ids[a:b] for a, b in zip([0] + cuts, cuts + [n])] + [[]]
    expected = [(x.tolist(), y.tolist()) for x, y in language_model_windows(np.array(ids), batch_size, steps)
                .as_numpy_iterator()]
    assert expected == zaremba_reference(ids, batch_size, steps)
    for stream in (tf.data.Dataset.from_tensor_slices(ids),                       # scalars
                   tf.data.Dataset.from_generator(lambda: iter(lines), output_signature=tf.TensorSpec([None], tf.int64)),
                   tf.data.Dataset.from_tensor_slices(tf.ragged.constant(lines)).ragged_batch(3)):  # ragged batches
        windows = language_model_windows(stream, batch_size, steps)
        assert int(windows.cardinality()) == len(expected)
        for _ in range(2):                                                         # same windows every epoch
            got = [(x.tolist(), y.tolist()) for x, y in windows.as_numpy_iterator()]
            assert got == expected
        # Row b of batch i + 1 continues row b of batch i; targets are inputs shifted by one.
        for (x0, y0), (x1, _) in zip(got, got[1:]):
            assert [r[1:] for r in x0] == [r[:-1] for r in y0]
            assert [r[-1] for r in y0] == [r[0] for r in x1]


def test_language_model_windows_too_short():
    with pytest.raises(ValueError, match="too few"):
        language_model_windows(np.arange(5), batch_size=4, bptt_length=3)
    with pytest.raises(ValueError, match="too few"):
        language_model_windows(tf.data.Dataset.range(5), batch_size=4, bptt_length=3)


def test_token_stream_appends_eos_per_line(tmp_path):
    (tmp_path / "t.txt").write_text(" a b \n c \n")
    tokenizer = WordTokenizer(add_eos=True)
    vocab = tokenizer.adapt(text_lines(tmp_path / "t.txt"), reserved=("<pad>", "<unk>", "<eos>"))
    batches = list(token_stream(text_lines(tmp_path / "t.txt"), tokenizer, batch_size=1))
    assert [b.to_list() for b in batches] == [[vocab.ids(["a", "b", "<eos>"])], [vocab.ids(["c", "<eos>"])]]


def word_tokenizer(texts, reserved=("<pad>", "<unk>")):
    tokenizer = WordTokenizer()
    tokenizer.adapt(tf.data.Dataset.from_tensor_slices(texts), reserved=reserved)
    return tokenizer


def test_classification_batches_pad_bucket_and_keep_every_example():
    texts = [" ".join(["w"] * n) + f" x{n}" for n in range(1, 40)]
    labels = [str(n % 2) for n in range(1, 40)]
    tokenizer = word_tokenizer(texts)
    pairs = tf.data.Dataset.from_tensor_slices((texts, labels))
    build = lambda: list(classification_batches(pairs, tokenizer, 4, labels=["0", "1"], pool_batches=5,
                                                shuffle_buffer=100, seed=3).as_numpy_iterator())
    batches = build()
    seen, padding = {}, 0
    for ids, y in batches:
        assert ids.shape[0] == y.shape[0] <= 4
        lengths = (ids != 0).sum(1)
        assert lengths.max() == ids.shape[1]
        padding += (ids == 0).sum()
        for row, label in zip(ids, y):
            seen[int(row[row != 0][-1])] = int(label)
    assert seen == {tokenizer.vocabulary.id(f"x{n}"): n % 2 for n in range(1, 40)}
    # Sorted pools of 20 texts: each batch of 4 holds lengths within a span of 3 or so.
    assert padding < 39 * 3
    again = build()
    assert all((a[0] == b[0]).all() for a, b in zip(batches, again))


def test_classification_length_weights_are_tokens_to_the_power_with_mean_one():
    texts = [" ".join(["w"] * n) for n in (1, 2, 4, 8, 0)]
    tokenizer = word_tokenizer(texts)
    pairs = tf.data.Dataset.from_tensor_slices((texts, ["0"] * 5))
    ids, _, weights = next(iter(classification_batches(pairs, tokenizer, 5, labels=["0"], pool_batches=None,
                                                       length_weight=0.5)))
    lengths = np.maximum((ids.numpy() != 0).sum(1), 1)          # an empty text counts as one token
    expected = lengths ** 0.5 / np.mean(lengths ** 0.5)
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-6)


def test_classification_max_length_and_integer_labels():
    tokenizer = word_tokenizer(["a b c d"])
    pairs = tf.data.Dataset.from_tensor_slices((["a b c d", "d"], [1, 0]))
    ids, y = next(iter(classification_batches(pairs, tokenizer, 2, max_length=2, pool_batches=None)))
    assert ids.numpy().tolist() == [tokenizer.vocabulary.ids(["a", "b"]), tokenizer.vocabulary.ids(["d", "<pad>"])]
    assert y.numpy().tolist() == [1, 0]


def test_tagging_batches_align_tags_and_characters():
    sentences = [(["The", "cat"], ["DET", "NOUN"]), (["Hi"], ["INTJ"])]
    data = tf.data.Dataset.from_generator(
        lambda: ({"tokens": t, "tags": g} for t, g in sentences),
        output_signature={"tokens": tf.TensorSpec([None], tf.string), "tags": tf.TensorSpec([None], tf.string)})
    words = Vocabulary.build(data.map(lambda s: tf.strings.lower(s["tokens"])))
    chars = CharacterTokenizer().adapt(data.map(lambda s: tf.strings.reduce_join(s["tokens"])))
    tags = ["DET", "NOUN", "INTJ"]
    inputs, tag_ids = next(iter(tagging_batches(data, words, tags, 2, char_vocabulary=chars, lowercase=True,
                                                pool_batches=None)))
    assert inputs["tokens"].numpy().tolist() == [words.ids(["the", "cat"]), words.ids(["hi", "<pad>"])]
    assert tag_ids.numpy().tolist() == [[0, 1], [2, 0]]
    expected_chars = [[chars.ids("The"), chars.ids("cat")], [chars.ids("Hi") + [0], [0, 0, 0]]]
    assert inputs["chars"].numpy().tolist() == expected_chars


def test_seq2seq_batches_shift_targets_and_filter_long_pairs():
    sources, targets = ["a b", "a b c d e f"], ["x y", "y"]
    source_tok = word_tokenizer(sources)
    target_tok = word_tokenizer(targets, reserved=("<pad>", "<unk>", "<bos>", "<eos>"))
    v = target_tok.vocabulary
    pairs = tf.data.Dataset.from_tensor_slices((sources, targets))
    batches = list(seq2seq_batches(pairs, source_tok, target_tok, 4, max_length=4, pool_batches=None))
    assert len(batches) == 1
    (source, target_in), target_out = batches[0]
    assert source.numpy().tolist() == [source_tok.vocabulary.ids(["a", "b"])]
    assert target_in.numpy().tolist() == [[v.bos_id] + v.ids(["x", "y"])]
    assert target_out.numpy().tolist() == [v.ids(["x", "y"]) + [v.eos_id]]
    with pytest.raises(ValueError, match="<bos>"):
        seq2seq_batches(pairs, source_tok, source_tok, 4)


def test_time_series_windows_and_train_only_statistics():
    values = np.stack([np.arange(40.0), np.arange(40.0) ** 2], axis=1)
    s = time_series_windows(values, history=4, horizon=2, batch_size=100, splits=(0.5, 0.25),
                            target_columns=[1], shuffle_buffer=None)
    np.testing.assert_allclose(s.mean, values[:20].mean(0), rtol=1e-6)
    np.testing.assert_allclose(s.std, values[:20].std(0), rtol=1e-6)
    norm = (values - s.mean) / s.std

    def reference(first, end):
        starts = range(max(first - 4, 0), end - 6 + 1)
        return np.stack([norm[i:i + 4] for i in starts]), np.stack([norm[i + 4:i + 6, [1]] for i in starts])

    for dataset, (first, end) in zip([s.train, s.validation, s.test], [(0, 20), (20, 30), (30, 40)]):
        x, y = next(iter(dataset))
        rx, ry = reference(first, end)
        np.testing.assert_allclose(x.numpy(), rx, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(y.numpy(), ry, rtol=1e-5, atol=1e-6)
    test_starts = range(26, 35)
    np.testing.assert_allclose(s.denormalize(y.numpy()), np.stack([values[i + 4:i + 6, [1]] for i in test_starts]),
                               rtol=1e-5)
    x_train, y_train = next(iter(s.train))
    assert x_train.shape == (15, 4, 2) and y_train.shape == (15, 2, 1)


def test_leave_last_out_and_session_sequences():
    users = tf.data.Dataset.from_tensor_slices({"user": [1, 2], "items": tf.ragged.constant([[5, 6, 7, 8, 9], [3, 4]], tf.int64)})
    train, validation, test = leave_last_out(users)
    assert [u["items"].tolist() for u in train.as_numpy_iterator()] == [[5, 6, 7], [3, 4]]
    assert [(u["history"].tolist(), u["target"]) for u in validation.as_numpy_iterator()] == [([5, 6, 7], 8)]
    assert [(u["history"].tolist(), u["target"]) for u in test.as_numpy_iterator()] == [([5, 6, 7, 8], 9)]
    x, y = next(iter(session_sequences(train, batch_size=2, max_length=2)))
    assert x.numpy().tolist() == [[5, 6], [3, 0]]
    assert y.numpy().tolist() == [[6, 7], [4, 0]]


def test_real_ptb_vocabulary_and_zaremba_batches(shared_data):
    lines = text_lines(shared_data / "ptb" / "ptb.train.txt.gz")
    tokenizer = WordTokenizer(add_eos=True)
    vocab = tokenizer.adapt(lines, reserved=("<pad>", "<unk>", "<eos>"))
    assert len(vocab) == 10_001 and len(set(vocab.tokens) - {"<pad>"}) == 10_000
    ids = np.concatenate([b.flat_values.numpy() for b in token_stream(lines, tokenizer)])
    assert len(ids) == 929_589 and (ids == vocab.eos_id).sum() == 42_068
    assert (ids == vocab.unk_id).sum() == vocab.counts["<unk>"]
    windows = language_model_windows(ids, batch_size=20, bptt_length=35)
    assert int(windows.cardinality()) == (929_589 // 20 - 1) // 35 == 1327
    x, y = next(iter(windows.skip(1)))
    np.testing.assert_array_equal(x.numpy()[3], ids[3 * 46_479 + 35:3 * 46_479 + 70])
    np.testing.assert_array_equal(y.numpy()[3], ids[3 * 46_479 + 36:3 * 46_479 + 71])
