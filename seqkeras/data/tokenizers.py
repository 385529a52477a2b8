"""Tokenizers that run inside the graph: strings → ragged token ids → strings.

Each tokenizer is a `tf.Module` built from core TensorFlow ops only (`tf.strings.*`
and a `tf.lookup.StaticHashTable`), so the same object tokenizes in the tf.data
training pipeline and inside an exported SavedModel that loads where seqkeras is
not importable. They work on whole batches: batch the lines first, then tokenize.

    texts string[B]  --tokenize-->  pieces string[B, None] (ragged)
                     --__call__-->  ids int64[B, None] (ragged)
    ids int[B, None] or int[B, T] (0-padded)  --detokenize-->  texts string[B]
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from seqkeras.data import vocabulary as vocab_lib
from seqkeras.data.vocabulary import Vocabulary

# The punctuation `keras.layers.TextVectorization` strips by default.
PUNCTUATION_PATTERN = r'[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~\']'
# Deleting whole runs in one replacement gives the same text with fewer RE2 edits.
_PUNCTUATION_RUNS = PUNCTUATION_PATTERN + "+"

# Penn Treebank word splitting (how PTB, SST and CoNLL were tokenized), as RE2 rewrites
# applied in order to raw text, so that raw text (IMDB reviews, a client's sentence)
# shares the vocabulary of a pre-tokenized corpus: "Don't" → "Do n't", "film's" →
# "film 's", "end." → "end .", '"a"' → "`` a ''". Pre-tokenized text passes unchanged
# but for abbreviations ("mr." → "mr ."). Not the full Treebank tokenizer (no
# abbreviation list, no "gonna"): what moves the shared vocabulary most.
TREEBANK_REWRITES = (
    # Unicode spaces (no-break, NEL, …) split words as Python's str.split says they do;
    # left inside tokens they would make words no word2vec text file can hold.
    (r"[\p{Z}\x{1c}-\x{1f}\x{85}]+", " "),
    (r"<br\s*/?>", " "),                               # IMDB's HTML line breaks
    (r'(^|\s)"', r"\1 `` "),                           # an opening double quote ...
    (r'"', " '' "),                                     # ... and every other one closes
    (r"\.\.\.+|…", " ... "),
    (r"--+", " -- "),
    (r"([,;:!?()\[\]{}])", r" \1 "),
    (r"([^\s.])\.(\s|$)", r"\1 .\2"),                  # a word's final period
    (r"(?i)(\w)(n't)\b", r"\1 \2"),                     # clitics: do|n't, film|'s, they|'re
    (r"(?i)(\w)('(?:s|re|ve|ll|d|m))\b", r"\1 \2"),
)


def treebank_split(texts: tf.Tensor) -> tf.Tensor:
    """Space Treebank tokens apart (`TREEBANK_REWRITES`) in ``string[...]``: split on whitespace next.

    Example:
        >>> treebank_split(tf.constant(['I didn\'t like "Up".<br />Sorry'])).numpy()[0].split()
        [b'I', b'did', b"n't", b'like', b'``', b'Up', b"''", b'.', b'Sorry']
    """
    for pattern, rewrite in TREEBANK_REWRITES:
        texts = tf.strings.regex_replace(texts, pattern, rewrite)
    return texts


def _bytes_of(flat: tf.Tensor) -> tf.Tensor:
    """All bytes of a ``string[n]`` batch as one ``uint8`` vector (two copies, no per-string work)."""
    return tf.io.decode_raw(tf.strings.reduce_join(flat), tf.uint8)


def _rows_with(flat: tf.Tensor, flags: tf.Tensor) -> tf.Tensor:
    """Indices ``int64[k, 1]`` of the strings of `flat` owning a flagged byte of `_bytes_of`."""
    ends = tf.cumsum(tf.cast(tf.strings.length(flat), tf.int64))
    return tf.unique(tf.searchsorted(ends, tf.where(flags)[:, 0], side="right"))[0][:, tf.newaxis]


def lower_utf8(texts: tf.Tensor, _raw: tf.Tensor | None = None) -> tf.Tensor:
    """``tf.strings.lower(texts, encoding="utf-8")``, with an ASCII fast path.

    Unicode lower-casing (ICU, one string at a time) costs about 5x the ASCII
    byte loop. The result is identical: ASCII-only strings are lowered byte-wise,
    and only the strings with a byte >= 0x80 (any non-ASCII character, and
    invalid UTF-8, which the Unicode path replaces with U+FFFD) take the Unicode
    path. They are found with one vectorized pass over the batch's bytes. Any shape.
    """
    texts = tf.convert_to_tensor(texts, tf.string)
    flat = tf.reshape(texts, [-1])
    lowered = tf.strings.lower(flat)
    raw = _bytes_of(flat) if _raw is None else _raw

    def fix_non_ascii():
        rows = _rows_with(flat, raw >= 128)
        return tf.tensor_scatter_nd_update(lowered, rows,
                                           tf.strings.lower(tf.gather_nd(flat, rows), encoding="utf-8"))

    # reduce_max of no bytes is 0: an empty batch is ASCII.
    lowered = tf.cond(tf.reduce_max(raw) >= 128, fix_non_ascii, lambda: lowered)
    return tf.reshape(lowered, tf.shape(texts))


_WHITESPACE = " \t\n\v\f\r"  # what `tf.strings.split(sep=None)` splits on (ASCII only)


def split_whitespace(flat: tf.Tensor, _raw: tf.Tensor | None = None) -> tf.RaggedTensor:
    """``tf.strings.split(flat)`` for ``string[n]``, about 2x faster on most text.

    Splitting on one delimiter character is the split kernel's fast path; a batch
    holding no tab, newline, vertical tab, form feed or carriage return (checked
    on its bytes) takes it, others take the general whitespace split. Same tokens
    either way: runs of ASCII whitespace separate tokens, empty tokens are dropped.
    """
    raw = _bytes_of(flat) if _raw is None else _raw
    # One reduction: no byte <= 13 means no "\t\n\v\f\r" (the min of no bytes is 255).
    delimiter = tf.where(tf.reduce_min(raw) <= 13, tf.constant(_WHITESPACE), tf.constant(" "))
    parts = tf.raw_ops.StringSplit(input=flat, delimiter=delimiter, skip_empty=True)
    # Row ids are sorted: the row splits are a binary search per row, not a count per token.
    splits = tf.searchsorted(parts.indices[:, 0], tf.range(tf.size(flat, out_type=tf.int64) + 1), side="left")
    return tf.RaggedTensor.from_row_splits(parts.values, tf.cast(splits, tf.int64), validate=False)


class Tokenizer(tf.Module):
    """Base class: subclasses define `tokenize` (strings → ragged pieces) and `join`.

    Args:
        vocabulary: the `Vocabulary` ids come from; may be set later with `adapt`
            or `set_vocabulary` (only `tokenize` works without one).
        add_bos: prepend the vocabulary's ``<bos>`` id to each sequence.
        add_eos: append the vocabulary's ``<eos>`` id to each sequence.
    """

    separator = " "

    def __init__(self, vocabulary: Vocabulary | None = None, add_bos: bool = False,
                 add_eos: bool = False, name: str | None = None):
        super().__init__(name=name)
        self.add_bos = add_bos
        self.add_eos = add_eos
        self.vocabulary = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # -- subclasses ------------------------------------------------------------
    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """Split ``string[B]`` into ragged pieces ``string[B, None]``."""
        raise NotImplementedError

    def join(self, pieces: tf.RaggedTensor) -> tf.Tensor:
        """Inverse of `tokenize` (up to standardization): ``string[B, None] → string[B]``."""
        return tf.strings.reduce_join(pieces, axis=-1, separator=self.separator)

    # -- vocabulary ------------------------------------------------------------
    def set_vocabulary(self, vocabulary: Vocabulary) -> None:
        for flag, token in ((self.add_bos, vocab_lib.BOS), (self.add_eos, vocab_lib.EOS)):
            if flag and token not in vocabulary.reserved:
                raise ValueError(f"add_{token[1:4]}=True needs {token!r} among the vocabulary's "
                                 f"reserved tokens, which are {vocabulary.reserved}")
        self.vocabulary = vocabulary
        self._lookup = vocabulary.lookup_layer()
        self._inverse = vocabulary.inverse_lookup_layer()
        self._special_ids = tf.constant(
            [vocabulary.id(t) for t in vocabulary.reserved if t != vocab_lib.UNK], tf.int64)

    def adapt(self, texts: tf.data.Dataset, min_count: int = 1, max_size: int | None = None,
              reserved: Sequence[str] = vocab_lib.DEFAULT_RESERVED, batch_size: int = 1024) -> Vocabulary:
        """Build the vocabulary from a dataset of scalar strings (training split only)."""
        pieces = texts.batch(batch_size).map(self.tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        vocabulary = Vocabulary.build(pieces, min_count=min_count, max_size=max_size, reserved=reserved)
        self.set_vocabulary(vocabulary)
        return vocabulary

    # -- strings ↔ ids ---------------------------------------------------------
    def __call__(self, texts) -> tf.RaggedTensor:
        """``string[B]`` → ragged ``int64[B, None]`` ids (a scalar gives ``int64[None]``)."""
        if self.vocabulary is None:
            raise ValueError(f"{type(self).__name__} has no vocabulary: call adapt() or pass one")
        texts = tf.convert_to_tensor(texts, tf.string)
        if texts.shape.rank == 0:
            return self(texts[tf.newaxis])[0]
        ids = self._lookup(self.tokenize(texts))
        if self.add_bos:
            ids = _prepend(ids, self.vocabulary.bos_id)
        if self.add_eos:
            ids = tf.concat([ids, _column(ids, self.vocabulary.eos_id)], axis=1)
        return ids

    def detokenize(self, ids) -> tf.Tensor:
        """Ids ``int[B, None]`` (ragged) or ``int[B, T]`` → ``string[B]``.

        Padding, ``<bos>`` and ``<eos>`` ids are dropped; ids past the vocabulary
        become ``<unk>``.
        """
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
            if ids.shape.rank == 1:
                return self.detokenize(ids[tf.newaxis])[0]
            ids = tf.RaggedTensor.from_tensor(ids)
        ids = tf.cast(ids, tf.int64)
        keep = tf.reduce_all(ids.flat_values[:, tf.newaxis] != self._special_ids[tf.newaxis, :], axis=1)
        ids = tf.ragged.boolean_mask(ids, ids.with_flat_values(keep))
        return self.join(self._inverse(ids))


def _column(ids: tf.RaggedTensor, value: int) -> tf.RaggedTensor:
    rows = ids.nrows()
    return tf.RaggedTensor.from_row_lengths(tf.fill([rows], tf.constant(value, tf.int64)),
                                            tf.ones([rows], tf.int64))


def _prepend(ids: tf.RaggedTensor, value: int) -> tf.RaggedTensor:
    return tf.concat([_column(ids, value), ids], axis=1)


class WordTokenizer(Tokenizer):
    """Word tokens: optional standardization, then a split on whitespace.

    The default path is a single vectorized `tf.strings.split` (plus
    `tf.strings.lower` when `lowercase`), fast enough that reading the file is the
    bottleneck. Keep ``lowercase=False`` and ``strip_punctuation=False`` for
    pre-tokenized corpora such as PTB, SST-2, CoNLL; ``treebank=True`` splits raw
    text into the same kind of tokens.

    Args:
        vocabulary: see `Tokenizer`.
        lowercase: Unicode lower-casing.
        strip_punctuation: delete ASCII punctuation as `TextVectorization`'s default
            standardization does (a regex: slower).
        treebank: split punctuation and clitics off words as the Penn Treebank does
            (`treebank_split`); excludes `strip_punctuation`.
        split: ``"whitespace"`` (runs of whitespace) or a literal separator string.

    Example:
        >>> tok = WordTokenizer(lowercase=True)
        >>> tok.tokenize(tf.constant(["The cat  sat"])).to_list()
        [[b'the', b'cat', b'sat']]
    """

    def __init__(self, vocabulary: Vocabulary | None = None, lowercase: bool = False,
                 strip_punctuation: bool = False, split: str = "whitespace",
                 add_bos: bool = False, add_eos: bool = False, name: str | None = None,
                 treebank: bool = False):
        if not split:
            raise ValueError("split must be 'whitespace' or a non-empty separator string")
        if treebank and strip_punctuation:
            raise ValueError("treebank splits punctuation off words, strip_punctuation deletes it: choose one")
        self.lowercase = lowercase
        self.strip_punctuation = strip_punctuation
        self.treebank = treebank
        self.split = split
        self.separator = " " if split == "whitespace" else split
        super().__init__(vocabulary, add_bos, add_eos, name=name)

    def standardize(self, texts: tf.Tensor) -> tf.Tensor:
        if self.lowercase:
            texts = lower_utf8(texts)
        if self.strip_punctuation:
            texts = tf.strings.regex_replace(texts, _PUNCTUATION_RUNS, "")
        if self.treebank:
            texts = treebank_split(texts)
        return texts

    def tokenize(self, texts) -> tf.RaggedTensor:
        texts = tf.convert_to_tensor(texts, tf.string)
        if self.split != "whitespace" or texts.shape.rank != 1:
            return tf.strings.split(self.standardize(texts), sep=None if self.split == "whitespace" else self.split)
        # One pass over the batch's bytes serves both fast paths: lower-casing changes no
        # byte's class, and the rewrites after it only delete characters or add spaces,
        # so the split delimiter chosen on the raw bytes still fits.
        raw = _bytes_of(texts)
        if self.lowercase:
            texts = lower_utf8(texts, raw)
        if self.strip_punctuation:
            texts = tf.strings.regex_replace(texts, _PUNCTUATION_RUNS, "")
        if self.treebank:
            texts = treebank_split(texts)
        return split_whitespace(texts, raw)


class CharacterTokenizer(Tokenizer):
    """Unicode characters (code points) as tokens; `detokenize` joins with no separator.

    Args:
        vocabulary: see `Tokenizer`.
        lowercase: Unicode lower-casing before the split.
    """

    separator = ""

    def __init__(self, vocabulary: Vocabulary | None = None, lowercase: bool = False,
                 add_bos: bool = False, add_eos: bool = False, name: str | None = None):
        self.lowercase = lowercase
        super().__init__(vocabulary, add_bos, add_eos, name=name)

    def tokenize(self, texts) -> tf.RaggedTensor:
        texts = tf.convert_to_tensor(texts, tf.string)
        if self.lowercase:
            texts = lower_utf8(texts)
        return tf.strings.unicode_split(texts, "UTF-8", errors="replace")
