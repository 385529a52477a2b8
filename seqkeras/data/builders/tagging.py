"""Tagging batches: token ids aligned with tag ids, plus optional character ids."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from seqkeras.data.builders.batching import DEFAULT_BUCKETS, bucketed_batches, shuffled
from seqkeras.data.vocabulary import Vocabulary


def tagging_batches(sentences: tf.data.Dataset, vocabulary: Vocabulary, tags: Sequence[str],
                    batch_size: int, char_vocabulary: Vocabulary | None = None,
                    max_word_length: int | None = None, lowercase: bool = False,
                    bucket_boundaries: Sequence[int] | None = DEFAULT_BUCKETS,
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

    Returns:
        `tf.data.Dataset` of ``(token_ids int64[B, T], tag_ids int32[B, T])``, or with
        `char_vocabulary` ``({"tokens": int64[B, T], "chars": int64[B, T, C]},
        tag_ids int32[B, T])``, C = the longest word in the batch.
    """
    words = vocabulary.lookup_layer()
    chars = char_vocabulary.lookup_layer() if char_vocabulary is not None else None
    tag_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(tags)), tf.range(len(tags), dtype=tf.int32)), -1)

    def encode(sentence):
        tokens = sentence["tokens"]
        ids = words(tf.strings.lower(tokens, encoding="utf-8") if lowercase else tokens)
        tag_ids = tag_table.lookup(sentence["tags"])
        if chars is None:
            return ids, tag_ids
        letters = tf.strings.unicode_split(tokens, "UTF-8", errors="replace")
        if max_word_length:
            letters = letters[:, :max_word_length]
        return {"tokens": ids, "chars": chars(letters).to_tensor(0)}, tag_ids

    examples = sentences.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        examples = examples.cache()
    examples = shuffled(examples, shuffle_buffer, seed)
    if chars is None:
        length = lambda ids, tag_ids: tf.shape(ids)[0]
    else:
        length = lambda inputs, tag_ids: tf.shape(inputs["tokens"])[0]
    return bucketed_batches(examples, length, batch_size, bucket_boundaries)
