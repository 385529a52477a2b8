"""The skip-gram data pipeline: text in, batches of (target, context, negatives) out.

Everything after the vocabulary count is one streaming tf.data pipeline whose memory is
bounded by the batch size, and whose randomness is stateless (seed, epoch, batch index),
so a run is reproducible whatever the parallelism:

1. **Vocabulary**: one counting pass; words seen fewer than ``min_count`` times are
   dropped from the corpus *before* windowing (as word2vec and gensim do).
2. **Subsampling** of frequent words (Mikolov et al. 2013, in the form word2vec's C code
   and gensim use): a word of count ``f`` in a corpus of ``N`` retained words is kept
   with probability ``p = (sqrt(f / (s·N)) + 1) · s·N / f`` (capped at 1), ``s`` the
   ``sample`` threshold. Dropped words are removed before windowing.
3. **Dynamic window**: every target draws its own window ``b ~ U{1..L}``; the pairs
   are (target, every word at distance ≤ b in the same line).
4. **Negatives**: ``k`` words per target from the unigram distribution raised to
   ``ns_exponent`` (0.75), by inverse-CDF search. The train step pools them per block
   of consecutive targets (`model`), so a batch gathers ``k`` context rows per
   *target* instead of per pair (see `docs/word2vec.md`, "speed").

A batch (dict) holds ``batch_words`` consecutive tokens of the subsampled corpus:

``targets``   int32[T]     word ids; every token is a target and a context of its neighbours
``rows``      int32[T]     the line of each token, counted from the batch's first (−1: padding)
``windows``   int32[T]     each target's dynamic window b
``negatives`` int32[T, k]  negative context ids per target
``words``     int64[]      raw in-vocabulary words consumed (for the learning-rate decay)

The pairs are not materialised: the context at offset ``o`` of token ``t`` is token
``t + o`` when `window_masks` says so (same line, ``|o| ≤ b``), so the train step
scores blocks of consecutive tokens against their neighbours with small matrix
products instead of gathering a row per pair. Rows ``0`` and ``1`` of the
vocabulary are the reserved ``<pad>``/``<unk>``; padding (of the last batch, so the
compiled step sees one shape) uses id 0 and row −1.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pathlib
from typing import Sequence

import numpy as np
import tensorflow as tf

from seqkeras.data import DataError, Vocabulary, expand_paths, labelled_text, resolve_path, text_lines
from seqkeras.data.tokenizers import treebank_split

STANDARDIZE = ("none", "lower", "words", "treebank")
# `words`: lower-case, HTML line breaks removed, everything but letters, digits and
# apostrophes replaced by spaces. Used to prepare IMDB-style raw text.
# `treebank`: lower-case, then `treebank_split` (punctuation and clitics become tokens,
# as in PTB and SST): vectors for a classifier whose tokenizer is "treebank".
_BREAK_PATTERN = r"<br\s*/?>"
_NON_WORD_PATTERN = r"[^\p{L}\p{N}']+"
_COUNT_BATCH = 1024
CHUNK_LINES = 64            # lines tokenized and subsampled together


# ---------------------------------------------------------------------- sources
def _split_source(spec: str) -> tuple[str, str | None]:
    """``"imdb/train.csv.gz#text"`` → (path, CSV column); plain paths have no column."""
    path, _, column = spec.partition("#")
    return path, (column or None)


def corpus_lines(sources: str | Sequence[str], data_dir: str | os.PathLike | None = None) -> tf.data.Dataset:
    """Lines of text from one or many sources, in order, as ``string[]`` elements.

    A source is a file name or glob (relative to the data directory, ``.gz`` read
    transparently), one line per sentence; ``path#column`` reads the named column of a
    CSV file with RFC-4180 quoting (IMDB: ``imdb/train.csv.gz#text``).

    Raises:
        DataError: a missing or empty file (naming it), a malformed CSV row.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not sources:
        raise ValueError("sources must name at least one file, received []")
    datasets = []
    for source in sources:
        path, column = _split_source(os.fspath(source))
        resolved = resolve_path(path, data_dir)
        if column is None:
            datasets.append(text_lines(resolved))
        else:
            for file in expand_paths(resolved):
                records = labelled_text(file, text_column=column, label_column=column, delimiter=",",
                                        header=True, quoting=True)
                datasets.append(records.map(lambda text, _: text))
    lines = datasets[0]
    for more in datasets[1:]:
        lines = lines.concatenate(more)
    return lines


def standardize(lines: tf.Tensor, mode: str = "words") -> tf.Tensor:
    """Normalise text before the whitespace split (see `STANDARDIZE`)."""
    if mode not in STANDARDIZE:
        raise ValueError(f"standardize must be one of {STANDARDIZE}, received {mode!r}")
    if mode == "none":
        return lines
    lines = tf.strings.lower(lines, encoding="utf-8")
    if mode == "treebank":
        lines = treebank_split(lines)
    if mode == "words":
        lines = tf.strings.regex_replace(lines, _BREAK_PATTERN, " ")
        lines = tf.strings.regex_replace(lines, _NON_WORD_PATTERN, " ")
    return lines


def tokenize(lines: tf.Tensor, mode: str = "words") -> tf.RaggedTensor:
    """``string[B]`` lines → ragged ``string[B, None]`` words."""
    return tf.strings.split(standardize(lines, mode))


# ---------------------------------------------------------------------- vocabulary
@dataclasses.dataclass
class CorpusStats:
    """What the counting pass saw: ``lines``, all ``tokens``, ``words`` kept by min_count."""

    lines: int
    tokens: int
    words: int
    distinct: int


def build_vocabulary(lines: tf.data.Dataset, min_count: int = 5, max_size: int | None = None,
                     standardize_mode: str = "words", source: str | None = None
                     ) -> tuple[Vocabulary, CorpusStats]:
    """Count words in one pass and keep those seen ≥ `min_count` times, most frequent first.

    Args:
        lines: dataset of ``string[]`` lines (e.g. `corpus_lines`).
        min_count: words counted fewer times are dropped from training.
        max_size: largest vocabulary, the two reserved ids (``<pad>``, ``<unk>``) included.
        standardize_mode: see `STANDARDIZE`.
        source: a name for error messages (the corpus file).

    Returns:
        (`Vocabulary` with ``<pad>``, ``<unk>`` at ids 0 and 1, `CorpusStats`).

    Raises:
        DataError: the corpus has no words, or no word reaches `min_count`.
    """
    if min_count < 1:
        raise ValueError(f"min_count must be ≥ 1, received {min_count}")
    counter: collections.Counter = collections.Counter()
    n_lines = n_tokens = 0

    def count(batch):
        tokens = tokenize(batch, standardize_mode).flat_values
        unique, _, counts = tf.unique_with_counts(tokens)
        return unique, counts, tf.shape(batch)[0]

    for unique, counts, n in lines.batch(_COUNT_BATCH).map(count).prefetch(2).as_numpy_iterator():
        counter.update(dict(zip((u.decode("utf-8", "replace") for u in unique), counts.tolist())))
        n_lines += int(n)
        n_tokens += int(counts.sum())
    if n_tokens == 0:
        raise DataError(source, None, f"empty corpus: {n_lines} lines and no words")
    vocab = Vocabulary.from_counts(counter, min_count=min_count, max_size=max_size)
    if len(vocab) <= len(vocab.reserved):
        top = max(counter.values())
        raise DataError(source, None,
                        f"no word occurs min_count={min_count} times ({len(counter)} distinct words, "
                        f"the most frequent occurs {top} times): lower min_count or add text")
    kept = sum(vocab.counts[t] for t in vocab.tokens[len(vocab.reserved):])
    return vocab, CorpusStats(n_lines, n_tokens, kept, len(counter))


def word_counts(vocab: Vocabulary) -> np.ndarray:
    """Counts aligned with ids, reserved tokens counted 0 (never sampled nor trained)."""
    counts = np.array([vocab.counts[t] for t in vocab.tokens], dtype=np.float64)
    counts[: len(vocab.reserved)] = 0
    return counts


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each word under frequent-word subsampling.

    ``p(w) = (sqrt(f / (s·N)) + 1) · s·N / f``, capped at 1, with ``f`` the word's count
    and ``N`` the total count (word2vec.c and gensim's form of Mikolov's
    ``1 − sqrt(t/f)``). ``sample=0`` keeps everything; words of count 0 get 0.

    Example:
        >>> keep_probabilities(np.array([0, 1, 1000.]), 1e-3).round(3).tolist()
        [0.0, 1.0, 0.033]
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample < 0:
        raise ValueError(f"sample must be ≥ 0, received {sample}")
    if sample == 0:
        return (counts > 0).astype(np.float64)
    threshold = sample * counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    keep[counts == 0] = 0.0
    return np.minimum(keep, 1.0)


def negative_distribution(counts: np.ndarray, exponent: float = 0.75) -> np.ndarray:
    """Noise distribution ``P(w) ∝ count(w)^exponent`` (0 for reserved/unseen ids)."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.where(counts > 0, counts ** exponent, 0.0)
    return weights / weights.sum()


# ---------------------------------------------------------------------- pairs
def window_masks(rows: tf.Tensor, windows: tf.Tensor, max_window: int) -> tf.Tensor:
    """Which (target, target + o) pairs exist, for every offset o = −L…−1, 1…L.

    Args:
        rows: int[T], the line of each token (non-decreasing; padding has row −1 and
            window 0, so it pairs with nothing).
        windows: int[T], each target's window ``b`` (1 ≤ b ≤ max_window).
        max_window: L.

    Returns:
        float32[2L, T]: entry (i, t) is 1 when the token at ``t + OFFSETS[i]`` is in the
        same line and ``|OFFSETS[i]| ≤ windows[t]``; `offsets(L)` lists the offsets.
    """
    size = tf.shape(rows)[0]
    padded = tf.pad(rows, [[max_window, max_window]], constant_values=-2)
    masks = []
    for offset in offsets(max_window):
        other = padded[max_window + offset: max_window + offset + size]
        masks.append((other == rows) & (rows >= 0) & (windows >= abs(offset)))
    return tf.cast(tf.stack(masks), tf.float32)


def offsets(max_window: int) -> list[int]:
    """The context offsets −L…−1, 1…L in the order `window_masks` stacks them."""
    return [o for o in range(-max_window, max_window + 1) if o != 0]


def window_pairs(batch: dict, max_window: int) -> np.ndarray:
    """The (target id, context id) pairs of a batch, as an int array [P, 2] (for
    inspection and tests; training uses the dense masks)."""
    rows, windows = batch["rows"], batch["windows"]
    masks = window_masks(tf.convert_to_tensor(rows), tf.convert_to_tensor(windows), max_window).numpy()
    targets = np.asarray(batch["targets"])
    pairs = []
    for i, offset in enumerate(offsets(max_window)):
        where = np.flatnonzero(masks[i])
        pairs.append(np.stack([targets[where], targets[where + offset]], 1))
    return np.concatenate(pairs, 0)


@dataclasses.dataclass
class SkipGramConfig:
    """Sampling options of the pipeline (defaults are word2vec's / gensim's)."""

    window: int = 5           # L: the largest distance; each target draws b ~ U{1..L}
    negatives: int = 5        # k negatives per positive pair
    sample: float = 1e-3      # subsampling threshold s (0: off)
    ns_exponent: float = 0.75 # noise distribution ∝ count^ns_exponent
    batch_words: int = 2048   # targets per batch: words kept by subsampling (see model._proximal)
    seed: int = 0

    def validate(self) -> None:
        for name in ("window", "negatives", "batch_words"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, received {getattr(self, name)}")
        if self.sample < 0:
            raise ValueError(f"sample must be ≥ 0, received {self.sample}")


def skipgram_batches(lines: tf.data.Dataset, vocab: Vocabulary, config: SkipGramConfig,
                     epoch: int = 0, standardize_mode: str = "words", pad: bool = True) -> tf.data.Dataset:
    """Skip-gram training batches (see the module docstring for the fields).

    Lines are read `CHUNK_LINES` at a time, tokenized, filtered by min_count and
    subsampled; the kept tokens form one stream, cut into batches of exactly
    ``config.batch_words`` targets (`tf.data.Dataset.rebatch`), so the train step sees
    one shape. A line split between two batches loses the pairs that cross the cut
    (at most L·(L+1) of a batch's ≈ L·batch_words pairs: 0.3 % at the defaults).

    Args:
        lines: dataset of ``string[]`` lines; each line is one sentence (windows do not
            cross lines).
        vocab: from `build_vocabulary`; ids ≥ 2 are words.
        config: `SkipGramConfig`.
        epoch: mixed into the seed so each epoch samples afresh, reproducibly (an int
            or a ``tf.Variable`` read when each batch is made).
        standardize_mode: see `STANDARDIZE`.
        pad: pad the last, shorter batch to ``batch_words`` (one shape for the
            compiled step); padding has id 0, row −1 and window 0.
    """
    config.validate()
    counts = word_counts(vocab)
    words = tf.constant(vocab.tokens[len(vocab.reserved):])
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            words, tf.range(len(vocab.reserved), len(vocab), dtype=tf.int32)), default_value=-1)
    keep = tf.constant(keep_probabilities(counts, config.sample), tf.float32)
    cdf = np.cumsum(negative_distribution(counts, config.ns_exponent))
    cdf = tf.constant(cdf / cdf[-1], tf.float64)
    last_id = len(vocab) - 1
    window, k, size = config.window, config.negatives, config.batch_words

    def seed_for(stream, index):
        # (seed, epoch) → one stream per use → one seed per chunk or batch
        base = tf.stack([tf.constant(config.seed, tf.int64), tf.cast(epoch, tf.int64)])
        return tf.random.experimental.stateless_fold_in(
            tf.random.experimental.stateless_fold_in(base, stream), index)

    def subsample(index, chunk):
        ids = table.lookup(tokenize(chunk, standardize_mode))
        ids = tf.ragged.boolean_mask(ids, ids >= 0)                   # min_count filter
        draw = tf.random.stateless_uniform(tf.shape(ids.flat_values), seed_for(0, index))
        kept = tf.ragged.boolean_mask(ids, ids.with_flat_values(draw < tf.gather(keep, ids.flat_values)))
        targets = kept.flat_values
        n = tf.size(targets)
        # raw words per kept token, the chunk's dropped words counted on its last token
        # (a chunk that keeps no word at all goes uncounted in the decay's progress)
        dropped = tf.size(ids.flat_values, out_type=tf.int64) - tf.cast(n, tf.int64)
        words = tf.ones([n], tf.int64) + tf.one_hot(n - 1, n, dtype=tf.int64) * dropped
        rows = index * CHUNK_LINES + kept.value_rowids()              # global line number
        return {"targets": targets, "rows": rows, "words": words}

    def sample(index, batch):
        targets = batch["targets"]
        n = tf.shape(targets)[0]
        rows = tf.cast(batch["rows"] - batch["rows"][0], tf.int32)
        seeds = tf.random.experimental.stateless_split(seed_for(1, index), 2)
        windows = tf.random.stateless_uniform([n], seeds[0], minval=1, maxval=window + 1, dtype=tf.int32)
        uniform = tf.random.stateless_uniform([n * k], seeds[1], dtype=tf.float64)
        negatives = tf.minimum(tf.cast(tf.searchsorted(cdf, uniform[None], side="right"), tf.int32), last_id)
        out = {"targets": targets, "rows": rows, "windows": windows, "negatives": tf.reshape(negatives, [n, k]),
               "words": tf.reduce_sum(batch["words"])}
        if pad:
            extra = size - n
            out["targets"] = tf.pad(targets, [[0, extra]])
            out["rows"] = tf.pad(rows, [[0, extra]], constant_values=-1)
            out["windows"] = tf.pad(windows, [[0, extra]])
            out["negatives"] = tf.pad(out["negatives"], [[0, extra], [0, 0]])
        return out

    return (lines.batch(CHUNK_LINES).enumerate()
            .map(subsample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .rebatch(size)
            .enumerate()
            .map(sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def prepare_corpus(sources: str | Sequence[str], output: str | os.PathLike,
                   data_dir: str | os.PathLike | None = None, standardize_mode: str = "words") -> CorpusStats:
    """Write the standardized text of `sources` to `output`, one line per input line.

    Blank lines are dropped and words are separated by single spaces, so the file can be
    read as it is by this pipeline (``standardize="none"``) and by gensim's
    ``LineSentence`` (the benchmark trains both on the same file).

    Returns:
        `CorpusStats` of the written file (``words`` = ``tokens``, no min_count).
    """
    lines = corpus_lines(sources, data_dir).batch(_COUNT_BATCH).map(
        lambda batch: tf.strings.reduce_join(tokenize(batch, standardize_mode), axis=1, separator=" "))
    output = pathlib.Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".tmp")
    n_lines = n_tokens = 0
    distinct: set = set()
    with open(temporary, "w", encoding="utf-8") as out:
        for batch in lines.as_numpy_iterator():
            for line in batch:
                if line:
                    text = line.decode("utf-8")
                    out.write(text + "\n")
                    n_lines += 1
                    words = text.split(" ")
                    n_tokens += len(words)
                    distinct.update(words)
    if n_tokens == 0:
        temporary.unlink()
        raise DataError(", ".join(map(str, [sources] if isinstance(sources, str) else sources)), None,
                        "empty corpus: no words after standardization")
    os.replace(temporary, output)
    return CorpusStats(n_lines, n_tokens, n_tokens, len(distinct))
