"""word2vec data pipeline: determinism, subsampling, dynamic window, negatives, bad input."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.data import DataError
from seqkeras.word2vec import data as w2v


def _corpus(tmp_path, lines, name="corpus.txt"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _zipf_lines(n_lines=200, length=30, vocab=50, seed=0):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    return [" ".join(f"w{i}" for i in rng.choice(vocab, length, p=p)) for _ in range(n_lines)]


def _batches(path, config, epoch=0, min_count=1):
    lines = w2v.corpus_lines(str(path))
    vocab, stats = w2v.build_vocabulary(lines, min_count=min_count, standardize_mode="none")
    ds = w2v.skipgram_batches(lines, vocab, config, epoch=epoch, standardize_mode="none", pad=False)
    return vocab, stats, [{k: v.numpy() for k, v in b.items()} for b in ds]


def test_pipeline_is_deterministic_with_seed(tmp_path):
    path = _corpus(tmp_path, _zipf_lines())
    config = w2v.SkipGramConfig(sample=1e-2, seed=3)
    _, _, first = _batches(path, config)
    _, _, again = _batches(path, config)
    _, _, other_epoch = _batches(path, config, epoch=1)
    _, _, other_seed = _batches(path, w2v.SkipGramConfig(sample=1e-2, seed=4))
    for a, b in zip(first, again):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a["negatives"], b["negatives"]) for a, b in zip(first, other_epoch))
    assert any(not np.array_equal(a["targets"], b["targets"]) for a, b in zip(first, other_seed))


def test_keep_probability_formula():
    counts = np.array([0, 0, 1000.0, 100.0, 10.0, 1.0])
    sample = 1e-2
    threshold = sample * counts.sum()
    expected = [0, 0] + [min(1.0, (np.sqrt(f / threshold) + 1) * threshold / f) for f in counts[2:]]
    np.testing.assert_allclose(w2v.keep_probabilities(counts, sample), expected)
    np.testing.assert_array_equal(w2v.keep_probabilities(counts, 0.0), [0, 0, 1, 1, 1, 1])


def test_subsampling_rate_matches_formula(tmp_path):
    path = _corpus(tmp_path, _zipf_lines(n_lines=300))
    config = w2v.SkipGramConfig(sample=1e-2, seed=1)
    vocab, stats, batches = _batches(path, config)
    kept = collections.Counter(np.concatenate([b["targets"] for b in batches]).tolist())
    keep = w2v.keep_probabilities(w2v.word_counts(vocab), config.sample)
    for word in ("w0", "w1", "w5"):
        i = vocab.id(word)
        n = vocab.counts[word]
        rate = kept[i] / n
        assert abs(rate - keep[i]) < 4 * np.sqrt(keep[i] * (1 - keep[i]) / n) + 1e-9, (word, rate, keep[i])
    assert sum(int(b["words"]) for b in batches) == stats.words


@pytest.mark.parametrize("pad", [False, True])
def test_batches_cut_the_token_stream_into_fixed_sizes(tmp_path, pad):
    """Without subsampling the batches are the corpus's in-vocabulary tokens in order,
    `batch_words` at a time (the last one padded when asked), with line numbers that
    restart at each batch and change exactly where the corpus's lines do."""
    rng = np.random.default_rng(4)
    text = [" ".join(f"w{i}" for i in rng.integers(0, 30, rng.integers(1, 40))) for _ in range(150)]
    text[7] = "rare " + text[7]                                  # below min_count: dropped
    path = _corpus(tmp_path, text)
    config = w2v.SkipGramConfig(sample=0.0, batch_words=100, seed=0)
    lines = w2v.corpus_lines(str(path))
    vocab, stats = w2v.build_vocabulary(lines, min_count=2, standardize_mode="none")
    batches = [{k: v.numpy() for k, v in b.items()}
               for b in w2v.skipgram_batches(lines, vocab, config, standardize_mode="none", pad=pad)]
    ids = [vocab.id(w) for line in text for w in line.split() if vocab.id(w) > 1]
    line_of = [n for n, line in enumerate(text) for w in line.split() if vocab.id(w) > 1]
    real = [b["rows"] >= 0 for b in batches]
    assert all(len(b["targets"]) == 100 for b in batches[:-1])
    assert len(batches[-1]["targets"]) == (100 if pad else len(ids) - 100 * (len(batches) - 1))
    np.testing.assert_array_equal(np.concatenate([b["targets"][m] for b, m in zip(batches, real)]), ids)
    assert sum(int(b["words"]) for b in batches) == stats.words == len(ids)
    start = 0
    for b, m in zip(batches, real):
        expected = np.array(line_of[start: start + m.sum()])
        np.testing.assert_array_equal(b["rows"][m], expected - expected[0])
        start += m.sum()
    assert not pad or (batches[-1]["windows"][~real[-1]] == 0).all()


