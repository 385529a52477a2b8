"""Tagging batches: token ids aligned with tag ids, plus optional character ids."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from seqkeras.data.builders.batching import bucketed_batches, shuffled
from seqkeras.data.vocabulary import Vocabulary


def word_characters(words: tf.Tensor, max_word_length: int | None = None) -> tf.RaggedTensor:
    """Characters of each word, ``string[...] → string[..., None]`` (ragged).

    Invalid UTF-8 becomes U+FFFD; each word keeps its first `max_word_length`
    characters (all when None or 0). The one definition of a word's characters that
    the training batches, the character vocabulary and the exported tagger share.
    """
    letters = tf.strings.unicode_split(words, "UTF-8", errors="replace")
    return letters[..., :max_word_length] if max_word_length else letters


def tagging_batches(sentences: tf.data.Dataset, vocabulary: Vocabulary, tags: Sequence[str],
                    batch_size: int, char_vocabulary: Vocabulary | None = None,
                    max_word_length: int | None = None, lowercase: bool = False,
                    pool_batches: int | None = 32,
                    shuffle_buffer: int | None = None, seed: int | None = None,
                    cache: bool = False) -> tf.data.Dataset:
    """Sentences ``{"tokens", "tags"}`` (from `conll_sentences`) → padded id batches.

    Token ids come from `vocabulary` (0 = padding, so ``ids != 0`` is the mask);
    tag ids are indices into `tags`, padded with 0 (use the token mask); an unknown
    tag gets -1.

    Args:
        sentences: elements ``{"tokens": string[n], "tags": string[n]}``.
        vocabulary: word vocabulary (built on the training split).
        tags: the tag set in class-index order.
        batch_size: sentences per batch.
        char_vocabulary: when given, add character ids of each token.
        max_word_length: truncate each word to this many characters.
        lowercase: lower-case tokens before the word lookup (characters keep case).
        pool_batches: bucket by length within pools of this many batches (see
            `batching.bucketed_batches`); None keeps input order.
        shuffle_buffer, seed: seeded shuffle of the sentences before batching.
        cache: keep the parsed sentences in memory after the first epoch, so later
            epochs neither re-read nor re-parse the corpus (shuffle and bucketing
            still change every epoch). Parsing CoNLL is most of an uncached epoch:
            on UD EWT train a cached epoch costs about a quarter of the CPU time.
            Memory grows with the corpus (the token and tag strings).

    Returns:
        `tf.data.Dataset` of ``(token_ids int64[B, T], tag_ids int32[B, T])``, or with
        `char_vocabulary` ``({"tokens": int64[B, T], "chars": int64[B, T, C]},
        tag_ids int32[B, T])``, C = the longest word in the batch.
    """
    words = vocabulary.lookup_layer()
    chars = char_vocabulary.lookup_layer() if char_vocabulary is not None else None
    tag_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(tags)), tf.range(len(tags), dtype=tf.int32)), -1)

    def encode(tokens, tag_strings):
        """Padded strings ``[B, T]`` ("" = padding) → ids, all in a few batched ops."""
        pad = tf.equal(tokens, "")
        ids = words(tf.strings.lower(tokens, encoding="utf-8") if lowercase else tokens)
        ids = tf.where(pad, tf.constant(0, tf.int64), ids)
        tag_ids = tf.where(pad, 0, tag_table.lookup(tag_strings))
        if chars is None:
            return ids, tag_ids
        letters = word_characters(tokens, max_word_length)  # [B, T, None]
        return {"tokens": ids, "chars": chars(letters).to_tensor(0)}, tag_ids

    examples = sentences.map(lambda s: (s["tokens"], s["tags"]))
    if cache:
        examples = examples.cache()
    examples = shuffled(examples, shuffle_buffer, seed)
    batches = bucketed_batches(examples, batch_size, pool_batches, seed)
    return batches.map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
