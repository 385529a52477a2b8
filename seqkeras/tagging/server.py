"""Export a tagger as a TF Serving SavedModel: tokenization, lookups and decoding in the graph.

`TaggerServer(tagger, words, chars, tags).export("saved_models", "conll2003_ner")` writes
``saved_models/conll2003_ner/<version>/`` atomically (`seqkeras.serving.Exporter`:
warm-up requests written, the SavedModel reloaded and run before the version
appears). The SavedModel needs no seqkeras code: ``tf.saved_model.load`` works where
``import seqkeras`` fails.

Signatures:

``serving_default``
    text string[None] (sentences; tokens are the whitespace-separated pieces) →
    tokens string[None, T], tags string[None, T], length int32[None]. Rows are
    right-padded with "" to the batch's longest sentence T.
``tag_tokens``
    tokens string[None, T] (pre-tokenized sentences, right-padded with "") →
    tags string[None, T] (gold-tokenization evaluation). A row's sentence is its
    tokens before its first "" (later entries are ignored and get tag "").

Defined results (SPEC §7):

* an empty (or all-whitespace) sentence gives length 0 and no tokens/tags; a batch
  of only empty sentences gives T = 0; an empty batch gives B = 0;
* a sentence longer than `max_tokens` (default 512) is cut to its first `max_tokens` tokens
  (``length`` = `max_tokens`; `tag_tokens` returns "" for the positions beyond);
* words are cut to `max_word_length` characters for the character features (as in
  training); invalid UTF-8 is replaced with U+FFFD before anything else;
* words unseen in training map to ``<unk>``.

Tags are strings in the pipeline's tag scheme (``data.tag_scheme``: IOB2 or BIOES
for NER, the corpus labels for POS).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seqkeras.data.builders.tagging import word_characters
from seqkeras.serving import Exporter, WarmupRequest, frequent_words

SERVING_SIGNATURE = "serving_default"
TAG_TOKENS_SIGNATURE = "tag_tokens"
DEFAULT_MAX_TOKENS = 512  # what `export.max_tokens = 0` means


def _table(keys, values, default):
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), default)


class TaggerServer(Exporter):
    """The serving module of a tagger (`export` writes it for TF Serving).

    Args:
        tagger: decoding `keras.Model` ``{"tokens": int64[B, T], "chars":
            int64[B, T, C]}`` → int32[B, T] tag ids (`seqkeras.tagging.tagger_model`).
        words: the word `Vocabulary` (0 = pad, 1 = unk); chars: the character one.
        tags: tag strings in class-index order.
        lowercase: lower-case words before the word lookup (as in training).
        max_tokens: longest sentence tagged; longer ones are cut.
        max_word_length: characters per word for the character features.
    """

    def __init__(self, tagger, words, chars, tags, lowercase=False, max_tokens=DEFAULT_MAX_TOKENS,
                 max_word_length=30, name="tagger_server"):
        super().__init__(name=name)
        for argument, value in (("max_tokens", max_tokens), ("max_word_length", max_word_length)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Argument `{argument}` must be a positive integer, received {argument}={value!r}")
        self.tagger = tagger
        self.tag_set = frozenset(tags)
        self.warmup_word = frequent_words(words)[0]
        self.lowercase = bool(lowercase)
        self.max_tokens = int(max_tokens)
        self.max_word_length = int(max_word_length)
        self.word_table = _table(tf.constant(words.tokens), tf.range(len(words), dtype=tf.int64), words.unk_id)
        self.char_table = _table(tf.constant(chars.tokens), tf.range(len(chars), dtype=tf.int64), chars.unk_id)
        self.tag_table = _table(tf.range(len(tags), dtype=tf.int32), tf.constant(list(tags)), "")
        self.serve = tf.function(self._serve, input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        self.tag_tokens = tf.function(self._tag_tokens,
                                      input_signature=[tf.TensorSpec([None, None], tf.string, name="tokens")])

    def _tag_ids(self, tokens, length):
        """Padded tokens string[B, T] (≤ max_tokens), lengths int32[B] → tag strings [B, T]."""
        steps = tf.shape(tokens)[1]
        mask = tf.sequence_mask(length, steps)
        tokens = tf.where(mask, tokens, "")
        # One extra padding column: every model input has T ≥ 1 (the CRF reads step 0).
        padded = tf.pad(tokens, [[0, 0], [0, 1]], constant_values="")
        words = tf.strings.lower(padded, encoding="utf-8") if self.lowercase else padded
        word_ids = tf.where(tf.equal(padded, ""), tf.constant(0, tf.int64), self.word_table.lookup(words))
        letters = word_characters(padded, self.max_word_length)
        char_ids = tf.ragged.map_flat_values(self.char_table.lookup, letters).to_tensor(0)
        char_ids = tf.reshape(char_ids, tf.concat([tf.shape(padded), [tf.shape(char_ids)[2]]], 0))
        # ... and C ≥ 1 (a batch of only empty sentences has no characters at all).
        char_ids = tf.pad(char_ids, [[0, 0], [0, 0], [0, 1]])
        ids = self.tagger({"tokens": word_ids, "chars": char_ids}, training=False)
        tags = self.tag_table.lookup(tf.cast(ids, tf.int32))[:, :steps]
        return tf.where(mask, tags, "")

    def _serve(self, text):
        text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace")
        pieces = tf.strings.split(text)[:, :self.max_tokens]
        length = tf.cast(pieces.row_lengths(), tf.int32)
        tokens = pieces.to_tensor("")  # [B, T]; T = 0 when every sentence is empty
        return {"tokens": tokens, "tags": self._tag_ids(tokens, length), "length": length}

    def _tag_tokens(self, tokens):
        steps = tf.shape(tokens)[1]
        tokens = tf.strings.unicode_transcode(tokens, "UTF-8", "UTF-8", errors="replace")
        present = tf.cast(tf.not_equal(tokens, ""), tf.int32)
        length = tf.minimum(tf.reduce_sum(tf.math.cumprod(present, axis=1), axis=1), self.max_tokens)
        cut = tokens[:, :self.max_tokens]
        tags = self._tag_ids(cut, length)
        return {"tags": tf.pad(tags, [[0, 0], [0, steps - tf.shape(cut)[1]]], constant_values="")}

    def signatures(self):
        return {SERVING_SIGNATURE: self.serve.get_concrete_function(),
                TAG_TOKENS_SIGNATURE: self.tag_tokens.get_concrete_function()}

    def warmup_requests(self):
        word = self.warmup_word
        return [WarmupRequest(SERVING_SIGNATURE, {"text": [f"{word} {word}", ""]}),
                WarmupRequest(TAG_TOKENS_SIGNATURE, {"tokens": [[word, word], [word, ""]]})]

    def check_outputs(self, outputs):
        served = outputs[SERVING_SIGNATURE]
        tags = [t.decode("utf-8") for t in np.asarray(served["tags"])[0]]
        if list(served["length"]) != [2, 0] or not set(tags) <= self.tag_set:
            raise RuntimeError(f"the exported tagger answered the warm-up sentence with length "
                               f"{list(served['length'])} and tags {tags}")


def export_tagger(tagger, words, chars, tags, export_dir_base="saved_models", model_name="tagger",
                  version="auto", lowercase=False, max_tokens=DEFAULT_MAX_TOKENS, max_word_length=30,
                  validate=True):
    """Write the tagger as ``<export_dir_base>/<model_name>/<version>/`` for TF Serving.

    Args:
        tagger: the decoding model (`seqkeras.tagging.tagger_model`).
        words, chars: word and character `Vocabulary` of the training run.
        tags: tag strings in class-index order.
        export_dir_base: the export root; model_name: the served name;
        version: "auto" (highest + 1) or an int.
        lowercase, max_tokens, max_word_length: see `TaggerServer`.
        validate: load the written SavedModel and run the warm-up requests before
            publishing the version.

    Returns:
        `pathlib.Path` of the version directory.

    Example:
        >>> path = export_tagger(tagger, words, chars, tags, "saved_models", "ud_ewt_pos")
        >>> tf.saved_model.load(str(path)).signatures["serving_default"](text=tf.constant(["I ran"]))
    """
    server = TaggerServer(tagger, words, chars, tags, lowercase=lowercase, max_tokens=max_tokens,
                          max_word_length=max_word_length)
    return server.export(export_dir_base, model_name, version=version, validate=validate)