def test_dynamic_window_is_uniform_and_pairs_follow_it(tmp_path):
    lines = [" ".join(f"w{(i * 7 + j) % 40}" for j in range(60)) for i in range(100)]
    path = _corpus(tmp_path, lines)
    L = 5
    config = w2v.SkipGramConfig(window=L, sample=0.0, seed=2)
    _, _, batches = _batches(path, config)
    windows = np.concatenate([b["windows"] for b in batches])
    counts = np.bincount(windows, minlength=L + 1)[1:]
    expected = len(windows) / L
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 20.5, counts       # χ²(4) 99.96th percentile
    # pairs at distance d exist for targets whose window ≥ d: frequency ∝ (L − d + 1)
    batch = batches[0]
    masks = w2v.window_masks(tf.constant(batch["rows"]), tf.constant(batch["windows"]), L).numpy()
    for i, offset in enumerate(w2v.offsets(L)):
        inside = batch["windows"] >= abs(offset)
        # only tokens whose neighbour at `offset` is in the same line can pair
        assert masks[i].sum() <= inside.sum()
    per_distance = [masks[i].sum() for i, o in enumerate(w2v.offsets(L)) if o > 0]
    ratios = np.array(per_distance) / per_distance[0]
    np.testing.assert_allclose(ratios, [(L - d + 1) / L for d in range(1, L + 1)], atol=0.08)
    # windows never cross lines
    pairs = w2v.window_pairs(batch, L)
    assert len(pairs) == masks.sum()


def test_negatives_follow_unigram_power(tmp_path):
    path = _corpus(tmp_path, _zipf_lines(n_lines=300, vocab=20))
    config = w2v.SkipGramConfig(negatives=10, sample=0.0, seed=5, ns_exponent=0.75)
    vocab, _, batches = _batches(path, config)
    negatives = np.concatenate([b["negatives"].ravel() for b in batches])
    observed = np.bincount(negatives, minlength=len(vocab))
    expected_p = w2v.negative_distribution(w2v.word_counts(vocab), 0.75)
    assert observed[:2].sum() == 0                        # reserved ids are never drawn
    expected = expected_p * len(negatives)
    keep = expected > 5
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    dof = keep.sum() - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), (chi2, dof)
    # and not the plain unigram distribution
    plain = w2v.negative_distribution(w2v.word_counts(vocab), 1.0) * len(negatives)
    chi2_plain = ((observed[keep] - plain[keep]) ** 2 / plain[keep]).sum()
    assert chi2_plain > 5 * chi2


def test_empty_corpus_names_the_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty.txt"):
        w2v.build_vocabulary(w2v.corpus_lines(str(path)), source=str(path))
    blank = _corpus(tmp_path, ["   ", ""], name="blank.txt")
    with pytest.raises(DataError, match="blank.txt.*empty corpus"):
        w2v.build_vocabulary(w2v.corpus_lines(str(blank)), source=str(blank))


def test_too_few_frequent_words(tmp_path):
    path = _corpus(tmp_path, ["a b c", "d e f"], name="rare.txt")
    with pytest.raises(DataError, match=r"rare.txt.*min_count=5.*6 distinct"):
        w2v.build_vocabulary(w2v.corpus_lines(str(path)), min_count=5, source=str(path))


def test_standardize_words_and_csv_column(tmp_path):
    csv = tmp_path / "reviews.csv"
    csv.write_text('id,text\n1,"Great film!<br /><br />Loved it, really."\n2,"""Bad"" movie"\n', encoding="utf-8")
    lines = w2v.corpus_lines([f"{csv}#text"])
    tokens = [t.decode() for line in lines for t in w2v.tokenize(tf.reshape(line, [1]), "words")[0].numpy()]
    assert tokens == ["great", "film", "loved", "it", "really", "bad", "movie"]
