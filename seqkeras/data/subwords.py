"""WordPiece subwords: learned on the training split, applied in-graph with core ops.

Training (Python, on word counts): start from single characters — ``c`` at the
start of a word, ``##c`` inside it — and repeatedly merge the most frequent adjacent
pair (byte-pair-encoding style, ties broken by the pair's text) until the
vocabulary has `vocab_size` entries. The merged pieces become a WordPiece
vocabulary.

Tokenizing (graph, `tf.strings` + a hash table only): each word is split greedily
into the longest vocabulary piece at each position (``##`` marking
continuations), as BERT's WordPiece does; a word that cannot be split becomes
``<unk>``. All words of a batch advance together, one piece per loop step.
"""

from __future__ import annotations

import collections
import heapq
from typing import Sequence

import tensorflow as tf

from seqkeras.data import vocabulary as vocab_lib
from seqkeras.data.tokenizers import Tokenizer, WordTokenizer
from seqkeras.data.vocabulary import Vocabulary

CONTINUATION = "##"


def learn_wordpieces(word_counts: dict[str, int], vocab_size: int,
                     reserved: Sequence[str] = vocab_lib.DEFAULT_RESERVED) -> Vocabulary:
    """Learn a WordPiece vocabulary of (at most) `vocab_size` entries from word counts.

    Every character seen stays in the vocabulary (so no known-alphabet word is
    ``<unk>``); merges fill the remaining room. Counts are the pieces' frequencies
    in the final segmentation of the training words.
    """
    words = [([w[0]] + [CONTINUATION + ch for ch in w[1:]], n) for w, n in sorted(word_counts.items()) if w]
    pieces = {s for symbols, _ in words for s in symbols}
    pair_counts: collections.Counter = collections.Counter()
    where = collections.defaultdict(set)

    def account(index, sign):
        symbols, count = words[index]
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] += sign * count
            if sign > 0:
                where[pair].add(index)
        return zip(symbols, symbols[1:])

    for index in range(len(words)):
        account(index, +1)
    heap = [(-n, pair) for pair, n in pair_counts.items()]
    heapq.heapify(heap)
    while len(pieces) + len(reserved) < vocab_size and heap:
        negative, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negative or negative == 0:
            continue  # stale heap entry
        first, second = pair
        merged = first + second.removeprefix(CONTINUATION)
        pieces.add(merged)
        for index in sorted(where.pop(pair)):
            old_pairs = set(account(index, -1))
            symbols, count = words[index]
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            words[index] = (out, count)
            for changed in old_pairs | set(account(index, +1)):
                if pair_counts[changed] > 0:
                    heapq.heappush(heap, (-pair_counts[changed], changed))
        pair_counts.pop(pair, None)
    counts = collections.Counter()
    for symbols, count in words:
        for symbol in symbols:
            counts[symbol] += count
    ranked = sorted(pieces - set(reserved), key=lambda p: (-counts[p], p))
    return Vocabulary(list(reserved) + ranked, counts, reserved)


class SubwordTokenizer(Tokenizer):
    """WordPiece tokenizer: words (see `WordTokenizer`) split into vocabulary pieces.

    Args:
        vocabulary: a WordPiece vocabulary (from `train` / `learn_wordpieces`).
        lowercase, strip_punctuation: word standardization, as in `WordTokenizer`.
        max_word_chars: longer words become ``<unk>`` without being split.

    Example:
        >>> vocab = Vocabulary(["<pad>", "<unk>", "un", "##aff", "##able", "aff"])
        >>> SubwordTokenizer(vocab).tokenize(["unaffable aff unx"]).to_list()
        [[b'un', b'##aff', b'##able', b'aff', b'<unk>']]
    """

    def __init__(self, vocabulary: Vocabulary | None = None, lowercase: bool = False,
                 strip_punctuation: bool = False, max_word_chars: int = 100,
                 add_bos: bool = False, add_eos: bool = False, name: str | None = None):
        self.words = WordTokenizer(lowercase=lowercase, strip_punctuation=strip_punctuation)
        self.max_word_chars = max_word_chars
        super().__init__(vocabulary, add_bos, add_eos, name=name)

    @classmethod
    def train(cls, texts: tf.data.Dataset, vocab_size: int, lowercase: bool = False,
              strip_punctuation: bool = False, max_words: int | None = 100_000,
              reserved: Sequence[str] = vocab_lib.DEFAULT_RESERVED, **kwargs) -> "SubwordTokenizer":
        """Learn the pieces from a dataset of strings (the training split only).

        Args:
            texts: scalar strings.
            vocab_size: the vocabulary size, reserved tokens included.
            max_words: learn from the most frequent words only (bounds the time).
        """
        tokenizer = cls(lowercase=lowercase, strip_punctuation=strip_punctuation, **kwargs)
        words = texts.batch(1024).map(tokenizer.words.tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        counts = Vocabulary.build(words, max_size=None if max_words is None else max_words + 2).counts
        counts = {w: n for w, n in counts.items() if w not in vocab_lib.DEFAULT_RESERVED and n > 0}
        tokenizer.set_vocabulary(learn_wordpieces(counts, vocab_size, reserved))
        return tokenizer

    def set_vocabulary(self, vocabulary: Vocabulary) -> None:
        super().set_vocabulary(vocabulary)
        pieces = [t.removeprefix(CONTINUATION) for t in vocabulary.tokens if t not in vocabulary.reserved]
        self.max_piece_chars = max((len(p) for p in pieces), default=1)

    def tokenize(self, texts) -> tf.RaggedTensor:
        """``string[B]`` → WordPiece pieces ``string[B, None]`` (``##`` = continuation)."""
        if self.vocabulary is None:
            raise ValueError("SubwordTokenizer needs a vocabulary: use SubwordTokenizer.train")
        words = self.words.tokenize(texts)
        pieces = self._split_words(words.flat_values)
        return words.with_flat_values(pieces).merge_dims(1, 2)

    def _split_words(self, words: tf.Tensor) -> tf.RaggedTensor:
        """``string[W]`` → pieces ``string[W, None]``; whole-word pieces skip the loop."""
        whole = self._lookup(words) != vocab_lib.UNK_ID
        whole_at = tf.where(whole)[:, 0]
        split_at = tf.where(~whole)[:, 0]
        whole_rows = tf.RaggedTensor.from_row_lengths(tf.gather(words, whole_at), tf.ones_like(whole_at))
        split_rows = self._greedy_longest_match(tf.gather(words, split_at))
        rows = tf.concat([whole_rows, tf.cast(split_rows, tf.string)], axis=0)
        order = tf.math.invert_permutation(tf.concat([whole_at, split_at], axis=0))
        return tf.gather(rows, order)

    def _greedy_longest_match(self, words: tf.Tensor) -> tf.RaggedTensor:
        """``string[W]`` → pieces ``string[W, None]`` by greedy longest match."""
        lengths = tf.strings.length(words, unit="UTF8_CHAR")
        widths = tf.range(1, self.max_piece_chars + 1)
        unk = vocab_lib.UNK_ID

        def step(position, failed, pieces):
            active = (position < lengths) & ~failed
            starts = tf.repeat(position[:, tf.newaxis], self.max_piece_chars, axis=1)
            candidates = tf.strings.substr(tf.repeat(words[:, tf.newaxis], self.max_piece_chars, axis=1),
                                           starts, tf.broadcast_to(widths, tf.shape(starts)), unit="UTF8_CHAR")
            candidates = tf.where(starts > 0, CONTINUATION + candidates, candidates)
            known = (self._lookup(candidates) != unk) & (starts + widths[tf.newaxis, :] <= lengths[:, tf.newaxis])
            found = tf.reduce_any(known, axis=1)
            best = self.max_piece_chars - 1 - tf.argmax(tf.reverse(tf.cast(known, tf.int32), [1]), axis=1,
                                                        output_type=tf.int32)
            piece = tf.gather(candidates, best, batch_dims=1)
            failed = failed | (active & ~found)
            position = tf.where(active & found, position + best + 1, position)
            return position, failed, pieces.write(pieces.size(), tf.where(active & found, piece, ""))

        position = tf.zeros_like(lengths)
        failed = lengths > self.max_word_chars
        pieces = tf.TensorArray(tf.string, size=0, dynamic_size=True, element_shape=words.shape)
        position, failed, pieces = tf.while_loop(
            lambda position, failed, pieces: tf.reduce_any((position < lengths) & ~failed),
            step, (position, failed, pieces))
        grid = tf.transpose(tf.reshape(pieces.stack(), [-1, tf.size(words)]))  # [W, steps]
        grid = tf.where(failed[:, tf.newaxis], "", grid)
        grid = tf.concat([tf.where(failed, vocab_lib.UNK, "")[:, tf.newaxis], grid], axis=1)
        return tf.ragged.boolean_mask(grid, grid != "")

    def join(self, pieces: tf.RaggedTensor) -> tf.Tensor:
        text = tf.strings.reduce_join(pieces, axis=-1, separator=" ")
        return tf.strings.regex_replace(text, " " + CONTINUATION, "")
